-- check: what the Lua fuzz drivers demand of every input.
local M = {}

-- f either succeeds or raises the usage error a user sees (exit 2);
-- anything else (a Lua runtime error, an assert) is re-raised as a bug.
function M.refusal_or(f)
  local ok, err = pcall(f)
  if ok then return end
  if type(err) == "table" and err.code == 2 and type(err.msg) == "string" then return end
  error(type(err) == "table" and tostring(err.msg) or tostring(err), 0)
end

-- The filter's own statement expressions: an address set's LPM lookup
-- (vns.filter), whose braces and semicolons are ours, with a field and
-- a map name in them.
local FIXED = {
  "%({ struct vns_lpm4 vns_k = { 32, [%w_.%[%]]+ }; [%w_]+%.lookup%(&vns_k%) != 0; }%)",
  "%({ struct vns_lpm6 vns_k = { 128, { [%w_.%[%], ]+ } }; [%w_]+%.lookup%(&vns_k%) != 0; }%)",
}

-- Generated C is made from numbers and fixed words only: no quote,
-- brace, semicolon, preprocessor or comment character of the user's.
function M.c_text(text)
  for _, shape in ipairs(FIXED) do text = text:gsub(shape, "LPM") end
  if text:find("[\"'{};#\\]") or text:find("/%*") or text:find("%c") then
    error("generated C holds unexpected text: " .. text:sub(1, 200), 0)
  end
end

return M
