-- vns.events: the buffer's kind and size (events.layout), the C of
-- events.code / events.submit, and the --buffer-pages option.
local core = require "vns.core"
local events = require "vns.events"
local options = require "vns.options"
local h = require "helpers"
local eq, has, usage_err = h.eq, h.has, h.usage_err

local T = {}

-- Run f with the kernel's ring buffer support said to be `ring`.
local function with_ring(ring, f)
  local saved = events.have_ring
  events.have_ring = function() return ring end
  local ok, err = pcall(f)
  events.have_ring = saved
  if not ok then error(err, 0) end
end

function T.ring_sized_from_rate_and_event()
  with_ring(true, function()
    -- 1000/s x 256 B x 1 s = 250 KiB: 63 pages, a power of two up.
    eq(events.layout({ max_events_per_sec = 1000 }), { ring = true, pages = 64, wakeup = 1 })
    eq(events.layout({ max_events_per_sec = 10 }).pages, 16)            -- at least 16
    eq(events.layout({ max_events_per_sec = 100000 }, 128).pages, 4096) -- 12.2 MiB
    eq(events.layout({ max_events_per_sec = 10000000 }).pages, events.MAX_PAGES)
    eq(events.layout({ max_events_per_sec = 1000, buffer_pages = 3 }).pages, 4)
  end)
end

function T.perf_buffers_share_the_size_and_batch_wakeups_at_high_rates()
  with_ring(false, function()
    local l = events.layout({ max_events_per_sec = 100000 }, 128)
    eq(l.ring, false)
    local per_cpu = math.max(16, math.ceil(100000 * 128 / 4096) // core.ncpus())
    local p = 1
    while p < per_cpu do p = p * 2 end
    eq(l.pages, p)
    eq(l.wakeup, 64)
    eq(events.layout({ max_events_per_sec = 1000 }).wakeup, 1)
  end)
end

function T.code_and_submit()
  with_ring(true, function()
    local opts = { max_events_per_sec = 1000 }
    has(events.code(opts, "events").text, "BPF_RINGBUF_OUTPUT(events, 64);")
    has(events.code(opts, "events").text, "BPF_PERCPU_ARRAY(vns_events_lost, u64, 1);")
    eq(events.submit(opts, "events", "ctx", "ev").text,
       "if (events.ringbuf_output(&ev, sizeof(ev), 0)) vns_events_lost_one();")
  end)
  with_ring(false, function()
    local opts = { max_events_per_sec = 1000 }
    has(events.code(opts, "events").text, "BPF_PERF_OUTPUT(events);")
    eq(events.submit(opts, "events", "args", "key").text,
       "if (events.perf_submit(args, &key, sizeof(key))) vns_events_lost_one();")
  end)
  eq(pcall(events.submit, {}, "events", "ctx; x", "ev"), false)
end

function T.buffer_pages_option()
  local specs = { events.option() }
  eq(options.parse(specs, { "--buffer-pages", "8" }).buffer_pages, 8)
  eq(options.parse(specs, {}).buffer_pages, nil)
  for _, bad in ipairs({ "0", "-1", "x" }) do
    usage_err("option --buffer-pages: '", options.parse, specs, { "--buffer-pages", bad })
  end
end

return T
