-- errors: the two kinds of failure a user sees. Both are one line, raised
-- as a table so the engine prints it without a traceback.
--   usage(...)  bad input: exit status 2, nothing compiled or attached
--   fail(...)   the environment refused (probe missing, compile error): 1
local M = {}

function M.usage(fmt, ...)
  error({ msg = string.format(fmt, ...), code = 2 }, 0)
end

function M.fail(fmt, ...)
  error({ msg = string.format(fmt, ...), code = 1 }, 0)
end

-- Turn a `nil, message` result into a failure.
function M.check(value, message, ...)
  if value == nil then M.fail("%s", message) end
  return value, message, ...
end

return M
