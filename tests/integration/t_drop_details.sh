#!/usr/bin/env bash
# drop-details: one event per dropped packet, with the flow, reason,
# location, device and task, under the event budget; filters exclude
# another flow's drops. Drops made in private namespaces: UDP to a closed
# port, an nftables drop rule, crafted frames (VLAN-tagged, to another
# host's MAC), tagged frames dropped at netdev ingress (offloaded tag),
# ARP requests dropped by an nftables arp rule.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

case_text() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start dd drop-details --dev "$DEV_B" -i 1 -d 60
  wait_ready dd
  send_udp "$NS_A" "$IP_B" 9999 9
  settle
  tool_stop dd INT
  expect_eq "exit status" 0 "$STATUS"
  expect_eq "header" \
    "TIME             CPU  PID    COMM          DEV          REASON          LOCATION                   LEN  FLOW" \
    "$(sed -n 2p "$CASE_DIR/dd.out")"
  local rows
  rows=$(grep -E "^[0-9:.]{15} +[0-9]+  [0-9]+ +[^ ]+ +$DEV_B +NO_SOCKET +__udp4_lib_rcv\+0x[0-9a-f]+ +[0-9]+  udp $IP_A:[0-9]+ > $IP_B:9999\$" \
    "$CASE_DIR/dd.out" | wc -l)
  expect_eq "event lines: NO_SOCKET, udp A:port > B:9999 on $DEV_B" 9 "$rows"
  expect_eq "total line" "Total since start: 9 events, 0 suppressed, 0 lost" \
    "$(grep '^Total since start' "$CASE_DIR/dd.out")"
}

case_json_stack() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start dd drop-details --dev "$DEV_B" --stack --format json -i 1 -d 60
  wait_line dd '"type":"stats"'
  send_udp "$NS_A" "$IP_B" 9999 6
  settle
  tool_stop dd INT
  expect_eq "events: NO_SOCKET at __udp4_lib_rcv, the flow's fields" 6 "$(count_events dd "r.reason == 'NO_SOCKET'
    and r.location:match('^__udp4_lib_rcv%+0x%x+$') and r.dev == '$DEV_B' and r.family == 4 and r.proto == 'udp'
    and r.src == '$IP_A' and r.dst == '$IP_B' and r.dport == 9999 and r.sport > 0 and r.len > 0
    and r.reason_code == 3 and type(r.ts) == 'number' and r.cpu >= 0")"
  expect_eq "events with __udp4_lib_rcv in their stack" 6 "$(count_events dd "(function()
    for _, fr in ipairs(r.stack or {}) do if fr:match('^__udp4_lib_rcv%+') then return true end end end)()")"
  expect_eq "final stats" "6 0 0 true" "$(jsonq dd 'd.events, d.suppressed, d.lost, d.final')"
}

# Filters: another flow's drops (port 8888, and drops on another device)
# are not reported.
case_filter_excludes() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start dd drop-details --proto udp --dst-port 9999 --dst-ip "$IP_B" --format json -i 1 -d 60
  wait_line dd '"type":"stats"'
  send_udp "$NS_A" "$IP_B" 8888 7
  send_udp "$NS_A" "$IP_B" 9999 5
  settle
  tool_stop dd INT
  expect_eq "events of the filtered flow" 5 "$(count_events dd "r.dport == 9999 and r.dst == '$IP_B'")"
  expect_eq "all events" 5 "$(jsonq dd 'd.events')"
}

case_netfilter() {
  need_root
  need_drop_reasons
  topo_pair
  nft_drop_udp "$NS_B" 7777
  tool_start dd drop-details --dev "$DEV_B" --format json -i 1 -d 60
  wait_line dd '"type":"stats"'
  send_udp "$NS_A" "$IP_B" 7777 4
  settle
  tool_stop dd INT
  expect_eq "NETFILTER_DROP events in nft" 4 "$(count_events dd "r.reason == 'NETFILTER_DROP'
    and r.location:match('^nft') and r.dport == 7777")"
}

