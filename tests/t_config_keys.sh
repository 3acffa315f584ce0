#!/bin/bash
# Every key the parser knows is in etc/vnumad.conf and in vnumad.conf(5),
# and neither documents a key the parser does not know; every value
# etc/vnumad.conf gives is the table's default (vnumad -n -v prints the
# configuration in effect: the example file against no file at all, under
# each built-in policy, so that every policy's options are compared too);
# and every default vnumad.conf(5) gives is the parser's.
. "$(dirname "$0")/lib.sh"

"$VNUMAD" --list-config-keys | sort -u >"$TMP/parser"
[ -s "$TMP/parser" ] || fail "--list-config-keys printed nothing"

# etc/vnumad.conf: "key = value" lines, also commented out ("# key =")
awk '/^\[/ { gsub(/[][]/, ""); sec = $0; next }
     /^(# )?[a-z_]+ =/ { sub(/^# /, ""); print sec, $1 }' etc/vnumad.conf |
	sort -u >"$TMP/example"

# vnumad.conf.5: ".SH [section]" headings and ".BR key " = " default" items
awk '/^\.SH \[/ { s = $2; gsub(/[][]/, "", s); sec = s; next }
     /^\.SH / { sec = "" }
     sec != "" && /^\.BR [a-z_]+ " = "/ { print sec, $2 }' rebalancer/vnumad.conf.5 |
	sort -u >"$TMP/manual"

for f in example manual; do
	if ! diff -u "$TMP/parser" "$TMP/$f" >"$TMP/diff"; then
		fail "keys differ between the parser (-) and $f (+)"
		sed 's/^/    /' "$TMP/diff"
	fi
done
echo "$(wc -l <"$TMP/parser") keys agree"

: >"$TMP/empty.conf"
for p in $(sed -n 's/^policy\.\([a-z0-9_-]*\) .*/\1/p' "$TMP/parser" | sort -u); do
	"$VNUMAD" -n -v -c etc/vnumad.conf --policy "$p" | sed 's/ *#.*//' >"$TMP/example.$p"
	"$VNUMAD" -n -v -c "$TMP/empty.conf" --policy "$p" | sed 's/ *#.*//' >"$TMP/default.$p"
	[ -s "$TMP/default.$p" ] || fail "vnumad -n -v printed nothing for policy $p"
	if ! diff -u "$TMP/default.$p" "$TMP/example.$p" >"$TMP/diff"; then
		fail "etc/vnumad.conf (+) differs from the built-in defaults (-) under policy $p"
		sed 's/^/    /' "$TMP/diff"
	fi
done
# "section key value" of the defaults in effect: [policy] name as no
# --policy leaves it, each policy's own keys under that policy
"$VNUMAD" -n -v -c "$TMP/empty.conf" | sed 's/ *#.*//' >"$TMP/default"
for f in "$TMP"/default "$TMP"/default.*; do
	awk -v all="$([ "$f" = "$TMP/default" ] && echo 1)" '
	     /^\[/ { gsub(/[][]/, ""); sec = $0; next }
	     /^[a-z_]+ *=/ && (all || sec ~ /^policy\./) {
		k = $1; sub(/^[^=]*= */, ""); print sec, k, $0 }' "$f"
done | sort -u >"$TMP/defaults"

# the default vnumad.conf(5) gives each key is the parser's: sizes,
# durations and numbers compared in one unit each ("2.5GB" is "2.33 GiB")
cat >"$TMP/norm.awk" <<'AWK'
function norm(v,   x, u, f) {
	v = tolower(v)
	gsub(/[ \t]/, "", v)
	if (v == "(empty)" || v == "(unset)")
		return ""
	if (!match(v, /^[0-9.]+(e[-+]?[0-9]+)?/))
		return v
	x = substr(v, 1, RLENGTH) + 0
	u = substr(v, RLENGTH + 1)
	f["b"] = 1; f["kb"] = 1e3; f["mb"] = 1e6; f["gb"] = 1e9; f["tb"] = 1e12
	f["kib"] = 2^10; f["mib"] = 2^20; f["gib"] = 2^30; f["tib"] = 2^40
	f["ms"] = 1e-3; f["s"] = 1; f["min"] = 60; f["h"] = 3600; f["d"] = 86400
	if (u == "" || x == 0)
		return sprintf("%.3g", x)
	if (u == "%")
		return sprintf("%.3g%%", x)
	if (!(u in f))
		return v
	return sprintf("%.3g%s", x * f[u], u ~ /b$/ ? "B" : "s")
}
FNR == NR { k = $1 " " $2; $1 = $2 = ""; eff[k] = norm($0); next }
/^\.SH \[/ { s = $2; gsub(/[][]/, "", s); sec = s; next }
/^\.SH / { sec = "" }
sec != "" && /^\.BR [a-z_]+ " = "/ {
	k = sec " " $2
	v = $0
	sub(/^\.BR [a-z_]+ " = " ?/, "", v)
	gsub(/\\-/, "-", v)
	gsub(/"/, "", v)
	n++
	if (!(k in eff))
		print "vnumad.conf(5): " k ": not in the configuration in effect"
	else if (norm(v) != eff[k])
		print "vnumad.conf(5): " k " = " v ", the parser's default is " eff[k]
}
END { if (!n) print "vnumad.conf(5): no default found" }
AWK
awk -f "$TMP/norm.awk" "$TMP/defaults" rebalancer/vnumad.conf.5 >"$TMP/man-defaults"
if [ -s "$TMP/man-defaults" ]; then
	fail "defaults in vnumad.conf(5) differ from the parser's"
	sed 's/^/    /' "$TMP/man-defaults"
else
	echo "every default in vnumad.conf(5) is the parser's"
fi
done_testing
