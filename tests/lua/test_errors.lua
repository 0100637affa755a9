-- vns.errors: usage (exit 2) and fail (exit 1), raised as tables.
local errors = require "vns.errors"
local h = require "helpers"
local eq, checkerr = h.eq, h.checkerr

local function raised(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "no error raised")
  return err
end

local T = {}

function T.usage_is_code_2()
  eq(raised(errors.usage, "option --%s: '%s' is not valid", "top", "x"),
     { msg = "option --top: 'x' is not valid", code = 2 })
end

function T.fail_is_code_1()
  eq(raised(errors.fail, "attach %s: %s", "kprobe", "No such file"),
     { msg = "attach kprobe: No such file", code = 1 })
end

-- Text passed as an argument is never read as a format.
function T.arguments_are_not_formats()
  eq(raised(errors.usage, "bad '%s'", "%s%n%d").msg, "bad '%s%n%d'")
  eq(raised(errors.check, nil, "100% sure: %d").msg, "100% sure: %d")
end

function T.check()
  eq(raised(errors.check, nil, "tracepoint skb:x: No such file or directory", 2),
     { msg = "tracepoint skb:x: No such file or directory", code = 1 })
  eq(table.pack(errors.check(5, "m", 3)), { n = 3, 5, "m", 3 })
  eq(table.pack(errors.check(false)), { n = 2, false })
  checkerr("nil", errors.check, nil, nil)  -- a missing message still fails cleanly
end

-- What this kernel cannot do: a usage error (exit 2) that check and
-- compile --all recognise and skip.
function T.unsupported()
  local e = raised(errors.unsupported, "option --x needs Linux %s", "5.17+")
  eq({ e.msg, e.code, errors.is_unsupported(e) }, { "option --x needs Linux 5.17+", 2, true })
  eq(errors.is_unsupported(raised(errors.usage, "bad")), false)
  eq(errors.is_unsupported("a string"), false)
end

return T
