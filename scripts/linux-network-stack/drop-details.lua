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
local output = require "vns.output"
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
    WITH_STACK = template.bool(opts.stack or false),
  })
end

local function prepare(run)
  run.reason_names = drops.reason_names()
  if run.opts.stack then run.stacks = run.program:table("stacks") end
end

local function decode(run, ev)
  local reason = drops.reason_name(run.reason_names, ev.reason)
  local row = {
    ts = events.wall_time(ev.ts_ns),
    cpu = ev.cpu, pid = ev.pid, comm = ev.comm, dev = ev.dev ~= "" and ev.dev or nil, len = ev.len,
    reason = reason, reason_code = reason and ev.reason or nil,
    location = drops.location(ev.location),
    flow = net.flow_text(ev),
    vlan = ev.nvlan > 0 and ev.vlan or nil,
    stack = drops.stack(run.stacks, ev.stack_id),
  }
  if not net.flow_fields(ev, row) then row.ethertype = net.wire_port(ev.ethertype) end
  return row
end

local LINE = "%-15s %4s  %-6s %-13s %-12s %-15s %-24s %5s  %s\n"

local function header(_, out)
  drops.note_no_reason(out)
  out:write(string.format(LINE, "TIME", "CPU", "PID", "COMM", "DEV", "REASON", "LOCATION", "LEN", "FLOW"))
end

local function print_row(_, r, out)
  out:write(string.format(LINE, output.clock(r.ts), r.cpu, r.pid, r.comm, r.dev or "-", r.reason or "-", r.location, r.len, r.flow))
  for _, frame in ipairs(r.stack or {}) do out:write("    ", frame, "\n") end
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
  decode = decode,
  header = header,
  print = print_row,
}
