#!/usr/bin/env bash
# Lab: drop-summary on a stock kernel with the distro's headers (the
# guest's linux-headers package, not a tree generated from BTF): compiled
# against them on the host (vnetscope compile), loaded from the pack in a
# guest without LLVM. Exact counts of UDP drops to a closed port and of
# an nftables drop rule: by reason where the kernel gives reasons (5.17+),
# by location where it does not (5.10).
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

# has_drop_reasons: skb:kfree_skb has a reason field (Linux 5.17+).
has_drop_reasons() { grep -q ' reason;' /sys/kernel/tracing/events/skb/kfree_skb/format 2>/dev/null; }

case_headers_mode() {
  need_root
  vns_run hdr 60 -e 'print(require("vns.core").kheaders())'
  expect_eq "headers from the distro package" "modules$(printf '\t')/lib/modules/$(uname -r)/build" "$(out_of hdr)"
  expect_eq "LLVM libraries in the guest" 0 "$(find /usr/lib -name 'libLLVM*' | wc -l)"
  topo_pair
  nft_drop_udp "$NS_B" 7777
  tool_start ds drop-summary --group-by location --dev "$DEV_B" --format json -i 1 -d 900
  wait_line ds '"type":"interval"'
  send_udp "$NS_A" "$IP_B" 9999 17
  send_udp "$NS_A" "$IP_B" 7777 9
  settle
  tool_stop ds INT
  expect_eq "final total" "total true 26" "$(jsonq ds 'd.type, d.final, d.total')"
  if has_drop_reasons; then
    expect_eq "NO_SOCKET and NETFILTER_DROP" "17 9" "$(jsonq ds "(function(t)
        for _, r in ipairs(d.drops) do t[r.reason] = (t[r.reason] or 0) + r.count end
        return t.NO_SOCKET, t.NETFILTER_DROP end)({})")"
  else
    # No reasons before 5.17: the two kinds of drop by where they happen.
    expect_eq "drops at __udp4_lib_rcv and at nf_hook_slow, no reason" "17 9 true" "$(jsonq ds "(function(u, n, none)
        for _, r in ipairs(d.drops) do
          if r.location:match('^__udp4_lib_rcv%+') then u = u + r.count end
          if r.location:match('^nf_hook_slow%+') then n = n + r.count end
          none = none and r.reason == nil
        end
        return u, n, none end)(0, 0, true)")"
  fi
}

run_case "lab: drop-summary compiled on the host with the distro's headers counts exactly" case_headers_mode
finish
