// SPDX-License-Identifier: MIT
/*
 * Traces: what is written is what is read back (each guest's age too, and a
 * file without ages still reads), a replay through the core prints exactly
 * what the live advisory run printed, and every damaged file
 * (a byte flipped anywhere, a cut anywhere, another version) is refused
 * with a message that names the file and the byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core.h"
#include "log.h"
#include "registry.h"
#include "testlib.h"
#include "trace.h"
#include "util.h"

static char dir[128];

static void path_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* A core on the built-in demo (or a scenario), as vnumad --dry-run builds it. */
static void open_core(struct vn_core *c, FILE *out, bool dry_run)
{
	struct vn_overrides ov = { .backend = VN_BACKEND_SIM, .dry_run = dry_run,
				   .log_level = -1 };
	struct vn_errors e = { 0 };

	memset(c, 0, sizeof(*c));
	assert_int_equal(config_load(&c->cfg, NULL, &ov, &e), 0);
	errors_free(&e);
	assert_int_equal(registry_pick(c), 0);
	assert_int_equal(core_open(c, NULL, out ? VN_OUT_TEXT : VN_OUT_NONE, out), 0);
}

static void close_core(struct vn_core *c)
{
	core_close(c);
	config_free(&c->cfg);
}

/* Records `ticks` ticks of the demo, dry run, into path. */
static void record(const char *path, int ticks, FILE *out)
{
	static struct vn_core c;
	struct vn_trace *t;
	char err[256];

	open_core(&c, out, true);
	t = trace_open_write(path, &c, err, sizeof(err));
	assert_non_null(t);
	for (int i = 0; i < ticks; i++) {
		assert_int_equal(core_tick(&c), 0);
		assert_int_equal(trace_write_tick(t, &c), 0);
	}
	assert_int_equal(trace_ticks(t), ticks);
	assert_int_equal(trace_close(t), 0);
	close_core(&c);
}

static unsigned char *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*size = (size_t)n;
	return buf;
}

static void spit(const char *path, const unsigned char *buf, size_t size)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
}

/* Expects the file to be refused with a message naming it and `want`. */
static void expect_refused(const char *path, unsigned flags, const char *want)
{
	struct vn_errors e = { 0 };
	struct vn_trace_reader *r = trace_open_read(path, flags, &e);

	if (r) {
		fprintf(stderr, "%s was accepted; wanted \"%s\"\n", path, want);
		trace_close_read(r);
	}
	assert_null(r);
	assert_int_equal(e.count, 1);
	if (!strstr(e.msg[0], want) || strncmp(e.msg[0], path, strlen(path)) != 0 ||
	    !strstr(e.msg[0], ": byte "))
		fprintf(stderr, "wanted \"%s\" naming %s and a byte; got: %s\n", want,
			path, e.msg[0]);
	assert_non_null(strstr(e.msg[0], want));
	assert_int_equal(strncmp(e.msg[0], path, strlen(path)), 0);
	assert_non_null(strstr(e.msg[0], ": byte "));
	errors_free(&e);
}

