#!/usr/bin/env bash
# image.sh: print the directory of the lab's guest image, building it
# first when it is missing or its recipe (this file, guest-init) changed.
#
#   tests/lab/image.sh                        -> /var/cache/vnetscope/lab/6.1-<recipe hash>
#   VNST_LAB_KERNEL=5.10 tests/lab/image.sh   -> /var/cache/vnetscope/lab/5.10-<recipe hash>
#
# Two kernels, one userland: 6.1 is bookworm's stock cloud kernel; 5.10
# is bullseye's (the last before drop reasons, qdisc:qdisc_enqueue and
# kfree_skb as an inline wrapper), installed from the same mirror into
# the same bookworm userland. The directory holds rootfs.img (ext4, a
# Debian bookworm with the cloud kernel, its headers, the engine's runtime libraries without
# LLVM, tun/veth/vhost/macvtap/openvswitch modules and OVS), vmlinuz,
# initrd.img, release (the guest's uname -r) and headers/ (the guest's
# /usr/src: the host compiles the lab's programs against it). Built once
# per machine, outside the clone, from the host's own apt sources; never
# with loop mounts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${VNST_LAB_CACHE:-/var/cache/vnetscope/lab}

kernel=${VNST_LAB_KERNEL:-6.1}
case $kernel in
  6.1) kernel_packages=(linux-image-cloud-amd64 linux-headers-cloud-amd64) ;;
  5.10) kernel_packages=(linux-image-5.10.0-32-cloud-amd64 linux-headers-5.10.0-32-cloud-amd64) ;;
  *) echo "image.sh: VNST_LAB_KERNEL must be 6.1 or 5.10, not '$kernel'" >&2; exit 2 ;;
esac
packages=(
  "${kernel_packages[@]}"                             # the kernel and its headers
  libbpfcc liblua5.4-0 libelf1 zlib1g                 # the host-built engine's runtime (LLVM removed below)
  bash coreutils perl lua5.4 iproute2 nftables kmod procps mount util-linux
  openvswitch-switch
)

recipe=$(cat "$here/image.sh" "$here/guest-init" | sha256sum | cut -c1-16)
out=$cache/$kernel-$recipe
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
if [ "$kernel" = 5.10 ]; then
  # bullseye from the mirror bookworm comes from; bookworm's packages stay
  # the newer ones, so only the kernel (and its headers' compiler) come
  # from bullseye.
  mirror=$(sed -n -e 's/^URIs: *\([^ ]*\).*/\1/p' -e 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\).*/\2/p' "$sources" | head -1)
  [ -n "$mirror" ] || { echo "image.sh: no mirror in the apt sources" >&2; exit 1; }
  printf '\nTypes: deb\nURIs: %s\nSuites: bullseye\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" >>"$sources"
fi
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
# Images of older recipes of this kernel (and of the single-kernel lab)
# are never used again.
for old in "$cache"/*/; do
  old=${old%/} name=${old##*/}
  case $name in "$kernel"-*) ;; *-*) continue ;; esac   # another kernel's: kept
  [ "$old" = "$out" ] || rm -rf "$old"
done
echo "lab: image built in $((SECONDS - start)) s ($(du -sh "$out" | cut -f1))" >&2
echo "$out"
