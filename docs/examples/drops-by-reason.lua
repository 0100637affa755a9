-- drops-by-reason.lua: packet drops counted in the kernel by reason,
-- drop location and device, a table every interval and the totals at
-- exit. The flow options, --filter, --dev, --pid and --comm select.
--
--   vnetscope run drops-by-reason.lua --dst-ip 10.0.0.2 --proto udp -i 5
--   vnetscope run drops-by-reason.lua --dev eth0 --format json
local adhoc = require "vns.adhoc"

return adhoc.count {
  "tracepoint:skb:kfree_skb",
  by = "reason, ksym:location, dev",
  name = "drops-by-reason",
  about = "Packet drops by reason, location and device",
}
