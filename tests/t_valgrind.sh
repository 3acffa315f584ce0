#!/bin/bash
# valgrind finds no leak and no memory error in a decision round on the demo,
# nor in a run that applies moves and judges them.
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
done_testing
