# sim/: the simulated host, a backend in the backend library.
SIM_SRCS := \
	sim/sim_backend.c \
	sim/sim_model.c \
	sim/sim_numab.c \
	sim/sim_scenario.c

# The demo scenario is built in, so that `vnumad --backend sim` runs without
# a file: sim/scenarios/demo.ini becomes a C string literal, one source line
# per line of the file (backslashes and quotes escaped; sed, so no xxd).
SIM_DEMO_H := $(B)/sim/demo_scenario.h

$(SIM_DEMO_H): sim/scenarios/demo.ini sim/module.mk
	@mkdir -p $(dir $@)
	@{ printf '/* Generated from %s by sim/module.mk: do not edit. */\n' '$<'; \
	  printf 'static const char sim_demo_scenario[] =\n'; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$$/\\n"/' '$<'; \
	  printf '\t"";\n'; } > $@.tmp && mv $@.tmp $@

$(B)/sim/sim_backend.o: $(SIM_DEMO_H)

# sim-bench: simulated seconds per wall second on a large host, and the
# calibration table of sim/README.md. Not part of the tests (see `make bench`).
SIM_BENCH := $(B)/sim/sim-bench

$(SIM_BENCH): $(B)/sim/tools/sim_bench.o $(LINK_LIBS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

.PHONY: sim-bench
sim-bench: $(SIM_BENCH)
	$(SIM_BENCH)

# vnumad-sim: the policy evaluation harness (sim/harness/). It drives the
# core library like vnumad does but is not part of it: the oracle reaches
# into the model, which a backend must not.
HARNESS_SRCS := \
	sim/harness/compare.c \
	sim/harness/csv.c \
	sim/harness/generate.c \
	sim/harness/guard.c \
	sim/harness/main.c \
	sim/harness/oracle.c \
	sim/harness/plot.c \
	sim/harness/replay.c \
	sim/harness/score.c \
	sim/harness/run.c
HARNESS_OBJS := $(HARNESS_SRCS:%.c=$(B)/%.o)
HARNESS_LIB_OBJS := $(filter-out $(B)/sim/harness/main.o,$(HARNESS_OBJS))
VNUMAD_SIM := $(B)/vnumad-sim
BINS += $(VNUMAD_SIM)
BENCH_DEPS += $(VNUMAD_SIM)


$(VNUMAD_SIM): $(HARNESS_OBJS) $(LINK_LIBS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# The harness's unit test links its objects (all but main), not just the
# core library as tests/module.mk's pattern rule does.
$(B)/tests/test_harness: tests/unit/test_harness.c $(HARNESS_LIB_OBJS) $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(TOP_CFLAGS) $(CMOCKA_CFLAGS) -Itests/unit $(ALL_LDFLAGS) \
		-o $@ $< $(HARNESS_LIB_OBJS) $(LINK_LIBS) $(LIBS) $(CMOCKA_LIBS)
