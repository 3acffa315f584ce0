// SPDX-License-Identifier: MIT
/*
 * Stage 6, arbiter: the core's rules over what a policy proposed. A policy
 * is trusted with nothing: every proposal is checked for sense, then for the
 * operator's rules (pinning, opt-out), the guard's (quarantine, trials,
 * moves per hour, enough history to judge), hysteresis, and capacity. The
 * survivors are taken best expected gain first, within the per-tick move cap
 * and the migration bandwidth budget. Dropped proposals keep their reason.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "util.h"

/* At most this many seconds of migration at migrate_rate may be queued. */
#define MIGRATION_BUDGET_SECONDS 60.0

static bool node_ok(const struct vn_host *h, int n, bool need_cpus)
{
	return n >= 0 && n < h->nr_nodes && (h->online >> n & 1) &&
	       (!need_cpus || h->node[n].nr_cpus > 0);
}

static bool nodes_ok(const struct vn_host *h, uint64_t mask)
{
	if (!mask)
		return false;
	for (int n = 0; n < 64; n++)
		if ((mask >> n & 1) && !node_ok(h, n, true))
			return false;
	return true;
}

static int moves_last_hour(const struct vn_guest *g, double now)
{
	int n = 0;

	for (int i = 0; i < g->nr_move_times && i < VN_MOVES_KEPT; i++)
		if (now - g->move_times[i] < 3600.0)
			n++;
	return n;
}

/* True when the guard has a full enough baseline for this guest. */
static bool has_history(const struct vn_core *c, const struct vn_guest *g)
{
	uint64_t t = c->host.tick;
	int n = 0;

	for (int i = 0; i < c->hist_baseline && (uint64_t)i < t; i++) {
		int slot = (int)((t - i) % VN_HIST);

		if (g->hist_tick[slot] == t - i && !isnan(g->hist[slot]))
			n++;
	}
	return n * 2 >= c->hist_baseline && n > 0;
}

/* Checks that need no accounting; returns -1 (keep) or a drop reason. */
static int check_static(struct vn_core *c, struct vn_decision *d)
{
	struct vn_host *h = &c->host;
	struct vnumad_proposal *p = &d->p;
	struct vn_guest *g;

	p->reason[VNUMAD_REASON_MAX - 1] = '\0';
	if (p->guest < 0 || p->guest >= h->nr_guests || !isfinite(p->gain))
		return VN_DROP_INVALID;
	g = d->g = h->guests[p->guest];
	switch (p->kind) {
	case VNUMAD_MOVE_VCPU:
		if (p->vcpu < 0 || p->vcpu >= g->nr_vcpus || !node_ok(h, p->to, true))
			return VN_DROP_INVALID;
		if (g->vv[p->vcpu].allowed == 1ULL << p->to)
			return VN_DROP_INVALID;	/* already there */
		p->from = g->vv[p->vcpu].node;
		break;
	case VNUMAD_MOVE_MEMORY:
		if (!node_ok(h, p->from, false) || !node_ok(h, p->to, false) ||
		    p->from == p->to || !g->v.mem[p->from])
			return VN_DROP_INVALID;
		if (!p->bytes || p->bytes > g->v.mem[p->from])
			p->bytes = g->v.mem[p->from];
		break;
	case VNUMAD_MOVE_GUEST:
		if (!nodes_ok(h, p->nodes))
			return VN_DROP_INVALID;
		break;
	default:
		return VN_DROP_INVALID;
	}
	if (g->v.flags & VNUMAD_GUEST_PINNED)
		return VN_DROP_PINNED;
	if (g->v.flags & VNUMAD_GUEST_OPTED_OUT)
		return VN_DROP_OPTED_OUT;
	if (p->kind != VNUMAD_MOVE_GUEST && guard_quarantined(c, g->name, p->to))
		return VN_DROP_QUARANTINE;
	if (p->kind == VNUMAD_MOVE_GUEST && (p->nodes & guard_quarantine_mask(c, g->name)))
		return VN_DROP_QUARANTINE;
	if (g->v.flags & VNUMAD_GUEST_IN_TRIAL)
		return VN_DROP_TRIAL;
	if (p->kind == VNUMAD_MOVE_VCPU && (g->vv[p->vcpu].flags & VNUMAD_VCPU_HOLD))
		return VN_DROP_HYSTERESIS;
	if (moves_last_hour(g, h->now) >= c->cfg.max_moves_per_hour)
		return VN_DROP_HOURLY_CAP;
	if (p->kind != VNUMAD_MOVE_VCPU) {
		if (g->v.flags & VNUMAD_GUEST_NO_MEMMOVE)
			return p->kind == VNUMAD_MOVE_MEMORY ? VN_DROP_NO_MEMMOVE : -1;
		if (g->v.flags & VNUMAD_GUEST_MIGRATING)
			return VN_DROP_MIGRATING;
	}
	/* a dry run or a single round judges nothing, so needs no baseline */
	if (c->cfg.guard && !core_advisory(c) && !c->once && !has_history(c, g))
		return VN_DROP_NO_HISTORY;
	if (p->gain < c->cfg.min_gain)
		return VN_DROP_GAIN;
	return -1;
}

