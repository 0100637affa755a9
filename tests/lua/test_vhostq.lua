-- vns.vhostq: the queue filter of tun-vhost-queues and vhost-queue-trace,
-- and the layout checks they compile in.
local template = require "vns.template"
local vhostq = require "vns.vhostq"
local h = require "helpers"
local eq, has = h.eq, h.has

local T = {}

-- No --dev, no --queue: every queue passes.
function T.filter_none()
  eq(vhostq.queue_filter({}, "k").text, "1")
end

-- --queue is a run-time value (one cached program for every queue);
-- --dev compares the name's two words.
function T.filter_dev_and_queue()
  local text = vhostq.queue_filter({ dev = "vnet0", queue = 3 }, "ev").text
  has(text, "ev.dev")
  has(text, "ev.queue == VNS_VALUE(u32, 0x3)")
  local q0 = vhostq.queue_filter({ queue = 0 }, "ev").text
  has(q0, "ev.queue == VNS_VALUE(u32, 0x0)")
end

-- The key name goes into C: only an identifier.
function T.filter_key_is_an_identifier()
  local ok = pcall(vhostq.queue_filter, {}, "k; x")
  eq(ok, false)
end

-- Every member read is checked where BTF exists; none is checked twice.
function T.layout_members()
  local seen = {}
  for _, list in ipairs({ vhostq.TUN, vhostq.VHOST }) do
    for _, m in ipairs(list) do
      local id = m[1] .. "." .. m[2]
      eq(seen[id], nil)
      seen[id] = true
    end
  end
  eq(seen["vns_vhost_virtqueue.private_data"], true)
  eq(seen["vns_tun_file.socket"], true)
  eq(template.is_typed(vhostq.rx_code()), true)
end

return T
