-- adhoc: the short forms of an on-site script. Each returns a complete
-- tool (options, --help, -i/-d, --format json, clean detach):
--
--   adhoc.count { "tracepoint:skb:kfree_skb", by = "reason,dev" }
--       hits of a probe counted in the kernel by a key, a table per interval;
--   adhoc.trace { "kprobe:tcp_drop", by = "pid,comm,stack" }
--       one line per hit, under the event budget (--max-events-per-sec);
--   adhoc.latency { from = "net:net_dev_queue", to = "net:net_dev_start_xmit", by = "dev" }
--       the time between two probes per packet (or key = "pid_tgid", or a
--       field or argument), log2 histograms with exact stats (vns.stages).
--
-- The probe: "tracepoint:CAT:NAME" (or "CAT:NAME"), "kprobe:FN",
-- "kretprobe:FN". The key (`by`, a list or a comma-separated string):
-- any field of the tracepoint (symbolic names where its format prints
-- them), "ksym:FIELD" for a kernel address shown as function+offset,
-- arg1..arg6 of a kprobe, retval of a kretprobe, and pid, tid, comm, cpu,
-- stack (kernel), and, where the probe has a packet, dev and flow. The
-- packet (`skb`) is the tracepoint's skbaddr field when it has one, or
-- the argument named (skb = "arg1"); with it come the flow options, --dev
-- and --filter. --pid and --comm are always there. Every name is checked
-- against this kernel before any C is written; values given at launch
-- are compiled in as constants (vns.filter, vns.ctxfilter).
local budget = require "vns.budget"
local ctxfilter = require "vns.ctxfilter"
local drops = require "vns.drops"
local errors = require "vns.errors"
local events = require "vns.events"
local kernel = require "vns.kernel"
local net = require "vns.net"
local output = require "vns.output"
local program = require "vns.program"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"

local M = {}

local MAX_KEYS, STACKS = 10240, 4096

local ident = template.is_ident

-- "tracepoint:CAT:NAME", "CAT:NAME", "kprobe:FN", "kretprobe:FN"
-- (vns.program.probe_point, plus the short form of a tracepoint).
local function parse_probe(text)
  if type(text) ~= "string" then errors.usage("adhoc: the probe must be a string such as \"tracepoint:skb:kfree_skb\"") end
  local p = program.probe_point(text) or program.probe_point("tracepoint:" .. text)
  if not p or p.kind == "raw_tracepoint" then
    errors.usage("adhoc: probe '%s' is not of the form tracepoint:CAT:NAME, CAT:NAME, kprobe:FN or kretprobe:FN", text)
  end
  p.text = text
  if p.kind == "tracepoint" then
    p.cat, p.name = p.names[1], p.names[2]
    p.fields = kernel.tracepoint_fields(p.cat, p.name)
    if not p.fields then errors.fail("tracepoint %s:%s does not exist on this kernel (%s)", p.cat, p.name, kernel.release()) end
  end
  return p
end

-- The C of reading probe value `name` (a tracepoint field or a kprobe
-- argument) as an integer, or nil.
local function probe_value(p, name)
  if p.kind == "tracepoint" then
    return p.fields[name] and not p.fields[name].type:match("__data_loc") and ("args->" .. name) or nil
  end
  local n = name:match("^arg([1-6])$")
  if n then return "PT_REGS_PARM" .. n .. "(ctx)" end
  if name == "retval" and p.kind == "kretprobe" then return "PT_REGS_RC(ctx)" end
end

local int_types = { [1] = "u8", [2] = "u16", [4] = "u32", [8] = "u64" }

