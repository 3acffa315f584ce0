#!/bin/sh
# Four nodes of one CPU each; SLIT distances 16 within the pairs 0-1 and 2-3,
# 22 across. One boot, three checks:
#   vCPU move   guest "far" runs on node 0 with its memory on node 3, which
#               is idle: its vCPU goes to node 3;
#   memory      guest "crowded" runs on node 1 with its memory on node 2,
#               whose CPU guest "resident" keeps busy: no CPU room there,
#               so its memory is migrated (move_pages, for real) to node 1,
#               or with it to node 0, which far's move leaves idle (place
#               moves the whole guest there); one migration,
#               crowded's 96 MiB, not far's memory as well; the mover
#               thread copied on the target node's CPU at nice -10;
#   balanced    guest "resident" (vCPU and memory on node 2) is left alone.
. /numavm/vmlib.sh
echo 0 >/proc/sys/kernel/numa_balancing

check "SLIT distances of node 0: $(cat /sys/devices/system/node/node0/distance)" \
	test "$(cat /sys/devices/system/node/node0/distance)" = "10 16 22 22"
check "SLIT distances of node 3: $(cat /sys/devices/system/node/node3/distance)" \
	test "$(cat /sys/devices/system/node/node3/distance)" = "22 22 16 10"

start_guest resident -smp 1 -m 64 -cpu-node 2 -mem-node 2 || finish
start_guest far -smp 1 -m 64 -cpu-node 0 -mem-node 3 || finish
start_guest crowded -smp 1 -m 96 -cpu-node 1 -mem-node 2 || finish
for g in resident far crowded; do say "before: $(where $g)"; done
mig0=$(awk '/^pgmigrate_success/ { print $2 }' /proc/vmstat)
write_conf /run/vnumad.conf </dev/null
start_daemon /tmp/vnumad.log --backend proc

expect_local far 3 40
expect_local_any crowded 40 1 0
expect_log "guest crowded: [0-9.]+ ?MiB moved from node 2 to node ${LOCAL_NODE:-1}" 10
# the mover copied on the target node's CPU, at [limits] migrate_nice (-10)
mover=
for t in /proc/$DPID/task/*; do
	[ "$(cat $t/comm 2>/dev/null)" = vnumad-mover ] && mover=$t
done
check "vnumad's mover thread is named vnumad-mover" test -n "$mover"
if [ -n "$mover" ]; then
	cpus=$(awk '/^Cpus_allowed_list/ { print $2 }' $mover/status)
	want=$(cat /sys/devices/system/node/node${LOCAL_NODE:-1}/cpulist)
	check "the mover ran on node ${LOCAL_NODE:-1}'s CPUs ($cpus, node's $want)" \
		test "$cpus" = "$want"
	nice=$(sed 's/.*) //' $mover/stat | awk '{ print $17 }')
	check "the mover's nice value is -10 ($nice)" test "$nice" = -10
fi
mig1=$(awk '/^pgmigrate_success/ { print $2 }' /proc/vmstat)
say "kernel: $(((mig1 - mig0) * 4 / 1024)) MiB migrated (pgmigrate_success)"
check "the kernel migrated at least 90 MiB" test $(((mig1 - mig0) * 4 / 1024)) -ge 90
check "and no more than crowded's 96 MiB (one migration)" test $(((mig1 - mig0) * 4 / 1024)) -le 104
check "$(where resident), left alone on node 2" is_local resident 2
check "no move of guest resident was applied" sh -c "! grep -Eq 'applied +resident:' $DLOG"
for g in resident far crowded; do
	check "memory of guest $g intact" verify_guest $g
done
stop_daemon
check "vnumad exits 0 on SIGTERM (exit $DRC)" test "$DRC" -eq 0
finish
