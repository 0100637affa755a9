-- tracepoint: attach tracepoint probes as raw tracepoints where the kernel
-- has them, with the classic TRACEPOINT_PROBE as fallback.
--
-- A classic tracepoint program gets a record the kernel fills with every
-- format field on every hit; a raw one (Linux 4.17+) reads the
-- tracepoint's arguments as the kernel passes them, ctx->args[i], which
-- costs less per hit. Raw arguments follow the tracepoint's TP_PROTO, not
-- its format fields, and TP_PROTO changes between kernels (kfree_skb:
-- (skb, location) until 5.16, reason from 5.17, rx_sk from 6.11), so:
--   - with kernel BTF, the typedef btf_trace_<name> gives this kernel's
--     TP_PROTO: the arguments of the table below are checked against it
--     (count and types), and a mismatch means classic;
--   - without BTF, or compiling for another kernel (vnetscope compile
--     --kernel-release), the table's version ranges say which arguments
--     exist.
-- Tracepoints not in the table are classic, their arguments being the
-- format fields.
--
--   local tracepoint = require "vns.tracepoint"
--   local tp = tracepoint.probe("skb", "kfree_skb")
--   template.render(text, { TRACEPOINTS = tp.code, ... })
--
-- with, in the template (bpf-templates/include/vns/tp.h),
--
--   {{ TRACEPOINTS }}
--   VNS_TP(skb, kfree_skb) { return worker(VNS_CTX(kfree_skb), VNS_ARG(kfree_skb, skb)); }
--
-- VNETSCOPE_TRACEPOINTS=classic (or raw) in the environment, or force(),
-- overrides the choice; auto is the default. `vnetscope check` loads a
-- tool's programs both ways where they differ.
local core = require "vns.core"
local errors = require "vns.errors"
local kernel = require "vns.kernel"
local template = require "vns.template"

local M = {}

-- Arguments by position in TP_PROTO: name, format field of the classic
-- record, C type of the accessor, type as BTF names it, first kernel
-- with it (4.17, the first with raw tracepoints, when older).
M.known = {
  ["skb:kfree_skb"] = {
    { name = "skb", field = "skbaddr", ctype = "struct sk_buff *", btf = "struct sk_buff *" },
    { name = "location", field = "location", ctype = "u64", btf = "void *" },
    { name = "reason", field = "reason", ctype = "u32", btf = "enum skb_drop_reason", since = { 5, 17 } },
    { name = "rx_sk", field = "rx_skaddr", ctype = "struct sock *", btf = "struct sock *", since = { 6, 11 } },
  },
  -- The classic records have no irqaction: only the raw entry passes it.
  ["irq:irq_handler_entry"] = {
    { name = "irq", field = "irq", ctype = "int", btf = "int" },
    { name = "action", field = "action", ctype = "void *", btf = "struct irqaction *" },
  },
  ["irq:irq_handler_exit"] = {
    { name = "irq", field = "irq", ctype = "int", btf = "int" },
    { name = "action", field = "action", ctype = "void *", btf = "struct irqaction *" },
    { name = "ret", field = "ret", ctype = "int", btf = "int" },
  },
  ["irq:softirq_entry"] = { { name = "vec", field = "vec", ctype = "u32", btf = "unsigned int" } },
  ["irq:softirq_exit"] = { { name = "vec", field = "vec", ctype = "u32", btf = "unsigned int" } },
  ["napi:napi_poll"] = {
    { name = "napi", field = "napi", ctype = "struct napi_struct *", btf = "struct napi_struct *" },
    { name = "work", field = "work", ctype = "int", btf = "int" },
    { name = "budget", field = "budget", ctype = "int", btf = "int" },
  },
  -- The CPU tools read the tasks themselves (vns/sched.h): a classic
  -- record has no task pointers (field false: absent there).
  ["sched:sched_switch"] = {
    { name = "preempt", field = false, ctype = "u64", btf = "bool" },
    { name = "prev", field = false, ctype = "struct task_struct *", btf = "struct task_struct *" },
    { name = "next", field = false, ctype = "struct task_struct *", btf = "struct task_struct *" },
    { name = "prev_state", field = "prev_state", ctype = "u64", btf = "unsigned int", since = { 5, 18 } },
  },
  ["sched:sched_wakeup"] = {
    { name = "p", field = false, ctype = "struct task_struct *", btf = "struct task_struct *" },
  },
  ["sched:sched_wakeup_new"] = {
    { name = "p", field = false, ctype = "struct task_struct *", btf = "struct task_struct *" },
  },
  ["sched:sched_waking"] = {
    { name = "p", field = false, ctype = "struct task_struct *", btf = "struct task_struct *" },
  },
}

