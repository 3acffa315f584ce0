#!/bin/bash
# vnumad-sim, the policy evaluation harness, driven as a user drives it:
# the command line, errors in scenarios and traces, the record -> replay
# round trip, the timeline and plot, the man page, and a short version of
# the scenario suite with the ranking it must show.
. "$(dirname "$0")/lib.sh"

SIM=${VNUMAD_SIM:-$B/vnumad-sim}
[ -x "$SIM" ] || skip "no $SIM (make all builds it)"

# --- the command line -------------------------------------------------------
expect_exit 0 "--help" -- "$SIM" --help
expect_output '^usage: vnumad-sim run SCENARIO' "--help prints usage"
expect_exit 0 "--version" -- "$SIM" --version
expect_output '^vnumad-sim [0-9.]+ \(policy ABI 1, trace format 1\)$' "--version format"
expect_exit 2 "no command" -- "$SIM"
expect_output "a command is needed" "no command message"
expect_exit 2 "unknown command" -- "$SIM" frobnicate x.ini
expect_output "unknown command 'frobnicate'" "unknown command named"
expect_exit 2 "run without scenario" -- "$SIM" run
expect_exit 2 "bad --duration" -- "$SIM" run sim/scenarios/demo.ini --duration forever
expect_output "--duration 'forever'" "--duration named"
expect_exit 2 "--record needs --dry-run" -- "$SIM" run sim/scenarios/demo.ini --record "$TMP/x"
expect_output "add --dry-run" "--record explains"
expect_exit 2 "--policies on run" -- "$SIM" run sim/scenarios/demo.ini --policies a,b
expect_exit 1 "unknown policy" -- "$SIM" run sim/scenarios/demo.ini --policy nosuch
expect_output "unknown policy 'nosuch'" "unknown policy named"
expect_exit 1 "missing scenario" -- "$SIM" run "$TMP/none.ini"
expect_output "none.ini: No such file" "missing scenario named"

# --- a broken scenario: file, line and key, exit 1, nothing run ------------
cat >"$TMP/broken.ini" <<'EOF'
[host]
nodes = 2
cpus = 16
memory = 64GiB
[guest.web]
vcpus = 4
memory = 8GiB
workload = latencyy
EOF
expect_exit 1 "broken scenario" -- "$SIM" run "$TMP/broken.ini"
expect_output "broken.ini:8: \[guest.web\] workload: 'latencyy': no such workload" \
	"broken scenario: file:line: [section] key"
expect_exit 1 "compare with a broken scenario" -- \
	"$SIM" compare sim/scenarios/demo.ini "$TMP/broken.ini" --policies locality
expect_output "broken.ini:8: \[guest.web\] workload" "compare names the broken file"
grep -q '^scenario' "$TMP/out" && fail "compare ran although a scenario is broken"
expect_exit 1 "compare with an unknown policy" -- \
	"$SIM" compare sim/scenarios/demo.ini --policies locality,nosuch
grep -q '^scenario' "$TMP/out" && fail "compare ran although a policy is unknown"
# chaos is ranked only when asked for; its warning comes once, before the table
expect_exit 0 "compare, default policies" -- "$SIM" compare sim/scenarios/demo.ini --duration 20s
expect_output '^ +locality ' "compare runs the built-in policies by default"
grep -q '^ *chaos ' "$TMP/out" && fail "compare ranks chaos by default"
expect_exit 0 "compare with chaos" -- "$SIM" compare sim/scenarios/demo.ini sim/scenarios/churn.ini \
	--policies none,chaos --duration 20s
[ "$(grep -c 'chaos: proposing deliberately harmful moves' "$TMP/out")" -eq 1 ] ||
	fail "chaos's warning not printed exactly once"
head -n 1 "$TMP/out" | grep -q 'chaos: proposing deliberately harmful' ||
	fail "chaos's warning is not printed before the table"
[ "$(grep -c '^ *chaos ' "$TMP/out")" -eq 3 ] || fail "chaos: not a row per scenario and a summary"

# --- run: totals, JSON, the oracle ------------------------------------------
expect_exit 0 "run demo" -- "$SIM" run sim/scenarios/demo.ini --policy locality --duration 2min
expect_output '^score       0\.[0-9]{4}: geometric mean of 6 guests. progress \(their throughput over alone, best placed\); worst 0\.[0-9]{4} \([a-z0-9]+\)$' \
	"run prints the score"
