// SPDX-License-Identifier: MIT
/*
 * The core's state for operators: the JSON that `vnumad status` shows, the
 * placement advice of `vnumad place`, and the manual moves of `vnumad
 * migrate`, which go through the arbiter's rules (with the waivers an
 * operator's move has: no expected gain, no per-tick cap, no baseline
 * needed; --force also waives pinning and opt-out), the same actuation and
 * the same guard as the policy's.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core.h"
#include "journal.h"
#include "log.h"
#include "place.h"
#include "state.h"
#include "util.h"
#include "worker.h"

static json_t *ratio(double x)
{
	return x < 0 ? json_null() : json_real(round(x * 1e4) / 1e4);
}

static json_t *flags_json(unsigned f)
{
	json_t *a = json_array();

	if (f & VNUMAD_GUEST_PINNED)
		json_array_append_new(a, json_string("pinned"));
	if (f & VNUMAD_GUEST_OPTED_OUT)
		json_array_append_new(a, json_string("opted-out"));
	if (f & VNUMAD_GUEST_NO_MEMMOVE)
		json_array_append_new(a, json_string("no-memory-migration"));
	if (f & VNUMAD_GUEST_MIGRATING)
		json_array_append_new(a, json_string("migrating"));
	if (f & VNUMAD_GUEST_IN_TRIAL)
		json_array_append_new(a, json_string("in-trial"));
	if (f & VNUMAD_GUEST_MEMORY_FREE)
		json_array_append_new(a, json_string("memory-free"));
	return a;
}

static json_t *guest_json(const struct vn_core *c, const struct vn_guest *g)
{
	json_t *o = json_object(), *vcpus = json_array(), *mem = json_object();
	char nodes[200], key[16], why[128];
	const char *um = host_unmeasured(g, why, sizeof(why));
	json_t *flags = flags_json(g->v.flags);

	json_object_set_new(o, "name", json_string(g->name));
	json_object_set_new(o, "uuid", g->uuid[0] ? json_string(g->uuid) : json_null());
	json_object_set_new(o, "pid", json_integer(g->pid));
	/* seconds it has run (policy.h's age), as the policy read it */
	json_object_set_new(o, "age", json_real(round(g->v.age * 10) / 10));
	if (um)
		json_array_append_new(flags, json_string("unmeasured"));
	json_object_set_new(o, "flags", flags);
	/* why it has no figures, why its memory stays: null when nothing stops it */
	json_object_set_new(o, "unmeasured", um ? json_string(um) : json_null());
	json_object_set_new(o, "memory_fixed", g->memory_fixed &&
			    (g->v.flags & VNUMAD_GUEST_NO_MEMMOVE) ?
			    json_string(g->memory_fixed) : json_null());
	json_object_set_new(o, "ips", json_integer((json_int_t)llround(g->v.ips)));
	json_object_set_new(o, "remote_ratio", ratio(g->v.remote_ratio));
	for (int n = 0; n < c->host.nr_nodes; n++) {
		if (!g->v.mem[n])
			continue;
		snprintf(key, sizeof(key), "%d", n);
		json_object_set_new(mem, key, json_integer((json_int_t)g->v.mem[n]));
	}
	json_object_set_new(o, "memory", mem);
	if (g->mem_source)	/* "cgroup v1", "cgroup v2", "numa_maps" */
		json_object_set_new(o, "memory_source", json_string(g->mem_source));
	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct vnumad_vcpu *v = &g->vv[i];
		json_t *x = json_object();

		json_object_set_new(x, "vcpu", json_integer(i));
		json_object_set_new(x, "tid", json_integer(g->vc[i].tid));
		json_object_set_new(x, "node", v->node >= 0 ? json_integer(v->node) : json_null());
		json_object_set_new(x, "allowed", json_string(fmt_nodemask(nodes,
			sizeof(nodes), v->allowed)));
		json_object_set_new(x, "ips", json_integer((json_int_t)llround(v->ips)));
		json_object_set_new(x, "remote_ratio", ratio(v->remote_ratio));
		json_object_set_new(x, "source", json_string(core_source_name(v->source)));
		json_array_append_new(vcpus, x);
	}
	json_object_set_new(o, "vcpus", vcpus);
	return o;
}

