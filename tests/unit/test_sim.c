// SPDX-License-Identifier: MIT
/*
 * The simulated host: the model's behaviour and calibration, the scenario
 * loader's errors, and the backend and sampler as the core drives them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "registry.h"
#include "sim.h"
#include "util.h"
#include "vnumad.h"

#define HOST2 "[host]\nnodes = 2\ncpus = 16\nmemory = 64GiB\n"

static struct sim *load(const char *text)
{
	struct vn_errors e = { 0 };
	struct sim *s = sim_load_text("t.ini", text, &e);

	if (!s)
		errors_print(&e, stderr);
	assert_non_null(s);
	assert_int_equal(e.count, 0);
	errors_free(&e);
	return s;
}

static int find(const struct sim *s, const char *name)
{
	int g = sim_guest_find(s, name);

	assert_true(g >= 0);
	return g;
}

/* Expects loading to fail with a message containing `want`. */
static void expect_error(const char *text, const char *want)
{
	struct vn_errors e = { 0 };
	struct sim *s = sim_load_text("t.ini", text, &e);
	bool found = false;

	assert_null(s);
	assert_true(e.count > 0);
	for (int i = 0; i < e.count; i++)
		if (strstr(e.msg[i], want))
			found = true;
	if (!found) {
		fprintf(stderr, "wanted an error containing \"%s\"; got:\n", want);
		errors_print(&e, stderr);
	}
	assert_true(found);
	errors_free(&e);
}

/* Per-vCPU IPS of a one-guest host once it has settled. */
static double speed_of(const char *host, const char *workload, int vcpus,
		       const char *vcpu_nodes, const char *mem_nodes)
{
	char text[1024];
	struct sim *s;
	double ips;

	snprintf(text, sizeof(text),
		 "%s[guest.g]\nworkload = %s\nvcpus = %d\nmemory = 8GiB\n"
		 "vcpu_nodes = %s\nmem_nodes = %s\n", host, workload, vcpus,
		 vcpu_nodes, mem_nodes);
	s = load(text);
	sim_step(s, 5);
	ips = sim_guest_ips(s, 0) / vcpus;
	/* settled: one more step changes nothing */
	sim_step(s, 1);
	assert_true(fabs(sim_guest_ips(s, 0) / vcpus - ips) <= 1e-9 * ips);
	sim_free(s);
	return ips;
}

/* Calibration: a latency-bound guest fully remote runs at 0.6-0.75. */
static void test_calibration_latency(void **state)
{
	double local = speed_of(HOST2, "latency", 1, "0", "0");
	double remote = speed_of(HOST2, "latency", 1, "0", "1");

	(void)state;
	assert_true(remote / local >= 0.60);
	assert_true(remote / local <= 0.75);
}

/* Calibration: a cpu-bound guest does not care where its memory is. */
static void test_calibration_cpu(void **state)
{
	const char *host4 = "[host]\nnodes = 4\ncpus = 16\nmemory = 64GiB\n"
		"distances = 10 21 31 21, 21 10 21 31, 31 21 10 21, 21 31 21 10\n";
	double local = speed_of(HOST2, "cpu", 1, "0", "0");
	double remote = speed_of(HOST2, "cpu", 1, "0", "1");
	double far = speed_of(host4, "cpu", 1, "0", "2");
	double near = speed_of(host4, "cpu", 1, "0", "1");

	(void)state;
	assert_true(remote / local > 0.95);
	assert_true(far / local > 0.9);
	/* two hops cost more than one */
	assert_true(far < near);
}

/* Calibration: a bandwidth-bound guest saturating a node gains from two. */
static void test_calibration_bandwidth(void **state)
{
	double one = speed_of(HOST2, "bandwidth", 16, "0", "0");
	double two = speed_of(HOST2, "bandwidth", 16, "0", "0-1");
	struct sim *s;

	(void)state;
	assert_true(two / one > 1.2);
	/* and the saturated node serves no more than it can */
	s = load(HOST2 "[guest.g]\nworkload = bandwidth\nvcpus = 16\n"
		 "memory = 8GiB\nvcpu_nodes = 0\nmem_nodes = 0\n");
	sim_step(s, 3);
	assert_true(sim_node_bw_used(s, 0) > 0.7 * sim_node_bw_max(s, 0));
	assert_true(sim_node_bw_used(s, 0) < sim_node_bw_max(s, 0));
	assert_true(sim_node_bw_used(s, 1) == 0);
	sim_free(s);
}

/* Moving remote vCPUs next to their memory: latency gains, cpu barely. */
static void test_move_home(void **state)
{
	struct sim *s = load(HOST2
		"[guest.lat]\nworkload = latency\nvcpus = 2\nmemory = 4GiB\n"
		"vcpu_nodes = 1\nmem_nodes = 0\n"
		"[guest.cpu]\nworkload = cpu\nvcpus = 2\nmemory = 4GiB\n"
		"vcpu_nodes = 1\nmem_nodes = 0\n");
	int lat = find(s, "lat"), cpu = find(s, "cpu");
	double lat0, cpu0;

	(void)state;
	sim_step(s, 10);
	assert_int_equal(sim_vcpu_node(s, lat, 0), 1);
	assert_true(sim_guest_remote_ratio(s, lat) > 0.999);
	lat0 = sim_guest_ips(s, lat);
	cpu0 = sim_guest_ips(s, cpu);
	for (int v = 0; v < 2; v++) {
		assert_int_equal(sim_set_affinity(s, lat, v, 1), 0);
		assert_int_equal(sim_set_affinity(s, cpu, v, 1), 0);
	}
	/* like sched_setaffinity: a vCPU off its new set moves at once; a
	 * wider set afterwards leaves it where it is */
	assert_int_equal(sim_vcpu_node(s, lat, 0), 0);
	assert_int_equal(sim_set_affinity(s, lat, 0, 3), 0);
	sim_step(s, 1);
	assert_int_equal(sim_vcpu_node(s, lat, 0), 0);
	assert_int_equal(sim_vcpu_node(s, lat, 1), 0);
	assert_true(sim_guest_remote_ratio(s, lat) < 0.001);
	assert_true(sim_guest_ips(s, lat) / lat0 > 1.3);
	assert_true(sim_guest_ips(s, cpu) / cpu0 > 1.0);
	assert_true(sim_guest_ips(s, cpu) / cpu0 < 1.05);
	/* bad requests change nothing */
	assert_int_equal(sim_set_affinity(s, lat, 2, 1), -EINVAL);
	assert_int_equal(sim_set_affinity(s, lat, 0, 4), -EINVAL);
	assert_int_equal(sim_set_affinity(s, lat, 0, 0), -EINVAL);
	sim_free(s);
}

