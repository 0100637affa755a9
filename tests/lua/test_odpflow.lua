-- vns.odpflow: OVS flow messages written as `ovs-appctl dpctl/dump-flows`
-- writes them (the lab compares with dump-flows itself: t_ovs_megaflow).
local odpflow = require "vns.odpflow"
local registry = require "vns.registry"
local h = require "helpers"
local eq = h.eq

-- A netlink attribute: header (length, type; little-endian) and data, padded.
local function nla(typ, data)
  local a = string.pack("<I2I2", 4 + #data, typ) .. data
  return a .. string.rep("\0", (4 - #a % 4) % 4)
end
local function u32(v) return string.pack("=I4", v) end
local function ip4(a, b, c, d) return string.char(a, b, c, d) end
local MAC_A, MAC_B = "\2\0\11\0\0\1", "\2\0\11\0\0\2"

-- vswitchd's order; the kernel dumps recirc_id first.
local function udp_key(sport)
  return nla(2, u32(0)) .. nla(15, u32(0)) .. nla(22, u32(0)) .. nla(23, string.pack("=I2", 0))
      .. nla(20, u32(0)) .. nla(3, u32(1)) .. nla(4, MAC_A .. MAC_B) .. nla(6, "\8\0")
      .. nla(7, ip4(10, 0, 0, 1) .. ip4(10, 0, 0, 2) .. "\17\0\64\0") .. nla(10, string.pack(">I2I2", sport, 9999))
end

local T = {}

-- No mask attribute: an exact match of the attributes given.
function T.exact_flow()
  local msg = nla(1, udp_key(40000)) .. nla(2, nla(1, u32(2))) .. nla(9, string.pack("=I4I4I4I4", 0x0b8f5c0e,
    0x2b1f4c51, 0x9a527c0c, 0x2cb1d3e5))
  local m = odpflow.parse(msg)
  eq(odpflow.key(m), "recirc_id(0),skb_priority(0),in_port(1),skb_mark(0),ct_state(-new-est-rel-rpl-inv-trk-snat-dnat),"
     .. "ct_zone(0),"
     .. "eth(src=02:00:0b:00:00:01,dst=02:00:0b:00:00:02),eth_type(0x0800),"
     .. "ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=40000,dst=9999)")
  eq(odpflow.actions(m), "2")
  eq(odpflow.ufid(m), "ufid:0b8f5c0e-2b1f-4c51-9a52-7c0c2cb1d3e5")
end

-- A megaflow: wildcarded attributes left out, masked values, partial masks.
function T.megaflow_masks()
  local mask = nla(2, u32(0)) .. nla(15, u32(0)) .. nla(20, u32(0xffffffff)) .. nla(3, u32(0xffffffff))
      .. nla(4, string.rep("\255", 12)) .. nla(6, "\255\255")
      .. nla(7, ip4(255, 255, 255, 0) .. ip4(0, 0, 0, 0) .. "\0\0\0\255") .. nla(10, string.pack(">I2I2", 0, 0xfff0))
  local m = odpflow.parse(nla(1, udp_key(40000)) .. nla(7, mask) .. nla(2, ""))
  eq(odpflow.key(m), "recirc_id(0),in_port(1),eth(src=02:00:0b:00:00:01,dst=02:00:0b:00:00:02),"
     .. "eth_type(0x0800),ipv4(src=10.0.0.0/255.255.255.0,frag=no),udp(dst=9984/0xfff0)")
  eq(odpflow.actions(m), "drop")
  eq(odpflow.ufid(m), nil)
end

function T.ipv6_and_actions()
  local v6 = "\253\0\2\49\0\19\0\0\0\0\0\0\0\0\0\1" .. "\253\0\2\49\0\19\0\0\0\0\0\0\0\0\0\2"
  local key = nla(20, u32(0)) .. nla(3, u32(2)) .. nla(4, MAC_B .. MAC_A) .. nla(6, "\134\221")
      .. nla(8, v6 .. string.pack(">I4", 0x12345) .. "\58\0\255\0") .. nla(12, "\1\4") .. nla(32, "\0\0")
  local acts = nla(7, u32(3)) .. nla(5, "") .. nla(4, string.pack(">I2I2", 0x8100, 0x1000 | 10)) .. nla(1, u32(1))
      .. nla(99, "\1\2")
  local m = odpflow.parse(nla(1, key) .. nla(2, acts))
  eq(odpflow.key(m), "recirc_id(0),in_port(2),eth(src=02:00:0b:00:00:02,dst=02:00:0b:00:00:01),eth_type(0x86dd),"
     .. "ipv6(src=fd00:231:13::1,dst=fd00:231:13::2,label=0x12345,proto=58,tclass=0,hlimit=255,frag=no),"
     .. "key32(00 00/ff ff),icmpv6(type=1,code=4)")
  eq(odpflow.actions(m), "recirc(0x3),pop_vlan,push_vlan(vid=10,pcp=0),1,action99(01 02)")
end

function T.flags_and_truncated_input()
  local key = nla(20, u32(0)) .. nla(22, u32(0x22)) .. nla(18, string.pack(">I2", 0x12))
  local mask = nla(20, u32(0xffffffff)) .. nla(22, u32(0x23)) .. nla(18, string.pack(">I2", 0x12))
  eq(odpflow.key(odpflow.parse(nla(1, key) .. nla(7, mask))), "recirc_id(0),ct_state(-new+est+trk),tcp_flags(+syn+ack)")
  -- A message cut short: the whole attributes before the cut.
  local cut = (nla(1, udp_key(1)) .. nla(2, nla(1, u32(2)))):sub(1, 60)
  eq(odpflow.key(odpflow.parse(cut)), nil)
end

-- The tool's report over its maps (a stand-in for the loaded program):
-- changes per interval (the busiest first), totals at exit.
function T.tool_reports_changes_and_totals()
  local tool = registry.find("ovs-megaflow")
  local function flow(sport, installs, deletes)
    local msg = nla(1, udp_key(sport)) .. nla(2, nla(1, u32(2))) .. nla(9, string.pack("=I4I4I4I4", sport, 0, 0, 0))
    return { k = { w = { sport, 0, 0, 0 } }, v = { msg = msg .. string.rep("\0", 1024 - #msg), len = #msg,
             full_len = #msg, upcalls = installs, installs = installs, modifies = 0, deletes = deletes,
             last_cmd = deletes > 0 and 2 or 0 } }
  end
  local maps = { megaflows = { flow(1, 1, 0), flow(2, 2, 1) }, mf_pending = {}, mf_totals = { [0] = 3, 3, 0 } }
  local function table_of(name)
    return {
      items = function()
        local i, list = 0, maps[name]
        return function()
          i = i + 1
          if list[i] then return list[i].k or list[i], list[i].v end
        end
      end,
      lookup = function(_, key) return maps[name][key] end,
    }
  end
  local run = { opts = {}, program = { table = function(_, name) return table_of(name) end } }
  tool.prepare(run)
  local first = tool.collect(run, false)
  eq(first.changed, 2)
  eq(#first.megaflows, 2)
  eq(first.megaflows[1].ufid, "ufid:00000002-0000-0000-0000-000000000000")
  eq(first.megaflows[1].interval.installs, 2)
  maps.megaflows[1].v.deletes = 1
  local second = tool.collect(run, false)
  eq(second.changed, 1)
  eq(second.megaflows[1].interval, { upcalls = 0, installs = 0, modifies = 0, deletes = 1 })
  eq(second.upcalls, { total = 3, installed = 3, waiting = 0 })
  local out = {}
  tool.render(run, tool.collect(run, true), { write = function(_, t) out[#out + 1] = t end }, true)
  local text = table.concat(out)
  h.has(text, "Total since start  megaflows seen: 2\n")
  h.has(text, "udp(src=2,dst=9999), actions:2\n    upcalls 2  installs 2  modifies 0  deletes 1  last: delete\n")
end

-- --details: an event's message (an array of bytes) as a row; a delete
-- with only the UFID shows the flow last seen with it.
function T.tool_details_rows()
  local tool = registry.find("ovs-megaflow")
  local ufid = nla(9, string.pack("=I4I4I4I4", 7, 0, 0, 0))
  local function event(cmd, msg, upcalls)
    return { ts_ns = 0, pid = 1, comm = "handler1", upcalls = upcalls, cmd = cmd, len = #msg, full_len = #msg,
             msg = { msg:byte(1, -1) } }
  end
  local run = {}
  tool.prepare(run)
  local install = tool.decode(run, event(0, nla(1, udp_key(5)) .. nla(2, nla(1, u32(2))) .. ufid, 1))
  eq(install.message, "install")
  eq(install.upcalls, 1)
  eq(install.ufid, "ufid:00000007-0000-0000-0000-000000000000")
  h.has(install.flow, "udp(src=5,dst=9999), actions:2")
  local delete = tool.decode(run, event(2, ufid, 0))
  eq(delete.message, "delete")
  eq(delete.flow, install.flow)
end

return T
