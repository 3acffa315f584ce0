// SPDX-License-Identifier: MIT
/*
 * Node bandwidth from the memory controllers (sampling/uncore.c), on fake
 * sysfs trees: which counters Intel's uncore_imc and AMD's amd_umc PMUs
 * give, how their events are encoded through the format files, which node
 * each serves, and, with a PMU whose type is the software one, a real
 * count turned into bytes per second.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "core.h"
#include "log.h"
#include "sampling.h"
#include "sampling_impl.h"
#include "util.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[512], cmd[640];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A fresh tree: CPUs 0-3 on sockets 0,0,1,1. */
static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/vnumad-uncore-XXXXXX");
	assert_non_null(mkdtemp(root));
	for (int c = 0; c < 4; c++) {
		char rel[96];

		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/topology/"
			 "physical_package_id", c);
		put(rel, c < 2 ? "0\n" : "1\n");
	}
	sampling_set_sysfs_root(root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;

	sampling_set_sysfs_root(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Node 0 on socket 0, node 1 on socket 1, node 2 memory only. */
static void two_sockets(void)
{
	put("devices/system/node/node0/cpulist", "0-1\n");
	put("devices/system/node/node1/cpulist", "2-3\n");
	put("devices/system/node/node2/cpulist", "\n");
}

/* An Intel IMC channel as the kernel shows it (uncore_snbep.c's aliases). */
static void intel_imc(const char *name, const char *type, const char *mask,
		      const char *rd, const char *scale)
{
	char rel[160];

#define F(file, text) do {						\
	snprintf(rel, sizeof(rel), "bus/event_source/devices/%s/%s", name, file); \
	put(rel, text);							\
} while (0)
	F("type", type);
	F("cpumask", mask);
	F("format/event", "config:0-7\n");
	F("format/umask", "config:8-15\n");
	F("events/cas_count_read", rd);
	F("events/cas_count_read.scale", scale);
	F("events/cas_count_read.unit", "MiB\n");
	F("events/cas_count_write", "event=0x04,umask=0x0c\n");
	F("events/cas_count_write.scale", scale);
	F("events/cas_count_write.unit", "MiB\n");
#undef F
}

/*
 * Intel: one counter per socket (the PMU's cpumask) and direction, the
 * alias encoded through the formats, 6.103515625e-5 MiB = 64 bytes a count;
 * the free-running PMU is not an IMC channel's.
 */
static void test_plan_intel(void **state)
{
	struct mc_plan p[16];
	char why[256];
	int n;
	(void)state;

	two_sockets();
	intel_imc("uncore_imc_0", "14\n", "0,2\n", "event=0x04,umask=0x03\n",
		  "6.103515625e-5\n");
	put("bus/event_source/devices/uncore_imc_free_running_0/type", "15\n");
	put("bus/event_source/devices/uncore_imc_free_running_0/cpumask", "0\n");
	n = mc_bw_plan(p, 16, why, sizeof(why));
	assert_int_equal(n, 4);
	assert_string_equal(why, "");
	for (int i = 0; i < n; i++) {
		assert_string_equal(p[i].pmu, "uncore_imc_0");
		assert_int_equal(p[i].type, 14);
		assert_true(p[i].bytes == 64.0);
		assert_int_equal(p[i].node, p[i].cpu == 0 ? 0 : 1);
		assert_true(p[i].config == 0x304 || p[i].config == 0xc04);
	}
}

/* AMD: one PMU per controller, umc_cas_cmd.rd/.wr (event 0x0a, rdwrmask 1/2). */
static void test_plan_amd(void **state)
{
	struct mc_plan p[16];
	char why[256];
	int n, rd = 0;
	(void)state;

	two_sockets();
	for (int u = 0; u < 2; u++) {
		char rel[128];

		snprintf(rel, sizeof(rel), "bus/event_source/devices/amd_umc_%d/type", u);
		put(rel, "21\n");
		snprintf(rel, sizeof(rel), "bus/event_source/devices/amd_umc_%d/cpumask", u);
		put(rel, u ? "2\n" : "0\n");
		snprintf(rel, sizeof(rel), "bus/event_source/devices/amd_umc_%d/format/event", u);
		put(rel, "config:0-7\n");
		snprintf(rel, sizeof(rel), "bus/event_source/devices/amd_umc_%d/format/rdwrmask", u);
		put(rel, "config:8-9\n");
	}
	n = mc_bw_plan(p, 16, why, sizeof(why));
	assert_int_equal(n, 4);
	for (int i = 0; i < n; i++) {
		assert_true(p[i].config == 0x10a || p[i].config == 0x20a);
		rd += p[i].config == 0x10a;
		assert_true(p[i].bytes == 64.0);
		assert_int_equal(p[i].node, strcmp(p[i].pmu, "amd_umc_1") == 0 ? 1 : 0);
	}
	assert_int_equal(rd, 2);
}

/*
 * Sub-NUMA Clustering: two nodes on one socket, whose controllers the
 * kernel does not tell apart; nothing is given to either, and why says so.
 */
static void test_plan_snc(void **state)
{
	struct mc_plan p[16];
	char why[256];
	(void)state;

	put("devices/system/node/node0/cpulist", "0\n");
	put("devices/system/node/node1/cpulist", "1\n");
	intel_imc("uncore_imc_0", "14\n", "0\n", "event=0x04,umask=0x03\n",
		  "6.103515625e-5\n");
	assert_int_equal(mc_bw_plan(p, 16, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "Sub-NUMA"));
}

/* No PMU at all: nothing, and the reason. */
static void test_plan_none(void **state)
{
	struct mc_plan p[4];
	char why[256];
	(void)state;

	two_sockets();
	assert_int_equal(mc_bw_plan(p, 4, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "no "));
}

/*
 * A real count: the "IMC" is the software PMU (type 1) and its "CAS read"
 * cpu-clock (config 0, nanoseconds on CPU 0), one byte a count, so the
 * figure is about 1e9 bytes per second; the sampler's nodes() labels it.
 */
static void test_count(void **state)
{
	struct vn_host h;
	struct mc_bw *m;
	double bw[VN_MAX_NODES];
	(void)state;

	put("devices/system/node/node0/cpulist", "0\n");
	put("bus/event_source/devices/uncore_imc_0/type", "1\n");
	put("bus/event_source/devices/uncore_imc_0/cpumask", "0\n");
	put("bus/event_source/devices/uncore_imc_0/format/event", "config:0-7\n");
	put("bus/event_source/devices/uncore_imc_0/events/cas_count_read", "event=0x0\n");
	put("bus/event_source/devices/uncore_imc_0/events/cas_count_read.scale", "1\n");
	put("bus/event_source/devices/uncore_imc_0/events/cas_count_read.unit", "B\n");
	m = mc_bw_get();
	if (!m) {
		skip();		/* system-wide counting refused here */
		return;
	}
	assert_int_equal(mc_bw_read(m, bw), 0);	/* starts the interval */
	usleep(100000);
	assert_int_equal(mc_bw_read(m, bw), 1);
	assert_true(bw[0] > 0.5e9 && bw[0] < 1.5e9);
	host_init(&h);
	h.nr_nodes = 1;
	h.online = 1;
	usleep(20000);
	mc_bw_fill(m, &h);
	assert_int_equal(h.node_info[0].bw_used_source, VNUMAD_SRC_UNCORE);
	assert_true(h.node[0].bw_used > 0.5e9);
	/* shared: a second user gets the same counters */
	assert_ptr_equal(mc_bw_get(), m);
	mc_bw_put(m);
	mc_bw_put(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plan_intel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_amd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_snc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count, setup, teardown),
	};

	log_init(true, LOG_WARNING, "test_uncore");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
