#!/bin/bash
# Signals on a running daemon (simulated host, paced in real time):
# SIGUSR1 dumps the state, SIGHUP with a bad file keeps the running
# configuration, SIGHUP with a good one applies it, SIGTERM stops cleanly.
. "$(dirname "$0")/lib.sh"

conf=$TMP/vnumad.conf
sed "s|^control = .*|control = $TMP/control.sock|" etc/vnumad.conf >"$conf"
"$VNUMAD" -c "$conf" --backend sim --pace --interval 100ms --dry-run \
	>"$TMP/stdout" 2>"$TMP/stderr" &
pid=$!

# waits until the file matches, up to 5 s
wait_for() {
	for _ in $(seq 50); do
		grep -Eq -- "$1" "$2" && return 0
		sleep 0.1
	done
	fail "timed out waiting for /$1/ in $(basename "$2")"
	sed 's/^/    /' "$2" | tail -5
	return 1
}

wait_for '^tick 3 ' "$TMP/stdout"

kill -USR1 $pid
wait_for 'state: tick [0-9]+, 6 guests, policy place' "$TMP/stderr"
wait_for 'guest web1: vCPUs on nodes' "$TMP/stderr"

printf '[daemon]\ninterval = soon\ncontrol = %s\n' "$TMP/control.sock" >"$conf"
kill -HUP $pid
wait_for "vnumad.conf:2: \[daemon\] interval: 'soon'" "$TMP/stderr"
wait_for 'reload rejected \(1 error\); the running configuration stays' "$TMP/stderr"
kill -0 $pid 2>/dev/null || fail "daemon died on a bad reload"

# the file's interval loses to --interval from the command line
printf '[daemon]\ninterval = 200ms\ncontrol = %s\n[policy]\nname = locality\n' \
	"$TMP/control.sock" >"$conf"
kill -HUP $pid
wait_for 'configuration reloaded: policy locality, interval 0.1s, dry run' "$TMP/stderr"

kill -TERM $pid
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
	fail "still running 5 s after SIGTERM"
	kill -KILL $pid
fi
wait $pid
rc=$?
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
grep -q 'Terminated: stopping' "$TMP/stderr" || fail "no stop message"
grep -q 'stopped after [0-9]* ticks' "$TMP/stderr" || fail "no summary at exit"
done_testing
