#!/bin/bash
# The libvirt backend against a real libvirtd running a real QEMU/KVM guest.
#
# Starts its own virtlogd and libvirtd (no systemd), defines a diskless guest
# with 2 vCPUs (it boots SeaBIOS and stays there, busy), then
#   1. runs the real-libvirtd cases of test_libvirt (VNUMAD_KVM_DOMAIN):
#      discovery, the QEMU pid and its "CPU n/KVM" threads, a live pin that
#      changes the thread's Cpus_allowed_list and that `virsh vcpupin`
#      reports, libvirtd killed and restarted (reconnect, resync, same
#      guest), the guest destroyed while ticks run (no crash, no descriptor
#      left open);
#   2. runs the vnumad daemon: it discovers the guest and its threads,
#      survives libvirtd being killed and restarted (reconnects, resyncs,
#      keeps the guest), drops the guest when it is destroyed with its
#      descriptors back to where they were, and stops cleanly on SIGTERM.
# Skips (exit 77) when not root, without /dev/kvm, without the packages, or
# when a libvirtd runs already (this test kills and restarts its own).
. "$(dirname "$0")/lib.sh"

TL=$B/tests/test_libvirt
NAME=vnumad-kvm-$$
URI=qemu:///system
V="virsh -q -c $URI"

[ "$(id -u)" -eq 0 ] || skip "not root: the test starts libvirtd"
[ -c /dev/kvm ] || skip "no /dev/kvm"
for b in libvirtd virtlogd virsh qemu-system-x86_64; do
	command -v "$b" >/dev/null ||
		skip "no $b (Debian: libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86)"
done
[ -x "$TL" ] || skip "$TL is not built"
[ -x "$VNUMAD" ] || skip "$VNUMAD is not built"
if $V version >/dev/null 2>&1 || pgrep -x -r R,S,D libvirtd >/dev/null ||
	pgrep -x -r R,S,D virtqemud >/dev/null; then
	skip "a libvirtd runs already; this test starts, kills and restarts its own"
fi

kvm_mode=$(stat -c %a /dev/kvm)
made_user=
LIBVIRTD_PID= VIRTLOGD_PID= DAEMON_PID=

