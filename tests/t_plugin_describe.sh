#!/bin/bash
# A plugin that runs in its worker is never mapped into the daemon, not
# even to read its descriptor: vnumad -n, --help-policy, the start and a
# SIGHUP reload learn its name and options from a describer, a worker that
# loads it in the same sandbox (as nobody when vnumad is root). A plugin
# whose constructor marks every process that runs it as root (or that has
# this test's environment, which the worker's lacks) leaves no mark, and
# its description names a uid and pid that are not the daemon's; with
# worker = no it does mark the daemon, which shows the mark would be seen.
# A description that crashes, hangs or is too big refuses the plugin with
# the reason, at start and at -n; at a reload the running configuration
# stays and the daemon ticks on. A reload to a changed plugin works.
. "$(dirname "$0")/lib.sh"

command -v cc >/dev/null || skip "no C compiler"
[ -x "$B/vnumad-worker" ] || { fail "no $B/vnumad-worker: build it first"; done_testing; }
# the worker's user reaches the plugin as a descriptor, but its directory shows
chmod 755 "$TMP"
MARK=$TMP/constructed-in
export VNUMAD_TEST_MARK_ME=1

cat >"$TMP/ctor.c" <<'EOF'
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "policy.h"

#ifndef NAME
#define NAME "ctor"
#endif
#ifndef MAXLEVEL
#define MAXLEVEL 10
#endif

static char said[128] = "never constructed";

/* who loaded it: in its description, and a mark left by root or by a
 * process with the test's environment (the daemon's; a worker has none) */
static void __attribute__((constructor)) constructed(void)
{
	snprintf(said, sizeof(said), "constructed by uid %d pid %d", (int)getuid(),
		 (int)getpid());
#ifdef SLOW
	sleep(30);
#endif
	if (getuid() == 0 || getenv("VNUMAD_TEST_MARK_ME")) {
		int fd = open(MARK, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dprintf(fd, "pid %d uid %d\n", (int)getpid(), (int)getuid());
			close(fd);
		}
	}
}

#ifdef HUGE_OPTIONS
static struct vnumad_option options[HUGE_OPTIONS + 1];
static char names[HUGE_OPTIONS][16];
static void __attribute__((constructor)) many(void)
{
	for (int i = 0; i < HUGE_OPTIONS; i++) {
		snprintf(names[i], sizeof(names[i]), "o%d", i);
		options[i] = (struct vnumad_option){ names[i], VNUMAD_OPT_INT, "1", 0, 9, "" };
	}
}
#else
static const struct vnumad_option options[] = {
	{ "level", VNUMAD_OPT_INT, "3", 1, MAXLEVEL, "how much" },
	{ NULL, 0, NULL, 0, 0, NULL },
};
#endif

#ifdef HUGE_TEXT
static char text[100000];
static void __attribute__((constructor)) big(void)
{
	for (size_t i = 0; i + 1 < sizeof(text); i++)
		text[i] = 'x';
}
#define DESCRIPTION text
#else
#define DESCRIPTION said
#endif

static int tick(void *priv, const struct vnumad_view *v, struct vnumad_out *out)
{
	(void)priv; (void)v; (void)out;
	return 0;
}

const struct vnumad_policy vnumad_policy = {
	VNUMAD_POLICY_INIT,
#ifdef WILD_NAME
	.name = (const char *)16,	/* reading it faults */
#else
	.name = NAME,
#endif
	.description = DESCRIPTION, .options = options, .tick = tick,
};
EOF

# build NAME [cc flags...]: $TMP/NAME.so
build() {
	local name=$1
	shift
	umask 022
	cc -std=gnu11 -Wall -fPIC -shared -Ipolicies -DMARK="\"$MARK\"" "$@" \
		-o "$TMP/$name.so.new" "$TMP/ctor.c" >"$TMP/cc.out" 2>&1 ||
		{ fail "cc $name"; sed 's/^/    /' "$TMP/cc.out"; }
	mv "$TMP/$name.so.new" "$TMP/$name.so"
}

