// SPDX-License-Identifier: MIT
/*
 * locality: keep each vCPU on the node that holds its guest's memory.
 *
 * For every guest the "home" node is the node holding most of its memory. A
 * vCPU whose remote ratio is above the threshold, that does enough DRAM
 * traffic to matter, and that runs away from home is moved home when home
 * has CPU room. When it has none, memory moves toward the node where the
 * guest's vCPUs run instead, in bounded batches, if that node has room:
 * the node where most of them run once this tick's vCPU moves are made,
 * so that the memory does not leave for where the vCPUs just left.
 * Hysteresis comes from the core (vCPUs moved recently are held) and from
 * the threshold itself: a vCPU at home has a low remote ratio.
 *
 * The expected gain is an estimate, not a promise; the rollback guard judges
 * the real outcome. A vCPU's sensitivity to memory latency grows with its
 * DRAM accesses per kilo-instruction (apki): b = apki / (apki + 10), near 0
 * for cpu-bound code and near 1 for pointer chasing. Its latency scales with
 * the SLIT distance to where its memory is, so moving it from a mean
 * distance d_old to d_new saves about b * 0.6 * (d_old / d_new - 1), where
 * 0.6 is the share of a miss's latency that out-of-order execution cannot
 * hide (a fully remote latency-bound guest at distance 21 then gains ~45%,
 * matching the 0.6-0.75 remote slowdown reported for such workloads).
 * Where the counter source gives no instruction counts (the /proc fallback)
 * apki is unknown and b is taken as 0.5.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies.h"

#define IDLE_CPU	0.05	/* CPUs of demand under which a node is idle */
#define SPLIT_MAJORITY	1.5	/* memory goes toward the vCPUs only past this
				 * times the demand where it is */

enum {
	OPT_REMOTE_THRESHOLD,
	OPT_MIN_ACCESS_RATE,
	OPT_CPU_HEADROOM,
	OPT_MEMORY_BATCH,
	OPT_MEMORY_RESERVE,
	NR_OPTS
};

