-- vns.ctxfilter: --pid --comm --dev --threshold as C expressions with
-- constants, cheapest test first; --threshold's typed nanoseconds.
local ctxfilter = require "vns.ctxfilter"
local net = require "vns.net"
local options = require "vns.options"
local h = require "helpers"
local eq, has, hasnt, usage_err, checkerr = h.eq, h.has, h.hasnt, h.usage_err, h.checkerr

local specs = net.options({ "pid", "comm", "dev", "threshold" })
local function parse(argv) return options.parse(specs, argv) end
local function compile(argv, cfg) return ctxfilter.compile(parse(argv), cfg) end

local T = {}

function T.nothing_given_is_true()
  local c = compile({}, {})
  eq(c.text, "1")
  eq(c.any, false)
end

-- "eth0" loads as 0x30687465 and 0; "nginx" as 0x786e69676e. Every value
-- is a run-time constant, VNS_VALUE(T, 0x...).
function T.golden_expressions()
  eq(compile({ "--pid", "42" }).text, "vns_current_pid() == VNS_VALUE(u32, 0x2a)")
  eq(compile({ "--comm", "nginx" }).text, "vns_current_comm_is(VNS_VALUE(u64, 0x786e69676e), VNS_VALUE(u64, 0x0))")
  eq(compile({ "--dev", "eth0" }, { dev = "key.dev" }).text,
     "*(u64 *)&key.dev[0] == VNS_VALUE(u64, 0x30687465) && *(u64 *)&key.dev[8] == VNS_VALUE(u64, 0x0)")
  eq(compile({ "--dev", "eth0" }, { dev_skb = "skb" }).text,
     "vns_skb_dev_is(skb, VNS_VALUE(u64, 0x30687465), VNS_VALUE(u64, 0x0))")
  eq(compile({ "--threshold", "100us" }, { delta = "delta_ns" }).text, "delta_ns >= VNS_VALUE(u64, 0x186a0)")
end

-- Cheapest first: pid, threshold, comm, then the device's probe reads.
function T.order_cheapest_first()
  local c = compile({ "--dev", "eth0", "--comm", "nginx", "--threshold", "1ms", "--pid", "7" },
                    { dev_skb = "skb", delta = "d" })
  eq(c.text, "vns_current_pid() == VNS_VALUE(u32, 0x7) && d >= VNS_VALUE(u64, 0xf4240)"
             .. " && vns_current_comm_is(VNS_VALUE(u64, 0x786e69676e), VNS_VALUE(u64, 0x0))"
             .. " && vns_skb_dev_is(skb, VNS_VALUE(u64, 0x30687465), VNS_VALUE(u64, 0x0))")
  eq(c.any, true)
end

function T.tool_must_say_where_values_are()
  checkerr("needs cfg.delta", function() compile({ "--threshold", "1ms" }, {}) end)
  checkerr("needs cfg.dev or cfg.dev_skb", function() compile({ "--dev", "eth0" }, {}) end)
  checkerr("must be a C name", function() compile({ "--dev", "eth0" }, { dev = "x; y" }) end)
  checkerr("must be a C name", function() compile({ "--threshold", "1s" }, { delta = "a)||(1" }) end)
end

-- Names with C metacharacters the kernel allows reach C only as numbers.
function T.names_never_pasted()
  for _, dev in ipairs({ 'a"b', "a\\b", "x'y", "%s%n", "{{X}}" }) do
    local c = compile({ "--dev", dev }, { dev = "name" })
    hasnt(c.text, dev)
  end
end

function T.threshold_units()
  local cases = { ["500ns"] = 500, ["250us"] = 250000, ["100ms"] = 100000000, ["2s"] = 2000000000,
                  ["1.5ms"] = 1500000, ["0ns"] = 0, ["0.5us"] = 500, ["3600s"] = 3600000000000 }
  for text, ns in pairs(cases) do
    local v = parse({ "--threshold", text }).threshold
    eq(math.type(v), "integer", text)
    eq(v, ns, text)
  end
end

-- The unit is required: "100" alone means different things to different tools.
function T.threshold_rejects_bare_numbers_and_garbage()
  for _, text in ipairs({ "100", "", "ms", "1m", "1h", "-1ms", "1 ms", "1e3us", "1.5.2ms", "3601s",
                          "1" .. string.rep("0", 40) .. "ns", "0x10ns", "1MS", "+1s" }) do
    local err = usage_err("option --threshold: '", parse, { "--threshold", text })
    has(err.msg, "expected a time with a unit: ns, us, ms or s")
  end
end

return T