-- The net and qdisc tracepoints a packet passes (skb-trace): only the
-- arguments up to the skb. Since 4.17 each has had these first.
local function skb_first(btf)
  return { { name = "skb", field = "skbaddr", ctype = "struct sk_buff *", btf = btf or "struct sk_buff *" } }
end
for _, tp in ipairs({ "net:net_dev_queue", "net:net_dev_xmit", "net:netif_receive_skb", "net:netif_rx",
                      "skb:consume_skb" }) do
  M.known[tp] = skb_first()
end
for _, tp in ipairs({ "net:net_dev_start_xmit", "net:napi_gro_receive_entry", "net:netif_receive_skb_entry",
                      "net:netif_rx_entry", "skb:skb_copy_datagram_iovec" }) do
  M.known[tp] = skb_first("const struct sk_buff *")
end
M.known["qdisc:qdisc_dequeue"] = {
  { name = "qdisc", field = "qdisc", ctype = "void *", btf = "struct Qdisc *" },
  { name = "txq", field = "txq", ctype = "void *", btf = "const struct netdev_queue *" },
  { name = "packets", field = "packets", ctype = "int", btf = "int" },
  { name = "skb", field = "skbaddr", ctype = "struct sk_buff *", btf = "struct sk_buff *" },
}
M.known["qdisc:qdisc_enqueue"] = {
  { name = "qdisc", field = "qdisc", ctype = "void *", btf = "struct Qdisc *" },
  { name = "txq", field = "txq", ctype = "void *", btf = "const struct netdev_queue *" },
  { name = "skb", field = "skbaddr", ctype = "struct sk_buff *", btf = "struct sk_buff *", since = { 5, 15 } },
}

M.RAW_SINCE = { 4, 17 }

local modes = { auto = true, raw = true, classic = true }
local forced

-- Force a mode (auto, raw, classic) for the programs generated next; nil
-- goes back to the environment's.
function M.force(mode)
  assert(mode == nil or modes[mode], "tracepoint.force: auto, raw or classic")
  forced = mode
end

function M.mode()
  if forced then return forced end
  local env = os.getenv("VNETSCOPE_TRACEPOINTS")
  if env == nil or env == "" then return "auto" end
  if not modes[env] then
    errors.usage("VNETSCOPE_TRACEPOINTS must be auto, raw or classic, not '%s'", env)
  end
  return env
end

local function at_least(since, version)
  local a, b = kernel.version()
  if version then a, b = version[1], version[2] end
  return a > since[1] or (a == since[1] and b >= since[2])
end

-- The arguments of TP_PROTO this kernel passes: {name = index} (0-based),
-- how that was found, or nil and why raw cannot be used. btf_args and
-- version stand in for this kernel's (tests): a list of BTF type names,
-- or false for a kernel without BTF; {major, minor}.
function M.raw_args(cat, name, btf_args, version)
  local known = M.known[cat .. ":" .. name]
  if not known then return nil, "not in the table of tracepoint arguments" end
  -- This kernel's BTF says nothing of another one we compile for.
  if btf_args == nil then btf_args = not kernel.is_target() and core.btf_tracepoint_args(name) or false end
  local args = {}
  if type(btf_args) == "table" then
    for i, a in ipairs(known) do
      if i > #btf_args then break end
      if btf_args[i] ~= a.btf then
        return nil, string.format("argument %d is %s in BTF, not %s", i, btf_args[i], a.btf)
      end
      args[a.name] = i - 1
    end
    return args, "BTF btf_trace_" .. name
  end
  if not at_least(M.RAW_SINCE, version) then return nil, "raw tracepoints need Linux 4.17" end
  for i, a in ipairs(known) do
    if a.since and not at_least(a.since, version) then break end
    args[a.name] = i - 1
  end
  return args, "kernel version"
end

