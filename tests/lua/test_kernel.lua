-- vns.kernel: tracepoint fields and symbolic names, on this kernel and on
-- format text fixtures from older ones.
local core = require "vns.core"
local kernel = require "vns.kernel"
local h = require "helpers"
local eq = h.eq

-- skb:kfree_skb as Linux 4.19 prints it: no rx_sk, no reason.
local KFREE_SKB_4_19 = [[
name: kfree_skb
ID: 1371
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:void * skbaddr;	offset:8;	size:8;	signed:0;
	field:void * location;	offset:16;	size:8;	signed:0;
	field:unsigned short protocol;	offset:24;	size:2;	signed:0;

print fmt: "skbaddr=%p protocol=%u location=%p", REC->skbaddr, REC->protocol, REC->location
]]

-- As 5.17 prints it: the reason enum started at 0.
local KFREE_SKB_5_17 = [[
name: kfree_skb
ID: 1500
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:void * skbaddr;	offset:8;	size:8;	signed:0;
	field:void * location;	offset:16;	size:8;	signed:0;
	field:unsigned short protocol;	offset:24;	size:2;	signed:0;
	field:enum skb_drop_reason reason;	offset:28;	size:4;	signed:0;

print fmt: "skbaddr=%p protocol=%u location=%p reason: %s", REC->skbaddr, REC->protocol, REC->location, __print_symbolic(REC->reason, { 0, "NOT_SPECIFIED" }, { 1, "NO_SOCKET" }, { 2, "PKT_TOO_SMALL" }, { 6, "NETFILTER_DROP" })
]]

-- Two symbolic fields, the first followed by more arguments; arrays.
local TWO_SYMBOLIC = [[
name: demo
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:char name[16];	offset:8;	size:16;	signed:0;
	field:__data_loc char[] dev;	offset:24;	size:4;	signed:0;
	field:int state;	offset:28;	size:4;	signed:1;
	field:int family;	offset:32;	size:4;	signed:1;

print fmt: "state=%s family=%s x=%d", __print_symbolic(REC->state, { 1, "ESTABLISHED" }, { -1, "NEGATIVE" }, {7,"CLOSE"}), __print_symbolic(REC->family, { 2, "AF_INET" }, { 10, "AF_INET6" }), REC->state
]]

-- neigh:neigh_update (5.x-6.x) writes its values in hex.
local NEIGH_UPDATE = [[
name: neigh_update
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:u8 nud_state;	offset:20;	size:1;	signed:0;

print fmt: "nud_state %s", __print_symbolic(REC->nud_state, { 0x01, "incomplete" }, { 0x02, "reachable" }, { 0x04, "stale" }, { 0x80, "permanent"})
]]

-- A fresh vns.kernel (its cache empty) whose core.tracepoint_format
-- serves `formats`; the real function and module are put back after.
local function with_formats(formats, f)
  local saved_fn, saved_mod = core.tracepoint_format, package.loaded["vns.kernel"]
  local calls = {}
  core.tracepoint_format = function(cat, name)
    local key = cat .. ":" .. name
    calls[key] = (calls[key] or 0) + 1
    if formats[key] then return formats[key] end
    return nil, "tracepoint " .. key .. ": No such file or directory", 2
  end
  package.loaded["vns.kernel"] = nil
  local ok, err = pcall(function() f(require("vns.kernel"), calls) end)
  core.tracepoint_format, package.loaded["vns.kernel"] = saved_fn, saved_mod
  if not ok then error(err, 0) end
end

local T = {}

function T.kfree_skb_fields_here()
  local fields = kernel.tracepoint_fields("skb", "kfree_skb")
  assert(fields, "this kernel has no skb:kfree_skb")
  eq(fields.common_type, { type = "unsigned short", offset = 0, size = 2 })
  eq(fields.skbaddr, { type = "void *", offset = 8, size = 8 })
  eq(fields.location, { type = "void *", offset = 16, size = 8 })
  eq(fields.protocol.type, "unsigned short")
  eq(fields.protocol.size, 2)
  assert(fields.protocol.offset >= 24, "protocol offset " .. fields.protocol.offset)
  if fields.reason then
    eq(fields.reason.size, 4)
    assert(fields.reason.offset > fields.protocol.offset)
  end
end

-- The enum's numbering moves between releases; pin it where known.
local known_reasons = {
  ["6.18"] = { [2] = "NOT_SPECIFIED", [3] = "NO_SOCKET", [12] = "NETFILTER_DROP" },
}

function T.kfree_skb_reason_names_here()
  local names = kernel.tracepoint_symbols("skb", "kfree_skb", "reason")
  if not kernel.tracepoint_fields("skb", "kfree_skb").reason then
    eq(names, {})   -- before 5.17: no reason field
    return
  end
  local by_name = {}
  for value, name in pairs(names) do
    eq(math.type(value), "integer")
    by_name[name] = value
  end
  assert(by_name.NO_SOCKET and by_name.NETFILTER_DROP, "NO_SOCKET/NETFILTER_DROP missing")
  local major, minor = kernel.version()
  for value, name in pairs(known_reasons[major .. "." .. minor] or {}) do
    eq(names[value], name, "reason " .. value)
  end
