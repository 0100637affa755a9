-- hist: histograms read from BPF maps (bpf-templates/include/vns/hist.h),
-- printed the way BCC prints them, with percentiles estimated from the
-- buckets and exact count/min/max/mean where the program kept stats.
--
--   local h = hist.log2 { unit = "us" }         -- or hist.linear { step = 10, slots = 20 }
--   h:add(slot, count)                          -- from the map
--   h:set_stats(merged_stats)                   -- optional, values in ns
--   h:render(out)                               -- text
--   h:summary()                                 -- a table for JSON
--
-- Keyed histograms (one per label, e.g. per stage pair) come from
-- hist.keyed(entries, label_of, make).
local output = require "vns.output"
local template = require "vns.template"

local M = {}

-- Display units: the kernel divides nanoseconds by `ns` before taking the
-- slot, so buckets are in the unit the user chose.
M.units = {
  ns = { ns = 1, name = "nsecs" },
  us = { ns = 1000, name = "usecs" },
  ms = { ns = 1000000, name = "msecs" },
  s = { ns = 1000000000, name = "secs" },
}

M.PERCENTILES = { 50, 90, 99, 99.9 }
local STARS = 40

local H = {}
H.__index = H

local function new(kind, cfg)
  local unit = cfg.unit and assert(M.units[cfg.unit], "hist: unknown unit " .. tostring(cfg.unit))
  return setmetatable({ kind = kind, unit = unit, unit_key = cfg.unit, label = cfg.label or (unit and unit.name) or "value",
                        step = cfg.step, slots = cfg.slots, counts = {} }, H)
end

function M.log2(cfg) return new("log2", cfg or {}) end

function M.linear(cfg)
  assert(math.type(cfg.step) == "integer" and cfg.step > 0, "hist.linear needs an integer step > 0")
  assert(math.type(cfg.slots) == "integer" and cfg.slots > 0, "hist.linear needs slots > 0")
  return new("linear", cfg)
end

function H:add(slot, count)
  self.counts[slot] = (self.counts[slot] or 0) + count
end

-- Stats in nanoseconds (or raw values without a unit): {count, sum, min, max}.
function H:set_stats(s) self.stats = s end

function H:total()
  local n = 0
  for _, c in pairs(self.counts) do n = n + c end
  return n
end

-- The values a slot holds: [low, high], both inclusive.
function H:bounds(slot)
  if self.kind == "log2" then
    if slot <= 1 then return 0, 1 end
    return 1 << (slot - 1), (1 << slot) - 1
  end
  local low = slot * self.step
  if slot >= self.slots - 1 then return low, math.huge end
  return low, low + self.step - 1
end

local function max_slot(self)
  local top = -1
  for s, c in pairs(self.counts) do if c > 0 and s > top then top = s end end
  return top
end

-- A stats value in the display unit.
function H:scaled(v)
  if v == nil then return nil end
  return self.unit and v / self.unit.ns or v
end

-- The value below which p percent of the samples fall, interpolated
-- linearly inside its bucket and kept within the recorded min and max.
function H:percentile(p)
  local total = self:total()
  if total == 0 then return nil end
  local rank, seen = total * p / 100, 0
  local first = self.kind == "log2" and 1 or 0
  for slot = first, max_slot(self) do
    local c = self.counts[slot] or 0
    if c > 0 and seen + c >= rank then
      local low, high = self:bounds(slot)
      if high == math.huge then high = low + self.step - 1 end
      local v = low + (high + 1 - low) * (rank - seen) / c
      if self.stats and self.stats.count > 0 then
        v = math.max(self:scaled(self.stats.min), math.min(self:scaled(self.stats.max), v))
      end
      return v
    end
    seen = seen + c
  end
end

local function stars(count, most, width)
  local n = math.min(width, math.floor(width * count / most))
  return string.rep("*", n)
end

local function number(v)
  if v == nil then return "-" end
  if math.type(v) == "integer" then return tostring(v) end
  if v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%d", v) end
  return string.format("%.1f", v)
end

