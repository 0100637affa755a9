#!/usr/bin/env bash
# The compiled-program cache and packs, end to end on real traffic: a hit
# counts like a cold run without mapping LLVM; a new filter value reuses
# the shape and counts only the new flow; another shape or kernel headers
# miss; a damaged entry is recompiled, never loaded; packs from `vnetscope
# compile` run where the compiler is not installed, and wrong ones are
# refused with one line; patched programs equal fresh compiles.
. "$(dirname "$0")/lib.sh"

UDP_LOC='^__udp4_lib_rcv\+0x[0-9a-f]+$'

# A private program cache per case; the BTF header tree is shared (it
# takes seconds to make and is not what these cases test).
private_cache() {
  "$VNS" -e 'assert(require("vns.core").kheaders())' >/dev/null 2>&1 || fail "no kernel headers"
  mkdir -p "$CASE_DIR/cache" /var/cache/vnetscope/kheaders
  ln -s /var/cache/vnetscope/kheaders "$CASE_DIR/cache/kheaders"
  export VNETSCOPE_CACHE_DIR="$CASE_DIR/cache"
}

entries() { find "$CASE_DIR/cache/programs" -name '*.pack' 2>/dev/null | wc -l; }

# llvm_mapped TAG: how many mappings of libLLVM the running tool has.
llvm_mapped() { grep -c 'libLLVM' "/proc/$(tool_pid "$1")/maps" || true; }

# count_run TAG PORT_SENDS... -- OPTIONS: run drop-summary with OPTIONS on
# B's veth, send "PORT:COUNT" datagrams, stop; LLVM_<TAG> is set to the
# LLVM mappings seen while it ran.
count_run() {
  local tag=$1 sends=() s
  shift
  while [ "$1" != "--" ]; do sends+=("$1"); shift; done
  shift
  tool_start "$tag" drop-summary --group-by location --dev "$DEV_B" -i 1 -d 60 "$@"
  wait_ready "$tag"
  eval "LLVM_$tag=$(llvm_mapped "$tag")"
  for s in "${sends[@]}"; do send_udp "$NS_A" "$IP_B" "${s%%:*}" "${s##*:}"; done
  settle
  tool_stop "$tag" INT
}

no_socket() { sum_rows "$1" NO_SOCKET "$UDP_LOC" "$DEV_B"; }

case_hit_counts_like_cold() {
  need_root
  need_drop_reasons
  topo_pair
  private_cache
  count_run cold 9999:13 -- --dst-port 9999
  expect_eq "cold run: NO_SOCKET drops" 13 "$(no_socket cold)"
  expect_eq "entries after the cold run" 1 "$(entries)"
  count_run warm 9999:17 -- --dst-port 9999
  expect_eq "cache hit: NO_SOCKET drops" 17 "$(no_socket warm)"
  expect_eq "cache hit: LLVM mappings" 0 "$LLVM_warm"
  expect_eq "entries after the hit" 1 "$(entries)"
}

case_new_value_reuses_shape() {
  need_root
  need_drop_reasons
  topo_pair
  private_cache
  count_run first 9999:3 -- --dst-port 9999
  count_run second 9999:11 8888:7 -- --dst-port 8888
  expect_eq "--dst-port 8888 from the --dst-port 9999 entry: drops to 8888 only" 7 "$(no_socket second)"
  expect_eq "final total" "Total since start  drops: 7" "$(total_line second)"
  expect_eq "LLVM mappings" 0 "$LLVM_second"
  expect_eq "entries" 1 "$(entries)"
}

case_shape_and_kernel_change_miss() {
  need_root
  need_drop_reasons
  topo_pair
  private_cache
  count_run one 9999:2 -- --dst-port 9999
  count_run two 9999:5 8888:4 7777:3 -- --dst-port 9999,8888
  expect_eq "two ports (another shape): drops" 9 "$(no_socket two)"
  expect_eq "entries after a new shape" 2 "$(entries)"
  local tree
  tree=$("$VNS" -e 'local _, d = require("vns.core").kheaders() print(d)')
  BCC_KERNEL_SOURCE=$tree count_run three 9999:6 -- --dst-port 9999
  expect_eq "other kernel headers: drops" 6 "$(no_socket three)"
  expect_eq "entries after other kernel headers" 3 "$(entries)"
}

