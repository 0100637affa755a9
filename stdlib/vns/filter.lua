-- filter: the filter compiler. The flow options (--src-ip --dst-ip --host
-- --src-port --dst-port --port --proto) and --filter EXPR, a tcpdump-like
-- expression, become one C boolean expression over a parsed flow
-- (struct vns_flow, bpf-templates/include/vns/flow.h):
--
--   local f = filter.compile(opts)        -- opts from vns.options
--   template.render(text, { FILTER = f.expr, FILTER_MAPS = f.decls })
--   ...                                   -- compile and load, then
--   filter.fill(prog, f)                  -- fill the maps of large sets
--
-- with, in the template,
--
--   {{ FILTER_MAPS }}
--   ... struct vns_flow f = {}; vns_flow_l3(skb, &f);
--   if (!({{ FILTER }})) return 0;
--
-- Every value is a constant in the byte order the packet has; within each
-- conjunction the tests run cheapest first: address family and VLAN, L4
-- protocol, addresses, then ports. The L4 header is read (vns_flow_l4)
-- only by an expression that tests ports, and only after every cheaper
-- test passed. A set of more than SET_MAX values of one kind becomes a
-- map lookup (hash; LPM trie for networks); fill() writes the values.
local errors = require "vns.errors"
local net = require "vns.net"
local options = require "vns.options"
local template = require "vns.template"

local M = {}

M.SET_MAX = 16

local parse = require "vns.filter_parse"
local Filter = parse.Filter
M.parse, M.MAX_TEXT = parse.parse, parse.MAX_TEXT

-- ---- boolean IR: atoms with a cost, simplified as they are built ----------

-- Costs: 0 family/VLAN (read with L3), 1 L4 protocol, 2 addresses,
-- 3 reading the L4 header, 4 ports.
local TRUE, FALSE = { op = "true", cost = 0, key = "1" }, { op = "false", cost = 0, key = "0" }

local flip = { ["=="] = "!=", ["!="] = "==", [">="] = "<", ["<="] = ">", ["<"] = ">=", [">"] = "<=" }

local function atom(cost, c, neg, l4)
  return { op = "atom", cost = cost, key = c, neg = neg or ("!" .. c), l4 = l4 }
end

local function cmp(cost, lhs, op, rhs)
  return atom(cost, lhs .. " " .. op .. " " .. rhs, lhs .. " " .. flip[op] .. " " .. rhs)
end

local function key_of(n)
  if not n.key then
    if n.op == "not" then
      n.key = "!(" .. key_of(n.x) .. ")"
    else
      local parts = {}
      for i, c in ipairs(n.items) do
        parts[i] = (c.op == "and" or c.op == "or") and ("(" .. key_of(c) .. ")") or key_of(c)
      end
      n.key = table.concat(parts, n.op == "and" and " && " or " || ")
    end
  end
  return n.key
end

-- Stable sort by cost: the order the user wrote stays among equals.
local function by_cost(items)
  for i, n in ipairs(items) do n.rank = i end
  table.sort(items, function(a, b)
    if a.cost ~= b.cost then return a.cost < b.cost end
    return a.rank < b.rank
  end)
  local max = 0
  for _, n in ipairs(items) do n.rank = nil; max = math.max(max, n.cost) end
  return max
end

