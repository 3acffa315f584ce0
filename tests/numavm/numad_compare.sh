#!/bin/bash
# vnumad and numad side by side on the test VM's setups: a one-off
# measurement for the table of tests/numavm/README.md, not a test.
#
#   tests/numavm/numad_compare.sh [RUNS]      (default 1 run per cell)
#   NUMAVM_SETUPS=four tests/numavm/numad_compare.sh 3
#
# For each setup (two: the two_node case's guests on 2 nodes of 1.5 GiB;
# four: the four_node case's on 4 nodes of 1 GiB; every guest 320 MiB,
# above numad's 300 MB threshold) and each tool (vnumad with its shipped
# defaults, vnumad with the tests' 500 ms configuration, numad as shipped)
# one VM boots and tests/numavm/vm/case_compare.sh measures: seconds from
# the tool's start until every guest is local, MiB the kernel migrated
# (pgmigrate_success), and each guest's final locality. Needs numad and
# util-linux's unshare (numad runs in a time namespace 100000 s ahead, past
# its 300 s wait). Prints a Markdown table; serial logs stay in
# build/numavm/compare/.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build/default}
. tests/numavm/host.sh
runs=${1:-1}
numavm_prepare || { echo "$NUMAVM_SKIP"; exit 77; }
NUMAD=$(command -v numad) || { echo "numad is missing (apt-get install numad)"; exit 77; }
UNSHARE=$(command -v unshare) || { echo "unshare is missing (util-linux)"; exit 77; }
NUMAVM_RUN=$NUMAVM_DIR/compare
mkdir -p "$NUMAVM_RUN"
numavm_initrd "$NUMAVM_RUN/initrd" "$NUMAD" "$UNSHARE" || exit 1
numavm_lock || { echo "another run holds $NUMAVM_DIR/.lock"; exit 77; }

echo "| setup | tool | time to local | migrated | memory on the vCPUs' allowed nodes | memory on the node the vCPUs ran on | vCPUs allowed on CPUs |"
echo "|---|---|---|---|---|---|---|"
for setup in ${NUMAVM_SETUPS:-two four}; do
	case $setup in
	two) topo=2node:1536:1536 ;;
	four) topo=4node:1024 ;;
	esac
	for tool in vnumad vnumad-fast numad; do
		for run in $(seq "$runs"); do
			name=compare
			numavm_boot "$name" "$topo" "$NUMAVM_RUN/initrd" 300 \
				NUMAVM_SETUP=$setup NUMAVM_TOOL=$tool >/dev/null
			cp "$NUMAVM_RUN/$name.log" "$NUMAVM_RUN/$setup-$tool-$run.log"
			line=$(grep -a '^RESULT ' "$NUMAVM_RUN/$name.log")
			if [ -z "$line" ]; then
				echo "| $setup | $tool | (no result: see $NUMAVM_RUN/$setup-$tool-$run.log) | | | | |"
				continue
			fi
			fixed=$(sed -n 's/.* fixed=\([^ ]*\).*/\1/p' <<<"$line")
			mig=$(sed -n 's/.* migrated=\([^ ]*\).*/\1/p' <<<"$line")
			loc=$(sed -n 's/.* locality=\([^ ]*\).*/\1/p' <<<"$line" | sed 's/:/ /g; s/,/%, /g; s/$/%/')
			runloc=$(sed -n 's/.* run=\([^ ]*\).*/\1/p' <<<"$line" | sed 's/:/ /g; s/,/%, /g; s/$/%/')
			cpus=$(sed -n 's/.* cpus=\([^ ]*\).*/\1/p' <<<"$line" | sed 's/:/ /g; s/\],/], /g')
			[ "$fixed" = never ] && fixed="not within 150 s" || fixed="$fixed s"
			echo "| $setup | $tool | $fixed | $mig MiB | $loc | $runloc | $cpus |"
		done
	done
done
