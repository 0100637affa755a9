#!/usr/bin/env bash
# Lab: icmp-rtt's OVS path (--path ovs: kprobes in the OVS datapath).
# This host's address is on the bridge's own internal port; the peer is
# a namespace behind a veth port of the bridge. A raw-socket pinger
# (fixtures/pinger.pl; the guest has no ping) sends N echo requests and
# prints each round trip as it measured it, from before its send to
# after its receive: every pair must be reported once, with every stage
# timed in order, and a total no larger than the pinger's round trip.
# Both directions: this host pings the peer, and the peer pings this
# host (the kernel answers).
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

N=5
PINGER=$TESTS_DIR/../lab/fixtures/pinger.pl

ovs_topology() {
  need_root
  need_cmd ovs-vsctl perl
  /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >"$CASE_DIR/ovs.log" 2>&1 ||
    fail "ovs-ctl start failed: $(tail -5 "$CASE_DIR/ovs.log")"
  BR=${PFX}br PB=${PFX}pb NS_B=${PFX}b DEV_B=${PFX}b
  ns_new "$NS_B"
  ip link add "$PB" type veth peer name "$DEV_B" netns "$NS_B" address 02:00:09:00:00:02 ||
    fail "cannot create the veth port"
  ovs-vsctl add-br "$BR" -- add-port "$BR" "$PB" || fail "cannot build the OVS bridge"
  echo "$BR" >"$CASE_DIR/bridge"
  sysctl -qw "net.ipv6.conf.$BR.disable_ipv6=1" "net.ipv6.conf.$PB.disable_ipv6=1" >/dev/null ||
    fail "cannot disable IPv6 on the bridge"
  ip link set "$PB" up && ip link set "$BR" up && ip addr add 10.231.9.1/24 dev "$BR" &&
    ip -n "$NS_B" addr add 10.231.9.2/24 dev "$DEV_B" && ip -n "$NS_B" link set "$DEV_B" up &&
    ip neigh replace 10.231.9.2 lladdr 02:00:09:00:00:02 dev "$BR" nud permanent &&
    ip -n "$NS_B" neigh replace 10.231.9.1 lladdr "$(cat "/sys/class/net/$BR/address")" dev "$DEV_B" nud permanent ||
    fail "cannot address the bridge and the peer"
}

cleanup_bridge() { [ -s "$CASE_DIR/bridge" ] && ovs-vsctl --if-exists del-br "$(cat "$CASE_DIR/bridge")"; }

# check_pairs TAG STAGES: as tests/integration/t_icmp_rtt.sh, against
# the pinger's round trips.
check_pairs() {
  local times
  times=$(awk -F'[= ]' '/^seq=/ {printf "[%s] = %s, ", $2, $4}' "$CASE_DIR/ping.out" | sed 's/^/{/; s/, $/}/')
  expect_eq "pinger: replies" $N "$(grep -c '^seq=' "$CASE_DIR/ping.out")"
  expect_eq "events: one per sequence number, every stage pair timed" $N \
    "$(count_events "$1" "r.seq >= 1 and r.seq <= $N and #r.steps == $2 - 1")"
  expect_eq "each total <= the pinger's round trip" true "$(jsonq "$1" "(function() local rtt = $times
    for _, r in ipairs(lines) do
      if r.type == 'event' and not (rtt[r.seq] and r.total_us <= rtt[r.seq] + 1) then
        return 'seq ' .. r.seq .. ': ' .. r.total_us .. ' us > ' .. tostring(rtt[r.seq]) end
    end return true end)()")"
  expect_eq "sessions started, completed" "$N $N" "$(jsonq "$1" "(function()
    for i = #lines, 1, -1 do if lines[i].sessions then return lines[i].sessions.started .. ' ' .. lines[i].sessions.completed end end
    end)()")"
}

case_ovs_tx() {
  ovs_topology
  trap 'cleanup_bridge; case_cleanup' EXIT
  tool_start ev icmp-rtt --path ovs --dev "$BR" --phy-dev "$PB" --dst-ip 10.231.9.2 --format json -i 1 -d 900
  wait_line ev '"type":"stats"'
  timeout 60 perl "$PINGER" 10.231.9.2 $N >"$CASE_DIR/ping.out" 2>&1 || fail "pinger: $(tail -3 "$CASE_DIR/ping.out")"
  settle
  tool_stop ev INT
  check_pairs ev 8
  expect_eq "no kprobe left" 0 "$(grep -c vns_ /sys/kernel/tracing/kprobe_events 2>/dev/null || true)"
}

case_ovs_rx() {
  ovs_topology
  trap 'cleanup_bridge; case_cleanup' EXIT
  tool_start ev icmp-rtt --path ovs --direction rx --dev "$BR" --phy-dev "$PB" --src-ip 10.231.9.2 --format json -i 1 -d 900
  wait_line ev '"type":"stats"'
  timeout 60 ip netns exec "$NS_B" perl "$PINGER" 10.231.9.1 $N >"$CASE_DIR/ping.out" 2>&1 ||
    fail "pinger: $(tail -3 "$CASE_DIR/ping.out")"
  settle
  tool_stop ev INT
  check_pairs ev 7
}

run_case "lab: icmp-rtt --path ovs, this host pings the peer through OVS: every pair, every stage, within its RTT" case_ovs_tx
run_case "lab: icmp-rtt --path ovs --direction rx, the peer pings this host through OVS" case_ovs_rx
finish