expect_output '^throughput  [0-9.e+]+ instructions/s' "run prints the throughput"
expect_output '^            web1 +[0-9.]+ +[0-9.]+% +0\.[0-9]{4}$' "run prints each guest's progress"
expect_output '^moves       [1-9][0-9]* vCPU' "locality moves vCPUs on the demo"
expect_output '^            web1 ' "run prints each guest"
expect_exit 0 "run --json" -- "$SIM" run sim/scenarios/demo.ini --duration 1min --json
expect_output '^\{"type":"totals","scenario":"sim/scenarios/demo.ini","policy":"place"' \
	"--json totals"
expect_exit 0 "run oracle" -- "$SIM" run sim/scenarios/demo.ini --policy oracle -v
expect_output 'oracle \(best-known, local search: 1 placement, [0-9]+ evaluations\)' \
	"the demo's oracle searches"
expect_output '^  web1 +(node|nodes|vCPUs) ' "-v shows the oracle's placement"
expect_output '^score       0\.[0-9]{4}: geometric mean of 6 guests. progress' "the oracle's score"
cat >"$TMP/two.ini" <<'EOF'
[host]
nodes = 2
cpus = 8
memory = 32GiB
[guest.a]
workload = latency
vcpus = 2
memory = 4GiB
vcpu_nodes = 1
mem_nodes = 0
[guest.b]
vcpus = 2
memory = 4GiB
EOF
expect_exit 0 "run oracle, small" -- "$SIM" run "$TMP/two.ini" --policy oracle
expect_output 'oracle \(exhaustive search: 1 placement, [0-9]+ evaluations\)' \
	"a small space is enumerated"
# A pinned guest that arrives on a node the oracle's placement filled: the
# oracle re-places for free at events, so it makes room the moment before
# (it left p half remote, below what a policy that moved c away reached)
cat >"$TMP/arrival.ini" <<'EOF'
[sim]
duration = 4min
[host]
nodes = 2
cpus = 8
memory = 16GiB
[guest.a]
workload = latency
vcpus = 2
memory = 10GiB
vcpu_nodes = 0
mem_nodes = 0
[guest.c]
workload = cpu
vcpus = 1
memory = 4GiB
vcpu_nodes = 0
mem_nodes = 0
[guest.b]
workload = latency
vcpus = 2
memory = 6GiB
vcpu_nodes = 1
mem_nodes = 1
[guest.p]
workload = latency
vcpus = 1
memory = 4GiB
start = 60s
vcpu_nodes = 0
mem_nodes = 0
pinned = yes
EOF
expect_exit 0 "run oracle, pinned arrival" -- "$SIM" run "$TMP/arrival.ini" --policy oracle
expect_output '^ +p +[0-9.]+ +0\.0% ' "the oracle made room for the pinned arrival on its node"
# Making room is not always best: an idle pinned guest that wants all of
# node 0 would push the streamer s onto node 1, whose controller the pinned
# remote guest r reads from. Where it lands beside s is better, and the
# oracle takes the better of the two (it took the room: none reached 1.046)
cat >"$TMP/idle.ini" <<'EOF'
[sim]
duration = 4min
[host]
nodes = 2
cpus = 8
memory = 16GiB
[guest.r]
workload = latency
vcpus = 2
memory = 4GiB
vcpu_nodes = 0
mem_nodes = 1
pinned = yes
[guest.s]
workload = bandwidth
vcpus = 3
memory = 8GiB
vcpu_nodes = 0
mem_nodes = 0
[guest.i]
workload = idle
vcpus = 2
memory = 14GiB
start = 60s
vcpu_nodes = 1
mem_nodes = 0
pinned = yes
EOF
expect_exit 0 "compare, idle pinned arrival" -- "$SIM" compare --policies none,numad "$TMP/idle.ini"
awk '$1 == "none" || $1 == "numad" { if ($3 > 1.01) bad = 1; n++ }
	END { exit bad || n != 2 }' "$TMP/out" ||
	fail "a policy that leaves the idle arrival where it lands beats the oracle"
expect_exit 2 "oracle has no timeline" -- "$SIM" run sim/scenarios/demo.ini --policy oracle --csv "$TMP/o.csv"

