-- helpers: assertions shared by the stdlib tests. Each raises at level 2,
-- so a failure names the test line that called it.
local M = {}

-- The text of an error: a string, or the msg of a vns.errors table.
function M.message_of(err)
  if type(err) == "table" then return err.msg end
  return err
end

-- Plain find first, so "--dev" or "{{ X }}" need no escaping; then the
-- text as a Lua pattern (a malformed pattern just does not match).
local function matches(text, pattern)
  if text:find(pattern, 1, true) then return true end
  local ok, found = pcall(string.find, text, pattern)
  return ok and found ~= nil
end

local function check(level, pattern, f, ...)
  local ok, err = pcall(f, ...)
  if ok then error(string.format("expected an error matching %q; none was raised", pattern), level) end
  local msg = M.message_of(err)
  if type(msg) ~= "string" then
    error(string.format("error object without a message: %s", tostring(err)), level)
  end
  if not matches(msg, pattern) then
    error(string.format("error %q does not match %q", msg, pattern), level)
  end
  return err
end

-- f(...) must raise an error whose message matches pattern; returns the
-- error object so the caller can check its .code (after Lua's
-- testes/files.lua checkerr).
function M.checkerr(pattern, f, ...)
  local err = check(3, pattern, f, ...)  -- not a tail call: level 3 is the caller
  return err
end

-- The same for a usage error (vns.errors.usage): code 2, exit status 2.
function M.usage_err(pattern, f, ...)
  local err = check(3, pattern, f, ...)
  if type(err) ~= "table" or err.code ~= 2 then
    error(string.format("error %q: expected code 2, got %s", M.message_of(err),
                        tostring(type(err) == "table" and err.code or "a string error")), 2)
  end
  return err
end

local function show(v)
  if type(v) == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
  if math.type(v) == "float" then return string.format("%.17g (float)", v) end
  return tostring(v)
end

local function key_path(path, k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return path .. "." .. k end
  return path .. "[" .. show(k) .. "]"
end

local function sorted_keys(a, b)
  local seen, keys = {}, {}
  for _, t in ipairs({ a, b }) do
    for k in pairs(t) do
      if not seen[k] then seen[k] = true; keys[#keys + 1] = k end
    end
  end
  table.sort(keys, function(x, y)
    if type(x) == type(y) and (type(x) == "number" or type(x) == "string") then return x < y end
    return type(x) < type(y)
  end)
  return keys
end

-- The first place where actual differs from expected, or nil.
local function diff(actual, expected, path)
  if actual == expected then return nil end
  if math.type(actual) ~= math.type(expected) and type(actual) == "number" and type(expected) == "number" then
    return string.format("%s: expected %s, got %s", path, show(expected), show(actual))
  end
  if type(actual) ~= "table" or type(expected) ~= "table" then
    return string.format("%s: expected %s, got %s", path, show(expected), show(actual))
  end
  for _, k in ipairs(sorted_keys(actual, expected)) do
    local d = diff(actual[k], expected[k], key_path(path, k))
    if d then return d end
  end
  return nil
end

-- Deep equality: eq(actual, expected [, what]).
function M.eq(actual, expected, what)
  local d = diff(actual, expected, what or "value")
  if d then error(d, 2) end
end

-- text must contain needle (plain).
function M.has(text, needle, what)
  if type(text) ~= "string" or not text:find(needle, 1, true) then
    error(string.format("%s %s does not contain %s", what or "text", show(text), show(needle)), 2)
  end
end

function M.hasnt(text, needle, what)
  if type(text) == "string" and text:find(needle, 1, true) then
    error(string.format("%s %s contains %s", what or "text", show(text), show(needle)), 2)
  end
end

-- Split a command line as a POSIX shell would for the forms examples
-- use: words, '...' and "..." (with \" and \\ inside), backslash escapes.
function M.shell_words(line)
  local words, word, i, quote = {}, nil, 1, nil
  while i <= #line do
    local c = line:sub(i, i)
    if quote == "'" then
      if c == "'" then quote = nil else word = word .. c end
    elseif quote == '"' then
      if c == '"' then quote = nil
      elseif c == "\\" and line:sub(i + 1, i + 1):match('["\\$`]') then word = word .. line:sub(i + 1, i + 1); i = i + 1
      else word = word .. c end
    elseif c:match("%s") then
      if word then words[#words + 1], word = word, nil end
    elseif c == "'" or c == '"' then
      quote, word = c, word or ""
    elseif c == "\\" then
      word = (word or "") .. line:sub(i + 1, i + 1); i = i + 1
    else
      word = (word or "") .. c
    end
    i = i + 1
  end
  assert(not quote, "unterminated quote in: " .. line)
  if word then words[#words + 1] = word end
  return words
end

-- A file-like sink for output.table / json_line: write, flush, text().
function M.buffer()
  local b = { parts = {}, flushes = 0 }
  function b:write(...)
    for i = 1, select("#", ...) do self.parts[#self.parts + 1] = tostring((select(i, ...))) end
    return self
  end
  function b:flush() self.flushes = self.flushes + 1; return self end
  function b:text() return table.concat(self.parts) end
  return b
end

-- Run f with io.write/io.stdout going to a temporary file; returns what
-- was written and f's results.
function M.capture(f, ...)
  local tmp = assert(io.tmpfile())
  local saved_out, saved_stdout = io.output(), io.stdout
  io.output(tmp)
  io.stdout = tmp
  local results = table.pack(pcall(f, ...))
  io.output(saved_out)
  io.stdout = saved_stdout
  tmp:seek("set")
  local text = tmp:read("a")
  tmp:close()
  if not results[1] then error(results[2], 0) end
  return text, table.unpack(results, 2, results.n)
end

return M
