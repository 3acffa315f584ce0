# Helpers for tests/t_*.sh. Each script exits 0 (pass), 77 (skip, with the
# reason as its last line of output) or anything else (fail).
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build/default}
VNUMAD=${VNUMAD:-$B/vnumad}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
nfail=0

fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
skip() { echo "$*"; exit 77; }
done_testing() { [ "$nfail" -eq 0 ] && echo "all checks passed"; exit $((nfail > 0)); }

# stage_install ROOT: `make install PREFIX=/usr DESTDIR=ROOT` after a build
# with the default PREFIX, as an operator who ran `make demo` first would;
# output in $TMP/install.out. A build tree of its own (B-usr) keeps the tree
# under test at its own PREFIX, since the install rebuilds for /usr.
stage_install() {
	# make runs here on its own, not as a child of the outer make's jobserver
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		make -s all B="$B-usr" SANITIZE="${SANITIZE:-}" >"$TMP/install.out" 2>&1 &&
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		make -s install B="$B-usr" PREFIX=/usr DESTDIR="$1" SANITIZE="${SANITIZE:-}" \
		>>"$TMP/install.out" 2>&1
}

# expect_exit CODE DESCRIPTION -- command...: runs it, output in $TMP/out
expect_exit() {
	local want=$1 what=$2
	shift 3
	"$@" >"$TMP/out" 2>&1
	local rc=$?
	[ "$rc" -eq "$want" ] || { fail "$what: exit $rc, want $want"; sed 's/^/    /' "$TMP/out" | head -10; }
}

# expect_output PATTERN DESCRIPTION: grep -E over the last command's output
expect_output() {
	grep -Eq -- "$1" "$TMP/out" || { fail "$2: no match for /$1/"; sed 's/^/    /' "$TMP/out" | head -10; }
}
