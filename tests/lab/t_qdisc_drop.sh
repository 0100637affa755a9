#!/usr/bin/env bash
# Lab: qdisc-drop's kprobe variant (__dev_queue_xmit returning
# NET_XMIT_DROP, for kernels without qdisc drop reasons) on a kernel with
# kprobes: an overflowing pfifo's drops, counted exactly as tc counts them.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

case_kprobe_variant() {
  need_root
  need_cmd perl
  topo_pair
  slow_qdisc "$NS_A" "$DEV_A"
  NETNS=$NS_A tool_start qd qdisc-drop --variant kprobe --dev "$DEV_A" --format json -i 1 -d 900
  wait_line qd '"type":"interval"'
  send_udp_from "$NS_A" "$IP_B" 9999 40001 40 1000
  sleep 2.5   # the pfifo's two 1 kB packets drain at 8 kbit
  tool_stop qd INT
  local kernel_drops
  kernel_drops=$(tc_drops "$NS_A" "$DEV_A" 10:)
  expect_gt "pfifo drops by the kernel's count" 0 "$kernel_drops"
  expect_eq "variant, total, reason, flow" \
    "kprobe $kernel_drops NET_XMIT_DROP udp $IP_A:40001 > $IP_B:9999 $kernel_drops" \
    "$(jsonq qd "d.variant, d.total, d.drops[1].reason, d.flows[1].flow, d.flows[1].count")"
  expect_eq "our kprobe events after exit" 0 "$(grep -c 'vns_' /sys/kernel/tracing/kprobe_events)"
}

run_case "lab: qdisc-drop --variant kprobe counts an overflowing pfifo's drops exactly" case_kprobe_variant
finish
