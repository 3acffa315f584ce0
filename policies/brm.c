// SPDX-License-Identifier: MIT
/*
 * brm: bias random vCPU migration, after Rao, Wang, Zhou and Xu, "Optimizing
 * virtual machine scheduling in NUMA multicore systems", HPCA 2013.
 *
 * Rao et al. measure with the PMU each vCPU's "uncore penalty" -- the stall
 * cycles its misses spend in the shared last-level cache, the memory
 * controllers and the interconnect -- and find it a better measure of NUMA
 * overhead than the remote ratio alone, since a local access to a congested
 * controller can cost more than a remote one. Their BRM algorithm, in the Xen
 * credit scheduler, migrates vCPUs so as to minimise the penalty summed over
 * the host, and does so at random with a bias: a vCPU with a larger penalty
 * is more likely to be moved, and a node where its penalty would be lower is
 * more likely to be its destination. The randomness keeps many vCPUs with
 * the same view of the host from stampeding to the same node, and lets
 * placement keep exploring when the estimates are off (they report up to
 * 31.7% over the credit scheduler).
 *
 * Here, per tick:
 *  - Each vCPU's time per instruction on node n is estimated (pol_vcpu_time)
 *    as (1 - b) + b * sum_m a[m] * latency(n, m) * M[m]: b its stall share
 *    from its DRAM accesses per kilo-instruction, a[m] where its accesses
 *    go, latency the SLIT-derived ratio and M[m] = 1 + k u/(1 - u) the
 *    queueing of node m's memory controllers at utilisation u = bw_used /
 *    bw_max (1 where bw_max is unknown). Its uncore penalty is the part
 *    above 1 - b.
 *  - A move of a vCPU from s to n gains T(s) / (T(n) x share(s)) - 1, with
 *    share(s) what the vCPUs of an over-committed node s get of the CPU they
 *    ask (pol_node_shares; 1 elsewhere); weighted by the vCPU's
 *    instructions per second it is the host-wide penalty it removes (memory
 *    does not move, so other guests' traffic is unchanged; CPU room on n is
 *    required, so nobody is crowded).
 *  - Of the moves that gain at least min_gain, up to moves_per_tick are
 *    drawn: a vCPU with probability proportional to its best weight^bias,
 *    then its destination proportional to weight^bias among its nodes. The
 *    random stream is seeded from the init args, so a run repeats.
 *
 * BRM moves vCPUs only; a guest whose vCPUs cannot reach their memory for
 * want of CPU room stays as it is (see locality and spread for memory).
 *
 * Expected gain: T(s) / T(n) - 1 of the vCPU, as above.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies.h"

enum {
	OPT_MOVES_PER_TICK,
	OPT_BIAS,
	OPT_MIN_GAIN,
	OPT_MIN_ACCESS_RATE,
	OPT_CPU_HEADROOM,
	OPT_QUEUE_FACTOR,
	NR_OPTS
};

static const struct vnumad_option brm_options[] = {
	[OPT_MOVES_PER_TICK] = { "moves_per_tick", VNUMAD_OPT_INT, "2", 1, 1024,
		"moves of vCPUs drawn per tick" },
	[OPT_BIAS] = { "bias", VNUMAD_OPT_DOUBLE, "2", 0, 16,
		"exponent on the penalty a move removes when drawing it (0: uniform)" },
	[OPT_MIN_GAIN] = { "min_gain", VNUMAD_OPT_PERCENT, "5%", 0, 10,
		"smallest expected gain of a vCPU move worth drawing" },
	[OPT_MIN_ACCESS_RATE] = { "min_access_rate", VNUMAD_OPT_DOUBLE, "1000000", 0, 1e12,
		"DRAM accesses per second below which a vCPU's placement does not matter" },
	[OPT_CPU_HEADROOM] = { "cpu_headroom", VNUMAD_OPT_PERCENT, "10%", 0, 0.9,
		"share of a node's CPUs kept free when moving vCPUs onto it" },
	[OPT_QUEUE_FACTOR] = { "queue_factor", VNUMAD_OPT_DOUBLE, "0.5", 0, 10,
		"factor k of the memory-controller queueing model 1 + k u/(1 - u)" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

/* One possible move: a vCPU to a node, with its weight for the draw. */
struct brm_cand {
	int guest, vcpu, to;
	double gain, weight;
};

