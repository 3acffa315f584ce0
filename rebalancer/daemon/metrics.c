// SPDX-License-Identifier: MIT
/*
 * Metrics: the Prometheus text exposition format 0.0.4, served on the
 * daemon's own loop by httpd.c. The first scrape after a tick renders the
 * core's state as it stands then, and every scrape until the next tick is
 * served from that copy, by reference: however many scrape, the loop
 * renders at most once a tick (rendering 2,000 guests of 8 vCPUs takes
 * some 0.2 s of CPU and 9 MB), and no tick waits for more.
 *
 * Families are written whole, one after the other, each with its HELP and
 * TYPE lines before its first sample; a family without a sample (say, remote
 * ratios before the first counter reading) is left out entirely. Figures the
 * model does not know are left out too, never written as -1 or 0: a missing
 * series is what Prometheus understands as "unknown".
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/util.h>

#include "core.h"
#include "journal.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "worker.h"

#define PROM_TYPE	"text/plain; version=0.0.4; charset=utf-8"

struct vn_metrics {
	struct vn_core *core;
	struct vn_httpd *http;
	struct evbuffer *copy;	/* the exposition of tick copy_tick, or NULL */
	uint64_t copy_tick;
	uint64_t renders;	/* expositions rendered */
	bool reload_ok;		/* the last load of the configuration succeeded */
	double reload_ok_at;	/* Unix time of the last successful load */
};

/* Now as Unix time, with the fraction. */
static double unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Guest flags as the states of vnumad_guest_flag. */
static const struct {
	unsigned bit;
	const char *name;
} guest_flags[] = {
	{ VNUMAD_GUEST_PINNED, "pinned" },
	{ VNUMAD_GUEST_OPTED_OUT, "opted_out" },
	{ VNUMAD_GUEST_NO_MEMMOVE, "no_memmove" },
	{ VNUMAD_GUEST_MIGRATING, "migrating" },
	{ VNUMAD_GUEST_IN_TRIAL, "in_trial" },
	{ VNUMAD_GUEST_MEMORY_FREE, "memory_free" },
};

/* Every source, so that vnumad_vcpus has the same series from the start. */
static const enum vnumad_source all_sources[] = {
	VNUMAD_SRC_NONE, VNUMAD_SRC_SIM, VNUMAD_SRC_PMU, VNUMAD_SRC_FAULTS,
	VNUMAD_SRC_ESTIMATE,
};

/*
 * A label value as the format wants it: backslash, double quote and newline
 * escaped, and (since Prometheus refuses a scrape with invalid UTF-8) every
 * byte that is not part of a UTF-8 character replaced by U+FFFD.
 */
static char *escape_label(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = xmalloc(3 * strlen(s) + 1), *o = out;

	while (*p) {
		size_t k = utf8_len((const char *)p);

		if (*p == '\\' || *p == '"') {
			*o++ = '\\';
			*o++ = (char)*p++;
		} else if (*p == '\n') {
			*o++ = '\\';
			*o++ = 'n';
			p++;
		} else if (!k) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		} else {
			memcpy(o, p, k);
			o += k;
			p += k;
		}
	}
	*o = '\0';
	return out;
}

/* The state of one rendering: the family being written and whether it began. */
struct render {
	struct evbuffer *b;
	const char *name;
	const char *type;
	const char *help;
	bool begun;		/* its HELP and TYPE lines are out */
	bool failed;		/* an append failed: out of memory */
};

/* Names the family the next samples belong to; its header waits for one. */
static void family(struct render *r, const char *name, const char *type,
		   const char *help)
{
	r->name = name;
	r->type = type;
	r->help = help;
	r->begun = false;
}

static void add(struct render *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct render *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (evbuffer_add_vprintf(r->b, fmt, ap) < 0)
		r->failed = true;
	va_end(ap);
}

/* Writes the family's header if this is its first sample, then the name. */
static void begin_sample(struct render *r)
{
	if (!r->begun)
		add(r, "# HELP %s %s\n# TYPE %s %s\n", r->name, r->help, r->name,
		    r->type);
	r->begun = true;
	add(r, "%s", r->name);
}

