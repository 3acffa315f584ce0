// SPDX-License-Identifier: MIT
/*
 * The oracle: the best placement of every guest that the model allows, found
 * with full knowledge of the workloads, as the yardstick of the policies.
 *
 * A placement puts each guest that may be moved (not pinned, not opted out)
 * in one of a few shapes, over sets of nodes that lie close together:
 *
 *	as placed      where the scenario and the host scheduler put it
 *	node N         vCPUs and memory on one node
 *	nodes S        vCPUs split evenly over the set (a vNUMA guest: vnode i
 *	               on the set's i-th node) and the memory with them
 *	interleave     vCPUs on node a, memory spread over a pair {a, b}: for
 *	               bandwidth-bound guests that saturate one controller
 *
 * with only vCPU shapes for a guest whose memory cannot move. Node sets are
 * the single nodes, for k = 2, 4, ... the k nodes nearest each node (ties to
 * the next node numbers), and all nodes. A placement is feasible when every
 * node's memory holds what it is given. Its score is the model's steady
 * state: the guests are put there at once (sim_place, no migration cost)
 * and the bandwidth fixed point is solved again (sim_settle); the score is
 * the sum of the guests' instructions per second, as for the policies.
 *
 * Search: when the placements number at most HS_EXHAUSTIVE_MAX, every one
 * is scored (exhaustive, the true optimum of this space). Otherwise a local
 * search: best-improvement hill climbing over one guest's shape at a time,
 * over swaps of two guests' node sets, and, once those are spent, over
 * pairs of guests sharing a node moved together to single nodes; from the
 * current placement and then from random restarts (seeded, so
 * reproducible), within an evaluation budget. The result is the best found,
 * labelled best-known.
 *
 * Arrivals, departures and phase changes change the best placement: the
 * oracle splits the run at these events and searches again at each one,
 * starting from its previous answer, so it re-places for free at every
 * event. Between events the placement holds; its throughput is the steady
 * state times the stretch's length. The oracle thus bounds what a policy
 * could reach only loosely from above: it pays no migration, needs no
 * counters and no time to learn, but keeps to these shapes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "log.h"
#include "util.h"

#define IMPROVE	1e-7	/* relative gain that counts as better */

enum shape {
	SHAPE_AS_PLACED,
	SHAPE_SPREAD,
	SHAPE_INTERLEAVE,
};

/* One way to place one guest. */
struct option {
	enum shape shape;
	uint64_t set;		/* nodes of SPREAD, memory of INTERLEAVE */
	int node;		/* vCPUs of INTERLEAVE */
	int *vcpu_node;		/* [nr_vcpus] */
	uint64_t *mem;		/* [vnodes * nr_nodes] bytes; NULL: memory stays */
	uint64_t use[VN_MAX_NODES];	/* guest memory per node with this option */
	uint64_t nodes;		/* every node its vCPUs or memory touch */
};

/* A guest the oracle may move. */
struct oguest {
	int g;			/* index in the scenario */
	struct option *opt;
	int nr_opt;
	int cur;		/* option applied in the model */
	int best;		/* option in the best assignment so far */
	int single[VN_MAX_NODES];	/* the option "node N", or -1 */
	bool live;		/* running in the current stretch */
};

struct oracle {
	struct sim *s;
	const struct hs_opts *o;
	int nn;
	uint64_t cap[VN_MAX_NODES];	/* memory guests may use, per node */
	uint64_t fixed[VN_MAX_NODES];	/* memory of guests it may not move */
	uint64_t usage[VN_MAX_NODES];	/* of the movable ones, as applied */
	uint64_t sets[4 * VN_MAX_NODES];
	int nr_sets;
	struct oguest *all;	/* [nr_guests]; .opt NULL until first seen */
	struct oguest **live;	/* the movable guests of this stretch */
	int n;
	long evals;		/* in this stretch */
	long budget;
	struct vn_rng rng;
};

static int popcount(uint64_t m)
{
	return __builtin_popcountll(m);
}

/* The i-th node of a mask, counting from the lowest. */
static int nth_node(uint64_t m, int i)
{
	for (int n = 0; n < 64; n++)
		if ((m >> n & 1) && i-- == 0)
			return n;
	return -1;
}

