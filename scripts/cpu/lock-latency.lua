-- lock-latency: how long do threads wait for pthread mutexes and rwlocks,
-- which locks, and from where?
--
-- uprobes on the lock functions of the C library a process maps
-- (pthread_mutex_lock/timedlock/clocklock, pthread_rwlock_rdlock,
-- wrlock and their timed and clock variants; in libc.so.6 since glibc
-- 2.34, in libpthread.so.0 before), a uretprobe on their return: the
-- time each call took to acquire, a log2 histogram with exact
-- count/min/mean/max per lock address (--by process or thread instead),
-- and with --stacks per user stack of the caller; the locks waited on
-- longest. Each interval, and the totals at exit.
--
-- Usage: vnetscope lock-latency --pid P [--stacks] [--lock-type ...]
--        vnetscope lock-latency --lib PATH [--comm C]   (every process using PATH)
--
-- Sample output:
--   Tracing pthread lock waits... Hit Ctrl-C to end.
--   Probing /proc/4242/root/usr/lib/x86_64-linux-gnu/libc.so.6 in pid 4242
--
--   12:00:01  lock waits: 230
--     acquired 230, timed out 0, failed 0
--
--     mutex  lock 0x55d0c6a4e040  pid 4242 (app)
--          usecs               : count     distribution
--           1024 -> 2047       : 230      |****************************************|
--     count 230  min 1012.3  mean 1530.2  max 2040.1  p50 ...
--
--     locks by total wait (us):
--     COUNT     TOTAL    MEAN     MAX  KIND   PID   COMM  LOCK
--       230  351946.0  1530.2  2040.1  mutex  4242  app   0x55d0c6a4e040
--
-- Requires: uprobes (CONFIG_UPROBE_EVENTS) and a C library with its
-- symbol table (.dynsym: every shared glibc has one).
local core = require "vns.core"
local errors = require "vns.errors"
local hist = require "vns.hist"
local net = require "vns.net"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"
local waits = require "vns.waits"

local KINDS = { [0] = "mutex", [1] = "rdlock", [2] = "wrlock" }

-- The functions of each kind: the first must be there; the others
-- (timed, clock: glibc 2.30+) are probed where the library has them.
local FUNCTIONS = {
  mutex = { "pthread_mutex_lock", "pthread_mutex_timedlock", "pthread_mutex_clocklock" },
  rdlock = { "pthread_rwlock_rdlock", "pthread_rwlock_timedrdlock", "pthread_rwlock_clockrdlock" },
  wrlock = { "pthread_rwlock_wrlock", "pthread_rwlock_timedwrlock", "pthread_rwlock_clockwrlock" },
}
local TYPES = { all = { "mutex", "rdlock", "wrlock" }, mutex = { "mutex" }, rwlock = { "rdlock", "wrlock" },
                rdlock = { "rdlock" }, wrlock = { "wrlock" } }

local function program(opts)
  report.check_folded(opts, opts.stacks, "--stacks")
  return template.render(template.read("lock-latency.c"), {
    STACKS = template.bool(opts.stacks),
    TASK_FILTER = waits.task_filter(opts),
    WAITS = waits.code(opts),
  })
end

-- The pthread library among the files of /proc/PID/maps: libpthread
-- where it is mapped (glibc before 2.34), else libc.
local function pthread_lib(maps_path)
  local f = io.open(maps_path)
  if not f then return nil end
  local libc, libpthread
  for line in f:lines() do
    local path = line:match("%s(/%S+)$")
    local base = path and path:match("[^/]+$") or ""
    if base:match("^libpthread[%.%-]") then libpthread = path
    elseif base:match("^libc%.so") or base:match("^libc%-%d") then libc = path end
  end
  f:close()
  return libpthread or libc
end

