-- skb-trace: follow the packets that match through a set of kernel
-- functions and tracepoints; one line per hit, each packet's hits
-- numbered as a path: time, CPU, probe point, device, the skb's length,
-- GSO size/segments/type, checksum state, mark, queue, and its flow
-- (with the inner flow of VXLAN and Geneve packets).
--
-- Usage:
--   vnetscope skb-trace --proto udp --dst-port 9999                 # xmit and receive tracepoints
--   vnetscope skb-trace --group xmit,qdisc,gso --dev eth0 --track
--   vnetscope skb-trace --func tun_net_xmit,sch_direct_xmit,net:net_dev_queue --host 10.0.0.2
--   vnetscope skb-trace --group tun,receive --gso-anomaly
--
-- Sample output:
--   Tracing packets through 5 probe points (0 kprobes attached in 0.00 s)... Hit Ctrl-C to end.
--   TIME            CPU  PATH  SEQ  PROBE                     DEV          LEN  GSO             CSUM  MARK  Q  FL  FLOW
--   12:00:01.123456   1     1    1  net_dev_queue             veth0         42  -               PART     0  0  -   udp 10.0.0.1:40000 > 10.0.0.2:9999
--
-- Requires: the net tracepoints (4.19+); kprobe groups need kprobes.
local budget = require "vns.budget"
local core = require "vns.core"
local ctxfilter = require "vns.ctxfilter"
local errors = require "vns.errors"
local events = require "vns.events"
local filter = require "vns.filter"
local kernel = require "vns.kernel"
local net = require "vns.net"
local output = require "vns.output"
local skbfuncs = require "vns.skbfuncs"
local template = require "vns.template"
local tool = require "vns.tool"
local tracepoint = require "vns.tracepoint"

local DEFAULT_GROUPS = { "xmit", "receive" }
local ENDS = { kfree_skb = true, consume_skb = true }

-- The probe points of a run, resolved once per opts (program() and
-- setup() both need them).
local resolved = setmetatable({}, { __mode = "k" })

