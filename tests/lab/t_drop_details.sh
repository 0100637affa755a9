#!/usr/bin/env bash
# Lab: drop-details on each lab kernel, from a pack compiled on the host
# against the guest's headers: one event per drop, exactly, with its
# reason where the kernel gives one (5.17+) and its location always; the
# text output says when the kernel gives no reasons.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

case_events() {
  need_root
  need_cmd lua5.4
  topo_pair
  nft_drop_udp "$NS_B" 7777
  tool_start js drop-details --dev "$DEV_B" --format json -i 1 -d 900
  tool_start txt drop-details --dev "$DEV_B" -i 1 -d 900
  wait_line js '"type":"stats"'
  wait_ready txt
  send_udp "$NS_A" "$IP_B" 9999 11
  send_udp "$NS_A" "$IP_B" 7777 4
  settle
  tool_stop js INT
  tool_stop txt INT
  expect_eq "events, suppressed, lost" "15 0 0" "$(jsonq js 'd.events, d.suppressed, d.lost')"
  if grep -q ' reason;' /sys/kernel/tracing/events/skb/kfree_skb/format; then
    expect_eq "NO_SOCKET at __udp4_lib_rcv, NETFILTER_DROP" "11 4" \
      "$(count_events js "r.reason == 'NO_SOCKET' and r.location:match('^__udp4_lib_rcv%+')") $(count_events js "r.reason == 'NETFILTER_DROP'")"
  else
    expect_eq "at __udp4_lib_rcv and at nf_hook_slow, no reason" "11 4 0" \
      "$(count_events js "r.location:match('^__udp4_lib_rcv%+') and r.dst == '$IP_B' and r.dport == 9999") $(count_events js "r.location:match('^nf_hook_slow%+')") $(count_events js "r.reason ~= nil")"
    expect_match "the text says so" '^\(this kernel gives no drop reasons' "$(out_of txt)"
  fi
}

run_case "lab: drop-details reports every drop exactly, with or without drop reasons" case_events
finish
