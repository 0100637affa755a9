-- vhost-signals: how often vhost-net signals its guests, and how often it
-- decides not to.
--
-- After vhost-net adds used entries to a virtqueue it decides whether to
-- notify the guest (vhost_signal: the guest may have asked for no
-- interrupt, through the avail ring's flags or event idx) and, if so,
-- signals the virtqueue's call eventfd, which KVM turns into an interrupt
-- (an irqfd). Per vhost worker thread (one per vhost device, "vhost-<qemu
-- pid>") and per eventfd: signals, decisions, and decisions that did not
-- signal (suppressed), per interval.
--
-- Usage: vnetscope vhost-signals [--pid QEMU_PID] [-i S] [-d S]
local output = require "vns.output"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"

local function program(opts)
  local filter = "1"
  if opts.pid then
    -- The worker's comm is "vhost-<owner pid>": compare its digits.
    local digits = tostring(opts.pid)
    local parts = {}
    for i = 1, #digits do
      parts[#parts + 1] = string.format("k.comm[%d] == %d", 5 + i, digits:byte(i))
    end
    parts[#parts + 1] = string.format("k.comm[%d] == 0", 6 + #digits)
    filter = table.concat(parts, " && ")
  end
  return template.render(template.read("vhost-signals.c"), {
    SIG_COUNTER = report.counter("sigs", "sig_key", 4096),
    CTX_FILTER = template.code(filter),
  })
end

local counts = report.counts {
  map = "sigs", top = false, order = { "worker", "tid", "eventfd" },
  row = function(_, k)
    return { worker = k.comm, tid = k.tid, kind = k.kind == 1 and "signal" or "decision",
             eventfd = k.kind == 1 and string.format("0x%x", k.ctx) or nil }
  end,
}

-- Per worker thread: decisions, signals (per eventfd) and suppressed.
local function by_worker(rows)
  local by = {}
  for _, r in ipairs(rows) do
    local w = by[r.tid]
    if not w then
      w = { worker = r.worker, tid = r.tid, decisions = 0, signals = 0, eventfds = {} }
      by[r.tid] = w
    end
    if r.kind == "signal" then
      w.signals = w.signals + r.count
      w.eventfds[#w.eventfds + 1] = { eventfd = r.eventfd, signals = r.count }
    else
      w.decisions = w.decisions + r.count
    end
  end
  local out = {}
  for _, w in pairs(by) do
    w.suppressed = math.max(w.decisions - w.signals, 0)
    table.sort(w.eventfds, function(a, b) return a.eventfd < b.eventfd end)
    out[#out + 1] = w
  end
  table.sort(out, function(a, b) return a.tid < b.tid end)
  return out
end

local function collect(run, final)
  local c = counts:collect(run, final)
  local workers = by_worker(c.all or c.rows)
  local signals, decisions = 0, 0
  for _, w in ipairs(workers) do signals, decisions = signals + w.signals, decisions + w.decisions end
  return { type = final and "total" or "interval", signals = signals, decisions = decisions, workers = workers }
end

local function render(_, data, out, final)
  local title = final and "Total since start" or output.timestamp()
  out:write(string.format("\n%s  vhost signals: %d, decisions: %d\n", title, data.signals, data.decisions))
  for _, w in ipairs(data.workers) do
    out:write(string.format("  %s (tid %d): decisions %d, signals %d, suppressed %d\n", w.worker, w.tid,
                            w.decisions, w.signals, w.suppressed))
    for _, e in ipairs(w.eventfds) do
      out:write(string.format("    eventfd %s: %d signals\n", e.eventfd, e.signals))
    end
  end
end

return tool.summary {
  name = "vhost-signals",
  aliases = { "vhost_eventfd_count" },
  about = "How often vhost-net signals guests (call eventfd / irqfd) per worker and eventfd, and how often it suppresses",
  tracing = "Tracing vhost signals... Hit Ctrl-C to end.",
  examples = {
    "vnetscope vhost-signals -i 1",
    "vnetscope vhost-signals --pid 4242 --format json",
  },
  requires = "kprobes and the vhost module",
  probes = { "kprobe:vhost_add_used_and_signal_n", "kprobe:vhost_add_used_and_signal", "kprobe:eventfd_signal" },
  options = {
    { name = "pid", type = "integer", min = 1, max = 4194304, help = "only the vhost workers of this VM (qemu's pid)" },
  },
  defaults = { top = false },
  check_variants = { { "--pid", "4242" } },
  program = program,
  collect = collect,
  render = render,
}
