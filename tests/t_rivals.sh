#!/bin/bash
# Other balancers of the same threads and pages are named at start: a
# running numad, and another vnumad daemon applying moves (not one in a dry
# run or on the simulated host, nor `vnumad status`).
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "not root: the proc backend applies moves as root only"
mkdir -p "$TMP/state"
conf() {
	sed -e "s|^control = .*|control = $TMP/$1.sock|" -e "s|^state_dir = .*|state_dir = $TMP/state|" \
		-e 's|^type = libvirt|type = proc|' etc/vnumad.conf >"$TMP/$1.conf"
}
conf a
conf b
run() { expect_exit 0 "$1" -- "$VNUMAD" -f -c "$TMP/a.conf" --ticks 1 --interval 100ms; }

# a process named numad (a copy of sleep)
cp "$(command -v sleep)" "$TMP/numad"
"$TMP/numad" 30 &
npid=$!
run "with numad running"
expect_output "warning: numad \(pid $npid\) is running: it moves the same processes" "numad named"
kill $npid
wait $npid 2>/dev/null

# a dry-run daemon is no rival ...
"$VNUMAD" -f -c "$TMP/b.conf" --dry-run --interval 100ms >/dev/null 2>&1 &
vpid=$!
sleep 0.5
run "beside a dry run"
grep -q "another vnumad (pid $vpid)" "$TMP/out" && fail "a dry-run vnumad taken for a rival"
kill $vpid
wait $vpid 2>/dev/null

# ... a daemon applying moves is
"$VNUMAD" -f -c "$TMP/b.conf" --interval 100ms >/dev/null 2>&1 &
vpid=$!
sleep 0.5
run "beside another daemon"
expect_output "warning: another vnumad \(pid $vpid\) is running: the two will undo each other's moves" \
	"the other daemon named"
grep -q "warning: numad (pid $npid)" "$TMP/out" && fail "numad named after it stopped"
kill $vpid
wait $vpid 2>/dev/null
done_testing
