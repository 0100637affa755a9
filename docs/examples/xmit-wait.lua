-- xmit-wait.lua: how long packets take from entering a device's transmit
-- path to the driver, a log2 histogram per device with exact count, min,
-- mean and max; the flow options, --dev, --threshold and --unit select.
--
--   vnetscope run xmit-wait.lua --dst-ip 10.0.0.2 --proto tcp --unit ms -i 5
local adhoc = require "vns.adhoc"

return adhoc.latency {
  from = "net:net_dev_queue",
  to = "net:net_dev_start_xmit",
  by = "dev",
  name = "xmit-wait",
}
