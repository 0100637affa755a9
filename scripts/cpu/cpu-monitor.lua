-- cpu-monitor: which CPUs are busy, and with what?
--
-- Every interval, each CPU's utilisation from /proc/stat; the CPUs at or
-- above --threshold percent in the interval get the top tasks and
-- kernel/user stacks of that interval, sampled by a perf event (the
-- software CPU clock, --freq times a second on each monitored CPU), as
-- text, JSON or folded stacks for flame graphs. No perf.data files.
--
-- Usage: vnetscope cpu-monitor [--cpus 0-1] [--threshold 80] [-i 5]
-- (the examples below, and --help).
--
-- Sample output:
--   Tracing CPU utilisation, sampling 49 Hz... Hit Ctrl-C to end.
--
--   12:00:05  CPU utilisation, hot at 80% or more
--     CPU  UTIL%  USER%  SYSTEM%  IRQ%  SOFTIRQ%  STEAL%
--       0    3.2    1.0      2.0   0.0       0.2     0.0
--       1   99.8   99.6      0.2   0.0       0.0     0.0  hot
--   CPU 1 at 99.8%: 245 samples
--     COUNT  PCT%   PID   TID  COMM
--       244  99.6  4242  4243  vns-spin
--         vns_spin_hot
--         spinner
--         start_thread
--
-- Requires: perf events (software CPU clock) and /proc/stat.
local core = require "vns.core"
local drops = require "vns.drops"
local errors = require "vns.errors"
local hist = require "vns.hist"
local output = require "vns.output"
local report = require "vns.report"
local sched = require "vns.sched"
local template = require "vns.template"
local tool = require "vns.tool"

local PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK = 1, 0

