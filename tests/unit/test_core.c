// SPDX-License-Identifier: MIT
/*
 * The core's tick on a host the test scripts: the rules of the arbiter (one
 * test per reason a proposal is dropped), the guard's verdicts and what
 * follows them in the same tick, and the operator's manual moves, which go
 * through the same rules. The host is a backend and a sampler of this file
 * (the core knows no other kind of host than one behind those two tables):
 * three nodes of four CPUs, guests whose instructions per second the test
 * sets, and a policy whose proposals the test sets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "core.h"
#include "log.h"
#include "state.h"
#include "util.h"
#include "testlib.h"

#define T_NODES		3
#define T_CPUS		4	/* per node */
#define T_GUESTS	4
#define T_VCPUS		8

/* One guest of the scripted host. */
struct t_guest {
	const char *name;
	bool present;
	unsigned flags;		/* VNUMAD_GUEST_PINNED, ... */
	int nr_vcpus;
	uint64_t allowed[T_VCPUS];	/* node masks, kept by set_affinity */
	double demand;		/* CPU share of each vCPU */
	double ips;		/* instructions per second of the whole guest */
	double slow_off_home;	/* IPS factor while vCPU 0 is off node 0 */
	uint64_t mem[T_NODES];
	int vnode[T_VCPUS];	/* reported when has_vnode */
	bool has_vnode;
	double age;		/* seconds its process has run when reported, 0 unknown */
	int restarts;		/* a restart gives it another pid */
	uint64_t faults[T_NODES];	/* NUMA faults per node, in th.faults mode */
};

static struct t_host {
	struct t_guest g[T_GUESTS];
	int nr;
	uint64_t mem_free[T_NODES];
	int affinity_error;	/* set_affinity fails with this errno */
	int migrate_error;	/* migrate (not an undo) fails with this errno */
	int affinity_calls;
	uint64_t affinity_log[8];	/* the sets asked for, call n at n % 8 */
	int bad_calls;		/* calls for a vCPU or node that does not exist */
	bool slow_migrations;	/* migrations stay running */
	struct vn_migration *last_mig;
	int migrations, undos;	/* migrations started: moves, undos (revert) */
	uint64_t undone;	/* bytes the undos were asked to move back */
	struct vn_migration *last_undo;
	void (*on_apply)(void);	/* called as a move (not an undo) is applied */
	bool estimate;		/* readings as procfs estimates them, no IPS */
	bool faults;		/* readings as procfs takes them from fault statistics */
} th;

static struct t_guest *t_find(const char *name)
{
	for (int i = 0; i < th.nr; i++)
		if (strcmp(th.g[i].name, name) == 0)
			return &th.g[i];
	return NULL;
}

static struct t_guest *t_add(const char *name, int nr_vcpus, int node, uint64_t mem)
{
	struct t_guest *g = &th.g[th.nr++];

	memset(g, 0, sizeof(*g));
	g->name = name;
	g->present = true;
	g->nr_vcpus = nr_vcpus;
	for (int i = 0; i < nr_vcpus; i++)
		g->allowed[i] = 1ULL << node;
	g->demand = 0.5;
	g->ips = 1e9;
	g->slow_off_home = 1.0;
	g->mem[node] = mem;
	return g;
}

static int tb_open(struct vn_backend *b)
{
	(void)b;
	return 0;
}

static void tb_close(struct vn_backend *b)
{
	(void)b;
}

static int tb_advance(struct vn_backend *b, double dt)
{
	(void)b;
	(void)dt;
	return 0;
}

static int tb_topology(struct vn_backend *b, struct vn_host *h)
{
	(void)b;
	h->nr_nodes = T_NODES;
	h->online = (1ULL << T_NODES) - 1;
	for (int n = 0; n < T_NODES; n++) {
		h->node[n].id = n;
		h->node[n].nr_cpus = T_CPUS;
		h->node[n].mem_total = 64 * GiB;
		h->node[n].mem_free = th.mem_free[n];
		for (int m = 0; m < T_NODES; m++)
			h->distance[n * T_NODES + m] = n == m ? 10 : 21;
	}
	return 0;
}

static int tb_scan(struct vn_backend *b, struct vn_host *h)
{
	(void)b;
	for (int i = 0; i < th.nr; i++) {
		struct t_guest *t = &th.g[i];
		pid_t tids[T_VCPUS];
		struct vn_guest_desc d = {
			.name = t->name, .pid = 1000 + i + 10000 * t->restarts,
			.flags = t->flags, .age = t->age,
			.nr_vcpus = t->nr_vcpus, .tids = tids, .allowed = t->allowed,
			.vnode = t->has_vnode ? t->vnode : NULL, .priv = t,
		};

		if (!t->present)
			continue;
		for (int v = 0; v < t->nr_vcpus; v++)
			tids[v] = 1000 + 100 * i + v;
		host_report(h, &d);
	}
	return 0;
}

static int tb_set_affinity(struct vn_backend *b, struct vn_guest *g, int vcpu,
			   uint64_t nodes)
{
	struct t_guest *t = g->backend;

	(void)b;
	if (!t || vcpu < 0 || vcpu >= t->nr_vcpus || !nodes || nodes >> T_NODES) {
		th.bad_calls++;
		return -EINVAL;
	}
	th.affinity_log[th.affinity_calls++ % 8] = nodes;
	if (th.affinity_error)
		return -th.affinity_error;
	if (th.on_apply && nodes != t->allowed[vcpu])
		th.on_apply();
	t->allowed[vcpu] = nodes;
	return 0;
}

static int tb_migrate(struct vn_backend *b, struct vn_guest *g, struct vn_migration *m)
{
	struct t_guest *t = g->backend;

	(void)b;
	if (!t || m->from < 0 || m->from >= T_NODES || m->to < 0 || m->to >= T_NODES) {
		th.bad_calls++;
		return -EINVAL;
	}
	if (m->revert) {
		th.undos++;
		th.undone += m->bytes;
		th.last_undo = m;
	} else {
		if (th.migrate_error)
			return -th.migrate_error;
		th.migrations++;
		th.last_mig = m;
		if (th.on_apply)
			th.on_apply();
	}
	if (th.slow_migrations)
		return 0;
	m->done = MIN(m->bytes, t->mem[m->from]);
	t->mem[m->from] -= m->done;
	t->mem[m->to] += m->done;
	m->state = VN_MIG_DONE;
	return 0;
}

static void tb_cancel(struct vn_backend *b, struct vn_migration *m)
{
	(void)b;
	m->state = VN_MIG_CANCELLED;
}

#define T_BACKEND_OPS \
	.name = "script", \
	.open = tb_open, \
	.close = tb_close, \
	.advance = tb_advance, \
	.topology = tb_topology, \
	.scan = tb_scan, \
	.set_affinity = tb_set_affinity, \
	.migrate = tb_migrate, \
	.cancel = tb_cancel

/* The same host in real time, as a daemon runs: it keeps a journal. */
static const struct vn_backend_ops t_backend_rt_ops = { T_BACKEND_OPS };

static const struct vn_backend_ops t_backend_ops = {
	.name = "script",
	.flags = VN_BACKEND_VIRTUAL_TIME,
	.open = tb_open,
	.close = tb_close,
	.advance = tb_advance,
	.topology = tb_topology,
	.scan = tb_scan,
	.set_affinity = tb_set_affinity,
	.migrate = tb_migrate,
	.cancel = tb_cancel,
};

static int ts_open(struct vn_sampler *s)
{
	(void)s;
	return 0;
}

static void ts_close(struct vn_sampler *s)
{
	(void)s;
}

static int ts_attach(struct vn_sampler *s, struct vn_guest *g)
{
	(void)s;
	(void)g;
	return 0;
}

static void ts_detach(struct vn_sampler *s, struct vn_guest *g)
{
	(void)s;
	(void)g;
}

/*
 * A vCPU's reading as the procfs sampler estimates it: its CPU time split
 * by the share of the guest's memory, as the core last read it, that is
 * not on the vCPU's node.
 */
static void ts_estimate(struct vn_guest *g, struct vn_counts *d, double cpu, double dt,
			int node)
{
	uint64_t total = 0, w = (uint64_t)(cpu * 1e6);

	for (int n = 0; n < T_NODES; n++)
		total += g->v.mem[n];
	*d = (struct vn_counts){ .cpu_time = cpu, .elapsed = dt, .node = node,
				 .source = VNUMAD_SRC_ESTIMATE, .valid = true };
	d->remote_dram = total ? (uint64_t)llround((double)w * (1.0 - (double)g->v.mem[node] /
							       (double)total)) : 0;
	d->local_dram = w - d->remote_dram;
}

/*
 * A vCPU's reading as the procfs sampler takes it from the kernel's NUMA
 * fault statistics: its CPU time split by the share of the guest's faults
 * (t->faults, the same for each of its threads) on other nodes than the
 * vCPU's.
 */
static void ts_faults(const struct t_guest *t, struct vn_counts *d, double cpu, double dt,
		      int node)
{
	uint64_t total = 0, w = (uint64_t)(cpu * 1e6);

	for (int n = 0; n < T_NODES; n++)
		total += t->faults[n];
	*d = (struct vn_counts){ .cpu_time = cpu, .elapsed = dt, .node = node,
				 .source = VNUMAD_SRC_FAULTS, .valid = true };
	d->remote_dram = total ? (uint64_t)llround((double)w * (1.0 - (double)t->faults[node] /
							       (double)total)) : 0;
	d->local_dram = w - d->remote_dram;
}

/*
 * Counts as the sim would: all local, the guest's IPS shared by its vCPUs,
 * 10 DRAM accesses per 1000 instructions whatever the speed (a slower
 * placement does the same work more slowly; the guard takes a change of
 * that ratio for a phase of the workload).
 */
static int ts_read(struct vn_sampler *s, struct vn_guest *g)
{
	struct t_guest *t = g->backend;
	double dt = s->cfg->interval;
	double ips = t->ips * ((t->allowed[0] & 1) ? 1.0 : t->slow_off_home);

	for (int v = 0; v < g->nr_vcpus; v++) {
		struct vn_counts *d = &g->vc[v].delta;

		if (th.estimate) {
			ts_estimate(g, d, t->demand * dt, dt, __builtin_ctzll(t->allowed[v]));
			continue;
		}
		if (th.faults) {
			ts_faults(t, d, t->demand * dt, dt, __builtin_ctzll(t->allowed[v]));
			continue;
		}

		d->instructions = (uint64_t)(ips / g->nr_vcpus * dt);
		d->cycles = d->instructions;
		d->local_dram = d->instructions / 100;
		d->remote_dram = 0;
		d->cpu_time = t->demand * dt;
		d->elapsed = dt;
		d->node = __builtin_ctzll(t->allowed[v]);
		d->source = VNUMAD_SRC_SIM;
		d->valid = true;
	}
	return 0;
}

static int ts_memory(struct vn_sampler *s, struct vn_guest *g)
{
	struct t_guest *t = g->backend;

	(void)s;
	for (int n = 0; n < T_NODES; n++)
		g->v.mem[n] = t->mem[n];
	return 0;
}

static const struct vn_sampler_ops t_sampler_ops = {
	.name = "script",
	.open = ts_open,
	.close = ts_close,
	.attach = ts_attach,
	.detach = ts_detach,
	.read = ts_read,
	.memory = ts_memory,
};

/* The policy: what the test puts in `proposals`, every tick. */
static struct vnumad_proposal proposals[16];
static int nr_proposals;

/* Set: the policy raises the buffer's cap and claims more than fits. */
static bool tp_lies;

/* Set: the policy proposes only once the view shows its guest's memory on this node. */
static int tp_when_memory_on = -1;

static int tp_tick(void *priv, const struct vnumad_view *v, struct vnumad_out *out)
{
	(void)priv;
	for (int i = 0; i < nr_proposals; i++) {
		const struct vnumad_proposal *p = &proposals[i];

		if (tp_when_memory_on >= 0 && p->guest >= 0 && p->guest < v->nr_guests &&
		    !v->guests[p->guest]->mem[tp_when_memory_on])
			continue;
		vnumad_propose(out, p);
	}
	if (tp_lies) {
		out->len = out->cap + 100;
		out->cap = 1 << 20;
	}
	return 0;
}

