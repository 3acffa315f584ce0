// SPDX-License-Identifier: MIT
/*
 * The sample stage's budget for memory readings: a sampler whose memory()
 * burns a known amount of CPU stands in for numa_maps, and the stage must
 * keep the CPU it spends per tick to [sampling] memory_budget on average,
 * read every guest in turn, read at once a guest that has no figures, and
 * warn once when memory_interval cannot be kept, naming the cadence it can
 * keep.
 */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "core.h"
#include "log.h"
#include "vnumad.h"

#define NGUESTS	10

static double cost;		/* CPU seconds a memory reading burns */
static int reads[NGUESTS];

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int t_read(struct vn_sampler *s, struct vn_guest *g)
{
	(void)s;
	(void)g;
	return 0;
}

/* Costs `cost` of CPU, as a numa_maps read of some size would. */
static int t_memory(struct vn_sampler *s, struct vn_guest *g)
{
	double t0 = thread_cpu();

	(void)s;
	while (thread_cpu() - t0 < cost)
		;
	reads[g->pid - 1]++;
	return 0;
}

static const struct vn_sampler_ops t_ops = {
	.name = "burn", .read = t_read, .memory = t_memory,
};

static void setup_core(struct vn_core *c, double budget, bool virtual_time)
{
	memset(c, 0, sizeof(*c));
	config_defaults(&c->cfg);
	c->cfg.interval = 2;
	c->cfg.memory_interval = 10;
	c->cfg.memory_budget = budget;
	c->virtual_time = virtual_time;
	c->sampler.ops = &t_ops;
	host_init(&c->host);
	for (int i = 0; i < NGUESTS; i++) {
		char name[16];
		struct vn_guest_desc d = { .name = name, .pid = i + 1 };

		snprintf(name, sizeof(name), "g%d", i);
		host_report(&c->host, &d);
	}
	memset(reads, 0, sizeof(reads));
}

static void teardown_core(struct vn_core *c)
{
	host_fini(&c->host);
	config_free(&c->cfg);
}

/*
 * Runs ticks from the current time; returns the stage's CPU per tick, and
 * in log what it wrote to stderr (the log) meanwhile.
 */
static double run(struct vn_core *c, int ticks, char *log, size_t len)
{
	char path[] = "/tmp/vnumad-test-sample-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	double t0 = thread_cpu(), used;
	ssize_t n;

	assert_true(fd >= 0);
	fflush(stderr);
	dup2(fd, 2);
	for (int t = 0; t < ticks; t++) {
		stage_sample(c);
		c->host.now += c->cfg.interval;
	}
	used = thread_cpu() - t0;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, log, len - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return used / ticks;
}

/* Cheap readings: every guest every memory_interval, no warning. */
static void test_cheap_readings_keep_cadence(void **state)
{
	struct vn_core c;
	char log[4096];
	double per_tick;
	(void)state;

	setup_core(&c, 0.010, false);
	cost = 0.0005;
	per_tick = run(&c, 50, log, sizeof(log));	/* 100 s */
	for (int i = 0; i < NGUESTS; i++)
		assert_int_equal(reads[i], 10);	/* at 0, 10, ..., 90 s */
	assert_true(per_tick < 0.010);
	assert_null(strstr(log, "cannot keep"));
	teardown_core(&c);
}

/* Costly readings: the budget holds on average, in turn, with one warning. */
static void test_costly_readings_share_budget(void **state)
{
	struct vn_core c;
	char log[4096];
	double per_tick;
	int lo = 1 << 30, hi = 0, total = 0;
	(void)state;

	setup_core(&c, 0.010, false);
	cost = 0.025;	/* two and a half ticks' budget per reading */
	per_tick = run(&c, 100, log, sizeof(log));	/* 200 s */
	for (int i = 0; i < NGUESTS; i++) {
		lo = reads[i] < lo ? reads[i] : lo;
		hi = reads[i] > hi ? reads[i] : hi;
		total += reads[i];
	}
	/* two readings per five ticks, spread over every guest */
	assert_in_range(total, 38, 41);
	assert_true(hi - lo <= 1);
	/* on average no more than the budget, and one reading of slack */
	assert_true(per_tick <= 0.010 + 0.025 / 100 + 0.002);
	assert_non_null(strstr(log, "memory readings cannot keep to memory_interval 10s"));
	assert_non_null(strstr(log, "[sampling] memory_budget 10.0 ms per 2s tick"));
	assert_non_null(strstr(log, "about every 50s"));
	/* once */
	assert_null(strstr(strstr(log, "cannot keep") + 1, "cannot keep"));

	/* cheap again: the cadence is back, and the log says so */
	cost = 0.0001;
	run(&c, 10, log, sizeof(log));
	assert_non_null(strstr(log, "keep to memory_interval again"));
	assert_false(c.mem_budget.late);
	teardown_core(&c);
}

/* A guest without figures (its memory just moved) is read at once, in debt or not. */
static void test_unread_guest_goes_first(void **state)
{
	struct vn_core c;
	char log[4096];
	struct vn_guest *g;
	int before;
	(void)state;

	setup_core(&c, 0.010, false);
	cost = 0.025;
	run(&c, 12, log, sizeof(log));
	/* well in debt now: 10 first readings cost ten ticks' budget and more */
	assert_true(c.mem_budget.credit < 0);
	g = host_find(&c.host, "g3");
	assert_non_null(g);
	g->mem_read_at = -1;	/* what actuate does once a migration ends */
	before = reads[3];
	run(&c, 1, log, sizeof(log));
	assert_int_equal(reads[3], before + 1);
	assert_true(g->mem_read_at >= 0);
	teardown_core(&c);
}

/* No budget, or the simulated host's clock: every due guest is read. */
static void test_no_budget(void **state)
{
	struct vn_core c;
	char log[4096];
	(void)state;

	for (int v = 0; v < 2; v++) {
		setup_core(&c, v ? 0.010 : 0, v);
		cost = 0.003;
		run(&c, 10, log, sizeof(log));
		for (int i = 0; i < NGUESTS; i++)
			assert_int_equal(reads[i], 2);	/* at 0 and 10 s of 0..18 s */
		assert_null(strstr(log, "cannot keep"));
		teardown_core(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cheap_readings_keep_cadence),
		cmocka_unit_test(test_costly_readings_share_budget),
		cmocka_unit_test(test_unread_guest_goes_first),
		cmocka_unit_test(test_no_budget),
	};

	log_init(true, LOG_INFO, "test_sample");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
