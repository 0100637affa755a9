-- drop-details: one line per dropped packet: when, on which CPU and
-- device, in which task, which flow, why and where in the kernel.
--
-- Usage:
--   vnetscope drop-details                                 # every drop, 1000/s at most
--   vnetscope drop-details --dst-ip 10.0.0.2 --proto udp --stack
--   vnetscope drop-details --dev eth0 --format json
--
-- Sample output:
--   Tracing packet drops (skb:kfree_skb), one line each... Hit Ctrl-C to end.
--   TIME             CPU  PID    COMM          DEV          REASON          LOCATION                 LEN  FLOW
--   12:00:01.123456    1  4242   bash          veth1        NO_SOCKET       __udp4_lib_rcv+0x6ed      30  udp 10.0.0.1:40000 > 10.0.0.2:9999
--
-- Requires: the skb:kfree_skb tracepoint; reasons need Linux 5.17+.
local ctxfilter = require "vns.ctxfilter"
local budget = require "vns.budget"
local drops = require "vns.drops"
local events = require "vns.events"
local net = require "vns.net"
local template = require "vns.template"
local tool = require "vns.tool"
local tracepoint = require "vns.tracepoint"

local function program(opts, f)
  return template.render(template.read("drop-details.c"), {
    BUDGET = budget.code(opts),
    FILTER_MAPS = f.decls,
    L3 = f.l3_flags,
    FILTER = f.expr,
    DEV_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev = "ev.dev" }).expr,
    TRACEPOINTS = tracepoint.probe("skb", "kfree_skb").code,
    EVENTS = events.code(opts, "events", 128),
    SUBMIT = events.submit(opts, "events", "ctx", "ev"),
    WITH_STACK = template.bool(opts.stack or false),
  })
end

local function prepare(run)
  run.reason_names = drops.reason_names()
  if run.opts.stack then run.stacks = run.program:table("stacks") end
end

-- What is genuinely this tool's: names and derived fields, each from the
-- few event fields it reads (the engine caches them by those fields, so
-- a flood of one flow runs each hook once); the rest is copied by C.
local FLOW = { "saddr", "daddr", "sport", "dport", "family", "proto", "icmp_type", "icmp_code",
               "nvlan", "vlan", "has_ports", "ethertype", "arp_op" }

local function flow_of(_, ev)
  local row = { flow = net.flow_text(ev), vlan = ev.nvlan > 0 and ev.vlan or nil }
  if not net.flow_fields(ev, row) then row.ethertype = net.wire_port(ev.ethertype) end
  return row
end

local function reason_of(run, ev)
  local reason = drops.reason_name(run.reason_names, ev.reason)
  return { reason = reason, reason_code = reason and ev.reason or nil }
end

local function location_of(_, ev) return { location = drops.location(ev.location) } end
local function stack_of(run, ev) return { stack = drops.stack(run.stacks, ev.stack_id) } end

local row = {
  record_bytes = 128,
  fields = { { "ts", "ts_ns", wall_time = true }, "cpu", "pid", "comm", { "dev", omit_empty = true }, "len" },
  hooks = {
    { fields = { "reason" }, decode = reason_of },
    { fields = { "location" }, decode = location_of },
    { fields = FLOW, decode = flow_of },
    { fields = { "stack_id" }, decode = stack_of },
  },
  columns = { { "TIME", "ts", 15 }, { "CPU", "cpu", 4, right = true, gap = 2 }, { "PID", "pid", 6 },
              { "COMM", "comm", 13 }, { "DEV", "dev", 12 }, { "REASON", "reason", 15 },
              { "LOCATION", "location", 24 }, { "LEN", "len", 5, right = true, gap = 2 }, { "FLOW", "flow" } },
  lines = "stack",
}

-- One event as a Lua table, the way the engine sees it (tests, and
-- anyone reading this tool).
local function decode(run, ev)
  local r = { ts = events.wall_time(ev.ts_ns), cpu = ev.cpu, pid = ev.pid, comm = ev.comm,
              dev = ev.dev ~= "" and ev.dev or nil, len = ev.len }
  for _, h in ipairs(row.hooks) do
    for k, v in pairs(h.decode(run, ev)) do r[k] = v end
  end
  return r
end

local function header(_, out)
  drops.note_no_reason(out)
  events.header(row, out)
end

return tool.details {
  name = "drop-details",
  aliases = { "eth_drop" },
  about = "Packet drops (skb:kfree_skb), one line each",
  examples = {
    "vnetscope drop-details --dst-ip 10.0.0.2 --proto udp --stack",
    "vnetscope drop-details --dev eth0 --format json",
    "vnetscope drop-details --filter 'tcp and not port 22' --max-events-per-sec 100",
  },
  requires = "tracepoint skb:kfree_skb; drop reasons need Linux 5.17+",
  probes = { "tracepoint:skb:kfree_skb" },
  caveats = drops.caveats,
  options = {
    net.options({ "dev" }),
    { name = "stack", type = "flag", help = "kernel stack of each drop (costs a stack walk per event)" },
  },
  filter = { arp = true },
  program = program,
  prepare = prepare,
  events = "events",
  row = row,
  header = header,
  decode = decode,
}
