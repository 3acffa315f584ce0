#!/bin/bash
# vnumad, the kernel's automatic NUMA balancing and numad side by side on
# the test VM's setups: the table of tests/numavm/README.md.
#
#   tests/numavm/compare.sh [-q] [-u] [-o FILE] [RUNS]
#
#   RUNS   boots per setup (default 1); the figures of each boot are listed
#   -q     the short form of make check (tests/t_numavm_compare.sh): shorter
#          waits (1 s settle, 2 s watch, phase change after 6 s, 90 s limit)
#   -u     also writes the table into tests/numavm/README.md, between its
#          "compare.sh" markers
#   -o F   also writes the table to F
#
# NUMAVM_SETUPS="two four phase" and NUMAVM_TOOLS="kernel numad vnumad
# vnumad-leave" (the defaults) choose setups and contenders; vnumad-fast
# (the tests' 500 ms configuration) may be added. Each setup is one boot in
# which tests/numavm/vm/case_compare.sh runs every contender in turn on
# freshly started guests (it says what it measures); every guest has
# 320 MiB (numad ignores processes under 300 MB), two nodes of 1.5 GiB or
# four of 1 GiB. numad is left out, with a note, when it is not installed.
# Prints a Markdown table; the serial logs stay in build/numavm/compare/.
# Exit 0, or 77 when the VM cannot run here.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build/default}
. tests/numavm/host.sh
quick= update= out=
while getopts quo: opt; do
	case $opt in
	q) quick=1 ;;
	u) update=1 ;;
	o) out=$OPTARG ;;
	*) echo "usage: $0 [-q] [-u] [-o FILE] [RUNS]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
runs=${1:-1}
tools=${NUMAVM_TOOLS:-kernel numad vnumad vnumad-leave}
setups=${NUMAVM_SETUPS:-two four phase}
numavm_prepare || { echo "$NUMAVM_SKIP"; exit 77; }
UNSHARE=$(command -v unshare) || { echo "unshare is missing (util-linux)"; exit 77; }
NUMAD=$(command -v numad)
extra=()
note=
if [ -n "$NUMAD" ]; then
	extra=("$NUMAD" "$UNSHARE")
elif [[ " $tools " == *" numad "* ]]; then
	tools=$(echo " $tools " | sed 's/ numad / /; s/^ *//; s/ *$//')
	note="numad is not installed (apt-get install numad): left out"
	echo "$note" >&2
fi
NUMAVM_RUN=${NUMAVM_RUN_DIR:-$NUMAVM_DIR/compare}
mkdir -p "$NUMAVM_RUN"
# the tree the initrd's vnumad is built from, not the one at the end of the run
built_from="$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' with changes')"
numavm_initrd "$NUMAVM_RUN/initrd" "${extra[@]}" || exit 1
numavm_lock || { echo "another run holds $NUMAVM_DIR/.lock"; exit 77; }

if [ -n "$quick" ]; then
	# the limit covers place's hold (1 min) of a guest whose move was
	# reverted just before the phase change, and the copy after it
	args="NUMAVM_SETTLE=1 NUMAVM_WATCH=2 NUMAVM_PHASE_AT=6 NUMAVM_LIMIT=90"
	per_tool=200	# phase: up to NUMAVM_LIMIT s more to settle before the change
else
	args="NUMAVM_SETTLE=5 NUMAVM_WATCH=10 NUMAVM_PHASE_AT=20 NUMAVM_LIMIT=150"
	per_tool=400
fi
ntools=$(echo "$tools" | wc -w)
results=$NUMAVM_RUN/results
: >"$results"
# one boot per topology and run: two and phase share the two-node VM
boots=""
for setup in $setups; do
	case $setup in
	two|phase) topo=2node:1536:1536 ;;
	four) topo=4node:1024 ;;
	*) echo "unknown setup $setup" >&2; exit 2 ;;
	esac
	case " $boots " in
	*" $topo="*) boots=$(echo " $boots " | sed "s| $topo=\([^ ]*\) | $topo=\1,$setup |; s/^ //; s/ $//") ;;
	*) boots="$boots${boots:+ }$topo=$setup" ;;
	esac