cleanup() {
	[ -n "$DAEMON_PID" ] && kill -9 "$DAEMON_PID" 2>/dev/null
	$V destroy "$NAME" >/dev/null 2>&1
	$V undefine "$NAME" >/dev/null 2>&1
	[ -n "$LIBVIRTD_PID" ] && kill "$LIBVIRTD_PID" 2>/dev/null
	[ -f /run/libvirtd.pid ] && kill "$(cat /run/libvirtd.pid)" 2>/dev/null
	[ -n "$VIRTLOGD_PID" ] && kill "$VIRTLOGD_PID" 2>/dev/null
	chmod "$kvm_mode" /dev/kvm
	if [ -n "$made_user" ]; then
		userdel libvirt-qemu 2>/dev/null
		groupdel libvirt-qemu 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# QEMU runs as libvirt-qemu (libvirt-daemon-system creates it, with systemd
# and iptables in tow); make it when missing, remove it afterwards
if ! getent passwd libvirt-qemu >/dev/null; then
	getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu || skip "cannot add group libvirt-qemu"
	useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu ||
		skip "cannot add user libvirt-qemu"
	made_user=1
fi
chmod 0666 /dev/kvm
mkdir -p /var/log/libvirt

# waits up to $1 seconds for a command to succeed
wait_for() {
	local t=$1
	shift
	for _ in $(seq $((t * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

start_libvirtd() {
	libvirtd -d || return 1
	wait_for 15 $V version || return 1
	LIBVIRTD_PID=$(cat /run/libvirtd.pid)
}

kill_libvirtd() {
	kill -9 "$LIBVIRTD_PID"
	wait_for 5 sh -c "! kill -0 $LIBVIRTD_PID"
}

virtlogd -d || skip "virtlogd does not start"
VIRTLOGD_PID=$(cat /run/virtlogd.pid)
start_libvirtd || skip "libvirtd does not start: $(tail -n 3 /var/log/libvirt/libvirtd.log 2>/dev/null | tr '\n' ' ')"

cat >"$TMP/guest.xml" <<EOF
<domain type='kvm'>
  <name>$NAME</name>
  <memory unit='MiB'>64</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
$V define "$TMP/guest.xml" >/dev/null || { fail "virsh define"; done_testing; }
$V start "$NAME" >"$TMP/out" 2>&1 ||
	skip "the KVM guest does not start: $(tr '\n' ' ' <"$TMP/out")"

# --- 1. the backend, driven by test_libvirt ----------------------------------
cat >"$TMP/restart.sh" <<EOF
#!/bin/sh
kill -9 \$(cat /run/libvirtd.pid)
while kill -0 \$(cat /run/libvirtd.pid) 2>/dev/null; do sleep 0.1; done
libvirtd -d
i=0
while [ \$i -lt 150 ] && ! $V version >/dev/null 2>&1; do sleep 0.1; i=\$((i + 1)); done
EOF
chmod +x "$TMP/restart.sh"
CMOCKA_MESSAGE_OUTPUT=TAP VNUMAD_KVM_DOMAIN=$NAME VNUMAD_KVM_RESTART=$TMP/restart.sh \
	timeout 120 "$TL" >"$TMP/tl.out" 2>&1
rc=$?
LIBVIRTD_PID=$(cat /run/libvirtd.pid)
grep -E '^(ok|not ok)' "$TMP/tl.out"
[ $rc -eq 0 ] || { fail "test_libvirt (kvm cases) exit $rc"; sed 's/^/    /' "$TMP/tl.out" | tail -20; }
[ "$(grep -c '^ok ' "$TMP/tl.out")" -eq 4 ] || fail "test_libvirt: not all 4 kvm cases passed"
$V domstate "$NAME" 2>/dev/null | grep -q 'shut off' || fail "the guest should be down after the destroy case"

# --- 2. the daemon -----------------------------------------------------------
cat >"$TMP/vnumad.conf" <<EOF
[daemon]
interval = 500ms
state_dir = $TMP/state
[backend]
type = libvirt
uri = $URI
numa_balancing = leave
EOF
mkdir -p "$TMP/state"
"$VNUMAD" -c "$TMP/vnumad.conf" -f -v >"$TMP/daemon.log" 2>&1 &
DAEMON_PID=$!
log_has() { grep -Eq -- "$1" "$TMP/daemon.log"; }
alive() { kill -0 "$DAEMON_PID" 2>/dev/null; }
nfds() { find /proc/"$DAEMON_PID"/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

wait_for 10 log_has '^tick 2 ' || fail "daemon: no tick"
fds0=$(nfds)
$V start "$NAME" >/dev/null || fail "virsh start"
QPID=$(cat "/run/libvirt/qemu/$NAME.pid")
wait_for 10 log_has "guest $NAME: 2 vCPUs" || fail "daemon: guest not discovered"
want=$(for t in /proc/"$QPID"/task/*; do
	c=$(cat "$t/comm")
	case $c in "CPU "*/KVM) echo "${c#CPU } ${t##*/}" ;; esac
done | sort -n | awk '{ print $2 }' | paste -sd,)
log_has "guest $NAME: uuid .*, pid $QPID, vCPU threads $want\$" ||
	fail "daemon: vCPU threads not found (want $want)"

# libvirtd dies and comes back; the guest runs on all along
kill_libvirtd
wait_for 10 log_has "connection to $URI lost" || fail "daemon: no word of the lost connection"
alive || fail "daemon died with libvirtd"
start_libvirtd || fail "libvirtd does not restart"
wait_for 20 log_has "reconnected to $URI after .*; 1 guest running" || fail "daemon: no reconnect"
alive || fail "daemon died reconnecting"
log_has "guest $NAME (stopped|is gone)" && fail "daemon dropped the guest over a libvirtd restart"
[ "$(grep -c "guest $NAME: 2 vCPUs" "$TMP/daemon.log")" -eq 1 ] ||
	fail "daemon took the same guest for a new one after the reconnect"

# the guest goes: out of the inventory, its descriptors closed
$V destroy "$NAME" >/dev/null || fail "virsh destroy"
wait_for 10 log_has "guest $NAME (stopped|is gone)" || fail "daemon: destroyed guest still listed"
sleep 1.2
alive || fail "daemon died with the guest"
ls -l /proc/"$DAEMON_PID"/fd 2>/dev/null | grep -q "/proc/$QPID/" &&
	fail "daemon keeps files of the dead guest open"
fds1=$(nfds)
[ "$fds1" -eq "$fds0" ] || {
	fail "daemon has $fds1 descriptors, $fds0 before the guest"
	ls -l /proc/"$DAEMON_PID"/fd | sed 's/^/    /'
}

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
[ $rc -eq 0 ] || fail "daemon exit $rc on SIGTERM"
log_has "stopped after [0-9]+ ticks" || fail "daemon: no clean stop"
if log_has "Sanitizer|runtime error"; then
	fail "sanitizer report"
fi
[ "$nfail" -eq 0 ] || sed 's/^/    daemon: /' "$TMP/daemon.log" | grep -v '^    daemon: tick' | tail -30
done_testing
