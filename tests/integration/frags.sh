# shellcheck shell=bash
# frags.sh: the fragments ip-defrag's tests send and what they expect,
# sourced by tests/integration/t_ip_defrag.sh (this kernel: kfree_skb's
# fragment reasons) and tests/lab/t_ip_defrag.sh (the lab's 6.1 and
# 5.10, which have none: the kprobe variant). Needs lib.sh first.

snmp6() { ip netns exec "$1" awk -v n="$2" '$1 == n {print $2}' /proc/net/snmp6; }

# counters NS FAMILY: "reqds oks fails timeout [overlaps]" of NS.
counters() {
  if [ "$2" = 4 ]; then
    echo "$(snmp "$1" snmp Ip ReasmReqds) $(snmp "$1" snmp Ip ReasmOKs) $(snmp "$1" snmp Ip ReasmFails)" \
      "$(snmp "$1" snmp Ip ReasmTimeout) $(snmp "$1" netstat IpExt ReasmOverlaps)"
  else
    echo "$(snmp6 "$1" Ip6ReasmReqds) $(snmp6 "$1" Ip6ReasmOKs) $(snmp6 "$1" Ip6ReasmFails) $(snmp6 "$1" Ip6ReasmTimeout)"
  fi
}

# delta "A B C" "D E F": "D-A E-B F-C"
delta() {
  local -a a b
  read -ra a <<<"$1"
  read -ra b <<<"$2"
  local i out=()
  for i in "${!b[@]}"; do out+=($((b[i] - a[i]))); done
  echo "${out[*]}"
}

# IPv6 back on in both namespaces (ns_new turns it off), addresses
# without DAD and static neighbours.
topo_v6() {
  local ns
  for ns in "$NS_A" "$NS_B"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 >/dev/null
  done
  ip netns exec "$NS_A" sysctl -qw "net.ipv6.conf.$DEV_A.disable_ipv6=0" >/dev/null
  ip netns exec "$NS_B" sysctl -qw "net.ipv6.conf.$DEV_B.disable_ipv6=0" >/dev/null
  ip -n "$NS_A" addr add fd00:231:1::1/64 dev "$DEV_A" nodad &&
    ip -n "$NS_B" addr add fd00:231:1::2/64 dev "$DEV_B" nodad || fail "cannot add IPv6 addresses"
}

