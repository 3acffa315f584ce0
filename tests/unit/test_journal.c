// SPDX-License-Identifier: MIT
/* The journal: what one run writes, the next one reads back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
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
	{ .kind = VNUMAD_MOVE_VCPU, .vcpu = 3, .from = 1, .to = 0, .old_allowed = 0x2,
	  .eff_hi = 1 },
	{ .kind = VNUMAD_MOVE_MEMORY, .vcpu = 0, .from = 1, .to = 0, .bytes = 1ULL << 30,
	  .eff_hi = 1ULL << 30, .before_from = VN_BYTES_UNKNOWN,
	  .before_to = VN_BYTES_UNKNOWN },
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
	a = journal_trial(j, "web1", 0, acts, 2);
	b = journal_trial(j, "web2", 0, acts, 1);
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
	assert_true(journal_trial(j, "web3", 0, acts + 1, 1) > b);
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
	id = journal_trial(j, "db", 0, acts, 2);
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
	struct journal_quarantine *qs;
	const struct journal_quarantine *q;
	int n = 0;

	(void)state;
	journal_quarantine(j, "web1", 0, 2, 3600);
	journal_quarantine(j, "web2", 1, 1, -10);	/* already over */
	journal_quarantine(j, "web1", 0, 3, 7200);	/* a new strike */
	journal_close(j);
	j = journal_open(dir);
	qs = journal_take_quarantines(j);
	for (q = qs; q; q = q->next) {
		n++;
		assert_string_equal(q->guest, "web1");
		assert_int_equal(q->node, 0);
		assert_int_equal(q->strikes, 3);
		assert_true(q->until > journal_wall() + 7000);
	}
	assert_int_equal(n, 1);
	journal_free_quarantines(qs);
	/* handed out once */
	assert_null(journal_take_quarantines(j));
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
	journal_trial(j, "web1", 0, acts, 1);
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

/* A journal of another version is set aside, not misread; an earlier one stays. */
static void other_version_set_aside(void **state)
{
	char aside[160], second[170], line[64];
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
	/* a second one set aside keeps the first */
	f = fopen(path, "w");
	fputs("{\"vnumad_journal\":98}\n", f);
	fclose(f);
	j = journal_open(dir);
	assert_non_null(j);
	journal_close(j);
	f = fopen(aside, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "{\"vnumad_journal\":99}\n");
	snprintf(second, sizeof(second), "%s.1", aside);
	f = fopen(second, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "{\"vnumad_journal\":98}\n");
	unlink(second);
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
		uint64_t id = journal_trial(j, "web1", 0, acts, 2);

		journal_verdict(j, id, "web1", "kept", 0.1);
	}
	journal_trial(j, "last", 0, acts, 1);
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

/*
 * A state directory that cannot be made is reported, not fatal: the
 * journal fails (the core advises only) and is tried again.
 */
static void unusable_directory(void **state)
{
	struct vn_journal *j = journal_open("/proc/vnumad-cannot-be-here");

	(void)state;
	assert_non_null(j);
	assert_int_not_equal(journal_error(j), 0);
	assert_int_equal(journal_trial(j, "web1", 0, acts, 1), 0);
	assert_int_not_equal(journal_retry(j), 0);
	journal_close(j);
}

/* ---- the state directory: whoever can write it must not steer root */

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0 && !buf)
		buf = strdup("");
	fclose(f);
	return buf;
}

