#!/bin/bash
# make fuzz: runs each libFuzzer target for FUZZ_TIME seconds from its corpus
# in the tree (tests/fuzz/corpus/NAME, read only) and the one it grows in
# build/fuzz/corpus/NAME, with the dictionary tests/fuzz/NAME.dict. A crash,
# leak, sanitizer report or timeout leaves its input in
# build/fuzz/artifacts/NAME-*: copy it to tests/fuzz/crashes/NAME/ so that
# tests/t_fuzz_regress.sh replays it under make check until it is fixed.
#
#   tests/fuzz/run.sh [NAME...]      (FUZZ_B=build/fuzz FUZZ_TIME=60)
set -u
cd "$(dirname "$0")/../.." || exit 1
FUZZ_B=${FUZZ_B:-build/fuzz}
FUZZ_TIME=${FUZZ_TIME:-60}
[ $# -gt 0 ] || set -- config scenario trace numa_maps journal control http
failed=()
for name in "$@"; do
	bin=$FUZZ_B/fuzz_$name
	[ -x "$bin" ] || { echo "fuzz: $bin is not built (make fuzz-build)"; failed+=("$name"); continue; }
	mkdir -p "$FUZZ_B/corpus/$name" "$FUZZ_B/artifacts"
	dict=()
	[ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
	echo "fuzz: $name for ${FUZZ_TIME}s"
	# per input: 10 s and 2 GiB at most; the tree's corpus only seeds
	"$bin" -max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 "${dict[@]}" \
		-artifact_prefix="$FUZZ_B/artifacts/$name-" \
		"$FUZZ_B/corpus/$name" "tests/fuzz/corpus/$name" \
		>"$FUZZ_B/$name.log" 2>&1
	rc=$?
	grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ +DONE)' "$FUZZ_B/$name.log" |
		sed "s/^/  $name: /"
	if [ $rc -ne 0 ]; then
		failed+=("$name")
		echo "fuzz: $name FOUND A PROBLEM (exit $rc):"
		grep -E 'ERROR:|runtime error|SUMMARY|Test unit written' "$FUZZ_B/$name.log" | head -8 | sed 's/^/    /'
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: findings in: ${failed[*]} (inputs in $FUZZ_B/artifacts/)"
	exit 1
fi
echo "fuzz: no findings"
