#!/usr/bin/env bash
# --listen, vnetscope serve and --format folded: scrapes while the tools
# run, parsed by the Prometheus client library's parser (and promtool
# when installed); counts checked against the kernel's (an nft counter,
# /proc/net/snmp, tc -s).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

PROMQ=$TESTS_DIR/promq.py
# Debian's python3 (python3-prometheus-client), not another on PATH.
PY=/usr/bin/python3

need_parser() {
  [ -x "$PY" ] || skip "no $PY"
  "$PY" -c 'import prometheus_client' 2>/dev/null || skip "no python3-prometheus-client (tools/install-deps.sh)"
}

# url TAG: the metrics URL the tool printed.
url() { sed -n 's/^Serving metrics at //p' "$CASE_DIR/$1.out" | head -n 1; }

# scrape TAG NAME [LABEL=VALUE ...]: the sum of the matching samples of
# one scrape (kept as TAG.prom; promtool checks it when installed).
scrape() {
  local tag=$1 out
  shift
  out=$(PROMQ_SAVE=$CASE_DIR/$tag.prom "$PY" "$PROMQ" "$(url "$tag")" "$@" 2>&1) || fail "scrape of $tag: $out"
  if command -v promtool >/dev/null; then
    promtool check metrics <"$CASE_DIR/$tag.prom" >"$CASE_DIR/$tag.promtool" 2>&1 ||
      fail "promtool: $(head -c 600 "$CASE_DIR/$tag.promtool")"
  fi
  echo "$out"
}

# nft_count_udp NS PORT: an nftables rule dropping UDP to PORT with a counter.
nft_count_udp() {
  ip netns exec "$1" nft -f - <<NFT || fail "cannot add the nftables drop rule in $1"
table inet vnst {
  chain input {
    type filter hook input priority 0;
    udp dport $2 counter drop
  }
}
NFT
}

