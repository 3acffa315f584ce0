#!/bin/bash
# Policy plugins end to end: real shared objects built here, loaded by the
# real vnumad. A good plugin loads, runs and proposes; every bad one (ABI,
# size, symbol, name, flags, permissions, owner, a directory on its path
# that others can write, unresolved symbol) is refused with a message
# naming the file and exit 1; a file swapped in between the check and the
# load is never loaded; a tick that keeps
# failing disables the policy, in the worker and in process, and the
# built-in default advises in its place; --help-policy lists a plugin's
# options and [policy.NAME] keys of a plugin are parsed and range-checked.
# (tests/t_worker.sh covers plugins that crash, hang or break the sandbox.)
. "$(dirname "$0")/lib.sh"

command -v cc >/dev/null || skip "no C compiler"

cat >"$TMP/plugin.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "policy.h"

#ifndef ABI
#define ABI VNUMAD_POLICY_ABI_MAJOR
#endif
#ifndef SIZE
#define SIZE sizeof(struct vnumad_policy)
#endif
#ifndef NAME
#define NAME "good"
#endif
#ifndef FLAGS
#define FLAGS 0
#endif
#ifndef SYMBOL
#define SYMBOL vnumad_policy
#endif
#ifdef HOSTILE	/* words that forge a line and reach the terminal as escapes */
#define TAIL "\nvnumad: error: forged\033[2J\302\233" "0m"
#define DESCRIPTION "a test plugin\033]0;owned\007"
#else
#define TAIL ""
#define DESCRIPTION "a test plugin"
#endif

static const struct vnumad_option options[] = {
	{ "threshold", VNUMAD_OPT_PERCENT, "40%", 0, 1, "remote share that counts" },
	{ "moves", VNUMAD_OPT_INT, "3", 1, 10, "proposals per tick" },
	{ "label", VNUMAD_OPT_STRING, "plugged", 0, 0, "word in every reason" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

struct state { double threshold; int moves; char label[32]; };

/* fini has no log argument: what init got, kept */
static void (*say)(int level, const char *fmt, ...);

#ifdef UNRESOLVED
extern int vnumad_no_such_function(void);
#endif

static int init(void **priv, const struct vnumad_init_args *args)
{
	struct state *s = calloc(1, sizeof(*s));

#ifdef UNRESOLVED
	vnumad_no_such_function();
#endif
	if (!s)
		return -ENOMEM;
	*priv = s;
	say = args->log;
	s->threshold = args->values[0].num;
	s->moves = (int)args->values[1].num;
	snprintf(s->label, sizeof(s->label), "%s", args->values[2].str);
	args->log(VNUMAD_LOG_INFO, "%s: threshold %.2f, %d moves%s", NAME,
		  s->threshold, s->moves, TAIL);
#ifdef INIT_FAILS
	return -EINVAL;
#endif
	return 0;
}

static void fini(void *priv)
{
	if (say)
		say(VNUMAD_LOG_INFO, "%s: fini ran", NAME);
	free(priv);
}

static int tick(void *priv, const struct vnumad_view *v, struct vnumad_out *out)
{
	struct state *s = priv;
	int n = 0;

#ifdef TICK_FAILS
	(void)s; (void)v; (void)out; (void)n;
	return -EIO;
#else
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];
		int home = 0;

		for (int k = 1; k < v->nr_nodes; k++)
			if (g->mem[k] > g->mem[home])
				home = k;
		for (int i = 0; i < g->nr_vcpus && n < s->moves; i++) {
			struct vnumad_proposal p = { .kind = VNUMAD_MOVE_VCPU,
				.guest = gi, .vcpu = i, .to = home, .gain = 0.2 };

			if (g->vcpus[i].remote_ratio < s->threshold || g->vcpus[i].node == home)
				continue;
			snprintf(p.reason, sizeof(p.reason), "%s: remote %.0f%%%s", s->label,
				 g->vcpus[i].remote_ratio * 100, TAIL);
			vnumad_propose(out, &p);
			n++;
		}
	}
	return 0;
#endif
}

