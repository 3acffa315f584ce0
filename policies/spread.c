// SPDX-License-Identifier: MIT
/*
 * spread: bandwidth-aware placement that keeps vNUMA groups whole.
 *
 * Locality is not the whole story. Carrefour (Dashti et al., ASPLOS 2013)
 * showed that on modern NUMA hosts congestion of the memory controllers and
 * the interconnect costs more than the extra latency of remote accesses: a
 * bandwidth-bound program crammed into one node runs faster with its memory
 * interleaved over several, although more of its accesses are then remote
 * (up to 3.6x in their measurements, never more than 4% worse). This policy
 * applies that to guests, with the queueing model of the simulated host
 * (sim/README.md): a node's memory latency grows as M(u) = 1 + k u/(1 - u)
 * with the utilisation u = bw_used / bw_max of its controllers. It weighs
 * CPU time-sharing the same way, since a node over-committed with vCPUs
 * slows all of them.
 *
 * Each tick, in order, each guest acted on at most once:
 *
 *  0. Plans. A group move (the vCPUs of one vnode, or of one guest on one
 *     node) that the core's per-tick move cap cut short is completed, so
 *     that a vnode is not left split.
 *  1. Hot nodes, the hottest first: memory controllers above `saturation`
 *     (where the backend knows bw_max), or CPUs over-committed. cpu_load is
 *     measured use and reads about 1 on an over-committed node; the share
 *     its vCPUs get of what they want is estimated as the largest demand of
 *     a vCPU there (time-sharing scales them all alike). The guests with the
 *     largest part in the heat (traffic there, or vCPUs there) are weighed
 *     against the coolest nodes with remedies: interleave a quarter or half
 *     of a guest's memory on the hot node to the cool one (bandwidth only;
 *     its vCPUs stay); move the whole guest; move its vCPUs on the hot node
 *     alone (no memory: right for compute-bound guests); or, for a vNUMA
 *     guest, move one virtual node -- its vCPUs together, and its memory
 *     with them when that memory is alone on its node (a migration takes
 *     pages of every vnode on its source node, so the memory of vnodes that
 *     share a node cannot be told apart). The remedy kept is the one with
 *     the best host gain less its price (below), if it also gives the guest
 *     min_gain. Nothing more is tried on a node while a guest there is
 *     migrating or being judged: the next decision waits for the counters.
 *  2. Locality, vnode by vnode. A vCPU runs best next to the memory of its
 *     own virtual NUMA node (the view's vcpu.vnode; the vnode's node is
 *     inferred by pol_vnode_homes), or for a guest without vNUMA next to most
 *     of the guest's memory. A vCPU away from it with a remote ratio above
 *     remote_threshold goes there when the node has CPU room. For a guest
 *     without vNUMA the alternative is weighed too: its largest remote share
 *     of memory to where its vCPUs run (memory_batch at most), chosen when
 *     the host gains more that way by more than the price -- typically when
 *     the memory's node is busy, so that taking traffic off it helps every
 *     guest there -- or when the vCPUs have no CPU room at home. A vNUMA
 *     guest's vnode whose vCPUs cannot go home gets its memory instead.
 *  3. Gathering. A guest without vNUMA whose memory is scattered over nodes
 *     (no node holds 90% of it) is brought onto the single node that holds
 *     most of it and has room for all of it, vCPUs and memory, when the
 *     model says the host gains more than the price. A guest spread on
 *     purpose is safe: gathering it would saturate a node, which the model
 *     sees, and `cooldown` keeps a guest that was spread or gathered from
 *     being moved back soon after.
 *
 * Expected gain. A vCPU's time per instruction is (1 - b) + b * sum_n a[n] *
 * latency(s, n) * M(u_n) (pol_vcpu_time: b its stall share from its DRAM
 * accesses per kilo-instruction, a[n] where its accesses go, s its node).
 * For vCPU moves that is evaluated before and after with today's M. For the
 * remedies, the memory alternative and gathering, the model is solved to a
 * fixed point over the whole host, because faster vCPUs issue more traffic:
 * each vCPU's speed-up x scales its traffic, the traffic sets each node's u
 * and M, and M sets x, iterated with damping; a vCPU's CPU share on an
 * over-committed node is cpus / demand there. The gain of a proposal is its
 * guest's (IPS-weighted) speed-up; the choice uses the host's. Migration is
 * priced, not modelled: each GiB must buy `migration_cost` of the moved
 * guest's own throughput, so that small gains do not move large memory, and
 * no proposal moves more than the core would accept at once (max_migration,
 * or the view's migrate_budget). The model's work per tick is bounded, so a
 * large host is weighed over several ticks. Where bw_max is unknown (0) the
 * bandwidth part is idle and M = 1: the policy is then a vNUMA-aware
 * locality policy that also relieves over-committed CPUs and gathers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies.h"

#define DRAM_LINE	64.0	/* bytes one DRAM access moves */
#define MIN_MOVE	(64.0 * 1024 * 1024)
#define PAGE_2M		((uint64_t)2 << 20)
#define SOLVE_ROUNDS	24
#define GATHER_RETRY	30.0	/* seconds before a rejected gather is re-evaluated */
#define DEFAULT_LIMIT	(14.0 * 1024 * 1024 * 1024)	/* under 256MiB/s x 60 s */
#define TOP_GUESTS	8	/* guests weighed per hot node and tick */
#define WORK_PER_TICK	4e6	/* vCPU x node x round steps of the model per tick */
#define TOP_NODES	3	/* targets weighed per guest */
#define CPU_FULL	0.97	/* cpu_load from which a node's vCPUs may be throttled */
#define CPU_HOT		0.95	/* share of their wish below which its CPUs are hot */

enum {
	OPT_SATURATION,
	OPT_QUEUE_FACTOR,
	OPT_REMOTE_THRESHOLD,
	OPT_MIN_ACCESS_RATE,
	OPT_MIN_GAIN,
	OPT_CPU_HEADROOM,
	OPT_MEMORY_RESERVE,
	OPT_MEMORY_BATCH,
	OPT_GATHER,
	OPT_COOLDOWN,
	OPT_MIGRATION_COST,
	OPT_MAX_MIGRATION,
	NR_OPTS
};

