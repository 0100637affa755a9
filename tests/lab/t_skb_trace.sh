#!/usr/bin/env bash
# Lab: skb-trace's kprobe groups and --track.
#  - gso, qdisc and tun: UDP GSO datagrams (UDP_SEGMENT) routed to a tap
#    device whose reader counts frames; the tap offers no offloads, so
#    the stack segments in software (validate_xmit_skb), passes the
#    qdisc and a clsact filter, and tun_net_xmit takes each segment.
#  - --track across VXLAN between two namespaces: matched by device at
#    the VXLAN device before encapsulation, followed through the underlay
#    veth (where only --track knows it) and the decapsulation at B.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

wait_for() {  # FILE ERE SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -Eq -- "$2" "$1" && return 0
    sleep 0.1
  done
  fail "no line /$2/ in ${1##*/} within $3 s: $(head -c 400 "$1")"
}

tap_reader() {  # NS DEV SECONDS: print "ready", then "frames N" read
  ip netns exec "$1" perl -e '
    use strict;
    my ($dev, $secs) = @ARGV;
    open(my $tun, "+<", "/dev/net/tun") or die "/dev/net/tun: $!\n";
    ioctl($tun, 0x400454ca, pack("a16 s", $dev, 0x0002 | 0x1000)) or die "TUNSETIFF: $!\n";
    # TUNSETOFFLOAD TUN_F_CSUM: checksum offload, which UDP GSO needs
    # (else EIO); no GSO feature, so the stack segments in software.
    ioctl($tun, 0x400454d0, 1) or die "TUNSETOFFLOAD: $!\n";
    $| = 1;
    print "ready\n";
    my ($n, $buf, $rin) = (0, "", "");
    vec($rin, fileno($tun), 1) = 1;
    my $end = time + $secs;
    while (time < $end) {
      next unless select(my $r = $rin, undef, undef, 0.2);
      sysread($tun, $buf, 65536) and $n++;
    }
    print "frames $n\n";' "$2" "$3"
}

# send_gso NS IP PORT COUNT: COUNT datagrams of 3000 bytes with
# UDP_SEGMENT 1000 (3 segments each) from port 40000.
send_gso() {
  timeout 60 ip netns exec "$1" perl -MSocket -e '
    my ($ip, $port, $n) = @ARGV;
    socket(my $s, PF_INET, SOCK_DGRAM, 17) or die "socket: $!\n";
    bind($s, sockaddr_in(40000, INADDR_ANY)) or die "bind: $!\n";
    setsockopt($s, 17, 103, pack("i", 1000)) or die "UDP_SEGMENT: $!\n";   # SOL_UDP, UDP_SEGMENT
    my $to = sockaddr_in($port, inet_aton($ip));
    for (1 .. $n) { defined send($s, "x" x 3000, 0, $to) or die "send: $!\n" }' "$2" "$3" "$4" ||
    fail "sending GSO datagrams failed"
}

case_groups() {
  need_root
  topo_pair
  local tap=${PFX}t
  ip netns exec "$NS_A" ip tuntap add dev "$tap" mode tap || fail "cannot create tap $tap"
  ip netns exec "$NS_A" ip addr add 10.231.5.1/24 dev "$tap"
  ip netns exec "$NS_A" ip link set "$tap" up
  ip netns exec "$NS_A" ip neigh add 10.231.5.2 lladdr 02:00:00:00:05:02 dev "$tap" nud permanent
  ip netns exec "$NS_A" tc qdisc replace dev "$tap" root pfifo limit 1000 || fail "no pfifo on $tap"
  ip netns exec "$NS_A" tc qdisc add dev "$tap" clsact &&
    ip netns exec "$NS_A" tc filter add dev "$tap" egress matchall action pass || fail "no clsact filter on $tap"
  tool_start st skb-trace --group gso,qdisc,tun --dst-ip 10.231.5.2 --dst-port 9999 --format json -i 1 -d 900
  wait_line st '"type":"stats"'
  tap_reader "$NS_A" "$tap" 20 >"$CASE_DIR/reader.out" 2>&1 &
  echo $! >>"$CASE_DIR/pids"
  wait_for "$CASE_DIR/reader.out" '^ready$' 30
  sleep 1
  send_gso "$NS_A" 10.231.5.2 9999 4
  wait_for "$CASE_DIR/reader.out" '^frames ' 40
  tool_stop st INT
  expect_eq "frames the tap's reader got (4 datagrams x 3 segments)" "frames 12" "$(grep '^frames' "$CASE_DIR/reader.out")"
  expect_match "attach line: kprobes attached, time measured" '"kprobes":[1-9]' "$(grep '"type":"attach"' "$CASE_DIR/st.out")"
  grep '"type":"attach"' "$CASE_DIR/st.out" | sed 's/^/    attach: /'
  expect_eq "tun_net_xmit hits: one per segment the reader got" 12 \
    "$(count_events st "r.probe:match('^tun_net_xmit') and r.dev == '$tap' and r.len < 1100 and r.kind == 'kprobe'")"
  expect_eq "segmentation seen on each GSO datagram (skb_segment, gso_size 1000, udp_l4)" 4 \
    "$(count_events st "r.probe:match('^skb_segment') and r.gso_size == 1000 and r.gso_type:match('udp_l4')")"
  expect_gt "qdisc hits (sch_direct_xmit or qdisc tracepoints)" 0 \
    "$(count_events st "r.probe:match('^sch_direct_xmit') or r.probe:match('^qdisc_')")"
  expect_gt "tc classifier hits (tcf_classify)" 0 "$(count_events st "r.probe:match('^tcf_classify')")"
}

