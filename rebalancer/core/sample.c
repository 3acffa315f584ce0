// SPDX-License-Identifier: MIT
/*
 * Stage 2, sample: per-vCPU counter deltas every tick, and each guest's
 * memory distribution at the slower memory_interval cadence (reading
 * numa_maps on a real host is expensive).
 */
#include "core.h"
#include "log.h"

void stage_sample(struct vn_core *c)
{
	struct vn_sampler *s = &c->sampler;
	struct vn_host *h = &c->host;

	for (int i = 0; i < h->nr_guests; i++) {
		struct vn_guest *g = h->guests[i];

		for (int v = 0; v < g->nr_vcpus; v++)
			g->vc[v].delta.valid = false;
		if (s->ops->read(s, g) < 0) {
			c->stats.sample_errors++;
			log_debug("guest %s: counters unreadable this tick", g->name);
		}
		if (g->mem_read_at < 0 ||
		    h->now - g->mem_read_at >= c->cfg.memory_interval - 1e-9) {
			if (s->ops->memory(s, g) < 0) {
				c->stats.sample_errors++;
				log_debug("guest %s: memory distribution unreadable", g->name);
			} else {
				g->mem_read_at = h->now;
			}
		}
	}
}
