// SPDX-License-Identifier: MIT
/*
 * The core's state for operators: the JSON that `vnumad status` shows, the
 * placement advice of `vnumad place`, and the manual moves of `vnumad
 * migrate`, which go through the same checks, actuation and guard as the
 * policy's.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core.h"
#include "log.h"
#include "state.h"
#include "util.h"

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
	return a;
}

static json_t *guest_json(const struct vn_core *c, const struct vn_guest *g)
{
	json_t *o = json_object(), *vcpus = json_array(), *mem = json_object();
	char nodes[200], key[16];

	json_object_set_new(o, "name", json_string(g->name));
	json_object_set_new(o, "pid", json_integer(g->pid));
	json_object_set_new(o, "flags", flags_json(g->v.flags));
	json_object_set_new(o, "ips", json_integer((json_int_t)llround(g->v.ips)));
	json_object_set_new(o, "remote_ratio", ratio(g->v.remote_ratio));
	for (int n = 0; n < c->host.nr_nodes; n++) {
		if (!g->v.mem[n])
			continue;
		snprintf(key, sizeof(key), "%d", n);
		json_object_set_new(mem, key, json_integer((json_int_t)g->v.mem[n]));
	}
	json_object_set_new(o, "memory", mem);
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
		json_object_set_new(x, "source", json_string(source_name(v->source)));
		json_array_append_new(vcpus, x);
	}
	json_object_set_new(o, "vcpus", vcpus);
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
	json_object_set_new(o, "dry_run", json_boolean(c->cfg.dry_run));
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
		json_array_append_new(nodes, x);
	}
	json_object_set_new(o, "nodes", nodes);
	for (int i = 0; i < h->nr_guests; i++)
		json_array_append_new(guests, guest_json(c, h->guests[i]));
	json_object_set_new(o, "guests", guests);
	for (const struct vn_trial *t = c->trials; t; t = t->next) {
		json_t *x = json_object();
		static const char *const states[] = { "migrating", "settling", "judging" };

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

/*
 * The best nodes for a guest about to start: the question libvirt's
 * placement='auto' asks numad. One node if one can hold it, the one with the
 * most room left (free CPUs x free memory, numad's magnitude, after the
 * guest); else the fewest nodes, grown from the roomiest by SLIT distance.
 */
int state_place(const struct vn_core *c, int ncpus, uint64_t mem,
		uint64_t *nodes, char *why, size_t len)
{
	const struct vn_host *h = &c->host;
	double fcpu[VN_MAX_NODES], fmem[VN_MAX_NODES], best = -1;
	int pick = -1;
	uint64_t set;
	double cpus = 0, memsum = 0;

	for (int n = 0; n < h->nr_nodes; n++) {
		fcpu[n] = h->node[n].nr_cpus * (1.0 - MIN(h->node[n].cpu_load, 1.0));
		fmem[n] = (double)h->node[n].mem_free;
		if (!(h->online >> n & 1) || !h->node[n].nr_cpus)
			continue;
		if (fcpu[n] + 1e-9 >= ncpus && fmem[n] >= (double)mem) {
			double mag = (fcpu[n] - ncpus + 1) * (fmem[n] - (double)mem + 1);

			if (mag > best) {
				best = mag;
				pick = n;
			}
		}
	}
	if (pick >= 0) {
		*nodes = 1ULL << pick;
		snprintf(why, len, "node %d fits it with %.1f CPUs and %.1f GiB to spare",
			 pick, fcpu[pick] - ncpus, (fmem[pick] - (double)mem) / GiB);
		return 0;
	}
	/* no single node: start from the roomiest, add the nearest */
	for (int n = 0; n < h->nr_nodes; n++)
		if ((h->online >> n & 1) && h->node[n].nr_cpus &&
		    (pick < 0 || fcpu[n] * fmem[n] > fcpu[pick] * fmem[pick]))
			pick = n;
	if (pick < 0) {
		snprintf(why, len, "the host has no node with CPUs");
		return -ENOENT;
	}
	set = 1ULL << pick;
	cpus = fcpu[pick];
	memsum = fmem[pick];
	while (cpus + 1e-9 < ncpus || memsum < (double)mem) {
		int next = -1;

		for (int n = 0; n < h->nr_nodes; n++) {
			if ((set >> n & 1) || !(h->online >> n & 1) || !h->node[n].nr_cpus)
				continue;
			if (next < 0 || host_distance(h, pick, n) < host_distance(h, pick, next) ||
			    (host_distance(h, pick, n) == host_distance(h, pick, next) &&
			     fcpu[n] * fmem[n] > fcpu[next] * fmem[next]))
				next = n;
		}
		if (next < 0) {
			snprintf(why, len, "the whole host has %.1f free CPUs and %.1f GiB free: "
				 "not enough", cpus, memsum / GiB);
			*nodes = set;
			return -ENOSPC;
		}
		set |= 1ULL << next;
		cpus += fcpu[next];
		memsum += fmem[next];
	}
	*nodes = set;
	snprintf(why, len, "no single node fits it; the %d nearest together have %.1f "
		 "free CPUs and %.1f GiB free", __builtin_popcountll(set), cpus, memsum / GiB);
	return 0;
}

