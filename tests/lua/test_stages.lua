-- vns.stages: the stage-timing kit's checks, generated C, counters and
-- reading back (maps faked).
local ctxfilter = require "vns.ctxfilter"
local filter = require "vns.filter"
local net = require "vns.net"
local stages = require "vns.stages"
local template = require "vns.template"
local h = require "helpers"
local eq, has, lacks, checkerr = h.eq, h.has, h.hasnt, h.checkerr

local T = {}

local function two(extra)
  local def = {
    stages = {
      { name = "queue", probe = "tracepoint:net:net_dev_queue" },
      { name = "xmit", probe = "tracepoint:net:net_dev_start_xmit" },
    },
  }
  for k, v in pairs(extra or {}) do def[k] = v end
  return stages.new(def)
end

local function three()
  return stages.new {
    stages = {
      { name = "queue", probe = "tracepoint:net:net_dev_queue" },
      { name = "start", probe = "tracepoint:net:net_dev_start_xmit" },
      { name = "xmit", probe = "tracepoint:net:net_dev_xmit" },
    },
    by = "dev",
  }
end

function T.checks_the_definition()
  checkerr("2 to 8 stages", stages.new, { stages = { { name = "a", probe = "tracepoint:net:net_dev_queue" } } })
  checkerr("unknown probe kind", stages.new, { stages = {
    { name = "a", probe = "uprobe:/bin/x:f" }, { name = "b", probe = "kprobe:f" } } })
  checkerr("used by two stages", stages.new, { stages = {
    { name = "a", probe = "kprobe:f" }, { name = "b", probe = "kprobe:f" } } })
  checkerr("needs a name", stages.new, { stages = {
    { name = "a b", probe = "kprobe:f" }, { name = "b", probe = "kprobe:g" } } })
  checkerr("must be a C identifier", stages.new, { stages = {
    { name = "a", probe = "kprobe:f;g" }, { name = "b", probe = "kprobe:g" } } })
  checkerr("has no skb: give it a key", stages.new, { stages = {
    { name = "a", probe = "kprobe:f" }, { name = "b", probe = "kretprobe:f" } } })
  checkerr("cond must be template.code", stages.new, { stages = {
    { name = "a", probe = "kprobe:f", cond = "1" }, { name = "b", probe = "kprobe:g" } } })
  checkerr("key is", stages.new, { stages = {
    { name = "a", probe = "kprobe:f", key = "args->x" }, { name = "b", probe = "kprobe:g" } } })
  checkerr("needs an skb at the first stage", stages.new, { by = "dev", stages = {
    { name = "a", probe = "kprobe:f", skb = false, key = "pid_tgid" }, { name = "b", probe = "kprobe:g" } } })
  checkerr("skb of a kprobe is its argument", stages.new, { stages = {
    { name = "a", probe = "kprobe:f", skb = 7 }, { name = "b", probe = "kprobe:g" } } })
end

