-- vns.tool: the shared tool object: specs, --help, --emit-c, check, and
-- one short real run (attaches skb:kfree_skb for ~100 ms).
local tool = require "vns.tool"
local options = require "vns.options"
local h = require "helpers"
local eq, checkerr, has, usage_err = h.eq, h.checkerr, h.has, h.usage_err

local PROBE = "#include <vns/common.h>\nTRACEPOINT_PROBE(skb, kfree_skb) { return 0; }\n"

local function demo(extra)
  local def = {
    name = "demo", about = "Demo things", examples = { "vnetscope demo -i 2" },
    options = { { name = "dev", type = "ifname", help = "device" } },
    program = function(opts)
      return PROBE .. "/* top " .. require("vns.template").int(opts.top).text .. " */\n"
    end,
    collect = function(run, final) return { reports = run.reports, final_seen = final } end,
    render = function(run, data, out) out:write("report\n") end,
  }
  for k, v in pairs(extra or {}) do def[k] = v end
  return tool.summary(def)
end

local T = {}

function T.constructors()
  eq(tool.summary({ name = "a", about = "b", program = print }).kind, "summary")
  eq(tool.details({ name = "a", about = "b", program = print, events = "e", decode = print, print = print }).kind,
     "details")
  checkerr("tool a: missing field 'events' (a details tool needs events, decode, print)", tool.details,
           { name = "a", about = "b", program = print })
  for _, missing in ipairs({ "name", "about", "program" }) do
    local def = { name = "a", about = "b", program = print }
    def[missing] = nil
    checkerr("missing field '" .. missing .. "' (every tool needs name, about, program)", tool.summary, def)
  end
end

-- The definition is checked by vns.tooldef (test_tooldef.lua).
function T.constructors_check_the_definition()
  local err = checkerr("tool a: unknown field 'colect' (known: ", tool.summary,
                       { name = "a", about = "b", program = print, colect = print })
  eq(err.code, 1)
  checkerr("tool a: field 'collect' must be a function, not table", tool.summary,
           { name = "a", about = "b", program = print, collect = {} })
end

function T.specs_own_then_common()
  local names = {}
  for _, s in ipairs(demo():specs()) do names[#names + 1] = s.name end
  eq(names, { "dev", "interval", "duration", "top", "format", "emit-c", "no-cache", "pack", "listen" })
  local v = options.parse(demo({ defaults = { interval = 5, top = 3 } }):specs(), {})
  eq({ v.interval, v.top }, { 5, 3 })
end

-- Details tools have the budget and no --top; a summary tool may drop --top.
function T.specs_of_details_tools_and_top_opt_out()
  local function names(t)
    local out = {}
    for _, s in ipairs(t:specs()) do out[#out + 1] = s.name end
    return out
  end
  local d = tool.details({ name = "a", about = "b", program = print, events = "e", decode = print, print = print })
  eq(names(d), { "interval", "duration", "format", "emit-c", "no-cache", "pack", "max-events-per-sec", "buffer-pages" })
  eq(names(demo({ defaults = { top = false } })),
     { "dev", "interval", "duration", "format", "emit-c", "no-cache", "pack", "listen" })
end

function T.run_help()
  local t = demo()
  local text, status = h.capture(t.run, t, { "--help" })
  eq(status, 0)
  eq(text, options.help(t, t:specs()))
end

function T.run_emit_c()
  local t = demo()
  local text, status = h.capture(t.run, t, { "--emit-c", "-t", "7" })
  eq(status, 0)
  eq(text, PROBE .. "/* top 7 */\n")
end

function T.run_bad_option_before_program()
  local called = false
  local t = demo({ program = function() called = true return PROBE end })
  usage_err("option --top:", t.run, t, { "--top", "x" })
  usage_err("unknown option '--nope'", t.run, t, { "--nope" })
  eq(called, false)
end

function T.check_compiles_and_loads()
  local results, prog = demo():check({})
  eq(#results, 1)
  eq({ results[1].fn, results[1].kind }, { "tracepoint__skb__kfree_skb", "tracepoint" })
  assert(results[1].insns and results[1].insns > 0, "insns")
  prog.mod:close()
end

-- JSON reports every interval, then one final report with final=true.
function T.run_json_reports()
  local text, status = h.capture(function()
    local t = demo()
    return t:run({ "-i", "30ms", "-d", "100ms", "--format", "json" })
  end)
  eq(status, 0)
  local lines = {}
  for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
  assert(#lines >= 2, #lines .. " lines:\n" .. text)
  for i, line in ipairs(lines) do
    has(line, '"elapsed_s":')
    has(line, '"time":"')
    has(line, string.format('"reports":%d', i - 1))
  end
  has(lines[#lines], '"final":true')
  has(lines[#lines], '"final_seen":true')
  eq(lines[1]:find('"final":', 1, true), nil)
end

-- A fake clock: poll(ms) wakes 0.1 ms late, as a real poll does, and
-- every reading of the clock costs 1 us.
local function with_fake_clock(f)
  local core = require "vns.core"
  local saved = { monotime = core.monotime, poll = core.poll, interrupted = core.interrupted }
  local now = 0
  core.monotime = function() now = now + 1000; return now end
  core.poll = function(ms) now = now + ms * 1000000 + 100000; return 0 end
  core.interrupted = function() return false end
  local ok, err = pcall(f)
  for k, v in pairs(saved) do core[k] = v end
  if not ok then error(err, 0) end
end

-- -i 30ms -d 100ms: reports at 30, 60 and 90 ms, then the loop ends at
-- 100 ms. The wait must not return while time is left before the deadline
-- (left_ms rounded down to 0 makes it return early, then report again
-- and again until the clock passes the deadline).
function T.loop_reports_once_per_interval()
  local reports = 0
  local t = demo({ collect = function() reports = reports + 1 return { n = reports } end })
  local text = h.capture(function()
    with_fake_clock(function()
      local run = { opts = { interval = 0.030, duration = 0.100, format = "json" }, reports = 0 }
      run.started = require("vns.core").monotime()
      t:loop(run)
    end)
  end)
  -- 30, 60 and 90 ms, then the partial interval that --duration ends
  eq(reports, 4, "interval reports")
  local lines = 0
  for _ in text:gmatch("[^\n]+") do lines = lines + 1 end
  eq(lines, 4, "JSON lines")
end

return T
