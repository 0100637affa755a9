#!/usr/bin/env bash
# make test: every suite runs even when an earlier one fails; each prints
# its own summary line and time, and the exit status says whether all
# passed. The kernel lab runs in the background from the start of the
# host's integration suites (its guests and compiles beside them, one
# core's worth), and its output is printed when it ends.
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
summary=()
fails=$(mktemp)

# suite NAME CMD...: one suite, its time after its summary; the summary
# and time are repeated at the end.
suite() {
  local name=$1 start=$SECONDS out
  shift
  echo "== $name"
  out=$(mktemp)
  "$@" 2>&1 | tee "$out"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  summary+=("$name: $(last_count "$out"), $((SECONDS - start)) s")
  grep -E '^(FAIL|[0-9]+/[0-9]+ Test .*Failed|\[  FAILED  \]) ' "$out" >>"$fails"
  rm -f "$out"
  echo "== $name: $((SECONDS - start)) s"
}

# last_count FILE: the suite's closing count line (ctest's "N% tests
# passed", cmocka's and ours "N passed, N failed").
last_count() {
  grep -E '[0-9]+ passed|tests passed|tests failed' "$1" | tail -n 1
}

suite "C unit tests (cmocka, ctest)" ctest --test-dir "$build" --output-on-failure
suite "Lua stdlib tests" "$build/vnetscope" run "$root/tests/lua/runner.lua"

lab_log=$build/lab-suite.log
lab_start=$SECONDS
# In a session of its own, so an interrupted make test ends its guests too.
VNST_LAB_LANES=1 setsid "$root/tests/lab/run-suite.sh" "$build" >"$lab_log" 2>&1 &
lab=$!
trap 'kill -- -$lab 2>/dev/null' EXIT

suite "Integration tests (real BPF, real traffic in private namespaces)" \
  env VNETSCOPE="$build/vnetscope" "$root/tests/integration/run.sh"
suite "Debian packages (make deb) installed in a fresh Debian 12 root" \
  env VNETSCOPE="${VNST_DEB_BUILD:-$build-deb}/vnetscope" VNST_DEB_DIR="$build" \
  "$root/tests/integration/run.sh" "$root/tests/deb/t_install.sh"
suite "Sanitizers (ASan + UBSan + LSan: unit, Lua, t_core_api; make test-asan)" "$root/tools/test-asan.sh"
suite "Fuzz, short run (100k executions a target; make fuzz runs 10M)" "$root/tools/fuzz.sh" 100000

echo "== Kernel lab (stock Debian kernels under qemu: kprobes, headers, tun, OVS), started with the integration tests"
wait "$lab" || status=1
trap - EXIT
cat "$lab_log"
echo "== Kernel lab: $((SECONDS - lab_start)) s"

# The end of a long log is what a CI page shows: every suite's count, and
# the failures and lab faults again.
echo "== Summary"
printf '%s\n' "${summary[@]}"
grep -E '^(lab [0-9.]+: suite|run\.sh: |SKIP kernel lab)' "$lab_log"
# Each guest's count line after the kernel it ran.
awk '/^lab guest: kernel / { k = $4; sub(/,$/, "", k) }
     /^[0-9]+ passed, [0-9]+ failed/ { print "Kernel lab, " (k ? k : "setup") ": " $0; k = "" }' "$lab_log"
echo "Kernel lab: $((SECONDS - lab_start)) s"
cat "$fails"
grep '^FAIL ' "$lab_log"
rm -f "$fails"

exit $status
