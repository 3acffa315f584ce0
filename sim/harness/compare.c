// SPDX-License-Identifier: MIT
/*
 * compare: every scenario under every policy, each scored against the
 * reference and the oracle of the same scenario. Every input is checked
 * before anything runs, so that a broken scenario or an unknown policy
 * costs no time: all their errors are printed (file, line, key) and the
 * exit status is 1.
 *
 * The table has one block per scenario, the oracle first: each run's score
 * (the geometric mean of its guests' progress, score.c), that score over
 * the oracle's, its worst guest, and as secondary columns the aggregate
 * instructions per second (and its fraction of the oracle's), the remote
 * share, what it migrated. The last block sums up each policy over the
 * scenarios: the geometric mean of its fractions of the oracle, the worst
 * one, its margins over the baselines, and what it migrated. With --bench,
 * each figure is also a BENCH line for tests/bench/run.sh; the per-scenario
 * ones say level=detail, so that the report keeps them out of its table.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core.h"
#include "harness.h"
#include "log.h"
#include "policies.h"
#include "util.h"

/*
 * The baselines every policy's margin is taken over, in this order: doing
 * nothing, numad's heuristic, and the kernel's automatic NUMA balancing
 * (no vnumad moves on a host whose balancing is on). Another contender is
 * one more entry.
 */
static const char *const baselines[] = { "none", "numad", HS_KERNEL, NULL };

/* What one run scored, kept for the summary. */
struct cell {
	double score;		/* geometric mean of the guests' progress */
	double worst;		/* lowest progress of a guest */
	double ips;		/* aggregate instructions/s */
	double gib;		/* migrated */
	uint64_t moves;
	double converge;	/* median ticks to 90% of an event's gain, -1 none */
};

/* "sim/scenarios/demo.ini" -> "demo"; "gen:7" stays. */
static void short_name(const char *path, char *buf, size_t len)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n > 4 && strcmp(b + n - 4, ".ini") == 0)
		n -= 4;
	snprintf(buf, len, "%.*s", (int)n, b);
}

/*
 * The policies to run: a comma-separated list; "all", every built-in one
 * and kernel; by default the same but chaos, whose harmful moves are there
 * to test the guard, not to be ranked.
 */
static char **policy_list(const char *spec, int *n)
{
	bool all = spec && strcmp(spec, "all") == 0;
	char **v, *copy;
	int cap = 0;

	*n = 0;
	if (!spec || all) {
		for (int i = 0; vn_builtin_policies[i]; i++)
			cap++;
		v = xcalloc(cap + 2, sizeof(*v));
		for (int i = 0; vn_builtin_policies[i]; i++)
			if (all || vn_builtin_policies[i] != &vn_policy_chaos)
				v[(*n)++] = xstrdup(vn_builtin_policies[i]->name);
		v[(*n)++] = xstrdup(HS_KERNEL);
		return v;
	}
	copy = xstrdup(spec);
	cap = 1;
	for (const char *p = spec; *p; p++)
		cap += *p == ',';
	v = xcalloc(cap + 1, sizeof(*v));
	for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
		while (*tok == ' ')
			tok++;
		if (*tok && strcmp(tok, "oracle") != 0)	/* always there */
			v[(*n)++] = xstrdup(tok);
	}
	free(copy);
	return v;
}

static int policy_index(char **pol, int np, const char *name)
{
	for (int p = 0; p < np; p++)
		if (strcmp(pol[p], name) == 0)
			return p;
	return -1;
}

/*
 * The geometric mean over the scenarios of policy p's score over policy
 * q's, minus 1, in percent: how much better p does than q on the same
 * scenarios in the same run.
 */
static double margin_pct(const struct cell *c, int ns, int np, int p, int q)
{
	double sum = 0;

	for (int i = 0; i < ns; i++)
		sum += log(MAX(c[i * np + p].score, 1e-9) / MAX(c[i * np + q].score, 1e-9));
	return (exp(sum / ns) - 1) * 100;
}

/* The lowest over the scenarios of p's score over q's. */
static double worst_ratio(const struct cell *c, int ns, int np, int p, int q, int *at)
{
	double w = INFINITY;

	for (int i = 0; i < ns; i++) {
		double x = c[i * np + p].score / MAX(c[i * np + q].score, 1e-9);

		if (x < w) {
			w = x;
			*at = i;
		}
	}
	return w;
}

