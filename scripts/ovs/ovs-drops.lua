-- ovs-drops: packets the OVS kernel datapath drops, per cause, where
-- and input port: flows with no actions (OpenFlow drops), upcalls that
-- failed (the datapath's "lost"), and frees from the datapath's own code
-- (output to a missing port, a failed action, recursion and deferred-
-- action limits, MTU), with the kernel's drop reason where it passes one
-- (OVS_DROP_*, Linux 6.4+), and meter drops; each with the flow key's
-- recirc_id and ct_state where known, and the kernel stack on request.
--
-- Usage:
--   vnetscope ovs-drops -i 5
--   vnetscope ovs-drops --src-ip 10.0.0.1 --proto udp
--   vnetscope ovs-drops --dev vnet0 --stacks --format json
--
-- Sample output:
--   CAUSE                        WHERE                DEVICE  RECIRC  CT_STATE   COUNT
--   no actions (drop flow)       ovs_execute_actions  vnet0   0x1     +trk+inv      16
--   meter band drop              ovs_meter_execute    vnet0   0x0     0              9
--   output port missing or down  do_output+0x1c3      vnet0   0x0     0              5
--   upcall failed: ENOTCONN      ovs_dp_upcall        vnet0   0x0     0              3
--
-- Requires: kprobes on the openvswitch module (ovs_execute_actions,
-- ovs_dp_upcall, ovs_meter_execute and their returns), skb:kfree_skb.
-- How each cause is seen: bpf-templates/ovs-drops.c, docs/tools/ovs-drops.md.
local core = require "vns.core"
local ctxfilter = require "vns.ctxfilter"
local drops = require "vns.drops"
local errors = require "vns.errors"
local net = require "vns.net"
local ovslayout = require "vns.ovslayout"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"
local tracepoint = require "vns.tracepoint"


local ERRNO = { [4] = "EINTR", [11] = "EAGAIN", [12] = "ENOMEM", [19] = "ENODEV", [22] = "EINVAL", [28] = "ENOSPC",
                [32] = "EPIPE", [90] = "EMSGSIZE", [105] = "ENOBUFS", [107] = "ENOTCONN", [111] = "ECONNREFUSED",
                [512] = "ERESTARTSYS" }

-- net/openvswitch/drop.h (6.4+): SKB_DROP_REASON_SUBSYS_OPENVSWITCH in
-- the top 16 bits (3 as in 6.4, 2 in 6.18 where mac80211 has one), then
-- the reasons in this order from 1 (6.4 named the first and the
-- explicit ones OVS_DROP_FLOW, _EXPLICIT_ACTION, _EXPLICIT_ACTION_ERROR).
-- Only frees from the module's text are counted, so any subsystem code
-- there is openvswitch's.
local OVS_REASONS = { "OVS_DROP_LAST_ACTION", "OVS_DROP_ACTION_ERROR", "OVS_DROP_EXPLICIT",
                      "OVS_DROP_EXPLICIT_WITH_ERROR", "OVS_DROP_METER", "OVS_DROP_RECURSION_LIMIT",
                      "OVS_DROP_DEFERRED_LIMIT", "OVS_DROP_FRAG_L2_TOO_LONG", "OVS_DROP_FRAG_INVALID_PROTO",
                      "OVS_DROP_CONNTRACK", "OVS_DROP_IP_TTL" }

-- OVS_CS_F_* (include/uapi/linux/openvswitch.h), in OVS's own order.
local CT_STATE_BITS = { "new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat" }

-- What a free from each function of the module means (4.19-6.1 sources).
local FREED_IN = {
  do_output = "output port missing or down, or over its MRU",
  -- do_output is inlined into it at some call sites (6.1, 5.10).
  do_execute_actions = "output port missing or down, or an action failed",
  clone_execute = "deferred actions full (clone/recirculation limit)",
  add_deferred_actions = "deferred actions full (clone/recirculation limit)",
  ovs_execute_actions = "recursion limit",
  ovs_dp_process_packet = "upcall failed",
  ovs_vport_receive = "flow key extraction failed",
  ovs_vport_send = "too big for the output port, or not Ethernet",
  ovs_fragment = "fragmentation failed",
}

local function program(opts, f)
  return template.render(template.read("ovs-drops.c"), {
    LAYOUT_CHECKS = ovslayout.checks("actions_len", "recirc_id", "ct_state"),
    TRACEPOINTS = tracepoint.probe("skb", "kfree_skb").code,
    DROP_COUNTER = report.counter("drops", "ovs_drop_key", 1024),
    STACKS = template.bool(opts.stacks or false),
    FLOW_FILTER = f.guard,
    DEV_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev_skb = "skb" }).expr,
  })
end

