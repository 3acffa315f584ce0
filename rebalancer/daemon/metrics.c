// SPDX-License-Identifier: MIT
/*
 * Metrics: the Prometheus text exposition format 0.0.4, served by evhttp on
 * the daemon's own loop. Each scrape renders the core's state as it stands
 * between two ticks, so nothing is kept or computed per tick for it.
 *
 * Families are written whole, one after the other, each with its HELP and
 * TYPE lines before its first sample; a family without a sample (say, remote
 * ratios before the first counter reading) is left out entirely. Figures the
 * model does not know are left out too, never written as -1 or 0: a missing
 * series is what Prometheus understands as "unknown".
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/util.h>

#include "core.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define PROM_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define HTTP_TIMEOUT	10		/* seconds a client may take */
#define MAX_HEADERS	8192		/* bytes of request headers */
#define MAX_BODY	4096		/* we read no body; refuse big ones early */

struct vn_metrics {
	struct vn_core *core;
	struct evhttp *http;
};

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
};

/* Every source, so that vnumad_vcpus has the same series from the start. */
static const enum vnumad_source all_sources[] = {
	VNUMAD_SRC_NONE, VNUMAD_SRC_SIM, VNUMAD_SRC_PMU, VNUMAD_SRC_FAULTS,
	VNUMAD_SRC_ESTIMATE,
};

/* Length of the valid UTF-8 sequence at s, or 0 if s does not start one. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned lo, hi;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		/* no overlong forms, no UTF-16 surrogates */
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		hi = s[0] == 0xed ? 0x9f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		lo = s[0] == 0xf0 ? 0x90 : 0x80;
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
			(s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

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
		size_t k = utf8_len(p);

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

/* What the daemon is and how it runs: info, configuration, tick cost. */
static void render_daemon(struct render *r, const struct vn_core *c)
{
	char *backend, *sampler, *policy;
	int trials = 0, quarantines = 0, migrations = 0;

	backend = escape_label(c->backend.ops ? c->backend.ops->name : "none");
	sampler = escape_label(c->sampler.ops ? c->sampler.ops->name : "none");
	policy = escape_label(c->policy.desc ? c->policy.desc->name : "none");
	family(r, "vnumad_info", "gauge",
	       "Always 1; the labels say which version, backend, sampler and policy run.");
	sample_l(r, 1, "version=\"%s\",backend=\"%s\",sampler=\"%s\",policy=\"%s\"",
		 VNUMAD_VERSION, backend, sampler, policy);
	free(backend);
	free(sampler);
	free(policy);

	family(r, "vnumad_dry_run", "gauge",
	       "1 in advisory mode, where nothing is applied.");
	sample(r, c->cfg.dry_run);
	family(r, "vnumad_policy_disabled", "gauge",
	       "1 when the policy failed too often and the daemon only advises.");
	sample(r, c->policy.disabled);
	family(r, "vnumad_tick_interval_seconds", "gauge",
	       "Configured time between two ticks.");
	sample(r, c->cfg.interval);
	family(r, "vnumad_tick_duration_seconds", "gauge",
	       "Wall time the last tick took, all stages.");
	sample(r, c->stats.tick_wall);
	family(r, "vnumad_tick_cpu_seconds", "gauge",
	       "CPU time of the model, guard, policy and arbiter stages of the last tick.");
	sample(r, c->stats.tick_cpu);
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
	family(r, "vnumad_node_cpu_load", "gauge",
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
	family(r, "vnumad_guest_remote_ratio", "gauge",
	       "Share of the guest's DRAM accesses served by a remote node, "
	       "weighted by the accesses of its vCPUs.");
	for (int i = 0; i < h->nr_guests; i++)
		if (h->guests[i]->v.remote_ratio >= 0)
			sample_l(r, h->guests[i]->v.remote_ratio, "guest=\"%s\"", esc[i]);
	family(r, "vnumad_guest_instructions_per_second", "gauge",
	       "Instructions per second of all the guest's vCPUs, where counted.");
	for (int i = 0; i < h->nr_guests; i++)
		if (guest_ips_known(h->guests[i]))
			sample_l(r, h->guests[i]->v.ips, "guest=\"%s\"", esc[i]);
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
	       "Share of the vCPU's DRAM accesses served by a remote node; "
	       "source says how it was measured.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vv[v].remote_ratio >= 0)
				sample_l(r, g->vv[v].remote_ratio,
					 "guest=\"%s\",vcpu=\"%d\",source=\"%s\"", esc[i],
					 g->vv[v].index, core_source_name(g->vv[v].source));
	}
	family(r, "vnumad_vcpu_instructions_per_second", "gauge",
	       "Instructions per second of the vCPU, where its source counts them.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (counts_instructions(g->vv[v].source))
				sample_l(r, g->vv[v].ips,
					 "guest=\"%s\",vcpu=\"%d\",source=\"%s\"", esc[i],
					 g->vv[v].index, core_source_name(g->vv[v].source));
	}
	family(r, "vnumad_vcpu_instructions_per_cycle", "gauge",
	       "Instructions per cycle of the vCPU, where its source counts both.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (counts_instructions(g->vv[v].source) && g->vv[v].ipc > 0)
				sample_l(r, g->vv[v].ipc,
					 "guest=\"%s\",vcpu=\"%d\",source=\"%s\"", esc[i],
					 g->vv[v].index, core_source_name(g->vv[v].source));
	}
	family(r, "vnumad_vcpu_dram_accesses_per_second", "gauge",
	       "DRAM accesses per second of the vCPU, where its source counts them.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		/* the /proc fallback sees locality only: its rate is -1 */
		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vv[v].source != VNUMAD_SRC_NONE &&
			    g->vv[v].access_rate >= 0)
				sample_l(r, g->vv[v].access_rate,
					 "guest=\"%s\",vcpu=\"%d\",source=\"%s\"", esc[i],
					 g->vv[v].index, core_source_name(g->vv[v].source));
	}
	family(r, "vnumad_vcpu_cpu_usage_ratio", "gauge",
	       "Share of one CPU the vCPU thread used.");
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vv[v].source != VNUMAD_SRC_NONE)
				sample_l(r, g->vv[v].cpu_demand,
					 "guest=\"%s\",vcpu=\"%d\",source=\"%s\"", esc[i],
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

int metrics_render(const struct vn_core *c, struct evbuffer *b)
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
	for (int i = 0; i < n; i++)
		free(esc[i]);
	free(esc);
	return r.failed ? -1 : 0;
}

