#!/usr/bin/env bash
# The stage-timing kit (vns.stages) on real traffic: three stages of the
# transmit path (net:net_dev_queue -> net:net_dev_start_xmit ->
# net:net_dev_xmit) on veths, one shaped by tbf so that packets really
# wait, and one whose tbf is too small so that it drops. Sessions,
# per-pair and end-to-end histograms, the threshold, the details events
# and the counters of sessions that never completed must agree exactly
# with what was sent and what tc counted. Tracepoints see every
# namespace (other tests may send the same flows meanwhile), so each
# tool is held to this case's devices with --dev.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

SUMMARY=$TESTS_DIR/fixtures/three-stages.lua
EVENTS=$TESTS_DIR/fixtures/three-stages-events.lua
FAST=$TESTS_DIR/fixtures/three-stages-fast.lua

# tbf at 4 kbit/s with a 60-byte bucket (as in t_guide.sh): the first
# 44-byte datagram leaves at once, each later one waits ~88 ms more.
shape() {
  need_cmd tc
  ip netns exec "$1" tc qdisc add dev "$2" root tbf rate 4kbit burst 60 limit "${3:-3000}" ||
    skip "no tbf qdisc on this kernel"
}

# tc_sent NS DEV: the packets the root qdisc sent.
tc_sent() {
  ip netns exec "$1" tc -s qdisc show dev "$2" | awk '/^ Sent/ {print $4; exit}'
}

# Lua: the histogram of DEV from FROM to TO in the last JSON report.
hist_of() {
  echo "(function() for _, x in ipairs(d.histograms) do
    if x.dev == '$1' and x.from == '$2' and x.to == '$3' then return x end end
    return {count = 0} end)()"
}

case_counts() {
  need_root
  topo_pair
  topo_third
  shape "$NS_A" "$DEV_AC"
  tool_start js run "$SUMMARY" --proto udp --dst-port 9999 --dev "$DEV_AC" --format json -i 1 -d 60
  tool_start ja run "$SUMMARY" --proto udp --dst-port 9999 --dev "$DEV_A" --format json -i 1 -d 60
  tool_start txt run "$SUMMARY" --proto udp --dst-port 9999 --dev "$DEV_AC" -i 1 -d 60
  wait_line js '"type":"interval"'
  wait_line ja '"type":"interval"'
  wait_ready txt
  send_udp "$NS_A" "$IP_B" 9999 13
  send_udp "$NS_A" "$IP_B" 8888 5
  send_udp "$NS_A" "$IP_C" 9999 7
  qdisc_drained "$NS_A" "$DEV_AC"   # seven datagrams through the shaper: ~0.7 s
  settle
  tool_stop js INT
  tool_stop ja INT
  tool_stop txt INT
  expect_eq "the shaper sent" 7 "$(tc_sent "$NS_A" "$DEV_AC")"
  local counters='d.sessions.started, d.sessions.completed, d.sessions.restarted, d.sessions.out_of_order,
      d.sessions.evicted, d.sessions.open, d.sessions.never_completed'
  expect_eq "$DEV_AC: started completed restarted out_of_order evicted open never_completed" "7 7 0 0 0 0 0" \
    "$(jsonq js "$counters")"
  expect_eq "$DEV_A: the same" "13 13 0 0 0 0 0" "$(jsonq ja "$counters")"
  expect_eq "histograms: 3 per device" "3 3" "$(jsonq js '#d.histograms') $(jsonq ja '#d.histograms')"
  expect_eq "$DEV_A: each pair and the total" "13 13 13" "$(jsonq ja "$(hist_of "$DEV_A" queue start_xmit).count,
    $(hist_of "$DEV_A" start_xmit xmit).count, $(hist_of "$DEV_A" queue xmit).count")"
  expect_eq "$DEV_AC: each pair and the total" "7 7 7" "$(jsonq js "$(hist_of "$DEV_AC" queue start_xmit).count,
    $(hist_of "$DEV_AC" start_xmit xmit).count, $(hist_of "$DEV_AC" queue xmit).count")"
  expect_eq "the total is marked; the pairs are not" "true nil" \
    "$(jsonq js "$(hist_of "$DEV_AC" queue xmit).total, $(hist_of "$DEV_AC" queue start_xmit).total")"
  expect_eq "$DEV_AC waited in the qdisc (>= 40 ms), not in the driver (< 40 ms)" "true true" \
    "$(jsonq js "$(hist_of "$DEV_AC" queue start_xmit).max >= 40000, $(hist_of "$DEV_AC" start_xmit xmit).max < 40000")"
  expect_eq "the total is at least the sum of the pairs' minima" true "$(jsonq js "(function()
    local a, b, t = $(hist_of "$DEV_AC" queue start_xmit), $(hist_of "$DEV_AC" start_xmit xmit), $(hist_of "$DEV_AC" queue xmit)
    return t.max >= a.max and t.min >= a.min + b.min - 0.001 end)()")"
  local total
  total=$(sed -n '/^Total since start/,$p' "$CASE_DIR/txt.out")
  expect_match "text: a pair's heading" "^dev = $DEV_AC, queue -> start_xmit\$" "$total"
  expect_match "text: the total's heading" "^dev = $DEV_AC, queue -> xmit \\(total\\)\$" "$total"
  expect_no_match "text: no other device" "^dev = $DEV_A," "$total"
  expect_match "text: the sessions" \
    '^sessions since start: 7 started, 7 completed, 0 restarted, 0 out of order, 0 evicted, 0 open at exit, 0 never completed$' "$total"
  expect_eq "text: three histograms of 7" 3 "$(grep -c '^count 7 ' <<<"$total")"
}

