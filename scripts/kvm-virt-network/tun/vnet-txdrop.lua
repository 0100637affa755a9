-- vnet-txdrop: why a tap/vnet device drops packets toward its VM.
--
-- `ip -s link` shows a vnet port's TX dropped growing while the guest
-- sees no loss (field incident 2): tun_net_xmit dropped them before the
-- VM could. This tool attributes every such drop to its cause, per
-- device and queue: the queue's ring full (vhost-net or the reader does
-- not drain it), the tap's MAC filter, a socket or eBPF filter, a
-- zero-copy copy failure, the queue not ready; with the ring's fill level
-- and size, and how long before the drop the queue's reader last took a
-- packet (vhost-net's lag). It counts exactly where tun adds to the
-- device's TX dropped, so its totals equal that counter's increase.
--
-- Usage: vnetscope vnet-txdrop [--dev D] [--queue Q] [-i S] [-d S]
--
-- Variants: "reasons" names the cause with the kernel's drop reason
-- (skb:kfree_skb, 5.17+); "kprobe" infers it from the state at entry
-- (older kernels: queue missing, ring full, a tap MAC filter set, else a
-- socket/eBPF filter or zero-copy failure). Both need kprobes on the tun
-- module's tun_net_xmit.
local net = require "vns.net"
local output = require "vns.output"
local report = require "vns.report"
local template = require "vns.template"
local tapdrops = require "vns.tapdrops"
local tool = require "vns.tool"
local vhostq = require "vns.vhostq"
local virtlayout = require "vns.virtlayout"

-- The members of tun's private structs the program reads (vns/tun_layout.h).
local LAYOUT = {
  { "vns_tun_file", "tx_ring", "tun_file", "tx_ring" },
  { "vns_tun_struct", "txflt_count", "tun_struct", "txflt" },
  { "vns_tun_struct", "numqueues", "tun_struct", "numqueues" },
}

-- tun_net_xmit's drop reasons, and the template's causes told from the
-- state at entry.
local causes = tapdrops.new {
  marker = "FULL_RING", module = "tun", kprobe_help = "inferred from the state at entry (older)",
  reason_cause = { FULL_RING = "ring full", TAP_FILTER = "tap filter", TAP_TXFILTER = "tap filter",
                   SOCKET_FILTER = "socket/eBPF filter", SKB_UCOPY_FAULT = "zero-copy copy failure",
                   DEV_READY = "queue not ready" },
  entry_cause = { [1001] = "queue not ready", [1002] = "ring full", [1003] = "tap filter",
                  [1004] = "socket/eBPF filter or zero-copy copy failure" },
}

local function program(opts)
  local values = causes:template_values(opts)
  values.LAYOUT_CHECKS = virtlayout.checks("tun", LAYOUT)
  values.DROP_COUNTER = report.counter("drops", "drop_key", 1024)
  values.CTX_FILTER = vhostq.queue_filter(opts, "key")
  return template.render(template.read("vnet-txdrop.c"), values)
end

local function prepare(run)
  causes:prepare(run)
  run.layout = select(2, virtlayout.checks("tun", LAYOUT))
end

local drop_counts = report.counts {
  map = "drops", top = false, order = { "dev", "queue", "cause" },
  row = function(run, k)
    local cause, reason = causes:cause(run, k.cause)
    local c = run.ctx[string.format("%s/%d/%d", k.dev, k.queue, k.cause)] or {}
    return { dev = k.dev, queue = k.queue, cause = cause, reason = reason, ring_fill_max = c.fill_max,
             ring_size = c.size,
             -- no lag when every drop came before the reader took anything
             reader_lag_max_ms = (c.lag_max_ns or 0) > 0 and c.lag_max_ns / 1e6 or nil,
             never_read = c.never_read }
  end,
}

local function collect(run, final)
  run.ctx = {}
  for k, v in run.program:table("drop_ctx"):items() do
    run.ctx[string.format("%s/%d/%d", k.dev, k.queue, k.cause)] = v
  end
  local dropped = drop_counts:collect(run, final)
  return { type = final and "total" or "interval", variant = run.variant, layout = run.layout,
           total = dropped.total, drops = dropped.rows }
end

local function lag_text(row)
  if not row.reader_lag_max_ms then return row.never_read and "never read" or "-" end
  return string.format("%.1f ms", row.reader_lag_max_ms)
end

local function render(_, data, out, final)
  local title = final and "Total since start" or output.timestamp()
  out:write(string.format("\n%s  tun/tap TX drops: %d\n", title, data.total))
  if #data.drops == 0 then return end
  for _, r in ipairs(data.drops) do
    r.ring = r.ring_size and string.format("%d/%d", r.ring_fill_max or 0, r.ring_size) or "-"
    r.lag = lag_text(r)
  end
  report.table(out, { { "COUNT", "count" }, { "DEVICE", "dev" }, { "QUEUE", "queue" }, { "CAUSE", "cause" },
                      { "REASON", "reason" }, { "RING(max fill/size)", "ring" }, { "READER LAG(max)", "lag" } },
               data.drops)
end

return tool.summary {
  name = "vnet-txdrop",
  aliases = {},
  about = "Why tun/tap (vnet) devices drop packets toward the VM: every TX drop by cause, queue, ring fill and reader lag",
  tracing = "Tracing tun/tap TX drops... Hit Ctrl-C to end.",
  examples = {
    "vnetscope vnet-txdrop --dev vnet0 -i 5",
    "vnetscope vnet-txdrop --dev vnet3 --queue 1 --format json",
    "vnetscope vnet-txdrop --variant kprobe",
  },
  requires = "kprobes and the tun module; drop reasons in skb:kfree_skb (5.17+) name the cause, older kernels infer it",
  probes = { "kprobe:tun_net_xmit", "kprobe:tun_do_read", "tracepoint:skb:kfree_skb" },
  options = {
    net.options({ "dev" }),
    { name = "queue", type = "integer", min = 0, max = 255, help = "only this queue of the device (0-255)" },
    causes:option(),
  },
  defaults = { top = false },
  caveats = function()
    return causes:has_reasons() and {} or { "no tun drop reasons (Linux 5.17+): the cause is inferred at entry; socket/eBPF filter and zero-copy failures are one cause" }
  end,
  check_variants = { { "--variant", "kprobe" }, { "--dev", "vnet0", "--queue", "1" } },
  program = program,
  prepare = prepare,
  collect = collect,
  render = render,
}
