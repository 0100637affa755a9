#!/usr/bin/env bash
# suite.sh [VNETSCOPE]: the lab's test files, run inside the guest by
# run-suite.sh (tests/lab/run.sh tests/lab/suite.sh /path/to/vnetscope).
# BCC compiles under emulation take 30-70 s, so a tool gets longer to
# become ready than on the host.
export VNST_READY_TENTHS=${VNST_READY_TENTHS:-2400}
[ -z "${1:-}" ] || export VNETSCOPE=$1
here=$(cd "$(dirname "$0")" && pwd)
echo "lab guest: kernel $(uname -r), $(nproc) CPUs"
exec "$here/../integration/run.sh" "$here"/t_*.sh
