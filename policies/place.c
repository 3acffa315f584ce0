// SPDX-License-Identifier: MIT
/*
 * place: the default policy. Each tick it weighs, for the guests that lose
 * most where they are, the few placements that could serve them better --
 * vCPUs to their memory, memory to their vCPUs, the whole guest onto one
 * node, one guest NUMA node to its own node, a guest off a crowded node --
 * with a model of the whole host, and proposes the moves whose gain pays
 * for what they cost.
 *
 * The model. A vCPU's time per instruction on node s is
 *
 *	T = (1 - b) + b * sum_n a[n] * latency(s, n) * M(u_n)
 *
 * (pol_vcpu_time): b its stall share from its DRAM accesses per
 * kilo-instruction, a[n] the share of its accesses that node n's memory
 * serves, M the queueing factor of node n's controllers at utilisation
 * u_n = traffic / capacity. Its speed is its CPU share over T, the CPU share
 * being what the vCPUs of an over-committed node each get (cpus over what
 * they ask). A guest's speed is its vCPUs' speeds weighed by their
 * instructions. Nothing here needs a figure a real host lacks: where the
 * backend knows no node bandwidth (bw_max 0, as on most hosts) the capacity
 * is `bandwidth_per_cpu` times the node's CPUs (two-socket servers since
 * Skylake sustain 2 to 2.7 GB/s of STREAM per hardware thread), and traffic is the
 * counted DRAM accesses over `counted_share` (demand-read events do not see
 * what the prefetchers bring).
 *
 * The objective is the one vnumad-sim scores (sim/README.md): the sum over
 * guests of the log of their speed, so that every guest counts alike, not
 * by how many instructions it runs; a candidate's value is the change of
 * that sum over the guests it touches, its own gain being the moved guest's.
 *
 * Cost. vCPU moves are cheap and go at once. A move of B bytes of memory
 * takes t = B / migrate_rate and only pays off once done, so it is a rental
 * problem: staying misplaced costs the gain every second, migrating costs
 * `migration_cost` per second of migration and the guest must live long
 * enough for it to pay. The guest's expected remaining life is its age (a
 * guest's lifetime is heavy-tailed: Lindy), so a young guest keeps its
 * memory where it is until it has shown it will stay, and a short-lived
 * one is never migrated. A candidate with memory is taken when
 *
 *	gain * (1 - t / (2 E)) - migration_cost * t / E >= min_gain
 *
 * with E the guest's age; among a guest's candidates, one that migrates
 * is chosen over one that does not only when it is worth MIGRATE_MARGIN
 * more. Memory moves toward a placement go in batches of
 * `memory_batch`, each judged by the guard; the candidate is weighed anew
 * every tick, so that a plan stops when its reason goes. All migrations
 * share the mover, so they are proposed most value per byte first (Smith's
 * rule, by_density), and none beyond what the core still takes this tick
 * (the view's migrate_budget): it would be dropped, and a gather's vCPUs,
 * which go with its first batch, would run ahead of their memory.
 *
 * Candidates, for a guest without vNUMA: its vCPUs to the node holding most
 * of its memory (memory stays; as many as the node has room for, when it
 * has none for all, so that guests each on the other's memory trade places
 * over a few ticks); the whole guest onto one node (the node with most of
 * its memory, the one with most of its vCPUs, or the node with the most
 * free CPUs and memory) -- which is also how a guest scattered evenly over
 * nodes, which no single vCPU move helps, is gathered, and how a guest
 * leaves a node whose controllers are hot; its memory to where its vCPUs
 * run; the vCPUs it has on a crowded node to one with room; and when the
 * node of its memory has no CPU room, its vCPUs traded one for one with
 * those of another guest running there (a swap, cand_swap). For a vNUMA
 * guest whose vnodes' memory the view gives (vnode_mem; without it the
 * guest is weighed as one), per guest NUMA node: its vCPUs to its memory's
 * node; its vCPUs and memory to a node of its own, when no other vnode
 * shares its memory's node (a migration takes pages of every vnode on its
 * source). A guest whose user pinned only its vCPUs (MEMORY_FREE, 1.3) has
 * one candidate: its memory to where its vCPUs run (a vNUMA one none); it
 * is never a swap's partner.
 *
 * Work per tick is bounded: guests are weighed most troubled first, plain
 * moves cost little to weigh, and the model's steps stop at a budget, so
 * that a large host is weighed over several ticks. Per-guest state (when an
 * it was last moved, what it was doing) lives in the 1.2
 * storage of guest_init; a guest is not moved again for `hold` after a
 * move, but for the next batch of the same plan, or after a vCPU move once
 * it has moved a quarter of its memory itself (a phase change).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies.h"

#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#define DRAM_LINE	64.0		/* bytes one DRAM access moves */
#define PAGE_2M		((uint64_t)2 << 20)
#define MIN_MOVE	(64.0 * 1024 * 1024)
#define DEFAULT_RATE	(256.0 * 1024 * 1024)	/* [limits] migrate_rate */
#define WORK_PER_TICK	1e5	/* model steps per tick: vCPU x node visits */
/*
 * How much more, in the guests' log-speed, a move that migrates must be
 * worth than one of the same guest that does not, to be chosen over it:
 * the model charges a migration its copy time (migration_cost), not all
 * it costs a real host (refaults, the mover's CPU and memory bandwidth,
 * TLB shootdowns). Tuned on the shipped suite and the tuning family
 * (2026-12-04: 1% to 10% give the same score there, 3% the least memory).
 */
#define MIGRATE_MARGIN	0.03
#define CHOICES_PER_TICK 16	/* placements proposed per tick, at most: the core
				 * applies a few moves per tick anyway */
#define CPU_FULL	0.97	/* cpu_load from which vCPUs may be throttled */
#define TROUBLE_MIN	0.02	/* estimated loss below which a guest is fine */
#define VNODE_LOCALITY	0.9	/* share of a vNUMA vCPU's accesses to its vnode */
#define UNSEEN_STALL	0.6	/* stall share of a vCPU whose accesses go uncounted */
#define NOMINAL_IPS	1e9	/* per CPU, for a vCPU whose source counts no instructions */
#define OWN_SHIFT	0.25	/* share of its memory a held guest moved itself
				 * from which its hold ends */
#define SWAP_MATCH	0.2	/* how far apart, relative, the CPU demands of two
				 * vCPUs that trade places may be (the core's
				 * swap admits 0.25) */
#define SWAP_PARTNERS	3	/* partners weighed for one swap */
#define SWAP_LOSS	0.01	/* most a partner may lose: the guard reverts a
				 * loss of half its tolerance (3%) */

enum {
	OPT_QUEUE_FACTOR,
	OPT_BANDWIDTH_PER_CPU,
	OPT_COUNTED_SHARE,
	OPT_MIN_GAIN,
	OPT_MIGRATION_COST,
	OPT_CPU_HEADROOM,
	OPT_MEMORY_RESERVE,
	OPT_MEMORY_BATCH,
	OPT_HOLD,
	NR_OPTS
};