/* Where the journal is, and whether it can be written (else: advising only). */
static json_t *journal_state(const struct vn_core *c)
{
	json_t *o;

	if (!c->journal)
		return json_null();
	o = json_object();
	json_object_set_new(o, "path", json_string(journal_path(c->journal)));
	json_object_set_new(o, "writable", json_boolean(!c->journal_err));
	if (c->journal_err) {
		json_object_set_new(o, "error", json_string(strerror(c->journal_err)));
		json_object_set_new(o, "failing_for", json_real(round(MAX(0,
			journal_wall() - journal_failed_at(c->journal)) * 10) / 10));
	}
	return o;
}

/* Where the policy runs, how its worker fares, who advises in its place. */
static json_t *worker_json(const struct vn_core *c)
{
	struct worker_info w;
	json_t *o = json_object(), *lost;

	worker_info(&c->policy, &w);
	json_object_set_new(o, "isolated", json_boolean(w.isolated));
	json_object_set_new(o, "fallback", w.fallback ? json_string(w.fallback) : json_null());
	if (!w.isolated)
		return o;
	json_object_set_new(o, "pid", w.pid ? json_integer(w.pid) : json_null());
	json_object_set_new(o, "restarts", json_integer((json_int_t)w.restarts));
	json_object_set_new(o, "failures", json_integer(c->policy.failures));
	json_object_set_new(o, "next_start", w.pid ? json_null() :
			    json_integer((json_int_t)w.retry_tick));
	lost = json_object();
	for (int k = WORKER_LOST_CRASH; k < WORKER_LOST_NR; k++)
		json_object_set_new(lost, worker_lost_names[k],
				    json_integer((json_int_t)w.lost[k]));
	json_object_set_new(o, "ticks_lost", lost);
	json_object_set_new(o, "last_failure", *w.last ? json_string(w.last) : json_null());
	return o;
}

json_t *state_json(const struct vn_core *c)
{
	const struct vn_host *h = &c->host;
	json_t *o = json_object(), *nodes = json_array(), *guests = json_array();
	json_t *trials = json_array(), *quar = json_array(), *stats = json_object();

	json_object_set_new(o, "version", json_string(VNUMAD_VERSION));
	json_object_set_new(o, "backend", json_string(c->backend.ops->name));
	json_object_set_new(o, "sampler", json_string(c->sampler.ops->name));
	json_object_set_new(o, "policy", json_string(c->policy.desc->name));
	json_object_set_new(o, "policy_disabled", json_boolean(c->policy.disabled));
	json_object_set_new(o, "policy_worker", worker_json(c));
	json_object_set_new(o, "dry_run", json_boolean(c->cfg.dry_run));
	json_object_set_new(o, "journal", journal_state(c));
	json_object_set_new(o, "tick", json_integer((json_int_t)h->tick));
	json_object_set_new(o, "time", json_real(round(h->now * 1e3) / 1e3));
	json_object_set_new(o, "interval", json_real(c->cfg.interval));
	for (int n = 0; n < h->nr_nodes; n++) {
		json_t *x;

		if (!(h->online >> n & 1))
			continue;
		x = json_object();
		json_object_set_new(x, "node", json_integer(n));
		json_object_set_new(x, "cpus", json_integer(h->node[n].nr_cpus));
		json_object_set_new(x, "cpu_load", ratio(h->node[n].cpu_load));
		json_object_set_new(x, "mem_total", json_integer((json_int_t)h->node[n].mem_total));
		json_object_set_new(x, "mem_free", json_integer((json_int_t)h->node[n].mem_free));
		/* bandwidth, with where each figure comes from */
		json_object_set_new(x, "bw_used", json_real(round(h->node[n].bw_used)));
		json_object_set_new(x, "bw_used_source",
				    json_string(core_source_name(h->node_info[n].bw_used_source)));
		json_object_set_new(x, "bw_max", json_real(round(h->node[n].bw_max)));
		json_object_set_new(x, "bw_max_source",
				    json_string(core_source_name(h->node_info[n].bw_max_source)));
		if (h->node_info[n].read_latency > 0)
			json_object_set_new(x, "read_latency_ns",
					    json_real(h->node_info[n].read_latency));
		json_array_append_new(nodes, x);
	}
	json_object_set_new(o, "nodes", nodes);
	for (int i = 0; i < h->nr_guests; i++)
		json_array_append_new(guests, guest_json(c, h->guests[i]));
	json_object_set_new(o, "guests", guests);
	for (const struct vn_trial *t = c->trials; t; t = t->next) {
		json_t *x = json_object();
		static const char *const states[] = { "migrating", "settling", "judging",
						      "reverting" };

		json_object_set_new(x, "guest", json_string(t->guest));
		json_object_set_new(x, "moves", json_integer(t->nr_act));
		json_object_set_new(x, "state", json_string(states[t->state]));
		json_object_set_new(x, "applied_ago", json_real(round((h->now - t->applied) * 10) / 10));
		json_object_set_new(x, "verdict_in", t->state == VN_TRIAL_MIGRATING ? json_null() :
			json_real(round(MAX(0, t->judge_until - h->now) * 10) / 10));
		json_object_set_new(x, "expected_gain", ratio(t->expected));
		json_array_append_new(trials, x);
	}
	json_object_set_new(o, "trials", trials);
	for (const struct vn_quarantine *q = c->quarantine; q; q = q->next) {
		json_t *x;

		if (q->until <= h->now)
			continue;
		x = json_object();
		json_object_set_new(x, "guest", json_string(q->guest));
		json_object_set_new(x, "node", json_integer(q->node));
		json_object_set_new(x, "strikes", json_integer(q->strikes));
		json_object_set_new(x, "remaining", json_real(round((q->until - h->now) * 10) / 10));
		json_array_append_new(quar, x);
	}
	json_object_set_new(o, "quarantines", quar);
	json_object_set_new(stats, "vcpu_moves", json_integer((json_int_t)c->stats.vcpu_moves));
	json_object_set_new(stats, "memory_moves", json_integer((json_int_t)c->stats.memory_moves));
	json_object_set_new(stats, "bytes_migrated", json_integer((json_int_t)c->stats.bytes_migrated));
	json_object_set_new(stats, "kept", json_integer((json_int_t)c->stats.kept));
	json_object_set_new(stats, "reverted", json_integer((json_int_t)c->stats.reverted));
	json_object_set_new(o, "stats", stats);
	return o;
}