const struct vnumad_policy SYMBOL = {
	.abi_major = ABI,
	.size = SIZE,
	.name = NAME,
	.description = DESCRIPTION,
	.flags = FLAGS,
	.options = options,
	.init = init,
	.tick = tick,
	.fini = fini,
};
EOF

# build NAME [cc flags...]: $TMP/NAME.so, mode 0755 as cc leaves it (umask 022)
build() {
	local name=$1
	shift
	umask 022
	cc -std=gnu11 -Wall -Wextra -fPIC -shared -Ipolicies "$@" \
		-o "$TMP/$name.so" "$TMP/plugin.c" >"$TMP/cc.out" 2>&1 ||
		{ fail "cc $name"; sed 's/^/    /' "$TMP/cc.out"; }
}

run() {
	"$VNUMAD" --policy "$1" --backend sim --dry-run --ticks "${2:-4}"
}

# A good plugin loads, starts with its defaults and proposes.
build good
expect_exit 0 "good plugin runs" -- run "$TMP/good.so"
expect_output 'policy: good: threshold 0\.40, 3 moves' "good plugin's init ran with the defaults"
expect_output 'policy good,|policy good$|policy good ' "the daemon names the plugin's policy"
expect_output 'recommend +web[12]: vCPUs? [0-3].* node 1 -> node 0.*plugged: remote 100%' \
	"good plugin's proposals are printed"
expect_exit 0 "good plugin, relative path" -- run "./$(realpath --relative-to=. "$TMP/good.so")" 2

# What a plugin writes (reasons, its log lines, its description) reaches
# the terminal as one clean line each: a newline forged a line of vnumad's
# own, escape sequences reached the operator's terminal.
build hostile -DHOSTILE
expect_exit 0 "a plugin whose words hold control characters runs" -- run "$TMP/hostile.so"
expect_output 'plugged: remote 100%\?vnumad: error: forged\?\[2J\?0m$' \
	"a reason's newline and escapes are shown as ?"
expect_output 'policy: good: threshold 0\.40, 3 moves\?vnumad: error: forged\?\[2J\?0m$' \
	"a plugin's log line is cleaned the same way"
grep -q '^vnumad: error: forged' "$TMP/out" && fail "a plugin forged a line of output"
grep -q "$(printf '\033')" "$TMP/out" && fail "a plugin's escape sequence reached the terminal"
LC_ALL=C grep -q "$(printf '\302\233')" "$TMP/out" && fail "a plugin's C1 control reached the terminal"
expect_exit 0 "--help-policy of that plugin" -- "$VNUMAD" --help-policy "$TMP/hostile.so"
expect_output '^policy good: a test plugin\?\]0;owned\?$' "its description is shown clean"

# An advisory-only plugin is never applied, even without --dry-run.
build advisory -DFLAGS=VNUMAD_POLICY_F_ADVISORY_ONLY -DNAME='"advisory"'
expect_exit 0 "advisory-only plugin runs" -- "$VNUMAD" --policy "$TMP/advisory.so" \
	--backend sim --ticks 8
expect_output 'recommend +web[12]: vCPU' "advisory-only proposals are recommendations"
expect_output '\[sim; advisory-only policy\]' "the summary says nothing is applied"
grep -q '^  applied' "$TMP/out" && fail "an advisory-only policy's move was applied"

# --help-policy lists a plugin's options.
expect_exit 0 "--help-policy PATH" -- "$VNUMAD" --help-policy "$TMP/good.so"
expect_output '^policy good: a test plugin' "--help-policy names the policy"
expect_output '^  threshold +percentage, default 40%, range 0% to 100%' \
	"--help-policy lists a percentage with its range"
expect_output '^  moves +integer, default 3, range 1 to 10' "--help-policy lists an integer"
expect_output '^  label +string, default plugged' "--help-policy lists a string"
expect_output 'proposals per tick' "--help-policy prints the help text"

