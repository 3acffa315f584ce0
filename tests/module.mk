# tests/: cmocka unit tests (one binary per tests/unit/test_*.c, linked
# against the base, core and backend libraries, and the daemon's only where
# UNIT_DAEMON names the test), golden files, and the driver tests/run.sh.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
UNIT_DAEMON := test_core test_place test_proc

$(UNIT_DAEMON:%=$(B)/tests/%): UNIT_LIBS = $(DAEMON_LIB)
$(UNIT_DAEMON:%=$(B)/tests/%): $(DAEMON_LIB)

$(B)/tests/%: tests/unit/%.c $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(TOP_CFLAGS) $(CMOCKA_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
		$(UNIT_LIBS) $(LINK_LIBS) $(LIBS) $(CMOCKA_LIBS)

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
$(BENCH_CORE): tests/bench/bench_core.c $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(TOP_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LINK_LIBS) $(LIBS)
BENCH_DEPS += $(BENCH_CORE)

# bench-memory: numa_maps and memory.numa_stat of real processes.
BENCH_MEMORY := $(B)/tests/bench-memory
$(BENCH_MEMORY): tests/bench/bench_memory.c tests/cgtest.h $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(TOP_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LINK_LIBS) $(LIBS)
BENCH_DEPS += $(BENCH_MEMORY) $(FAKEGUEST)

# bench-daemon: the whole vnumad's CPU per tick on 100 real guests.
BENCH_DAEMON := $(B)/tests/bench-daemon
$(BENCH_DAEMON): tests/bench/bench_daemon.c tests/cgtest.h $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(TOP_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LINK_LIBS) $(LIBS)
BENCH_DEPS += $(BENCH_DAEMON) $(VNUMAD)
