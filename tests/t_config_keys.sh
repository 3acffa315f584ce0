#!/bin/bash
# Every key the parser knows is in etc/vnumad.conf and in vnumad.conf(5),
# and neither documents a key the parser does not know.
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
done_testing
