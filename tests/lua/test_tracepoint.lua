-- vns.tracepoint: raw tracepoint arguments from BTF or the version table,
-- and the classic fallback.
local core = require "vns.core"
local kernel = require "vns.kernel"
local tracepoint = require "vns.tracepoint"
local h = require "helpers"
local eq, has, hasnt = h.eq, h.has, h.hasnt

local T = {}

-- The table agrees with this kernel's BTF: every argument BTF has that
-- the table names, in order and type (and the table has no argument
-- this kernel's BTF lacks but its version says it has).
function T.table_matches_btf()
  for key, known in pairs(tracepoint.known) do
    local cat, name = key:match("^(.-):(.+)$")
    local btf = core.btf_tracepoint_args(name)
    if type(btf) == "table" then
      for i, a in ipairs(known) do
        if btf[i] then eq(btf[i], a.btf, key .. " argument " .. i) end
      end
      local from_btf = tracepoint.raw_args(cat, name)
      local from_version = tracepoint.raw_args(cat, name, false)
      eq(from_version, from_btf, key .. ": the version table and BTF")
    end
  end
end

-- Without BTF the version ranges say which arguments there are.
function T.kfree_skb_by_version()
  eq(tracepoint.raw_args("skb", "kfree_skb", false, { 4, 19 }), { skb = 0, location = 1 })
  eq(tracepoint.raw_args("skb", "kfree_skb", false, { 5, 17 }), { skb = 0, location = 1, reason = 2 })
  eq(tracepoint.raw_args("skb", "kfree_skb", false, { 6, 11 }), { skb = 0, location = 1, reason = 2, rx_sk = 3 })
  local args, why = tracepoint.raw_args("skb", "kfree_skb", false, { 4, 14 })
  eq(args, nil)
  has(why, "4.17")
end

-- With BTF its proto decides; a type the table does not expect means
-- classic.
function T.kfree_skb_by_btf()
  eq(tracepoint.raw_args("skb", "kfree_skb", { "struct sk_buff *", "void *" }), { skb = 0, location = 1 })
  eq(tracepoint.raw_args("skb", "kfree_skb", { "struct sk_buff *", "void *", "enum skb_drop_reason" }),
     { skb = 0, location = 1, reason = 2 })
  local args, why = tracepoint.raw_args("skb", "kfree_skb", { "struct sk_buff *", "int" })
  eq(args, nil)
  has(why, "argument 2")
  eq(tracepoint.raw_args("sched", "sched_process_exec", { "struct task_struct *" }), nil)
end

function T.probe_raw_and_classic()
  tracepoint.force(nil)
  local raw = tracepoint.probe("skb", "kfree_skb", "auto")
  local classic = tracepoint.probe("skb", "kfree_skb", "classic")
  eq(classic.raw, false)
  has(classic.code.text, "#define VNS_TP_ENTRY_kfree_skb TRACEPOINT_PROBE(skb, kfree_skb)")
  has(classic.code.text, "#define VNS_TP_ARG_kfree_skb_skb ((struct sk_buff *)args->skbaddr)")
  if core.btf_tracepoint_args("kfree_skb") then
    eq(raw.raw, true)
    has(raw.code.text, "#define VNS_TP_ENTRY_kfree_skb RAW_TRACEPOINT_PROBE(kfree_skb)")
    has(raw.code.text, "#define VNS_TP_ARG_kfree_skb_skb ((struct sk_buff *)ctx->args[0])")
    has(raw.code.text, "#define VNS_TP_ARG_kfree_skb_location ((u64)ctx->args[1])")
  end
  if kernel.tracepoint_fields("skb", "kfree_skb").reason then
    has(classic.code.text, "#define VNS_TP_HAS_kfree_skb_reason 1")
  end
end

-- A tracepoint outside the table is classic, its format fields the arguments.
function T.unknown_tracepoint_is_classic()
  if not kernel.has_tracepoint("sched", "sched_process_exec") then return end
  local tp = tracepoint.probe("sched", "sched_process_exec", "auto")
  eq(tp.raw, false)
  has(tp.code.text, "#define VNS_TP_ARG_sched_process_exec_pid (args->pid)")
  hasnt(tp.code.text, "common_")
end

-- Compiling for another kernel: its version decides, not this one's BTF
-- (5.10's kfree_skb has no reason argument).
function T.another_kernel_goes_by_version()
  kernel.set_target("5.10.0-32-cloud-amd64")
  local ok, args, how = pcall(tracepoint.raw_args, "skb", "kfree_skb")
  local ok2, tp = pcall(tracepoint.probe, "skb", "kfree_skb", "raw")
  kernel.set_target(nil)
  assert(ok, args)
  assert(ok2, tp)
  eq({ args.skb, args.location, args.reason, how }, { 0, 1, nil, "kernel version" })
  -- What 5.10 does not pass is 0, so templates pass it on unconditionally.
  has(tp.code.text, "#define VNS_TP_HAS_kfree_skb_reason 0\n#define VNS_TP_ARG_kfree_skb_reason ((u32)0)")
end

-- force() and VNETSCOPE_TRACEPOINTS choose; force wins.
function T.force_mode()
  tracepoint.force("classic")
  eq(tracepoint.mode(), "classic")
  eq(tracepoint.probe("skb", "kfree_skb").raw, false)
  tracepoint.force(nil)
  eq(tracepoint.mode(), os.getenv("VNETSCOPE_TRACEPOINTS") or "auto")
  h.checkerr("auto, raw or classic", tracepoint.force, "fast")
end

return T
