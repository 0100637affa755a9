-- vm-latency-details: one event per VM packet slower than --threshold
-- between the VM's vnet/tap device and the physical NIC, with the time
-- at each stage and the slowest pair named. Stages as
-- vm-latency-summary (vns.paths).
local net = require "vns.net"
local paths = require "vns.paths"

return paths.tool("details", {
  name = "vm-latency-details",
  aliases = { "vm_network_latency_details", "vm_network_performance_metrics" },
  about = "VM packets slower than a threshold, with each stage's time",
  tracing = "Tracing slow VM packets... Hit Ctrl-C to end.",
  examples = {
    "vnetscope vm-latency-details --direction tx --vm-dev vnet0 --phy-dev eth0 --threshold 1ms",
    "vnetscope vm-latency-details --direction rx --vm-dev vnet0 --phy-dev eth0 --ct --threshold 200us",
  },
  requires = "tracepoints net:* and skb:*; kprobes for the OVS stages",
  options = {
    paths.options({ "direction", "vm-dev", "phy-dev", "ct", "fields" }),
    net.options({ "threshold" }),
  },
  check_variants = {
    { "--direction", "rx", "--vm-dev", "vnet0", "--phy-dev", "eth0", "--threshold", "1ms" },
    { "--vm-dev", "vnet0", "--phy-dev", "eth0", "--ct", "--proto", "tcp", "--fields" },
  },
}, function(opts)
  return { path = "vm", direction = opts.direction or "tx", vm = opts.vm_dev, phy = opts.phy_dev, ct = opts.ct }
end)
