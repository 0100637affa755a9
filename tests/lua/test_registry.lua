-- vns.registry: the shipped tools, found by name and alias; their help
-- and generated C.
local registry = require "vns.registry"
local options = require "vns.options"
local h = require "helpers"
local eq, checkerr, has, hasnt = h.eq, h.checkerr, h.has, h.hasnt

local function generate(name, argv)
  local tool = registry.find(name)
  return tool:generate(options.parse(tool:specs(), argv or {}))
end

local function write_temp(text)
  local base = os.tmpname()   -- creates the file; ours gets a .lua suffix
  os.remove(base)
  local path = base .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local T = {}

function T.find_by_name_and_alias()
  local tool = registry.find("drop-summary")
  assert(tool, "drop-summary not found")
  eq(tool.name, "drop-summary")
  eq(registry.find("kernel_drop_stack_stats_summary_all"), tool)
  eq(registry.find("kernel_drop_stack_stats_summary"), tool)
end

function T.find_unknown()
  eq(registry.find("no-such-tool"), nil)
  eq(registry.find(""), nil)
  eq(registry.find("drop"), nil)
  eq(registry.find("Drop-Summary"), nil)
end

function T.every_tool_is_described()
  local tools = registry.all()
  assert(#tools >= 1, "no tools")
  local kinds = { summary = true, details = true }
  for _, tool in ipairs(tools) do
    for _, field in ipairs({ "name", "about", "kind", "layer", "path" }) do
      eq(type(tool[field]), "string", tool.name .. "." .. field)
      assert(#tool[field] > 0, tool.name .. "." .. field .. " is empty")
    end
    assert(kinds[tool.kind], tool.name .. ": kind " .. tool.kind)
    assert(tool.path:match("/scripts/.+%.lua$"), tool.path)
    eq(registry.find(tool.name), tool)
  end
  eq(registry.find("drop-summary").layer, "linux-network-stack")
  eq(registry.find("drop-summary").kind, "summary")
end

function T.names_and_aliases_unique()
  local seen = {}
  for _, tool in ipairs(registry.all()) do
    for _, name in ipairs({ tool.name, table.unpack(tool.aliases or {}) }) do
      assert(not seen[name], name .. " names two tools")
      seen[name] = tool
    end
  end
end

-- scripts/aliases.lua and each script's `aliases` field say the same.
function T.alias_index_matches_the_scripts()
  local tools, broken = registry.all()
  eq(#broken, 0, "broken scripts")
  local index, names = registry.index(), {}
  for _, tool in ipairs(tools) do
    names[tool.name] = true
    eq(index[tool.name] or {}, tool.aliases or {}, tool.name .. ": aliases of scripts/aliases.lua and the script")
  end
  for name in pairs(index) do assert(names[name], "scripts/aliases.lua names '" .. name .. "', which has no script") end
end

-- A shipped tool's file name is its name.
function T.file_name_is_tool_name()
  for _, tool in ipairs(registry.all()) do
    eq(tool.path:match("([^/]+)%.lua$"), tool.name, tool.path)
  end
end

function T.every_tool_help_mentions_every_option()
  for _, tool in ipairs(registry.all()) do
    local specs = tool:specs()
    local text = options.help(tool, specs)
    has(text, tool.name .. " - " .. tool.about)
    for _, s in ipairs(specs) do has(text, "--" .. s.name, tool.name .. " --help") end
    for _, e in ipairs(tool.examples or {}) do has(text, e) end
    has(text, "--help")
  end
end

-- Shipped examples, split as a shell would, parse and generate C.
function T.every_example_parses_and_generates()
  for _, tool in ipairs(registry.all()) do
    for _, e in ipairs(tool.examples or {}) do
      local argv = h.shell_words(e)
      eq({ argv[1], argv[2] }, { "vnetscope", tool.name }, e)
      local text = tool:generate(options.parse(tool:specs(), { table.unpack(argv, 3) }))
      hasnt(text, "{{", e)
    end
  end
end

function T.shell_words()
  eq(h.shell_words([[a  'b c' "d \"e\"" f\ g 'it''s' ""]]), { "a", "b c", 'd "e"', "f g", "its", "" })
end

function T.every_tool_generates_with_defaults()
  for _, tool in ipairs(registry.all()) do
    local text = tool:generate(options.parse(tool:specs(), {}))
    eq(type(text), "string", tool.name)
    hasnt(text, "{{", tool.name .. " C")
  end
end

function T.drop_summary_default_program()
  local text = generate("drop-summary")
  has(text, "VNS_TP(skb, kfree_skb)")
  has(text, "BPF_PERCPU_HASH(drops, struct drop_key, u64, 10240);")
  has(text, "if (!(1))\n    return 0;")
  hasnt(text, "key.dev[0] ==")
end

-- "eth0" is the words 0x30687465 and 0.
function T.drop_summary_dev_filter()
  local text = generate("drop-summary", { "--dev", "eth0" })
  has(text, "if (!(*(u64 *)&key.dev[0] == VNS_VALUE(u64, 0x30687465) && *(u64 *)&key.dev[8] == VNS_VALUE(u64, 0x0)))"
              .. "\n    return 0;")
  hasnt(text, "eth0")
  text = generate("drop-summary", { "--dev", "abcdefghijklmno" })
  has(text, "== VNS_VALUE(u64, 0x6867666564636261) && *(u64 *)&key.dev[8] == VNS_VALUE(u64, 0x6f6e6d6c6b6a69)))")
end

-- --group-by picks the key; --stack-sample and --exclude-unspecified add code.
function T.drop_summary_group_by_and_stacks()
  -- The template holds every variant; typed constants choose (#if).
  local text = generate("drop-summary", { "--group-by", "location" })
  has(text, "#define BY_FLOW 0\n")
  has(text, "#define BY_STACK 0\n")
  has(text, "#define STACK_SAMPLE 0\n")
  text = generate("drop-summary")
  has(text, "#define BY_FLOW 1\n")
  has(text, "#if BY_FLOW\n  struct vns_flow_key flow;\n#endif")
  has(text, "  vns_flow_l3_of(skb, &f, VNS_FLOW_IP);")
  has(text, "  vns_flow_l4(&f);\n  vns_flow_key_of(&key.flow, &f);")
  has(generate("drop-summary", { "--group-by", "stack" }), "#define BY_STACK 1\n")
  has(generate("drop-summary", { "--group-by", "location", "--stack-sample" }), "#define STACK_SAMPLE 1\n")
  local code
  for c, name in pairs(require("vns.drops").reason_names()) do if name == "NOT_SPECIFIED" then code = c end end
  text = generate("drop-summary", { "--exclude-unspecified" })
  has(text, "#define EXCLUDE_REASON 1\n")
  has(text, string.format("#define UNSPECIFIED %d\n", code))
end

-- A device name with C metacharacters reaches the C only as integers.
function T.drop_summary_dev_is_never_pasted()
  for _, dev in ipairs({ 'a"b', "a\\b", "x'y", "%s%n", "{{ X }}" }) do
    local ok, text = pcall(generate, "drop-summary", { "--dev", dev })
    if ok then
      hasnt(text, dev, "C for --dev " .. dev)
      has(text, "key.dev[0] == ")
    end
  end
end

function T.drop_summary_bad_option_is_usage_error()
  local tool = registry.find("drop-summary")
  h.usage_err("option --dev: 'a/b' is not valid", options.parse, tool:specs(), { "--dev", "a/b" })
  h.usage_err("option --top:", options.parse, tool:specs(), { "--top", "0" })
end

function T.load_rejects_non_tool_scripts()
  local path = write_temp("return 42\n")
  local err = checkerr("does not return a tool", registry.load, path)
  os.remove(path)
  eq(err.code, 1)
  path = write_temp("return {\n")
  err = checkerr("", registry.load, path)
  os.remove(path)
  eq(err.code, 1)
  err = checkerr("", registry.load, "/nonexistent/tool.lua")
  eq(err.code, 1)
end

function T.load_a_script_tool()
  local path = write_temp([[
local tool = require "vns.tool"
return tool.summary { name = "tmp-tool", about = "Temporary", program = function() return "" end }
]])
  local tool = registry.load(path, "script")
  os.remove(path)
  eq({ tool.name, tool.layer, tool.kind, tool.path }, { "tmp-tool", "script", "summary", path })
end

-- A scripts tree of its own: one good tool, one with an alias, and
-- scripts that do not load, are misnamed or share a name.
local function with_scripts(files, f)
  local core = require "vns.core"
  local saved, dir = core.share_dir, os.tmpname()
  os.remove(dir)
  for path, text in pairs(files) do
    assert(core.mkdirs((dir .. "/scripts/" .. path):match("^(.*)/")))
    local out = assert(io.open(dir .. "/scripts/" .. path, "w"))
    out:write(text)
    out:close()
  end
  core.share_dir = dir
  registry.reset()
  local ok, err = pcall(f, dir .. "/scripts")
  core.share_dir = saved
  registry.reset()
  core.rmtree(dir)
  if not ok then error(err, 0) end
end

local function tool_text(name, extra)
  return string.format([[return require("vns.tool").summary { name = %q, about = "About", %s
  program = function() return "" end }]], name, extra or "")
end

local TREE = {
  ["aliases.lua"] = 'return { good = { "old_good" } }',
  ["a/good.lua"] = tool_text("good", 'aliases = { "old_good" },'),
  ["a/broken.lua"] = "return {\n",
  ["b/deeper/other.lua"] = tool_text("other"),
  ["b/misnamed.lua"] = tool_text("something-else"),
  ["b/typo.lua"] = tool_text("typo", "colect = print,"),
  ["b/twin.lua"] = tool_text("twin"),
  ["c/twin.lua"] = tool_text("twin"),
}

function T.broken_scripts_break_only_themselves()
  with_scripts(TREE, function(dir)
    eq(registry.find("good").name, "good")
    eq(registry.find("old_good"), registry.find("good"))
    eq(registry.find("other").layer, "b/deeper")
    eq(registry.find("nope"), nil)
    checkerr("broken.lua:2: ", registry.find, "broken")
    checkerr("b/misnamed.lua defines tool 'something-else': a shipped tool's file is named after it",
             registry.find, "misnamed")
    checkerr("tool typo: unknown field 'colect'", registry.find, "typo")
    checkerr("b/twin.lua: tool 'twin' is also " .. dir .. "/c/twin.lua", registry.find, "twin")
    local tools, broken = registry.all()
    local names, errs = {}, {}
    for _, t in ipairs(tools) do names[#names + 1] = t.name end
    eq(names, { "good", "other" })
    for _, b in ipairs(broken) do
      errs[#errs + 1] = b.name
      eq(b.err:sub(1, #b.path), b.path, "the error starts with the path")
    end
    eq(errs, { "broken", "misnamed", "twin", "typo", "twin" })
  end)
end

-- Running one tool loads only its file.
function T.find_loads_one_file()
  with_scripts(TREE, function()
    local seen = {}
    local real = loadfile
    loadfile = function(path, ...) seen[#seen + 1] = path:match("[^/]+/[^/]+$") return real(path, ...) end
    local ok, err = pcall(function()
      registry.find("good")
      registry.find("old_good")
    end)
    loadfile = real
    assert(ok, err)
    eq(seen, { "a/good.lua", "scripts/aliases.lua" })
  end)
end

-- Lua shortens a long file name in its messages; the registry's are whole.
function T.errors_name_the_whole_path()
  local long = { ["a/" .. string.rep("d", 70) .. "/broken.lua"] = "return {\n" }
  with_scripts(long, function(dir)
    local path = dir .. "/a/" .. string.rep("d", 70) .. "/broken.lua"
    checkerr("^" .. path:gsub("%p", "%%%0") .. ":2: ", registry.find, "broken")
    local _, broken = registry.all()
    eq(broken[1].err:sub(1, #path + 3), path .. ":2:")
  end)
end

function T.broken_alias_index()
  with_scripts({ ["aliases.lua"] = "return {", ["a/good.lua"] = tool_text("good") }, function()
    eq(registry.find("good").name, "good")
    checkerr("alias index .*/scripts/aliases.lua: ", registry.find, "old_good")
  end)
  with_scripts({ ["aliases.lua"] = "os.exit(3)", ["a/good.lua"] = tool_text("good") }, function()
    checkerr("attempt to index a nil value", registry.find, "old_good")
  end)
end

return T