/* The counters a sampler reads add up to what the model did. */
static void test_counters(void **state)
{
	struct sim *s = load(HOST2
		"[guest.g]\nworkload = latency\nvcpus = 1\nmemory = 1GiB\n"
		"vcpu_nodes = 1\nmem_nodes = 0\n");
	struct vn_counts c;
	double ips;

	(void)state;
	sim_step(s, 10);
	ips = sim_vcpu_ips(s, 0, 0);
	assert_int_equal(sim_read_counts(s, 0, 0, &c), 0);
	assert_true(c.valid);
	assert_int_equal(c.source, VNUMAD_SRC_SIM);
	assert_int_equal(c.node, 1);
	assert_true(fabs(c.elapsed - 10) < 1e-9);
	assert_true(fabs(c.cpu_time - 10) < 1e-9);
	assert_true(fabs((double)c.cycles - 2.5e10) <= 1);
	assert_true(fabs((double)c.instructions - ips * 10) <= 1);
	assert_true(c.local_dram == 0);
	/* demand reads: the 5% its prefetchers bring are not counted */
	assert_true(fabs((double)c.remote_dram - c.instructions * 15e-3 * 0.95) <= 2);
	/* nothing happened since: no reading */
	assert_int_equal(sim_read_counts(s, 0, 0, &c), 0);
	assert_false(c.valid);
	sim_step(s, 1);
	assert_int_equal(sim_read_counts(s, 0, 0, &c), 0);
	assert_true(c.valid);
	assert_true(fabs(c.elapsed - 1) < 1e-9);
	sim_free(s);
}

/*
 * The counters see what real event tables see: demand reads by default
 * (not what the prefetchers bring), every fill, or everything; and, where
 * the scenario says so, nothing of the other clusters of a socket or of a
 * memory-only node.
 */
static void test_counter_coverage(void **state)
{
	static const char *const kind[] = { "", "counters = fills\n",
		"counters = exact\n", "counters = exact\nuncounted = snc\n",
		"counters = exact\nuncounted = memory-only, snc\n" };
	double seen[5];

	(void)state;
	for (int k = 0; k < 5; k++) {
		char text[1024];
		struct vn_counts c;
		struct sim *s;
		double acc;

		/* two sockets of two nodes (SLIT 11 within); node 4 memory only */
		snprintf(text, sizeof(text), "[host]\nnodes = 5\ncpus = 8\nmemory = 32GiB\n"
			 "distances = 10 11 21 21 30, 11 10 21 21 30, 21 21 10 11 30, "
			 "21 21 11 10 30, 30 30 30 30 10\n%s[node.4]\ncpus = 0\n"
			 "[guest.g]\nworkload = bandwidth\nvcpus = 1\nmemory = 8GiB\n"
			 "vcpu_nodes = 0\nmem_nodes = 0:25%%, 1:25%%, 2:25%%, 4:25%%\n", kind[k]);
		s = load(text);
		sim_step(s, 10);
		assert_int_equal(sim_read_counts(s, 0, 0, &c), 0);
		acc = (double)c.instructions * 40e-3;
		seen[k] = (double)(c.local_dram + c.remote_dram) / acc;
		/* the local share of what is counted is a quarter, when all is */
		if (k < 3)
			assert_true(fabs((double)c.local_dram / (double)(c.local_dram +
				    c.remote_dram) - 0.25) < 1e-3);
		sim_free(s);
	}
	assert_true(fabs(seen[0] - 0.25) < 1e-3);	/* streaming: 75% prefetched */
	assert_true(fabs(seen[1] - 1) < 1e-3);
	assert_true(fabs(seen[2] - 1) < 1e-3);
	assert_true(fabs(seen[3] - 0.75) < 1e-3);	/* node 1 is node 0's socket */
	assert_true(fabs(seen[4] - 0.5) < 1e-3);	/* and node 4 is memory only */
	expect_error(HOST2 "counters = all\n[guest.g]\nvcpus = 1\nmemory = 1GiB\n",
		     "[host] counters");
	expect_error(HOST2 "uncounted = cxl\n[guest.g]\nvcpus = 1\nmemory = 1GiB\n",
		     "uncounted: 'cxl': expected none, or snc and/or memory-only");
	expect_error(HOST2 "bandwidth_info = stream\n[guest.g]\nvcpus = 1\nmemory = 1GiB\n",
		     "[host] bandwidth_info");
}

/* An oversubscribed node time-shares; a free mask spreads over nodes. */
static void test_scheduler(void **state)
{
	struct sim *s = load("[host]\nnodes = 2\ncpus = 2\nmemory = 8GiB\n"
		"[guest.busy]\nworkload = cpu\nvcpus = 4\nmemory = 1GiB\n"
		"vcpu_nodes = 0\n"
		"[guest.free]\nworkload = cpu\nvcpus = 2\nmemory = 1GiB\n"
		"start = 1s\n");
	struct vn_counts c;
	int busy = find(s, "busy"), fr = find(s, "free");

	(void)state;
	sim_step(s, 1);
	assert_int_equal(sim_read_counts(s, busy, 0, &c), 0);
	assert_true(fabs(c.cpu_time - 0.5) < 1e-9);
	assert_true(fabs((double)c.cycles - 1.25e9) <= 1);
	assert_true(fabs(sim_node_cpu_load(s, 0) - 2.0) < 1e-9);
	/* the newcomer avoids the busy node: the scheduler balances load */
	sim_step(s, 1);
	assert_int_equal(sim_vcpu_node(s, fr, 0), 1);
	assert_int_equal(sim_vcpu_node(s, fr, 1), 1);
	/* and its memory followed its vCPUs at first touch */
	assert_int_equal(sim_guest_mem(s, fr, 1), GiB);
	sim_free(s);
}

/* CFS-like balancing: a crowded node sheds a vCPU that may go, once. */
static void test_balance(void **state)
{
	struct sim *s = load("[host]\nnodes = 2\ncpus = 4\nmemory = 8GiB\n"
		"[guest.a]\nworkload = cpu\nvcpus = 4\nmemory = 1GiB\n"
		"[guest.b]\nworkload = cpu\nvcpus = 4\nmemory = 1GiB\n"
		"vcpu_nodes = 1\nstart = 1s\n");
	int a = find(s, "a");

	(void)state;
	/* placed least-loaded first: two and two */
	assert_int_equal(sim_vcpu_node(s, a, 0), 0);
	assert_int_equal(sim_vcpu_node(s, a, 1), 1);
	assert_int_equal(sim_vcpu_node(s, a, 2), 0);
	assert_int_equal(sim_vcpu_node(s, a, 3), 1);
	/* b crowds node 1 (6 on 4 CPUs): one of a's moves to node 0, not two */
	for (int t = 0; t < 5; t++) {
		int on0 = 0;

		sim_step(s, 1);
		for (int v = 0; v < 4; v++)
			on0 += sim_vcpu_node(s, a, v) == 0;
		assert_int_equal(on0, t == 0 ? 2 : 3);
	}
	assert_true(fabs(sim_node_cpu_load(s, 0) - 0.75) < 1e-9);
	assert_true(fabs(sim_node_cpu_load(s, 1) - 1.25) < 1e-9);
	sim_free(s);
}

