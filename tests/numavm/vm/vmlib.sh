# Helpers of the VM-side test cases (busybox sh). A case sources this file,
# makes its checks with check/fail and ends with `finish`.
#
# Guests are guestload processes, run as qemu-system-guestload (the proc
# backend takes only a VMM's executable): "CPU n/KVM" threads on one node, RAM on
# another (see tests/numavm/guestload.c). Placement is read the way an
# operator would: Cpus_allowed_list of each vCPU thread and the N<node>=
# pages of /proc/PID/numa_maps.
# shellcheck disable=SC2034 # DRC and the like are for the cases
NFAIL=0
T0=$(cut -d' ' -f1 /proc/uptime)

say() { echo "numavm: [$(elapsed)s] $*"; }
elapsed() { awk -v t0="$T0" '{ printf "%.1f", $1 - t0 }' /proc/uptime; }
ok() { say "ok: $*"; }
fail() { say "FAIL: $*"; NFAIL=$((NFAIL + 1)); }
# check DESCRIPTION COMMAND...: ok or FAIL by the command's status
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; return 1; fi
}
finish() {
	[ -n "${DPID:-}" ] && kill -0 "$DPID" 2>/dev/null && stop_daemon
	# a sanitizer build of vnumad reports into its log
	if grep -Eq 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' /tmp/vnumad*.log 2>/dev/null; then
		fail "a sanitizer report in the daemon's log"
		grep -EA12 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' /tmp/vnumad*.log | head -40
	fi
	if [ "$NFAIL" -ne 0 ] || [ -n "${NUMAVM_VERBOSE:-}" ]; then
		say "$NFAIL check(s) failed; daemon log follows"
		for f in /tmp/vnumad*.log; do
			[ -f "$f" ] || continue
			# every message, and the last ticks' summaries
			echo "---- $f"
			grep -v '^tick ' "$f" | tail -n 150
			grep '^tick ' "$f" | tail -n 5
		done
	fi
	[ "$NFAIL" -eq 0 ] || exit 1
	exit 0
}

