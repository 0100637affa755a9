#!/usr/bin/env bash
# vm-latency-summary, vm-latency-details and vm-pair-latency on real
# frames: VMs played by tap-vm.pl on taps, on a Linux bridge in a host
# namespace H with a veth toward namespace P (the "NIC"). Here (no
# kprobes, no OVS) the paths are their tracepoint stages: vnet_rx
# (netif_receive_skb on the VM's tap) -> queue -> nic (on the veth), nic
# -> queue -> vnet_tx (on the tap). The bridge forwards the same skb, as
# OVS does; static fdb entries keep it from flooding (which clones).
# Counts are checked against the reader in P and the VM player's count.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=vmlib.sh
. "$(dirname "$0")/vmlib.sh"

N=9
MAC_VM=02:00:0a:00:00:01 MAC_VM2=02:00:0a:00:00:03 MAC_P=02:00:0a:00:00:02
IP_VM=10.231.10.1 IP_VM2=10.231.10.3 IP_P=10.231.10.2

# H with bridge BR, the veth PHY <-> DEV_P (P, IP_P), and the taps of the
# VMs given (vm0 always; vm1 with "two").
topo_vm() {
  need_cmd bridge
  NS_H=${PFX}h NS_P=${PFX}p BR=${PFX}br PHY=${PFX}n DEV_P=${PFX}q VM0=${PFX}v0 VM1=${PFX}v1
  ns_new "$NS_H"
  ns_new "$NS_P"
  ip link add "$PHY" netns "$NS_H" type veth peer name "$DEV_P" netns "$NS_P" address "$MAC_P" &&
    ip -n "$NS_H" link add "$BR" type bridge &&
    ip -n "$NS_H" link set "$PHY" master "$BR" && ip -n "$NS_H" link set "$PHY" up &&
    ip -n "$NS_H" link set "$BR" up &&
    ip -n "$NS_P" addr add "$IP_P/24" dev "$DEV_P" && ip -n "$NS_P" link set "$DEV_P" up &&
    ip -n "$NS_P" neigh replace "$IP_VM" lladdr "$MAC_VM" dev "$DEV_P" nud permanent &&
    bridge -n "$NS_H" fdb replace "$MAC_P" dev "$PHY" master static || fail "cannot build the bridge"
  vm_start vm0 "$NS_H" "$VM0" "$MAC_VM" "$IP_VM" 9998
  plug "$VM0" "$MAC_VM"
  if [ "${1:-}" = two ]; then
    vm_start vm1 "$NS_H" "$VM1" "$MAC_VM2" "$IP_VM2" 9997
    plug "$VM1" "$MAC_VM2"
  fi
  sleep 1   # carrier up
}

plug() {
  ip -n "$NS_H" link set "$1" master "$BR" && ip -n "$NS_H" link set "$1" up &&
    bridge -n "$NS_H" fdb replace "$2" dev "$1" master static || fail "cannot put $1 on the bridge"
}

sessions() { jsonq "$1" 'd.sessions.started, d.sessions.completed'; }
counts() { jsonq "$1" '(function() local t = {} for _, h in ipairs(d.histograms) do t[#t + 1] = h.from .. ">" .. h.to .. "=" .. h.count end
  return table.concat(t, " ") end)()'; }

case_vm_tx_rx() {
  need_root
  topo_vm
  tool_start tx vm-latency-summary --direction tx --vm-dev "$VM0" --phy-dev "$PHY" --proto udp --dst-port 9999 \
    --format json -d 60
  tool_start rx vm-latency-summary --direction rx --vm-dev "$VM0" --phy-dev "$PHY" --proto udp --dst-port 9998 \
    --format json -d 60
  wait_line tx '"type":"interval"'
  wait_line rx '"type":"interval"'
  udp_reader "$NS_P" "$IP_P" 9999 "$N"
  vm_cmd vm0 "send $MAC_P $IP_P 9999 $N"
  vm_cmd vm0 "send $MAC_P $IP_P 8888 3"
  wait "$READER_PID"
  send_udp_from "$NS_P" "$IP_VM" 9998 40001 "$N"
  send_udp_from "$NS_P" "$IP_VM" 7777 40001 3
  settle
  vm_quit vm0
  tool_stop tx INT
  tool_stop rx INT
  expect_eq "P read" "$N" "$(cat "$CASE_DIR/reader.count")"
  expect_eq "the VM read" "$N" "$VM_FRAMES"
  expect_eq "tx: started, completed" "$N $N" "$(sessions tx)"
  expect_eq "tx: every pair and the total" "vnet_rx>queue=$N queue>nic=$N vnet_rx>nic=$N" "$(counts tx)"
  expect_eq "rx: started, completed" "$N $N" "$(sessions rx)"
  expect_eq "rx: every pair and the total" "nic>queue=$N queue>vnet_tx=$N nic>vnet_tx=$N" "$(counts rx)"
}

case_vm_pair_and_details() {
  need_root
  topo_vm two
  tool_start pair vm-pair-latency --vm-dev "$VM0" --peer-dev "$VM1" --proto udp --format json -d 60
  tool_start det vm-latency-details --direction tx --vm-dev "$VM0" --phy-dev "$PHY" --proto udp --threshold 0ns \
    --format json -d 60
  wait_line pair '"type":"interval"'
  wait_line det '"type":"stats"'
  vm_cmd vm0 "send $MAC_VM2 $IP_VM2 9997 $N"
  vm_cmd vm0 "send $MAC_P $IP_P 9999 3"
  settle
  vm_quit vm1
  local got=$VM_FRAMES
  vm_quit vm0
  tool_stop pair INT
  tool_stop det INT
  expect_eq "VM 2 read" "$N" "$got"
  # The 3 datagrams to P enter the path at VM 1's tap and leave it: P
  # has no socket on 9999 and drops them (kfree_skb).
  expect_eq "pair: started, completed" "$((N + 3)) $N" "$(sessions pair)"
  expect_eq "pair: 3 left the path after vnet_rx, dropped" "3 0 vnet_rx 3 0" \
    "$(jsonq pair 'd.sessions.dropped, d.sessions.left, d.sessions.lost[1].after, d.sessions.lost[1].dropped, d.sessions.lost[1].left')"
  expect_eq "pair: every pair and the total" "vnet_rx>queue=$N queue>vnet_tx=$N vnet_rx>vnet_tx=$N" "$(counts pair)"
  expect_eq "details: one event per frame VM 1 sent to P, with its three stages" 3 "$(count_events det "
    r.dst == '$IP_P:9999' and #r.stages == 3 and r.stages[3].at_ns == r.total_ns and r.slowest ~= nil")"
  expect_eq "details: no other event" 3 "$(jsonq det 'd.events')"
  expect_eq "details: the $N to VM 2 left its path after vnet_rx (the bridge sent them to VM 2's tap)" \
    "$((N + 3)) $N vnet_rx" "$(jsonq det '(function() for i = #lines, 1, -1 do local t = lines[i]
      if t.type == "total" then return t.sessions.started, t.sessions.left + t.sessions.dropped, t.sessions.lost[1].after end end end)()')"
}

run_case "vm-latency-summary: tx and rx through a bridge, exactly N per pair" case_vm_tx_rx
run_case "vm-pair-latency and vm-latency-details: VM to VM, and one event per packet" case_vm_pair_and_details
finish
