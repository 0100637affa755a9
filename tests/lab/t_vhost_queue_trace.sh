#!/usr/bin/env bash
# Lab: vhost-queue-trace on a tap driven by vhost-net (tests/lab/fixtures/
# vhost-fixture.c). 10 frames are injected before the "guest" posts any
# RX buffer (vhost-net's run finds none: a notify decision, the frames
# wait in the tap's ring); then it posts 64 buffers (vhost takes the 10)
# and 10 more frames pass. Oracles: the frames injected, and what the
# fixture read from its own RX ring (used entries, avail idx) and call
# eventfd (signals); the order is the kernel's own (a packet is taken
# after it was put in the ring, inside a run).
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=vhost-lib.sh
. "$(dirname "$0")/vhost-lib.sh"

case_trace() {
  need_root
  need_vhost_fixture
  local ns=${PFX}v tap=${PFX}t
  ns_new "$ns"
  vhost_tap "$ns" "$tap" 1000
  tool_start d vhost-queue-trace --dev "$tap" --queue 0 --format json -i 1 -d 300
  tool_start txt vhost-queue-trace --dev "$tap" -i 1 -d 300
  wait_line d '"type":"stats"'
  wait_ready txt
  ip netns exec "$ns" "$VHOST_FIXTURE" "$tap" --rx 64 --rx-later --inject 10 --inject-after 10 \
    --seconds 6 >"$CASE_DIR/fix.fix" 2>&1 &
  local fix=$!
  echo "$fix" >>"$CASE_DIR/pids"
  local i
  for ((i = 0; i < 300; i++)); do grep -q '^ready' "$CASE_DIR/fix.fix" && break; sleep 0.1; done
  sleep 2   # the 10 frames wait in the ring
  kill -USR1 "$fix"
  wait "$fix" || fail "vhost-fixture: $(head -c 400 "$CASE_DIR/fix.fix")"
  tool_stop d INT
  tool_stop txt INT
  local used
  used=$(fixture_fact fix rx_used)
  expect_eq "frames injected" 20 "$(fixture_fact fix injected)"
  expect_eq "fixture: RX used entries" 20 "$used"
  expect_eq "xmit events == frames injected" 20 "$(count_events d "r.event == 'xmit' and r.dev == '$tap'")"
  expect_eq "recv events == RX used entries" "$used" "$(count_events d "r.event == 'recv'")"
  expect_eq "used entries of the signal events == RX used entries" "$used" "$(jsonq d "(function() local n = 0
    for _, r in ipairs(lines) do if r.event == 'signal' then n = n + r.count end end return n end)()")"
  expect_eq "signalled decisions == the fixture's RX call eventfd count" "$(fixture_fact fix rx_calls)" \
    "$(count_events d "r.event == 'signal' and r.signalled == 1")"
  expect_eq "packets the runs took (run-end) == recv events" "$used" "$(jsonq d "(function() local n = 0
    for _, r in ipairs(lines) do if r.event == 'run-end' then n = n + r.count end end return n end)()")"
  expect_gt "notify decisions (no guest buffer yet)" 0 "$(count_events d "r.event == 'notify'")"
  expect_eq "events only of $tap queue 0" 0 "$(count_events d "r.dev ~= '$tap' or r.queue ~= 0")"
  # Order: a notify (no buffers) before the first packet taken; every
  # packet taken after as many were put in the ring, inside a run of the
  # same thread.
  expect_eq "events in order" ok "$(jsonq d "(function() local xmit, recv, notified = 0, 0, false
    local open = {}
    for _, r in ipairs(lines) do
      if r.event == 'xmit' then xmit = xmit + 1
      elseif r.event == 'notify' then notified = true
      elseif r.event == 'run' then open[r.tid] = true
      elseif r.event == 'run-end' then open[r.tid] = nil
      elseif r.event == 'recv' then
        recv = recv + 1
        if not notified then return 'recv before any notify' end
        if recv > xmit then return 'recv ' .. recv .. ' before its xmit' end
        if not open[r.tid] then return 'recv outside a run' end
      end
    end
    return 'ok' end)()")"
  expect_match "text: a signal line" "$tap +0 +signal +[0-9]+ used, signalled" "$(out_of txt)"
  expect_match "text: an xmit line" "$tap +0 +xmit +len [0-9]+, ring [0-9]+/1000" "$(out_of txt)"
  # The guest-visible ring, read from the fixture's memory by the tool.
  expect_eq "last signal: guest used idx == RX used entries" "$used" "$(jsonq d "(function() local v
    for _, r in ipairs(lines) do if r.event == 'signal' then v = r.used_idx end end return v end)()")"
  expect_eq "last signal: guest avail idx == buffers posted" 64 "$(jsonq d "(function() local v
    for _, r in ipairs(lines) do if r.event == 'signal' then v = r.avail_idx end end return v end)()")"
}

run_case "lab: vhost-queue-trace shows a tap queue's xmit, runs, notify, recv and signals in order; counts equal the fixture's" case_trace
finish