static const struct vnumad_policy t_policy = {
	VNUMAD_POLICY_INIT,
	.name = "script",
	.tick = tp_tick,
};

/* The guest's index in the view; before the first scan, the scan's order. */
static int guest_index(const struct vn_core *c, const char *name)
{
	for (int i = 0; i < c->host.nr_guests; i++)
		if (strcmp(c->host.guests[i]->name, name) == 0)
			return i;
	return (int)(t_find(name) - th.g);
}

static void propose_vcpu(const struct vn_core *c, const char *guest, int vcpu, int to,
			 double gain)
{
	struct vnumad_proposal *p = &proposals[nr_proposals++];

	memset(p, 0, sizeof(*p));
	p->kind = VNUMAD_MOVE_VCPU;
	p->guest = guest_index(c, guest);
	p->vcpu = vcpu;
	p->to = to;
	p->gain = gain;
	snprintf(p->reason, sizeof(p->reason), "the test says so");
}

static void propose_memory(const struct vn_core *c, const char *guest, int from,
			   int to, uint64_t bytes, double gain)
{
	struct vnumad_proposal *p = &proposals[nr_proposals++];

	memset(p, 0, sizeof(*p));
	p->kind = VNUMAD_MOVE_MEMORY;
	p->guest = guest_index(c, guest);
	p->from = from;
	p->to = to;
	p->bytes = bytes;
	p->gain = gain;
	snprintf(p->reason, sizeof(p->reason), "the test says so");
}

static void propose_guest(const struct vn_core *c, const char *guest, uint64_t nodes,
			  double gain)
{
	struct vnumad_proposal *p = &proposals[nr_proposals++];

	memset(p, 0, sizeof(*p));
	p->kind = VNUMAD_MOVE_GUEST;
	p->guest = guest_index(c, guest);
	p->nodes = nodes;
	p->gain = gain;
	snprintf(p->reason, sizeof(p->reason), "the test says so");
}

/* Verdicts as the guard's hook reports them; the last one's words. */
static int nr_reverted, nr_kept;
static char last_why[sizeof(((struct vn_verdict *)0)->why)];

static void on_trial(struct vn_core *c, const struct vn_trial *t, enum vn_trial_event ev,
		     const struct vn_verdict *v, void *arg)
{
	(void)c;
	(void)t;
	(void)arg;
	nr_reverted += ev == VN_TRIAL_REVERTED;
	nr_kept += ev == VN_TRIAL_KEPT;
	if (v)
		snprintf(last_why, sizeof(last_why), "%s", v->why);
}

static char *out_text;
static size_t out_len;
static FILE *out;

/*
 * A core on the scripted host: 1 s ticks, a 3 s baseline, 1 s settle, 2 s
 * judge windows, 2 s hysteresis, memory read every tick, as a configuration
 * file would set them.
 */
static bool open_dry_run;	/* the next open_core_in() is a dry run */

static struct vn_core *open_core_in(const char *state_dir)
{
	static struct vn_core c;
	struct vn_overrides ov = { .backend = -1, .policy = "none", .log_level = -1 };
	struct vn_errors e = { 0 };

	memset(&c, 0, sizeof(c));
	assert_int_equal(config_load(&c.cfg, NULL, &ov, &e), 0);
	errors_free(&e);
	c.cfg.policy_desc = &t_policy;
	c.cfg.interval = 1;
	c.cfg.baseline = 3;
	c.cfg.settle = 1;
	c.cfg.judge = 2;
	c.cfg.hysteresis = 2;
	c.cfg.memory_interval = 1;
	c.cfg.min_gain = 0.05;
	c.cfg.tolerance = 0.03;
	c.backend.ops = state_dir ? &t_backend_rt_ops : &t_backend_ops;
	c.sampler.ops = &t_sampler_ops;
	c.trial_hook = on_trial;
	if (state_dir) {
		free(c.cfg.state_dir);
		c.cfg.state_dir = xstrdup(state_dir);
	}
	c.cfg.dry_run = open_dry_run;
	open_dry_run = false;
	out = open_memstream(&out_text, &out_len);
	assert_non_null(out);
	assert_int_equal(core_open(&c, NULL, VN_OUT_TEXT, out), 0);
	return &c;
}

static struct vn_core *open_core(void)
{
	return open_core_in(NULL);
}

static void close_core(struct vn_core *c)
{
	core_close(c);
	config_free(&c->cfg);
	fclose(out);
	free(out_text);
	out_text = NULL;
}

static int setup(void **state)
{
	(void)state;
	memset(&th, 0, sizeof(th));
	for (int n = 0; n < T_NODES; n++)
		th.mem_free[n] = 32 * GiB;
	nr_proposals = 0;
	nr_reverted = nr_kept = 0;
	tp_when_memory_on = -1;
	return 0;
}

static void ticks(struct vn_core *c, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(core_tick(c), 0);
}

/* The output of the core so far, as one string. */
static const char *output(void)
{
	fflush(out);
	return out_text ? out_text : "";
}

static uint64_t dropped(const struct vn_core *c, enum vn_drop why)
{
	return c->stats.dropped[why];
}

/*
 * A trial reverted by the guard sets its vCPU back; in the same tick the
 * policy's move of that vCPU to a third node must be held back by the
 * hysteresis the revert started (the view's flags are built after the
 * guard, not before it).
 */
static void test_revert_holds_the_vcpu_in_its_tick(void **state)
{
	struct vn_core *c;
	struct t_guest *a;

	(void)state;
	a = t_add("a", 4, 0, 4 * GiB);
	a->slow_off_home = 0.5;	/* vCPU 0 away from node 0: half speed */
	c = open_core();
	ticks(c, 6);		/* primed, and a full baseline */
	propose_vcpu(c, "a", 0, 1, 0.3);
	ticks(c, 1);
	assert_int_equal(a->allowed[0], 1ULL << 1);
	/* from now on the policy wants vCPU 0 on node 2 */
	nr_proposals = 0;
	propose_vcpu(c, "a", 0, 2, 0.3);
	for (int i = 0; i < 10 && !nr_reverted; i++)
		ticks(c, 1);
	assert_int_equal(nr_reverted, 1);
	/* reverted to node 0 and kept there in the tick of the revert */
	assert_int_equal(a->allowed[0], 1ULL << 0);
	assert_true(dropped(c, VN_DROP_HYSTERESIS) >= 1);
	close_core(c);
}

/*
 * The undo of a vCPU move puts the vCPU back where it ran, not only its CPU
 * set: a vCPU allowed on nodes 0 and 1 ran on node 0 and was moved to node
 * 1. Its old set alone would leave it on node 1, where the scheduler has no
 * reason to move it from: it gets node 0's CPUs first, then its old set.
 */
static void test_revert_puts_the_vcpu_back(void **state)
{
	struct vn_core *c;
	struct t_guest *a;
	int calls;

	(void)state;
	a = t_add("a", 2, 0, 4 * GiB);
	a->allowed[0] = 1ULL << 0 | 1ULL << 1;
	a->slow_off_home = 0.5;
	c = open_core();
	ticks(c, 6);
	propose_vcpu(c, "a", 0, 1, 0.3);
	ticks(c, 1);
	nr_proposals = 0;
	assert_int_equal(a->allowed[0], 1ULL << 1);
	calls = th.affinity_calls;
	for (int i = 0; i < 12 && !nr_reverted; i++)
		ticks(c, 1);
	assert_int_equal(nr_reverted, 1);
	assert_int_equal(th.affinity_calls, calls + 2);
	assert_int_equal(th.affinity_log[calls % 8], 1ULL << 0);
	assert_int_equal(th.affinity_log[(calls + 1) % 8], 1ULL << 0 | 1ULL << 1);
	assert_int_equal(a->allowed[0], 1ULL << 0 | 1ULL << 1);
	close_core(c);
}

/*
 * A phase change, with the /proc estimate (the figure of merit is the share
 * of local memory, stale until the next memory reading every 4 s): guest
 * g's memory leaves node 0 for node 1 on its own. In the tick after the
 * reading that finds it there, vCPU 0 is moved to node 1: half the guest
 * is local again (51% against 1%). Its baseline must not reach back to the
 * readings from before the change (101%, all local): against those the
 * move reads -25% and would be reverted, leaving the guest all remote.
 */
static void test_baseline_starts_after_a_phase_change(void **state)
{
	struct vn_core *c;
	struct vn_guest *g;
	struct t_guest *a;
	int k = 0;

	(void)state;
	a = t_add("g", 2, 0, 4 * GiB);
	th.estimate = true;
	c = open_core();
	c->cfg.memory_interval = 4;
	ticks(c, 8);		/* a full baseline, every reading local */
	g = host_find(&c->host, "g");
	assert_non_null(g);
	assert_true(g->hist[c->host.tick % VN_HIST] > 1.0);
	a->mem[0] = 0;
	a->mem[1] = 4 * GiB;
	while (g->v.mem[1] == 0 && k++ < 5)
		ticks(c, 1);
	assert_int_equal(g->v.mem[1], 4 * GiB);
	/* the reading came after the tick's counters: its figure is still local */
	assert_true(g->hist[c->host.tick % VN_HIST] > 1.0);
	propose_vcpu(c, "g", 0, 1, 0.3);
	ticks(c, 1);
	assert_true(g->hist[c->host.tick % VN_HIST] < 0.05);
	assert_int_equal(a->allowed[0], 1ULL << 1);
	nr_proposals = 0;
	for (int i = 0; i < 20 && !nr_kept && !nr_reverted; i++)
		ticks(c, 1);
	assert_int_equal(nr_reverted, 0);
	assert_int_equal(nr_kept, 1);
	/* a local share told as one, not as "+5000%" of the 1% floor */
	assert_string_equal(last_why, "kept: local share 0% -> 50% (host drift +0.0%)");
	assert_int_equal(a->allowed[0], 1ULL << 1);
	assert_null(c->quarantine);
	close_core(c);
}

/*
 * The sampler falls back from counted instructions to the /proc estimate
 * (a PMU that goes away) while a move is judged: its baseline is in
 * instructions per second, its judge window in local share, and the ratio
 * (-100%) reverted a move nothing had judged. The history starts again
 * with the new figure: the trial is kept unjudged.
 */
static void test_figure_changes_kind_mid_trial(void **state)
{
	struct vn_core *c;
	struct t_guest *a;

	(void)state;
	a = t_add("g", 2, 0, 4 * GiB);
	c = open_core();
	ticks(c, 8);
	propose_vcpu(c, "g", 0, 1, 0.3);
	ticks(c, 1);
	assert_int_equal(a->allowed[0], 1ULL << 1);
	nr_proposals = 0;
	th.estimate = true;
	last_why[0] = '\0';
	for (int i = 0; i < 20 && !last_why[0]; i++)
		ticks(c, 1);
	assert_int_equal(nr_reverted, 0);
	assert_string_equal(last_why, "kept unjudged: too few readings");
	assert_int_equal(a->allowed[0], 1ULL << 1);
	close_core(c);
}

/*
 * The same phase change, the move proposed as soon as the policy sees the
 * memory on node 1: in the tick of the reading, whose figure was taken
 * before it (still all local). Such a move has no baseline that knows the
 * shift: it waits one tick, and is then judged against the figure after
 * the change. Applied at once it was judged against that stale figure
 * alone and reverted at -49%.
 */
