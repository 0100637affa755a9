-- program: compile generated C (through the cache), load its functions, attach them by BCC's
-- naming conventions, and detach everything on close.
--   tracepoint__CAT__NAME    -> tracepoint CAT:NAME   (TRACEPOINT_PROBE)
--   raw_tracepoint__NAME     -> raw tracepoint NAME   (RAW_TRACEPOINT_PROBE)
--   kprobe__FN / kretprobe__FN -> kprobe on FN
--   uprobe__X / uretprobe__X -> loaded as uprobes (check verifier-loads
--                               them) but attached by the script, which
--                               knows the binary and the symbols
--   kprobe_by_script__X      -> loaded as a kprobe (check verifier-loads it),
--                               attached by the script (optional probes)
-- Other functions are attached by the script with prog:attach().
local cache = require "vns.cache"
local core = require "vns.core"
local errors = require "vns.errors"
local template = require "vns.template"

local Program = {}
Program.__index = Program

local M = {}

local conventions = {
  { "^tracepoint__(.-)__(.+)$", "tracepoint", function(c, n) return c .. ":" .. n end },
  { "^raw_tracepoint__(.+)$", "raw_tracepoint", function(n) return n end },
  { "^kretprobe__(.+)$", "kprobe", function(fn) return fn, { ret = true } end },
  { "^kprobe__(.+)$", "kprobe", function(fn) return fn end },
  { "^kprobe_by_script__", "kprobe", function() return nil end },
  { "^uretprobe__", "uprobe", function() return nil end },
  { "^uprobe__", "uprobe", function() return nil end },
}

-- How a function is loaded and attached: kind, attach arguments.
function M.convention(fn)
  for _, c in ipairs(conventions) do
    local a, b = fn:match(c[1])
    if a then return c[2], c[3](a, b) end
  end
end

-- The other way round: the entry a probe point gets by those
-- conventions, and what its context is called in the body.
local entries = {
  tracepoint = { "TRACEPOINT_PROBE(%s, %s)", "args", 2 },
  raw_tracepoint = { "RAW_TRACEPOINT_PROBE(%s)", "ctx", 1 },
  kprobe = { "int kprobe__%s(struct pt_regs *ctx)", "ctx", 1 },
  kretprobe = { "int kretprobe__%s(struct pt_regs *ctx)", "ctx", 1 },
}

