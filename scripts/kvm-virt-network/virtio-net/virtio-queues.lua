-- virtio-queues: the fill level of every virtqueue of this guest's
-- virtio-net devices, read every interval from the rings themselves,
-- with no probe on the packet path (field incident 1: a TX queue whose
-- last_used_idx froze while packets waited).
--
-- For each queue: the ring size, avail->idx (buffers the driver
-- offered), used->idx (buffers the device completed), last_used_idx
-- (completions the driver consumed), the backlog and saturation
-- (backlog / size):
--   TX (output.N, control): avail - used, packets the device (host) has
--     not sent yet;
--   RX (input.N): used - last_used, packets the guest has not received yet.
-- STALL: a queue with backlog whose last_used_idx did not move over the
-- interval. The final report gives each queue's largest backlog and the
-- intervals it was stalled.
--
-- How: the tool takes a snapshot when it asks for one, by an lseek of its
-- own on the device's sysfs directory that syscalls:sys_enter_lseek
-- catches (bpf-templates/virtio-queues.c). The private ring structs are
-- laid out from BTF (module BTF too) or a per-version table (4.19, 5.10,
-- 6.1 on x86_64).
--
-- Sample output:
--   Reading virtio-net queues every 1 s (a snapshot per interval; layout from BTF)... Hit Ctrl-C to end.
--
--   12:00:01  virtio-net queues: 5, stalled: 1
--     DEVICE  VIRTIO   QUEUE     SIZE  AVAIL  USED  LAST_USED  BACKLOG  SAT%  STATE
--     ens4    virtio2  input.0    256    256   437        181      256  100.0 STALL
--
-- Requires: tracepoint syscalls:sys_enter_lseek; a guest with virtio-net
-- devices using split rings.
local core = require "vns.core"
local errors = require "vns.errors"
local kernel = require "vns.kernel"
local output = require "vns.output"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"
local tracepoint = require "vns.tracepoint"
local virtio = require "vns.virtio"

local MAGIC = 0x7669727a

local function program()
  if not kernel.has_tracepoint("syscalls", "sys_enter_lseek") then
    errors.unsupported("virtio-queues needs the tracepoint syscalls:sys_enter_lseek (CONFIG_FTRACE_SYSCALLS)")
  end
  return template.render(template.read("virtio-queues.c"), {
    TRACEPOINTS = tracepoint.probe("syscalls", "sys_enter_lseek").code,
  })
end

local function devices(opts)
  local all = virtio.net_devices()
  if #all == 0 then
    errors.fail("no virtio-net device here: no device is bound to the virtio_net driver (%s/drivers/virtio_net)", virtio.BUS)
  end
  local chosen = virtio.select(all, opts.dev)
  if #chosen == 0 then errors.usage("option --dev: %s is not a virtio-net device here", opts.dev) end
  return chosen
end

local function prepare(run)
  local layout, source = virtio.layout({ kernel.version() })
  if not layout then errors.fail("%s", source) end
  run.layout_source = source
  layout.pid = core.getpid()
  assert(run.program:table("layouts"):update(0, layout))
  run.devices = devices(run.opts)
  for _, d in ipairs(run.devices) do
    d.handle = errors.check(io.open(virtio.BUS .. "/devices/" .. d.virtio), "cannot open the sysfs directory of " .. d.virtio)
    d.handle:setvbuf("no")
  end
  run.request = 0
  run.queues = {}   -- "virtioN/name" -> {last_used, max_backlog, stalled}
end

