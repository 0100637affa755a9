#!/usr/bin/env bash
# The short forms of docs/writing-scripts.md (vns.adhoc), run verbatim
# from the guide against UDP to a closed port in namespace B: counts
# must equal what the kernel itself counted (Udp NoPorts in B's
# /proc/net/snmp) and what the sender sent; events + suppressed must
# equal the drops; bad keys are refused before anything compiles.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

GUIDE=$REPO_DIR/docs/writing-scripts.md
COUNT=$REPO_DIR/docs/examples/drops-by-reason.lua
TRACE=$REPO_DIR/docs/examples/drop-events.lua
LATENCY=$REPO_DIR/docs/examples/xmit-wait.lua

# Udp NoPorts of namespace NS: the kernel's own count of these drops.
noports() {
  # shellcheck disable=SC2016 # awk's fields
  ip netns exec "$1" awk '/^Udp:/ { if (h) print $(f); else { for (i = 1; i <= NF; i++) if ($i == "NoPorts") f = i; h = 1 } }' /proc/net/snmp
}

case_guide_shows_examples() {
  local f
  for f in "$COUNT" "$TRACE" "$LATENCY"; do
    guide_block file "docs/examples/${f##*/}" >"$CASE_DIR/shown.lua"
    cmp -s "$CASE_DIR/shown.lua" "$f" || fail "the guide's block for ${f##*/} differs from the file"
  done
  expect_match "the one-line form" "^vnetscope -e '" "$(guide_block command count)"
}

# 13 datagrams to B:9999 and 5 to B:8888: the file counts both ports by
# reason, location and device (text), the one-liner --dst-port 9999 only
# (JSON); NoPorts in B agrees.
case_count() {
  need_root
  need_drop_reasons
  need_cmd lua5.4
  topo_pair
  local line before
  line=$(guide_block command count)
  eval "set -- ${line#vnetscope }"
  tool_start txt run "$COUNT" --dev "$DEV_B" --proto udp -i 1 -d 60
  # --dev: other tests may drop to port 9999 at the same time.
  tool_start js "$@" --dev "$DEV_B" --format json -i 1 -d 60
  wait_ready txt
  wait_line js '"type":"interval"'
  before=$(noports "$NS_B")
  send_udp "$NS_A" "$IP_B" 9999 13
  send_udp "$NS_A" "$IP_B" 8888 5
  settle
  tool_stop txt INT
  tool_stop js INT
  expect_eq "the kernel's NoPorts in B" 18 "$(($(noports "$NS_B") - before))"
  expect_eq "text: the total" "Total since start  hits: 18" "$(grep '^Total since start' "$CASE_DIR/txt.out")"
  expect_match "text: one row, by reason, location, device" \
    "^ +18  NO_SOCKET  __udp4_lib_rcv\+0x[0-9a-f]+  $DEV_B\$" "$(sed -n '/^Total since start/,$p' "$CASE_DIR/txt.out")"
  expect_eq "one-liner: --dst-port 9999 only" "total true 13" "$(jsonq js 'd.type, d.final, d.total')"
  expect_eq "one-liner: the row" "NO_SOCKET $DEV_B 13" "$(jsonq js 'd.rows[1].reason, d.rows[1].dev, d.rows[1].count')"
}

# One JSON event per drop with its flow; then 300 drops against 20/s:
# events + suppressed = 300, nothing lost.
case_trace() {
  need_root
  need_drop_reasons
  need_cmd lua5.4
  topo_pair
  tool_start js run "$TRACE" --dev "$DEV_B" --dst-port 9999 --format json -i 1 -d 60
  wait_line js '"type":"stats"'
  send_udp "$NS_A" "$IP_B" 9999 11
  send_udp "$NS_A" "$IP_B" 8888 4
  settle
  tool_stop js INT
  expect_eq "events of the flow" 11 "$(count_events js "r.reason == 'NO_SOCKET' and r.dev == '$DEV_B'
    and r.flow:match('^udp 10%.231%.1%.1:%d+ > 10%.231%.1%.2:9999\$') and r.comm == 'bash' and r.pid > 0
    and r.location:match('^__udp4_lib_rcv%+0x')")"
  expect_eq "events in all" 11 "$(count_events js true)"

  tool_start b run "$TRACE" --dev "$DEV_B" --max-events-per-sec 20 --format json -i 1 -d 60
  wait_line b '"type":"stats"'
  send_udp "$NS_A" "$IP_B" 9999 300
  settle
  tool_stop b INT
  local shown suppressed
  read -r shown suppressed <<<"$(jsonq b 'd.events, d.suppressed')"
  expect_eq "events + suppressed" 300 "$((shown + suppressed))"
  expect_gt "suppressed" 0 "$suppressed"
  expect_eq "lost" 0 "$(jsonq b 'd.lost')"
}

# 13 datagrams A -> B:9999 and 5 to B:8888 leave A on DEV_A (noqueue:
# no wait): the latency example times exactly the 13 of the flow, per
# device, and every session it opened completed.
case_latency() {
  need_root
  need_cmd lua5.4
  topo_pair
  tool_start js run "$LATENCY" --dev "$DEV_A" --proto udp --dst-port 9999 --unit ns --format json -i 1 -d 60
  wait_line js '"type":"interval"'
  send_udp "$NS_A" "$IP_B" 9999 13
  send_udp "$NS_A" "$IP_B" 8888 5
  settle
  tool_stop js INT
  expect_eq "packets timed on $DEV_A" "1 $DEV_A 13 ns" \
    "$(jsonq js '#d.histograms, d.histograms[1].dev, d.histograms[1].count, d.histograms[1].unit')"
  expect_eq "min <= mean <= max" true \
    "$(jsonq js 'd.histograms[1].min <= d.histograms[1].mean and d.histograms[1].mean <= d.histograms[1].max')"
  expect_eq "sessions started, completed, never completed" "13 13 0" \
    "$(jsonq js 'd.sessions.started, d.sessions.completed, d.sessions.never_completed')"
}

case_errors_and_c() {
  vns_run k 30 -e 'count{"skb:kfree_skb", by="reason,nope"}'
  expect_eq "an unknown key: exit status" 2 "$STATUS"
  expect_match "an unknown key: the message" "^vnetscope: adhoc: by 'nope' is not a key of skb:kfree_skb" "$(err_of k)"
  vns_run p 30 -e 'count{"skb:kfree_skb;drop", by="reason"}'
  expect_eq "a bad probe: exit status" 2 "$STATUS"
  vns_run c 60 -e 'count{"skb:kfree_skb", by="dev"}' --emit-c --dev vnstadhoc0 --dst-ip 10.231.1.2
  expect_eq "--emit-c: exit status" 0 "$STATUS"
  expect_no_match "--emit-c: no user text in the C" 'vnstadhoc0|10\.231\.1\.2' "$(out_of c)"
  need_root
  vns_run chk 120 check "$COUNT" "$TRACE" "$LATENCY"
  expect_eq "check: exit status" 0 "$STATUS"
  expect_match "check: the examples load" '^3 tools checked, 0 failed$' "$(out_of chk)"
}

run_case "adhoc: the guide shows the short forms verbatim" case_guide_shows_examples
run_case "adhoc: count by reason, location, device equals the kernel's NoPorts (file, one-liner)" case_count
run_case "adhoc: trace gives one event per drop; the budget accounts for every drop" case_trace
run_case "adhoc: latency times exactly the flow's packets per device; every session completed" case_latency
run_case "adhoc: bad keys and probes exit 2; --emit-c shows no user text; check loads the examples" case_errors_and_c
finish