/* Every field written comes back. */
static void test_round_trip(void **state)
{
	static struct vn_core c;
	struct vn_counts kept[8][4];
	uint64_t mem[8][2], tids[4];
	struct vn_errors e = { 0 };
	const struct vn_trace_info *info;
	struct vn_trace_reader *r;
	struct vn_trace_tick *t;
	struct vn_trace *w;
	char path[256], err[256];
	int n = 0;

	(void)state;
	path_in_dir(path, sizeof(path), "rt.trace");
	open_core(&c, NULL, true);
	w = trace_open_write(path, &c, err, sizeof(err));
	assert_non_null(w);
	for (int i = 0; i < 8; i++) {
		struct vn_guest *g;

		assert_int_equal(core_tick(&c), 0);
		assert_int_equal(trace_write_tick(w, &c), 0);
		g = host_find(&c.host, "web1");
		assert_non_null(g);
		for (int v = 0; v < 4; v++) {
			kept[i][v] = g->vc[v].delta;
			tids[v] = (uint64_t)g->vc[v].tid;
		}
		mem[i][0] = g->v.mem[0];
		mem[i][1] = g->v.mem[1];
	}
	assert_int_equal(trace_close(w), 0);
	close_core(&c);

	r = trace_open_read(path, 0, &e);
	if (!r)
		errors_print(&e, stderr);
	assert_non_null(r);
	info = trace_reader_info(r);
	assert_int_equal(info->version, VN_TRACE_VERSION);
	assert_string_equal(info->vnumad_version, VNUMAD_VERSION);
	assert_string_equal(info->backend, "sim");
	assert_string_equal(info->sampler, "sim");
	assert_string_equal(info->source, "(built-in demo scenario)");
	assert_true(info->interval == 2.0);
	assert_int_equal(info->nr_ticks, 8);
	assert_true(info->complete);
	while ((t = trace_next_tick(r)) != NULL) {
		const struct vn_trace_guest *g = NULL;

		assert_int_equal(t->tick, n + 1);
		assert_true(t->now == 2.0 * (n + 1));
		assert_int_equal(t->topo->nr_nodes, 2);
		assert_int_equal(t->topo->online, 3);
		assert_int_equal(t->topo->nr_cpus[1], 16);
		assert_int_equal(t->topo->mem_total[0], 64 * GiB);
		assert_int_equal(t->topo->distance[1], 21);
		assert_int_equal(t->nr_guests, 6);
		for (int i = 0; i < t->nr_guests; i++)
			if (strcmp(t->guests[i].name, "web1") == 0)
				g = &t->guests[i];
		assert_non_null(g);
		assert_int_equal(g->nr_vcpus, 4);
		assert_int_equal(g->allowed[0], 2);
		assert_int_equal(g->mem[0], mem[n][0]);
		assert_int_equal(g->mem[1], mem[n][1]);
		for (int v = 0; v < 4; v++) {
			assert_int_equal(g->tids[v], tids[v]);
			assert_memory_equal(&g->counts[v].cycles, &kept[n][v].cycles,
					    4 * sizeof(uint64_t));
			assert_true(g->counts[v].elapsed == kept[n][v].elapsed);
			assert_true(g->counts[v].cpu_time == kept[n][v].cpu_time);
			assert_int_equal(g->counts[v].node, kept[n][v].node);
			assert_int_equal(g->counts[v].valid, kept[n][v].valid);
			assert_int_equal(g->counts[v].source, kept[n][v].source);
		}
		n++;
	}
	assert_int_equal(n, 8);
	trace_close_read(r);
}

