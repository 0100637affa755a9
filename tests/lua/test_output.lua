-- vns.output: aligned text tables and JSON.
local output = require "vns.output"
local h = require "helpers"
local eq, checkerr = h.eq, h.checkerr

local function table_text(headers, rows, indent)
  local b = h.buffer()
  output.table(b, headers, rows, indent)
  return b:text()
end

local T = {}

-- Numbers right, text left, the last text column unpadded.
function T.table_alignment()
  local text = table_text({ "COUNT", "NAME", "RATE", "DEV" }, {
    { 10, "alpha", 1.5, "eth0" },
    { 2000, "b", 22.25, "veth123" },
  })
  eq(text, table.concat({
    "COUNT  NAME    RATE  DEV",
    "   10  alpha    1.5  eth0",
    " 2000  b      22.25  veth123",
    "" }, "\n"))
end

function T.table_last_numeric_column_is_padded()
  eq(table_text({ "NAME", "N" }, { { "a", 5 }, { "bb", 100 } }),
     "NAME    N\na       5\nbb    100\n")
end

function T.table_no_trailing_spaces()
  local text = table_text({ "A", "LONG HEADER" }, { { "xxxxxxxx", "y" }, { "z", "w" } })
  for line in text:gmatch("[^\n]+") do
    if line:find(" $") then error("trailing space in " .. string.format("%q", line)) end
  end
end

-- A column with any non-number (or a missing cell) is text.
function T.table_mixed_and_missing_cells()
  eq(table_text({ "V", "W" }, { { 1, "x" }, { "abc", "y" } }), "V    W\n1    x\nabc  y\n")
  eq(table_text({ "N", "W" }, { { 1, "x" }, { nil, "y" } }), "N  W\n1  x\n-  y\n")
end

function T.table_indent_and_no_rows()
  eq(table_text({ "COUNT", "REASON" }, { { 3, "NO_SOCKET" } }, "  "),
     "  COUNT  REASON\n      3  NO_SOCKET\n")
  eq(table_text({ "COUNT", "REASON" }, {}), "COUNT  REASON\n")
end

function T.json_scalars()
  eq(output.json(nil), "null")
  eq(output.json(true), "true")
  eq(output.json(false), "false")
  eq(output.json("x"), '"x"')
end

function T.json_integers()
  eq(output.json(0), "0")
  eq(output.json(42), "42")
  eq(output.json(-7), "-7")
  eq(output.json(math.maxinteger), "9223372036854775807")
  eq(output.json(math.mininteger), "-9223372036854775808")
end

function T.json_floats_round_trip()
  for _, v in ipairs({ 2.5, -0.25, 1e300, 1.0, 3.0, 0.1, 1 / 3, 2 ^ 63, 5e-324 }) do
    local text = output.json(v)
    if tonumber(text) ~= v then error(string.format("%.17g encoded as %s", v, text)) end
    if not text:match("^%-?%d+%.?%d*[eE]?[-+]?%d*$") then error("not a JSON number: " .. text) end
  end
  eq(output.json(2.5), "2.5")
end

-- %.17g prints 0.1 as 0.10000000000000001; seen in drop-summary's
-- "elapsed_s":0.00048687900000000001. The shortest round-trip form reads
-- better and is what other JSON encoders print.
function T.json_floats_shortest()
  eq(output.json(0.1), "0.1")
  eq(output.json(0.000486879), "0.000486879")
  eq(output.json(1.1), "1.1")
end

function T.json_nan_inf_are_null()
  eq(output.json(0 / 0), "null")
  eq(output.json(math.huge), "null")
  eq(output.json(-math.huge), "null")
  eq(output.json({ a = 0 / 0, b = { math.huge } }), '{"a":null,"b":[null]}')
end

function T.json_string_escapes()
  eq(output.json('say "hi"'), '"say \\"hi\\""')
  eq(output.json("a\\b"), '"a\\\\b"')
  eq(output.json("\n\r\t\b\f"), '"\\n\\r\\t\\b\\f"')
  eq(output.json("\0\1\31\127"), '"\\u0000\\u0001\\u001f\\u007f"')
  eq(output.json("\27[31m"), '"\\u001b[31m"')
  eq(output.json("a/b é"), '"a/b é"')
end

function T.json_sorted_keys()
  eq(output.json({ b = 1, a = 2, c = 3, aa = 4 }), '{"a":2,"aa":4,"b":1,"c":3}')
  eq(output.json({ ["k\"ey"] = 1 }), '{"k\\"ey":1}')
end

function T.json_arrays()
  eq(output.json({ 1, 2, 3 }), "[1,2,3]")
  eq(output.json({ "x", { y = 1 } }), '["x",{"y":1}]')
  eq(output.json(output.array({ 1 })), "[1]")
end

function T.json_empty_table_and_array()
  eq(output.json({}), "{}")
  eq(output.json(output.array()), "[]")
  eq(output.json({ drops = output.array(), total = 0 }), '{"drops":[],"total":0}')
end

function T.json_nested()
  eq(output.json({ a = { b = { 1, 2, { c = true } } }, z = "s" }),
     '{"a":{"b":[1,2,{"c":true}]},"z":"s"}')
end

-- Tables that are not sequences are objects with string keys.
function T.json_mixed_keys()
  eq(output.json({ 1, 2, x = 3 }), '{"1":1,"2":2,"x":3}')
  eq(output.json({ [10] = "a", [2] = "b" }), '{"10":"a","2":"b"}')
end

function T.json_rejects_functions()
  checkerr("cannot encode a function as JSON", output.json, print)
  checkerr("cannot encode a function as JSON", output.json, { f = print })
end

function T.json_line_writes_and_flushes()
  local b = h.buffer()
  output.json_line(b, { total = 1 })
  output.json_line(b, { total = 2 })
  eq(b:text(), '{"total":1}\n{"total":2}\n')
  eq(b.flushes, 2)
end

function T.timestamp()
  if not output.timestamp():match("^%d%d:%d%d:%d%d$") then
    error("timestamp " .. output.timestamp())
  end
end

return T
