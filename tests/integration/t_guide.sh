#!/usr/bin/env bash
# The script-writing guide (docs/writing-scripts.md) and its examples:
# the guide shows docs/examples/qdisc-wait.lua verbatim, and the example
# measures what the guide says under real traffic. Namespace A sends UDP
# to B (DEV_A, no qdisc: veth's noqueue) and to C (DEV_AC, shaped by a
# tbf qdisc so that packets really wait); the flow options, --filter,
# --dev and --threshold must select exactly the packets they name.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

GUIDE=$REPO_DIR/docs/writing-scripts.md
WAIT=$REPO_DIR/docs/examples/qdisc-wait.lua
EVENTS=$REPO_DIR/docs/examples/qdisc-wait-events.lua

# tbf at 4 kbit/s with a 60-byte bucket: the first 44-byte datagram
# leaves at once, each later one waits 56 ms more than the one before
# (then 88 ms each): waits a histogram and --threshold can tell apart.
shape() {
  need_cmd tc
  ip netns exec "$1" tc qdisc add dev "$2" root tbf rate 4kbit burst 60 limit 3000 ||
    skip "no tbf qdisc on this kernel"
}

# Seven datagrams through the shaper leave within ~0.7 s: wait until it
# holds none, then for the last one's way to the driver.
drain_shaper() { qdisc_drained "$NS_A" "$DEV_AC"; settle; }

# count_of TAG DEV: the "count N" of DEV in the text's final report.
count_of() {
  awk -v dev="dev = $2" '/^Total since start/ {on = 1} on && $0 == dev {hit = 1}
    on && hit && /^count / {print $2; exit}' "$CASE_DIR/$1.out"
}

# Lua: the histogram of one device in the last JSON report.
dev_of() { echo "(function() for _, x in ipairs(d.histograms) do if x.dev == '$1' then return x end end end)()"; }

case_guide_shows_example() {
  [ -r "$GUIDE" ] || fail "no $GUIDE"
  guide_block file docs/examples/qdisc-wait.lua >"$CASE_DIR/shown.lua"
  [ -s "$CASE_DIR/shown.lua" ] || fail "the guide has no block marked <!-- file: docs/examples/qdisc-wait.lua -->"
  cmp "$CASE_DIR/shown.lua" "$WAIT" >"$CASE_DIR/cmp.err" 2>&1 ||
    fail "the guide's block differs from docs/examples/qdisc-wait.lua: $(cat "$CASE_DIR/cmp.err")"
  # Excerpts of the details example must be in the file as they are shown.
  local n=1 excerpts=0
  need_cmd lua5.4
  while guide_block excerpt docs/examples/qdisc-wait-events.lua "$n" >"$CASE_DIR/excerpt" && [ -s "$CASE_DIR/excerpt" ]; do
    lua5.4 - "$EVENTS" "$CASE_DIR/excerpt" <<<'local f, e = io.open(arg[1]):read("a"), io.open(arg[2]):read("a")
      os.exit(f:find(e, 1, true) and 0 or 1)' ||
      fail "excerpt $n of the guide is not in docs/examples/qdisc-wait-events.lua: $(head -3 "$CASE_DIR/excerpt")"
    excerpts=$((excerpts + 1)) n=$((n + 1))
  done
  expect_gt "excerpts of the details example" 0 "$excerpts"
}

# 13 datagrams A -> B:9999, 5 to B:8888 (another flow), 7 to C:9999
# through the shaper: the flow options (text) and --filter (JSON) both
# count exactly 13 on DEV_A and 7 on DEV_AC.
case_flow_counts() {
  need_root
  topo_pair
  topo_third
  shape "$NS_A" "$DEV_AC"
  tool_start txt run "$WAIT" --proto udp --dst-port 9999 -i 1 -d 60
  tool_start js run "$WAIT" --filter 'udp dst port 9999' --format json -i 1 -d 60
  wait_ready txt
  wait_line js '"type":"interval"'
  send_udp "$NS_A" "$IP_B" 9999 13
  send_udp "$NS_A" "$IP_B" 8888 5
  send_udp "$NS_A" "$IP_C" 9999 7
  drain_shaper
  tool_stop txt INT
  tool_stop js INT
  expect_eq "text: packets of the flow on $DEV_A" 13 "$(count_of txt "$DEV_A")"
  expect_eq "text: packets of the flow on $DEV_AC" 7 "$(count_of txt "$DEV_AC")"
  expect_match "text: the BCC-style header" '^     usecs               : count     distribution$' "$(out_of txt)"
  expect_eq "JSON: the final report" "total true" "$(jsonq js 'd.type, d.final')"
  expect_eq "JSON: packets of the flow on $DEV_A, $DEV_AC" "13 7" \
    "$(jsonq js "$(dev_of "$DEV_A").count, $(dev_of "$DEV_AC").count")"
  expect_eq "JSON: buckets add up; unit" "7 us" "$(jsonq js "(function() local x, n = $(dev_of "$DEV_AC"), 0
    for _, b in ipairs(x.buckets) do n = n + b.count end return n, x.unit end)()")"
  expect_eq "JSON: the shaped device's packets waited (max >= 40 ms)" true \
    "$(jsonq js "$(dev_of "$DEV_AC").max >= 40000")"
  expect_eq "JSON: interval reports add up to the total on $DEV_A" 13 "$(jsonq js "(function() local n = 0
    for _, r in ipairs(lines) do if r.type == 'interval' then
      for _, x in ipairs(r.histograms) do if x.dev == '$DEV_A' then n = n + x.count end end end end
    return n end)()")"
}

