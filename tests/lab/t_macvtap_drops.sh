#!/usr/bin/env bash
# Lab: macvtap-drops (field incident 3 on demand). A macvtap in bridge
# mode on a veth, its tap character device held open and never read, so
# its one queue's ring (tx_queue_len, 500) fills; 1000 frames to its MAC
# from the veth's peer. Oracles: the frames sent, the ring size, and the
# macvtap's RX dropped (`ip -s link`): drops == sent - ring size ==
# RX dropped increase == the tool's total, all "ring full" on queue 0.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=vhost-lib.sh
. "$(dirname "$0")/vhost-lib.sh"

# send_frames NS DEV MAC N: N frames to MAC out of DEV from an AF_PACKET
# socket. Queued skbs keep their send-buffer charge, so the socket's
# buffer is forced large and sends do not block (MSG_DONTWAIT).
send_frames() {
  ip netns exec "$1" timeout 60 perl -e '
    use strict; use Socket;
    my ($dev, $mac, $n) = @ARGV;
    socket(my $s, 17, SOCK_RAW, 0) or die "AF_PACKET: $!\n";
    setsockopt($s, SOL_SOCKET, 32, pack("i", 64 << 20)) or die "SO_SNDBUFFORCE: $!\n";
    my $ifindex = do { open(my $f, "<", "/sys/class/net/$dev/ifindex") or die "$dev: $!\n"; 0 + <$f> };
    my $dst = pack("H12", $mac =~ s/://gr);
    my $to = pack("S n i S C C a8", 17, 0, $ifindex, 0, 0, 6, $dst);
    my $frame = pack("a6 H12 n", $dst, "020000000077", 0x88b5) . ("\0" x 46);
    my $sent = 0;
    for (1 .. $n) { $sent++ if defined send($s, $frame, 0x40, $to) }   # MSG_DONTWAIT
    print "sent $sent\n";' "$2" "$3" "$4"
}

case_unread_queue() {
  need_root
  local ns=${PFX}m va=${PFX}a vb=${PFX}b mvt=${PFX}t
  ns_new "$ns"
  ip -n "$ns" link add "$va" type veth peer name "$vb" || fail "cannot create veth"
  ip -n "$ns" link add link "$va" name "$mvt" type macvtap mode bridge || skip "no macvtap"
  ip -n "$ns" link set "$va" up
  ip -n "$ns" link set "$vb" up
  ip -n "$ns" link set "$mvt" up
  local mac ifindex devnum node
  mac=$(ip netns exec "$ns" cat "/sys/class/net/$mvt/address")
  ifindex=$(ip netns exec "$ns" cat "/sys/class/net/$mvt/ifindex")
  devnum=$(ip netns exec "$ns" cat "/sys/class/net/$mvt/macvtap/tap$ifindex/dev")
  local ring
  ring=$(ip netns exec "$ns" cat "/sys/class/net/$mvt/tx_queue_len")
  # No udev in the guest: the tap's character device by hand.
  node=/dev/vns-tap$ifindex
  rm -f "$node"
  mknod "$node" c "${devnum%%:*}" "${devnum##*:}" || fail "mknod $node"
  sleep 600 7<>"$node" &
  echo $! >>"$CASE_DIR/pids"
  local before
  before=$(rx_dropped "$ns" "$mvt")
  tool_start d macvtap-drops --format json -i 1 -d 300
  wait_line d '"type":"interval"'
  send_frames "$ns" "$vb" "$mac" 1000 >"$CASE_DIR/send.out" 2>&1
  local sent dropped
  sent=$(sed -n 's/^sent //p' "$CASE_DIR/send.out")
  dropped=$(($(rx_dropped "$ns" "$mvt") - before))
  tool_stop d INT
  rm -f "$node"
  expect_eq "frames sent" 1000 "$sent"
  expect_eq "macvtap RX dropped == sent - ring size ($ring)" $((sent - ring)) "$dropped"
  expect_eq "macvtap-drops total == RX dropped" "$dropped" "$(jsonq d 'd.total')"
  expect_eq "drops named 'ring full' on queue 0" "$dropped" "$(jsonq d "(function() local n = 0 for _, r in ipairs(d.drops) do
    if r.dev == '$mvt' and r.cause == 'ring full' and r.queue == 0 then n = n + r.count end end return n end)()")"
  expect_eq "kprobe events left" "" "$(grep vns_ /sys/kernel/tracing/kprobe_events 2>/dev/null)"
}

run_case "lab: macvtap-drops counts an unread macvtap queue's drops exactly (sent - ring == RX dropped)" case_unread_queue
finish
