#!/usr/bin/env bash
# root.sh DEB: print the directory of a fresh Debian 12 root holding only
# the dependencies DEB declares and what the test runs there (dpkg, bash),
# not even the essential set, so a dependency DEB forgets is missing;
# built first when missing. The root is cached in /var/cache/vnetscope/deb-root
# (like the lab images), per this recipe and those dependencies; the
# install test mounts it read-only under an overlay, so it stays fresh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${VNST_DEB_CACHE:-/var/cache/vnetscope/deb-root}
# "libbpf1 (>= 1:0.7.0), libc6 (>= 2.34)" -> "libbpf1,libc6"
depends=$(dpkg-deb -f "$1" Depends | sed -e 's/ *([^)]*)//g' -e 's/ //g')
recipe=$({ cat "$here/root.sh"; echo "$depends"; } | sha256sum | cut -c1-16)
out=$cache/$recipe
[ -d "$out/root/usr" ] && { echo "$out/root"; exit 0; }

command -v mmdebstrap >/dev/null || { echo "root.sh: mmdebstrap is missing (tools/install-deps.sh deb)" >&2; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
[ -d "$out/root/usr" ] && { echo "$out/root"; exit 0; }
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS
echo "deb: building a Debian 12 root with $depends..." >&2
sources=$(mktemp)
cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null >"$sources" || true
# dpkg wants ldconfig (libc-bin), sh (dash) and coreutils, diff, find,
# grep and sed; the completion test wants bash.
tools=dpkg,libc-bin,dash,coreutils,diffutils,findutils,grep,sed,base-passwd,bash
mmdebstrap --variant=custom --quiet --include="$tools,$depends" bookworm "$work/root" "$sources" </dev/null >&2
rm -f "$sources"
rm -rf "$out" && mv "$work" "$out"
trap - EXIT
# Roots of older recipes are never used again.
for old in "$cache"/*/; do [ "${old%/}" = "$out" ] || rm -rf "${old%/}"; done
echo "deb: root built in $((SECONDS - start)) s ($(du -sh "$out" | cut -f1))" >&2
echo "$out/root"
