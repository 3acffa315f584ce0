/* SPDX-License-Identifier: MIT */
/*
 * vnumad-sim, the policy evaluation harness: runs the real rebalancer core
 * (inventory, sample, model, guard, policy, arbiter, actuate, record)
 * against the simulated host and scores it with the model's own truth.
 *
 *	main.c     the command line: run, compare, replay, speed
 *	run.c      one scenario under one policy, through core_tick()
 *	oracle.c   the yardsticks: each guest alone best placed, all together
 *	score.c    per-guest progress against the reference, its mean
 *	compare.c  scenarios x policies, as fractions of the oracle
 *	guard.c    the rollback guard's verdicts against the truth
 *	generate.c scenarios drawn from documented ranges, by seed
 *	csv.c      the per-tick timeline
 *	plot.c     the timeline drawn by gnuplot
 *	replay.c   a recorded trace through the advisory pipeline
 */
#ifndef VN_HARNESS_H
#define VN_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "sim.h"

/* Run length when neither the scenario nor --duration gives one. */
#define HS_DEFAULT_DURATION	600.0
/* Placements the oracle may enumerate one by one; more means local search. */
#define HS_EXHAUSTIVE_MAX	50000L
#define HS_ORACLE_BUDGET	100000L	/* evaluations per segment, local search */
#define HS_ORACLE_RESTARTS	8

/* What the command line asked for. */
struct hs_opts {
	const char *config;	/* -c FILE; NULL: the built-in defaults */
	const char *policy;	/* NULL: the configuration's */
	double interval;	/* > 0: seconds per tick, over the configuration */
	double duration;	/* > 0: simulated seconds, over the scenario's */
	long seed;		/* >= 0: the scenario's noise seed replaced */
	bool dry_run;		/* advise only: nothing is applied */
	bool worker;		/* a plugin runs in a worker, as vnumad runs it */
	int verbose;		/* 1: the core's output per tick; 2: debug log */
	bool json;		/* the core's output and the totals as JSON Lines */
	bool partial;		/* replay: accept a trace cut short */
	bool bench;		/* compare, guard: BENCH lines for tests/bench/run.sh */
	const char *suite;	/* compare --bench: NAME/ before every figure */
	bool validation;	/* every scenario of the validation family: its
				 * goals apply (margin over numad, GiB) */
	bool truth_instant;	/* guard: the truth from the tick before each move */
	int numa_balancing;	/* the host's own balancing: 1 on, 0 off, -1 the scenario's */
	const char *csv;	/* timeline file */
	const char *plot;	/* PNG file */
	const char *record;	/* trace file */
	long oracle_budget;	/* evaluations per segment of local search */
	int oracle_restarts;
	long oracle_exhaustive;	/* the most placements enumerated */
};

/* What a run or the oracle scored; the figures are the model's truth. */
struct hs_result {
	char *scenario;		/* file */
	char *policy;		/* name, or "oracle" */
	const char *runs_in;	/* a plugin: "in process" or "in a worker" */
	double duration;	/* simulated seconds */
	double interval;	/* seconds per tick */
	int nr_nodes;
	int nr_guests;		/* in the scenario, arrived or not */
	char **guest;		/* [nr_guests] names */
	double *guest_ips;	/* [nr_guests] instructions/s, mean over the run */
	double *guest_remote;	/* [nr_guests] share of DRAM accesses remote, -1 none */
	double ips;		/* the sum over guests: aggregate throughput */
	double remote;		/* share of all DRAM accesses that were remote */
	uint64_t bytes_migrated;	/* by vnumad */
	uint64_t host_migrated;	/* by the host's NUMA balancing */
	double hint_faults;	/* the host's NUMA hinting faults, in pages */
	uint64_t vcpu_moves;
	uint64_t memory_moves;
	uint64_t kept;
	uint64_t reverts;
	double wall;		/* seconds the run took */
	/* the oracle */
	bool exhaustive;	/* every segment searched exhaustively */
	int segments;		/* placements: one per stretch between events */
	long evaluations;
	/*
	 * convergence: after each arrival or phase change that the run gained
	 * from, the ticks until 90% of the stretch's gain was reached
	 */
	int *converge;		/* [nr_converge] ticks */
	int nr_converge;
	/* the score against a reference (hs_score_result) */
	double *progress;	/* [nr_guests] throughput over alone; -1: did not run */
	double score;		/* geometric mean of progress over the guests that ran */
	double worst;		/* the lowest progress */
	int worst_guest;	/* its index, -1 none */
	int scored;		/* guests that ran, 0: not scored */
	struct hs_level *level;	/* [segments]: each stretch's throughput */
};

/* The oracle's throughput over one stretch between events, [from, to). */
struct hs_level {
	double from, to;
	double ips;
};

/*
 * The yardstick of the score: each guest alone on the host, best placed,
 * over the stretches of the run it ran in (oracle.c). Its throughput there
 * is what a policy's throughput of the guest is divided by.
 */
