-- virtio-irq: the interrupts of this guest's virtio-net devices, per IRQ
-- (found by device and queue name in /proc/interrupts, not by number):
-- how many, how fast, on which CPUs, how many no handler claimed
-- (IRQ_NONE), how long the handler ran and how far apart they came.
--
-- Usage: vnetscope virtio-irq [--dev eth0] [-i 1] [--unit us]
--
-- Sample output:
--   Tracing virtio-net interrupts (irq:irq_handler_entry/exit)... Hit Ctrl-C to end.
--
--   12:00:01  virtio-net interrupts: 205
--     IRQ  DEVICE  QUEUE     COUNT  RATE/s  HANDLED  NONE  KERNEL  CPUS
--      38  eth0    input.0     203   203.0      203     0     203  0:150 1:53
--      39  eth0    output.0      2     2.0        2     0       2  1:2
--
-- KERNEL is the IRQ's increase in /proc/interrupts over the same interval,
-- read by the tool: a witness for COUNT. The final report adds, per IRQ,
-- the handler duration and inter-arrival histograms.
--
-- Requires: irq:irq_handler_entry and irq:irq_handler_exit (any kernel
-- since 2.6.35, 4.19 included); a guest with virtio-net devices.
local core = require "vns.core"
local cumulative = require "vns.cumulative"
local errors = require "vns.errors"
local hist = require "vns.hist"
local output = require "vns.output"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"
local tracepoint = require "vns.tracepoint"
local virtio = require "vns.virtio"

local MAX_IRQS = 64
local SLOTS = 64

local function program(opts)
  return template.render(template.read("virtio-irq.c"), {
    TRACEPOINTS = tracepoint.code(tracepoint.probe("irq", "irq_handler_entry"),
                                  tracepoint.probe("irq", "irq_handler_exit")),
    MAX_IRQS = template.int(MAX_IRQS),
    UNIT_NS = hist.divisor(opts.unit),
  })
end

