#!/usr/bin/env bash
# Lab: tun-ring on a tap driven by vhost-net (tests/lab/fixtures/
# vhost-fixture.c). The "guest" first posts no RX buffers: 200 frames
# injected into a tap of txqueuelen 16 fill its ring, and every frame that
# finds it full is dropped. Then it posts 64 buffers (vhost-net drains the
# ring into them) and 20 more frames pass. Oracles: the frames injected
# (all reach tun_net_xmit), the tap's TX dropped (== frames that found the
# ring full) and the used entries of the fixture's RX ring (== every frame
# that did not find it full).
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=vhost-lib.sh
. "$(dirname "$0")/vhost-lib.sh"

case_fill_and_drain() {
  need_root
  need_vhost_fixture
  local ns=${PFX}v tap=${PFX}r
  ns_new "$ns"
  vhost_tap "$ns" "$tap" 16
  local before
  before=$(tx_dropped "$ns" "$tap")
  tool_start d tun-ring --dev "$tap" --format json -i 1 -d 300
  wait_line d '"type":"interval"'
  # No timeout(1) between: the pid must be the fixture's (SIGUSR1); --seconds bounds it.
  ip netns exec "$ns" "$VHOST_FIXTURE" "$tap" --rx 64 --rx-later --inject 200 --inject-after 20 \
    --seconds 8 >"$CASE_DIR/fix.fix" 2>&1 &
  local fix=$!
  echo "$fix" >>"$CASE_DIR/pids"
  local i
  for ((i = 0; i < 300; i++)); do grep -q '^ready' "$CASE_DIR/fix.fix" && break; sleep 0.1; done
  sleep 2   # the 200 frames are in (or dropped)
  kill -USR1 "$fix"
  wait "$fix" || fail "vhost-fixture: $(head -c 400 "$CASE_DIR/fix.fix")"
  local dropped=$(($(tx_dropped "$ns" "$tap") - before))
  tool_stop d INT
  local q="(function() for _, q in ipairs(d.queues) do if q.dev == '$tap' then return q end end return {} end)()"
  expect_eq "frames injected" 220 "$(fixture_fact fix injected)"
  expect_gt "TX dropped while no RX buffers were posted" 100 "$dropped"
  expect_eq "tun-ring packets on $tap == frames injected" 220 "$(jsonq d "$q.packets")"
  expect_eq "tun-ring 'full' on $tap == TX dropped" "$dropped" "$(jsonq d "$q.full")"
  expect_eq "frames that did not find the ring full == RX used entries" \
    "$(fixture_fact fix rx_used)" "$(jsonq d "$q.packets - $q.full")"
  expect_eq "ring size" 16 "$(jsonq d "$q.size")"
  expect_eq "flows seen full == TX dropped" "$dropped" "$(jsonq d "(function() local n = 0 for _, r in ipairs(d.hot) do
    if r.full then n = n + r.count end end return n end)()")"
}

run_case "lab: tun-ring sees a tap's ring fill while the guest posts no buffers and drain when it does" case_fill_and_drain
finish
