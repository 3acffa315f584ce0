#!/bin/bash
# Plugins in the policy worker: a plugin that segfaults, aborts, calls
# exit(), sleeps past its deadline, allocates without bound, opens a file,
# starts a thread or returns nonsense costs ticks, never the daemon. For
# each, vnumad keeps ticking, logs the reason, starts a new worker with
# backoff and, after 3 failed ticks, lets the built-in default advise in
# its place; a plugin that recovers is used again. A well-behaved plugin
# (policies/example) proposes the same in the worker as in process, in
# vnumad and in vnumad-sim. The worker runs as nobody with no capabilities
# under its seccomp filter, dies with the daemon, and status and metrics
# say how it fares.
. "$(dirname "$0")/lib.sh"

command -v cc >/dev/null || skip "no C compiler"
[ -x "$B/vnumad-worker" ] || { fail "no $B/vnumad-worker: build it first"; done_testing; }
VNUMAD_SIM=$B/vnumad-sim
# the test directory must be reachable by the worker's user: it is given
# the plugin as a descriptor, but the directory of a test still shows up
chmod 755 "$TMP"

cat >"$TMP/bad.c" <<'EOF'
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "policy.h"

static void *nothing(void *arg) { return arg; }

/* Misbehaves on the ticks FROM..UNTIL (all from FROM by default), and is a
 * quiet policy otherwise: one proposal, its reason says "well". */
static int tick(void *priv, const struct vnumad_view *v, struct vnumad_out *out)
{
	struct vnumad_proposal p = { .kind = VNUMAD_MOVE_VCPU, .guest = 0, .to = 0,
				     .gain = 0.5 };
	pthread_t t;
	int fd;

	(void)priv;
	if (v->tick >= FROM && v->tick <= UNTIL) {
#if defined(SEGV)
		*(volatile int *)16 = 1;
#elif defined(ABORT)
		abort();
#elif defined(EXIT)
		exit(3);
#elif defined(SLEEP)
		sleep(30);
#elif defined(SPIN)
		for (volatile unsigned long i = 0;; i++)
			;
#elif defined(ALLOC)
		for (;;) {
			char *m = malloc(1 << 20);

			memset(m, 1, 1 << 20);
		}
#elif defined(OPEN)
		fd = open("/etc/hostname", O_RDONLY);
		if (fd >= 0)
			close(fd);
#elif defined(SOCKET)
		fd = socket(AF_INET, SOCK_STREAM, 0);
		(void)fd;
#elif defined(THREAD)
		if (pthread_create(&t, NULL, nothing, NULL) == 0)
			pthread_join(t, NULL);
#elif defined(MALFORMED)
		out->len = out->cap + 5;
		return 0;
#endif
	}
	(void)t; (void)fd; (void)nothing;
	for (int gi = 0; gi < v->nr_guests; gi++)
		if (!(v->guests[gi]->flags & VNUMAD_GUEST_PINNED) && v->guests[gi]->nr_vcpus) {
			p.guest = gi;
			p.to = v->guests[gi]->vcpus[0].node == 0 ? 1 : 0;
			snprintf(p.reason, sizeof(p.reason), "well at tick %llu",
				 (unsigned long long)v->tick);
			vnumad_propose(out, &p);
			break;
		}
	return 0;
}

const struct vnumad_policy vnumad_policy = {
	VNUMAD_POLICY_INIT, .name = "bad", .description = "misbehaves", .tick = tick,
};
EOF

# build NAME [cc flags...]: $TMP/NAME.so
build() {
	local name=$1
	shift
	umask 022
	cc -std=gnu11 -Wall -fPIC -shared -pthread -Ipolicies -DFROM=2 -DUNTIL=1000000 \
		"$@" -o "$TMP/$name.so" "$TMP/bad.c" >"$TMP/cc.out" 2>&1 ||
		{ fail "cc $name"; sed 's/^/    /' "$TMP/cc.out"; }
}

# a short deadline keeps the sleepers quick; the allocator gets a small
# address space, and time to fill it (page faults are slow in a VM)
cat >"$TMP/worker.conf" <<EOF
[policy]
deadline = 10%
EOF
cat >"$TMP/alloc.conf" <<EOF
[policy]
deadline = 90%
worker_memory = 16MiB
EOF
cat >"$TMP/inproc.conf" <<EOF
[policy]
worker = no
EOF