-- {cpu = {user, nice, system, idle, iowait, irq, softirq, steal}} from
-- /proc/stat (USER_HZ ticks).
local function read_stat()
  local f = assert(io.open("/proc/stat"))
  local cpus = {}
  for line in f:lines() do
    local cpu, rest = line:match("^cpu(%d+)%s+(.*)$")
    if cpu then
      local v = {}
      for n in rest:gmatch("%d+") do v[#v + 1] = tonumber(n) end
      cpus[tonumber(cpu)] = v
    end
  end
  f:close()
  return cpus
end

-- Percentages of the ticks between two reads of one CPU.
local function usage(a, b)
  local d, total = {}, 0
  for i = 1, 8 do
    d[i] = (b[i] or 0) - (a[i] or 0)
    total = total + d[i]
  end
  local function pct(x) return total > 0 and math.floor(1000 * x / total + 0.5) / 10 or 0.0 end
  return { util = pct(total - d[4] - d[5]), user = pct(d[1] + d[2]), system = pct(d[3]), irq = pct(d[6]),
           softirq = pct(d[7]), steal = pct(d[8]), iowait = pct(d[5]) }
end

local function monitored(opts)
  local n = core.ncpus()
  local list = {}
  for _, c in ipairs(opts.cpus or {}) do
    if c >= n then errors.usage("option --cpus: CPU %d does not exist (this machine has 0-%d)", c, n - 1) end
    list[#list + 1] = c
  end
  if #list == 0 then
    for c = 0, n - 1 do list[#list + 1] = c end
  end
  return list
end

local function program(opts)
  monitored(opts)
  return template.render(template.read("cpu-monitor.c"), {
    MAX_KEYS = template.int(opts.max_keys),
    STACK_STORAGE = template.int(opts.stack_storage),
  })
end

-- One perf event per monitored CPU that is online (/proc/stat lists it).
local function prepare(run)
  local prog = run.program:load("on_sample", "perf_event")
  local online = read_stat()
  run.cpus = {}
  for _, c in ipairs(monitored(run.opts)) do
    if online[c] then
      run.program:attach(prog, "perf_event", { type = PERF_TYPE_SOFTWARE, config = PERF_COUNT_SW_CPU_CLOCK,
                                               freq = run.opts.freq, cpu = c })
      run.cpus[#run.cpus + 1] = c
    end
  end
  if #run.cpus == 0 then errors.fail("none of the CPUs of --cpus is online") end
end

local function setup(run)
  run.first_stat = read_stat()
  run.last_stat = run.first_stat
  run.stacks = run.program:table("stacks")
  run.ns_cache, run.hot_totals, run.hot_intervals = {}, {}, {}
end

-- Samples drained this interval: cpu -> {rows, total}.
local function drain(run)
  local by_cpu = {}
  for _, e in ipairs(run.program:table("samples"):drain()) do
    local k, n = e[1], e[2]
    local c = by_cpu[k.cpu] or { rows = {}, total = 0 }
    by_cpu[k.cpu] = c
    c.total = c.total + n
    c.rows[#c.rows + 1] = { key = k, count = n }
  end
  return by_cpu
end

local function key_id(k) return string.format("%d/%d/%d/%d/%s", k.tgid, k.tid, k.kstack, k.ustack, k.comm) end
-- Frames as function names: samples at two offsets of one function are
-- one row (as in a profile), unresolved addresses stay as they are.
local function functions(frames)
  local out = output.array()
  for i, f in ipairs(frames or {}) do out[i] = f:gsub("%+0x%x+$", "") end
  return out
end

-- The top rows of one CPU's samples: by task and functions, symbolized.
local function top_rows(run, samples, total)
  local groups, list = {}, {}
  for _, smp in ipairs(samples) do
    local k = smp.key
    local ks = functions(drops.stack(run.stacks, k.kstack))
    local us = functions(drops.stack(run.stacks, k.ustack, k.tgid))
    local id = string.format("%d/%d/%s/%s/%s", k.tgid, k.tid, k.comm, table.concat(ks, ";"), table.concat(us, ";"))
    local g = groups[id]
    if g then g.count = g.count + smp.count else
      g = { id = id, key = k, count = smp.count, kernel_stack = ks, user_stack = us }
      groups[id], list[#list + 1] = g, g
    end
  end
  table.sort(list, function(a, b)
    if a.count ~= b.count then return a.count > b.count end
    return a.id < b.id
  end)
  local rows = output.array()
  for i = 1, math.min(#list, run.opts.top) do
    local g, k = list[i], list[i].key
    local ns_pid, ns_tid = sched.ns_ids(run.ns_cache, k.tgid, k.tid)
    rows[i] = { count = g.count, pct = math.floor(1000 * g.count / total + 0.5) / 10,
                pid = k.tgid, tid = k.tid, ns_pid = ns_pid, ns_tid = ns_tid, comm = k.comm,
                kernel_stack = g.kernel_stack, user_stack = g.user_stack }
  end
  return rows
end

-- A hot interval's samples added to that CPU's totals.
local function add_hot(run, cpu, c)
  local t = run.hot_totals[cpu] or { by = {}, total = 0 }
  run.hot_totals[cpu] = t
  run.hot_intervals[cpu] = (run.hot_intervals[cpu] or 0) + 1
  t.total = t.total + c.total
  for _, r in ipairs(c.rows) do
    local id = key_id(r.key)
    if t.by[id] then t.by[id].count = t.by[id].count + r.count else t.by[id] = { key = r.key, count = r.count } end
  end
end

local function lost(run)
  local n = 0
  for _, per_cpu in run.program:table("lost"):items() do n = n + hist.sum(per_cpu) end
  return n
end

local function collect(run, final)
  local now = read_stat()
  local from = final and run.first_stat or run.last_stat
  run.last_stat = now
  local by_cpu = drain(run)
  local cpus, hot = output.array(), output.array()
  for _, c in ipairs(run.cpus) do
    local u = usage(from[c] or {}, now[c] or {})
    u.cpu = c
    local s = by_cpu[c] or { rows = {}, total = 0 }
    if not final then
      u.hot = u.util >= run.opts.threshold
      if u.hot then
        add_hot(run, c, s)
        hot[#hot + 1] = { cpu = c, util = u.util, samples = s.total, rows = top_rows(run, s.rows, s.total) }
      end
    elseif run.hot_totals[c] then
      local t, list = run.hot_totals[c], {}
      for _, r in pairs(t.by) do list[#list + 1] = r end
      hot[#hot + 1] = { cpu = c, util = u.util, samples = t.total, intervals = run.hot_intervals[c],
                        rows = top_rows(run, list, t.total) }
    end
    cpus[#cpus + 1] = u
  end
  return { type = final and "total" or "interval", threshold = run.opts.threshold, cpus = cpus, hot = hot,
           lost = lost(run) }
end

local function stack_lines(r, out)
  report.frames(out, r.kernel_stack)
  if #r.user_stack > 0 then
    if #r.kernel_stack > 0 then out:write("      --\n") end
    report.frames(out, r.user_stack)
  end
end

-- "comm;user frames;kernel frames count", outermost first, per hot CPU.
local function folded(data, out)
  for _, h in ipairs(data.hot) do
    report.folded_heading(out, "cpu-monitor", string.format("cpu %d %.1f%% %s", h.cpu, h.util, data.type))
    for _, r in ipairs(h.rows) do
      out:write(report.folded_line({ r.comm }, { r.user_stack or {}, r.kernel_stack or {} }, r.count))
    end
  end
end

local function pct(v) return string.format("%.1f", v) end

local function render(run, data, out, final)
  if run.opts.format == "folded" then
    -- The intervals' lines add up to the totals: not repeated at exit.
    if not final then folded(data, out) end
    return
  end
  local title = final and "Total since start" or output.timestamp()
  out:write(string.format("\n%s  CPU utilisation, hot at %d%% or more\n", title, data.threshold))
  local cells = {}
  for i, u in ipairs(data.cpus) do
    cells[i] = { u.cpu, pct(u.util), pct(u.user), pct(u.system), pct(u.irq), pct(u.softirq), pct(u.steal),
                 u.hot and "hot" or "" }
  end
  output.table(out, { "CPU", "UTIL%", "USER%", "SYSTEM%", "IRQ%", "SOFTIRQ%", "STEAL%", "" }, cells, "  ")
  if data.lost > 0 then out:write(string.format("  (%d samples not counted: raise --max-keys)\n", data.lost)) end
  for _, h in ipairs(data.hot) do
    local during = h.intervals and string.format(" in %d hot intervals", h.intervals) or ""
    out:write(string.format("CPU %d at %s%%: %d samples%s\n", h.cpu, pct(h.util), h.samples, during))
    local rows = {}
    for i, r in ipairs(h.rows) do
      rows[i] = { count = r.count, pct = pct(r.pct), pid = r.pid, tid = r.tid, comm = r.comm, row = r,
                  ns = r.ns_pid and string.format("%d/%d", r.ns_pid, r.ns_tid) or nil }
    end
    report.table(out, { { "COUNT", "count" }, { "PCT%", "pct" }, { "PID", "pid" }, { "TID", "tid" },
                        { "NS_PID/TID", "ns" }, { "COMM", "comm" } }, rows, "  ",
                 function(c, o) stack_lines(c.row, o) end)
  end
end

return tool.summary {
  name = "cpu-monitor",
  aliases = { "cpu_monitor", "cpu_monitor.sh" },
  about = "Per-CPU utilisation, and the top stacks of CPUs above a threshold",
  tracing = "Tracing CPU utilisation and sampling stacks... Hit Ctrl-C to end.",
  examples = {
    "vnetscope cpu-monitor -i 5",
    "vnetscope cpu-monitor --cpus 0-1 --threshold 90 --top 5",
    "vnetscope cpu-monitor --threshold 80 --format folded -d 60",
    "vnetscope cpu-monitor --freq 199 --format json",
  },
  requires = "perf events (the software CPU clock) and /proc/stat",
  defaults = { interval = 5, top = 10, formats = { "folded" } },
  options = {
    { name = "cpus", type = "cpus", metavar = "LIST", help = "only these CPUs (0,2-3); default all" },
    { name = "threshold", type = "integer", min = 0, max = 100, default = 80, metavar = "PERCENT",
      help = "a CPU at or above this utilisation in an interval shows its stacks" },
    { name = "freq", type = "integer", min = 1, max = 10000, default = 49,
      help = "samples per second on each CPU" },
    { name = "max-keys", type = "integer", min = 64, max = 1048576, default = 16384,
      help = "distinct task/stack rows per interval" },
    { name = "stack-storage", type = "integer", min = 64, max = 1048576, default = 16384,
      help = "distinct stacks kept" },
  },
  program = program,
  prepare = prepare,
  setup = setup,
  collect = collect,
  render = render,
}
