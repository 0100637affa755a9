#!/usr/bin/env bash
# qdisc-latency and qdisc-latency-details on a tbf-shaped veth: sessions
# equal the packets tc says the qdisc sent, and every packet waited at
# least what the shaper's rate implies for the bytes queued before it.
#
# The bound: the sender (perl) sends N datagrams and measures, with its
# own CLOCK_MONOTONIC, how long the sends took (SPREAD). tbf starts with
# at most BURST bytes of tokens and earns RATE bytes/s, so the k-th
# packet to leave (C_k bytes left, itself included) leaves no earlier
# than (C_k - BURST) / RATE after the first send, and was queued no
# later than SPREAD after it: it waited at least
#   (C_k - BURST) / RATE - SPREAD.
# Packets leave in order (tbf over a bfifo), so the i-th smallest wait
# is at least the i-th bound. The bound weakens when the sender is slow;
# it never depends on how fast the tool is.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

RATE_BPS=500     # 4 kbit/s
BURST=60
N=7

shape() {
  need_cmd tc
  ip netns exec "$1" tc qdisc add dev "$2" root tbf rate 4kbit burst $BURST limit "${3:-3000}" ||
    skip "no tbf qdisc on this kernel"
}

tc_sent() {
  ip netns exec "$1" tc -s qdisc show dev "$2" | awk '/^ Sent/ {print $4; exit}'
}

# send_timed NS IP PORT COUNT: COUNT 2-byte datagrams from one socket;
# prints the sends' spread in ns (to $CASE_DIR/spread).
send_timed() {
  timeout 30 ip netns exec "$1" perl -MIO::Socket::INET -MSocket -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e '
    my ($ip, $port, $n) = @ARGV;
    my $s = IO::Socket::INET->new(Proto => "udp") or die "socket: $!\n";
    my $to = sockaddr_in($port, inet_aton($ip));
    my $t0 = clock_gettime(CLOCK_MONOTONIC);
    for (1 .. $n) { defined send($s, "x\n", 0, $to) or die "send: $!\n"; }
    printf "%d\n", (clock_gettime(CLOCK_MONOTONIC) - $t0) * 1e9;
  ' "$2" "$3" "$4" >"$CASE_DIR/spread" || fail "sending $4 datagrams to $2:$3 failed"
}

# The Lua list of bounds (us) for K packets of LEN bytes each.
bounds() {
  local spread
  spread=$(cat "$CASE_DIR/spread")
  echo "(function() local b = {} for k = 1, $1 do
    b[k] = (k * $2 - $BURST) / $RATE_BPS * 1e6 - $spread / 1e3 end return b end)()"
}

case_summary() {
  need_root
  topo_pair
  shape "$NS_A" "$DEV_A"
  # In NS_A, so that the kernel's counters are the tbf's (tracepoints see every namespace).
  NETNS=$NS_A tool_start js qdisc-latency --proto udp --dst-port 9999 --dev "$DEV_A" --format json -i 1 -d 60
  tool_start txt qdisc-latency --proto udp --dst-port 9999 --dev "$DEV_A" -i 1 -d 60
  wait_line js '"type":"interval"'
  wait_ready txt
  send_timed "$NS_A" "$IP_B" 9999 $N
  send_udp "$NS_A" "$IP_B" 8888 2     # not the flow: sent, not timed
  qdisc_drained "$NS_A" "$DEV_A"
  settle
  tool_stop js INT
  tool_stop txt INT
  local sent
  sent=$(tc_sent "$NS_A" "$DEV_A")
  expect_eq "tc sent the flow and the other" $((N + 2)) "$sent"
  expect_eq "started completed dropped restarted evicted open never_completed unwalked" "$N $N 0 0 0 0 0 0" \
    "$(jsonq js 'd.sessions.started, d.sessions.completed, d.sessions.dropped, d.sessions.restarted,
      d.sessions.evicted, d.sessions.open, d.sessions.never_completed, d.sessions.unwalked')"
  expect_eq "one histogram: $DEV_A, enqueue -> dequeue, N packets" "1 $DEV_A enqueue dequeue $N" \
    "$(jsonq js '#d.histograms, d.histograms[1].dev, d.histograms[1].from, d.histograms[1].to, d.histograms[1].count')"
  # 44 bytes a datagram: 14 Ethernet + 20 IP + 8 UDP + 2.
  expect_eq "the longest wait is at least the last packet's bound" true \
    "$(jsonq js "d.histograms[1].max >= $(bounds $N 44)[$N]")"
  expect_eq "the mean is at least the bounds' mean" true "$(jsonq js "(function() local b, s = $(bounds $N 44), 0
    for k = 1, $N do s = s + math.max(0, b[k]) end return d.histograms[1].mean >= s / $N end)()")"
  expect_eq "the kernel's counters list the tbf" "tbf" "$(jsonq js 'd.qdiscs[1] and d.qdiscs[1].kind')"
  local total
  total=$(sed -n '/^Total since start/,$p' "$CASE_DIR/txt.out")
  expect_match "text: the device" "^dev = $DEV_A\$" "$total"
  expect_match "text: the sessions" \
    "^sessions since start: $N started, $N completed, 0 dropped, 0 restarted, 0 out of order, 0 evicted, 0 open at exit, 0 never completed \\(0 not walked in lists\\)\$" "$total"
}

