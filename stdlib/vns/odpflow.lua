-- odpflow: the OVS kernel datapath's flow messages (OVS_FLOW_CMD_NEW,
-- _SET, _DEL: netlink attributes, as bytes) written the way
-- `ovs-appctl dpctl/dump-flows` writes a flow (OVS lib/odp-util.c,
-- odp_flow_format and format_odp_actions, without --verbose):
--
--   local m = odpflow.parse(bytes)     -- the attributes after the ovs_header
--   odpflow.key(m)      -- "recirc_id(0),in_port(1),eth(src=...,dst=...),eth_type(0x0800),ipv4(...)"
--   odpflow.actions(m)  -- "2" / "drop" / "recirc(0x1),3"
--   odpflow.ufid(m)     -- "ufid:3a1c2b0e-..." or nil
--
-- The key is shown as the datapath then holds it: the attributes in the
-- kernel's order (net/openvswitch/flow_netlink.c, __ovs_nla_put_key),
-- values masked, fields the mask wildcards left out, partly masked ones
-- as value/mask. Without a mask attribute the flow is an exact match of
-- the attributes given. Attributes this module does not know are
-- written as OVS writes unknown ones (hex bytes).
local M = {}

-- include/uapi/linux/openvswitch.h
local FLOW = { KEY = 1, ACTIONS = 2, MASK = 7, UFID = 9 }
local K = { ENCAP = 1, PRIORITY = 2, IN_PORT = 3, ETHERNET = 4, VLAN = 5, ETHERTYPE = 6, IPV4 = 7, IPV6 = 8,
            TCP = 9, UDP = 10, ICMP = 11, ICMPV6 = 12, ARP = 13, ND = 14, SKB_MARK = 15, TUNNEL = 16, SCTP = 17,
            TCP_FLAGS = 18, DP_HASH = 19, RECIRC_ID = 20, MPLS = 21, CT_STATE = 22, CT_ZONE = 23, CT_MARK = 24,
            CT_LABELS = 25, CT_ORIG_TUPLE_IPV4 = 26, CT_ORIG_TUPLE_IPV6 = 27, NSH = 28, IPV6_EXTHDRS = 32 }
local KEY_NAMES = { [1] = "encap", [2] = "skb_priority", [3] = "in_port", [4] = "eth", [5] = "vlan",
                    [6] = "eth_type", [7] = "ipv4", [8] = "ipv6", [9] = "tcp", [10] = "udp", [11] = "icmp",
                    [12] = "icmpv6", [13] = "arp", [14] = "nd", [15] = "skb_mark", [16] = "tunnel", [17] = "sctp",
                    [18] = "tcp_flags", [19] = "dp_hash", [20] = "recirc_id", [21] = "mpls", [22] = "ct_state",
                    [23] = "ct_zone", [24] = "ct_mark", [25] = "ct_label", [26] = "ct_tuple4", [27] = "ct_tuple6",
                    [28] = "nsh", [29] = "packet_type", [30] = "nd_ext" }
-- The order the kernel dumps a flow's key in (__ovs_nla_put_key).
local KERNEL_ORDER = { K.RECIRC_ID, K.DP_HASH, K.PRIORITY, K.TUNNEL, K.IN_PORT, K.SKB_MARK, K.CT_STATE, K.CT_ZONE,
                       K.CT_MARK, K.CT_LABELS, K.CT_ORIG_TUPLE_IPV4, K.CT_ORIG_TUPLE_IPV6, K.ETHERNET, K.VLAN,
                       K.ENCAP, K.ETHERTYPE, K.IPV4, K.IPV6, K.IPV6_EXTHDRS, K.NSH, K.ARP, K.MPLS, K.TCP, K.TCP_FLAGS, K.UDP,
                       K.SCTP, K.ICMP, K.ICMPV6, K.ND }
local RANK = {}
for i, t in ipairs(KERNEL_ORDER) do RANK[t] = i end

local TCP_FLAGS = { "fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns" }
local CT_STATES = { "new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat" }
local FRAG = { [0] = "no", [1] = "first", [2] = "later" }

