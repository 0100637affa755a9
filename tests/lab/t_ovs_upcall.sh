#!/usr/bin/env bash
# Lab: ovs-upcall-latency against the OVS datapath's own counters.
#  - vswitchd with megaflows off (exact-match flows) and the datapath's
#    flows flushed: every new flow of the traffic is one miss. The tool's
#    upcalls = the datapath's "missed" (ovs-dpctl show), all come back;
#    flow filters count exactly the datagrams sent (IPv4, IPv6).
#  - a bare datapath (no vswitchd): every upcall fails, the tool's
#    failed upcalls = the datapath's "lost".
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=ovs-lib.sh
. "$(dirname "$0")/ovs-lib.sh"

UDP4=5 UDP6=4 PINGS=3
PINGER=$TESTS_DIR/../lab/fixtures/pinger.pl

case_upcalls_come_back() {
  need_root
  need_cmd ovs-vsctl
  ovs_cleanup_on_exit
  ovs_ports u 10.231.11
  ovs_ipv6 fd00:231:11
  ovs_bridge "${PFX}br"
  ovs-appctl upcall/disable-megaflows >/dev/null || fail "cannot disable megaflows"
  echo "ovs-appctl upcall/enable-megaflows" >>"$CASE_DIR/cleanup"
  ovs-dpctl del-flows system@ovs-system || fail "cannot flush the datapath's flows"
  tool_start all ovs-upcall-latency -i 600 -d 900
  tool_start udp4 ovs-upcall-latency --proto udp --src-ip 10.231.11.1 --dst-ip 10.231.11.2 -i 600 -d 900
  tool_start udp6 ovs-upcall-latency --proto udp --src-ip fd00:231:11::1 --dst-ip fd00:231:11::2 -i 600 -d 900
  wait_ready all
  wait_ready udp4
  wait_ready udp6
  local missed=$(ovs_lookups system@ovs-system missed) lost=$(ovs_lookups system@ovs-system lost)
  send_udp "$NS_A" 10.231.11.2 9999 "$UDP4"
  send_udp "$NS_A" fd00:231:11::2 9999 "$UDP6"
  timeout 60 ip netns exec "$NS_A" perl "$PINGER" 10.231.11.2 "$PINGS" >"$CASE_DIR/ping.out" 2>&1 ||
    fail "pinger: $(tail -3 "$CASE_DIR/ping.out")"
  # TCP connection attempts (nobody listens: SYN, then RST), IPv4 and IPv6.
  timeout 10 ip netns exec "$NS_A" bash -c 'exec 3<>/dev/tcp/10.231.11.2/9998' 2>/dev/null
  timeout 10 ip netns exec "$NS_A" bash -c 'exec 3<>/dev/tcp/fd00:231:11::2/9998' 2>/dev/null
  sleep 2
  missed=$(($(ovs_lookups system@ovs-system missed) - missed))
  lost=$(($(ovs_lookups system@ovs-system lost) - lost))
  tool_stop all INT
  tool_stop udp4 INT
  tool_stop udp6 INT
  echo "datapath: missed $missed lost $lost"
  expect_eq "datapath lost upcalls" 0 "$lost"
  expect_eq "upcalls (every flow) = the datapath's missed" "$missed" "$(upcalls_of all sent)"
  expect_eq "upcalls that came back (every flow)" "$missed" "$(upcalls_of all came_back)"
  expect_eq "upcalls that never came back" 0 "$(upcalls_of all never)"
  expect_eq "IPv4 UDP upcalls A -> B" "$UDP4" "$(upcalls_of udp4 sent)"
  expect_eq "IPv4 UDP upcalls that came back" "$UDP4" "$(upcalls_of udp4 came_back)"
  expect_eq "IPv6 UDP upcalls A -> B" "$UDP6" "$(upcalls_of udp6 sent)"
  expect_eq "IPv6 UDP upcalls that came back" "$UDP6" "$(upcalls_of udp6 came_back)"
  expect_match "a histogram per input port" "^dev = ${PA}\$" "$(out_of all)"
}

case_failed_upcalls() {
  need_root
  need_cmd ovs-dpctl
  ovs_cleanup_on_exit
  ovs_ports f 10.231.12
  ovs_bare_dp "${PFX}dp"
  tool_start f ovs-upcall-latency -i 600 -d 900
  wait_ready f
  local lost=$(ovs_lookups "${PFX}dp" lost)
  send_udp "$NS_A" 10.231.12.2 9999 6
  settle
  lost=$(($(ovs_lookups "${PFX}dp" lost) - lost))
  tool_stop f INT
  expect_eq "the datapath's lost upcalls (nobody listens)" 6 "$lost"
  expect_eq "upcalls" "$lost" "$(upcalls_of f sent)"
  expect_eq "failed upcalls" "$lost" "$(upcalls_of f failed)"
  expect_eq "upcalls that came back" 0 "$(upcalls_of f came_back)"
  expect_match "failed upcalls by errno" "failed upcalls of every flow \(the datapath's lost\): $lost \(E[A-Z]+ $lost\)" "$(out_of f)"
}

run_case "lab: ovs-upcall-latency: every miss comes back; filtered IPv4/IPv6 UDP exact" case_upcalls_come_back
run_case "lab: ovs-upcall-latency: failed upcalls = the datapath's lost" case_failed_upcalls
finish
