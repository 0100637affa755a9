-- vm-latency-summary: where a VM packet's time goes between the VM's
-- vnet/tap device and the physical NIC, per pair of adjacent stages and
-- end to end.
--
-- TX (from the VM): vnet_rx -> ovs_in -> [ct] -> ovs_out -> queue -> nic
-- RX (to the VM):   nic -> ovs_in -> [ct] -> ovs_out -> queue -> vnet_tx
-- (ct with --ct: OVS conntrack, ct() actions; vns.paths says which
-- probe each stage is). vnet_rx is where the host stack receives what
-- the VM sent (vhost-net or a tap writer); vnet_tx is the hand-off to
-- the VM's queue (tun_net_xmit).
local hist = require "vns.hist"
local net = require "vns.net"
local paths = require "vns.paths"

return paths.tool("summary", {
  name = "vm-latency-summary",
  aliases = { "vm_network_latency_summary" },
  about = "VM packet latency per stage, vnet to NIC and back, as histograms",
  tracing = "Tracing VM packet latency per stage... Hit Ctrl-C to end.",
  examples = {
    "vnetscope vm-latency-summary --direction tx --vm-dev vnet0 --phy-dev eth0",
    "vnetscope vm-latency-summary --direction rx --vm-dev vnet0 --phy-dev eth0,eth1 --ct --proto tcp",
  },
  requires = "tracepoints net:* and skb:*; kprobes for the OVS stages",
  options = {
    paths.options({ "direction", "vm-dev", "phy-dev", "ct" }),
    net.options({ "threshold" }),
    hist.unit_option(),
  },
  check_variants = {
    { "--direction", "rx", "--vm-dev", "vnet0", "--phy-dev", "eth0" },
    { "--vm-dev", "vnet0", "--phy-dev", "eth0,eth1", "--ct", "--proto", "udp" },
  },
}, function(opts)
  return { path = "vm", direction = opts.direction or "tx", vm = opts.vm_dev, phy = opts.phy_dev, ct = opts.ct }
end)
