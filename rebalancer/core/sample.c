// SPDX-License-Identifier: MIT
/*
 * Stage 2, sample: per-vCPU counter deltas every tick, node bandwidth where
 * the memory controllers count it, and each guest's memory distribution at
 * the slower memory_interval cadence.
 *
 * A memory reading costs little from a memory cgroup and a lot from
 * numa_maps (the kernel walks the guest's page tables: milliseconds per
 * GiB), so on a real host the readings share a CPU budget: each tick adds
 * [sampling] memory_budget, a reading takes what it cost (the loop
 * thread's user and kernel time, where the kernel's walk is charged), and
 * while nothing is left the guests that are due wait, round robin from
 * where the last tick stopped. A reading that cost more than the budget is
 * paid back by the ticks after it. A guest with no reading (new, or whose
 * memory just moved) never waits, and is read before its counters: its
 * cost is paid back the same way. A guest kept waiting a whole interval
 * beyond its due time gets one warning naming the cadence that can be held.
 * The simulated host and trace replay cost nothing real: no budget there.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "log.h"

/* How far a guest's memory moves (mem_shift) before its baselines start afresh. */
#define MEM_SHIFT	0.1

/* CPU seconds the calling thread has used, user and kernel. */
static double thread_cpu(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool memory_due(const struct vn_core *c, const struct vn_guest *g)
{
	return g->mem_read_at < 0 ||
	       c->host.now - g->mem_read_at >= c->cfg.memory_interval - 1e-9;
}

/* A guest that grows or shrinks in place has not shifted (core.h). */
double sample_mem_shift(const uint64_t *before, const uint64_t *now, int nr_nodes)
{
	double moved = 0, tb = 0, tn = 0;

	for (int n = 0; n < nr_nodes; n++) {
		tb += (double)before[n];
		tn += (double)now[n];
	}
	if (tb <= 0 || tn <= 0)
		return 0;
	for (int n = 0; n < nr_nodes; n++)
		moved += fabs((double)now[n] / tn - (double)before[n] / tb);
	return moved / 2;
}

/*
 * Reads one guest's memory distribution and charges the budget for it.
 * `after` says the guest's counters of this tick were read before it: the
 * figures that know this reading start with the next tick.
 */
static void memory_read(struct vn_core *c, struct vn_guest *g, bool after)
{
	struct vn_sampler *s = &c->sampler;
	uint64_t before[VNUMAD_MAX_NODES];
	double t0 = thread_cpu();

	memcpy(before, g->v.mem, sizeof(before));
	if (s->ops->memory(s, g) < 0) {
		c->stats.sample_errors++;
		g->sample_errors++;
		log_debug("guest %s: memory distribution unreadable", g->name);
	} else {
		g->mem_read_at = c->host.now;
		/*
		 * Its memory moved (a phase change of the guest, or a
		 * migration): the guard's baselines start once the figures know
		 * it, since the readings before measured a placement that is gone.
		 */
		if (sample_mem_shift(before, g->v.mem, c->host.nr_nodes) >= MEM_SHIFT)
			g->mem_shift_tick = c->host.tick + (after ? 1 : 0);
	}
	g->mem_cost = thread_cpu() - t0;
	c->mem_budget.credit -= g->mem_cost;
}

/*
 * Warns once when the budget cannot hold memory_interval: with every
 * guest's last cost (the mean of those known for the others), one round
 * of readings takes that many ticks' budget.
 */
static void memory_late(struct vn_core *c, int waiting, double worst)
{
	struct vn_host *h = &c->host;
	double round = 0, every;
	int known = 0;

	if (!waiting || worst < 2 * c->cfg.memory_interval) {
		if (c->mem_budget.late && !waiting)
			log_info("memory readings keep to memory_interval again");
		if (!waiting)
			c->mem_budget.late = false;
		return;
	}
	if (c->mem_budget.late)
		return;
	c->mem_budget.late = true;
	for (int i = 0; i < h->nr_guests; i++)
		if (h->guests[i]->mem_cost >= 0) {
			round += h->guests[i]->mem_cost;
			known++;
		}
	if (known)
		round *= (double)h->nr_guests / known;
	every = round / c->cfg.memory_budget * c->cfg.interval;
	log_warning("memory readings cannot keep to memory_interval %.3gs: a round "
		  "of %d guests costs %.1f ms of CPU, and [sampling] memory_budget "
		  "%.1f ms per %.3gs tick reads each guest about every %.0fs "
		  "(%d waiting); raise the budget or memory_interval, or give the "
		  "guests memory cgroups of their own (numa_maps is the costly read)",
		  c->cfg.memory_interval, h->nr_guests, round * 1e3,
		  c->cfg.memory_budget * 1e3, c->cfg.interval,
		  fmax(every, c->cfg.memory_interval), waiting);
}

/* The memory readings of the guests that are due, within the budget. */
static void sample_memory(struct vn_core *c)
{
	struct vn_host *h = &c->host;
	struct vn_mem_budget *b = &c->mem_budget;
	double budget = c->cfg.memory_budget, worst = 0;
	bool limited = budget > 0 && !c->virtual_time;
	int n = h->nr_guests, start, waiting = 0;

	if (!n)
		return;
	if (limited)	/* unspent credit is not saved up beyond one tick's */
		b->credit = fmin(b->credit + budget, budget);
	start = b->cursor % n;
	for (int k = 0; k < n; k++) {
		int i = (start + k) % n;
		struct vn_guest *g = h->guests[i];

		if (!memory_due(c, g))
			continue;
		/* a guest never read (new, or just migrated) is read at once,
		 * budget or not: without figures the policy cannot see it */
		if (limited && b->credit <= 0 && g->mem_read_at >= 0) {
			waiting++;
			worst = fmax(worst, h->now - g->mem_read_at);
			continue;
		}
		memory_read(c, g, true);
		b->cursor = i + 1;
	}
	if (limited)
		memory_late(c, waiting, worst);
}

void stage_sample(struct vn_core *c)
{
	struct vn_sampler *s = &c->sampler;
	struct vn_host *h = &c->host;

	/* node bandwidth the memory controllers measure; the model estimates the rest */
	for (int n = 0; n < VN_MAX_NODES; n++)
		h->node_info[n].bw_used_source = VNUMAD_SRC_NONE;
	if (s->ops->nodes)
		s->ops->nodes(s, h);
	/*
	 * A guest with no memory reading has one before its counters are
	 * read: a source that estimates locality from the memory (procfs)
	 * then has a figure in the guest's first tick.
	 */
	for (int i = 0; i < h->nr_guests; i++)
		if (h->guests[i]->mem_read_at < 0)
			memory_read(c, h->guests[i], false);
	for (int i = 0; i < h->nr_guests; i++) {
		struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			g->vc[v].delta.valid = false;
		/* a guest known not to be measurable is no error each tick */
		if (s->ops->read(s, g) < 0 && !g->unmeasured) {
			c->stats.sample_errors++;
			g->sample_errors++;
			log_debug("guest %s: counters unreadable this tick", g->name);
		}
	}
	sample_memory(c);
}
