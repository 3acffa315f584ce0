// SPDX-License-Identifier: MIT
/*
 * The model stage on hand-made readings: the remote ratio weighs each
 * interval by its traffic (a /proc share once per interval); node bandwidth
 * keeps what was measured.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core.h"

struct fixture {
	struct vn_core c;
	struct vn_guest *g;
};

/* A core with one guest of one vCPU, the model's half-life one tick. */
static void setup(struct fixture *f)
{
	static const pid_t tids[] = { 1234 };
	static const uint64_t allowed[] = { 1 };
	struct vn_guest_desc d = { .name = "g", .pid = 1, .nr_vcpus = 1,
				   .tids = tids, .allowed = allowed };

	memset(f, 0, sizeof(*f));
	config_defaults(&f->c.cfg);
	f->c.cfg.halflife = 1.0;
	host_init(&f->c.host);
	f->c.host.nr_nodes = 2;
	f->c.host.online = 3;
	host_scan_begin(&f->c.host);
	f->g = host_report(&f->c.host, &d);
	host_scan_end(&f->c.host);
	assert_non_null(f->g);
}

static void teardown(struct fixture *f)
{
	host_fini(&f->c.host);
	config_free(&f->c.cfg);
}

/* One tick whose reading of vCPU 0 has these accesses over one second. */
static void tick(struct fixture *f, uint64_t local, uint64_t remote)
{
	struct vn_counts *d = &f->g->vc[0].delta;

	f->c.host.tick++;
	f->c.host.now += 1.0;
	*d = (struct vn_counts){ .cycles = 1000000, .instructions = 1000000,
				 .local_dram = local, .remote_dram = remote,
				 .cpu_time = 0.5, .elapsed = 1.0, .node = 0,
				 .source = VNUMAD_SRC_PMU, .valid = true };
	stage_model(&f->c);
}

/*
 * Ten million accesses 10% remote, then 3 accesses all remote: the ratio
 * stays near 10%. Smoothing the per-interval ratios would put it near 55%.
 */
static void test_ratio_weighed_by_traffic(void **state)
{
	struct fixture f;
	(void)state;

	setup(&f);
	tick(&f, 9000000, 1000000);
	assert_true(fabs(f.g->vv[0].remote_ratio - 0.1) < 1e-9);
	tick(&f, 0, 3);
	assert_true(fabs(f.g->vv[0].remote_ratio - 0.1) < 0.001);
	/* an interval without accesses changes nothing */
	tick(&f, 0, 0);
	assert_true(fabs(f.g->vv[0].remote_ratio - 0.1) < 0.001);
	/* sustained remote traffic does move it */
	for (int i = 0; i < 10; i++)
		tick(&f, 0, 10000000);
	assert_true(f.g->vv[0].remote_ratio > 0.95);
	/* and the trend shows the rise */
	assert_true(f.g->vv[0].remote_trend > 0);
	assert_true(f.g->v.remote_ratio > 0.95);
	teardown(&f);
}

/* No accesses ever: the ratio stays unknown. */
static void test_ratio_unknown_without_traffic(void **state)
{
	struct fixture f;
	(void)state;

	setup(&f);
	tick(&f, 0, 0);
	tick(&f, 0, 0);
	assert_true(f.g->vv[0].remote_ratio < 0);
	assert_true(f.g->vv[0].remote_trend == 0);
	teardown(&f);
}

/*
 * The /proc estimate: both vCPUs of a guest on node 0 read the same share,
 * all local and then all remote once the guest's memory moved, but one ran
 * 0.9 s of the second and the other 0.5 s. Their ratios stay equal (a share
 * counts once per interval, whatever the CPU time it is split by), so that
 * a policy's threshold sees them cross it in the same tick. Weighed by CPU
 * time they would read 56% and 42%, a 50% threshold between them. A vCPU
 * that did not run in an interval has no share for it: its ratio stays.
 */
static void test_estimate_shares_weigh_alike(void **state)
{
	static const pid_t tids[] = { 2234, 2235 };
	static const uint64_t allowed[] = { 1, 1 };
	struct vn_guest_desc gd = { .name = "h", .pid = 2, .nr_vcpus = 2,
				    .tids = tids, .allowed = allowed };
	const double cpu[][2] = { { 0.7, 0.7 }, { 0.7, 0.7 }, { 0.9, 0.5 }, { 0.8, 0 } };
	const double share[] = { 0, 0, 1, 1 };
	struct fixture f;
	struct vn_guest *g;
	(void)state;

	setup(&f);
	host_scan_begin(&f.c.host);
	host_report(&f.c.host, &(struct vn_guest_desc){ .name = "g", .pid = 1,
			.nr_vcpus = 1, .tids = (pid_t[]){ 1234 }, .allowed = allowed });
	g = host_report(&f.c.host, &gd);
	host_scan_end(&f.c.host);
	assert_non_null(g);
	f.g->vc[0].delta.valid = false;
	for (int t = 0; t < 4; t++) {
		f.c.host.tick++;
		f.c.host.now += 1.0;
		for (int v = 0; v < 2; v++) {
			uint64_t w = (uint64_t)(cpu[t][v] * 1e6);
			uint64_t r = (uint64_t)(w * share[t]);

			g->vc[v].delta = (struct vn_counts){
				.local_dram = w - r, .remote_dram = r, .cpu_time = cpu[t][v],
				.elapsed = 1.0, .node = 0, .source = VNUMAD_SRC_ESTIMATE,
				.valid = true };
		}
		stage_model(&f.c);
		if (t == 2) {
			assert_true(fabs(g->vv[0].remote_ratio - 0.5) < 1e-6);
			assert_true(fabs(g->vv[1].remote_ratio - 0.5) < 1e-6);
		}
	}
	assert_true(fabs(g->vv[0].remote_ratio - 0.75) < 1e-6);
	assert_true(fabs(g->vv[1].remote_ratio - 0.5) < 1e-6);
	teardown(&f);
}

