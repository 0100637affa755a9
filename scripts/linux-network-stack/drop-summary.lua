-- drop-summary: where does the kernel drop packets, and why?
--
-- Counts skb:kfree_skb in the kernel per drop reason, drop location
-- (kernel function + offset) and device; prints the counts of each
-- interval and, at exit, the totals.
--
-- Usage: vnetscope drop-summary [--group-by ...] [flow options] [--dev D]
-- (the examples below, and --help).
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
local errors = require "vns.errors"
local output = require "vns.output"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"
local ctxfilter = require "vns.ctxfilter"
local net = require "vns.net"
local tracepoint = require "vns.tracepoint"

local function by_flow(opts) return opts.group_by == "flow" or opts.group_by == "all" end
local function by_stack(opts) return opts.group_by == "stack" or opts.group_by == "all" end

-- --exclude-unspecified: the code of NOT_SPECIFIED on this kernel.
local function unspecified_code(opts)
  if not opts.exclude_unspecified then return nil end
  if not drops.has_reason() then
    errors.unsupported("option --exclude-unspecified needs drop reasons (Linux 5.17+); this kernel reports none")
  end
  return drops.reason_code("NOT_SPECIFIED") or errors.fail("this kernel's skb:kfree_skb names no NOT_SPECIFIED reason")
end

local function program(opts, f)
  report.check_folded(opts, by_stack(opts), "--group-by stack (or all)")
  local unspecified = unspecified_code(opts)
  return template.render(template.read("drop-summary.c"), {
    TRACEPOINTS = tracepoint.probe("skb", "kfree_skb").code,
    COUNTER = report.counter("drops", "drop_key", 10240),
    BY_FLOW = template.bool(by_flow(opts)),
    BY_STACK = template.bool(by_stack(opts)),
    STACK_SAMPLE = template.bool(opts.stack_sample or false),
    EXCLUDE_REASON = template.bool(unspecified ~= nil),
    UNSPECIFIED = template.int(unspecified or 0),
    HAS_FLOW_FILTER = template.bool(f.needs_l3),
    L3_FLAGS = f.l3_flags,
    FLOW_FILTER_EXPR = f.expr,
    FILTER_MAPS = f.decls,
    DEV_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev = "key.dev" }).expr,
  })
end

local function setup(run)
  run.reason_names = drops.reason_names()
  if by_stack(run.opts) or run.opts.stack_sample then
    run.stacks = run.program:table("stacks")
  end
end

local function row_of(run, key)
  local reason = drops.reason_name(run.reason_names, key.reason)
  local row = {
    reason = reason,
    reason_code = reason and key.reason or nil,
    location = drops.location(key.location),
    dev = key.dev ~= "" and key.dev or nil,
  }
  if key.flow then
    row.flow = net.flow_fields(key.flow, row) and net.flow_text(key.flow) or "-"
  end
  if key.stack_id >= 0 then
    row.stack_id = key.stack_id
    row.stack = drops.stack(run.stacks, key.stack_id)
  end
  return row
end

local counts = report.counts { map = "drops", row = row_of, order = { "location", "flow" } }

-- --stack-sample: the stack first seen for the row's location and reason.
local function add_samples(run, rows, key_of)
  local samples = run.program:table("samples")
  for _, r in ipairs(rows) do
    local id = samples:lookup({ location = key_of[r].location, reason = r.reason_code or 0, pad = 0 })
    r.sample_stack = drops.stack(run.stacks, id)
  end
end

local function collect(run, final)
  local c = counts:collect(run, final)
  local unspecified = 0
  for _, r in ipairs(c.all) do
    if r.reason == "NOT_SPECIFIED" then unspecified = unspecified + r.count end
  end
  if final and run.opts.stack_sample then add_samples(run, c.rows, c.key) end
  -- Folded lines add up to the drops: every row, not the top.
  local rows = run.opts.format == "folded" and c.all or c.rows
  return { type = final and "total" or "interval", total = c.total, unspecified = unspecified, drops = rows }
end

-- Stacks go under their rows.
local function stack_lines(r, out)
  report.frames(out, r.stack)
  report.frames(out, r.sample_stack, "first stack seen:")
end

-- Folded: "REASON;outermost frame;...;kfree_skb's caller count".
local function folded_parts(r)
  return { r.reason or "-" }, { r.stack or { "[missed stack]" } }, r.count
end

local function render(run, data, out, final)
  if run.opts.format == "folded" then return report.folded_totals(out, "drop-summary", data.drops, folded_parts, final) end
  local title = final and "Total since start" or output.timestamp()
  local note = data.unspecified > 0
    and string.format("  (%d NOT_SPECIFIED: no reason given; may be normal frees, see LOCATION)", data.unspecified) or ""
  out:write(string.format("\n%s  drops: %d%s\n", title, data.total, note))
  if data.total == 0 then return end
  local columns = { { "COUNT", "count" }, { "REASON", "reason" }, { "LOCATION", "location" }, { "DEVICE", "dev" } }
  if by_flow(run.opts) then columns[5] = { "FLOW", "flow" } end
  report.table(out, columns, data.drops, "  ", stack_lines)
end

return tool.summary {
  name = "drop-summary",
  aliases = { "kernel_drop_stack_stats_summary_all", "kernel_drop_stack_stats_summary" },
  about = "Packet drops (skb:kfree_skb) by reason, location, device and flow",
  tracing = "Tracing packet drops (skb:kfree_skb)... Hit Ctrl-C to end.",
  examples = {
    "vnetscope drop-summary -i 5 -d 60",
    "vnetscope drop-summary --dev eth0 --top 5 --format json",
    "vnetscope drop-summary --dst-ip 10.0.0.2 --proto udp --dst-port 53",
    "vnetscope drop-summary --filter ip6 --host fd00::/8",
    "vnetscope drop-summary --filter 'tcp and not port 22'",
    "vnetscope drop-summary --group-by location --stack-sample -d 30",
    "vnetscope drop-summary --group-by stack --exclude-unspecified",
    "vnetscope drop-summary --group-by stack --format folded -d 30",
    "vnetscope drop-summary --listen 127.0.0.1:9435",
  },
  defaults = { formats = { "folded" } },
  requires = "tracepoint skb:kfree_skb; drop reasons need Linux 5.17+",
  probes = { "tracepoint:skb:kfree_skb" },
  caveats = drops.caveats,
  options = {
    net.options({ "dev" }),
    { name = "group-by", type = "choice", values = { "location", "flow", "stack", "all" }, default = "flow",
      help = "count per reason, location and device, plus: flow (5-tuple), stack, or all" },
    { name = "stack-sample", type = "flag",
      help = "keep the first kernel stack of each location and reason (cheap; shown at exit)" },
    { name = "exclude-unspecified", type = "flag",
      help = "leave out drops whose reason is NOT_SPECIFIED (often normal frees)" },
  },
  check_variants = {
    { "--group-by", "location" },
    { "--group-by", "all", "--exclude-unspecified" },
    { "--group-by", "flow", "--stack-sample", "--proto", "udp", "--dst-port", "53" },
  },
  filter = true,
  program = program,
  setup = setup,
  header = function(_, out) drops.note_no_reason(out) end,
  collect = collect,
  render = render,
}