-- The library to probe: --lib, else the one --pid maps (seen through
-- /proc/PID/root: the process may live in another mount namespace),
-- else the one vnetscope itself maps (the system's).
local function library(opts)
  if opts.lib then
    if not core.stat(opts.lib) then errors.usage("option --lib: '%s' does not exist", opts.lib) end
    return opts.lib
  end
  if opts.pid then
    if not core.stat("/proc/" .. opts.pid) then errors.usage("option --pid: no process %d", opts.pid) end
    local lib = pthread_lib("/proc/" .. opts.pid .. "/maps")
    if not lib then
      errors.fail("process %d maps no libc.so.6 or libpthread.so.0 (statically linked, or another C library): "
                  .. "give the binary or library that has pthread_mutex_lock with --lib (e.g. --lib /proc/%d/exe)",
                  opts.pid, opts.pid)
    end
    return "/proc/" .. opts.pid .. "/root" .. lib
  end
  return pthread_lib("/proc/self/maps") or errors.fail("cannot find the system's libc in /proc/self/maps: give --lib")
end

local function prepare(run)
  local opts, prog = run.opts, run.program
  local lib = library(opts)
  local ret = prog:load("uretprobe__lock", "uprobe")
  local attach_opts = { pid = opts.pid or -1 }
  run.lib, run.missing = lib, {}
  for _, kind in ipairs(TYPES[opts.lock_type]) do
    local entry = prog:load("uprobe__" .. kind, "uprobe")
    for i, sym in ipairs(FUNCTIONS[kind]) do
      local link, err = prog:try_attach(entry, "uprobe", lib, sym, attach_opts)
      if link then
        prog:attach(ret, "uprobe", lib, sym, { pid = attach_opts.pid, ret = true })
      elseif i == 1 then
        errors.fail("lock-latency: %s is not in %s (%s); give the library or binary that has it with --lib",
                    sym, lib, err)
      else
        run.missing[#run.missing + 1] = sym
      end
    end
  end
end

-- A user stack as "symbol+0xoffset (module)" lines, once per process
-- and id (ids are never reused: the tool deletes no stack).
local function stack_of(run, pid, id)
  if id < 0 then return nil end
  run.stack_cache = run.stack_cache or {}
  local k = pid .. "/" .. id
  if not run.stack_cache[k] then
    local frames = {}
    for _, fr in ipairs(run.program:table("stacks"):stack(id, pid) or {}) do
      local module = fr.module and (" (" .. fr.module:match("[^/]*$") .. ")") or ""
      frames[#frames + 1] = fr.sym == "[unknown]" and string.format("0x%x%s", fr.addr, module)
                            or string.format("%s+0x%x%s", fr.sym, fr.offset, module)
    end
    if #frames == 0 then frames[1] = id == -14 and "[stack not collected: EFAULT]" or "[no frames]" end
    run.stack_cache[k] = frames
  end
  return run.stack_cache[k]
end

local function describe(run, key)
  local d = { pid = key.pid, kind = KINDS[key.kind] or tostring(key.kind), comm = waits.process_comm(run, key.pid) }
  if key.tid ~= 0 then d.tid, d.thread = key.tid, key.comm end
  if key.lock ~= 0 then d.lock = string.format("0x%x", key.lock) end
  if run.opts.stacks then d.stack = stack_of(run, key.pid, key.stack) end
  return d
end

local RESULTS = { "acquired", "timedout", "failed" }

local function collect(run, final)
  local data = waits.collect(run, final, describe)
  data.results = waits.results(run, "lock_results", RESULTS, final)
  return data
end

local function note(data)
  local r = data.results
  return string.format("  acquired %d, timed out %d, failed %d\n", r.acquired, r.timedout, r.failed)
end

-- Folded (--stacks): "COMM;outermost frame;...;the lock call's caller waits".
local function folded_parts(h)
  return { h.comm or "-" }, { h.stack or { "[missed stack]" } }, h.count
end

local function render(run, data, out, final)
  if run.opts.format == "folded" then return report.folded_totals(out, "lock-latency", data.histograms, folded_parts, final) end
  waits.render(run, data, out, final, { what = "lock waits", note = note })
end

local function header(run, out)
  out:write(string.format("Probing %s%s\n", run.lib, run.opts.pid and (" in pid " .. run.opts.pid) or " in every process"))
  if #run.missing > 0 then
    out:write(string.format("(not in it, not traced: %s)\n", table.concat(run.missing, ", ")))
  end
end

return tool.summary {
  name = "lock-latency",
  aliases = { "pthread_rwlock_wrlock", "pthread_rwlock_wrlock.bt", "pthread_rwlock_wrlock-stack",
              "pthread_rwlock_wrlock-stack.bt" },
  about = "Time to acquire pthread mutexes and rwlocks, per lock and user stack, with uprobes on libc",
  tracing = "Tracing pthread lock waits... Hit Ctrl-C to end.",
  examples = {
    "vnetscope lock-latency --pid 4242 -i 5",
    "vnetscope lock-latency --pid 4242 --lock-type wrlock --stacks --top 5",
    "vnetscope lock-latency --pid 4242 --by thread --threshold 100us --format json",
    "vnetscope lock-latency --comm ovs-vswitchd --lib /usr/lib64/libpthread.so.0",
    "vnetscope lock-latency --pid 4242 --stacks --format folded -d 30",
  },
  requires = "uprobes (CONFIG_UPROBE_EVENTS); the process's libc.so.6 (glibc 2.34+) or libpthread.so.0",
  defaults = { top = 10, formats = { "folded" } },
  options = {
    net.options({ "pid", "comm", "threshold" }),
    waits.tid_option(),
    { name = "lib", type = "path", metavar = "PATH",
      help = "the library or binary with the pthread functions (default: the one --pid maps, else the system's libc)" },
    { name = "lock-type", type = "choice", values = { "all", "mutex", "rwlock", "rdlock", "wrlock" }, default = "all",
      help = "which lock functions: mutex, rwlock (rdlock and wrlock), rdlock, wrlock or all" },
    { name = "by", type = "choice", values = { "process", "thread", "lock" }, default = "lock",
      help = "one histogram per process, thread or lock address" },
    { name = "stacks", type = "flag", help = "one histogram per user stack of the caller too" },
    hist.unit_option("us"),
  },
  check_variants = {
    { "--stacks", "--by", "thread" },
    { "--pid", "1", "--tid", "1", "--comm", "app", "--threshold", "1ms", "--by", "process" },
  },
  program = program,
  prepare = prepare,
  header = header,
  collect = collect,
  render = render,
}
