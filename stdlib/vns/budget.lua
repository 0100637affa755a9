-- budget: --max-events-per-sec, the event budget every details tool has.
-- The kernel enforces it (bpf-templates/fragments/budget.c) with one
-- counter per second shared by every CPU, so one busy CPU gets the whole
-- rate and a busy host never floods user space: at most RATE x (T + 1)
-- events in T seconds. What the budget stops is counted per CPU;
-- suppressed() sums.
local template = require "vns.template"

local M = {}

M.DEFAULT = 1000
M.MAX = 10000000

function M.option(default)
  return { name = "max-events-per-sec", type = "integer", min = 1, max = M.MAX, default = default or M.DEFAULT,
           metavar = "N", help = "event budget, enforced in the kernel; the rest are counted as suppressed" }
end

-- The budget's C (bpf-templates/fragments/budget.c), for a placeholder
-- after the program's includes.
function M.code(opts)
  local rate = assert(opts.max_events_per_sec, "budget: no --max-events-per-sec")
  return template.code(template.render(template.read("fragments/budget.c"), { RATE = template.value(rate, "u64") }))
end

-- Events suppressed so far, over every CPU.
function M.suppressed(prog)
  local per_cpu = prog:table("vns_budget_state"):lookup(0)
  local n = 0
  for _, b in ipairs(per_cpu or {}) do n = n + b.suppressed end
  return n
end

return M
