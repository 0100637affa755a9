-- vns.budget and vns.events: the budget's option, its share per CPU and
-- C, and how the stream's counts read.
local budget = require "vns.budget"
local events = require "vns.events"
local options = require "vns.options"
local h = require "helpers"
local eq, has, hasnt, usage_err = h.eq, h.has, h.hasnt, h.usage_err

local T = {}

function T.online_cpus_from_sysfs_text()
  eq(budget.online_cpus("0"), 1)
  eq(budget.online_cpus("0-1"), 2)
  eq(budget.online_cpus("0-3,8,10-11"), 7)
  assert(budget.online_cpus() >= 1)
end

-- The rate is shared among CPUs, never below one event per CPU.
function T.per_cpu_share()
  eq({ budget.per_cpu(1000, 2) }, { 500, 500 })
  eq({ budget.per_cpu(3, 8) }, { 1, 1 })
end

function T.option_default_and_bounds()
  local specs = { budget.option() }
  eq(options.parse(specs, {}).max_events_per_sec, budget.DEFAULT)
  eq(options.parse(specs, { "--max-events-per-sec", "50" }).max_events_per_sec, 50)
  for _, bad in ipairs({ "0", "-1", "x", "10000001", '1"' }) do
    usage_err("option --max-events-per-sec: '", options.parse, specs, { "--max-events-per-sec", bad })
  end
end

function T.code_has_the_constants()
  local text = budget.code({ max_events_per_sec = 1000 }, 4).text
  has(text, "#define VNS_BUDGET_RATE VNS_VALUE(u64, 0xfa)\n")  -- 1000 / 4 CPUs = 250
  has(text, "#define VNS_BUDGET_BURST VNS_VALUE(u64, 0xfa)\n")
  has(text, "BPF_PERCPU_ARRAY(vns_budget_state, struct vns_budget, 1);")
  has(text, "static __always_inline int vns_budget_take(void)")
  hasnt(text, "{{")
end

local function rendered(counts, final)
  local b = h.buffer()
  events.render({ opts = { max_events_per_sec = 100 } }, counts, b, final)
  return b:text()
end

-- Interval lines only when something was suppressed or lost; always at exit.
function T.stream_counts_text()
  eq(rendered({ events = 5, suppressed = 0, lost = 0 }), "")
  has(rendered({ events = 5, suppressed = 7, lost = 0 }), "  5 events, 7 suppressed (over --max-events-per-sec 100), 0 lost\n")
  has(rendered({ events = 5, suppressed = 0, lost = 2 }), "  5 events, 0 suppressed, 2 lost\n")
  eq(rendered({ events = 5, suppressed = 0, lost = 0 }, true), "\nTotal since start: 5 events, 0 suppressed, 0 lost\n")
end

return T
