#!/bin/bash
# The libvirt backend against a real libvirtd running real QEMU guests,
# under KVM where /dev/kvm works and TCG elsewhere (tests/libvirtd.sh).
#
# 1. The real-libvirtd cases of test_libvirt (VNUMAD_QEMU_DOMAIN), on a
#    diskless 2-vCPU guest: discovery, the QEMU pid and its vCPU threads,
#    the same as libvirt's per-vCPU cgroups and status XML record; a live
#    pin through virDomainPinVcpuFlags seen in the thread's
#    Cpus_allowed_list and in `virsh vcpupin`; a memory move of the QEMU
#    process within the node; libvirtd killed and restarted (reconnect,
#    resync, same guest); the guest destroyed while ticks run.
# 2. The daemon, dry run, with two guests whose every vCPU is busy
#    (tests/spinguest.elf): both found with their threads, every vCPU
#    sampled (procfs: a node, a source, a remote share; not null); then
#    libvirtd killed and restarted (it reconnects and keeps both), one
#    guest destroyed mid-tick (dropped, its descriptors closed), SIGTERM.
# 3. --once against the same libvirtd ends after its decision round.
# Skips (exit 77) when not root, without the packages, or when a libvirtd
# runs already.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/libvirtd.sh"

TL=$B/tests/test_libvirt
NAME=vnumad-q1-$$
BUSY=(vnumad-q2-$$ vnumad-q3-$$)
DAEMON_PID=

lv_require
[ -x "$TL" ] || skip "$TL is not built"
[ -x "$VNUMAD" ] || skip "$VNUMAD is not built"

cleanup() {
	[ -n "$DAEMON_PID" ] && kill -9 "$DAEMON_PID" 2>/dev/null
	lv_cleanup
	rm -rf "$TMP"
}
trap cleanup EXIT

lv_setup
lv_start || skip "libvirtd does not start: $(tail -n 3 /var/log/libvirt/libvirtd.log 2>/dev/null | tr '\n' ' ')"

lv_domain "$NAME" 2 || { fail "virsh define"; done_testing; }
$V start "$NAME" >"$TMP/out" 2>&1 ||
	skip "the $LV_TYPE guest does not start: $(tr '\n' ' ' <"$TMP/out")"

# --- 1. the backend, driven by test_libvirt ----------------------------------
cat >"$TMP/restart.sh" <<EOF
#!/bin/sh
kill -9 \$(cat /run/libvirtd.pid)
while kill -0 \$(cat /run/libvirtd.pid) 2>/dev/null; do sleep 0.1; done
nice -n 10 libvirtd -d
i=0
while [ \$i -lt 200 ] && ! $V version >/dev/null 2>&1; do sleep 0.1; i=\$((i + 1)); done
EOF
chmod +x "$TMP/restart.sh"
CMOCKA_MESSAGE_OUTPUT=TAP VNUMAD_QEMU_DOMAIN=$NAME VNUMAD_QEMU_RESTART=$TMP/restart.sh \
	timeout 180 "$TL" >"$TMP/tl.out" 2>&1
rc=$?
LIBVIRTD_PID=$(cat /run/libvirtd.pid)
grep -E '^(ok|not ok|# )' "$TMP/tl.out"
[ $rc -eq 0 ] || { fail "test_libvirt (qemu cases) exit $rc"; sed 's/^/    /' "$TMP/tl.out" | tail -20; }
[ "$(grep -c '^ok ' "$TMP/tl.out")" -eq 5 ] || fail "test_libvirt: not all 5 qemu cases passed"
$V domstate "$NAME" 2>/dev/null | grep -q 'shut off' || fail "the guest should be down after the destroy case"

