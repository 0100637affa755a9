#!/usr/bin/env bash
# Faults a long-running host meets: the cache directory full (a 64 KiB
# tmpfs, filled) or read-only (a read-only bind mount), the device a
# tool filters on or its namespace deleted under it, tracefs unmounted
# under it. The cache faults give one clear message naming the path and
# the cause; the others leave the tool counting and stopping cleanly. No
# crash, and no program left loaded.
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

# The device --dev names is deleted while the tool runs (GONE=link; the
# tool runs in the device's namespace and says the device is gone), or
# the namespace holding it (GONE=netns: its devices go with it; the tool
# runs outside it and said at start that the name is not in its
# namespace): the tool goes on (nothing left to match), stops on SIGINT
# with its report of the drops made before, and leaves nothing loaded.
case_device_deleted() {
  need_root
  need_drop_reasons
  topo_pair
  bpf_progs >"$CASE_DIR/before"
  local ns=$NS_B
  [ "$1" = netns ] && ns=
  NETNS=$ns tool_start ds drop-summary --dev "$DEV_B" -i 1
  wait_ready ds
  send_udp "$NS_A" "$IP_B" 9999 3
  wait_line ds 'drops: 3'
  if [ "$1" = netns ]; then
    ip netns del "$NS_B" || fail "cannot delete $NS_B"
  else
    ip -n "$NS_B" link del "$DEV_B" || fail "cannot delete $DEV_B"
  fi
  sleep 1.5   # a report after the deletion
  tool_stop ds INT
  expect_eq "exit status" 0 "$STATUS"
  expect_match "the final report: the 3 drops made before" '^Total since start +drops: 3$' "$(out_of ds)"
  if [ "$1" = netns ]; then
    expect_match "the message at start" "^vnetscope: --dev $DEV_B: no such device in this network namespace; it is matched by name in every namespace$" "$(err_of ds)"
  else
    expect_match "the message" "^vnetscope: --dev $DEV_B: the device is gone \\(deleted, or its namespace\\)" "$(err_of ds)"
  fi
  expect_no_leaked_progs "$CASE_DIR/before"
}

# tracefs unmounted under a running tool (in a mount namespace of its
# own, so the machine keeps its tracefs): what is attached stays
# attached and counting; SIGINT detaches and reports.
case_tracefs_unmounted() {
  need_root
  need_drop_reasons
  need_cmd unshare
  need_cmd nsenter
  topo_pair
  bpf_progs >"$CASE_DIR/before"
  unshare -m --propagation private "$VNS" drop-summary --dev "$DEV_B" -i 1 \
    >"$CASE_DIR/ds.out" 2>"$CASE_DIR/ds.err" </dev/null &
  echo $! >"$CASE_DIR/ds.pid"
  echo $! >>"$CASE_DIR/pids"
  wait_ready ds
  nsenter -t "$(tool_pid ds)" -m umount /sys/kernel/tracing || fail "cannot unmount tracefs in the tool's namespace"
  nsenter -t "$(tool_pid ds)" -m umount /sys/kernel/debug/tracing 2>/dev/null
  send_udp "$NS_A" "$IP_B" 9999 3
  wait_line ds 'drops: 3'
  tool_stop ds INT
  expect_eq "exit status" 0 "$STATUS"
  expect_match "the final report" '^Total since start +drops: 3$' "$(out_of ds)"
  expect_no_match "a crash" 'Segmentation|Aborted|traceback|core dumped' "$(err_of ds)"
  expect_no_leaked_progs "$CASE_DIR/before"
  mountpoint -q /sys/kernel/tracing || fail "the machine's tracefs went too"
}

run_case "faults: a full cache directory says so, with the path" \
  cache_dir_case full 'cache/kheaders/.*: No space left on device'
run_case "faults: a read-only cache directory says so, with the path" \
  cache_dir_case ro 'cache/programs: Read-only file system; compiling'
run_case "faults: the filtered device deleted mid-run: clean stop, nothing left" case_device_deleted link
run_case "faults: the monitored namespace deleted mid-run: clean stop, nothing left" case_device_deleted netns
run_case "faults: tracefs unmounted mid-run: still counting, clean stop" case_tracefs_unmounted
finish
