-- vns.listing: `vnetscope list`.
local listing = require "vns.listing"
local h = require "helpers"
local eq, has = h.eq, h.has

local T = {}

function T.one_line_per_tool()
  local text, status = h.capture(listing.print, {
    { name = "a", layer = "l", kind = "summary", about = "About a", aliases = { "x", "y" } },
    { name = "bb", layer = "l2", kind = "details", about = "B" },
  })
  eq(status, 0)
  eq(text, table.concat({
    "TOOL  LAYER  KIND     DESCRIPTION  ALIASES",
    "a     l      summary  About a      x, y",
    "bb    l2     details  B            -",
    "" }, "\n"))
end

function T.shipped_tools()
  local text = h.capture(listing.print, require("vns.registry").all())
  has(text, "TOOL")
  has(text, "drop-summary")
  has(text, "kernel_drop_stack_stats_summary_all")
end

return T
