// SPDX-License-Identifier: MIT
/*
 * numad: the placement algorithm of numad(8), as a baseline.
 *
 * numad (Bill Gray, Red Hat, 2012) binds whole processes to NUMA nodes from
 * CPU and memory usage alone; it reads no performance counters and never
 * checks whether a move helped. This policy reproduces its published
 * behaviour (numad.c: manage_loads, pick_numa_nodes) on guests:
 *
 *  - A cycle runs every max_interval (15 s), or min_interval (5 s) after a
 *    cycle that moved something; between cycles the tick proposes nothing.
 *  - Guests are taken largest first by CPUs used x memory used; those below
 *    0.5 CPUs x 300 MiB are not worth managing.
 *  - A guest's request is its use divided by target_utilization (85%), at
 *    most one CPU per vCPU. Each node's magnitude is free CPUs x free memory,
 *    with the guest's own memory credited 1.5x where it lies (moving memory
 *    is expensive), the free CPUs of the nodes it is bound to averaged (its
 *    threads roam there), and a 9/8 bias toward those nodes. Nodes are taken
 *    best magnitude first (divided by the distance to the node taken before)
 *    until the request fits.
 *  - No move when the pick is the current binding with the memory inside it,
 *    or when the magnitude would change by 5% or less.
 *  - The move is whole-guest (VNUMAD_MOVE_GUEST): every vCPU to the nodes,
 *    memory after them. One guest per cycle; a guest that was moved is left
 *    alone for `hysteresis` (300 s), one whose move was not applied (the
 *    core's rules dropped it) for 30 s, numad's re-evaluation delay.
 *
 * Expected gain: numad estimates none. The figure given to the core is a
 * counter-free guess: every guest is assumed to stall half its time on DRAM
 * at local latency (b = 0.5), and its latency follows the mean distance from
 * its vCPUs to its memory, before and after (see pol_latency). The core's
 * min_gain therefore drops moves numad would make for balance alone; with
 * min_gain = 0 this policy moves exactly what numad would. The simulator's
 * numad contender runs it so: no guard, min_gain 0, migrations at the
 * host's copy rate (sim/README.md, "numad as a contender"); vnumad's
 * `policy = numad` keeps the daemon's brakes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies.h"

#define MiB_D		(1024.0 * 1024.0)
#define MBS_MARGIN	10.0	/* MiB left on a node, as numad does */
#define RETRY_DELAY	30.0	/* numad's MIN_DELAY_FOR_REEVALUATION */
#define IMPROVEMENT	0.05	/* numad's IMPROVEMENT_THRESHOLD_PERCENT */
#define ASSUMED_STALL	0.5

enum {
	OPT_MIN_INTERVAL,
	OPT_MAX_INTERVAL,
	OPT_TARGET_UTILIZATION,
	OPT_HYSTERESIS,
	OPT_MIN_CPUS,
	OPT_MIN_MEMORY,
	NR_OPTS
};

