// SPDX-License-Identifier: MIT
/*
 * compare: every scenario under every policy, each scored against the
 * oracle of the same scenario. Every input is checked before anything
 * runs, so that a broken scenario or an unknown policy costs no time: all
 * their errors are printed (file, line, key) and the exit status is 1.
 *
 * The table has one block per scenario, the oracle first; the fraction is
 * the policy's throughput over the oracle's. The last block is the
 * geometric mean of each policy's fractions over the scenarios. With
 * --bench, each figure is also a BENCH line for tests/bench/run.sh.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
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

/* The policies to run: a comma-separated list, or every built-in one. */
static char **policy_list(const char *spec, int *n)
{
	char **v, *copy;
	int cap = 0;

	*n = 0;
	if (!spec || strcmp(spec, "all") == 0) {
		for (int i = 0; vn_builtin_policies[i]; i++)
			cap++;
		v = xcalloc(cap + 1, sizeof(*v));
		for (int i = 0; vn_builtin_policies[i]; i++)
			v[(*n)++] = xstrdup(vn_builtin_policies[i]->name);
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
		(double)r->bytes_migrated / (double)GiB,
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
	double *logsum = xcalloc(np + 1, sizeof(double));
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
	for (int p = 0; p < np && ns > 0; p++) {
		struct vn_config cfg;

		bad += hs_config(o, scenarios[0], pol[p], &cfg) < 0;
		config_free(&cfg);
	}
	if (bad)
		goto out;

	header(stdout);
	for (int i = 0; i < ns; i++) {
		struct hs_result orc, r;

		short_name(scenarios[i], name, sizeof(name));
		if (hs_oracle(scenarios[i], o, &orc) < 0)
			goto out;
		row(stdout, name, &orc, orc.ips);
		if (o->bench)
			printf("BENCH name=oracle/%s value=%.4f unit=Ginstr/s goal=- dir=- "
			       "desc=oracle throughput on %s (%s, %ld evaluations, %.1f s)\n",
			       name, orc.ips / 1e9, name,
			       orc.exhaustive ? "exhaustive" : "best-known",
			       orc.evaluations, orc.wall);
		for (int p = 0; p < np; p++) {
			if (hs_run(scenarios[i], pol[p], o, &r) < 0) {
				hs_result_free(&orc);
				goto out;
			}
			row(stdout, "", &r, orc.ips);
			logsum[p] += log(MAX(r.ips / orc.ips, 1e-9));
			if (o->bench)
				printf("BENCH name=vs-oracle/%s/%s value=%.4f unit=fraction "
				       "goal=- dir=- desc=%s throughput over the oracle's on %s; "
				       "%.1f%% remote, %.2f GiB moved, %llu moves, %llu reverts\n",
				       name, pol[p], r.ips / orc.ips, pol[p], name,
				       r.remote * 100, (double)r.bytes_migrated / (double)GiB,
				       (unsigned long long)(r.vcpu_moves + r.memory_moves),
				       (unsigned long long)r.reverts);
			hs_result_free(&r);
		}
		hs_result_free(&orc);
	}
	if (ns > 1) {
		printf("\n%-16s %-12s %10s %9s\n", "all scenarios", "policy", "", "geomean");
		for (int p = 0; p < np; p++) {
			printf("%-16s %-12s %10s %9.3f\n", "", pol[p], "",
			       exp(logsum[p] / ns));
			if (o->bench)
				printf("BENCH name=vs-oracle/geomean/%s value=%.4f unit=fraction "
				       "goal=- dir=- desc=%s throughput over the oracle's, "
				       "geometric mean over %d scenarios\n", pol[p],
				       exp(logsum[p] / ns), pol[p], ns);
		}
	}
	ret = 0;
out:
	for (int p = 0; p < np; p++)
		free(pol[p]);
	free(pol);
	free(logsum);
	return ret;
}
