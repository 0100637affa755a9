#!/usr/bin/env bash
# Lab: every shipped tool and variant compiles against the distro's
# kernel headers and passes a stock kernel's verifier (vnetscope check),
# kprobe variants included.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

case_check_all() {
  need_root
  vns_run chk 1800 check
  expect_eq "check exit status" 0 "$STATUS"
  expect_match "summary" '^[0-9]+ tools checked, 0 failed$' "$(tail -1 "$CASE_DIR/chk.out")"
  expect_match "the kprobe variant loaded" 'kretprobe____dev_queue_xmit +kprobe +[0-9]+ +[0-9]+ +ok' "$(out_of chk)"
}

run_case "lab: every shipped tool compiles with the distro headers and verifier-loads" case_check_all
finish
