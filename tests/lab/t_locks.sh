#!/usr/bin/env bash
# Lab: futex-latency and lock-latency on the lab's kernels (5.10 has no
# futex_waitv; uprobes on an older kernel), against the contend
# fixture's own counts, as tests/integration/t_futex_latency.sh and
# t_lock_latency.sh do on the host. The fixture is built by run-suite.sh
# next to the binary (the guest has no cc); one tool run per case.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=../integration/contend.sh
. "$(dirname "$0")/../integration/contend.sh"
CONTEND_BIN=$(dirname "$VNS")/lab-contend
export CONTEND_BIN

# hist_of TAG COND EXPR: EXPR (of h) for the final histogram matching COND.
hist_of() {
  jsonq "$1" "(function() for _, h in ipairs(d.histograms) do if $2 then return $3 end end return 'none' end)()"
}

case_futex() {
  need_root
  contend_start futex 3 40 1000
  tool_start js futex-latency --pid "$CPID" --by lock --format json -i 1 -d 300
  wait_line js '"type":"interval"'
  contend_go
  tool_stop js INT
  local lock waits
  lock=$(contend_value lock)
  waits=$(contend_value waits)
  expect_gt "FUTEX_WAIT calls the fixture made" 0 "$waits"
  expect_eq "the lock word's waits" "$waits $CPID" "$(hist_of js "h.lock == '$lock'" "h.count .. ' ' .. h.pid")"
}

case_mutex_stacks() {
  need_root
  contend_start mutex 3 40 1000
  tool_start js lock-latency --pid "$CPID" --stacks --format json -i 1 -d 300
  wait_line js '"type":"interval"'
  contend_go
  tool_stop js INT
  local lock contended
  lock=$(contend_value lock)
  contended=$(contend_value contended)
  expect_gt "contended acquisitions the fixture saw" 0 "$contended"
  expect_eq "the mutex's contended calls, the caller first in the stack" "$contended true" \
    "$(hist_of js "h.lock == '$lock' and h.kind == 'mutex'" "h.count .. ' ' .. tostring(h.stack[1]:match('^contended_lock%+') ~= nil)")"
}

case_rwlock() {
  need_root
  contend_start rwlock 4 30 1000
  tool_start js lock-latency --pid "$CPID" --lock-type rwlock --format json -i 1 -d 300
  wait_line js '"type":"interval"'
  contend_go
  tool_stop js INT
  local lock
  lock=$(contend_value lock)
  expect_gt "contended read locks the fixture saw" 0 "$(contend_value rdlock)"
  expect_gt "contended write locks the fixture saw" 0 "$(contend_value wrlock)"
  expect_eq "contended rdlock and wrlock calls" "$(contend_value rdlock) $(contend_value wrlock)" \
    "$(hist_of js "h.lock == '$lock' and h.kind == 'rdlock'" "h.count") $(hist_of js "h.lock == '$lock' and h.kind == 'wrlock'" "h.count")"
}

run_case "lab futex-latency: waits on the lock word equal the fixture's" case_futex
run_case "lab lock-latency: contended mutex calls and their caller" case_mutex_stacks
run_case "lab lock-latency: contended rdlock and wrlock calls" case_rwlock
finish
