#!/bin/bash
# Instructions per tick of model, guard, policy and arbiter under callgrind,
# on bench-core's host (1,000 guests / 8,000 vCPUs). Instruction counts do
# not depend on how busy the machine is, unlike CPU time.
set -eu
B=${B:-build/default}
command -v valgrind >/dev/null || { echo "# valgrind missing: no instruction count"; exit 0; }
ticks=60
[ -n "${QUICK:-}" ] && ticks=25
out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" \
	--toggle-collect=stage_model --toggle-collect=stage_guard \
	--toggle-collect=stage_policy --toggle-collect=stage_arbiter \
	"$B/tests/bench-core" 1000 8 $ticks >/dev/null 2>&1
ir=$(awk '/^summary:/ { print $2 }' "$out")
[ -n "$ir" ] || { echo "callgrind gave no summary" >&2; exit 1; }
echo "BENCH name=core.tick_instructions value=$((ir / ticks)) unit=instr goal=- dir=- desc=instructions per tick of model+guard+policy+arbiter under callgrind, mean of $ticks ticks, 1000 guests / 8000 vCPUs"
