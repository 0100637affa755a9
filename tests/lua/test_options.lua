-- vns.options: typed values, argv forms, usage errors, --help text.
local options = require "vns.options"
local h = require "helpers"
local eq, usage_err, has, hasnt = h.eq, h.usage_err, h.has, h.hasnt

-- Every option type once, plus the common set the shipped tools use.
local function specs()
  return options.flatten({
    { { name = "dev", short = "D", type = "ifname", help = "only this device" } },
    { name = "port", short = "p", type = "integer", min = 1, max = 65535, metavar = "PORT",
      help = "a port" },
    { name = "count", type = "integer", help = "unbounded" },
    { name = "mode", type = "choice", values = { "fast", "slow" }, default = "fast",
      aliases = { "speed" }, help = "how" },
    options.common(),
  })
end

local function parse(...) return options.parse(specs(), { ... }) end

local function spec_of(name)
  for _, s in ipairs(specs()) do if s.name == name then return s end end
end

local function form_of(name)
  local s = spec_of(name)
  return options.types[s.type].form(s)
end

-- A bad value: code 2, names the option and the accepted form.
local function bad_value(name, text)
  local ok, err = pcall(usage_err, "option --" .. name .. ": '", parse, "--" .. name, text)
  if not ok then
    local shown = #text > 60 and (text:sub(1, 60) .. "...(" .. #text .. " bytes)") or text
    error(string.format("--%s %q: %s", name, shown, err), 2)
  end
  has(err.msg, "is not valid; expected " .. form_of(name), "message")
  return err
end

local function near(actual, expected, what)
  if math.abs(actual - expected) > 1e-12 * math.max(1, math.abs(expected)) then
    error(string.format("%s: expected %.17g, got %.17g", what, expected, actual), 2)
  end
end

local T = {}

function T.seconds_units()
  local cases = { ["500ns"] = 500e-9, ["250us"] = 250e-6, ["500ms"] = 0.5, ["2s"] = 2,
                  ["3m"] = 180, ["1h"] = 3600, ["5"] = 5, ["1.5"] = 1.5, ["0.25s"] = 0.25,
                  ["1.5m"] = 90, ["007"] = 7 }
  for text, seconds in pairs(cases) do
    near(parse("--interval", text).interval, seconds, text)
  end
end

function T.seconds_rejects_zero_negative_garbage()
  for _, text in ipairs({ "0", "0s", "0.0", "0ms", "-1", "-1s", "", "abc", "s", "ms", "1x",
                          "5M", "1S", "1sec", "1e3", "1 s", " 1", "1 ", "1.5.2", "0x10",
                          "inf", "nan", "1s5", "+1" }) do
    bad_value("interval", text)
    bad_value("duration", text)
  end
end

-- The tool loop turns seconds into whole nanoseconds: anything under
-- 1 ns becomes an interval of 0 and the loop reports without pause.
function T.seconds_below_one_nanosecond_rejected()
  bad_value("interval", "0.5ns")
  bad_value("interval", "0.0000000001")
end

-- tonumber() of a long digit string is inf; a time must be finite.
function T.seconds_overflow_rejected()
  bad_value("duration", "1" .. string.rep("0", 400))
end

function T.integer_bounds()
  eq(parse("--port", "1").port, 1)
  eq(parse("--port", "65535").port, 65535)
  eq(parse("--port", "080").port, 80)
  for _, text in ipairs({ "0", "65536", "-1", "99999999" }) do
    local err = bad_value("port", text)
    has(err.msg, "an integer from 1 to 65535")
  end
  eq(parse("--count", "-5").count, -5)
  eq(parse("--count", "999999999999999999").count, 999999999999999999)
  eq(math.type(parse("--top", "5").top), "integer")
end

function T.integer_rejects_garbage()
  for _, text in ipairs({ "80abc", "abc80", "1e3", "", " 80", "80 ", "+80", "0x50", "8.0",
                          "8,0", "-", "--", "1-2", "١٢", string.rep("9", 19),
                          string.rep("1", 1000) }) do
    bad_value("port", text)
    bad_value("count", text)
  end
end