struct hs_reference {
	int nr_guests;
	double duration;	/* the run's, simulated seconds */
	double *solo;		/* [nr_guests] instructions alone, over duration */
	double *alive;		/* [nr_guests] seconds it ran within the run */
	long evaluations;
	double wall;
};

void hs_result_free(struct hs_result *r);
/* Allocates the per-guest arrays and copies the names from the model. */
void hs_result_init(struct hs_result *r, const char *scenario, const char *policy,
		    const struct sim *s);
/* Totals in words (or one JSON object with o->json) on f. */
void hs_print_result(FILE *f, const struct hs_result *r, const struct hs_opts *o);

/*
 * Loads the configuration as vnumad would, with the harness's overrides
 * (backend sim, the scenario, policy, interval, dry run); prints every
 * error and returns -1 on any. cfg must be freed in every case.
 */
int hs_config(const struct hs_opts *o, const char *scenario, const char *policy,
	      struct vn_config *cfg);
/*
 * The configuration's policy (the one whose figures have goals), malloc'd,
 * or NULL when the configuration does not load.
 */
char *hs_default_policy(const char *scenario, const struct hs_opts *o);
/* Loads a scenario, printing every error (FILE:LINE: [section] key: why). */
struct sim *hs_load(const char *scenario);
/* Simulated seconds a run lasts: whole ticks covering the run length. */
double hs_run_length(const struct sim *s, const struct hs_opts *o, double interval);

/*
 * The contender `kernel`: no vnumad moves (policy none) on a host whose
 * automatic NUMA balancing is on.
 */
#define HS_KERNEL	"kernel"
/* The policy the core runs for a contender: none for kernel, else itself. */
const char *hs_core_policy(const char *contender);
void hs_baseline_config(struct vn_config *cfg, const struct sim *s);

/* run.c: one scenario, one policy, through the real core. 0 or -1. */
int hs_run(const char *scenario, const char *policy, const struct hs_opts *o,
	   struct hs_result *r);
/*
 * oracle.c: the best-known placement per stretch between events, scored;
 * ref (if not NULL) gets the reference found on the way. 0 or -1.
 */
int hs_oracle(const char *scenario, const struct hs_opts *o, struct hs_result *r,
	      struct hs_reference *ref);
/* The reference alone, without the oracle's search. 0 or -1. */
int hs_reference(const char *scenario, const struct hs_opts *o,
		 struct hs_reference *ref);
void hs_reference_free(struct hs_reference *ref);

/*
 * score.c: fills r->progress, score, worst, worst_guest and scored from
 * r->guest_ips against the reference of the same scenario and run length.
 */
void hs_score_result(struct hs_result *r, const struct hs_reference *ref);
/* The geometric mean of x[0..n-1] (each floored at 1e-9); 0 for n = 0. */
double hs_geomean(const double *x, int n);
/* compare.c */
int hs_compare(char **scenarios, int n, const char *policies,
	       const struct hs_opts *o);
/*
 * guard.c: every scenario under every policy, `runs` seeds each; the guard's
 * verdicts scored against the truth. 0 or -1.
 */
int hs_guard(char **scenarios, int ns, char **policies, int np, int runs,
	     const struct hs_opts *o);
/* replay.c */
int hs_replay(const char *trace, const struct hs_opts *o);

/*
 * generate.c: the scenario of a seed, as INI text (malloc'd; NULL when
 * memory runs out). Seeds below HS_VALIDATION_SEED are the tuning family,
 * from it to HS_SEED_MAX the validation family.
 */
#define HS_VALIDATION_SEED	1000000L
#define HS_SEED_MAX		1999999L
char *hs_generate(uint64_t seed);

/* csv.c: the timeline, one row per tick. */
struct hs_tick {
	uint64_t tick;
	double time;		/* end of the tick */
	double ips;		/* mean over the tick, all guests */
	double remote;		/* over the tick, -1 no access */
	uint64_t vcpu_moves;	/* applied in the tick */
	uint64_t memory_moves;
	uint64_t bytes_migrated;	/* so far */
	uint64_t reverts;	/* in the tick */
	const double *guest_ips;	/* [nr_guests], mean over the tick */
};

struct hs_csv;
struct hs_csv *csv_open(const char *path, const struct sim *s);
void csv_row(struct hs_csv *c, const struct hs_tick *t);
int csv_close(struct hs_csv *c);

/* plot.c: draws a timeline CSV as a PNG with gnuplot; 0 or -1 after saying why. */
bool plot_available(void);
/* 0 when png can be written, else -1 after saying why; before a run. */
int plot_check_output(const char *png);
/*
 * Draws the timeline csv into png: throughput with the oracle's level
 * (orc's stretches; NULL: none) and the remote share, both fitted to the
 * data, with the scenario s's arrivals, departures and phase changes
 * within (0, duration) marked.
 */
int plot_png(const char *png, const char *csv, const char *title, const struct sim *s,
	     double duration, const struct hs_result *orc);

#endif
