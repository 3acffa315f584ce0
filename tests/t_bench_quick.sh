#!/bin/bash
# make bench QUICK=1: every benchmark runs, prints its figures in one table
# and in bench.json, so that the report cannot rot between full runs. It
# writes bench.json and bench.log to its own directory: a full run's at the
# repository root stay as they were.
. "$(dirname "$0")/lib.sh"

[ -z "${SANITIZE:-}" ] || skip "figures from a sanitizer build mean nothing"
SIM=${VNUMAD_SIM:-$B/vnumad-sim}

# --- vnumad-sim speed --repeat: a positive integer, else a usage error ------
expect_exit 2 "speed --repeat 0" -- "$SIM" speed sim/scenarios/demo.ini --repeat 0
expect_output "--repeat '0': expected a positive integer" "--repeat 0 named"
expect_exit 2 "speed --repeat x" -- "$SIM" speed sim/scenarios/demo.ini --repeat x
expect_output "--repeat 'x': expected a positive integer" "--repeat x named"
expect_exit 2 "--repeat on compare" -- "$SIM" compare sim/scenarios/demo.ini --repeat 3
expect_output "--repeat is for speed" "--repeat is for speed alone"
expect_exit 0 "speed --repeat 3" -- "$SIM" speed sim/scenarios/demo.ini --duration 1min \
	--repeat 3 --name x --goal 1
expect_output 'simulated s per wall s, median of 3 runs \(min [0-9]+, max [0-9]+\)' \
	"speed: the median, min and max"
expect_output '^BENCH name=x value=[0-9]+ unit=sim-s/s goal=1 dir=min desc=.*median of 3 runs' \
	"speed: the BENCH line says median"

# --- the report ---------------------------------------------------------------
export QUICK=1 BENCH_OUT=$TMP
expect_exit 0 "bench QUICK=1" -- tests/bench/run.sh
cp "$TMP/out" "$TMP/table"
expect_output '^machine: .+, [0-9]+ CPUs.*, kernel [^ ]+, [0-9]{4}-[0-9]{2}-[0-9]{2} ' \
	"the machine line"
head -1 "$TMP/table" | grep -q '^machine: ' || fail "the table does not begin with the machine"
grep -q '^machine: ' "$TMP/bench.log" || fail "bench.log does not name the machine"
expect_output '^figure +value +unit +goal' "the table's header"
expect_output '^core.tick_cpu_ms +[0-9.]+ ms +<= 1 ' "core cost with its goal"
expect_output '^sampling.read_us_per_thread ' "sampling cost"
expect_output '^sampling.numa_maps_4k_ms_per_gib +[0-9.]+ ms/GiB' "numa_maps of a real process"
expect_output '^daemon.cpu_pct_of_core +[0-9.]+ % +<= 0.5 ' "the whole daemon's cost with its goal"
expect_output '^sim-speed/4-nodes-64-guests ' "simulator speed"
expect_output '^guard.harmful_reverted_pct +[0-9.]+ % +>= 95 ' "guard accuracy"
expect_output '^numad/no-daemon +[0-9.]+ ms +<= 100 ' "numad -w's answer time"
expect_output '^[0-9]+ figures \([0-9]+ per-scenario figures in bench.json and bench.log only\), QUICK run; bench.json written$' \
	"the closing line"
grep -q '"description": "simulated seconds per wall second through the core, median of 3 runs' \
	"$TMP/bench.json" || fail "the simulator's speed is not a median of 3 runs"

# --- decision quality, per policy: the claims have goals, the rest has none --
# (the default policy is the one of the built-in configuration)
num='-?[0-9]+\.[0-9]+'
def=$(awk '/^\[policy\]/ { f = 1; next } /^\[/ { f = 0 } f && $1 == "name" { print $3; exit }' etc/vnumad.conf)
def=${def:-locality}
expect_output "^policy/$def/vs-oracle-geomean +$num fraction +>= 0\.95  (pass|MISS)$" \
	"the default against the oracle, goal 0.95"
expect_output "^policy/$def/vs-oracle-worst +$num fraction +>= 0\.85  (pass|MISS)$" \
	"the default's worst scenario, goal 0.85"
expect_output "^policy/$def/vs-none-worst +$num fraction +>= 0\.99  (pass|MISS)$" \
	"the default never 1% below none, goal 0.99"
for q in none numad; do
	expect_output "^policy/$def/margin-over-$q +$num % +>= 0  (pass|MISS)$" \
		"the default's margin over $q, goal 0"
done
expect_output "^oracle-bound/highest-policy +$num fraction +<= 1\.01  (pass|MISS)$" \
	"no policy above the oracle, goal 1.01"
# issue 17's goals over the kernel's own balancing, for the default policy
expect_output "^policy/$def/margin-over-kernel +$num % +>= 3  (pass|MISS)$" \
	"the default 3% over kernel"
expect_output "^policy/$def/migrated-over-kernel +$num fraction +<= 1  (pass|MISS)$" \
	"the default migrates less than kernel"
expect_output "^oracle-bound/kernel +$num fraction *$" \
	"kernel's highest fraction of the oracle, no goal"
