-- output: aligned text tables and JSON lines.
local M = {}

local function cell(v)
  if v == nil then return "-" end
  return tostring(v)
end

-- Columns whose every value is a number are right-aligned.
local function numeric_columns(headers, rows)
  local numeric = {}
  for c = 1, #headers do
    numeric[c] = #rows > 0
    for _, row in ipairs(rows) do
      if math.type(row[c]) == nil then numeric[c] = false break end
    end
  end
  return numeric
end

-- after(i, out), when given, writes lines under row i (e.g. its stack).
function M.table(out, headers, rows, indent, after)
  indent = indent or ""
  local width = {}
  for c, h in ipairs(headers) do width[c] = #h end
  for _, row in ipairs(rows) do
    for c = 1, #headers do width[c] = math.max(width[c], #cell(row[c])) end
  end
  local numeric = numeric_columns(headers, rows)
  local function line(values)
    local parts = {}
    for c = 1, #headers do
      local v, pad = cell(values[c]), width[c] - #cell(values[c])
      if c == #headers and not numeric[c] then
        parts[c] = v
      else
        parts[c] = numeric[c] and (string.rep(" ", pad) .. v) or (v .. string.rep(" ", pad))
      end
    end
    out:write(indent, table.concat(parts, "  "), "\n")
  end
  line(headers)
  for i, row in ipairs(rows) do
    line(row)
    if after then after(i, out) end
  end
end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
                  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- Mark a table as a JSON array, so that an empty one prints as [].
M.array_mt = {}
function M.array(t) return setmetatable(t or {}, M.array_mt) end

local function is_array(t)
  if getmetatable(t) == M.array_mt then return true end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

-- JSON with object keys sorted, so output is stable line to line.
function M.json(v)
  local kind = type(v)
  if kind == "nil" then return "null" end
  if kind == "boolean" then return tostring(v) end
  if kind == "number" then
    if math.type(v) == "integer" then return string.format("%d", v) end
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    for digits = 15, 17 do
      local s = string.format("%." .. digits .. "g", v)
      if tonumber(s) == v then return s end
    end
  end
  if kind == "string" then return encode_string(v) end
  if kind ~= "table" then error("cannot encode a " .. kind .. " as JSON") end
  local parts = {}
  if (next(v) ~= nil or getmetatable(v) == M.array_mt) and is_array(v) then
    for i, item in ipairs(v) do parts[i] = M.json(item) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for i, k in ipairs(keys) do
    local value = v[k]
    if value == nil then value = v[tonumber(k)] end
    parts[i] = encode_string(k) .. ":" .. M.json(value)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function M.json_line(out, v)
  out:write(M.json(v), "\n")
  out:flush()
end

function M.timestamp()
  return os.date("%H:%M:%S")
end

-- Wall-clock seconds as "HH:MM:SS.uuuuuu", for one event's line.
function M.clock(t)
  local sec = math.floor(t)
  return os.date("%H:%M:%S", sec) .. string.format(".%06d", math.floor((t - sec) * 1e6))
end

return M
