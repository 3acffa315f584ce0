// SPDX-License-Identifier: MIT
/*
 * Stage 1, inventory: the host's topology and its guests, from the backend.
 * A model backend first runs its clock forward by one interval.
 */
#include "core.h"
#include "log.h"
#include "util.h"

/* [guests] exclude: the operator's opt-out, by name pattern. */
static void mark_excluded(struct vn_core *c)
{
	for (int i = 0; i < c->host.nr_guests && c->cfg.nr_exclude; i++) {
		struct vn_guest *g = c->host.guests[i];

		for (int p = 0; p < c->cfg.nr_exclude; p++)
			if (glob_match(c->cfg.exclude[p], g->name)) {
				g->v.flags |= VNUMAD_GUEST_OPTED_OUT;
				break;
			}
	}
}

int stage_inventory(struct vn_core *c)
{
	struct vn_backend *b = &c->backend;
	int r;

	if (b->ops->advance) {
		r = b->ops->advance(b, c->cfg.interval);
		if (r < 0) {
			log_warnx("backend %s: cannot advance the model", b->ops->name);
			return -1;
		}
	}
	r = b->ops->topology(b, &c->host);
	if (r < 0) {
		log_warnx("backend %s: cannot read the topology", b->ops->name);
		return -1;
	}
	/* [host] bandwidth: the operator's figure wins over the firmware's */
	for (int n = 0; n < c->host.nr_nodes; n++)
		if (c->cfg.node_bw_set >> n & 1) {
			c->host.node[n].bw_max = c->cfg.node_bw[n];
			c->host.node_info[n].bw_max_source = VNUMAD_SRC_CONFIG;
		}
	host_scan_begin(&c->host);
	r = b->ops->scan(b, &c->host);
	if (r < 0) {
		/* keep the guests we know rather than drop them all */
		for (int i = 0; i < c->host.nr_guests; i++)
			c->host.guests[i]->seen = true;
		log_warnx("backend %s: cannot list guests; keeping the last inventory",
			  b->ops->name);
	}
	host_scan_end(&c->host);
	mark_excluded(c);
	migration_reap(c);
	return 0;
}
