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
local tool = require "vns.tool"

local function decode(run, ev)
  local e = sojourn.kit(run.opts, true):decode(run, ev)
  return { time = output.timestamp(), dev = e.dev, wait_us = e.total_ns / 1000, len = e.len, proto = e.proto,
           src = e.src, dst = e.dst, pid = e.pid, comm = e.comm }
end

local LINE = "%-8s  %-15s %10s %5s  %-5s  %-22s %-22s %s\n"

local function header(_, out)
  out:write(string.format(LINE, "TIME", "DEV", "WAIT(us)", "LEN", "PROTO", "SOURCE", "DESTINATION", "COMM"))
end

local function print_row(_, r, out)
  out:write(string.format(LINE, r.time, r.dev, string.format("%.1f", r.wait_us), r.len, r.proto or "-",
                          r.src or "-", r.dst or "-", r.comm))
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
  events = "vns_stages_events",
  decode = decode,
  header = header,
  print = print_row,
}
