// SPDX-License-Identifier: MIT
/*
 * The memory migrations in flight: the one list of them, started for the
 * policy's moves, the guard's undos and the operator's moves; reaped once
 * they end; and the migration budget they leave to the arbiter.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"
#include "util.h"

/* At most this many seconds of migrate_rate may be queued. */
#define MIGRATION_BUDGET_SECONDS 60.0

struct vn_migration *migration_start(struct vn_core *c, struct vn_guest *g, int from,
				     int to, uint64_t bytes, bool revert, uint64_t tag,
				     int *err)
{
	struct vn_migration *m = xcalloc(1, sizeof(*m));
	int r;

	m->guest_id = g->id;
	m->guest = xstrdup(g->name);
	m->from = from;
	m->to = to;
	m->bytes = bytes;
	m->state = VN_MIG_RUNNING;
	m->started = c->host.now;
	m->revert = revert;
	m->tag = tag;
	r = c->backend.ops->migrate(&c->backend, g, m);
	if (r < 0) {
		if (err)
			*err = -r;
		free(m->guest);
		free(m);
		return NULL;
	}
	m->next = c->migrations;
	c->migrations = m;
	return m;
}

bool migration_running(const struct vn_core *c, uint64_t guest_id)
{
	for (const struct vn_migration *m = c->migrations; m; m = m->next)
		if (m->guest_id == guest_id && m->state == VN_MIG_RUNNING)
			return true;
	return false;
}

/* Bytes still to move in migrations under way. */
static double queued_bytes(const struct vn_core *c)
{
	double q = 0;

	for (const struct vn_migration *m = c->migrations; m; m = m->next)
		if (m->state == VN_MIG_RUNNING)
			q += (double)(m->bytes - MIN(m->done + m->failed, m->bytes));
	return q;
}

double migration_budget(const struct vn_core *c)
{
	double queued = queued_bytes(c);

	if (queued <= 0)
		return 1e18;
	return MAX(0, c->cfg.migrate_rate * MIGRATION_BUDGET_SECONDS - queued);
}

void migration_cancel_guest(struct vn_core *c, uint64_t guest_id)
{
	if (!c->backend.ops || !c->backend.ops->cancel)
		return;
	for (struct vn_migration *m = c->migrations; m; m = m->next)
		if ((!guest_id || m->guest_id == guest_id) && m->state == VN_MIG_RUNNING)
			c->backend.ops->cancel(&c->backend, m);
}

/*
 * True when a trial still points at m (it reads m->done when it settles, or
 * when its undo ends).
 */
static bool referenced(const struct vn_core *c, const struct vn_migration *m)
{
	for (const struct vn_trial *t = c->trials; t; t = t->next)
		for (int i = 0; i < t->nr_act; i++)
			if (t->act[i].mig == m || t->act[i].undo == m)
				return true;
	return false;
}

/* Logs how one migration ended, once, and reads its guest's memory again. */
static void report(struct vn_core *c, struct vn_migration *m)
{
	struct vn_guest *g = host_find_id(&c->host, m->guest_id);
	char a[32], b[32];
	const char *name = m->guest ? m->guest : "?";

	m->reported = true;
	if (c->mig_hook)
		c->mig_hook(c, m, c->mig_hook_arg);
	m->finished = c->host.now;
	c->stats.bytes_migrated += m->done;
	if (m->state == VN_MIG_DONE)
		log_info("guest %s: %s moved from node %d to node %d%s%s", name,
			 fmt_size(a, sizeof(a), m->done), m->from, m->to,
			 m->revert ? " (revert)" : "", g ? "" : "; the guest has left");
	else
		log_warnx("guest %s: migration node %d to %d %s after %s of %s%s%s%s", name,
			  m->from, m->to, m->state == VN_MIG_CANCELLED ? "cancelled" : "stopped",
			  fmt_size(a, sizeof(a), m->done), fmt_size(b, sizeof(b), m->bytes),
			  m->error ? ": " : "", m->error ? strerror(m->error) : "",
			  g ? "" : " (the guest has left)");
	if (g)
		g->mem_read_at = -1;	/* read its memory again now */
}

void migration_reap(struct vn_core *c)
{
	struct vn_migration **pp = &c->migrations;

	while (*pp) {
		struct vn_migration *m = *pp;

		if (m->state == VN_MIG_RUNNING) {
			pp = &m->next;
			continue;
		}
		if (!m->reported)
			report(c, m);
		if (referenced(c, m)) {
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		free(m->guest);
		free(m);
	}
}

void migration_free_all(struct vn_core *c)
{
	while (c->migrations) {
		struct vn_migration *m = c->migrations;

		c->migrations = m->next;
		free(m->guest);
		free(m);
	}
}
