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

-- x86_64 layouts by kernel version, for what a kernel's BTF lacks
-- (4.19 has none; 5.10's has no vring_virtqueue). 6.1: every field as its
-- BTF (virtio_ring and virtio_net module BTF) says. 5.10: the public
-- fields as its BTF says, vring_virtqueue's from the v5.10 source (struct
-- virtqueue is 56 bytes there, 72 on 6.1). 4.19: vring_virtqueue from the
-- v4.19 source (the split ring directly in it, no packed ring); its
-- public fields depend on the config (struct device), but a 4.19 with
-- kernel-devel takes those from <linux/virtio.h> (vns/virtio.h), not from
-- here. tests/lab/t_virtio_queues.sh compares this table with BTF on
-- every lab kernel and proves the rest by reading real rings.
M.LAYOUTS = {
  { since = { 6, 1 }, before = { 6, 2 }, layout = {
      vdev_dev = 16, vdev_vqs = 784, vdev_index = 0, vq_name = 24, vq_index = 40, vq_num_free = 44, vq_vdev = 32, rq_napi = 8,
      num = 96, avail = 112, used = 120, last_used = 88, packed = 72, broken = 75 } },
  { since = { 5, 10 }, before = { 5, 11 }, layout = {
      vdev_dev = 16, vdev_vqs = 784, vdev_index = 0, vq_name = 24, vq_index = 40, vq_num_free = 44, vq_vdev = 32, rq_napi = 8,
      num = 80, avail = 96, used = 104, last_used = 72, packed = 56, broken = 59 } },
  { since = { 4, 19 }, before = { 4, 20 }, layout = {
      vdev_dev = 16, vdev_vqs = 776, vdev_index = 0, vq_name = 24, vq_index = 40, vq_num_free = 44, vq_vdev = 32, rq_napi = 8,
      num = 56, avail = 72, used = 80, last_used = 100, packed = -1, broken = 89 } },
}

-- What this kernel's BTF says of each field: {field = offset} for those
-- it has (a field with a default gets it when BTF lacks it), and the
-- names of the fields it lacks.
function M.btf_layout(btf_offset)
  btf_offset = btf_offset or core.btf_offset
  local out, missing = {}, {}
  for _, f in ipairs(M.FIELDS) do
    local off, why
    for _, path in ipairs(f[3]) do
      off, why = btf_offset(f[2], path)
      if off then break end
    end
    -- An optional member is absent (-1) only when BTF has its struct.
    local no_struct = not off and (why or ""):find("is in no BTF")
    if off then out[f[1]] = off
    elseif f.default then out[f[1]] = f.default
    elseif f.optional and not no_struct then out[f[1]] = -1
    else missing[#missing + 1] = f[1] end
  end
  return out, missing
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

-- The layout to use: each field from BTF where the kernel has it (module
-- BTF included), else from the table of its version. Returns layout and
-- where it came from; or nil and why.
function M.layout(version, btf_offset)
  local l, missing = M.btf_layout(btf_offset)
  if #missing == 0 then return l, "BTF" end
  local t = M.table_layout(version)
  if not t then
    return nil, string.format("the virtio ring layout of Linux %d.%d is unknown: BTF lacks %s and there is no built-in table for it (4.19, 5.10, 6.1)",
                              version[1], version[2], table.concat(missing, ", "))
  end
  for _, name in ipairs(missing) do l[name] = t[name] end
  local from = #missing == #M.FIELDS and "" or "BTF, and "
  return l, string.format("%sthe built-in table for Linux %d.%d (%s)", from, version[1], version[2], table.concat(missing, ", "))
end



return M
