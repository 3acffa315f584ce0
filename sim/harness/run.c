// SPDX-License-Identifier: MIT
/*
 * One run: a scenario under a policy, through the same core as the daemon.
 * The core is built as vnumad's main() builds it (configuration, backend
 * sim, the policy) and driven by core_tick() for the run's length; after
 * every tick the harness reads the model's truth through the backend's
 * struct sim. Throughput is the time integral of the guests' noise-free
 * instruction rate over the run, divided by its length.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core.h"
#include "harness.h"
#include "log.h"
#include "registry.h"
#include "trace.h"
#include "util.h"

struct sim *hs_load(const char *scenario)
{
	struct vn_errors e = { 0 };
	struct sim *s = sim_load(scenario, &e);

	if (!s) {
		errors_print(&e, stderr);
		fprintf(stderr, "vnumad-sim: %s: %d error%s\n", scenario, e.count,
			e.count == 1 ? "" : "s");
	}
	errors_free(&e);
	return s;
}

const char *hs_core_policy(const char *contender)
{
	return contender && strcmp(contender, HS_KERNEL) == 0 ? "none" : contender;
}

int hs_config(const struct hs_opts *o, const char *scenario, const char *policy,
	      struct vn_config *cfg)
{
	struct vn_overrides ov = {
		.interval = o->interval,
		.dry_run = o->dry_run,
		.backend = VN_BACKEND_SIM,
		.scenario = scenario,
		.policy = hs_core_policy(policy),
		.log_level = -1,
		/* in process for speed, unless asked to run a plugin as vnumad
		 * does (then it is described by a worker, as vnumad does too) */
		.worker = o->worker ? 1 : -1,
	};
	struct vn_errors e = { 0 };
	int r = config_load(cfg, o->config, &ov, &e);

	if (r < 0)
		errors_print(&e, stderr);
	errors_free(&e);
	return r;
}

char *hs_default_policy(const char *scenario, const struct hs_opts *o)
{
	struct vn_config cfg;
	char *name = NULL;

	if (hs_config(o, scenario, NULL, &cfg) == 0 && cfg.policy)
		name = xstrdup(cfg.policy);
	config_free(&cfg);
	return name;
}

double hs_run_length(const struct sim *s, const struct hs_opts *o, double interval)
{
	double want = o->duration > 0 ? o->duration :
		      sim_duration(s) > 0 ? sim_duration(s) : HS_DEFAULT_DURATION;

	return ceil(want / interval - 1e-9) * interval;
}

void hs_result_init(struct hs_result *r, const char *scenario, const char *policy,
		    const struct sim *s)
{
	memset(r, 0, sizeof(*r));
	r->scenario = xstrdup(scenario);
	r->policy = xstrdup(policy);
	r->nr_nodes = sim_nr_nodes(s);
	r->nr_guests = sim_nr_guests(s);
	r->guest = xcalloc(r->nr_guests + 1, sizeof(*r->guest));
	r->guest_ips = xcalloc(r->nr_guests + 1, sizeof(double));
	r->guest_remote = xcalloc(r->nr_guests + 1, sizeof(double));
	for (int g = 0; g < r->nr_guests; g++) {
		r->guest[g] = xstrdup(sim_guest_name(s, g));
		r->guest_remote[g] = -1;
	}
}

void hs_result_free(struct hs_result *r)
{
	for (int g = 0; g < r->nr_guests; g++)
		free(r->guest[g]);
	free(r->guest);
	free(r->guest_ips);
	free(r->guest_remote);
	free(r->progress);
	free(r->converge);
	free(r->level);
	free(r->scenario);
	free(r->policy);
	memset(r, 0, sizeof(*r));
}

