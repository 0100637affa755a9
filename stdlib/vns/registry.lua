-- registry: the shipped tools under <share>/scripts/<layer>/<tool>.lua,
-- found by name or by an alias from the earlier Python toolset.
local core = require "vns.core"
local errors = require "vns.errors"

local M = {}
local cache

local function scan(dir, layer, found)
  local entries = core.listdir(dir) or {}
  table.sort(entries, function(a, b) return a.name < b.name end)
  for _, e in ipairs(entries) do
    local path = dir .. "/" .. e.name
    if e.dir then
      scan(path, layer and (layer .. "/" .. e.name) or e.name, found)
    elseif e.name:match("%.lua$") then
      found[#found + 1] = { path = path, layer = layer or "misc" }
    end
  end
end

-- Load a tool script; it returns the tool object built by vns.tool.
function M.load(path, layer)
  local chunk, err = loadfile(path)
  if not chunk then errors.fail("%s", err) end
  local tool = chunk()
  if type(tool) ~= "table" or not tool.run then
    errors.fail("%s does not return a tool (return tool.summary{...})", path)
  end
  tool.path, tool.layer = path, layer or tool.layer or "misc"
  return tool
end

function M.all()
  if cache then return cache end
  local files = {}
  scan(core.share_dir .. "/scripts", nil, files)
  cache = {}
  for _, f in ipairs(files) do
    cache[#cache + 1] = M.load(f.path, f.layer)
  end
  return cache
end

function M.find(name)
  for _, tool in ipairs(M.all()) do
    if tool.name == name then return tool end
    for _, alias in ipairs(tool.aliases or {}) do
      if alias == name then return tool end
    end
  end
end

return M
