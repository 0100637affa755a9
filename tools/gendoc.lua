-- gendoc: the man pages and the bash completion, made at build time from
-- what vnetscope itself prints, never kept as copies:
--   vnetscope run tools/gendoc.lua man DIR [SHARE]  vnetscope.1, vnetscope-TOOL.1 each
--                                   (SHARE: the installed share directory)
--   vnetscope run tools/gendoc.lua completion FILE  bash completion
-- A tool's page shows the rows of its --help (vns.options.help_rows) and
-- its examples; vnetscope(1) shows `vnetscope --help` (vns.main.usage).
local cachecmd = require "vns.cachecmd"
local core = require "vns.core"
local errors = require "vns.errors"
local main = require "vns.main"
local options = require "vns.options"
local registry = require "vns.registry"

local what, out, share = ...
local tools, broken = registry.all()
-- A broken script gets no page but breaks no build: `vnetscope list` names it.
for _, b in ipairs(broken) do io.stderr:write("gendoc: no page for a broken tool: ", b.err, "\n") end

-- A tool's earlier names, as the alias index scripts/aliases.lua has them.
local function aliases(tool) return registry.index()[tool.name] or {} end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- roff: backslashes and dashes escaped, no line read as a request.
local function roff(text)
  return (text:gsub("\\", "\\e"):gsub("%-", "\\-"):gsub("\n([.'])", "\n\\&%1"):gsub("^([.'])", "\\&%1"))
end

