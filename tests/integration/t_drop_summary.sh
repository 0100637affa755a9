#!/usr/bin/env bash
# drop-summary end to end: UDP to a closed port and an nftables drop rule
# in namespace B give exact counts per reason and location on B's veth;
# --dev keeps out drops on other devices; bad --dev values are refused.
. "$(dirname "$0")/lib.sh"

UDP_LOC='^__udp4_lib_rcv\+0x[0-9a-f]+$'

case_text() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start ds drop-summary --group-by location --dev "$DEV_B" -i 1 -d 60
  wait_ready ds
  send_udp "$NS_A" "$IP_B" 9999 37
  settle
  tool_stop ds INT
  expect_eq "final total line" "Total since start  drops: 37" "$(total_line ds)"
  expect_eq "NO_SOCKET drops at __udp4_lib_rcv on $DEV_B" 37 "$(sum_rows ds NO_SOCKET "$UDP_LOC" "$DEV_B")"
}

case_json() {
  need_root
  need_drop_reasons
  need_cmd lua5.4
  topo_pair
  tool_start ds drop-summary --group-by location --dev "$DEV_B" -i 0.2 -d 60 --format json
  # JSON output has no banner: the first interval line means attached.
  wait_line ds '"type":"interval"'
  send_udp "$NS_A" "$IP_B" 9999 29
  settle
  tool_stop ds INT
  expect_eq "final line" "total true 29" "$(jsonq ds 'd.type, d.final, d.total')"
  expect_eq "NO_SOCKET drops at __udp4_lib_rcv on $DEV_B" 29 "$(jsonq ds "(function(n)
      for _, r in ipairs(d.drops) do
        if r.reason == 'NO_SOCKET' and r.location:match('^__udp4_lib_rcv%+0x%x+$')
           and r.dev == '$DEV_B' then n = n + r.count end
      end
      return n end)(0)")"
  expect_eq "sum of the interval totals" 29 "$(jsonq ds "(function(n)
      for _, l in ipairs(lines) do if l.type == 'interval' then n = n + l.total end end
      return n end)(0)")"
}

case_netfilter() {
  need_root
  need_drop_reasons
  need_cmd nft
  topo_pair
  nft_drop_udp "$NS_B" 7777
  tool_start ds drop-summary --group-by location --dev "$DEV_B" -i 1 -d 60
  wait_ready ds
  send_udp "$NS_A" "$IP_B" 7777 19
  send_udp "$NS_A" "$IP_B" 9999 5
  settle
  tool_stop ds INT
  expect_eq "NETFILTER_DROP drops in netfilter on $DEV_B" 19 \
    "$(sum_rows ds NETFILTER_DROP '^nft?_[a-z0-9_]+\+0x[0-9a-f]+$' "$DEV_B")"
  expect_eq "NO_SOCKET drops on $DEV_B" 5 "$(sum_rows ds NO_SOCKET "$UDP_LOC" "$DEV_B")"
  expect_eq "final total line" "Total since start  drops: 24" "$(total_line ds)"
}

case_dev_filter() {
  need_root
  need_drop_reasons
  topo_pair
  topo_third
  tool_start b drop-summary --group-by location --dev "$DEV_B" -i 1 -d 60
  tool_start c drop-summary --group-by location --dev "$DEV_C" -i 1 -d 60
  wait_ready b
  wait_ready c
  send_udp "$NS_A" "$IP_B" 9999 13
  send_udp "$NS_A" "$IP_C" 9999 17
  settle
  tool_stop b INT
  tool_stop c INT
  expect_eq "drops on $DEV_B" "Total since start  drops: 13" "$(total_line b)"
  expect_no_match "rows of another device with --dev $DEV_B" " $DEV_C\$" "$(total_rows b)"
  # The other flow's drops did happen: the tool watching C saw all of them.
  expect_eq "drops on $DEV_C" "Total since start  drops: 17" "$(total_line c)"
  expect_eq "NO_SOCKET drops on $DEV_C" 17 "$(sum_rows c NO_SOCKET "$UDP_LOC" "$DEV_C")"
}

