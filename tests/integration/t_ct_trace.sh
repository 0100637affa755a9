#!/usr/bin/env bash
# ct-trace: A routes between B (10.231.1.2) and C (10.231.2.2) through an
# nftables forward chain with conntrack rules ("ct state invalid counter
# drop", "ct state new,established counter accept"). A TCP connection
# from B to C shows NEW -> ESTABLISHED in the entry every forwarded
# packet carries out of A, as many events as A forwarded (ip -s link);
# a crafted SYN+FIN segment is invalid: dropped with no entry, as
# conntrack's own counter (/proc/net/stat/nf_conntrack invalid) and the
# rule's counter say. The kprobe variant verifier-loads; here it cannot
# attach.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# tx_packets NS DEV
tx_packets() { ip -n "$1" -s -j link show "$2" | lua5.4 -e 'print(io.read("a"):match("\"tx\":{[^}]-\"packets\":(%d+)"))'; }

topo_router() {
  topo_pair
  topo_third
  ip netns exec "$NS_A" sysctl -qw net.ipv4.ip_forward=1 >/dev/null || fail "cannot enable forwarding in A"
  ip -n "$NS_B" route add 10.231.2.0/24 via "$IP_A" && ip -n "$NS_C" route add 10.231.1.0/24 via 10.231.2.1 ||
    fail "cannot add the routes through A"
  ip netns exec "$NS_A" nft -f - <<NFT || fail "cannot add the conntrack rules in A"
table inet vnst {
  chain through {
    type filter hook forward priority 0;
    ct state invalid counter drop
    ct state new,established counter accept
  }
}
NFT
}

# nft_packets NS STATE: packets the rule on "ct state STATE" counted.
nft_packets() {
  ip netns exec "$1" nft list chain inet vnst through | sed -n "s/.*ct state $2 counter packets \([0-9]*\).*/\1/p"
}

