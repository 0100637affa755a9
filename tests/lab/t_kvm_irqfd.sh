#!/usr/bin/env bash
# Lab: kvm-irqfd against what tests/lab/fixtures/kvm-fixture.c did. The
# fixture (nested KVM: kvm_amd under qemu -cpu max) makes a VM with an
# in-kernel irqchip and one vCPU, and signals two irqfds N times each:
# GSI 5, an IOAPIC pin (KVM cannot inject it in atomic context: the slow
# path, irqfd_inject), and GSI 24, an MSI route (the fast path). After
# each signal it waits until the vector is pending in the vCPU's APIC
# (KVM_GET_LAPIC) and clears it: its "delivered" counts are the kernel's
# word that each injection arrived. Then the same with vhost-net as the
# signaller: the vhost fixture's TX call eventfd is the irqfd of the MSI
# route (vhost -> eventfd_signal -> irqfd_wakeup -> injection).
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=vhost-lib.sh
. "$(dirname "$0")/vhost-lib.sh"

KVM_FIXTURE=$(dirname "$VNS")/lab-fixtures/kvm-fixture
N=10

need_kvm() {
  [ -x "$KVM_FIXTURE" ] || skip "no $KVM_FIXTURE (tests/lab/run-suite.sh builds it)"
  [ -c /dev/kvm ] || modprobe kvm_amd 2>/dev/null || modprobe kvm_intel 2>/dev/null
  [ -c /dev/kvm ] || skip "no /dev/kvm in this guest (modprobe kvm_amd/kvm_intel failed: no svm/vmx in the emulated CPU)"
}

# fixture_ready FIX PID: waits until the fixture (its output in
# FIX.fix) is set up; skips when it found no /dev/kvm.
fixture_ready() {
  local i
  for ((i = 0; i < 300; i++)); do
    grep -q '^ready' "$CASE_DIR/$1.fix" && return 0
    grep -q '^no-kvm' "$CASE_DIR/$1.fix" && skip "$1 fixture: $(cat "$CASE_DIR/$1.fix")"
    alive "$2" || fail "$1 fixture exited: $(head -c 400 "$CASE_DIR/$1.fix")"
    sleep 0.1
  done
  fail "$1 fixture not ready in 30 s"
}

# fixture_done FIX PID: waits (up to 120 s) until the fixture ends well.
fixture_done() {
  local i
  for ((i = 0; i < 1200; i++)); do alive "$2" || break; sleep 0.1; done
  alive "$2" && fail "$1 fixture still running after 120 s"
  wait "$2" || fail "$1 fixture failed: $(head -c 400 "$CASE_DIR/$1.fix")"
}

# gsi_field GSI FIELD: FIELD of the total's row of GSI.
gsi_field() {
  jsonq d "(function() local n = 0
    for _, g in ipairs(d.gsis) do if g.gsi == $1 then n = n + g.$2 end end return n end)()"
}

case_irqfd() {
  need_root
  need_kvm
  "$KVM_FIXTURE" --signals "$N" --wait >"$CASE_DIR/k.fix" 2>&1 &
  local fix=$!
  echo "$fix" >>"$CASE_DIR/pids"
  fixture_ready k "$fix"
  tool_start d kvm-irqfd --pid "$fix" --format json -i 1 -d 300
  wait_line d '"type":"interval"'
  kill -USR1 "$fix"
  fixture_done k "$fix"
  tool_stop d INT
  expect_eq "fixture: GSI 5 injections that reached the APIC" "$N" "$(fixture_fact k gsi_delivered)"
  expect_eq "fixture: MSI injections that reached the APIC" "$N" "$(fixture_fact k msi_delivered)"
  expect_eq "kvm-irqfd: signals in all" "$((2 * N))" "$(jsonq d 'd.totals.signals')"
  expect_eq "GSI 5 (IOAPIC pin): fast path" 0 "$(gsi_field 5 fast)"
  expect_eq "GSI 5 (IOAPIC pin): slow path (irqfd_inject queued)" "$N" "$(gsi_field 5 slow)"
  expect_eq "GSI 5: slow-path injections == the fixture's delivered" "$(fixture_fact k gsi_delivered)" "$(gsi_field 5 injected)"
  expect_eq "GSI 24 (MSI): fast path == the fixture's delivered" "$(fixture_fact k msi_delivered)" "$(gsi_field 24 fast)"
  expect_eq "GSI 24 (MSI): slow path" 0 "$(gsi_field 24 slow)"
  expect_eq "GSI 24: APIC accepts" "$N" "$(gsi_field 24 accepted)"
  expect_eq "GSI 5: APIC accepts" "$N" "$(gsi_field 5 accepted)"
  expect_eq "vCPU kicks: one per accepted interrupt" "$((2 * N))" "$(jsonq d 'd.totals.kicks')"
  expect_eq "signals came from the fixture's thread" "$fix" "$(jsonq d 'd.signals[1].tid')"
}

case_vhost_irqfd() {
  need_root
  need_kvm
  need_vhost_fixture
  local ns=${PFX}k tap=${PFX}k
  ns_new "$ns"
  vhost_tap "$ns" "$tap" 1000
  # ip netns exec execs the fixture: $! is its pid (SIGUSR1, --pid).
  ip netns exec "$ns" "$VHOST_FIXTURE" "$tap" --kvm "$N" --seconds 200 >"$CASE_DIR/v.fix" 2>&1 &
  local fix=$!
  echo "$fix" >>"$CASE_DIR/pids"
  fixture_ready v "$fix"
  tool_start d kvm-irqfd --pid "$fix" --format json -i 1 -d 300
  wait_line d '"type":"interval"'
  kill -USR1 "$fix"
  fixture_done v "$fix"
  tool_stop d INT
  expect_eq "fixture: TX frames vhost-net took (used entries)" "$N" "$(fixture_fact v tx_used)"
  expect_eq "fixture: vhost's signals that reached the APIC" "$N" "$(fixture_fact v kvm_delivered)"
  expect_eq "kvm-irqfd: signals in all == the APIC's injections" "$(fixture_fact v kvm_delivered)" "$(jsonq d 'd.totals.signals')"
  expect_eq "GSI 24 (MSI): fast path == the APIC's injections" "$(fixture_fact v kvm_delivered)" "$(gsi_field 24 fast)"
  expect_eq "GSI 24 (MSI): slow path" 0 "$(gsi_field 24 slow)"
  expect_eq "GSI 24: APIC accepts" "$N" "$(gsi_field 24 accepted)"
  expect_eq "signals came from the fixture's vhost worker" "vhost-$fix" "$(jsonq d 'd.signals[1].comm')"
}

run_case "lab: kvm-irqfd's per-GSI fast and slow path counts equal the injections the KVM fixture made" case_irqfd
run_case "lab: kvm-irqfd counts vhost-net's signals on its call eventfd (an MSI irqfd) as the injections the vCPU's APIC saw" case_vhost_irqfd
finish
