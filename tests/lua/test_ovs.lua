-- The OVS tools' generated C: where their flow filters and conditions go.
local registry = require "vns.registry"
local options = require "vns.options"
local h = require "helpers"
local has, hasnt = h.has, h.hasnt

local function generate(name, argv)
  local tool = registry.find(name)
  return tool:generate(options.parse(tool:specs(), argv or {}))
end

local T = {}

-- The filter selects the upcalled packet: tested at ovs_dp_upcall (stage
-- 0) only; the execute (stage 1) matches by identity; only misses open
-- sessions, and the upcall's return ends failed ones.
function T.upcall_latency_filter_at_the_upcall()
  local text = generate("ovs-upcall-latency", { "--src-ip", "10.0.0.1" })
  local stage0 = text:match("vns_stage_0_match%(struct sk_buff %*skb%)\n(%b{})")
  local stage1 = text:match("vns_stage_1_match%(struct sk_buff %*skb%)\n(%b{})")
  has(stage0, "f.saddr[0] == VNS_VALUE(u32, 0x100000a)")
  hasnt(stage1, "0x100000a")
  has(text, "int kprobe__ovs_dp_upcall(struct pt_regs *ctx)")
  has(text, "  if (!(ovs_upcall_is_miss(ctx)))\n    return 0;")
  has(text, "int kprobe__ovs_flow_key_extract_userspace(struct pt_regs *ctx)")
  has(text, "u64 key = ovs_upcall_failed_key(ctx);")
end

function T.drops_filter_in_every_probe()
  local text = generate("ovs-drops", { "--src-ip", "10.0.0.1", "--proto", "udp" })
  local match = text:match("ovs_drop_match%(struct sk_buff %*skb%)\n(%b{})")
  has(match, "0x100000a")
  local _, uses = text:gsub("if %(!ovs_drop_match%(skb%)%)", "")
  h.eq(uses, 3)   -- ovs_execute_actions, the upcall and meter calls, kfree_skb
  has(text, "VNS_TP(skb, kfree_skb)")
  has(text, "struct vns_sw_flow_actions *acts")
end

return T
