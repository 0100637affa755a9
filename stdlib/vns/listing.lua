-- listing: `vnetscope list`, one line per shipped tool, then one line
-- "broken: PATH: ERROR" per script that does not load (exit status 1).
local output = require "vns.output"

local M = {}

function M.print(tools, broken)
  local rows = {}
  for _, t in ipairs(tools) do
    local aliases = #(t.aliases or {}) > 0 and table.concat(t.aliases, ", ") or "-"
    rows[#rows + 1] = { t.name, t.layer, t.kind, t.about, aliases }
  end
  output.table(io.stdout, { "TOOL", "LAYER", "KIND", "DESCRIPTION", "ALIASES" }, rows)
  for _, b in ipairs(broken or {}) do
    io.stdout:write("broken: ", b.err:match("^[^\n]*"), "\n")
  end
  return #(broken or {}) == 0 and 0 or 1
end

return M
