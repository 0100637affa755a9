#!/usr/bin/env bash
# Lab: vhost-signals and vhost-buf-peek against what the vhost-net
# driver of tests/lab/fixtures/vhost-fixture.c saw. The fixture sends 32
# frames through its TX queue, posts 64 RX buffers and 32 frames are
# injected into its tap: it counts the used entries of both rings and the
# signals on both call eventfds (eventfd counters: every signal counts).
# Oracles: signals == the fixture's rx_calls + tx_calls; peeks that found
# a packet == its RX used entries.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=vhost-lib.sh
. "$(dirname "$0")/vhost-lib.sh"

case_signals() {
  need_root
  need_vhost_fixture
  local ns=${PFX}v tap=${PFX}s
  ns_new "$ns"
  vhost_tap "$ns" "$tap" 1000
  tool_start d vhost-signals --format json -i 1 -d 300
  wait_line d '"type":"interval"'
  vhost_run fix "$ns" "$tap" --tx 32 --rx 64 --inject 32 --seconds 2
  tool_stop d INT
  local calls=$(($(fixture_fact fix rx_calls) + $(fixture_fact fix tx_calls)))
  expect_eq "fixture: TX used entries" 32 "$(fixture_fact fix tx_used)"
  expect_eq "fixture: RX used entries" 32 "$(fixture_fact fix rx_used)"
  expect_gt "fixture: call eventfd signals" 0 "$calls"
  expect_eq "vhost-signals signals == the fixture's call eventfd count" "$calls" "$(jsonq d 'd.signals')"
  expect_gt "vhost-signals decisions" 0 "$(jsonq d 'd.decisions')"
}

case_buf_peek() {
  need_root
  need_vhost_fixture
  local ns=${PFX}v tap=${PFX}p
  ns_new "$ns"
  vhost_tap "$ns" "$tap" 1000
  tool_start d vhost-buf-peek --format json -i 1 -d 300
  wait_line d '"type":"interval"'
  vhost_run fix "$ns" "$tap" --rx 64 --inject 32 --seconds 2
  tool_stop d INT
  expect_eq "fixture: RX used entries" 32 "$(fixture_fact fix rx_used)"
  expect_eq "peeks that found a packet == RX used entries" 32 "$(jsonq d "(function() local n = 0
    for _, q in ipairs(d.queues) do n = n + q.with_packet end return n end)()")"
}

run_case "lab: vhost-signals counts exactly the signals the fixture's call eventfds got" case_signals
run_case "lab: vhost-buf-peek's non-empty peeks equal the fixture's RX used entries" case_buf_peek
finish
