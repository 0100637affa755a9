# vmlib.sh: VMs played by tests/integration/tap-vm.pl on a tap device,
# for the VM latency tests (here on a Linux bridge, in the lab on OVS).
# Sourced after lib.sh.

# vm_start NAME NS DEV MAC IP RXPORT: the player of VM NAME in NS ("" for
# the root namespace) on tap DEV; commands go to it with vm_cmd.
vm_start() {
  local name=$1 ns=$2 wrap=()
  [ -z "$ns" ] || wrap=(ip netns exec "$ns")
  mkfifo "$CASE_DIR/$name.in" || fail "mkfifo failed"
  "${wrap[@]}" perl "$TESTS_DIR/tap-vm.pl" "$3" "$4" "$5" "$6" <"$CASE_DIR/$name.in" >"$CASE_DIR/$name.vm" 2>&1 &
  echo $! >>"$CASE_DIR/pids"
  echo $! >"$CASE_DIR/$name.vmpid"
  # Hold the fifo open for writing: the player sees end of input only at vm_quit.
  eval "exec {VM_FD_$name}>\"\$CASE_DIR/\$name.in\""
  local i
  for ((i = 0; i < 100; i++)); do grep -q '^ready$' "$CASE_DIR/$name.vm" && return 0; sleep 0.1; done
  fail "the VM $name did not start: $(head -c 300 "$CASE_DIR/$name.vm")"
}

# vm_cmd NAME LINE: a command to VM NAME (send DSTMAC DSTIP DPORT COUNT).
vm_cmd() { local fd="VM_FD_$1"; echo "$2" >&"${!fd}"; }

# vm_quit NAME: stop the player; VM_FRAMES is what it counted.
vm_quit() {
  vm_cmd "$1" quit
  local i pid
  pid=$(cat "$CASE_DIR/$1.vmpid")
  for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
  VM_FRAMES=$(sed -n 's/^frames //p' "$CASE_DIR/$1.vm")
}

# udp_reader NS IP PORT COUNT: reads COUNT datagrams in the background,
# then writes how many to $CASE_DIR/reader.count; it is bound when this
# returns. It waits up to 300 s: the datagrams come from a sender that
# starts after it, and under emulation (the lab, a loaded machine) a
# fresh perl can take tens of seconds to start: a reader that gave up
# after 30 s closed its socket before they came (the lab's host counted
# them all as UDP NoPorts, dropped after ip).
# With READER_HOLD=1 it reads nothing until reader_go: the datagrams
# wait in its socket (fewer than its buffer holds), so no receive runs
# while the reader is in a kprobe.
udp_reader() {
  rm -f "$CASE_DIR/reader.count" "$CASE_DIR/reader.count.ready" "$CASE_DIR/reader.count.go"
  timeout 300 ip netns exec "$1" perl -MIO::Socket::INET -e '
    my ($ip, $port, $n, $out, $hold) = @ARGV;
    my $s = IO::Socket::INET->new(LocalAddr => $ip, LocalPort => $port, Proto => "udp") or die "bind: $!\n";
    open(my $r, ">", "$out.ready"); close $r;
    if ($hold) { select(undef, undef, undef, 0.05) until -e "$out.go"; }
    my ($got, $buf) = (0, "");
    while ($got < $n) { $s->recv($buf, 100); $got++; }
    open(my $f, ">", $out); print $f $got; close $f;
  ' "$2" "$3" "$4" "$CASE_DIR/reader.count" "${READER_HOLD:-}" &
  echo $! >>"$CASE_DIR/pids"
  READER_PID=$!
  local i
  for ((i = 0; i < READY_TENTHS; i++)); do [ -e "$CASE_DIR/reader.count.ready" ] && return 0; sleep 0.1; done
  fail "the UDP reader did not start"
}
reader_go() { : >"$CASE_DIR/reader.count.go"; }
