// SPDX-License-Identifier: MIT
/*
 * Stage 9, record: what the tick decided, in plain words or as JSON Lines.
 * The advisory mode prints a one-line host summary per tick and every
 * recommendation: guest, vCPU or memory, from and to, the measured remote
 * ratio and where that figure came from, the expected gain and the reason.
 * A daemon without a terminal logs applied moves and verdicts instead.
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

static void print_summary(struct vn_core *c)
{
	const struct vn_host *h = &c->host;
	char src[64], a[32];
	double ips, remote;
	int vcpus;

	host_totals(c, &vcpus, &ips, &remote);
	sources(c, src, sizeof(src));
	if (c->output == VN_OUT_JSON) {
		json_t *o = json_object(), *nodes = json_array();

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
	fprintf(c->out, "tick %llu (%s): %d guests, %d vCPUs, ",
		(unsigned long long)h->tick, fmt_elapsed(a, sizeof(a), h->now),
		h->nr_guests, vcpus);
	if (!c->decided && remote < 0)
		fprintf(c->out, "counters primed, figures from the next tick;");
	else if (remote >= 0)
		fprintf(c->out, "remote %.0f%%, %.3g instr/s;", remote * 100, ips);
	else
		fprintf(c->out, "remote unknown, %.3g instr/s;", ips);
	for (int n = 0, first = 1; n < h->nr_nodes; n++) {
		if (!(h->online >> n & 1))
			continue;
		fprintf(c->out, "%s node %d cpu %.0f%% mem %.0f%%", first ? "" : ";", n,
			h->node[n].cpu_load * 100,
			h->node[n].mem_total ? 100.0 * (double)(h->node[n].mem_total -
				h->node[n].mem_free) / (double)h->node[n].mem_total : 0);
		first = 0;
	}
	if (c->policy.disabled)
		snprintf(a, sizeof(a), "%s", c->policy.desc->name);
	fprintf(c->out, " [%s%s%s%s%s]\n", src, c->cfg.dry_run ? "; dry run" :
		c->journal_err ? "; journal failing: advising only" :
		core_advisory(c) && !c->policy.disabled ? "; advisory-only policy" : "",
		c->policy.disabled ? "; policy " : "", c->policy.disabled ? a : "",
		c->policy.disabled ? " failed, the default advises" : "");
}

static void print_decision(struct vn_core *c, const struct vn_decision *d)
{
	const struct vnumad_proposal *p = &d->p;
	const struct vn_guest *g = d->g;
	double remote = -1;
	enum vnumad_source src = VNUMAD_SRC_NONE;
	const char *what;
	char a[32], buf[256], nodes[200], gain[32];

	/* a dropped proposal may name a vCPU that does not exist */
	if (g && p->kind == VNUMAD_MOVE_VCPU && p->vcpu >= 0 && p->vcpu < g->nr_vcpus) {
		remote = g->vv[p->vcpu].remote_ratio;
		src = g->vv[p->vcpu].source;
	} else if (g && p->kind != VNUMAD_MOVE_VCPU) {
		remote = g->v.remote_ratio;
		src = g->nr_vcpus ? g->vv[0].source : VNUMAD_SRC_NONE;
	}
	what = !d->accepted ? "held back" : core_advisory(c) && !d->tag ? "recommend" :
	       !d->applied ? "failed" : d->tag ? "applied (operator)" : "applied";
	if (c->output == VN_OUT_JSON) {
		json_t *o = json_object();

		json_object_set_new(o, "type", json_string(d->accepted ?
			"recommendation" : "held-back"));
		json_object_set_new(o, "tick", json_integer((json_int_t)c->host.tick));
		json_object_set_new(o, "time", jreal(c->host.now, 1e-3));
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
		json_object_set_new(o, "reason", json_string(p->reason));
		if (!d->accepted)
			json_object_set_new(o, "held_back", json_string(arbiter_drop_reason(d->why)));
		json_object_set_new(o, "dry_run", json_boolean(c->cfg.dry_run));
		json_object_set_new(o, "applied", json_boolean(d->applied));
		if (d->tag)
			json_object_set_new(o, "by", json_string("operator"));
		emit_json(c, o);
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
	fprintf(c->out, "  %-9s %s: %s, remote %s%.0f%% (%s), expected gain %s: %s",
		what, g ? g->name : "?", buf, remote < 0 ? "unknown " : "",
		remote < 0 ? 0 : remote * 100, core_source_name(src),
		fmt_gain(gain, sizeof(gain), p->gain), p->reason);
	if (!d->accepted)
		fprintf(c->out, " [held back: %s]", arbiter_drop_reason(d->why));
	fputc('\n', c->out);
}

/* Logs an applied move, for a daemon with no terminal. */
static void log_decision(const struct vn_core *c, const struct vn_decision *d)
{
	const struct vnumad_proposal *p = &d->p;
	const char *by = d->tag ? "; asked by the operator" : "";
	char a[32], nodes[200];

	(void)c;
	if (!d->applied)
		return;
	if (p->kind == VNUMAD_MOVE_VCPU)
		log_info("guest %s: vCPU %d moved node %d -> node %d (expected %+.0f%%: %s%s)",
			 d->g->name, p->vcpu, p->from, p->to, p->gain * 100, p->reason, by);
	else if (p->kind == VNUMAD_MOVE_MEMORY)
		log_info("guest %s: migrating %s node %d -> node %d (expected %+.0f%%: %s%s)",
			 d->g->name, fmt_size(a, sizeof(a), p->bytes), p->from, p->to,
			 p->gain * 100, p->reason, by);
	else
		log_info("guest %s: moved to nodes %s (expected %+.0f%%: %s%s)", d->g->name,
			 fmt_nodemask(nodes, sizeof(nodes), p->nodes), p->gain * 100,
			 p->reason, by);
}

void record_decisions(struct vn_core *c, const struct vn_decision *d, int n)
{
	for (int i = 0; i < n; i++) {
		if (c->output == VN_OUT_NONE)
			log_decision(c, &d[i]);
		else if (d[i].accepted || c->verbose)
			print_decision(c, &d[i]);
	}
	if (c->output != VN_OUT_NONE)
		fflush(c->out);
}

void stage_record(struct vn_core *c, const struct vn_decisions *dec)
{
	if (c->output != VN_OUT_NONE)
		print_summary(c);
	record_decisions(c, dec->d, dec->nr);
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
	if (keep)
		log_debug("guest %s: %s", t->guest, why);
	else
		log_info("guest %s: %s", t->guest, why);
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