case_track_vxlan() {
  need_root
  modprobe vxlan 2>/dev/null
  NS_A=${PFX}a NS_B=${PFX}b
  ns_new "$NS_A"
  ns_new "$NS_B"
  veth "$NS_A" "${PFX}a" "$NS_B" "${PFX}b" 10.231.80
  local vxa=${PFX}va vxb=${PFX}vb
  ip -n "$NS_A" link add "$vxa" type vxlan id 42 dstport 4789 local 10.231.80.1 remote 10.231.80.2 ||
    skip "no vxlan in this kernel: $(modprobe vxlan 2>&1)"
  ip -n "$NS_B" link add "$vxb" type vxlan id 42 dstport 4789 local 10.231.80.2 remote 10.231.80.1 ||
    fail "cannot add $vxb"
  veth_like() { ip -n "$1" addr add "$3" dev "$2" && ip -n "$1" link set "$2" address "$4" up; }
  veth_like "$NS_A" "$vxa" 10.231.81.1/24 02:00:51:00:00:01
  veth_like "$NS_B" "$vxb" 10.231.81.2/24 02:00:51:00:00:02
  # Static neighbours both ways: no ARP through the tunnel while tracing
  # (an ARP reply leaving $vxa would start a path of its own).
  ip -n "$NS_A" neigh replace 10.231.81.2 lladdr 02:00:51:00:00:02 dev "$vxa" nud permanent
  ip -n "$NS_B" neigh replace 10.231.81.1 lladdr 02:00:51:00:00:01 dev "$vxb" nud permanent
  tool_start st skb-trace --group xmit,receive,tunnel --dev "$vxa" --track --format json -i 1 -d 900
  wait_line st '"type":"stats"'
  send_udp_from "$NS_A" 10.231.81.2 9999 40000 5
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(ip netns exec "$NS_B" awk '/^Udp: [0-9]/ {print $3}' /proc/net/snmp)" -ge 5 ] && break
    sleep 0.2
  done
  settle
  tool_stop st INT
  expect_eq "datagrams B's stack got (NoPorts)" 5 "$(ip netns exec "$NS_B" awk '/^Udp: [0-9]/ {print $3}' /proc/net/snmp)"
  grep '"type":"attach"' "$CASE_DIR/st.out" | sed 's/^/    attach: /'
  # (B's ICMP errors coming back in on $vxa start paths of their own.)
  expect_eq "paths of the datagrams, started at $vxa" 5 "$(count_events st "r.seq == 1 and r.dev == '$vxa'
    and r.dport == 9999 and not r.tracked")"
  expect_eq "tracked on the underlay at B: outer VXLAN, inner flow to 9999" 5 \
    "$(count_events st "r.tracked and r.dev == '${PFX}b' and r.probe == 'netif_receive_skb' and r.tunnel == 'vxlan'
      and r.dport == 4789 and r.inner and r.inner.dport == 9999 and r.inner.dst == '10.231.81.2'")"
  expect_eq "tracked through decapsulation (vxlan_rcv)" 5 "$(count_events st "r.tracked and r.probe:match('^vxlan_rcv')
    and r.inner and r.inner.dport == 9999")"
  expect_eq "tracked to $vxb (the inner packet)" 5 \
    "$(count_events st "r.tracked and r.dev == '$vxb' and r.probe == 'netif_receive_skb' and r.dport == 9999")"
  expect_eq "paths ended at B's drop (kfree_skb)" 5 "$(count_events st "r.probe == 'kfree_skb' and r.dev == '$vxb'")"
}

run_case "lab: skb-trace gso, qdisc and tun groups on UDP GSO datagrams through a tap" case_groups
run_case "lab: skb-trace --track across a VXLAN tunnel between two namespaces" case_track_vxlan
finish