case_alias() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start ds kernel_drop_stack_stats_summary_all --group-by location --dev "$DEV_B" -i 1 -d 60
  wait_ready ds
  send_udp "$NS_A" "$IP_B" 9999 7
  settle
  tool_stop ds INT
  expect_eq "NO_SOCKET drops through the alias" 7 "$(sum_rows ds NO_SOCKET "$UDP_LOC" "$DEV_B")"
  expect_eq "final total line" "Total since start  drops: 7" "$(total_line ds)"
}

case_bad_dev() {
  local value
  for value in abcdefghijklmnop a/b "a b" ""; do
    vns_run bad 30 drop-summary --dev "$value" -d 5
    expect_eq "exit status for --dev '$value'" 2 "$STATUS"
    expect_eq "stderr lines for --dev '$value'" 1 "$(err_of bad | wc -l)"
    expect_match "the error for --dev '$value'" '^vnetscope: .*--dev' "$(err_of bad)"
    expect_eq "stdout for --dev '$value'" "" "$(out_of bad)"
  done
}

# The option is refused before anything compiles: no program is loaded
# and no perf event (tracepoint attachment) is opened.
case_bad_dev_loads_nothing() {
  need_cmd strace
  timeout 30 strace -f -qq -e trace=bpf,perf_event_open -o "$CASE_DIR/strace.log" \
    "$VNS" drop-summary --dev a/b -d 5 >/dev/null 2>&1
  expect_eq "exit status" 2 "$?"
  expect_no_match "BPF or perf syscalls" 'BPF_PROG_LOAD|perf_event_open' "$(cat "$CASE_DIR/strace.log")"
}

# The default groups by flow too: two flows, each counted on its own row.
case_group_by_flow() {
  need_root
  need_drop_reasons
  need_cmd perl
  topo_pair
  tool_start ds drop-summary --dev "$DEV_B" -i 1 -d 60
  tool_start js drop-summary --dev "$DEV_B" --format json -i 1 -d 60
  wait_ready ds
  wait_line js '"type":"interval"'
  send_udp_from "$NS_A" "$IP_B" 9999 40001 6
  send_udp_from "$NS_A" "$IP_B" 9999 40002 4
  settle
  tool_stop ds INT
  tool_stop js INT
  local rows
  rows=$(sed -n '/^Total since start/,$p' "$CASE_DIR/ds.out")
  expect_match "the header" '^  COUNT  REASON +LOCATION +DEVICE +FLOW$' "$rows"
  expect_match "flow 40001" "^      6  NO_SOCKET  __udp4_lib_rcv\+0x[0-9a-f]+ +$DEV_B  udp $IP_A:40001 > $IP_B:9999\$" "$rows"
  expect_match "flow 40002" "^      4  NO_SOCKET  __udp4_lib_rcv\+0x[0-9a-f]+ +$DEV_B  udp $IP_A:40002 > $IP_B:9999\$" "$rows"
  expect_eq "JSON rows of flow 40001 and 40002" "6 4" "$(jsonq js "(function()
    local by = {} for _, r in ipairs(d.drops) do if r.src == '$IP_A' and r.dst == '$IP_B' and r.proto == 'udp'
    and r.dport == 9999 and r.family == 4 then by[r.sport] = r.count end end
    return by[40001], by[40002] end)()")"
}

# --group-by stack: a row per kernel stack, each with its frames.
case_group_by_stack() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start ds drop-summary --dev "$DEV_B" --group-by stack --format json -i 1 -d 60
  wait_line ds '"type":"interval"'
  send_udp "$NS_A" "$IP_B" 9999 11
  settle
  tool_stop ds INT
  expect_eq "drops counted over stack rows, each stack through __udp4_lib_rcv" "11 11" "$(jsonq ds "(function()
    local n, m = 0, 0
    for _, r in ipairs(d.drops) do
      n = n + r.count
      for _, fr in ipairs(r.stack or {}) do if fr:match('^__udp4_lib_rcv%+') then m = m + r.count break end end
    end return n, m end)()")"
}