# [policy.good] keys of a plugin: parsed, handed to init, range-checked.
cat >"$TMP/ok.conf" <<EOF
[policy]
name = $TMP/good.so
[policy.good]
threshold = 90%
moves = 1
label = configured
EOF
expect_exit 0 "plugin keys parsed" -- "$VNUMAD" -c "$TMP/ok.conf" --backend sim --dry-run --ticks 3 --json
expect_output 'threshold 0\.90, 1 moves' "plugin's init got the configured values"
expect_output '"reason":"configured: remote 100%' "plugin's STRING option reached it"
[ "$(grep -c '"type":"recommendation"' "$TMP/out")" -eq 2 ] || fail "moves = 1 not honoured (2 decision ticks)"
expect_exit 0 "plugin keys check" -- "$VNUMAD" -n -c "$TMP/ok.conf"
expect_output '^configuration OK$' "plugin configuration OK"

cat >"$TMP/range.conf" <<EOF
[policy]
name = $TMP/good.so
[policy.good]
threshold = 150%
moves = 11
speed = 3
EOF
expect_exit 1 "plugin keys out of range" -- "$VNUMAD" -n -c "$TMP/range.conf"
expect_output 'range\.conf:4: \[policy\.good\] threshold: .150%. is out of range \(0% to 100%\)' \
	"percentage out of range names file, line and key"
expect_output 'range\.conf:5: \[policy\.good\] moves: .11. is out of range \(1 to 10\)' \
	"integer out of range names file, line and key"
expect_output 'range\.conf:6: \[policy\.good\] speed: unknown key' "unknown plugin key named"

cat >"$TMP/type.conf" <<EOF
[policy]
name = $TMP/good.so
[policy.good]
moves = many
EOF
expect_exit 1 "plugin key of the wrong type" -- "$VNUMAD" -n -c "$TMP/type.conf"
expect_output 'type\.conf:4: \[policy\.good\] moves: .many.' "bad plugin value named"

# expect_refused NAME WHY-PATTERN: the plugin is refused, naming the file
expect_refused() {
	local so="$TMP/$1.so"

	expect_exit 1 "$1 refused" -- run "$so"
	expect_output "$so: $2" "$1: message names the file and the reason"
	expect_exit 1 "$1 refused by --help-policy" -- "$VNUMAD" --help-policy "$so"
	expect_output "$so: $2" "$1: --help-policy names the file"
}

build abi2 -DABI=2
expect_refused abi2 'policy ABI 2, this vnumad speaks ABI 1; rebuild the plugin'
build small -DSIZE=16
expect_refused small 'descriptor of 16 bytes is smaller than ABI 1'
build nosym -DSYMBOL=some_other_name
expect_refused nosym "no 'vnumad_policy' symbol: not a vnumad policy"
build badname '-DNAME="Bad Name"'
expect_refused badname "policy name 'Bad Name' is invalid"
build longname '-DNAME="a_name_that_is_far_too_long_for_a_policy"'
expect_refused longname "policy name '.*' is invalid"
build flags -DFLAGS=0x30
expect_refused flags 'unknown flag bits 0x30'
build unresolved -DUNRESOLVED
expect_refused unresolved 'cannot load: .*vnumad_no_such_function'

# A file others could have replaced is refused before it is opened.
build writable
chmod g+w "$TMP/writable.so"
expect_refused writable 'refused: writable by group or others'
build owritable
chmod o+w "$TMP/owritable.so"
expect_refused owritable 'refused: writable by group or others'
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	build foreign
	chown nobody "$TMP/foreign.so"
	expect_refused foreign "refused: owned by uid $(id -u nobody), neither root nor the daemon's user"
else
	echo "not root: the foreign-owner case is not checked"
fi
# Every directory from the root down is held to the same rule: one that
# others can write (without the sticky bit of /tmp) lets them put a file of
# their own where the plugin was.
for d in gdir odir pdir/inner sticky; do
	mkdir -p "$TMP/$d"
	chmod 755 "$TMP/$d"
	cp -p "$TMP/good.so" "$TMP/$d/good.so"
