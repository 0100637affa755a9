-- bench/filter.lua: the cost of a flow filter on net:netif_receive_skb,
-- compiled as constants (vns.filter) versus read from a map at run time,
-- against a probe with no filter. Run by bench/filter, which makes the
-- namespaces and the traffic:
--   vnetscope run bench/filter.lua DST_IP DST_PORT SENDER...
-- The three programs are attached together, so they run on the same
-- packets; SENDER (argv words) is run twice, with the two filters'
-- order of attachment swapped in between. Prints a table; exits 1 if the
-- two filters counted different matches.
local errors = require "vns.errors"
local filter = require "vns.filter"
local options = require "vns.options"
local program = require "vns.program"
local template = require "vns.template"

local dst_ip, dst_port = ...
local sender = table.pack(select(3, ...))
if not dst_port or sender.n == 0 then errors.usage("usage: bench/filter.lua DST_IP DST_PORT SENDER...") end

-- The same options both filters implement, parsed as a tool parses them.
local opts = options.parse(filter.options(), { "--dst-ip", dst_ip, "--proto", "udp", "--dst-port", dst_port })
local compiled = filter.compile(opts)

-- map_filter does by hand what constant_filter gets from the compiler:
-- same parser, same tests in the same order, but the values come from a
-- map lookup, as a filter changed at run time without recompiling would.
-- It takes one IPv4 address, protocol and port; the compiler any list.
-- Each program counts in its own slot of `matches`. BCC writes the
-- tracepoint's struct before each function that takes it, and a second
-- copy is a redefinition: the filters take void * and cast.
local text = template.render([[
#include <vns/flow.h>

BPF_ARRAY(matches, u64, 3);

int no_filter(struct tracepoint__net__netif_receive_skb *args)
{
  matches.increment(0);
  return 0;
}

{{ MAPS }}
int constant_filter(void *ctx)
{
  struct tracepoint__net__netif_receive_skb *args = ctx;
  struct vns_flow f = {};
  vns_flow_l3_of((struct sk_buff *)args->skbaddr, &f, {{ L3 }});
  if (!({{ FILTER }}))
    return 0;
  matches.increment(1);
  return 0;
}

/* Network byte order, as struct vns_flow has them. */
struct map_cfg {
  u32 daddr;
  u16 dport;
  u8 proto;
  u8 pad;
};
BPF_ARRAY(cfg, struct map_cfg, 1);

int map_filter(void *ctx)
{
  struct tracepoint__net__netif_receive_skb *args = ctx;
  int zero = 0;
  struct map_cfg *c = cfg.lookup(&zero);
  if (!c)
    return 0;
  struct vns_flow f = {};
  vns_flow_l3_of((struct sk_buff *)args->skbaddr, &f, VNS_FLOW_IPV4);
  if (!(f.family == 4 && f.proto == c->proto && f.daddr[0] == c->daddr && vns_flow_l4(&f) &&
        f.dport == c->dport))
    return 0;
  matches.increment(2);
  return 0;
}
]], { MAPS = compiled.decls, L3 = compiled.l3_flags, FILTER = compiled.expr })

local prog <close> = program.compile(text)
local names = { "no_filter", "constant_filter", "map_filter" }
local labels = { "no filter", "constant filter", "map filter" }
local progs = {}
for i, fn in ipairs(names) do progs[i] = prog:load(fn, "tracepoint") end
filter.fill(prog, compiled)

-- The map's values, from the same parsed options, in the byte order the
-- packet has: what a load of its bytes gives on this host.
local addr = opts.dst_ip:family(4)[1]
errors.check(prog:table("cfg"):update(0, {
  daddr = string.unpack("=I4", addr.bytes),
  dport = string.unpack("=I2", string.pack(">I2", opts.dst_port[1].lo)),
  proto = opts.proto[1].num,
  pad = 0,
}))

local function quote(w) return "'" .. w:gsub("'", "'\\''") .. "'" end
local words = {}
for i = 1, sender.n do words[i] = quote(sender[i]) end
local send = table.concat(words, " ")

-- Programs on one tracepoint run in the order they were attached, and
-- the first to read the packet may pay the cache misses for the others:
-- each filter runs first for one half of the traffic.
for _, order in ipairs({ { 1, 2, 3 }, { 1, 3, 2 } }) do
  local links = {}
  for _, i in ipairs(order) do
    links[#links + 1] = errors.check(progs[i]:attach("tracepoint", "net:netif_receive_skb"))
  end
  local ok, how, code = os.execute(send)
  for _, l in ipairs(links) do l:detach() end
  if not ok then errors.fail("the sender (%s ...) ended: %s %d", sender[1], how, code) end
end

local counts = prog:table("matches")
local rows = {}
print(string.format("%-16s %6s %9s %9s %9s %7s", "variant", "insns", "verified", "matches", "run_cnt", "ns/hit"))
for i, p in ipairs(progs) do
  local info = p:info()
  rows[i] = { matches = counts:lookup(i - 1) or 0, info = info }
  print(string.format("%-16s %6d %9d %9d %9d %7.1f", labels[i], info.insns, info.verified_insns,
                      rows[i].matches, info.run_cnt, info.run_cnt > 0 and info.run_time_ns / info.run_cnt or 0))
end
print("constant filter: " .. compiled.text)
if rows[2].info.run_cnt == 0 then errors.fail("no run-time statistics: is kernel.bpf_stats_enabled 1?") end
if rows[2].matches ~= rows[3].matches then
  errors.fail("the constant filter counted %d matches, the map filter %d", rows[2].matches, rows[3].matches)
end