/*
 * The goals of make bench, only where the project makes a claim: the
 * default policy (the configuration's) reaches 0.95 of the oracle on
 * average and 0.85 on its worst scenario, is never 1% below leaving the
 * host alone, beats every baseline on average (the kernel's own balancing
 * by 3%, issue 17, while migrating less memory than it) and converges
 * within 10 ticks (median). On the validation family, scenarios no rule was fitted
 * to, it also beats numad by 4% while migrating at most half numad's GiB.
 * Baselines, chaos and brm (a model of another project's heuristic) get
 * none.
 */
struct goals {
	const char *vs_oracle, *worst, *margin, *margin_numad, *margin_kernel,
		*vs_none_worst, *converge, *gib_vs_numad, *gib_vs_kernel;
};

static struct goals goals_of(const char *policy, const char *def,
			     const struct hs_opts *o)
{
	struct goals g = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };

	if (def && strcmp(policy, def) == 0) {
		g.vs_oracle = "0.95";
		g.worst = "0.85";
		g.margin = "0";
		g.margin_numad = o->validation ? "4" : "0";
		g.margin_kernel = "3";
		g.vs_none_worst = "0.99";
		g.converge = "10";
		g.gib_vs_numad = o->validation ? "0.5" : NULL;
		g.gib_vs_kernel = "1";
	}
	return g;
}

struct bench {
	const char *prefix;	/* "" or "NAME/" */
	int ns;
};

static void bench_dir(const struct bench *b, const char *policy, const char *figure,
		      const char *fmt, double value, const char *unit,
		      const char *goal, const char *dir, const char *desc)
{
	printf("BENCH name=%spolicy/%s/%s value=", b->prefix, policy, figure);
	printf(fmt, value);
	printf(" unit=%s goal=%s dir=%s desc=%s\n", unit, goal ? goal : "-",
	       goal ? dir : "-", desc);
}

/* A figure where more is better. */
static void bench_line(const struct bench *b, const char *policy, const char *figure,
		       const char *fmt, double value, const char *unit,
		       const char *goal, const char *desc)
{
	bench_dir(b, policy, figure, fmt, value, unit, goal, "min", desc);
}

/* A policy's margin over a baseline as a BENCH line. */
static void margin_line(const struct bench *b, const char *policy, const char *base,
			double margin, const char *goal)
{
	char figure[64], desc[256];

	snprintf(figure, sizeof(figure), "margin-over-%s", base);
	snprintf(desc, sizeof(desc), "%s score over %s's on the same scenario in the "
		 "same run, geometric mean over %d scenarios, minus 1", policy, base, b->ns);
	bench_line(b, policy, figure, "%.2f", margin, "%", goal, desc);
}

/*
 * Policy p's GiB migrated over a baseline's on the same scenarios, as a
 * BENCH line where less is better; for kernel, the host's balancing's.
 */
static void gib_line(const struct bench *b, char **pol, int np, int p,
		     const struct cell *c, double gib, const char *base,
		     const char *figure, const char *goal)
{
	int q = policy_index(pol, np, base);
	char desc[256];
	double bg = 0;

	if (q < 0 || q == p)
		return;
	for (int i = 0; i < b->ns; i++)
		bg += c[i * np + q].gib;
	snprintf(desc, sizeof(desc), "memory %s migrated over %s's on the same %d "
		 "scenarios (%.1f GiB against %.1f)", pol[p], base, b->ns, gib, bg);
	bench_dir(b, pol[p], figure, "%.3f",
		  bg > 0 ? MIN(gib / bg, 1000) : gib > 0 ? 1000 : 0, "fraction",
		  goal, "max", desc);
}

/*
 * The last block: per policy over all scenarios. c holds [ns][np] runs,
 * oracle [ns] the oracle's.
 */
