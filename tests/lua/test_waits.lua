-- vns.waits: the task filter, the fragment, collect's interval and
-- total reports (on a fake program), and the C futex-latency and
-- lock-latency generate from their options.
local options = require "vns.options"
local registry = require "vns.registry"
local waits = require "vns.waits"
local h = require "helpers"
local eq, has, hasnt = h.eq, h.has, h.hasnt

local T = {}

local function generate(name, argv)
  local tool = registry.find(name)
  return tool:generate(options.parse(tool:specs(), argv or {}))
end

function T.task_filter_none_pid_tid_comm()
  eq(waits.task_filter({}).text, "1")
  eq(waits.task_filter({ pid = 42 }).text, "vns_current_pid() == VNS_VALUE(u32, 0x2a)")
  eq(waits.task_filter({ tid = 43 }).text, "(u32)bpf_get_current_pid_tgid() == VNS_VALUE(u32, 0x2b)")
  local comm = require("vns.net").comm("app")
  eq(waits.task_filter({ pid = 42, tid = 43, comm = comm }).text,
     "(u32)bpf_get_current_pid_tgid() == VNS_VALUE(u32, 0x2b) && vns_current_pid() == VNS_VALUE(u32, 0x2a)"
     .. " && vns_current_comm_is(VNS_VALUE(u64, 0x707061), VNS_VALUE(u64, 0x0))")
end

function T.code_has_the_unit_and_sizes()
  local text = waits.code({ unit = "ms", by = "lock" }).text
  has(text, "#define BY 2")
  has(text, "vns_log2_slot(delta_ns / 1000000)")
  has(text, "BPF_PERCPU_HASH(wait_stats, struct wait_key, struct vns_stats, 4096);")
  hasnt(text, "{{")
end

-- A program whose maps hold what the kernel would have recorded.
local function fake_run(maps, opts)
  local tables = {}
  for name, entries in pairs(maps) do
    tables[name] = { drain = function() local e = maps[name]; maps[name] = {}; return e end }
  end
  return { opts = opts or { unit = "us", top = 10 }, program = { table = function(_, n) return tables[n] end } }
end

local function key(lock, pid, kind) return { lock = lock, pid = pid, tid = 0, stack = -1, kind = kind, comm = "" } end
local function stats(count, sum, min, max) return { { count = count, sum = sum, min = min, max = max } } end

local function describe(_, k)
  return { pid = k.pid, kind = k.kind == 0 and "wait" or "other", lock = k.lock ~= 0 and string.format("0x%x", k.lock) or nil }
end

