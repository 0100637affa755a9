#!/usr/bin/env bash
# Faults a long-running host meets: the cache directory full (a 64 KiB
# tmpfs, filled) or read-only (a read-only bind mount), and the device a
# tool filters on deleted under it. Each gives one clear message naming
# the path and the cause (or, for the device, keeps counting and stops
# cleanly), no crash, and no program left loaded.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# cache_dir_case KIND: a cache directory of that KIND (full or ro) under
# $CASE_DIR/cache; a fresh drop-summary with an uncommon --dst-port so
# that it compiles (the header tree too: the directory holds none).
cache_dir_case() {
  need_root
  local dir=$CASE_DIR/cache
  mkdir -p "$dir"
  if [ "$1" = full ]; then
    mount -t tmpfs -o size=64k,mode=0755 tmpfs "$dir" || skip "cannot mount a tmpfs"
    dd if=/dev/zero of="$dir/fill" bs=4k count=64 2>/dev/null
  else
    mount --bind -o ro "$dir" "$dir" || skip "cannot make a read-only bind mount"
  fi
  trap 'umount "$CASE_DIR/cache"; case_cleanup' EXIT
  bpf_progs >"$CASE_DIR/before"
  VNETSCOPE_CACHE_DIR=$dir vns_run ds 120 drop-summary --dst-port 40123 -d 1
  expect_eq "exit status" 1 "$STATUS"
  expect_match "the cause, with the path" "$2" "$(err_of ds)"
  expect_no_match "a crash" 'Segmentation|Aborted|traceback|core dumped' "$(err_of ds)"
  expect_no_leaked_progs "$CASE_DIR/before"
  expect_eq "temporary trees left in the cache" "" "$(find "$dir" -name '.tmp-*')"
}

# The device --dev names is deleted while the tool runs: it goes on
# (nothing left to match), stops on SIGINT with its report, and leaves
# nothing loaded.
case_device_deleted() {
  need_root
  need_drop_reasons
  topo_pair
  bpf_progs >"$CASE_DIR/before"
  tool_start ds drop-summary --dev "$DEV_B" -i 1
  wait_ready ds
  send_udp "$NS_A" "$IP_B" 9999 3
  wait_line ds 'drops: 3'
  ip -n "$NS_B" link del "$DEV_B" || fail "cannot delete $DEV_B"
  sleep 1.5   # a report after the deletion
  tool_stop ds INT
  expect_eq "exit status" 0 "$STATUS"
  expect_match "the final report: the 3 drops made before" '^Total since start +drops: 3$' "$(out_of ds)"
  expect_no_leaked_progs "$CASE_DIR/before"
}

run_case "faults: a full cache directory says so, with the path" \
  cache_dir_case full 'cache/kheaders/.*: No space left on device'
run_case "faults: a read-only cache directory says so, with the path" \
  cache_dir_case ro 'cache/programs: Read-only file system; compiling'
run_case "faults: the filtered device deleted mid-run: clean stop, nothing left" case_device_deleted
finish
