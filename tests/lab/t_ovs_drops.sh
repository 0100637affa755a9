#!/usr/bin/env bash
# Lab: ovs-drops against the OVS datapath's own counters.
#  - a bare kernel datapath (ovs-dpctl, no vswitchd) with two flows made
#    by hand: one with no actions (drop), one that outputs to port 99,
#    which does not exist; a third flow of traffic matches no flow and
#    its upcalls fail (nobody listens). Each cause's count = the packets
#    `ovs-dpctl dump-flows` counted on its flow, and the failed upcalls =
#    the datapath's "lost".
#  - vswitchd with OpenFlow rules: actions=drop, and output to an
#    OpenFlow port that does not exist: both become datapath flows with
#    no actions; the drops = the packets those flows counted.
#  - an OpenFlow 1.3 meter of 1 packet/s whose band drops: the meter
#    drops = the band's packet count (`ovs-ofctl meter-stats`), each
#    with its kernel stack (--stacks).
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=ovs-lib.sh
. "$(dirname "$0")/ovs-lib.sh"

MACS="eth(src=02:00:0b:00:00:01,dst=02:00:0b:00:00:02),eth_type(0x0800)"

case_bare_datapath() {
  need_root
  need_cmd ovs-dpctl
  ovs_cleanup_on_exit
  ovs_ports d 10.231.13
  ovs_bare_dp "${PFX}dp"
  ovs-dpctl add-flow "${PFX}dp" "in_port(1),$MACS,ipv4(proto=17,frag=no),udp(dst=9001)" "" &&
    ovs-dpctl add-flow "${PFX}dp" "in_port(1),$MACS,ipv4(proto=17,frag=no),udp(dst=9002)" 99 ||
    fail "cannot add the datapath flows: $(ovs-dpctl dump-flows "${PFX}dp" 2>&1)"
  tool_start d ovs-drops -i 600 -d 900
  wait_ready d
  local lost=$(ovs_lookups "${PFX}dp" lost)
  send_udp_from "$NS_A" 10.231.13.2 9001 5001 7
  send_udp_from "$NS_A" 10.231.13.2 9002 5002 5
  send_udp_from "$NS_A" 10.231.13.2 9003 5003 4
  settle
  lost=$(($(ovs_lookups "${PFX}dp" lost) - lost))
  local dropped=$(ovs_flow_packets "${PFX}dp" 'udp\(dst=9001\).*actions:drop')
  local to_99=$(ovs_flow_packets "${PFX}dp" 'udp\(dst=9002\).*actions:99')
  tool_stop d INT
  echo "datapath: drop flow $dropped, output:99 flow $to_99, lost $lost"
  expect_eq "packets of the drop flow" 7 "$dropped"
  expect_eq "packets of the flow to port 99" 5 "$to_99"
  expect_eq "the datapath's lost" 4 "$lost"
  expect_eq "no-actions drops = the drop flow's packets" "$dropped" "$(total_of d 'no actions')"
  expect_eq "frees in do_output (inlined in do_execute_actions) = the port-99 flow's packets" "$to_99" "$(total_of d 'do_output|do_execute_actions')"
  expect_eq "failed upcalls = the datapath's lost" "$lost" "$(total_of d 'upcall failed')"
  expect_eq "no other drops" $((dropped + to_99 + lost)) "$(total_of d "$PA")"
}