case_damaged_entry_recompiled() {
  need_root
  need_drop_reasons
  topo_pair
  private_cache
  count_run first 9999:1 -- --dst-port 9999
  local entry
  entry=$(find "$CASE_DIR/cache/programs" -name '*.pack' | head -n 1)
  printf '\x5a' | dd of="$entry" bs=1 seek=200 conv=notrunc status=none
  count_run flipped 9999:8 -- --dst-port 9999
  expect_match "a flipped byte is reported" 'cache entry .* is damaged \(checksum mismatch\); compiling again' \
    "$(err_of flipped)"
  expect_eq "after recompiling: drops" 8 "$(no_socket flipped)"
  truncate -s 100 "$entry"
  count_run cut 9999:4 -- --dst-port 9999
  expect_match "a truncated entry is reported" 'is damaged \(truncated\)' "$(err_of cut)"
  expect_eq "after recompiling: drops" 4 "$(no_socket cut)"
  count_run again 9999:5 -- --dst-port 9999
  expect_no_match "the rewritten entry loads: no message" 'damaged' "$(err_of again)"
  expect_eq "the rewritten entry loads: LLVM mappings" 0 "$LLVM_again"
  expect_eq "the rewritten entry loads: drops" 5 "$(no_socket again)"
}

# A copy of the binary without vnetscope-bcc.so next to it: a host where
# the compiler is not installed.
without_compiler() {
  mkdir -p "$CASE_DIR/bin"
  cp "$VNS" "$CASE_DIR/bin/vnetscope"
  VNS=$CASE_DIR/bin/vnetscope
}

case_pack_without_compiler() {
  need_root
  need_drop_reasons
  topo_pair
  private_cache
  vns_run compile 120 compile drop-summary --group-by location --dev "$DEV_B" --dst-port 9999 \
    -o "$CASE_DIR/ds.pack"
  expect_eq "compile exits 0" 0 "$STATUS"
  expect_eq "compile keeps its program in the cache" 1 "$(entries)"
  without_compiler
  vns_run cold 60 drop-summary --group-by location --dev "$DEV_B" -d 1
  expect_eq "no pack, no compiler: exit status" 1 "$STATUS"
  expect_match "no pack, no compiler: says what to do" 'not installed here: install it, or bring a pack' \
    "$(err_of cold)"
  count_run packed 9999:9 8888:6 -- --dst-port 8888 --pack "$CASE_DIR/ds.pack"
  expect_eq "pack with --dst-port 8888: drops to 8888 only" 6 "$(no_socket packed)"
  expect_eq "pack: LLVM mappings" 0 "$LLVM_packed"
  expect_eq "pack: loading it adds no cache entry" 1 "$(entries)"
  vns_run shape 60 drop-summary --dev "$DEV_B" -d 1 --pack "$CASE_DIR/ds.pack"
  expect_eq "another shape: exit status" 1 "$STATUS"
  expect_match "another shape: one line" '^vnetscope: --pack .* holds another program than these options make' \
    "$(err_of shape)"
}

case_pack_for_another_kernel() {
  need_root
  need_drop_reasons
  private_cache
  local tree
  tree=$("$VNS" -e 'local _, d = require("vns.core").kheaders() print(d)')
  vns_run compile 120 compile drop-summary --kernel-release 9.9.9-other --kernel-headers "$tree" \
    -o "$CASE_DIR/other.pack"
  expect_eq "compile for another release: exit status" 0 "$STATUS"
  vns_run run 60 drop-summary -d 1 --pack "$CASE_DIR/other.pack"
  expect_eq "loading it here: exit status" 1 "$STATUS"
  expect_match "loading it here: names both kernels" \
    "compiled for kernel 9.9.9-other; this kernel is $(uname -r)" "$(err_of run)"
  vns_run bad 10 compile drop-summary --kernel-release 9.9.9 -o "$CASE_DIR/x.pack"
  expect_eq "--kernel-release without --kernel-headers: exit status" 2 "$STATUS"
  vns_run bad2 10 compile drop-summary --kernel-release 'a;b' --kernel-headers "$tree" -o "$CASE_DIR/x.pack"
  expect_match "a bad release: one line" "option --kernel-release: 'a;b' is not a kernel release" "$(err_of bad2)"
}

# --target-arch: a typed value, and only for another kernel's headers.
case_target_arch_bad_input() {
  vns_run bad 10 compile kvm-irqfd --target-arch mips -o "$CASE_DIR/x.pack"
  expect_eq "an unknown architecture: exit status" 2 "$STATUS"
  expect_match "an unknown architecture: one line naming the option and the accepted values" \
    "option --target-arch: 'mips' is not an architecture vnetscope compiles for: x86_64 or arm64" "$(err_of bad)"
  vns_run bad2 10 compile kvm-irqfd --target-arch arm64 -o "$CASE_DIR/x.pack"
  expect_eq "without the target's headers: exit status" 2 "$STATUS"
  expect_match "without the target's headers: says what it needs" "needs --kernel-release and --kernel-headers" \
    "$(err_of bad2)"
}

