-- check: compile and verifier-load every program of the named tools (all
-- by default) without attaching anything; print instruction counts.
local core = require "vns.core"
local registry = require "vns.registry"
local output = require "vns.output"
local errors = require "vns.errors"
local options = require "vns.options"
local tracepoint = require "vns.tracepoint"

local M = {}

local function message_of(err)
  return type(err) == "table" and err.msg or tostring(err)
end

-- Each tool checks with its default options and with every variant it
-- declares (e.g. the kprobe fallback for older kernels).
function M.option_sets(tool)
  local sets = { {} }
  for _, variant in ipairs(tool.check_variants or {}) do sets[#sets + 1] = variant end
  return sets
end

-- Each option set as this kernel runs it (raw tracepoints where it has
-- them) and again with classic tracepoints, the fallback, when that
-- makes another program: fn(argv, suffix) with the mode forced.
local modes = { { nil, "" }, { "classic", " (classic tracepoints)" } }

local function text_of(tool, argv)
  local ok, text = pcall(function() return (tool:generate(options.parse(tool:specs(), argv))) end)
  return ok and text or nil
end

-- Stops between programs on Ctrl-C or SIGTERM (a whole check or
-- compile --all takes minutes).
function M.each_variant(tool, fn)
  for _, argv in ipairs(M.option_sets(tool)) do
    if core.interrupted() then errors.fail("interrupted at %s", M.label(tool, argv)) end
    local first
    for i, mode in ipairs(modes) do
      tracepoint.force(mode[1])
      local text = text_of(tool, argv)
      if i == 1 or (text and text ~= first) then fn(argv, mode[2]) end
      first = first or text
      tracepoint.force(nil)
    end
  end
end

-- "drop-summary --group-by location", as check and compile name a variant.
function M.label(tool, argv)
  return #argv > 0 and (tool.name .. " " .. table.concat(argv, " ")) or tool.name
end

local function check_tool(tool, rows)
  local failed = 0
  M.each_variant(tool, function(argv, suffix)
    local label = M.label(tool, argv) .. suffix
    local ok, results, prog = pcall(tool.check, tool, argv)
    if ok then
      for _, r in ipairs(results) do
        rows[#rows + 1] = { label, r.fn, r.kind, r.insns or "-", r.verified or "-", "ok" }
      end
      prog.mod:close()
      return
    end
    local unsupported = errors.is_unsupported(results)
    if not unsupported then failed = failed + 1 end
    rows[#rows + 1] = { label, "-", "-", "-", "-", unsupported and "not on this kernel" or "FAILED" }
    io.stderr:write(string.format("%s: %s\n", label, message_of(results)))
  end)
  return failed
end

-- A name is a shipped tool, or the path of a script that returns a tool.
function M.resolve(name, command)
  if name:match("%.lua$") then return registry.load(name, "script") end
  return registry.find(name) or errors.usage("%s: unknown tool '%s' (see 'vnetscope list')", command, name)
end

-- --pack DIR loads every program from packs (vnetscope compile --all);
-- --no-cache compiles every one.
local function cache_options(args)
  local names, i = {}, 1
  while i <= #args do
    if args[i] == "--pack" then
      if not args[i + 1] then errors.usage("check: option --pack needs a directory made by 'vnetscope compile --all'") end
      require("vns.cache").configure({ pack = args[i + 1] })
      i = i + 2
    else
      if args[i] == "--no-cache" then require("vns.cache").configure({ no_cache = true })
      else names[#names + 1] = args[i] end
      i = i + 1
    end
  end
  return names
end

-- A script that does not load fails without stopping the others.
local function broken_rows(broken, rows)
  for _, b in ipairs(broken) do
    rows[#rows + 1] = { b.name, "-", "-", "-", "-", "BROKEN" }
    io.stderr:write(string.format("%s: %s\n", b.name, b.err))
  end
  return #broken
end

function M.run(args)
  local tools, broken = {}, {}
  for _, name in ipairs(cache_options(args)) do tools[#tools + 1] = M.resolve(name, "check") end
  if #tools == 0 then tools, broken = registry.all() end
  local rows, failed = {}, 0
  for _, tool in ipairs(tools) do failed = failed + check_tool(tool, rows) end
  failed = failed + broken_rows(broken, rows)
  output.table(io.stdout, { "TOOL", "PROGRAM", "TYPE", "INSNS", "VERIFIED", "STATUS" }, rows)
  print(string.format("%d tools checked, %d failed", #tools + #broken, failed))
  return failed == 0 and 0 or 1
end

return M
