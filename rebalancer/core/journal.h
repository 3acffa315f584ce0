/* SPDX-License-Identifier: MIT */
#ifndef VN_JOURNAL_H
#define VN_JOURNAL_H

#include <stdint.h>

struct vn_action;
struct vn_journal;

/* A trial that had no verdict when the daemon last stopped. */
struct journal_trial {
	uint64_t id;
	char *guest;
	double wall;		/* when it was applied, wall clock */
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
 * Opens DIR/journal (creating DIR 0700), reads back what the last run left
 * and rewrites the file with only that. NULL (logged) if it cannot.
 */
struct vn_journal *journal_open(const char *dir);
void journal_close(struct vn_journal *j);

/* The unjudged trials of the last run; the caller frees them. */
struct journal_trial *journal_take_pending(struct vn_journal *j);
void journal_free_pending(struct journal_trial *t);
const struct journal_quarantine *journal_quarantines(const struct vn_journal *j);

/* Records an applied trial; returns its id for the verdict. */
uint64_t journal_trial(struct vn_journal *j, const char *guest,
		       const struct vn_action *act, int n);
void journal_verdict(struct vn_journal *j, uint64_t id, const char *guest,
		     const char *verdict, double gain);
void journal_quarantine(struct vn_journal *j, const char *guest, int node,
			int strikes, double seconds);
double journal_wall(void);

#endif