/* Memory never appears or vanishes: not in steps, not in migrations. */
static void test_memory_conserved(void **state)
{
	struct sim *s = load("[host]\nnodes = 4\ncpus = 8\nmemory = 16GiB\n"
		"[guest.a]\nvcpus = 4\nmemory = 6GiB\nmem_nodes = 0:50%, 1:25%, 3:25%\n"
		"[guest.b]\nvcpus = 2\nmemory = 3GiB\nvnodes = 2\nhot = 30%\n"
		"[guest.c]\nvcpus = 1\nmemory = 1000MiB\n");
	struct vn_migration m[6];
	uint64_t total = sim_mem_used(s);
	int a = find(s, "a"), b = find(s, "b"), c = find(s, "c");

	(void)state;
	assert_int_equal(total, 6 * GiB + 3 * GiB + 1000 * MiB);
	assert_int_equal(sim_guest_mem(s, a, 0), 3 * GiB);
	assert_int_equal(sim_guest_mem(s, a, 1), 1536 * MiB);
	assert_int_equal(sim_guest_mem(s, a, 2), 0);
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 6; i++) {
		m[i].from = i % 4;
		m[i].to = (i + 1) % 4;
		m[i].bytes = i == 0 ? 0 : 700 * MiB + 1;
		assert_int_equal(sim_migrate(s, i % 3 == 0 ? a : i % 3 == 1 ? b : c,
					     &m[i], 300.0 * MiB), 0);
	}
	for (int t = 0; t < 20; t++) {
		uint64_t nodes = 0, guests = 0;

		sim_step(s, 0.7);
		for (int n = 0; n < 4; n++)
			nodes += sim_node_mem_used(s, n);
		for (int g = 0; g < 3; g++)
			guests += sim_guest_mem_total(s, g);
		assert_int_equal(sim_mem_used(s), total);
		assert_int_equal(nodes, total);
		assert_int_equal(guests, total);
	}
	assert_int_equal(sim_guest_mem_total(s, a), 6 * GiB);
	assert_int_equal(sim_guest_mem_total(s, b), 3 * GiB);
	assert_int_equal(sim_guest_mem_total(s, c), 1000 * MiB);
	for (int i = 0; i < 6; i++)
		assert_int_not_equal(m[i].state, VN_MIG_RUNNING);
	sim_free(s);
}

/* Migration runs at its rate, in whole pages, and loads both nodes. */
static void test_migration_rate(void **state)
{
	struct sim *s = load(HOST2
		"[guest.g]\nworkload = idle\nvcpus = 1\nmemory = 8GiB\n"
		"vcpu_nodes = 0\nmem_nodes = 0\n");
	struct vn_migration m = { .from = 0, .to = 1, .bytes = 4 * GiB };

	(void)state;
	assert_int_equal(sim_migrate(s, 0, &m, 1.0 * GiB), 0);
	assert_int_equal(m.state, VN_MIG_RUNNING);
	sim_step(s, 1);
	assert_int_equal(m.done, GiB);
	assert_int_equal(m.state, VN_MIG_RUNNING);
	assert_int_equal(sim_guest_mem(s, 0, 1), GiB);
	/* the copy reads node 0 and writes node 1 at the migration rate */
	assert_true(sim_node_bw_used(s, 1) >= 1.0 * GiB);
	assert_true(sim_node_bw_used(s, 0) >= 1.0 * GiB);
	sim_step(s, 1.5);
	assert_int_equal(m.done, 2560 * MiB);
	sim_step(s, 1.5);
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(m.done, 4 * GiB);
	assert_int_equal(m.failed, 0);
	assert_int_equal(m.error, 0);
	assert_true(fabs(m.finished - 4.0) < 1e-9);
	assert_int_equal(sim_guest_mem(s, 0, 0), 4 * GiB);
	assert_int_equal(sim_guest_mem(s, 0, 1), 4 * GiB);
	sim_step(s, 1);
	assert_true(sim_node_bw_used(s, 1) < 0.01 * GiB);

	/* bytes = 0 moves everything on the source */
	memset(&m, 0, sizeof(m));
	m.from = 0;
	m.to = 1;
	assert_int_equal(sim_migrate(s, 0, &m, 2.0 * GiB), 0);
	sim_step(s, 3);
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(m.done, 4 * GiB);
	assert_int_equal(sim_guest_mem(s, 0, 0), 0);

	/* cancelled half way: it stops where it was */
	m = (struct vn_migration){ .from = 1, .to = 0, .bytes = 4 * GiB };
	assert_int_equal(sim_migrate(s, 0, &m, 1.0 * GiB), 0);
	sim_step(s, 2);
	sim_cancel(s, &m);
	assert_int_equal(m.state, VN_MIG_CANCELLED);
	assert_int_equal(m.done, 2 * GiB);
	sim_step(s, 2);
	assert_int_equal(sim_guest_mem(s, 0, 0), 2 * GiB);

	/* refused outright */
	m = (struct vn_migration){ .from = 1, .to = 1 };
	assert_int_equal(sim_migrate(s, 0, &m, 1.0 * GiB), -EINVAL);
	m = (struct vn_migration){ .from = 1, .to = 2 };
	assert_int_equal(sim_migrate(s, 0, &m, 1.0 * GiB), -EINVAL);
	sim_free(s);
}

/*
 * What a migration costs beyond bandwidth: the guest refaults each page
 * moved, and the mover's copy takes CPU where the scheduler puts it.
 */
static void test_migration_cost(void **state)
{
	struct sim *s;
	struct vn_migration m = { .from = 0, .to = 1, .bytes = 4 * GiB };
	double before, during, a, b;

	(void)state;
	/* small pages, a copy that costs nothing: the refaults alone */
	s = load("[host]\nnodes = 2\ncpus = 4\nmemory = 64GiB\npage_size = 4KiB\n"
		 "numa_balancing_copy_rate = 1TB/s\n"
		 "[guest.g]\nworkload = cpu\nvcpus = 1\nmemory = 8GiB\n"
		 "vcpu_nodes = 0\nmem_nodes = 0\n");
	sim_step(s, 1);
	before = sim_guest_ips(s, 0);
	assert_int_equal(sim_migrate(s, 0, &m, 1.0 * GiB), 0);
	sim_step(s, 1);
	during = sim_guest_ips(s, 0);
	/* 262,144 pages a second at 2 us each: about half of its CPU */
	assert_true(during / before > 0.40 && during / before < 0.55);
	sim_step(s, 4);
	assert_int_equal(m.state, VN_MIG_DONE);
	sim_step(s, 1);
	assert_true(sim_guest_ips(s, 0) / before > 0.95);
	sim_free(s);

	/* huge pages, no refault cost: the mover's copy on a full host */
	s = load("[host]\nnodes = 2\ncpus = 1\nmemory = 64GiB\n"
		 "numa_balancing_fault_cost = 0\n"
		 "[guest.a]\nworkload = cpu\nvcpus = 1\nmemory = 8GiB\n"
		 "vcpu_nodes = 0\nmem_nodes = 0\n"
		 "[guest.b]\nworkload = cpu\nvcpus = 1\nmemory = 8GiB\n"
		 "vcpu_nodes = 1\nmem_nodes = 1\n");
	sim_step(s, 1);
	a = sim_guest_ips(s, 0);
	b = sim_guest_ips(s, 1);
	m = (struct vn_migration){ .from = 0, .to = 1, .bytes = 4 * GiB };
	assert_int_equal(sim_migrate(s, 0, &m, 2e9), 0);
	sim_step(s, 1);
	/*
	 * half a CPU of copying on the target node, ahead of its vCPU (the
	 * mover's nice -10): b there gets the other half, a is untouched
	 */
	assert_true(sim_guest_ips(s, 0) / a > 0.95);
	during = sim_guest_ips(s, 1) / b;
	assert_true(during > 0.45 && during < 0.55);
	sim_free(s);
}

