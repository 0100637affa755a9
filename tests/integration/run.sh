#!/usr/bin/env bash
# Integration tests: real BPF programs in the running kernel, fed real
# traffic inside private network namespaces the tests create.
#
#   tests/integration/run.sh [t_file.sh ...]     (as root; all t_*.sh by default)
#   VNETSCOPE=path/to/vnetscope tests/integration/run.sh
#
# Prints PASS/FAIL/SKIP per case and closes with "N passed, N failed,
# N skipped"; exits non-zero if anything failed.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
VNETSCOPE=${VNETSCOPE:-$dir/../../build/vnetscope}
case $VNETSCOPE in /*) ;; *) VNETSCOPE=$PWD/$VNETSCOPE ;; esac
export VNETSCOPE
export VNST_RESULTS
VNST_RESULTS=$(mktemp /tmp/vnst-results.XXXXXX)
trap 'rm -f "$VNST_RESULTS"' EXIT

count() { grep -c "^$1 " "$VNST_RESULTS"; }

if [ ! -x "$VNETSCOPE" ]; then
  echo "FAIL setup: no vnetscope binary at $VNETSCOPE (build it: cmake --build build)" >>"$VNST_RESULTS"
  cat "$VNST_RESULTS"
else
  [ $# -gt 0 ] || set -- "$dir"/t_*.sh
  start=$SECONDS
  for file in "$@"; do
    echo "== ${file##*/}"
    before=$(count FAIL) file_start=$SECONDS
    # A file that hangs is ended (its cases' traps clean up on SIGTERM).
    limit=${VNST_FILE_TIMEOUT:-600}
    timeout -k 10 "$limit" bash "$file"
    rc=$?
    if [ "$rc" -eq 124 ]; then
      echo "FAIL ${file##*/}: timed out after $limit s" | tee -a "$VNST_RESULTS"
    elif [ "$rc" -ne 0 ] && [ "$(count FAIL)" -eq "$before" ]; then
      echo "FAIL ${file##*/}: exited with status $rc outside any case" | tee -a "$VNST_RESULTS"
    fi
    echo "-- ${file##*/}: $((SECONDS - file_start)) s"
  done
  echo "== $((SECONDS - start)) s"
fi
echo "$(count PASS) passed, $(count FAIL) failed, $(count SKIP) skipped"
[ "$(count FAIL)" -eq 0 ]
