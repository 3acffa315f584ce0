// SPDX-License-Identifier: MIT
/*
 * guard: how often the rollback guard judges a trial as the truth would.
 *
 * Each scenario runs under each policy, once per seed, through the real core
 * built as run.c builds it. The core's trial_hook says when each trial
 * starts and when it is kept, reverted or abandoned; after every tick the
 * harness keeps each guest's true instructions per second over the tick
 * (from the model's noise-free totals) and marks the guests disturbed in it:
 * a move or a revert applied at the end of the tick before, or a migration
 * of theirs in flight.
 *
 * At the end of a run every judged trial is classified by the truth. By
 * default over the guard's own windows: the mean true IPS over the judge
 * window over the mean over the baseline window, divided by the median of
 * the same ratio over the guests undisturbed from the baseline's start to
 * the verdict. With --truth instant the baseline is the last tick before
 * the move alone, which other moves cannot have disturbed. Below -tolerance
 * the trial was truly harmful, above +tolerance truly good, neutral in
 * between. A harmful trial counts as caught when the guard reverted it
 * within settle + 3 judge windows of the move, the time its memory took to
 * migrate aside.
 *
 * Each miss (a harmful trial kept, a good one reverted) gets its first
 * cause: the guard had no readings; its baseline window was disturbed by
 * earlier moves (a miss by the instant truth that the window truth shares
 * with the guard); the judge window still saw the transition (the last tick
 * alone says otherwise); the true change lies within a point of the
 * tolerance; or else the larger of the guard's two errors against the
 * window truth, read from its own history ring: the guest's ratio (counter
 * noise) or the host drift (noise in a few guests, or others than the
 * truth's).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "harness.h"
#include "log.h"
#include "registry.h"
#include "util.h"

enum gd_verdict {
	GD_OPEN,		/* still running when the run ended */
	GD_KEPT,
	GD_UNJUDGED,		/* kept for want of readings */
	GD_REVERTED,
	GD_ABANDONED,		/* the guest left */
};

enum gd_class {
	GD_UNKNOWN,		/* no truth: no verdict, or the guest not running */
	GD_HARMFUL,
	GD_NEUTRAL,
	GD_GOOD,
};

static const char *const verdict_name[] = {
	[GD_OPEN] = "open", [GD_KEPT] = "kept", [GD_UNJUDGED] = "kept unjudged",
	[GD_REVERTED] = "reverted", [GD_ABANDONED] = "abandoned",
};

static const char *const class_name[] = {
	[GD_UNKNOWN] = "unknown", [GD_HARMFUL] = "harmful",
	[GD_NEUTRAL] = "neutral", [GD_GOOD] = "good",
};

/* Why the guard and the truth disagreed on one trial. */
enum gd_cause {
	GD_C_UNJUDGED,		/* the guard had too few readings */
	GD_C_BASELINE,		/* the baseline window saw earlier moves */
	GD_C_TRANSITION,	/* the judge window still saw the move settle */
	GD_C_BORDER,		/* the true change within a point of the tolerance */
	GD_C_NOISE,		/* counter noise in the guest's own ratio */
	GD_C_DRIFT,		/* the host drift: noise or other guests */
	GD_C_FEW,		/* the drift of 1-3 guests */
	GD_C_NR
};

static const char *const cause_name[GD_C_NR] = {
	[GD_C_UNJUDGED] = "too few readings to judge",
	[GD_C_BORDER] = "true change within 1 point of the tolerance",
	[GD_C_NOISE] = "counter noise in the guest's own ratio",
	[GD_C_DRIFT] = "host drift estimate off",
	[GD_C_FEW] = "host drift of 1-3 guests",
	[GD_C_BASELINE] = "baseline window disturbed by earlier moves",
	[GD_C_TRANSITION] = "judge window still in the transition",
};

/* One trial, as the hook saw it and as the truth judges it. */
struct gd_trial {
	int guest;		/* scenario index, -1 unknown */
	uint64_t id;		/* the core's guest id */
	uint64_t tick;		/* the moves were applied at the end of it */
	uint64_t verdict_tick;
	uint64_t b0, b1, j0, j1;	/* the guard's baseline and judge windows */
	enum gd_verdict verdict;
	int nr_vcpu, nr_mem;
	int mig_ticks;		/* ticks its memory took to move */
	double expected;	/* the policy's expected gain */
	/* the guard's figures, as its verdict gave them */
	double gain, raw, drift;
	int drift_n;
	/* the truth over the same windows */
	enum gd_class cls;
	double t_gain, t_raw, t_drift;
	int t_drift_n;
	double t_last;		/* the same with the judge window's last tick only */
	double t_instant;	/* from the tick before the move to the judge window */
	enum gd_class cls_window, cls_instant;
};