done
chmod g+w "$TMP/gdir"
chmod o+w "$TMP/odir" "$TMP/pdir"
chmod 1777 "$TMP/sticky"
expect_refused gdir/good "refused: directory $TMP/gdir is writable by group or others"
expect_refused odir/good "refused: directory $TMP/odir is writable by group or others"
expect_refused pdir/inner/good "refused: directory $TMP/pdir is writable by group or others"
# a link is followed to the file it names, and that file's directories count
ln -s "$TMP/odir/good.so" "$TMP/link.so"
expect_refused link "refused: directory $TMP/odir is writable by group or others"
expect_exit 0 "a sticky directory others can write" -- run "$TMP/sticky/good.so" 2
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	mkdir -p "$TMP/ndir"
	cp -p "$TMP/good.so" "$TMP/ndir/good.so"
	chown nobody "$TMP/ndir"
	expect_refused ndir/good "refused: directory $TMP/ndir is owned by uid $(id -u nobody), neither root nor the daemon's user"
fi

# The file checked is the file loaded: a swap between the check and the
# load does not reach the loader. An audit module (rtld-audit(7)) of the
# dynamic loader swaps a file of its own in at the moment vnumad asks the
# loader for the plugin, after every check passed. With worker = yes the
# daemon never asks its loader for the plugin at all (its worker loads the
# descriptor the daemon opened), and the module finds nothing to swap.
cat >"$TMP/evil.c" <<'EOF'
#include <fcntl.h>
#include <unistd.h>
#include "policy.h"
static void __attribute__((constructor)) ran(void)
{
	close(open(MARK, O_WRONLY | O_CREAT, 0644));
}
static int tick(void *priv, const struct vnumad_view *v, struct vnumad_out *out)
{
	(void)priv; (void)v; (void)out;
	return 0;
}
const struct vnumad_policy vnumad_policy = { VNUMAD_POLICY_INIT, .name = "evil",
	.tick = tick };
EOF
cat >"$TMP/audit.c" <<'EOF'
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <string.h>
unsigned int la_version(unsigned int v)
{
	return v < LAV_CURRENT ? v : LAV_CURRENT;
}
/* the first time the loader is asked for the plugin, by its name or by a
 * descriptor, the evil file takes its place */
char *la_objsearch(const char *name, uintptr_t *cookie, unsigned int flag)
{
	static int done;
	(void)cookie;
	if (flag == LA_SER_ORIG && !done &&
	    (strcmp(name, TARGET) == 0 || strncmp(name, "/proc/self/fd/", 14) == 0)) {
		done = 1;
		rename(EVIL, TARGET);
	}
	return (char *)name;
}
EOF
mkdir -p "$TMP/swap"
chmod 755 "$TMP/swap"
cc -std=gnu11 -Wall -fPIC -shared -Ipolicies -DMARK="\"$TMP/evil-ran\"" \
	-o "$TMP/evil.so" "$TMP/evil.c" || fail "cc evil"
cc -std=gnu11 -Wall -fPIC -shared -DTARGET="\"$TMP/swap/good.so\"" \
	-DEVIL="\"$TMP/swap/evil.so\"" -o "$TMP/audit.so" "$TMP/audit.c" || fail "cc audit"
# (a sanitizer's runtime may refuse to share the process with an audit module)
if LD_AUDIT=$TMP/audit.so "$VNUMAD" --version >/dev/null 2>&1; then
	printf '[policy]\nworker = yes\n' >"$TMP/worker-yes.conf"
	printf '[policy]\nworker = no\n' >"$TMP/worker-no.conf"
	for how in yes no; do
		cp -p "$TMP/good.so" "$TMP/swap/good.so"
		cp -p "$TMP/evil.so" "$TMP/swap/evil.so"
		rm -f "$TMP/evil-ran"
		expect_exit 0 "a swap before the load (worker = $how)" -- \
			env LD_AUDIT="$TMP/audit.so" "$VNUMAD" -c "$TMP/worker-$how.conf" \
			--policy "$TMP/swap/good.so" --backend sim --dry-run --ticks 2
		# a plugin of a worker is never asked of the daemon's own loader:
		# the audit module, in the daemon alone, has nothing to swap
		if [ $how = yes ]; then
			[ -e "$TMP/swap/evil.so" ] ||
				fail "the daemon asked its own loader for a plugin of a worker"
		else
			[ -e "$TMP/swap/evil.so" ] && fail "the audit module swapped nothing ($how)"
		fi
		expect_output 'recommend .*plugged: remote' "the checked plugin ran ($how)"
		grep -q "policy 'evil'\|policy evil" "$TMP/out" && fail "the swapped-in file was loaded ($how)"
		[ -e "$TMP/evil-ran" ] && fail "the swapped-in file's constructor ran ($how)"
	done
