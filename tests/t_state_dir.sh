#!/bin/bash
# The state directory and the journal, on the real daemon (proc backend:
# it keeps a journal; this host has no guests for it to move):
#   - a state directory others can write is refused by vnumad -n and at start;
#   - SIGHUP with another state_dir, or numa_balancing, says that it
#     changes only at restart (the journal stays, the sysctl is not touched);
#   - a journal of 40,000 live records costs a few syncs at start, not one
#     per record (strace counts them);
#   - a full state filesystem (a tmpfs, as root): the daemon runs, says in
#     its log, vnumad status and the metrics that it only advises, and
#     writes its journal again once there is room.
. "$(dirname "$0")/lib.sh"

# conf FILE STATE_DIR [LINES...]
conf() {
	local f=$1 s=$2
	shift 2
	{
		printf '[daemon]\nstate_dir = %s\ncontrol = %s.sock\ninterval = 200ms\n' "$s" "$f"
		printf '%s\n' "$@"
	} >"$f"
}

# wait_for PATTERN FILE [SECONDS]
wait_for() {
	for _ in $(seq $((${3:-10} * 10))); do
		grep -Eq -- "$1" "$2" && return 0
		sleep 0.1
	done
	fail "timed out waiting for /$1/ in $(basename "$2")"
	sed 's/^/    /' "$2" | tail -8
	return 1
}

stop() {
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# ---- a state directory others can write
mkdir -m 0777 "$TMP/open"
chmod 0777 "$TMP/open"
conf "$TMP/open.conf" "$TMP/open"
expect_exit 1 "vnumad -n, state directory of mode 0777" -- "$VNUMAD" -n -c "$TMP/open.conf"
expect_output "\[daemon\] state_dir: $TMP/open is writable by others \(mode 0777\)" \
	"vnumad -n names the state directory and why"
expect_exit 1 "vnumad, state directory of mode 0777" -- \
	timeout 20 "$VNUMAD" -c "$TMP/open.conf" --backend proc --ticks 2
expect_output "state directory refused: $TMP/open is writable by others" \
	"the daemon says why it does not start"
[ -e "$TMP/open/journal" ] && fail "a journal was written in a directory others can write"
# under a parent others can write (not sticky): refused as well
mkdir -m 0700 "$TMP/open/state"
conf "$TMP/sub.conf" "$TMP/open/state"
expect_exit 1 "vnumad -n, state directory under a parent of mode 0777" -- \
	"$VNUMAD" -n -c "$TMP/sub.conf"
expect_output "$TMP/open is writable by others" "vnumad -n names the parent"
# the simulator keeps no journal: nothing to refuse
expect_exit 0 "vnumad -n --backend sim ignores the state directory" -- \
	"$VNUMAD" -n -c "$TMP/open.conf" --backend sim
conf "$TMP/ok.conf" "$TMP/state"
expect_exit 0 "vnumad -n, a state directory still to be made" -- "$VNUMAD" -n -c "$TMP/ok.conf"

# ---- SIGHUP with another state_dir
"$VNUMAD" -f -c "$TMP/ok.conf" --backend proc >"$TMP/hup.out" 2>"$TMP/hup.err" &
pid=$!
if wait_for 'backend proc, sampling' "$TMP/hup.err"; then
	conf "$TMP/ok.conf" "$TMP/elsewhere" '[backend]' 'numa_balancing = disable'
	kill -HUP "$pid"
	wait_for 'reload: \[daemon\] state_dir changes only at restart' "$TMP/hup.err"
	wait_for 'reload: \[backend\] numa_balancing changes only at restart' "$TMP/hup.err"
	wait_for 'configuration reloaded' "$TMP/hup.err"
	[ -e "$TMP/elsewhere" ] && fail "the reload opened a journal in the new state_dir"
	[ -f "$TMP/state/journal" ] || fail "the journal is not in the state_dir the daemon started with"
fi
stop "$pid"

# ---- 40,000 live records: one sync to compact them, not 40,000
if command -v strace >/dev/null; then
	mkdir -m 0700 "$TMP/big"
	awk 'BEGIN {
		print "{\"vnumad_journal\":1}"
		for (i = 1; i <= 20000; i++)
			printf "{\"type\":\"trial\",\"id\":%d,\"guest\":\"gone-%d\",\"time\":1," \
			       "\"actions\":[{\"kind\":\"vcpu\",\"vcpu\":0,\"from\":0,\"to\":1," \
			       "\"old_allowed\":1}]}\n", i, i
		for (i = 1; i <= 20000; i++)
			printf "{\"type\":\"quarantine\",\"guest\":\"q-%d\",\"node\":1," \
			       "\"strikes\":1,\"until\":4e9}\n", i
	}' >"$TMP/big/journal"
	conf "$TMP/big.conf" "$TMP/big"
	# LeakSanitizer cannot run under ptrace: a sanitizer build leaves it out here
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -qq -e trace=fsync,fdatasync,syncfs,sync -o "$TMP/strace" \
		timeout 120 "$VNUMAD" -c "$TMP/big.conf" --backend proc --ticks 2 \
		>"$TMP/big.out" 2>&1 || fail "vnumad with a journal of 40,000 records failed"
	syncs=$(grep -c 'sync' "$TMP/strace")
	echo "syncs for a journal of 40,000 live records: $syncs"
	[ "$syncs" -le 8 ] || fail "$syncs syncs at start and for 20,000 verdicts (want a few)"
	grep -q 'trial 20000 of guest gone-20000 abandoned' "$TMP/big.out" ||
		fail "the unjudged trials of guests that are gone were not abandoned"
	n=$(grep -c '"type":"quarantine"' "$TMP/big/journal")
	[ "$n" -eq 20000 ] || fail "$n quarantines kept of 20,000"