-- Flatten, drop the neutral element, stop at the absorbing one, dedupe.
local function gather(op, items)
  local out, seen = {}, {}
  local neutral, absorbing = op == "and" and TRUE or FALSE, op == "and" and FALSE or TRUE
  local function add(n)
    if n.op == op then
      for _, c in ipairs(n.items) do add(c) end
    elseif n == absorbing then
      out.absorbed = true
    elseif n ~= neutral and not seen[key_of(n)] then
      seen[key_of(n)] = true
      out[#out + 1] = n
    end
  end
  for _, n in ipairs(items) do add(n) end
  return out
end

local function AND(items)
  local out = gather("and", items)
  if out.absorbed then return FALSE end
  if #out <= 1 then return out[1] or TRUE end
  out.absorbed = nil
  return { op = "and", items = out, cost = by_cost(out) }
end

local OR

local function conjuncts(n) return n.op == "and" and n.items or { n } end

-- (a && b) || (a && c)  ->  a && (b || c): the shared tests run once.
-- A shared test moves out only if it costs no more than every test left
-- behind: (tcp && l4 && ...) || (udp && l4 && ...) keeps reading the L4
-- header after the protocol test.
local function factor(branches)
  local common = {}
  for _, c in ipairs(conjuncts(branches[1])) do common[key_of(c)] = c.cost end
  for i = 2, #branches do
    local here = {}
    for _, c in ipairs(conjuncts(branches[i])) do here[key_of(c)] = true end
    for k in pairs(common) do if not here[k] then common[k] = nil end end
  end
  repeat
    local cheapest_left = math.huge
    for _, b in ipairs(branches) do
      for _, c in ipairs(conjuncts(b)) do
        if not common[key_of(c)] then cheapest_left = math.min(cheapest_left, c.cost) end
      end
    end
    local dropped = false
    for k, cost in pairs(common) do
      if cost > cheapest_left then common[k], dropped = nil, true end
    end
  until not dropped
  if not next(common) then return nil end
  local shared, rest = {}, {}
  for _, c in ipairs(conjuncts(branches[1])) do
    if common[key_of(c)] then shared[#shared + 1] = c end
  end
  for i, b in ipairs(branches) do
    local left = {}
    for _, c in ipairs(conjuncts(b)) do
      if not common[key_of(c)] then left[#left + 1] = c end
    end
    rest[i] = AND(left)
  end
  shared[#shared + 1] = OR(rest)
  return AND(shared)
end

OR = function(items)
  local out = gather("or", items)
  if out.absorbed then return TRUE end
  if #out <= 1 then return out[1] or FALSE end
  local factored = factor(out)
  if factored then return factored end
  return { op = "or", items = out, cost = by_cost(out) }
end

local function NOT(n)
  if n == TRUE then return FALSE end
  if n == FALSE then return TRUE end
  if n.op == "not" then return n.x end
  if n.op == "atom" then return atom(n.cost, n.neg, n.key, n.l4) end
  return { op = "not", x = n, cost = n.cost }
end

local function uses_l4(n)
  if n.op == "atom" then return n.l4 end
  if n.op == "not" then return uses_l4(n.x) end
  for _, c in ipairs(n.items or {}) do if uses_l4(c) then return true end end
  return false
end

-- ---- lowering: primitives -> atoms over the flow ---------------------------

-- Values from the command line are run-time constants (template.value).
local function value32(v) return template.value(v, "u32").text end
local function value16(v) return template.value(v, "u16").text end

-- A port as the packet's two bytes load on this host.
local function wire16(port) return (string.unpack("=I2", string.pack(">I2", port))) end

local Lower = {}
Lower.__index = Lower

function Lower:field(name) return self.flow .. "." .. name end

function Lower:family(fam) return cmp(0, self:field("family"), "==", tostring(fam)) end

function Lower:l4()
  return atom(3, "vns_flow_l4(&" .. self.flow .. ")", nil, true)
end

function Lower:new_map(decl, entries)
  self.nmaps = self.nmaps + 1
  local name = self.prefix .. self.nmaps
  self.maps[#self.maps + 1] = { name = name, decl = string.format(decl, name, #entries), entries = entries }
  return name
end

-- addr masked by prefix, compared word by word (IPv4: one word).
function Lower:addr_test(a, side)
  local tests = {}
  for i = 1, #a.bytes // 4 do
    local bits = math.max(0, math.min(32, a.prefix - (i - 1) * 32))
    local word = string.unpack("=I4", a.bytes, 4 * i - 3)
    local lhs = string.format("%s[%d]", self:field(side), i - 1)
    if bits == 32 then
      tests[#tests + 1] = cmp(2, lhs, "==", value32(word))
    elseif bits > 0 then
      local mask = string.unpack("=I4", string.pack(">I4", (0xffffffff << (32 - bits)) & 0xffffffff))
      tests[#tests + 1] = cmp(2, "(" .. lhs .. " & " .. value32(mask) .. ")", "==", value32(word))
    end
  end
  return AND(tests)
end

-- One map per (list, family), shared by the source and destination tests.
function Lower:addr_set(list, fam, items, side)
  local memo = self.memo[list] or {}
  self.memo[list] = memo
  if not memo[fam] then
    local hosts = true
    for _, a in ipairs(items) do hosts = hosts and a:is_host() end
    local entries = {}
    for i, a in ipairs(items) do
      local w = { string.unpack(fam == 4 and "=I4" or "=I4I4I4I4", a.bytes) }
      w[#w] = nil  -- unpack's next position
      if hosts then
        entries[i] = fam == 4 and w[1] or { w = w }
      else
        entries[i] = { prefixlen = a.prefix, addr = fam == 4 and w[1] or w }
      end
    end
    local decl = hosts and (fam == 4 and "BPF_HASH(%s, u32, u8, %d);" or "BPF_HASH(%s, struct vns_in6, u8, %d);")
                 or (fam == 4 and "BPF_LPM_TRIE(%s, struct vns_lpm4, u8, %d);" or "BPF_LPM_TRIE(%s, struct vns_lpm6, u8, %d);")
    memo[fam] = { name = self:new_map(decl, entries), hosts = hosts }
  end
  local m, field = memo[fam], self:field(side)
  if m.hosts and fam == 4 then
    return cmp(2, string.format("%s.lookup(&%s[0])", m.name, field), "!=", "0")
  elseif m.hosts then
    return cmp(2, string.format("%s.lookup((struct vns_in6 *)%s)", m.name, field), "!=", "0")
  elseif fam == 4 then
    return atom(2, string.format("({ struct vns_lpm4 vns_k = { 32, %s[0] }; %s.lookup(&vns_k) != 0; })",
                                 field, m.name))
  end
  return atom(2, string.format(
    "({ struct vns_lpm6 vns_k = { 128, { %s[0], %s[1], %s[2], %s[3] } }; %s.lookup(&vns_k) != 0; })",
    field, field, field, field, m.name))
end

-- The items of one family of list against one side (saddr or daddr).
function Lower:addr_match(list, fam, side)
  local items = list:family(fam)
  if #items > M.SET_MAX then return self:addr_set(list, fam, items, side) end
  local tests = {}
  for i, a in ipairs(items) do tests[i] = self:addr_test(a, side) end
  return OR(tests)
end

-- Both directions of one family share its family test:
-- family == 4 && (saddr... || daddr...).
local function both(dir, s, d)
  if s and d then return dir == "all" and AND({ s, d }) or OR({ s, d }) end
  return s or d
end

function Lower:addrs(list, dir)
  local branches = {}
  for _, fam in ipairs({ 4, 6 }) do
    if #list:family(fam) > 0 then
      local s = dir ~= "dst" and self:addr_match(list, fam, "saddr")
      local d = dir ~= "src" and self:addr_match(list, fam, "daddr")
      branches[#branches + 1] = AND({ self:family(fam), both(dir, s, d) })
    end
  end
  return OR(branches)
end

-- More than SET_MAX ranges go to the map as single ports, if they are
-- not too many.
local function expand(list)
  local n = 0
  for _, r in ipairs(list) do if r.lo ~= r.hi then n = n + 1 end end
  if n <= M.SET_MAX then return list end
  local out, seen = {}, {}
  for _, r in ipairs(list) do
    for p = r.lo, r.hi do
      if not seen[p] then
        seen[p] = true
        out[#out + 1] = { lo = p, hi = p }
        if #out > net.MAX_ITEMS then
          errors.usage("ports: more than %d ranges cover more than %d ports; use fewer, wider ranges",
                       M.SET_MAX, net.MAX_ITEMS)
        end
      end
    end
  end
  return out
end

function Lower:port_side(list, side)
  local field = self:field(side)
  local singles, tests, zero = {}, {}, false
  for _, r in ipairs(expand(list)) do
    zero = zero or r.lo == 0
    if r.lo == r.hi then
      singles[#singles + 1] = r.lo
    else
      local h = "vns_ntohs(" .. field .. ")"
      tests[#tests + 1] = AND({ r.lo > 0 and cmp(4, h, ">=", value16(r.lo)) or TRUE,
                                r.hi < 65535 and cmp(4, h, "<=", value16(r.hi)) or TRUE })
    end
  end
  if #singles > M.SET_MAX then
    self.memo[list] = self.memo[list] or {}
    if not self.memo[list].ports then
      local entries = {}
      for i, p in ipairs(singles) do entries[i] = wire16(p) end
      self.memo[list].ports = self:new_map("BPF_HASH(%s, u16, u8, %d);", entries)
    end
    table.insert(tests, 1, cmp(4, string.format("%s.lookup(&%s)", self.memo[list].ports, field), "!=", "0"))
  else
    for i, p in ipairs(singles) do table.insert(tests, i, cmp(4, field, "==", value16(wire16(p)))) end
  end
  -- Only TCP, UDP, SCTP, DCCP and UDP-Lite have ports; others read as 0.
  local has = zero and atom(4, self:field("has_ports")) or TRUE
  return AND({ self:l4(), has, OR(tests) })
end

-- ARP is an ethertype, not an IP protocol (read with L3; a program
-- that shows ARP addresses adds VNS_FLOW_ARP to l3_flags itself).
function Lower:arp()
  return cmp(0, self:field("ethertype"), "==", string.format("0x%04x", wire16(0x0806)))
end

function Lower:protos(all)
  local tests, list = {}, {}
  for _, p in ipairs(all) do
    if p.arp then tests[#tests + 1] = self:arp() else list[#list + 1] = p end
  end
  if #list > M.SET_MAX then
    local entries = {}
    for i, p in ipairs(list) do entries[i] = p.num end
    local name = self:new_map("BPF_HASH(%s, u8, u8, %d);", entries)
    tests[#tests + 1] = cmp(1, string.format("%s.lookup(&%s)", name, self:field("proto")), "!=", "0")
  else
    for _, p in ipairs(list) do
      local t = cmp(1, self:field("proto"), "==", template.value(p.num, "u8").text)
      -- Protocol 0 is also what a non-IP packet reads as.
      if p.num == 0 then t = AND({ cmp(0, self:field("family"), "!=", "0"), t }) end
      tests[#tests + 1] = t
    end
  end
  return OR(tests)
end

function Lower:ports(list, dir)
  return both(dir, dir ~= "dst" and self:port_side(list, "sport"), dir ~= "src" and self:port_side(list, "dport"))
end

function Lower:node(n)
  local t = n.t
  if t == "and" then return AND({ self:node(n[1]), self:node(n[2]) }) end
  if t == "or" then return OR({ self:node(n[1]), self:node(n[2]) }) end
  if t == "not" then return NOT(self:node(n[1])) end
  if t == "family" then return self:family(n.fam) end
  if t == "vlan" then
    local tagged = cmp(0, self:field("nvlan"), "!=", "0")
    if n.id == nil then return tagged end
    local id = cmp(0, self:field("vlan"), "==", value16(n.id))
    return n.id == 0 and AND({ tagged, id }) or id
  end
  if t == "proto" then
    local p = self:protos(n.list)
    return n.fam and AND({ self:family(n.fam), p }) or p
  end
  if t == "addr" then return self:addrs(n.list, n.dir) end
  if t == "port" then
    local p = self:ports(n.list, n.dir)
    if n.l4 then p = AND({ cmp(1, self:field("proto"), "==", tostring(n.l4)), p }) end
    return p
  end
  error("filter: unknown node " .. tostring(t))
end

-- ---- compile ------------------------------------------------------------------

local flow_options = {
  { "src_ip", "addr", "src", net.Addrs }, { "dst_ip", "addr", "dst", net.Addrs },
  { "host", "addr", "any", net.Addrs }, { "src_port", "port", "src", net.Ports },
  { "dst_port", "port", "dst", net.Ports }, { "port", "port", "any", net.Ports },
  { "proto", "proto", nil, net.Protos },
}

local function identifier(v, what) return template.ident(v, "filter.compile: " .. what) end

-- The address families a packet must have for the expression to hold:
-- one only when the whole expression requires it (a family test among
-- its top-level conjuncts), none when it requires ARP.
local function families_of(ir, low)
  for _, c in ipairs(conjuncts(ir)) do
    for _, fam in ipairs({ 4, 6 }) do
      if key_of(c) == key_of(low:family(fam)) then return { [fam] = true } end
    end
    if key_of(c) == key_of(low:arp()) then return {} end
  end
  return { [4] = true, [6] = true }
end

-- The options as a tree: every flow option given, and --filter, ANDed.
local function tree_of(opts)
  if opts.proto then
    local only_arp = true
    for _, p in ipairs(opts.proto) do only_arp = only_arp and p.arp end
    for _, o in ipairs(flow_options) do
      if only_arp and o[2] ~= "proto" and opts[o[1]] ~= nil then
        errors.usage("option --proto: 'arp' has no IP addresses or ports, so --%s never matches; "
                     .. "use --proto arp alone, or --filter 'arp or ...'", (o[1]:gsub("_", "-")))
      end
    end
  end
  local tree
  local function add(n) tree = tree and { t = "and", tree, n } or n end
  for _, o in ipairs(flow_options) do
    local v = opts[o[1]]
    if v ~= nil then
      assert(getmetatable(v) == o[4], "filter.compile: opts." .. o[1] .. " is not a value of vns.net")
      if o[2] == "proto" then add({ t = "proto", list = v }) else add({ t = o[2], dir = o[3], list = v }) end
    end
  end
  if opts.filter ~= nil then
    assert(getmetatable(opts.filter) == Filter, "filter.compile: opts.filter is not a parsed --filter")
    add(opts.filter.tree)
  end
  return tree
end

-- Compile the flow options and --filter of opts. cfg.flow names the
-- struct vns_flow variable (default "f"), cfg.skb the struct sk_buff *
-- (default "skb"), cfg.map_prefix the maps (default "vns_set", then 1,
-- 2, ...; give each filter of one program its own); cfg.arp parses ARP
-- addresses too (VNS_FLOW_ARP), for programs that show them. Returns {guard,
-- expr, decls, l3_flags (template values), text, maps, needs_l3,
-- needs_l4, families}. guard is the usual block: declare the flow, parse
-- it with vns_flow_l3_of(skb, &f, {{ L3_FLAGS }}), return 0 unless
-- {{ FILTER }} holds; a comment when nothing is filtered.
function M.compile(opts, cfg)
  cfg = cfg or {}
  local low = setmetatable({ flow = identifier(cfg.flow or "f", "cfg.flow"),
                             prefix = identifier(cfg.map_prefix or "vns_set", "cfg.map_prefix"),
                             nmaps = 0, maps = {}, memo = {} }, Lower)
  local tree = tree_of(opts or {})
  local ir = tree and low:node(tree) or TRUE
  local text = key_of(ir)
  local families = families_of(ir, low)
  local decls = {}
  for i, m in ipairs(low.maps) do decls[i] = m.decl end
  local decl_text = #decls > 0 and table.concat(decls, "\n") or "/* no filter maps */"
  local flags = { families[4] and families[6] and "VNS_FLOW_IP" or families[4] and "VNS_FLOW_IPV4"
                  or families[6] and "VNS_FLOW_IPV6" or nil }
  if cfg.arp then flags[#flags + 1] = "VNS_FLOW_ARP" end
  local l3_flags = #flags > 0 and table.concat(flags, " | ") or "0"
  return {
    guard = template.code(ir == TRUE and "  /* no flow filter */" or string.format(
      "  struct vns_flow %s = {};\n  vns_flow_l3_of(%s, &%s, %s);\n  if (!(%s))\n    return 0;",
      low.flow, identifier(cfg.skb or "skb", "cfg.skb"), low.flow, l3_flags, text)),
    expr = template.code(text),
    decls = template.code(decl_text),
    text = text,
    decl_text = decl_text,
    maps = low.maps,
    needs_l3 = ir ~= TRUE,
    needs_l4 = uses_l4(ir) or false,
    families = families,
    l3_flags = template.code(l3_flags),
  }
end

-- Write the values of large sets into the compiled program's maps.
-- prog is a vns.program (or a core module): anything with :table(name).
function M.fill(prog, compiled)
  for _, m in ipairs(compiled.maps) do
    local map = prog:table(m.name)
    for _, key in ipairs(m.entries) do
      local ok, err = map:update(key, 1)
      if not ok then errors.fail("filter map %s: %s", m.name, tostring(err)) end
    end
  end
end

-- ---- options ----------------------------------------------------------------

options.types.filter = {
  parse = function(text) return M.parse(text) end,
  form = function()
    return "a tcpdump-style expression of host, net, port, portrange, src, dst, tcp, udp, sctp, "
        .. "icmp, icmp6, ip, ip6, arp, proto, vlan with and, or, not, ( ) (see docs/filters.md)"
  end,
}

M.flow_names = { "src-ip", "dst-ip", "host", "src-port", "dst-port", "port", "proto", "filter" }

-- Option specs for a tool: the flow options named (default: all, with
-- --filter).
function M.options(names)
  local specs, want_filter = {}, false
  for _, name in ipairs(names or M.flow_names) do
    if name == "filter" then want_filter = true else specs[#specs + 1] = name end
  end
  specs = net.options(specs)
  if want_filter then
    specs[#specs + 1] = { name = "filter", type = "filter", metavar = "EXPR",
                          help = "tcpdump-style filter, e.g. 'tcp port 80 and net 10.0.0.0/8'" }
  end
  return specs
end

M.Filter = Filter

return M