static const struct vnumad_option locality_options[] = {
	[OPT_REMOTE_THRESHOLD] = { "remote_threshold", VNUMAD_OPT_PERCENT, "30%", 0, 1,
		"a vCPU is misplaced when more of its DRAM accesses than this are remote" },
	[OPT_MIN_ACCESS_RATE] = { "min_access_rate", VNUMAD_OPT_DOUBLE, "1000000", 0, 1e12,
		"DRAM accesses per second below which a vCPU's placement does not matter" },
	[OPT_CPU_HEADROOM] = { "cpu_headroom", VNUMAD_OPT_PERCENT, "10%", 0, 0.9,
		"share of a node's CPUs kept free when moving vCPUs onto it" },
	[OPT_MEMORY_BATCH] = { "memory_batch", VNUMAD_OPT_SIZE, "1GiB", 2097152, 1099511627776.0,
		"most memory proposed for one guest in one tick" },
	[OPT_MEMORY_RESERVE] = { "memory_reserve", VNUMAD_OPT_SIZE, "512MiB", 0, 1099511627776.0,
		"free memory left on a node that receives migrated memory" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

struct locality {
	double threshold;
	double min_rate;
	double headroom;
	double batch;
	double reserve;
	/* CPU demand added to each node by this tick's proposals */
	double planned[VNUMAD_MAX_NODES];
	double share[VNUMAD_MAX_NODES];	/* of what they ask, its vCPUs get */
	/* where each vCPU of the guest being weighed runs once its moves are made */
	int *at;
	int cap;
};

static int locality_init(void **priv, const struct vnumad_init_args *args)
{
	struct locality *l = calloc(1, sizeof(*l));

	if (!l)
		return -12; /* -ENOMEM */
	l->threshold = args->values[OPT_REMOTE_THRESHOLD].num;
	l->min_rate = args->values[OPT_MIN_ACCESS_RATE].num;
	l->headroom = args->values[OPT_CPU_HEADROOM].num;
	l->batch = args->values[OPT_MEMORY_BATCH].num;
	l->reserve = args->values[OPT_MEMORY_RESERVE].num;
	*priv = l;
	return 0;
}

static void locality_fini(void *priv)
{
	struct locality *l = priv;

	free(l->at);
	free(l);
}

/* Expected relative speed-up of a vCPU moved from `from` to `to`. */
static double expected_gain(const struct vnumad_view *v,
			    const struct vnumad_guest *g,
			    const struct vnumad_vcpu *c, int from, int to)
{
	double b = pol_stall_share(c), d_old, d_new;

	d_old = pol_mean_distance(v, g, from);
	d_new = pol_mean_distance(v, g, to);
	if (d_new <= 0)
		return 0;
	return b * 0.6 * (d_old / d_new - 1.0);
}

/*
 * Room for `demand` more CPU on a node with the headroom kept free. A node
 * idle before this tick takes vCPUs up to its CPUs whatever the headroom
 * (the arbiter's own bound): on a node of one CPU a 10% headroom would
 * refuse every busy vCPU, on a node of two it would take one vCPU of a
 * guest of two and leave the guest split for good, and the vCPUs leave as
 * much room where they come from.
 */
static bool has_cpu_room(const struct locality *l, const struct vnumad_view *v,
			 int node, double demand)
{
	const struct vnumad_node *n = &v->nodes[node];
	double used = n->cpu_load * n->nr_cpus + l->planned[node];

	if (n->nr_cpus <= 0)
		return false;
	if (n->cpu_load * n->nr_cpus < IDLE_CPU && used + demand <= n->nr_cpus + 1e-9)
		return true;
	return used + demand <= n->nr_cpus * (1.0 - l->headroom) + 1e-9;
}

/*
 * Where each vCPU of the guest runs once this tick's proposals for it are
 * carried out: at[i], or its node now where at is NULL.
 */
static int vcpu_node(const struct vnumad_guest *g, const int *at, int i)
{
	return at ? at[i] : g->vcpus[i].node;
}

/* The node where most of the guest's CPU demand runs. */
static int cpu_node(const struct vnumad_view *v, const struct vnumad_guest *g,
		    const int *at)
{
	double demand[VNUMAD_MAX_NODES] = { 0 };
	int best = -1;

	for (int i = 0; i < g->nr_vcpus; i++) {
		int n = vcpu_node(g, at, i);

		if (n >= 0 && n < v->nr_nodes)
			demand[n] += g->vcpus[i].cpu_demand + 1e-6;
	}
	for (int n = 0; n < v->nr_nodes; n++)
		if (demand[n] > 0 && (best < 0 || demand[n] > demand[best]))
			best = n;
	return best;
}

/* The CPU the guest's vCPUs running on node n ask for. */
static double node_demand(const struct vnumad_guest *g, const int *at, int n)
{
	double d = 0;

	for (int i = 0; i < g->nr_vcpus; i++)
		if (vcpu_node(g, at, i) == n)
			d += g->vcpus[i].cpu_demand + 1e-6;
	return d;
}

static void pct(char *buf, size_t len, double x)
{
	snprintf(buf, len, "%.0f%%", x * 100);
}

/*
 * Room for where the vCPUs of a guest of nr vCPUs go this tick (l->at).
 * Kept between ticks: a host's widest guest sets it once.
 */
static int at_room(struct locality *l, int nr)
{
	int *at;

	if (nr <= l->cap)
		return 0;
	at = realloc(l->at, (size_t)nr * sizeof(*at));
	if (!at)
		return -12; /* -ENOMEM */
	l->at = at;
	l->cap = nr;
	return 0;
}

/*
 * Moves misplaced vCPUs home, noting in l->at where each vCPU runs once
 * they are made; returns how many could not move for CPU. The home of a
 * vCPU of a vNUMA guest is where its own virtual node's memory is, not
 * where most of the guest's memory is: pulling it to the majority node
 * would only trade its vnode's accesses for remote ones.
 */
static int propose_vcpus(struct locality *l, const struct vnumad_view *v,
			 int gi, int guest_home, struct vnumad_out *out, int *made)
{
	const struct vnumad_guest *g = v->guests[gi];
	int homes[VNUMAD_MAX_NODES];
	int nvn = pol_vnode_homes(v, g, homes, VNUMAD_MAX_NODES);
	int blocked = 0;

	for (int i = 0; i < g->nr_vcpus; i++)
		l->at[i] = g->vcpus[i].node;
	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct vnumad_vcpu *c = &g->vcpus[i];
		int home = guest_home;
		struct vnumad_proposal p;
		char share[16];
		double gain;

		if (nvn && c->vnode >= 0 && c->vnode < nvn && homes[c->vnode] >= 0)
			home = homes[c->vnode];
		if (c->node < 0 || c->node == home ||
		    (c->flags & (VNUMAD_VCPU_IN_TRIAL | VNUMAD_VCPU_HOLD)) ||
		    c->remote_ratio < l->threshold)
			continue;
		/* unknown traffic (the /proc fallback) counts as enough */
		if (c->access_rate >= 0 && c->access_rate < l->min_rate)
			continue;
		if (g->quarantine >> home & 1)
			continue;
		gain = expected_gain(v, g, c, c->node, home);
		/*
		 * A vNUMA vCPU's home is its own vnode's memory, which the
		 * guest's distribution does not show: what is remote of it
		 * now becomes local there.
		 */
		if (home != guest_home)
			gain = pol_stall_share(c) * 0.6 * c->remote_ratio *
			       (pol_dist(v, c->node, home) / 10.0 - 1.0);
		/* a vCPU as far from the memory at home as here: nothing to gain */
		if (gain < 0.01)
			continue;
		if (!has_cpu_room(l, v, home, c->cpu_demand)) {
			blocked++;
			continue;
		}
		memset(&p, 0, sizeof(p));
		p.kind = VNUMAD_MOVE_VCPU;
		p.guest = gi;
		p.vcpu = i;
		p.from = c->node;
		p.to = home;
		p.gain = gain;
		pct(share, sizeof(share), (double)g->mem[home] / (double)g->mem_total);
		snprintf(p.reason, sizeof(p.reason),
			 "%s of the guest's memory is on node %d, which has CPU room",
			 share, home);
		if (vnumad_propose(out, &p) < 0)
			return blocked;
		l->at[i] = home;
		l->planned[home] += c->cpu_demand;
		l->planned[c->node] -= c->cpu_demand;
		(*made)++;
	}
	return blocked;
}

/*
 * Expected gain of a guest once all its memory is on node `to`, where its
 * vCPUs are: each vCPU's stall share times the latency it saves, weighed
 * by its instructions.
 */
static double plan_gain(const struct vnumad_view *v, const struct vnumad_guest *g,
			int to)
{
	double sum = 0, w = 0, d = pol_mean_distance(v, g, to);

	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct vnumad_vcpu *c = &g->vcpus[i];
		double weight = c->ips > 0 ? c->ips : c->cpu_demand;
		double b = pol_stall_share(c);

		sum += weight * b * 0.6 * (d / 10.0 - 1.0);
		w += weight;
	}
	return w > 0 ? sum / w : 0;
}

