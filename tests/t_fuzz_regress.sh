#!/bin/bash
# Replays every fuzz input kept in the tree through the fuzz targets built
# without libFuzzer (tests/fuzz/standalone.c; the build's sanitizers, if
# any): the seed corpora tests/fuzz/corpus/NAME/ and the inputs of findings
# tests/fuzz/crashes/NAME/. An input that crashes, hangs (10 s) or makes a
# sanitizer report fails the test; a finding's input fails it until fixed.
. "$(dirname "$0")/lib.sh"

for name in config scenario trace numa_maps journal control http; do
	bin=$B/tests/fuzz/replay_$name
	[ -x "$bin" ] || skip "$bin is not built (make check builds it)"
	dirs=()
	for d in "tests/fuzz/corpus/$name" "tests/fuzz/crashes/$name"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	# one input per run: a crash names its input, and the rest still run
	n=0 bad=0
	while IFS= read -r -d '' f; do
		n=$((n + 1))
		out=$(ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
			timeout 10 "$bin" "$f" 2>&1)
		rc=$?
		if [ $rc -ne 0 ] || grep -q 'ERROR: \(Address\|Leak\|Undefined\)Sanitizer\|runtime error:' <<<"$out"; then
			bad=$((bad + 1))
			fail "$name: $f: exit $rc"
			grep -E 'ERROR:|runtime error|SUMMARY|^    #[0-9] ' <<<"$out" | head -8 | sed 's/^/    /'
		fi
	done < <(find "${dirs[@]}" -type f ! -name '.*' ! -name README -print0 | sort -z)
	echo "$name: $n inputs replayed, $bad failed"
done
done_testing
