-- vns.filter: golden C for a table of expressions and flow options,
-- cheapest-first order, large sets as maps, malformed expressions
-- refused with a usage error. Values given at launch are run-time
-- constants, VNS_VALUE(T, 0x...), in the byte order of this
-- (little-endian) host: 10.0.0.1 loads as VNS_VALUE(u32, 0x100000a),
-- port 80 as VNS_VALUE(u16, 0x5000), tcp as VNS_VALUE(u8, 0x6). The
-- protocol a port qualifier implies ("tcp port 80") stays a literal.
local filter = require "vns.filter"
local options = require "vns.options"
local template = require "vns.template"
local h = require "helpers"
local eq, usage_err, checkerr, has, hasnt = h.eq, h.usage_err, h.checkerr, h.has, h.hasnt

local specs = filter.options()

local function compile(argv, cfg) return filter.compile(options.parse(specs, argv), cfg) end
local function expr(text) return compile({ "--filter", text }).text end

-- n comma-separated items from a format with %d or %x.
local function list(fmt, n)
  local t = {}
  for i = 1, n do t[i] = string.format(fmt, i) end
  return table.concat(t, ",")
end

local T = {}

local golden = {
    { "host 10.0.0.1",
      "f.family == 4 && (f.saddr[0] == VNS_VALUE(u32, 0x100000a) || f.daddr[0] == VNS_VALUE(u32, 0x100000a))" },
    { "src host 10.0.0.1",
      "f.family == 4 && f.saddr[0] == VNS_VALUE(u32, 0x100000a)" },
    { "dst 10.0.0.1",
      "f.family == 4 && f.daddr[0] == VNS_VALUE(u32, 0x100000a)" },
    { "src or dst host 10.0.0.1",
      "f.family == 4 && (f.saddr[0] == VNS_VALUE(u32, 0x100000a) || f.daddr[0] == VNS_VALUE(u32, 0x100000a))" },
    { "src and dst host 10.0.0.1",
      "f.family == 4 && f.saddr[0] == VNS_VALUE(u32, 0x100000a) && f.daddr[0] == VNS_VALUE(u32, 0x100000a)" },
    { "net 10.0.0.0/8",
      "f.family == 4 && ((f.saddr[0] & VNS_VALUE(u32, 0xff)) == VNS_VALUE(u32, 0xa) || (f.daddr[0] & VNS_VALUE(u32, 0xff)) == VNS_VALUE(u32, 0xa))" },
    { "net 0.0.0.0/0",
      "f.family == 4" },
    { "net 10.1.2.0/23",
      "f.family == 4 && ((f.saddr[0] & VNS_VALUE(u32, 0xfeffff)) == VNS_VALUE(u32, 0x2010a) || (f.daddr[0] & VNS_VALUE(u32, 0xfeffff)) == VNS_VALUE(u32, 0x2010a))" },
    { "host fd00::1",
      "f.family == 6 && ((f.saddr[0] == VNS_VALUE(u32, 0xfd) && f.saddr[1] == VNS_VALUE(u32, 0x0) && f.saddr[2] == VNS_VALUE(u32, 0x0) && f.saddr[3] == VNS_VALUE(u32, 0x1000000)) || (f.daddr[0] == VNS_VALUE(u32, 0xfd) && f.daddr[1] == VNS_VALUE(u32, 0x0) && f.daddr[2] == VNS_VALUE(u32, 0x0) && f.daddr[3] == VNS_VALUE(u32, 0x1000000)))" },
    { "net fd00::/16",
      "f.family == 6 && ((f.saddr[0] & VNS_VALUE(u32, 0xffff)) == VNS_VALUE(u32, 0xfd) || (f.daddr[0] & VNS_VALUE(u32, 0xffff)) == VNS_VALUE(u32, 0xfd))" },
    { "net 2001:db8::/33",
      "f.family == 6 && ((f.saddr[0] == VNS_VALUE(u32, 0xb80d0120) && (f.saddr[1] & VNS_VALUE(u32, 0x80)) == VNS_VALUE(u32, 0x0)) || (f.daddr[0] == VNS_VALUE(u32, 0xb80d0120) && (f.daddr[1] & VNS_VALUE(u32, 0x80)) == VNS_VALUE(u32, 0x0)))" },
    { "ip host 10.0.0.1",
      "f.family == 4 && (f.saddr[0] == VNS_VALUE(u32, 0x100000a) || f.daddr[0] == VNS_VALUE(u32, 0x100000a))" },
    { "ip6 net fd00::/8",
      "f.family == 6 && ((f.saddr[0] & VNS_VALUE(u32, 0xff)) == VNS_VALUE(u32, 0xfd) || (f.daddr[0] & VNS_VALUE(u32, 0xff)) == VNS_VALUE(u32, 0xfd))" },
    { "port 80",
      "vns_flow_l4(&f) && (f.sport == VNS_VALUE(u16, 0x5000) || f.dport == VNS_VALUE(u16, 0x5000))" },
    { "src port 80",
      "vns_flow_l4(&f) && f.sport == VNS_VALUE(u16, 0x5000)" },
    { "tcp dst port 443",
      "f.proto == 6 && vns_flow_l4(&f) && f.dport == VNS_VALUE(u16, 0xbb01)" },
    { "udp port 53,5353",
      "f.proto == 17 && vns_flow_l4(&f) && (f.sport == VNS_VALUE(u16, 0x3500) || f.sport == VNS_VALUE(u16, 0xe914) || f.dport == VNS_VALUE(u16, 0x3500) || f.dport == VNS_VALUE(u16, 0xe914))" },
    { "portrange 1000-2000",
      "vns_flow_l4(&f) && ((vns_ntohs(f.sport) >= VNS_VALUE(u16, 0x3e8) && vns_ntohs(f.sport) <= VNS_VALUE(u16, 0x7d0)) || (vns_ntohs(f.dport) >= VNS_VALUE(u16, 0x3e8) && vns_ntohs(f.dport) <= VNS_VALUE(u16, 0x7d0)))" },
    { "port 0",
      "vns_flow_l4(&f) && f.has_ports && (f.sport == VNS_VALUE(u16, 0x0) || f.dport == VNS_VALUE(u16, 0x0))" },
    { "port 0-1023",
      "vns_flow_l4(&f) && f.has_ports && (vns_ntohs(f.sport) <= VNS_VALUE(u16, 0x3ff) || vns_ntohs(f.dport) <= VNS_VALUE(u16, 0x3ff))" },
    { "port 1024-65535",
      "vns_flow_l4(&f) && (vns_ntohs(f.sport) >= VNS_VALUE(u16, 0x400) || vns_ntohs(f.dport) >= VNS_VALUE(u16, 0x400))" },
    { "port 0-65535",
      "vns_flow_l4(&f) && f.has_ports" },
    { "tcp",
      "f.proto == VNS_VALUE(u8, 0x6)" },
    { "udp",
      "f.proto == VNS_VALUE(u8, 0x11)" },
    { "icmp",
      "f.proto == VNS_VALUE(u8, 0x1)" },
    { "icmp6",
      "f.proto == VNS_VALUE(u8, 0x3a)" },
    { "sctp",
      "f.proto == VNS_VALUE(u8, 0x84)" },
    { "ip",
      "f.family == 4" },
    { "ip6",
      "f.family == 6" },
    { "proto 47",
      "f.proto == VNS_VALUE(u8, 0x2f)" },
    { "ip proto 17",
      "f.family == 4 && f.proto == VNS_VALUE(u8, 0x11)" },
    { "ip6 proto tcp",
      "f.family == 6 && f.proto == VNS_VALUE(u8, 0x6)" },
    { "proto 0",
      "f.family != 0 && f.proto == VNS_VALUE(u8, 0x0)" },
    { "vlan",
      "f.nvlan != 0" },
    { "vlan 100",
      "f.vlan == VNS_VALUE(u16, 0x64)" },
    { "vlan 0",
      "f.nvlan != 0 && f.vlan == VNS_VALUE(u16, 0x0)" },
    { "not tcp",
      "f.proto != VNS_VALUE(u8, 0x6)" },
    { "not (tcp or udp)",
      "!(f.proto == VNS_VALUE(u8, 0x6) || f.proto == VNS_VALUE(u8, 0x11))" },
    { "!tcp && !udp",
      "f.proto != VNS_VALUE(u8, 0x6) && f.proto != VNS_VALUE(u8, 0x11)" },
    { "tcp and not port 22",
      "f.proto == VNS_VALUE(u8, 0x6) && !(vns_flow_l4(&f) && (f.sport == VNS_VALUE(u16, 0x1600) || f.dport == VNS_VALUE(u16, 0x1600)))" },
    { "tcp || udp",
      "f.proto == VNS_VALUE(u8, 0x6) || f.proto == VNS_VALUE(u8, 0x11)" },
    { "host 10.0.0.1 and port 80 and tcp",
      "f.family == 4 && f.proto == VNS_VALUE(u8, 0x6) && (f.saddr[0] == VNS_VALUE(u32, 0x100000a) || f.daddr[0] == VNS_VALUE(u32, 0x100000a)) && vns_flow_l4(&f) && (f.sport == VNS_VALUE(u16, 0x5000) || f.dport == VNS_VALUE(u16, 0x5000))" },
    { "port 80 or port 443",
      "vns_flow_l4(&f) && (f.sport == VNS_VALUE(u16, 0x5000) || f.dport == VNS_VALUE(u16, 0x5000) || f.sport == VNS_VALUE(u16, 0xbb01) || f.dport == VNS_VALUE(u16, 0xbb01))" },
    { "tcp port 80 or udp port 53",
      "(f.proto == 6 && vns_flow_l4(&f) && (f.sport == VNS_VALUE(u16, 0x5000) || f.dport == VNS_VALUE(u16, 0x5000))) || (f.proto == 17 && vns_flow_l4(&f) && (f.sport == VNS_VALUE(u16, 0x3500) || f.dport == VNS_VALUE(u16, 0x3500)))" },
    { "ip and ip",
      "f.family == 4" },
    { "not not tcp",
      "f.proto == VNS_VALUE(u8, 0x6)" },
    { "(host 10.0.0.1)",
      "f.family == 4 && (f.saddr[0] == VNS_VALUE(u32, 0x100000a) || f.daddr[0] == VNS_VALUE(u32, 0x100000a))" },
}