static const struct vnumad_option spread_options[] = {
	[OPT_SATURATION] = { "saturation", VNUMAD_OPT_PERCENT, "60%", 0.1, 0.99,
		"utilisation of a node's memory controllers above which its guests are spread" },
	[OPT_QUEUE_FACTOR] = { "queue_factor", VNUMAD_OPT_DOUBLE, "0.5", 0, 10,
		"factor k of the queueing model M(u) = 1 + k u/(1 - u)" },
	[OPT_REMOTE_THRESHOLD] = { "remote_threshold", VNUMAD_OPT_PERCENT, "30%", 0, 1,
		"a vCPU is misplaced when more of its DRAM accesses than this are remote" },
	[OPT_MIN_ACCESS_RATE] = { "min_access_rate", VNUMAD_OPT_DOUBLE, "1000000", 0, 1e12,
		"DRAM accesses per second below which a vCPU's placement does not matter" },
	[OPT_MIN_GAIN] = { "min_gain", VNUMAD_OPT_PERCENT, "5%", 0, 10,
		"smallest expected gain of the moved guest (or vCPU) worth proposing" },
	[OPT_CPU_HEADROOM] = { "cpu_headroom", VNUMAD_OPT_PERCENT, "10%", 0, 0.9,
		"share of a node's CPUs kept free when moving vCPUs onto it" },
	[OPT_MEMORY_RESERVE] = { "memory_reserve", VNUMAD_OPT_SIZE, "512MiB", 0, 1099511627776.0,
		"free memory left on a node that receives migrated memory" },
	[OPT_MEMORY_BATCH] = { "memory_batch", VNUMAD_OPT_SIZE, "4GiB", 2097152, 1099511627776.0,
		"most memory moved toward a guest's vCPUs in one tick" },
	[OPT_GATHER] = { "gather", VNUMAD_OPT_BOOL, "yes", 0, 0,
		"bring a guest whose memory is scattered onto one node when it fits there" },
	[OPT_COOLDOWN] = { "cooldown", VNUMAD_OPT_DURATION, "10min", 0, 86400,
		"time before a guest that was spread or gathered is spread or gathered again" },
	[OPT_MIGRATION_COST] = { "migration_cost", VNUMAD_OPT_PERCENT, "3%", 0, 10,
		"gain, in the moved guest's own throughput, one GiB of migration must buy" },
	[OPT_MAX_MIGRATION] = { "max_migration", VNUMAD_OPT_SIZE, "0", 0, 1099511627776.0,
		"most memory one proposal may migrate; 0: what the core accepts "
		"(the view's migrate_budget, else 14GiB)" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

/*
 * What spread keeps of a guest (its guest_init storage): state, when[] and
 * arg[]. A group move (a vnode's or a node's vCPUs) that the per-tick move
 * cap cut short is a plan: arg[] says which vCPUs go where, and the rest
 * follow in later ticks.
 */
struct sguest {
	int state;
	double when[4];		/* times, -1 none: see the enum below */
	int arg[4];
	double value;		/* the plan's expected gain */
};

enum { IDLE, PENDING, PLAN };
enum { ACTED, PROPOSED, GATHER_EVAL, MEMORY_EVAL };
enum { PLAN_TO, PLAN_FROM, PLAN_VNODE };	/* arg[]; -1: any */
#define PLAN_TIME	180.0	/* seconds a plan may take to complete */

/*
 * The host model of one tick, for predicting the effect of a change: per
 * vCPU its node, stall share, speed, traffic and access mix, and a scratch
 * copy of one guest's vCPUs that a candidate change modifies.
 */
struct pred {
	int nv, cap_v, cap_g;
	int *first;		/* [nr_guests + 1] first vCPU of each guest */
	int *s;			/* [nv] node, -1: not modelled */
	double *b, *ips, *traffic, *t0, *x, *demand;
	double *a;		/* [nv * nodes] access mix */
	double load[VNUMAD_MAX_NODES];	/* CPU demand per node */
	double M0[VNUMAD_MAX_NODES];
	double ips_total;
	int cg;			/* the guest a candidate changes, -1 none */
	int *s2;		/* [its vCPUs] */
	double *a2;		/* [its vCPUs * nodes] */
	int cap_c;
};

struct spread {
	double saturation, k, threshold, min_rate, min_gain, headroom;
	double reserve, batch, cooldown, migration_cost, max_migration;
	double limit;		/* this tick's: max_migration, or the core's */
	bool gather;
	double u[VNUMAD_MAX_NODES], M[VNUMAD_MAX_NODES];
	double share[VNUMAD_MAX_NODES];	/* estimated CPU share its vCPUs get */
	double planned_cpu[VNUMAD_MAX_NODES];
	double planned_mem[VNUMAD_MAX_NODES];
	unsigned char *touched;	/* [nr_guests] acted on in this tick */
	int cap_touched;
	int *mv_vcpu, *mv_to;	/* stage 2's vCPU moves of one guest */
	double *mv_gain;
	int cap_mv;
	bool pred_ready;
	double work;		/* model steps spent in this tick */
	struct pred p;
};

static int spread_init(void **priv, const struct vnumad_init_args *args)
{
	struct spread *s = calloc(1, sizeof(*s));

	if (!s)
		return -POL_ENOMEM;
	s->saturation = args->values[OPT_SATURATION].num;
	s->k = args->values[OPT_QUEUE_FACTOR].num;
	s->threshold = args->values[OPT_REMOTE_THRESHOLD].num;
	s->min_rate = args->values[OPT_MIN_ACCESS_RATE].num;
	s->min_gain = args->values[OPT_MIN_GAIN].num;
	s->headroom = args->values[OPT_CPU_HEADROOM].num;
	s->reserve = args->values[OPT_MEMORY_RESERVE].num;
	s->batch = args->values[OPT_MEMORY_BATCH].num;
	s->gather = args->values[OPT_GATHER].boolean;
	s->cooldown = args->values[OPT_COOLDOWN].num;
	s->migration_cost = args->values[OPT_MIGRATION_COST].num;
	s->max_migration = args->values[OPT_MAX_MIGRATION].num;
	*priv = s;
	return 0;
}

static void pred_free(struct pred *p)
{
	free(p->first);
	free(p->s);
	free(p->b);
	free(p->ips);
	free(p->traffic);
	free(p->t0);
	free(p->x);
	free(p->demand);
	free(p->a);
	free(p->s2);
	free(p->a2);
}

static void spread_fini(void *priv)
{
	struct spread *s = priv;

	if (!s)
		return;
	pred_free(&s->p);
	free(s->touched);
	free(s->mv_vcpu);
	free(s->mv_to);
	free(s->mv_gain);
	free(s);
}

/* Resizes array p to n elements; 0, or -1 with p untouched. */
#define GROW(p, n) ({							\
	__typeof__(p) q_ = realloc((p), (size_t)(n) * sizeof(*(p)));	\
	q_ ? ((p) = q_, 0) : -1;					\
})

/*
 * The share of what they ask that the vCPUs of each node get. cpu_load is
 * measured use, so an over-committed node reads full and its vCPUs' demand
 * reads low: time-sharing scales every vCPU there by the same factor, and a
 * vCPU asks at most one CPU, so the largest demand seen on a full node is
 * (at least) that factor.
 */
static void estimate_shares(struct spread *sp, const struct vnumad_view *v)
{
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];

		for (int i = 0; i < g->nr_vcpus; i++) {
			int n = g->vcpus[i].node;

			if (n >= 0 && n < v->nr_nodes && g->vcpus[i].cpu_demand > sp->share[n])
				sp->share[n] = g->vcpus[i].cpu_demand;
		}
	}
	for (int n = 0; n < v->nr_nodes; n++)
		if (v->nodes[n].cpu_load < CPU_FULL || sp->share[n] <= 0.05 ||
		    sp->share[n] > 1)
			sp->share[n] = 1;
}

/* What a vCPU would use unthrottled: its demand over its node's share. */
static double wish(const struct spread *sp, const struct vnumad_view *v,
		   const struct vnumad_vcpu *c)
{
	double w = c->cpu_demand;

	if (c->node >= 0 && c->node < v->nr_nodes)
		w /= sp->share[c->node];
	return w > 1 ? 1 : w;
}

