#!/usr/bin/env bash
# Lab: vnetscope doctor on each lab kernel says what that kernel has and
# what each tool cannot do there: kprobes and the tools' probe points on
# both; no drop reasons (drop-summary, drop-details) and no qdisc drop
# reasons (qdisc-drop) where the kernel lacks them (5.10), none of that
# where it has them (6.1).
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

case_doctor() {
  need_root
  vns_run doc 300 doctor
  expect_eq "doctor exit status" 0 "$STATUS"
  local out
  out=$(out_of doc)
  expect_match "kprobes supported" '^  kprobe +yes ' "$out"
  expect_match "the kprobe variant's function" '^  qdisc-drop +kprobe:__dev_queue_xmit +ok$' "$out"
  expect_match "drop-summary's tracepoint" '^  drop-summary +tracepoint:skb:kfree_skb +ok$' "$out"
  if grep -q ' reason;' /sys/kernel/tracing/events/skb/kfree_skb/format; then
    expect_no_match "no caveat of drop reasons" 'limited: no drop reasons' "$out"
  else
    expect_match "drop-summary without reasons" '^  drop-summary +- +limited: no drop reasons on this kernel' "$out"
    expect_match "drop-details without reasons" '^  drop-details +- +limited: no drop reasons on this kernel' "$out"
    expect_match "qdisc-drop without qdisc reasons" '^  qdisc-drop +- +limited: no qdisc drop reasons' "$out"
  fi
}

run_case "lab: doctor says what this kernel lacks, per tool" case_doctor
finish