function T.golden_expressions()
  for _, g in ipairs(golden) do eq(expr(g[1]), g[2], g[1]) end
end

-- Flow options are ANDed with each other and with --filter.
function T.golden_flow_options()
  local cases = {
    { { "--src-ip", "10.0.0.1", "--dst-ip", "10.0.0.2", "--proto", "icmp" },
      "f.family == 4 && f.proto == VNS_VALUE(u8, 0x1) && f.saddr[0] == VNS_VALUE(u32, 0x100000a) && f.daddr[0] == VNS_VALUE(u32, 0x200000a)" },
    { { "--host", "10.0.0.0/8,fd00::/8", "--port", "80,443", "--filter", "not udp" },
      "f.proto != VNS_VALUE(u8, 0x11) && ((f.family == 4 && ((f.saddr[0] & VNS_VALUE(u32, 0xff)) == VNS_VALUE(u32, 0xa) || (f.daddr[0] & VNS_VALUE(u32, 0xff)) == VNS_VALUE(u32, 0xa))) || (f.family == 6 && ((f.saddr[0] & VNS_VALUE(u32, 0xff)) == VNS_VALUE(u32, 0xfd) || (f.daddr[0] & VNS_VALUE(u32, 0xff)) == VNS_VALUE(u32, 0xfd)))) && vns_flow_l4(&f) && (f.sport == VNS_VALUE(u16, 0x5000) || f.sport == VNS_VALUE(u16, 0xbb01) || f.dport == VNS_VALUE(u16, 0x5000) || f.dport == VNS_VALUE(u16, 0xbb01))" },
    { { "--dst-port", "53", "--l4-protocol", "udp,tcp", "--src-ip", "fd00::/16" },
      "f.family == 6 && (f.proto == VNS_VALUE(u8, 0x11) || f.proto == VNS_VALUE(u8, 0x6)) && (f.saddr[0] & VNS_VALUE(u32, 0xffff)) == VNS_VALUE(u32, 0xfd) && vns_flow_l4(&f) && f.dport == VNS_VALUE(u16, 0x3500)" },
    { { "--src-port", "1-1023" },
      "vns_flow_l4(&f) && vns_ntohs(f.sport) >= VNS_VALUE(u16, 0x1) && vns_ntohs(f.sport) <= VNS_VALUE(u16, 0x3ff)" },
    { {}, "1" },
  }
  for _, c in ipairs(cases) do eq(compile(c[1]).text, c[2], table.concat(c[1], " ")) end