# --stack-sample: counts stay per location; one stack is kept for each.
case_stack_sample() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start ds drop-summary --dev "$DEV_B" --group-by location --stack-sample -i 1 -d 60
  tool_start js drop-summary --dev "$DEV_B" --group-by location --stack-sample --format json -i 1 -d 60
  wait_ready ds
  wait_line js '"type":"interval"'
  send_udp "$NS_A" "$IP_B" 9999 8
  settle
  tool_stop ds INT
  tool_stop js INT
  expect_eq "NO_SOCKET drops" 8 "$(sum_rows ds NO_SOCKET "$UDP_LOC" "$DEV_B")"
  expect_match "the sample under the row" '^      first stack seen:$' "$(sed -n '/^Total since start/,$p' "$CASE_DIR/ds.out")"
  expect_match "a frame of the sample" '^      __udp4_lib_rcv\+0x[0-9a-f]+$' "$(sed -n '/^Total since start/,$p' "$CASE_DIR/ds.out")"
  expect_eq "JSON: count and a sample stack" "8 true" "$(jsonq js "d.drops[1].count,
    d.drops[1].sample_stack[2]:match('^__udp4_lib_rcv%+') ~= nil")"
}

# --exclude-unspecified leaves reasoned drops alone.
case_exclude_unspecified() {
  need_root
  need_drop_reasons
  topo_pair
  tool_start ds drop-summary --dev "$DEV_B" --group-by location --exclude-unspecified -i 1 -d 60
  wait_ready ds
  send_udp "$NS_A" "$IP_B" 9999 5
  settle
  tool_stop ds INT
  expect_eq "final total line" "Total since start  drops: 5" "$(total_line ds)"
}

# A forwards B's datagrams to C; with TTL 1 it drops them (time exceeded).
case_ttl_expired() {
  need_root
  need_drop_reasons
  need_cmd perl
  topo_pair
  topo_third
  ip netns exec "$NS_A" sysctl -qw net.ipv4.ip_forward=1 || fail "cannot enable forwarding in A"
  ip -n "$NS_B" route add 10.231.2.0/24 via "$IP_A" || fail "cannot route B to C via A"
  tool_start ds drop-summary --dev "$DEV_A" --group-by location -i 1 -d 60
  wait_ready ds
  timeout 30 ip netns exec "$NS_B" perl -MIO::Socket::INET -MSocket -e '
    my $s = IO::Socket::INET->new(Proto => "udp") or die "socket: $!\n";
    setsockopt($s, 0, 2, 1) or die "IP_TTL: $!\n";   # IPPROTO_IP, IP_TTL
    my $to = sockaddr_in(9999, inet_aton($ARGV[0]));
    for (1 .. 6) { defined send($s, "x", 0, $to) or die "send: $!\n"; }' "$IP_C" ||
    fail "sending with TTL 1 failed"
  settle
  tool_stop ds INT
  expect_eq "IP_INHDR drops in ip_forward on $DEV_A" 6 \
    "$(sum_rows ds IP_INHDR '^ip_forward\+0x[0-9a-f]+$' "$DEV_A")"
  expect_eq "final total line" "Total since start  drops: 6" "$(total_line ds)"
}

run_case "drop-summary: exact NO_SOCKET count at __udp4_lib_rcv (text)" case_text
run_case "drop-summary: exact NO_SOCKET count, every line JSON (--format json)" case_json
run_case "drop-summary: nftables drops counted as NETFILTER_DROP" case_netfilter
run_case "drop-summary: --dev excludes another device's drops" case_dev_filter
run_case "drop-summary: alias kernel_drop_stack_stats_summary_all" case_alias
run_case "drop-summary: TTL expired in forwarding counted as IP_INHDR" case_ttl_expired
run_case "drop-summary: default groups by flow: one row per flow (text, JSON)" case_group_by_flow
run_case "drop-summary: --group-by stack: rows per kernel stack with frames" case_group_by_stack
run_case "drop-summary: --stack-sample keeps one stack per location" case_stack_sample
run_case "drop-summary: --exclude-unspecified keeps drops with a reason" case_exclude_unspecified
run_case "drop-summary: bad --dev values exit 2 with one line" case_bad_dev
run_case "drop-summary: bad --dev loads nothing (strace)" case_bad_dev_loads_nothing
finish
