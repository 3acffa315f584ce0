#!/bin/bash
# libvirt's placement='auto' through vnumad's numad interface, for real:
# a real libvirtd starts <vcpu placement='auto'> guests, running
# /usr/bin/numad -w NCPUS:MIB for their node set, and that numad is
# vnumad-numad, put there by `make install install-numad` as vnumad(8)
# says. All of it in a private mount namespace whose /usr/bin, /usr/local,
# /etc and /var/lib/dpkg are overlays, so that neither the install nor the
# dpkg diversion touch this host (libvirtd runs in that namespace).
#  1. the install: /usr/bin/numad links to vnumad-numad, Debian's numad
#     (if installed) diverted to /usr/bin/numad.distrib; vnumad-numad
#     links no libvirt;
#  2. with no daemon: the guest starts; libvirt recorded numad's advice;
#  3. with a daemon (libvirt backend, dry run): the guest starts, the
#     daemon answered the placement (its log says so) and manages the
#     placement='auto' guests, telling why their memory stays (strict);
#     one with numatune interleave may move its memory;
#  4. on an overcommitted host (more vCPUs than CPUs), with the daemon and
#     without: the guest starts all the same (best effort, exit 0);
#  5. uninstall-numad: the link and the diversion gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/libvirtd.sh"

lv_require
for b in unshare nsenter dpkg-divert make; do
	command -v "$b" >/dev/null || skip "no $b"
done
[ -x "$B/vnumad-numad" ] || skip "$B/vnumad-numad is not built"
[ -x "$VNUMAD" ] || skip "$VNUMAD is not built"
HOLDER= DAEMON_PID=
G=vnumad-auto-$$