/* The placement question of libvirt's placement='auto' (place.c), on the daemon's view. */
int state_place(const struct vn_core *c, int ncpus, uint64_t mem,
		uint64_t *nodes, char *why, size_t len)
{
	return place_nodes(&c->host, ncpus, mem, nodes, why, len);
}

/* What the guard will make of a manual move, in words. */
static const char *judged(const struct vn_core *c, const struct vn_guest *g)
{
	if (!c->cfg.guard)
		return "the guard is off: it is not judged";
	if (!history_has_baseline(c, g))
		return "it will not be judged: the guest is too new for a baseline";
	return "the guard judges the move";
}

/* The operator's words for a rule the arbiter applied to a manual move. */
static void refusal(const struct vn_core *c, const struct vn_decision *d, int why,
		    char *buf, size_t len)
{
	const struct vn_guest *g = d->g;
	const struct vnumad_proposal *p = &d->p;
	const struct vn_quarantine *q;
	char what[64], a[32];

	if (p->kind == VNUMAD_MOVE_VCPU)
		snprintf(what, sizeof(what), "vCPU %d to node %d", p->vcpu, p->to);
	else
		snprintf(what, sizeof(what), "%s of memory to node %d",
			 fmt_size(a, sizeof(a), p->bytes), p->to);
	switch (why) {
	case VN_DROP_PINNED:
	case VN_DROP_OPTED_OUT:
		snprintf(buf, len, "guest %s is %s; --force moves it anyway", g->name,
			 why == VN_DROP_PINNED ? "pinned by its user" : "opted out");
		return;
	case VN_DROP_QUARANTINE:
		q = guard_quarantine_of(c, g->name, p->to);
		snprintf(buf, len, "guest %s: node %d is quarantined after a reverted move "
			 "for %s more (strike %d)", g->name, p->to,
			 q ? fmt_elapsed(a, sizeof(a), q->until - c->host.now) : "a while",
			 q ? q->strikes : 1);
		return;
	case VN_DROP_TRIAL:
		snprintf(buf, len, "guest %s has a move under judgement; try again when it "
			 "is judged", g->name);
		return;
	case VN_DROP_HYSTERESIS:
		snprintf(buf, len, "guest %s: vCPU %d moved too recently ([limits] "
			 "hysteresis %s)", g->name, p->vcpu,
			 fmt_duration(a, sizeof(a), c->cfg.hysteresis));
		return;
	case VN_DROP_HOURLY_CAP:
		snprintf(buf, len, "guest %s reached its moves per hour ([guard] "
			 "max_moves_per_hour %ld)", g->name, c->cfg.max_moves_per_hour);
		return;
	case VN_DROP_NO_MEMMOVE:
		snprintf(buf, len, "the %s backend cannot migrate this guest's memory",
			 c->backend.ops->name);
		return;
	case VN_DROP_MIGRATING:
		snprintf(buf, len, "guest %s is already migrating memory", g->name);
		return;
	case VN_DROP_MEMORY_CAPACITY:
		snprintf(buf, len, "node %d has %.2f GiB free, less than asked", p->to,
			 (double)c->host.node[p->to].mem_free / GiB);
		return;
	case VN_DROP_BANDWIDTH:
		snprintf(buf, len, "%s: the migration budget is spent (a minute of [limits] "
			 "migrate_rate is queued); try again when it drains", what);
		return;
	default:
		snprintf(buf, len, "guest %s: %s: %s", g->name, what, arbiter_drop_reason(why));
	}
}