static void test_no_move_before_the_figures_know_the_shift(void **state)
{
	struct vn_core *c;
	struct t_guest *a;
	int k = 0;

	(void)state;
	a = t_add("g", 2, 0, 4 * GiB);
	th.estimate = true;
	c = open_core();
	c->cfg.memory_interval = 4;
	ticks(c, 8);
	a->mem[0] = 0;
	a->mem[1] = 4 * GiB;
	tp_when_memory_on = 1;
	propose_vcpu(c, "g", 0, 1, 0.3);
	while (a->allowed[0] != 1ULL << 1 && k++ < 8)
		ticks(c, 1);
	tp_when_memory_on = -1;
	assert_int_equal(a->allowed[0], 1ULL << 1);
	assert_int_equal(dropped(c, VN_DROP_NO_HISTORY), 1);
	nr_proposals = 0;
	for (int i = 0; i < 20 && !nr_kept && !nr_reverted; i++)
		ticks(c, 1);
	assert_int_equal(nr_reverted, 0);
	assert_int_equal(nr_kept, 1);
	close_core(c);
}

/*
 * Readings from the kernel's NUMA fault statistics (the procfs sampler
 * where NUMA balancing runs). They are decayed averages, halved once per
 * scan pass over the task's address space, and a fault counts on the node
 * of its page: after vnumad moves guest g and its memory to node 1 they go
 * on telling node 0 for a minute (here: for ever). In the VM every such
 * move ("local share 100% -> 93%") was reverted. The guard judges the
 * trial by where the memory is now: kept. A vCPU moved away from the
 * memory still reads as the loss it is, and is reverted.
 */
static void test_fault_statistics_lag_a_migration(void **state)
{
	struct vn_core *c;
	struct t_guest *a;

	(void)state;
	a = t_add("g", 2, 0, 4 * GiB);
	a->faults[0] = 1000;
	th.faults = true;
	c = open_core();
	ticks(c, 8);
	propose_guest(c, "g", 1ULL << 1, 0.3);
	ticks(c, 1);
	nr_proposals = 0;
	assert_int_equal(a->allowed[0], 1ULL << 1);
	assert_int_equal(a->mem[1], 4 * GiB);
	for (int i = 0; i < 30 && !nr_kept && !nr_reverted; i++)
		ticks(c, 1);
	assert_int_equal(nr_reverted, 0);
	assert_int_equal(nr_kept, 1);
	assert_string_equal(last_why, "kept: local share 100% -> 100% (host drift +0.0%)");
	assert_int_equal(a->allowed[1], 1ULL << 1);
	/* the faults caught up; now a vCPU leaves the memory */
	a->faults[0] = 0;
	a->faults[1] = 1000;
	ticks(c, 8);
	nr_kept = 0;
	propose_vcpu(c, "g", 0, 0, 0.3);
	ticks(c, 1);
	nr_proposals = 0;
	assert_int_equal(a->allowed[0], 1ULL << 0);
	for (int i = 0; i < 30 && !nr_kept && !nr_reverted; i++)
		ticks(c, 1);
	assert_int_equal(nr_kept, 0);
	assert_int_equal(nr_reverted, 1);
	assert_int_equal(a->allowed[0], 1ULL << 1);
	close_core(c);
}

/*
 * Guest "a" (4 vCPUs, half speed off node 0) has all its vCPUs moved to
 * node 1, a move the guard judges and reverts; memory_interval s between
 * memory readings (0: the default).
 */
static struct vn_core *four_vcpus_reverted(struct t_guest **ap, double memory_interval)
{
	struct t_guest *a = t_add("a", 4, 0, 4 * GiB);
	struct vn_core *c;

	a->slow_off_home = 0.5;
	c = open_core();
	if (memory_interval > 0)
		c->cfg.memory_interval = memory_interval;
	ticks(c, 6);
	for (int v = 0; v < 4; v++)
		propose_vcpu(c, "a", v, 1, 0.3);
	ticks(c, 1);
	for (int v = 0; v < 4; v++)
		assert_int_equal(a->allowed[v], 1ULL << 1);
	nr_proposals = 0;
	for (int i = 0; i < 10 && !nr_reverted; i++)
		ticks(c, 1);
	assert_int_equal(nr_reverted, 1);
	*ap = a;
	return c;
}

/*
 * One reverted trial is one strike, however many vCPUs it moved: the
 * quarantine of its target is the configured first length.
 */
static void test_reverted_trial_is_one_strike(void **state)
{
	struct vn_core *c;
	struct t_guest *a;
	const struct vn_quarantine *q;

	(void)state;
	c = four_vcpus_reverted(&a, 0);
	for (int v = 0; v < 4; v++)
		assert_int_equal(a->allowed[v], 1ULL << 0);
	q = c->quarantine;
	assert_non_null(q);
	assert_null(q->next);
	assert_int_equal(q->node, 1);
	assert_int_equal(q->strikes, 1);
	assert_true(fabs(q->until - c->host.now - c->cfg.quarantine) < 1e-6);
	close_core(c);
}

/* An operator's move that breaks a rule is refused, with the rule named. */
static void expect_refused(struct vn_core *c, const char *guest, int to, uint64_t mem,
			   bool force, const char *words)
{
	struct vn_manual man;
	char why[256];
	int calls = th.affinity_calls;
	int r = state_migrate(c, guest, to, mem, true, 0, force, &man, why, sizeof(why));

	if (r >= 0 || !strstr(why, words))
		fail_msg("manual move of %s to node %d: %d '%s', want a refusal naming '%s'",
			 guest, to, r, why, words);
	assert_int_equal(th.affinity_calls, calls);	/* nothing applied */
}

static void test_manual_moves_follow_the_rules(void **state)
{
	struct vn_core *c;
	struct t_guest *a, *b, *big, *hot;
	struct vn_manual man;
	char why[256];

	(void)state;
	a = t_add("a", 2, 0, 4 * GiB);
	b = t_add("b", 2, 0, 4 * GiB);
	big = t_add("big", 8, 2, 4 * GiB);	/* node 2 has no CPU room */
	big->demand = 1.0;
	hot = t_add("hot", 2, 0, 4 * GiB);
	(void)a;
	(void)b;
	(void)hot;
	c = open_core();
	ticks(c, 6);

	/* no CPU room on node 2 */
	expect_refused(c, "a", 2, 0, false, "no CPU room");

	/* quarantine: a's move to node 1 reverted earlier */
	c->quarantine = xcalloc(1, sizeof(*c->quarantine));
	c->quarantine->guest = xstrdup("a");
	c->quarantine->node = 1;
	c->quarantine->strikes = 1;
	c->quarantine->until = c->host.now + 600;
	expect_refused(c, "a", 1, 0, false, "quarantined");
	/* --force is for pinned and opted-out guests, not for the guard */
	expect_refused(c, "a", 1, 0, true, "quarantined");

	/* hysteresis: b's vCPUs moved a moment ago */
	assert_int_equal(state_migrate(c, "b", 1, 0, true, 0, false, &man, why,
				       sizeof(why)), 0);
	ticks(c, 10);		/* judged and kept (no slowdown) */
	assert_int_equal(nr_kept, 1);
	for (int v = 0; v < 2; v++)
		b->allowed[v] = 1;	/* and back on node 0 by someone else */
	ticks(c, 1);
	c->cfg.hysteresis = 60;
	expect_refused(c, "b", 1, 0, false, "moved too recently");
	c->cfg.hysteresis = 2;

	/* the hourly cap */
	c->cfg.max_moves_per_hour = 1;
	expect_refused(c, "b", 1, 0, false, "moves per hour");
	c->cfg.max_moves_per_hour = 6;

	/* the migration budget: a long migration of another guest is queued */
	th.slow_migrations = true;
	c->cfg.migrate_rate = 1.0 * MiB;	/* a minute of it: 60 MiB */
	assert_int_equal(state_migrate(c, "hot", 1, 2 * GiB, false, 0, false, &man, why,
				       sizeof(why)), 0);
	th.slow_migrations = false;
	expect_refused(c, "a", 0, 0, false, "nothing to move");
	a->mem[0] = 2 * GiB;
	a->mem[1] = 2 * GiB;
	ticks(c, 1);
	/* policies see a spent budget as 1 byte: 0 would say "unknown" */
	assert_true(c->view.migrate_budget == 1.0);
	{
		int r = state_migrate(c, "a", 0, 1 * GiB, false, 0, false, &man, why,
				      sizeof(why));

		if (r >= 0 || !strstr(why, "budget"))
			fail_msg("memory move past the migration budget: %d '%s'", r, why);
	}
	close_core(c);
}

/* A pinned guest moves only with --force, and the output says who asked. */
static void test_manual_move_waivers(void **state)
{
	struct vn_core *c;
	struct t_guest *p;
	struct vn_manual man;
	char why[256];

	(void)state;
	p = t_add("p", 2, 0, 4 * GiB);
	p->flags = VNUMAD_GUEST_PINNED;
	c = open_core();
	ticks(c, 6);
	expect_refused(c, "p", 1, 0, false, "pinned");
	assert_int_equal(state_migrate(c, "p", 1, 0, true, 0, true, &man, why,
				       sizeof(why)), 0);
	assert_int_equal(p->allowed[0], 1ULL << 1);
	assert_non_null(strstr(output(), "applied (operator)"));
	close_core(c);
}

/*
 * vnumad migrate --vcpus names vCPUs the guest has, or is refused whole;
 * a move of a guest too new for a baseline says up front it is not judged.
 */
static void test_manual_move_vcpus_exist(void **state)
{
	struct vn_core *c;
	struct t_guest *w;
	struct vn_manual man;
	char why[256];
	int calls;

	(void)state;
	w = t_add("w", 4, 1, 4 * GiB);
	c = open_core();
	ticks(c, 1);
	calls = th.affinity_calls;
	assert_int_equal(state_migrate(c, "w", 0, 0, false, 0x3ff, false, &man, why,
				       sizeof(why)), -EINVAL);
	assert_string_equal(why, "guest w has 4 vCPUs (0-3): no vCPU 4-9");
	assert_int_equal(state_migrate(c, "w", 0, 0, false, 1ULL << 7, false, &man, why,
				       sizeof(why)), -EINVAL);
	assert_string_equal(why, "guest w has 4 vCPUs (0-3): no vCPU 7");
	assert_int_equal(th.affinity_calls, calls);	/* nothing applied */
	assert_int_equal(w->allowed[0], 1ULL << 1);

	/* vCPUs it has move; the guest is one tick old: no baseline yet */
	assert_int_equal(state_migrate(c, "w", 0, 0, false, 0x3, false, &man, why,
				       sizeof(why)), 0);
	assert_int_equal(man.vcpus, 2);
	if (!strstr(why, "it will not be judged: the guest is too new for a baseline"))
		fail_msg("a move before the baseline, reply '%s'", why);
	assert_int_equal(w->allowed[0], 1ULL << 0);
	assert_int_equal(w->allowed[2], 1ULL << 1);
	close_core(c);
}

/* One tick; the decision of the tick's first proposal. */
static const struct vn_decision *first_decision(struct vn_core *c)
{
	const struct vn_decision *d = NULL;

	ticks(c, 1);
	for (int i = 0; i < c->dec.nr; i++)
		if (c->dec.d[i].order == 0)
			d = &c->dec.d[i];
	assert_non_null(d);
	return d;
}

/* One tick; the first proposal must be accepted. */
static void expect_accepted(struct vn_core *c)
{
	const struct vn_decision *d = first_decision(c);

	if (!d->accepted)
		fail_msg("want it accepted, got %s", arbiter_drop_reason(d->why));
	nr_proposals = 0;
}

/* One tick; the decision for the first proposal must be dropped for `why`. */
static void expect_drop(struct vn_core *c, enum vn_drop why)
{
	uint64_t before = dropped(c, why);
	const struct vn_decision *d = first_decision(c);

	if (d->accepted || d->why != why)
		fail_msg("want '%s', got %s", arbiter_drop_reason(why),
			 d->accepted ? "accepted" : arbiter_drop_reason(d->why));
	assert_int_equal(dropped(c, why), before + 1);
	nr_proposals = 0;
}

/*
 * A policy that raises out->cap and returns more proposals than the core's
 * buffer holds fails its tick: the length was judged against the cap the
 * plugin set, and the arbiter read past the buffer.
 */