# send_frags SRC DST < specs: fragments from A to B.
send_frags() {
  local mac
  mac=$(ip -n "$NS_B" -o link show "$DEV_B" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  timeout 30 ip netns exec "$NS_A" perl "$TESTS_DIR/send-frags.pl" "$DEV_A" "$1" "$2" "$mac" ||
    fail "send-frags.pl $1 > $2 failed"
}

# The four datagrams, each a separate burst.
send_all() {
  printf '1 64 0 16\n1 64 16 16\n1 64 32 16\n1 64 48 16 last\n' | send_frags "$1" "$2"
  printf '2 48 0 16\n2 48 16 16\n2 48 16 16\n2 48 32 16 last\n' | send_frags "$1" "$2"
  printf '3 48 0 16\n3 48 8 16\n' | send_frags "$1" "$2"
  printf '4 48 0 16\n' | send_frags "$1" "$2"
}

# wait_timeouts NS FAMILY N: until NS counted N reassembly timeouts (10 s).
wait_timeouts() {
  local i c
  for ((i = 0; i < 100; i++)); do
    read -r -a c <<<"$(counters "$1" "$2")"
    [ "${c[3]}" -ge "$3" ] && return 0
    sleep 0.1
  done
  fail "no reassembly timeout in $1 after 10 s"
}

case_datagrams() {
  need_root
  need_cmd perl lua5.4
  local variant=tracepoint
  if ! grep -q 'FRAG_REASM_TIMEOUT' /sys/kernel/tracing/events/skb/kfree_skb/format 2>/dev/null; then
    [ -e /sys/kernel/tracing/kprobe_events ] ||
      skip "neither fragment drop reasons in skb:kfree_skb (Linux 6.1+) nor kprobes here"
    variant=kprobe
  fi
  topo_pair
  topo_v6
  ip netns exec "$NS_B" sysctl -qw net.ipv4.ipfrag_time=1 net.ipv6.ip6frag_time=1 || fail "cannot set ipfrag_time"
  # conntrack's IPv6 reassembler has its own (where it is loaded)
  ip netns exec "$NS_B" sysctl -qw net.netfilter.nf_conntrack_frag6_timeout=1 2>/dev/null
  local before4 before6 after4 after6
  # In B's namespace: the kernel counters the tool shows are B's.
  NETNS=$NS_B tool_start js ip-defrag --host "$IP_A,fd00:231:1::1" --format json -i 1 -d 120
  NETNS=$NS_B tool_start tx ip-defrag --dev "$DEV_B" -i 60 -d 120
  wait_ready tx
  wait_line js '"type":"interval"'
  before4=$(counters "$NS_B" 4)
  before6=$(counters "$NS_B" 6)
  send_all "$IP_A" "$IP_B"
  send_all fd00:231:1::1 fd00:231:1::2
  wait_timeouts "$NS_B" 4 $(($(echo "$before4" | cut -d' ' -f4) + 1))
  wait_timeouts "$NS_B" 6 $(($(echo "$before6" | cut -d' ' -f4) + 1))
  settle
  after4=$(counters "$NS_B" 4)
  after6=$(counters "$NS_B" 6)
  tool_stop js INT
  tool_stop tx INT
  # What was sent, as B's kernel counted it: 11 fragments reached the
  # reassembler, 2 datagrams completed, 2 failed (an overlap, a timeout).
  expect_eq "IPv4 kernel counters (reqds oks fails timeout overlaps)" "11 2 2 1 1" "$(delta "$before4" "$after4")"
  # Where conntrack's IPv6 defrag runs in B (nf_defrag_ipv6 is on in
  # every namespace once the openvswitch module is loaded, on 5.10), it
  # reassembles before the host and only its timeouts reach the counters.
  local v6="11 2 2 1"
  [ "$(delta "$before6" "$after6" | cut -d' ' -f1)" = 0 ] && v6="0 0 1 1"
  expect_eq "IPv6 kernel counters (reqds oks fails timeout)" "$v6" "$(delta "$before6" "$after6")"
  expect_eq "the variant this kernel takes" "$variant" "$(jsonq js d.variant)"
  local q
  for fam in 4 6; do
    # Per datagram: fragments, duplicates, overlaps, status, by id.
    q="(function() local s = {} for _, r in ipairs(d.datagrams) do if r.family == $fam then
         s[#s + 1] = r.id .. ':' .. r.frags .. '/' .. r.dups .. '/' .. r.overlaps .. '/' .. r.status end end
         table.sort(s) return table.concat(s, ' ') end)()"
    expect_eq "IPv$fam datagrams (id:frags/dups/overlaps/status)" \
      "1:4/0/0/complete 2:4/1/0/complete 3:2/0/1/overlap 4:1/0/0/timeout" "$(jsonq js "$q")"
  done
  local k4
  read -r -a k4 <<<"$(delta "$before4" "$after4")"
  # The totals: what was sent; IPv4's against the kernel's counters.
  expect_eq "totals: fragments, complete, timed out, overlaps" "22 4 2 2" \
    "$(jsonq js "d.totals.frags, d.totals.complete, d.totals.timeout, d.totals.overlaps")"
  expect_eq "IPv4: fragments, complete, timed out, overlaps = the kernel's" "${k4[0]} ${k4[1]} ${k4[3]} ${k4[4]}" \
    "$(jsonq js "(function() local f, c, t, o = 0, 0, 0, 0 for _, r in ipairs(d.datagrams) do if r.family == 4 then
       f = f + r.frags; o = o + r.overlaps; c = c + (r.status == 'complete' and 1 or 0); t = t + (r.status == 'timeout' and 1 or 0)
       end end return f .. ' ' .. c .. ' ' .. t .. ' ' .. o end)()")"
  expect_eq "the kernel counters the tool read in B" "11 2 1 1 $(echo "$v6" | cut -d' ' -f1-2)" \
    "$(jsonq js "d.kernel.ReasmReqds, d.kernel.ReasmOKs, d.kernel.ReasmTimeout, d.kernel.ReasmOverlaps, d.kernel.Ip6ReasmReqds, d.kernel.Ip6ReasmOKs")"
  expect_eq "text total line" \
    "Total since start  fragments: 22  datagrams: 8  complete: 4  duplicates: 2  overlaps: 2  timed out: 2  too far: 0  dropped: 0" \
    "$(grep '^Total since start' "$CASE_DIR/tx.out")"
  expect_match "text row: the duplicate" '^ +4 +48 +48 +1 +0 +0  complete  udp 10\.231\.1\.1 > 10\.231\.1\.2 id 2$' \
    "$(sed -n '/^Total since start/,$p' "$CASE_DIR/tx.out")"
}

# A filter that matches none of the fragments counts none.
case_filter_excludes() {
  need_root
  need_cmd perl
  topo_pair
  NETNS=$NS_B tool_start tx ip-defrag --src-ip 10.231.77.1 -i 60 -d 60
  wait_ready tx
  printf '1 64 0 16\n1 64 16 16\n1 64 32 16\n1 64 48 16 last\n' | send_frags "$IP_A" "$IP_B"
  settle
  tool_stop tx INT
  expect_eq "total line" \
    "Total since start  fragments: 0  datagrams: 0  complete: 0  duplicates: 0  overlaps: 0  timed out: 0  too far: 0  dropped: 0" \
    "$(grep '^Total since start' "$CASE_DIR/tx.out")"
}