function T.collect_interval_then_totals()
  local a, b = key(0x1000, 7, 0), key(0x2000, 7, 0)
  local maps = {
    wait_hist = { { { label = a, slot = 11 }, 3 }, { { label = b, slot = 5 }, 1 } },
    wait_stats = { { a, stats(3, 3000000, 900000, 1100000) }, { b, stats(1, 20000, 20000, 20000) } },
    wait_locks = { { { lock = 0x1000, pid = 7, kind = 0 }, stats(3, 3000000, 900000, 1100000) },
                   { { lock = 0x2000, pid = 7, kind = 0 }, stats(1, 20000, 20000, 20000) } },
  }
  local run = fake_run(maps)
  local d = waits.collect(run, false, describe)
  eq({ d.type, d.waits, #d.histograms, d.histograms[1].lock, d.histograms[1].count, d.histograms[1].max },
     { "interval", 4, 2, "0x1000", 3, 1100 })
  eq({ d.locks[1].lock, d.locks[1].count, d.locks[1].total, d.locks[1].mean, d.locks[2].lock },
     { "0x1000", 3, 3000, 1000, "0x2000" })
  -- The next interval: one more wait on b, which now leads the totals.
  maps.wait_hist = { { { label = b, slot = 13 }, 1 } }
  maps.wait_stats = { { b, stats(1, 5000000, 5000000, 5000000) } }
  maps.wait_locks = { { { lock = 0x2000, pid = 7, kind = 0 }, stats(1, 5000000, 5000000, 5000000) } }
  d = waits.collect(run, false, describe)
  eq({ d.waits, #d.histograms, #d.locks }, { 1, 1, 1 })
  d = waits.collect(run, true, describe)
  eq({ d.type, d.waits, d.histograms[1].lock, d.histograms[1].count, d.histograms[1].min, d.histograms[1].max },
     { "total", 5, "0x2000", 2, 20, 5000 })
  eq({ d.locks[1].lock, d.locks[1].count, d.locks[2].count }, { "0x2000", 2, 3 })
  -- --top cuts both lists; the counts before the cut stay.
  run.opts.top = 1
  d = waits.collect(run, true, describe)
  eq({ #d.histograms, d.labels_seen, #d.locks, d.locks_seen }, { 1, 2, 1, 2 })
end

function T.render_heading_and_table()
  local maps = {
    wait_hist = { { { label = key(0x1000, 7, 0), slot = 11 }, 3 } },
    wait_stats = { { key(0x1000, 7, 0), stats(3, 3000000, 900000, 1100000) } },
    wait_locks = { { { lock = 0x1000, pid = 7, kind = 0 }, stats(3, 3000000, 900000, 1100000) } },
  }
  local run = fake_run(maps)
  local d = waits.collect(run, true, describe)
  local out = {}
  local sink = { write = function(self, ...) for _, s in ipairs({ ... }) do out[#out + 1] = s end return self end }
  waits.render(run, d, sink, true, { what = "futex waits", note = function() return "  note\n" end })
  local text = table.concat(out)
  has(text, "Total since start  futex waits: 3\n  note\n")
  has(text, "\n  wait  lock 0x1000  pid 7 (?)\n")
  has(text, "count 3  min 900  mean 1000  max 1100")
  has(text, "locks by total wait (us):")
  has(text, "      3  3000.0  1000.0  1100.0  wait    7  -     0x1000\n")
end

function T.futex_latency_program_by_option()
  local text = generate("futex-latency")
  has(text, "#define BY 0\n")
  has(text, "TRACEPOINT_PROBE(syscalls, sys_enter_futex)")
  has(text, "if (!(1))\n    return 0;")
  text = generate("futex-latency", { "--by", "lock", "--pid", "42", "--threshold", "2ms" })
  has(text, "#define BY 2\n")
  has(text, "if (!(vns_current_pid() == VNS_VALUE(u32, 0x2a)))")
  has(text, "return delta >= VNS_VALUE(u64, 0x1e8480);")
  has(generate("futex-latency", { "--unit", "ms" }), "delta_ns / 1000000")
end

function T.lock_latency_program_by_option()
  local text = generate("lock-latency")
  has(text, "#define BY 2\n")
  has(text, "#define STACKS 0\n")
  has(text, "int uprobe__mutex(struct pt_regs *ctx)")
  has(text, "int uretprobe__lock(struct pt_regs *ctx)")
  text = generate("lock-latency", { "--stacks", "--by", "thread", "--tid", "9" })
  has(text, "#define BY 1\n")
  has(text, "#define STACKS 1\n")
  has(text, "(u32)bpf_get_current_pid_tgid() == VNS_VALUE(u32, 0x9)")
end

function T.bad_options_are_usage_errors()
  local futex = registry.find("futex-latency")
  h.usage_err("option --tid:", options.parse, futex:specs(), { "--tid", "0x10" })
  h.usage_err("option --by:", options.parse, futex:specs(), { "--by", "stack" })
  local lock = registry.find("lock-latency")
  h.usage_err("option --lock-type:", options.parse, lock:specs(), { "--lock-type", "spin" })
  h.usage_err("option --lib:", options.parse, lock:specs(), { "--lib", "" })
end

return T
