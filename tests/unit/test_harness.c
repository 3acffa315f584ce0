// SPDX-License-Identifier: MIT
/*
 * The evaluation harness and the model support it needs: the host's shared
 * migration rate, placements put at once and solved to steady state, the
 * noise-free totals, and the harness itself -- the oracle's search, its
 * ranking against real policies, the model's calibration as the harness
 * measures it, determinism and the timeline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "policies.h"
#include "registry.h"
#include "util.h"
#include "vnumad.h"

static char dir[] = "/tmp/vnumad-test-harness.XXXXXX";

#define HOST2 "[host]\nnodes = 2\ncpus = 16\nmemory = 64GiB\n"

/* Three guests on a small host: one misplaced, one local, one compute bound. */
static const char tiny[] =
	"[sim]\nduration = 3min\n"
	"[host]\nnodes = 2\ncpus = 8\nmemory = 32GiB\nnoise = 2%\n"
	"[guest.lost]\nworkload = latency\nvcpus = 2\nmemory = 4GiB\n"
	"vcpu_nodes = 1\nmem_nodes = 0\n"
	"[guest.home]\nworkload = mixed\nvcpus = 2\nmemory = 4GiB\n"
	"vcpu_nodes = 0\nmem_nodes = 0\n"
	"[guest.calc]\nworkload = cpu\nvcpus = 2\nmemory = 2GiB\n"
	"vcpu_nodes = 1\nmem_nodes = 1\n";

