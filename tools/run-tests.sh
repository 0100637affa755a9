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

# suite NAME CMD...: one suite, its time after its summary.
suite() {
  local name=$1 start=$SECONDS
  shift
  echo "== $name"
  "$@" || status=1
  echo "== $name: $((SECONDS - start)) s"
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

exit $status
