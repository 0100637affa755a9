-- paths: the packet paths the latency tools time, as stage lists for
-- the stage-timing kit (vns.stages), one place for all of them:
--
--   host tx   ip -> [internal -> ovs_in -> ovs_out] -> queue -> nic
--   host rx   nic -> [ovs_in -> ovs_out -> internal] -> ip -> socket
--   vm tx     vnet_rx -> [ovs_in -> ct -> ovs_out] -> queue -> nic
--   vm rx     nic -> [ovs_in -> ct -> ovs_out] -> queue -> vnet_tx
--   vm pair   vnet_rx (VM A) -> [ovs_in -> ct -> ovs_out] -> queue -> vnet_tx (VM B)
--
-- Tracepoints where the kernel has them (stable, and on 4.19);
-- kprobes for IP and OVS, which have none. A stage whose probes this
-- kernel lacks (no kprobes, OVS not loaded, a function only present as
-- a .isra/.constprop clone) is left out with a note on stderr; the pair
-- around it is then timed as one. The stages on devices test the
-- device's name (--phy-dev, --vm-dev, --internal-dev) in the entry, so
-- a tracepoint that fires on every device only counts where asked.
--
-- Packet identity is the skb's address (vns.stages): every stage here
-- sees the same skb (veth, bridges and OVS forward it; tun/tap and
-- vhost make the skb at the VM's edge, where the path starts or ends).
-- A packet the kernel copies, clones (OVS/bridge flooding, taps) or
-- segments (GSO in software) leaves the path: consume_skb/kfree_skb end
-- its session (the kit's ends "left" and "dropped", counted by the stage
-- it was last at). A packet freed where neither fires (TCP's pure ACKs,
-- __kfree_skb) leaves its session open; the kit's same_head check ends
-- it as "reused" if a new packet in the same sk_buff reaches the last
-- stage.
-- The path ends where the packet is delivered (the socket copies it to
-- the reader, skb:skb_copy_datagram_iovec) or handed to the driver
-- (net:net_dev_start_xmit), never at the (deferred) free.
local errors = require "vns.errors"
require "vns.net"  -- the ifnames option type
local template = require "vns.template"

local M = {}

-- The C condition "the skb's device is one of names" (nil: any device).
local function on_dev(names)
  if not names then return nil end
  local tests = {}
  for _, name in ipairs(names) do
    local lo, hi = template.ifname_words(name)
    tests[#tests + 1] = string.format("vns_skb_dev_is(skb, %s, %s)", lo.text, hi.text)
  end
  return template.code(table.concat(tests, " || "))
end

-- The probe points of each stage, with where their skb is.
--
-- Tracepoints are attached raw (4.17+; the skb is the first argument of
-- every one here, on every kernel). A classic tracepoint program, like
-- a kprobe program, is skipped when another BPF program of those kinds
-- is running on its CPU (the kernel's bpf_prog_active): a receive
-- softirq that runs on the way out of an interrupt which landed in a
-- kprobe program in process context (ip_output in a sender,
-- skb_consume_udp in a reader) ran none of the tool's classic programs,
-- and its packets were missing from the counts (the lab saw 1 of 13
-- sessions start). A raw tracepoint program guards only against itself.
-- The kprobe stages remain exposed: one skipped so is counted as out of
-- order (the pair around it is not timed); the session still completes.
local STAGES = {
  ip_out = { name = "ip", probe = { "kprobe:ip_output", "kprobe:ip6_output" }, skb = 3 },
  ip_in = { name = "ip", probe = { "kprobe:ip_local_deliver", "kprobe:ip6_input" }, skb = 1 },
  ovs_in = { name = "ovs_in", probe = "kprobe:ovs_vport_receive", skb = 2 },
  ct = { name = "ct", probe = "kprobe:ovs_ct_execute", skb = 2 },
  ovs_out = { name = "ovs_out", probe = "kprobe:ovs_vport_send", skb = 2 },
  internal_in = { name = "internal", probe = "kprobe:internal_dev_recv", skb = 1 },
  dev_rx = { probe = "raw_tracepoint:netif_receive_skb" },
  dev_queue = { probe = "raw_tracepoint:net_dev_queue" },
  dev_xmit = { probe = "raw_tracepoint:net_dev_start_xmit" },
  -- The reader gets the data: TCP (and paged UDP) copy it with the
  -- tracepoint; a linear UDP datagram is copied without, and consumed
  -- by skb_consume_udp (v4 and v6) right after.
  socket = { name = "socket", probe = { "raw_tracepoint:skb_copy_datagram_iovec", "kprobe:skb_consume_udp" },
             skb = { raw_tracepoint = 1, kprobe = 2 } },
}

M.ENDS = { { name = "left", probe = "raw_tracepoint:consume_skb" },
           { name = "dropped", probe = "raw_tracepoint:kfree_skb" } }

local function stage(key, name, devs)
  local s = {}
  for k, v in pairs(STAGES[key]) do s[k] = v end
  s.name = name or s.name
  s.cond = on_dev(devs)
  return s
end

-- The stage list of a path: path "host" or "vm", direction "tx"/"rx"
-- (or "pair"), and the devices: phy (list), internal (list or nil),
-- vm (list), peer (list, vm pair), ct (bool).
function M.stages(p)
  local ovs = { stage("ovs_in") }
  if p.ct then ovs[#ovs + 1] = stage("ct") end
  ovs[#ovs + 1] = stage("ovs_out")
  local list
  if p.path == "host" and p.direction == "tx" then
    list = { stage("ip_out") }
    if p.internal then
      list[#list + 1] = stage("dev_queue", "internal", p.internal)
      for _, s in ipairs(ovs) do list[#list + 1] = s end
    else
      list[#list + 1] = stage("dev_queue", "queue", p.phy)
    end
    list[#list + 1] = stage("dev_xmit", "nic", p.phy)
  elseif p.path == "host" then
    list = { stage("dev_rx", "nic", p.phy) }
    if p.internal then
      for _, s in ipairs(ovs) do list[#list + 1] = s end
      list[#list + 1] = stage("internal_in")
    end
    list[#list + 1] = stage("ip_in")
    list[#list + 1] = stage("socket")
  else
    local from, to = p.vm, p.phy
    if p.direction == "rx" then from, to = p.phy, p.vm elseif p.direction == "pair" then to = p.peer end
    list = { stage("dev_rx", p.direction == "rx" and "nic" or "vnet_rx", from) }
    for _, s in ipairs(ovs) do list[#list + 1] = s end
    list[#list + 1] = stage("dev_queue", "queue", to)
    list[#list + 1] = stage("dev_xmit", p.direction == "tx" and "nic" or "vnet_tx", to)
  end
  return list
end

-- Whether a probe exists here, and if not why: doctor's test (tracefs,
-- kallsyms, kprobe support). Compiling for another kernel (vnetscope
-- compile --kernel-release), whose functions are not known here, every
-- kprobe stage is kept: the guest's own run then makes the same program.
function M.probe_exists(spec)
  local doctor, core, kernel = require "vns.doctor", require "vns.core", require "vns.kernel"
  local kind, rest = spec:match("^([%w_]+):(.+)$")
  if kernel.is_target() and kind == "kprobe" then return true end
  M.features = M.features or core.features()
  local ok, what = doctor.probe_exists(spec, M.features)
  if not ok and kind == "kprobe" and M.features.kprobe.ok then
    local clone = M.clone_of(rest)
    if clone then what = "only the compiler's clone " .. clone .. " exists" end
  end
  return ok, what
end

-- A .isra/.constprop/.part clone of fn in kallsyms (its name cannot be
-- a probe's entry; the stage is left out and the note names the clone).
function M.clone_of(fn)
  local f = io.open("/proc/kallsyms", "r")
  if not f then return nil end
  local prefix = fn .. "."
  for line in f:lines() do
    local sym = line:match("^%x+ [tT] ([%w_%.]+)")
    if sym and sym:sub(1, #prefix) == prefix then f:close(); return sym end
  end
  f:close()
end

-- The stages of list this kernel offers: a stage stays if any of its
-- probes exists (only those are attached). Returns kept, and the notes
-- on what was left out.
function M.available(list)
  local kept, notes = {}, {}
  for _, s in ipairs(list) do
    local probes, missing = {}, {}
    for _, spec in ipairs(type(s.probe) == "table" and s.probe or { s.probe }) do
      local ok, what = M.probe_exists(spec)
      if ok then probes[#probes + 1] = spec else missing[#missing + 1] = spec .. " (" .. what .. ")" end
    end
    if #probes > 0 then
      local copy = {}
      for k, v in pairs(s) do copy[k] = v end
      copy.probe = probes
      kept[#kept + 1] = copy
    end
    if #missing > 0 then
      notes[#notes + 1] = string.format("stage %s %s on this kernel: missing %s", s.name,
                                        #probes > 0 and "partly available" or "not available",
                                        table.concat(missing, ", "))
    end
  end
  return kept, notes
end

-- The kit for a path on this kernel: the stages it offers (at least the
-- two tracepoint ends), notes printed once to stderr.
function M.kit(p, def)
  local stages = require "vns.stages"
  local kept, notes = M.available(M.stages(p))
  if #kept < 2 then
    errors.unsupported("fewer than two stages of this path exist on this kernel: %s", table.concat(notes, "; "))
  end
  if not p.quiet then
    for _, n in ipairs(notes) do io.stderr:write("note: ", n, "\n") end
  end
  local kdef = { stages = kept, ends = M.ENDS, same_head = true }
  for k, v in pairs(def or {}) do kdef[k] = v end
  return stages.new(kdef), notes
end

-- The options every latency tool shares.
function M.options(names)
  local specs = {
    direction = { name = "direction", type = "choice", values = { "tx", "rx" }, default = "tx",
                  help = "tx: from this host (or VM) out of the NIC; rx: from the NIC in" },
    ["phy-dev"] = { name = "phy-dev", type = "ifnames", metavar = "DEV[,..]",
                    help = "the physical NIC(s), a bond's slaves (default: any device)" },
    ["internal-dev"] = { name = "internal-dev", type = "ifnames", metavar = "DEV",
                         help = "the OVS internal port carrying the host's address (adds the OVS stages)" },
    ["vm-dev"] = { name = "vm-dev", type = "ifnames", metavar = "DEV[,..]",
                   help = "the VM's vnet/tap device(s) (default: any device)" },
    ["peer-dev"] = { name = "peer-dev", type = "ifnames", metavar = "DEV[,..]",
                     help = "the receiving VM's vnet/tap device(s) (default: any device)" },
    ct = { name = "ct", type = "flag", help = "time OVS conntrack (ct() actions) as its own stage" },
    fields = { name = "fields", type = "flag",
               help = "each stage's skb length, hash, queue mapping, CPU and device in the event" },
  }
  local out = {}
  for _, n in ipairs(names) do out[#out + 1] = assert(specs[n], "paths: no option " .. n) end
  return out
end

-- Every probe the paths may use (doctor lists whether each exists).
function M.probes()
  local out = {}
  for _, key in ipairs({ "ip_out", "ip_in", "dev_rx", "dev_queue", "dev_xmit", "socket", "ovs_in", "ct", "ovs_out",
                         "internal_in" }) do
    local p = STAGES[key].probe
    for _, spec in ipairs(type(p) == "table" and p or { p }) do out[#out + 1] = spec end
  end
  for _, e in ipairs(M.ENDS) do out[#out + 1] = e.probe end
  return out
end

-- A latency tool: def is a tool definition without program, collect,
-- render (summary) or events, decode (details); path_of(opts) gives
-- the path for M.stages. The kit is made per run, from the options.
function M.tool(kind, def, path_of)
  local kit
  def.probes = def.probes or M.probes()
  -- For doctor: the stages each direction's path (with every optional
  -- stage) lacks on this kernel.
  def.caveats = def.caveats or function()
    local out, seen = {}, {}
    for _, dir in ipairs({ "tx", "rx" }) do
      local p = path_of({ direction = dir, internal_dev = { "any" }, ct = true })
      local _, notes = M.available(M.stages(p))
      for _, n in ipairs(notes) do
        local text = p.direction .. ": " .. n
        if not seen[text] then seen[text] = true; out[#out + 1] = text end
      end
    end
    return out
  end
  def.filter = true
  def.program = function(opts, f)
    kit = M.kit(path_of(opts), { events = kind == "details", fields = opts.fields })
    return kit:program(opts, f)
  end
  if kind == "summary" then
    def.collect = function(run, final) return kit:collect(run, final) end
    def.render = function(run, data, out, final) kit:render(run, data, out, final) end
    return require("vns.tool").summary(def)
  end
  -- Details on the events fast path (docs/events.md): the kit's row.
  -- The kit (its stages, --fields) is known only once the options are,
  -- and the stream reads def.row after the program is made: filled then.
  local stages = require "vns.stages"
  def.events = stages.EVENTS
  def.row = {}
  local program = def.program
  def.program = function(opts, f)
    local text = program(opts, f)
    for k in pairs(def.row) do def.row[k] = nil end
    for k, v in pairs(kit:row(M.COLUMNS)) do def.row[k] = v end
    return text
  end
  def.collect = function(run, final)
    return { type = final and "total" or "interval", sessions = kit:sessions(run.program, final) }
  end
  def.render = function(run, data, out, final) if final then kit:render_sessions(data.sessions, out, final) end end
  return require("vns.tool").details(def)
end

-- The text columns of the details tools (--fields adds a line per stage).
M.COLUMNS = { { "TOTAL(ns)", "total_ns", 12, right = true, gap = 2 }, { "DEV", "dev", 16 },
              { "SLOWEST(ns)", "_slowest", 24 }, { "STAGES(ns since the first)", "_stages", 44 },
              { "FLOW", "_flow" } }

return M