# misbehaves NAME REASON-PATTERN [CONF]: 12 ticks on the demo host with plugin NAME
misbehaves() {
	local so=$TMP/$1.so what=$1
	local t0=$SECONDS

	expect_exit 0 "$what: the daemon survives" -- timeout 120 "$VNUMAD" -c "${3:-$TMP/worker.conf}" \
		--policy "$so" --backend sim --dry-run --ticks 12
	expect_output '^tick 12 \(' "$what: every tick ran"
	expect_output "policy bad: tick failed: $2 \\(1 in a row\\); a new worker at tick 3" \
		"$what: the reason is logged"
	expect_output 'policy bad: worker restarted \(pid [0-9]+\)' "$what: a new worker"
	expect_output "policy bad: tick failed: $2 \\(3 in a row\\); a new worker at tick 9" \
		"$what: with backoff"
	expect_output 'policy bad disabled after 3 failed ticks; the built-in default \(place\) advises in its place, nothing is applied, until the policy answers again' \
		"$what: the default takes over"
	expect_output '^  recommend .*its vCPUs to its memory, node' "$what: the default advises"
	expect_output '\[sim; dry run; policy bad failed, the default advises\]' "$what: and says so"
	grep -q 'recommend.*well at tick' "$TMP/out" && fail "$what: the failing plugin's proposals were used"
	[ $((SECONDS - t0)) -lt 60 ] || fail "$what: 12 ticks took $((SECONDS - t0)) s"
}

build segv -DSEGV
misbehaves segv 'its worker \(pid [0-9]+\) was killed by signal 11 \(Segmentation fault\)'
build abort -DABORT
misbehaves abort 'its worker \(pid [0-9]+\) was killed by signal 6 \(Aborted\)'
build exit -DEXIT
misbehaves exit 'its worker \(pid [0-9]+\) exited with status 3'
build sleep -DSLEEP
misbehaves sleep 'no answer within its deadline of 200ms; its worker \(pid [0-9]+\) was killed'
build spin -DSPIN
misbehaves spin 'no answer within its deadline of 200ms; its worker \(pid [0-9]+\) was killed'
build alloc -DALLOC
# malloc fails, the plugin writes through NULL; a sanitizer's runtime
# reports the failed allocation instead, and opens files on the way
why='was killed by signal 11 \(Segmentation fault\)'
[ -n "${SANITIZE:-}" ] && why="($why|called open(at)? \\(system call [0-9]+\\), which a policy may not)"
misbehaves alloc "its worker \\(pid [0-9]+\\) $why" "$TMP/alloc.conf"
build open -DOPEN
misbehaves open 'its worker \(pid [0-9]+\) called openat \(system call [0-9]+\), which a policy may not'
build socket -DSOCKET
misbehaves socket 'its worker \(pid [0-9]+\) called socket \(system call [0-9]+\), which a policy may not'
build thread -DTHREAD
# (glibc's pthread_create sets up its signals before it clones)
misbehaves thread 'its worker \(pid [0-9]+\) called (clone3?|rt_sigaction) \(system call [0-9]+\), which a policy may not'
build malformed -DMALFORMED
misbehaves malformed 'returned 1029 proposals in a buffer of 1024; its worker \(pid [0-9]+\) was killed'

# The sleeper costs its deadline, not its sleep: 4 lost ticks of 200 ms.
start=$(date +%s%N)
"$VNUMAD" -c "$TMP/worker.conf" --policy "$TMP/sleep.so" --backend sim --dry-run --ticks 12 \
	>"$TMP/out" 2>&1
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 10000 ] || fail "a plugin sleeping 30 s per tick held 12 ticks for $ms ms"

# A plugin that fails on ticks 3, 4 and 6 only: disabled at 6, asked again
# at 10, used again from there on.
build flaky -DSEGV -DFROM=3 -DUNTIL=6
expect_exit 0 "flaky plugin" -- "$VNUMAD" -c "$TMP/worker.conf" --policy "$TMP/flaky.so" \
	--backend sim --dry-run --ticks 14