/* A full target node fails the migration with ENOMEM after what fit. */
static void test_migration_enomem(void **state)
{
	struct sim *s = load("[host]\nnodes = 2\ncpus = 4\nmemory = 4GiB\n"
		"[guest.full]\nworkload = idle\nvcpus = 1\nmemory = 3GiB\n"
		"vcpu_nodes = 1\nmem_nodes = 1\n"
		"[guest.g]\nworkload = idle\nvcpus = 1\nmemory = 3GiB\n"
		"vcpu_nodes = 0\nmem_nodes = 0\n"
		"[guest.fixed]\nvcpus = 1\nmemory = 512MiB\nmemmove = no\n"
		"vcpu_nodes = 1\n");
	struct vn_migration m = { .from = 0, .to = 1 };
	int g = find(s, "g");

	(void)state;
	assert_int_equal(sim_node_mem_free(s, 1), GiB - 512 * MiB);
	assert_int_equal(sim_migrate(s, g, &m, 1.0 * GiB), 0);
	sim_step(s, 1);
	assert_int_equal(m.state, VN_MIG_FAILED);
	assert_int_equal(m.error, ENOMEM);
	assert_int_equal(m.done, 512 * MiB);
	assert_int_equal(m.failed, 3 * GiB - 512 * MiB);
	assert_int_equal(sim_node_mem_free(s, 1), 0);
	assert_int_equal(sim_guest_mem_total(s, g), 3 * GiB);
	/* a guest whose memory cannot move says so at once */
	m = (struct vn_migration){ .from = 0, .to = 1 };
	assert_int_equal(sim_migrate(s, find(s, "fixed"), &m, 1.0 * GiB),
			 -EOPNOTSUPP);
	sim_free(s);
}

/* Runs a noisy scenario and keeps every counter it reads. */
static void run_counts(uint64_t seed, bool reseed, struct vn_counts *out,
		       int steps)
{
	struct sim *s = load(HOST2 "noise = 5%\n"
		"[guest.a]\nworkload = latency\nvcpus = 3\nmemory = 4GiB\n"
		"vcpu_nodes = 1\nmem_nodes = 0\n"
		"[guest.b]\nworkload = bandwidth\nvcpus = 4\nmemory = 4GiB\n"
		"phases = 0s:bandwidth, 7s:mixed\n"
		"[guest.c]\nvcpus = 1\nmemory = 2GiB\nstart = 3s\n");
	struct vn_migration m = { .from = 0, .to = 1, .bytes = GiB };
	int k = 0;

	if (reseed)
		sim_seed(s, seed);
	assert_int_equal(sim_migrate(s, 0, &m, 100.0 * MiB), 0);
	for (int t = 0; t < steps; t++) {
		sim_step(s, 1);
		for (int g = 0; g < 3; g++)
			for (int v = 0; v < sim_guest_vcpus(s, g); v++)
				sim_read_counts(s, g, v, &out[k++]);
	}
	sim_free(s);
}

static bool same_counts(const struct vn_counts *a, const struct vn_counts *b)
{
	return a->cycles == b->cycles && a->instructions == b->instructions &&
	       a->local_dram == b->local_dram && a->remote_dram == b->remote_dram &&
	       memcmp(&a->cpu_time, &b->cpu_time, sizeof(double)) == 0 &&
	       memcmp(&a->elapsed, &b->elapsed, sizeof(double)) == 0 &&
	       a->node == b->node && a->valid == b->valid;
}

/* Same scenario and seed: bit-identical counters; another seed: not. */
static void test_deterministic(void **state)
{
	enum { STEPS = 20, N = STEPS * 8 };
	struct vn_counts *a = calloc(N, sizeof(*a));
	struct vn_counts *b = calloc(N, sizeof(*b));
	struct vn_counts *c = calloc(N, sizeof(*c));
	int differ = 0;

	(void)state;
	run_counts(0, false, a, STEPS);
	run_counts(0, false, b, STEPS);
	run_counts(2, true, c, STEPS);
	for (int i = 0; i < N; i++) {
		assert_true(same_counts(&a[i], &b[i]));
		if (!same_counts(&a[i], &c[i]))
			differ++;
	}
	/* the noise differs nearly everywhere; what it does not touch agrees */
	assert_true(differ > N / 2);
	for (int i = 0; i < N; i++) {
		assert_int_equal(a[i].valid, c[i].valid);
		assert_true(a[i].elapsed == c[i].elapsed);
	}
	free(a);
	free(b);
	free(c);
}

/* Guests arrive and leave at their times, even between ticks. */
static void test_arrival_departure(void **state)
{
	struct sim *s = load("[host]\nnodes = 2\ncpus = 4\nmemory = 8GiB\n"
		"[guest.early]\nvcpus = 1\nmemory = 1GiB\n"
		"[guest.late]\nvcpus = 2\nmemory = 2GiB\nstart = 10.5s\n"
		"stop = 20s\n"
		"[guest.never]\nvcpus = 1\nmemory = 1GiB\nstart = 30s\n"
		"stop = 30.2s\n");
	int late = find(s, "late"), never = find(s, "never");
	struct vn_counts c;

	(void)state;
	assert_true(sim_guest_alive(s, find(s, "early")));
	assert_false(sim_guest_alive(s, late));
	assert_int_equal(sim_mem_used(s), GiB);
	sim_step(s, 10);
	assert_false(sim_guest_alive(s, late));
	assert_int_equal(sim_read_counts(s, late, 0, &c), -ESRCH);
	assert_false(c.valid);
	sim_step(s, 1);
	assert_true(sim_guest_alive(s, late));
	assert_int_equal(sim_mem_used(s), 3 * GiB);
	assert_int_equal(sim_read_counts(s, late, 0, &c), 0);
	assert_true(fabs(c.elapsed - 0.5) < 1e-9);
	sim_step(s, 8.5);
	assert_true(fabs(sim_now(s) - 19.5) < 1e-9);
	assert_true(sim_guest_alive(s, late));
	sim_step(s, 1);
	assert_false(sim_guest_alive(s, late));
	assert_int_equal(sim_mem_used(s), GiB);
	assert_int_equal(sim_read_counts(s, late, 0, &c), -ESRCH);
	/* a guest shorter than a tick still comes and goes */
	sim_step(s, 9.6);
	assert_true(sim_guest_alive(s, never));
	sim_step(s, 1);
	assert_false(sim_guest_alive(s, never));
	assert_int_equal(sim_mem_used(s), GiB);
	sim_free(s);
}

/* A full node spills to the nearest one; the hot set lands first. */
static void test_spill(void **state)
{
	struct sim *s = load("[host]\nnodes = 3\ncpus = 4\nmemory = 4GiB\n"
		"distances = 10 21 31, 21 10 21, 31 21 10\n"
		"[guest.big]\nvcpus = 1\nmemory = 3GiB\nmem_nodes = 0\n"
		"vcpu_nodes = 0\n"
		"[guest.g]\nworkload = latency\nvcpus = 1\nmemory = 2GiB\n"
		"hot = 50%\nvcpu_nodes = 0\nmem_nodes = 0\n");
	struct vn_migration m;
	int g = find(s, "g");

	(void)state;
	assert_int_equal(sim_guest_mem(s, g, 0), GiB);
	assert_int_equal(sim_guest_mem(s, g, 1), GiB);	/* nearer than 2 */
	assert_int_equal(sim_guest_mem(s, g, 2), 0);
	sim_step(s, 1);
	/* its hot half was touched first and fit on node 0 */
	assert_true(sim_guest_remote_ratio(s, g) < 1e-9);
	/* moving node 0's pages away takes the hot ones along */
	m = (struct vn_migration){ .from = 0, .to = 2 };
	assert_int_equal(sim_migrate(s, g, &m, 1.0 * GiB), 0);
	sim_step(s, 1);
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(sim_guest_mem(s, g, 2), GiB);
	assert_true(sim_guest_remote_ratio(s, g) > 1 - 1e-9);
	sim_free(s);
}

