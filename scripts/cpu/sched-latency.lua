-- sched-latency: how long do the threads that matter (ovs-vswitchd, the
-- vhost workers, qemu) wait for a CPU once they can run, and who runs
-- instead?
--
-- Times run-queue latency in the kernel, from a thread becoming runnable
-- (woken, new, or preempted) to running, from the scheduler tracepoints;
-- per thread (or process) a log2 histogram with exact count, min, mean
-- and max, the task that was switched out when the longest wait ended,
-- and the tasks switched out at the end of the waits ("ran instead").
-- No perf.data files: every interval a report, and the totals at exit.
--
-- Usage: vnetscope sched-latency [--comm ovs-vswitchd,vhost-*,qemu*] [--pid P]
-- (the examples below, and --help).
--
-- Sample output:
--   Tracing run-queue latency... Hit Ctrl-C to end.
--
--   12:00:01
--   vns-waiter  pid 4242 tid 4244: 40 waits, max 3992 us (behind vns-busy 4243)
--        usecs               : count     distribution
--            0 -> 1          : 2        |***                                     |
--          ...
--     count 40  min 0.6  mean 1520.4  max 3992.1  p50 ... (usecs)
--     ran instead: vns-busy (4243) 37 waits 60321 us; swapper/0 (0) 3 waits 12 us
--
-- "Ran instead" is the task switched out when a wait ended: on a busy
-- CPU, what the thread waited behind (by number of waits, then time).
--
-- Requires: raw tracepoints sched:sched_switch, sched_wakeup and
-- sched_wakeup_new (Linux 4.17+).
local hist = require "vns.hist"
local output = require "vns.output"
local sched = require "vns.sched"
local template = require "vns.template"
local tool = require "vns.tool"
local net = require "vns.net"