/* A value as Prometheus parses it: the shortest decimal that reads back exact. */
static void end_sample(struct render *r, double v)
{
	char buf[40];

	if (isnan(v))
		snprintf(buf, sizeof(buf), "NaN");
	else if (isinf(v))
		snprintf(buf, sizeof(buf), "%s", v > 0 ? "+Inf" : "-Inf");
	else
		for (int digits = 15; digits <= 17; digits++)
			if (snprintf(buf, sizeof(buf), "%.*g", digits, v) > 0 &&
			    strtod(buf, NULL) == v)
				break;
	add(r, " %s\n", buf);
}

/* A sample without labels. */
static void sample(struct render *r, double v)
{
	begin_sample(r);
	end_sample(r, v);
}

static void sample_l(struct render *r, double v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A sample with labels: fmt gives what goes between the braces. */
static void sample_l(struct render *r, double v, const char *fmt, ...)
{
	va_list ap;

	begin_sample(r);
	add(r, "{");
	va_start(ap, fmt);
	if (evbuffer_add_vprintf(r->b, fmt, ap) < 0)
		r->failed = true;
	va_end(ap);
	add(r, "}");
	end_sample(r, v);
}

/* Sources that count instructions; the others only see locality. */
static bool counts_instructions(enum vnumad_source s)
{
	return s == VNUMAD_SRC_PMU || s == VNUMAD_SRC_SIM;
}

/* True when the guest's instructions per second are measured, not unknown. */
static bool guest_ips_known(const struct vn_guest *g)
{
	int measured = 0;

	for (int v = 0; v < g->nr_vcpus; v++) {
		if (g->vv[v].source == VNUMAD_SRC_NONE)
			continue;
		if (!counts_instructions(g->vv[v].source))
			return false;
		measured++;
	}
	return measured > 0;
}

static bool node_online(const struct vn_host *h, int n)
{
	return h->online >> n & 1;
}

/* The policy's worker process and the fallback to the built-in default. */
static void render_worker(struct render *r, const struct vn_core *c)
{
	struct worker_info w;

	worker_info(&c->policy, &w);
	family(r, "vnumad_policy_fallback", "gauge",
	       "1 while the built-in default policy advises in place of a failed one.");
	sample(r, w.fallback != NULL);
	family(r, "vnumad_policy_worker", "gauge",
	       "1 when the policy runs in a worker process (a plugin), 0 in the daemon.");
	sample(r, w.isolated);
	if (!w.isolated)
		return;
	family(r, "vnumad_policy_worker_up", "gauge",
	       "1 while a worker process runs the policy.");
	sample(r, w.pid > 0);
	family(r, "vnumad_policy_worker_restarts_total", "counter",
	       "Workers started again after one failed.");
	sample(r, (double)w.restarts);
	family(r, "vnumad_policy_ticks_lost_total", "counter",
	       "Ticks whose proposals were lost, by reason: the worker crashed, missed "
	       "its deadline, answered nonsense, made a refused system call, returned "
	       "an error or could not start.");
	for (int k = WORKER_LOST_CRASH; k < WORKER_LOST_NR; k++)
		sample_l(r, (double)w.lost[k], "reason=\"%s\"", worker_lost_names[k]);
	family(r, "vnumad_policy_worker_tick_seconds", "gauge",
	       "Wall time of the last tick's exchange with the worker, the policy's own "
	       "time included.");
	sample(r, w.tick_seconds);
}

/* What the daemon is and how it runs: info, configuration, tick cost. */
static void render_daemon(struct render *r, const struct vn_core *c)
{
	char *backend, *sampler, *policy;
	int trials = 0, quarantines = 0, migrations = 0;

	backend = escape_label(c->backend.ops ? c->backend.ops->name : "none");
	sampler = escape_label(c->sampler.ops ? c->sampler.ops->name : "none");
	policy = escape_label(c->policy.desc ? c->policy.desc->name : "none");
	family(r, "vnumad_build_info", "gauge", "Always 1; the label says which version runs.");
	sample_l(r, 1, "version=\"%s\"", VNUMAD_VERSION);
	family(r, "vnumad_run_info", "gauge",
	       "Always 1; the labels say which backend, sampler and policy run.");
	sample_l(r, 1, "backend=\"%s\",sampler=\"%s\",policy=\"%s\"", backend, sampler,
		 policy);
	free(backend);
	free(sampler);
	free(policy);

	family(r, "vnumad_dry_run", "gauge",
	       "1 in advisory mode, where nothing is applied.");
	sample(r, c->cfg.dry_run);
	family(r, "vnumad_policy_disabled", "gauge",
	       "1 when the policy failed too often and the daemon only advises.");
	sample(r, c->policy.disabled);
	family(r, "vnumad_journal_failing", "gauge",
	       "1 while the journal cannot be written: the daemon only advises until it can.");
	sample(r, c->journal_err != 0);
	family(r, "vnumad_journal_failures_total", "counter",
	       "Journal writes and reads that failed (a full or read-only state directory).");
	sample(r, c->journal ? (double)journal_failures(c->journal) : 0);
	render_worker(r, c);
	family(r, "vnumad_tick_interval_seconds", "gauge",
	       "Configured time between two ticks.");
	sample(r, c->cfg.interval);
	family(r, "vnumad_tick_duration_seconds", "gauge",
	       "Wall time the last tick took, all stages.");
	sample(r, c->stats.tick_wall);
	family(r, "vnumad_tick_cpu_seconds", "gauge",
	       "CPU time of the model, guard, policy and arbiter stages of the last tick.");
	sample(r, c->stats.tick_cpu);
	family(r, "vnumad_tick_cpu_seconds_total", "counter",
	       "CPU time of the model, guard, policy and arbiter stages, all ticks.");
	sample(r, c->stats.tick_cpu_total);
	family(r, "vnumad_tick_duration_seconds_total", "counter",
	       "Wall time of all ticks, all stages.");
	sample(r, c->stats.tick_wall_total);
	family(r, "vnumad_ticks_total", "counter", "Ticks run.");
	sample(r, (double)c->stats.ticks);
	family(r, "vnumad_decisions_total", "counter",
	       "Ticks in which the policy ran.");
	sample(r, (double)c->stats.decisions);

	for (const struct vn_trial *t = c->trials; t; t = t->next)
		trials++;
	for (const struct vn_quarantine *q = c->quarantine; q; q = q->next)
		if (q->until > c->host.now)
			quarantines++;
	for (const struct vn_migration *m = c->migrations; m; m = m->next)
		if (m->state == VN_MIG_RUNNING)
			migrations++;
	family(r, "vnumad_trials", "gauge",
	       "Moves applied and not judged yet, counted per guest and tick.");
	sample(r, trials);
	family(r, "vnumad_quarantines", "gauge",
	       "Guest and target node pairs quarantined after a reverted move.");
	sample(r, quarantines);
	family(r, "vnumad_migrations_running", "gauge",
	       "Memory migrations in flight.");
	sample(r, migrations);
}

/* What the daemon did: proposals, moves, verdicts and errors since it started. */
static void render_counters(struct render *r, const struct vn_core *c)
{
	const struct vn_stats *s = &c->stats;

	family(r, "vnumad_proposals_total", "counter",
	       "Proposals the policy made.");
	sample(r, (double)s->proposals);
	family(r, "vnumad_proposals_accepted_total", "counter",
	       "Proposals the arbiter let through.");
	sample(r, (double)s->accepted);
	family(r, "vnumad_proposals_dropped_total", "counter",
	       "Proposals the arbiter dropped, by reason.");
	for (int i = 0; i < VN_DROP_NR; i++)
		sample_l(r, (double)s->dropped[i], "reason=\"%s\"", arbiter_drop_slug(i));
	family(r, "vnumad_moves_total", "counter",
	       "Moves applied: vCPU affinity changes and memory migrations started.");
	sample_l(r, (double)s->vcpu_moves, "kind=\"vcpu\"");
	sample_l(r, (double)s->memory_moves, "kind=\"memory\"");
	family(r, "vnumad_verdicts_total", "counter",
	       "Moves judged by the rollback guard: kept (good or neutral) or reverted.");
	sample_l(r, (double)s->kept, "verdict=\"kept\"");
	sample_l(r, (double)s->reverted, "verdict=\"reverted\"");
	family(r, "vnumad_migrated_bytes_total", "counter",
	       "Bytes of guest memory migrated between nodes.");
	sample(r, (double)s->bytes_migrated);
	family(r, "vnumad_actuation_errors_total", "counter",
	       "Moves the backend failed to apply.");
	sample(r, (double)s->actuation_errors);
	family(r, "vnumad_sample_errors_total", "counter",
	       "Failures to read or start counters.");
	sample(r, (double)s->sample_errors);
}

/* Per node: CPUs, load, memory and DRAM bandwidth, as the model sees them. */
static void render_nodes(struct render *r, const struct vn_host *h)
{
	family(r, "vnumad_node_cpus", "gauge", "CPUs of the node.");
	for (int n = 0; n < h->nr_nodes; n++)
		if (node_online(h, n))
			sample_l(r, h->node[n].nr_cpus, "node=\"%d\"", n);
	family(r, "vnumad_node_cpu_load_ratio", "gauge",
	       "CPU demand of the vCPUs running on the node, per CPU of the node.");
	for (int n = 0; n < h->nr_nodes; n++)
		if (node_online(h, n))
			sample_l(r, h->node[n].cpu_load, "node=\"%d\"", n);
	family(r, "vnumad_node_memory_bytes", "gauge", "Memory of the node.");
	for (int n = 0; n < h->nr_nodes; n++)
		if (node_online(h, n))
			sample_l(r, (double)h->node[n].mem_total, "node=\"%d\"", n);
	family(r, "vnumad_node_memory_free_bytes", "gauge",
	       "Free memory of the node.");
	for (int n = 0; n < h->nr_nodes; n++)
		if (node_online(h, n))
			sample_l(r, (double)h->node[n].mem_free, "node=\"%d\"", n);
	family(r, "vnumad_node_memory_bandwidth_bytes_per_second", "gauge",
	       "DRAM traffic the node serves: measured by its memory controllers "
	       "(source uncore) or charged from the guests' counters (estimate).");
	for (int n = 0; n < h->nr_nodes; n++)
		if (node_online(h, n))
			sample_l(r, h->node[n].bw_used, "node=\"%d\"", n);
	family(r, "vnumad_node_memory_bandwidth_max_bytes_per_second", "gauge",
	       "DRAM bandwidth the node sustains, where known (source hmat, config "
	       "or sim).");
	for (int n = 0; n < h->nr_nodes; n++)
		if (node_online(h, n) && h->node[n].bw_max > 0)
			sample_l(r, h->node[n].bw_max, "node=\"%d\"", n);
	family(r, "vnumad_node_memory_bandwidth_source", "gauge",
	       "Where the two bandwidth figures of the node come from: 1 for the "
	       "source of each (figure used or max).");
	for (int n = 0; n < h->nr_nodes; n++)
		if (node_online(h, n)) {
			sample_l(r, 1, "node=\"%d\",figure=\"used\",source=\"%s\"", n,
				 core_source_name(h->node_info[n].bw_used_source));
			sample_l(r, 1, "node=\"%d\",figure=\"max\",source=\"%s\"", n,
				 core_source_name(h->node_info[n].bw_max_source));
		}
}

/* Per guest, then per vCPU; esc[i] is the escaped name of guest i. */
static void render_guests(struct render *r, const struct vn_core *c,
			  char *const *esc)
{
	const struct vn_host *h = &c->host;
	int by_source[8] = { 0 };

	family(r, "vnumad_guests", "gauge", "Guests the daemon knows.");
	sample(r, h->nr_guests);
	family(r, "vnumad_guest_info", "gauge",
	       "Always 1; uuid is the hypervisor's UUID of the guest, where known.");
	for (int i = 0; i < h->nr_guests; i++)
		if (h->guests[i]->uuid[0])
			sample_l(r, 1, "guest=\"%s\",uuid=\"%s\"", esc[i], h->guests[i]->uuid);
	family(r, "vnumad_guest_vcpus", "gauge", "vCPUs of the guest.");
	for (int i = 0; i < h->nr_guests; i++)
		sample_l(r, h->guests[i]->nr_vcpus, "guest=\"%s\"", esc[i]);
	family(r, "vnumad_guest_flag", "gauge",
	       "1 where the guest is in that state: pinned by its user, opted out, "
	       "memory not movable, memory migrating, a move under judgement.");
	for (int i = 0; i < h->nr_guests; i++)
		for (size_t k = 0; k < ARRAY_SIZE(guest_flags); k++)
			sample_l(r, !!(h->guests[i]->v.flags & guest_flags[k].bit),
				 "guest=\"%s\",flag=\"%s\"", esc[i], guest_flags[k].name);
	family(r, "vnumad_guest_measured", "gauge",
	       "1 where the guest's vCPUs can be measured, 0 where they cannot "
	       "(vnumad status says why).");
	for (int i = 0; i < h->nr_guests; i++) {
		char why[128];

		sample_l(r, !host_unmeasured(h->guests[i], why, sizeof(why)), "guest=\"%s\"",
			 esc[i]);
	}
	family(r, "vnumad_guest_sample_errors_total", "counter",
	       "Failures to read or start the guest's counters.");
	for (int i = 0; i < h->nr_guests; i++)
		sample_l(r, (double)h->guests[i]->sample_errors, "guest=\"%s\"", esc[i]);
	family(r, "vnumad_guest_remote_ratio", "gauge",
	       "Share of the guest's DRAM accesses served by a remote node, "
	       "weighted by the accesses of its vCPUs.");
	for (int i = 0; i < h->nr_guests; i++)
		if (h->guests[i]->v.remote_ratio >= 0)
			sample_l(r, h->guests[i]->v.remote_ratio, "guest=\"%s\"", esc[i]);
	family(r, "vnumad_guest_instructions_total", "counter",
	       "Instructions the guest's vCPUs ran since vnumad first saw it, where counted.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];
		double sum = 0;

		if (!guest_ips_known(g))
			continue;
		for (int v = 0; v < g->nr_vcpus; v++)
			sum += (double)g->vc[v].total.instructions;
		sample_l(r, sum, "guest=\"%s\"", esc[i]);
	}
	family(r, "vnumad_guest_memory_bytes", "gauge",
	       "Guest memory on each node, as last read.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		if (g->mem_read_at < 0)
			continue;
		for (int n = 0; n < h->nr_nodes; n++)
			if (node_online(h, n))
				sample_l(r, (double)g->v.mem[n], "guest=\"%s\",node=\"%d\"",
					 esc[i], n);
	}

	family(r, "vnumad_vcpu_node", "gauge",
	       "Node the vCPU ran on in the last tick.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vv[v].node >= 0)
				sample_l(r, g->vv[v].node, "guest=\"%s\",vcpu=\"%d\"",
					 esc[i], g->vv[v].index);
	}
	family(r, "vnumad_vcpu_remote_ratio", "gauge",
	       "Share of the vCPU's DRAM accesses served by a remote node "
	       "(vnumad_vcpu_source_info says how it was measured).");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vv[v].remote_ratio >= 0)
				sample_l(r, g->vv[v].remote_ratio, "guest=\"%s\",vcpu=\"%d\"",
					 esc[i], g->vv[v].index);
	}
	/* counters: Prometheus takes the rates, over the window it is asked for */
	family(r, "vnumad_vcpu_instructions_total", "counter",
	       "Instructions the vCPU ran, where its source counts them.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vc[v].total.counted)
				sample_l(r, (double)g->vc[v].total.instructions,
					 "guest=\"%s\",vcpu=\"%d\"", esc[i], g->vv[v].index);
	}
	family(r, "vnumad_vcpu_cycles_total", "counter",
	       "CPU cycles the vCPU ran, where its source counts them.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vc[v].total.counted)
				sample_l(r, (double)g->vc[v].total.cycles,
					 "guest=\"%s\",vcpu=\"%d\"", esc[i], g->vv[v].index);
	}
	family(r, "vnumad_vcpu_instructions_per_cycle", "gauge",
	       "Instructions per cycle of the vCPU, where its source counts both.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (counts_instructions(g->vv[v].source) && g->vv[v].ipc > 0)
				sample_l(r, g->vv[v].ipc, "guest=\"%s\",vcpu=\"%d\"",
					 esc[i], g->vv[v].index);
	}
	family(r, "vnumad_vcpu_dram_accesses_total", "counter",
	       "DRAM accesses of the vCPU served by its own node (local) or another "
	       "(remote), where its source counts them.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		/* the /proc fallback sees locality only: it counts no accesses */
		for (int v = 0; v < g->nr_vcpus; v++) {
			if (!g->vc[v].total.counted)
				continue;
			sample_l(r, (double)g->vc[v].total.local_dram,
				 "guest=\"%s\",vcpu=\"%d\",locality=\"local\"", esc[i],
				 g->vv[v].index);
			sample_l(r, (double)g->vc[v].total.remote_dram,
				 "guest=\"%s\",vcpu=\"%d\",locality=\"remote\"", esc[i],
				 g->vv[v].index);
		}
	}
	family(r, "vnumad_vcpu_cpu_seconds_total", "counter",
	       "CPU time the vCPU thread used.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vv[v].source != VNUMAD_SRC_NONE)
				sample_l(r, g->vc[v].total.cpu_time, "guest=\"%s\",vcpu=\"%d\"",
					 esc[i], g->vv[v].index);
	}

	/*
	 * The source is a label of its own series, not of the figures: a vCPU
	 * whose source changes (pmu to faults, say) keeps its series.
	 */
	family(r, "vnumad_vcpu_source_info", "gauge",
	       "Always 1; the label says where the vCPU's figures come from "
	       "(none: no reading yet).");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			sample_l(r, 1, "guest=\"%s\",vcpu=\"%d\",source=\"%s\"", esc[i],
				 g->vv[v].index, core_source_name(g->vv[v].source));
	}

	for (int i = 0; i < h->nr_guests; i++)
		for (int v = 0; v < h->guests[i]->nr_vcpus; v++)
			by_source[h->guests[i]->vv[v].source & 7]++;
	family(r, "vnumad_vcpus", "gauge",
	       "vCPUs by the source of their figures (none: no reading yet).");
	for (size_t k = 0; k < ARRAY_SIZE(all_sources); k++)
		sample_l(r, by_source[all_sources[k]], "source=\"%s\"",
			 core_source_name(all_sources[k]));
}

