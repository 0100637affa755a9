-- futex-latency: how long do threads wait on futexes, and on which?
--
-- Times every futex wait from the syscall tracepoints (enter to exit of
-- futex(2) FUTEX_WAIT, WAIT_BITSET, WAIT_REQUEUE_PI, LOCK_PI, LOCK_PI2;
-- futex_waitv and futex_wait where the kernel has them): a log2
-- histogram with exact count/min/mean/max per process (--by thread, per
-- thread; --by lock, per futex address), the locks waited on longest,
-- and how the waits ended. Each interval, and the totals at exit.
--
-- Usage: vnetscope futex-latency [--pid P] [--tid T] [--comm C] [--by ...]
--
-- Sample output:
--   Tracing futex waits... Hit Ctrl-C to end.
--
--   12:00:01  futex waits: 412
--     woken 400, EAGAIN 12, timed out 0, other 0
--
--     wait  pid 4242 (app)
--          usecs               : count     distribution
--              0 -> 1          : 12       |                                        |
--            ...
--           1024 -> 2047       : 400      |****************************************|
--     count 412  min 0.9  mean 1370.2  max 2040.1  p50 ...
--
--     locks by total wait (us):
--     COUNT   TOTAL   MEAN     MAX  KIND  PID   COMM  LOCK
--       412  564524  1370.2  2040.1  wait  4242  app   0x55d0c6a4e040
--
-- Requires: the syscalls:sys_enter_futex/sys_exit_futex tracepoints
-- (CONFIG_FTRACE_SYSCALLS; any kernel since 4.x).
local errors = require "vns.errors"
local hist = require "vns.hist"
local kernel = require "vns.kernel"
local net = require "vns.net"
local template = require "vns.template"
local tool = require "vns.tool"
local waits = require "vns.waits"

local KINDS = { [0] = "wait", [1] = "lock_pi", [2] = "requeue_pi", [3] = "waitv" }

-- The newer wait syscalls, each where this kernel has its tracepoints.
local EXTRA = {
  { "futex_waitv", "wait_begin((u64)args->waiters, KIND_WAITV)" },
  { "futex_wait", "wait_begin((u64)args->uaddr, KIND_WAIT)" },
}

local function has(name)
  return kernel.has_tracepoint("syscalls", "sys_enter_" .. name) and kernel.has_tracepoint("syscalls", "sys_exit_" .. name)
end

local function more_probes()
  local out = {}
  for _, e in ipairs(EXTRA) do
    if has(e[1]) then
      out[#out + 1] = string.format("TRACEPOINT_PROBE(syscalls, sys_enter_%s)\n{\n  return %s;\n}\n", e[1], e[2])
      out[#out + 1] = string.format("TRACEPOINT_PROBE(syscalls, sys_exit_%s)\n{\n  return wait_end(args->ret);\n}\n", e[1])
    end
  end
  return template.code(table.concat(out, "\n"))
end

local function program(opts)
  if not has("futex") then
    errors.unsupported("futex-latency needs the syscalls:sys_enter_futex and sys_exit_futex tracepoints "
                       .. "(CONFIG_FTRACE_SYSCALLS)")
  end
  return template.render(template.read("futex-latency.c"), {
    HAS_WAITV = template.bool(has("futex_waitv")),
    TASK_FILTER = waits.task_filter(opts),
    WAITS = waits.code(opts),
    MORE_PROBES = more_probes(),
  })
end

local function describe(run, key)
  local d = { pid = key.pid, kind = KINDS[key.kind] or tostring(key.kind), comm = waits.process_comm(run, key.pid) }
  if key.tid ~= 0 then d.tid, d.thread = key.tid, key.comm end
  if key.lock ~= 0 then d.lock = string.format("0x%x", key.lock) end
  return d
end

local RESULTS = { "woken", "eagain", "timedout", "other" }

local function collect(run, final)
  local data = waits.collect(run, final, describe)
  data.results = waits.results(run, "futex_results", RESULTS, final)
  return data
end

local function note(data)
  local r = data.results
  return string.format("  woken %d, EAGAIN %d (value changed: no sleep), timed out %d, other %d\n",
                       r.woken, r.eagain, r.timedout, r.other)
end

return tool.summary {
  name = "futex-latency",
  aliases = { "futex", "futex.bt" },
  about = "Futex wait time per process, thread or lock address, from the syscall tracepoints",
  tracing = "Tracing futex waits... Hit Ctrl-C to end.",
  examples = {
    "vnetscope futex-latency -i 5 -d 60",
    "vnetscope futex-latency --pid 4242 --by lock --top 5",
    "vnetscope futex-latency --comm ovs-vswitchd --by thread --unit ms",
    "vnetscope futex-latency --tid 4243 --threshold 1ms --format json",
  },
  requires = "tracepoints syscalls:sys_enter_futex and sys_exit_futex (CONFIG_FTRACE_SYSCALLS)",
  probes = { "tracepoint:syscalls:sys_enter_futex", "tracepoint:syscalls:sys_exit_futex" },
  caveats = function()
    local out = {}
    if not has("futex_waitv") then out[#out + 1] = "no futex_waitv on this kernel (5.16+): only futex(2) waits" end
    return out
  end,
  defaults = { top = 10 },
  options = {
    net.options({ "pid", "comm", "threshold" }),
    waits.tid_option(),
    { name = "by", type = "choice", values = { "process", "thread", "lock" }, default = "process",
      help = "one histogram per process, thread or futex address" },
    hist.unit_option("us"),
  },
  check_variants = {
    { "--by", "thread", "--comm", "app" },
    { "--by", "lock", "--pid", "1", "--tid", "1", "--threshold", "1ms" },
  },
  program = program,
  collect = collect,
  render = function(run, data, out, final) waits.render(run, data, out, final, { what = "futex waits", note = note }) end,
}
