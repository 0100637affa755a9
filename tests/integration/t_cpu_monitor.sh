#!/usr/bin/env bash
# cpu-monitor: cpu-load's spinner thread (vns_spin_hot, frame pointers
# kept) pinned to one CPU keeps it busy: the tool must report that CPU
# as hot and name the spinner and its function in the sampled stacks,
# as text, JSON and folded stacks.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=cpu_load.sh
. "$(dirname "$0")/cpu_load.sh"

case_spinner() {
  need_root
  need_cmd taskset
  build_cpu_load
  local cpu spin pid
  cpu=$(taskset -cp $$ | sed 's/.*: //; s/[-,].*//')
  load_start sp taskset -c "$cpu" -- spin
  pid=$(load_pid sp)
  tool_start tx cpu-monitor --cpus "$cpu" --threshold 50 --top 100 -i 1 -d 60 7>&-
  tool_start js cpu-monitor --cpus "$cpu" --threshold 50 --top 100 -i 1 -d 60 --format json 7>&-
  tool_start fo cpu-monitor --cpus "$cpu" --threshold 50 --top 100 -i 1 -d 60 --format folded 7>&-
  wait_ready tx
  wait_line js '"type":"interval"'
  sleep 1.2   # folded prints nothing until a CPU is hot
  load_go
  spin=$(load_value sp spin)
  sleep 4.5
  tool_stop tx INT
  tool_stop js INT
  tool_stop fo INT
  load_end

  # On a loaded machine the spinner gets a small share of its CPU: one
  # interval with its samples is enough.
  expect_gt "JSON: intervals where CPU $cpu was hot with the spinner's function sampled" 0 \
    "$(jsonq js "(function() local k = 0
        for _, l in ipairs(lines) do
          for _, h in ipairs(l.hot or {}) do
            local found = false
            for _, r in ipairs(h.rows) do
              if r.tid == $spin and r.pid == $pid and r.comm == 'vns-spin'
                 and table.concat(r.user_stack, ';'):find('vns_spin_hot', 1, true) then found = true end
            end
            if l.type == 'interval' and h.cpu == $cpu and h.util >= 50 and found then k = k + 1 end
          end
        end return k end)()")"
  expect_eq "JSON: the CPUs monitored" "$cpu" "$(jsonq js "(function() local c = {}
      for i, u in ipairs(d.cpus) do c[i] = u.cpu end return table.concat(c, ',') end)()")"
  local text
  text=$(out_of tx)
  expect_match "text: the hot CPU" "^ +$cpu +[0-9.]+ .* hot\$" "$text"
  expect_match "text: its samples" "^CPU $cpu at [0-9.]+%: [0-9]+ samples\$" "$text"
  expect_match "text: the spinner's row" "^ +[0-9]+ +[0-9.]+ +$pid +$spin +- +vns-spin\$" "$text"
  expect_match "text: its function" "^      vns_spin_hot\$" "$text"
  expect_match "folded: the spinner's stack, outermost first" "^vns-spin;.*;vns_spin_hot(;[^ ]*)? [0-9]+\$" "$(out_of fo)"
  expect_match "folded: a comment line per hot CPU" "^# cpu-monitor [0-9T:Z-]+ cpu $cpu " "$(out_of fo)"
}

case_bad_options() {
  vns_run bad 20 cpu-monitor --cpus 1-x
  expect_eq "exit status" 2 "$STATUS"
  expect_match "the option and the form" "option --cpus: '1-x' is not valid; expected CPU numbers" "$(err_of bad)"
  vns_run bad2 20 cpu-monitor --cpus 4000
  expect_eq "exit status" 2 "$STATUS"
  expect_match "a CPU that does not exist" "option --cpus: CPU 4000 does not exist" "$(err_of bad2)"
}

run_case "cpu-monitor: a spinner pinned to a CPU: hot, sampled, its function named" case_spinner
run_case "cpu-monitor: bad options are one clear error" case_bad_options
finish
