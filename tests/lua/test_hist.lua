-- vns.hist: BCC-style rendering, slot bounds, percentiles from buckets,
-- stats merged across CPUs, keyed histograms.
local hist = require "vns.hist"
local output = require "vns.output"
local h = require "helpers"
local eq, has = h.eq, h.has

local T = {}

local function rendered(x)
  local b = h.buffer()
  x:render(b)
  return b:text()
end

local function near(a, b, what)
  if math.abs(a - b) > 1e-9 then error(string.format("%s: %s, expected %s", what or "value", a, b), 2) end
end

local function sample()
  local x = hist.log2 { unit = "us" }
  x:add(2, 4); x:add(3, 80); x:add(5, 1)
  return x
end

function T.log2_bounds_as_bcc_numbers_them()
  local x = hist.log2()
  eq({ x:bounds(1) }, { 0, 1 })
  eq({ x:bounds(2) }, { 2, 3 })
  eq({ x:bounds(3) }, { 4, 7 })
  eq({ x:bounds(11) }, { 1024, 2047 })
end

function T.log2_render_like_bcc()
  local text = rendered(sample())
  local want = table.concat({
    "     usecs               : count     distribution",
    "         0 -> 1          : 0        |                                        |",
    "         2 -> 3          : 4        |**                                      |",
    "         4 -> 7          : 80       |****************************************|",
    "         8 -> 15         : 0        |                                        |",
    "        16 -> 31         : 1        |                                        |",
  }, "\n") .. "\n"
  eq(text:sub(1, #want), want)
  has(text, "count 85  p50 5.9  p90 7.6  p99 18.4  p99.9 30.6 (usecs)")
end

-- Past slot 32 the columns widen and the bars halve, as in BCC.
function T.log2_wide_values()
  local x = hist.log2 { label = "bytes" }
  x:add(40, 2)
  local text = rendered(x)
  has(text, "               bytes                         : count     distribution\n")
  has(text, "        549755813888 -> 1099511627775        : 2        |********************|\n")
end

function T.percentiles_interpolate_within_buckets()
  local x = sample()
  near(x:percentile(50), 4 + 4 * 38.5 / 80, "p50")
  near(x:percentile(90), 4 + 4 * 72.5 / 80, "p90")
  near(x:percentile(99), 16 + 16 * 0.15, "p99")
  near(x:percentile(100), 32, "p100")
  eq(hist.log2():percentile(50), nil)
end

-- Recorded min and max (ns) bound the estimates; mean is exact.
function T.stats_bound_percentiles_and_give_mean()
  local x = sample()
  x:set_stats({ count = 85, sum = 85 * 6500, min = 2000, max = 20000 })
  near(x:percentile(99.9), 20, "p99.9 clamped to max")
  local s = x:summary()
  eq(s.min, 2.0); eq(s.max, 20.0); near(s.mean, 6.5)
  eq(s.count, 85)
  eq(s.unit, "us")
  eq(s.buckets, { { low = 2, high = 3, count = 4 }, { low = 4, high = 7, count = 80 }, { low = 16, high = 31, count = 1 } })
  has(output.json(s), '"percentiles":{"50":5.925,"90":7.625,"99":18.4,"99.9":20}')
  has(rendered(x), "count 85  min 2  mean 6.5  max 20  p50 5.9")
end

function T.linear_render_and_overflow_slot()
  local x = hist.linear { step = 10, slots = 5, label = "queue" }
  x:add(0, 1); x:add(1, 3); x:add(4, 2)
  eq({ x:bounds(1) }, { 10, 19 })
  eq({ x:bounds(4) }, { 40, math.huge })
  local want = table.concat({
    "     queue         : count     distribution",
    "        0          : 1        |*************                           |",
    "        10         : 3        |****************************************|",
    "        20         : 0        |                                        |",
    "        30         : 0        |                                        |",
    "        40+        : 2        |**************************              |",
  }, "\n") .. "\n"
  local text = rendered(x)
  eq(text:sub(1, #want), want)
  near(x:percentile(50), 10 + 10 * 2 / 3, "p50")
  eq(x:summary().buckets[3], { low = 40, count = 2 })
end

function T.empty_histogram()
  eq(rendered(hist.log2 { unit = "ms" }), "(no samples)\n")
  eq(output.json(hist.log2 { unit = "ms" }:summary()), '{"buckets":[],"count":0,"kind":"log2","percentiles":{},"unit":"ms"}')
end

-- CPUs that recorded nothing (count 0, min 0) do not pull the min down.
function T.merge_stats_across_cpus()
  local s = hist.merge_stats({ { count = 2, sum = 30, min = 10, max = 20 }, { count = 0, sum = 0, min = 0, max = 0 },
                               { count = 1, sum = 5, min = 5, max = 5 } })
  eq(s, { count = 3, sum = 35, min = 5, max = 20 })
  eq(hist.merge_stats({}), { count = 0, sum = 0 })
end

function T.keyed_histograms_sorted_by_label()
  local entries = { { { stage = "b", slot = 3 }, 5 }, { { stage = "a", slot = 2 }, 1 }, { { stage = "b", slot = 4 }, 2 } }
  local labels, by = hist.keyed(entries, function(k) return k.stage, k.slot end, function() return hist.log2() end)
  eq(labels, { "a", "b" })
  eq(by.b:total(), 7)
  eq(by.a.counts, { [2] = 1 })
end

function T.unit_option_and_divisor()
  eq(hist.unit_option().default, "us")
  eq(hist.divisor("ms").text, "1000000")
end

return T
