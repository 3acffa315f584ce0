/* SPDX-License-Identifier: MIT */
/*
 * The daemon core: the state that lives across ticks and the tick pipeline
 *
 *   inventory -> sample -> model -> guard -> policy -> arbiter -> actuate -> record
 *
 * one stage per file. The core is the same for the daemon, the advisory mode
 * and the simulator harness.
 */
#ifndef VN_CORE_H
#define VN_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "plugin.h"
#include "vnumad.h"

struct event_base;
struct journal_trial;
struct vn_journal;
struct vn_trace;

/* One change applied to a guest, as the guard remembers it. */
struct vn_action {
	enum vnumad_proposal_kind kind;	/* VCPU or MEMORY */
	int vcpu;
	int from, to;
	uint64_t old_allowed;	/* vCPU affinity before the move */
	uint64_t bytes;		/* memory asked for */
	struct vn_migration *mig;	/* memory move in flight, or NULL */
};

enum vn_trial_state {
	VN_TRIAL_MIGRATING,	/* waiting for memory to finish moving */
	VN_TRIAL_SETTLING,
	VN_TRIAL_JUDGING,
};

/* The moves applied to one guest in one tick, judged together. */
struct vn_trial {
	uint64_t guest_id;
	char *guest;		/* name, for messages after the guest is gone */
	struct vn_action *act;
	int nr_act;
	uint64_t tick;		/* tick the moves were applied */
	uint64_t base_from;	/* first tick of the baseline window */
	double applied;		/* time the moves were applied */
	double judge_from;	/* start of the judging window */
	double judge_until;
	double expected;	/* the policy's expected gain */
	uint64_t jid;		/* its record in the journal, 0 none */
	enum vn_trial_state state;
	struct vn_trial *next;
};

enum vn_trial_event {
	VN_TRIAL_STARTED,
	VN_TRIAL_KEPT,		/* judged good or neutral, or unjudgeable */
	VN_TRIAL_REVERTED,
	VN_TRIAL_ABANDONED,	/* the guest went away */
};

/* A (guest, target node) pair that lost a trial. */
struct vn_quarantine {
	char *guest;
	int node;
	int strikes;
	double until;
	struct vn_quarantine *next;
};

/* Why the arbiter dropped a proposal. */
enum vn_drop {
	VN_DROP_INVALID,
	VN_DROP_PINNED,
	VN_DROP_OPTED_OUT,
	VN_DROP_QUARANTINE,
	VN_DROP_TRIAL,
	VN_DROP_HYSTERESIS,
	VN_DROP_HOURLY_CAP,
	VN_DROP_NO_HISTORY,
	VN_DROP_CPU_CAPACITY,
	VN_DROP_MEMORY_CAPACITY,
	VN_DROP_NO_MEMMOVE,
	VN_DROP_MIGRATING,
	VN_DROP_BANDWIDTH,
	VN_DROP_GAIN,
	VN_DROP_TICK_CAP,
	VN_DROP_DUPLICATE,
	VN_DROP_NR
};

extern const char *const vn_drop_reasons[VN_DROP_NR];

/* A proposal after the arbiter: accepted, or dropped and why. */
struct vn_decision {
	struct vnumad_proposal p;
	struct vn_guest *g;
	bool accepted;
	enum vn_drop why;
	bool applied;		/* actuation succeeded */
	uint64_t old_allowed;	/* vCPU affinity before the move */
	int error;		/* errno of a failed actuation */
};

/* The policy in use, built in or loaded from a shared object. */
struct vn_policy_rt {
	const struct vnumad_policy *desc;
	void *priv;
	bool inited;
	int failures;		/* consecutive failed ticks */
	bool disabled;		/* too many failures: advising only */
	struct vnumad_proposal *buf;
	int cap;
};

struct vn_stats {
	uint64_t ticks;
	uint64_t decisions;	/* ticks where the policy ran */
	uint64_t proposals;
	uint64_t accepted;
	uint64_t dropped[VN_DROP_NR];
	uint64_t vcpu_moves;
	uint64_t memory_moves;
	uint64_t bytes_migrated;
	uint64_t kept;		/* trials judged good or neutral */
	uint64_t reverted;
	uint64_t actuation_errors;
	uint64_t sample_errors;
	double tick_cpu;	/* CPU seconds of model, guard, policy, arbiter */
	double tick_wall;	/* wall seconds of the whole last tick */
};

enum vn_output {
	VN_OUT_NONE,		/* daemon: log only */
	VN_OUT_TEXT,
	VN_OUT_JSON,
};