-- A stage of several probes (each its own entry, one worker), with the
-- skb by probe kind; ends and a reused sk_buff (same_head) end sessions.
function T.several_probes_per_stage_and_same_head()
  local kit = stages.new {
    stages = {
      { name = "ip", probe = { "kprobe:ip_output", "kprobe:ip6_output" }, skb = 3 },
      { name = "sock", probe = { "tracepoint:skb:skb_copy_datagram_iovec", "kprobe:skb_consume_udp" },
        skb = { tracepoint = "skbaddr", kprobe = 2 } },
    },
    ends = { { name = "left", probe = "tracepoint:skb:consume_skb" },
             { name = "dropped", probe = "tracepoint:skb:kfree_skb" } },
    same_head = true,
  }
  local c = kit:program({})
  has(c, "int kprobe__ip_output(struct pt_regs *ctx)")
  has(c, "int kprobe__ip6_output(struct pt_regs *ctx)")
  has(c, "(struct sk_buff *)PT_REGS_PARM3(ctx)")
  has(c, "TRACEPOINT_PROBE(skb, skb_copy_datagram_iovec)")
  has(c, "(struct sk_buff *)args->skbaddr;")
  has(c, "(struct sk_buff *)PT_REGS_PARM2(ctx)")
  has(c, "#define VNS_STAGES_SAME_HEAD 1")
  -- counters: 5, then left, dropped, reused (5, 6, 7), then 2 stages each (8..13)
  has(c, "BPF_PERCPU_ARRAY(vns_stages_counts, u64, 14);")
  has(c, "#define VNS_STAGES_REUSED 7\n#define VNS_STAGES_REUSED_BY_STAGE 12\n")
  has(c, "  return vns_stages_stop(key, 5, 8);")
  has(c, "  return vns_stages_stop(key, 6, 10);")
  eq(select(2, c:gsub("static __always_inline int vns_stage_0%(", "")), 1)
  checkerr("probes of several kinds need skb by kind", stages.new, { stages = {
    { name = "a", probe = { "kprobe:f", "tracepoint:net:net_dev_queue" } }, { name = "b", probe = "kprobe:g" } } })
  checkerr("used by two stages", stages.new, { stages = {
    { name = "a", probe = "tracepoint:skb:consume_skb" }, { name = "b", probe = "kprobe:g" } },
    ends = { { name = "left", probe = "tracepoint:skb:consume_skb" } } })
  has(two():program({}), "#define VNS_STAGES_SAME_HEAD 0")
  has(two():program({}), "#define VNS_STAGES_FIELDS 0")
end

-- --fields: each stage's skb facts in the session and the event; the
-- fast path's row lists them under the event line.
function T.fields_in_events()
  local kit = stages.new { stages = {
    { name = "queue", probe = "tracepoint:net:net_dev_queue" },
    { name = "nic", probe = "tracepoint:net:net_dev_start_xmit" } }, events = true, fields = true }
  local c = kit:program({ max_events_per_sec = 100 })
  has(c, "#define VNS_STAGES_FIELDS 1")
  has(c, "vns_stages_fields(&s->fields[i], skb);")
  local words = { string.unpack("<i8<i8", "eth0" .. string.rep("\0", 12)) }
  local ev = { ts = { 100, 350 }, timed = 2, f_len = { 44, 44 }, f_hash = { 0, 0xabc }, f_queue = { 0, 1 },
               f_cpu = { 1, 0 }, f_dev_lo = { words[1], words[1] }, f_dev_hi = { words[2], words[2] } }
  local r = kit:row().hooks[1].decode({}, ev)
  eq(r.stages[2], { name = "nic", at_ns = 250, len = 44, hash = 0xabc, queue = 1, cpu = 0, dev = "eth0" })
  eq(r.slowest, { from = "queue", to = "nic", ns = 250 })
  eq(r._fields[2], "nic        len 44     hash 00000abc queue 1   cpu 0   dev eth0")
  eq(kit:row().lines, "_fields")
end

function T.program_two_tracepoints()
  local c = two({ by = "dev" }):program({ unit = "ms" })
  has(c, "#define VNS_STAGES_N 2")
  has(c, "#define VNS_STAGES_UNIT_NS 1000000")
  has(c, "#define VNS_STAGES_BY_DEV 1")
  has(c, "#define VNS_STAGES_HIST 1")
  has(c, "#define VNS_STAGES_EVENTS 0")
  has(c, 'BPF_TABLE("lru_hash", u64, struct vns_stages_session, vns_stages_sessions, 10240);')
  has(c, "TRACEPOINT_PROBE(net, net_dev_queue)\n{\n  struct sk_buff *skb = (struct sk_buff *)args->skbaddr;\n"
         .. "  return vns_stage_0(args, skb, (u64)skb);\n}")
  has(c, "static __always_inline int vns_stage_0(void *ctx, struct sk_buff *skb, u64 key)\n{\n"
         .. "  if (!vns_stage_0_match(skb))\n    return vns_stages_forget(key);\n"
         .. "  return vns_stages_begin(ctx, skb, key);\n}")
  has(c, "  if (!vns_stage_1_match(skb))\n    return 0;\n  return vns_stages_step(ctx, skb, key, 1);")
  has(c, "  return vns_stages_step(ctx, skb, key, 1);")
  has(c, "  if (!(1))\n    goto close;")       -- no threshold
  has(c, "/* no filter maps */")
  lacks(c, "{{")
  lacks(c, "vns_budget_take()\n    return")
