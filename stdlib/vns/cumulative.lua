-- cumulative: per-CPU array maps that only grow (counts and histogram
-- buckets kept by slot), read each interval as the change since the last
-- read and, at exit, as totals. Nothing is cleared in the kernel, so a
-- count is never lost between a read and a clear.
--
--   local c = cumulative.new()
--   local now = c:read(prog:table("counts"))      -- {[idx] = {cpu = {field = n}}}
--   local delta = c:delta("counts", now)           -- the same, since the last read
--   cumulative.hists(prog:table("gap"), 64)        -- {[label] = {[slot] = n}} (totals)
local M = {}

local C = {}
C.__index = C

function M.new() return setmetatable({ last = {} }, C) end

local function nonzero(v)
  if type(v) ~= "table" then return v ~= 0 end
  for _, n in pairs(v) do if nonzero(n) then return true end end
  return false
end

-- idx -> per-CPU values (tables of counters, or integers), for entries
-- with anything counted.
function M.read(map)
  local out = {}
  for idx, per_cpu in map:items() do
    if nonzero(per_cpu) then out[idx] = per_cpu end
  end
  return out
end

local function minus(a, b)
  if type(a) ~= "table" then return a - (b or 0) end
  local out = {}
  for k, v in pairs(a) do out[k] = minus(v, b and b[k]) end
  return out
end

-- The change of `now` (a read) since the last call with the same name.
function C:delta(name, now)
  local d = minus(now, self.last[name] or {})
  self.last[name] = now
  return d
end

local function add(total, v)
  if type(v) ~= "table" then return (total or 0) + v end
  total = total or {}
  for k, n in pairs(v) do total[k] = add(total[k], n) end
  return total
end

-- Per-CPU values of one entry added up: a table of fields (arrays
-- inside added element by element), or a number.
function M.sum(per_cpu)
  local total
  for _, v in ipairs(per_cpu or {}) do total = add(total, v) end
  return total
end

-- A histogram array indexed label * slots + slot, per CPU, as
-- {[label] = {[slot] = count}}.
function M.hists(read, slots)
  local out = {}
  for idx, per_cpu in pairs(read) do
    local n = M.sum(per_cpu)
    if n and n > 0 then
      local label, slot = idx // slots, idx % slots
      out[label] = out[label] or {}
      out[label][slot] = n
    end
  end
  return out
end

return M