local function groups_of(opts)
  local list = {}
  for _, g in ipairs(opts.group or ((opts.func and {}) or DEFAULT_GROUPS)) do list[#list + 1] = g end
  list[#list + 1] = "free"   -- paths end there
  return list
end

local function probe_set(opts)
  if not resolved[opts] then
    local kprobes_ok = kernel.is_target() or core.features().kprobe.ok
    resolved[opts] = skbfuncs.resolve(groups_of(opts), opts.func, kprobes_ok)
  end
  return resolved[opts]
end

local function entries(set, groups)
  local out, defs = {}, {}
  for _, tp in ipairs(set.tracepoints) do
    local p = tracepoint.probe(tp.cat, tp.name)
    defs[#defs + 1] = p
    local known = tracepoint.known[tp.cat .. ":" .. tp.name]
    local arg = (p.raw or known) and "skb" or "skbaddr"
    out[#out + 1] = string.format("VNS_TP(%s, %s)\n{\n  return hit(VNS_CTX(%s), (struct sk_buff *)VNS_ARG(%s, %s), %d, 0, %d);\n}",
                                  tp.cat, tp.name, tp.name, tp.name, arg, tp.id, ENDS[tp.name] and 1 or 0)
  end
  -- One program per argument position serves every function with its
  -- skb there: loaded once, attached to each (setup).
  for _, n in ipairs(skbfuncs.positions(set, groups)) do
    out[#out + 1] = string.format("int skbtrace_kprobe_arg%d(struct pt_regs *ctx)\n{\n"
      .. "  return hit(ctx, (struct sk_buff *)PT_REGS_PARM%d(ctx), 0, PT_REGS_IP(ctx), 0);\n}", n, n)
  end
  return template.code(table.concat(out, "\n\n")), tracepoint.code(table.unpack(defs))
end

local function program(opts, f)
  local set = probe_set(opts)
  if #set.tracepoints + #set.kprobes == 0 then errors.fail("skb-trace: no probe point of the set exists on this kernel") end
  local inner = filter.compile(opts, { flow = "fi", map_prefix = "vns_inner_set" })
  local code, tps = entries(set, groups_of(opts))
  return template.render(template.read("skb-trace.c"), {
    TRACEPOINTS = tps,
    BUDGET = budget.code(opts),
    TRACK = template.bool(opts.track),
    GSO_ANOMALY = template.bool(opts.gso_anomaly),
    FILTER_MAPS = f.decls,
    INNER_FILTER_MAPS = inner.decls,
    FILTER = f.expr,
    INNER_FILTER = f.needs_l3 and inner.expr or template.code("0"),
    DEV_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev = "ev.dev" }).expr,
    ENTRIES = code,
    EVENTS = events.code(opts, "events", 192),
    SUBMIT = events.submit(opts, "events", "ctx", "ev"),
  })
end

-- ---- attach: every kprobe with the one program of its skb position -------------
-- Before the tracepoints and the "Tracing" line (prepare, not setup): the
-- report intervals then start once everything is attached.

local function attach_kprobes(run)
  local set = probe_set(run.opts)
  run.probe_names, run.kprobe_at = {}, {}
  for _, tp in ipairs(set.tracepoints) do run.probe_names[tp.id] = tp.label end
  local syms = #set.kprobes > 0 and skbfuncs.kernel_symbols() or {}
  local t0 = core.monotime()
  for _, k in ipairs(set.kprobes) do
    local prog = run.program:load("skbtrace_kprobe_arg" .. k.arg, "kprobe")
    run.program:attach(prog, "kprobe", k.sym)
    if syms[k.sym] then run.kprobe_at[syms[k.sym]] = k.label end
  end
  run.attach_s = (core.monotime() - t0) / 1e9
  run.nkprobes = #set.kprobes
  run.npoints = #set.tracepoints + #set.kprobes
  if #set.no_kprobes > 0 then
    io.stderr:write(string.format("skb-trace: this kernel has no kprobes: the groups' %d functions are not traced (%s)\n",
                                  #set.no_kprobes, table.concat(set.no_kprobes, ", ")))
  end
  if #set.skipped > 0 then
    io.stderr:write(string.format("skb-trace: %d probe points not on this kernel, skipped: %s\n",
                                  #set.skipped, table.concat(set.skipped, ", ")))
  end
  if run.opts.format == "json" then
    output.json_line(io.stdout, { type = "attach", probes = run.npoints, kprobes = run.nkprobes,
                                  attach_s = run.attach_s, skipped = set.skipped, no_kprobes = set.no_kprobes })
  end
end

-- ---- events ---------------------------------------------------------------------

local CSUM = { [0] = "NONE", "UNNEC", "COMPLETE", "PARTIAL" }
local GSO_BITS = { "tcpv4", "dodgy", "tcp_ecn", "tcp_fixedid", "tcpv6", "fcoe", "gre", "gre_csum", "ipxip4",
                   "ipxip6", "udp_tunnel", "udp_tunnel_csum", "partial", "tunnel_remcsum", "sctp", "esp",
                   "udp", "udp_l4", "fraglist" }

local gso_names = {}
local function gso_type_text(t)
  if t == 0 then return "0" end
  if not gso_names[t] then
    local parts = {}
    for i, name in ipairs(GSO_BITS) do
      if t & (1 << (i - 1)) ~= 0 then parts[#parts + 1] = name end
    end
    if t >> #GSO_BITS ~= 0 then parts[#parts + 1] = string.format("0x%x", t >> #GSO_BITS << #GSO_BITS) end
    gso_names[t] = table.concat(parts, "|")
  end
  return gso_names[t]
end

-- The kprobe a hit came from: its address is the function's (+1 on x86,
-- where the saved IP is past the breakpoint).
local function kprobe_name(run, ip)
  return run.kprobe_at[ip - 1] or run.kprobe_at[ip] or string.format("0x%x", ip)
end

local function flow_of(ev, p)
  return { saddr = ev[p .. "saddr"], daddr = ev[p .. "daddr"], sport = ev[p .. "sport"], dport = ev[p .. "dport"],
           ethertype = ev[p .. "ethertype"], family = ev[p .. "family"], proto = ev[p .. "proto"],
           has_ports = ev[p .. "has_ports"], arp_op = p == "" and ev.arp_op or 0 }
end

-- What is genuinely this tool's, each from the few event fields it reads
-- (the engine caches the results by those fields' bytes); the rest is
-- copied by C (docs/events.md).
local FLOW = { "saddr", "daddr", "sport", "dport", "ethertype", "family", "proto", "has_ports", "arp_op", "tunnel",
               "i_saddr", "i_daddr", "i_sport", "i_dport", "i_ethertype", "i_family", "i_proto", "i_has_ports" }

-- Paths numbered 1, 2, ... in the order this run first saw them.
local function path_of(run, ev)
  if ev.path == 0 then return {} end
  run.paths = run.paths or { n = 0 }
  if not run.paths[ev.path] then
    run.paths.n = run.paths.n + 1
    run.paths[ev.path] = run.paths.n
  end
  return { path = run.paths[ev.path] }
end

local function probe_of(run, ev)
  return { probe = ev.probe ~= 0 and run.probe_names[ev.probe] or kprobe_name(run, ev.ip),
           kind = ev.probe ~= 0 and "tracepoint" or "kprobe" }
end

local function gso_of(_, ev)
  local t = gso_type_text(ev.gso_type)
  return { gso_type = t, _gso = (ev.gso_size == 0 and t == "0") and "-" or string.format("%d/%d/%s", ev.gso_size, ev.gso_segs, t) }
end

local function skb_state_of(_, ev)
  local flags = (ev.tracked ~= 0 and "T" or "") .. (ev.anomaly ~= 0 and "A" or "")
  return { csum = CSUM[ev.ip_summed], tracked = ev.tracked ~= 0, anomaly = ev.anomaly ~= 0,
           _flags = flags ~= "" and flags or "-" }
end

local function flow_row(_, ev)
  local row, outer = {}, flow_of(ev, "")
  row.flow = net.flow_text(outer)
  net.flow_fields(outer, row)
  row._flow = row.flow
  if ev.tunnel ~= 0 then
    local inner = flow_of(ev, "i_")
    row.tunnel = ev.tunnel == 1 and "vxlan" or "geneve"
    row.inner_flow = net.flow_text(inner)
    row.inner = {}
    net.flow_fields(inner, row.inner)
    row._flow = row.flow .. " | " .. row.tunnel .. " " .. row.inner_flow
  end
  return row
end

local row = {
  record_bytes = 192,
  fields = { { "ts", "ts_ns", wall_time = true }, "cpu", "seq", { "dev", omit_empty = true }, "len", "gso_size",
             "gso_segs", "mark", { "queue", "queue_mapping" }, { "skb", hex = true } },
  hooks = {
    { fields = { "path" }, decode = path_of },
    { fields = { "probe", "ip" }, decode = probe_of },
    { fields = { "gso_size", "gso_segs", "gso_type" }, decode = gso_of },
    { fields = { "ip_summed", "tracked", "anomaly" }, decode = skb_state_of },
    { fields = FLOW, decode = flow_row },
  },
  columns = { { "TIME", "ts", 15 }, { "CPU", "cpu", 4, right = true }, { "PATH", "path", 5, right = true },
              { "SEQ", "seq", 4, right = true, gap = 2 }, { "PROBE", "probe", 25 }, { "DEV", "dev", 12 },
              { "LEN", "len", 6, right = true, gap = 2 }, { "GSO SIZE/SEGS/TYPE", "_gso", 15 }, { "CSUM", "csum", 8 },
              { "MARK", "mark", 5, right = true }, { "Q", "queue", 2, right = true, gap = 2 },
              { "FL", "_flags", 2, gap = 2 }, { "FLOW", "_flow" } },
}

-- One event as a Lua table, the way the engine writes it (tests).
local function decode(run, ev)
  local r = { ts = events.wall_time(ev.ts_ns), cpu = ev.cpu, seq = ev.seq, dev = ev.dev ~= "" and ev.dev or nil,
              len = ev.len, gso_size = ev.gso_size, gso_segs = ev.gso_segs, mark = ev.mark, queue = ev.queue_mapping,
              skb = string.format("0x%x", ev.skb) }
  for _, h in ipairs(row.hooks) do
    for k, v in pairs(h.decode(run, ev)) do
      if not k:match("^_") then r[k] = v end
    end
  end
  return r
end

local function header(run, out)
  out:write(string.format("%d probe points, %d kprobes attached in %.2f s\n", run.npoints, run.nkprobes, run.attach_s))
  events.header(row, out)
end

return tool.details {
  name = "skb-trace",
  aliases = { "tun-abnormal-gso-type", "trace-qdisc-dequeue", "trace_dev_queue_xmit", "trace_tc_qdisc",
              "trace_offloading_segment", "trace_vlanvm_udp_workload", "vpc-vm-udp-datapath",
              "trace-abnormal-arp" },
  about = "Packets through kernel functions and tracepoints, one line per hit",
  tracing = "Tracing packets through kernel functions and tracepoints... Hit Ctrl-C to end.",
  examples = {
    "vnetscope skb-trace --proto udp --dst-port 9999",
    "vnetscope skb-trace --group xmit,qdisc,gso --dev eth0 --track",
    "vnetscope skb-trace --func tun_net_xmit,sch_direct_xmit,net:net_dev_queue --host 10.0.0.2",
    "vnetscope skb-trace --group tun,receive --gso-anomaly",
    "vnetscope skb-trace --filter arp --group xmit,receive --format json",
  },
  requires = "the net tracepoints (4.19+); the kprobe groups need kprobes (headers or BTF)",
  probes = { "tracepoint:net:net_dev_queue", "tracepoint:net:net_dev_start_xmit", "tracepoint:net:netif_receive_skb",
             "tracepoint:skb:kfree_skb", "tracepoint:skb:consume_skb" },
  options = {
    skbfuncs.options(),
    net.options({ "dev" }),
    { name = "track", type = "flag", help = "follow a matched skb to its end even where the filter no longer matches" },
    { name = "gso-anomaly", type = "flag", help = "only skbs whose GSO type does not fit them (gso_size set, type 0 or another protocol's)" },
  },
  filter = { arp = true },
  check_variants = { { "--track" }, { "--group", "qdisc,gso,tunnel,ovs,tun", "--gso-anomaly" },
                     { "--func", "tun_net_xmit,net:net_dev_queue", "--track", "--dev", "eth0" } },
  program = program,
  prepare = attach_kprobes,
  events = "events",
  row = row,
  decode = decode,
  header = header,
}
