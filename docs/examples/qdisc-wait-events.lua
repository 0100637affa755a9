-- qdisc-wait-events.lua: qdisc-wait.lua as a details tool. One event per
-- packet that waited at least --threshold between net:net_dev_queue and
-- net:net_dev_start_xmit: its device, wait, length and flow. Events are
-- rate-limited in the kernel by --max-events-per-sec.
--
--   vnetscope run qdisc-wait-events.lua --dev eth0 --threshold 5ms
--   vnetscope run qdisc-wait-events.lua --proto tcp --port 443 --format json
local net = require "vns.net"
local output = require "vns.output"
local stages = require "vns.stages"

-- The same stages; events = true: when a packet reaches the last stage
-- at or above --threshold, the kernel sends one event with every stage's
-- time, the skb's length, device and flow (parsed only for those).
local kit = stages.new {
  stages = {
    { name = "queue", probe = "tracepoint:net:net_dev_queue" },
    { name = "xmit", probe = "tracepoint:net:net_dev_start_xmit" },
  },
  events = true,
}

local function decode(run, ev)
  local e = kit:decode(run, ev)
  return { time = output.timestamp(), dev = e.dev, wait_us = e.total_ns / 1000, len = e.len,
           proto = e.proto, src = e.src, dst = e.dst }
end

return kit:details {
  name = "qdisc-wait-events",
  about = "Packets that waited long between the qdisc and the driver",
  filter = true,
  options = { net.options({ "dev", "threshold" }) },
  decode = decode,
  header = function(_, out)
    out:write(string.format("%-8s  %-15s %10s %5s  %-6s %-22s %s\n",
                            "TIME", "DEV", "WAIT(us)", "LEN", "PROTO", "SOURCE", "DESTINATION"))
  end,
  print = function(_, r, out)
    out:write(string.format("%-8s  %-15s %10.1f %5d  %-6s %-22s %s\n",
                            r.time, r.dev, r.wait_us, r.len, r.proto or "-", r.src or "-", r.dst or "-"))
  end,
}