end

-- Cheapest first whatever the order written: family, L4 protocol,
-- addresses, the L4 read, ports.
function T.cheapest_first()
  local want = "f.family == 4 && f.proto == VNS_VALUE(u8, 0x6) && f.daddr[0] == VNS_VALUE(u32, 0x100000a) && vns_flow_l4(&f) && f.dport == VNS_VALUE(u16, 0x5000)"
  eq(expr("dst port 80 and dst host 10.0.0.1 and tcp"), want)
  eq(expr("tcp and dst port 80 and dst host 10.0.0.1"), want)
  eq(compile({ "--dst-port", "80", "--dst-ip", "10.0.0.1", "--proto", "tcp" }).text, want)
  -- A test shared by every branch moves out only when no cheaper test
  -- stays behind: the protocol is tested before the L4 header is read.
  eq(expr("tcp port 80 or udp port 53"),
     "(f.proto == 6 && vns_flow_l4(&f) && (f.sport == VNS_VALUE(u16, 0x5000) || f.dport == VNS_VALUE(u16, 0x5000))) || "
       .. "(f.proto == 17 && vns_flow_l4(&f) && (f.sport == VNS_VALUE(u16, 0x3500) || f.dport == VNS_VALUE(u16, 0x3500)))")
end

function T.needs_l3_and_l4()
  local none = compile({})
  eq({ none.needs_l3, none.needs_l4 }, { false, false })
  local l3 = compile({ "--filter", "host 10.0.0.1 and tcp" })
  eq({ l3.needs_l3, l3.needs_l4 }, { true, false })
  local l4 = compile({ "--proto", "udp", "--port", "53" })
  eq({ l4.needs_l3, l4.needs_l4 }, { true, true })
  eq(compile({ "--filter", "not port 22" }).needs_l4, true)
