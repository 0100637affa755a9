-- icmp-rtt: for pings between this host and a peer, each request/reply
-- pair's time in each stage of this host's stack, on the way out and
-- back, matched by ICMP id and sequence (IPv4 and IPv6); one line per
-- pair at or above --threshold, and every interval a log2 histogram per
-- stage pair and end to end.
--
-- Usage:
--   vnetscope icmp-rtt --dst-ip 10.0.0.2                    # this host pings 10.0.0.2
--   vnetscope icmp-rtt --direction rx --src-ip 10.0.0.2     # 10.0.0.2 pings this host
--   vnetscope icmp-rtt --dev eth0 --threshold 1ms --format json
--
-- Stages (tracepoints; 4.19 has them all):
--   tx  req_queue   net:net_dev_queue            the request enters the device (--dev)
--       req_xmit    net:net_dev_start_xmit       handed to its driver
--       rep_recv    net:netif_receive_skb        the reply enters the stack
--       rep_sock    skb:skb_copy_datagram_iovec  copied to the pinging socket
--   rx  req_recv    net:netif_receive_skb        the request enters the stack (--dev)
--       rep_queue   net:net_dev_queue            the kernel's reply enters the device
--       rep_xmit    net:net_dev_start_xmit       handed to its driver
-- The flow options select the request (its source and destination);
-- --dev is the device the request passes on this host. --path ovs adds
-- the OVS datapath (kprobes) between an internal port (--dev) and the
-- bridge's port toward the peer (--phy-dev): docs/tools/icmp-rtt.md.
--
-- Sample output:
--   TIME      SEQ  ID     PEER          DEV       TOTAL(us)  req_queue>req_xmit  req_xmit>rep_recv  rep_recv>rep_sock
--   12:00:01    1  4711   10.231.1.2    veth0          61.2                 1.1               52.0                8.1
local ctxfilter = require "vns.ctxfilter"
local errors = require "vns.errors"
local hist = require "vns.hist"
local net = require "vns.net"
local output = require "vns.output"
local stages = require "vns.stages"
local template = require "vns.template"
local tool = require "vns.tool"

local REQUEST, REPLY = template.code("icmp_rtt_key(skb, ICMP_RTT_REQUEST)"), template.code("icmp_rtt_key(skb, ICMP_RTT_REPLY)")

local function stage(name, probe, key, skb, cond)
  return { name = name, probe = probe, key = key, skip_zero_key = true, skb = skb, cond = cond }
end

-- The stack path: tracepoints only.
local STACK = {
  tx = {
    stage("req_queue", "tracepoint:net:net_dev_queue", REQUEST),
    stage("req_xmit", "tracepoint:net:net_dev_start_xmit", REQUEST),
    stage("rep_recv", "tracepoint:net:netif_receive_skb", REPLY),
    stage("rep_sock", "tracepoint:skb:skb_copy_datagram_iovec", REPLY),
  },
  rx = {
    stage("req_recv", "tracepoint:net:netif_receive_skb", REQUEST),
    stage("rep_queue", "tracepoint:net:net_dev_queue", REPLY),
    stage("rep_xmit", "tracepoint:net:net_dev_start_xmit", REPLY),
  },
}

