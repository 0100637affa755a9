-- drops: what the packet-drop tools share: the drop tracepoint of this
-- kernel, its reason names (from the tracepoint's own format, so they
-- match this kernel's enum), and drop locations and stacks as symbols.
local core = require "vns.core"
local errors = require "vns.errors"
local kernel = require "vns.kernel"
local output = require "vns.output"

local M = {}

-- The skb:kfree_skb fields; a clear error on kernels without it.
function M.fields()
  local fields = kernel.tracepoint_fields("skb", "kfree_skb")
  if not fields then errors.fail("this kernel has no skb:kfree_skb tracepoint") end
  return fields
end

function M.has_reason() return M.fields().reason ~= nil end

-- Text output says it once when the kernel gives no reasons: drops are
-- then told apart by location (normal frees go to consume_skb there).
function M.note_no_reason(out)
  if not M.has_reason() then
    out:write("(this kernel gives no drop reasons (Linux 5.17+ does): REASON is '-', see LOCATION)\n")
  end
end

-- A drop tool's caveats (vnetscope doctor) on this kernel.
function M.caveats()
  if M.has_reason() then return {} end
  return { "no drop reasons on this kernel (Linux 5.17+): drops told apart by location" }
end

-- Reason code -> name, {} on kernels without reasons.
function M.reason_names() return kernel.tracepoint_symbols("skb", "kfree_skb", "reason") end

-- The code of a reason name on this kernel (the enum changes between
-- kernels), or nil.
function M.reason_code(name)
  for code, n in pairs(M.reason_names()) do
    if n == name then return code end
  end
end

-- The reason's name, its code when unnamed, nil without reasons.
function M.reason_name(names, code)
  if not M.has_reason() then return nil end
  return names[code] or tostring(code)
end

-- "function+0xoffset", or the bare address when it has no symbol.
local function frame_text(sym, offset, addr)
  if sym == "[unknown]" then sym = nil end  -- the engine's word for no symbol
  return sym and string.format("%s+0x%x", sym, offset) or string.format("0x%x", addr)
end

local symbols = {}

-- A kernel address as a frame (cached: a few sites drop).
function M.location(addr)
  if not symbols[addr] then
    local sym, offset = core.ksym(addr)
    symbols[addr] = frame_text(sym, offset, addr)
  end
  return symbols[addr]
end

-- Frames of the BPF program and of the kernel code running a raw
-- tracepoint's programs (bpf_trace_run2, __traceiter_kfree_skb,
-- __bpf_trace_kfree_skb), innermost in a stack taken there.
local function is_tracing_frame(sym)
  return sym:match("^bpf_prog_") or sym:match("^bpf_trace_run%d+$") or sym:match("^__traceiter_")
      or sym:match("^__bpf_trace_") or sym:match("^bpf_dispatcher_") or sym:match("^bpf_trampoline_")
end

local stacks = setmetatable({}, { __mode = "k" })  -- stack map -> id -> frames

-- The frames of a BPF_STACK_TRACE id, innermost first, symbolized once per
-- map and id (the tools never delete stacks, so an id keeps its frames);
-- nil without a map or for a failed walk (negative id). pid: a user
-- stack (BPF_F_USER_STACK) of that process, symbolized in its address
-- space while it runs (addresses once it is gone).
function M.stack(map, id, pid)
  if not map or id == nil or id < 0 then return nil end
  local cache = stacks[map] or {}
  stacks[map] = cache
  local slot = pid and (id .. "@" .. pid) or id
  if not cache[slot] then
    local frames, inner = output.array(), true
    for _, fr in ipairs(map:stack(id, pid) or {}) do
      -- A raw tracepoint's stack starts in the program and the code
      -- that runs it; a classic one's at the tracepoint: the same here.
      inner = inner and fr.sym ~= nil and is_tracing_frame(fr.sym)
      if not inner then frames[#frames + 1] = frame_text(fr.sym, fr.offset, fr.addr) end
    end
    cache[slot] = frames
  end
  return cache[slot]
end

return M
