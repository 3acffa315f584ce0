// SPDX-License-Identifier: MIT
/*
 * Stage 9, record: what the tick decided, in plain words or as JSON Lines.
 * The advisory mode prints a one-line host summary per tick and one line
 * per guest whose recommendation appears, changes or is withdrawn: what
 * moves, from and to, the measured remote ratio and where that figure came
 * from, the gain expected for the guest and the reason; advice that stays
 * is recalled every [daemon] remind. JSON Lines keeps one object per
 * recommendation and round, marked new, unchanged or withdrawn. A daemon
 * without a terminal logs applied moves and verdicts instead.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core.h"
#include "log.h"
#include "util.h"

static const char *action_name(enum vnumad_proposal_kind k)
{
	switch (k) {
	case VNUMAD_MOVE_VCPU: return "move-vcpu";
	case VNUMAD_MOVE_MEMORY: return "move-memory";
	case VNUMAD_MOVE_GUEST: return "move-guest";
	}
	return "?";
}

/* The sources behind this tick's figures, such as "sim" or "pmu+estimate". */
static const char *sources(const struct vn_core *c, char *buf, size_t len)
{
	unsigned seen = 0;
	size_t off = 0;

	for (int i = 0; i < c->host.nr_guests; i++) {
		const struct vn_guest *g = c->host.guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			seen |= 1u << (g->vv[v].source & 7);
	}
	seen &= ~(1u << VNUMAD_SRC_NONE);
	buf[0] = '\0';
	for (int s = 1; s < 8 && off < len; s++)
		if (seen >> s & 1)
			off += snprintf(buf + off, len - off, "%s%s", off ? "+" : "",
					core_source_name(s));
	if (!seen)
		snprintf(buf, len, "none");
	return buf;
}

/*
 * A rounded real, so that JSON output is stable and readable; a huge one
 * unrounded rather than lost (json_real() refuses the infinity that rounding
 * makes of it, and its member silently went missing), a non-finite one null.
 */
static json_t *jreal(double x, double quantum)
{
	double r = round(x / quantum) * quantum;

	return isfinite(r) ? json_real(r) : isfinite(x) ? json_real(x) : json_null();
}

/*
 * A gain as a percentage: "+30%"; a huge one (a dropped proposal's) as
 * "+1e+309%", computed in long double so that it does not become "+inf%".
 */
static char *fmt_gain(char *buf, size_t len, double gain)
{
	if (fabs(gain) < 1e6)
		snprintf(buf, len, "%+.0f%%", gain * 100);
	else
		snprintf(buf, len, "%+.3Lg%%", (long double)gain * 100);
	return buf;
}

static void emit_json(struct vn_core *c, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));

	if (s) {
		fprintf(c->out, "%s\n", s);
		free(s);
	}
	json_decref(o);
}

static void host_totals(const struct vn_core *c, int *vcpus, double *ips,
			double *remote)
{
	double acc = 0, acc_r = 0;

	*vcpus = 0;
	*ips = 0;
	for (int i = 0; i < c->host.nr_guests; i++) {
		const struct vn_guest *g = c->host.guests[i];

		*vcpus += g->nr_vcpus;
		*ips += g->v.ips;
		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vv[v].remote_ratio >= 0) {
				double w = g->vv[v].access_rate >= 0 ?
					   g->vv[v].access_rate : g->vv[v].cpu_demand;

				acc += w;
				acc_r += w * g->vv[v].remote_ratio;
			}
	}
	*remote = acc > 0 ? acc_r / acc : -1;
}