-- "tracepoint:CAT:NAME", "raw_tracepoint:NAME", "kprobe:FN" or
-- "kretprobe:FN" as {kind, names (C identifiers), entry, ctx}; nil and
-- why for anything else.
function M.probe_point(text)
  local parts = {}
  for p in (tostring(text) .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
  local e = entries[parts[1]]
  if not e or #parts ~= e[3] + 1 then
    return nil, string.format("'%s' is not tracepoint:CAT:NAME, raw_tracepoint:NAME, kprobe:FN or kretprobe:FN", text)
  end
  local names = { table.unpack(parts, 2) }
  for _, n in ipairs(names) do
    if not template.is_ident(n) then return nil, string.format("'%s' in '%s' must be a C identifier", n, text) end
  end
  return { kind = parts[1], names = names, entry = string.format(e[1], table.unpack(names)), ctx = e[2] }
end

-- Show the generated lines clang complained about, numbered as in
-- --emit-c. BCC inserts its own lines before tracepoint probes, so
-- clang's line numbers are off: find the line clang quotes instead.
local function with_context(message, text)
  local lines, at = {}, {}
  for line in (text .. "\n"):gmatch("(.-)\n") do
    lines[#lines + 1] = line
    at[line] = at[line] or #lines
  end
  local shown, extra, prev = {}, {}, nil
  for line in (message .. "\n"):gmatch("(.-)\n") do
    if prev and prev:match("^/virtual/main%.c:%d+:") then
      local n = at[line]
      if n and not shown[n] and line:match("%S") then
        shown[n] = true
        extra[#extra + 1] = string.format("%5d | %s", n, lines[n])
      end
    end
    prev = line
  end
  if #extra == 0 then return message end
  return message .. "\ngenerated lines (as --emit-c numbers them):\n" .. table.concat(extra, "\n")
end

function M.cflags()
  return { "-I" .. core.share_dir .. "/bpf-templates/include" }
end

-- Loading BPF needs CAP_SYS_ADMIN or CAP_BPF (5.8+): say so plainly
-- instead of letting a later call fail with EPERM.
local function can_load_bpf(status_text)
  local hex = status_text and status_text:match("CapEff:%s*(%x+)")
  if not hex then return true end
  local caps = tonumber(hex, 16)
  return caps & (1 << 21) ~= 0 or caps & (1 << 39) ~= 0
end
M.can_load_bpf = can_load_bpf

-- Every TRACEPOINT_PROBE of the text must exist here: otherwise BCC's
-- error is an incomplete struct, far from the cause.
local function check_tracepoints(text)
  local kernel = require "vns.kernel"
  for cat, name in text:gmatch("TRACEPOINT_PROBE%s*%(%s*([%w_]+)%s*,%s*([%w_]+)%s*%)") do
    if not kernel.has_tracepoint(cat, name) then
      errors.fail("tracepoint %s:%s does not exist on this kernel (%s)", cat, name, kernel.release())
    end
  end
end

function M.require_privilege()
  local f = io.open("/proc/self/status")
  local status = f and f:read("a")
  if f then f:close() end
  if not can_load_bpf(status) then
    errors.fail("loading BPF programs needs root (CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON)")
  end
end

-- Compile text, or load it from the cache or a pack (vns.cache). opts:
-- debug (BCC's flags), about (a label for `vnetscope cache list`).
function M.compile(text, opts)
  opts = opts or {}
  M.require_privilege()
  check_tracepoints(text)
  local mod, err = cache.module(text, { cflags = M.cflags(), debug = opts.debug, about = opts.about })
  if not mod then
    errors.fail("compile failed:\n%s", with_context(err, text))
  end
  return setmetatable({ mod = mod, text = text, progs = {}, links = {} }, Program)
end

-- Load one function (once) as a program of the given kind.
function Program:load(fn, kind)
  if self.progs[fn] then return self.progs[fn] end
  local prog, err = self.mod:load(fn, kind)
  if not prog then errors.fail("%s", err) end
  self.progs[fn] = prog
  return prog
end

-- Load every function named by a convention; returns {fn, kind, prog, args}.
function Program:load_all()
  local loaded = {}
  for _, fn in ipairs(self.mod:functions()) do
    local kind, target, opts = M.convention(fn)
    if kind then
      loaded[#loaded + 1] = { fn = fn, kind = kind, prog = self:load(fn, kind), target = target, opts = opts }
    end
  end
  return loaded
end

-- Attach one program and keep the link, or return nil and why (an
-- optional probe point: nothing else is detached).
function Program:try_attach(prog, kind, ...)
  local link, err = prog:attach(kind, ...)
  if link then self.links[#self.links + 1] = link end
  return link, err
end

-- Attach one program; failure detaches what was already attached.
function Program:attach(prog, kind, ...)
  local link, err = prog:attach(kind, ...)
  if not link then
    self:close()
    errors.fail("%s", err)
  end
  self.links[#self.links + 1] = link
  return link
end

function Program:attach_all()
  for _, p in ipairs(self:load_all()) do
    if p.target then self:attach(p.prog, p.kind, p.target, p.opts) end
  end
  return self
end

function Program:table(name) return self.mod:table(name) end

-- How many probe hits the kernel did not run these programs for: a hit
-- on a CPU where the same program was already running (e.g. the packet
-- of an interrupt's softirq while the program ran for the task it
-- interrupted). Linux 5.12+ counts them; 0 before.
function Program:skipped()
  local n = 0
  for _, prog in pairs(self.progs) do
    local info = prog:info()
    n = n + (info and info.recursion_misses or 0)
  end
  return n
end

-- Detach in reverse order of attaching; safe to call twice.
function Program:close()
  for i = #self.links, 1, -1 do self.links[i]:detach() end
  self.links = {}
end

Program.__close = Program.close
Program.__gc = Program.close

return M