/* Fills the model from the view: the state every candidate is compared to. */
static int pred_build(struct spread *sp, const struct vnumad_view *v)
{
	struct pred *p = &sp->p;
	int nn = v->nr_nodes, nv = 0;

	for (int gi = 0; gi < v->nr_guests; gi++)
		nv += v->guests[gi]->nr_vcpus;
	if (nv > p->cap_v) {
		int cap = nv * 2;

		if (GROW(p->s, cap) || GROW(p->b, cap) || GROW(p->ips, cap) ||
		    GROW(p->traffic, cap) || GROW(p->t0, cap) || GROW(p->x, cap) ||
		    GROW(p->demand, cap) || GROW(p->a, (size_t)cap * nn))
			return -1;
		p->cap_v = cap;
	}
	if (v->nr_guests + 1 > p->cap_g) {
		if (GROW(p->first, v->nr_guests * 2 + 1))
			return -1;
		p->cap_g = v->nr_guests * 2 + 1;
	}
	p->nv = nv;
	p->cg = -1;
	p->ips_total = 0;
	for (int n = 0; n < nn; n++) {
		p->load[n] = 0;
		p->M0[n] = sp->M[n];
	}
	nv = 0;
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];

		p->first[gi] = nv;
		for (int i = 0; i < g->nr_vcpus; i++, nv++) {
			const struct vnumad_vcpu *c = &g->vcpus[i];
			double *a = &p->a[(size_t)nv * nn];

			p->s[nv] = c->node >= 0 && c->node < nn && c->ips > 0 ? c->node : -1;
			p->ips[nv] = c->ips > 0 ? c->ips : 0;
			p->b[nv] = pol_stall_share(c);
			p->traffic[nv] = c->access_rate > 0 ? c->access_rate * DRAM_LINE : 0;
			p->demand[nv] = wish(sp, v, c);
			pol_access_mix(v, g, c, a);
			p->t0[nv] = p->s[nv] >= 0 ?
				    pol_vcpu_time(v, a, p->s[nv], p->b[nv], p->M0) : 1;
			if (p->s[nv] >= 0) {
				p->ips_total += p->ips[nv];
				p->load[p->s[nv]] += p->demand[nv];
			}
		}
	}
	p->first[v->nr_guests] = nv;
	return 0;
}

/*
 * Readies the model for candidates: false when memory runs out, or when this
 * tick's share of model work is spent (on a large host the candidates of
 * the next ticks get their turn; meanwhile plain vCPU moves go on).
 */
static bool model_ready(struct spread *sp, const struct vnumad_view *v)
{
	if (sp->work >= WORK_PER_TICK)
		return false;
	if (!sp->pred_ready) {
		if (pred_build(sp, v) < 0)
			return false;
		sp->pred_ready = true;
	}
	return true;
}

/* Starts a candidate change of guest gi: a scratch copy of its vCPUs. */
static int pred_begin(struct pred *p, const struct vnumad_view *v, int gi)
{
	int nn = v->nr_nodes, n = p->first[gi + 1] - p->first[gi];

	if (n > p->cap_c) {
		if (GROW(p->s2, n) || GROW(p->a2, (size_t)n * nn))
			return -1;
		p->cap_c = n;
	}
	p->cg = gi;
	memcpy(p->s2, p->s + p->first[gi], n * sizeof(int));
	memcpy(p->a2, p->a + (size_t)p->first[gi] * nn, (size_t)n * nn * sizeof(double));
	return 0;
}

/* The candidate moves vCPU i of its guest to node `to`. */
static void pred_vcpu(struct pred *p, int i, int to)
{
	if (p->s2[i] >= 0)
		p->s2[i] = to;
}

/*
 * The candidate moves a share `phi` of the guest's memory on `from` to `to`;
 * pages go at random, so every vCPU's accesses to `from` follow in proportion.
 */
static void pred_memory(struct pred *p, const struct vnumad_view *v, int from,
			int to, double phi)
{
	int nn = v->nr_nodes, n = p->first[p->cg + 1] - p->first[p->cg];

	for (int i = 0; i < n; i++) {
		double *a = &p->a2[(size_t)i * nn], d = a[from] * phi;

		a[from] -= d;
		a[to] += d;
	}
}

static double cpu_share(double cpus, double load)
{
	return load > cpus && load > 0 ? cpus / load : 1.0;
}

/*
 * Solves the model with the candidate change to a fixed point. Returns the
 * host's relative change of instructions per second; *guest gets the
 * changed guest's, and *part (if not NULL) the guest's part of the host's
 * instructions per second today.
 */
static double pred_solve(struct spread *sp, const struct vnumad_view *v,
			 double *guest, double *part)
{
	struct pred *p = &sp->p;
	int nn = v->nr_nodes, g0 = p->first[p->cg], g1 = p->first[p->cg + 1];
	double load[VNUMAD_MAX_NODES], M[VNUMAD_MAX_NODES], tr[VNUMAD_MAX_NODES];
	double share0[VNUMAD_MAX_NODES], share[VNUMAD_MAX_NODES];
	double host = 0, gsum = 0, gips = 0;

	memcpy(load, p->load, sizeof(load));
	for (int c = g0; c < g1; c++)
		if (p->s[c] >= 0 && p->s2[c - g0] != p->s[c]) {
			load[p->s[c]] -= p->demand[c];
			load[p->s2[c - g0]] += p->demand[c];
		}
	for (int n = 0; n < nn; n++) {
		share0[n] = cpu_share(v->nodes[n].nr_cpus, p->load[n]);
		share[n] = cpu_share(v->nodes[n].nr_cpus, load[n]);
		M[n] = p->M0[n];
	}
	for (int c = 0; c < p->nv; c++)
		p->x[c] = 1;
	sp->work += (double)p->nv * nn * SOLVE_ROUNDS;
	for (int round = 0; round < SOLVE_ROUNDS; round++) {
		memset(tr, 0, sizeof(tr));
		for (int c = 0; c < p->nv; c++) {
			bool mine = c >= g0 && c < g1;
			const double *a = mine ? &p->a2[(size_t)(c - g0) * nn] :
					  &p->a[(size_t)c * nn];

			if (p->s[c] < 0)
				continue;
			for (int n = 0; n < nn; n++)
				tr[n] += p->traffic[c] * p->x[c] * a[n];
		}
		for (int n = 0; n < nn; n++) {
			double bw = v->nodes[n].bw_max;

			if (bw > 0)
				M[n] = 0.5 * M[n] + 0.5 * pol_queue(tr[n] / bw, sp->k);
		}
		for (int c = 0; c < p->nv; c++) {
			bool mine = c >= g0 && c < g1;
			const double *a = mine ? &p->a2[(size_t)(c - g0) * nn] :
					  &p->a[(size_t)c * nn];
			int s = mine ? p->s2[c - g0] : p->s[c];

			if (p->s[c] < 0)
				continue;
			p->x[c] = share[s] / share0[p->s[c]] * p->t0[c] /
				  pol_vcpu_time(v, a, s, p->b[c], M);
		}
	}
	for (int c = 0; c < p->nv; c++) {
		if (p->s[c] < 0)
			continue;
		host += p->ips[c] * p->x[c];
		if (c >= g0 && c < g1) {
			gsum += p->ips[c] * p->x[c];
			gips += p->ips[c];
		}
	}
	*guest = gips > 0 ? gsum / gips - 1 : 0;
	if (part)
		*part = p->ips_total > 0 ? gips / p->ips_total : 0;
	return p->ips_total > 0 ? host / p->ips_total - 1 : 0;
}

static bool has_cpu_room(const struct spread *sp, const struct vnumad_view *v,
			 int n, double demand)
{
	const struct vnumad_node *nd = &v->nodes[n];
	double used = nd->cpu_load * nd->nr_cpus + sp->planned_cpu[n];

	return nd->nr_cpus > 0 &&
	       used + demand <= nd->nr_cpus * (1.0 - sp->headroom) + 1e-9;
}