# Crafted frames addressed to another host's MAC, tagged (VLAN 100) and
# not: B drops them as OTHERHOST. The stack has cleared the tag by then
# (no VLAN device), so the events show the flow and no VLAN.
case_crafted_frames() {
  need_root
  need_drop_reasons
  need_cmd perl
  topo_pair
  tool_start dd drop-details --dev "$DEV_B" --src-ip 10.231.9.9 --format json -i 1 -d 60
  wait_line dd '"type":"stats"'
  printf '%s\n' '16 4 ip4 src=10.231.9.9 dst=10.231.1.2 l4=udp sport=40004 dport=53 vlan=100' \
    '17 3 ip4 src=10.231.9.9 dst=10.231.1.2 l4=udp sport=40004 dport=53' |
    timeout 30 ip netns exec "$NS_A" perl "$TESTS_DIR/send-frames.pl" "$DEV_A" || fail "sending frames failed"
  settle
  tool_stop dd INT
  expect_eq "OTHERHOST events of the crafted flow" 7 "$(count_events dd "r.reason == 'OTHERHOST'
    and r.flow == 'udp 10.231.9.9:40004 > 10.231.1.2:53' and r.comm == 'perl'")"
}

# Tagged frames dropped by an nftables netdev ingress rule: at that hook
# the receive path has already moved the tag into skb->vlan_tci (as a NIC
# with VLAN offload does), so the VLAN id comes from the offloaded tag.
case_vlan_offloaded() {
  need_root
  need_drop_reasons
  need_cmd perl
  topo_pair
  ip netns exec "$NS_B" nft -f - <<NFT || fail "nft failed"
table netdev vnst {
  chain ingress {
    type filter hook ingress device "$DEV_B" priority 0;
    ether saddr 02:00:00:00:00:10 drop
  }
}
NFT
  tool_start dd drop-details --dev "$DEV_B" --format json -i 1 -d 60
  wait_line dd '"type":"stats"'
  printf '%s\n' '16 3 ip4 src=10.231.9.9 dst=10.231.1.2 l4=udp sport=40004 dport=53 vlan=100' |
    timeout 30 ip netns exec "$NS_A" perl "$TESTS_DIR/send-frames.pl" "$DEV_A" || fail "sending frames failed"
  settle
  tool_stop dd INT
  expect_eq "events with the offloaded VLAN id" 3 "$(count_events dd "r.reason == 'NETFILTER_DROP'
    and r.vlan == 100 and r.flow == 'vlan 100 udp 10.231.9.9:40004 > 10.231.1.2:53'")"
}

# ARP requests dropped by an nftables arp rule on B: --proto arp shows
# them with the operation and addresses, and leaves out the crafted IPv4
# frames B drops as OTHERHOST at the same time.
case_arp() {
  need_root
  need_drop_reasons
  need_cmd perl
  topo_pair
  ip netns exec "$NS_B" nft -f - <<'NFT' || fail "nft failed"
table arp vnst {
  chain input {
    type filter hook input priority 0;
    arp operation request drop
  }
}
NFT
  tool_start dd drop-details --dev "$DEV_B" --proto arp --format json -i 1 -d 60
  wait_line dd '"type":"stats"'
  printf '%s\n' '16 5 arp src=10.231.1.1 dst=10.231.1.2 bcast=1' \
    '17 4 ip4 src=10.231.9.9 dst=10.231.1.2 l4=udp sport=40004 dport=53' |
    timeout 30 ip netns exec "$NS_A" perl "$TESTS_DIR/send-frames.pl" "$DEV_A" || fail "sending frames failed"
  settle
  tool_stop dd INT
  expect_eq "ARP request events" 5 "$(count_events dd "r.reason == 'NETFILTER_DROP' and r.proto == 'arp'
    and r.arp_op == 'request' and r.src == '10.231.1.1' and r.dst == '10.231.1.2'
    and r.flow == 'arp request 10.231.1.1 > 10.231.1.2'")"
  expect_eq "all events" 5 "$(jsonq dd 'd.events')"
}

case_budget() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start dd drop-details --dev "$DEV_B" --max-events-per-sec 20 --format json -i 1 -d 60
  wait_line dd '"type":"stats"'
  send_udp "$NS_A" "$IP_B" 9999 400
  wait_line dd '"suppressed":[1-9]'
  tool_stop dd INT
  local shown suppressed
  read -r shown suppressed <<<"$(jsonq dd 'd.events, d.suppressed')"
  expect_eq "events + suppressed = drops" 400 "$((shown + suppressed))"
  expect_eq "event lines" "$shown" "$(count_events dd true)"
}

