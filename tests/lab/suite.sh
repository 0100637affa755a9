#!/usr/bin/env bash
# suite.sh [VNETSCOPE [PACKS]]: the lab's test files, run inside the
# guest by run-suite.sh (tests/lab/run.sh tests/lab/suite.sh
# /path/to/vnetscope /path/to/packs). Every program comes from PACKS
# (VNETSCOPE_PACK): a program without a pack fails, it never compiles.
# Emulation is slow, so a tool still gets longer to become ready.
export VNST_READY_TENTHS=${VNST_READY_TENTHS:-600}
[ -z "${1:-}" ] || export VNETSCOPE=$1
[ -z "${2:-}" ] || export VNETSCOPE_PACK=$2
here=$(cd "$(dirname "$0")" && pwd)
echo "lab guest: kernel $(uname -r), $(nproc) CPUs"
exec "$here/../integration/run.sh" "$here"/t_*.sh