static void add_set(struct oracle *or, uint64_t m)
{
	for (int i = 0; i < or->nr_sets; i++)
		if (or->sets[i] == m)
			return;
	or->sets[or->nr_sets++] = m;
}

/* Single nodes, the k nearest nodes to each node for k = 2, 4, ..., all. */
static void make_sets(struct oracle *or)
{
	int nn = or->nn;

	for (int a = 0; a < nn; a++)
		add_set(or, 1ULL << a);
	for (int k = 2; k < nn; k *= 2) {
		for (int a = 0; a < nn; a++) {
			int order[VN_MAX_NODES];
			uint64_t m = 0;

			for (int i = 0; i < nn; i++)
				order[i] = (a + i) % nn;
			/* stable by distance: ties keep the cyclic order after a */
			for (int i = 1; i < nn; i++)
				for (int j = i; j > 0 &&
				     sim_distance(or->s, a, order[j]) <
				     sim_distance(or->s, a, order[j - 1]); j--) {
					int t = order[j];

					order[j] = order[j - 1];
					order[j - 1] = t;
				}
			for (int i = 0; i < k; i++)
				m |= 1ULL << order[i];
			add_set(or, m);
		}
	}
	if (nn > 1)
		add_set(or, nn == 64 ? ~0ULL : (1ULL << nn) - 1);
}

/* Splits `bytes` in pages evenly over the nodes of a mask, lowest first. */
static void spread_pages(const struct oracle *or, uint64_t bytes, uint64_t set,
			 uint64_t *row)
{
	uint64_t page = sim_page_size(or->s), pages = bytes / page;
	int k = popcount(set);

	for (int i = 0; i < k; i++)
		row[nth_node(set, i)] += (pages / k + ((uint64_t)i < pages % k)) * page;
}

static struct option *new_option(struct oguest *og, const struct sim *s,
				 enum shape shape, bool mem)
{
	struct option *op;
	int nv = sim_guest_vcpus(s, og->g);

	og->opt = xreallocarray(og->opt, og->nr_opt + 1, sizeof(*og->opt));
	op = &og->opt[og->nr_opt++];
	memset(op, 0, sizeof(*op));
	op->shape = shape;
	op->node = -1;
	op->vcpu_node = xcalloc(nv, sizeof(int));
	if (mem)
		op->mem = xcalloc((size_t)sim_guest_vnodes(s, og->g) * sim_nr_nodes(s),
				  sizeof(uint64_t));
	return op;
}

/* Memory per node of an option (from mem[], or the guest's as it is). */
static void option_use(const struct oracle *or, const struct oguest *og,
		       struct option *op)
{
	int nvn = sim_guest_vnodes(or->s, og->g);

	op->nodes = 0;
	for (int v = 0; v < sim_guest_vcpus(or->s, og->g); v++)
		op->nodes |= 1ULL << op->vcpu_node[v];
	for (int n = 0; n < or->nn; n++) {
		op->use[n] = 0;
		if (!op->mem) {
			op->use[n] = sim_guest_mem(or->s, og->g, n);
		} else {
			for (int vn = 0; vn < nvn; vn++)
				op->use[n] += op->mem[vn * or->nn + n];
		}
		if (op->use[n])
			op->nodes |= 1ULL << n;
	}
}

