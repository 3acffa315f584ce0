#!/bin/bash
# make bench: runs every benchmark program, prints one table with each figure
# beside its goal and a pass/miss mark, and writes the same to bench.json.
#
# A benchmark is an executable listed in tests/bench/list (one command per
# line, run from the repository root with $B set). It prints lines
#
#   BENCH name=<id> value=<number> unit=<unit> goal=<number|-> dir=<min|max|->
#         desc=<words to the end of the line>
#
# where dir=min means "at least goal" and dir=max "at most goal". Anything
# else it prints goes to bench.log. QUICK=1 asks each program for a short run
# (they read $QUICK) so that `make check` can keep the report from rotting.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build/default}
export B QUICK=${QUICK:-}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
: >bench.log
status=0

while IFS= read -r cmd; do
	case "$cmd" in ''|'#'*) continue ;; esac
	echo "== $cmd" >>bench.log
	if ! bash -c "$cmd" >"$out.cur" 2>>bench.log; then
		echo "bench: '$cmd' failed (see bench.log)" >&2
		status=1
	fi
	grep '^BENCH ' "$out.cur" >>"$out"
	grep -v '^BENCH ' "$out.cur" >>bench.log
done <tests/bench/list
rm -f "$out.cur"

# one table, one JSON array, from the same lines
awk -v json=bench.json -v quick="$QUICK" '
function field(k,   i, s) {
	for (i = 2; i <= NF; i++)
		if (index($i, k "=") == 1) {
			s = substr($i, length(k) + 2)
			if (k == "desc") { for (i++; i <= NF; i++) s = s " " $i }
			return s
		}
	return "-"
}
BEGIN { n = 0; printf "%-44s %14s %-10s %12s  %s\n", "figure", "value", "unit", "goal", "" }
{
	name = field("name"); v = field("value"); u = field("unit")
	g = field("goal"); d = field("dir"); desc = field("desc")
	mark = ""
	if (g != "-" && d == "min") mark = (v + 0 >= g + 0) ? "pass" : "MISS"
	if (g != "-" && d == "max") mark = (v + 0 <= g + 0) ? "pass" : "MISS"
	goal = g == "-" ? "" : (d == "min" ? ">= " : "<= ") g
	printf "%-44s %14s %-10s %12s  %s\n", name, v, u, goal, mark
	gsub(/"/, "\\\"", desc)
	rows[n++] = sprintf("  {\"name\": \"%s\", \"value\": %s, \"unit\": \"%s\", \"goal\": %s, \"direction\": \"%s\", \"description\": \"%s\"}",
		name, v, u, g == "-" ? "null" : g, d == "min" ? "higher-is-better" : d == "max" ? "lower-is-better" : "none", desc)
}
END {
	printf "[\n" > json
	for (i = 0; i < n; i++) printf "%s%s\n", rows[i], i + 1 < n ? "," : "" > json
	printf "]\n" > json
	printf "\n%d figures%s; bench.json written\n", n, quick != "" ? " (QUICK run)" : ""
}' "$out"
exit $status
