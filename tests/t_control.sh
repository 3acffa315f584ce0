#!/bin/bash
# The control socket and its commands against a running daemon on the
# simulated host: status (table and JSON), place (live and from a fresh
# sample), migrate (progress, summary, every refusal), one daemon per
# socket, a stale socket after a crash, and the answer when none runs.
. "$(dirname "$0")/lib.sh"

conf=$TMP/vnumad.conf
sock=$TMP/run/control.sock
sed "s|^control = .*|control = $sock|" etc/vnumad.conf >"$conf"

# --- what the daemon requires of its control path (vnumad.8) --------------

# ctlconf NAME PATH: a configuration whose control socket is PATH
ctlconf() {
	sed "s|^control = .*|control = $2|" etc/vnumad.conf >"$TMP/$1.conf"
}

# too long for sun_path: refused by -n and by the daemon, which overflowed
# its stack copying it
ctlconf long "$TMP/$(printf 'd%.0s' $(seq 120))/control.sock"
expect_exit 1 "-n: a control path too long" -- "$VNUMAD" -n -c "$TMP/long.conf"
expect_output '\[daemon\] control: .*: 1[0-9]{2} characters long; a Unix socket path is at most 107$' \
	"-n says the path is too long"
expect_exit 1 "a daemon with a control path too long" -- \
	timeout 10 "$VNUMAD" -f -c "$TMP/long.conf" --backend sim
expect_output 'a Unix socket path is at most 107' "the daemon says the path is too long"

# a regular file there: refused, and left alone (it was unlinked)
echo keep >"$TMP/precious"
ctlconf file "$TMP/precious"
expect_exit 1 "-n: a regular file at the control path" -- "$VNUMAD" -n -c "$TMP/file.conf"
expect_output "control: .*precious exists and is a regular file, not a socket" \
	"-n says it is not a socket"
expect_exit 1 "a daemon with a regular file at its control path" -- \
	timeout 10 "$VNUMAD" -f -c "$TMP/file.conf" --backend sim
expect_output "exists and is a regular file, not a socket" "the daemon says it is not a socket"
[ "$(cat "$TMP/precious" 2>/dev/null)" = keep ] ||
	fail "the daemon removed the regular file at its control path"

# a directory others can write, where another user's socket squats: the
# daemon refused to start, saying only that "another vnumad" answered
mkdir "$TMP/shared" && chmod 1777 "$TMP/shared"
ctlconf shared "$TMP/shared/control.sock"
expect_exit 1 "-n: a control directory others can write" -- "$VNUMAD" -n -c "$TMP/shared.conf"
expect_output "shared is writable by others \(mode 1777\): another user could put a socket" \
	"-n names the directory and its mode"
