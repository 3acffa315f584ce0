#!/bin/bash
# How long numad -w (vnumad-numad) takes to answer libvirt, process start
# to exit, as libvirtd waits for it while it starts a domain: the median of
# 15 runs (QUICK: 5) with no daemon (the kernel's answer: a 40 ms sample of
# /proc/stat), with a daemon on the simulated host, and with a daemon that
# accepts and never answers (the 50 ms wait, then the kernel's answer).
# numad itself takes 2 s without its daemon. Goal: 100 ms each.
set -u
B=${B:-build/default}
N=$B/vnumad-numad
runs=$([ -n "${QUICK:-}" ] && echo 5 || echo 15)
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

# median_ms ARGS...: the median wall time of runs of numad -w with ARGS
median_ms() {
	for _ in $(seq "$runs"); do
		t0=$(date +%s%N)
		"$N" "$@" -w 2:1024 >/dev/null || return 1
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f\n", v[int((NR + 1) / 2)] / 1000 }'
}

printf '[daemon]\ncontrol = %s/none.sock\n' "$tmp" >"$tmp/none.conf"
v=$(median_ms -c "$tmp/none.conf") || exit 1
echo "BENCH name=numad/no-daemon value=$v unit=ms goal=100 dir=max desc=numad -w answered from /proc/stat and libnuma, start to exit"

sed "s|^control = .*|control = $tmp/control.sock|" etc/vnumad.conf >"$tmp/vnumad.conf"
"$B/vnumad" -f -c "$tmp/vnumad.conf" --backend sim --pace --interval 100ms >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/control.sock" ] && break; sleep 0.1; done
sleep 0.3
v=$(median_ms -c "$tmp/vnumad.conf") || exit 1
echo "BENCH name=numad/daemon value=$v unit=ms goal=100 dir=max desc=numad -w answered by a running vnumad (simulated host), start to exit"

socat "UNIX-LISTEN:$tmp/hang.sock,fork" SYSTEM:'sleep 30' >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/hang.sock" ] && break; sleep 0.1; done
v=$(median_ms --socket "$tmp/hang.sock") || exit 1
echo "BENCH name=numad/silent-daemon value=$v unit=ms goal=100 dir=max desc=numad -w when the daemon accepts and never answers, start to exit"
