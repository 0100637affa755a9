-- kernel: facts about the running kernel that scripts choose variants
-- by: release, tracepoint fields, symbolic names from print formats.
local core = require "vns.core"

local M = {}
local formats = {}

local target_release

-- The release programs are made for: this kernel's, or the one given to
-- `vnetscope compile --kernel-release` (set_target), whose BTF is not here.
function M.release() return target_release or core.kernel_release() end
function M.set_target(release) target_release = release end
function M.is_target() return target_release ~= nil end

-- major, minor, patch as numbers
function M.version()
  local a, b, c = M.release():match("^(%d+)%.(%d+)%.?(%d*)")
  return tonumber(a), tonumber(b), tonumber(c) or 0
end

function M.tracepoint_format(category, name)
  local key = category .. ":" .. name
  if formats[key] == nil then
    formats[key] = core.tracepoint_format(category, name) or false
  end
  return formats[key] or nil
end

local fields_of = {}

-- {field = {type=, offset=, size=}} of a tracepoint, or nil if it is
-- absent. Parsed once per run: tools ask per event (drops.has_reason).
function M.tracepoint_fields(category, name)
  local key = category .. ":" .. name
  if fields_of[key] == nil then fields_of[key] = M.parse_fields(M.tracepoint_format(category, name)) or false end
  return fields_of[key] or nil
end

function M.parse_fields(text)
  if not text then return nil end
  local fields = {}
  for decl, offset, size in text:gmatch("field:([^;]+);%s*offset:(%d+);%s*size:(%d+);") do
    local ctype, field = decl:match("^(.-)%s*([%w_]+)%s*[%[%d%]]*$")
    if field then
      fields[field] = { type = ctype, offset = tonumber(offset), size = tonumber(size) }
    end
  end
  return fields
end

function M.has_tracepoint(category, name)
  return M.tracepoint_format(category, name) ~= nil
end

-- Value -> name from __print_symbolic(REC->field, { 2, "NAME" }, ...) in
-- the tracepoint's print fmt; {} when the kernel prints none.
function M.tracepoint_symbols(category, name, field)
  local text = M.tracepoint_format(category, name) or ""
  local list = text:match("__print_symbolic%(REC%->" .. field .. "%s*,(.-)%)%s*[,%)]")
               or text:match("__print_symbolic%(REC%->" .. field .. "%s*,(.*)%)")
               or ""
  local names = {}
  for value, sym in list:gmatch("{%s*(%-?%w+)%s*,%s*\"([^\"]*)\"%s*}") do
    local n = math.tointeger(tonumber(value))
    if n then names[n] = sym end
  end
  return names
end

return M
