-- report: what every summary tool does with a counting map each interval,
-- written once: drain it (per-CPU values summed), turn each key into a
-- row, keep running totals for the final report, sort by count and cut
-- to --top; and lay rows out as a table under columns.
--
--   local drops = report.counts { map = "drops", row = function(run, key) return {...} end,
--                                 order = { "location" }, top = true }
--   local c = drops:collect(run, final)   -- {rows (top-N), all, total, key[row]}
--   report.table(out, { { "COUNT", "count" }, { "DEVICE", "dev" } }, c.rows)
--
-- A tool with one counting map and nothing else to show can just say
-- `counts = { map =, row =, columns =, what =, after = }` in its definition; the
-- tool loop then collects and renders it (vns.tool).
local errors = require "vns.errors"
local hist = require "vns.hist"
local output = require "vns.output"
local template = require "vns.template"

local M = {}

local Counts = {}
Counts.__index = Counts

M.SLOT_BITS = 8

-- The C of a counting map NAME keyed by `struct KEY` (the key's struct
-- comes before it): the per-CPU slots and hash of
-- bpf-templates/fragments/counter.c, and NAME_count(&key).
function M.counter(name, key, max_keys)
  template.ident(name, "report.counter: name")
  template.ident(key, "report.counter: key")
  return template.code(template.render(template.read("fragments/counter.c"), {
    NAME = template.code(name), KEY = template.code(key), MAX_KEYS = template.int(max_keys),
    SLOTS = template.int(1 << M.SLOT_BITS), SLOT_BITS = template.int(M.SLOT_BITS),
  }))
end

-- spec.map: the map's name (a report.counter, or a plain counting map
-- with slots = false); spec.row(run, key): a row (a table without count;
-- count is added); spec.order: row fields that break ties after the
-- count, in order; spec.top: false to keep every row (default: cut to
-- --top when the tool has it).
function M.counts(spec)
  assert(type(spec.map) == "string", "report.counts needs map, a map name")
  assert(type(spec.row) == "function", "report.counts needs row(run, key)")
  return setmetatable({ map = spec.map, row = spec.row, order = spec.order or {}, top = spec.top,
                        slots = spec.slots ~= false }, Counts)
end


