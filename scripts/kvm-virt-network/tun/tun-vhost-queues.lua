-- tun-vhost-queues: per tun/tap queue, who falls behind: the producer
-- (the host putting packets toward the VM in the queue's ring) or the
-- consumer (vhost-net taking them into the guest's RX virtqueue).
--
-- Producer: tun_net_xmit, with the ring's fill level (tun-ring's), and
-- the packets it dropped because the ring was full (its return).
-- Consumer: each run of vhost-net's handle_rx: packets taken, runs that
-- stopped because the guest had no RX buffer left, used entries given to
-- the guest, signals sent and suppressed, and the virtqueue's state as
-- the guest sees it (avail idx and flags, used idx, used_event). Summed in
-- the kernel per queue since start; each interval shows the increase.
--
-- Usage: vnetscope tun-vhost-queues [--dev D] [--queue Q] [-i S] [-d S]
local output = require "vns.output"
local template = require "vns.template"
local tool = require "vns.tool"
local vhostq = require "vns.vhostq"

local function program(opts)
  return template.render(template.read("tun-vhost-queues.c"), {
    LAYOUT_CHECKS = (vhostq.layout_checks()),
    VHOST_RX = vhostq.rx_code(),
    CTX_FILTER = vhostq.queue_filter(opts, "k"),
  })
end

local COUNTS = { "xmit", "full", "fill_sum", "runs", "idle_runs", "starved", "taken", "used", "decisions", "signals",
                 "run_ns" }

-- Who falls behind, in words, from one interval's (or the total's) counts.
local function verdict(q)
  if q.full > 0 then
    if q.runs == 0 then return "consumer: vhost did not run while the ring was full" end
    if q.starved > 0 then return "consumer: the guest posted no RX buffers (vhost waited for it)" end
    return "consumer: vhost ran but took too little (CPU or weight)"
  end
  if q.xmit > q.taken + (q.size or 0) then return "consumer: the ring is filling" end
  if q.xmit == 0 and q.runs == 0 then return "idle" end
  return "keeping up"
end

local function row_of(id, now, before)
  local q = { dev = now.dev, queue = now.queue, size = now.v.size, fill_max = now.v.fill_max,
              fill_last = now.v.fill_last, taken_max = now.v.taken_max,
              guest = { avail_idx = now.v.avail_idx, last_avail = now.v.last_avail, used_idx = now.v.used_idx,
                        avail_flags = now.v.avail_flags, no_interrupt = now.v.avail_flags & 1 == 1,
                        used_event = now.v.event_idx == 1 and now.v.used_event or nil } }
  for _, f in ipairs(COUNTS) do q[f] = now.v[f] - (before and before.v[f] or 0) end
  q.fill_avg = q.xmit > 0 and math.floor(q.fill_sum * 10 / q.xmit + 0.5) / 10 or 0
  q.taken_per_run = q.runs > 0 and math.floor(q.taken * 10 / q.runs + 0.5) / 10 or 0
  q.suppressed = q.decisions - q.signals
  q.run_us = q.run_ns // 1000
  q.fill_sum, q.run_ns = nil, nil
  q.behind = verdict(q)
  q.id = id
  return q
end

local function prepare(run)
  run.layout = select(2, vhostq.layout_checks())
end

local function collect(run, final)
  local now = {}
  for k, v in run.program:table("queues"):items() do
    now[k.dev .. "/" .. k.queue] = { dev = k.dev, queue = k.queue, v = v }
  end
  local rows = {}
  for id, e in pairs(now) do rows[#rows + 1] = row_of(id, e, not final and run.queue_before and run.queue_before[id]) end
  run.queue_before = now
  table.sort(rows, function(a, b) return a.dev < b.dev or (a.dev == b.dev and a.queue < b.queue) end)
  for _, r in ipairs(rows) do r.id = nil end
  return { type = final and "total" or "interval", layout = run.layout, queues = rows }
end

local function render(_, data, out, final)
  local title = final and "Total since start" or output.timestamp()
  out:write(string.format("\n%s  tun/tap queues and their vhost-net consumers\n", title))
  for _, q in ipairs(data.queues) do
    out:write(string.format("  %s queue %d: %s\n", q.dev, q.queue, q.behind))
    out:write(string.format("    producer  tun_net_xmit %d, dropped for a full ring %d; ring %s: fill avg %.1f, last %d, peak %d\n",
                            q.xmit, q.full, tostring(q.size), q.fill_avg, q.fill_last, q.fill_max))
    out:write(string.format("    consumer  handle_rx runs %d (%d took nothing, %d out of guest buffers), took %d (%.1f/run, max %d), %d us\n",
                            q.runs, q.idle_runs, q.starved, q.taken, q.taken_per_run, q.taken_max, q.run_us))
    out:write(string.format("    guest     used entries %d, signals %d, suppressed %d; avail idx %d (vhost at %d), used idx %d, avail flags 0x%x%s\n",
                            q.used, q.signals, q.suppressed, q.guest.avail_idx, q.guest.last_avail, q.guest.used_idx,
                            q.guest.avail_flags, q.guest.used_event and (", used_event " .. q.guest.used_event) or ""))
  end
end

return tool.summary {
  name = "tun-vhost-queues",
  aliases = { "tun_to_vhost_queue_stats_full_summary", "tun_to_vhost_queue_status_simple_summary" },
  about = "Per tun/tap queue: the producer (tun_net_xmit, ring fill) against its vhost-net consumer (handle_rx runs, guest ring, signals)",
  tracing = "Tracing tun/tap queues and vhost-net... Hit Ctrl-C to end.",
  examples = {
    "vnetscope tun-vhost-queues --dev vnet0 -i 1",
    "vnetscope tun-vhost-queues --dev vnet0 --queue 1 --format json -d 30",
  },
  requires = "kprobes, the tun and vhost_net modules; vhost's layout is known for Linux 4.19-6.3",
  probes = { "kprobe:tun_net_xmit", "kretprobe:tun_net_xmit", "kprobe:handle_rx", "kretprobe:handle_rx", "kprobe:vhost_disable_notify",
             "kprobe:vhost_enable_notify", "kprobe:tun_recvmsg", "kprobe:vhost_add_used_and_signal_n",
             "kretprobe:vhost_add_used_and_signal_n", "kprobe:eventfd_signal" },
  options = vhostq.options(),
  defaults = { top = false },
  check_variants = { { "--dev", "vnet0", "--queue", "1" } },
  program = program,
  prepare = prepare,
  collect = collect,
  render = render,
}
