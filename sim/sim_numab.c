// SPDX-License-Identifier: MIT
/*
 * The simulated host's automatic NUMA balancing (kernel.numa_balancing = 1),
 * a feature of the host like the real one: each guest's memory is scanned
 * a window at a time, the hot pages of the window take NUMA hinting faults,
 * a remote fault may migrate its page to the faulting vCPU's node, and a
 * vCPU moves toward the node its faults prefer when that node has CPU room.
 * sim/README.md ("The kernel's NUMA balancing") gives each element with
 * its source in the kernel (Documentation/admin-guide/sysctl/kernel.rst,
 * kernel/sched/fair.c, mm/).
 *
 * A guest is one process (mm) whose vCPU threads are its tasks, all in one
 * NUMA group. The model works with expected values, deterministically: a
 * scan of a fraction f of the guest's memory faults f of its hot pages
 * (each touched before the next scan with the probability its access rate
 * gives), each fault is taken by the vCPUs in proportion to their accesses
 * to that page's guest NUMA node, and fractions of pages carry over.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"
#include "sim_impl.h"
#include "util.h"

/* fair.c: NUMA_PERIOD_SLOTS, NUMA_PERIOD_THRESHOLD, MAX_SCAN_WINDOW (MB/s) */
#define PERIOD_SLOTS		10
#define PERIOD_THRESHOLD	7
#define MAX_SCAN_WINDOW		2560.0
/* fair.c: ACTIVE_NODE_FRACTION, in should_numa_migrate_memory() */
#define ACTIVE_NODE_FRACTION	3
/* scans one step may hold; more are late, as a busy task's would be */
#define MAX_SCANS_PER_STEP	64

int sim_numab_parse(struct vn_ini *ini, struct vn_errors *e, struct sim *s)
{
	struct sim_numab *nb = &s->numab;

	nb->on = false;
	nb->scan_delay = 1.0;
	nb->period_min = 1.0;
	nb->period_max = 60.0;
	nb->scan_size = 256 * MiB;
	nb->fault_cost = 2e-6;
	nb->copy_rate = 4e9;
	vn_ini_bool(ini, e, "host", "numa_balancing", &nb->on);
	vn_ini_duration(ini, e, "host", "numa_balancing_scan_delay", &nb->scan_delay,
			0, 3600);
	vn_ini_duration(ini, e, "host", "numa_balancing_scan_period_min",
			&nb->period_min, 0.001, 3600);
	vn_ini_duration(ini, e, "host", "numa_balancing_scan_period_max",
			&nb->period_max, 0.001, 86400);
	vn_ini_size(ini, e, "host", "numa_balancing_scan_size", &nb->scan_size,
		    MiB, 1024 * GiB);
	vn_ini_duration(ini, e, "host", "numa_balancing_fault_cost", &nb->fault_cost,
			0, 0.01);
	vn_ini_rate(ini, e, "host", "numa_balancing_copy_rate", &nb->copy_rate,
		    1e7, 1e12);
	if (nb->period_max < nb->period_min) {
		vn_ini_error(ini, e, "host", "numa_balancing_scan_period_max",
			     "below numa_balancing_scan_period_min");
		return -1;
	}
	return 0;
}

void sim_numab_init(struct sim *s)
{
	s->numab.g = xcalloc(s->nr_guests + 1, sizeof(*s->numab.g));
}

void sim_numab_free(struct sim *s)
{
	for (int i = 0; s->numab.g && i < s->nr_guests; i++) {
		free(s->numab.g[i].credit);
		free(s->numab.g[i].pass_hot);
	}
	free(s->numab.g);
	s->numab.g = NULL;
}

void sim_set_numa_balancing(struct sim *s, bool on)
{
	double now = s->now;

	if (on && !s->numab.on) {
		/* as when the sysctl is written: every task starts afresh */
		for (int i = 0; i < s->nr_guests; i++)
			sim_numab_arrive(s, &s->guests[i]);
		for (int i = 0; i < s->nr_guests; i++)
			s->numab.g[i].next_scan = now;
	}
	s->numab.on = on;
}