-- One key field: {decl, fill, size (for ordering), decode(run, v)}.
local builtins = {
  pid = { decl = "u32 pid;", fill = "key.pid = bpf_get_current_pid_tgid() >> 32;", size = 4 },
  tid = { decl = "u32 tid;", fill = "key.tid = (u32)bpf_get_current_pid_tgid();", size = 4 },
  cpu = { decl = "u32 cpu;", fill = "key.cpu = bpf_get_smp_processor_id();", size = 4 },
  comm = { decl = "char comm[16];", fill = "bpf_get_current_comm(key.comm, sizeof(key.comm));", size = 1 },
  dev = { decl = "char dev[16];", fill = "vns_skb_devname(skb, key.dev);", size = 1, skb = true,
          decode = function(_, v) return v ~= "" and v or nil end },
  -- Scalars, not a struct vns_flow_key: perf events take scalar fields only.
  flow = { decl = "u32 flow_saddr[4];\n  u32 flow_daddr[4];\n  u16 flow_sport;\n  u16 flow_dport;\n"
                  .. "  u8 flow_family;\n  u8 flow_proto;\n  u8 flow_has_ports;",
           fill = "vns_flow_l4(&f);\n  __builtin_memcpy(key.flow_saddr, f.saddr, 16);\n"
                  .. "  __builtin_memcpy(key.flow_daddr, f.daddr, 16);\n  key.flow_sport = f.sport;\n"
                  .. "  key.flow_dport = f.dport;\n  key.flow_family = f.family;\n  key.flow_proto = f.proto;\n"
                  .. "  key.flow_has_ports = f.has_ports;",
           size = 4, skb = true, flow = true },
  stack = { decl = "s32 stack;", size = 4, stack = true,
            decode = function(run, v) return drops.stack(run.stacks, v) end },
}

