-- sojourn: how long packets stay in a qdisc (enqueue -> dequeue), the
-- stage kit (vns.stages) that qdisc-latency and qdisc-latency-details
-- share. One session per packet, keyed by its skb:
--
--   enqueue  qdisc:qdisc_enqueue (5.15+: fires once the qdisc took the
--            packet), or net:net_dev_queue (4.14+: before the qdisc;
--            --variant queue on older kernels)
--   dequeue  qdisc:qdisc_dequeue (4.14+). It reports the head of what
--            one dequeue took: a bulk dequeue (try_bulk_dequeue_skb)
--            chains up to `packets` skbs through skb->next, all leaving
--            the qdisc at that moment. The stage walks the chain and
--            closes each packet's session. The walk is unrolled (4.19
--            has no loops) and a program there holds 4096 instructions:
--            at most BULK_MAX packets, and for details (whose event code
--            is repeated as often) BULK_MAX_EVENTS before 5.2, whose
--            verifier took programs of 1M instructions. The rest are
--            counted as not walked and never complete. A slow-path bulk
--            (multiqueue devices) is at most 9 packets; a BQL bulk is
--            bounded by bytes.
--   ends     skb:kfree_skb: a packet freed while queued was dropped by
--            the qdisc (tail/head drop, AQM, reset): its session ends,
--            counted as dropped. With net_dev_queue, net:net_dev_start_xmit
--            ends the session of a packet that reached the driver
--            without a dequeue (a noqueue device, or the qdisc bypass
--            for an empty queue): counted as bypassed.
-- A requeued packet (the driver was busy) is dequeued again; only its
-- first dequeue closes its session (tc -s counts requeues).
local errors = require "vns.errors"
local kernel = require "vns.kernel"
local stages = require "vns.stages"
local template = require "vns.template"

local M = {}

M.BULK_MAX = 12
M.BULK_MAX_EVENTS = 3

local function bulk_max(events)
  local major, minor = kernel.version()
  if not events or major > 5 or (major == 5 and minor >= 2) then return M.BULK_MAX end
  return M.BULK_MAX_EVENTS
end

M.PROBES = { "tracepoint:qdisc:qdisc_enqueue", "tracepoint:qdisc:qdisc_dequeue", "tracepoint:net:net_dev_queue",
             "tracepoint:net:net_dev_start_xmit", "tracepoint:skb:kfree_skb" }

M.OPTION = { name = "variant", type = "choice", values = { "auto", "enqueue", "queue" }, default = "auto",
             help = "enqueue: qdisc:qdisc_enqueue (5.15+); queue: net:net_dev_queue (older kernels)" }

function M.variant(opts)
  if opts.variant ~= "auto" then return opts.variant end
  return kernel.has_tracepoint("qdisc", "qdisc_enqueue") and "enqueue" or "queue"
end

function M.caveats()
  if kernel.has_tracepoint("qdisc", "qdisc_enqueue") then return {} end
  return { "no qdisc:qdisc_enqueue (5.15+): sessions start at net:net_dev_queue, before the qdisc; "
           .. "packets the qdisc refuses count as dropped, packets that skip it as bypassed" }
end

local function kit_of(variant, events)
  local ends = { { name = "dropped", probe = "tracepoint:skb:kfree_skb" } }
  local enqueue = "tracepoint:qdisc:qdisc_enqueue"
  if variant == "queue" then
    enqueue = "tracepoint:net:net_dev_queue"
    ends[2] = { name = "bypassed", probe = "tracepoint:net:net_dev_start_xmit" }
  end
  return stages.new {
    stages = {
      { name = "enqueue", probe = enqueue },
      { name = "dequeue", probe = "tracepoint:qdisc:qdisc_dequeue",
        list = { count = template.code("args->packets"), max = bulk_max(events) } },
    },
    ends = ends,
    by = "dev",
    events = events,
    histograms = true,
  }
end

local kits = {}

-- The kit for these options (cached: collect and decode use the one
-- program made).
function M.kit(opts, events)
  local variant = M.variant(opts)
  if not kernel.has_tracepoint("qdisc", "qdisc_dequeue") then
    errors.unsupported("qdisc latency needs the qdisc:qdisc_dequeue tracepoint (Linux 4.14+)")
  end
  if variant == "enqueue" and not kernel.has_tracepoint("qdisc", "qdisc_enqueue") then
    errors.unsupported("option --variant enqueue needs the qdisc:qdisc_enqueue tracepoint (Linux 5.15+); use --variant queue")
  end
  local id = variant .. (events and "+events" or "")
  kits[id] = kits[id] or kit_of(variant, events)
  return kits[id]
end

return M