-- A key's identity for the running totals: its fields, in a fixed order.
local function identity(v)
  if type(v) ~= "table" then return tostring(v) end
  local names = {}
  for k in pairs(v) do names[#names + 1] = tostring(k) end
  table.sort(names)
  local parts = {}
  for i, k in ipairs(names) do
    local x = v[k]
    if x == nil then x = v[tonumber(k)] end
    parts[i] = k .. "=" .. identity(x)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function Counts:sorter()
  local order = self.order
  return function(a, b)
    if a.count ~= b.count then return a.count > b.count end
    for _, f in ipairs(order) do
      local x, y = a[f], b[f]
      if x ~= y then
        if x == nil or y == nil then return y == nil end
        return tostring(x) < tostring(y)
      end
    end
    return false
  end
end

-- The state of one run: rows since start by key identity, and the
-- last count read of each slot (per CPU).
function Counts:state(run)
  run.report_counts = run.report_counts or {}
  local st = run.report_counts[self]
  if not st then
    st = { totals = {}, keys = {}, seen = {} }
    run.report_counts[self] = st
  end
  return st
end

-- {key, count} of the interval: the hash drained, and what each slot
-- counted since the last read (slots only grow: no read-and-clear).
function Counts:entries(run, st)
  local out = {}
  for _, e in ipairs(run.program:table(self.map):drain()) do out[#out + 1] = { e[1], hist.sum(e[2]) } end
  if not self.slots then return out end
  for idx, per_cpu in run.program:table(self.map .. "_slots"):items() do
    for cpu, slot in ipairs(per_cpu) do
      local id = idx * 4096 + cpu
      local n = slot.count - (st.seen[id] or 0)
      if n > 0 then
        out[#out + 1] = { slot.key, n }
        st.seen[id] = slot.count
      end
    end
  end
  return out
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- Read and clear the map. Returns the rows of this interval (or, final,
-- since start): rows (sorted, cut to top), all (sorted), total, and
-- key[row] (the decoded map key of each row).
function Counts:collect(run, final)
  local st = self:state(run)
  local rows, key_of, by_id = {}, {}, {}
  for _, e in ipairs(self:entries(run, st)) do
    local id = identity(e[1])
    local row = by_id[id]
    if row then row.count = row.count + e[2] else
      row = self.row(run, e[1])
      row.count = e[2]
      rows[#rows + 1], key_of[row], by_id[id] = row, e[1], row
    end
    local t = st.totals[id]
    if t then t.count = t.count + e[2] else
      t = copy(row)
      t.count = e[2]
      st.totals[id], st.keys[t] = t, e[1]
    end
  end
  if final then
    rows, key_of = {}, st.keys
    for _, t in pairs(st.totals) do rows[#rows + 1] = t end
  end
  table.sort(rows, self:sorter())
  local top = self.top ~= false and run.opts.top or nil
  local shown, total = output.array(), 0
  for i, r in ipairs(rows) do
    total = total + r.count
    if not top or i <= top then shown[#shown + 1] = r end
  end
  return { rows = shown, all = rows, total = total, key = key_of }
end

-- Rows under columns { {HEADER, field}, ... }: a missing value shows as
-- "-"; after(row, out), when given, writes lines under each row (stacks).
function M.table(out, columns, rows, indent, after)
  local headers, cells = {}, {}
  for c, col in ipairs(columns) do headers[c] = col[1] end
  for i, r in ipairs(rows) do
    local line = {}
    for c, col in ipairs(columns) do line[c] = r[col[2]] end
    cells[i] = line
  end
  output.table(out, headers, cells, indent or "  ", after and function(i, o) after(rows[i], o) end)
end

-- Stack frames under a row (after = of report.table), with a heading
-- line when given.
function M.frames(out, frames, heading)
  if type(frames) ~= "table" then return end
  if heading then out:write("      ", heading, "\n") end
  for _, frame in ipairs(frames) do out:write("      ", frame, "\n") end
end

-- --format folded, the input of flamegraph.pl (speedscope, inferno read
-- it too): one line a row, "root;...;leaf value", outermost frame first,
-- offsets dropped (one frame a function). parts: the first frames (comm,
-- reason); stacks: frame lists as the kernel gives them (innermost
-- first), the outer stack first (user, then kernel).
function M.folded_line(parts, stacks, value)
  local line = {}
  for _, p in ipairs(parts) do line[#line + 1] = (tostring(p):gsub(";", ":")) end
  for _, frames in ipairs(stacks) do
    for i = #frames, 1, -1 do line[#line + 1] = (frames[i]:gsub("%+0x%x+", "", 1):gsub(";", ":")) end
  end
  return string.format("%s %d\n", table.concat(line, ";"), value)
end

-- The comment line before an interval's folded lines (flamegraph.pl
-- skips it): "# TOOL 2026-11-21T12:00:01Z WHAT". Tools print each
-- interval's lines and nothing at exit, so all the lines add up to the
-- totals.
function M.folded_heading(out, tool, what)
  out:write(string.format("# %s %s %s\n", tool, os.date("!%Y-%m-%dT%H:%M:%SZ"), what))
end

-- Folded output of a tool whose final report holds the totals: written
-- once, at exit (so an interval cut short by Ctrl-C is in it); parts_of(row)
-- returns the row's parts, stacks and value for folded_line.
function M.folded_totals(out, tool, rows, parts_of, final)
  if not final then return end
  M.folded_heading(out, tool, "total")
  for _, r in ipairs(rows) do out:write(M.folded_line(parts_of(r))) end
end

-- --format folded without stacks to fold: one usage error (how: the
-- option that takes stacks).
function M.check_folded(opts, has_stacks, how)
  if opts.format == "folded" and not has_stacks then
    errors.usage("option --format folded needs %s: folded lines are stacks", how)
  end
end

-- The loop's collect and render for a definition's `counts` (see above):
-- "HH:MM:SS  what: N" and the table of the interval; "Total since start"
-- at exit. JSON: {type, total, rows}.
function M.simple(spec)
  local counts = M.counts(spec)
  local what = spec.what or "count"
  local function collect(run, final)
    local c = counts:collect(run, final)
    return { type = final and "total" or "interval", total = c.total, rows = c.rows }
  end
  local function render(_, data, out, final)
    out:write(string.format("\n%s  %s: %d\n", final and "Total since start" or output.timestamp(), what, data.total))
    if #data.rows > 0 then M.table(out, spec.columns, data.rows, "  ", spec.after) end
  end
  return collect, render
end

return M
