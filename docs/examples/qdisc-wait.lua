-- qdisc-wait.lua: how long do packets wait between entering a device's
-- transmit path (net:net_dev_queue, before the qdisc) and being handed to
-- the driver (net:net_dev_start_xmit)? A log2 histogram per device, for
-- the packets your flow options select; the waits of each interval, and
-- the totals at exit.
--
--   vnetscope run qdisc-wait.lua --dst-ip 10.0.0.2 --proto tcp --dst-port 443
--   vnetscope run qdisc-wait.lua --dev eth0 --threshold 1ms --unit ms -i 5
--   vnetscope run qdisc-wait.lua --filter 'udp and not port 53' --format json
--   vnetscope run qdisc-wait.lua --dst-port 443 --emit-c   # the generated C
--   vnetscope check qdisc-wait.lua                         # verifier-load only
local hist = require "vns.hist"
local net = require "vns.net"
local stages = require "vns.stages"

-- Two stages, each a probe point where the packet's skb is known: a
-- session per skb opens at the first and closes at the last, timed in
-- the kernel. The flow options, --dev, --threshold and --unit are
-- compiled into the program (see "Timing stages" in the guide).
local kit = stages.new {
  stages = {
    { name = "queue", probe = "tracepoint:net:net_dev_queue" },     -- skb: args->skbaddr
    { name = "xmit", probe = "tracepoint:net:net_dev_start_xmit" },
  },
  by = "dev",                              -- one histogram per device
}

-- The tool: the kit's program, and every interval that interval's
-- histograms (the totals at exit) and how many packets started,
-- completed or never completed the path.
return kit:summary {
  name = "qdisc-wait",
  about = "Time from the qdisc to the driver, per device",
  filter = true,                           -- --src-ip ... --proto, --filter
  options = {
    net.options({ "dev", "threshold" }),
    hist.unit_option("us"),
  },
  -- vnetscope check loads the program as built with no options, and with these.
  check_variants = { { "--proto", "udp", "--port", "53", "--dev", "eth0", "--threshold", "1ms" } },
}
