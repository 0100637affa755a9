-- vns.net: address, port, protocol, pid and comm values; their option
-- types and usage errors; values crafted to break out of C, for every
-- option type there is.
local net = require "vns.net"
local options = require "vns.options"
local template = require "vns.template"
require "vns.filter"  -- registers the "filter" type: it is checked below too
require "vns.sched"  -- registers "cpus" (cpu-monitor)
require "vns.skbfuncs"  -- registers skb-trace's "skb_groups" and "skb_funcs"
local h = require "helpers"
local eq, usage_err, has = h.eq, h.usage_err, h.has

local specs = options.flatten({
  net.options({ "src-ip", "dst-ip", "host", "src-port", "dst-port", "port", "proto", "pid", "comm" }),
})

local function parse(...) return options.parse(specs, { ... }) end

local function form_of(type_name) return options.types[type_name].form({}) end

-- A bad value: exit code 2, one line naming the option, the value and
-- the accepted form; why (a fragment of the reason) when given.
local function bad(name, text, why)
  local spec
  for _, s in ipairs(specs) do if s.name == name then spec = s end end
  local ok, err = pcall(usage_err, "option --" .. name .. ": '", parse, "--" .. name, text)
  if not ok then error(string.format("--%s %q: %s", name, text:sub(1, 60), err), 2) end
  has(err.msg, "; expected " .. form_of(spec.type), "message")
  if why then has(err.msg, why, "message") end
  if err.msg:find("\n", 1, true) then error("a multi-line message: " .. err.msg, 2) end
  return err
end