-- The OVS path: this host's address is on an OVS internal port (--dev),
-- the peer behind another port of the bridge (--phy-dev). The packets
-- pass net_dev_queue, netif_receive_skb... once on each device: each
-- such stage is held to its device (cond), so a hit on the other is no
-- hit (not a restart or a repeat). Inside OVS, kprobes: a packet enters
-- at ovs_vport_receive (vport, skb), is looked up in
-- ovs_dp_process_packet (skb, key) and leaves at ovs_vport_send (vport,
-- skb); the request and the reply each get two of those three, so that
-- no probe serves two stages.
local function ovs_path(direction, opts)
  local on_int = ctxfilter.compile({ dev = opts.dev }, { dev_skb = "skb" }).expr
  local on_phy = ctxfilter.compile({ dev = opts.phy_dev }, { dev_skb = "skb" }).expr
  if direction == "tx" then
    return {
      stage("req_queue", "tracepoint:net:net_dev_queue", REQUEST, nil, on_int),
      stage("req_ovs", "kprobe:ovs_dp_process_packet", REQUEST, 1),
      stage("req_out", "kprobe:ovs_vport_send", REQUEST, 2),
      stage("req_xmit", "tracepoint:net:net_dev_start_xmit", REQUEST, nil, on_phy),
      stage("rep_recv", "tracepoint:net:netif_receive_skb", REPLY, nil, on_phy),
      stage("rep_ovs", "kprobe:ovs_vport_receive", REPLY, 2),
      stage("rep_int", "tracepoint:net:netif_rx", REPLY, nil, on_int),
      stage("rep_sock", "tracepoint:skb:skb_copy_datagram_iovec", REPLY),
    }
  end
  return {
    stage("req_recv", "tracepoint:net:netif_receive_skb", REQUEST, nil, on_phy),
    stage("req_ovs", "kprobe:ovs_dp_process_packet", REQUEST, 1),
    stage("req_int", "tracepoint:net:netif_rx", REQUEST, nil, on_int),
    stage("rep_queue", "tracepoint:net:net_dev_queue", REPLY, nil, on_int),
    stage("rep_ovs", "kprobe:ovs_vport_receive", REPLY, 2),
    stage("rep_out", "kprobe:ovs_vport_send", REPLY, 2),
    stage("rep_xmit", "tracepoint:net:net_dev_start_xmit", REPLY, nil, on_phy),
  }
end

local kits = {}
local function kit(opts)
  local id = opts.direction .. "/" .. opts.path
  if not kits[id] then
    local path = STACK[opts.direction]
    if opts.phy_dev and opts.path ~= "ovs" then errors.usage("option --phy-dev needs --path ovs") end
    if opts.path == "ovs" then
      if not opts.dev or not opts.phy_dev then
        errors.usage("option --path ovs needs --dev (the OVS internal port with this host's address) and --phy-dev (the bridge's port toward the peer)")
      end
      path = ovs_path(opts.direction, opts)
    end
    kits[id] = stages.new { stages = path, by = "dev", events = true, histograms = true }
  end
  return kits[id]
end

-- On the OVS path each stage is held to its device by its cond; the
-- kit's --dev (at the first stage) would hold the rx path's first stage,
-- on the peer's port, to the internal port.
local function program(opts, f)
  local kit_opts = opts
  if opts.path == "ovs" then
    kit_opts = setmetatable({ dev = false }, { __index = opts })
  end
  return template.read("icmp-rtt.c") .. kit(opts):program(kit_opts, f)
end