end

-- Only the families the expression can hold for are parsed.
function T.families_to_parse()
  local function flags(argv) return compile(argv).l3_flags.text end
  eq(flags({}), "VNS_FLOW_IP")
  eq(flags({ "--dst-ip", "10.0.0.1", "--port", "80" }), "VNS_FLOW_IPV4")
  eq(flags({ "--filter", "ip6 and tcp" }), "VNS_FLOW_IPV6")
  eq(flags({ "--host", "10.0.0.1,fd00::1" }), "VNS_FLOW_IP")
  eq(flags({ "--filter", "not ip" }), "VNS_FLOW_IP")
  eq(flags({ "--filter", "ip or tcp" }), "VNS_FLOW_IP")
  eq(compile({ "--filter", "ip6" }).families, { [6] = true })
  -- ARP needs no IP header; a program that shows ARP asks for it.
  eq(flags({ "--proto", "arp" }), "0")
  eq(flags({ "--filter", "arp or udp" }), "VNS_FLOW_IP")
  eq(compile({ "--proto", "arp" }, { arp = true }).l3_flags.text, "VNS_FLOW_ARP")
  eq(compile({ "--dst-ip", "10.0.0.1" }, { arp = true }).l3_flags.text, "VNS_FLOW_IPV4 | VNS_FLOW_ARP")
  eq(template.is_typed(compile({}).l3_flags), true)
