-- virtio-rx-path: how efficiently this guest's virtio-net queues are
-- served, per virtqueue and interval: interrupts (and those with work:
-- callbacks), NAPI polls and packets
-- per poll, polls that used the whole budget, napi_complete_done's
-- verdicts, callbacks re-enabled / delayed / disabled, re-armed queues
-- that already had work (polled again at once), GRO results, and kicks to
-- the device. --details adds a per-CPU timeline of the events (interrupt,
-- poll start/end, GRO, completion, kick) under the event budget.
--
-- Usage: vnetscope virtio-rx-path [--dev eth0] [-i 1] [--details]
--
-- Sample output:
--   Tracing the virtio-net receive path (kprobes)... Hit Ctrl-C to end.
--
--   12:00:01  virtio-net receive path
--     DEVICE   QUEUE    IRQS  CALLBACKS  POLLS  PACKETS  PER_POLL  FULL  DONE  NOT_DONE  CB_ON  CB_DELAYED  CB_OFF  RACED  GRO_MERGED  GRO_NORMAL  KICKS
--     virtio2  input.0     2          1      4      200      50.0     2     2         0      2           0       1      0           0         200      0
--
-- Requires: kprobes on virtio_net and virtio_ring functions (vring_interrupt, skb_recv_done,
-- virtnet_poll, napi_gro_receive, napi_complete_done, virtqueue_*); the
-- virtio ring layout (BTF, or the table of vns.virtio).
local core = require "vns.core"
local budget = require "vns.budget"
local cumulative = require "vns.cumulative"
local errors = require "vns.errors"
local events = require "vns.events"
local kernel = require "vns.kernel"
local output = require "vns.output"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"
local virtio = require "vns.virtio"

local EVENTS = { "irq", "poll", "poll_done", "gro", "kick", "callback", "complete", "receive_buf" }
local GRO = { [0] = "MERGED", [1] = "MERGED_FREE", [2] = "HELD", [3] = "NORMAL" }

local RECORD_BYTES = 64

local function program(opts)
  return template.render(template.read("virtio-rx-path.c"), {
    DETAILS = template.bool(opts.details or false),
    BUDGET = budget.code(opts),
    EVENTS = events.code(opts, "events", RECORD_BYTES),
    SUBMIT = events.submit(opts, "events", "ctx", "ev"),
  })
end

-- --details: one event per received packet at virtio_net's receive_buf, a
-- static function named as in the module (a tty function of the kernel
-- may share the name); a built-in driver's has no module prefix.
local function attach_receive_buf(run)
  local prog = run.program:load("virtio_rx_receive_buf", "kprobe")
  if run.program:try_attach(prog, "kprobe", "virtio_net:receive_buf") then return end
  run.program:attach(prog, "kprobe", "receive_buf")
end

local function prepare(run)
  local devices = virtio.select(virtio.net_devices(), run.opts.dev)
  if #devices == 0 then
    errors.fail(run.opts.dev and "option --dev: %s is not a virtio-net device here" or
                "no virtio-net device here: no device is bound to the virtio_net driver (%s)",
                run.opts.dev or virtio.BUS .. "/drivers/virtio_net")
  end
  local layout, source = virtio.layout({ kernel.version() })
  if not layout then errors.fail("%s", source) end
  layout.pid = 0
  assert(run.program:table("layouts"):update(0, layout))
  local set = 0
  run.dev_of = {}
  for _, d in ipairs(devices) do
    if d.index < 64 then set = set | (1 << d.index) end
    run.dev_of[d.index] = d.dev or d.virtio
  end
  assert(run.program:table("net_devices"):update(0, set))
  run.last = {}
end

-- After the buffers opened (tool.lua), like the probes BCC attaches.
local function setup(run)
  if run.opts.details then attach_receive_buf(run) end
end

local function names(run)
  local out = {}
  for vq, info in run.program:table("vqs"):items() do
    out[vq] = { dev = run.dev_of[info.vdev] or ("virtio" .. info.vdev), queue = info.name, index = info.index }
  end
  return out
end

local FIELDS = { "irqs", "callbacks", "polls", "packets", "full_polls", "complete_done", "complete_not", "cb_enabled",
                 "cb_delayed", "cb_disabled", "rearm_raced", "gro_merged", "gro_held", "gro_normal", "gro_other", "kicks" }