/* The host's line of this tick, in words (the text output and the log). */
static void summary_text(struct vn_core *c, char *buf, size_t len)
{
	const struct vn_host *h = &c->host;
	char src[64], a[32];
	double ips, remote;
	size_t off;
	int vcpus;

	host_totals(c, &vcpus, &ips, &remote);
	sources(c, src, sizeof(src));
	off = (size_t)snprintf(buf, len, "tick %llu (%s): %d guests, %d vCPUs, ",
			       (unsigned long long)h->tick, fmt_elapsed(a, sizeof(a), h->now),
			       h->nr_guests, vcpus);
	if (!c->decided && remote < 0)
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
					"counters primed, figures from the next tick;");
	else if (remote >= 0)
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
					"remote %.0f%%, %.3g instr/s;", remote * 100, ips);
	else
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
					"remote unknown, %.3g instr/s;", ips);
	for (int n = 0, first = 1; n < h->nr_nodes; n++) {
		if (!(h->online >> n & 1))
			continue;
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
			"%s node %d cpu %.0f%% mem %.0f%%", first ? "" : ";", n,
			h->node[n].cpu_load * 100,
			h->node[n].mem_total ? 100.0 * (double)(h->node[n].mem_total -
				h->node[n].mem_free) / (double)h->node[n].mem_total : 0);
		first = 0;
	}
	if (c->policy.disabled)
		snprintf(a, sizeof(a), "%s", c->policy.desc->name);
	snprintf(buf + off, off < len ? len - off : 0, " [%s%s%s%s%s]", src,
		 c->cfg.dry_run ? "; dry run" :
		 c->journal_err ? "; journal failing: advising only" :
		 core_advisory(c) && !c->policy.disabled ? "; advisory-only policy" : "",
		 c->policy.disabled ? "; policy " : "", c->policy.disabled ? a : "",
		 c->policy.disabled ? " failed, the default advises" : "");
}

static void print_summary(struct vn_core *c)
{
	const struct vn_host *h = &c->host;
	char line[1024], src[64];
	double ips, remote;
	int vcpus;

	if (c->output == VN_OUT_JSON) {
		json_t *o = json_object(), *nodes = json_array();

		host_totals(c, &vcpus, &ips, &remote);
		sources(c, src, sizeof(src));
		json_object_set_new(o, "type", json_string("tick"));
		json_object_set_new(o, "tick", json_integer((json_int_t)h->tick));
		json_object_set_new(o, "time", jreal(h->now, 1e-3));
		json_object_set_new(o, "dry_run", json_boolean(c->cfg.dry_run));
		json_object_set_new(o, "guests", json_integer(h->nr_guests));
		json_object_set_new(o, "vcpus", json_integer(vcpus));
		json_object_set_new(o, "remote_ratio", remote >= 0 ? jreal(remote, 1e-4) : json_null());
		json_object_set_new(o, "ips", json_integer((json_int_t)llround(ips)));
		json_object_set_new(o, "source", json_string(src));
		if (c->policy.disabled)
			json_object_set_new(o, "policy_failed",
					    json_string(c->policy.desc->name));
		for (int n = 0; n < h->nr_nodes; n++) {
			json_t *x;

			if (!(h->online >> n & 1))
				continue;
			x = json_object();
			json_object_set_new(x, "node", json_integer(n));
			json_object_set_new(x, "cpus", json_integer(h->node[n].nr_cpus));
			json_object_set_new(x, "cpu_load", jreal(h->node[n].cpu_load, 1e-4));
			json_object_set_new(x, "mem_total", json_integer((json_int_t)h->node[n].mem_total));
			json_object_set_new(x, "mem_free", json_integer((json_int_t)h->node[n].mem_free));
			json_array_append_new(nodes, x);
		}
		json_object_set_new(o, "nodes", nodes);
		emit_json(c, o);
		return;
	}
	summary_text(c, line, sizeof(line));
	/* a daemon's log gets the tick only at debug level: 43,200 lines a day */
	if (c->output == VN_OUT_NONE)
		log_debug("%s", line);
	else
		fprintf(c->out, "%s\n", line);
}

/* Where a decision's remote figure comes from: its vCPU's, or its guest's. */
static double decision_remote(const struct vn_decision *d, enum vnumad_source *src)
{
	const struct vnumad_proposal *p = &d->p;
	const struct vn_guest *g = d->g;

	*src = VNUMAD_SRC_NONE;
	/* a dropped proposal may name a vCPU that does not exist */
	if (g && p->kind == VNUMAD_MOVE_VCPU && p->vcpu >= 0 && p->vcpu < g->nr_vcpus) {
		*src = g->vv[p->vcpu].source;
		return g->vv[p->vcpu].remote_ratio;
	}
	if (g && p->kind != VNUMAD_MOVE_VCPU) {
		*src = g->nr_vcpus ? g->vv[0].source : VNUMAD_SRC_NONE;
		return g->v.remote_ratio;
	}
	return -1;
}