local function line(out, fmt, ...) out[#out + 1] = string.format(fmt, ...) end


-- An argument of the table this kernel does not pass: 0, so a template
-- can pass it on unconditionally (VNS_HAS_ARG says whether it is real).
local function absent(out, name, a)
  line(out, "#define VNS_TP_HAS_%s_%s 0", name, a.name)
  line(out, "#define VNS_TP_ARG_%s_%s ((%s)0)", name, a.name, a.ctype)
end

-- The first line names the tracepoint as "cat:name as a raw tracepoint":
-- vns.cache keys a program on the formats of the tracepoints it names so.
local function raw_code(cat, name, args)
  local out, names = {}, {}
  for _, a in ipairs(M.known[cat .. ":" .. name]) do
    if args[a.name] then names[#names + 1] = a.name end
  end
  -- Not how the arguments were found: a pack made from the version on a
  -- build host must be the same text as one made from BTF on the target.
  line(out, "/* %s:%s as a raw tracepoint: TP_PROTO (%s) */", cat, name, table.concat(names, ", "))
  line(out, "#define VNS_TP_RAW_%s 1", name)
  line(out, "#define VNS_TP_ENTRY_%s RAW_TRACEPOINT_PROBE(%s)", name, name)
  line(out, "#define VNS_TP_CTX_%s ctx", name)
  for _, a in ipairs(M.known[cat .. ":" .. name]) do
    if args[a.name] then
      line(out, "#define VNS_TP_HAS_%s_%s 1", name, a.name)
      line(out, "#define VNS_TP_ARG_%s_%s ((%s)ctx->args[%d])", name, a.name, a.ctype, args[a.name])
    else
      absent(out, name, a)
    end
  end
  return table.concat(out, "\n")
end

local function classic_code(cat, name)
  local out = {}
  local fields = kernel.tracepoint_fields(cat, name)
  line(out, "/* %s:%s as a classic tracepoint (the record of its format fields) */", cat, name)
  line(out, "#define VNS_TP_RAW_%s 0", name)
  line(out, "#define VNS_TP_ENTRY_%s TRACEPOINT_PROBE(%s, %s)", name, cat, name)
  line(out, "#define VNS_TP_CTX_%s args", name)
  local known = M.known[cat .. ":" .. name]
  if known then
    for _, a in ipairs(known) do
      if fields[a.field] then
        line(out, "#define VNS_TP_HAS_%s_%s 1", name, a.name)
        line(out, "#define VNS_TP_ARG_%s_%s ((%s)args->%s)", name, a.name, a.ctype, a.field)
      else
        absent(out, name, a)
      end
    end
  else
    local list = {}
    for field in pairs(fields) do
      if not field:match("^common_") and template.is_ident(field) then list[#list + 1] = field end
    end
    table.sort(list)
    for _, field in ipairs(list) do
      line(out, "#define VNS_TP_HAS_%s_%s 1", name, field)
      line(out, "#define VNS_TP_ARG_%s_%s (args->%s)", name, field, field)
    end
  end
  return table.concat(out, "\n")
end

-- The probe entry of cat:name on this kernel: {raw, args (name -> index
-- for raw), why (how raw was chosen, or why not), code (the definitions
-- vns/tp.h expands to, for {{ TRACEPOINTS }})}. mode overrides M.mode().
function M.probe(cat, name, mode)
  template.ident(cat, "tracepoint: category")
  template.ident(name, "tracepoint: name")
  mode = mode or M.mode()
  if not kernel.has_tracepoint(cat, name) then
    errors.fail("tracepoint %s:%s does not exist on this kernel (%s)", cat, name, kernel.release())
  end
  local args, why
  if mode ~= "classic" then
    args, why = M.raw_args(cat, name)
    if not args and mode == "raw" then
      errors.fail("tracepoint %s:%s cannot be attached raw here: %s (VNETSCOPE_TRACEPOINTS=raw)", cat, name, why)
    end
  else
    why = "classic forced"
  end
  if args then
    return { raw = true, args = args, why = why, code = template.code(raw_code(cat, name, args)) }
  end
  return { raw = false, why = why, code = template.code(classic_code(cat, name)) }
end

-- Several probes' definitions as one {{ TRACEPOINTS }} value.
function M.code(...)
  local parts = {}
  for i, tp in ipairs({ ... }) do parts[i] = tp.code.text end
  return template.code(table.concat(parts, "\n"))
end

return M
