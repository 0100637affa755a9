-- skbfuncs: the probe points skb-trace follows a packet through. Named
-- groups of kernel functions and tracepoints, the user's own list, and
-- for each function where its struct sk_buff * is, checked against the
-- running kernel before any C is written.
--
--   local set = skbfuncs.resolve(opts.group, opts.func)
--   set.tracepoints  { {cat, name, group, id} }   exist on this kernel
--   set.kprobes      { {fn, sym, arg, group, id} } sym: the symbol to attach
--   set.skipped      { "fn (why)" }                group members not here
--   set.no_kprobes   { fn }                        group members skipped: no kprobes here
--
-- Where the skb is: from the kernel's BTF (the FUNC's parameter types)
-- when it has one, else from the table below (the prototypes of the
-- kernel headers, 4.19 to 6.x), else the user says it (FN:N). A function
-- the user named that does not exist is an error; a group member that
-- does not exist is skipped, all of them named in one note.
local core = require "vns.core"
local errors = require "vns.errors"
local kernel = require "vns.kernel"
local options = require "vns.options"

local M = {}

M.MAX_FUNCS = 256

-- Group members: "cat:name" is a tracepoint, "fn" or "fn:N" a kernel
-- function whose skb is argument N (default 1), as in the headers' prototypes.
M.groups = {
  xmit = { "net:net_dev_queue", "net:net_dev_start_xmit", "net:net_dev_xmit",
           "__dev_queue_xmit", "dev_hard_start_xmit", "validate_xmit_skb", "dev_queue_xmit_nit" },
  receive = { "net:netif_rx", "net:napi_gro_receive_entry", "net:netif_receive_skb",
              "__netif_receive_skb", "ip_rcv", "ipv6_rcv", "ip_local_deliver", "udp_rcv", "tcp_v4_rcv" },
  qdisc = { "qdisc:qdisc_enqueue", "qdisc:qdisc_dequeue", "sch_direct_xmit", "tcf_classify",
            "sch_handle_egress", "sch_handle_ingress", "tcf_action_exec" },
  gso = { "__skb_gso_segment", "skb_mac_gso_segment", "inet_gso_segment", "ipv6_gso_segment",
          "tcp_gso_segment", "__udp_gso_segment", "udp4_ufo_fragment", "skb_udp_tunnel_segment",
          "skb_segment", "netif_skb_features" },
  tunnel = { "vxlan_xmit", "vxlan_rcv:2", "geneve_xmit", "geneve_udp_encap_recv:2", "udp_tunnel_xmit_skb:3",
             "udp_tunnel6_xmit_skb:3", "iptunnel_xmit:3", "iptunnel_handle_offloads", "__iptunnel_pull_header" },
  ovs = { "ovs_vport_receive:2", "ovs_dp_process_packet", "ovs_execute_actions:2", "ovs_dp_upcall:2",
          "ovs_vport_send:2" },
  tun = { "tun_net_xmit", "tun_rx_batched:3", "tun_put_user:3", "tap_handle_frame", "tun_xdp_one:4" },
  free = { "skb:kfree_skb", "skb:consume_skb" },
}
M.group_names = { "xmit", "receive", "qdisc", "gso", "tunnel", "ovs", "tun", "free" }

-- Where the skb is in functions of the groups and other common ones, from
-- the kernel headers' prototypes (for kernels without BTF).
M.skb_arg = {}
for _, list in pairs(M.groups) do
  for _, item in ipairs(list) do
    local fn, n = item:match("^([%w_]+):?(%d*)$")
    if fn then M.skb_arg[fn] = tonumber(n) or 1 end
  end
end
M.skb_arg.tap_handle_frame = nil  -- takes struct sk_buff **: no skb to read at entry

-- ---- option types -----------------------------------------------------------

