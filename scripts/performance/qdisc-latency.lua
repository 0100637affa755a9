-- qdisc-latency: how long packets wait in each device's qdisc, from
-- enqueue to dequeue: a log2 histogram per device with exact count,
-- min, mean and max and percentiles, every interval and in total, and
-- how many packets the qdisc dropped; beside them the kernel's counters
-- of the qdiscs that changed (tc -s), in the tool's network namespace.
--
-- Usage:
--   vnetscope qdisc-latency --dev eth0 -i 5
--   vnetscope qdisc-latency --proto tcp --dst-port 443 --unit ms
--   vnetscope qdisc-latency --threshold 1ms --format json
--
-- Sample output (tbf 4kbit on eth1, 7 datagrams):
--   dev = eth1
--        usecs               : count     distribution
--            4 -> 7          : 1        |*************                           |
--            ...
--       262144 -> 524287     : 3        |****************************************|
--   count 7  min 5.1  mean 236580.1  max 495790.2  p50 229376 ...
--   sessions since start: 7 started, 7 completed, 0 dropped, 0 restarted, ...
--
-- Requires: qdisc:qdisc_dequeue (4.14+) and qdisc:qdisc_enqueue (5.15+),
-- or net:net_dev_queue before 5.15 (--variant queue); skb:kfree_skb.
-- How sessions start and end: vns/sojourn.lua. Packets above a
-- threshold one by one: qdisc-latency-details.
local hist = require "vns.hist"
local net = require "vns.net"
local qdisc = require "vns.qdisc"
local report = require "vns.report"
local sojourn = require "vns.sojourn"
local tool = require "vns.tool"

local function kit(run) return sojourn.kit(run.opts, false) end

local function prepare(run)
  run.counters = qdisc.counters({ dev = run.opts.dev })
end

local function collect(run, final)
  local data = kit(run):collect(run, final)
  data.variant = sojourn.variant(run.opts)
  data.qdiscs, data.qdiscs_error = run.counters:changes(final)
  return data
end

local function render(run, data, out, final)
  kit(run):render(run, data, out, final)
  if data.qdiscs_error then
    out:write("kernel qdisc counters: ", data.qdiscs_error, "\n")
  elseif #data.qdiscs > 0 then
    out:write("kernel qdisc counters (tc -s) that changed:\n")
    report.table(out, { { "DEVICE", "dev" }, { "QDISC", "kind" }, { "HANDLE", "handle" }, { "PARENT", "parent" },
                        { "DROPS", "drops" }, { "OVERLIMITS", "overlimits" }, { "REQUEUES", "requeues" },
                        { "BACKLOG", "backlog" }, { "QLEN", "qlen" } }, data.qdiscs)
  end
end

return tool.summary {
  name = "qdisc-latency",
  about = "Time packets wait in the qdisc (enqueue to dequeue), per device",
  examples = {
    "vnetscope qdisc-latency --dev eth0 -i 5",
    "vnetscope qdisc-latency --proto tcp --dst-port 443 --unit ms",
    "vnetscope qdisc-latency --threshold 1ms --format json",
  },
  requires = "tracepoints qdisc:qdisc_dequeue (4.14+), qdisc:qdisc_enqueue (5.15+) or net:net_dev_queue, skb:kfree_skb",
  probes = sojourn.PROBES,
  caveats = sojourn.caveats,
  options = { net.options({ "dev", "threshold" }), hist.unit_option("us"), sojourn.OPTION },
  check_variants = { { "--variant", "queue" }, { "--dev", "eth0", "--proto", "udp", "--threshold", "1ms" } },
  filter = true,
  program = function(opts, f) return sojourn.kit(opts, false):program(opts, f) end,
  prepare = prepare,
  collect = collect,
  render = render,
}