-- The form of an unbounded integer promises the whole int64 range.
function T.integer_accepts_the_range_it_states()
  eq(parse("--count", "1000000000000000000").count, 1000000000000000000)
  eq(parse("--count", "-999999999999999999").count, -999999999999999999)
  eq(parse("--count", tostring(math.maxinteger)).count, math.maxinteger)
  eq(parse("--count", tostring(math.mininteger)).count, math.mininteger)
  bad_value("count", "9223372036854775808")
  bad_value("count", "-9223372036854775809")
end

function T.choice()
  eq(parse("--format", "json").format, "json")
  eq(parse("--mode", "slow").mode, "slow")
  for _, text in ipairs({ "JSON", "", "text ", " json", "jso", "text,json" }) do
    local err = bad_value("format", text)
    has(err.msg, "one of text, json")
  end
end

function T.flag()
  eq(parse().emit_c, false)
  eq(parse("--emit-c").emit_c, true)
  for _, arg in ipairs({ "--emit-c=x", "--emit-c=", "--emit-c=1" }) do
    local err = usage_err("option --emit-c takes no value", parse, arg)
    has(err.msg, "--emit-c")
  end
  eq(parse().no_cache, false)
  eq(parse("--no-cache").no_cache, true)
  usage_err("option --no-cache takes no value", parse, "--no-cache=1")
end

-- --pack takes a path (test_net checks what the path type refuses).
function T.pack_path()
  eq(parse("--pack", "/tmp/x.pack").pack, "/tmp/x.pack")
  eq(parse("--pack=dir/packs").pack, "dir/packs")
  usage_err("option --pack needs a value", parse, "--pack")
  local err = bad_value("pack", "a\nb")
  has(err.msg, "a path of 1-4096 characters without control characters")
  bad_value("pack", "")
end

function T.ifname_valid()
  eq(parse("--dev", "eth0").dev, "eth0")
  eq(parse("--dev", "veth-a.10").dev, "veth-a.10")
  eq(parse("--dev", string.rep("x", 15)).dev, string.rep("x", 15))
  eq(parse("--dev", "...").dev, "...")
  eq(parse("-D", "br0").dev, "br0")
end

function T.ifname_invalid()
  for _, text in ipairs({ string.rep("x", 16), string.rep("x", 5000), "a/b", "/", "a:b", "eth0:1",
                          "a b", " eth0", "eth0 ", "a\tb", "a\nb", "a\rb", "a\0b", "a\27b",
                          ".", "..", "" }) do
    local err = bad_value("dev", text)
    has(err.msg, "an interface name of 1-15 characters")
  end
end

-- Text a user could use to break out of a C string, comment or
-- statement is refused by every type whose value is free text.
local breakouts = { 'eth0"', 'a\\b', "a\nb", "*/", "/*", "x*/y", '"; } int x; //',
                    "\\\n", "a'b", "%s%n", string.rep("A", 5000) }

function T.breakout_values_rejected_by_numeric_and_choice_types()
  for _, text in ipairs(breakouts) do
    for _, name in ipairs({ "interval", "duration", "port", "count", "top", "format", "mode" }) do
      bad_value(name, text)
    end
  end
end

-- ifname follows the kernel's dev_valid_name(): '"', '\' and '\'' are
-- legal in an interface name, so they are accepted as data; they reach
-- C only as two integers (test_registry checks the generated text).
-- Newlines, '/' (so "*/" and "/*") and over-long text are refused.
function T.breakout_values_and_ifname()
  for _, text in ipairs({ "a\nb", "*/", "/*", "x*/y", '"; } int x; //', "\\\n",
                          string.rep("A", 5000) }) do
    bad_value("dev", text)
  end
  for _, text in ipairs({ 'eth0"', "a\\b", "a'b", "%s%n" }) do
    eq(parse("--dev", text).dev, text)
  end
end

function T.error_echo_is_one_short_line()
  local err = bad_value("port", "1\n2\27[31m")
  has(err.msg, "'1?2?[31m'")
  hasnt(err.msg, "\n")
  hasnt(err.msg, "\27")
  err = bad_value("dev", string.rep("A", 5000))
  has(err.msg, string.rep("A", 40) .. "...'")
  hasnt(err.msg, string.rep("A", 41))
