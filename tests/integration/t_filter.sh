#!/usr/bin/env bash
# The filter compiler against real packets: every filter form (--filter
# expressions, flow options, sets large enough to become maps) is
# compiled into one program, one raw tracepoint function per form on
# net:netif_receive_skb, each verifier-loaded by this kernel. Namespace A
# sends known packets to B's veth; every form must count exactly the
# packets it matches and none of the others. Packets are crafted frames
# from an AF_PACKET socket (IPv4 with options and fragments, IPv6 with
# extension headers, TCP, UDP, SCTP, ICMP, ICMPv6, 802.1Q and QinQ tags,
# ARP) and datagrams and connections of the real stack.
. "$(dirname "$0")/lib.sh"

# The counter: vnetscope run counter.lua DEV FORMS DEFAULT_COUNT
# FORMS: one form a line, tab-separated: name, the sender groups it must
# count ("G" for DEFAULT_COUNT packets, "G:N" for N, "-" for none), then
# option words. A group is the last byte of the source MAC. Prints
# "ready", and after SIGINT "ok|bad NAME insns=N got=G:N,...".
write_counter() {
  cat >"$CASE_DIR/counter.lua" <<'EOF'
local core = require "vns.core"
local filter = require "vns.filter"
local options = require "vns.options"
local program = require "vns.program"
local template = require "vns.template"

local dev, forms_path, default = ...
default = math.tointeger(tonumber(default))

local forms = {}
for line in io.lines(forms_path) do
  if line ~= "" and not line:match("^#") then
    local f = {}
    for field in (line .. "\t"):gmatch("(.-)\t") do f[#f + 1] = field end
    local expect = {}
    for g, n in f[2]:gmatch("(%d+):?(%d*)") do expect[tonumber(g)] = tonumber(n) or default end
    forms[#forms + 1] = { name = f[1], expect = expect, argv = table.move(f, 3, #f, 1, {}) }
  end
end

local head = [[
#include <vns/flow.h>
#include <vns/dev.h>
BPF_ARRAY(counts, u64, {{ SLOTS }});

/* The sender group: the last byte of the source MAC. */
static __always_inline u32 group_of(struct sk_buff *skb)
{
  struct vns_skb s;
  u8 g = 0;
  if (vns_skb_read(skb, &s) && vns_skb_mac_set(&s))
    vns_read(&g, 1, s.head + s.mac + 11);
  return g & 63;
}

static __always_inline int on_dev(struct sk_buff *skb)
{
  char name[16] = {};
  vns_skb_devname(skb, name);
  return *(u64 *)&name[0] == {{ LO }} && *(u64 *)&name[8] == {{ HI }};
}
]]
local form = [[

{{ MAPS }}
int form_{{ I }}(struct bpf_raw_tracepoint_args *ctx)
{
  struct sk_buff *skb = (struct sk_buff *)ctx->args[0];
  if (!on_dev(skb))
    return 0;
  struct vns_flow f = {};
  vns_flow_l3_of(skb, &f, {{ L3 }});
  if (!({{ FILTER }}))
    return 0;
  counts.increment({{ SLOT }} + group_of(skb));
  return 0;
}
]]
local lo, hi = template.ifname_words(dev)
local parts = { template.render(head, { SLOTS = template.int(64 * #forms), LO = lo, HI = hi }) }
local specs = filter.options()
for i, f in ipairs(forms) do
  f.compiled = filter.compile(options.parse(specs, f.argv), { map_prefix = "form" .. i .. "_set" })
  parts[#parts + 1] = template.render(form, {
    I = template.int(i), SLOT = template.int((i - 1) * 64), MAPS = f.compiled.decls,
    L3 = f.compiled.l3_flags, FILTER = f.compiled.expr })
end
local prog <close> = program.compile(table.concat(parts))
for i, f in ipairs(forms) do
  local p = prog:load("form_" .. i, "raw_tracepoint")
  filter.fill(prog, f.compiled)
  prog:attach(p, "raw_tracepoint", "netif_receive_skb")
  f.insns = p:info().insns
end
print("ready")
io.stdout:flush()
local deadline = core.monotime() + 60e9
while core.sleep(0.1) and core.monotime() < deadline do end
prog:close()

local counts = prog:table("counts")
for i, f in ipairs(forms) do
  local got, wrong = {}, {}
  for g = 0, 63 do
    local n = counts:lookup((i - 1) * 64 + g) or 0
    if n > 0 then got[#got + 1] = string.format("%d:%d", g, n) end
    local want = f.expect[g] or 0
    if n ~= want then wrong[#wrong + 1] = string.format("group %d counted %d, expected %d", g, n, want) end
  end
  print(string.format("%s %s insns=%d got=%s%s", #wrong == 0 and "ok" or "bad", f.name, f.insns,
                      table.concat(got, ","), #wrong > 0 and ("; " .. table.concat(wrong, "; ")) or ""))
end
EOF
}


# counter_run FORMS_FILE DEFAULT: start the counter on B's veth.
counter_start() {
  write_counter
  tool_start cnt run "$CASE_DIR/counter.lua" "$DEV_B" "$1" "$2"
  wait_line cnt '^ready$'
}

# After the traffic: stop the counter and check every form.
counter_check() {
  local bad forms
  settle
  tool_stop cnt INT
  expect_eq "counter exit status" 0 "$STATUS"
  forms=$(grep -cE '^(ok|bad) ' "$CASE_DIR/cnt.out")
  expect_eq "forms reported" "$1" "$forms"
  bad=$(grep '^bad ' "$CASE_DIR/cnt.out")
  [ -z "$bad" ] || fail "forms that counted wrong: $bad"
}

# Sender groups (the last byte of the source MAC) and what they send;
# A = 10.231.1.1, B = 10.231.1.2, C = 10.231.9.9 (not on any device),
# A6 = fd10:231:1::1, B6 = fd10:231:1::2, C6 = fd10:231:9::9.
FRAMES='
16 3 ip4 src=10.231.1.1 dst=10.231.1.2 l4=udp sport=40000 dport=53
17 3 ip4 src=10.231.1.1 dst=10.231.1.2 l4=udp sport=40000 dport=5353
18 3 ip4 src=10.231.1.1 dst=10.231.1.2 l4=tcp sport=40001 dport=80
19 3 ip4 src=10.231.9.9 dst=10.231.1.2 l4=tcp sport=40002 dport=443
20 3 ip4 src=10.231.1.1 dst=10.231.1.2 l4=icmp type=8
21 3 ip4 src=10.231.1.1 dst=10.231.1.2 l4=udp sport=40003 dport=53 opt=12
22 3 ip4 src=10.231.9.9 dst=10.231.1.2 l4=udp sport=40004 dport=53 vlan=100
23 3 ip4 src=10.231.1.1 dst=10.231.1.2 l4=tcp sport=40005 dport=80 vlan=200,300
24 3 ip4 src=10.231.1.1 dst=10.231.1.2 l4=udp sport=53 dport=53 frag=8
25 3 ip6 src=fd10:231:1::1 dst=fd10:231:1::2 l4=udp sport=40006 dport=53
26 3 ip6 src=fd10:231:1::1 dst=fd10:231:1::2 l4=tcp sport=40007 dport=80 ext=hop,dst
27 3 ip6 src=fd10:231:9::9 dst=fd10:231:1::2 l4=udp sport=40008 dport=53 ext=frag
28 3 ip6 src=fd10:231:1::1 dst=fd10:231:1::2 l4=icmp6 type=128
29 3 ip6 src=fd10:231:1::1 dst=fd10:231:1::2 l4=tcp sport=40009 dport=80 vlan=100
30 3 arp
31 3 ip6 src=fd10:231:1::1 dst=fd10:231:1::2 l4=udp sport=53 dport=53 ext=hop,fragn
32 3 ip4 src=10.231.1.1 dst=10.231.1.2 l4=sctp sport=40010 dport=9
33 3 ip4 src=10.231.1.1 dst=10.231.1.2 l4=udp sport=53 dport=40000
34 3 ip6 src=fd10:231:1::1 dst=fd10:231:9::9 l4=udp sport=40011 dport=5353 ext=rt
'

list() {  # FORMAT FIRST LAST EXTRA: a comma list, EXTRA last
  local i out=""
  # shellcheck disable=SC2059 # the format is the argument
  for ((i = $2; i <= $3; i++)); do out+=$(printf "$1" "$i"),; done
  printf '%s%s' "$out" "$4"
}

forms_crafted() {
  local t=$'\t'
  cat <<EOF
all${t}16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34
udp${t}16,17,21,22,24,25,27,31,33,34${t}--filter${t}udp
tcp${t}18,19,23,26,29${t}--filter${t}tcp
icmp${t}20${t}--filter${t}icmp
icmp6${t}28${t}--filter${t}icmp6
ip${t}16,17,18,19,20,21,22,23,24,32,33${t}--filter${t}ip
ip6${t}25,26,27,28,29,31,34${t}--filter${t}ip6
not-ip${t}30${t}--filter${t}not ip and not ip6
arp${t}30${t}--filter${t}arp
proto-arp${t}30${t}--proto${t}arp
arp-or-sctp${t}30,32${t}--filter${t}arp or sctp
host${t}16,17,18,20,21,23,24,32,33${t}--filter${t}host 10.231.1.1
src-host${t}19,22${t}--filter${t}src host 10.231.9.9
dst-host${t}16,17,18,19,20,21,22,23,24,32,33${t}--filter${t}dst 10.231.1.2
net${t}19,22${t}--filter${t}net 10.231.9.0/24
port${t}16,21,22,25,27,33${t}--filter${t}port 53
udp-dst-port${t}16,21,22,25,27${t}--filter${t}udp dst port 53
tcp-port${t}18,23,26,29${t}--filter${t}tcp port 80
portrange${t}17,34${t}--filter${t}portrange 5000-6000
vlan${t}22,23,29${t}--filter${t}vlan
vlan-100${t}22,29${t}--filter${t}vlan 100
vlan-qinq-outer${t}23${t}--filter${t}vlan 200
host6${t}25,26,28,29,31,34${t}--filter${t}host fd10:231:1::1
net6${t}27,34${t}--filter${t}net fd10:231:9::/48
ip6-dst-port${t}26,29${t}--filter${t}ip6 and dst port 80
not-port${t}17,18,19,20,23,24,32${t}--filter${t}not port 53 and ip
parens${t}18,20,23${t}--filter${t}(tcp or icmp) and src host 10.231.1.1
or-l4${t}18,23,25,26,27,29${t}--filter${t}tcp dst port 80 or udp dst port 53 and ip6
proto-n${t}32${t}--filter${t}proto 132
sctp-port${t}32${t}--filter${t}sctp port 9
options${t}16,21,25${t}--src-ip${t}10.231.1.1,fd10:231:1::1${t}--dst-port${t}53${t}--proto${t}udp
options-host-port${t}19${t}--host${t}10.231.9.9${t}--port${t}443
options-and-filter${t}22${t}--src-ip${t}10.231.9.0/24${t}--l4-protocol${t}udp${t}--filter${t}vlan 100
src-port-range${t}33${t}--src-port${t}1-1023${t}--filter${t}ip
map-v4-hosts${t}19,22${t}--src-ip${t}$(list 10.231.50.%d 1 19 10.231.9.9)
map-v4-nets${t}16,17,18,19,20,21,22,23,24,32,33${t}--dst-ip${t}$(list 10.231.%d.0/24 100 118 10.231.1.0/24)
map-v6-hosts${t}27,34${t}--host${t}$(list fd10:231:50::%x 1 19 fd10:231:9::9)
map-v6-nets${t}25,26,27,28,29,31${t}--dst-ip${t}$(list fd10:231:%d::/64 50 67 fd10:231:1::/64)
map-ports${t}16,18,21,22,23,25,26,27,29${t}--dst-port${t}$(list %d 1001 1018 53,80)
EOF
}

case_crafted() {
  need_root
  need_cmd perl
  perl -MSocket -e 1 2>/dev/null || skip "perl has no Socket module to send raw frames"
  topo_pair
  forms_crafted >"$CASE_DIR/forms"
  counter_start "$CASE_DIR/forms" 3
  printf '%s\n' "$FRAMES" | timeout 30 ip netns exec "$NS_A" perl "$TESTS_DIR/send-frames.pl" "$DEV_A" ||
    fail "sending the crafted frames failed"
  counter_check "$(grep -c . "$CASE_DIR/forms")"
}

# Datagrams and connection attempts of the real stack (group 1: A's MAC
# ends in 01): UDP to a closed port, TCP SYNs answered by RST.
case_stack() {
  need_root
  topo_pair
  local t=$'\t'
  cat >"$CASE_DIR/forms" <<EOF
all${t}1:9
udp${t}1:5${t}--filter${t}udp and dst port 9999 and src host 10.231.1.1
tcp${t}1:4${t}--proto${t}tcp${t}--dst-port${t}7000${t}--dst-ip${t}10.231.1.2
not-tcp${t}1:5${t}--src-ip${t}10.231.1.0/24${t}--filter${t}not tcp
nothing${t}-${t}--filter${t}icmp or ip6 or port 53
EOF
  counter_start "$CASE_DIR/forms" 0
  send_udp "$NS_A" "$IP_B" 9999 5
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 30 ip netns exec "$NS_A" bash -c \
    'for i in 1 2 3 4; do (exec 3<>"/dev/tcp/$1/7000") 2>/dev/null && exit 1; done; exit 0' _ "$IP_B" ||
    fail "connecting to a closed TCP port succeeded or hung"
  counter_check 5
}

# drop-summary with flow options, --filter and a set that is a map:
# only the drops of the packets they match are counted.
case_drop_summary() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start port drop-summary --dev "$DEV_B" --proto udp --dst-port 9999 -d 60
  tool_start expr drop-summary --dev "$DEV_B" --filter "udp dst port 8888 and src host $IP_A" -d 60
  tool_start set drop-summary --dev "$DEV_B" --src-ip "$(list 10.231.60.%d 1 19 "$IP_A")" --dst-port 7777,8888 -d 60
  wait_ready port
  wait_ready expr
  wait_ready set
  send_udp "$NS_A" "$IP_B" 9999 7
  send_udp "$NS_A" "$IP_B" 8888 5
  send_udp "$NS_A" "$IP_B" 7777 3
  settle
  tool_stop port INT
  tool_stop expr INT
  tool_stop set INT
  expect_eq "--proto udp --dst-port 9999" "Total since start  drops: 7" "$(total_line port)"
  expect_eq "--filter 'udp dst port 8888 and src host A'" "Total since start  drops: 5" "$(total_line expr)"
  expect_eq "--src-ip (20 addresses) --dst-port 7777,8888" "Total since start  drops: 8" "$(total_line set)"
}

# A bad --filter is one usage error, before anything is compiled or loaded.
case_bad_filter() {
  need_cmd strace
  write_counter
  local t=$'\t'
  printf 'bad\t-\t--filter\thost 10.0.0.1 and\n' >"$CASE_DIR/forms"
  timeout 30 strace -f -qq -e trace=bpf,perf_event_open -o "$CASE_DIR/strace.log" \
    "$VNS" run "$CASE_DIR/counter.lua" lo "$CASE_DIR/forms" 0 >"$CASE_DIR/bad.out" 2>"$CASE_DIR/bad.err"
  expect_eq "exit status" 2 "$?"
  expect_eq "stderr lines" 1 "$(wc -l <"$CASE_DIR/bad.err")"
  expect_match "the error" "^vnetscope: option --filter: 'host 10.0.0.1 and' is not valid \(the expression ends after 'and'\)" \
    "$(cat "$CASE_DIR/bad.err")"
  expect_no_match "BPF or perf syscalls" 'BPF_PROG_LOAD|perf_event_open' "$(cat "$CASE_DIR/strace.log")"
}

# The include library against real kernel headers (Debian's
# linux-headers-6.1.*, split into -common and -amd64 like every Debian
# kernel; merged here the way a kernel-devel tree is): compiled, not
# loaded, since they are not this kernel's.
case_real_headers() {
  local common arch tree dirs
  dirs=(/usr/src/linux-headers-6.1.*-common)
  common=${dirs[${#dirs[@]} - 1]}
  arch=${common%-common}-amd64
  if [ ! -d "$common" ] || [ ! -d "$arch" ]; then
    skip "no Debian linux-headers-6.1 in /usr/src (apt-get install linux-headers-6.1.0-<n>-amd64)"
  fi
  tree=$CASE_DIR/kernel
  { mkdir "$tree" && cp -rs "$common/." "$tree/" && cp -rs --remove-destination "$arch/." "$tree/"; } ||
    fail "cannot merge $common and $arch"
  cat >"$CASE_DIR/compile.lua" <<'EOF'
local core = require "vns.core"
local filter = require "vns.filter"
local options = require "vns.options"
local program = require "vns.program"
local template = require "vns.template"
local function list(fmt, n)
  local t = {}
  for i = 1, n do t[i] = string.format(fmt, i) end
  return table.concat(t, ",")
end
local c = filter.compile(options.parse(filter.options(), {
  "--src-ip", list("10.0.%d.0/24", 17), "--dst-ip", list("fd00::%x", 17), "--port", list("%d", 20),
  "--filter", "(tcp port 80 or udp) and not host 10.1.1.1 and vlan 10 or ip6 net fd00::/8" }))
local budget = require "vns.budget"
local ctxfilter = require "vns.ctxfilter"
local net = require "vns.net"
local ctx = ctxfilter.compile(options.parse(net.options({ "pid", "comm", "dev", "threshold" }),
  { "--pid", "42", "--comm", "nginx", "--dev", "eth0", "--threshold", "1ms" }), { dev_skb = "skb", delta = "delta" })
local text = template.render([[
#include <vns/flow.h>
#include <vns/dev.h>
#include <vns/hist.h>
#include <vns/task.h>
{{ MAPS }}
{{ BUDGET }}
BPF_ARRAY(counts, u64, 1);
BPF_PERCPU_HASH(stats, u32, struct vns_stats, 4);
int context(struct bpf_raw_tracepoint_args *ctx)
{
  struct sk_buff *skb = (struct sk_buff *)ctx->args[0];
  u64 delta = bpf_ktime_get_ns();
  u32 key = vns_log2_slot(delta) + vns_linear_slot(delta, 10, 8);
  if (!({{ CTX }}) || !vns_budget_take())
    return 0;
  struct vns_stats zero = {}, *s = stats.lookup_or_try_init(&key, &zero);
  if (s)
    vns_stats_add(s, delta);
  return 0;
}
TRACEPOINT_PROBE(net, netif_receive_skb)
{
  struct vns_flow f = {};
  vns_flow_l3_of((struct sk_buff *)args->skbaddr, &f, {{ L3 }});
  if (!({{ FILTER }}))
    return 0;
  counts.increment(0);
  return 0;
}
int from_skb(struct bpf_raw_tracepoint_args *ctx)
{
  struct vns_flow f = {};
  char dev[16] = {};
  vns_skb_devname((struct sk_buff *)ctx->args[0], dev);
  if (vns_flow_from_skb((struct sk_buff *)ctx->args[0], &f) && f.has_ports)
    counts.increment(0);
  return 0;
}
]], { MAPS = c.decls, FILTER = c.expr, L3 = c.l3_flags, CTX = ctx.expr,
      BUDGET = budget.code({ max_events_per_sec = 100 }, 2) })
print("headers=" .. table.concat({ core.kheaders() }, " "))
local mod, err = core.compile(text, { cflags = program.cflags() })
if not mod then io.stderr:write(err, "\n") os.exit(1) end
for _, fn in ipairs(mod:functions()) do print(fn .. "=" .. mod:insn_count(fn)) end
EOF
  BCC_KERNEL_SOURCE=$tree vns_run hdr 120 run "$CASE_DIR/compile.lua"
  expect_eq "exit status" 0 "$STATUS"
  expect_eq "header source" "env $tree" "$(field hdr headers)"
  expect_gt "instructions of the tracepoint" 0 "$(field hdr tracepoint__net__netif_receive_skb)"
  expect_gt "instructions of from_skb" 0 "$(field hdr from_skb)"
  expect_gt "instructions of context (hist.h, task.h, budget)" 0 "$(field hdr context)"
}

run_case "filter: every form counts exactly its crafted frames (IPv4/IPv6, TCP/UDP/SCTP/ICMP, VLAN, QinQ, maps)" case_crafted
run_case "filter: forms count real UDP datagrams and TCP SYNs" case_stack
run_case "filter: drop-summary counts only the drops its flow options and --filter match" case_drop_summary
run_case "filter: a bad --filter exits 2 and loads nothing" case_bad_filter
run_case "filter: the include library compiles against Debian linux-headers 6.1" case_real_headers
finish
