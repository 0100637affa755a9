#!/usr/bin/env bash
# Lab: ct-trace's kprobe variant on a stock kernel (nf_conntrack_in,
# the conntrack log functions). A routes between B and C through an
# nftables forward chain with conntrack rules: a TCP connection from B
# to C shows NEW -> ESTABLISHED at every lookup in A (as many tracked
# lookups as packets A forwarded); a segment of that connection far out
# of its window gets conntrack's reason and the window values; a
# SYN+FIN segment is invalid with its reason, as
# /proc/net/stat/nf_conntrack counts.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

tx_packets() { ip -n "$1" -s -j link show "$2" | lua5.4 -e 'print(io.read("a"):match("\"tx\":{[^}]-\"packets\":(%d+)"))'; }

case_kprobes() {
  need_root
  need_cmd perl lua5.4 nft
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
  ip netns exec "$NS_C" perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalPort => 7000, Listen => 1, ReuseAddr => 1) or die "listen: $!\n";
    print "listening\n"; STDOUT->flush;
    my $c = $s->accept; my $l = <$c>; sleep 3; close $c;' >"$CASE_DIR/server.out" 2>&1 &
  echo $! >>"$CASE_DIR/pids"
  NETNS=$NS_A tool_start js ct-trace --filter "host $IP_B and host $IP_C and tcp" --format json -i 1 -d 300
  wait_line js '"type":"stats"'
  for ((i = 0; i < 100; i++)); do grep -q listening "$CASE_DIR/server.out" && break; sleep 0.1; done
  local tx_a tx_ac invalid0 mac
  tx_a=$(tx_packets "$NS_A" "$DEV_A")
  tx_ac=$(tx_packets "$NS_A" "$DEV_AC")
  invalid0=$(ct_stat "$NS_A" invalid)
  mac=$(ip -n "$NS_A" -o link show "$DEV_A" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  # A client that says hi, then, while the connection is open, has a
  # segment of it sent with a sequence number 1 GB ahead of its own.
  ip netns exec "$NS_B" perl -MIO::Socket::INET -e '
    my ($ip, $dev, $mac, $sender) = @ARGV;
    my $c = IO::Socket::INET->new(PeerAddr => $ip, PeerPort => 7000) or die "connect: $!\n";
    print $c "hi\n"; $c->flush; select(undef, undef, undef, 0.5);
    system("perl", $sender, $dev, "10.231.1.2", $ip, $mac, $c->sockport, 7000, "0x10", 1 << 30, 1) == 0 or die "send-tcp\n";
    select(undef, undef, undef, 0.5); close $c;' "$IP_C" "$DEV_B" "$mac" "$TESTS_DIR/send-tcp.pl" ||
    fail "the client in B failed"
  ip netns exec "$NS_B" perl "$TESTS_DIR/send-tcp.pl" "$DEV_B" "$IP_B" "$IP_C" "$mac" 40000 7001 0x03 ||
    fail "cannot send the SYN+FIN segment"
  sleep 4   # the server closes after 3 s
  local forwarded invalid
  forwarded=$(($(tx_packets "$NS_A" "$DEV_A") - tx_a + $(tx_packets "$NS_A" "$DEV_AC") - tx_ac))
  invalid=$(($(ct_stat "$NS_A" invalid) - invalid0))
  tool_stop js INT
  cp "$CASE_DIR/js.out" "$REPO_DIR/build/lab-ct-trace-$(uname -r).json" 2>/dev/null
  expect_eq "exit status" 0 "$STATUS"
  expect_eq "our kprobe events after exit" 0 "$(grep -c 'vns_' /sys/kernel/tracing/kprobe_events)"
  # Lookups in A have A's devices as input devices (where openvswitch
  # is loaded, 5.10 tracks in B and C too).
  local on_a="(r.dev == '$DEV_A' or r.dev == '$DEV_AC')"
  # (The handshake's last ACK and the first data may come in either order.)
  expect_eq "the handshake at A's lookups" "NEW/SYN_SENT/S ESTABLISHED_REPLY/SYN_RECV/S. ESTABLISHED/ESTABLISHED" \
    "$(jsonq js "(function() local s = {} for _, r in ipairs(lines) do
       if r.type == 'event' and r.probe == 'conntrack' and r.tracked and $on_a and #s < 3 then
         s[#s + 1] = r.ctinfo .. '/' .. r.tcp_state .. (#s < 2 and '/' .. r.tcp_flags or '') end end
       return table.concat(s, ' ') end)()")"
  # Every packet A forwarded was looked up once with an entry; the
  # out-of-window one too, unless conntrack refused it (older kernels).
  local tracked
  tracked=$(count_events js "r.probe == 'conntrack' and r.tracked and $on_a")
  expect_gt "packets A forwarded" 5 "$forwarded"
  expect_match "tracked lookups in A = packets A forwarded (+ the out-of-window one)" "^($forwarded|$((forwarded + 1)))\$" "$tracked"
  # Its sequence number is 1 GB from zero, its ACK 1: against the
  # connection's random initial numbers, tcp_in_window may find the SEQ
  # or the ACK out of the window first.
  expect_eq "the out-of-window segment: conntrack's reason, with the window" "1 true" \
    "$(jsonq js "(function() for _, r in ipairs(lines) do if r.type == 'event' and r.probe == 'invalid' and r.tcp_flags == '.'
       and r.seq == 1 << 30 and $on_a then
       return tostring((r.reason:match('^SEQ is') or r.reason:match('^ACK is')) and 1 or 0) .. ' ' .. tostring(r.window ~= nil) end end end)()")"
  expect_eq "the SYN+FIN segment: invalid, why, and no entry after the lookup" "invalid tcp flag combination INVALID" \
    "$(jsonq js "(function() local why, ct for _, r in ipairs(lines) do if r.type == 'event' and r.tcp_flags == 'FS' then
       if r.probe == 'invalid' and $on_a then why = r.reason elseif r.probe == 'conntrack' and $on_a then ct = r.ctinfo end end end
       return tostring(why) .. ' ' .. tostring(ct) end)()")"
  # conntrack counts the SYN+FIN, and the out-of-window segment where it
  # calls it invalid (before 5.19; later kernels ignore it: accepted,
  # the entry unchanged).
  expect_eq "conntrack's invalid counter = invalid lookups the tool saw" "$invalid" \
    "$(count_events js "r.probe == 'conntrack' and r.ctinfo == 'INVALID' and $on_a")"
  expect_eq "the nft rule dropped what conntrack called invalid" "$invalid" \
    "$(ip netns exec "$NS_A" nft list chain inet vnst through | sed -n 's/.*ct state invalid counter packets \([0-9]*\).*/\1/p')"
}

run_case "lab: ct-trace: NEW -> ESTABLISHED at conntrack's lookups, an out-of-window segment's reason, an invalid segment" case_kprobes
finish