static double mem_room(const struct spread *sp, const struct vnumad_view *v, int n)
{
	return (double)v->nodes[n].mem_free - sp->reserve - sp->planned_mem[n];
}

/* CPU demand of the guest's vCPUs running on node n. */
static double demand_on(const struct vnumad_guest *g, int n)
{
	double d = 0;

	for (int i = 0; i < g->nr_vcpus; i++)
		if (g->vcpus[i].node == n)
			d += g->vcpus[i].cpu_demand;
	return d;
}

static bool guest_movable(const struct vnumad_guest *g)
{
	return pol_guest_managed(g) && g->mem_total && g->nr_vcpus &&
	       !(g->flags & (VNUMAD_GUEST_IN_TRIAL | VNUMAD_GUEST_MIGRATING));
}

/* True when the core acted on the guest in the last tick (or is judging it). */
static bool applied(const struct vnumad_guest *g)
{
	if (g->flags & (VNUMAD_GUEST_IN_TRIAL | VNUMAD_GUEST_MIGRATING))
		return true;
	for (int i = 0; i < g->nr_vcpus; i++)
		if (g->vcpus[i].flags & VNUMAD_VCPU_HOLD)
			return true;
	return false;
}

static bool in_cooldown(const struct spread *sp, const struct sguest *e,
			double now)
{
	return e && e->when[ACTED] >= 0 && now - e->when[ACTED] < sp->cooldown;
}

static uint64_t round_pages(double bytes)
{
	return bytes <= 0 ? 0 : (uint64_t)bytes & ~(PAGE_2M - 1);
}

static void propose_vcpu(struct spread *sp, const struct vnumad_view *v,
			 struct vnumad_out *out, int gi, int i, int to,
			 double gain, const char *why)
{
	const struct vnumad_vcpu *c = &v->guests[gi]->vcpus[i];
	struct vnumad_proposal p;

	memset(&p, 0, sizeof(p));
	p.kind = VNUMAD_MOVE_VCPU;
	p.guest = gi;
	p.vcpu = i;
	p.from = c->node;
	p.to = to;
	p.gain = gain;
	snprintf(p.reason, sizeof(p.reason), "%s", why);
	if (vnumad_propose(out, &p) == 0) {
		sp->planned_cpu[to] += c->cpu_demand;
		if (c->node >= 0 && c->node < v->nr_nodes)
			sp->planned_cpu[c->node] -= c->cpu_demand;
	}
}

static void propose_memory(struct spread *sp, struct vnumad_out *out, int gi,
			   int from, int to, uint64_t bytes, double gain,
			   const char *why)
{
	struct vnumad_proposal p;

	memset(&p, 0, sizeof(p));
	p.kind = VNUMAD_MOVE_MEMORY;
	p.guest = gi;
	p.from = from;
	p.to = to;
	p.bytes = bytes;
	p.gain = gain;
	snprintf(p.reason, sizeof(p.reason), "%s", why);
	if (vnumad_propose(out, &p) == 0)
		sp->planned_mem[to] += (double)bytes;
}

static void propose_guest(struct spread *sp, const struct vnumad_view *v,
			  struct vnumad_out *out, int gi, int to, double gain,
			  const char *why)
{
	const struct vnumad_guest *g = v->guests[gi];
	struct vnumad_proposal p;

	memset(&p, 0, sizeof(p));
	p.kind = VNUMAD_MOVE_GUEST;
	p.guest = gi;
	p.nodes = 1ULL << to;
	p.gain = gain;
	snprintf(p.reason, sizeof(p.reason), "%s", why);
	if (vnumad_propose(out, &p) == 0) {
		for (int n = 0; n < v->nr_nodes; n++)
			sp->planned_cpu[n] -= demand_on(g, n);
		sp->planned_cpu[to] += pol_guest_demand(g);
		sp->planned_mem[to] += (double)(g->mem_total - g->mem[to]);
	}
}

/* A remedy for a hot node under evaluation, and the best one so far. */
enum remedy { R_NONE, R_INTERLEAVE, R_GUEST, R_VNODE, R_VCPUS };

struct choice {
	enum remedy kind;
	int guest, to, vnode;
	double phi;		/* R_INTERLEAVE: share of its memory on the hot node */
	double host, gain;	/* the model's relative gains: host, guest */
	double bytes;
	double share;		/* the guest's part of the host's throughput */
	double score;		/* host gain less the price of the migration */
};

/*
 * The price of migrating `bytes` of a guest whose part of the host's
 * throughput is `share`, in the host's relative gain: migration_cost of the
 * guest's own throughput per GiB. Scaled by the guest, not the host, so
 * that a move is worth the same on a host of four guests or of four hundred.
 */
static double price(const struct spread *sp, double bytes, double share)
{
	return sp->migration_cost * bytes / (1024.0 * 1024 * 1024) * share;
}

static void consider(const struct spread *sp, struct choice *best,
		     struct choice *c)
{
	c->score = c->host - price(sp, c->bytes, c->share);
	if (c->gain < sp->min_gain || c->score <= 0)
		return;
	if (c->bytes > sp->limit)
		return;
	if (best->kind == R_NONE || c->score > best->score + 1e-6 ||
	    (c->score > best->score - 1e-6 && c->bytes < best->bytes))
		*best = *c;
}

/* Traffic (bytes/s) the guest's vCPUs put on node n's memory. */
static double guest_traffic_on(const struct pred *p, const struct vnumad_view *v,
			       int gi, int n)
{
	double t = 0;

	for (int c = p->first[gi]; c < p->first[gi + 1]; c++)
		if (p->s[c] >= 0)
			t += p->traffic[c] * p->a[(size_t)c * v->nr_nodes + n];
	return t;
}

/* True when vnode k's home node is also another vnode's. */
static bool shares_home(const int *homes, int nvn, int k)
{
	for (int j = 0; j < nvn; j++)
		if (j != k && homes[j] == homes[k])
			return true;
	return false;
}

/* True when two vnodes or more have their home on node n. */
static bool homes_shared(const int *homes, int nvn, int n)
{
	int k = 0;

	for (int j = 0; j < nvn; j++)
		k += homes[j] == n;
	return k > 1;
}

/* Solves the candidate set up by the caller and considers it. */
static void evaluate(struct spread *sp, const struct vnumad_view *v,
		     struct choice *best, struct choice c)
{
	if (sp->work >= WORK_PER_TICK)
		return;
	c.host = pred_solve(sp, v, &c.gain, &c.share);
	consider(sp, best, &c);
}

/*
 * Evaluates the remedies for guest gi on hot node n toward node m: part of
 * its memory interleaved onto m (bandwidth only), the whole guest to m, its
 * vCPUs on n alone to m (they carry no memory: right for compute-bound
 * guests on an over-committed node), or for a vNUMA guest one vnode, vCPUs
 * with its memory. Returns -1 when memory runs out.
 */
