#!/bin/bash
# The control socket and its commands against a running daemon on the
# simulated host: status (table and JSON), place (live and from a fresh
# sample), migrate (progress, summary, every refusal), one daemon per
# socket, a stale socket after a crash, and the answer when none runs.
. "$(dirname "$0")/lib.sh"

conf=$TMP/vnumad.conf
sock=$TMP/run/control.sock
sed "s|^control = .*|control = $sock|" etc/vnumad.conf >"$conf"

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
expect_output '^vnumad [0-9.]+: backend sim, sampling sim, policy locality, tick [0-9]+$' "status header"
expect_output '^legacy +2 +1,1 +0:4.00 GiB +100% .* pinned$' "status shows the pinned guest"
# each node's bandwidth with its sources: the vCPUs' estimate, the sim's maximum
expect_output '^0 +16 .* / 37.3 GiB/s \(sim\)$' "node bandwidth and its sources"
expect_output '^1 +16 .* \(estimate\) / ' "bw_used labelled estimate"
expect_exit 0 "status --json" -- "$VNUMAD" status -c "$conf" --json
expect_output '"bw_max_source": "sim"' "JSON labels bw_max"
expect_output '"name": "web1"' "JSON lists guests"
expect_output '"quarantines": \[' "JSON lists quarantines"

expect_exit 0 "place live" -- "$VNUMAD" place 2:1GiB -c "$conf"
expect_output '^[01]$' "a single node for a small guest"
expect_output 'from the running daemon' "live figures"
expect_exit 1 "place too big" -- "$VNUMAD" place 64:200GiB -c "$conf"
expect_output 'not enough' "too big for the host"

expect_exit 1 "migrate a pinned guest" -- "$VNUMAD" migrate legacy --to 0 -c "$conf"
expect_output 'pinned by its user; --force moves it anyway' "pinned refused"
expect_exit 1 "migrate an unknown guest" -- "$VNUMAD" migrate nosuch --to 0 -c "$conf"
expect_output "no guest named 'nosuch'" "unknown guest"
expect_exit 1 "migrate to a missing node" -- "$VNUMAD" migrate web1 --to 7 -c "$conf"
expect_output "node 7 does not exist" "missing node"
expect_exit 2 "migrate without --to" -- "$VNUMAD" migrate web1 -c "$conf"
expect_exit 0 "migrate memory" -- "$VNUMAD" migrate cache --to 0 --memory 512MiB -c "$conf"
expect_output 'memory migrating to node 0' "migrate says what it started"
expect_output '^progress [0-9.]+ [KMG]iB of 512 MiB$' "progress lines off a terminal"
expect_output '^moved 512 MiB of 512 MiB$' "summary"
expect_exit 0 "migrate memory, JSON Lines" -- "$VNUMAD" migrate db --to 1 --memory 256MiB --json -c "$conf"
expect_output '^\{"ok":true,"message":"[^"]*memory migrating to node 1' "the daemon's first reply"
expect_output '^\{"progress":[0-9]+,"bytes":268435456\}$' "progress objects"
expect_output '^\{"done":true,"moved":268435456,"failed":0,"bytes":268435456,"complete":true\}$' "the final object, to the byte"
n=$(grep -vc '^{' "$TMP/out")
[ "$n" = 0 ] || fail "--json printed $n lines that are not JSON objects"
expect_exit 0 "migrate vCPUs" -- "$VNUMAD" migrate batch --to 0 --vcpus 0-1 -c "$conf"
expect_output 'guest batch: 2 vCPU\(s\) moved to node 0' "vCPU move"
expect_exit 0 "status after" -- "$VNUMAD" status -c "$conf"
expect_output '^  batch: 2 move\(s\)' "the manual move is a trial"
expect_output '^cache .*1:3.50 GiB' "cache memory moved"

# a crash leaves a stale socket; the next daemon takes it over
kill -KILL $pid
wait $pid 2>/dev/null
[ -S "$sock" ] || fail "the killed daemon's socket is gone (test assumption)"
"$VNUMAD" -f -c "$conf" --backend sim --pace --interval 100ms >/dev/null 2>"$TMP/stderr2" &
pid=$!
sleep 1
expect_exit 0 "status after taking over a stale socket" -- "$VNUMAD" status -c "$conf"
kill -TERM $pid
wait $pid || fail "daemon exit $?"
[ -e "$sock" ] && fail "socket left behind after a clean stop"
done_testing
