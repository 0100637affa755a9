-- vns.skbfuncs: skb-trace's probe points: option types, compiler
-- clones, where the skb is, and what resolve keeps or skips.
local core = require "vns.core"
local kernel = require "vns.kernel"
local options = require "vns.options"
local skbfuncs = require "vns.skbfuncs"
local h = require "helpers"
local eq = h.eq

local T = {}

local function parse(args) return options.parse(skbfuncs.options(), args) end

function T.groups_and_funcs_parse()
  eq(parse({ "--group", "gso,qdisc,gso" }).group, { "gso", "qdisc" })
  eq(parse({ "--func", "tun_net_xmit,vxlan_rcv:2,net:net_dev_queue,tracepoint:skb:kfree_skb" }).func, {
    { fn = "tun_net_xmit" }, { fn = "vxlan_rcv", arg = 2 },
    { tracepoint = true, cat = "net", name = "net_dev_queue" }, { tracepoint = true, cat = "skb", name = "kfree_skb" },
  })
  h.checkerr("option %-%-group: 'xmit,nope' is not valid %(unknown group 'nope'%)", parse, { "--group", "xmit,nope" })
  h.checkerr("option %-%-func: 'f:7' is not valid", parse, { "--func", "f:7" })
  h.checkerr("option %-%-func: 'a,,b' is not valid", parse, { "--func", "a,,b" })
end

-- A clone is attached when the function itself is not there.
function T.symbol_finds_clones()
  local syms = { tun_put_user_x = 1, ["tun_put_user.isra.0"] = 2, ["foo.constprop.3"] = 3, ["bar.cold"] = 4, baz = 5 }
  eq(skbfuncs.symbol("tun_put_user", syms), "tun_put_user.isra.0")
  eq(skbfuncs.symbol("foo", syms), "foo.constprop.3")
  eq(skbfuncs.symbol("bar", syms), nil)   -- .cold is a part of a function, not a callable clone
  eq(skbfuncs.symbol("baz", syms), "baz")
end

-- BTF first, the table without BTF, the user otherwise.
function T.skb_position()
  eq({ skbfuncs.skb_position("x", { "struct sock *", "struct sk_buff *" }) }, { 2, "BTF" })
  eq({ skbfuncs.skb_position("x", { "const struct sk_buff *" }) }, { 1, "BTF" })
  local n, why = skbfuncs.skb_position("x", { "struct sock *" })
  eq(n, nil)
  h.has(why, "no struct sk_buff")
  eq({ skbfuncs.skb_position("vxlan_rcv", false) }, { 2, "table" })
  n, why = skbfuncs.skb_position("my_fn", false)
  eq(n, nil)
  h.has(why, "my_fn:N")
  -- The table agrees with this kernel's BTF where both know a function.
  for fn, pos in pairs(skbfuncs.skb_arg) do
    local btf = core.btf_func_args(fn)
    if type(btf) == "table" then eq(skbfuncs.skb_position(fn, btf), pos, fn) end
  end
end

-- Group members this kernel lacks are skipped; what the user names must exist.
function T.resolve_skips_group_members_and_refuses_missing_funcs()
  local set = skbfuncs.resolve({ "tunnel", "free" }, nil, false)
  eq(#set.kprobes, 0)
  for _, tp in ipairs(set.tracepoints) do eq(tp.cat, "skb") end
  h.checkerr("%-%-func no_such_function_here: not in /proc/kallsyms", skbfuncs.resolve, nil,
             { { fn = "no_such_function_here" } }, true)
  h.checkerr("tracepoint net:no_such does not exist", skbfuncs.resolve, nil,
             { { tracepoint = true, cat = "net", name = "no_such" } }, true)
  -- Compiling for another kernel: its functions are taken as named.
  kernel.set_target("5.10.0-32-cloud-amd64")
  local ok, other = pcall(skbfuncs.resolve, { "tun" }, nil, true)
  kernel.set_target(nil)
  assert(ok, other)
  eq(#other.kprobes, 4)
end

-- The C's kprobe entries do not depend on which functions this kernel has.
function T.positions_from_the_groups()
  eq(skbfuncs.positions({ kprobes = {} }, { "tun" }), { 1, 3, 4 })
  eq(skbfuncs.positions({ kprobes = { { arg = 6 } } }, { "xmit" }), { 1, 6 })
end

return T