static void print_json(FILE *f, const struct hs_result *r)
{
	json_t *o = json_object(), *guests = json_array();
	char *s;

	json_object_set_new(o, "type", json_string("totals"));
	json_object_set_new(o, "scenario", json_string(r->scenario));
	json_object_set_new(o, "policy", json_string(r->policy));
	if (r->runs_in)
		json_object_set_new(o, "policy_runs", json_string(r->runs_in));
	json_object_set_new(o, "duration", json_real(r->duration));
	json_object_set_new(o, "interval", json_real(r->interval));
	json_object_set_new(o, "ips", json_real(r->ips));
	if (r->scored) {
		json_object_set_new(o, "score", json_real(r->score));
		json_object_set_new(o, "worst_progress", json_real(r->worst));
		json_object_set_new(o, "worst_guest",
				    json_string(r->guest[r->worst_guest]));
	}
	json_object_set_new(o, "remote_ratio", r->remote >= 0 ? json_real(r->remote) : json_null());
	json_object_set_new(o, "bytes_migrated", json_integer((json_int_t)r->bytes_migrated));
	json_object_set_new(o, "host_bytes_migrated", json_integer((json_int_t)r->host_migrated));
	json_object_set_new(o, "numa_hint_faults", json_real(r->hint_faults));
	json_object_set_new(o, "vcpu_moves", json_integer((json_int_t)r->vcpu_moves));
	json_object_set_new(o, "memory_moves", json_integer((json_int_t)r->memory_moves));
	json_object_set_new(o, "kept", json_integer((json_int_t)r->kept));
	json_object_set_new(o, "reverts", json_integer((json_int_t)r->reverts));
	if (strcmp(r->policy, "oracle") == 0) {
		json_object_set_new(o, "search", json_string(r->exhaustive ?
			"exhaustive" : "best-known"));
		json_object_set_new(o, "segments", json_integer(r->segments));
		json_object_set_new(o, "evaluations", json_integer(r->evaluations));
	}
	for (int g = 0; g < r->nr_guests; g++) {
		json_t *x = json_object();

		json_object_set_new(x, "name", json_string(r->guest[g]));
		json_object_set_new(x, "ips", json_real(r->guest_ips[g]));
		if (r->scored)
			json_object_set_new(x, "progress", r->progress[g] >= 0 ?
					    json_real(r->progress[g]) : json_null());
		json_object_set_new(x, "remote_ratio", r->guest_remote[g] >= 0 ?
			json_real(r->guest_remote[g]) : json_null());
		json_array_append_new(guests, x);
	}
	json_object_set_new(o, "guests", guests);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s)
		fprintf(f, "%s\n", s);
	free(s);
	json_decref(o);
}

