#!/bin/bash
# The command line: every bad input gets a clear message and exit 2 (usage)
# or 1 (configuration); the informative options exit 0.
. "$(dirname "$0")/lib.sh"

expect_exit 0 "--help" -- "$VNUMAD" --help
expect_output '^usage: vnumad' "--help prints usage"
expect_exit 0 "--version" -- "$VNUMAD" --version
expect_output '^vnumad [0-9]+\.[0-9]+\.[0-9]+ \(policy ABI 1\)$' "--version format"
expect_exit 2 "unknown option" -- "$VNUMAD" --frobnicate
expect_output "Try 'vnumad --help'" "unknown option hint"
expect_exit 2 "stray argument" -- "$VNUMAD" stray
expect_output "unexpected argument 'stray'" "stray argument named"
expect_exit 2 "--ticks 0" -- "$VNUMAD" --ticks 0
expect_output "--ticks '0': expected a positive integer" "--ticks message"
expect_exit 2 "--ticks x" -- "$VNUMAD" --ticks x
expect_exit 2 "--interval bad unit" -- "$VNUMAD" --interval 3parsecs
expect_output "--interval '3parsecs'" "--interval message"
expect_exit 2 "--interval too short" -- "$VNUMAD" --interval 1ms
expect_output "out of range" "--interval range"
expect_exit 2 "--backend bad" -- "$VNUMAD" --backend vmware
expect_output "expected libvirt, proc or sim" "--backend message"
expect_exit 2 "--scenario with libvirt" -- "$VNUMAD" --backend libvirt --scenario sim/scenarios/demo.ini
expect_output "needs --backend sim" "--scenario conflict"
expect_exit 1 "missing named config" -- "$VNUMAD" -n -c "$TMP/nope.conf"
expect_output "nope.conf: No such file or directory" "missing config named"
# an endless file: refused past 1 MiB, with the limit said (it grew to 1 GB)
expect_exit 1 "-c /dev/zero" -- timeout 10 "$VNUMAD" -n -c /dev/zero
expect_output '^/dev/zero: larger than 1024 KiB, the most a file of settings may be$' \
	"-c /dev/zero says why"
expect_exit 1 "-c a directory" -- "$VNUMAD" -n -c "$TMP"
expect_output "^$TMP: Is a directory$" "-c a directory says so"
expect_exit 0 "example config checks" -- "$VNUMAD" -n -c etc/vnumad.conf
expect_output '^configuration OK$' "example config OK"
expect_exit 1 "unknown policy" -- "$VNUMAD" -n -c etc/vnumad.conf --policy nosuch
expect_output "unknown policy 'nosuch'" "unknown policy named"
expect_exit 0 "--help-policy locality" -- "$VNUMAD" --help-policy locality
expect_output "remote_threshold +percentage, default 30%" "locality options listed"
expect_exit 1 "--help-policy nosuch" -- "$VNUMAD" --help-policy nosuch
expect_exit 1 "missing scenario" -- "$VNUMAD" -c etc/vnumad.conf --scenario "$TMP/none.ini" --dry-run --once
expect_output "none.ini" "missing scenario named"

# --once: the first tick primes the counters, the second decides, then exit
expect_exit 0 "--once" -- "$VNUMAD" -c etc/vnumad.conf --backend sim --dry-run --once
expect_output '^tick 1 .*counters primed' "--once primes the counters first"
[ "$(grep -c '^tick ' "$TMP/out")" -eq 2 ] || fail "--once ran other than two ticks"
expect_output 'recommend +web1: vCPUs 0-3 node 1 -> node 0, .*expected \+[0-9]+% for the guest' \
	"--once recommends on the demo, a line per guest"

# output that cannot be written is a failure, said so (--record to a full
# device said "recording stopped" and exited 0)
expect_exit 1 "--record to a full device" -- \
	"$VNUMAD" -c etc/vnumad.conf --backend sim --dry-run --ticks 3 --record /dev/full
expect_output 'trace is incomplete: recording stopped during the run' "--record /dev/full says why"
expect_exit 1 "recommendations to a full device" -- \
	sh -c '"$0" -c etc/vnumad.conf --backend sim --dry-run --ticks 3 >/dev/full' "$VNUMAD"
expect_output 'standard output: (No space left on device|some of it could not be written)' \
	"stdout /dev/full says why"
expect_exit 0 "--record of a whole run" -- \
	"$VNUMAD" -c etc/vnumad.conf --backend sim --dry-run --ticks 3 --record "$TMP/t.trace"
[ -s "$TMP/t.trace" ] || fail "--record wrote no trace"

# -n and the daemon agree on the counter source this host can give
printf '[sampling]\nsource = pmu\n' >"$TMP/pmu.conf"
"$VNUMAD" -c "$TMP/pmu.conf" --backend proc --dry-run --once >"$TMP/daemon" 2>&1
d=$?
"$VNUMAD" -n -c "$TMP/pmu.conf" --backend proc >"$TMP/check" 2>&1
n=$?
[ $d = $n ] || fail "source = pmu: the daemon exits $d here, vnumad -n $n"
if [ $n = 1 ]; then
	grep -q "pmu.conf:2: \[sampling\] source = pmu, but the PMU cannot be used" "$TMP/check" ||
		fail "-n does not say why source = pmu is refused: $(head -1 "$TMP/check")"
fi

# a NOTIFY_SOCKET that is no socket path is said once, not at every tick
NOTIFY_SOCKET=bogus "$VNUMAD" -c etc/vnumad.conf --backend sim --dry-run --ticks 5 \
	>/dev/null 2>"$TMP/notify"
n=$(grep -c "NOTIFY_SOCKET 'bogus' is not a socket path" "$TMP/notify")
[ "$n" = 1 ] || fail "a bad NOTIFY_SOCKET was said $n times in 5 ticks, want once"

# a scenario without --ticks runs as long as it says (phases: duration = 10min)
sed "s|^control = .*|control = $TMP/control.sock|" etc/vnumad.conf >"$TMP/own.conf"
expect_exit 0 "scenario's duration" -- timeout 60 "$VNUMAD" -c "$TMP/own.conf" \
	--scenario sim/scenarios/phases.ini --dry-run
[ "$(grep -c '^tick ' "$TMP/out")" -eq 300 ] || fail "10 min at 2 s ran other than 300 ticks"
expect_output '^tick 300 \(10m00s\):' "the last tick is the scenario's end"
expect_output 'the scenario lasts 10m00s: 300 ticks' "the run says how long it lasts"
expect_exit 0 "--ticks beats the duration" -- "$VNUMAD" -c "$TMP/own.conf" \
	--scenario sim/scenarios/phases.ini --dry-run --ticks 3
[ "$(grep -c '^tick ' "$TMP/out")" -eq 3 ] || fail "--ticks 3 ran other than 3 ticks"

# the proc backend on this host: one decision round, even with no guest
expect_exit 0 "backend proc --once" -- "$VNUMAD" -c etc/vnumad.conf --backend proc --dry-run --once
expect_output '^tick [12] \([0-9.]+m?s\): [0-9]+ guests' "proc backend decided once"

done_testing