# --dev and --threshold: only DEV_AC, only waits of 10 ms or more: the
# first datagram left on the bucket's burst, the six after it waited.
case_threshold_dev() {
  need_root
  topo_pair
  topo_third
  shape "$NS_A" "$DEV_AC"
  tool_start js run "$WAIT" --dev "$DEV_AC" --threshold 10ms --filter 'udp and dst port 9999' \
    --unit ms --format json -i 1 -d 60
  wait_line js '"type":"interval"'
  send_udp "$NS_A" "$IP_B" 9999 13
  send_udp "$NS_A" "$IP_C" 9999 7
  send_udp "$NS_A" "$IP_C" 8888 5
  drain_shaper
  tool_stop js INT
  expect_eq "devices in the total" "1 $DEV_AC" "$(jsonq js '#d.histograms, d.histograms[1].dev')"
  expect_eq "packets at or above 10 ms" 6 "$(jsonq js 'd.histograms[1].count')"
  expect_eq "min >= 10 (ms), unit" "true ms" "$(jsonq js 'd.histograms[1].min >= 10, d.histograms[1].unit')"
}

case_emit_c_and_check() {
  vns_run c 60 run "$WAIT" --emit-c --dst-ip 10.231.1.2 --proto udp --dst-port 9999 \
    --dev vnstguide0 --threshold 1ms
  expect_eq "--emit-c exit status" 0 "$STATUS"
  local c
  c=$(out_of c)
  expect_match "the address as a value" 'f\.daddr\[0\] == VNS_VALUE\(u32, 0x201e70a\)' "$c"
  expect_match "the port as a value" 'vns_flow_l4\(&f\) && f\.dport == VNS_VALUE\(u16, 0xf27\)' "$c"
  expect_match "only IPv4 is parsed" 'vns_flow_l3_of\(skb, &f, VNS_FLOW_IPV4\);' "$c"
  expect_match "the device as two words" \
    '^  if \(!\(vns_skb_dev_is\(skb, VNS_VALUE\(u64, 0x[0-9a-f]+\), VNS_VALUE\(u64, 0x[0-9a-f]+\)\)\)\)$' "$c"
  expect_match "the threshold in ns" '^  if \(!\(delta_ns >= VNS_VALUE\(u64, 0xf4240\)\)\)$' "$c"
  expect_match "attached by name" '^TRACEPOINT_PROBE\(net, net_dev_start_xmit\)$' "$c"
  expect_no_match "no user text in the C" '10\.231\.1\.2|vnstguide0|\{\{' "$c"
  vns_run c0 60 run "$WAIT" --emit-c
  expect_match "no flow option: nothing parsed" '^  /\* no flow filter \*/$' "$(out_of c0)"
  expect_no_match "no flow option: no flow" 'vns_flow_l3_of' "$(out_of c0)"

  vns_run bad 30 run "$WAIT" --dst-ip 10.0.0.1/8
  expect_eq "a bad address: exit status" 2 "$STATUS"
  expect_match "a bad address: the message" "^vnetscope: option --dst-ip: '10.0.0.1/8' is not valid \('10.0.0.1/8' has host bits set; the network is 10.0.0.0/8\)" "$(err_of bad)"
  vns_run bad 30 run "$WAIT" --threshold 100
  expect_eq "a threshold without a unit: exit status" 2 "$STATUS"
  expect_match "a threshold without a unit: the message" "^vnetscope: option --threshold: '100' is not valid; expected a time with a unit" "$(err_of bad)"

  need_root
  vns_run chk 120 check "$WAIT" "$EVENTS"
  expect_eq "check exit status" 0 "$STATUS"
  local out
  out=$(out_of chk)
  expect_match "check: the queue probe" '^qdisc-wait +tracepoint__net__net_dev_queue +tracepoint +[1-9][0-9]* +[0-9]+ +ok$' "$out"
  expect_match "check: the driver probe" '^qdisc-wait +tracepoint__net__net_dev_start_xmit +tracepoint +[1-9][0-9]* +[0-9]+ +ok$' "$out"
  expect_match "check: the variant with filters" '^qdisc-wait --proto udp --port 53 --dev eth0 --threshold 1ms +tracepoint__net__net_dev_queue +tracepoint +[1-9][0-9]* +[0-9]+ +ok$' "$out"
  expect_match "check: the details example" '^qdisc-wait-events +tracepoint__net__net_dev_start_xmit +tracepoint +[1-9][0-9]* +[0-9]+ +ok$' "$out"
  expect_match "check: the summary" '^2 tools checked, 0 failed$' "$out"
}

