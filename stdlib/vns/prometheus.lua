-- prometheus: a summary tool's reports as Prometheus metrics, in the
-- text exposition format 0.0.4. The store adds up the reports of every
-- interval (what --format json prints as "interval" objects), so it needs
-- nothing from a tool but the data it already collects:
--
--   local store = prometheus.store("drop-summary", { max_series = 20 })
--   store:add(data)            -- one interval's report (collect(run, false))
--   store:text()               -- the exposition, for GET /metrics
--
-- What becomes a metric (names vnetscope_<tool>_...):
--   an integer field            counter  <field>_total (total: _total)
--   a list of rows              counter  <list>_total (the rows' count),
--                                        <list>_<field>_total (other integers)
--                               labels   the rows' strings and ids (pid, cpu, ...)
--   a list of histograms        histogram <list> (histograms: no infix),
--   (vns.hist summaries)        _seconds for time units; le from the buckets
--                                        (log2: every bound up to a fixed top)
--   a table of integers         counter  <table>_<field>_total
-- Reports hold the interval's counts, except `lost` and tables of
-- integers (sessions, lost), which the tools read as running totals since
-- start: those are taken as they are, not added.
-- Fields whose values go up and down (max, min, mean, thresholds, *_seen,
-- floats) are left out: a counter only grows. A metric keeps the first
-- max_series label sets it sees; later ones add to one series whose
-- labels all say "other", so a busy host cannot grow a scrape without
-- bound and every series stays monotonic.
local output = require "vns.output"

local M = {}

M.CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

-- Report fields that describe the run, not counts.
local SKIP = { type = true, time = true, elapsed_s = true, final = true, layout = true, variant = true }
-- Integers that name a thing (labels) rather than count it.
local IDS = { pid = true, tid = true, tgid = true, ns_pid = true, ns_tid = true, cpu = true, queue = true,
              irq = true, gsi = true, vector = true, index = true, qid = true, vq = true, txq = true,
              rxq = true, ifindex = true }
-- Integers that are not counts, by name.
local function not_a_count(name)
  return name:find("max") or name:find("min") or name:find("threshold") or name:find("_seen$")
      or name:find("pct") or name:find("mean") or name:find("_id$") or name:find("_code$")
      or name == "stacks" or name == "seconds" or name == "open"
end

local function ident(text) return (text:gsub("[^%w_]", "_")) end

-- Values of a label: backslash, double quote and newline escaped; bytes
-- that are not UTF-8 (a task's comm may hold any) as '?'.
local function escape(v)
  v = tostring(v)
  if not utf8.len(v) then v = v:gsub("[\128-\255]", "?") end
  return (v:gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

-- The shortest text that reads back as v (2e-06, not 1.9999999999999999e-06).
local function number(v)
  if v == math.huge then return "+Inf" end
  return output.json(v)
end

local Store = {}
Store.__index = Store

function M.store(tool, cfg)
  cfg = cfg or {}
  return setmetatable({ prefix = "vnetscope_" .. ident(tool) .. "_", tool = tool, families = {},
                        max_series = cfg.max_series or 100 }, Store)
end

-- The family NAME, made at its first use.
function Store:family(name, kind, help)
  local f = self.families[name]
  if not f then
    f = { name = name, kind = kind, help = help, series = {}, n = 0 }
    self.families[name] = f
  end
  return f
end

-- The series of LABELS ({name, value} pairs) in family F; "other" once
-- the family holds max_series.
function Store:series(f, labels)
  local parts = {}
  for i, l in ipairs(labels) do parts[i] = string.format('%s="%s"', l[1], escape(l[2])) end
  local key = table.concat(parts, ",")
  local s = f.series[key]
  if s then return s end
  if f.n >= self.max_series and #labels > 0 then
    for i, l in ipairs(labels) do parts[i] = string.format('%s="other"', l[1]) end
    key = table.concat(parts, ",")
    s = f.series[key]
    if s then return s end
  end
  s = { key = key, value = 0, buckets = {}, count = 0 }
  f.series[key], f.n = s, f.n + 1
  return s
end

-- Add v to a counter, or (running: v is a total since start) set it.
function Store:count(name, help, labels, v, running)
  local s = self:series(self:family(name, "counter", help), labels)
  s.value = running and math.max(s.value, v) or s.value + v
end

-- A vns.hist summary: seconds for time units (le = the bucket's end, as
-- its values are whole units), plain values otherwise.
local SECONDS = { ns = 1e-9, us = 1e-6, ms = 1e-3, s = 1 }

-- A log2 histogram's series show every bucket bound (vns.hist's buckets
-- end at 2, 4, 8, ... in the tool's unit) up to a fixed top, zeros too,
-- and any higher one seen: the hosts of a fleet then expose the same le
-- set, which summing by le across them needs. The top: 2^36 ns (about
-- 69 s) for times, 2^16 for plain values.
local LOG2_TOP = { ns = 36, us = 26, ms = 16, s = 6 }

-- The highest k of the buckets' ends 2^k, or nil if they are not log2.
local function log2_top(h)
  local top = LOG2_TOP[h.unit] or 16
  for _, b in ipairs(h.buckets) do
    if math.type(b.high) ~= "integer" then return nil end
    local e = b.high + 1
    if e & (e - 1) ~= 0 or (b.low ~= 0 and b.low * 2 ~= e) then return nil end
    while (1 << top) < e do top = top + 1 end
  end
  return top
end

function Store:histogram(name, help, labels, h)
  local scale = SECONDS[h.unit]
  if scale then name = name .. "_seconds" end
  local s = self:series(self:family(name, "histogram", help), labels)
  -- A bucket [low, e - 1] in whole units: a time below e units (it was
  -- truncated), a plain value at most e - 1.
  local function le_of(e) return scale and e * scale or e - 1 end
  for k = 1, log2_top(h) or 0 do s.buckets[le_of(1 << k)] = s.buckets[le_of(1 << k)] or 0 end
  for _, b in ipairs(h.buckets) do
    local le = b.high and le_of(b.high + 1) or math.huge
    s.buckets[le] = (s.buckets[le] or 0) + b.count
  end
  s.count = s.count + h.count
  if h.sum then s.sum = (s.sum or 0) + h.sum * (scale or 1) end
  s.exact = s.exact ~= false and h.sum ~= nil
end

-- A row's labels: its strings and ids, by name.
local function labels_of(row)
  local out = {}
  for k, v in pairs(row) do
    if type(k) == "string" and not SKIP[k] and k ~= "kind" and k ~= "unit"
       and (type(v) == "string" or (IDS[k] and math.type(v) == "integer")) then
      out[#out + 1] = { ident(k), v }
    end
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

-- Each integer field of t that counts: a counter <base>_<field>_total,
-- or <base>_total for the field named bare; what ends its help text.
-- running: the values are totals since start (lost always is).
function Store:count_fields(t, base, labels, what, running, bare)
  for k, v in pairs(t) do
    if type(k) == "string" and math.type(v) == "integer" and not IDS[k] and not not_a_count(k) then
      local name = k == bare and base .. "_total" or base .. "_" .. ident(k) .. "_total"
      self:count(name, string.format("%s: %s%s", self.tool, k, what), labels, v, running or k == "lost")
    end
  end
end

local function is_hist(v) return type(v) == "table" and v.buckets ~= nil and v.kind ~= nil end

function Store:add_rows(field, rows)
  local base = field == "histograms" and self.prefix:sub(1, -2) or self.prefix .. ident(field)
  for _, row in ipairs(rows) do
    if type(row) == "table" then
      local labels = labels_of(row)
      if is_hist(row) then
        self:histogram(base, self.tool .. ": the distribution of " .. field, labels, row)
      else
        self:count_fields(row, base, labels, " of the " .. field .. " rows", false, "count")
      end
    end
  end
end

-- Add one interval's report.
function Store:add(data)
  self:count_fields(data, self.prefix:sub(1, -2), {}, "", false, "total")
  for k, v in pairs(data) do
    if type(k) == "string" and not SKIP[k] and type(v) == "table" then
      if v[1] ~= nil then
        self:add_rows(k, v)
      elseif not is_hist(v) then
        self:count_fields(v, self.prefix .. ident(k), {}, " (" .. k .. ", since start)", true, nil)
      end
    end
  end
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function sample(out, name, key, extra, v)
  local labels = key
  if extra then labels = key ~= "" and (key .. "," .. extra) or extra end
  out[#out + 1] = string.format("%s%s %s", name, labels ~= "" and "{" .. labels .. "}" or "", number(v))
end

-- Cumulative buckets, every bound seen so far and +Inf last.
local function histogram_lines(out, f, s)
  local bounds = sorted_keys(s.buckets)
  local n = 0
  for _, le in ipairs(bounds) do
    n = n + s.buckets[le]
    if le ~= math.huge then sample(out, f.name .. "_bucket", s.key, string.format('le="%s"', number(le)), n) end
  end
  sample(out, f.name .. "_bucket", s.key, 'le="+Inf"', s.count)
  if s.exact then sample(out, f.name .. "_sum", s.key, nil, s.sum) end
  sample(out, f.name .. "_count", s.key, nil, s.count)
end

-- The exposition of every family, in name order.
function Store:lines(out)
  for _, name in ipairs(sorted_keys(self.families)) do
    local f = self.families[name]
    out[#out + 1] = string.format("# HELP %s %s", name, f.help:gsub("\\", "\\\\"):gsub("\n", "\\n"))
    out[#out + 1] = string.format("# TYPE %s %s", name, f.kind)
    for _, key in ipairs(sorted_keys(f.series)) do
      local s = f.series[key]
      if f.kind == "histogram" then histogram_lines(out, f, s) else sample(out, name, key, nil, s.value) end
    end
  end
  return out
end

-- The exposition of several stores (vnetscope serve: one per tool).
function M.text(stores)
  local out = {}
  for _, s in ipairs(stores) do s:lines(out) end
  return table.concat(out, "\n") .. (#out > 0 and "\n" or "")
end

function Store:text() return M.text({ self }) end

return M
