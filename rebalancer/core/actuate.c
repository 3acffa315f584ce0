// SPDX-License-Identifier: MIT
/*
 * Stage 7, actuate: applies what the arbiter accepted through the backend.
 * A vCPU gets the CPU set of its target node (never a single CPU); memory
 * moves run in the backend's mover and report back. Each guest's moves of
 * this tick become one trial for the guard. In a dry run nothing happens.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"
#include "util.h"

static void note_move(struct vn_core *c, struct vn_guest *g)
{
	g->move_times[g->nr_move_times % VN_MOVES_KEPT] = c->host.now;
	g->nr_move_times++;
	g->last_move = c->host.now;
}

struct vn_migration *core_migrate(struct vn_core *c, struct vn_guest *g,
				  int from, int to, uint64_t bytes, bool revert)
{
	struct vn_migration *m = xcalloc(1, sizeof(*m));
	int r;

	m->guest_id = g->id;
	m->from = from;
	m->to = to;
	m->bytes = bytes;
	m->state = VN_MIG_RUNNING;
	m->started = c->host.now;
	m->revert = revert;
	m->tag = revert ? 0 : c->tag;
	r = c->backend.ops->migrate(&c->backend, g, m);
	if (r < 0) {
		c->stats.actuation_errors++;
		log_warnx("guest %s: cannot migrate memory from node %d to node %d: %s",
			  g->name, from, to, strerror(-r));
		free(m);
		return NULL;
	}
	m->next = c->migrations;
	c->migrations = m;
	g->v.flags |= VNUMAD_GUEST_MIGRATING;
	return m;
}

static bool referenced(const struct vn_core *c, const struct vn_migration *m)
{
	for (const struct vn_trial *t = c->trials; t; t = t->next)
		for (int i = 0; i < t->nr_act; i++)
			if (t->act[i].mig == m)
				return true;
	return false;
}

/* Logs finished migrations and frees those nobody points at any more. */
void core_reap_migrations(struct vn_core *c)
{
	struct vn_migration **pp = &c->migrations;

	while (*pp) {
		struct vn_migration *m = *pp;
		struct vn_guest *g = host_find_id(&c->host, m->guest_id);
		char a[32], b[32];

		if (m->state == VN_MIG_RUNNING) {
			pp = &m->next;
			continue;
		}
		if (!m->reported) {
			m->reported = true;
			if (c->mig_hook)
				c->mig_hook(c, m, c->mig_hook_arg);
			m->finished = c->host.now;
			c->stats.bytes_migrated += m->done;
			if (m->state == VN_MIG_DONE)
				log_info("guest %s: %s moved from node %d to node %d%s",
					 g ? g->name : "(gone)", fmt_size(a, sizeof(a), m->done),
					 m->from, m->to, m->revert ? " (revert)" : "");
			else
				log_warnx("guest %s: migration node %d to %d %s after %s of %s%s%s",
					  g ? g->name : "(gone)", m->from, m->to,
					  m->state == VN_MIG_CANCELLED ? "cancelled" : "stopped",
					  fmt_size(a, sizeof(a), m->done),
					  fmt_size(b, sizeof(b), m->bytes),
					  m->error ? ": " : "", m->error ? strerror(m->error) : "");
			if (g) {
				bool busy = false;

				for (struct vn_migration *o = c->migrations; o; o = o->next)
					if (o != m && o->guest_id == g->id && o->state == VN_MIG_RUNNING)
						busy = true;
				if (!busy)
					g->v.flags &= ~VNUMAD_GUEST_MIGRATING;
				g->mem_read_at = -1;	/* read its memory again now */
			}
		}
		if (referenced(c, m)) {
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		free(m);
	}
}

/* Applies one accepted decision; appends the actions done to act[]. */
static int apply(struct vn_core *c, struct vn_decision *d,
		 struct vn_action *act, int max)
{
	struct vn_guest *g = d->g;
	struct vnumad_proposal *p = &d->p;
	int n = 0, r;

	switch (p->kind) {
	case VNUMAD_MOVE_VCPU:
		d->old_allowed = g->vv[p->vcpu].allowed;
		r = c->backend.ops->set_affinity(&c->backend, g, p->vcpu, 1ULL << p->to);
		if (r < 0) {
			d->error = -r;
			return 0;
		}
		g->vv[p->vcpu].allowed = 1ULL << p->to;
		g->vc[p->vcpu].last_move = c->host.now;
		act[n++] = (struct vn_action){ .kind = VNUMAD_MOVE_VCPU, .vcpu = p->vcpu,
			.from = p->from, .to = p->to, .old_allowed = d->old_allowed };
		c->stats.vcpu_moves++;
		break;
	case VNUMAD_MOVE_MEMORY: {
		struct vn_migration *m = core_migrate(c, g, p->from, p->to, p->bytes, false);

		if (!m) {
			d->error = EIO;
			return 0;
		}
		act[n++] = (struct vn_action){ .kind = VNUMAD_MOVE_MEMORY,
			.from = p->from, .to = p->to, .bytes = p->bytes, .mig = m };
		c->stats.memory_moves++;
		break;
	}
	case VNUMAD_MOVE_GUEST: {
		int dest = -1;

		for (int v = 0; v < g->nr_vcpus && n < max; v++) {
			uint64_t old = g->vv[v].allowed;

			if (old == p->nodes)
				continue;
			r = c->backend.ops->set_affinity(&c->backend, g, v, p->nodes);
			if (r < 0) {
				d->error = -r;
				continue;
			}
			g->vv[v].allowed = p->nodes;
			g->vc[v].last_move = c->host.now;
			act[n++] = (struct vn_action){ .kind = VNUMAD_MOVE_VCPU, .vcpu = v,
				.from = g->vv[v].node, .to = __builtin_ctzll(p->nodes),
				.old_allowed = old };
			c->stats.vcpu_moves++;
		}
		if (g->v.flags & VNUMAD_GUEST_NO_MEMMOVE)
			break;
		for (int k = 0; k < c->host.nr_nodes; k++)
			if ((p->nodes >> k & 1) &&
			    (dest < 0 || c->host.node[k].mem_free > c->host.node[dest].mem_free))
				dest = k;
		for (int k = 0; k < c->host.nr_nodes && n < max; k++) {
			struct vn_migration *m;

			if ((p->nodes >> k & 1) || !g->v.mem[k])
				continue;
			m = core_migrate(c, g, k, dest, g->v.mem[k], false);
			if (!m)
				continue;
			act[n++] = (struct vn_action){ .kind = VNUMAD_MOVE_MEMORY,
				.from = k, .to = dest, .bytes = g->v.mem[k], .mig = m };
			c->stats.memory_moves++;
		}
		break;
	}
	}
	d->applied = n > 0;
	return n;
}

/*
 * Applies the accepted decisions d[0..n) of one guest and makes them one
 * trial; also the way in for the operator's manual moves.
 */
void core_apply(struct vn_core *c, struct vn_guest *g, struct vn_decision *d, int n)
{
	struct vn_action *act;
	double expected = 0;
	int max = 0, done = 0;

	for (int j = 0; j < n; j++)
		max += d[j].p.kind == VNUMAD_MOVE_GUEST ? g->nr_vcpus + VN_MAX_NODES : 1;
	act = xcalloc(max + 1, sizeof(*act));
	for (int j = 0; j < n; j++) {
		if (!d[j].accepted || d[j].g != g)
			continue;
		done += apply(c, &d[j], act + done, max - done);
		if (d[j].error) {
			c->stats.actuation_errors++;
			log_warnx("guest %s: move failed: %s", g->name, strerror(d[j].error));
		}
		/* a vCPU's gain counts for its share of the guest */
		if (d[j].applied && d[j].p.kind == VNUMAD_MOVE_VCPU && g->v.ips > 0)
			expected += d[j].p.gain * g->vv[d[j].p.vcpu].ips / g->v.ips;
		else if (d[j].applied)
			expected += d[j].p.gain;
	}
	if (done) {
		note_move(c, g);
		if (c->cfg.guard)
			guard_start_trial(c, g, act, done, expected);
	}
	free(act);
}

void stage_actuate(struct vn_core *c)
{
	struct vn_decision *mine;

	if (core_advisory(c) || !c->nr_dec)
		return;
	mine = xcalloc(c->nr_dec, sizeof(*mine));
	/* guest by guest, so that each guest's moves form one trial */
	for (int i = 0; i < c->nr_dec; i++) {
		struct vn_guest *g = c->dec[i].g;
		bool first = true;
		int n = 0;

		if (!c->dec[i].accepted)
			continue;
		for (int j = 0; j < i; j++)
			if (c->dec[j].accepted && c->dec[j].g == g)
				first = false;
		if (!first)
			continue;
		for (int j = i; j < c->nr_dec; j++)
			if (c->dec[j].accepted && c->dec[j].g == g)
				mine[n++] = c->dec[j];
		core_apply(c, g, mine, n);
		/* the outcome goes back to the record stage */
		for (int j = i, k = 0; j < c->nr_dec && k < n; j++)
			if (c->dec[j].accepted && c->dec[j].g == g)
				c->dec[j] = mine[k++];
	}
	free(mine);
}
