// SPDX-License-Identifier: MIT
/*
 * bench-journal: what the journal costs at start and per move, on the disk
 * the state directory would be on (a directory under /var/tmp, or $TMPDIR),
 * in the BENCH format of tests/bench/run.sh:
 *
 *   journal.open_40000_live_s     journal_open() of 40,000 unjudged trials:
 *                                 read back and compacted (one sync; one per
 *                                 record took 13 s)
 *   journal.open_80000_settled_s  journal_open() of 80,000 trials and their
 *                                 80,000 verdicts (settling by id; a list
 *                                 scan per verdict took 8.4 s)
 *   journal.settle_scaling        that time over the time for 40,000 and
 *                                 theirs: 2 when settling is linear, 4 when
 *                                 it is quadratic
 *   journal.intent_ms             the median time to write one trial's intent
 *                                 (synced before its move is made) and its
 *                                 verdict, over 200
 *
 *   usage: bench-journal
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "journal.h"
#include "log.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A journal of n trials of two moves each; settled: each with its verdict. */
static void write_journal(const char *dir, int n, int settled)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/journal", dir);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fprintf(f, "{\"vnumad_journal\":2,\"next_id\":1}\n");
	for (int i = 1; i <= n; i++)
		fprintf(f, "{\"type\":\"trial\",\"id\":%d,\"guest\":\"guest-%d\",\"pid\":%d,"
			"\"time\":1764600000.5,\"actions\":[{\"kind\":\"vcpu\",\"vcpu\":1,"
			"\"from\":0,\"to\":1,\"old_allowed\":1,\"effect\":[1,1]},"
			"{\"kind\":\"memory\",\"from\":0,\"to\":1,\"bytes\":1073741824,"
			"\"before_from\":4294967296,\"before_to\":0,\"effect\":[1073741824,"
			"1073741824]}]}\n", i, i % 1000, 1000 + i % 1000);
	for (int i = 1; settled && i <= n; i++)
		fprintf(f, "{\"type\":\"verdict\",\"id\":%d,\"guest\":\"guest-%d\","
			"\"time\":1764600030,\"verdict\":\"kept\",\"gain\":0.1}\n", i, i % 1000);
	if (fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static double time_open(const char *dir, int n, int settled, int *live)
{
	struct vn_journal *j;
	struct journal_trial *t;
	double t0;

	write_journal(dir, n, settled);
	t0 = now();
	j = journal_open(dir);
	t0 = now() - t0;
	if (!j || journal_error(j)) {
		fprintf(stderr, "bench-journal: the journal in %s cannot be opened\n", dir);
		exit(1);
	}
	*live = 0;
	t = journal_take_pending(j);
	for (struct journal_trial *x = t; x; x = x->next)
		(*live)++;
	journal_free_pending(t);
	journal_close(j);
	return t0;
}

int main(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	struct vn_action act = { .kind = VNUMAD_MOVE_VCPU, .vcpu = 1, .from = 0, .to = 1,
				 .old_allowed = 1, .eff_hi = 1 };
	char dir[512], cmd[600];
	double open_live, open_settled, open_half, times[200];
	struct vn_journal *j;
	int live;

	log_init(true, LOG_WARNING, "bench-journal");
	snprintf(dir, sizeof(dir), "%s/vnumad-bench-journal.XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	open_live = time_open(dir, 40000, 0, &live);
	if (live != 40000)
		fprintf(stderr, "bench-journal: %d trials of 40000 read back\n", live);
	open_half = time_open(dir, 40000, 1, &live);
	open_settled = time_open(dir, 80000, 1, &live);
	if (live != 0)
		fprintf(stderr, "bench-journal: %d trials of 80000 left unsettled\n", live);
	j = journal_open(dir);
	for (int i = 0; i < 200; i++) {
		double t0 = now();
		uint64_t id = journal_trial(j, "guest-1", 1001, &act, 1);

		journal_verdict(j, id, "guest-1", "kept", 0);
		journal_commit(j);
		times[i] = now() - t0;
	}
	journal_close(j);
	qsort(times, 200, sizeof(times[0]), cmp);
	printf("BENCH name=journal.open_40000_live_s value=%.3f unit=s goal=2 dir=max "
	       "desc=start with a journal of 40,000 unjudged trials: read back, compacted\n",
	       open_live);
	printf("BENCH name=journal.open_80000_settled_s value=%.3f unit=s goal=2 dir=max "
	       "desc=start with a journal of 80,000 trials and their verdicts\n", open_settled);
	printf("BENCH name=journal.settle_scaling value=%.2f unit=x goal=2.5 dir=max "
	       "desc=80,000 settled trials over 40,000: 2 linear 4 quadratic\n",
	       open_settled / open_half);
	printf("BENCH name=journal.intent_ms value=%.3f unit=ms goal=- dir=- "
	       "desc=one move's intent (synced before the move) and verdict, median of 200, "
	       "on %s\n", times[100] * 1e3, base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