static int remedies(struct spread *sp, const struct vnumad_view *v, int gi,
		    int n, int m, bool bw_hot, struct choice *best)
{
	const struct vnumad_guest *g = v->guests[gi];
	struct pred *p = &sp->p;
	int homes[VNUMAD_MAX_NODES];
	int nvn = pol_vnode_homes(v, g, homes, VNUMAD_MAX_NODES);
	bool memmove = !(g->flags & VNUMAD_GUEST_NO_MEMMOVE);
	double room = mem_room(sp, v, m), on_n = demand_on(g, n);

	if (g->quarantine >> m & 1)
		return 0;
	/* interleaving mixes vnodes: only where they are mixed already */
	if (bw_hot && memmove && g->mem[n] && (!nvn || homes_shared(homes, nvn, n))) {
		static const double shares[] = { 0.25, 0.5 };

		for (size_t i = 0; i < sizeof(shares) / sizeof(shares[0]); i++) {
			double bytes = shares[i] * (double)g->mem[n];

			if (bytes < MIN_MOVE || bytes > room)
				continue;
			if (pred_begin(p, v, gi) < 0)
				return -1;
			pred_memory(p, v, n, m, shares[i]);
			evaluate(sp, v, best, (struct choice){ .kind = R_INTERLEAVE,
				 .guest = gi, .to = m, .vnode = -1, .phi = shares[i],
				 .bytes = bytes });
		}
	}
	if (!nvn && memmove &&
	    has_cpu_room(sp, v, m, pol_guest_demand(g) - demand_on(g, m)) &&
	    (double)(g->mem_total - g->mem[m]) <= room) {
		if (pred_begin(p, v, gi) < 0)
			return -1;
		for (int i = 0; i < g->nr_vcpus; i++)
			pred_vcpu(p, i, m);
		for (int k = 0; k < v->nr_nodes; k++)
			if (k != m && g->mem[k])
				pred_memory(p, v, k, m, 1.0);
		evaluate(sp, v, best, (struct choice){ .kind = R_GUEST, .guest = gi,
			 .to = m, .vnode = -1,
			 .bytes = (double)(g->mem_total - g->mem[m]) });
	}
	if (!nvn && on_n > 0 && has_cpu_room(sp, v, m, on_n)) {
		if (pred_begin(p, v, gi) < 0)
			return -1;
		for (int i = 0; i < g->nr_vcpus; i++)
			if (g->vcpus[i].node == n)
				pred_vcpu(p, i, m);
		evaluate(sp, v, best, (struct choice){ .kind = R_VCPUS, .guest = gi,
			 .to = m, .vnode = -1 });
	}
	for (int k = 0; k < nvn && memmove; k++) {
		double d = 0, here = 0, bytes;

		for (int i = 0; i < g->nr_vcpus; i++) {
			if (g->vcpus[i].vnode != k)
				continue;
			if (g->vcpus[i].node != m)
				d += g->vcpus[i].cpu_demand;
			if (g->vcpus[i].node == n)
				here++;
		}
		/* a vnode whose memory or vCPUs are on the hot node */
		if (homes[k] != n && !here)
			continue;
		bytes = (double)g->mem_total / nvn;
		if (homes[k] < 0 || bytes > (double)g->mem[homes[k]])
			bytes = homes[k] < 0 ? 0 : (double)g->mem[homes[k]];
		/*
		 * A migration takes pages of every vnode on its source: the
		 * vnode's memory can follow only from a node it has alone.
		 */
		if (shares_home(homes, nvn, k))
			bytes = 0;
		if (!has_cpu_room(sp, v, m, d) || bytes > room || homes[k] == m)
			continue;
		if (pred_begin(p, v, gi) < 0)
			return -1;
		for (int i = 0; i < g->nr_vcpus; i++)
			if (g->vcpus[i].vnode == k)
				pred_vcpu(p, i, m);
		if (bytes >= MIN_MOVE)
			pred_memory(p, v, homes[k], m, bytes / (double)g->mem[homes[k]]);
		else
			bytes = 0;
		evaluate(sp, v, best, (struct choice){ .kind = R_VNODE, .guest = gi,
			 .to = m, .vnode = k, .bytes = bytes });
	}
	return 0;
}

/* Why node n is hot, for the reasons of the proposals. */
static void hot_reason(const struct spread *sp, int n, char *buf, size_t len)
{
	if (sp->u[n] >= sp->saturation)
		snprintf(buf, len, "node %d's memory controllers are %.0f%% busy", n,
			 sp->u[n] * 100);
	else
		snprintf(buf, len, "node %d's CPUs are over-committed (%.0f%% of "
			 "what its vCPUs ask)", n, sp->share[n] * 100);
}

/* Proposes the chosen remedy for hot node `hot`. */
static void apply_choice(struct spread *sp, const struct vnumad_view *v,
			 struct vnumad_out *out, const struct choice *c, int hot)
{
	const struct vnumad_guest *g = v->guests[c->guest];
	char why[VNUMAD_REASON_MAX], what[64];
	int homes[VNUMAD_MAX_NODES], from;

	hot_reason(sp, hot, what, sizeof(what));
	switch (c->kind) {
	case R_INTERLEAVE:
		snprintf(why, sizeof(why), "%s: interleave %.0f%% of its memory there "
			 "onto node %d (host %+.1f%%)", what, c->phi * 100, c->to,
			 c->host * 100);
		propose_memory(sp, out, c->guest, hot, c->to, round_pages(c->bytes),
			       c->gain, why);
		break;
	case R_GUEST:
		snprintf(why, sizeof(why), "%s: the whole guest to node %d, which has "
			 "room (host %+.1f%%)", what, c->to, c->host * 100);
		propose_guest(sp, v, out, c->guest, c->to, c->gain, why);
		break;
	case R_VCPUS:
		snprintf(why, sizeof(why), "%s: its vCPUs there to node %d, which has "
			 "CPU room (host %+.1f%%)", what, c->to, c->host * 100);
		for (int i = 0; i < g->nr_vcpus; i++)
			if (g->vcpus[i].node == hot)
				propose_vcpu(sp, v, out, c->guest, i, c->to, c->gain, why);
		break;
	case R_VNODE:
		snprintf(why, sizeof(why), "%s: guest NUMA node %d, vCPUs and memory "
			 "together, to node %d (host %+.1f%%)", what, c->vnode, c->to,
			 c->host * 100);
		/* memory first: under a move cap, vCPUs that lag follow later */
		from = pol_vnode_homes(v, g, homes, VNUMAD_MAX_NODES) > c->vnode ?
		       homes[c->vnode] : -1;
		if (c->bytes > 0 && from >= 0)
			propose_memory(sp, out, c->guest, from, c->to,
				       round_pages(c->bytes), c->gain + 1e-3, why);
		for (int i = 0; i < g->nr_vcpus; i++)
			if (g->vcpus[i].vnode == c->vnode && g->vcpus[i].node != c->to)
				propose_vcpu(sp, v, out, c->guest, i, c->to, c->gain, why);
		break;
	case R_NONE:
		break;
	}
}

/* True while a guest with memory or vCPUs on node n is moving or judged. */
static bool node_settling(const struct vnumad_view *v, int n)
{
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];

		if (!(g->flags & (VNUMAD_GUEST_MIGRATING | VNUMAD_GUEST_IN_TRIAL)))
			continue;
		if (g->mem[n])
			return true;
		for (int i = 0; i < g->nr_vcpus; i++)
			if (g->vcpus[i].node == n)
				return true;
	}
	return false;
}

/* How hot node n is: 0 when neither its controllers nor its CPUs are. */
static double heat(const struct spread *sp, const struct vnumad_view *v, int n)
{
	double h = 0;

	if (!pol_node_usable(v, n))
		return 0;
	if (v->nodes[n].bw_max > 0 && sp->u[n] >= sp->saturation)
		h = sp->u[n] - sp->saturation + 0.01;
	if (sp->share[n] < CPU_HOT && 1.0 - sp->share[n] > h)
		h = 1.0 - sp->share[n];
	return h;
}