end

function T.program_filters_at_the_first_stage_only()
  local opts = { dev = "eth0", pid = 42, threshold = 1000000, proto = net.protos("udp") }
  local f = filter.compile(opts)
  local c = two():program(opts, f)
  local w0 = c:match("int vns_stage_0_match.-\n}\n")
  local w1 = c:match("int vns_stage_1_match.-\n}\n")
  has(w0, "  if (!(vns_current_pid() == VNS_VALUE(u32, 0x2a) && vns_skb_dev_is(skb, VNS_VALUE(u64, 0x30687465), "
          .. "VNS_VALUE(u64, 0x0))))\n    return 0;\n  struct vns_flow f = {};")
  has(w0, "    return 0;\n  return 1;\n}")
  lacks(w1, "vns_skb_dev_is")
  lacks(w1, "vns_flow")
  has(c, "  if (!(delta_ns >= VNS_VALUE(u64, 0xf4240)))\n    goto close;")
end

function T.program_probe_kinds_keys_and_conditions()
  local kit = stages.new {
    stages = {
      { name = "tx", probe = "kprobe:dev_queue_xmit", cond = ctxfilter.compile({ pid = 7 }).expr },
      { name = "rx", probe = "raw_tracepoint:netif_receive_skb" },
      { name = "kick", probe = "kprobe:vhost_poll_queue", skb = false, key = template.code("PT_REGS_PARM1(ctx)") },
      { name = "done", probe = "kretprobe:vhost_poll_queue", key = "pid_tgid" },
    },
  }
  local c = kit:program({})
  has(c, "int kprobe__dev_queue_xmit(struct pt_regs *ctx)\n{\n"
         .. "  struct sk_buff *skb = (struct sk_buff *)PT_REGS_PARM1(ctx);\n"
         .. "  if (!(vns_current_pid() == VNS_VALUE(u32, 0x7)))\n    return 0;\n"
         .. "  return vns_stage_0(ctx, skb, (u64)skb);\n}")
  has(c, "RAW_TRACEPOINT_PROBE(netif_receive_skb)\n{\n  struct sk_buff *skb = (struct sk_buff *)ctx->args[0];\n"
         .. "  return vns_stage_1(ctx, skb, (u64)skb);")
  has(c, "  struct sk_buff *skb = NULL;\n  return vns_stage_2(ctx, skb, PT_REGS_PARM1(ctx));")
  has(c, "int kretprobe__vhost_poll_queue(struct pt_regs *ctx)\n{\n  struct sk_buff *skb = NULL;\n"
         .. "  return vns_stage_3(ctx, skb, vns_call_key());")
  has(c, "#define VNS_STAGES_N 4")
end

function T.program_events_have_the_budget()
  local c = two({ events = true }):program({ max_events_per_sec = 100 })
  has(c, "#define VNS_STAGES_EVENTS 1")
  has(c, "#define VNS_STAGES_FLOW 1")
  has(c, "#define VNS_STAGES_HIST 0")     -- a details kit keeps no histograms unless asked
  has(c, "vns_budget_state")
  local c2 = two({ events = { flow = false }, histograms = true }):program({ max_events_per_sec = 100 })
  has(c2, "#define VNS_STAGES_FLOW 0")
  has(c2, "#define VNS_STAGES_HIST 1")