expect_output 'recommend .*: well at tick 2$' "its proposals count before it fails"
expect_output 'policy bad disabled after 3 failed ticks' "disabled after tick 6"
expect_output 'policy bad answers again: its proposals are used again' "back at tick 10"
# (the advice is printed when it changes: the plugin's again after the default's)
expect_output '(recommend|changed) .*: well at tick 1[0-4]( \(was .*\))?$' "its proposals count again"
grep -q 'well at tick [5-9]$' "$TMP/out" && fail "proposals used while it was failing"

# In process ([policy] worker = no), the same plugin takes the daemon with it:
# what the worker is for.
"$VNUMAD" -c "$TMP/inproc.conf" --policy "$TMP/segv.so" --backend sim --dry-run --ticks 4 \
	>"$TMP/out" 2>&1 && fail "a segfaulting plugin in process did not stop the daemon"
grep -q '^tick 2 ' "$TMP/out" && fail "a daemon with a segfaulting plugin in process ticked on"

# A well-behaved plugin proposes the same in the worker as in process:
# policies/example, built against the tree's header.
mkdir -p "$TMP/inc/vnumad"
cp policies/policy.h "$TMP/inc/vnumad/"
cc -std=c11 -Wall -Wextra -fPIC -shared -I"$TMP/inc" -o "$TMP/example.so" \
	policies/example/example.c || fail "cc example"
for how in worker inproc; do
	conf=$TMP/worker.conf
	[ $how = inproc ] && conf=$TMP/inproc.conf
	"$VNUMAD" -c "$conf" --policy "$TMP/example.so" --backend sim \
		--scenario sim/scenarios/four_node.ini --dry-run --ticks 30 --json \
		>"$TMP/$how.json" 2>"$TMP/$how.log" || fail "example ($how): exit $?"
	grep -v '"type":"tick"' "$TMP/$how.json" >"$TMP/$how.props"
done
grep -q 'runs in worker pid' "$TMP/worker.log" || fail "the example did not run in a worker"
grep -q 'runs in worker pid' "$TMP/inproc.log" && fail "worker = no ran it in a worker"
[ "$(grep -c '"type":"recommendation"' "$TMP/worker.props")" -gt 0 ] ||
	fail "the example proposed nothing"
diff -u "$TMP/inproc.props" "$TMP/worker.props" >"$TMP/diff" ||
	{ fail "the example's proposals differ in the worker"; head -20 "$TMP/diff"; }
# its per-guest storage (1.2) lives on in the worker from tick to tick:
# the reasons count the moves proposed for each guest
grep -q '(move [2-9] of this guest)' "$TMP/worker.props" ||
	fail "the example's per-guest storage did not last in the worker"
# and its exit (1.2) hears why it stops, with the ticks it answered, in both
for how in worker inproc; do
	grep -q 'policy: example: stopping after 29 ticks: the daemon stops$' "$TMP/$how.log" ||
		fail "the example's exit ($how) was not told why it stops"
done
# and in vnumad-sim, which runs plugins in process unless told --worker
for how in "" --worker; do
	"$VNUMAD_SIM" run sim/scenarios/demo.ini --policy "$TMP/example.so" --duration 3min \
		$how >"$TMP/sim$how.out" 2>&1 || fail "vnumad-sim $how: exit $?"
done
grep -q '^policy      example (a plugin, run in process; --worker runs it as vnumad does)$' \
	"$TMP/sim.out" || fail "vnumad-sim does not say it ran the plugin in process"
grep -q '^policy      example (a plugin, run in a worker, as vnumad runs it)$' \
	"$TMP/sim--worker.out" || fail "vnumad-sim --worker does not say it ran a worker"
diff <(grep -v '^policy ' "$TMP/sim.out") <(grep -v '^policy ' "$TMP/sim--worker.out") \
	>"$TMP/diff" || { fail "vnumad-sim scores differ in the worker"; head "$TMP/diff"; }

