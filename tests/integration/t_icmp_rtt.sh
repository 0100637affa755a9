#!/usr/bin/env bash
# icmp-rtt over `ping -c N` between two namespaces, IPv4 and IPv6, each
# direction: N request/reply pairs, one per sequence number, each timed
# through every stage, each total no larger than the round trip ping
# itself printed for that sequence number. ping -U prints the
# user-to-user time (from before its send to after its receive), which
# contains every stage this host passes.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

N=5

# ipv6_pair: IPv6 on DEV_A/DEV_B (fd00:231:1::1 and ::2), no DAD, static
# neighbours both ways.
ipv6_pair() {
  local ns
  for ns in "$NS_A" "$NS_B"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 >/dev/null
  done
  ip netns exec "$NS_A" sysctl -qw "net.ipv6.conf.$DEV_A.disable_ipv6=0" >/dev/null &&
    ip netns exec "$NS_B" sysctl -qw "net.ipv6.conf.$DEV_B.disable_ipv6=0" >/dev/null &&
    ip -n "$NS_A" addr add fd00:231:1::1/64 dev "$DEV_A" nodad &&
    ip -n "$NS_B" addr add fd00:231:1::2/64 dev "$DEV_B" nodad &&
    ip -n "$NS_A" -6 neigh replace fd00:231:1::2 lladdr "$(ip -n "$NS_B" -br link show "$DEV_B" | awk '{print $3}')" \
    dev "$DEV_A" nud permanent &&
    ip -n "$NS_B" -6 neigh replace fd00:231:1::1 lladdr "$(ip -n "$NS_A" -br link show "$DEV_A" | awk '{print $3}')" \
      dev "$DEV_B" nud permanent || fail "cannot configure IPv6 on $DEV_A/$DEV_B"
  IP6_A=fd00:231:1::1 IP6_B=fd00:231:1::2
}

# ping_n NS ADDR: N pings, their output in $CASE_DIR/ping.out.
ping_n() {
  need_cmd ping
  timeout 30 ip netns exec "$1" ping -U -n -c $N -i 0.2 -W 2 "$2" >"$CASE_DIR/ping.out" 2>&1 ||
    fail "ping $2 from $1 failed: $(tail -n 3 "$CASE_DIR/ping.out")"
}

# A Lua table: sequence number -> the longest time (us) ping's printed
# RTT may stand for (it prints whole microseconds, truncated, and fewer
# decimals above 1 ms: add one unit of its last digit and 1 us).
ping_times() {
  awk '/icmp_seq=/ { seq = ""; t = ""
      for (i = 1; i <= NF; i++) { if ($i ~ /^icmp_seq=/) seq = substr($i, 10); if ($i ~ /^time=/) t = substr($i, 6) }
      d = index(t, ".") ? length(t) - index(t, ".") : 0
      printf "[%s] = %s * 1000 + 1000 / 10^%d + 1, ", seq, t, d }' "$CASE_DIR/ping.out" | sed 's/^/{/; s/, $/}/'
}

# check_pairs TAG STAGES: N events, sequences 1..N, each with every
# stage timed in order and a total within ping's RTT; the sessions of the
# last report: N started and completed.
check_pairs() {
  local times
  times=$(ping_times)
  [ -n "$times" ] || fail "no RTT in ping's output: $(head -c 300 "$CASE_DIR/ping.out")"
  expect_eq "ping: replies" $N "$(grep -c 'icmp_seq=' "$CASE_DIR/ping.out")"
  expect_eq "events: one per sequence number 1..$N, each stage pair timed" "$N" \
    "$(count_events "$1" "r.seq >= 1 and r.seq <= $N and #r.steps == $2 - 1 and r.dev == '$DEV_A'")"
  expect_eq "distinct sequence numbers" "$N" "$(jsonq "$1" "(function() local s, n = {}, 0
    for _, r in ipairs(lines) do if r.type == 'event' and not s[r.seq] then s[r.seq] = true; n = n + 1 end end
    return n end)()")"
  expect_eq "each total <= ping's RTT for its sequence number" true "$(jsonq "$1" "(function() local rtt = $times
    for _, r in ipairs(lines) do
      if r.type == 'event' and not (rtt[r.seq] and r.total_us <= rtt[r.seq]) then
        return 'seq ' .. r.seq .. ': ' .. r.total_us .. ' us > ' .. tostring(rtt[r.seq]) end
    end return true end)()")"
  expect_eq "each total = the sum of its steps" true "$(jsonq "$1" "(function()
    for _, r in ipairs(lines) do if r.type == 'event' then
      local s = 0 for _, x in ipairs(r.steps) do s = s + x.us end
      if math.abs(s - r.total_us) > 0.01 then return r.seq .. ': ' .. s .. ' ~= ' .. r.total_us end end end
    return true end)()")"
  expect_eq "the last summary: sessions started, completed" "$N $N" "$(jsonq "$1" "(function()
    for i = #lines, 1, -1 do if lines[i].sessions then return lines[i].sessions.started .. ' ' .. lines[i].sessions.completed end end
    end)()")"
}

