/* SPDX-License-Identifier: MIT */
/*
 * The daemon core: the state that lives across ticks and the tick pipeline
 *
 *   inventory -> sample -> model -> guard -> publish -> policy -> arbiter
 *     -> actuate -> record
 *
 * one stage per file, each file named after its stage and exporting
 * stage_NAME(); what else a file exports carries its name as a prefix
 * (history.c: history_*, migration.c: migration_*), as in tmux. A stage
 * calls only stages before its own in the list above (actuate starts the
 * guard's trials, publish reads the guard's state), but for the guard,
 * which records its verdicts through record.c; tests/t_layers.sh checks
 * that the calls among them have no circle. The decisions of a
 * tick are values that travel: stage_arbiter(c, &out, &dec) ->
 * stage_actuate(c, &dec) -> stage_record(c, &dec). The core is the same for
 * the daemon, the advisory mode and the simulator harness; it knows its
 * backend and counter source only through their ops tables, which the
 * caller picks (backend/registry.c).
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

/* A byte count not known (a guest's memory not read yet). */
#define VN_BYTES_UNKNOWN	UINT64_MAX

/*
 * One change applied to a guest, as the guard remembers it and the journal
 * records it: what was asked, and what of it may be in effect, at least
 * eff_lo and at most eff_hi (bytes; 1 or 0 for a vCPU). The journal holds
 * the bounds before the change that would break them is made (write ahead),
 * so that a restart undoes no more than was done and nothing that was.
 */
struct vn_action {
	enum vnumad_proposal_kind kind;	/* VCPU or MEMORY */
	int vcpu;
	int from, to;
	uint64_t old_allowed;	/* vCPU affinity before the move */
	uint64_t bytes;		/* memory asked for */
	struct vn_migration *mig;	/* memory move in flight, or NULL */
	struct vn_migration *undo;	/* its undo in flight, or NULL */
	uint64_t eff_lo, eff_hi;	/* in effect, as above */
	uint64_t base_lo, base_hi;	/* in effect when the undo in flight began */
	uint64_t undo_bytes;		/* what that undo was asked to take back */
	/* the guest's bytes on `from` and `to` when the move was asked */
	uint64_t before_from, before_to;	/* or VN_BYTES_UNKNOWN */
	int slot;		/* its index in the journal's record of the trial */
};

enum vn_trial_state {
	VN_TRIAL_MIGRATING,	/* waiting for memory to finish moving */
	VN_TRIAL_SETTLING,
	VN_TRIAL_JUDGING,
	VN_TRIAL_REVERTING,	/* judged (or left by the last run): being undone */
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
	bool restart;		/* left unjudged by the last run */
	bool undo_started;	/* REVERTING: the journal holds the undo, it runs */
	bool mem_known;		/* mem holds the placement judged */
	uint64_t mem[VN_MAX_NODES];	/* the guest's memory per node when the
					 * moves were applied */
	struct vn_trial *next;
};

enum vn_trial_event {
	VN_TRIAL_STARTED,
	VN_TRIAL_KEPT,		/* judged good or neutral */
	VN_TRIAL_REVERTED,
	VN_TRIAL_UNJUDGED,	/* kept: too few readings to judge it */
	VN_TRIAL_ABANDONED,	/* the guest went away */
};

/* What the guard found when it ended a trial, and from which figures. */
struct vn_verdict {
	enum vn_trial_event ev;	/* KEPT, REVERTED, UNJUDGED or ABANDONED */
	double gain;		/* normalised change raw / drift - 1; 0 unjudged */
	double raw;		/* the guest's judge / baseline ratio; NaN unjudged */
	double drift;		/* the host's drift: the median ratio of the guests
				 * left alone (1 without any); NaN unjudged */
	int drift_n;		/* how many guests the drift was taken over */
	int windows;		/* judge windows it took (close calls take more) */
	uint64_t base_from, base_to;	/* the baseline window, ticks */
	uint64_t judge_from, judge_to;	/* the judge window, ticks */
	char why[160];		/* the verdict in words */
};

/*
 * A (guest, target node) pair that lost a trial. The verdict was on one
 * placement of the guest's memory (mem, as the trial began): once
 * the guest has moved much of its memory itself, the quarantine is lifted
 * (its strikes stay). One restored from the journal has no such placement.
 */