-- The attributes of a netlink attribute stream: a list of {type, data}
-- and a map type -> data.
function M.attrs(bytes)
  local list, by, pos = {}, {}, 1
  while pos + 3 <= #bytes do
    local len, typ = string.unpack("<I2I2", bytes, pos)
    if len < 4 or pos + len - 1 > #bytes then break end
    local a = { type = typ & 0x3fff, data = bytes:sub(pos + 4, pos + len - 1) }
    list[#list + 1] = a
    by[a.type] = a.data
    pos = pos + ((len + 3) & ~3)
  end
  return list, by
end

-- A flow message's attributes (after nlmsghdr, genlmsghdr, ovs_header).
function M.parse(bytes)
  local _, by = M.attrs(bytes)
  return { key = by[FLOW.KEY], mask = by[FLOW.MASK], actions = by[FLOW.ACTIONS], ufid = by[FLOW.UFID] }
end

-- ---- helpers ------------------------------------------------------------------

local function band(a, b)
  local out = {}
  for i = 1, #a do out[i] = string.char(a:byte(i) & (b:byte(i) or 0)) end
  return table.concat(out)
end

local function all(s, byte)
  for i = 1, #s do if s:byte(i) ~= byte then return false end end
  return true
end

local function be(s, i, n) return (string.unpack(">I" .. n, s, i)) end
local function mac(s, i) return string.format("%02x:%02x:%02x:%02x:%02x:%02x", s:byte(i, i + 5)) end
local function ip4(s, i) return string.format("%d.%d.%d.%d", s:byte(i, i + 3)) end

-- IPv6 text as inet_ntop writes it (longest run of zero words as ::).
local function ip6(s, i)
  local w = {}
  for k = 0, 7 do w[k + 1] = be(s, i + 2 * k, 2) end
  local best, blen, cur, clen = 0, 0, 0, 0
  for k = 1, 8 do
    if w[k] == 0 then
      if clen == 0 then cur = k end
      clen = clen + 1
      if clen > blen then best, blen = cur, clen end
    else
      clen = 0
    end
  end
  local parts = {}
  for k = 1, 8 do parts[k] = string.format("%x", w[k]) end
  if blen < 2 then return table.concat(parts, ":") end
  return table.concat(parts, ":", 1, best - 1) .. "::" .. table.concat(parts, ":", best + blen, 8)
end

local function hexnum(n) return n == 0 and "0" or string.format("%#x", n) end

-- One field of a struct attribute: {name, offset, size, how}. Written
-- as OVS's format_* helpers do: left out when the mask is zero, /mask
-- when it is partial.
local FORMAT = {
  mac = { function(s, i) return mac(s, i) end, function(s, i) return mac(s, i) end },
  ip4 = { function(s, i) return ip4(s, i) end, function(s, i) return ip4(s, i) end },
  ip6 = { function(s, i) return ip6(s, i) end, function(s, i) return ip6(s, i) end },
  u8u = { function(s, i) return tostring(s:byte(i)) end, function(s, i) return hexnum(s:byte(i)) end },
  u8x = { function(s, i) return hexnum(s:byte(i)) end, function(s, i) return hexnum(s:byte(i)) end },
  be16 = { function(s, i) return tostring(be(s, i, 2)) end, function(s, i) return hexnum(be(s, i, 2)) end },
  label = { function(s, i) return hexnum(be(s, i, 4)) end, function(s, i) return hexnum(be(s, i, 4)) end },
}

local function fields(key, mask, spec)
  local out = {}
  for _, f in ipairs(spec) do
    local name, off, size, how = f[1], f[2] + 1, f[3], f[4]
    local m = mask:sub(off, off + size - 1)
    if #m == size and not all(m, 0) then
      if how == "frag" then
        out[#out + 1] = all(m, 0xff) and (name .. "=" .. (FRAG[key:byte(off)] or tostring(key:byte(off))))
                        or string.format("error: partial mask not supported for frag (%#x)", m:byte(1))
      else
        local fmt = FORMAT[how]
        local full = all(m, 0xff) or (how == "label" and be(m, 1, 4) & 0xfffff == 0xfffff)
        out[#out + 1] = name .. "=" .. fmt[1](key, off) .. (full and "" or "/" .. fmt[2](m, 1))
      end
    end
  end
  return table.concat(out, ",")
end

local STRUCTS = {
  [K.ETHERNET] = { { "src", 0, 6, "mac" }, { "dst", 6, 6, "mac" } },
  [K.IPV4] = { { "src", 0, 4, "ip4" }, { "dst", 4, 4, "ip4" }, { "proto", 8, 1, "u8u" }, { "tos", 9, 1, "u8x" },
               { "ttl", 10, 1, "u8u" }, { "frag", 11, 1, "frag" } },
  [K.IPV6] = { { "src", 0, 16, "ip6" }, { "dst", 16, 16, "ip6" }, { "label", 32, 4, "label" },
               { "proto", 36, 1, "u8u" }, { "tclass", 37, 1, "u8x" }, { "hlimit", 38, 1, "u8u" },
               { "frag", 39, 1, "frag" } },
  [K.TCP] = { { "src", 0, 2, "be16" }, { "dst", 2, 2, "be16" } },
  [K.ICMP] = { { "type", 0, 1, "u8u" }, { "code", 1, 1, "u8u" } },
  [K.ARP] = { { "sip", 0, 4, "ip4" }, { "tip", 4, 4, "ip4" }, { "op", 8, 2, "be16" }, { "sha", 10, 6, "mac" },
              { "tha", 16, 6, "mac" } },
  [K.ND] = { { "target", 0, 16, "ip6" }, { "sll", 16, 6, "mac" }, { "tll", 22, 6, "mac" } },
  [K.CT_ORIG_TUPLE_IPV4] = { { "src", 0, 4, "ip4" }, { "dst", 4, 4, "ip4" }, { "proto", 12, 1, "u8u" },
                             { "tp_src", 8, 2, "be16" }, { "tp_dst", 10, 2, "be16" } },
}
STRUCTS[K.UDP], STRUCTS[K.SCTP], STRUCTS[K.ICMPV6] = STRUCTS[K.TCP], STRUCTS[K.TCP], STRUCTS[K.ICMP]

-- Flags as OVS's format_flags ('|' between names) or, partly masked,
-- format_flags_masked (+name-name).
local function flags(value, mask, max, names)
  local function name(bit)
    local i = 0
    while (1 << i) ~= bit do i = i + 1 end
    return names[i + 1]
  end
  if mask == max then
    if value == 0 then return "0" end
    local out, bad = {}, 0
    local v = value
    while v ~= 0 do
      local bit = v & -v
      local n = name(bit)
      if n then out[#out + 1] = n else bad = bad | bit end
      v = v & ~bit
    end
    if bad ~= 0 then out[#out + 1] = string.format("0x%x", bad) end
    return table.concat(out, "|")
  end
  if mask == 0 then return "0/0" end
  local out, m = {}, mask
  while m ~= 0 do
    local bit = m & -m
    out[#out + 1] = ((value & bit) ~= 0 and "+" or "-") .. (name(bit) or "[Unknown]")
    m = m & ~bit
  end
  return table.concat(out)
end

local function hexbytes(s)
  local out = {}
  for i = 1, #s do out[i] = string.format("%02x", s:byte(i)) end
  return table.concat(out, " ")
end

local function u32(s) return (string.unpack("=I4", s)) end

-- One key attribute, value already masked.
local function key_attr(t, key, mask)
  local name = KEY_NAMES[t] or ("key" .. t)
  local exact = all(mask, 0xff)
  local body
  if STRUCTS[t] and #key >= 2 then
    body = fields(key, mask, STRUCTS[t])
  elseif (t == K.RECIRC_ID or t == K.DP_HASH or t == K.PRIORITY or t == K.SKB_MARK or t == K.CT_MARK)
         and #key == 4 then
    body = hexnum(u32(key)) .. (exact and "" or "/" .. hexnum(u32(mask)))
  elseif t == K.IN_PORT and #key == 4 then
    body = exact and tostring(u32(key)) or (u32(key) .. "/" .. hexnum(u32(mask)))
  elseif t == K.CT_ZONE and #key == 2 then
    local v, m = string.unpack("=I2", key), string.unpack("=I2", mask)
    body = hexnum(v) .. (exact and "" or "/" .. hexnum(m))
  elseif t == K.CT_STATE and #key == 4 then
    -- The datapath keeps 8 bits of state (sw_flow_key.ct_state) and
    -- dumps that mask: never "exact" in OVS's sense.
    body = flags(u32(key) & 0xff, u32(mask) & 0xff, 0xffffffff, CT_STATES)
  elseif t == K.TCP_FLAGS and #key == 2 then
    body = flags(be(key, 1, 2), exact and 0x0fff or be(mask, 1, 2) & 0x0fff, 0x0fff, TCP_FLAGS)
  elseif t == K.ETHERTYPE and #key == 2 then
    body = string.format("0x%04x", be(key, 1, 2)) .. (exact and "" or string.format("/0x%04x", be(mask, 1, 2)))
  elseif t == K.VLAN and #key == 2 then
    local tci, m = be(key, 1, 2), be(mask, 1, 2)
    body = string.format("vid=%d,pcp=%d", tci & 0x0fff, tci >> 13)
    if m ~= 0xffff then body = body .. string.format(" (mask %#x)", m) end
  elseif t == K.CT_LABELS and #key == 16 then
    -- OVS prints the 128-bit value (host order) most significant first.
    local function hex(s)
      local h = s:reverse():gsub(".", function(c) return string.format("%02x", c:byte()) end):gsub("^0+", "")
      return h == "" and "0" or "0x" .. h
    end
    body = hex(key) .. (exact and "" or "/" .. hex(mask))
  else
    -- OVS calls no mask of an attribute it does not know exact.
    body = hexbytes(key) .. "/" .. hexbytes(mask)
  end
  return name .. "(" .. body .. ")"
end

local format_key

-- The attributes of a key with their masks (all ones without a mask).
local function masked(key, mask)
  local list = M.attrs(key)
  local _, masks = M.attrs(mask or "")
  local out = {}
  for _, a in ipairs(list) do
    local m = mask and masks[a.type] or (mask and "" or string.rep("\255", #a.data))
    if a.type == K.ENCAP then
      out[#out + 1] = { type = a.type, text = "encap(" .. format_key(a.data, mask and masks[a.type]) .. ")" }
    elseif #m == #a.data and not all(m, 0) then
      out[#out + 1] = { type = a.type, text = key_attr(a.type, band(a.data, m), m) }
    elseif a.type == K.ETHERNET then
      out[#out + 1] = { type = a.type, text = "eth()" }   -- OVS prints a wildcarded eth: it says "Ethernet"
    end
  end
  return out
end

format_key = function(key, mask)
  local list = masked(key, mask)
  for i, a in ipairs(list) do a.pos = i end
  table.sort(list, function(a, b)
    local ra, rb = RANK[a.type] or 100, RANK[b.type] or 100
    if ra ~= rb then return ra < rb end
    return a.pos < b.pos
  end)
  local out = {}
  for i, a in ipairs(list) do out[i] = a.text end
  return table.concat(out, ",")
end

function M.key(m)
  if not m.key then return nil end
  return format_key(m.key, m.mask)
end

-- ---- actions -------------------------------------------------------------------

local A = { OUTPUT = 1, USERSPACE = 2, SET = 3, PUSH_VLAN = 4, POP_VLAN = 5, RECIRC = 7, SET_MASKED = 11,
            TRUNC = 13, POP_ETH = 15, CT_CLEAR = 16, METER = 19, DROP = 24 }

local function action(a)
  local t, d = a.type, a.data
  if t == A.OUTPUT and #d == 4 then return tostring(u32(d)) end
  if t == A.RECIRC and #d == 4 then return string.format("recirc(%s)", hexnum(u32(d))) end
  if t == A.POP_VLAN then return "pop_vlan" end
  if t == A.POP_ETH then return "pop_eth" end
  if t == A.CT_CLEAR then return "ct_clear" end
  if t == A.DROP then return "drop" end
  if t == A.METER and #d == 4 then return string.format("meter(%d)", u32(d)) end
  if t == A.TRUNC and #d == 4 then return string.format("trunc(%d)", u32(d)) end
  if t == A.PUSH_VLAN and #d == 4 then
    local tpid, tci = be(d, 1, 2), be(d, 3, 2)
    return string.format("push_vlan(%svid=%d,pcp=%d)", tpid ~= 0x8100 and string.format("tpid=0x%04x,", tpid) or "",
                         tci & 0x0fff, tci >> 13)
  end
  if t == A.SET_MASKED then
    local inner = M.attrs(d)[1]
    if inner and #inner.data % 2 == 0 then
      local n = #inner.data // 2
      local v, m = inner.data:sub(1, n), inner.data:sub(n + 1)
      return "set(" .. key_attr(inner.type, v, m) .. ")"
    end
  end
  if t == A.USERSPACE then
    local _, by = M.attrs(d)
    if by[1] and #by[1] == 4 then return string.format("userspace(pid=%d)", u32(by[1])) end
  end
  return string.format("action%d", t) .. (#d > 0 and "(" .. hexbytes(d) .. ")" or "")
end

-- The actions as dpctl writes them after "actions:"; "drop" for none.
function M.actions(m)
  if not m.actions then return nil end
  local out = {}
  for i, a in ipairs(M.attrs(m.actions)) do out[i] = action(a) end
  return #out > 0 and table.concat(out, ",") or "drop"
end

-- "ufid:" and the UUID form of the 128-bit UFID (four host-order words).
function M.ufid(m)
  if not m.ufid or #m.ufid < 16 then return nil end
  local w1, w2, w3, w4 = string.unpack("=I4I4I4I4", m.ufid)
  return string.format("ufid:%08x-%04x-%04x-%04x-%04x%08x", w1, w2 >> 16, w2 & 0xffff, w3 >> 16, w3 & 0xffff, w4)
end

return M
