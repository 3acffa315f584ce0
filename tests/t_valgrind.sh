#!/bin/bash
# valgrind finds no leak and no memory error in a decision round on the demo,
# nor in a run that applies moves and judges them, nor in the daemon's side
# of a plugin in its worker, well-behaved or crashing.
. "$(dirname "$0")/lib.sh"

command -v valgrind >/dev/null || skip "valgrind is not installed"
[ -z "${SANITIZE:-}" ] || skip "a sanitizer build cannot run under valgrind"

vg() {
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
		--track-fds=no "$@"
}
expect_exit 0 "valgrind: --once on the demo" -- vg "$VNUMAD" -c etc/vnumad.conf \
	--backend sim --scenario sim/scenarios/demo.ini --dry-run --once
expect_output 'recommend' "the run decided something"
expect_exit 0 "valgrind: 30 applied ticks" -- vg "$VNUMAD" -c etc/vnumad.conf \
	--backend sim --ticks 30 --json
expect_output '"verdict":"kept"' "the run judged moves"

command -v cc >/dev/null || { echo "no C compiler: no plugin run"; done_testing; }
chmod 755 "$TMP"
mkdir -p "$TMP/inc/vnumad"
cp policies/policy.h "$TMP/inc/vnumad/"
umask 022
cc -std=c11 -fPIC -shared -I"$TMP/inc" -o "$TMP/example.so" policies/example/example.c ||
	fail "cc example"
cat >"$TMP/crash.c" <<'EOF'
#include "policy.h"
static int tick(void *priv, const struct vnumad_view *v, struct vnumad_out *out)
{
	(void)priv; (void)out;
	if (v->tick >= 2)
		*(volatile int *)16 = 1;
	return 0;
}
const struct vnumad_policy vnumad_policy = { VNUMAD_POLICY_INIT, .name = "crash", .tick = tick };
EOF
cc -std=gnu11 -fPIC -shared -Ipolicies -o "$TMP/crash.so" "$TMP/crash.c" || fail "cc crash"
expect_exit 0 "valgrind: a plugin in its worker" -- vg "$VNUMAD" --policy "$TMP/example.so" \
	--backend sim --dry-run --ticks 6
expect_output 'recommend' "the plugin decided something"
expect_exit 0 "valgrind: a crashing plugin in its worker" -- vg "$VNUMAD" \
	--policy "$TMP/crash.so" --backend sim --dry-run --ticks 20
expect_output 'policy crash disabled after 3 failed ticks' "the plugin failed"
done_testing
