-- vns.template: typed placeholders, the only way values reach BPF C.
local template = require "vns.template"
local h = require "helpers"
local eq, checkerr, has = h.eq, h.checkerr, h.has

local T = {}

function T.render_typed_values()
  local text = template.render("n={{ N }} c={{C}} b={{ B }} f={{  F  }} n2={{ N }}", {
    N = template.int(42), C = template.code("x + 1"), B = template.bool(true),
    F = template.bool(false),
  })
  eq(text, "n=42 c=x + 1 b=1 f=0 n2=42")
end

function T.render_leaves_other_braces()
  local text = "struct k { int a; };\nint f(void) { return {{ V }}; }"
  eq(template.render(text, { V = template.int(7) }), "struct k { int a; };\nint f(void) { return 7; }")
  eq(template.render("no placeholders", {}), "no placeholders")
end

-- A fragment is copied as is: '%' in it is not a gsub replacement escape.
function T.render_copies_fragments_verbatim()
  eq(template.render("{{ X }}", { X = template.code('printk("100%% %d %1\\n")') }),
     'printk("100%% %d %1\\n")')
end

function T.untyped_values_rejected()
  local cases = { { "eth0", "string" }, { 5, "number" }, { { text = "1" }, "table" },
                  { true, "boolean" } }
  for _, c in ipairs(cases) do
    local err = checkerr("{{ NAME }} got an untyped " .. c[2], template.render,
                         "x = {{ NAME }};", { NAME = c[1] })
    has(err, "template.int/code")
  end
end

function T.missing_value()
  checkerr("template: no value for {{ MAX_KEYS }}", template.render,
           "BPF_HASH(m, u32, u64, {{ MAX_KEYS }});", {})
  checkerr("no value for {{ B }}", template.render, "{{ A }} {{ B }}", { A = template.int(1) })
end

function T.unused_value()
  checkerr("template: value EXTRA has no placeholder", template.render, "{{ A }}",
           { A = template.int(1), EXTRA = template.int(2) })
end

function T.int_literals()
  eq(template.int(0).text, "0")
  eq(template.int(10240).text, "10240")
  eq(template.int(math.maxinteger).text, "9223372036854775807")
end

-- u64 values above 2^63 are negative Lua integers: printed as their bits.
function T.int_negative_is_u64_bits()
  eq(template.int(-1).text, "0xffffffffffffffffULL")
  eq(template.int(-2).text, "0xfffffffffffffffeULL")
  eq(template.int(math.mininteger).text, "0x8000000000000000ULL")
  eq(template.render("{{ V }}", { V = template.int(-1) }), "0xffffffffffffffffULL")
end

function T.int_needs_an_integer()
  for _, v in ipairs({ 1.5, 2.0, "5", true, {} }) do
    checkerr("template.int needs an integer", template.int, v)
  end
  checkerr("template.int needs an integer", template.int, nil)
end

-- A value given at launch: VNS_VALUE(T, 0x...), which the cache patches.
function T.value_formats_typed_hex()
  local v = template.value(0x3500, "u16")
  eq(template.is_typed(v), true)
  eq(v.text, "VNS_VALUE(u16, 0x3500)")
  eq(template.value(0, "u8").text, "VNS_VALUE(u8, 0x0)")
  eq(template.value(255, "u8").text, "VNS_VALUE(u8, 0xff)")
  eq(template.value(0xffff, "u16").text, "VNS_VALUE(u16, 0xffff)")
  eq(template.value(0x0100000a, "u32").text, "VNS_VALUE(u32, 0x100000a)")
  eq(template.value(0xffffffff, "u32").text, "VNS_VALUE(u32, 0xffffffff)")
  eq(template.value(math.maxinteger, "u64").text, "VNS_VALUE(u64, 0x7fffffffffffffff)")
  eq(template.render("x == {{ V }};", { V = template.value(6, "u8") }), "x == VNS_VALUE(u8, 0x6);")
end

