-- vns.paths: the stage lists of the latency paths, and what is left out
-- when this kernel lacks a probe.
local paths = require "vns.paths"
local h = require "helpers"
local eq, has = h.eq, h.has

local T = {}

local function names(list)
  local out = {}
  for _, s in ipairs(list) do out[#out + 1] = s.name end
  return table.concat(out, " ")
end

function T.stage_lists_per_path()
  eq(names(paths.stages { path = "host", direction = "tx" }), "ip queue nic")
  eq(names(paths.stages { path = "host", direction = "tx", internal = { "br0" } }), "ip internal ovs_in ovs_out nic")
  eq(names(paths.stages { path = "host", direction = "rx" }), "nic ip socket")
  eq(names(paths.stages { path = "host", direction = "rx", internal = { "br0" } }), "nic ovs_in ovs_out internal ip socket")
  eq(names(paths.stages { path = "vm", direction = "tx", ct = true }), "vnet_rx ovs_in ct ovs_out queue nic")
  eq(names(paths.stages { path = "vm", direction = "rx" }), "nic ovs_in ovs_out queue vnet_tx")
  eq(names(paths.stages { path = "vm", direction = "pair" }), "vnet_rx ovs_in ovs_out queue vnet_tx")
end

function T.device_conditions()
  local list = paths.stages { path = "vm", direction = "rx", vm = { "vnet0" }, phy = { "eth0", "eth1" } }
  has(list[1].cond.text, "vns_skb_dev_is(skb, ")
  has(list[1].cond.text, " || ")
  eq(list[2].cond, nil)
  eq(select(2, list[5].cond.text:gsub("vns_skb_dev_is", "")), 1)
end

function T.missing_stages_are_left_out_with_a_note()
  local saved = paths.probe_exists
  paths.probe_exists = function(spec)
    if spec:match("^kprobe:") then return false, "kprobes unsupported" end
    return true
  end
  local ok, err = pcall(function()
    local kept, notes = paths.available(paths.stages { path = "host", direction = "rx", internal = { "br0" } })
    eq(names(kept), "nic socket")
    eq(#kept[2].probe, 1)
    eq(#notes, 5)
    has(table.concat(notes, "\n"), "stage socket partly available on this kernel: missing kprobe:skb_consume_udp")
    has(table.concat(notes, "\n"), "stage ip not available on this kernel: missing kprobe:ip_local_deliver (kprobes unsupported)")
  end)
  paths.probe_exists = saved
  assert(ok, err)
end

-- The details tools take the events fast path: their row is the kit's,
-- filled once the options made the kit (the stream reads it after).
function T.details_row_after_the_program()
  local registry = require "vns.registry"
  local tool = registry.find("latency-details")
  local saved = paths.probe_exists
  paths.probe_exists = function() return true end
  local ok, err = pcall(function()
    tool.program({ direction = "tx", phy_dev = { "eth0" }, fields = true, max_events_per_sec = 100 }, nil)
    eq(tool.row.lines, "_fields")
    eq(tool.row.columns[3][2], "_slowest")
    eq(#tool.row.hooks, 2)
    tool.program({ direction = "tx", phy_dev = { "eth0" }, max_events_per_sec = 100 }, nil)
    eq(tool.row.lines, nil)
  end)
  paths.probe_exists = saved
  assert(ok, err)
end

return T