# A flood from one CPU (the sender pinned with taskset: veth delivers in
# the sender's softirq, on its CPU) gets the whole budget, not a per-CPU
# share of it: over the flood's T seconds the events shown are most of
# N x T and at most N x (T + 1), and events + suppressed + lost are the
# drops the kernel counted (the nftables rule's counter).
case_budget_one_cpu() {
  need_root
  need_drop_reasons
  need_cmd perl taskset
  topo_pair
  local rate=200 cpu
  cpu=$(($(nproc) - 1))
  ip netns exec "$NS_B" nft -f - <<NFT || fail "nft failed"
table inet vnst {
  chain input {
    type filter hook input priority 0;
    udp dport 7777 counter drop
  }
}
NFT
  tool_start dd drop-details --dev "$DEV_B" --proto udp --dst-port 7777 --max-events-per-sec "$rate" \
    --format json -i 1 -d 60
  wait_line dd '"type":"stats"'
  # Datagrams for 4 s from one socket; prints how many and the ms it took.
  timeout 30 ip netns exec "$NS_A" taskset -c "$cpu" perl -MIO::Socket::INET -MSocket -MTime::HiRes=time -e '
    my ($ip, $port, $secs) = @ARGV;
    my $s = IO::Socket::INET->new(Proto => "udp") or die "socket: $!\n";
    my $to = sockaddr_in($port, inet_aton($ip));
    my ($n, $t0) = (0, time);
    while (time - $t0 < $secs) {
      for (1 .. 100) { defined send($s, "x", 0, $to) or die "send: $!\n"; }
      $n += 100;
    }
    printf "%d %d\n", $n, (time - $t0) * 1000;
  ' "$IP_B" 7777 4 >"$CASE_DIR/flood.out" || fail "the flood failed"
  settle
  tool_stop dd INT
  local sent ms kernel shown suppressed lost secs
  read -r sent ms <"$CASE_DIR/flood.out"
  kernel=$(ip netns exec "$NS_B" nft list chain inet vnst input | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p')
  read -r shown suppressed lost <<<"$(jsonq dd 'd.events, d.suppressed, d.lost')"
  echo "flood: $sent datagrams in $ms ms on CPU $cpu; kernel dropped $kernel;" \
    "$shown events, $suppressed suppressed, $lost lost at --max-events-per-sec $rate"
  expect_eq "events + suppressed + lost = the nftables counter" "$kernel" "$((shown + suppressed + lost))"
  expect_eq "event lines" "$shown" "$(count_events dd true)"
  expect_eq "event lines from CPU $cpu" "$shown" "$(count_events dd "r.cpu == $cpu")"
  expect_gt "a flood well above the budget (drops)" "$((10 * rate * ms / 1000))" "$kernel"
  # Every drop happened within the flood's ms, so within secs whole seconds.
  secs=$(((ms + 999) / 1000))
  [ "$shown" -le "$((rate * (secs + 1)))" ] ||
    fail "events: expected at most $rate x ($secs + 1), got $shown"
  [ "$((shown * 10000))" -ge "$((9 * rate * (ms - 1000)))" ] ||
    fail "events: expected at least 0.9 x $rate x ($ms ms - 1 s), got $shown"
}

case_alias() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start dd eth_drop --dev "$DEV_B" -i 1 -d 60
  wait_ready dd
  send_udp "$NS_A" "$IP_B" 9999 3
  settle
  tool_stop dd INT
  expect_eq "total line" "Total since start: 3 events, 0 suppressed, 0 lost" \
    "$(grep '^Total since start' "$CASE_DIR/dd.out")"
}

run_case "drop-details: one text line per NO_SOCKET drop, with flow and device" case_text
run_case "drop-details: JSON events with flow fields and --stack" case_json_stack
run_case "drop-details: flow filters exclude another flow's drops" case_filter_excludes
run_case "drop-details: nftables drops as NETFILTER_DROP" case_netfilter
run_case "drop-details: crafted frames to another MAC (tagged or not) as OTHERHOST" case_crafted_frames
run_case "drop-details: VLAN id from the offloaded tag (nftables netdev ingress drop)" case_vlan_offloaded
run_case "drop-details: --proto arp shows nftables-dropped ARP requests, not IP drops" case_arp
run_case "drop-details: the event budget accounts for every drop" case_budget
run_case "drop-details: one CPU's flood gets the whole event budget" case_budget_one_cpu
run_case "drop-details: alias eth_drop" case_alias
finish