/* The outcome of the last configuration load (start or SIGHUP), as Prometheus' own. */
static void render_reload(struct render *r, const struct vn_metrics *m)
{
	family(r, "vnumad_config_last_reload_successful", "gauge",
	       "1 when the last load of the configuration (start or SIGHUP) succeeded.");
	sample(r, m->reload_ok);
	family(r, "vnumad_config_last_reload_success_timestamp_seconds", "gauge",
	       "Unix time of the last successful load of the configuration.");
	sample(r, m->reload_ok_at);
}

/* The number of open file descriptors, or -1. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

/*
 * The process metrics that Prometheus' client libraries export, under their
 * usual names: CPU time, memory, descriptors, start time.
 */
static void render_process(struct render *r)
{
	long page = sysconf(_SC_PAGESIZE), tck = sysconf(_SC_CLK_TCK);
	unsigned long long vsize = 0, start = 0;
	long long rss = -1, btime = -1;
	struct rusage ru;
	struct rlimit rl;
	char line[256];
	FILE *f;
	int fds;

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		family(r, "process_cpu_seconds_total", "counter",
		       "User and system CPU time of the daemon, all threads.");
		sample(r, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	}
	if ((f = fopen("/proc/self/stat", "re"))) {
		char buf[1024], *p = NULL;

		if (fgets(buf, sizeof(buf), f))
			p = strrchr(buf, ')');	/* after the command name, which may hold blanks */
		/* fields 22 (starttime), 23 (vsize) and 24 (rss) */
		if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
				 "%*u %*u %*d %*d %*d %*d %*d %*d %llu %llu %lld",
				 &start, &vsize, &rss) != 3)
			rss = -1;
		fclose(f);
	}
	if (rss >= 0) {
		family(r, "process_resident_memory_bytes", "gauge",
		       "Resident memory of the daemon.");
		sample(r, (double)rss * (double)page);
		family(r, "process_virtual_memory_bytes", "gauge",
		       "Virtual memory of the daemon.");
		sample(r, (double)vsize);
	}
	if ((f = fopen("/proc/stat", "re"))) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "btime %lld", &btime) == 1)
				break;
		fclose(f);
	}
	if (rss >= 0 && btime > 0 && tck > 0) {
		family(r, "process_start_time_seconds", "gauge",
		       "Unix time the daemon started.");
		sample(r, (double)btime + (double)start / (double)tck);
	}
	if ((fds = open_fds()) >= 0) {
		family(r, "process_open_fds", "gauge", "Open file descriptors of the daemon.");
		sample(r, fds);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		family(r, "process_max_fds", "gauge", "Most file descriptors the daemon may open.");
		sample(r, (double)rl.rlim_cur);
	}
}

