#!/bin/bash
# The proc backend against plain QEMU processes (no libvirt), under KVM
# where /dev/kvm works and TCG elsewhere.
# 1. test_proc's real-QEMU cases (VNUMAD_QEMU_PID) on "plainq", 2 vCPUs kept
#    busy by tests/spinguest.elf: found by its executable and its vCPU
#    thread names, a vCPU move seen in the thread's Cpus_allowed_list, a
#    memory move of the QEMU process within the node, QEMU killed mid-tick
#    (gone, no descriptor left open).
# 2. The daemon (dry run), alone in PID and network namespaces with two
#    QEMUs: "busyq" has every vCPU sampled (a node, a source, a remote
#    share), "blindq" (no debug-threads=on: unnamed threads) is listed as
#    unmeasured with the reason.
# Needs root (the namespaces) and QEMU; skips otherwise.
. "$(dirname "$0")/lib.sh"

TP=$B/tests/test_proc
SPIN=$B/tests/spinguest.elf
[ "$(id -u)" -eq 0 ] || skip "not root: the daemon part runs in its own PID namespace"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (Debian: qemu-system-x86)"
command -v unshare >/dev/null || skip "no unshare (util-linux)"
[ -x "$TP" ] || skip "$TP is not built"
[ -x "$SPIN" ] || skip "$SPIN is not built (an x86-64 host builds it)"
if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	ACCEL=kvm
else
	ACCEL=tcg,thread=multi
fi
qpids=()
trap 'for p in "${qpids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# qemu NAME-OPTION...: a 2-vCPU QEMU whose every vCPU is busy
qemu() {
	nice -n 10 qemu-system-x86_64 -accel "$ACCEL" -name "$1" -smp 2 -m 64 -kernel "$SPIN" \
		-display none -nodefaults -no-user-config -monitor none -serial none </dev/null &
	qpids+=($!)
}

# --- 1. the backend, driven by test_proc --------------------------------------
# named after this shell: another run's plainq may be there too
qemu guest=plainq-$$,debug-threads=on
QP=${qpids[0]}
for _ in $(seq 50); do
	[ "$(grep -l '^CPU 1/' /proc/"$QP"/task/*/comm 2>/dev/null | wc -l)" -eq 1 ] && break
	sleep 0.1
done
CMOCKA_MESSAGE_OUTPUT=TAP VNUMAD_QEMU_PID=$QP VNUMAD_QEMU_NAME=plainq-$$ timeout 120 "$TP" >"$TMP/tp.out" 2>&1
rc=$?
grep -E '^(ok|not ok|# )' "$TMP/tp.out"
[ $rc -eq 0 ] || { fail "test_proc (qemu cases) exit $rc"; sed 's/^/    /' "$TMP/tp.out" | tail -20; }
[ "$(grep -c '^ok ' "$TMP/tp.out")" -eq 4 ] || fail "test_proc: not all 4 qemu cases passed"
# the kill case killed it: reap it (and a QEMU the failed case left
# running is killed here, not waited for)
# (bash may have reaped it already, keeping its status for wait)
dead() { [ ! -e "/proc/$QP" ] || [ "$(awk '{ print $3 }' "/proc/$QP/stat" 2>/dev/null)" = Z ]; }
for _ in $(seq 300); do
	dead && break
	sleep 0.1
done
if dead; then
	wait "$QP" 2>/dev/null
	rc=$?
	[ $rc -eq 137 ] || fail "QEMU should have been killed by the kill case (exit $rc)"
else
	fail "QEMU should have been killed by the kill case (still running)"
	kill -9 "$QP" 2>/dev/null
	wait "$QP" 2>/dev/null
fi

# --- 2. the daemon, alone with two QEMUs ---------------------------------------
cat >"$TMP/vnumad.conf" <<EOF
[daemon]
interval = 300ms
state_dir = $TMP/state
control = $TMP/control.sock
[backend]
type = proc
numa_balancing = leave
EOF
mkdir -p "$TMP/state"
cat >"$TMP/inner.sh" <<EOF
nfail=0
fail() { echo "FAIL: \$*"; nfail=\$((nfail + 1)); }
for n in guest=busyq,debug-threads=on blindq; do
	# busyq says its UUID as libvirt's QEMUs do; blindq none
	u=; [ \$n = blindq ] || u="-uuid 6F3C1A52-0B1D-4C8E-9E2A-1D2B3C4D5E6F"
	nice -n 10 qemu-system-x86_64 -accel "$ACCEL" -name \$n \$u -smp 2 -m 64 -kernel "$SPIN" \\
		-display none -nodefaults -no-user-config -monitor none -serial none </dev/null &
done
# a QEMU that has just started may not have named its threads: 3 s, then not
sleep 3.5
"$VNUMAD" -c "$TMP/vnumad.conf" -f -v --dry-run >"$TMP/daemon.out" 2>"$TMP/daemon.log" &
d=\$!
sampled() {
	j=\$("$VNUMAD" status -c "$TMP/vnumad.conf" --json 2>/dev/null | tr -d ' \\n')
	for v in 0 1; do
		echo "\$j" | grep -Eq "\"name\":\"busyq\".*\"vcpu\":\$v,\"tid\":[1-9][0-9]*,\"node\":0,\"allowed\":\"0\",\"ips\":[0-9]+,\"remote_ratio\":[0-9.]+,\"source\":\"(estimate|faults)\"" || return 1
	done
}
for _ in \$(seq 100); do sampled && break; sleep 0.2; done
sampled || fail "daemon: not every vCPU of busyq has figures"
echo "\$j" | grep -q '"name":"busyq","uuid":"6f3c1a52-0b1d-4c8e-9e2a-1d2b3c4d5e6f"' ||
	fail "status: busyq's uuid from its -uuid"
echo "\$j" | grep -q '"name":"blindq","uuid":null' || fail "status: blindq has a uuid"
# its age is its QEMU's, which ran 3.5 s before the daemon started
age=\$(echo "\$j" | sed -n 's/.*"name":"busyq","uuid":"[^"]*","pid":[0-9]*,"age":\([0-9.e+]*\).*/\1/p')
awk -v a="\$age" 'BEGIN { exit !(a >= 3.5) }' ||
	fail "status: busyq's age is '\$age' s, not the 3.5 s and more its QEMU has run"
"$VNUMAD" status -c "$TMP/vnumad.conf" >"$TMP/status" 2>&1
grep -Eq '^busyq +2 +0,0 .* [0-9.]+s( |\$)' "$TMP/status" || fail "status: busyq on node 0, up some seconds"
grep -Eq '^blindq +2 +\?,\? .*unmeasured\$' "$TMP/status" || fail "status: blindq unmeasured"
grep -q '^  blindq: cannot be measured: vCPU threads not found: QEMU without debug-threads?' "$TMP/status" ||
	fail "status: blindq's reason"
grep -q 'busyq: cannot be measured' "$TMP/status" && fail "status: busyq said to be unmeasurable"
grep -q 'guest busyq: QEMU process [0-9]*, 2 vCPUs, each its own thread' "$TMP/daemon.log" ||
	fail "daemon: busyq's threads"
kill \$d
wait \$d || fail "daemon exit \$? on SIGTERM"
[ \$nfail -eq 0 ] || { cat "$TMP/status"; grep -v tick "$TMP/daemon.log" | tail -20; }
exit \$((nfail > 0))
EOF
unshare --pid --fork --mount-proc bash "$TMP/inner.sh" || nfail=$((nfail + 1))
done_testing