/*
 * Memory toward the vCPUs (on `to`, or where most of them run once this
 * tick's moves are made, at[] as cpu_node takes it); returns whether it
 * proposed a batch.
 */
static bool propose_memory(struct locality *l, const struct vnumad_view *v,
			   int gi, int to, const int *at, const char *why,
			   struct vnumad_out *out)
{
	const struct vnumad_guest *g = v->guests[gi];
	int from = -1;
	double remote = g->remote_ratio, room, bytes;
	struct vnumad_proposal p;
	char head[VNUMAD_REASON_MAX - 40];
	bool toward_vcpus = to < 0;

	if (to < 0)
		to = cpu_node(v, g, at);
	if (to < 0 || (g->flags & (VNUMAD_GUEST_NO_MEMMOVE | VNUMAD_GUEST_MIGRATING)))
		return false;
	if (remote < l->threshold || (g->quarantine >> to & 1))
		return false;
	/* the remote node holding the most of this guest's memory */
	for (int n = 0; n < v->nr_nodes; n++)
		if (n != to && g->mem[n] && (from < 0 || g->mem[n] > g->mem[from]))
			from = n;
	if (from < 0)
		return false;
	/*
	 * Toward the vCPUs, only where clearly more of them run than where
	 * the memory is (half as much again: demand readings are noisy, and a
	 * vCPU waiting on a crowded node asks more than it gets): a guest
	 * split evenly (one vCPU moved to its memory, one blocked for CPU
	 * room) would only trade one vCPU's remote accesses for the other's.
	 */
	if (toward_vcpus &&
	    node_demand(g, at, to) <= SPLIT_MAJORITY * node_demand(g, at, from))
		return false;
	room = (double)v->nodes[to].mem_free - l->reserve;
	bytes = (double)g->mem[from];
	if (bytes > l->batch)
		bytes = l->batch;
	if (bytes > room)
		bytes = room;
	if (bytes < 64.0 * 1024 * 1024)
		return false;
	memset(&p, 0, sizeof(p));
	p.kind = VNUMAD_MOVE_MEMORY;
	p.guest = gi;
	p.from = from;
	p.to = to;
	p.bytes = (uint64_t)bytes & ~((uint64_t)(2 << 20) - 1);
	/*
	 * The batch is a step of a plan, the guest's memory brought to its
	 * vCPUs a batch a tick: the gain is the plan's, the guest's once its
	 * memory is local. A batch's share of it would keep the memory of any
	 * large guest where it is (32 GiB in 1 GiB batches: 2%).
	 */
	p.gain = plan_gain(v, g, to);
	/* why names node `to` with its one %d */
	snprintf(head, sizeof(head), why, to);
	snprintf(p.reason, sizeof(p.reason), "%s; node %d has free memory", head, to);
	return vnumad_propose(out, &p) == 0;
}