static void summary(char **pol, int np, char **scenarios, int ns,
		    const struct cell *c, const struct cell *oracle,
		    const char *def, const struct hs_opts *o)
{
	struct bench b = { .prefix = "", .ns = ns };
	char prefix[80], name[128], desc[512], col[8][16];
	/* the highest fraction of the oracle: [0] vnumad's policies, [1] kernel */
	double above[2] = { 0, 0 };
	int above_s[2] = { 0, 0 }, above_p[2] = { 0, 0 };

	if (o->suite) {
		snprintf(prefix, sizeof(prefix), "%s/", o->suite);
		b.prefix = prefix;
	}
	printf("\n%-16s %-12s %8s %8s %-16s %8s", "all scenarios", "policy",
	       "geomean", "worst", "worst on", "guests");
	for (int k = 0; baselines[k]; k++) {
		snprintf(col[k], sizeof(col[k]), "vs %s", baselines[k]);
		printf(" %9s", col[k]);
	}
	printf(" %8s %6s %10s %7s\n", "ips", "conv", "GiB moved", "moves");
	for (int p = 0; p < np; p++) {
		double fr[ns + 1], worstg[ns + 1], ipsr[ns + 1], cv[ns + 1], worst = INFINITY;
		double gib = 0, f, fg, fi, conv = -1;
		uint64_t moves = 0;
		struct goals gl = goals_of(pol[p], def, o);
		int kern = strcmp(pol[p], HS_KERNEL) == 0;
		int w = 0, ncv = 0;

		for (int i = 0; i < ns; i++) {
			const struct cell *x = &c[i * np + p];

			fr[i] = x->score / MAX(oracle[i].score, 1e-9);
			worstg[i] = x->worst;
			ipsr[i] = x->ips / MAX(oracle[i].ips, 1e-9);
			gib += x->gib;
			moves += x->moves;
			if (x->converge >= 0)
				cv[ncv++] = x->converge;
			if (fr[i] < worst) {
				worst = fr[i];
				w = i;
			}
			if (fr[i] > above[kern]) {
				above[kern] = fr[i];
				above_s[kern] = i;
				above_p[kern] = p;
			}
		}
		f = hs_geomean(fr, ns);
		fg = hs_geomean(worstg, ns);
		fi = hs_geomean(ipsr, ns);
		if (ncv)
			conv = median(cv, ncv);
		short_name(scenarios[w], name, sizeof(name));
		printf("%-16s %-12s %8.3f %8.3f %-16s %8.3f", "", pol[p], f, worst, name, fg);
		for (int k = 0; baselines[k]; k++) {
			int q = policy_index(pol, np, baselines[k]);

			if (q < 0 || q == p)
				printf(" %9s", "-");
			else
				printf(" %+8.1f%%", margin_pct(c, ns, np, p, q));
		}
		if (conv >= 0)
			printf(" %8.3f %6.1f %10.2f %7llu\n", fi, conv, gib,
			       (unsigned long long)moves);
		else
			printf(" %8.3f %6s %10.2f %7llu\n", fi, "-", gib,
			       (unsigned long long)moves);
		if (!o->bench)
			continue;
		snprintf(desc, sizeof(desc), "%s score over the oracle's, geometric mean "
			 "over %d scenarios (score: geometric mean of the guests' progress)",
			 pol[p], ns);
		bench_line(&b, pol[p], "vs-oracle-geomean", "%.4f", f, "fraction",
			   gl.vs_oracle, desc);
		snprintf(desc, sizeof(desc), "%s score over the oracle's on its worst "
			 "scenario of %d, %s", pol[p], ns, name);
		bench_line(&b, pol[p], "vs-oracle-worst", "%.4f", worst, "fraction",
			   gl.worst, desc);
		snprintf(desc, sizeof(desc), "progress of %s's slowest guest, geometric "
			 "mean over %d scenarios", pol[p], ns);
		bench_line(&b, pol[p], "worst-guest-geomean", "%.4f", fg, "fraction",
			   NULL, desc);
		snprintf(desc, sizeof(desc), "%s aggregate instructions per second over "
			 "the oracle's, geometric mean over %d scenarios (secondary)",
			 pol[p], ns);
		bench_line(&b, pol[p], "ips-vs-oracle-geomean", "%.4f", fi, "fraction",
			   NULL, desc);
		for (int k = 0; baselines[k]; k++) {
			int q = policy_index(pol, np, baselines[k]);

			if (q >= 0 && q != p)
				margin_line(&b, pol[p], baselines[k],
					    margin_pct(c, ns, np, p, q),
					    strcmp(baselines[k], "numad") == 0 ?
					    gl.margin_numad :
					    strcmp(baselines[k], HS_KERNEL) == 0 ?
					    gl.margin_kernel : gl.margin);
		}
		if (policy_index(pol, np, "none") >= 0 && strcmp(pol[p], "none") != 0) {
			int at = 0;
			double x = worst_ratio(c, ns, np, p, policy_index(pol, np, "none"), &at);

			short_name(scenarios[at], name, sizeof(name));
			snprintf(desc, sizeof(desc), "%s score over none's on the scenario "
				 "where it does worst against it, %s", pol[p], name);
			bench_line(&b, pol[p], "vs-none-worst", "%.4f", x, "fraction",
				   gl.vs_none_worst, desc);
		}
		snprintf(desc, sizeof(desc), "memory %s migrated over the %d scenarios, "
			 "%llu vCPU and memory moves", pol[p], ns, (unsigned long long)moves);
		bench_line(&b, pol[p], "gib-migrated", "%.2f", gib, "GiB", NULL, desc);
		gib_line(&b, pol, np, p, c, gib, "numad", "gib-vs-numad",
			 gl.gib_vs_numad);
		gib_line(&b, pol, np, p, c, gib, HS_KERNEL, "migrated-over-kernel",
			 gl.gib_vs_kernel);
		if (conv >= 0) {
			snprintf(desc, sizeof(desc), "ticks from an arrival or phase change "
				 "to 90%% of the gain %s makes of it, median of each "
				 "scenario's median over the %d of %d scenarios with such "
				 "gains", pol[p], ncv, ns);
			bench_dir(&b, pol[p], "convergence-median", "%.1f", conv, "ticks",
				  gl.converge, "max", desc);
		}
	}
	if (o->bench && np > 0) {
		short_name(scenarios[above_s[0]], name, sizeof(name));
		printf("BENCH name=%soracle-bound/highest-policy value=%.4f unit=fraction "
		       "goal=1.01 dir=max desc=the highest score of any policy over the "
		       "oracle's on any of %d scenarios (%s on %s): above 1, the oracle "
		       "is not an upper bound\n", b.prefix, above[0], ns, pol[above_p[0]],
		       name);
	}
	/*
	 * kernel is bound by other rules: the host's balancing migrates the
	 * memory of guests their users pinned, which vnumad and so its oracle
	 * leave alone. Its highest fraction is shown, with no goal.
	 */
	if (o->bench && policy_index(pol, np, HS_KERNEL) >= 0) {
		short_name(scenarios[above_s[1]], name, sizeof(name));
		printf("BENCH name=%soracle-bound/kernel value=%.4f unit=fraction goal=- "
		       "dir=- desc=kernel's highest score over the oracle's on any of %d "
		       "scenarios (%s): the host's balancing also moves the memory of "
		       "guests pinned whole, which the oracle leaves where it is\n", b.prefix,
		       above[1], ns, name);
	}
}