/* The JSON object of one decision; status: "new", "unchanged" or NULL. */
static void json_decision(struct vn_core *c, const struct vn_decision *d,
			  const char *status, double guest_gain)
{
	const struct vnumad_proposal *p = &d->p;
	const struct vn_guest *g = d->g;
	enum vnumad_source src;
	double remote = decision_remote(d, &src);
	json_t *o = json_object();
	char nodes[200];

	json_object_set_new(o, "type", json_string(d->accepted ?
		"recommendation" : "held-back"));
	json_object_set_new(o, "tick", json_integer((json_int_t)c->host.tick));
	json_object_set_new(o, "time", jreal(c->host.now, 1e-3));
	if (status)
		json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "guest", json_string(g ? g->name : "?"));
	json_object_set_new(o, "action", json_string(action_name(p->kind)));
	if (p->kind == VNUMAD_MOVE_VCPU)
		json_object_set_new(o, "vcpu", json_integer(p->vcpu));
	if (p->kind == VNUMAD_MOVE_MEMORY)
		json_object_set_new(o, "bytes", json_integer((json_int_t)p->bytes));
	if (p->kind == VNUMAD_MOVE_GUEST) {
		json_object_set_new(o, "nodes", json_string(fmt_nodemask(nodes,
			sizeof(nodes), p->nodes)));
	} else {
		json_object_set_new(o, "from", p->from >= 0 ? json_integer(p->from) : json_null());
		json_object_set_new(o, "to", json_integer(p->to));
	}
	json_object_set_new(o, "remote_ratio", remote >= 0 ? jreal(remote, 1e-4) : json_null());
	json_object_set_new(o, "source", json_string(core_source_name(src)));
	json_object_set_new(o, "gain", jreal(p->gain, 1e-4));
	if (d->accepted)
		json_object_set_new(o, "guest_gain", jreal(guest_gain, 1e-4));
	json_object_set_new(o, "reason", json_string(p->reason));
	if (!d->accepted)
		json_object_set_new(o, "held_back", json_string(arbiter_drop_reason(d->why)));
	json_object_set_new(o, "dry_run", json_boolean(c->cfg.dry_run));
	json_object_set_new(o, "applied", json_boolean(d->applied));
	if (d->tag)
		json_object_set_new(o, "by", json_string("operator"));
	emit_json(c, o);
}

/* A held-back proposal, one line each (-v). */
static void print_held_back(struct vn_core *c, const struct vn_decision *d)
{
	const struct vnumad_proposal *p = &d->p;
	const struct vn_guest *g = d->g;
	enum vnumad_source src;
	double remote = decision_remote(d, &src);
	char a[32], buf[256], nodes[200], gbuf[32];

	if (c->output == VN_OUT_JSON) {
		json_decision(c, d, NULL, 0);
		return;
	}
	switch (p->kind) {
	case VNUMAD_MOVE_VCPU:
		snprintf(buf, sizeof(buf), "vCPU %d node %d -> node %d", p->vcpu, p->from, p->to);
		break;
	case VNUMAD_MOVE_MEMORY:
		snprintf(buf, sizeof(buf), "memory %s node %d -> node %d",
			 fmt_size(a, sizeof(a), p->bytes), p->from, p->to);
		break;
	case VNUMAD_MOVE_GUEST:
		snprintf(buf, sizeof(buf), "whole guest -> nodes %s",
			 fmt_nodemask(nodes, sizeof(nodes), p->nodes));
		break;
	}
	fprintf(c->out, "  %-9s %s: %s, remote %s%.0f%% (%s), expected gain %s: %s [held back: %s]\n",
		"held back", g ? g->name : "?", buf, remote < 0 ? "unknown " : "",
		remote < 0 ? 0 : remote * 100, core_source_name(src),
		fmt_gain(gbuf, sizeof(gbuf), p->gain), p->reason, arbiter_drop_reason(d->why));
}