cleanup() {
	[ -n "$DAEMON_PID" ] && kill -9 "$DAEMON_PID" 2>/dev/null
	lv_cleanup
	[ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# --- the namespace and the install ------------------------------------------
unshare --mount --propagation private sleep 3600 &
HOLDER=$!
NS=(nsenter -t "$HOLDER" -m)
wait_for 5 "${NS[@]}" true || skip "cannot enter a private mount namespace"
for d in usr/bin usr/local etc var/lib/dpkg; do
	mkdir -p "$TMP/ov/$d/up" "$TMP/ov/$d/work"
	"${NS[@]}" mount -t overlay overlay \
		-o "lowerdir=/$d,upperdir=$TMP/ov/$d/up,workdir=$TMP/ov/$d/work" "/$d" ||
		skip "no overlay mount over /$d in a private namespace"
done
had_numad=
[ -f /usr/bin/numad ] && [ ! -L /usr/bin/numad ] && had_numad=$(sha256sum </usr/bin/numad)
mk() { "${NS[@]}" make -C "$PWD" --no-print-directory -s SANITIZE="${SANITIZE:-}" PREFIX=/usr/local "$@"; }
mk install >"$TMP/install.out" 2>&1 || { fail "make install"; cat "$TMP/install.out"; done_testing; }
mk install-numad >"$TMP/install.out" 2>&1 || { fail "make install-numad"; cat "$TMP/install.out"; done_testing; }
[ "$("${NS[@]}" readlink /usr/bin/numad)" = /usr/local/sbin/vnumad-numad ] ||
	fail "install-numad: /usr/bin/numad is no link to vnumad-numad"
"${NS[@]}" dpkg-divert --list /usr/bin/numad | grep -q 'local diversion of /usr/bin/numad to /usr/bin/numad.distrib' ||
	fail "install-numad: no diversion"
if [ -n "$had_numad" ]; then
	[ "$("${NS[@]}" sh -c 'sha256sum </usr/bin/numad.distrib')" = "$had_numad" ] ||
		fail "install-numad: Debian's numad is not at /usr/bin/numad.distrib"
fi
# and outside the namespace nothing changed
[ -L /usr/bin/numad ] && fail "the host's /usr/bin/numad was replaced"
dpkg-divert --list /usr/bin/numad | grep -q . && fail "the host got a diversion"
ldd "$B/vnumad-numad" | grep -q libvirt && fail "vnumad-numad links libvirt"
"${NS[@]}" numad -w 2:64 | grep -Eq '^[0-9]+([-,][0-9]+)*$' || fail "numad -w in the namespace"
# the installed numad finds the daemon's socket through the configuration
# file of its prefix (/usr/local here: /usr/local/etc/vnumad.conf)
"${NS[@]}" sh -c "mkdir -p /usr/local/etc &&
	printf '[daemon]\ncontrol = %s\n' '$TMP/control.sock' >/usr/local/etc/vnumad.conf"

lv_setup
lv_start "${NS[@]}" ||
	skip "libvirtd does not start: $(tail -n 3 /var/log/libvirt/libvirtd.log 2>/dev/null | tr '\n' ' ')"

# starts guest NAME within 60 s (it hung until virsh gave up with the old wrapper)
start() {
	timeout 60 $V start "$1" >"$TMP/start.out" 2>&1 ||
		{ fail "$2: virsh start $1: $(tr '\n' ' ' <"$TMP/start.out")"; return 1; }
	grep -q "<numad nodeset='[0-9,-]*'" "/run/libvirt/qemu/$1.xml" ||
		fail "$2: libvirt recorded no advice from numad"
	$V dumpxml "$1" | grep -q "<vcpu placement='auto'" || fail "$2: not placement='auto'"
}

# --- 2. no daemon --------------------------------------------------------------
lv_domain "$G-1" 2 "" " placement='auto'" || fail "virsh define"
start "$G-1" "no daemon"

# --- 3. a daemon ---------------------------------------------------------------
cat >"$TMP/vnumad.conf" <<EOF
[daemon]
interval = 300ms
state_dir = $TMP/state
control = $TMP/control.sock
[backend]
type = libvirt
uri = $URI
numa_balancing = leave
EOF
mkdir -p "$TMP/state"
"$VNUMAD" -c "$TMP/vnumad.conf" -f -v --dry-run >"$TMP/daemon.out" 2>"$TMP/daemon.log" &
DAEMON_PID=$!
wait_for 10 test -S "$TMP/control.sock" || fail "daemon: no control socket"
wait_for 10 grep -q '^tick 2 ' "$TMP/daemon.out" || fail "daemon: no tick"
lv_domain "$G-2" 2 "" " placement='auto'" || fail "virsh define"
start "$G-2" "daemon"
wait_for 5 grep -q 'placement asked for 2 vCPUs and 64 MiB: node' "$TMP/daemon.log" ||
	fail "daemon: the placement was not asked of it"
lv_domain "$G-3" 2 "" " placement='auto'" \
	"<numatune><memory mode='interleave' placement='auto'/></numatune>" || fail "virsh define"
start "$G-3" "interleave"
for g in "$G-1" "$G-2" "$G-3"; do
	# ", pinned by the user" or ", opted out" would follow (after its up time)
	wait_for 10 grep -Eq "guest $g: 2 vCPUs(, up [^,]*)?\$" "$TMP/daemon.log" ||
		fail "daemon: $g not managed (pinned?)"
done
"$VNUMAD" status -c "$TMP/vnumad.conf" >"$TMP/status" 2>&1
for g in "$G-1" "$G-2"; do
	grep -q "^  $g: memory not movable: libvirt's numatune mode 'strict' binds it to the nodes numad advised" "$TMP/status" ||
		fail "status: no reason why $g's memory stays"
done
grep -q "^  $G-3: memory not movable" "$TMP/status" && fail "status: interleave's memory should move"
grep -q "pinned" "$TMP/status" && fail "status: a placement='auto' guest shown pinned"

# --- 4. an overcommitted host ----------------------------------------------------
big=$(($(nproc) * 2))
lv_domain "$G-4" "$big" "" " placement='auto'" || fail "virsh define"
start "$G-4" "overcommitted, daemon"
wait_for 5 grep -q "placement asked for $big vCPUs and 64 MiB: node .*not enough" "$TMP/daemon.log" ||
	fail "daemon: the overcommitted placement"
kill "$DAEMON_PID"
wait "$DAEMON_PID"
DAEMON_PID=
lv_domain "$G-5" "$big" "" " placement='auto'" || fail "virsh define"
start "$G-5" "overcommitted, no daemon"

# --- 5. uninstall ------------------------------------------------------------------
mk uninstall-numad >"$TMP/install.out" 2>&1 || { fail "make uninstall-numad"; cat "$TMP/install.out"; }
"${NS[@]}" test -L /usr/bin/numad && fail "uninstall-numad left the link"
"${NS[@]}" dpkg-divert --list /usr/bin/numad | grep -q . && fail "uninstall-numad left the diversion"
if [ -n "$had_numad" ]; then
	[ "$("${NS[@]}" sh -c 'sha256sum </usr/bin/numad')" = "$had_numad" ] ||
		fail "uninstall-numad: Debian's numad is not back"
	"${NS[@]}" test -e /usr/bin/numad.distrib && fail "uninstall-numad left numad.distrib"
fi
[ "$nfail" -eq 0 ] || grep -v 'tick' "$TMP/daemon.log" | sed 's/^/    daemon: /' | tail -30
done_testing
