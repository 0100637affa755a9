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

# The lab runs as a pipeline, so both cores work: the guests save their
# tracepoint formats side by side; the first kernel's programs are
# compiled in two processes; then each kernel's suite runs in its guest
# while the host compiles the next kernel's programs.
#
# Every program the guest runs is compiled here, for the guest's kernel
# and against its headers: nothing compiles under emulation, and the
# guest has no LLVM. BCC lays out tracepoint arguments from the formats
# where it compiles: a first boot saves the guest's for the compiles.

# prepare K: image and saved formats of kernel K; sets image_K, release_K.
# Prints a skip and fails when the lab cannot run that kernel.
prepare() {
  local kernel=$1 start image
  start=$SECONDS
  image=$(VNST_LAB_KERNEL=$kernel "$here/image.sh") ||
    { skip_one "Linux $kernel: the guest image could not be built (see above)"; return 1; }
  echo "lab $kernel: image ready in $((SECONDS - start)) s: $image ($(cat "$image/release"))"
  printf -v "image_${kernel//./_}" %s "$image"
  printf -v "release_${kernel//./_}" %s "$(cat "$image/release")"
}

# save_formats K: the guest's tracepoint formats and BTF, for the compiles.
save_formats() {
  local kernel=$1 start=$SECONDS log=$build/lab-tracefs-$1.log
  rm -rf "$build/lab-tracefs-$kernel" "$build/lab-btf-$kernel"
  if ! VNST_LAB_KERNEL=$kernel "$here/run.sh" tests/lab/save-tracefs.sh "$build/lab-tracefs-$kernel" \
      "$build/lab-btf-$kernel" >"$log" 2>&1; then
    skip_one "Linux $kernel: could not save the guest's tracepoint formats (see $log)"
    return 1
  fi
  echo "lab $kernel: $(grep -a '^saved [0-9]' "$log") in $((SECONDS - start)) s"
}