# A plugin's log reaches the daemon's, sanitised and bounded per tick.
cat >"$TMP/talk.c" <<'EOF'
#include "policy.h"
static void (*say)(int, const char *, ...);
static int init(void **priv, const struct vnumad_init_args *a)
{
	(void)priv;
	say = a->log;
	say(VNUMAD_LOG_INFO, "line\nbreak \033[31mred\033[0m");
	return 0;
}
static int tick(void *priv, const struct vnumad_view *v, struct vnumad_out *out)
{
	(void)priv; (void)out;
	for (int i = 0; i < 100; i++)
		say(VNUMAD_LOG_INFO, "tick %llu line %d", (unsigned long long)v->tick, i);
	return 0;
}
const struct vnumad_policy vnumad_policy = { VNUMAD_POLICY_INIT, .name = "talk",
	.init = init, .tick = tick };
EOF
cc -std=gnu11 -Wall -fPIC -shared -Ipolicies -o "$TMP/talk.so" "$TMP/talk.c" || fail "cc talk"
expect_exit 0 "a talkative plugin" -- "$VNUMAD" --policy "$TMP/talk.so" --backend sim \
	--dry-run --ticks 3
expect_output 'policy: line\?break \?\[31mred\?\[0m$' "control characters are replaced"
expect_output 'policy: tick 2 line 19$' "a tick's first lines are logged"
grep -q 'policy: tick 2 line 20$' "$TMP/out" && fail "more than 20 lines logged in a tick"
expect_output 'policy talk: 80 more lines of its log dropped this tick' "the rest is counted"

