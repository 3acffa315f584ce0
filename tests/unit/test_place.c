// SPDX-License-Identifier: MIT
/*
 * Placement advice (rebalancer/daemon/place.c), the answer to libvirt's
 * numad -w and to vnumad place, on hosts made up here: one node that fits,
 * the roomiest of several, the nearest nodes together when none fits
 * alone, every node for a guest bigger than the host; and the CPU load of
 * each node from two readings of /proc/stat.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hostinfo.h"
#include "place.h"
#include "util.h"
#include "vnumad.h"

static struct vn_host h;

/* n nodes of `cpus` CPUs and `free_gib` GiB free each, SLIT 10 local, 20 or 30 away */
static void host_of(int n, int cpus, double free_gib)
{
	memset(&h, 0, sizeof(h));
	h.nr_nodes = n;
	h.online = (1ULL << n) - 1;
	for (int i = 0; i < n; i++) {
		h.node[i].id = i;
		h.node[i].nr_cpus = cpus;
		h.node[i].mem_total = (uint64_t)(free_gib * 2 * GiB);
		h.node[i].mem_free = (uint64_t)(free_gib * GiB);
	}
	/* nodes 0-1 and 2-3 are sockets: 20 within, 30 across */
	for (int a = 0; a < n; a++)
		for (int b = 0; b < n; b++)
			h.distance[a * n + b] = a == b ? 10 : a / 2 == b / 2 ? 20 : 30;
}

static void one_node_fits(void **state)
{
	uint64_t set = 0;
	char why[256];

	(void)state;
	host_of(2, 8, 16);
	h.node[0].cpu_load = 0.5;	/* node 1 has more room */
	assert_int_equal(place_nodes(&h, 2, 4 * GiB, &set, why, sizeof(why)), 0);
	assert_int_equal(set, 2);
	assert_non_null(strstr(why, "node 1 fits it"));
	/* memory decides where CPUs do not */
	host_of(2, 8, 16);
	h.node[1].mem_free = 2 * GiB;
	assert_int_equal(place_nodes(&h, 2, 4 * GiB, &set, why, sizeof(why)), 0);
	assert_int_equal(set, 1);
}

static void nearest_nodes_together(void **state)
{
	uint64_t set = 0;
	char why[256];

	(void)state;
	host_of(4, 4, 8);
	h.node[2].cpu_load = 0.25;	/* node 0 is the roomiest */
	h.node[3].cpu_load = 0.25;
	h.node[1].cpu_load = 0.5;
	/* 6 vCPUs: no node alone; node 0 and its socket's node 1, not node 2 */
	assert_int_equal(place_nodes(&h, 6, 1 * GiB, &set, why, sizeof(why)), 0);
	assert_int_equal(set, 0x3);
	assert_non_null(strstr(why, "no single node fits it"));
}

static void bigger_than_the_host(void **state)
{
	uint64_t set = 0;
	char why[256];

	(void)state;
	host_of(4, 4, 8);
	/* the best there is, every node, and -ENOSPC to say it does not fit */
	assert_int_equal(place_nodes(&h, 64, 1 * GiB, &set, why, sizeof(why)), -ENOSPC);
	assert_int_equal(set, 0xf);
	assert_non_null(strstr(why, "not enough"));
	assert_int_equal(place_nodes(&h, 1, 1024 * GiB, &set, why, sizeof(why)), -ENOSPC);
	assert_int_equal(set, 0xf);
	/* a host without CPUs has no answer */
	host_of(1, 0, 8);
	assert_int_equal(place_nodes(&h, 1, 0, &set, why, sizeof(why)), -ENOENT);
}

static void load_from_proc_stat(void **state)
{
	/* the first line sums every CPU: it is no CPU's, even where its first
	 * figure (user time) is the number of a CPU without a line (offline) */
	static const char before[] =
		"cpu  3 0 0 300 0 0 0 0 0 0\n"
		"cpu0 100 0 0 100 0 0 0 0 0 0\n"
		"cpu1 0 0 0 200 0 0 0 0 0 0\n"
		"intr 12345\n";
	static const char after[] =
		"cpu  3 0 0 300 0 0 0 0 0 0\n"
		"cpu0 150 0 0 150 0 0 0 0 0 0\n"
		"cpu1 10 0 20 270 0 0 0 0 0 0\n";
	struct place_stat a, b;
	FILE *f;

	(void)state;
	f = fmemopen((void *)before, sizeof(before) - 1, "r");
	place_stat_parse(&a, f, 4);
	fclose(f);
	f = fmemopen((void *)after, sizeof(after) - 1, "r");
	place_stat_parse(&b, f, 4);
	fclose(f);
	assert_int_equal(a.total[0], 200);
	assert_int_equal(a.busy[0], 100);
	assert_int_equal(a.total[1], 200);
	assert_int_equal(a.busy[1], 0);
	assert_int_equal(a.total[3], 0);
	assert_int_equal(b.busy[1], 30);
	assert_int_equal(b.total[1] - a.total[1], 100);
	/* on this host: each node's load over the two readings, within [0, 1] */
	{
		struct place_stat x, y;

		assert_int_equal(place_stat_read(&x), 0);
		assert_int_equal(place_stat_read(&y), 0);
		assert_int_equal(place_host(&h, &x, &y), 0);
		assert_true(h.nr_nodes >= 1);
		for (int n = 0; n < h.nr_nodes; n++)
			assert_true(h.node[n].cpu_load >= 0 && h.node[n].cpu_load <= 1);
		assert_true(h.node[0].mem_free > 0);
		place_stat_free(&x);
		place_stat_free(&y);
	}
	place_stat_free(&a);
	place_stat_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_node_fits),
		cmocka_unit_test(nearest_nodes_together),
		cmocka_unit_test(bigger_than_the_host),
		cmocka_unit_test(load_from_proc_stat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
