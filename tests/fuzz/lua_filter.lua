-- fuzz_filter's driver: the input is a --filter expression, parsed and
-- compiled to C. A parse refusal is the expected answer to bad text;
-- any other error is a bug, and the C must hold nothing of the text.
local filter = require "vns.filter"
local options = require "vns.options"
local check = require "check"

return function(input)
  check.refusal_or(function()
    local f = options.parse(filter.options({ "filter" }), { "--filter", input })
    check.c_text(filter.compile(f).text)
  end)
end
