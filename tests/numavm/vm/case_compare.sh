#!/bin/sh
# Not a test: the measurements of tests/numavm/compare.sh. One boot runs
# the setups of NUMAVM_SETUP (a list with commas, of one topology) under
# each contender of NUMAVM_TOOLS in turn, every contender on freshly
# started guests:
#
#   two     the two_node case's guests: "remote" (2 vCPUs on node 0, RAM on
#           node 1) and "local" (1 vCPU and RAM on node 0)
#   four    the four_node case's: "resident" (node 2, local), "far" (vCPU
#           on node 0, RAM on idle node 3), "crowded" (vCPU on node 1, RAM
#           on node 2, whose CPU resident keeps busy)
#   phase   two nodes; "phase" (2 vCPUs and RAM on node 0) and "local" run
#           local until NUMAVM_PHASE_AT seconds after the contender started
#           (a contender still moving them then, relieving node 0 where
#           three vCPUs share two CPUs as numad does, is waited for, and
#           vnumad until its guard has judged those moves); then
#           phase's working set moves to node 1 (guestload -phase-node) and
#           the clock starts again
#
# Contenders:
#   kernel        the kernel's automatic NUMA balancing (numa_balancing = 1),
#                 nothing else running
#   numad         Debian's numad (numa_balancing = 0), in a time namespace
#                 100000 s ahead so that its 300 s wait for a process it never
#                 bound is over
#   vnumad        the shipped defaults (numa_balancing = 0) but the proc
#                 backend and procfs sampling
#   vnumad-leave  the same with [backend] numa_balancing = leave, while the
#                 kernel's balancing is on: both at work
#   vnumad-fast   the tests' configuration (500 ms ticks, short windows)
#
# Every 0.5 s from the contender's start (for phase: from the change) it
# checks whether each guest is local: at least 90% of its memory on the
# nodes its vCPU threads may run on AND on the node each thread last ran
# on (field 39 of its stat). "Time to local" is when that first holds for
# every guest (up to NUMAVM_LIMIT s). Then NUMAVM_SETTLE s for migrations
# under way, then NUMAVM_WATCH s looking every 0.5 s at where the vCPU
# threads ran. The counters of /proc/vmstat (pgmigrate_success,
# numa_pages_migrated, numa_hint_faults) and the CPU time of the daemon and
# of the guests' threads in the kernel (system time: the NUMA scanning and
# hinting faults run there) are taken from the start to the end of the
# watch. One line per contender:
#   RESULT tool=T setup=S fixed=SECONDS|never migrated=MIB balancing=MIB
#          faults=N daemon_cpu=SECONDS|- guest_sys=SECONDS locality=G:P,...
#          run=G:P,... cpus=G:[LIST],... before=ok|late|not-local|-
#          after_change=MIB|- change_at=SECONDS|-
# (phase: before says whether every guest was local NUMAVM_PHASE_AT s
# after the contender started, with vnumad's moves judged, "late" when it
# was only later, within the limit, and the change then waited for it
# (not-local: it never was); change_at is when the change
# came, from the contender's start; after_change is what was migrated from
# the change on, the reaction to it)
. /numavm/vmlib.sh
mib=${NUMAVM_MIB:-320}
limit=${NUMAVM_LIMIT:-150}
settle=${NUMAVM_SETTLE:-5}
watch=${NUMAVM_WATCH:-10}
phase_at=${NUMAVM_PHASE_AT:-20}
hz=100		# USER_HZ: the unit of utime and stime in /proc/PID/stat

# /tmp/cpunode: "CPU NODE" per line, read by place()
for d in /sys/devices/system/cpu/cpu[0-9]*; do
	for n in "$d"/node*; do
		[ -e "$n" ] && echo "${d##*cpu} ${n##*node}"
	done