# uptime in tenths of a second
now10() { awk '{ printf "%d", $1 * 10 }' /proc/uptime; }
# The case's time: NUMAVM_BUDGET seconds from the kernel command line (the
# host sets it a little under QEMU's limit), after which waits give up at
# once, so that the case still reaches `finish` and prints the daemon's log.
BUDGET_END=$(($(now10) + ${NUMAVM_BUDGET:-3600} * 10))
# wait_for SECONDS COMMAND...: polls every 0.2 s until the command succeeds
# or SECONDS of wall-clock time have passed; status of the last try
wait_for() {
	local end=$(($(now10) + $1 * 10))
	[ "$end" -le "$BUDGET_END" ] || end=$BUDGET_END
	shift
	while [ "$(now10)" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.2
	done
	"$@"
}

node_cpus() { cat "/sys/devices/system/node/node$1/cpulist"; }
# free memory of a node, MiB
node_free() { awk '/MemFree/ { print int($4 / 1024) }' "/sys/devices/system/node/node$1/meminfo"; }

# start_guest NAME ARGS...: a guestload in the background; its pid in
# /tmp/NAME.pid, its output in /tmp/NAME.out, waits until it is in place
start_guest() {
	local name=$1
	shift
	qemu-system-guestload -name "guest=$name" "$@" >"/tmp/$name.out" 2>&1 &
	echo $! >"/tmp/$name.pid"
	if ! wait_for 30 grep -q '^ready' "/tmp/$name.out"; then
		fail "guest $name did not start: $(cat "/tmp/$name.out")"
		return 1
	fi
}
gpid() { cat "/tmp/$1.pid"; }

# vcpu_cpus PID: the distinct Cpus_allowed_list of its "CPU n/KVM" threads
vcpu_cpus() {
	local t
	for t in /proc/$1/task/*; do
		case "$(cat "$t/comm" 2>/dev/null)" in
		"CPU "*"/KVM") awk '/^Cpus_allowed_list/ { print $2 }' "$t/status" ;;
		esac
	done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# mem_by_node PID: "N0=MiB N1=MiB ..." of the process's resident memory
mem_by_node() {
	awk '{
		kb = 4
		for (i = 2; i <= NF; i++) if ($i ~ /^kernelpagesize_kB=/) { split($i, a, "="); kb = a[2] }
		for (i = 2; i <= NF; i++) if ($i ~ /^N[0-9]+=/) {
			split(substr($i, 2), a, "="); m[a[1]] += a[2] * kb
		}
	} END { for (n = 0; n < 64; n++) if (n in m) printf "N%d=%d ", n, m[n] / 1024 }' \
		"/proc/$1/numa_maps" | sed 's/ $//'
}

# mem_share PID NODE: percentage of the process's memory on NODE
mem_share() {
	awk -v node="$2" '{
		kb = 4
		for (i = 2; i <= NF; i++) if ($i ~ /^kernelpagesize_kB=/) { split($i, a, "="); kb = a[2] }
		for (i = 2; i <= NF; i++) if ($i ~ /^N[0-9]+=/) {
			split(substr($i, 2), a, "="); t += a[2] * kb; if (a[1] == node) m += a[2] * kb
		}
	} END { print t ? int(m * 100 / t) : 0 }' "/proc/$1/numa_maps"
}

# is_local NAME NODE: every vCPU allowed exactly NODE's CPUs, >= 90% of the
# memory there
is_local() {
	local pid
	pid=$(gpid "$1")
	[ "$(vcpu_cpus "$pid")" = "$(node_cpus "$2")" ] && [ "$(mem_share "$pid" "$2")" -ge 90 ]
}
# vcpus_on NAME NODE: every vCPU thread allowed exactly NODE's CPUs
vcpus_on() { [ "$(vcpu_cpus "$(gpid "$1")")" = "$(node_cpus "$2")" ]; }
# where NAME: one line describing the guest's placement, for the log
where() {
	local pid
	pid=$(gpid "$1")
	echo "guest $1: vCPUs on CPUs [$(vcpu_cpus "$pid")], memory MiB $(mem_by_node "$pid")"
}
# local_on_any NAME NODE...: is_local on one of the nodes, that one in LOCAL_NODE
local_on_any() {
	local g=$1 n
	shift
	for n in "$@"; do
		is_local "$g" "$n" && { LOCAL_NODE=$n; return 0; }
	done
	LOCAL_NODE=
	return 1
}
# expect_local_any NAME SECONDS NODE...: waits for it, then one check
expect_local_any() {
	local g=$1 t=$2
	shift 2
	wait_for "$t" local_on_any "$g" "$@"
	check "$(where "$g"), local on node $(echo "$@" | sed 's/ / or /g')" local_on_any "$g" "$@"
}
# expect_local NAME NODE SECONDS: waits for it, then one check
expect_local() {
	wait_for "$3" is_local "$1" "$2"
	check "$(where "$1"), local on node $2" is_local "$1" "$2"
}

# verify NAME: the guest checks that its memory still holds what it wrote
verify_guest() {
	local pid n
	pid=$(gpid "$1")
	n=$(grep -c '^verify' "/tmp/$1.out")
	kill -USR1 "$pid"
	wait_for 20 sh -c "[ \$(grep -c '^verify' /tmp/$1.out) -gt $n ]"
	tail -n 1 "/tmp/$1.out" | grep -q '^verify ok'
}

# write_conf FILE: the daemon's configuration; HYSTERESIS and MIGRATE_RATE
# change those keys, lines on stdin are appended
write_conf() {
	cat >"$1" <<CONF
[daemon]
interval = 500ms
state_dir = /run/vnumad
control = /run/vnumad/control.sock
log_level = info

[backend]
type = proc
numa_balancing = disable

[sampling]
source = procfs
memory_interval = 500ms
# no budget: under TCG every numa_maps read costs tens of times what it
# costs a real host, and these cases want fresh figures every tick
memory_budget = 0

[model]
halflife = 1s

# the VM's nodes hold a few hundred MiB: the reserves of a real host's
# nodes (512 MiB) would leave no room to move memory to
[policy.locality]
cpu_headroom = 0%
memory_reserve = 16MiB

[policy.place]
cpu_headroom = 0%
memory_reserve = 16MiB

[guard]
baseline = 2s
settle = 1s
judge = 2s
tolerance = 5%
quarantine = 5min
max_moves_per_hour = 60

[limits]
hysteresis = ${HYSTERESIS:-5s}
migrate_rate = ${MIGRATE_RATE:-256MiB/s}
CONF
	cat >>"$1"
}

# start_daemon LOG [ARGS...]: vnumad in the foreground, in the background
start_daemon() {
	DLOG=$1
	shift
	vnumad -f -c /run/vnumad.conf "$@" >"$DLOG" 2>&1 &
	DPID=$!
	# a socket file may be a dead daemon's: wait for an answer
	wait_for 20 answers || fail "the daemon does not answer on its control socket"
}
answers() { vnumad status -c /run/vnumad.conf >/dev/null 2>&1; }
# knows NAME: the running daemon lists the guest
knows() { vnumad status -c /run/vnumad.conf 2>/dev/null | grep -q "^$1 "; }
# mib_on PID NODE: MiB of the process on NODE
mib_on() { mem_by_node "$1" | tr ' ' '\n' | awk -F= -v n="N$2" '$1 == n { print $2 + 0; f = 1 } END { if (!f) print 0 }'; }
# pgmigrate: pages the kernel migrated since boot
pgmigrate() { awk '/^pgmigrate_success/ { print $2 }' /proc/vmstat; }
stop_daemon() {
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID"
	DRC=$?
	DPID=
}
# in_log PATTERN: an extended regular expression in the daemon's log
in_log() { grep -Eq -- "$1" "$DLOG"; }
expect_log() {
	wait_for "$2" in_log "$1"
	check "daemon log says /$1/" in_log "$1"
}
nfds() { ls "/proc/$1/fd" | wc -l; }
