-- vns.qdisc: tc's handle notation, and counter changes between reads
-- (the kernel's dump replaced by a script of dumps).
local core = require "vns.core"
local qdisc = require "vns.qdisc"
local h = require "helpers"
local eq = h.eq

local T = {}

function T.handle_text()
  eq(qdisc.handle_text(0xffffffff), "root")
  eq(qdisc.handle_text(0xfffffff1), "ingress")
  eq(qdisc.handle_text(0x10000), "1:")
  eq(qdisc.handle_text(0x10010), "1:10")
  eq(qdisc.handle_text(0), "0:")
end

local function q(dev, ifindex, kind, handle, parent, drops, overlimits)
  return { dev = dev, ifindex = ifindex, kind = kind, handle = handle, parent = parent,
           drops = drops, overlimits = overlimits, requeues = 0, backlog = 0, qlen = 0 }
end

-- Run fn with core.qdisc_stats answering the given dumps in turn.
local function with_dumps(dumps, fn)
  local real, i = core.qdisc_stats, 0
  core.qdisc_stats = function()
    i = i + 1
    if dumps[i] == false then return nil, "netlink: refused" end
    return dumps[i]
  end
  local ok, err = pcall(fn)
  core.qdisc_stats = real
  assert(ok, err)
end

function T.changes_since_last_read_and_since_start()
  with_dumps({
    { q("eth0", 2, "pfifo", 0x100000, 0x10001, 0xfffffffd, 0), q("eth0", 2, "htb", 0x10000, 0xffffffff, 5, 9),
      q("eth1", 3, "tbf", 0x50000, 0xffffffff, 0, 0) },
    { q("eth0", 2, "pfifo", 0x100000, 0x10001, 0xffffffff, 0), q("eth0", 2, "htb", 0x10000, 0xffffffff, 8, 9),
      q("eth1", 3, "tbf", 0x50000, 0xffffffff, 0, 0) },
    -- the counter wraps; a new qdisc counts from zero
    { q("eth0", 2, "pfifo", 0x100000, 0x10001, 1, 0), q("eth0", 2, "htb", 0x10000, 0xffffffff, 8, 10),
      q("eth1", 3, "tbf", 0x50000, 0xffffffff, 0, 0), q("eth1", 3, "fq", 0x60000, 0x50001, 2, 0) },
  }, function()
    local c = qdisc.counters()
    local rows = c:changes()
    eq(#rows, 2)
    eq({ rows[1].kind, rows[1].handle, rows[1].parent, rows[1].drops }, { "htb", "1:", "root", 3 })
    eq({ rows[2].kind, rows[2].handle, rows[2].parent, rows[2].drops }, { "pfifo", "10:", "1:1", 2 })
    eq(rows[1].order, nil)
    rows = c:changes(true)
    eq(#rows, 3)
    eq({ rows[1].kind, rows[1].drops, rows[1].overlimits }, { "htb", 3, 1 })
    eq({ rows[2].kind, rows[2].drops }, { "pfifo", 4 })
    eq({ rows[3].dev, rows[3].kind, rows[3].drops }, { "eth1", "fq", 2 })
  end)
end

function T.dev_and_errors()
  with_dumps({ { q("eth0", 2, "pfifo", 0x100000, 0x10001, 5, 0), q("eth1", 3, "tbf", 0x50000, 0xffffffff, 1, 0) },
               { q("eth0", 2, "pfifo", 0x100000, 0x10001, 6, 0), q("eth1", 3, "tbf", 0x50000, 0xffffffff, 2, 0) },
               false },
  function()
    local c = qdisc.counters({ dev = "eth1" })
    local rows = c:changes()
    eq(#rows, 1)
    eq({ rows[1].dev, rows[1].drops }, { "eth1", 1 })
    eq({ c:changes() }, { nil, "netlink: refused" })
  end)
  with_dumps({ false }, function()
    eq({ qdisc.counters():changes() }, { nil, "netlink: refused" })
  end)
end

-- The real dump: every qdisc has the fields, counters are integers.
function T.real_dump_fields()
  local list = assert(core.qdisc_stats())
  for _, r in ipairs(list) do
    for _, f in ipairs({ "ifindex", "handle", "parent", "drops", "overlimits", "requeues", "qlen", "backlog" }) do
      eq(math.type(r[f]), "integer", f)
    end
    eq(type(r.kind), "string")
    eq(type(r.dev), "string")
  end
end

return T
