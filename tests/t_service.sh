#!/bin/bash
# The systemd unit: `systemd-analyze verify` accepts it as installed, and the
# daemon speaks the notify protocol (READY, STATUS per tick, RELOADING,
# STOPPING) to $NOTIFY_SOCKET.
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
command -v socat >/dev/null || skip "socat is not installed (etc/deps.sh installs it)"

root=$TMP/root
make -s install DESTDIR="$root" PREFIX=/usr >"$TMP/install.log" 2>&1 ||
	{ cat "$TMP/install.log"; fail "make install"; done_testing; }
unit=$root/lib/systemd/system/vnumad.service
[ -f "$unit" ] || fail "no unit installed at /lib/systemd/system/vnumad.service"
grep -q '^ExecStart=/usr/sbin/vnumad -f$' "$unit" || fail "ExecStart does not name /usr/sbin/vnumad"
grep -q '^Type=notify$' "$unit" || fail "not Type=notify"
for k in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes \
	StateDirectory=vnumad Restart=on-failure; do
	grep -q "^$k\$" "$unit" || fail "unit lacks $k"
done
# the bounding set holds every capability privs.c may keep: CAP_SYS_ADMIN
# too, for kernels before 5.8 (no CAP_PERFMON) and numa_balancing = disable
bound=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
for cap in CAP_SYS_NICE CAP_SYS_PTRACE CAP_PERFMON CAP_SYS_ADMIN; do
	[[ " $bound " == *" $cap "* ]] || fail "CapabilityBoundingSet lacks $cap (it has: $bound)"
done
# verify the unit as installed, its binary and man pages taken from the tree
sed "s|/usr/sbin/vnumad|$root/usr/sbin/vnumad|g" "$unit" >"$TMP/vnumad.service"
MANPATH=$root/usr/share/man systemd-analyze verify "$TMP/vnumad.service" >"$TMP/out" 2>&1 ||
	{ fail "systemd-analyze verify"; sed 's/^/    /' "$TMP/out"; }

# the notify protocol, against a listening datagram socket
sock=$TMP/notify.sock
socat -u UNIX-RECVFROM:"$sock",fork - >"$TMP/notes" 2>/dev/null &
lpid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
sed "s|^control = .*|control = $TMP/control.sock|" etc/vnumad.conf >"$TMP/vnumad.conf"
NOTIFY_SOCKET=$sock "$VNUMAD" -c "$TMP/vnumad.conf" --backend sim --pace \
	--interval 100ms --dry-run >/dev/null 2>"$TMP/stderr" &
pid=$!
for _ in $(seq 50); do grep -q '^STATUS=tick 3:' "$TMP/notes" && break; sleep 0.1; done
kill -HUP $pid
for _ in $(seq 50); do grep -q 'configuration reloaded' "$TMP/notes" && break; sleep 0.1; done
kill -TERM $pid
wait $pid || fail "daemon exit status $?"
sleep 0.2
kill $lpid 2>/dev/null
grep -q '^READY=1$' "$TMP/notes" || fail "no READY=1"
grep -q '^STATUS=running: backend sim, policy locality, dry run$' "$TMP/notes" || fail "no start STATUS"
grep -Eq '^STATUS=tick [0-9]+: 6 guests, 0 moves, 0 kept, 0 reverted \(dry run\)$' "$TMP/notes" ||
	fail "no per-tick STATUS"
grep -q '^RELOADING=1$' "$TMP/notes" || fail "no RELOADING=1"
grep -q '^STATUS=configuration reloaded$' "$TMP/notes" || fail "no STATUS after reload"
grep -q '^STOPPING=1$' "$TMP/notes" || fail "no STOPPING=1"
[ $nfail -eq 0 ] || sed 's/^/    notes: /' "$TMP/notes" | head -20
done_testing
