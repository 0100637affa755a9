#!/usr/bin/env bash
# lock-latency: threads of the contend fixture call pthread_mutex_lock
# (pthread_rwlock_rdlock, _wrlock) only after a trylock failed, and count
# those calls; the tool, with uprobes on the libc the fixture maps, must
# count exactly as many per lock and kind, show the caller in --stacks,
# and refuse a library without the symbols clearly.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=contend.sh
. "$(dirname "$0")/contend.sh"

# hist_of TAG LOCK KIND EXPR: EXPR (of h) for the final histogram of that lock and kind.
hist_of() {
  jsonq "$1" "(function() for _, h in ipairs(d.histograms) do
    if h.lock == '$2' and h.kind == '$3' then return $4 end end return 'none' end)()"
}

need_uprobes() {
  [ -e /sys/kernel/tracing/uprobe_events ] || [ -e /sys/kernel/debug/tracing/uprobe_events ] ||
    skip "this kernel has no uprobes (CONFIG_UPROBE_EVENTS)"
}

case_mutex() {
  need_root
  need_uprobes
  need_cmd bpftool
  contend_start mutex 3 100 1000
  bpf_progs >"$CASE_DIR/before"
  tool_start js lock-latency --pid "$CPID" --format json -i 1 -d 120
  tool_start tx lock-latency --pid "$CPID" --stacks -i 1 -d 120
  wait_line js '"type":"interval"'
  wait_ready tx
  contend_go
  tool_stop js TERM
  expect_eq "exit status after SIGTERM" 0 "$STATUS"
  tool_stop tx INT
  # Every uprobe detached, every program unloaded (SIGTERM and SIGINT).
  expect_no_leaked_progs "$CASE_DIR/before"
  local lock contended
  lock=$(contend_value lock)
  contended=$(contend_value contended)
  expect_gt "contended acquisitions the fixture saw" 0 "$contended"
  expect_eq "JSON: the mutex's histogram counts them" "$contended $CPID" \
    "$(hist_of js "$lock" mutex "h.count .. ' ' .. h.pid")"
  expect_eq "JSON: the mutex's row" "$contended" \
    "$(jsonq js "(function() for _, r in ipairs(d.locks) do if r.lock == '$lock' then return r.count end end end)()")"
  # Loosely: a contended caller waits for a holder that sleeps 1 ms.
  expect_eq "JSON: the longest wait is above half the hold time" true "$(hist_of js "$lock" mutex "h.max > 500")"
  # The final report's heading of the lock, then its stack, innermost first.
  expect_match "text: the lock's histogram, its caller first in the stack" \
    "^contended_lock\+0x[0-9a-f]+ \(contend\) worker\+0x[0-9a-f]+ \(contend\)\$" \
    "$(sed -n '/^Total since start/,$p' "$CASE_DIR/tx.out" | grep -A2 "^  mutex  lock $lock  pid $CPID (contend)\$" |
       sed -n '2,3p' | awk '{printf "%s%s", (NR > 1 ? " " : ""), $0} END {print ""}' | sed 's/^ *//; s/  */ /g')"
  expect_match "text: the lock's row" "^ +$contended +[0-9.]+ +[0-9.]+ +[0-9.]+ +mutex +$CPID +contend +$lock\$" \
    "$(sed -n '/^Total since start/,$p' "$CASE_DIR/tx.out")"
}

case_rwlock() {
  need_root
  need_uprobes
  contend_start rwlock 4 60 1000
  tool_start js lock-latency --pid "$CPID" --lock-type rwlock --format json -i 1 -d 120
  tool_start mx lock-latency --pid "$CPID" --lock-type mutex --format json -i 1 -d 120
  wait_line js '"type":"interval"'
  wait_line mx '"type":"interval"'
  contend_go
  tool_stop js INT
  tool_stop mx INT
  local lock rd wr
  lock=$(contend_value lock)
  rd=$(contend_value rdlock)
  wr=$(contend_value wrlock)
  expect_gt "contended read locks the fixture saw" 0 "$rd"
  expect_gt "contended write locks the fixture saw" 0 "$wr"
  expect_eq "JSON: rdlock histogram" "$rd" "$(hist_of js "$lock" rdlock "h.count")"
  expect_eq "JSON: wrlock histogram" "$wr" "$(hist_of js "$lock" wrlock "h.count")"
  expect_eq "JSON: --lock-type mutex sees no rwlock call" "none none" \
    "$(hist_of mx "$lock" rdlock "h.count") $(hist_of mx "$lock" wrlock "h.count")"
}

case_bad_input() {
  need_root
  vns_run nolib 30 lock-latency --lib /nonexistent/libc.so.6
  expect_eq "exit status for a missing --lib" 2 "$STATUS"
  expect_match "the message names --lib" "option --lib: '/nonexistent/libc.so.6' does not exist" "$(err_of nolib)"
  need_uprobes
  vns_run nosym 60 lock-latency --lib /bin/true
  expect_eq "exit status for a library without the symbols" 1 "$STATUS"
  expect_match "the message names the symbol and --lib" \
    "pthread_mutex_lock is not in /bin/true .*--lib" "$(err_of nosym)"
  vns_run type 30 lock-latency --lock-type spin
  expect_eq "exit status for --lock-type spin" 2 "$STATUS"
  expect_match "the message lists the choices" "option --lock-type" "$(err_of type)"
}

run_case "lock-latency: contended pthread_mutex_lock calls counted per lock, caller in the stack" case_mutex
run_case "lock-latency: contended rdlock and wrlock calls counted per kind; --lock-type selects" case_rwlock
run_case "lock-latency: a missing library or symbol is one clear error" case_bad_input
finish
