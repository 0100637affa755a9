#!/usr/bin/env bash
# Lab: virtio-irq on the guest's own virtio-net NICs. 200 datagrams
# NIC_A -> NIC_B (B answers each with an ICMP error, rate-limited): the
# interrupts the tool counts for each NIC's input and output IRQ, found
# by name, equal the increase of that IRQ in /proc/interrupts over the
# run (the NICs are otherwise silent: static neighbours, no IPv6), and
# split into handled and IRQ_NONE.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=virtio-nics.sh
. "$(dirname "$0")/virtio-nics.sh"

case_irq_counts() {
  need_root
  virtio_nics
  local names=("$VIRTIO_A-input.0" "$VIRTIO_A-output.0" "$VIRTIO_B-input.0" "$VIRTIO_B-output.0")
  local n before=()
  for n in "${names[@]}"; do before+=("$(irq_count "$n")"); done
  tool_start irq virtio-irq -i 1 -d 900
  wait_ready irq
  send_udp_from "$NS_A" "$IP_B" 9999 40001 200 64
  sleep 2
  tool_stop irq INT
  expect_eq "exit status" 0 "$STATUS"
  local total i=0 irq row delta
  total=$(sed -n '/^Total since start/,$p' "$CASE_DIR/irq.out")
  for n in "${names[@]}"; do
    irq=$(irq_number "$n")
    delta=$(($(irq_count "$n") - before[i]))
    i=$((i + 1))
    # IRQ DEVICE QUEUE COUNT RATE/s HANDLED NONE KERNEL CPUS
    row=$(grep -E "^ +$irq  " <<<"$total" | head -1)
    expect_match "$n (IRQ $irq): count = /proc/interrupts increase $delta, KERNEL column the same" \
      "^ +$irq +[^ ]+ +${n#*-} +$delta +[0-9.]+ +[0-9]+ +[0-9]+ +$delta " "$row"
    # vring_interrupt returns IRQ_NONE when the ring has nothing new (the
    # driver already took it while polling): real, and counted apart.
    expect_eq "$n: handled + IRQ_NONE = count" "$delta" "$(awk '{ print $6 + $7 }' <<<"$row")"
  done
  expect_gt "interrupts on $VIRTIO_B-input.0" 0 "$(($(irq_count "$VIRTIO_B-input.0") - before[2]))"
  expect_match "a duration histogram" 'handler duration' "$total"
  expect_match "an inter-arrival histogram" 'time since the previous interrupt' "$total"
}

run_case "lab: virtio-irq counts each virtio-net IRQ as /proc/interrupts does" case_irq_counts
finish
