-- vhost-queue-trace: for a tun/tap queue (--dev, --queue; every queue
-- when not given), what happens between the host
-- putting a packet toward the VM and the guest being told, step by step
-- in time order.
--
-- Events: xmit (tun_net_xmit: the packet into the queue's ring, with the
-- ring's fill), run (a vhost-net handle_rx run begins on this queue's
-- virtqueue), recv (the run takes a packet: tun_recvmsg), notify (no guest
-- buffer left: vhost re-enables the guest's kick and stops), signal (used
-- entries given to the guest, then signalled or suppressed: the guest's
-- avail flags / used_event decide), run-end (packets the run took). The
-- vhost events carry the virtqueue's state: vhost's next avail and used
-- entries, and from the guest's memory its avail idx and flags, used_event
-- and the used idx. Under the event budget (--max-events-per-sec).
--
-- Usage: vnetscope vhost-queue-trace [--dev D] [--queue Q] [--max-events-per-sec N]
local budget = require "vns.budget"
local events = require "vns.events"
local template = require "vns.template"
local tool = require "vns.tool"
local vhostq = require "vns.vhostq"

local function program(opts)
  return template.render(template.read("vhost-queue-trace.c"), {
    BUDGET = budget.code(opts),
    VHOST_RX = vhostq.rx_code(),
    LAYOUT_CHECKS = (vhostq.layout_checks()),
    CTX_FILTER = vhostq.queue_filter(opts, "ev"),
    EVENTS = events.code(opts, "events", 160),
    SUBMIT = events.submit(opts, "events", "ctx", "ev"),
  })
end

local KINDS = { "xmit", "run", "recv", "notify", "signal", "run-end" }

local function kind_of(_, ev) return { event = KINDS[ev.kind] or tostring(ev.kind) } end

-- The text column: what this kind of event says, in words.
local function detail_of(_, ev)
  local k = KINDS[ev.kind]
  local ring = string.format("avail %d (vhost at %d) flags 0x%x%s, used %d", ev.avail_idx, ev.last_avail,
                             ev.avail_flags, ev.event_idx == 1 and (" used_event " .. ev.used_event) or "", ev.used_idx)
  local text
  if k == "xmit" then text = string.format("len %d, ring %d/%d%s", ev.count, ev.fill, ev.size,
                                           ev.fill >= ev.size and " FULL: dropped" or "")
  elseif k == "run" then text = ring
  elseif k == "recv" then text = string.format("take a packet (up to %d bytes)", ev.count)
  elseif k == "notify" then text = "no guest buffer: kick re-enabled; " .. ring
  elseif k == "signal" then text = string.format("%d used, %s; %s", ev.count,
                                                 ev.signalled == 1 and "signalled" or "suppressed", ring)
  elseif k == "run-end" then text = string.format("took %d; %s", ev.count, ring)
  else text = "" end
  return { _detail = text }
end

local row = {
  record_bytes = 160,
  fields = { { "ts", "ts_ns", wall_time = true }, "cpu", "tid", "comm", "dev", "queue", "count", "fill", "size",
             "signalled", "num", "last_avail", "last_used", "avail_idx", "avail_flags", "used_event", "used_idx",
             "event_idx" },
  hooks = {
    { fields = { "kind" }, decode = kind_of },
    { fields = { "kind", "count", "fill", "size", "signalled", "last_avail", "avail_idx", "avail_flags",
                 "used_event", "used_idx", "event_idx" }, decode = detail_of, cache = false },
  },
  columns = { { "TIME", "ts", 15 }, { "CPU", "cpu", 3, right = true, gap = 2 }, { "COMM", "comm", 15 },
              { "DEVICE", "dev", 12 }, { "Q", "queue", 3, right = true, gap = 2 }, { "EVENT", "event", 8 },
              { "DETAIL", "_detail" } },
}

return tool.details {
  name = "vhost-queue-trace",
  aliases = { "vhost_queue_correlation_simple", "vhost_queue_correlation_details" },
  about = "For a tun/tap queue, a time-ordered trace of tun xmit, vhost handle_rx, recvmsg, notify and signal decisions with the guest's ring state",
  tracing = "Tracing tun/tap queues into vhost-net... Hit Ctrl-C to end.",
  examples = {
    "vnetscope vhost-queue-trace --dev vnet0",
    "vnetscope vhost-queue-trace --dev vnet0 --queue 1 --format json --max-events-per-sec 5000",
  },
  requires = "kprobes, the tun and vhost_net modules; vhost's layout is known for Linux 4.19-6.1 (checked against BTF elsewhere)",
  probes = { "kprobe:tun_net_xmit", "kprobe:handle_rx", "kretprobe:handle_rx", "kprobe:vhost_disable_notify",
             "kprobe:vhost_enable_notify", "kprobe:tun_recvmsg", "kprobe:vhost_add_used_and_signal_n",
             "kretprobe:vhost_add_used_and_signal_n", "kprobe:eventfd_signal" },
  options = vhostq.options(),
  check_variants = { { "--dev", "vnet0", "--queue", "1" } },
  program = program,
  events = "events",
  row = row,
}
