-- cache: compiled programs kept as packs (engine/pack.h), so that a run
-- whose program has the same shape loads without compiling: no clang,
-- no LLVM in memory.
--
-- The shape is the generated C with every value given at launch
-- (template.value, VNS_VALUE in the C) replaced by a numbered sentinel.
-- The program is compiled once with the sentinels; the engine records the
-- instructions each sentinel became and patches the real values in at
-- load. What changes the code itself (a filter present or not, how many
-- addresses, which grouping) changes the text and so the key.
--
-- The key is everything that decides the compiled code: the shape, the
-- kernel (release, build, headers, tracepoint formats), the compiler
-- (libbcc, LLVM), the vns headers programs include, the cflags and
-- vnetscope's version. Who may own the cache: see trusted(). The
-- entry file holds its whole key: a file made for another key, or
-- damaged (CRC32), is never loaded; it is compiled again.
local core = require "vns.core"
local errors = require "vns.errors"

local M = {}

-- Sentinel i: both 32-bit halves carry i under a marker ("VN" above, a
-- different one below), so no half of one sentinel equals a half of
-- another, nor a constant a program has of its own (pack_bind checks).
function M.sentinel(i)
  assert(i >= 1 and i < 0x10000, "cache: too many run-time constants")
  return ((0x564e0000 | i) << 32) | (0x7c0d0000 | i)
end

M.DEFAULT_MAX_MB = 64

-- Where packs come from: the cache (default), nowhere (--no-cache), or a
-- file or directory made by `vnetscope compile` (--pack).
-- VNETSCOPE_PACK=PATH is --pack PATH for every run (the kernel lab).
local source = { kind = "cache" }
local pack_env = os.getenv("VNETSCOPE_PACK")
if pack_env and pack_env ~= "" then source = { kind = "pack", path = pack_env } end

function M.configure(opts)
  if opts.no_cache and opts.pack then
    errors.usage("options --pack and --no-cache: give one (--pack loads a pack and never compiles)")
  end
  if opts.no_cache then source = { kind = "none" } end
  if opts.pack then source = { kind = "pack", path = opts.pack } end
end

-- The cache directory: programs/ here, kheaders/ for header trees.
function M.base_dir()
  local base = os.getenv("VNETSCOPE_CACHE_DIR")
  return base and base ~= "" and base or "/var/cache/vnetscope"
end

function M.dir() return M.base_dir() .. "/programs" end

function M.max_bytes()
  local text = os.getenv("VNETSCOPE_CACHE_MAX_MB")
  local mb = M.DEFAULT_MAX_MB
  if text then mb = #text <= 9 and math.tointeger(tonumber(text)) end
  if not mb or mb < 1 then
    errors.usage("VNETSCOPE_CACHE_MAX_MB=%s: give a whole number of megabytes, 1 or more", text)
  end
  return mb * 1024 * 1024
end

-- text -> shape, values, sentinels (value i was replaced by sentinel i).
function M.abstract(text)
  local values, sentinels = {}, {}
  local shape = text:gsub("VNS_VALUE%((u%d+), 0x(%x+)%)", function(ctype, hex)
    if #hex > 16 then return nil end  -- not a 64-bit value: left for clang to refuse
    local i = #values + 1
    values[i] = math.tointeger(tonumber(hex, 16))
    sentinels[i] = M.sentinel(i)
    return string.format("VNS_VALUE(%s, 0x%x)", ctype, sentinels[i])
  end)
  return shape, values, sentinels
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local data = f:read("a")
  f:close()
  return data
end

