-- events: the stream of a details tool. Events from the program's perf
-- or ring buffer are decoded and printed (or written as JSON lines) as
-- they arrive, and the stream keeps the counts an operator needs to trust
-- it: events shown, events the budget suppressed in the kernel, events
-- the buffer lost because user space fell behind.
local budget = require "vns.budget"
local core = require "vns.core"
local kernel = require "vns.kernel"
local output = require "vns.output"
local template = require "vns.template"

local M = {}

-- ---- the buffer: ring or perf, and its size ----------------------------------

M.MAX_PAGES = 16384     -- 64 MiB: the most a tool asks for unless --buffer-pages says
local MIN_PAGES = 16
-- Seconds of events at the budget's rate the buffer holds: a whole one,
-- as the budget admits a second's events at once when the second starts
-- (half a second lost 180 of a burst of 1552 skb-trace events at 1000/s).
local HEADROOM_S = 1
local RECORD_BYTES = 256 -- an event and its header, when the tool does not say

function M.option()
  return { name = "buffer-pages", type = "integer", min = 1, max = 1 << 20, metavar = "N",
           help = "event buffer size in 4 KiB pages (rounded up to a power of two; per CPU for perf buffers); "
                  .. "default: from the event size and --max-events-per-sec" }
end

local ring_ok
-- Ring buffers where the kernel has them (5.8+): one buffer for all CPUs,
-- in order, and the reader woken only when it has caught up.
-- VNS_EVENTS_BUFFER=perf takes perf buffers anyway (tests and benches of
-- the older kernels' path). Compiling for another kernel (vnetscope
-- compile --kernel-release) goes by its version.
function M.have_ring()
  if ring_ok == nil then
    if os.getenv("VNS_EVENTS_BUFFER") == "perf" then
      ring_ok = false
    elseif kernel.is_target() then
      local major, minor = kernel.version()
      ring_ok = major > 5 or (major == 5 and minor >= 8)
    else
      ring_ok = core.have_ringbuf()
    end
  end
  return ring_ok
end

local function pow2(n)
  local p = 1
  while p < n do p = p * 2 end
  return p
end

-- How a run's events travel: {ring = bool, pages = n (the ring's, or each
-- CPU's perf buffer's), wakeup = perf records per wakeup}. A pure
-- function of the options, so the program (events.code) and the reader
-- (events.open) agree.
function M.layout(opts, record_bytes)
  local ring = M.have_ring()
  local rate = opts.max_events_per_sec or budget.DEFAULT
  local pages = opts.buffer_pages
  if not pages then
    local bytes = rate * (record_bytes or RECORD_BYTES) * HEADROOM_S
    pages = math.max(MIN_PAGES, math.min(M.MAX_PAGES, math.ceil(bytes / 4096)))
    if not ring then pages = math.max(MIN_PAGES, pages // core.ncpus()) end
  end
  -- Perf buffers wake the reader per record at low rates (lines appear
  -- at once) and per batch at high ones (the poll timeout reads the rest).
  local wakeup = (not ring and rate > 10000) and 64 or 1
  return { ring = ring, pages = pow2(pages), wakeup = wakeup }
end

-- The C declaring a details tool's event output `name` (for a template
-- placeholder after the includes), and the statement sending `ev` (a
-- struct variable) from ctx. What does not fit is counted in
-- vns_events_lost by the program itself, for both kinds: a perf buffer's
-- own lost records reach the reader only with a later event, so the
-- losses at the end of a burst would go unseen.
function M.code(opts, name, record_bytes)
  assert(template.is_ident(name), "events.code: the map name must be a C identifier")
  local l = M.layout(opts, record_bytes)
  local decl = l.ring and string.format("BPF_RINGBUF_OUTPUT(%s, %d);", name, l.pages)
               or string.format("BPF_PERF_OUTPUT(%s);", name)
  return template.code(decl .. [[

BPF_PERCPU_ARRAY(vns_events_lost, u64, 1);
static __always_inline void vns_events_lost_one(void)
{
  int zero = 0;
  u64 *n = vns_events_lost.lookup(&zero);
  if (n)
    (*n)++;
}]])
end

function M.submit(opts, name, ctx, ev)
  assert(template.is_ident(name) and template.is_ident(ctx) and template.is_ident(ev), "events.submit: identifiers only")
  if M.layout(opts).ring then
    return template.code(string.format("if (%s.ringbuf_output(&%s, sizeof(%s), 0)) vns_events_lost_one();", name, ev, ev))
  end
  return template.code(string.format("if (%s.perf_submit(%s, &%s, sizeof(%s))) vns_events_lost_one();", name, ctx, ev, ev))
end

local wall_offset

-- A bpf_ktime_get_ns() time (CLOCK_MONOTONIC, ns) as wall-clock seconds:
-- one offset, taken at the first event.
function M.wall_time(ns)
  wall_offset = wall_offset or core.walltime() - core.monotime() / 1e9
  return wall_offset + ns / 1e9
end