struct brm {
	int moves;
	double bias, min_gain, min_rate, headroom, k;
	uint64_t rng;
	double planned[VNUMAD_MAX_NODES];	/* CPU demand moved in this tick */
	struct brm_cand *cand;	/* a vCPU's candidates are contiguous */
	double *w;		/* [cap] weight of each candidate in this draw */
	double *best;		/* [cap] best weight of each vCPU's group */
	int *start;		/* [cap + 1] first candidate of each group */
	int nr_cand, cap;
};

static int brm_init(void **priv, const struct vnumad_init_args *args)
{
	struct brm *b = calloc(1, sizeof(*b));

	if (!b)
		return -POL_ENOMEM;
	b->moves = (int)args->values[OPT_MOVES_PER_TICK].num;
	b->bias = args->values[OPT_BIAS].num;
	b->min_gain = args->values[OPT_MIN_GAIN].num;
	b->min_rate = args->values[OPT_MIN_ACCESS_RATE].num;
	b->headroom = args->values[OPT_CPU_HEADROOM].num;
	b->k = args->values[OPT_QUEUE_FACTOR].num;
	b->rng = args->seed ^ 0x62726dULL;	/* "brm": its own stream */
	*priv = b;
	return 0;
}

static void brm_fini(void *priv)
{
	struct brm *b = priv;

	if (!b)
		return;
	free(b->cand);
	free(b->w);
	free(b->best);
	free(b->start);
	free(b);
}

static bool has_room(const struct brm *b, const struct vnumad_view *v, int n,
		     double demand)
{
	const struct vnumad_node *nd = &v->nodes[n];
	double used = nd->cpu_load * nd->nr_cpus + b->planned[n];

	return used + demand <= nd->nr_cpus * (1.0 - b->headroom) + 1e-9;
}

/* Grows every per-candidate array together; -1 when memory runs out. */
static int grow(struct brm *b)
{
	int cap = b->cap ? b->cap * 2 : 64;
	struct brm_cand *c = realloc(b->cand, cap * sizeof(*c));
	double *w, *best;
	int *start;

	if (!c)
		return -1;
	b->cand = c;
	if (!(w = realloc(b->w, cap * sizeof(*w))))
		return -1;
	b->w = w;
	if (!(best = realloc(b->best, cap * sizeof(*best))))
		return -1;
	b->best = best;
	if (!(start = realloc(b->start, (cap + 1) * sizeof(*start))))
		return -1;
	b->start = start;
	b->cap = cap;
	return 0;
}

static int add_cand(struct brm *b, int gi, int vi, int to, double gain,
		    double weight)
{
	if (b->nr_cand == b->cap && grow(b) < 0)
		return -1;
	b->cand[b->nr_cand++] = (struct brm_cand){ gi, vi, to, gain, weight };
	return 0;
}

/* Instructions per second, or a stand-in from CPU use where none are counted. */
static double speed(const struct vnumad_vcpu *c)
{
	return c->ips > 0 ? c->ips : c->cpu_demand * 1e9;
}

/* Every move worth drawing, with its weight; returns -1 out of memory. */
static int collect(struct brm *b, const struct vnumad_view *v, const double *M)
{
	double a[VNUMAD_MAX_NODES], share[VNUMAD_MAX_NODES];

	b->nr_cand = 0;
	pol_node_shares(v, share);
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];

		if (!pol_guest_managed(g) || (g->flags & VNUMAD_GUEST_IN_TRIAL) ||
		    !g->mem_total)
			continue;
		for (int i = 0; i < g->nr_vcpus; i++) {
			const struct vnumad_vcpu *c = &g->vcpus[i];
			double bs, t_here;

			if (c->flags & (VNUMAD_VCPU_HOLD | VNUMAD_VCPU_IN_TRIAL))
				continue;
			if (c->node < 0 || c->node >= v->nr_nodes || c->remote_ratio < 0)
				continue;
			/*
			 * without counts (access_rate < 0) the traffic is unknown;
			 * little traffic makes no penalty, unless the vCPU is
			 * short of CPU where it runs
			 */
			if (c->access_rate >= 0 && c->ips <= 0)
				continue;
			if (c->access_rate >= 0 && c->access_rate < b->min_rate &&
			    share[c->node] >= 0.95)
				continue;
			bs = pol_stall_share(c);
			pol_access_mix(v, g, c, a);
			t_here = pol_vcpu_time(v, a, c->node, bs, M);
			for (int n = 0; n < v->nr_nodes; n++) {
				double gain;

				if (n == c->node || !pol_node_usable(v, n) ||
				    (g->quarantine >> n & 1))
					continue;
				/* CPU time-sharing slows it as much as latency does */
				gain = t_here / pol_vcpu_time(v, a, n, bs, M) /
				       share[c->node] - 1.0;
				if (gain < b->min_gain)
					continue;
				/* weighed by the instructions per second it gives back */
				if (add_cand(b, gi, i, n, gain,
					     pow(speed(c) * gain, b->bias)) < 0)
					return -1;
			}
		}
	}
	return 0;
}

