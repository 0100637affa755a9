-- ct-trace: how conntrack sees each packet of the flows that match
-- (give both ends, e.g. --filter 'host A and host B and port 80', for
-- both directions): the conntrack entry a lookup attached (ctinfo, status,
-- zone, mark, TCP state), OVS ct() results, and why conntrack called a
-- packet invalid, with the TCP window it was checked against. At exit,
-- the namespace's conntrack counters (/proc/net/stat/nf_conntrack).
--
-- Usage:
--   vnetscope ct-trace --host 10.0.0.1 --proto tcp --port 80
--   vnetscope ct-trace --invalid                        # only what conntrack refused
--   vnetscope ct-trace --variant tracepoint             # no kprobes: what packets carry at egress, netfilter drops
--
-- Sample output:
--   Tracing conntrack decisions... Hit Ctrl-C to end.
--   TIME             PROBE      DEV       VERDICT  CTINFO       STATE        STATUS                      ZONE  MARK  FLAGS  FLOW
--   12:00:01.123456  conntrack  veth0     ACCEPT   NEW          SYN_SENT     -                              0     0  S      tcp 10.0.0.1:40000 > 10.0.0.2:80
--
-- Requires: kprobes on nf_conntrack_in and the conntrack log functions
-- (the nf_conntrack module loaded), ovs_ct_execute for OVS; the
-- tracepoint variant needs net:net_dev_queue and skb:kfree_skb.
local budget = require "vns.budget"
local core = require "vns.core"
local ctxfilter = require "vns.ctxfilter"
local drops = require "vns.drops"
local events = require "vns.events"
local kernel = require "vns.kernel"
local net = require "vns.net"
local output = require "vns.output"
local ovslayout = require "vns.ovslayout"
local template = require "vns.template"
local tool = require "vns.tool"
local tracepoint = require "vns.tracepoint"

-- The ct() action's commit bit, read at ovs_ct_execute (vns/ovs_layout.h).

local function variant_of(opts)
  if opts.variant ~= "auto" then return opts.variant end
  return (kernel.is_target() or core.features().kprobe.ok) and "kprobe" or "tracepoint"
end

-- Where arguments are on this kernel: from its BTF, else by version
-- (nf_conntrack_in took (net, pf, hooknum, skb) before 4.20; the log
-- functions took the hook state from 5.16).
local function args_of(fn)
  if kernel.is_target() then return nil end
  local a = core.btf_func_args(fn)
  return type(a) == "table" and a or nil
end

local function since(a, b)
  local x, y = kernel.version()
  return x > a or (x == a and y >= b)
end

local function positions()
  local p = {}
  local cin = args_of("nf_conntrack_in")
  p.conntrack_in_skb = cin and (#cin == 2 and 1 or 4) or (since(4, 20) and 1 or 4)
  local ct, l4 = args_of("nf_ct_l4proto_log_invalid"), args_of("nf_l4proto_log_invalid")
  local hook_state = since(5, 16)
  if ct then hook_state = ct[3] == "const struct nf_hook_state *" end
  p.ct_fmt = hook_state and 4 or 3
  p.l4_fmt = (l4 and l4[2] == "const struct nf_hook_state *" or (not l4 and hook_state)) and 4 or 5
  return p
end

local function program(opts, f)
  local variant = variant_of(opts)
  local p = positions()
  local tps = template.code("/* kprobe variant: no tracepoint */")
  if variant == "tracepoint" then
    tps = tracepoint.code(tracepoint.probe("net", "net_dev_queue"), tracepoint.probe("skb", "kfree_skb"))
  end
  return template.render(template.read("ct-trace.c"), {
    LAYOUT_CHECKS = ovslayout.checks("ct_commit"),
    TRACEPOINTS = tps,
    BUDGET = budget.code(opts),
    FILTER_MAPS = f.decls,
    L3 = f.l3_flags,
    FILTER = f.expr,
    DEV_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev = "ev->dev" }).expr,
    EVENTS = events.code(opts, "events", 192),
    SUBMIT = events.submit(opts, "events", "ctx", "CT_EVENT"),
    VARIANT_KPROBE = template.bool(variant == "kprobe"),
    INVALID_ONLY = template.bool(opts.invalid or false),
    REASON_NETFILTER_DROP = template.int(drops.reason_code("NETFILTER_DROP") or 0),
    CT_LOG_FMT_ARG = template.int(p.ct_fmt),
    CT_LOG_NEXT_ARG = template.code(tostring(p.ct_fmt + 1)),
    L4_LOG_FMT_ARG = template.int(p.l4_fmt),
    L4_LOG_NEXT_ARG = template.code(tostring(p.l4_fmt + 1)),
    CONNTRACK_IN_SKB_ARG = template.code(tostring(p.conntrack_in_skb)),
  })
