#!/usr/bin/env bash
# Lab: vnet-txdrop on taps driven by vhost-net (tests/lab/fixtures/
# vhost-fixture.c). Field incident 2 on demand: a tap whose "guest" posts
# no RX buffers, txqueuelen 16, 1000 frames injected -> its tx_ring fills
# and tun drops the rest; a second tap with a TX MAC filter
# (TUNSETTXFILTER) that the frames do not match drops them all. Oracle:
# each tap's TX dropped (`ip -s link`); the tool's totals must equal its
# increase, per tap, with the cause named.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=vhost-lib.sh
. "$(dirname "$0")/vhost-lib.sh"

# drops_of TAG DEV CAUSE: the final report's drops of DEV with CAUSE
# ("" = every cause).
drops_of() {
  jsonq "$1" "(function() local n = 0 for _, r in ipairs(d.drops) do
    if r.dev == '$2' and ('$3' == '' or r.cause == '$3') then n = n + r.count end end return n end)()"
}

case_ring_full_and_filter() {
  need_root
  need_vhost_fixture
  local ns=${PFX}v full=${PFX}f flt=${PFX}m
  ns_new "$ns"
  vhost_tap "$ns" "$full" 16
  vhost_tap "$ns" "$flt" 1000
  local before_full before_flt
  before_full=$(tx_dropped "$ns" "$full")
  before_flt=$(tx_dropped "$ns" "$flt")
  tool_start d vnet-txdrop --format json -i 1 -d 300
  wait_line d "\"type\":\"interval\""
  vhost_run full "$ns" "$full" --inject 1000 --seconds 2
  vhost_run flt "$ns" "$flt" --rx 64 --inject 20 --txfilter 02:00:00:00:00:09 --seconds 2
  local full_dropped=$(($(tx_dropped "$ns" "$full") - before_full))
  local flt_dropped=$(($(tx_dropped "$ns" "$flt") - before_flt))
  tool_stop d INT
  expect_eq "frames the fixture injected into $full" 1000 "$(fixture_fact full injected)"
  expect_gt "TX dropped of $full (ring of 16, nobody reading)" 900 "$full_dropped"
  expect_eq "vnet-txdrop drops on $full == its TX dropped increase" "$full_dropped" "$(drops_of d "$full" "")"
  expect_eq "vnet-txdrop drops on $full named 'ring full'" "$full_dropped" "$(drops_of d "$full" "ring full")"
  expect_eq "TX dropped of $flt (MAC filter)" 20 "$flt_dropped"
  expect_eq "vnet-txdrop drops on $flt named 'tap filter'" 20 "$(drops_of d "$flt" "tap filter")"
  expect_eq "RX buffers used behind the filter" 0 "$(fixture_fact flt rx_used)"
  expect_eq "ring size reported for $full" 16 "$(jsonq d "(function() for _, r in ipairs(d.drops) do
    if r.dev == '$full' then return r.ring_size end end end)()")"
  expect_eq "kprobe events left" "" "$(grep vns_ /sys/kernel/tracing/kprobe_events 2>/dev/null)"
}

run_case "lab: vnet-txdrop totals equal the taps' TX dropped, by cause (ring full, tap filter)" case_ring_full_and_filter
finish
