#!/bin/sh
# QEMU's ACPI HMAT (topology hmat of tests/numavm/host.sh): nodes 0 and 1
# with CPUs, node 2 with memory only, and a latency and a bandwidth for
# every initiator and target. One boot, three checks:
#   kernel   the kernel shows what QEMU declared (access0 from the nearest
#            initiators: 20480 MiB/s and 80 ns for nodes 0 and 1, 6144 MiB/s
#            and 250 ns for node 2, served from node 0);
#   hmat     vnumad's status gives those figures as each node's bw_max and
#            read latency, labelled hmat, node 2 with no CPUs;
#   config   [host] bandwidth = 1:8GiB/s wins for node 1, labelled config.
. /numavm/vmlib.sh
echo 0 >/proc/sys/kernel/numa_balancing
MiB=1048576

# initiators FILE of node N
hmat_file() { cat "/sys/devices/system/node/node$1/access0/initiators/$2" 2>/dev/null; }
for n in 0 1 2; do
	say "node $n: cpus [$(node_cpus $n)], HMAT read $(hmat_file $n read_bandwidth) MiB/s $(hmat_file $n read_latency) ns"
done
check "the kernel read QEMU's HMAT for node 0" test "$(hmat_file 0 read_bandwidth)" = 20480
check "node 0's latency" test "$(hmat_file 0 read_latency)" = 80
check "node 2 (no CPUs) is served from node 0" test -e /sys/devices/system/node/node2/access0/initiators/node0
check "node 2's bandwidth" test "$(hmat_file 2 read_bandwidth)" = 6144
check "node 2's latency" test "$(hmat_file 2 read_latency)" = 250

write_conf /run/vnumad.conf <<CONF

[host]
bandwidth = 1:8GiB/s
CONF
start_daemon /tmp/vnumad.log --backend proc
wait_for 10 sh -c 'vnumad status -c /run/vnumad.conf --json 2>/dev/null | grep -q bw_max_source'
vnumad status -c /run/vnumad.conf --json >/tmp/status.json 2>&1
vnumad status -c /run/vnumad.conf 2>&1 | sed -n '/^node/,/^$/p' | while IFS= read -r l; do say "status: $l"; done

# node_field NODE FIELD: the field of that node in the status JSON's nodes
node_field() {
	awk -v want="$1" -v key="\"$2\":" '
		/"guests":/ { exit }
		/"node":/ { gsub(/[ ,]/, ""); split($0, a, ":"); cur = a[2]; next }
		index($0, key) && cur == want {
			v = substr($0, index($0, key) + length(key)); gsub(/[ ,"]/, "", v); print v; exit
		}' /tmp/status.json
}
# same NUMBER NUMBER: equal to the byte
same() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'; }

check "node 0: bw_max $(node_field 0 bw_max) = 20480 MiB/s" same "$(node_field 0 bw_max)" $((20480 * MiB))
check "node 0: bw_max_source $(node_field 0 bw_max_source)" test "$(node_field 0 bw_max_source)" = hmat
check "node 0: read latency $(node_field 0 read_latency_ns) ns" same "$(node_field 0 read_latency_ns)" 80
check "node 2: no CPUs" test "$(node_field 2 cpus)" = 0
check "node 2: bw_max $(node_field 2 bw_max) = 6144 MiB/s" same "$(node_field 2 bw_max)" $((6144 * MiB))
check "node 2: bw_max_source $(node_field 2 bw_max_source)" test "$(node_field 2 bw_max_source)" = hmat
check "node 2: read latency $(node_field 2 read_latency_ns) ns" same "$(node_field 2 read_latency_ns)" 250
check "node 1: [host] bandwidth wins, $(node_field 1 bw_max)" same "$(node_field 1 bw_max)" $((8192 * MiB))
check "node 1: bw_max_source $(node_field 1 bw_max_source)" test "$(node_field 1 bw_max_source)" = config
expect_log 'bandwidth and latency of 3 nodes from ACPI HMAT' 5
stop_daemon
check "vnumad exits 0 on SIGTERM (exit $DRC)" test "$DRC" -eq 0
finish