/* One run: the truth per tick and the trials. */
struct gd_run {
	struct vn_core *c;
	struct sim *s;
	int ng;
	uint64_t ticks;
	double *ips;		/* [(ticks + 1) * ng]: tick k, guest g at k * ng + g */
	unsigned char *busy;	/* [(ticks + 2) * ng]: disturbed during tick k */
	struct gd_trial *tr;
	int nr, cap;
};

/* Counts over runs, per scenario and policy, or over scenarios. */
struct gd_tally {
	int runs;
	int trials;		/* started */
	int harmful, harmful_rev, harmful_rev3;
	int good, good_rev;
	int neutral, neutral_rev;
	int unjudged;		/* kept for want of readings, any class */
	int other;		/* abandoned, open at the end, or no truth */
	int cause[GD_C_NR];	/* misses by their first cause */
};

/* Guest g was disturbed during `tick`: moved at the end of the one before. */
static void mark(struct gd_run *r, int g, uint64_t tick)
{
	if (g >= 0 && tick <= r->ticks + 1)
		r->busy[tick * r->ng + g] = 1;
}

/* The trial_hook: records starts and verdicts, marks the guests moved. */
static void on_trial(struct vn_core *c, const struct vn_trial *t,
		     enum vn_trial_event ev, const struct vn_verdict *v, void *arg)
{
	struct gd_run *r = arg;
	struct gd_trial *x = NULL;

	if (ev == VN_TRIAL_STARTED) {
		if (r->nr == r->cap) {
			r->cap = r->cap ? 2 * r->cap : 64;
			r->tr = xreallocarray(r->tr, r->cap, sizeof(*r->tr));
		}
		x = &r->tr[r->nr++];
		memset(x, 0, sizeof(*x));
		x->guest = sim_guest_find(r->s, t->guest);
		x->id = t->guest_id;
		x->tick = t->tick;
		x->expected = t->expected;
		for (int i = 0; i < t->nr_act; i++) {
			x->nr_vcpu += t->act[i].kind == VNUMAD_MOVE_VCPU;
			x->nr_mem += t->act[i].kind == VNUMAD_MOVE_MEMORY;
		}
		mark(r, x->guest, t->tick + 1);
		return;
	}
	for (int i = r->nr - 1; i >= 0 && !x; i--)
		if (r->tr[i].verdict == GD_OPEN && r->tr[i].id == t->guest_id &&
		    r->tr[i].tick == t->tick)
			x = &r->tr[i];
	if (!x)
		return;
	x->verdict_tick = c->host.tick;
	if (ev == VN_TRIAL_ABANDONED) {
		x->verdict = GD_ABANDONED;
		return;
	}
	/* the guard's own windows and figures; judge_from moved on by the
	 * ticks the memory took */
	x->b0 = v->base_from;
	x->b1 = v->base_to;
	x->j0 = v->judge_from;
	x->j1 = v->judge_to;
	x->mig_ticks = (int)MAX(0, (long long)x->j0 -
				(long long)(t->tick + c->hist_settle + 1));
	x->gain = v->gain;
	x->raw = v->raw;
	x->drift = v->drift;
	x->drift_n = v->drift_n;
	if (ev == VN_TRIAL_REVERTED) {
		x->verdict = GD_REVERTED;
		mark(r, x->guest, c->host.tick + 1);
	} else {
		x->verdict = ev == VN_TRIAL_UNJUDGED ? GD_UNJUDGED : GD_KEPT;
	}
}

/* Mean true IPS of guest g over ticks [a, b]; NaN if it mostly did not run. */
static double true_mean(const struct gd_run *r, int g, uint64_t a, uint64_t b)
{
	double sum = 0;
	int n = 0, want = 0;

	for (uint64_t k = a; k <= b; k++) {
		double x = r->ips[k * r->ng + g];

		want++;
		if (x > 0) {
			sum += x;
			n++;
		}
	}
	return n * 2 >= want && n > 0 ? sum / n : NAN;
}

/* True when guest g was disturbed during any of ticks [a, b]. */
static bool disturbed(const struct gd_run *r, int g, uint64_t a, uint64_t b)
{
	for (uint64_t k = a; k <= b; k++)
		if (r->busy[k * r->ng + g])
			return true;
	return false;
}

