-- ovs-upcall-latency: how long the OVS kernel datapath's upcalls take to
-- come back: from ovs_dp_upcall (a packet no megaflow matched, sent to
-- ovs-vswitchd) to the same packet coming back to be executed
-- (OVS_PACKET_CMD_EXECUTE: ovs_packet_cmd_execute parses it with
-- ovs_flow_key_extract_userspace). Every interval a log2 histogram per
-- input port with exact count, min, mean and max; how many upcalls came
-- back, failed (ovs_dp_upcall's error: the datapath's "lost") or never
-- came back.
--
-- Usage:
--   vnetscope ovs-upcall-latency -i 5
--   vnetscope ovs-upcall-latency --src-ip 10.0.0.1 --proto tcp --dst-port 80
--   vnetscope ovs-upcall-latency --dev vnet0 --unit ms --format json
--
-- Sample output:
--   dev = vnet0
--        usecs               : count     distribution
--          128 -> 255        : 3        |****************************************|
--          256 -> 511        : 2        |**************************             |
--   count 5  min 201.3  mean 288.0  max 402.9  ...
--   sessions since start: 6 started, 5 completed, 1 failed, ...
--   upcalls: 6 sent, 5 came back (83.3%), 1 failed (ENOTCONN 1), 0 never came back
--
-- How a packet is matched at both ends (its identity):
-- bpf-templates/ovs-upcall-latency.c and docs/tools/ovs-upcall-latency.md.
-- Requires: kprobes on the openvswitch module's ovs_dp_upcall (and its
-- return) and ovs_flow_key_extract_userspace (4.19+).
local errors = require "vns.errors"
local hist = require "vns.hist"
local net = require "vns.net"
local ovslayout = require "vns.ovslayout"
local stages = require "vns.stages"
local template = require "vns.template"
local tool = require "vns.tool"


local ERRNO = { [11] = "EAGAIN", [12] = "ENOMEM", [32] = "EPIPE", [90] = "EMSGSIZE", [105] = "ENOBUFS",
                [107] = "ENOTCONN", [111] = "ECONNREFUSED", [4] = "EINTR", [512] = "ERESTARTSYS", [22] = "EINVAL",
                [28] = "ENOSPC", [19] = "ENODEV" }

local kit = stages.new {
  stages = {
    { name = "upcall", probe = "kprobe:ovs_dp_upcall", skb = 2, key = template.code("ovs_upcall_key(skb)"),
      skip_zero_key = true, cond = template.code("ovs_upcall_is_miss(ctx)") },
    { name = "execute", probe = "kprobe:ovs_flow_key_extract_userspace", skb = 3,
      key = template.code("ovs_upcall_exec_key(skb)"), skip_zero_key = true },
  },
  ends = { { name = "failed", probe = "kretprobe:ovs_dp_upcall", skb = false,
             key = template.code("ovs_upcall_failed_key(ctx)"), skip_zero_key = true } },
  by = "dev",
  histograms = true,
}

local function program(opts, f)
  local text = template.render(template.read("ovs-upcall-latency.c"),
                               { LAYOUT_CHECKS = ovslayout.checks("upcall_cmd") })
  return text .. kit:program(opts, f)
end

local function errno_name(e) return ERRNO[e] or ("errno " .. e) end

-- Failed misses by errno since start (every flow: the kernel counts
-- them before any filter could see the packet's identity).
local function failures(run)
  local out, total = {}, 0
  for errno, count in run.program:table("ovs_upcall_errors"):items() do
    out[#out + 1] = { errno = errno, name = errno_name(errno), count = count }
    total = total + count
  end
  table.sort(out, function(a, b) return a.count > b.count or (a.count == b.count and a.errno < b.errno) end)
  return out, total
end

local function collect(run, final)
  local data = kit:collect(run, final)
  local s = data.sessions
  data.upcalls = { sent = s.started, came_back = s.completed, failed = s.failed,
                   never_came_back = s.never_completed,
                   completion = s.started > 0 and s.completed / s.started or nil }
  data.failed_all_flows, data.failed_all_flows_total = failures(run)
  return data
end

local function render(run, data, out, final)
  kit:render(run, data, out, final)
  local u, by = data.upcalls, {}
  for _, f in ipairs(data.failed_all_flows) do by[#by + 1] = f.name .. " " .. f.count end
  out:write(string.format("upcalls: %d sent, %d came back (%s), %d failed, %d never came back%s\n", u.sent,
                          u.came_back, u.completion and string.format("%.1f%%", 100 * u.completion) or "-",
                          u.failed, u.never_came_back, final and "" or " (so far)"))
  if data.failed_all_flows_total > 0 then
    out:write(string.format("failed upcalls of every flow (the datapath's lost): %d (%s)\n",
                            data.failed_all_flows_total, table.concat(by, ", ")))
  end
end

return tool.summary {
  name = "ovs-upcall-latency",
  aliases = { "ovs_upcall_latency_summary" },
  about = "Time from an OVS datapath upcall to its packet coming back from ovs-vswitchd",
  tracing = "Tracing OVS upcalls (ovs_dp_upcall -> OVS_PACKET_CMD_EXECUTE)... Hit Ctrl-C to end.",
  examples = {
    "vnetscope ovs-upcall-latency -i 5",
    "vnetscope ovs-upcall-latency --src-ip 10.0.0.1 --proto tcp --dst-port 80",
    "vnetscope ovs-upcall-latency --dev vnet0 --unit ms --format json",
  },
  requires = "kprobes on the openvswitch module: ovs_dp_upcall (entry and return), ovs_flow_key_extract_userspace",
  probes = { "kprobe:ovs_dp_upcall", "kprobe:ovs_flow_key_extract_userspace" },
  caveats = function()
    return { "ovs-vswitchd's USDT probes (dpif_recv:recv_upcall...) are not used: the split of the time inside "
             .. "vswitchd is not shown" }
  end,
  options = { net.options({ "dev", "threshold" }), hist.unit_option("us") },
  check_variants = { { "--src-ip", "10.0.0.1", "--dst-ip", "fd00::2", "--proto", "tcp", "--dst-port", "80" },
                     { "--dev", "vnet0", "--threshold", "1ms" } },
  filter = true,
  program = program,
  collect = collect,
  render = render,
}