case_openflow_drops() {
  need_root
  need_cmd ovs-vsctl
  ovs_cleanup_on_exit
  ovs_ports o 10.231.14
  ovs_bridge "${PFX}br"
  ovs-ofctl add-flow "${PFX}br" "priority=100,udp,tp_dst=9001,actions=drop" &&
    ovs-ofctl add-flow "${PFX}br" "priority=100,udp,tp_dst=9002,actions=output:99" ||
    fail "cannot add the OpenFlow rules"
  ovs-vsctl set Open_vSwitch . other_config:max-idle=600000 || fail "cannot set max-idle"
  echo "ovs-vsctl remove Open_vSwitch . other_config max-idle" >>"$CASE_DIR/cleanup"
  ovs-dpctl del-flows system@ovs-system || fail "cannot flush the datapath's flows"
  tool_start o ovs-drops --src-ip 10.231.14.1 -i 600 -d 900
  wait_ready o
  # One datagram of each flow makes vswitchd install its megaflow (with
  # no actions; it does not execute the upcalled datagram itself); the
  # ones after it are dropped by that megaflow in the kernel.
  send_udp_from "$NS_A" 10.231.14.2 9001 5001 1
  send_udp_from "$NS_A" 10.231.14.2 9002 5002 1
  local i
  for ((i = 0; i < 300; i++)); do
    [ "$(ovs-dpctl dump-flows system@ovs-system | grep -c 'udp(.*actions:drop')" -ge 2 ] && break
    sleep 0.1
  done
  send_udp_from "$NS_A" 10.231.14.2 9001 5001 6
  send_udp_from "$NS_A" 10.231.14.2 9002 5002 5
  settle
  local dropped=$(ovs_flow_packets system@ovs-system 'udp\(.*actions:drop')
  tool_stop o INT
  echo "datapath: flows with no actions counted $dropped packets"
  ovs-dpctl dump-flows system@ovs-system
  ovs-ofctl dump-flows "${PFX}br"
  expect_eq "packets of the drop flows" 11 "$dropped"
  expect_eq "no-actions drops = the datapath's drop flows' packets" "$dropped" "$(total_of o 'no actions')"
}

case_meter() {
  need_root
  need_cmd ovs-vsctl
  ovs_cleanup_on_exit
  ovs_ports m 10.231.17
  ovs_bridge "${PFX}br"
  local of="-O OpenFlow13"
  ovs-vsctl set bridge "${PFX}br" protocols=OpenFlow10,OpenFlow13 || fail "cannot enable OpenFlow 1.3"
  ovs-ofctl $of add-meter "${PFX}br" "meter=1,pktps,burst,band=type=drop,rate=1,burst_size=1" 2>"$CASE_DIR/meter.err" ||
    skip "vswitchd has no meters here: $(cat "$CASE_DIR/meter.err")"
  ovs-ofctl $of add-flow "${PFX}br" "priority=100,udp,tp_dst=9004,actions=meter:1,output:2" || fail "cannot add the metered rule"
  tool_start m ovs-drops --src-ip 10.231.17.1 --stacks -i 600 -d 900
  wait_ready m
  send_udp_from "$NS_A" 10.231.17.2 9004 5004 1
  local i
  for ((i = 0; i < 300; i++)); do
    ovs-dpctl dump-flows system@ovs-system | grep -q 'udp(' && break
    sleep 0.1
  done
  ovs-dpctl dump-flows system@ovs-system | grep -q 'actions:meter(' ||
    skip "the kernel datapath has no meters here (vswitchd meters in user space): $(ovs-dpctl dump-flows system@ovs-system)"
  send_udp_from "$NS_A" 10.231.17.2 9004 5004 20
  settle
  local band
  band=$(ovs-ofctl $of meter-stats "${PFX}br" | sed -n 's/^ *0: packet_count:\([0-9]*\).*/\1/p')
  tool_stop m INT
  ovs-ofctl $of meter-stats "${PFX}br"
  echo "meter 1: its band dropped $band packets"
  expect_gt "packets the meter band dropped" 0 "$band"
  expect_eq "meter drops = the band's packet count" "$band" "$(total_of m 'meter band drop')"
  expect_eq "no other drops" "$band" "$(total_of m "$PA")"
  # On 5.10 the unwinder stops at the kretprobe's trampoline, which the
  # return probe put in the stack: the stack is the probed function's.
  local frame='do_execute_actions'
  [ "$(uname -r | awk -F. '{print $1 * 1000 + $2}')" -gt 5010 ] || frame='ovs_meter_execute'
  expect_match "each row with its kernel stack: the actions that ran the meter" "^ {6}$frame\+0x" \
    "$(sed -n '/^Total since start/,$p' "$CASE_DIR/m.out")"
}

run_case "lab: ovs-drops: drop flow, output to a missing port, failed upcalls = ovs-dpctl's counts" case_bare_datapath
run_case "lab: ovs-drops: OpenFlow drop and output to a missing port = the drop flows' packets" case_openflow_drops
run_case "lab: ovs-drops: an OpenFlow meter's band drops = its packet count, with stacks" case_meter
finish
