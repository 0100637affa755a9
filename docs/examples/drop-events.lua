-- drop-events.lua: one line per dropped packet, with its flow, the task
-- and where the kernel dropped it; at most --max-events-per-sec lines a
-- second (default 1000), the rest counted as suppressed.
--
--   vnetscope run drop-events.lua --proto udp --dst-port 53
--   vnetscope run drop-events.lua --dev eth0 --format json
local adhoc = require "vns.adhoc"

return adhoc.trace {
  "skb:kfree_skb",
  by = "reason, ksym:location, dev, comm, pid, flow",
  name = "drop-events",
}
