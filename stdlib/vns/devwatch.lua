-- devwatch: the devices a tool's options name (--dev, --phy-dev, ...),
-- looked for in the tool's network namespace at start and after every
-- report. A device that is not there at start, or is deleted while the
-- tool runs (alone or with its namespace), and one that appears, are
-- each said once on stderr. The tool goes on: its programs match the
-- name in the kernel, in every namespace, so a device of that name
-- counts again as soon as one exists.
local options = require "vns.options"

local M = {}

-- The names of the devices in this process's network namespace
-- (/proc/self/net follows the namespace; /sys/class/net follows the
-- sysfs mount).
local function present()
  local names, f = {}, io.open("/proc/self/net/dev")
  if not f then return nil end
  for line in f:lines() do
    local name = line:match("^%s*([^%s:]+):")
    if name then names[name] = true end
  end
  f:close()
  return names
end

local Watch = {}
Watch.__index = Watch

-- The ifname/ifnames options of specs given in opts; nil when none.
function M.new(specs, opts)
  local watched = {}
  for _, spec in ipairs(specs) do
    if spec.type == "ifname" or spec.type == "ifnames" then
      local value = opts[options.key_of(spec.name)]
      for _, name in ipairs(type(value) == "table" and value or { value }) do
        watched[#watched + 1] = { option = "--" .. spec.name, name = name }
      end
    end
  end
  if #watched == 0 then return nil end
  local self = setmetatable({ watched = watched, out = io.stderr }, Watch)
  local names = present() or {}
  for _, w in ipairs(watched) do
    w.here = names[w.name] or false
    if not w.here then
      self:say("%s %s: no such device in this network namespace; it is matched by name in every namespace",
               w.option, w.name)
    end
  end
  return self
end

function Watch:say(fmt, ...)
  self.out:write("vnetscope: ", string.format(fmt, ...), "\n")
  self.out:flush()
end

-- After a report: say what changed since the last look.
function Watch:check()
  local names = present()
  if not names then return end
  for _, w in ipairs(self.watched) do
    local here = names[w.name] or false
    if w.here and not here then
      self:say("%s %s: the device is gone (deleted, or its namespace); nothing matches it until a device of that name exists",
               w.option, w.name)
    elseif here and not w.here then
      self:say("%s %s: a device of that name exists now", w.option, w.name)
    end
    w.here = here
  end
end

return M
