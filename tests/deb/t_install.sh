#!/usr/bin/env bash
# The Debian packages (make deb) in a fresh Debian 12 root (root.sh):
# vnetscope installs with only its declared dependencies (no LLVM), runs
# doctor, and loads a pack compiled on this host into the kernel, counting
# real drops exactly; vnetscope-compiler is refused there without libbcc.
#   tests/integration/run.sh tests/deb/t_install.sh    (make test-deb)
# VNST_DEB_DIR: where the .deb files are (default build/).
. "$(dirname "$0")/../integration/lib.sh"
DEB_DIR=${VNST_DEB_DIR:-$REPO_DIR/build}
HERE=$REPO_DIR/tests/deb

deb_of() { find "$DEB_DIR" -maxdepth 1 -name "$1_*.deb" | sort | tail -n 1; }

# in_root CMD...: run CMD in the case's root (its changes kept in $CASE_DIR).
in_root() { "$HERE/in-root.sh" "$ROOT" "$CASE_DIR/root" "$@"; }

setup_root() {
  need_root
  need_cmd unshare
  DEB=$(deb_of vnetscope)
  [ -n "$DEB" ] || skip "no vnetscope_*.deb in $DEB_DIR (make deb)"
  ROOT=$("$HERE/root.sh" "$DEB") || skip "cannot build a Debian 12 root (mmdebstrap, apt sources: see case.log)"
  mkdir -p "$CASE_DIR/root/upper/tmp"
  cp "$DEB_DIR"/*.deb "$CASE_DIR/root/upper/tmp/"
}

case_install_and_load_pack() {
  local start=$SECONDS
  setup_root
  [ -z "$(find "$ROOT/usr/lib" -name 'libLLVM*' -o -name 'libclang*' -o -name 'libbcc.so*')" ] ||
    fail "the root has LLVM or libbcc: the test would not show they are not needed"
  in_root dpkg -i "/tmp/${DEB##*/}" >"$CASE_DIR/dpkg.out" 2>&1 || fail "dpkg -i $(tail -n 3 "$CASE_DIR/dpkg.out")"
  in_root vnetscope doctor >"$CASE_DIR/doctor.out" 2>&1 || fail "vnetscope doctor failed in the root"
  expect_match "doctor: tracefs" '^tracefs: +/sys/kernel/tracing' "$(cat "$CASE_DIR/doctor.out")"
  expect_match "doctor: drop-summary" '^  drop-summary +tracepoint:skb:kfree_skb +ok' "$(cat "$CASE_DIR/doctor.out")"
  # The pack: compiled here (this kernel), loaded in the root, where
  # nothing can compile.
  need_drop_reasons
  topo_pair
  local args=(drop-summary --group-by location --dev "$DEV_B")
  "$VNS" compile "${args[@]}" -o "$CASE_DIR/root/upper/tmp/ds.pack" >"$CASE_DIR/compile.out" 2>&1 ||
    fail "compile on the host: $(tail -n 2 "$CASE_DIR/compile.out")"
  printf '#!/bin/sh\nexec %q %q %q vnetscope "$@"\n' "$HERE/in-root.sh" "$ROOT" "$CASE_DIR/root" >"$CASE_DIR/vns"
  chmod +x "$CASE_DIR/vns"
  VNS=$CASE_DIR/vns tool_start ds "${args[@]}" -i 1 -d 60 --pack /tmp/ds.pack
  wait_ready ds
  expect_eq "the tool runs in the root" "$CASE_DIR/root/merged" "$(readlink "/proc/$(tool_pid ds)/root")"
  send_udp "$NS_A" "$IP_B" 9999 23
  settle
  tool_stop ds INT
  expect_eq "final total line (root, from the pack)" "Total since start  drops: 23" "$(total_line ds)"
  expect_eq "NO_SOCKET drops on $DEV_B" 23 "$(sum_rows ds NO_SOCKET '^__udp4_lib_rcv\+0x[0-9a-f]+$' "$DEV_B")"
  # Without the pack it has nothing to compile with, and says so.
  timeout 60 "$CASE_DIR/vns" "${args[@]}" -d 1 --no-cache >"$CASE_DIR/nopack.out" 2>&1 && fail "ran without a compiler"
  expect_match "without a pack" 'compiler part of vnetscope .* is not installed' "$(cat "$CASE_DIR/nopack.out")"
  echo "deb install test: $((SECONDS - start)) s"
}

case_docs_installed() {
  setup_root
  in_root dpkg -i "/tmp/${DEB##*/}" >"$CASE_DIR/dpkg.out" 2>&1 || fail "dpkg -i $(tail -n 3 "$CASE_DIR/dpkg.out")"
  local pages
  pages=$(in_root sh -c 'ls /usr/share/man/man1/vnetscope*.1.gz | wc -l')
  expect_eq "man pages: one per tool and vnetscope.1" $(($("$VNS" list | awk 'NR > 1 && $1 != "broken:"' | wc -l) + 1)) "$pages"
  expect_eq "completion in the root" "drop-details drop-summary" "$(in_root bash -c \
    '. /usr/share/bash-completion/completions/vnetscope; COMP_WORDS=(vnetscope drop-); COMP_CWORD=1; _vnetscope; echo "${COMPREPLY[*]}"')"
  # The compiler package declares libbcc (and with it LLVM): refused here.
  local compiler
  compiler=$(deb_of vnetscope-compiler)
  [ -n "$compiler" ] || fail "no vnetscope-compiler_*.deb in $DEB_DIR"
  in_root dpkg -i "/tmp/${compiler##*/}" >"$CASE_DIR/dpkg-compiler.out" 2>&1 && fail "vnetscope-compiler installed without libbpfcc"
  expect_match "vnetscope-compiler needs libbpfcc" 'depends on libbpfcc' "$(cat "$CASE_DIR/dpkg-compiler.out")"
}

run_case "deb: installs in a fresh Debian 12 root without LLVM, doctor runs, a host-compiled pack counts drops" case_install_and_load_pack
run_case "deb: man pages and completion installed; vnetscope-compiler needs libbpfcc" case_docs_installed
finish
