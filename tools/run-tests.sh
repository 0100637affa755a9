#!/usr/bin/env bash
# make test: every suite runs even when an earlier one fails; each prints
# its own summary line, and the exit status says whether all passed.
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0

echo "== C unit tests (cmocka, ctest)"
ctest --test-dir "$build" --output-on-failure || status=1

echo "== Lua stdlib tests"
"$build/vnetscope" run "$root/tests/lua/runner.lua" || status=1

echo "== Integration tests (real BPF, real traffic in private namespaces)"
VNETSCOPE="$build/vnetscope" "$root/tests/integration/run.sh" || status=1

echo "== Sanitizers (ASan + UBSan + LSan: unit, Lua, t_core_api; make test-asan)"
"$root/tools/test-asan.sh" || status=1

echo "== Fuzz, short run (100k executions a target; make fuzz runs 10M)"
fuzz_start=$SECONDS
"$root/tools/fuzz.sh" 100000 || status=1
echo "== fuzz: $((SECONDS - fuzz_start)) s"

echo "== Kernel lab (stock Debian kernel under qemu: kprobes, headers, tun)"
"$root/tests/lab/run-suite.sh" "$build" || status=1

exit $status
