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

return M