/*
 * The truth's normalised change of guest g from [b0, b1] to [j0, j1]; the
 * drift is the median ratio of the guests undisturbed from `quiet` to j1.
 */
static double true_gain(const struct gd_run *r, int g, uint64_t b0, uint64_t b1,
			uint64_t j0, uint64_t j1, uint64_t quiet, double *raw,
			double *drift, int *dn)
{
	double before = true_mean(r, g, b0, b1), after = true_mean(r, g, j0, j1);
	double *v;
	int n = 0;

	if (isnan(before) || isnan(after))
		return NAN;
	v = xcalloc(r->ng + 1, sizeof(*v));
	for (int o = 0; o < r->ng; o++) {
		double ob, oa;

		if (o == g || disturbed(r, o, quiet, j1))
			continue;
		ob = true_mean(r, o, b0, b1);
		oa = true_mean(r, o, j0, j1);
		if (isnan(ob) || isnan(oa))
			continue;
		v[n++] = oa / ob;
	}
	*raw = after / before;
	*drift = n ? median(v, n) : 1.0;
	*dn = n;
	free(v);
	return *raw / *drift - 1.0;
}

static enum gd_class class_of(double gain, double tol)
{
	return isnan(gain) ? GD_UNKNOWN : gain < -tol ? GD_HARMFUL :
	       gain > tol ? GD_GOOD : GD_NEUTRAL;
}

/*
 * Both truths of a judged trial: over the guard's windows, and from the
 * tick before the move; the class by the one asked for.
 */
static void classify(const struct gd_run *r, struct gd_trial *x, double tol,
		     bool instant)
{
	uint64_t b0 = x->b0, b1 = x->b1, j0 = x->j0, j1 = x->j1;
	double raw, drift;
	int dn;

	x->cls = x->cls_window = x->cls_instant = GD_UNKNOWN;
	if (x->guest < 0 || (x->verdict != GD_KEPT && x->verdict != GD_UNJUDGED &&
			     x->verdict != GD_REVERTED))
		return;
	x->t_gain = true_gain(r, x->guest, b0, b1, j0, j1, b0, &x->t_raw, &x->t_drift,
			      &x->t_drift_n);
	x->t_instant = true_gain(r, x->guest, b1, b1, j0, j1, b1 + 1, &raw, &drift, &dn);
	x->t_last = true_gain(r, x->guest, b0, b1, j1, j1, b0, &raw, &drift, &dn);
	x->cls_window = class_of(x->t_gain, tol);
	x->cls_instant = class_of(x->t_instant, tol);
	x->cls = instant ? x->cls_instant : x->cls_window;
}

/* Reverted within settle + 3 judge windows of the move, migration aside. */
static bool in_three(const struct vn_core *c, const struct gd_trial *x)
{
	return x->verdict == GD_REVERTED &&
	       x->verdict_tick - x->tick - (uint64_t)x->mig_ticks <=
	       (uint64_t)(c->hist_settle + 3 * c->hist_judge);
}

static bool miss_by(enum gd_class cls, enum gd_verdict v)
{
	return (cls == GD_HARMFUL && v != GD_REVERTED) ||
	       (cls == GD_GOOD && v == GD_REVERTED);
}

static bool is_miss(const struct gd_trial *x)
{
	return miss_by(x->cls, x->verdict);
}

/*
 * The first reason, in this order, that explains a miss: no judgement; a
 * baseline window that other moves disturbed (judged from the tick before
 * the move it is a miss, over the guard's windows not); a judge window still
 * in the move's transition (its last tick alone, a point or more away, says
 * otherwise); a true change within a point of the tolerance;
 * then whichever of the guard's errors was larger, in the guest's own ratio
 * (counter noise) or in the drift (with 1-3 guests, or more).
 */
static enum gd_cause cause(const struct gd_trial *x, double tol)
{
	double own, drift, gain = x->cls == x->cls_window ? x->t_gain : x->t_instant;

	if (x->verdict == GD_UNJUDGED)
		return GD_C_UNJUDGED;
	if (!miss_by(x->cls_window, x->verdict))
		return GD_C_BASELINE;
	if (class_of(x->t_last, tol) != x->cls_window && fabs(x->t_last - x->t_gain) >= 0.01)
		return GD_C_TRANSITION;
	if (fabs(fabs(gain) - tol) < 0.01)
		return GD_C_BORDER;
	own = fabs(log(x->raw / x->t_raw));
	drift = fabs(log(x->drift / x->t_drift));
	if (drift > own)
		return x->drift_n <= 3 ? GD_C_FEW : GD_C_DRIFT;
	return GD_C_NOISE;
}

