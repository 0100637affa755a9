-- ovs-megaflow: which megaflows ovs-vswitchd installs in the OVS kernel
-- datapath for the filtered flows, and how often: the flow messages
-- OVS_FLOW_CMD_NEW (install), _SET (modify: revalidation) and _DEL
-- (delete) decoded into key/mask, actions and UFID as
-- `ovs-appctl dpctl/dump-flows` writes them, with the upcalls (misses)
-- whose packet each megaflow was installed for. The filter runs in the
-- kernel on the key's Ethernet/IPv4/IPv6/L4 attributes: only matching
-- messages are copied.
--
-- Usage:
--   vnetscope ovs-megaflow -i 5
--   vnetscope ovs-megaflow --src-ip 10.0.0.1 --proto udp
--   vnetscope ovs-megaflow --filter 'tcp port 80' --format json
--
-- Sample output:
--   12:00:05  megaflows changed: 2
--   ufid:0b8f5c0e-2b1f-4c51-9a52-7c0c2cb1d3e5 recirc_id(0),in_port(1),eth(src=02:00:0b:00:00:01,
--       dst=02:00:0b:00:00:02),eth_type(0x0800),ipv4(frag=no), actions:2
--     upcalls 1  installs 1  modifies 0  deletes 0   (since start: upcalls 1  installs 1  ...)
--   upcalls of the filtered flows: 2 (2 led to an install, 0 waiting)
--
-- How messages and upcalls are matched: bpf-templates/ovs-megaflow.c,
-- docs/tools/ovs-megaflow.md.
-- Requires: kprobes on the openvswitch module's ovs_flow_cmd_new,
-- ovs_flow_cmd_set, ovs_flow_cmd_del and ovs_dp_upcall (4.19+).
local budget = require "vns.budget"
local events = require "vns.events"
local odpflow = require "vns.odpflow"
local output = require "vns.output"
local ovslayout = require "vns.ovslayout"
local template = require "vns.template"
local tool = require "vns.tool"

local COUNTS = { "upcalls", "installs", "modifies", "deletes" }
local LAST = { [0] = "install", [1] = "modify", [2] = "delete" }
local RECORD_BYTES = 1080   -- struct mf_event: 48 bytes and the message

local function program(opts, f)
  return template.render(template.read("ovs-megaflow.c"), {
    LAYOUT_CHECKS = ovslayout.checks("upcall_cmd"),
    FILTER = f.expr,
    FILTERED = template.code(f.needs_l3 and "1" or "0"),
    DETAILS = template.bool(opts.details or false),
    BUDGET = budget.code(opts),
    EVENTS = events.code(opts, "events", RECORD_BYTES),
    SUBMIT = events.submit(opts, "events", "ctx", "mf_ev"),
  })
end

-- A megaflow's text; with memo, once per distinct message (the map's
-- entries: bounded).
local function describe(v, memo)
  -- The map's message is a byte string (a union), the event's an array.
  local bytes = type(v.msg) == "table" and string.char(table.unpack(v.msg, 1, v.len)) or v.msg:sub(1, v.len)
  local known = memo and memo[bytes]
  if known then return known end
  local m = odpflow.parse(bytes)
  local d = { key = odpflow.key(m), actions = odpflow.actions(m), ufid = odpflow.ufid(m),
              truncated = v.full_len > v.len or nil }
  if memo then memo[bytes] = d end
  return d
end

