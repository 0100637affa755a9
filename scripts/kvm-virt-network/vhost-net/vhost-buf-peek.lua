-- vhost-buf-peek: what vhost-net finds when it looks for the next packet
-- to deliver to a guest.
--
-- vhost-net's RX handler (host -> guest) peeks at the head of its
-- backend's ring (the tap's tx_ring, through its own batch) with
-- vhost_net_buf_peek before taking a guest buffer: the result is the
-- packet's length, or 0 when nothing is waiting. Per virtqueue, the
-- distribution of those lengths and how many peeks found nothing: many
-- empty peeks are a busy-polling consumer; few peeks with a full tap ring
-- (tun-ring) are a consumer that does not run.
--
-- Usage: vnetscope vhost-buf-peek [-i S] [-d S]
local hist = require "vns.hist"
local output = require "vns.output"
local template = require "vns.template"
local tool = require "vns.tool"

local function program()
  return template.render(template.read("vhost-buf-peek.c"), {})
end

local function collect(run, final)
  run.peek_totals = run.peek_totals or {}
  local this = {}
  for _, e in ipairs(run.program:table("peeks"):drain()) do
    local k, n = e[1], e[2]
    for _, t in ipairs({ this, run.peek_totals }) do
      local id = string.format("0x%x", k.nvq)
      t[id] = t[id] or { virtqueue = id, peeks = 0, empty = 0, slots = {} }
      local q = t[id]
      q.peeks = q.peeks + n
      if k.slot == 0 then q.empty = q.empty + n else q.slots[k.slot] = (q.slots[k.slot] or 0) + n end
    end
  end
  local rows = {}
  run.peek_hists = {}
  for _, q in pairs(final and run.peek_totals or this) do
    local h = hist.log2 { label = "bytes" }
    for slot, n in pairs(q.slots) do h:add(slot, n) end
    rows[#rows + 1] = { virtqueue = q.virtqueue, peeks = q.peeks, empty = q.empty, with_packet = q.peeks - q.empty,
                        lengths = h:summary() }
    run.peek_hists[q.virtqueue] = h
  end
  table.sort(rows, function(a, b) return a.virtqueue < b.virtqueue end)
  return { type = final and "total" or "interval", queues = rows }
end

local function render(run, data, out, final)
  local title = final and "Total since start" or output.timestamp()
  out:write(string.format("\n%s  vhost_net_buf_peek\n", title))
  for _, q in ipairs(data.queues) do
    out:write(string.format("  virtqueue %s: %d peeks, %d found a packet, %d found nothing\n", q.virtqueue, q.peeks,
                            q.with_packet, q.empty))
    if q.with_packet > 0 then run.peek_hists[q.virtqueue]:render(out) end
  end
end

return tool.summary {
  name = "vhost-buf-peek",
  aliases = { "vhost_buf_peek_stats" },
  about = "What vhost-net finds when it peeks for the next packet to deliver: lengths and empty peeks per virtqueue",
  tracing = "Tracing vhost_net_buf_peek... Hit Ctrl-C to end.",
  examples = { "vnetscope vhost-buf-peek -i 1", "vnetscope vhost-buf-peek --format json -d 10" },
  requires = "kprobes and the vhost_net module",
  probes = { "kprobe:vhost_net_buf_peek" },
  defaults = { top = false },
  program = program,
  collect = collect,
  render = render,
}
