-- stages: the stage-timing kit. Declare the probe points a packet (or
-- another u64 key) passes, in order; the kit generates the BPF program
-- (bpf-templates/fragments/stages.c plus one thin entry and one worker
-- per stage), reads its maps back and reports:
--
--   local kit = stages.new {
--     stages = {
--       { name = "queue", probe = "tracepoint:net:net_dev_queue" },
--       { name = "xmit", probe = "tracepoint:net:net_dev_start_xmit" },
--     },
--     by = "dev",              -- label the histograms by the device at stage 1
--     events = false,          -- true: one event per session (details tools)
--   }
--   return kit:summary { name = ..., about = ..., options = ..., filter = true }
--
-- (kit:summary and kit:details make the tool: the kit's program, its
-- collect/render or its events and decode; or use kit:program,
-- kit:collect, kit:render, kit:decode in a tool of your own).
--
-- A stage is { name, probe, skb, key, cond, filter }:
--   probe   "tracepoint:CAT:NAME", "raw_tracepoint:NAME", "kprobe:FN",
--           "kretprobe:FN"; or a list of them, any of which is the stage
--           (ip_output and ip6_output: one entry each, one worker); each
--           probe once per kit
--   skb     where the struct sk_buff * is: a tracepoint field name
--           (default "skbaddr"), the 1-based argument of a kprobe or raw
--           tracepoint (default 1); false for none (kretprobes have none);
--           or a table by probe kind ({ tracepoint = "skbaddr", kprobe = 2 })
--           for a stage of probes of several kinds
--   key     the session key: "skb" (default: the skb's address),
--           "pid_tgid" (the thread; the CPU for the idle tasks, which all
--           have pid 0: vns_call_key), or template.code(C) for any other u64
--   cond    template.code(C): an extra condition, in the entry (where
--           `args` or `ctx` has its probe's type), e.g. a ctxfilter expr
--   filter  a flow filter (vns.filter.compile, each filter of a kit with
--           its own cfg.map_prefix), tested on the stage's skb
--   skip_zero_key  true: a key of 0 is no packet of this stage (a code
--           key that parses the packet, e.g. icmp-rtt's echo id/sequence):
--           the hit is ignored
--   list    { count = template.code(C), max = N }: the skb heads a list
--           (skb->next) of count packets, each a hit, e.g. a bulk
--           dequeue; at most N are walked, the rest counted as unwalked
-- and new{ends = {...}}: stages outside the path (name, probe, skb, key,
-- cond, skip_zero_key) that end a session still open for their key,
-- counted under their name (e.g. "dropped" at skb:kfree_skb), and by
-- the stage the session was last at (Kit:sessions' `lost`, shown for
-- kits of more than two stages: where on the path packets leave it).
-- def.same_head: the session keeps skb->head from the first stage, and
-- a last-stage hit whose skb has another head ends it as "reused"
-- instead of completing it: a packet freed where no end sees it (TCP's
-- pure ACKs: __kfree_skb) leaves its session open, and a new packet in
-- the reused sk_buff has a new data buffer. Only for kits keyed by the
-- skb along a path where the kernel keeps the skb's data (not for keys
-- that join two skbs, e.g. a request and its reply).
-- def.fields (with events): each stage's skb length, hash, queue
-- mapping, CPU and device go into the event (details --fields).
-- The first stage opens the session: the tool's flow filter f (unless
-- the stage has its own), and --dev, --pid and --comm apply there.
-- --threshold (opts.threshold) applies to the end-to-end time and
-- --unit (opts.unit, default us) is the histograms' unit.
local budget = require "vns.budget"
local ctxfilter = require "vns.ctxfilter"
local events = require "vns.events"
local hist = require "vns.hist"
local net = require "vns.net"
local output = require "vns.output"
local program = require "vns.program"
local template = require "vns.template"

local M = {}

M.MAX_STAGES = 8
M.SESSIONS = 10240
M.EVENTS = "vns_stages_events"   -- the perf buffer map, for tool.details{events = ...}

local COUNTERS = { "started", "completed", "restarted", "out_of_order", "unwalked" }

local Kit = {}
Kit.__index = Kit

local function ident(v, what) return template.ident(v, "stages: " .. what) end

-- Where each probe kind has the skb (vns.program.probe_point gives the
-- entry and the context's name).
local skb_of = {
  tracepoint = function(v)
    return string.format("(struct sk_buff *)args->%s", ident(v == nil and "skbaddr" or v, "skb (a tracepoint field)"))
  end,
  raw_tracepoint = function(v)
    v = v == nil and 1 or v
    assert(math.type(v) == "integer" and v >= 1 and v <= 12, "stages: skb of a raw tracepoint is its argument, 1-12")
    return string.format("(struct sk_buff *)ctx->args[%d]", v - 1)
  end,
  kprobe = function(v)
    v = v == nil and 1 or v
    assert(math.type(v) == "integer" and v >= 1 and v <= 6, "stages: skb of a kprobe is its argument, 1-6")
    return string.format("(struct sk_buff *)PT_REGS_PARM%d(ctx)", v)
  end,
  kretprobe = function() error("stages: a kretprobe has no arguments: give skb = false and a key") end,
}

local function check_point(name, probe, seen)
  assert(type(probe) == "string", "stages: stage " .. name .. " needs a probe")
  local kind = probe:match("^([%a_]+):")
  assert(skb_of[kind], "stages: stage " .. name .. ": unknown probe kind in '" .. probe .. "'")
  local point, why = program.probe_point(probe)
  assert(point, "stages: stage " .. name .. ": " .. tostring(why))
  assert(not seen[point.entry], "stages: probe " .. probe .. " is used by two stages")
  seen[point.entry] = true
  return point
end

-- The probe points of a stage, each with its skb expression (point.skb).
local function check_points(s, seen)
  local probes = type(s.probe) == "table" and s.probe or { s.probe }
  assert(#probes >= 1, "stages: stage " .. s.name .. " needs a probe")
  local points, kind = {}, nil
  for j, probe in ipairs(probes) do
    local point = check_point(s.name, probe, seen)
    assert(not kind or point.kind == kind or type(s.skb) == "table",
           "stages: stage " .. s.name .. ": probes of several kinds need skb by kind")
    kind = point.kind
    local skb = s.skb
    if type(skb) == "table" then skb = skb[point.kind] end
    if skb ~= false and not (point.kind == "kretprobe" and skb == nil) then point.skb = skb_of[point.kind](skb) end
    assert(j == 1 or (point.skb == nil) == (points[1].skb == nil),
           "stages: stage " .. s.name .. ": every probe has an skb, or none")
    points[j] = point
  end
  return points
end

local function check_stage(i, s, seen)
  assert(type(s) == "table", "stages: stage " .. i .. " is not a table")
  assert(type(s.name) == "string" and s.name:match("^[%w_.:%-]+$") and #s.name <= 32,
         "stages: stage " .. i .. " needs a name (letters, digits, _ . : -)")
  local points = check_points(s, seen)
  local st = { name = s.name, index = i - 1, points = points, point = points[1], skb = points[1].skb,
               filter = s.filter }
  local key = s.key or "skb"
  if key == "skb" then
    assert(st.skb, "stages: stage " .. s.name .. " has no skb: give it a key")
    st.key = "(u64)skb"
  elseif key == "pid_tgid" then
    st.key = "vns_call_key()"
  else
    assert(template.is_typed(key), "stages: key is \"skb\", \"pid_tgid\" or template.code(C)")
    st.key = key.text
  end
  assert(s.cond == nil or template.is_typed(s.cond), "stages: cond must be template.code(C) or a ctxfilter expr")
  st.cond = s.cond and s.cond.text
  assert(not s.filter or st.skb, "stages: stage " .. s.name .. " has a flow filter but no skb")
  st.skip_zero_key = s.skip_zero_key and true or nil
  if s.list ~= nil then
    assert(type(s.list) == "table" and template.is_typed(s.list.count) and math.type(s.list.max) == "integer"
           and s.list.max >= 1 and s.list.max <= 64 and st.skb,
           "stages: list is {count = template.code(C), max = 1-64}, on a stage with an skb")
    st.list = { count = s.list.count.text, max = s.list.max }
  end
  return st
end

-- def: stages (2..MAX_STAGES), ends, by ("dev" or nil), events (true,
-- or {flow = false} not to parse the flow into events), histograms
-- (default: not events), sessions (the LRU's size), same_head, fields.
function M.new(def)
  assert(type(def) == "table" and type(def.stages) == "table", "stages.new needs {stages = {...}}")
  local n = #def.stages
  assert(n >= 2 and n <= M.MAX_STAGES, "stages: 2 to " .. M.MAX_STAGES .. " stages")
  assert(def.by == nil or def.by == "dev", "stages: by is \"dev\" or nil")
  local kit = setmetatable({ stages = {}, by = def.by, events = def.events and true or false,
                             lru_size = def.sessions or M.SESSIONS }, Kit)
  kit.fields = kit.events and def.fields and true or false
  kit.same_head = def.same_head and true or false
  kit.flow = kit.events and not (type(def.events) == "table" and def.events.flow == false)
  if def.histograms == nil then kit.histograms = not kit.events else kit.histograms = def.histograms and true end
  assert(math.type(kit.lru_size) == "integer" and kit.lru_size > 0, "stages: sessions must be a positive integer")
  local seen = {}
  for i, s in ipairs(def.stages) do kit.stages[i] = check_stage(i, s, seen) end
  kit.ends = {}
  for i, s in ipairs(def.ends or {}) do
    local st = check_stage(i, s, seen)
    assert(not st.filter and not st.list, "stages: an end (" .. st.name .. ") has no filter or list")
    assert(st.name:match("^[%a_][%w_]*$"), "stages: an end's name is a C identifier: " .. st.name)
    st.counter = #COUNTERS + i - 1
    kit.ends[i] = st
  end
  -- A reused sk_buff seen at the last stage ends its session like an end.
  if kit.same_head then
    assert(kit.stages[n].skb, "stages: same_head needs an skb at the last stage")
    kit.ends[#kit.ends + 1] = { name = "reused", counter = #COUNTERS + #kit.ends }
  end
  -- Then, per end, a counter for each stage the session was last at.
  for i, e in ipairs(kit.ends) do e.by_stage = #COUNTERS + #kit.ends + (i - 1) * n end
  assert(not kit.by or kit.stages[1].skb, "stages: by = \"dev\" needs an skb at the first stage")
  return kit
end

-- ---- the program ------------------------------------------------------------

-- A stage: its filters as a predicate, the worker, the entry. A first-
-- stage hit that fails the filters still ends a session open for its
-- key (vns_stages_forget): the skb at that address is a new packet, and
-- must not complete the session of one that was dropped.
local WORKER = [[

/* stage {{ INDEX }}: {{ NAME }} */
static __always_inline int vns_stage_{{ INDEX }}_match(struct sk_buff *skb)
{
{{ FILTERS }}  return 1;
}

static __always_inline int vns_stage_{{ INDEX }}(void *ctx, struct sk_buff *skb, u64 key)
{
  if (!vns_stage_{{ INDEX }}_match(skb))
    return {{ MISS }};
  return {{ CALL }};
}
{{ ENTRIES }}]]

-- The entry of one probe of a stage (a stage may have several).
local ENTRY = [[

{{ HEAD }}
{
  struct sk_buff *skb = {{ SKB }};
{{ COND }}{{ CALL_ENTRY }}}
]]

-- An end: a hit for an open session closes it, counted.
local END = [[

/* end: {{ NAME }} */
{{ HEAD }}
{
  struct sk_buff *skb = {{ SKB }};
{{ COND }}{{ SKIP_ZERO }}  return vns_stages_stop(key, {{ COUNTER }}, {{ BY_STAGE }});
}
]]

-- The call of a stage's worker in its entry: with skip_zero_key, a key
-- of 0 is not this stage's packet; with a list, every skb of it (the
-- key is computed per skb).
local function entry_call(st, point)
  local call = string.format("vns_stage_%d(%s, skb, key)", st.index, point.ctx)
  local skip = st.skip_zero_key and "    if (key)\n  " or ""
  if not st.list then
    if not st.skip_zero_key then
      return string.format("  return vns_stage_%d(%s, skb, %s);\n", st.index, point.ctx, st.key)
    end
    return string.format("  u64 key = %s;\n  if (!key)\n    return 0;\n  return %s;\n", st.key, call)
  end
  return string.format([[
  int count = %s;
  if (count > %d)
    vns_stages_add(VNS_STAGES_UNWALKED, count - %d);
#pragma unroll
  for (int i = 0; i < %d; i++) {
    if (i >= count || !skb)
      break;
    u64 key = %s;
%s    %s;
    vns_read(&skb, sizeof(skb), &skb->next);
  }
  return 0;
]], st.list.count, st.list.max, st.list.max, st.list.max, st.key, skip, call)
end

local function guard(expr)
  return template.code(string.format("  if (!(%s))\n    return 0;\n", expr))
end

-- The worker and the entry of one stage.
local function stage_text(self, st, opts, f)
  local first, ctx_filter = st.index == 0, nil
  if first then
    ctx_filter = ctxfilter.compile({ pid = opts.pid, comm = opts.comm, dev = opts.dev }, { dev_skb = "skb" })
    assert(st.skb or not opts.dev, "stages: --dev needs an skb at the first stage")
  end
  local flow = st.filter or (first and f) or nil
  local call = first and "vns_stages_begin(ctx, skb, key)"
               or string.format("vns_stages_step(ctx, skb, key, %d)", st.index)
  local entries = {}
  for _, point in ipairs(st.points) do
    entries[#entries + 1] = template.render(ENTRY, {
      HEAD = template.code(point.entry),
      SKB = template.code(point.skb or "NULL"),
      COND = st.cond and guard(st.cond) or template.code(""),
      CALL_ENTRY = template.code(entry_call(st, point)),
    })
  end
  return template.render(WORKER, {
    INDEX = template.int(st.index),
    NAME = template.code(st.name),
    FILTERS = template.code((ctx_filter and ctx_filter.any and guard(ctx_filter.text).text or "")
                            .. (flow and flow.guard.text .. "\n" or "")),
    CALL = template.code(call),
    MISS = template.code(first and "vns_stages_forget(key)" or "0"),
    ENTRIES = template.code(table.concat(entries)),
  })
end

local function end_text(st)
  local text = {}
  for _, point in ipairs(st.points) do
    text[#text + 1] = template.render(END, {
      NAME = template.code(st.name),
      HEAD = template.code(point.entry),
      SKB = template.code(point.skb or "NULL"),
      COND = st.cond and guard(st.cond) or template.code(""),
      SKIP_ZERO = template.code(string.format("  u64 key = %s;\n", st.key)
                                .. (st.skip_zero_key and "  if (!key)\n    return 0;\n" or "")),
      COUNTER = template.int(st.counter),
      BY_STAGE = template.int(st.by_stage),
    })
  end
  return table.concat(text)
end

-- The flow filters of the program: each stage's own, and f at the first
-- stage unless it has one. Their maps must not share names.
function Kit:filters(f)
  local list, names = {}, {}
  for _, st in ipairs(self.stages) do
    local flow = st.filter or (st.index == 0 and f) or nil
    if flow then
      list[#list + 1] = flow
      for _, m in ipairs(flow.maps) do
        assert(not names[m.name], "stages: two flow filters use the map " .. m.name .. "; give each its own cfg.map_prefix")
        names[m.name] = true
      end
    end
  end
  return list
end

-- The C text for opts (and f, the tool's compiled flow filter, if any).
function Kit:program(opts, f)
  opts = opts or {}
  local decls = {}
  for _, flow in ipairs(self:filters(f)) do decls[#decls + 1] = flow.decl_text end
  local text = { template.render(template.read("fragments/stages.c"), {
    BUDGET = self.events and budget.code(opts) or template.code("/* no events: no budget */"),
    NSTAGES = template.int(#self.stages),
    UNIT_NS = hist.divisor(opts.unit or "us"),
    BY_DEV = template.bool(self.by == "dev"),
    HIST = template.bool(self.histograms),
    EVENTS = template.bool(self.events),
    EVENTS_OUTPUT = self.events and events.code(opts, M.EVENTS, self:record_bytes())
                    or template.code("/* no events */"),
    SUBMIT = self.events and events.submit(opts, M.EVENTS, "ctx", "VNS_STAGES_EVENT") or template.code("/* no events */"),
    FLOW = template.bool(self.flow),
    SESSIONS = template.int(self.lru_size),
    NCOUNTERS = template.int(#COUNTERS + #self.ends * (1 + #self.stages)),
    SAME_HEAD = template.bool(self.same_head),
    REUSED = template.int(self.same_head and self.ends[#self.ends].counter or 0),
    REUSED_BY_STAGE = template.int(self.same_head and self.ends[#self.ends].by_stage or 0),
    FIELDS = template.bool(self.fields),
    THRESHOLD = ctxfilter.compile({ threshold = opts.threshold }, { delta = "delta_ns" }).expr,
  }) }
  text[#text + 1] = "\n" .. (#decls > 0 and table.concat(decls, "\n") or "/* no filter maps */") .. "\n"
  for _, st in ipairs(self.stages) do text[#text + 1] = stage_text(self, st, opts, f) end
  for _, st in ipairs(self.ends) do
    if st.point then text[#text + 1] = end_text(st) end
  end
  return table.concat(text)
end

-- Fill the maps of the stages' own flow filters (the tool loop fills f's).
function Kit:fill(prog)
  local filter = require "vns.filter"
  for _, st in ipairs(self.stages) do
    if st.filter then filter.fill(prog, st.filter) end
  end
end

-- ---- reading back -------------------------------------------------------------

-- Pair p: 0 is the end-to-end time, i the step from stage i-1 to stage i
-- (only with more than two stages: with two, the one step is the total).
function Kit:pairs()
  local n, out = #self.stages, {}
  if n > 2 then
    for i = 1, n - 1 do
      out[#out + 1] = { pair = i, from = self.stages[i].name, to = self.stages[i + 1].name }
    end
  end
  out[#out + 1] = { pair = 0, from = self.stages[1].name, to = self.stages[n].name, total = true }
  return out
end

-- The session counters since start. started, completed, restarted,
-- out_of_order (and unwalked, and each end's count) are counted in the
-- kernel; the rest follow, because every session started either
-- completed, was replaced by a new first-stage hit on its key
-- (restarted), was ended by an end (ended: their sum), is still in the
-- LRU map (open), or was evicted from it:
--   evicted = started - completed - restarted - ended - open
-- A session open at exit never completes (the probes are detached):
--   never_completed = restarted + evicted (+ open, at exit)
-- Between reports the counters and the map are read moments apart, so
-- evicted may be off by the sessions started in between (never below 0);
-- at exit nothing moves and it is exact.
function Kit:sessions(prog, final)
  local counts, c = prog:table("vns_stages_counts"), {}
  for i, name in ipairs(COUNTERS) do c[name] = hist.sum(counts:lookup(i - 1)) end
  local ended = {}
  for _, e in ipairs(self.ends) do ended[e.name] = hist.sum(counts:lookup(e.counter)) end
  local out = M.derive(c, prog:table("vns_stages_sessions"):count(), final, ended)
  if self:has_list() then out.unwalked = c.unwalked end
  if #self.stages > 2 and #self.ends > 0 then out.lost = self:lost(counts) end
  return out
end

-- Where sessions ended by an end were last: {after = stage name, and
-- each end's count} for every stage with any.
function Kit:lost(counts)
  local out = output.array()
  for i, st in ipairs(self.stages) do
    local row, any = { after = st.name }, false
    for _, e in ipairs(self.ends) do
      row[e.name] = hist.sum(counts:lookup(e.by_stage + i - 1))
      any = any or row[e.name] > 0
    end
    if any then out[#out + 1] = row end
  end
  return out
end

function Kit:has_list()
  for _, st in ipairs(self.stages) do
    if st.list then return true end
  end
  return false
end

-- ended: {name = count} of the kit's ends (none: nil).
function M.derive(c, open, final, ended)
  local out = { started = c.started, completed = c.completed, restarted = c.restarted,
                out_of_order = c.out_of_order, open = open }
  local gone = 0
  for name, n in pairs(ended or {}) do
    out[name] = n
    gone = gone + n
  end
  out.evicted = math.max(0, c.started - c.completed - c.restarted - gone - open)
  out.never_completed = c.restarted + out.evicted + (final and open or 0)
  return out
end

local function state_of(run)
  run.stages_state = run.stages_state or { total = {} }
  return run.stages_state
end

-- Add a drained map to this interval's and the running histograms:
-- t[pair][label] is a vns.hist.
local function add_hist(self, run, now, total)
  local function of(t, pair, label)
    t[pair] = t[pair] or {}
    t[pair][label] = t[pair][label] or hist.log2 { unit = run.opts.unit or "us" }
    return t[pair][label]
  end
  for _, e in ipairs(run.program:table("vns_stages_hist"):drain()) do
    of(now, e[1].pair, e[1].label):add(e[1].slot, e[2])
    of(total, e[1].pair, e[1].label):add(e[1].slot, e[2])
  end
  for _, e in ipairs(run.program:table("vns_stages_stats"):drain()) do
    local s = hist.merge_stats(e[2])
    of(now, e[1].pair, e[1].label):set_stats(s)
    local t = of(total, e[1].pair, e[1].label)
    t:set_stats(hist.merge_stats({ s, t.stats }))
  end
end

-- The histograms to show, in order: by label, then by pair along the path.
function Kit:shown(t)
  local labels, seen = {}, {}
  for _, by_label in pairs(t) do
    for label in pairs(by_label) do
      if not seen[label] then seen[label] = true; labels[#labels + 1] = label end
    end
  end
  table.sort(labels)
  local out = {}
  for _, label in ipairs(labels) do
    for _, p in ipairs(self:pairs()) do
      local h = t[p.pair] and t[p.pair][label]
      if h then out[#out + 1] = { h = h, label = label, from = p.from, to = p.to, total = p.total } end
    end
  end
  return out
end

-- Every interval: drain the histograms (this interval's, added to the
-- totals since start; at exit the totals) and read the counters.
-- Returns {type, histograms (summaries with from, to, total and the
-- label under the name of `by`), sessions}.
function Kit:collect(run, final)
  local st = state_of(run)
  local now = {}
  if self.histograms then add_hist(self, run, now, st.total) end
  st.shown = self:shown(final and st.total or now)
  local histograms = output.array()
  for _, x in ipairs(st.shown) do
    local s = x.h:summary()
    s.from, s.to, s.total = x.from, x.to, x.total or nil
    if self.by then s[self.by] = x.label end
    histograms[#histograms + 1] = s
  end
  st.counts = self:sessions(run.program, final)
  return { type = final and "total" or "interval", histograms = histograms, sessions = st.counts }
end

-- The text of one histogram's heading: "dev = eth0", "queue -> xmit",
-- both, or nothing (two stages, no label).
function Kit:heading(x)
  local parts = {}
  if self.by then parts[#parts + 1] = self.by .. " = " .. x.label end
  if #self.stages > 2 then parts[#parts + 1] = x.from .. " -> " .. x.to .. (x.total and " (total)" or "") end
  return table.concat(parts, ", ")
end

function Kit:render_sessions(c, out, final)
  local ends = {}
  for _, e in ipairs(self.ends) do ends[#ends + 1] = string.format(", %d %s", c[e.name], e.name) end
  out:write(string.format("\nsessions since start: %d started, %d completed%s, %d restarted, %d out of order, "
                          .. "%d evicted, %d %s, %d never completed%s\n", c.started, c.completed, table.concat(ends),
                          c.restarted, c.out_of_order, c.evicted, c.open, final and "open at exit" or "open",
                          c.never_completed, c.unwalked and string.format(" (%d not walked in lists)", c.unwalked) or ""))
  for _, l in ipairs(c.lost or {}) do
    local parts = {}
    for _, e in ipairs(self.ends) do parts[#parts + 1] = l[e.name] .. " " .. e.name end
    out:write(string.format("  ended after %-16s %s\n", l.after, table.concat(parts, ", ")))
  end
end

function Kit:render(run, data, out, final)
  local st = state_of(run)
  out:write(final and "\nTotal since start\n" or ("\n" .. output.timestamp() .. "\n"))
  if self.histograms and #st.shown == 0 then out:write("(no packets)\n") end
  for _, x in ipairs(st.shown) do
    local heading = self:heading(x)
    if heading ~= "" then out:write("\n", heading, "\n") end
    x.h:render(out)
  end
  self:render_sessions(st.counts, out, final)
end

-- ---- events -------------------------------------------------------------------

-- "10.0.0.1:80", "[fd00::1]:80", or just the address when there are no ports.
function M.endpoint(family, words, port, has_port)
  local addr = net.wire_addr(family, words)
  if not has_port then return addr end
  return (family == 6 and "[" .. addr .. "]" or addr) .. ":" .. port
end

-- The stage times of an event into row: stages (each {name, at_ns since
-- the first or nil if not hit, and with fields the skb's len, hash,
-- queue, cpu, dev there}), steps (each {from, to, ns} of a pair timed
-- in order) and slowest (the step that took longest).
function Kit:times(ev, row)
  local first = ev.ts[1]
  for i, s in ipairs(self.stages) do
    local st = { name = s.name, at_ns = ev.ts[i] ~= 0 and ev.ts[i] - first or nil }
    if self.fields and ev.ts[i] ~= 0 then
      st.len, st.hash, st.queue, st.cpu = ev.f_len[i], ev.f_hash[i], ev.f_queue[i], ev.f_cpu[i]
      st.dev = (string.pack("<i8<i8", ev.f_dev_lo[i], ev.f_dev_hi[i]):gsub("%z.*$", ""))
    end
    row.stages[i] = st
    if i > 1 and ev.timed & (1 << (i - 1)) ~= 0 then
      local step = { from = self.stages[i - 1].name, to = s.name, ns = ev.ts[i] - ev.ts[i - 1] }
      row.steps[#row.steps + 1] = step
      if not row.slowest or step.ns > row.slowest.ns then row.slowest = step end
    end
  end
  if row.slowest then
    local w = row.slowest
    row.slowest = { from = w.from, to = w.to, ns = w.ns }
  end
  return row
end

-- Bytes of one event (the events buffer's size is made from it).
function Kit:record_bytes() return M.record_bytes(#self.stages, self.fields) end

-- One event as a table: key, total_ns, pid, comm, len and dev (at the
-- first stage), the stage times (Kit:times: stages, steps, slowest),
-- and with a flow (parsed at the last stage) proto, src, dst.
function Kit:decode(_, ev)
  local row = { key = ev.key, total_ns = ev.total_ns, pid = ev.pid, comm = ev.comm, len = ev.len, dev = ev.dev,
                stages = {}, steps = {} }
  self:times(ev, row)
  if ev.family ~= 0 then
    local ports = ev.sport ~= 0 or ev.dport ~= 0
    row.proto = net.proto_name(ev.proto)
    row.src = M.endpoint(ev.family, ev.saddr, ev.sport, ports)
    row.dst = M.endpoint(ev.family, ev.daddr, ev.dport, ports)
  end
  return row
end

-- The event fields of the flow, and the flow as JSON-ready fields (proto,
-- src, dst; none when the event has no IP flow): a row hook of its own
-- for tools that lay out the kit's events themselves.
M.FLOW_FIELDS = { "family", "proto", "saddr", "daddr", "sport", "dport" }

function M.flow_row(ev)
  if ev.family == 0 then return {} end
  local ports = ev.sport ~= 0 or ev.dport ~= 0
  return { proto = net.proto_name(ev.proto), src = M.endpoint(ev.family, ev.saddr, ev.sport, ports),
           dst = M.endpoint(ev.family, ev.daddr, ev.dport, ports) }
end

-- The bytes of a kit's event of n stages and its ring header, an
-- estimate for the buffer's size (events.code, row.record_bytes); with
-- fields, each stage's skb facts too.
function M.record_bytes(n, fields) return 64 + 8 * n + 64 + (fields and 28 * n or 0) end

-- A tool made of the kit: def is a tool definition without program and,
-- for a summary, collect and render (the kit's); a details tool gets the
-- kit's event map and, unless def.decode says otherwise, its decode.
function Kit:summary(def)
  def.program = function(opts, f) return self:program(opts, f) end
  def.collect = function(run, final) return self:collect(run, final) end
  def.render = function(run, data, out, final) self:render(run, data, out, final) end
  return require("vns.tool").summary(def)
end

-- The kit's events on the fast path (vns.events, docs/events.md): the
-- plain fields copied by the engine; one hook for the stage times
-- (different in every event: not cached) and one for the flow (cached by
-- its fields). The JSON rows hold what kit:decode returns; text has the
-- columns given, by default total, task, device, length, each stage's
-- time since the first, and the flow. Keys starting with "_" are text
-- only (not in JSON).
function Kit:row(columns)
  local names = {}
  for i, s in ipairs(self.stages) do names[i] = s.name end
  local times = { "ts", "timed" }
  if self.fields then
    for _, f in ipairs({ "f_len", "f_hash", "f_queue", "f_cpu", "f_dev_lo", "f_dev_hi" }) do times[#times + 1] = f end
  end
  local hooks = {
    { fields = times, cache = false, decode = function(_, ev)
      local row = self:times(ev, { stages = {}, steps = {} })
      local at, facts = {}, {}
      for i, st in ipairs(row.stages) do
        at[i] = names[i] .. "=" .. (st.at_ns or "-")
        if st.cpu then
          facts[#facts + 1] = string.format("%-10s len %-6d hash %08x queue %-3d cpu %-3d dev %s", st.name, st.len,
                                            st.hash, st.queue, st.cpu, st.dev ~= "" and st.dev or "-")
        end
      end
      local slow = row.slowest
      row._stages = table.concat(at, " ")
      row._slowest = slow and string.format("%s->%s=%d", slow.from, slow.to, slow.ns) or "-"
      row._fields = facts
      return row
    end },
  }
  if self.flow then
    hooks[2] = { fields = M.FLOW_FIELDS, decode = function(_, ev)
      local row = M.flow_row(ev)
      if row.proto then row._flow = string.format("%s %s > %s", row.proto, row.src, row.dst) end
      return row
    end }
  end
  return {
    record_bytes = self:record_bytes(),
    fields = { "key", "total_ns", "pid", "comm", "dev", "len" },
    hooks = hooks,
    lines = self.fields and "_fields" or nil,
    columns = columns or { { "TOTAL(ns)", "total_ns", 12, right = true, gap = 2 }, { "PID", "pid", 7 },
                           { "COMM", "comm", 16 }, { "DEV", "dev", 16 }, { "LEN", "len", 5, right = true, gap = 2 },
                           { "STAGES(ns since the first)", "_stages", 30 }, { "FLOW", "_flow" } },
  }
end

-- A details tool of the kit: without decode and print of its own, on the
-- fast path (kit:row(); def.row may give kit:row(columns)); with them, the
-- tool's Lua decodes and prints each event.
function Kit:details(def)
  assert(self.events, "stages: a details tool needs a kit with events = true")
  def.program = function(opts, f) return self:program(opts, f) end
  def.events = M.EVENTS
  if not def.print and not def.row then def.row = self:row() end
  def.decode = def.decode or function(run, ev) return self:decode(run, ev) end
  return require("vns.tool").details(def)
end

return M
