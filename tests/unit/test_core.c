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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "core.h"
#include "log.h"
#include "state.h"
#include "util.h"

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
};

static struct t_host {
	struct t_guest g[T_GUESTS];
	int nr;
	uint64_t mem_free[T_NODES];
	int affinity_error;	/* set_affinity fails with this errno */
	int affinity_calls;
	bool slow_migrations;	/* migrations stay running */
	struct vn_migration *last_mig;
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
			.name = t->name, .pid = 1000 + i, .flags = t->flags,
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
	th.affinity_calls++;
	if (th.affinity_error)
		return -th.affinity_error;
	t->allowed[vcpu] = nodes;
	return 0;
}

static int tb_migrate(struct vn_backend *b, struct vn_guest *g, struct vn_migration *m)
{
	struct t_guest *t = g->backend;

	(void)b;
	th.last_mig = m;
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

/* Counts as the sim would: all local, the guest's IPS shared by its vCPUs. */
static int ts_read(struct vn_sampler *s, struct vn_guest *g)
{
	struct t_guest *t = g->backend;
	double dt = s->cfg->interval;
	double ips = t->ips * ((t->allowed[0] & 1) ? 1.0 : t->slow_off_home);

	for (int v = 0; v < g->nr_vcpus; v++) {
		struct vn_counts *d = &g->vc[v].delta;

		d->instructions = (uint64_t)(ips / g->nr_vcpus * dt);
		d->cycles = d->instructions;
		d->local_dram = 1000000;
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

static int tp_tick(void *priv, const struct vnumad_view *v, struct vnumad_out *out)
{
	(void)priv;
	(void)v;
	for (int i = 0; i < nr_proposals; i++)
		vnumad_propose(out, &proposals[i]);
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

/* Verdicts as the guard's hook reports them. */
static int nr_reverted, nr_kept;

static void on_trial(struct vn_core *c, const struct vn_trial *t, enum vn_trial_event ev,
		     const struct vn_verdict *v, void *arg)
{
	(void)c;
	(void)t;
	(void)v;
	(void)arg;
	nr_reverted += ev == VN_TRIAL_REVERTED;
	nr_kept += ev == VN_TRIAL_KEPT;
}

static char *out_text;
static size_t out_len;
static FILE *out;

/*
 * A core on the scripted host: 1 s ticks, a 3 s baseline, 1 s settle, 2 s
 * judge windows, 2 s hysteresis, memory read every tick, as a configuration
 * file would set them.
 */
static struct vn_core *open_core(void)
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
	c.backend.ops = &t_backend_ops;
	c.sampler.ops = &t_sampler_ops;
	c.trial_hook = on_trial;
	out = open_memstream(&out_text, &out_len);
	assert_non_null(out);
	assert_int_equal(core_open(&c, NULL, VN_OUT_TEXT, out), 0);
	return &c;
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
 * One reverted trial is one strike, however many vCPUs it moved: the
 * quarantine of its target is the configured first length.
 */
static void test_reverted_trial_is_one_strike(void **state)
{
	struct vn_core *c;
	struct t_guest *a;
	const struct vn_quarantine *q;

	(void)state;
	a = t_add("a", 4, 0, 4 * GiB);
	a->slow_off_home = 0.5;
	c = open_core();
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

/* One tick; the decision for the first proposal must be dropped for `why`. */
static void expect_drop(struct vn_core *c, enum vn_drop why)
{
	uint64_t before = dropped(c, why);
	const struct vn_decision *d = NULL;

	ticks(c, 1);
	for (int i = 0; i < c->dec.nr; i++)
		if (c->dec.d[i].order == 0)
			d = &c->dec.d[i];
	assert_non_null(d);
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
	assert_non_null(strstr(o, "expected gain +30%: good?vnumad: error: forged?[2J?0m\n"));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_revert_holds_the_vcpu_in_its_tick, setup),
		cmocka_unit_test_setup(test_reverted_trial_is_one_strike, setup),
		cmocka_unit_test_setup(test_manual_moves_follow_the_rules, setup),
		cmocka_unit_test_setup(test_manual_move_waivers, setup),
		cmocka_unit_test_setup(test_drop_invalid, setup),
		cmocka_unit_test_setup(test_drop_pinned_and_opted_out, setup),
		cmocka_unit_test_setup(test_drop_quarantine_trial_hysteresis, setup),
		cmocka_unit_test_setup(test_drop_hourly_cap_and_history, setup),
		cmocka_unit_test_setup(test_drop_capacity, setup),
		cmocka_unit_test_setup(test_drop_memory_rules, setup),
		cmocka_unit_test_setup(test_drop_gain_cap_duplicate, setup),
		cmocka_unit_test_setup(test_actuation_errors, setup),
		cmocka_unit_test_setup(test_decisions_grouped_by_guest, setup),
		cmocka_unit_test_setup(test_guest_names_shown_clean, setup),
		cmocka_unit_test_setup(test_plugin_output_shown_clean, setup),
		cmocka_unit_test_setup(test_policy_cannot_grow_its_buffer, setup),
	};

	log_init(true, LOG_ERR, "test_core");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