end

-- ---- attach: kprobes by hand, each optional but nf_conntrack_in ----------------

local KPROBES = {
  { fn = "nf_conntrack_in", entry = "conntrack_in_entry", ret = "conntrack_in_return", required = true },
  { fn = "ovs_ct_execute", entry = "ovs_ct_entry", ret = "ovs_ct_return" },
  { fn = "nf_ct_l4proto_log_invalid", entry = "ct_log_invalid" },
  { fn = "nf_l4proto_log_invalid", entry = "l4_log_invalid" },
}
for _, k in ipairs(KPROBES) do
  k.entry = "kprobe_by_script__" .. k.entry
  if k.ret then k.ret = "kprobe_by_script__" .. k.ret end
end

local function prepare(run)
  run.variant = variant_of(run.opts)
  run.stat_start = nil
  run.missing = {}
  if run.variant ~= "kprobe" then return end
  for _, k in ipairs(KPROBES) do
    local entry = run.program:load(k.entry, "kprobe")
    local attach = k.required and run.program.attach or run.program.try_attach
    local ok = attach(run.program, entry, "kprobe", k.fn)
    if ok and k.ret then ok = attach(run.program, run.program:load(k.ret, "kprobe"), "kprobe", k.fn, { ret = true }) end
    if not ok then run.missing[#run.missing + 1] = k.fn end
  end
  if #run.missing > 0 then
    io.stderr:write("ct-trace: not traced (function not in this kernel, or its module not loaded): ",
                    table.concat(run.missing, ", "), "\n")
  end
end

-- ---- the namespace's conntrack counters ---------------------------------------

local STAT_FIELDS = { "found", "new", "invalid", "ignore", "insert", "insert_failed", "drop", "early_drop" }

local function conntrack_stats()
  local f = io.open("/proc/net/stat/nf_conntrack", "r")
  if not f then return nil end
  local names, sums = nil, {}
  for line in f:lines() do
    local words = {}
    for w in line:gmatch("%S+") do words[#words + 1] = w end
    if not names then names = words else
      for i, n in ipairs(names) do
        if i > 1 then sums[n] = (sums[n] or 0) + (tonumber(words[i], 16) or 0) end  -- per CPU, hex
      end
    end
  end
  f:close()
  return sums
end

local function setup(run) run.stat_start = conntrack_stats() end

local function collect(run, final)
  if not final then return nil end
  local now = conntrack_stats()
  if not now or not run.stat_start then return { type = "conntrack", error = "no /proc/net/stat/nf_conntrack here" } end
  local d = { type = "conntrack" }
  for _, n in ipairs(STAT_FIELDS) do
    if now[n] then d[n] = now[n] - (run.stat_start[n] or 0) end
  end
  return d
end

local function render(_, data, out)
  if data.error then out:write("conntrack (this netns): ", data.error, "\n") return end
  local parts = {}
  for _, n in ipairs(STAT_FIELDS) do
    if data[n] then parts[#parts + 1] = n .. " " .. data[n] end
  end
  out:write("conntrack (this netns) since start: ", table.concat(parts, "  "), "\n")
end

-- ---- events ---------------------------------------------------------------------

local PROBES = { "egress", "drop", "conntrack", "invalid", "ovs-ct" }
-- ovs_ct_execute runs both OVS's ct() lookups and its ct(commit)s.
local OVS_COMMIT = "ovs-commit"
local CTINFO = { [0] = "ESTABLISHED", "RELATED", "NEW", "ESTABLISHED_REPLY", "RELATED_REPLY", [7] = "UNTRACKED" }
local TCP_STATES = { [0] = "NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK",
                     "TIME_WAIT", "CLOSE", "SYN_SENT2" }
local STATUS_BITS = { "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SRC_NAT", "DST_NAT", "SEQ_ADJUST",
                      "SRC_NAT_DONE", "DST_NAT_DONE", "DYING", "FIXED_TIMEOUT", "TEMPLATE", "UNTRACKED", "HELPER",
                      "OFFLOAD", "HW_OFFLOAD" }
local TCP_FLAGS = { "F", "S", "R", "P", ".", "U", "E", "C" }
-- nf_conntrack_in's and ovs_ct_execute's returns: NF_DROP 0, NF_ACCEPT 1;
-- ovs_ct_execute returns 0 or -errno.
local VERDICTS = { [0] = "DROP", [1] = "ACCEPT", [2] = "STOLEN", [3] = "QUEUE", [4] = "REPEAT" }

local function bits_text(v, names, sep)
  local parts = {}
  for i, name in ipairs(names) do
    if v & (1 << (i - 1)) ~= 0 then parts[#parts + 1] = name end
  end
  return #parts > 0 and table.concat(parts, sep) or "-"
end

local function probe_of(_, ev)
  local verdict
  if ev.probe == 3 then verdict = VERDICTS[ev.verdict] or tostring(ev.verdict)
  elseif ev.probe == 5 then verdict = ev.verdict == 0 and "OK" or ("ERR " .. ev.verdict)
  elseif ev.probe == 2 then verdict = "DROP" end
  local probe = ev.probe == 5 and ev.ovs_commit ~= 0 and OVS_COMMIT or PROBES[ev.probe] or tostring(ev.probe)
  return { probe = probe, verdict = verdict }
end

-- With no entry after a lookup, conntrack found the packet invalid.
local function ct_of(_, ev)
  if ev.has_ct == 0 then
    return { ctinfo = ev.probe == 1 and "NONE" or "INVALID", tracked = false }
  end
  local r = { tracked = true, ctinfo = CTINFO[ev.ctinfo] or tostring(ev.ctinfo), status = bits_text(ev.status, STATUS_BITS, ","),
              zone = ev.zone, mark = ev.mark, ct = string.format("0x%x", ev.ct) }
  if ev.proto == 6 then r.tcp_state = TCP_STATES[ev.tcp_state] or tostring(ev.tcp_state) end
  return r
end

local FLOW = { "saddr", "daddr", "sport", "dport", "family", "proto", "has_ports" }

local function flow_of(_, ev)
  local row = { flow = net.flow_text(ev) }
  net.flow_fields(ev, row)
  return row
end

local function tcp_of(_, ev)
  if ev.proto ~= 6 then return {} end
  return { tcp_flags = bits_text(ev.tcp_flags, TCP_FLAGS, ""), seq = ev.seq, ack = ev.ack, win = ev.win }
end

local function window_of(_, ev)
  if ev.has_window == 0 then return {} end
  local w = {}
  for i = 1, 2 do
    w[i] = { td_end = ev.td_end[i], td_maxend = ev.td_maxend[i], td_maxwin = ev.td_maxwin[i] }
  end
  return { window = { original = w[1], reply = w[2] },
           _window = string.format("orig end %d maxend %d maxwin %d, reply end %d maxend %d maxwin %d",
                                   w[1].td_end, w[1].td_maxend, w[1].td_maxwin, w[2].td_end, w[2].td_maxend, w[2].td_maxwin) }
end

local function reason_of(_, ev)
  if ev.reason == "" then return {} end
  return { reason = ev.reason:gsub("%s+$", "") }
end

local row = {
  record_bytes = 192,
  fields = { { "ts", "ts_ns", wall_time = true }, { "dev", omit_empty = true } },
  hooks = {
    { fields = { "probe", "verdict", "ovs_commit" }, decode = probe_of },
    { fields = { "has_ct", "ctinfo", "status", "zone", "mark", "ct", "proto", "tcp_state", "probe" }, decode = ct_of },
    { fields = FLOW, decode = flow_of },
    { fields = { "proto", "tcp_flags", "seq", "ack", "win" }, decode = tcp_of, cache = false },
    { fields = { "has_window", "td_end", "td_maxend", "td_maxwin" }, decode = window_of, cache = false },
    { fields = { "reason" }, decode = reason_of },
  },
  columns = { { "TIME", "ts", 15 }, { "PROBE", "probe", 9 }, { "DEV", "dev", 12 }, { "VERDICT", "verdict", 7 },
              { "CTINFO", "ctinfo", 17 }, { "STATE", "tcp_state", 11 }, { "STATUS", "status", 27 },
              { "ZONE", "zone", 5, right = true }, { "MARK", "mark", 5, right = true }, { "FLAGS", "tcp_flags", 6 },
              { "FLOW", "flow" } },
  lines = "_notes",
}

-- Under an invalid event: why, and the window it was checked against.
table.insert(row.hooks, { fields = { "reason", "has_window", "td_end", "td_maxend", "td_maxwin", "seq", "ack", "win" },
  cache = false,
  decode = function(run, ev)
    local notes = {}
    local r = reason_of(run, ev).reason
    if r then notes[#notes + 1] = "reason: " .. r end
    local w = window_of(run, ev)._window
    if w then notes[#notes + 1] = string.format("seq %d ack %d win %d; %s", ev.seq, ev.ack, ev.win, w) end
    return #notes > 0 and { _notes = notes } or {}
  end })

local function header(run, out)
  out:write(string.format("variant %s%s\n", run.variant, run.opts.invalid and ", invalid packets only" or ""))
  events.header(row, out)
end

return tool.details {
  name = "ct-trace",
  aliases = { "trace_conntrack", "trace-ovs-ct-invalid", "trace-ovs-ct-invalid.bt" },
  about = "Conntrack's view of each packet: ct state, status, zone, mark, OVS ct(), why invalid",
  tracing = "Tracing conntrack decisions... Hit Ctrl-C to end.",
  examples = {
    "vnetscope ct-trace --host 10.0.0.1 --proto tcp --port 80",
    "vnetscope ct-trace --filter 'host 10.0.0.1 and host 10.0.0.2' --invalid",
    "vnetscope ct-trace --variant tracepoint --dev eth0 --format json",
  },
  requires = "kprobes on nf_conntrack_in and the conntrack log functions (ovs_ct_execute for OVS); "
          .. "--variant tracepoint: net:net_dev_queue and skb:kfree_skb",
  probes = { "kprobe:nf_conntrack_in", "kprobe:nf_ct_l4proto_log_invalid", "kprobe:nf_l4proto_log_invalid",
             "kprobe:ovs_ct_execute", "tracepoint:net:net_dev_queue", "tracepoint:skb:kfree_skb" },
  options = {
    net.options({ "dev" }),
    { name = "invalid", type = "flag", help = "only packets conntrack found invalid (and why), or dropped" },
    { name = "variant", type = "choice", values = { "auto", "kprobe", "tracepoint" }, default = "auto",
      help = "kprobe: conntrack's lookups and reasons; tracepoint: the entry packets carry at egress, netfilter drops" },
  },
  check_variants = { { "--variant", "tracepoint" }, { "--variant", "kprobe", "--invalid", "--host", "10.0.0.1" } },
  filter = true,
  program = program,
  prepare = prepare,
  setup = setup,
  collect = collect,
  render = render,
  events = "events",
  row = row,
  header = header,
}