static void header(FILE *f)
{
	fprintf(f, "%-16s %-12s %7s %9s %7s %-12s %10s %7s %7s %9s %7s %7s\n", "scenario",
		"policy", "score", "vs oracle", "worst", "guest", "G instr/s", "ips/orc",
		"remote", "GiB moved", "moves", "reverts");
}

static void row(FILE *f, const char *scen, const struct hs_result *r,
		const struct hs_result *orc)
{
	char rem[16];

	if (r->remote >= 0)
		snprintf(rem, sizeof(rem), "%.1f%%", r->remote * 100);
	else
		snprintf(rem, sizeof(rem), "-");
	fprintf(f, "%-16s %-12s %7.4f %9.3f %7.3f %-12.12s %10.3f %7.3f %7s %9.2f %7llu %7llu",
		scen, r->policy, r->score, orc->score > 0 ? r->score / orc->score : 0,
		r->worst, r->worst_guest >= 0 ? r->guest[r->worst_guest] : "-",
		r->ips / 1e9, orc->ips > 0 ? r->ips / orc->ips : 0, rem,
		(double)(r->bytes_migrated + r->host_migrated) / (double)GiB,
		(unsigned long long)(r->vcpu_moves + r->memory_moves),
		(unsigned long long)r->reverts);
	if (strcmp(r->policy, "oracle") == 0)
		fprintf(f, "  (%s)", r->exhaustive ? "exhaustive" : "best-known");
	fputc('\n', f);
	fflush(f);
}

