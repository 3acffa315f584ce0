#!/bin/bash
# The sampling benchmark runs, briefly, and prints both figures with their
# names: a few hundred threads instead of 8,000, three runs.
. "$(dirname "$0")/lib.sh"

BENCH=$B/sampling/bench-sampling
[ -x "$BENCH" ] || skip "$BENCH is not built (make $BENCH)"

expect_exit 0 "bench-sampling 200 3" -- "$BENCH" 200 3
cat "$TMP/out"
expect_output '^sampling\.read_us_per_thread [0-9]+\.[0-9]+$' "read figure"
expect_output '^sampling\.numa_maps_64g_ms [0-9]+\.[0-9]+$' "numa_maps figure"
expect_output '^BENCH name=sampling.read_us_per_thread value=[0-9.]+ unit=us goal=2 dir=max desc=' "BENCH line, read"
expect_output '^BENCH name=sampling.numa_maps_64g_ms value=[0-9.]+ unit=ms goal=20 dir=max desc=' "BENCH line, numa_maps"
expect_output '^# counter groups: (SOFTWARE|hardware) events' "says which events"
expect_output '200 threads named "CPU n/KVM"' "thread count"
grep -q WARNING "$TMP/out" && fail "the benchmark warned"

expect_exit 2 "bad argument" -- "$BENCH" 0
expect_output '^usage: bench-sampling' "usage"

done_testing
