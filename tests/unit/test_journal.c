// SPDX-License-Identifier: MIT
/* The journal: what one run writes, the next one reads back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "journal.h"
#include "log.h"
#include "testlib.h"

static char dir[128];
static char path[128];

static int setup(void **state)
{
	(void)state;
	if (tmpdir_make(dir, sizeof(dir), "journal") < 0)
		return -1;
	/* a subdirectory, so that journal_open has to create it */
	strcat(dir, "/state");
	snprintf(path, sizeof(path), "%s/journal", dir);
	log_init(true, LOG_CRIT, "test");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	*strrchr(dir, '/') = '\0';
	tmpdir_remove(dir);
	return 0;
}

static const struct vn_action acts[2] = {
	{ .kind = VNUMAD_MOVE_VCPU, .vcpu = 3, .from = 1, .to = 0, .old_allowed = 0x2 },
	{ .kind = VNUMAD_MOVE_MEMORY, .vcpu = 0, .from = 1, .to = 0, .bytes = 1ULL << 30 },
};

static int count_pending(struct journal_trial *t)
{
	int n = 0;

	for (; t; t = t->next)
		n++;
	return n;
}

/* A trial without verdict comes back with every action intact. */
static void unjudged_trial_comes_back(void **state)
{
	struct vn_journal *j = journal_open(dir);
	struct journal_trial *t;
	struct stat st;
	uint64_t a, b;

	(void)state;
	assert_non_null(j);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	a = journal_trial(j, "web1", acts, 2);
	b = journal_trial(j, "web2", acts, 1);
	assert_true(b > a);
	journal_verdict(j, a, "web1", "kept", 0.2);
	journal_close(j);	/* as if the daemon died here */

	j = journal_open(dir);
	assert_non_null(j);
	t = journal_take_pending(j);
	assert_int_equal(count_pending(t), 1);
	assert_string_equal(t->guest, "web2");
	assert_int_equal(t->id, b);
	assert_int_equal(t->nr_act, 1);
	assert_int_equal(t->act[0].kind, VNUMAD_MOVE_VCPU);
	assert_int_equal(t->act[0].vcpu, 3);
	assert_int_equal(t->act[0].old_allowed, 0x2);
	/* ids keep increasing across runs */
	assert_true(journal_trial(j, "web3", acts + 1, 1) > b);
	journal_free_pending(t);
	journal_close(j);
	unlink(path);
}

/* Memory actions keep their byte count; verdicts settle trials. */
static void memory_and_verdicts(void **state)
{
	struct vn_journal *j = journal_open(dir);
	struct journal_trial *t;
	uint64_t id;

	(void)state;
	id = journal_trial(j, "db", acts, 2);
	journal_close(j);
	j = journal_open(dir);
	t = journal_take_pending(j);
	assert_int_equal(count_pending(t), 1);
	assert_int_equal(t->act[1].kind, VNUMAD_MOVE_MEMORY);
	assert_int_equal(t->act[1].bytes, 1ULL << 30);
	journal_verdict(j, id, "db", "reverted-at-restart", 0);
	journal_free_pending(t);
	journal_close(j);
	j = journal_open(dir);
	assert_null(journal_take_pending(j));
	journal_close(j);
	unlink(path);
}

/* Running quarantines survive; expired ones are dropped at compaction. */
static void quarantines(void **state)
{
	struct vn_journal *j = journal_open(dir);
	const struct journal_quarantine *q;
	int n = 0;

	(void)state;
	journal_quarantine(j, "web1", 0, 2, 3600);
	journal_quarantine(j, "web2", 1, 1, -10);	/* already over */
	journal_quarantine(j, "web1", 0, 3, 7200);	/* a new strike */
	journal_close(j);
	j = journal_open(dir);
	for (q = journal_quarantines(j); q; q = q->next) {
		n++;
		assert_string_equal(q->guest, "web1");
		assert_int_equal(q->node, 0);
		assert_int_equal(q->strikes, 3);
		assert_true(q->until > journal_wall() + 7000);
	}
	assert_int_equal(n, 1);
	journal_close(j);
	unlink(path);
}

/* A torn last line (a crash mid-write) is skipped, the rest is kept. */
static void torn_line_skipped(void **state)
{
	struct vn_journal *j = journal_open(dir);
	struct journal_trial *t;
	FILE *f;

	(void)state;
	journal_trial(j, "web1", acts, 1);
	journal_close(j);
	f = fopen(path, "a");
	fputs("{\"type\":\"trial\",\"id\":99,\"gue", f);
	fclose(f);
	j = journal_open(dir);
	assert_non_null(j);
	t = journal_take_pending(j);
	assert_int_equal(count_pending(t), 1);
	assert_string_equal(t->guest, "web1");
	journal_free_pending(t);
	journal_close(j);
	unlink(path);
}

/* A journal of another version is set aside, not misread. */
static void other_version_set_aside(void **state)
{
	char aside[160];
	struct vn_journal *j;
	FILE *f;

	(void)state;
	mkdir(dir, 0700);
	f = fopen(path, "w");
	fputs("{\"vnumad_journal\":99}\n{\"type\":\"trial\",\"id\":1,\"guest\":\"x\","
	      "\"actions\":[]}\n", f);
	fclose(f);
	j = journal_open(dir);
	assert_non_null(j);
	assert_null(journal_take_pending(j));
	snprintf(aside, sizeof(aside), "%s.unknown-version", path);
	assert_int_equal(access(aside, F_OK), 0);
	journal_close(j);
	unlink(aside);
	unlink(path);
}

/* Compaction at open: the rewritten file holds only what is live. */
static void compaction(void **state)
{
	struct vn_journal *j = journal_open(dir);
	char line[512];
	int lines = 0;
	FILE *f;

	(void)state;
	for (int i = 0; i < 50; i++) {
		uint64_t id = journal_trial(j, "web1", acts, 2);

		journal_verdict(j, id, "web1", "kept", 0.1);
	}
	journal_trial(j, "last", acts, 1);
	journal_close(j);
	j = journal_open(dir);
	journal_close(j);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	assert_int_equal(lines, 2);	/* the version line and the live trial */
	unlink(path);
}

/* An unusable state directory is reported, not fatal. */
static void unusable_directory(void **state)
{
	(void)state;
	assert_null(journal_open("/proc/vnumad-cannot-be-here"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unjudged_trial_comes_back),
		cmocka_unit_test(memory_and_verdicts),
		cmocka_unit_test(quarantines),
		cmocka_unit_test(torn_line_skipped),
		cmocka_unit_test(other_version_set_aside),
		cmocka_unit_test(compaction),
		cmocka_unit_test(unusable_directory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
