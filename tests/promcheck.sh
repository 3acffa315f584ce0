#!/bin/bash
# promcheck.sh [FILE|-]: checks a Prometheus text exposition (format 0.0.4)
# strictly, prints every violation as FILE:LINE: message, and exits 1 if
# there was one (2 on bad usage, 0 when the exposition is clean).
#
# What it enforces, beyond what the format document states:
#   - every sample has a # TYPE line for its family before it (the format
#     would let untyped samples go without one);
#   - a family's lines (HELP, TYPE, samples) are contiguous;
#   - counters are named *_total;
#   - values are decimal numbers or exactly NaN, +Inf, -Inf (Go's ParseFloat
#     would also take "inf", "Infinity" or hexadecimal, which nobody writes);
#   - timestamps are integers.
# Comments, blank lines, blanks around label pairs and a trailing comma in a
# label set are accepted, as by Prometheus itself.
set -u
export LC_ALL=C

if [ $# -gt 1 ]; then
	echo "usage: promcheck.sh [FILE|-]" >&2
	exit 2
fi
src=${1:--}
name=$src
[ "$src" = - ] && name="<stdin>"
tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp"' EXIT
if ! cat -- "$src" >"$tmp"; then
	echo "promcheck: cannot read $src" >&2
	exit 2
fi

bad=0
# the format is UTF-8; grep's '.' matches no byte of an invalid sequence
if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
	while IFS=: read -r n _; do
		echo "$name:$n: not valid UTF-8"
		bad=1
	done < <(LC_ALL=C.UTF-8 grep -naxv '.*' "$tmp")
elif ! iconv -f UTF-8 -t UTF-8 "$tmp" >/dev/null 2>&1; then
	echo "$name:1: not valid UTF-8 (somewhere; no C.UTF-8 locale to say where)"
	bad=1
fi
# command substitution strips one trailing newline, and only a newline
if [ -s "$tmp" ] && [ -n "$(tail -c 1 "$tmp")" ]; then
	echo "$name:$(($(wc -l <"$tmp") + 1)): the body does not end with a newline"
	bad=1
fi

awk -v file="$name" '
function err(msg) {
	printf "%s:%d: %s\n    > %s\n", file, NR, msg, substr($0, 1, 100)
	nerr++
}
# The type of family f, "" when it has none (without creating an entry).
function tp(f) {
	return (f in type) ? type[f] : ""
}
function is_float(s) {
	return s ~ /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/ ||
		s == "NaN" || s == "+Inf" || s == "-Inf"
}
# Enters family f, which must not have been left before.
function enter(f) {
	if (f == cur)
		return 1
	if (f in left) {
		err("family " f " is split: its lines are not contiguous (first at line " first[f] ")")
		return 0
	}
	if (cur != "")
		left[cur] = 1
	cur = f
	first[f] = NR
	return 1
}
# "# HELP name doc" and "# TYPE name type"
function directive(kind, rest,    nm, doc, t) {
	if (!match(rest, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) {
		err("# " kind ": invalid metric name")
		return
	}
	nm = substr(rest, 1, RLENGTH)
	rest = substr(rest, RLENGTH + 1)
	if (rest != "" && rest !~ /^[ \t]/) {
		err("# " kind ": invalid metric name")
		return
	}
	sub(/^[ \t]+/, "", rest)
	if (!enter(nm))
		return
	if (nm in samples)
		err("# " kind " for " nm " comes after its samples")
	if (kind == "HELP") {
		if (nm in help)
			err("second # HELP for " nm " (first at line " help[nm] ")")
		help[nm] = NR
		# the docstring knows two escapes: \\ and \n
		doc = rest
		gsub(/\\\\/, "", doc)
		gsub(/\\n/, "", doc)
		if (index(doc, "\\"))
			err("# HELP " nm ": invalid escape sequence in the docstring")
		return
	}
	sub(/[ \t]+$/, "", rest)
	if (nm in type) {
		err("second # TYPE for " nm " (first at line " typeline[nm] ")")
		return
	}
	if (rest !~ /^(counter|gauge|untyped|histogram|summary)$/) {
		err("# TYPE " nm ": \"" rest "\" is not counter, gauge, untyped, histogram or summary")
		rest = "invalid"
	}
	type[nm] = rest
	typeline[nm] = NR
	if (rest == "counter" && nm !~ /_total$/)
		err("counter " nm " is not named *_total")
}
# The family a sample name belongs to: histograms and summaries have several.
function family_of(s,    base) {
	if (tp(cur) == "histogram" && (s == cur "_bucket" || s == cur "_sum" || s == cur "_count"))
		return cur
	if (tp(cur) == "summary" && (s == cur || s == cur "_sum" || s == cur "_count"))
		return cur
	base = s
	if (sub(/_(bucket|sum|count)$/, "", base) && (tp(base) == "histogram" ||
	    (tp(base) == "summary" && s !~ /_bucket$/)))
		return base
	return s
}
function sample(line,    nm, c, ln, lv, n, i, j, k, names, vals, key, f, v, ts) {
	if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) {
		err("invalid metric name")
		return
	}
	nm = substr(line, 1, RLENGTH)
	line = substr(line, RLENGTH + 1)
	n = 0
	if (substr(line, 1, 1) == "{") {
		line = substr(line, 2)
		for (;;) {
			sub(/^[ \t]+/, "", line)
			if (substr(line, 1, 1) == "}")
				break
			if (!match(line, /^[a-zA-Z_][a-zA-Z0-9_]*/)) {
				err("invalid label name")
				return
			}
			ln = substr(line, 1, RLENGTH)
			line = substr(line, RLENGTH + 1)
			if (ln == "__name__")
				err("label name __name__ is reserved")
			sub(/^[ \t]+/, "", line)
			if (substr(line, 1, 1) != "=") {
				err("expected = after label " ln)
				return
			}
			line = substr(line, 2)
			sub(/^[ \t]+/, "", line)
			if (substr(line, 1, 1) != "\"") {
				err("label " ln ": value not in double quotes")
				return
			}
			# the value: only \\, \" and \n may follow a backslash
			lv = ""
			for (i = 2; ; i++) {
				c = substr(line, i, 1)
				if (c == "") {
					err("label " ln ": unterminated value")
					return
				}
				if (c == "\"")
					break
				if (c == "\\") {
					c = substr(line, i + 1, 1)
					if (c != "\\" && c != "\"" && c != "n") {
						err("label " ln ": invalid escape \\" c " (only \\\\, \\\" and \\n)")
						return
					}
					lv = lv "\\" c
					i++
					continue
				}
				lv = lv c
			}
			line = substr(line, i + 1)
			for (j = 1; j <= n; j++)
				if (names[j] == ln)
					err("label " ln " appears twice")
			n++
			names[n] = ln
			vals[n] = lv
			sub(/^[ \t]+/, "", line)
			c = substr(line, 1, 1)
			if (c == ",") {
				line = substr(line, 2)
				continue
			}
			if (c != "}") {
				err("expected , or } after label " ln)
				return
			}
			break
		}
		line = substr(line, 2)
	}
	if (line !~ /^[ \t]/) {
		err(line == "" ? "no value" : "expected a blank before the value, not \"" substr(line, 1, 20) "\"")
		return
	}
	sub(/^[ \t]+/, "", line)
	sub(/[ \t]+$/, "", line)
	v = line
	ts = ""
	if (match(v, /[ \t]+/)) {
		ts = substr(v, RSTART + RLENGTH)
		v = substr(v, 1, RSTART - 1)
	}
	if (v == "")
		err("no value")
	else if (!is_float(v))
		err("value \"" v "\" is not a float (decimal, NaN, +Inf or -Inf)")
	if (ts != "" && ts !~ /^-?[0-9]+$/)
		err("timestamp \"" ts "\" is not an integer (milliseconds)")

	f = family_of(nm)
	if (!enter(f))
		return
	samples[f] = 1
	if (!(f in type))
		err("sample of " f " without a # TYPE line before it")
	for (j = 1; j <= n; j++)
		lab[names[j]] = vals[j]
	if (tp(f) == "histogram") {
		if (nm == f)
			err("histogram " f " has a plain sample; only _bucket, _sum and _count")
		if (nm == f "_bucket" && !("le" in lab))
			err("histogram bucket without an le label")
		if (nm == f "_bucket" && ("le" in lab) && !is_float(lab["le"]))
			err("le=\"" lab["le"] "\" is not a float")
	}
	if (tp(f) == "summary" && nm == f) {
		if (!("quantile" in lab))
			err("summary quantile without a quantile label")
		else if (!is_float(lab["quantile"]))
			err("quantile=\"" lab["quantile"] "\" is not a float")
	}
	for (j = 1; j <= n; j++)
		delete lab[names[j]]

	# the series: name and labels sorted by name
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && names[j - 1] > names[j]; j--) {
			k = names[j]; names[j] = names[j - 1]; names[j - 1] = k
			k = vals[j]; vals[j] = vals[j - 1]; vals[j - 1] = k
		}
	key = nm "{"
	for (j = 1; j <= n; j++)
		if (vals[j] != "")	# an empty label is no label
			key = key names[j] "=\"" vals[j] "\","
	key = key "}"
	if (key in series)
		err("duplicate series " nm " (first at line " series[key] ")")
	else
		series[key] = NR
}
{
	line = $0
	if (index(line, "\r")) {
		err("carriage return: lines end with \\n alone")
		next
	}
	sub(/^[ \t]+/, "", line)
	if (line == "")
		next
	if (substr(line, 1, 1) == "#") {
		rest = substr(line, 2)
		sub(/^[ \t]+/, "", rest)
		if (rest ~ /^(HELP|TYPE)([ \t]|$)/) {
			kind = substr(rest, 1, 4)
			rest = substr(rest, 5)
			if (rest !~ /^[ \t]/) {
				err("# " kind " without a metric name")
				next
			}
			sub(/^[ \t]+/, "", rest)
			directive(kind, rest)
		}
		next
	}
	sample(line)
}
END {
	exit nerr > 0
}
' "$tmp" || bad=1
exit $bad