case_details() {
  need_root
  topo_pair
  shape "$NS_A" "$DEV_A"
  tool_start ev qdisc-latency-details --proto udp --dst-port 9999 --dev "$DEV_A" --format json -i 1 -d 60
  tool_start tx qdisc-latency-details --proto udp --dst-port 9999 --dev "$DEV_A" -i 1 -d 60
  wait_line ev '"type":"stats"'
  wait_ready tx
  send_timed "$NS_A" "$IP_B" 9999 $N
  qdisc_drained "$NS_A" "$DEV_A"
  settle
  tool_stop ev INT
  tool_stop tx INT
  expect_eq "tc sent" $N "$(tc_sent "$NS_A" "$DEV_A")"
  # TIME DEV WAIT(us) LEN PROTO SOURCE DESTINATION COMM
  expect_eq "text: the header" "TIME      DEV               WAIT(us)   LEN  PROTO  SOURCE                 DESTINATION            COMM" \
    "$(sed -n 2p "$CASE_DIR/tx.out")"
  expect_eq "text: one line per packet" $N "$(grep -Ec "^[0-9]{2}:[0-9]{2}:[0-9]{2}  $DEV_A +[0-9]+\.[0-9] +44  udp +$IP_A:[0-9]+ +$IP_B:9999 +[^ ]+\$" \
    "$CASE_DIR/tx.out")"
  expect_eq "one event per packet, each 44 bytes of the flow on $DEV_A" $N \
    "$(count_events ev "r.dev == '$DEV_A' and r.len == 44 and r.proto == 'udp' and r.dst == '$IP_B:9999'")"
  expect_eq "the i-th smallest wait is at least the i-th bound" true "$(jsonq ev "(function()
    local w, b = {}, $(bounds $N 44)
    for _, r in ipairs(lines) do if r.type == 'event' then w[#w + 1] = r.wait_us end end
    table.sort(w)
    for i = 1, $N do if not (w[i] >= b[i]) then return 'wait ' .. i .. ': ' .. w[i] .. ' < ' .. b[i] end end
    return true end)()")"
  expect_eq "events, suppressed, lost" "$N 0 0" "$(jsonq ev 'd.events, d.suppressed, d.lost')"
}

# --threshold: every session counts, only the waits above it are kept.
case_threshold() {
  need_root
  topo_pair
  shape "$NS_A" "$DEV_A"
  tool_start ev qdisc-latency-details --proto udp --dev "$DEV_A" --threshold 20ms --format json -i 1 -d 60
  wait_line ev '"type":"stats"'
  send_timed "$NS_A" "$IP_B" 9999 $N
  qdisc_drained "$NS_A" "$DEV_A"
  settle
  tool_stop ev INT
  # The first datagram leaves on the bucket; each later one waits >= 56 ms
  # when the sends took less than 36 ms (its bound minus 20 ms).
  local spread
  spread=$(cat "$CASE_DIR/spread")
  [ "$spread" -lt 36000000 ] || skip "the sender took $((spread / 1000000)) ms for $N datagrams: the bound is below the threshold"
  expect_eq "events: the $((N - 1)) that waited, each >= 20 ms" $((N - 1)) "$(count_events ev 'r.wait_us >= 20000')"
  expect_eq "no other event" $((N - 1)) "$(jsonq ev 'd.events')"
}

# Packets the qdisc drops end their session as dropped. The tbf is
# deleted with packets still queued: the kernel frees them.
case_dropped() {
  need_root
  topo_pair
  shape "$NS_A" "$DEV_A"
  tool_start js qdisc-latency --proto udp --dst-port 9999 --dev "$DEV_A" --format json -i 1 -d 60
  wait_line js '"type":"interval"'
  send_timed "$NS_A" "$IP_B" 9999 $N
  ip netns exec "$NS_A" tc qdisc del dev "$DEV_A" root || fail "cannot delete the tbf"
  settle
  tool_stop js INT
  expect_eq "started: all sent" $N "$(jsonq js 'd.sessions.started')"
  expect_gt "dropped" 0 "$(jsonq js 'd.sessions.dropped')"
  expect_eq "completed + dropped = sent; none open, evicted or restarted" "$N 0 0 0" \
    "$(jsonq js 'd.sessions.completed + d.sessions.dropped, d.sessions.open, d.sessions.evicted, d.sessions.restarted')"
  expect_eq "the histogram counts the completed" "$(jsonq js 'd.sessions.completed')" \
    "$(jsonq js '(d.histograms[1] or {count = 0}).count')"
}

# --variant queue (net:net_dev_queue, for kernels before 5.15): a tbf
# whose queue holds one datagram drops at enqueue; dropped = tc dropped.
case_variant_queue() {
  need_root
  topo_pair
  shape "$NS_A" "$DEV_A" 100
  tool_start js qdisc-latency --variant queue --proto udp --dst-port 9999 --dev "$DEV_A" --format json -i 1 -d 60
  wait_line js '"type":"interval"'
  send_timed "$NS_A" "$IP_B" 9999 12
  qdisc_drained "$NS_A" "$DEV_A"
  settle
  tool_stop js INT
  local dropped sent
  dropped=$(ip netns exec "$NS_A" tc -s qdisc show dev "$DEV_A" |
    awk '/dropped/ {gsub(/[(),]/, ""); for (i = 1; i <= NF; i++) if ($i == "dropped") {print $(i + 1); exit}}')
  sent=$(tc_sent "$NS_A" "$DEV_A")
  expect_gt "tc dropped" 0 "$dropped"
  expect_eq "variant" queue "$(jsonq js 'd.variant')"
  expect_eq "started, completed, dropped, bypassed, open" "12 $sent $dropped 0 0" \
    "$(jsonq js 'd.sessions.started, d.sessions.completed, d.sessions.dropped, d.sessions.bypassed, d.sessions.open')"
}

# --variant queue on a noqueue device (veth's default): every packet
# skips the qdisc and ends as bypassed.
case_variant_queue_bypass() {
  need_root
  topo_pair
  tool_start js qdisc-latency --variant queue --proto udp --dst-port 9999 --dev "$DEV_A" --format json -i 1 -d 60
  wait_line js '"type":"interval"'
  send_timed "$NS_A" "$IP_B" 9999 5
  settle
  tool_stop js INT
  expect_eq "started, completed, bypassed, open" "5 0 5 0" \
    "$(jsonq js 'd.sessions.started, d.sessions.completed, d.sessions.bypassed, d.sessions.open')"
}

# Bulk dequeues: on a multiqueue device the root qdisc is not
# single-queue, so one dequeue takes up to 9 packets of one queue
# (try_bulk_dequeue_skb_slow) and qdisc:qdisc_dequeue reports only the
# first. An htb class at 1 kbit holds a backlog; made fast, it releases
# the backlog in bulks. Every packet must still complete its session:
# the stage walks skb->next. An ad-hoc count of qdisc_dequeue by its
# packets field shows whether bulks happened (a skip if none did).
case_bulk() {
  need_root
  NS_A=${PFX}a NS_B=${PFX}b DEV_A=${PFX}a DEV_B=${PFX}b IP_B=10.231.1.2
  ns_new "$NS_A"
  ns_new "$NS_B"
  ip link add "$DEV_A" netns "$NS_A" address 02:00:01:00:00:01 numtxqueues 2 numrxqueues 2 type veth \
    peer name "$DEV_B" netns "$NS_B" address 02:00:01:00:00:02 numtxqueues 2 numrxqueues 2 ||
    fail "cannot create a multiqueue veth"
  link_pair "$NS_A" "$DEV_A" 02:00:01:00:00:01 "$NS_B" "$DEV_B" 02:00:01:00:00:02 10.231.1
  ip netns exec "$NS_A" tc qdisc add dev "$DEV_A" root handle 1: htb default 1 &&
    ip netns exec "$NS_A" tc class add dev "$DEV_A" parent 1: classid 1:1 htb rate 1kbit burst 1600 cburst 1600 ||
    skip "no htb qdisc on this kernel"
  tool_start js qdisc-latency --proto udp --dst-port 9999 --dev "$DEV_A" --format json -i 1 -d 60
  tool_start ev qdisc-latency-details --proto udp --dst-port 9999 --dev "$DEV_A" --format json -i 1 -d 60
  tool_start bulk -e 'count{"qdisc:qdisc_dequeue", by="packets,dev"}' --dev "$DEV_A" --format json -i 1 -d 60
  wait_line js '"type":"interval"'
  wait_line ev '"type":"stats"'
  wait_line bulk '"type":"interval"'
  send_udp_from "$NS_A" "$IP_B" 9999 5555 80
  ip netns exec "$NS_A" tc class change dev "$DEV_A" parent 1: classid 1:1 htb rate 100mbit burst 100k cburst 100k ||
    fail "cannot change the htb class"
  qdisc_drained "$NS_A" "$DEV_A"
  settle
  tool_stop js INT
  tool_stop ev INT
  tool_stop bulk INT
  expect_eq "tc sent" 80 "$(tc_sent "$NS_A" "$DEV_A")"
  local bulks
  bulks=$(jsonq bulk "(function() local n = 0 for _, r in ipairs(d.rows) do if r.packets > 1 then n = n + r.count end end
    return n end)()")
  expect_gt "bulk dequeues (qdisc_dequeue with packets > 1)" 0 "$bulks"
  expect_eq "started completed dropped open unwalked never_completed" "80 80 0 0 0 0" \
    "$(jsonq js 'd.sessions.started, d.sessions.completed, d.sessions.dropped, d.sessions.open, d.sessions.unwalked,
      d.sessions.never_completed')"
  expect_eq "details: one event per packet, none lost" "80 80 0 0" \
    "$(count_events ev "r.dev == '$DEV_A' and r.len == 43") $(jsonq ev 'd.events, d.suppressed, d.lost')"
}

run_case "qdisc-latency: sessions = packets tc sent; waits at least what tbf's rate implies (JSON, text)" case_summary
run_case "qdisc-latency-details: one event per packet, each wait above its tbf bound (JSON, text)" case_details
run_case "qdisc-latency-details: --threshold keeps the packets that waited behind the first" case_threshold
run_case "qdisc-latency: packets freed from the qdisc end as dropped" case_dropped
run_case "qdisc-latency --variant queue: drops at enqueue counted as tc counts them" case_variant_queue
run_case "qdisc-latency --variant queue: a noqueue device's packets are bypassed" case_variant_queue_bypass
run_case "qdisc-latency: packets of bulk dequeues each complete (skb->next walked)" case_bulk
finish
