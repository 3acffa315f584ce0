#!/bin/sh
# Not a test: one measurement for tests/numavm/numad_compare.sh. Sets up
# NUMAVM_SETUP (two: the two_node case's guests; four: the four_node case's),
# runs NUMAVM_TOOL (vnumad: the shipped defaults but the proc backend and
# procfs sampling; vnumad-fast: the tests' configuration, 500 ms ticks;
# numad: as shipped, in a time namespace 100000 s ahead so that its 300 s
# wait for processes it never bound is over), and watches every 0.5 s until
# every guest is local (>= 90% of its memory on the nodes its vCPUs may run
# on) or NUMAVM_LIMIT seconds pass; then, over 10 s, where the vCPU threads
# really run: the share of the guest's memory on the node each last ran on.
# Prints one line:
#   RESULT tool=T setup=S fixed=SECONDS|never migrated=MIB locality=G:P,...
#          run=G:P,... cpus=G:[LIST],...
. /numavm/vmlib.sh
echo 0 >/proc/sys/kernel/numa_balancing
mib=${NUMAVM_MIB:-320}
limit=${NUMAVM_LIMIT:-150}

# nodes_of CPULIST: the nodes of those CPUs, as "0 1"
nodes_of() {
	echo "$1" | tr ',' '\n' | while IFS=- read -r a b; do
		seq "$a" "${b:-$a}"
	done | while read -r c; do
		ls -d /sys/devices/system/cpu/cpu$c/node* 2>/dev/null | sed 's/.*node//'
	done | sort -u | tr '\n' ' '
}
# locality NAME: percentage of its memory on the nodes its vCPUs may use
locality() {
	local pid cpus nodes
	pid=$(gpid "$1")
	cpus=$(vcpu_cpus "$pid" | tr ' ' ',')
	nodes=$(nodes_of "$cpus")
	awk -v nodes=" $nodes" '{
		kb = 4
		for (i = 2; i <= NF; i++) if ($i ~ /^kernelpagesize_kB=/) { split($i, a, "="); kb = a[2] }
		for (i = 2; i <= NF; i++) if ($i ~ /^N[0-9]+=/) {
			split(substr($i, 2), a, "="); t += a[2] * kb
			if (index(nodes, " " a[1] " ")) m += a[2] * kb
		}
	} END { print t ? int(m * 100 / t) : 0 }' "/proc/$pid/numa_maps"
}

case ${NUMAVM_SETUP:-two} in
two)
	guests="remote local"
	start_guest remote -smp 2 -m "$mib" -cpu-node 0 -mem-node 1 || finish
	start_guest local -smp 1 -m "$mib" -cpu-node 0 -mem-node 0 || finish
	;;
four)
	guests="resident far crowded"
	start_guest resident -smp 1 -m "$mib" -cpu-node 2 -mem-node 2 || finish
	start_guest far -smp 1 -m "$mib" -cpu-node 0 -mem-node 3 || finish
	start_guest crowded -smp 1 -m "$mib" -cpu-node 1 -mem-node 2 || finish
	;;
esac
for g in $guests; do say "before: $(where $g), locality $(locality $g)%"; done
m0=$(pgmigrate)
t0=$(now10)
case ${NUMAVM_TOOL:-vnumad} in
vnumad)
	mkdir -p /run/vnumad
	cat >/run/vnumad.conf <<CONF
[daemon]
state_dir = /run/vnumad
control = /run/vnumad/control.sock
[backend]
type = proc
[sampling]
source = procfs
CONF
	vnumad -f -c /run/vnumad.conf >/tmp/vnumad.log 2>&1 &
	;;
vnumad-fast)
	write_conf /run/vnumad.conf </dev/null
	vnumad -f -c /run/vnumad.conf >/tmp/vnumad.log 2>&1 &
	;;
numad)
	mkdir -p /var/log /var/run
	# the full path: busybox, built to prefer its applets, has an unshare without --time
	/usr/bin/unshare --time --monotonic 100000 --fork numad -l 6
	;;
esac
fixed=never
while [ $(($(now10) - t0)) -lt $((limit * 10)) ]; do
	all=1
	for g in $guests; do
		[ "$(locality $g)" -ge 90 ] || { all=0; break; }
	done
	if [ $all = 1 ]; then
		fixed=$(awk -v a="$(now10)" -v b="$t0" 'BEGIN { printf "%.1f", (a - b) / 10 }')
		break
	fi
	sleep 0.5
done
# runlocal NAME: the share of its memory on the node each of its vCPU
# threads last ran on (stat field 39), averaged over the threads
runlocal() {
	local pid t cpu node sum=0 n=0
	pid=$(gpid "$1")
	for t in /proc/$pid/task/*; do
		case "$(cat "$t/comm" 2>/dev/null)" in
		"CPU "*"/KVM") ;;
		*) continue ;;
		esac
		cpu=$(sed 's/.*) //' "$t/stat" | awk '{ print $37 }')
		node=$(ls -d /sys/devices/system/cpu/cpu$cpu/node* | sed 's/.*node//')
		sum=$((sum + $(mem_share "$pid" "$node")))
		n=$((n + 1))
	done
	echo $((n ? sum / n : 0))
}
# let migrations under way end, then take the figures
[ "$fixed" = never ] || sleep 5
# where the vCPUs really run: 20 looks over 10 s
for g in $guests; do eval "run_$g=0"; done
for _ in $(seq 20); do
	for g in $guests; do eval "run_$g=\$((run_$g + \$(runlocal $g)))"; done
	sleep 0.5
done
m1=$(pgmigrate)
loc="" pin="" run=""
for g in $guests; do
	loc="$loc${loc:+,}$g:$(locality $g)"
	run="$run${run:+,}$g:$(($(eval echo "\$run_$g") / 20))"
	pin="$pin${pin:+,}$g:[$(vcpu_cpus "$(gpid $g)" | tr ' ' ',')]"
	say "after: $(where $g), locality $(locality $g)%"
done
echo "RESULT tool=${NUMAVM_TOOL:-vnumad} setup=${NUMAVM_SETUP:-two} fixed=$fixed migrated=$(((m1 - m0) * 4 / 1024)) locality=$loc run=$run cpus=$pin"
for f in /tmp/vnumad.log /var/log/numad.log; do
	[ -f "$f" ] && { echo "---- $f"; grep -v '^tick ' "$f" | tail -n 40; }
done
exit 0