struct vn_core {
	struct vn_config cfg;
	struct vn_host host;
	struct vn_backend backend;
	struct vn_sampler sampler;
	struct vn_policy_rt policy;
	struct vn_trial *trials;
	struct vn_quarantine *quarantine;
	struct vn_journal *journal;	/* NULL: dry run or simulated host */
	struct vn_trace *trace;		/* --record: inventory and samples */
	struct journal_trial *restart_pending;	/* unjudged when we last died */
	struct vn_migration *migrations;
	struct vn_decision *dec;
	int nr_dec;
	int cap_dec;
	struct vn_stats stats;
	enum vn_output output;
	FILE *out;
	bool verbose;		/* also print dropped proposals */
	bool once;		/* exits after one decision: nothing to judge */
	bool virtual_time;
	bool decided;		/* the policy ran in the last tick */
	double start;		/* monotonic time at start */
	uint64_t tag;		/* tag of the manual move being applied, 0 none */
	/* told when a trial starts and when it is judged (the harness scores
	 * the guard with them) */
	void (*trial_hook)(struct vn_core *c, const struct vn_trial *t,
			   enum vn_trial_event ev, double gain, void *arg);
	void *trial_hook_arg;
	/* told when a migration ends (manual moves follow theirs) */
	void (*mig_hook)(struct vn_core *c, const struct vn_migration *m, void *arg);
	void *mig_hook_arg;
	uint64_t moved_tick[2];	/* the last two ticks with moves applied, newest first */
	int hist_baseline;	/* guard windows in ticks */
	int hist_settle;
	int hist_judge;
};

/* core.c */
/*
 * Opens c->backend.ops and c->sampler.ops, which the caller has set
 * (registry_pick()), and the policy; returns 0 or a negative errno.
 */
int core_open(struct vn_core *c, struct event_base *base, enum vn_output output,
	      FILE *out);
void core_close(struct vn_core *c);
int core_tick(struct vn_core *c);
/* Applies a new configuration in place (SIGHUP); the backend stays. */
void core_reconfigure(struct vn_core *c, struct vn_config *fresh);
void core_dump_state(struct vn_core *c);

/* Stages, one file each. */
int stage_inventory(struct vn_core *c);	/* inventory.c */
void stage_sample(struct vn_core *c);	/* sample.c */
void stage_model(struct vn_core *c);	/* model.c */
void stage_guard(struct vn_core *c);	/* guard.c */
int stage_policy(struct vn_core *c, struct vnumad_out *out);	/* plugin.c */
void stage_arbiter(struct vn_core *c, const struct vnumad_out *out);	/* arbiter.c */
void stage_actuate(struct vn_core *c);	/* actuate.c */
void stage_record(struct vn_core *c);	/* record.c */

/* arbiter.c: bytes of migration the arbiter would accept now */
double vn_migrate_budget(const struct vn_core *c);

/* True when nothing is applied: a dry run, or an advisory-only policy. */
static inline bool core_advisory(const struct vn_core *c)
{
	return c->cfg.dry_run || (c->policy.desc &&
		(c->policy.desc->flags & VNUMAD_POLICY_F_ADVISORY_ONLY));
}

/* guard.c */
void guard_start_trial(struct vn_core *c, struct vn_guest *g,
		       const struct vn_action *act, int n, double expected);
bool guard_quarantined(const struct vn_core *c, const char *guest, int node);
uint64_t guard_quarantine_mask(const struct vn_core *c, const char *guest);
void guard_guest_gone(struct vn_core *c, struct vn_guest *g);
void guard_fini(struct vn_core *c);
/* At a clean stop: trials still running end unjudged, in the journal too. */
void guard_stop(struct vn_core *c);
/* Restores the quarantines the journal kept; takes its unjudged trials. */
void guard_restore(struct vn_core *c);
bool guard_in_trial(const struct vn_core *c, uint64_t guest_id);
/* Mean of a guest's per-tick history over ticks [a, b]; NaN if mostly unknown. */
double guard_window_mean(const struct vn_guest *g, uint64_t a, uint64_t b);
/* The tick at core time `when`, counted back from the current tick. */
uint64_t guard_tick_at(const struct vn_core *c, double when);

/* plugin.c */
int policy_rt_open(struct vn_policy_rt *rt, const struct vn_config *cfg);
void policy_rt_close(struct vn_policy_rt *rt);
void plugin_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* actuate.c */
void core_apply(struct vn_core *c, struct vn_guest *g, struct vn_decision *d, int n);
struct vn_migration *core_migrate(struct vn_core *c, struct vn_guest *g,
				  int from, int to, uint64_t bytes, bool revert);
void core_reap_migrations(struct vn_core *c);

/* record.c */
void report_verdict(struct vn_core *c, const struct vn_trial *t, bool keep,
		    double gain, const char *why);
void report_event(struct vn_core *c, const char *what, const char *guest,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

const char *source_name(enum vnumad_source s);

#endif
