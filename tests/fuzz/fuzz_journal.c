// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the journal reader, as a start reads what the last run left
 * in the state directory: journal_open() of a directory holding the input
 * as its journal (checked, set aside or read back, then compacted), the
 * trials and quarantines handed out, and each trial updated and ended as
 * the guard would. The directory is made once, in /dev/shm when there is
 * one (the reader writes the file back on every input).
 */
#include <stdio.h>
#include <sys/stat.h>

#include "core.h"
#include "fuzz.h"
#include "journal.h"
#include "log.h"

static char dir[64], path[96];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "%s/vnumad-fuzz-journal.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/journal", dir);
}

/* Leaves the directory as a start would find it: only the input. */
static void clean_dir(void)
{
	static const char *const names[] = {
		"journal", "journal.tmp", "journal.unknown-version", "journal.unreadable",
		"journal.not-a-file",
	};
	char p[160];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
		/* and what set_aside() numbers when the name is taken */
		for (int k = 1; k <= 9; k++) {
			snprintf(p, sizeof(p), "%s/%s.%d", dir, names[i], k);
			unlink(p);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_quarantine *q;
	struct journal_trial *t;
	struct vn_journal *j;
	FILE *f;

	if (!dir[0]) {
		log_init(true, LOG_CRIT, "fuzz");
		make_dir();
	}
	clean_dir();
	f = fopen(path, "w");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	j = journal_open(dir);
	if (!j)
		abort();	/* the directory is ours: never refused */
	t = journal_take_pending(j);
	q = journal_take_quarantines(j);
	for (struct journal_trial *x = t; x; x = x->next) {
		/* what the guard does with them: narrow, then end */
		for (int i = 0; i < x->nr_act; i++) {
			if (x->act[i].slot != i || x->act[i].eff_lo > x->act[i].eff_hi ||
			    (x->act[i].kind == VNUMAD_MOVE_VCPU &&
			     (x->act[i].vcpu < 0 || x->act[i].eff_hi > 1)) ||
			    (x->act[i].kind == VNUMAD_MOVE_MEMORY &&
			     x->act[i].eff_hi > x->act[i].bytes) ||
			    x->act[i].to < 0 || x->act[i].to >= VN_MAX_NODES ||
			    x->act[i].from < -1 || x->act[i].from >= VN_MAX_NODES)
				abort();	/* the reader let nonsense through */
			x->act[i].eff_lo = 0;
		}
		journal_update(j, x->id, x->act, x->nr_act, 1);
		journal_verdict(j, x->id, x->guest, "reverted-at-restart", 0);
	}
	for (struct journal_quarantine *y = q; y; y = y->next)
		if (y->node < 0 || y->node >= VN_MAX_NODES || y->strikes < 1)
			abort();
	journal_free_pending(t);
	journal_free_quarantines(q);
	journal_close(j);
	return 0;
}
