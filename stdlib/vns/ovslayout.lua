-- ovslayout: the members of openvswitch's private structs the OVS tools
-- read, as bpf-templates/include/vns/ovs_layout.h describes them, each
-- { our struct, our member, kernel struct, kernel member }. A tool
-- checks those it reads against the module's BTF (vns.virtlayout):
--   LAYOUT_CHECKS = ovslayout.checks("upcall_cmd")
local virtlayout = require "vns.virtlayout"

local M = {}

local MEMBERS = {
  upcall_cmd = { "vns_dp_upcall_info", "cmd", "dp_upcall_info", "cmd" },
  actions_len = { "vns_sw_flow_actions", "actions_len", "sw_flow_actions", "actions_len" },
  recirc_id = { "vns_sw_flow_key", "recirc_id", "sw_flow_key", "recirc_id" },
  ct_state = { "vns_sw_flow_key", "ct_state", "sw_flow_key", "ct_state" },
  ct_commit = { "vns_ovs_conntrack_info", "flags", "ovs_conntrack_info", "commit" },
}

-- The checks of the members named, and how they were checked.
function M.checks(...)
  local members = {}
  for i, name in ipairs({ ... }) do
    members[i] = assert(MEMBERS[name], "ovslayout: no member " .. tostring(name))
  end
  return virtlayout.checks("openvswitch", members)
end

return M