/* A decision as the advisory output remembers it. */
static struct vn_advice advice_of(const struct vn_decision *d)
{
	return (struct vn_advice){ .guest_id = d->g->id, .guest = d->g->name,
		.pos = d->p.guest, .kind = d->p.kind,
		.vcpu = d->p.kind == VNUMAD_MOVE_VCPU ? d->p.vcpu : -1,
		.from = d->p.kind == VNUMAD_MOVE_GUEST ? -1 : d->p.from,
		.to = d->p.kind == VNUMAD_MOVE_GUEST ? -1 : d->p.to,
		.bytes = d->p.kind == VNUMAD_MOVE_MEMORY ? d->p.bytes : 0,
		.nodes = d->p.kind == VNUMAD_MOVE_GUEST ? d->p.nodes : 0 };
}

static int cmp_int(int a, int b)
{
	return (a > b) - (a < b);
}

/* Within a guest: vCPU moves by target, source and vCPU, then the rest. */
static int cmp_move(const struct vn_advice *x, const struct vn_advice *y)
{
	if (x->kind != y->kind)
		return cmp_int((int)x->kind, (int)y->kind);
	if (x->to != y->to)
		return cmp_int(x->to, y->to);
	if (x->from != y->from)
		return cmp_int(x->from, y->from);
	if (x->nodes != y->nodes)
		return x->nodes < y->nodes ? -1 : 1;
	return cmp_int(x->vcpu, y->vcpu);
}

/* The stable output order: the host's order of guests, then cmp_move. */
static int by_place(const void *a, const void *b)
{
	const struct vn_advice *x = a, *y = b;

	if (x->pos != y->pos)
		return cmp_int(x->pos, y->pos);
	return cmp_move(x, y);
}

/* Appends a list of vCPUs as ranges: "0-3,6". */
static size_t fmt_vcpus(char *buf, size_t len, const struct vn_advice *a, int n)
{
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		int j = i;

		while (j + 1 < n && a[j + 1].vcpu == a[j].vcpu + 1)
			j++;
		if (j > i)
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%d-%d",
						i ? "," : "", a[i].vcpu, a[j].vcpu);
		else
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%d",
						i ? "," : "", a[i].vcpu);
		i = j;
	}
	return off;
}

/*
 * One guest's moves a[0..n) (sorted by cmp_move) in words: "vCPUs 0-3
 * node 1 -> node 0", "memory 2 GiB node 1 -> node 0", joined by "; ".
 */
static void fmt_moves(char *buf, size_t len, const struct vn_advice *a, int n)
{
	size_t off = 0;
	char s[32], nodes[200];

	buf[0] = '\0';
	for (int i = 0, j; i < n; i = j) {
		const char *sep = i ? "; " : "";

		j = i + 1;
		if (a[i].kind == VNUMAD_MOVE_VCPU) {
			while (j < n && a[j].kind == VNUMAD_MOVE_VCPU && a[j].from == a[i].from &&
			       a[j].to == a[i].to)
				j++;
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%svCPU%s ",
						sep, j - i > 1 ? "s" : "");
			off += fmt_vcpus(buf + off, off < len ? len - off : 0, a + i, j - i);
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
						" node %d -> node %d", a[i].from, a[i].to);
		} else if (a[i].kind == VNUMAD_MOVE_MEMORY) {
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
						"%smemory %s node %d -> node %d", sep,
						fmt_size(s, sizeof(s), a[i].bytes), a[i].from, a[i].to);
		} else {
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
						"%swhole guest -> nodes %s", sep,
						fmt_nodemask(nodes, sizeof(nodes), a[i].nodes));
		}
	}
}

/*
 * One line for one guest's decisions d[0..n) (one slice of the arbiter's
 * output): what moves, the remote share of what moves, the gain expected
 * for the guest and the reason of its best decision. `what` is the verb;
 * `was`, when set, the moves the line replaces.
 */
