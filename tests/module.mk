# tests/: cmocka unit tests (one binary per tests/unit/test_*.c, linked
# against the core library), golden files, and the driver tests/run.sh.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)

$(B)/tests/%: tests/unit/%.c $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(CORE_LIB) $(LIBS) $(CMOCKA_LIBS)

CHECK_DEPS += $(UNIT_BINS)

check: deps
	@$(MAKE) --no-print-directory all $(CHECK_DEPS) $(BENCH_DEPS)
	@B=$(B) QUICK=$(QUICK) SANITIZE=$(SANITIZE) tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory $(VNUMAD)
	$(VNUMAD) -c etc/vnumad.conf --backend sim --scenario sim/scenarios/demo.ini --dry-run --ticks 20

# make bench: every program of tests/bench/list, one table and bench.json.

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_DEPS)
	@B=$(B) QUICK=$(QUICK) tests/bench/run.sh

# bench-core: the core's CPU per tick and memory on a large simulated host.
BENCH_CORE := $(B)/tests/bench-core
$(BENCH_CORE): tests/bench/bench_core.c $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(CORE_LIB) $(LIBS)
BENCH_DEPS += $(BENCH_CORE)
