#!/bin/bash
# The installed unit's sandbox: `systemd-analyze security` rates it at most
# 2.5 (the issue's goal; 4.1 before SystemCallFilter, ProtectKernelTunables,
# ProtectProc, PrivateMounts and UMask), and its system call filter lets
# through every call the daemon makes: the calls of a real daemon on the
# proc backend with a stand-in QEMU guest, control socket, metrics and a
# `vnumad status` (traced with strace) against the filter's groups as this
# systemd expands them. On one node nothing moves: move_pages and
# sched_setaffinity are checked by name instead.
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed (etc/deps.sh installs systemd)"
systemd-analyze security --help 2>/dev/null | grep -q -- '--offline' ||
	skip "this systemd-analyze has no 'security --offline' (systemd < 250)"

root=$TMP/root
stage_install "$root" || { cat "$TMP/install.out"; fail "make install"; done_testing; }
unit=$root/lib/systemd/system/vnumad.service
[ -f "$unit" ] || { fail "no unit installed"; done_testing; }
sed "s|/usr/sbin/vnumad|$root/usr/sbin/vnumad|g" "$unit" >"$TMP/vnumad.service"
systemd-analyze security --offline=true "$TMP/vnumad.service" >"$TMP/security" 2>&1
score=$(sed -n 's/.*Overall exposure level for vnumad.service: \([0-9.]*\).*/\1/p' "$TMP/security")
if [ -z "$score" ]; then
	fail "systemd-analyze security printed no overall exposure level"
	sed 's/^/    /' "$TMP/security" | tail -5
else
	# the issue's goal; 2.9 while CAP_SYS_ADMIN was in the bounding set and
	# IP traffic was not kept to this host
	echo "systemd-analyze security: $score (goal <= 2.5)"
	awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' ||
		{ fail "exposure $score, above 2.5"; grep '✗' "$TMP/security" | sed 's/^/    /'; }
fi
for k in Conflicts=numad.service ProtectKernelTunables=yes ProtectProc=invisible UMask=0077 \
	IPAddressDeny=any IPAddressAllow=localhost; do
	grep -q "^$k\$" "$unit" || fail "unit lacks $k"
done
grep -q '^Wants=libvirtd.service' "$unit" &&
	fail "the unit pulls in libvirtd, which a host with the modular daemons (virtqemud) does not run"

# The system call filter against what the daemon calls.
command -v strace >/dev/null || { echo "strace is not installed: the filter's coverage is not checked"; done_testing; }
[ "$(id -u)" = 0 ] || { echo "not root: the filter's coverage is not checked"; done_testing; }
# the proc backend goes by the executable: the stand-in is named as QEMU
FAKEGUEST=${FAKEGUEST:-$B/tests/qemu-system-fakeguest}
[ -x "$FAKEGUEST" ] || { fail "no $FAKEGUEST (make check builds it)"; done_testing; }

# The allowed calls: the unit's SystemCallFilter= items, groups expanded
# recursively from `systemd-analyze syscall-filter` (one group per block).
systemd-analyze syscall-filter 2>/dev/null | awk '
	/^@/ { g = $1; next }
	/^ *#/ || NF == 0 { next }
	{ print g, $1 }' >"$TMP/groups"
expand() {
	local item
	for item in "$@"; do
		case "$item" in
		@*) expand $(awk -v g="$item" '$1 == g { print $2 }' "$TMP/groups") ;;
		*) echo "$item" ;;
		esac
	done
}
filter=$(sed -n 's/^SystemCallFilter=//p' "$unit")
[ -n "$filter" ] || { fail "the unit has no SystemCallFilter="; done_testing; }
expand $filter | sort -u >"$TMP/allowed"
[ "$(wc -l <"$TMP/allowed")" -gt 100 ] || fail "the filter expands to $(wc -l <"$TMP/allowed") calls only"
for c in move_pages sched_setaffinity perf_event_open capset prctl get_mempolicy; do
	grep -qx "$c" "$TMP/allowed" || fail "SystemCallFilter= denies $c, which vnumad needs"
done

"$FAKEGUEST" -name straced -smp 2 -m 64 -touch 64 >/dev/null 2>&1 &
gpid=$!
sock=$TMP/control.sock
sed -e "s|^control = .*|control = $sock|" -e "s|^state_dir = .*|state_dir = $TMP/state|" \
	-e 's|^metrics = .*|metrics = 127.0.0.1:0|' -e 's|^type = libvirt|type = proc|' \
	etc/vnumad.conf >"$TMP/vnumad.conf"
