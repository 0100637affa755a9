-- kvm-irqfd: interrupts KVM injects into VMs through irqfds, per GSI and
-- vector, per signalling thread (vhost worker, qemu) and CPU, and which
-- path each took.
--
-- A vhost worker (or qemu) signals an eventfd that KVM registered as an
-- irqfd; irqfd_wakeup then tries the fast path, kvm_arch_set_irq_inatomic
-- (an MSI straight to the vCPU's APIC, in the signaller's context). When
-- it cannot (an IOAPIC/PIC pin, an MSI it cannot resolve: -EWOULDBLOCK),
-- a kworker injects later (irqfd_inject: kvm_set_irq, kvm_set_msi for an
-- MSI route): the slow path. Per interval: signals by outcome (fast /
-- slow / failed), slow-path injections, vCPU kicks, and the vectors the
-- APICs accepted (x86: kvm:kvm_apic_accept_irq, kvm:kvm_msi_set_irq).
--
-- Usage: vnetscope kvm-irqfd [--pid QEMU_PID] [-i S] [-d S]
local errors = require "vns.errors"
local kernel = require "vns.kernel"
local output = require "vns.output"
local report = require "vns.report"
local template = require "vns.template"
local tool = require "vns.tool"
local tracepoint = require "vns.tracepoint"
local virtlayout = require "vns.virtlayout"

-- The routing entry's members the program reads (vns/kvm_layout.h). The
-- union of msi/irqchip is anonymous, which the BTF check does not look
-- into: it follows `set`, whose offset is checked.
local LAYOUT = {
  { "vns_kvm_route", "gsi", "kvm_kernel_irq_routing_entry", "gsi" },
  { "vns_kvm_route", "type", "kvm_kernel_irq_routing_entry", "type" },
  { "vns_kvm_route", "set", "kvm_kernel_irq_routing_entry", "set" },
}

local ROUTES = { [1] = "irqchip", [2] = "msi", [3] = "s390-adapter", [4] = "hv-sint", [5] = "xen-evtchn" }
local KINDS = { "fast", "slow", "failed", "injected", "injected_msi", "kick", "accept", "msi" }

-- Which of NAMES /proc/kallsyms has (one pass: it is long).
local symbols
local function has_symbol(name)
  if not symbols then
    symbols = {}
    local wanted = { irqfd_wakeup = true, __kvm_vcpu_kick = true }
    local f = io.open("/proc/kallsyms", "r")
    for line in f and f:lines() or function() end do
      local sym = line:match("^%x+ %a ([%w_]+)")
      if wanted[sym] then symbols[sym] = true end
    end
    if f then f:close() end
  end
  return symbols[name] == true
end

-- kvm_vcpu_kick became a wrapper of __kvm_vcpu_kick(vcpu, wait) in 6.10.
local function kick_fn()
  if not kernel.is_target() and has_symbol("__kvm_vcpu_kick") then return "__kvm_vcpu_kick" end
  local major, minor = kernel.version()
  if kernel.is_target() and (major > 6 or (major == 6 and minor >= 10)) then return "__kvm_vcpu_kick" end
  return "kvm_vcpu_kick"
end

-- x86's tracepoints, of the kvm module: present only when it is loaded.
local function optional_tp(name)
  if kernel.has_tracepoint("kvm", name) then return tracepoint.probe("kvm", name, "classic") end
end

