#!/bin/bash
# make bench QUICK=1: every benchmark runs, prints its figures in one table
# and in bench.json, so that the report cannot rot between full runs.
. "$(dirname "$0")/lib.sh"

[ -z "${SANITIZE:-}" ] || skip "figures from a sanitizer build mean nothing"
export QUICK=1
expect_exit 0 "bench QUICK=1" -- tests/bench/run.sh
expect_output '^figure +value +unit +goal' "the table's header"
expect_output '^core.tick_cpu_ms +[0-9.]+ ms +<= 1 ' "core cost with its goal"
expect_output '^sampling.read_us_per_thread ' "sampling cost"
expect_output '^sim-speed/4-nodes-64-guests ' "simulator speed"
expect_output '^vs-oracle/geomean/locality +0\.[0-9]+ fraction' "policies against the oracle"
expect_output '^guard.harmful_reverted_pct +[0-9.]+ % +>= 95 ' "guard accuracy"
expect_output '^[0-9]+ figures \(QUICK run\); bench.json written$' "the closing line"
n=$(grep -c '"name":' bench.json)
rows=$(sed -n 's/^\([0-9]*\) figures.*/\1/p' "$TMP/out")
[ "$n" = "$rows" ] || fail "bench.json has $n figures, the table $rows"
# every object has the five fields tools read
for k in name value unit goal direction; do
	[ "$(grep -c "\"$k\":" bench.json)" = "$n" ] || fail "not every figure has '$k'"
done
grep -q '"value": -\?[0-9]' bench.json || fail "values are not numbers"
if command -v python3 >/dev/null; then
	python3 -m json.tool bench.json >/dev/null || fail "bench.json is not valid JSON"
fi
done_testing