static void print_guest(struct vn_core *c, const char *what, const struct vn_decision *d,
			int n, bool applied, const char *was)
{
	const struct vn_guest *g = d[0].g;
	struct vn_advice *a = xcalloc((size_t)n, sizeof(*a));
	const struct vn_decision *best = &d[0];
	enum vnumad_source src = VNUMAD_SRC_NONE;
	double remote = 0, gain = core_guest_gain(g, d, n, applied);
	int nr = 0, nr_remote = 0;
	bool vcpus_only = true;
	char moves[512], line[1024], gbuf[32];

	for (int j = 0; j < n; j++) {
		double r;
		enum vnumad_source s;

		if (applied ? !d[j].applied : !d[j].accepted)
			continue;
		a[nr++] = advice_of(&d[j]);
		if (d[j].p.gain > best->p.gain)
			best = &d[j];
		vcpus_only &= d[j].p.kind == VNUMAD_MOVE_VCPU;
		r = decision_remote(&d[j], &s);
		if (r >= 0) {
			remote += r;
			nr_remote++;
			src = s;
		}
	}
	if (!nr) {
		free(a);
		return;
	}
	qsort(a, (size_t)nr, sizeof(*a), by_place);
	fmt_moves(moves, sizeof(moves), a, nr);
	free(a);
	/* what moves: the vCPUs moved, or the whole guest's figure */
	if (!vcpus_only)
		remote = decision_remote(&(struct vn_decision){ .p = { .kind = VNUMAD_MOVE_GUEST },
							       .g = (struct vn_guest *)g }, &src);
	else if (nr_remote)
		remote /= nr_remote;
	else
		remote = -1;
	snprintf(line, sizeof(line), "%s: %s, remote %s%.0f%% (%s), expected %s for the "
		 "guest: %s%s%s%s", g->name, moves, remote < 0 ? "unknown " : "",
		 remote < 0 ? 0 : remote * 100, core_source_name(src),
		 fmt_gain(gbuf, sizeof(gbuf), gain),
		 best->p.reason, was ? " (was " : "", was ? was : "", was ? ")" : "");
	if (c->output == VN_OUT_TEXT)
		fprintf(c->out, "  %-9s %s\n", what, line);
	else
		log_info("%s %s", what, line);
}

/* Logs an applied move, for a daemon with no terminal. */
static void log_decision(const struct vn_core *c, const struct vn_decision *d)
{
	const struct vnumad_proposal *p = &d->p;
	char a[32], nodes[200];

	(void)c;
	if (!d->applied)
		return;
	if (p->kind == VNUMAD_MOVE_VCPU)
		log_info("guest %s: vCPU %d moved node %d -> node %d (expected %+.0f%% for "
			 "the vCPU: %s)", d->g->name, p->vcpu, p->from, p->to, p->gain * 100,
			 p->reason);
	else if (p->kind == VNUMAD_MOVE_MEMORY)
		log_info("guest %s: migrating %s node %d -> node %d (expected %+.0f%%: %s)",
			 d->g->name, fmt_size(a, sizeof(a), p->bytes), p->from, p->to,
			 p->gain * 100, p->reason);
	else
		log_info("guest %s: moved to nodes %s (expected %+.0f%%: %s)", d->g->name,
			 fmt_nodemask(nodes, sizeof(nodes), p->nodes), p->gain * 100,
			 p->reason);
}

void record_decisions(struct vn_core *c, const struct vn_decision *d, int n)
{
	for (int i = 0, j; i < n; i = j) {
		bool advice = core_advisory(c) && !d[i].tag;

		for (j = i + 1; j < n && d[j].g == d[i].g && d[j].accepted == d[i].accepted &&
		     d[j].applied == d[i].applied && d[j].tag == d[i].tag; j++)
			;
		if (!d[i].accepted) {
			for (int k = i; k < j && c->verbose && c->output != VN_OUT_NONE; k++)
				print_held_back(c, &d[k]);
			continue;
		}
		if (c->output == VN_OUT_NONE) {
			for (int k = i; k < j; k++)
				log_decision(c, &d[k]);
		} else if (c->output == VN_OUT_JSON) {
			double gain = core_guest_gain(d[i].g, d + i, j - i, !advice);

			for (int k = i; k < j; k++)
				json_decision(c, &d[k], NULL, gain);
		} else {
			print_guest(c, advice ? "recommend" : !d[i].applied ? "failed" :
				    d[i].tag ? "applied (operator)" : "applied", d + i, j - i,
				    !advice && d[i].applied, NULL);
		}
	}
	if (c->output != VN_OUT_NONE)
		fflush(c->out);
}