static void test_policy_cannot_grow_its_buffer(void **state)
{
	struct vn_core *c;

	(void)state;
	t_add("a", 2, 0, 4 * GiB);
	c = open_core();
	ticks(c, 3);
	propose_vcpu(c, "a", 0, 1, 0.3);
	tp_lies = true;
	ticks(c, 1);
	tp_lies = false;
	assert_int_equal(c->policy.failures, 1);
	assert_int_equal(c->dec.nr, 0);
	/* the next honest tick is served from the core's own buffer */
	ticks(c, 1);
	assert_int_equal(c->policy.failures, 0);
	assert_int_equal(c->dec.nr, 1);
	close_core(c);
}

/* A two-guest host past its priming and baseline. */
static struct vn_core *two_guests(void)
{
	t_add("a", 2, 0, 4 * GiB);
	t_add("b", 2, 0, 4 * GiB);
	return open_core();
}

/*
 * A guest's name reaches the operator as one clean line: a newline forged a
 * line, escapes reached the terminal, a name that is not UTF-8 became
 * "(null)" in status and vanished from its JSON. A vnode out of range is
 * none (policies overflowed on vnode + 1).
 */
static void test_guest_names_shown_clean(void **state)
{
	struct t_guest *odd;
	struct vn_core *c;
	char *js;
	json_t *st;

	(void)state;
	t_add("a", 2, 0, 4 * GiB);
	odd = t_add("odd\xff\x1b[31m\nname", 2, 0, 4 * GiB);
	odd->has_vnode = true;
	odd->vnode[0] = 2147483647;
	odd->vnode[1] = 1;
	c = open_core();
	ticks(c, 2);
	assert_string_equal(c->host.guests[1]->name, "odd??[31m?name");
	assert_int_equal(c->host.guests[1]->vv[0].vnode, -1);
	assert_int_equal(c->host.guests[1]->vv[1].vnode, 1);
	st = state_json(c);
	js = json_dumps(st, JSON_COMPACT);
	assert_non_null(strstr(js, "\"name\":\"odd??[31m?name\""));
	free(js);
	json_decref(st);
	close_core(c);
}

/*
 * A guest's age is how long its process has run, as the backend reports it:
 * one up for an hour before the daemon started is an hour old at its first
 * tick, not newborn, and `vnumad status` says so. An unknown age (0, less,
 * NaN) or an implausible one (the seconds since 1970) counts from when the
 * core first saw it. A restart (same name, new pid) is a new guest of its
 * new process's age; an age reported later does not change an old guest's.
 */
static void test_guest_age_from_the_backend(void **state)
{
	struct t_guest *old, *young, *nan_age, *wild;
	struct vn_core *c;
	struct vn_guest *g;
	uint64_t id;
	char *js;
	json_t *st;
	double t1;

	(void)state;
	old = t_add("old", 1, 0, GiB);
	old->age = 3600;
	young = t_add("young", 1, 1, GiB);
	nan_age = t_add("nan", 1, 2, GiB);
	nan_age->age = NAN;
	wild = t_add("wild", 1, 0, GiB);
	wild->age = 1.7e9;
	c = open_core();
	ticks(c, 1);
	t1 = c->host.now;
	assert_true(fabs(host_find(&c->host, "old")->v.age - 3600) < 1e-9);
	assert_true(host_find(&c->host, "old")->first_seen == t1 - 3600);
	assert_true(host_find(&c->host, "young")->v.age == 0);
	assert_true(host_find(&c->host, "nan")->v.age == 0);
	assert_true(host_find(&c->host, "wild")->v.age == 0);
	st = state_json(c);
	js = json_dumps(st, JSON_COMPACT);
	assert_non_null(strstr(js, "\"name\":\"old\",\"uuid\":null,\"pid\":1000,\"age\":3600.0"));
	free(js);
	json_decref(st);

	/* ages grow with the clock; a later report leaves them be */
	young->age = 500;
	old->age = 1;
	ticks(c, 3);
	assert_true(fabs(host_find(&c->host, "old")->v.age - (3600 + c->host.now - t1)) < 1e-9);
	assert_true(fabs(host_find(&c->host, "young")->v.age - (c->host.now - t1)) < 1e-9);
	assert_true(c->host.now - t1 >= 3);

	/* restarted: a new guest, as old as its new process */
	g = host_find(&c->host, "old");
	id = g->id;
	old->restarts++;
	old->age = 10;
	ticks(c, 1);
	g = host_find(&c->host, "old");
	assert_int_not_equal(g->id, id);
	assert_true(fabs(g->v.age - 10) < 1e-9);
	/* negative: unknown, from now on */
	old->restarts++;
	old->age = -5;
	ticks(c, 1);
	assert_true(host_find(&c->host, "old")->v.age == 0);
	close_core(c);
}

/*
 * A plugin's reason is shown as one clean line. A dropped proposal with -v
 * shows a vCPU out of range and a huge gain without reading out of bounds
 * or printing "+inf%", and its JSON keeps the gain; such a gain is invalid.
 */
static void test_plugin_output_shown_clean(void **state)
{
	struct vn_core *c = two_guests();
	const char *o;

	(void)state;
	c->verbose = true;
	ticks(c, 6);
	propose_vcpu(c, "a", 0, 1, 0.3);
	snprintf(proposals[0].reason, sizeof(proposals[0].reason),
		 "good\nvnumad: error: forged\x1b[2J\xc2\x9b" "0m");
	propose_vcpu(c, "a", 1 << 30, 1, 0.3);	/* with -v, g->vv[1 << 30] was read */
	propose_vcpu(c, "a", 1, 1, 1e307);	/* "+inf%", and no gain in JSON */
	ticks(c, 1);
	o = output();
	assert_null(strchr(o, '\x1b'));
	assert_null(strstr(o, "\nvnumad: error: forged"));
	assert_non_null(strstr(o, "for the guest: good?vnumad: error: forged?[2J?0m\n"));
	assert_non_null(strstr(o, "held back a: vCPU 1073741824 node 0 -> node 1"));
	assert_null(strstr(o, "inf%"));
	assert_non_null(strstr(o, "held back a: vCPU 1 node 0 -> node 1, remote 0% (sim), "
			       "expected gain +1e+309%: the test says so [held back: invalid"));
	assert_int_equal(dropped(c, VN_DROP_INVALID), 2);

	/* the same in JSON: the huge gain is there, unrounded */
	c->output = VN_OUT_JSON;
	nr_proposals = 0;
	propose_vcpu(c, "a", 1, 1, 1e307);
	ticks(c, 1);
	assert_non_null(strstr(output(), "\"gain\":1e307,"));
	close_core(c);
}

static void test_drop_invalid(void **state)
{
	struct vn_core *c = two_guests();

	(void)state;
	ticks(c, 6);
	propose_vcpu(c, "a", 7, 1, 0.3);	/* a has 2 vCPUs */
	expect_drop(c, VN_DROP_INVALID);
	propose_vcpu(c, "a", 0, 9, 0.3);	/* no node 9 */
	expect_drop(c, VN_DROP_INVALID);
	propose_vcpu(c, "a", 0, 0, 0.3);	/* already there */
	expect_drop(c, VN_DROP_INVALID);
	propose_memory(c, "a", 1, 0, GiB, 0.3);	/* nothing on node 1 */
	expect_drop(c, VN_DROP_INVALID);
	propose_guest(c, "a", 0, 0.3);		/* no nodes */
	expect_drop(c, VN_DROP_INVALID);
	propose_guest(c, "a", 1ULL << 0, 0.3);	/* already there, memory and all */
	expect_drop(c, VN_DROP_INVALID);
	propose_vcpu(c, "a", 0, 1, NAN);
	expect_drop(c, VN_DROP_INVALID);
	proposals[nr_proposals] = proposals[0];
	propose_vcpu(c, "a", 0, 1, 0.3);
	proposals[0].guest = 99;
	nr_proposals = 1;
	expect_drop(c, VN_DROP_INVALID);
	close_core(c);
}

static void test_drop_pinned_and_opted_out(void **state)
{
	struct vn_core *c;

	(void)state;
	t_add("p", 2, 0, GiB)->flags = VNUMAD_GUEST_PINNED;
	t_add("o", 2, 0, GiB)->flags = VNUMAD_GUEST_OPTED_OUT;
	c = open_core();
	ticks(c, 6);
	propose_vcpu(c, "p", 0, 1, 0.3);
	expect_drop(c, VN_DROP_PINNED);
	propose_vcpu(c, "o", 0, 1, 0.3);
	expect_drop(c, VN_DROP_OPTED_OUT);
	close_core(c);
}

/*
 * A guest whose user pinned only its vCPUs (MEMORY_FREE beside PINNED) may
 * have its memory brought to them, to a node they may run on; its vCPUs,
 * the whole guest, and memory anywhere else stay the user's. Without
 * PINNED the flag means nothing.
 */
static void test_memory_free_pinned_guest(void **state)
{
	struct vn_core *c;
	struct t_guest *m;

	(void)state;
	m = t_add("m", 2, 0, 0);	/* vCPUs pinned to node 0, memory on node 1 */
	m->mem[1] = GiB;
	m->flags = VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE;
	c = open_core();
	ticks(c, 6);
	assert_int_equal(host_find(&c->host, "m")->v.flags &
			 (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE),
			 VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE);
	propose_vcpu(c, "m", 0, 1, 0.3);
	expect_drop(c, VN_DROP_PINNED);
	propose_guest(c, "m", 1ULL << 0, 0.3);
	expect_drop(c, VN_DROP_PINNED);
	propose_memory(c, "m", 1, 2, GiB / 2, 0.3);	/* not where its vCPUs run */
	expect_drop(c, VN_DROP_PINNED);
	propose_memory(c, "m", 1, 0, GiB / 2, 0.3);
	expect_accepted(c);
	close_core(c);
	/* the flag alone, without PINNED, is no pin and stays with nothing */
	setup(NULL);
	t_add("f", 2, 0, GiB)->flags = VNUMAD_GUEST_MEMORY_FREE;
	c = open_core();
	ticks(c, 1);
	assert_int_equal(host_find(&c->host, "f")->v.flags & VNUMAD_GUEST_MEMORY_FREE, 0);
	close_core(c);
}

/*
 * A quarantine judged one placement: vCPUs to node 1 while the memory was
 * on node 0. When the guest then moves its memory itself (a phase change,
 * a new working set first touched on node 1), that verdict says nothing
 * about node 1 any more: the quarantine is lifted, its strike kept. A
 * smaller shift (a tenth of the memory) leaves it standing.
 */
static void test_quarantine_lifted_when_the_memory_moves(void **state)
{
	struct vn_core *c;
	struct t_guest *a;
	struct vn_guest *g;
	int k = 0;

	(void)state;
	c = four_vcpus_reverted(&a, 2);
	assert_non_null(c->quarantine);
	assert_true(c->quarantine->mem_known);
	g = host_find(&c->host, "a");
	c->cfg.hysteresis = 0;
	/* a tenth moved: still quarantined */
	a->mem[0] = 4 * GiB - 410 * MiB;
	a->mem[1] = 410 * MiB;
	ticks(c, 2);
	assert_int_equal(g->v.mem[1], 410 * MiB);
	assert_int_equal(g->v.quarantine, 1ULL << 1);
	propose_vcpu(c, "a", 0, 1, 0.3);
	expect_drop(c, VN_DROP_QUARANTINE);
	nr_proposals = 0;
	/* all of it: lifted */
	a->mem[0] = 0;
	a->mem[1] = 4 * GiB;
	while (g->v.mem[1] != 4 * GiB && k++ < 5)
		ticks(c, 1);
	ticks(c, 1);
	assert_int_equal(g->v.quarantine, 0);
	assert_true(c->quarantine->until <= c->host.now);
	assert_int_equal(c->quarantine->strikes, 1);
	propose_vcpu(c, "a", 0, 1, 0.3);
	ticks(c, 2);
	assert_int_equal(a->allowed[0], 1ULL << 1);
	close_core(c);
}

