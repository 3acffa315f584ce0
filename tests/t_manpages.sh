#!/bin/bash
# Every manual page renders with `man -l` and no warning from groff or man.
. "$(dirname "$0")/lib.sh"

command -v man >/dev/null || skip "man is not installed (etc/deps.sh installs man-db)"
for page in rebalancer/vnumad.8 rebalancer/vnumad.conf.5 sim/vnumad-sim.1 \
	policies/vnumad-policy.7; do
	[ -f "$page" ] || { fail "$page is missing"; continue; }
	MANWIDTH=80 man --warnings -l "$page" >"$TMP/out" 2>"$TMP/err" ||
		fail "man -l $page exits non-zero"
	[ -s "$TMP/err" ] && { fail "$page: warnings"; sed 's/^/    /' "$TMP/err"; }
	[ "$(wc -l <"$TMP/out")" -gt 20 ] || fail "$page renders almost nothing"
	grep -q "^NAME" "$TMP/out" || fail "$page has no NAME section"
done
done_testing
