#!/bin/bash
# The systemd unit: `systemd-analyze verify` accepts it as installed, and the
# daemon speaks the notify protocol (READY, STATUS per tick, RELOADING,
# STOPPING) to $NOTIFY_SOCKET. The watchdog is fed from the event loop: a
# daemon wedged by a plugin in its own process stops feeding it, one whose
# plugin hangs in the worker does not.
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
command -v socat >/dev/null || skip "socat is not installed (etc/deps.sh installs it)"

root=$TMP/root
stage_install "$root" || { cat "$TMP/install.out"; fail "make install"; done_testing; }
unit=$root/lib/systemd/system/vnumad.service
[ -f "$unit" ] || fail "no unit installed at /lib/systemd/system/vnumad.service"
grep -q '^ExecStart=/usr/sbin/vnumad -f$' "$unit" || fail "ExecStart does not name /usr/sbin/vnumad"
grep -q '^Type=notify$' "$unit" || fail "not Type=notify"
for k in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes \
	StateDirectory=vnumad Restart=on-failure WatchdogSec=30s; do
	grep -q "^$k\$" "$unit" || fail "unit lacks $k"
done
# the bounding set holds the capabilities privs.c keeps, and the worker's
# launcher's; CAP_SYS_ADMIN (kernels before 5.8, numa_balancing = disable)
# only by a drop-in (vnumad(8))
bound=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr '\n' ' ')
for cap in CAP_SYS_NICE CAP_SYS_PTRACE CAP_PERFMON CAP_SETUID CAP_SETGID; do
	[[ " $bound " == *" $cap "* ]] || fail "CapabilityBoundingSet lacks $cap (it has: $bound)"
done
[[ " $bound " == *" CAP_SYS_ADMIN "* ]] && fail "CapabilityBoundingSet has CAP_SYS_ADMIN (it has: $bound)"
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
grep -q '^STATUS=running: backend sim, policy place, dry run$' "$TMP/notes" || fail "no start STATUS"
grep -Eq '^STATUS=tick [0-9]+: 6 guests, 0 moves, 0 kept, 0 reverted \(dry run\)$' "$TMP/notes" ||
	fail "no per-tick STATUS"
grep -q '^RELOADING=1$' "$TMP/notes" || fail "no RELOADING=1"
grep -q '^STATUS=configuration reloaded$' "$TMP/notes" || fail "no STATUS after reload"
grep -q '^STOPPING=1$' "$TMP/notes" || fail "no STOPPING=1"
[ $nfail -eq 0 ] || sed 's/^/    notes: /' "$TMP/notes" | head -20
grep -q '^WATCHDOG=1$' "$TMP/notes" && fail "WATCHDOG=1 sent without WATCHDOG_USEC"

# The watchdog: a plugin that hangs from tick 3 on, in process and in the worker.
command -v cc >/dev/null || { echo "no C compiler: the wedged daemon is not tried"; done_testing; }
cat >"$TMP/hang.c" <<'EOF'
#include <unistd.h>
#include "policy.h"
static int tick(void *priv, const struct vnumad_view *v, struct vnumad_out *out)
{
	(void)priv; (void)out;
	while (v->tick >= 3)
		sleep(1);
	return 0;
}
const struct vnumad_policy vnumad_policy = { VNUMAD_POLICY_INIT, .name = "hang", .tick = tick };
EOF
umask 022
cc -std=gnu11 -fPIC -shared -Ipolicies -o "$TMP/hang.so" "$TMP/hang.c" || fail "cc hang"
chmod 755 "$TMP"
# watchdog WORKER: WATCHDOG=1 lines in the second after the hang began
watchdog() {
	local sock=$TMP/wd$1.sock notes=$TMP/wd$1.notes
	socat -u UNIX-RECVFROM:"$sock",fork - >"$notes" 2>/dev/null &
	local lpid=$!
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	printf '[daemon]\ncontrol = %s\n[policy]\nworker = %s\ndeadline = 10%%\n' \
		"$TMP/wd$1.control" "$1" >"$TMP/wd$1.conf"
	NOTIFY_SOCKET=$sock WATCHDOG_USEC=200000 "$VNUMAD" -c "$TMP/wd$1.conf" --backend sim \
		--pace --interval 300ms --dry-run --policy "$TMP/hang.so" >/dev/null 2>"$TMP/wd$1.err" &
	local pid=$!
	for _ in $(seq 50); do grep -q '^STATUS=tick 3:' "$notes" && break; sleep 0.1; done
	sleep 0.5
	local before=$(grep -c '^WATCHDOG=1$' "$notes")
	sleep 1
	wd=$(($(grep -c '^WATCHDOG=1$' "$notes") - before))
	fed=$before
	kill -KILL $pid
	wait $pid 2>/dev/null
	kill $lpid 2>/dev/null
	grep -q 'watchdog: fed every 0.1s' "$TMP/wd$1.err" || fail "worker=$1: the watchdog is not announced"
}
watchdog no
[ "$fed" -gt 0 ] || fail "in process: the watchdog was never fed"
[ "$wd" -eq 0 ] || fail "in process: a wedged loop fed the watchdog $wd times"
watchdog yes
[ "$wd" -ge 5 ] || fail "in the worker: a hanging plugin starved the watchdog ($wd in 1 s)"
done_testing