/*
 * Stage 0: the rest of group moves the move cap cut short. A vnode's vCPUs
 * belong together, and half a group moved leaves a guest split.
 */
static int stage_plans(struct spread *sp, const struct vnumad_view *v,
		       struct vnumad_out *out)
{
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];
		struct sguest *e = pol_guest_state(v, g);
		char why[VNUMAD_REASON_MAX];
		int to, left = 0;

		if (!e)
			continue;
		if (e->state != PLAN || !guest_movable(g))
			continue;
		to = e->arg[PLAN_TO];
		snprintf(why, sizeof(why), "the rest of a group move to node %d that "
			 "the move cap cut short", to);
		for (int i = 0; i < g->nr_vcpus; i++) {
			const struct vnumad_vcpu *c = &g->vcpus[i];

			if (c->node == to || c->node < 0 ||
			    (e->arg[PLAN_FROM] >= 0 && c->node != e->arg[PLAN_FROM]) ||
			    (e->arg[PLAN_VNODE] >= 0 && c->vnode != e->arg[PLAN_VNODE]))
				continue;
			left++;
			if ((c->flags & VNUMAD_VCPU_HOLD) || (g->quarantine >> to & 1) ||
			    !has_cpu_room(sp, v, to, c->cpu_demand))
				continue;
			propose_vcpu(sp, v, out, gi, i, to, e->value, why);
			sp->touched[gi] = 1;
		}
		if (!left)
			e->state = IDLE;
	}
	return 0;
}

/* Keeps the TOP_GUESTS guests with the largest part, largest first. */
static void keep_top(int *top, double *part_of, int *nr, int gi, double part)
{
	int i;

	if (*nr == TOP_GUESTS) {
		if (part <= part_of[TOP_GUESTS - 1])
			return;
		i = TOP_GUESTS - 1;	/* the smallest goes */
	} else {
		i = (*nr)++;
	}
	for (; i > 0 && part_of[i - 1] < part; i--) {
		top[i] = top[i - 1];
		part_of[i] = part_of[i - 1];
	}
	top[i] = gi;
	part_of[i] = part;
}

/*
 * The TOP_NODES usable nodes that are not hot, with the most CPU and
 * controller room first: where relief can go. Returns how many.
 */
static int coolest(const struct spread *sp, const struct vnumad_view *v,
		   const double *h, int *cool)
{
	double room[TOP_NODES], r;
	int nr = 0, i;

	for (int m = 0; m < v->nr_nodes; m++) {
		if (!pol_node_usable(v, m) || h[m] > 0)
			continue;
		r = (1.0 - v->nodes[m].cpu_load) + (1.0 - sp->u[m]);
		if (nr == TOP_NODES) {
			if (r <= room[TOP_NODES - 1])
				continue;
			i = TOP_NODES - 1;
		} else {
			i = nr++;
		}
		for (; i > 0 && room[i - 1] < r; i--) {
			cool[i] = cool[i - 1];
			room[i] = room[i - 1];
		}
		cool[i] = m;
		room[i] = r;
	}
	return nr;
}

/*
 * Stage 1: relieves hot nodes, the hottest first -- memory controllers
 * above `saturation`, or CPUs over-committed -- with the remedy the model
 * rates best for the host, one per node and tick.
 */
static int stage_hot(struct spread *sp, const struct vnumad_view *v,
		     struct vnumad_out *out)
{
	int order[VNUMAD_MAX_NODES], nr = 0;
	double h[VNUMAD_MAX_NODES];

	for (int n = 0; n < v->nr_nodes; n++) {
		h[n] = heat(sp, v, n);
		if (h[n] > 0)
			order[nr++] = n;
	}
	for (int i = 1; i < nr; i++)
		for (int j = i; j > 0 && h[order[j]] > h[order[j - 1]]; j--) {
			int t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (int i = 0; i < nr; i++) {
		int n = order[i];
		bool bw_hot = v->nodes[n].bw_max > 0 && sp->u[n] >= sp->saturation;
		struct choice best = { .kind = R_NONE };
		struct sguest *e;
		int top[TOP_GUESTS], cool[TOP_NODES], nr_top, nr_cool;
		double part_of[TOP_GUESTS];

		if (node_settling(v, n) || !model_ready(sp, v))
			continue;
		nr_top = 0;
		for (int gi = 0; gi < v->nr_guests; gi++) {
			const struct vnumad_guest *g = v->guests[gi];
			double part;

			if (sp->touched[gi] || !guest_movable(g))
				continue;
			/* a part in the heat: traffic there, or vCPUs there */
			part = bw_hot ? guest_traffic_on(&sp->p, v, gi, n) : demand_on(g, n);
			if (part <= 0 || (bw_hot && part < 0.05 * v->nodes[n].bw_used))
				continue;
			e = pol_guest_state(v, g);
			if (e && !in_cooldown(sp, e, v->now))
				keep_top(top, part_of, &nr_top, gi, part);
		}
		nr_cool = coolest(sp, v, h, cool);
		for (int t = 0; t < nr_top; t++)
			for (int k = 0; k < nr_cool; k++)
				if (cool[k] != n &&
				    remedies(sp, v, top[t], n, cool[k], bw_hot, &best) < 0)
					return -1;
		if (best.kind == R_NONE)
			continue;
		e = pol_guest_state(v, v->guests[best.guest]);
		if (!e)
			continue;
		apply_choice(sp, v, out, &best, n);
		sp->touched[best.guest] = 1;
		e->state = PENDING;
		e->when[PROPOSED] = v->now;
		e->arg[PLAN_TO] = -1;
		if (best.kind == R_VCPUS || best.kind == R_VNODE) {
			e->arg[PLAN_TO] = best.to;
			e->arg[PLAN_FROM] = best.kind == R_VCPUS ? n : -1;
			e->arg[PLAN_VNODE] = best.kind == R_VNODE ? best.vnode : -1;
			e->value = best.gain;
		}
	}
	return 0;
}

/* The node where most of the guest's CPU demand runs, among `mask`. */
static int cpu_node(const struct vnumad_view *v, const struct vnumad_guest *g,
		    int vnode)
{
	double demand[VNUMAD_MAX_NODES] = { 0 };
	int best = -1;

	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct vnumad_vcpu *c = &g->vcpus[i];

		if (c->node >= 0 && c->node < v->nr_nodes && (vnode < 0 || c->vnode == vnode))
			demand[c->node] += c->cpu_demand + 1e-6;
	}
	for (int n = 0; n < v->nr_nodes; n++)
		if (demand[n] > 0 && (best < 0 || demand[n] > demand[best]))
			best = n;
	return best;
}

/* Gain of the guest's vCPUs when `share` of its memory on `from` goes to `to`. */
static double memory_gain(struct spread *sp, const struct vnumad_view *v,
			  const struct vnumad_guest *g, int from, int to,
			  double share)
{
	double a[VNUMAD_MAX_NODES], before = 0, after = 0, w = 0;

	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct vnumad_vcpu *c = &g->vcpus[i];
		double b, d, t0, weight = c->ips > 0 ? c->ips : c->cpu_demand;

		if (c->node < 0 || c->node >= v->nr_nodes || weight <= 0)
			continue;
		b = pol_stall_share(c);
		pol_access_mix(v, g, c, a);
		t0 = pol_vcpu_time(v, a, c->node, b, sp->M);
		d = a[from] * share;
		a[from] -= d;
		a[to] += d;
		before += weight;
		after += weight * t0 / pol_vcpu_time(v, a, c->node, b, sp->M);
		w++;
	}
	return w && before > 0 ? after / before - 1 : 0;
}

