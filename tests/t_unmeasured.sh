#!/bin/bash
# A guest that cannot be measured says so, and stops nothing. The proc
# backend, alone in its own PID and network namespaces so that no other
# process of this host is a guest with figures, sees:
#   blind  a QEMU whose vCPU threads bear no names (tests/fakeguest run
#          as qemu-system-x86_64 with -names none: QEMU without
#          debug-threads=on)
#   seen   a QEMU under TCG ("CPU n/TCG" threads), added in part 2
# 1. With blind alone, vnumad --dry-run --once ends after its decision
#    round (it used to run until killed) and logs the reason once.
# 2. A daemon with both: vnumad status shows blind's state and reason and
#    seen's figures; the metrics have vnumad_guest_measured 1 and 0;
#    SIGUSR1 says "remote unknown" for blind, never -100%.
# Needs root for the namespaces; skips otherwise.
. "$(dirname "$0")/lib.sh"

FG=$B/tests/fakeguest
[ "$(id -u)" -eq 0 ] || skip "not root: the test runs in its own PID and network namespaces"
command -v unshare >/dev/null || skip "no unshare (util-linux)"
command -v ip >/dev/null || skip "no ip (iproute2)"
[ -x "$FG" ] || skip "$FG is not built"
unshare --pid --fork --mount-proc --net true 2>/dev/null ||
	skip "cannot make PID and network namespaces here"

cat >"$TMP/vnumad.conf" <<EOF
[daemon]
interval = 300ms
state_dir = $TMP/state
control = $TMP/control.sock
metrics = 127.0.0.1:9464
[backend]
type = proc
numa_balancing = leave
EOF
mkdir -p "$TMP/state"
cp "$FG" "$TMP/qemu-system-x86_64"

# Everything below runs in the namespaces, and reports with lines of
# "FAIL: ..." on stdout; its processes die with it.
cat >"$TMP/inner.sh" <<'EOF'
TMP=$1
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
ip link set lo up
conf=$TMP/vnumad.conf
"$TMP/qemu-system-x86_64" -name guest=blind -smp 2 -m 8 -names none >/dev/null &
# a QEMU that has just started may still name its threads: 3 s, then it has none
sleep 3.5

# 1. --once with nothing to measure
timeout 20 "$VNUMAD" -c "$conf" --dry-run --once >"$TMP/once.out" 2>"$TMP/once.err"
rc=$?
[ $rc -eq 0 ] || fail "--once with an unmeasurable guest: exit $rc (124: it never ended)"
grep -q '^tick 2 ' "$TMP/once.out" || fail "--once: no decision round at tick 2"
n=$(grep -c 'guest blind: cannot be measured: vCPU threads not found: QEMU without debug-threads?' "$TMP/once.err")
[ "$n" -eq 1 ] || fail "--once: $n lines give the reason, want 1"

# 2. a daemon, with a measurable guest beside it
"$TMP/qemu-system-x86_64" -name guest=seen -smp 1 -m 8 -names tcg -busy >/dev/null &
"$VNUMAD" -c "$conf" --dry-run -f >"$TMP/daemon.out" 2>"$TMP/daemon.err" &
d=$!
for _ in $(seq 100); do
	"$VNUMAD" status -c "$conf" 2>/dev/null | grep -q '^blind ' &&
		[ "$("$VNUMAD" status -c "$conf" --json | grep -c '"source": "none"')" -le 2 ] && break
	sleep 0.1
done
sleep 1
"$VNUMAD" status -c "$conf" >"$TMP/status" 2>&1 || fail "vnumad status: exit $?"
grep -Eq '^blind +2 +\?,\? .* \? .*unmeasured$' "$TMP/status" ||
	fail "status: blind not shown as unmeasured"
grep -q '^  blind: cannot be measured: vCPU threads not found' "$TMP/status" ||
	fail "status: no reason for blind"
grep -Eq '^seen +1 +0 ' "$TMP/status" || fail "status: seen not on node 0"
grep -q '^  seen: cannot be measured' "$TMP/status" && fail "status: seen said to be unmeasured"
"$VNUMAD" status -c "$conf" --json >"$TMP/status.json"
tr -d ' \n' <"$TMP/status.json" | grep -q '"name":"blind","uuid":null,"pid":[0-9]*,"age":[0-9.]*,"flags":\["unmeasured"\],"unmeasured":"vCPUthreadsnotfound' ||
	fail "status --json: blind's flags and reason"
tr -d ' \n' <"$TMP/status.json" | grep -Eq '"name":"seen","uuid":null,"pid":[0-9]*,"age":[0-9.]+,"flags":\[\],"unmeasured":null' ||
	fail "status --json: seen should be measured"
tr -d ' \n' <"$TMP/status.json" | grep -Eq '"vcpu":0,"tid":[1-9][0-9]*,"node":0,"allowed":"0","ips":[0-9]+,"remote_ratio":[0-9.]+,"source":"(estimate|faults)"' ||
	fail "status --json: seen's vCPU has no figures"
exec 3<>/dev/tcp/127.0.0.1/9464 && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3 >"$TMP/metrics"
exec 3<&-
grep -q '^vnumad_guest_measured{guest="blind"} 0$' "$TMP/metrics" || fail "metrics: blind measured?"
grep -q '^vnumad_guest_measured{guest="seen"} 1$' "$TMP/metrics" || fail "metrics: seen not measured?"
grep -q '^vnumad_guest_sample_errors_total{guest="blind"} 0$' "$TMP/metrics" ||
	fail "metrics: an unmeasurable guest counts sample errors"
kill -USR1 $d
for _ in $(seq 50); do grep -q 'guest blind: vCPUs on nodes' "$TMP/daemon.err" && break; sleep 0.1; done
grep -q 'guest blind: vCPUs on nodes \[-1,-1\], remote unknown, 0 instr/s; cannot be measured: vCPU threads not found' "$TMP/daemon.err" ||
	fail "SIGUSR1: blind's line"
grep -q -- '-100%' "$TMP/daemon.err" && fail "SIGUSR1 printed -100%"
n=$(grep -c 'guest blind: cannot be measured' "$TMP/daemon.err")
[ "$n" -eq 1 ] || fail "daemon: $n lines give blind's reason, want 1 (then the SIGUSR1 line)"
kill $d
wait $d || fail "daemon exit $? on SIGTERM"
[ "$nfail" -eq 0 ] || { sed 's/^/    /' "$TMP/daemon.err" | tail -20; cat "$TMP/status"; }
exit $((nfail > 0))
EOF
unshare --pid --fork --mount-proc --net env B="$B" VNUMAD="$VNUMAD" \
	bash "$TMP/inner.sh" "$TMP" || nfail=$((nfail + 1))
done_testing
