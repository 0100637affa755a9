#!/usr/bin/env bash
# Lab: every shipped tool and variant, compiled on the host against the
# distro's kernel headers (run-suite.sh: vnetscope compile --all), passes
# a stock kernel's verifier (vnetscope check, from the packs), kprobe
# variants included.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

case_check_all() {
  need_root
  # kvm-irqfd's x86 tracepoints exist only while kvm is loaded (the packs
  # were made with them: save-tracefs.sh loads it too).
  modprobe kvm_amd 2>/dev/null || modprobe kvm_intel 2>/dev/null
  vns_run chk 1800 check
  expect_eq "check exit status" 0 "$STATUS"
  expect_match "summary" '^[0-9]+ tools checked, 0 failed$' "$(tail -1 "$CASE_DIR/chk.out")"
  expect_match "the kprobe variant loaded" 'kretprobe____dev_queue_xmit +kprobe +[0-9]+ +[0-9]+ +ok' "$(out_of chk)"
}

run_case "lab: every shipped tool, compiled with the distro headers, verifier-loads" case_check_all
finish