# --threshold 10ms: sessions still all count, histograms and events keep
# only the six datagrams that waited behind the first (which left on
# the bucket's burst).
case_threshold_events() {
  need_root
  topo_pair
  topo_third
  shape "$NS_A" "$DEV_AC"
  tool_start js run "$SUMMARY" --filter 'udp dst port 9999' --dev "$DEV_AC" --threshold 10ms --unit ms \
    --format json -i 1 -d 60
  tool_start ev run "$EVENTS" --proto udp --dst-port 9999 --dev "$DEV_AC" --threshold 10ms --format json -i 1 -d 60
  wait_line js '"type":"interval"'
  wait_line ev '"type":"stats"'
  send_udp "$NS_A" "$IP_B" 9999 13
  send_udp "$NS_A" "$IP_C" 9999 7
  qdisc_drained "$NS_A" "$DEV_AC"
  # The shaper sends the last one about 0.5 s after it came: its event
  # ends the wait, not a fixed sleep.
  wait_lines ev '"type":"event"' 6
  settle
  tool_stop js INT
  tool_stop ev INT
  expect_eq "sessions started, completed: all seven" "7 7" "$(jsonq js 'd.sessions.started, d.sessions.completed')"
  expect_eq "histograms: only $DEV_AC" "3 $DEV_AC" "$(jsonq js "#d.histograms, d.histograms[1].dev")"
  expect_eq "every histogram counts the six" "6 6 6" "$(jsonq js 'd.histograms[1].count, d.histograms[2].count,
    d.histograms[3].count')"
  expect_eq "the total's min >= 10 ms" true "$(jsonq js "$(hist_of "$DEV_AC" queue xmit).min >= 10")"
  expect_eq "events: six, all on $DEV_AC, each stage timed in order" 6 "$(count_events ev "r.dev == '$DEV_AC'
    and r.total_ns >= 10000000 and r.steps == 2 and r.at_queue == 0 and r.at_start_xmit >= 10000000
    and r.at_xmit >= r.at_start_xmit and r.at_xmit == r.total_ns and r.len == 44 and r.proto == 'udp'
    and r.dst == '$IP_C:9999'")"
  expect_eq "events in all; suppressed, lost" "6 0 0" "$(jsonq ev 'd.events, d.suppressed, d.lost')"
}

