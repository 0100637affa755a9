-- options: typed command-line options. A tool declares what it takes;
-- this parses argv, checks every value against its type, and builds the
-- --help text. A bad value is one usage error naming the option, the
-- value and the accepted form (exit status 2), before anything compiles.
local errors = require "vns.errors"

local M = {}

local units = { ns = 1e-9, us = 1e-6, ms = 1e-3, s = 1, m = 60, h = 3600 }

-- Each type: parse(text, spec) -> value, or nil [, why] when the text is
-- not of the type; form(spec) says what is accepted.
M.types = {
  seconds = {
    parse = function(text)
      local num, unit = text:match("^(%d+%.?%d*)(%a*)$")
      local scale = units[unit ~= "" and unit or "s"]
      local v = num and scale and tonumber(num) * scale
      if v and v >= 1e-9 and v < math.huge then return v end
    end,
    form = function() return "a positive time: seconds, or with a unit (500ms, 2s, 1m)" end,
  },
  integer = {
    parse = function(text, spec)
      local sign, digits = text:match("^(%-?)0*(%d+)$")
      if not digits or #digits > 19 then return nil end
      local v = math.tointeger(tonumber(text))
      if v and string.format("%d", v) ~= (v == 0 and "0" or sign .. digits) then v = nil end
      if v and (not spec.min or v >= spec.min) and (not spec.max or v <= spec.max) then return v end
    end,
    form = function(spec)
      return string.format("an integer from %d to %d", spec.min or math.mininteger, spec.max or math.maxinteger)
    end,
  },
  -- A time with a unit, as integer nanoseconds (thresholds): the unit is
  -- required, since "100" alone is ambiguous between tools.
  nanoseconds = {
    parse = function(text, spec)
      if #text > 32 then return nil end  -- and the match below cannot backtrack long
      local num, unit = text:match("^(%d+%.?%d*)(%a+)$")
      local scale = ({ ns = 1, us = 1e3, ms = 1e6, s = 1e9 })[unit]
      local v = num and #num <= 20 and scale and math.tointeger(math.floor(tonumber(num) * scale + 0.5))
      if v and v >= (spec.min or 0) and v <= (spec.max or 3600 * 1e9) then return v end
    end,
    form = function() return "a time with a unit: ns, us, ms or s (500us, 100ms, 1.5s), up to 1h" end,
  },
  -- A file or directory to read; it never reaches generated C.
  path = {
    parse = function(text)
      if #text >= 1 and #text <= 4096 and not text:find("%c") then return text end
    end,
    form = function() return "a path of 1-4096 characters without control characters" end,
  },
  choice = {
    parse = function(text, spec)
      for _, v in ipairs(spec.values) do if v == text then return v end end
    end,
    form = function(spec) return "one of " .. table.concat(spec.values, ", ") end,
  },
  -- Interface names follow the kernel's dev_valid_name(): 1-15 bytes,
  -- not "." or "..", no '/', ':' or white space.
  ifname = {
    parse = function(text)
      if #text >= 1 and #text <= 15 and text ~= "." and text ~= ".."
         and not text:find("[/:%s%c]") then
        return text
      end
    end,
    form = function() return "an interface name of 1-15 characters without '/', ':' or spaces" end,
  },
}

-- The key of an option's value in the parsed table: "phy-dev" -> phy_dev.
function M.key_of(name) return (name:gsub("-", "_")) end
local key_of = M.key_of

local function find_spec(specs, arg)
  for _, s in ipairs(specs) do
    if arg == "--" .. s.name or (s.short and arg == "-" .. s.short) then return s end
    for _, alias in ipairs(s.aliases or {}) do
      if arg == "--" .. alias then return s end
    end
  end
end

local function convert(spec, text)
  local kind = M.types[spec.type]
  local value, why = kind.parse(text, spec)
  if value == nil then
    local shown = #text > 40 and (text:sub(1, 40) .. "...") or text
    why = why and " (" .. why:gsub("%c", "?") .. ")" or ""
    errors.usage("option --%s: '%s' is not valid%s; expected %s", spec.name,
                 shown:gsub("%c", "?"), why, kind.form(spec))
  end
  return value