/* The whole exposition: the core's state, the process, and m's reloads if any. */
static int render_all(const struct vn_core *c, const struct vn_metrics *m,
		      struct evbuffer *b)
{
	struct render r = { .b = b };
	int n = c->host.nr_guests;
	char **esc = xcalloc((size_t)MAX(n, 1), sizeof(*esc));

	/* guest names are escaped once, not once per family */
	for (int i = 0; i < n; i++)
		esc[i] = escape_label(c->host.guests[i]->name);
	render_daemon(&r, c);
	render_counters(&r, c);
	render_nodes(&r, &c->host);
	render_guests(&r, c, esc);
	if (m)
		render_reload(&r, m);
	render_process(&r);
	for (int i = 0; i < n; i++)
		free(esc[i]);
	free(esc);
	return r.failed ? -1 : 0;
}

int metrics_render(const struct vn_core *c, struct evbuffer *b)
{
	return render_all(c, NULL, b);
}

void metrics_reloaded(struct vn_metrics *m, bool ok)
{
	if (!m)
		return;
	m->reload_ok = ok;
	if (ok)
		m->reload_ok_at = unix_now();
	/* the copy of this tick no longer says what happened */
	if (m->copy) {
		evbuffer_free(m->copy);
		m->copy = NULL;
	}
}

