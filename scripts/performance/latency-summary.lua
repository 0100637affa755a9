-- latency-summary: where a host packet's time goes between the socket
-- and the NIC, per pair of adjacent stages and end to end.
--
-- TX: ip -> [internal -> ovs_in -> ovs_out] -> queue -> nic
-- RX: nic -> [ovs_in -> ovs_out -> internal] -> ip -> socket
-- (the OVS stages with --internal-dev; vns.paths says which probe each
-- stage is and how a packet is followed). Histograms (log2, P50-P99.9,
-- exact count/min/max/mean) every interval and in total; counts of
-- packets that entered, completed, and left the path after each stage.
local hist = require "vns.hist"
local net = require "vns.net"
local paths = require "vns.paths"

return paths.tool("summary", {
  name = "latency-summary",
  aliases = { "system_network_latency_summary" },
  about = "Host packet latency per stage, socket to NIC and back, as histograms",
  tracing = "Tracing host packet latency per stage... Hit Ctrl-C to end.",
  examples = {
    "vnetscope latency-summary --direction tx --phy-dev eth0 --proto udp --dst-port 53",
    "vnetscope latency-summary --direction rx --phy-dev eth0,eth1 --internal-dev br-int --host 10.0.0.2",
    "vnetscope latency-summary --phy-dev eth0 --filter 'tcp port 443' --unit ms -i 5",
  },
  requires = "tracepoints net:* and skb:*; kprobes for the IP and OVS stages",
  options = {
    paths.options({ "direction", "phy-dev", "internal-dev" }),
    net.options({ "threshold" }),
    hist.unit_option(),
  },
  check_variants = {
    { "--direction", "rx", "--phy-dev", "eth0" },
    { "--phy-dev", "eth0,eth1", "--internal-dev", "br-int", "--proto", "udp" },
    { "--direction", "rx", "--phy-dev", "eth0", "--internal-dev", "br-int" },
  },
}, function(opts)
  return { path = "host", direction = opts.direction or "tx", phy = opts.phy_dev, internal = opts.internal_dev }
end)
