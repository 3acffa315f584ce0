# shellcheck shell=bash disable=SC2034 # sets variables for its callers
# Host side of the multi-node VM tests, sourced by tests/t_numavm.sh and
# tests/numavm/compare.sh (from the repository root, after
# tests/lib.sh or with B set).
#
#   numavm_prepare         finds or fetches the kernel, busybox and numactl,
#                          builds the helpers; sets NUMAVM_SKIP on a reason
#                          to skip
#   numavm_initrd OUT [EXTRA...]   the initramfs (extra programs carried)
#   numavm_boot NAME TOPO INITRD TIMEOUT [KERNEL ARGS]
#                          boots one VM; 0 pass, 1 fail, 2 no verdict
#
# The VM runs under TCG (a stock kernel does not boot under this host's
# nested KVM): -accel tcg,thread=multi -cpu max. Its /init reports through
# isa-debug-exit, so QEMU exits 1 for a pass and 3 for a failure; anything
# else (the timeout's 124, a kernel panic's 0) is no verdict.
NUMAVM_DIR=build/numavm		# downloads and helpers, shared by runs
NUMAVM_RUN=${NUMAVM_RUN:-$NUMAVM_DIR}	# serial logs of this run
NUMAVM_SKIP=

# fetch_deb PACKAGE [PATTERN]: downloads the package's .deb into
# $NUMAVM_DIR/debs (apt-get download needs no root) and unpacks it, or only
# the paths matching PATTERN (such as './boot/vmlinuz-*'), into
# $NUMAVM_DIR/pkgroot
fetch_deb() {
	local deb
	mkdir -p "$NUMAVM_DIR/debs" "$NUMAVM_DIR/pkgroot"
	deb=$(ls "$NUMAVM_DIR/debs/$1"_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		(cd "$NUMAVM_DIR/debs" && apt-get download -qq "$1") >/dev/null 2>&1 || return 1
		deb=$(ls "$NUMAVM_DIR/debs/$1"_*.deb 2>/dev/null | head -n 1)
		[ -n "$deb" ] || return 1
	fi
	if [ -n "${2:-}" ]; then
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$NUMAVM_DIR/pkgroot" --wildcards "$2"
	else
		dpkg-deb -x "$deb" "$NUMAVM_DIR/pkgroot"
	fi
}

# The newest readable Debian kernel image: /boot's, else linux-image-amd64's.
find_kernel() {
	local k pkg
	for k in $(ls -v /boot/vmlinuz-* 2>/dev/null | sort -rV); do
		[ -r "$k" ] && { echo "$k"; return 0; }
	done
	k=$(ls "$NUMAVM_DIR"/pkgroot/boot/vmlinuz-* 2>/dev/null | sort -rV | head -n 1)
	[ -n "$k" ] && { echo "$k"; return 0; }
	# the metapackage names the versioned image package it pulls in
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] && fetch_deb "$pkg" './boot/vmlinuz-*' || return 1
	# the image is all we want of its 70 MB of modules
	rm -f "$NUMAVM_DIR/debs/$pkg"_*.deb
	ls "$NUMAVM_DIR"/pkgroot/boot/vmlinuz-* 2>/dev/null | sort -rV | head -n 1
}

# tool NAME PACKAGE PATH: the installed program, else the package's copy
find_tool() {
	if [ -x "$3" ]; then
		echo "$3"
	elif [ -x "$NUMAVM_DIR/pkgroot$3" ] || fetch_deb "$2"; then
		[ -x "$NUMAVM_DIR/pkgroot$3" ] && echo "$NUMAVM_DIR/pkgroot$3"
	fi
}

