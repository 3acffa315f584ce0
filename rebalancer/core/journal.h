/* SPDX-License-Identifier: MIT */
#ifndef VN_JOURNAL_H
#define VN_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct vn_action;
struct vn_journal;

/*
 * A trial that had no verdict when the daemon last stopped: its actions in
 * journal order (act[i].slot == i), each with what of it may be in effect.
 */
struct journal_trial {
	uint64_t id;
	char *guest;
	int pid;		/* the guest's process then, 0 unknown */
	char boot[40];		/* the host's boot id then, "" unknown */
	double wall;		/* when it was asked for, wall clock */
	struct vn_action *act;
	int nr_act;
	struct journal_trial *next;
};

/* A quarantine still running at the last stop; until is wall clock. */
struct journal_quarantine {
	char *guest;
	int node;
	int strikes;
	double until;
	struct journal_quarantine *next;
};

/*
 * Checks that dir may hold the journal: every directory from / down to it
 * owned by root (or by the user vnumad runs as) and writable by no one
 * else (a parent may be a sticky directory such as /tmp). A dir that does
 * not exist yet is checked as its parent. 0, or -errno with why filled.
 */
int journal_check_dir(const char *dir, char *why, size_t len);

/*
 * Opens DIR/journal (creating DIR 0700), reads back what the last run left
 * and rewrites the file with only that. NULL (logged) only when the
 * directory is not safe to write as root; a journal that cannot be read or
 * written now is returned failing (journal_error()) and is tried again by
 * journal_retry(), with what was read kept.
 */
struct vn_journal *journal_open(const char *dir);
void journal_close(struct vn_journal *j);
const char *journal_path(const struct vn_journal *j);
/* The host's boot id, as trials record it ("" unknown). */
void journal_boot_id(const struct vn_journal *j, char *buf, size_t len);

/*
 * 0 while every record is durable; else the errno of the write or read
 * that failed, until journal_retry() has rewritten the file.
 */
int journal_error(const struct vn_journal *j);
/* Wall time the journal began to fail. */
double journal_failed_at(const struct vn_journal *j);
/* Failed writes and reads since the journal was opened. */
uint64_t journal_failures(const struct vn_journal *j);
/* A failing journal: reads it again if it could not be, rewrites it. */
int journal_retry(struct vn_journal *j);

/*
 * The unjudged trials and the quarantines of the last run, each handed out
 * once (after an open that could not read the file, after the retry that
 * could); the caller frees them. A trial stays in the journal until its
 * verdict.
 */
struct journal_trial *journal_take_pending(struct vn_journal *j);
struct journal_quarantine *journal_take_quarantines(struct vn_journal *j);
void journal_free_pending(struct journal_trial *t);
void journal_free_quarantines(struct journal_quarantine *q);

/*
 * The intent of a trial, durable before any of it is applied: its actions
 * with the effect each may have ([0, all] for one about to be applied).
 * Returns the trial's id, 0 when it could not be written: then nothing of
 * it may be applied. act[i].slot is set to i.
 */
uint64_t journal_trial(struct vn_journal *j, const char *guest, int pid,
		       const struct vn_action *act, int n);
/*
 * What of the trial's actions is in effect now (act[i].eff_lo/eff_hi, for
 * journal slot act[i].slot). sync: durable before the caller goes on (an
 * undo about to start); else written, and synced by journal_commit(). 0 when
 * it is written (nothing to write counts), else -errno.
 */
int journal_update(struct vn_journal *j, uint64_t id, const struct vn_action *act,
		   int n, int sync);
/* The end of a trial: nothing of it is undone after a restart. */
int journal_verdict(struct vn_journal *j, uint64_t id, const char *guest,
		    const char *verdict, double gain);
int journal_quarantine(struct vn_journal *j, const char *guest, int node,
		       int strikes, double seconds);
/* Makes what was written since the last sync durable (once per tick). */
int journal_commit(struct vn_journal *j);
double journal_wall(void);

/* Bounds on what a record may hold (the reader refuses more). */
#define JOURNAL_MAX_VCPU	65535
#define JOURNAL_MAX_ACTIONS	(JOURNAL_MAX_VCPU + 1 + 64)
#define JOURNAL_MAX_NAME	255
#define JOURNAL_MAX_STRIKES	1000

#endif
