-- napi-poll: how NAPI polls each device's queues: polls, packets, how
-- much of the budget each poll used, polls that used all of it (the
-- driver is polled again at once: repoll) and polls that found nothing,
-- and where the poll came from (the NET_RX softirq, or outside it: busy
-- polling, threaded NAPI). Any NAPI driver: virtio-net, veth, NICs.
--
-- Usage: vnetscope napi-poll [--dev eth0] [--group-by napi|stack]
--
-- Sample output:
--   Tracing NAPI polls (napi:napi_poll)... Hit Ctrl-C to end.
--
--   12:00:01  NAPI polls: 203, packets: 200
--     DEVICE  NAPI            ORIGIN   POLLS  PACKETS  PER_POLL  FULL  EMPTY  BUDGET_USED
--     ens4    virtnet_poll#0  softirq    201      200      1.00     0      1  0:1 1/8:200
--
-- NAPI names the driver's poll function and the instance (#0, #1, ... in
-- address order: for virtio-net and veth the queue index, when every
-- queue was seen). BUDGET_USED: polls by the part of the budget they
-- used (0, up to 1/8, ..., 8/8 the whole budget).
--
-- Requires: napi:napi_poll, irq:softirq_entry/exit (4.19 has them).
local core = require "vns.core"
local ctxfilter = require "vns.ctxfilter"
local cumulative = require "vns.cumulative"
local drops = require "vns.drops"
local output = require "vns.output"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"
local tracepoint = require "vns.tracepoint"

local ORIGINS = { [0] = "softirq", [1] = "other" }
local USED = { "0", "1/8", "2/8", "3/8", "4/8", "5/8", "6/8", "7/8", "8/8", ">8/8" }

local function by_stack(opts) return opts.group_by == "stack" end

local function program(opts)
  report.check_folded(opts, by_stack(opts), "--group-by stack")
  return template.render(template.read("napi-poll.c"), {
    TRACEPOINTS = tracepoint.code(tracepoint.probe("irq", "softirq_entry"), tracepoint.probe("irq", "softirq_exit"),
                                  tracepoint.probe("napi", "napi_poll")),
    BY_STACK = template.bool(by_stack(opts)),
    DEV_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev = "key.dev" }).expr,
  })
end

local function prepare(run)
  run.cumulative = cumulative.new()
  run.names = {}       -- napi address -> label
  run.seen = {}        -- dev/poll fn -> napi addresses seen
  if by_stack(run.opts) then run.stacks = run.program:table("stacks") end
end

local function poll_fn(addr)
  local name = core.ksym(addr)
  return name or string.format("0x%x", addr)
end