# not_constructed WHEN: the plugin's constructor never ran in vnumad's process
not_constructed() {
	[ -e "$MARK" ] && { fail "$1: the plugin's constructor ran in vnumad: $(cat "$MARK")"; rm -f "$MARK"; }
}

build ctor
nobody=
[ "$(id -u)" -eq 0 ] && nobody=$(id -u nobody 2>/dev/null)

# --help-policy: the description is the describer's, of another pid (and nobody)
"$VNUMAD" --help-policy "$TMP/ctor.so" >"$TMP/out" 2>&1 &
pid=$!
wait $pid || fail "--help-policy: exit $?"
grep -Eq '^policy ctor: constructed by uid [0-9]+ pid [0-9]+$' "$TMP/out" ||
	{ fail "--help-policy: no description"; cat "$TMP/out"; }
grep -q "pid $pid\$" "$TMP/out" && fail "--help-policy: the plugin was constructed in vnumad (pid $pid)"
[ -n "$nobody" ] && ! grep -q "uid $nobody pid" "$TMP/out" &&
	fail "--help-policy: the plugin was not constructed as nobody: $(head -1 "$TMP/out")"
expect_output '^  level +integer, default 3, range 1 to 10$' "--help-policy: its options, as described"
not_constructed "--help-policy"

# vnumad -n: the plugin's options are checked against what its worker described
cat >"$TMP/ok.conf" <<EOF
[policy]
name = $TMP/ctor.so
[policy.ctor]
level = 7
EOF
cat >"$TMP/range.conf" <<EOF
[policy]
name = $TMP/ctor.so
[policy.ctor]
level = 70
EOF
expect_exit 0 "-n with a plugin" -- "$VNUMAD" -n -c "$TMP/ok.conf"
expect_output '^configuration OK$' "-n: the plugin's configuration is OK"
expect_exit 1 "-n with a plugin option out of range" -- "$VNUMAD" -n -c "$TMP/range.conf"
expect_output 'range\.conf:4: \[policy\.ctor\] level: .70. is out of range \(1 to 10\)' \
	"-n: the described range is enforced"
not_constructed "vnumad -n"

# a run: described, then run in its worker
expect_exit 0 "a run with the plugin" -- "$VNUMAD" -c "$TMP/ok.conf" --backend sim --dry-run --ticks 3
expect_output 'policy ctor runs in worker pid' "the run: in a worker"
not_constructed "a run"

# worker = no: the plugin is loaded into vnumad, and the mark shows it
printf '[policy]\nworker = no\n' >"$TMP/inproc.conf"
"$VNUMAD" -c "$TMP/inproc.conf" --policy "$TMP/ctor.so" --backend sim --dry-run --ticks 2 \
	>"$TMP/out" 2>&1 &
pid=$!
wait $pid || fail "worker = no: exit $?"
grep -q "^pid $pid uid $(id -u)$" "$MARK" 2>/dev/null ||
	fail "worker = no: the constructor left no mark of vnumad's pid $pid (the test sees nothing)"
rm -f "$MARK"