static void keep(struct cell *c, const struct hs_result *r)
{
	double *x;

	c->converge = -1;
	if (r->nr_converge) {
		x = xcalloc(r->nr_converge, sizeof(double));
		for (int i = 0; i < r->nr_converge; i++)
			x[i] = r->converge[i];
		c->converge = median(x, r->nr_converge);
		free(x);
	}
	c->score = r->score;
	c->worst = r->worst;
	c->ips = r->ips;
	/* what the host's own balancing moved counts too */
	c->gib = (double)(r->bytes_migrated + r->host_migrated) / (double)GiB;
	c->moves = r->vcpu_moves + r->memory_moves;
}

int hs_compare(char **scenarios, int ns, const char *policies,
	       const struct hs_opts *o)
{
	int np, bad = 0, ret = -1;
	char **pol = policy_list(policies, &np);
	/* kept for the summary: margins need every policy of a scenario */
	struct cell *c = xcalloc((size_t)ns * (np + 1) + 1, sizeof(*c));
	struct cell *oracle = xcalloc(ns + 1, sizeof(*oracle));
	char name[128], *def = NULL;

	if (np == 0) {
		fprintf(stderr, "vnumad-sim: compare: --policies names no policy\n");
		goto out;
	}
	/* check everything first: all the errors at once, nothing run */
	for (int i = 0; i < ns; i++) {
		struct sim *s = hs_load(scenarios[i]);

		bad += !s;
		sim_free(s);
	}
	/*
	 * Each policy's init runs here once: what it has to say (chaos warns
	 * that it is for testing) comes before the table, once, and not again
	 * between its rows at each run's start; the core's log of the runs
	 * themselves only with -v.
	 */
	for (int p = 0; p < np && ns > 0; p++) {
		struct vn_policy_rt rt;
		struct vn_config cfg;

		if (hs_config(o, scenarios[0], pol[p], &cfg) < 0) {
			bad++;
		} else if (plugin_start(&rt, &cfg) < 0) {
			bad++;
		} else {
			plugin_stop(&rt, NULL, VNUMAD_EXIT_SHUTDOWN);
		}
		config_free(&cfg);
	}
	if (bad)
		goto out;
	def = hs_default_policy(scenarios[0], o);
	if (!o->verbose)
		log_setlevel(LOG_ERR);

	header(stdout);
	for (int i = 0; i < ns; i++) {
		struct hs_result orc, r;
		struct hs_reference ref;

		short_name(scenarios[i], name, sizeof(name));
		if (hs_oracle(scenarios[i], o, &orc, &ref) < 0)
			goto out;
		keep(&oracle[i], &orc);
		row(stdout, name, &orc, &orc);
		if (o->bench)
			printf("BENCH name=%s%soracle/%s value=%.4f unit=fraction goal=- dir=- "
			       "level=detail desc=oracle score on %s (%s, %ld evaluations, "
			       "%.1f s; %.4f Ginstr/s)\n", o->suite ? o->suite : "",
			       o->suite ? "/" : "", name, orc.score, name,
			       orc.exhaustive ? "exhaustive" : "best-known",
			       orc.evaluations, orc.wall, orc.ips / 1e9);
		for (int p = 0; p < np; p++) {
			if (hs_run(scenarios[i], pol[p], o, &r) < 0) {
				hs_result_free(&orc);
				hs_reference_free(&ref);
				goto out;
			}
			hs_score_result(&r, &ref);
			row(stdout, "", &r, &orc);
			keep(&c[i * np + p], &r);
			if (o->bench)
				printf("BENCH name=%s%svs-oracle/%s/%s value=%.4f unit=fraction "
				       "goal=- dir=- level=detail desc=%s score over the "
				       "oracle's on %s; worst guest %.3f, %.1f%% remote, %.2f "
				       "GiB moved, %llu moves, %llu reverts\n",
				       o->suite ? o->suite : "", o->suite ? "/" : "", name,
				       pol[p], r.score / MAX(orc.score, 1e-9), pol[p], name,
				       r.worst, r.remote * 100,
				       (double)(r.bytes_migrated + r.host_migrated) / (double)GiB,
				       (unsigned long long)(r.vcpu_moves + r.memory_moves),
				       (unsigned long long)r.reverts);
			hs_result_free(&r);
		}
		hs_result_free(&orc);
		hs_reference_free(&ref);
	}
	if (ns > 1 || o->bench)
		summary(pol, np, scenarios, ns, c, oracle, def, o);
	ret = 0;
out:
	for (int p = 0; p < np; p++)
		free(pol[p]);
	free(pol);
	free(c);
	free(oracle);
	free(def);
	return ret;
}