static void pct(char *buf, size_t len, double x)
{
	if (x < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f%%", x * 100);
}

void hs_print_result(FILE *f, const struct hs_result *r, const struct hs_opts *o)
{
	char a[32], b[32], rem[16];

	if (o->json) {
		print_json(f, r);
		return;
	}
	pct(rem, sizeof(rem), r->remote);
	fprintf(f, "scenario    %s: %d nodes, %d guests, %s at %s ticks\n", r->scenario,
		r->nr_nodes, r->nr_guests, fmt_duration(a, sizeof(a), r->duration),
		fmt_duration(b, sizeof(b), r->interval));
	if (strcmp(r->policy, "oracle") == 0)
		fprintf(f, "policy      oracle (%s: %d placement%s, %ld evaluations)\n",
			r->exhaustive ? "exhaustive search" : "best-known, local search",
			r->segments, r->segments == 1 ? "" : "s", r->evaluations);
	else if (r->runs_in)
		fprintf(f, "policy      %s (a plugin, run %s%s)\n", r->policy, r->runs_in,
			o->worker ? ", as vnumad runs it" : "; --worker runs it as vnumad does");
	else
		fprintf(f, "policy      %s\n", r->policy);
	if (r->scored)
		fprintf(f, "score       %.4f: geometric mean of %d %s progress (their "
			"throughput over alone, best placed); worst %.4f (%s)\n", r->score,
			r->scored, r->scored == 1 ? "guest's" : "guests'", r->worst,
			r->guest[r->worst_guest]);
	fprintf(f, "throughput  %.4g instructions/s (%.3f G/s, mean of the true guest IPS)\n",
		r->ips, r->ips / 1e9);
	fprintf(f, "remote      %s of DRAM accesses\n", rem);
	fprintf(f, "migrated    %s\n", fmt_size(a, sizeof(a), r->bytes_migrated));
	if (r->host_migrated || r->hint_faults > 0)
		fprintf(f, "host        %s migrated by its NUMA balancing, %.0f hinting faults\n",
			fmt_size(a, sizeof(a), r->host_migrated), r->hint_faults);
	fprintf(f, "moves       %llu vCPU, %llu memory; %llu kept, %llu reverted\n",
		(unsigned long long)r->vcpu_moves, (unsigned long long)r->memory_moves,
		(unsigned long long)r->kept, (unsigned long long)r->reverts);
	fprintf(f, "per guest   %-20s %12s %8s %9s\n", "", "G instr/s", "remote",
		"progress");
	for (int g = 0; g < r->nr_guests; g++) {
		char prog[16] = "-";

		pct(rem, sizeof(rem), r->guest_remote[g]);
		if (r->scored && r->progress[g] >= 0)
			snprintf(prog, sizeof(prog), "%.4f", r->progress[g]);
		fprintf(f, "            %-20s %12.4f %8s %9s\n", r->guest[g],
			r->guest_ips[g] / 1e9, rem, prog);
	}
}

/* The truth at the end of a tick: per guest, the totals so far. */
struct truth {
	double *instr, *dram, *remote;
};

static void read_truth(const struct sim *s, struct truth *t)
{
	for (int g = 0; g < sim_nr_guests(s); g++)
		sim_guest_totals(s, g, &t->instr[g], &t->dram[g], &t->remote[g]);
}

/* One CSV row from two readings of the truth a tick apart. */
static void timeline_row(struct hs_csv *csv, const struct vn_core *c,
			 const struct truth *was, const struct truth *now,
			 const struct vn_stats *before, double *gips)
{
	int ng = sim_nr_guests(c->backend.priv);
	double iv = c->cfg.interval, ins = 0, dram = 0, rem = 0;
	struct hs_tick t = {
		.tick = c->host.tick,
		.time = c->host.now,
		.vcpu_moves = c->stats.vcpu_moves - before->vcpu_moves,
		.memory_moves = c->stats.memory_moves - before->memory_moves,
		.bytes_migrated = c->stats.bytes_migrated,
		.reverts = c->stats.reverted - before->reverted,
		.guest_ips = gips,
	};

	for (int g = 0; g < ng; g++) {
		gips[g] = (now->instr[g] - was->instr[g]) / iv;
		ins += now->instr[g] - was->instr[g];
		dram += now->dram[g] - was->dram[g];
		rem += now->remote[g] - was->remote[g];
	}
	t.ips = ins / iv;
	t.remote = dram > 0 ? rem / dram : -1;
	csv_row(csv, &t);
}

/*
 * Convergence. A stretch between two events that an arrival or a phase
 * change opens is a window; its baseline is the first tick after the event
 * (the event's own tick ran partly before it). Over the window, S is the
 * sum over the running guests of the log of their instructions per second
 * in each tick: with the guests and their references fixed within a
 * stretch, its change is the change of the score's log. A window whose last
 * tick gained CONV_MIN or more over the baseline counts: the ticks from the
 * event until S first reached 90% of that gain.
 */
#define CONV_MIN	0.02
#define CONV_SHARE	0.9

struct conv {
	bool pending;		/* an opening event in the last tick */
	bool open;
	uint64_t event;		/* the tick the event fell in */
	double s0;
	double *S;
	int nr, cap;
};

static double log_sum(const struct sim *s, const struct truth *was,
		      const struct truth *now, double iv)
{
	double sum = 0;

	for (int g = 0; g < sim_nr_guests(s); g++) {
		double ips = (now->instr[g] - was->instr[g]) / iv;

		if (ips > 0)
			sum += log(ips);
	}
	return sum;
}

static void conv_close(struct conv *cv, struct hs_result *r)
{
	double gain;

	if (cv->open && cv->nr > 0) {
		gain = cv->S[cv->nr - 1] - cv->s0;
		for (int i = 0; gain >= CONV_MIN && i < cv->nr; i++)
			if (cv->S[i] - cv->s0 >= CONV_SHARE * gain) {
				r->converge = xreallocarray(r->converge, r->nr_converge + 1,
							    sizeof(int));
				/* the baseline is tick event + 1, S[i] tick event + 2 + i */
				r->converge[r->nr_converge++] = i + 2;
				break;
			}
	}
	cv->open = false;
	cv->nr = 0;
}

/* After tick k, covering (t_prev, t_now]: the events in it, S of the tick. */
static void conv_tick(struct conv *cv, struct hs_result *r, const struct sim *s,
		      uint64_t k, double t_prev, double t_now, double S)
{
	unsigned kinds = 0;
	double t = t_prev, e;

	while ((e = sim_event_after(s, t)) >= 0 && e <= t_now + 1e-9) {
		kinds |= sim_event_kind(s, e);
		t = e;
	}
	if (kinds) {
		conv_close(cv, r);
		cv->pending = kinds & (SIM_EV_ARRIVE | SIM_EV_PHASE);
		cv->event = k;
		return;
	}
	if (cv->pending) {
		cv->pending = false;
		cv->open = true;
		cv->s0 = S;
		cv->nr = 0;
		return;
	}
	if (!cv->open)
		return;
	if (cv->nr == cv->cap) {
		cv->cap = cv->cap ? 2 * cv->cap : 64;
		cv->S = xreallocarray(cv->S, cv->cap, sizeof(double));
	}
	cv->S[cv->nr++] = S;
}

/* Bytes moved by migrations still running at the end: they count too. */
static uint64_t in_flight(const struct vn_core *c)
{
	uint64_t b = 0;

	for (const struct vn_migration *m = c->migrations; m; m = m->next)
		if (m->state == VN_MIG_RUNNING)
			b += m->done;
	return b;
}

/*
 * The numad baseline runs as numad(8) does, not through vnumad's brakes:
 * numad never checks a move afterwards (no guard), binds whenever its own
 * test says so (its 5% improvement threshold is in the policy; the
 * core's min_gain would drop moves numad makes for balance, which its
 * counter-free gain figure undervalues), and migrates with one
 * migrate_pages() call in its own thread, at what a thread copies
 * ([host] numa_balancing_copy_rate), not at [limits] migrate_rate. A key
 * the configuration file sets is left as it says.
 */
void hs_baseline_config(struct vn_config *cfg, const struct sim *s)
{
	if (!cfg->policy || cfg->policy_handle || strcmp(cfg->policy, "numad") != 0)
		return;
	if (config_line(cfg, "guard", "enabled") <= 0)
		cfg->guard = false;
	if (config_line(cfg, "limits", "min_gain") <= 0)
		cfg->min_gain = 0;
	if (config_line(cfg, "limits", "migrate_rate") <= 0 && sim_copy_rate(s) > 0)
		cfg->migrate_rate = sim_copy_rate(s);
}

int hs_run(const char *scenario, const char *policy, const struct hs_opts *o,
	   struct hs_result *r)
{
	static struct vn_core c;	/* large: not on the stack */
	struct truth t0 = { 0 }, t1 = { 0 };
	struct conv cv = { 0 };
	struct hs_csv *csv = NULL;
	struct vn_trace *trace = NULL;
	struct sim *s;
	double *gips = NULL, wall, dram = 0, rem = 0;
	uint64_t ticks;
	char err[512];
	int ret = -1, ng, w;
	bool kernel = policy && strcmp(policy, HS_KERNEL) == 0;

	memset(r, 0, sizeof(*r));
	/* the scenario first: its errors are the ones the user wants */
	s = hs_load(scenario);
	if (!s)
		return -1;
	memset(&c, 0, sizeof(c));
	if (hs_config(o, scenario, policy, &c.cfg) < 0) {
		config_free(&c.cfg);
		sim_free(s);
		return -1;
	}
	hs_baseline_config(&c.cfg, s);
	sim_free(s);
	c.verbose = o->verbose > 0;
	if (registry_pick(&c) < 0 ||
	    core_open(&c, NULL, o->json ? VN_OUT_JSON : o->verbose ? VN_OUT_TEXT :
		      VN_OUT_NONE, stdout) < 0) {
		core_close(&c);
		config_free(&c.cfg);
		return -1;
	}
	s = c.backend.priv;
	if (o->seed >= 0)
		sim_seed(s, (uint64_t)o->seed);
	/*
	 * The host's own balancing, asked for by the contender or the command
	 * line; vnumad switches it off as on a real host when its
	 * configuration says [backend] numa_balancing = disable.
	 */
	if (kernel || o->numa_balancing > 0)
		sim_set_numa_balancing(s, c.cfg.numa_balancing != VN_NUMAB_DISABLE ||
				       c.cfg.dry_run);
	else if (o->numa_balancing == 0)
		sim_set_numa_balancing(s, false);
	ng = sim_nr_guests(s);
	hs_result_init(r, scenario, kernel ? HS_KERNEL : c.policy.desc->name, s);
	if (c.cfg.policy_handle)
		r->runs_in = c.policy.worker ? "in a worker" : "in process";
	r->interval = c.cfg.interval;
	r->duration = hs_run_length(s, o, c.cfg.interval);
	ticks = (uint64_t)llround(r->duration / c.cfg.interval);
	t0.instr = xcalloc(ng + 1, sizeof(double));
	t0.dram = xcalloc(ng + 1, sizeof(double));
	t0.remote = xcalloc(ng + 1, sizeof(double));
	t1.instr = xcalloc(ng + 1, sizeof(double));
	t1.dram = xcalloc(ng + 1, sizeof(double));
	t1.remote = xcalloc(ng + 1, sizeof(double));
	gips = xcalloc(ng + 1, sizeof(double));
	if (o->csv) {
		csv = csv_open(o->csv, s);
		if (!csv)
			goto out;
	}
	if (o->record) {
		trace = trace_open_write(o->record, &c, err, sizeof(err));
		if (!trace) {
			fprintf(stderr, "vnumad-sim: %s\n", err);
			goto out;
		}
	}
	read_truth(s, &t0);
	wall = now_monotonic();
	for (uint64_t k = 0; k < ticks; k++) {
		struct vn_stats before = c.stats;
		struct truth tmp;

		if (core_tick(&c) < 0) {
			fprintf(stderr, "vnumad-sim: %s: tick %llu failed\n", scenario,
				(unsigned long long)c.host.tick);
			goto out;
		}
		/* a dry run changes no affinity: the tick is as the backend saw it */
		if (trace && (w = trace_write_tick(trace, &c)) < 0) {
			fprintf(stderr, "vnumad-sim: %s: %s\n", o->record, strerror(-w));
			goto out;
		}
		read_truth(s, &t1);
		if (csv)
			timeline_row(csv, &c, &t0, &t1, &before, gips);
		conv_tick(&cv, r, s, k, sim_now(s) - c.cfg.interval, sim_now(s),
			  log_sum(s, &t0, &t1, c.cfg.interval));
		tmp = t0;
		t0 = t1;
		t1 = tmp;
	}
	r->wall = now_monotonic() - wall;
	conv_close(&cv, r);
	/* t0 holds the totals at the end; the run started at time 0 */
	for (int g = 0; g < ng; g++) {
		r->guest_ips[g] = t0.instr[g] / r->duration;
		r->guest_remote[g] = t0.dram[g] > 0 ? t0.remote[g] / t0.dram[g] : -1;
		r->ips += r->guest_ips[g];
		dram += t0.dram[g];
		rem += t0.remote[g];
	}
	r->remote = dram > 0 ? rem / dram : -1;
	r->bytes_migrated = c.stats.bytes_migrated + in_flight(&c);
	{
		struct sim_numab_totals nt;

		sim_numab_totals(s, &nt);
		r->host_migrated = nt.bytes_migrated;
		r->hint_faults = nt.hint_faults;
	}
	r->vcpu_moves = c.stats.vcpu_moves;
	r->memory_moves = c.stats.memory_moves;
	r->kept = c.stats.kept;
	r->reverts = c.stats.reverted;
	ret = 0;
out:
	if (csv && csv_close(csv) < 0)
		ret = -1;
	if (trace && trace_close(trace) < 0) {
		fprintf(stderr, "vnumad-sim: %s: cannot finish the trace\n", o->record);
		ret = -1;
	}
	free(t0.instr);
	free(t0.dram);
	free(t0.remote);
	free(t1.instr);
	free(t1.dram);
	free(t1.remote);
	free(gips);
	free(cv.S);
	core_close(&c);
	config_free(&c.cfg);
	if (ret < 0)
		hs_result_free(r);
	return ret;
}
