/* SPDX-License-Identifier: MIT */
/*
 * vnumad-sim, the policy evaluation harness: runs the real rebalancer core
 * (inventory, sample, model, guard, policy, arbiter, actuate, record)
 * against the simulated host and scores it with the model's own truth.
 *
 *	main.c     the command line: run, compare, replay, speed
 *	run.c      one scenario under one policy, through core_tick()
 *	oracle.c   the best placement the model allows, found by search
 *	compare.c  scenarios x policies, as fractions of the oracle
 *	guard.c    the rollback guard's verdicts against the truth
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
	struct hs_level *level;	/* [segments]: each stretch's throughput */
};

/* The oracle's throughput over one stretch between events, [from, to). */
struct hs_level {
	double from, to;
	double ips;
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

/* run.c: one scenario, one policy, through the real core. 0 or -1. */
int hs_run(const char *scenario, const char *policy, const struct hs_opts *o,
	   struct hs_result *r);
/* oracle.c: the best-known static placement per stretch between events. */
int hs_oracle(const char *scenario, const struct hs_opts *o, struct hs_result *r);
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