-- One pattern as a test of the two words of a zero-padded comm: the
-- bytes of the name (and, for an exact name, the padding) under a mask.
local function pattern_test(p)
  local bytes = p.prefix and #p.name or 16
  local padded = p.name .. string.rep("\0", 16 - #p.name)
  local v0, v1 = string.unpack("<i8<i8", padded)
  local m = string.rep("\255", bytes) .. string.rep("\0", 16 - bytes)
  local m0, m1 = string.unpack("<i8<i8", m)
  local function word(w, mask, value)
    if mask == 0 then return nil end
    return string.format("(%s & %s) == %s", w, template.value(mask, "u64").text, template.value(value & mask, "u64").text)
  end
  local parts = { word("w0", m0, v0), word("w1", m1, v1) }
  return "(" .. table.concat(parts, " && ") .. ")"
end

local function comm_test(opts)
  if not opts.comm then return "1" end
  local tests = {}
  for i, p in ipairs(opts.comm) do tests[i] = pattern_test(p) end
  return table.concat(tests, " || ")
end

-- The test of a thread becoming runnable (t, tid, tgid in the C).
local function filter(opts)
  local tests = {}
  if opts.pid then tests[#tests + 1] = "tgid == " .. template.value(opts.pid, "u32").text end
  if opts.tid then tests[#tests + 1] = "tid == " .. template.value(opts.tid, "u32").text end
  if opts.comm then tests[#tests + 1] = "comm_match(t)" end
  return #tests == 0 and "1" or table.concat(tests, " && ")
end

local function program(opts)
  return template.render(template.read("sched-latency.c"), {
    SCHED = sched.code("sched_switch", "sched_wakeup", "sched_wakeup_new"),
    BY_PROCESS = template.bool(opts.by == "process"),
    FILTER = template.code(filter(opts)),
    COMM_TEST = template.code(comm_test(opts)),
    UNIT_NS = hist.divisor(opts.unit),
    MAX_THREADS = template.int(opts.max_threads),
    MAX_KEYS = template.int(opts.max_keys),
  })
end

local function label(w) return string.format("%d/%d/%s", w.tgid, w.tid, w.comm) end

-- Everything drained this interval, by waiter: {w, hist, stats, ran}.
local function drain(run)
  local rows, by = {}, {}
  local function row_of(w)
    local id = label(w)
    if not by[id] then
      by[id] = { w = w, hist = hist.log2 { unit = run.opts.unit }, ran = {} }
      rows[#rows + 1] = by[id]
    end
    return by[id]
  end
  for _, e in ipairs(run.program:table("hist"):drain()) do row_of(e[1].w).hist:add(e[1].slot, e[2]) end
  for _, e in ipairs(run.program:table("stats"):drain()) do row_of(e[1]).stats = e[2] end
  for _, e in ipairs(run.program:table("ran"):drain()) do
    local r = row_of(e[1].w)
    r.ran[#r.ran + 1] = { comm = e[1].prev_comm, tid = e[1].prev_tid, pid = e[1].prev_tgid,
                          count = e[2].count, total_ns = e[2].sum }
  end
  return rows
end

-- Interval rows merged into the run's totals.
local function add_totals(run, rows)
  for _, r in ipairs(rows) do
    local id = label(r.w)
    local t = run.totals[id]
    if not t then
      t = { w = r.w, hist = hist.log2 { unit = run.opts.unit }, ran = {} }
      run.totals[id] = t
    end
    for slot, c in pairs(r.hist.counts) do t.hist:add(slot, c) end
    local s, ts = r.stats, t.stats
    if s then
      if not ts then
        t.stats = { count = s.count, sum = s.sum, min = s.min, max = s.max,
                    max_prev_tid = s.max_prev_tid, max_prev_comm = s.max_prev_comm }
      else
        ts.count, ts.sum, ts.min = ts.count + s.count, ts.sum + s.sum, math.min(ts.min, s.min)
        if s.max > ts.max then ts.max, ts.max_prev_tid, ts.max_prev_comm = s.max, s.max_prev_tid, s.max_prev_comm end
      end
    end
    for _, x in ipairs(r.ran) do
      local key = x.tid .. "/" .. x.comm
      local found
      for _, y in ipairs(t.ran) do if y.key == key then found = y end end
      if found then found.count, found.total_ns = found.count + x.count, found.total_ns + x.total_ns
      else t.ran[#t.ran + 1] = { key = key, comm = x.comm, tid = x.tid, pid = x.pid, count = x.count, total_ns = x.total_ns } end
    end
  end
end

local function lost(run)
  local n = {}
  for i, per_cpu in run.program:table("lost"):items() do n[i] = hist.sum(per_cpu) end
  return { waits_untimed = n[0] or 0, waits_uncounted = n[1] or 0 }
end

-- A row for the report (and JSON): the histogram's summary, the max and
-- who ran before it ended, the top tasks that ran instead.
local function report_row(run, r)
  local s = r.stats or { count = 0, sum = 0 }
  if s.count > 0 then r.hist:set_stats({ count = s.count, sum = s.sum, min = s.min, max = s.max }) end
  local h = r.hist:summary()
  h.pid, h.comm = r.w.tgid, r.w.comm
  h.tid = r.w.tid ~= 0 and r.w.tid or nil
  local ns_pid, ns_tid = sched.ns_ids(run.ns_cache, r.w.tgid, r.w.tid ~= 0 and r.w.tid or r.w.tgid)
  h.ns_pid, h.ns_tid = ns_pid, r.w.tid ~= 0 and ns_tid or nil
  h.max_behind = s.max_prev_comm and { comm = s.max_prev_comm, tid = s.max_prev_tid } or nil
  table.sort(r.ran, function(a, b)
    if a.count ~= b.count then return a.count > b.count end
    return a.total_ns > b.total_ns
  end)
  local ran = output.array()
  for i = 1, math.min(#r.ran, run.opts.top_ran) do
    local x = r.ran[i]
    ran[i] = { comm = x.comm, tid = x.tid, pid = x.pid, count = x.count, total_ns = x.total_ns }
  end
  h.ran_instead = ran
  h.max_ns = s.max
  return h, r.hist
end

local function collect(run, final)
  local rows = drain(run)
  add_totals(run, rows)
  if final then
    rows = {}
    for _, t in pairs(run.totals) do rows[#rows + 1] = t end
  end
  table.sort(rows, function(a, b)
    local x, y = (a.stats or {}).max or 0, (b.stats or {}).max or 0
    if x ~= y then return x > y end
    return label(a.w) < label(b.w)
  end)
  local out, hists = output.array(), {}
  for i = 1, math.min(#rows, run.opts.top) do
    out[i], hists[i] = report_row(run, rows[i])
  end
  run.hists = hists
  return { type = final and "total" or "interval", histograms = out, lost = lost(run) }
end

local function render(run, data, out, final)
  out:write(string.format("\n%s\n", final and "Total since start" or output.timestamp()))
  local l = data.lost
  if l.waits_untimed + l.waits_uncounted > 0 then
    out:write(string.format("  (not counted, maps full: %d waits; raise --max-threads / --max-keys)\n",
                            l.waits_untimed + l.waits_uncounted))
  end
  if #data.histograms == 0 then out:write("  (no waits)\n") return end
  local unit = hist.units[run.opts.unit]
  for i, h in ipairs(data.histograms) do
    local who = h.tid and string.format("pid %d tid %d", h.pid, h.tid) or string.format("pid %d", h.pid)
    if h.ns_pid then who = who .. string.format(" (in its namespace %d%s)", h.ns_pid, h.ns_tid and "/" .. h.ns_tid or "") end
    local behind = h.max_behind and string.format(" (behind %s %d)", h.max_behind.comm, h.max_behind.tid) or ""
    out:write(string.format("%s  %s: %d waits, max %d %s%s\n", h.comm, who, h.count,
                            (h.max_ns or 0) // unit.ns, run.opts.unit, behind))
    run.hists[i]:render(out, "  ")
    local parts = {}
    for _, x in ipairs(h.ran_instead) do
      parts[#parts + 1] = string.format("%s (%d) %d waits %d %s", x.comm, x.tid, x.count, x.total_ns // unit.ns, run.opts.unit)
    end
    if #parts > 0 then out:write("  ran instead: ", table.concat(parts, "; "), "\n") end
  end
end

local function setup(run)
  run.totals, run.ns_cache = {}, {}
end

return tool.summary {
  name = "sched-latency",
  aliases = { "sched_latency_monitor", "sched_latency_monitor.sh" },
  about = "Run-queue latency per thread, and what ran instead",
  tracing = "Tracing run-queue latency... Hit Ctrl-C to end.",
  examples = {
    "vnetscope sched-latency --comm 'ovs-vswitchd,vhost-*,qemu*' -i 5",
    "vnetscope sched-latency --pid 4242 --by process --unit ms",
    "vnetscope sched-latency --tid 4244 --format json -d 30",
  },
  requires = "raw tracepoints sched:sched_switch, sched_wakeup, sched_wakeup_new (Linux 4.17+)",
  probes = { "raw_tracepoint:sched_switch", "raw_tracepoint:sched_wakeup", "raw_tracepoint:sched_wakeup_new" },
  defaults = { interval = 5, top = 10 },
  options = {
    net.options({ "pid" }),
    { name = "tid", type = "pid", metavar = "TID", help = "only this thread" },
    { name = "comm", type = "comms", metavar = "NAME[,..]",
      help = "only threads of these names, or of processes of these names; NAME* is a prefix" },
    { name = "by", type = "choice", values = { "thread", "process" }, default = "thread",
      help = "a histogram per thread or per process" },
    hist.unit_option("us"),
    { name = "top-ran", type = "integer", min = 1, max = 100, default = 3,
      help = "tasks shown under 'ran instead'" },
    { name = "max-threads", type = "integer", min = 64, max = 1048576, default = 16384,
      help = "runnable threads followed at once" },
    { name = "max-keys", type = "integer", min = 64, max = 1048576, default = 16384,
      help = "histogram buckets and rows kept per interval" },
  },
  check_variants = {
    { "--comm", "ovs-vswitchd,vhost-*,qemu*", "--by", "process" },
    { "--pid", "1", "--tid", "1", "--unit", "ms" },
  },
  program = program,
  setup = setup,
  collect = collect,
  render = render,
}