static void test_drop_quarantine_trial_hysteresis(void **state)
{
	struct vn_core *c = two_guests();

	(void)state;
	ticks(c, 6);
	c->quarantine = xcalloc(1, sizeof(*c->quarantine));
	c->quarantine->guest = xstrdup("a");
	c->quarantine->node = 2;
	c->quarantine->strikes = 1;
	c->quarantine->until = c->host.now + 600;
	propose_vcpu(c, "a", 0, 2, 0.3);
	expect_drop(c, VN_DROP_QUARANTINE);
	propose_guest(c, "a", 1ULL << 2, 0.3);
	expect_drop(c, VN_DROP_QUARANTINE);
	propose_vcpu(c, "a", 0, 1, 0.3);
	ticks(c, 1);		/* applied: a trial */
	nr_proposals = 0;
	propose_vcpu(c, "a", 1, 1, 0.3);
	expect_drop(c, VN_DROP_TRIAL);
	ticks(c, 10);		/* judged and kept */
	assert_int_equal(nr_kept, 1);
	c->cfg.hysteresis = 60;
	propose_vcpu(c, "a", 0, 0, 0.3);
	expect_drop(c, VN_DROP_HYSTERESIS);
	close_core(c);
}

static void test_drop_hourly_cap_and_history(void **state)
{
	struct vn_core *c = two_guests();

	(void)state;
	propose_vcpu(c, "a", 0, 1, 0.3);
	expect_drop(c, VN_DROP_NO_HISTORY);	/* 1 reading, a 3 s baseline */
	ticks(c, 5);
	c->cfg.max_moves_per_hour = 1;
	propose_vcpu(c, "b", 0, 1, 0.3);
	ticks(c, 1);
	nr_proposals = 0;
	ticks(c, 12);		/* judged and kept */
	assert_int_equal(nr_kept, 1);
	propose_vcpu(c, "b", 1, 1, 0.3);
	expect_drop(c, VN_DROP_HOURLY_CAP);
	close_core(c);
}

static void test_drop_capacity(void **state)
{
	struct vn_core *c;

	(void)state;
	t_add("a", 2, 0, 4 * GiB);
	t_add("busy", 8, 1, GiB)->demand = 1.0;	/* node 1 full */
	th.mem_free[2] = GiB;
	c = open_core();
	ticks(c, 6);
	propose_vcpu(c, "a", 0, 1, 0.3);
	expect_drop(c, VN_DROP_CPU_CAPACITY);
	propose_guest(c, "a", 1ULL << 1, 0.3);
	expect_drop(c, VN_DROP_CPU_CAPACITY);
	propose_memory(c, "a", 0, 2, 4 * GiB, 0.3);
	expect_drop(c, VN_DROP_MEMORY_CAPACITY);
	/* the whole guest too: its 4 GiB do not fit in node 2's 1 GiB */
	propose_guest(c, "a", 1ULL << 2, 0.3);
	expect_drop(c, VN_DROP_MEMORY_CAPACITY);
	close_core(c);
}

/*
 * The arbiter admits the tick's moves best gain first. A whole-guest move
 * onto a full node that another, lesser move of the same tick leaves must
 * be admitted once that move is in (place sent the four-node VM's
 * `crowded` onto the node `far`'s vCPU was leaving: held back a tick for
 * "no CPU room"); one that still finds no room is dropped for it.
 */
static void test_admit_after_room_is_made(void **state)
{
	struct vn_core *c;
	int accepted = 0;

	(void)state;
	t_add("leaving", 4, 0, GiB)->demand = 1.0;	/* node 0 full */
	t_add("coming", 1, 1, GiB)->demand = 1.0;
	t_add("third", 1, 1, GiB)->demand = 1.0;
	c = open_core();
	ticks(c, 6);
	propose_vcpu(c, "leaving", 0, 2, 0.1);
	propose_guest(c, "coming", 1ULL << 0, 0.5);
	propose_guest(c, "third", 1ULL << 0, 0.4);	/* no room left for it */
	ticks(c, 1);
	nr_proposals = 0;
	for (int i = 0; i < c->dec.nr; i++) {
		const struct vn_decision *d = &c->dec.d[i];

		if (d->accepted) {
			accepted++;
			assert_string_not_equal(d->g->name, "third");
		} else {
			assert_string_equal(d->g->name, "third");
			assert_int_equal(d->why, VN_DROP_CPU_CAPACITY);
		}
	}
	assert_int_equal(accepted, 2);
	assert_int_equal(c->dec.nr_accepted, 2);
	close_core(c);
}

/*
 * Two full nodes can trade vCPUs: a move onto a full node is admitted with
 * a move of like CPU demand the other way (a swap), both or neither. A move
 * without such a partner, or with one whose demand is far from its own, is
 * still dropped for CPU room.
 */
static int nr_accepted_of(const struct vn_core *c, const char *guest)
{
	int n = 0;

	for (int i = 0; i < c->dec.nr; i++)
		if (c->dec.d[i].accepted && strcmp(c->dec.d[i].g->name, guest) == 0)
			n++;
	return n;
}

static void test_admit_swap(void **state)
{
	struct vn_core *c;

	(void)state;
	t_add("a", 4, 0, GiB)->demand = 1.0;	/* node 0 full */
	t_add("b", 4, 1, GiB)->demand = 1.0;	/* node 1 full */
	c = open_core();
	ticks(c, 6);
	/* a lone move onto a full node: no room */
	propose_vcpu(c, "a", 0, 1, 0.3);
	ticks(c, 1);
	nr_proposals = 0;
	assert_int_equal(c->dec.nr_accepted, 0);
	assert_int_equal(c->dec.d[0].why, VN_DROP_CPU_CAPACITY);
	/* with a move of like demand the other way: a swap, both admitted */
	propose_vcpu(c, "a", 1, 1, 0.3);
	propose_vcpu(c, "b", 1, 0, 0.3);
	propose_vcpu(c, "a", 2, 1, 0.2);	/* its partner is taken */
	ticks(c, 1);
	nr_proposals = 0;
	assert_int_equal(c->dec.nr_accepted, 2);
	assert_int_equal(nr_accepted_of(c, "a"), 1);
	assert_int_equal(nr_accepted_of(c, "b"), 1);
	for (int i = 0; i < c->dec.nr; i++)
		if (!c->dec.d[i].accepted)
			assert_int_equal(c->dec.d[i].why, VN_DROP_CPU_CAPACITY);
	close_core(c);
	th.nr = 0;

	/* a partner of far less demand would leave node 0 over-committed */
	t_add("a", 4, 0, GiB)->demand = 1.0;
	t_add("light", 4, 2, GiB)->demand = 0.4;
	t_add("fill", 2, 2, GiB)->demand = 1.0;		/* node 2 full */
	t_find("a")->allowed[0] |= 1ULL << 2;
	t_find("light")->allowed[0] |= 1ULL << 0;
	c = open_core();
	ticks(c, 6);
	propose_vcpu(c, "a", 0, 2, 0.3);
	propose_vcpu(c, "light", 0, 0, 0.3);
	ticks(c, 1);
	nr_proposals = 0;
	assert_int_equal(nr_accepted_of(c, "a"), 0);
	close_core(c);
	th.nr = 0;

	/* a pair takes two of max_moves_per_tick: with one left, neither goes */
	t_add("a", 4, 0, GiB)->demand = 1.0;
	t_add("b", 4, 1, GiB)->demand = 1.0;
	t_add("x", 1, 2, GiB);
	c = open_core();
	c->cfg.max_moves_per_tick = 2;
	ticks(c, 6);
	/* the best gain, admitted first: one move left for the pair */
	propose_memory(c, "x", 2, 0, 512ULL << 20, 0.9);
	propose_vcpu(c, "a", 1, 1, 0.3);
	propose_vcpu(c, "b", 1, 0, 0.3);
	ticks(c, 1);
	nr_proposals = 0;
	assert_int_equal(nr_accepted_of(c, "x"), 1);
	assert_int_equal(nr_accepted_of(c, "a"), 0);
	assert_int_equal(nr_accepted_of(c, "b"), 0);
	close_core(c);
}

/*
 * A whole-guest move needs CPU room only for the vCPUs not yet on its
 * nodes: a guest whose vCPUs are home already, with its memory elsewhere,
 * must be able to bring that memory back even though home is nearly full.
 */
static void test_guest_move_credits_vcpus_home(void **state)
{
	struct vn_core *c;
	struct t_guest *g;

	(void)state;
	g = t_add("home", 4, 1, 2 * GiB);
	g->demand = 0.75;	/* 3 of node 1's 4 CPUs */
	g->mem[0] = 2 * GiB;
	c = open_core();
	ticks(c, 6);
	propose_guest(c, "home", 1ULL << 1, 0.3);
	expect_accepted(c);
	close_core(c);
}

/*
 * A whole-guest move migrates what is on other nodes, but not the crumbs
 * under a huge page (QEMU's own small mappings, which the mover does not
 * take): the four-node VM started a migration of them and logged "0 B
 * moved from node 3 to node 0".
 */
static void test_guest_move_leaves_crumbs(void **state)
{
	struct vn_core *c;
	struct t_guest *g;

	(void)state;
	g = t_add("crumbs", 2, 0, 0);
	g->mem[2] = 2 * GiB;
	g->mem[1] = 512 * KiB;
	c = open_core();
	ticks(c, 6);
	propose_guest(c, "crumbs", 1ULL << 0, 0.3);
	ticks(c, 1);
	nr_proposals = 0;
	assert_int_equal(th.migrations, 1);
	assert_non_null(th.last_mig);
	assert_int_equal(th.last_mig->from, 2);
	assert_int_equal(g->mem[1], 512 * KiB);
	close_core(c);
}

static void test_drop_memory_rules(void **state)
{
	struct vn_core *c;

	(void)state;
	t_add("a", 2, 0, 4 * GiB);
	t_add("n", 2, 0, 4 * GiB)->flags = VNUMAD_GUEST_NO_MEMMOVE;
	t_add("b", 2, 0, 4 * GiB);
	c = open_core();
	ticks(c, 6);
	propose_memory(c, "n", 0, 1, GiB, 0.3);
	expect_drop(c, VN_DROP_NO_MEMMOVE);
	c->cfg.migrate_rate = 1.0 * MiB;
	th.slow_migrations = true;
	propose_memory(c, "a", 0, 1, 2 * GiB, 0.3);
	ticks(c, 1);		/* a 2 GiB migration now runs */
	nr_proposals = 0;
	propose_memory(c, "b", 0, 1, GiB, 0.3);
	expect_drop(c, VN_DROP_BANDWIDTH);
	/* a's trial waits for its memory; a second move of it is held back */
	c->trials->state = VN_TRIAL_SETTLING;	/* pretend its trial is over */
	{
		struct vn_trial *t = c->trials;

		c->trials = NULL;
		ticks(c, 1);
		propose_memory(c, "a", 0, 2, GiB, 0.3);
		expect_drop(c, VN_DROP_MIGRATING);
		c->trials = t;
	}
	th.last_mig->state = VN_MIG_DONE;
	close_core(c);
}

/* A migration cut short by its guest's leaving is reported by the guest's name. */
static void test_migration_of_a_guest_that_left(void **state)
{
	struct vn_core *c;
	struct t_guest *g;
	char buf[4096] = "";
	FILE *log = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	(void)state;
	assert_non_null(log);
	g = t_add("leaver", 2, 0, 4 * GiB);
	t_add("stays", 2, 0, 4 * GiB);
	c = open_core();
	ticks(c, 6);
	th.slow_migrations = true;
	propose_memory(c, "leaver", 0, 1, 2 * GiB, 0.3);
	ticks(c, 1);		/* its 2 GiB migration runs */
	nr_proposals = 0;
	assert_non_null(c->migrations);
	fflush(stderr);
	dup2(fileno(log), STDERR_FILENO);
	g->present = false;
	ticks(c, 2);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(log);
	n = fread(buf, 1, sizeof(buf) - 1, log);
	buf[n] = '\0';
	fclose(log);
	th.slow_migrations = false;
	if (!strstr(buf, "guest leaver: migration node 0 to 1 cancelled after 0 B of 2.00 GiB "
		    "(the guest has left)"))
		fail_msg("the log names no guest: '%s'", buf);
	close_core(c);
}