/* A guest that finds no memory does not start, and says why. */
static void test_host_full(void **state)
{
	struct sim *s = load("[host]\nnodes = 1\ncpus = 4\nmemory = 4GiB\n"
		"[guest.a]\nvcpus = 1\nmemory = 3GiB\n"
		"[guest.b]\nvcpus = 1\nmemory = 2GiB\nstart = 1s\n");

	(void)state;
	sim_step(s, 2);
	assert_false(sim_guest_alive(s, find(s, "b")));
	assert_int_equal(sim_mem_used(s), 3 * GiB);
	sim_free(s);
}

/* Phases change the workload at their times. */
static void test_phases(void **state)
{
	struct sim *s = load(HOST2
		"[workload.chase]\ntype = latency\nmpki = 30\n"
		"[guest.g]\nvcpus = 1\nmemory = 1GiB\nworkload = cpu\n"
		"phases = 5s:latency, 8s:chase\n");
	double cpu, lat, chase;

	(void)state;
	sim_step(s, 4.5);
	cpu = sim_guest_ips(s, 0);
	sim_step(s, 1);
	lat = sim_guest_ips(s, 0);
	sim_step(s, 3);
	chase = sim_guest_ips(s, 0);
	assert_true(lat < cpu / 3);
	assert_true(chase < lat * 0.7);
	sim_free(s);
}

/* vNUMA: vnodes bound to host nodes, each vnode mostly local. */
static void test_vnuma(void **state)
{
	struct sim *s = load(HOST2
		"[guest.g]\nworkload = latency\nvcpus = 4\nmemory = 4GiB\n"
		"vnodes = 2\nvnode_nodes = 0, 1\n");

	(void)state;
	sim_step(s, 1);
	assert_int_equal(sim_vcpu_node(s, 0, 0), 0);
	assert_int_equal(sim_vcpu_node(s, 0, 1), 0);
	assert_int_equal(sim_vcpu_node(s, 0, 2), 1);
	assert_int_equal(sim_vcpu_node(s, 0, 3), 1);
	assert_int_equal(sim_vcpu_allowed(s, 0, 3), 2);
	assert_int_equal(sim_guest_mem(s, 0, 0), 2 * GiB);
	assert_int_equal(sim_guest_mem(s, 0, 1), 2 * GiB);
	/* vnode_locality defaults to 90% */
	assert_true(fabs(sim_guest_remote_ratio(s, 0) - 0.1) < 1e-9);
	sim_free(s);
}

/* Pinned guests keep their affinity. */
static void test_pinned(void **state)
{
	struct sim *s = load(HOST2
		"[guest.p]\nvcpus = 1\nmemory = 1GiB\nvcpu_nodes = 1\npinned = yes\n"
		"optout = yes\n");

	(void)state;
	assert_int_equal(sim_guest_flags(s, 0),
			 VNUMAD_GUEST_PINNED | VNUMAD_GUEST_OPTED_OUT);
	assert_int_equal(sim_set_affinity(s, 0, 0, 1), -EPERM);
	sim_step(s, 1);
	assert_int_equal(sim_vcpu_node(s, 0, 0), 1);
	sim_free(s);
	/* pinned = vcpus: the vCPUs stay, the memory may move */
	s = load(HOST2 "[guest.p]\nvcpus = 1\nmemory = 1GiB\nvcpu_nodes = 1\n"
		 "mem_nodes = 0\npinned = vcpus\n");
	assert_int_equal(sim_guest_flags(s, 0),
			 VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE);
	assert_int_equal(sim_set_affinity(s, 0, 0, 1), -EPERM);
	{
		struct vn_migration m = { .from = 0, .to = 1 };

		assert_int_equal(sim_migrate(s, 0, &m, 1e9), 0);
		for (int i = 0; i < 10 && m.state == VN_MIG_RUNNING; i++)
			sim_step(s, 1);
		assert_int_equal(m.state, VN_MIG_DONE);
		assert_int_equal(sim_guest_mem(s, 0, 1), GiB);
	}
	sim_free(s);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = 1GiB\ncolour = red\n",
		     "t.ini:8: [guest.a] colour: unknown key");
	expect_error("[host]\nnodes = 65\ncpus = 4\nmemory = 8GiB\n",
		     "t.ini:2: [host] nodes: '65' is out of range (1 to 64)");
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = lots\n",
		     "t.ini:7: [guest.a] memory: 'lots': not a number");
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = 1GiB\nvcpu_nodes = 2\n",
		     "t.ini:8: [guest.a] vcpu_nodes: the host has nodes 0 to 1");
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = 1GiB\n"
		     "mem_nodes = 0:50%, 1:40%\n",
		     "t.ini:8: [guest.a] mem_nodes: the shares add up to 90%, not 100%");
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = 1GiB\n"
		     "phases = 0s:cpu, 10s:nosuch\n",
		     "t.ini:8: [guest.a] phases: 'nosuch': no such workload");
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = 1GiB\n"
		     "phases = 10s:cpu, 5s:latency\n",
		     "t.ini:8: [guest.a] phases: '5s': phase times must go up");
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = 1GiB\nstart = 5s\n"
		     "stop = 2s\n", "t.ini:9: [guest.a] stop: must come after start");
	expect_error(HOST2 "[guest.a]\nmemory = 1GiB\n",
		     "t.ini:5: [guest.a] vcpus: required key missing");
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = 1GiB\n[gest.b]\n",
		     "t.ini:8: unknown section [gest.b]");
	expect_error("[sim]\nseed = 1\n[guest.a]\nvcpus = 1\nmemory = 1GiB\n",
		     "t.ini: missing section [host]");
	expect_error(HOST2, "t.ini: no [guest.NAME] section");
	expect_error("[host]\nnodes = 2\nmemory = 8GiB\n[guest.a]\nvcpus = 1\n"
		     "memory = 1GiB\n", "t.ini:1: [host] cpus: required key missing");
	expect_error("[host]\nnodes = 2\ncpus = 4\nmemory = 8GiB\n"
		     "distances = 10 21, 21\n[guest.a]\nvcpus = 1\nmemory = 1GiB\n",
		     "t.ini:5: [host] distances: row 1 has 1 entries, expected 2");
	expect_error("[host]\nnodes = 2\ncpus = 4\nmemory = 8GiB\n"
		     "distances = 10 21, 21 12, 4\n",
		     "t.ini:5: [host] distances: expected 2 rows");
	expect_error("[host]\nnodes = 2\ncpus = 4\nmemory = 8GiB\n"
		     "latency = 10:90ns, 21:80ns\n",
		     "t.ini:5: [host] latency: points must go up");
	expect_error(HOST2 "[node.2]\ncpus = 4\n[guest.a]\nvcpus = 1\nmemory = 1GiB\n",
		     "t.ini:5: [node.2]: no such node: nodes are 0 to 1");
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = 1GiB\n"
		     "[guest.b]\nname = a\nvcpus = 1\nmemory = 1GiB\n",
		     "t.ini:8: [guest.b]: guest name 'a' is also used by [guest.a]");
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = 200GiB\n",
		     "t.ini:7: [guest.a] memory: more than the host has for guests");
	expect_error(HOST2 "[workload.x]\nmpki = 3\n[guest.a]\nvcpus = 1\n"
		     "memory = 1GiB\nworkload = x\n",
		     "t.ini:5: [workload.x] type: required key missing");
	expect_error(HOST2 "[guest.a]\nvcpus = 2\nmemory = 1GiB\nvnodes = 2\n"
		     "vnode_nodes = 0\n",
		     "t.ini:9: [guest.a] vnode_nodes: '0': expected one host node per vnode (2)");
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = 1GiB\npinned = maybe\n",
		     "t.ini:8: [guest.a] pinned: 'maybe': not a boolean");
}

