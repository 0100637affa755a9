#!/usr/bin/env bash
# in-root.sh ROOT DIR CMD...: run CMD chrooted in an overlay of ROOT
# (never written) whose changes go to DIR/upper, with the host's /proc,
# /sys (tracefs, bpffs, BTF) and /dev, in a mount namespace of its own,
# so nothing stays mounted. CMD keeps this process's pid (exec all the
# way): a signal sent to it reaches CMD.
set -euo pipefail
if [ -z "${VNST_IN_ROOT_NS:-}" ]; then
  VNST_IN_ROOT_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
root=$1 dir=$2
shift 2
mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
mount -t overlay overlay -o "lowerdir=$root,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged"
mount -t proc proc "$dir/merged/proc"
mount --rbind /sys "$dir/merged/sys"
mount --rbind /dev "$dir/merged/dev"
exec chroot "$dir/merged" env -u VNST_IN_ROOT_NS "$@"
