#!/usr/bin/env bash
# image.sh: print the directory of the lab's guest image, building it
# first when it is missing or its recipe (this file, guest-init) changed.
#
#   tests/lab/image.sh            -> /var/cache/vnetscope/lab/<recipe hash>
#
# The directory holds rootfs.img (ext4, a Debian bookworm with the stock
# cloud kernel, its headers, the engine's runtime libraries without
# LLVM, tun/veth/vhost/macvtap/openvswitch modules and OVS), vmlinuz,
# initrd.img, release (the guest's uname -r) and headers/ (the guest's
# /usr/src: the host compiles the lab's programs against it). Built once
# per machine, outside the clone, from the host's own apt sources; never
# with loop mounts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${VNST_LAB_CACHE:-/var/cache/vnetscope/lab}

packages=(
  linux-image-cloud-amd64 linux-headers-cloud-amd64   # the stock kernel and its headers
  libbpfcc liblua5.4-0 libelf1 zlib1g                 # the host-built engine's runtime (LLVM removed below)
  bash coreutils perl lua5.4 iproute2 nftables kmod procps mount util-linux
  openvswitch-switch
)

recipe=$(cat "$here/image.sh" "$here/guest-init" | sha256sum | cut -c1-16)
out=$cache/$recipe
if [ -s "$out/rootfs.img" ] && [ -s "$out/release" ]; then
  echo "$out"
  exit 0
fi

for cmd in mmdebstrap mkfs.ext4; do
  command -v "$cmd" >/dev/null || { echo "image.sh: $cmd is missing" >&2; exit 1; }
done
mkdir -p "$cache"
# One build at a time; a second caller waits, then finds the image.
exec 9>"$cache/.lock"
flock 9
if [ -s "$out/rootfs.img" ] && [ -s "$out/release" ]; then
  echo "$out"
  exit 0
fi
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS
echo "lab: building the guest image (recipe $recipe)..." >&2
sources=$(mktemp)
# The host's own sources (deb822 or one-line), as mmdebstrap takes them.
cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null >"$sources" || true
# shellcheck disable=SC2016 # mmdebstrap's hooks expand "$1" (the new root)
mmdebstrap --variant=apt --quiet \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --customize-hook='cp "$1"/boot/vmlinuz-* "$1"/../vmlinuz' \
  --customize-hook='cp "$1"/boot/initrd.img-* "$1"/../initrd.img' \
  --customize-hook='ls "$1"/lib/modules > "$1"/../release' \
  --customize-hook='cp -a "$1"/usr/src "$1"/../headers' \
  --customize-hook='chroot "$1" dpkg --purge --force-depends libclang-cpp14 libllvm14' \
  --customize-hook="cp $here/guest-init \"\$1\"/sbin/vns-lab-init" \
  --customize-hook='chmod 755 "$1"/sbin/vns-lab-init' \
  --customize-hook='echo vns-lab > "$1"/etc/hostname' \
  bookworm "$work/root" "$sources" </dev/null >&2
rm -f "$sources"
# Room for the tests' temporary files (the disk is used with snapshot=on).
mkfs.ext4 -q -L vnslab -d "$work/root" "$work/rootfs.img" 3G >&2
rm -rf "$work/root"
mkdir -p "$out.tmp"
mv "$work/rootfs.img" "$work/vmlinuz" "$work/initrd.img" "$work/release" "$work/headers" "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
# Images of older recipes are never used again.
for old in "$cache"/*/; do
  [ "${old%/}" = "$out" ] || rm -rf "${old%/}"
done
echo "lab: image built in $((SECONDS - start)) s ($(du -sh "$out" | cut -f1))" >&2
echo "$out"