done >/tmp/cpunode
# place PID: "ALLOWED RAN": the percentage of its memory on the nodes its
# vCPU threads may run on, and on the node each last ran on (stat field 39,
# the mean over the threads). One awk: a look must be quick under TCG.
place() {
	local t comm files=""
	for t in /proc/$1/task/*; do
		read -r comm <"$t/comm" 2>/dev/null || continue
		case $comm in "CPU "*"/KVM") files="$files $t/status $t/stat" ;; esac
	done
	# shellcheck disable=SC2086
	awk '
	BEGIN { while ((getline l < "/tmp/cpunode") > 0) { split(l, a, " "); node[a[1]] = a[2] } }
	FILENAME ~ /status$/ && $1 == "Cpus_allowed_list:" {
		n = split($2, r, ",")
		for (i = 1; i <= n; i++) {
			if (split(r[i], b, "-") < 2) b[2] = b[1]
			for (c = b[1] + 0; c <= b[2] + 0; c++) allowed[node[c]] = 1
		}
	}
	FILENAME ~ /\/stat$/ { sub(/.*\) /, ""); split($0, f, " "); ran[++nt] = node[f[37]] }
	FILENAME ~ /numa_maps$/ {
		kb = 4
		for (i = 2; i <= NF; i++) if ($i ~ /^kernelpagesize_kB=/) { split($i, a, "="); kb = a[2] }
		for (i = 2; i <= NF; i++) if ($i ~ /^N[0-9]+=/) {
			split(substr($i, 2), a, "="); mem[a[1]] += a[2] * kb; tot += a[2] * kb
		}
	}
	END {
		if (!tot || !nt) { print "0 0"; exit }
		for (n in allowed) al += mem[n]
		for (i = 1; i <= nt; i++) rn += mem[ran[i]] / tot
		printf "%d %d\n", al * 100 / tot, rn * 100 / nt
	}' $files "/proc/$1/numa_maps"
}
locality() { set -- $(place "$(gpid "$1")"); echo "$1"; }
runlocal() { set -- $(place "$(gpid "$1")"); echo "$2"; }
# all_local: every guest local by both measures
all_local() {
	local g
	for g in $guests; do
		# shellcheck disable=SC2046
		set -- $(place "$(gpid "$g")")
		[ "$1" -ge 90 ] && [ "$2" -ge 90 ] || return 1
	done
}
# vcpu_tasks PID: the stat files of its "CPU n/KVM" threads
vcpu_tasks() {
	local t comm
	for t in /proc/$1/task/*; do
		read -r comm <"$t/comm" 2>/dev/null || continue
		case $comm in "CPU "*"/KVM") echo "$t/stat" ;; esac
	done
}
# vmstat NAME: a counter of /proc/vmstat, 0 where this kernel has none
vmstat() { awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' /proc/vmstat; }
# cpu_ticks PID: utime + stime of a process, its threads included
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
# guest_sys: system time of every guest's vCPU threads, in ticks
guest_sys() {
	local g f s=0
	for g in $guests; do
		for f in $(vcpu_tasks "$(gpid "$g")"); do
			s=$((s + $(sed 's/.*) //' "$f" | awk '{ print $13 }')))
		done
	done
	echo $s
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a - b) / 10 }'; }

# launch NAME ARGS...: a guestload in the background, not waited for, run
# as qemu-system-guestload (the proc backend takes only a VMM executable)
launch() {
	local name=$1
	shift
	qemu-system-guestload -name "guest=$name" "$@" >"/tmp/$name.out" 2>&1 &
	echo $! >"/tmp/$name.pid"
}
# start_guests: the setup's guests, touching their memory at once
start_guests() {
	local g
	case $setup in
	two)
		guests="remote local"
		launch remote -smp 2 -m "$mib" -cpu-node 0 -mem-node 1
		launch local -smp 1 -m "$mib" -cpu-node 0 -mem-node 0
		;;
	four)
		guests="resident far crowded"
		launch resident -smp 1 -m "$mib" -cpu-node 2 -mem-node 2
		launch far -smp 1 -m "$mib" -cpu-node 0 -mem-node 3
		launch crowded -smp 1 -m "$mib" -cpu-node 1 -mem-node 2
		;;
	phase)
		guests="phase local"
		launch phase -smp 2 -m "$mib" -cpu-node 0 -mem-node 0 -phase-node 1
		launch local -smp 1 -m "$mib" -cpu-node 0 -mem-node 0
		;;
	esac
	for g in $guests; do
		wait_for 30 grep -q '^ready' "/tmp/$g.out" ||
			{ say "guest $g did not start: $(cat "/tmp/$g.out")"; return 1; }
	done
}
stop_guests() {
	local g
	for g in $guests; do kill "$(gpid "$g")" 2>/dev/null; done
	for g in $guests; do
		wait_for 20 sh -c "! kill -0 $(gpid "$g") 2>/dev/null"
	done
}

# settled TOOL: the contender has judged what it did. For vnumad, no move
# of the first half still under its guard's judgement: a verdict after the
# change (an undo, and the relief then made another way) would be counted
# as the reaction to it. A status that cannot be read is said, and waits
# for nothing.
settled() {
	local out
	case $1 in vnumad*) ;; *) return 0 ;; esac
	if ! out=$(vnumad status -c /run/vnumad.conf 2>&1); then
		say "vnumad status: $out"
		return 0
	fi
	case $out in *"trials under judgement: none"*) return 0 ;; esac
	return 1
}

# start_tool NAME: the contender; its daemon's pid in TOOL_PID
start_tool() {
	TOOL_PID=
	rm -rf /run/vnumad /tmp/vnumad.log /var/log/numad.log
	case $1 in
	kernel)
		echo 1 >/proc/sys/kernel/numa_balancing
		;;
	numad)
		mkdir -p /var/log /var/run
		# the full path: busybox, built to prefer its applets, has an unshare without --time
		/usr/bin/unshare --time --monotonic 100000 --fork numad -l 6
		TOOL_PID=$(pidof numad | awk '{ print $1 }')
		;;
	vnumad|vnumad-leave)
		mkdir -p /run/vnumad
		cat >/run/vnumad.conf <<CONF
[daemon]
state_dir = /run/vnumad
control = /run/vnumad/control.sock
[backend]
type = proc
$([ "$1" = vnumad-leave ] && echo "numa_balancing = leave")
[sampling]
source = procfs
CONF
		[ "$1" = vnumad-leave ] && echo 1 >/proc/sys/kernel/numa_balancing
		vnumad -f -c /run/vnumad.conf ${NUMAVM_VNUMAD_ARGS:-} >/tmp/vnumad.log 2>&1 &
		TOOL_PID=$!
		;;
	vnumad-fast)
		write_conf /run/vnumad.conf </dev/null
		vnumad -f -c /run/vnumad.conf ${NUMAVM_VNUMAD_ARGS:-} >/tmp/vnumad.log 2>&1 &
		TOOL_PID=$!
		;;
	*)
		say "unknown contender $1"
		return 1
		;;
	esac
}
stop_tool() {
	[ -n "$TOOL_PID" ] && kill "$TOOL_PID" 2>/dev/null
	[ -n "$TOOL_PID" ] && wait_for 20 sh -c "! kill -0 $TOOL_PID 2>/dev/null"
	echo 0 >/proc/sys/kernel/numa_balancing
}

# measure TOOL: one contender on fresh guests, one RESULT line
measure() {
	local tool=$1 t0 fixed=never before=- change_at=- m0 mc= p0 h0 s0 m1 p1 h1 s1 cpu g l loc run pin n polls end
	echo 0 >/proc/sys/kernel/numa_balancing
	start_guests || return 1
	for g in $guests; do say "$setup $tool: before: $(where $g)"; done
	m0=$(vmstat pgmigrate_success) p0=$(vmstat numa_pages_migrated)
	h0=$(vmstat numa_hint_faults) s0=$(guest_sys)
	t0=$(now10)
	start_tool "$tool" || return 1
	if [ "$setup" = phase ]; then
		# the first half: every guest local from the start. A contender
		# still at work on it then (vnumad relieving node 0, where three
		# vCPUs share two CPUs, and judging that move) is given up to
		# `limit` s more to settle, and its migrations `settle` s, so that
		# what is measured after the change is the reaction to it
		sleep "$phase_at"
		if all_local && settled "$tool"; then
			before=ok
		else
			end=$(($(now10) + limit * 10))
			while ! { all_local && settled "$tool"; } && [ "$(now10)" -lt "$end" ]; do
				sleep 0.5
			done
			all_local && before=late || before=not-local
			sleep "$settle"
		fi
		change_at=$(secs "$(now10)" "$t0")
		kill -USR2 "$(gpid phase)"
		wait_for 60 grep -q '^phase done' /tmp/phase.out
		say "$setup $tool: phase change: $(where phase)"
		mc=$(vmstat pgmigrate_success)
		t0=$(now10)
	fi
	polls=0
	while [ $(($(now10) - t0)) -lt $((limit * 10)) ]; do
		polls=$((polls + 1))
		if all_local; then
			fixed=$(secs "$(now10)" "$t0")
			break
		fi
		sleep 0.5
	done
	say "$setup $tool: local after $fixed s, $polls looks"

	[ "$fixed" = never ] || sleep "$settle"
	# looks every 0.5 s for `watch` seconds (a look itself takes time here)
	for g in $guests; do eval "run_$g=0"; done
	n=0 end=$(($(now10) + watch * 10))
	while [ $n -lt 2 ] || [ "$(now10)" -lt "$end" ]; do
		for g in $guests; do eval "run_$g=\$((run_$g + \$(runlocal $g)))"; done
		n=$((n + 1))
		sleep 0.5
	done
	m1=$(vmstat pgmigrate_success) p1=$(vmstat numa_pages_migrated)
	h1=$(vmstat numa_hint_faults) s1=$(guest_sys)
	cpu=$(awk -v t="$(cpu_ticks "${TOOL_PID:-0}")" -v hz=$hz -v p="$TOOL_PID" \
		'BEGIN { if (p == "") print "-"; else printf "%.2f", t / hz }')
	loc="" pin="" run=""
	for g in $guests; do
		l=$(locality $g)
		loc="$loc${loc:+,}$g:$l"
		run="$run${run:+,}$g:$(($(eval echo "\$run_$g") / n))"
		pin="$pin${pin:+,}$g:[$(vcpu_cpus "$(gpid $g)" | tr ' ' ',')]"
		say "$setup $tool: after: $(where $g), locality $l%"
	done
	echo "RESULT tool=$tool setup=$setup fixed=$fixed migrated=$(((m1 - m0) * 4 / 1024))" \
		"balancing=$(((p1 - p0) * 4 / 1024)) faults=$((h1 - h0)) daemon_cpu=$cpu" \
		"guest_sys=$(awk -v t=$((s1 - s0)) -v hz=$hz 'BEGIN { printf "%.2f", t / hz }')" \
		"locality=$loc run=$run cpus=$pin before=$before" \
		"after_change=$([ -n "$mc" ] && echo $(((m1 - mc) * 4 / 1024)) || echo -)" \
		"change_at=$change_at"
	stop_tool
	for f in /tmp/vnumad.log /var/log/numad.log; do
		[ -f "$f" ] || continue
		echo "---- $setup $tool: $f"
		grep -v '^tick ' "$f" | tail -n 30
		grep '^tick ' "$f" | head -n 4
	done
	stop_guests
}

# lists with commas: the kernel command line splits at spaces
for setup in $(echo "${NUMAVM_SETUP:-two}" | tr , ' '); do
	for tool in $(echo "${NUMAVM_TOOLS:-kernel,numad,vnumad,vnumad-leave}" | tr , ' '); do
		measure "$tool" || say "$setup: $tool: the guests did not start"
	done
done
exit 0
