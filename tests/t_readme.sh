#!/bin/bash
# The README's example output is what the commands print: each line of the
# demo's example (ticks, recommendations, reminders, moves, verdicts) is a
# line of the advisory golden files, which tests/run.sh compares with the
# real binary's output. A line ending in "..." stands for its beginning.
. "$(dirname "$0")/lib.sh"

golden="tests/golden/advisory/demo.out tests/golden/advisory/demo-applied.out"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	if [[ "$line" == *": ..." ]]; then
		prefix=${line%...}
		grep -qF -- "$prefix" $golden ||
			fail "README example line not printed by the demo: $line"
	else
		grep -qxF -- "$line" $golden ||
			fail "README example line not printed by the demo: $line"
	fi
done < <(sed -En 's/^    (tick [0-9]+ \(|  (recommend|changed|withdrawn|still recommended|applied|verdict) )/\1/p' README.md)
[ "$n" -ge 6 ] || fail "found $n example lines in README.md, the test no longer sees them"
done_testing
