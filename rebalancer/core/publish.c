// SPDX-License-Identifier: MIT
/*
 * Stage 5, publish: the view the policy and the arbiter read, built once per
 * tick after the guard has judged and reverted. Everything in it that comes
 * from the core's own state is derived here and nowhere else: a guest's
 * IN_TRIAL (a trial of it is open), MIGRATING (a migration of its memory is
 * under way) and quarantine mask; a vCPU's IN_TRIAL, HOLD (moved within
 * [limits] hysteresis, by the policy, the guard's undo or the operator) and
 * the age of its last move; its id, age and per-vnode memory (what the
 * sampler read); the view's migration budget and rate. The model (stage 3)
 * fills the measured figures; the backend the flags it knows (pinned, opted
 * out, no memory migration).
 *
 * It runs again at the end of a tick that applied moves, and after an
 * operator's move, so that `vnumad status` and the metrics read between
 * ticks what the core now knows.
 */
#include "core.h"
#include "util.h"

#define DERIVED_FLAGS (VNUMAD_GUEST_IN_TRIAL | VNUMAD_GUEST_MIGRATING)

void publish_guest(struct vn_core *c, struct vn_guest *g)
{
	double now = c->host.now;
	unsigned f = g->v.flags & ~DERIVED_FLAGS;

	if (guard_in_trial(c, g->id))
		f |= VNUMAD_GUEST_IN_TRIAL;
	if (migration_running(c, g->id))
		f |= VNUMAD_GUEST_MIGRATING;
	g->v.flags = f;
	g->v.quarantine = guard_quarantine_mask(c, g);
	g->v.id = g->id;
	g->v.age = now - g->first_seen;
	g->v.nr_vnodes = g->nr_vnodes;
	g->v.vnode_mem = g->vnode_mem_valid ? g->vnode_mem : NULL;
	for (int i = 0; i < g->nr_vcpus; i++) {
		struct vnumad_vcpu *v = &g->vv[i];
		double last = g->vc[i].last_move;

		v->flags = 0;
		v->last_move_age = last < 0 ? -1 : now - last;
		if (last >= 0 && now - last < c->cfg.hysteresis)
			v->flags |= VNUMAD_VCPU_HOLD;
		if (f & VNUMAD_GUEST_IN_TRIAL)
			v->flags |= VNUMAD_VCPU_IN_TRIAL;
	}
}

void stage_publish(struct vn_core *c)
{
	struct vn_host *h = &c->host;
	double budget = migration_budget(c);

	for (int i = 0; i < h->nr_guests; i++)
		publish_guest(c, h->guests[i]);
	c->view = (struct vnumad_view){
		.size = sizeof(c->view),
		.tick = h->tick,
		.now = h->now,
		.interval = c->cfg.interval,
		.nr_nodes = h->nr_nodes,
		.online = h->online,
		.nodes = h->node,
		.distance = h->distance,
		.nr_guests = h->nr_guests,
		.guests = h->view_guests,
		/* 0 is "unknown" in the ABI: a full queue accepts 1 byte, less than a page */
		.migrate_budget = MAX(1.0, budget),
		.node_info = h->node_info,
		.guest_size = sizeof(struct vnumad_guest),
		.migrate_rate = c->cfg.migrate_rate,
	};
}
