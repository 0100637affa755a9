#!/usr/bin/env bash
# Lab: ip-defrag on a stock kernel without kfree_skb's fragment reasons
# (6.1, 5.10): the kprobe variant (inet_frag_queue_insert, ip_expire,
# ip6_frag_expire). The same crafted fragments as on the host
# (tests/integration/frags.sh), each datagram's fate and the totals
# against the namespace's own reassembly counters.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=../integration/frags.sh
. "$(dirname "$0")/../integration/frags.sh"

run_case "lab: ip-defrag: IPv4 and IPv6 datagrams complete, duplicate, overlap, timeout = the kernel's counters" case_datagrams
run_case "lab: ip-defrag: a flow filter excludes the fragments" case_filter_excludes
finish