/* The decisions of a manual move: its vCPUs, then memory from where it lies. */
static int manual_decisions(const struct vn_core *c, struct vn_guest *g, int to,
			    uint64_t mem, bool all_vcpus, uint64_t vcpus,
			    struct vn_decision *d, uint64_t tag, uint64_t *left)
{
	const struct vn_host *h = &c->host;
	int n = 0;

	for (int v = 0; v < g->nr_vcpus && v < 64; v++) {
		if (!all_vcpus && !(vcpus >> v & 1))
			continue;
		if (g->vv[v].allowed == 1ULL << to)
			continue;
		d[n].p = (struct vnumad_proposal){ .kind = VNUMAD_MOVE_VCPU, .vcpu = v,
			.from = g->vv[v].node, .to = to };
		n++;
	}
	*left = mem;
	/* memory: from the nodes that hold the most of it first */
	while (*left) {
		int from = -1;

		for (int m = 0; m < h->nr_nodes; m++) {
			bool used = false;

			for (int j = 0; j < n; j++)
				used |= d[j].p.kind == VNUMAD_MOVE_MEMORY && d[j].p.from == m;
			if (m == to || used || !g->v.mem[m])
				continue;
			if (from < 0 || g->v.mem[m] > g->v.mem[from])
				from = m;
		}
		if (from < 0)
			break;
		d[n].p = (struct vnumad_proposal){ .kind = VNUMAD_MOVE_MEMORY,
			.from = from, .to = to, .bytes = MIN(*left, g->v.mem[from]) };
		*left -= d[n].p.bytes;
		n++;
	}
	for (int j = 0; j < n; j++) {
		d[j].p.guest = -1;
		for (int i = 0; i < h->nr_guests; i++)
			if (h->guests[i] == g)
				d[j].p.guest = i;
		snprintf(d[j].p.reason, sizeof(d[j].p.reason), "asked by the operator");
		d[j].accepted = true;
		d[j].tag = tag;
	}
	return n;
}

int state_migrate(struct vn_core *c, const char *guest, int to, uint64_t mem,
		  bool all_vcpus, uint64_t vcpus, bool force,
		  struct vn_manual *out, char *why, size_t len)
{
	static uint64_t next_tag;
	struct vn_host *h = &c->host;
	struct vn_guest *g = host_find(h, guest);
	unsigned waive = ARBITER_OPERATOR | (force ? ARBITER_FORCE : 0);
	struct arbiter_room room;
	struct vn_decision *d;
	uint64_t left;
	int n;

