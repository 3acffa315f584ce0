#!/bin/bash
# A daemon started before libvirtd (qemu:///system) runs on with no guests,
# says it is waiting, and connects when a real libvirtd comes up, instead of
# exiting 1. libvirtd listens on a socket of the test's own; no guest, so
# no KVM is needed.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "not root: the test starts libvirtd"
command -v libvirtd >/dev/null || skip "no libvirtd (Debian: libvirt-daemon libvirt-daemon-driver-qemu)"
if pgrep -x -r R,S,D libvirtd >/dev/null || pgrep -x -r R,S,D virtqemud >/dev/null; then
	skip "a libvirtd runs already; this test starts its own"
fi

# the QEMU driver wants its user (libvirt-daemon-system makes it, with
# systemd and iptables in tow): made when missing, removed afterwards
made_user=
if ! getent passwd libvirt-qemu >/dev/null; then
	getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu || skip "cannot add group libvirt-qemu"
	useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu ||
		skip "cannot add user libvirt-qemu"
	made_user=1
fi

sockdir=$TMP/sock
mkdir -p "$sockdir" "$TMP/state"
cat >"$TMP/libvirtd.conf" <<EOF
unix_sock_dir = "$sockdir"
EOF
uri="qemu:///system?socket=$sockdir/libvirt-sock"
sed -e "s|^control = .*|control = $TMP/control.sock|" -e "s|^state_dir = .*|state_dir = $TMP/state|" \
	-e "s|^uri = .*|uri = $uri|" etc/vnumad.conf >"$TMP/vnumad.conf"

"$VNUMAD" -f -c "$TMP/vnumad.conf" --dry-run --interval 200ms >"$TMP/stdout" 2>"$TMP/stderr" &
pid=$!
LPID=
cleanup() {
	[ -n "$LPID" ] && kill "$LPID" 2>/dev/null
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	wait
	if [ -n "$made_user" ]; then
		userdel libvirt-qemu 2>/dev/null
		groupdel libvirt-qemu 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
for _ in $(seq 50); do grep -q '^tick 3 ' "$TMP/stdout" && break; sleep 0.1; done
kill -0 $pid 2>/dev/null || fail "vnumad exited without libvirtd: $(tail -2 "$TMP/stderr")"
grep -q '^tick 3 .*0 guests' "$TMP/stdout" || fail "no ticks while libvirtd is away"
grep -q "warning: libvirt: cannot connect to $uri (.*); waiting for libvirtd (or virtqemud)" "$TMP/stderr" ||
	{ fail "no warning that vnumad waits for libvirtd"; sed 's/^/    /' "$TMP/stderr"; }

libvirtd -f "$TMP/libvirtd.conf" -p "$TMP/libvirtd.pid" >"$TMP/libvirtd.out" 2>&1 &
LPID=$!
for _ in $(seq 300); do
	grep -q "libvirt: connected to $uri after" "$TMP/stderr" && break
	kill -0 "$LPID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$LPID" 2>/dev/null || skip "libvirtd does not start: $(tail -3 "$TMP/libvirtd.out" | tr '\n' ' ')"
grep -q "libvirt: connected to $uri after [0-9.]* s; 0 guests running" "$TMP/stderr" ||
	{ fail "vnumad did not connect once libvirtd was up"; sed 's/^/    /' "$TMP/stderr" | tail -5; }
kill -TERM $pid
wait $pid || fail "daemon exit status $?"
pid=
done_testing