run_tool() {  # TAG ARGS...: start, wait until attached
  tool_start "$@" --dev "$DEV_A" --format json -i 1 -d 60
  wait_line "$1" '"type":"stats"'
}

stop_tool() { settle; tool_stop "$1" INT; }

case_ipv4_tx() {
  need_root
  topo_pair
  run_tool ev icmp-rtt --dst-ip "$IP_B"
  tool_start tx icmp-rtt --dst-ip "$IP_B" --dev "$DEV_A" -i 1 -d 60
  wait_ready tx
  ping_n "$NS_A" "$IP_B"
  stop_tool ev
  tool_stop tx INT
  check_pairs ev 4
  # TIME SEQ ID PEER DEV TOTAL(us), then one column per stage pair
  expect_match "text: the header" "^TIME +SEQ +ID +PEER +DEV +TOTAL\(us\) +req_queue>req_xmit +req_xmit>rep_recv +rep_recv>rep_sock\$" \
    "$(sed -n 2p "$CASE_DIR/tx.out")"
  expect_eq "text: one line per pair, each stage pair timed" $N \
    "$(grep -Ec "^[0-9]{2}:[0-9]{2}:[0-9]{2} +[1-$N]  [0-9]+ +$IP_B +$DEV_A +[0-9]+\.[0-9]( +[0-9]+\.[0-9]){3}\$" "$CASE_DIR/tx.out")"
  expect_eq "the peer" "$IP_B" "$(jsonq ev "(function() for _, r in ipairs(lines) do if r.type == 'event' then return r.peer end end end)()")"
}

case_ipv6_tx() {
  need_root
  topo_pair
  ipv6_pair
  run_tool ev icmp-rtt --dst-ip "$IP6_B"
  ping_n "$NS_A" "$IP6_B"
  stop_tool ev
  check_pairs ev 4
  expect_eq "the peer" "$IP6_B" "$(jsonq ev "(function() for _, r in ipairs(lines) do if r.type == 'event' then return r.peer end end end)()")"
}

case_ipv4_rx() {
  need_root
  topo_pair
  run_tool ev icmp-rtt --direction rx --src-ip "$IP_B"
  ping_n "$NS_B" "$IP_A"
  stop_tool ev
  check_pairs ev 3
}

case_ipv6_rx() {
  need_root
  topo_pair
  ipv6_pair
  run_tool ev icmp-rtt --direction rx --src-ip "$IP6_B"
  ping_n "$NS_B" "$IP6_A"
  stop_tool ev
  check_pairs ev 3
}

# The flow filter selects requests: pings to another address are not timed.
case_filter_and_threshold() {
  need_root
  topo_pair
  run_tool ev icmp-rtt --dst-ip 10.231.1.99
  ping_n "$NS_A" "$IP_B"
  stop_tool ev
  expect_eq "no event for another peer" 0 "$(jsonq ev 'd.events')"
  expect_eq "no session started" 0 "$(jsonq ev "(function()
    for i = #lines, 1, -1 do if lines[i].sessions then return lines[i].sessions.started end end end)()")"
  run_tool ev2 icmp-rtt --dst-ip "$IP_B" --threshold 10s
  ping_n "$NS_A" "$IP_B"
  stop_tool ev2
  expect_eq "--threshold 10s: no pair reported, all counted" "0 $N" "$(jsonq ev2 "d.events, (function()
    for i = #lines, 1, -1 do if lines[i].sessions then return lines[i].sessions.completed end end end)()")"
}

# Options that do not go together: one line naming them, exit status 2.
case_bad_options() {
  vns_run a 30 icmp-rtt --path ovs --dev eth0 --emit-c
  expect_eq "--path ovs without --phy-dev: status" 2 "$STATUS"
  expect_match "--path ovs without --phy-dev: the message" "^vnetscope: option --path ovs needs --dev .* and --phy-dev" "$(err_of a)"
  vns_run b 30 icmp-rtt --phy-dev eth0 --emit-c
  expect_eq "--phy-dev without --path ovs: status" 2 "$STATUS"
  expect_match "--phy-dev without --path ovs: the message" "^vnetscope: option --phy-dev needs --path ovs$" "$(err_of b)"
  vns_run c 30 icmp-rtt --direction up --emit-c
  expect_eq "--direction up: status" 2 "$STATUS"
}

run_case "icmp-rtt: IPv4, this host pings: N pairs, each within ping's RTT (JSON, text)" case_ipv4_tx
run_case "icmp-rtt: IPv6, this host pings: N pairs, each within ping's RTT" case_ipv6_tx
run_case "icmp-rtt --direction rx: IPv4, the peer pings: N pairs, each within its RTT" case_ipv4_rx
run_case "icmp-rtt --direction rx: IPv6, the peer pings: N pairs, each within its RTT" case_ipv6_rx
run_case "icmp-rtt: the flow options select the requests; --threshold the pairs reported" case_filter_and_threshold
run_case "icmp-rtt: options that do not go together are refused with one line" case_bad_options
finish