# --- generated scenarios: a seed is a scenario, gen:N names it ------------
expect_exit 0 "generate" -- "$SIM" generate --seed 42
cp "$TMP/out" "$TMP/gen42.ini"
expect_output '^; generated by vnumad-sim generate --seed 42 \(tuning family\)$' "generate names its seed"
expect_output '^\[guest\.g0\]$' "generate writes guests"
expect_exit 0 "generate again" -- "$SIM" generate --seed 42
cmp -s "$TMP/out" "$TMP/gen42.ini" || fail "the same seed gave another scenario"
expect_exit 0 "generate, validation" -- "$SIM" generate --seed 1000042
expect_output '\(validation family\)$' "seeds from 1000000 are the validation family"
expect_exit 0 "run gen:42" -- "$SIM" run gen:42 --policy none --duration 1min
expect_output '^scenario    .*/gen-42.ini: [0-9]+ nodes' "gen:42 runs"
expect_exit 0 "run the written file" -- "$SIM" run "$TMP/gen42.ini" --policy none --duration 1min
# counter coverage follows vnumad's event tables (sampling/EVENTS.md): the
# offcore-response mask of Ice Lake and Sapphire Rapids counts the distant
# SNC clusters, Zen 4's far fills CXL memory; Skylake's retired-load events
# and Sapphire Rapids' CXL memory stay unseen
snc_seen=0 snc_blind=0 cxl_seen=0 cxl_blind=0
for seed in $(seq 1 100); do
	"$SIM" generate --seed "$seed" >"$TMP/cov.ini" || fail "generate --seed $seed"
	what=$(sed -n 2p "$TMP/cov.ini")
	unc=$(sed -n 's/^uncounted = //p' "$TMP/cov.ini")
	case $what in
	*"Ice Lake"*" nodes per socket"*|*"Sapphire Rapids"*" nodes per socket"*)
		case $unc in *snc*) fail "seed $seed ($what): SNC uncounted, which its table counts" ;; esac
		snc_seen=$((snc_seen + 1)) ;;
	*Skylake*" nodes per socket"*)
		case $unc in *snc*) ;; *) fail "seed $seed ($what): SNC counted, which its table misses" ;; esac
		snc_blind=$((snc_blind + 1)) ;;
	esac
	case $what in
	*Genoa*"CXL"*)
		case $unc in *memory-only*) fail "seed $seed ($what): CXL uncounted, which Zen 4 counts" ;; esac
		cxl_seen=$((cxl_seen + 1)) ;;
	*"Sapphire Rapids"*"CXL"*)
		case $unc in *memory-only*) ;; *) fail "seed $seed ($what): CXL counted, which its table misses" ;; esac
		cxl_blind=$((cxl_blind + 1)) ;;
	esac
done
[ "$snc_seen" -gt 0 ] && [ "$snc_blind" -gt 0 ] && [ "$cxl_seen" -gt 0 ] && [ "$cxl_blind" -gt 0 ] ||
	fail "seeds 1-100 lack a kind of host: SNC seen $snc_seen, unseen $snc_blind, CXL seen $cxl_seen, unseen $cxl_blind"
expect_exit 2 "generate without a seed" -- "$SIM" generate
expect_output "generate: --seed N is needed" "generate asks for a seed"
expect_exit 2 "generate with a file" -- "$SIM" generate x.ini
expect_exit 2 "a bad gen: name" -- "$SIM" run gen:x
expect_output "'gen:x': expected gen:SEED or gen:FIRST-LAST" "a bad gen: name explained"
expect_exit 2 "a backward gen: range" -- "$SIM" compare gen:5-3
expect_exit 2 "a seed too large" -- "$SIM" run gen:2000000
ls -d "${TMPDIR:-/tmp}"/vnumad-sim-gen.* 2>/dev/null | grep -q . &&
	[ -n "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'vnumad-sim-gen.*' -newer "$TMP/gen42.ini" 2>/dev/null)" ] &&
	fail "generated scenarios left behind"

# --- a guest pinned by its vCPUs alone (pinned = vcpus) ---------------------
# Its memory may move to them: the oracle places it with every shape that
# leaves the vCPUs (the kernel's balancing, moving only its hot pages, once
# reached 1.14 of an oracle that offered "memory here" alone, which does
# not fit), and place brings what fits of it.
cat >"$TMP/vcpupin.ini" <<'EOF'
[sim]
seed = 7
duration = 600s

