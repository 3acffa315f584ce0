#!/bin/bash
# Every key the parser knows is in etc/vnumad.conf and in vnumad.conf(5),
# and neither documents a key the parser does not know; every value
# etc/vnumad.conf gives is the table's default (vnumad -n -v prints the
# configuration in effect: the example file against no file at all, under
# each built-in policy, so that every policy's options are compared too).
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
done_testing