end

function T.stage_filters_need_their_own_maps()
  local addrs = {}
  for i = 1, 20 do addrs[i] = "10.0.0." .. i end
  local opts = { dst_ip = net.addrs(table.concat(addrs, ",")) }
  local f = filter.compile(opts)
  local mine = filter.compile(opts)
  local kit = stages.new { stages = {
    { name = "a", probe = "tracepoint:net:net_dev_queue" },
    { name = "b", probe = "tracepoint:net:net_dev_xmit", filter = mine } } }
  checkerr("give each its own cfg.map_prefix", kit.program, kit, opts, f)
  local ok = stages.new { stages = {
    { name = "a", probe = "tracepoint:net:net_dev_queue" },
    { name = "b", probe = "tracepoint:net:net_dev_xmit", filter = filter.compile(opts, { map_prefix = "b_set" }) } } }
  local c = ok:program(opts, f)
  has(c, "vns_set1")
  has(c, "b_set1")
end

function T.pairs_along_the_path()
  eq(two():pairs(), { { pair = 0, from = "queue", to = "xmit", total = true } })
  eq(three():pairs(), {
    { pair = 1, from = "queue", to = "start" }, { pair = 2, from = "start", to = "xmit" },
    { pair = 0, from = "queue", to = "xmit", total = true } })
end

function T.derived_counters()
  local c = { started = 100, completed = 90, restarted = 4, out_of_order = 1 }
  eq(stages.derive(c, 2, false), { started = 100, completed = 90, restarted = 4, out_of_order = 1, open = 2,
                                   evicted = 4, never_completed = 8 })
  eq(stages.derive(c, 2, true).never_completed, 10)   -- at exit the open ones never complete
  eq(stages.derive({ started = 5, completed = 5, restarted = 0, out_of_order = 0 }, 1, false).evicted, 0)
end

-- A program whose maps are tables of entries.
local function fake(hists, stats, counts, open)
  local maps = {
    vns_stages_hist = { drain = function() local e = hists; hists = {}; return e end },
    vns_stages_stats = { drain = function() local e = stats; stats = {}; return e end },
    vns_stages_counts = { lookup = function(_, i) return counts[i + 1] end },
    vns_stages_sessions = { count = function() return open end },
  }
  return { table = function(_, name) return assert(maps[name], name) end }
end

local function st(count, sum, min, max) return { count = count, sum = sum, min = min, max = max } end

