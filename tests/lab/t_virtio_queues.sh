#!/usr/bin/env bash
# Lab: virtio-queues on the guest's own virtio-net NICs.
#  - The ring layout of the built-in table for this kernel equals the
#    one its BTF gives (virtio_ring's module BTF).
#  - Idle, every queue of both NICs is listed with its size and indices,
#    backlog 0, no stall.
#  - A stall, made reliably: NIC_B is set down (virtnet_close disables its
#    NAPI: nothing consumes its RX ring any more) while NIC_A keeps
#    sending to it. qemu still fills the buffers NIC_B had posted, so
#    used->idx runs ahead of last_used_idx, which stays frozen: NIC_B's
#    input.0 shows a backlog and STALL. Set up again, it drains to 0.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=virtio-nics.sh
. "$(dirname "$0")/virtio-nics.sh"

case_layout() {
  need_root
  vns_run lay 300 run "$TESTS_DIR/../lab/fixtures/virtio-layout.lua"
  expect_eq "layout check exit status" 0 "$STATUS"
  expect_match "no field differs" ", 0 differ from the table$" "$(out_of lay)"
}

# queue_line TAG VIRTIO QUEUE: the last interval line of that queue.
queue_line() { grep -E "^  [^ ]+ +$2 +$3 " "$CASE_DIR/$1.out" | tail -1; }

case_idle_then_stall() {
  need_root
  virtio_nics
  tool_start q virtio-queues -i 1 -d 900
  wait_ready q
  wait_line q '^[0-9:]+  virtio-net queues'
  sleep 2.5   # two more idle intervals
  local v q line
  for v in "$VIRTIO_A" "$VIRTIO_B"; do
    for q in input.0 output.0; do
      line=$(queue_line q "$v" "$q")
      # SIZE AVAIL USED LAST_USED BACKLOG SAT% STATE
      expect_match "$v $q idle: a power-of-two size, backlog 0, no stall" \
        " (64|128|256|512|1024|2048|4096) +[0-9]+ +[0-9]+ +[0-9]+ +0 +0\.0 +-$" "$line"
    done
  done
  ip -n "$NS_B" link set "$NIC_B" down
  # More datagrams than NIC_B's RX ring holds. qemu stops taking NIC_A's
  # TX while NIC_B's ring is full, so the sender may block on its send
  # buffer until NIC_B is up again: it runs in the background.
  timeout 60 ip netns exec "$NS_A" perl -MIO::Socket::INET -MSocket -e '
    my $s = IO::Socket::INET->new(LocalPort => 40001, Proto => "udp") or die "socket: $!\n";
    my $to = sockaddr_in(9999, inet_aton($ARGV[0]));
    send($s, "x" x 64, 0, $to) for 1 .. 400;' "$IP_B" >/dev/null 2>&1 &
  echo $! >>"$CASE_DIR/pids"
  local rx_down
  rx_down=$(rx_packets "$NS_B" "$NIC_B")
  sleep 3
  wait_line q "^  [^ ]+ +$VIRTIO_B +input\.0 .* STALL\$"
  line=$(queue_line q "$VIRTIO_B" input.0)
  expect_match "$VIRTIO_B input.0 down: backlog > 0 and STALL" " [1-9][0-9]* +[0-9.]+ +STALL$" "$line"
  expect_eq "$NIC_B received nothing while down (the kernel's count)" "$rx_down" "$(rx_packets "$NS_B" "$NIC_B")"
  ip -n "$NS_B" link set "$NIC_B" up
  sleep 3
  line=$(queue_line q "$VIRTIO_B" input.0)
  expect_match "$VIRTIO_B input.0 up again: drained" " 0 +0\.0 +-$" "$line"
  tool_stop q INT
  expect_eq "exit status" 0 "$STATUS"
  expect_match "final report: $VIRTIO_B input.0 stalled in some interval" \
    "^  [^ ]+ +$VIRTIO_B +input\.0 +[0-9]+ +[1-9][0-9]* +[0-9.]+ +[1-9][0-9]* +[0-9]+$" \
    "$(sed -n '/^Total since start/,$p' "$CASE_DIR/q.out")"
}

run_case "lab: virtio ring layout table equals this kernel's BTF" case_layout
run_case "lab: virtio-queues: idle queues at backlog 0, a stopped receiver stalls and drains" case_idle_then_stall
finish