/* A replay prints, tick by tick, what the live advisory run printed. */
static void test_replay_matches_live(void **state)
{
	static struct vn_core c;
	struct vn_errors e = { 0 };
	struct vn_overrides ov = { .backend = -1, .dry_run = true, .log_level = -1,
				   .interval = 2 };
	char *live = NULL, *again = NULL, path[256];
	size_t nlive = 0, nagain = 0;
	FILE *out;
	struct vn_trace_reader *r;

	(void)state;
	path_in_dir(path, sizeof(path), "live.trace");
	out = open_memstream(&live, &nlive);
	record(path, 40, out);
	fclose(out);

	r = trace_open_read(path, 0, &e);
	assert_non_null(r);
	memset(&c, 0, sizeof(c));
	assert_int_equal(config_load(&c.cfg, NULL, &ov, &e), 0);
	c.backend.ops = &trace_backend_ops;
	c.backend.priv = r;
	c.sampler.ops = &trace_sampler_ops;
	out = open_memstream(&again, &nagain);
	assert_int_equal(core_open(&c, NULL, VN_OUT_TEXT, out), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(core_tick(&c), 0);
	/* the trace is over: the next tick fails, as the harness expects */
	assert_int_equal(core_tick(&c), -1);
	close_core(&c);
	fclose(out);
	errors_free(&e);

	assert_non_null(strstr(live, "recommend"));
	assert_non_null(strstr(live, "tick 40 "));
	if (strcmp(live, again) != 0)
		fprintf(stderr, "live:\n%s\nreplayed:\n%s\n", live, again);
	assert_string_equal(live, again);
	free(live);
	free(again);
}

/* A byte flipped anywhere is caught, and the message says where. */
static void test_flipped_bytes(void **state)
{
	char path[256], bad[256];
	unsigned char *buf;
	size_t size;

	(void)state;
	path_in_dir(path, sizeof(path), "flip.trace");
	path_in_dir(bad, sizeof(bad), "flipped.trace");
	record(path, 3, NULL);
	buf = slurp(path, &size);
	assert_true(size > 1000);
	for (size_t i = 0; i < size; i++) {
		struct vn_errors e = { 0 };
		struct vn_trace_reader *r;

		buf[i] ^= 0x10;
		spit(bad, buf, size);
		r = trace_open_read(bad, 0, &e);
		if (r)
			fprintf(stderr, "a flip at byte %zu went unnoticed\n", i);
		assert_null(r);
		assert_int_equal(e.count, 1);
		assert_non_null(strstr(e.msg[0], ": byte "));
		errors_free(&e);
		buf[i] ^= 0x10;
	}
	/* the messages that matter, at the places that give them */
	buf[0] ^= 1;
	spit(bad, buf, size);
	expect_refused(bad, 0, "not a vnumad trace");
	buf[0] ^= 1;
	buf[40] ^= 1;	/* inside the info record */
	spit(bad, buf, size);
	expect_refused(bad, 0, "record 1 (info, ");
	expect_refused(bad, 0, "fails its checksum");
	buf[40] ^= 1;
	buf[size - 10] ^= 1;	/* inside the end record */
	spit(bad, buf, size);
	expect_refused(bad, 0, "(end, 8 bytes) fails its checksum");
	buf[size - 10] ^= 1;
	free(buf);
}

/* A file cut anywhere is called truncated; --partial takes what is whole. */
static void test_truncated(void **state)
{
	struct vn_errors e = { 0 };
	struct vn_trace_reader *r;
	char path[256], bad[256];
	unsigned char *buf;
	size_t size;

	(void)state;
	path_in_dir(path, sizeof(path), "cut.trace");
	path_in_dir(bad, sizeof(bad), "cut-short.trace");
	record(path, 5, NULL);
	buf = slurp(path, &size);
	for (size_t n = 8; n < size; n += 1 + n / 16) {
		spit(bad, buf, n);
		expect_refused(bad, 0, "truncated");
	}
	/* cut between two records: the end record is missing */
	spit(bad, buf, size - 20);
	expect_refused(bad, 0, "truncated after 5 ticks: no end record");
	/* empty, or shorter than the magic */
	spit(bad, buf, 0);
	expect_refused(bad, 0, "not a vnumad trace");
	spit(bad, buf, 5);
	expect_refused(bad, 0, "not a vnumad trace");
	/* endless, without a header: refused at once (it was read until memory ran out) */
	expect_refused("/dev/zero", 0, "not a vnumad trace");

	/* partial: the complete ticks before the cut */
	spit(bad, buf, size / 2);
	r = trace_open_read(bad, VN_TRACE_PARTIAL, &e);
	assert_non_null(r);
	assert_false(trace_reader_info(r)->complete);
	assert_true(trace_reader_info(r)->nr_ticks >= 1);
	assert_true(trace_reader_info(r)->nr_ticks < 5);
	for (uint64_t i = 0; i < trace_reader_info(r)->nr_ticks; i++)
		assert_non_null(trace_next_tick(r));
	assert_null(trace_next_tick(r));
	trace_close_read(r);
	/* partial still refuses a corrupt record */
	buf[size / 4] ^= 0x80;
	spit(bad, buf, size / 2);
	expect_refused(bad, VN_TRACE_PARTIAL, "checksum");
	free(buf);
	errors_free(&e);
}

/* Another version is refused by number; unknown record types are skipped. */
static void test_versions(void **state)
{
	struct vn_errors e = { 0 };
	struct vn_trace_reader *r;
	char path[256], bad[256];
	unsigned char *buf, *more, rec[8 + 3 + 4] = { 99, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c' };
	size_t size;
	uint32_t crc;

	(void)state;
	path_in_dir(path, sizeof(path), "v.trace");
	path_in_dir(bad, sizeof(bad), "v2.trace");
	record(path, 2, NULL);
	buf = slurp(path, &size);
	buf[8] = 2;
	spit(bad, buf, size);
	expect_refused(bad, 0, "trace format version 2; this vnumad reads version 1");
	buf[8] = 1;
	buf[13] = 1;	/* the reserved word must be zero */
	spit(bad, buf, size);
	expect_refused(bad, 0, "header");
	buf[13] = 0;

	/* a record of a later minor version, right after the header */
	crc = trace_crc32(0, rec, 11);
	for (int i = 0; i < 4; i++)
		rec[11 + i] = (unsigned char)(crc >> (8 * i));
	more = xmalloc(size + sizeof(rec));
	memcpy(more, buf, 16);
	memcpy(more + 16, rec, sizeof(rec));
	memcpy(more + 16 + sizeof(rec), buf + 16, size - 16);
	spit(bad, more, size + sizeof(rec));
	/* ... but the info record must come first */
	expect_refused(bad, 0, "the first record is not the info record");
	/* after the info record it is skipped */
	{
		uint32_t info_len = (uint32_t)buf[20] | (uint32_t)buf[21] << 8;
		size_t at = 16 + 8 + info_len + 4;

		memcpy(more, buf, at);
		memcpy(more + at, rec, sizeof(rec));
		memcpy(more + at + sizeof(rec), buf + at, size - at);
	}
	spit(bad, more, size + sizeof(rec));
	r = trace_open_read(bad, 0, &e);
	if (!r)
		errors_print(&e, stderr);
	assert_non_null(r);
	assert_int_equal(trace_reader_info(r)->nr_ticks, 2);
	trace_close_read(r);
	free(more);
	free(buf);
	errors_free(&e);
}

static void test_write_errors(void **state)
{
	char err[256];
	struct vn_trace *t;

	(void)state;
	t = trace_open_write("/nonexistent/dir/x.trace", NULL, err, sizeof(err));
	assert_null(t);
	assert_non_null(strstr(err, "/nonexistent/dir/x.trace: cannot create the trace"));
	assert_int_equal(trace_close(NULL), 0);
}

static void test_crc(void **state)
{
	(void)state;
	/* the check value of CRC-32/ISO-HDLC (zlib's crc32) */
	assert_int_equal(trace_crc32(0, "123456789", 9), 0xcbf43926u);
	assert_int_equal(trace_crc32(trace_crc32(0, "1234", 4), "56789", 5),
			 0xcbf43926u);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/*
 * Every field of a tick is checked, the vnode too: 2147483647 passed, and
 * policies overflowed on vnode + 1. The first vCPU of the first tick gets
 * the bad value, with the record's checksum made right again.
 */
static void test_vnode_range(void **state)
{
	static const int32_t bad_vnodes[] = { 2147483647, 64, -2 };
	char path[256], bad[256];
	unsigned char *buf;
	size_t size, at = 16;
	uint32_t nn = 0;

	(void)state;
	path_in_dir(path, sizeof(path), "vnode.trace");
	path_in_dir(bad, sizeof(bad), "vnode-bad.trace");
	record(path, 2, NULL);
	buf = slurp(path, &size);
	/* walk to the first tick record, noting the topology's node count */
	while (at + 8 <= size && le32(buf + at) != 3) {
		if (le32(buf + at) == 2)
			nn = le32(buf + at + 8);
		at += 8 + le32(buf + at + 4) + 4;
	}
	assert_true(at + 8 <= size && nn >= 1);
	for (size_t i = 0; i < sizeof(bad_vnodes) / sizeof(*bad_vnodes); i++) {
		unsigned char *rec = buf + at, *pay = rec + 8, *v;
		uint32_t len = le32(rec + 4), keep;
		size_t name = 8 + 8 + 8 * nn + 4;

		/* guest: name, pid, flags, memory_read, mem[nn], nr_vcpus; vcpu: tid, allowed */
		v = pay + name + 2 + (pay[name] | pay[name + 1] << 8) + 4 + 4 + 1 + 8 * nn + 4 + 4 + 8;
		assert_true(v + 4 <= pay + len);
		keep = le32(v);
		put_le32(v, (uint32_t)bad_vnodes[i]);
		put_le32(pay + len, trace_crc32(0, rec, 8 + len));
		spit(bad, buf, size);
		expect_refused(bad, 0, "a vCPU's guest NUMA node is out of range (-1 to 63)");
		put_le32(v, keep);
		put_le32(pay + len, trace_crc32(0, rec, 8 + len));
	}
	/* the file as written is still read */
	spit(bad, buf, size);
	{
		struct vn_errors e = { 0 };
		struct vn_trace_reader *r = trace_open_read(bad, 0, &e);

		assert_non_null(r);
		trace_close_read(r);
		errors_free(&e);
	}
	free(buf);
}

/* The offset of the first record of this type at or after `at`, or 0. */
static size_t find_record(const unsigned char *buf, size_t size, size_t at, uint32_t type)
{
	while (at + 8 <= size) {
		if (le32(buf + at) == type)
			return at;
		at += 8 + le32(buf + at + 4) + 4;
	}
	return 0;
}

/* Makes the record at `at` (payload changed in place) pass its checksum again. */
static void fix_crc(unsigned char *buf, size_t at)
{
	uint32_t len = le32(buf + at + 4);

	put_le32(buf + at + 8 + len, trace_crc32(0, buf + at, 8 + (size_t)len));
}

#define AGE_TICKS	6
#define AGE_GUESTS	6	/* the demo's */

/*
 * Records the demo with web1 made 5000 s older than the demo says (as a
 * backend reporting its process's age would have), keeping each tick's
 * ages by guest order.
 */
static void record_ages(const char *path, double ages[AGE_TICKS][AGE_GUESTS])
{
	static struct vn_core c;
	struct vn_trace *t;
	char err[256];

	open_core(&c, NULL, true);
	t = trace_open_write(path, &c, err, sizeof(err));
	assert_non_null(t);
	for (int i = 0; i < AGE_TICKS; i++) {
		assert_int_equal(core_tick(&c), 0);
		if (i == 0)
			host_find(&c.host, "web1")->first_seen -= 5000;
		assert_int_equal(c.host.nr_guests, AGE_GUESTS);
		for (int k = 0; k < AGE_GUESTS; k++)
			ages[i][k] = c.host.now - c.host.guests[k]->first_seen;
		assert_int_equal(trace_write_tick(t, &c), 0);
	}
	assert_int_equal(trace_close(t), 0);
	close_core(&c);
}

/* Replays the trace through the core; web1's age at each tick in ages[]. */
static void replay_ages(const char *path, double web1[AGE_TICKS])
{
	static struct vn_core c;
	struct vn_errors e = { 0 };
	struct vn_overrides ov = { .backend = -1, .dry_run = true, .log_level = -1,
				   .interval = 2 };
	struct vn_trace_reader *r = trace_open_read(path, 0, &e);

	if (!r)
		errors_print(&e, stderr);
	assert_non_null(r);
	memset(&c, 0, sizeof(c));
	assert_int_equal(config_load(&c.cfg, NULL, &ov, &e), 0);
	c.backend.ops = &trace_backend_ops;
	c.backend.priv = r;
	c.sampler.ops = &trace_sampler_ops;
	assert_int_equal(core_open(&c, NULL, VN_OUT_NONE, NULL), 0);
	for (int i = 0; i < AGE_TICKS; i++) {
		assert_int_equal(core_tick(&c), 0);
		web1[i] = host_find(&c.host, "web1")->v.age;
	}
	close_core(&c);
	errors_free(&e);
}

/*
 * A trace keeps each guest's age: read back, each tick's guests have the
 * ages the core knew, and a replay gives the policy the same ages (web1 is
 * 5000 s old at its first replayed tick, not newborn).
 */
static void test_ages_kept(void **state)
{
	double ages[AGE_TICKS][AGE_GUESTS], web1[AGE_TICKS];
	struct vn_errors e = { 0 };
	struct vn_trace_reader *r;
	struct vn_trace_tick *t;
	char path[256];
	int n = 0, w = -1;

	(void)state;
	path_in_dir(path, sizeof(path), "ages.trace");
	record_ages(path, ages);
	r = trace_open_read(path, 0, &e);
	assert_non_null(r);
	while ((t = trace_next_tick(r)) != NULL) {
		assert_int_equal(t->nr_guests, AGE_GUESTS);
		for (int k = 0; k < AGE_GUESTS; k++) {
			assert_true(t->guests[k].age == ages[n][k]);
			if (!strcmp(t->guests[k].name, "web1"))
				w = k;
		}
		n++;
	}
	assert_int_equal(n, AGE_TICKS);
	assert_true(w >= 0);
	trace_close_read(r);
	/*
	 * at the first tick (one interval in) the demo's guests, there since
	 * the scenario began, are one interval old; web1 5000 s more
	 */
	if (!(ages[0][(w + 1) % AGE_GUESTS] == 2 && ages[0][w] == 5002))
		fprintf(stderr, "ages at the first tick: web1 %g s, another %g s\n",
			ages[0][w], ages[0][(w + 1) % AGE_GUESTS]);
	assert_true(ages[0][(w + 1) % AGE_GUESTS] == 2);
	assert_true(ages[0][w] == 5002);

	replay_ages(path, web1);
	for (int i = 0; i < AGE_TICKS; i++) {
		if (fabs(web1[i] - ages[i][w]) > 1e-6)
			fprintf(stderr, "tick %d: web1 replayed %g s old, recorded %g s\n",
				i + 1, web1[i], ages[i][w]);
		assert_true(fabs(web1[i] - ages[i][w]) < 1e-6);
	}
	errors_free(&e);
}

/*
 * A trace without ages (written before AGES existed) still reads and
 * replays: every age unknown, counted from the first tick.
 */
static void test_ages_missing(void **state)
{
	double ages[AGE_TICKS][AGE_GUESTS], web1[AGE_TICKS];
	struct vn_errors e = { 0 };
	struct vn_trace_reader *r;
	struct vn_trace_tick *t;
	char path[256], old[256];
	unsigned char *buf, *out;
	size_t size, at = 16, len = 16;
	int n = 0;

	(void)state;
	path_in_dir(path, sizeof(path), "ages-all.trace");
	path_in_dir(old, sizeof(old), "ages-none.trace");
	record_ages(path, ages);
	buf = slurp(path, &size);
	out = xmalloc(size);
	memcpy(out, buf, 16);
	while (at + 8 <= size) {
		size_t rec = 8 + le32(buf + at + 4) + 4;

		if (le32(buf + at) != 5) {
			memcpy(out + len, buf + at, rec);
			len += rec;
		}
		at += rec;
	}
	assert_true(len < size);
	spit(old, out, len);
	r = trace_open_read(old, 0, &e);
	if (!r)
		errors_print(&e, stderr);
	assert_non_null(r);
	assert_int_equal(trace_reader_info(r)->nr_ticks, AGE_TICKS);
	while ((t = trace_next_tick(r)) != NULL) {
		for (int k = 0; k < t->nr_guests; k++)
			assert_true(t->guests[k].age == 0);
		n++;
	}
	assert_int_equal(n, AGE_TICKS);
	trace_close_read(r);
	replay_ages(old, web1);
	for (int i = 0; i < AGE_TICKS; i++)
		assert_true(fabs(web1[i] - 2.0 * i) < 1e-9);
	free(out);
	free(buf);
	errors_free(&e);
}

/* A malformed ages record is refused, naming the file, the byte and why. */
static void test_ages_malformed(void **state)
{
	double ages[AGE_TICKS][AGE_GUESTS];
	static const double bad_ages[] = { -1, 1e12, NAN, INFINITY };
	char path[256], bad[256];
	unsigned char *buf, *moved;
	size_t size, at, topo;
	uint64_t keep;
	double d;

	(void)state;
	path_in_dir(path, sizeof(path), "ages-ok.trace");
	path_in_dir(bad, sizeof(bad), "ages-bad.trace");
	record_ages(path, ages);
	buf = slurp(path, &size);
	at = find_record(buf, size, 16, 5);
	assert_true(at > 0);
	assert_int_equal(le32(buf + at + 4), 4 + 8 * AGE_GUESTS);
	/* info, topology, tick, ages */
	topo = find_record(buf, size, 16, 3);
	assert_int_equal(topo + 8 + le32(buf + topo + 4) + 4, at);

	/* another count than its tick's guests */
	put_le32(buf + at + 8, AGE_GUESTS - 1);
	fix_crc(buf, at);
	spit(bad, buf, size);
	expect_refused(bad, 0, "record 4 (ages): the ages record counts other guests than its tick");
	put_le32(buf + at + 8, AGE_GUESTS);
	fix_crc(buf, at);

	/* an age that is no time: negative, too large, not a number */
	memcpy(&keep, buf + at + 12 + 8, 8);
	for (size_t i = 0; i < sizeof(bad_ages) / sizeof(*bad_ages); i++) {
		char want[64];

		d = bad_ages[i];
		memcpy(buf + at + 12 + 8, &d, 8);
		fix_crc(buf, at);
		spit(bad, buf, size);
		snprintf(want, sizeof(want), "byte %zu: corrupt: record 4 (ages): a guest's age",
			 at + 12 + 8);
		expect_refused(bad, 0, want);
	}
	memcpy(buf + at + 12 + 8, &keep, 8);
	fix_crc(buf, at);
	spit(bad, buf, size);
	{
		struct vn_errors e = { 0 };
		struct vn_trace_reader *r = trace_open_read(bad, 0, &e);

		assert_non_null(r);
		trace_close_read(r);
		errors_free(&e);
	}

	/* not after a tick: moved to right after the topology */
	topo = find_record(buf, size, 16, 2);
	assert_true(topo > 0 && topo < at);
	{
		size_t tlen = 8 + le32(buf + topo + 4) + 4, alen = 8 + le32(buf + at + 4) + 4;
		size_t after = topo + tlen;

		moved = xmalloc(size);
		memcpy(moved, buf, after);
		memcpy(moved + after, buf + at, alen);
		memcpy(moved + after + alen, buf + after, at - after);
		memcpy(moved + at + alen, buf + at + alen, size - at - alen);
		spit(bad, moved, size);
		expect_refused(bad, 0, "record 3 (ages): an ages record not right after a tick");
		free(moved);
	}

	/* a byte too many */
	moved = xmalloc(size + 1);
	memcpy(moved, buf, at + 8 + 4 + 8 * AGE_GUESTS);
	moved[at + 8 + 4 + 8 * AGE_GUESTS] = 0;
	memcpy(moved + at + 8 + 4 + 8 * AGE_GUESTS + 1, buf + at + 8 + 4 + 8 * AGE_GUESTS,
	       size - (at + 8 + 4 + 8 * AGE_GUESTS));
	put_le32(moved + at + 4, 4 + 8 * AGE_GUESTS + 1);
	fix_crc(moved, at);
	spit(bad, moved, size + 1);
	expect_refused(bad, 0, "record 4 (ages): bytes left over at the end of the record");
	free(moved);
	free(buf);
}

static int setup(void **state)
{
	(void)state;
	log_init(true, LOG_ERR, "test_trace");
	return tmpdir_make(dir, sizeof(dir), "test-trace");
}

static int teardown(void **state)
{
	(void)state;
	tmpdir_remove(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc),
		cmocka_unit_test(test_vnode_range),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_replay_matches_live),
		cmocka_unit_test(test_flipped_bytes),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_ages_kept),
		cmocka_unit_test(test_ages_missing),
		cmocka_unit_test(test_ages_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