-- u64 values above 2^63 are negative Lua integers: printed as their bits.
function T.value_negative_u64_is_bits()
  eq(template.value(-1, "u64").text, "VNS_VALUE(u64, 0xffffffffffffffff)")
  eq(template.value(math.mininteger, "u64").text, "VNS_VALUE(u64, 0x8000000000000000)")
end

function T.value_rejects_bad_ctype_and_values()
  for _, ctype in ipairs({ "u128", "s32", "int", "U32", "", 32 }) do
    checkerr("template.value: ctype must be u8, u16, u32 or u64", template.value, 1, ctype)
  end
  checkerr("template.value: ctype must be u8, u16, u32 or u64", template.value, 1, nil)
  for _, v in ipairs({ 1.5, 2.0, "5", true, {} }) do
    checkerr("template.value needs an integer", template.value, v, "u32")
  end
  checkerr("template.value needs an integer", template.value, nil, "u32")
  local range = {
    { 256, "u8" }, { -1, "u8" }, { 0x10000, "u16" }, { -1, "u16" },
    { 0x100000000, "u32" }, { -1, "u32" }, { math.mininteger, "u32" },
  }
  for _, r in ipairs(range) do
    checkerr("template.value: out of range for " .. r[2], template.value, r[1], r[2])
  end
end

function T.code_needs_a_string()
  for _, v in ipairs({ 5, true, {}, template.int(1) }) do
    checkerr("template.code needs a string", template.code, v)
  end
  checkerr("template.code needs a string", template.code, nil)
end

function T.is_typed()
  eq(template.is_typed(template.int(1)), true)
  eq(template.is_typed(template.code("x")), true)
  eq(template.is_typed(template.bool(false)), true)
  eq(template.is_typed({ text = "x" }), false)
  eq(template.is_typed("x"), false)
end

-- "eth0" = 65 74 68 30 00.. read as little-endian u64 words, each a
-- run-time constant (template.value).
function T.ifname_words_eth0()
  local lo, hi = template.ifname_words("eth0")
  eq(template.is_typed(lo), true)
  eq(template.is_typed(hi), true)
  eq(lo.text, "VNS_VALUE(u64, 0x30687465)")
  eq(hi.text, "VNS_VALUE(u64, 0x0)")
  eq(lo.text, string.format("VNS_VALUE(u64, 0x%x)", 0x30687465))
end

function T.ifname_words_15_chars()
  local lo, hi = template.ifname_words("abcdefghijklmno")
  eq(lo.text, string.format("VNS_VALUE(u64, 0x%x)", 0x6867666564636261))   -- "abcdefgh"
  eq(hi.text, string.format("VNS_VALUE(u64, 0x%x)", 0x006f6e6d6c6b6a69))   -- "ijklmno\0"
  eq(lo.text, "VNS_VALUE(u64, 0x6867666564636261)")
  eq(hi.text, "VNS_VALUE(u64, 0x6f6e6d6c6b6a69)")
end

-- A byte >= 0x80 in the top byte of a word makes it negative in Lua;
-- the word still prints as its unsigned bits.
function T.ifname_words_high_bytes()
  local lo, hi = template.ifname_words("abcdefg\xe9x")
  eq(lo.text, "VNS_VALUE(u64, 0xe967666564636261)")
  eq(hi.text, "VNS_VALUE(u64, 0x78)")                   -- "x"
end

-- A name the kernel cannot have (empty, or 16+ bytes with no room for
-- the NUL) would become a filter that silently matches nothing.
function T.ifname_words_rejects_impossible_names()
  checkerr("", template.ifname_words, string.rep("x", 16))
  checkerr("", template.ifname_words, string.rep("x", 40))
  checkerr("", template.ifname_words, "")
end

function T.read_template()
  local text = template.read("drop-summary.c")
  has(text, "VNS_TP(skb, kfree_skb)")
  has(text, "{{ DEV_FILTER }}")
  checkerr("no%-such%.c", template.read, "no-such.c")
end

return T