-- The module's text: from its lowest symbol to a page past its highest
-- (the last function's size is not in kallsyms).
local function module_text(name)
  local f = io.open("/proc/kallsyms", "r")
  if not f then return nil end
  local lo, hi
  for line in f:lines() do
    local addr, kind = line:match("^(%x+) ([tT]) %S+%s+%[" .. name .. "%]")
    if addr then
      local a = math.tointeger(tonumber(addr, 16))
      if a and a ~= 0 then
        if not lo or math.ult(a, lo) then lo = a end
        if not hi or math.ult(hi, a) then hi = a end
      end
    end
  end
  f:close()
  return lo, hi and hi + 4096
end

local function prepare(run)
  local lo, hi = module_text("openvswitch")
  if not lo then errors.fail("ovs-drops: the openvswitch module is not loaded (no [openvswitch] symbols in /proc/kallsyms)") end
  run.program:table("ovs_text"):update(0, { lo = lo, hi = hi })
  run.reason_names = drops.has_reason() and drops.reason_names() or {}
  if run.opts.stacks then run.stacks = run.program:table("stacks") end
end

local function reason_name(run, code)
  if code >> 16 ~= 0 and OVS_REASONS[code & 0xffff] then return OVS_REASONS[code & 0xffff] end
  return run.reason_names[code]
end

-- ct_state as OVS writes it: "+trk+est"; "0" when no ct() ran.
local function ct_state_text(v)
  if v == 0 then return "0" end
  local parts = {}
  for i, name in ipairs(CT_STATE_BITS) do
    if v & (1 << (i - 1)) ~= 0 then parts[#parts + 1] = "+" .. name end
  end
  return table.concat(parts)
end

local function cause_of(run, k)
  if k.kind == 1 then return { cause = "no actions (drop flow)", where = "ovs_execute_actions" } end
  if k.kind == 2 then
    return { cause = "upcall failed: " .. (ERRNO[k.code] or ("errno " .. k.code)), where = "ovs_dp_upcall", errno = k.code }
  end
  if k.kind == 4 then return { cause = "meter band drop", where = "ovs_meter_execute" } end
  local where = drops.location(k.location)
  local fn = where:match("^([%w_]+)")
  local reason = k.code ~= 0 and reason_name(run, k.code) or nil
  local cause = FREED_IN[fn] or "freed"
  if reason and reason ~= "NOT_SPECIFIED" then cause = reason end
  return { cause = cause, where = where, reason = reason }
end

local function row_of(run, k)
  local row = cause_of(run, k)
  row.dev = k.dev
  if k.has_key ~= 0 then
    row.recirc_id = string.format("0x%x", k.recirc_id)
    row.ct_state = ct_state_text(k.ct_state)
  end
  if k.stack_id >= 0 then row.stack = drops.stack(run.stacks, k.stack_id) end
  return row
end

return tool.summary {
  name = "ovs-drops",
  aliases = { "ovs-kernel-module-drop-monitor", "ovs-kernel-module-drop-monitor.py" },
  about = "Packets the OVS kernel datapath drops: drop flows, failed upcalls, frees in its actions",
  tracing = "Tracing drops in the OVS kernel datapath... Hit Ctrl-C to end.",
  examples = {
    "vnetscope ovs-drops -i 5",
    "vnetscope ovs-drops --src-ip 10.0.0.1 --proto udp",
    "vnetscope ovs-drops --dev vnet0 --format json",
  },
  requires = "kprobes on the openvswitch module (ovs_execute_actions, ovs_dp_upcall, ovs_meter_execute), skb:kfree_skb",
  probes = { "kprobe:ovs_execute_actions", "kprobe:ovs_dp_upcall", "kprobe:ovs_meter_execute", "tracepoint:skb:kfree_skb" },
  caveats = function()
    if drops.has_reason() then return {} end
    return { "no drop reasons in skb:kfree_skb (5.17+): frees are told apart by the function that freed the packet" }
  end,
  options = {
    net.options({ "dev" }),
    { name = "stacks", type = "flag", help = "count per kernel stack too, shown under each row" },
  },
  check_variants = { { "--src-ip", "10.0.0.1", "--dst-ip", "fd00::2", "--proto", "udp", "--dev", "vnet0" },
                     { "--stacks" } },
  filter = true,
  program = program,
  prepare = prepare,
  counts = {
    map = "drops", what = "drops", order = { "cause", "where", "dev", "recirc_id", "ct_state" }, row = row_of,
    columns = { { "CAUSE", "cause" }, { "WHERE", "where" }, { "DEVICE", "dev" }, { "RECIRC", "recirc_id" },
                { "CT_STATE", "ct_state" }, { "COUNT", "count" } },
    after = function(r, out) report.frames(out, r.stack) end,
  },
}
