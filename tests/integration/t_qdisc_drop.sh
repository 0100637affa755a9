#!/usr/bin/env bash
# qdisc-drop: a tiny pfifo under a slow htb class overflows; the tool's
# drop count must equal the kernel's own counter (tc -s) and name the
# qdisc and the flow. The kprobe variant compiles
# and verifier-loads; attaching it fails clearly on a kernel without kprobes.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

case_overflow() {
  need_root
  need_drop_reasons
  need_cmd perl
  topo_pair
  slow_qdisc "$NS_A" "$DEV_A"
  # In A's namespace, so the kernel counters of A's qdiscs are read too.
  NETNS=$NS_A tool_start qd qdisc-drop --dev "$DEV_A" -i 1 -d 60
  NETNS=$NS_A tool_start js qdisc-drop --dev "$DEV_A" --format json -i 1 -d 60
  wait_ready qd
  wait_line js '"type":"interval"'
  send_udp_from "$NS_A" "$IP_B" 9999 40001 40 1000
  sleep 2.5   # the pfifo's two 1 kB packets drain at 8 kbit
  tool_stop qd INT
  tool_stop js INT
  local kernel_drops
  kernel_drops=$(tc_drops "$NS_A" "$DEV_A" 10:)
  expect_gt "pfifo drops by the kernel's count" 0 "$kernel_drops"
  expect_eq "total line" "Total since start  qdisc drops: $kernel_drops" "$(grep '^Total since start' "$CASE_DIR/qd.out")"
  expect_match "the row: device, root qdisc, reason" \
    "^ +$kernel_drops  $DEV_A  htb +1: +QDISC_DROP\$" "$(sed -n '/^Total since start/,$p' "$CASE_DIR/qd.out")"
  expect_match "the flow" "^ +$kernel_drops  $DEV_A  udp $IP_A:40001 > $IP_B:9999\$" \
    "$(sed -n '/^Total since start/,$p' "$CASE_DIR/qd.out")"
  expect_eq "JSON total and flow" "$kernel_drops $kernel_drops tracepoint" \
    "$(jsonq js "d.total, d.flows[1].count, d.variant")"
  # The kernel's counters name the child that dropped; htb counts them too.
  expect_match "kernel counters: the pfifo child" \
    "^  $DEV_A +pfifo +10: +1:1 +$kernel_drops +0 +0 +[0-9]+ +[0-9]+\$" "$(sed -n '/^Total since start/,$p' "$CASE_DIR/qd.out")"
  expect_eq "JSON kernel counters: htb, pfifo" "htb 1: root $kernel_drops pfifo 10: 1:1 $kernel_drops" \
    "$(jsonq js "d.qdiscs[1].kind, d.qdiscs[1].handle, d.qdiscs[1].parent, d.qdiscs[1].drops,
                 d.qdiscs[2].kind, d.qdiscs[2].handle, d.qdiscs[2].parent, d.qdiscs[2].drops")"
}

# A tbf shaper that delays without dropping: no drops, and the kernel's
# overlimits counter, read by the tool, equals tc's.
case_overlimits() {
  need_root
  need_drop_reasons
  need_cmd perl
  topo_pair
  ip netns exec "$NS_A" tc qdisc add dev "$DEV_A" root handle 5: tbf rate 64kbit burst 1600 limit 100000 ||
    fail "cannot set up tbf on $DEV_A"
  NETNS=$NS_A tool_start js qdisc-drop --dev "$DEV_A" --format json -i 1 -d 60
  wait_line js '"type":"interval"'
  send_udp_from "$NS_A" "$IP_B" 9999 40001 20 1000
  sleep 3.5   # 20 kB at 64 kbit
  tool_stop js INT
  local overlimits
  overlimits=$(tc_counter "$NS_A" "$DEV_A" 5: overlimits)
  expect_gt "tbf overlimits by the kernel's count" 0 "$overlimits"
  expect_eq "no drops; tbf overlimits as tc counts them" "0 tbf 5: 0 $overlimits" \
    "$(jsonq js "d.total, d.qdiscs[1].kind, d.qdiscs[1].handle, d.qdiscs[1].drops, d.qdiscs[1].overlimits")"
}

# A filter that matches none of the dropped packets counts none.
case_filter_excludes() {
  need_root
  need_drop_reasons
  need_cmd perl
  topo_pair
  slow_qdisc "$NS_A" "$DEV_A"
  tool_start qd qdisc-drop --dev "$DEV_A" --dst-port 5353 -i 1 -d 60
  wait_ready qd
  send_udp_from "$NS_A" "$IP_B" 9999 40001 30 1000
  sleep 1
  tool_stop qd INT
  expect_gt "the kernel dropped" 0 "$(tc_drops "$NS_A" "$DEV_A" 10:)"
  expect_eq "total line" "Total since start  qdisc drops: 0" "$(grep '^Total since start' "$CASE_DIR/qd.out")"
}

case_kprobe_variant() {
  need_root
  vns_run chk 120 check qdisc-drop
  expect_eq "check exit status" 0 "$STATUS"
  expect_match "kprobe programs verifier-loaded" 'kretprobe____dev_queue_xmit +kprobe +[0-9]+ +[0-9]+ +ok' "$(out_of chk)"
  if grep -qw kprobe_events /proc/kallsyms 2>/dev/null || [ -e /sys/kernel/tracing/kprobe_events ]; then
    skip "this kernel has kprobes: the attach-failure message is not testable here"
  fi
  vns_run kp 120 qdisc-drop --variant kprobe -d 1
  expect_eq "exit status" 1 "$STATUS"
  expect_match "one clear message" '^vnetscope: kprobe __dev_queue_xmit: kprobes are not supported by this kernel' "$(err_of kp)"
}

run_case "qdisc-drop: an overflowing pfifo: exact drops, qdisc and flow (text, JSON)" case_overflow
run_case "qdisc-drop: tbf overlimits without drops, from the kernel's counters" case_overlimits
run_case "qdisc-drop: a flow filter excludes the dropped flow" case_filter_excludes
run_case "qdisc-drop: kprobe variant loads; attach fails clearly without kprobes" case_kprobe_variant
finish