mkdir -p "$TMP/state"
strace -f -qq -o "$TMP/strace" "$root/usr/sbin/vnumad" -f -c "$TMP/vnumad.conf" \
	--interval 100ms >"$TMP/daemon.out" 2>&1 &
spid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
sleep 1
"$VNUMAD" status -c "$TMP/vnumad.conf" >"$TMP/out" 2>&1 || fail "vnumad status under strace"
grep -q straced "$TMP/out" || fail "the traced daemon did not find the stand-in guest"
kill -TERM "$(pgrep -P $spid -x vnumad || echo $spid)" 2>/dev/null
wait $spid
kill $gpid 2>/dev/null
wait $gpid 2>/dev/null
sed -n 's/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p' "$TMP/strace" | sort -u >"$TMP/called"
[ "$(wc -l <"$TMP/called")" -gt 20 ] || { fail "strace saw $(wc -l <"$TMP/called") calls"; sed 's/^/    /' "$TMP/daemon.out" | head; }
comm -23 "$TMP/called" "$TMP/allowed" >"$TMP/denied"
[ -s "$TMP/denied" ] && fail "the daemon calls what SystemCallFilter= denies: $(tr '\n' ' ' <"$TMP/denied")"
echo "$(wc -l <"$TMP/called") distinct system calls made, all allowed"

# The unit's bounding set, as systemd gives it (setpriv drops the rest
# before the exec): the daemon starts with what it has, says what a missing
# capability costs, and [backend] numa_balancing = disable without
# CAP_SYS_ADMIN (which only a drop-in adds) says why it leaves the kernel's
# balancing on, and leaves it as it was.
command -v setpriv >/dev/null || { echo "setpriv is not installed: the bounding set is not tried"; done_testing; }
bset=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr ' \n' '\n\n' | sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd,)
case ",$bset," in *,+sys_admin,*) fail "the unit's bounding set has CAP_SYS_ADMIN: $bset" ;; esac
nb=/proc/sys/kernel/numa_balancing
sed -e "s|^control = .*|control = $TMP/c2.sock|" -e "s|^state_dir = .*|state_dir = $TMP/state2|" \
	-e 's|^numa_balancing = .*|numa_balancing = disable|' etc/vnumad.conf >"$TMP/nb.conf"
mkdir -p "$TMP/state2"
was=$(cat "$nb" 2>/dev/null)
if [ -n "$was" ] && echo 1 >"$nb" 2>/dev/null; then
	setpriv --bounding-set "-all,$bset" "$VNUMAD" -c "$TMP/nb.conf" --backend proc --ticks 1 >"$TMP/out" 2>&1 ||
		fail "vnumad with the unit's bounding set exits $?"
	now=$(cat "$nb")
	echo "$was" >"$nb"
	grep -q "privileges: every capability dropped but CAP_SYS_NICE, CAP_SYS_PTRACE, CAP_PERFMON\$" "$TMP/out" ||
		fail "the privileges line with the unit's bounding set"
	grep -q "cannot switch the kernel's automatic NUMA balancing off .*needs CAP_SYS_ADMIN.*drop-in" "$TMP/out" ||
		fail "no reason why NUMA balancing stays on without CAP_SYS_ADMIN"
	[ "$now" = 1 ] || fail "NUMA balancing was $now after the refused switch, not 1 as it was"
	[ $nfail -eq 0 ] || sed 's/^/    /' "$TMP/out"
else
	echo "no writable $nb: the refused switch is not tried"
fi
# a bounding set without CAP_SYS_PTRACE: the daemon runs and says what it loses
setpriv --bounding-set "-all,+sys_nice,+perfmon" "$VNUMAD" -c "$TMP/nb.conf" --backend proc --dry-run --ticks 1 \
	>"$TMP/out" 2>&1 || fail "vnumad without CAP_SYS_PTRACE exits $?"
grep -q "CAP_SYS_PTRACE is not among this process's capabilities.*cannot be measured" "$TMP/out" ||
	{ fail "no word of the missing CAP_SYS_PTRACE"; sed 's/^/    /' "$TMP/out"; }
done_testing
