#!/bin/bash
# vnumad on a real multi-node kernel: QEMU (TCG) VMs with 2 and 4 NUMA nodes,
# a Debian kernel and a busybox initramfs carrying vnumad, numactl and
# guest-like processes (tests/numavm/). Each boot runs one case script of
# tests/numavm/vm/ and reports pass or fail through QEMU's exit code:
#
#   two_node   2 nodes: a guest with its vCPUs away from its memory ends
#              local; a balanced guest is left alone; an injected harmful
#              move is reverted by the rollback guard
#   four_node  4 nodes with SLIT distances: vCPUs moved to distant memory;
#              memory migrated to the vCPUs where the memory's node has no
#              CPU room; a local guest left alone
#   faults     a guest killed in the middle of a migration, a target node
#              full (ENOMEM), the daemon killed with SIGKILL in a trial and
#              in a migration and started again, the descriptor limit
#              exhausted
#   hmat       QEMU's ACPI HMAT (-machine hmat=on, -numa hmat-lb): vnumad
#              reads each node's bandwidth and latency as QEMU declared them
#   memonly    a CPU-less node: memory moves onto it and off it, vCPUs never
#              go there
#
# NUMAVM_CASES="two_node faults" runs some only; NUMAVM_VERBOSE=1 prints
# the daemon's log of passing cases too. Skips when QEMU is missing,
# or no Debian kernel, static busybox or numactl can be found or downloaded.
. "$(dirname "$0")/lib.sh"
. tests/numavm/host.sh

NUMAVM_RUN=$TMP		# initramfs and serial logs: this run's own
numavm_prepare || skip "$NUMAVM_SKIP"
# two runs at once (two make checks in one checkout) would each run their
# VMs at half speed and miss their deadlines: one waits for the other
numavm_lock || skip "another run kept the VM lock $NUMAVM_DIR/.lock for 300 s"
initrd=$NUMAVM_RUN/initrd
numavm_initrd "$initrd" || { fail "cannot build the initramfs"; done_testing; }
echo "kernel $KERNEL, initramfs $(du -h "$initrd" | cut -f1)"

# case, topology, QEMU wall-clock limit in seconds
cases=(
	"two_node 2node 110"
	"four_node 4node 60"
	"faults 2node:384:768 100"
	"hmat hmat 45"
	"memonly hmat 80"
)
summary=()
start=$SECONDS
for spec in "${cases[@]}"; do
	read -r name topo limit <<<"$spec"
	if [ -n "${NUMAVM_CASES:-}" ] && [[ " $NUMAVM_CASES " != *" $name "* ]]; then
		continue
	fi
	t0=$SECONDS
	# the case gives up 15 s before QEMU's limit, to print the daemon's log
	numavm_boot "$name" "$topo" "$initrd" "$limit" NUMAVM_BUDGET=$((limit - 15)) \
		${NUMAVM_VERBOSE:+NUMAVM_VERBOSE=1}
	rc=$?
	log=$NUMAVM_RUN/$name.log
	grep -a '^numavm: ' "$log" | sed 's/^/  /'
	if [ $rc -eq 0 ]; then
		summary+=("PASS VM $name ($((SECONDS - t0))s)")
	else
		echo "VM $name: serial console, end:"
		tail -n 120 "$log" | sed 's/^/    /'
		fail "VM $name ($((SECONDS - t0))s)"
		summary+=("FAIL VM $name ($((SECONDS - t0))s)")
		while IFS= read -r l; do
			summary+=("    $l")
		done < <(grep -a 'numavm: .*FAIL' "$log" | head -n 10)
		[ $rc -eq 2 ] && summary+=("    no verdict: QEMU timed out or the kernel died")
	fi
	[ -n "${NUMAVM_VERBOSE:-}" ] && sed 's/^/    /' "$log"
done
# what the driver's 30-line excerpt of a failure shows
echo
printf '%s\n' "${summary[@]}"
echo "VM tests: $((SECONDS - start))s"
done_testing
