# shellcheck shell=bash
# contend.sh: the contend fixture (fixtures/contend.c) for the lock tools'
# tests (t_futex_latency.sh, t_lock_latency.sh), sourced after lib.sh.
#
#   contend_start MODE THREADS ITERATIONS HOLD_US   builds it, starts it; sets CPID
#   contend_go                                      lets it run and waits for its result
#   contend_value NAME                              a value of its "result" line
#   contend_thread_waits TID                        a thread's waits (futex mode)
# It keeps running after its result (the tools read its name and symbols)
# until case_cleanup kills it.

# CONTEND_BIN: a fixture built beforehand (the lab's guests have no cc).
contend_start() {
  local bin=${CONTEND_BIN:-$CASE_DIR/contend}
  if [ -z "${CONTEND_BIN:-}" ]; then
    need_cmd cc
    cc -O2 -g -fno-omit-frame-pointer -pthread -o "$bin" "$TESTS_DIR/fixtures/contend.c" ||
      fail "cc could not build the contend fixture"
  fi
  [ -x "$bin" ] || skip "no contend fixture at $bin"
  "$bin" "$@" >"$CASE_DIR/contend.txt" 2>&1 &
  CPID=$!
  echo "$CPID" >>"$CASE_DIR/pids"
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q '^ready' "$CASE_DIR/contend.txt" && return 0
    sleep 0.1
  done
  fail "the contend fixture did not start: $(head -c 300 "$CASE_DIR/contend.txt")"
}

contend_go() {
  kill -USR1 "$CPID"
  local i
  for ((i = 0; i < 600; i++)); do
    grep -q '^result' "$CASE_DIR/contend.txt" && return 0
    alive "$CPID" || fail "the contend fixture exited early: $(head -c 300 "$CASE_DIR/contend.txt")"
    sleep 0.1
  done
  fail "the contend fixture did not finish within 60 s"
}

contend_value() { sed -n "s/^result .*\<$1=\([^ ]*\).*/\1/p" "$CASE_DIR/contend.txt"; }

contend_thread_waits() { sed -n "s/^thread tid=$1 waits=\([0-9]*\) .*/\1/p" "$CASE_DIR/contend.txt"; }
