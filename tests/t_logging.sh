#!/bin/bash
# Where the log goes: on systemd's journal stream (JOURNAL_STREAM names
# stderr) every line carries its priority, so that errors are errors in the
# journal; in the background without /dev/log the log stays on stderr,
# which says so, instead of vanishing.
. "$(dirname "$0")/lib.sh"

mkdir -p "$TMP/state"
sed -e "s|^control = .*|control = $TMP/control.sock|" -e "s|^state_dir = .*|state_dir = $TMP/state|" \
	-e 's|^halflife = .*|halflife = 200s|' etc/vnumad.conf >"$TMP/vnumad.conf"
# an error that stops the start: metrics on an address of no interface
sed 's|^metrics =.*|metrics = 192.0.2.1:9464|' "$TMP/vnumad.conf" >"$TMP/bad.conf"

: >"$TMP/journal"
JOURNAL_STREAM=$(stat -c %d:%i "$TMP/journal") \
	"$VNUMAD" -f -c "$TMP/vnumad.conf" --backend sim --ticks 1 >/dev/null 2>>"$TMP/journal"
grep -q '^<6>backend sim, sampling sim' "$TMP/journal" || fail "no <6> (info) prefix on the journal stream"
grep -q '^<4>warning: .*halflife' "$TMP/journal" || fail "no <4> (warning) prefix on the journal stream"
grep -q '^vnumad: ' "$TMP/journal" && fail "the name is repeated on the journal stream (journald adds it)"
: >"$TMP/journal"
JOURNAL_STREAM=$(stat -c %d:%i "$TMP/journal") \
	timeout 20 "$VNUMAD" -f -c "$TMP/bad.conf" --backend sim >/dev/null 2>>"$TMP/journal"
[ $? -eq 1 ] || fail "an unusable metrics address does not stop the start"
grep -q "^<3>error: metrics '192.0.2.1:9464': cannot listen" "$TMP/journal" ||
	{ fail "the error that stops the daemon is not logged at priority 3"; sed 's/^/    /' "$TMP/journal"; }
# another stderr than the journal stream: plain lines
: >"$TMP/other"
JOURNAL_STREAM=$(stat -c %d:%i "$TMP/journal") \
	"$VNUMAD" -f -c "$TMP/vnumad.conf" --backend sim --ticks 1 >/dev/null 2>"$TMP/other"
grep -q '^vnumad: warning: .*halflife' "$TMP/other" || fail "a file not the journal stream got priorities"
grep -q '^<' "$TMP/other" && fail "priority prefixes on a stderr that is not the journal"

if [ -e /dev/log ]; then
	echo "/dev/log exists: the background fallback is not exercised here"
	done_testing
fi
"$VNUMAD" -c "$TMP/vnumad.conf" --backend sim --pace --interval 100ms >/dev/null 2>"$TMP/bg.err"
rc=$?
[ $rc -eq 0 ] || fail "the background start exits $rc"
sleep 0.5
pid=$(pgrep -f -- "-c $TMP/vnumad.conf --backend sim --pace")
[ -n "$pid" ] || { fail "no background daemon"; done_testing; }
kill -TERM $pid
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
grep -q '^vnumad: warning: no /dev/log (no syslog daemon or journald): the log goes to stderr' "$TMP/bg.err" ||
	fail "no warning that the log stays on stderr"
grep -q '^vnumad: stopped after [0-9]* ticks' "$TMP/bg.err" ||
	{ fail "the background daemon's log was lost"; sed 's/^/    /' "$TMP/bg.err" | tail -5; }
done_testing
