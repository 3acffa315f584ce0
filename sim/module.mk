# sim/: the simulated host, a backend linked into the core.
CORE_SRCS += $(wildcard sim/*.c)

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
$(B)/sim/sim_backend.o: ALL_CFLAGS += -I$(B)/sim

# sim-bench: simulated seconds per wall second on a large host, and the
# calibration table of sim/README.md. Not part of the tests (see `make bench`).
SIM_BENCH := $(B)/sim/sim-bench

$(SIM_BENCH): $(B)/sim/tools/sim_bench.o $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

.PHONY: sim-bench
sim-bench: $(SIM_BENCH)
	$(SIM_BENCH)