-- The IRQs to watch; a clear stop when there is none.
local function find_irqs(opts)
  local devices = virtio.net_devices()
  if #devices == 0 then
    errors.fail("no virtio-net device here: no device is bound to the virtio_net driver (%s/drivers/virtio_net)", virtio.BUS)
  end
  local chosen = virtio.select(devices, opts.dev)
  if #chosen == 0 then
    local names = {}
    for _, d in ipairs(devices) do names[#names + 1] = (d.dev or "?") .. " (" .. d.virtio .. ")" end
    errors.usage("option --dev: %s is not a virtio-net device here (there are: %s)", opts.dev, table.concat(names, ", "))
  end
  local irqs = virtio.irqs(chosen)
  if #irqs == 0 then errors.fail("virtio-net devices found, but none has an IRQ in /proc/interrupts") end
  if #irqs > MAX_IRQS then errors.fail("%d virtio-net IRQs: more than the %d this tool watches; use --dev", #irqs, MAX_IRQS) end
  return irqs
end

local function prepare(run)
  run.irqs = find_irqs(run.opts)
  local map = run.program:table("irqs")
  for slot, q in ipairs(run.irqs) do assert(map:update(q.irq, slot - 1)) end
  run.cumulative = cumulative.new()
end

local function setup(run)
  run.kernel_start = virtio.irq_counts()
  run.kernel_last = run.kernel_start
  run.last_time = run.started
end

local function kernel_delta(now, before, irq)
  local a, b = now[irq] or {}, before[irq] or {}
  local n = 0
  for cpu, c in ipairs(a) do n = n + c - (b[cpu] or 0) end
  return n
end

local function cpu_spread(per_cpu)
  local parts = {}
  for cpu, v in ipairs(per_cpu) do
    if v.calls > 0 then parts[#parts + 1] = string.format("%d:%d", cpu - 1, v.calls) end
  end
  return table.concat(parts, " ")
end

local function histograms(read, slot, unit)
  local h = hist.log2 { unit = unit }
  for s, n in pairs(read[slot] or {}) do h:add(s, n) end
  return h
end

local function collect(run, final)
  local now_time = core.monotime()
  local counts = cumulative.read(run.program:table("counts"))
  local delta = run.cumulative:delta("counts", counts)
  local shown = final and counts or delta
  local kernel_now = virtio.irq_counts()
  local kernel_before = final and run.kernel_start or run.kernel_last
  local seconds = (now_time - (final and run.started or run.last_time)) / 1e9
  run.kernel_last, run.last_time = kernel_now, now_time
  local durations, gaps
  if final then
    durations = cumulative.hists(cumulative.read(run.program:table("duration")), SLOTS)
    gaps = cumulative.hists(cumulative.read(run.program:table("gap")), SLOTS)
  end
  local rows, total = output.array(), 0
  for slot, q in ipairs(run.irqs) do
    local per_cpu = shown[slot - 1]
    local sum = per_cpu and cumulative.sum(per_cpu) or { calls = 0, handled = 0, none = 0 }
    local row = {
      irq = q.irq, name = q.name, dev = q.dev, virtio = q.virtio, queue = q.queue,
      count = sum.calls, handled = sum.handled, none = sum.none,
      rate = seconds > 0 and math.floor(sum.calls / seconds * 10 + 0.5) / 10 or 0,
      kernel = kernel_delta(kernel_now, kernel_before, q.irq),
      cpus = per_cpu and cpu_spread(per_cpu) or nil,
    }
    if final then
      row.duration = histograms(durations, slot - 1, run.opts.unit)
      row.gap = histograms(gaps, slot - 1, run.opts.unit)
    end
    total = total + sum.calls
    rows[#rows + 1] = row
  end
  if run.opts.format == "json" then
    for _, r in ipairs(rows) do
      if r.duration then r.duration, r.gap = r.duration:summary(), r.gap:summary() end
    end
  end
  return { type = final and "total" or "interval", total = total, seconds = seconds, irqs = rows }
end

local COLUMNS = { { "IRQ", "irq" }, { "DEVICE", "dev" }, { "QUEUE", "queue" }, { "COUNT", "count" },
                  { "RATE/s", "rate" }, { "HANDLED", "handled" }, { "NONE", "none" }, { "KERNEL", "kernel" },
                  { "CPUS", "cpus" } }

local function render(run, data, out, final)
  out:write(string.format("\n%s  virtio-net interrupts: %d\n", final and "Total since start" or output.timestamp(), data.total))
  report.table(out, COLUMNS, data.irqs)
  if not final then return end
  for _, r in ipairs(data.irqs) do
    if r.count > 0 then
      out:write(string.format("\n  IRQ %d %s (%s %s): handler duration\n", r.irq, r.name, r.dev or "-", r.queue))
      r.duration:render(out, "  ")
      out:write(string.format("  IRQ %d %s: time since the previous interrupt\n", r.irq, r.name))
      r.gap:render(out, "  ")
    end
  end
end

return tool.summary {
  name = "virtio-irq",
  aliases = { "virtnet_irq_monitor" },
  about = "Interrupts of virtio-net queues: rate, CPUs, IRQ_NONE, handler time, inter-arrival",
  tracing = "Tracing virtio-net interrupts (irq:irq_handler_entry/exit)... Hit Ctrl-C to end.",
  examples = {
    "vnetscope virtio-irq -i 5",
    "vnetscope virtio-irq --dev eth0 --unit ns --format json",
  },
  requires = "tracepoints irq:irq_handler_entry and irq:irq_handler_exit; a guest with virtio-net devices",
  probes = { "tracepoint:irq:irq_handler_entry", "tracepoint:irq:irq_handler_exit" },
  options = {
    { name = "dev", type = "ifname", metavar = "DEV", help = "only this virtio-net device (eth0, or virtio2)" },
    hist.unit_option("us"),
  },
  defaults = { top = false },
  program = program,
  prepare = prepare,
  setup = setup,
  collect = collect,
  render = render,
}
