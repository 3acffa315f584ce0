#!/bin/sh
# A memory-only node (topology hmat: node 2 has 256 MiB and no CPU, like a
# CXL expander; SLIT 17 from node 0). One boot, two phases:
#   to       vnumad migrate GUEST --to 2 --memory 32MiB moves memory onto the
#            memory-only node (policy none, no guard: nothing moves it back);
#   from     guest "far" runs on node 0 with all its memory on node 2: its
#            vCPU cannot go there, so the policy moves the memory to a
#            node with CPUs where its vCPU then runs: node 0 (memory to the
#            vCPU: locality, the default), or node 1 (the whole guest to
#            the idle node: place, as node 0 also runs "near"); no vCPU is ever
#            moved to node 2 and every vCPU keeps CPUs.
. /numavm/vmlib.sh
echo 0 >/proc/sys/kernel/numa_balancing

start_guest near -smp 1 -m 64 -cpu-node 0 -mem-node 0 || finish
start_guest far -smp 1 -m 96 -cpu-node 0 -mem-node 2 || finish
for g in near far; do say "before: $(where $g)"; done
check "guest far starts with its memory on node 2" test "$(mem_share "$(gpid far)" 2)" -ge 90

# phase 1: memory to the memory-only node, by hand
write_conf /run/vnumad.conf <<CONF

[policy]
name = none
CONF
# and no guard, in write_conf's own [guard] section
awk '{ print } /^\[guard\]$/ { print "enabled = no" }' /run/vnumad.conf >/run/c &&
	mv /run/c /run/vnumad.conf
start_daemon /tmp/vnumad-to.log --backend proc
wait_for 10 knows near
vnumad status -c /run/vnumad.conf --json >/tmp/status.json 2>&1
check "status lists node 2 with no CPUs" sh -c "grep -A2 '\"node\": 2' /tmp/status.json | grep -q '\"cpus\": 0'"
n2=$(mib_on "$(gpid near)" 2)
vnumad migrate near --to 2 --memory 32MiB -c /run/vnumad.conf >/tmp/migrate.out 2>&1
rc=$?
say "vnumad migrate near --to 2 --memory 32MiB: exit $rc: $(tail -n 1 /tmp/migrate.out); $(where near)"
check "memory moves onto the memory-only node (exit $rc)" test "$rc" -eq 0
check "guest near has 32 MiB more on node 2" test $(($(mib_on "$(gpid near)" 2) - n2)) -ge 30
check "its vCPU stays on node 0" vcpus_on near 0
vnumad migrate near --to 2 -c /run/vnumad.conf >/tmp/migrate2.out 2>&1
rc=$?
say "vnumad migrate near --to 2 (vCPUs): exit $rc: $(cat /tmp/migrate2.out)"
check "a vCPU move to the memory-only node is refused" test "$rc" -ne 0
check "and says why" grep -q 'no CPUs' /tmp/migrate2.out
stop_daemon
DLOG=/tmp/vnumad-to.log

# phase 2: memory off it, by the policy
write_conf /run/vnumad.conf </dev/null
start_daemon /tmp/vnumad.log --backend proc
expect_local_any far 45 0 1
far_node=${LOCAL_NODE:-0}
expect_log "guest far: [0-9.]+ ?MiB moved from node 2 to node $far_node" 10
check "no vCPU was moved to node 2" sh -c "! grep -Eq 'applied +[a-z]+: vCPU [0-9]+ node [0-9]+ -> node 2' /tmp/vnumad*.log"
check "guest far's vCPU has its memory's node's CPUs" vcpus_on far "$far_node"
check "guest near's vCPU kept node 0's CPUs" vcpus_on near 0
for g in near far; do
	check "memory of guest $g intact" verify_guest $g
done
stop_daemon
check "vnumad exits 0 on SIGTERM (exit $DRC)" test "$DRC" -eq 0
finish
