-- Per-event work is only per-event work: a details tool's decode never
-- reads a tracepoint format, parses one, or parses text into values
-- (protocol names, addresses); all that is done once per run. Each
-- decode hook runs 100 times on a made-up event while those functions
-- are counted.
local core = require "vns.core"
local kernel = require "vns.kernel"
local net = require "vns.net"
local registry = require "vns.registry"
local h = require "helpers"
local eq = h.eq

local T = {}

-- Run f with the text readers and parsers counted; returns the counts.
local function counted(f)
  local watched = { { core, "tracepoint_format" }, { kernel, "parse_fields" }, { kernel, "tracepoint_symbols" },
                    { net, "protocol" }, { net, "addr" }, { net, "ports" } }
  local saved, calls = {}, {}
  for i, w in ipairs(watched) do
    local t, name = w[1], w[2]
    saved[i] = t[name]
    t[name] = function(...) calls[name] = (calls[name] or 0) + 1; return saved[i](...) end
  end
  local ok, err = pcall(f)
  for i, w in ipairs(watched) do w[1][w[2]] = saved[i] end
  if not ok then error(err, 0) end
  return calls
end

local function flow_event(extra)
  local ev = { ts_ns = 1000, cpu = 0, pid = 1, comm = "bash", dev = "eth0", len = 30, reason = 2, location = 0,
               saddr = { 0x0101000a, 0, 0, 0 }, daddr = { 0x0201000a, 0, 0, 0 }, sport = 0x3412, dport = 0x0f27,
               family = 4, proto = 17, has_ports = 1, icmp_type = 0, icmp_code = 0, nvlan = 0, vlan = 0,
               ethertype = 8, arp_op = 0, stack_id = -1 }
  for k, v in pairs(extra or {}) do ev[k] = v end
  return ev
end

function T.drop_details_decode()
  local tool = registry.find("drop-details")
  local run = { opts = { stack = false } }
  tool.prepare(run)
  tool.decode(run, flow_event())  -- first sight of a location symbolizes it, once
  local calls = counted(function()
    for _ = 1, 100 do tool.decode(run, flow_event()) end
  end)
  eq(calls, {})
end

function T.stages_decode()
  local stages = require "vns.stages"
  local kit = stages.new { stages = { { name = "a", probe = "tracepoint:net:net_dev_queue" },
                                      { name = "b", probe = "tracepoint:net:net_dev_xmit" } }, events = true }
  local ev = flow_event({ key = 1, total_ns = 5, ts = { 1, 6 }, timed = 2 })
  local calls = counted(function()
    for _ = 1, 100 do kit:decode({}, ev) end
  end)
  eq(calls, {})
end

function T.adhoc_trace_decode()
  local adhoc = require "vns.adhoc"
  local t = adhoc.trace { "skb:kfree_skb", by = "reason, ksym:location, dev, flow" }
  local run = {}
  local ev = { ts_ns = 5, reason = 2, location = 0, dev = "eth0", flow_saddr = { 1, 0, 0, 0 }, flow_daddr = { 2, 0, 0, 0 },
               flow_sport = 1, flow_dport = 2, flow_family = 4, flow_proto = 17, flow_has_ports = 1 }
  t.decode(run, ev)
  local calls = counted(function()
    for _ = 1, 100 do t.decode(run, ev) end
  end)
  eq(calls, {})
end

-- The fast path: what runs per event in Lua is a row's hooks (once per
-- distinct input when cached; every event for the stage times). None of
-- them reads or parses a format or text.
local function hooks_clean(row, run, ev)
  for _, hk in ipairs(row.hooks) do hk.decode(run, ev) end  -- first sight (symbols) once
  local calls = counted(function()
    for _ = 1, 100 do
      for _, hk in ipairs(row.hooks) do hk.decode(run, ev) end
    end
  end)
  eq(calls, {})
end

function T.drop_details_row_hooks()
  local tool = registry.find("drop-details")
  local run = { opts = { stack = false } }
  tool.prepare(run)
  hooks_clean(tool.row, run, flow_event())
end

function T.adhoc_trace_row_hooks()
  local adhoc = require "vns.adhoc"
  local t = adhoc.trace { "skb:kfree_skb", by = "reason, ksym:location, dev, flow" }
  hooks_clean(t.row, {}, { ts_ns = 5, reason = 2, location = 0, dev = "eth0", flow_saddr = { 1, 0, 0, 0 },
                           flow_daddr = { 2, 0, 0, 0 }, flow_sport = 1, flow_dport = 2, flow_family = 4,
                           flow_proto = 17, flow_has_ports = 1 })
end