static void test_drop_gain_cap_duplicate(void **state)
{
	struct vn_core *c = two_guests();

	(void)state;
	ticks(c, 6);
	propose_vcpu(c, "a", 0, 1, 0.01);
	expect_drop(c, VN_DROP_GAIN);
	c->cfg.max_moves_per_tick = 1;
	propose_vcpu(c, "a", 0, 1, 0.2);	/* second best: dropped by the cap */
	propose_vcpu(c, "b", 0, 1, 0.3);
	ticks(c, 1);
	assert_int_equal(th.g[1].allowed[0], 1ULL << 1);
	assert_int_equal(th.g[0].allowed[0], 1ULL << 0);
	assert_true(dropped(c, VN_DROP_TICK_CAP) == 1);
	nr_proposals = 0;
	c->cfg.max_moves_per_tick = 4;
	propose_vcpu(c, "a", 1, 1, 0.3);
	propose_vcpu(c, "a", 1, 2, 0.2);	/* the same vCPU again */
	ticks(c, 1);
	assert_true(dropped(c, VN_DROP_DUPLICATE) == 1);
	close_core(c);
}

/*
 * A permanent failure (EPERM) refuses the guest until a reload; a transient
 * one (EBUSY) lets the policy propose the move again at once.
 */
static void test_actuation_errors(void **state)
{
	struct vn_core *c = two_guests();
	struct vn_config fresh;
	struct vn_overrides ov = { .backend = -1, .policy = "none", .log_level = -1 };
	struct vn_errors e = { 0 };

	(void)state;
	assert_false(actuate_permanent(EBUSY));
	assert_false(actuate_permanent(ESRCH));
	assert_true(actuate_permanent(EPERM));
	assert_true(actuate_permanent(EOPNOTSUPP));
	ticks(c, 6);
	th.affinity_error = EBUSY;
	propose_vcpu(c, "a", 0, 1, 0.3);
	ticks(c, 1);
	assert_int_equal(c->host.guests[0]->refused, 0);
	assert_int_equal(c->stats.actuation_errors, 1);
	th.affinity_error = EPERM;
	ticks(c, 1);
	assert_int_equal(c->host.guests[0]->refused, EPERM);
	th.affinity_error = 0;
	expect_drop(c, VN_DROP_REFUSED);
	propose_vcpu(c, "a", 0, 1, 0.3);
	/* a reload clears it: the operator may have fixed the cause */
	assert_int_equal(config_load(&fresh, NULL, &ov, &e), 0);
	fresh.policy_desc = &t_policy;
	fresh.interval = 1;
	core_reconfigure(c, &fresh);
	assert_int_equal(c->host.guests[0]->refused, 0);
	ticks(c, 1);
	assert_int_equal(th.g[0].allowed[0], 1ULL << 1);
	errors_free(&e);
	close_core(c);
}

/*
 * A policy of ABI 1.2: storage per guest (guest_init, guest_exit), why it
 * stops (exit), and the new members of the view it checks every tick.
 */
static struct {
	int inits, exits, exit_calls, finis, ticks, bad_view;
	bool fail;		/* its ticks fail */
	bool init_fails;
	bool fini_after_exit;
	enum vnumad_exit_kind kind;
	int error;
	uint64_t told_ticks;
} lc;

static int lp_init(void **priv, const struct vnumad_init_args *args)
{
	(void)args;
	*priv = &lc;
	return lc.init_fails ? -EINVAL : 0;
}

static int lp_guest_init(void *priv, const struct vnumad_guest *g, void **gpriv)
{
	assert_ptr_equal(priv, &lc);
	*gpriv = xstrdup(g->name);
	lc.inits++;
	return 0;
}

static void lp_guest_exit(void *priv, const struct vnumad_guest *g, void *gpriv)
{
	(void)priv;
	assert_string_equal(gpriv, g->name);
	free(gpriv);
	lc.exits++;
}

static int lp_tick(void *priv, const struct vnumad_view *v, struct vnumad_out *o)
{
	(void)priv;
	(void)o;
	lc.ticks++;
	if (!VNUMAD_GUEST_HAS(v, priv) || v->guest_size != sizeof(struct vnumad_guest) ||
	    v->migrate_rate <= 0)
		lc.bad_view++;
	for (int i = 0; i < v->nr_guests; i++) {
		const struct vnumad_guest *g = v->guests[i];

		/* its storage, its id (the core's, never 0 twice), its age */
		if (!g->priv || strcmp(g->priv, g->name) != 0 || g->age < 0 ||
		    g->age > v->now || g->nr_vnodes != 0 || g->vnode_mem)
			lc.bad_view++;
		for (int j = 0; j < i; j++)
			if (v->guests[j]->id == g->id)
				lc.bad_view++;
	}
	return lc.fail ? -EIO : 0;
}

static void lp_exit(void *priv, const struct vnumad_exit_info *info)
{
	(void)priv;
	assert_true(VNUMAD_HAS(struct vnumad_exit_info, info, ticks));
	assert_non_null(info->reason);
	lc.kind = info->kind;
	lc.error = info->error;
	lc.told_ticks = info->ticks;
	lc.exit_calls++;
}

static void lp_fini(void *priv)
{
	(void)priv;
	lc.fini_after_exit = lc.exit_calls == 1;
	lc.finis++;
}

static const struct vnumad_policy lifecycle_policy = {
	VNUMAD_POLICY_INIT,
	.name = "lifecycle",
	.init = lp_init,
	.tick = lp_tick,
	.fini = lp_fini,
	.guest_init = lp_guest_init,
	.guest_exit = lp_guest_exit,
	.exit = lp_exit,
};

static struct vn_core *open_lifecycle_core(void)
{
	struct vn_core *c;

	memset(&lc, 0, sizeof(lc));
	t_add("a", 2, 0, GiB);
	t_add("b", 2, 1, GiB);
	c = open_core();
	/* the core opened with the script policy: run this one instead */
	plugin_stop(&c->policy, &c->host, VNUMAD_EXIT_RELOAD);
	c->cfg.policy_desc = &lifecycle_policy;
	assert_int_equal(plugin_start(&c->policy, &c->cfg), 0);
	return c;
}

/* Storage per guest from the tick that first sees it to the tick it goes. */
static void test_policy_guest_storage(void **state)
{
	struct vn_core *c;

	(void)state;
	c = open_lifecycle_core();
	ticks(c, 3);
	assert_int_equal(lc.inits, 2);
	assert_int_equal(lc.exits, 0);
	assert_int_equal(lc.ticks, 3);	/* the script's counters are valid at once */
	assert_int_equal(lc.bad_view, 0);
	th.g[1].present = false;	/* b stops */
	ticks(c, 1);
	assert_int_equal(lc.exits, 1);
	th.g[1].present = true;		/* and starts again: a new guest */
	ticks(c, 2);
	assert_int_equal(lc.inits, 3);
	assert_int_equal(lc.bad_view, 0);
	close_core(c);
	/* the guests left get their exit, then the policy its exit and fini */
	assert_int_equal(lc.exits, 3);
	assert_int_equal(lc.exit_calls, 1);
	assert_int_equal(lc.kind, VNUMAD_EXIT_SHUTDOWN);
	assert_int_equal(lc.error, 0);
	assert_int_equal(lc.told_ticks, (uint64_t)lc.ticks);
	assert_int_equal(lc.finis, 1);
	assert_true(lc.fini_after_exit);
}

/* A policy the core disables is told why, right away, and released. */
static void test_policy_exit_disabled(void **state)
{
	struct vn_core *c;

	(void)state;
	c = open_lifecycle_core();
	ticks(c, 2);
	lc.fail = true;
	ticks(c, 3);
	assert_true(c->policy.disabled);
	assert_int_equal(lc.exit_calls, 1);
	assert_int_equal(lc.kind, VNUMAD_EXIT_DISABLED);
	assert_int_equal(lc.error, -EIO);
	assert_int_equal(lc.exits, 2);
	assert_int_equal(lc.finis, 1);
	/* and is called no more */
	ticks(c, 2);
	close_core(c);
	assert_int_equal(lc.ticks, 5);
	assert_int_equal(lc.exit_calls, 1);
	assert_int_equal(lc.finis, 1);
	/* a policy whose init fails is told so before its fini */
	memset(&lc, 0, sizeof(lc));
	lc.init_fails = true;
	{
		struct vn_config cfg = { .policy_desc = &lifecycle_policy };
		struct vn_policy_rt rt;

		assert_int_equal(plugin_start(&rt, &cfg), -EINVAL);
		assert_int_equal(lc.kind, VNUMAD_EXIT_INIT_FAILED);
		assert_int_equal(lc.error, -EINVAL);
		assert_int_equal(lc.finis, 1);
		assert_true(lc.fini_after_exit);
	}
}

/* A descriptor of ABI 1.0's size is never asked for what it does not have. */
static void test_policy_old_descriptor(void **state)
{
	struct vnumad_policy old = lifecycle_policy;
	struct vn_config cfg = { .policy_desc = &old };
	struct vn_policy_rt rt;

	(void)state;
	memset(&lc, 0, sizeof(lc));
	old.size = offsetof(struct vnumad_policy, guest_init);
	assert_int_equal(plugin_start(&rt, &cfg), 0);
	plugin_stop(&rt, NULL, VNUMAD_EXIT_SHUTDOWN);
	assert_int_equal(lc.exit_calls, 0);
	assert_int_equal(lc.finis, 1);
}

/* The accepted decisions of a tick come grouped by guest, best guest first. */
static void test_decisions_grouped_by_guest(void **state)
{
	struct vn_core *c = two_guests();
	const struct vn_decisions *dec = &c->dec;

	(void)state;
	ticks(c, 6);
	propose_vcpu(c, "a", 0, 1, 0.2);
	propose_vcpu(c, "b", 0, 1, 0.4);
	propose_vcpu(c, "a", 1, 1, 0.3);
	propose_vcpu(c, "b", 1, 1, 0.1);
	propose_vcpu(c, "a", 1, 2, 0.01);	/* dropped: gain */
	ticks(c, 1);
	assert_int_equal(dec->nr, 5);
	assert_int_equal(dec->nr_accepted, 4);
	assert_string_equal(dec->d[0].g->name, "b");
	assert_true(dec->d[0].p.gain == 0.4);
	assert_string_equal(dec->d[1].g->name, "b");
	assert_string_equal(dec->d[2].g->name, "a");
	assert_true(dec->d[2].p.gain == 0.3);
	assert_string_equal(dec->d[3].g->name, "a");
	assert_false(dec->d[4].accepted);
	/* one trial per guest */
	assert_non_null(c->trials);
	assert_non_null(c->trials->next);
	assert_null(c->trials->next->next);
	close_core(c);
}

/* ---- the journal: restarts, crashes and full disks, on the host in real time */

static char jdir[128];		/* the daemon's state directory */
static char jimage[160];	/* the journal as a crash would have left it */

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The whole of a file, or NULL; the caller frees it. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	assert_int_equal(getdelim(&buf, &len, '\0', f) >= 0 || feof(f), 1);
	fclose(f);
	return buf ? buf : strdup("");
}

static int count_text(const char *path, const char *needle)
{
	char *t = read_text(path), *p = t;
	int n = 0;

	while (p && (p = strstr(p, needle))) {
		n++;
		p++;
	}
	free(t);
	return n;
}

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* A fresh state directory, with a journal of `text` when not NULL. */
static void state_dir(const char *text)
{
	char p[256];

	assert_int_equal(tmpdir_make(jdir, sizeof(jdir), "core-state"), 0);
	snprintf(jimage, sizeof(jimage), "%s/image", jdir);
	strcat(jdir, "/state");
	assert_int_equal(mkdir(jdir, 0700), 0);
	if (text) {
		path_in(p, sizeof(p), jdir, "journal");
		write_text(p, text);
	}
}

