#!/usr/bin/env bash
# Install the Debian packages vnetscope needs to build, run and test,
# only those missing, so a second run is quiet and offline.
#   tools/install-deps.sh        build, run, host tests and demo
#   tools/install-deps.sh lab    the kernel lab (tests/lab): qemu, mmdebstrap
#   tools/install-deps.sh bench  the others bench/ compares with: bpftrace, BCC's Python
#   tools/install-deps.sh deb    make deb and its install test: dpkg-dev, mmdebstrap
set -euo pipefail

if [ "${1:-}" = lab ]; then
  packages=(qemu-system-x86 mmdebstrap e2fsprogs util-linux)
elif [ "${1:-}" = deb ]; then
  packages=(dpkg-dev binutils mmdebstrap)
elif [ "${1:-}" = bench ]; then
  packages=(bpftrace python3-bpfcc bc)
else
  packages=(
    cmake make gcc pkg-config          # build
    libbpfcc-dev libbpf-dev libelf-dev zlib1g-dev liblua5.4-dev
    libcmocka-dev lua5.4               # unit tests
    clang-14 libclang-rt-14-dev        # fuzz targets (libFuzzer)
    iproute2 nftables bpftool procps strace iputils-ping   # integration tests and demo
    man-db                             # the generated man pages' test renders them
    python3-prometheus-client curl     # integration tests: parse and fetch Prometheus scrapes
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
