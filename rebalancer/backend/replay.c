// SPDX-License-Identifier: MIT
/*
 * A backend and a sampler that replay a trace (trace.h): each tick hands the
 * core the topology, guests, counter deltas and memory that were recorded,
 * so that the advisory pipeline decides again on exactly what a host showed.
 *
 * It runs in virtual time: advance() steps to the next recorded tick and
 * sets the core's clock to the recorded time, so that hysteresis and the
 * guard's windows see the recorded spacing of ticks (which varies a little
 * on a real host). Nothing can be applied to a recording: set_affinity and
 * migrate fail with EOPNOTSUPP, and the harness replays in dry-run mode.
 *
 * The caller opens the trace (trace_open_read), puts the reader in b->priv
 * and both ops tables in the core before core_open(); open() takes the
 * reader over and close() frees it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "registry.h"
#include "trace.h"
#include "util.h"
#include "vnumad.h"

struct replay {
	struct vn_trace_reader *reader;
	struct vn_trace_tick *tick;	/* the current one, NULL before */
	bool ended;
};

static int replay_open(struct vn_backend *b)
{
	struct vn_trace_reader *r = b->priv;
	struct replay *rp;

	if (!r) {
		log_warnx("backend trace: no trace was opened");
		return -EINVAL;
	}
	rp = xcalloc(1, sizeof(*rp));
	rp->reader = r;
	b->priv = rp;
	return 0;
}

static void replay_close(struct vn_backend *b)
{
	struct replay *rp = b->priv;

	if (!rp)
		return;
	trace_close_read(rp->reader);
	free(rp);
	b->priv = NULL;
}

/* The next recorded tick; the core's clock takes its time. */
static int replay_advance(struct vn_backend *b, double dt)
{
	struct replay *rp = b->priv;

	(void)dt;
	rp->tick = trace_next_tick(rp->reader);
	if (!rp->tick) {
		if (!rp->ended)
			log_info("trace: no more ticks");
		rp->ended = true;
		return -ENODATA;
	}
	if (b->host)
		b->host->now = rp->tick->now;
	return 0;
}

static int replay_topology(struct vn_backend *b, struct vn_host *h)
{
	const struct replay *rp = b->priv;
	const struct vn_trace_topology *o;
	int nn;

	if (!rp->tick)
		return -ENODATA;
	o = rp->tick->topo;
	nn = o->nr_nodes;
	h->nr_nodes = nn;
	h->online = o->online;
	for (int n = 0; n < nn; n++) {
		struct vnumad_node *nd = &h->node[n];

		nd->id = n;
		nd->nr_cpus = o->nr_cpus[n];
		nd->mem_total = o->mem_total[n];
		nd->mem_free = rp->tick->mem_free[n];
		nd->bw_max = o->bw_max[n];
	}
	memcpy(h->distance, o->distance, (size_t)nn * nn);
	return 0;
}

static int replay_scan(struct vn_backend *b, struct vn_host *h)
{
	const struct replay *rp = b->priv;

	if (!rp->tick)
		return -ENODATA;
	for (int i = 0; i < rp->tick->nr_guests; i++) {
		struct vn_trace_guest *tg = &rp->tick->guests[i];
		struct vn_guest_desc d = {
			.name = tg->name,
			.pid = tg->pid,
			.flags = tg->flags,
			.nr_vcpus = tg->nr_vcpus,
			.tids = tg->tids,
			.allowed = tg->allowed,
			.priv = tg,
			/* as the recorder's core knew it (0 unknown): the same ages */
			.age = tg->age,
		};
		struct vn_guest *g;

		for (int v = 0; v < tg->nr_vcpus; v++)
			if (tg->vnode[v] >= 0)
				d.vnode = tg->vnode;
		g = host_report(h, &d);
		/* this tick's record: the sampler reads it */
		g->backend = tg;
	}
	return 0;
}

static int replay_set_affinity(struct vn_backend *b, struct vn_guest *g,
			       int vcpu, uint64_t nodes)
{
	(void)b;
	(void)g;
	(void)vcpu;
	(void)nodes;
	return -EOPNOTSUPP;
}

static int replay_migrate(struct vn_backend *b, struct vn_guest *g,
			  struct vn_migration *m)
{
	(void)b;
	(void)g;
	(void)m;
	return -EOPNOTSUPP;
}

static void replay_forget(struct vn_backend *b, struct vn_guest *g)
{
	(void)b;
	g->backend = NULL;
}

const struct vn_backend_ops trace_backend_ops = {
	.name = "trace",
	.flags = VN_BACKEND_VIRTUAL_TIME,
	.open = replay_open,
	.close = replay_close,
	.advance = replay_advance,
	.topology = replay_topology,
	.scan = replay_scan,
	.set_affinity = replay_set_affinity,
	.migrate = replay_migrate,
	.cancel = NULL,
	.forget = replay_forget,
};

static int sampler_open(struct vn_sampler *sp)
{
	if (!sp->backend || sp->backend->ops != &trace_backend_ops) {
		log_warnx("sampling: the trace sampler works only with the trace backend");
		return -EINVAL;
	}
	return 0;
}

static void sampler_close(struct vn_sampler *sp)
{
	(void)sp;
}

static int sampler_attach(struct vn_sampler *sp, struct vn_guest *g)
{
	(void)sp;
	return g->backend ? 0 : -ESRCH;
}

static void sampler_detach(struct vn_sampler *sp, struct vn_guest *g)
{
	(void)sp;
	(void)g;
}

static int sampler_read(struct vn_sampler *sp, struct vn_guest *g)
{
	const struct vn_trace_guest *tg = g->backend;

	(void)sp;
	for (int v = 0; v < g->nr_vcpus; v++) {
		if (tg && v < tg->nr_vcpus) {
			g->vc[v].delta = tg->counts[v];
		} else {
			memset(&g->vc[v].delta, 0, sizeof(g->vc[v].delta));
			g->vc[v].delta.node = -1;
		}
	}
	return tg ? 0 : -ESRCH;
}

/* The memory as recorded in this tick (the recorder's last reading). */
static int sampler_memory(struct vn_sampler *sp, struct vn_guest *g)
{
	const struct vn_trace_guest *tg = g->backend;

	(void)sp;
	memset(g->v.mem, 0, sizeof(g->v.mem));
	g->v.mem_total = 0;
	if (!tg)
		return -ESRCH;
	for (int n = 0; n < VN_MAX_NODES; n++) {
		g->v.mem[n] = tg->mem[n];
		g->v.mem_total += tg->mem[n];
	}
	return 0;
}

const struct vn_sampler_ops trace_sampler_ops = {
	.name = "trace",
	.open = sampler_open,
	.close = sampler_close,
	.attach = sampler_attach,
	.detach = sampler_detach,
	.read = sampler_read,
	.memory = sampler_memory,
};