local function split(text)
  local items = {}
  for item in (text .. ","):gmatch("([^,]*),") do items[#items + 1] = item end
  return items
end

options.types.skb_groups = {
  parse = function(text)
    local list, seen = {}, {}
    for _, g in ipairs(split(text)) do
      if not M.groups[g] then return nil, "unknown group '" .. g:sub(1, 20) .. "'" end
      if not seen[g] then list[#list + 1], seen[g] = g, true end
    end
    if #list > 0 then return list end
  end,
  form = function() return "a comma list of " .. table.concat(M.group_names, ", ") end,
}

-- One --func entry: FN, FN:N (the skb is argument N), CAT:NAME or
-- tracepoint:CAT:NAME. Names are C identifiers; clone suffixes
-- (.isra.0, .constprop.0, .part.0) are found by resolve, not typed.
local function func_item(text)
  local cat, name = text:match("^tracepoint:([%a_][%w_]*):([%a_][%w_]*)$")
  if not cat then cat, name = text:match("^([%a_][%w_]*):([%a_][%w_]*)$") end
  if cat and #cat <= 64 and #name <= 64 then return { tracepoint = true, cat = cat, name = name } end
  local fn, n = text:match("^([%a_][%w_]*):([1-6])$")
  if not fn then fn = text:match("^([%a_][%w_]*)$") end
  if fn and #fn <= 120 then return { fn = fn, arg = tonumber(n) } end
end

options.types.skb_funcs = {
  parse = function(text)
    local list = {}
    for _, item in ipairs(split(text)) do
      local v = func_item(item)
      if not v then return nil, "bad entry '" .. item:sub(1, 40) .. "'" end
      list[#list + 1] = v
    end
    if #list > 0 and #list <= M.MAX_FUNCS then return list end
  end,
  form = function()
    return "a comma list of kernel functions (FN, or FN:N when the skb is argument N, 1-6) "
        .. "and tracepoints (CAT:NAME or tracepoint:CAT:NAME)"
  end,
}

function M.options()
  return {
    { name = "group", type = "skb_groups", metavar = "LIST",
      help = "function groups: " .. table.concat(M.group_names, ",") .. " (default xmit,receive)" },
    { name = "func", type = "skb_funcs", metavar = "LIST",
      help = "more probe points: FN, FN:N (skb is argument N), CAT:NAME" },
  }
end

-- ---- this kernel's functions --------------------------------------------------

local symbols

-- name -> address of the kernel's text symbols, clones included
-- (tun_put_user.isra.0); read once.
local function kernel_symbols()
  if symbols then return symbols end
  symbols = {}
  local f = io.open("/proc/kallsyms", "r")
  if f then
    for line in f:lines() do
      local addr, kind, sym = line:match("^(%x+) (%a) ([^%s]+)")
      if sym and (kind == "t" or kind == "T") and not symbols[sym] then symbols[sym] = tonumber(addr, 16) end
    end
    f:close()
  end
  return symbols
end
M.kernel_symbols = kernel_symbols

-- The symbol to attach for fn: fn itself, else a compiler clone of it
-- (fn.isra.N, fn.constprop.N, fn.part.N; the first in kallsyms order is
-- as good as any). nil when neither is there (inlined, or not built).
function M.symbol(fn, syms)
  syms = syms or kernel_symbols()
  if syms[fn] then return fn end
  local best
  for sym in pairs(syms) do
    local base, kind = sym:match("^([%w_]+)%.(%a+)%.?%d*")
    if base == fn and (kind == "isra" or kind == "constprop" or kind == "part") then
      if not best or sym < best then best = sym end
    end
  end
  return best
end

-- Where fn's skb is: the BTF FUNC's first struct sk_buff * parameter,
-- else the table; nil and why.
function M.skb_position(fn, btf_args)
  if btf_args == nil and not kernel.is_target() then btf_args = core.btf_func_args(fn) end
  if type(btf_args) == "table" then
    for i, t in ipairs(btf_args) do
      if t == "struct sk_buff *" or t == "const struct sk_buff *" then
        return i <= 6 and i or nil, i <= 6 and "BTF" or "skb beyond argument 6"
      end
    end
    return nil, "no struct sk_buff * argument in its BTF prototype"
  end
  if M.skb_arg[fn] then return M.skb_arg[fn], "table" end
  return nil, (btf_args == false and "not in this kernel's BTF" or "no kernel BTF")
              .. " nor in skb-trace's table: say where its skb is, as " .. fn .. ":N"
end

-- ---- resolve ---------------------------------------------------------------------

local function add_tracepoint(set, cat, name, group, user)
  local key = cat .. ":" .. name
  if set.seen[key] then return end
  if not kernel.has_tracepoint(cat, name) then
    if user then errors.fail("--func: tracepoint %s does not exist on this kernel (%s)", key, kernel.release()) end
    set.skipped[#set.skipped + 1] = key .. " (no such tracepoint)"
    return
  end
  local fields = kernel.tracepoint_fields(cat, name)
  if not fields.skbaddr then
    if user then errors.fail("--func: tracepoint %s has no skbaddr field: it does not carry a packet", key) end
    set.skipped[#set.skipped + 1] = key .. " (no skbaddr field)"
    return
  end
  set.seen[key] = true
  set.tracepoints[#set.tracepoints + 1] = { cat = cat, name = name, group = group, label = name }
end

local function add_kprobe(set, fn, arg, group, user, kprobes_ok)
  if set.seen[fn] then return end
  -- A function the user named on a kernel without kprobes stays in the
  -- set: its program is still generated (and `check` loads it), and
  -- attaching it fails with the engine's one clear message.
  local sym = kernel.is_target() and fn or M.symbol(fn)
  local why
  if not sym then why = "not in /proc/kallsyms: no such function, inlined or not built"
  elseif not kprobes_ok and not user then why = "kprobes not supported here" end
  local pos, how = arg, "given"
  if not why and not pos then
    pos, how = M.skb_position(fn)
    if not pos then why = how end
  end
  if why then
    if user then errors.fail("--func %s: %s", fn, why) end
    if sym and not kprobes_ok then
      set.no_kprobes[#set.no_kprobes + 1] = fn
      return
    end
    set.skipped[#set.skipped + 1] = fn .. " (" .. why .. ")"
    return
  end
  set.seen[fn] = true
  set.kprobes[#set.kprobes + 1] = { fn = fn, sym = sym, arg = pos, how = how, group = group, label = sym }
end

-- Every probe point of the groups and the user's --func list that this
-- kernel has. kprobes_ok: whether this kernel can attach kprobes at all.
function M.resolve(groups, funcs, kprobes_ok)
  local set = { tracepoints = {}, kprobes = {}, skipped = {}, no_kprobes = {}, seen = {} }
  for _, g in ipairs(groups or {}) do
    for _, item in ipairs(M.groups[g]) do
      local cat, name = item:match("^(%a+):([%a_][%w_]*)$")
      if cat then
        add_tracepoint(set, cat, name, g, false)
      else
        local fn, n = item:match("^([%w_]+):?(%d*)$")
        if M.skb_arg[fn] then add_kprobe(set, fn, tonumber(n), g, false, kprobes_ok) end
      end
    end
  end
  for _, v in ipairs(funcs or {}) do
    if v.tracepoint then add_tracepoint(set, v.cat, v.name, "func", true)
    else add_kprobe(set, v.fn, v.arg, "func", true, kprobes_ok) end
  end
  local n = 0
  for _, list in ipairs({ set.tracepoints, set.kprobes }) do
    for _, p in ipairs(list) do n = n + 1; p.id = n end
  end
  set.seen = nil
  return set
end

-- The kprobe argument positions, sorted: one BPF program per position
-- serves every function with its skb there. Those of the groups' table
-- entries count whether or not this kernel has the function, so the C is
-- the same on every kernel (a program compiled for another is found).
function M.positions(set, groups)
  local seen, list = {}, {}
  local function add(n) if not seen[n] then seen[n] = true; list[#list + 1] = n end end
  for _, g in ipairs(groups or {}) do
    for _, item in ipairs(M.groups[g]) do
      local fn, n = item:match("^([%w_]+):?(%d*)$")
      if fn and M.skb_arg[fn] then add(tonumber(n) or 1) end
    end
  end
  for _, k in ipairs(set.kprobes) do add(k.arg) end
  table.sort(list)
  return list
end

return M