bool sim_numa_balancing(const struct sim *s)
{
	return s->numab.on;
}

void sim_numab_totals(const struct sim *s, struct sim_numab_totals *t)
{
	*t = s->numab.totals;
}

double sim_copy_rate(const struct sim *s)
{
	return s->numab.copy_rate;
}

/*
 * fair.c task_nr_scan_windows(): scan_size windows in the resident memory,
 * rounded up; task_scan_min() and task_scan_max() divide the period bounds
 * by it, so that a whole pass takes about the same time whatever the size,
 * never faster than MAX_SCAN_WINDOW MB/s.
 */
static double windows(const struct sim *s, const struct sim_guest *g)
{
	double w = ceil((double)g->memory / (double)s->numab.scan_size);

	return w < 1 ? 1 : w;
}

static double scan_min(const struct sim *s, const struct sim_guest *g)
{
	const struct sim_numab *nb = &s->numab;
	double mb = (double)nb->scan_size / MiB, lo = 1.0;

	/* never more than MAX_SCAN_WINDOW MB a second: whole windows a second */
	if (mb < MAX_SCAN_WINDOW)
		lo = 1.0 / floor(MAX_SCAN_WINDOW / mb);
	return MAX(lo, nb->period_min / windows(s, g));
}

static double scan_max(const struct sim *s, const struct sim_guest *g)
{
	return MAX(scan_min(s, g), s->numab.period_max / windows(s, g));
}

void sim_numab_arrive(struct sim *s, struct sim_guest *g)
{
	struct sim_numab_guest *st = &s->numab.g[g->index];
	size_t cells = (size_t)g->nr_vnodes * s->nr_nodes * s->nr_nodes;
	double *credit = st->credit, *pass_hot = st->pass_hot;

	memset(st, 0, sizeof(*st));
	st->credit = credit ? credit : xcalloc(cells, sizeof(double));
	memset(st->credit, 0, cells * sizeof(double));
	st->pass_hot = pass_hot ? pass_hot :
		xcalloc((size_t)g->nr_vnodes * s->nr_nodes, sizeof(double));
	st->pos = 1;	/* the first scan starts a pass */
	/* fork: numa_scan_period = scan delay; the first scan after it */
	st->period = s->numab.scan_delay;
	st->next_scan = s->now + s->numab.scan_delay;
	st->preferred = -1;
	st->next_place = st->next_scan;
}

int sim_numab_preferred(const struct sim *s, const struct sim_guest *g)
{
	return s->numab.on ? s->numab.g[g->index].preferred : -1;
}

/* Bytes of one guest NUMA node's hot pages moved from one node to another. */
static uint64_t move_hot(struct sim *s, struct sim_guest *g, int vn, int from,
			 int to, uint64_t pages)
{
	int nn = s->nr_nodes;
	uint64_t *src = &g->mem[vn * nn + from];
	double *hot = &g->hot_bytes[vn * nn + from];
	uint64_t have = (uint64_t)(*hot / (double)s->page + 1e-9), b;

	pages = MIN(pages, MIN(have, *src / s->page));
	pages = MIN(pages, sim_free_pages(s, to));
	if (!pages)
		return 0;
	b = pages * s->page;
	*src -= b;
	g->mem_node[from] -= b;
	s->node[from].mem_used -= b;
	*hot = MAX(0.0, *hot - (double)b);
	g->mem[vn * nn + to] += b;
	g->mem_node[to] += b;
	s->node[to].mem_used += b;
	g->hot_bytes[vn * nn + to] += (double)b;
	g->dist_dirty = true;
	return b;
}

