-- vns.tooldef: the allowed fields of a tool definition and their types.
local tooldef = require "vns.tooldef"
local core = require "vns.core"
local h = require "helpers"
local eq, checkerr, has = h.eq, h.checkerr, h.has

local function def(extra)
  local d = { name = "demo", about = "Demo", program = print }
  for k, v in pairs(extra or {}) do d[k] = v end
  return d
end

local T = {}

function T.a_minimal_definition_passes()
  local d = def()
  eq(tooldef.check(d, "summary"), d)
  tooldef.check(def({ events = "events", decode = print, print = print, ring = true, pages = 64 }), "details")
end

function T.every_known_field_with_a_value_of_its_type()
  tooldef.check(def({
    kind = "summary", aliases = { "old_name" }, examples = { "vnetscope demo" }, requires = "a tracepoint",
    probes = { "tracepoint:skb:kfree_skb" }, options = {}, defaults = { interval = 5 },
    check_variants = { { "--dev", "eth0" } }, tracing = "Tracing...", filter = true, counts = {},
    prepare = print, setup = print, collect = print, render = print, header = print,
    path = "/x/demo.lua", layer = "misc",
  }), "summary")
  tooldef.check(def({ filter = {} }), "summary")
end

function T.unknown_field_is_named_with_the_known_ones()
  local err = checkerr("tool demo: unknown field 'colect' (known: about, aliases, ", tooldef.check,
                       def({ colect = print }), "summary")
  eq(err.code, 1)
  checkerr("tool demo: unknown field '1'", tooldef.check, def({ "x" }), "summary")
  checkerr("tool ?: unknown field 'nmae'", tooldef.check, { nmae = "x", about = "y", program = print })
end

function T.types_are_checked()
  local cases = {
    { { collect = "collect" }, "field 'collect' must be a function, not \"collect\"" },
    { { program = [[ C ]] }, "field 'program' must be a function, not \" C \"" },
    { { about = 3 }, "field 'about' must be a non-empty string, not number" },
    { { name = "" }, "field 'name' must be a non-empty string, not \"\"" },
    { { options = "dev" }, "field 'options' must be a table" },
    { { aliases = "old" }, "field 'aliases' must be a list of strings, not \"old\"" },
    { { aliases = { "a", 2 } }, "field 'aliases' must be a list of strings, not table" },
    { { kind = "special" }, "field 'kind' must be \"summary\" or \"details\"" },
    { { filter = false }, "field 'filter' must be a table or true, not boolean" },
    { { ring = "yes" }, "field 'ring' must be true or false" },
    { { pages = 0 }, "field 'pages' must be a positive integer" },
  }
  for _, c in ipairs(cases) do
    local err = checkerr(c[2], tooldef.check, def(c[1]), "summary")
    eq(err.code, 1)
  end
end

function T.required_fields()
  checkerr("tool demo: missing field 'program' (every tool needs name, about, program)", tooldef.check,
           { name = "demo", about = "x" }, "summary")
  checkerr("tool demo: missing field 'decode' (a details tool needs events, decode, print)", tooldef.check,
           def({ events = "e", print = print }), "details")
  checkerr("missing field 'events'", tooldef.check, def({ kind = "details" }), "summary")
  checkerr("a tool definition is a table, not string", tooldef.check, "demo", "summary")
end

-- docs/adding-a-tool.md describes every field.
function T.every_field_is_documented()
  local f = assert(io.open(core.share_dir .. "/docs/adding-a-tool.md"))
  local text = f:read("a")
  f:close()
  for field in pairs(tooldef.fields) do has(text, "`" .. field .. "`", "docs/adding-a-tool.md") end
end

return T