local function program(opts)
  local accept, msi = optional_tp("kvm_apic_accept_irq"), optional_tp("kvm_msi_set_irq")
  local tps = {}
  if accept then tps[#tps + 1] = accept end
  if msi then tps[#tps + 1] = msi end
  return template.render(template.read("kvm-irqfd.c"), {
    LAYOUT_CHECKS = (virtlayout.checks("kvm", LAYOUT)),
    TRACEPOINTS = #tps > 0 and tracepoint.code(table.unpack(tps)) or template.code("/* no kvm tracepoints */"),
    HAS_ACCEPT = template.bool(accept ~= nil),
    HAS_MSI = template.bool(msi ~= nil),
    IRQ_COUNTER = report.counter("irqs", "irq_key", 4096),
    BY_PID = template.bool(opts.pid ~= nil),
    PID = template.value(opts.pid or 0, "u32"),
    KICK_FN = template.code(kick_fn()),
  })
end

local function prepare(run)
  if not kernel.is_target() and not has_symbol("irqfd_wakeup") then
    errors.unsupported("kvm-irqfd: irqfd_wakeup is not in /proc/kallsyms: load the kvm module (modprobe kvm_intel or kvm_amd)")
  end
  run.layout = select(2, virtlayout.checks("kvm", LAYOUT))
  run.has_accept = kernel.has_tracepoint("kvm", "kvm_apic_accept_irq")
end

local counts = report.counts {
  map = "irqs", top = false, order = { "vm", "gsi", "kind", "tid", "cpu" },
  row = function(_, k)
    return { vm = string.format("0x%x", k.vm), kind = KINDS[k.kind] or tostring(k.kind), gsi = k.gsi,
             route = ROUTES[k.route], vector = k.vector, dest = k.dest, tid = k.tid, cpu = k.cpu,
             comm = k.comm }
  end,
}

local function entry(tbl, key, init)
  local e = tbl[key]
  if not e then
    e = init
    tbl[key] = e
    tbl[#tbl + 1] = e
  end
  return e
end

-- Rows by kind into: signals per (vm, gsi, thread, cpu) with their
-- outcome; injections per (vm, gsi); kicks and APIC accepts per (vm, gsi).
local function shape(rows)
  local signals, gsis = {}, {}
  local totals = { fast = 0, slow = 0, failed = 0, injected = 0, injected_msi = 0, kicks = 0, accepted = 0 }
  for _, r in ipairs(rows) do
    local g = entry(gsis, r.vm .. "/" .. r.gsi, { vm = r.vm, gsi = r.gsi, fast = 0, slow = 0, failed = 0,
                                                   injected = 0, injected_msi = 0, kicks = 0, accepted = 0,
                                                   vectors = {} })
    if r.kind == "fast" or r.kind == "slow" or r.kind == "failed" then
      local s = entry(signals, table.concat({ r.vm, r.gsi, r.tid, r.cpu }, "/"),
                      { vm = r.vm, gsi = r.gsi, route = r.route, tid = r.tid, comm = r.comm, cpu = r.cpu,
                        fast = 0, slow = 0, failed = 0 })
      s.vector = r.route == "msi" and r.vector or nil
      s.pin = r.route == "irqchip" and r.vector or nil
      s[r.kind] = s[r.kind] + r.count
      g[r.kind] = g[r.kind] + r.count
      g.route = r.route
      totals[r.kind] = totals[r.kind] + r.count
    elseif r.kind == "injected" or r.kind == "injected_msi" then
      g[r.kind] = g[r.kind] + r.count
      totals[r.kind] = totals[r.kind] + r.count
    elseif r.kind == "kick" then
      g.kicks = g.kicks + r.count
      totals.kicks = totals.kicks + r.count
    elseif r.kind == "accept" then
      g.accepted = g.accepted + r.count
      totals.accepted = totals.accepted + r.count
      local v = entry(g.vectors, r.dest .. "/" .. r.vector, { apic = r.dest, vector = r.vector, accepted = 0 })
      v.accepted = v.accepted + r.count
    end
  end
  local function list(t)
    local out = {}
    for i = 1, #t do out[i] = t[i] end
    return out
  end
  local by = function(a, b)
    if a.vm ~= b.vm then return a.vm < b.vm end
    if a.gsi ~= b.gsi then return a.gsi < b.gsi end
    return (a.tid or 0) * 1024 + (a.cpu or 0) < (b.tid or 0) * 1024 + (b.cpu or 0)
  end
  local sl, gl = list(signals), list(gsis)
  table.sort(sl, by)
  table.sort(gl, by)
  for _, g in ipairs(gl) do g.vectors = list(g.vectors) end
  return sl, gl, totals
end

local function collect(run, final)
  local c = counts:collect(run, final)
  local signals, gsis, totals = shape(c.all or c.rows)
  totals.signals = totals.fast + totals.slow + totals.failed
  return { type = final and "total" or "interval", layout = run.layout, signals = signals, gsis = gsis,
           totals = totals, apic_accept = run.has_accept or nil }
end

local function render(_, data, out, final)
  local title = final and "Total since start" or output.timestamp()
  local t = data.totals
  out:write(string.format("\n%s  irqfd signals: %d (fast %d, slow %d, failed %d), slow-path injections %d, kicks %d\n",
                          title, t.signals, t.fast, t.slow, t.failed, t.injected, t.kicks))
  if #data.gsis == 0 then return end
  for _, g in ipairs(data.gsis) do
    local vec = {}
    for _, v in ipairs(g.vectors) do vec[#vec + 1] = string.format("apic %d vector %d: %d", v.apic, v.vector, v.accepted) end
    g.accepted_text = data.apic_accept and (#vec > 0 and table.concat(vec, ", ") or "0") or "n/a"
    g.route_text = g.route or "-"
  end
  report.table(out, { { "VM", "vm" }, { "GSI", "gsi" }, { "ROUTE", "route_text" }, { "FAST", "fast" },
                      { "SLOW", "slow" }, { "FAILED", "failed" }, { "INJECTED", "injected" }, { "(MSI)", "injected_msi" },
                      { "KICKS", "kicks" }, { "ACCEPTED", "accepted_text" } }, data.gsis)
  out:write("  signalled by:\n")
  for _, s in ipairs(data.signals) do
    s.what = s.vector and string.format("vector %d", s.vector) or s.pin and string.format("pin %d", s.pin) or "-"
    s.thread = string.format("%s (%d)", s.comm, s.tid)
  end
  report.table(out, { { "GSI", "gsi" }, { "", "what" }, { "THREAD", "thread" }, { "CPU", "cpu" }, { "FAST", "fast" },
                      { "SLOW", "slow" }, { "FAILED", "failed" } }, data.signals, "    ")
end

return tool.summary {
  name = "kvm-irqfd",
  aliases = { "kvm_irqfd_stats_summary", "kvm_irqfd_stats_summary_arm" },
  about = "Interrupts KVM injects through irqfds per GSI/vector, signalling thread and CPU: fast path, slow path, kicks",
  tracing = "Tracing KVM irqfd injections... Hit Ctrl-C to end.",
  examples = {
    "vnetscope kvm-irqfd -i 1",
    "vnetscope kvm-irqfd --pid 4242 --format json",
  },
  requires = "kprobes and the kvm module",
  probes = { "kprobe:irqfd_wakeup", "kprobe:kvm_arch_set_irq_inatomic", "kprobe:irqfd_inject", "kprobe:kvm_set_irq",
             "kprobe:kvm_set_msi", "kprobe:kvm_vcpu_kick", "tracepoint:kvm:kvm_apic_accept_irq",
             "tracepoint:kvm:kvm_msi_set_irq" },
  options = {
    { name = "pid", type = "integer", min = 1, max = 4194304,
      help = "only this VM: interrupts its qemu (this pid) or its vhost workers (vhost-PID) signal" },
  },
  defaults = { top = false },
  check_variants = { { "--pid", "4242" } },
  program = program,
  prepare = prepare,
  collect = collect,
  render = render,
}
