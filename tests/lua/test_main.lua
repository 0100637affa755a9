-- vns.main: the command words the engine hands to Lua.
local main = require "vns.main"
local h = require "helpers"
local eq, has, usage_err = h.eq, h.has, h.usage_err

local T = {}

function T.eval_returns_the_exit_status()
  eq(main("eval", "return 7", {}), 7)
  eq(main("eval", "return nil", {}), 0)
  eq(main("eval", "return 'text'", {}), 0)
  eq(main("eval", "return select('#', ...), ...", { "a", "b" }), 2)
end

-- A chunk that returns a tool runs it with the arguments.
function T.eval_runs_a_returned_tool()
  eq(main("eval", "return { run = function(self, args) return 40 + #args end }", { "x" }), 41)
end

function T.eval_syntax_error_is_usage()
  usage_err("-e:", main, "eval", "x = = 1", {})
end

function T.run_missing_file_is_usage()
  usage_err("run:", main, "run", "/nonexistent/script.lua", {})
end

function T.unknown_tool_is_usage()
  usage_err("unknown tool or command 'no-such-tool' (see 'vnetscope list')", main, "tool",
            "no-such-tool", {})
end

function T.help()
  local text, status = h.capture(main, "help", nil, {})
  eq(status, 0)
  has(text, "vnetscope TOOL [options]")
  has(text, "vnetscope list")
end

function T.list()
  local text, status = h.capture(main, "list", nil, {})
  eq(status, 0)
  has(text, "drop-summary")
end

function T.tool_help()
  local text, status = h.capture(main, "tool", "drop-summary", { "--help" })
  eq(status, 0)
  has(text, "Usage: vnetscope drop-summary [options]")
  has(text, "--dev DEV")
end

function T.tool_by_alias()
  local text, status = h.capture(main, "tool", "kernel_drop_stack_stats_summary_all", { "--emit-c" })
  eq(status, 0)
  has(text, "VNS_TP(skb, kfree_skb)")
end

return T