function T.collect_per_pair_and_label()
  local kit = three()
  local run = { opts = { unit = "us" }, program = fake({
      { { label = "eth0", pair = 1, slot = 3 }, 5 }, { { label = "eth0", pair = 2, slot = 1 }, 5 },
      { { label = "eth0", pair = 0, slot = 4 }, 5 }, { { label = "eth1", pair = 0, slot = 2 }, 1 },
    }, {
      { { label = "eth0", pair = 0 }, { st(3, 30000, 8000, 12000), st(2, 20000, 9000, 11000) } },
    }, { { 4, 2 }, { 4, 2 }, { 0, 0 }, { 0, 1 } }, 0) }
  local d = kit:collect(run, false)
  eq(d.type, "interval")
  eq(#d.histograms, 4)
  local x = d.histograms[1]
  eq({ x.dev, x.from, x.to, x.total, x.count }, { "eth0", "queue", "start", nil, 5 })
  eq({ d.histograms[2].from, d.histograms[2].to }, { "start", "xmit" })
  local t = d.histograms[3]
  eq({ t.from, t.to, t.total, t.count, t.min, t.max, t.mean }, { "queue", "xmit", true, 5, 8, 12, 10 })
  eq({ d.histograms[4].dev, d.histograms[4].count }, { "eth1", 1 })
  eq(d.sessions, { started = 6, completed = 6, restarted = 0, out_of_order = 1, open = 0, evicted = 0,
                   never_completed = 0 })
  -- The next interval is empty; the totals keep the first.
  local d2 = kit:collect(run, false)
  eq(#d2.histograms, 0)
  local final = kit:collect(run, true)
  eq({ final.type, #final.histograms, final.histograms[3].count }, { "total", 4, 5 })
  local b = h.buffer()
  kit:render(run, final, b, true)
  local text = b:text()
  has(text, "\nTotal since start\n\ndev = eth0, queue -> start\n")
  has(text, "\ndev = eth0, queue -> xmit (total)\n")
  has(text, "\nsessions since start: 6 started, 6 completed, 0 restarted, 1 out of order, 0 evicted, "
            .. "0 open at exit, 0 never completed\n")
end

function T.render_two_stages_like_before()
  local kit = two({ by = "dev" })
  local run = { opts = { unit = "us" }, program = fake({ { { label = "eth0", pair = 0, slot = 1 }, 3 } }, {},
                                                      { { 3 }, { 3 }, { 0 }, { 0 } }, 0) }
  local b = h.buffer()
  kit:render(run, kit:collect(run, false), b, false)
  has(b:text(), "\ndev = eth0\n     usecs               : count     distribution\n")
  local none = { opts = {}, program = fake({}, {}, { { 0 }, { 0 }, { 0 }, { 0 } }, 0) }
  local b2 = h.buffer()
  two():render(none, two():collect(none, true), b2, true)
  has(b2:text(), "(no packets)")
end

function T.decode_an_event()
  local kit = three()
  local row = kit:decode(nil, {
    key = 0xffff1234, total_ns = 3000, ts = { 1000, 3000, 4000 }, timed = 2 | 4, pid = 9, comm = "nc", len = 44,
    dev = "eth0", family = 4, proto = 17, saddr = { 0x0100000a, 0, 0, 0 }, daddr = { 0x0200000a, 0, 0, 0 },
    sport = 5000, dport = 53,
  })
  eq({ row.pid, row.comm, row.len, row.dev, row.total_ns }, { 9, "nc", 44, "eth0", 3000 })
  eq(row.stages, { { name = "queue", at_ns = 0 }, { name = "start", at_ns = 2000 }, { name = "xmit", at_ns = 3000 } })
  eq(row.steps, { { from = "queue", to = "start", ns = 2000 }, { from = "start", to = "xmit", ns = 1000 } })
  eq({ row.proto, row.src, row.dst }, { "udp", "10.0.0.1:5000", "10.0.0.2:53" })
  -- A skipped stage: not hit, its pairs not timed.
  local r2 = kit:decode(nil, { key = 1, total_ns = 5, ts = { 10, 0, 15 }, timed = 0, pid = 0, comm = "", len = 0,
                               dev = "", family = 0 })
  eq(r2.stages[2].at_ns, nil)
  eq(#r2.steps, 0)
end

-- Ends, lists and keys of 0 (qdisc-latency, icmp-rtt).
local function with_ends()
  return stages.new {
    stages = {
      { name = "enqueue", probe = "tracepoint:qdisc:qdisc_enqueue" },
      { name = "dequeue", probe = "tracepoint:qdisc:qdisc_dequeue",
        list = { count = template.code("args->packets"), max = 4 } },
    },
    ends = { { name = "dropped", probe = "tracepoint:skb:kfree_skb" } },
    by = "dev",
  }
end

function T.ends_and_lists_in_the_program()
  local c = with_ends():program({})
  has(c, "BPF_PERCPU_ARRAY(vns_stages_counts, u64, 8);")  -- 5, dropped, dropped by stage (2)
  has(c, "/* end: dropped */\nTRACEPOINT_PROBE(skb, kfree_skb)\n{\n"
         .. "  struct sk_buff *skb = (struct sk_buff *)args->skbaddr;\n  u64 key = (u64)skb;\n"
         .. "  return vns_stages_stop(key, 5, 6);\n}")
  has(c, "  int count = args->packets;\n  if (count > 4)\n    vns_stages_add(VNS_STAGES_UNWALKED, count - 4);\n")
  has(c, "  for (int i = 0; i < 4; i++) {\n    if (i >= count || !skb)\n      break;\n    u64 key = (u64)skb;\n"
         .. "    vns_stage_1(args, skb, key);\n    vns_read(&skb, sizeof(skb), &skb->next);\n  }")
  checkerr("list is", stages.new, { stages = { { name = "a", probe = "kprobe:f" },
    { name = "b", probe = "kprobe:g", list = { count = "n", max = 4 } } } })
  checkerr("an end's name is a C identifier", stages.new, { stages = { { name = "a", probe = "kprobe:f" },
    { name = "b", probe = "kprobe:g" } }, ends = { { name = "x-y", probe = "kprobe:h" } } })
  checkerr("used by two stages", stages.new, { stages = { { name = "a", probe = "kprobe:f" },
    { name = "b", probe = "kprobe:g" } }, ends = { { name = "x", probe = "kprobe:g" } } })
end

function T.skip_zero_key()
  local c = stages.new { stages = {
    { name = "a", probe = "tracepoint:net:net_dev_queue", key = template.code("k(skb)"), skip_zero_key = true },
    { name = "b", probe = "tracepoint:net:net_dev_xmit", key = template.code("k(skb)"), skip_zero_key = true },
  } }:program({})
  has(c, "  u64 key = k(skb);\n  if (!key)\n    return 0;\n  return vns_stage_0(args, skb, key);\n")
end

function T.ended_sessions_are_not_evicted()
  local kit = with_ends()
  local run = { opts = { unit = "us" }, program = fake({}, {}, { { 10 }, { 6 }, { 1 }, { 0 }, { 2 }, { 3 } }, 0) }
  local d = kit:collect(run, true)
  eq(d.sessions, { started = 10, completed = 6, restarted = 1, out_of_order = 0, open = 0, evicted = 0,
                   never_completed = 1, dropped = 3, unwalked = 2 })
  local b = h.buffer()
  kit:render(run, d, b, true)
  has(b:text(), "sessions since start: 10 started, 6 completed, 3 dropped, 1 restarted, 0 out of order, 0 evicted, "
                .. "0 open at exit, 1 never completed (2 not walked in lists)\n")
end

-- With more than two stages, sessions ended by an end are also counted
-- by the stage they were last at.
function T.ends_by_stage()
  local kit = stages.new {
    stages = {
      { name = "a", probe = "tracepoint:net:net_dev_queue" },
      { name = "b", probe = "tracepoint:net:net_dev_start_xmit" },
      { name = "c", probe = "tracepoint:net:net_dev_xmit" },
    },
    ends = { { name = "dropped", probe = "tracepoint:skb:kfree_skb" } },
    same_head = true,
  }
  -- counters 0-4, dropped 5, reused 6, dropped by stage 7-9, reused by stage 10-12
  local counts = { { 9 }, { 4 }, { 0 }, { 0 }, { 0 }, { 3 }, { 1 }, { 2 }, { 1 }, { 0 }, { 0 }, { 1 }, { 0 } }
  local run = { opts = { unit = "us" }, program = fake({}, {}, counts, 1) }
  local d = kit:collect(run, true)
  eq({ d.sessions.dropped, d.sessions.reused, d.sessions.open, d.sessions.evicted, d.sessions.never_completed },
     { 3, 1, 1, 0, 1 })
  eq(d.sessions.lost, { { after = "a", dropped = 2, reused = 0 }, { after = "b", dropped = 1, reused = 1 } })
  local b = h.buffer()
  kit:render(run, d, b, true)
  has(b:text(), "  ended after b                1 dropped, 1 reused\n")
end

return T