/* Writes a scenario into the test directory; returns its path (static). */
static const char *scenario(const char *name, const char *text)
{
	static char path[8][256];
	static int next;
	char *p = path[next++ % 8];
	FILE *f;

	snprintf(p, 256, "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return p;
}

static struct sim *load(const char *text)
{
	struct vn_errors e = { 0 };
	struct sim *s = sim_load_text("t.ini", text, &e);

	if (!s)
		errors_print(&e, stderr);
	assert_non_null(s);
	errors_free(&e);
	return s;
}

static struct hs_opts opts(void)
{
	return (struct hs_opts){ .seed = -1 };
}

/* The reference of a scenario (each guest alone, best placed). */
static void reference(const char *path, struct hs_opts o, struct hs_reference *ref)
{
	assert_int_equal(hs_reference(path, &o, ref), 0);
}

/* A policy's run, scored: its score, and its throughput in *ips. */
static double run_policy_ips(const char *path, const char *policy, struct hs_opts o,
			     double *ips)
{
	struct hs_reference ref;
	struct hs_result r;
	double score;

	assert_int_equal(hs_run(path, policy, &o, &r), 0);
	reference(path, o, &ref);
	hs_score_result(&r, &ref);
	score = r.score;
	if (ips)
		*ips = r.ips;
	hs_result_free(&r);
	hs_reference_free(&ref);
	return score;
}

static double run_policy(const char *path, const char *policy, struct hs_opts o)
{
	return run_policy_ips(path, policy, o, NULL);
}

/* A policy that does nothing: "none" if built in, else a dry run. */
static double run_none_ips(const char *path, struct hs_opts o, double *ips)
{
	if (!policy_builtin("none"))
		o.dry_run = true;
	return run_policy_ips(path, policy_builtin("none") ? "none" : "locality", o, ips);
}

static double run_none(const char *path, struct hs_opts o)
{
	return run_none_ips(path, o, NULL);
}

/* The oracle's score; its throughput in *ips. */
static double run_oracle_ips(const char *path, struct hs_opts o, bool *exhaustive,
			     double *ips)
{
	struct hs_result r;
	double score;

	assert_int_equal(hs_oracle(path, &o, &r, NULL), 0);
	score = r.score;
	if (exhaustive)
		*exhaustive = r.exhaustive;
	if (ips)
		*ips = r.ips;
	hs_result_free(&r);
	return score;
}

static double run_oracle(const char *path, struct hs_opts o, bool *exhaustive)
{
	return run_oracle_ips(path, o, exhaustive, NULL);
}

/* [limits] migrate_rate is the host's: concurrent migrations share it. */
static void test_shared_migration_rate(void **state)
{
	struct sim *s = load("[host]\nnodes = 3\ncpus = 8\nmemory = 16GiB\n"
		"[guest.g]\nworkload = idle\nvcpus = 1\nmemory = 8GiB\n"
		"vcpu_nodes = 0\nmem_nodes = 0\n");
	struct vn_migration a = { .from = 0, .to = 1, .bytes = 4 * GiB };
	struct vn_migration b = { .from = 0, .to = 2, .bytes = 4 * GiB };
	struct vn_migration small = { .from = 0, .to = 1, .bytes = 256 * MiB };

	(void)state;
	sim_set_migrate_rate(s, 1.0 * GiB);
	assert_int_equal(sim_migrate(s, 0, &a, 1.0 * GiB), 0);
	assert_int_equal(sim_migrate(s, 0, &b, 1.0 * GiB), 0);
	assert_int_equal(sim_migrate(s, 0, &small, 1.0 * GiB), 0);
	/* max-min fair: small takes what it needs, the others split the rest */
	sim_step(s, 1);
	assert_int_equal(small.state, VN_MIG_DONE);
	assert_int_equal(small.done, 256 * MiB);
	assert_int_equal(a.done, 384 * MiB);
	assert_int_equal(b.done, 384 * MiB);
	sim_step(s, 1);
	assert_int_equal(a.done, 896 * MiB);
	assert_int_equal(b.done, 896 * MiB);
	/* the whole rate for the last one */
	sim_cancel(s, &b);
	sim_step(s, 1);
	assert_int_equal(a.done, 1920 * MiB);
	/* the host's rate never lifts a migration's own */
	sim_set_migrate_rate(s, 10.0 * GiB);
	sim_step(s, 1);
	assert_int_equal(a.done, 2944 * MiB);
	sim_free(s);
}

/* Through the backend, two migrations at the configured rate share it. */
static void test_backend_shares_rate(void **state)
{
	struct vn_config cfg = { .interval = 1, .migrate_rate = 1.0 * GiB };
	struct vn_backend b = { .ops = &sim_backend_ops, .cfg = &cfg };
	struct vn_migration m1 = { .from = 0, .to = 1, .bytes = GiB };
	struct vn_migration m2 = { .from = 0, .to = 1, .bytes = GiB };
	struct vn_host h;
	struct vn_guest *g;

	(void)state;
	assert_int_equal(b.ops->open(&b), 0);
	host_init(&h);
	assert_int_equal(b.ops->advance(&b, 1), 0);
	assert_int_equal(b.ops->topology(&b, &h), 0);
	host_scan_begin(&h);
	assert_int_equal(b.ops->scan(&b, &h), 0);
	host_scan_end(&h);
	g = host_find(&h, "web1");
	assert_non_null(g);
	assert_int_equal(b.ops->migrate(&b, g, &m1), 0);
	assert_int_equal(b.ops->migrate(&b, g, &m2), 0);
	assert_int_equal(b.ops->advance(&b, 1), 0);
	assert_int_equal(m1.done, 512 * MiB);
	assert_int_equal(m2.done, 512 * MiB);
	assert_int_equal(b.ops->advance(&b, 1), 0);
	assert_int_equal(m1.state, VN_MIG_DONE);
	assert_int_equal(m2.state, VN_MIG_DONE);
	b.ops->forget(&b, g);
	host_fini(&h);
	b.ops->close(&b);
}

/* sim_place puts a guest at once; sim_settle solves without moving time. */
static void test_place_and_settle(void **state)
{
	struct sim *s = load(HOST2 "[guest.web]\nworkload = latency\nvcpus = 4\n"
		"memory = 8GiB\nvcpu_nodes = 1\nmem_nodes = 0\n"
		"[guest.db]\nworkload = latency\nvcpus = 2\nmemory = 4GiB\n"
		"vcpu_nodes = 0\nmem_nodes = 0\n"
		"[guest.later]\nvcpus = 1\nmemory = 1GiB\nstart = 1h\n");
	int home[4] = { 0, 0, 0, 0 }, bad[4] = { 0, 0, 2, 0 };
	uint64_t half[2] = { 2 * GiB, 2 * GiB }, wrong[2] = { 2 * GiB, GiB };
	uint64_t odd[2] = { 2 * GiB + 4096, 2 * GiB - 4096 };
	double remote_ips, local_ips, sum;

	(void)state;
	sim_step(s, 5);
	assert_true(sim_guest_remote_ratio(s, 0) > 0.99);
	remote_ips = sim_guest_ips(s, 0);
	assert_true(fabs(sim_next_event(s) - 3600) < 1e-9);
	assert_int_equal(sim_place(s, 0, home, NULL, NULL), 0);
	assert_int_equal(sim_vcpu_allowed(s, 0, 2), 1);
	sum = sim_settle(s);
	assert_true(sim_now(s) == 5);
	assert_true(sim_guest_remote_ratio(s, 0) < 1e-9);
	local_ips = sim_guest_ips(s, 0);
	/* the calibration: a latency-bound guest remote runs at 0.6-0.75 */
	assert_true(remote_ips / local_ips > 0.60 && remote_ips / local_ips < 0.75);
	assert_true(fabs(sum - local_ips - sim_guest_ips(s, 1)) < 1e-6 * sum);
	/* settled is steady: solving again or stepping on changes nothing */
	assert_true(fabs(sim_settle(s) - sum) < 1e-9 * sum);
	sim_step(s, 2);
	assert_true(fabs(sim_guest_ips(s, 0) - local_ips) < 1e-6 * local_ips);
	/* memory: half of db's on node 1 makes half its accesses remote */
	assert_int_equal(sim_place(s, 1, NULL, half, NULL), 0);
	assert_int_equal(sim_guest_mem(s, 1, 1), 2 * GiB);
	assert_int_equal(sim_node_mem_used(s, 1), 2 * GiB);
	sim_settle(s);
	assert_true(fabs(sim_guest_remote_ratio(s, 1) - 0.5) < 1e-9);
	/* refused: a node that does not exist, other totals, part pages */
	assert_int_equal(sim_place(s, 0, bad, NULL, NULL), -EINVAL);
	assert_int_equal(sim_place(s, 1, NULL, wrong, NULL), -EINVAL);
	assert_int_equal(sim_place(s, 1, NULL, odd, NULL), -EINVAL);
	assert_int_equal(sim_place(s, 2, home, NULL, NULL), -ESRCH);
	assert_int_equal(sim_place(s, 9, home, NULL, NULL), -EINVAL);
	/* what the oracle needs to know */
	assert_int_equal(sim_guest_vnodes(s, 0), 1);
	assert_int_equal(sim_guest_vnode_mem(s, 0, 0, -1), 8 * GiB);
	assert_int_equal(sim_guest_vnode_mem(s, 1, 0, 1), 2 * GiB);
	assert_int_equal(sim_guest_vnode_mem(s, 2, 0, -1), GiB);
	assert_int_equal(sim_node_mem_capacity(s, 0), 64 * GiB);
	assert_int_equal(sim_page_size(s), 2 * MiB);
	sim_free(s);
}

/* sim_place puts hot pages where asked; without hot[] they spread alike. */
static void test_place_hot(void **state)
{
	struct sim *s = load(HOST2 "[guest.g]\nworkload = latency\nvcpus = 2\n"
		"memory = 8GiB\nhot = 25%\nvcpu_nodes = 0\nmem_nodes = 0:50%, 1:50%\n");
	int home[2] = { 0, 0 };
	uint64_t mem[2] = { 4 * GiB, 4 * GiB };
	double near[2] = { 2.0 * GiB, 0 }, bad[2] = { 0, 3.0 * GiB }, half[2] = { GiB, GiB };

	(void)state;
	sim_step(s, 1);
	assert_true(fabs(sim_guest_hot(s, 0) - 0.25) < 1e-12);
	/* every hot page on node 0, where the vCPUs are: nothing remote */
	assert_int_equal(sim_place(s, 0, home, mem, near), 0);
	sim_settle(s);
	assert_true(sim_guest_remote_ratio(s, 0) < 1e-9);
	assert_true(fabs(sim_guest_vnode_hot(s, 0, 0, 0) - 2.0 * GiB) < 1);
	/* no hot[]: spread like the memory, half remote */
	assert_int_equal(sim_place(s, 0, NULL, mem, NULL), 0);
	sim_settle(s);
	assert_true(fabs(sim_guest_remote_ratio(s, 0) - 0.5) < 1e-9);
	/* hot[] alone moves the hot pages within the memory as it is */
	assert_int_equal(sim_place(s, 0, NULL, NULL, near), 0);
	sim_settle(s);
	assert_true(sim_guest_remote_ratio(s, 0) < 1e-9);
	/* refused: more hot bytes than the guest has, or where it has no memory */
	assert_int_equal(sim_place(s, 0, NULL, NULL, bad), -EINVAL);
	half[0] = 3.0 * GiB;
	assert_int_equal(sim_place(s, 0, NULL, NULL, half), -EINVAL);
	mem[0] = 8 * GiB;
	mem[1] = 0;
	near[0] = GiB;
	near[1] = GiB;
	assert_int_equal(sim_place(s, 0, NULL, mem, near), -EINVAL);
	sim_free(s);
}

/* Alone on the host a guest runs at least as fast, and the rest is kept. */
static void test_settle_alone(void **state)
{
	struct sim *s = load("[host]\nnodes = 2\ncpus = 16\nmemory = 64GiB\n"
		"bandwidth = 20GB/s\n"
		"[guest.a]\nworkload = bandwidth\nvcpus = 8\nmemory = 8GiB\n"
		"vcpu_nodes = 0\nmem_nodes = 0\n"
		"[guest.b]\nworkload = bandwidth\nvcpus = 8\nmemory = 8GiB\n"
		"vcpu_nodes = 0\nmem_nodes = 0\n"
		"[guest.c]\nvcpus = 1\nmemory = 1GiB\nstart = 1h\n");
	double both, a, alone, again;

	(void)state;
	sim_step(s, 1);
	both = sim_settle(s);
	a = sim_guest_ips(s, 0);
	alone = sim_settle_alone(s, 0);
	/* two streamers share one controller: alone, a runs much faster */
	assert_true(alone > 1.3 * a);
	assert_true(sim_settle_alone(s, 2) == 0);
	/* the others are still there */
	again = sim_settle(s);
	assert_true(fabs(again - both) < 1e-6 * both);
	assert_true(fabs(sim_guest_ips(s, 0) - a) < 1e-6 * a);
	sim_step(s, 1);
	assert_true(fabs(sim_guest_ips(s, 0) - a) < 1e-6 * a);
	sim_free(s);
}

/* The noise-free totals are the integral of the counters, read or not. */
static void test_totals(void **state)
{
	struct sim *s = load(HOST2 "counters = exact\n"
		"[guest.a]\nworkload = mixed\nvcpus = 3\n"
		"memory = 4GiB\nvcpu_nodes = 1\nmem_nodes = 0:50%, 1:50%\n"
		"phases = 4s:latency\n");
	double ins = 0, dram = 0, rem = 0, ti, td, tr;
	struct vn_counts c;

	(void)state;
	for (int t = 0; t < 10; t++) {
		sim_step(s, 0.7);
		for (int v = 0; v < 3; v++) {
			sim_read_counts(s, 0, v, &c);
			ins += (double)c.instructions;
			dram += (double)(c.local_dram + c.remote_dram);
			rem += (double)c.remote_dram;
		}
	}
	sim_guest_totals(s, 0, &ti, &td, &tr);
	/* each read leaves less than one count behind */
	assert_true(ti >= ins && ti - ins < 3.0);
	assert_true(fabs(td - dram) < 6.0);
	assert_true(fabs(tr - rem) < 3.0);
	assert_true(fabs(tr / td - 0.5) < 1e-9);
	assert_true(fabs(sim_guest_dram_rate(s, 0) * 0.7 -
			 (sim_guest_ips(s, 0) * 0.7) * 15 / 1000) < 1e-3 * td);
	sim_free(s);
}

/* The oracle enumerates small spaces; its local search finds their best. */
static void test_oracle_search(void **state)
{
	const char *p = scenario("tiny.ini", tiny);
	struct hs_opts o = opts();
	bool exact;
	double best, found;

	(void)state;
	best = run_oracle(p, o, &exact);
	assert_true(exact);
	o.oracle_exhaustive = 1;	/* force the local search */
	found = run_oracle(p, o, &exact);
	assert_false(exact);
	/* the enumeration is the optimum of the space: never beaten */
	assert_true(found <= best * (1 + 1e-6));
	assert_true(found >= best * 0.999);
	/* and it did not just keep the scenario's placement */
	assert_true(best > run_none(p, opts()) * 1.02);
}

/*
 * With a hot set, first touch puts the hot pages where the vCPUs run and the
 * cold rest where it spills: the oracle's "as placed" keeps them there, so
 * that it is never below leaving the guest alone (it spread them once, and
 * every policy beat it).
 */
static void test_oracle_hot_set(void **state)
{
	const char *p = scenario("hot.ini", "[sim]\nduration = 2min\n"
		"[host]\nnodes = 2\ncpus = 8\nmemory = 16GiB\n"
		"[guest.big]\nworkload = latency\nvcpus = 4\nmemory = 24GiB\n"
		"hot = 20%\nvcpu_nodes = 0\n");
	double oracle, none, oi, ni;

	(void)state;
	oracle = run_oracle_ips(p, opts(), NULL, &oi);
	none = run_none_ips(p, opts(), &ni);
	assert_true(oi >= ni * (1 - 1e-6));
	assert_true(oracle >= none * (1 - 1e-6));
	/* and it is the guest at its best: its hot pages are all local */
	assert_true(none > 0.99);
}

/*
 * The score: each guest's throughput over its throughput alone, best
 * placed; their geometric mean; the slowest beside it. Guests that never
 * ran have none.
 */
static void test_score(void **state)
{
	const char *p = scenario("score.ini", "[sim]\nduration = 2min\n"
		"[host]\nnodes = 2\ncpus = 8\nmemory = 16GiB\nbandwidth = 20GB/s\n"
		"[guest.lost]\nworkload = latency\nvcpus = 2\nmemory = 4GiB\n"
		"vcpu_nodes = 1\nmem_nodes = 0\n"
		"[guest.s1]\nworkload = bandwidth\nvcpus = 4\nmemory = 2GiB\n"
		"vcpu_nodes = 0\nmem_nodes = 0\n"
		"[guest.s2]\nworkload = bandwidth\nvcpus = 4\nmemory = 2GiB\n"
		"vcpu_nodes = 0\nmem_nodes = 0\n"
		"[guest.late]\nvcpus = 1\nmemory = 1GiB\nstart = 1h\n"
		"[guest.huge]\nvcpus = 1\nmemory = 30GiB\nstart = 10s\n");
	struct hs_opts o = opts();
	struct hs_reference ref;
	struct hs_result r;
	double logsum = 0, none, worst;

	(void)state;
	reference(p, o, &ref);
	assert_int_equal(ref.nr_guests, 5);
	assert_true(fabs(ref.alive[0] - 120) < 1e-9);
	assert_true(ref.alive[3] == 0 && ref.solo[3] == 0);
	/* the host cannot hold it next to the others: refused, never ran */
	assert_true(ref.alive[4] == 0);
	assert_true(ref.solo[0] > 0 && ref.solo[1] > 0);
	assert_int_equal(hs_run(p, "none", &o, &r), 0);
	hs_score_result(&r, &ref);
	assert_int_equal(r.scored, 3);
	assert_true(r.progress[3] < 0 && r.progress[4] < 0);
	for (int g = 0; g < 3; g++) {
		assert_true(fabs(r.progress[g] - r.guest_ips[g] / ref.solo[g]) < 1e-12);
		assert_true(r.progress[g] > 0.1 && r.progress[g] < 1.0);
		logsum += log(r.progress[g]);
		assert_true(r.worst <= r.progress[g]);
	}
	assert_true(fabs(r.score - exp(logsum / 3)) < 1e-12);
	/* remote, and its memory behind two streamers' queue: the slowest */
	assert_int_equal(r.worst_guest, 0);
	none = r.score;
	worst = r.worst;
	hs_result_free(&r);
	/* the oracle sorts them out: better on the whole, and for the slowest */
	assert_int_equal(hs_oracle(p, &o, &r, NULL), 0);
	assert_int_equal(r.scored, 3);
	assert_true(r.score > 1.2 * none);
	assert_true(r.worst > 2 * worst);
	for (int g = 0; g < 3; g++)
		assert_true(r.progress[g] <= 1 + 1e-9);
	hs_result_free(&r);
	hs_reference_free(&ref);
}

/* On a small misplaced host: oracle >= locality >= nothing done. */
static void test_ranking(void **state)
{
	const char *p = scenario("rank.ini", tiny);
	double oracle, locality, none;

	(void)state;
	oracle = run_oracle(p, opts(), NULL);
	locality = run_policy(p, "locality", opts());
	none = run_none(p, opts());
	assert_true(oracle >= locality);
	assert_true(locality > none * 1.02);
	assert_true(locality > oracle * 0.97);
}

/* The calibration of sim/README.md, as fractions of the oracle. */
static void test_calibration(void **state)
{
	struct hs_opts o = opts();
	const char *remote = scenario("remote.ini", HOST2
		"[guest.g]\nworkload = latency\nvcpus = 1\nmemory = 8GiB\n"
		"vcpu_nodes = 0\nmem_nodes = 1\n");
	const char *cpu = scenario("cpu.ini", HOST2
		"[guest.g]\nworkload = cpu\nvcpus = 1\nmemory = 8GiB\n"
		"vcpu_nodes = 0\nmem_nodes = 1\n");
	const char *bw = scenario("bw.ini", HOST2
		"[guest.g]\nworkload = bandwidth\nvcpus = 16\nmemory = 8GiB\n"
		"vcpu_nodes = 0\nmem_nodes = 0\n");
	double f, a, b;

	(void)state;
	o.duration = 60;
	/* a latency-bound guest fully remote: 0.60-0.75 of where it belongs */
	f = run_none(remote, o);
	assert_true(f > 0.60 && f < 0.75);
	/* alone on the host, the oracle is the reference itself */
	assert_true(fabs(run_oracle(remote, o, NULL) - 1) < 1e-6);
	/* a compute-bound one loses less than 5% */
	f = run_none(cpu, o);
	assert_true(f > 0.95 && f < 1.0);
	/* a 16-vCPU streamer saturating one node: spread, it runs > 1.2x faster */
	run_oracle_ips(bw, o, NULL, &a);
	run_none_ips(bw, o, &b);
	assert_true(a / b > 1.2);
}

/* Same inputs, same figures, to the last bit. */
static void test_deterministic(void **state)
{
	const char *p = scenario("det.ini", tiny);
	struct hs_opts o = opts();
	struct hs_result a, b;

	(void)state;
	assert_int_equal(hs_run(p, "locality", &o, &a), 0);
	assert_int_equal(hs_run(p, "locality", &o, &b), 0);
	assert_memory_equal(&a.ips, &b.ips, sizeof(double));
	assert_int_equal(a.vcpu_moves, b.vcpu_moves);
	hs_result_free(&a);
	hs_result_free(&b);
	o.oracle_exhaustive = 1;
	assert_int_equal(hs_oracle(p, &o, &a, NULL), 0);
	assert_int_equal(hs_oracle(p, &o, &b, NULL), 0);
	assert_memory_equal(&a.ips, &b.ips, sizeof(double));
	assert_int_equal(a.evaluations, b.evaluations);
	hs_result_free(&a);
	hs_result_free(&b);
	/* another noise seed changes the counters, hence what the policy sees */
	o.seed = 99;
	assert_int_equal(hs_run(p, "locality", &o, &a), 0);
	assert_true(a.vcpu_moves > 0);
	hs_result_free(&a);
}

/* The oracle places again at every arrival, departure and phase change. */
static void test_oracle_segments(void **state)
{
	const char *p = scenario("seg.ini", HOST2
		"[sim]\nduration = 10min\n"
		"[guest.a]\nworkload = latency\nvcpus = 2\nmemory = 4GiB\n"
		"phases = 2min:bandwidth, 5min:cpu\nvcpu_nodes = 1\nmem_nodes = 0\n"
		"[guest.b]\nvcpus = 2\nmemory = 4GiB\nstart = 3min\nstop = 4min\n"
		"[guest.c]\nvcpus = 2\nmemory = 4GiB\nstart = 20min\n");
	struct hs_opts o = opts();
	struct hs_result r;

	(void)state;
	assert_int_equal(hs_oracle(p, &o, &r, NULL), 0);
	/* 0, 2min, 3min, 4min, 5min; c comes after the end */
	assert_int_equal(r.segments, 5);
	assert_true(r.exhaustive);
	assert_true(r.guest_ips[2] == 0);
	/* b ran for one minute of ten */
	assert_true(r.guest_ips[1] > 0 && r.guest_ips[1] < r.guest_ips[0]);
	assert_true(r.guest_remote[0] < 1e-9);
	hs_result_free(&r);
}

/*
 * The contender kernel: no vnumad move, the host's balancing on, its
 * migrations and faults counted apart; the oracle, which holds its
 * placements, scores a scenario alike with the host's balancing on or off.
 */
static void test_kernel_contender(void **state)
{
	const char *body = "[sim]\nduration = 2min\n"
		"[guest.a]\nworkload = latency\nvcpus = 2\nmemory = 4GiB\n"
		"vcpu_nodes = 1\nmem_nodes = 0\n";
	char text[512];
	const char *off, *on;
	struct hs_opts o = opts();
	struct hs_result a, b, k;

	(void)state;
	snprintf(text, sizeof(text), "%s%s", HOST2, body);
	off = scenario("off.ini", text);
	snprintf(text, sizeof(text), "%snuma_balancing = yes\n%s", HOST2, body);
	on = scenario("on.ini", text);
	assert_int_equal(hs_oracle(off, &o, &a, NULL), 0);
	assert_int_equal(hs_oracle(on, &o, &b, NULL), 0);
	assert_true(a.ips == b.ips);
	assert_int_equal(hs_run(off, HS_KERNEL, &o, &k), 0);
	assert_string_equal(k.policy, HS_KERNEL);
	assert_int_equal(k.bytes_migrated, 0);
	assert_true(k.host_migrated >= 3 * (uint64_t)GiB);
	assert_true(k.hint_faults > 0);
	assert_true(k.ips <= a.ips * 1.001);
	hs_result_free(&a);
	hs_result_free(&b);
	hs_result_free(&k);
}

/* hs_config() and the baseline's own settings, as hs_run() makes them */
static void baseline_of(const struct hs_opts *o, const char *path, const char *policy,
			const struct sim *s, struct vn_config *cfg)
{
	assert_int_equal(hs_config(o, path, policy, cfg), 0);
	hs_baseline_config(cfg, s);
}

/*
 * The numad contender runs as numad(8) does: no guard, no min_gain (its own
 * 5% test is in the policy), its migrations at what a thread copies; a key
 * the configuration file sets stays as it says, and other policies keep
 * vnumad's brakes.
 */
static void test_numad_contender(void **state)
{
	const char *body = "[sim]\nduration = 20s\n"
		"[guest.split]\nworkload = latency\nvcpus = 4\nmemory = 16GiB\n"
		"vcpu_nodes = 1\nmem_nodes = 0,1\n";
	char text[512], conf[300];
	const char *path;
	struct hs_opts o = opts();
	struct vn_config cfg;
	struct hs_result fast, braked;
	struct sim *s;
	FILE *f;

	(void)state;
	snprintf(text, sizeof(text), "%snuma_balancing_copy_rate = 2GiB/s\n%s", HOST2, body);
	path = scenario("numad.ini", text);
	s = load(text);
	baseline_of(&o, path, "numad", s, &cfg);
	assert_false(cfg.guard);
	assert_true(cfg.min_gain == 0);
	assert_true(cfg.migrate_rate == 2.0 * GiB);
	config_free(&cfg);
	baseline_of(&o, path, "place", s, &cfg);
	assert_true(cfg.guard);
	assert_true(cfg.min_gain > 0);
	assert_true(cfg.migrate_rate < 2.0 * GiB);
	config_free(&cfg);

	/* vnumad's brakes, asked for in the file, are kept */
	snprintf(conf, sizeof(conf), "%s/numad.conf", dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fputs("[guard]\nenabled = yes\n[limits]\nmigrate_rate = 256MiB/s\nmin_gain = 2%\n", f);
	assert_int_equal(fclose(f), 0);
	o.config = conf;
	baseline_of(&o, path, "numad", s, &cfg);
	assert_true(cfg.guard);
	assert_true(cfg.min_gain == 0.02);
	assert_true(cfg.migrate_rate == 256.0 * MiB);
	config_free(&cfg);
	sim_free(s);

	/* in 20 s numad moves the half of the guest away from its vCPUs at
	 * the copy rate; vnumad's 256 MiB/s would move less than 5 GiB */
	assert_int_equal(hs_run(path, "numad", &o, &braked), 0);
	o.config = NULL;
	assert_int_equal(hs_run(path, "numad", &o, &fast), 0);
	assert_true(braked.bytes_migrated <= 5 * (uint64_t)GiB);
	assert_true(fast.bytes_migrated >= 7 * (uint64_t)GiB);
	hs_result_free(&fast);
	hs_result_free(&braked);
}

/* The timeline: a header, one row per tick, averaging to the totals. */
static void test_timeline(void **state)
{
	const char *p = scenario("csv.ini", tiny);
	struct hs_opts o = opts();
	struct hs_result r;
	char path[256], line[4096];
	double sum = 0;
	int rows = 0, moves = 0;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/timeline.csv", dir);
	o.csv = path;
	o.duration = 60;
	assert_int_equal(hs_run(p, "locality", &o, &r), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "tick,time,ips,remote_ratio,vcpu_moves,memory_moves,"
			    "bytes_migrated,reverts,ips:lost,ips:home,ips:calc\n");
	while (fgets(line, sizeof(line), f)) {
		double time, ips, parts = 0, x;
		unsigned long long tick;
		int vm, n = 0;
		char *q = line;

		assert_int_equal(sscanf(line, "%llu,%lf,%lf", &tick, &time, &ips), 3);
		assert_int_equal(tick, rows + 1);
		assert_true(fabs(time - 2.0 * (rows + 1)) < 1e-9);
		for (int k = 0; k < 4; k++)
			q = strchr(q, ',') + 1;
		assert_int_equal(sscanf(q, "%d", &vm), 1);
		moves += vm;
		for (int k = 0; k < 4; k++)
			q = strchr(q, ',') + 1;
		while (sscanf(q, "%lf%n", &x, &n) == 1) {
			parts += x;
			q += n;
			if (*q != ',')
				break;
			q++;
		}
		assert_true(fabs(parts - ips) < 1e-5 * ips);
		sum += ips;
		rows++;
	}
	fclose(f);
	assert_int_equal(rows, 30);
	assert_int_equal(moves, (int)r.vcpu_moves);
	assert_true(fabs(sum / rows - r.ips) < 1e-5 * r.ips);
	hs_result_free(&r);
}

/*
 * The generator: a seed is one scenario, always the same, and every seed of
 * both families loads and admits only the guests its host has memory for;
 * over many seeds the drawn hosts and guests cover the ranges the README
 * documents.
 */
static void test_generate(void **state)
{
	int multi = 0, cxl = 0, vnuma = 0, phases = 0, arrive = 0, leave = 0;
	int over = 0, hot = 0, amd = 0, snc = 0, pinned = 0, n = 0;
	char *a = hs_generate(7), *b = hs_generate(7), *c = hs_generate(8);

	(void)state;
	assert_non_null(a);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_non_null(strstr(a, "(tuning family)"));
	free(a);
	free(b);
	free(c);
	for (long seed = 1; seed <= 120; seed++) {
		long s0 = seed <= 60 ? seed : HS_VALIDATION_SEED + seed;
		char *text = hs_generate((uint64_t)s0);
		struct vn_errors e = { 0 };
		struct sim *s = sim_load_text("gen", text, &e);
		double cpus = 0, demand = 0, start, stop;

		if (!s)
			errors_print(&e, stderr);
		assert_non_null(s);
		errors_free(&e);
		assert_true(sim_nr_nodes(s) >= 2 && sim_nr_nodes(s) <= 9);
		assert_true(sim_nr_guests(s) >= 1 && sim_nr_guests(s) <= 40);
		assert_true(seed <= 60 ? strstr(text, "(tuning family)") != NULL :
			    strstr(text, "(validation family)") != NULL);
		for (int i = 0; i < sim_nr_nodes(s); i++) {
			cpus += sim_node_cpus(s, i);
			cxl += sim_node_cpus(s, i) == 0;
			for (int j = 0; j < sim_nr_nodes(s); j++) {
				int d = sim_distance(s, i, j);

				assert_true(i == j ? d == 10 : d >= 11);
				snc += d == 11 || d == 12;
				amd += d == 32;
			}
		}
		multi += sim_nr_nodes(s) > 2;
		/* each guest found running has run 10 minutes to a week, no arrival has */
		{
			int aged = 0, found = 0;

			for (const char *q = text; (q = strstr(q, "\nage = ")) != NULL; q++) {
				double age = strtod(q + 7, NULL);

				assert_true(age >= 600 && age <= 7 * 86400);
				aged++;
			}
			for (int g = 0; g < sim_nr_guests(s); g++) {
				sim_guest_span(s, g, &start, &stop);
				found += start == 0;
			}
			assert_int_equal(aged, found);
		}
		sim_step(s, 0.5);
		for (int g = 0; g < sim_nr_guests(s); g++) {
			vnuma += sim_guest_vnodes(s, g) > 1;
			hot += sim_guest_hot(s, g) < 1;
			pinned += !!(sim_guest_flags(s, g) & VNUMAD_GUEST_PINNED);
			sim_guest_span(s, g, &start, &stop);
			arrive += start > 0;
			leave += stop >= 0;
			if (start == 0)
				demand += sim_guest_vcpus(s, g);
		}
		/* every guest is admitted: at each arrival, the memory of the
		 * guests there then fits what the host lets guests use */
		for (int g = 0; g < sim_nr_guests(s); g++) {
			uint64_t room = 0, live = 0;

			sim_guest_span(s, g, &start, &stop);
			for (int i = 0; i < sim_nr_nodes(s); i++)
				room += sim_node_mem_capacity(s, i);
			for (int h = 0; h < sim_nr_guests(s); h++) {
				double t0, t1;

				sim_guest_span(s, h, &t0, &t1);
				if (t0 <= start && (t1 < 0 || t1 > start))
					live += sim_guest_size(s, h);
			}
			if (live > room)
				fail_msg("seed %ld: guest %s arrives at %.0fs to %.1f GiB of "
					 "guests, the host has %.1f", s0, sim_guest_name(s, g),
					 start, live / 1073741824.0, room / 1073741824.0);
		}
		phases += strstr(text, "phases = ") != NULL;
		over += demand > 1.2 * cpus;
		n++;
		sim_free(s);
		free(text);
	}
	/* every kind of host and guest turns up */
	assert_true(multi > n / 4);
	assert_true(cxl > 0 && snc > 0 && amd > 0);
	assert_true(vnuma > 0 && phases > n / 4 && arrive > n / 4 && leave > 0);
	assert_true(over > 0 && hot > n && pinned > 0);
}

/* A broken scenario, configuration or policy stops a run before it starts. */
static void test_errors(void **state)
{
	const char *p = scenario("broken.ini", HOST2 "[guest.g]\nvcpus = many\n");
	const char *good = scenario("good.ini", tiny);
	char *list[2] = { (char *)good, (char *)p };
	struct hs_opts o = opts();
	struct hs_result r;

	(void)state;
	assert_int_equal(hs_run(p, "locality", &o, &r), -1);
	assert_int_equal(hs_oracle(p, &o, &r, NULL), -1);
	assert_int_equal(hs_run(good, "nosuch", &o, &r), -1);
	assert_int_not_equal(hs_compare(list, 2, "locality", &o), 0);
	list[1] = (char *)good;
	assert_int_not_equal(hs_compare(list, 2, "locality,nosuch", &o), 0);
	o.config = "/nonexistent/vnumad.conf";
	assert_int_equal(hs_run(good, "locality", &o, &r), -1);
}

static int setup(void **state)
{
	(void)state;
	log_init(true, LOG_CRIT, "test_harness");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_migration_rate),
		cmocka_unit_test(test_backend_shares_rate),
		cmocka_unit_test(test_place_and_settle),
		cmocka_unit_test(test_place_hot),
		cmocka_unit_test(test_settle_alone),
		cmocka_unit_test(test_totals),
		cmocka_unit_test(test_oracle_search),
		cmocka_unit_test(test_oracle_hot_set),
		cmocka_unit_test(test_score),
		cmocka_unit_test(test_ranking),
		cmocka_unit_test(test_calibration),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_oracle_segments),
		cmocka_unit_test(test_kernel_contender),
		cmocka_unit_test(test_numad_contender),
		cmocka_unit_test(test_timeline),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
