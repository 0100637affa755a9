#!/usr/bin/env bash
# Fuzz targets (libFuzzer, clang, ASan + UBSan): pack decoding, BCC type
# descriptions, the option parsers and the --filter parser (the last two
# through the embedded Lua, tests/fuzz/fuzz_lua.c).
#   tools/fuzz.sh RUNS [BUILD]    each target RUNS executions (make fuzz:
#                                 10M; make test: 100k), from the committed
#                                 corpus, after replaying tests/fuzz/regress
# New corpus units go to BUILD/corpus-<target> (the committed corpus is
# left alone); a crash is written to BUILD/crash-<target>-* and fails.
# Prints each target's executions and rate, and "N passed, N failed".
set -uo pipefail
runs=${1:?usage: tools/fuzz.sh RUNS [BUILD]}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build-fuzz}
mkdir -p "$build"
cc=${FUZZ_CC:-clang-14}
# shellcheck disable=SC2054 # the commas are clang's
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE
       -I"$root/engine" -DFUZZ_SOURCE_DIR="\"$root\"")
read -ra lua < <(pkg-config --cflags --libs lua5.4)

build_target() {  # name, sources and libraries...
  local name=$1; shift
  "$cc" "${flags[@]}" -o "$build/$name" "$@" || return 1
}
build_target fuzz_pack "$root/tests/fuzz/fuzz_pack.c" "$root/engine/pack.c" -lz &&
build_target fuzz_typedesc "$root/tests/fuzz/fuzz_typedesc.c" "$root/engine/typedesc.c" \
  "$root/engine/typedesc_json.c" &&
build_target fuzz_options -DFUZZ_DRIVER='"lua_options.lua"' "$root/tests/fuzz/fuzz_lua.c" "${lua[@]}" &&
build_target fuzz_filter -DFUZZ_DRIVER='"lua_filter.lua"' "$root/tests/fuzz/fuzz_lua.c" "${lua[@]}" ||
  { echo "0 passed, 1 failed (fuzz targets did not build)"; exit 1; }

passed=0 failed=0
for target in pack typedesc options filter; do
  bin=$build/fuzz_$target
  regress=$root/tests/fuzz/regress/$target
  if [ -d "$regress" ] && ! "$bin" "$regress"/* >"$build/regress-$target.log" 2>&1; then
    echo "FAIL fuzz_$target: a regression input fails again (see $build/regress-$target.log)"
    failed=$((failed + 1)); continue
  fi
  mkdir -p "$build/corpus-$target"
  # Lua frees by garbage collection, never within one input, so libFuzzer
  # would run a leak check after nearly every Lua input; the C targets
  # keep it.
  leaks=1
  case $target in options|filter) leaks=0 ;; esac
  start=$SECONDS
  "$bin" -runs="$runs" -max_len=4096 -print_final_stats=1 -detect_leaks=$leaks -artifact_prefix="$build/crash-$target-" \
    "$build/corpus-$target" "$root/tests/fuzz/corpus/$target" >"$build/fuzz-$target.log" 2>&1
  rc=$?
  secs=$((SECONDS - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$target.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/fuzz-$target.log")
  if [ "$rc" -eq 0 ]; then
    echo "PASS fuzz_$target: ${execs:-?} executions in $secs s (${rate:-?}/s)"
    passed=$((passed + 1))
  else
    echo "FAIL fuzz_$target: after ${execs:-?} executions (see $build/fuzz-$target.log)"
    grep -m3 -E 'ERROR|fuzz_lua:|SUMMARY' "$build/fuzz-$target.log" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
