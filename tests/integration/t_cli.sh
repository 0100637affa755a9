#!/usr/bin/env bash
# The command line: list, check, doctor, --version, unknown tools, --emit-c.
. "$(dirname "$0")/lib.sh"

KPROBE_FIXTURE=$TESTS_DIR/fixtures/kprobe-count.lua

kernel_has_kprobes() {
  [ -e /sys/bus/event_source/devices/kprobe ] || [ -e /sys/kernel/tracing/kprobe_events ]
}

case_list() {
  vns_run list 30 list
  expect_eq "exit status" 0 "$STATUS"
  expect_match "drop-summary with its layer and kind" \
    '^drop-summary +linux-network-stack +summary +.*kernel_drop_stack_stats_summary_all' "$(out_of list)"
}

case_check() {
  need_root
  vns_run check 120 check drop-summary
  expect_eq "exit status" 0 "$STATUS"
  expect_match "drop-summary's program with its instruction counts" \
    '^drop-summary +raw_tracepoint__kfree_skb +raw_tracepoint +[1-9][0-9]* +[1-9][0-9]* +ok$' "$(out_of check)"
  expect_match "and as a classic tracepoint" \
    '^drop-summary \(classic tracepoints\) +tracepoint__skb__kfree_skb +tracepoint +[1-9][0-9]* +[1-9][0-9]* +ok$' "$(out_of check)"
  expect_match "summary" '^1 tools checked, 0 failed$' "$(out_of check)"
}

# check loads programs into the verifier but must not attach them.
case_check_attaches_nothing() {
  need_root
  need_cmd strace
  timeout 120 strace -f -qq -e trace=bpf,perf_event_open -o "$CASE_DIR/strace.log" \
    "$VNS" check drop-summary >/dev/null 2>&1
  expect_eq "exit status" 0 "$?"
  local calls
  calls=$(cat "$CASE_DIR/strace.log")
  expect_match "a program load" 'BPF_PROG_LOAD' "$calls"
  expect_no_match "attach calls" 'perf_event_open|BPF_RAW_TRACEPOINT_OPEN|BPF_LINK_CREATE' "$calls"
}

# A whole compile --all takes minutes: SIGTERM stops it between
# programs, with one line saying where.
case_compile_all_stops_on_term() {
  need_root
  mkdir -p "$CASE_DIR/packs"
  # A cache of its own, so the programs compile (and take their time).
  VNETSCOPE_CACHE_DIR=$CASE_DIR/cache tool_start all compile --all -o "$CASE_DIR/packs"
  local i
  for ((i = 0; i < 600; i++)); do
    [ -n "$(ls "$CASE_DIR/packs")" ] && break
    alive "$(tool_pid all)" || break
    sleep 0.1
  done
  tool_stop all TERM
  expect_eq "exit status after SIGTERM" 1 "$STATUS"
  expect_match "where it stopped" '^vnetscope: interrupted at [a-z]' "$(err_of all)"
}

case_check_kprobe() {
  need_root
  vns_run check 120 check "$KPROBE_FIXTURE"
  expect_eq "exit status" 0 "$STATUS"
  expect_match "the kprobe program verifier-loaded" \
    '^kprobe-count +kprobe__tcp_v4_rcv +kprobe +[1-9][0-9]* +[0-9]+ +ok$' "$(out_of check)"
}

case_run_kprobe() {
  need_root
  kernel_has_kprobes && skip "this kernel supports kprobes"
  vns_run kp 120 run "$KPROBE_FIXTURE" -d 2
  expect_eq "exit status" 1 "$STATUS"
  expect_eq "stderr lines" 1 "$(err_of kp | wc -l)"
  expect_match "the message" '^vnetscope: kprobe tcp_v4_rcv: kprobes are not supported' "$(err_of kp)"
}

case_doctor() {
  need_root
  vns_run doc 120 doctor
  expect_eq "exit status" 0 "$STATUS"
  local out type
  out=$(out_of doc)
  expect_match "kernel release" "^kernel: +$(uname -r | sed 's/[.+]/\\&/g')\$" "$out"
  for type in tracepoint raw_tracepoint kprobe uprobe perf_event; do
    expect_match "probe type $type" "^ +$type +(yes|no)( |\$)" "$out"
  done
  expect_match "tracepoint supported" '^ +tracepoint +yes' "$out"
  if kernel_has_kprobes; then
    expect_match "kprobe supported" '^ +kprobe +yes' "$out"
  else
    expect_match "kprobe unsupported" '^ +kprobe +no' "$out"
  fi
}

case_version() {
  local want
  want=$(sed -n 's/^project(vnetscope VERSION \([0-9.]*\).*/\1/p' "$REPO_DIR/CMakeLists.txt")
  vns_run v 30 --version
  expect_eq "exit status" 0 "$STATUS"
  expect_eq "version line" "vnetscope $want" "$(out_of v)"
}

case_unknown_tool() {
  vns_run u 30 vnst-no-such-tool --dev lo
  expect_eq "exit status" 2 "$STATUS"
  expect_eq "stderr lines" 1 "$(err_of u | wc -l)"
  expect_match "the message" "^vnetscope: .*'vnst-no-such-tool'" "$(err_of u)"
  expect_eq "stdout" "" "$(out_of u)"
}

