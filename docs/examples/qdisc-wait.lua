-- qdisc-wait.lua: how long do packets wait between entering a device's
-- transmit path (net:net_dev_queue, before the qdisc) and being handed to
-- the driver (net:net_dev_start_xmit)? A log2 histogram per device, for
-- the packets your flow options select; the waits of each interval, and
-- the totals at exit.
--
--   vnetscope run qdisc-wait.lua --dst-ip 10.0.0.2 --proto tcp --dst-port 443
--   vnetscope run qdisc-wait.lua --dev eth0 --threshold 1ms --unit ms -i 5
--   vnetscope run qdisc-wait.lua --filter 'udp and not port 53' --format json
--   vnetscope run qdisc-wait.lua --dst-port 443 --emit-c   # the generated C
--   vnetscope check qdisc-wait.lua                         # verifier-load only
local ctxfilter = require "vns.ctxfilter"
local filter = require "vns.filter"
local hist = require "vns.hist"
local net = require "vns.net"
local output = require "vns.output"
local template = require "vns.template"
local tool = require "vns.tool"

-- The BPF program. {{ NAME }} placeholders take only typed values
-- (template.int, template.code, what vns.filter and vns.ctxfilter return).
local C = [[
#include <vns/dev.h>
#include <vns/flow.h>
#include <vns/hist.h>

struct hist_key { char dev[16]; u32 slot; u32 pad; };
struct dev_key { char dev[16]; };

/* skb address -> when it was queued; LRU: a packet the qdisc drops
 * never reaches the driver, and its entry must not stay forever. */
BPF_TABLE("lru_hash", u64, u64, queued, 10240);
BPF_HASH(hist, struct hist_key, u64, 4096);
BPF_PERCPU_HASH(stats, struct dev_key, struct vns_stats, 256);
{{ FILTER_MAPS }}

TRACEPOINT_PROBE(net, net_dev_queue)
{
  struct sk_buff *skb = (struct sk_buff *)args->skbaddr;
  if (!({{ DEV_FILTER }}))
    return 0;
{{ FLOW_FILTER }}
  u64 key = (u64)skb, now = bpf_ktime_get_ns();
  queued.update(&key, &now);
  return 0;
}

TRACEPOINT_PROBE(net, net_dev_start_xmit)
{
  u64 key = (u64)args->skbaddr;
  u64 *ts = queued.lookup(&key);
  if (!ts)
    return 0;
  u64 delta_ns = bpf_ktime_get_ns() - *ts;
  queued.delete(&key);
  if (!({{ THRESHOLD }}))
    return 0;
  struct dev_key dk = {};
  vns_skb_devname((struct sk_buff *)args->skbaddr, dk.dev);
  struct hist_key hk = { .slot = vns_log2_slot(delta_ns / {{ UNIT_NS }}) };
  __builtin_memcpy(hk.dev, dk.dev, 16);
  hist.increment(hk);
  struct vns_stats zero = {}, *st = stats.lookup_or_try_init(&dk, &zero);
  if (st)
    vns_stats_add(st, delta_ns);
  return 0;
}
]]

local function program(opts)
  local f = filter.compile(opts)
  return template.render(C, {
    FILTER_MAPS = f.decls,
    FLOW_FILTER = f.guard,               -- parse the flow, return unless it matches
    DEV_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev_skb = "skb" }).expr,
    THRESHOLD = ctxfilter.compile({ threshold = opts.threshold }, { delta = "delta_ns" }).expr,
    UNIT_NS = hist.divisor(opts.unit),
  })
end

-- Read and clear the maps: one histogram per device for this interval,
-- added to the totals since start. At exit (final) report the totals.
local function collect(run, final)
  run.total = run.total or {}
  local now = {}
  local function of(t, dev)
    t[dev] = t[dev] or hist.log2 { unit = run.opts.unit }
    return t[dev]
  end
  for _, e in ipairs(run.program:table("hist"):drain()) do
    of(now, e[1].dev):add(e[1].slot, e[2])
    of(run.total, e[1].dev):add(e[1].slot, e[2])
  end
  for _, e in ipairs(run.program:table("stats"):drain()) do
    local s = hist.merge_stats(e[2])
    of(now, e[1].dev):set_stats(s)
    local t = of(run.total, e[1].dev)
    t:set_stats(hist.merge_stats({ s, t.stats }))
  end
  run.shown = final and run.total or now
  run.devs = {}
  for dev in pairs(run.shown) do run.devs[#run.devs + 1] = dev end
  table.sort(run.devs)
  local histograms = output.array()
  for _, dev in ipairs(run.devs) do
    local s = run.shown[dev]:summary()
    s.dev = dev
    histograms[#histograms + 1] = s
  end
  return { type = final and "total" or "interval", histograms = histograms }
end

local function render(run, data, out, final)
  out:write(final and "\nTotal since start\n" or ("\n" .. output.timestamp() .. "\n"))
  if #run.devs == 0 then out:write("(no packets)\n") end
  for _, dev in ipairs(run.devs) do
    out:write("\ndev = ", dev, "\n")
    run.shown[dev]:render(out)
  end
end

return tool.summary {
  name = "qdisc-wait",
  about = "Time from the qdisc to the driver, per device",
  options = {
    filter.options(),                      -- --src-ip ... --proto, --filter
    net.options({ "dev", "threshold" }),
    hist.unit_option("us"),
  },
  -- vnetscope check loads the program as built with no options, and with these.
  check_variants = { { "--proto", "udp", "--port", "53", "--dev", "eth0", "--threshold", "1ms" } },
  program = program,
  -- More than 16 values in one list (e.g. --dst-ip with 50 addresses) go to
  -- a map: fill it after compiling, before attaching.
  prepare = function(run) filter.fill(run.program, filter.compile(run.opts)) end,
  collect = collect,
  render = render,
}
