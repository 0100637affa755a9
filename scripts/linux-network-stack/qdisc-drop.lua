-- qdisc-drop: which qdiscs drop packets, and whose packets they drop.
--
-- Counts drops by the traffic-control layer per device, root qdisc and
-- reason, with the flows affected; beside them, the kernel's own counters
-- of every qdisc that changed (drops, overlimits, requeues: tc -s) in
-- the network namespace the tool runs in.
--
-- Usage: vnetscope qdisc-drop [--dev D] [flow options] [--variant V]
-- (the examples below, and --help).
--
-- Variants: "tracepoint" counts skb:kfree_skb with a qdisc drop reason
-- (QDISC_*, CAKE_*, FQ_*: 6.x kernels); "kprobe" counts __dev_queue_xmit
-- returning NET_XMIT_DROP (kernels without those reasons, 4.19). --variant
-- auto picks the first this kernel supports.
local drops = require "vns.drops"
local errors = require "vns.errors"
local ctxfilter = require "vns.ctxfilter"
local net = require "vns.net"
local output = require "vns.output"
local report = require "vns.report"
local qdisc = require "vns.qdisc"
local template = require "vns.template"
local tool = require "vns.tool"
local tracepoint = require "vns.tracepoint"

local MAX_FLOWS = 10240

-- Reason codes of this kernel that mean "a qdisc dropped it".
local function qdisc_reasons()
  local codes = {}
  for code, name in pairs(drops.reason_names()) do
    if name:match("^QDISC_") or name:match("^CAKE_") or name:match("^FQ_") then codes[#codes + 1] = code end
  end
  table.sort(codes)
  return codes
end

local function variant_of(opts)
  if opts.variant ~= "auto" then return opts.variant end
  return #qdisc_reasons() > 0 and "tracepoint" or "kprobe"
end

-- The reason codes as 4 words of a bit set over 0-255 (the template's
-- REASONS_0..3).
local function reason_words(codes)
  local words = { 0, 0, 0, 0 }
  for _, c in ipairs(codes) do
    if c < 0 or c > 255 then errors.fail("qdisc drop reason code %d is outside 0-255", c) end
    words[c // 64 + 1] = words[c // 64 + 1] | (1 << (c % 64))
  end
  return words
end

local function program(opts, f)
  local variant = variant_of(opts)
  local words, tracepoints = { 0, 0, 0, 0 }, template.code("/* kprobe variant: no tracepoint */")
  if variant == "tracepoint" then
    local codes = qdisc_reasons()
    if #codes == 0 then
      errors.unsupported("option --variant tracepoint needs qdisc drop reasons in skb:kfree_skb (Linux 6.x); use --variant kprobe")
    end
    words = reason_words(codes)
    tracepoints = tracepoint.probe("skb", "kfree_skb").code
  end
  return template.render(template.read("qdisc-drop.c"), {
    TRACEPOINTS = tracepoints,
    VARIANT_KPROBE = template.bool(variant == "kprobe"),
    REASONS_0 = template.int(words[1]),
    REASONS_1 = template.int(words[2]),
    REASONS_2 = template.int(words[3]),
    REASONS_3 = template.int(words[4]),
    DROP_COUNTER = report.counter("drops", "drop_key", 1024),
    FLOW_COUNTER = report.counter("flows", "flow_key", MAX_FLOWS),
    FILTER_MAPS = f.decls,
    FLOW_FILTER = f.guard,
    DEV_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev = "p->key.dev" }).expr,
  })
end

local function prepare(run)
  run.reason_names = drops.reason_names()
  run.variant = variant_of(run.opts)
  run.counters = qdisc.counters({ dev = run.opts.dev })
end

local drop_counts = report.counts {
  map = "drops", top = false, order = { "dev", "reason" },
  row = function(run, k)
    return { dev = k.dev, qdisc = k.kind ~= "" and k.kind or nil, handle = string.format("%x:", k.handle >> 16),
             reason = run.variant == "tracepoint" and (run.reason_names[k.reason] or tostring(k.reason))
                      or "NET_XMIT_DROP" }
  end,
}

local flow_counts = report.counts {
  map = "flows", order = { "dev", "flow" },
  row = function(_, k) return { dev = k.dev, flow = net.flow_text(k.flow) } end,
}

local function collect(run, final)
  local dropped, flows = drop_counts:collect(run, final), flow_counts:collect(run, final)
  local counters, err = run.counters:changes(final)
  return { type = final and "total" or "interval", variant = run.variant, total = dropped.total,
           drops = dropped.rows, flows = flows.rows, qdiscs = counters, qdiscs_error = err }
end

local function render(run, data, out, final)
  local title = final and "Total since start" or output.timestamp()
  out:write(string.format("\n%s  qdisc drops: %d\n", title, data.total))
  if #data.drops > 0 then
    report.table(out, { { "COUNT", "count" }, { "DEVICE", "dev" }, { "QDISC", "qdisc" }, { "HANDLE", "handle" },
                        { "REASON", "reason" } }, data.drops)
  end
  if #data.flows > 0 then
    out:write("  flows dropped:\n")
    report.table(out, { { "COUNT", "count" }, { "DEVICE", "dev" }, { "FLOW", "flow" } }, data.flows)
  end
  if data.qdiscs_error then
    out:write("  kernel qdisc counters: ", data.qdiscs_error, "\n")
  elseif #data.qdiscs > 0 then
    out:write("  kernel qdisc counters (tc -s) that changed:\n")
    report.table(out, { { "DEVICE", "dev" }, { "QDISC", "kind" }, { "HANDLE", "handle" }, { "PARENT", "parent" },
                        { "DROPS", "drops" }, { "OVERLIMITS", "overlimits" }, { "REQUEUES", "requeues" },
                        { "BACKLOG", "backlog" }, { "QLEN", "qlen" } }, data.qdiscs)
  end
end

return tool.summary {
  name = "qdisc-drop",
  aliases = { "qdisc_drop_trace" },
  about = "Qdisc drops per device, root qdisc and reason, with the flows dropped",
  tracing = "Tracing qdisc drops... Hit Ctrl-C to end.",
  examples = {
    "vnetscope qdisc-drop --dev eth0 -i 5",
    "vnetscope qdisc-drop --proto udp --format json",
    "vnetscope qdisc-drop --variant kprobe",
  },
  requires = "skb:kfree_skb with qdisc drop reasons (6.x), or kprobes (--variant kprobe)",
  probes = { "tracepoint:skb:kfree_skb", "kprobe:__dev_queue_xmit" },
  options = {
    net.options({ "dev" }),
    { name = "variant", type = "choice", values = { "auto", "tracepoint", "kprobe" }, default = "auto",
      help = "tracepoint: kfree_skb qdisc reasons (6.x); kprobe: __dev_queue_xmit drops (older)" },
  },
  caveats = function()
    return #qdisc_reasons() > 0 and {} or { "no qdisc drop reasons (Linux 6.x): --variant kprobe counts __dev_queue_xmit drops" }
  end,
  check_variants = { { "--variant", "kprobe" }, { "--dev", "eth0", "--proto", "udp" } },
  filter = true,
  program = program,
  prepare = prepare,
  collect = collect,
  render = render,
}