local function page(name, about, sections)
  local out = { string.format('.TH %s 1 "" "vnetscope %s" "vnetscope manual"', name:upper(), core.version),
                ".SH NAME", roff(name) .. " \\- " .. roff(about) }
  for _, s in ipairs(sections) do
    out[#out + 1] = ".SH " .. s[1]
    out[#out + 1] = s[2]
  end
  return table.concat(out, "\n") .. "\n"
end

local function verbatim(lines) return ".nf\n" .. roff(table.concat(lines, "\n")) .. "\n.fi" end

local function tool_page(tool)
  local opts = {}
  for _, row in ipairs(options.help_rows(tool:specs())) do
    opts[#opts + 1] = ".TP\n\\fB" .. roff(row[1]:gsub("^%s+", "")) .. "\\fR\n" .. roff(row[2])
  end
  local about = { roff(tool.about .. "."),
                  roff(string.format("A %s tool of the %s layer.", tool.kind, tool.layer)) }
  if #aliases(tool) > 0 then
    about[#about + 1] = roff("Also run as: " .. table.concat(aliases(tool), ", ") .. ".")
  end
  local sections = {
    { "SYNOPSIS", ".B vnetscope " .. roff(tool.name) .. "\n[\\fIoptions\\fR]" },
    { "DESCRIPTION", table.concat(about, "\n") },
    { "OPTIONS", table.concat(opts, "\n") },
  }
  if tool.examples then sections[#sections + 1] = { "EXAMPLES", verbatim(tool.examples) } end
  if tool.requires then sections[#sections + 1] = { "REQUIREMENTS", roff(tool.requires) } end
  sections[#sections + 1] = { "SEE ALSO", ".BR vnetscope (1)" }
  return page("vnetscope-" .. tool.name, tool.about, sections)
end

local function main_page()
  local list = {}
  for _, t in ipairs(tools) do
    list[#list + 1] = ".TP\n.BR vnetscope\\-" .. roff(t.name) .. " (1)\n" .. roff(t.about)
  end
  local usage = {}
  for line in main.usage:gmatch("[^\n]*") do usage[#usage + 1] = line end
  return page("vnetscope", usage[1]:match(" %- (.*)$"), {
    { "SYNOPSIS", verbatim({ table.unpack(usage, 3) }) },
    { "TOOLS", table.concat(list, "\n") },
    { "FILES", ".TP\n.I /var/cache/vnetscope\ncompiled programs (vnetscope cache list)\n"
               .. ".TP\n.I " .. roff(share or core.share_dir) .. "\nthe tools, their BPF templates and the Lua stdlib" },
  })
end

-- Bash: a case arm per tool, matching its name and its aliases.
local function arms(indent, body_of)
  local out = {}
  for _, t in ipairs(tools) do
    local names = { "'" .. t.name .. "'" }
    for _, a in ipairs(aliases(t)) do names[#names + 1] = "'" .. a .. "'" end
    local body = body_of(t)
    if body then out[#out + 1] = indent .. table.concat(names, "|") .. ")\n" .. body .. indent .. ";;" end
  end
  return table.concat(out, "\n")
end

local function words_of(spec)
  local w = { "--" .. spec.name }
  if spec.short then w[#w + 1] = "-" .. spec.short end
  for _, a in ipairs(spec.aliases or {}) do w[#w + 1] = "--" .. a end
  return w
end

-- What follows an option: its choices, a path, an interface, or any text.
local function values_of(spec)
  if spec.type == "choice" then return table.concat(spec.values, " ") end
  if spec.type == "path" then return ":path" end
  if spec.type == "ifname" then return ":ifname" end
  return ":any"
end

local function completion()
  local commands, subwords = {}, {}
  for line in main.usage:match("\nUsage:\n(.-)\n\n"):gmatch("[^\n]+") do
    local word, rest = line:match("^  vnetscope (%S+)%s*(%S*)")
    if word and not word:match("^%u+$") then
      commands[#commands + 1] = word
      if rest:match("^[%l|]+$") and rest:find("|") then subwords[word] = rest:gsub("|", " ") end
    end
  end
  local names = {}
  for _, t in ipairs(tools) do
    names[#names + 1] = t.name
    for _, a in ipairs(aliases(t)) do names[#names + 1] = a end
  end
  -- compile's own options: those with a value, those with a path.
  local value_words, path_words = {}, {}
  for w in pairs(cachecmd.compile_options) do
    value_words[#value_words + 1] = w
    if w ~= "--kernel-release" then path_words[#path_words + 1] = w end
  end
  table.sort(value_words)
  table.sort(path_words)
  local compile_words = { "--all", table.unpack(value_words) }
  local cache_words = subwords.cache or ""
  return table.concat({
    "# bash completion for vnetscope: commands, tools and their aliases, options",
    "# and their choices. Made by tools/gendoc.lua from the tool definitions.",
    "",
    "_vnetscope_tools='" .. table.concat(names, " ") .. "'",
    "",
    "_vnetscope_options() {",
    '  case $1 in',
    arms("    ", function(t)
      local w = {}
      for _, s in ipairs(t:specs()) do for _, x in ipairs(words_of(s)) do w[#w + 1] = x end end
      w[#w + 1] = "-h --help"
      return "      echo '" .. table.concat(w, " ") .. "'\n"
    end),
    "  esac",
    "}",
    "",
    "# The words after option $2 of tool $1: choices, :path, :ifname or :any.",
    "_vnetscope_values() {",
    '  case $1 in',
    arms("    ", function(t)
      local inner = {}
      for _, s in ipairs(t:specs()) do
        if s.type ~= "flag" then
          inner[#inner + 1] = "        " .. table.concat(words_of(s), "|") .. ") echo '" .. values_of(s) .. "' ;;"
        end
      end
      return "      case $2 in\n" .. table.concat(inner, "\n") .. "\n      esac\n"
    end),
    "  esac",
    "}",
    "",
    "_vnetscope() {",
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} tool=${COMP_WORDS[1]} extra=',
    "  COMPREPLY=()",
    "  if [ \"$COMP_CWORD\" -eq 1 ]; then",
    "    COMPREPLY=($(compgen -W \"" .. table.concat(commands, " ") .. " $_vnetscope_tools\" -- \"$cur\"))",
    "    return",
    "  fi",
    "  case $tool in",
    "    run) [ \"$COMP_CWORD\" -eq 2 ] && COMPREPLY=($(compgen -f -X '!*.lua' -- \"$cur\")); return ;;",
    "    cache) [ \"$COMP_CWORD\" -eq 2 ] && COMPREPLY=($(compgen -W '" .. cache_words .. "' -- \"$cur\")); return ;;",
    "    check) COMPREPLY=($(compgen -W \"--pack --no-cache $_vnetscope_tools\" -- \"$cur\")); return ;;",
    "    compile)",
    "      case $prev in",
    "        --kernel-release) COMPREPLY=($(compgen -W \"$(ls /lib/modules 2>/dev/null)\" -- \"$cur\")); return ;;",
    "        " .. table.concat(path_words, "|") .. ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;",
    "      esac",
    "      # The tool is the first word that is neither an option nor its value.",
    "      local i=2",
    "      while [ $i -lt \"$COMP_CWORD\" ]; do",
    "        case ${COMP_WORDS[i]} in",
    "          " .. table.concat(value_words, "|") .. ") i=$((i + 2)) ;;",
    "          -*) i=$((i + 1)) ;;",
    "          *) break ;;",
    "        esac",
    "      done",
    "      if [ $i -ge \"$COMP_CWORD\" ]; then",
    "        COMPREPLY=($(compgen -W \"" .. table.concat(compile_words, " ") .. " $_vnetscope_tools\" -- \"$cur\"))",
    "        return",
    "      fi",
    "      tool=${COMP_WORDS[i]} extra='" .. table.concat(compile_words, " ") .. "' ;;",
    "  esac",
    "  local values",
    "  values=$(_vnetscope_values \"$tool\" \"$prev\")",
    "  case $values in",
    "    '') COMPREPLY=($(compgen -W \"$(_vnetscope_options \"$tool\") $extra\" -- \"$cur\")) ;;",
    "    :path) COMPREPLY=($(compgen -f -- \"$cur\")) ;;",
    "    :ifname) COMPREPLY=($(compgen -W \"$(ls /sys/class/net 2>/dev/null)\" -- \"$cur\")) ;;",
    "    :any) ;;",
    "    *) COMPREPLY=($(compgen -W \"$values\" -- \"$cur\")) ;;",
    "  esac",
    "}",
    "complete -F _vnetscope vnetscope",
    "",
  }, "\n")
end

if what == "man" and out then
  core.mkdirs(out)
  write(out .. "/vnetscope.1", main_page())
  for _, t in ipairs(tools) do write(out .. "/vnetscope-" .. t.name .. ".1", tool_page(t)) end
elseif what == "completion" and out then
  write(out, completion())
else
  errors.usage("gendoc: give 'man DIR' or 'completion FILE'")
end
