// SPDX-License-Identifier: MIT
/* The core: opening the backend, sampler and policy, and the tick itself. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "journal.h"
#include "trace.h"
#include "log.h"
#include "util.h"

const char *core_source_name(enum vnumad_source s)
{
	switch (s) {
	case VNUMAD_SRC_SIM: return "sim";
	case VNUMAD_SRC_PMU: return "pmu";
	case VNUMAD_SRC_FAULTS: return "faults";
	case VNUMAD_SRC_ESTIMATE: return "estimate";
	case VNUMAD_SRC_HMAT: return "hmat";
	case VNUMAD_SRC_CONFIG: return "config";
	case VNUMAD_SRC_UNCORE: return "uncore";
	default: return "none";
	}
}

double core_guest_gain(const struct vn_guest *g, const struct vn_decision *d, int n,
		       bool applied)
{
	double gain = 0;

	for (int j = 0; j < n; j++) {
		if (d[j].g != g || !(applied ? d[j].applied : d[j].accepted))
			continue;
		if (d[j].p.kind == VNUMAD_MOVE_VCPU && g->v.ips > 0)
			gain += d[j].p.gain * g->vv[d[j].p.vcpu].ips / g->v.ips;
		else
			gain += d[j].p.gain;
	}
	return gain;
}

/* A new guest, or one whose vCPU threads changed: (re)start counting. */
static void on_new_guest(struct vn_host *h, struct vn_guest *g, void *arg)
{
	struct vn_core *c = arg;
	int r = c->sampler.ops->attach(&c->sampler, g);
	(void)h;

	if (r < 0) {
		c->stats.sample_errors++;
		g->sample_errors++;
		if (g->sample_error != -r)
			log_warnx("guest %s: cannot sample its vCPUs: %s", g->name,
				  strerror(-r));
	}
	/* status and metrics say why a guest has no figures */
	g->sample_error = r < 0 ? -r : 0;
}

static void on_gone_guest(struct vn_host *h, struct vn_guest *g, void *arg)
{
	struct vn_core *c = arg;
	(void)h;

	c->sampler.ops->detach(&c->sampler, g);
	plugin_guest_gone(&c->policy, g);
	guard_guest_gone(c, g);
	migration_cancel_guest(c, g->id);
	if (c->backend.ops->forget)
		c->backend.ops->forget(&c->backend, g);
}

/* Guard windows in ticks; the history ring must hold all of them. */
static void size_windows(struct vn_core *c)
{
	double iv = c->cfg.interval;

	c->hist_baseline = MAX(1, (int)ceil(c->cfg.baseline / iv - 1e-9));
	c->hist_settle = (int)ceil(c->cfg.settle / iv - 1e-9);
	c->hist_judge = MAX(1, (int)ceil(c->cfg.judge / iv - 1e-9));
	/* a close call is judged over up to three windows */
	if (c->hist_baseline + c->hist_settle + 3 * c->hist_judge > VN_HIST - 8) {
		int total = c->hist_baseline + c->hist_settle + 3 * c->hist_judge;
		double f = (double)(VN_HIST - 8) / total;

		c->hist_baseline = MAX(1, (int)(c->hist_baseline * f));
		c->hist_settle = (int)(c->hist_settle * f);
		c->hist_judge = MAX(1, (int)(3 * c->hist_judge * f) / 3);
		log_warning("guard windows of %d ticks shortened to fit %d ticks of history",
			    total, VN_HIST - 8);
	}
}