# --- 2. the daemon -----------------------------------------------------------
cat >"$TMP/vnumad.conf" <<EOF
[daemon]
interval = 300ms
state_dir = $TMP/state
control = $TMP/control.sock
[backend]
type = libvirt
uri = $URI
numa_balancing = leave
EOF
mkdir -p "$TMP/state"
"$VNUMAD" -c "$TMP/vnumad.conf" -f -v --dry-run >"$TMP/daemon.out" 2>"$TMP/daemon.log" &
DAEMON_PID=$!
log_has() { grep -Eq -- "$1" "$TMP/daemon.log"; }
alive() { kill -0 "$DAEMON_PID" 2>/dev/null; }
nfds() { find /proc/"$DAEMON_PID"/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
status_json() { "$VNUMAD" status -c "$TMP/vnumad.conf" --json 2>/dev/null | tr -d ' \n'; }

wait_for 10 grep -q '^tick 2 ' "$TMP/daemon.out" || fail "daemon: no tick"
fds0=$(nfds)
for g in "${BUSY[@]}"; do
	lv_domain "$g" 2 busy || fail "virsh define $g"
	$V start "$g" >/dev/null || fail "virsh start $g"
done
for g in "${BUSY[@]}"; do
	QPID=$(cat "/run/libvirt/qemu/$g.pid")
	wait_for 10 log_has "guest $g: 2 vCPUs" || fail "daemon: $g not discovered"
	want=$(for t in /proc/"$QPID"/task/*; do
		c=$(cat "$t/comm")
		case $c in "CPU "*/KVM | "CPU "*/TCG) echo "${c#CPU } ${t##*/}" ;; esac
	done | sort -n | awk '{ print $2 }' | paste -sd,)
	log_has "guest $g: uuid .*, pid $QPID, vCPU threads $want \(cgroup v[12]\)\$" ||
		fail "daemon: $g's vCPU threads (want $want, from libvirt's cgroups)"
	log_has "guest $g: cannot be measured" && fail "daemon: $g said to be unmeasurable"
done
# every vCPU of both guests sampled: a thread, a node, a source, a remote share
sampled() {
	local j
	j=$(status_json)
	for g in "${BUSY[@]}"; do
		for v in 0 1; do
			grep -Eq "\"name\":\"$g\".*\"vcpu\":$v,\"tid\":[1-9][0-9]*,\"node\":0,\"allowed\":\"0\",\"ips\":[0-9]+,\"remote_ratio\":[0-9.]+,\"source\":\"(estimate|faults)\"" <<<"$j" ||
				return 1
		done
	done
}
wait_for 20 sampled || {
	fail "daemon: not every vCPU of the busy guests has figures"
	"$VNUMAD" status -c "$TMP/vnumad.conf"
}
"$VNUMAD" status -c "$TMP/vnumad.conf" >"$TMP/status"
grep -q 'cannot be measured' "$TMP/status" && fail "status: a guest said to be unmeasurable"

# libvirtd dies and comes back; the guests run on all along
lv_kill
wait_for 10 log_has "connection to $URI lost" || fail "daemon: no word of the lost connection"
alive || fail "daemon died with libvirtd"
lv_start || fail "libvirtd does not restart"
wait_for 30 log_has "reconnected to $URI after .*; 2 guests running" || fail "daemon: no reconnect"
alive || fail "daemon died reconnecting"
log_has "guest ${BUSY[0]} (stopped|is gone)" && fail "daemon dropped a guest over a libvirtd restart"
[ "$(grep -c "guest ${BUSY[0]}: 2 vCPUs" "$TMP/daemon.log")" -eq 1 ] ||
	fail "daemon took the same guest for a new one after the reconnect"

# the guests go, one in the middle of a tick: out of the inventory, files closed
for g in "${BUSY[@]}"; do
	QPID=$(cat "/run/libvirt/qemu/$g.pid")
	$V destroy "$g" >/dev/null || fail "virsh destroy $g"
	wait_for 10 log_has "guest $g (stopped|is gone)" || fail "daemon: destroyed $g still listed"
	ls -l /proc/"$DAEMON_PID"/fd 2>/dev/null | grep -q "/proc/$QPID/" &&
		fail "daemon keeps files of the dead $g open"
	sleep 0.15
done
sleep 0.7
alive || fail "daemon died with the guests"
fds1=$(nfds)
[ "$fds1" -eq "$fds0" ] || {
	fail "daemon has $fds1 descriptors, $fds0 before the guests"
	ls -l /proc/"$DAEMON_PID"/fd | sed 's/^/    /'
}
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
[ $rc -eq 0 ] || fail "daemon exit $rc on SIGTERM"
log_has "stopped after [0-9]+ ticks" || fail "daemon: no clean stop"
log_has "Sanitizer|runtime error" && fail "sanitizer report"

# --- 3. --once ---------------------------------------------------------------
$V start "${BUSY[0]}" >/dev/null || fail "virsh start ${BUSY[0]} again"
expect_exit 0 "--once against libvirtd" -- timeout 60 "$VNUMAD" -c "$TMP/vnumad.conf" \
	--dry-run --once
expect_output "guest ${BUSY[0]}: 2 vCPUs" "--once: the guest"
# (its figures may come on tick 1, with no CPU time yet: every vCPU's are checked above)
grep -Eq '^tick [12] ' "$TMP/out" || fail "--once: no decision round"

[ "$nfail" -eq 0 ] || grep -v '^tick\|^vnumad: tick' "$TMP/daemon.log" | sed 's/^/    daemon: /' | tail -30
done_testing
