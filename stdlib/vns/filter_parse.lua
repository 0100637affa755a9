-- filter_parse: the --filter expression, a tcpdump-like subset, parsed
-- into a tree that vns.filter lowers to C. Values are checked by vns.net's
-- typed parsers; nothing of the text survives as text.
local net = require "vns.net"

local M = {}

M.MAX_TEXT = 4096

local Filter = {}
Filter.__index = Filter

local function tokenize(text)
  local toks, i = {}, 1
  while i <= #text do
    local c = text:sub(i, i)
    if c == " " or c == "\t" then
      i = i + 1
    elseif c == "(" or c == ")" or c == "!" and text:sub(i + 1, i + 1) ~= "=" then
      toks[#toks + 1], i = c, i + 1
    elseif text:sub(i, i + 1) == "&&" or text:sub(i, i + 1) == "||" then
      toks[#toks + 1], i = text:sub(i, i + 1), i + 2
    else
      local word = text:match("^[%w%.:/,_%-]+", i)
      if not word then
        local shown = c:match("[%g ]") and ("'" .. c .. "'") or string.format("byte 0x%02x", c:byte())
        return nil, string.format("unexpected %s at position %d", shown, i)
      end
      toks[#toks + 1], i = word, i + #word
    end
  end
  return toks
end

local function quote(word)
  if #word > 30 then word = word:sub(1, 30) .. "..." end
  return "'" .. word .. "'"
end

local Parser = {}
Parser.__index = Parser

function Parser:peek(k) return self.toks[self.pos + (k or 0)] end

function Parser:take()
  local t = self.toks[self.pos]
  self.pos = self.pos + 1
  return t
end

function Parser:fail(fmt, ...) error({ why = string.format(fmt, ...) }, 0) end

local not_values = { ["("] = true, [")"] = true, ["!"] = true, ["&&"] = true, ["||"] = true,
                     ["and"] = true, ["or"] = true, ["not"] = true }

-- The word after a keyword, or an error saying what was expected.
function Parser:value(what)
  local before, v = self.toks[self.pos - 1], self:take()
  if v == nil or not_values[v] then self:fail("%s after %s", what, quote(before)) end
  return v
end

local l4_quals = { tcp = 6, udp = 17, sctp = 132 }
local dir_words = { src = true, dst = true }
local type_words = { host = true, net = true, port = true, portrange = true }

function Parser:addrs(kind, dir, fam)
  local text = self:value(kind == "host" and "an address" or "a network (CIDR)")
  local list, why = net.addrs(text)
  if not list then self:fail("after '%s': %s", kind, why) end
  for _, a in ipairs(list) do
    if kind == "host" and not a:is_host() then
      self:fail("'host' takes addresses; use 'net %s' for a network", tostring(a))
    end
    if fam and a.family ~= fam then
      self:fail("'%s' does not match the %s address %s", fam == 4 and "ip" or "ip6",
                a.family == 4 and "IPv4" or "IPv6", tostring(a))
    end
  end
  return { t = "addr", dir = dir, list = list }
end

function Parser:ports(kind, dir, l4)
  local list, why = net.ports(self:value("a port or range"))
  if not list then self:fail("after '%s': %s", kind, why) end
  return { t = "port", dir = dir, list = list, l4 = l4 }
end

function Parser:proto(fam)
  local list, why = net.protos(self:value("a protocol name or number"))
  if not list then self:fail("after 'proto': %s", why) end
  for _, p in ipairs(list) do
    if fam and p.arp then self:fail("'arp' is not an IP protocol; use 'arp' alone") end
  end
  return { t = "proto", list = list, fam = fam }
end

-- [ip|ip6|tcp|udp|sctp] [src|dst|src or dst|src and dst] host|net|port|portrange VALUE,
-- tcp|udp|sctp|icmp|icmp6|ip|ip6|arp alone, [ip|ip6] proto N, vlan [ID].
function Parser:primitive()
  local w = self:take()
  if w == nil then
    local last = self.toks[self.pos - 2]
    self:fail(last and ("the expression ends after " .. quote(last)) or "an empty expression")
  end
  local fam, l4
  local nxt = self:peek()
  if w == "ip" or w == "ip6" then
    fam = w == "ip" and 4 or 6
    if not (type_words[nxt] or nxt == "proto" or dir_words[nxt]) then
      return { t = "family", fam = fam }
    end
    w = self:take()
  elseif l4_quals[w] then
    l4 = l4_quals[w]
    if not (type_words[nxt] or nxt == "proto" or dir_words[nxt]) then
      return { t = "proto", list = assert(net.protos(w)) }
    end
    w = self:take()
  elseif w == "icmp" or w == "icmp6" or w == "icmpv6" or w == "arp" then
    return { t = "proto", list = assert(net.protos(w)) }
  end
  if w == "proto" then
    if l4 then self:fail("'proto' cannot follow a transport protocol") end
    return self:proto(fam)
  end
  if w == "vlan" and not fam and not l4 then
    local id = self:peek()
    if id and id:match("^%d+$") then
      self:take()
      if #id > 4 or tonumber(id) > 4095 then self:fail("a VLAN id is 0-4095, not %s", quote(id)) end
      return { t = "vlan", id = tonumber(id) }
    end
    return { t = "vlan" }
  end
  local dir = "any"
  if dir_words[w] then
    dir = w
    local other = w == "src" and "dst" or "src"
    if (self:peek() == "or" or self:peek() == "and") and self:peek(1) == other then
      dir = self:take() == "or" and "any" or "all"
      self:take()
    end
    w = type_words[self:peek()] and self:take() or "host"
  end
  if w == "host" or w == "net" then
    if l4 then self:fail("'%s' does not apply to '%s'", w, l4 == 6 and "tcp" or l4 == 17 and "udp" or "sctp") end
    return self:addrs(w, dir, fam)
  end
  if w == "port" or w == "portrange" then
    if fam then self:fail("'%s' does not apply to '%s'; use tcp, udp or sctp", w, fam == 4 and "ip" or "ip6") end
    return self:ports(w, dir, l4)
  end
  self:fail("expected a primitive (host, net, port, portrange, tcp, udp, icmp, ip, ip6, arp, proto, vlan), got %s", quote(w))
end

function Parser:unary()
  local w = self:peek()
  if w == "not" or w == "!" then
    self:take()
    return { t = "not", self:unary() }
  end
  if w == "(" then
    self:take()
    local e = self:expr()
    if self:take() ~= ")" then self:fail("a '(' is not closed") end
    return e
  end
  return self:primitive()
end

function Parser:conj()
  local left = self:unary()
  while self:peek() == "and" or self:peek() == "&&" do
    self:take()
    left = { t = "and", left, self:unary() }
  end
  return left
end

function Parser:expr()
  local left = self:conj()
  while self:peek() == "or" or self:peek() == "||" do
    self:take()
    left = { t = "or", left, self:conj() }
  end
  return left
end

-- Parse a --filter expression: a Filter, or nil, why.
function M.parse(text)
  if #text > M.MAX_TEXT then return nil, string.format("longer than %d bytes", M.MAX_TEXT) end
  local toks, why = tokenize(text)
  if not toks then return nil, why end
  if #toks == 0 then return nil, "an empty expression" end
  local p = setmetatable({ toks = toks, pos = 1 }, Parser)
  local ok, tree = pcall(function()
    local e = p:expr()
    if p:peek() ~= nil then p:fail("unexpected %s after a complete expression", quote(p:peek())) end
    return e
  end)
  if not ok then
    if type(tree) == "table" and tree.why then return nil, tree.why end
    error(tree, 0)
  end
  return setmetatable({ tree = tree }, Filter)
end

M.Filter = Filter

return M
