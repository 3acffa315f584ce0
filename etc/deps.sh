#!/bin/sh
# Installs the Debian packages vnumad needs to build and test.
#
#   etc/deps.sh --check    list what is missing; exit 1 if anything is
#   etc/deps.sh --ensure   install what is missing when root, else print the
#                          exact apt-get command and exit 1 (make demo/check)
#   etc/deps.sh --list     print the package names
#
# Idempotent and quick when everything is present: one dpkg-query call.
set -eu

# build: compiler, pkg-config and the libraries' -dev packages (libseccomp:
# the policy worker's system-call filter)
BUILD="gcc make pkg-config libevent-dev libvirt-dev libnuma-dev libjansson-dev
libpfm4-dev libiniparser-dev libcap-ng-dev libxml2-dev libseccomp-dev"
# tests: cmocka, valgrind for the leak check; a real libvirtd running QEMU
# guests (KVM or TCG) for tests/t_libvirt_qemu.sh and t_numad_libvirt.sh,
# plain QEMU for t_proc_qemu.sh (not libvirt-daemon-system: it brings
# systemd and iptables; the tests make the libvirt-qemu user themselves);
# iproute2 brings up loopback in t_unmeasured.sh's network namespace
TEST="libcmocka-dev valgrind libvirt-daemon libvirt-daemon-driver-qemu
libvirt-clients qemu-system-x86 iproute2"
# tests: systemd-analyze verifies the unit, socat listens to the notify
# socket, man renders the manual pages, gnuplot draws vnumad-sim --plot
TEST="$TEST systemd socat man-db gnuplot-nox"
# tests/t_metrics.sh: promtool lints the exposition (Debian ships it in
# prometheus)
TEST="$TEST prometheus"
# tests/t_unit_security.sh: the system calls the daemon makes, against the
# unit's SystemCallFilter=; tests/t_state_dir.sh: the journal's syncs
TEST="$TEST strace"
# tests/t_numavm.sh: multi-node VMs under TCG, a busybox initramfs;
# tests/t_numavm_compare.sh runs numad beside vnumad in them
TEST="$TEST cpio busybox-static numactl numad"
# make bench: the sampling benchmark's io_uring comparison
TEST="$TEST liburing-dev"

PKGS="$BUILD $TEST"

missing() {
	# dpkg-query prints one status per package; absent ones go to stderr
	for p in $PKGS; do
		s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$s" = installed ] || printf '%s ' "$p"
	done
}

case "${1:---check}" in
--list)
	echo $PKGS
	;;
--check)
	m=$(missing)
	if [ -n "$m" ]; then
		echo "missing Debian packages: $m"
		exit 1
	fi
	;;
--ensure)
	m=$(missing)
	[ -z "$m" ] && exit 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "vnumad needs these Debian packages: $m" >&2
		echo "install them with:" >&2
		echo "  sudo apt-get install -y $m" >&2
		exit 1
	fi
	echo "installing missing Debian packages: $m"
	export DEBIAN_FRONTEND=noninteractive
	# an old or empty package list makes apt-get miss packages: refresh once
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $m
	;;
*)
	echo "usage: etc/deps.sh --check | --ensure | --list" >&2
	exit 2
	;;
esac
