#!/bin/bash
# Boots one VM case by hand and prints its serial console, for debugging:
#
#   tests/numavm/run-case.sh CASE TOPOLOGY [KERNEL ARGS...]
#   tests/numavm/run-case.sh faults 2node:384:768 NUMAVM_SECTIONS=enomem NUMAVM_VERBOSE=1
#
# B selects the build (default build/default). Exit 0 pass, 1 fail, 2 no
# verdict, 77 cannot run here.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build/default}
. tests/numavm/host.sh
[ $# -ge 2 ] || { echo "usage: $0 CASE TOPOLOGY [KERNEL ARGS...]" >&2; exit 2; }
name=$1 topo=$2
shift 2
numavm_prepare || { echo "$NUMAVM_SKIP"; exit 77; }
numavm_lock || { echo "another run holds $NUMAVM_DIR/.lock"; exit 77; }
NUMAVM_RUN=$(mktemp -d)
trap 'rm -rf "$NUMAVM_RUN"' EXIT
numavm_initrd "$NUMAVM_RUN/initrd" || exit 1
numavm_boot "$name" "$topo" "$NUMAVM_RUN/initrd" "${NUMAVM_TIMEOUT:-120}" "$@"
rc=$?
grep -av '^tick ' "$NUMAVM_RUN/$name.log"
exit $rc
