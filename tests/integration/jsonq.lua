-- jsonq.lua FILE EXPR: decode every line of FILE as JSON (a line that is
-- not JSON is an error), then print the value of the Lua expression EXPR
-- with d = the last line's object and lines = all of them; several
-- results print separated by one space.
-- A small strict decoder, so the tests need nothing beyond lua5.4.
local null = setmetatable({}, { __name = "null" })  -- JSON null, distinct from absent

local function decoder(s)
  local pos = 1
  local function fail(what) error(string.format("JSON: %s at byte %d", what, pos), 0) end
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local escapes = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
  local value

  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local c = s:sub(pos, pos)
      if c == "" then fail("unterminated string") end
      if c == '"' then pos = pos + 1; return table.concat(out) end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        if e == "u" then
          local hex = s:sub(pos + 2, pos + 5)
          if not hex:match("^%x%x%x%x$") then fail("bad \\u escape") end
          out[#out + 1], pos = utf8.char(tonumber(hex, 16)), pos + 6
        else
          out[#out + 1], pos = escapes[e] or fail("bad escape"), pos + 2
        end
      else
        out[#out + 1], pos = c, pos + 1
      end
    end
  end

  local function list(close, item)
    local t = {}
    pos = pos + 1
    ws()
    if s:sub(pos, pos) == close then pos = pos + 1; return t end
    while true do
      item(t)
      ws()
      local c = s:sub(pos, pos)
      pos = pos + 1
      if c == close then return t end
      if c ~= "," then fail("expected ',' or '" .. close .. "'") end
    end
  end

  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      return list("}", function(t)
        ws()
        if s:sub(pos, pos) ~= '"' then fail("expected a key") end
        local k = str()
        ws()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        t[k] = value()
      end)
    elseif c == "[" then
      return list("]", function(t) t[#t + 1] = value() end)
    elseif c == '"' then
      return str()
    end
    for word, v in pairs({ ["true"] = true, ["false"] = false, null = null }) do
      if s:sub(pos, pos + #word - 1) == word then pos = pos + #word; return v end
    end
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not num or num == "" then fail("unexpected '" .. c .. "'") end
    pos = pos + #num
    return math.tointeger(tonumber(num)) or tonumber(num)
  end

  local v = value()
  ws()
  if pos <= #s then fail("trailing text") end
  return v
end

local path, expr = arg[1], arg[2]
local lines = {}
for line in assert(io.open(path)):lines() do
  if line ~= "" then lines[#lines + 1] = decoder(line) end
end
local env = setmetatable({ d = lines[#lines], lines = lines }, { __index = _G })
local chunk = assert(load("return " .. expr, "=expr", "t", env))
local out = table.pack(chunk())
for i = 1, out.n do out[i] = tostring(out[i]) end
print(table.concat(out, " ", 1, out.n))
