-- waits: wait times kept by bpf-templates/fragments/waits.c (futex
-- waits, lock acquisitions), read back each interval: a log2 histogram
-- with exact count/min/mean/max per label (a process, thread, lock or
-- stack, as the tool groups), and the most waited-on locks. Totals since
-- start are kept here for the final report.
--
--   WAITS = waits.code(opts)                       -- in the template, after vns/hist.h
--   collect = function(run, final) return waits.collect(run, final, describe) end
--   render = waits.render
--
-- describe(run, key) turns a label (struct wait_key: lock, pid, tid,
-- stack, kind, comm) into the fields shown: {pid, tid, comm, lock, kind,
-- stack (frames)}, leaving out what the label does not hold (tid 0,
-- stack -1, lock 0); lock rows use its lock, pid, comm and kind.
local hist = require "vns.hist"
local output = require "vns.output"
local report = require "vns.report"
local ctxfilter = require "vns.ctxfilter"
local template = require "vns.template"

local M = {}

-- --tid beside vns.net's --pid and --comm (which the tools add).
function M.tid_option()
  return { name = "tid", type = "pid", metavar = "TID", help = "only this thread (its kernel task id)" }
end

-- The C test of --pid, --tid and --comm for the current task, cheapest
-- first (a template value; "1" when none is given).
function M.task_filter(opts)
  local c = ctxfilter.compile({ pid = opts.pid, comm = opts.comm }, {})
  if not opts.tid then return c.expr end
  local tid = "(u32)bpf_get_current_pid_tgid() == " .. template.value(opts.tid, "u32").text
  return template.code(c.any and (tid .. " && " .. c.text) or tid)
end

-- A process's name, read once per run (it may have exited by the final
-- report).
function M.process_comm(run, pid)
  run.waits_comms = run.waits_comms or {}
  local c = run.waits_comms[pid]
  if c == nil then
    local f = io.open("/proc/" .. pid .. "/comm")
    c = f and f:read("l") or false
    if f then f:close() end
    run.waits_comms[pid] = c
  end
  return c or nil
end

local BY = { process = 0, thread = 1, lock = 2 }

-- The fragment for the tool's --by, --threshold and --unit.
function M.code(opts, sizes)
  sizes = sizes or {}
  return template.code(template.render(template.read("fragments/waits.c"), {
    BY = template.int(BY[opts.by]),
    THRESHOLD = opts.threshold and template.code("delta >= " .. template.value(opts.threshold, "u64").text)
                or template.code("1"),
    UNIT_NS = hist.divisor(opts.unit),
    MAX_LABELS = template.int(sizes.labels or 4096),
    MAX_LOCKS = template.int(sizes.locks or 10240),
  }))
end

local function id_of(k)
  return string.format("%x/%d/%d/%d/%d/%s", k.lock, k.pid, k.tid or 0, k.stack or -1, k.kind, k.comm or "")
end

-- One set of labels and locks: this interval's, or the totals.
local function new_set() return { labels = {}, locks = {} } end

local function label_of(set, key, unit)
  local id = id_of(key)
  local l = set.labels[id]
  if not l then
    l = { key = key, hist = hist.log2 { unit = unit } }
    set.labels[id] = l
  end
  return l
end

local function add_stats(entry, s)
  entry.stats = entry.stats and hist.merge_stats({ entry.stats, s }) or s
end

local function read_into(run, sets)
  local unit = run.opts.unit
  for _, e in ipairs(run.program:table("wait_hist"):drain()) do
    for _, set in ipairs(sets) do label_of(set, e[1].label, unit).hist:add(e[1].slot, e[2]) end
  end
  for _, e in ipairs(run.program:table("wait_stats"):drain()) do
    local s = hist.merge_stats(e[2])
    for _, set in ipairs(sets) do add_stats(label_of(set, e[1], unit), s) end
  end
  for _, e in ipairs(run.program:table("wait_locks"):drain()) do
    local s = hist.merge_stats(e[2])
    for _, set in ipairs(sets) do
      local id = id_of(e[1])
      set.locks[id] = set.locks[id] or { key = e[1] }
      add_stats(set.locks[id], s)
    end
  end
end

local function by_total(a, b)
  if a.sum ~= b.sum then return a.sum > b.sum end
  return a.id < b.id
end

