-- sched: what the CPU tools (offcpu, sched-latency) share about the
-- scheduler: its tracepoints as raw tracepoints (they pass the task
-- structs; a classic record has only the names and thread ids), the
-- task_struct layout of this kernel (vns/sched.h), and a task's ids as
-- its own PID namespace sees them (a container's view of its pids).
local errors = require "vns.errors"
local kernel = require "vns.kernel"
local options = require "vns.options"
local template = require "vns.template"
local tracepoint = require "vns.tracepoint"

local M = {}

-- The task state field: `__state` since 5.14, `state` before.
local function state_field()
  local a, b = kernel.version()
  return (a > 5 or (a == 5 and b >= 14)) and "__state" or "state"
end

-- {{ SCHED }} of a template, before `#include <vns/sched.h>`: the
-- definitions of the raw tracepoints named ("sched_switch", ...) and the
-- state field. Classic tracepoints (forced, or a kernel before 4.17)
-- cannot give the tasks: the tool is not available then.
function M.code(...)
  local parts = { "#define VNS_TASK_STATE_FIELD " .. state_field() }
  for _, name in ipairs({ ... }) do
    local tp = tracepoint.probe("sched", name)
    if not tp.raw then
      errors.unsupported("the CPU tools need sched:%s as a raw tracepoint (Linux 4.17+): %s", name, tp.why)
    end
    parts[#parts + 1] = tp.code.text
  end
  return template.code(table.concat(parts, "\n"))
end

local function status_ids(path)
  local f = io.open(path)
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local function last(field)
    local list = text:match("\n" .. field .. ":%s*([%d%s]-)\n")
    local v = list and list:match("(%d+)%s*$")
    return v and math.tointeger(tonumber(v))
  end
  return last("NStgid"), last("NSpid")
end

-- pid and tid as the task's own PID namespace numbers them (what `ps`
-- shows inside its container), or nil when it is in ours or is gone.
-- cache: a table kept for the run (one /proc read per thread).
function M.ns_ids(cache, pid, tid)
  local key = pid .. "/" .. tid
  local hit = cache[key]
  if hit == nil then
    local ns_pid, ns_tid = status_ids(string.format("/proc/%d/task/%d/status", pid, tid))
    if ns_pid and (ns_pid ~= pid or ns_tid ~= tid) then hit = { ns_pid, ns_tid } else hit = false end
    cache[key] = hit
  end
  if hit then return hit[1], hit[2] end
end

-- A CPU list as the kernel writes them (0,2-5): the CPU numbers,
-- sorted, each once; at most 4096.
M.MAX_CPU = 4095
function M.cpus(text)
  if #text > 1024 then return nil end
  local seen, list = {}, {}
  for item in (text .. ","):gmatch("([^,]*),") do
    local a, b = item:match("^(%d+)%-(%d+)$")
    a = a or item:match("^(%d+)$")
    b = b or a
    a, b = a and #a <= 5 and math.tointeger(tonumber(a)), b and #b <= 5 and math.tointeger(tonumber(b))
    if not a or not b or a > b or b > M.MAX_CPU then return nil end
    for c = a, b do
      if not seen[c] then seen[c], list[#list + 1] = true, c end
    end
  end
  table.sort(list)
  return list
end

options.types.cpus = {
  parse = function(text) return M.cpus(text) end,
  form = function() return string.format("CPU numbers 0-%d and ranges LO-HI, comma-separated (0,2-3)", M.MAX_CPU) end,
}

return M
