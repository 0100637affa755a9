#!/usr/bin/env bash
# ip-defrag: A sends B crafted fragments (send-frags.pl), IPv4 and IPv6:
# a datagram in 4 fragments, one in 3 with a duplicate, one whose second
# fragment overlaps the first, one whose last fragment never comes (B's
# ipfrag_time is 1 s). What the tool says of each datagram must be what
# was sent, and its totals B's own counters (/proc/net/snmp, netstat,
# snmp6). The kprobe variant verifier-loads; here it cannot attach.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck source=frags.sh
. "$(dirname "$0")/frags.sh"

# Too far: B lets 1 fragment from A come between two of one datagram
# (ipfrag_max_dist); datagram 6 comes whole between 5's first and
# second fragments, so 5's first is dropped (FRAG_TOO_FAR) and the rest
# times out. The kernel counts both as ReasmFails, the timeout also as
# ReasmTimeout: the difference is the too-far.
case_too_far() {
  need_root
  need_cmd perl lua5.4
  grep -q FRAG_TOO_FAR /sys/kernel/tracing/events/skb/kfree_skb/format 2>/dev/null ||
    skip "no FRAG_TOO_FAR drop reason in skb:kfree_skb here"
  topo_pair
  ip netns exec "$NS_B" sysctl -qw net.ipv4.ipfrag_time=1 net.ipv4.ipfrag_max_dist=1 ||
    fail "cannot set ipfrag_time and ipfrag_max_dist"
  NETNS=$NS_B tool_start js ip-defrag --host "$IP_A,fd00:231:1::1" --format json -i 1 -d 120
  wait_line js '"type":"interval"'
  local before after k
  before=$(counters "$NS_B" 4)
  printf '5 64 0 16\n6 64 0 16\n6 64 16 16\n6 64 32 16\n6 64 48 16 last\n5 64 16 16\n5 64 32 16\n5 64 48 16 last\n' |
    send_frags "$IP_A" "$IP_B"
  wait_timeouts "$NS_B" 4 $(($(echo "$before" | cut -d' ' -f4) + 1))
  settle
  after=$(counters "$NS_B" 4)
  tool_stop js INT
  read -r -a k <<<"$(delta "$before" "$after")"
  expect_eq "B's counters: datagram 6 reassembled, 5 failed twice (too far, then timed out)" "1 2 1" "${k[1]} ${k[2]} ${k[3]}"
  expect_eq "too far = ReasmFails - ReasmTimeout" "$((k[2] - k[3]))" "$(jsonq js 'd.totals["too-far"]')"
  expect_eq "datagrams (id:frags/status)" "5:4/too-far 6:4/complete" \
    "$(jsonq js "(function() local s = {} for _, r in ipairs(d.datagrams) do s[#s + 1] = r.id .. ':' .. r.frags .. '/' .. r.status end
       table.sort(s) return table.concat(s, ' ') end)()")"
}

case_kprobe_variant() {
  need_root
  vns_run chk 180 check ip-defrag
  expect_eq "check exit status" 0 "$STATUS"
  expect_match "kprobe programs verifier-loaded" 'kprobe_by_script__insert_return +kprobe +[0-9]+ +[0-9]+ +ok' "$(out_of chk)"
  expect_match "the timers' probes" 'kprobe_by_script__expire6 +kprobe +[0-9]+ +[0-9]+ +ok' "$(out_of chk)"
  if [ -e /sys/kernel/tracing/kprobe_events ] || [ -e /sys/kernel/debug/tracing/kprobe_events ]; then
    skip "this kernel has kprobes: the attach-failure message is not testable here"
  fi
  vns_run kp 120 ip-defrag --variant kprobe -d 1
  expect_eq "exit status" 1 "$STATUS"
  expect_match "one clear message" '^vnetscope: kprobe [a-z_0-9]+: kprobes are not supported by this kernel' "$(err_of kp)"
}

run_case "ip-defrag: IPv4 and IPv6 datagrams complete, duplicate, overlap, timeout = the kernel's counters" case_datagrams
run_case "ip-defrag: a flow filter excludes the fragments" case_filter_excludes
run_case "ip-defrag: a fragment too far (ipfrag_max_dist) = ReasmFails - ReasmTimeout" case_too_far
run_case "ip-defrag: kprobe variant loads; attach fails clearly without kprobes" case_kprobe_variant
finish
