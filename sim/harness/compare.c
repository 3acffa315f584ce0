// SPDX-License-Identifier: MIT
/*
 * compare: every scenario under every policy, each scored against the
 * oracle of the same scenario. Every input is checked before anything
 * runs, so that a broken scenario or an unknown policy costs no time: all
 * their errors are printed (file, line, key) and the exit status is 1.
 *
 * The table has one block per scenario, the oracle first; the fraction is
 * the policy's throughput over the oracle's. The contender `kernel` is no
 * vnumad moves on a host whose automatic NUMA balancing is on. The last
 * block sums up each policy over the scenarios: the geometric mean of its
 * fractions, the worst one, its margins over none, numad and kernel, and
 * what it and the host's balancing migrated. With --bench,
 * each figure is also a BENCH line for tests/bench/run.sh; the per-scenario
 * ones say level=detail, so that the report keeps them out of its table.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "harness.h"
#include "log.h"
#include "policies.h"
#include "util.h"

/* "sim/scenarios/demo.ini" -> "demo". */
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

/*
 * The goals of make bench: only where the project makes a claim. The best
 * built-in policy, spread, reaches 0.95 of the oracle (README); a policy
 * that rebalances should never do worse than leaving the host alone, nor
 * than numad, on average over the suite. Baselines, and brm, which models
 * another project's heuristic, get none.
 */
/* The policy vnumad runs when the configuration names none. */
static bool is_default(const char *policy)
{
	static char name[64];

	if (!name[0]) {
		struct vn_config cfg;

		config_defaults(&cfg);
		snprintf(name, sizeof(name), "%s", cfg.policy);
		config_free(&cfg);
	}
	return strcmp(policy, name) == 0;
}

static const char *goal_vs_oracle(const char *policy)
{
	return strcmp(policy, "spread") == 0 ? "0.95" : NULL;
}

static const char *goal_margin(const char *policy, const char *base)
{
	/* the default policy beats the kernel's own balancing by 3% (issue 17) */
	if (strcmp(base, HS_KERNEL) == 0)
		return is_default(policy) ? "3" : NULL;
	return strcmp(policy, "locality") == 0 || strcmp(policy, "spread") == 0 ?
	       "0" : NULL;
}

static int policy_index(char **pol, int np, const char *name)
{
	for (int p = 0; p < np; p++)
		if (strcmp(pol[p], name) == 0)
			return p;
	return -1;
}

/*
 * The geometric mean over the scenarios of policy p's throughput over
 * policy q's, minus 1, in percent: how much better p does than q on the
 * same scenarios in the same run.
 */
static double margin_pct(const double *ips, int ns, int np, int p, int q)
{
	double sum = 0;

	for (int i = 0; i < ns; i++)
		sum += log(MAX(ips[i * np + p], 1e-9) / MAX(ips[i * np + q], 1e-9));
	return (exp(sum / ns) - 1) * 100;
}

/* A BENCH line; a goal is a floor, or a ceiling when it starts with '<'. */
static void bench_line(const char *policy, const char *figure, const char *fmt,
		       double value, const char *unit, const char *goal,
		       const char *desc)
{
	bool ceiling = goal && goal[0] == '<';

	printf("BENCH name=policy/%s/%s value=", policy, figure);
	printf(fmt, value);
	printf(" unit=%s goal=%s dir=%s desc=%s\n", unit, goal ? goal + ceiling : "-",
	       goal ? ceiling ? "max" : "min" : "-", desc);
}

/* A policy's margin over a baseline as a BENCH line. */
static void margin_line(const char *policy, const char *base, double margin, int ns)
{
	char figure[64], desc[256];

	snprintf(figure, sizeof(figure), "margin-over-%s", base);
	snprintf(desc, sizeof(desc), "%s throughput over %s's on the same scenario "
		 "in the same run, geometric mean over %d scenarios, minus 1",
		 policy, base, ns);
	bench_line(policy, figure, "%.2f", margin, "%", goal_margin(policy, base), desc);
}

/*
 * The last block: per policy over all scenarios. ips holds [ns][np]
 * throughputs, oracle [ns].
 */
