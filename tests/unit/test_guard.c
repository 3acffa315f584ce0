// SPDX-License-Identifier: MIT
/*
 * The guard's history check, through the real core on the simulated host:
 * a guest's first move waits for a baseline unless its figure is
 * unambiguous (nearly all remote, and the move makes it local), and such a
 * move is still judged, against the readings the guest has. A trial across
 * a phase of the guest's own workload is judged by its locality.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core.h"
#include "log.h"
#include "registry.h"
#include "sim.h"
#include "state.h"
#include "util.h"

static char dir[] = "/tmp/vnumad-test-guard.XXXXXX";

/* Two nodes of 4 CPUs; guest "g" with its vCPUs on node 0. */
#define HOST "[sim]\nstep = 100ms\n[host]\nnodes = 2\ncpus = 4\nmemory = 8GiB\n"

/* What the trial hook saw. */
static struct {
	int started, kept, reverted;
	double gain;
	uint64_t tick;
	char why[160];		/* of the last verdict */
} seen;

static void hook(struct vn_core *c, const struct vn_trial *t,
		 enum vn_trial_event ev, const struct vn_verdict *v, void *arg)
{
	(void)arg;
	(void)t;
	if (v)
		snprintf(seen.why, sizeof(seen.why), "%s", v->why);
	if (ev == VN_TRIAL_STARTED) {
		seen.started++;
		seen.tick = c->host.tick;
	} else if (ev == VN_TRIAL_KEPT) {
		seen.kept++;
		seen.gain = v ? v->gain : 0;
	} else if (ev == VN_TRIAL_REVERTED) {
		seen.reverted++;
	}
}

/*
 * A core with the default configuration on the scenario `text`, running
 * `policy` (NULL: the default one).
 */
static void open_core_with(struct vn_core *c, const char *text, const char *policy)
{
	char path[128];
	struct vn_overrides ov = { .backend = VN_BACKEND_SIM, .scenario = path,
				   .policy = policy, .log_level = -1 };
	struct vn_errors e = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/s.ini", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	memset(c, 0, sizeof(*c));
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(config_load(&c->cfg, NULL, &ov, &e), 0);
	errors_free(&e);
	assert_int_equal(registry_pick(c), 0);
	assert_int_equal(core_open(c, NULL, VN_OUT_NONE, NULL), 0);
	c->trial_hook = hook;
}

static void open_core(struct vn_core *c, const char *text)
{
	open_core_with(c, text, NULL);
}

static void close_core(struct vn_core *c)
{
	core_close(c);
	config_free(&c->cfg);
}

static void ticks(struct vn_core *c, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(core_tick(c), 0);
}

/* Node mask vCPU v of guest "g" may run on. */
static uint64_t allowed(struct vn_core *c, int v)
{
	struct sim *s = c->backend.priv;

	return sim_vcpu_allowed(s, sim_guest_find(s, "g"), v);
}

/*
 * All of the guest's memory on node 1, its vCPUs on node 0, node 1 idle:
 * the first tick with readings (the second) moves the vCPUs home, though
 * the 10 s baseline holds one reading; the guard judges the move after
 * settle and judge windows and keeps it with the gain it measured.
 */
static void clear_move_needs_no_baseline(void **state)
{
	static struct vn_core c;

	(void)state;
	open_core(&c, HOST "[guest.g]\nworkload = latency\nvcpus = 2\nmemory = 2GiB\n"
		  "vcpu_nodes = 0\nmem_nodes = 1\n");
	ticks(&c, 2);
	assert_int_equal(c.stats.vcpu_moves, 2);
	assert_int_equal(c.stats.dropped[VN_DROP_NO_HISTORY], 0);
	assert_int_equal(allowed(&c, 0), 2);
	assert_int_equal(allowed(&c, 1), 2);
	assert_int_equal(seen.started, 1);
	assert_int_equal(seen.tick, 2);
	/* settle 4 s + judge 10 s at 2 s ticks: judged by tick 10 */
	ticks(&c, 8);
	assert_int_equal(seen.kept, 1);
	assert_int_equal(seen.reverted, 0);
	/* judged against a real baseline: a fully remote latency guest gains */
	assert_true(seen.gain > 0.2);
	assert_int_equal(c.stats.kept, 1);
	close_core(&c);
}