end

function T.results_are_template_values()
  local c = compile({ "--filter", "tcp" })
  eq(template.is_typed(c.expr), true)
  eq(template.is_typed(c.decls), true)
  eq(template.render("if (!({{ FILTER }})) return 0;\n{{ MAPS }}", { FILTER = c.expr, MAPS = c.decls }),
     "if (!(f.proto == VNS_VALUE(u8, 0x6))) return 0;\n/* no filter maps */")
end

function T.flow_variable_and_map_prefix()
  eq(compile({ "--filter", "udp port 53" }, { flow = "fl" }).text,
     "fl.proto == 17 && vns_flow_l4(&fl) && (fl.sport == VNS_VALUE(u16, 0x3500) || fl.dport == VNS_VALUE(u16, 0x3500))")
  for _, bad in ipairs({ "f.x", "1f", "f;", "", "f g", "f/*" }) do
    checkerr("cfg.flow must be a C identifier", filter.compile, {}, { flow = bad })
    checkerr("cfg.map_prefix must be a C identifier", filter.compile, {}, { map_prefix = bad })
  end
  local c = compile({ "--src-ip", list("10.0.1.%d", 17) }, { map_prefix = "form3_set" })
  eq(c.maps[1].name, "form3_set1")
end

-- Only values made by vns.net and vns.filter are accepted.
function T.untyped_values_refused()
  checkerr("opts.src_ip is not a value of vns.net", filter.compile, { src_ip = "10.0.0.1" })
  checkerr("opts.port is not a value of vns.net", filter.compile, { port = 80 })
  checkerr("opts.proto is not a value of vns.net", filter.compile, { proto = { { num = 6 } } })
  checkerr("opts.filter is not a parsed --filter", filter.compile, { filter = "tcp" })
  checkerr("opts.host is not a value of vns.net", filter.compile,
           { host = options.parse(specs, { "--port", "80" }).port })
end

