#!/bin/bash
# Runs every test of vnumad and ends with the line
#   N passed, N failed, N skipped
#
#   unit      build/*/tests/test_*      cmocka binaries, one result per case
#   golden    tests/golden/config/*.conf  `vnumad -n` output against *.out
#             tests/golden/advisory/*.cmd advisory output against *.out
#   scripts   tests/t_*.sh              exit 0 pass, 77 skip (last line: why)
#
# Environment: B (build directory), SANITIZE, UPDATE_GOLDEN=1 rewrites the
# expected files instead of comparing, T=PATTERN runs matching tests only and
# NOT=PATTERN leaves matching tests out (NOT=t_numavm: all but the VM tests).
set -u
cd "$(dirname "$0")/.."
B=${B:-build/default}
export B VNUMAD="$B/vnumad"
pass=0 fail=0 skip=0
failed=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

ok()   { pass=$((pass + 1)); echo "PASS $1"; }
bad()  { fail=$((fail + 1)); failed+=("$1"); echo "FAIL $1${2:+: $2}"; }
skip() { skip=$((skip + 1)); echo "SKIP $1: $2"; }
want() {
	{ [ -z "${T:-}" ] || [[ "$1" == *$T* ]]; } && { [ -z "${NOT:-}" ] || [[ "$1" != *$NOT* ]]; }
}

# Unit tests: cmocka prints TAP; a binary that dies before its plan is a failure.
for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	want "$name" || continue
	CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$log/$name" 2>&1
	rc=$?
	n=0
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok "$name:${line#*- }"; n=$((n + 1)) ;;
		"not ok "*"# SKIP"*) skip "$name:${line##*# SKIP }" "skipped by the test"; n=$((n + 1)) ;;
		"not ok "*) bad "$name:${line#*- }"; n=$((n + 1)) ;;
		esac
	done <"$log/$name"
	if [ "$n" -eq 0 ] || { [ $rc -ne 0 ] && ! grep -q '^not ok' "$log/$name"; }; then
		bad "$name" "exit $rc without a test result"
	fi
	if grep -q '^not ok [0-9]* - \|ERROR: \(Address\|Undefined\|Leak\)Sanitizer\|runtime error:' "$log/$name"; then
		sed 's/^/    /' "$log/$name" | tail -40
	fi
done

# Normalises output that names this checkout or varies by build.
normalise() {
	sed -e "s|$PWD/||g"
}

# Golden: `vnumad -n -c FILE` prints errors (or "configuration OK") and exits.
for conf in tests/golden/config/*.conf; do
	[ -e "$conf" ] || continue
	name="golden-config:$(basename "$conf" .conf)"
	want "$name" || continue
	exp="${conf%.conf}.out"
	got=$("$VNUMAD" -n -c "$conf" 2>&1; echo "exit $?")
	got=$(printf '%s\n' "$got" | normalise)
	if [ "${UPDATE_GOLDEN:-}" = 1 ]; then
		printf '%s\n' "$got" >"$exp"
		ok "$name (updated)"
	elif [ ! -e "$exp" ]; then
		bad "$name" "no expected output $exp (UPDATE_GOLDEN=1 writes it)"
	elif diff -u "$exp" <(printf '%s\n' "$got") >"$log/diff"; then
		ok "$name"
	else
		bad "$name" "output differs"
		sed 's/^/    /' "$log/diff" | head -30
	fi
done

# Golden: advisory runs; each .cmd holds the arguments of one vnumad run.
for cmd in tests/golden/advisory/*.cmd; do
	[ -e "$cmd" ] || continue
	name="golden-advisory:$(basename "$cmd" .cmd)"
	want "$name" || continue
	exp="${cmd%.cmd}.out"
	# shellcheck disable=SC2046
	got=$("$VNUMAD" $(cat "$cmd") 2>/dev/null; echo "exit $?")
	got=$(printf '%s\n' "$got" | normalise)
	if [ "${UPDATE_GOLDEN:-}" = 1 ]; then
		printf '%s\n' "$got" >"$exp"
		ok "$name (updated)"
	elif [ ! -e "$exp" ]; then
		bad "$name" "no expected output $exp (UPDATE_GOLDEN=1 writes it)"
	elif diff -u "$exp" <(printf '%s\n' "$got") >"$log/diff"; then
		ok "$name"
	else
		bad "$name" "output differs"
		sed 's/^/    /' "$log/diff" | head -30
	fi
done

# Scripts drive the real binaries.
for t in tests/t_*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	want "$name" || continue
	bash "$t" >"$log/$name" 2>&1
	rc=$?
	case $rc in
	0) ok "$name" ;;
	77) skip "$name" "$(tail -n 1 "$log/$name")" ;;
	*) bad "$name" "exit $rc"; sed 's/^/    /' "$log/$name" | tail -30 ;;
	esac
done

if [ ${#failed[@]} -gt 0 ]; then
	echo
	echo "failed:"
	printf '  %s\n' "${failed[@]}"
fi
echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
