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

# irqfd_run TAG CMD...: the fixture CMD in the background (its output in
# TAG.fix, its pid in FIX; it prints "ready" once set up and signals on
# SIGUSR1), and kvm-irqfd (d) on its pid from before it signals until it
# ended. Skips when the fixture found no /dev/kvm.
irqfd_run() {
  local tag=$1 i
  shift
  "$@" >"$CASE_DIR/$tag.fix" 2>&1 &
  FIX=$!
  echo "$FIX" >>"$CASE_DIR/pids"
  for ((i = 0; i < 300; i++)); do
    grep -q '^ready' "$CASE_DIR/$tag.fix" && break
    grep -q '^no-kvm' "$CASE_DIR/$tag.fix" && skip "$tag fixture: $(cat "$CASE_DIR/$tag.fix")"
    alive "$FIX" || fail "$tag fixture exited: $(head -c 400 "$CASE_DIR/$tag.fix")"
    sleep 0.1
  done
  grep -q '^ready' "$CASE_DIR/$tag.fix" || fail "$tag fixture not ready in 30 s"
  tool_start d kvm-irqfd --pid "$FIX" --format json -i 1 -d 300
  wait_line d '"type":"interval"'
  kill -USR1 "$FIX"
  for ((i = 0; i < 1200; i++)); do alive "$FIX" || break; sleep 0.1; done
  alive "$FIX" && fail "$tag fixture still running after 120 s"
  wait "$FIX" || fail "$tag fixture failed: $(head -c 400 "$CASE_DIR/$tag.fix")"
  tool_stop d INT
}

# gsi_field GSI FIELD: FIELD of the total's row of GSI.
gsi_field() {
  jsonq d "(function() local n = 0
    for _, g in ipairs(d.gsis) do if g.gsi == $1 then n = n + g.$2 end end return n end)()"
}

case_irqfd() {
  need_root
  need_kvm
  irqfd_run k "$KVM_FIXTURE" --signals "$N" --wait
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
  expect_eq "signals came from the fixture's thread" "$FIX" "$(jsonq d 'd.signals[1].tid')"
}

case_vhost_irqfd() {
  need_root
  need_kvm
  need_vhost_fixture
  local ns=${PFX}k tap=${PFX}k
  ns_new "$ns"
  vhost_tap "$ns" "$tap" 1000
  # ip netns exec execs the fixture: the pid is the fixture's (SIGUSR1, --pid).
  irqfd_run v ip netns exec "$ns" "$VHOST_FIXTURE" "$tap" --kvm "$N" --seconds 200
  expect_eq "fixture: TX frames vhost-net took (used entries)" "$N" "$(fixture_fact v tx_used)"
  expect_eq "fixture: vhost's signals that reached the APIC" "$N" "$(fixture_fact v kvm_delivered)"
  expect_eq "kvm-irqfd: signals in all == the APIC's injections" "$(fixture_fact v kvm_delivered)" "$(jsonq d 'd.totals.signals')"
  expect_eq "GSI 24 (MSI): fast path == the APIC's injections" "$(fixture_fact v kvm_delivered)" "$(gsi_field 24 fast)"
  expect_eq "GSI 24 (MSI): slow path" 0 "$(gsi_field 24 slow)"
  expect_eq "GSI 24: APIC accepts" "$N" "$(gsi_field 24 accepted)"
  expect_eq "signals came from the fixture's vhost worker" "vhost-$FIX" "$(jsonq d 'd.signals[1].comm')"
}

run_case "lab: kvm-irqfd's per-GSI fast and slow path counts equal the injections the KVM fixture made" case_irqfd
run_case "lab: kvm-irqfd counts vhost-net's signals on its call eventfd (an MSI irqfd) as the injections the vCPU's APIC saw" case_vhost_irqfd
finish