-- "virtnet_poll#1": the poll function, and the instance's rank by
-- address among those of its device and function seen so far.
local function napi_label(run, key)
  local id = string.format("%s/%x", key.dev, key.poll)
  local list = run.seen[id]
  if not list then
    list = {}
    run.seen[id] = list
  end
  local known = false
  for _, a in ipairs(list) do if a == key.napi then known = true end end
  if not known then
    list[#list + 1] = key.napi
    table.sort(list, function(a, b) return math.ult(a, b) end)
  end
  for i, a in ipairs(list) do
    if a == key.napi then return string.format("%s#%d", poll_fn(key.poll), i - 1) end
  end
end

local function key_id(k)
  return string.format("%x/%x/%s/%d/%d", k.napi, k.poll, k.dev, k.origin, k.stack_id)
end

-- The map as {id = {key, counts}}: running totals (nothing is deleted).
local function read_polls(run)
  local out = {}
  for k, per_cpu in run.program:table("polls"):items() do out[key_id(k)] = { k, cumulative.sum(per_cpu) } end
  return out
end

local function used_text(used)
  local parts = {}
  for i, n in ipairs(used) do
    if n > 0 then parts[#parts + 1] = USED[i] .. ":" .. n end
  end
  return table.concat(parts, " ")
end

local function row_of(run, key, c)
  local used = {}
  for i = 1, #USED do used[i] = c.used[i] or 0 end
  return {
    dev = key.dev ~= "" and key.dev or nil, napi = napi_label(run, key), origin = ORIGINS[key.origin] or tostring(key.origin),
    polls = c.polls, packets = c.packets, full = c.full, empty = c.empty,
    per_poll = c.polls > 0 and math.floor(c.packets / c.polls * 100 + 0.5) / 100 or nil,
    budget_used = used_text(used), used = used,
    stack = run.stacks and drops.stack(run.stacks, key.stack_id) or nil,
  }
end

local function minus(a, b)
  local d = { used = {} }
  for _, f in ipairs({ "polls", "packets", "full", "empty" }) do d[f] = a[f] - (b and b[f] or 0) end
  for i = 1, #USED do d.used[i] = (a.used[i] or 0) - (b and b.used[i] or 0) end
  return d
end

local function collect(run, final)
  local now = read_polls(run)
  local last = run.last or {}
  run.last = now
  local rows, polls, packets = output.array(), 0, 0
  for id, e in pairs(now) do
    local c = final and minus(e[2]) or minus(e[2], last[id] and last[id][2])
    if c.polls > 0 then
      local row = row_of(run, e[1], c)
      rows[#rows + 1] = row
      polls, packets = polls + c.polls, packets + c.packets
    end
  end
  table.sort(rows, function(a, b)
    if a.dev ~= b.dev then return (a.dev or "") < (b.dev or "") end
    if a.napi ~= b.napi then return a.napi < b.napi end
    if a.origin ~= b.origin then return a.origin < b.origin end
    return a.polls > b.polls
  end)
  return { type = final and "total" or "interval", polls = polls, packets = packets, napis = rows }
end

local COLUMNS = { { "DEVICE", "dev" }, { "NAPI", "napi" }, { "ORIGIN", "origin" }, { "POLLS", "polls" },
                  { "PACKETS", "packets" }, { "PER_POLL", "per_poll" }, { "FULL", "full" }, { "EMPTY", "empty" },
                  { "BUDGET_USED", "budget_used" } }

-- Folded: "DEVICE;outermost frame;...;napi_poll's caller polls".
local function folded_parts(r)
  return { r.dev or "-" }, { r.stack or { "[missed stack]" } }, r.polls
end

local function render(run, data, out, final)
  if run.opts.format == "folded" then return report.folded_totals(out, "napi-poll", data.napis, folded_parts, final) end
  out:write(string.format("\n%s  NAPI polls: %d, packets: %d\n", final and "Total since start" or output.timestamp(),
                          data.polls, data.packets))
  if #data.napis > 0 then
    report.table(out, COLUMNS, data.napis, "  ", function(r, o) report.frames(o, r.stack) end)
  end
end

return tool.summary {
  name = "napi-poll",
  aliases = { "virtnet_poll_monitor", "virtnet_poll_stack_stats" },
  about = "NAPI polls per device and queue: packets, budget used, repolls, empty polls, origin",
  tracing = "Tracing NAPI polls (napi:napi_poll)... Hit Ctrl-C to end.",
  examples = {
    "vnetscope napi-poll -i 5",
    "vnetscope napi-poll --dev eth0 --format json",
    "vnetscope napi-poll --dev eth0 --group-by stack -d 10",
    "vnetscope napi-poll --group-by stack --format folded -d 30",
  },
  requires = "tracepoints napi:napi_poll and irq:softirq_entry/exit (any kernel since 4.x)",
  probes = { "tracepoint:napi:napi_poll", "tracepoint:irq:softirq_entry", "tracepoint:irq:softirq_exit" },
  options = {
    { name = "dev", type = "ifname", metavar = "DEV", help = "only this device" },
    { name = "group-by", type = "choice", values = { "napi", "stack" }, default = "napi",
      help = "count per NAPI instance and origin, or also per kernel stack (the call paths)" },
  },
  defaults = { top = false, formats = { "folded" } },
  check_variants = { { "--group-by", "stack" }, { "--dev", "eth0" } },
  program = program,
  prepare = prepare,
  collect = collect,
  render = render,
}