[host]
nodes = 2
cpus = 8
memory = 32GiB
reserved = 0

[guest.whole]
workload = cpu
vcpus = 2
memory = 20GiB
vcpu_nodes = 0
mem_nodes = 0
pinned = yes

[guest.free]
workload = latency
vcpus = 2
memory = 16GiB
hot = 30%
vcpu_nodes = 0
mem_nodes = 1
pinned = vcpus
EOF
expect_exit 0 "compare, vCPUs pinned" -- "$SIM" compare "$TMP/vcpupin.ini" \
	--policies place,none,kernel --bench
for k in oracle-bound/kernel oracle-bound/highest-policy; do
	v=$(sed -n "s|^BENCH name=$k value=\([0-9.]*\) .*|\1|p" "$TMP/out")
	[ -n "$v" ] || fail "no $k figure"
	awk -v v="$v" 'BEGIN { exit !(v <= 1.01) }' || fail "$k $v: the oracle is no upper bound"
done
gib=$(awk '$1 == "place" && $NF ~ /^[0-9]+$/ { print $(NF - 2) }' "$TMP/out" | head -n 1)
awk -v g="$gib" 'BEGIN { exit !(g >= 4) }' ||
	fail "place moved ${gib:-no} GiB of the pinned guest's remote memory"

# --- the timeline, and the plot when gnuplot is there ----------------------
expect_exit 0 "run --csv" -- "$SIM" run sim/scenarios/demo.ini --duration 1min --csv "$TMP/t.csv"
[ "$(wc -l <"$TMP/t.csv")" -eq 31 ] || fail "--csv: want a header and 30 rows"
head -n 1 "$TMP/t.csv" | grep -q '^tick,time,ips,remote_ratio,vcpu_moves,memory_moves,bytes_migrated,reverts,ips:web1,' ||
	fail "--csv header"