static const char root_page[] =
	"<!DOCTYPE html>\n"
	"<html><head><title>vnumad</title></head>\n"
	"<body><h1>vnumad</h1>\n"
	"<p>Prometheus metrics are at <a href=\"/metrics\">/metrics</a>.</p>\n"
	"</body></html>\n";

/* The endpoint's own figures, after the core's. */
static void metrics_render_self(const struct vn_metrics *m, struct evbuffer *b)
{
	struct render r = { .b = b };

	family(&r, "vnumad_metrics_renders_total", "counter",
	       "Expositions rendered: at most one per tick, whatever the number of scrapes.");
	sample(&r, (double)m->renders);
	family(&r, "vnumad_metrics_connections", "gauge",
	       "Connections to this endpoint open now, this one included.");
	sample(&r, httpd_connections(m->http));
}

/* The exposition of the current tick: rendered by its first scrape only. */
static struct evbuffer *exposition(struct vn_metrics *m)
{
	struct evbuffer *b;

	if (m->copy && m->copy_tick == m->core->stats.ticks)
		return m->copy;
	b = evbuffer_new();
	if (!b)
		return NULL;
	m->renders++;
	if (render_all(m->core, m, b) < 0) {
		evbuffer_free(b);
		return NULL;
	}
	metrics_render_self(m, b);
	/* replies still sending the old copy hold references of their own */
	if (m->copy)
		evbuffer_free(m->copy);
	m->copy = b;
	m->copy_tick = m->core->stats.ticks;
	return b;
}