static const struct vnumad_option place_options[] = {
	[OPT_QUEUE_FACTOR] = { "queue_factor", VNUMAD_OPT_DOUBLE, "0.5", 0, 10,
		"factor k of the queueing model M(u) = 1 + k u/(1 - u)" },
	[OPT_BANDWIDTH_PER_CPU] = { "bandwidth_per_cpu", VNUMAD_OPT_SIZE, "2.5GB", 1e8, 1e12,
		"memory bandwidth per CPU assumed for a node whose bandwidth the host "
		"does not publish (bytes/s)" },
	[OPT_COUNTED_SHARE] = { "counted_share", VNUMAD_OPT_PERCENT, "50%", 0.05, 1,
		"share of its DRAM traffic a vCPU's counted accesses are taken to be" },
	[OPT_MIN_GAIN] = { "min_gain", VNUMAD_OPT_PERCENT, "5%", 0, 10,
		"smallest net gain, in the guests' log-speed, worth a move" },
	[OPT_MIGRATION_COST] = { "migration_cost", VNUMAD_OPT_PERCENT, "5%", 0, 10,
		"loss charged per second of migration, in the moved guest's speed" },
	[OPT_CPU_HEADROOM] = { "cpu_headroom", VNUMAD_OPT_PERCENT, "5%", 0, 0.9,
		"share of a node's CPUs kept free when moving vCPUs onto it" },
	[OPT_MEMORY_RESERVE] = { "memory_reserve", VNUMAD_OPT_SIZE, "512MiB", 0, 1099511627776.0,
		"free memory left on a node that receives migrated memory" },
	[OPT_MEMORY_BATCH] = { "memory_batch", VNUMAD_OPT_SIZE, "4GiB", 2097152, 1099511627776.0,
		"most memory one memory proposal moves" },
	[OPT_HOLD] = { "hold", VNUMAD_OPT_DURATION, "1min", 0, 86400,
		"time a guest is left alone after a move, but for the rest of its plan; "
		"a vCPU move's hold ends once the guest has moved a quarter of its memory itself" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

/* What a candidate does to its guest. */
enum cand_kind {
	C_NONE,
	C_VCPUS,	/* the guest's vCPUs (those of `vnode`, or all) to `to` */
	C_GATHER,	/* vCPUs and all memory onto `to` (MOVE_GUEST), or with
			 * `from` >= 0 what fits of the memory on `from` */
	C_MEMORY,	/* memory from `from` to `to` */
	C_RELIEVE,	/* `phi` of the vCPUs on the crowded `from` to `to` */
	C_VNODE,	/* vnode's vCPUs and its memory on `from` to `to` */
	C_SWAP,		/* `phi` of the guest's vCPUs to `to`, trading places
			 * with as many of `partner`'s there */
};

struct cand {
	enum cand_kind kind;
	int guest, vnode, from, to;
	int partner;		/* C_SWAP: the guest its vCPUs trade places with */
	double bytes;		/* memory the whole plan moves */
	double phi;		/* C_MEMORY, C_VNODE: share of `from`'s memory moved;
				 * C_RELIEVE, C_VCPUS: vCPUs moved (C_VCPUS: 0 all) */
	double value;		/* change of the guests' sum of log-speed */
	double own;		/* the moved guest's own speed-up - 1 */
	double other;		/* C_SWAP: the partner's speed-up - 1 */
	double net;		/* value less the cost of the migration */
};

/* The policy's memory of one guest (guest_init storage). */
struct gstate {
	double acted;		/* last time a proposal of it was applied, -1 */
	double proposed;	/* last time it was proposed, -1 */
	enum cand_kind plan_kind;	/* what it was doing, for the next batch */
	int plan_from, plan_to;
	/* where its memory was when the hold began, in shares of it: a hold
	 * after a plan that moves no memory ends once the guest has moved a
	 * good part of it on its own (a new working set, a phase change) */
	float mem_share[VNUMAD_MAX_NODES];
};

/* A guest to weigh, and how much it loses where it is. */
struct rank {
	double trouble;
	int guest;
	bool migrates;		/* its best move, weighed in the first pass, migrates */
	double density;		/* then: that move's net value per byte migrated */
};

/* Per vCPU of the model. */
struct mvcpu {
	int node;		/* -1: not modelled */
	int guest;
	double b, ips, wish, traffic;	/* traffic: bytes/s estimated */
	double t0;		/* time per instruction now */
};

struct place {
	double k, bw_per_cpu, counted, min_gain, cost, headroom, reserve;
	double batch, hold;
	/* this tick's model */
	int nn, nv, cap_v, cap_g;
	struct mvcpu *vc;
	double *a;		/* [nv * nn] access mix */
	int *first;		/* [nr_guests + 1] first vCPU of each guest */
	double *gips;		/* [nr_guests] instructions/s */
	uint64_t *touch;	/* [nr_guests] nodes its vCPUs run on or read from */
	unsigned char *ready;	/* [nr_guests] its vCPUs' mixes computed */
	struct rank *order;	/* [nr_guests] the troubled guests, worst first */
	double load[VNUMAD_MAX_NODES];	/* CPU wished by the vCPUs there */
	double traffic[VNUMAD_MAX_NODES];	/* bytes/s served */
	double cap[VNUMAD_MAX_NODES];	/* bytes/s it sustains */
	double M[VNUMAD_MAX_NODES];
	double share[VNUMAD_MAX_NODES];	/* of what they wish, its vCPUs get */
	double mem_free[VNUMAD_MAX_NODES];	/* less what this tick proposed */
	double rate;		/* migrate_rate, bytes/s */
	double budget;		/* bytes of migration the core still takes this tick */
	double work;
	/* a candidate's scratch: the moved guest's vCPUs */
	int cap_c;
	int *node2;
	double *a2;
	/* a swap's partner and its vCPUs' nodes (swap < 0: none) */
	int swap, cap_s;
	int *node2s, *best_node2s;
	double swap_own;	/* the partner's speed-up - 1 */
	/* the best candidate's, kept by consider for commit */
	int *best_node2;
	double *best_a2;
	unsigned char *moved;	/* [nr_guests] proposed this tick */
};

static int place_init(void **priv, const struct vnumad_init_args *args)
{
	struct place *p = calloc(1, sizeof(*p));

	if (!p)
		return -POL_ENOMEM;
	p->swap = -1;
	p->k = args->values[OPT_QUEUE_FACTOR].num;
	p->bw_per_cpu = args->values[OPT_BANDWIDTH_PER_CPU].num;
	p->counted = args->values[OPT_COUNTED_SHARE].num;
	p->min_gain = args->values[OPT_MIN_GAIN].num;
	p->cost = args->values[OPT_MIGRATION_COST].num;
	p->headroom = args->values[OPT_CPU_HEADROOM].num;
	p->reserve = args->values[OPT_MEMORY_RESERVE].num;
	p->batch = args->values[OPT_MEMORY_BATCH].num;
	p->hold = args->values[OPT_HOLD].num;
	*priv = p;
	return 0;
}

static void place_fini(void *priv)
{
	struct place *p = priv;

	if (!p)
		return;
	free(p->vc);
	free(p->a);
	free(p->first);
	free(p->gips);
	free(p->touch);
	free(p->ready);
	free(p->order);
	free(p->node2);
	free(p->best_node2);
	free(p->best_a2);
	free(p->a2);
	free(p->node2s);
	free(p->best_node2s);
	free(p->moved);
	free(p);
}

static int place_guest_init(void *priv, const struct vnumad_guest *g, void **gpriv)
{
	struct gstate *s = malloc(sizeof(*s));

	(void)priv;
	(void)g;
	if (!s)
		return -POL_ENOMEM;
	*s = (struct gstate){ .acted = -1, .proposed = -1, .plan_from = -1,
			      .plan_to = -1 };
	*gpriv = s;
	return 0;
}

static void place_guest_exit(void *priv, const struct vnumad_guest *g, void *gpriv)
{
	(void)priv;
	(void)g;
	free(gpriv);
}

/* Resizes array x to n elements; 0, or -1 with x untouched. */
#define GROW(x, n) ({							\
	__typeof__(x) q_ = realloc((x), (size_t)(n) * sizeof(*(x)));	\
	q_ ? ((x) = q_, 0) : -1;					\
})

static struct gstate *state_of(const struct vnumad_view *v, const struct vnumad_guest *g)
{
	return VNUMAD_GUEST_HAS(v, priv) ? g->priv : NULL;
}

/*
 * A guest whose user pinned its vCPUs and left its memory free (1.3): its
 * memory may go to its vCPUs, nothing else of it moves.
 */
static bool vcpus_pinned(const struct vnumad_guest *g)
{
	return (g->flags & (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE |
			    VNUMAD_GUEST_OPTED_OUT)) ==
	       (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE);
}

/* Whether anything of the guest may move this tick. */
static bool movable(const struct vnumad_guest *g)
{
	return (pol_guest_managed(g) || vcpus_pinned(g)) && g->mem_total && g->nr_vcpus &&
	       !(g->flags & (VNUMAD_GUEST_IN_TRIAL | VNUMAD_GUEST_MIGRATING));
}

/* The guest's vNUMA node count, when its vnodes' memory is known. */
static int vnodes_known(const struct vnumad_view *v, const struct vnumad_guest *g)
{
	if (!VNUMAD_GUEST_HAS(v, vnode_mem) || !g->vnode_mem || g->nr_vnodes < 2)
		return 0;
	return g->nr_vnodes;
}

/* Bytes of vnode k of the guest on node n (known vnodes only). */
static double vmem(const struct vnumad_guest *g, int k, int n)
{
	return (double)g->vnode_mem[k * VNUMAD_MAX_NODES + n];
}

/*
 * Where a vCPU's accesses go. A vNUMA guest whose vnodes' memory is known:
 * VNODE_LOCALITY of them to its own vnode's memory, the rest to the others'
 * (what a NUMA-aware guest kernel gives), each in proportion to where that
 * memory is. Otherwise pol_access_mix: its measured local share on its node,
 * the rest where the guest's memory is.
 */
