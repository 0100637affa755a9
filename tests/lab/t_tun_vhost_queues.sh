#!/usr/bin/env bash
# Lab: tun-vhost-queues on a tap driven by vhost-net (tests/lab/fixtures/
# vhost-fixture.c). The "guest" first posts no RX buffers: 200 frames
# injected into a tap of txqueuelen 16 fill its ring (vhost-net's
# handle_rx finds no guest buffer and stops), every frame that finds it
# full is dropped. Then it posts 64 buffers: vhost drains the ring into
# them and 20 more frames pass. Oracles: the frames injected, the tap's
# TX dropped (`ip -s link`), and what the fixture read from its own RX
# ring (used entries, avail idx) and call eventfd (signals).
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=vhost-lib.sh
. "$(dirname "$0")/vhost-lib.sh"

case_fill_and_drain() {
  need_root
  need_vhost_fixture
  local ns=${PFX}v tap=${PFX}q
  ns_new "$ns"
  vhost_tap "$ns" "$tap" 16
  local before
  before=$(tx_dropped "$ns" "$tap")
  tool_start d tun-vhost-queues --dev "$tap" --format json -i 1 -d 300
  tool_start txt tun-vhost-queues --dev "$tap" -i 1 -d 300
  wait_line d '"type":"interval"'
  wait_ready txt
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
  tool_stop txt INT
  local q="(function() for _, q in ipairs(d.queues) do if q.dev == '$tap' and q.queue == 0 then return q end end return {} end)()"
  local used
  used=$(fixture_fact fix rx_used)
  expect_eq "frames injected" 220 "$(fixture_fact fix injected)"
  expect_gt "TX dropped while no RX buffers were posted" 100 "$dropped"
  expect_eq "producer: tun_net_xmit == frames injected" 220 "$(jsonq d "$q.xmit")"
  expect_eq "producer: dropped for a full ring == TX dropped" "$dropped" "$(jsonq d "$q.full")"
  expect_eq "ring size" 16 "$(jsonq d "$q.size")"
  expect_eq "the ring filled" 16 "$(jsonq d "$q.fill_max")"
  expect_gt "consumer: runs that stopped for want of guest buffers" 0 "$(jsonq d "$q.starved")"
  expect_eq "consumer: packets taken == RX used entries" "$used" "$(jsonq d "$q.taken")"
  expect_eq "drained: every frame not dropped was taken" "$((220 - dropped))" "$(jsonq d "$q.taken")"
  expect_eq "used entries given == RX used entries" "$used" "$(jsonq d "$q.used")"
  expect_eq "signals == the fixture's RX call eventfd count" "$(fixture_fact fix rx_calls)" "$(jsonq d "$q.signals")"
  expect_eq "guest avail idx (read from its ring) == buffers posted" 64 "$(jsonq d "$q.guest.avail_idx")"
  expect_eq "guest used idx == RX used entries" "$used" "$(jsonq d "$q.guest.used_idx")"
  expect_eq "verdict" "consumer: the guest posted no RX buffers (vhost waited for it)" "$(jsonq d "$q.behind")"
  expect_match "text: the total's verdict" "$tap queue 0: consumer: the guest posted no RX buffers" "$(out_of txt)"
  expect_match "text: the producer line" "producer +tun_net_xmit 220, dropped for a full ring $dropped; ring 16" "$(out_of txt)"
  local layout="vhost: not checked \\(no BTF for vhost\\)"  # an ERE: the parentheses are literal
  [ -r /sys/kernel/btf/vhost ] && layout="vhost: checked against BTF"
  expect_match "layout" "$layout" "$(jsonq d "d.layout")"
  # Per interval: the ring was full before vhost took anything.
  expect_eq "an interval with the ring full comes no later than the first with packets taken" true \
    "$(jsonq d "(function() local full, took for i, l in ipairs(lines) do
      for _, r in ipairs(l.queues or {}) do if r.dev == '$tap' and l.type == 'interval' then
        if r.full > 0 and not full then full = i end
        if r.taken > 0 and not took then took = i end end end end
      return full ~= nil and took ~= nil and full <= took end)()")"
}

run_case "lab: tun-vhost-queues sees the ring fill while the guest posts no buffers, drain when it does; counts equal the fixture's" case_fill_and_drain
finish