/*
 * Memory to the vCPUs when their home has no CPU room: also unambiguous,
 * migrated in the second tick by locality (place leaves a
 * guest this young its memory until it has shown it stays).
 */
static void clear_memory_move(void **state)
{
	static struct vn_core c;

	(void)state;
	open_core_with(&c, HOST "[guest.g]\nworkload = latency\nvcpus = 1\nmemory = 1GiB\n"
		       "vcpu_nodes = 0\nmem_nodes = 1\n"
		       "[guest.busy]\nworkload = cpu\nvcpus = 4\nmemory = 1GiB\n"
		       "vcpu_nodes = 1\nmem_nodes = 1\n", "locality");
	ticks(&c, 2);
	assert_int_equal(c.stats.memory_moves, 1);
	assert_int_equal(c.stats.vcpu_moves, 0);
	assert_int_equal(seen.started, 1);
	ticks(&c, 12);
	assert_int_equal(seen.kept, 1);
	assert_true(seen.gain > 0.1);
	close_core(&c);
}

/*
 * 60% of the memory on node 1: a vCPU move there leaves 40% remote, not an
 * unambiguous figure, so it waits for the baseline (half of 5 ticks).
 */
static void ambiguous_move_waits(void **state)
{
	static struct vn_core c;

	(void)state;
	open_core(&c, HOST "[guest.g]\nworkload = latency\nvcpus = 2\nmemory = 2GiB\n"
		  "vcpu_nodes = 0\nmem_nodes = 0:40%, 1:60%\n");
	ticks(&c, 3);
	assert_int_equal(c.stats.vcpu_moves, 0);
	assert_true(c.stats.dropped[VN_DROP_NO_HISTORY] >= 2);
	ticks(&c, 1);
	assert_int_equal(c.stats.vcpu_moves, 2);
	assert_int_equal(allowed(&c, 0), 2);
	close_core(&c);
}

/* Only the first move: once moved, a guest's next one waits for history. */
static void second_move_is_not_first(void **state)
{
	static struct vn_core c;
	struct vnumad_proposal p = { .kind = VNUMAD_MOVE_VCPU, .vcpu = 0, .to = 1 };
	struct vn_guest *g;

	(void)state;
	open_core(&c, HOST "[guest.g]\nworkload = latency\nvcpus = 2\nmemory = 2GiB\n"
		  "vcpu_nodes = 0\nmem_nodes = 1\n"
		  "[guest.h]\nworkload = latency\nvcpus = 1\nmemory = 2GiB\n"
		  "vcpu_nodes = 0\nmem_nodes = 1\n");
	ticks(&c, 1);
	g = host_find(&c.host, "h");
	assert_non_null(g);
	/* the first tick has no reading: not even a clear case moves then */
	assert_false(history_clear_first_move(&c, g, &p));
	ticks(&c, 1);
	assert_int_equal(c.stats.vcpu_moves, 3);
	g = host_find(&c.host, "g");
	assert_true(g->last_move >= 0);
	ticks(&c, 1);
	assert_false(history_clear_first_move(&c, g, &p));
	close_core(&c);
}

/*
 * The whole guest onto one node is clear as well: its memory follows it
 * there (the four-node VM: place's move of "crowded" waited two ticks for a
 * baseline). Onto two nodes it is not, nor onto a node without its memory
 * when its memory may not move.
 */