# kvm-irqfd's arm64 variant (the vGIC's irqfd path, no x86 tracepoints)
# compiles against Debian's arm64 headers: linux-headers-R-arm64 with its
# -common beside it: VNST_ARM64_HEADERS names the R-arm64 directory,
# else those installed in /usr/src, else the mirror's, unpacked once by
# arm64-headers.sh. The same headers compiled as x86_64 fail: the
# architecture is really switched.
case_target_arch_arm64() {
  need_root
  local dir=${VNST_ARM64_HEADERS:-}
  [ -n "$dir" ] || dir=$(find /usr/src -maxdepth 1 -name 'linux-headers-*-arm64' 2>/dev/null | sort | tail -n 1)
  [ -n "$dir" ] || dir=$("$TESTS_DIR/arm64-headers.sh" 2>"$CASE_DIR/arm64-headers.err") ||
    skip "no arm64 kernel headers: none in /usr/src, VNST_ARM64_HEADERS unset, and the mirror's could not be fetched ($(tail -1 "$CASE_DIR/arm64-headers.err"))"
  [ -d "$dir" ] || skip "no arm64 kernel headers at $dir"
  private_cache
  local release=${dir##*/linux-headers-}
  vns_run arm 300 compile kvm-irqfd --kernel-release "$release" --kernel-headers "$dir" --target-arch arm64 \
    -o "$CASE_DIR/arm64.pack"
  expect_eq "arm64: compiled (exit status)" 0 "$STATUS"
  expect_match "arm64: the pack written" "kvm-irqfd: $CASE_DIR/arm64.pack" "$(out_of arm)"
  vns_run x86 300 compile kvm-irqfd --kernel-release "$release" --kernel-headers "$dir" --target-arch x86_64 \
    -o "$CASE_DIR/x86.pack"
  expect_eq "the arm64 headers as x86_64: fails" 1 "$STATUS"
  expect_match "the arm64 headers as x86_64: x86's asm headers are missing" "asm/.*file not found" "$(err_of x86)"
}

# --tracefs: a copy of the formats where skb:kfree_skb has one more
# field. The pack compiled with it is refused here (the formats differ),
# and the compile's bind mount stayed in its own mount namespace.
case_pack_other_tracepoint_formats() {
  need_root
  need_drop_reasons
  private_cache
  local events=/sys/kernel/tracing/events
  mkdir -p "$CASE_DIR/events/skb/kfree_skb"
  cat "$events/skb/kfree_skb/format" >"$CASE_DIR/events/skb/kfree_skb/format"
  sed -i 's/^print fmt/\tfield:int vns_extra;\toffset:64;\tsize:4;\tsigned:1;\n\nprint fmt/' \
    "$CASE_DIR/events/skb/kfree_skb/format"
  local before
  before=$(cat "$events/skb/kfree_skb/format")
  vns_run compile 120 compile drop-summary --tracefs "$CASE_DIR/events" -o "$CASE_DIR/tp.pack"
  expect_eq "compile with --tracefs: exit status" 0 "$STATUS"
  expect_eq "the host's format is untouched" "$before" "$(cat "$events/skb/kfree_skb/format")"
  expect_eq "no bind mount left on events" 0 "$(grep -c ' /sys/kernel/tracing/events ' /proc/self/mountinfo)"
  vns_run run 60 drop-summary -d 1 --pack "$CASE_DIR/tp.pack"
  expect_eq "loading it here: exit status" 1 "$STATUS"
  expect_match "loading it here: one line" 'was compiled with other tracepoint formats' "$(err_of run)"
  vns_run bad 10 compile drop-summary --tracefs /nonexistent -o "$CASE_DIR/x.pack"
  expect_match "a bad --tracefs: one line" "option --tracefs: /nonexistent is not a copy of a kernel's tracefs events" \
    "$(err_of bad)"
}

# Another user able to write the cache could have root load any program:
# such a directory or entry is not used.
case_untrusted_cache_unused() {
  need_root
  need_drop_reasons
  topo_pair
  private_cache
  count_run first 9999:1 -- --dst-port 9999
  chmod 0777 "$CASE_DIR/cache/programs"
  count_run open 9999:3 -- --dst-port 9999
  expect_match "a directory others can write: said" \
    'not using the cache: .*/programs is not owned by uid 0 or is writable by others' "$(err_of open)"
  expect_eq "a directory others can write: compiled, counts" 3 "$(no_socket open)"
  chmod 0755 "$CASE_DIR/cache/programs"
  local entry
  entry=$(find "$CASE_DIR/cache/programs" -name '*.pack' | head -n 1)
  chown nobody "$entry"
  count_run foreign 9999:2 -- --dst-port 9999
  expect_match "an entry of another user: said" "not using the cache: $entry is not owned by uid 0" \
    "$(err_of foreign)"
  expect_eq "an entry of another user: drops" 2 "$(no_socket foreign)"
}

case_no_cache_and_commands() {
  need_root
  need_drop_reasons
  topo_pair
  private_cache
  count_run plain 9999:4 -- --dst-port 9999 --no-cache
  expect_eq "--no-cache: drops" 4 "$(no_socket plain)"
  expect_eq "--no-cache: no entries" 0 "$(entries)"
  count_run cached 9999:1 -- --dst-port 9999
  vns_run list 30 cache list
  expect_match "cache list shows the entry" '\.pack +[0-9.]+ KiB +[0-9]+s +[^ ]+ +drop-summary' "$(out_of list)"
  expect_match "cache list total" '^1 entries, ' "$(out_of list)"
  vns_run clear 30 cache clear
  expect_match "cache clear" "^removed 1 entries from $CASE_DIR/cache/programs" "$(out_of clear)"
  expect_eq "entries after clear" 0 "$(entries)"
  vns_run bad 10 cache purge
  expect_eq "cache purge: exit status" 2 "$STATUS"
}

case_concurrent_cold_runs() {
  need_root
  need_drop_reasons
  topo_pair
  private_cache
  tool_start one drop-summary --group-by location --dev "$DEV_B" -i 1 -d 60 --dst-port 9999
  tool_start two drop-summary --group-by location --dev "$DEV_B" -i 1 -d 60 --dst-port 9999
  wait_ready one
  wait_ready two
  send_udp "$NS_A" "$IP_B" 9999 7
  settle
  tool_stop one INT
  tool_stop two INT
  expect_eq "first run: drops" 7 "$(no_socket one)"
  expect_eq "second run: drops" 7 "$(no_socket two)"
  expect_eq "entries" 1 "$(entries)"
  expect_eq "temporary files left" 0 "$(find "$CASE_DIR/cache/programs" -name '*.tmp-*' | wc -l)"
}

case_size_bound() {
  need_root
  private_cache
  mkdir -p "$CASE_DIR/cache/programs"
  local age
  for age in 3 2 1; do
    head -c 600000 /dev/zero >"$CASE_DIR/cache/programs/old$age.pack"
    touch -d "$age days ago" "$CASE_DIR/cache/programs/old$age.pack"
  done
  VNETSCOPE_CACHE_MAX_MB=1 vns_run ds 120 drop-summary -d 0.2
  expect_eq "exit status" 0 "$STATUS"
  expect_eq "entries left: the newest old one and the new one" \
    "old1.pack" "$(cd "$CASE_DIR/cache/programs" && ls old*.pack)"
  expect_eq "entries" 2 "$(entries)"
  VNETSCOPE_CACHE_MAX_MB=lots vns_run bad 30 drop-summary -d 0.2
  expect_eq "a bad bound: exit status" 2 "$STATUS"
  expect_match "a bad bound: one line" 'VNETSCOPE_CACHE_MAX_MB=lots: give a whole number of megabytes' "$(err_of bad)"
}

case_patched_equals_fresh() {
  need_root
  private_cache
  vns_run eq 600 run "$TESTS_DIR/fixtures/pack-equivalence.lua"
  expect_eq "exit status" 0 "$STATUS"
  expect_match "every option set" '^[1-9][0-9]* equal, 0 differ$' "$(tail -n 1 "$CASE_DIR/eq.out")"
}

run_case "cache: a hit counts exactly like the cold run, without LLVM" case_hit_counts_like_cold
run_case "cache: a new --dst-port reuses the entry and counts only the new flow" case_new_value_reuses_shape
run_case "cache: another shape or other kernel headers miss" case_shape_and_kernel_change_miss
run_case "cache: a damaged entry is reported and recompiled, never loaded" case_damaged_entry_recompiled
run_case "pack: runs without the compiler; another shape is refused" case_pack_without_compiler
run_case "pack: compiled for another kernel release is refused here" case_pack_for_another_kernel
run_case "compile --target-arch: bad values exit 2 with one line" case_target_arch_bad_input
run_case "compile --target-arch arm64: kvm-irqfd's arm64 variant compiles against arm64 headers" case_target_arch_arm64
run_case "pack: compiled with other tracepoint formats (--tracefs) is refused here" case_pack_other_tracepoint_formats
run_case "cache: a cache others can write is not used" case_untrusted_cache_unused
run_case "cache: --no-cache, cache list, cache clear" case_no_cache_and_commands
run_case "cache: two cold runs at once both count exactly; one entry" case_concurrent_cold_runs
run_case "cache: over VNETSCOPE_CACHE_MAX_MB the oldest entries go" case_size_bound
run_case "cache: patched programs equal fresh compiles (table of option sets)" case_patched_equals_fresh
finish
