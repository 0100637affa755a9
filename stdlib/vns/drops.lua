-- drops: what the packet-drop tools share: the drop tracepoint of this
-- kernel, its reason names (from the tracepoint's own format, so they
-- match this kernel's enum), and drop locations as symbols.
local core = require "vns.core"
local errors = require "vns.errors"
local kernel = require "vns.kernel"
local template = require "vns.template"

local M = {}

-- The skb:kfree_skb fields; a clear error on kernels without it.
function M.fields()
  local fields = kernel.tracepoint_fields("skb", "kfree_skb")
  if not fields then errors.fail("this kernel has no skb:kfree_skb tracepoint") end
  return fields
end

function M.has_reason() return M.fields().reason ~= nil end

-- C that copies the reason into `dest`, or a note on kernels without one (4.19).
function M.read_reason(dest)
  assert(dest:match("^[%a_][%w_%.]*$"), "drops.read_reason: dest must be a C name")
  return template.code(M.has_reason() and ("  " .. dest .. " = args->reason;")
                       or "  /* this kernel reports no drop reason */")
end

-- Reason code -> name, {} on kernels without reasons.
function M.reason_names() return kernel.tracepoint_symbols("skb", "kfree_skb", "reason") end

-- The reason's name, its code when unnamed, nil without reasons.
function M.reason_name(names, code)
  if not M.has_reason() then return nil end
  return names[code] or tostring(code)
end

local symbols = {}

-- "function+0xoffset" of a kernel address (cached: a few sites drop).
function M.location(addr)
  if not symbols[addr] then
    local sym, offset = core.ksym(addr)
    symbols[addr] = sym and string.format("%s+0x%x", sym, offset) or string.format("0x%x", addr)
  end
  return symbols[addr]
end

return M