static void clear_guest_move(void **state)
{
	static struct vn_core c;
	struct vnumad_proposal p = { .kind = VNUMAD_MOVE_GUEST, .to = -1 };
	struct vn_guest *g;

	(void)state;
	open_core_with(&c, HOST "[guest.g]\nworkload = latency\nvcpus = 2\nmemory = 2GiB\n"
		       "vcpu_nodes = 0\nmem_nodes = 1\n", "none");
	ticks(&c, 2);
	g = host_find(&c.host, "g");
	assert_non_null(g);
	p.nodes = 1ULL << 0;
	assert_true(history_clear_first_move(&c, g, &p));
	p.nodes = 1ULL << 1;
	assert_true(history_clear_first_move(&c, g, &p));
	p.nodes = 3;
	assert_false(history_clear_first_move(&c, g, &p));
	g->v.flags |= VNUMAD_GUEST_NO_MEMMOVE;
	p.nodes = 1ULL << 0;
	assert_false(history_clear_first_move(&c, g, &p));
	p.nodes = 1ULL << 1;
	assert_true(history_clear_first_move(&c, g, &p));
	g->v.flags &= ~VNUMAD_GUEST_NO_MEMMOVE;
	close_core(&c);
}

/*
 * The guest's workload goes from pointer chasing to mostly halted (15 to 2
 * DRAM accesses per 1000 instructions, a twentieth of the CPU) at 6 s, while
 * the vCPU move of tick 2 that brought it to its memory settles: its
 * instructions per second fall by 95%, which the move did not do. The
 * guard sees the accesses per instruction change and judges the trial by
 * the local share instead (0% -> 100%): kept. Judged by instructions per
 * second it was reverted.
 */
static void phase_change_judged_by_locality(void **state)
{
	static struct vn_core c;

	(void)state;
	open_core(&c, HOST "[guest.g]\nworkload = latency\nvcpus = 2\nmemory = 2GiB\n"
		  "vcpu_nodes = 0\nmem_nodes = 1\nphases = 6s:idle\n");
	ticks(&c, 2);
	assert_int_equal(c.stats.vcpu_moves, 2);
	assert_int_equal(seen.started, 1);
	ticks(&c, 14);
	if (seen.kept != 1 || seen.reverted || !strstr(seen.why, "judged by locality"))
		fail_msg("kept %d, reverted %d: '%s'", seen.kept, seen.reverted, seen.why);
	assert_non_null(strstr(seen.why, "local share 0% -> 100%"));
	assert_int_equal(allowed(&c, 0), 2);
	close_core(&c);
}

/*
 * A loss is still caught across such a phase: an operator's move of a local
 * guest's vCPUs away from its memory, the workload halting during the
 * trial, is reverted by the local share (100% -> 0%). And without the phase
 * the same move is reverted by instructions per second, as before.
 */
static void phase_change_loss_reverted(void **state)
{
	static struct vn_core c;
	struct vn_manual man;
	char why[256];

	(void)state;
	for (int phase = 0; phase < 2; phase++) {
		open_core_with(&c, phase ?
			       HOST "[guest.g]\nworkload = latency\nvcpus = 2\nmemory = 2GiB\n"
			       "vcpu_nodes = 0\nmem_nodes = 0\nphases = 16s:idle\n" :
			       HOST "[guest.g]\nworkload = latency\nvcpus = 2\nmemory = 2GiB\n"
			       "vcpu_nodes = 0\nmem_nodes = 0\n", "none");
		ticks(&c, 6);
		if (state_migrate(&c, "g", 1, 0, true, 0, false, &man, why, sizeof(why)) < 0)
			fail_msg("manual move: %s", why);
		assert_int_equal(allowed(&c, 0), 2);
		ticks(&c, 14);
		if (seen.reverted != 1 || seen.kept)
			fail_msg("phase %d: kept %d, reverted %d: '%s'", phase, seen.kept,
				 seen.reverted, seen.why);
		if (phase)
			assert_non_null(strstr(seen.why, "local share 100% -> 0%, judged by locality"));
		else
			assert_null(strstr(seen.why, "judged by locality"));
		assert_int_equal(allowed(&c, 0), 1);
		close_core(&c);
	}
}

static int setup(void **state)
{
	(void)state;
	log_init(true, LOG_ERR, "test_guard");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/s.ini", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clear_move_needs_no_baseline),
		cmocka_unit_test(phase_change_judged_by_locality),
		cmocka_unit_test(phase_change_loss_reverted),
		cmocka_unit_test(clear_memory_move),
		cmocka_unit_test(clear_guest_move),
		cmocka_unit_test(ambiguous_move_waits),
		cmocka_unit_test(second_move_is_not_first),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