/* Every request: GET or HEAD of /metrics or /; anything else is refused. */
static void on_request(const struct http_request *req, struct http_reply *rep, void *arg)
{
	struct vn_metrics *m = arg;
	struct evbuffer *b;

	rep->type = "text/plain; charset=utf-8";
	if (req->method == HTTP_OTHER) {
		rep->status = 405;
		rep->allow = "GET, HEAD";
		evbuffer_add_printf(rep->body, "405 method not allowed: only GET and HEAD\n");
	} else if (strcmp(req->target, "/metrics") == 0) {
		b = exposition(m);
		if (b && evbuffer_add_buffer_reference(rep->body, b) == 0) {
			rep->status = 200;
			rep->type = PROM_TYPE;
		} else {
			log_warnx("metrics: out of memory building a response");
			evbuffer_drain(rep->body, evbuffer_get_length(rep->body));
			rep->status = 500;
			evbuffer_add_printf(rep->body, "500 out of memory\n");
		}
	} else if (strcmp(req->target, "/") == 0) {
		rep->status = 200;
		rep->type = "text/html; charset=utf-8";
		evbuffer_add(rep->body, root_page, sizeof(root_page) - 1);
	} else {
		rep->status = 404;
		evbuffer_add_printf(rep->body, "404 not found: metrics are at /metrics\n");
	}
}

