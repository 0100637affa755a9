#!/usr/bin/env bash
# skb-trace: each datagram's path across the transmit and receive
# tracepoints of a veth pair, one path per datagram in the order the
# kernel passed them; another flow is not shown; --gso-anomaly fires only
# for frames written to a tap whose virtio-net header claims TCP
# segmentation for a UDP packet.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# A subnet of its own: other tests send to 10.231.1.x at the same time.
topo_skb() {
  NS_A=${PFX}a NS_B=${PFX}b DEV_A=${PFX}a DEV_B=${PFX}b IP_A=10.231.77.1 IP_B=10.231.77.2
  ns_new "$NS_A"
  ns_new "$NS_B"
  veth "$NS_A" "$DEV_A" "$NS_B" "$DEV_B" 10.231.77
}

# The paths of a JSON run: "N path(s): PROBE@DEV ..." per distinct
# sequence, hits in their sequence numbers' order (and time order).
paths_of() {
  jsonq "$1" "(function()
    local paths, order = {}, {}
    for _, r in ipairs(lines) do
      if r.type == 'event' then
        if not paths[r.path] then paths[r.path] = {}; order[#order + 1] = r.path end
        table.insert(paths[r.path], r)
      end
    end
    local kinds, names = {}, {}
    for _, id in ipairs(order) do
      local hits = paths[id]
      table.sort(hits, function(a, b) return a.seq < b.seq end)
      local parts = {}
      for i, h in ipairs(hits) do
        if h.seq ~= i then parts[#parts + 1] = 'SEQ-GAP' end
        if i > 1 and h.ts < hits[i - 1].ts then parts[#parts + 1] = 'TIME-BACKWARDS' end
        parts[#parts + 1] = h.probe .. '@' .. (h.dev == '$DEV_A' and 'A' or h.dev == '$DEV_B' and 'B' or tostring(h.dev))
      end
      local k = table.concat(parts, ' ')
      if not kinds[k] then kinds[k] = 0; names[#names + 1] = k end
      kinds[k] = kinds[k] + 1
    end
    local out = {}
    for _, k in ipairs(names) do out[#out + 1] = kinds[k] .. ' x ' .. k end
    return table.concat(out, '; ')
  end)()"
}

case_paths() {
  need_root
  topo_skb
  tool_start st skb-trace --src-ip "$IP_A" --proto udp --dst-port 9999 --format json -i 1 -d 60
  wait_line st '"type":"stats"'
  # 7 datagrams of the flow, 5 of another port; no socket listens: the
  # receiving stack drops each (kfree_skb ends its path).
  send_udp_from "$NS_A" "$IP_B" 9999 40000 7
  send_udp_from "$NS_A" "$IP_B" 8888 40001 5
  local i
  for ((i = 0; i < 50; i++)); do
    [ "$(ip netns exec "$NS_B" awk '/^Udp: [0-9]/ {print $3}' /proc/net/snmp)" -ge 12 ] && break
    sleep 0.1
  done
  settle
  tool_stop st INT
  expect_eq "exit status" 0 "$STATUS"
  expect_eq "datagrams B's stack dropped for no socket (/proc/net/snmp NoPorts)" 12 \
    "$(ip netns exec "$NS_B" awk '/^Udp: [0-9]/ {print $3}' /proc/net/snmp)"
  expect_eq "paths: one per datagram of the flow, every hit in order" \
    "7 x net_dev_queue@A net_dev_start_xmit@A netif_rx@B net_dev_xmit@B netif_receive_skb@B kfree_skb@B" \
    "$(paths_of st)"
  expect_eq "events of the other flow" 0 "$(count_events st "r.dport ~= 9999 or r.src ~= '$IP_A'")"
  expect_eq "facts: udp, length, checksum state, no GSO" 42 "$(count_events st "r.proto == 'udp' and r.sport == 40000
    and r.len > 0 and r.gso_size == 0 and r.gso_type == '0' and (r.csum == 'PARTIAL' or r.csum == 'NONE')
    and r.mark == 0 and not r.tracked and not r.anomaly")"
  expect_eq "final stats" "42 0 0 true" "$(jsonq st 'd.events, d.suppressed, d.lost, d.final')"
}

# The text output: a header, the attach line, one line per hit.
case_text() {
  need_root
  topo_skb
  tool_start st skb-trace --src-ip "$IP_A" --dst-port 9999 --group xmit -i 1 -d 60
  wait_ready st
  send_udp_from "$NS_A" "$IP_B" 9999 40000 3
  settle
  tool_stop st INT
  expect_match "attach line" '^[0-9]+ probe points, 0 kprobes attached in [0-9.]+ s$' "$(sed -n 2p "$CASE_DIR/st.out")"
  expect_eq "lines at net_dev_start_xmit on $DEV_A" 3 \
    "$(grep -Ec " net_dev_start_xmit +$DEV_A .* udp $IP_A:40000 > $IP_B:9999\$" "$CASE_DIR/st.out")"
  expect_match "total line" '^Total since start: [0-9]+ events, 0 suppressed, 0 lost$' "$(total_line st)"
}

# tap_write NS DEV: open DEV as a tap with virtio-net headers
# (IFF_VNET_HDR) and write 4 plain UDP frames, 3 UDP frames whose header
# claims TCPv4 segmentation (gso_size 100, checksum offload requested:
# virtio_net_hdr_to_skb accepts that without checking the protocol) and
# 2 TCP frames with the same, correct, header. Prints "wrote P A T".
tap_write() {
  ip netns exec "$1" perl -e '
    use strict;
    my ($dev, $src, $dst) = @ARGV;
    open(my $tun, "+<", "/dev/net/tun") or die "/dev/net/tun: $!\n";
    # TUNSETIFF, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
    ioctl($tun, 0x400454ca, pack("a16 s", $dev, 0x0002 | 0x1000 | 0x4000)) or die "TUNSETIFF: $!\n";
    system("ip", "link", "set", $dev, "up") == 0 or die "link up\n";
    sub ip4 { my ($proto, $len) = @_;
      my @s = split /\./, $src; my @d = split /\./, $dst;
      pack("C C n n n C C n C4 C4", 0x45, 0, 20 + $len, 1, 0x4000, 64, $proto, 0, @s, @d) }
    sub frame { my ($vnet, $ip, $l4) = @_;
      $vnet . pack("H12 H12 n", "020000000002", "020000000001", 0x0800) . $ip . $l4 }
    my $payload = "x" x 300;
    my $udp = pack("n n n n", 40000, 9999, 8 + length $payload, 0) . $payload;
    my $tcp = pack("n n N N n n n n", 40000, 9999, 1, 0, 0x5010, 65535, 0, 0) . $payload;
    # struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset (LE)
    my $plain = pack("C C v v v v", 0, 0, 0, 0, 0, 0);
    # NEEDS_CSUM, GSO_TCPV4; the checksum offset of TCP (16), which
    # kernels since 6.11 require for TCPv4 GSO, inside the UDP payload
    my $tso_udp = pack("C C v v v v", 1, 1, 54, 100, 34, 16);
    my $tso_tcp = pack("C C v v v v", 1, 1, 54, 100, 34, 16);
    my %n = (p => 0, a => 0, t => 0);
    for (1 .. 4) { syswrite($tun, frame($plain, ip4(17, length $udp), $udp)) and $n{p}++ }
    for (1 .. 3) { syswrite($tun, frame($tso_udp, ip4(17, length $udp), $udp)) and $n{a}++ }
    for (1 .. 2) { syswrite($tun, frame($tso_tcp, ip4(6, length $tcp), $tcp)) and $n{t}++ }
    print "wrote $n{p} $n{a} $n{t}\n";' "$2" 10.231.78.2 10.231.78.1
}

case_gso_anomaly() {
  need_root
  [ -c /dev/net/tun ] || skip "no /dev/net/tun"
  NS_A=${PFX}a
  ns_new "$NS_A"
  local tap=${PFX}t
  ip netns exec "$NS_A" ip tuntap add dev "$tap" mode tap vnet_hdr || skip "cannot create a tap with vnet_hdr"
  ip -n "$NS_A" addr add 10.231.78.1/24 dev "$tap"
  tool_start st skb-trace --dev "$tap" --gso-anomaly --group receive --format json -i 1 -d 60
  wait_line st '"type":"stats"'
  local wrote rx
  wrote=$(tap_write "$NS_A" "$tap")
  settle
  tool_stop st INT
  rx=$(ip -n "$NS_A" -s -j link show "$tap" | lua5.4 -e 'print(io.read("a"):match([["rx":{"bytes":%d+,"packets":(%d+)]]))')
  expect_eq "frames the tap took (plain, anomalous, correct TSO)" "wrote 4 3 2" "$wrote"
  expect_eq "packets the tap received (ip -s link)" 9 "$rx"
  expect_eq "paths flagged: one per crafted frame" 3 \
    "$(jsonq st "(function() local p = {} local n = 0 for _, r in ipairs(lines) do
       if r.type == 'event' and r.anomaly and r.proto == 'udp' and r.gso_size == 100
          and r.gso_type:match('tcpv4') and not p[r.path] then p[r.path] = true n = n + 1 end end return n end)()")"
  expect_eq "events that are not the crafted frames" 0 \
    "$(count_events st "not (r.anomaly and r.proto == 'udp' and r.gso_size == 100)")"
}

run_case "skb-trace: one path per datagram across a veth pair's tracepoints, in order; another flow left out" case_paths
run_case "skb-trace: text output, one line per hit" case_text
run_case "skb-trace --gso-anomaly: only the tap frames whose GSO type does not fit" case_gso_anomaly
finish
