-- events: the stream of a details tool. Events from the program's perf
-- or ring buffer are decoded and printed (or written as JSON lines) as
-- they arrive, and the stream keeps the counts an operator needs to trust
-- it: events shown, events the budget suppressed in the kernel, events
-- the buffer lost because user space fell behind.
local budget = require "vns.budget"
local core = require "vns.core"
local output = require "vns.output"

local M = {}

local wall_offset

-- A bpf_ktime_get_ns() time (CLOCK_MONOTONIC, ns) as wall-clock seconds:
-- one offset, taken at the first event.
function M.wall_time(ns)
  wall_offset = wall_offset or core.walltime() - core.monotime() / 1e9
  return wall_offset + ns / 1e9
end

local Stream = {}
Stream.__index = Stream

-- def.events names the BPF_PERF_OUTPUT (or, with def.ring, the
-- BPF_RINGBUF_OUTPUT) map; def.decode(run, event) returns a row, or nil
-- to skip the event; def.print(run, row, out) writes the row as text.
function M.open(run, def)
  local s = setmetatable({ run = run, shown = 0, last = { events = 0, suppressed = 0, lost = 0 } }, Stream)
  local json = run.opts.format == "json"
  local function on_event(event)
    local row = def.decode(run, event)
    if row == nil then return end
    s.shown = s.shown + 1
    if json then
      row.type = row.type or "event"
      output.json_line(io.stdout, row)
    else
      def.print(run, row, io.stdout)
    end
  end
  local mod = run.program.mod
  s.buf = def.ring and mod:ring_buffer(def.events, on_event)
          or mod:perf_buffer(def.events, on_event, { pages = def.pages })
  return s
end

function Stream:totals()
  return { events = self.shown, suppressed = budget.suppressed(self.run.program), lost = self.buf:lost() }
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
