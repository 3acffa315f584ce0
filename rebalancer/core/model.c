// SPDX-License-Identifier: MIT
/*
 * Stage 3, model: turns counter deltas into the smoothed figures policies
 * read, per vCPU, guest and node, and writes each guest's history for the
 * guard. It sets no flag: the publish stage derives those.
 *
 * Smoothing is an EWMA with a half-life h (the [model] halflife key): a
 * reading covering dt seconds gets the weight a = 1 - 2^(-dt/h), so the
 * figures mean the same whatever the tick interval. The remote ratio is the
 * ratio of the smoothed local and remote access rates, not a smoothed
 * ratio: an interval with 3 accesses weighs as much as its 3 accesses, not
 * as much as one with 10 million. A source that counts no accesses (procfs:
 * its "accesses" are CPU time split by a share) gives each interval with a
 * share one unit of weight instead: its share is no sample whose precision
 * grows with CPU time, and every vCPU of a guest on one node reads the same
 * share, so weighing it by CPU time would only turn scheduling noise into
 * ratios that differ between those vCPUs and cross a policy's threshold
 * ticks apart. Its trend is the gap between this ratio and the one of EWMAs
 * with half-life 4h, divided by the gap of their lags (3h / ln 2), per
 * minute.
 */
#include <math.h>
#include <string.h>

#include "core.h"

#define DRAM_LINE 64.0	/* bytes one DRAM access moves */

static double blend(double old, double x, double a)
{
	return old < 0 ? x : old + a * (x - old);
}

/* True for sources that count instructions (the others only see locality). */
static bool counts_instructions(enum vnumad_source s)
{
	return s == VNUMAD_SRC_PMU || s == VNUMAD_SRC_SIM;
}

/* EWMA weights for a reading of dt seconds; most readings share one dt. */
static void smoothing(double hl, double dt, double *a, double *a_slow)
{
	static double last_hl = -1, last_dt = -1, wa, wa_slow;

	if (hl != last_hl || dt != last_dt) {
		last_hl = hl;
		last_dt = dt;
		wa = hl > 0 ? 1.0 - exp2(-dt / hl) : 1.0;
		wa_slow = hl > 0 ? 1.0 - exp2(-dt / (4 * hl)) : 1.0;
	}
	*a = wa;
	*a_slow = wa_slow;
}

/*
 * Smooths the vCPU's local and remote access rates. The first reading with
 * accesses starts them; a reading without any lets both decay alike, which
 * leaves their ratio as it was. A source counting no accesses gives shares,
 * weighed one per reading (the file's comment says why); an interval in
 * which the thread did not run has none.
 *
 * `shifted` says this is the first reading that knows the guest's memory
 * moved. The /proc estimate is then computed from the new placement, not
 * counted: there is no noise in that step to average, and its history
 * describes memory that is gone, so the smoothed share starts again from
 * it (a phase change read 30% remote, then 51% and 65%, where it was 100%,
 * and a policy took the memory for mostly local). The slow average keeps
 * its history, so that the trend shows the step. Counted accesses keep
 * smoothing: a count is noisy, and its step is real traffic as it comes.
 */
static void smooth_counts(struct vn_vcpu *p, const struct vn_counts *d,
			  double a, double a_slow, bool shifted)
{
	double l = (double)d->local_dram / d->elapsed;
	double r = (double)d->remote_dram / d->elapsed;

	if (!counts_instructions(d->source)) {
		double sum = l + r;

		if (sum <= 0)
			return;	/* it did not run: no share this interval */
		l /= sum;
		r /= sum;
	}
	if (shifted && d->source == VNUMAD_SRC_ESTIMATE)
		a = 1;
	if (p->local_s + p->remote_s > 0) {
		p->local_s += a * (l - p->local_s);
		p->remote_s += a * (r - p->remote_s);
		p->local_slow += a_slow * (l - p->local_slow);
		p->remote_slow += a_slow * (r - p->remote_slow);
	} else if (l + r > 0) {
		p->local_s = p->local_slow = l;
		p->remote_s = p->remote_slow = r;
	}
}