-- Ask for a snapshot of each device; the rows of its queues.
local function snapshot(run)
  local snaps = run.program:table("snaps")
  local rows = output.array()
  for _, d in ipairs(run.devices) do
    run.request = run.request + 1
    -- glibc's fseek aligns the offset down to the block size (4 KiB on
    -- sysfs): the request number goes above the low 12 bits.
    local request = (MAGIC << 32) | (run.request << 12)
    d.handle:seek("set", request)   -- fails (EINVAL) after the tracepoint saw it
    for k, s in snaps:items() do
      if k.vdev == d.index and s.request == request then
        rows[#rows + 1] = { d = d, vq = k.vq, s = s }
      end
    end
  end
  table.sort(rows, function(a, b)
    if a.d.index ~= b.d.index then return a.d.index < b.d.index end
    return a.vq < b.vq
  end)
  return rows
end

local function direction(name)
  if name:match("^input") then return "rx" end
  return "tx"
end

local function row_of(run, r)
  local s, id = r.s, r.d.virtio .. "/" .. r.s.name
  local q = run.queues[id] or { max_backlog = 0, stalled = 0, intervals = 0 }
  run.queues[id] = q
  local dir = direction(s.name)
  local backlog = dir == "rx" and (s.used_idx - s.last_used_idx) & 0xffff or (s.avail_idx - s.used_idx) & 0xffff
  local stall = q.last_used ~= nil and backlog > 0 and q.last_used == s.last_used_idx
  q.last_used, q.intervals = s.last_used_idx, q.intervals + 1
  q.max_backlog = math.max(q.max_backlog, backlog)
  if stall then q.stalled = q.stalled + 1 end
  local row = {
    dev = r.d.dev, virtio = r.d.virtio, queue = s.name, index = r.vq, dir = dir, size = s.num,
    avail_idx = s.avail_idx, used_idx = s.used_idx, last_used_idx = s.last_used_idx, num_free = s.num_free,
    backlog = backlog, saturation = s.num > 0 and math.floor(backlog * 1000 / s.num + 0.5) / 10 or 0,
    stall = stall, broken = s.broken ~= 0 or nil, packed = s.packed ~= 0 or nil,
  }
  row.state = s.packed ~= 0 and "packed ring: not read" or s.broken ~= 0 and "BROKEN" or stall and "STALL" or nil
  q.row = row
  return row
end

local function setup(run)
  -- A first snapshot, so the first interval can already tell a stall.
  for _, r in ipairs(snapshot(run)) do row_of(run, r) end
  for _, q in pairs(run.queues) do q.max_backlog, q.stalled, q.intervals = 0, 0, 0 end
end

local function collect(run, final)
  local rows, stalled = output.array(), 0
  if final then
    -- The program is detached by now: the totals of what was read.
    for _, q in pairs(run.queues) do
      local r = q.row
      rows[#rows + 1] = { dev = r.dev, virtio = r.virtio, queue = r.queue, index = r.index, dir = r.dir, size = r.size,
                          max_backlog = q.max_backlog, stalled = q.stalled, intervals = q.intervals,
                          max_saturation = r.size > 0 and math.floor(q.max_backlog * 1000 / r.size + 0.5) / 10 or 0 }
      if q.stalled > 0 then stalled = stalled + 1 end
    end
    table.sort(rows, function(a, b)
      if a.virtio ~= b.virtio then return a.virtio < b.virtio end
      return a.index < b.index
    end)
  else
    for _, r in ipairs(snapshot(run)) do
      local row = row_of(run, r)
      rows[#rows + 1] = row
      if row.stall then stalled = stalled + 1 end
    end
  end
  return { type = final and "total" or "interval", stalled = stalled, queues = rows }
end

local COLUMNS = { { "DEVICE", "dev" }, { "VIRTIO", "virtio" }, { "QUEUE", "queue" }, { "SIZE", "size" },
                  { "AVAIL", "avail_idx" }, { "USED", "used_idx" }, { "LAST_USED", "last_used_idx" },
                  { "BACKLOG", "backlog" }, { "SAT%", "saturation" }, { "STATE", "state" } }
local TOTAL_COLUMNS = { { "DEVICE", "dev" }, { "VIRTIO", "virtio" }, { "QUEUE", "queue" }, { "SIZE", "size" },
                        { "MAX_BACKLOG", "max_backlog" }, { "MAX_SAT%", "max_saturation" },
                        { "STALLED", "stalled" }, { "INTERVALS", "intervals" } }

local function render(_, data, out, final)
  out:write(string.format("\n%s  virtio-net queues: %d, stalled: %d\n",
                          final and "Total since start" or output.timestamp(), #data.queues, data.stalled))
  report.table(out, final and TOTAL_COLUMNS or COLUMNS, data.queues)
end

return tool.summary {
  name = "virtio-queues",
  aliases = { "trace_int_final" },
  about = "virtio-net queue fill levels per interval: backlog, saturation, last_used_idx, stalls",
  examples = {
    "vnetscope virtio-queues -i 1",
    "vnetscope virtio-queues --dev eth0 -d 60 --format json",
  },
  requires = "tracepoint syscalls:sys_enter_lseek; virtio-net with split rings; BTF, or Linux 4.19/5.10/6.1 on x86_64",
  probes = { "tracepoint:syscalls:sys_enter_lseek" },
  options = {
    { name = "dev", type = "ifname", metavar = "DEV", help = "only this virtio-net device (eth0, or virtio2)" },
  },
  defaults = { top = false },
  caveats = function()
    local layout, source = virtio.layout({ kernel.version() })
    if not layout then return { source } end
    return source ~= "BTF" and { "ring layout from " .. source } or {}
  end,
  program = program,
  prepare = prepare,
  setup = setup,
  collect = collect,
  render = render,
  header = function(run, out) out:write("  ring layout: ", run.layout_source, "\n") end,
}