/* One trial on a line: the moves, both truths, the verdict, the guard's figures. */
static void print_trial(FILE *f, const struct gd_run *r, const struct gd_trial *x,
			const char *scen, const char *policy, int run, double tol)
{
	fprintf(f, "  %s %s/%s/%d: %s tick %llu, ", is_miss(x) ? "MISS" : "    ",
		scen, policy, run, x->guest >= 0 ? sim_guest_name(r->s, x->guest) : "?",
		(unsigned long long)x->tick);
	if (x->nr_vcpu)
		fprintf(f, "%d vCPU%s", x->nr_vcpu, x->nr_mem ? " and " : "");
	if (x->nr_mem)
		fprintf(f, "%d memory", x->nr_mem);
	fprintf(f, " move%s (expected %+.1f%%): ", x->nr_vcpu + x->nr_mem == 1 ? "" : "s",
		x->expected * 100);
	if (x->cls != GD_UNKNOWN)
		fprintf(f, "%s: truth %+.1f%% over the guard's windows (raw %+.1f%%, "
			"drift %+.1f%% of %d), %+.1f%% from the tick before, %+.1f%% "
			"in the last tick; ", class_name[x->cls], x->t_gain * 100,
			(x->t_raw - 1) * 100, (x->t_drift - 1) * 100, x->t_drift_n,
			x->t_instant * 100, x->t_last * 100);
	fprintf(f, "%s", verdict_name[x->verdict]);
	if (x->verdict != GD_OPEN)
		fprintf(f, " at tick %llu", (unsigned long long)x->verdict_tick);
	if (x->mig_ticks)
		fprintf(f, " (%d ticks migrating)", x->mig_ticks);
	if (x->verdict == GD_KEPT || x->verdict == GD_REVERTED)
		fprintf(f, ": guard %+.1f%% (raw %+.1f%%, drift %+.1f%% of %d)",
			x->gain * 100, (x->raw - 1) * 100, (x->drift - 1) * 100, x->drift_n);
	if (is_miss(x))
		fprintf(f, ": %s", cause_name[cause(x, tol)]);
	fputc('\n', f);
}

static void tally_add(struct gd_tally *a, const struct gd_tally *b)
{
	a->runs += b->runs;
	a->trials += b->trials;
	a->harmful += b->harmful;
	a->harmful_rev += b->harmful_rev;
	a->harmful_rev3 += b->harmful_rev3;
	a->good += b->good;
	a->good_rev += b->good_rev;
	a->neutral += b->neutral;
	a->neutral_rev += b->neutral_rev;
	a->unjudged += b->unjudged;
	a->other += b->other;
	for (int i = 0; i < GD_C_NR; i++)
		a->cause[i] += b->cause[i];
}

/* Adds one classified trial, and the cause if it is a miss, to a tally. */
static void count(struct gd_tally *t, const struct vn_core *c,
		  const struct gd_trial *x, double tol)
{
	bool rev = x->verdict == GD_REVERTED;

	t->trials++;
	t->unjudged += x->verdict == GD_UNJUDGED;
	switch (x->cls) {
	case GD_HARMFUL:
		t->harmful++;
		t->harmful_rev += rev;
		t->harmful_rev3 += in_three(c, x);
		break;
	case GD_GOOD:
		t->good++;
		t->good_rev += rev;
		break;
	case GD_NEUTRAL:
		t->neutral++;
		t->neutral_rev += rev;
		break;
	default:
		t->other++;
		break;
	}
	if (is_miss(x))
		t->cause[cause(x, tol)]++;
}

/*
 * One run of one scenario under one policy with seed number k, through the
 * core as run.c builds it; its trials are added to t. 0 or -1.
 */
