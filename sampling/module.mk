# sampling/: counter sources. The samplers go into the core library; the
# benchmark has a main() of its own and is built apart.
SAMPLING_PROGS := sampling/bench-sampling.c
CORE_SRCS += $(filter-out $(SAMPLING_PROGS),$(wildcard sampling/*.c))

SAMPLING_BENCH := $(B)/sampling/bench-sampling

$(SAMPLING_BENCH): $(B)/sampling/bench-sampling.o $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# make bench runs it through tests/bench/list; tests/t_sampling_bench.sh
# runs it briefly under make check
BENCH_DEPS += $(SAMPLING_BENCH)
CHECK_DEPS += $(SAMPLING_BENCH)

# the sampling figures alone
.PHONY: bench-sampling
bench-sampling: $(SAMPLING_BENCH)
	$(SAMPLING_BENCH)
