# ovs-lib.sh: what the OVS lab tests share (sourced after
# ../integration/lib.sh). Two namespaces A (SUBNET.1) and B (SUBNET.2)
# whose veth peers PA and PB are ports of an OVS datapath: a bridge of
# ovs-vswitchd (ovs_bridge) or a bare kernel datapath that only
# ovs-dpctl manages (ovs_bare_dp: no vswitchd, no handler listens).
# Static neighbours, IPv6 off on the host side: no ARP, ND or MLD adds
# upcalls to the ones a test makes.

# ovs_ports TAG SUBNET: the namespaces and veth pairs; sets NS_A NS_B PA PB.
ovs_ports() {
  NS_A=${PFX}${1}a NS_B=${PFX}${1}b PA=${PFX}${1}pa PB=${PFX}${1}pb
  ns_new "$NS_A"
  ns_new "$NS_B"
  ip link add "$PA" type veth peer name a0 netns "$NS_A" address 02:00:0b:00:00:01 &&
    ip link add "$PB" type veth peer name b0 netns "$NS_B" address 02:00:0b:00:00:02 ||
    fail "cannot create the veth ports"
  sysctl -qw "net.ipv6.conf.$PA.disable_ipv6=1" "net.ipv6.conf.$PB.disable_ipv6=1" >/dev/null ||
    fail "cannot disable IPv6 on the ports"
  ip link set "$PA" up && ip link set "$PB" up || fail "cannot bring the ports up"
  link_pair "$NS_A" a0 02:00:0b:00:00:01 "$NS_B" b0 02:00:0b:00:00:02 "$2"
}

# ovs_ipv6 PREFIX: IPv6 in both namespaces (PREFIX::1 and ::2, no DAD,
# static neighbours, no router solicitations).
ovs_ipv6() {
  local ns dev
  for ns in "$NS_A" "$NS_B"; do
    dev=a0
    [ "$ns" = "$NS_B" ] && dev=b0
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 "net.ipv6.conf.$dev.disable_ipv6=0" \
      "net.ipv6.conf.$dev.router_solicitations=0" "net.ipv6.conf.$dev.accept_dad=0" >/dev/null ||
      fail "cannot enable IPv6 in $ns"
  done
  ip -n "$NS_A" addr add "$1::1/64" dev a0 nodad && ip -n "$NS_B" addr add "$1::2/64" dev b0 nodad &&
    ip -n "$NS_A" neigh replace "$1::2" lladdr 02:00:0b:00:00:02 dev a0 nud permanent &&
    ip -n "$NS_B" neigh replace "$1::1" lladdr 02:00:0b:00:00:01 dev b0 nud permanent ||
    fail "cannot configure IPv6"
}

# ovs_bridge BR: ovs-vswitchd running, BR with PA (OpenFlow port 1) and PB (2).
ovs_bridge() {
  /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >"$CASE_DIR/ovs.log" 2>&1 ||
    fail "ovs-ctl start failed: $(tail -5 "$CASE_DIR/ovs.log")"
  echo "ovs-vsctl --if-exists del-br $1" >>"$CASE_DIR/cleanup"
  ovs-vsctl --may-exist add-br "$1" -- add-port "$1" "$PA" -- set interface "$PA" ofport_request=1 \
    -- add-port "$1" "$PB" -- set interface "$PB" ofport_request=2 || fail "cannot build the OVS bridge"
  sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" >/dev/null
  ip link set "$1" up || fail "cannot bring $1 up"
}

# ovs_bare_dp DP: a kernel datapath DP with PA (port 1) and PB (2), no
# vswitchd: every miss is an upcall nobody receives.
ovs_bare_dp() {
  ovs-dpctl add-dp "$1" "$PA" "$PB" || fail "ovs-dpctl add-dp $1 failed"
  echo "ovs-dpctl del-dp $1" >>"$CASE_DIR/cleanup"
}

# ovs_lookups DP FIELD: hit, missed or lost of `ovs-dpctl show DP`.
ovs_lookups() {
  ovs-dpctl show "$1" | sed -n "s/.*lookups:.* $2:\([0-9]*\).*/\1/p"
}

# ovs_cleanup_on_exit: undo what ovs_bridge/ovs_bare_dp made when the
# case ends (before lib.sh deletes the namespaces).
ovs_cleanup_on_exit() {
  trap 'sh "$CASE_DIR/cleanup" 2>/dev/null; case_cleanup' EXIT
}

# ovs_flow_packets DP ERE: the packets of DP's flows whose line matches ERE.
ovs_flow_packets() {
  ovs-dpctl dump-flows "$1" | grep -E -- "$2" | sed -n 's/.*packets:\([0-9]*\).*/\1/p' | awk '{n += $1} END {print n + 0}'
}

# total_of TAG ERE: the last number on the lines of the final report
# (after "Total since start") that match ERE, summed.
total_of() {
  awk -v re="$2" '/^Total since start/ {on = 1; n = 0; next} on && $0 ~ re {n += $NF} END {print n + 0}' \
    "$CASE_DIR/$1.out"
}

# upcalls_of TAG WHAT: sent, came_back, failed or never of the tool's
# last "upcalls:" line.
upcalls_of() {
  local line
  line=$(grep '^upcalls:' "$CASE_DIR/$1.out" | tail -1)
  case $2 in
    sent) sed -n 's/^upcalls: \([0-9]*\) sent.*/\1/p' <<<"$line" ;;
    came_back) sed -n 's/.* \([0-9]*\) came back.*/\1/p' <<<"$line" ;;
    failed) sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$line" ;;
    never) sed -n 's/.* \([0-9]*\) never came back.*/\1/p' <<<"$line" ;;
  esac
}
