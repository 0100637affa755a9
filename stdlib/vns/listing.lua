-- listing: `vnetscope list`, one line per shipped tool.
local output = require "vns.output"

local M = {}

function M.print(tools)
  local rows = {}
  for _, t in ipairs(tools) do
    local aliases = #(t.aliases or {}) > 0 and table.concat(t.aliases, ", ") or "-"
    rows[#rows + 1] = { t.name, t.layer, t.kind, t.about, aliases }
  end
  output.table(io.stdout, { "TOOL", "LAYER", "KIND", "DESCRIPTION", "ALIASES" }, rows)
  return 0
end

return M