static void summary(char **pol, int np, char **scenarios, int ns,
		    const double *ips, const double *oracle, const double *gib,
		    const uint64_t *moves, const struct hs_opts *o)
{
	int none = policy_index(pol, np, "none");
	int numad = policy_index(pol, np, "numad");
	int kernel = policy_index(pol, np, HS_KERNEL);
	char name[128], desc[512], vnone[16], vnumad[16], vkernel[16];

	printf("\n%-16s %-12s %9s %9s %-16s %9s %9s %9s %10s %7s\n", "all scenarios",
	       "policy", "geomean", "worst", "worst on", "vs none", "vs numad",
	       "vs kernel", "GiB moved", "moves");
	for (int p = 0; p < np; p++) {
		double logsum = 0, worst = INFINITY, f, mnone = 0, mnumad = 0, mkernel = 0;
		int w = 0;

		for (int i = 0; i < ns; i++) {
			f = ips[i * np + p] / oracle[i];
			logsum += log(MAX(f, 1e-9));
			if (f < worst) {
				worst = f;
				w = i;
			}
		}
		f = exp(logsum / ns);
		short_name(scenarios[w], name, sizeof(name));
		snprintf(vnone, sizeof(vnone), "-");
		snprintf(vnumad, sizeof(vnumad), "-");
		if (none >= 0 && p != none) {
			mnone = margin_pct(ips, ns, np, p, none);
			snprintf(vnone, sizeof(vnone), "%+.1f%%", mnone);
		}
		if (numad >= 0 && p != numad) {
			mnumad = margin_pct(ips, ns, np, p, numad);
			snprintf(vnumad, sizeof(vnumad), "%+.1f%%", mnumad);
		}
		snprintf(vkernel, sizeof(vkernel), "-");
		if (kernel >= 0 && p != kernel) {
			mkernel = margin_pct(ips, ns, np, p, kernel);
			snprintf(vkernel, sizeof(vkernel), "%+.1f%%", mkernel);
		}
		printf("%-16s %-12s %9.3f %9.3f %-16s %9s %9s %9s %10.2f %7llu\n", "",
		       pol[p], f, worst, name, vnone, vnumad, vkernel, gib[p],
		       (unsigned long long)moves[p]);
		if (!o->bench)
			continue;
		snprintf(desc, sizeof(desc), "%s throughput over the oracle's, "
			 "geometric mean over %d scenarios", pol[p], ns);
		bench_line(pol[p], "vs-oracle-geomean", "%.4f", f, "fraction",
			   goal_vs_oracle(pol[p]), desc);
		snprintf(desc, sizeof(desc), "%s throughput over the oracle's on its "
			 "worst scenario of %d, %s", pol[p], ns, name);
		bench_line(pol[p], "vs-oracle-worst", "%.4f", worst, "fraction",
			   NULL, desc);
		if (none >= 0 && p != none)
			margin_line(pol[p], "none", mnone, ns);
		if (numad >= 0 && p != numad)
			margin_line(pol[p], "numad", mnumad, ns);
		if (kernel >= 0 && p != kernel)
			margin_line(pol[p], HS_KERNEL, mkernel, ns);
		snprintf(desc, sizeof(desc), "memory %s migrated over the %d scenarios, "
			 "%llu vCPU and memory moves", pol[p], ns,
			 (unsigned long long)moves[p]);
		bench_line(pol[p], "gib-migrated", "%.2f", gib[p], "GiB", NULL, desc);
		if (kernel >= 0 && p != kernel && is_default(pol[p])) {
			snprintf(desc, sizeof(desc), "memory %s migrated over the %d "
				 "scenarios over what the kernel's NUMA balancing migrated "
				 "(%.2f GiB); below 1 is less", pol[p], ns, gib[kernel]);
			bench_line(pol[p], "migrated-over-kernel", "%.3f",
				   gib[kernel] > 0 ? gib[p] / gib[kernel] : gib[p] > 0 ? 99 : 0,
				   "ratio", "<1", desc);
		}
	}
}