# static_helper NAME: tests/numavm/NAME.c built static, from make's tree
# when it built one ($B/tests/numavm), else here
static_helper() {
	local out="$B/tests/numavm/$1"
	if [ ! -x "$out" ] || [ "tests/numavm/$1.c" -nt "$out" ]; then
		out="$NUMAVM_DIR/bin/$1"
		mkdir -p "$NUMAVM_DIR/bin"
		if [ ! -x "$out" ] || [ "tests/numavm/$1.c" -nt "$out" ]; then
			# another run may build it too: each writes its own, then renames
			${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -static -o "$out.$$" \
				"tests/numavm/$1.c" -lpthread && mv -f "$out.$$" "$out" || return 1
		fi
	fi
	echo "$out"
}

numavm_prepare() {
	QEMU=$(command -v qemu-system-x86_64)
	[ -n "$QEMU" ] || { NUMAVM_SKIP="qemu-system-x86_64 is missing (apt-get install qemu-system-x86)"; return 1; }
	command -v cpio >/dev/null || { NUMAVM_SKIP="cpio is missing (apt-get install cpio)"; return 1; }
	[ -x "$B/vnumad" ] || { NUMAVM_SKIP="$B/vnumad is not built"; return 1; }
	KERNEL=$(find_kernel)
	[ -n "$KERNEL" ] || { NUMAVM_SKIP="no Debian kernel: /boot/vmlinuz-* is missing or unreadable and linux-image-amd64 cannot be downloaded"; return 1; }
	BUSYBOX=$(find_tool busybox busybox-static /bin/busybox)
	# a dynamic busybox (package busybox) would need its libraries: want the static one
	if [ -z "$BUSYBOX" ] || ldd "$BUSYBOX" >/dev/null 2>&1; then
		BUSYBOX=
		fetch_deb busybox-static && [ -x "$NUMAVM_DIR/pkgroot/bin/busybox" ] &&
			BUSYBOX=$NUMAVM_DIR/pkgroot/bin/busybox
	fi
	[ -n "$BUSYBOX" ] || { NUMAVM_SKIP="no static busybox (apt-get install busybox-static)"; return 1; }
	NUMACTL=$(find_tool numactl numactl /usr/bin/numactl)
	MIGRATEPAGES=$(find_tool migratepages numactl /usr/bin/migratepages)
	[ -n "$NUMACTL" ] && [ -n "$MIGRATEPAGES" ] || { NUMAVM_SKIP="numactl is missing and cannot be downloaded (apt-get install numactl)"; return 1; }
	GUESTLOAD=$(static_helper guestload) && VMEXIT=$(static_helper vmexit) ||
		{ NUMAVM_SKIP="cannot build the static helpers (glibc's static libraries, package libc6-dev)"; return 1; }
	export NUMAVM_BUSYBOX=$BUSYBOX NUMAVM_NUMACTL=$NUMACTL NUMAVM_MIGRATEPAGES=$MIGRATEPAGES
	return 0
}

# numavm_lock: waits (up to 300 s) until no other run boots VMs in this
# checkout; on a small machine two at once would both miss their deadlines.
# Held until the shell exits (descriptor 9). False when it timed out.
numavm_lock() {
	mkdir -p "$NUMAVM_DIR"
	exec 9>"$NUMAVM_DIR/.lock"
	! command -v flock >/dev/null || flock -w 300 9
}

numavm_initrd() {
	local out=$1
	shift
	tests/numavm/mkinitramfs.sh "$out" "$B/vnumad" "$GUESTLOAD" "$VMEXIT" "$@"
}

# QEMU arguments of a topology: 2node[:MIB0:MIB1] (CPUs 0-1 | 2-3, distance
# 21, 768 MiB per node unless given) or 4node[:MIB] (one CPU and 512 MiB
# per node unless given; distance 16 between 0-1 and 2-3, 22 across)
topology() {
	local m0 m1 n
	case $1 in
	2node*)
		IFS=: read -r _ m0 m1 <<<"$1"
		m0=${m0:-768} m1=${m1:-768}
		echo "-m $((m0 + m1)) -smp 4,sockets=2,cores=2
		-object memory-backend-ram,id=m0,size=${m0}M -numa node,nodeid=0,cpus=0-1,memdev=m0
		-object memory-backend-ram,id=m1,size=${m1}M -numa node,nodeid=1,cpus=2-3,memdev=m1
		-numa dist,src=0,dst=1,val=21"
		;;
	4node*)
		m0=${1#4node} m0=${m0#:} m0=${m0:-512}
		echo "-m $((4 * m0)) -smp 4,sockets=4,cores=1"
		for n in 0 1 2 3; do
			echo "-object memory-backend-ram,id=m$n,size=${m0}M -numa node,nodeid=$n,cpus=$n,memdev=m$n"
		done
		echo "-numa dist,src=0,dst=1,val=16 -numa dist,src=0,dst=2,val=22
		-numa dist,src=0,dst=3,val=22 -numa dist,src=1,dst=2,val=22
		-numa dist,src=1,dst=3,val=22 -numa dist,src=2,dst=3,val=16"
		;;
	hmat*)
		# HMAT: node 0 (CPUs 0-1) and node 1 (CPUs 2-3) with 512 MiB each,
		# node 2 with 256 MiB and no CPU (a CXL-like expander, nearest to
		# node 0); latency in ns and bandwidth per initiator and target
		echo "-machine hmat=on -m 1280 -smp 4,sockets=2,cores=2
		-object memory-backend-ram,id=m0,size=512M -numa node,nodeid=0,cpus=0-1,memdev=m0,initiator=0
		-object memory-backend-ram,id=m1,size=512M -numa node,nodeid=1,cpus=2-3,memdev=m1,initiator=1
		-object memory-backend-ram,id=m2,size=256M -numa node,nodeid=2,memdev=m2,initiator=0
		-numa dist,src=0,dst=1,val=21 -numa dist,src=0,dst=2,val=17 -numa dist,src=1,dst=2,val=28"
		for i in 0 1; do
			for t in 0 1 2; do
				lat=$(hmat_lat "$i" "$t") bw=$(hmat_bw "$i" "$t")
				echo "-numa hmat-lb,initiator=$i,target=$t,hierarchy=memory,data-type=access-latency,latency=$lat"
				echo "-numa hmat-lb,initiator=$i,target=$t,hierarchy=memory,data-type=access-bandwidth,bandwidth=${bw}M"
			done
		done
		;;
	esac
}

