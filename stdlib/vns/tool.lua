-- tool: the loop every shipped tool shares, so a tool script only says
-- what differs: its options, its program, and how to report.
--
--   return tool.summary {
--     name = "drop-summary", about = "...", aliases = {...}, examples = {...},
--     options = { ... },                      -- besides options.common()
--     filter = true,                          -- optional: the flow options (below)
--     program = function(opts, f) return c_text end,
--     prepare = function(run) end,            -- optional, before attach (fill maps)
--     setup = function(run) end,              -- optional, after attach
--     collect = function(run, final) return data end,  -- read maps
--     render = function(run, data, out, final) end,    -- text output
--   }
--
-- or, for one counting map shown as a table, instead of collect/render:
--     counts = { map = "counts", row = function(run, key) return row end,
--                columns = { { "COUNT", "count" }, ... }, what = "drops" },
-- (vns.report).
--
-- `summary` tools report every interval and once more at exit. `details`
-- tools stream events as they come (vns.events) and have the event
-- budget --max-events-per-sec (vns.budget); they say
--
--     events = "events",                        -- the map of events.code (or a perf/ring buffer)
--     row = { fields = ..., hooks = ..., columns = ... },  -- the fast path (docs/events.md)
--     header = function(run, out) end,          -- optional, once before events
--
-- or, slower (a Lua table, Lua formatting per event), instead of row:
--     decode = function(run, event) return row end,  -- nil skips the event
--     print = function(run, row, out) end,      -- one event as text
--
-- and may also collect/render a summary. A tool that filters packets by
-- flow says `filter = true` (or a table: `names`, the flow options to
-- offer, default all with --filter; `arp` and the other vns.filter.compile
-- settings): the loop adds those options, compiles them once, hands the
-- compiled filter to program(opts, f) and fills its map-backed sets
-- before anything is attached. JSON output is one object per
-- line: events as `row` with type "event", reports as `data` with time
-- fields added, and for details tools a "stats" object every interval.
local budget = require "vns.budget"
local cache = require "vns.cache"
local core = require "vns.core"
local events = require "vns.events"
local filter = require "vns.filter"
local options = require "vns.options"
local output = require "vns.output"
local program = require "vns.program"
local report = require "vns.report"
local tooldef = require "vns.tooldef"

local Tool = {}
Tool.__index = Tool

local M = {}

local function new(kind, def)
  tooldef.check(def, kind)
  def.kind = def.kind or kind
  if def.counts and not def.collect then
    def.collect, def.render = report.simple(def.counts)
  end
  return setmetatable(def, Tool)
end

function M.summary(def) return new("summary", def) end
function M.details(def) return new("details", def) end

-- The filter settings of a tool: nil, or {names, cfg for filter.compile}.
local function filter_def(self)
  if not self.filter then return nil end
  local cfg, names = {}, nil
  for k, v in pairs(type(self.filter) == "table" and self.filter or {}) do
    if k == "names" then names = v else cfg[k] = v end
  end
  return names, cfg
end

function Tool:specs()
  local defaults = self.defaults or {}
  local budget_option = self.kind == "details" and { budget.option(defaults.max_events_per_sec), events.option() } or {}
  local flow_options = self.filter and filter.options((filter_def(self))) or {}
  return options.flatten({ flow_options, self.options or {}, options.common(defaults, self.kind), budget_option })
end

-- The program's C text, and the compiled flow filter (nil without one).
function Tool:generate(opts)
  local f
  if self.filter then
    local _, cfg = filter_def(self)
    f = filter.compile(opts, cfg)
  end
  return self.program(opts, f), f
end

-- Compile and load every program without attaching (vnetscope check).
function Tool:check(argv)
  local opts = options.parse(self:specs(), argv or {})
  local prog = program.compile(self:generate(opts), { about = self.name })
  local results = {}
  for _, p in ipairs(prog:load_all()) do
    local info = p.prog:info() or {}
    results[#results + 1] = { fn = p.fn, kind = p.kind, insns = info.insns,
                              verified = info.verified_insns, prog = p.prog }
  end
  return results, prog
end

local function write(run, data, render, final)
  if run.opts.format == "json" then
    data.time = os.date("!%Y-%m-%dT%H:%M:%SZ")
    data.elapsed_s = (core.monotime() - run.started) / 1e9
    data.final = final or nil
    output.json_line(io.stdout, data)
  else
    render(run, data, io.stdout, final)
    io.stdout:flush()
  end
end

-- One report: the summary (when the tool keeps one), then the counts of
-- the event stream.
local function emit(self, run, final)
  local data = self.collect and self.collect(run, final)
  if data ~= nil then
    run.reports = run.reports + 1
    write(run, data, self.render, final)
  end
  if run.stream then
    local counts = run.stream:counts(final)
    counts.type = "stats"
    write(run, counts, events.render, final)
  end
end

-- The longest wait in one poll: perf buffers that wake the reader per
-- batch (events.layout) still show a quiet stream's last events this soon.
local POLL_MAX_MS = 200

-- Wait until the next report is due; events are delivered meanwhile.
local function wait_until(deadline_ns)
  while not core.interrupted() do
    local left_ns = deadline_ns - core.monotime()
    if left_ns <= 0 then return end
    io.stdout:flush()  -- Lua's lines before the engine's (the fast path writes its own)
    core.poll(math.min((left_ns + 999999) // 1000000, POLL_MAX_MS))
    io.stdout:flush()
  end
end

function Tool:loop(run)
  local opts = run.opts
  local stop_at = opts.duration and run.started + math.floor(opts.duration * 1e9)
  local next_report = run.started
  while not core.interrupted() do
    next_report = next_report + math.floor(opts.interval * 1e9)
    local due = stop_at and math.min(next_report, stop_at) or next_report
    wait_until(due)
    if core.interrupted() then break end
    -- The last (maybe partial) interval still gets its own report.
    emit(self, run, false)
    if stop_at and core.monotime() >= stop_at then break end
  end
end

function Tool:run(argv)
  local specs = self:specs()
  local opts = options.parse(specs, argv)
  if opts.help then
    io.write(options.help(self, specs))
    return 0
  end
  -- Tools read tracepoint formats (tracefs) to generate: privilege first.
  program.require_privilege()
  local text, flow_filter = self:generate(opts)
  if opts.emit_c then
    io.write(text)
    return 0
  end
  cache.configure(opts)
  local prog <close> = program.compile(text, { about = self.name })
  if core.interrupted() then return 130 end
  local run = { tool = self, opts = opts, program = prog, reports = 0, filter = flow_filter }
  -- Large address/port sets live in maps: filled before attaching, so
  -- the filter is whole from the first packet.
  if flow_filter then filter.fill(prog, flow_filter) end
  if self.prepare then self.prepare(run) end
  -- Buffers open before attach: an event sent before has nowhere to go
  -- and would not even count as lost.
  if self.kind == "details" then run.stream = events.open(run, self) end
  prog:attach_all()
  run.started = core.monotime()
  if self.setup then self.setup(run) end
  if opts.format == "text" then
    print(self.tracing or ("Tracing " .. self.about:gsub("^%u", string.lower) .. "... Hit Ctrl-C to end."))
    if self.header then self.header(run, io.stdout)
    elseif self.row and self.row.columns then events.header(self.row, io.stdout) end
  end
  self:loop(run)
  if core.interrupted() then io.stderr:write("Detaching...\n") end
  prog:close()
  core.poll(0)  -- deliver what the buffers still hold
  emit(self, run, true)
  return 0
end

return M
