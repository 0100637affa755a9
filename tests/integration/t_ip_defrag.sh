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
run_case "ip-defrag: kprobe variant loads; attach fails clearly without kprobes" case_kprobe_variant
finish
