#!/bin/bash
# numad's -w interface (vnumad-numad; vnumad numad; either run as "numad"),
# as libvirt's placement='auto' calls it, without libvirtd (for that, see
# tests/t_numad_libvirt.sh):
#  - a node list on stdout and exit 0, whatever the host's load: a guest
#    bigger than the host gets the best there is, not an error;
#  - without a daemon, from /proc/stat and libnuma; from the running
#    daemon when one answers on its control socket (it logs the request);
#    from the kernel again when the socket is stale, or accepts and never
#    answers (an answer all the same, not a hang);
#  - the command lines it refuses: exit 1 and why.
. "$(dirname "$0")/lib.sh"

N=$B/vnumad-numad
[ -x "$N" ] || skip "$N is not built"
list='^[0-9]+([-,][0-9]+)*$'

# no daemon anywhere: the socket named does not exist
cat >"$TMP/none.conf" <<EOF
[daemon]
control = $TMP/nobody/control.sock
EOF
expect_exit 0 "-w without a daemon" -- "$N" -c "$TMP/none.conf" -w 2:64
expect_output "$list" "-w prints a node list"
[ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "-w prints the list alone (stderr too: only with -v)"
expect_exit 0 "-w -v" -- "$N" -c "$TMP/none.conf" -w 2:64 -v
expect_output 'from /proc/stat and libnuma: no vnumad answered' "-v says where the answer came from"
expect_exit 0 "-w without the memory" -- "$N" -c "$TMP/none.conf" -w 2
expect_output "$list" "-w NCPUS alone"
expect_exit 0 "-w bigger than the host" -- "$N" -c "$TMP/none.conf" -w 4096:99999999 -v
expect_output "^[0-9]+([-,][0-9]+)*\$" "a full host still gets nodes"
expect_output 'not enough' "and says it does not fit"
expect_exit 0 "vnumad numad" -- "$VNUMAD" numad -c "$TMP/none.conf" -w 2:64
expect_output "$list" "vnumad numad -w"
# as /usr/bin/numad, a link to either program
mkdir -p "$TMP/a" "$TMP/b"
ln -s "$PWD/$N" "$TMP/a/numad"
ln -s "$PWD/$VNUMAD" "$TMP/b/numad"
expect_exit 0 "vnumad-numad run as numad" -- "$TMP/a/numad" -c "$TMP/none.conf" -w 2:64
expect_output "$list" "numad -w (vnumad-numad)"
expect_exit 0 "vnumad run as numad" -- "$TMP/b/numad" -c "$TMP/none.conf" -w 2:64
expect_output "$list" "numad -w (vnumad)"

# what it cannot answer
expect_exit 1 "-w garbage" -- "$N" -w two:64
expect_output "-w 'two:64': expected NCPUS\[:MIB\]" "bad -w"
expect_exit 1 "-w 0" -- "$N" -w 0:64
expect_exit 1 "-w negative memory" -- "$N" -w 2:-1
expect_exit 1 "numad's daemon options" -- "$N" -i 15
expect_output 'answers -w only' "daemon options refused with why"
expect_exit 1 "no -w" -- "$N"
expect_output '^usage: numad -w' "usage"
expect_exit 0 "-V" -- "$N" -V
expect_output "numad's -w interface" "-V"

# a daemon that accepts and never answers: an answer all the same, in time
socat "UNIX-LISTEN:$TMP/hang.sock,fork" SYSTEM:'sleep 30' &
hang=$!
for _ in $(seq 50); do [ -S "$TMP/hang.sock" ] && break; sleep 0.1; done
t0=$(date +%s%N)
expect_exit 0 "-w with a daemon that never answers" -- timeout 5 "$N" --socket "$TMP/hang.sock" -w 2:64 -v
t1=$(date +%s%N)
expect_output 'no vnumad answered' "silence: the kernel's answer"
expect_output "$list" "silence: still a node list"
# not a timing test: numad itself takes 2 s; a hang would be caught by timeout
[ $(((t1 - t0) / 1000000)) -lt 2000 ] || fail "a silent daemon held the answer $(((t1 - t0) / 1000000)) ms"
kill "$hang" 2>/dev/null

# the running daemon's answer, on the simulated host (demo: 2 nodes)
conf=$TMP/vnumad.conf
sed "s|^control = .*|control = $TMP/run/control.sock|" etc/vnumad.conf >"$conf"
"$VNUMAD" -f -c "$conf" --backend sim --pace --interval 100ms >"$TMP/d.out" 2>"$TMP/d.err" &
d=$!
for _ in $(seq 50); do [ -S "$TMP/run/control.sock" ] && break; sleep 0.1; done
sleep 0.5
expect_exit 0 "-w with a daemon" -- "$N" -c "$conf" -w 2:1024 -v
expect_output '^[01]$' "the daemon's single node for a small guest"
expect_output 'from the running vnumad' "the daemon answered"
grep -q 'placement asked for 2 vCPUs and 1024 MiB: node [01] ' "$TMP/d.err" ||
	fail "the daemon does not log the placement it answered"
expect_exit 0 "-w bigger than the simulated host" -- "$N" -c "$conf" -w 512:9999999 -v
expect_output '^0-1$' "every node for a guest bigger than the host"
expect_output 'from the running vnumad' "the daemon answered that too"
# the daemon dies and leaves its socket: the kernel's answer
kill -9 "$d"
wait "$d" 2>/dev/null
[ -S "$TMP/run/control.sock" ] || fail "no stale socket left to try"
expect_exit 0 "-w with a stale socket" -- timeout 5 "$N" -c "$conf" -w 2:64 -v
expect_output 'no vnumad answered' "a stale socket: the kernel's answer"
done_testing