/* Whether the moves a[0..n) and b[0..m) of one guest are the same advice. */
static bool same_moves(const struct vn_advice *a, int n, const struct vn_advice *b, int m)
{
	if (n != m)
		return false;
	for (int i = 0; i < n; i++)
		if (cmp_move(&a[i], &b[i]) != 0)
			return false;
	return true;
}

/* The slice of guest id among a[0..n), sorted by guest: *len entries at the result. */
static int find_guest(const struct vn_advice *a, int n, uint64_t id, int *len)
{
	for (int i = 0; i < n; i++)
		if (a[i].guest_id == id) {
			int j = i;

			while (j < n && a[j].guest_id == id)
				j++;
			*len = j - i;
			return i;
		}
	*len = 0;
	return -1;
}

/*
 * Why a guest's advice (or the one move a, when not NULL) went: the reason
 * its proposal was held back this round, or another.
 */
static const char *withdrawn_why(const struct vn_core *c, const struct vn_decisions *dec,
				 uint64_t id, const struct vn_advice *a, char *buf, size_t len)
{
	if (!host_find_id(&c->host, id))
		return "the guest is gone";
	for (int i = dec->nr_accepted; i < dec->nr; i++)
		if (dec->d[i].g && dec->d[i].g->id == id &&
		    (!a || (dec->d[i].p.kind == a->kind && (a->kind != VNUMAD_MOVE_VCPU ||
							     dec->d[i].p.vcpu == a->vcpu)))) {
			snprintf(buf, len, "held back: %s", arbiter_drop_reason(dec->d[i].why));
			return buf;
		}
	return "the policy no longer proposes it";
}

static void json_withdrawn(struct vn_core *c, const struct vn_advice *a, const char *why)
{
	json_t *o = json_object();
	char nodes[200];

	json_object_set_new(o, "type", json_string("recommendation"));
	json_object_set_new(o, "tick", json_integer((json_int_t)c->host.tick));
	json_object_set_new(o, "time", jreal(c->host.now, 1e-3));
	json_object_set_new(o, "status", json_string("withdrawn"));
	json_object_set_new(o, "guest", json_string(a->guest));
	json_object_set_new(o, "action", json_string(action_name(a->kind)));
	if (a->kind == VNUMAD_MOVE_VCPU)
		json_object_set_new(o, "vcpu", json_integer(a->vcpu));
	if (a->kind == VNUMAD_MOVE_MEMORY)
		json_object_set_new(o, "bytes", json_integer((json_int_t)a->bytes));
	if (a->kind == VNUMAD_MOVE_GUEST) {
		json_object_set_new(o, "nodes", json_string(fmt_nodemask(nodes,
			sizeof(nodes), a->nodes)));
	} else {
		json_object_set_new(o, "from", json_integer(a->from));
		json_object_set_new(o, "to", json_integer(a->to));
	}
	json_object_set_new(o, "why", json_string(why));
	json_object_set_new(o, "dry_run", json_boolean(c->cfg.dry_run));
	emit_json(c, o);
}

static void advised_free(struct vn_advised *s)
{
	for (int i = 0; i < s->nr; i++)
		free(s->a[i].guest);
	s->nr = 0;
}

void record_fini(struct vn_core *c)
{
	advised_free(&c->advised);
	free(c->advised.a);
	memset(&c->advised, 0, sizeof(c->advised));
}

/*
 * The advisory output of a decision round: each guest's recommendation
 * once, when it appears ("recommend"), when its moves change ("changed")
 * and when it goes ("withdrawn"), in the host's order of guests; what
 * stays is recalled every [daemon] remind. JSON Lines gets every
 * recommendation of every round, each marked new, unchanged or withdrawn.
 */
