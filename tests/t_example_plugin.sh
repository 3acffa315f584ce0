#!/bin/bash
# The plugin SDK as a plugin author gets it: `make install PREFIX=/usr` into
# a staging root, then policies/example built out of tree, away from this
# source tree, with only the installed header and pkg-config file (found
# through PKG_CONFIG_PATH and PKG_CONFIG_SYSROOT_DIR), then loaded by vnumad.
# The paths agree: the installed binary's policy directory and configuration
# file are where the .pc file, the installed configuration and the install
# put them, and a plugin installed as policies/README.md says is found by
# name.
. "$(dirname "$0")/lib.sh"

command -v cc >/dev/null || skip "no C compiler"
command -v pkg-config >/dev/null || skip "no pkg-config"
# this test runs make itself: not as a child of the outer make's jobserver
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

ROOT=$TMP/root
PC_DIR=$ROOT/usr/share/pkgconfig
stage_install "$ROOT" || { sed 's/^/    /' "$TMP/install.out" | tail -20; fail "make install"; done_testing; }
for f in usr/include/vnumad/policy.h usr/share/pkgconfig/vnumad-policy.pc \
	 usr/share/man/man7/vnumad-policy.7 usr/sbin/vnumad etc/vnumad.conf; do
	[ -f "$ROOT/$f" ] || fail "make install did not install /$f"
done
grep -q '^prefix=/usr$' "$PC_DIR/vnumad-policy.pc" || fail "vnumad-policy.pc: prefix is not /usr"
grep -q '^policydir=${prefix}/lib/vnumad/policies$' "$PC_DIR/vnumad-policy.pc" ||
	fail "vnumad-policy.pc: no policydir variable"