# --emit-c prints the C with --dev as two 64-bit run-time constants (the
# name as a zero-padded char[16], little-endian) and loads nothing.
case_emit_c() {
  need_root
  need_cmd lua5.4
  local words lo hi c
  words=$(lua5.4 -e '
    local lo, hi = string.unpack("<i8<i8", "vnsttest0" .. string.rep("\0", 7))
    local function lit(n) return string.format("0x%x", n) end
    print(lit(lo), lit(hi))')
  read -r lo hi <<<"$words"
  vns_run c 60 drop-summary --dev vnsttest0 --emit-c
  expect_eq "exit status" 0 "$STATUS"
  c=$(out_of c)
  expect_match "the tracepoint, raw on this kernel" '^#define VNS_TP_ENTRY_kfree_skb RAW_TRACEPOINT_PROBE\(kfree_skb\)$' "$c"
  expect_match "the --dev filter" "== VNS_VALUE\\(u64, $lo\\) && .*== VNS_VALUE\\(u64, $hi\\)\\)\\)$" "$c"
  expect_no_match "a banner" 'Hit Ctrl-C' "$c"
  if command -v strace >/dev/null; then
    timeout 60 strace -f -qq -e trace=bpf,perf_event_open -o "$CASE_DIR/strace.log" \
      "$VNS" drop-summary --dev vnsttest0 --emit-c >/dev/null 2>&1
    expect_no_match "BPF or perf syscalls" 'BPF_PROG_LOAD|perf_event_open' "$(cat "$CASE_DIR/strace.log")"
  fi
}

# A copy of the share tree (VNETSCOPE_HOME) with a script that does not
# parse: it is reported, and breaks no other tool.
broken_share() {
  local share=$CASE_DIR/share
  mkdir -p "$share/scripts/x"
  cp -r "$REPO_DIR/stdlib" "$REPO_DIR/scripts" "$REPO_DIR/bpf-templates" "$share/"
  printf 'return require("vns.tool").summary {\n  name = "broken" about = "x",\n}\n' >"$share/scripts/x/broken.lua"
  export VNETSCOPE_HOME=$share
}

case_broken_script_list_and_run() {
  broken_share
  vns_run list 30 list
  expect_eq "list exit status" 1 "$STATUS"
  expect_match "drop-summary listed" '^drop-summary +linux-network-stack +summary ' "$(out_of list)"
  expect_match "qdisc-drop listed" '^qdisc-drop +linux-network-stack +summary ' "$(out_of list)"
  expect_match "the broken script with its error" \
    "^broken: $VNETSCOPE_HOME/scripts/x/broken.lua:2: '}' expected" "$(out_of list)"
  vns_run help 30 drop-summary --help
  expect_eq "drop-summary --help exit status" 0 "$STATUS"
  expect_match "drop-summary --help" '^drop-summary - ' "$(out_of help)"
  vns_run alias 30 eth_drop --help
  expect_eq "an alias's --help exit status" 0 "$STATUS"
  vns_run b 30 broken --help
  expect_eq "the broken tool's exit status" 1 "$STATUS"
  expect_match "the broken tool's error" "^vnetscope: .*/scripts/x/broken.lua:2: " "$(err_of b)"
  need_root
  vns_run run 60 drop-summary -d 1
  expect_eq "drop-summary -d 1 exit status" 0 "$STATUS"
  expect_match "drop-summary's banner" '^Tracing packet drops' "$(out_of run)"
}

case_broken_script_check_doctor_compile() {
  need_root
  broken_share
  vns_run check 600 check
  expect_eq "check exit status" 1 "$STATUS"
  expect_match "drop-summary checked" '^drop-summary +raw_tracepoint__kfree_skb +raw_tracepoint +[1-9][0-9]* +[0-9]+ +ok$' \
    "$(out_of check)"
  expect_match "the broken one failed" '^broken +- +- +- +- +BROKEN$' "$(out_of check)"
  expect_match "the summary" '^[0-9]+ tools checked, 1 failed$' "$(out_of check)"
  expect_match "its error names the file" '^broken: .*/scripts/x/broken.lua:2: ' "$(err_of check)"
  vns_run doc 120 doctor
  expect_eq "doctor exit status" 1 "$STATUS"
  expect_match "doctor's drop-summary row" '^ +drop-summary +tracepoint:skb:kfree_skb +ok$' "$(out_of doc)"
  expect_match "doctor's broken row" '^ +broken +- +broken: .*/scripts/x/broken.lua:2: ' "$(out_of doc)"
  vns_run all 600 compile --all -o "$CASE_DIR/packs"
  expect_eq "compile --all exit status" 1 "$STATUS"
  expect_match "drop-summary compiled" "^drop-summary: $CASE_DIR/packs/[0-9a-f]+\\.pack\$" "$(out_of all)"
  expect_match "the broken one named" '^vnetscope: compile: broken tool .*/scripts/x/broken.lua:2: ' "$(err_of all)"
}

run_case "cli: list shows drop-summary with its layer" case_list
run_case "cli: check prints drop-summary's instruction counts" case_check
run_case "cli: check attaches nothing (strace)" case_check_attaches_nothing
run_case "cli: check verifier-loads a kprobe tool" case_check_kprobe
run_case "cli: compile --all stops between programs on SIGTERM" case_compile_all_stops_on_term
run_case "cli: a kprobe tool fails with one clear line" case_run_kprobe
run_case "cli: doctor shows the kernel and each probe type" case_doctor
run_case "cli: a broken script is listed and stops no other tool" case_broken_script_list_and_run
run_case "cli: check, doctor and compile --all report a broken script" case_broken_script_check_doctor_compile
run_case "cli: --version" case_version
run_case "cli: unknown tool exits 2 with one line" case_unknown_tool
run_case "cli: --emit-c prints the C with the --dev constant, loads nothing" case_emit_c
finish
