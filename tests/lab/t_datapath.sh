#!/usr/bin/env bash
# Lab: the virtualized datapath's kernel functions with real traffic.
#  - virtio-net: the guest's two NICs, joined by a qemu-internal hub, each
#    moved into its own namespace; start_xmit counts the datagrams sent.
#  - OVS: a bridge whose ports are veth peers of two namespaces;
#    ovs_dp_process_packet counts each datagram once, on its input port.
# Each count is checked against the receiver's own rx counter. Static
# neighbours both ways: no ARP adds packets (B answers with ICMP).
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

COUNT=17

# nic_by_mac MAC: the guest's device with this address.
nic_by_mac() {
  local d
  for d in /sys/class/net/*; do
    [ "$(cat "$d/address")" = "$1" ] && { echo "${d##*/}"; return 0; }
  done
  fail "no NIC with address $1"
}

rx_packets() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/rx_packets"; }

# count_and_receive TAG FN IP NS DEV: skb-count on FN while COUNT
# datagrams go from NS_A to IP; RECEIVED is how many DEV in NS got.
count_and_receive() {
  local tag=$1 fn=$2 ip=$3 ns=$4 dev=$5 before
  tool_start "$tag" run "$TESTS_DIR/../lab/fixtures/skb-count.lua" --fn "$fn" -i 1 -d 900
  wait_line "$tag" '^--$'
  before=$(rx_packets "$ns" "$dev")
  send_udp "$NS_A" "$ip" 9999 "$COUNT"
  sleep 1
  tool_stop "$tag" INT
  RECEIVED=$(($(rx_packets "$ns" "$dev") - before))
}

# count_of TAG DEV: DEV's count in the tool's final report.
count_of() { grep "^$2 " "$CASE_DIR/$1.out" | tail -1 | cut -d' ' -f2; }

case_virtio_net() {
  need_root
  local nic1 nic2
  nic1=$(nic_by_mac 52:54:00:00:07:01) nic2=$(nic_by_mac 52:54:00:00:07:02)
  NS_A=${PFX}a NS_B=${PFX}b
  ns_new "$NS_A"
  ns_new "$NS_B"
  ip link set "$nic1" netns "$NS_A" && ip link set "$nic2" netns "$NS_B" || fail "cannot move the NICs"
  link_pair "$NS_A" "$nic1" 52:54:00:00:07:01 "$NS_B" "$nic2" 52:54:00:00:07:02 10.231.7
  count_and_receive vx start_xmit 10.231.7.2 "$NS_B" "$nic2"
  expect_eq "datagrams $nic2 received" "$COUNT" "$RECEIVED"
  expect_eq "start_xmit calls on $nic1" "$COUNT" "$(count_of vx "$nic1")"
}

case_ovs_bridge() {
  need_root
  need_cmd ovs-vsctl
  /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >"$CASE_DIR/ovs.log" 2>&1 ||
    fail "ovs-ctl start failed: $(tail -5 "$CASE_DIR/ovs.log")"
  local br=${PFX}br pa=${PFX}pa pb=${PFX}pb
  NS_A=${PFX}a NS_B=${PFX}b DEV_A=${PFX}a DEV_B=${PFX}b
  ns_new "$NS_A"
  ns_new "$NS_B"
  ip link add "$pa" type veth peer name "$DEV_A" netns "$NS_A" address 02:00:08:00:00:01 &&
    ip link add "$pb" type veth peer name "$DEV_B" netns "$NS_B" address 02:00:08:00:00:02 ||
    fail "cannot create the veth ports"
  ovs-vsctl add-br "$br" -- add-port "$br" "$pa" -- add-port "$br" "$pb" || fail "cannot build the OVS bridge"
  # No IPv6 on the guest's side of the bridge either: the bridge's MLD
  # reports would be flooded to B.
  sysctl -qw "net.ipv6.conf.$br.disable_ipv6=1" "net.ipv6.conf.$pa.disable_ipv6=1" \
    "net.ipv6.conf.$pb.disable_ipv6=1" >/dev/null || fail "cannot disable IPv6 on the bridge"
  ip link set "$pa" up && ip link set "$pb" up && ip link set "$br" up || fail "cannot bring the bridge up"
  link_pair "$NS_A" "$DEV_A" 02:00:08:00:00:01 "$NS_B" "$DEV_B" 02:00:08:00:00:02 10.231.8
  count_and_receive ov ovs_dp_process_packet 10.231.8.2 "$NS_B" "$DEV_B"
  ovs-vsctl del-br "$br"
  expect_eq "datagrams B received through the bridge" "$COUNT" "$RECEIVED"
  expect_eq "ovs_dp_process_packet calls from port $pa" "$COUNT" "$(count_of ov "$pa")"
}

run_case "lab: virtio-net start_xmit counts datagrams between the two NICs" case_virtio_net
run_case "lab: OVS datapath counts datagrams through a bridge, per input port" case_ovs_bridge
finish