/* The shapes open to a guest, first seen running now (see the top). */
static void make_options(struct oracle *or, struct oguest *og)
{
	const struct sim *s = or->s;
	int g = og->g, nv = sim_guest_vcpus(s, g), nvn = sim_guest_vnodes(s, g);
	int nn = or->nn;
	bool memmove = !(sim_guest_flags(s, g) & VNUMAD_GUEST_NO_MEMMOVE);
	struct option *op;

	for (int n = 0; n < VN_MAX_NODES; n++)
		og->single[n] = -1;
	/* as placed: where it is now, so that the oracle is never worse */
	op = new_option(og, s, SHAPE_AS_PLACED, true);
	for (int v = 0; v < nv; v++)
		op->vcpu_node[v] = sim_vcpu_node(s, g, v);
	for (int vn = 0; vn < nvn; vn++)
		for (int n = 0; n < nn; n++)
			op->mem[vn * nn + n] = sim_guest_vnode_mem(s, g, vn, n);
	if (!memmove) {
		free(op->mem);
		op->mem = NULL;
	}
	option_use(or, og, op);

	for (int i = 0; i < or->nr_sets; i++) {
		uint64_t set = or->sets[i];
		int k = popcount(set);

		if (k > (nvn > 1 ? nvn : nv))
			continue;
		op = new_option(og, s, SHAPE_SPREAD, memmove);
		op->set = set;
		if (k == 1)
			og->single[nth_node(set, 0)] = og->nr_opt - 1;
		for (int v = 0; v < nv; v++)
			op->vcpu_node[v] = nvn > 1 ?
				nth_node(set, sim_vcpu_vnode(s, g, v) % k) :
				nth_node(set, (int)((long)v * k / nv));
		for (int vn = 0; op->mem && vn < nvn; vn++) {
			uint64_t bytes = sim_guest_vnode_mem(s, g, vn, -1);

			if (nvn > 1)
				op->mem[vn * nn + nth_node(set, vn % k)] = bytes;
			else
				spread_pages(or, bytes, set, &op->mem[vn * nn]);
		}
		option_use(or, og, op);
	}
	if (!memmove || nvn > 1)
		return;
	for (int i = 0; i < or->nr_sets; i++) {
		uint64_t set = or->sets[i];

		if (popcount(set) != 2)
			continue;
		for (int j = 0; j < 2; j++) {
			op = new_option(og, s, SHAPE_INTERLEAVE, true);
			op->set = set;
			op->node = nth_node(set, j);
			for (int v = 0; v < nv; v++)
				op->vcpu_node[v] = op->node;
			spread_pages(or, sim_guest_vnode_mem(s, g, 0, -1), set, op->mem);
			option_use(or, og, op);
		}
	}
}

static void option_label(const struct option *op, char *buf, size_t len)
{
	char a[200];

	switch (op->shape) {
	case SHAPE_AS_PLACED:
		snprintf(buf, len, "as placed");
		break;
	case SHAPE_SPREAD:
		snprintf(buf, len, "%s %s", popcount(op->set) > 1 ? "nodes" : "node",
			 fmt_nodemask(a, sizeof(a), op->set));
		if (!op->mem)
			snprintf(buf, len, "vCPUs on %s %s", popcount(op->set) > 1 ?
				 "nodes" : "node", a);
		break;
	case SHAPE_INTERLEAVE:
		snprintf(buf, len, "vCPUs node %d, memory nodes %s", op->node,
			 fmt_nodemask(a, sizeof(a), op->set));
		break;
	}
}

static void free_guest(struct oguest *og)
{
	for (int i = 0; i < og->nr_opt; i++) {
		free(og->opt[i].vcpu_node);
		free(og->opt[i].mem);
	}
	free(og->opt);
	og->opt = NULL;
	og->nr_opt = 0;
}

/* Puts guest i of the stretch in option k in the model. */
static void apply(struct oracle *or, struct oguest *og, int k)
{
	const struct option *was = &og->opt[og->cur], *op = &og->opt[k];

	if (og->cur == k)
		return;
	for (int n = 0; n < or->nn; n++)
		or->usage[n] += op->use[n] - was->use[n];
	sim_place(or->s, og->g, op->vcpu_node, op->mem);
	og->cur = k;
}

static double score(struct oracle *or)
{
	or->evals++;
	return sim_settle(or->s);
}

/* Whether moving one guest to option k keeps every node within its memory. */
static bool fits(const struct oracle *or, const struct oguest *og, int k)
{
	const struct option *was = &og->opt[og->cur], *op = &og->opt[k];

	for (int n = 0; n < or->nn; n++)
		if (or->fixed[n] + or->usage[n] - was->use[n] + op->use[n] > or->cap[n])
			return false;
	return true;
}

static bool all_fit(const struct oracle *or)
{
	for (int n = 0; n < or->nn; n++)
		if (or->fixed[n] + or->usage[n] > or->cap[n])
			return false;
	return true;
}

static void keep_best(struct oracle *or)
{
	for (int i = 0; i < or->n; i++)
		or->live[i]->best = or->live[i]->cur;
}