# The installed binary, its configuration and the SDK name the same paths.
IVNUMAD=$ROOT/usr/sbin/vnumad
pcdir=$(PKG_CONFIG_PATH=$PC_DIR PKG_CONFIG_LIBDIR=$PC_DIR pkg-config --variable=policydir vnumad-policy)
: >"$TMP/empty.conf"
bindir=$("$IVNUMAD" -n -v -c "$TMP/empty.conf" | sed -n 's/^dir  *= \([^ ]*\).*/\1/p')
confdir=$(sed -n 's/^dir = //p' "$ROOT/etc/vnumad.conf")
[ "$pcdir" = /usr/lib/vnumad/policies ] || fail "vnumad-policy.pc: policydir is '$pcdir'"
[ "$bindir" = "$pcdir" ] || fail "the installed vnumad looks for plugins in '$bindir', the .pc file says '$pcdir'"
[ "$confdir" = "$pcdir" ] || fail "the installed vnumad.conf says dir = '$confdir', the .pc file '$pcdir'"
"$IVNUMAD" --help >"$TMP/out" 2>&1
expect_output 'default /etc/vnumad.conf;' "the installed vnumad reads /etc/vnumad.conf, where install put it"
grep -l '/usr/local' "$ROOT/etc/vnumad.conf" "$ROOT"/usr/share/man/man*/* >"$TMP/local" &&
	fail "installed files name /usr/local: $(cat "$TMP/local")"
grep -q '^# scenario = /usr/share/vnumad/scenarios/demo.ini$' "$ROOT/etc/vnumad.conf" ||
	fail "the installed vnumad.conf does not name the installed scenarios"
[ -f "$ROOT/usr/share/vnumad/scenarios/demo.ini" ] || fail "no installed demo scenario"

# Out of tree: a copy of the example, nothing else of vnumad's sources.
mkdir "$TMP/src"
cp policies/example/example.c policies/example/Makefile policies/example/README "$TMP/src/"
export PKG_CONFIG_PATH=$PC_DIR PKG_CONFIG_LIBDIR=$PC_DIR PKG_CONFIG_SYSROOT_DIR=$ROOT
make -C "$TMP/src" >"$TMP/build.out" 2>&1 || { sed 's/^/    /' "$TMP/build.out"; fail "example build"; }
grep -q -- "-I$ROOT/usr/include" "$TMP/build.out" ||
	fail "the example was not compiled against the staged header"
grep -q -- "-Ipolicies\|$PWD" "$TMP/build.out" && fail "the example build used the source tree"
[ -f "$TMP/src/example.so" ] || { fail "no example.so"; done_testing; }

# Without the pkg-config file the build says what is missing.
PKG_CONFIG_PATH=$TMP/none PKG_CONFIG_LIBDIR=$TMP/none make -C "$TMP/src" -B >"$TMP/out" 2>&1 &&
	fail "example built without vnumad-policy.pc"
expect_output 'vnumad-policy.pc not found' "missing SDK named"

# The built vnumad loads it by path ...
expect_exit 0 "--help-policy example.so" -- "$VNUMAD" --help-policy "$TMP/src/example.so"
expect_output '^policy example: example plugin' "example's description"
expect_output '^  max_moves +integer, default 2, range 1 to 64' "example's options listed"
expect_exit 0 "example runs" -- "$VNUMAD" --policy "$TMP/src/example.so" --backend sim --dry-run --ticks 3
expect_output 'recommend +web[12]: vCPUs? [0-3].* node 1 -> node 0.*example: .* remote DRAM accesses/s.*\(move [0-9] of this guest\)' \
	"example proposes on the demo host, counting its moves per guest"
expect_output 'example: stopping after [0-9]+ ticks: the daemon stops' "example is told why it stops"
# one JSON object per recommendation and decision round (2 rounds in 3 ticks)
json_recs() { grep -c '"type":"recommendation","tick":[0-9]*,"time":[0-9.]*,"status":"\(new\|unchanged\)"' "$TMP/out"; }
expect_exit 0 "example runs, JSON" -- "$VNUMAD" --policy "$TMP/src/example.so" --backend sim --dry-run --ticks 3 --json
[ "$(json_recs)" -eq 4 ] || fail "example: not max_moves (2) per decision tick"

# ... and by name, from where its Makefile installs it (policydir, under the
# sysroot), by the installed vnumad with the installed configuration: its
# `dir` under the staging root, as it would be at / after the install.
make -C "$TMP/src" install >"$TMP/out" 2>&1 || { sed 's/^/    /' "$TMP/out"; fail "example install"; }
[ -f "$ROOT$pcdir/example.so" ] || fail "example.so not in the policy directory $pcdir"
sed -e "s|^dir = |dir = $ROOT|" -e 's|^name = .*|name = example|' \
	-e "s|^control = .*|control = $TMP/control.sock|" -e 's|^worker = .*|worker = no|' \
	"$ROOT/etc/vnumad.conf" >"$TMP/vnumad.conf"
printf '[policy.example]\nmax_moves = 1\n' >>"$TMP/vnumad.conf"
# in process: the installed worker is found at / only after a real install
# (the staging root is no place user nobody may run it from)
[ -x "$ROOT/usr/lib/vnumad/vnumad-worker" ] || fail "vnumad-worker not installed in /usr/lib/vnumad"
expect_exit 0 "example by name" -- "$IVNUMAD" -c "$TMP/vnumad.conf" --backend sim --dry-run --ticks 3 --json
[ "$(json_recs)" -eq 2 ] || fail "example: [policy.example] max_moves ignored"

# its min_age reads the guests' age (ABI 1.2): none is an hour old yet
cat >"$TMP/young.conf" <<EOF
[policy]
name = example
dir = $ROOT$pcdir
[policy.example]
min_age = 1h
EOF
expect_exit 0 "example, min_age" -- "$VNUMAD" -c "$TMP/young.conf" --backend sim --dry-run --ticks 3
grep -q '^  recommend' "$TMP/out" && fail "example: min_age ignored"

# uninstall takes the SDK away again
make -s uninstall B="$B-usr" DESTDIR="$ROOT" PREFIX=/usr SANITIZE="${SANITIZE:-}" >"$TMP/out" 2>&1 ||
	{ sed 's/^/    /' "$TMP/out"; fail "make uninstall"; }
for f in usr/include/vnumad/policy.h usr/share/pkgconfig/vnumad-policy.pc \
	 usr/share/man/man7/vnumad-policy.7; do
	[ -e "$ROOT/$f" ] && fail "make uninstall left /$f"
done
done_testing
