#!/usr/bin/env bash
# Every way out detaches everything: --duration, SIGINT, SIGTERM, a Lua
# error in a -e script after attaching, a failing tool script under `run`.
# While the tool runs we note the BPF programs it holds and its
# attachment fds (perf events, BPF links); after it exits, those programs must be
# unloaded and no new tracing program may be left without an owner.
. "$(dirname "$0")/lib.sh"

# Note what the running tool holds: HELD (program ids), and check it has
# attached something, so that "released" below means something.
note_held() {
  local pid
  pid=$(tool_pid "$1")
  HELD=$(held_prog_ids "$pid")
  [ -n "$HELD" ] || fail "$1 holds no BPF program while running"
  expect_gt "attachment fds of the running $1" 0 "$(attach_fd_count "$pid")"
}

expect_released() {
  alive "$(tool_pid "$1")" && fail "$1 is still running"
  [ -e "/proc/$(tool_pid "$1")" ] && fail "$1's process (and its fds) still exists"
  # shellcheck disable=SC2086 # one argument per id
  expect_progs_gone $HELD
  expect_no_leaked_progs "$CASE_DIR/before"
}

# drop-summary with 9 drops on B's veth, ended by HOW (duration, INT, TERM).
drop_summary_exit() {
  need_root
  need_drop_reasons
  need_cmd bpftool
  topo_pair
  bpf_progs >"$CASE_DIR/before"
  tool_start ds drop-summary --dev "$DEV_B" -i 1 -d "$([ "$1" = duration ] && echo 3 || echo 60)"
  wait_ready ds
  note_held ds
  send_udp "$NS_A" "$IP_B" 9999 9
  settle
  if [ "$1" = duration ]; then
    tool_wait ds 200
    expect_eq "exit status after --duration" 0 "$STATUS"
  else
    tool_stop ds "$1"
    [ "$STATUS" -lt 128 ] || fail "SIG$1 killed the tool (status $STATUS) instead of ending it"
  fi
  expect_eq "final report" "Total since start  drops: 9" "$(total_line ds)"
  expect_eq "NO_SOCKET drops in the final report" 9 \
    "$(sum_rows ds NO_SOCKET '^__udp4_lib_rcv\+0x' "$DEV_B")"
  expect_no_match "errors on stderr" 'rror|traceback' "$(err_of ds)"
  expect_released ds
}

case_duration() { drop_summary_exit duration; }
case_sigint() { drop_summary_exit INT; }
case_sigterm() { drop_summary_exit TERM; }

# A -e script attaches a tracepoint, a raw tracepoint and a perf event,
# then raises an error (once the test has looked at what it holds).
case_eval_error() {
  need_root
  need_cmd bpftool
  bpf_progs >"$CASE_DIR/before"
  tool_start ev -e '
    local core = require "vns.core"
    local p = require("vns.program").compile([[
      BPF_ARRAY(n, u64, 1);
      TRACEPOINT_PROBE(skb, kfree_skb) { n.increment(0); return 0; }
      RAW_TRACEPOINT_PROBE(sys_enter) { n.increment(0); return 0; }
      int on_clock(struct bpf_perf_event_data *ctx) { n.increment(0); return 0; }
    ]]):attach_all()
    p:attach(p:load("on_clock", "perf_event"), "perf_event", { type = 1, config = 0, freq = 99 })
    print("attached " .. core.live_links())
    io.stdout:flush()
    local go = ...
    for _ = 1, 100 do
      local f = io.open(go)
      if f then f:close() break end
      core.sleep(0.1)
    end
    error("vnst deliberate failure")' "$CASE_DIR/go"
  wait_line ev '^attached'
  expect_eq "links attached" "attached 3" "$(out_of ev)"
  note_held ev
  touch "$CASE_DIR/go"
  tool_wait ev 100
  expect_eq "exit status" 1 "$STATUS"
  expect_match "the error" 'vnst deliberate failure' "$(err_of ev)"
  expect_released ev
}

# A tool script run with `vnetscope run` whose first report fails.
case_run_error() {
  need_root
  need_cmd bpftool
  cat >"$CASE_DIR/failing.lua" <<'EOF'
local tool = require "vns.tool"
return tool.summary {
  name = "vnst-failing",
  about = "Fails in its first report",
  program = function() return [[
    BPF_ARRAY(n, u64, 1);
    TRACEPOINT_PROBE(skb, kfree_skb) { n.increment(0); return 0; }
  ]] end,
  collect = function() error("vnst deliberate failure in collect") end,
  render = function() end,
}
EOF
  bpf_progs >"$CASE_DIR/before"
  tool_start run run "$CASE_DIR/failing.lua" -i 2 -d 60
  wait_ready run
  note_held run
  tool_wait run 100
  expect_eq "exit status" 1 "$STATUS"
  expect_match "the error" 'vnst deliberate failure in collect' "$(err_of run)"
  expect_released run
}

run_case "clean exit: --duration prints the total and detaches" case_duration
run_case "clean exit: SIGINT prints the total and detaches" case_sigint
run_case "clean exit: SIGTERM prints the total and detaches" case_sigterm
run_case "clean exit: Lua error in a -e script after attach detaches" case_eval_error
run_case "clean exit: failing 'run' tool script detaches" case_run_error
finish
