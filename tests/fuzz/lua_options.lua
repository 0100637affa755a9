-- fuzz_options' driver: the input is a command line (arguments split at
-- NUL bytes) for a spec set holding every option type the tools use;
-- what parses is compiled by the flow and context filters. A vns.errors
-- usage error is the expected refusal; any other error is a bug.
local options = require "vns.options"
local filter = require "vns.filter"
local ctxfilter = require "vns.ctxfilter"
local net = require "vns.net"
local check = require "check"

local specs = options.flatten({
  options.common({ formats = { "folded" } }, "summary"),
  filter.options(),
  net.options({ "pid", "comm", "dev", "threshold" }),
  { name = "phy-dev", type = "ifnames" }, { name = "comms", type = "comms" },
  { name = "ns", type = "integer", min = -5, max = 1 << 40 },
  { name = "mode", type = "choice", values = { "a", "bb" } },
})

return function(input)
  local argv = {}
  for word in (input .. "\0"):gmatch("([^%z]*)%z") do argv[#argv + 1] = word end
  check.refusal_or(function()
    local opts = options.parse(specs, argv)
    check.c_text(filter.compile(opts).text)
    check.c_text(ctxfilter.compile(opts, { dev_skb = "skb", delta = "d" }).text)
  end)
end
