# cpu_load.sh: the known work of fixtures/cpu-load.c for the CPU tools'
# tests (t_offcpu.sh, t_sched_latency.sh, t_cpu_monitor.sh), sourced
# after lib.sh.

# build_cpu_load: compile the fixture into $CASE_DIR/cpu-load (frame
# pointers kept: user stacks walk through it).
build_cpu_load() {
  need_cmd gcc
  gcc -O1 -g -fno-omit-frame-pointer -pthread -o "$CASE_DIR/cpu-load" "$TESTS_DIR/fixtures/cpu-load.c" ||
    fail "cannot build fixtures/cpu-load.c"
}

# load_start TAG [PREFIX...] -- MODE ARGS: cpu-load in the background
# (PREFIX, e.g. taskset -c 0, runs it), reading lines from the fifo
# $CASE_DIR/TAG.in that the case writes through fd 7 (load_go sends a
# line, load_end closes it); its output in $CASE_DIR/TAG.log.
load_start() {
  local tag=$1 prefix=()
  shift
  while [ "$1" != -- ]; do prefix+=("$1"); shift; done
  shift
  mkfifo "$CASE_DIR/$tag.in"
  "${prefix[@]}" "$CASE_DIR/cpu-load" "$@" <"$CASE_DIR/$tag.in" >"$CASE_DIR/$tag.log" 2>&1 &
  echo $! >"$CASE_DIR/$tag.lpid"
  echo $! >>"$CASE_DIR/pids"
  exec 7>"$CASE_DIR/$tag.in"
}

load_go() { echo go >&7; }
load_end() { exec 7>&-; }
load_pid() { cat "$CASE_DIR/$1.lpid"; }

# load_value TAG WORD: the number after WORD on the load's output, once
# it printed it (10 s at most).
load_value() {
  local i v
  for ((i = 0; i < 100; i++)); do
    v=$(sed -n "s/^$2 //p" "$CASE_DIR/$1.log" | tail -n 1)
    [ -n "$v" ] && { echo "$v"; return 0; }
    sleep 0.1
  done
  fail "cpu-load $1 did not print '$2' within 10 s: $(head -c 300 "$CASE_DIR/$1.log")"
}