static void access_mix(const struct vnumad_view *v, const struct vnumad_guest *g,
		       const struct vnumad_vcpu *c, int nvn, double *a)
{
	double own = 0, other = 0;

	if (!nvn || c->vnode < 0 || c->vnode >= nvn) {
		pol_access_mix(v, g, c, a);
		return;
	}
	for (int n = 0; n < v->nr_nodes; n++) {
		own += vmem(g, c->vnode, n);
		for (int k = 0; k < nvn; k++)
			if (k != c->vnode)
				other += vmem(g, k, n);
	}
	for (int n = 0; n < v->nr_nodes; n++) {
		double o = 0;

		for (int k = 0; k < nvn; k++)
			if (k != c->vnode)
				o += vmem(g, k, n);
		a[n] = (own > 0 ? VNODE_LOCALITY * vmem(g, c->vnode, n) / own : 0) +
		       (other > 0 ? (1 - VNODE_LOCALITY) * o / other : 0);
	}
	if (own <= 0 || other <= 0) {
		double sum = 0;

		for (int n = 0; n < v->nr_nodes; n++)
			sum += a[n];
		for (int n = 0; sum > 0 && n < v->nr_nodes; n++)
			a[n] /= sum;
	}
}

/*
 * A vCPU's stall share (pol_stall_share). One whose counters see no DRAM
 * access at all while its guest's memory lies elsewhere is taken to stall
 * like a typical guest instead of not at all: the events may simply not
 * count that memory (another SNC cluster, a CXL node).
 */
static double stall_share(const struct vnumad_view *v, const struct vnumad_guest *g,
			  const struct vnumad_vcpu *c)
{
	if (c->access_rate == 0 && c->ips > 0 && c->node >= 0 && c->node < v->nr_nodes &&
	    g->mem[c->node] < g->mem_total)
		return UNSEEN_STALL;
	return pol_stall_share(c);
}

/*
 * The instructions per second a vCPU counts in the model. A source without
 * instruction counters (the /proc fallback: access_rate -1) reports none,
 * so a running vCPU is weighed by the CPU it uses instead, at a nominal
 * rate: only the ratios between vCPUs matter to the model.
 */
static double model_ips(const struct vnumad_vcpu *c)
{
	if (c->ips > 0)
		return c->ips;
	if (c->access_rate < 0 && c->cpu_demand > 0)
		return c->cpu_demand * NOMINAL_IPS;
	return 0;
}

static double cpu_share(double cpus, double load)
{
	return load > cpus && load > 0 ? cpus / load : 1.0;
}

/*
 * What the vCPUs of each node get of what they ask: cpu_load is measured
 * use, so an over-committed node reads full and its vCPUs' demand reads
 * low; time-sharing scales all of them alike, and a vCPU asks at most one
 * CPU, so the largest demand seen there is (at least) that share.
 */
static void estimate_shares(struct place *p, const struct vnumad_view *v)
{
	for (int n = 0; n < v->nr_nodes; n++)
		p->share[n] = 0;
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];

		for (int i = 0; i < g->nr_vcpus; i++) {
			int n = g->vcpus[i].node;

			if (n >= 0 && n < v->nr_nodes && g->vcpus[i].cpu_demand > p->share[n])
				p->share[n] = g->vcpus[i].cpu_demand;
		}
	}
	for (int n = 0; n < v->nr_nodes; n++)
		if (v->nodes[n].cpu_load < CPU_FULL || p->share[n] <= 0.05 || p->share[n] > 1)
			p->share[n] = 1;
}

/* Builds this tick's model of the host; -1 when memory runs out. */
static int build(struct place *p, const struct vnumad_view *v)
{
	int nn = v->nr_nodes, nv = 0;
	double cpu_cap = 0, cpu_nodes = 0;

	p->nn = nn;
	for (int gi = 0; gi < v->nr_guests; gi++)
		nv += v->guests[gi]->nr_vcpus;
	if (nv + 1 > p->cap_v) {
		int cap = 2 * nv + 1;

		if (GROW(p->vc, cap) || GROW(p->a, (size_t)cap * nn))
			return -1;
		p->cap_v = cap;
	}
	if (v->nr_guests + 1 > p->cap_g) {
		int cap = 2 * v->nr_guests + 1;

		if (GROW(p->first, cap + 1) || GROW(p->gips, cap) || GROW(p->order, cap) ||
		    GROW(p->moved, cap) || GROW(p->touch, cap) || GROW(p->ready, cap))
			return -1;
		p->cap_g = cap;
	}
	p->nv = nv;
	estimate_shares(p, v);
	for (int n = 0; n < nn; n++) {
		p->load[n] = 0;
		p->traffic[n] = 0;
		p->mem_free[n] = (double)v->nodes[n].mem_free - p->reserve;
		if (pol_node_usable(v, n) && v->nodes[n].bw_max <= 0) {
			cpu_cap += p->bw_per_cpu * v->nodes[n].nr_cpus;
			cpu_nodes++;
		}
	}
	for (int n = 0; n < nn; n++) {
		p->cap[n] = v->nodes[n].bw_max > 0 ? v->nodes[n].bw_max :
			    v->nodes[n].nr_cpus > 0 ? p->bw_per_cpu * v->nodes[n].nr_cpus :
			    cpu_nodes > 0 ? cpu_cap / cpu_nodes / 2 : p->bw_per_cpu * 8;
	}
	nv = 0;
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];

		p->first[gi] = nv;
		p->gips[gi] = 0;
		p->moved[gi] = 0;
		p->ready[gi] = 0;
		p->touch[gi] = 0;
		for (int n = 0; n < nn; n++)
			if ((double)g->mem[n] > 0.01 * (double)g->mem_total)
				p->touch[gi] |= 1ULL << n;
		for (int i = 0; i < g->nr_vcpus; i++, nv++) {
			const struct vnumad_vcpu *c = &g->vcpus[i];
			struct mvcpu *m = &p->vc[nv];

			m->guest = gi;
			m->ips = model_ips(c);
			m->node = c->node >= 0 && c->node < nn && m->ips > 0 ? c->node : -1;
			m->b = stall_share(v, g, c);
			m->traffic = c->access_rate > 0 ? c->access_rate * DRAM_LINE / p->counted : 0;
			m->wish = c->cpu_demand;
			if (m->node < 0)
				continue;
			m->wish /= p->share[m->node];
			if (m->wish > 1)
				m->wish = 1;
			p->gips[gi] += m->ips;
			p->load[m->node] += m->wish;
			p->touch[gi] |= 1ULL << m->node;
		}
	}
	p->first[v->nr_guests] = nv;
	/* the core charges each node the traffic of the accesses counted */
	for (int n = 0; n < nn; n++) {
		p->traffic[n] = v->nodes[n].bw_used / p->counted;
		p->M[n] = pol_queue(p->traffic[n] / p->cap[n], p->k);
	}
	return 0;
}

/* The access mixes and times of a guest's vCPUs, computed when first needed. */
static void prepare(struct place *p, const struct vnumad_view *v, int gi)
{
	const struct vnumad_guest *g = v->guests[gi];
	int nn = p->nn, nvn;

	if (p->ready[gi])
		return;
	nvn = vnodes_known(v, g);
	for (int c = p->first[gi]; c < p->first[gi + 1]; c++) {
		struct mvcpu *m = &p->vc[c];
		double *a = &p->a[(size_t)c * nn];

		access_mix(v, g, &g->vcpus[c - p->first[gi]], nvn, a);
		if (m->node >= 0)
			m->t0 = pol_vcpu_time(v, a, m->node, m->b, p->M);
		p->work += nn;
	}
	p->ready[gi] = 1;
}

/*
 * How much a guest loses where it is, roughly, without its access mix: the
 * share of its time it waits beyond local, unloaded memory (its remote
 * ratio at the mean latency of its memory elsewhere, queueing included)
 * and CPU it asks for and does not get.
 * Decides which guests are weighed first.
 */
static double trouble(const struct place *p, const struct vnumad_view *v, int gi)
{
	const struct vnumad_guest *g = v->guests[gi];
	double t = 0, w = 0, lrem[VNUMAD_MAX_NODES];
	uint64_t have = 0;

	for (int c = p->first[gi]; c < p->first[gi + 1]; c++) {
		const struct mvcpu *m = &p->vc[c];
		const struct vnumad_vcpu *x = &g->vcpus[c - p->first[gi]];
		int s = m->node;
		double r;

		if (s < 0)
			continue;
		if (!(have >> s & 1)) {
			double far = 0, lat = 0;

			/* remote latency, queueing included, by where its memory is */
			for (int n = 0; n < v->nr_nodes; n++)
				if (n != s && g->mem[n]) {
					far += (double)g->mem[n];
					lat += (double)g->mem[n] * pol_latency(pol_dist(v, s, n)) *
					       p->M[n];
				}
			lrem[s] = far > 0 ? lat / far : 1;
			have |= 1ULL << s;
		}
		r = x->remote_ratio >= 0 ? x->remote_ratio :
		    1 - (double)g->mem[s] / (double)g->mem_total;
		t += m->ips * (1 - p->share[s] / (1 - m->b + m->b * ((1 - r) * p->M[s] +
								    r * lrem[s])));
		w += m->ips;
	}
	return w > 0 ? t / w : 0;
}

