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
local devwatch = require "vns.devwatch"
local events = require "vns.events"
local filter = require "vns.filter"
local listen = require "vns.listen"
local options = require "vns.options"
local output = require "vns.output"
local program = require "vns.program"
local prometheus = require "vns.prometheus"
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
  local listen_option = self.kind == "summary" and listen.option() or {}
  return options.flatten({ flow_options, self.options or {}, options.common(defaults, self.kind), budget_option,
                           listen_option })
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

-- --listen: an interval's report goes to the metrics store, every row of
-- it (the store bounds the series, not --top).
local function count_metrics(self, run)
  local top = run.opts.top
  if top then run.opts.top = math.maxinteger end
  local data = self.collect(run, false)
  run.opts.top = top
  if data ~= nil then run.metrics:add(data) end
end

-- One report: the summary (when the tool keeps one), then the counts of
-- the event stream.
local function emit(self, run, final)
  if run.metrics and not final then return count_metrics(self, run) end
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

-- Wait until the next report is due; events are delivered meanwhile,
-- and scrapes answered (serve, after each poll).
local function wait_until(deadline_ns, serve)
  while not core.interrupted() do
    local left_ns = deadline_ns - core.monotime()
    if left_ns <= 0 then return end
    io.stdout:flush()  -- Lua's lines before the engine's (the fast path writes its own)
    core.poll(math.min((left_ns + 999999) // 1000000, POLL_MAX_MS))
    io.stdout:flush()
    if serve then serve() end
  end
end

-- Report every --interval until --duration or a stop signal, for each
-- of runs (one tool's, or vnetscope serve's several); opts gives the
-- interval and duration.
function M.loop(runs, opts, serve)
  local started = runs[1].started
  local stop_at = opts.duration and started + math.floor(opts.duration * 1e9)
  local next_report = started
  while not core.interrupted() do
    next_report = next_report + math.floor(opts.interval * 1e9)
    local due = stop_at and math.min(next_report, stop_at) or next_report
    wait_until(due, serve)
    if core.interrupted() then break end
    -- The last (maybe partial) interval still gets its own report.
    for _, run in ipairs(runs) do
      emit(run.tool, run, false)
      if run.devwatch then run.devwatch:check() end
    end
    if stop_at and core.monotime() >= stop_at then break end
  end
end

function Tool:loop(run)
  run.tool = run.tool or self
  M.loop({ run }, run.opts)
end

-- --listen: a scrape first counts what the maps hold now, so it is
-- current to the moment.
function M.scraper(runs)
  return function()
    local stores = {}
    for i, run in ipairs(runs) do
      emit(run.tool, run, false)
      stores[i] = run.metrics
    end
    return prometheus.text(stores)
  end
end

-- Compile, load and attach for options opts (parsed); prints the
-- tool's first lines. Returns the run, or nil when stopped meanwhile.
function Tool:start(opts, text, flow_filter)
  cache.configure(opts)
  local prog = program.compile(text, { about = self.name })
  if core.interrupted() then
    prog:close()
    return nil
  end
  local run = { tool = self, opts = opts, program = prog, reports = 0, filter = flow_filter,
                metrics = (opts.listen or opts.serving) and prometheus.store(self.name, { max_series = opts.top }) or nil }
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
    -- (A tool whose events need --details has none without it.)
    elseif self.row and self.row.columns and opts.details ~= false then events.header(self.row, io.stdout) end
    io.stdout:flush()
  end
  run.devwatch = devwatch.new(self:specs(), opts)
  return run
end

-- Detach, deliver what the buffers still hold, print the final report.
function Tool:finish(run)
  run.program:close()
  core.poll(0)
  emit(self, run, true)
  local skipped = run.program:skipped()
  if skipped > 0 then
    io.stderr:write(string.format("vnetscope: the kernel skipped this tool's programs %d times (a probe hit while the " ..
      "same program ran on that CPU, as when an interrupt's packet comes during one): counts may lack up to %d events\n",
      skipped, skipped))
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
  -- Bound before compiling: a port in use fails at once.
  local server <close> = opts.listen and listen.open(opts.listen) or nil
  local run = self:start(opts, text, flow_filter)
  if not run then return 130 end
  local prog <close> = run.program
  local serve
  if server then
    -- After the Tracing line; JSON output keeps stdout for JSON.
    local say = opts.format == "text" and io.stdout or io.stderr
    say:write("Serving metrics at ", server.url, "\n")
    say:flush()
    local scrape = M.scraper({ run })
    serve = function() server:serve(scrape) end
  end
  M.loop({ run }, opts, serve)
  if core.interrupted() then io.stderr:write("Detaching...\n") end
  self:finish(run)
  return 0
end

return M