expect_output "^policy/$def/convergence-median +$num ticks +<= 10  (pass|MISS)$" \
	"the default's convergence, goal 10 ticks"
# the generated families: the same figures, named by family; on validation
# the margin over numad and the GiB against numad's have goals too
for fam in tuning validation; do
	expect_output "^$fam/policy/$def/vs-oracle-geomean +$num fraction +>= 0\.95  (pass|MISS)$" \
		"$fam family: the default against the oracle"
	expect_output "^$fam/oracle-bound/highest-policy +$num fraction +<= 1\.01  (pass|MISS)$" \
		"$fam family: no policy above the oracle"
done
expect_output "^validation/policy/$def/margin-over-numad +$num % +>= 4  (pass|MISS)$" \
	"validation family: the default 4% over numad"
expect_output "^validation/policy/$def/gib-vs-numad +$num fraction +<= 0\.5  (pass|MISS)$" \
	"validation family: at most half numad's GiB"
expect_output "^tuning/policy/$def/gib-vs-numad +$num fraction *$" \
	"tuning family: GiB against numad's, no goal"
for p in none numad static chaos brm locality spread place; do
	[ "$p" = "$def" ] && continue
	expect_output "^policy/$p/vs-oracle-geomean +$num fraction *$" "$p against the oracle, no goal"
done
# every policy compare ran (from its detail rows) has the summary rows
pols=$(sed -n 's/.*"name": "vs-oracle\/demo\/\([a-z_]*\)".*/\1/p' "$TMP/bench.json")
for p in locality spread none numad; do
	grep -qx "$p" <<<"$pols" || fail "compare --bench did not run $p"
done
for p in $pols; do
	for f in vs-oracle-geomean vs-oracle-worst gib-migrated; do
		grep -Eq "^policy/$p/$f +$num " "$TMP/table" || fail "no policy/$p/$f in the table"
	done
	[ "$p" = none ] || grep -Eq "^policy/$p/margin-over-none +$num " "$TMP/table" ||
		fail "no policy/$p/margin-over-none in the table"
	grep -q "\"name\": \"policy/$p/vs-oracle-worst\".*\"description\": \".*worst scenario of [0-9]*, [a-z_]*\"" \
		"$TMP/bench.json" || fail "policy/$p/vs-oracle-worst does not name its scenario"
done

# --- the per-scenario figures: in bench.json and bench.log, not the table ---
grep -Eq '^(oracle|vs-oracle)/' "$TMP/table" && fail "per-scenario figures in the printed table"
grep -q '"name": "vs-oracle/demo/locality", .*"detail": true' "$TMP/bench.json" ||
	fail "vs-oracle/demo/locality is not a detail figure of bench.json"
grep -q '"name": "oracle/demo", .*"detail": true' "$TMP/bench.json" ||
	fail "oracle/demo is not a detail figure of bench.json"
grep -Eq '^vs-oracle/demo/locality +0\.[0-9]+ fraction' "$TMP/bench.log" ||
	fail "bench.log's table lacks the per-scenario figures"
grep -q '"name": "policy/.*"detail"' "$TMP/bench.json" && fail "a summary figure is marked detail"

# --- the counts agree -------------------------------------------------------
n=$(grep -c '"name":' "$TMP/bench.json")
nd=$(grep -c '"detail": true' "$TMP/bench.json")
total=$(sed -n 's/^\([0-9]*\) figures.*/\1/p' "$TMP/table")
detail=$(sed -n 's/^[0-9]* figures (\([0-9]*\) per-scenario.*/\1/p' "$TMP/table")
rows=$(awk '/^figure / { f = 1; next } f && /^$/ { exit } f { n++ } END { print n + 0 }' "$TMP/table")
[ "$n" = "$total" ] || fail "bench.json has $n figures, the closing line says $total"
[ "$nd" = "$detail" ] || fail "bench.json has $nd detail figures, the closing line says $detail"
[ "$nd" -ge 50 ] || fail "only $nd per-scenario figures"
[ "$rows" = $((n - nd)) ] || fail "the table has $rows rows, want $n - $nd"

# --- bench.json: a JSON array; every object has the five fields tools read ---
for k in name value unit goal direction; do
	[ "$(grep -c "\"$k\":" "$TMP/bench.json")" = "$n" ] || fail "not every figure has '$k'"
done
grep -q '"value": -\?[0-9]' "$TMP/bench.json" || fail "values are not numbers"
if command -v python3 >/dev/null; then
	python3 - "$TMP/bench.json" <<'EOF' || fail "bench.json is not a valid array of figures"
import json, sys
figs = json.load(open(sys.argv[1]))
assert isinstance(figs, list) and figs, "not a non-empty array"
for f in figs:
    for k in ("name", "value", "unit", "goal", "direction"):
        assert k in f, f"{f.get('name')}: no {k}"
    assert isinstance(f["value"], (int, float)), f["name"]
    assert f["goal"] is None or isinstance(f["goal"], (int, float)), f["name"]
    assert f["direction"] in ("higher-is-better", "lower-is-better", "none"), f["name"]
    assert f.get("detail", False) in (True, False), f["name"]
EOF
fi
done_testing
