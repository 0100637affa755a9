-- drop-summary: where does the kernel drop packets, and why?
--
-- Counts skb:kfree_skb in the kernel per drop reason, drop location
-- (kernel function + offset) and device; prints the counts of each
-- interval and, at exit, the totals.
--
-- Usage:
--   vnetscope drop-summary                    # every drop, 1 s intervals
--   vnetscope drop-summary -i 5 -d 60 -t 10   # 5 s reports for a minute
--   vnetscope drop-summary --dev eth0 --format json
--   vnetscope drop-summary --dst-ip 10.0.0.2 --proto udp --dst-port 53
--   vnetscope drop-summary --filter 'tcp and not port 22'
--
-- Sample output:
--   Tracing packet drops (skb:kfree_skb)... Hit Ctrl-C to end.
--
--   12:00:01  drops: 10
--     COUNT  REASON     LOCATION                DEVICE
--        10  NO_SOCKET  __udp4_lib_rcv+0x6ed    veth1
--
-- Requires: the skb:kfree_skb tracepoint (any kernel since 4.x); the
-- reason column needs 5.17+, older kernels show "-".
local drops = require "vns.drops"
local output = require "vns.output"
local template = require "vns.template"
local filter = require "vns.filter"
local tool = require "vns.tool"
local ctxfilter = require "vns.ctxfilter"
local net = require "vns.net"

local function program(opts)
  opts.compiled_filter = filter.compile(opts)
  return template.render(template.read("drop-summary.c"), {
    MAX_KEYS = template.int(10240),
    DEV_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev = "key.dev" }).expr,
    FLOW_FILTER = opts.compiled_filter.guard,
    FILTER_MAPS = opts.compiled_filter.decls,
    READ_REASON = drops.read_reason("key.reason"),
  })
end

-- Large address/port sets live in maps: fill them before attaching, so
-- the filter is whole from the first packet.
local function prepare(run)
  filter.fill(run.program, run.opts.compiled_filter)
end

local function setup(run)
  run.reason_names = drops.reason_names()
  run.totals = {}
end

local function row_of(run, key, count)
  local reason = drops.reason_name(run.reason_names, key.reason)
  return {
    count = count,
    reason = reason,
    reason_code = reason and key.reason or nil,
    location = drops.location(key.location),
    dev = key.dev ~= "" and key.dev or nil,
  }
end

local function sorted_top(rows, top)
  table.sort(rows, function(a, b)
    if a.count ~= b.count then return a.count > b.count end
    return a.location < b.location
  end)
  local total, shown = 0, output.array()
  for i, r in ipairs(rows) do
    total = total + r.count
    if i <= top then shown[#shown + 1] = r end
  end
  return total, shown
end

local function add_total(run, row)
  local id = table.concat({ row.location, row.reason or "", row.dev or "" }, "|")
  local t = run.totals[id]
  if t then t.count = t.count + row.count else
    run.totals[id] = { count = row.count, reason = row.reason, reason_code = row.reason_code,
                       location = row.location, dev = row.dev }
  end
end

local function collect(run, final)
  local rows = {}
  for _, entry in ipairs(run.program:table("drops"):drain()) do
    local row = row_of(run, entry[1], entry[2])
    rows[#rows + 1] = row
    add_total(run, row)
  end
  if final then
    rows = {}
    for _, t in pairs(run.totals) do rows[#rows + 1] = t end
  end
  local total, shown = sorted_top(rows, run.opts.top)
  return { type = final and "total" or "interval", total = total, drops = shown }
end

local function render(run, data, out, final)
  local title = final and "Total since start" or output.timestamp()
  out:write(string.format("\n%s  drops: %d\n", title, data.total))
  if data.total == 0 then return end
  local rows = {}
  for _, r in ipairs(data.drops) do
    rows[#rows + 1] = { r.count, r.reason or "-", r.location, r.dev or "-" }
  end
  output.table(out, { "COUNT", "REASON", "LOCATION", "DEVICE" }, rows, "  ")
end

return tool.summary {
  name = "drop-summary",
  aliases = { "kernel_drop_stack_stats_summary_all", "kernel_drop_stack_stats_summary" },
  about = "Packet drops (skb:kfree_skb) by reason, location and device",
  tracing = "Tracing packet drops (skb:kfree_skb)... Hit Ctrl-C to end.",
  examples = {
    "vnetscope drop-summary -i 5 -d 60",
    "vnetscope drop-summary --dev eth0 --top 5 --format json",
    "vnetscope drop-summary --dst-ip 10.0.0.2 --proto udp --dst-port 53",
    "vnetscope drop-summary --filter ip6 --host fd00::/8",
    "vnetscope drop-summary --filter 'tcp and not port 22'",
  },
  requires = "tracepoint skb:kfree_skb; drop reasons need Linux 5.17+",
  probes = { "tracepoint:skb:kfree_skb" },
  options = {
    net.options({ "dev" }),
    filter.options(),
  },
  program = program,
  prepare = prepare,
  setup = setup,
  collect = collect,
  render = render,
}
