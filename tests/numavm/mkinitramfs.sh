#!/bin/bash
# Builds the initramfs of the multi-node test VM: busybox-static, vnumad and
# the numactl tools with the libraries ldd lists, the static helpers
# guestload and vmexit, and the VM-side scripts of tests/numavm/vm/.
#
#   tests/numavm/mkinitramfs.sh OUT VNUMAD GUESTLOAD VMEXIT [EXTRA...]
#
# EXTRA are more programs to carry (numad and unshare for the comparison).
# NUMAVM_BUSYBOX, NUMAVM_NUMACTL and NUMAVM_MIGRATEPAGES name the programs
# when they are not the installed ones (unpacked from a downloaded .deb).
# Everything goes in uncompressed: unpacking gzip under TCG costs seconds,
# and QEMU loads the file from disk at host speed.
set -eu
out=$1 vnumad=$2 guestload=$3 vmexit=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

# copies a file to the same path under the root, following links
put() {
	local src=$1 dst=${2:-$1}
	mkdir -p "$root$(dirname "$dst")"
	cp -L "$src" "$root$dst"
}

# copies a dynamic program and every library it needs
put_prog() {
	local src=$1 dst=$2 lib
	put "$src" "$dst"
	# ldd prints "name => /path (addr)" and "/lib64/ld-linux... (addr)"
	for lib in $(ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		[ -e "$root$lib" ] && continue
		case $lib in
		*/libicudata.so.*) icu_stub "$lib" || put "$lib" ;;
		*) put "$lib" ;;
		esac
	done
}

# ICU's data library is 30 MB of locale tables, 40% of the initramfs and a
# second of unpacking per boot under TCG. vnumad never reaches it (libxml2,
# through libvirt, wants it for character-set conversions only), so a stub
# defining its one symbol takes its place; ICU would report its data as
# invalid rather than crash.
icu_stub() {
	local lib=$1 so sym
	so=$(basename "$lib")
	sym=$(nm -D --defined-only "$lib" 2>/dev/null | awk '$3 ~ /^icudt[0-9]+_dat$/ { print $3 }')
	[ -n "$sym" ] || return 1
	mkdir -p "$root$(dirname "$lib")"
	echo "const unsigned char ${sym}[64] __attribute__((aligned(16)));" |
		${CC:-cc} -shared -fPIC -x c -o "$root$lib" -Wl,-soname,"$so" - 2>/dev/null
}

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,numavm}
busybox=${NUMAVM_BUSYBOX:-/bin/busybox}
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list); do
	[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
done
put_prog "$vnumad" /usr/sbin/vnumad
put_prog "${NUMAVM_NUMACTL:-/usr/bin/numactl}" /usr/bin/numactl
put_prog "${NUMAVM_MIGRATEPAGES:-/usr/bin/migratepages}" /usr/bin/migratepages
cp "$guestload" "$root/bin/guestload"
# guests run it under a QEMU executable's name, which vnumad's proc backend
# wants (a hard link: /proc/PID/exe shows a symbolic link's target)
ln "$root/bin/guestload" "$root/bin/qemu-system-guestload"
cp "$vmexit" "$root/bin/vmexit"
for x in "$@"; do
	put_prog "$x" "/usr/bin/$(basename "$x")"
	# the real program, not busybox's applet of the same name (unshare)
	rm -f "$root/bin/$(basename "$x")"
done
echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
cp "$here/init" "$root/init"
cp "$here"/vm/*.sh "$root/numavm/"
chmod 755 "$root/init" "$root"/numavm/*.sh
mkdir -p "$(dirname "$out")"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) >"$out.$$"
mv -f "$out.$$" "$out"