/* Updates one vCPU from its last reading; returns its instantaneous IPS. */
static double model_vcpu(struct vn_core *c, struct vn_guest *g, int i,
			 double *acc, double *acc_remote)
{
	struct vnumad_vcpu *v = &g->vv[i];
	struct vn_vcpu *p = &g->vc[i];
	const struct vn_counts *d = &p->delta;
	double hl = c->cfg.halflife, a, a_slow, ips, accesses, lag, weight;

	if (!d->valid || d->elapsed <= 0)
		return -1;

	/* counters for Prometheus, which takes its own rates */
	p->total.cpu_time += d->cpu_time;
	if (counts_instructions(d->source)) {
		p->total.instructions += d->instructions;
		p->total.cycles += d->cycles;
		p->total.local_dram += d->local_dram;
		p->total.remote_dram += d->remote_dram;
		p->total.counted = true;
	}

	smoothing(hl, d->elapsed, &a, &a_slow);
	ips = (double)d->instructions / d->elapsed;
	accesses = (double)(d->local_dram + d->remote_dram);

	v->source = d->source;
	v->node = d->node;
	if (!counts_instructions(d->source)) {
		/*
		 * The /proc fallback: no instructions, and its "accesses" are
		 * CPU-time weights that only carry the local/remote split.
		 */
		ips = 0;
		v->ips = 0;
		v->ipc = 0;
		v->access_rate = -1;
		v->cpu_demand = blend(v->cpu_demand <= 0 ? -1 : v->cpu_demand,
				      d->cpu_time / d->elapsed, a);
	} else if (v->ips <= 0 && v->ipc <= 0) {	/* first reading */
		v->ips = ips;
		v->ipc = d->cycles ? (double)d->instructions / (double)d->cycles : 0;
		v->access_rate = accesses / d->elapsed;
		v->cpu_demand = d->cpu_time / d->elapsed;
	} else {
		v->ips = blend(v->ips, ips, a);
		if (d->cycles)
			v->ipc = blend(v->ipc, (double)d->instructions / (double)d->cycles, a);
		v->access_rate = blend(v->access_rate, accesses / d->elapsed, a);
		v->cpu_demand = blend(v->cpu_demand, d->cpu_time / d->elapsed, a);
	}
	if (v->cpu_demand > 1)
		v->cpu_demand = 1;
	smooth_counts(p, d, a, a_slow, g->mem_shift_tick == c->host.tick);
	if (p->local_s + p->remote_s > 0)
		v->remote_ratio = p->remote_s / (p->local_s + p->remote_s);
	lag = hl > 0 ? 3.0 * hl / M_LN2 : 0;
	v->remote_trend = lag > 0 && p->local_slow + p->remote_slow > 0 ?
		(v->remote_ratio - p->remote_slow / (p->local_slow + p->remote_slow)) /
		lag * 60.0 : 0;
	/* a guest's remote ratio weighs its vCPUs by traffic, else by CPU use */
	weight = v->access_rate >= 0 ? v->access_rate : v->cpu_demand;
	*acc += weight;
	if (v->remote_ratio >= 0)
		*acc_remote += weight * v->remote_ratio;
	return ips;
}

/*
 * DRAM traffic of a guest's vCPUs, charged to the nodes that serve it,
 * except those whose memory controllers measured theirs (in measured).
 * Returns whether any vCPU had traffic figures to charge.
 */
static bool charge_bandwidth(struct vn_host *h, const struct vn_guest *g,
			     uint64_t measured)
{
	bool any = false;

	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct vnumad_vcpu *v = &g->vv[i];
		double local, remote, far = 0;

		if (v->node < 0 || v->node >= h->nr_nodes || v->remote_ratio < 0 ||
		    v->access_rate < 0)
			continue;
		any = true;
		local = v->access_rate * (1 - v->remote_ratio) * DRAM_LINE;
		remote = v->access_rate * v->remote_ratio * DRAM_LINE;
		if (!(measured >> v->node & 1))
			h->node[v->node].bw_used += local;
		/* remote traffic is served where the rest of the memory is */
		for (int n = 0; n < h->nr_nodes; n++)
			if (n != v->node)
				far += (double)g->v.mem[n];
		for (int n = 0; remote > 0 && far > 0 && n < h->nr_nodes; n++)
			if (n != v->node && !(measured >> n & 1))
				h->node[n].bw_used += remote * (double)g->v.mem[n] / far;
	}
	return any;
}

