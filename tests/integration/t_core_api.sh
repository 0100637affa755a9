#!/usr/bin/env bash
# vns.core through `vnetscope -e` scripts: compile errors, maps, stack
# traces, perf and ring buffers, raw tracepoints, uprobes, perf events,
# kprobes. Programs count drops of datagrams sent to a closed port in
# namespace B, filtered to B's veth so that nothing else on the machine
# adds to the counts. Scripts print "name=value" lines the test checks.
. "$(dirname "$0")/lib.sh"

# Prepended to each script; the script's first argument is B's device.
PRELUDE='
local core = require "vns.core"
local program = require "vns.program"
local template = require "vns.template"
local kernel = require "vns.kernel"
local dev = ...
local function say(k, v) print(k .. "=" .. tostring(v)) end
-- C that returns unless the char[16] named v holds the device under test.
local function only_dev(v)
  local lo, hi = template.ifname_words(dev or "")
  return template.code(template.render(
    "if (*(u64 *)&{{ V }}[0] != {{ LO }} || *(u64 *)&{{ V }}[8] != {{ HI }}) return 0;",
    { V = template.code(v), LO = lo, HI = hi }))
end
-- Tell the test we are attached, then wait (30 s at most) for its SIGINT.
local function attached()
  print("attached")
  io.stdout:flush()
  core.sleep(30)
end
local function reason_code(name)
  for code, n in pairs(kernel.tracepoint_symbols("skb", "kfree_skb", "reason")) do
    if n == name then return code end
  end
end
'

# with_traffic TAG N LUA: run PRELUDE..LUA, send N datagrams to B's closed
# port once it has attached, then end it with SIGINT.
with_traffic() {
  topo_pair
  tool_start "$1" -e "$PRELUDE$3" "$DEV_B"
  wait_line "$1" '^attached$'
  send_udp "$NS_A" "$IP_B" 9999 "$2"
  settle
  tool_stop "$1" INT
  expect_eq "exit status" 0 "$STATUS"
}

case_compile_error() {
  need_root
  vns_run cc 60 -e 'require("vns.program").compile("BPF_ARRAY(a, u64, 1);\nint f(void *ctx) { return vnst_undefined + 1; }\n")'
  expect_eq "exit status" 1 "$STATUS"
  expect_match "the message" '^vnetscope: compile failed:' "$(err_of cc)"
  expect_match "clang's error" "main\.c:2:[0-9]+: error: use of undeclared identifier 'vnst_undefined'" "$(err_of cc)"
  expect_match "the offending generated line" '^ +2 \| int f\(void \*ctx\) \{ return vnst_undefined \+ 1; \}$' "$(err_of cc)"
  vns_run raw 60 -e "$PRELUDE"'
    local mod, msg, code = core.compile("int f(void *ctx) { return vnst_undefined; }")
    say("mod", mod) say("code", code) say("message", (msg:gsub("\n", " ")))'
  expect_eq "core.compile's module" nil "$(field raw mod)"
  expect_eq "core.compile's code" 22 "$(field raw code)"
  expect_match "core.compile's message" "error: use of undeclared identifier 'vnst_undefined'" "$(field raw message)"
}