if command -v "${GNUPLOT:-gnuplot}" >/dev/null; then
	expect_exit 0 "run --plot" -- "$SIM" run sim/scenarios/demo.ini --duration 1min --plot "$TMP/t.png"
	[ "$(head -c 4 "$TMP/t.png" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "--plot wrote no PNG"
else
	expect_exit 1 "run --plot without gnuplot" -- "$SIM" run sim/scenarios/demo.ini --plot "$TMP/t.png"
	expect_output "--plot needs gnuplot" "--plot says gnuplot is missing"
fi
# what the plot draws, from the gnuplot script (a wrapper keeps a copy)
real_gnuplot=$(command -v "${GNUPLOT:-gnuplot}" || true)
cat >"$TMP/gnuplot" <<EOF
#!/bin/sh
cp "\$1" "$TMP/plot.gp"
[ -n "$real_gnuplot" ] || exit 0
exec "$real_gnuplot" "\$1"
EOF
chmod +x "$TMP/gnuplot"
# an output it cannot write is refused before the run
expect_exit 1 "--plot into a missing directory" -- env GNUPLOT="$TMP/gnuplot" \
	"$SIM" run sim/scenarios/demo.ini --plot "$TMP/nosuch/t.png"
expect_output "--plot $TMP/nosuch/t.png: cannot write it: No such file or directory" \
	"unwritable --plot named"
grep -q '^throughput' "$TMP/out" && fail "--plot: the run ran although its output cannot be written"
expect_exit 0 "plot churn" -- env GNUPLOT="$TMP/gnuplot" "$SIM" run sim/scenarios/churn.ini \
	--duration 5min --plot "$TMP/churn.png"
gp=$TMP/plot.gp
grep -q "^set key .*outside top" "$gp" || fail "plot: the legend is not outside the panels"
# the throughput axis fits the data: churn runs at some 22 to 38 G instr/s
lo=$(sed -n 's/^set yrange \[\([0-9.]*\):.*/\1/p' "$gp" | head -n 1)
awk -v lo="$lo" 'BEGIN { exit !(lo > 15) }' || fail "plot: the throughput axis starts at $lo, not near the data"
grep -q '^\$oracle << EOD$' "$gp" || fail "plot: no oracle level"
# autotitle columnhead takes a datablock's first line as its header
sed -n '/^\$oracle << EOD$/{n;p;q}' "$gp" | grep -qx 'time,oracle' ||
	fail "plot: the oracle's data has no header line: its first point is lost"
[ "$(sed -n '/^\$oracle << EOD$/,/^EOD$/p' "$gp" | grep -c ',')" -ge 10 ] ||
	fail "plot: the oracle's level is not a step per stretch between events"
grep -q '\$oracle using 1:2 with lines' "$gp" || fail "plot: the oracle's level is not drawn"
grep -q "^set label [0-9]* 'a arrives' at 30," "$gp" || fail "plot: arrival not marked"
grep -q "^set label [0-9]* 'a leaves, e arrives' at 240," "$gp" || fail "plot: departure not marked"
grep -q "'c leaves'" "$gp" && fail "plot: an event after the run's end is marked"
expect_exit 0 "plot phases" -- env GNUPLOT="$TMP/gnuplot" "$SIM" run sim/scenarios/phases.ini \
	--duration 4min --plot "$TMP/phases.png"
grep -q "^set label [0-9]* 'shifty: latency' at 120," "$gp" || fail "plot: phase change not marked"
if [ -n "$real_gnuplot" ]; then
	[ "$(head -c 4 "$TMP/churn.png" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "plot churn: no PNG"
fi

# --- record -> replay: the same recommendations as the live advisory run ---
expect_exit 0 "record" -- "$SIM" run sim/scenarios/four_node.ini --dry-run -v --duration 2min \
	--record "$TMP/t.trace"
grep -E '^(tick |  [^ ])' "$TMP/out" >"$TMP/live"
grep -q 'recommend' "$TMP/live" || fail "the live run recommended nothing"
expect_exit 0 "replay" -- "$SIM" replay "$TMP/t.trace" -v
grep -E '^(tick |  [^ ])' "$TMP/out" >"$TMP/replayed"
diff -u "$TMP/live" "$TMP/replayed" >"$TMP/diff" || { fail "replay differs from the live run"; head -20 "$TMP/diff"; }
expect_output "60 ticks recorded by vnumad .* replayed with policy place" "replay summary"
expect_exit 0 "replay, another policy" -- "$SIM" replay "$TMP/t.trace" --policy numad
expect_exit 2 "replay the oracle" -- "$SIM" replay "$TMP/t.trace" --policy oracle

# vnumad --record, once main.c has it: the daemon's advisory run replays alike
if "$VNUMAD" --help 2>&1 | grep -q -- '--record'; then
	expect_exit 0 "vnumad --record" -- "$VNUMAD" -c etc/vnumad.conf --backend sim --dry-run \
		--ticks 25 --record "$TMP/d.trace"
	grep -E '^(tick |  [^ ])' "$TMP/out" >"$TMP/live"
	expect_exit 0 "replay vnumad's trace" -- "$SIM" replay "$TMP/d.trace" -c etc/vnumad.conf
	grep -E '^(tick |  [^ ])' "$TMP/out" >"$TMP/replayed"
	diff -u "$TMP/live" "$TMP/replayed" >"$TMP/diff" ||
		{ fail "replay differs from vnumad's advisory run"; head -20 "$TMP/diff"; }
fi

# --- guard: the rollback guard's verdicts against the truth -----------------
printf '[guard]\nenabled = no\n' >"$TMP/noguard.conf"
expect_exit 2 "guard without scenario" -- "$SIM" guard
expect_exit 2 "guard --runs 0" -- "$SIM" guard sim/scenarios/demo.ini --runs 0
expect_exit 2 "guard --truth bogus" -- "$SIM" guard sim/scenarios/demo.ini --truth bogus
expect_exit 2 "guard with the oracle" -- "$SIM" guard sim/scenarios/demo.ini --policy oracle
expect_exit 2 "--runs on run" -- "$SIM" run sim/scenarios/demo.ini --runs 2
expect_exit 1 "guard with the guard off" -- "$SIM" guard sim/scenarios/demo.ini -c "$TMP/noguard.conf"
expect_exit 0 "guard demo" -- "$SIM" guard sim/scenarios/demo.ini --runs 2 --duration 3min --bench -vv
expect_output '^demo +chaos +2 +[1-9]' "guard: a row per scenario and policy, chaos made trials"
expect_output '^demo +place +2 +[1-9]' "guard: the default policy made trials"
expect_output '^ +demo/chaos/[01]: [a-z0-9]+ tick [0-9]+, 1 vCPU move \(expected [-+0-9.]+%\): (harmful|neutral|good): truth ' \
	"guard -vv: every trial, classified by the truth"
expect_output '^chaos: [0-9]+ trials in 2 runs; harmful [1-9]' "guard: chaos made harmful trials"
# sane rates: percentages, most harmful chaos moves reverted, few good ones
awk '/^BENCH name=guard\./ {
		v = $3; sub("value=", "", v); v += 0
		if (v < 0 || v > 100) { print "not a percentage: " $0; bad = 1 }
		if ($2 == "name=guard.harmful_reverted_pct" && v < 50) { print "guard catches few: " $0; bad = 1 }
		if ($2 == "name=guard.good_reverted_pct" && v > 50) { print "guard reverts good moves: " $0; bad = 1 }
		n++ }
	END { exit bad || n < 2 }' "$TMP/out" || fail "guard --bench: BENCH lines with sane rates"

# --- damaged traces: clear errors, exit 1 -----------------------------------
size=$(stat -c %s "$TMP/t.trace")
head -c $((size / 2)) "$TMP/t.trace" >"$TMP/cut.trace"
expect_exit 1 "replay a cut trace" -- "$SIM" replay "$TMP/cut.trace"
expect_output 'cut.trace: byte [0-9]+: truncated' "a cut trace is truncated"
expect_exit 0 "replay a cut trace --partial" -- "$SIM" replay "$TMP/cut.trace" --partial
expect_output "replaying the [0-9]+ complete ticks of a trace cut short" "--partial says so"
cp "$TMP/t.trace" "$TMP/flip.trace"
printf '\x55' | dd of="$TMP/flip.trace" bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
expect_exit 1 "replay a corrupt trace" -- "$SIM" replay "$TMP/flip.trace"
expect_output 'flip.trace: byte [0-9]+: corrupt: record [0-9]+ \(tick, [0-9]+ bytes\) fails its checksum' \
	"a flipped byte fails the checksum"
cp "$TMP/t.trace" "$TMP/v9.trace"
printf '\x09' | dd of="$TMP/v9.trace" bs=1 seek=8 conv=notrunc 2>/dev/null
expect_exit 1 "replay another version" -- "$SIM" replay "$TMP/v9.trace"
expect_output 'v9.trace: byte 8: trace format version 9; this vnumad reads version 1' "version named"
expect_exit 1 "replay a scenario" -- "$SIM" replay sim/scenarios/demo.ini
expect_output 'demo.ini: byte 0: not a vnumad trace' "not a trace"

# --- the man page renders without warnings ----------------------------------
if command -v man >/dev/null && command -v groff >/dev/null; then
	MANWIDTH=80 man --warnings=all -l sim/vnumad-sim.1 >"$TMP/man" 2>"$TMP/manerr" ||
		fail "man -l sim/vnumad-sim.1 failed"
	[ -s "$TMP/manerr" ] && { fail "man page warnings"; head "$TMP/manerr"; }
	grep -q 'vnumad-sim compare' "$TMP/man" || fail "the man page lacks compare"
	grep -q 'vnumad-sim guard' "$TMP/man" || fail "the man page lacks guard"
fi

# --- the suite, short: every scenario, the oracle first, the ranking -------
policies=locality,place
"$VNUMAD" --help-policy none >/dev/null 2>&1 && policies=none,locality,place
# (a smaller search budget keeps the eight-node oracle quick under sanitizers)
expect_exit 0 "compare the suite" -- "$SIM" compare sim/scenarios/*.ini --policies "$policies" \
	--duration 2min --oracle-budget 20000
n=$(ls sim/scenarios/*.ini | wc -l)
[ "$n" -ge 12 ] || fail "the suite has $n scenarios, want at least 12"
[ "$(grep -c '  (exhaustive)$\|  (best-known)$' "$TMP/out")" -eq "$n" ] || fail "an oracle row per scenario"
awk -v none="${policies%%,*}" '
	/^[a-z_]+ +oracle / { scen = $1; next }
	/^ +[a-z]+ / && NF == 11 { frac[scen, $1] = $3
		if ($3 > 1.01) { print "beats the oracle: " scen " " $1 " " $3; bad = 1 } }
	END {
		for (k in frac) {
			split(k, p, SUBSEP)
			if (p[2] == "locality" && none == "none" && frac[k] < frac[p[1], "none"] - 0.002) {
				print "locality below none on " p[1]; bad = 1 }
			# place too (not the default): never more than 1% below no management
			if (p[2] == "place" && none == "none" && frac[k] < frac[p[1], "none"] * 0.99) {
				print "place more than 1% below none on " p[1]; bad = 1 }
		}
		exit bad
	}' "$TMP/out" || fail "the suite's ranking"
for s in demo four_node many_small memory_full churn; do
	line=$(awk -v s="$s" '$1 == s { f = 1; next } f && $1 == "locality" { print $3; exit }' "$TMP/out")
	awk -v x="$line" 'BEGIN { exit !(x >= 0.88) }' ||
		fail "locality reaches only $line of the oracle on $s"
done
awk '$1 == "spread_bandwidth" { f = 1; next } f && $1 == "locality" { exit !($3 < 0.8) }' "$TMP/out" ||
	fail "spread_bandwidth no longer shows what a remote-ratio policy misses"

# --- the kernel's NUMA balancing as a contender ----------------------------
expect_exit 0 "run --policy kernel" -- "$SIM" run sim/scenarios/numavm/two.ini --policy kernel
expect_output '^policy +kernel$' "run: the kernel contender named"
expect_output '^host +320 MiB migrated by its NUMA balancing, [0-9]+ hinting faults' \
	"run: the host's balancing moved remote's memory"
expect_output '^migrated +0 B$' "run: kernel is no vnumad move"
expect_exit 0 "compare with kernel" -- "$SIM" compare sim/scenarios/numavm/two.ini \
	sim/scenarios/numavm/four.ini --policies none,place,locality,kernel --bench
expect_output '^BENCH name=policy/place/margin-over-kernel value=[-0-9.]+ unit=% goal=3 dir=min ' \
	"compare: the default policy's margin over kernel, with its goal"
expect_output '^BENCH name=policy/place/migrated-over-kernel value=0.333 unit=fraction goal=1 dir=max ' \
	"compare: the default migrates a third of what kernel does (vCPUs move instead), with its goal"
expect_output '^BENCH name=policy/locality/margin-over-kernel value=[-0-9.]+ unit=% goal=- dir=- ' \
	"compare: no kernel goal for a policy that is not the default"
expect_output '^ +kernel .* 0.31 +0 +0$' "compare: kernel's row counts the host's 320 MiB"
# on with a policy: vnumad and the host's balancing together, unless disabled
expect_exit 0 "--numa-balancing on" -- "$SIM" run sim/scenarios/numavm/two.ini --policy locality \
	--numa-balancing on
expect_output '^host ' "the host's balancing ran beside locality"
printf '[backend]\nnuma_balancing = disable\n' >"$TMP/nonumab.conf"
expect_exit 0 "--numa-balancing on, vnumad disables it" -- "$SIM" run \
	sim/scenarios/numavm/two.ini --policy locality --numa-balancing on -c "$TMP/nonumab.conf"
grep -q '^host ' "$TMP/out" && fail "numa_balancing = disable left the host's balancing on"
expect_exit 2 "--numa-balancing bogus" -- "$SIM" run sim/scenarios/numavm/two.ini \
	--numa-balancing maybe
expect_output "numa-balancing 'maybe': expected on or off" "a bad --numa-balancing"
expect_exit 2 "--numa-balancing for guard" -- "$SIM" guard sim/scenarios/demo.ini \
	--numa-balancing on

# --- the oracle is an upper bound: no policy above it, anywhere -------------
# every built-in policy on every shipped scenario and on generated ones of
# both families; above 1.01 of the oracle (counter noise) the oracle is wrong
dur=
[ -z "${SANITIZE:-}" ] || dur="--duration 4min"
expect_exit 0 "compare against the oracle" -- "$SIM" compare --bench $dur sim/scenarios/*.ini \
	gen:1-3 gen:1000000-1000002
awk '/^BENCH name=oracle-bound\/highest-policy / {
		v = $3; sub("value=", "", v); found = 1
		if (v + 0 > 1.01) { print "a policy beats the oracle: " $0; bad = 1 } }
	/^BENCH name=vs-oracle\// { n++ }
	END { exit bad || !found || n < 7 * 20 }' "$TMP/out" ||
	fail "the oracle is not an upper bound on every scenario"

done_testing
