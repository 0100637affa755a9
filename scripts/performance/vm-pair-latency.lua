-- vm-pair-latency: one-way latency between two VMs on this host, from
-- what VM A sends (its vnet device receives it) to the hand-off to VM
-- B's vnet device, per stage:
--   vnet_rx (A) -> ovs_in -> [ct] -> ovs_out -> queue (B) -> vnet_tx (B)
-- (vns.paths). Histograms per pair and end to end, every interval and
-- in total; with --threshold only the slower packets count.
local hist = require "vns.hist"
local net = require "vns.net"
local paths = require "vns.paths"

return paths.tool("summary", {
  name = "vm-pair-latency",
  aliases = { "vm_pair_latency" },
  about = "One-way latency from one VM's vnet to another's, per stage",
  tracing = "Tracing VM-to-VM latency per stage... Hit Ctrl-C to end.",
  examples = {
    "vnetscope vm-pair-latency --vm-dev vnet0 --peer-dev vnet1",
    "vnetscope vm-pair-latency --vm-dev vnet0 --peer-dev vnet1 --ct --proto tcp --threshold 100us",
  },
  requires = "tracepoints net:* and skb:*; kprobes for the OVS stages",
  options = {
    paths.options({ "vm-dev", "peer-dev", "ct" }),
    net.options({ "threshold" }),
    hist.unit_option(),
  },
  check_variants = {
    { "--vm-dev", "vnet0", "--peer-dev", "vnet1", "--ct", "--proto", "udp" },
  },
}, function(opts)
  return { path = "vm", direction = "pair", vm = opts.vm_dev, peer = opts.peer_dev, ct = opts.ct }
end)