nft_packets() { ip netns exec "$1" nft list chain inet vnst input | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'; }

case_drop_summary() {
  need_root
  need_drop_reasons
  need_cmd nft
  need_parser
  topo_pair
  nft_count_udp "$NS_B" 7777
  tool_start ds drop-summary --group-by location --dev "$DEV_B" --listen 127.0.0.1:0 -i 1 -d 60
  wait_line ds '^Serving metrics at http://127\.0\.0\.1:[0-9]+/metrics$'
  expect_eq "a first scrape parses" 0 "$(scrape ds vnetscope_drop_summary_drops_total dev="$DEV_B")"
  local noports
  noports=$(snmp "$NS_B" snmp Udp NoPorts)
  send_udp "$NS_A" "$IP_B" 7777 19
  send_udp "$NS_A" "$IP_B" 9999 5
  settle
  local filtered closed
  filtered=$(nft_packets "$NS_B")
  closed=$(($(snmp "$NS_B" snmp Udp NoPorts) - noports))
  expect_eq "nft counted" 19 "$filtered"
  expect_eq "NETFILTER_DROP series on $DEV_B (scraped while running)" "$filtered" \
    "$(scrape ds vnetscope_drop_summary_drops_total reason=NETFILTER_DROP dev="$DEV_B")"
  expect_eq "NO_SOCKET series on $DEV_B" "$closed" \
    "$(scrape ds vnetscope_drop_summary_drops_total reason=NO_SOCKET dev="$DEV_B")"
  expect_eq "the total counter" $((filtered + closed)) "$(scrape ds vnetscope_drop_summary_total)"
  expect_match "HELP and TYPE lines" '^# TYPE vnetscope_drop_summary_drops_total counter$' "$(cat "$CASE_DIR/ds.prom")"
  expect_eq "404 elsewhere" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$(url ds | sed 's,/metrics$,/nope,')")"
  tool_stop ds INT
  expect_eq "final report at exit" "Total since start  drops: $((filtered + closed))" "$(total_line ds)"
}

# A latency histogram's _count is the tool's own count (and tc's).
case_histogram() {
  need_root
  need_parser
  topo_pair
  # tbf, fast: an empty pfifo lets packets bypass the queue (no enqueue).
  ip netns exec "$NS_A" tc qdisc add dev "$DEV_A" root tbf rate 100mbit burst 64kb latency 50ms ||
    skip "no tbf qdisc on this kernel"
  tool_start ql qdisc-latency --proto udp --dst-port 9999 --dev "$DEV_A" --listen 127.0.0.1:0 -i 1 -d 60
  wait_line ql '^Serving metrics at '
  send_udp "$NS_A" "$IP_B" 9999 23
  settle
  local sent count
  sent=$(ip netns exec "$NS_A" tc -s qdisc show dev "$DEV_A" | awk '/^ Sent/ {print $4; exit}')
  count=$(scrape ql vnetscope_qdisc_latency_seconds_count dev="$DEV_A")
  expect_eq "_count is what tc sent" "$sent" "$count"
  expect_eq "sessions completed" "$sent" "$(scrape ql vnetscope_qdisc_latency_sessions_completed_total)"
  expect_eq "the +Inf bucket is _count" "$count" \
    "$(scrape ql vnetscope_qdisc_latency_seconds_bucket dev="$DEV_A" le=+Inf)"
  expect_match "an exact _sum" "^vnetscope_qdisc_latency_seconds_sum\\{.*\\} [0-9.e-]+$" "$(cat "$CASE_DIR/ql.prom")"
  # Every log2 bound, empty or not, 2 us to 2^26 us: the same set on every host.
  expect_eq "the series' le set" "2e-06 4e-06 8e-06 1.6e-05 ... 33.554432 67.108864 +Inf (27)" \
    "$(sed -n 's/^vnetscope_qdisc_latency_seconds_bucket{.*le="\([^"]*\)"}.*/\1/p' "$CASE_DIR/ql.prom" |
      awk '{ a[NR] = $0 } END { print a[1], a[2], a[3], a[4], "...", a[NR - 2], a[NR - 1], a[NR], "(" NR ")" }')"
  tool_stop ql INT
  expect_match "the tool's own count at exit" "^count $count " "$(sed -n '/^Total since start/,$p' "$CASE_DIR/ql.out")"
}

# Two tools in one process, one scrape for both.
case_serve() {
  need_root
  need_drop_reasons
  need_parser
  topo_pair
  ip netns exec "$NS_A" tc qdisc add dev "$DEV_A" root tbf rate 100mbit burst 64kb latency 50ms ||
    skip "no tbf qdisc on this kernel"
  cat >"$CASE_DIR/exporter.conf" <<CONF
# drops and qdisc waits of the test's devices
drop-summary --group-by location --dev $DEV_B
qdisc-latency --proto udp --dev '$DEV_A'
CONF
  tool_start sv serve "$CASE_DIR/exporter.conf" --listen 127.0.0.1:0 -i 1 -d 60
  wait_line sv '^Serving metrics at '
  local noports
  noports=$(snmp "$NS_B" snmp Udp NoPorts)
  send_udp "$NS_A" "$IP_B" 9999 11
  settle
  local closed sent
  closed=$(($(snmp "$NS_B" snmp Udp NoPorts) - noports))
  sent=$(ip netns exec "$NS_A" tc -s qdisc show dev "$DEV_A" | awk '/^ Sent/ {print $4; exit}')
  expect_eq "drop-summary's series" "$closed" \
    "$(scrape sv vnetscope_drop_summary_drops_total reason=NO_SOCKET dev="$DEV_B")"
  expect_eq "qdisc-latency's _count in the same scrape" "$sent" \
    "$(scrape sv vnetscope_qdisc_latency_seconds_count dev="$DEV_A")"
  tool_stop sv INT
  expect_eq "drop-summary's final report" "Total since start  drops: $closed" "$(total_line sv | head -n 1)"
  printf 'drop-summary --listen 127.0.0.1:1\n' >"$CASE_DIR/bad.conf"
  vns_run bad 30 serve "$CASE_DIR/bad.conf" --listen 127.0.0.1:0
  expect_eq "a bad config line: exit status" 2 "$STATUS"
  expect_match "names the line" "bad\.conf:1: --listen is serve's option, not a tool's" "$(err_of bad)"
}

case_bad_listen() {
  vns_run bad 30 drop-summary --listen localhost:9435
  expect_eq "exit status" 2 "$STATUS"
  expect_match "names --listen and the form" "option --listen: 'localhost:9435' is not valid; expected ADDR:PORT" "$(err_of bad)"
  vns_run v6 30 drop-summary --listen '::1:9435'
  expect_eq "an IPv6 address needs brackets" 2 "$STATUS"
}

case_bind_error() {
  need_root
  tool_start a drop-summary --listen 127.0.0.1:0 -d 30
  wait_line a '^Serving metrics at '
  vns_run b 60 drop-summary --listen "$(url a | sed 's,^http://\(.*\)/metrics$,\1,')" -d 1
  expect_eq "exit status" 1 "$STATUS"
  expect_match "says it cannot listen" "option --listen 127\\.0\\.0\\.1:[0-9]+: cannot listen there: Address already in use" "$(err_of b)"
  tool_stop a INT
}

# Folded lines (flamegraph.pl's input) add up to the drops the kernel counted.
case_folded() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start fo drop-summary --group-by stack --dev "$DEV_B" --format folded -i 1 -d 60
  tool_start tx drop-summary --group-by location --dev "$DEV_B" -i 1 -d 60
  wait_ready tx
  sleep 1  # folded output has no banner; the text run above attached at the same time
  local noports
  noports=$(snmp "$NS_B" snmp Udp NoPorts)
  send_udp "$NS_A" "$IP_B" 9999 17
  settle
  tool_stop fo INT
  tool_stop tx INT
  local closed lines
  closed=$(($(snmp "$NS_B" snmp Udp NoPorts) - noports))
  lines=$(grep -v '^#' "$CASE_DIR/fo.out")
  expect_eq "folded lines sum to the drops" "$closed" "$(awk '{ n += $NF } END { print n + 0 }' <<<"$lines")"
  expect_match "reason first, the drop's caller near the leaf" '^NO_SOCKET;.*;__udp4_lib_rcv(;[^ ;]+)? [0-9]+$' "$lines"
  expect_eq "the text run saw as many" "Total since start  drops: $closed" "$(total_line tx)"
  vns_run bad 30 drop-summary --format folded
  expect_match "folded needs stacks" "option --format folded needs --group-by stack" "$(err_of bad)"
}

run_case "drop-summary --group-by stack --format folded sums to the drops" case_folded
run_case "drop-summary --listen: a scrape shows the drops nft and snmp counted" case_drop_summary
run_case "qdisc-latency --listen: the histogram's _count is the tool's count" case_histogram
run_case "serve: two tools from a config, one /metrics" case_serve
run_case "a bad --listen is one usage error" case_bad_listen
run_case "an address in use is one clear error" case_bind_error
finish