if command -v socat >/dev/null && [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 755 "$TMP"	# nobody reaches the shared directory
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		socat UNIX-LISTEN:"$TMP/shared/control.sock",fork /dev/null 2>/dev/null &
	squat=$!
	for _ in $(seq 50); do [ -S "$TMP/shared/control.sock" ] && break; sleep 0.1; done
	expect_exit 1 "a daemon whose control path another user squats" -- \
		timeout 10 "$VNUMAD" -f -c "$TMP/shared.conf" --backend sim
	expect_output "shared is writable by others" "the daemon names the unsafe directory"
	[ -S "$TMP/shared/control.sock" ] || fail "the squatter's socket is missing (test assumption)"
	kill "$squat" 2>/dev/null
	wait "$squat" 2>/dev/null
	chmod 700 "$TMP"
fi
# a directory of another user's on the way
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	mkdir -m 755 "$TMP/theirs" && chown nobody "$TMP/theirs"
	ctlconf theirs "$TMP/theirs/run/control.sock"
	expect_exit 1 "-n: a control directory of another user" -- "$VNUMAD" -n -c "$TMP/theirs.conf"
	expect_output "theirs belongs to user [0-9]+: whoever owns a directory on the way" \
		"-n names the directory's owner"
fi
# the default path and one in a fresh directory pass
expect_exit 0 "-n: a control socket in a directory yet to be made" -- "$VNUMAD" -n -c "$conf"

expect_exit 1 "status without a daemon" -- "$VNUMAD" status -c "$conf"
expect_output "no vnumad daemon is running \(nothing answers on $sock\)" "no-daemon message"
expect_exit 1 "migrate without a daemon" -- "$VNUMAD" migrate web1 --to 0 -c "$conf"
expect_output "start the daemon first" "migrate needs the daemon"
# place works without a daemon, from a fresh sample of the configured host
expect_exit 0 "place from a fresh sample" -- "$VNUMAD" place 4:8GiB -c "$conf" --backend sim
expect_output '^0$' "the demo's node 0 has room for 4 vCPUs"
expect_output 'from a fresh sample: no daemon runs' "place says where its figures came from"
expect_exit 2 "place with a bad shape" -- "$VNUMAD" place 4x8 -c "$conf"

"$VNUMAD" -f -c "$conf" --backend sim --pace --interval 100ms >"$TMP/stdout" 2>"$TMP/stderr" &
pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode $(stat -c %a "$sock"), want 600"
[ "$(stat -c %a "$TMP/run")" = 700 ] || fail "socket directory mode $(stat -c %a "$TMP/run"), want 700"
expect_exit 1 "a second daemon" -- "$VNUMAD" -f -c "$conf" --backend sim
expect_output "another vnumad is running: its control socket $sock answers" "second daemon refused"
sleep 0.5

expect_exit 0 "status" -- "$VNUMAD" status -c "$conf"
expect_output '^vnumad [0-9.]+: backend sim, sampling sim, policy place, tick [0-9]+$' "status header"
expect_output '^legacy +2 +1,1 +0:4.00 GiB +100% .* pinned$' "status shows the pinned guest"
# how long each guest has run: the simulator's since the daemon first saw them
expect_output '^web1 +4 .* [0-9.]+s( |$)' "status shows how long a guest has run"
# each node's bandwidth with its sources: the vCPUs' estimate, and no maximum:
# the demo host, like most real ones, publishes none ([host] bandwidth_info)
expect_output '^0 +16 .* \(estimate\) / - \(none\)$' "node bandwidth and its sources"
expect_output '^1 +16 .* \(estimate\) / ' "bw_used labelled estimate"
expect_exit 1 "status to a full device" -- sh -c '"$0" status -c "$1" >/dev/full' "$VNUMAD" "$conf"
expect_output 'standard output: No space left on device' "status says its output failed"
expect_exit 0 "status --json" -- "$VNUMAD" status -c "$conf" --json
expect_output '"bw_max_source": "none"' "JSON labels bw_max"
expect_output '"name": "web1"' "JSON lists guests"
expect_output '"age": [0-9.]+,' "JSON gives each guest's age"
expect_output '"quarantines": \[' "JSON lists quarantines"

expect_exit 0 "place live" -- "$VNUMAD" place 2:1GiB -c "$conf"
expect_output '^[01]$' "a single node for a small guest"
expect_output 'from the running daemon' "live figures"
expect_exit 1 "place too big" -- "$VNUMAD" place 64:200GiB -c "$conf"
expect_output 'not enough' "too big for the host"

# a user who may not open the socket hears so, and gets no fresh sample
# in its place (EACCES was taken for ECONNREFUSED: "no daemon runs")
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 &&
	setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$VNUMAD"; then
	for c in "place 2:1GiB --backend sim" status; do
		# shellcheck disable=SC2086
		expect_exit 1 "$c as a user who may not open the socket" -- \
			setpriv --reuid=nobody --regid=nogroup --clear-groups \
			"$VNUMAD" $c --socket "$sock"
		expect_output "permission denied on the control socket $sock: only root may" \
			"$c says permission was denied"
	done
else
	echo "note: not root, no user nobody, or $VNUMAD not reachable by nobody: not tried"
fi

expect_exit 1 "migrate a pinned guest" -- "$VNUMAD" migrate legacy --to 0 -c "$conf"
expect_output 'pinned by its user; --force moves it anyway' "pinned refused"
expect_exit 1 "migrate an unknown guest" -- "$VNUMAD" migrate nosuch --to 0 -c "$conf"
expect_output "no guest named 'nosuch'" "unknown guest"
expect_exit 1 "migrate to a missing node" -- "$VNUMAD" migrate web1 --to 7 -c "$conf"
expect_output "node 7 does not exist" "missing node"
expect_exit 2 "migrate without --to" -- "$VNUMAD" migrate web1 -c "$conf"
expect_exit 0 "migrate memory" -- "$VNUMAD" migrate cache --to 0 --memory 512MiB -c "$conf"
expect_output 'memory migrating to node 0' "migrate says what it started"
expect_output '^progress [0-9.]+ [KMG]iB of 512 MiB' "progress lines off a terminal"
expect_output '^progress [0-9.]+ [KMG]iB of 512 MiB, [0-9.]+ [KMG]iB/s, [0-9]+s left$' \
	"progress tells the rate and the time left"
expect_output '^moved 512 MiB of 512 MiB in [0-9.]+s, [0-9.]+ [KMG]iB/s$' "summary, with the time and rate"
expect_exit 0 "migrate memory, JSON Lines" -- "$VNUMAD" migrate db --to 1 --memory 256MiB --json -c "$conf"
expect_output '^\{"ok":true,"message":"[^"]*memory migrating to node 1' "the daemon's first reply"
expect_output '^\{"progress":[0-9]+,"bytes":268435456\}$' "progress objects"
expect_output '^\{"done":true,"moved":268435456,"failed":0,"bytes":268435456,"complete":true\}$' "the final object, to the byte"
n=$(grep -vc '^{' "$TMP/out")
[ "$n" = 0 ] || fail "--json printed $n lines that are not JSON objects"
expect_exit 1 "migrate vCPUs the guest lacks" -- "$VNUMAD" migrate batch --to 0 --vcpus 0-9 -c "$conf"
expect_output 'guest batch has 4 vCPUs \(0-3\): no vCPU 4-9' "vCPUs that do not exist refused"
expect_exit 0 "migrate vCPUs" -- "$VNUMAD" migrate batch --to 0 --vcpus 0-1 -c "$conf"
expect_output 'guest batch: 2 vCPU\(s\) moved to node 0' "vCPU move"
expect_exit 0 "status after" -- "$VNUMAD" status -c "$conf"
expect_output '^  batch: 2 move\(s\)' "the manual move is a trial"
expect_output '^cache .*1:3.50 GiB' "cache memory moved"

# --- clients that go away or never finish leave no descriptor behind ------

CONNHOLD=$B/tests/connhold
[ -x "$CONNHOLD" ] || fail "no $CONNHOLD: build it first (make check does)"
nfds() { ls "/proc/$1/fd" | wc -l; }
# one that connects and sends nothing is let go after 10 s: watched meanwhile
"$CONNHOLD" -n 1 -T 20 "$sock" >"$TMP/silent" &
silent=$!
sleep 0.3
fds0=$(nfds $pid)
# a request, then gone before the reply: the failed write dropped no client
for _ in $(seq 20); do
	"$CONNHOLD" -c -w '{"cmd":"status"}\n' "$sock" >/dev/null
done
# a client killed while it waits for its reply
for _ in $(seq 5); do
	"$CONNHOLD" -n 1 -w '{"cmd":"status"}\n' -T 5 "$sock" >/dev/null &
	sleep 0.05
	kill -KILL $! 2>/dev/null
	wait $! 2>/dev/null
done
sleep 0.5
fds1=$(nfds $pid)
[ "$fds1" -le $((fds0 + 1)) ] ||
	fail "25 clients gone before their reply left $((fds1 - fds0)) descriptors open in the daemon"
# at most 32 at once: more wait in the backlog, and each one held is let go
"$CONNHOLD" -n 100 -T 2 "$sock" >"$TMP/held" &
held=$!
sleep 1
fds2=$(nfds $pid)
[ "$fds2" -le $((fds1 + 32)) ] ||
	fail "100 connections held took $((fds2 - fds1)) descriptors of the daemon, want at most 32"
wait $held
expect_exit 0 "status after the cap was reached" -- "$VNUMAD" status -c "$conf"
wait $silent
grep -Eq '^closed 1 after (9|1[0-2])\.[0-9] s$' "$TMP/silent" ||
	fail "a silent client was not let go after 10 s: $(tail -1 "$TMP/silent")"

# out of descriptors: accepting pauses, neither spinning nor logging without
# end (libevent retried accept() at every turn of the loop, logging each)
sed "s|^control = .*|control = $TMP/few/control.sock|" etc/vnumad.conf >"$TMP/few.conf"
(ulimit -n 32; exec "$VNUMAD" -f -c "$TMP/few.conf" --backend sim --pace --interval 100ms \
	>/dev/null 2>"$TMP/few.err") &
few=$!
# started when its guests are listed
for _ in $(seq 50); do grep -q 'guest legacy' "$TMP/few.err" && break; sleep 0.1; done
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# (its moves are logged too, as a service's are: count the socket's lines)
c0=$(cpu $few) l0=$(grep -c 'control socket' "$TMP/few.err")
"$CONNHOLD" -n 60 -T 2 "$TMP/few/control.sock" >/dev/null
c1=$(cpu $few) l1=$(grep -c 'control socket' "$TMP/few.err")
[ $((c1 - c0)) -le $((2 * $(getconf CLK_TCK) / 3)) ] ||
	fail "out of descriptors, the daemon used $((c1 - c0)) ticks of CPU in 2 s (spinning)"
[ $((l1 - l0)) -le 3 ] || { fail "out of descriptors, the daemon logged $((l1 - l0)) lines in 2 s"; tail -n +$((l0 + 1)) "$TMP/few.err" | head -5 | sed 's/^/    /'; }
grep -q 'control socket: cannot accept a connection: Too many open files; not accepting for 1 s' \
	"$TMP/few.err" || fail "no message saying the control socket ran out of descriptors"
sleep 1.5
expect_exit 0 "status once descriptors are back" -- "$VNUMAD" status --socket "$TMP/few/control.sock"
kill -TERM $few
wait $few

# a daemon gone in the middle of a memory move: the client says so, exit 1
# (it printed nothing more and exited 0)
"$VNUMAD" migrate web1 --to 1 --memory 6GiB -c "$conf" >"$TMP/cut" 2>&1 &
cut=$!
for _ in $(seq 50); do grep -q '^progress' "$TMP/cut" && break; sleep 0.1; done
grep -q '^progress' "$TMP/cut" || fail "no progress before the daemon was killed (test assumption)"

# a crash leaves a stale socket; the next daemon takes it over
kill -KILL $pid
wait $cut
rc=$?
[ $rc = 1 ] || fail "migrate cut short by the daemon's death: exit $rc, want 1"
grep -q 'the daemon closed the connection before the migration ended' "$TMP/cut" ||
	fail "migrate cut short does not say so: $(tail -1 "$TMP/cut")"
wait $pid 2>/dev/null
# -f without a terminal is a service: no tick line at info, the moves logged
grep -Eq '(^|: )tick [0-9]+ \(' "$TMP/stdout" "$TMP/stderr" && fail "the service printed tick lines at info level"
grep -Eq '^vnumad: guest batch: vCPU 0 moved node 1 -> node 0 .*by the operator' "$TMP/stderr" ||
	fail "the service did not log the manual move"
[ -S "$sock" ] || fail "the killed daemon's socket is gone (test assumption)"
"$VNUMAD" -f -c "$conf" --backend sim --pace --interval 100ms >/dev/null 2>"$TMP/stderr2" &
pid=$!
sleep 1
expect_exit 0 "status after taking over a stale socket" -- "$VNUMAD" status -c "$conf"
kill -TERM $pid
wait $pid || fail "daemon exit $?"
[ -e "$sock" ] && fail "socket left behind after a clean stop"

# the service's tick lines at debug level (-v), into the log
timeout -s INT 2 "$VNUMAD" -f -v -c "$conf" --backend sim --pace --interval 100ms \
	>"$TMP/stdout" 2>"$TMP/stderr"
grep -Eq '^vnumad: tick [0-9]+ \([0-9.]+s\): 6 guests' "$TMP/stderr" || fail "no tick line in the debug log"
grep -q 'tick [0-9]' "$TMP/stdout" && fail "the service printed tick lines to its standard output"
# -f on a terminal keeps them on standard output
if command -v script >/dev/null; then
	script -qec "timeout -s INT 2 $VNUMAD -f -c $conf --backend sim --pace --interval 100ms" \
		/dev/null >"$TMP/tty" 2>&1
	grep -Eq '^tick [0-9]+ \([0-9.]+s\): 6 guests' "$TMP/tty" || fail "-f on a terminal: no tick lines"
fi
done_testing