# The kit's details without a decode of the tool's own: the fast path
# writes kit:decode's rows (JSON) and its default columns (text).
case_kit_fast_path() {
  need_root
  topo_pair
  topo_third
  shape "$NS_A" "$DEV_AC"
  tool_start fj run "$FAST" --proto udp --dst-port 9999 --dev "$DEV_AC" --threshold 10ms --format json -i 1 -d 60
  tool_start ft run "$FAST" --proto udp --dst-port 9999 --dev "$DEV_AC" --threshold 10ms -i 1 -d 60
  wait_line fj '"type":"stats"'
  wait_ready ft
  send_udp "$NS_A" "$IP_B" 9999 13
  send_udp "$NS_A" "$IP_C" 9999 7
  qdisc_drained "$NS_A" "$DEV_AC"
  wait_lines fj '"type":"event"' 6
  wait_lines ft " $DEV_AC +44  queue=" 6
  tool_stop fj INT
  tool_stop ft INT
  expect_eq "JSON events: six, on $DEV_AC, each stage timed in order" 6 "$(count_events fj "r.dev == '$DEV_AC'
    and r.total_ns >= 10000000 and #r.steps == 2 and r.stages[1].name == 'queue' and r.stages[1].at_ns == 0
    and r.stages[2].at_ns >= 10000000 and r.stages[3].at_ns == r.total_ns and r.steps[2].to == 'xmit'
    and r.len == 44 and r.proto == 'udp' and r.src:match(':%d+$') and r.dst == '$IP_C:9999' and r.pid >= 0
    and type(r.comm) == 'string' and r.key ~= 0 and r._flow == nil and r._stages == nil")"
  expect_eq "JSON: events in all; suppressed, lost" "6 0 0" "$(jsonq fj 'd.events, d.suppressed, d.lost')"
  expect_eq "text: the header" "   TOTAL(ns)  PID     COMM             DEV                LEN  STAGES(ns since the first)     FLOW" \
    "$(sed -n 2p "$CASE_DIR/ft.out")"
  expect_eq "text: six event lines" 6 "$(grep -cE "^ +[0-9]{8,} +[0-9]+ +.* $DEV_AC +44  queue=0 start_xmit=[0-9]+ xmit=[0-9]+ +udp [0-9.]+:[0-9]+ > $IP_C:9999\$" "$CASE_DIR/ft.out")"
  expect_eq "text: the total" "Total since start: 6 events, 0 suppressed, 0 lost" "$(total_line ft)"
}

# A tbf whose queue holds one datagram: the burst of 12 overflows it.
# The packets it drops open a session at net_dev_queue that never
# closes: never_completed must equal tc's drop count.
case_drops() {
  need_root
  topo_pair
  shape "$NS_A" "$DEV_A" 100
  tool_start js run "$SUMMARY" --proto udp --dst-port 9999 --dev "$DEV_A" --format json -i 1 -d 60
  wait_line js '"type":"interval"'
  send_udp "$NS_A" "$IP_B" 9999 12
  qdisc_drained "$NS_A" "$DEV_A"
  settle
  tool_stop js INT
  local dropped sent
  dropped=$(tc_drops "$NS_A" "$DEV_A" 8001:)
  [ -n "$dropped" ] || dropped=$(ip netns exec "$NS_A" tc -s qdisc show dev "$DEV_A" |
    awk '/dropped/ {gsub(/[(),]/, ""); for (i = 1; i <= NF; i++) if ($i == "dropped") {print $(i + 1); exit}}')
  sent=$(tc_sent "$NS_A" "$DEV_A")
  expect_gt "tc dropped" 0 "$dropped"
  expect_eq "tc: sent + dropped" 12 "$((sent + dropped))"
  expect_eq "sessions started, completed" "12 $sent" "$(jsonq js 'd.sessions.started, d.sessions.completed')"
  expect_eq "never completed = dropped" "$dropped" "$(jsonq js 'd.sessions.never_completed')"
  expect_eq "never completed = restarted + evicted + open at exit" "$dropped" \
    "$(jsonq js 'd.sessions.restarted + d.sessions.evicted + d.sessions.open')"
  expect_eq "the total counts the completed" "$sent" "$(jsonq js "$(hist_of "$DEV_A" queue xmit).count")"
}

run_case "stages: three stages count exactly the flow's packets per device and pair (JSON, text)" case_counts
run_case "stages: --threshold keeps long sessions in every histogram; one event each with its stages" case_threshold_events
run_case "stages: the kit's details on the fast path (JSON rows of kit:decode, text columns)" case_kit_fast_path
run_case "stages: packets the qdisc drops are sessions never completed, as many as tc dropped" case_drops
finish
