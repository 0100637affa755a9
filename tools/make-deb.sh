#!/usr/bin/env bash
# make-deb.sh BUILD OUT: the Debian packages from a build configured with
# CMAKE_INSTALL_PREFIX=/usr (make deb does both), written to OUT:
#   vnetscope_<version>_<arch>.deb           binary, stdlib, scripts, templates,
#                                            man pages, bash completion, docs
#   vnetscope-compiler_<version>_<arch>.deb  vnetscope-bcc.so, the only part
#                                            that needs libbcc and with it LLVM
# Each is the CMake install component of its name; dependencies are what
# dpkg-shlibdeps finds the files link (docs/packaging.md).
set -euo pipefail
build=$(cd "$1" && pwd)
out=$(mkdir -p "${2:-$1}" && cd "${2:-$1}" && pwd)
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
[ "$prefix" = /usr ] || { echo "make-deb: $build is configured for $prefix, not /usr" >&2; exit 2; }
version=$("$build/vnetscope" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/shlibs/debian"
touch "$work/shlibs/debian/control"   # dpkg-shlibdeps wants one, even empty

# package component depends description
package() {
  local pkg=$1 dir=$work/$1
  DESTDIR=$dir cmake --install "$build" --component "$2" >/dev/null
  local objects
  mapfile -t objects < <(find "$dir" -type f \( -path '*/bin/*' -o -name '*.so' \))
  strip --strip-unneeded "${objects[@]}"
  [ -d "$dir/usr/share/man" ] && find "$dir/usr/share/man" -name '*.1' -exec gzip -9n {} +
  local shlibs
  shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O "${objects[@]}" 2>/dev/null | sed 's/^shlibs:Depends=//')
  mkdir -p "$dir/DEBIAN"
  {
    echo "Package: $pkg"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: vnetscope developers <vnetscope@localhost>"
    echo "Installed-Size: $(du -sk --exclude=DEBIAN "$dir" | cut -f1)"
    echo "Depends: ${shlibs}${3:+, $3}"
    [ -n "${4:-}" ] && echo "$4"
    echo "Section: net"
    echo "Priority: optional"
    echo "Description: $5"
  } >"$dir/DEBIAN/control"
  dpkg-deb --root-owner-group -Zxz --build "$dir" "$out/${pkg}_${version}_${arch}.deb" >/dev/null
  echo "$out/${pkg}_${version}_${arch}.deb"
}

package vnetscope main "" "Suggests: vnetscope-compiler (= $version)" \
  "eBPF diagnostics for Linux and virtualized networking
 Summary and details tools for drops, latency, queues and CPU on
 hypervisors, written in Lua over generated BPF C. Without
 vnetscope-compiler it runs programs found in its cache or in packs made
 with 'vnetscope compile' on another host, and needs no LLVM."
package vnetscope-compiler compiler "vnetscope (= $version)" "" \
  "eBPF diagnostics for Linux and virtualized networking - compiler
 The part of vnetscope that compiles BPF C with libbcc and clang/LLVM,
 loaded only when a program is not in the cache or a pack."
