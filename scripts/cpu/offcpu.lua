-- offcpu: where and for how long do threads wait off CPU, and who woke
-- them?
--
-- Sums the time each thread spends off CPU (blocked, or preempted and
-- waiting to run) per kernel stack, user stack and waker, from
-- sched:sched_switch (and, with --waker, sched:sched_waking); reports every interval (a
-- time series) and the totals at exit, as text with stacks, JSON, or
-- folded stacks for flame graphs (--format folded).
--
-- Usage: vnetscope offcpu [--pid P | --tid T | --comm C] [--min-block T]
-- (the examples below, and --help).
--
-- Sample output:
--   Tracing off-CPU time by thread, kernel and user stack (and waker)... Hit Ctrl-C to end.
--
--   12:00:05  off-CPU: 1.502 s in 30 blocks, 3 rows
--     TOTAL_US  BLOCKS  MAX_US   PID   TID  NS_PID/TID  COMM
--      1500210      30   50112  4242  4243  -           sleeper
--         __schedule+0x2e2
--         schedule+0x5e
--         do_nanosleep+0x6c
--         ...
--         --
--         clock_nanosleep+0x6b
--         naps+0x2d
--
-- Requires: raw tracepoints sched:sched_switch (and sched:sched_waking
-- for --waker) (Linux 4.17+).
local drops = require "vns.drops"
local errors = require "vns.errors"
local net = require "vns.net"
local output = require "vns.output"
local report = require "vns.report"
local sched = require "vns.sched"
local template = require "vns.template"
local tool = require "vns.tool"
local ctxfilter = require "vns.ctxfilter"

local STATES = { any = 0, blocked = 1, preempted = 2 }

local function value(n, ctype) return template.value(n, ctype).text end