/* An index below n drawn with probability proportional to w, or -1. */
static int draw(struct brm *b, const double *w, int n)
{
	double sum = 0, x;
	int last = -1;

	for (int i = 0; i < n; i++)
		sum += w[i];
	if (sum <= 0)
		return -1;
	x = pol_uniform(&b->rng) * sum;
	for (int i = 0; i < n; i++) {
		if (w[i] <= 0)
			continue;
		last = i;
		x -= w[i];
		if (x < 0)
			return i;
	}
	return last;	/* rounding left x at 0: the last positive weight */
}

static void propose_move(struct brm *b, const struct vnumad_view *v,
			 const struct brm_cand *c, int nr_vcpus,
			 struct vnumad_out *out)
{
	const struct vnumad_vcpu *cpu = &v->guests[c->guest]->vcpus[c->vcpu];
	struct vnumad_proposal p;

	memset(&p, 0, sizeof(p));
	p.kind = VNUMAD_MOVE_VCPU;
	p.guest = c->guest;
	p.vcpu = c->vcpu;
	p.from = cpu->node;
	p.to = c->to;
	p.gain = c->gain;
	snprintf(p.reason, sizeof(p.reason),
		 "brm: its uncore penalty (%.0f%% of DRAM accesses remote) is lower "
		 "on node %d; drawn with bias among %d vCPUs",
		 cpu->remote_ratio * 100, c->to, nr_vcpus);
	if (vnumad_propose(out, &p) == 0) {
		b->planned[c->to] += cpu->cpu_demand;
		b->planned[cpu->node] -= cpu->cpu_demand;
	}
}

static int brm_tick(void *priv, const struct vnumad_view *v,
		    struct vnumad_out *out)
{
	struct brm *b = priv;
	double M[VNUMAD_MAX_NODES];
	int groups = 0;

	memset(b->planned, 0, sizeof(b->planned));
	for (int n = 0; n < v->nr_nodes; n++)
		M[n] = v->nodes[n].bw_max > 0 ?
		       pol_queue(v->nodes[n].bw_used / v->nodes[n].bw_max, b->k) : 1.0;
	if (collect(b, v, M) < 0)
		return -POL_ENOMEM;
	if (!b->nr_cand)
		return 0;
	for (int i = 0; i < b->nr_cand; i++)
		if (i == 0 || b->cand[i].guest != b->cand[i - 1].guest ||
		    b->cand[i].vcpu != b->cand[i - 1].vcpu)
			b->start[groups++] = i;
	b->start[groups] = b->nr_cand;

	for (int m = 0; m < b->moves && out->len < out->cap; m++) {
		int j, i, len;

		/* weights of moves that still fit, and each vCPU's best */
		for (j = 0; j < groups; j++) {
			b->best[j] = 0;
			for (i = b->start[j]; i < b->start[j + 1]; i++) {
				const struct brm_cand *c = &b->cand[i];
				double d = v->guests[c->guest]->vcpus[c->vcpu].cpu_demand;

				b->w[i] = has_room(b, v, c->to, d) ? c->weight : 0;
				if (b->w[i] > b->best[j])
					b->best[j] = b->w[i];
			}
		}
		/* a vCPU first, by its largest penalty cut; then its node */
		j = draw(b, b->best, groups);
		if (j < 0)
			break;
		len = b->start[j + 1] - b->start[j];
		i = draw(b, b->w + b->start[j], len);
		if (i < 0)
			break;
		propose_move(b, v, &b->cand[b->start[j] + i], groups, out);
		/* one move per vCPU */
		for (i = b->start[j]; i < b->start[j + 1]; i++)
			b->cand[i].weight = 0;
	}
	return 0;
}

const struct vnumad_policy vn_policy_brm = {
	VNUMAD_POLICY_INIT,
	.name = "brm",
	.description = "bias random vCPU migration (Rao et al., HPCA 2013): vCPUs drawn at "
		       "random, biased to cut the host-wide uncore penalty",
	.options = brm_options,
	.init = brm_init,
	.tick = brm_tick,
	.fini = brm_fini,
};