-- Sorted by total wait, longest first, cut to --top.
local function ranked(map, top)
  local list = {}
  for id, v in pairs(map) do
    if v.stats and v.stats.count > 0 then
      v.id, v.sum = id, v.stats.sum
      list[#list + 1] = v
    end
  end
  table.sort(list, by_total)
  local out = {}
  for i = 1, math.min(#list, top or #list) do out[i] = list[i] end
  return out, #list
end

local function scaled(ns, unit)
  local v = ns / hist.units[unit].ns
  return math.floor(v * 1000 + 0.5) / 1000
end

local function lock_row(run, l, describe)
  local s, unit = l.stats, run.opts.unit
  local d = describe(run, { lock = l.key.lock, pid = l.key.pid, tid = 0, stack = -1, kind = l.key.kind, comm = "" })
  local row = { lock = d.lock, pid = d.pid, comm = d.comm, kind = d.kind }
  row.count, row.total, row.max = s.count, scaled(s.sum, unit), scaled(s.max, unit)
  row.mean, row.min = scaled(s.sum / s.count, unit), scaled(s.min, unit)
  return row
end

-- The report of the interval (or, final, since start): waits (count),
-- histograms (each a hist summary with the label's fields, and its
-- text for render), locks (rows), labels/locks_seen (before --top).
function M.collect(run, final, describe)
  run.waits_state = run.waits_state or new_set()
  local interval = new_set()
  read_into(run, { interval, run.waits_state })
  local set = final and run.waits_state or interval
  local top = run.opts.format ~= "folded" and run.opts.top or nil  -- folded lines add up: every label
  local labels, nlabels = ranked(set.labels, top)
  local data = { type = final and "total" or "interval", waits = 0, histograms = output.array(),
                 locks = output.array(), labels_seen = nlabels }
  for _, l in pairs(set.labels) do data.waits = data.waits + (l.stats and l.stats.count or 0) end
  for _, l in ipairs(labels) do
    l.hist:set_stats(l.stats)
    local h = l.hist:summary()
    for k, v in pairs(describe(run, l.key)) do h[k] = v end
    h.total = scaled(l.stats.sum, run.opts.unit)
    data.histograms[#data.histograms + 1] = setmetatable(h, { __index = { text_of = l.hist } })
  end
  local locks, nlocks = ranked(set.locks, top)
  data.locks_seen = nlocks
  for _, l in ipairs(locks) do data.locks[#data.locks + 1] = lock_row(run, l, describe) end
  return data
end

-- How the waits ended, from a per-CPU array indexed as NAMES: {name =
-- count} of the interval, or with final of the whole run.
function M.results(run, map, names, final)
  run.waits_results = run.waits_results or {}
  local now = {}
  for _, e in ipairs(run.program:table(map):drain()) do now[e[1] + 1] = hist.sum(e[2]) end
  local out = {}
  for i, name in ipairs(names) do
    run.waits_results[i] = (run.waits_results[i] or 0) + (now[i] or 0)
    out[name] = final and run.waits_results[i] or (now[i] or 0)
  end
  return out
end

-- "mutex  lock 0x7f..  pid 42 (app)  tid 43": the label's heading.
local function heading(h)
  local parts = {}
  if h.kind then parts[#parts + 1] = h.kind end
  if h.lock then parts[#parts + 1] = "lock " .. h.lock end
  if h.pid then parts[#parts + 1] = string.format("pid %d (%s)", h.pid, h.comm or "?") end
  if h.tid then parts[#parts + 1] = string.format("tid %d%s", h.tid, h.thread and (" (" .. h.thread .. ")") or "") end
  return table.concat(parts, "  ")
end

local function tenths(v) return math.floor(v * 10 + 0.5) / 10 end

-- how: what (the count's name, default "waits"), note(data) (a line
-- under it).
function M.render(run, data, out, final, how)
  how = how or {}
  local unit = run.opts.unit
  out:write(string.format("\n%s  %s: %d\n", final and "Total since start" or output.timestamp(),
                          how.what or "waits", data.waits))
  if how.note then out:write(how.note(data)) end
  for _, h in ipairs(data.histograms) do
    out:write("\n  ", heading(h), "\n")
    report.frames(out, h.stack)
    h.text_of:render(out, "  ")
  end
  if #data.locks == 0 then return end
  out:write(string.format("\n  locks by total wait (%s):\n", unit))
  local rows = {}
  for i, r in ipairs(data.locks) do
    rows[i] = { count = r.count, kind = r.kind, pid = r.pid, comm = r.comm, lock = r.lock,
                total = tenths(r.total), mean = tenths(r.mean), max = tenths(r.max) }
  end
  report.table(out, { { "COUNT", "count" }, { "TOTAL", "total" }, { "MEAN", "mean" }, { "MAX", "max" },
                      { "KIND", "kind" }, { "PID", "pid" }, { "COMM", "comm" }, { "LOCK", "lock" } },
               rows, "  ")
end

return M
