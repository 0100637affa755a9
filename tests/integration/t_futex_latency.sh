#!/usr/bin/env bash
# futex-latency: threads of the contend fixture take a hand-rolled futex
# mutex and hold it a known time; the waits the tool counts on the lock
# word, per lock and per thread, must equal the FUTEX_WAIT calls the
# fixture made (its own count), and the filters must select.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=contend.sh
. "$(dirname "$0")/contend.sh"

# hist_of TAG FIELD VALUE EXPR: EXPR (of h) for the final histogram whose FIELD is VALUE.
hist_of() {
  jsonq "$1" "(function() for _, h in ipairs(d.histograms) do
    if tostring(h.$2) == '$3' then return $4 end end return 'none' end)()"
}

case_by_lock() {
  need_root
  contend_start futex 3 100 1000
  tool_start js futex-latency --pid "$CPID" --by lock --format json -i 1 -d 120
  tool_start tx futex-latency --pid "$CPID" --by lock -i 1 -d 120
  wait_line js '"type":"interval"'
  wait_ready tx
  contend_go
  tool_stop js INT
  tool_stop tx INT
  local lock waits
  lock=$(contend_value lock)
  waits=$(contend_value waits)
  expect_gt "FUTEX_WAIT calls the fixture made" 0 "$waits"
  expect_eq "JSON: the lock's histogram: count, pid, kind" "$waits $CPID wait" \
    "$(hist_of js lock "$lock" "h.count .. ' ' .. h.pid .. ' ' .. h.kind")"
  expect_eq "JSON: the lock's row in the locks table" "$waits" \
    "$(jsonq js "(function() for _, r in ipairs(d.locks) do if r.lock == '$lock' then return r.count end end end)()")"
  # Loosely: a waiter sleeps while a holder sleeps 1 ms, so the longest
  # wait is well above 0.5 ms; no wait outlasts the whole run.
  expect_eq "JSON: the longest wait is above half the hold time" true "$(hist_of js lock "$lock" "h.max > 500")"
  expect_eq "JSON: at least as many waits as on the lock, EAGAIN counted" true \
    "$(jsonq js "d.waits >= $waits and d.results.eagain >= $(contend_value eagain)")"
  expect_match "text: the lock's row" "^ +$waits +[0-9.]+ +[0-9.]+ +[0-9.]+ +wait +$CPID +contend +$lock\$" "$(out_of tx)"
  expect_match "text: the final report" '^Total since start  futex waits: [0-9]+$' "$(out_of tx)"
  expect_match "text: the lock's histogram" "^  wait  lock $lock  pid $CPID \(contend\)\$" "$(out_of tx)"
}

case_by_thread() {
  need_root
  contend_start futex 3 100 1000
  tool_start js futex-latency --comm contend --by thread --format json -i 1 -d 120
  wait_line js '"type":"interval"'
  contend_go
  tool_stop js INT
  local tid want n=0
  for tid in $(sed -n 's/^thread tid=\([0-9]*\).*/\1/p' "$CASE_DIR/contend.txt"); do
    # A thread that always found the lock free never waited: no histogram.
    want="$(contend_thread_waits "$tid") $CPID"
    [ "${want%% *}" != 0 ] || want=none
    expect_eq "JSON: waits of thread $tid" "$want" \
      "$(hist_of js tid "$tid" "h.count .. ' ' .. h.pid")"
    n=$((n + 1))
  done
  expect_eq "threads seen" 3 "$n"
}

# --tid of the main thread: it never waits on the lock word (only in
# pthread_join), so the lock is absent and every label is that thread.
case_tid_filter() {
  need_root
  contend_start futex 3 100 1000
  tool_start js futex-latency --tid "$CPID" --by thread --format json -i 1 -d 120
  wait_line js '"type":"interval"'
  contend_go
  tool_stop js INT
  local lock
  lock=$(contend_value lock)
  expect_eq "JSON: no row for the lock word" none \
    "$(jsonq js "(function() for _, r in ipairs(d.locks) do if r.lock == '$lock' then return r.count end end return 'none' end)()")"
  expect_eq "JSON: only the main thread" "true" \
    "$(jsonq js "(function() for _, h in ipairs(d.histograms) do if h.tid ~= $CPID then return false end end return true end)()")"
}

# futex_waitv on two words: a wait woken by the second is its wait; one
# that ends otherwise (EAGAIN: the value changed first) is the first's.
case_waitv() {
  need_root
  [ -d /sys/kernel/tracing/events/syscalls/sys_enter_futex_waitv ] ||
    skip "no futex_waitv on this kernel (5.16+)"
  contend_start waitv 1 50 1000
  tool_start js futex-latency --pid "$CPID" --by lock --format json -i 1 -d 120
  wait_line js '"type":"interval"'
  contend_go
  tool_stop js INT
  local woken others first
  woken=$(contend_value woken)
  others=$(( $(contend_value waits) - woken ))
  expect_gt "futex_waitv calls woken on the second word" 0 "$woken"
  expect_eq "JSON: the second word's waits" "$woken waitv" \
    "$(hist_of js lock "$(contend_value lock)" "h.count .. ' ' .. h.kind")"
  first=$(hist_of js lock "$(contend_value first)" "h.count")
  [ "$others" -gt 0 ] || others=none
  expect_eq "JSON: the others, on the first word" "$others" "$first"
}

case_bad_input() {
  vns_run bad 20 futex-latency --tid 12x
  expect_eq "exit status for --tid 12x" 2 "$STATUS"
  expect_match "the message names the option" "option --tid" "$(err_of bad)"
  vns_run bad 20 futex-latency --by stack
  expect_eq "exit status for --by stack" 2 "$STATUS"
  expect_match "the message lists the choices" "process, thread, lock" "$(err_of bad)"
}

run_case "futex-latency: waits on the lock word equal the fixture's FUTEX_WAIT calls" case_by_lock
run_case "futex-latency: --by thread counts each thread's waits" case_by_thread
run_case "futex-latency: --tid selects one thread" case_tid_filter
run_case "futex-latency: futex_waitv waits on the word that woke them" case_waitv
run_case "futex-latency: bad options exit 2 naming the option" case_bad_input
finish