-- 16 values compare with branches; 17 go to a map.
function T.sets_up_to_16_are_branches()
  local c = compile({ "--src-ip", list("10.0.1.%d", 16) })
  eq(#c.maps, 0)
  eq(select(2, c.text:gsub("f%.saddr%[0%] ==", "")), 16)
  eq(c.decl_text, "/* no filter maps */")
end

function T.set_of_ipv4_hosts_is_a_hash()
  local c = compile({ "--src-ip", list("10.0.1.%d", 17) })
  eq(c.text, "f.family == 4 && vns_set1.lookup(&f.saddr[0]) != 0")
  eq(c.decl_text, "BPF_HASH(vns_set1, u32, u8, 17);")
  eq(#c.maps[1].entries, 17)
  eq(c.maps[1].entries[1], 0x0101000a)
  eq(c.maps[1].entries[17], 0x1101000a)
end

function T.set_of_ipv4_networks_is_an_lpm_trie()
  local c = compile({ "--host", list("10.0.%d.0/24", 16) .. ",10.1.0.1" })
  eq(c.text, "f.family == 4 && (({ struct vns_lpm4 vns_k = { 32, f.saddr[0] }; vns_set1.lookup(&vns_k) != 0; }) || "
               .. "({ struct vns_lpm4 vns_k = { 32, f.daddr[0] }; vns_set1.lookup(&vns_k) != 0; }))")
  eq(c.decl_text, "BPF_LPM_TRIE(vns_set1, struct vns_lpm4, u8, 17);")
  eq(c.maps[1].entries[1], { prefixlen = 24, addr = 0x0001000a })
  eq(c.maps[1].entries[17], { prefixlen = 32, addr = 0x0100010a })
end

function T.sets_of_ipv6()
  local hosts = compile({ "--dst-ip", list("fd00::%x", 17) })
  eq(hosts.text, "f.family == 6 && vns_set1.lookup((struct vns_in6 *)f.daddr) != 0")
  eq(hosts.decl_text, "BPF_HASH(vns_set1, struct vns_in6, u8, 17);")
  eq(hosts.maps[1].entries[1], { w = { 0xfd, 0, 0, 0x01000000 } })
  local nets = compile({ "--src-ip", list("fd00:%x::/32", 17) })
  eq(nets.text, "f.family == 6 && ({ struct vns_lpm6 vns_k = { 128, { f.saddr[0], f.saddr[1], f.saddr[2], "
                  .. "f.saddr[3] } }; vns_set1.lookup(&vns_k) != 0; })")
  eq(nets.decl_text, "BPF_LPM_TRIE(vns_set1, struct vns_lpm6, u8, 17);")
  eq(nets.maps[1].entries[2], { prefixlen = 32, addr = { 0x020000fd, 0, 0, 0 } })
end

-- Each family of a mixed list is counted on its own: 17 IPv4 go to a
-- map, 2 IPv6 stay branches.
function T.mixed_families_count_separately()
  local c = compile({ "--src-ip", list("10.0.1.%d", 17) .. ",fd00::1,fd00::2" })
  eq(#c.maps, 1)
  has(c.text, "f.family == 4 && vns_set1.lookup(&f.saddr[0]) != 0")
  has(c.text, "f.family == 6 && ")
end

function T.set_of_ports_is_a_hash_ranges_stay()
  local c = compile({ "--port", list("%d", 17) .. ",1000-2000" })
  eq(c.text, "vns_flow_l4(&f) && (vns_set1.lookup(&f.sport) != 0 || (vns_ntohs(f.sport) >= VNS_VALUE(u16, 0x3e8) && "
               .. "vns_ntohs(f.sport) <= VNS_VALUE(u16, 0x7d0)) || vns_set1.lookup(&f.dport) != 0 || "
               .. "(vns_ntohs(f.dport) >= VNS_VALUE(u16, 0x3e8) && vns_ntohs(f.dport) <= VNS_VALUE(u16, 0x7d0)))")
  eq(c.decl_text, "BPF_HASH(vns_set1, u16, u8, 17);")
  eq(#c.maps, 1)  -- one map for both directions
  eq(c.maps[1].entries[1], 0x0100)  -- port 1 as the packet's bytes 00 01 load
end

-- 17 ranges are too many branches: their ports go to the map.
function T.many_ranges_become_a_set()
  local pairs_ = {}
  for i = 1, 17 do pairs_[i] = string.format("%d-%d", i * 1000, i * 1000 + 1) end
  local c = compile({ "--dst-port", table.concat(pairs_, ",") })
  eq(c.text, "vns_flow_l4(&f) && vns_set1.lookup(&f.dport) != 0")
  eq(#c.maps[1].entries, 34)
  local wide = {}
  for i = 1, 17 do wide[i] = string.format("%d-%d", i * 1000, i * 1000 + 300) end
  local err = usage_err("more than 16 ranges cover more than 4096 ports", compile,
                        { "--port", table.concat(wide, ",") })
  eq(err.code, 2)
  eq(#compile({ "--port", table.concat(wide, ",", 1, 16) }).maps, 0)
end

-- ARP is its ethertype; it has no IP addresses or ports to combine with.
function T.arp()
  eq(compile({ "--proto", "arp" }).text, "f.ethertype == 0x0608")
  eq(expr("arp or tcp"), "f.ethertype == 0x0608 || f.proto == VNS_VALUE(u8, 0x6)")
  eq(expr("not arp"), "f.ethertype != 0x0608")
  eq(compile({ "--proto", "arp,udp", "--dst-port", "53" }).needs_l4, true)
  local err = usage_err("option --proto: 'arp' has no IP addresses or ports, so --dst-ip never matches",
                        compile, { "--proto", "arp", "--dst-ip", "10.0.0.1" })
  eq(err.code, 2)
end

function T.set_of_protocols_is_a_hash()
  local c = compile({ "--proto", list("%d", 17) })
  eq(c.text, "vns_set1.lookup(&f.proto) != 0")
  eq(c.decl_text, "BPF_HASH(vns_set1, u8, u8, 17);")
end

function T.maps_numbered_per_compile()
  local c = compile({ "--src-ip", list("10.0.1.%d", 17), "--dst-port", list("%d", 20),
                      "--filter", "host " .. list("10.0.2.%d", 17) })
  local names = {}
  for i, m in ipairs(c.maps) do names[i] = m.name end
  eq(names, { "vns_set1", "vns_set2", "vns_set3" })
  eq(c.decl_text, "BPF_HASH(vns_set1, u32, u8, 17);\nBPF_HASH(vns_set2, u16, u8, 20);\n"
                    .. "BPF_HASH(vns_set3, u32, u8, 17);")
end

function T.fill_writes_every_entry()
  local c = compile({ "--src-ip", list("10.0.1.%d", 17), "--dst-port", list("%d", 20) })
  local written = {}
  local prog = { table = function(_, name)
    return { update = function(_, k, v) written[#written + 1] = { name, k, v }; return true end }
  end }
  filter.fill(prog, c)
  eq(#written, 37)
  eq(written[1], { "vns_set1", 0x0101000a, 1 })
  eq(written[37], { "vns_set2", 0x1400, 1 })
  local failing = { table = function()
    return { update = function() return nil, "update: No space left on device", 28 end }
  end }
  local err = checkerr("filter map vns_set1: update: No space left on device", filter.fill, failing, c)
  eq(err.code, 1)
end

-- Malformed expressions: one usage error (code 2) with the reason.
function T.malformed_expressions_refused()
  local cases = {
    { "", "an empty expression" },
    { "   ", "an empty expression" },
    { "host", "an address after 'host'" },
    { "host 10.0.0.1 and", "the expression ends after 'and'" },
    { "host 10.0.0.1 or", "the expression ends after 'or'" },
    { "not", "the expression ends after 'not'" },
    { "(tcp", "a '(' is not closed" },
    { "tcp)", "unexpected ')' after a complete expression" },
    { "()", "expected a primitive" },
    { "tcp udp", "unexpected 'udp' after a complete expression" },
    { "host 10.0.0.1 10.0.0.2", "unexpected '10.0.0.2'" },
    { "hostx 10.0.0.1", "expected a primitive (host, net, port, portrange, tcp, udp, icmp, ip, ip6, arp, proto, vlan), got 'hostx'" },
    { "ip proto arp", "'arp' is not an IP protocol; use 'arp' alone" },
    { "host 10.0.0.300", "'10.0.0.300' is not an IPv4 or IPv6 address" },
    { "host 10.0.0.0/8", "'host' takes addresses; use 'net 10.0.0.0/8' for a network" },
    { "net 10.0.0.1/8", "has host bits set; the network is 10.0.0.0/8" },
    { "net fd00::/200", "prefix length must be 0-128" },
    { "port 65536", "'65536' is not a port (0-65535) or a range LO-HI" },
    { "portrange 2000-1000", "the range ends before it starts" },
    { "port http", "'http' is not a port" },
    { "proto 256", "'256' is not a protocol name, a number 0-255 or arp" },
    { "proto", "a protocol name or number after 'proto'" },
    { "tcp host 10.0.0.1", "'host' does not apply to 'tcp'" },
    { "udp net 10.0.0.0/8", "'net' does not apply to 'udp'" },
    { "ip port 80", "'port' does not apply to 'ip'; use tcp, udp or sctp" },
    { "tcp proto 6", "'proto' cannot follow a transport protocol" },
    { "ip host fd00::1", "'ip' does not match the IPv6 address fd00::1" },
    { "ip6 net 10.0.0.0/8", "'ip6' does not match the IPv4 address 10.0.0.0/8" },
    { "vlan 4096", "a VLAN id is 0-4095" },
    { "src", "an address after 'src'" },
    { "src or", "an address after 'src'" },
    { "host and", "an address after 'host'" },
    { "port 80 && && tcp", "expected a primitive" },
    { "host 10.0.0.1; drop", "unexpected ';' at position 14" },
    { 'host "10.0.0.1"', "unexpected '\"' at position 6" },
    { "tcp\nudp", "unexpected byte 0x0a at position 4" },
    { "tcp /* x */", "unexpected '*' at position 6" },
    { "port 80 */", "unexpected '*' at position 9" },
    { "host \\x41", "unexpected '\\' at position 6" },
    { "ether host 00:11:22:33:44:55", "got 'ether'" },
    { "tcp[13] & 2 != 0", "unexpected '['" },
    { "port 1 = 1", "unexpected '='" },
    { string.rep("tcp or ", 600) .. "tcp", "longer than 4096 bytes" },
  }
  for _, c in ipairs(cases) do
    local ok, err = pcall(usage_err, "option --filter: '", compile, { "--filter", c[1] })
    if not ok then error(string.format("%q: %s", c[1], err), 0) end
    if not err.msg:find(c[2], 1, true) then
      error(string.format("%q: message %q lacks %q", c[1], err.msg, c[2]), 0)
    end
    has(err.msg, "; expected a tcpdump-style expression")
    hasnt(err.msg, "\n", "message")
  end
end

-- tcpdump's spellings and the shapes that mean the same.
function T.equivalent_spellings()
  local same = {
    { "src 10.0.0.1", "src host 10.0.0.1" },
    { "host 10.0.0.1", "src or dst host 10.0.0.1" },
    { "tcp && !udp", "tcp and not udp" },
    { "tcp || udp", "tcp or udp" },
    { "icmpv6", "icmp6" },
    { "((tcp))", "tcp" },
    { "proto tcp", "proto 6" },
    { "proto TCP", "tcp" },
    { "portrange 80-80", "port 80" },
    { "tcp and tcp and tcp", "tcp" },
    { "not not not tcp", "not tcp" },
    { "host 10.0.0.1 or host 10.0.0.1", "host 10.0.0.1" },
  }
  for _, s in ipairs(same) do eq(expr(s[1]), expr(s[2]), s[1]) end
end

-- and binds tighter than or; not tighter than and.
function T.precedence()
  eq(expr("tcp or udp and port 53"),
     "f.proto == VNS_VALUE(u8, 0x6) || (f.proto == VNS_VALUE(u8, 0x11) && vns_flow_l4(&f) && (f.sport == VNS_VALUE(u16, 0x3500) || f.dport == VNS_VALUE(u16, 0x3500)))")
  eq(expr("not tcp and udp"), "f.proto != VNS_VALUE(u8, 0x6) && f.proto == VNS_VALUE(u8, 0x11)")
  eq(expr("not (tcp and udp)"), "!(f.proto == VNS_VALUE(u8, 0x6) && f.proto == VNS_VALUE(u8, 0x11))")
end

function T.options_and_help()
  local names = {}
  for i, s in ipairs(filter.options()) do names[i] = s.name end
  eq(names, { "src-ip", "dst-ip", "host", "src-port", "dst-port", "port", "proto", "filter" })
  local some = filter.options({ "dst-ip", "filter" })
  eq({ some[1].name, some[2].name }, { "dst-ip", "filter" })
  local help = options.help({ name = "t", about = "x" }, filter.options())
  has(help, "--filter EXPR")
  has(help, "--proto PROTO")
  eq(options.parse(filter.options(), { "--l4-protocol", "tcp" }).proto[1].num, 6)
end

-- The usual block: parse, test, return; a comment when nothing is filtered.
function T.guard_block()
  eq(compile({}).guard.text, "  /* no flow filter */")
  eq(compile({ "--dst-ip", "10.0.0.1" }, { skb = "sk" }).guard.text,
     "  struct vns_flow f = {};\n  vns_flow_l3_of(sk, &f, VNS_FLOW_IPV4);\n"
     .. "  if (!(f.family == 4 && f.daddr[0] == VNS_VALUE(u32, 0x100000a)))\n    return 0;")
  checkerr("cfg.skb must be a C identifier", compile, { "--port", "1" }, { skb = "a;b" })
end

return T