else
	echo "strace is missing (etc/deps.sh installs it): the sync count is not checked"
fi

# ---- a full state filesystem
if [ "$(id -u)" -ne 0 ] || ! mkdir -m 0700 "$TMP/full" ||
   ! mount -t tmpfs -o size=64k,mode=0700 vnumad-t-state-dir "$TMP/full" 2>/dev/null; then
	echo "not root, or no tmpfs can be mounted: the full filesystem is not checked"
	done_testing
fi
trap 'umount -l "$TMP/full" 2>/dev/null; rm -rf "$TMP"' EXIT
# a journal that fills its page exactly, then the rest of the filesystem
awk 'BEGIN { h = "{\"vnumad_journal\":2,\"next_id\":1,\"pad\":\"\"}"
	printf "{\"vnumad_journal\":2,\"next_id\":1,\"pad\":\""
	for (i = length(h) + 1; i < 4096; i++) printf "x"
	printf "\"}\n" }' >"$TMP/full/journal"
[ "$(stat -c %s "$TMP/full/journal")" -eq 4096 ] || fail "the padded journal is not one page"
dd if=/dev/zero of="$TMP/full/fill" bs=4k 2>/dev/null
dd if=/dev/zero of="$TMP/full/fill" bs=1 oflag=append conv=notrunc 2>/dev/null
port=
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 40000))
	(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
done
conf "$TMP/full.conf" "$TMP/full" "metrics = 127.0.0.1:$port"
"$VNUMAD" -f -c "$TMP/full.conf" --backend proc >"$TMP/full.out" 2>"$TMP/full.err" &
pid=$!
metric() {
	timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
		printf "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" >&3
		cat <&3' "$port" 2>/dev/null | awk -v s="$1" '$1 == s { print $2; exit }'
}
if wait_for 'cannot be written \(No space left on device\): advising only' "$TMP/full.err"; then
	kill -0 "$pid" 2>/dev/null || fail "the daemon did not run with a full state filesystem"
	wait_for 'metrics on http' "$TMP/full.err"
	"$VNUMAD" status -c "$TMP/full.conf" >"$TMP/out" 2>&1
	expect_output "journal $TMP/full/journal cannot be written \(No space left on device\).*advising only" \
		"vnumad status says the daemon only advises"
	"$VNUMAD" status -c "$TMP/full.conf" --json >"$TMP/out" 2>&1
	expect_output '"writable": false' "vnumad status --json: the journal is not writable"
	v=$(metric vnumad_journal_failing)
	[ "$v" = 1 ] || fail "vnumad_journal_failing is '$v' with a full filesystem, want 1"
	v=$(metric vnumad_journal_failures_total)
	[ "${v:-0}" -ge 1 ] 2>/dev/null || fail "vnumad_journal_failures_total is '$v', want >= 1"
	rm -f "$TMP/full/fill"
	if wait_for 'can be written again: moves resume' "$TMP/full.err"; then
		"$VNUMAD" status -c "$TMP/full.conf" >"$TMP/out" 2>&1
		grep -q 'cannot be written' "$TMP/out" && fail "vnumad status still says the journal fails"
		v=$(metric vnumad_journal_failing)
		[ "$v" = 0 ] || fail "vnumad_journal_failing is '$v' once there is room, want 0"
		grep -q '"pad"' "$TMP/full/journal" && fail "the journal was not rewritten"
	fi
fi
stop "$pid"
[ "$(grep -c 'cannot be written (No space' "$TMP/full.err")" -le 1 ] ||
	fail "the failing journal is logged more than once"
umount -l "$TMP/full"
done_testing