int state_migrate(struct vn_core *c, const char *guest, int to, uint64_t mem,
		  bool all_vcpus, uint64_t vcpus, bool force,
		  struct vn_manual *out, char *why, size_t len)
{
	static uint64_t next_tag;
	struct vn_host *h = &c->host;
	struct vn_guest *g = host_find(h, guest);
	struct vn_decision *d;
	int n = 0, max;

	memset(out, 0, sizeof(*out));
	if (!g) {
		snprintf(why, len, "no guest named '%s'", guest);
		return -ENOENT;
	}
	if (to < 0 || to >= h->nr_nodes || !(h->online >> to & 1) || !h->node[to].nr_cpus) {
		snprintf(why, len, "node %d does not exist or has no CPUs", to);
		return -EINVAL;
	}
	if (!force && (g->v.flags & (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_OPTED_OUT))) {
		snprintf(why, len, "guest %s is %s; --force moves it anyway", g->name,
			 g->v.flags & VNUMAD_GUEST_PINNED ? "pinned by its user" : "opted out");
		return -EPERM;
	}
	if (g->v.flags & VNUMAD_GUEST_IN_TRIAL) {
		snprintf(why, len, "guest %s has a move under judgement; try again when it is judged",
			 g->name);
		return -EBUSY;
	}
	if (c->cfg.dry_run) {
		snprintf(why, len, "the daemon runs in dry-run mode: it applies nothing");
		return -EROFS;
	}
	if (mem && (g->v.flags & VNUMAD_GUEST_NO_MEMMOVE)) {
		snprintf(why, len, "the %s backend cannot migrate this guest's memory",
			 c->backend.ops->name);
		return -EOPNOTSUPP;
	}
	if (mem && (g->v.flags & VNUMAD_GUEST_MIGRATING)) {
		snprintf(why, len, "guest %s is already migrating memory", g->name);
		return -EBUSY;
	}
	max = g->nr_vcpus + VN_MAX_NODES;
	d = xcalloc(max, sizeof(*d));
	for (int v = 0; v < g->nr_vcpus && v < 64; v++) {
		if (!all_vcpus && !(vcpus >> v & 1))
			continue;
		if (g->vv[v].allowed == 1ULL << to)
			continue;
		d[n].g = g;
		d[n].accepted = true;
		d[n].p = (struct vnumad_proposal){ .kind = VNUMAD_MOVE_VCPU, .vcpu = v,
			.from = g->vv[v].node, .to = to };
		snprintf(d[n].p.reason, sizeof(d[n].p.reason), "asked by the operator");
		n++;
	}
	if (mem) {
		uint64_t left = mem;

		/* take it from the nodes that hold the most, farthest first */
		for (int k = 0; k < h->nr_nodes && left; k++) {
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
			d[n].g = g;
			d[n].accepted = true;
			d[n].p = (struct vnumad_proposal){ .kind = VNUMAD_MOVE_MEMORY,
				.from = from, .to = to, .bytes = MIN(left, g->v.mem[from]) };
			snprintf(d[n].p.reason, sizeof(d[n].p.reason), "asked by the operator");
			left -= d[n].p.bytes;
			n++;
		}
		if (left == mem) {
			snprintf(why, len, "guest %s has no memory outside node %d", g->name, to);
			free(d);
			return -EALREADY;
		}
		if ((double)(mem - left) > (double)h->node[to].mem_free) {
			snprintf(why, len, "node %d has %.2f GiB free, less than asked", to,
				 (double)h->node[to].mem_free / GiB);
			free(d);
			return -ENOSPC;
		}
	}
	if (!n) {
		snprintf(why, len, "nothing to move: the vCPUs are on node %d already", to);
		free(d);
		return -EALREADY;
	}
	c->tag = out->tag = ++next_tag;
	core_apply(c, g, d, n);
	c->tag = 0;
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
	out->migrations = 0;
	for (struct vn_migration *m = c->migrations; m; m = m->next)
		out->migrations += m->tag == out->tag;
	if (out->vcpus && out->bytes)
		snprintf(why, len, "guest %s: %d vCPU(s) moved to node %d, %.2f GiB of memory "
			 "migrating there; the guard judges the move", g->name, out->vcpus, to,
			 (double)out->bytes / GiB);
	else if (out->vcpus)
		snprintf(why, len, "guest %s: %d vCPU(s) moved to node %d; the guard judges "
			 "the move", g->name, out->vcpus, to);
	else
		snprintf(why, len, "guest %s: %.2f GiB of memory migrating to node %d; the "
			 "guard judges the move", g->name, (double)out->bytes / GiB, to);
	free(d);
	return 0;
}