static const struct vnumad_option numad_options[] = {
	[OPT_MIN_INTERVAL] = { "min_interval", VNUMAD_OPT_DURATION, "5s", 0, 3600,
		"time to the next cycle after a cycle that moved a guest (numad -i MIN:)" },
	[OPT_MAX_INTERVAL] = { "max_interval", VNUMAD_OPT_DURATION, "15s", 0, 3600,
		"time to the next cycle after a cycle that moved nothing (numad -i :MAX)" },
	[OPT_TARGET_UTILIZATION] = { "target_utilization", VNUMAD_OPT_PERCENT, "85%", 0.1, 1.3,
		"share of a node's CPUs and memory a guest's request may fill (numad -u)" },
	[OPT_HYSTERESIS] = { "hysteresis", VNUMAD_OPT_DURATION, "300s", 0, 86400,
		"time a guest is left alone after it was moved" },
	[OPT_MIN_CPUS] = { "min_cpus", VNUMAD_OPT_DOUBLE, "0.5", 0, 4096,
		"CPUs a guest must use to be managed (with min_memory: their product)" },
	[OPT_MIN_MEMORY] = { "min_memory", VNUMAD_OPT_SIZE, "300MiB", 0, 1099511627776.0,
		"memory a guest must use to be managed (with min_cpus: their product)" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

enum { GUEST_IDLE, GUEST_PENDING };

/* What numad keeps of a guest (guest_init storage). */
struct nguest {
	int state;		/* GUEST_PENDING: a move proposed, not yet seen */
	uint64_t mask;		/* the nodes proposed */
	double bound;		/* when it was last bound, -1 never */
	double tried;		/* when a move was last proposed, -1 never */
};

struct numad {
	double min_interval, max_interval, target, hysteresis;
	double min_cpus, min_mib;
	double next_cycle;
	int *order;		/* candidate guests of this cycle */
	double *key;
	int cap;
};

static int numad_init(void **priv, const struct vnumad_init_args *args)
{
	struct numad *n = calloc(1, sizeof(*n));

	if (!n)
		return -POL_ENOMEM;
	n->min_interval = args->values[OPT_MIN_INTERVAL].num;
	n->max_interval = args->values[OPT_MAX_INTERVAL].num;
	n->target = args->values[OPT_TARGET_UTILIZATION].num;
	n->hysteresis = args->values[OPT_HYSTERESIS].num;
	n->min_cpus = args->values[OPT_MIN_CPUS].num;
	n->min_mib = args->values[OPT_MIN_MEMORY].num / MiB_D;
	*priv = n;
	return 0;
}

static void numad_fini(void *priv)
{
	struct numad *n = priv;

	if (!n)
		return;
	free(n->order);
	free(n->key);
	free(n);
}

uint64_t pol_guest_nodes(const struct vnumad_view *v, const struct vnumad_guest *g)
{
	uint64_t usable = 0, m = 0;

	for (int n = 0; n < v->nr_nodes && n < 64; n++)
		if (pol_node_usable(v, n))
			usable |= 1ULL << n;
	for (int i = 0; i < g->nr_vcpus; i++)
		m |= g->vcpus[i].allowed;
	m &= usable;
	return m ? m : usable;
}

static int popcount(uint64_t m)
{
	return __builtin_popcountll(m);
}

uint64_t pol_numad_pick(const struct vnumad_view *v, const struct vnumad_guest *g,
			uint64_t existing, double target_utilization)
{
	double cpus_free[VNUMAD_MAX_NODES], mib_free[VNUMAD_MAX_NODES];
	double mag[VNUMAD_MAX_NODES], saved[VNUMAD_MAX_NODES];
	double cpus = pol_guest_demand(g) / target_utilization;
	double mibs = (double)g->mem_total / MiB_D / target_utilization;
	double existing_free = 0, quarter = 0, old_mag = 0, new_mag = 0;
	uint64_t usable = 0, target = 0;
	int prev = -1, nr_usable = 0;

	if (cpus > g->nr_vcpus)
		cpus = g->nr_vcpus;
	for (int n = 0; n < v->nr_nodes && n < 64; n++)
		if (pol_node_usable(v, n)) {
			usable |= 1ULL << n;
			nr_usable++;
			quarter += v->nodes[n].nr_cpus;
		}
	if (!nr_usable)
		return 0;
	quarter /= 4.0 * nr_usable;
	existing &= usable;
	/* the guest's threads roam over its nodes: their mean free CPUs */
	if (existing) {
		existing_free = cpus;
		for (int n = 0; n < v->nr_nodes; n++)
			if (existing >> n & 1)
				existing_free += pol_free_cpus(v, n);
		existing_free /= popcount(existing);
	}
	for (int n = 0; n < v->nr_nodes; n++) {
		mag[n] = saved[n] = cpus_free[n] = mib_free[n] = 0;
		if (!(usable >> n & 1))
			continue;
		cpus_free[n] = (existing >> n & 1) ? existing_free : pol_free_cpus(v, n);
		if (cpus_free[n] > v->nodes[n].nr_cpus)
			cpus_free[n] = v->nodes[n].nr_cpus;
		mib_free[n] = ((double)v->nodes[n].mem_free + 1.5 * (double)g->mem[n]) / MiB_D;
		mag[n] = cpus_free[n] * mib_free[n];
		if (existing >> n & 1)
			mag[n] *= 9.0 / 8.0;
		saved[n] = mag[n];
	}
	for (int round = 0; mibs > 0 || cpus > quarter; round++) {
		int best = -1;

		for (int n = 0; n < v->nr_nodes; n++) {
			double d = prev >= 0 ? pol_dist(v, n, prev) : 1;

			if ((usable >> n & 1) &&
			    (best < 0 || mag[n] / d > mag[best] /
			     (prev >= 0 ? pol_dist(v, best, prev) : 1)))
				best = n;
		}
		/* no progress possible: numad then takes every node */
		if (best == prev || (target >> best & 1) || round > 64) {
			target = usable;
			break;
		}
		prev = best;
		target |= 1ULL << best;
		if (target == usable)
			break;
		if (mib_free[best] >= mibs + MBS_MARGIN) {
			mib_free[best] -= mibs;
			mibs = 0;
		} else {
			mibs -= mib_free[best] - MBS_MARGIN;
			mib_free[best] = MBS_MARGIN;
		}
		if (cpus_free[best] >= cpus) {
			cpus_free[best] -= cpus;
			cpus = 0;
		} else {
			cpus -= cpus_free[best];
			cpus_free[best] = 0;
		}
		mag[best] = cpus_free[best] * mib_free[best];
	}
	if (target == existing) {
		/* already there; only memory left outside is worth a new bind */
		if (target == usable)
			return 0;
		for (int n = 0; n < v->nr_nodes; n++)
			if (!(target >> n & 1) && (double)g->mem[n] > MBS_MARGIN * MiB_D)
				return target;
		return 0;
	}
	for (int n = 0; n < v->nr_nodes; n++) {
		if (target >> n & 1)
			new_mag += saved[n];
		if (existing >> n & 1)
			old_mag += saved[n];
	}
	if (old_mag > 0 && new_mag > old_mag * (1 - IMPROVEMENT) &&
	    new_mag < old_mag * (1 + IMPROVEMENT))
		return 0;
	return target;
}

/* Counter-free expected gain of binding the guest to `nodes`. */
static double guess_gain(const struct vnumad_view *v, const struct vnumad_guest *g,
			 uint64_t nodes)
{
	double before = 0, after = 0, w = 0;
	int k = popcount(nodes);

	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct vnumad_vcpu *c = &g->vcpus[i];

		if (c->node < 0 || c->node >= v->nr_nodes)
			continue;
		before += pol_latency(pol_mean_distance(v, g, c->node));
		w++;
	}
	if (!w || !k)
		return 0;
	before /= w;
	/* afterwards memory and vCPUs share the nodes, spread evenly */
	for (int a = 0; a < v->nr_nodes; a++)
		for (int b = 0; b < v->nr_nodes; b++)
			if ((nodes >> a & 1) && (nodes >> b & 1))
				after += pol_latency(pol_dist(v, a, b));
	after /= (double)k * k;
	return (1 - ASSUMED_STALL + ASSUMED_STALL * before) /
	       (1 - ASSUMED_STALL + ASSUMED_STALL * after) - 1;
}

static void fmt_nodes(char *buf, size_t len, uint64_t m)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int n = 0; n < 64 && off < len; n++)
		if (m >> n & 1)
			off += snprintf(buf + off, len - off, "%s%d", off ? "," : "", n);
}

