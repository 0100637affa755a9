-- cachecmd: the commands `vnetscope compile` (packs for this or another
-- kernel) and `vnetscope cache {list,clear}`.
local cache = require "vns.cache"
local check = require "vns.check"
local core = require "vns.core"
local errors = require "vns.errors"
local options = require "vns.options"
local output = require "vns.output"
local program = require "vns.program"
local registry = require "vns.registry"

local M = {}

local USAGE = "usage: vnetscope compile TOOL [tool options] -o FILE|DIR "
              .. "[--kernel-release R --kernel-headers DIR [--tracefs EVENTS_DIR] [--target-arch x86_64|arm64]], "
              .. "or compile --all [--shard K/N] -o DIR [...]"

-- compile's own options that take a value (the bash completion offers
-- them too), and the field each sets.
M.compile_options = { ["-o"] = "out", ["--output"] = "out", ["--kernel-release"] = "release",
                      ["--kernel-headers"] = "headers", ["--tracefs"] = "tracefs",
                      ["--target-arch"] = "arch", ["--shard"] = "shard" }

-- Take compile's own options out of args; the rest are the tool's.
local function split(args)
  local own, rest, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    local name = M.compile_options[a]
    if name then
      if args[i + 1] == nil then errors.usage("compile: option %s needs a value; %s", a, USAGE) end
      own[name] = args[i + 1]
      i = i + 2
    else
      if a == "--all" then own.all = true else rest[#rest + 1] = a end
      i = i + 1
    end
  end
  return own, rest
end

-- BCC compiles against one tree with include/linux/kconfig.h. Debian
-- splits it: the build directory (generated headers, config) and a
-- common source directory its Makefile includes; /lib/modules/R holds
-- both as build and source. Such a pair is overlaid into one tree of
-- symlinks, kept in the cache directory.
local function has_kconfig(dir) return core.stat(dir .. "/include/linux/kconfig.h") ~= nil end

local function absolute(path)
  return path:sub(1, 1) == "/" and path or (os.getenv("PWD") or ".") .. "/" .. path
end

local function source_of(build)
  local f = io.open(build .. "/Makefile")
  local text = f and f:read("a")
  if f then f:close() end
  local named = text and text:match("^include%s+(%S+)/Makefile")
  if not named then return nil end
  -- The same name next to the build directory first: a copied tree must
  -- not mix with a host package of the same name.
  local parent = build:gsub("/+$", ""):match("^(.*)/[^/]+$")
  local sibling = parent and parent .. "/" .. named:match("[^/]+$")
  if sibling and has_kconfig(sibling) then return sibling end
  return named
end

-- Where both have a directory it is merged; otherwise the build
-- directory's entry (generated files) wins.
local function overlay(src, build, out)
  local ok, err = core.mkdirs(out)
  if not ok then return nil, err end
  local entries = {}
  for _, e in ipairs(core.listdir(src) or {}) do entries[e.name] = { src = e } end
  for _, e in ipairs(core.listdir(build) or {}) do
    entries[e.name] = entries[e.name] or {}
    entries[e.name].build = e
  end
  for name, e in pairs(entries) do
    if e.src and e.build and e.src.dir and e.build.dir then
      ok, err = overlay(src .. "/" .. name, build .. "/" .. name, out .. "/" .. name)
    else
      ok, err = core.symlink((e.build and build or src) .. "/" .. name, out .. "/" .. name)
    end
    if not ok then return nil, err end
  end
  return true
end

local function headers_tree(dir)
  if has_kconfig(dir) then return dir end
  local build, src = dir, nil
  if core.stat(dir .. "/build") and core.stat(dir .. "/source") then
    build, src = dir .. "/build", dir .. "/source"
  else
    src = source_of(dir)
  end
  if not (src and has_kconfig(src)) then
    errors.usage("compile: option --kernel-headers: %s has no include/linux/kconfig.h and names no source "
                 .. "tree that has (build/ and source/, or its Makefile's include); give a kernel header tree "
                 .. "such as /usr/src/kernels/R or /lib/modules/R", dir)
  end
  src, build = absolute(src), absolute(build)
  local out = cache.base_dir() .. "/kheaders/split-" .. core.hash(src .. "\n" .. build)
  if not core.stat(out) then
    -- Built aside and renamed: a concurrent run sees all of it or none.
    local tmp = string.format("%s.tmp-%d", out, core.getpid())
    local ok, err = overlay(src, build, tmp)
    if not ok then
      core.rmtree(tmp)
      errors.fail("compile: merging the header trees %s and %s: %s", src, build, err)
    end
    -- Another run may have published the same tree first: as good as ours.
    if not os.rename(tmp, out) then core.rmtree(tmp) end
  end
  return out
end

local function check_target(own)
  if not own.out then errors.usage("compile: option -o is required; %s", USAGE) end
  if own.tracefs then
    local st = core.stat(own.tracefs .. "/skb")
    if not (st and st.dir) then
      errors.usage("compile: option --tracefs: %s is not a copy of a kernel's tracefs events/ directory "
                   .. "(CATEGORY/NAME/format files; see docs/cache.md)", own.tracefs)
    end
    local ok, err = core.use_tracefs_events(own.tracefs)
    if not ok then errors.fail("compile: --tracefs: %s", err) end
  end
  if (own.release == nil) ~= (own.headers == nil) then
    errors.usage("compile: give --kernel-release and --kernel-headers together (the release the "
                 .. "headers are for), or neither to compile for this kernel")
  end
  if own.arch then
    if own.arch ~= "x86_64" and own.arch ~= "arm64" then
      errors.usage("compile: option --target-arch: '%s' is not an architecture vnetscope compiles for: "
                   .. "x86_64 or arm64", own.arch)
    end
    if not own.release then
      errors.usage("compile: option --target-arch needs --kernel-release and --kernel-headers (that "
                   .. "architecture's headers)")
    end
  end
  if own.release then
    if #own.release > 64 or not own.release:match("^[%w][%w._+~-]*$") then
      errors.usage("compile: option --kernel-release: '%s' is not a kernel release (like 6.1.0-56-cloud-amd64)",
                   own.release)
    end
    local st = core.stat(own.headers)
    if not (st and st.dir) then
      errors.usage("compile: option --kernel-headers: %s is not a directory; give a kernel header tree "
                   .. "such as /usr/src/kernels/R or /lib/modules/R", own.headers)
    end
    cache.set_target(own.release, headers_tree(own.headers), own.arch)
  end
end

local function compile_one(tool, argv, out, skip_unsupported)
  local opts = options.parse(tool:specs(), argv)
  local label = check.label(tool, argv)
  local ok, text = pcall(tool.generate, tool, opts)
  if not ok then
    if not (skip_unsupported and errors.is_unsupported(text)) then error(text, 0) end
    print(string.format("%s: not on this kernel: %s", label, text.msg))
    return
  end
  local file, err = cache.write_pack(text, { cflags = program.cflags(), about = label }, out)
  if not file then errors.fail("compile %s: %s", label, err) end
  print(string.format("%s: %s", label, file))
end

-- Options of a run that mean nothing to compile.
local not_for_compile = { ["--help"] = true, ["-h"] = true, ["--emit-c"] = true, ["--pack"] = true,
                          ["--no-cache"] = true }

-- "K/N": this run compiles every Nth program of --all, from the Kth on,
-- so N processes (a build host's cores) share one --all.
local function parse_shard(text)
  local k, n = text:match("^(%d%d?)/(%d%d?)$")
  k, n = tonumber(k), tonumber(n)
  if not (k and n and k >= 1 and k <= n) then
    errors.usage("compile: option --shard: '%s' is not K/N with 1 <= K <= N <= 99 (like 1/2)", text)
  end
  return k, n
end

function M.compile(args)
  local own, rest = split(args)
  local shard_k, shard_n = 1, 1
  if own.shard then
    if not own.all then errors.usage("compile: option --shard is for compile --all; %s", USAGE) end
    shard_k, shard_n = parse_shard(own.shard)
  end
  for _, a in ipairs(rest) do
    if a == "--help" or a == "-h" then
      print(USAGE)
      return 0
    end
    if not_for_compile[a] then errors.usage("compile: option %s is for running a tool; %s", a, USAGE) end
  end
  program.require_privilege()
  check_target(own)
  if own.all then
    if #rest > 0 then errors.usage("compile --all takes no tool or tool options; %s", USAGE) end
    if not core.mkdirs(own.out) then errors.fail("compile: cannot create directory %s", own.out) end
    local tools, broken = registry.all()
    local nth = 0
    for _, tool in ipairs(tools) do
      -- Every program check loads: as the target runs it, and classic.
      check.each_variant(tool, function(argv)
        nth = nth + 1
        if nth % shard_n == shard_k % shard_n then compile_one(tool, argv, own.out, true) end
      end)
    end
    for _, b in ipairs(broken) do io.stderr:write("vnetscope: compile: broken tool ", b.err, "\n") end
    return #broken == 0 and 0 or 1
  end
  local name = table.remove(rest, 1)
  if not name then errors.usage("compile: which tool? %s", USAGE) end
  compile_one(check.resolve(name, "compile"), rest, own.out)
  return 0
end

local function age(seconds)
  if seconds < 120 then return string.format("%ds", seconds) end
  if seconds < 7200 then return string.format("%dm", seconds // 60) end
  if seconds < 172800 then return string.format("%dh", seconds // 3600) end
  return string.format("%dd", seconds // 86400)
end

function M.cache(args)
  local what = args[1]
  if what == "list" and #args == 1 then
    local rows, total = {}, 0
    local now = os.time()
    for _, e in ipairs(cache.list()) do
      rows[#rows + 1] = { e.name, string.format("%.1f KiB", e.size / 1024), age(math.max(0, now - e.mtime)),
                          e.release, e.about }
      total = total + e.size
    end
    output.table(io.stdout, { "ENTRY", "SIZE", "AGE", "KERNEL", "PROGRAM" }, rows)
    print(string.format("%d entries, %.1f KiB in %s (bound %d MiB, VNETSCOPE_CACHE_MAX_MB)", #rows,
                        total / 1024, cache.dir(), cache.max_bytes() // (1024 * 1024)))
    return 0
  elseif what == "clear" and #args == 1 then
    local n, failed = cache.clear()
    print(string.format("removed %d entries from %s", n, cache.dir()))
    for _, why in ipairs(failed) do io.stderr:write("vnetscope: cache clear: ", why, "\n") end
    return #failed == 0 and 0 or 1
  end
  errors.usage("cache: give 'list' or 'clear' (vnetscope cache list | vnetscope cache clear)")
end

return M
