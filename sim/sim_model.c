// SPDX-License-Identifier: MIT
/*
 * The model of the simulated host. One step of h seconds runs the stages
 *
 *	events ─▶ scheduler ─▶ migrations ─▶ access mix ─▶ bandwidth solve
 *	(arrive,   (place vCPUs,  (move pages,   (where each     (latency and
 *	 leave,     time-share)    use bandwidth) vnode's misses   speed; counters)
 *	 phases)                                  land)
 *
 * Every stage is O(vCPUs x nodes) and allocates nothing; sim/README.md gives
 * the formulas, their defaults and where the figures come from.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sim_impl.h"
#include "util.h"

static inline uint64_t bit(int n)
{
	return 1ULL << n;
}

/* Pages a node can still take. */
static uint64_t free_pages(const struct sim *s, int n)
{
	const struct sim_node *nd = &s->node[n];
	uint64_t cap = nd->mem_total - nd->reserved;

	return nd->mem_used >= cap ? 0 : (cap - nd->mem_used) / s->page;
}

uint64_t sim_free_pages(const struct sim *s, int n)
{
	return free_pages(s, n);
}

/* The workload in force: the phase's (or the base one) plus overrides. */
static void resolve_workload(struct sim *s, struct sim_guest *g)
{
	int w = g->phase >= 0 ? g->phases[g->phase].workload : g->workload;
	const struct sim_workload *wl = &s->wl[w];

	g->mpi = (g->ovr_mask & SIM_OVR_MPKI ? g->ovr.mpki : wl->mpki) / 1000;
	g->cpi = g->ovr_mask & SIM_OVR_CPI ? g->ovr.cpi : wl->cpi;
	g->mlp = g->ovr_mask & SIM_OVR_MLP ? g->ovr.mlp : wl->mlp;
	g->demand = g->ovr_mask & SIM_OVR_DEMAND ? g->ovr.demand : wl->demand;
	g->prefetch = g->ovr_mask & SIM_OVR_PREFETCH ? g->ovr.prefetch : wl->prefetch;
}

/* Moves the phase on to the last one begun by now; true if it changed. */
static bool update_phase(struct sim_guest *g, double now)
{
	int p = g->phase;

	while (p + 1 < g->nr_phases && g->phases[p + 1].at <= now + SIM_TIME_EPS)
		p++;
	if (p == g->phase)
		return false;
	g->phase = p;
	return true;
}

/* Counts the CPU demand of every running vCPU on its node. */
static void count_loads(struct sim *s)
{
	for (int n = 0; n < s->nr_nodes; n++)
		s->node[n].load = 0;
	for (int i = 0; i < s->nr_live; i++) {
		struct sim_guest *g = s->live[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vcpu[v].node >= 0)
				s->node[g->vcpu[v].node].load += g->demand;
	}
}

/* Puts a vCPU on the allowed node with the least load per CPU. */
static void place_vcpu(struct sim *s, struct sim_guest *g, int v)
{
	uint64_t allowed = g->allowed[v];
	double best_load = 0;
	int best = -1;

	for (int n = 0; n < s->nr_nodes; n++) {
		double l;

		if (!(allowed & bit(n)))
			continue;
		l = (s->node[n].load + g->demand) / s->node[n].cpus;
		if (best < 0 || l < best_load) {
			best = n;
			best_load = l;
		}
	}
	g->vcpu[v].node = best;
	s->node[best].load += g->demand;
}

/*
 * Host scheduler, blind to memory like CFS without numa_balancing: a vCPU
 * outside its allowed nodes goes to the least loaded one; a vCPU allowed on
 * several nodes stays put unless its node is busy and another allowed node
 * is lighter by more than the imbalance margin even after taking it.
 */
