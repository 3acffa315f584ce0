// SPDX-License-Identifier: MIT
/*
 * Stage 8, actuate: applies what the arbiter accepted through the backend.
 * A vCPU gets the CPU set of its target node (never a single CPU); memory
 * moves run in the backend's mover and report back. Each guest's moves of
 * this tick -- one slice of the decisions, which the arbiter ordered by
 * guest -- become one trial for the guard. In a dry run nothing happens.
 *
 * A failed actuation is either permanent -- the backend will never allow
 * it: no permission, not supported, read-only -- or transient -- the
 * thread is busy or gone, the connection dropped, memory is short, the
 * move no longer fits: the policy may propose it again. A permanent failure
 * marks the guest refused: the arbiter drops its moves until the guest
 * restarts or the configuration is reloaded, as irqbalance's activate.c
 * stops trying an IRQ whose affinity cannot be written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"
#include "util.h"

bool actuate_permanent(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
	case EOPNOTSUPP:	/* ENOTSUP on Linux */
	case ENOSYS:
	case EROFS:
		return true;
	default:	/* EAGAIN, EBUSY, ESRCH, ENOTCONN, ENOMEM, EIO, EINVAL, ... */
		return false;
	}
}

static void note_move(struct vn_core *c, struct vn_guest *g)
{
	g->move_times[g->nr_move_times % VN_MOVES_KEPT] = c->host.now;
	g->nr_move_times++;
	g->last_move = c->host.now;
}

/* Starts one memory migration of a decision; appends its action. */
static bool start_migration(struct vn_core *c, struct vn_decision *d, int from, int to,
			    uint64_t bytes, struct vn_action *act)
{
	int err = 0;
	struct vn_migration *m = migration_start(c, d->g, from, to, bytes, false, d->tag,
						 &err);

	if (!m) {
		if (!d->error)
			d->error = err ? err : EIO;
		return false;
	}
	*act = (struct vn_action){ .kind = VNUMAD_MOVE_MEMORY, .from = from, .to = to,
		.bytes = bytes, .mig = m };
	c->stats.memory_moves++;
	return true;
}

/* Gives one vCPU the CPU set of `nodes`; appends its action. */
static bool move_vcpu(struct vn_core *c, struct vn_decision *d, int v, uint64_t nodes,
		      struct vn_action *act)
{
	struct vn_guest *g = d->g;
	uint64_t old = g->vv[v].allowed;
	int r = c->backend.ops->set_affinity(&c->backend, g, v, nodes);

	if (r < 0) {
		if (!d->error)
			d->error = -r;
		return false;
	}
	g->vv[v].allowed = nodes;
	g->vc[v].last_move = c->host.now;
	*act = (struct vn_action){ .kind = VNUMAD_MOVE_VCPU, .vcpu = v,
		.from = g->vv[v].node, .to = __builtin_ctzll(nodes), .old_allowed = old };
	c->stats.vcpu_moves++;
	return true;
}

/* Applies one accepted decision; appends the actions done to act[]. */
static int apply(struct vn_core *c, struct vn_decision *d, struct vn_action *act, int max)
{
	struct vn_guest *g = d->g;
	struct vnumad_proposal *p = &d->p;
	int n = 0, dest = -1;

	switch (p->kind) {
	case VNUMAD_MOVE_VCPU:
		d->old_allowed = g->vv[p->vcpu].allowed;
		n += move_vcpu(c, d, p->vcpu, 1ULL << p->to, act);
		break;
	case VNUMAD_MOVE_MEMORY:
		n += start_migration(c, d, p->from, p->to, p->bytes, act);
		break;
	case VNUMAD_MOVE_GUEST:
		for (int v = 0; v < g->nr_vcpus && n < max; v++)
			if (g->vv[v].allowed != p->nodes)
				n += move_vcpu(c, d, v, p->nodes, act + n);
		if (g->v.flags & VNUMAD_GUEST_NO_MEMMOVE)
			break;
		for (int k = 0; k < c->host.nr_nodes; k++)
			if ((p->nodes >> k & 1) &&
			    (dest < 0 || c->host.node[k].mem_free > c->host.node[dest].mem_free))
				dest = k;
		for (int k = 0; k < c->host.nr_nodes && n < max; k++)
			if (!(p->nodes >> k & 1) && g->v.mem[k])
				n += start_migration(c, d, k, dest, g->v.mem[k], act + n);
		break;
	}
	d->applied = n > 0;
	return n;
}

/* Says why a decision failed, and refuses the guest if it is for good. */
static void failed(struct vn_core *c, struct vn_decision *d)
{
	struct vn_guest *g = d->g;

	c->stats.actuation_errors++;
	if (!actuate_permanent(d->error)) {
		log_info("guest %s: move failed for now: %s", g->name, strerror(d->error));
		return;
	}
	if (!g->refused)
		log_warnx("guest %s: the backend refuses to move it: %s; no move of it is "
			  "tried again until it restarts or the configuration is reloaded",
			  g->name, strerror(d->error));
	g->refused = d->error;
}

void actuate_guest(struct vn_core *c, struct vn_decision *d, int n)
{
	struct vn_guest *g = d[0].g;
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
		if (d[j].error)
			failed(c, &d[j]);
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

void stage_actuate(struct vn_core *c, struct vn_decisions *dec)
{
	if (core_advisory(c))
		return;
	/* the accepted ones come first, one slice per guest */
	for (int i = 0, j; i < dec->nr_accepted; i = j) {
		for (j = i + 1; j < dec->nr_accepted && dec->d[j].g == dec->d[i].g; j++)
			;
		actuate_guest(c, &dec->d[i], j - i);
	}
}