case_connection_and_invalid() {
  need_root
  need_cmd perl lua5.4 nft
  topo_router
  [ -r /proc/net/stat/nf_conntrack ] || skip "no conntrack in this kernel"
  ip netns exec "$NS_C" perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalPort => 7000, Listen => 1, ReuseAddr => 1) or die "listen: $!\n";
    print "listening\n"; STDOUT->flush;
    my $c = $s->accept; my $l = <$c>; close $c;' >"$CASE_DIR/server.out" 2>&1 &
  echo $! >>"$CASE_DIR/pids"
  local flt="host $IP_B and host $IP_C and tcp" tx_a tx_ac invalid0
  NETNS=$NS_A tool_start js ct-trace --variant tracepoint --filter "$flt" --format json -i 1 -d 120
  NETNS=$NS_A tool_start tx ct-trace --variant tracepoint --filter "$flt" -i 60 -d 120
  wait_ready tx
  wait_line js '"type":"stats"'
  for ((i = 0; i < 100; i++)); do grep -q listening "$CASE_DIR/server.out" && break; sleep 0.1; done
  tx_a=$(tx_packets "$NS_A" "$DEV_A")
  tx_ac=$(tx_packets "$NS_A" "$DEV_AC")
  invalid0=$(ct_stat "$NS_A" invalid)
  timeout 20 ip netns exec "$NS_B" bash -c "exec 3<>/dev/tcp/$IP_C/7000; echo hi >&3; exec 3>&-" ||
    fail "the TCP connection from B to C failed"
  local mac
  mac=$(ip -n "$NS_A" -o link show "$DEV_A" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  ip netns exec "$NS_B" perl "$TESTS_DIR/send-tcp.pl" "$DEV_B" "$IP_B" "$IP_C" "$mac" 40000 7001 0x03 ||
    fail "cannot send the SYN+FIN segment"
  sleep 1   # the FIN handshake's last packets
  local forwarded invalid
  forwarded=$(($(tx_packets "$NS_A" "$DEV_A") - tx_a + $(tx_packets "$NS_A" "$DEV_AC") - tx_ac))
  invalid=$(($(ct_stat "$NS_A" invalid) - invalid0))
  tool_stop js INT
  tool_stop tx INT
  expect_eq "conntrack's invalid counter in A" 1 "$invalid"
  expect_eq "the invalid rule's counter" 1 "$(nft_packets "$NS_A" invalid)"
  local on_a="(r.dev == '$DEV_A' or r.dev == '$DEV_AC')"
  expect_gt "packets A forwarded" 5 "$forwarded"
  expect_eq "egress events on A's devices = packets A forwarded" "$forwarded" \
    "$(count_events js "r.probe == 'egress' and $on_a")"
  # The first three: the handshake as conntrack saw it.
  expect_eq "SYN, SYN-ACK, ACK" "NEW/SYN_SENT/S ESTABLISHED_REPLY/SYN_RECV/S. ESTABLISHED/ESTABLISHED/." \
    "$(jsonq js "(function() local s = {} for _, r in ipairs(lines) do
       if r.type == 'event' and r.probe == 'egress' and $on_a and #s < 3 then
         s[#s + 1] = r.ctinfo .. '/' .. r.tcp_state .. '/' .. r.tcp_flags end end return table.concat(s, ' ') end)()")"
  expect_eq "one connection: every tracked egress event has the same entry" 1 \
    "$(jsonq js "(function() local n, seen = 0, {} for _, r in ipairs(lines) do
       if r.type == 'event' and r.tracked and not seen[r.ct] then seen[r.ct] = true; n = n + 1 end end return n end)()")"
  expect_eq "the invalid segment: dropped with no entry" "1 INVALID FS 7001" \
    "$(jsonq js "(function() for _, r in ipairs(lines) do if r.type == 'event' and r.probe == 'drop' then
       return table.concat({ 1, r.ctinfo, r.tcp_flags, r.dport }, ' ') end end end)()")"
  expect_eq "the namespace's counters at exit" "$invalid" \
    "$(jsonq js "(function() for _, r in ipairs(lines) do if r.type == 'conntrack' then return r.invalid end end end)()")"
  expect_match "text: the ACK" "egress +$DEV_AC +- +ESTABLISHED +ESTABLISHED +SEEN_REPLY,ASSURED,CONFIRMED +0 +0 \\. +tcp $IP_B:[0-9]+ > $IP_C:7000" \
    "$(out_of tx)"
  expect_match "text: the drop" "drop +$DEV_A +DROP +INVALID .* FS +tcp $IP_B:40000 > $IP_C:7001" "$(out_of tx)"
  expect_match "text: conntrack's counters" "^conntrack \\(this netns\\) since start: .*invalid 1 " "$(out_of tx)"
}

# --invalid keeps only what conntrack refused.
case_invalid_only() {
  need_root
  need_cmd perl lua5.4 nft
  topo_router
  NETNS=$NS_A tool_start js ct-trace --variant tracepoint --invalid --host "$IP_C" --format json -i 1 -d 120
  NETNS=$NS_A tool_start tx ct-trace --variant tracepoint --invalid --host "$IP_C" -i 60 -d 120
  wait_ready tx
  wait_line js '"type":"stats"'
  ip netns exec "$NS_B" bash -c "exec 3<>/dev/tcp/$IP_C/7000" 2>/dev/null   # refused: SYN, RST
  local mac
  mac=$(ip -n "$NS_A" -o link show "$DEV_A" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  ip netns exec "$NS_B" perl "$TESTS_DIR/send-tcp.pl" "$DEV_B" "$IP_B" "$IP_C" "$mac" 40000 7001 0x03 ||
    fail "cannot send the SYN+FIN segment"
  settle
  tool_stop js INT
  tool_stop tx INT
  expect_eq "only the invalid segment" "1 1" \
    "$(jsonq js "(function() local n, d = 0, 0 for _, r in ipairs(lines) do if r.type == 'event' then n = n + 1
       if r.probe == 'drop' and r.ctinfo == 'INVALID' then d = d + 1 end end end return n .. ' ' .. d end)()")"
  expect_match "the header says so" "^variant tracepoint, invalid packets only" "$(out_of tx)"
}

case_kprobe_variant() {
  need_root
  vns_run chk 180 check ct-trace
  expect_eq "check exit status" 0 "$STATUS"
  expect_match "kprobe programs verifier-loaded" 'kprobe_by_script__conntrack_in_return +kprobe +[0-9]+ +[0-9]+ +ok' "$(out_of chk)"
  expect_match "the reason probe" 'kprobe_by_script__ct_log_invalid +kprobe +[0-9]+ +[0-9]+ +ok' "$(out_of chk)"
  if [ -e /sys/kernel/tracing/kprobe_events ] || [ -e /sys/kernel/debug/tracing/kprobe_events ]; then
    skip "this kernel has kprobes: the attach-failure message is not testable here"
  fi
  vns_run kp 120 ct-trace --variant kprobe -d 1
  expect_eq "exit status" 1 "$STATUS"
  expect_match "one clear message" '^vnetscope: kprobe nf_conntrack_in: kprobes are not supported by this kernel' "$(err_of kp)"
}

run_case "ct-trace: a TCP connection NEW -> ESTABLISHED through conntrack rules; an invalid segment dropped (tracepoints)" case_connection_and_invalid
run_case "ct-trace: --invalid shows only what conntrack refused" case_invalid_only
run_case "ct-trace: kprobe variant loads; attach fails clearly without kprobes" case_kprobe_variant
finish