/* An interconnect limit slows remote traffic and caps it near the limit. */
static void test_link_bandwidth(void **state)
{
	const char *lim = "[host]\nnodes = 2\ncpus = 16\nmemory = 64GiB\n"
		"link_bandwidth = 8GB/s\ncounters = exact\n";
	double free_ = speed_of(HOST2, "bandwidth", 4, "0", "1");
	double capped = speed_of(lim, "bandwidth", 4, "0", "1");
	double local = speed_of(lim, "bandwidth", 4, "0", "0");
	struct vn_counts c;
	double bytes = 0;
	char text[512];
	struct sim *s;

	(void)state;
	assert_true(capped < 0.8 * free_);
	/* local traffic does not cross the link */
	assert_true(fabs(local - speed_of(HOST2, "bandwidth", 4, "0", "0")) < 1e-6 * local);
	snprintf(text, sizeof(text), "%s[guest.g]\nworkload = bandwidth\n"
		 "vcpus = 4\nmemory = 8GiB\nvcpu_nodes = 0\nmem_nodes = 1\n", lim);
	s = load(text);
	sim_step(s, 10);
	for (int v = 0; v < 4; v++) {
		assert_int_equal(sim_read_counts(s, 0, v, &c), 0);
		bytes += (double)c.remote_dram * 64 / c.elapsed;
	}
	assert_true(bytes < 8e9);
	assert_true(bytes > 0.6 * 8e9);
	sim_free(s);
}

/* [node.N] changes one node; reserved memory is not for guests. */
static void test_node_overrides(void **state)
{
	struct sim *s = load(HOST2 "reserved = 1GiB\n"
		"[node.1]\ncpus = 2\nmemory = 8GiB\nbandwidth = 10GB/s\n"
		"[guest.a]\nvcpus = 1\nmemory = 2GiB\nvcpu_nodes = 1\n");

	(void)state;
	assert_int_equal(sim_node_cpus(s, 0), 16);
	assert_int_equal(sim_node_cpus(s, 1), 2);
	assert_int_equal(sim_node_mem_total(s, 1), 8 * GiB);
	assert_true(sim_node_bw_max(s, 1) == 10e9);
	assert_true(sim_node_bw_max(s, 0) == 40e9);
	assert_int_equal(sim_node_mem_free(s, 1), 5 * GiB);
	assert_int_equal(sim_node_mem_free(s, 0), 63 * GiB);
	assert_int_equal(sim_distance(s, 1, 0), 21);
	sim_free(s);
}

/*
 * A node with memory and no CPUs (a CXL expander, HBM in flat mode): memory
 * goes there, vCPUs never do.
 */
static void test_memory_only_node(void **state)
{
	struct sim *s = load("[host]\nnodes = 3\ncpus = 8\nmemory = 32GiB\n"
		"[node.2]\ncpus = 0\nmemory = 64GiB\n"
		"[guest.a]\nworkload = latency\nvcpus = 12\nmemory = 8GiB\n"
		"[guest.b]\nvcpus = 2\nmemory = 8GiB\nvcpu_nodes = 0\nmem_nodes = 2\n");
	struct vn_migration m = { .from = 2, .to = 0, .bytes = GiB };
	int a = find(s, "a"), b = find(s, "b");

	(void)state;
	sim_step(s, 1);
	assert_int_equal(sim_node_cpus(s, 2), 0);
	for (int v = 0; v < 12; v++)
		assert_true(sim_vcpu_node(s, a, v) == 0 || sim_vcpu_node(s, a, v) == 1);
	assert_true(sim_node_cpu_load(s, 2) == 0);
	/* its memory is all there, and all remote */
	assert_int_equal(sim_guest_mem(s, b, 2), 8 * GiB);
	assert_true(sim_guest_remote_ratio(s, b) > 0.99);
	/* affinity: a CPU-less node adds no CPUs; alone, it is refused */
	assert_int_equal(sim_set_affinity(s, b, 0, 1ULL << 2), -EINVAL);
	assert_int_equal(sim_set_affinity(s, b, 0, 1ULL << 1 | 1ULL << 2), 0);
	assert_int_equal(sim_vcpu_allowed(s, b, 0), 1ULL << 1);
	/* memory moves off it like off any node */
	assert_int_equal(sim_migrate(s, b, &m, 10.0 * GiB), 0);
	sim_step(s, 1);
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(sim_guest_mem(s, b, 0), GiB);
	sim_free(s);
	expect_error("[host]\nnodes = 2\ncpus = 8\nmemory = 32GiB\n[node.1]\ncpus = 0\n"
		     "[guest.g]\nvcpus = 1\nmemory = 1GiB\nvcpu_nodes = 1\n",
		     "vcpu_nodes: node 1 has no CPUs");
	expect_error("[host]\nnodes = 2\ncpus = 8\nmemory = 32GiB\n[node.1]\ncpus = 0\n"
		     "[guest.g]\nvcpus = 2\nmemory = 2GiB\nvnodes = 2\nvnode_nodes = 0, 1\n",
		     "vnode_nodes: node 1 has no CPUs");
	expect_error("[host]\nnodes = 1\ncpus = 0\nmemory = 32GiB\n"
		     "[guest.g]\nvcpus = 1\nmemory = 1GiB\n", "[host] cpus");
	expect_error("[host]\nnodes = 1\ncpus = 8\nmemory = 32GiB\n[node.0]\ncpus = 0\n"
		     "[guest.g]\nvcpus = 1\nmemory = 1GiB\n", "no node has CPUs");
}

/* count = N makes N guests named NAME-0 .. NAME-(N-1). */
static void test_count(void **state)
{
	struct sim *s = load(HOST2 "[guest.web]\nvcpus = 1\nmemory = 1GiB\ncount = 3\n");

	(void)state;
	assert_int_equal(sim_nr_guests(s), 3);
	assert_string_equal(sim_guest_name(s, 2), "web-2");
	assert_int_equal(sim_mem_used(s), 3 * GiB);
	sim_free(s);
}

/*
 * Every value in its range, and the totals past what memory holds: 100,000
 * guests of 1,024 vCPUs allocated until memory ran out. Refused instead,
 * saying which total and its bound.
 */
static void test_totals_bounded(void **state)
{
	static const char big_host[] = "[host]\nnodes = 64\ncpus = 4096\nmemory = 64TiB\n";
	char text[512];
	struct sim *s;

	(void)state;
	snprintf(text, sizeof(text), "%s[guest.g]\ncount = 100000\nvcpus = 1024\n"
		 "memory = 1GiB\nvnodes = 64\n", big_host);
	expect_error(text, "t.ini: 102400000 vCPUs in all (count times vcpus, over every "
		     "guest section), at most 262144");
	/* summed over the sections */
	snprintf(text, sizeof(text), "%s[guest.a]\ncount = 60000\nvcpus = 2\n"
		 "memory = 1GiB\nvnodes = 2\n[guest.b]\ncount = 6000\nvcpus = 2\n"
		 "memory = 1GiB\nvnodes = 2\n", big_host);
	expect_error(text, "t.ini: 66000 guests' vnodes times 64 host nodes make 8448000 "
		     "memory cells in all, at most 8388608");
	/* at the bound itself: loads */
	snprintf(text, sizeof(text), "%s[guest.g]\ncount = 256\nvcpus = 1024\n"
		 "memory = 1GiB\n", big_host);
	s = load(text);
	assert_int_equal(sim_nr_guests(s), 256);
	sim_free(s);
}