int core_open(struct vn_core *c, struct event_base *base, enum vn_output output,
	      FILE *out)
{
	int r;

	host_init(&c->host);
	c->host.on_new = on_new_guest;
	c->host.on_gone = on_gone_guest;
	c->host.cb_arg = c;
	c->output = output;
	c->out = out;
	c->backend.base = base;
	c->start = now_monotonic();
	size_windows(c);

	/* the caller picks both (registry_pick, or its own: trace replay) */
	if (!c->backend.ops || !c->sampler.ops) {
		log_warnx("core_open: no %s given", c->backend.ops ? "counter source" :
			  "backend");
		c->backend.ops = NULL;
		return -EINVAL;
	}
	c->backend.cfg = &c->cfg;
	c->backend.host = &c->host;
	c->virtual_time = c->backend.ops->flags & VN_BACKEND_VIRTUAL_TIME;
	r = c->backend.ops->open(&c->backend);
	if (r < 0) {
		c->backend.ops = NULL;
		c->sampler.ops = NULL;
		return r;
	}
	c->sampler.cfg = &c->cfg;
	c->sampler.backend = &c->backend;
	r = c->sampler.ops->open(&c->sampler);
	if (r < 0) {
		c->sampler.ops = NULL;
		core_close(c);
		return r;
	}
	r = plugin_start(&c->policy, &c->cfg);
	if (r < 0) {
		core_close(c);
		return r;
	}
	/* a model starts afresh each run and a dry run moves nothing */
	if (!c->virtual_time && !c->cfg.dry_run) {
		r = core_journal_open(c);
		if (r < 0) {
			core_close(c);
			return r;
		}
	}
	log_info("backend %s, sampling %s, policy %s, interval %gs%s",
		 c->backend.ops->name, c->sampler.ops->name, c->policy.desc->name,
		 c->cfg.interval, c->cfg.dry_run ? ", dry run: nothing is applied" : "");
	return 0;
}

int core_journal_open(struct vn_core *c)
{
	c->journal = journal_open(c->cfg.state_dir);
	if (!c->journal) {
		log_warnx("not starting: root writes its journal in [daemon] state_dir "
			  "(see vnumad(8), STATE DIRECTORY)");
		return -EPERM;
	}
	guard_restore(c);
	core_journal_failing(c);
	return 0;
}

bool core_journal_failing(struct vn_core *c)
{
	int err = c->journal ? journal_error(c->journal) : 0;

	if (err && !c->journal_err)
		log_warnx("journal %s cannot be written (%s): advising only, nothing is "
			  "moved or undone until it can; tried again every tick",
			  journal_path(c->journal), strerror(err));
	else if (!err && c->journal_err)
		log_info("journal %s can be written again: moves resume",
			 journal_path(c->journal));
	c->journal_err = err;
	return err != 0;
}

/* Gives back the affinities vnumad changed, when the operator asked for it. */
static void restore_affinities(struct vn_core *c)
{
	int n = 0;

	for (int i = 0; i < c->host.nr_guests; i++) {
		struct vn_guest *g = c->host.guests[i];

		for (int v = 0; v < g->nr_vcpus; v++) {
			if (g->vc[v].last_move < 0 ||
			    g->vv[v].allowed == g->vc[v].orig_allowed ||
			    !g->vc[v].orig_allowed)
				continue;
			if (c->backend.ops->set_affinity(&c->backend, g, v,
							 g->vc[v].orig_allowed) < 0)
				log_warnx("guest %s: cannot restore the affinity of vCPU %d",
					  g->name, v);
			else
				n++;
		}
	}
	if (n)
		log_info("restored the affinity of %d vCPU%s", n, n == 1 ? "" : "s");
}

void core_close(struct vn_core *c)
{
	if (c->trace && trace_close(c->trace) < 0)
		log_warnx("--record: the trace could not be finished");
	c->trace = NULL;
	guard_stop(c);
	if (c->backend.ops && c->cfg.restore_affinity && !c->cfg.dry_run)
		restore_affinities(c);
	/* stop memory moves first: they reference guests */
	migration_cancel_guest(c, 0);
	if (c->sampler.ops) {
		for (int i = 0; i < c->host.nr_guests; i++)
			c->sampler.ops->detach(&c->sampler, c->host.guests[i]);
	}
	/* the policy's storage of each guest first, while the guests exist */
	if (c->policy.desc)
		plugin_stop(&c->policy, &c->host, VNUMAD_EXIT_SHUTDOWN);
	c->host.on_gone = NULL;
	if (c->backend.ops && c->backend.ops->forget)
		for (int i = 0; i < c->host.nr_guests; i++)
			c->backend.ops->forget(&c->backend, c->host.guests[i]);
	host_fini(&c->host);
	guard_fini(c);
	migration_free_all(c);
	if (c->sampler.ops)
		c->sampler.ops->close(&c->sampler);
	if (c->backend.ops)
		c->backend.ops->close(&c->backend);
	journal_close(c->journal);
	c->journal = NULL;
	free(c->dec.d);
	memset(&c->dec, 0, sizeof(c->dec));
	record_fini(c);
	c->sampler.ops = NULL;
	c->backend.ops = NULL;
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* True when some vCPU has a counter reading this tick. */
static bool has_readings(const struct vn_core *c)
{
	for (int i = 0; i < c->host.nr_guests; i++) {
		const struct vn_guest *g = c->host.guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vc[v].delta.valid)
				return true;
	}
	return false;
}

