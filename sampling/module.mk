# sampling/: counter sources, in the backend library (they sit beside the
# backends: base and core below them). The benchmark has a main() of its own
# and is built apart.
SAMPLING_SRCS := \
	sampling/cgroup.c \
	sampling/common.c \
	sampling/numa_maps.c \
	sampling/pmu.c \
	sampling/pmu_events.c \
	sampling/procfs.c \
	sampling/select.c \
	sampling/uncore.c

SAMPLING_BENCH := $(B)/sampling/bench-sampling

# liburing: the io_uring comparison of the counter reads
$(SAMPLING_BENCH): $(B)/sampling/bench-sampling.o $(LINK_LIBS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -luring

# make bench runs it through tests/bench/list; tests/t_sampling_bench.sh
# runs it briefly under make check
BENCH_DEPS += $(SAMPLING_BENCH)
CHECK_DEPS += $(SAMPLING_BENCH)

# the sampling figures alone
.PHONY: bench-sampling
bench-sampling: $(SAMPLING_BENCH)
	$(SAMPLING_BENCH)