-- The stage pairs shown, once per run.
local function columns(run)
  if not run.pair_columns then
    run.pair_columns = {}
    for _, p in ipairs(kit(run.opts):pairs()) do
      if not p.total then run.pair_columns[#run.pair_columns + 1] = p end
    end
  end
  return run.pair_columns
end

-- On the fast path (docs/events.md): the device copied by C; the rest
-- from the kit's event by hooks. The key's low 32 bits are the echo id
-- and sequence as on the wire.
local function echo_of(run, ev)
  local id_seq = ev.key & 0xffffffff
  return { direction = run.opts.direction, id = net.wire_port(id_seq & 0xffff), seq = net.wire_port(id_seq >> 16) }
end

-- The stage times (different in every pair: not cached); for text the
-- total and one cell per stage pair, in the header's widths.
local function times_of(run, ev)
  local e = kit(run.opts):decode(run, { ts = ev.ts, timed = ev.timed, total_ns = ev.total_ns, family = 0 })
  local row = { time = output.timestamp(), total_us = ev.total_ns / 1000, steps = output.array(), stages = {} }
  local by_pair = {}
  for _, st in ipairs(e.steps) do
    row.steps[#row.steps + 1] = { from = st.from, to = st.to, us = st.ns / 1000 }
    by_pair[st.from .. ">" .. st.to] = string.format("%.1f", st.ns / 1000)
  end
  for _, st in ipairs(e.stages) do row.stages[st.name] = st.at_ns and st.at_ns / 1000 end
  local cells = {}
  for i, p in ipairs(columns(run)) do cells[i] = string.format("%20s", by_pair[p.from .. ">" .. p.to] or "-") end
  row._total, row._steps = string.format("%.1f", row.total_us), table.concat(cells, "  ")
  return row
end

local function peer_of(run, ev)
  local f = stages.flow_row(ev)
  return { peer = run.opts.direction == "tx" and f.src or f.dst }
end

local row = {
  record_bytes = stages.record_bytes(stages.MAX_STAGES),  -- the OVS path's; the stack path's are smaller
  fields = { "dev" },
  hooks = {
    { fields = { "key" }, decode = echo_of },
    { fields = { "ts", "timed", "total_ns" }, cache = false, decode = times_of },
    { fields = stages.FLOW_FIELDS, decode = peer_of },
  },
  columns = { { "TIME", "time", 8, gap = 2 }, { "SEQ", "seq", 5, right = true, gap = 2 }, { "ID", "id", 5, gap = 2 },
              { "PEER", "peer", 24 }, { "DEV", "dev", 15 }, { "TOTAL(us)", "_total", 10, right = true, gap = 2 },
              { "STAGE PAIRS(us)", "_steps" } },
}

-- One event as a Lua table, the way the engine writes it (tests).
local function decode(run, ev)
  local r = { dev = ev.dev }
  for _, h in ipairs(row.hooks) do
    for k, v in pairs(h.decode(run, ev)) do
      if not k:match("^_") then r[k] = v end
    end
  end
  return r
end

-- The stage pairs' columns depend on the path: the tool writes its header.
local function header(run, out)
  out:write(string.format("%-8s  %5s  %-5s  %-24s %-15s %10s", "TIME", "SEQ", "ID", "PEER", "DEV", "TOTAL(us)"))
  for _, p in ipairs(columns(run)) do out:write(string.format("  %20s", p.from .. ">" .. p.to)) end
  out:write("\n")
end

return tool.details {
  name = "icmp-rtt",
  aliases = { "system_network_icmp_rtt", "kernel_icmp_rtt" },
  about = "ICMP echo request/reply pairs: time in each stage of this host, out and back",
  tracing = "Tracing ICMP echo request/reply pairs, each stage of this host... Hit Ctrl-C to end.",
  examples = {
    "vnetscope icmp-rtt --dst-ip 10.0.0.2",
    "vnetscope icmp-rtt --direction rx --src-ip 10.0.0.2 --dev eth0",
    "vnetscope icmp-rtt --dst-ip fd00::2 --threshold 1ms --format json",
    "vnetscope icmp-rtt --path ovs --dev br-int --phy-dev eth0 --dst-ip 10.0.0.2",
  },
  requires = "tracepoints net:net_dev_queue, net:net_dev_start_xmit, net:netif_receive_skb, skb:skb_copy_datagram_iovec",
  probes = { "tracepoint:net:net_dev_queue", "tracepoint:net:net_dev_start_xmit", "tracepoint:net:netif_receive_skb",
             "tracepoint:skb:skb_copy_datagram_iovec", "tracepoint:net:netif_rx", "kprobe:ovs_dp_process_packet",
             "kprobe:ovs_vport_receive", "kprobe:ovs_vport_send" },
  options = {
    net.options({ "dev", "threshold" }),
    hist.unit_option("us"),
    { name = "direction", type = "choice", values = { "tx", "rx" }, default = "tx",
      help = "tx: this host sends the requests (pings the peer); rx: the peer pings this host" },
    { name = "path", type = "choice", values = { "stack", "ovs" }, default = "stack",
      help = "stack: tracepoints of this host's stack; ovs: through an OVS bridge (kprobes; --dev, --phy-dev)" },
    { name = "phy-dev", type = "ifname", metavar = "NAME", help = "--path ovs: the bridge's port toward the peer" },
  },
  check_variants = { { "--direction", "rx" }, { "--dst-ip", "10.0.0.2,fd00::2", "--dev", "eth0", "--threshold", "1ms" },
                     { "--path", "ovs", "--dev", "br0", "--phy-dev", "eth0" },
                     { "--path", "ovs", "--direction", "rx", "--dev", "br0", "--phy-dev", "eth0" } },
  filter = { names = { "src-ip", "dst-ip", "host" } },
  program = program,
  collect = function(run, final) return kit(run.opts):collect(run, final) end,
  render = function(run, data, out, final) kit(run.opts):render(run, data, out, final) end,
  events = stages.EVENTS,
  row = row,
  decode = decode,
  header = header,
}