/*
 * The memory alternative for a guest without vNUMA whose vCPUs run away from
 * its memory: its largest remote share moved to where they run, instead of
 * them to it. Worth it when the model says the host gains more than with
 * the vCPU moves by at least the migration's price (`migration_cost` per
 * GiB): typically when the memory's node is busy, so that moving the traffic
 * off it helps every guest there. Returns true when it proposed.
 */
static bool memory_instead(struct spread *sp, const struct vnumad_view *v,
			   int gi, const int *mv_vcpu, const int *mv_to, int nr_mv,
			   bool blocked, struct vnumad_out *out)
{
	const struct vnumad_guest *g = v->guests[gi];
	struct sguest *e = pol_guest_state(v, g);
	int to = cpu_node(v, g, -1), from = -1;
	double bytes, host_a = 0, host_b, gain_a, gain_b, share;
	char why[VNUMAD_REASON_MAX];

	/* weighed lately and found wanting: not every tick */
	if (!e || (e->when[MEMORY_EVAL] >= 0 && v->now - e->when[MEMORY_EVAL] < GATHER_RETRY))
		return false;

	if (to < 0 || (g->quarantine >> to & 1) ||
	    (g->flags & (VNUMAD_GUEST_NO_MEMMOVE | VNUMAD_GUEST_MIGRATING)))
		return false;
	for (int n = 0; n < v->nr_nodes; n++)
		if (n != to && g->mem[n] && (from < 0 || g->mem[n] > g->mem[from]))
			from = n;
	if (from < 0)
		return false;
	bytes = (double)g->mem[from];
	if (bytes > sp->batch)
		bytes = sp->batch;
	if (bytes > sp->limit)
		bytes = sp->limit;
	if (bytes > mem_room(sp, v, to))
		bytes = mem_room(sp, v, to);
	if (bytes < MIN_MOVE || !model_ready(sp, v))
		return false;
	if (nr_mv) {
		if (pred_begin(&sp->p, v, gi) < 0)
			return false;
		for (int k = 0; k < nr_mv; k++)
			pred_vcpu(&sp->p, mv_vcpu[k], mv_to[k]);
		host_a = pred_solve(sp, v, &gain_a, NULL);
	}
	if (pred_begin(&sp->p, v, gi) < 0)
		return false;
	pred_memory(&sp->p, v, from, to, bytes / (double)g->mem[from]);
	host_b = pred_solve(sp, v, &gain_b, &share);
	if (gain_b < sp->min_gain || host_b - price(sp, bytes, share) <= host_a) {
		e->when[MEMORY_EVAL] = v->now;
		return false;
	}
	if (blocked && !nr_mv)
		snprintf(why, sizeof(why),
			 "its vCPUs run on node %d, which has no CPU room for the rest; "
			 "node %d has free memory", to, to);
	else
		snprintf(why, sizeof(why),
			 "memory to its vCPUs on node %d rather than them to node %d: "
			 "less traffic on node %d (host %+.1f%%)", to, from, from,
			 host_b * 100);
	propose_memory(sp, out, gi, from, to, round_pages(bytes), gain_b, why);
	sp->touched[gi] = 1;
	return true;
}

/*
 * Stage 2 for one guest: vCPUs to their (vnode's) memory, or memory to them.
 * Returns -1 when memory runs out.
 */
static int stage_locality(struct spread *sp, const struct vnumad_view *v,
			  int gi, struct vnumad_out *out)
{
	const struct vnumad_guest *g = v->guests[gi];
	int homes[VNUMAD_MAX_NODES], blocked_vnode = -1, home, nr_mv = 0;
	int nvn = pol_vnode_homes(v, g, homes, VNUMAD_MAX_NODES);
	int *mv_vcpu, *mv_to;
	double *mv_gain, planned[VNUMAD_MAX_NODES];
	bool blocked = false;
	double a[VNUMAD_MAX_NODES];
	char why[VNUMAD_REASON_MAX];

	home = pol_home_node(v, g);
	if (home < 0)
		return 0;
	if (g->nr_vcpus > sp->cap_mv) {
		if (GROW(sp->mv_vcpu, g->nr_vcpus) || GROW(sp->mv_to, g->nr_vcpus) ||
		    GROW(sp->mv_gain, g->nr_vcpus))
			return -1;
		sp->cap_mv = g->nr_vcpus;
	}
	mv_vcpu = sp->mv_vcpu;
	mv_to = sp->mv_to;
	mv_gain = sp->mv_gain;
	memcpy(planned, sp->planned_cpu, sizeof(planned));
	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct vnumad_vcpu *c = &g->vcpus[i];
		int h = home;
		double b, gain;

		if (nvn) {
			if (c->vnode < 0 || c->vnode >= nvn)
				continue;
			h = homes[c->vnode];
		}
		if (h < 0 || c->node < 0 || c->node >= v->nr_nodes || c->node == h)
			continue;
		if (c->flags & (VNUMAD_VCPU_HOLD | VNUMAD_VCPU_IN_TRIAL))
			continue;
		/* unknown traffic (a source without counts) counts as enough */
		if (c->remote_ratio < sp->threshold ||
		    (c->access_rate >= 0 && c->access_rate < sp->min_rate) ||
		    (g->quarantine >> h & 1) || !pol_node_usable(v, h))
			continue;
		b = pol_stall_share(c);
		pol_access_mix(v, g, c, a);
		gain = pol_vcpu_time(v, a, c->node, b, sp->M) /
		       pol_vcpu_time(v, a, h, b, sp->M) - 1.0;
		if (gain < sp->min_gain)
			continue;
		if (!has_cpu_room(sp, v, h, c->cpu_demand)) {
			blocked = true;
			if (nvn)
				blocked_vnode = c->vnode;
			continue;
		}
		mv_vcpu[nr_mv] = i;
		mv_to[nr_mv] = h;
		mv_gain[nr_mv++] = gain;
		sp->planned_cpu[h] += c->cpu_demand;
		sp->planned_cpu[c->node] -= c->cpu_demand;
	}
	memcpy(sp->planned_cpu, planned, sizeof(planned));
	if (!nr_mv && !blocked)
		return 0;
	if (!nvn && memory_instead(sp, v, gi, mv_vcpu, mv_to, nr_mv, blocked, out))
		return 0;
	for (int k = 0; k < nr_mv; k++) {
		const struct vnumad_vcpu *c = &g->vcpus[mv_vcpu[k]];

		if (nvn)
			snprintf(why, sizeof(why),
				 "its guest NUMA node %d's memory is on node %d, which has "
				 "CPU room", c->vnode, mv_to[k]);
		else
			snprintf(why, sizeof(why),
				 "%.0f%% of the guest's memory is on node %d, which has CPU room",
				 100.0 * (double)g->mem[mv_to[k]] / (double)g->mem_total,
				 mv_to[k]);
		propose_vcpu(sp, v, out, gi, mv_vcpu[k], mv_to[k], mv_gain[k], why);
		sp->touched[gi] = 1;
	}
	if (!blocked || !nvn ||
	    (g->flags & (VNUMAD_GUEST_NO_MEMMOVE | VNUMAD_GUEST_MIGRATING)))
		return 0;
	/* a vnode whose vCPUs cannot go home: its memory comes to them */
	{
		int to = cpu_node(v, g, blocked_vnode), from = homes[blocked_vnode];
		double bytes, gain, limit = (double)g->mem_total / nvn;

		if (to < 0 || from < 0 || from == to || (g->quarantine >> to & 1) ||
		    !g->mem[from] || shares_home(homes, nvn, blocked_vnode))
			return 0;
		if (limit > sp->batch)
			limit = sp->batch;
		if (limit > sp->limit)
			limit = sp->limit;
		bytes = (double)g->mem[from];
		if (bytes > limit)
			bytes = limit;
		if (bytes > mem_room(sp, v, to))
			bytes = mem_room(sp, v, to);
		if (bytes < MIN_MOVE)
			return 0;
		gain = memory_gain(sp, v, g, from, to, bytes / (double)g->mem[from]);
		if (gain < sp->min_gain)
			return 0;
		snprintf(why, sizeof(why),
			 "the vCPUs of its guest NUMA node %d run on node %d, which has no "
			 "CPU room for them at home; node %d has free memory",
			 blocked_vnode, to, to);
		propose_memory(sp, out, gi, from, to, round_pages(bytes), gain, why);
		sp->touched[gi] = 1;
	}
	return 0;
}

