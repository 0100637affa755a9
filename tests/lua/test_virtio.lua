-- vns.virtio: devices and IRQs found by name, the ring layout from BTF
-- or the per-version table, and where public offsets come from.
local core = require "vns.core"
local virtio = require "vns.virtio"
local h = require "helpers"
local eq, has = h.eq, h.has

local T = {}

local INTERRUPTS = [[
           CPU0       CPU1
 24:          0          0   PCI-MSI 65536-edge      virtio1-config
 25:        201          3   PCI-MSI 65537-edge      virtio1-input.0
 26:          2        202   PCI-MSI 65538-edge      virtio1-output.0
 27:          7          0   PCI-MSI 81920-edge      virtio3-req.0
 11:         40          2   IO-APIC   11-fasteoi   virtio4
NMI:          0          0   Non-maskable interrupts
]]

function T.parse_interrupts()
  local rows = virtio.parse_interrupts(INTERRUPTS)
  eq(#rows, 5)
  eq(rows[2], { irq = 25, counts = { 201, 3 }, name = "virtio1-input.0" })
end

-- Only IRQs of the given virtio-net devices, named by queue; a device
-- without MSI-X has one IRQ for every queue.
function T.irqs_by_device_and_queue()
  local irqs = virtio.irqs({ { virtio = "virtio1", index = 1, dev = "ens3" }, { virtio = "virtio4", index = 4 } },
                          INTERRUPTS)
  local got = {}
  for _, q in ipairs(irqs) do got[#got + 1] = string.format("%d %s %s %s", q.irq, q.virtio, q.queue, q.dev or "-") end
  eq(got, { "11 virtio4 all -", "24 virtio1 config ens3", "25 virtio1 input.0 ens3", "26 virtio1 output.0 ens3" })
  eq(virtio.irq_counts(INTERRUPTS)[26], { 2, 202 })
end

-- The devices bound to virtio_net, with their network device's name.
function T.net_devices_from_sysfs()
  local bus = os.tmpname()
  os.remove(bus)
  for _, d in ipairs({ "/drivers/virtio_net/virtio2", "/drivers/virtio_net/module", "/devices/virtio2/net/eth0",
                       "/drivers/virtio_net/virtio10", "/devices/virtio10" }) do
    assert(core.mkdirs(bus .. d))
  end
  local got = virtio.net_devices(bus)
  core.rmtree(bus)
  eq(got, { { virtio = "virtio2", index = 2, dev = "eth0" }, { virtio = "virtio10", index = 10 } })
  eq(virtio.select(got, "eth0"), { got[1] })
  eq(virtio.select(got, "virtio10"), { got[2] })
  eq(virtio.select(got, "eth9"), {})
end

-- A fake BTF: structs it has and their members.
local function fake_btf(structs)
  return function(s, path)
    if not structs[s] then return nil, "struct " .. s .. " is in no BTF of this kernel" end
    local off = structs[s][path]
    if off then return off, 2, "fake" end
    return nil, "struct " .. s .. " has no member " .. path
  end
end

local PUBLIC = {
  virtio_device = { dev = 16, vqs = 784, index = 0 },
  virtqueue = { name = 24, index = 40, num_free = 44, vdev = 32 },
}

-- All of BTF when it has every struct; the table fills what it lacks
-- (5.10: no vring_virtqueue in its BTF), and says so.
function T.layout_btf_then_table()
  local structs = { virtio_device = PUBLIC.virtio_device, virtqueue = PUBLIC.virtqueue,
                    vring_virtqueue = { ["split.vring.num"] = 96, ["split.vring.avail"] = 112, ["split.vring.used"] = 120,
                                        last_used_idx = 88, packed_ring = 72, broken = 75 },
                    receive_queue = { napi = 8 } }
  local l, source = virtio.layout({ 6, 1 }, fake_btf(structs))
  eq(source, "BTF")
  eq(l, virtio.table_layout({ 6, 1 }), "6.1's table is its BTF")
  structs.vring_virtqueue, structs.receive_queue = nil, nil
  l, source = virtio.layout({ 5, 10 }, fake_btf(structs))
  has(source, "built-in table for Linux 5.10 (num, avail, used, last_used, packed, broken)")
  eq(l.last_used, 72)
  eq(l.vdev_vqs, 784)
  eq(l.rq_napi, 8, "receive_queue.napi follows its vq")
  local none, why = virtio.layout({ 5, 4 }, fake_btf(structs))
  eq(none, nil)
  has(why, "Linux 5.4 is unknown")
end

-- 4.19: the split ring lives in vring_virtqueue itself, no packed ring.
function T.layout_4_19_without_btf()
  local l, source = virtio.layout({ 4, 19 }, fake_btf({}))
  has(source, "the built-in table for Linux 4.19")
  eq({ l.num, l.avail, l.used, l.last_used, l.packed, l.broken }, { 56, 72, 80, 100, -1, 89 })
end

return T
