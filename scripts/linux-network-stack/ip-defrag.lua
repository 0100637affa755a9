-- ip-defrag: IPv4 and IPv6 fragments per datagram, and what became of
-- each datagram: complete, duplicate fragments, overlaps, timed out,
-- too far (ipfrag_max_dist), or fragments dropped elsewhere; beside it,
-- the reassembly counters of the network namespace the tool runs in
-- (/proc/net/snmp, netstat, snmp6).
--
-- Usage:
--   vnetscope ip-defrag                                  # every fragment the host receives
--   vnetscope ip-defrag --src-ip 10.0.0.1 --dev eth0 -i 5
--   vnetscope ip-defrag --variant kprobe                 # kernels without fragment drop reasons
--
-- Sample output:
--   Tracing IP fragments per datagram... Hit Ctrl-C to end.
--
--   12:00:05  fragments: 11  datagrams: 4  complete: 2  duplicates: 1  overlaps: 1  timed out: 1  too far: 0  dropped: 0
--     FRAGS  BYTES  LENGTH  DUP  OVERLAP  DROP  STATUS    DATAGRAM
--         4     48      48    1        0     0  complete  udp 10.0.0.1 > 10.0.0.2 id 2
--   kernel (this netns): ReasmReqds 11  ReasmOKs 2  ReasmFails 2  ReasmTimeout 1  ReasmOverlaps 1 ...
--
-- Requires: net:netif_receive_skb; skb:kfree_skb with the fragment drop
-- reasons (DUP_FRAG, FRAG_REASM_TIMEOUT, FRAG_TOO_FAR), or kprobes
-- (--variant kprobe).
local core = require "vns.core"
local ctxfilter = require "vns.ctxfilter"
local drops = require "vns.drops"
local errors = require "vns.errors"
local kernel = require "vns.kernel"
local net = require "vns.net"
local output = require "vns.output"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"
local tracepoint = require "vns.tracepoint"

local REASONS = { "DUP_FRAG", "FRAG_REASM_TIMEOUT", "FRAG_TOO_FAR" }
-- Where the reassemblers drop a fragment they refuse without a reason.
local REASSEMBLERS = { "ip_defrag", "ip_frag_queue", "ipv6_frag_rcv", "ip6_frag_queue" }

local function has_reasons()
  for _, name in ipairs(REASONS) do
    if not drops.reason_code(name) then return false end
  end
  return true
end

local function variant_of(opts)
  if opts.variant ~= "auto" then return opts.variant end
  return has_reasons() and "tracepoint" or "kprobe"
end