done
for boot in $boots; do
	topo=${boot%%=*} list=${boot#*=}
	n=$(echo "$list" | tr , ' ' | wc -w)
	for run in $(seq "$runs"); do
		log=$NUMAVM_RUN/$(echo "$list" | tr , -)-$run.log
		# A boot whose case gave no result at all did not run it (seen once
		# in make check: all four contenders of the four-node boot missing);
		# it is said with the end of its serial log and tried once more.
		for try in 1 2; do
			# shellcheck disable=SC2086
			numavm_boot compare "$topo" "$NUMAVM_RUN/initrd" $((30 + n * ntools * per_tool)) \
				NUMAVM_SETUP=$list "NUMAVM_TOOLS=$(tr ' ' , <<<"$tools")" $args >/dev/null
			cp "$NUMAVM_RUN/compare.log" "$log"
			grep -aEq "^RESULT tool=[^ ]+ setup=($(tr , '|' <<<"$list")) " "$log" && break
			echo "compare: the $list boot gave no result (try $try); its serial log ends:" >&2
			tail -n 20 "$log" | sed 's/^/    /' >&2
		done
		for setup in $(echo "$list" | tr , ' '); do
			for tool in $tools; do
				line=$(grep -a "^RESULT tool=$tool setup=$setup " "$log" | tr -d '\r')
				echo "$setup $tool $run ${line:-RESULT none log=$log}" >>"$results"
			done
		done
	done
done

# field LINE KEY: the value of KEY=VALUE in a RESULT line
field() { sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }
# percentages of a G:P,G:P list, as "G P%, G P%"
pcts() { sed 's/:/ /g; s/,/%, /g; s/$/%/' <<<"$1"; }
label() {
	case $1 in
	two) echo "two nodes" ;;
	four) echo "four nodes" ;;
	phase) echo "phase change" ;;
	esac
}

table() {
	echo "| setup | contender | time to local | migrated (of it by NUMA balancing) | NUMA hinting faults | memory on the vCPUs' allowed nodes | memory on the node the vCPUs ran on | daemon CPU | guests' system CPU |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for setup in $setups; do
		for tool in $tools; do
			local fixed="" mig="" faults="" loc="" run="" cpu="" sys="" l f
			while read -r s t r rest; do
				[ "$s" = "$setup" ] && [ "$t" = "$tool" ] || continue
				l=$rest
				if [ "$(field "$l" tool)" != "$tool" ]; then
					fixed="$fixed${fixed:+ / }no result"
					continue
				fi
				f=$(field "$l" fixed)
				[ "$f" = never ] && f="not local" || f="$f s"
				fixed="$fixed${fixed:+ / }$f"
				f=$(field "$l" after_change)
				mig="$mig${mig:+ / }$(field "$l" migrated) ($(field "$l" balancing))"
				[ -n "$f" ] && [ "$f" != - ] && mig="$mig, $f after the change"
				faults="$faults${faults:+ / }$(field "$l" faults)"
				loc="$loc${loc:+ / }$(pcts "$(field "$l" locality)")"
				run="$run${run:+ / }$(pcts "$(field "$l" run)")"
				f=$(field "$l" daemon_cpu)
				cpu="$cpu${cpu:+ / }$([ "$f" = - ] && echo - || echo "$f s")"
				sys="$sys${sys:+ / }$(field "$l" guest_sys) s"
			done <"$results"
			echo "| $(label "$setup") | $tool | $fixed | $mig MiB | $faults | $loc | $run | $cpu | $sys |"
		done
	done
}

{
	table
	echo
	echo "Measured $(date +%Y-%m-%d) by tests/numavm/compare.sh${quick:+ -q (the short form)}," \
		"$runs boot(s) per setup: Debian kernel $(basename "$KERNEL" | sed 's/vmlinuz-//')," \
		"$("$QEMU" --version | head -n 1 | sed 's/ *(.*//')," \
		"${NUMAD:+numad $(dpkg-query -W -f='${Version}' numad 2>/dev/null), }vnumad at" \
		"$built_from."
	[ -z "$note" ] || echo "$note."
} >"$NUMAVM_RUN/table.md"
cat "$NUMAVM_RUN/table.md"
[ -z "$out" ] || cp "$NUMAVM_RUN/table.md" "$out"
if [ -n "$update" ]; then
	readme=tests/numavm/README.md
	awk -v table="$NUMAVM_RUN/table.md" '
		/^<!-- compare.sh: begin/ { print; while ((getline l < table) > 0) print l; skip = 1; next }
		/^<!-- compare.sh: end/ { skip = 0 }
		!skip' "$readme" >"$readme.new" && mv "$readme.new" "$readme"
	echo "table written into $readme"
fi
exit 0