/* One tick of the pipeline; returns 0, or -1 if inventory failed. */
int core_tick(struct vn_core *c)
{
	struct vn_decisions *dec = &c->dec;
	struct vnumad_out out;
	double t0, w0 = now_monotonic();

	c->host.tick++;
	c->stats.ticks++;
	if (c->virtual_time)
		c->host.now += c->cfg.interval;
	else
		c->host.now = now_monotonic() - c->start;
	c->decided = false;
	dec->nr = dec->nr_accepted = 0;
	/* a journal that failed is tried again: it may have room now */
	if (c->journal && journal_error(c->journal))
		journal_retry(c->journal);
	core_journal_failing(c);

	if (stage_inventory(c) < 0)
		return -1;
	stage_sample(c);
	/* what the backend and sampler reported, before anything acts on it */
	if (c->trace) {
		int r = trace_write_tick(c->trace, c);

		if (r < 0) {
			log_warnx("--record: %s; recording stopped", strerror(-r));
			trace_close(c->trace);
			c->trace = NULL;
		}
	}
	t0 = cpu_seconds();
	stage_model(c);
	stage_guard(c);
	stage_publish(c);
	/*
	 * Counters need two readings: the first tick only primes them. From
	 * the second on the policy decides on what could be sampled, if
	 * anything (a guest that cannot be measured has said why), so that
	 * --once ends whatever the guests are.
	 */
	if ((has_readings(c) || c->host.tick > 1) &&
	    stage_policy(c, &out) == 0) {
		c->decided = true;
		c->stats.decisions++;
		stage_arbiter(c, &out, dec);
	}
	c->stats.tick_cpu = cpu_seconds() - t0;
	c->stats.tick_cpu_total += c->stats.tick_cpu;
	stage_actuate(c, dec);
	/* what status and metrics read until the next tick */
	if (dec->nr_accepted && !core_advisory(c))
		stage_publish(c);
	stage_record(c, dec);
	/* the tick's verdicts and progress, durable at once */
	if (c->journal)
		journal_commit(c->journal);
	core_journal_failing(c);
	c->stats.tick_wall = now_monotonic() - w0;
	c->stats.tick_wall_total += c->stats.tick_wall;
	return 0;
}

void core_reconfigure(struct vn_core *c, struct vn_config *fresh)
{
	struct vn_policy_rt rt;

	/* what the backend was opened with stays until a restart */
	if (fresh->backend != c->cfg.backend ||
	    strcmp(fresh->uri, c->cfg.uri) != 0 ||
	    (fresh->scenario && c->cfg.scenario &&
	     strcmp(fresh->scenario, c->cfg.scenario) != 0))
		log_warning("reload: backend settings change only at restart");
	/* the journal stays where it was opened */
	if (strcmp(fresh->state_dir, c->cfg.state_dir) != 0)
		log_warning("reload: [daemon] state_dir changes only at restart");
	free(fresh->state_dir);
	fresh->state_dir = xstrdup(c->cfg.state_dir);
	/* a dry run kept no journal: a daemon that starts to act needs one first */
	if (!c->virtual_time && !fresh->dry_run && !c->journal && core_journal_open(c) < 0) {
		log_warnx("reload: no journal can be kept in %s: the daemon stays in dry-run "
			  "mode", c->cfg.state_dir);
		fresh->dry_run = true;
	}
	fresh->backend = c->cfg.backend;
	free(fresh->uri);
	fresh->uri = xstrdup(c->cfg.uri);
	free(fresh->scenario);
	fresh->scenario = c->cfg.scenario ? xstrdup(c->cfg.scenario) : NULL;
	if (c->virtual_time)
		fresh->interval = c->cfg.interval;

	if (plugin_start(&rt, fresh) < 0) {
		log_warnx("reload: policy %s failed to start; configuration kept",
			  fresh->policy_desc->name);
		config_free(fresh);
		return;
	}
	plugin_stop(&c->policy, &c->host, VNUMAD_EXIT_RELOAD);
	config_free(&c->cfg);
	c->cfg = *fresh;	/* backend and sampler point at c->cfg */
	memset(fresh, 0, sizeof(*fresh));
	c->policy = rt;
	size_windows(c);
	/* the operator may have fixed what made a backend refuse a guest */
	for (int i = 0; i < c->host.nr_guests; i++)
		c->host.guests[i]->refused = 0;
	log_setlevel(c->cfg.log_level);
	log_info("configuration reloaded: policy %s, interval %gs%s",
		 c->policy.desc->name, c->cfg.interval,
		 c->cfg.dry_run ? ", dry run" : "");
}

