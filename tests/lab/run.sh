#!/usr/bin/env bash
# run.sh CMD [ARGS...]: boot the lab guest (stock Debian kernel under
# qemu TCG), run CMD in this checkout (shared with virtiofs, mounted at
# the same path), print the guest's console output, exit with CMD's
# status. 124 when the guest did not finish in VNST_LAB_TIMEOUT seconds.
#
#   tests/lab/run.sh uname -r
#   tests/lab/run.sh tests/integration/run.sh tests/lab/t_kprobe.sh
#
# The disk is opened with snapshot=on: every run starts from the image.
# The guest has no network to the outside: only its own loopback,
# namespaces and devices, and two virtio-net NICs (MACs 52:54:00:00:07:01
# and :02) joined to each other by a qemu-internal hub.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
timeout_s=${VNST_LAB_TIMEOUT:-1800}
mem=${VNST_LAB_MEM:-2G}

[ $# -gt 0 ] || { echo "usage: tests/lab/run.sh CMD [ARGS...]" >&2; exit 2; }
for a in "$@"; do
  case $a in *[[:space:]]*|'') echo "run.sh: arguments must be single words: '$a'" >&2; exit 2 ;; esac
done
virtiofsd=/usr/lib/qemu/virtiofsd
for f in qemu-system-x86_64 "$virtiofsd"; do
  command -v "$f" >/dev/null || { echo "run.sh: $f is missing (apt install qemu-system-x86)" >&2; exit 2; }
done
image=$("$here/image.sh") || { echo "run.sh: no guest image" >&2; exit 2; }

tmp=$(mktemp -d /tmp/vns-lab.XXXXXX)
pids=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

"$virtiofsd" --socket-path="$tmp/fs.sock" -o source="$repo" -o cache=none -o sandbox=chroot \
  -o log_level=err >"$tmp/virtiofsd.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do [ -S "$tmp/fs.sock" ] && break; sleep 0.1; done
[ -S "$tmp/fs.sock" ] || { echo "run.sh: virtiofsd did not start: $(cat "$tmp/virtiofsd.log")" >&2; exit 2; }

start=$SECONDS
touch "$tmp/console.log"
# no_timer_check: on a loaded host the emulated timer can tick too late
# for the kernel's boot check, which then panics ("IO-APIC + timer
# doesn't work"). softlockup_panic: a guest kernel stuck on a CPU panics
# (and powers off, -no-reboot) with every CPU's backtrace, instead of
# holding the run until the timeout.
qemu-system-x86_64 -nodefaults -display none -no-reboot \
  -accel tcg,thread=multi -cpu max -smp "$(nproc)" -m "$mem" \
  -object memory-backend-memfd,id=mem,size="$mem",share=on -numa node,memdev=mem \
  -chardev socket,id=fs,path="$tmp/fs.sock" -device vhost-user-fs-pci,chardev=fs,tag=vns \
  -drive file="$image/rootfs.img",if=virtio,format=raw,snapshot=on \
  -netdev hubport,id=nic1,hubid=0 -device virtio-net-pci,netdev=nic1,mac=52:54:00:00:07:01 \
  -netdev hubport,id=nic2,hubid=0 -device virtio-net-pci,netdev=nic2,mac=52:54:00:00:07:02 \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
  -append "console=ttyS0 root=/dev/vda rw quiet panic=-1 softlockup_panic=1 softlockup_all_cpu_backtrace=1 no_timer_check init=/sbin/vns-lab-init vns.root=$repo -- $*" \
  -serial file:"$tmp/console.log" >"$tmp/qemu.log" 2>&1 &
qemu=$!
pids+=("$qemu")

# Follow the console until the guest powers off or the time is up.
tail -n +1 -f "$tmp/console.log" --pid="$qemu" &
pids+=($!)
while kill -0 "$qemu" 2>/dev/null && ((SECONDS - start < timeout_s)); do sleep 1; done
# kernel_trouble: the guest kernel's first report of a fault (lockup,
# BUG, oops, panic) and the test file it ran, on lines of their own
# ("run.sh: | ..."), so the end of a long log still shows them.
kernel_trouble() {
  local first
  first=$(grep -n -m1 -E 'soft lockup|hard LOCKUP|BUG:|Oops|Kernel panic|blocked for more than' "$tmp/console.log" | cut -d: -f1)
  [ -n "$first" ] || return 0
  echo "run.sh: the guest kernel reported a fault while running $(head -n "$first" "$tmp/console.log" | grep -E '^== t_' | tail -1 | cut -c4-):" >&2
  sed -n "${first},$((first + 60))p" "$tmp/console.log" | sed 's/^/run.sh: | /' >&2
}
# stale_int3: QEMU's TCG ran a stale translation of kernel text that
# another vCPU patched back (text_poke_bp puts an int3 over a static-key
# site while it flips the key): a CPU traps again and again on an int3
# at an address whose memory holds the original byte (the byte before
# "<" in the Code: line of the trapped context). Seen on 5.10 in CPUs
# running processes no tool traced; real hardware cannot do it.
stale_int3() {
  awk '/RIP: 0010:asm_exc_int3/ { s = 1; next }
       s == 1 && /RIP: 0010:/ { s = 2; next }
       s == 2 && /Code:/ { s = 0; if (match($0, /[0-9a-f][0-9a-f] </)) { b = substr($0, RSTART, 2); if (b != "cc") found = 1 } }
       END { exit !found }' "$tmp/console.log"
}
if kill -0 "$qemu" 2>/dev/null; then
  echo "run.sh: the guest did not finish in $timeout_s s" >&2
  kernel_trouble
  exit 124
fi
sleep 0.5
status=$(sed -n 's/^VNS-LAB-EXIT \([0-9]*\).*/\1/p' "$tmp/console.log" | tail -1)
if [ -z "$status" ]; then
  echo "run.sh: the guest stopped without an exit status; qemu said: $(head -c 2000 "$tmp/qemu.log")" >&2
  kernel_trouble
  if stale_int3; then
    echo "run.sh: a CPU looped on an int3 no longer in memory: the emulator's stale translation, not the code under test (exit 75)" >&2
    exit 75
  fi
  exit 2
fi
echo "lab: guest ran for $((SECONDS - start)) s (boot, command, power-off)"
exit "$status"