-- One line: count, min/mean/max when known, then the percentiles.
function H:summary_line()
  local s = self:summary()
  local parts = { "count " .. s.count }
  if s.min then
    parts[#parts + 1] = string.format("min %s  mean %s  max %s", number(s.min), number(s.mean), number(s.max))
  end
  for _, p in ipairs(M.PERCENTILES) do
    parts[#parts + 1] = string.format("p%s %s", number(p), number(s.percentiles[tostring(p)]))
  end
  return table.concat(parts, "  ") .. (self.unit and " (" .. self.unit.name .. ")" or "")
end

-- BCC's layout: "     usecs               : count     distribution".
function H:render(out, indent)
  indent = indent or ""
  local top = max_slot(self)
  if top < 0 then
    out:write(indent, "(no samples)\n")
    return
  end
  local most = 0
  for _, c in pairs(self.counts) do most = math.max(most, c) end
  if self.kind == "log2" then
    local wide = top > 32
    local w, width = wide and 20 or 10, wide and STARS // 2 or STARS
    out:write(indent, string.rep(" ", wide and 15 or 5), string.format("%-" .. (wide and 29 or 19) .. "s", self.label),
              " : count     distribution\n")
    for slot = 1, top do
      local low, high = self:bounds(slot)
      local c = self.counts[slot] or 0
      out:write(indent, string.format("%" .. w .. "d -> %-" .. w .. "d : %-8d |%-" .. width .. "s|\n",
                                      low, high, c, stars(c, most, width)))
    end
  else
    out:write(indent, string.format("     %-13s : count     distribution\n", self.label))
    for slot = 0, top do
      local low, high = self:bounds(slot)
      local c = self.counts[slot] or 0
      local name = high == math.huge and (low .. "+") or tostring(low)
      out:write(indent, string.format("        %-10s : %-8d |%-" .. STARS .. "s|\n", name, c, stars(c, most, STARS)))
    end
  end
  out:write(indent, self:summary_line(), "\n")
end

-- Estimates to a thousandth of the unit: more digits would be noise.
local function milli(v)
  if v == nil then return nil end
  local r = math.floor(v * 1000 + 0.5) / 1000
  return math.tointeger(r) or r
end

-- For JSON: the buckets with counts, the estimated percentiles and the
-- exact stats, all in the display unit.
function H:summary()
  local buckets = output.array()
  local first = self.kind == "log2" and 1 or 0
  for slot = first, max_slot(self) do
    local c = self.counts[slot] or 0
    if c > 0 then
      local low, high = self:bounds(slot)
      buckets[#buckets + 1] = { low = low, high = high ~= math.huge and high or nil, count = c }
    end
  end
  local pct = {}
  for _, p in ipairs(M.PERCENTILES) do pct[tostring(p)] = milli(self:percentile(p)) end
  local st = self.stats and self.stats.count > 0 and self.stats
  return {
    kind = self.kind, unit = self.unit_key, count = self:total(), buckets = buckets, percentiles = pct,
    min = st and self:scaled(st.min) or nil, max = st and self:scaled(st.max) or nil,
    mean = st and milli(self:scaled(st.sum / st.count)) or nil,
    sum = st and self:scaled(st.sum) or nil,  -- exact: Prometheus's _sum (vns.prometheus)
  }
end

-- A per-CPU counter (an array of integers, one per CPU) as one count; a
-- plain integer (a map that is not per-CPU) as it is; nothing (no
-- entry) as 0.
function M.sum(per_cpu)
  if per_cpu == nil then return 0 end
  if type(per_cpu) ~= "table" then return per_cpu end
  local n = 0
  for _, v in ipairs(per_cpu) do n = n + v end
  return n
end

-- Per-CPU stats values (an array of {count, sum, min, max}) as one.
function M.merge_stats(per_cpu)
  local out = { count = 0, sum = 0 }
  for _, s in ipairs(per_cpu) do
    if s.count > 0 then
      out.min = out.min and math.min(out.min, s.min) or s.min
      out.max = out.max and math.max(out.max, s.max) or s.max
      out.count, out.sum = out.count + s.count, out.sum + s.sum
    end
  end
  return out
end

-- Histograms keyed by a label: entries are {key, count} from the map,
-- label_of(key) gives the label and the slot, make() a new histogram.
-- Returns the labels, sorted, and the histogram of each.
function M.keyed(entries, label_of, make)
  local labels, by_label = {}, {}
  for _, e in ipairs(entries) do
    local label, slot = label_of(e[1])
    local h = by_label[label]
    if not h then
      h = make()
      by_label[label] = h
      labels[#labels + 1] = label
    end
    h:add(slot, e[2])
  end
  table.sort(labels, function(a, b) return tostring(a) < tostring(b) end)
  return labels, by_label
end

-- The --unit option of latency tools, and its divisor for the template.
function M.unit_option(default)
  return { name = "unit", type = "choice", values = { "ns", "us", "ms" }, default = default or "us",
           help = "histogram unit" }
end

function M.divisor(unit)
  return template.int(assert(M.units[unit], "hist: unknown unit").ns)
end

return M
