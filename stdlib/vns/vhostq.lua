-- vhostq: what the tools that follow a tun/tap queue into vhost-net
-- (tun-vhost-queues, vhost-queue-trace) share: the options naming a
-- queue, their compiled-in filter, and the layout checks of the driver
-- structs they read (bpf-templates/include/vns/{tun,vhost}_layout.h).
local ctxfilter = require "vns.ctxfilter"
local template = require "vns.template"
local virtlayout = require "vns.virtlayout"

local M = {}

-- Members read, per module: { our struct, member, kernel struct, member }.
M.TUN = {
  { "vns_tun_file", "socket", "tun_file", "socket" },
  { "vns_tun_file", "tun", "tun_file", "tun" },
  -- queue_index is in an anonymous union BTF names no member of: the
  -- members around it pin it (flags, then the union, then napi).
  { "vns_tun_file", "flags", "tun_file", "flags" },
  { "vns_tun_file", "napi", "tun_file", "napi" },
  { "vns_tun_file", "tx_ring", "tun_file", "tx_ring" },
  { "vns_tun_struct", "dev", "tun_struct", "dev" },
  { "vns_tun_struct", "txflt_count", "tun_struct", "txflt" },
}
M.VHOST = {
  { "vns_vhost_virtqueue", "num", "vhost_virtqueue", "num" },
  { "vns_vhost_virtqueue", "avail", "vhost_virtqueue", "avail" },
  { "vns_vhost_virtqueue", "used", "vhost_virtqueue", "used" },
  { "vns_vhost_virtqueue", "last_avail_idx", "vhost_virtqueue", "last_avail_idx" },
  { "vns_vhost_virtqueue", "last_used_idx", "vhost_virtqueue", "last_used_idx" },
  { "vns_vhost_virtqueue", "private_data", "vhost_virtqueue", "private_data" },
  { "vns_vhost_virtqueue", "acked_features", "vhost_virtqueue", "acked_features" },
}

-- The C of both modules' checks, and how they were checked (one line:
-- "tun: checked against BTF, vhost: not checked (no BTF for vhost)").
function M.layout_checks()
  local tun, tun_how = virtlayout.checks("tun", M.TUN)
  local vhost, vhost_how = virtlayout.checks("vhost", M.VHOST)
  return template.code(tun.text .. "\n" .. vhost.text), "tun: " .. tun_how .. ", vhost: " .. vhost_how
end

-- The C following handle_rx runs (bpf-templates/fragments/vhost_rx.c).
function M.rx_code()
  return template.code(template.read("fragments/vhost_rx.c"))
end

-- --dev and --queue.
function M.options()
  return {
    { name = "dev", type = "ifname", metavar = "DEV", help = "only this tun/tap device (a VM's vnet port)" },
    { name = "queue", type = "integer", min = 0, max = 255, help = "only this queue of the device (0-255)" },
  }
end

-- C: does the queue in K (a struct with char dev[16], 8-byte aligned,
-- and u32 queue) pass --dev/--queue?
function M.queue_filter(opts, k)
  template.ident(k, "vhostq: key")
  local text = ctxfilter.compile({ dev = opts.dev }, { dev = k .. ".dev" }).text
  if opts.queue then text = text .. " && " .. k .. ".queue == " .. template.value(opts.queue, "u32").text end
  return template.code(text)
end

return M
