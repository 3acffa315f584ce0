// SPDX-License-Identifier: MIT
/*
 * The two yardsticks of vnumad-sim, both found with full knowledge of the
 * model and both per stretch of the run between events (arrivals,
 * departures, phase changes; sim_next_event):
 *
 *  - the reference: each guest alone on the host, best placed. A guest's
 *    progress under a policy is its throughput over this one (score.c).
 *  - the oracle: every guest together, placed to maximise the score, the
 *    geometric mean of the guests' progress over the run.
 *
 * A placement is built from parts: a guest without vNUMA is one part, a
 * vNUMA guest one part per guest NUMA node (vnode), so that each vnode can
 * go its own way. Each part that may be moved (its guest not pinned, not
 * opted out) takes one of these shapes over nodes that lie close together:
 *
 *	as placed    where it is now
 *	nodes S      vCPUs split evenly over the set, memory evenly with them
 *	vCPUs S      vCPUs split evenly over the set, memory stays
 *	pair a+b     vCPUs on a, memory split over a and b: interleaved (hot
 *	             pages spread too, for a streamer that saturates one
 *	             controller) or near (hot pages on a first, the cold rest
 *	             split: for a node too small, or a memory-only node)
 *	uneven a/b   vCPUs k on a and the rest on b (any k for parts of up to
 *	             8 vCPUs, else in eighths), memory split alike or staying
 *	memory here  vCPUs stay, memory follows them (hot pages with them)
 *
 * A guest whose memory cannot move (memmove = no) gets only the shapes that
 * leave memory where it is; one whose user pinned its vCPUs and left its
 * memory free (pinned = vcpus) only those that leave its vCPUs where they
 * are (as placed, memory here, and a pair or uneven split whose vCPUs all
 * stay). vCPUs go only to nodes with CPUs. Node sets are
 * single nodes, the k nearest nodes of each node for k = 2, 4, ... and all
 * nodes; sets wider than the part's vCPUs are left out. Within a stretch a
 * placement holds; it is put in the model at once (sim_place, no migration
 * and no cost) and solved to its steady state (sim_settle). A placement is
 * feasible when every node's memory holds what it is given.
 *
 * The oracle maximises sum over running guests g of (T / alive_g) x
 * log(IPS_g), alive_g the seconds g runs within the run of T seconds: the
 * stretch's share of each guest's log-progress, so that a guest that lives
 * a minute weighs as much over its minute as one that lives all along does
 * over the run. The reference maximises one guest's IPS with the others
 * away (sim_settle_alone).
 *
 * Search: when a space holds at most HS_EXHAUSTIVE_MAX placements, every
 * one is scored (exhaustive: the true optimum of the space). Otherwise a
 * local search: best-improvement hill climbing over one part's shape at a
 * time, over swaps of two parts' shapes and, once those are spent, over
 * pairs of parts sharing a node moved together to single nodes; from the
 * current placement, then from random restarts (seeded: reproducible),
 * within an evaluation budget. The result is then best-known.
 *
 * The oracle re-places at every event for free and needs no counters and
 * no time to learn; what a policy could reach and it cannot express is
 * only a placement outside its shapes. It is meant as an upper bound, and
 * a test checks that no policy beats it by more than counter noise.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "log.h"
#include "util.h"

#define IMPROVE	1e-7	/* gain of the objective that counts as better */
#define OVERFILL	1e6	/* objective lost per GiB over a node's memory */

enum shape {
	SHAPE_AS_PLACED,
	SHAPE_SPREAD,
	SHAPE_VCPUS,
	SHAPE_PAIR,
	SHAPE_UNEVEN,
	SHAPE_MEM_HERE,
};

/* One way to place one part. */
struct option {
	enum shape shape;
	uint64_t set;		/* SPREAD, VCPUS: the nodes; PAIR, UNEVEN: both */
	int node;		/* PAIR: the vCPUs'; UNEVEN: the one with k vCPUs */
	int k;			/* UNEVEN */
	bool near;		/* PAIR: hot pages with the vCPUs first */
	int tier;		/* 0: the plain shapes, tried first; 1: the rest */
	bool keeps_memory;	/* memory (and hot pages) stay where they are */
	bool keeps_vcpus;	/* every vCPU stays where it is (as option 0) */
	bool solo_ok;		/* set by the guest's totals alone, not by where
				 * it is: the shapes of the reference */
	int *vcpu_node;		/* [part's vCPUs] */
	uint64_t *mem;		/* [part's vnodes][nodes] bytes */
	double *hot;		/* [part's vnodes][nodes] hot bytes */
	uint64_t use[VN_MAX_NODES];	/* its memory per node */
	uint64_t nodes;		/* every node its vCPUs or memory touch */
};

struct oguest;

/* A guest without vNUMA, or one vnode of a vNUMA guest. */
struct part {
	struct oguest *og;
	int g;			/* guest index in the scenario */
	int vnode;		/* -1: all of the guest */
	int v0, nvn;		/* its vnodes: v0 .. v0 + nvn - 1 */
	int nv;			/* its vCPUs */
	int *vcpu;		/* [nv] their numbers in the guest */
	struct option *opt;
	int nr_opt;
	int cur;		/* option applied in the model */
	int best;		/* option of the best assignment so far */
	int single[VN_MAX_NODES];	/* option "node N", or -1 */
};

struct oguest {
	int g;
	bool known;		/* options built */
	bool movable;
	bool arrived;		/* immovable, new in this stretch: rehome() */
	bool memmove;		/* its memory may move */
	bool vcpus_stay;	/* its vCPUs may not (pinned = vcpus) */
	bool live;		/* running in the current stretch */
	struct part *part;
	int nr_part;
	int *vcpu_node;		/* the assembled placement, for sim_place */
	uint64_t *mem;
	double *hot;
	double weight;		/* T / alive */
	int workload;		/* reference: the one solo was found for */
	double solo;		/* reference: instructions/s alone, best placed */
};

struct oracle {
	struct sim *s;
	const struct hs_opts *o;
	int nn, ng;
	uint64_t cap[VN_MAX_NODES];	/* memory guests may use, per node */
	uint64_t fixed[VN_MAX_NODES];	/* of guests it may not move */
	uint64_t usage[VN_MAX_NODES];	/* of the parts searched, as applied */
	uint64_t sets[4 * VN_MAX_NODES];	/* of CPU nodes */
	int nr_sets;
	uint64_t cpu_nodes;
	struct oguest *all;	/* [ng] */
	struct part **live;	/* the parts of this search */
	int n, cap_live;
	int alone;		/* the guest searched alone, or -1 */
	long evals;		/* in this search */
	long budget;
	struct vn_rng rng;
	double duration;
};