/*
 * Adds a vCPU's reading to its guest's local and remote figures for the
 * guard's history. The kernel's NUMA fault statistics are decayed
 * averages: task_numa_placement() (kernel/sched/fair.c) halves them once
 * per scan pass over the task's address space, and a fault counts on the
 * node its page is on. After a migration they go on telling the old node
 * for passes that take up to numa_balancing_scan_period_max_ms (60 s by
 * default) each, where the guard's trial lasts seconds: every relief in
 * the VM read "local share 100% -> 93%" and was reverted. Such a reading
 * is judged by where the guest's memory is now, as the /proc estimate
 * reads it; the policies keep the fault share, which knows the hot set.
 */
static void history_split(const struct vn_guest *g, const struct vn_counts *d,
			  double *local, double *remote)
{
	double w = (double)d->local_dram + (double)d->remote_dram, l;

	if (d->source != VNUMAD_SRC_FAULTS || !g->v.mem_total || d->node < 0 ||
	    d->node >= VN_MAX_NODES) {
		*local += (double)d->local_dram;
		*remote += (double)d->remote_dram;
		return;
	}
	l = w * (double)g->v.mem[d->node] / (double)g->v.mem_total;
	*local += l;
	*remote += w - l;
}

void stage_model(struct vn_core *c)
{
	struct vn_host *h = &c->host;
	double demand[VN_MAX_NODES] = { 0 };
	uint64_t measured = 0;
	bool estimated = false;

	/* what the memory controllers measured stays; the rest is charged */
	for (int n = 0; n < h->nr_nodes; n++) {
		if (h->node_info[n].bw_used_source == VNUMAD_SRC_UNCORE)
			measured |= 1ULL << n;
		else
			h->node[n].bw_used = 0;
	}
	for (int i = 0; i < h->nr_guests; i++) {
		struct vn_guest *g = h->guests[i];
		double acc = 0, acc_remote = 0, ips_now = 0, ips = 0;
		double local_now = 0, remote_now = 0, instr_now = 0;
		int valid = 0;
		bool instr = true;

		g->v.mem_total = 0;
		for (int n = 0; n < h->nr_nodes; n++)
			g->v.mem_total += g->v.mem[n];
		for (int v = 0; v < g->nr_vcpus; v++) {
			double x = model_vcpu(c, g, v, &acc, &acc_remote);

			if (x >= 0) {
				const struct vn_counts *d = &g->vc[v].delta;

				ips_now += x;
				valid++;
				history_split(g, d, &local_now, &remote_now);
				instr_now += (double)d->instructions;
				instr &= counts_instructions(d->source);
			}
			ips += g->vv[v].ips;
			if (g->vv[v].node >= 0 && g->vv[v].node < h->nr_nodes)
				demand[g->vv[v].node] += g->vv[v].cpu_demand;
		}
		g->v.ips = ips;
		g->v.remote_ratio = acc > 0 ? acc_remote / acc : -1;
		/*
		 * The guard's history: instructions per second where the source
		 * counts them; else the share of local accesses, the only figure
		 * of merit such a source has. NaN where a reading was missing.
		 * With instructions, also the accesses per instruction and the
		 * local share, for trials across a phase of the workload.
		 */
		if (valid != g->nr_vcpus || !valid) {
			history_record(g, h->tick, NAN);
		} else {
			double share = local_now + remote_now > 0 ? HIST_LOCAL_FLOOR +
				       local_now / (local_now + remote_now) : NAN;

			/* a figure of another kind than the history's: it starts again */
			if (g->hist_local != !instr)
				history_reset(g);
			g->hist_local = !instr;
			history_record(g, h->tick, instr ? ips_now : share);
			if (instr)
				history_record_mix(g, h->tick, instr_now > 0 ?
						   (local_now + remote_now) / instr_now : NAN,
						   share);
		}
		estimated |= charge_bandwidth(h, g, measured);
	}
	for (int n = 0; n < h->nr_nodes; n++)
		if (!(measured >> n & 1))
			h->node_info[n].bw_used_source = estimated ?
				VNUMAD_SRC_ESTIMATE : VNUMAD_SRC_NONE;
	for (int n = 0; n < h->nr_nodes; n++)
		h->node[n].cpu_load = h->node[n].nr_cpus ?
			demand[n] / h->node[n].nr_cpus : 0;
}
