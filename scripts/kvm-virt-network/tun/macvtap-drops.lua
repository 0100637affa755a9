-- macvtap-drops: why a macvtap device drops packets on their way to its VM.
--
-- A macvtap's RX dropped grows only in tap_handle_frame (field incident
-- 3), when the frame cannot be queued for the reader (vhost-net or a
-- process): no queue, the queue's ring full, GSO segmentation or checksum
-- completion failed. This tool counts every such drop where the counter
-- grows, by device, queue and path, so its totals equal the RX dropped
-- increase; and each interval it shows every queue's ring fill level
-- (last and highest) and size, so a stalled reader shows as a full ring.
--
-- Usage: vnetscope macvtap-drops [--dev D] [-i S] [-d S]
--
-- Variants: "reasons" names the path with the kernel's drop reason
-- (skb:kfree_skb, 5.17+); "kprobe" watches __skb_gso_segment and
-- skb_checksum_help inside tap_handle_frame (older kernels). Both need
-- kprobes on the tap and macvtap modules.
local ctxfilter = require "vns.ctxfilter"
local net = require "vns.net"
local output = require "vns.output"
local report = require "vns.report"
local template = require "vns.template"
local tapdrops = require "vns.tapdrops"
local tool = require "vns.tool"

-- tap_handle_frame's drop reasons, and the template's causes of the
-- kprobe variant.
local causes = tapdrops.new {
  marker = "SKB_GSO_SEG", module = "tap", kprobe_help = "GSO/checksum failures watched (older)",
  reason_cause = { FULL_RING = "ring full", SKB_GSO_SEG = "GSO segmentation failed", SKB_CSUM = "checksum failed" },
  entry_cause = { [1001] = "no queue", [1002] = "ring full", [1003] = "GSO segmentation failed",
                  [1004] = "checksum failed" },
}
local QUEUE_UNKNOWN = 0xffff

local function program(opts)
  local values = causes:template_values(opts)
  values.DROP_COUNTER = report.counter("drops", "drop_key", 1024)
  values.CTX_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev = "key.dev" }).expr
  return template.render(template.read("macvtap-drops.c"), values)
end

local function prepare(run) causes:prepare(run) end

local drop_counts = report.counts {
  map = "drops", top = false, order = { "dev", "queue", "cause" },
  row = function(run, k)
    local cause, reason = causes:cause(run, k.cause)
    return { dev = k.dev, queue = k.queue ~= QUEUE_UNKNOWN and k.queue or nil, cause = cause, reason = reason }
  end,
}

-- Every queue's fill level since the last interval (the map is drained).
local function queue_fill(run)
  local rows = {}
  for _, e in ipairs(run.program:table("fill"):drain()) do
    local k, v = e[1], e[2]
    rows[#rows + 1] = { dev = k.dev, queue = k.queue, fill = v.last, fill_max = v.max, size = v.size, frames = v.frames }
  end
  table.sort(rows, function(a, b) return a.dev < b.dev or (a.dev == b.dev and a.queue < b.queue) end)
  return rows
end

local function collect(run, final)
  local dropped = drop_counts:collect(run, final)
  return { type = final and "total" or "interval", variant = run.variant, total = dropped.total,
           drops = dropped.rows, queues = queue_fill(run) }
end

local function render(_, data, out, final)
  local title = final and "Total since start" or output.timestamp()
  out:write(string.format("\n%s  macvtap RX drops: %d\n", title, data.total))
  if #data.drops > 0 then
    report.table(out, { { "COUNT", "count" }, { "DEVICE", "dev" }, { "QUEUE", "queue" }, { "CAUSE", "cause" },
                        { "REASON", "reason" } }, data.drops)
  end
  if #data.queues > 0 then
    out:write("  queue rings (frames seen, fill when last seen, highest, size):\n")
    report.table(out, { { "DEVICE", "dev" }, { "QUEUE", "queue" }, { "FRAMES", "frames" }, { "FILL", "fill" },
                        { "MAX", "fill_max" }, { "SIZE", "size" } }, data.queues, "  ")
  end
end

return tool.summary {
  name = "macvtap-drops",
  aliases = {},
  about = "Why macvtap devices drop packets toward the VM: every RX drop by path and queue, with queue fill levels",
  tracing = "Tracing macvtap RX drops... Hit Ctrl-C to end.",
  examples = {
    "vnetscope macvtap-drops --dev macvtap0 -i 1",
    "vnetscope macvtap-drops --format json",
    "vnetscope macvtap-drops --variant kprobe",
  },
  requires = "kprobes and the tap/macvtap modules; drop reasons in skb:kfree_skb (5.17+) name the path, older kernels watch it",
  probes = { "kprobe:tap_handle_frame", "kprobe:macvtap_count_rx_dropped", "tracepoint:skb:kfree_skb",
             "kprobe:__skb_gso_segment", "kprobe:skb_checksum_help" },
  options = {
    net.options({ "dev" }),
    causes:option(),
  },
  defaults = { top = false },
  check_variants = { { "--variant", "kprobe" }, { "--dev", "macvtap0" } },
  program = program,
  prepare = prepare,
  collect = collect,
  render = render,
}