static const char root_page[] =
	"<!DOCTYPE html>\n"
	"<html><head><title>vnumad</title></head>\n"
	"<body><h1>vnumad</h1>\n"
	"<p>Prometheus metrics are at <a href=\"/metrics\">/metrics</a>.</p>\n"
	"</body></html>\n";

/* Sends body with its type; HEAD gets the length a GET would have, no body. */
static void reply(struct evhttp_request *req, struct evbuffer *body, int code,
		  const char *reason, const char *type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char len[32];

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* evhttp 2.1 would send a body given to it, even for HEAD */
		snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
		evhttp_add_header(h, "Content-Length", len);
		evhttp_send_reply(req, code, reason, NULL);
		return;
	}
	evhttp_send_reply(req, code, reason, body);
}

/* Every request: GET or HEAD of /metrics or /; anything else is refused. */
static void on_request(struct evhttp_request *req, void *arg)
{
	struct vn_metrics *m = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *body = evbuffer_new();

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (!path || !*path)
		path = "/";
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
				  "GET, HEAD");
		evbuffer_add_printf(body, "405 method not allowed: only GET and HEAD\n");
		reply(req, body, HTTP_BADMETHOD, "Method Not Allowed",
		      "text/plain; charset=utf-8");
	} else if (strcmp(path, "/metrics") == 0) {
		if (metrics_render(m->core, body) == 0) {
			reply(req, body, HTTP_OK, "OK", PROM_TYPE);
		} else {
			log_warnx("metrics: out of memory building a response");
			evbuffer_drain(body, evbuffer_get_length(body));
			evbuffer_add_printf(body, "500 out of memory\n");
			reply(req, body, HTTP_INTERNAL, "Internal Server Error",
			      "text/plain; charset=utf-8");
		}
	} else if (strcmp(path, "/") == 0) {
		evbuffer_add(body, root_page, sizeof(root_page) - 1);
		reply(req, body, HTTP_OK, "OK", "text/html; charset=utf-8");
	} else {
		evbuffer_add_printf(body, "404 not found: metrics are at /metrics\n");
		reply(req, body, HTTP_NOTFOUND, "Not Found",
		      "text/plain; charset=utf-8");
	}
	evbuffer_free(body);
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

struct vn_metrics *metrics_open(struct event_base *base, const char *addr,
				struct vn_core *c)
{
	struct evutil_addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_protocol = IPPROTO_TCP,
	};
	struct evutil_addrinfo *ai = NULL;
	char host[NI_MAXHOST], num[NI_MAXHOST];
	struct vn_metrics *m;
	const char *why;
	unsigned port;
	int r;

	if (parse_address(addr, host, sizeof(host), &port, &why) < 0) {
		log_warnx("metrics '%s': %s", addr, why);
		return NULL;
	}
	/*
	 * Resolve here, to a numeric address: evhttp would resolve again and
	 * only warn through libevent's own log if the name were unknown.
	 */
	r = evutil_getaddrinfo(host, NULL, &hints, &ai);
	if (r != 0) {
		log_warnx("metrics '%s': cannot resolve '%s': %s", addr, host,
			  evutil_gai_strerror(r));
		return NULL;
	}
	r = getnameinfo(ai->ai_addr, (socklen_t)ai->ai_addrlen, num, sizeof(num),
			NULL, 0, NI_NUMERICHOST);
	evutil_freeaddrinfo(ai);
	if (r != 0) {
		log_warnx("metrics '%s': cannot use the address of '%s': %s", addr,
			  host, gai_strerror(r));
		return NULL;
	}

	m = xcalloc(1, sizeof(*m));
	m->core = c;
	m->http = evhttp_new(base);
	if (!m->http) {
		log_warnx("metrics '%s': cannot create the HTTP server", addr);
		free(m);
		return NULL;
	}
	/* every method reaches on_request, which answers 405 rather than 501 */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				   EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
				   EVHTTP_REQ_PATCH);
	evhttp_set_timeout(m->http, HTTP_TIMEOUT);
	evhttp_set_max_headers_size(m->http, MAX_HEADERS);
	evhttp_set_max_body_size(m->http, MAX_BODY);
	evhttp_set_gencb(m->http, on_request, m);

	errno = 0;
	if (!evhttp_bind_socket_with_handle(m->http, num, (ev_uint16_t)port)) {
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

void metrics_close(struct vn_metrics *m)
{
	if (!m)
		return;
	evhttp_free(m->http);
	free(m);
}