/*
 * update_task_scan_period(): the period grows when the faults of the pass
 * were mostly private or mostly local (by (ratio - threshold) tenths of
 * itself, at least one), shrinks when they were private and remote, and
 * doubles when there were none, between task_scan_min and task_scan_max.
 */
static void update_period(struct sim *s, struct sim_guest *g,
			  struct sim_numab_guest *st)
{
	double lo = scan_min(s, g), hi = scan_max(s, g), slot = st->period / PERIOD_SLOTS;
	double diff;
	int lr, ps;

	if (st->local + st->shared <= 0) {
		st->period = MIN(hi, st->period * 2);
		return;
	}
	lr = (int)(st->local * PERIOD_SLOTS / (st->local + st->remote));
	ps = (int)(st->priv * PERIOD_SLOTS / (st->priv + st->shared));
	if (ps >= PERIOD_THRESHOLD)
		diff = MAX(1, ps - PERIOD_THRESHOLD) * slot;
	else if (lr >= PERIOD_THRESHOLD)
		diff = MAX(1, lr - PERIOD_THRESHOLD) * slot;
	else
		diff = -(PERIOD_THRESHOLD - MAX(lr, ps)) * slot;
	st->period = MIN(hi, MAX(lo, st->period + diff));
}

/*
 * task_numa_placement() at the end of a pass: the fault statistics decay
 * by half and take the pass's, the preferred node is the one with the most
 * memory faults, the scan period adapts.
 */
static void end_pass(struct sim *s, struct sim_guest *g, struct sim_numab_guest *st)
{
	int best = -1;

	for (int n = 0; n < s->nr_nodes; n++) {
		st->faults_mem[n] = st->faults_mem[n] / 2 + st->pass_mem[n];
		st->faults_cpu[n] = st->faults_cpu[n] / 2 + st->pass_cpu[n];
		st->pass_mem[n] = st->pass_cpu[n] = 0;
		if (st->faults_mem[n] > 0 && (best < 0 || st->faults_mem[n] > st->faults_mem[best]))
			best = n;
	}
	if (best >= 0)
		st->preferred = best;
	update_period(s, g, st);
	st->local = st->remote = st->priv = st->shared = 0;
	st->seq++;
}

/*
 * should_numa_migrate_memory() in expectation, for a fault on a page of
 * node `src` from a vCPU on node `dst`: early in the task's life (no
 * preferred node, or within four passes) a page migrates at its first
 * fault; later only when its previous fault came from `dst` too (the
 * two-stage filter: probability p_dst), and then always for a private
 * fault, for a shared one when `dst` has more than three times the CPU
 * faults of `src`, or by the 3/4 hysteresis on CPU over memory faults.
 */
static double migrate_prob(const struct sim_numab_guest *st, int src, int dst,
			   double p_dst, double priv)
{
	double gate;

	if (st->preferred < 0 || st->seq <= 4)
		return 1;
	if (st->faults_cpu[dst] > st->faults_cpu[src] * ACTIVE_NODE_FRACTION)
		gate = 1;
	else
		gate = st->faults_cpu[dst] * st->faults_mem[src] * 3 >
		       st->faults_cpu[src] * st->faults_mem[dst] * 4;
	return p_dst * (priv + (1 - priv) * gate);
}

/*
 * One scan of the next scan_size window (task_numa_work() and the faults
 * that follow it): per guest NUMA node, the hot pages of the window on each
 * node fault, the vCPUs taking them in proportion to their accesses to it.
 * A remote fault that passes the filter owes its page a migration to the
 * faulting vCPU's node (st->credit), done by migrate_owed().
 */
