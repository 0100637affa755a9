# lib.sh: helpers for the integration tests, sourced by every t_*.sh.
#
# A test file defines one function per case and runs each with
#   run_case "what it shows" case_function
# The function runs in a subshell of its own: fail/skip end it, and its
# EXIT trap stops the tools it started and deletes the namespaces it made,
# however it ends. Results go to stdout (PASS/FAIL/SKIP lines) and, under
# run.sh, to $VNST_RESULTS, which run.sh counts.

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$TESTS_DIR/../.." && pwd)
VNS=${VNETSCOPE:-$REPO_DIR/build/vnetscope}
# How long a tool may take to attach: compiling takes ~1.5 s here; generous
# for slow machines and a first run that builds the BTF header tree.
READY_TENTHS=${VNST_READY_TENTHS:-300}
WORK=$(mktemp -d "/tmp/vnst$$.XXXXXX")
# VNST_KEEP=1 keeps every case's files (tool output, logs) for a look.
trap 'if [ -n "${VNST_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi' EXIT
trap 'exit 143' TERM INT

# ---- results ---------------------------------------------------------

record() {
  echo "$*"
  if [ -n "${VNST_RESULTS:-}" ]; then echo "$*" >>"$VNST_RESULTS"; fi
}

# Inside a case: end it as failed / skipped, with the reason.
fail() { printf '%s\n' "$*" >"$CASE_DIR/why"; exit 1; }
skip() { printf '%s\n' "$*" >"$CASE_DIR/why"; exit 77; }

# The last lines of every file a tool wrote, to show what went wrong.
show_outputs() {
  local f
  for f in "$CASE_DIR"/*.out "$CASE_DIR"/*.err "$CASE_DIR/case.log"; do
    [ -s "$f" ] || continue
    echo "    -- ${f##*/}"
    tail -n 15 "$f" | sed 's/^/    | /'
  done
}

case_cleanup() {
  local pid ns
  for pid in $(cat "$CASE_DIR/pids" 2>/dev/null); do
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  done
  for ns in $(cat "$CASE_DIR/netns" 2>/dev/null); do ip netns del "$ns" 2>/dev/null; done
}

FAILED=0

run_case() {
  local name=$1 rc why
  shift
  CASE_DIR=$(mktemp -d "$WORK/case.XXXXXX")
  (
    trap case_cleanup EXIT
    trap 'exit 143' TERM INT
    # Short, unique per case: names of namespaces and devices (<= 15 bytes).
    PFX=vnst$BASHPID
    "$@"
  ) >"$CASE_DIR/case.log" 2>&1
  rc=$?
  why=$(cat "$CASE_DIR/why" 2>/dev/null)
  case $rc in
    0) record "PASS $name" ;;
    77) record "SKIP $name: $why" ;;
    *) record "FAIL $name: ${why:-the case exited with status $rc}"; show_outputs; FAILED=$((FAILED + 1)) ;;
  esac
}

# ---- assertions (inside a case) ----------------------------------------

