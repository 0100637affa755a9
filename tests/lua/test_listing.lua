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

-- Scripts that do not load follow the table, one line each; status 1.
function T.broken_scripts_after_the_table()
  local text, status = h.capture(listing.print,
    { { name = "a", layer = "l", kind = "summary", about = "About a" } },
    { { name = "x", path = "/s/x.lua", err = "/s/x.lua:1: unexpected symbol\nmore" } })
  eq(status, 1)
  eq(text, table.concat({
    "TOOL  LAYER  KIND     DESCRIPTION  ALIASES",
    "a     l      summary  About a      -",
    "broken: /s/x.lua:1: unexpected symbol",
    "" }, "\n"))
end

function T.shipped_tools()
  local text = h.capture(listing.print, require("vns.registry").all())
  has(text, "TOOL")
  has(text, "drop-summary")
  has(text, "kernel_drop_stack_stats_summary_all")
end

return T
