#!/usr/bin/env bash
# The stdlib under real traffic: --pid/--comm/--dev/--threshold compiled
# into programs the kernel verifies, the details loop with its in-kernel
# event budget, and histograms read back from maps. Two fixture tools
# (fixtures/xmit-events.lua, fixtures/xmit-latency.lua) on net:net_dev_queue,
# which runs in the sending task's context.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

EVENTS=$TESTS_DIR/fixtures/xmit-events.lua
LATENCY=$TESTS_DIR/fixtures/xmit-latency.lua

# A copy of bash named NAME: what it sends has comm NAME.
sender_named() {
  cp "$(command -v bash)" "$CASE_DIR/$1" || fail "cannot copy bash"
  echo "$CASE_DIR/$1"
}

# B answers datagrams to a closed port with ICMP errors, sent from the
# softirq that runs in the sender's context; stop them before the device.
no_icmp_replies() {
  ip netns exec "$1" nft -f - <<'NFT' || fail "nft in $1 failed"
table inet quiet {
  chain out { type filter hook output priority 0; meta l4proto icmp drop; }
}
NFT
}

case_comm() {
  need_root
  topo_pair
  no_icmp_replies "$NS_B"
  local a b
  a=$(sender_named "${PFX}s") b=$(sender_named "${PFX}t")
  tool_start ev run "$EVENTS" --comm "${PFX}s" --format json -i 1 -d 60
  wait_line ev '"type":"stats"'
  SENDER=$a send_udp "$NS_A" "$IP_B" 9999 7
  SENDER=$b send_udp "$NS_A" "$IP_B" 9999 11
  settle
  tool_stop ev INT
  expect_eq "events of comm ${PFX}s" 7 "$(count_events ev "r.comm == '${PFX}s' and r.dev == '$DEV_A'")"
  expect_eq "events of any other comm" 0 "$(count_events ev "r.comm ~= '${PFX}s'")"
  expect_eq "final stats: events suppressed lost" "7 0 0" "$(jsonq ev 'd.events, d.suppressed, d.lost')"
  expect_eq "final stats line" "stats true" "$(jsonq ev 'd.type, d.final')"
}

case_pid() {
  need_root
  topo_pair
  no_icmp_replies "$NS_B"
  # The sender starts first, waits for the tool, then sends.
  ip netns exec "$NS_A" bash -c 'echo $$ >"$1/sender.pid"; while [ ! -e "$1/go" ]; do sleep 0.05; done
    for ((i = 0; i < 9; i++)); do echo x >"/dev/udp/$2/9999"; done' _ "$CASE_DIR" "$IP_B" &
  echo $! >>"$CASE_DIR/pids"
  local i
  for ((i = 0; i < 100; i++)); do [ -s "$CASE_DIR/sender.pid" ] && break; sleep 0.05; done
  tool_start ev run "$EVENTS" --pid "$(cat "$CASE_DIR/sender.pid")" --format json -i 1 -d 60
  wait_line ev '"type":"stats"'
  send_udp "$NS_A" "$IP_B" 9999 5   # another process: not counted
  touch "$CASE_DIR/go"
  wait
  settle
  tool_stop ev INT
  expect_eq "events of the sender's pid" 9 "$(count_events ev "r.pid == $(cat "$CASE_DIR/sender.pid")")"
  expect_eq "all events" 9 "$(jsonq ev 'd.events')"
}

case_dev() {
  need_root
  topo_pair
  no_icmp_replies "$NS_B"
  topo_third
  no_icmp_replies "$NS_C"
  tool_start ev run "$EVENTS" --dev "$DEV_AC" --format json -i 1 -d 60
  wait_line ev '"type":"stats"'
  send_udp "$NS_A" "$IP_B" 9999 5
  send_udp "$NS_A" "$IP_C" 9999 9
  settle
  tool_stop ev INT
  expect_eq "events on $DEV_AC" 9 "$(count_events ev "r.dev == '$DEV_AC'")"
  expect_eq "all events" 9 "$(jsonq ev 'd.events')"
}

# 600 packets against a budget of 50/s: the kernel sends a second's worth
# at most at first, counts every other one as suppressed, and nothing is
# lost or miscounted: shown + suppressed = sent.
case_budget_json() {
  need_root
  topo_pair
  no_icmp_replies "$NS_B"
  local a
  a=$(sender_named "${PFX}s")
  tool_start ev run "$EVENTS" --comm "${PFX}s" --max-events-per-sec 50 --format json -i 1 -d 60
  wait_line ev '"type":"stats"'
  SENDER=$a send_udp "$NS_A" "$IP_B" 9999 600
  wait_line ev '"suppressed":[1-9]'
  tool_stop ev INT
  local shown suppressed elapsed
  read -r shown suppressed elapsed <<<"$(jsonq ev 'd.events, d.suppressed, math.ceil(d.elapsed_s)')"
  expect_eq "events + suppressed" 600 "$((shown + suppressed))"
  expect_eq "event lines" "$shown" "$(count_events ev true)"
  expect_gt "suppressed" 0 "$suppressed"
  expect_gt "events" 0 "$shown"
  # the budget's bound: 50 per second of the run, plus one second's burst
  [ "$shown" -le $((50 * (elapsed + 1))) ] || fail "$shown events in ${elapsed}s over a budget of 50/s"
  expect_eq "lost" 0 "$(jsonq ev 'd.lost')"
  expect_eq "interval stats add up to the total" "$suppressed" "$(jsonq ev "(function() local n = 0
    for _, r in ipairs(lines) do if r.type == 'stats' and not r.final then n = n + r.suppressed end end
    return n end)()")"
}