/* Every assignment, in odometer order: few guests change between two. */
static double exhaustive(struct oracle *or)
{
	int n = or->n, *k = xcalloc(n + 1, sizeof(int));
	double best = -1;

	for (int i = 0; i < n; i++)
		apply(or, or->live[i], 0);
	for (;;) {
		int i = 0;

		if (all_fit(or)) {
			double v = score(or);

			if (v > best * (1 + IMPROVE)) {
				best = v;
				keep_best(or);
			}
		}
		while (i < n && ++k[i] == or->live[i]->nr_opt) {
			k[i] = 0;
			apply(or, or->live[i], 0);
			i++;
		}
		if (i == n)
			break;
		apply(or, or->live[i], k[i]);
	}
	free(k);
	return best;
}

static void shuffle(struct oracle *or, int *a, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(rng_next(&or->rng) % (uint64_t)(i + 1)), t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

/* The option of a guest with a given shape and set, or -1. */
static int find_option(const struct oguest *og, enum shape shape, uint64_t set,
		       int node)
{
	for (int k = 0; k < og->nr_opt; k++)
		if (og->opt[k].shape == shape && og->opt[k].set == set &&
		    og->opt[k].node == node)
			return k;
	return -1;
}

/* Best-improvement moves of one guest; returns the new score. */
static double climb_guest(struct oracle *or, struct oguest *og, double v,
			  bool *improved)
{
	int start = og->cur, best = start;
	double bv = v;

	for (int k = 0; k < og->nr_opt && or->evals < or->budget; k++) {
		double x;

		if (k == start || !fits(or, og, k))
			continue;
		apply(or, og, k);
		x = score(or);
		if (x > bv * (1 + IMPROVE)) {
			bv = x;
			best = k;
		}
	}
	apply(or, og, best);
	if (best != start)
		*improved = true;
	return bv;
}

/* Two guests exchange their node sets, when both have such a shape. */
static double try_swap(struct oracle *or, struct oguest *a, struct oguest *b,
		       double v, bool *improved)
{
	const struct option *oa = &a->opt[a->cur], *ob = &b->opt[b->cur];
	int ka, kb, was_a = a->cur, was_b = b->cur;
	double x;

	if (oa->shape == SHAPE_AS_PLACED || ob->shape == SHAPE_AS_PLACED ||
	    (oa->set == ob->set && oa->node == ob->node))
		return v;
	ka = find_option(a, ob->shape, ob->set, ob->node);
	kb = find_option(b, oa->shape, oa->set, oa->node);
	if (ka < 0 || kb < 0)
		return v;
	apply(or, a, ka);
	apply(or, b, kb);
	if (all_fit(or)) {
		x = score(or);
		if (x > v * (1 + IMPROVE)) {
			*improved = true;
			return x;
		}
	}
	apply(or, a, was_a);
	apply(or, b, was_b);
	return v;
}

/*
 * Two guests that share a node both move, each to a single node, all pairs
 * of nodes tried: the way out of a local optimum where each guest spread
 * itself over the other's nodes (two streamers interleaved over the same
 * idle pair instead of one on each node) and neither gains by moving alone.
 */
static double try_pair(struct oracle *or, struct oguest *a, struct oguest *b,
		       double v, bool *improved)
{
	int was_a = a->cur, was_b = b->cur, ba = was_a, bb = was_b;
	double best = v;

	if (!(a->opt[was_a].nodes & b->opt[was_b].nodes))
		return v;
	for (int x = 0; x < or->nn && or->evals < or->budget; x++) {
		for (int y = 0; y < or->nn && or->evals < or->budget; y++) {
			int ka = a->single[x], kb = b->single[y];
			double val;

			if (ka < 0 || kb < 0 || (ka == was_a && kb == was_b))
				continue;
			apply(or, a, ka);
			apply(or, b, kb);
			if (!all_fit(or))
				continue;
			val = score(or);
			if (val > best * (1 + IMPROVE)) {
				best = val;
				ba = ka;
				bb = kb;
			}
		}
	}
	apply(or, a, ba);
	apply(or, b, bb);
	if (ba != was_a || bb != was_b)
		*improved = true;
	return best;
}

/* Hill climbing from the assignment in the model, to a local optimum. */
static double climb(struct oracle *or, double v)
{
	int n = or->n, *order = xcalloc(n + 1, sizeof(int));
	bool improved = true;

	for (int i = 0; i < n; i++)
		order[i] = i;
	while (improved && or->evals < or->budget) {
		improved = false;
		shuffle(or, order, n);
		for (int i = 0; i < n && or->evals < or->budget; i++)
			v = climb_guest(or, or->live[order[i]], v, &improved);
		for (int i = 0; i < n && or->evals < or->budget; i++)
			for (int j = i + 1; j < n && or->evals < or->budget; j++)
				v = try_swap(or, or->live[order[i]],
					     or->live[order[j]], v, &improved);
		/* the costlier neighbourhood only where the cheap ones are spent */
		for (int i = 0; i < n && !improved && or->evals < or->budget; i++)
			for (int j = i + 1; j < n && or->evals < or->budget; j++)
				v = try_pair(or, or->live[order[i]],
					     or->live[order[j]], v, &improved);
	}
	free(order);
	return v;
}

/* A random feasible assignment; false if none was found quickly. */
static bool random_start(struct oracle *or)
{
	int n = or->n, *order = xcalloc(n + 1, sizeof(int));
	bool ok = true;

	for (int i = 0; i < n; i++)
		order[i] = i;
	shuffle(or, order, n);
	/* clear the way first: everyone as placed, which fits */
	for (int i = 0; i < n; i++)
		apply(or, or->live[i], 0);
	for (int i = 0; i < n && ok; i++) {
		struct oguest *og = or->live[order[i]];
		int tries = 0, k;

		do
			k = (int)(rng_next(&or->rng) % (uint64_t)og->nr_opt);
		while (!fits(or, og, k) && ++tries < 2 * og->nr_opt);
		if (fits(or, og, k))
			apply(or, og, k);
		else
			ok = all_fit(or);
	}
	free(order);
	return ok && all_fit(or);
}

static double local_search(struct oracle *or, int restarts)
{
	double best, v;

	best = climb(or, score(or));
	keep_best(or);
	for (int r = 1; r < restarts && or->evals < or->budget; r++) {
		if (!random_start(or))
			continue;
		v = climb(or, score(or));
		if (v > best * (1 + IMPROVE)) {
			best = v;
			keep_best(or);
		}
	}
	return best;
}

/* The movable running guests of this stretch, new ones with their options. */
static void gather(struct oracle *or)
{
	struct sim *s = or->s;

	or->n = 0;
	memset(or->fixed, 0, sizeof(or->fixed));
	memset(or->usage, 0, sizeof(or->usage));
	for (int g = 0; g < sim_nr_guests(s); g++) {
		struct oguest *og = &or->all[g];
		bool mine = !(sim_guest_flags(s, g) &
			      (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_OPTED_OUT));

		og->live = sim_guest_alive(s, g);
		if (!og->live) {
			if (og->opt)
				free_guest(og);	/* gone: it will not come back */
			continue;
		}
		if (!mine) {
			for (int n = 0; n < or->nn; n++)
				or->fixed[n] += sim_guest_mem(s, g, n);
			continue;
		}
		if (!og->opt) {
			og->g = g;
			make_options(or, og);
			og->cur = og->best = 0;
		}
		/* the guest's memory does not move between stretches */
		for (int n = 0; n < or->nn; n++)
			or->usage[n] += og->opt[og->cur].use[n];
		or->live[or->n++] = og;
	}
}

/* Placements in the space, capped at limit + 1. */
static long space_size(const struct oracle *or, long limit)
{
	long size = 1;

	for (int i = 0; i < or->n; i++) {
		size *= or->live[i]->nr_opt;
		if (size > limit)
			return limit + 1;
	}
	return size;
}

static void print_placement(const struct oracle *or, double from, double to,
			    double v, long size, bool exact)
{
	char a[32], b[32], lab[256];

	fprintf(stderr, "oracle: %s to %s: %.4g instructions/s, %s (%ld evaluations",
		fmt_elapsed(a, sizeof(a), from), fmt_elapsed(b, sizeof(b), to), v,
		exact ? "exhaustive" : "best-known", or->evals);
	if (exact)
		fprintf(stderr, " of %ld placements", size);
	fprintf(stderr, ")\n");
	for (int i = 0; i < or->n; i++) {
		const struct oguest *og = or->live[i];

		option_label(&og->opt[og->best], lab, sizeof(lab));
		fprintf(stderr, "  %-20s %s\n", sim_guest_name(or->s, og->g), lab);
	}
}

int hs_oracle(const char *scenario, const struct hs_opts *o, struct hs_result *r)
{
	struct oracle or = { .o = o };
	struct vn_config cfg;
	double t = 0, end, wall = now_monotonic();
	double *dram, *rem;
	int ng, ret = -1;

	memset(r, 0, sizeof(*r));
	if (hs_config(o, scenario, NULL, &cfg) < 0) {
		config_free(&cfg);
		return -1;
	}
	or.s = hs_load(scenario);
	if (!or.s) {
		config_free(&cfg);
		return -1;
	}
	/* the oracle holds its placements: the host's balancing would move them */
	sim_set_numa_balancing(or.s, false);
	ng = sim_nr_guests(or.s);
	or.nn = sim_nr_nodes(or.s);
	hs_result_init(r, scenario, "oracle", or.s);
	r->interval = cfg.interval;
	r->duration = hs_run_length(or.s, o, cfg.interval);
	r->exhaustive = true;
	config_free(&cfg);
	for (int n = 0; n < or.nn; n++)
		or.cap[n] = sim_node_mem_capacity(or.s, n);
	make_sets(&or);
	or.all = xcalloc(ng + 1, sizeof(*or.all));
	or.live = xcalloc(ng + 1, sizeof(*or.live));
	rng_seed(&or.rng, 0x6f7261636c65ULL);	/* "oracle" */
	dram = xcalloc(ng + 1, sizeof(double));
	rem = xcalloc(ng + 1, sizeof(double));

	while (t < r->duration - 1e-9) {
		long limit = o->oracle_exhaustive > 0 ? o->oracle_exhaustive :
			     HS_EXHAUSTIVE_MAX, size;
		double next = sim_next_event(or.s), v;
		bool exact;

		end = next < 0 || next > r->duration ? r->duration : next;
		gather(&or);
		or.evals = 0;
		size = space_size(&or, limit);
		exact = size <= limit;
		or.budget = exact ? limit + 1 : o->oracle_budget > 0 ?
			    o->oracle_budget : HS_ORACLE_BUDGET;
		if (exact)
			exhaustive(&or);
		else
			local_search(&or, o->oracle_restarts > 0 ?
				     o->oracle_restarts : HS_ORACLE_RESTARTS);
		for (int i = 0; i < or.n; i++)
			apply(&or, or.live[i], or.live[i]->best);
		v = sim_settle(or.s);
		if (o->verbose)
			print_placement(&or, t, end, v, size, exact);
		r->level = xreallocarray(r->level, (size_t)r->segments + 1, sizeof(*r->level));
		r->level[r->segments] = (struct hs_level){ .from = t, .to = end };
		for (int g = 0; g < ng; g++) {
			double rate = sim_guest_dram_rate(or.s, g);
			double ratio = sim_guest_remote_ratio(or.s, g);

			if (!sim_guest_alive(or.s, g))
				continue;
			r->guest_ips[g] += sim_guest_ips(or.s, g) * (end - t);
			r->level[r->segments].ips += sim_guest_ips(or.s, g);
			dram[g] += rate * (end - t);
			rem[g] += (ratio > 0 ? ratio : 0) * rate * (end - t);
		}
		r->exhaustive &= exact;
		r->segments++;
		r->evaluations += or.evals;
		if (end >= r->duration - 1e-9)
			break;
		/* on to the next event: arrivals take memory, phases change */
		sim_step(or.s, end - t);
		t = end;
	}
	{
		double d = 0, x = 0;

		for (int g = 0; g < ng; g++) {
			r->guest_ips[g] /= r->duration;
			r->guest_remote[g] = dram[g] > 0 ? rem[g] / dram[g] : -1;
			r->ips += r->guest_ips[g];
			d += dram[g];
			x += rem[g];
		}
		r->remote = d > 0 ? x / d : -1;
	}
	r->wall = now_monotonic() - wall;
	ret = 0;
	for (int g = 0; g < ng; g++)
		free_guest(&or.all[g]);
	free(or.all);
	free(or.live);
	free(dram);
	free(rem);
	sim_free(or.s);
	return ret;
}
