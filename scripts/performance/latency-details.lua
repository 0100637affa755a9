-- latency-details: one event per host packet slower than --threshold
-- from the socket to the NIC (tx) or back (rx), with the time at each
-- stage and the slowest pair of stages named. Stages as latency-summary
-- (vns.paths).
local net = require "vns.net"
local paths = require "vns.paths"

return paths.tool("details", {
  name = "latency-details",
  aliases = { "system_network_latency_details", "system_network_perfomance_metrics" },
  about = "Host packets slower than a threshold, with each stage's time",
  tracing = "Tracing slow host packets... Hit Ctrl-C to end.",
  examples = {
    "vnetscope latency-details --direction tx --phy-dev eth0 --threshold 1ms",
    "vnetscope latency-details --direction rx --phy-dev eth0 --internal-dev br-int --threshold 500us --proto tcp",
  },
  requires = "tracepoints net:* and skb:*; kprobes for the IP and OVS stages",
  options = {
    paths.options({ "direction", "phy-dev", "internal-dev", "fields" }),
    net.options({ "threshold" }),
  },
  check_variants = {
    { "--direction", "rx", "--phy-dev", "eth0", "--threshold", "1ms" },
    { "--phy-dev", "eth0", "--internal-dev", "br-int", "--proto", "tcp", "--fields" },
  },
}, function(opts)
  return { path = "host", direction = opts.direction or "tx", phy = opts.phy_dev, internal = opts.internal_dev }
end)
