#!/usr/bin/env bash
# run-suite.sh: the kernel lab's part of `make test`. Installs what the
# lab needs (qemu, mmdebstrap), builds the guest image when missing,
# boots it and runs tests/lab/t_*.sh inside (tests/lab/suite.sh). Prints
# the build and run times and the guest's PASS/FAIL lines and summary.
# When the lab cannot run here it says why, as one skipped test.
#   tests/lab/run-suite.sh [BUILD_DIR]    (default build; inside the checkout)
#   VNST_LAB=0 skips it on purpose.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" 2>/dev/null && pwd)

skip() {
  echo "SKIP kernel lab: $1"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
}

[ "${VNST_LAB:-1}" != 0 ] || skip "VNST_LAB=0"
[ "$(id -u)" -eq 0 ] || skip "needs root (image build, virtiofsd)"
"$here/../../tools/install-deps.sh" lab || skip "cannot install the lab's packages (qemu-system-x86, mmdebstrap)"
case $build/ in
  "$repo"/*) ;;
  *) skip "the build directory ${1:-build} is not inside the checkout the guest shares" ;;
esac
[ -x "$build/vnetscope" ] || skip "no vnetscope binary in $build"

start=$SECONDS
image=$("$here/image.sh") || skip "the guest image could not be built (see above)"
echo "lab: image ready in $((SECONDS - start)) s: $image ($(cat "$image/release"))"
# Every program the guest runs is compiled here, for the guest's kernel
# and against its headers: nothing compiles under emulation, and the
# guest has no LLVM. These are the shapes tests/lab/t_*.sh run (values
# such as device names may differ: they are patched at load).
# BCC lays out tracepoint arguments from the formats where it compiles:
# a first boot saves the guest's for the compiles.
release=$(cat "$image/release")
packs=$build/lab-packs
tracefs=$build/lab-tracefs
rm -rf "$packs" "$tracefs"
start=$SECONDS
"$here/run.sh" tests/lab/save-tracefs.sh "$tracefs" >"$build/lab-tracefs.log" 2>&1 ||
  skip "could not save the guest's tracepoint formats (see $build/lab-tracefs.log)"
echo "lab: $(grep -a '^saved' "$build/lab-tracefs.log") in $((SECONDS - start)) s"
start=$SECONDS
# A program that does not compile for the guest is a failure of the
# change, not a lab that cannot run.
compile() {
  "$build/vnetscope" compile "$@" --kernel-release "$release" --tracefs "$tracefs" \
    --kernel-headers "$image/headers/linux-headers-$release" -o "$packs" >/dev/null && return 0
  echo "FAIL kernel lab: cannot compile '$*' for the guest kernel $release (see above)"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
}
compile --all
compile drop-summary --group-by location --dev vnslab0
compile qdisc-drop --variant kprobe --dev vnslab0
compile "$repo/tests/integration/fixtures/kprobe-count.lua"
for fn in tun_net_xmit start_xmit ovs_dp_process_packet; do
  compile "$repo/tests/lab/fixtures/skb-count.lua" --fn "$fn"
done
echo "lab: $(find "$packs" -name '*.pack' | wc -l) programs compiled for $release in $((SECONDS - start)) s"
start=$SECONDS
VNST_LAB_TIMEOUT=${VNST_LAB_TIMEOUT:-3600} "$here/run.sh" tests/lab/suite.sh "$build/vnetscope" "$packs"
status=$?
echo "lab: suite took $((SECONDS - start)) s"
exit $status
