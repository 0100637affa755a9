#!/usr/bin/env bash
# run-suite.sh: the kernel lab's part of `make test`. Installs what the
# lab needs (qemu, mmdebstrap), and for each kernel (VNST_LAB_KERNELS,
# default "6.1 5.10") builds the guest image when missing, boots it and
# runs tests/lab/t_*.sh inside (tests/lab/suite.sh). Prints the build and
# run times and the guest's PASS/FAIL lines and summary, per kernel.
# When the lab cannot run here it says why, as one skipped test.
#   tests/lab/run-suite.sh [BUILD_DIR]    (default build; inside the checkout)
#   VNST_LAB=0 skips it on purpose.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" 2>/dev/null && pwd)

skip() {
  skip_one "$1"
  exit 0
}
skip_one() {
  echo "SKIP kernel lab: $1"
  echo "0 passed, 0 failed, 1 skipped"
}

[ "${VNST_LAB:-1}" != 0 ] || skip "VNST_LAB=0"
[ "$(id -u)" -eq 0 ] || skip "needs root (image build, virtiofsd)"
"$here/../../tools/install-deps.sh" lab || skip "cannot install the lab's packages (qemu-system-x86, mmdebstrap)"
case $build/ in
  "$repo"/*) ;;
  *) skip "the build directory ${1:-build} is not inside the checkout the guest shares" ;;
esac
[ -x "$build/vnetscope" ] || skip "no vnetscope binary in $build"

# lab_kernel K: the whole lab on kernel K (image.sh's VNST_LAB_KERNEL).
# Returns the suite's status; a setup that cannot run is a skip.
lab_kernel() {
  local kernel=$1 start image release packs tracefs status
  export VNST_LAB_KERNEL=$kernel
  echo "== kernel lab, Linux $kernel"
  start=$SECONDS
  image=$("$here/image.sh") || { skip_one "Linux $kernel: the guest image could not be built (see above)"; return 0; }
  echo "lab $kernel: image ready in $((SECONDS - start)) s: $image ($(cat "$image/release"))"
  # Every program the guest runs is compiled here, for the guest's kernel
  # and against its headers: nothing compiles under emulation, and the
  # guest has no LLVM. These are the shapes tests/lab/t_*.sh run (values
  # such as device names may differ: they are patched at load).
  # BCC lays out tracepoint arguments from the formats where it compiles:
  # a first boot saves the guest's for the compiles.
  release=$(cat "$image/release")
  packs=$build/lab-packs-$kernel
  tracefs=$build/lab-tracefs-$kernel
  rm -rf "$packs" "$tracefs"
  start=$SECONDS
  btf=$build/lab-btf-$kernel
  if ! "$here/run.sh" tests/lab/save-tracefs.sh "$tracefs" "$btf" >"$build/lab-tracefs-$kernel.log" 2>&1; then
    skip_one "Linux $kernel: could not save the guest's tracepoint formats (see $build/lab-tracefs-$kernel.log)"
    return 0
  fi
  echo "lab $kernel: $(grep -a '^saved [0-9]' "$build/lab-tracefs-$kernel.log") in $((SECONDS - start)) s"
  start=$SECONDS
  # A program that does not compile for the guest is a failure of the
  # change, not a lab that cannot run.
  compile() {
    VNETSCOPE_BTF_DIR=$btf "$build/vnetscope" compile "$@" --kernel-release "$release" --tracefs "$tracefs" \
      --kernel-headers "$image/headers/linux-headers-$release" -o "$packs" >/dev/null && return 0
    echo "FAIL kernel lab $kernel: cannot compile '$*' for the guest kernel $release (see above)"
    echo "0 passed, 1 failed, 0 skipped"
    return 1
  }
  compile --all &&
    compile drop-summary --group-by location --dev vnslab0 &&
    compile drop-details --dev vnslab0 &&
    compile qdisc-drop --variant kprobe --dev vnslab0 &&
    compile "$repo/tests/integration/fixtures/kprobe-count.lua" &&
    compile "$repo/tests/lab/fixtures/skb-count.lua" --fn tun_net_xmit &&
    compile "$repo/tests/lab/fixtures/skb-count.lua" --fn start_xmit &&
    compile "$repo/tests/lab/fixtures/skb-count.lua" --fn ovs_dp_process_packet &&
    compile futex-latency --by lock --pid 1 &&
    compile lock-latency --pid 1 &&
    compile lock-latency --pid 1 --stacks &&
    compile skb-trace --group gso,qdisc,tun --dst-ip 10.231.5.2 --dst-port 9999 &&
    compile skb-trace --group xmit,receive,tunnel --dev vnslab0 --track &&
    compile virtio-queues -i 1 &&
    compile virtio-irq -i 1 &&
    compile napi-poll --dev ens4 -i 1 &&
    compile virtio-rx-path -i 1 &&
    compile virtio-rx-path --details --max-events-per-sec 100000 --format json -i 1 -d 900 &&
    compile vnet-txdrop --format json -i 1 -d 300 &&
    compile macvtap-drops --format json -i 1 -d 300 &&
    compile tun-ring --dev vnslab0 --format json -i 1 -d 300 &&
    compile vhost-signals --format json -i 1 -d 300 &&
    compile vhost-buf-peek --format json -i 1 -d 300 &&
    compile tun-vhost-queues --dev vnslab0 --format json -i 1 -d 300 &&
    compile vhost-queue-trace --dev vnslab0 --queue 0 --format json -i 1 -d 300 &&
    compile vhost-queue-trace --dev vnslab0 -i 1 -d 300 &&
    compile kvm-irqfd --pid 1 --format json -i 1 -d 300 &&
    compile icmp-rtt --path ovs --dev vnslab0 --phy-dev vnslab1 --dst-ip 10.231.9.2 &&
    compile icmp-rtt --path ovs --direction rx --dev vnslab0 --phy-dev vnslab1 --src-ip 10.231.9.2 &&
    compile latency-summary --direction tx --phy-dev vnslab0 --internal-dev vnslab1 --proto udp --dst-port 9 &&
    compile latency-summary --direction rx --phy-dev vnslab0 --internal-dev vnslab1 --proto udp --dst-port 9 &&
    compile vm-latency-summary --direction tx --vm-dev vnslab0 --phy-dev vnslab1 --ct --proto udp --dst-port 9 &&
    compile vm-latency-summary --direction rx --vm-dev vnslab0 --phy-dev vnslab1 --ct --proto udp --dst-port 9 &&
    compile ovs-upcall-latency -i 600 -d 900 &&
    compile ovs-upcall-latency --proto udp --src-ip 10.231.11.1 --dst-ip 10.231.11.2 -i 600 -d 900 &&
    compile ovs-upcall-latency --proto udp --src-ip fd00:231:11::1 --dst-ip fd00:231:11::2 -i 600 -d 900 &&
    compile ovs-drops -i 600 -d 900 &&
    compile ovs-drops --src-ip 10.231.14.1 -i 600 -d 900 &&
    compile ovs-drops --src-ip 10.231.14.1 --stacks -i 600 -d 900 &&
    compile ip-defrag --host 10.231.1.1,fd00:231:1::1 --format json -i 1 -d 120 &&
    compile ip-defrag --dev vnslab0 -i 60 -d 120 &&
    compile ip-defrag --host 10.231.1.1 --dev vnslab0 --format json -i 1 -d 120 &&
    compile ip-defrag --src-ip 10.231.77.1 -i 60 -d 60 &&
    compile ct-trace --filter "host 10.231.1.2 and host 10.231.2.2 and tcp" --format json -i 1 -d 300 || return 1
  # The lock tools' fixture (t_locks.sh), built here: the guest has no cc
  # and the same userland.
  cc -O2 -g -fno-omit-frame-pointer -pthread -o "$build/lab-contend" "$repo/tests/integration/fixtures/contend.c" ||
    { echo "FAIL kernel lab $kernel: cannot build the contend fixture"; echo "0 passed, 1 failed, 0 skipped"; return 1; }
  echo "lab $kernel: $(find "$packs" -name '*.pack' | wc -l) programs compiled for $release in $((SECONDS - start)) s"
  start=$SECONDS
  VNST_LAB_TIMEOUT=${VNST_LAB_TIMEOUT:-3600} "$here/run.sh" tests/lab/suite.sh "$build/vnetscope" "$packs"
  status=$?
  echo "lab $kernel: suite took $((SECONDS - start)) s"
  return $status
}

# The userspace vhost-net driver the virtualization tests use: static,
# so the guest needs nothing of it but the binary.
mkdir -p "$build/lab-fixtures"
if ! gcc -static -O2 -Wall -o "$build/lab-fixtures/vhost-fixture" "$here/fixtures/vhost-fixture.c"; then
  echo "FAIL kernel lab: cannot build tests/lab/fixtures/vhost-fixture.c"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

# The KVM fixture of t_kvm_irqfd.sh, static like the vhost fixture.
if ! gcc -static -O2 -Wall -o "$build/lab-fixtures/kvm-fixture" "$here/fixtures/kvm-fixture.c"; then
  echo "FAIL kernel lab: cannot build tests/lab/fixtures/kvm-fixture.c"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

status=0
for kernel in ${VNST_LAB_KERNELS:-6.1 5.10}; do
  lab_kernel "$kernel" || status=1
done
exit $status