/* Why a bind failed, in words an operator acts on. */
static const char *bind_error(int err)
{
	switch (err) {
	case EADDRINUSE:
		return "the port is in use by another program (EADDRINUSE)";
	case EADDRNOTAVAIL:
		return "no interface of this host has that address (EADDRNOTAVAIL)";
	case EACCES:
		return "permission denied: ports below 1024 need privileges (EACCES)";
	default:
		return strerror(err);
	}
}

int metrics_resolve(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen,
		    char *host, size_t hostlen, char *num, size_t numlen,
		    char *why, size_t whylen)
{
	struct evutil_addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_protocol = IPPROTO_TCP,
	};
	struct evutil_addrinfo *ai = NULL;
	const char *w;
	unsigned port;
	int r;

	if (parse_address(addr, host, hostlen, &port, &w) < 0) {
		snprintf(why, whylen, "%s", w);
		return -1;
	}
	/* the first address of the name, said in the log as a number */
	r = evutil_getaddrinfo(host, NULL, &hints, &ai);
	if (r != 0) {
		snprintf(why, whylen, "cannot resolve '%s': %s", host, evutil_gai_strerror(r));
		return -1;
	}
	*sslen = (socklen_t)MIN(ai->ai_addrlen, sizeof(*ss));
	memcpy(ss, ai->ai_addr, *sslen);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	r = getnameinfo(ai->ai_addr, (socklen_t)ai->ai_addrlen, num, (socklen_t)numlen,
			NULL, 0, NI_NUMERICHOST);
	evutil_freeaddrinfo(ai);
	if (r != 0) {
		snprintf(why, whylen, "cannot use the address of '%s': %s", host,
			 gai_strerror(r));
		return -1;
	}
	return 0;
}

