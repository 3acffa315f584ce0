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

# a storm of SIGHUP does not stop the ticks: a reload leaves the next tick
# where it was (each one re-armed the timer a whole interval ahead: at 20 a
# second and 300 ms a tick, no tick ran)
printf '[daemon]\ninterval = 300ms\ncontrol = %s\n' "$TMP/storm.sock" >"$TMP/storm.conf"
# (the proc backend: real time, where a reload may change the interval)
"$VNUMAD" -c "$TMP/storm.conf" --backend proc --dry-run \
	>"$TMP/storm.out" 2>"$TMP/storm.err" &
storm=$!
wait_for '^tick 2 ' "$TMP/storm.out"
t0=$(grep -c '^tick ' "$TMP/storm.out")
for _ in $(seq 60); do
	kill -HUP $storm
	sleep 0.05
done
t1=$(grep -c '^tick ' "$TMP/storm.out")
[ $((t1 - t0)) -ge 4 ] || fail "$((t1 - t0)) ticks during 3 s of SIGHUP at 20 a second, want 4 or more"
grep -c 'configuration reloaded' "$TMP/storm.err" | grep -qv '^0$' || fail "the storm's reloads were not done"
# a new interval counts from the last tick: a long one stops them, and a
# short one again brings the next at once (it is overdue)
printf '[daemon]\ninterval = 1h\ncontrol = %s\n' "$TMP/storm.sock" >"$TMP/storm.conf"
kill -HUP $storm
wait_for 'configuration reloaded: policy place, interval 3600s' "$TMP/storm.err"
t2=$(grep -c '^tick ' "$TMP/storm.out")
sleep 1
t3=$(grep -c '^tick ' "$TMP/storm.out")
[ "$t3" -le $((t2 + 1)) ] || fail "$((t3 - t2)) ticks in a second with a 1 h interval"
printf '[daemon]\ninterval = 500ms\ncontrol = %s\n' "$TMP/storm.sock" >"$TMP/storm.conf"
kill -HUP $storm
wait_for "^tick $((t3 + 1)) " "$TMP/storm.out"
# a reload of 100,000 keys is refused at once and the ticks go on (the scan
# and iniparser looked each key up linearly: 50 s with the loop blocked)
n=$(grep -c '^tick ' "$TMP/storm.out")
{ printf '[daemon]\n'; seq 100000 | awk '{ printf "k%x=1\n", $1 }'; } >"$TMP/storm.conf"
kill -HUP $storm
wait_for 'more than 16384 keys and sections, the most a file may have' "$TMP/storm.err"
wait_for 'reload rejected \(1 error\)' "$TMP/storm.err"
wait_for "^tick $((n + 2)) " "$TMP/storm.out"
kill -TERM $storm
wait $storm || fail "the storm's daemon exit $?"

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
