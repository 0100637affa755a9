-- main: what the engine calls with the command word, its target and the
-- remaining arguments. Returns the exit status.
local registry = require "vns.registry"
local errors = require "vns.errors"

local commands = {}

-- The commands, as --help prints them; vnetscope(1) and the bash
-- completion are made from the same text (tools/gendoc.lua).
local USAGE = [[
vnetscope - eBPF diagnostics for Linux and virtualized networking

Usage:
  vnetscope TOOL [options]        run a shipped tool (see 'vnetscope list')
  vnetscope TOOL --help           a tool's options and examples
  vnetscope run FILE.lua [opts]   run your own script with the same stdlib
  vnetscope -e 'LUA' [opts]       run Lua text
  vnetscope list                  shipped tools, their layer and kind
  vnetscope check [TOOL|FILE...]  compile and verifier-load, attach nothing
  vnetscope compile TOOL [opts] -o FILE [--kernel-release R --kernel-headers DIR] [--target-arch A]
                                  a pack that loads without compiling (--pack FILE)
  vnetscope cache list|clear      the compiled programs kept in /var/cache/vnetscope
  vnetscope doctor                what this kernel supports, per tool
  vnetscope serve CONFIG --listen ADDR:PORT
                                  several summary tools, one Prometheus /metrics
  vnetscope --version

Example:
  vnetscope drop-summary -i 5 -d 60
]]

function commands.help()
  io.write(USAGE)
  return 0
end

function commands.list()
  return require("vns.listing").print(registry.all())  -- tools, broken
end

function commands.check(_, args)
  return require("vns.check").run(args)
end

function commands.compile(_, args)
  return require("vns.cachecmd").compile(args)
end

function commands.cache(_, args)
  return require("vns.cachecmd").cache(args)
end

function commands.serve(_, args)
  return require("vns.serve").run(args)
end

function commands.doctor(_, args)
  return require("vns.doctor").run(args)
end

-- A script returns a tool (run it with the arguments) or nothing (it ran).
local function run_chunk(chunk, args)
  local result = chunk(table.unpack(args))
  if type(result) == "table" and result.run then
    return result:run(args)
  end
  return type(result) == "number" and result or 0
end

function commands.run(path, args)
  local chunk, err = loadfile(path)
  if not chunk then errors.usage("run: %s", err) end
  return run_chunk(chunk, args)
end

-- -e text sees the short forms of vns.adhoc (count{...}, trace{...})
-- as names, and may leave out `return` for an expression, as lua -e does not
-- but its prompt does.
function commands.eval(text, args)
  local env = setmetatable({}, { __index = function(_, k)
    local v = require("vns.adhoc").env[k]
    if v ~= nil then return v end
    return _G[k]
  end, __newindex = _G })
  local chunk = load("return " .. text, "=(-e)", "t", env)
  local err
  if not chunk then chunk, err = load(text, "=(-e)", "t", env) end
  if not chunk then errors.usage("-e: %s", err) end
  return run_chunk(chunk, args)
end

function commands.tool(name, args)
  local tool = registry.find(name)
  if not tool then
    errors.usage("unknown tool or command '%s' (see 'vnetscope list')", name)
  end
  return tool:run(args)
end

return setmetatable({ usage = USAGE }, { __call = function(_, mode, target, args)
  return commands[mode](target, args) or 0
end })
