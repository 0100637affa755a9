#!/usr/bin/env bash
# The guest virtio-net tools on this machine.
#  - napi-poll on a veth pair whose receiver has GRO on (veth then runs
#    NAPI on its receive queues, Linux 5.13+) and whose sender has TSO
#    off (else veth skips NAPI for the sender's packets): the packets of
#    the receiver's NAPI polls equal its rx_packets increase.
#  - virtio-irq and virtio-queues on this machine's own virtio-net
#    devices (none: each says so clearly and stops). The device carries
#    this machine's own traffic, so counts are bounded, not exact: the
#    lab (tests/lab/t_virtio_*.sh) checks them exactly.
#  - virtio-rx-path (kprobes) is verifier-loaded (vnetscope check).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

OFFLOAD=$TESTS_DIR/fixtures/set-offload.py

has_virtio_net() { ls /sys/bus/virtio/drivers/virtio_net 2>/dev/null | grep -q '^virtio[0-9]'; }

case_napi_poll_veth() {
  need_root
  need_cmd python3
  need_kernel 5 13 "veth NAPI with GRO"
  topo_pair
  ip netns exec "$NS_A" python3 "$OFFLOAD" "$DEV_A" tso off || fail "cannot switch TSO off on $DEV_A"
  # Off, then on: NAPI starts when GRO changes to on.
  ip netns exec "$NS_B" python3 "$OFFLOAD" "$DEV_B" gro off &&
    ip netns exec "$NS_B" python3 "$OFFLOAD" "$DEV_B" gro on || fail "cannot switch GRO on on $DEV_B"
  tool_start np napi-poll --dev "$DEV_B" -i 1 -d 60
  tool_start js napi-poll --dev "$DEV_B" --format json -i 1 -d 60
  wait_ready np
  wait_line js '"type":"interval"'
  local before after
  before=$(ip netns exec "$NS_B" cat "/sys/class/net/$DEV_B/statistics/rx_packets")
  send_udp "$NS_A" "$IP_B" 9999 40
  settle
  after=$(ip netns exec "$NS_B" cat "/sys/class/net/$DEV_B/statistics/rx_packets")
  tool_stop np INT
  tool_stop js INT
  local received=$((after - before))
  expect_eq "datagrams $DEV_B received" 40 "$received"
  expect_match "the total line: packets = rx_packets increase" \
    "^Total since start  NAPI polls: [0-9]+, packets: $received\$" "$(total_line np)"
  expect_match "veth_poll of $DEV_B, in the softirq" \
    "^  $DEV_B +veth_poll#[0-9] +softirq +[0-9]+ +$received " "$(sed -n '/^Total since start/,$p' "$CASE_DIR/np.out")"
  expect_eq "JSON: packets, device, origin" "$received $DEV_B softirq" \
    "$(jsonq js "d.packets, d.napis[1].dev, d.napis[1].origin")"
}

case_napi_poll_stacks() {
  need_root
  vns_run st 30 napi-poll --group-by stack -d 1.5
  expect_eq "exit status" 0 "$STATUS"
  expect_match "the total line" '^Total since start  NAPI polls: [0-9]+, packets: [0-9]+$' "$(out_of st)"
}

case_virtio_irq() {
  need_root
  if ! has_virtio_net; then
    vns_run irq 30 virtio-irq -d 1
    expect_eq "exit status without a virtio-net device" 1 "$STATUS"
    expect_match "it says why" 'no virtio-net device here' "$(err_of irq)"
    return 0
  fi
  local irqs before=() after=() n
  irqs=$(awk '$NF ~ /^virtio[0-9]+-(input|output)\./ { sub(":", "", $1); print $1 }' /proc/interrupts)
  for n in $irqs; do before[n]=$(awk -v i="$n:" '$1 == i { s = 0; for (k = 2; k <= NF; k++) if ($k ~ /^[0-9]+$/) s += $k; else break; print s }' /proc/interrupts); done
  vns_run irq 30 virtio-irq -i 1 -d 2
  expect_eq "exit status" 0 "$STATUS"
  local total
  total=$(sed -n '/^Total since start/,$p' "$CASE_DIR/irq.out")
  for n in $irqs; do
    after[n]=$(awk -v i="$n:" '$1 == i { s = 0; for (k = 2; k <= NF; k++) if ($k ~ /^[0-9]+$/) s += $k; else break; print s }' /proc/interrupts)
    local row count
    row=$(grep -E "^ +$n  " <<<"$total" | head -1)
    expect_match "IRQ $n has its row (device, queue, counts)" "^ +$n +[^ ]+ +(input|output)\.[0-9]+ +[0-9]+ " "$row"
    count=$(awk '{ print $4 }' <<<"$row")
    expect_eq "IRQ $n: counted at most what /proc/interrupts counted over the run" 1 \
      "$((count <= after[n] - before[n]))"
  done
}

case_virtio_queues() {
  need_root
  if ! has_virtio_net; then
    vns_run q 30 virtio-queues -d 1
    expect_eq "exit status without a virtio-net device" 1 "$STATUS"
    expect_match "it says why" 'no virtio-net device here' "$(err_of q)"
    return 0
  fi
  vns_run q 60 virtio-queues -i 1 -d 2 --format json
  expect_eq "exit status" 0 "$STATUS"
  local n
  n=$(ls /sys/bus/virtio/drivers/virtio_net | grep -c '^virtio[0-9]')
  # Every queue: a power-of-two size, indices within one ring of each other.
  expect_eq "every queue of every interval is sane" "ok" "$(jsonq q '(function()
      local n = 0
      for _, d in ipairs(lines) do
        if d.type == "interval" then
          n = n + 1
          if #d.queues < 2 then return "only " .. #d.queues .. " queues" end
          for _, q in ipairs(d.queues) do
            local size = q.size
            if size < 2 or size & (size - 1) ~= 0 then return q.queue .. ": size " .. size end
            if (q.avail_idx - q.used_idx) & 0xffff > size then return q.queue .. ": avail-used beyond the ring" end
            if (q.used_idx - q.last_used_idx) & 0xffff > size then return q.queue .. ": used-last_used beyond it" end
            if q.backlog > size then return q.queue .. ": backlog" end
          end
        end
      end
      return n > 0 and "ok" or "no interval" end)()')"
  expect_match "a device's input.0 and output.0 are listed" 'input\.0 output\.0' \
    "$(jsonq q 'lines[1].queues[1].queue, lines[1].queues[2].queue')"
  expect_gt "virtio-net devices here" 0 "$n"
}

case_check() {
  need_root
  vns_run chk 600 check virtio-queues virtio-irq napi-poll virtio-rx-path
  expect_eq "check exit status" 0 "$STATUS"
  expect_eq "summary" "4 tools checked, 0 failed" "$(tail -1 "$CASE_DIR/chk.out")"
  expect_match "the kprobe tool loaded" 'kretprobe__virtnet_poll +kprobe +[0-9]+ +[0-9]+ +ok' "$(out_of chk)"
}

run_case "napi-poll: a veth receiver's NAPI packets equal its rx_packets" case_napi_poll_veth
run_case "napi-poll --group-by stack runs" case_napi_poll_stacks
run_case "virtio-irq: this machine's virtio-net IRQs by name, bounded by /proc/interrupts" case_virtio_irq
run_case "virtio-queues: this machine's virtio-net queues, sane indices" case_virtio_queues
run_case "check: the four virtio-net layer tools verifier-load" case_check
finish