# A daemon: the worker's credentials, status and metrics, the worker
# killed from outside, and the end of the daemon.
port=$((20000 + RANDOM % 40000))
cat >"$TMP/daemon.conf" <<EOF
[daemon]
control = $TMP/control.sock
metrics = 127.0.0.1:$port
state_dir = $TMP/state
[policy]
deadline = 50%
EOF
wait_for() {
	for _ in $(seq 100); do
		grep -Eq -- "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}
metrics() {
	timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
		printf "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" >&3
		cat <&3' "$port" 2>/dev/null | tr -d '\r'
}
"$VNUMAD" -f -c "$TMP/daemon.conf" --policy "$TMP/example.so" --backend sim --pace \
	--interval 200ms --dry-run >"$TMP/d.out" 2>"$TMP/d.err" &
dpid=$!
wait_for 'runs in worker pid' "$TMP/d.err" || fail "no worker started"
wpid=$(sed -n 's/.*runs in worker pid \([0-9]*\).*/\1/p' "$TMP/d.err" | head -1)
lpid=$(awk '/^PPid:/ { print $2 }' "/proc/$wpid/status" 2>/dev/null)
# a few ticks, so that the worker has mapped the view
sleep 1
if [ -n "$wpid" ] && [ -r "/proc/$wpid/status" ]; then
	st=/proc/$wpid/status
	grep -q '^Seccomp:[[:space:]]*2$' "$st" || fail "the worker runs without its seccomp filter"
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || fail "the worker may gain privileges"
	for set in CapEff CapPrm CapInh CapAmb; do
		grep -q "^$set:[[:space:]]*0000000000000000$" "$st" ||
			fail "the worker has capabilities: $(grep "^$set:" "$st")"
	done
	if [ "$(id -u)" -eq 0 ]; then
		nobody=$(id -u nobody)
		grep -Eq "^Uid:[[:space:]]+$nobody[[:space:]]+$nobody[[:space:]]+$nobody[[:space:]]+$nobody$" "$st" ||
			fail "the worker does not run as nobody: $(grep '^Uid:' "$st")"
		grep -Eq "^Uid:[[:space:]]+$nobody[[:space:]]" "/proc/$lpid/status" ||
			fail "the launcher does not run as nobody"
		grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$lpid/status" ||
			fail "the launcher has capabilities"
	else
		echo "not root: the switch to nobody is not checked"
	fi
	[ "$(awk '/^PPid:/ { print $2 }' "/proc/$lpid/status")" = "$dpid" ] ||
		fail "the launcher is not the daemon's child"
	# the view is mapped read-only, the proposals are the only shared writable map
	grep -q 'memfd:vnumad-view (deleted)' "/proc/$wpid/maps" 2>/dev/null ||
		[ "$(id -u)" -ne 0 ] || fail "no view map in the worker"
	awk '/memfd:vnumad-view/ && $2 !~ /^r--s/ { bad = 1 } END { exit bad }' \
		"/proc/$wpid/maps" 2>/dev/null || fail "the view is writable in the worker"
else
	fail "no worker process ($wpid)"
fi
expect_exit 0 "status with a worker" -- "$VNUMAD" status -c "$TMP/daemon.conf"
expect_output "^policy worker: pid $wpid, 0 restarts; ticks lost: none$" "status names the worker"
metrics >"$TMP/m"
grep -q '^vnumad_policy_worker 1$' "$TMP/m" || fail "metrics: vnumad_policy_worker is not 1"
grep -q '^vnumad_policy_worker_up 1$' "$TMP/m" || fail "metrics: no worker up"
grep -q '^vnumad_policy_fallback 0$' "$TMP/m" || fail "metrics: fallback while the worker answers"
grep -Eq '^vnumad_policy_worker_tick_seconds [0-9.e-]+$' "$TMP/m" || fail "metrics: no exchange time"
# killed from outside: the next tick notices, a new worker follows
kill -KILL "$wpid"
wait_for 'policy example: worker restarted' "$TMP/d.err" || fail "no new worker after a kill"
grep -q "policy example: tick failed: its worker (pid $wpid) was killed by signal 9 (Killed) (1 in a row)" \
	"$TMP/d.err" || fail "the kill is not logged with its reason"
expect_exit 0 "status after a kill" -- "$VNUMAD" status -c "$TMP/daemon.conf"
expect_output '^policy worker: pid [0-9]+, 1 restart; ticks lost: crash 1$' "status counts the loss"
expect_output "^last failure: tick [0-9]+: its worker \\(pid $wpid\\) was killed by signal 9" \
	"status says what happened"
metrics >"$TMP/m"
grep -q '^vnumad_policy_ticks_lost_total{reason="crash"} 1$' "$TMP/m" ||
	fail "metrics: the crash is not counted"
grep -q '^vnumad_policy_worker_restarts_total 1$' "$TMP/m" || fail "metrics: the restart is not counted"
wpid=$(sed -n 's/.*worker restarted (pid \([0-9]*\)).*/\1/p' "$TMP/d.err" | tail -1)
lpid=$(awk '/^PPid:/ { print $2 }' "/proc/$wpid/status" 2>/dev/null)
# the daemon killed: launcher and worker go with it
kill -KILL "$dpid"
wait "$dpid" 2>/dev/null
for _ in $(seq 50); do
	kill -0 "$wpid" 2>/dev/null || kill -0 "$lpid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$wpid" 2>/dev/null && fail "the worker outlived the daemon"
kill -0 "$lpid" 2>/dev/null && fail "the launcher outlived the daemon"

# A failing daemon: status and metrics say the default advises.
rm -f "$TMP/control.sock"
"$VNUMAD" -f -c "$TMP/daemon.conf" --policy "$TMP/segv.so" --backend sim --pace \
	--interval 200ms --dry-run >"$TMP/d.out" 2>"$TMP/d.err" &
dpid=$!
wait_for 'disabled after 3 failed ticks' "$TMP/d.err" || fail "the segfaulting plugin was not disabled"
sleep 0.3
expect_exit 0 "status of a failed policy" -- "$VNUMAD" status -c "$TMP/daemon.conf"
expect_output '^vnumad .*policy bad \(disabled\)' "status: disabled"
expect_output '^policy worker: none running, next start at tick [0-9]+, [0-9]+ restarts?; ticks lost: crash [0-9]+$' \
	"status: the worker's losses"
expect_output '^the policy failed [0-9]+ ticks in a row: the built-in default place advises in its place' \
	"status: who advises"
expect_exit 0 "status --json of a failed policy" -- "$VNUMAD" status -c "$TMP/daemon.conf" --json
expect_output '"fallback": "place"' "status --json names the fallback"
metrics >"$TMP/m"
grep -q '^vnumad_policy_fallback 1$' "$TMP/m" || fail "metrics: no fallback"
grep -q '^vnumad_policy_disabled 1$' "$TMP/m" || fail "metrics: not disabled"
kill -TERM "$dpid"
wait "$dpid" || fail "the daemon with a failed policy exited $?"

done_testing
