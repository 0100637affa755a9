-- qdisc-wait-events.lua: qdisc-wait.lua as a details tool. One event per
-- packet that waited at least --threshold between net:net_dev_queue and
-- net:net_dev_start_xmit: its device, wait, length and flow. Events are
-- rate-limited in the kernel by --max-events-per-sec.
--
--   vnetscope run qdisc-wait-events.lua --dev eth0 --threshold 5ms
--   vnetscope run qdisc-wait-events.lua --proto tcp --port 443 --format json
local budget = require "vns.budget"
local ctxfilter = require "vns.ctxfilter"
local filter = require "vns.filter"
local net = require "vns.net"
local output = require "vns.output"
local template = require "vns.template"
local tool = require "vns.tool"

local C = [[
#include <vns/dev.h>
#include <vns/flow.h>
{{ BUDGET }}

struct event {
  u64 wait_ns;
  u32 saddr[4];
  u32 daddr[4];
  u32 len;
  u16 sport;           /* host byte order */
  u16 dport;
  u8 family;           /* 4, 6, or 0: not IP */
  u8 proto;
  char dev[16];
};
BPF_PERF_OUTPUT(events);

BPF_TABLE("lru_hash", u64, u64, queued, 10240);
{{ FILTER_MAPS }}

TRACEPOINT_PROBE(net, net_dev_queue)
{
  struct sk_buff *skb = (struct sk_buff *)args->skbaddr;
  if (!({{ DEV_FILTER }}))
    return 0;
{{ FLOW_FILTER }}
  u64 key = (u64)skb, now = bpf_ktime_get_ns();
  queued.update(&key, &now);
  return 0;
}

TRACEPOINT_PROBE(net, net_dev_start_xmit)
{
  struct sk_buff *skb = (struct sk_buff *)args->skbaddr;
  u64 key = (u64)skb;
  u64 *ts = queued.lookup(&key);
  if (!ts)
    return 0;
  u64 delta_ns = bpf_ktime_get_ns() - *ts;
  queued.delete(&key);
  if (!({{ THRESHOLD }}))
    return 0;
  if (!vns_budget_take())      /* last: only a packet we report spends a token */
    return 0;
  struct event ev = { .wait_ns = delta_ns, .len = args->len };
  struct vns_flow f = {};
  if (vns_flow_from_skb(skb, &f)) {
    __builtin_memcpy(ev.saddr, f.saddr, sizeof(ev.saddr));
    __builtin_memcpy(ev.daddr, f.daddr, sizeof(ev.daddr));
    ev.sport = vns_ntohs(f.sport);
    ev.dport = vns_ntohs(f.dport);
  }
  ev.family = f.family;
  ev.proto = f.proto;
  vns_skb_devname(skb, ev.dev);
  events.perf_submit(args, &ev, sizeof(ev));
  return 0;
}
]]

local function program(opts)
  local f = filter.compile(opts)
  return template.render(C, {
    BUDGET = budget.code(opts),
    FILTER_MAPS = f.decls,
    FLOW_FILTER = f.guard,               -- parse the flow, return unless it matches
    DEV_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev_skb = "skb" }).expr,
    THRESHOLD = ctxfilter.compile({ threshold = opts.threshold }, { delta = "delta_ns" }).expr,
  })
end

-- "10.0.0.1:80", "[fd00::1]:80", or just the address when there are no ports.
local function endpoint(family, words, port, has_port)
  local addr = net.format_addr(family, string.pack(family == 4 and "=I4" or "=I4I4I4I4",
                                                   table.unpack(words, 1, family == 4 and 1 or 4)))
  if not has_port then return addr end
  return (family == 6 and "[" .. addr .. "]" or addr) .. ":" .. port
end

local function decode(_, ev)
  local row = { time = output.timestamp(), dev = ev.dev, wait_us = ev.wait_ns / 1000, len = ev.len }
  if ev.family ~= 0 then
    local ports = ev.sport ~= 0 or ev.dport ~= 0
    row.proto = tostring(net.protocol(tostring(ev.proto)))
    row.src = endpoint(ev.family, ev.saddr, ev.sport, ports)
    row.dst = endpoint(ev.family, ev.daddr, ev.dport, ports)
  end
  return row
end

return tool.details {
  name = "qdisc-wait-events",
  about = "Packets that waited long between the qdisc and the driver",
  options = { filter.options(), net.options({ "dev", "threshold" }) },
  program = program,
  prepare = function(run) filter.fill(run.program, filter.compile(run.opts)) end,
  events = "events",
  decode = decode,
  header = function(_, out)
    out:write(string.format("%-8s  %-15s %10s %5s  %-6s %-22s %s\n",
                            "TIME", "DEV", "WAIT(us)", "LEN", "PROTO", "SOURCE", "DESTINATION"))
  end,
  print = function(_, r, out)
    out:write(string.format("%-8s  %-15s %10.1f %5d  %-6s %-22s %s\n",
                            r.time, r.dev, r.wait_us, r.len, r.proto or "-", r.src or "-", r.dst or "-"))
  end,
}