function T.stages_row_hooks()
  local stages = require "vns.stages"
  local kit = stages.new { stages = { { name = "a", probe = "tracepoint:net:net_dev_queue" },
                                      { name = "b", probe = "tracepoint:net:net_dev_xmit" } }, events = true }
  local row = kit:row()
  hooks_clean(row, {}, flow_event({ key = 1, total_ns = 5, ts = { 1, 6 }, timed = 2, sport = 80, dport = 443 }))
  -- The hooks give what kit:decode gives, less the plain fields.
  local ev = flow_event({ key = 1, total_ns = 5, ts = { 1, 6 }, timed = 2, sport = 80, dport = 443 })
  local got = {}
  for _, hk in ipairs(row.hooks) do
    for k, v in pairs(hk.decode({}, ev)) do if not k:match("^_") then got[k] = v end end
  end
  local want = kit:decode({}, ev)
  for _, k in ipairs(row.fields) do want[k] = nil end
  eq(got, want)
end

-- The fast path's rows equal the Lua decode of the same event, for
-- drop-details (the fields it copies plus its hooks' results).
function T.drop_details_row_is_its_decode()
  local tool = registry.find("drop-details")
  local run = { opts = { stack = false } }
  tool.prepare(run)
  local ev = flow_event()
  local got = { ts = true }
  for _, f in ipairs(tool.row.fields) do
    local key, field = type(f) == "table" and f[1] or f, type(f) == "table" and (f[2] or f[1]) or f
    if key ~= "ts" then got[key] = ev[field] end
  end
  for _, hk in ipairs(tool.row.hooks) do
    for k, v in pairs(hk.decode(run, ev)) do got[k] = v end
  end
  local want = tool.decode(run, ev)
  want.ts = true
  eq(got, want)
end

-- ---- every details tool: a row, no Lua print loop -------------------------

-- Made-up events and runs of the details tools, for their hooks.
local function skb_event()
  return flow_event({ seq = 2, path = 7, probe = 1, ip = 0, gso_size = 0, gso_segs = 0, gso_type = 0, ip_summed = 3,
                      mark = 0, queue_mapping = 0, tracked = 0, anomaly = 0, skb = 0xffff888001, tunnel = 1,
                      i_saddr = { 0x0101000a, 0, 0, 0 }, i_daddr = { 0x0201000a, 0, 0, 0 }, i_sport = 1, i_dport = 2,
                      i_ethertype = 8, i_family = 4, i_proto = 17, i_has_ports = 1 })
end

local function stage_event(n)
  local ts, timed = {}, 0
  for i = 1, n do ts[i] = 1000 * i; timed = timed | (i > 1 and (1 << (i - 1)) or 0) end
  return flow_event({ key = (1 << 63) | 0x01000700, total_ns = 1000 * (n - 1), ts = ts, timed = timed,
                      proto = 1, sport = 0, dport = 0 })
end

local CASES = {
  ["skb-trace"] = { run = { probe_names = { "net_dev_queue" }, kprobe_at = {} }, event = skb_event },
  ["qdisc-latency-details"] = { run = { opts = {} }, event = function() return stage_event(2) end },
  ["icmp-rtt"] = { run = { opts = { direction = "tx", path = "stack" } }, event = function() return stage_event(4) end },
  ["virtio-rx-path"] = { run = { names = { [0x1000] = { dev = "eth0", queue = "input.0" } } },
                         event = function() return { ts_ns = 5, cpu = 1, vq = 0x1000, type = 8, value = 1514 } end },
}

function T.details_tools_have_a_row_and_no_print()
  local tools = registry.all()
  local seen = {}
  for _, tool in ipairs(tools) do
    if tool.kind == "details" then
      seen[tool.name] = true
      eq(type(tool.row), "table", tool.name .. ": a row (not events decoded and printed in Lua)")
      eq(tool.print, nil, tool.name .. ": a print function")
      -- A row that depends on the options (vns.paths' details tools) is
      -- filled when the program is made; test_paths checks those.
      if next(tool.row) then
        eq(#tool.row.hooks > 0 and #tool.row.fields > 0, true, tool.name .. ": a row of fields and hooks")
      end
    end
  end
  for name in pairs(CASES) do eq(seen[name], true, name .. " is a details tool") end
end

-- Each tool's hooks parse nothing per event, and its row (the fields C
-- copies plus the hooks' results, less text-only keys) is its decode.
function T.details_tools_row_hooks()
  for name, c in pairs(CASES) do
    local tool = registry.find(name)
    hooks_clean(tool.row, c.run, c.event())
    local ev = c.event()
    local got = {}
    for _, f in ipairs(tool.row.fields) do
      if type(f) == "string" then f = { f } end
      local v = ev[f[2] or f[1]]
      if f.hex then v = string.format("0x%x", v) end
      if f.omit_empty and v == "" then v = nil end
      got[f[1]] = v
    end
    for _, hk in ipairs(tool.row.hooks) do
      for k, v in pairs(hk.decode(c.run, ev)) do if not k:match("^_") then got[k] = v end end
    end
    local want = tool.decode(c.run, ev)
    for _, k in ipairs({ "ts", "time" }) do
      eq(got[k] == nil, want[k] == nil, name .. ": " .. k)
      got[k], want[k] = nil, nil
    end
    eq(got, want, name)
  end
end

return T