static void scan(struct sim *s, struct sim_guest *g, struct sim_numab_guest *st,
		 double *lost)
{
	struct sim_numab *nb = &s->numab;
	int nn = s->nr_nodes, nv = g->nr_vnodes, nvc = MIN(g->nr_vcpus, SIM_NUMAB_MAX_VCPUS);
	double f = MIN(1.0, (double)nb->scan_size / (double)g->memory);
	double hot = 0, touched, rate = g->dram_rate;

	/*
	 * A pass walks the address space once: each window holds f of what
	 * each cell held when the pass began (less what has left it since).
	 */
	if (st->pos >= 1 - 1e-9) {
		st->pos = 0;
		memcpy(st->pass_hot, g->hot_bytes, (size_t)nv * nn * sizeof(double));
	}
	for (int i = 0; i < nv * nn; i++)
		hot += g->hot_bytes[i];
	if (hot <= 0)
		goto pass;
	/* a hot page is touched before the next scan with this probability */
	touched = 1 - exp(-rate * st->period / (hot / (double)s->page));
	for (int vn = 0; vn < nv; vn++) {
		double w[VN_MAX_NODES] = { 0 }, wv[SIM_NUMAB_MAX_VCPUS], sum = 0, priv = 0;

		/* accesses of each vCPU to this vnode's memory */
		for (int v = 0; v < nvc; v++) {
			const struct sim_vcpu *c = &g->vcpu[v];
			double share = nv == 1 ? 1 : c->vnode == vn ? g->vnode_locality :
				       (1 - g->vnode_locality) / (nv - 1);

			wv[v] = c->node >= 0 ? c->ips * g->mpi * share : 0;
			if (c->node >= 0)
				w[c->node] += wv[v];
			sum += wv[v];
		}
		if (sum <= 0)
			continue;
		/* the chance that a page's previous fault was the same thread's */
		for (int v = 0; v < nvc; v++)
			priv += (wv[v] / sum) * (wv[v] / sum);
		for (int n = 0; n < nn; n++) {
			double faults = MIN(st->pass_hot[vn * nn + n] * f,
					    g->hot_bytes[vn * nn + n]) / (double)s->page * touched;

			if (faults <= 0)
				continue;
			nb->totals.hint_faults += faults;
			st->pass_mem[n] += faults;
			for (int d = 0; d < nn; d++) {
				double p = w[d] / sum, fd = faults * p;

				if (fd <= 0)
					continue;
				st->pass_cpu[d] += fd;
				st->priv += fd * priv;
				st->shared += fd * (1 - priv);
				/* each vCPU on d pays for its share of the faults */
				for (int v = 0; v < nvc; v++)
					if (g->vcpu[v].node == d)
						lost[v] += fd * wv[v] / w[d] * nb->fault_cost;
				if (d == n) {
					st->local += fd;
					nb->totals.hint_faults_local += fd;
					continue;
				}
				st->remote += fd;
				st->credit[(vn * nn + n) * nn + d] +=
					fd * migrate_prob(st, n, d, p, priv);
				st->owed = true;
			}
		}
	}
pass:
	st->pos += f;
	if (st->pos >= 1 - 1e-9)
		end_pass(s, g, st);
}

/*
 * The migrations the faults owe (migrate_misplaced_folio()), as fast as the
 * faulting vCPUs copy: each vCPU copies at copy_rate for the CPU it has,
 * and the time it copies is time its guest does not run. The pages load
 * both nodes' memory bandwidth (and their link) like any migration. A page
 * whose target is full stays where it is and is no longer owed
 * (migrate_balanced_pgdat()).
 */
static void migrate_owed(struct sim *s, struct sim_guest *g,
			 struct sim_numab_guest *st, double h, double *lost)
{
	int nn = s->nr_nodes, nvc = MIN(g->nr_vcpus, SIM_NUMAB_MAX_VCPUS);
	double copy[VN_MAX_NODES] = { 0 }, cpu[VN_MAX_NODES] = { 0 };
	bool left = false;