end

function T.symbols_of_plain_field_are_empty()
  eq(kernel.tracepoint_symbols("skb", "kfree_skb", "protocol"), {})
  eq(kernel.tracepoint_symbols("skb", "kfree_skb", "no_such_field"), {})
end

function T.missing_tracepoint()
  eq(kernel.tracepoint_fields("skb", "no_such_tracepoint"), nil)
  eq(kernel.tracepoint_fields("no_such_category", "kfree_skb"), nil)
  eq(kernel.tracepoint_format("skb", "no_such_tracepoint"), nil)
  eq(kernel.has_tracepoint("skb", "no_such_tracepoint"), false)
  eq(kernel.has_tracepoint("skb", "kfree_skb"), true)
  eq(kernel.tracepoint_symbols("skb", "no_such_tracepoint", "reason"), {})
end

function T.fixture_4_19()
  with_formats({ ["skb:kfree_skb"] = KFREE_SKB_4_19 }, function(k)
    eq(k.tracepoint_fields("skb", "kfree_skb"), {
      common_type = { type = "unsigned short", offset = 0, size = 2 },
      common_flags = { type = "unsigned char", offset = 2, size = 1 },
      common_preempt_count = { type = "unsigned char", offset = 3, size = 1 },
      common_pid = { type = "int", offset = 4, size = 4 },
      skbaddr = { type = "void *", offset = 8, size = 8 },
      location = { type = "void *", offset = 16, size = 8 },
      protocol = { type = "unsigned short", offset = 24, size = 2 },
    })
    eq(k.tracepoint_symbols("skb", "kfree_skb", "reason"), {})
    eq(k.has_tracepoint("skb", "kfree_skb"), true)
    eq(k.tracepoint_fields("skb", "consume_skb"), nil)
  end)
end

function T.fixture_5_17()
  with_formats({ ["skb:kfree_skb"] = KFREE_SKB_5_17 }, function(k)
    eq(k.tracepoint_fields("skb", "kfree_skb").reason,
       { type = "enum skb_drop_reason", offset = 28, size = 4 })
    eq(k.tracepoint_symbols("skb", "kfree_skb", "reason"),
       { [0] = "NOT_SPECIFIED", [1] = "NO_SOCKET", [2] = "PKT_TOO_SMALL", [6] = "NETFILTER_DROP" })
  end)
end

function T.fixture_two_symbolic_fields_and_arrays()
  with_formats({ ["demo:demo"] = TWO_SYMBOLIC }, function(k)
    eq(k.tracepoint_symbols("demo", "demo", "state"), { [1] = "ESTABLISHED", [-1] = "NEGATIVE", [7] = "CLOSE" })
    eq(k.tracepoint_symbols("demo", "demo", "family"), { [2] = "AF_INET", [10] = "AF_INET6" })
    local fields = k.tracepoint_fields("demo", "demo")
    eq({ fields.name.offset, fields.name.size }, { 8, 16 })
    eq({ fields.dev.offset, fields.dev.size }, { 24, 4 })
  end)
end

function T.fixture_hex_symbols()
  with_formats({ ["neigh:neigh_update"] = NEIGH_UPDATE }, function(k)
    eq(k.tracepoint_symbols("neigh", "neigh_update", "nud_state"),
       { [1] = "incomplete", [2] = "reachable", [4] = "stale", [0x80] = "permanent" })
  end)
end

function T.neigh_update_states_here()
  if not kernel.has_tracepoint("neigh", "neigh_update") then return end
  local names = kernel.tracepoint_symbols("neigh", "neigh_update", "nud_state")
  eq({ names[0x01], names[0x02], names[0x80] }, { "incomplete", "reachable", "permanent" })
end

function T.fixture_missing_and_cached()
  with_formats({}, function(k, calls)
    eq(k.tracepoint_fields("skb", "kfree_skb"), nil)
    eq(k.tracepoint_format("skb", "kfree_skb"), nil)
    eq(k.tracepoint_symbols("skb", "kfree_skb", "reason"), {})
    eq(calls["skb:kfree_skb"], 1)
  end)
  -- the real module and core are back
  assert(kernel.has_tracepoint("skb", "kfree_skb"))
  eq(package.loaded["vns.kernel"], kernel)
end

function T.version()
  local saved = core.kernel_release
  local cases = { ["4.19.0-17-amd64"] = { 4, 19, 0 }, ["5.10"] = { 5, 10, 0 },
                  ["6.18.44-fc-v595"] = { 6, 18, 44 }, ["5.15.0-105-generic"] = { 5, 15, 0 } }
  local ok, err = pcall(function()
    for release, want in pairs(cases) do
      core.kernel_release = function() return release end
      eq({ kernel.version() }, want, release)
    end
  end)
  core.kernel_release = saved
  assert(ok, err)
  eq(kernel.release(), saved())
end

return T