local function program(opts, f)
  local variant = variant_of(opts)
  local tps = { tracepoint.probe("net", "netif_receive_skb") }
  local codes = { DUP_FRAG = 0, FRAG_REASM_TIMEOUT = 0, FRAG_TOO_FAR = 0 }
  if variant == "tracepoint" then
    if not has_reasons() then
      errors.unsupported("option --variant tracepoint needs the fragment drop reasons of skb:kfree_skb (kernels after 6.1); use --variant kprobe")
    end
    for name in pairs(codes) do codes[name] = drops.reason_code(name) end
    tps[#tps + 1] = tracepoint.probe("skb", "kfree_skb")
  end
  return template.render(template.read("ip-defrag.c"), {
    TRACEPOINTS = tracepoint.code(table.unpack(tps)),
    VARIANT_KPROBE = template.bool(variant == "kprobe"),
    REASON_DUP = template.int(codes.DUP_FRAG),
    REASON_TIMEOUT = template.int(codes.FRAG_REASM_TIMEOUT),
    REASON_TOO_FAR = template.int(codes.FRAG_TOO_FAR),
    REASON_CONSUMED = template.int(drops.reason_code("CONSUMED") or 0),
    FILTER_MAPS = f.decls,
    FLOW_FILTER = f.guard,
    DEV_FILTER = ctxfilter.compile({ dev = opts.dev }, { dev = "dev" }).expr,
  })
end

-- [start, next symbol) of each reassembler function and its parts
-- (compiler clones fn.isra.0, the unlikely part fn.cold), for the
-- tracepoint variant's overlap test.
local MAX_RANGES = 8

local function reassembler_ranges()
  local addrs, starts, wanted = {}, {}, {}
  for _, fn in ipairs(REASSEMBLERS) do wanted[fn] = true end
  local f = io.open("/proc/kallsyms", "r")
  if not f then return {} end
  for line in f:lines() do
    local addr, kind, sym = line:match("^(%x+) (%a) ([^%s]+)")
    if addr and (kind == "t" or kind == "T") then
      local a = tonumber(addr, 16)
      addrs[#addrs + 1] = a
      if wanted[sym:match("^([%w_]+)")] and a ~= 0 then starts[#starts + 1] = a end
    end
  end
  f:close()
  table.sort(addrs)
  local ranges = {}
  for _, lo in ipairs(starts) do
    for _, a in ipairs(addrs) do
      if a > lo then
        if #ranges < MAX_RANGES then ranges[#ranges + 1] = { lo = lo, hi = a } end
        break
      end
    end
  end
  return ranges
end

-- The reassembly counters of this network namespace, by name.
local COUNTERS = {
  { "snmp", "Ip", { "ReasmReqds", "ReasmOKs", "ReasmFails", "ReasmTimeout" } },
  { "netstat", "IpExt", { "ReasmOverlaps" } },
}
local COUNTERS6 = { "Ip6ReasmReqds", "Ip6ReasmOKs", "Ip6ReasmFails", "Ip6ReasmTimeout" }

local function kernel_counters()
  local out = {}
  for _, c in ipairs(COUNTERS) do
    local f = io.open("/proc/net/" .. c[1], "r")
    if f then
      local names
      for line in f:lines() do
        local prefix, rest = line:match("^(%w+):%s+(.*)$")
        if prefix == c[2] then
          local words = {}
          for w in rest:gmatch("%S+") do words[#words + 1] = w end
          if not names then names = words else
            for i, n in ipairs(names) do
              for _, want in ipairs(c[3]) do if n == want then out[n] = tonumber(words[i]) end end
            end
          end
        end
      end
      f:close()
    end
  end
  local f = io.open("/proc/net/snmp6", "r")
  if f then
    for line in f:lines() do
      local n, v = line:match("^(%w+)%s+(%d+)")
      for _, want in ipairs(COUNTERS6) do if n == want then out[n] = tonumber(v) end end
    end
    f:close()
  end
  return out
end

-- The kprobe variant's probes, attached here: the nf_conntrack timer
-- only where its module is loaded.
local KPROBES = {
  { fn = "inet_frag_queue_insert", prog = "insert", required = true },
  { fn = "inet_frag_queue_insert", prog = "insert_return", ret = true, required = true },
  { fn = "ip_expire", prog = "expire4", required = true },
  { fn = "ip6_frag_expire", prog = "expire6" },
  { fn = "nf_ct_frag6_expire", prog = "expire6" },
}

local function attach_kprobes(run)
  local missing = {}
  for _, k in ipairs(KPROBES) do
    local prog = run.program:load("kprobe_by_script__" .. k.prog, "kprobe")
    local attach = k.required and run.program.attach or run.program.try_attach
    if not attach(run.program, prog, "kprobe", k.fn, k.ret and { ret = true } or nil) then missing[#missing + 1] = k.fn end
  end
  if #missing > 0 then
    io.stderr:write("ip-defrag: timeouts not seen from (not in this kernel, or module not loaded): ",
                    table.concat(missing, ", "), "\n")
  end
end

local function prepare(run)
  run.variant = variant_of(run.opts)
  if run.variant == "kprobe" then attach_kprobes(run) end
  if run.variant == "tracepoint" then
    local map = run.program:table("reasm_funcs")
    for i, r in ipairs(reassembler_ranges()) do
      map:update(i - 1, r)
    end
  end
  run.counters_start = kernel_counters()
  run.counters_last = run.counters_start
  run.seen = {}      -- datagram identity -> row since start
  run.reported = {}  -- identity -> last_ns at the last report
end

local function status_of(d)
  if d.last ~= 0 and d.length > 0 and d.bytes == d.length then return "complete" end
  -- A fragment dropped too far leaves the rest to time out: the cause.
  if d.too_far ~= 0 then return "too-far" end
  if d.timeout ~= 0 then return "timeout" end
  if d.overlaps > 0 then return "overlap" end
  if d.drops > 0 then return "dropped" end
  return "incomplete"
end

local function row_of(k, d)
  local row = { family = k.family, src = net.wire_addr(k.family, k.saddr), dst = net.wire_addr(k.family, k.daddr),
                id = k.id, proto = net.proto_name(d.proto), frags = d.frags, bytes = d.bytes, length = d.length,
                dups = d.dups, overlaps = d.overlaps, drops = d.drops, status = status_of(d) }
  if d.drops > 0 and d.drop_location ~= 0 then row.drop_location = drops.location(d.drop_location) end
  row.datagram = string.format("%s %s > %s id %d", row.proto, row.src, row.dst, k.id)
  return row, d.last_ns
end

local TOTALS = { "frags", "datagrams", "complete", "dups", "overlaps", "timeout", "too-far", "dropped" }

local function totals_of(rows)
  local t = {}
  for _, name in ipairs(TOTALS) do t[name] = 0 end
  for _, r in ipairs(rows) do
    t.frags, t.datagrams, t.dups = t.frags + r.frags, t.datagrams + 1, t.dups + r.dups
    t.overlaps = t.overlaps + r.overlaps
    if r.status ~= "overlap" and t[r.status] then t[r.status] = t[r.status] + 1 end
  end
  return t
end

local function counter_delta(from, to)
  local d = {}
  for n, v in pairs(to) do d[n] = v - (from[n] or 0) end
  return d
end

local function sort_rows(rows)
  table.sort(rows, function(a, b)
    if a.frags ~= b.frags then return a.frags > b.frags end
    return a.datagram < b.datagram
  end)
end

local function collect(run, final)
  local changed = output.array()
  for k, d in run.program:table("datagrams"):items() do
    local row, last_ns = row_of(k, d)
    local ident = row.datagram
    run.seen[ident] = row
    if run.reported[ident] ~= last_ns then
      run.reported[ident] = last_ns
      changed[#changed + 1] = row
    end
  end
  local rows = changed
  if final then
    rows = output.array()
    for _, r in pairs(run.seen) do rows[#rows + 1] = r end
  end
  sort_rows(rows)
  local now = kernel_counters()
  local since = final and run.counters_start or run.counters_last
  run.counters_last = now
  local shown = output.array()
  for i, r in ipairs(rows) do
    if not run.opts.top or i <= run.opts.top then shown[i] = r end
  end
  return { type = final and "total" or "interval", variant = run.variant, totals = totals_of(rows),
           datagrams = shown, kernel = counter_delta(since, now) }
end

local KERNEL_ORDER = { "ReasmReqds", "ReasmOKs", "ReasmFails", "ReasmTimeout", "ReasmOverlaps",
                       "Ip6ReasmReqds", "Ip6ReasmOKs", "Ip6ReasmFails", "Ip6ReasmTimeout" }

local function render(_, data, out, final)
  local t = data.totals
  out:write(string.format("\n%s  fragments: %d  datagrams: %d  complete: %d  duplicates: %d  overlaps: %d"
                          .. "  timed out: %d  too far: %d  dropped: %d\n",
                          final and "Total since start" or output.timestamp(), t.frags, t.datagrams, t.complete,
                          t.dups, t.overlaps, t.timeout, t["too-far"], t.dropped))
  if #data.datagrams > 0 then
    report.table(out, { { "FRAGS", "frags" }, { "BYTES", "bytes" }, { "LENGTH", "length" }, { "DUP", "dups" },
                        { "OVERLAP", "overlaps" }, { "DROP", "drops" }, { "STATUS", "status" },
                        { "DATAGRAM", "datagram" } }, data.datagrams, "  ",
                 function(r, o) if r.drop_location then o:write("      dropped at ", r.drop_location, "\n") end end)
  end
  local parts = {}
  for _, n in ipairs(KERNEL_ORDER) do
    if data.kernel[n] then parts[#parts + 1] = n .. " " .. data.kernel[n] end
  end
  if #parts > 0 then out:write("  kernel (this netns): ", table.concat(parts, "  "), "\n") end
end

return tool.summary {
  name = "ip-defrag",
  aliases = { "trace_ip_defrag" },
  about = "IP fragments per datagram: complete, duplicate, overlapping, timed out",
  tracing = "Tracing IP fragments per datagram... Hit Ctrl-C to end.",
  examples = {
    "vnetscope ip-defrag --src-ip 10.0.0.1 -i 5",
    "vnetscope ip-defrag --dev eth0 --format json",
    "vnetscope ip-defrag --variant kprobe",
  },
  requires = "net:netif_receive_skb; skb:kfree_skb with fragment drop reasons (after 6.1), or kprobes (--variant kprobe)",
  probes = { "tracepoint:net:netif_receive_skb", "tracepoint:skb:kfree_skb", "kprobe:inet_frag_queue_insert",
             "kprobe:ip_expire", "kprobe:ip6_frag_expire", "kprobe:nf_ct_frag6_expire" },
  caveats = function()
    return has_reasons() and {}
      or { "no fragment drop reasons in skb:kfree_skb (kernels after 6.1): --variant kprobe sees duplicates, overlaps and timeouts; too-far and other drops are not seen" }
  end,
  options = {
    net.options({ "dev" }),
    { name = "variant", type = "choice", values = { "auto", "tracepoint", "kprobe" }, default = "auto",
      help = "tracepoint: kfree_skb fragment reasons (after 6.1); kprobe: the reassembler's functions (older)" },
  },
  check_variants = { { "--variant", "kprobe" }, { "--src-ip", "10.0.0.1", "--dev", "eth0" } },
  filter = { names = { "src-ip", "dst-ip", "host", "proto" } },
  program = program,
  prepare = prepare,
  collect = collect,
  render = render,
}