	for (int v = 0; v < nvc; v++)
		if (g->vcpu[v].node >= 0) {
			cpu[g->vcpu[v].node] += g->vcpu[v].share;
			copy[g->vcpu[v].node] += s->numab.copy_rate * g->vcpu[v].share * h;
		}
	for (int vn = 0; vn < g->nr_vnodes; vn++)
		for (int n = 0; n < nn; n++)
			for (int d = 0; d < nn; d++) {
				double *credit = &st->credit[(vn * nn + n) * nn + d];
				uint64_t pages, b;

				if (*credit < 1) {
					left |= *credit > 0;
					continue;
				}
				pages = (uint64_t)floor(MIN(*credit, copy[d] / (double)s->page));
				b = pages ? move_hot(s, g, vn, n, d, pages) : 0;
				if (!b && pages)
					*credit = 0;	/* nothing left to move, or d is full */
				*credit -= (double)(b / s->page);
				left |= *credit > 0;
				if (!b)
					continue;
				copy[d] -= (double)b;
				s->numab.totals.bytes_migrated += b;
				s->mig_bw[n] += (double)b / h;
				s->mig_bw[d] += (double)b / h;
				if (s->link_var)
					s->mig_bw[s->link_var[n * nn + d]] += (double)b / h;
				for (int v = 0; v < nvc; v++)
					if (g->vcpu[v].node == d && cpu[d] > 0)
						lost[v] += (double)b / s->numab.copy_rate *
							   g->vcpu[v].share / cpu[d];
			}
	st->owed = left;
}

/*
 * numa_migrate_preferred() / task_numa_migrate(): a vCPU away from the
 * preferred node moves there when its affinity allows and the move leaves
 * the load no more imbalanced than it was (load_too_imbalanced(), loads
 * per CPU); retried every min(1 s, period / 16). Swaps with a task on the
 * preferred node are not modelled.
 */
static void place(struct sim *s, struct sim_guest *g, struct sim_numab_guest *st)
{
	int dst = st->preferred;

	if (dst < 0 || s->now < st->next_place)
		return;
	st->next_place = s->now + MIN(1.0, st->period / 16);
	for (int v = 0; v < g->nr_vcpus; v++) {
		struct sim_vcpu *c = &g->vcpu[v];
		struct sim_node *a, *b;
		double d = g->demand, before, after;

		if (c->node < 0 || c->node == dst || !(g->allowed[v] >> dst & 1))
			continue;
		a = &s->node[c->node];
		b = &s->node[dst];
		before = fabs(b->load * a->cpus - a->load * b->cpus);
		after = fabs((b->load + d) * a->cpus - (a->load - d) * b->cpus);
		if (after > before + 1e-9)
			continue;
		a->load -= d;
		b->load += d;
		c->node = dst;
		s->numab.totals.task_moves++;
	}
}

void sim_numab_step(struct sim *s, double h)
{
	struct sim_numab *nb = &s->numab;
	double end = s->now + h;

	if (!nb->on)
		return;
	for (int i = 0; i < s->nr_live; i++) {
		struct sim_guest *g = s->live[i];
		struct sim_numab_guest *st = &nb->g[g->index];
		double lost[SIM_NUMAB_MAX_VCPUS] = { 0 };
		int k = 0;

		/* a guest the model has not run yet has no accesses to fault with */
		while (g->dram_rate > 0 && st->next_scan < end - SIM_TIME_EPS &&
		       k++ < MAX_SCANS_PER_STEP) {
			scan(s, g, st, lost);
			st->next_scan += st->period;
		}
		if (st->owed)
			migrate_owed(s, g, st, h, lost);
		if (k > MAX_SCANS_PER_STEP)
			st->next_scan = end;	/* the rest of the step's scans are lost */
		/* time in the fault handler is time the guest does not run */
		for (int v = 0; v < MIN(g->nr_vcpus, SIM_NUMAB_MAX_VCPUS); v++) {
			struct sim_vcpu *c = &g->vcpu[v];

			if (lost[v] > 0 && c->share > 0)
				c->share = MAX(0.0, c->share - lost[v] / h);
		}
		place(s, g, st);
	}
}
