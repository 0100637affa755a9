-- vns.tapdrops: the variant and the cause names of vnet-txdrop and
-- macvtap-drops.
local drops = require "vns.drops"
local tapdrops = require "vns.tapdrops"
local h = require "helpers"
local eq, has = h.eq, h.has

local T = {}

local function causes()
  return tapdrops.new { marker = "FULL_RING", module = "tun", kprobe_help = "inferred",
                        reason_cause = { FULL_RING = "ring full" }, entry_cause = { [1002] = "ring full (inferred)" } }
end

-- auto follows this kernel (6.18 here: reasons); a named variant stays.
function T.variant()
  local c = causes()
  eq(c:variant({ variant = "auto" }), drops.reason_code("FULL_RING") and "reasons" or "kprobe")
  eq(c:variant({ variant = "kprobe" }), "kprobe")
  eq(c:template_values({ variant = "kprobe" }).VARIANT_REASONS.text, "0")
  has(c:option().help, "kprobe: inferred")
end

-- A template's code, a known reason, an unknown reason, and a code the
-- kernel has no name for.
function T.cause()
  local c, run = causes(), { reason_names = { [7] = "FULL_RING", [8] = "NOMEM" } }
  eq(c:cause(run, 1002), "ring full (inferred)")
  eq(select(2, c:cause(run, 1002)), nil)
  eq(c:cause(run, 7), "ring full")
  eq(select(2, c:cause(run, 7)), "FULL_RING")
  eq(c:cause(run, 8), "other: NOMEM")
  eq(c:cause(run, 9), "other: 9")
end

return T
