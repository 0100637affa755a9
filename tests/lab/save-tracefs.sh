#!/usr/bin/env bash
# save-tracefs.sh DEST: copy this kernel's tracepoint formats (tracefs
# events/CATEGORY/NAME/format) to DEST, for `vnetscope compile --tracefs
# DEST` on another host. Run in the guest by run-suite.sh.
set -euo pipefail
dest=$1
events=/sys/kernel/tracing/events
[ -d "$events/skb" ] || mount -t tracefs tracefs /sys/kernel/tracing
rm -rf "$dest"
cd "$events"
for f in */*/format; do
  mkdir -p "$dest/${f%/format}"
  cat "$f" >"$dest/$f"
done
echo "saved $(find "$dest" -name format | wc -l) tracepoint formats of $(uname -r)"
