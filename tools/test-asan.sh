#!/usr/bin/env bash
# make test-asan: the C unit tests, the Lua suite and the engine's
# integration file (t_core_api: maps, perf and ring buffers, stacks,
# tracepoints, uprobes, perf events, compile and verifier errors) with
# AddressSanitizer + UBSan, and LeakSanitizer at exit, in its own build
# dir. Any report fails: UBSan halts, ASan and LSan exit non-zero.
#   tools/test-asan.sh [BUILD]    (default build-asan)
# No leak suppressions are needed today: add one only for a leak inside
# libbcc/LLVM, with the reason beside it.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-asan}
start=$SECONDS
status=0
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DVNS_SANITIZE=ON >/dev/null &&
  cmake --build "$build" -j"$(nproc)" >"$build.log" 2>&1 ||
  { tail -20 "$build.log"; echo "0 passed, 1 failed (sanitizer build)"; exit 1; }

ctest --test-dir "$build" --output-on-failure | tail -3 || status=1
"$build/vnetscope" run "$root/tests/lua/runner.lua" | grep -v '^PASS' || status=1
VNETSCOPE="$build/vnetscope" "$root/tests/integration/run.sh" \
  "$root/tests/integration/t_core_api.sh" | grep -v '^PASS' || status=1
echo "== sanitizers: $((SECONDS - start)) s"
exit $status
