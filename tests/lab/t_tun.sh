#!/usr/bin/env bash
# Lab: a kprobe on the tun driver, with real traffic through a tap
# device. A process holds the tap open and reads its frames (without a
# reader the tap has no carrier); datagrams routed to a neighbour behind
# the tap reach tun_net_xmit one by one: the tool's count, the frames
# read and the datagrams sent must agree.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

# tap_reader NS DEV SECONDS: open the tap, print "ready", count the
# frames read until SECONDS pass, print "frames N".
tap_reader() {
  ip netns exec "$1" perl -e '
    use strict;
    my ($dev, $secs) = @ARGV;
    open(my $tun, "+<", "/dev/net/tun") or die "/dev/net/tun: $!\n";
    # TUNSETIFF, IFF_TAP | IFF_NO_PI
    ioctl($tun, 0x400454ca, pack("a16 s", $dev, 0x0002 | 0x1000)) or die "TUNSETIFF: $!\n";
    $| = 1;
    print "ready\n";
    my ($n, $buf, $rin) = (0, "", "");
    vec($rin, fileno($tun), 1) = 1;
    my $end = time + $secs;
    while (time < $end) {
      next unless select(my $r = $rin, undef, undef, 0.2);
      sysread($tun, $buf, 65536) and $n++;
    }
    print "frames $n\n";' "$2" "$3"
}

# wait_for FILE ERE SECONDS: until FILE has a matching line.
wait_for() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -Eq -- "$2" "$1" && return 0
    sleep 0.1
  done
  fail "no line /$2/ in ${1##*/} within $3 s: $(head -c 400 "$1")"
}

case_tap_traffic() {
  need_root
  topo_pair
  local tap=${PFX}t
  ip netns exec "$NS_A" ip tuntap add dev "$tap" mode tap || fail "cannot create tap $tap"
  ip netns exec "$NS_A" ip addr add 10.231.5.1/24 dev "$tap"
  ip netns exec "$NS_A" ip link set "$tap" up
  # The peer behind the tap is only a neighbour entry: no ARP on the wire.
  ip netns exec "$NS_A" ip neigh add 10.231.5.2 lladdr 02:00:00:00:05:02 dev "$tap" nud permanent
  tool_start tx run "$TESTS_DIR/../lab/fixtures/skb-count.lua" --fn tun_net_xmit -i 1 -d 900
  wait_line tx '^--$'
  tap_reader "$NS_A" "$tap" 15 >"$CASE_DIR/reader.out" 2>&1 &
  echo $! >>"$CASE_DIR/pids"
  wait_for "$CASE_DIR/reader.out" '^ready$' 30
  sleep 1   # carrier up, queues settled
  send_udp "$NS_A" 10.231.5.2 9999 23
  wait_for "$CASE_DIR/reader.out" '^frames ' 30
  tool_stop tx INT
  expect_eq "frames the tap's reader got" "frames 23" "$(grep '^frames' "$CASE_DIR/reader.out")"
  expect_eq "tun_net_xmit calls on $tap (the final report)" "$tap 23" "$(grep "^$tap " "$CASE_DIR/tx.out" | tail -1)"
}

run_case "lab: kprobe tun_net_xmit counts datagrams through a tap device exactly" case_tap_traffic
finish