MAPS_LUA='
local p = program.compile(template.render([[
#include <vns/dev.h>
struct key_t { char dev[16]; u32 reason; };
BPF_HASH(by_key, struct key_t, u64);
BPF_ARRAY(total, u64, 2);
BPF_PERCPU_ARRAY(percpu, u64, 1);
TRACEPOINT_PROBE(skb, kfree_skb) {
  struct key_t key = {};
  vns_skb_devname((struct sk_buff *)args->skbaddr, key.dev);
  {{ ONLY_DEV }}
  key.reason = args->reason;
  by_key.increment(key);
  total.increment(0);
  percpu.increment(0);
  return 0;
}]], { ONLY_DEV = only_dev("key.dev") })):attach_all()
attached()
p:close()  -- detached: the counts stay as they are while we read them
local h, a, pc = p:table("by_key"), p:table("total"), p:table("percpu")
local key, extra = { dev = dev, reason = reason_code("NO_SOCKET") }, { dev = "vnst-extra", reason = 1 }
say("hash_lookup", h:lookup(key))
say("hash_count", h:count())
for k, v in h:items() do say("hash_item", k.dev .. "/" .. k.reason .. "/" .. v) end
say("hash_update", h:update(extra, 5))
say("hash_lookup_new", h:lookup(extra))
say("hash_count_2", h:count())
say("hash_entries", #h:entries())
say("hash_delete", h:delete(extra))
say("hash_delete_again", h:delete(extra))
say("hash_lookup_deleted", h:lookup(extra))
local drained = h:drain()
say("hash_drained", #drained .. " " .. drained[1][1].dev .. " " .. drained[1][2])
say("hash_count_drained", h:count())
h:update(key, 1)
h:update(extra, 2)
say("hash_clear", h:clear())
say("hash_count_cleared", h:count())
say("array_lookup", a:lookup(0))
say("array_lookup_1", a:lookup(1))
say("array_count", a:count())
a:update(1, 42)
say("array_update", a:lookup(1))
local sum = 0
for _, e in ipairs(a:drain()) do sum = sum + e[2] end
say("array_drained_sum", sum)
say("array_after_drain", a:lookup(0) .. " " .. a:lookup(1))
local v, n = pc:lookup(0), 0
for _, x in ipairs(v) do n = n + x end
say("percpu_values", #v .. " of " .. core.ncpus())
say("percpu_sum", n)
'

case_verifier_rejection() {
  need_root
  vns_run vr 60 -e 'require("vns.program").compile("RAW_TRACEPOINT_PROBE(sys_enter) { return ctx->args[40]; }"):attach_all()'
  expect_eq "exit status" 1 "$STATUS"
  expect_match "one error line" '^vnetscope: load raw_tracepoint__sys_enter: rejected by the verifier' "$(err_of vr)"
  expect_match "the verifier's reason" 'invalid bpf_context access' "$(err_of vr)"
  expect_eq "the log appears once" 1 "$(grep -c 'invalid bpf_context access' <<<"$(err_of vr)")"
}

case_maps() {
  need_root
  need_drop_reasons
  with_traffic maps 31 "$MAPS_LUA"
  local f
  f() { field maps "$1"; }
  expect_eq "hash lookup of {dev, NO_SOCKET}" 31 "$(f hash_lookup)"
  expect_eq "hash count" 1 "$(f hash_count)"
  expect_match "hash items" "^$DEV_B/[0-9]+/31\$" "$(f hash_item)"
  expect_eq "hash update" true "$(f hash_update)"
  expect_eq "hash lookup after update" 5 "$(f hash_lookup_new)"
  expect_eq "hash count after update" 2 "$(f hash_count_2)"
  expect_eq "hash entries" 2 "$(f hash_entries)"
  expect_eq "hash delete" true "$(f hash_delete)"
  expect_eq "hash delete of a missing key" false "$(f hash_delete_again)"
  expect_eq "hash lookup of a deleted key" nil "$(f hash_lookup_deleted)"
  expect_eq "hash drain" "1 $DEV_B 31" "$(f hash_drained)"
  expect_eq "hash count after drain" 0 "$(f hash_count_drained)"
  expect_eq "hash clear" true "$(f hash_clear)"
  expect_eq "hash count after clear" 0 "$(f hash_count_cleared)"
  expect_eq "array lookup" 31 "$(f array_lookup)"
  expect_eq "array lookup of an untouched slot" 0 "$(f array_lookup_1)"
  expect_eq "array count (every slot exists)" 2 "$(f array_count)"
  expect_eq "array update" 42 "$(f array_update)"
  expect_eq "array drain" 73 "$(f array_drained_sum)"
  expect_eq "array after drain (zeroed)" "0 0" "$(f array_after_drain)"
  expect_match "per-CPU values, one per possible CPU" '^([0-9]+) of \1$' "$(f percpu_values)"
  expect_eq "per-CPU sum" 31 "$(f percpu_sum)"
}

# The docs: "Values of per-CPU maps are 1-based arrays with one value per
# possible CPU" -- what lookup returns must be accepted by update.
case_percpu_update() {
  need_root
  vns_run pc 60 -e "$PRELUDE"'
    local p = program.compile("BPF_PERCPU_ARRAY(pc, u64, 1);\nint f(void *ctx) { return 0; }")
    local pc, want = p:table("pc"), {}
    for c = 1, core.ncpus() do want[c] = 10 * c end
    local ok, err = pcall(pc.update, pc, 0, want)
    say("update", ok and tostring(err) or err)
    say("want", table.concat(want, ","))
    say("got", table.concat(pc:lookup(0), ","))'
  expect_eq "update with one value per CPU" true "$(field pc update)"
  expect_eq "lookup after update" "$(field pc want)" "$(field pc got)"
}

STACK_LUA='
local p = program.compile(template.render([[
#include <vns/dev.h>
BPF_STACK_TRACE(stacks, 1024);
BPF_HASH(ids, int, u64);
BPF_ARRAY(failed, u64, 1);
TRACEPOINT_PROBE(skb, kfree_skb) {
  char name[16] = {};
  vns_skb_devname((struct sk_buff *)args->skbaddr, name);
  {{ ONLY_DEV }}
  int id = stacks.get_stackid(args, 0);
  if (id < 0) failed.increment(0); else ids.increment(id);
  return 0;
}]], { ONLY_DEV = only_dev("name") })):attach_all()
attached()
p:close()
local hits, names, seen = 0, {}, {}
for id, n in p:table("ids"):items() do
  hits = hits + n
  for _, frame in ipairs(p:table("stacks"):stack(id)) do
    if not seen[frame.sym] then seen[frame.sym] = true; names[#names + 1] = frame.sym end
  end
end
say("hits", hits)
say("failed", p:table("failed"):lookup(0))
say("frames", table.concat(names, " "))
'

case_stack() {
  need_root
  with_traffic st 17 "$STACK_LUA"
  expect_gt "drops with a stack id" 0 "$(field st hits)"
  expect_eq "drops with a stack id + failed get_stackid" 17 "$(($(field st hits) + $(field st failed)))"
  expect_match "kernel frames" '(udp|kfree_skb|ip_)' "$(field st frames | tr ' ' '\n' | grep -vx '\[unknown\]')"
}

# KIND is perf or ring: the same event through either buffer.
EVENTS_LUA='
local kind = select(2, ...)
local ring = kind == "ring"
local p = program.compile(template.render([[
#include <vns/dev.h>
struct event_t { u64 location; u32 reason; char dev[16]; };
{{ DECLARE }}
TRACEPOINT_PROBE(skb, kfree_skb) {
  struct event_t ev = {};
  vns_skb_devname((struct sk_buff *)args->skbaddr, ev.dev);
  {{ ONLY_DEV }}
  ev.location = (u64)args->location;
  ev.reason = args->reason;
  {{ SUBMIT }}
  return 0;
}]], {
  DECLARE = template.code(ring and "BPF_RINGBUF_OUTPUT(events, 8);" or "BPF_PERF_OUTPUT(events);"),
  SUBMIT = template.code(ring and "events.ringbuf_output(&ev, sizeof(ev), 0);"
                              or "events.perf_submit(args, &ev, sizeof(ev));"),
  ONLY_DEV = only_dev("ev.dev") }))
local got, bad, first = 0, 0, nil
local function on_event(ev, size)
  got = got + 1
  local sym = core.ksym(ev.location)
  local text = string.format("%s %d %s %d", ev.dev, ev.reason, sym, size)
  first = first or text
  if ev.dev ~= dev or ev.reason ~= reason_code("NO_SOCKET") or sym ~= "__udp4_lib_rcv" then bad = bad + 1 end
end
local buf = ring and p.mod:ring_buffer("events", on_event) or p.mod:perf_buffer("events", on_event)
p:attach_all()
print("attached")
io.stdout:flush()
while not core.interrupted() do core.poll(100) end
p:close()
repeat until core.poll(0) == 0
say("events", got)
say("bad", bad)
say("first", first)
say("received", buf:received())
say("lost", buf:lost())
'

events_case() {
  need_root
  need_drop_reasons
  [ "$1" = ring ] && need_kernel 5 8 "BPF ring buffers"
  topo_pair
  tool_start ev -e "$PRELUDE$EVENTS_LUA" "$DEV_B" "$1"
  wait_line ev '^attached$'
  send_udp "$NS_A" "$IP_B" 9999 23
  settle
  tool_stop ev INT
  expect_eq "exit status" 0 "$STATUS"
  expect_eq "events delivered" 23 "$(field ev events)"
  expect_eq "events with a wrong field" 0 "$(field ev bad)"
  expect_match "a decoded event (dev reason location size)" "^$DEV_B [0-9]+ __udp4_lib_rcv [0-9]+\$" "$(field ev first)"
  expect_eq "received" 23 "$(field ev received)"
  expect_eq "lost" 0 "$(field ev lost)"
}

case_perf_buffer() { events_case perf; }
case_ring_buffer() { events_case ring; }

RAWTP_LUA='
local p = program.compile(template.render([[
#include <vns/dev.h>
BPF_ARRAY(hits, u64, 1);
RAW_TRACEPOINT_PROBE(kfree_skb) {
  char name[16] = {};
  vns_skb_devname((struct sk_buff *)ctx->args[0], name);
  {{ ONLY_DEV }}
  hits.increment(0);
  return 0;
}]], { ONLY_DEV = only_dev("name") })):attach_all()
attached()
p:close()
say("hits", p:table("hits"):lookup(0))
'

case_raw_tracepoint() {
  need_root
  with_traffic rt 19 "$RAWTP_LUA"
  expect_eq "raw tracepoint kfree_skb hits on $DEV_B" 19 "$(field rt hits)"
}

# Detaching a raw tracepoint is an ordinary step: it must print nothing.
case_raw_tracepoint_quiet() {
  need_root
  vns_run q 60 -e "$PRELUDE"'
    local p = program.compile("RAW_TRACEPOINT_PROBE(sys_enter) { return 0; }"):attach_all()
    core.sleep(0.2)
    p:close()
    say("live", core.live_links())'
  expect_eq "exit status" 0 "$STATUS"
  expect_eq "links after close" 0 "$(field q live)"
  expect_eq "stderr" "" "$(err_of q)"
}

case_uprobe() {
  need_root
  need_cmd cc
  cat >"$CASE_DIR/target.c" <<'EOF'
#include <stdlib.h>
/* Called K times; noinline and the barrier keep the symbol and each call. */
__attribute__((noinline)) int vnst_target(int x)
{
  __asm__ volatile("" ::: "memory");
  return x + 1;
}
int main(int argc, char **argv)
{
  int k = argc > 1 ? atoi(argv[1]) : 1, s = 0;
  for (int i = 0; i < k; i++)
    s += vnst_target(i);
  return s == -1;
}
EOF
  cc -O2 -o "$CASE_DIR/target" "$CASE_DIR/target.c" || fail "cc could not build the uprobe target"
  tool_start up -e "$PRELUDE"'
    local binary = select(2, ...)
    local p = program.compile("BPF_ARRAY(hits, u64, 1);\nint on_call(struct pt_regs *ctx) { hits.increment(0); return 0; }")
    p:attach(p:load("on_call", "uprobe"), "uprobe", binary, "vnst_target")
    attached()
    p:close()
    say("hits", p:table("hits"):lookup(0))' - "$CASE_DIR/target"
  wait_line up '^attached$'
  timeout 10 "$CASE_DIR/target" 41 || fail "the uprobe target failed"
  tool_stop up INT
  expect_eq "exit status" 0 "$STATUS"
  expect_eq "uprobe hits" 41 "$(field up hits)"
}

case_perf_event() {
  need_root
  vns_run pe 60 -e "$PRELUDE"'
    local p = program.compile("BPF_ARRAY(samples, u64, 1);\nint on_clock(struct bpf_perf_event_data *ctx) { samples.increment(0); return 0; }")
    -- PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK at 99 Hz on every CPU
    p:attach(p:load("on_clock", "perf_event"), "perf_event", { type = 1, config = 0, freq = 99 })
    local n = 0
    for _ = 1, 50 do
      core.sleep(0.1)
      n = p:table("samples"):lookup(0)
      if n > 0 then break end
    end
    say("samples", n)'
  expect_eq "exit status" 0 "$STATUS"
  expect_gt "cpu-clock samples within 5 s" 0 "$(field pe samples)"
}

KPROBE_LUA='
local mod = assert(core.compile("int kprobe__udp_rcv(struct pt_regs *ctx) { return 0; }"))
local prog, err = mod:load("kprobe__udp_rcv", "kprobe")
say("insns", prog and prog:info().insns or err)
say("misses", prog and prog:info().recursion_misses or err)
local link, msg, code = prog:attach("kprobe", "udp_rcv")
say("link", link)
say("message", msg)
say("code", code)
say("live", core.live_links())
'

case_kprobe_load() {
  need_root
  vns_run kp 60 -e "$PRELUDE$KPROBE_LUA"
  expect_gt "instructions of the verifier-loaded kprobe program" 0 "$(field kp insns)"
  expect_eq "runs the kernel skipped (recursion_misses)" 0 "$(field kp misses)"
}

case_kprobe_attach() {
  need_root
  if [ -e /sys/bus/event_source/devices/kprobe ] || [ -e /sys/kernel/tracing/kprobe_events ]; then
    skip "this kernel supports kprobes"
  fi
  vns_run kp 60 -e "$PRELUDE$KPROBE_LUA"
  expect_eq "exit status" 0 "$STATUS"
  expect_eq "link" nil "$(field kp link)"
  expect_match "message" '^kprobe udp_rcv: kprobes are not supported' "$(field kp message)"
  expect_eq "code (EOPNOTSUPP)" 95 "$(field kp code)"
  expect_eq "links left" 0 "$(field kp live)"
}

run_case "core: compile error returns clang's message and the generated line" case_compile_error
run_case "core: verifier rejection comes back once, with the log" case_verifier_rejection
run_case "core: hash/array/per-CPU maps fed by real drops" case_maps
run_case "core: per-CPU update takes one value per CPU" case_percpu_update
run_case "core: stack traces of drops resolve to kernel symbols" case_stack
run_case "core: perf buffer delivers exactly N decoded events" case_perf_buffer
run_case "core: ring buffer delivers exactly N decoded events" case_ring_buffer
run_case "core: raw tracepoint kfree_skb counts exactly N" case_raw_tracepoint
run_case "core: raw tracepoint detach prints nothing" case_raw_tracepoint_quiet
run_case "core: uprobe on a test binary counts exactly K calls" case_uprobe
run_case "core: perf_event cpu-clock gets samples" case_perf_event
run_case "core: kprobe program compiles and verifier-loads" case_kprobe_load
run_case "core: kprobe attach is refused with a clear message" case_kprobe_attach
finish