static void state_dir_remove(void)
{
	*strrchr(jdir, '/') = '\0';
	tmpdir_remove(jdir);
}

/* The journal at this moment, as a daemon killed now would leave it. */
static void crash_image(void)
{
	char src[256], dst[256], *t;

	mkdir(jimage, 0700);
	path_in(src, sizeof(src), jdir, "journal");
	path_in(dst, sizeof(dst), jimage, "journal");
	t = read_text(src);
	assert_non_null(t);
	write_text(dst, t);
	free(t);
}

/* Ends a core as a kill would: what it moved stays moved (no restore). */
static void kill_core(struct vn_core *c)
{
	close_core(c);
	th.last_mig = th.last_undo = NULL;
	th.on_apply = NULL;
}

/*
 * Every field of every record is checked: a vCPU index below 0 or past
 * 2^31, a kind that is not one, an affinity of no node or of nodes the
 * host lacks, a memory move between one node and itself or of a negative
 * size, a number given as a string. None of them is acted on; the one
 * sound record beside them is.
 */
static void test_journal_bad_records_ignored(void **state)
{
	struct t_guest *a;
	struct vn_core *c;
	char text[4096];
	const char *const acts[] = {
		"{\"kind\":\"vcpu\",\"vcpu\":-1,\"from\":0,\"to\":1,\"old_allowed\":1}",
		"{\"kind\":\"vcpu\",\"vcpu\":4294967295,\"from\":0,\"to\":1,\"old_allowed\":1}",
		"{\"kind\":\"vcpu\",\"vcpu\":2147483648,\"from\":0,\"to\":1,\"old_allowed\":1}",
		"{\"kind\":\"bogus\",\"vcpu\":0,\"from\":0,\"to\":1,\"old_allowed\":2}",
		"{\"kind\":\"vcpu\",\"vcpu\":0,\"from\":0,\"to\":1,\"old_allowed\":0}",
		"{\"kind\":\"vcpu\",\"vcpu\":\"0\",\"from\":0,\"to\":1,\"old_allowed\":2}",
		"{\"kind\":\"vcpu\",\"vcpu\":2,\"from\":0,\"to\":1,\"old_allowed\":9223372036854775807}",
		"{\"kind\":\"vcpu\",\"vcpu\":3,\"from\":0,\"to\":99,\"old_allowed\":2}",
		"{\"kind\":\"memory\",\"from\":1,\"to\":1,\"bytes\":1073741824}",
		"{\"kind\":\"memory\",\"from\":2,\"to\":0,\"bytes\":-5}",
		"{\"kind\":\"memory\",\"from\":-3,\"to\":0,\"bytes\":1024}",
		/* the sound one: vCPU 1 was moved off node 0 */
		"{\"kind\":\"vcpu\",\"vcpu\":1,\"from\":0,\"to\":1,\"old_allowed\":1}",
	};
	size_t off;

	(void)state;
	a = t_add("a", 4, 0, 1 * GiB);
	a->mem[1] = a->mem[2] = 1 * GiB;
	a->allowed[1] = 1ULL << 1;
	off = (size_t)snprintf(text, sizeof(text), "{\"vnumad_journal\":1}\n");
	for (size_t i = 0; i < ARRAY_SIZE(acts); i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"{\"type\":\"trial\",\"id\":%zu,\"guest\":\"a\",\"time\":1,"
					"\"actions\":[%s]}\n", i + 1, acts[i]);
	/* a second trial of a known id, and a verdict naming another guest */
	off += (size_t)snprintf(text + off, sizeof(text) - off,
		"{\"type\":\"trial\",\"id\":12,\"guest\":\"a\",\"time\":1,\"actions\":[%s]}\n"
		"{\"type\":\"verdict\",\"id\":12,\"guest\":\"b\",\"verdict\":\"kept\"}\n",
		acts[0]);
	state_dir(text);
	c = open_core_in(jdir);
	ticks(c, 2);
	assert_int_equal(th.bad_calls, 0);
	assert_int_equal(th.undos, 0);
	assert_int_equal(th.affinity_calls, 1);
	assert_int_equal(a->allowed[1], 1ULL << 0);
	for (int v = 0; v < 4; v++)
		if (v != 1)
			assert_int_equal(a->allowed[v], 1ULL << 0);
	close_core(c);
	state_dir_remove();
}

/*
 * A journal whose first line is not a header -- torn, or foreign -- is set
 * aside like one of another version: none of its records is acted on.
 */
static void test_journal_torn_header_set_aside(void **state)
{
	static const char *const firsts[] = {
		"{\"vnumad_jour\n",
		"[1,2,3]\n",
		"\n",
	};
	struct t_guest *a;

	(void)state;
	a = t_add("a", 2, 0, 1 * GiB);
	for (size_t i = 0; i < ARRAY_SIZE(firsts); i++) {
		char text[512], aside[256], *kept;
		struct vn_core *c;

		snprintf(text, sizeof(text), "%s{\"type\":\"trial\",\"id\":1,\"guest\":\"a\","
			 "\"time\":1,\"actions\":[{\"kind\":\"vcpu\",\"vcpu\":1,\"from\":0,"
			 "\"to\":1,\"old_allowed\":1}]}\n", firsts[i]);
		a->allowed[1] = 1ULL << 1;
		th.affinity_calls = 0;
		state_dir(text);
		c = open_core_in(jdir);
		ticks(c, 1);
		assert_int_equal(th.affinity_calls, 0);
		assert_int_equal(a->allowed[1], 1ULL << 1);
		path_in(aside, sizeof(aside), jdir, "journal.unreadable");
		kept = read_text(aside);
		if (!kept || strcmp(kept, text) != 0)
			fail_msg("first line %zu: the journal was not kept aside as it was", i);
		free(kept);
		close_core(c);
		state_dir_remove();
	}
}

/*
 * A trial of the last run concerns the processes of then: one of a guest
 * that restarted since (another pid), or of a host that rebooted since
 * (another boot id), is not undone on what runs now.
 */
static void test_journal_moot_trials_abandoned(void **state)
{
	struct t_guest *a, *b;
	struct vn_core *c;
	char text[1024];

	(void)state;
	a = t_add("a", 2, 0, 1 * GiB);
	b = t_add("b", 2, 0, 1 * GiB);
	a->allowed[1] = b->allowed[1] = 1ULL << 1;
	snprintf(text, sizeof(text),
		 "{\"vnumad_journal\":1}\n"
		 "{\"type\":\"trial\",\"id\":1,\"guest\":\"a\",\"pid\":4242,\"time\":1,"
		 "\"actions\":[{\"kind\":\"vcpu\",\"vcpu\":1,\"from\":0,\"to\":1,\"old_allowed\":1}]}\n"
		 "{\"type\":\"trial\",\"id\":2,\"guest\":\"b\",\"boot\":\"00000000-0000-0000-0000-"
		 "000000000000\",\"time\":1,\"actions\":[{\"kind\":\"vcpu\",\"vcpu\":1,\"from\":0,"
		 "\"to\":1,\"old_allowed\":1}]}\n");
	state_dir(text);
	c = open_core_in(jdir);
	ticks(c, 1);
	assert_int_equal(th.affinity_calls, 0);
	assert_int_equal(a->allowed[1], 1ULL << 1);
	assert_int_equal(b->allowed[1], 1ULL << 1);
	close_core(c);
	state_dir_remove();
}

/*
 * Write ahead: the journal holds a move before it is made. A daemon killed
 * between the two leaves a journal from which the next start undoes it --
 * for a guest whose name is not UTF-8 too (JSON cannot hold it as it is).
 */
static void test_journal_intent_before_apply(void **state)
{
	static const char *const names[] = { "a", "caf\xe9" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct t_guest *a;
		struct vn_core *c;

		setup(NULL);
		a = t_add(names[i], 2, 0, 2 * GiB);
		a->mem[1] = 2 * GiB;
		state_dir(NULL);
		c = open_core_in(jdir);
		ticks(c, 6);
		propose_vcpu(c, names[i], 0, 1, 0.3);
		propose_memory(c, names[i], 0, 1, 1 * GiB, 0.3);
		th.on_apply = crash_image;	/* killed as the moves are made */
		ticks(c, 1);
		assert_int_equal(a->allowed[0], 1ULL << 1);
		assert_int_equal(a->mem[1], 3 * GiB);
		kill_core(c);

		nr_proposals = 0;
		th.affinity_calls = 0;
		c = open_core_in(jimage);
		ticks(c, 1);
		if (a->allowed[0] != 1ULL << 0)
			fail_msg("guest %zu: the vCPU moved before the kill was not moved back", i);
		/* the memory that moved goes back, and only that */
		assert_int_equal(th.undos, 1);
		assert_int_equal(th.undone, 1 * GiB);
		close_core(c);
		state_dir_remove();
	}
}

/*
 * A move that failed is nothing to undo: a restart does not take back
 * memory the guest's own growth put on the node the failed migration
 * aimed at, while the vCPU moved with it is moved back.
 */
static void test_journal_failed_move_not_undone(void **state)
{
	struct t_guest *a;
	struct vn_core *c;

	(void)state;
	a = t_add("a", 2, 0, 2 * GiB);
	a->mem[1] = 2 * GiB;
	state_dir(NULL);
	c = open_core_in(jdir);
	ticks(c, 6);
	propose_vcpu(c, "a", 0, 1, 0.3);
	propose_memory(c, "a", 0, 1, 1 * GiB, 0.3);
	th.migrate_error = ENOMEM;
	ticks(c, 1);
	assert_int_equal(a->allowed[0], 1ULL << 1);
	crash_image();
	kill_core(c);
	/* meanwhile the guest grew on node 1 and shrank on node 0 by itself */
	a->mem[0] -= 512 * MiB;
	a->mem[1] += 512 * MiB;
	nr_proposals = 0;
	th.migrate_error = 0;
	c = open_core_in(jimage);
	ticks(c, 1);
	assert_int_equal(a->allowed[0], 1ULL << 0);
	assert_int_equal(th.undos, 0);
	close_core(c);
	state_dir_remove();
}

/*
 * A dry run keeps no journal; a reload that ends the dry run opens it
 * before anything is moved, so that the moves are journaled (and the
 * unjudged trials of a run before are taken up).
 */
static void test_journal_opened_when_dry_run_ends(void **state)
{
	struct vn_overrides ov = { .backend = -1, .policy = "none", .log_level = -1 };
	struct vn_errors e = { 0 };
	struct vn_config fresh;
	char p[256];
	struct t_guest *a;
	struct vn_core *c;

	(void)state;
	a = t_add("a", 2, 0, 1 * GiB);
	state_dir(NULL);
	path_in(p, sizeof(p), jdir, "journal");
	open_dry_run = true;
	c = open_core_in(jdir);
	ticks(c, 6);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(config_load(&fresh, NULL, &ov, &e), 0);
	errors_free(&e);
	fresh.policy_desc = &t_policy;
	fresh.interval = 1;
	free(fresh.state_dir);
	fresh.state_dir = xstrdup(jdir);
	core_reconfigure(c, &fresh);
	assert_false(c->cfg.dry_run);
	propose_vcpu(c, "a", 0, 1, 0.3);
	ticks(c, 1);
	assert_int_equal(a->allowed[0], 1ULL << 1);
	assert_int_equal(count_text(p, "\"type\":\"trial\""), 1);
	close_core(c);
	state_dir_remove();
}

/* A migration under way: the mover has done `bytes` of it so far. */
static void mover_did(struct t_guest *g, struct vn_migration *m, uint64_t bytes)
{
	uint64_t more = bytes - m->done;

	g->mem[m->from] -= more;
	g->mem[m->to] += more;
	m->done = bytes;
}

/*
 * A daemon killed in the middle of a migration: the next start moves back
 * what had moved, not what was asked. Once from a journal that knew only
 * the intent (the guest's memory tells), once from one that knew the
 * progress; and a start killed in the middle of that undo leaves the next
 * one only the rest to take back.
 */