/*
 * A remote guest without vNUMA that no vCPU move helps, because its memory
 * is as far from every node its vCPUs could go to (spread evenly): gathered on the node
 * where most of its vCPUs run, the others moved there if it has room, its
 * memory following in batches.
 */
static void gather(struct locality *l, const struct vnumad_view *v, int gi,
		   struct vnumad_out *out)
{
	const struct vnumad_guest *g = v->guests[gi];
	int to = cpu_node(v, g, NULL);
	double gain;

	if (to < 0 || (g->quarantine >> to & 1) ||
	    (g->flags & (VNUMAD_GUEST_NO_MEMMOVE | VNUMAD_GUEST_MIGRATING)))
		return;
	gain = plan_gain(v, g, to);
	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct vnumad_vcpu *c = &g->vcpus[i];
		struct vnumad_proposal p;

		if (c->node < 0 || c->node == to ||
		    (c->flags & (VNUMAD_VCPU_IN_TRIAL | VNUMAD_VCPU_HOLD)) ||
		    !has_cpu_room(l, v, to, c->cpu_demand))
			continue;
		memset(&p, 0, sizeof(p));
		p.kind = VNUMAD_MOVE_VCPU;
		p.guest = gi;
		p.vcpu = i;
		p.from = c->node;
		p.to = to;
		p.gain = gain;
		snprintf(p.reason, sizeof(p.reason), "its memory is spread evenly: the "
			 "guest gathered on node %d, where most of its vCPUs run", to);
		if (vnumad_propose(out, &p) < 0)
			return;
		l->planned[to] += c->cpu_demand;
		l->planned[c->node] -= c->cpu_demand;
	}
	propose_memory(l, v, gi, to, NULL, "its memory is spread evenly: the guest gathered "
		       "on node %d, where most of its vCPUs run", out);
}

/*
 * True when the guests' pass of this tick proposed a move of vCPU i of
 * guest gi: its proposals, the first `n` in the buffer, come guest by
 * guest, so the guest's are found by bisection.
 */
static bool proposed(const struct vnumad_out *out, int n, int gi, int i)
{
	int lo = 0, hi = n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (out->buf[mid].guest < gi)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && out->buf[lo].guest == gi; lo++)
		if (out->buf[lo].kind == VNUMAD_MOVE_VCPU && out->buf[lo].vcpu == i)
			return true;
	return false;
}

/*
 * An over-committed node (its vCPUs get less CPU than they ask): vCPUs off
 * it to the node with the most free CPUs, when what they gain in CPU is
 * more than what their memory, farther, costs them.
 */
static void relieve(struct locality *l, const struct vnumad_view *v,
		    struct vnumad_out *out)
{
	int own = out->len;	/* the guests' pass's proposals */