static int by_gain(const void *a, const void *b)
{
	const struct vn_decision *x = a, *y = b;

	if (x->accepted != y->accepted)
		return x->accepted ? -1 : 1;
	if (x->p.gain != y->p.gain)
		return x->p.gain > y->p.gain ? -1 : 1;
	if (x->p.guest != y->p.guest)
		return x->p.guest - y->p.guest;
	if (x->p.kind != y->p.kind)
		return (int)x->p.kind - (int)y->p.kind;
	return x->p.vcpu - y->p.vcpu;
}

static double queued_bytes(const struct vn_core *c);

/*
 * Bytes of migration the arbiter would accept now: a minute of migrate_rate
 * less what is queued, or anything at all when nothing is queued, so that a
 * guest bigger than a minute's worth can still be moved (one at a time).
 */
double vn_migrate_budget(const struct vn_core *c)
{
	double queued = queued_bytes(c);

	if (queued <= 0)
		return 1e18;
	return MAX(0, c->cfg.migrate_rate * MIGRATION_BUDGET_SECONDS - queued);
}

/* Bytes still to move in migrations under way. */
static double queued_bytes(const struct vn_core *c)
{
	double q = 0;

	for (const struct vn_migration *m = c->migrations; m; m = m->next)
		if (m->state == VN_MIG_RUNNING)
			q += (double)(m->bytes - MIN(m->done + m->failed, m->bytes));
	return q;
}

static double guest_demand(const struct vn_guest *g)
{
	double d = 0;

	for (int i = 0; i < g->nr_vcpus; i++)
		d += g->vv[i].cpu_demand;
	return d;
}

static void drop(struct vn_core *c, struct vn_decision *d, enum vn_drop why)
{
	d->accepted = false;
	d->why = why;
	c->stats.dropped[why]++;
}

void stage_arbiter(struct vn_core *c, const struct vnumad_out *out)
{
	struct vn_host *h = &c->host;
	double cpu[VN_MAX_NODES], mem[VN_MAX_NODES];
	double budget = vn_migrate_budget(c);
	long moves = 0;

	if (out->len > c->cap_dec) {
		c->cap_dec = out->len;
		c->dec = xreallocarray(c->dec, c->cap_dec, sizeof(*c->dec));
	}
	c->nr_dec = out->len;
	c->stats.proposals += out->len;
	for (int i = 0; i < out->len; i++) {
		struct vn_decision *d = &c->dec[i];
		int why;

		memset(d, 0, sizeof(*d));
		d->p = out->buf[i];
		d->accepted = true;
		why = check_static(c, d);
		if (why >= 0)
			drop(c, d, why);
	}
	if (c->nr_dec > 1)
		qsort(c->dec, c->nr_dec, sizeof(*c->dec), by_gain);

	for (int n = 0; n < h->nr_nodes; n++) {
		cpu[n] = h->node[n].nr_cpus * (1.0 - h->node[n].cpu_load);
		mem[n] = (double)h->node[n].mem_free;
	}
	for (int i = 0; i < c->nr_dec; i++) {
		struct vn_decision *d = &c->dec[i];
		struct vnumad_proposal *p = &d->p;
		struct vn_guest *g = d->g;

		if (!d->accepted)
			continue;
		/* one change per vCPU, and a guest move excludes the rest */
		for (int j = 0; j < i; j++) {
			const struct vn_decision *e = &c->dec[j];

			if (!e->accepted || e->g != g)
				continue;
			if (e->p.kind == VNUMAD_MOVE_GUEST || p->kind == VNUMAD_MOVE_GUEST ||
			    (e->p.kind == p->kind && p->kind == VNUMAD_MOVE_VCPU &&
			     e->p.vcpu == p->vcpu) ||
			    (e->p.kind == p->kind && p->kind == VNUMAD_MOVE_MEMORY)) {
				drop(c, d, VN_DROP_DUPLICATE);
				break;
			}
		}
		if (!d->accepted)
			continue;
		/* the cap paces what is applied; advice lists everything */
		if (!core_advisory(c) && moves >= c->cfg.max_moves_per_tick) {
			drop(c, d, VN_DROP_TICK_CAP);
			continue;
		}
		if (p->kind == VNUMAD_MOVE_VCPU) {
			double need = g->vv[p->vcpu].cpu_demand;

			if (cpu[p->to] + 1e-9 < need) {
				drop(c, d, VN_DROP_CPU_CAPACITY);
				continue;
			}
			cpu[p->to] -= need;
			if (p->from >= 0 && p->from < h->nr_nodes)
				cpu[p->from] += need;
		} else if (p->kind == VNUMAD_MOVE_MEMORY) {
			if (mem[p->to] < (double)p->bytes) {
				drop(c, d, VN_DROP_MEMORY_CAPACITY);
				continue;
			}
			if (budget < (double)p->bytes) {
				drop(c, d, VN_DROP_BANDWIDTH);
				continue;
			}
			mem[p->to] -= (double)p->bytes;
			budget -= (double)p->bytes;
		} else {
			double room = 0, need = guest_demand(g), outside = 0;

			for (int n = 0; n < h->nr_nodes; n++) {
				if (p->nodes >> n & 1)
					room += cpu[n];
				else
					outside += (double)g->v.mem[n];
			}
			if (room + 1e-9 < need) {
				drop(c, d, VN_DROP_CPU_CAPACITY);
				continue;
			}
			if (outside > 0 && (g->v.flags & VNUMAD_GUEST_NO_MEMMOVE) == 0 &&
			    budget < outside) {
				drop(c, d, VN_DROP_BANDWIDTH);
				continue;
			}
			budget -= outside;
		}
		moves++;
		c->stats.accepted++;
	}
}