/* A state directory writable by others, or under such a parent, is refused. */
static void writable_directory_refused(void **state)
{
	char sub[192], why[512];

	(void)state;
	mkdir(dir, 0700);
	chmod(dir, 0777);
	assert_null(journal_open(dir));
	assert_int_equal(journal_check_dir(dir, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable by others"));
	chmod(dir, 0770);
	assert_null(journal_open(dir));
	/* a parent writable by others, not sticky: it can swap the directory */
	chmod(dir, 0777);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_null(journal_open(sub));
	assert_int_equal(journal_check_dir(sub, why, sizeof(why)), -EPERM);
	/* sticky (as /tmp is), it cannot: the directory is ours */
	chmod(dir, 01777);
	assert_int_equal(journal_check_dir(sub, why, sizeof(why)), 0);
	rmdir(sub);
	chmod(dir, 0700);
	/* not there yet: its parent is what is checked */
	snprintf(sub, sizeof(sub), "%s/later", dir);
	assert_int_equal(journal_check_dir(sub, why, sizeof(why)), 0);
	assert_int_equal(access(sub, F_OK), -1);
}

/* A state directory of another user is refused, as is a link another user made. */
static void foreign_directory_refused(void **state)
{
	char why[512], link[192], sticky[192], target[192];

	(void)state;
	if (geteuid() != 0) {
		print_message("skipped: only root can give a directory away\n");
		skip();
	}
	mkdir(dir, 0700);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	assert_null(journal_open(dir));
	assert_int_equal(journal_check_dir(dir, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "owned by uid 65534"));
	assert_int_equal(chown(dir, 0, 0), 0);
	/* in a sticky directory, a link of another user to a root directory */
	snprintf(sticky, sizeof(sticky), "%s/tmp", dir);
	snprintf(target, sizeof(target), "%s/etc", dir);
	snprintf(link, sizeof(link), "%s/tmp/state", dir);
	assert_int_equal(mkdir(sticky, 01777), 0);
	chmod(sticky, 01777);
	assert_int_equal(mkdir(target, 0755), 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(lchown(link, 65534, 65534), 0);
	assert_null(journal_open(link));
	assert_int_equal(journal_check_dir(link, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "symbolic link of uid 65534"));
	/* root's own link is followed */
	assert_int_equal(lchown(link, 0, 0), 0);
	assert_int_equal(journal_check_dir(link, why, sizeof(why)), 0);
	unlink(link);
	rmdir(sticky);
	rmdir(target);
}

/*
 * A link planted as journal.tmp does not make compaction truncate or write
 * its target; a journal that is a link is not read but set aside.
 */
static void planted_links_not_followed(void **state)
{
	char victim[192], tmp[192], aside[192], *t;
	struct journal_trial *p;
	struct vn_journal *j;

	(void)state;
	mkdir(dir, 0700);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(tmp, sizeof(tmp), "%s/journal.tmp", dir);
	write_file(victim, "precious\n");
	assert_int_equal(symlink(victim, tmp), 0);
	j = journal_open(dir);
	assert_non_null(j);
	assert_int_equal(journal_error(j), 0);
	journal_close(j);
	t = slurp(victim);
	assert_string_equal(t, "precious\n");
	free(t);
	/* the journal a link to a file of trials: not read */
	unlink(path);
	write_file(victim, "{\"vnumad_journal\":2}\n{\"type\":\"trial\",\"id\":1,\"guest\":\"x\","
		   "\"actions\":[{\"kind\":\"vcpu\",\"vcpu\":0,\"from\":0,\"to\":1,"
		   "\"old_allowed\":1,\"effect\":[1,1]}]}\n");
	assert_int_equal(symlink(victim, path), 0);
	j = journal_open(dir);
	assert_non_null(j);
	p = journal_take_pending(j);
	assert_null(p);
	journal_close(j);
	snprintf(aside, sizeof(aside), "%s/journal.not-a-file", dir);
	assert_int_equal(readlink(aside, tmp, sizeof(tmp)) > 0, 1);
	t = slurp(victim);
	assert_non_null(strstr(t, "\"guest\":\"x\""));
	free(t);
	unlink(aside);
	unlink(victim);
	unlink(path);
}

/*
 * The trials of this run survive a compaction made while it runs (the
 * file past its size limit), not only those of the last run.
 */
static void compaction_keeps_this_runs_trials(void **state)
{
	struct vn_journal *j = journal_open(dir);
	struct journal_trial *t;
	char name[32];
	uint64_t live;

	(void)state;
	live = journal_trial(j, "live", 0, acts, 2);
	assert_true(live > 0);
	/* 5 MB of quarantines, then one more trial: it compacts first */
	for (int i = 0; i < 50000; i++) {
		snprintf(name, sizeof(name), "guest-%05d-padding-padding", i);
		journal_quarantine(j, name, i % 4, 1, 3600);
	}
	assert_true(journal_trial(j, "next", 0, acts, 1) > live);
	journal_close(j);
	j = journal_open(dir);
	t = journal_take_pending(j);
	assert_int_equal(count_pending(t), 2);
	assert_string_equal(t->guest, "live");
	assert_int_equal(t->id, live);
	journal_free_pending(t);
	journal_close(j);
	unlink(path);
}

/* What may be in effect is kept as it narrows, and names JSON cannot hold. */
static void effect_and_names_kept(void **state)
{
	struct vn_action a[2];
	struct vn_journal *j = journal_open(dir);
	struct journal_trial *t;
	uint64_t id;

	(void)state;
	memcpy(a, acts, sizeof(a));
	a[1].before_from = 5ULL << 30;
	a[1].before_to = 3ULL << 30;
	id = journal_trial(j, "caf\xe9", 4242, a, 2);
	assert_true(id > 0);
	a[0].slot = 0;
	a[1].slot = 1;
	a[0].eff_lo = 1;
	a[1].eff_lo = 256ULL << 20;
	assert_int_equal(journal_update(j, id, a, 2, 0), 0);
	journal_close(j);
	j = journal_open(dir);
	t = journal_take_pending(j);
	assert_int_equal(count_pending(t), 1);
	assert_string_equal(t->guest, "caf\xe9");
	assert_int_equal(t->pid, 4242);
	assert_int_equal(t->act[0].eff_lo, 1);
	assert_int_equal(t->act[0].eff_hi, 1);
	assert_int_equal(t->act[1].eff_lo, 256ULL << 20);
	assert_int_equal(t->act[1].eff_hi, 1ULL << 30);
	assert_int_equal(t->act[1].before_from, 5ULL << 30);
	assert_int_equal(t->act[1].before_to, 3ULL << 30);
	assert_int_equal(t->act[1].slot, 1);
	journal_free_pending(t);
	journal_close(j);
	unlink(path);
}

/* Records that break a rule are skipped; a line past the limit too. */
static void bad_records_skipped(void **state)
{
	struct journal_trial *t;
	struct vn_journal *j;
	size_t big = 5u << 20;
	char *text = malloc(big + 4096);
	size_t off;

	(void)state;
	mkdir(dir, 0700);
	off = (size_t)sprintf(text, "{\"vnumad_journal\":2,\"next_id\":40}\n"
		"{\"type\":\"trial\",\"id\":1,\"guest\":\"a\",\"actions\":[{\"kind\":\"vcpu\","
		"\"vcpu\":0,\"from\":0,\"to\":1,\"old_allowed\":1,\"effect\":[1,2]}]}\n"
		"{\"type\":\"trial\",\"id\":2,\"guest\":\"a\\n\",\"actions\":[{\"kind\":\"vcpu\","
		"\"vcpu\":0,\"from\":0,\"to\":1,\"old_allowed\":1,\"effect\":[1,1]}]}\n"
		"{\"type\":\"trial\",\"id\":3,\"guest\":\"a\",\"actions\":[{\"kind\":\"memory\","
		"\"from\":0,\"to\":1,\"bytes\":10,\"effect\":[0,11]}]}\n"
		"{\"type\":\"trial\",\"id\":0,\"guest\":\"a\",\"actions\":[{\"kind\":\"vcpu\","
		"\"vcpu\":0,\"from\":0,\"to\":1,\"old_allowed\":1,\"effect\":[1,1]}]}\n"
		"{\"type\":\"quarantine\",\"guest\":\"a\",\"node\":64,\"strikes\":1,\"until\":1e300}\n"
		"{\"type\":\"trial\",\"id\":5,\"guest\":\"ok\",\"actions\":[{\"kind\":\"memory\","
		"\"from\":0,\"to\":1,\"bytes\":10,\"effect\":[0,10]}]}\n"
		"{\"type\":\"progress\",\"id\":5,\"effect\":[[4,12]]}\n"
		"{\"type\":\"progress\",\"id\":5,\"effect\":[[4,8],[0,1]]}\n"
		"{\"type\":\"progress\",\"id\":5,\"effect\":[[4,8]]}\n"
		"{\"type\":\"trial\",\"id\":6,\"guest\":\"long\",\"pad\":\"");
	memset(text + off, 'x', big);
	off += big;
	strcpy(text + off, "\",\"actions\":[]}\n");
	write_file(path, text);
	free(text);
	j = journal_open(dir);
	t = journal_take_pending(j);
	assert_int_equal(count_pending(t), 1);
	assert_string_equal(t->guest, "ok");
	assert_int_equal(t->act[0].eff_lo, 4);
	assert_int_equal(t->act[0].eff_hi, 8);
	/* ids go on from the header's */
	assert_int_equal(journal_trial(j, "x", 0, acts, 1), 40);
	journal_free_pending(t);
	journal_close(j);
	unlink(path);
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
		cmocka_unit_test(writable_directory_refused),
		cmocka_unit_test(foreign_directory_refused),
		cmocka_unit_test(planted_links_not_followed),
		cmocka_unit_test(compaction_keeps_this_runs_trials),
		cmocka_unit_test(effect_and_names_kept),
		cmocka_unit_test(bad_records_skipped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
