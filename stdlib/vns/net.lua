-- net: typed values of the network options, added to vns.options.types:
--
--   addrs   IPv4/IPv6 addresses and CIDRs, comma list   --src-ip --dst-ip --host
--   ports   port numbers and LO-HI ranges, comma list    --src-port --dst-port --port
--   proto   tcp, udp, icmp, icmpv6, sctp, ... or 0-255   --proto (--l4-protocol)
--           (and arp: the ARP ethertype, not an IP protocol)
--   pid     a process id                                 --pid
--   comm    a task name (TASK_COMM_LEN - 1 bytes)        --comm
--
-- Each value is a table made here (an address keeps its bytes, never its
-- text), so the filter compiler writes C only from numbers. A bad value
-- is a usage error naming the option, the value, the part that is wrong
-- and the accepted form.
local options = require "vns.options"
local template = require "vns.template"

local M = {}

M.MAX_ITEMS = 4096       -- entries of one list (a hash map beyond 16)
M.MAX_TEXT = 65536       -- bytes of one option value
M.PID_MAX = 4194304      -- the kernel's PID_MAX_LIMIT

local Addr, Addrs, Ports, Protos, Comm = {}, {}, {}, {}, {}
Addr.__index, Addrs.__index, Ports.__index, Protos.__index, Comm.__index = Addr, Addrs, Ports, Protos, Comm

-- A part of the value, quoted for a message: printable and short.
local function quote(text)
  local shown = #text > 40 and (text:sub(1, 40) .. "...") or text
  return "'" .. shown:gsub("[%c\128-\255]", "?") .. "'"
end

-- ---- addresses ----------------------------------------------------------