struct vn_quarantine {
	char *guest;
	int node;
	int strikes;
	double until;
	bool mem_known;
	uint64_t mem[VN_MAX_NODES];
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
	VN_DROP_REFUSED,
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

/* A proposal on its way through the tick: checked, applied, recorded. */
struct vn_decision {
	struct vnumad_proposal p;
	struct vn_guest *g;	/* NULL when p.guest is not a guest */
	bool accepted;
	enum vn_drop why;	/* when dropped */
	bool applied;		/* actuation succeeded */
	uint64_t old_allowed;	/* vCPU affinity before the move */
	int error;		/* errno of a failed actuation */
	uint64_t tag;		/* 0: the policy's; else an operator's move, whose
				 * migrations carry the tag */
	int order;		/* position in admission order (best gain first) */
	int rank;		/* accepted: its guest's rank (best guest 0) */
};

/*
 * A tick's decisions, as the arbiter leaves them: d[0..nr_accepted) the
 * accepted, grouped by guest (the guest with the best gain first), then
 * the dropped. The buffer is the core's, reused from tick to tick.
 */
struct vn_decisions {
	struct vn_decision *d;
	int nr;
	int nr_accepted;
	int cap;
};

/* One recommendation as the advisory output last reported it. */
struct vn_advice {
	uint64_t guest_id;
	char *guest;		/* its name, for a guest that has gone since */
	int pos;		/* the guest's place in the host's list: the order */
	enum vnumad_proposal_kind kind;
	int vcpu;
	int from, to;
	uint64_t bytes;		/* shown, not compared: readings move */
	uint64_t nodes;
};

/*
 * What the advisory output said in the last decision round (record.c), so
 * that a recommendation is printed when it appears, changes or goes, and
 * recalled every [daemon] remind while it stays.
 */
struct vn_advised {
	struct vn_advice *a;	/* in output order: by guest, then move */
	int nr, cap;
	double said;		/* when they were last printed or recalled */
};

/* The policy in use, built in or loaded from a shared object. */
struct vn_policy_rt {
	const struct vnumad_policy *desc;
	void *priv;
	bool inited;
	int failures;		/* consecutive failed ticks */
	bool disabled;		/* too many failures: the default advises */
	uint64_t ticks;		/* tick calls answered */
	struct vnumad_proposal *buf;
	int cap;
	uint64_t seed;		/* the configuration's, for the fallback too */
	struct vn_worker *worker;	/* worker.c: the plugin's process, or NULL */
	struct vn_fallback *fallback;	/* worker.c: the default, once it advised */
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
	double tick_cpu_total;	/* tick_cpu and tick_wall summed over the ticks */
	double tick_wall_total;
};

/*
 * What the memory readings of the sample stage may spend (sample.c): each
 * tick adds [sampling] memory_budget of CPU time, a reading takes what it
 * cost, and guests wait their turn, round robin, while nothing is left.
 */
struct vn_mem_budget {
	double credit;		/* CPU seconds left; negative: owed by a costly reading */
	int cursor;		/* index of the guest the next round starts at */
	bool late;		/* a guest waits a whole interval beyond its due: warned */
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
	int journal_err;	/* the journal fails (errno): advising only */
	struct vn_trace *trace;		/* --record: inventory and samples */
	struct journal_trial *restart_pending;	/* unjudged when we last died */
	struct vn_migration *migrations;	/* migration.c's list */
	struct vnumad_view view;	/* what the publish stage built */
	struct vn_decisions dec;	/* this tick's */
	struct vn_advised advised;	/* what the advisory output said last */
	struct vn_stats stats;
	struct vn_mem_budget mem_budget;
	enum vn_output output;
	FILE *out;
	bool verbose;		/* also print dropped proposals */
	bool once;		/* exits after one decision: nothing to judge */
	bool virtual_time;
	bool decided;		/* the policy ran in the last tick */
	double start;		/* monotonic time at start */
	/* told when a trial starts (v NULL) and how it ended, with the guard's
	 * own figures (the harness scores the guard with them) */
	void (*trial_hook)(struct vn_core *c, const struct vn_trial *t,
			   enum vn_trial_event ev, const struct vn_verdict *v, void *arg);
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
/* "sim", "pmu", "faults", "estimate" or "none". */
const char *core_source_name(enum vnumad_source s);
/*
 * The gain expected for guest g of its decisions among d[0..n) (the
 * applied ones, or the accepted ones when !applied): a vCPU's gain counts
 * for its share of the guest's instructions, so that four vCPUs at +40%
 * each on a guest of eight equal vCPUs expect +20% for the guest. Shared
 * by actuate (the trial's expectation) and record (what the output says).
 */
double core_guest_gain(const struct vn_guest *g, const struct vn_decision *d, int n,
		       bool applied);

/*
 * Opens the journal in state_dir and takes what the last run left (core_open
 * does, for a host in real time that is not a dry run); -EPERM when the
 * state directory is refused.
 */
int core_journal_open(struct vn_core *c);
/*
 * Follows the journal's state: true (and advising only, said once in the
 * log) while it cannot be written.
 */
bool core_journal_failing(struct vn_core *c);

/*
 * True when nothing is applied: a dry run, an advisory-only policy, a
 * journal that cannot be written (until it can), or a disabled policy in
 * whose place the built-in default advises.
 */
static inline bool core_advisory(const struct vn_core *c)
{
	return c->cfg.dry_run || c->journal_err || c->policy.disabled ||
		(c->policy.desc &&
		(c->policy.desc->flags & VNUMAD_POLICY_F_ADVISORY_ONLY));
}

/* The stages, in tick order, one file each. */
int stage_inventory(struct vn_core *c);				/* inventory.c */
void stage_sample(struct vn_core *c);				/* sample.c */
/*
 * How far a guest's memory distribution `now` is from `before`: half the
 * sum of the per-node differences of their shares, 0 (the same) to 1;
 * 0 when either is empty.
 */
double sample_mem_shift(const uint64_t *before, const uint64_t *now, int nr_nodes);
void stage_model(struct vn_core *c);				/* model.c */
void stage_guard(struct vn_core *c);				/* guard.c */
void stage_publish(struct vn_core *c);				/* publish.c */
int stage_policy(struct vn_core *c, struct vnumad_out *out);	/* plugin.c */
void stage_arbiter(struct vn_core *c, const struct vnumad_out *out,
		   struct vn_decisions *dec);			/* arbiter.c */
void stage_actuate(struct vn_core *c, struct vn_decisions *dec);	/* actuate.c */
/*
 * A whole-guest move takes the guest's memory from every node outside its
 * targets that holds at least GUEST_MOVE_MIN of it (less is no guest RAM
 * worth a migration: QEMU's own small mappings, which the mover does not
 * take) to host_freest_node() of its targets.
 */
#define GUEST_MOVE_MIN	(2 * MiB)
void stage_record(struct vn_core *c, const struct vn_decisions *dec);	/* record.c */

/*
 * history.c: each guest's per-tick figure of merit, for the guard. Where it
 * is the local share, this is added to it, so that a guest all remote has
 * a figure to divide by.
 */
#define HIST_LOCAL_FLOOR	0.01
void history_record(struct vn_guest *g, uint64_t tick, double value);
/*
 * The figures of the tick history_record just wrote that tell a phase of
 * the guest's workload from the effect of a move: its DRAM accesses per
 * instruction and the local share of them (NaN unknown).
 */
void history_record_mix(struct vn_guest *g, uint64_t tick, double api, double share);
/* Means of those over ticks [a, b], as history_mean; the share's rse2. */
double history_mean_api(const struct vn_guest *g, uint64_t a, uint64_t b);
double history_mean_share(const struct vn_guest *g, uint64_t a, uint64_t b);
double history_rse2_share(const struct vn_guest *g, uint64_t a, uint64_t b);
/*
 * Forgets every reading: the figure changed kind (a sampler that fell back
 * to /proc, or came back), and a ratio across kinds means nothing.
 */
void history_reset(struct vn_guest *g);
/* Mean over ticks [a, b]; NaN when fewer than half of them are known. */
double history_mean(const struct vn_guest *g, uint64_t a, uint64_t b);
/* The squared relative standard error of that mean, or -1 if unknown. */
double history_rse2(const struct vn_guest *g, uint64_t a, uint64_t b);
/* The tick that ended at core time `when`, counted back from this one. */
uint64_t history_tick_at(const struct vn_core *c, double when);
/* True when the guest has enough of a baseline for a move to be judged. */
bool history_has_baseline(const struct vn_core *c, const struct vn_guest *g);
/*
 * True for a guest's first move when its figure is unambiguous: the guard
 * may try it before the guest has a full baseline (the arbiter's check).
 */
bool history_clear_first_move(const struct vn_core *c, const struct vn_guest *g,
			      const struct vnumad_proposal *p);

/* migration.c: the memory migrations in flight */
/*
 * Starts moving bytes of g's memory from node `from` to `to` (revert: the
 * guard's undo; tag: an operator's move, else 0); NULL with *err set when
 * the backend refuses.
 */
struct vn_migration *migration_start(struct vn_core *c, struct vn_guest *g, int from,
				     int to, uint64_t bytes, bool revert, uint64_t tag,
				     int *err);
bool migration_running(const struct vn_core *c, uint64_t guest_id);
/*
 * Bytes of migration the arbiter may accept now: a minute of migrate_rate
 * less what is queued, or anything at all when nothing is queued, so that a
 * guest bigger than a minute's worth can still be moved (one at a time).
 */
double migration_budget(const struct vn_core *c);
/* Cancels the guest's running migrations (guest_id 0: every one). */
void migration_cancel_guest(struct vn_core *c, uint64_t guest_id);
/* Logs the migrations that ended and frees those no trial points at. */
void migration_reap(struct vn_core *c);
void migration_free_all(struct vn_core *c);

/* guard.c */
/* Starts judging the actions applied to g; jid: their journal record, or 0. */
void guard_start_trial(struct vn_core *c, struct vn_guest *g,
		       const struct vn_action *act, int n, double expected, uint64_t jid);
bool guard_in_trial(const struct vn_core *c, uint64_t guest_id);
/*
 * The node mask of g's running quarantines, after lifting those whose
 * placement is gone (its memory moved by a quarter since; logged, and
 * journaled as ended).
 */
uint64_t guard_quarantine_mask(struct vn_core *c, const struct vn_guest *g);
/* The quarantine running for (guest, node), or NULL. */
const struct vn_quarantine *guard_quarantine_of(const struct vn_core *c,
						const char *guest, int node);
void guard_guest_gone(struct vn_core *c, struct vn_guest *g);
void guard_fini(struct vn_core *c);
/* At a clean stop: trials still running end unjudged, in the journal too. */
void guard_stop(struct vn_core *c);
/*
 * Restores the quarantines the journal read back; takes its unjudged trials,
 * which the next guard stage undoes (each tick: a journal that could not be
 * read at open may be read later).
 */
void guard_restore(struct vn_core *c);

/* publish.c: the view's derived flags of one guest, between ticks too */
void publish_guest(struct vn_core *c, struct vn_guest *g);

/* plugin.c: the policy runtime */
int plugin_start(struct vn_policy_rt *rt, const struct vn_config *cfg);
/* Stops the policy: its guests' storage, exit info, fini. h may be NULL. */
void plugin_stop(struct vn_policy_rt *rt, struct vn_host *h,
		 enum vnumad_exit_kind why);
/* A guest the core drops: the policy's guest_exit for it. */
void plugin_guest_gone(struct vn_policy_rt *rt, struct vn_guest *g);
void plugin_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* arbiter.c */
/* Rules an operator's move may waive; the policy's moves waive none. */
#define ARBITER_WAIVE_PINNED	(1u << 0)	/* --force */
#define ARBITER_WAIVE_OPTED_OUT	(1u << 1)	/* --force */
#define ARBITER_WAIVE_HISTORY	(1u << 2)	/* judged as far as it can be */
#define ARBITER_WAIVE_GAIN	(1u << 3)	/* an operator's move has no gain */
#define ARBITER_WAIVE_TICK_CAP	(1u << 4)	/* made between ticks */
#define ARBITER_WAIVE_CPU_ROOM	(1u << 5)	/* one of a swap: the other makes room */
/* What every operator's move waives: it is asked for, not proposed. */
#define ARBITER_OPERATOR	(ARBITER_WAIVE_HISTORY | ARBITER_WAIVE_GAIN | \
				 ARBITER_WAIVE_TICK_CAP)
#define ARBITER_FORCE		(ARBITER_WAIVE_PINNED | ARBITER_WAIVE_OPTED_OUT)

/* What is left to give in one round of decisions. */
struct arbiter_room {
	double cpu[VN_MAX_NODES];	/* free CPUs per node */
	double mem[VN_MAX_NODES];	/* free bytes per node */
	double budget;			/* bytes of migration */
	long moves;			/* moves accepted so far */
};

const char *arbiter_drop_reason(enum vn_drop why);
/* The reason as a metrics label value: "pinned", "cpu_capacity", ... */
const char *arbiter_drop_slug(enum vn_drop why);
/*
 * The rules that need no accounting (sense, pinning, opt-out, refusal,
 * quarantine, trial, hysteresis, hourly cap, memory moves, history, gain):
 * -1 when d passes, else the drop reason. Sets d->g.
 */
int arbiter_check(struct vn_core *c, struct vn_decision *d, unsigned waive);
void arbiter_room_init(const struct vn_core *c, struct arbiter_room *room);
/*
 * The rules that account (one change per vCPU and guest against the
 * accepted before[0..n), the per-tick cap, CPU and memory capacity, the
 * migration budget): -1 and d charged to room, or the drop reason.
 */
int arbiter_admit(struct vn_core *c, struct arbiter_room *room,
		  const struct vn_decision *before, int n, struct vn_decision *d,
		  unsigned waive);

/* actuate.c */
/* True for an errno after which the backend will never make the move. */
bool actuate_permanent(int err);
/*
 * Applies the accepted decisions d[0..n) of one guest (d[0].g) and makes
 * them one trial; also the way in for the operator's manual moves.
 */
void actuate_guest(struct vn_core *c, struct vn_decision *d, int n);

/* record.c */
/* Prints or logs decisions (the tick's, or an operator's). */
void record_decisions(struct vn_core *c, const struct vn_decision *d, int n);
/* Forgets what the advisory output said. */
void record_fini(struct vn_core *c);
void record_verdict(struct vn_core *c, const struct vn_trial *t,
		    const struct vn_verdict *v);
void record_event(struct vn_core *c, const char *what, const char *guest,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