/* Starts a candidate for guest gi: a copy of its vCPUs' nodes and mixes. */
static int cand_begin(struct place *p, const struct vnumad_view *v, int gi)
{
	int n = p->first[gi + 1] - p->first[gi], nn = p->nn;

	prepare(p, v, gi);
	if (n > p->cap_c) {
		if (GROW(p->node2, n) || GROW(p->a2, (size_t)n * nn) ||
		    GROW(p->best_node2, n) || GROW(p->best_a2, (size_t)n * nn))
			return -1;
		p->cap_c = n;
	}
	for (int i = 0; i < n; i++)
		p->node2[i] = p->vc[p->first[gi] + i].node;
	memcpy(p->a2, &p->a[(size_t)p->first[gi] * nn], (size_t)n * nn * sizeof(double));
	return 0;
}

/* The candidate moves the guest's memory: a share phi of what is on `from`. */
static void cand_memory(struct place *p, int gi, int from, int to, double phi,
			int vnode, const struct vnumad_view *v)
{
	const struct vnumad_guest *g = v->guests[gi];
	int n = p->first[gi + 1] - p->first[gi], nn = p->nn;

	for (int i = 0; i < n; i++) {
		double *a = &p->a2[(size_t)i * nn], d;

		if (vnode >= 0 && g->vcpus[i].vnode != vnode) {
			/* another vnode's vCPU: only its (1 - p) part moves */
			d = a[from] * phi * (1 - VNODE_LOCALITY);
		} else {
			d = a[from] * phi;
		}
		a[from] -= d;
		a[to] += d;
	}
}

/*
 * The value of the candidate set up in the scratch: the change of the sum
 * of log-speeds over the guests that share a node it changes, its moved
 * guest's own speed-up in *own. First order: the changed loads and traffic
 * set the nodes' shares and queueing once, without iterating.
 */
static double evaluate(struct place *p, const struct vnumad_view *v, int gi, double *own)
{
	int nn = p->nn, g0 = p->first[gi], g1 = p->first[gi + 1];
	double load[VNUMAD_MAX_NODES], tr[VNUMAD_MAX_NODES], M[VNUMAD_MAX_NODES];
	double share[VNUMAD_MAX_NODES];
	uint64_t touched = 0, felt = 0;
	double value = 0;

	memcpy(load, p->load, sizeof(load));
	memcpy(tr, p->traffic, sizeof(tr));
	/* a swap's partner: its vCPUs change nodes, its memory stays */
	for (int c = p->swap >= 0 ? p->first[p->swap] : 0;
	     p->swap >= 0 && c < p->first[p->swap + 1]; c++) {
		const struct mvcpu *m = &p->vc[c];
		int s2 = p->node2s[c - p->first[p->swap]];

		if (m->node >= 0 && s2 != m->node) {
			load[m->node] -= m->wish;
			load[s2] += m->wish;
			touched |= 1ULL << m->node | 1ULL << s2;
		}
	}
	for (int c = g0; c < g1; c++) {
		const struct mvcpu *m = &p->vc[c];
		const double *a = &p->a[(size_t)c * nn], *a2 = &p->a2[(size_t)(c - g0) * nn];
		int s2 = p->node2[c - g0];

		if (m->node < 0)
			continue;
		if (s2 != m->node) {
			load[m->node] -= m->wish;
			load[s2] += m->wish;
			touched |= 1ULL << m->node | 1ULL << s2;
		}
		for (int n = 0; n < nn; n++) {
			double d = m->traffic * (a2[n] - a[n]);

			if (d != 0) {
				tr[n] += d;
				touched |= 1ULL << n;
			}
		}
	}
	for (int n = 0; n < nn; n++) {
		double s0 = cpu_share(v->nodes[n].nr_cpus, p->load[n]);

		/* a node's share is relative to what its vCPUs get today */
		share[n] = cpu_share(v->nodes[n].nr_cpus, load[n]) / s0;
		M[n] = touched >> n & 1 ? pol_queue(tr[n] / p->cap[n], p->k) : p->M[n];
		/* the nodes whose change others feel */
		if (fabs(share[n] - 1) > 1e-6 || fabs(M[n] / p->M[n] - 1) > 1e-3)
			felt |= 1ULL << n;
	}
	*own = 0;
	p->swap_own = 0;
	for (int gj = 0; gj < v->nr_guests; gj++) {
		double before = 0, after = 0;

		/* only the guests moved and those that run on or read from a felt node */
		if (gj != gi && gj != p->swap && !(p->touch[gj] & felt))
			continue;
		prepare(p, v, gj);
		for (int c = p->first[gj]; c < p->first[gj + 1]; c++) {
			const struct mvcpu *m = &p->vc[c];
			bool mine = gj == gi;
			const double *a = mine ? &p->a2[(size_t)(c - p->first[gj]) * nn] :
					  &p->a[(size_t)c * nn];
			int s = mine ? p->node2[c - p->first[gj]] :
				gj == p->swap ? p->node2s[c - p->first[gj]] : m->node;
			double share_now = 1, x;

			if (m->node < 0)
				continue;
			if (s != m->node)
				share_now = cpu_share(v->nodes[s].nr_cpus, load[s]) /
					    cpu_share(v->nodes[m->node].nr_cpus, p->load[m->node]);
			else
				share_now = share[s];
			x = share_now * m->t0 / pol_vcpu_time(v, a, s, m->b, M);
			before += m->ips;
			after += m->ips * x;
			p->work += nn;
		}
		if (before <= 0)
			continue;
		value += log(after / before);
		if (gj == gi)
			*own = after / before - 1;
		else if (gj == p->swap)
			p->swap_own = after / before - 1;
	}
	return value;
}

/*
 * Whether node n may take `demand` more of the guest's vCPUs: when it keeps
 * headroom, or is no more crowded per CPU afterwards than the most crowded
 * node they come from (on a host crowded everywhere the model then says
 * whether the move pays).
 */
static bool cpu_room(const struct place *p, const struct vnumad_view *v, int gi,
		     int n, double demand)
{
	const struct vnumad_node *nd = &v->nodes[n];
	double after, from = 0;

	if (!pol_node_usable(v, n))
		return false;
	/* nothing added: the guest's vCPUs run there already */
	if (demand <= 1e-9)
		return true;
	after = (p->load[n] + demand) / nd->nr_cpus;
	if (after <= 1 - p->headroom + 1e-9)
		return true;
	for (int c = p->first[gi]; c < p->first[gi + 1]; c++) {
		int s = p->vc[c].node;

		if (s >= 0 && s != n)
			from = MAX(from, p->load[s] / v->nodes[s].nr_cpus);
	}
	return after <= from + 1e-9;
}

/* CPUs node n has free for more vCPUs, keeping cpu_headroom; may be negative. */
static double cpu_free(const struct place *p, const struct vnumad_view *v, int n)
{
	return (1 - p->headroom) * v->nodes[n].nr_cpus - p->load[n];
}

/* CPU the guest's vCPUs wish for that are not on node n (of `vnode`, or all). */
static double demand_off(const struct place *p, const struct vnumad_view *v,
			 int gi, int n, int vnode)
{
	const struct vnumad_guest *g = v->guests[gi];
	double d = 0;

	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct mvcpu *m = &p->vc[p->first[gi] + i];

		if (m->node >= 0 && m->node != n && (vnode < 0 || g->vcpus[i].vnode == vnode))
			d += m->wish;
	}
	return d;
}

/*
 * Net value of a candidate: its value less what its migration costs, for
 * a guest expected to live as long again as it has lived (`life`).
 */
static double net_value(const struct place *p, double value, double own,
			double bytes, double life)
{
	double t, e;

	if (bytes < MIN_MOVE)
		return value;
	t = bytes / p->rate;
	e = MAX(life, 1.0);
	/* the moved guest's gain must pay its own migration as well */
	if (own * (1 - t / (2 * e)) - p->cost * t / e < p->min_gain)
		return -1;
	return value * (1 - t / (2 * e)) - p->cost * t / e;
}

/*
 * What a candidate is worth against a guest's other candidates: one that
 * migrates must be worth MIGRATE_MARGIN more than one that does not.
 */
static double choice_value(const struct cand *c)
{
	return c->net - (c->bytes >= MIN_MOVE ? MIGRATE_MARGIN : 0);
}

/* Weighs one candidate and keeps it in *best if it is better. */
static void consider(struct place *p, const struct vnumad_view *v, struct cand *c,
		     double life, struct cand *best)
{
	if (p->work >= WORK_PER_TICK)
		return;
	c->value = evaluate(p, v, c->guest, &c->own);
	if (c->own < p->min_gain || (c->kind == C_SWAP && p->swap_own < -SWAP_LOSS))
		return;
	c->other = p->swap_own;
	c->net = net_value(p, c->value, c->own, c->bytes, life);
	if (c->net < p->min_gain)
		return;
	if (best->kind == C_NONE || choice_value(c) > choice_value(best) + 1e-9) {
		int n = p->first[c->guest + 1] - p->first[c->guest];

		*best = *c;
		/* the scratch is the next candidate's: commit needs this one's */
		memcpy(p->best_node2, p->node2, (size_t)n * sizeof(*p->node2));
		memcpy(p->best_a2, p->a2, (size_t)n * p->nn * sizeof(*p->a2));
		if (c->kind == C_SWAP)
			memcpy(p->best_node2s, p->node2s,
			       (size_t)(p->first[c->partner + 1] - p->first[c->partner]) *
			       sizeof(*p->node2s));
	}
}