case_budget_text() {
  need_root
  topo_pair
  no_icmp_replies "$NS_B"
  local a
  a=$(sender_named "${PFX}s")
  tool_start ev run "$EVENTS" --comm "${PFX}s" --max-events-per-sec 20 -i 1 -d 60
  wait_ready ev
  SENDER=$a send_udp "$NS_A" "$IP_B" 9999 300
  wait_line ev ' suppressed \(over'
  tool_stop ev INT
  local shown
  shown=$(grep -c " ${PFX}s " "$CASE_DIR/ev.out")
  expect_eq "header" "PID     COMM             DEV              LEN" "$(sed -n 2p "$CASE_DIR/ev.out")"
  expect_eq "total line" \
    "Total since start: $shown events, $((300 - shown)) suppressed (over --max-events-per-sec 20), 0 lost" \
    "$(grep '^Total since start' "$CASE_DIR/ev.out")"
  expect_match "an interval line with the suppressed count" \
    '^[0-9:]{8}  [0-9]+ events, [0-9]+ suppressed \(over --max-events-per-sec 20\), 0 lost$' "$(out_of ev)"
}

case_bad_budget() {
  local value
  for value in 0 -5 abc 10000001 1e3; do
    vns_run bad 30 run "$EVENTS" --max-events-per-sec "$value" -d 5
    expect_eq "exit status for --max-events-per-sec '$value'" 2 "$STATUS"
    expect_match "the error" "^vnetscope: option --max-events-per-sec: '.*' is not valid; expected an integer from 1 to 10000000\$" "$(err_of bad)"
  done
}

# Histograms per device: exact counts per device, stats agree with them.
case_histograms() {
  need_root
  topo_pair
  no_icmp_replies "$NS_B"
  topo_third
  tool_start lat run "$LATENCY" --format json -i 1 -d 60
  wait_line lat '"type":"interval"'
  send_udp "$NS_A" "$IP_B" 9999 13
  send_udp "$NS_A" "$IP_C" 9999 4
  settle
  tool_stop lat INT
  local h="(function() for _, x in ipairs(d.histograms) do if x.dev == DEV then return x end end end)()"
  expect_eq "packets through $DEV_A: count, stats" "13 usecs log2" \
    "$(jsonq lat "$(echo "$h" | sed "s/DEV/'$DEV_A'/").count, 'usecs', 'log2'")"
  expect_eq "packets through $DEV_AC" 4 "$(jsonq lat "$(echo "$h" | sed "s/DEV/'$DEV_AC'/").count")"
  expect_eq "bucket counts add up; min <= p50 <= max" "13 true" "$(jsonq lat "(function()
    local x = $(echo "$h" | sed "s/DEV/'$DEV_A'/") local n = 0
    for _, b in ipairs(x.buckets) do n = n + b.count end
    return n, x.min <= x.percentiles['50'] and x.percentiles['50'] <= x.max end)()")"
}

case_histogram_text_and_filters() {
  need_root
  topo_pair
  no_icmp_replies "$NS_B"
  topo_third
  tool_start lat run "$LATENCY" --dev "$DEV_AC" --unit ns -i 1 -d 60
  tool_start none run "$LATENCY" --threshold 10s -i 1 -d 60
  wait_ready lat
  wait_ready none
  send_udp "$NS_A" "$IP_B" 9999 13
  send_udp "$NS_A" "$IP_C" 9999 4
  settle
  tool_stop lat INT
  tool_stop none INT
  local total
  total=$(sed -n '/^Total since start/,$p' "$CASE_DIR/lat.out")
  expect_match "the device's section" "dev = $DEV_AC" "$total"
  expect_no_match "another device's section" "dev = $DEV_A\$" "$total"
  expect_match "the BCC-style header" '^     nsecs               : count     distribution$' "$total"
  expect_match "the summary line" '^count 4  min [0-9]+  mean [0-9.]+  max [0-9]+  p50 [0-9.]+  p90 .* \(nsecs\)$' "$total"
  expect_eq "nothing at or above --threshold 10s" "" \
    "$(sed -n '/^Total since start/,$p' "$CASE_DIR/none.out" | grep '^dev = ')"
}

run_case "stdlib: --comm counts exactly the named task's packets" case_comm
run_case "stdlib: --pid counts exactly one process's packets" case_pid
run_case "stdlib: --dev (skb device) counts exactly one device's packets" case_dev
run_case "stdlib: event budget: shown + suppressed = sent, bounded by the rate (JSON)" case_budget_json
run_case "stdlib: event budget reported in text at intervals and at exit" case_budget_text
run_case "stdlib: bad --max-events-per-sec exits 2 with the accepted form" case_bad_budget
run_case "stdlib: keyed log2 histograms: exact counts per device (JSON)" case_histograms
run_case "stdlib: histogram text like BCC; --dev and --threshold filter it" case_histogram_text_and_filters
finish