/* One tick whose /proc estimate of vCPU 0 reads this remote share. */
static void tick_estimate(struct fixture *f, double share, bool shifted)
{
	uint64_t w = 700000, r = (uint64_t)llround((double)w * share);

	f->c.host.tick++;
	f->c.host.now += 1.0;
	if (shifted)
		f->g->mem_shift_tick = f->c.host.tick;
	f->g->vc[0].delta = (struct vn_counts){
		.local_dram = w - r, .remote_dram = r, .cpu_time = 0.7,
		.elapsed = 1.0, .node = 0, .source = VNUMAD_SRC_ESTIMATE,
		.valid = true };
	stage_model(&f->c);
}

/*
 * The /proc estimate when the guest's memory moved (the first tick whose
 * reading knows it): the share is the new placement's at once, since it is
 * computed from where the memory is, not counted; the trend shows the step.
 * Without a shift (the thread changed nodes, a reading like another) the
 * share is smoothed as before. The VM's phase change read 30%, 51%, 65%
 * where the guest was all remote, and a policy migrated its memory back.
 */
static void settled_local(struct fixture *f)
{
	setup(f);
	f->c.cfg.halflife = 4.0;
	for (int t = 0; t < 5; t++)
		tick_estimate(f, 0, false);
	assert_true(f->g->vv[0].remote_ratio < 1e-9);
}

static void test_estimate_follows_a_memory_shift(void **state)
{
	struct fixture f;
	(void)state;

	settled_local(&f);
	tick_estimate(&f, 1, true);
	assert_true(fabs(f.g->vv[0].remote_ratio - 1) < 1e-9);
	assert_true(f.g->vv[0].remote_trend > 0);
	assert_true(fabs(f.g->v.remote_ratio - 1) < 1e-9);
	/* the next reading, no new shift: smoothed from there */
	tick_estimate(&f, 0, false);
	assert_true(f.g->vv[0].remote_ratio > 0.8 && f.g->vv[0].remote_ratio < 0.9);

	/* the same step without a shift of the memory: smoothed */
	teardown(&f);
	settled_local(&f);
	tick_estimate(&f, 1, false);
	assert_true(f.g->vv[0].remote_ratio > 0.1 && f.g->vv[0].remote_ratio < 0.2);
	teardown(&f);
}

/*
 * Counted accesses keep smoothing across a memory shift: a count's step is
 * the real traffic as it comes, and one interval's count is noisy.
 */
static void test_counts_smoothed_across_a_shift(void **state)
{
	struct fixture f;
	(void)state;

	setup(&f);
	tick(&f, 1000000, 0);
	f.g->mem_shift_tick = f.c.host.tick + 1;
	tick(&f, 0, 1000000);
	assert_true(fabs(f.g->vv[0].remote_ratio - 0.5) < 1e-6);
	teardown(&f);
}

/*
 * Node bandwidth: what the memory controllers measured (labelled uncore by
 * the sampler) stays; the other nodes get the per-vCPU estimate, labelled
 * estimate.
 */
static void test_node_bandwidth_sources(void **state)
{
	struct fixture f;
	(void)state;

	setup(&f);
	f.g->v.mem[1] = 1 << 30;	/* its remote traffic is served by node 1 */
	tick(&f, 9000000, 1000000);
	assert_int_equal(f.c.host.node_info[0].bw_used_source, VNUMAD_SRC_ESTIMATE);
	assert_true(f.c.host.node[0].bw_used > 0);
	assert_true(f.c.host.node[1].bw_used > 0);
	/* node 1's controllers measured 5 GB/s this tick */
	f.c.host.node[1].bw_used = 5e9;
	f.c.host.node_info[1].bw_used_source = VNUMAD_SRC_UNCORE;
	tick(&f, 9000000, 1000000);
	assert_true(f.c.host.node[1].bw_used == 5e9);
	assert_int_equal(f.c.host.node_info[1].bw_used_source, VNUMAD_SRC_UNCORE);
	assert_int_equal(f.c.host.node_info[0].bw_used_source, VNUMAD_SRC_ESTIMATE);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratio_weighed_by_traffic),
		cmocka_unit_test(test_ratio_unknown_without_traffic),
		cmocka_unit_test(test_estimate_shares_weigh_alike),
		cmocka_unit_test(test_estimate_follows_a_memory_shift),
		cmocka_unit_test(test_counts_smoothed_across_a_shift),
		cmocka_unit_test(test_node_bandwidth_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
