-- budget: --max-events-per-sec, the event budget every details tool has.
-- The kernel enforces it (bpf-templates/fragments/budget.c) with a token
-- bucket per online CPU, each refilled at an equal share of the rate, so
-- a busy host never floods user space: at most RATE x (T + 1) events in
-- T seconds. What the budget stops is counted per CPU; suppressed() sums.
local core = require "vns.core"
local template = require "vns.template"

local M = {}

M.DEFAULT = 1000
M.MAX = 10000000

function M.option(default)
  return { name = "max-events-per-sec", type = "integer", min = 1, max = M.MAX, default = default or M.DEFAULT,
           metavar = "N", help = "event budget, enforced in the kernel; the rest are counted as suppressed" }
end

-- CPUs online now, from "0-3,8,10-11".
function M.online_cpus(text)
  if not text then
    local f = io.open("/sys/devices/system/cpu/online")
    text = f and f:read("l")
    if f then f:close() end
  end
  local n = 0
  for a, b in (text or ""):gmatch("(%d+)%-?(%d*)") do
    n = n + (b ~= "" and tonumber(b) - tonumber(a) + 1 or 1)
  end
  return n > 0 and n or core.ncpus()
end

-- The per-CPU rate and burst for a budget of `rate` events per second.
function M.per_cpu(rate, cpus)
  local share = math.max(1, rate // cpus)
  return share, share
end

-- The budget's C (bpf-templates/fragments/budget.c), for a placeholder
-- after the program's includes.
function M.code(opts, cpus)
  local rate, burst = M.per_cpu(assert(opts.max_events_per_sec, "budget: no --max-events-per-sec"),
                                cpus or M.online_cpus())
  return template.code(template.render(template.read("fragments/budget.c"),
                                       { RATE = template.value(rate, "u64"), BURST = template.value(burst, "u64") }))
end

-- Events suppressed so far, over every CPU.
function M.suppressed(prog)
  local per_cpu = prog:table("vns_budget_state"):lookup(0)
  local n = 0
  for _, b in ipairs(per_cpu or {}) do n = n + b.suppressed end
  return n
end

return M