/* The node where most of the guest's vCPUs (of `vnode`, or all) run. */
static int vcpu_node(const struct place *p, const struct vnumad_view *v, int gi, int vnode)
{
	double d[VNUMAD_MAX_NODES] = { 0 };
	const struct vnumad_guest *g = v->guests[gi];
	int best = -1;

	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct mvcpu *m = &p->vc[p->first[gi] + i];

		if (m->node >= 0 && (vnode < 0 || g->vcpus[i].vnode == vnode))
			d[m->node] += m->wish + 1e-6;
	}
	for (int n = 0; n < v->nr_nodes; n++)
		if (d[n] > 0 && (best < 0 || d[n] > d[best]))
			best = n;
	return best;
}

/* The usable node with the most free CPUs times free memory, but `not`. */
static int roomiest(const struct place *p, const struct vnumad_view *v, uint64_t not)
{
	int best = -1;
	double bm = 0;

	for (int n = 0; n < v->nr_nodes; n++) {
		double m;

		if (!pol_node_usable(v, n) || (not >> n & 1))
			continue;
		m = MAX(0.0, v->nodes[n].nr_cpus - p->load[n]) * MAX(0.0, p->mem_free[n]);
		if (best < 0 || m > bm) {
			best = n;
			bm = m;
		}
	}
	return best;
}

/*
 * vCPUs of the guest (of `vnode`, or all) to node `to` where its memory is:
 * all of them when the node has room for them, else as many as its room
 * takes (the first ones not there yet; phi their number), so that two
 * guests that each run where the other's memory is trade places over a
 * few ticks, as the room each one leaves lets the other in.
 */