local function texts(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = tostring(v) end
  return out
end

local T = {}

function T.ipv4_addresses_and_cidrs()
  local v = parse("--src-ip", "10.0.0.1").src_ip
  eq(#v, 1)
  eq(v[1].family, 4)
  eq(v[1].bytes, "\10\0\0\1")
  eq(v[1].prefix, 32)
  eq(v[1]:is_host(), true)
  local n = parse("--dst-ip", "192.168.0.0/16").dst_ip[1]
  eq({ n.family, n.bytes, n.prefix, n:is_host() }, { 4, "\192\168\0\0", 16, false })
  eq(texts(parse("--host", "0.0.0.0/0,255.255.255.255,10.1.2.0/23").host),
     { "0.0.0.0/0", "255.255.255.255", "10.1.2.0/23" })
  eq(tostring(parse("--host", "10.0.0.1/32").host[1]), "10.0.0.1")
end

function T.ipv6_addresses_and_cidrs()
  local cases = {
    ["::"] = "::", ["::1"] = "::1", ["1::"] = "1::", ["fd00::1"] = "fd00::1",
    ["FD00:0:0:0:0:0:0:1"] = "fd00::1", ["2001:db8:0:0:1:0:0:1"] = "2001:db8::1:0:0:1",
    ["2001:0db8:0000:0000:0000:ff00:0042:8329"] = "2001:db8::ff00:42:8329",
    ["::ffff:10.0.0.1"] = "::ffff:a00:1", ["1:2:3:4:5:6:7:8"] = "1:2:3:4:5:6:7:8",
    ["1:2:3:4:5:6:7::"] = "1:2:3:4:5:6:7:0", ["fd00::/8"] = "fd00::/8", ["::/0"] = "::/0",
    ["2001:db8::/128"] = "2001:db8::",
  }
  for text, canonical in pairs(cases) do
    local a = parse("--host", text).host[1]
    eq(a.family, 6, text)
    eq(#a.bytes, 16, text)
    eq(tostring(a), canonical, text)
  end
  eq(parse("--host", "fd00::1").host[1].bytes, "\253\0" .. string.rep("\0", 13) .. "\1")
end

function T.address_lists_dedupe_and_split_by_family()
  local v = parse("--host", "10.0.0.1,fd00::1,10.0.0.1,10.0.0.0/8,FD00::1").host
  eq(texts(v), { "10.0.0.1", "fd00::1", "10.0.0.0/8" })
  eq(texts(v:family(4)), { "10.0.0.1", "10.0.0.0/8" })
  eq(texts(v:family(6)), { "fd00::1" })
end

function T.bad_addresses()
  local not_addr = "is not an IPv4 or IPv6 address"
  for _, text in ipairs({ "10.0.0.256", "10.0.0", "10.0.0.1.2", "010.0.0.1", "10.0.0.01", "1.2.3.4.",
                          ".1.2.3.4", "a.b.c.d", "10.0.0.1 ", " 10.0.0.1", "0x0a.0.0.1", "1e1.0.0.1",
                          ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "fd00::1%eth0", "g::1",
                          "1:2:3:4:5:6:7", "::1.2.3", "1.2.3.4::", "::ffff:1.2.3.4:5", "localhost",
                          "fd00::1\n", "-1.0.0.0" }) do
    bad("src-ip", text, not_addr)
  end
  for _, text in ipairs({ "10.0.0.0/33", "10.0.0.0/08", "fd00::/129", "10.0.0.0/1234" }) do
    bad("dst-ip", text, "prefix length")
  end
  for _, text in ipairs({ "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1", "10.0.0.0/8/8" }) do
    bad("dst-ip", text)
  end
  bad("host", "10.0.0.1/8", "has host bits set; the network is 10.0.0.0/8")
  bad("host", "fd00::1/64", "the network is fd00::/64")
  bad("host", "", "an empty item")
  bad("host", "10.0.0.1,", "an empty item")
  bad("host", ",10.0.0.1", "an empty item")
  bad("host", "10.0.0.1,,10.0.0.2", "an empty item")
end

function T.address_list_limits()
  local items = {}
  for i = 0, net.MAX_ITEMS do items[#items + 1] = string.format("10.%d.%d.1", i // 256, i % 256) end
  bad("src-ip", table.concat(items, ","), "more than 4096 items")
  eq(#parse("--src-ip", table.concat(items, ",", 1, net.MAX_ITEMS)).src_ip, net.MAX_ITEMS)
  bad("src-ip", string.rep("1", net.MAX_TEXT + 1), "longer than 65536 bytes")
end

function T.ports_ranges_lists()
  local function ranges(v)
    local out = {}
    for i, r in ipairs(v) do out[i] = { r.lo, r.hi } end
    return out
  end
  eq(ranges(parse("--port", "80").port), { { 80, 80 } })
  eq(ranges(parse("--src-port", "0").src_port), { { 0, 0 } })
  eq(ranges(parse("--dst-port", "65535").dst_port), { { 65535, 65535 } })
  eq(ranges(parse("--port", "8000-8100").port), { { 8000, 8100 } })
  eq(ranges(parse("--port", "443,80,80,1000-2000,0-0").port), { { 0, 0 }, { 80, 80 }, { 443, 443 }, { 1000, 2000 } })
  eq(tostring(parse("--port", "443,80,1000-2000").port), "80,443,1000-2000")
  eq(ranges(parse("--port", "080").port), { { 80, 80 } })
end

function T.bad_ports()
  for _, text in ipairs({ "65536", "-1", "abc", "80a", "+80", "0x50", "8.0", "80 ", " 80", "1-2-3", "-",
                          "80-", "-80", "000080", "99999", "١٢", "80\n" }) do
    bad("port", text, "is not a port (0-65535) or a range LO-HI")
  end
  bad("dst-port", "2000-1000", "the range ends before it starts")
  bad("src-port", "80,,443", "an empty item")
end

function T.protocols()
  local function nums(v)
    local out = {}
    for i, p in ipairs(v) do out[i] = p.num end
    return out
  end
  eq(nums(parse("--proto", "tcp").proto), { 6 })
  eq(nums(parse("--proto", "udp,icmp,icmpv6,sctp").proto), { 17, 1, 58, 132 })
  eq(nums(parse("--proto", "icmp6").proto), { 58 })
  eq(nums(parse("--proto", "TCP").proto), { 6 })
  eq(nums(parse("--proto", "0,255,47").proto), { 0, 255, 47 })
  eq(tostring(parse("--proto", "6,icmp6,47").proto), "tcp,icmpv6,gre")
  eq(tostring(parse("--proto", "ARP,udp").proto), "arp,udp")
  eq(parse("--proto", "arp").proto[1].arp, true)
  eq(nums(parse("--l4-protocol", "udp").proto), { 17 })
  for _, text in ipairs({ "256", "-1", "tcpx", "", "t cp", "1000", "6.0", "0x6" }) do
    bad("proto", text)
  end
  bad("proto", "tcpx", "'tcpx' is not a protocol name, a number 0-255 or arp")
end

function T.pid()
  eq(parse("--pid", "1").pid, 1)
  eq(parse("--pid", "4194304").pid, 4194304)
  eq(math.type(parse("--pid", "42").pid), "integer")
  for _, text in ipairs({ "0", "4194305", "-1", "01", "1a", "", " 1", "1.0", "99999999999", "1,2" }) do
    bad("pid", text)
  end
end

function T.comm()
  for _, text in ipairs({ "nginx", "kworker/0:1", "Web Content", string.rep("x", 15), "a", "ksoftirqd/3",
                          "python3.11", "[x]" }) do
    local c = parse("--comm", text).comm
    eq(tostring(c), text)
    local lo, hi = c:words()
    local elo, ehi = template.ifname_words(text)
    eq({ lo.text, hi.text }, { elo.text, ehi.text }, text)
  end
  for _, text in ipairs({ "", string.rep("x", 16) }) do bad("comm", text, "1-15 bytes") end
  for _, text in ipairs({ 'a"b', "a'b", "a\\b", "a*/", "/*a", "a\nb", "a\tb", "\0", "caf\195\169" }) do
    bad("comm", text, "only printable ASCII")
  end
end

function T.option_specs()
  local names = {}
  for i, s in ipairs(specs) do names[i] = s.name end
  eq(names, { "src-ip", "dst-ip", "host", "src-port", "dst-port", "port", "proto", "pid", "comm" })
  local help = options.help({ name = "t", about = "x" }, specs)
  has(help, "--src-ip ADDR[,..]")
  has(help, "--proto PROTO")
  h.checkerr("no option named nope", net.options, { "nope" })
  -- options() hands out copies: a tool may change its own.
  local a, b = net.options({ "port" })[1], net.options({ "port" })[1]
  a.help = "changed"
  eq(b.help ~= "changed", true)
end

-- Option values written to escape a C string, comment or expression,
-- and overlong ones, are refused for every option type there is, before
-- anything is compiled.
local crafted = {
  '10.0.0.1"', '"; } int x; {"', "'", "80\\", "\\x41", "tcp\n", "1\n2", "1\r", "*/", "/*", "x */ y",
  "1 /* c */", "a\0b", string.rep("A", 100000), string.rep("1", 100000), string.rep("9,", 50000) .. "9",
}
-- Other C and shell syntax: refused by every type but names.
local syntax = { "); bpf_trace_printk(", "80;", "0 || 1", "`id`", "$(id)", "${x}", "{{ X }}" }

-- One spec per type: every type registered must be listed here.
local type_specs = {
  seconds = { name = "t-seconds", type = "seconds" },
  nanoseconds = { name = "t-nanoseconds", type = "nanoseconds" },
  integer = { name = "t-integer", type = "integer", min = 0, max = 100 },
  choice = { name = "t-choice", type = "choice", values = { "a", "b" } },
  ifname = { name = "t-ifname", type = "ifname" },
  ifnames = { name = "t-ifnames", type = "ifnames" },
  addrs = { name = "t-addrs", type = "addrs" },
  ports = { name = "t-ports", type = "ports" },
  proto = { name = "t-proto", type = "proto" },
  pid = { name = "t-pid", type = "pid" },
  comm = { name = "t-comm", type = "comm" },
  comms = { name = "t-comms", type = "comms" },
  cpus = { name = "t-cpus", type = "cpus" },
  filter = { name = "t-filter", type = "filter" },
  path = { name = "t-path", type = "path" },
  skb_groups = { name = "t-groups", type = "skb_groups" },
  skb_funcs = { name = "t-funcs", type = "skb_funcs" },
  listen = { name = "t-listen", type = "listen" },
}

-- Names the kernel allows: an interface name may hold quotes and
-- backslashes, a comm ';' or '$'. Both reach C only as two integers
-- (template.ifname_words), never as text.
local allowed = {
  ifname = { ['10.0.0.1"'] = true, ["'"] = true, ["80\\"] = true, ["\\x41"] = true },
}
for _, text in ipairs(syntax) do
  if not text:find("[/ ]") then allowed.ifname[text] = true end
end
allowed.ifnames = {}
for text in pairs(allowed.ifname) do allowed.ifnames[text] = true end
allowed.comm = {}
for _, text in ipairs(syntax) do allowed.comm[text] = true end
allowed.comms = allowed.comm  -- the same names, in a list
-- A path (--pack) is only opened, never pasted into C: any printable
-- text of 1-4096 characters. Control characters and overlong text are
-- still refused (crafted's "tcp\n", "1\r", "a\0b" and 100000 bytes).
allowed.path = { ['10.0.0.1"'] = true, ['"; } int x; {"'] = true, ["'"] = true, ["80\\"] = true,
                 ["\\x41"] = true, ["*/"] = true, ["/*"] = true, ["x */ y"] = true, ["1 /* c */"] = true }
for _, text in ipairs(syntax) do allowed.path[text] = true end

local function refused(tname, spec, text)
  local ok, err = pcall(options.parse, { spec }, { "--" .. spec.name, text })
  if ok then error(string.format("type %s accepted %q", tname, text:sub(1, 60)), 0) end
  if type(err) ~= "table" or err.code ~= 2 then
    error(string.format("type %s, %q: not a usage error: %s", tname, text:sub(1, 60), h.message_of(err)), 0)
  end
  has(err.msg, "option --" .. spec.name .. ": '")
  if err.msg:find("[%z\1-\31]") then error("control characters in the message: " .. err.msg, 0) end
  if #err.msg > 600 then error(string.format("type %s: a %d-byte message", tname, #err.msg), 0) end
end

function T.crafted_values_rejected_for_every_type()
  for name in pairs(options.types) do
    if name ~= "flag" and not type_specs[name] then error("option type " .. name .. " has no crafted-value test") end
  end
  for tname, spec in pairs(type_specs) do
    assert(options.types[tname], "no option type " .. tname)
    for _, list in ipairs({ crafted, syntax }) do
      for _, text in ipairs(list) do
        if not (allowed[tname] and allowed[tname][text]) then refused(tname, spec, text) end
      end
    end
  end
end

-- The path type (--pack): 1-4096 characters, none of them a control
-- character; the text is kept as given.
function T.path_values()
  local pspec = type_specs.path
  local function parse_path(text) return options.parse({ pspec }, { "--" .. pspec.name, text }).t_path end
  for _, text in ipairs({ "/tmp/x.pack", "x", "rel/dir", "/a b/c'd\"e",
                          string.rep("p", 4096) }) do
    eq(parse_path(text), text, text:sub(1, 60))
  end
  for _, text in ipairs({ "", "a\nb", "/tmp/x\n", "a\0b", "\0", "a\rb", "a\tb", "a\27b", "a\127b",
                          string.rep("p", 4097) }) do
    refused("path", pspec, text)
    local err = usage_err("option --t-path: '", parse_path, text)
    has(err.msg, "; expected " .. form_of("path"))
    has(err.msg, "a path of 1-4096 characters without control characters")
  end
end

-- Flows as programs hand them back: addresses as little-endian loads of
-- the wire bytes, ports in network order.
function T.flow_text_from_wire_values()
  local v4 = { family = 4, proto = 17, saddr = { 0x0100000a, 0, 0, 0 }, daddr = { 0x0200000a, 0, 0, 0 },
               sport = 0x0f27, dport = 0x3500, has_ports = 1, nvlan = 0 }
  eq(net.flow_text(v4), "udp 10.0.0.1:9999 > 10.0.0.2:53")
  v4.nvlan, v4.vlan = 1, 10
  eq(net.flow_text(v4), "vlan 10 udp 10.0.0.1:9999 > 10.0.0.2:53")
  local v6 = { family = 6, proto = 6, saddr = { 0x000000fd, 0, 0, 0x01000000 }, daddr = { 0x000000fd, 0, 0, 0x02000000 },
               sport = 0x5000, dport = 0x5000, has_ports = 1 }
  eq(net.flow_text(v6), "tcp [fd00::1]:80 > [fd00::2]:80")
  local icmp = { family = 4, proto = 1, saddr = { 0x0100000a }, daddr = { 0x0200000a }, icmp_type = 8, icmp_code = 0, has_ports = 0 }
  eq(net.flow_text(icmp), "icmp 10.0.0.1 > 10.0.0.2 type 8/0")
  eq(net.flow_text({ family = 0, ethertype = 0x0608 }), "ethertype 0x0806")
  eq(net.proto_name(132), "sctp")
  local row = {}
  eq(net.flow_fields(v4, row), true)
  eq(row, { family = 4, proto = "udp", src = "10.0.0.1", dst = "10.0.0.2", sport = 9999, dport = 53 })
  row = {}
  eq(net.flow_fields(icmp, row), true)
  eq(row, { family = 4, proto = "icmp", src = "10.0.0.1", dst = "10.0.0.2" })
  eq(net.flow_fields({ family = 0 }, row), false)
  local arp = { family = 0, arp_op = 1, saddr = { 0x0100000a, 0, 0, 0 }, daddr = { 0x0200000a, 0, 0, 0 } }
  eq(net.flow_text(arp), "arp request 10.0.0.1 > 10.0.0.2")
  arp.arp_op = 7
  eq(net.flow_text(arp), "arp op 7 10.0.0.1 > 10.0.0.2")
  arp.arp_op, row = 2, {}
  eq(net.flow_fields(arp, row), true)
  eq(row, { proto = "arp", arp_op = "reply", src = "10.0.0.1", dst = "10.0.0.2" })
  eq(net.proto_name(200), "200")
end

return T