static int numad_tick(void *priv, const struct vnumad_view *v,
		      struct vnumad_out *out)
{
	struct numad *n = priv;
	int nr = 0;

	if (v->nr_guests > n->cap) {
		int cap = v->nr_guests * 2;
		int *o = realloc(n->order, cap * sizeof(*o));
		double *k;

		if (!o)
			return -POL_ENOMEM;
		n->order = o;
		k = realloc(n->key, cap * sizeof(*k));
		if (!k)
			return -POL_ENOMEM;
		n->key = k;
		n->cap = cap;
	}
	/* note which of last cycle's moves were applied */
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];
		struct nguest *e = pol_guest_state(v, g);

		if (e && e->state == GUEST_PENDING && pol_guest_nodes(v, g) == e->mask) {
			/* bound at the time it was proposed */
			e->state = GUEST_IDLE;
			e->bound = e->tried;
		}
	}
	if (v->now + 1e-9 < n->next_cycle)
		return 0;
	n->next_cycle = v->now + n->max_interval;

	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];
		struct nguest *e = pol_guest_state(v, g);
		double cpus = pol_guest_demand(g), mib = (double)g->mem_total / MiB_D;

		/* a guest without storage (its guest_init failed) is left alone */
		if (!e || !pol_guest_managed(g) || !g->mem_total || !g->nr_vcpus ||
		    (g->flags & (VNUMAD_GUEST_MIGRATING | VNUMAD_GUEST_IN_TRIAL)))
			continue;
		if (cpus * mib < n->min_cpus * n->min_mib)
			continue;
		if (e->bound >= 0 && v->now - e->bound < n->hysteresis)
			continue;
		if (e->state == GUEST_PENDING && v->now - e->tried < RETRY_DELAY)
			continue;
		n->order[nr] = gi;
		n->key[gi] = cpus * mib;
		nr++;
	}
	/* largest first; numad's order, a plain insertion sort as in numad */
	for (int i = 1; i < nr; i++) {
		int x = n->order[i], j = i;

		while (j > 0 && n->key[n->order[j - 1]] < n->key[x]) {
			n->order[j] = n->order[j - 1];
			j--;
		}
		n->order[j] = x;
	}
	for (int i = 0; i < nr; i++) {
		const struct vnumad_guest *g = v->guests[n->order[i]];
		uint64_t existing = pol_guest_nodes(v, g);
		uint64_t target = pol_numad_pick(v, g, existing, n->target);
		struct nguest *e = pol_guest_state(v, g);
		struct vnumad_proposal p;
		char from[40], to[40];

		if (!target)
			continue;
		memset(&p, 0, sizeof(p));
		p.kind = VNUMAD_MOVE_GUEST;
		p.guest = n->order[i];
		p.nodes = target;
		p.gain = guess_gain(v, g, target);
		fmt_nodes(from, sizeof(from), existing);
		fmt_nodes(to, sizeof(to), target);
		snprintf(p.reason, sizeof(p.reason),
			 "numad: most free CPUs x free memory on node(s) %.40s "
			 "(bound to %.40s)", to, from);
		if (vnumad_propose(out, &p) < 0)
			break;
		e->state = GUEST_PENDING;
		e->mask = target;
		e->tried = v->now;
		n->next_cycle = v->now + n->min_interval;
		break;
	}
	return 0;
}

static int numad_guest_init(void *priv, const struct vnumad_guest *g, void **gpriv)
{
	struct nguest *e = malloc(sizeof(*e));

	(void)priv;
	(void)g;
	if (!e)
		return -POL_ENOMEM;
	*e = (struct nguest){ .state = GUEST_IDLE, .bound = -1, .tried = -1 };
	*gpriv = e;
	return 0;
}

const struct vnumad_policy vn_policy_numad = {
	VNUMAD_POLICY_INIT,
	.name = "numad",
	.description = "baseline: numad's algorithm -- whole guests to the nodes with the "
		       "most free CPUs x free memory, one per cycle, no counters",
	.options = numad_options,
	.init = numad_init,
	.tick = numad_tick,
	.fini = numad_fini,
	.guest_init = numad_guest_init,
	.guest_exit = pol_guest_free,
};
