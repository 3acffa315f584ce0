# Helpers for the tests with a real libvirtd and QEMU (tests/t_libvirt_qemu.sh,
# tests/t_numad.sh), sourced after tests/lib.sh. They start their own
# virtlogd and libvirtd, without systemd (REFERENCE.md: `virtlogd -d;
# libvirtd -d`, a libvirt-qemu user, /var/log/libvirt/qemu), under nice so
# that busy TCG guests yield to the rest of the host, and undo everything
# in lv_cleanup.
#
#   lv_require           skips unless root with the packages, and no libvirtd
#                        running after LV_WAIT (120) seconds (the tests start,
#                        kill and restart their own)
#   lv_setup             the libvirt-qemu user when missing, virtlogd
#   lv_start [CMD...]    libvirtd -d, through CMD when given (nsenter ...)
#   lv_kill              kill -9 libvirtd and wait until it is gone
#   lv_domain NAME VCPUS [BUSY] [VCPU_ATTRS] [ELEMENTS]
#                        defines a 64 MiB domain: KVM where /dev/kvm works,
#                        else TCG; BUSY=busy boots tests/spinguest.elf (every
#                        vCPU busy), else none (SeaBIOS, vCPUs 1.. halted)
#   lv_cleanup           destroys and undefines the domains, stops both
#                        daemons, removes the user if it was made here
#   wait_for SECS CMD... runs CMD every 0.1 s until it succeeds

URI=qemu:///system
V="virsh -q -c $URI"
LV_DOMAINS=()
LIBVIRTD_PID= VIRTLOGD_PID= LV_MADE_USER=
SPIN=$B/tests/spinguest.elf

wait_for() {
	local t=$1
	shift
	for _ in $(seq $((t * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

lv_none_runs() {
	! $V version >/dev/null 2>&1 && ! pgrep -x -r R,S,D libvirtd >/dev/null &&
		! pgrep -x -r R,S,D virtqemud >/dev/null
}

lv_require() {
	[ "$(id -u)" -eq 0 ] || skip "not root: the test starts libvirtd"
	for b in libvirtd virtlogd virsh qemu-system-x86_64; do
		command -v "$b" >/dev/null ||
			skip "no $b (Debian: libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86)"
	done
	[ -x "$SPIN" ] || skip "$SPIN is not built (an x86-64 host builds it)"
	# another test's libvirtd (a shared host) ends within a minute or two
	if ! wait_for "${LV_WAIT:-120}" lv_none_runs; then
		skip "a libvirtd runs already; this test starts, kills and restarts its own"
	fi
	# KVM where this host has it, TCG elsewhere: the same test either way
	if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		LV_TYPE=kvm
	else
		LV_TYPE=qemu
	fi
	LV_KVM_MODE=$( [ -c /dev/kvm ] && stat -c %a /dev/kvm)
}

lv_setup() {
	# QEMU runs as libvirt-qemu (libvirt-daemon-system creates it, with
	# systemd and iptables in tow); make it when missing, remove it at the end
	if ! getent passwd libvirt-qemu >/dev/null; then
		getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu ||
			skip "cannot add group libvirt-qemu"
		useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu ||
			skip "cannot add user libvirt-qemu"
		LV_MADE_USER=1
	fi
	[ -n "$LV_KVM_MODE" ] && chmod 0666 /dev/kvm
	mkdir -p /var/log/libvirt/qemu
	# QEMU, as libvirt-qemu, reads the guest kernel from here
	chmod 0755 "$TMP"
	cp "$SPIN" "$TMP/spinguest.elf"
	chmod 0644 "$TMP/spinguest.elf"
	nice -n 10 virtlogd -d || skip "virtlogd does not start"
	wait_for 5 test -s /run/virtlogd.pid
	VIRTLOGD_PID=$(cat /run/virtlogd.pid)
}

lv_start() {
	"$@" nice -n 10 libvirtd -d || return 1
	wait_for 20 $V version || return 1
	LIBVIRTD_PID=$(cat /run/libvirtd.pid)
}

lv_kill() {
	kill -9 "$LIBVIRTD_PID"
	wait_for 5 sh -c "! kill -0 $LIBVIRTD_PID"
}

lv_domain() {
	local name=$1 vcpus=$2 busy=${3:-} attrs=${4:-} elems=${5:-} kernel=
	[ "$busy" = busy ] && kernel="<kernel>$TMP/spinguest.elf</kernel>"
	cat >"$TMP/$name.xml" <<EOF
<domain type='$LV_TYPE'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <vcpu$attrs>$vcpus</vcpu>
  $elems
  <os><type arch='x86_64' machine='pc'>hvm</type>$kernel</os>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
	$V define "$TMP/$name.xml" >/dev/null || return 1
	LV_DOMAINS+=("$name")
}

lv_cleanup() {
	for d in "${LV_DOMAINS[@]}"; do
		$V destroy "$d" >/dev/null 2>&1
		$V undefine "$d" >/dev/null 2>&1
	done
	[ -f /run/libvirtd.pid ] && LIBVIRTD_PID=$(cat /run/libvirtd.pid)
	if [ -n "$LIBVIRTD_PID" ]; then
		kill "$LIBVIRTD_PID" 2>/dev/null
		# the next test starts its own: this one must be gone
		wait_for 10 sh -c "! kill -0 $LIBVIRTD_PID" || kill -9 "$LIBVIRTD_PID" 2>/dev/null
	fi
	if [ -n "$VIRTLOGD_PID" ]; then
		kill "$VIRTLOGD_PID" 2>/dev/null
		wait_for 5 sh -c "! kill -0 $VIRTLOGD_PID"
	fi
	[ -n "$LV_KVM_MODE" ] && chmod "$LV_KVM_MODE" /dev/kvm
	if [ -n "$LV_MADE_USER" ]; then
		wait_for 5 sh -c '! pgrep -u libvirt-qemu >/dev/null'
		userdel libvirt-qemu 2>/dev/null
		groupdel libvirt-qemu 2>/dev/null
	fi
}
