#!/usr/bin/env bash
# make test: every suite runs even when an earlier one fails; each prints
# its own summary line, and the exit status says whether all passed.
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0

echo "== C unit tests (cmocka, ctest)"
ctest --test-dir "$build" --output-on-failure || status=1

echo "== Lua stdlib tests"
"$build/vnetscope" run "$root/tests/lua/runner.lua" || status=1

echo "== Integration tests (real BPF, real traffic in private namespaces)"
VNETSCOPE="$build/vnetscope" "$root/tests/integration/run.sh" || status=1

echo "== Debian packages (make deb) installed in a fresh Debian 12 root"
start=$SECONDS
VNETSCOPE="${VNST_DEB_BUILD:-$build-deb}/vnetscope" VNST_DEB_DIR="$build" \
  "$root/tests/integration/run.sh" "$root/tests/deb/t_install.sh" || status=1
echo "== Debian packages: $((SECONDS - start)) s"

echo "== Kernel lab (stock Debian kernel under qemu: kprobes, headers, tun)"
"$root/tests/lab/run-suite.sh" "$build" || status=1

exit $status
