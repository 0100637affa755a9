-- errors: the kinds of failure a user sees. Each is one line, raised as
-- a table so the engine prints it without a traceback.
--   usage(...)        bad input: exit status 2, nothing compiled or attached
--   fail(...)         the environment refused (probe missing, compile error): 1
--   unsupported(...)  this kernel cannot do what the options ask (say
--                     why, and what it needs): 2, as for any option the
--                     run cannot take; `check` and `compile --all` skip
--                     such an option set instead of failing
local M = {}

function M.usage(fmt, ...)
  error({ msg = string.format(fmt, ...), code = 2 }, 0)
end

function M.fail(fmt, ...)
  error({ msg = string.format(fmt, ...), code = 1 }, 0)
end

function M.unsupported(fmt, ...)
  error({ msg = string.format(fmt, ...), code = 2, unsupported = true }, 0)
end

function M.is_unsupported(err) return type(err) == "table" and err.unsupported == true end

-- Turn a `nil, message` result into a failure.
function M.check(value, message, ...)
  if value == nil then M.fail("%s", message) end
  return value, message, ...
end

return M