	for (int s = 0; s < v->nr_nodes; s++) {
		double excess;

		if (l->share[s] >= 0.95)
			continue;
		/* the CPUs its vCPUs ask for beyond the node's */
		excess = v->nodes[s].nr_cpus * (1 / l->share[s] - 1) + l->planned[s];
		for (int gi = 0; gi < v->nr_guests && excess > 0; gi++) {
			const struct vnumad_guest *g = v->guests[gi];

			if (!pol_guest_managed(g) || (g->flags & VNUMAD_GUEST_IN_TRIAL))
				continue;
			for (int i = 0; i < g->nr_vcpus && excess > 0; i++) {
				const struct vnumad_vcpu *c = &g->vcpus[i];
				double wish = c->cpu_demand / l->share[s], gain, best_free = 0;
				struct vnumad_proposal p;
				int to = -1;

				/* one moved home this tick already left the node */
				if (c->node != s || (c->flags & (VNUMAD_VCPU_IN_TRIAL |
								 VNUMAD_VCPU_HOLD)) ||
				    proposed(out, own, gi, i))
					continue;
				for (int n = 0; n < v->nr_nodes; n++) {
					double f = pol_free_cpus(v, n) - l->planned[n];

					if (n != s && pol_node_usable(v, n) &&
					    !(g->quarantine >> n & 1) && f > best_free) {
						best_free = f;
						to = n;
					}
				}
				if (to < 0 || !has_cpu_room(l, v, to, wish))
					continue;
				/*
				 * Without instruction counts (the /proc fallback)
				 * the guard judges a move by locality alone: one
				 * that trades locality for CPU it can only revert,
				 * quarantining the node for the guest.
				 */
				if (c->access_rate < 0 && expected_gain(v, g, c, s, to) < 0)
					continue;
				/* a whole CPU instead of a share, less the farther memory */
				gain = (1 + expected_gain(v, g, c, s, to)) / l->share[s] - 1;
				if (gain < 0.05)
					continue;
				memset(&p, 0, sizeof(p));
				p.kind = VNUMAD_MOVE_VCPU;
				p.guest = gi;
				p.vcpu = i;
				p.from = s;
				p.to = to;
				p.gain = gain;
				snprintf(p.reason, sizeof(p.reason), "node %d's CPUs are "
					 "over-committed (%.0f%% of what its vCPUs ask); node %d "
					 "has CPU room", s, l->share[s] * 100, to);
				if (vnumad_propose(out, &p) < 0)
					return;
				l->planned[to] += wish;
				l->planned[s] -= c->cpu_demand;
				excess -= wish;
			}
		}
	}
}

static int locality_tick(void *priv, const struct vnumad_view *v,
			 struct vnumad_out *out)
{
	struct locality *l = priv;
	int homes[VNUMAD_MAX_NODES];

	memset(l->planned, 0, sizeof(l->planned));
	pol_node_shares(v, l->share);
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];
		int home, blocked, made, to;

		if (g->flags & (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_OPTED_OUT))
			continue;
		/* vCPU by vCPU: one misplaced vCPU counts even in a local guest */
		if (!g->mem_total)
			continue;
		home = pol_home_node(v, g);
		if (home < 0)
			continue;
		if (at_room(l, g->nr_vcpus) < 0)
			return -12; /* -ENOMEM */
		made = 0;
		blocked = propose_vcpus(l, v, gi, home, out, &made);
		/*
		 * Memory toward where most of the vCPUs run once this tick's
		 * moves are made: when that is home (most of them went there),
		 * what is elsewhere follows them; else the blocked majority gets
		 * it, while the few that fit home go on trickling there (guests
		 * each on the other's memory trade places that way).
		 */
		to = cpu_node(v, g, l->at);
		if (blocked > 0)
			propose_memory(l, v, gi, -1, l->at, to == home ?
				       "most of its vCPUs run on node %d, with most of its "
				       "memory: the rest follows" :
				       "its vCPUs run on node %d, which has no CPU room for "
				       "the rest", out);
		else if (!made && g->remote_ratio >= l->threshold &&
			 !pol_vnode_homes(v, g, homes, VNUMAD_MAX_NODES))
			gather(l, v, gi, out);
	}
	relieve(l, v, out);
	return 0;
}

const struct vnumad_policy vn_policy_locality = {
	VNUMAD_POLICY_INIT,
	.name = "locality",
	.description = "greedy: vCPUs to their memory when there is CPU room, "
		       "memory to the vCPUs when there is not",
	.options = locality_options,
	.init = locality_init,
	.tick = locality_tick,
	.fini = locality_fini,
};