expect_eq() {  # WHAT EXPECTED ACTUAL
  [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

expect_match() {  # WHAT ERE TEXT
  printf '%s\n' "$3" | grep -Eq -- "$2" ||
    fail "$1: expected a line matching /$2/, got: $(printf '%s' "$3" | head -c 400)"
}

expect_no_match() {  # WHAT ERE TEXT
  local hit
  hit=$(printf '%s\n' "$3" | grep -E -m1 -- "$2")
  [ -z "$hit" ] || fail "$1: expected no line matching /$2/, got: $hit"
}

expect_gt() {  # WHAT MIN ACTUAL: an integer above MIN
  [[ "$3" =~ ^[0-9]+$ ]] && [ "$3" -gt "$2" ] || fail "$1: expected an integer > $2, got '$3'"
}

need_cmd() {
  local c
  for c in "$@"; do command -v "$c" >/dev/null || skip "$c is not installed"; done
}

need_root() {
  [ "$(id -u)" = 0 ] || skip "needs root (BPF programs, network namespaces)"
}

# Drop reasons (and so NO_SOCKET, NETFILTER_DROP) came with Linux 5.17. When
# tracefs is not mounted we go on: the tool mounts it.
need_drop_reasons() {
  local f
  for f in /sys/kernel/tracing /sys/kernel/debug/tracing; do
    f=$f/events/skb/kfree_skb/format
    [ -r "$f" ] || continue
    grep -q ' reason;' "$f" || skip "skb:kfree_skb has no drop reason on this kernel (Linux 5.17+)"
    return 0
  done
}

# need_kernel MAJOR MINOR WHAT
need_kernel() {
  local major minor
  IFS=. read -r major minor _ <<<"$(uname -r)"
  [ "$major" -gt "$1" ] || { [ "$major" -eq "$1" ] && [ "${minor%%[!0-9]*}" -ge "$2" ]; } ||
    skip "$3 need Linux $1.$2+"
}

# ---- namespaces ---------------------------------------------------------

# A namespace with lo up and IPv6 off, so no MLD/ND traffic adds drops.
ns_new() {
  ip netns add "$1" || fail "ip netns add $1 failed"
  echo "$1" >>"$CASE_DIR/netns"
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null || fail "cannot disable IPv6 in $1"
  ip -n "$1" link set lo up
}

# link_pair NS1 DEV1 MAC1 NS2 DEV2 MAC2 SUBNET: two linked devices up,
# with SUBNET.1 and SUBNET.2 /24 and static neighbours both ways, so that
# no ARP runs while a tool counts.
link_pair() {
  ip -n "$1" addr add "$7.1/24" dev "$2" && ip -n "$4" addr add "$7.2/24" dev "$5" &&
    ip -n "$1" link set "$2" up && ip -n "$4" link set "$5" up &&
    ip -n "$1" neigh replace "$7.2" lladdr "$6" dev "$2" nud permanent &&
    ip -n "$4" neigh replace "$7.1" lladdr "$3" dev "$5" nud permanent ||
    fail "cannot configure $2/$5"
}

# veth NS1 DEV1 NS2 DEV2 SUBNET: a veth pair made a link_pair.
veth() {
  local mac1=02:00:${5##*.}:00:00:01 mac2=02:00:${5##*.}:00:00:02
  ip link add "$2" netns "$1" address "$mac1" type veth peer name "$4" netns "$3" address "$mac2" ||
    fail "cannot create veth $2/$4"
  link_pair "$1" "$2" "$mac1" "$3" "$4" "$mac2" "$5"
}

# nft_drop_udp NS PORT: an nftables rule in NS's input hook that drops
# UDP to PORT (the tests' NETFILTER_DROP).
nft_drop_udp() {
  ip netns exec "$1" nft -f - <<NFT || fail "cannot add the nftables drop rule in $1"
table inet vnst {
  chain input {
    type filter hook input priority 0;
    udp dport $2 drop
  }
}
NFT
}

# Namespaces A and B joined by DEV_A <-> DEV_B, 10.231.1.1 and .2.
# shellcheck disable=SC2034 # the variables are for the test files
topo_pair() {
  NS_A=${PFX}a NS_B=${PFX}b DEV_A=${PFX}a DEV_B=${PFX}b IP_A=10.231.1.1 IP_B=10.231.1.2
  ns_new "$NS_A"
  ns_new "$NS_B"
  veth "$NS_A" "$DEV_A" "$NS_B" "$DEV_B" 10.231.1
}

# A third namespace C behind A: DEV_AC <-> DEV_C, 10.231.2.1 and .2.
# shellcheck disable=SC2034
topo_third() {
  NS_C=${PFX}c DEV_AC=${PFX}x DEV_C=${PFX}c IP_C=10.231.2.2
  ns_new "$NS_C"
  veth "$NS_A" "$DEV_AC" "$NS_C" "$DEV_C" 10.231.2
}

# slow_qdisc NS DEV: htb root 1: with one 8 kbit class, and a pfifo of 2
# packets (10:) under it: a burst overflows the pfifo.
slow_qdisc() {
  ip netns exec "$1" tc qdisc add dev "$2" root handle 1: htb default 1 &&
    ip netns exec "$1" tc class add dev "$2" parent 1: classid 1:1 htb rate 8kbit burst 1600 quantum 1514 &&
    ip netns exec "$1" tc qdisc add dev "$2" parent 1:1 handle 10: pfifo limit 2 ||
    fail "cannot set up htb + pfifo on $2"
}

# tc_counter NS DEV HANDLE WORD: a qdisc's counter from tc -s (WORD:
# dropped, overlimits, requeues).
tc_counter() {
  ip netns exec "$1" tc -s qdisc show dev "$2" | awk -v h="$3" -v w="$4" '
    $1 == "qdisc" && $3 == h {on = 1; next}
    on && /dropped/ {gsub(/[(),]/, ""); for (i = 1; i <= NF; i++) if ($i == w) print $(i + 1); exit}'
}

tc_drops() { tc_counter "$@" dropped; }

# qdisc_drained NS DEV: wait (5 s at most) until DEV's root qdisc holds
# no packet: a shaper has sent, or dropped, everything it was given.
qdisc_drained() {
  local i
  for ((i = 0; i < 50; i++)); do
    ip netns exec "$1" tc -s qdisc show dev "$2" | grep -q 'backlog 0b 0p' && return 0
    sleep 0.1
  done
  return 0  # the test's counts say what is missing
}

# send_udp NS IP PORT COUNT: one datagram per new socket (bash /dev/udp).
# SENDER=path runs another copy of bash, so the sender has that comm.
send_udp() {
  timeout 30 ip netns exec "$1" "${SENDER:-bash}" -c \
    'for ((i = 0; i < $3; i++)); do echo x >"/dev/udp/$1/$2" || exit 1; done' _ "$2" "$3" "$4" ||
    fail "sending $4 datagrams to $2:$3 from $1 failed"
}

# send_udp_from NS IP PORT SPORT COUNT [BYTES]: COUNT datagrams of BYTES
# (default 1) from one socket bound to SPORT: one flow (perl; bash picks
# a new port per datagram).
send_udp_from() {
  # Unconnected, so ICMP errors from the peer do not fail later sends.
  timeout 30 ip netns exec "$1" perl -MIO::Socket::INET -MSocket -e '
    my ($ip, $port, $sport, $n, $bytes) = @ARGV;
    my $s = IO::Socket::INET->new(LocalPort => $sport, Proto => "udp") or die "socket: $!\n";
    my $to = sockaddr_in($port, inet_aton($ip));
    for (1 .. $n) { defined send($s, "x" x $bytes, 0, $to) or die "send: $!\n"; }
  ' "$2" "$3" "$4" "$5" "${6:-1}" || fail "sending $5 datagrams $4 -> $2:$3 from $1 failed"
}

# ct_stat NS NAME: a conntrack counter of NS, summed over the CPUs' rows (hex).
ct_stat() {
  N=$2 ip netns exec "$1" perl -lane 'if ($. == 1) { ($c) = grep { $F[$_] eq $ENV{N} } 0 .. $#F; next }
    $s += hex $F[$c]; END { print $s + 0 }' /proc/net/stat/nf_conntrack 2>/dev/null ||
    fail "cannot read /proc/net/stat/nf_conntrack in $1"
}

# Datagrams are dropped in softirq right after the send; give it a moment.
settle() { sleep 0.3; }

# The fenced block after the line "<!-- MARK: PATH -->" in $GUIDE
# (docs/writing-scripts.md; MARK is file, excerpt or command), without
# its fences. With N, the N-th such block.
guide_block() {
  awk -v mark="<!-- $1: $2 -->" -v want="${3:-1}" '
    $0 == mark { n++; if (n == want) { found = 1 } ; next }
    found == 1 { if ($0 ~ /^```/) { found = 2; next } }
    found == 2 { if ($0 == "```") exit; print }' "$GUIDE"
}

# snmp NS FILE PREFIX NAME: one counter of NS: in snmp/netstat, the
# PREFIX line under the header line that names it ("Udp", "NoPorts"); in
# snmp6 (PREFIX ""), the line of NAME ("Udp6OutDatagrams").
snmp() {
  ip netns exec "$1" awk -v p="$3:" -v n="$4" 'p == ":" && $1 == n {print $2; exit}
    $1 == p && !h {for (i = 2; i <= NF; i++) c[i] = $i; h = 1; next}
    $1 == p && h {for (i = 2; i <= NF; i++) if (c[i] == n) print $i}' "/proc/net/$2"
}

# ---- the tool under test ------------------------------------------------

# tool_start TAG ARGS...: vnetscope ARGS in the background; its output in
# $CASE_DIR/TAG.out and TAG.err. Every tool run is bounded by its own
# --duration, or stopped by the case, or killed by case_cleanup.
tool_start() {
  local tag=$1 wrap=()
  shift
  # NETNS=name runs the tool in that namespace (ip netns exec execs it:
  # the pid is the tool's).
  [ -z "${NETNS:-}" ] || wrap=(ip netns exec "$NETNS")
  "${wrap[@]}" "$VNS" "$@" >"$CASE_DIR/$tag.out" 2>"$CASE_DIR/$tag.err" </dev/null &
  echo $! >"$CASE_DIR/$tag.pid"
  echo $! >>"$CASE_DIR/pids"
}

tool_pid() { cat "$CASE_DIR/$1.pid"; }
out_of() { cat "$CASE_DIR/$1.out"; }
err_of() { cat "$CASE_DIR/$1.err"; }

alive() {  # PID: running and not a zombie
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ]
}

# wait_line TAG ERE: until the tool prints a matching line; fails if it
# exits first or takes longer than READY_TENTHS tenths of a second.
wait_line() {
  local i pid
  pid=$(tool_pid "$1")
  for ((i = 0; i < READY_TENTHS; i++)); do
    grep -Eq -- "$2" "$CASE_DIR/$1.out" && return 0
    alive "$pid" || fail "$1 exited before printing /$2/: $(head -c 600 "$CASE_DIR/$1.err")"
    sleep 0.1
  done
  fail "$1 did not print /$2/ within $((READY_TENTHS / 10)) s"
}

wait_ready() { wait_line "$1" 'Hit Ctrl-C to end\.'; }

# wait_lines TAG ERE N: until the tool printed N lines matching ERE, for
# READY_TENTHS tenths of a second at most; the case judges the count.
wait_lines() {
  local i
  for ((i = 0; i < READY_TENTHS; i++)); do
    [ "$(grep -cE -- "$2" "$CASE_DIR/$1.out")" -ge "$3" ] && return 0
    sleep 0.1
  done
}

# tool_wait TAG [TENTHS]: wait for the tool to exit; sets STATUS.
# shellcheck disable=SC2034
tool_wait() {
  local i pid
  pid=$(tool_pid "$1")
  for ((i = 0; i < ${2:-100}; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  alive "$pid" && fail "$1 still running after $((${2:-100} / 10)) s"
  wait "$pid"
  STATUS=$?
}

# tool_stop TAG SIGNAL: signal the tool and wait (10 s at most) for its exit.
tool_stop() {
  kill -"$2" "$(tool_pid "$1")" 2>/dev/null
  tool_wait "$1" 100
}

# vns_run TAG SECONDS ARGS...: run vnetscope in the foreground, bounded;
# sets STATUS.
# shellcheck disable=SC2034
vns_run() {
  local tag=$1 secs=$2
  shift 2
  timeout -k 5 "$secs" "$VNS" "$@" >"$CASE_DIR/$tag.out" 2>"$CASE_DIR/$tag.err" </dev/null
  STATUS=$?
}

# field TAG NAME: the value of a "NAME=value" line a script printed.
field() { sed -n "s/^$2=//p" "$CASE_DIR/$1.out" | tail -n 1; }

# ---- kernel state -------------------------------------------------------

# BPF program ids a process holds open (its fds' fdinfo).
held_prog_ids() {
  grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un
}

# Attachments a process holds: perf event fds (tracepoints, kprobes)
# and BPF link fds (raw tracepoints).
attach_fd_count() {
  find "/proc/$1/fd" \( -lname "anon_inode:\[perf_event\]" -o -lname "anon_inode:bpf_link" \) 2>/dev/null | wc -l
}

# "id type name" of every loaded program.
bpf_progs() {
  bpftool prog show 2>/dev/null | awk '/^[0-9]+: /{sub(":", "", $1); print $1, $2, $4}'
}

# Fails unless every id in "$@" is unloaded within 5 s (programs are
# freed asynchronously after their last fd closes).
expect_progs_gone() {
  local i id left
  for ((i = 0; i < 50; i++)); do
    left=""
    for id in "$@"; do bpftool prog show id "$id" >/dev/null 2>&1 && left="$left $id"; done
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  fail "BPF programs still loaded after exit:$left"
}

# Programs loaded since BEFORE (a file of bpf_progs) of a tracing type
# that no process holds: attached and leaked. Ids other processes hold
# belong to whoever else is tracing on this machine.
expect_no_leaked_progs() {
  local before=$1 i leaked held
  for ((i = 0; i < 50; i++)); do
    held=$(grep -h '^prog_id:' /proc/[0-9]*/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u)
    leaked=$(bpf_progs | awk -v before="$before" 'BEGIN {while ((getline l < before) > 0) {split(l, f, " "); old[f[1]] = 1}}
        !($1 in old) && $2 ~ /tracepoint|kprobe|perf_event/' | while read -r id type name; do
        printf '%s\n' "$held" | grep -qx "$id" || echo "$id:$type:$name"
      done)
    [ -z "$leaked" ] && return 0
    sleep 0.1
  done
  fail "new tracing programs left loaded with no owner: $leaked"
}

# ---- drop-summary output --------------------------------------------------

# Rows "count reason location dev" of the final "Total since start" block.
total_rows() {
  awk '/^Total since start/ {on = 1; next} on && $1 ~ /^[0-9]+$/ {print $1, $2, $3, $4}' "$CASE_DIR/$1.out"
}

total_line() { grep -E '^Total since start' "$CASE_DIR/$1.out"; }

# sum_rows TAG REASON LOCATION_ERE DEV: drops of that kind in the total.
sum_rows() {
  # Through ENVIRON: awk -v would take the backslashes of the ERE as escapes.
  total_rows "$1" | R=$2 L=$3 D=$4 awk '$2 == ENVIRON["R"] && $3 ~ ENVIRON["L"] && $4 == ENVIRON["D"] {n += $1} END {print n + 0}'
}

# jsonq TAG 'LUA EXPR': evaluate EXPR on the last JSON line TAG printed
# (as d; lines is every line decoded). Needs lua5.4.
jsonq() {
  lua5.4 "$TESTS_DIR/jsonq.lua" "$CASE_DIR/$1.out" "$2" 2>&1
}

# count_events TAG 'LUA COND': event lines of a JSON run matching COND
# (r = the event).
count_events() {
  jsonq "$1" "(function() local n = 0 for _, r in ipairs(lines) do
    if r.type == 'event' and ($2) then n = n + 1 end end return n end)()"
}

# The last line of a test file: its status says whether a case failed.
finish() { [ "$FAILED" -eq 0 ]; }
