#!/usr/bin/env bash
# The event stream of details tools (vns.events, the engine's fast path)
# under a flood: every drop the kernel counts is an event shown, one the
# budget suppressed, or one the buffer lost — events + suppressed + lost
# equals the kernel's own count (Udp NoPorts of the receiving namespace),
# for text and JSON, with and without the budget, with the ring buffer
# and with perf buffers (the path of kernels before 5.8), and with a
# buffer too small to keep up (losses counted, not hidden). The event
# lines printed are the events counted. No timing is asserted.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

FLOOD=30000

# shellcheck disable=SC2016 # awk's fields
noports() { ip netns exec "$NS_B" awk '/^Udp:/ { if (h) print $(f); else { for (i = 1; i <= NF; i++) if ($i == "NoPorts") f = i; h = 1 } }' /proc/net/snmp; }

# flood N: N 1-byte datagrams from one socket in A to B's closed port 9999,
# as fast as they go.
flood() {
  # shellcheck disable=SC2016 # expanded by perl
  timeout 60 ip netns exec "$NS_A" perl -MSocket -e '
    my ($ip, $n) = @ARGV;
    socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!\n";
    my $to = pack_sockaddr_in(9999, inet_aton($ip));
    send($s, "x", 0, $to) for 1 .. $n;' "$IP_B" "$1" || fail "the flood failed"
}

# Until the tool's output stops growing (it has caught up), 20 s at most.
caught_up() {
  local prev=-1 now
  for _ in $(seq 40); do
    now=$(stat -c %s "$CASE_DIR/$1.out")
    [ "$now" = "$prev" ] && return 0
    prev=$now
    sleep 0.5
  done
}

# flood_case FORMAT RATE [OPTIONS...]: the accounting identity, one way.
flood_case() {
  need_root
  need_drop_reasons
  need_cmd perl
  local fmt=$1 rate=$2
  shift 2
  topo_pair
  tool_start dd drop-details --dev "$DEV_B" --proto udp --dst-port 9999 --max-events-per-sec "$rate" \
    --format "$fmt" -i 1 -d 120 "$@"
  if [ "$fmt" = json ]; then wait_line dd '"type":"stats"'; else wait_ready dd; fi
  local np0 np1 kernel shown suppressed lost lines
  np0=$(noports)
  flood "$FLOOD"
  np1=$(noports)
  caught_up dd
  tool_stop dd INT
  expect_eq "exit status" 0 "$STATUS"
  kernel=$((np1 - np0))
  if [ "$fmt" = json ]; then
    read -r shown suppressed lost < <(grep '"final":true' "$CASE_DIR/dd.out" |
      perl -ne 'my %h = /"(events|suppressed|lost)":(\d+)/g; print "$h{events} $h{suppressed} $h{lost}\n"')
    lines=$(grep -c '^{"type":"event",' "$CASE_DIR/dd.out")
  else
    read -r shown suppressed lost < <(sed -n 's/^Total since start: \([0-9]*\) events, \([0-9]*\) suppressed.*, \([0-9]*\) lost$/\1 \2 \3/p' "$CASE_DIR/dd.out")
    lines=$(grep -cE " NO_SOCKET +__udp4_lib_rcv\+0x[0-9a-f]+ +[0-9]+  udp $IP_A:[0-9]+ > $IP_B:9999\$" "$CASE_DIR/dd.out")
  fi
  echo "$fmt, budget $rate $*: kernel NoPorts $kernel; $shown events, $suppressed suppressed, $lost lost"
  expect_gt "drops made" 0 "$kernel"
  expect_eq "events + suppressed + lost = Udp NoPorts" "$kernel" "$((shown + suppressed + lost))"
  expect_eq "event lines printed = events counted" "$shown" "$lines"
  if [ "$rate" -lt "$FLOOD" ]; then expect_gt "suppressed under the budget" 0 "$suppressed"; fi
}

NO_BUDGET=10000000

run_case "events: text, no budget: events + suppressed + lost = NoPorts" flood_case text $NO_BUDGET
run_case "events: JSON, no budget: events + suppressed + lost = NoPorts" flood_case json $NO_BUDGET
run_case "events: text, budget 2000/s: events + suppressed + lost = NoPorts" flood_case text 2000
run_case "events: JSON, budget 2000/s: events + suppressed + lost = NoPorts" flood_case json 2000
run_case "events: JSON, a one-page ring buffer: losses counted" flood_case json $NO_BUDGET --buffer-pages 1
VNS_EVENTS_BUFFER=perf run_case "events: perf buffers, JSON, no budget" flood_case json $NO_BUDGET
VNS_EVENTS_BUFFER=perf run_case "events: perf buffers, text, budget 2000/s" flood_case text 2000
VNS_EVENTS_BUFFER=perf run_case "events: perf buffers of one page: losses counted" flood_case json $NO_BUDGET --buffer-pages 1
finish