struct vn_metrics *metrics_open(struct event_base *base, const char *addr,
				struct vn_core *c)
{
	char host[NI_MAXHOST], num[NI_MAXHOST], why[NI_MAXHOST + 128];
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct vn_metrics *m;
	unsigned port;

	if (metrics_resolve(addr, &ss, &sslen, host, sizeof(host), num, sizeof(num),
			    why, sizeof(why)) < 0) {
		log_warnx("metrics '%s': %s", addr, why);
		return NULL;
	}
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);

	m = xcalloc(1, sizeof(*m));
	m->core = c;
	/* the daemon opens the endpoint after loading its configuration */
	m->reload_ok = true;
	m->reload_ok_at = unix_now();
	errno = 0;
	m->http = httpd_new(base, (struct sockaddr *)&ss, sslen, on_request, m);
	if (!m->http) {
		int err = errno;

		if (strcmp(host, num) != 0)
			log_warnx("metrics '%s': cannot listen on %s port %u: %s", addr,
				  num, port, err ? bind_error(err) : "unknown error");
		else
			log_warnx("metrics '%s': cannot listen: %s", addr,
				  err ? bind_error(err) : "unknown error");
		metrics_close(m);
		return NULL;
	}
	if (strcmp(host, num) != 0)
		log_info("metrics on http://%s/metrics (%s)", addr, num);
	else
		log_info("metrics on http://%s/metrics", addr);
	return m;
}

struct vn_metrics *metrics_new_unbound(struct event_base *base, struct vn_core *c)
{
	struct vn_metrics *m = xcalloc(1, sizeof(*m));

	m->core = c;
	m->reload_ok = true;
	m->reload_ok_at = unix_now();
	m->http = httpd_new_unbound(base, on_request, m);
	return m;
}

void metrics_adopt(struct vn_metrics *m, int fd)
{
	httpd_adopt(m->http, fd);
}

void metrics_close(struct vn_metrics *m)
{
	if (!m)
		return;
	httpd_free(m->http);
	if (m->copy)
		evbuffer_free(m->copy);
	free(m);
}

uint64_t metrics_renders(const struct vn_metrics *m)
{
	return m ? m->renders : 0;
}