# compile_packs K LANES: every shape tests/lab/t_*.sh runs, compiled for
# kernel K by LANES processes at once (values such as device names may
# differ: they are patched at load). A program that does not compile for
# the guest is a failure of the change, not a lab that cannot run.
compile_packs() {
  local kernel=$1 lanes=$2 start=$SECONDS image release packs failed
  image=image_${kernel//./_} release=release_${kernel//./_}
  image=${!image} release=${!release}
  packs=$build/lab-packs-$kernel
  failed=$build/lab-compile-$kernel.failed
  rm -rf "$packs" "$failed"
  mkdir -p "$packs"
  (
    compile() {
      while [ "$(jobs -rp | wc -l)" -ge "$lanes" ]; do wait -n; done
      {
        VNETSCOPE_BTF_DIR=$build/lab-btf-$kernel "$build/vnetscope" compile "$@" --kernel-release "$release" \
          --tracefs "$build/lab-tracefs-$kernel" --kernel-headers "$image/headers/linux-headers-$release" \
          -o "$packs" >/dev/null ||
          echo "FAIL kernel lab $kernel: cannot compile '$*' for the guest kernel $release (see above)" >>"$failed"
      } &
    }
    lab_shapes
    wait
  )
  if [ -s "$failed" ]; then
    cat "$failed"
    echo "0 passed, 1 failed, 0 skipped"
    return 1
  fi
  echo "lab $kernel: $(find "$packs" -name '*.pack' | wc -l) programs compiled for $release in $((SECONDS - start)) s ($lanes at once)"
}

# The shapes: `compile --all` is shared by two processes, so one lane
# does not wait for all of it.
lab_shapes() {
  compile --all --shard 1/2 &&
    compile --all --shard 2/2 &&
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
    compile ovs-megaflow -i 600 -d 900 &&
    compile ovs-megaflow --proto udp --src-ip 10.231.13.1 --dst-ip 10.231.13.2 --details -i 600 -d 900 &&
    compile ovs-megaflow --proto udp --src-ip fd00:231:13::1 --dst-ip fd00:231:13::2 -i 600 -d 900 &&
    compile ovs-drops -i 600 -d 900 &&
    compile ovs-drops --src-ip 10.231.14.1 -i 600 -d 900 &&
    compile ovs-drops --src-ip 10.231.14.1 --stacks -i 600 -d 900 &&
    compile ip-defrag --host 10.231.1.1,fd00:231:1::1 --format json -i 1 -d 120 &&
    compile ip-defrag --dev vnslab0 -i 60 -d 120 &&
    compile ip-defrag --host 10.231.1.1 --dev vnslab0 --format json -i 1 -d 120 &&
    compile ip-defrag --src-ip 10.231.77.1 -i 60 -d 60 &&
    compile ct-trace --filter "host 10.231.1.2 and host 10.231.2.2 and tcp" --format json -i 1 -d 300 || return 1
}

# run_suite K: the guest runs tests/lab/t_*.sh on kernel K's packs; once
# more when run.sh saw the emulator's stale-int3 loop (its exit 75).
run_suite() {
  local kernel=$1 start=$SECONDS status try
  for try in 1 2; do
    VNST_LAB_KERNEL=$kernel VNST_LAB_TIMEOUT=${VNST_LAB_TIMEOUT:-1800} \
      "$here/run.sh" tests/lab/suite.sh "$build/vnetscope" "$build/lab-packs-$kernel"
    status=$?
    [ "$status" = 75 ] && [ "$try" = 1 ] || break
    echo "run.sh: lab $kernel: the suite runs again, once, after the emulator fault above"
  done
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

# The lock tools' fixture (t_locks.sh), built here: the guest has no cc
# and the same userland.
if ! cc -O2 -g -fno-omit-frame-pointer -pthread -o "$build/lab-contend" "$repo/tests/integration/fixtures/contend.c"; then
  echo "FAIL kernel lab: cannot build the contend fixture"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

status=0
kernels=()
for kernel in ${VNST_LAB_KERNELS:-6.1 5.10}; do
  echo "== kernel lab, Linux $kernel"
  prepare "$kernel" && kernels+=("$kernel")
done
# One boot per kernel, side by side.
pids=()
for kernel in "${kernels[@]}"; do
  save_formats "$kernel" >"$build/lab-save-$kernel.out" &
  pids+=($!)
done
ready=()
for i in "${!kernels[@]}"; do
  wait "${pids[$i]}" && ready+=("${kernels[$i]}")
  cat "$build/lab-save-${kernels[$i]}.out"
done
((${#ready[@]} > 0)) || exit 0
# compiled K: kernel K's programs are all there.
compiled() { [ -d "$build/lab-packs-$1" ] && ! [ -s "$build/lab-compile-$1.failed" ]; }
# VNST_LAB_LANES=1 when other suites run beside the lab (make test).
compile_packs "${ready[0]}" "${VNST_LAB_LANES:-2}" || status=1
for i in "${!ready[@]}"; do
  kernel=${ready[$i]} next=${ready[$((i + 1))]:-}
  if ! compiled "$kernel"; then
    [ -z "$next" ] || compile_packs "$next" "${VNST_LAB_LANES:-2}" || status=1
    continue
  fi
  echo "== kernel lab, Linux $kernel: suite"
  if [ -z "$next" ]; then
    run_suite "$kernel" || status=1
    continue
  fi
  # The guest's output is printed when its suite ends; meanwhile the host
  # compiles the next kernel's programs on the other core.
  run_suite "$kernel" >"$build/lab-suite-$kernel.out" 2>&1 &
  suite=$!
  compile_packs "$next" 1 >"$build/lab-compile-$next.out" 2>&1 || status=1
  wait "$suite" || status=1
  cat "$build/lab-suite-$kernel.out"
  echo "== kernel lab, Linux $next: programs"
  cat "$build/lab-compile-$next.out"
done
exit $status