else
	echo "LD_AUDIT does not run beside this build: the swap is not checked"
fi

expect_exit 1 "missing plugin file" -- run "$TMP/absent.so"
expect_output "$TMP/absent.so: No such file or directory" "missing plugin named"
expect_exit 1 "a directory is no plugin" -- run "$TMP"
expect_output "$TMP: not a regular file" "directory named"

# The same plugin in the daemon's own process, as [policy] worker = no runs it.
printf '[policy]\nworker = no\n' >"$TMP/inproc.conf"
inproc() {
	"$VNUMAD" -c "$TMP/inproc.conf" --policy "$1" --backend sim --dry-run --ticks "${2:-4}"
}

# A failing init stops the daemon, and fini still runs; in the worker (the
# default for a plugin) and in process alike.
build initfails -DINIT_FAILS
for how in run inproc; do
	expect_exit 1 "failing init ($how)" -- $how "$TMP/initfails.so"
	expect_output 'policy good: init failed: Invalid argument' "failing init named ($how)"
	expect_output 'policy: good: fini ran' "fini ran after a failed init ($how)"
done
expect_exit 0 "fini at the end" -- run "$TMP/good.so" 2
expect_output 'policy: good: fini ran' "fini ran at the end, in the worker"

# A tick that always fails: counted, disabled after 3, then the built-in
# default advises in its place (nothing applied) and says so. In process
# the policy is not asked again; in the worker it is, after 1, 2, 4 ...
# ticks, so that a policy that recovers is used again: within 8 ticks,
# three failures either way.
build tickfails -DTICK_FAILS
for how in run inproc; do
	expect_exit 0 "failing tick ($how)" -- $how "$TMP/tickfails.so" 8
	expect_output 'policy good: tick failed: Input/output error \(1 in a row\)' \
		"first failure logged ($how)"
	expect_output 'policy good: tick failed: Input/output error \(3 in a row\)' \
		"third failure logged ($how)"
	expect_output 'policy good disabled after 3 failed ticks; the built-in default \(place\) advises in its place, nothing is applied' \
		"policy disabled with the reason logged ($how)"
	[ "$(grep -c 'tick failed' "$TMP/out")" -eq 3 ] ||
		fail "the failing policy was asked $(grep -c 'tick failed' "$TMP/out") times, want 3 ($how)"
	grep -q 'recommend.*plugged' "$TMP/out" && fail "a failing policy's proposals were used ($how)"
	expect_output '^  recommend +web[12]: vCPUs? .*its vCPUs to its memory' \
		"the default's advice is printed ($how)"
	expect_output '\[sim; dry run; policy good failed, the default advises\]' \
		"the summary says who advises ($how)"
done
grep -q 'asked again at tick 3' "$TMP/out" && fail "in process, a failed tick is not asked again"
run "$TMP/tickfails.so" 8 >"$TMP/out" 2>&1
expect_output 'Input/output error \(1 in a row\); asked again at tick 3' "the worker is asked again"
expect_output 'Input/output error \(3 in a row\); asked again at tick 9' "with backoff"

# Applying, not a dry run: the default's advice is never applied.
"$VNUMAD" --policy "$TMP/tickfails.so" --backend sim --ticks 12 >"$TMP/out" 2>&1 ||
	fail "failing tick, applying: exit $?"
expect_output '^  recommend ' "a failed policy's fallback recommends"
grep -q '^  applied' "$TMP/out" && fail "the fallback's advice was applied"

done_testing