void core_dump_state(struct vn_core *c)
{
	struct vn_host *h = &c->host;
	char a[32], b[32];

	log_info("state: tick %llu, %d guests, policy %s%s, %llu moves, %llu reverted",
		 (unsigned long long)h->tick, h->nr_guests, c->policy.desc->name,
		 c->policy.disabled ? " (disabled)" : "",
		 (unsigned long long)(c->stats.vcpu_moves + c->stats.memory_moves),
		 (unsigned long long)c->stats.reverted);
	for (int n = 0; n < h->nr_nodes; n++) {
		if (!(h->online >> n & 1))
			continue;
		log_info("  node %d: %d CPUs, load %.0f%%, %s free of %s, bandwidth "
			 "%.3g GB/s (%s) of %.3g GB/s (%s)", n,
			 h->node[n].nr_cpus, h->node[n].cpu_load * 100,
			 fmt_size(a, sizeof(a), h->node[n].mem_free),
			 fmt_size(b, sizeof(b), h->node[n].mem_total),
			 h->node[n].bw_used / 1e9,
			 core_source_name(h->node_info[n].bw_used_source),
			 h->node[n].bw_max / 1e9,
			 core_source_name(h->node_info[n].bw_max_source));
	}
	for (int i = 0; i < h->nr_guests; i++) {
		struct vn_guest *g = h->guests[i];
		char nodes[256];
		size_t off = 0;

		for (int v = 0; v < g->nr_vcpus && off < sizeof(nodes) - 8; v++)
			off += snprintf(nodes + off, sizeof(nodes) - off, "%s%d",
					v ? "," : "", g->vv[v].node);
		char remote[16], why[128];
		const char *um = host_unmeasured(g, why, sizeof(why));

		/* a guest not measured yet has no remote share: never -100% */
		if (g->v.remote_ratio >= 0)
			snprintf(remote, sizeof(remote), "%.0f%%", g->v.remote_ratio * 100);
		else
			snprintf(remote, sizeof(remote), "unknown");
		log_info("  guest %s: vCPUs on nodes [%s], remote %s, %.3g instr/s%s%s%s%s",
			 g->name, nodes, remote, g->v.ips,
			 g->v.flags & VNUMAD_GUEST_IN_TRIAL ? ", in trial" : "",
			 g->refused ? ", refused by the backend" : "",
			 um ? "; cannot be measured: " : "", um ? um : "");
	}
	for (struct vn_trial *t = c->trials; t; t = t->next)
		log_info("  trial: guest %s, %d moves at %s, judged until %s",
			 t->guest, t->nr_act, fmt_elapsed(a, sizeof(a), t->applied),
			 fmt_elapsed(b, sizeof(b), t->judge_until));
	for (struct vn_quarantine *q = c->quarantine; q; q = q->next)
		if (q->until > h->now)
			log_info("  quarantine: guest %s to node %d for %s more",
				 q->guest, q->node,
				 fmt_elapsed(a, sizeof(a), q->until - h->now));
}
