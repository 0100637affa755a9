#!/usr/bin/env bash
# Lab: kprobes on a stock kernel. A kprobe tool attaches, counts real
# TCP segments exactly, and leaves nothing behind (kprobe_events, BPF
# programs) after Ctrl-C.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

case_attach_count_detach() {
  need_root
  topo_pair
  tool_start kp run "$REPO_DIR/tests/integration/fixtures/kprobe-count.lua" -i 1 -d 600
  wait_line kp '^calls: '
  # 5 SYNs to a closed port, each answered by a RST: B's tcp_v4_rcv sees
  # 5 SYNs, A's the 5 RSTs.
  timeout 30 ip netns exec "$NS_A" bash -c 'for i in 1 2 3 4 5; do (echo >/dev/tcp/10.231.1.2/7001) 2>/dev/null; done'
  settle
  tool_stop kp INT
  expect_eq "exit status" 0 "$STATUS"
  local total
  total=$(sed -n 's/^calls: //p' "$CASE_DIR/kp.out" | tail -1)   # the final report
  expect_eq "tcp_v4_rcv calls: 5 SYNs + 5 RSTs" 10 "$total"
  expect_eq "our kprobe events after exit" 0 "$(grep -c 'vns_' /sys/kernel/tracing/kprobe_events)"
}

run_case "lab: kprobe attaches, counts tcp_v4_rcv exactly, detaches cleanly" case_attach_count_detach
finish