# The details example: one event per packet at or above --threshold, in
# text and JSON; the 13 datagrams to B (no qdisc) never wait that long.
case_events() {
  need_root
  topo_pair
  topo_third
  shape "$NS_A" "$DEV_AC"
  tool_start js run "$EVENTS" --proto udp --dst-port 9999 --threshold 10ms --format json -i 1 -d 60
  tool_start txt run "$EVENTS" --dev "$DEV_AC" --threshold 10ms --filter 'udp port 9999' -i 1 -d 60
  wait_line js '"type":"stats"'
  wait_ready txt
  send_udp "$NS_A" "$IP_B" 9999 13
  send_udp "$NS_A" "$IP_C" 9999 7
  drain_shaper
  tool_stop js INT
  tool_stop txt INT
  expect_eq "JSON: events on $DEV_AC" 6 "$(count_events js "r.dev == '$DEV_AC' and r.proto == 'udp' and r.len == 44
    and r.dst == '$IP_C:9999' and r.src:match('^10%.231%.2%.1:%d+\$') and r.wait_us >= 10000")"
  expect_eq "JSON: events on $DEV_A" 0 "$(count_events js "r.dev == '$DEV_A'")"
  expect_eq "JSON: final stats" "stats true 0 0" "$(jsonq js 'd.type, d.final, d.suppressed, d.lost')"
  expect_eq "text: the header" "TIME      DEV               WAIT(us)   LEN  PROTO  SOURCE                 DESTINATION" \
    "$(sed -n 2p "$CASE_DIR/txt.out")"
  expect_eq "text: event lines" 6 "$(grep -Ec "^[0-9:]{8}  $DEV_AC +[0-9]+\.[0-9] +44  udp +10\.231\.2\.1:[0-9]+ +10\.231\.2\.2:9999\$" "$CASE_DIR/txt.out")"
  expect_eq "text: the total" "Total since start: 6 events, 0 suppressed, 0 lost" "$(grep '^Total since start' "$CASE_DIR/txt.out")"
}

# The budget of the details example: 300 datagrams against 20 events/s:
# shown + suppressed = sent, nothing lost.
case_events_budget() {
  need_root
  topo_pair
  tool_start js run "$EVENTS" --dev "$DEV_A" --dst-port 9999 --max-events-per-sec 20 --format json -i 1 -d 60
  wait_line js '"type":"stats"'
  send_udp "$NS_A" "$IP_B" 9999 300
  wait_line js '"suppressed":[1-9]'
  tool_stop js INT
  local shown suppressed
  read -r shown suppressed <<<"$(jsonq js 'd.events, d.suppressed')"
  expect_eq "events + suppressed" 300 "$((shown + suppressed))"
  expect_gt "suppressed" 0 "$suppressed"
  expect_eq "event lines" "$shown" "$(count_events js true)"
  expect_eq "lost" 0 "$(jsonq js 'd.lost')"
}

run_case "guide: the example in docs/writing-scripts.md is docs/examples/qdisc-wait.lua verbatim" case_guide_shows_example
run_case "guide: qdisc-wait counts exactly one flow's packets per device (text, JSON)" case_flow_counts
run_case "guide: qdisc-wait --dev and --threshold keep only long waits on one device" case_threshold_dev
run_case "guide: qdisc-wait --emit-c shows the values; bad values exit 2; check loads both examples" case_emit_c_and_check
run_case "guide: qdisc-wait-events reports each long wait with its flow (text, JSON)" case_events
run_case "guide: qdisc-wait-events: the event budget (shown + suppressed = sent)" case_events_budget
finish
