-- qdisc-latency-details: one line per packet that waited in a qdisc at
-- least --threshold: when it left, the device, how long it waited, its
-- length, flow and the task that sent it (at enqueue), under the event
-- budget.
--
-- Usage:
--   vnetscope qdisc-latency-details --dev eth0 --threshold 10ms
--   vnetscope qdisc-latency-details --proto udp --dst-port 53 --format json
--
-- Sample output:
--   TIME      DEV               WAIT(us)   LEN  PROTO  SOURCE                 DESTINATION            COMM
--   23:55:12  eth1               55976.7    44  udp    10.231.2.1:59480       10.231.2.2:9999        bash
--
-- Requires and sessions: as qdisc-latency (vns/sojourn.lua).
local net = require "vns.net"
local output = require "vns.output"
local sojourn = require "vns.sojourn"
local stages = require "vns.stages"
local tool = require "vns.tool"

-- On the fast path (docs/events.md): the task, device and length copied
-- by C; the wait (different in every event) and the flow (cached by its
-- fields) from the kit's event.
local function wait_of(_, ev)
  local us = ev.total_ns / 1000
  return { time = output.timestamp(), wait_us = us, _wait = string.format("%.1f", us) }
end

local row = {
  record_bytes = stages.record_bytes(2),   -- enqueue, dequeue
  fields = { "dev", "len", "pid", "comm" },
  hooks = {
    { fields = { "total_ns" }, cache = false, decode = wait_of },
    { fields = stages.FLOW_FIELDS, decode = function(_, ev) return stages.flow_row(ev) end },
  },
  columns = { { "TIME", "time", 8, gap = 2 }, { "DEV", "dev", 15 }, { "WAIT(us)", "_wait", 10, right = true },
              { "LEN", "len", 5, right = true, gap = 2 }, { "PROTO", "proto", 5, gap = 2 }, { "SOURCE", "src", 22 },
              { "DESTINATION", "dst", 22 }, { "COMM", "comm" } },
}

-- One event as a Lua table, the way the engine writes it (tests).
local function decode(run, ev)
  local r = { dev = ev.dev, len = ev.len, pid = ev.pid, comm = ev.comm }
  for _, h in ipairs(row.hooks) do
    for k, v in pairs(h.decode(run, ev)) do
      if not k:match("^_") then r[k] = v end
    end
  end
  return r
end

return tool.details {
  name = "qdisc-latency-details",
  aliases = { "qdisc_lateny_details" },
  about = "Packets that waited in the qdisc at least --threshold, one line each",
  examples = {
    "vnetscope qdisc-latency-details --dev eth0 --threshold 10ms",
    "vnetscope qdisc-latency-details --proto udp --dst-port 53 --format json",
  },
  requires = "tracepoints qdisc:qdisc_dequeue (4.14+), qdisc:qdisc_enqueue (5.15+) or net:net_dev_queue, skb:kfree_skb",
  probes = sojourn.PROBES,
  caveats = sojourn.caveats,
  options = { net.options({ "dev", "threshold" }), sojourn.OPTION },
  check_variants = { { "--variant", "queue" }, { "--dev", "eth0", "--proto", "udp", "--threshold", "1ms" } },
  filter = true,
  program = function(opts, f) return sojourn.kit(opts, true):program(opts, f) end,
  events = stages.EVENTS,
  row = row,
  decode = decode,
}