-- The vns headers are part of every program but not of its text.
local includes_hash
local function includes()
  if not includes_hash then
    local dir = core.share_dir .. "/bpf-templates/include/vns"
    local list = assert(core.listdir(dir))
    table.sort(list, function(a, b) return a.name < b.name end)
    local parts = {}
    for _, e in ipairs(list) do
      if not e.dir then parts[#parts + 1] = e.name .. "\n" .. (read_file(dir .. "/" .. e.name) or "?") end
    end
    includes_hash = core.hash(table.concat(parts, "\0"))
  end
  return includes_hash
end

-- The kernel programs are compiled for: this one, or the one `vnetscope
-- compile --kernel-release R --kernel-headers DIR` names.
local target
function M.set_target(release, headers_dir, arch)
  core.use_kernel_headers(headers_dir)
  require("vns.kernel").set_target(release)
  -- The architecture (--target-arch) keys the cache entries compile
  -- keeps: the same text for the same headers is another program.
  local headers = core.kheaders_identity()
  if arch then
    core.use_target_arch(arch)
    headers = headers .. " arch " .. arch
  end
  target = { release = release, kernel = "-", headers = headers }
end

local function this_kernel()
  local version = read_file("/proc/sys/kernel/version") or "-"
  return { release = core.kernel_release(), kernel = version:gsub("%s+$", ""),
           headers = core.kheaders_identity() }
end

-- The format without its "ID:" line: a module's tracepoints are numbered
-- when it loads (kvm's differ with what loaded before), and nothing
-- compiled depends on the number.
local function format_of(cat, name)
  local text = require("vns.kernel").tracepoint_format(cat, name)
  return text and (text:gsub("\nID: %d+\n", "\n")) or "-"
end

-- BCC lays out a TRACEPOINT_PROBE's args from the tracepoint's format
-- where it compiles: a program is only good where the formats it used
-- are the same. Raw tracepoints (vns.tracepoint) are keyed the same way.
local function tracepoint_formats(text)
  local parts = {}
  for cat, name in text:gmatch("TRACEPOINT_PROBE%s*%(%s*([%w_]+)%s*,%s*([%w_]+)%s*%)") do
    parts[#parts + 1] = cat .. ":" .. name .. "\n" .. format_of(cat, name)
  end
  -- A raw tracepoint (vns.tracepoint writes this line) reads no record,
  -- but what the tool made of the format (reason codes...) must hold too.
  for cat, name in text:gmatch("/%* ([%w_]+):([%w_]+) as a raw tracepoint") do
    parts[#parts + 1] = cat .. ":" .. name .. "\n" .. format_of(cat, name)
  end
  return #parts == 0 and "-" or core.hash(table.concat(parts, "\0"))
end

-- The first lines must match wherever a pack is loaded (vnetscope, the
-- kernel release, the vns headers, the tracepoint formats); the next
-- ones describe the build host; the shape follows the empty line.
function M.key(shape, cflags, kernel)
  return table.concat({
    "vnetscope " .. core.version,
    "release " .. kernel.release,
    "includes " .. includes(),
    "tracepoints " .. tracepoint_formats(shape),
    "kernel " .. kernel.kernel,
    "headers " .. kernel.headers,
    "compiler " .. core.compiler_identity(),
    "cflags " .. table.concat(cflags, " "),
    "",
    shape,
  }, "\n")
end

local function key_field(key, name)
  return key:match("^" .. name .. " ([^\n]*)") or key:match("\n" .. name .. " ([^\n]*)")
end

local function key_shape(key) return key:match("\n\n(.*)$") end

-- What a pack must match on the machine it runs on.
local function portable(key)
  local out = {}
  for _, name in ipairs({ "vnetscope", "release", "includes", "tracepoints" }) do
    out[#out + 1] = key_field(key, name) or "?"
  end
  out[#out + 1] = key_shape(key) or ""
  return table.concat(out, "\n")
end

local function entry_path(key) return M.dir() .. "/" .. core.hash(key) .. ".pack" end

-- Whole or not at all (core.write_file): readers see the old file or
-- the new one. Returns true, or nil and why.
local function store(path, bytes)
  local dir = path:match("^(.*)/[^/]*$") or "."
  local ok, err = core.mkdirs(dir ~= "" and dir or "/")
  if not ok then return nil, err end
  return core.write_file(path, bytes)
end

-- Root loads what the cache holds into the kernel: only from a directory
-- and files that no one else can write.
local function trusted(path)
  local st = core.stat(path)
  return st ~= nil and st.uid == core.geteuid() and st.mode & 18 == 0  -- 18: 0022, group/other write
end

local not_using_said
local function not_using(why)
  if not not_using_said then
    not_using_said = true
    io.stderr:write(string.format("vnetscope: not using the cache: %s; compiling\n", why))
  end
end

local function untrusted(what)
  not_using(string.format("%s is not owned by uid %d or is writable by others", what, core.geteuid()))
end

local function entries()
  local out = {}
  for _, e in ipairs(core.listdir(M.dir()) or {}) do
    if e.name:match("%.pack$") then
      local path = M.dir() .. "/" .. e.name
      local st = core.stat(path)
      if st then out[#out + 1] = { name = e.name, path = path, size = st.size, mtime = st.mtime } end
    end
  end
  table.sort(out, function(a, b) return a.mtime > b.mtime or (a.mtime == b.mtime and a.name < b.name) end)
  return out
end

-- Over the bound, the oldest entries go (down to 3/4 of it), never the
-- one just written for this run. Temporary files of runs killed while
-- writing go after an hour.
local function trim(keep)
  local now = os.time()
  for _, e in ipairs(core.listdir(M.dir()) or {}) do
    local st = e.name:match("%.tmp%-") and core.stat(M.dir() .. "/" .. e.name)
    if st and now - st.mtime > 3600 then os.remove(M.dir() .. "/" .. e.name) end
  end
  local list, total, limit = entries(), 0, M.max_bytes()
  for _, e in ipairs(list) do total = total + e.size end
  if total <= limit then return end
  for i = #list, 1, -1 do
    if total <= limit * 3 // 4 then break end
    if list[i].path ~= keep and os.remove(list[i].path) then total = total - list[i].size end
  end
end

-- The entry at path, if it is whole and made for key; a damaged one is
-- removed, with one line saying so.
local function try_entry(path, key, values)
  if not core.stat(path) then return nil end
  if not trusted(path) then
    untrusted(path)
    return nil
  end
  local bytes = read_file(path)
  if not bytes then return nil end
  local mod, err, code = core.load_pack(bytes, { key = key, values = values })
  if mod then return mod end
  if code == "corrupt" then
    -- An entry of another pack format is an older vnetscope's: replaced quietly.
    if not err:match("^pack format") then
      io.stderr:write(string.format("vnetscope: cache entry %s is damaged (%s); compiling again\n", path, err))
    end
    os.remove(path)
    return nil
  end
  if code == "key" then return nil end
  return nil, err, code
end

local function compile_entry(shape, sentinels, key, opts)
  return core.compile_pack(shape, { cflags = opts.cflags, debug = opts.debug, sentinels = sentinels,
                                    key = key, about = opts.about or "" })
end

-- A text once split into shape and values, with the keys it is found
-- under: key (the shape; values patched in) and, for a program whose
-- values could not be patched, exact() (the text itself).
local function program_of(text, cflags, kernel)
  local p = { text = text, cflags = cflags, kernel = kernel }
  p.shape, p.values, p.sentinels = M.abstract(text)
  p.key = M.key(p.shape, cflags, kernel)
  function p.exact()
    p.exact_key = p.exact_key or M.key(text, cflags, kernel)
    return p.exact_key
  end
  return p
end

-- A pack for p: with its values patchable when the compiled code allows
-- it, else for these values only. Returns bytes, key, values.
local function compile_pack(p, opts)
  local bytes, err, code = compile_entry(p.shape, p.sentinels, p.key, opts)
  if not bytes and code == "unpatchable" then
    bytes, err, code = compile_entry(p.text, {}, p.exact(), opts)
    return bytes, p.exact(), {}, err, code
  end
  return bytes, p.key, p.values, err, code
end

-- clang quotes the compiled (sentinel) text: show the values instead.
local function with_values(message, values)
  return (tostring(message):gsub("0x564e(%x%x%x%x)7c0d%x%x%x%x", function(i)
    local v = values[tonumber(i, 16)]
    return v and string.format("0x%x", v)
  end))
end

-- The cache directory exists and only we can write it.
local function usable()
  local made, why = core.mkdirs(M.dir())
  if not made then  -- e.g. a read-only cache directory
    not_using(tostring(why))
    return false
  end
  for _, dir in ipairs({ M.base_dir(), M.dir() }) do
    if not trusted(dir) then
      untrusted(dir)
      return false
    end
  end
  return true
end

local function from_cache(text, opts)
  M.max_bytes()  -- a bad bound is a usage error on every run, not only on a miss
  -- BCC's debug output comes from compiling: a cached program has none.
  if opts.debug and opts.debug ~= 0 then return core.compile(text, opts) end
  if not usable() then return core.compile(text, opts) end
  local p = program_of(text, opts.cflags, this_kernel())
  local mod, err, code = try_entry(entry_path(p.key), p.key, p.values)
  if mod or err then return mod, err, code end
  -- Values that could not be patched are part of the key.
  mod, err, code = try_entry(entry_path(p.exact()), p.exact(), {})
  if mod or err then return mod, err, code end
  local bytes, used_key, used_values
  bytes, used_key, used_values, err, code = compile_pack(p, opts)
  if not bytes then return nil, with_values(err, p.values), code end
  local path = entry_path(used_key)
  if store(path, bytes) then trim(path) end
  return core.load_pack(bytes, { key = used_key, values = used_values })
end

-- The pack for key: the file given, or in a directory the one named
-- after the key's portable part (made by vnetscope compile -o DIR); a
-- program whose values could not be patched is named after its text.
local function pack_file(path, keys)
  local st = core.stat(path)
  if not (st and st.dir) then return path end
  for _, key in ipairs(keys) do
    local file = path .. "/" .. core.hash(portable(key)) .. ".pack"
    if core.stat(file) then return file, key end
  end
  errors.fail("--pack %s has no pack for these options and kernel %s: make one with 'vnetscope compile "
              .. "TOOL [the same options] -o %s' (with --kernel-release/--kernel-headers on a build host)",
              path, core.kernel_release(), path)
end

-- A pack made elsewhere: it must be for this kernel and this shape.
local function from_pack(text, opts)
  local p = program_of(text, opts.cflags, this_kernel())
  local want, values, exact = p.key, p.values, p.exact()
  local path, found = pack_file(source.path, { want, exact })
  if found == exact then want, values = exact, {} end
  local bytes, err = read_file(path)
  if not bytes then
    errors.fail("--pack %s: %s; make it with 'vnetscope compile' for kernel %s", path, err or "cannot read",
                core.kernel_release())
  end
  local info, why = core.pack_info(bytes)
  if not info then errors.fail("--pack %s: not a usable pack: %s", path, why) end
  local have = info.key
  if info.values == 0 and #values > 0 and portable(have) == portable(exact) then
    want, values = exact, {}  -- compiled for these very values
  end
  if key_field(have, "release") ~= key_field(want, "release") then
    errors.fail("--pack %s was compiled for kernel %s; this kernel is %s: compile it with "
                .. "'vnetscope compile ... --kernel-release %s' on a build host with this kernel's headers, or here",
                path, key_field(have, "release"), key_field(want, "release"), key_field(want, "release"))
  end
  if portable(have) ~= portable(want) then
    local why = key_shape(have) ~= key_shape(want) and "holds another program than these options make"
      or key_field(have, "tracepoints") ~= key_field(want, "tracepoints")
        and "was compiled with other tracepoint formats (give vnetscope compile --tracefs a copy of this kernel's)"
      or "was made by another vnetscope version"
    errors.fail("--pack %s %s: compile it with the same options (values may differ) here, or on a build "
                .. "host with the headers of %s", path, why, key_field(want, "release"))
  end
  local mod
  mod, err = core.load_pack(bytes, { key = have, values = values })
  if not mod then errors.fail("--pack %s: %s", path, err) end
  return mod
end

-- A module for text, compiled or from a pack. opts: cflags, debug, about.
function M.module(text, opts)
  if source.kind == "none" then return core.compile(text, opts) end
  if source.kind == "pack" then return from_pack(text, opts) end
  return from_cache(text, opts)
end

-- `vnetscope compile`: write the pack for text to path (a file, or a
-- directory where --pack DIR finds it). Returns the file written.
-- The cache's entry for p (under its shape or its exact text), if whole.
local function cached_bytes(p)
  for _, key in ipairs({ p.key, p.exact() }) do
    local path = entry_path(key)
    local bytes = core.stat(path) and trusted(path) and read_file(path)
    local info = bytes and core.pack_info(bytes)
    if info and info.key == key then return bytes, key end
  end
end

-- A pack is also a cache entry (of its target kernel, which keys it): a
-- program compiled before, by a run or another compile, is not compiled
-- again, and one compiled now serves later runs and compiles.
function M.write_pack(text, opts, path)
  local p = program_of(text, opts.cflags, target or this_kernel())
  local cache_ok = M.max_bytes() and usable()
  local bytes, key
  if cache_ok then bytes, key = cached_bytes(p) end
  if not bytes then
    local err
    bytes, key, _, err = compile_pack(p, opts)
    if not bytes then return nil, with_values(err, p.values) end
    if cache_ok and store(entry_path(key), bytes) then trim(entry_path(key)) end
  end
  local st = core.stat(path)
  local is_dir = (st and st.dir) or path:sub(-1) == "/"
  local file = is_dir and (path:gsub("/+$", "") .. "/" .. core.hash(portable(key)) .. ".pack") or path
  local ok, why = store(file, bytes)
  if not ok then return nil, why end
  return file
end

function M.list()
  local rows = {}
  for _, e in ipairs(entries()) do
    local info = core.pack_info(read_file(e.path) or "")
    rows[#rows + 1] = { name = e.name, size = e.size, mtime = e.mtime,
                        release = info and key_field(info.key, "release") or "?",
                        about = info and info.about or "(damaged)" }
  end
  return rows
end

-- Returns how many entries went, and the reasons of those that did not.
function M.clear()
  local n, failed = 0, {}
  for _, e in ipairs(entries()) do
    local ok, err = os.remove(e.path)
    if ok then n = n + 1 else failed[#failed + 1] = err end
  end
  return n, failed
end

return M
