#!/usr/bin/env bash
# sched-latency: cpu-load's waiter thread sleeps N times on a
# CPU it shares with a spinning thread (taskset -c C); each wakeup waits
# behind the spinner. The tool must time at least the N wakeups of the
# waiter, and name the spinner among the tasks that ran instead.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=cpu_load.sh
. "$(dirname "$0")/cpu_load.sh"

N=40 MS=5

case_waits_behind_spinner() {
  need_root
  need_cmd taskset
  build_cpu_load
  local cpu
  cpu=$(taskset -cp $$ | sed 's/.*: //; s/[-,].*//')
  tool_start tx sched-latency --comm vns-waiter --top-ran 100 -i 1 -d 60 7>&-
  tool_start js sched-latency --comm 'vns-w*' --top-ran 100 -i 1 -d 60 --format json 7>&-
  wait_ready tx
  wait_line js '"type":"interval"'
  load_start rq taskset -c "$cpu" -- runq "$N" "$MS"
  local waiter busy pid
  waiter=$(load_value rq waiter)
  busy=$(load_value rq busy)
  pid=$(load_pid rq)
  load_value rq woke >/dev/null
  sleep 1.2
  tool_stop tx INT
  tool_stop js INT
  load_end

  local res count behind only
  res=$(jsonq js "(function() local h
      for _, x in ipairs(d.histograms) do if x.tid == $waiter then h = x end end
      if not h then return 'none' end
      local behind, seen = false, {}
      for _, r in ipairs(h.ran_instead) do
        if r.tid == $busy and r.comm == 'vns-busy' then behind = true end
        seen[#seen + 1] = r.comm:gsub(' ', '_') .. ':' .. r.count
      end
      if not behind then behind = 'false(' .. table.concat(seen, ',') .. ')' end
      local only = #d.histograms == 1 and h.comm == 'vns-waiter' and h.pid == $pid
      return h.count .. ' ' .. tostring(behind) .. ' ' .. tostring(only) .. ' ' .. tostring(h.max_ns > 0) end)()")
  read -r count behind only max <<<"$res"
  [ "$count" != none ] || fail "JSON: no histogram for the waiter thread $waiter"
  [ "$count" -ge "$N" ] || fail "JSON: $count waits timed, the waiter woke $N times"
  expect_eq "JSON: vns-busy ($busy) ran instead of the waiter" true "$behind"
  expect_eq "JSON: only the waiter (--comm 'vns-w*'), in its process" true "$only"
  expect_eq "JSON: a max wait" true "$max"

  local text
  text=$(sed -n '/^Total since start/,$p' "$CASE_DIR/tx.out")
  expect_match "text: the waiter's line" "^vns-waiter  pid $pid tid $waiter: [0-9]+ waits, max [0-9]+ us \(behind " "$text"
  expect_match "text: the histogram" "^ +usecs +: count +distribution" "$text"
  expect_match "text: ran instead" "^  ran instead: .*vns-busy \($busy\) [0-9]+ waits" "$text"
}

case_bad_options() {
  vns_run bad 20 sched-latency --comm 'vhost*-x'
  expect_eq "exit status" 2 "$STATUS"
  expect_match "the option and the form" "option --comm: 'vhost\*-x' is not valid" "$(err_of bad)"
}

run_case "sched-latency: a thread waits behind a spinner on its CPU" case_waits_behind_spinner
run_case "sched-latency: bad options are one clear error" case_bad_options
finish