static void test_journal_partial_migration_undone(void **state)
{
	struct t_guest *a;
	struct vn_core *c;

	(void)state;
	for (int progress = 0; progress < 2; progress++) {
		char image2[200], src[256], dst[256], *t;

		setup(NULL);
		a = t_add("a", 4, 0, 2 * GiB);
		a->mem[1] = 2 * GiB;
		state_dir(NULL);
		c = open_core_in(jdir);
		ticks(c, 6);
		th.slow_migrations = true;
		propose_memory(c, "a", 1, 0, 2 * GiB, 0.3);
		ticks(c, 1);
		nr_proposals = 0;
		assert_non_null(th.last_mig);
		mover_did(a, th.last_mig, 512 * MiB);
		if (progress)
			ticks(c, 1);	/* the journal learns of it */
		crash_image();
		kill_core(c);

		/* 2.5 GiB on node 0 now, of which 2 GiB were the guest's own */
		c = open_core_in(jimage);
		ticks(c, 1);
		assert_int_equal(th.undos, 1);
		if (th.undone != 512 * MiB)
			fail_msg("%s: moved back %llu MiB, want 512", progress ?
				 "with progress" : "intent only",
				 (unsigned long long)(th.undone / MiB));
		/* killed again, a quarter of the way back */
		mover_did(a, th.last_undo, 128 * MiB);
		ticks(c, 1);
		snprintf(image2, sizeof(image2), "%s2", jimage);
		mkdir(image2, 0700);
		path_in(src, sizeof(src), jimage, "journal");
		path_in(dst, sizeof(dst), image2, "journal");
		t = read_text(src);
		write_text(dst, t);
		free(t);
		kill_core(c);

		th.undos = 0;
		th.undone = 0;
		th.slow_migrations = false;
		c = open_core_in(image2);
		ticks(c, 1);
		assert_int_equal(th.undos, 1);
		assert_int_equal(th.undone, 384 * MiB);
		assert_int_equal(a->mem[0], 2 * GiB);
		assert_int_equal(a->mem[1], 2 * GiB);
		close_core(c);
		state_dir_remove();
	}
}

/* A small filesystem at dir (root only); false when none can be made. */
static bool tmpfs_at(const char *dir)
{
	return geteuid() == 0 &&
	       mount("vnumad-test", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0700") == 0;
}

/*
 * Fills the filesystem of dir; unfill() gives the room back. The journal's
 * last page is filled first (with a record no reader acts on), else an
 * append to it would still fit in what that page has left.
 */
static void fill(const char *dir)
{
	char p[256], block[4096] = { 0 };
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	FILE *f;
	int fd;

	path_in(p, sizeof(p), dir, "journal");
	if (stat(p, &st) == 0 && st.st_size % page) {
		long pad = page - st.st_size % page;

		/* {"type":"pad","x":""} and a newline: 22 bytes at least */
		if (pad < 22)
			pad += page;
		f = fopen(p, "a");
		assert_non_null(f);
		fprintf(f, "{\"type\":\"pad\",\"x\":\"");
		for (long i = 0; i < pad - 22; i++)
			putc('x', f);
		fprintf(f, "\"}\n");
		assert_int_equal(fclose(f), 0);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_size % page, 0);
	}

	path_in(p, sizeof(p), dir, "fill");
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
	assert_true(fd >= 0);
	while (write(fd, block, sizeof(block)) > 0)
		;
	/* what is left is less than a block: use it up too */
	while (write(fd, block, 1) > 0)
		;
	close(fd);
}

static void unfill(const char *dir)
{
	char p[256];

	path_in(p, sizeof(p), dir, "fill");
	assert_int_equal(unlink(p), 0);
}

static void untmpfs(void)
{
	umount2(jdir, MNT_DETACH);
	state_dir_remove();
}

/* A journal of one unjudged trial of a: 1 GiB moved from node 1 to node 0. */
static const char pending_memory[] =
	"{\"vnumad_journal\":1}\n"
	"{\"type\":\"trial\",\"id\":7,\"guest\":\"a\",\"time\":1,\"actions\":[{\"kind\":\"memory\","
	"\"from\":1,\"to\":0,\"bytes\":1073741824,\"before_from\":2147483648,"
	"\"before_to\":2147483648}]}\n";

static struct t_guest *guest_of_pending_memory(void)
{
	struct t_guest *a = t_add("a", 2, 0, 3 * GiB);

	a->mem[1] = 1 * GiB;
	return a;
}

/*
 * The state filesystem full when the undo of a trial left by the last run
 * is to be journaled: the undo waits for the journal (memory undos are not
 * idempotent), is made once it can be written, and never again.
 */
static void test_journal_full_undo_once(void **state)
{
	char p[256];
	struct t_guest *a;
	struct vn_core *c;

	(void)state;
	a = guest_of_pending_memory();
	state_dir(NULL);
	if (!tmpfs_at(jdir)) {
		state_dir_remove();
		print_message("skipped: a full filesystem needs root to mount a tmpfs\n");
		skip();
	}
	path_in(p, sizeof(p), jdir, "journal");
	write_text(p, pending_memory);
	c = open_core_in(jdir);
	fill(jdir);
	ticks(c, 2);
	unfill(jdir);
	ticks(c, 2);
	close_core(c);
	c = open_core_in(jdir);
	ticks(c, 2);
	close_core(c);
	assert_int_equal(th.undos, 1);
	assert_int_equal(th.undone, 1 * GiB);
	assert_int_equal(a->mem[0], 2 * GiB);
	untmpfs();
}

/*
 * The state filesystem full at start: the trials read are kept (and undone
 * once it has room), and nothing is moved while the journal cannot hold it.
 */
static void test_journal_full_at_start(void **state)
{
	char p[256];
	struct t_guest *a, *b;
	struct vn_core *c;

	(void)state;
	a = guest_of_pending_memory();
	b = t_add("b", 2, 0, 1 * GiB);
	state_dir(NULL);
	if (!tmpfs_at(jdir)) {
		state_dir_remove();
		print_message("skipped: a full filesystem needs root to mount a tmpfs\n");
		skip();
	}
	path_in(p, sizeof(p), jdir, "journal");
	write_text(p, pending_memory);
	fill(jdir);
	c = open_core_in(jdir);
	ticks(c, 6);
	propose_vcpu(c, "b", 0, 1, 0.3);
	ticks(c, 2);
	assert_int_equal(th.affinity_calls, 0);
	assert_int_equal(th.migrations + th.undos, 0);
	assert_int_equal(b->allowed[0], 1ULL << 0);
	unfill(jdir);
	ticks(c, 2);
	assert_int_equal(th.undos, 1);		/* the last run's, kept */
	assert_int_equal(a->mem[0], 2 * GiB);
	assert_int_equal(b->allowed[0], 1ULL << 1);
	close_core(c);
	untmpfs();
}

/* The "journal" member of the status, and whether it says writable. */
static bool status_journal_writable(const struct vn_core *c)
{
	json_t *s = state_json(c), *j = json_object_get(s, "journal");
	bool w;

	assert_true(json_is_object(j));
	w = json_is_true(json_object_get(j, "writable"));
	json_decref(s);
	return w;
}

/*
 * A journal write that fails mid-run stops the moves (advising only, in
 * the status too, and for the operator's moves) until the journal can be
 * written again; then the file is rewritten whole and moves resume.
 */
static void test_journal_full_midrun_advises(void **state)
{
	char p[256], why[256];
	struct vn_manual man;
	struct t_guest *b;
	struct vn_core *c;

	(void)state;
	t_add("a", 2, 0, 1 * GiB);
	b = t_add("b", 2, 0, 1 * GiB);
	state_dir(NULL);
	if (!tmpfs_at(jdir)) {
		state_dir_remove();
		print_message("skipped: a full filesystem needs root to mount a tmpfs\n");
		skip();
	}
	c = open_core_in(jdir);
	ticks(c, 6);
	fill(jdir);
	propose_vcpu(c, "b", 0, 1, 0.3);
	ticks(c, 2);
	assert_int_equal(b->allowed[0], 1ULL << 0);
	assert_false(status_journal_writable(c));
	assert_non_null(strstr(output(), "advising only"));
	assert_int_equal(state_migrate(c, "a", 1, 0, true, 0, false, &man, why, sizeof(why)),
			 -EROFS);
	assert_non_null(strstr(why, "journal"));
	unfill(jdir);
	ticks(c, 1);
	assert_true(status_journal_writable(c));
	assert_int_equal(b->allowed[0], 1ULL << 1);
	path_in(p, sizeof(p), jdir, "journal");
	assert_int_equal(count_text(p, "\"type\":\"trial\""), 1);
	close_core(c);
	untmpfs();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_revert_holds_the_vcpu_in_its_tick, setup),
		cmocka_unit_test_setup(test_reverted_trial_is_one_strike, setup),
		cmocka_unit_test_setup(test_quarantine_lifted_when_the_memory_moves, setup),
		cmocka_unit_test_setup(test_baseline_starts_after_a_phase_change, setup),
		cmocka_unit_test_setup(test_no_move_before_the_figures_know_the_shift, setup),
		cmocka_unit_test_setup(test_manual_moves_follow_the_rules, setup),
		cmocka_unit_test_setup(test_manual_move_waivers, setup),
		cmocka_unit_test_setup(test_manual_move_vcpus_exist, setup),
		cmocka_unit_test_setup(test_drop_invalid, setup),
		cmocka_unit_test_setup(test_drop_pinned_and_opted_out, setup),
		cmocka_unit_test_setup(test_memory_free_pinned_guest, setup),
		cmocka_unit_test_setup(test_drop_quarantine_trial_hysteresis, setup),
		cmocka_unit_test_setup(test_drop_hourly_cap_and_history, setup),
		cmocka_unit_test_setup(test_drop_capacity, setup),
		cmocka_unit_test_setup(test_admit_after_room_is_made, setup),
		cmocka_unit_test_setup(test_admit_swap, setup),
		cmocka_unit_test_setup(test_revert_puts_the_vcpu_back, setup),
		cmocka_unit_test_setup(test_guest_move_credits_vcpus_home, setup),
		cmocka_unit_test_setup(test_guest_move_leaves_crumbs, setup),
		cmocka_unit_test_setup(test_figure_changes_kind_mid_trial, setup),
		cmocka_unit_test_setup(test_fault_statistics_lag_a_migration, setup),
		cmocka_unit_test_setup(test_drop_memory_rules, setup),
		cmocka_unit_test_setup(test_drop_gain_cap_duplicate, setup),
		cmocka_unit_test_setup(test_migration_of_a_guest_that_left, setup),
		cmocka_unit_test_setup(test_actuation_errors, setup),
		cmocka_unit_test_setup(test_decisions_grouped_by_guest, setup),
		cmocka_unit_test_setup(test_policy_guest_storage, setup),
		cmocka_unit_test_setup(test_policy_exit_disabled, setup),
		cmocka_unit_test_setup(test_policy_old_descriptor, setup),
		cmocka_unit_test_setup(test_journal_bad_records_ignored, setup),
		cmocka_unit_test_setup(test_journal_torn_header_set_aside, setup),
		cmocka_unit_test_setup(test_journal_moot_trials_abandoned, setup),
		cmocka_unit_test_setup(test_journal_intent_before_apply, setup),
		cmocka_unit_test_setup(test_journal_partial_migration_undone, setup),
		cmocka_unit_test_setup(test_journal_failed_move_not_undone, setup),
		cmocka_unit_test_setup(test_journal_opened_when_dry_run_ends, setup),
		cmocka_unit_test_setup(test_journal_full_undo_once, setup),
		cmocka_unit_test_setup(test_journal_full_at_start, setup),
		cmocka_unit_test_setup(test_journal_full_midrun_advises, setup),
		cmocka_unit_test_setup(test_guest_names_shown_clean, setup),
		cmocka_unit_test_setup(test_guest_age_from_the_backend, setup),
		cmocka_unit_test_setup(test_plugin_output_shown_clean, setup),
		cmocka_unit_test_setup(test_policy_cannot_grow_its_buffer, setup),
	};

	log_init(true, LOG_ERR, "test_core");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