local function collect(run, final)
  local flows, changed = {}, 0
  for k, v in run.program:table("megaflows"):items() do
    local id = string.format("%08x%08x%08x%08x", k.w[1], k.w[2], k.w[3], k.w[4])
    local d = describe(v, run.texts)
    local before = run.seen[id] or {}
    local f = { ufid = d.ufid, key = d.key, actions = d.actions, truncated = d.truncated,
                last = LAST[v.last_cmd], total = {}, interval = {} }
    local any = false
    for _, c in ipairs(COUNTS) do
      f.total[c] = v[c]
      f.interval[c] = v[c] - (before[c] or 0)
      any = any or f.interval[c] ~= 0
    end
    run.seen[id] = f.total
    if any then changed = changed + 1 end
    if final or any then flows[#flows + 1] = f end
  end
  -- The busiest first (messages and upcalls of the interval, or since
  -- start at exit).
  local function weight(f)
    local c = final and f.total or f.interval
    return c.upcalls + c.installs + c.modifies + c.deletes
  end
  table.sort(flows, function(a, b)
    local wa, wb = weight(a), weight(b)
    if wa ~= wb then return wa > wb end
    return (a.key or "") < (b.key or "")
  end)
  local t = run.program:table("mf_totals")
  local upcalls, taken, flushes = t:lookup(0) or 0, t:lookup(1) or 0, t:lookup(2) or 0
  local waiting = 0
  for _, n in run.program:table("mf_pending"):items() do waiting = waiting + n end
  return { megaflows = flows, changed = changed,
           upcalls = { total = upcalls, installed = taken, waiting = waiting }, flushes = flushes }
end

local function counts(c)
  return string.format("upcalls %d  installs %d  modifies %d  deletes %d", c.upcalls, c.installs, c.modifies,
                       c.deletes)
end

local function render(run, data, out, final)
  out:write(string.format("\n%s  megaflows %s: %d\n", final and "Total since start" or output.timestamp(),
                          final and "seen" or "changed", final and #data.megaflows or data.changed))
  for _, f in ipairs(data.megaflows) do
    out:write(string.format("%s %s, actions:%s%s\n", f.ufid or "ufid:-", f.key or "(no key)",
                            f.actions or "(none)", f.truncated and " (message truncated)" or ""))
    if final then
      out:write("    " .. counts(f.total) .. "  last: " .. f.last .. "\n")
    else
      out:write("    " .. counts(f.interval) .. "   (since start: " .. counts(f.total) .. ")\n")
    end
  end
  local u = data.upcalls
  out:write(string.format("upcalls of the filtered flows: %d (%d led to an install, %d waiting)%s\n", u.total,
                          u.installed, u.waiting, final and "" or " (since start)"))
  if data.flushes > 0 then
    out:write(string.format("datapath flushes (every flow deleted): %d\n", data.flushes))
  end
end

-- --details: one row per flow message. A delete may carry only the
-- UFID: its flow is the one last seen with that UFID.
local function message_of(run, ev)
  local d = describe(ev)
  local flow = d.key and (d.key .. ", actions:" .. (d.actions or "(none)")) or run.by_ufid[d.ufid or ""]
  if d.ufid and d.key then run.by_ufid[d.ufid] = flow end
  return { message = LAST[ev.cmd], ufid = d.ufid, flow = flow or "(no key)", truncated = d.truncated,
           _flow = (d.ufid or "ufid:-") .. " " .. (flow or "(no key)") .. (d.truncated and " (message truncated)" or "") }
end

local row = {
  record_bytes = RECORD_BYTES,
  fields = { { "ts", "ts_ns", wall_time = true }, "pid", "comm", "upcalls" },
  hooks = { { fields = { "cmd", "len", "full_len", "msg" }, cache = false, decode = message_of } },
  columns = { { "TIME", "ts", 15 }, { "MESSAGE", "message", 8 }, { "UPCALLS", "upcalls", 7, right = true, gap = 2 },
              { "COMM", "comm", 16 }, { "FLOW", "_flow" } },
}

-- One event as a Lua table, the way the engine writes it (tests): the
-- row's fields and its one hook's values.
local function decode(run, ev)
  local r = message_of(run, ev)
  r.ts, r.pid, r.comm, r.upcalls = events.wall_time(ev.ts_ns), ev.pid, ev.comm, ev.upcalls
  return r
end

return tool.details {
  name = "ovs-megaflow",
  aliases = { "ovs_userspace_megaflow", "ovs_userspace_megaflow.py" },
  about = "Megaflows ovs-vswitchd installs, modifies and deletes, with the upcalls that led to them",
  tracing = "Tracing OVS flow messages (ovs_flow_cmd_new/set/del) and upcalls... Hit Ctrl-C to end.",
  examples = {
    "vnetscope ovs-megaflow -i 5",
    "vnetscope ovs-megaflow --src-ip 10.0.0.1 --proto udp",
    "vnetscope ovs-megaflow --filter 'tcp port 80' --format json",
    "vnetscope ovs-megaflow --proto udp --details",
  },
  requires = "kprobes on the openvswitch module: ovs_flow_cmd_new, ovs_flow_cmd_set, ovs_flow_cmd_del, ovs_dp_upcall",
  probes = { "kprobe:ovs_flow_cmd_new", "kprobe:ovs_flow_cmd_set", "kprobe:ovs_flow_cmd_del",
             "kprobe:ovs_dp_upcall" },
  options = { { name = "details", type = "flag", help = "one line per flow message (under the event budget)" } },
  check_variants = { { "--details" }, { "--src-ip", "10.0.0.1", "--dst-ip", "fd00::2", "--proto", "udp", "--dst-port", "80" },
                     { "--filter", "icmp or arp" } },
  filter = true,
  program = program,
  prepare = function(run) run.texts, run.seen, run.by_ufid = {}, {}, {} end,
  collect = collect,
  render = render,
  events = "events",
  row = row,
  decode = decode,
}
