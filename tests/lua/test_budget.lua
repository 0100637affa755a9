-- vns.budget and vns.events: the budget's option and C, and how the
-- stream's counts read.
local budget = require "vns.budget"
local events = require "vns.events"
local options = require "vns.options"
local h = require "helpers"
local eq, has, hasnt, usage_err = h.eq, h.has, h.hasnt, h.usage_err

local T = {}

function T.option_default_and_bounds()
  local specs = { budget.option() }
  eq(options.parse(specs, {}).max_events_per_sec, budget.DEFAULT)
  eq(options.parse(specs, { "--max-events-per-sec", "50" }).max_events_per_sec, 50)
  for _, bad in ipairs({ "0", "-1", "x", "10000001", '1"' }) do
    usage_err("option --max-events-per-sec: '", options.parse, specs, { "--max-events-per-sec", bad })
  end
end

-- The whole rate, not a share per CPU: one budget every CPU draws on.
function T.code_has_the_whole_rate()
  local text = budget.code({ max_events_per_sec = 1000 }).text
  has(text, "#define VNS_BUDGET_RATE VNS_VALUE(u64, 0x3e8)\n")
  has(text, "BPF_PERCPU_ARRAY(vns_budget_state, struct vns_budget, 1);")
  has(text, "BPF_HASH(vns_budget_windows, u64, struct vns_budget_window, 64);")
  has(text, "static __always_inline int vns_budget_take(void)")
  hasnt(text, "{{")
  hasnt(text, "BURST")
end

-- The shape does not depend on the rate: the cache patches it in.
function T.code_shape_is_the_same_for_every_rate()
  local cache = require "vns.cache"
  local shape1 = cache.abstract(budget.code({ max_events_per_sec = 1 }).text)
  local shape2 = cache.abstract(budget.code({ max_events_per_sec = budget.MAX }).text)
  eq(shape1, shape2)
  local _, values = cache.abstract(budget.code({ max_events_per_sec = 200 }).text)
  eq(values, { 200 })
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