static int guard_run(const char *scenario, const char *name, const char *policy,
		     int k, const struct hs_opts *o, struct gd_tally *t)
{
	static struct vn_core c;	/* large: not on the stack */
	struct gd_run r = { .c = &c };
	double *was = NULL, iv, tol, instr, dram, rem;
	int ret = -1;

	memset(&c, 0, sizeof(c));
	if (hs_config(o, scenario, policy, &c.cfg) < 0) {
		config_free(&c.cfg);
		return -1;
	}
	c.cfg.policy_seed = 1 + k;
	if (registry_pick(&c) < 0 || core_open(&c, NULL, VN_OUT_NONE, stdout) < 0) {
		fprintf(stderr, "vnumad-sim: %s: policy %s: the core did not start "
			"(-vvv shows its log)\n", scenario, policy);
		goto out;
	}
	r.s = c.backend.priv;
	if (k > 0)
		sim_seed(r.s, (uint64_t)(o->seed >= 0 ? o->seed : 0) + (uint64_t)k);
	else if (o->seed >= 0)
		sim_seed(r.s, (uint64_t)o->seed);
	c.trial_hook = on_trial;
	c.trial_hook_arg = &r;
	iv = c.cfg.interval;
	tol = c.cfg.tolerance;
	r.ng = sim_nr_guests(r.s);
	r.ticks = (uint64_t)llround(hs_run_length(r.s, o, iv) / iv);
	r.ips = xcalloc((r.ticks + 1) * r.ng + 1, sizeof(*r.ips));
	r.busy = xcalloc((r.ticks + 2) * r.ng + 1, 1);
	was = xcalloc(r.ng + 1, sizeof(*was));
	for (int g = 0; g < r.ng; g++)
		sim_guest_totals(r.s, g, &was[g], &dram, &rem);
	for (uint64_t tick = 1; tick <= r.ticks; tick++) {
		if (core_tick(&c) < 0) {
			fprintf(stderr, "vnumad-sim: %s: tick %llu failed\n", scenario,
				(unsigned long long)c.host.tick);
			goto out;
		}
		for (int g = 0; g < r.ng; g++) {
			sim_guest_totals(r.s, g, &instr, &dram, &rem);
			r.ips[tick * r.ng + g] = (instr - was[g]) / iv;
			was[g] = instr;
		}
		/* memory in flight now moves during the next tick */
		for (const struct vn_migration *m = c.migrations; m; m = m->next) {
			const struct vn_guest *g = host_find_id(&c.host, m->guest_id);

			if (m->state == VN_MIG_RUNNING && g)
				mark(&r, sim_guest_find(r.s, g->name), tick + 1);
		}
	}
	t->runs++;
	for (int i = 0; i < r.nr; i++) {
		struct gd_trial *x = &r.tr[i];

		classify(&r, x, tol, o->truth_instant);
		count(t, &c, x, tol);
		if (o->verbose > 1 || (o->verbose && is_miss(x)))
			print_trial(stdout, &r, x, name, policy, k, tol);
	}
	ret = 0;
out:
	free(was);
	free(r.ips);
	free(r.busy);
	free(r.tr);
	core_close(&c);
	config_free(&c.cfg);
	return ret;
}

static double pct(int a, int b)
{
	return b ? 100.0 * a / b : 0;
}

static void header(FILE *f)
{
	fprintf(f, "%-16s %-9s %4s %6s  %7s %8s %6s  %5s %8s  %7s %5s\n", "scenario",
		"policy", "runs", "trials", "harmful", "reverted", "in 3w", "good",
		"reverted", "neutral", "other");
}

static void row(FILE *f, const char *scen, const char *policy, const struct gd_tally *t)
{
	fprintf(f, "%-16s %-9s %4d %6d  %7d %8d %6d  %5d %8d  %7d %5d\n", scen, policy,
		t->runs, t->trials, t->harmful, t->harmful_rev, t->harmful_rev3, t->good,
		t->good_rev, t->neutral, t->other);
	fflush(f);
}

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
 * The summary of one policy over every scenario, in words and for bench;
 * the goal on good moves is def's, the configuration's policy.
 */
