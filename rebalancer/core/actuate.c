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
 *
 * The moves are written ahead: planned, then held by the journal with what
 * each may do, then applied, then the journal told what was done. A move
 * the journal cannot hold is not made, and the core advises only until the
 * journal can be written again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "journal.h"
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

/* One action about to be applied: which decision, and the vCPU's new set. */
struct step {
	int owner;		/* index of its decision */
	uint64_t nodes;		/* vCPU: the nodes of its CPU set */
};

/* Plans a vCPU of `nodes`; appends its action. */
static int plan_vcpu(const struct vn_guest *g, int v, uint64_t nodes, struct vn_action *act,
		     struct step *st, int owner)
{
	*act = (struct vn_action){ .kind = VNUMAD_MOVE_VCPU, .vcpu = v,
		.from = g->vv[v].node, .to = __builtin_ctzll(nodes),
		.old_allowed = g->vv[v].allowed, .eff_hi = 1,
		.before_from = VN_BYTES_UNKNOWN, .before_to = VN_BYTES_UNKNOWN };
	*st = (struct step){ .owner = owner, .nodes = nodes };
	return 1;
}

/* Plans a memory migration; appends its action. */
static int plan_memory(const struct vn_guest *g, int from, int to, uint64_t bytes,
		       struct vn_action *act, struct step *st, int owner)
{
	bool known = g->mem_read_at >= 0;

	if (!bytes)
		return 0;
	*act = (struct vn_action){ .kind = VNUMAD_MOVE_MEMORY, .from = from, .to = to,
		.bytes = bytes, .eff_hi = bytes,
		.before_from = known ? g->v.mem[from] : VN_BYTES_UNKNOWN,
		.before_to = known ? g->v.mem[to] : VN_BYTES_UNKNOWN };
	*st = (struct step){ .owner = owner };
	return 1;
}

/*
 * The actions decision d asks for, appended to act[] with nothing applied
 * yet: the journal holds them first.
 */
static int plan(struct vn_core *c, struct vn_decision *d, int owner, struct vn_action *act,
		struct step *st, int max)
{
	struct vn_guest *g = d->g;
	struct vnumad_proposal *p = &d->p;
	int n = 0, dest = -1;

	switch (p->kind) {
	case VNUMAD_MOVE_VCPU:
		d->old_allowed = g->vv[p->vcpu].allowed;
		n += plan_vcpu(g, p->vcpu, 1ULL << p->to, act, st, owner);
		break;
	case VNUMAD_MOVE_MEMORY:
		n += plan_memory(g, p->from, p->to, p->bytes, act, st, owner);
		break;
	case VNUMAD_MOVE_GUEST:
		for (int v = 0; v < g->nr_vcpus && n < max; v++)
			if (g->vv[v].allowed != p->nodes)
				n += plan_vcpu(g, v, p->nodes, act + n, st + n, owner);
		if (g->v.flags & VNUMAD_GUEST_NO_MEMMOVE)
			break;
		dest = host_freest_node(&c->host, p->nodes);
		/*
		 * Less than a huge page on a node is no guest RAM worth a
		 * migration (QEMU's own small mappings, which the mover does
		 * not take): the four-node VM logged "0 B moved from node 3".
		 */
		for (int k = 0; k < c->host.nr_nodes && n < max; k++)
			if (!(p->nodes >> k & 1) && g->v.mem[k] >= GUEST_MOVE_MIN)
				n += plan_memory(g, k, dest, g->v.mem[k], act + n, st + n, owner);
		break;
	}
	return n;
}

/* Applies one planned action; a failed one is left in effect [0, 0]. */
static void apply(struct vn_core *c, struct vn_decision *d, struct vn_action *a,
		  const struct step *st)
{
	struct vn_guest *g = d->g;
	int err = 0;

	if (a->kind == VNUMAD_MOVE_VCPU) {
		int r = c->backend.ops->set_affinity(&c->backend, g, a->vcpu, st->nodes);

		if (r < 0) {
			err = -r;
		} else {
			g->vv[a->vcpu].allowed = st->nodes;
			g->vc[a->vcpu].last_move = c->host.now;
			a->eff_lo = 1;
			c->stats.vcpu_moves++;
		}
	} else {
		a->mig = migration_start(c, g, a->from, a->to, a->bytes, false, d->tag, &err);
		if (!a->mig && !err)
			err = EIO;
		if (a->mig)
			c->stats.memory_moves++;
	}
	if (err) {
		a->eff_lo = a->eff_hi = 0;
		if (!d->error)
			d->error = err;
		return;
	}
	d->applied = true;
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
	struct step *st;
	uint64_t jid = 0;
	int max = 0, planned = 0, done = 0;
	bool unjournaled = false;

	for (int j = 0; j < n; j++)
		max += d[j].p.kind == VNUMAD_MOVE_GUEST ? g->nr_vcpus + VN_MAX_NODES : 1;
	act = xcalloc(max + 1, sizeof(*act));
	st = xcalloc(max + 1, sizeof(*st));
	for (int j = 0; j < n; j++)
		if (d[j].accepted && d[j].g == g)
			planned += plan(c, &d[j], j, act + planned, st + planned, max - planned);
	for (int i = 0; i < planned; i++)
		act[i].slot = i;
	/* write ahead: the journal holds the moves before any is made */
	if (planned && c->journal) {
		jid = journal_trial(c->journal, g->name, g->pid, act, planned);
		if (!jid) {
			unjournaled = true;
			core_journal_failing(c);
			for (int j = 0; j < n; j++)
				if (d[j].accepted && d[j].g == g && !d[j].error)
					d[j].error = c->journal_err ? c->journal_err : EIO;
			planned = 0;
		}
	}
	for (int i = 0; i < planned; i++)
		apply(c, &d[st[i].owner], &act[i], &st[i]);
	/* what was done, a failed move as nothing: no more to undo than that */
	if (jid)
		journal_update(c->journal, jid, act, planned, false);
	for (int i = 0; i < planned; i++)
		if (act[i].eff_hi)
			act[done++] = act[i];
	if (unjournaled)
		log_warnx("guest %s: moves not made: the journal cannot hold them", g->name);
	for (int j = 0; j < n; j++) {
		if (!d[j].accepted || d[j].g != g)
			continue;
		if (d[j].error && !unjournaled)
			failed(c, &d[j]);
	}
	if (jid && !done)
		journal_verdict(c->journal, jid, g->name, "not-applied", 0);
	if (done) {
		note_move(c, g);
		if (c->cfg.guard)
			guard_start_trial(c, g, act, done, core_guest_gain(g, d, n, true), jid);
		else if (jid)
			journal_verdict(c->journal, jid, g->name, "unjudged", 0);
	}
	free(act);
	free(st);
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