end

function T.name_equals_value()
  local v = parse("--interval=2s", "--dev=eth0", "--top=5", "--format=json", "--port=443")
  near(v.interval, 2, "interval")
  eq({ v.dev, v.top, v.format, v.port }, { "eth0", 5, "json", 443 })
  eq(parse("--dev=a=b").dev, "a=b")
  bad_value("format", "")
  usage_err("option --format: '' is not valid", parse, "--format=")
  usage_err("option --dev: '' is not valid", parse, "--dev=")
end

function T.short_options()
  local v = parse("-i", "2", "-d", "1m", "-t", "5", "-p", "22", "-D", "lo")
  eq({ v.interval, v.duration, v.top, v.port, v.dev }, { 2, 60, 5, 22, "lo" })
  usage_err("unknown option '-i=2'", parse, "-i=2")
  usage_err("unknown option '-i2'", parse, "-i2")
end

function T.aliases()
  eq(parse("--speed", "slow").mode, "slow")
  eq(parse("--speed=slow").mode, "slow")
  bad_value("mode", "warp")
  usage_err("option --mode:", parse, "--speed", "warp")
end

function T.last_value_wins()
  eq(parse("--top", "5", "--top", "7").top, 7)
end

function T.unknown_option()
  usage_err("unknown option '--nope' (see --help)", parse, "--nope")
  usage_err("unknown option '--nope=1'", parse, "--nope=1")
  usage_err("unknown option 'eth0'", parse, "eth0")
  usage_err("unknown option '-x'", parse, "-x")
  usage_err("unknown option '--Top'", parse, "--Top", "5")
end

function T.missing_value()
  for _, name in ipairs({ "interval", "duration", "top", "format", "dev", "port", "mode" }) do
    local err = usage_err("option --" .. name .. " needs a value", parse, "--" .. name)
    has(err.msg, form_of(name))
  end
  usage_err("option --interval needs a value", parse, "-t", "3", "-i")
end

function T.defaults_applied()
  local v = parse()
  -- Absent flags read false; --pack has no default.
  eq(v, { interval = 1, top = 20, format = "text", emit_c = false, no_cache = false, mode = "fast" })
  eq(v.pack, nil)
  v = options.parse(options.common({ interval = 5, top = 3 }), {})
  eq({ v.interval, v.top }, { 5, 3 })
end

function T.help_requested()
  eq(parse("--help").help, true)
  eq(parse("-h").help, true)
  eq(parse("--top", "5", "--help").help, true)
  eq(parse("--help", "--nope").help, true)
end

function T.flatten_nested_lists()
  local flat = options.flatten({ { { name = "a" } }, { name = "b" }, { { { name = "c" } } } })
  eq(flat, { { name = "a" }, { name = "b" }, { name = "c" } })
end

function T.help_text()
  local tool = { name = "demo", about = "A demo tool", requires = "tracepoint skb:kfree_skb",
                 examples = { "vnetscope demo -i 5 -d 60", "vnetscope demo --dev eth0" } }
  local text = options.help(tool, specs())
  has(text, "demo - A demo tool")
  has(text, "Usage: vnetscope demo [options]")
  for _, s in ipairs(specs()) do has(text, "--" .. s.name) end
  has(text, "-i, --interval SECONDS")
  has(text, "-D, --dev IFNAME")
  has(text, "-p, --port PORT")
  has(text, "--mode fast|slow")
  has(text, "seconds between reports (default 1)")
  has(text, "rows per report (default 20)")
  has(text, "(default text)")
  has(text, "(default fast)")
  has(text, "--pack PATH")
  has(text, "-h, --help")
  has(text, "Examples:\n  vnetscope demo -i 5 -d 60\n  vnetscope demo --dev eth0\n")
  has(text, "Requires: tracepoint skb:kfree_skb")
  for line in text:gmatch("[^\n]*") do
    if line:find("--emit-c", 1, true) or line:find("--no-cache", 1, true) then hasnt(line, "FLAG") end
    if line:find("--duration", 1, true) then hasnt(line, "default") end
  end
end

return T
