#!/bin/bash
# vnumad beside the kernel's own NUMA balancing and numad in the multi-node
# VM, in the short form of tests/numavm/compare.sh (-q): the two-node,
# four-node and phase-change setups, each contender on fresh guests (see
# tests/numavm/vm/case_compare.sh). It prints the comparison's table and
# checks what does not depend on the machine's speed:
#
#   - every contender gave a result on every setup;
#   - vnumad (its defaults, the kernel's balancing off) ends with every
#     guest local, takes no NUMA hinting fault, and migrates less memory
#     than the kernel's balancing does on the same setup; in the phase
#     setup, where the reaction to the change is measured, no more from the
#     change on than the one copy of the moved working set the kernel
#     brings back (before it, vnumad may relieve node 0, where three vCPUs
#     share two CPUs: a move the kernel, held by the threads' affinities,
#     cannot make; the total counts it, and the change waits until the
#     guard has judged it, so that an undo is not counted as the reaction);
#   - the kernel's balancing takes hinting faults and ends local too.
#
# Times are reported beside the kernel's, not checked: on a shared 2-core
# machine running QEMU under TCG they are the machine's more than vnumad's.
# The table of tests/numavm/README.md comes from the same script in its
# full form (tests/numavm/compare.sh -u). Skips when the VM
# cannot run here (tests/t_numavm.sh's reasons).
. "$(dirname "$0")/lib.sh"
# each failure also kept apart, to be repeated after the serial logs
fail() { echo "FAIL: $*" | tee -a "$TMP/checks"; nfail=$((nfail + 1)); }

NUMAVM_RUN_DIR=$TMP tests/numavm/compare.sh -q -o "$TMP/table.md" >"$TMP/out" 2>&1
rc=$?
if [ $rc -eq 77 ]; then
	skip "$(tail -n 1 "$TMP/out")"
fi
cat "$TMP/out"
[ $rc -eq 0 ] || { fail "tests/numavm/compare.sh -q: exit $rc"; done_testing; }
results=$TMP/results

# value SETUP TOOL KEY: a field of that contender's RESULT line
value() {
	awk -v s="$1" -v t="$2" -v k="$3" '$1 == s && $2 == t {
		for (i = 4; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit }
	}' "$results"
}

for setup in two four phase; do
	for tool in $(awk -v s=$setup '$1 == s { print $2 }' "$results"); do
		[ "$(value $setup "$tool" tool)" = "$tool" ] ||
			fail "$setup: $tool gave no result (serial logs in $TMP)"
	done
	[ -n "$(value $setup vnumad tool)" ] || { fail "$setup: no vnumad result"; continue; }
	[ "$(value $setup vnumad fixed)" != never ] ||
		fail "$setup: vnumad left a guest remote: $(value $setup vnumad locality)"
	[ "$(value $setup vnumad faults)" = 0 ] ||
		fail "$setup: vnumad ran with the kernel's balancing on ($(value $setup vnumad faults) hinting faults)"
	[ -n "$(value $setup kernel tool)" ] || { fail "$setup: no kernel result"; continue; }
	[ "$(value $setup kernel faults)" -gt 0 ] ||
		fail "$setup: the kernel's balancing took no hinting fault"
	[ "$(value $setup kernel fixed)" != never ] ||
		fail "$setup: the kernel's balancing left a guest remote: $(value $setup kernel locality)"
	mv=$(value $setup vnumad migrated) mk=$(value $setup kernel migrated)
	if [ $setup = phase ]; then
		# one copy of the moved working set (the guest's 320 MiB of
		# case_compare.sh) is what the kernel's balancing brings back
		cv=$(value $setup vnumad after_change) ck=$(value $setup kernel after_change)
		[ "$cv" -le 320 ] 2>/dev/null ||
			fail "$setup: after the change vnumad migrated $cv MiB, more than the moved 320 MiB (the kernel's balancing $ck MiB)"
		echo "$setup: after the change vnumad migrated $cv MiB, the kernel $ck MiB; in all $mv and $mk MiB"
	else
		[ "$mv" -lt "$mk" ] ||
			fail "$setup: vnumad migrated $mv MiB, the kernel's balancing $mk MiB"
	fi
	tv=$(value $setup vnumad fixed) tk=$(value $setup kernel fixed)
	awk -v v="$tv" -v k="$tk" -v s=$setup 'BEGIN {
		printf "%s: vnumad local after %s s, the kernel after %s s: %s\n", s, v, k,
			(v + 0 <= k + 0) ? "no slower" : "slower (not checked here)" }'
done
if [ "$nfail" -gt 0 ]; then
	for log in "$TMP"/*-1.log; do
		echo "== $log"
		grep -a '^numavm: \|^RESULT \|^---- \|^vnumad: \|^  applied\|^  verdict' "$log" | tail -n 80
	done
	# the failures again, last, where run.sh's tail of the output shows them
	grep -a '^FAIL: ' "$TMP/checks"
fi
done_testing
