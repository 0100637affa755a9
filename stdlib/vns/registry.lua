-- registry: the shipped tools. A tool is the file
-- <share>/scripts/<layer>/<name>.lua (layers may nest, e.g.
-- kvm-virt-network/tun): its file name is its name, so running a tool
-- loads only its own file. Aliases (names of the earlier Python toolset)
-- come from the index scripts/aliases.lua, read as data. A script that
-- does not load breaks only itself: all() returns it among the broken.
local core = require "vns.core"
local errors = require "vns.errors"

local M = {}
local files, index
local loaded = {}   -- path -> tool

local function scripts_dir() return core.share_dir .. "/scripts" end

-- Files directly in scripts/ (the index) are not tools.
local function scan(dir, layer, found)
  local entries = core.listdir(dir) or {}
  table.sort(entries, function(a, b) return a.name < b.name end)
  for _, e in ipairs(entries) do
    local path = dir .. "/" .. e.name
    if e.dir then
      scan(path, layer and (layer .. "/" .. e.name) or e.name, found)
    elseif layer and e.name:match("%.lua$") then
      found[#found + 1] = { name = e.name:sub(1, -5), path = path, layer = layer }
    end
  end
end

-- Every tool file, by layer and name; nothing is loaded.
function M.files()
  if files then return files end
  files = {}
  scan(scripts_dir(), nil, files)
  local seen = {}
  for _, f in ipairs(files) do
    if seen[f.name] then f.twin, seen[f.name].twin = seen[f.name].path, f.path end
    seen[f.name] = f
  end
  return files
end

-- A message that starts with the path in full: Lua shortens a long one
-- to ".../end/of/path.lua:2: ...".
local function with_path(path, msg)
  local tail, rest = msg:match("^%.%.%.([^:\n]*)(:.*)$")
  if tail and path:sub(-#tail) == tail then return path .. rest end
  return msg:sub(1, #path) == path and msg or (path .. ": " .. msg)
end

-- Load a tool script; it returns the tool object built by vns.tool.
function M.load(path, layer)
  local chunk, err = loadfile(path)
  if not chunk then errors.fail("%s", with_path(path, err)) end
  local tool = chunk()
  if type(tool) ~= "table" or not tool.run then
    errors.fail("%s does not return a tool (return tool.summary{...})", path)
  end
  tool.path, tool.layer = path, layer or tool.layer or "misc"
  return tool
end

-- A shipped tool, loaded once; its file must be named after it.
local function tool_of(f)
  if loaded[f.path] then return loaded[f.path] end
  if f.twin then errors.fail("%s: tool '%s' is also %s", f.path, f.name, f.twin) end
  local tool = M.load(f.path, f.layer)
  if tool.name ~= f.name then
    errors.fail("%s defines tool '%s': a shipped tool's file is named after it (%s.lua)",
                f.path, tool.name, tool.name)
  end
  loaded[f.path] = tool
  return tool
end

-- The alias index: tool name -> its aliases.
function M.index()
  if index then return index end
  local path = scripts_dir() .. "/aliases.lua"
  local chunk, err = loadfile(path, "t", {})
  local ok, t = chunk ~= nil, err
  if chunk then ok, t = pcall(chunk) end
  if not ok or type(t) ~= "table" then
    errors.fail("alias index %s: %s", path, ok and "does not return a table" or tostring(t))
  end
  index = t
  return index
end

local function alias_target(alias)
  for name, aliases in pairs(M.index()) do
    for _, a in ipairs(type(aliases) == "table" and aliases or {}) do
      if a == alias then return name end
    end
  end
end

local function file_named(name)
  for _, f in ipairs(M.files()) do
    if f.name == name then return f end
  end
end

-- The tool of a name or alias (nil if none); loads that one file only.
function M.find(name)
  local f = file_named(name)
  if not f then
    local target = alias_target(name)
    f = target and file_named(target)
  end
  return f and tool_of(f)
end

local function message_of(err)
  return type(err) == "table" and tostring(err.msg) or tostring(err)
end

-- Every tool that loads, and the broken ones: {name, layer, path, err}
-- where err starts with the path.
function M.all()
  local tools, broken = {}, {}
  for _, f in ipairs(M.files()) do
    local ok, result = pcall(tool_of, f)
    if ok then
      tools[#tools + 1] = result
    else
      broken[#broken + 1] = { name = f.name, layer = f.layer, path = f.path, err = with_path(f.path, message_of(result)) }
    end
  end
  return tools, broken
end

-- Forget what was scanned and loaded (tests that move core.share_dir).
function M.reset()
  files, index, loaded = nil, nil, {}
end

return M