static void record_advice(struct vn_core *c, const struct vn_decisions *dec)
{
	struct vn_advised *old = &c->advised;
	struct vn_advice *cur = xcalloc((size_t)MAX(dec->nr_accepted, 1), sizeof(*cur));
	int nr = 0, said = 0, guests = 0;
	char was[512], why[160];

	for (int i = 0; i < dec->nr_accepted; i++)
		if (!dec->d[i].tag)
			cur[nr++] = advice_of(&dec->d[i]);
	qsort(cur, (size_t)nr, sizeof(*cur), by_place);

	/* this round's guests, in order; the decisions of each are one slice */
	for (int i = 0, j; i < nr; i = j) {
		const struct vn_decision *d = NULL;
		int n = 0, olen, o;

		for (j = i + 1; j < nr && cur[j].guest_id == cur[i].guest_id; j++)
			;
		guests++;
		for (int k = 0; k < dec->nr_accepted; k++)
			if (dec->d[k].g->id == cur[i].guest_id && !dec->d[k].tag) {
				if (!d)
					d = &dec->d[k];
				n = (int)(&dec->d[k] - d) + 1;
			}
		o = find_guest(old->a, old->nr, cur[i].guest_id, &olen);
		if (c->output == VN_OUT_JSON) {
			double gain = core_guest_gain(d->g, d, n, false);

			/* in the stable order too: each move of cur, its decision */
			for (int m = i; m < j; m++) {
				bool known = false;
				int k = 0;

				for (; k < n - 1; k++) {
					struct vn_advice x = advice_of(&d[k]);

					if (cmp_move(&x, &cur[m]) == 0)
						break;
				}
				for (int q = 0; o >= 0 && q < olen && !known; q++)
					known = cmp_move(&old->a[o + q], &cur[m]) == 0;
				json_decision(c, &d[k], known ? "unchanged" : "new", gain);
			}
			/* and the guest's moves that this round no longer has */
			for (int q = 0; o >= 0 && q < olen; q++) {
				bool kept = false;

				for (int m = i; m < j && !kept; m++)
					kept = cmp_move(&old->a[o + q], &cur[m]) == 0;
				if (!kept)
					json_withdrawn(c, &old->a[o + q], withdrawn_why(c, dec,
						old->a[o + q].guest_id, &old->a[o + q], why,
						sizeof(why)));
			}
			continue;
		}
		if (o >= 0 && same_moves(old->a + o, olen, cur + i, j - i))
			continue;
		if (o >= 0)
			fmt_moves(was, sizeof(was), old->a + o, olen);
		print_guest(c, o >= 0 ? "changed" : "recommend", d, n, false, o >= 0 ? was : NULL);
		said++;
	}
	/* the guests advised last round and not in this one */
	for (int i = 0, j; i < old->nr; i = j) {
		const char *w;
		int len;

		for (j = i + 1; j < old->nr && old->a[j].guest_id == old->a[i].guest_id; j++)
			;
		if (find_guest(cur, nr, old->a[i].guest_id, &len) >= 0)
			continue;
		if (c->output == VN_OUT_JSON) {
			for (int k = i; k < j; k++)
				json_withdrawn(c, &old->a[k], withdrawn_why(c, dec,
					old->a[k].guest_id, &old->a[k], why, sizeof(why)));
			continue;
		}
		w = withdrawn_why(c, dec, old->a[i].guest_id, NULL, why, sizeof(why));
		fmt_moves(was, sizeof(was), old->a + i, j - i);
		if (c->output == VN_OUT_TEXT)
			fprintf(c->out, "  %-9s %s: %s: %s\n", "withdrawn", old->a[i].guest, was, w);
		else
			log_info("withdrawn %s: %s: %s", old->a[i].guest, was, w);
		said++;
	}
	if (said || !nr) {
		old->said = c->host.now;
	} else if (c->output != VN_OUT_JSON && c->cfg.remind > 0 &&
		   c->host.now - old->said >= c->cfg.remind - 1e-9) {
		char names[512];
		size_t off = 0;
		int k = 0;

		/* the first few by name: a line, not a list */
		names[0] = '\0';
		for (int i = 0; i < nr; i++) {
			if (i && cur[i].guest_id == cur[i - 1].guest_id)
				continue;
			if (k++ == 8) {
				snprintf(names + off, sizeof(names) - off, " and %d more", guests - 8);
				break;
			}
			if (off < sizeof(names))
				off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
							off ? ", " : "", cur[i].guest);
		}
		if (c->output == VN_OUT_TEXT)
			fprintf(c->out, "  still recommended: %d (%s)\n", guests, names);
		else
			log_info("still recommended: %d (%s)", guests, names);
		old->said = c->host.now;
	}

	/* remember this round, with names of our own: a guest may go */
	advised_free(old);
	if (nr > old->cap) {
		old->cap = nr;
		old->a = xreallocarray(old->a, (size_t)old->cap, sizeof(*old->a));
	}
	for (int i = 0; i < nr; i++) {
		old->a[i] = cur[i];
		old->a[i].guest = xstrdup(cur[i].guest);
	}
	old->nr = nr;
	free(cur);
}