static int cand_vcpus(struct place *p, const struct vnumad_view *v, int gi, int vnode,
		      int to, double life, struct cand *best)
{
	const struct vnumad_guest *g = v->guests[gi];
	int n = p->first[gi + 1] - p->first[gi], want = 0, k = 0;
	double room;
	struct cand c;

	if (g->quarantine >> to & 1)
		return 0;
	if (!cpu_room(p, v, gi, to, demand_off(p, v, gi, to, vnode))) {
		if (!pol_node_usable(v, to))
			return 0;
		room = cpu_free(p, v, to);
		for (int i = 0; i < n; i++) {
			const struct mvcpu *m = &p->vc[p->first[gi] + i];

			if (m->node < 0 || m->node == to ||
			    (vnode >= 0 && g->vcpus[i].vnode != vnode))
				continue;
			if (m->wish > room)
				break;
			room -= m->wish;
			want++;
		}
		if (!want)
			return 0;
	}
	if (cand_begin(p, v, gi) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (p->node2[i] >= 0 && p->node2[i] != to &&
		    (vnode < 0 || g->vcpus[i].vnode == vnode) && (!want || k++ < want))
			p->node2[i] = to;
	c = (struct cand){ .kind = C_VCPUS, .guest = gi, .vnode = vnode, .to = to,
			   .from = -1, .phi = want };
	consider(p, v, &c, life, best);
	return 0;
}

/* Whether vCPU i of the guest may be moved by this tick's proposals. */
static bool vcpu_free(const struct place *p, const struct vnumad_guest *g, int gi, int i)
{
	return p->vc[p->first[gi] + i].node >= 0 &&
	       !(g->vcpus[i].flags & (VNUMAD_VCPU_HOLD | VNUMAD_VCPU_IN_TRIAL));
}

/* Whether two vCPUs ask for alike CPU, so that trading them keeps the load. */
static bool demand_alike(double x, double y)
{
	return fabs(x - y) <= SWAP_MATCH * MAX(x, y) + 1e-9;
}

/*
 * How much a guest would like its vCPUs on `to` to be on `from` instead:
 * the share of its memory there less the share on `to`. Orders a swap's
 * partners, best first: the ideal one runs where the other's memory is
 * and keeps its own where the other runs.
 */
static double swap_appeal(const struct vnumad_guest *g, int from, int to)
{
	return ((double)g->mem[from] - (double)g->mem[to]) / (double)g->mem_total;
}

/*
 * vCPUs of the guest to node `to`, where its memory is, when that node has
 * no CPU room for even one of them: traded one for one with vCPUs of
 * another guest running there, of like CPU demand, which go to where these
 * come from. Loads stay as they are; the model weighs both guests, and a
 * partner that would lose more than SWAP_LOSS is not taken (the guard
 * judges both moves as their own trials). The kernel's task_numa_compare()
 * swaps tasks between full nodes the same way. The plan is weighed whole,
 * as many pairs as one partner gives, with the SWAP_PARTNERS most willing
 * partners weighed; the core's max_moves_per_tick takes the first pairs
 * and the rest come once they are judged.
 */
static int cand_swap(struct place *p, const struct vnumad_view *v, int gi, int to,
		     double life, struct cand *best)
{
	const struct vnumad_guest *g = v->guests[gi];
	int part[SWAP_PARTNERS], np = 0, from = -1;

	if (g->quarantine >> to & 1)
		return 0;
	for (int i = 0; i < g->nr_vcpus && from < 0; i++)
		if (vcpu_free(p, g, gi, i) && p->vc[p->first[gi] + i].node != to)
			from = p->vc[p->first[gi] + i].node;
	if (from < 0)
		return 0;
	/* the partners: guests running on `to` that could run where these do */
	for (int gj = 0; gj < v->nr_guests; gj++) {
		const struct vnumad_guest *h = v->guests[gj];
		int k;
		double appeal;

		if (gj == gi || p->moved[gj] || !movable(h) || vcpus_pinned(h) ||
		    (h->quarantine >> from & 1))
			continue;
		for (k = 0; k < h->nr_vcpus; k++)
			if (vcpu_free(p, h, gj, k) && p->vc[p->first[gj] + k].node == to)
				break;
		if (k == h->nr_vcpus)
			continue;
		/* kept best first, the SWAP_PARTNERS most willing */
		appeal = swap_appeal(h, from, to);
		if (np == SWAP_PARTNERS &&
		    appeal <= swap_appeal(v->guests[part[np - 1]], from, to))
			continue;
		k = np < SWAP_PARTNERS ? np++ : np - 1;
		for (; k > 0 && swap_appeal(v->guests[part[k - 1]], from, to) < appeal; k--)
			part[k] = part[k - 1];
		part[k] = gj;
	}
	for (int t = 0; t < np; t++) {
		const struct vnumad_guest *h = v->guests[part[t]];
		int gj = part[t], nh = p->first[gj + 1] - p->first[gj], pairs = 0;
		struct cand c;

		if (nh > p->cap_s) {
			if (GROW(p->node2s, nh) || GROW(p->best_node2s, nh))
				return -1;
			p->cap_s = nh;
		}
		if (cand_begin(p, v, gi) < 0)
			return -1;
		prepare(p, v, gj);
		for (int k = 0; k < nh; k++)
			p->node2s[k] = p->vc[p->first[gj] + k].node;
		/* each of its vCPUs trades with one of the partner's on `to` */
		for (int i = 0; i < g->nr_vcpus; i++) {
			int on = p->vc[p->first[gi] + i].node;

			if (on == to || !vcpu_free(p, g, gi, i))
				continue;
			for (int k = 0; k < nh; k++) {
				if (p->node2s[k] != to || !vcpu_free(p, h, gj, k) ||
				    (h->quarantine >> on & 1) ||
				    !demand_alike(g->vcpus[i].cpu_demand, h->vcpus[k].cpu_demand))
					continue;
				p->node2s[k] = on;
				p->node2[i] = to;
				pairs++;
				break;
			}
		}
		if (!pairs)
			continue;
		c = (struct cand){ .kind = C_SWAP, .guest = gi, .vnode = -1, .to = to,
				   .from = -1, .partner = gj, .phi = pairs };
		p->swap = gj;
		consider(p, v, &c, life, best);
		p->swap = -1;
	}
	return 0;
}

/*
 * Whether node n has no CPU room for even one of the guest's vCPUs that run
 * elsewhere: only then does a swap move another guest for it.
 */
static bool no_room_for_one(const struct place *p, const struct vnumad_view *v,
			    int gi, int n)
{
	double least = -1;

	if (!pol_node_usable(v, n))
		return false;
	for (int c = p->first[gi]; c < p->first[gi + 1]; c++)
		if (p->vc[c].node >= 0 && p->vc[c].node != n &&
		    (least < 0 || p->vc[c].wish < least))
			least = p->vc[c].wish;
	return least > 0 && least > cpu_free(p, v, n);
}

/*
 * Candidate: memory to node vn, where the vCPUs run; the largest remote
 * share first, all of it. For a guest whose vCPUs are pinned, which has no
 * other candidate, what fits when all does not.
 */
static int memory_to_vcpus(struct place *p, const struct vnumad_view *v, int gi, int vn,
			   double life, struct cand *best)
{
	const struct vnumad_guest *g = v->guests[gi];
	double bytes, room;
	struct cand c;
	int from = -1;

	if (vn < 0 || (g->quarantine >> vn & 1))
		return 0;
	for (int k = 0; k < v->nr_nodes; k++)
		if (k != vn && g->mem[k] && (from < 0 || g->mem[k] > g->mem[from]))
			from = k;
	if (from < 0)
		return 0;
	bytes = (double)g->mem[from];
	room = p->mem_free[vn];
	if (bytes > room) {
		if (!vcpus_pinned(g) || room < MIN_MOVE)
			return 0;
		bytes = room;
	}
	if (cand_begin(p, v, gi) < 0)
		return -1;
	cand_memory(p, gi, from, vn, bytes / (double)g->mem[from], -1, v);
	c = (struct cand){ .kind = C_MEMORY, .guest = gi, .vnode = -1, .from = from,
			   .to = vn, .phi = bytes / (double)g->mem[from], .bytes = bytes };
	consider(p, v, &c, life, best);
	return 0;
}

/* The candidates of a guest without known vnodes; the best in *best. */

static int weigh_flat(struct place *p, const struct vnumad_view *v, int gi,
		      double life, struct cand *best)
{
	const struct vnumad_guest *g = v->guests[gi];
	int home = pol_home_node(v, g), vn = vcpu_node(p, v, gi, -1), targets[4], nt = 0;
	bool memmove = !(g->flags & VNUMAD_GUEST_NO_MEMMOVE);
	int n = p->first[gi + 1] - p->first[gi];
	struct cand c;

	/* its vCPUs pinned: only its memory to them */
	if (vcpus_pinned(g))
		return memmove ? memory_to_vcpus(p, v, gi, vn, life, best) : 0;
	/* vCPUs to the memory, memory staying; traded for others' if it is full */
	if (home >= 0 && cand_vcpus(p, v, gi, -1, home, life, best) < 0)
		return -1;
	if (home >= 0 && no_room_for_one(p, v, gi, home) &&
	    cand_swap(p, v, gi, home, life, best) < 0)
		return -1;
	if (!memmove)
		return 0;
	/* the whole guest onto one node: its memory's, its vCPUs', the roomiest */
	if (home >= 0)
		targets[nt++] = home;
	if (vn >= 0 && vn != home)
		targets[nt++] = vn;
	targets[nt] = roomiest(p, v, (home >= 0 ? 1ULL << home : 0) |
			       (vn >= 0 ? 1ULL << vn : 0));
	if (targets[nt] >= 0)
		nt++;
	for (int t = 0; t < nt; t++) {
		int to = targets[t], from = -1;
		double bytes = (double)(g->mem_total - g->mem[to]), room = p->mem_free[to];

		if ((g->quarantine >> to & 1) || room < MIN_MOVE ||
		    !cpu_room(p, v, gi, to, demand_off(p, v, gi, to, -1)) ||
		    (double)g->mem[to] >= 0.98 * (double)g->mem_total)
			continue;
		if (cand_begin(p, v, gi) < 0)
			return -1;
		for (int i = 0; i < n; i++)
			if (p->node2[i] >= 0)
				p->node2[i] = to;
		if (bytes <= room) {
			for (int k = 0; k < v->nr_nodes; k++)
				if (k != to && g->mem[k])
					cand_memory(p, gi, k, to, 1.0, -1, v);
		} else {
			/* the target is too full: what fits, from the largest share */
			for (int k = 0; k < v->nr_nodes; k++)
				if (k != to && g->mem[k] && (from < 0 || g->mem[k] > g->mem[from]))
					from = k;
			bytes = MIN(room, (double)g->mem[from]);
			cand_memory(p, gi, from, to, bytes / (double)g->mem[from], -1, v);
		}
		c = (struct cand){ .kind = C_GATHER, .guest = gi, .vnode = -1, .to = to,
				   .from = from, .bytes = bytes };
		consider(p, v, &c, life, best);
	}
	return memory_to_vcpus(p, v, gi, vn, life, best);
}

/* The node holding most of vnode k's memory. */
static int vnode_home(const struct vnumad_view *v, const struct vnumad_guest *g, int k)
{
	int best = -1;

	for (int n = 0; n < v->nr_nodes; n++)
		if (vmem(g, k, n) > 0 && (best < 0 || vmem(g, k, n) > vmem(g, k, best)))
			best = n;
	return best;
}

/* True when vnode k holds at least 80% of the guest's memory on node n. */
static bool vnode_alone(const struct vnumad_guest *g, int nvn, int k, int n)
{
	double all = 0;

	for (int j = 0; j < nvn; j++)
		all += vmem(g, j, n);
	return all > 0 && vmem(g, k, n) >= 0.8 * all;
}

/* The candidates of a vNUMA guest whose vnodes' memory is known. */
static int weigh_vnodes(struct place *p, const struct vnumad_view *v, int gi,
			double life, struct cand *best)
{
	const struct vnumad_guest *g = v->guests[gi];
	int nvn = vnodes_known(v, g), n = p->first[gi + 1] - p->first[gi];
	bool memmove = !(g->flags & VNUMAD_GUEST_NO_MEMMOVE);
	struct cand c;

	for (int k = 0; k < nvn; k++) {
		int home = vnode_home(v, g, k), vn = vcpu_node(p, v, gi, k);
		int to;

		if (home < 0 || vn < 0)
			continue;
		/* its vCPUs to its memory */
		if (cand_vcpus(p, v, gi, k, home, life, best) < 0)
			return -1;
		/* its memory, alone on its node, to its vCPUs or to a node of its own */
		if (!memmove || !vnode_alone(g, nvn, k, home))
			continue;
		to = vn != home ? vn : roomiest(p, v, 1ULL << home);
		if (to < 0 || to == home || (g->quarantine >> to & 1) ||
		    vmem(g, k, home) > p->mem_free[to] ||
		    !cpu_room(p, v, gi, to, demand_off(p, v, gi, to, k)))
			continue;
		if (cand_begin(p, v, gi) < 0)
			return -1;
		for (int i = 0; i < n; i++)
			if (g->vcpus[i].vnode == k && p->node2[i] >= 0)
				p->node2[i] = to;
		cand_memory(p, gi, home, to, 1.0, k, v);
		c = (struct cand){ .kind = C_VNODE, .guest = gi, .vnode = k, .from = home,
				   .to = to, .phi = 1.0, .bytes = (double)g->mem[home] };
		consider(p, v, &c, life, best);
	}
	return 0;
}

/* The usable node whose vCPUs get the most of what they ask, but `not`. */
static int least_crowded(const struct place *p, const struct vnumad_view *v, int not)
{
	int best = -1;
	double bs = 0;

	for (int n = 0; n < v->nr_nodes; n++) {
		double sh;

		if (!pol_node_usable(v, n) || n == not)
			continue;
		sh = v->nodes[n].nr_cpus / MAX(p->load[n], 1e-9);
		if (best < 0 || sh > bs) {
			best = n;
			bs = sh;
		}
	}
	return best;
}

/*
 * Relief of a crowded node: as many of the guest's vCPUs there as even out
 * its load per CPU with the least crowded node's (and half as many), to
 * that node, memory staying. On a host crowded everywhere that evens the
 * shares out; the model says whether the remote accesses that follow cost
 * more.
 */
static int weigh_relief(struct place *p, const struct vnumad_view *v, int gi,
			double life, struct cand *best)
{
	const struct vnumad_guest *g = v->guests[gi];
	int n = p->first[gi + 1] - p->first[gi];
	struct cand c;

	for (int s = 0; s < v->nr_nodes; s++) {
		double w = 0, cs = v->nodes[s].nr_cpus, ct;
		int on = 0, to, even;

		if (p->share[s] >= 0.95)
			continue;
		for (int i = 0; i < n; i++)
			if (p->vc[p->first[gi] + i].node == s) {
				on++;
				w += p->vc[p->first[gi] + i].wish;
			}
		to = least_crowded(p, v, s);
		if (!on || to < 0 || (g->quarantine >> to & 1) || w <= 0)
			continue;
		/* as many as even the two nodes' load per CPU out, and half that */
		w /= on;
		ct = v->nodes[to].nr_cpus;
		even = (int)floor((p->load[s] / cs - p->load[to] / ct) / (w / cs + w / ct));
		even = MIN(MAX(even, 1), on);
		for (int half = 0; half < 2; half++) {
			int want = half ? even / 2 : even, k = 0;

			if (!want || (half && want == even))
				continue;
			if (cand_begin(p, v, gi) < 0)
				return -1;
			for (int i = 0; i < n && k < want; i++)
				if (p->node2[i] == s) {
					p->node2[i] = to;
					k++;
				}
			c = (struct cand){ .kind = C_RELIEVE, .guest = gi, .vnode = -1,
					   .from = s, .to = to, .phi = (double)want };
			consider(p, v, &c, life, best);
		}
	}
	return 0;
}

static uint64_t round_pages(double bytes)
{
	return bytes <= 0 ? 0 : (uint64_t)bytes & ~(PAGE_2M - 1);
}

static const char *kind_words(enum cand_kind k)
{
	switch (k) {
	case C_VCPUS: return "its vCPUs to its memory";
	case C_GATHER: return "the whole guest onto one node";
	case C_MEMORY: return "its memory to its vCPUs";
	case C_RELIEVE: return "its vCPUs off a crowded node";
	case C_VNODE: return "a guest NUMA node onto a node of its own";
	case C_SWAP: return "its vCPUs to its memory, trading places";
	default: return "nothing";
	}
}

/*
 * Applies a chosen candidate to the model, so that later ones see it: its
 * placement as consider kept it (the scratch holds whatever was weighed
 * last).
 */
static void commit(struct place *p, const struct vnumad_view *v, const struct cand *c)
{
	int gi = c->guest, nn = p->nn, g0 = p->first[gi], n = p->first[gi + 1] - g0;

	for (int i = 0; i < n; i++) {
		struct mvcpu *m = &p->vc[g0 + i];
		double *a = &p->a[(size_t)(g0 + i) * nn], *a2 = &p->best_a2[(size_t)i * nn];
		int to = p->best_node2[i];

		if (m->node < 0)
			continue;
		for (int k = 0; k < nn; k++)
			p->traffic[k] += m->traffic * (a2[k] - a[k]);
		memcpy(a, a2, nn * sizeof(double));
		if (to != m->node) {
			p->load[m->node] -= m->wish;
			p->load[to] += m->wish;
			m->node = to;
		}
	}
	for (int k = 0; k < nn; k++)
		p->M[k] = pol_queue(p->traffic[k] / p->cap[k], p->k);
	for (int i = 0; i < n; i++)
		if (p->vc[g0 + i].node >= 0)
			p->vc[g0 + i].t0 = pol_vcpu_time(v, &p->a[(size_t)(g0 + i) * nn],
							 p->vc[g0 + i].node, p->vc[g0 + i].b, p->M);
	if (c->kind == C_SWAP) {
		int h0 = p->first[c->partner], nh = p->first[c->partner + 1] - h0;

		for (int i = 0; i < nh; i++) {
			struct mvcpu *m = &p->vc[h0 + i];
			int to = p->best_node2s[i];

			if (m->node < 0 || to == m->node)
				continue;
			p->load[m->node] -= m->wish;
			p->load[to] += m->wish;
			m->node = to;
			m->t0 = pol_vcpu_time(v, &p->a[(size_t)(h0 + i) * nn], to, m->b, p->M);
		}
		p->moved[c->partner] = 1;
	}
	if (c->kind == C_GATHER && c->from < 0)
		p->mem_free[c->to] -= c->bytes;
	else if (c->bytes > 0)
		p->mem_free[c->to] -= MIN(c->bytes, p->batch);
	p->moved[gi] = 1;
}

/*
 * The memory a candidate's proposals migrate this tick: its first batch
 * (a whole-guest move of the core's: all it has outside the node), 0 for
 * one below MIN_MOVE, which is not proposed.
 */
static double batch_bytes(const struct place *p, const struct vnumad_guest *g,
			  const struct cand *c)
{
	double b;

	switch (c->kind) {
	case C_GATHER:
		b = c->from < 0 ? c->bytes : round_pages(MIN(c->bytes, p->batch));
		break;
	case C_MEMORY:
	case C_VNODE:
		b = round_pages(MIN(c->bytes, MIN(p->batch, (double)g->mem[c->from])));
		break;
	default:
		return 0;
	}
	return b >= MIN_MOVE ? b : 0;
}

/* Turns a chosen candidate into proposals; returns how many. */
static int propose(struct place *p, const struct vnumad_view *v, const struct cand *c,
		   struct vnumad_out *out)
{
	const struct vnumad_guest *g = v->guests[c->guest];
	struct vnumad_proposal q;
	int made = 0, relieved = 0;
	char why[VNUMAD_REASON_MAX];

	snprintf(why, sizeof(why), "%s, node %d: the guests gain %+.1f%% in log-speed "
		 "(this one %+.0f%%)", kind_words(c->kind), c->to, c->net * 100, c->own * 100);
	memset(&q, 0, sizeof(q));
	q.guest = c->guest;
	q.gain = c->own;
	snprintf(q.reason, sizeof(q.reason), "%s", why);
	switch (c->kind) {
	case C_GATHER:
		if (c->from < 0) {
			q.kind = VNUMAD_MOVE_GUEST;
			q.nodes = 1ULL << c->to;
			made += vnumad_propose(out, &q) == 0;
			break;
		}
		/* what fits of the memory, then every vCPU */
		q.kind = VNUMAD_MOVE_MEMORY;
		q.from = c->from;
		q.to = c->to;
		q.bytes = batch_bytes(p, g, c);
		q.gain = c->own + 1e-3;
		if (q.bytes >= MIN_MOVE)
			made += vnumad_propose(out, &q) == 0;
		q.kind = VNUMAD_MOVE_VCPU;
		q.gain = c->own;
		q.bytes = 0;
		for (int i = 0; i < g->nr_vcpus; i++) {
			const struct vnumad_vcpu *x = &g->vcpus[i];

			if (x->node < 0 || x->node == c->to ||
			    (x->flags & (VNUMAD_VCPU_HOLD | VNUMAD_VCPU_IN_TRIAL)))
				continue;
			q.vcpu = i;
			q.from = x->node;
			made += vnumad_propose(out, &q) == 0;
		}
		break;
	case C_MEMORY:
	case C_VNODE:
		q.kind = VNUMAD_MOVE_MEMORY;
		q.from = c->from;
		q.to = c->to;
		q.bytes = batch_bytes(p, g, c);
		/* memory first: under a move cap, the vCPUs that lag follow later */
		q.gain = c->own + 1e-3;
		if (q.bytes >= MIN_MOVE)
			made += vnumad_propose(out, &q) == 0;
		if (c->kind == C_MEMORY)
			break;
		/* the vnode's vCPUs follow their memory */
		__attribute__((fallthrough));
	case C_VCPUS:
	case C_RELIEVE:
		q.kind = VNUMAD_MOVE_VCPU;
		q.gain = c->own;
		for (int i = 0; i < g->nr_vcpus; i++) {
			const struct vnumad_vcpu *x = &g->vcpus[i];

			if (x->node < 0 || x->node == c->to ||
			    (x->flags & (VNUMAD_VCPU_HOLD | VNUMAD_VCPU_IN_TRIAL)) ||
			    (c->vnode >= 0 && x->vnode != c->vnode) ||
			    (c->kind == C_RELIEVE && x->node != c->from))
				continue;
			if ((c->kind == C_RELIEVE || (c->kind == C_VCPUS && c->phi > 0)) &&
			    relieved++ >= (int)c->phi)
				break;
			q.vcpu = i;
			q.from = x->node;
			q.to = c->to;
			made += vnumad_propose(out, &q) == 0;
		}
		break;
	case C_SWAP: {
		const struct vnumad_guest *h = v->guests[c->partner];
		int h0 = p->first[c->partner];

		/*
		 * Pairs: one of its vCPUs, and one of the partner's going where
		 * that one leaves (node2s, free now, marks those taken), or
		 * neither.
		 */
		q.kind = VNUMAD_MOVE_VCPU;
		memcpy(p->node2s, p->best_node2s, (size_t)h->nr_vcpus * sizeof(*p->node2s));
		for (int i = 0; i < g->nr_vcpus; i++) {
			struct vnumad_proposal r = q;
			int on = p->vc[p->first[c->guest] + i].node, k;

			if (p->best_node2[i] == on)
				continue;
			for (k = 0; k < h->nr_vcpus; k++)
				if (p->node2s[k] == on && p->vc[h0 + k].node == c->to)
					break;
			if (k == h->nr_vcpus || out->len + 2 > out->cap)
				continue;
			p->node2s[k] = -2;
			q.vcpu = i;
			q.from = on;
			q.to = c->to;
			r.guest = c->partner;
			r.vcpu = k;
			r.from = c->to;
			r.to = on;
			snprintf(r.reason, sizeof(r.reason), "trades places with %s's vCPU %d, "
				 "whose memory is on node %d: the guests gain %+.1f%% in log-speed "
				 "(this one %+.0f%%)", g->name, i, c->to, c->net * 100,
				 c->other * 100);
			made += vnumad_propose(out, &q) == 0;
			made += vnumad_propose(out, &r) == 0;
		}
		break;
	}
	case C_NONE:
		break;
	}
	return made;
}

/* True when the core acted on the guest in the last tick (or judges it). */
static bool applied(const struct vnumad_guest *g)
{
	if (g->flags & (VNUMAD_GUEST_IN_TRIAL | VNUMAD_GUEST_MIGRATING))
		return true;
	for (int i = 0; i < g->nr_vcpus; i++)
		if (g->vcpus[i].flags & VNUMAD_VCPU_HOLD)
			return true;
	return false;
}

/* Remembers where the guest's memory is as its hold begins. */
static void hold_begins(const struct vnumad_view *v, const struct vnumad_guest *g,
			struct gstate *s)
{
	for (int n = 0; n < v->nr_nodes; n++)
		s->mem_share[n] = g->mem_total ? (float)((double)g->mem[n] /
							 (double)g->mem_total) : 0;
}

/*
 * A hold keeps place from undoing or re-deciding its own recent move on
 * figures that have barely changed. It has no reason to stand once the
 * guest itself has moved its memory (a new working set first touched on
 * another node): the placement it was held in is gone. Plans that move
 * memory keep their hold: the shift is their own.
 */
static bool hold_stands(const struct vnumad_view *v, const struct vnumad_guest *g,
			const struct gstate *s)
{
	double shift = 0;

	if (s->plan_kind != C_VCPUS && s->plan_kind != C_RELIEVE && s->plan_kind != C_SWAP)
		return true;
	if (!g->mem_total)
		return true;
	for (int n = 0; n < v->nr_nodes; n++)
		shift += fabs((double)g->mem[n] / (double)g->mem_total - s->mem_share[n]);
	return shift / 2 < OWN_SHIFT;
}

static int by_trouble(const void *x, const void *y)
{
	const struct rank *a = x, *b = y;

	if (a->trouble != b->trouble)
		return a->trouble > b->trouble ? -1 : 1;
	return (a->guest > b->guest) - (a->guest < b->guest);
}

/*
 * The second pass's order: the migrations first, most value per byte
 * first. All migrations share the mover (migrate_rate), so on a host with
 * more to migrate than it moves in a while this is Smith's rule (weighted
 * shortest processing time first, which minimises the summed weighted
 * completion time): the gains that take least mover time each come first.
 * A guest whose migration is large but worth much still goes before many
 * small ones worth little. Then the guests the first pass did not reach,
 * most troubled first.
 */
static int by_density(const void *x, const void *y)
{
	const struct rank *a = x, *b = y;

	if ((a->trouble < 0) != (b->trouble < 0))
		return a->trouble < 0 ? 1 : -1;
	if (a->migrates != b->migrates)
		return a->migrates ? -1 : 1;
	if (a->migrates && a->density != b->density)
		return a->density > b->density ? -1 : 1;
	return by_trouble(x, y);
}

/*
 * One pass over the troubled guests (p->order[0..nr)): pass 0 proposes the
 * moves that migrate nothing and marks the others, pass 1 the migrations.
 * *chosen counts the placements proposed, both passes together.
 */
static int weigh_pass(struct place *p, const struct vnumad_view *v, struct vnumad_out *out,
		      int nr, int pass, int *chosen)
{
	for (int i = 0; i < nr && p->work < WORK_PER_TICK &&
	     *chosen < CHOICES_PER_TICK; i++) {
		int gi = p->order[i].guest;
		const struct vnumad_guest *g = v->guests[gi];
		struct gstate *s = state_of(v, g);
		struct cand best = { .kind = C_NONE };
		double life = VNUMAD_GUEST_HAS(v, age) ? MAX(g->age, v->interval) : 3600;
		int r;

		if (p->order[i].trouble < 0 || p->moved[gi])
			continue;
		if (s && s->acted >= 0 && v->now - s->acted < p->hold &&
		    s->plan_kind != C_MEMORY && s->plan_kind != C_VNODE &&
		    s->plan_kind != C_GATHER)
			continue;
		/* a pinned vNUMA guest's memory is each vnode's: not weighed */
		if (vcpus_pinned(g) && vnodes_known(v, g))
			continue;
		r = vnodes_known(v, g) ? weigh_vnodes(p, v, gi, life, &best) :
			weigh_flat(p, v, gi, life, &best);
		if (r < 0 || (!vcpus_pinned(g) && weigh_relief(p, v, gi, life, &best) < 0))
			return -POL_ENOMEM;
		/* a migration waits for the second pass; a guest is done once */
		if (pass == 0 && best.kind != C_NONE && best.bytes > 0) {
			p->order[i].migrates = true;
			p->order[i].density = best.net / best.bytes;
			continue;
		}
		p->order[i].trouble = -1;
		/* a plan under way goes on with its next batch, nothing else */
		if (s && s->acted >= 0 && v->now - s->acted < p->hold &&
		    (best.kind != s->plan_kind || best.to != s->plan_to))
			continue;
		if (best.kind == C_NONE)
			continue;
		/*
		 * A migration the core has no budget for this tick waits: it
		 * would be dropped, and a gather's vCPUs, which go with its
		 * first batch, would run ahead of their memory until it came.
		 */
		if (batch_bytes(p, g, &best) > p->budget)
			continue;
		if (!propose(p, v, &best, out))
			continue;
		p->budget -= batch_bytes(p, g, &best);
		(*chosen)++;
		commit(p, v, &best);
		if (s) {
			s->proposed = v->now;
			s->plan_kind = best.kind;
			s->plan_from = best.from;
			s->plan_to = best.to;
		}
		/* a swap's partner is held as after a vCPU move of its own */
		if (best.kind == C_SWAP && (s = state_of(v, v->guests[best.partner]))) {
			s->proposed = v->now;
			s->plan_kind = C_VCPUS;
			s->plan_from = best.to;
			s->plan_to = -1;
		}
	}
	return 0;
}

static int place_tick(void *priv, const struct vnumad_view *v, struct vnumad_out *out)
{
	struct place *p = priv;
	int nr = 0;

	p->work = 0;
	p->rate = VNUMAD_HAS(struct vnumad_view, v, migrate_rate) && v->migrate_rate > 0 ?
		  v->migrate_rate : DEFAULT_RATE;
	p->budget = VNUMAD_HAS(struct vnumad_view, v, migrate_budget) &&
		    v->migrate_budget > 0 ? v->migrate_budget : 1e18;
	if (build(p, v) < 0)
		return -POL_ENOMEM;
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];
		struct gstate *s = state_of(v, g);

		/* the hold starts only if the core applied what was proposed */
		if (s && s->proposed >= 0 && applied(g) && s->acted < s->proposed) {
			s->acted = s->proposed;
			hold_begins(v, g, s);
		}
		if (s && s->acted >= 0 && v->now - s->acted < p->hold &&
		    !hold_stands(v, g, s))
			s->acted = -1;
		if (movable(g)) {
			double t = trouble(p, v, gi);

			if (t > TROUBLE_MIN)
				p->order[nr++] = (struct rank){ .trouble = t, .guest = gi };
		}
	}
	if (nr > 1)
		qsort(p->order, nr, sizeof(*p->order), by_trouble);
	/*
	 * Two passes: first the guests whose best move migrates nothing (vCPUs
	 * to their memory, off a crowded node), then the others, weighed again
	 * on the host those moves leave. A migration chosen first could take
	 * the CPU room of a node holding another guest's memory, whose vCPUs
	 * could have gone there for free (the four-node VM: "crowded" moved
	 * whole onto the idle node holding "far"'s memory, and far's memory was
	 * then migrated to its vCPU: two migrations where one was needed).
	 * The second takes the migrations by value per byte (by_density).
	 */
	for (int pass = 0, chosen = 0; pass < 2; pass++) {
		if (pass == 1 && nr > 1)
			qsort(p->order, nr, sizeof(*p->order), by_density);
		if (weigh_pass(p, v, out, nr, pass, &chosen) < 0)
			return -POL_ENOMEM;
	}
	return 0;
}

const struct vnumad_policy vn_policy_place = {
	VNUMAD_POLICY_INIT,
	.name = "place",
	.description = "each guest where a model of the host says it runs "
		       "best, every move weighed against what it costs",
	.options = place_options,
	.init = place_init,
	.tick = place_tick,
	.fini = place_fini,
	.guest_init = place_guest_init,
	.guest_exit = place_guest_exit,
};