# What the hmat topology declares: latency (ns) and bandwidth (MiB/s, as
# QEMU's M suffix) from initiator $1 to target $2
hmat_lat() {
	case $1$2 in
	00|11) echo 80 ;; 01|10) echo 140 ;; 02) echo 250 ;; 12) echo 400 ;;
	esac
}
hmat_bw() {
	case $1$2 in
	00|11) echo 20480 ;; 01|10) echo 10240 ;; 02) echo 6144 ;; 12) echo 3072 ;;
	esac
}

# numavm_boot NAME TOPO INITRD TIMEOUT [ARGS]: serial log in $NUMAVM_RUN/NAME.log
numavm_boot() {
	local name=$1 topo=$2 initrd=$3 limit=$4 log="$NUMAVM_RUN/$1.log" rc
	shift 4
	rm -f "$log" "$log.qemu"
	# shellcheck disable=SC2046
	timeout -k 5 "$limit" "$QEMU" -accel tcg,thread=multi -cpu max \
		$(topology "$topo") \
		-kernel "$KERNEL" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 NUMAVM_TEST=$name $*" \
		-display none -serial "file:$log" -monitor none -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=4 </dev/null >"$log.qemu" 2>&1
	rc=$?
	case $rc in
	1) return 0 ;;
	3) return 1 ;;
	124|137) echo "VM $name: no verdict within ${limit}s (timeout)" ;;
	*) echo "VM $name: no verdict, QEMU exit $rc: $(head -c 500 "$log.qemu")" ;;
	esac
	return 2
}