-- Dotted quad, decimal, no leading zeros (inet_aton would read 010 as 8).
local function parse_ipv4(text)
  local parts = { text:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$") }
  if #parts ~= 4 then return nil end
  for i, p in ipairs(parts) do
    local n = tonumber(p)
    if n > 255 or (#p > 1 and p:sub(1, 1) == "0") then return nil end
    parts[i] = n
  end
  return string.char(table.unpack(parts))
end

-- Colon groups of an IPv6 address half; the last may be a dotted quad.
local function ipv6_groups(text, v4_tail)
  local out = {}
  if text == "" then return out end
  local parts = {}
  for p in (text .. ":"):gmatch("(.-):") do parts[#parts + 1] = p end
  for i, p in ipairs(parts) do
    if i == #parts and v4_tail and p:find(".", 1, true) then
      local v4 = parse_ipv4(p)
      if not v4 then return nil end
      local a, b, c, d = v4:byte(1, 4)
      out[#out + 1], out[#out + 2] = a * 256 + b, c * 256 + d
    elseif p:match("^%x%x?%x?%x?$") then
      out[#out + 1] = tonumber(p, 16)
    else
      return nil
    end
  end
  return out
end

local function parse_ipv6(text)
  if #text > 45 or not text:find(":", 1, true) then return nil end
  local head, tail = text:match("^(.-)::(.*)$")
  local words
  if head then
    if tail:find("::", 1, true) then return nil end
    local h, t = ipv6_groups(head, false), ipv6_groups(tail, true)
    if not h or not t or #h + #t > 7 then return nil end
    words = h
    for _ = 1, 8 - #h - #t do words[#words + 1] = 0 end
    table.move(t, 1, #t, #words + 1, words)
  else
    words = ipv6_groups(text, true)
    if not words or #words ~= 8 then return nil end
  end
  return string.pack(">I2I2I2I2I2I2I2I2", table.unpack(words))
end

-- RFC 5952 text: lower case, the longest run of zero groups as "::".
local function format_ipv6(bytes)
  local w = { string.unpack(">I2I2I2I2I2I2I2I2", bytes) }
  local best, best_len, i = nil, 1, 1
  while i <= 8 do
    if w[i] == 0 then
      local j = i
      while j < 8 and w[j + 1] == 0 do j = j + 1 end
      if j - i + 1 > best_len then best, best_len = i, j - i + 1 end
      i = j + 1
    else
      i = i + 1
    end
  end
  local function hex(a, b)
    local t = {}
    for k = a, b do t[#t + 1] = string.format("%x", w[k]) end
    return table.concat(t, ":")
  end
  if not best then return hex(1, 8) end
  return hex(1, best - 1) .. "::" .. hex(best + best_len, 8)
end

local function format_addr(family, bytes)
  if family == 4 then return table.concat({ bytes:byte(1, 4) }, ".") end
  return format_ipv6(bytes)
end

-- The bytes with every bit past prefix cleared.
local function mask_bytes(bytes, prefix)
  local out = {}
  for i = 1, #bytes do
    local keep = math.max(0, math.min(8, prefix - (i - 1) * 8))
    out[i] = bytes:byte(i) & ((0xff << (8 - keep)) & 0xff)
  end
  return string.char(table.unpack(out))
end

function Addr:__tostring()
  local text = format_addr(self.family, self.bytes)
  if self.prefix == #self.bytes * 8 then return text end
  return text .. "/" .. self.prefix
end

function Addr:is_host() return self.prefix == #self.bytes * 8 end

-- One address or CIDR; returns an Addr or nil, why.
function M.addr(text)
  local addr, prefix = text:match("^([^/]*)/(%d%d?%d?)$")
  if not addr and text:find("/", 1, true) then return nil, quote(text) .. " has a bad prefix length" end
  addr = addr or text
  local bytes, family = parse_ipv4(addr), 4
  if not bytes then bytes, family = parse_ipv6(addr), 6 end
  if not bytes then return nil, quote(text) .. " is not an IPv4 or IPv6 address" end
  local bits = #bytes * 8
  if prefix and (tonumber(prefix) > bits or (#prefix > 1 and prefix:sub(1, 1) == "0")) then
    return nil, string.format("%s: the prefix length must be 0-%d", quote(text), bits)
  end
  prefix = tonumber(prefix) or bits
  local net = mask_bytes(bytes, prefix)
  local v = setmetatable({ family = family, bytes = net, prefix = prefix }, Addr)
  if net ~= bytes then
    return nil, string.format("%s has host bits set; the network is %s", quote(text), tostring(v))
  end
  return v
end

-- Split a comma list; each item through one(item) -> value or nil, why.
local function list(text, one, meta)
  if #text > M.MAX_TEXT then return nil, string.format("longer than %d bytes", M.MAX_TEXT) end
  local out, seen = setmetatable({}, meta), {}
  for item in (text .. ","):gmatch("(.-),") do
    if item == "" then return nil, "an empty item in the list" end
    local v, why = one(item)
    if v == nil then return nil, why end
    local id = tostring(v)
    if not seen[id] then
      seen[id] = true
      out[#out + 1] = v
      if #out > M.MAX_ITEMS then return nil, string.format("more than %d items", M.MAX_ITEMS) end
    end
  end
  return out
end

function M.addrs(text) return list(text, M.addr, Addrs) end

function Addrs:__tostring()
  local t = {}
  for i, a in ipairs(self) do t[i] = tostring(a) end
  return table.concat(t, ",")
end

-- The items of one family (4 or 6).
function Addrs:family(family)
  local out = {}
  for _, a in ipairs(self) do if a.family == family then out[#out + 1] = a end end
  return out
end

-- ---- ports ----------------------------------------------------------------

local function port_number(text)
  if not text:match("^%d%d?%d?%d?%d?$") then return nil end
  local n = tonumber(text)
  if n <= 65535 then return n end
end

-- "80" or "8000-8100": {lo = n, hi = n}.
function M.port_range(text)
  local a, b = text:match("^([^-]*)%-([^-]*)$")
  local lo, hi = port_number(a or text), port_number(b or text)
  if not lo or not hi then return nil, quote(text) .. " is not a port (0-65535) or a range LO-HI" end
  if lo > hi then return nil, quote(text) .. ": the range ends before it starts" end
  return setmetatable({ lo = lo, hi = hi }, {
    __tostring = function(r) return r.lo == r.hi and tostring(r.lo) or (r.lo .. "-" .. r.hi) end })
end

function M.ports(text)
  local v, why = list(text, M.port_range, Ports)
  if v then table.sort(v, function(x, y) return x.lo < y.lo or (x.lo == y.lo and x.hi < y.hi) end) end
  return v, why
end

Ports.__tostring = Addrs.__tostring

-- ---- protocols --------------------------------------------------------------

M.protocols = { icmp = 1, igmp = 2, tcp = 6, udp = 17, dccp = 33, gre = 47, esp = 50, ah = 51,
                icmpv6 = 58, icmp6 = 58, sctp = 132, udplite = 136 }

local proto_names = {}
for name, n in pairs(M.protocols) do
  if name ~= "icmp6" then proto_names[n] = name end
end

local function proto_text(p) return p.name or tostring(p.num) end

function M.protocol(text)
  if text:lower() == "arp" then
    return setmetatable({ arp = true, name = "arp" }, { __tostring = proto_text })
  end
  local n = M.protocols[text:lower()]
  if not n and text:match("^%d%d?%d?$") and tonumber(text) <= 255 then n = tonumber(text) end
  if not n then return nil, quote(text) .. " is not a protocol name, a number 0-255 or arp" end
  return setmetatable({ num = n, name = proto_names[n] }, { __tostring = proto_text })
end

function M.protos(text) return list(text, M.protocol, Protos) end

Protos.__tostring = Addrs.__tostring

-- ---- pid and comm -----------------------------------------------------------

function M.pid(text)
  if text:match("^[1-9]%d?%d?%d?%d?%d?%d?$") and tonumber(text) <= M.PID_MAX then
    return math.tointeger(tonumber(text))
  end
end

-- A task's comm is at most 15 bytes (TASK_COMM_LEN 16 with the NUL).
-- The kernel takes any bytes but NUL; we take printable ASCII, no quotes
-- or backslash, no C comment marks: the value becomes two integers, and
-- a name a shell user can type unambiguously.
function M.comm(text)
  if #text < 1 or #text > 15 then return nil, "a comm has 1-15 bytes" end
  if text:find("[^ -~]") or text:find("[\"'\\]") or text:find("/*", 1, true) or text:find("*/", 1, true) then
    return nil, "only printable ASCII without quotes, backslash, '/*' or '*/'"
  end
  return setmetatable({ name = text }, Comm)
end

function Comm:__tostring() return self.name end

-- The zero-padded char[16] as two 64-bit words, as a program loads them.
function Comm:words() return template.ifname_words(self.name) end

-- Task names, comma-separated, a trailing * making one a prefix
-- (ovs-vswitchd,vhost-*,qemu*): a list of {name, prefix}, each name
-- checked as a comm; at most 8 (each is a test in the program).
M.MAX_COMMS = 8
function M.comms(text)
  local list = {}
  for item in (text .. ","):gmatch("([^,]*),") do
    local ok, why = M.comm(item)
    if not ok then return nil, why end
    local name, star = item:match("^(.-)(%*?)$")
    if name == "" or name:find("*", 1, true) then return nil, "'*' only at the end of a name" end
    list[#list + 1] = { name = name, prefix = star == "*" }
  end
  if #list > M.MAX_COMMS then return nil, "at most " .. M.MAX_COMMS .. " names" end
  return list
end

-- ---- option types -----------------------------------------------------------

options.types.addrs = {
  parse = function(text) return M.addrs(text) end,
  form = function() return "IPv4/IPv6 addresses or CIDRs, comma-separated (10.0.0.1, 10.0.0.0/24, fd00::1, fd00::/64)" end,
}
options.types.ports = {
  parse = function(text) return M.ports(text) end,
  form = function() return "ports 0-65535 or ranges LO-HI, comma-separated (80, 8000-8100, 53,80,443)" end,
}
options.types.proto = {
  parse = function(text) return M.protos(text) end,
  form = function() return "tcp, udp, icmp, icmpv6, sctp (or another name) or a number 0-255, or arp; comma-separated" end,
}
-- Device lists (--phy-dev eth0,eth1): 1-8 interface names.
M.MAX_IFNAMES = 8
options.types.ifnames = {
  parse = function(text)
    local out = {}
    for name in (text .. ","):gmatch("([^,]*),") do
      if not options.types.ifname.parse(name) or #out >= M.MAX_IFNAMES then return nil end
      out[#out + 1] = name
    end
    return out
  end,
  form = function() return "1-" .. M.MAX_IFNAMES .. " interface names, comma-separated (eth0 or eth0,eth1)" end,
}
options.types.pid = {
  parse = function(text) return M.pid(text) end,
  form = function() return string.format("a process id from 1 to %d", M.PID_MAX) end,
}
options.types.comm = {
  parse = function(text) return M.comm(text) end,
  form = function() return "a task name of 1-15 printable characters" end,
}

options.types.comms = {
  parse = function(text) return M.comms(text) end,
  form = function() return "task names, comma-separated, a trailing * for a prefix (ovs-vswitchd,vhost-*,qemu*)" end,
}

-- The common options of DESIGN.md, by name; options{...} picks some.
M.specs = {
  ["src-ip"] = { type = "addrs", metavar = "ADDR[,..]", help = "source address or CIDR (IPv4/IPv6)" },
  ["dst-ip"] = { type = "addrs", metavar = "ADDR[,..]", help = "destination address or CIDR" },
  host = { type = "addrs", metavar = "ADDR[,..]", help = "source or destination address or CIDR" },
  ["src-port"] = { type = "ports", metavar = "PORT[,..]", help = "source port, LO-HI range or list" },
  ["dst-port"] = { type = "ports", metavar = "PORT[,..]", help = "destination port, range or list" },
  port = { type = "ports", metavar = "PORT[,..]", help = "source or destination port, range or list" },
  proto = { type = "proto", metavar = "PROTO", aliases = { "l4-protocol" },
            help = "L4 protocol: tcp, udp, icmp, icmpv6, sctp or a number; or arp" },
  pid = { type = "pid", metavar = "PID", help = "only this process" },
  comm = { type = "comm", metavar = "COMM", help = "only tasks of this name" },
  dev = { type = "ifname", metavar = "DEV", help = "only packets on this device" },
  threshold = { type = "nanoseconds", metavar = "TIME", help = "only latencies of at least this (100us, 2ms)" },
}

function M.options(names)
  local out = {}
  for _, name in ipairs(names) do
    local s = assert(M.specs[name], "vns.net: no option named " .. tostring(name))
    local copy = { name = name }
    for k, v in pairs(s) do copy[k] = v end
    out[#out + 1] = copy
  end
  return out
end

-- ---- flows read back from a program ----------------------------------------

-- An address a program copied from the packet as u32 words (struct
-- vns_flow's saddr/daddr), decoded by the engine as host-order integers.
function M.wire_addr(family, words)
  local n = family == 4 and 1 or 4
  local bytes = {}
  for i = 1, n do bytes[i] = string.pack("<I4", words[i] & 0xffffffff) end
  return format_addr(family, table.concat(bytes))
end

-- A port a program copied in network byte order.
function M.wire_port(v) return ((v & 0xff) << 8) | ((v >> 8) & 0xff) end

function M.proto_name(n) return proto_names[n] or tostring(n) end

local arp_ops = { "request", "reply", "rarp-request", "rarp-reply" }

function M.arp_op_name(op) return arp_ops[op] or ("op " .. op) end

-- The 5-tuple of t (struct vns_flow_key, or an event with the same field
-- names) as JSON-ready fields of row: family, proto (name), src, dst,
-- and sport/dport when it has ports; for ARP proto "arp", arp_op, src
-- (sender) and dst (target). Returns false for others (row unchanged).
function M.flow_fields(t, row)
  if t.arp_op and t.arp_op ~= 0 then
    row.proto, row.arp_op = "arp", M.arp_op_name(t.arp_op)
    row.src, row.dst = M.wire_addr(4, t.saddr), M.wire_addr(4, t.daddr)
    return true
  end
  if t.family ~= 4 and t.family ~= 6 then return false end
  row.family, row.proto = t.family, M.proto_name(t.proto)
  row.src, row.dst = M.wire_addr(t.family, t.saddr), M.wire_addr(t.family, t.daddr)
  if t.has_ports ~= 0 then row.sport, row.dport = M.wire_port(t.sport), M.wire_port(t.dport) end
  return true
end

-- A flow for people: "udp 10.0.0.1:5353 > 10.0.0.2:53", "icmp 10.0.0.1 > 10.0.0.2 type 8/0",
-- "[fd00::1]:80 > ...", "vlan 10" first when tagged; "-" for non-IP.
-- f has family, proto, saddr, daddr (wire words), sport, dport (wire),
-- has_ports, icmp_type, icmp_code, nvlan, vlan, ethertype (wire), and
-- arp_op when ARP was parsed: "arp request 10.0.0.1 > 10.0.0.2" (sender
-- > target).
function M.flow_text(f)
  local parts = {}
  if f.nvlan and f.nvlan > 0 then parts[#parts + 1] = "vlan " .. f.vlan end
  if f.arp_op and f.arp_op ~= 0 then
    parts[#parts + 1] = string.format("arp %s %s > %s", M.arp_op_name(f.arp_op),
                                      M.wire_addr(4, f.saddr), M.wire_addr(4, f.daddr))
    return table.concat(parts, " ")
  end
  if f.family ~= 4 and f.family ~= 6 then
    parts[#parts + 1] = string.format("ethertype 0x%04x", M.wire_port(f.ethertype or 0))
    return table.concat(parts, " ")
  end
  local src, dst = M.wire_addr(f.family, f.saddr), M.wire_addr(f.family, f.daddr)
  if f.has_ports and f.has_ports ~= 0 then
    local function hp(a, p) return (f.family == 6 and "[" .. a .. "]" or a) .. ":" .. M.wire_port(p) end
    src, dst = hp(src, f.sport), hp(dst, f.dport)
  end
  parts[#parts + 1] = string.format("%s %s > %s", M.proto_name(f.proto), src, dst)
  if (f.proto == 1 or f.proto == 58) and f.icmp_type then parts[#parts + 1] = string.format("type %d/%d", f.icmp_type, f.icmp_code) end
  return table.concat(parts, " ")
end

M.Addr, M.Addrs, M.Ports, M.Protos, M.Comm = Addr, Addrs, Ports, Protos, Comm
M.format_addr = format_addr

return M