# A description that crashes, hangs or is too big: refused with the reason.
# expect_refused NAME WHY: at start, by -n and by --help-policy
expect_refused() {
	local so=$TMP/$1.so t0=$SECONDS

	expect_exit 1 "$1: refused at start" -- timeout 60 "$VNUMAD" --policy "$so" \
		--backend sim --dry-run --ticks 2
	expect_output "$so: $2" "$1: the reason, naming the file"
	printf '[policy]\nname = %s\n' "$so" >"$TMP/$1.conf"
	expect_exit 1 "$1: refused by -n" -- timeout 60 "$VNUMAD" -n -c "$TMP/$1.conf"
	expect_output "$1\\.conf:2: \\[policy\\] name: $so: $2" "$1: -n names file, line and key"
	expect_exit 1 "$1: refused by --help-policy" -- timeout 60 "$VNUMAD" --help-policy "$so"
	expect_output "$so: $2" "$1: --help-policy says why"
	[ $((SECONDS - t0)) -lt 30 ] || fail "$1: three refusals took $((SECONDS - t0)) s"
}
build wild -DWILD_NAME
expect_refused wild 'its worker \(pid [0-9]+\) was killed by signal 11 \(Segmentation fault\)'
build slow -DSLOW
expect_refused slow 'no description from its worker within 1s; its worker \(pid [0-9]+\) was killed'
build many -DHUGE_OPTIONS=300
expect_refused many 'it declares more than 256 options'
build long -DHUGE_TEXT
expect_refused long 'its description is longer than 1023 bytes'
# and the same limits in process
expect_exit 1 "many options, worker = no" -- "$VNUMAD" -c "$TMP/inproc.conf" \
	--policy "$TMP/many.so" --backend sim --dry-run --ticks 2
expect_output "$TMP/many.so: it declares more than 256 options" "in process, the same limit"
rm -f "$MARK"

# A daemon: a reload to a changed plugin, then to broken ones, which are
# refused while the daemon ticks on with the plugin it runs.
cat >"$TMP/daemon.conf" <<EOF
[daemon]
control = $TMP/control.sock
state_dir = $TMP/state
[policy]
name = $TMP/ctor.so
[policy.ctor]
level = 7
EOF
wait_for() {
	for _ in $(seq 100); do
		grep -Eq -- "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}
"$VNUMAD" -f -c "$TMP/daemon.conf" --backend sim --pace --interval 200ms --dry-run \
	>"$TMP/d.out" 2>"$TMP/d.err" &
dpid=$!
wait_for 'policy ctor runs in worker pid' "$TMP/d.err" || fail "the daemon started no worker"
# the same file, rebuilt: another name, another range, its section checked
build ctor -DNAME='"ctor_b"' -DMAXLEVEL=100
cat >"$TMP/daemon.conf" <<EOF
[daemon]
control = $TMP/control.sock
state_dir = $TMP/state
[policy]
name = $TMP/ctor.so
[policy.ctor_b]
level = 70
EOF
kill -HUP "$dpid"
wait_for 'configuration reloaded: policy ctor_b' "$TMP/d.err" ||
	{ fail "no reload to the changed plugin"; tail -5 "$TMP/d.err"; }
wait_for 'policy ctor_b runs in worker pid' "$TMP/d.err" || fail "the changed plugin runs in no worker"
for bad in wild slow; do
	n=$(grep -c 'reload rejected' "$TMP/d.err")
	sed -i "s|^name = .*|name = $TMP/$bad.so|" "$TMP/daemon.conf"
	kill -HUP "$dpid"
	for _ in $(seq 100); do
		[ "$(grep -c 'reload rejected' "$TMP/d.err")" -gt "$n" ] && break
		sleep 0.1
	done
	[ "$(grep -c 'reload rejected' "$TMP/d.err")" -gt "$n" ] ||
		fail "reload to $bad: not rejected"
	grep -q "$TMP/$bad.so: .*its worker (pid [0-9]*)" "$TMP/d.err" ||
		fail "reload to $bad: the reason is not logged"
done
ticks=$(grep -c '^tick ' "$TMP/d.out")
sleep 1
[ "$(grep -c '^tick ' "$TMP/d.out")" -gt "$ticks" ] || fail "the daemon stopped ticking after a rejected reload"
expect_exit 0 "status after the rejected reloads" -- "$VNUMAD" status -c "$TMP/ok.conf" \
	--socket "$TMP/control.sock"
expect_output 'policy ctor_b' "the changed plugin still runs"
kill -TERM "$dpid"
wait "$dpid" || fail "the daemon exited $?"
not_constructed "the daemon and its reloads"
grep -q "pid $dpid" "$MARK" 2>/dev/null && fail "the plugin was constructed in the daemon"

done_testing