static void header(FILE *f)
{
	fprintf(f, "%-16s %-12s %10s %9s %8s %10s %7s %7s\n", "scenario", "policy",
		"G instr/s", "vs oracle", "remote", "GiB moved", "moves", "reverts");
}

static void row(FILE *f, const char *scen, const struct hs_result *r,
		double oracle)
{
	char rem[16];

	if (r->remote >= 0)
		snprintf(rem, sizeof(rem), "%.1f%%", r->remote * 100);
	else
		snprintf(rem, sizeof(rem), "-");
	fprintf(f, "%-16s %-12s %10.3f %9.3f %8s %10.2f %7llu %7llu", scen, r->policy,
		r->ips / 1e9, oracle > 0 ? r->ips / oracle : 0, rem,
		(double)(r->bytes_migrated + r->host_migrated) / (double)GiB,
		(unsigned long long)(r->vcpu_moves + r->memory_moves),
		(unsigned long long)r->reverts);
	if (strcmp(r->policy, "oracle") == 0)
		fprintf(f, "  (%s)", r->exhaustive ? "exhaustive" : "best-known");
	fputc('\n', f);
	fflush(f);
}

int hs_compare(char **scenarios, int ns, const char *policies,
	       const struct hs_opts *o)
{
	int np, bad = 0, ret = -1;
	char **pol = policy_list(policies, &np);
	/* kept for the summary: margins need every policy of a scenario */
	double *ips = xcalloc((size_t)ns * (np + 1), sizeof(double));
	double *oracle = xcalloc(ns + 1, sizeof(double));
	double *gib = xcalloc(np + 1, sizeof(double));
	uint64_t *moves = xcalloc(np + 1, sizeof(uint64_t));
	char name[128];

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
			plugin_stop(&rt);
		}
		config_free(&cfg);
	}
	if (bad)
		goto out;
	if (!o->verbose)
		log_setlevel(LOG_ERR);

	header(stdout);
	for (int i = 0; i < ns; i++) {
		struct hs_result orc, r;

		short_name(scenarios[i], name, sizeof(name));
		if (hs_oracle(scenarios[i], o, &orc) < 0)
			goto out;
		oracle[i] = orc.ips;
		row(stdout, name, &orc, orc.ips);
		if (o->bench)
			printf("BENCH name=oracle/%s value=%.4f unit=Ginstr/s goal=- dir=- "
			       "level=detail desc=oracle throughput on %s (%s, %ld "
			       "evaluations, %.1f s)\n",
			       name, orc.ips / 1e9, name,
			       orc.exhaustive ? "exhaustive" : "best-known",
			       orc.evaluations, orc.wall);
		for (int p = 0; p < np; p++) {
			if (hs_run(scenarios[i], pol[p], o, &r) < 0) {
				hs_result_free(&orc);
				goto out;
			}
			row(stdout, "", &r, orc.ips);
			ips[i * np + p] = r.ips;
			/* what the host's own balancing moved counts too */
			gib[p] += (double)(r.bytes_migrated + r.host_migrated) / (double)GiB;
			moves[p] += r.vcpu_moves + r.memory_moves;
			if (o->bench)
				printf("BENCH name=vs-oracle/%s/%s value=%.4f unit=fraction "
				       "goal=- dir=- level=detail desc=%s throughput over "
				       "the oracle's on %s; %.1f%% remote, %.2f GiB moved, "
				       "%llu moves, %llu reverts\n",
				       name, pol[p], r.ips / orc.ips, pol[p], name,
				       r.remote * 100,
				       (double)(r.bytes_migrated + r.host_migrated) / (double)GiB,
				       (unsigned long long)(r.vcpu_moves + r.memory_moves),
				       (unsigned long long)r.reverts);
			hs_result_free(&r);
		}
		hs_result_free(&orc);
	}
	if (ns > 1)
		summary(pol, np, scenarios, ns, ips, oracle, gib, moves, o);
	ret = 0;
out:
	for (int p = 0; p < np; p++)
		free(pol[p]);
	free(pol);
	free(ips);
	free(oracle);
	free(gib);
	free(moves);
	return ret;
}