/* Every shipped scenario loads, and demo.ini shows what it says it does. */
static void test_shipped_scenarios(void **state)
{
	DIR *d = opendir("sim/scenarios");
	struct dirent *de;
	struct sim *s;
	int n = 0;

	(void)state;
	if (!d)
		skip();	/* not run from the top of the source tree */
	while ((de = readdir(d)) != NULL) {
		struct vn_errors e = { 0 };
		char path[512];
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".ini") != 0)
			continue;
		snprintf(path, sizeof(path), "sim/scenarios/%s", de->d_name);
		s = sim_load(path, &e);
		if (!s)
			errors_print(&e, stderr);
		assert_non_null(s);
		sim_step(s, 30);
		sim_free(s);
		errors_free(&e);
		n++;
	}
	closedir(d);
	assert_true(n >= 5);

	s = sim_load("sim/scenarios/demo.ini", &(struct vn_errors){ 0 });
	assert_non_null(s);
	sim_step(s, 5);
	assert_true(sim_guest_remote_ratio(s, find(s, "web1")) > 0.99);
	assert_true(sim_guest_remote_ratio(s, find(s, "web2")) > 0.99);
	assert_true(sim_guest_remote_ratio(s, find(s, "db")) < 0.01);
	assert_true(sim_guest_remote_ratio(s, find(s, "batch")) < 0.01);
	sim_free(s);
	s = sim_load("sim/scenarios/balanced.ini", &(struct vn_errors){ 0 });
	assert_non_null(s);
	sim_step(s, 5);
	for (int g = 0; g < sim_nr_guests(s); g++)
		assert_true(sim_guest_remote_ratio(s, g) < 0.01);
	for (int n2 = 0; n2 < sim_nr_nodes(s); n2++)
		assert_true(sim_node_cpu_load(s, n2) < 1);
	sim_free(s);
}

/*
 * The backend tells a node's bandwidth only where a real host would know
 * it: nothing by default (libvirt and /proc do not), HMAT's peak (what
 * firmware publishes: STREAM sustains 80% of it), or an operator's figure.
 */
static void test_backend_bandwidth(void **state)
{
	static const char *const info[] = { "", "bandwidth_info = hmat\n",
					     "bandwidth_info = configured\n" };
	static const double want[] = { 0, 50e9, 40e9 };

	(void)state;
	for (int k = 0; k < 3; k++) {
		char path[] = "/tmp/vnumad-test-sim.XXXXXX";
		struct vn_config cfg = { .interval = 1, .scenario = path };
		struct vn_backend b = { .ops = &sim_backend_ops, .cfg = &cfg };
		struct vn_host h;
		int fd = mkstemp(path);
		FILE *f = fdopen(fd, "w");

		assert_non_null(f);
		fprintf(f, "%s%s[guest.g]\nvcpus = 1\nmemory = 1GiB\n", HOST2, info[k]);
		assert_int_equal(fclose(f), 0);
		assert_int_equal(b.ops->open(&b), 0);
		host_init(&h);
		assert_int_equal(b.ops->topology(&b, &h), 0);
		for (int n = 0; n < 2; n++)
			assert_true(fabs(h.node[n].bw_max - want[k]) < 1e3);
		/* the model itself runs at its bandwidth whatever is told */
		assert_true(fabs(sim_node_bw_max(b.priv, 0) - 40e9) < 1);
		host_fini(&h);
		b.ops->close(&b);
		unlink(path);
	}
}

/* The simulated backend and its sampler on a scenario file, as the core holds them. */
struct sim_file {
	char path[32];
	struct vn_config cfg;
	struct vn_backend b;
	struct vn_sampler sp;
	struct vn_host h;
};

/* Writes `text` to a file, opens both on it, and scans the guests once. */
static void sim_file_open(struct sim_file *x, const char *text)
{
	FILE *f;
	int fd;

	snprintf(x->path, sizeof(x->path), "/tmp/vnumad-test-sim.XXXXXX");
	fd = mkstemp(x->path);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	x->cfg = (struct vn_config){ .interval = 1, .scenario = x->path };
	x->b = (struct vn_backend){ .ops = &sim_backend_ops, .cfg = &x->cfg };
	x->sp = (struct vn_sampler){ .ops = &sim_sampler_ops, .cfg = &x->cfg, .backend = &x->b };
	assert_int_equal(x->b.ops->open(&x->b), 0);
	assert_int_equal(x->sp.ops->open(&x->sp), 0);
	host_init(&x->h);
	assert_int_equal(x->b.ops->topology(&x->b, &x->h), 0);
	host_scan_begin(&x->h);
	assert_int_equal(x->b.ops->scan(&x->b, &x->h), 0);
	host_scan_end(&x->h);
}

static void sim_file_close(struct sim_file *x)
{
	for (int i = 0; i < x->h.nr_guests; i++)
		x->b.ops->forget(&x->b, x->h.guests[i]);
	host_fini(&x->h);
	x->sp.ops->close(&x->sp);
	x->b.ops->close(&x->b);
	unlink(x->path);
}

/*
 * A guest's age as a real backend reports it (its process's): `age` for one
 * found running, counted on with the run; an arrival is new when it comes.
 * The core then dates each from when it started, not from when seen.
 */
static void test_backend_age(void **state)
{
	struct sim_file x;
	struct vn_guest *g;

	(void)state;
	sim_file_open(&x, HOST2 "[guest.old]\nvcpus = 1\nmemory = 1GiB\nage = 2h\n"
		      "[guest.new]\nvcpus = 1\nmemory = 1GiB\n"
		      "[guest.late]\nvcpus = 1\nmemory = 1GiB\nstart = 3s\n");
	assert_int_equal(x.h.nr_guests, 2);
	assert_true(fabs(host_find(&x.h, "old")->first_seen - (x.h.now - 7200)) < 1e-6);
	assert_true(host_find(&x.h, "new")->first_seen == x.h.now);
	assert_int_equal(x.b.ops->advance(&x.b, 5), 0);
	x.h.now += 5;
	host_scan_begin(&x.h);
	assert_int_equal(x.b.ops->scan(&x.b, &x.h), 0);
	host_scan_end(&x.h);
	g = host_find(&x.h, "late");
	assert_non_null(g);
	/* seen at 5 s, it came at 3 */
	assert_true(fabs(g->first_seen - 3) < 1e-6);
	/* the old one keeps its birth */
	assert_true(fabs(host_find(&x.h, "old")->first_seen + 7200) < 1e-6);
	sim_file_close(&x);
	expect_error(HOST2 "[guest.a]\nvcpus = 1\nmemory = 1GiB\nstart = 5s\nage = 1h\n",
		     "t.ini:9: [guest.a] age: is for a guest there from the start: "
		     "one that arrives at start = ... is new then");
}