static void summary(const char *policy, const struct gd_tally *t, int ns,
		    const struct hs_opts *o, double tol, const char *def)
{
	bool chaos = strcmp(policy, "chaos") == 0;
	bool goal = def && strcmp(policy, def) == 0;
	char dur[32], how[160];

	printf("%s: %d trials in %d runs; harmful %d, reverted %d (%.1f%%), within 3 "
	       "judge windows %d (%.1f%%); good %d, reverted %d (%.1f%%); neutral %d, "
	       "reverted %d; unjudged %d; other %d\n", policy, t->trials, t->runs,
	       t->harmful, t->harmful_rev, pct(t->harmful_rev, t->harmful),
	       t->harmful_rev3, pct(t->harmful_rev3, t->harmful), t->good, t->good_rev,
	       pct(t->good_rev, t->good), t->neutral, t->neutral_rev, t->unjudged,
	       t->other);
	for (int i = 0; i < GD_C_NR; i++)
		if (t->cause[i])
			printf("  misses: %d %s\n", t->cause[i], cause_name[i]);
	if (!o->bench)
		return;
	if (o->duration > 0)
		fmt_duration(dur, sizeof(dur), o->duration);
	else
		snprintf(dur, sizeof(dur), "full length");
	snprintf(how, sizeof(how), "%d run%s: %d scenario%s x %d seed%s, %s; truth %s",
		 t->runs, t->runs == 1 ? "" : "s", ns, ns == 1 ? "" : "s", t->runs / MAX(ns, 1),
		 t->runs / MAX(ns, 1) == 1 ? "" : "s", dur, o->truth_instant ?
		 "from the tick before each move" : "over the guard's windows");
	/* chaos's harmful moves, and the others' good ones */
	if (chaos)
		printf("BENCH name=guard.harmful_reverted_pct value=%.1f unit=%% goal=95 "
		       "dir=min desc=harmful trials (true normalised change below -%.0f%%) "
		       "the guard reverted within 3 judge windows, policy chaos: %d of %d "
		       "(%s)\n", pct(t->harmful_rev3, t->harmful), tol * 100,
		       t->harmful_rev3, t->harmful, how);
	else
		printf("BENCH name=guard.good_reverted_pct%s%s value=%.1f unit=%% "
		       "goal=%s dir=%s desc=good trials (true normalised change above "
		       "+%.0f%%) the guard reverted, policy %s: %d of %d (%s)\n",
		       goal ? "" : "/", goal ? "" : policy,
		       pct(t->good_rev, t->good), goal ? "5" : "-",
		       goal ? "max" : "-", tol * 100, policy, t->good_rev, t->good, how);
}

int hs_guard(char **scenarios, int ns, char **policies, int np, int runs,
	     const struct hs_opts *o)
{
	struct gd_tally *all = xcalloc(np + 1, sizeof(*all));
	int bad = 0, ret = -1, level = log_getlevel();
	double tol = 0;
	char name[128], b[32] = "", st[32] = "", j[32] = "", iv[32] = "", *def = NULL;

	/* check everything first: all the errors at once, nothing run */
	for (int i = 0; i < ns; i++) {
		struct sim *s = hs_load(scenarios[i]);

		bad += !s;
		sim_free(s);
	}
	for (int p = 0; p < np && ns > 0; p++) {
		struct vn_config cfg;

		if (hs_config(o, scenarios[0], policies[p], &cfg) < 0) {
			bad++;
		} else if (p == 0 && (!cfg.guard || cfg.dry_run)) {
			fprintf(stderr, "vnumad-sim: guard: the configuration %s: no trial "
				"would be judged\n", cfg.guard ? "asks for a dry run" :
				"turns the guard off");
			bad++;
		} else if (p == 0) {
			tol = cfg.tolerance;
			fmt_duration(b, sizeof(b), cfg.baseline);
			fmt_duration(st, sizeof(st), cfg.settle);
			fmt_duration(j, sizeof(j), cfg.judge);
			fmt_duration(iv, sizeof(iv), cfg.interval);
		}
		config_free(&cfg);
	}
	if (bad)
		goto out;
	/* the core's log only with -vvv: chaos warns at each of many starts */
	if (o->verbose < 3)
		log_setlevel(LOG_ERR);
	printf("guard: baseline %s, settle %s, judge %s at %s ticks, tolerance %.1f%%; "
	       "truth %s\n\n", b, st, j, iv, tol * 100, o->truth_instant ?
	       "from the tick before each move" : "over the guard's windows");
	header(stdout);
	for (int i = 0; i < ns; i++) {
		short_name(scenarios[i], name, sizeof(name));
		for (int p = 0; p < np; p++) {
			struct gd_tally t = { 0 };

			for (int k = 0; k < runs; k++)
				if (guard_run(scenarios[i], name, policies[p], k, o, &t) < 0)
					goto out;
			row(stdout, name, policies[p], &t);
			tally_add(&all[p], &t);
		}
	}
	if (ns > 1) {
		putchar('\n');
		for (int p = 0; p < np; p++)
			row(stdout, "all scenarios", policies[p], &all[p]);
	}
	putchar('\n');
	def = hs_default_policy(scenarios[0], o);
	for (int p = 0; p < np; p++)
		summary(policies[p], &all[p], ns, o, tol, def);
	ret = 0;
out:
	log_setlevel(level);
	free(def);
	free(all);
	return ret;
}