void stage_record(struct vn_core *c, const struct vn_decisions *dec)
{
	print_summary(c);
	if (!core_advisory(c)) {
		record_decisions(c, dec->d, dec->nr);
		return;
	}
	/* a round without a decision changes no advice */
	if (c->decided)
		record_advice(c, dec);
	record_decisions(c, dec->d + dec->nr_accepted, dec->nr - dec->nr_accepted);
}

void record_verdict(struct vn_core *c, const struct vn_trial *t, const struct vn_verdict *v)
{
	bool keep = v->ev != VN_TRIAL_REVERTED;
	double gain = v->gain;
	const char *why = v->why;

	if (c->output == VN_OUT_JSON) {
		json_t *o = json_object();

		json_object_set_new(o, "type", json_string("verdict"));
		json_object_set_new(o, "tick", json_integer((json_int_t)c->host.tick));
		json_object_set_new(o, "time", jreal(c->host.now, 1e-3));
		json_object_set_new(o, "guest", json_string(t->guest));
		json_object_set_new(o, "moves", json_integer(t->nr_act));
		json_object_set_new(o, "verdict", json_string(!keep ? "reverted" :
			v->ev == VN_TRIAL_UNJUDGED ? "unjudged" : "kept"));
		json_object_set_new(o, "gain", jreal(gain, 1e-4));
		if (!isnan(v->raw)) {
			json_object_set_new(o, "raw", jreal(v->raw - 1, 1e-4));
			json_object_set_new(o, "drift", jreal(v->drift - 1, 1e-4));
			json_object_set_new(o, "guests_in_drift", json_integer(v->drift_n));
		}
		json_object_set_new(o, "expected", jreal(t->expected, 1e-4));
		json_object_set_new(o, "detail", json_string(why));
		emit_json(c, o);
	} else if (c->output == VN_OUT_TEXT) {
		fprintf(c->out, "  %-9s %s: %d move(s) of tick %llu %s (expected %+.0f%%)\n",
			"verdict", t->guest, t->nr_act, (unsigned long long)t->tick, why,
			t->expected * 100);
	}
	/*
	 * The log has every verdict of a daemon without a terminal (a service);
	 * where the line above was printed, only the reverts, which matter.
	 */
	if (keep && c->output != VN_OUT_NONE)
		log_debug("guest %s: %s", t->guest, why);
	else
		log_info("guest %s: %d move(s) of tick %llu %s (expected %+.0f%%)", t->guest,
			 t->nr_act, (unsigned long long)t->tick, why, t->expected * 100);
}

void record_event(struct vn_core *c, const char *what, const char *guest,
		  const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->output == VN_OUT_JSON) {
		json_t *o = json_object();

		json_object_set_new(o, "type", json_string("event"));
		json_object_set_new(o, "tick", json_integer((json_int_t)c->host.tick));
		json_object_set_new(o, "event", json_string(what));
		json_object_set_new(o, "guest", json_string(guest));
		json_object_set_new(o, "message", json_string(msg));
		emit_json(c, o);
	} else if (c->output == VN_OUT_TEXT) {
		fprintf(c->out, "  %-9s %s: %s\n", "event", guest, msg);
	}
	log_info("guest %s: %s", guest, msg);
}