/* The sampler tells each guest NUMA node's memory per node, as numa_maps would. */
static void test_sampler_vnode_memory(void **state)
{
	static struct sim_file x;
	struct vn_guest *g;

	(void)state;
	/* vnode 0 on node 1, vnode 1 on node 0: the scattered case */
	sim_file_open(&x, HOST2 "[guest.v]\nvcpus = 4\nmemory = 8GiB\nvnodes = 2\n"
		      "vnode_nodes = 1, 0\n[guest.flat]\nvcpus = 2\nmemory = 2GiB\n");
	g = host_find(&x.h, "v");
	assert_int_equal(g->nr_vnodes, 2);
	assert_false(g->vnode_mem_valid);
	assert_int_equal(x.sp.ops->memory(&x.sp, g), 0);
	assert_true(g->vnode_mem_valid);
	assert_int_equal(g->vnode_mem[0 * VN_MAX_NODES + 1], 4 * GiB);
	assert_int_equal(g->vnode_mem[0 * VN_MAX_NODES + 0], 0);
	assert_int_equal(g->vnode_mem[1 * VN_MAX_NODES + 0], 4 * GiB);
	/* a guest without vNUMA has no vnodes */
	g = host_find(&x.h, "flat");
	assert_int_equal(g->nr_vnodes, 0);
	assert_null(g->vnode_mem);
	assert_int_equal(x.sp.ops->memory(&x.sp, g), 0);
	sim_file_close(&x);
}

/*
 * counters = none: a host without a PMU, read as the procfs sampler reads
 * one (no instructions; the CPU time split by the share of the guest's
 * memory, as the core last read it, away from the vCPU's node).
 */
static void test_sampler_without_pmu(void **state)
{
	static struct sim_file x;
	struct vn_guest *g;

	(void)state;
	sim_file_open(&x, HOST2 "counters = none\n[guest.g]\nworkload = latency\nvcpus = 2\n"
		      "memory = 4GiB\nvcpu_nodes = 0\nmem_nodes = 0:25%, 1:75%\n");
	g = host_find(&x.h, "g");
	assert_non_null(g);
	assert_int_equal(x.sp.ops->attach(&x.sp, g), 0);
	assert_int_equal(x.sp.ops->memory(&x.sp, g), 0);
	assert_int_equal(x.b.ops->advance(&x.b, 1), 0);
	assert_int_equal(x.sp.ops->read(&x.sp, g), 0);
	for (int i = 0; i < 2; i++) {
		const struct vn_counts *c = &g->vc[i].delta;
		double w = (double)(c->local_dram + c->remote_dram);

		assert_true(c->valid);
		assert_int_equal(c->source, VNUMAD_SRC_ESTIMATE);
		assert_int_equal(c->instructions, 0);
		assert_int_equal(c->cycles, 0);
		assert_int_equal(c->node, 0);
		/* a busy vCPU's second of CPU, 75% of it "remote" */
		assert_true(fabs(w - c->cpu_time * 1e6) <= 1);
		assert_true(c->cpu_time > 0.9);
		assert_true(fabs((double)c->remote_dram / w - 0.75) < 1e-6);
	}
	sim_file_close(&x);
}

/* The backend and sampler as the core drives them, on the built-in demo. */
static void test_backend(void **state)
{
	struct vn_config cfg = { .interval = 1, .migrate_rate = 1.0 * GiB };
	struct vn_backend b = { .ops = &sim_backend_ops, .cfg = &cfg };
	struct vn_sampler sp = { .ops = &sim_sampler_ops, .cfg = &cfg, .backend = &b };
	struct vn_migration m = { .from = 0, .to = 1, .bytes = GiB };
	struct vn_host h;
	struct vn_guest *g;

	(void)state;
	assert_string_equal(sim_backend_ops.name, "sim");
	assert_true(sim_backend_ops.flags & VN_BACKEND_VIRTUAL_TIME);
	assert_string_equal(sim_sampler_ops.name, "sim");
	assert_int_equal(b.ops->open(&b), 0);
	assert_int_equal(sp.ops->open(&sp), 0);
	host_init(&h);
	assert_int_equal(b.ops->advance(&b, 1), 0);
	assert_int_equal(b.ops->topology(&b, &h), 0);
	assert_int_equal(h.nr_nodes, 2);
	assert_int_equal(h.online, 3);
	assert_int_equal(h.node[1].nr_cpus, 16);
	assert_int_equal(h.node[1].mem_total, 64 * GiB);
	assert_int_equal(host_distance(&h, 0, 1), 21);
	host_scan_begin(&h);
	assert_int_equal(b.ops->scan(&b, &h), 0);
	host_scan_end(&h);
	assert_int_equal(h.nr_guests, 6);
	g = host_find(&h, "web1");
	assert_non_null(g);
	assert_int_equal(g->nr_vcpus, 4);
	assert_int_equal(g->vv[0].allowed, 2);
	assert_true(g->vc[0].tid > 0);
	assert_true(host_find(&h, "legacy")->v.flags & VNUMAD_GUEST_PINNED);
	assert_int_equal(sp.ops->attach(&sp, g), 0);
	assert_int_equal(b.ops->advance(&b, 1), 0);
	assert_int_equal(sp.ops->read(&sp, g), 0);
	assert_true(g->vc[0].delta.valid);
	assert_int_equal(g->vc[0].delta.node, 1);
	assert_true(g->vc[0].delta.remote_dram > 10 * g->vc[0].delta.local_dram);
	assert_int_equal(sp.ops->memory(&sp, g), 0);
	assert_int_equal(g->v.mem[0], 8 * GiB);
	assert_int_equal(g->v.mem_total, 8 * GiB);

	/* actuation: affinity on the next advance, memory at migrate_rate */
	assert_int_equal(b.ops->set_affinity(&b, g, 0, 1), 0);
	assert_int_equal(b.ops->migrate(&b, g, &m), 0);
	assert_int_equal(b.ops->advance(&b, 1), 0);
	assert_int_equal(sp.ops->read(&sp, g), 0);
	assert_int_equal(g->vc[0].delta.node, 0);
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(sp.ops->memory(&sp, g), 0);
	assert_int_equal(g->v.mem[1], GiB);
	assert_int_equal(b.ops->set_affinity(&b, host_find(&h, "legacy"), 0, 1),
			 -EPERM);
	b.ops->forget(&b, g);
	host_fini(&h);
	sp.ops->close(&sp);
	b.ops->close(&b);

	/* a bad scenario is refused */
	cfg.scenario = "/nonexistent/scenario.ini";
	assert_int_equal(b.ops->open(&b), -EINVAL);
	assert_null(b.priv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calibration_latency),
		cmocka_unit_test(test_calibration_cpu),
		cmocka_unit_test(test_calibration_bandwidth),
		cmocka_unit_test(test_move_home),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_counter_coverage),
		cmocka_unit_test(test_scheduler),
		cmocka_unit_test(test_balance),
		cmocka_unit_test(test_memory_conserved),
		cmocka_unit_test(test_migration_rate),
		cmocka_unit_test(test_migration_cost),
		cmocka_unit_test(test_migration_enomem),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_arrival_departure),
		cmocka_unit_test(test_spill),
		cmocka_unit_test(test_host_full),
		cmocka_unit_test(test_phases),
		cmocka_unit_test(test_vnuma),
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_memory_only_node),
		cmocka_unit_test(test_totals_bounded),
		cmocka_unit_test(test_link_bandwidth),
		cmocka_unit_test(test_node_overrides),
		cmocka_unit_test(test_shipped_scenarios),
		cmocka_unit_test(test_backend),
		cmocka_unit_test(test_backend_age),
		cmocka_unit_test(test_backend_bandwidth),
		cmocka_unit_test(test_sampler_vnode_memory),
		cmocka_unit_test(test_sampler_without_pmu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