end

-- Flatten nested option lists (tools combine common sets with their own).
function M.flatten(list, out)
  out = out or {}
  for _, item in ipairs(list) do
    if item.name then out[#out + 1] = item else M.flatten(item, out) end
  end
  return out
end

function M.parse(specs, argv)
  local values, i = {}, 1
  for _, s in ipairs(specs) do
    if s.type == "flag" then values[key_of(s.name)] = false else values[key_of(s.name)] = s.default end
  end
  while i <= #argv do
    local arg, inline = argv[i], nil
    local name, eq = arg:match("^(%-%-[^=]+)=(.*)$")
    if name then arg, inline = name, eq end
    if arg == "--help" or arg == "-h" then values.help = true; return values end
    local spec = find_spec(specs, arg)
    if not spec then errors.usage("unknown option '%s' (see --help)", argv[i]) end
    if spec.type == "flag" then
      if inline then errors.usage("option --%s takes no value", spec.name) end
      values[key_of(spec.name)] = true
    else
      local text = inline or argv[i + 1]
      if text == nil then errors.usage("option --%s needs a value: %s", spec.name, M.types[spec.type].form(spec)) end
      if not inline then i = i + 1 end
      values[key_of(spec.name)] = convert(spec, text)
    end
    i = i + 1
  end
  return values
end

-- The rows of --help's option list, {flag, text} each, --help last: the
-- man pages (tools/gendoc.lua) show the same rows.
function M.help_rows(specs)
  local rows = {}
  for _, s in ipairs(specs) do
    local flag = (s.short and ("-" .. s.short .. ", ") or "    ") .. "--" .. s.name
    if s.type == "choice" then flag = flag .. " " .. table.concat(s.values, "|")
    elseif s.type ~= "flag" then flag = flag .. " " .. (s.metavar or s.type:upper()) end
    local default = s.default ~= nil and string.format(" (default %s)", tostring(s.default)) or ""
    rows[#rows + 1] = { flag, (s.help or "") .. default }
  end
  rows[#rows + 1] = { "-h, --help", "this text" }
  return rows
end

function M.help(tool, specs)
  local out = { string.format("%s - %s\n\nUsage: vnetscope %s [options]\n\nOptions:", tool.name, tool.about, tool.name) }
  for _, row in ipairs(M.help_rows(specs)) do
    out[#out + 1] = string.format("  %-28s %s", row[1], row[2])
  end
  if tool.examples then
    out[#out + 1] = "\nExamples:"
    for _, e in ipairs(tool.examples) do out[#out + 1] = "  " .. e end
  end
  if tool.requires then out[#out + 1] = "\nRequires: " .. tool.requires end
  return table.concat(out, "\n") .. "\n"
end

-- The options every tool shares. -t/--top is for tools that print rows
-- of a table: not for details tools, nor where defaults.top is false.
function M.common(defaults, kind)
  defaults = defaults or {}
  local list = {
    { name = "interval", short = "i", type = "seconds", default = defaults.interval or 1,
      help = "seconds between reports" },
    { name = "duration", short = "d", type = "seconds", help = "stop after this long" },
  }
  if kind ~= "details" and defaults.top ~= false then
    list[#list + 1] = { name = "top", short = "t", type = "integer", min = 1, max = 100000,
                        default = defaults.top or 20, help = "rows per report" }
  end
  -- defaults.formats: more than text and json (e.g. folded stacks); the
  -- tool's render gets them.
  local formats = { "text", "json" }
  for _, f in ipairs(defaults.formats or {}) do formats[#formats + 1] = f end
  list[#list + 1] = { name = "format", type = "choice", values = formats, default = "text",
                      help = "text, or one JSON object per line" .. (defaults.formats and ", or " .. table.concat(defaults.formats, ", ") or "") }
  list[#list + 1] = { name = "emit-c", type = "flag", help = "print the generated BPF C and exit" }
  list[#list + 1] = { name = "no-cache", type = "flag", help = "compile, neither using nor filling the cache" }
  list[#list + 1] = { name = "pack", type = "path",
                      help = "load the program from a pack made by 'vnetscope compile' (a file or directory)" }
  return list
end

return M
