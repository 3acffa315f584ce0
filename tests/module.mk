# tests/: cmocka unit tests (one binary per tests/unit/test_*.c, linked
# against the base, core and backend libraries, and the daemon's only where
# UNIT_DAEMON names the test), golden files, and the driver tests/run.sh.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
UNIT_DAEMON := test_core test_guard test_place test_proc test_httpd test_control

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
$(BENCH_CORE): tests/bench/bench_core.c tests/bench/bench_host.h $(LINK_LIBS)
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

# bench-journal: the journal's cost at start (40,000 live, 80,000 settled
# records) and per move.
BENCH_JOURNAL := $(B)/tests/bench-journal
$(BENCH_JOURNAL): tests/bench/bench_journal.c $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(TOP_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LINK_LIBS) $(LIBS)
BENCH_DEPS += $(BENCH_JOURNAL)
# bench-inputs: what hostile input costs the loop (a configuration at the
# limits, /metrics rendered and served from the tick's copy).
BENCH_INPUTS := $(B)/tests/bench-inputs
$(BENCH_INPUTS): tests/bench/bench_inputs.c $(DAEMON_LIB) $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(TOP_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(DAEMON_LIB) $(LINK_LIBS) $(LIBS)
BENCH_DEPS += $(BENCH_INPUTS)

# tests/connhold: the hostile client of t_control.sh and t_metrics.sh
# (connections held open, requests sent a byte at a time or never read).
CONNHOLD := $(B)/tests/connhold
$(CONNHOLD): tests/connhold.c tests/module.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -o $@ $<
CHECK_DEPS += $(CONNHOLD)
# bench-worker: the per-tick cost of a plugin in its worker, on bench-core's
# host, with policies/example built against the tree's header.
BENCH_WORKER := $(B)/tests/bench-worker
BENCH_EXAMPLE := $(B)/tests/example.so
$(BENCH_WORKER): tests/bench/bench_worker.c tests/bench/bench_host.h $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(TOP_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LINK_LIBS) $(LIBS)
$(BENCH_EXAMPLE): policies/example/example.c policies/policy.h
	@mkdir -p $(B)/tests/include/vnumad
	cp policies/policy.h $(B)/tests/include/vnumad/policy.h
	$(CC) -std=c11 -Wall -Wextra -fPIC -shared -Wl,--no-undefined \
		-I$(B)/tests/include $(CFLAGS) -o $@ $<
BENCH_DEPS += $(BENCH_WORKER) $(BENCH_EXAMPLE) $(VNUMAD_WORKER)
