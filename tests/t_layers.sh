#!/bin/bash
# The layers of the tree only look down: base, then core (with the plugin
# ABI and the built-in policies), then backend (with sampling/ and the
# simulated host), then the programs (daemon/, sim/harness). Checked three
# ways: every source is listed in exactly one module.mk; no source includes
# a header of a layer above its own; and the calls among the stage files of
# the tick (read from their objects' symbols) have no circle.
. "$(dirname "$0")/lib.sh"

# layer of a directory, 0 lowest; -1 for a file outside the layering
layer_of() {
	case "$1" in
	rebalancer/base/*) echo 0 ;;
	policies/*) echo 1 ;;
	rebalancer/core/*) echo 1 ;;
	rebalancer/backend/* | sampling/* | sim/*.[ch]) echo 2 ;;
	rebalancer/daemon/* | rebalancer/worker/* | sim/harness/* | sim/tools/*) echo 3 ;;
	*) echo -1 ;;
	esac
}

# 1. every library and program source is named by exactly one module.mk
srcs=$(git ls-files 'rebalancer/*.c' 'policies/*.c' 'sampling/*.c' 'sim/*.c' |
	grep -v '^policies/example/')
for f in $srcs; do
	n=$(git ls-files '*module.mk' | xargs grep -l -- "$f" | wc -l)
	case "$f" in
	rebalancer/daemon/main.c | sampling/bench-sampling.c | sim/tools/*)
		# programs: their object is named by the rule that links them
		n=$(git ls-files '*module.mk' | xargs grep -l -- "${f%.c}.o" | wc -l)
		[ "$n" -ge 1 ] || fail "$f: no module.mk names it" ;;
	*)
		[ "$n" -eq 1 ] || fail "$f: named by $n module.mk files, want 1" ;;
	esac
done

# 2. a quoted include names a header of the same layer or one below; the
# policies see policy.h and policies.h alone
where=$(mktemp)
git ls-files 'rebalancer/*.h' 'policies/*.h' 'sampling/*.h' 'sim/*.h' >"$where"
for f in $(git ls-files 'rebalancer/*.[ch]' 'policies/*.[ch]' 'sampling/*.[ch]' 'sim/*.[ch]' |
	grep -v '^policies/example/'); do
	mine=$(layer_of "$f")
	grep -o '^#include "[^"]*"' "$f" | sed 's/#include "\(.*\)"/\1/' | while read -r h; do
		case "$h" in
		*/*) echo "FAIL: $f includes \"$h\" by a path; the layer's -I finds headers" ;;
		esac
		hp=$(grep -E "(^|/)$h\$" "$where" | head -1)
		[ -n "$hp" ] || continue	# generated (demo_scenario.h)
		theirs=$(layer_of "$hp")
		if [ "$theirs" -gt "$mine" ]; then
			echo "FAIL: $f (layer $mine) includes $hp (layer $theirs)"
		fi
		case "$f" in
		policies/*)
			case "$h" in
			policy.h | policies.h) ;;
			*) echo "FAIL: $f includes $h; a policy sees the plugin ABI alone" ;;
			esac ;;
		esac
	done
done >"$TMP/includes"
rm -f "$where"
if [ -s "$TMP/includes" ]; then
	cat "$TMP/includes"
	nfail=$((nfail + $(wc -l <"$TMP/includes")))
fi

# 3. the stage files' calls to one another form no circle
stages="inventory sample model guard publish plugin arbiter actuate record"
objdir=$B/rebalancer/core
if [ -f "$objdir/arbiter.o" ]; then
	for st in $stages; do
		nm -u "$objdir/$st.o" | awk '{ print $2 }' | sort >"$TMP/$st.u"
		nm --defined-only "$objdir/$st.o" | awk '$2 ~ /^[TDRB]$/ { print $3 }' |
			sort >"$TMP/$st.d"
	done
	: >"$TMP/edges"
	for a in $stages; do
		for b in $stages; do
			[ "$a" = "$b" ] && continue
			if [ -n "$(comm -12 "$TMP/$a.u" "$TMP/$b.d")" ]; then
				echo "$a $b" >>"$TMP/edges"
				echo "stage $a calls $b: $(comm -12 "$TMP/$a.u" "$TMP/$b.d" | tr '\n' ' ')"
			fi
		done
	done
	if ! tsort "$TMP/edges" >/dev/null 2>"$TMP/loop"; then
		fail "the stage files call one another in a circle: $(tr '\n' ' ' <"$TMP/loop")"
	fi
else
	fail "$objdir/arbiter.o is not built: make first"
fi

done_testing