-- The test of the task leaving the CPU (tid, tgid, prev in the C).
local function leave_filter(opts)
  local tests = {}
  if opts.pid then tests[#tests + 1] = "tgid == " .. value(opts.pid, "u32") end
  if opts.tid then tests[#tests + 1] = "tid == " .. value(opts.tid, "u32") end
  if opts.threads == "user" then tests[#tests + 1] = "!vns_task_is_kthread(prev)" end
  if opts.threads == "kernel" then tests[#tests + 1] = "vns_task_is_kthread(prev)" end
  local comm = ctxfilter.compile({ comm = opts.comm }, {})
  if comm.any then tests[#tests + 1] = comm.text end
  return template.code(#tests == 0 and "1" or table.concat(tests, " && "))
end

-- The test of a block's length (delta in the C).
local function block_filter(opts)
  local tests = {}
  if opts.min_block then tests[#tests + 1] = "delta >= " .. value(opts.min_block, "u64") end
  if opts.max_block then tests[#tests + 1] = "delta <= " .. value(opts.max_block, "u64") end
  return template.code(#tests == 0 and "1" or table.concat(tests, " && "))
end

local function program(opts)
  if opts.min_block and opts.max_block and opts.min_block > opts.max_block then
    errors.usage("option --min-block (%d ns) is above --max-block (%d ns)", opts.min_block, opts.max_block)
  end
  if opts.threads == "kernel" and opts.stacks == "user" then
    errors.usage("option --stacks user with --threads kernel: kernel threads have no user stacks")
  end
  return template.render(template.read("offcpu.c"), {
    SCHED = opts.waker and sched.code("sched_switch", "sched_waking") or sched.code("sched_switch"),
    WAKER = template.bool(opts.waker),
    KSTACKS = template.bool(opts.stacks ~= "user"),
    USTACKS = template.bool(opts.stacks ~= "kernel"),
    STATE = template.int(STATES[opts.state]),
    FILTER = leave_filter(opts),
    BLOCK_FILTER = block_filter(opts),
    MAX_THREADS = template.int(opts.max_threads),
    MAX_KEYS = template.int(opts.max_keys),
    STACK_STORAGE = template.int(opts.stack_storage),
  })
end

-- A negative stack id other than -EFAULT (no user stack: a kernel
-- thread) means the walk failed: the map was full or two stacks collided.
local EFAULT = 14
local function missed(id) return id < 0 and id ~= -EFAULT end

local function row_of(run, key, val)
  local ns_pid, ns_tid = sched.ns_ids(run.ns_cache, key.tgid, key.tid)
  return {
    pid = key.tgid, tid = key.tid, ns_pid = ns_pid, ns_tid = ns_tid, comm = key.comm,
    waker = key.waker_comm ~= "" and string.format("%s (%d)", key.waker_comm, key.waker_tid) or nil,
    waker_pid = key.waker_comm ~= "" and key.waker_tgid or nil,
    waker_tid = key.waker_comm ~= "" and key.waker_tid or nil,
    total_ns = val.total_ns, count = val.count, max_ns = val.max_ns,
    kernel_stack = drops.stack(run.stacks, key.kstack),
    user_stack = drops.stack(run.stacks, key.ustack, key.tgid),
    missed_kernel_stack = run.opts.stacks ~= "user" and missed(key.kstack) or nil,
    missed_user_stack = run.opts.stacks ~= "kernel" and missed(key.ustack) or nil,
  }
end

local function setup(run)
  run.ns_cache, run.totals = {}, {}
  if run.opts.stacks ~= "none" then run.stacks = run.program:table("stacks") end
end

local function by_time(a, b)
  if a.total_ns ~= b.total_ns then return a.total_ns > b.total_ns end
  return a.tid < b.tid
end

-- The rows drained this interval; added to the running totals.
local function drain(run)
  local rows = {}
  for _, e in ipairs(run.program:table("offcpu"):drain()) do
    local key, val = e[1], e[2]
    local row = row_of(run, key, val)
    rows[#rows + 1] = row
    local id = string.format("%d/%d/%d/%d/%d/%s", key.tid, key.tgid, key.kstack, key.ustack, key.waker_tid, key.waker_comm)
    local t = run.totals[id]
    if not t then
      t = {}
      for k, v in pairs(row) do t[k] = v end
      run.totals[id] = t
    else
      t.total_ns, t.count = t.total_ns + row.total_ns, t.count + row.count
      t.max_ns = math.max(t.max_ns, row.max_ns)
    end
  end
  return rows
end

local function lost(run)
  local n = {}
  for i, per_cpu in run.program:table("lost"):items() do
    local s = 0
    for _, v in ipairs(per_cpu) do s = s + v end
    n[i] = s
  end
  return { threads = n[0] or 0, blocks = n[1] or 0, unended = n[2] or 0 }
end

local function collect(run, final)
  local fresh = drain(run)
  run.fresh = fresh  -- folded output prints only what is new
  local rows = fresh
  if final then
    rows = {}
    for _, t in pairs(run.totals) do rows[#rows + 1] = t end
  end
  table.sort(rows, by_time)
  local shown, total_ns, blocks = output.array(), 0, 0
  for i, r in ipairs(rows) do
    total_ns, blocks = total_ns + r.total_ns, blocks + r.count
    if i <= run.opts.top then shown[#shown + 1] = r end
  end
  return { type = final and "total" or "interval", total_ns = total_ns, blocks = blocks,
           stacks = #rows, rows = shown, lost = lost(run) }
end

local function stack_lines(r, out)
  if r.missed_kernel_stack then out:write("      [missed kernel stack]\n") end
  report.frames(out, r.kernel_stack)
  if r.kernel_stack and r.user_stack then out:write("      --\n") end
  if r.missed_user_stack then out:write("      [missed user stack]\n") end
  report.frames(out, r.user_stack)
end

-- "comm;user frames;kernel frames value-in-us" (report.folded_line).
local function folded_line(r)
  local missed_user = r.missed_user_stack and { "[missed user stack]" } or {}
  local missed_kernel = r.missed_kernel_stack and { "[missed kernel stack]" } or {}
  return report.folded_line({ r.comm }, { missed_user, r.user_stack or {}, missed_kernel, r.kernel_stack or {} },
                            r.total_ns // 1000)
end

local function render(run, data, out, final)
  if run.opts.format == "folded" then
    -- Each interval's lines after a comment line (flamegraph.pl skips
    -- it); their sum is the total, so the totals are not repeated.
    local rows = run.fresh
    table.sort(rows, by_time)
    report.folded_heading(out, "offcpu", final and "last" or "interval")
    for _, r in ipairs(rows) do out:write(folded_line(r)) end
    return
  end
  local title = final and "Total since start" or output.timestamp()
  out:write(string.format("\n%s  off-CPU: %s s in %d blocks, %d rows\n", title,
                          string.format("%.3f", data.total_ns / 1e9), data.blocks, data.stacks))
  if data.lost.threads + data.lost.blocks > 0 then
    out:write(string.format("  (not counted, maps full: %d threads, %d blocks; raise --max-threads / --max-keys)\n",
                            data.lost.threads, data.lost.blocks))
  end
  if data.lost.unended > 0 then
    out:write(string.format("  (not counted: %d block(s) the kernel reported no switch-in ending, before the next one)\n",
                            data.lost.unended))
  end
  if #data.rows == 0 then return end
  local cells = {}
  for i, r in ipairs(data.rows) do
    local nsid = r.ns_pid and string.format("%d/%d", r.ns_pid, r.ns_tid) or nil
    cells[i] = { total = r.total_ns // 1000, count = r.count, max = r.max_ns // 1000, pid = r.pid, tid = r.tid,
                 ns = nsid, comm = r.comm, waker = r.waker, row = r }
  end
  local columns = { { "TOTAL_US", "total" }, { "BLOCKS", "count" }, { "MAX_US", "max" }, { "PID", "pid" },
                    { "TID", "tid" }, { "NS_PID/TID", "ns" }, { "COMM", "comm" } }
  if run.opts.waker then columns[#columns + 1] = { "WAKER", "waker" } end
  report.table(out, columns, cells, "  ", function(c, o) stack_lines(c.row, o) end)
end

return tool.summary {
  name = "offcpu",
  aliases = { "offcputime-ts" },
  about = "Off-CPU time by thread, kernel and user stack (and waker)",
  examples = {
    "vnetscope offcpu -i 5 -d 60",
    "vnetscope offcpu --pid 4242 --min-block 1ms",
    "vnetscope offcpu --comm ovs-vswitchd --stacks kernel --top 5",
    "vnetscope offcpu --tid 4243 --state blocked --waker --format json",
    "vnetscope offcpu --pid 4242 -d 30 -i 30 --format folded",
  },
  requires = "raw tracepoints sched:sched_switch (and sched:sched_waking for --waker) (Linux 4.17+)",
  probes = { "raw_tracepoint:sched_switch", "raw_tracepoint:sched_waking" },
  defaults = { interval = 5, top = 10, formats = { "folded" } },
  options = {
    net.options({ "pid", "comm" }),
    { name = "tid", type = "pid", metavar = "TID", help = "only this thread" },
    { name = "threads", type = "choice", values = { "all", "user", "kernel" }, default = "all",
      help = "only user threads or only kernel threads" },
    { name = "stacks", type = "choice", values = { "both", "kernel", "user" }, default = "both",
      help = "which stacks to take" },
    { name = "state", type = "choice", values = { "any", "blocked", "preempted" }, default = "any",
      help = "only blocks where the thread slept (blocked) or was preempted and stayed runnable" },
    { name = "waker", type = "flag",
      help = "rows per task that woke the thread too (from an interrupt: the task it interrupted)" },
    { name = "min-block", type = "nanoseconds", metavar = "TIME", help = "only blocks at least this long (1ms)" },
    { name = "max-block", type = "nanoseconds", metavar = "TIME", help = "only blocks at most this long" },
    { name = "max-threads", type = "integer", min = 64, max = 1048576, default = 16384,
      help = "threads off CPU at once that can be followed" },
    { name = "max-keys", type = "integer", min = 64, max = 1048576, default = 16384,
      help = "distinct thread/stack/waker rows per interval" },
    { name = "stack-storage", type = "integer", min = 64, max = 1048576, default = 16384,
      help = "distinct stacks kept" },
  },
  check_variants = {
    { "--stacks", "kernel", "--state", "blocked", "--min-block", "1ms" },
    { "--pid", "1", "--threads", "user", "--stacks", "user" },
    { "--comm", "ovs-vswitchd", "--state", "preempted", "--waker" },
  },
  program = program,
  setup = setup,
  collect = collect,
  render = render,
}
