-- virtio: the virtio-net devices of this machine (a guest) and their
-- interrupts, found by name in sysfs and /proc/interrupts, never by
-- number: IRQ numbers change with the machine's PCI layout, the names
-- (virtio2-input.0) do not.
--
--   virtio.net_devices()     -> { {virtio = "virtio2", index = 2, dev = "eth0"}, ... }
--   virtio.irqs(devices)     -> { {irq = 38, name = "virtio2-input.0", virtio =, dev =, queue = "input.0", counts = {per CPU}} }
--   virtio.irq_counts()      -> { [irq] = {per CPU counts} } (one read of /proc/interrupts)
local core = require "vns.core"

local M = {}

M.BUS = "/sys/bus/virtio"

local function listdir(path)
  local names = {}
  for _, e in ipairs(core.listdir(path) or {}) do names[#names + 1] = e.name end
  return names
end

-- Every virtio device bound to the virtio_net driver, with its network
-- device's name when this network namespace can see it (sysfs hides
-- devices of other namespaces: dev is then nil).
function M.net_devices(bus)
  bus = bus or M.BUS
  local out = {}
  for _, name in ipairs(listdir(bus .. "/drivers/virtio_net")) do
    local index = name:match("^virtio(%d+)$")
    if index then
      local nets = listdir(bus .. "/devices/" .. name .. "/net")
      table.sort(nets)
      out[#out + 1] = { virtio = name, index = tonumber(index), dev = nets[1] }
    end
  end
  table.sort(out, function(a, b) return a.index < b.index end)
  return out
end

-- /proc/interrupts as rows: irq number, per-CPU counts, and the action
-- name (the last word).
function M.parse_interrupts(text)
  local rows = {}
  local ncpu
  for line in text:gmatch("[^\n]+") do
    if not ncpu then
      local n = 0
      for _ in line:gmatch("CPU%d+") do n = n + 1 end
      ncpu = n
    else
      local irq, rest = line:match("^%s*(%d+):(.*)$")
      if irq then
        local counts, words = {}, {}
        for w in rest:gmatch("%S+") do words[#words + 1] = w end
        for i = 1, ncpu do counts[i] = tonumber(words[i]) or 0 end
        rows[#rows + 1] = { irq = tonumber(irq), counts = counts, name = words[#words] }
      end
    end
  end
  return rows
end

local function read_interrupts(path)
  local f = io.open(path or "/proc/interrupts")
  if not f then return "" end
  local text = f:read("a")
  f:close()
  return text
end

-- The IRQs of the given virtio-net devices: MSI-X gives one per queue
-- ("virtio2-input.0", "virtio2-output.0", "virtio2-config"); without
-- MSI-X one line "virtio2" serves every queue (queue "all").
function M.irqs(devices, text)
  local by_name = {}
  for _, d in ipairs(devices) do by_name[d.virtio] = d end
  local out = {}
  for _, r in ipairs(M.parse_interrupts(text or read_interrupts())) do
    local virtio, queue = r.name:match("^(virtio%d+)%-(.+)$")
    if not virtio then virtio, queue = r.name:match("^(virtio%d+)$"), "all" end
    local d = virtio and by_name[virtio]
    if d then
      out[#out + 1] = { irq = r.irq, name = r.name, virtio = virtio, dev = d.dev, queue = queue, counts = r.counts }
    end
  end
  table.sort(out, function(a, b) return a.irq < b.irq end)
  return out
end

-- Per-CPU counts of every IRQ, by number.
function M.irq_counts(text)
  local out = {}
  for _, r in ipairs(M.parse_interrupts(text or read_interrupts())) do out[r.irq] = r.counts end
  return out
end

-- Devices named by --dev (nil: all); an error names what exists.
function M.select(devices, dev)
  if not dev then return devices end
  local out = {}
  for _, d in ipairs(devices) do
    if d.dev == dev or d.virtio == dev then out[#out + 1] = d end
  end
  return out
end

-- ---- the layout of the private ring structs (virtio-queues) -------------

-- Where each field the snapshot reads is: struct, member paths to try
-- (the split ring moved into vring_virtqueue.split in 5.0).
M.FIELDS = {
  { "vdev_dev", "virtio_device", { "dev" } },
  { "vdev_vqs", "virtio_device", { "vqs" } },
  { "vdev_index", "virtio_device", { "index" } },
  { "vq_name", "virtqueue", { "name" } },
  { "vq_index", "virtqueue", { "index" } },
  { "vq_num_free", "virtqueue", { "num_free" } },
  { "vq_vdev", "virtqueue", { "vdev" } },
  -- receive_queue begins with its vq, then its napi, in every kernel
  -- since 3.x; some kernels' BTF lacks virtio_net (5.10's).
  { "rq_napi", "receive_queue", { "napi" }, default = 8 },
  { "num", "vring_virtqueue", { "split.vring.num", "vring.num" } },
  { "avail", "vring_virtqueue", { "split.vring.avail", "vring.avail" } },
  { "used", "vring_virtqueue", { "split.vring.used", "vring.used" } },
  { "last_used", "vring_virtqueue", { "last_used_idx" } },
  { "packed", "vring_virtqueue", { "packed_ring" }, optional = true },
  { "broken", "vring_virtqueue", { "broken" } },
}

-- x86_64 layouts by kernel version, for kernels without BTF (4.19 with
-- kernel-devel: vring_virtqueue is in no header). Each was checked
-- against the BTF of that kernel (virtio_ring module BTF on 5.10 and
-- 6.1; the source for 4.19, which has no BTF): tests/lab/t_virtio_queues.sh
-- compares them on every lab kernel.
M.LAYOUTS = {
  { since = { 6, 1 }, before = { 6, 2 }, layout = {
      vdev_dev = 16, vdev_vqs = 784, vdev_index = 0, vq_name = 24, vq_index = 40, vq_num_free = 44, vq_vdev = 32, rq_napi = 8,
      num = 96, avail = 112, used = 120, last_used = 88, packed = 72, broken = 75 } },
  { since = { 5, 10 }, before = { 5, 11 }, layout = {
      vdev_dev = 16, vdev_vqs = 784, vdev_index = 0, vq_name = 24, vq_index = 40, vq_num_free = 44, vq_vdev = 32, rq_napi = 8,
      num = 88, avail = 104, used = 112, last_used = 76, packed = 64, broken = 66 } },
  { since = { 4, 19 }, before = { 4, 20 }, layout = {
      vdev_dev = 8, vdev_vqs = 776, vdev_index = 0, vq_name = 24, vq_index = 40, vq_num_free = 44, vq_vdev = 32, rq_napi = 8,
      num = 56, avail = 72, used = 80, last_used = 100, packed = -1, broken = 89 } },
}

-- The layout from this kernel's BTF: {field = offset}, or nil and why.
function M.btf_layout(btf_offset)
  btf_offset = btf_offset or core.btf_offset
  local out, where = {}, {}
  for _, f in ipairs(M.FIELDS) do
    local off, why, from
    for _, path in ipairs(f[3]) do
      local o, _, name = btf_offset(f[2], path)
      if o then off, from = o, name break end
      why = _
    end
    if not off and not f.optional and not f.default then return nil, why end
    out[f[1]] = off or f.default or -1
    where[#where + 1] = from
  end
  return out, where
end

local function in_range(v, r)
  local a, b = v[1], v[2]
  local function ge(x) return a > x[1] or (a == x[1] and b >= x[2]) end
  return ge(r.since) and not ge(r.before)
end

-- The table's layout for a kernel version {major, minor}, or nil.
function M.table_layout(version)
  for _, r in ipairs(M.LAYOUTS) do
    if in_range(version, r) then return r.layout end
  end
end

-- The layout to use: BTF where the kernel has the structs in it, else
-- the table. Returns layout, source text; or nil and why.
function M.layout(version, btf_offset)
  local l, why = M.btf_layout(btf_offset)
  if l then return l, "BTF" end
  local t = M.table_layout(version)
  if t then return t, string.format("built-in table for Linux %d.%d", version[1], version[2]) end
  return nil, string.format("the virtio ring layout of Linux %d.%d is unknown: no BTF (%s) and no built-in table (4.19, 5.10, 6.1)",
                            version[1], version[2], why)
end

return M