	memset(out, 0, sizeof(*out));
	if (!g) {
		snprintf(why, len, "no guest named '%s'", guest);
		return -ENOENT;
	}
	if (to < 0 || to >= h->nr_nodes || !(h->online >> to & 1)) {
		snprintf(why, len, "node %d does not exist", to);
		return -EINVAL;
	}
	/* a memory-only node takes memory, never vCPUs */
	if (!h->node[to].nr_cpus && (all_vcpus || vcpus)) {
		snprintf(why, len, "node %d has no CPUs (a memory-only node): move "
			 "memory there with --memory alone", to);
		return -EINVAL;
	}
	/* vCPUs the guest does not have: a typo, or the wrong guest */
	if (!all_vcpus && g->nr_vcpus < 64 && vcpus >> g->nr_vcpus) {
		char have[200], extra[200];

		snprintf(why, len, "guest %s has %d vCPU%s (%s): no vCPU %s", g->name,
			 g->nr_vcpus, g->nr_vcpus == 1 ? "" : "s", g->nr_vcpus ?
			 fmt_nodemask(have, sizeof(have), (1ULL << g->nr_vcpus) - 1) : "none",
			 fmt_nodemask(extra, sizeof(extra), vcpus >> g->nr_vcpus << g->nr_vcpus));
		return -EINVAL;
	}
	if (c->cfg.dry_run) {
		snprintf(why, len, "the daemon runs in dry-run mode: it applies nothing");
		return -EROFS;
	}
	if (core_journal_failing(c)) {
		snprintf(why, len, "the journal %s cannot be written (%s): the daemon "
			 "moves nothing until it can", journal_path(c->journal),
			 strerror(c->journal_err));
		return -EROFS;
	}
	/* the view as the core knows it now, not as the last tick left it */
	publish_guest(c, g);
	d = xcalloc(g->nr_vcpus + VN_MAX_NODES, sizeof(*d));
	out->tag = ++next_tag;
	n = manual_decisions(c, g, to, mem, all_vcpus, vcpus, d, out->tag, &left);
	if (mem && left == mem) {
		snprintf(why, len, "guest %s has no memory outside node %d", g->name, to);
		free(d);
		return -EALREADY;
	}
	if (!n) {
		snprintf(why, len, "nothing to move: the vCPUs are on node %d already", to);
		free(d);
		return -EALREADY;
	}
	/* all or nothing: every part of the move must pass every rule */
	arbiter_room_init(c, &room);
	for (int j = 0; j < n; j++) {
		int r = arbiter_check(c, &d[j], waive);

		if (r < 0)
			r = arbiter_admit(c, &room, d, j, &d[j], waive);
		if (r >= 0) {
			refusal(c, &d[j], r, why, len);
			free(d);
			return r == VN_DROP_PINNED || r == VN_DROP_OPTED_OUT ? -EPERM :
			       r == VN_DROP_MEMORY_CAPACITY ? -ENOSPC :
			       r == VN_DROP_NO_MEMMOVE ? -EOPNOTSUPP : -EBUSY;
		}
	}
	actuate_guest(c, d, n);
	record_decisions(c, d, n);
	publish_guest(c, g);
	for (int j = 0; j < n; j++) {
		if (d[j].error) {
			int err = d[j].error;

			snprintf(why, len, "move failed: %s", strerror(err));
			free(d);
			return -err;
		}
		if (d[j].p.kind == VNUMAD_MOVE_VCPU)
			out->vcpus++;
		else
			out->bytes += d[j].p.bytes;
	}
	for (struct vn_migration *m = c->migrations; m; m = m->next)
		out->migrations += m->tag == out->tag;
	if (out->vcpus && out->bytes)
		snprintf(why, len, "guest %s: %d vCPU(s) moved to node %d, %.2f GiB of memory "
			 "migrating there; %s", g->name, out->vcpus, to,
			 (double)out->bytes / GiB, judged(c, g));
	else if (out->vcpus)
		snprintf(why, len, "guest %s: %d vCPU(s) moved to node %d; %s", g->name,
			 out->vcpus, to, judged(c, g));
	else
		snprintf(why, len, "guest %s: %.2f GiB of memory migrating to node %d; %s",
			 g->name, (double)out->bytes / GiB, to, judged(c, g));
	free(d);
	return 0;
}