local function collect(run, final)
  local who = names(run)
  run.names = who
  local rows = output.array()
  for vq, per_cpu in run.program:table("counts"):items() do
    local now = cumulative.sum(per_cpu)
    local before = not final and run.last[vq] or {}
    run.last[vq] = now
    local row = { vq = string.format("%x", vq) }
    local any = false
    for _, f in ipairs(FIELDS) do
      row[f] = now[f] - (before[f] or 0)
      any = any or row[f] > 0
    end
    local n = who[vq] or {}
    row.dev, row.queue, row.index = n.dev, n.queue, n.index
    row.per_poll = row.polls > 0 and math.floor(row.packets / row.polls * 100 + 0.5) / 100 or nil
    if any or final then rows[#rows + 1] = row end
  end
  table.sort(rows, function(a, b)
    if a.dev ~= b.dev then return tostring(a.dev) < tostring(b.dev) end
    return (a.index or 0) < (b.index or 0)
  end)
  return { type = final and "total" or "interval", queues = rows }
end

local COLUMNS = { { "DEVICE", "dev" }, { "QUEUE", "queue" }, { "IRQS", "irqs" }, { "CALLBACKS", "callbacks" },
                  { "POLLS", "polls" },
                  { "PACKETS", "packets" }, { "PER_POLL", "per_poll" }, { "FULL", "full_polls" },
                  { "DONE", "complete_done" }, { "NOT_DONE", "complete_not" }, { "CB_ON", "cb_enabled" },
                  { "CB_DELAYED", "cb_delayed" }, { "CB_OFF", "cb_disabled" }, { "RACED", "rearm_raced" },
                  { "GRO_MERGED", "gro_merged" }, { "GRO_NORMAL", "gro_normal" }, { "KICKS", "kicks" } }

local function render(_, data, out, final)
  out:write(string.format("\n%s  virtio-net receive path\n", final and "Total since start" or output.timestamp()))
  if #data.queues > 0 then report.table(out, COLUMNS, data.queues) end
end

-- The timeline on the fast path (docs/events.md): time and CPU copied by
-- C; the event's name and value, and its queue's names, by hooks cached
-- by the fields they read. Every event's queue is known to the program
-- (counts_of) before it is sent, so the names are in vqs by then.
local function event_of(_, ev)
  local kind = EVENTS[ev.type] or tostring(ev.type)
  local value = ev.value
  if kind == "gro" then value = GRO[ev.value] or ev.value end
  return { event = kind, value = value }
end

local function queue_of(run, ev)
  local n = run.names and run.names[ev.vq]
  if not n then
    run.names = names(run)
    n = run.names[ev.vq] or {}
  end
  return { dev = n.dev, queue = n.queue }
end

local row = {
  record_bytes = RECORD_BYTES,
  fields = { { "ts", "ts_ns", wall_time = true }, "cpu" },
  hooks = {
    { fields = { "type", "value" }, decode = event_of },
    { fields = { "vq" }, decode = queue_of },
  },
  columns = { { "TIME", "ts", 15 }, { "CPU", "cpu", 4, right = true, gap = 2 }, { "EVENT", "event", 11 },
              { "DEVICE", "dev", 10 }, { "QUEUE", "queue", 10 }, { "VALUE", "value" } },
}

-- One event as a Lua table, the way the engine writes it (tests).
local function decode(run, ev)
  local r = { ts = events.wall_time(ev.ts_ns), cpu = ev.cpu }
  for _, h in ipairs(row.hooks) do
    for k, v in pairs(h.decode(run, ev)) do r[k] = v end
  end
  return r
end

return tool.details {
  name = "virtio-rx-path",
  aliases = { "virtionet-rx-path-monitor", "virtionet-rx-path-summary", "trace_virtio_net_rcvbuf" },
  about = "virtio-net receive path per queue: interrupts, polls, packets per poll, completions, callbacks, GRO, kicks",
  tracing = "Tracing the virtio-net receive path (kprobes)... Hit Ctrl-C to end.",
  examples = {
    "vnetscope virtio-rx-path -i 1",
    "vnetscope virtio-rx-path --dev eth0 --details --max-events-per-sec 200",
  },
  requires = "kprobes on skb_recv_done, virtnet_poll, napi_gro_receive, napi_complete_done, virtqueue_*; BTF or a known kernel",
  probes = { "kprobe:vring_interrupt", "kprobe:skb_recv_done", "kprobe:skb_xmit_done", "kprobe:virtnet_poll", "kprobe:napi_gro_receive",
             "kprobe:napi_complete_done", "kprobe:virtqueue_enable_cb_prepare", "kprobe:virtqueue_enable_cb_delayed",
             "kprobe:virtqueue_disable_cb", "kprobe:virtqueue_poll", "kprobe:virtqueue_notify" },
  options = {
    { name = "dev", type = "ifname", metavar = "DEV", help = "only this virtio-net device (eth0, or virtio2)" },
    { name = "details", type = "flag", help = "a per-CPU timeline of receive-path events (under the event budget)" },
  },
  check_variants = { { "--details" } },
  program = program,
  prepare = prepare,
  setup = setup,
  collect = collect,
  render = render,
  events = "events",
  row = row,
  decode = decode,
}
