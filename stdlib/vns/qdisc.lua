-- qdisc: the kernel's qdisc counters (what `tc -s qdisc` shows), as
-- changes between reports. Read with one netlink dump per report from
-- the network namespace the tool runs in (vns.core.qdisc_stats).
--
--   local counters = qdisc.counters({ dev = "eth0" })   -- the baseline
--   counters:changes()        -- rows changed since the last call
--   counters:changes(true)    -- rows changed since the baseline
--
-- A row: dev, kind, handle ("1:"), parent ("root", "1:1"), drops,
-- overlimits, requeues (changes), backlog (bytes) and qlen (now).
local core = require "vns.core"
local output = require "vns.output"

local M = {}

local ROOT, INGRESS = 0xffffffff, 0xfffffff1

-- tc's notation: "1:" for a qdisc handle, "1:10" for a class.
function M.handle_text(h)
  if h == ROOT then return "root" end
  if h == INGRESS then return "ingress" end
  local major, minor = h >> 16, h & 0xffff
  return minor == 0 and string.format("%x:", major) or string.format("%x:%x", major, minor)
end

local COUNTERS = { "drops", "overlimits", "requeues" }

local Counters = {}
Counters.__index = Counters

local function id_of(q) return table.concat({ q.ifindex, q.handle, q.parent, q.kind }, "|") end

-- The dump, keyed by qdisc, only dev's when given. nil, message when the
-- dump fails.
function Counters:read()
  local list, err = core.qdisc_stats()
  if not list then return nil, err end
  local now = {}
  for _, q in ipairs(list) do
    if not self.dev or q.dev == self.dev then now[id_of(q)] = q end
  end
  return now
end

function M.counters(cfg)
  local self = setmetatable({ dev = cfg and cfg.dev, totals = {} }, Counters)
  self.last, self.err = self:read()
  return self
end

-- Counters are u32 in the kernel: a wrap between reads is a small change.
local function diff(now, before) return (now - before) & 0xffffffff end

-- Rows whose counters changed (since the last call; since the baseline
-- when total), as tc lists them: per device, the root first; nil,
-- message when the kernel's counters cannot be read.
function Counters:changes(total)
  if not self.last then return nil, self.err end
  local now, err = self:read()
  if not now then return nil, err end
  local rows = output.array()
  for id, q in pairs(now) do
    -- A qdisc created since the last read counted from zero.
    local before = self.last[id] or {}
    local acc = self.totals[id] or { drops = 0, overlimits = 0, requeues = 0 }
    self.totals[id] = acc
    local row = { dev = q.dev, kind = q.kind, handle = M.handle_text(q.handle),
                  parent = M.handle_text(q.parent), backlog = q.backlog, qlen = q.qlen,
                  order = { q.ifindex, q.parent == ROOT and 0 or 1, q.handle } }
    local changed = false
    for _, c in ipairs(COUNTERS) do
      local d = diff(q[c], before[c] or 0)
      acc[c] = acc[c] + d
      row[c] = total and acc[c] or d
      changed = changed or row[c] > 0
    end
    if changed then rows[#rows + 1] = row end
  end
  self.last = now
  table.sort(rows, function(a, b)
    for i = 1, 3 do
      if a.order[i] ~= b.order[i] then return a.order[i] < b.order[i] end
    end
    return false
  end)
  for _, row in ipairs(rows) do row.order = nil end
  return rows
end

return M
