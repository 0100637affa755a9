-- doctor: what this kernel offers vnetscope, and for each tool whether
-- its probe points exist here.
local core = require "vns.core"
local kernel = require "vns.kernel"
local output = require "vns.output"
local registry = require "vns.registry"

local M = {}

local probe_kinds = { "tracepoint", "raw_tracepoint", "kprobe", "uprobe", "perf_event", "fentry",
                      "ringbuf", "btf", "bpf_stats" }

local kallsyms
local function kernel_function_exists(name)
  if not kallsyms then
    kallsyms = {}
    local f = io.open("/proc/kallsyms", "r")
    for line in f and f:lines() or function() end do
      local sym = line:match("^%x+ [tTwW] ([%w_%.]+)")
      if sym then kallsyms[sym] = true end
    end
    if f then f:close() end
  end
  return kallsyms[name] == true
end

-- "tracepoint:skb:kfree_skb", "kprobe:tcp_v4_rcv", "raw_tracepoint:kfree_skb"
function M.probe_exists(spec, features)
  local kind, rest = spec:match("^([%w_]+):(.+)$")
  if kind == "tracepoint" then
    local cat, name = rest:match("^([^:]+):(.+)$")
    return kernel.has_tracepoint(cat, name), "tracepoint"
  elseif kind == "raw_tracepoint" then
    local found = false
    for _, cat in ipairs(core.listdir(core.tracefs() .. "/events") or {}) do
      if cat.dir and kernel.has_tracepoint(cat.name, rest) then found = true break end
    end
    return found and features.raw_tracepoint.ok, "raw tracepoint"
  elseif kind == "kprobe" or kind == "kretprobe" then
    if not features.kprobe.ok then return false, "kprobes unsupported" end
    return kernel_function_exists(rest), "function"
  end
  return false, "unknown probe kind"
end

local function header_source()
  local kind, dir = core.kheaders()
  if not kind then return "none: " .. dir end
  return kind .. " " .. dir
end

function M.run()
  local features = core.features()
  print("kernel:   " .. kernel.release())
  print("btf:      " .. (features.btf.ok and "yes" or "no"))
  print("headers:  " .. header_source())
  print("tracefs:  " .. (core.tracefs() or "not mounted"))
  print("\nprobe types:")
  local rows = {}
  for _, kind in ipairs(probe_kinds) do
    local f = features[kind]
    rows[#rows + 1] = { kind, f.ok and "yes" or "no", f.why }
  end
  output.table(io.stdout, { "TYPE", "SUPPORTED", "DETAIL" }, rows, "  ")
  print("\ntools:")
  local tools, broken = registry.all()
  rows = {}
  for _, tool in ipairs(tools) do
    for _, spec in ipairs(tool.probes or {}) do
      local ok, what = M.probe_exists(spec, features)
      rows[#rows + 1] = { tool.name, spec, ok and "ok" or ("missing (" .. what .. ")") }
    end
  end
  -- What a tool does differently here, or cannot do (its caveats).
  for _, tool in ipairs(tools) do
    for _, c in ipairs(tool.caveats and tool.caveats() or {}) do
      rows[#rows + 1] = { tool.name, "-", "limited: " .. c }
    end
  end
  for _, b in ipairs(broken) do
    rows[#rows + 1] = { b.name, "-", "broken: " .. b.err:match("^[^\n]*") }
  end
  output.table(io.stdout, { "TOOL", "PROBE", "STATUS" }, rows, "  ")
  return #broken == 0 and 0 or 1
end

return M
