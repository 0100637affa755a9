-- tun-ring: how full each tun/tap queue's ring is when packets arrive.
--
-- Each tun/tap queue holds the packets toward its reader (vhost-net for
-- a VM's vnet port) in a ptr_ring of tx_queue_len entries; when the
-- reader falls behind the ring fills, and a full ring drops (see
-- vnet-txdrop). This tool reads the ring's fill level each time
-- tun_net_xmit adds a packet: per device and queue a histogram of the
-- fill level in tenths of the ring ("full": the packets tun dropped for a
-- full ring, from its return value), and the flows whose packets were so
-- dropped or found the ring at/above --threshold percent.
--
-- Usage: vnetscope tun-ring [--dev D] [--queue Q] [--threshold PCT] [flow options] [-i S]
local net = require "vns.net"
local output = require "vns.output"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"
local vhostq = require "vns.vhostq"
local virtlayout = require "vns.virtlayout"

local LAYOUT = {
  { "vns_tun_file", "tx_ring", "tun_file", "tx_ring" },
  { "vns_tun_struct", "numqueues", "tun_struct", "numqueues" },
  { "vns_tun_struct", "txflt_count", "tun_struct", "txflt" },
}
local MAX_FLOWS = 10240

local function program(opts, f)
  return template.render(template.read("tun-ring.c"), {
    LAYOUT_CHECKS = virtlayout.checks("tun", LAYOUT),
    THRESHOLD_PCT = template.int(opts.threshold),
    HOT_COUNTER = report.counter("hot", "hot_key", MAX_FLOWS),
    FILTER_MAPS = f.decls,
    FLOW_FILTER = f.guard,
    CTX_FILTER = vhostq.queue_filter(opts, "key"),
  })
end

local hot_counts = report.counts {
  map = "hot", order = { "dev", "queue", "flow" },
  row = function(_, k)
    return { dev = k.dev, queue = k.queue, full = k.full == 1, flow = net.flow_text(k.flow) }
  end,
}

local SLOT_NAMES = { [0] = "0-9%", "10-19%", "20-29%", "30-39%", "40-49%", "50-59%", "60-69%", "70-79%",
                     "80-89%", "90-99%", "full" }

-- Per queue: packets per fill slot (the map is drained: this interval).
local function queues(run)
  local by, sizes = {}, {}
  for k, v in run.program:table("ring_size"):items() do sizes[k.dev .. "/" .. k.queue] = v end
  for _, e in ipairs(run.program:table("fill_hist"):drain()) do
    local k, n = e[1], e[2]
    local id = k.dev .. "/" .. k.queue
    local q = by[id]
    if not q then
      q = { dev = k.dev, queue = k.queue, size = sizes[id], packets = 0, slots = {} }
      by[id] = q
    end
    q.slots[SLOT_NAMES[k.slot] or tostring(k.slot)] = n
    q.packets = q.packets + n
    if k.slot == 10 then q.full = (q.full or 0) + n end
  end
  local rows = {}
  for _, q in pairs(by) do rows[#rows + 1] = q end
  table.sort(rows, function(a, b) return a.dev < b.dev or (a.dev == b.dev and a.queue < b.queue) end)
  return rows
end

-- The same rows summed since start, for the final report.
local function add_totals(run, rows)
  run.queue_totals = run.queue_totals or {}
  for _, q in ipairs(rows) do
    local id = q.dev .. "/" .. q.queue
    local t = run.queue_totals[id]
    if not t then
      t = { dev = q.dev, queue = q.queue, packets = 0, slots = {} }
      run.queue_totals[id] = t
    end
    t.size, t.packets, t.full = q.size or t.size, t.packets + q.packets, (t.full or 0) + (q.full or 0)
    for name, n in pairs(q.slots) do t.slots[name] = (t.slots[name] or 0) + n end
  end
  local out = {}
  for _, t in pairs(run.queue_totals) do out[#out + 1] = t end
  table.sort(out, function(a, b) return a.dev < b.dev or (a.dev == b.dev and a.queue < b.queue) end)
  return out
end

local function collect(run, final)
  local hot = hot_counts:collect(run, final)
  local rows = queues(run)
  local totals = add_totals(run, rows)
  return { type = final and "total" or "interval", threshold_pct = run.opts.threshold,
           queues = final and totals or rows, hot = hot.rows, hot_total = hot.total }
end

local function render(_, data, out, final)
  local title = final and "Total since start" or output.timestamp()
  out:write(string.format("\n%s  tun/tap ring fill when packets arrive\n", title))
  for _, q in ipairs(data.queues) do
    out:write(string.format("  %s queue %d (ring %s): %d packets, %d found it full\n", q.dev, q.queue,
                            tostring(q.size or "?"), q.packets, q.full or 0))
    for s = 0, 10 do
      local n = q.slots[SLOT_NAMES[s]]
      if n then out:write(string.format("    %-8s %8d\n", SLOT_NAMES[s], n)) end
    end
  end
  if #data.hot > 0 then
    out:write(string.format("  flows at/above %d%% (FULL: the ring was full, the packet dropped):\n", data.threshold_pct))
    for _, r in ipairs(data.hot) do r.state = r.full and "FULL" or "high" end
    report.table(out, { { "COUNT", "count" }, { "DEVICE", "dev" }, { "QUEUE", "queue" }, { "STATE", "state" },
                        { "FLOW", "flow" } }, data.hot, "  ")
  end
end

return tool.summary {
  name = "tun-ring",
  aliases = { "tun_ring_monitor", "tun-tx-ring-stas" },
  about = "Fill level of each tun/tap queue's ring when packets arrive, and the flows that find it full",
  tracing = "Tracing tun/tap ring fill levels... Hit Ctrl-C to end.",
  examples = {
    "vnetscope tun-ring --dev vnet0 -i 1",
    "vnetscope tun-ring --dev vnet0 --queue 0 --threshold 50 --proto udp",
  },
  requires = "kprobes and the tun module",
  probes = { "kprobe:tun_net_xmit", "kretprobe:tun_net_xmit" },
  options = {
    net.options({ "dev" }),
    { name = "queue", type = "integer", min = 0, max = 255, help = "only this queue of the device (0-255)" },
    { name = "threshold", type = "integer", min = 1, max = 100, default = 90,
      help = "count flows whose packets find the ring at least this full (percent, 1-100)" },
  },
  check_variants = { { "--dev", "vnet0", "--queue", "1", "--proto", "udp" } },
  filter = true,
  program = program,
  collect = collect,
  render = render,
}