-- ---- the fast path: rows written by C (engine/lemit.c) ---------------------

-- A wall-clock offset for bpf_ktime_get_ns() times, in ns.
local function wall_offset_ns()
  return math.floor(core.walltime() * 1e9) - core.monotime()
end

-- def.row (docs/events.md) as the engine's emit spec.
local function emit_spec(run, row)
  local cols, hooks, text = {}, {}, {}
  for _, f in ipairs(row.fields or {}) do
    if type(f) == "string" then f = { f } end
    cols[#cols + 1] = { key = f[1], field = f[2] or f[1], as = f.wall_time and "walltime" or f.hex and "hex" or nil,
                        omit_empty = f.omit_empty }
  end
  for _, h in ipairs(row.hooks or {}) do
    local decode = h.decode
    hooks[#hooks + 1] = { fields = h.fields, cache = h.cache ~= false, fn = function(ev) return decode(run, ev) end }
  end
  for _, c in ipairs(row.columns or {}) do
    text[#text + 1] = { key = c[2], width = c[3] or #c[1], right = c.right, gap = c.gap }
  end
  return { json = run.opts.format == "json", fd = 1, wall_offset_ns = wall_offset_ns(),
           cols = cols, hooks = hooks, text = text, lines = row.lines }
end

-- The header line of def.row.columns, in the widths the rows use.
function M.header(row, out)
  local cells, n = {}, #row.columns
  for i, c in ipairs(row.columns) do
    local w = c[3] or #c[1]
    cells[i] = i == n and c[1] or (string.format(c.right and "%" .. w .. "s" or "%-" .. w .. "s", c[1])
                                   .. string.rep(" ", c.gap or 1))
  end
  out:write(table.concat(cells), "\n")
end

local Stream = {}
Stream.__index = Stream

-- def.events names the map of events.code (or a BPF_PERF_OUTPUT, or with
-- def.ring a BPF_RINGBUF_OUTPUT). The fast path: def.row (see
-- docs/events.md). Otherwise def.decode(run, event) returns a row, or nil
-- to skip the event, and def.print(run, row, out) writes it as text.
function M.open(run, def)
  local s = setmetatable({ run = run, shown = 0, last = { events = 0, suppressed = 0, lost = 0 } }, Stream)
  local mod = run.program.mod
  local ring, opts = def.ring, { pages = def.pages }
  -- A program made with events.code: its buffer is of events.layout's
  -- kind and size, and it counts its own losses.
  for _, name in ipairs(mod:tables()) do
    if name == "vns_events_lost" then
      local l = M.layout(run.opts, def.row and def.row.record_bytes)
      ring, opts = l.ring, { pages = l.pages, wakeup = l.wakeup }
      s.lost_map = run.program:table("vns_events_lost")
    end
  end
  if def.row then
    opts.emit = emit_spec(run, def.row)
    s.fast = true
    -- Lines written by Lua (the header) go out before the engine's.
    io.stdout:flush()
    s.buf = ring and mod:ring_buffer(def.events, nil, opts) or mod:perf_buffer(def.events, nil, opts)
    return s
  end
  local json = run.opts.format == "json"
  local function on_event(event)
    local row = def.decode(run, event)
    if row == nil then return end
    s.shown = s.shown + 1
    if json then
      row.type = row.type or "event"
      io.stdout:write(output.json(row), "\n")  -- flushed after each poll
    else
      def.print(run, row, io.stdout)
    end
  end
  s.buf = ring and mod:ring_buffer(def.events, on_event, opts)
          or mod:perf_buffer(def.events, on_event, opts)
  return s
end

-- The fast path's programs count their losses (events.code); others'
-- perf buffers report theirs to the reader.
local function lost(s)
  if not s.lost_map then return s.buf:lost() end
  local n = 0
  for _, v in ipairs(s.lost_map:lookup(0) or {}) do n = n + v end
  return n
end

function Stream:totals()
  local shown = self.fast and self.buf:emitted() or self.shown
  return { events = shown, suppressed = budget.suppressed(self.run.program), lost = lost(self) }
end

-- The counts of the interval since the last call; with final, the totals.
function Stream:counts(final)
  local now = self:totals()
  local out = now
  if not final then
    out = {}
    for k, v in pairs(now) do out[k] = v - self.last[k] end
  end
  self.last = now
  return out
end

-- Text: a line when anything was suppressed or lost, and always at exit.
function M.render(run, counts, out, final)
  local budget_note = counts.suppressed > 0
    and string.format(" (over --max-events-per-sec %d)", run.opts.max_events_per_sec) or ""
  if final then
    out:write(string.format("\nTotal since start: %d events, %d suppressed%s, %d lost\n",
                            counts.events, counts.suppressed, budget_note, counts.lost))
  elseif counts.suppressed > 0 or counts.lost > 0 then
    out:write(string.format("%s  %d events, %d suppressed%s, %d lost\n", output.timestamp(),
                            counts.events, counts.suppressed, budget_note, counts.lost))
  end
end

return M
