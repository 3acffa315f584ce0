#!/bin/bash
# The sampling benchmark runs, briefly, and prints its figures with their
# names: a few hundred threads instead of 8,000, three runs.
. "$(dirname "$0")/lib.sh"

BENCH=$B/sampling/bench-sampling
[ -x "$BENCH" ] || skip "$BENCH is not built (make $BENCH)"

expect_exit 0 "bench-sampling 200 3" -- "$BENCH" 200 3
cat "$TMP/out"
expect_output '^sampling\.read_us_per_thread [0-9]+\.[0-9]+$' "read figure"
expect_output '^sampling\.read_floor_us [0-9]+\.[0-9]+$' "floor figure"
expect_output '^BENCH name=sampling.read_us_per_thread value=[0-9.]+ unit=us goal=2 dir=max desc=' "BENCH line, read"
expect_output '^BENCH name=sampling.read_floor_us value=[0-9.]+ unit=us goal=- dir=- desc=bare read' "BENCH line, floor"
expect_output '^# floor, 200 threads .*null system call [0-9.]+ us, group of 5 software counters [0-9.]+ us' "the floor's comment"
expect_output '^(# io_uring, the 200 group reads in one submission: [0-9.]+ us per read|# io_uring: not available)' "io_uring compared"
expect_output '^# counter groups: (SOFTWARE|hardware) events' "says which events"
expect_output '200 threads named "CPU n/KVM"' "thread count"
grep -q WARNING "$TMP/out" && fail "the benchmark warned"

expect_exit 2 "bad argument" -- "$BENCH" 0
expect_output '^usage: bench-sampling' "usage"

done_testing
