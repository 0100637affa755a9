-- tapdrops: what the tools that attribute a tun/tap or macvtap drop to
-- its cause share (vnet-txdrop, macvtap-drops). Two variants: "reasons"
-- names the cause with the kernel's drop reason (the reason of the
-- skb:kfree_skb inside the dropping function, 5.17+); "kprobe" (older
-- kernels) takes a code the template infers, 1001 and up.
--
--   local causes = tapdrops.new { marker = "FULL_RING", module = "tun",
--     reason_cause = { FULL_RING = "ring full" }, entry_cause = { [1002] = "ring full" } }
local drops = require "vns.drops"
local errors = require "vns.errors"
local template = require "vns.template"
local tracepoint = require "vns.tracepoint"

local M = {}
M.__index = M

-- D: marker (a reason name this kernel has only when the module has its
-- reasons), module (for messages), reason_cause (reason name -> cause),
-- entry_cause (the template's code -> cause), kprobe_help (what the
-- kprobe variant does, for --variant's help).
function M.new(d) return setmetatable(d, M) end

function M:has_reasons() return drops.reason_code(self.marker) ~= nil end

function M:variant(opts)
  if opts.variant ~= "auto" then return opts.variant end
  return self:has_reasons() and "reasons" or "kprobe"
end

-- The --variant option.
function M:option()
  return { name = "variant", type = "choice", values = { "auto", "reasons", "kprobe" }, default = "auto",
           help = "reasons: the kernel's drop reasons (5.17+); kprobe: " .. self.kprobe_help }
end

-- The template's values: TRACEPOINTS (skb:kfree_skb with "reasons") and
-- VARIANT_REASONS.
function M:template_values(opts)
  local reasons = self:variant(opts) == "reasons"
  local tracepoints = template.code("/* kprobe variant: no tracepoint */")
  if reasons then
    if not self:has_reasons() then
      errors.unsupported("option --variant reasons needs " .. self.module
                         .. "'s drop reasons in skb:kfree_skb (Linux 5.17+); use --variant kprobe")
    end
    tracepoints = tracepoint.probe("skb", "kfree_skb").code
  end
  return { TRACEPOINTS = tracepoints, VARIANT_REASONS = template.bool(reasons) }
end

-- run.variant and the reason names the causes are read with.
function M:prepare(run)
  run.variant = self:variant(run.opts)
  run.reason_names = run.variant == "reasons" and drops.reason_names() or {}
end

-- The cause of a counted code, and its reason name (nil for an inferred one).
function M:cause(run, code)
  if self.entry_cause[code] then return self.entry_cause[code], nil end
  local reason = run.reason_names[code] or tostring(code)
  return self.reason_cause[reason] or ("other: " .. reason), reason
end

return M
