-- tooldef: the fields a tool definition (tool.summary{...},
-- tool.details{...}) may have, and check(def), which names any unknown
-- field or hook and any value of the wrong type. docs/adding-a-tool.md
-- describes each field; a test keeps that page and this table in step.
local errors = require "vns.errors"

local M = {}

local function list_of_strings(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for _, s in pairs(v) do
    if type(s) ~= "string" then return false end
    n = n + 1
  end
  return n == #v
end

-- Each type: a test and the words an error shows.
local types = {
  string = { function(v) return type(v) == "string" and v ~= "" end, "a non-empty string" },
  ["function"] = { function(v) return type(v) == "function" end, "a function" },
  table = { function(v) return type(v) == "table" end, "a table" },
  boolean = { function(v) return type(v) == "boolean" end, "true or false" },
  count = { function(v) return math.type(v) == "integer" and v > 0 end, "a positive integer" },
  strings = { list_of_strings, "a list of strings" },
  kind = { function(v) return v == "summary" or v == "details" end, '"summary" or "details"' },
  table_or_true = { function(v) return type(v) == "table" or v == true end, "a table or true" },
}

-- field -> type. Hooks are the functions.
M.fields = {
  name = "string", about = "string", kind = "kind", aliases = "strings", examples = "strings",
  requires = "string", probes = "strings", caveats = "function", options = "table", defaults = "table",
  check_variants = "table", tracing = "string", filter = "table_or_true", counts = "table",
  program = "function", prepare = "function", setup = "function", collect = "function",
  render = "function",
  -- details tools
  events = "string", ring = "boolean", pages = "count", decode = "function", print = "function",
  header = "function", row = "table",
  -- set by the registry for a shipped tool
  path = "string", layer = "string",
}

local function shown(v)
  return type(v) == "string" and string.format("%q", v) or type(v)
end

local required = { "name", "about", "program" }
local required_details = { "events", "decode", "print" }
local required_fast = { "events", "row" }

local function known()
  local names = {}
  for name in pairs(M.fields) do names[#names + 1] = name end
  table.sort(names)
  return table.concat(names, ", ")
end

local function need(def, label, fields, what)
  for _, f in ipairs(fields) do
    if def[f] == nil then
      errors.fail("%s: missing field '%s' (%s needs %s)", label, f, what, table.concat(fields, ", "))
    end
  end
end

-- kind is the constructor's (summary or details) unless def says.
function M.check(def, kind)
  if type(def) ~= "table" then errors.fail("a tool definition is a table, not %s", type(def)) end
  local label = "tool " .. (type(def.name) == "string" and def.name or "?")
  for field, value in pairs(def) do
    local t = M.fields[field]
    if not t then errors.fail("%s: unknown field '%s' (known: %s)", label, tostring(field), known()) end
    if not types[t][1](value) then
      errors.fail("%s: field '%s' must be %s, not %s", label, field, types[t][2], shown(value))
    end
  end
  need(def, label, required, "every tool")
  if (def.kind or kind) == "details" then
    need(def, label, def.row and required_fast or required_details, "a details tool")
  end
  return def
end

return M