static void schedule(struct sim *s)
{
	for (int n = 0; n < s->nr_nodes; n++)
		s->node[n].load = 0;
	for (int i = 0; i < s->nr_live; i++) {
		struct sim_guest *g = s->live[i];

		for (int v = 0; v < g->nr_vcpus; v++) {
			struct sim_vcpu *c = &g->vcpu[v];

			if (c->node >= 0 && (g->allowed[v] & bit(c->node)))
				s->node[c->node].load += g->demand;
			else
				c->node = -1;
		}
	}
	for (int i = 0; i < s->nr_live; i++) {
		struct sim_guest *g = s->live[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vcpu[v].node < 0)
				place_vcpu(s, g, v);
	}
	for (int i = 0; i < s->nr_live; i++) {
		struct sim_guest *g = s->live[i];

		for (int v = 0; v < g->nr_vcpus; v++) {
			uint64_t allowed = g->allowed[v];
			struct sim_vcpu *c = &g->vcpu[v];
			struct sim_node *cur = &s->node[c->node];
			double lc = cur->load / cur->cpus, lb = 0;
			int best = -1;

			if (!(allowed & (allowed - 1)) || lc <= SIM_BUSY_MIN)
				continue;
			/* NUMA balancing: no load balancing off the preferred node */
			if (sim_numab_preferred(s, g) == c->node)
				continue;
			for (int n = 0; n < s->nr_nodes; n++) {
				double l;

				if (!(allowed & bit(n)) || n == c->node)
					continue;
				l = s->node[n].load / s->node[n].cpus;
				if (best < 0 || l < lb) {
					best = n;
					lb = l;
				}
			}
			lb = (s->node[best].load + g->demand) / s->node[best].cpus;
			if (lc > (1 + s->imbalance) * lb) {
				cur->load -= g->demand;
				s->node[best].load += g->demand;
				c->node = best;
			}
		}
	}
	for (int n = 0; n < s->nr_nodes; n++) {
		struct sim_node *nd = &s->node[n];

		nd->cpu_factor = nd->load > nd->cpus ? nd->cpus / nd->load : 1;
	}
	for (int i = 0; i < s->nr_live; i++) {
		struct sim_guest *g = s->live[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			g->vcpu[v].share = g->demand *
				s->node[g->vcpu[v].node].cpu_factor;
	}
}

/* Splits `pages` evenly, the first nodes taking the remainder. */
static void apportion_even(int nn, uint64_t pages, uint64_t *out)
{
	for (int n = 0; n < nn; n++)
		out[n] = pages / nn + ((uint64_t)n < pages % nn);
}

/* Splits `pages` over nodes by weight, largest remainders first. */
static void apportion(int nn, const double *w, uint64_t pages, uint64_t *out)
{
	double sum = 0, frac[VN_MAX_NODES];
	uint64_t given = 0;

	for (int n = 0; n < nn; n++)
		sum += w[n];
	if (!(sum > 0)) {
		apportion_even(nn, pages, out);
		return;
	}
	for (int n = 0; n < nn; n++) {
		double x = (double)pages * w[n] / sum;

		out[n] = (uint64_t)floor(x);
		frac[n] = w[n] > 0 ? x - (double)out[n] : -1;
		given += out[n];
	}
	while (given < pages) {
		int best = 0;

		for (int n = 1; n < nn; n++)
			if (frac[n] > frac[best])
				best = n;
		out[best]++;
		frac[best] = -1;
		given++;
	}
}

/* The nearest node (by distance from `from`) that can take a page. */
static int nearest_with_room(const struct sim *s, int from)
{
	int best = -1;

	for (int n = 0; n < s->nr_nodes; n++) {
		if (!free_pages(s, n))
			continue;
		if (best < 0 || s->distance[from * s->nr_nodes + n] <
				s->distance[from * s->nr_nodes + best])
			best = n;
	}
	return best;
}

static void add_mem(struct sim *s, struct sim_guest *g, int vn, int n,
		    uint64_t bytes)
{
	g->mem[vn * s->nr_nodes + n] += bytes;
	g->mem_node[n] += bytes;
	s->node[n].mem_used += bytes;
}

/*
 * First touch: each vnode's pages land where the scenario puts them or where
 * its vCPUs run, the hot part first (it is touched first); what does not fit
 * spills to the nearest node with room. Returns false if the host is full.
 */
static bool alloc_memory(struct sim *s, struct sim_guest *g)
{
	uint64_t pages = g->memory / s->page, room = 0;
	int nn = s->nr_nodes, nv = g->nr_vnodes;

	for (int n = 0; n < nn; n++)
		room += free_pages(s, n);
	if (room < pages)
		return false;
	for (int vn = 0; vn < nv; vn++) {
		uint64_t want[VN_MAX_NODES], prim[VN_MAX_NODES] = { 0 };
		uint64_t spill[VN_MAX_NODES] = { 0 }, sum_p = 0, sum_s = 0;
		uint64_t mine = pages / nv + ((uint64_t)vn < pages % nv);
		double w[VN_MAX_NODES] = { 0 }, hot, hp, hs;

		if (g->vnode_node)
			w[g->vnode_node[vn]] = 1;
		else if (g->mem_weight)
			memcpy(w, g->mem_weight, nn * sizeof(double));
		else
			for (int v = 0; v < g->nr_vcpus; v++)
				if (g->vnode[v] == vn)
					w[g->vcpu[v].node] += 1;
		apportion(nn, w, mine, want);
		for (int n = 0; n < nn; n++) {
			uint64_t got = MIN(want[n], free_pages(s, n));

			add_mem(s, g, vn, n, got * s->page);
			prim[n] = got;
			want[n] -= got;
		}
		for (int n = 0; n < nn; n++) {
			while (want[n]) {
				int to = nearest_with_room(s, n);
				uint64_t got = MIN(want[n], free_pages(s, to));

				add_mem(s, g, vn, to, got * s->page);
				spill[to] += got;
				want[n] -= got;
			}
		}
		for (int n = 0; n < nn; n++) {
			sum_p += prim[n];
			sum_s += spill[n];
		}
		hot = g->hot * (double)mine;
		hp = sum_p ? MIN(hot, (double)sum_p) / (double)sum_p : 0;
		hs = sum_s && hot > (double)sum_p ? (hot - (double)sum_p) / (double)sum_s : 0;
		for (int n = 0; n < nn; n++)
			g->hot_bytes[vn * nn + n] = ((double)prim[n] * hp +
				(double)spill[n] * hs) * (double)s->page;
	}
	g->dist_dirty = true;
	return true;
}

static void free_memory(struct sim *s, struct sim_guest *g)
{
	int nn = s->nr_nodes;

	for (int vn = 0; vn < g->nr_vnodes; vn++) {
		for (int n = 0; n < nn; n++) {
			s->node[n].mem_used -= g->mem[vn * nn + n];
			g->mem[vn * nn + n] = 0;
			g->hot_bytes[vn * nn + n] = 0;
		}
	}
	memset(g->mem_node, 0, sizeof(g->mem_node));
}

/*
 * Moves `bytes` (whole pages, at most what the guest has on `from`) of a
 * guest from one node to another, from each vnode in proportion to what it
 * has there, taking its share of the hot pages along.
 */
static void move_memory(struct sim *s, struct sim_guest *g, int from, int to,
			uint64_t bytes)
{
	uint64_t pages = bytes / s->page, have = g->mem_node[from] / s->page;
	uint64_t take[VN_MAX_NODES], given = 0;
	int nn = s->nr_nodes, nv = g->nr_vnodes;

	if (!pages)
		return;
	for (int vn = 0; vn < nv; vn++) {
		uint64_t p = g->mem[vn * nn + from] / s->page;

		take[vn] = (uint64_t)floor((double)pages * (double)p / (double)have);
		given += take[vn];
	}
	for (int vn = 0; vn < nv && given < pages; vn++) {
		uint64_t p = g->mem[vn * nn + from] / s->page;
		uint64_t more = MIN(pages - given, p - take[vn]);

		take[vn] += more;
		given += more;
	}
	for (int vn = 0; vn < nv; vn++) {
		uint64_t b = take[vn] * s->page, *src = &g->mem[vn * nn + from];
		double h;

		if (!b)
			continue;
		/* all of it when the cell empties: no rounding residue stays */
		h = b == *src ? g->hot_bytes[vn * nn + from] :
			g->hot_bytes[vn * nn + from] * (double)b / (double)*src;
		g->hot_bytes[vn * nn + from] -= h;
		g->hot_bytes[vn * nn + to] += h;
		*src -= b;
		g->mem_node[from] -= b;
		s->node[from].mem_used -= b;
		add_mem(s, g, vn, to, b);
	}
	g->dist_dirty = true;
}

/* Share of each vnode's accesses that land on each host node. */
static void update_dist(struct sim *s, struct sim_guest *g)
{
	int nn = s->nr_nodes, nv = g->nr_vnodes;
	double col[VN_MAX_NODES] = { 0 }, p = g->vnode_locality;

	for (int vn = 0; vn < nv; vn++) {
		double *d = &g->dist[vn * nn], sum = 0;

		for (int n = 0; n < nn; n++)
			sum += g->hot_bytes[vn * nn + n];
		for (int n = 0; n < nn; n++) {
			d[n] = sum > 0 ? g->hot_bytes[vn * nn + n] / sum : 0;
			col[n] += d[n];
		}
	}
	/* a vNUMA-aware guest keeps most accesses within its own vnode */
	if (nv > 1) {
		for (int vn = 0; vn < nv; vn++)
			for (int n = 0; n < nn; n++) {
				double *d = &g->dist[vn * nn + n];

				*d = p * *d + (1 - p) * (col[n] - *d) / (nv - 1);
			}
	}
	/* the nodes each vnode touches, so that the solver skips the rest */
	for (int vn = 0; vn < nv; vn++) {
		int k = 0;

		for (int n = 0; n < nn; n++)
			if (g->dist[vn * nn + n] > 0)
				g->nz[vn * nn + k++] = n;
		g->nnz[vn] = k;
	}
	g->dist_dirty = false;
}

static void end_migration(struct sim *s, struct sim_mig *sm,
			  enum vn_mig_state state, int err)
{
	struct vn_migration *m = sm->m;
	uint64_t asked = m->bytes ? m->bytes : sm->target;

	m->done = MIN(sm->moved, asked);
	if (state == VN_MIG_FAILED)
		m->failed = asked - m->done;
	if (err && !m->error)
		m->error = err;
	m->state = state;
	m->finished = s->stamp;
	sm->m = NULL;
}

/* Drops ended migrations from the table, keeping the order of the rest. */
static void compact_migrations(struct sim *s)
{
	int k = 0;

	for (int i = 0; i < s->nr_mig; i++)
		if (s->mig[i].m)
			s->mig[k++] = s->mig[i];
	s->nr_mig = k;
}

/* Bytes a migration could still move beyond the credit it holds. */
static double mig_need(const struct sim_mig *sm)
{
	uint64_t left = MIN(sm->target - sm->moved, sm->g->mem_node[sm->m->from]);

	return MAX(0.0, (double)left - sm->credit);
}

/*
 * Shares the host's migration bandwidth (sim_set_migrate_rate) for one step:
 * max-min fair, so that a migration that needs less than an equal share,
 * or is capped lower by its own rate, leaves the rest to the others. The
 * mover of a real daemon paces all its move_pages calls against one budget.
 */
static void share_migration_rate(struct sim *s, double h)
{
	int n = s->nr_mig, left = n;
	double budget = s->mig_rate * h, *give = s->mig_share;

	/* give[i] < 0: not served yet */
	for (int i = 0; i < n; i++)
		give[i] = -1;
	while (left > 0) {
		double fair = budget / left;
		bool capped = false;

		/* first everyone whose limit is under the fair share */
		for (int i = 0; i < n; i++) {
			const struct sim_mig *sm = &s->mig[i];
			double lim;

			if (give[i] >= 0)
				continue;
			lim = sm->g->state == SIM_LIVE ?
				MIN(sm->rate * h, mig_need(sm)) : 0;
			if (lim <= fair) {
				give[i] = lim;
				budget -= lim;
				left--;
				capped = true;
			}
		}
		if (capped)
			continue;
		for (int i = 0; i < n; i++)
			if (give[i] < 0)
				give[i] = fair;
		break;
	}
}

/*
 * What vnumad's migrations cost beyond memory bandwidth, as a real host
 * charges it. The mover's thread copies the pages (move_pages() copies in
 * the caller, as a faulting vCPU does under NUMA balancing) at copy_rate,
 * on the target node's CPUs and above the guests' priority (mover.c,
 * [limits] migrate_nice): it takes its CPU first and the node's vCPUs
 * share what is left. For a target without CPUs it runs where the
 * scheduler puts an unpinned thread, on the node with the most spare CPU,
 * and competes there like a vCPU. And a guest refaults each page moved
 * (the migration unmapped it, and for KVM zapped its mapping through the
 * MMU notifier) at fault_cost of its vCPUs' time, whether or not it
 * touches the page soon: a cost no lower than the host's.
 */
static void take_cpu(struct sim *s, int node, double demand, bool ahead)
{
	struct sim_node *nd = &s->node[node];

	if (ahead) {
		double left = MAX(0.0, nd->cpus - demand);

		/* load > left >= 0: the division is safe */
		nd->cpu_factor = nd->load > left ? left / nd->load : 1;
		nd->load += demand;
	} else {
		nd->load += demand;
		nd->cpu_factor = nd->load > nd->cpus ? nd->cpus / nd->load : 1;
	}
	for (int i = 0; i < s->nr_live; i++) {
		struct sim_guest *g = s->live[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			if (g->vcpu[v].node == node)
				g->vcpu[v].share = g->demand * nd->cpu_factor;
	}
}

static void charge_migrations(struct sim *s, double h)
{
	double on[VN_MAX_NODES] = { 0 }, elsewhere = 0, lb = 0;
	int best = -1;

	for (int i = 0; i < s->nr_mig; i++) {
		struct sim_guest *g = s->mig[i].g;
		int to = s->mig[i].to;
		bool seen = false;
		double d;

		for (int k = 0; k < i; k++)
			seen |= s->mig[k].g == g;	/* mig_step is the guest's */
		if (seen || !g->mig_step || s->numab.copy_rate <= 0)
			continue;
		d = (double)g->mig_step / s->numab.copy_rate / h;
		if (to >= 0 && to < s->nr_nodes && s->node[to].cpus > 0)
			on[to] += d;
		else
			elsewhere += d;
	}
	for (int n = 0; n < s->nr_nodes; n++)
		if (on[n] > 0)
			take_cpu(s, n, on[n], true);
	for (int n = 0; elsewhere > 0 && n < s->nr_nodes; n++) {
		double l;

		if (s->node[n].cpus <= 0)
			continue;
		l = (s->node[n].load + elsewhere) / s->node[n].cpus;
		if (best < 0 || l < lb) {
			best = n;
			lb = l;
		}
	}
	if (best >= 0)
		take_cpu(s, best, elsewhere, false);
	for (int i = 0; i < s->nr_mig; i++) {
		struct sim_guest *g = s->mig[i].g;
		double lost = (double)(g->mig_step / s->page) * s->numab.fault_cost, cpu = 0;

		if (!g->mig_step)
			continue;
		g->mig_step = 0;
		for (int v = 0; v < g->nr_vcpus; v++)
			cpu += g->vcpu[v].share;
		if (cpu <= 0)
			continue;
		for (int v = 0; v < g->nr_vcpus; v++)
			g->vcpu[v].share = MAX(0.0, g->vcpu[v].share *
						    (1 - lost / (cpu * h)));
	}
}

/*
 * Runs the migrations for h seconds in whole pages, each at its own rate or
 * at its share of the host's; the pages cross the source's and the
 * destination's memory (and their link), which the bandwidth solve then
 * sees as load.
 */
static void run_migrations(struct sim *s, double h)
{
	memset(s->mig_bw, 0, s->nr_vars * sizeof(double));
	if (s->mig_rate > 0 && s->nr_mig > 0)
		share_migration_rate(s, h);
	for (int i = 0; i < s->nr_mig; i++) {
		struct sim_mig *sm = &s->mig[i];
		struct vn_migration *m = sm->m;
		struct sim_guest *g = sm->g;
		uint64_t want, room, x;

		if (g->state != SIM_LIVE) {
			end_migration(s, sm, VN_MIG_FAILED, ESRCH);
			continue;
		}
		sm->credit += s->mig_rate > 0 ? s->mig_share[i] : sm->rate * h;
		want = (uint64_t)(sm->credit / (double)s->page) * s->page;
		want = MIN(want, sm->target - sm->moved);
		want = MIN(want, g->mem_node[m->from]);
		room = free_pages(s, m->to) * s->page;
		x = MIN(want, room);
		move_memory(s, g, m->from, m->to, x);
		g->mig_step += x;
		sm->moved += x;
		sm->credit -= (double)x;
		s->mig_bw[m->from] += (double)x / h;
		s->mig_bw[m->to] += (double)x / h;
		if (s->link_var)
			s->mig_bw[s->link_var[m->from * s->nr_nodes + m->to]] +=
				(double)x / h;
		m->done = MIN(sm->moved, m->bytes ? m->bytes : sm->target);
		if (x < want)
			end_migration(s, sm, VN_MIG_FAILED, ENOMEM);
		else if (sm->moved >= sm->target || !g->mem_node[m->from])
			end_migration(s, sm, VN_MIG_DONE, 0);
	}
	charge_migrations(s, h);
	compact_migrations(s);
}

/* What a pass over the vCPUs computes. */
enum pass {
	PASS_JACOBIAN,		/* traffic and its Jacobian, for a Newton update */
	PASS_STEP,		/* speeds, traffic and the step's counters */
	PASS_SPEED,		/* speeds and traffic only: time does not move */
};

/*
 * Speed of every vCPU given the latency multipliers: CPI = base CPI + misses
 * per instruction x mean miss latency / MLP, IPS = frequency x share / CPI.
 * Sums the traffic on each unknown of the solve (the node serving an access,
 * and the link it crosses when links are modelled) and, for PASS_JACOBIAN,
 * the Jacobian J[a][b] = d traffic(a) / d mult(b): each vCPU adds a rank-one
 * term over the unknowns it touches. PASS_STEP also adds h seconds of
 * counters and of the noise-free totals.
 */
static void speed_pass(struct sim *s, enum pass mode, double h)
{
	int nn = s->nr_nodes, nv = s->nr_vars;
	const int *lv = s->link_var;
	double *lt = s->lat, *jac = s->jac, *mult = s->mult;

	for (int a = 0; a < nn; a++) {
		for (int b = 0; b < nn; b++) {
			double l = s->lat0[a * nn + b] * mult[b];

			if (lv && a != b)
				l *= mult[lv[a * nn + b]];
			lt[a * nn + b] = l;
		}
	}
	memcpy(s->traffic, s->mig_bw, nv * sizeof(double));
	if (mode == PASS_JACOBIAN)
		memset(jac, 0, (size_t)nv * nv * sizeof(double));
	for (int i = 0; i < s->nr_live; i++) {
		struct sim_guest *g = s->live[i];
		double mpi = g->mpi, cpi0 = g->cpi, mlp = g->mlp;
		double gips = 0, gacc = 0, grem = 0;
		int ng = 0;

		/*
		 * The vCPUs of one vnode on one node run alike (the same mix,
		 * latency and CPU share): each such group is computed once.
		 */
		s->stamp_id++;
		for (int v = 0; v < g->nr_vcpus; v++) {
			struct sim_vcpu *c = &g->vcpu[v];
			int key = c->vnode * nn + c->node;

			if (g->gstamp[key] != s->stamp_id) {
				g->gstamp[key] = s->stamp_id;
				g->gidx[key] = ng;
				s->grp[ng].first = v;
				s->grp[ng++].count = 0;
			}
			s->grp[g->gidx[key]].count++;
		}
		for (int q = 0; q < ng; q++) {
			struct sim_group *gr = &s->grp[q];
			const struct sim_vcpu *c = &g->vcpu[gr->first];
			const double *row = &g->dist[c->vnode * nn];
			const double *lrow = &lt[c->node * nn];
			const int *nz = &g->nz[c->vnode * nn];
			int k = g->nnz[c->vnode], nt = 0, var[2 * VN_MAX_NODES];
			double lavg = 0, cpi, ips, bytes, coef, cnt = gr->count;
			double r[2 * VN_MAX_NODES], w[2 * VN_MAX_NODES];

			for (int j = 0; j < k; j++)
				lavg += row[nz[j]] * lrow[nz[j]];
			cpi = cpi0 + mpi * lavg / mlp;
			ips = s->freq * c->share / cpi;
			bytes = ips * mpi * SIM_LINE_BYTES;
			gr->ips = ips;
			if (mode != PASS_JACOBIAN) {
				double acc = ips * mpi, loc = acc * row[c->node];

				for (int j = 0; j < k; j++) {
					int n = nz[j];

					s->traffic[n] += cnt * bytes * row[n];
					if (lv && n != c->node)
						s->traffic[lv[c->node * nn + n]] +=
							cnt * bytes * row[n];
				}
				gips += cnt * ips;
				gacc += cnt * acc;
				grem += cnt * (acc - loc);
				gr->lost = 0;
				for (uint64_t m = s->lost_from[c->node]; m; m &= m - 1)
					gr->lost += row[__builtin_ctzll(m)];
				continue;
			}
			/*
			 * An access to node n costs lat0 x mult(n) [x mult(link)]:
			 * d bytes / d mult(x) = -coef x row[n] x latency / mult(x).
			 */
			coef = cnt * bytes / cpi * mpi / mlp;
			for (int j = 0; j < k; j++) {
				int n = nz[j];

				var[nt] = n;
				r[nt] = row[n];
				w[nt++] = coef * row[n] * lrow[n] / mult[n];
				if (lv && n != c->node) {
					int l = lv[c->node * nn + n];

					var[nt] = l;
					r[nt] = row[n];
					w[nt++] = coef * row[n] * lrow[n] / mult[l];
				}
			}
			for (int a = 0; a < nt; a++) {
				double *jrow = &jac[var[a] * nv];

				s->traffic[var[a]] += cnt * bytes * r[a];
				for (int b = 0; b < nt; b++)
					jrow[var[b]] -= r[a] * w[b];
			}
		}
		for (int v = 0; mode != PASS_JACOBIAN && v < g->nr_vcpus; v++) {
			struct sim_vcpu *c = &g->vcpu[v];
			const struct sim_group *gr = &s->grp[g->gidx[c->vnode * nn + c->node]];
			double acc, loc, seen = s->counters == SIM_COUNT_DEMAND ?
				1 - g->prefetch : 1;

			c->ips = gr->ips;
			if (mode == PASS_SPEED)
				continue;
			/* the same products as the rates, times h; what the events see */
			acc = gr->ips * h * g->mpi;
			loc = acc * g->dist[c->vnode * nn + c->node];
			c->instructions += gr->ips * h;
			c->cycles += s->freq * c->share * h;
			c->local += seen * loc;
			c->remote += seen * MAX(0.0, acc - loc - acc * gr->lost);
			c->cpu_time += c->share * h;
			c->elapsed += h;
		}
		if (mode == PASS_JACOBIAN)
			continue;
		g->ips = gips;
		g->dram_rate = gacc;
		g->remote_ratio = gacc > 0 ? grem / gacc : -1;
		if (mode == PASS_STEP) {
			g->total_instructions += gips * h;
			g->total_dram += gacc * h;
			g->total_remote += grem * h;
		}
	}
}

/* u(M): the utilisation at which the queueing multiplier is M. */
static double util_of(double k, double m)
{
	return k > 0 ? (m - 1) / (m - 1 + k) : 0;
}

/* Solves a x = b in place (a is n x n, b becomes x); false if singular. */
static bool gauss(double *a, double *b, int n)
{
	for (int c = 0; c < n; c++) {
		int p = c;
		double t;

		for (int r = c + 1; r < n; r++)
			if (fabs(a[r * n + c]) > fabs(a[p * n + c]))
				p = r;
		if (fabs(a[p * n + c]) < 1e-300)
			return false;
		if (p != c) {
			for (int j = 0; j < n; j++) {
				t = a[c * n + j];
				a[c * n + j] = a[p * n + j];
				a[p * n + j] = t;
			}
			t = b[c];
			b[c] = b[p];
			b[p] = t;
		}
		for (int r = c + 1; r < n; r++) {
			double f = a[r * n + c] / a[c * n + c];

			if (f == 0)
				continue;
			for (int j = c; j < n; j++)
				a[r * n + j] -= f * a[c * n + j];
			b[r] -= f * b[c];
		}
	}
	for (int c = n - 1; c >= 0; c--) {
		for (int j = c + 1; j < n; j++)
			b[c] -= a[c * n + j] * b[j];
		b[c] /= a[c * n + c];
	}
	return true;
}

/*
 * One Newton update of the multipliers towards the fixed point
 * traffic(M) / capacity = u(M), where u(M) = (M - 1) / (M - 1 + k) inverts
 * M = 1 + k u / (1 - u). In M each equation is convex and decreasing
 * (traffic goes as 1 / M, u is concave), so Newton converges from far away;
 * in u it would crawl back from the cap. Returns the largest relative change.
 */
static double newton(struct sim *s)
{
	int nv = s->nr_vars;
	double k = s->queue_k, delta = 0, *a = s->jac, *x = s->rhs;
	double mmax = 1 + k * SIM_UTIL_MAX / (1 - SIM_UTIL_MAX);

	if (k <= 0) {
		for (int i = 0; i < nv; i++)
			s->util[i] = MIN(s->traffic[i] / s->cap[i], SIM_UTIL_MAX);
		return 0;
	}
	for (int i = 0; i < nv; i++) {
		double m = s->mult[i], du = k / ((m - 1 + k) * (m - 1 + k));

		x[i] = util_of(k, m) - s->traffic[i] / s->cap[i];
		for (int j = 0; j < nv; j++)
			a[i * nv + j] /= s->cap[i];
		a[i * nv + i] -= du;
	}
	if (!gauss(a, x, nv))
		return 0;
	for (int i = 0; i < nv; i++) {
		double m = s->mult[i], nm = m + x[i];

		if (!(nm >= 1))
			nm = 1;
		if (nm > mmax)
			nm = mmax;
		s->mult[i] = nm;
		s->util[i] = util_of(k, nm);
		delta = MAX(delta, fabs(nm - m) / m);
	}
	return delta;
}

/*
 * Solves the fixed point of latency and bandwidth: a busier memory node (or
 * link) is slower, which slows its users, which lowers its load. The
 * multipliers start from the previous step's and take Newton updates until
 * they settle; a final pass at the solution records the counters.
 */
static void solve(struct sim *s, double h)
{
	for (int it = 0; it < SIM_SOLVE_ITERS; it++) {
		speed_pass(s, PASS_JACOBIAN, 0);
		if (newton(s) < SIM_SOLVE_EPS)
			break;
	}
	speed_pass(s, PASS_STEP, h);
	for (int n = 0; n < s->nr_nodes; n++)
		s->node[n].bw_used = s->traffic[n];
}

/* Keeps s->live in scenario order, so that every run visits guests alike. */
static void live_insert(struct sim *s, struct sim_guest *g)
{
	int i = s->nr_live;

	while (i > 0 && s->live[i - 1]->index > g->index) {
		s->live[i] = s->live[i - 1];
		i--;
	}
	s->live[i] = g;
	s->nr_live++;
}

static void live_remove(struct sim *s, struct sim_guest *g)
{
	for (int i = 0; i < s->nr_live; i++) {
		if (s->live[i] != g)
			continue;
		memmove(&s->live[i], &s->live[i + 1],
			(s->nr_live - i - 1) * sizeof(*s->live));
		s->nr_live--;
		return;
	}
}

static void zero_counts(struct sim_vcpu *c)
{
	c->cycles = c->instructions = c->local = c->remote = 0;
	c->cpu_time = c->elapsed = 0;
}

/* A guest starts: its vCPUs are placed, then they touch its memory. */
static void arrive(struct sim *s, struct sim_guest *g)
{
	g->phase = -1;
	update_phase(g, s->now);
	resolve_workload(s, g);
	for (int v = 0; v < g->nr_vcpus; v++) {
		g->allowed[v] = g->vnode_node ?
			bit(g->vnode_node[g->vnode[v]]) : g->vcpu_nodes;
		place_vcpu(s, g, v);
	}
	if (!alloc_memory(s, g)) {
		char a[32];

		for (int v = 0; v < g->nr_vcpus; v++) {
			s->node[g->vcpu[v].node].load -= g->demand;
			g->vcpu[v].node = -1;
		}
		g->state = SIM_REFUSED;
		log_warning("%s: guest %s cannot start at %gs: it needs %s and the host is full",
			    s->name, g->name, s->now, fmt_size(a, sizeof(a), g->memory));
		return;
	}
	for (int v = 0; v < g->nr_vcpus; v++) {
		zero_counts(&g->vcpu[v]);
		g->vcpu[v].ips = 0;
	}
	g->ips = 0;
	g->remote_ratio = -1;
	g->state = SIM_LIVE;
	live_insert(s, g);
	if (s->numab.on)
		sim_numab_arrive(s, g);
}

/* A guest stops: its memory is freed and its migrations fail. */
static void leave(struct sim *s, struct sim_guest *g)
{
	for (int i = 0; i < s->nr_mig; i++)
		if (s->mig[i].g == g)
			end_migration(s, &s->mig[i], VN_MIG_FAILED, ESRCH);
	compact_migrations(s);
	for (int v = 0; v < g->nr_vcpus; v++) {
		struct sim_vcpu *c = &g->vcpu[v];

		if (c->node >= 0)
			s->node[c->node].load -= g->demand;
		c->node = -1;
		c->share = c->ips = 0;
	}
	free_memory(s, g);
	g->ips = 0;
	g->remote_ratio = -1;
	g->state = SIM_GONE;
	live_remove(s, g);
}

/* Applies what the scenario says happens at the current time. */
static void run_events(struct sim *s)
{
	double t = s->now + SIM_TIME_EPS;

	if (s->next_event >= s->nr_events || s->events[s->next_event] > t)
		return;
	while (s->next_event < s->nr_events && s->events[s->next_event] <= t)
		s->next_event++;
	count_loads(s);
	for (int i = 0; i < s->nr_guests; i++) {
		struct sim_guest *g = &s->guests[i];

		if (g->state == SIM_LIVE && g->stop >= 0 && g->stop <= t)
			leave(s, g);
	}
	for (int i = 0; i < s->nr_guests; i++) {
		struct sim_guest *g = &s->guests[i];

		if (g->state != SIM_PENDING || g->start > t)
			continue;
		if (g->stop >= 0 && g->stop <= t)
			g->state = SIM_GONE;	/* came and went within a step */
		else
			arrive(s, g);
	}
	for (int i = 0; i < s->nr_live; i++)
		if (update_phase(s->live[i], s->now))
			resolve_workload(s, s->live[i]);
}

/* One step of the model: h seconds with nothing scheduled in between. */
static void run_step(struct sim *s, double h)
{
	schedule(s);
	s->stamp = s->now + h;
	run_migrations(s, h);
	sim_numab_step(s, h);
	for (int i = 0; i < s->nr_live; i++)
		if (s->live[i]->dist_dirty)
			update_dist(s, s->live[i]);
	solve(s, h);
}

void sim_step(struct sim *s, double dt)
{
	double end = s->now + dt;

	while (end - s->now > SIM_TIME_EPS) {
		double h = MIN(s->step, end - s->now);
		bool at_event = false;

		run_events(s);
		if (s->next_event < s->nr_events &&
		    s->events[s->next_event] - s->now <= h) {
			h = s->events[s->next_event] - s->now;
			at_event = true;
		}
		run_step(s, h);
		/* land exactly on event times, so that they are never missed */
		s->now = at_event ? s->events[s->next_event] : s->now + h;
	}
	if (fabs(end - s->now) <= SIM_TIME_EPS)
		s->now = end;
	s->stamp = s->now;
	run_events(s);
}

/*
 * The DRAM no counter sees from each node ([host] uncounted): the other
 * nodes of its socket (SNC clusters, NPS quadrants: the CPU nodes closer
 * than SLIT 20, transitively) and memory-only nodes.
 */
static void find_uncounted(struct sim *s)
{
	int nn = s->nr_nodes, sock[VN_MAX_NODES];

	for (int a = 0; a < nn; a++)
		sock[a] = a;
	/* a few passes of min-label propagation: sockets have few nodes */
	for (int pass = 0; pass < nn; pass++)
		for (int a = 0; a < nn; a++)
			for (int b = 0; b < nn; b++)
				if (s->node[a].cpus && s->node[b].cpus &&
				    s->distance[a * nn + b] < 20 && sock[b] < sock[a])
					sock[a] = sock[b];
	for (int a = 0; a < nn; a++) {
		s->lost_from[a] = 0;
		for (int b = 0; b < nn; b++) {
			if (a == b)
				continue;
			if ((s->lose_snc && s->node[b].cpus && sock[a] == sock[b]) ||
			    (s->lose_memory_only && !s->node[b].cpus))
				s->lost_from[a] |= 1ULL << b;
		}
	}
}

/* Sets up the state at time 0 once the scenario is parsed. */
void sim_init_state(struct sim *s)
{
	int nn = s->nr_nodes;

	s->live = xcalloc(s->nr_guests, sizeof(*s->live));
	/* unknowns of the bandwidth solve: the nodes, then the links */
	s->nr_vars = nn;
	if (s->link_bw > 0 && nn > 1) {
		s->link_var = xcalloc((size_t)nn * nn, sizeof(int));
		for (int a = 0; a < nn; a++) {
			s->link_var[a * nn + a] = -1;
			for (int b = a + 1; b < nn; b++) {
				s->link_var[a * nn + b] = s->nr_vars;
				s->link_var[b * nn + a] = s->nr_vars++;
			}
		}
	}
	s->mult = xcalloc(s->nr_vars, sizeof(double));
	s->util = xcalloc(s->nr_vars, sizeof(double));
	s->traffic = xcalloc(s->nr_vars, sizeof(double));
	s->mig_bw = xcalloc(s->nr_vars, sizeof(double));
	s->mig_save = xcalloc(s->nr_vars, sizeof(double));
	{
		int most = 1;

		for (int i = 0; i < s->nr_guests; i++)
			most = MAX(most, s->guests[i].nr_vcpus);
		s->grp = xcalloc(most, sizeof(*s->grp));
	}
	s->cap = xcalloc(s->nr_vars, sizeof(double));
	s->rhs = xcalloc(s->nr_vars, sizeof(double));
	s->jac = xcalloc((size_t)s->nr_vars * s->nr_vars, sizeof(double));
	for (int i = 0; i < s->nr_vars; i++) {
		s->mult[i] = 1;
		s->cap[i] = i < nn ? s->node[i].bw_max : s->link_bw;
	}
	sim_numab_init(s);
	find_uncounted(s);
	sim_seed(s, s->seed);
	run_events(s);
}

void sim_seed(struct sim *s, uint64_t seed)
{
	s->seed = seed;
	for (int i = 0; i < s->nr_guests; i++) {
		struct sim_guest *g = &s->guests[i];

		/* one stream per vCPU: the order of reads does not matter */
		for (int v = 0; v < g->nr_vcpus; v++)
			rng_seed(&g->vcpu[v].rng, seed * 0x9e3779b97f4a7c15ULL ^
				 ((uint64_t)i << 20 | (uint64_t)v));
	}
}

void sim_free(struct sim *s)
{
	/* migrations still listed are not touched: their owner may be gone */
	if (!s)
		return;
	for (int i = 0; i < s->nr_guests; i++) {
		struct sim_guest *g = &s->guests[i];

		free(g->name);
		free(g->phases);
		free(g->mem_weight);
		free(g->vnode_node);
		free(g->vcpu);
		free(g->tids);
		free(g->allowed);
		free(g->vnode);
		free(g->mem);
		free(g->hot_bytes);
		free(g->dist);
		free(g->nz);
		free(g->nnz);
		free(g->gstamp);
		free(g->gidx);
	}
	for (int i = 0; i < s->nr_wl; i++)
		free(s->wl[i].name);
	free(s->wl);
	free(s->guests);
	free(s->live);
	free(s->events);
	free(s->mig);
	free(s->mig_share);
	free(s->link_var);
	free(s->mult);
	free(s->util);
	free(s->traffic);
	free(s->mig_bw);
	free(s->mig_save);
	free(s->grp);
	free(s->cap);
	free(s->rhs);
	free(s->jac);
	sim_numab_free(s);
	free(s->name);
	free(s);
}

/* Queries. Out-of-range arguments give zero figures, never a crash. */

static const struct sim_guest *guest(const struct sim *s, int g)
{
	return g >= 0 && g < s->nr_guests ? &s->guests[g] : NULL;
}

static bool node_ok(const struct sim *s, int n)
{
	return n >= 0 && n < s->nr_nodes;
}

double sim_now(const struct sim *s)
{
	return s->now;
}

double sim_duration(const struct sim *s)
{
	return s->duration;
}

int sim_nr_nodes(const struct sim *s)
{
	return s->nr_nodes;
}

int sim_node_cpus(const struct sim *s, int n)
{
	return node_ok(s, n) ? s->node[n].cpus : 0;
}

int sim_distance(const struct sim *s, int a, int b)
{
	return node_ok(s, a) && node_ok(s, b) ? s->distance[a * s->nr_nodes + b] : 0;
}

uint64_t sim_node_mem_total(const struct sim *s, int n)
{
	return node_ok(s, n) ? s->node[n].mem_total : 0;
}

uint64_t sim_node_mem_used(const struct sim *s, int n)
{
	return node_ok(s, n) ? s->node[n].mem_used : 0;
}

uint64_t sim_node_mem_free(const struct sim *s, int n)
{
	const struct sim_node *nd;

	if (!node_ok(s, n))
		return 0;
	nd = &s->node[n];
	return nd->mem_total - MIN(nd->mem_total, nd->reserved + nd->mem_used);
}

uint64_t sim_mem_used(const struct sim *s)
{
	uint64_t sum = 0;

	for (int n = 0; n < s->nr_nodes; n++)
		sum += s->node[n].mem_used;
	return sum;
}

double sim_node_bw_max(const struct sim *s, int n)
{
	return node_ok(s, n) ? s->node[n].bw_max : 0;
}

double sim_node_bw_used(const struct sim *s, int n)
{
	return node_ok(s, n) ? s->node[n].bw_used : 0;
}

double sim_node_cpu_load(const struct sim *s, int n)
{
	return node_ok(s, n) && s->node[n].cpus ? s->node[n].load / s->node[n].cpus : 0;
}

int sim_nr_guests(const struct sim *s)
{
	return s->nr_guests;
}

int sim_guest_find(const struct sim *s, const char *name)
{
	for (int i = 0; i < s->nr_guests; i++)
		if (strcmp(s->guests[i].name, name) == 0)
			return i;
	return -1;
}

const char *sim_guest_name(const struct sim *s, int g)
{
	return guest(s, g) ? s->guests[g].name : NULL;
}

double sim_guest_start(const struct sim *s, int g)
{
	return guest(s, g) ? s->guests[g].start : 0;
}

double sim_guest_stop(const struct sim *s, int g)
{
	return guest(s, g) ? s->guests[g].stop : -1;
}

int sim_guest_nr_phases(const struct sim *s, int g)
{
	return guest(s, g) ? s->guests[g].nr_phases : 0;
}

double sim_guest_phase_at(const struct sim *s, int g, int i)
{
	if (!guest(s, g) || i < 0 || i >= s->guests[g].nr_phases)
		return -1;
	return s->guests[g].phases[i].at;
}

const char *sim_guest_phase_name(const struct sim *s, int g, int i)
{
	if (!guest(s, g) || i < 0 || i >= s->guests[g].nr_phases)
		return NULL;
	return s->wl[s->guests[g].phases[i].workload].name;
}

bool sim_guest_alive(const struct sim *s, int g)
{
	return guest(s, g) && s->guests[g].state == SIM_LIVE;
}

int sim_guest_vcpus(const struct sim *s, int g)
{
	return guest(s, g) ? s->guests[g].nr_vcpus : 0;
}

unsigned sim_guest_flags(const struct sim *s, int g)
{
	return guest(s, g) ? s->guests[g].flags : 0;
}

uint64_t sim_guest_mem(const struct sim *s, int g, int n)
{
	return guest(s, g) && node_ok(s, n) ? s->guests[g].mem_node[n] : 0;
}

void sim_guest_first_touch(const struct sim *s, int g, uint64_t *mem)
{
	const struct sim_guest *sg = guest(s, g);
	int nn = s->nr_nodes;

	if (!sg)
		return;
	for (int vn = 0; vn < sg->nr_vnodes; vn++) {
		uint64_t pages = sg->memory / s->page, want[VN_MAX_NODES];
		uint64_t mine = pages / sg->nr_vnodes + ((uint64_t)vn < pages % sg->nr_vnodes);
		double w[VN_MAX_NODES] = { 0 };

		/* as alloc_memory() weighs, before any node's room */
		if (sg->vnode_node)
			w[sg->vnode_node[vn]] = 1;
		else if (sg->mem_weight)
			memcpy(w, sg->mem_weight, nn * sizeof(double));
		else
			for (int v = 0; v < sg->nr_vcpus; v++)
				if (sg->vnode[v] == vn && sg->vcpu[v].node >= 0)
					w[sg->vcpu[v].node] += 1;
		apportion(nn, w, mine, want);
		for (int n = 0; n < nn; n++)
			mem[vn * nn + n] = want[n] * s->page;
	}
}

uint64_t sim_guest_mem_total(const struct sim *s, int g)
{
	uint64_t sum = 0;

	for (int n = 0; guest(s, g) && n < s->nr_nodes; n++)
		sum += s->guests[g].mem_node[n];
	return sum;
}

uint64_t sim_guest_size(const struct sim *s, int g)
{
	return guest(s, g) ? s->guests[g].memory : 0;
}

double sim_guest_ips(const struct sim *s, int g)
{
	return sim_guest_alive(s, g) ? s->guests[g].ips : 0;
}

double sim_guest_remote_ratio(const struct sim *s, int g)
{
	return sim_guest_alive(s, g) ? s->guests[g].remote_ratio : -1;
}

static bool vcpu_ok(const struct sim *s, int g, int v)
{
	return guest(s, g) && v >= 0 && v < s->guests[g].nr_vcpus;
}

double sim_vcpu_ips(const struct sim *s, int g, int v)
{
	return vcpu_ok(s, g, v) && sim_guest_alive(s, g) ?
		s->guests[g].vcpu[v].ips : 0;
}

int sim_vcpu_node(const struct sim *s, int g, int v)
{
	return vcpu_ok(s, g, v) ? s->guests[g].vcpu[v].node : -1;
}

uint64_t sim_vcpu_allowed(const struct sim *s, int g, int v)
{
	return vcpu_ok(s, g, v) ? s->guests[g].allowed[v] : 0;
}

uint64_t sim_page_size(const struct sim *s)
{
	return s->page;
}

uint64_t sim_node_mem_capacity(const struct sim *s, int n)
{
	const struct sim_node *nd;

	if (!node_ok(s, n))
		return 0;
	nd = &s->node[n];
	return nd->mem_total - MIN(nd->mem_total, nd->reserved);
}

void sim_guest_span(const struct sim *s, int g, double *start, double *stop)
{
	*start = guest(s, g) ? s->guests[g].start : 0;
	*stop = guest(s, g) ? s->guests[g].stop : -1;
}

unsigned sim_event_kind(const struct sim *s, double t)
{
	unsigned k = 0;

	for (int i = 0; i < s->nr_guests; i++) {
		const struct sim_guest *g = &s->guests[i];

		if (fabs(g->start - t) <= SIM_TIME_EPS && t > 0)
			k |= SIM_EV_ARRIVE;
		if (g->stop >= 0 && fabs(g->stop - t) <= SIM_TIME_EPS)
			k |= SIM_EV_LEAVE;
		for (int p = 0; p < g->nr_phases; p++)
			if (fabs(g->phases[p].at - t) <= SIM_TIME_EPS && t > 0)
				k |= SIM_EV_PHASE;
	}
	return k;
}

double sim_event_after(const struct sim *s, double t)
{
	for (int i = 0; i < s->nr_events; i++)
		if (s->events[i] > t + SIM_TIME_EPS)
			return s->events[i];
	return -1;
}

double sim_next_event(const struct sim *s)
{
	return s->next_event < s->nr_events ? s->events[s->next_event] : -1;
}

int sim_guest_vnodes(const struct sim *s, int g)
{
	return guest(s, g) ? s->guests[g].nr_vnodes : 0;
}

uint64_t sim_guest_vnode_mem(const struct sim *s, int gi, int vn, int node)
{
	const struct sim_guest *g = guest(s, gi);
	uint64_t sum = 0, pages;

	if (!g || vn < 0 || vn >= g->nr_vnodes || (node >= 0 && !node_ok(s, node)))
		return 0;
	if (g->state != SIM_LIVE) {
		/* what it will have (or had), all nodes together */
		if (node >= 0)
			return 0;
		pages = g->memory / s->page;
		return (pages / g->nr_vnodes + ((uint64_t)vn < pages % g->nr_vnodes)) *
			s->page;
	}
	if (node >= 0)
		return g->mem[vn * s->nr_nodes + node];
	for (int n = 0; n < s->nr_nodes; n++)
		sum += g->mem[vn * s->nr_nodes + n];
	return sum;
}

double sim_guest_hot(const struct sim *s, int g)
{
	return guest(s, g) ? s->guests[g].hot : 0;
}

double sim_guest_vnode_hot(const struct sim *s, int gi, int vn, int node)
{
	const struct sim_guest *g = guest(s, gi);

	if (!g || g->state != SIM_LIVE || vn < 0 || vn >= g->nr_vnodes ||
	    !node_ok(s, node))
		return 0;
	return g->hot_bytes[vn * s->nr_nodes + node];
}

int sim_guest_workload(const struct sim *s, int gi)
{
	const struct sim_guest *g = guest(s, gi);

	if (!g)
		return -1;
	return g->phase >= 0 ? g->phases[g->phase].workload : g->workload;
}

int sim_vcpu_vnode(const struct sim *s, int g, int v)
{
	return vcpu_ok(s, g, v) ? s->guests[g].vnode[v] : -1;
}

double sim_guest_dram_rate(const struct sim *s, int g)
{
	return sim_guest_alive(s, g) ? s->guests[g].dram_rate : 0;
}

void sim_guest_totals(const struct sim *s, int gi, double *instructions,
		      double *dram, double *remote)
{
	const struct sim_guest *g = guest(s, gi);

	*instructions = g ? g->total_instructions : 0;
	*dram = g ? g->total_dram : 0;
	*remote = g ? g->total_remote : 0;
}

void sim_set_migrate_rate(struct sim *s, double rate)
{
	s->mig_rate = rate > 0 ? rate : 0;
}

/* Whether hot[] is a placement of each vnode's hot bytes within mem[]. */
static bool hot_fits(const struct sim *s, const struct sim_guest *g,
		     const uint64_t *mem, const double *hot)
{
	int nn = s->nr_nodes;

	for (int vn = 0; vn < g->nr_vnodes; vn++) {
		double want = 0, total = 0;

		for (int n = 0; n < nn; n++) {
			double cell = (double)mem[vn * nn + n], x = hot[vn * nn + n];

			if (!(x >= 0) || x > cell * (1 + 1e-9) + 1)
				return false;
			want += x;
			total += cell;
		}
		/* the hot share of a vnode is the guest's: only where it sits moves */
		if (fabs(want - g->hot * total) > 1e-6 * total + 1)
			return false;
	}
	return true;
}

int sim_place(struct sim *s, int gi, const int *vcpu_node, const uint64_t *mem,
	      const double *hot)
{
	struct sim_guest *g;
	int nn = s->nr_nodes;

	if (!guest(s, gi))
		return -EINVAL;
	g = &s->guests[gi];
	if (g->state != SIM_LIVE)
		return -ESRCH;
	for (int v = 0; vcpu_node && v < g->nr_vcpus; v++)
		if (!node_ok(s, vcpu_node[v]) || !s->node[vcpu_node[v]].cpus)
			return -EINVAL;
	for (int vn = 0; mem && vn < g->nr_vnodes; vn++) {
		uint64_t want = 0, have = 0;

		for (int n = 0; n < nn; n++) {
			if (mem[vn * nn + n] % s->page)
				return -EINVAL;
			want += mem[vn * nn + n];
			have += g->mem[vn * nn + n];
		}
		if (want != have)
			return -EINVAL;
	}
	if (hot && !hot_fits(s, g, mem ? mem : g->mem, hot))
		return -EINVAL;
	sim_cancel_guest(s, gi);
	for (int v = 0; vcpu_node && v < g->nr_vcpus; v++) {
		g->allowed[v] = bit(vcpu_node[v]);
		g->vcpu[v].node = vcpu_node[v];
	}
	for (int vn = 0; mem && vn < g->nr_vnodes; vn++) {
		for (int n = 0; n < nn; n++) {
			uint64_t *cell = &g->mem[vn * nn + n];

			s->node[n].mem_used -= *cell;
			g->mem_node[n] -= *cell;
			*cell = mem[vn * nn + n];
			s->node[n].mem_used += *cell;
			g->mem_node[n] += *cell;
			/* without hot[], the hot share is spread like the rest */
			if (!hot)
				g->hot_bytes[vn * nn + n] = g->hot * (double)*cell;
		}
	}
	if (hot)
		memcpy(g->hot_bytes, hot, (size_t)g->nr_vnodes * nn * sizeof(double));
	if (mem || hot)
		g->dist_dirty = true;
	return 0;
}

double sim_settle(struct sim *s)
{
	double sum = 0;

	schedule(s);
	for (int i = 0; i < s->nr_live; i++)
		if (s->live[i]->dist_dirty)
			update_dist(s, s->live[i]);
	for (int it = 0; it < SIM_SETTLE_ITERS; it++) {
		speed_pass(s, PASS_JACOBIAN, 0);
		if (newton(s) < SIM_SOLVE_EPS)
			break;
	}
	speed_pass(s, PASS_SPEED, 0);
	for (int n = 0; n < s->nr_nodes; n++)
		s->node[n].bw_used = s->traffic[n];
	for (int i = 0; i < s->nr_live; i++)
		sum += s->live[i]->ips;
	return sum;
}

double sim_settle_alone(struct sim *s, int gi)
{
	struct sim_guest *g, **live = s->live;
	int nr = s->nr_live;
	double ips;

	if (!sim_guest_alive(s, gi))
		return 0;
	g = &s->guests[gi];
	/* the others are away, and so is their migration traffic */
	memcpy(s->mig_save, s->mig_bw, s->nr_vars * sizeof(double));
	memset(s->mig_bw, 0, s->nr_vars * sizeof(double));
	s->live = &g;
	s->nr_live = 1;
	ips = sim_settle(s);
	s->live = live;
	s->nr_live = nr;
	memcpy(s->mig_bw, s->mig_save, s->nr_vars * sizeof(double));
	return ips;
}

int sim_set_allowed(struct sim *s, int gi, int v, uint64_t nodes)
{
	if (!vcpu_ok(s, gi, v) || !(nodes & s->cpu_nodes) || (nodes & ~s->online))
		return -EINVAL;
	if (s->guests[gi].state != SIM_LIVE)
		return -ESRCH;
	s->guests[gi].allowed[v] = nodes & s->cpu_nodes;
	return 0;
}

int sim_set_affinity(struct sim *s, int gi, int v, uint64_t nodes)
{
	struct sim_guest *g;

	if (!vcpu_ok(s, gi, v) || !nodes || (nodes & ~s->online))
		return -EINVAL;
	/* like sched_setaffinity: memory-only nodes add no CPUs to the set */
	nodes &= s->cpu_nodes;
	if (!nodes)
		return -EINVAL;
	g = &s->guests[gi];
	if (g->state != SIM_LIVE)
		return -ESRCH;
	if (g->flags & VNUMAD_GUEST_PINNED)
		return -EPERM;
	g->allowed[v] = nodes;
	/* like sched_setaffinity: a vCPU off its new set moves at once, one
	 * still on it stays where it is */
	if (g->vcpu[v].node >= 0 && !(nodes & bit(g->vcpu[v].node))) {
		s->node[g->vcpu[v].node].load -= g->demand;
		place_vcpu(s, g, v);
	}
	return 0;
}

int sim_migrate(struct sim *s, int gi, struct vn_migration *m, double rate)
{
	struct sim_guest *g;
	struct sim_mig *sm;

	if (!guest(s, gi) || !m || !node_ok(s, m->from) || !node_ok(s, m->to) ||
	    m->from == m->to || !(rate > 0))
		return -EINVAL;
	g = &s->guests[gi];
	if (g->state != SIM_LIVE)
		return -ESRCH;
	if (g->flags & VNUMAD_GUEST_NO_MEMMOVE)
		return -EOPNOTSUPP;
	if (s->nr_mig == s->cap_mig) {
		s->cap_mig = s->cap_mig ? s->cap_mig * 2 : 16;
		s->mig = xreallocarray(s->mig, s->cap_mig, sizeof(*s->mig));
		s->mig_share = xreallocarray(s->mig_share, s->cap_mig,
					     sizeof(*s->mig_share));
	}
	sm = &s->mig[s->nr_mig++];
	*sm = (struct sim_mig){ .m = m, .g = g, .to = m->to, .rate = rate };
	/* move_pages moves whole pages: a part of a page moves all of it */
	sm->target = m->bytes ?
		(m->bytes + s->page - 1) / s->page * s->page : g->mem_node[m->from];
	m->done = m->failed = 0;
	m->error = 0;
	m->state = VN_MIG_RUNNING;
	return 0;
}

void sim_cancel(struct sim *s, struct vn_migration *m)
{
	s->stamp = s->now;
	for (int i = 0; i < s->nr_mig; i++) {
		if (s->mig[i].m == m) {
			end_migration(s, &s->mig[i], VN_MIG_CANCELLED, 0);
			compact_migrations(s);
			return;
		}
	}
}

/* Ends every migration of a guest the daemon no longer knows. */
void sim_cancel_guest(struct sim *s, int gi)
{
	s->stamp = s->now;
	for (int i = 0; i < s->nr_mig; i++)
		if (s->mig[i].g->index == gi)
			end_migration(s, &s->mig[i], VN_MIG_CANCELLED, 0);
	compact_migrations(s);
}

/*
 * Two independent standard normal draws (Marsaglia's polar method): a read
 * needs four, and this costs two logarithms where Box-Muller, one value at a
 * time, would cost four logarithms and four cosines.
 */
static void normal_pair(struct vn_rng *r, double *z0, double *z1)
{
	double u, v, q, f;

	do {
		u = 2 * rng_uniform(r) - 1;
		v = 2 * rng_uniform(r) - 1;
		q = u * u + v * v;
	} while (q >= 1 || q == 0);
	f = sqrt(-2 * log(q) / q);
	*z0 = u * f;
	*z1 = v * f;
}

/*
 * A counter with its whole part taken out, leaving the fraction behind.
 * Multiplexed counters are scaled estimates: the noise is a relative error.
 */
static uint64_t take(double *acc, double noise, double z)
{
	double whole = floor(*acc), f = 1 + noise * z;

	*acc -= whole;
	if (noise > 0)
		whole = floor(whole * (f > 0 ? f : 0) + 0.5);
	return (uint64_t)whole;
}

int sim_read_counts(struct sim *s, int gi, int v, struct vn_counts *out)
{
	double z[4] = { 0 };
	struct sim_guest *g;
	struct sim_vcpu *c;

	memset(out, 0, sizeof(*out));
	out->node = -1;
	out->source = VNUMAD_SRC_SIM;
	if (!vcpu_ok(s, gi, v))
		return -EINVAL;
	g = &s->guests[gi];
	if (g->state != SIM_LIVE)
		return -ESRCH;
	c = &g->vcpu[v];
	out->node = c->node;
	if (c->elapsed <= 0)
		return 0;
	if (g->noise > 0) {
		normal_pair(&c->rng, &z[0], &z[1]);
		normal_pair(&c->rng, &z[2], &z[3]);
	}
	out->cycles = take(&c->cycles, g->noise, z[0]);
	out->instructions = take(&c->instructions, g->noise, z[1]);
	out->local_dram = take(&c->local, g->noise, z[2]);
	out->remote_dram = take(&c->remote, g->noise, z[3]);
	out->cpu_time = c->cpu_time;
	out->elapsed = c->elapsed;
	out->valid = true;
	c->cpu_time = c->elapsed = 0;
	return 0;
}

void sim_reset_counts(struct sim *s, int gi)
{
	if (!guest(s, gi))
		return;
	for (int v = 0; v < s->guests[gi].nr_vcpus; v++)
		zero_counts(&s->guests[gi].vcpu[v]);
}
