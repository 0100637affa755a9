#!/usr/bin/env bash
# arm64-headers.sh: Debian's arm64 cloud kernel headers (the current
# linux-headers-R-cloud-arm64 and its -common), unpacked once into
# /var/cache/vnetscope/arm64-headers; prints the R-arm64 directory. For
# t_cache's --target-arch arm64 case. apt runs with lists and cache of its
# own, so the machine's apt state (its architectures) is left as it is.
set -euo pipefail
base=${VNETSCOPE_ARM64_CACHE:-/var/cache/vnetscope/arm64-headers}
mkdir -p "$base/lists/partial" "$base/cache/archives/partial" "$base/debs"
apt=(-q -o APT::Architectures::=arm64 -o APT::Architecture=arm64 -o Dir::State::Lists="$base/lists"
     -o Dir::Cache="$base/cache" -o Dir::State::status=/dev/null)
apt-get "${apt[@]}" update >"$base/update.log" 2>&1 || { tail -3 "$base/update.log" >&2; exit 1; }
# The metapackage names the current ABI: linux-headers-6.1.0-N-cloud-arm64.
pkg=$(apt-cache "${apt[@]}" depends linux-headers-cloud-arm64 | sed -n 's/^ *Depends: \(linux-headers-.*-cloud-arm64\)$/\1/p' | head -n 1)
[ -n "$pkg" ] || { echo "arm64-headers: no linux-headers-cloud-arm64 in the arm64 lists" >&2; exit 1; }
dir=$base/root/usr/src/$pkg
if [ ! -d "$dir" ]; then
  common=${pkg%-cloud-arm64}-common
  (cd "$base/debs" && apt-get "${apt[@]}" download "$pkg" "$common" >"$base/download.log" 2>&1) ||
    { tail -3 "$base/download.log" >&2; exit 1; }
  for deb in "$base/debs/$pkg"_*.deb "$base/debs/$common"_*.deb; do dpkg-deb -x "$deb" "$base/root"; done
  rm -f "$base"/debs/*.deb
fi
echo "$dir"