local function key_field(p, name)
  local b = builtins[name]
  if b then
    local f = {}
    for k, v in pairs(b) do f[k] = v end
    if f.stack then f.fill = "key.stack = stacks.get_stackid(" .. p.ctx .. ", 0);" end
    f.name = name
    return f
  end
  local sym, field = name:match("^(ksym):([%a_][%w_]*)$")
  field = field or name
  local read = ident(field) and probe_value(p, field)
  if not read then
    local known = {}
    if p.fields then for n in pairs(p.fields) do if not n:match("^common_") then known[#known + 1] = n end end end
    table.sort(known)
    errors.usage("adhoc: by '%s' is not a key of %s (builtins: pid, tid, comm, cpu, stack, dev, flow; %s)", name, p.text,
                 p.fields and ("fields: " .. table.concat(known, ", ")) or "kprobes: arg1..arg6, retval")
  end
  local size = p.fields and p.fields[field].size or 8
  local ctype = sym and "u64" or int_types[size]
  if not ctype then errors.usage("adhoc: field '%s' of %s is not an integer (size %d)", field, p.text, size) end
  local names = p.fields and not sym and kernel.tracepoint_symbols(p.cat, p.name, field) or {}
  return {
    name = field, decl = ctype .. " " .. field .. ";", size = sym and 8 or size,
    fill = string.format("key.%s = (%s)%s;", field, ctype, read),
    decode = sym and function(_, v) return drops.location(v) end
             or next(names) and function(_, v) return names[v] or v end or nil,
  }
end

local function key_of(p, by)
  local list = by
  if type(by) == "string" then
    list = {}
    for name in by:gmatch("[^,%s]+") do list[#list + 1] = name end
  end
  if type(list) ~= "table" then errors.usage("adhoc: by must be a list of keys or a comma-separated string") end
  local fields, seen = {}, {}
  for i, name in ipairs(list) do
    local f = key_field(p, name)
    if seen[f.name] then errors.usage("adhoc: key '%s' is given twice", f.name) end
    seen[f.name], fields[i] = true, f
  end
  return fields
end

-- Where the packet is: a probe value as `struct sk_buff *skb`, or nil.
local function skb_of(p, spec)
  local name = spec.skb
  if name == nil and p.fields and p.fields.skbaddr then name = "skbaddr" end
  if not name then return nil end
  local read = ident(name) and probe_value(p, name)
  if not read then errors.usage("adhoc: skb '%s' is not a field or argument of %s", tostring(name), p.text) end
  return "  struct sk_buff *skb = (struct sk_buff *)" .. read .. ";"
end

local function parse(spec, events)
  assert(type(spec) == "table", "adhoc: give a table: { \"tracepoint:CAT:NAME\", by = \"...\" }")
  local p = parse_probe(spec.probe or spec[1])
  local skb = skb_of(p, spec)
  local fields = key_of(p, spec.by or {})
  if events then
    table.insert(fields, 1, { name = "ts_ns", decl = "u64 ts_ns;", fill = "key.ts_ns = bpf_ktime_get_ns();", size = 8 })
  end
  for _, f in ipairs(fields) do
    if f.skb and not skb then errors.usage("adhoc: key '%s' needs a packet: give skb = \"argN\" or a field", f.name) end
  end
  if #fields == 0 then fields[1] = { name = "hits", decl = "u8 hits;", fill = "/* every hit under one key */", size = 1 } end
  return p, skb, fields
end

-- Key struct fields widest first: no padding inside, the key is memset.
local function layout(fields)
  local sorted = {}
  for i, f in ipairs(fields) do sorted[i] = f end
  table.sort(sorted, function(a, b) if a.size ~= b.size then return a.size > b.size end return a.name < b.name end)
  local decls, fills, any_stack, any_flow = {}, {}, false, false
  for i, f in ipairs(sorted) do decls[i] = "  " .. f.decl end
  for i, f in ipairs(fields) do
    fills[i] = "  " .. f.fill
    any_stack, any_flow = any_stack or f.stack, any_flow or f.flow
  end
  return table.concat(decls, "\n"), table.concat(fills, "\n"), any_stack, any_flow
end

local function program(p, skb, fields, traced)
  return function(opts, f)
    local decls, fills, stack, flow = layout(fields)
    local flow_filter = f and f.guard.text or "  /* no packet */"
    if flow and not f.needs_l3 then flow_filter = "  struct vns_flow f = {};\n  vns_flow_l3(skb, &f);" end
    return template.render(template.read("adhoc.c"), {
      BUDGET = traced and budget.code(opts) or template.code("/* counting: no event budget */"),
      FILTER_MAPS = f and f.decls or template.code("/* no flow filter */"),
      KEY_FIELDS = template.code(decls),
      EVENTS = template.bool(traced),
      COUNTER = traced and template.code("/* events: no counter */") or report.counter("counts", "adhoc_key", MAX_KEYS),
      EVENTS_OUTPUT = traced and events.code(opts, "events") or template.code("/* counting: no events */"),
      SUBMIT = traced and events.submit(opts, "events", p.ctx, "key") or template.code("/* counting */"),
      STACK_MAP = template.code(stack and string.format("BPF_STACK_TRACE(stacks, %d);", STACKS) or "/* no stacks */"),
      ENTRY = template.code(p.entry),
      SKB = template.code(skb or "  /* no packet */"),
      CTX_FILTER = ctxfilter.compile({ pid = opts.pid, comm = opts.comm, dev = opts.dev }, { dev_skb = "skb" }).expr,
      FLOW_FILTER = template.code(flow_filter),
      KEY_FILL = template.code(fills),
    })
  end
end

local function decoder(fields)
  return function(run, key)
    local row = {}
    for _, f in ipairs(fields) do
      if f.flow then
        row.flow = net.flow_text({ saddr = key.flow_saddr, daddr = key.flow_daddr, sport = key.flow_sport,
                                   dport = key.flow_dport, family = key.flow_family, proto = key.flow_proto,
                                   has_ports = key.flow_has_ports })
      else
        local v = key[f.name]
        if f.decode then v = f.decode(run, v) end
        row[f.name] = v
      end
    end
    return row
  end
end

local function base(spec, p, skb, fields, kind)
  local opts = { net.options({ "pid", "comm" }) }
  if skb then opts[2] = net.options({ "dev" }) end
  return {
    name = spec.name or ("adhoc-" .. kind),
    about = spec.about or string.format("%s of %s", kind == "count" and "Hits" or "Events", p.text),
    tracing = string.format("Tracing %s... Hit Ctrl-C to end.", p.text),
    options = opts,
    filter = skb and true or nil,
    setup = function(run)
      for _, f in ipairs(fields) do
        if f.stack then run.stacks = run.program:table("stacks") end
      end
    end,
  }
end

-- Stacks go under their rows.
local function stack_lines(row, out) report.frames(out, row.stack) end

function M.count(spec)
  local p, skb, fields = parse(spec, false)
  local def = base(spec, p, skb, fields, "count")
  local columns = { { "COUNT", "count" } }
  for _, f in ipairs(fields) do
    if f.name ~= "stack" then columns[#columns + 1] = { f.name:upper(), f.name } end
  end
  def.program = program(p, skb, fields, false)
  def.counts = { map = "counts", row = decoder(fields), columns = columns, what = "hits", after = stack_lines }
  return tool.summary(def)
end

local FLOW_FIELDS = { "flow_saddr", "flow_daddr", "flow_sport", "flow_dport", "flow_family", "flow_proto",
                      "flow_has_ports" }

-- The events of a trace on the fast path (vns.events): plain fields
-- copied by the engine, each decoded one (names, symbols, the flow, the
-- stack) a hook on its own fields.
local function trace_row(fields)
  local row = { fields = { { "ts", "ts_ns", wall_time = true } }, hooks = {}, columns = { { "TIME", "ts", 15, gap = 2 } } }
  -- Columns as wide as their usual values; the last (often a flow) free.
  local widths = { comm = 15, dev = 12, flow = 0 }
  for i = 2, #fields do
    local f = fields[i]
    if f.flow or f.decode then
      row.hooks[#row.hooks + 1] = { fields = f.flow and FLOW_FIELDS or { f.name }, decode = decoder({ f }) }
    else
      row.fields[#row.fields + 1] = f.name
    end
    if f.stack then
      row.lines = "stack"
    else
      row.columns[#row.columns + 1] = { f.name:upper(), f.name, math.max(#f.name, widths[f.name] or (f.decode and 24 or 8)), gap = 2 }
    end
  end
  return row
end

function M.trace(spec)
  local p, skb, fields = parse(spec, true)
  local def = base(spec, p, skb, fields, "trace")
  local decode = decoder(fields)
  def.program = program(p, skb, fields, true)
  def.events = "events"
  def.row = trace_row(fields)
  -- One event as a Lua table, as the engine writes it (tests).
  def.decode = function(run, ev)
    local row = decode(run, ev)
    row.ts, row.ts_ns = events.wall_time(ev.ts_ns), nil
    return row
  end
  return tool.details(def)
end

-- A stage of vns.stages from a probe text and a key: "skb" (the packet,
-- by default the tracepoint's skbaddr or the skb field/argument given),
-- "pid_tgid" (the thread), or a field or argument of the probe.
local function stage_of(name, text, spec)
  local p = parse_probe(text)
  local probe = p.kind .. ":" .. table.concat(p.names, ":")
  local key = spec.key or "skb"
  local st = { name = name, probe = probe }
  if key == "skb" then
    if not skb_of(p, spec) then errors.usage("adhoc: %s has no packet: give skb = \"argN\" or key = ...", p.text) end
    st.skb = p.kind == "tracepoint" and (spec.skb or "skbaddr") or tonumber(spec.skb and spec.skb:match("^arg(%d)$") or 1)
  elseif key == "pid_tgid" then
    st.key, st.skb = "pid_tgid", false
  else
    local read = ident(key) and probe_value(p, key)
    if not read then errors.usage("adhoc: key '%s' is not a field or argument of %s", tostring(key), p.text) end
    st.key, st.skb = template.code("(u64)" .. read), false
  end
  return st
end

-- The time from one probe to another, per key: log2 histograms (per
-- device with by = "dev") with exact count/min/max/mean, --threshold and
-- --unit, and how many sessions never completed (vns.stages).
function M.latency(spec)
  assert(type(spec) == "table", "adhoc.latency: give a table: { from = \"...\", to = \"...\" }")
  local stages = require "vns.stages"
  local hist = require "vns.hist"
  local from, to = stage_of("from", spec.from, spec), stage_of("to", spec.to, spec)
  if spec.by ~= nil and spec.by ~= "dev" then errors.usage("adhoc: latency by is \"dev\" or nothing") end
  local kit = stages.new { stages = { from, to }, by = spec.by }
  local packet = from.skb ~= false
  return kit:summary {
    name = spec.name or "adhoc-latency",
    about = spec.about or string.format("Time from %s to %s", spec.from, spec.to),
    tracing = string.format("Tracing %s -> %s... Hit Ctrl-C to end.", spec.from, spec.to),
    filter = packet or nil,
    options = { net.options(packet and { "pid", "comm", "dev", "threshold" } or { "pid", "comm", "threshold" }),
                hist.unit_option("us") },
    defaults = { top = false },
  }
end

-- The names `vnetscope -e` text sees besides Lua's own.
M.env = { count = M.count, trace = M.trace, latency = M.latency }

return M