/* Stage 3 for one guest: scattered memory and vCPUs onto one node. */
static int stage_gather(struct spread *sp, const struct vnumad_view *v, int gi,
			struct vnumad_out *out)
{
	const struct vnumad_guest *g = v->guests[gi];
	int homes[VNUMAD_MAX_NODES], best = -1, home = pol_home_node(v, g);
	struct sguest *e;
	double demand = pol_guest_demand(g), host, gain, share;
	char why[VNUMAD_REASON_MAX];

	if (home < 0 || (double)g->mem[home] >= 0.9 * (double)g->mem_total ||
	    (g->flags & VNUMAD_GUEST_NO_MEMMOVE) ||
	    pol_vnode_homes(v, g, homes, VNUMAD_MAX_NODES))
		return 0;
	e = pol_guest_state(v, g);
	if (!e)
		return 0;
	if (in_cooldown(sp, e, v->now) ||
	    (e->when[GATHER_EVAL] >= 0 && v->now - e->when[GATHER_EVAL] < GATHER_RETRY))
		return 0;
	/* the node that holds most of it and has room for all of it */
	for (int n = 0; n < v->nr_nodes; n++)
		if (pol_node_usable(v, n) && !(g->quarantine >> n & 1) &&
		    has_cpu_room(sp, v, n, demand - demand_on(g, n)) &&
		    (double)(g->mem_total - g->mem[n]) <= mem_room(sp, v, n) &&
		    (double)(g->mem_total - g->mem[n]) <= sp->limit &&
		    (best < 0 || g->mem[n] > g->mem[best]))
			best = n;
	if (best < 0 || !model_ready(sp, v))
		return 0;
	e->when[GATHER_EVAL] = v->now;
	if (pred_begin(&sp->p, v, gi) < 0)
		return -1;
	for (int i = 0; i < g->nr_vcpus; i++)
		pred_vcpu(&sp->p, i, best);
	for (int n = 0; n < v->nr_nodes; n++)
		if (n != best && g->mem[n])
			pred_memory(&sp->p, v, n, best, 1.0);
	host = pred_solve(sp, v, &gain, &share);
	if (gain < sp->min_gain ||
	    host - price(sp, (double)(g->mem_total - g->mem[best]), share) <= 0)
		return 0;
	snprintf(why, sizeof(why),
		 "its memory is scattered (%.0f%% on node %d at most): all of it and "
		 "its vCPUs onto node %d, which has room (host %+.1f%%)",
		 100.0 * (double)g->mem[home] / (double)g->mem_total, home, best,
		 host * 100);
	propose_guest(sp, v, out, gi, best, gain, why);
	sp->touched[gi] = 1;
	e->state = PENDING;
	e->when[PROPOSED] = v->now;
	return 0;
}

static int spread_tick(void *priv, const struct vnumad_view *v,
		       struct vnumad_out *out)
{
	struct spread *sp = priv;

	memset(sp->planned_cpu, 0, sizeof(sp->planned_cpu));
	memset(sp->planned_mem, 0, sizeof(sp->planned_mem));
	sp->pred_ready = false;
	sp->work = 0;
	if (v->nr_guests > sp->cap_touched) {
		if (GROW(sp->touched, v->nr_guests * 2))
			return -POL_ENOMEM;
		sp->cap_touched = v->nr_guests * 2;
	}
	if (v->nr_guests)
		memset(sp->touched, 0, v->nr_guests);
	for (int n = 0; n < v->nr_nodes; n++) {
		sp->u[n] = v->nodes[n].bw_max > 0 ?
			   v->nodes[n].bw_used / v->nodes[n].bw_max : 0;
		sp->M[n] = v->nodes[n].bw_max > 0 ? pol_queue(sp->u[n], sp->k) : 1.0;
		sp->share[n] = 0;
	}
	estimate_shares(sp, v);
	/* a move of more memory than the core accepts would only be dropped */
	sp->limit = sp->max_migration;
	if (sp->limit <= 0)
		sp->limit = VNUMAD_HAS(struct vnumad_view, v, migrate_budget) &&
			    v->migrate_budget > 0 ? v->migrate_budget : DEFAULT_LIMIT;
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];
		struct sguest *e = pol_guest_state(v, g);

		if (!e)
			continue;
		/* the cooldown starts only if the core applied what was proposed */
		if (e->state == PENDING && applied(g)) {
			e->when[ACTED] = e->when[PROPOSED];
			e->state = e->arg[PLAN_TO] >= 0 ? PLAN : IDLE;
		} else if (e->state == PENDING ||
			   (e->state == PLAN && v->now - e->when[ACTED] > PLAN_TIME)) {
			e->state = IDLE;
		}
	}
	if (stage_plans(sp, v, out) < 0 || stage_hot(sp, v, out) < 0)
		return -POL_ENOMEM;
	for (int gi = 0; gi < v->nr_guests; gi++)
		if (!sp->touched[gi] && guest_movable(v->guests[gi]) &&
		    stage_locality(sp, v, gi, out) < 0)
			return -POL_ENOMEM;
	for (int gi = 0; sp->gather && gi < v->nr_guests; gi++)
		if (!sp->touched[gi] && guest_movable(v->guests[gi]) &&
		    stage_gather(sp, v, gi, out) < 0)
			return -POL_ENOMEM;
	return 0;
}

static int spread_guest_init(void *priv, const struct vnumad_guest *g, void **gpriv)
{
	struct sguest *e = malloc(sizeof(*e));

	(void)priv;
	(void)g;
	if (!e)
		return -POL_ENOMEM;
	*e = (struct sguest){ .state = IDLE, .when = { -1, -1, -1, -1 },
			      .arg = { -1, -1, -1, -1 } };
	*gpriv = e;
	return 0;
}

const struct vnumad_policy vn_policy_spread = {
	VNUMAD_POLICY_INIT,
	.name = "spread",
	.description = "bandwidth- and CPU-aware: relieves hot nodes, keeps vNUMA groups "
		       "with their memory, gathers scattered guests",
	.options = spread_options,
	.init = spread_init,
	.tick = spread_tick,
	.fini = spread_fini,
	.guest_init = spread_guest_init,
	.guest_exit = pol_guest_free,
};
