-- vns.adhoc: the short forms' generated C, their options and their
-- errors (every name checked before any C is written); vns.report's
-- counting through a fake map. Needs skb:kfree_skb's format (tracefs).
local adhoc = require "vns.adhoc"
local options = require "vns.options"
local report = require "vns.report"
local h = require "helpers"
local eq, has, usage_err = h.eq, h.has, h.usage_err

local T = {}

local function c_of(t, argv)
  return (t:generate(options.parse(t:specs(), argv or {})))
end

local function names(t)
  local out = {}
  for _, s in ipairs(t:specs()) do out[#out + 1] = s.name end
  return table.concat(out, " ")
end

function T.count_key_and_entry()
  local c = c_of(adhoc.count { "tracepoint:skb:kfree_skb", by = "reason, ksym:location, dev" })
  has(c, "TRACEPOINT_PROBE(skb, kfree_skb)")
  has(c, "  u64 location;\n  u32 reason;\n  char dev[16];\n")
  has(c, "key.reason = (u32)args->reason;")
  has(c, "key.location = (u64)args->location;")
  has(c, "vns_skb_devname(skb, key.dev);")
  has(c, "struct sk_buff *skb = (struct sk_buff *)args->skbaddr;")
  has(c, "BPF_PERCPU_HASH(counts, struct adhoc_key, u64, 10240);")
  has(c, "#if 0\n/* counting: no events */")
end

-- A packet brings the flow options and --dev; --pid and --comm always.
function T.options_follow_the_packet()
  has(names(adhoc.count { "skb:kfree_skb", by = "reason" }), "src-ip dst-ip host src-port dst-port port proto filter pid comm dev")
  eq(names(adhoc.count { "kprobe:tcp_drop", by = "arg1" }):match("^pid comm interval") ~= nil, true)
  has(names(adhoc.trace { "skb:kfree_skb" }), "max-events-per-sec")
end

function T.values_are_constants()
  local c = c_of(adhoc.count { "skb:kfree_skb", by = "dev" }, { "--dst-port", "9999", "--pid", "42", "--dev", "eth0" })
  has(c, "vns_current_pid() == VNS_VALUE(u32, 0x2a)")
  has(c, "vns_skb_dev_is(skb, VNS_VALUE(u64, ")
  has(c, "f.dport == VNS_VALUE(u16, 0xf27)")
  eq(c:find("eth0", 1, true), nil)
end

function T.kprobe_arguments_and_stack()
  local c = c_of(adhoc.count { "kprobe:tcp_drop", by = "arg2, stack, comm", skb = "arg2" })
  has(c, "int kprobe__tcp_drop(struct pt_regs *ctx)")
  has(c, "key.arg2 = (u64)PT_REGS_PARM2(ctx);")
  has(c, "key.stack = stacks.get_stackid(ctx, 0);")
  has(c, "BPF_STACK_TRACE(stacks, 4096);")
  has(c, "struct sk_buff *skb = (struct sk_buff *)PT_REGS_PARM2(ctx);")
  has(c_of(adhoc.count { "kretprobe:tcp_v4_rcv", by = "retval" }), "key.retval = (u64)PT_REGS_RC(ctx);")
end

function T.trace_sends_events_under_the_budget()
  local c = c_of(adhoc.trace { "skb:kfree_skb", by = "flow" }, { "--max-events-per-sec", "10" })
  -- The event output of vns.events: a ring buffer on 5.8+, else perf.
  assert(c:find("#if 1\nBPF_RINGBUF_OUTPUT(events, ", 1, true) or c:find("#if 1\nBPF_PERF_OUTPUT(events);", 1, true))
  assert(c:find("vns_events_lost_one();", 1, true))
  has(c, "key.ts_ns = bpf_ktime_get_ns();")
  has(c, "vns_flow_l3(skb, &f);")
  has(c, "key.flow_dport = f.dport;")
  has(c, "vns_budget_take()")
end

function T.errors_name_what_is_wrong()
  usage_err("probe 'kprobe:a:b' is not of the form", adhoc.count, { "kprobe:a:b" })
  usage_err("probe 'tracepoint:skb:kfree_skb;x' is not of the form", adhoc.count, { "tracepoint:skb:kfree_skb;x" })
  usage_err("by 'nope' is not a key of skb:kfree_skb %(builtins: pid, tid, comm, cpu, stack, dev, flow; fields: location",
            adhoc.count, { "skb:kfree_skb", by = "nope" })
  usage_err("by 'args->x' is not a key", adhoc.count, { "skb:kfree_skb", by = "args->x" })
  usage_err("key 'dev' needs a packet", adhoc.count, { "kprobe:tcp_drop", by = "dev" })
  usage_err("key 'reason' is given twice", adhoc.count, { "skb:kfree_skb", by = "reason,reason" })
  usage_err("by 'retval' is not a key of kprobe:f", adhoc.count, { "kprobe:f", by = "retval" })
  h.checkerr("tracepoint nope:nope does not exist on this kernel", adhoc.count, { "nope:nope" })
end

function T.latency_stages_and_keys()
  local t = adhoc.latency { from = "net:net_dev_queue", to = "net:net_dev_start_xmit", by = "dev" }
  local c = c_of(t, { "--threshold", "1ms" })
  has(c, "TRACEPOINT_PROBE(net, net_dev_queue)")
  has(c, "TRACEPOINT_PROBE(net, net_dev_start_xmit)")
  has(names(t), "filter pid comm dev threshold unit")
  local k = adhoc.latency { from = "kprobe:vfs_read", to = "kretprobe:vfs_read", key = "pid_tgid" }
  eq(names(k):match("dev"), nil)
  usage_err("key 'nope' is not a field or argument of net:net_dev_queue", adhoc.latency,
            { from = "net:net_dev_queue", to = "net:net_dev_xmit", key = "nope" })
  usage_err("kprobe:f has no packet", adhoc.latency, { from = "kprobe:f", to = "kprobe:g" })
  usage_err("latency by is \"dev\" or nothing", adhoc.latency,
            { from = "net:net_dev_queue", to = "net:net_dev_xmit", by = "comm" })
end

-- report.counts through a fake program: per-CPU values summed, slots
-- read by difference (they only grow), totals kept across intervals,
-- top-N, ties by the order fields, one row per key.
function T.report_counts()
  local batches = {
    { { { a = 2 }, { 1, 2 } }, { { a = 1 }, 3 }, { { a = 3 }, { 0, 3 } } },
    { { { a = 2 }, 1 } },
  }
  local slots = {
    { [0] = { { key = { a = 1 }, count = 4 }, { key = { a = 9 }, count = 0 } } },
    { [0] = { { key = { a = 1 }, count = 6 }, { key = { a = 1 }, count = 1 } } },
  }
  local prog = { table = function(_, name)
    if name == "m" then return { drain = function() return table.remove(batches, 1) end } end
    return { items = function()
      local s = table.remove(slots, 1)
      return next, s, nil
    end }
  end }
  local run = { program = prog, opts = { top = 2 } }
  local c = report.counts { map = "m", row = function(_, k) return { a = k.a } end, order = { "a" } }
  local first = c:collect(run, false)
  eq({ first.total, #first.rows, first.rows[1].a, first.rows[1].count, first.rows[2].a, #first.all }, { 13, 2, 1, 7, 2, 3 })
  local final = c:collect(run, true)
  eq({ final.total, final.rows[1].a, final.rows[1].count, final.key[final.rows[1]].a }, { 17, 1, 10, 1 })
end

return T
