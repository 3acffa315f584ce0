// SPDX-License-Identifier: MIT
/*
 * Each guest's per-tick history: the figure of merit the guard judges moves
 * by (instructions per second where the source counts them, else the share
 * of local accesses), in a ring of VN_HIST ticks. The model writes one slot
 * per tick; the guard reads windows of it; the arbiter asks whether a guest
 * has enough of it for a move of it to be judged, or needs none because the
 * move is its first and its figure unambiguous.
 */
#include <math.h>

#include "core.h"
#include "util.h"

/*
 * A first move needs no full baseline when at least this share of the
 * guest's accesses is remote and the move leaves at least this share of
 * them local.
 */
#define CLEAR_SHARE	0.9

void history_record(struct vn_guest *g, uint64_t tick, double value)
{
	int slot = (int)(tick % VN_HIST);

	g->hist[slot] = value;
	g->hist_tick[slot] = tick;
	g->hist_api[slot] = NAN;
	g->hist_share[slot] = NAN;
}

void history_record_mix(struct vn_guest *g, uint64_t tick, double api, double share)
{
	int slot = (int)(tick % VN_HIST);

	if (g->hist_tick[slot] != tick)
		return;
	g->hist_api[slot] = api;
	g->hist_share[slot] = share;
}

void history_reset(struct vn_guest *g)
{
	for (int i = 0; i < VN_HIST; i++)
		g->hist[i] = g->hist_api[i] = g->hist_share[i] = NAN;
}

/* True when slot t holds a reading of tick t. */
static bool known(const struct vn_guest *g, uint64_t t)
{
	int slot = (int)(t % VN_HIST);

	return g->hist_tick[slot] == t && !isnan(g->hist[slot]);
}

double history_mean(const struct vn_guest *g, uint64_t a, uint64_t b)
{
	double sum = 0;
	int n = 0, want = 0;

	for (uint64_t t = a; t <= b; t++) {
		want++;
		if (!known(g, t))
			continue;
		sum += g->hist[t % VN_HIST];
		n++;
	}
	return n * 2 >= want && n > 0 ? sum / n : NAN;
}

/* Mean of ring r over ticks [a, b] where g has readings; NaN below half. */
static double ring_mean(const struct vn_guest *g, const double *r, uint64_t a, uint64_t b)
{
	double sum = 0;
	int n = 0, want = 0;

	for (uint64_t t = a; t <= b; t++) {
		int slot = (int)(t % VN_HIST);

		want++;
		if (g->hist_tick[slot] != t || isnan(r[slot]))
			continue;
		sum += r[slot];
		n++;
	}
	return n * 2 >= want && n > 0 ? sum / n : NAN;
}

double history_mean_api(const struct vn_guest *g, uint64_t a, uint64_t b)
{
	return ring_mean(g, g->hist_api, a, b);
}

double history_mean_share(const struct vn_guest *g, uint64_t a, uint64_t b)
{
	return ring_mean(g, g->hist_share, a, b);
}

/* The squared relative standard error of ring r's mean over [a, b]. */
static double ring_rse2(const struct vn_guest *g, const double *r, uint64_t a, uint64_t b)
{
	double sum = 0, sum2 = 0;
	int n = 0;

	for (uint64_t t = a; t <= b; t++) {
		int slot = (int)(t % VN_HIST);
		double x;

		if (g->hist_tick[slot] != t || isnan(r[slot]))
			continue;
		x = r[slot];
		sum += x;
		sum2 += x * x;
		n++;
	}
	if (n < 2 || sum <= 0)
		return -1;
	return MAX(0, (sum2 - sum * sum / n) / (n - 1)) / n / (sum / n * sum / n);
}

double history_rse2(const struct vn_guest *g, uint64_t a, uint64_t b)
{
	return ring_rse2(g, g->hist, a, b);
}

double history_rse2_share(const struct vn_guest *g, uint64_t a, uint64_t b)
{
	return ring_rse2(g, g->hist_share, a, b);
}

uint64_t history_tick_at(const struct vn_core *c, double when)
{
	/*
	 * Counted back from the current tick: on a real host ticks are an
	 * interval plus their own run time apart, so when / interval drifts.
	 */
	long long k = (long long)c->host.tick -
		      llround((c->host.now - when) / c->cfg.interval);

	return k < 1 ? 1 : (uint64_t)k;
}

/*
 * Whether a move of the guest now could be judged: half the baseline window
 * holds readings. After its memory shifted the window starts there (guard.c
 * says why) and one reading is enough, so that the reaction to a phase
 * change waits no longer than a tick; none before the figures know the
 * reading that found the shift, though the policy already sees it.
 */
bool history_has_baseline(const struct vn_core *c, const struct vn_guest *g)
{
	uint64_t t = c->host.tick;
	int n = 0;

	if (g->mem_shift_tick > t)
		return false;
	for (int i = 0; i < c->hist_baseline && (uint64_t)i < t; i++) {
		if (t - i < g->mem_shift_tick)
			return n > 0;
		n += known(g, t - i);
	}
	return n * 2 >= c->hist_baseline && n > 0;
}

/*
 * A move worth trying before the guard has a full baseline: the guest's
 * first (never moved, nothing quarantined, not migrating), every vCPU read
 * this tick, at least CLEAR_SHARE of its accesses remote, and the move
 * makes them local -- a vCPU to the node that holds that share of the
 * memory, memory to the node all the vCPUs run on, so that the node then
 * holds that share, or the whole guest onto one node, its memory with it
 * (or, where its memory may not move, onto the node that holds that
 * share). Waiting for a baseline would only delay a verdict that is not in
 * doubt; the guard still judges the trial, against the readings the guest
 * has. Capacity is the arbiter's to check.
 */
bool history_clear_first_move(const struct vn_core *c, const struct vn_guest *g,
			      const struct vnumad_proposal *p)
{
	double total = (double)g->v.mem_total, there;
	int to = p->to;

	if (p->kind == VNUMAD_MOVE_GUEST)
		to = p->nodes && !(p->nodes & (p->nodes - 1)) ? __builtin_ctzll(p->nodes) : -1;
	if (g->last_move >= 0 || g->nr_move_times || total <= 0 || g->v.quarantine ||
	    g->mem_shift_tick > c->host.tick ||
	    (g->v.flags & VNUMAD_GUEST_MIGRATING) || !known(g, c->host.tick) ||
	    !(g->v.remote_ratio >= CLEAR_SHARE) || to < 0 || to >= c->host.nr_nodes)
		return false;
	there = (double)g->v.mem[to];
	switch (p->kind) {
	case VNUMAD_MOVE_VCPU:
		return there >= CLEAR_SHARE * total;
	case VNUMAD_MOVE_MEMORY:
		for (int i = 0; i < g->nr_vcpus; i++)
			if (g->vv[i].node != to)
				return false;
		return there + (double)p->bytes >= CLEAR_SHARE * total;
	case VNUMAD_MOVE_GUEST:
		/* every other node's memory follows it (actuate.c) */
		return !(g->v.flags & VNUMAD_GUEST_NO_MEMMOVE) || there >= CLEAR_SHARE * total;
	default:
		return false;
	}
}
