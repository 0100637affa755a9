-- serve: several summary tools in one process, one /metrics for all
-- (an exporter per host, in the spirit of ebpf_exporter's config).
--
--   vnetscope serve CONFIG --listen ADDR:PORT [-i SECONDS] [-d SECONDS]
--
-- CONFIG names one tool a line with its options, as on the command line,
-- read by the tools' own option parsers ('...' or "..." keep spaces in a
-- word; # starts a comment line):
--
--   drop-summary --group-by location
--   qdisc-latency --dev eth0
--
-- Each tool compiles and attaches its own program; one loop reports them
-- all every interval into their metric stores, and a scrape counts them
-- all first. A tool appears once (its metric names are its own).
local core = require "vns.core"
local errors = require "vns.errors"
local listen = require "vns.listen"
local options = require "vns.options"
local program = require "vns.program"
local registry = require "vns.registry"
local tool = require "vns.tool"

local M = {}

local MAX_BYTES = 65536
local MAX_TOOLS = 32
-- Options of the process, not of one tool.
local NOT_IN_CONFIG = { ["--listen"] = true, ["--format"] = true, ["--emit-c"] = true, ["--duration"] = true,
                        ["-d"] = true, ["--help"] = true, ["-h"] = true }

-- Words of a line: runs of non-blanks, or quoted with ' or ".
local function words(line, where)
  local out, pos = {}, 1
  while true do
    pos = line:find("%S", pos)
    if not pos then return out end
    local q = line:sub(pos, pos)
    local word, stop
    if q == "'" or q == '"' then
      stop = line:find(q, pos + 1, true)
      if not stop then errors.usage("%s: a quote is not closed", where) end
      word = line:sub(pos + 1, stop - 1)
    else
      stop = (line:find("%s", pos) or #line + 1) - 1
      word = line:sub(pos, stop)
    end
    out[#out + 1] = word
    pos = stop + 1
  end
end

-- The config's entries: {tool, argv, where}.
function M.read(path)
  local f, why = io.open(path, "r")
  if not f then errors.usage("serve: cannot read the config %s", why) end
  local text = f:read(MAX_BYTES + 1) or ""
  f:close()
  if #text > MAX_BYTES then errors.usage("serve: %s is larger than %d bytes", path, MAX_BYTES) end
  local entries, seen, n = {}, {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local where = string.format("%s:%d", path, n)
    if line:find("[%z\1-\8\11-\31]") then errors.usage("%s: control characters", where) end
    if line:find("%S") and not line:find("^%s*#") then
      local argv = words(line, where)
      local name = table.remove(argv, 1)
      local t = registry.find(name)
      if not t then errors.usage("%s: unknown tool '%s' (see 'vnetscope list')", where, name:gsub("%c", "?")) end
      if t.kind ~= "summary" then errors.usage("%s: %s is a details tool; serve runs summary tools", where, t.name) end
      if seen[t.name] then errors.usage("%s: %s appears twice (once per config)", where, t.name) end
      for _, a in ipairs(argv) do
        local opt = a:match("^[^=]*")
        if NOT_IN_CONFIG[opt] then errors.usage("%s: %s is serve's option, not a tool's", where, opt) end
      end
      seen[t.name] = true
      entries[#entries + 1] = { tool = t, argv = argv, where = where }
      if #entries > MAX_TOOLS then errors.usage("%s: more than %d tools", where, MAX_TOOLS) end
    end
  end
  if #entries == 0 then errors.usage("serve: %s names no tool", path) end
  return entries
end

-- A tool's options, with its config line in any error.
local function parse(e)
  local ok, opts = pcall(options.parse, e.tool:specs(), e.argv)
  if not ok then
    if type(opts) == "table" and opts.msg then errors.usage("%s: %s: %s", e.where, e.tool.name, opts.msg) end
    error(opts, 0)
  end
  opts.serving = true
  return opts
end

local function specs()
  local common = options.common({}, "details")
  return { common[1], common[2], listen.option() }
end

local USAGE = "usage: vnetscope serve CONFIG --listen ADDR:PORT [-i SECONDS] [-d SECONDS]"

function M.run(args)
  local path = args[1]
  if path == nil or path:sub(1, 1) == "-" then
    if path == "--help" or path == "-h" then io.write(USAGE, "\n") return 0 end
    errors.usage("serve needs a config file; %s", USAGE)
  end
  local opts = options.parse(specs(), { table.unpack(args, 2) })
  if not opts.listen then errors.usage("serve needs --listen ADDR:PORT; %s", USAGE) end
  local entries = M.read(path)
  local parsed = {}
  for i, e in ipairs(entries) do parsed[i] = parse(e) end  -- every line checked before anything compiles
  program.require_privilege()
  local server <close> = listen.open(opts.listen)
  local runs = {}
  for i, e in ipairs(entries) do
    local run = e.tool:start(parsed[i], e.tool:generate(parsed[i]))
    if not run then return 130 end
    runs[#runs + 1] = run
  end
  print("Serving metrics at " .. server.url)
  io.stdout:flush()
  local scrape = tool.scraper(runs)
  tool.loop(runs, opts, function() server:serve(scrape) end)
  if core.interrupted() then io.stderr:write("Detaching...\n") end
  for _, run in ipairs(runs) do run.tool:finish(run) end
  return 0
end

return M