static int popcount(uint64_t m)
{
	return __builtin_popcountll(m);
}

/*
 * Whether option k of part p may be used in this search: alone (the
 * reference) only the shapes its totals set; together, for a guest whose
 * memory cannot move, only those that leave it in place, and for one whose
 * vCPUs cannot, only those that leave them.
 */
static bool usable(const struct oracle *or, const struct part *p, int k)
{
	if (or->alone >= 0)
		return p->opt[k].solo_ok;
	if (p->og->vcpus_stay && !p->opt[k].keeps_vcpus)
		return false;
	return p->og->memmove || p->opt[k].keeps_memory;
}

/* The first usable option of part p from k on, or nr_opt. */
static int next_usable(const struct oracle *or, const struct part *p, int k)
{
	while (k < p->nr_opt && !usable(or, p, k))
		k++;
	return k;
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

/* Nodes by distance from a, ties in cyclic order after a; returns how many. */
static int by_distance(const struct oracle *or, int a, uint64_t among, int *order)
{
	int k = 0;

	for (int i = 0; i < or->nn; i++) {
		int n = (a + i) % or->nn;

		if (among >> n & 1)
			order[k++] = n;
	}
	for (int i = 1; i < k; i++)
		for (int j = i; j > 0 && sim_distance(or->s, a, order[j]) <
		     sim_distance(or->s, a, order[j - 1]); j--) {
			int t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	return k;
}

/* CPU nodes alone, the k nearest CPU nodes of each for k = 2, 4, ..., all. */
static void make_sets(struct oracle *or)
{
	int nc = popcount(or->cpu_nodes);

	for (int a = 0; a < or->nn; a++)
		if (or->cpu_nodes >> a & 1)
			add_set(or, 1ULL << a);
	for (int k = 2; k < nc; k *= 2) {
		for (int a = 0; a < or->nn; a++) {
			int order[VN_MAX_NODES];
			uint64_t m = 0;

			if (!(or->cpu_nodes >> a & 1))
				continue;
			by_distance(or, a, or->cpu_nodes, order);
			for (int i = 0; i < k; i++)
				m |= 1ULL << order[i];
			add_set(or, m);
		}
	}
	if (nc > 1)
		add_set(or, or->cpu_nodes);
}

/* Splits `bytes` in pages over nodes by weight, largest remainders first. */
static void split_pages(const struct oracle *or, uint64_t bytes, const double *w,
			uint64_t *row)
{
	uint64_t page = sim_page_size(or->s), pages = bytes / page, given = 0;
	double sum = 0, frac[VN_MAX_NODES];

	for (int n = 0; n < or->nn; n++)
		sum += w[n];
	for (int n = 0; n < or->nn; n++) {
		double x = sum > 0 ? (double)pages * w[n] / sum : 0;
		uint64_t p = (uint64_t)floor(x);

		row[n] = p * page;
		frac[n] = w[n] > 0 ? x - (double)p : -1;
		given += p;
	}
	while (given < pages) {
		int best = 0;

		for (int n = 1; n < or->nn; n++)
			if (frac[n] > frac[best])
				best = n;
		row[best] += page;
		frac[best] = -1;
		given++;
	}
}

/* Hot bytes of one vnode row spread like its memory. */
static void hot_spread(const struct oracle *or, double h, const uint64_t *mem,
		       double *hot)
{
	for (int n = 0; n < or->nn; n++)
		hot[n] = h * (double)mem[n];
}

/*
 * Hot bytes of one vnode row where its vCPUs run first (count[n] of them on
 * node n), within what each node holds of it; the rest over the other
 * pages. Hot pages are the ones touched: nearest to their users is best
 * for latency.
 */
static void hot_near(const struct oracle *or, double h, const uint64_t *mem,
		     const int *count, double *hot)
{
	double total = 0, want, left, room = 0, users = 0;

	for (int n = 0; n < or->nn; n++) {
		total += (double)mem[n];
		users += count[n];
		hot[n] = 0;
	}
	want = h * total;
	left = want;
	/* proportional to the vCPUs, each node capped by its share of the row */
	for (int pass = 0; pass < 2 && left > 1e-6 * want && users > 0; pass++) {
		double w = 0;

		for (int n = 0; n < or->nn; n++)
			if (count[n] && hot[n] < (double)mem[n])
				w += count[n];
		if (w <= 0)
			break;
		for (int n = 0; n < or->nn; n++)
			if (count[n] && hot[n] < (double)mem[n])
				hot[n] += MIN(left * count[n] / w,
					      (double)mem[n] - hot[n]);
		left = want;
		for (int n = 0; n < or->nn; n++)
			left -= hot[n];
	}
	for (int n = 0; n < or->nn; n++)
		room += (double)mem[n] - hot[n];
	for (int n = 0; left > 0 && room > 0 && n < or->nn; n++)
		hot[n] += left * ((double)mem[n] - hot[n]) / room;
}

static struct option *new_option(struct part *p, int nn, enum shape shape)
{
	struct option *op;

	p->opt = xreallocarray(p->opt, p->nr_opt + 1, sizeof(*p->opt));
	op = &p->opt[p->nr_opt++];
	memset(op, 0, sizeof(*op));
	op->shape = shape;
	op->node = -1;
	op->vcpu_node = xcalloc(p->nv + 1, sizeof(int));
	op->mem = xcalloc((size_t)p->nvn * nn, sizeof(uint64_t));
	op->hot = xcalloc((size_t)p->nvn * nn, sizeof(double));
	return op;
}

/* The part's memory and hot pages where they are now. */
static void current_memory(const struct oracle *or, const struct part *p,
			   struct option *op)
{
	for (int k = 0; k < p->nvn; k++)
		for (int n = 0; n < or->nn; n++) {
			op->mem[k * or->nn + n] =
				sim_guest_vnode_mem(or->s, p->g, p->v0 + k, n);
			op->hot[k * or->nn + n] =
				sim_guest_vnode_hot(or->s, p->g, p->v0 + k, n);
		}
}

/* Memory per node of an option, and the nodes it touches. */
static void finish_option(const struct oracle *or, const struct part *p,
			  struct option *op)
{
	op->tier = op->shape == SHAPE_AS_PLACED || op->shape == SHAPE_SPREAD ||
		   op->shape == SHAPE_MEM_HERE ||
		   (op->shape == SHAPE_VCPUS && popcount(op->set) == 1) ? 0 : 1;
	op->keeps_memory = op->shape == SHAPE_AS_PLACED || op->shape == SHAPE_VCPUS ||
			   (op->shape == SHAPE_UNEVEN && !op->near);
	op->solo_ok = op->shape == SHAPE_SPREAD || op->shape == SHAPE_PAIR ||
		      (op->shape == SHAPE_UNEVEN && op->near);
	/* option 0 is the part as placed */
	op->keeps_vcpus = true;
	for (int i = 0; i < p->nv; i++)
		op->keeps_vcpus &= op->vcpu_node[i] == p->opt[0].vcpu_node[i];
	op->nodes = 0;
	for (int i = 0; i < p->nv; i++)
		op->nodes |= 1ULL << op->vcpu_node[i];
	for (int n = 0; n < or->nn; n++) {
		op->use[n] = 0;
		for (int k = 0; k < p->nvn; k++)
			op->use[n] += op->mem[k * or->nn + n];
		if (op->use[n])
			op->nodes |= 1ULL << n;
	}
}

/* The vnode (within the part) of the part's i-th vCPU. */
static int part_vnode(const struct oracle *or, const struct part *p, int i)
{
	return sim_vcpu_vnode(or->s, p->g, p->vcpu[i]) - p->v0;
}

/*
 * Memory of every vnode of the part with its vCPUs: each row split in
 * proportion to where that vnode's vCPUs are; hot pages with them.
 */
static void memory_with_vcpus(const struct oracle *or, const struct part *p,
			      struct option *op, bool near)
{
	int nn = or->nn;
	double h = sim_guest_hot(or->s, p->g);

	for (int k = 0; k < p->nvn; k++) {
		double w[VN_MAX_NODES] = { 0 };
		int count[VN_MAX_NODES] = { 0 };
		uint64_t bytes = sim_guest_vnode_mem(or->s, p->g, p->v0 + k, -1);

		for (int i = 0; i < p->nv; i++)
			if (part_vnode(or, p, i) == k) {
				w[op->vcpu_node[i]] += 1;
				count[op->vcpu_node[i]]++;
			}
		split_pages(or, bytes, w, &op->mem[k * nn]);
		if (near)
			hot_near(or, h, &op->mem[k * nn], count, &op->hot[k * nn]);
		else
			hot_spread(or, h, &op->mem[k * nn], &op->hot[k * nn]);
	}
}

/* vCPUs evenly over a set, in order (a vnode's vCPUs stay together). */
static void vcpus_over(const struct part *p, uint64_t set, struct option *op)
{
	int k = popcount(set);

	for (int i = 0; i < p->nv; i++)
		op->vcpu_node[i] = nth_node(set, (int)((long)i * k / p->nv));
}

/*
 * vCPUs k on node a and the rest on b, for k over a grid (every k for a
 * part of up to 8 vCPUs, else eighths), memory with them or staying.
 */
static void uneven(struct oracle *or, struct part *p, int a, int b)
{
	int last = -1;

	for (int j = 1; j < (p->nv <= 8 ? p->nv : 8); j++) {
		int k = p->nv <= 8 ? j : (int)lround(p->nv * j / 8.0);

		if (k <= 0 || k >= p->nv || k == last)
			continue;
		last = k;
		for (int stay = 0; stay < 2; stay++) {
			struct option *op = new_option(p, or->nn, SHAPE_UNEVEN);

			op->set = 1ULL << a | 1ULL << b;
			op->node = a;
			op->k = k;
			op->near = !stay;
			for (int i = 0; i < p->nv; i++)
				op->vcpu_node[i] = i < k ? a : b;
			if (stay)
				current_memory(or, p, op);
			else
				memory_with_vcpus(or, p, op, true);
			finish_option(or, p, op);
		}
	}
}

/* The options of a part, built when its guest is first seen running. */
static void make_options(struct oracle *or, struct part *p)
{
	const struct sim *s = or->s;
	int nn = or->nn;
	double h = sim_guest_hot(s, p->g);
	struct option *op;

	for (int n = 0; n < VN_MAX_NODES; n++)
		p->single[n] = -1;
	op = new_option(p, nn, SHAPE_AS_PLACED);
	for (int i = 0; i < p->nv; i++)
		op->vcpu_node[i] = sim_vcpu_node(s, p->g, p->vcpu[i]);
	current_memory(or, p, op);
	finish_option(or, p, op);

	for (int i = 0; i < or->nr_sets; i++) {
		uint64_t set = or->sets[i];

		if (popcount(set) > p->nv)
			continue;
		op = new_option(p, nn, SHAPE_SPREAD);
		op->set = set;
		vcpus_over(p, set, op);
		memory_with_vcpus(or, p, op, false);
		finish_option(or, p, op);
		if (popcount(set) == 1)
			p->single[nth_node(set, 0)] = p->nr_opt - 1;
		op = new_option(p, nn, SHAPE_VCPUS);
		op->set = set;
		vcpus_over(p, set, op);
		current_memory(or, p, op);
		finish_option(or, p, op);
	}
	/* uneven splits between each CPU node and its nearest CPU node */
	for (int a = 0; a < nn && p->nv >= 2; a++) {
		int order[VN_MAX_NODES];

		if ((or->cpu_nodes >> a & 1) &&
		    by_distance(or, a, or->cpu_nodes & ~(1ULL << a), order) > 0)
			uneven(or, p, a, order[0]);
	}
	op = new_option(p, nn, SHAPE_MEM_HERE);
	for (int i = 0; i < p->nv; i++)
		op->vcpu_node[i] = sim_vcpu_node(s, p->g, p->vcpu[i]);
	memory_with_vcpus(or, p, op, true);
	finish_option(or, p, op);

	for (int a = 0; a < nn; a++) {
		int order[VN_MAX_NODES], nb;

		if (!(or->cpu_nodes >> a & 1))
			continue;
		/* memory over a and one of the nearest others (any node) */
		nb = by_distance(or, a, (nn == 64 ? ~0ULL : (1ULL << nn) - 1) & ~(1ULL << a),
				 order);
		for (int j = 0; j < nb && j < 3; j++) {
			int b = order[j];
			uint64_t set = 1ULL << a | 1ULL << b;

			for (int near = 0; near < 2; near++) {
				if (near && h >= 1)
					continue;	/* every page is hot */
				op = new_option(p, nn, SHAPE_PAIR);
				op->set = set;
				op->node = a;
				op->near = near;
				for (int i = 0; i < p->nv; i++)
					op->vcpu_node[i] = a;
				for (int k = 0; k < p->nvn; k++) {
					double w[VN_MAX_NODES] = { 0 };
					int count[VN_MAX_NODES] = { 0 };
					uint64_t bytes = sim_guest_vnode_mem(s, p->g, p->v0 + k, -1);

					w[a] = w[b] = 1;
					count[a] = 1;
					split_pages(or, bytes, w, &op->mem[k * nn]);
					if (near)
						hot_near(or, h, &op->mem[k * nn], count,
							 &op->hot[k * nn]);
					else
						hot_spread(or, h, &op->mem[k * nn],
							   &op->hot[k * nn]);
				}
				finish_option(or, p, op);
			}
		}
	}
}

static void option_label(const struct option *op, char *buf, size_t len)
{
	char a[64];

	fmt_nodemask(a, sizeof(a), op->set);
	switch (op->shape) {
	case SHAPE_AS_PLACED:
		snprintf(buf, len, "as placed");
		break;
	case SHAPE_SPREAD:
		snprintf(buf, len, "%s %s", popcount(op->set) > 1 ? "nodes" : "node", a);
		break;
	case SHAPE_VCPUS:
		snprintf(buf, len, "vCPUs on %s %s, memory stays",
			 popcount(op->set) > 1 ? "nodes" : "node", a);
		break;
	case SHAPE_PAIR:
		snprintf(buf, len, "vCPUs node %d, memory nodes %s%s", op->node, a,
			 op->near ? ", hot pages near" : ", interleaved");
		break;
	case SHAPE_UNEVEN:
		snprintf(buf, len, "%d vCPUs on node %d, the rest on the other of %s, "
			 "memory %s", op->k, op->node, a, op->near ? "alike" : "stays");
		break;
	case SHAPE_MEM_HERE:
		snprintf(buf, len, "vCPUs stay, memory to them");
		break;
	}
}

static void free_guest(struct oguest *og)
{
	for (int j = 0; j < og->nr_part; j++) {
		struct part *p = &og->part[j];

		for (int i = 0; i < p->nr_opt; i++) {
			free(p->opt[i].vcpu_node);
			free(p->opt[i].mem);
			free(p->opt[i].hot);
		}
		free(p->opt);
		free(p->vcpu);
	}
	free(og->part);
	free(og->vcpu_node);
	free(og->mem);
	free(og->hot);
	og->part = NULL;
	og->vcpu_node = NULL;
	og->mem = NULL;
	og->hot = NULL;
	og->nr_part = 0;
}

/* Splits a guest into its parts and builds their options. */
static void know_guest(struct oracle *or, struct oguest *og)
{
	const struct sim *s = or->s;
	int g = og->g, nv = sim_guest_vcpus(s, g), nvn = sim_guest_vnodes(s, g);
	og->known = true;
	og->memmove = !(sim_guest_flags(s, g) & VNUMAD_GUEST_NO_MEMMOVE);
	og->vcpus_stay = (sim_guest_flags(s, g) & VNUMAD_GUEST_PINNED) != 0;
	og->nr_part = nvn > 1 ? nvn : 1;
	og->part = xcalloc(og->nr_part, sizeof(*og->part));
	og->vcpu_node = xcalloc(nv + 1, sizeof(int));
	og->mem = xcalloc((size_t)nvn * or->nn, sizeof(uint64_t));
	og->hot = xcalloc((size_t)nvn * or->nn, sizeof(double));
	for (int v = 0; v < nv; v++)
		og->vcpu_node[v] = sim_vcpu_node(s, g, v);
	for (int k = 0; k < nvn; k++)
		for (int n = 0; n < or->nn; n++) {
			og->mem[k * or->nn + n] = sim_guest_vnode_mem(s, g, k, n);
			og->hot[k * or->nn + n] = sim_guest_vnode_hot(s, g, k, n);
		}
	for (int j = 0; j < og->nr_part; j++) {
		struct part *p = &og->part[j];

		p->g = g;
		p->vnode = nvn > 1 ? j : -1;
		p->v0 = nvn > 1 ? j : 0;
		p->nvn = nvn > 1 ? 1 : nvn;
		p->vcpu = xcalloc(nv + 1, sizeof(int));
		for (int v = 0; v < nv; v++)
			if (nvn <= 1 || sim_vcpu_vnode(s, g, v) == j)
				p->vcpu[p->nv++] = v;
		p->og = og;
		make_options(or, p);
		p->cur = p->best = 0;
	}
}

/* Puts part p in option k in the model. */
static void apply(struct oracle *or, struct part *p, int k)
{
	const struct option *was = &p->opt[p->cur], *op = &p->opt[k];
	struct oguest *og = &or->all[p->g];
	int nn = or->nn;

	if (p->cur == k)
		return;
	for (int n = 0; n < nn; n++)
		or->usage[n] += op->use[n] - was->use[n];
	for (int i = 0; i < p->nv; i++)
		og->vcpu_node[p->vcpu[i]] = op->vcpu_node[i];
	memcpy(&og->mem[p->v0 * nn], op->mem, (size_t)p->nvn * nn * sizeof(uint64_t));
	memcpy(&og->hot[p->v0 * nn], op->hot, (size_t)p->nvn * nn * sizeof(double));
	if (sim_place(or->s, p->g, og->vcpu_node, og->mem, og->hot) < 0)
		fatalx("oracle: %s: a placement the model refuses",
		       sim_guest_name(or->s, p->g));
	p->cur = k;
}

/*
 * What the search maximises: alone, the guest's own instructions per
 * second (its log); together, the score's share of this stretch. An
 * assignment that overfills a node (only a start can: rehome() puts an
 * immovable arrival where it wants to be before the others make room) is
 * worth less than any that fits, and less the more it overfills, so that
 * the climb's first steps are the ones that make room.
 */
static double objective(struct oracle *or)
{
	double v = 0, over = 0;

	or->evals++;
	if (or->alone >= 0)
		return log(MAX(sim_settle_alone(or->s, or->alone), 1e-300));
	sim_settle(or->s);
	for (int g = 0; g < or->ng; g++)
		if (sim_guest_alive(or->s, g))
			v += or->all[g].weight * log(MAX(sim_guest_ips(or->s, g), 1e-300));
	for (int n = 0; n < or->nn; n++)
		if (or->fixed[n] + or->usage[n] > or->cap[n])
			over += (double)(or->fixed[n] + or->usage[n] - or->cap[n]);
	return over > 0 ? v - OVERFILL * (1 + over / (double)GiB) : v;
}

/*
 * Whether moving part p to option k keeps every node within its memory
 * (or, for a node over it, does not add to it).
 */
static bool fits(const struct oracle *or, const struct part *p, int k)
{
	const struct option *was = &p->opt[p->cur], *op = &p->opt[k];

	/* a node already over (a start after rehome()) may only shrink */
	for (int n = 0; n < or->nn; n++) {
		uint64_t before = or->fixed[n] + or->usage[n];
		uint64_t after = before - was->use[n] + op->use[n];

		if (after > or->cap[n] && after > before)
			return false;
	}
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

/* Every usable assignment, in odometer order: few parts change between two. */
static double exhaustive(struct oracle *or)
{
	int n = or->n, *k = xcalloc(n + 1, sizeof(int));
	double best = -INFINITY;

	for (int i = 0; i < n; i++) {
		k[i] = next_usable(or, or->live[i], 0);
		if (k[i] == or->live[i]->nr_opt) {
			free(k);
			return best;	/* a part with nothing usable */
		}
		apply(or, or->live[i], k[i]);
	}
	for (;;) {
		int i = 0;

		if (all_fit(or)) {
			double v = objective(or);

			if (v > best + IMPROVE) {
				best = v;
				keep_best(or);
			}
		}
		while (i < n && (k[i] = next_usable(or, or->live[i], k[i] + 1)) ==
		       or->live[i]->nr_opt) {
			k[i] = next_usable(or, or->live[i], 0);
			apply(or, or->live[i], k[i]);
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

static bool same_shape(const struct option *a, const struct option *b)
{
	return a->shape == b->shape && a->set == b->set && a->node == b->node &&
	       a->k == b->k && a->near == b->near;
}

/* The option of a part with the shape of `like`, or -1. */
static int find_option(const struct part *p, const struct option *like)
{
	for (int k = 0; k < p->nr_opt; k++)
		if (same_shape(&p->opt[k], like))
			return k;
	return -1;
}

/* Best-improvement moves of one part within a tier; returns the new value. */
static double climb_part(struct oracle *or, struct part *p, double v, int tier,
			 bool *improved)
{
	int start = p->cur, best = start;
	double bv = v;

	for (int k = 0; k < p->nr_opt && or->evals < or->budget; k++) {
		double x;

		if (k == start || p->opt[k].tier > tier || !usable(or, p, k) ||
		    !fits(or, p, k))
			continue;
		apply(or, p, k);
		x = objective(or);
		if (x > bv + IMPROVE) {
			bv = x;
			best = k;
		}
	}
	apply(or, p, best);
	if (best != start)
		*improved = true;
	return bv;
}

/* Two parts exchange their shapes, when both have the other's. */
static double try_swap(struct oracle *or, struct part *a, struct part *b,
		       double v, bool *improved)
{
	const struct option *oa = &a->opt[a->cur], *ob = &b->opt[b->cur];
	int ka, kb, was_a = a->cur, was_b = b->cur;
	double x;

	if (oa->shape == SHAPE_AS_PLACED || ob->shape == SHAPE_AS_PLACED ||
	    oa->shape == SHAPE_MEM_HERE || ob->shape == SHAPE_MEM_HERE ||
	    same_shape(oa, ob))
		return v;
	ka = find_option(a, ob);
	kb = find_option(b, oa);
	if (ka < 0 || kb < 0 || !usable(or, a, ka) || !usable(or, b, kb))
		return v;
	apply(or, a, ka);
	apply(or, b, kb);
	if (all_fit(or)) {
		x = objective(or);
		if (x > v + IMPROVE) {
			*improved = true;
			return x;
		}
	}
	apply(or, a, was_a);
	apply(or, b, was_b);
	return v;
}

/*
 * Two parts that share a node both move, each to a single node, all pairs
 * of nodes tried: the way out of a local optimum where each spread itself
 * over the other's nodes (two streamers interleaved over the same idle
 * pair instead of one on each node) and neither gains by moving alone.
 */
static double try_pair(struct oracle *or, struct part *a, struct part *b,
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

			if (ka < 0 || kb < 0 || (ka == was_a && kb == was_b) ||
			    !usable(or, a, ka) || !usable(or, b, kb))
				continue;
			apply(or, a, ka);
			apply(or, b, kb);
			if (!all_fit(or))
				continue;
			val = objective(or);
			if (val > best + IMPROVE) {
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

/*
 * Hill climbing from the assignment in the model, to a local optimum of
 * every neighbourhood: one part's plain shapes and swaps first, then one
 * part's every shape, then pairs of parts; after any gain, back to the
 * cheap ones.
 */
static double climb(struct oracle *or, double v)
{
	int n = or->n, *order = xcalloc(n + 1, sizeof(int)), tier = 0;
	bool improved;

	for (int i = 0; i < n; i++)
		order[i] = i;
	while (or->evals < or->budget) {
		improved = false;
		shuffle(or, order, n);
		for (int i = 0; i < n && or->evals < or->budget; i++)
			v = climb_part(or, or->live[order[i]], v, tier, &improved);
		for (int i = 0; i < n && or->evals < or->budget; i++)
			for (int j = i + 1; j < n && or->evals < or->budget; j++)
				v = try_swap(or, or->live[order[i]],
					     or->live[order[j]], v, &improved);
		if (improved) {
			tier = 0;
			continue;
		}
		if (tier == 0) {
			tier = 1;
			continue;
		}
		for (int i = 0; i < n && !improved && or->evals < or->budget; i++)
			for (int j = i + 1; j < n && or->evals < or->budget; j++)
				v = try_pair(or, or->live[order[i]],
					     or->live[order[j]], v, &improved);
		if (!improved)
			break;
		tier = 0;
	}
	free(order);
	return v;
}

/*
 * A kick from the best assignment (iterated local search): a fifth of the
 * parts, at least one, to random plain shapes that fit. False when none of
 * them could move.
 */
static bool perturb(struct oracle *or)
{
	int n = or->n, k = MAX(1, n / 5), moved = 0;

	for (int i = 0; i < n; i++)
		apply(or, or->live[i], or->live[i]->best);
	for (int j = 0; j < k; j++) {
		struct part *p = or->live[rng_next(&or->rng) % (uint64_t)n];

		for (int tries = 0; tries < 2 * p->nr_opt; tries++) {
			int o = (int)(rng_next(&or->rng) % (uint64_t)p->nr_opt);

			if (o != p->cur && p->opt[o].tier == 0 && usable(or, p, o) &&
			    fits(or, p, o)) {
				apply(or, p, o);
				moved++;
				break;
			}
		}
	}
	return moved > 0;
}

static double local_search(struct oracle *or, int restarts)
{
	double best, v;

	best = climb(or, objective(or));
	keep_best(or);
	for (int r = 1; r < restarts && or->evals < or->budget; r++) {
		if (!perturb(or))
			continue;
		v = climb(or, objective(or));
		if (v > best + IMPROVE) {
			best = v;
			keep_best(or);
		}
	}
	return best;
}

/* Placements in the space, capped at limit + 1. */
static long space_size(const struct oracle *or, long limit)
{
	long size = 1;

	for (int i = 0; i < or->n; i++) {
		const struct part *p = or->live[i];
		long k = 0;

		for (int o = 0; o < p->nr_opt; o++)
			k += usable(or, p, o);
		size *= MAX(k, 1);
		if (size > limit)
			return limit + 1;
	}
	return size;
}

/*
 * Searches the parts in or->live; leaves each at its best. True: exhaustive.
 * The first search of a run starts from the scenario's placement and kicks
 * it `restarts` times; later ones start from the previous stretch's answer,
 * which is mostly right already, and kick it a quarter as often.
 */
static bool search(struct oracle *or, bool first)
{
	long limit = or->o->oracle_exhaustive > 0 ? or->o->oracle_exhaustive :
		     HS_EXHAUSTIVE_MAX, size;
	int restarts = or->o->oracle_restarts > 0 ? or->o->oracle_restarts :
		       HS_ORACLE_RESTARTS;
	bool exact;

	/* alone, one guest's shapes: a small budget is plenty */
	if (or->alone >= 0)
		limit = MIN(limit, 5000);
	size = space_size(or, limit);
	exact = size <= limit;
	or->evals = 0;
	or->budget = exact ? limit + 1 : or->o->oracle_budget > 0 ?
		     or->o->oracle_budget : HS_ORACLE_BUDGET;
	if (exact)
		exhaustive(or);
	else
		local_search(or, first ? restarts : MAX(2, (restarts + 3) / 4));
	for (int i = 0; i < or->n; i++)
		apply(or, or->live[i], or->live[i]->best);
	return exact;
}

static void add_live(struct oracle *or, struct part *p)
{
	if (or->n == or->cap_live) {
		or->cap_live = or->cap_live ? 2 * or->cap_live : 64;
		or->live = xreallocarray(or->live, or->cap_live, sizeof(*or->live));
	}
	or->live[or->n++] = p;
}

/* The running guests of this stretch; new ones split into parts. */
static void gather(struct oracle *or)
{
	struct sim *s = or->s;

	or->n = 0;
	memset(or->fixed, 0, sizeof(or->fixed));
	memset(or->usage, 0, sizeof(or->usage));
	for (int g = 0; g < or->ng; g++) {
		struct oguest *og = &or->all[g];

		og->live = sim_guest_alive(s, g);
		if (!og->live) {
			if (og->known)
				free_guest(og);	/* gone: it will not come back */
			continue;
		}
		if (!og->known) {
			unsigned f = sim_guest_flags(s, g);

			/* pinned = vcpus: its memory may still be placed, where
			 * it can move at all (else it is immovable, and rehomed) */
			og->movable = !(f & VNUMAD_GUEST_OPTED_OUT) &&
				      (!(f & VNUMAD_GUEST_PINNED) ||
				       ((f & VNUMAD_GUEST_MEMORY_FREE) &&
					!(f & VNUMAD_GUEST_NO_MEMMOVE)));
			og->arrived = !og->movable;
			know_guest(or, og);
		}
		if (!og->movable) {
			for (int n = 0; n < or->nn; n++)
				or->fixed[n] += sim_guest_mem(s, g, n);
			continue;
		}
		/* memory does not move between stretches */
		for (int j = 0; j < og->nr_part; j++) {
			struct part *p = &og->part[j];

			for (int n = 0; n < or->nn; n++)
				or->usage[n] += p->opt[p->cur].use[n];
			add_live(or, p);
		}
	}
}

/*
 * A guest nobody may move lands where first touch finds room, which the
 * placement of the stretch before decided: a pinned guest arriving on a
 * node the oracle had filled would be remote for good. The oracle
 * re-places for free at events, so it may as well have made room the
 * moment before: the new immovable guests of this stretch are put where
 * first touch would put them on an empty host and counted there as fixed,
 * and the search must fit the others around them; either_landing() weighs
 * that against leaving them where they landed. Their landed placement is
 * kept in *landed (one array per guest, NULL for the others) for
 * unrehome(). Returns how many were rehomed.
 */
static int rehome(struct oracle *or, uint64_t **landed)
{
	struct sim *s = or->s;
	int nn = or->nn, done = 0;

	for (int g = 0; g < or->ng; g++) {
		struct oguest *og = &or->all[g];
		int nvn = sim_guest_vnodes(s, g);
		uint64_t *wish;

		landed[g] = NULL;
		if (!og->arrived || !og->live)
			continue;
		og->arrived = false;
		wish = xcalloc((size_t)nvn * nn, sizeof(*wish));
		landed[g] = xcalloc((size_t)nvn * nn, sizeof(*wish));
		sim_guest_first_touch(s, g, wish);
		for (int v = 0; v < nvn; v++)
			for (int n = 0; n < nn; n++)
				landed[g][v * nn + n] = sim_guest_vnode_mem(s, g, v, n);
		if (!memcmp(wish, landed[g], (size_t)nvn * nn * sizeof(*wish)) ||
		    sim_place(s, g, NULL, wish, NULL) < 0) {
			free(landed[g]);
			landed[g] = NULL;
		} else {
			for (int v = 0; v < nvn; v++)
				for (int n = 0; n < nn; n++)
					or->fixed[n] += wish[v * nn + n] - landed[g][v * nn + n];
			done++;
		}
		free(wish);
	}
	return done;
}

/* Puts the rehomed guests back where they landed (no room was found). */
static void unrehome(struct oracle *or, uint64_t **landed)
{
	for (int g = 0; g < or->ng; g++)
		if (landed[g] && sim_place(or->s, g, NULL, landed[g], NULL) < 0)
			fatalx("oracle: %s: cannot put it back", sim_guest_name(or->s, g));
}

/*
 * After rehome(): searches the placement around the arrivals where they
 * want to be, then around where they landed, and keeps the better one
 * (one that fits beats one that does not). Both are within the oracle's
 * means: it re-places for free at the event, so it may or may not make
 * room the moment before. Returns whether the kept search was exhaustive.
 */
static bool either_landing(struct oracle *or, uint64_t **landed, bool first)
{
	int ng = or->ng, n, *keep;
	uint64_t **wish = xcalloc(ng + 1, sizeof(*wish));
	bool exact_wish, exact, fit_wish;
	double v_wish, v;
	long evals;

	exact_wish = search(or, first);
	fit_wish = all_fit(or);
	v_wish = objective(or);
	evals = or->evals;
	n = or->n;
	keep = xcalloc(n + 1, sizeof(int));
	for (int i = 0; i < n; i++)
		keep[i] = or->live[i]->cur;
	for (int g = 0; g < ng; g++) {
		int nvn = sim_guest_vnodes(or->s, g);

		if (!landed[g])
			continue;
		wish[g] = xcalloc((size_t)nvn * or->nn, sizeof(uint64_t));
		for (int k = 0; k < nvn; k++)
			for (int m = 0; m < or->nn; m++)
				wish[g][k * or->nn + m] = sim_guest_vnode_mem(or->s, g, k, m);
	}
	unrehome(or, landed);
	gather(or);
	exact = search(or, first);
	v = objective(or);
	or->evals += evals;
	if (fit_wish && (v_wish > v + IMPROVE || !all_fit(or))) {
		for (int g = 0; g < ng; g++)
			if (wish[g] && sim_place(or->s, g, NULL, wish[g], NULL) < 0)
				fatalx("oracle: %s: cannot put it back",
				       sim_guest_name(or->s, g));
		gather(or);
		if (or->n != n)
			fatalx("oracle: the stretch's parts changed");
		for (int i = 0; i < n; i++) {
			apply(or, or->live[i], keep[i]);
			or->live[i]->best = keep[i];
		}
		exact = exact_wish;
	}
	for (int g = 0; g < ng; g++)
		free(wish[g]);
	free(wish);
	free(keep);
	return exact;
}

/*
 * The reference of guest g: its instructions per second alone on the
 * host, best placed over the shapes its totals set (nodes S, pairs, uneven
 * splits with their memory): not where it happens to be, so that the
 * reference is the same in every run of the scenario, and the same for a
 * guest that is pinned, opted out or cannot have its memory moved. The
 * guest is put back as it was, affinity included.
 */
static double solo(struct oracle *or, struct oguest *og)
{
	struct part **live = or->live;
	int n = or->n, cap = or->cap_live, g = og->g, nv = sim_guest_vcpus(or->s, g);
	int nvn = sim_guest_vnodes(or->s, g), nn = or->nn, *was, *node;
	uint64_t fixed[VN_MAX_NODES], usage[VN_MAX_NODES], *allowed, *mem;
	double v, *hot;

	memcpy(fixed, or->fixed, sizeof(fixed));
	memcpy(usage, or->usage, sizeof(usage));
	was = xcalloc(og->nr_part + 1, sizeof(int));
	node = xcalloc(nv + 1, sizeof(int));
	allowed = xcalloc(nv + 1, sizeof(uint64_t));
	mem = xcalloc((size_t)nvn * nn, sizeof(uint64_t));
	hot = xcalloc((size_t)nvn * nn, sizeof(double));
	for (int i = 0; i < nv; i++) {
		node[i] = sim_vcpu_node(or->s, g, i);
		allowed[i] = sim_vcpu_allowed(or->s, g, i);
	}
	for (int k = 0; k < nvn; k++)
		for (int m = 0; m < nn; m++) {
			mem[k * nn + m] = sim_guest_vnode_mem(or->s, g, k, m);
			hot[k * nn + m] = sim_guest_vnode_hot(or->s, g, k, m);
		}
	or->live = NULL;
	or->n = or->cap_live = 0;
	memset(or->fixed, 0, sizeof(or->fixed));
	memset(or->usage, 0, sizeof(or->usage));
	or->alone = g;
	for (int j = 0; j < og->nr_part; j++) {
		struct part *p = &og->part[j];

		was[j] = p->cur;
		for (int k = 0; k < nn; k++)
			or->usage[k] += p->opt[p->cur].use[k];
		add_live(or, p);
	}
	/* from shapes of the reference only: each part's first that fits */
	for (int j = 0; j < og->nr_part; j++) {
		struct part *p = &og->part[j];

		for (int k = next_usable(or, p, 0); k < p->nr_opt;
		     k = next_usable(or, p, k + 1))
			if (fits(or, p, k)) {
				apply(or, p, k);
				break;
			}
	}
	search(or, true);
	v = sim_settle_alone(or->s, g);
	or->alone = -1;
	/* back as it was: the parts' options, the assembled arrays, the model */
	for (int j = 0; j < og->nr_part; j++)
		og->part[j].cur = was[j];
	memcpy(og->vcpu_node, node, nv * sizeof(int));
	memcpy(og->mem, mem, (size_t)nvn * nn * sizeof(uint64_t));
	memcpy(og->hot, hot, (size_t)nvn * nn * sizeof(double));
	if (sim_place(or->s, g, node, mem, hot) == 0)
		for (int i = 0; i < nv; i++)
			sim_set_allowed(or->s, g, i, allowed[i]);
	free(or->live);
	free(was);
	free(node);
	free(allowed);
	free(mem);
	free(hot);
	or->live = live;
	or->n = n;
	or->cap_live = cap;
	memcpy(or->fixed, fixed, sizeof(fixed));
	memcpy(or->usage, usage, sizeof(usage));
	return v;
}

static void print_placement(const struct oracle *or, double from, double to,
			    double v, long evals, bool exact)
{
	char a[32], b[32], lab[512];

	fprintf(stderr, "oracle: %s to %s: %.4g instructions/s, %s (%ld evaluations)\n",
		fmt_elapsed(a, sizeof(a), from), fmt_elapsed(b, sizeof(b), to), v,
		exact ? "exhaustive" : "best-known", evals);
	for (int i = 0; i < or->n; i++) {
		const struct part *p = or->live[i];
		char who[96];

		if (p->vnode >= 0)
			snprintf(who, sizeof(who), "%s/vnode %d", sim_guest_name(or->s, p->g),
				 p->vnode);
		else
			snprintf(who, sizeof(who), "%s", sim_guest_name(or->s, p->g));
		option_label(&p->opt[p->best], lab, sizeof(lab));
		fprintf(stderr, "  %-24s %s\n", who, lab);
	}
}

/* Each guest's weight: the run's length over the time it runs in the run. */
static void weigh(struct oracle *or)
{
	for (int g = 0; g < or->ng; g++) {
		double start, stop, alive;

		sim_guest_span(or->s, g, &start, &stop);
		if (stop < 0 || stop > or->duration)
			stop = or->duration;
		alive = stop - start;
		or->all[g].weight = alive > 1e-9 ? or->duration / alive : 0;
	}
}

void hs_reference_free(struct hs_reference *ref)
{
	free(ref->solo);
	free(ref->alive);
	memset(ref, 0, sizeof(*ref));
}

/*
 * Walks the run stretch by stretch; with `place`, searches the best
 * placement of every stretch (the oracle) and scores it in r, else leaves
 * the guests where they are. The reference is found on the way.
 */
static int walk(const char *scenario, const struct hs_opts *o, bool place,
		struct hs_result *r, struct hs_reference *ref)
{
	struct oracle or = { .o = o, .alone = -1 };
	struct vn_config cfg;
	double t = 0, end, wall = now_monotonic(), *dram = NULL, *rem = NULL;
	int ng;

	memset(ref, 0, sizeof(*ref));
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
	ng = or.ng = sim_nr_guests(or.s);
	or.nn = sim_nr_nodes(or.s);
	or.duration = hs_run_length(or.s, o, cfg.interval);
	if (place) {
		hs_result_init(r, scenario, "oracle", or.s);
		r->interval = cfg.interval;
		r->duration = or.duration;
		r->exhaustive = true;
		dram = xcalloc(ng + 1, sizeof(double));
		rem = xcalloc(ng + 1, sizeof(double));
	}
	config_free(&cfg);
	ref->nr_guests = ng;
	ref->duration = or.duration;
	ref->solo = xcalloc(ng + 1, sizeof(double));
	ref->alive = xcalloc(ng + 1, sizeof(double));
	for (int n = 0; n < or.nn; n++) {
		or.cap[n] = sim_node_mem_capacity(or.s, n);
		if (sim_node_cpus(or.s, n) > 0)
			or.cpu_nodes |= 1ULL << n;
	}
	make_sets(&or);
	or.all = xcalloc(ng + 1, sizeof(*or.all));
	for (int g = 0; g < ng; g++) {
		or.all[g].g = g;
		or.all[g].workload = -1;
	}
	weigh(&or);
	rng_seed(&or.rng, 0x6f7261636c65ULL);	/* "oracle" */

	while (t < or.duration - 1e-9) {
		double next = sim_next_event(or.s);
		long evals = 0;
		bool exact = true;
		double v;

		end = next < 0 || next > or.duration ? or.duration : next;
		gather(&or);
		for (int g = 0; g < ng; g++) {
			struct oguest *og = &or.all[g];

			if (!og->live)
				continue;
			if (og->workload != sim_guest_workload(or.s, g)) {
				og->workload = sim_guest_workload(or.s, g);
				og->solo = solo(&or, og);
				ref->evaluations += or.evals;
			}
			ref->solo[g] += og->solo * (end - t);
			ref->alive[g] += end - t;
		}
		if (place) {
			uint64_t **landed = xcalloc(ng + 1, sizeof(*landed));

			/*
			 * Immovable arrivals where they want to be, the others
			 * around them; or where they landed, the others around
			 * that: the better of the two (room made for an idle
			 * guest can cost the busy ones more than it gains it).
			 */
			if (rehome(&or, landed) > 0)
				exact = either_landing(&or, landed, r->segments == 0);
			else
				exact = search(&or, r->segments == 0);
			for (int g = 0; g < ng; g++)
				free(landed[g]);
			free(landed);
			evals = or.evals;
			v = sim_settle(or.s);
			if (o->verbose)
				print_placement(&or, t, end, v, evals, exact);
			r->level = xreallocarray(r->level, (size_t)r->segments + 1,
						 sizeof(*r->level));
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
			r->evaluations += evals;
		}
		if (end >= or.duration - 1e-9)
			break;
		/* on to the next event: arrivals take memory, phases change */
		sim_step(or.s, end - t);
		t = end;
	}
	for (int g = 0; g < ng; g++)
		ref->solo[g] /= or.duration;
	if (place) {
		double d = 0, x = 0;

		for (int g = 0; g < ng; g++) {
			r->guest_ips[g] /= or.duration;
			r->guest_remote[g] = dram[g] > 0 ? rem[g] / dram[g] : -1;
			r->ips += r->guest_ips[g];
			d += dram[g];
			x += rem[g];
		}
		r->remote = d > 0 ? x / d : -1;
		r->wall = now_monotonic() - wall;
		hs_score_result(r, ref);
	}
	ref->wall = now_monotonic() - wall;
	for (int g = 0; g < ng; g++)
		free_guest(&or.all[g]);
	free(or.all);
	free(or.live);
	free(dram);
	free(rem);
	sim_free(or.s);
	return 0;
}

int hs_reference(const char *scenario, const struct hs_opts *o,
		 struct hs_reference *ref)
{
	return walk(scenario, o, false, NULL, ref);
}

int hs_oracle(const char *scenario, const struct hs_opts *o, struct hs_result *r,
	      struct hs_reference *ref)
{
	struct hs_reference mine;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = walk(scenario, o, true, r, ref ? ref : &mine);
	if (!ref && ret == 0)
		hs_reference_free(&mine);
	return ret;
}
