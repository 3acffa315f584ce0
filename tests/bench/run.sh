#!/bin/bash
# make bench: runs every benchmark program, prints one table with each figure
# beside its goal and a pass/miss mark, and writes the same to bench.json.
#
# A benchmark is an executable listed in tests/bench/list (one command per
# line, run from the repository root with $B set). It prints lines
#
#   BENCH name=<id> value=<number> unit=<unit> goal=<number|-> dir=<min|max|->
#         [level=detail] desc=<words to the end of the line>
#
# where dir=min means "at least goal" and dir=max "at most goal". A figure
# with level=detail (one per scenario and policy, say) goes to bench.json,
# marked "detail": true, and to the table in bench.log, but not to the table
# printed, which would drown the summary figures. Anything else a program
# prints goes to bench.log. QUICK=1 asks each program for a short run (they
# read $QUICK) so that `make check` can keep the report from rotting.
#
# The table begins with the machine the figures came from: they mean little
# without it. BENCH_OUT names the directory for bench.json and bench.log
# (default: the repository root; make check's run writes to its own).
set -u
cd "$(dirname "$0")/../.."
B=${B:-build/default}
export B QUICK=${QUICK:-}
BENCH_OUT=${BENCH_OUT:-.}
json=$BENCH_OUT/bench.json
blog=$BENCH_OUT/bench.log
out=$(mktemp)
trap 'rm -f "$out"' EXIT
: >"$blog"
status=0

# CPU model (x86 and most others say "model name"), CPUs online, kernel, date
cpu=$(sed -n 's/^\(model name\|Model\|cpu model\)[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -1)
vm=
grep -qw hypervisor /proc/cpuinfo 2>/dev/null && vm=" (virtual machine)"
machine="machine: ${cpu:-$(uname -m)}, $(nproc) CPUs$vm, kernel $(uname -r), $(date '+%Y-%m-%d %H:%M %Z')"
echo "$machine" >>"$blog"

while IFS= read -r cmd; do
	case "$cmd" in ''|'#'*) continue ;; esac
	echo "== $cmd" >>"$blog"
	if ! bash -c "$cmd" >"$out.cur" 2>>"$blog"; then
		echo "bench: '$cmd' failed (see $blog)" >&2
		status=1
	fi
	grep '^BENCH ' "$out.cur" >>"$out"
	grep -v '^BENCH ' "$out.cur" >>"$blog"
done <tests/bench/list
rm -f "$out.cur"

# one table, one JSON array, from the same lines; the table in bench.log
# has every figure, the one printed leaves the detail out
awk -v json="$json" -v logfile="$blog" -v quick="$QUICK" -v machine="$machine" '
function field(k,   i, s) {
	for (i = 2; i <= NF; i++)
		if (index($i, k "=") == 1) {
			s = substr($i, length(k) + 2)
			if (k == "desc") { for (i++; i <= NF; i++) s = s " " $i }
			return s
		}
	return "-"
}
function out(line, detail) {
	if (!detail) print line
	print line >> logfile
}
BEGIN {
	n = 0; nd = 0
	printf "\n== every figure\n" >> logfile
	out(machine, 0)
	out(sprintf("%-44s %14s %-10s %12s  %s", "figure", "value", "unit", "goal", ""), 0)
}
{
	name = field("name"); v = field("value"); u = field("unit")
	g = field("goal"); d = field("dir"); desc = field("desc")
	detail = field("level") == "detail"
	nd += detail
	mark = ""
	if (g != "-" && d == "min") mark = (v + 0 >= g + 0) ? "pass" : "MISS"
	if (g != "-" && d == "max") mark = (v + 0 <= g + 0) ? "pass" : "MISS"
	goal = g == "-" ? "" : (d == "min" ? ">= " : "<= ") g
	out(sprintf("%-44s %14s %-10s %12s  %s", name, v, u, goal, mark), detail)
	gsub(/"/, "\\\"", desc)
	rows[n++] = sprintf("  {\"name\": \"%s\", \"value\": %s, \"unit\": \"%s\", \"goal\": %s, \"direction\": \"%s\"%s, \"description\": \"%s\"}",
		name, v, u, g == "-" ? "null" : g, d == "min" ? "higher-is-better" : d == "max" ? "lower-is-better" : "none",
		detail ? ", \"detail\": true" : "", desc)
}
END {
	printf "[\n" > json
	for (i = 0; i < n; i++) printf "%s%s\n", rows[i], i + 1 < n ? "," : "" > json
	printf "]\n" > json
	out(sprintf("\n%d figures%s%s; bench.json written", n,
		nd ? sprintf(" (%d per-scenario figures in bench.json and bench.log only)", nd) : "",
		quick != "" ? ", QUICK run" : ""), 0)
}' "$out"
exit $status
