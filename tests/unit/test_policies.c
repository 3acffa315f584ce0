// SPDX-License-Identifier: MIT
/*
 * The built-in policies, one tick at a time on views built by hand: what
 * each proposes where the answer is known, and what it must not propose
 * (pinned guests, full nodes, held vCPUs, quarantined targets, balanced
 * hosts). Options are parsed from their declared defaults exactly as the
 * host does, then overridden per test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ini.h"
#include "plugin.h"
#include "policies.h"

#define GiB_B	(1024.0 * 1024 * 1024)
#define MAXG	8
#define MAXV	16
#define BW	40e9

/* Workloads as the simulated host's built-ins roughly look to the model. */
enum load { LATENCY, BANDWIDTH, CPU, MIXED };

/* A hand-built host: the view and everything it points at. */
struct tv {
	struct vnumad_node nodes[VNUMAD_MAX_NODES];
	uint8_t dist[16];
	struct vnumad_guest g[MAXG];
	struct vnumad_vcpu vc[MAXG][MAXV];
	const struct vnumad_guest *gp[MAXG];
	struct vnumad_view v;
	struct vnumad_proposal buf[256];
	struct vnumad_out out;
};

static struct tv T;

/*
 * The guest storage of ABI 1.2, as the core keeps it: made by the policy's
 * guest_init when tick first sees a guest, released by its guest_exit when
 * the host is rebuilt or the policy stops.
 */
static const struct vnumad_policy *cur_pol;
static void *cur_priv;

static void release_storage(void)
{
	for (int gi = 0; gi < T.v.nr_guests; gi++) {
		if (T.g[gi].priv && cur_pol && cur_pol->guest_exit)
			cur_pol->guest_exit(cur_priv, &T.g[gi], T.g[gi].priv);
		T.g[gi].priv = NULL;
	}
}

/* A host of `nodes` nodes (2, or a ring of 4) with 16 CPUs and 64 GiB each. */
static void host(int nodes)
{
	static const uint8_t ring[16] = { 10, 21, 31, 21, 21, 10, 21, 31,
					  31, 21, 10, 21, 21, 31, 21, 10 };

	release_storage();
	memset(&T, 0, sizeof(T));
	for (int n = 0; n < nodes; n++) {
		T.nodes[n] = (struct vnumad_node){ .id = n, .nr_cpus = 16,
			.mem_total = 64ULL << 30, .mem_free = 64ULL << 30, .bw_max = BW };
		for (int m = 0; m < nodes; m++)
			T.dist[n * nodes + m] = nodes == 4 ? ring[n * 4 + m] :
						n == m ? 10 : 21;
	}
	T.v = (struct vnumad_view){ .size = sizeof(T.v), .tick = 10, .now = 20,
		.interval = 2, .nr_nodes = nodes, .online = (1ULL << nodes) - 1,
		.nodes = T.nodes, .distance = T.dist, .guests = T.gp };
}

/*
 * Adds a guest: vCPU i runs on vcpu_node[i % len]; memory is GiB per node.
 * Remote ratios follow from where the memory is, as accesses are uniform.
 */
static int guest(const char *name, enum load w, int nr, const int *vnode_of,
		 const int *on, int nr_on, const double *gib)
{
	static const double ips[] = { 0.8e9, 1.0e9, 3.9e9, 1.7e9 };
	static const double apki[] = { 15, 40, 0.3, 8 };
	int gi = T.v.nr_guests++;
	struct vnumad_guest *g = &T.g[gi];

	g->name = name;
	g->nr_vcpus = nr;
	g->vcpus = T.vc[gi];
	for (int n = 0; n < T.v.nr_nodes; n++) {
		g->mem[n] = (uint64_t)(gib[n] * GiB_B);
		g->mem_total += g->mem[n];
		T.nodes[n].mem_free -= g->mem[n];
	}
	for (int i = 0; i < nr; i++) {
		struct vnumad_vcpu *c = &T.vc[gi][i];
		int s = on[i % nr_on];

		*c = (struct vnumad_vcpu){ .index = i, .node = s,
			.vnode = vnode_of ? vnode_of[i] : -1, .allowed = 1ULL << s,
			.ips = ips[w], .ipc = 1, .access_rate = ips[w] * apki[w] / 1000,
			.cpu_demand = 1, .last_move_age = -1, .source = VNUMAD_SRC_SIM };
		c->remote_ratio = g->mem_total ?
			1.0 - (double)g->mem[s] / (double)g->mem_total : 0;
		g->ips += c->ips;
		T.nodes[s].cpu_load += 1.0 / T.nodes[s].nr_cpus;
	}
	g->remote_ratio = nr ? g->vcpus[0].remote_ratio : -1;
	T.gp[gi] = g;
	return gi;
}

/* Fills bw_used the way the core's model does, from the vCPUs' traffic. */
static void charge(void)
{
	for (int n = 0; n < T.v.nr_nodes; n++)
		T.nodes[n].bw_used = 0;
	for (int gi = 0; gi < T.v.nr_guests; gi++) {
		const struct vnumad_guest *g = &T.g[gi];

		for (int i = 0; i < g->nr_vcpus; i++) {
			double a[VNUMAD_MAX_NODES];

			pol_access_mix(&T.v, g, &g->vcpus[i], a);
			for (int n = 0; n < T.v.nr_nodes; n++)
				T.nodes[n].bw_used += g->vcpus[i].access_rate * 64 * a[n];
		}
	}
}

/* Starts a policy with its declared defaults, then "key=value" overrides. */
static void *start(const struct vnumad_policy *p, uint64_t seed, ...)
{
	struct vnumad_value vals[32];
	struct vnumad_init_args args = { .size = sizeof(args), .values = vals,
					 .seed = seed };
	const char *why, *kv;
	void *priv = NULL;
	va_list ap;
	int n = 0;

	memset(vals, 0, sizeof(vals));
	for (const struct vnumad_option *o = p->options; o && o->name; o++, n++)
		assert_int_equal(config_option_value(o, o->def, &vals[n], &why), 0);
	va_start(ap, seed);
	while ((kv = va_arg(ap, const char *))) {
		const char *eq = strchr(kv, '=');
		int i = 0;

		assert_non_null(eq);
		for (; p->options[i].name; i++)
			if (strncmp(p->options[i].name, kv, eq - kv) == 0 &&
			    !p->options[i].name[eq - kv])
				break;
		assert_non_null(p->options[i].name);
		assert_int_equal(config_option_value(&p->options[i], eq + 1, &vals[i], &why), 0);
	}
	va_end(ap);
	if (p->init)
		assert_int_equal(p->init(&priv, &args), 0);
	return priv;
}

/* One tick on T; returns the number of proposals. */
static int tick(const struct vnumad_policy *p, void *priv)
{
	if (p != cur_pol || priv != cur_priv) {
		release_storage();
		cur_pol = p;
		cur_priv = priv;
	}
	T.v.guest_size = sizeof(struct vnumad_guest);
	for (int gi = 0; gi < T.v.nr_guests; gi++)
		if (p->guest_init && !T.g[gi].priv)
			assert_int_equal(p->guest_init(priv, &T.g[gi], &T.g[gi].priv), 0);
	T.out = (struct vnumad_out){ .buf = T.buf, .cap = 256, .len = 0 };
	assert_int_equal(p->tick(priv, &T.v, &T.out), 0);
	if (getenv("TP_DEBUG"))
		for (int i = 0; i < T.out.len; i++)
			fprintf(stderr, "  %d g%d v%d %d->%d %llu %.3f %s\n", T.buf[i].kind,
				T.buf[i].guest, T.buf[i].vcpu, T.buf[i].from, T.buf[i].to,
				(unsigned long long)T.buf[i].bytes, T.buf[i].gain, T.buf[i].reason);
	for (int i = 0; i < T.out.len; i++) {
		assert_true(T.buf[i].guest >= 0 && T.buf[i].guest < T.v.nr_guests);
		assert_true(T.buf[i].reason[0] != '\0');
	}
	return T.out.len;
}

static void stop(const struct vnumad_policy *p, void *priv)
{
	if (p == cur_pol && priv == cur_priv) {
		release_storage();
		cur_pol = NULL;
		cur_priv = NULL;
	}
	if (p->fini)
		p->fini(priv);
}

/* Count of proposals of a kind for a guest. */
static int count(enum vnumad_proposal_kind k, int gi)
{
	int n = 0;

	for (int i = 0; i < T.out.len; i++)
		n += T.buf[i].kind == k && T.buf[i].guest == gi;
	return n;
}

static const double MEM0[] = { 8, 0, 0, 0 }, MEM1[] = { 0, 8, 0, 0 };
static const int ON0[] = { 0 }, ON1[] = { 1 }, ON2[] = { 2 };

/* The demo host: two latency guests on node 1, their memory on node 0. */
static void demo(void)
{
	host(2);
	guest("web1", LATENCY, 4, NULL, ON1, 1, MEM0);
	guest("web2", LATENCY, 4, NULL, ON1, 1, MEM0);
	guest("db", LATENCY, 4, NULL, ON0, 1, (const double[]){ 16, 0 });
	guest("batch", CPU, 4, NULL, ON1, 1, MEM1);
	charge();
}

/* The demo host with node 1 full: numad's magnitude clearly favours node 0. */
static void demo_crowded(void)
{
	demo();
	guest("batch2", CPU, 4, NULL, ON1, 1, MEM1);
	charge();
}

/* Every built-in policy is a valid descriptor that starts and stops. */
static void builtins_valid(void **state)
{
	(void)state;
	for (int i = 0; vn_builtin_policies[i]; i++) {
		const struct vnumad_policy *p = vn_builtin_policies[i];
		struct vn_errors e = { 0 };
		void *priv;

		assert_int_equal(plugin_check(p, p->name, &e), 0);
		assert_int_equal(e.count, 0);
		assert_non_null(p->description);
		for (const struct vnumad_option *o = p->options; o && o->name; o++)
			assert_non_null(o->help);
		assert_ptr_equal(policy_builtin(p->name), p);
		assert_non_null(strstr(policy_builtin_names(), p->name));
		/* an empty host, then a host with guests */
		host(2);
		priv = start(p, 1, NULL);
		assert_int_equal(tick(p, priv), 0);
		stop(p, priv);
	}
	assert_null(policy_builtin("nosuch"));
	assert_non_null(policy_builtin("spread"));
	assert_non_null(policy_builtin("brm"));
	assert_non_null(policy_builtin("numad"));
	assert_non_null(policy_builtin("static"));
	assert_non_null(policy_builtin("none"));
	assert_non_null(policy_builtin("chaos"));
}

/* A full proposal buffer never makes a policy fail or overrun it. */
static void builtins_full_buffer(void **state)
{
	(void)state;
	for (int i = 0; vn_builtin_policies[i]; i++) {
		const struct vnumad_policy *p = vn_builtin_policies[i];
		void *priv;

		demo();
		priv = start(p, 1, NULL);
		T.out = (struct vnumad_out){ .buf = T.buf, .cap = 1, .len = 0 };
		assert_int_equal(p->tick(priv, &T.v, &T.out), 0);
		assert_true(T.out.len <= 1);
		T.out = (struct vnumad_out){ .buf = T.buf, .cap = 0, .len = 0 };
		assert_int_equal(p->tick(priv, &T.v, &T.out), 0);
		assert_int_equal(T.out.len, 0);
		stop(p, priv);
	}
}

static void none_proposes_nothing(void **state)
{
	(void)state;
	demo();
	assert_int_equal(tick(&vn_policy_none, NULL), 0);
	assert_null(vn_policy_none.init);
	assert_null(vn_policy_none.fini);
}

/*
 * A fully remote guest whose vCPUs cannot go home gets its memory moved in
 * batches; the gain of each proposal is the guest's once its memory is
 * home, not a batch's share of it (with 32 GiB and 1 GiB batches that was
 * 2%, under min_gain: the memory never moved).
 */
static void locality_memory_gain_is_the_plans(void **state)
{
	void *l;

	(void)state;
	host(2);
	guest("big", LATENCY, 4, NULL, ON1, 1, (const double[]){ 32, 0 });
	guest("full", CPU, 15, NULL, ON0, 1, (const double[]){ 4, 0 });	/* no room */
	charge();
	l = start(&vn_policy_locality, 1, NULL);
	assert_int_equal(tick(&vn_policy_locality, l), 1);
	assert_int_equal(T.buf[0].kind, VNUMAD_MOVE_MEMORY);
	assert_int_equal(T.buf[0].to, 1);
	assert_true(T.buf[0].bytes <= (uint64_t)GiB_B);
	assert_true(T.buf[0].gain >= 0.2);
	stop(&vn_policy_locality, l);
}

static const int BOTH[] = { 0, 1 };

/*
 * A guest spread evenly over two nodes, vCPUs and memory alike: every vCPU
 * is half remote wherever it goes, so no vCPU move gains. Its memory goes
 * where its vCPUs are gathered instead.
 */
static void locality_gathers_even_spread(void **state)
{
	void *l;

	(void)state;
	host(2);
	guest("even", LATENCY, 4, NULL, BOTH, 2, (const double[]){ 4, 4 });
	charge();
	l = start(&vn_policy_locality, 1, NULL);
	assert_true(tick(&vn_policy_locality, l) >= 1);
	/* all toward one node: the vCPUs elsewhere and the memory elsewhere */
	for (int i = 0; i < T.out.len; i++) {
		assert_int_equal(T.buf[i].to, T.buf[0].to);
		assert_true(T.buf[i].gain >= 0.05);
	}
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, 0), 1);
	stop(&vn_policy_locality, l);
}

/* An over-committed node with an idle one beside it: vCPUs go there. */
static void crowded(void)
{
	int gi;

	host(2);
	for (int k = 0; k < 2; k++) {
		gi = guest(k ? "crowd2" : "crowd", CPU, 12, NULL, ON0, 1,
			   (const double[]){ 8, 0 });
		for (int i = 0; i < 12; i++)
			T.vc[gi][i].cpu_demand = 16.0 / 24;
	}
	T.nodes[0].cpu_load = 1.0;
	charge();
}

/* The host as the /proc fallback reports it: no instruction or access counts. */
static void without_counters(void)
{
	for (int gi = 0; gi < T.v.nr_guests; gi++) {
		T.g[gi].ips = 0;
		for (int i = 0; i < T.g[gi].nr_vcpus; i++) {
			T.vc[gi][i].ips = 0;
			T.vc[gi][i].ipc = 0;
			T.vc[gi][i].access_rate = -1;
			T.vc[gi][i].source = VNUMAD_SRC_ESTIMATE;
		}
	}
}

static void locality_relieves_cpu(void **state)
{
	void *l;

	(void)state;
	crowded();
	l = start(&vn_policy_locality, 1, NULL);
	assert_true(tick(&vn_policy_locality, l) >= 1);
	for (int i = 0; i < T.out.len; i++) {
		assert_int_equal(T.buf[i].kind, VNUMAD_MOVE_VCPU);
		assert_int_equal(T.buf[i].to, 1);
		assert_true(T.buf[i].gain >= 0.05);
	}
	stop(&vn_policy_locality, l);
}

/*
 * An over-committed node 0 (20 vCPUs on 16 CPUs) holding "far", whose
 * memory is on node 2 with room for one of its vCPUs: that one goes home,
 * and relief must not propose it a second time, to an idle node (it
 * counted its CPU twice, and the arbiter dropped the copy).
 */
static void locality_relieves_each_vcpu_once(void **state)
{
	static const int on0[] = { 0 }, on2[] = { 2 };
	void *l;
	int far;

	(void)state;
	host(4);
	far = guest("far", LATENCY, 4, NULL, on0, 1, (const double[]){ 0, 0, 8, 0 });
	guest("crowd", CPU, 16, NULL, on0, 1, (const double[]){ 8, 0, 0, 0 });
	guest("busy", CPU, 13, NULL, on2, 1, (const double[]){ 0, 0, 8, 0 });
	/* a full node's vCPUs each get 16/20 of a CPU, and ask no more */
	for (int gi = 0; gi < 2; gi++)
		for (int i = 0; i < T.g[gi].nr_vcpus; i++)
			T.vc[gi][i].cpu_demand = 0.8;
	T.nodes[0].cpu_load = 1.0;
	charge();
	l = start(&vn_policy_locality, 1, NULL);
	tick(&vn_policy_locality, l);
	assert_true(count(VNUMAD_MOVE_VCPU, far) >= 2);
	for (int i = 0; i < T.out.len; i++)
		for (int k = i + 1; k < T.out.len; k++)
			assert_false(T.buf[i].kind == VNUMAD_MOVE_VCPU &&
				     T.buf[k].kind == VNUMAD_MOVE_VCPU &&
				     T.buf[i].guest == T.buf[k].guest &&
				     T.buf[i].vcpu == T.buf[k].vcpu);
	stop(&vn_policy_locality, l);
}

/*
 * The same host as the /proc fallback reports it (no instruction counts,
 * locality from memory): the guard then judges by locality alone, and
 * would revert every vCPU moved away from its memory for CPU (the VM's
 * phase setup saw -98% and a quarantine), so locality relieves nothing.
 */
static void locality_relieves_nothing_without_counters(void **state)
{
	void *l;

	(void)state;
	crowded();
	without_counters();
	l = start(&vn_policy_locality, 1, NULL);
	assert_int_equal(tick(&vn_policy_locality, l), 0);
	stop(&vn_policy_locality, l);
}

/*
 * A guest split evenly, one vCPU with its memory and one blocked for CPU
 * room on the other node: moving the memory to the blocked one only trades
 * one vCPU's remote accesses for the other's (the VM's phase setup: relief
 * moved one vCPU to the memory, then the memory went back to the other).
 */
static void locality_leaves_a_split_guest_s_memory(void **state)
{
	void *l;
	int gi;

	(void)state;
	host(2);
	gi = guest("split", LATENCY, 2, NULL, (const int[]){ 1, 0 }, 2, (const double[]){ 0, 4 });
	guest("busy", LATENCY, 15, NULL, (const int[]){ 1 }, 1, (const double[]){ 0, 8 });
	T.g[gi].remote_ratio = 0.5;	/* the guest's: one vCPU of two remote */
	charge();
	l = start(&vn_policy_locality, 1, NULL);
	tick(&vn_policy_locality, l);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, gi), 0);
	/*
	 * The remote vCPU asks a little more CPU than the local one (it waits
	 * on a crowded node, the VM comparison's phase setup): still one
	 * vCPU against one. It read 1.0 against 0.9 there, and all 320 MiB
	 * went to it, leaving the other remote.
	 */
	T.vc[gi][0].cpu_demand = 0.9;
	tick(&vn_policy_locality, l);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, gi), 0);
	stop(&vn_policy_locality, l);
}

/* Proposals of a kind for a guest all go to node `to`. */
static void all_to(enum vnumad_proposal_kind k, int gi, int to)
{
	for (int i = 0; i < T.out.len; i++)
		if (T.buf[i].kind == k && T.buf[i].guest == gi)
			assert_int_equal(T.buf[i].to, to);
}

/*
 * The VM's phase setup: a guest of two vCPUs on node 0 of two CPUs, its
 * memory moved to node 1; a bystander on node `by_node` uses `by_cpu`.
 */
static int phase_setup(int by_node, double by_cpu)
{
	int gi, by;
	double mem[2] = { 0, 0 };

	host(2);
	T.nodes[0].nr_cpus = T.nodes[1].nr_cpus = 2;
	gi = guest("phase", LATENCY, 2, NULL, ON0, 1, (const double[]){ 0, 0.3125 });
	mem[by_node] = 0.3125;
	by = guest("bystander", LATENCY, 1, NULL, by_node ? ON1 : ON0, 1, mem);
	T.vc[by][0].cpu_demand = by_cpu;
	T.nodes[by_node].cpu_load -= (1 - by_cpu) / 2;
	charge();
	return gi;
}

/*
 * With node 1 idle, both vCPUs go to the memory: the 10% headroom took one
 * there (0.2 CPU kept free of two), and the memory went to the other in
 * the same tick, pulling the guest apart (it ended one vCPU on each node,
 * its memory moved back to one: 640 MiB in the VM).
 */
static void locality_fills_an_idle_node(void **state)
{
	void *l;
	int gi = phase_setup(0, 0.01);

	(void)state;
	l = start(&vn_policy_locality, 1, NULL);
	tick(&vn_policy_locality, l);
	assert_int_equal(count(VNUMAD_MOVE_VCPU, gi), 2);
	all_to(VNUMAD_MOVE_VCPU, gi, 1);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, gi), 0);
	stop(&vn_policy_locality, l);
}

/*
 * With the bystander busy, one vCPU fits beside it and the other does not:
 * the one goes, and the memory stays with it; it is not also sent toward
 * the vCPU left behind, which would pull the guest apart.
 */
static void locality_keeps_a_guest_together(void **state)
{
	void *l;
	int gi = phase_setup(1, 0.5);

	(void)state;
	l = start(&vn_policy_locality, 1, NULL);
	tick(&vn_policy_locality, l);
	assert_int_equal(count(VNUMAD_MOVE_VCPU, gi), 1);
	all_to(VNUMAD_MOVE_VCPU, gi, 1);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, gi), 0);
	stop(&vn_policy_locality, l);
}

/*
 * Most of a guest's vCPUs fit at home (six of eight): they go, and its
 * memory stays there; it is not also sent toward the two left behind.
 */
static void locality_moves_the_majority_home(void **state)
{
	void *l;
	int gi;

	(void)state;
	host(2);
	gi = guest("wide", LATENCY, 8, NULL, ON0, 1, (const double[]){ 0, 8 });
	guest("busy", CPU, 8, NULL, ON1, 1, (const double[]){ 0, 8 });
	charge();
	l = start(&vn_policy_locality, 1, NULL);
	tick(&vn_policy_locality, l);
	assert_int_equal(count(VNUMAD_MOVE_VCPU, gi), 6);
	all_to(VNUMAD_MOVE_VCPU, gi, 1);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, gi), 0);
	stop(&vn_policy_locality, l);
}

static void brm_relieves_cpu(void **state)
{
	void *b;

	(void)state;
	crowded();
	b = start(&vn_policy_brm, 1, NULL);
	assert_int_equal(tick(&vn_policy_brm, b), 2);
	for (int i = 0; i < T.out.len; i++) {
		assert_int_equal(T.buf[i].to, 1);
		assert_true(T.buf[i].gain >= 0.05);
	}
	stop(&vn_policy_brm, b);
}

/* The 1.2 view members: age, id, migration rate (tick makes the storage). */
static uint64_t vnode_mem[MAXG][2 * VNUMAD_MAX_NODES];

static void abi12(const struct vnumad_policy *p, void *priv, double age)
{
	(void)p;
	(void)priv;
	T.v.migrate_rate = 256.0 * 1024 * 1024;
	for (int gi = 0; gi < T.v.nr_guests; gi++) {
		T.g[gi].id = 100 + gi;
		T.g[gi].age = age;
	}
}

/* place brings misplaced vCPUs home, the demo's answer, and only those. */
static void place_moves_home(void **state)
{
	void *p;

	(void)state;
	demo();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	/* each web guest made local: its vCPUs home, or it all where they run */
	tick(&vn_policy_place, p);
	for (int gi = 0; gi < 2; gi++)
		assert_true(count(VNUMAD_MOVE_VCPU, gi) == 4 ||
			    count(VNUMAD_MOVE_GUEST, gi) == 1);
	for (int i = 0; i < T.out.len; i++) {
		assert_true(T.buf[i].guest <= 1);	/* web1 or web2 */
		if (T.buf[i].kind == VNUMAD_MOVE_VCPU)
			assert_int_equal(T.buf[i].to, 0);
		else
			assert_int_equal(T.buf[i].nodes, 1ULL << 1);
		assert_true(T.buf[i].gain > 0.2 && T.buf[i].gain < 0.9);
	}
	stop(&vn_policy_place, p);
	/* a balanced host: nothing */
	host(2);
	guest("a", LATENCY, 4, NULL, ON0, 1, MEM0);
	guest("b", MIXED, 4, NULL, ON1, 1, MEM1);
	charge();
	p = start(&vn_policy_place, 1, NULL);
	assert_int_equal(tick(&vn_policy_place, p), 0);
	stop(&vn_policy_place, p);
}

/*
 * A guest whose user pinned its vCPUs (to node 1) and left its memory free
 * (on node 0): place brings the memory to them and proposes nothing else
 * of it; pinned whole, nothing at all.
 */
static void place_memory_to_pinned_vcpus(void **state)
{
	void *p;
	int gi;

	(void)state;
	for (int whole = 0; whole < 2; whole++) {
		host(2);
		gi = guest("pin", LATENCY, 2, NULL, ON1, 1, MEM0);
		T.g[gi].flags |= VNUMAD_GUEST_PINNED | (whole ? 0 : VNUMAD_GUEST_MEMORY_FREE);
		charge();
		p = start(&vn_policy_place, 1, NULL);
		abi12(&vn_policy_place, p, 3600);
		tick(&vn_policy_place, p);
		if (whole) {
			assert_int_equal(T.out.len, 0);
		} else {
			assert_true(T.out.len >= 1);
			for (int i = 0; i < T.out.len; i++) {
				assert_int_equal(T.buf[i].kind, VNUMAD_MOVE_MEMORY);
				assert_int_equal(T.buf[i].from, 0);
				assert_int_equal(T.buf[i].to, 1);
			}
		}
		stop(&vn_policy_place, p);
	}
}

/*
 * Two full nodes, memory and CPU, and guests a and b each running where
 * the other's memory is (place_swaps_on_full_nodes).
 */
static void full_nodes_crossed(int *a, int *b)
{
	host(2);
	*a = guest("a", LATENCY, 2, NULL, ON1, 1, (const double[]){ 8, 0 });
	*b = guest("b", LATENCY, 2, NULL, ON0, 1, (const double[]){ 0, 8 });
	guest("fill0", CPU, 14, NULL, ON0, 1, (const double[]){ 56, 0 });
	guest("fill1", CPU, 14, NULL, ON1, 1, (const double[]){ 0, 56 });
	T.nodes[0].mem_free = T.nodes[1].mem_free = 256ULL << 20;
}

/* Node 0 over-committed: 24 vCPUs asking a whole CPU each on 16 (two guests). */
static void crowded_node0(int *first, int *second)
{
	host(2);
	*first = guest("crowd", CPU, 12, NULL, ON0, 1, (const double[]){ 8, 0 });
	*second = guest("crowd2", CPU, 12, NULL, ON0, 1, (const double[]){ 8, 0 });
	for (int i = 0; i < 12; i++)
		T.vc[*first][i].cpu_demand = T.vc[*second][i].cpu_demand = 16.0 / 24;
	T.nodes[0].cpu_load = 1.0;
}

/*
 * A vNUMA guest whose vnodes sit each on the other's node, all its
 * accesses remote, the view's vnode_mem saying so (place_vnode_memory).
 */
static int crossed_vnodes(void)
{
	static const int vn[] = { 0, 0, 1, 1 }, on[] = { 0, 0, 1, 1 };
	int gi;

	host(2);
	gi = guest("swapped", LATENCY, 4, vn, on, 4, (const double[]){ 4, 4 });
	for (int i = 0; i < 4; i++)
		T.vc[gi][i].remote_ratio = 0.9;
	/* vnode 0's memory on node 1, vnode 1's on node 0 */
	vnode_mem[gi][0 * VNUMAD_MAX_NODES + 1] = 4ULL << 30;
	vnode_mem[gi][1 * VNUMAD_MAX_NODES + 0] = 4ULL << 30;
	T.g[gi].nr_vnodes = 2;
	T.g[gi].vnode_mem = vnode_mem[gi];
	return gi;
}

/*
 * What place never proposes for a guest pinned by its vCPUs alone, each
 * of which the arbiter would drop: a swap with it (full nodes, the guests
 * of place_swaps_on_full_nodes, b now memory-free: a cannot trade with it,
 * and b's memory has no room to move), a relief of the crowded node
 * its vCPUs are pinned to (place_relieves_cpu's, crowd2 memory-free), and
 * any move of a vNUMA one (place_vnode_memory's guest, pinned).
 */
static void place_memory_free_exclusions(void **state)
{
	int a, b, gi;
	void *p;

	(void)state;
	full_nodes_crossed(&a, &b);
	T.g[b].flags |= VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE;
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	tick(&vn_policy_place, p);
	for (int i = 0; i < T.out.len; i++)
		assert_int_not_equal(T.buf[i].guest, b);
	stop(&vn_policy_place, p);

	crowded_node0(&gi, &b);
	T.g[b].flags |= VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE;
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	/* crowd is relieved, crowd2 (its memory home already) not touched */
	assert_true(tick(&vn_policy_place, p) >= 1);
	for (int i = 0; i < T.out.len; i++)
		assert_int_equal(T.buf[i].guest, gi);
	stop(&vn_policy_place, p);

	gi = crossed_vnodes();
	T.g[gi].flags |= VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE;
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	assert_int_equal(tick(&vn_policy_place, p), 0);
	stop(&vn_policy_place, p);
}

/* The host's gain a place proposal's reason gives ("the guests gain +X%"). */
static double host_gain(const struct vnumad_proposal *q)
{
	const char *at = strstr(q->reason, "the guests gain ");

	assert_non_null(at);
	return strtod(at + strlen("the guests gain "), NULL) / 100;
}

/*
 * The demo host at every age of its guests, a second to a day: the older
 * web1 is, the more a migration of its memory pays, and at some age the
 * whole guest onto the node of its vCPUs becomes worth more than its vCPUs
 * to its memory, which migrates nothing. place takes the migration only
 * when it is worth MIGRATE_MARGIN (3%) more, never for less.
 */
static void place_prefers_no_migration(void **state)
{
	double vcpus = -1;
	int migrated = 0;

	(void)state;
	for (int k = 0; k <= 240; k++) {
		double age = exp(log(86400) * k / 240);
		void *p;

		demo();
		p = start(&vn_policy_place, 1, NULL);
		abi12(&vn_policy_place, p, age);
		tick(&vn_policy_place, p);
		for (int i = 0; i < T.out.len; i++) {
			if (T.buf[i].guest != 0)
				continue;
			if (T.buf[i].kind == VNUMAD_MOVE_VCPU) {
				vcpus = host_gain(&T.buf[i]);
			} else {
				/* the vCPU move, weighed while the guest was young */
				assert_true(vcpus > 0);
				if (host_gain(&T.buf[i]) < vcpus + 0.03 - 0.0011)
					fail_msg("at %.0f s, a migration worth %+.1f%% was "
						 "taken over a vCPU move worth %+.1f%%", age,
						 host_gain(&T.buf[i]) * 100, vcpus * 100);
				migrated++;
			}
			break;
		}
		stop(&vn_policy_place, p);
	}
	assert_true(vcpus > 0 && migrated > 0);
}

/*
 * The demo host as the /proc fallback reports it: locality from memory,
 * no instruction counts, no traffic. place still brings each web guest's
 * vCPUs home (it proposed nothing at all before, the test VMs showed).
 */
static void place_without_counters(void **state)
{
	void *p;

	(void)state;
	demo();
	without_counters();
	for (int n = 0; n < T.v.nr_nodes; n++)
		T.nodes[n].bw_used = 0;
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	tick(&vn_policy_place, p);
	for (int gi = 0; gi < 2; gi++)
		assert_true(count(VNUMAD_MOVE_VCPU, gi) == 4 ||
			    count(VNUMAD_MOVE_GUEST, gi) == 1);
	for (int i = 0; i < T.out.len; i++)
		assert_true(T.buf[i].guest <= 1);	/* web1 or web2 */
	stop(&vn_policy_place, p);
}

/*
 * A guest spread evenly over two nodes, vCPUs and memory alike, gains
 * nothing from any vCPU move: the memory is half remote from every node.
 * place gathers it onto one node, vCPUs and memory together.
 */
static void place_gathers_even_spread(void **state)
{
	static const int both[] = { 0, 1 };
	void *p;

	(void)state;
	host(2);
	guest("even", LATENCY, 4, NULL, both, 2, (const double[]){ 4, 4 });
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	assert_int_equal(tick(&vn_policy_place, p), 1);
	assert_int_equal(T.buf[0].kind, VNUMAD_MOVE_GUEST);
	assert_true(T.buf[0].nodes == 1 || T.buf[0].nodes == 2);
	assert_true(T.buf[0].gain >= 0.1);
	stop(&vn_policy_place, p);
}

/*
 * Migrating memory pays only if the guest lives long enough: a guest whose
 * 48 GiB sit remote and whose vCPUs cannot go to them keeps its memory
 * while young, and has it moved once it has shown it stays.
 */
static void place_weighs_life(void **state)
{
	void *p;

	(void)state;
	host(2);
	guest("big", LATENCY, 4, NULL, ON1, 1, (const double[]){ 48, 0 });
	guest("full", CPU, 14, NULL, ON0, 1, (const double[]){ 4, 0 });	/* no room */
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 20);		/* 20 s old */
	tick(&vn_policy_place, p);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, 0) + count(VNUMAD_MOVE_GUEST, 0), 0);
	abi12(&vn_policy_place, p, 3600);	/* an hour */
	assert_int_equal(tick(&vn_policy_place, p), 1);
	/* its memory to node 1, where its vCPUs are: whole, or a batch */
	if (T.buf[0].kind == VNUMAD_MOVE_GUEST) {
		assert_int_equal(T.buf[0].nodes, 1ULL << 1);
	} else {
		assert_int_equal(T.buf[0].kind, VNUMAD_MOVE_MEMORY);
		assert_int_equal(T.buf[0].from, 0);
		assert_int_equal(T.buf[0].to, 1);
		assert_true(T.buf[0].bytes <= 4 * (uint64_t)GiB_B);
	}
	/* the gain is the whole move's, not a batch's share of it */
	assert_true(T.buf[0].gain > 0.2);
	stop(&vn_policy_place, p);
}

/*
 * The migration budget the core has left this tick (the view's
 * migrate_budget), spent on the most value per byte first (Smith's rule):
 * two guests on node 1 whose memory is on node 0, whose CPUs a third
 * fills, one streaming 32 GiB, the more troubled, one latency-bound with
 * 4 GiB, the more value per byte, and room in the mover's queue for either
 * but not both. place brings the small one's memory first and proposes
 * nothing the core would drop; with no budget at all, a guest
 * spread evenly over both nodes is not gathered either: its vCPUs, which
 * go with the first batch, would run ahead of their memory.
 */
static void place_spends_the_migration_budget(void **state)
{
	static const int both[] = { 0, 1 };
	void *p;
	int big, small, full;

	(void)state;
	host(2);
	big = guest("big", BANDWIDTH, 4, NULL, ON1, 1, (const double[]){ 32, 0 });
	small = guest("small", LATENCY, 4, NULL, ON1, 1, (const double[]){ 4, 0 });
	full = guest("full", CPU, 16, NULL, ON0, 1, (const double[]){ 4, 0 });
	T.g[full].flags |= VNUMAD_GUEST_PINNED;	/* no swap with it */
	/* room for the big one's 32 GiB (it goes whole) or the small one's 4, not both */
	T.v.migrate_budget = 33ULL << 30;
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	assert_int_equal(tick(&vn_policy_place, p), 1);
	assert_int_equal(T.buf[0].guest, small);
	if (T.buf[0].kind == VNUMAD_MOVE_GUEST)
		assert_int_equal(T.buf[0].nodes, 1ULL << 1);
	else {
		assert_int_equal(T.buf[0].kind, VNUMAD_MOVE_MEMORY);
		assert_int_equal(T.buf[0].to, 1);
	}
	/* with room for both, both go */
	T.v.migrate_budget = 0;		/* unknown */
	stop(&vn_policy_place, p);
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	assert_int_equal(tick(&vn_policy_place, p), 2);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, big) + count(VNUMAD_MOVE_GUEST, big), 1);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, small) + count(VNUMAD_MOVE_GUEST, small), 1);
	stop(&vn_policy_place, p);

	host(2);
	guest("even", LATENCY, 4, NULL, both, 2, (const double[]){ 4, 4 });
	T.v.migrate_budget = 1;		/* the queue is full */
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	assert_int_equal(tick(&vn_policy_place, p), 0);
	stop(&vn_policy_place, p);
}

/*
 * Two full nodes, memory and CPU, and two guests each running where the
 * other's memory is: neither can go home alone and no memory can move.
 * place trades their vCPUs, one for one, and proposes nothing else.
 */
static void place_swaps_on_full_nodes(void **state)
{
	int a, b;
	void *p;

	(void)state;
	full_nodes_crossed(&a, &b);
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	assert_int_equal(tick(&vn_policy_place, p), 4);
	assert_int_equal(count(VNUMAD_MOVE_VCPU, a), 2);
	assert_int_equal(count(VNUMAD_MOVE_VCPU, b), 2);
	for (int i = 0; i < T.out.len; i++) {
		assert_int_equal(T.buf[i].kind, VNUMAD_MOVE_VCPU);
		assert_int_equal(T.buf[i].to, T.buf[i].guest == a ? 0 : 1);
		assert_true(T.buf[i].gain >= 0.05);
	}
	stop(&vn_policy_place, p);
}

/* An over-committed node: place moves vCPUs off it to where there is room. */
static void place_relieves_cpu(void **state)
{
	int gi, gj;
	void *p;

	(void)state;
	/* 24 vCPUs asking a whole CPU each on 16: each gets two thirds */
	crowded_node0(&gi, &gj);
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	/* vCPUs (or a whole guest) to node 1, nothing anywhere else */
	assert_true(tick(&vn_policy_place, p) >= 1);
	for (int i = 0; i < T.out.len; i++) {
		if (T.buf[i].kind == VNUMAD_MOVE_GUEST)
			assert_int_equal(T.buf[i].nodes, 1ULL << 1);
		else
			assert_int_equal(T.buf[i].to, 1);
		assert_true(T.buf[i].gain >= 0.1);
	}
	stop(&vn_policy_place, p);
}

/*
 * A guest whose 16 vCPUs fill node 1, its 24 GiB on node 0, whose CPUs
 * another guest fills: its vCPUs cannot go home, and node 1 has room for a
 * third of the memory. place brings what fits to where the vCPUs run: a
 * move that adds no CPU to the full node they are on (it was refused as
 * though it did; found on the generated host gen-1000024, where what fits
 * is too little of a 32 GiB guest to pay and no move is made still).
 */
static void place_takes_what_fits(void **state)
{
	void *p;

	(void)state;
	host(2);
	guest("big", LATENCY, 16, NULL, ON1, 1, (const double[]){ 24, 0 });
	guest("full", CPU, 16, NULL, ON0, 1, (const double[]){ 4, 0 });
	T.nodes[1].mem_free = 8ULL << 30;
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	assert_int_equal(tick(&vn_policy_place, p), 1);
	assert_int_equal(T.buf[0].guest, 0);
	assert_int_equal(T.buf[0].kind, VNUMAD_MOVE_MEMORY);
	assert_int_equal(T.buf[0].from, 0);
	assert_int_equal(T.buf[0].to, 1);
	/* what fits above memory_reserve, no more */
	assert_true(T.buf[0].bytes <= (8ULL << 30) - (512ULL << 20));
	assert_true(T.buf[0].bytes >= 4ULL << 30);
	assert_int_equal(count(VNUMAD_MOVE_VCPU, 0), 0);
	stop(&vn_policy_place, p);
}

/*
 * Two guests of 12 vCPUs, each running on the node that holds the other's
 * 48 GiB: neither can move its vCPUs home at once (12 more on 16 CPUs),
 * nor its memory (no room). place trades their vCPUs one for one (a swap),
 * or moves as many home as there is room for, so that the two trade
 * places over a few ticks; no node is left crowded either way.
 */
static void place_trades_places(void **state)
{
	void *p;

	(void)state;
	host(2);
	guest("db1", LATENCY, 12, NULL, ON1, 1, (const double[]){ 48, 0 });
	guest("db2", LATENCY, 12, NULL, ON0, 1, (const double[]){ 0, 48 });
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	assert_true(tick(&vn_policy_place, p) >= 2);
	for (int gi = 0; gi < 2; gi++) {
		int n = count(VNUMAD_MOVE_VCPU, gi);

		assert_true(n >= 1 && n <= 12);
	}
	for (int i = 0; i < T.out.len; i++) {
		assert_int_equal(T.buf[i].kind, VNUMAD_MOVE_VCPU);
		assert_int_equal(T.buf[i].to, T.buf[i].guest == 0 ? 0 : 1);
	}
	/* no node is crowded by them: 12 vCPUs and the newcomers fit 16 CPUs */
	assert_true(12 - count(VNUMAD_MOVE_VCPU, 1) + count(VNUMAD_MOVE_VCPU, 0) <= 16);
	assert_true(12 - count(VNUMAD_MOVE_VCPU, 0) + count(VNUMAD_MOVE_VCPU, 1) <= 16);
	stop(&vn_policy_place, p);
}

/*
 * A vNUMA guest whose vnodes sit each on the other's node, all its accesses
 * remote: the counters cannot tell which vnode's memory is where, the
 * view's vnode_mem can. place sends each vnode's vCPUs to its own memory.
 */
static void place_vnode_memory(void **state)
{
	static const int vn[] = { 0, 0, 1, 1 };
	void *p;

	(void)state;
	crossed_vnodes();
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	assert_int_equal(tick(&vn_policy_place, p), 2);	/* one vnode a tick */
	for (int i = 0; i < T.out.len; i++) {
		assert_int_equal(T.buf[i].kind, VNUMAD_MOVE_VCPU);
		assert_int_equal(T.buf[i].to, vn[T.buf[i].vcpu] == 0 ? 1 : 0);
	}
	stop(&vn_policy_place, p);
}

/* brm moves misplaced latency-bound vCPUs toward their memory, a few a tick. */
static void brm_moves_home(void **state)
{
	void *b;

	(void)state;
	demo();
	b = start(&vn_policy_brm, 7, NULL);
	assert_int_equal(tick(&vn_policy_brm, b), 2);	/* moves_per_tick */
	for (int i = 0; i < T.out.len; i++) {
		assert_int_equal(T.buf[i].kind, VNUMAD_MOVE_VCPU);
		assert_true(T.buf[i].guest <= 1);	/* web1 or web2 */
		assert_int_equal(T.buf[i].to, 0);
		assert_true(T.buf[i].gain > 0.2 && T.buf[i].gain < 0.8);
		assert_non_null(strstr(T.buf[i].reason, "brm"));
	}
	/* never the same vCPU twice */
	assert_false(T.buf[0].guest == T.buf[1].guest && T.buf[0].vcpu == T.buf[1].vcpu);
	stop(&vn_policy_brm, b);
}

/* brm leaves alone what it must: cpu-bound, pinned, held, full, quarantined. */
static void brm_must_not(void **state)
{
	void *b;
	int gi;

	(void)state;
	host(2);
	guest("cpu", CPU, 4, NULL, ON1, 1, MEM0);	/* remote, but cpu-bound */
	gi = guest("pinned", LATENCY, 2, NULL, ON1, 1, MEM0);
	T.g[gi].flags |= VNUMAD_GUEST_PINNED;
	gi = guest("held", LATENCY, 2, NULL, ON1, 1, MEM0);
	T.vc[gi][0].flags |= VNUMAD_VCPU_HOLD;
	T.vc[gi][1].flags |= VNUMAD_VCPU_HOLD;
	gi = guest("quarantined", LATENCY, 2, NULL, ON1, 1, MEM0);
	T.g[gi].quarantine = 1;
	charge();
	b = start(&vn_policy_brm, 1, "moves_per_tick=64", NULL);
	assert_int_equal(tick(&vn_policy_brm, b), 0);
	/* a node without CPU room takes nobody */
	host(2);
	guest("web", LATENCY, 2, NULL, ON1, 1, MEM0);
	guest("filler", CPU, 15, NULL, ON0, 1, (const double[]){ 4, 0 });
	charge();
	assert_int_equal(tick(&vn_policy_brm, b), 0);
	stop(&vn_policy_brm, b);
}

/* brm's draws follow its seed, and lean toward the node that helps most. */
static void brm_bias(void **state)
{
	int to[4] = { 0 };

	(void)state;
	for (uint64_t seed = 1; seed <= 300; seed++) {
		void *b, *c;
		int first;

		host(4);
		guest("far", LATENCY, 1, NULL, ON2, 1, MEM0);	/* two hops */
		charge();
		b = start(&vn_policy_brm, seed, "moves_per_tick=1", NULL);
		assert_int_equal(tick(&vn_policy_brm, b), 1);
		first = T.buf[0].to;
		to[first]++;
		c = start(&vn_policy_brm, seed, "moves_per_tick=1", NULL);
		tick(&vn_policy_brm, c);
		assert_int_equal(T.buf[0].to, first);	/* same seed, same draw */
		stop(&vn_policy_brm, b);
		stop(&vn_policy_brm, c);
	}
	assert_int_equal(to[2], 0);		/* where it is: no move */
	assert_true(to[0] > to[1] && to[0] > to[3]);	/* home most often */
	assert_true(to[1] > 0 && to[3] > 0);	/* but at random */
}

/* The bandwidth scenario: a streaming guest saturates node 0. */
static int stream_host(double bw_max)
{
	int gi;

	host(2);
	gi = guest("stream", BANDWIDTH, 12, NULL, ON0, 1, (const double[]){ 24, 0 });
	guest("victim", LATENCY, 2, NULL, ON0, 1, (const double[]){ 4, 0 });
	guest("batch", CPU, 4, NULL, ON1, 1, MEM1);
	T.nodes[0].bw_max = T.nodes[1].bw_max = bw_max;
	charge();
	return gi;
}

/* spread interleaves the guest that saturates a node's controllers. */
/* A guest whose memory has not been read yet has no home: nothing moves. */
static void locality_no_memory_no_home(void **state)
{
	static const double none[] = { 0, 0, 0, 0 };
	void *s;
	int gi;

	(void)state;
	host(2);
	gi = guest("fresh", LATENCY, 4, NULL, ON1, 1, none);
	for (int i = 0; i < 4; i++)
		T.vc[gi][i].remote_ratio = 0.9;	/* the PMU reads before numa_maps */
	s = start(&vn_policy_locality, 1, NULL);
	tick(&vn_policy_locality, s);
	assert_int_equal(count(VNUMAD_MOVE_VCPU, gi), 0);
	stop(&vn_policy_locality, s);
}

static void spread_interleaves(void **state)
{
	void *s;
	int gi;

	(void)state;
	gi = stream_host(BW);
	assert_true(T.nodes[0].bw_used / BW > 0.6);
	s = start(&vn_policy_spread, 1, NULL);
	assert_int_equal(tick(&vn_policy_spread, s), 1);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, gi), 1);
	assert_int_equal(T.buf[0].from, 0);
	assert_int_equal(T.buf[0].to, 1);
	assert_true(T.buf[0].bytes >= 6ULL << 30 && T.buf[0].bytes <= 12ULL << 30);
	assert_true(T.buf[0].gain >= 0.05);
	assert_non_null(strstr(T.buf[0].reason, "interleave"));
	stop(&vn_policy_spread, s);

	/* the same host where bandwidth is unknown: nothing to go by */
	stream_host(0);
	s = start(&vn_policy_spread, 1, NULL);
	assert_int_equal(tick(&vn_policy_spread, s), 0);
	stop(&vn_policy_spread, s);

	/* below the saturation threshold: nothing */
	stream_host(BW);
	s = start(&vn_policy_spread, 1, "saturation=95%", NULL);
	assert_int_equal(tick(&vn_policy_spread, s), 0);
	stop(&vn_policy_spread, s);
}

/* A remedy the core did not apply is tried again; an applied one cools down. */
static void spread_cooldown(void **state)
{
	void *s;
	int gi;

	(void)state;
	gi = stream_host(BW);
	s = start(&vn_policy_spread, 1, NULL);
	assert_int_equal(tick(&vn_policy_spread, s), 1);
	T.v.tick++;
	T.v.now += 2;
	assert_int_equal(tick(&vn_policy_spread, s), 1);	/* dropped: again */
	T.g[gi].flags |= VNUMAD_GUEST_MIGRATING;		/* now applied */
	T.v.tick++;
	T.v.now += 2;
	assert_int_equal(tick(&vn_policy_spread, s), 0);
	T.g[gi].flags &= ~VNUMAD_GUEST_MIGRATING;
	T.v.tick++;
	T.v.now += 60;	/* still saturated a minute later: in cooldown */
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, gi), 0);
	tick(&vn_policy_spread, s);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, gi), 0);
	T.v.tick++;
	T.v.now += 600;
	tick(&vn_policy_spread, s);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, gi), 1);
	stop(&vn_policy_spread, s);
}

static const int VN8[] = { 0, 0, 0, 0, 1, 1, 1, 1 };
static const int ON_SPLIT[] = { 0, 0, 0, 0, 1, 1, 1, 1 };

/* A vNUMA guest with vnode 0 on node 0 and vnode 1 on node 1, 90% local. */
static int vnuma_guest(void)
{
	int gi = guest("wide", LATENCY, 8, VN8, ON_SPLIT, 8, (const double[]){ 8, 8 });

	for (int i = 0; i < 8; i++)
		T.vc[gi][i].remote_ratio = 0.1;
	return gi;
}

/* spread brings a stray vCPU back to its own vnode, not the guest's majority. */
static void spread_vnode_home(void **state)
{
	void *s;
	int gi;

	(void)state;
	host(2);
	gi = vnuma_guest();
	charge();
	s = start(&vn_policy_spread, 1, NULL);
	assert_int_equal(tick(&vn_policy_spread, s), 0);	/* all at home */
	/* vCPU 5 (vnode 1) strays to node 0, where vnode 0's memory is */
	T.vc[gi][5].node = 0;
	T.vc[gi][5].allowed = 1;
	T.vc[gi][5].remote_ratio = 0.9;
	/* and node 0 holds a little more of the guest: the majority node */
	T.g[gi].mem[0] += 1ULL << 30;
	T.g[gi].mem_total += 1ULL << 30;
	charge();
	assert_int_equal(tick(&vn_policy_spread, s), 1);
	assert_int_equal(T.buf[0].kind, VNUMAD_MOVE_VCPU);
	assert_int_equal(T.buf[0].vcpu, 5);
	assert_int_equal(T.buf[0].to, 1);
	stop(&vn_policy_spread, s);

	/* locality too (fixed: it used the guest's majority node) */
	s = start(&vn_policy_locality, 1, NULL);
	tick(&vn_policy_locality, s);
	for (int i = 0; i < T.out.len; i++)
		assert_false(T.buf[i].kind == VNUMAD_MOVE_VCPU && T.buf[i].to == 0);
	assert_int_equal(count(VNUMAD_MOVE_VCPU, gi), 1);
	stop(&vn_policy_locality, s);
}

/* Checks that the proposals move one vnode of vn16 to node `to`, whole. */
static int one_vnode(const int *vn16, int to)
{
	int vcpus = 0, vnode = -1;

	for (int i = 0; i < T.out.len; i++) {
		const struct vnumad_proposal *p = &T.buf[i];

		assert_int_equal(p->to, to);
		if (p->kind != VNUMAD_MOVE_VCPU)
			continue;
		if (vnode < 0)
			vnode = vn16[p->vcpu];
		assert_int_equal(vn16[p->vcpu], vnode);	/* one group only */
		vcpus++;
	}
	return vcpus;
}

/*
 * A saturating vNUMA guest moves one vnode: its vCPUs together, and its
 * memory with them when that memory is alone on its node (a migration takes
 * pages of every vnode on its source node).
 */
static void spread_vnode_group(void **state)
{
	static const int vn16[] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 };
	static const int on01[] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 };
	int gi, hog, to;
	void *s;

	(void)state;
	/*
	 * Both vnodes on node 0: a vnode's memory cannot move alone, and its
	 * vCPUs alone would only go remote; its memory is interleaved, as for
	 * a guest without vNUMA.
	 */
	host(2);
	gi = guest("wide", BANDWIDTH, 16, vn16, ON0, 1, (const double[]){ 32, 0 });
	charge();
	assert_true(T.nodes[0].bw_used / BW > 0.9);
	s = start(&vn_policy_spread, 1, NULL);
	assert_int_equal(tick(&vn_policy_spread, s), 1);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, gi), 1);
	assert_non_null(strstr(T.buf[0].reason, "interleave"));
	stop(&vn_policy_spread, s);

	/* vnode 0 alone on node 0, which a pinned hog saturates too */
	host(4);
	gi = guest("wide", BANDWIDTH, 16, vn16, on01, 16, (const double[]){ 12, 12, 0, 0 });
	for (int i = 0; i < 16; i++)
		T.vc[gi][i].remote_ratio = 0.1;
	hog = guest("hog", BANDWIDTH, 6, NULL, ON0, 1, (const double[]){ 8, 0, 0, 0 });
	T.g[hog].flags |= VNUMAD_GUEST_PINNED;
	charge();
	assert_true(T.nodes[0].bw_used / BW > 0.6);
	s = start(&vn_policy_spread, 1, NULL);
	tick(&vn_policy_spread, s);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, gi), 1);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, hog), 0);
	to = T.buf[0].to;
	assert_true(to == 2 || to == 3);	/* an idle node */
	for (int i = 0; i < T.out.len; i++)
		if (T.buf[i].kind == VNUMAD_MOVE_MEMORY) {
			assert_int_equal(T.buf[i].from, 0);
			assert_int_equal(T.buf[i].bytes, 12ULL << 30);
		}
	assert_int_equal(one_vnode(vn16, to), 8);
	stop(&vn_policy_spread, s);
}

/* A guest scattered over four nodes is gathered onto one, vCPUs and memory. */
static void spread_gathers(void **state)
{
	static const int on4[] = { 0, 1, 2, 3 };
	void *s;
	int gi;

	(void)state;
	host(4);
	gi = guest("spread", MIXED, 8, NULL, on4, 4, (const double[]){ 4, 4, 4, 4 });
	charge();
	s = start(&vn_policy_spread, 1, "migration_cost=0.5%", NULL);
	assert_int_equal(tick(&vn_policy_spread, s), 1);
	assert_int_equal(T.buf[0].kind, VNUMAD_MOVE_GUEST);
	assert_int_equal(__builtin_popcountll(T.buf[0].nodes), 1);
	assert_true(T.buf[0].gain >= 0.05);
	stop(&vn_policy_spread, s);

	/* 12 GiB to move for its gain: not at a high price per GiB */
	s = start(&vn_policy_spread, 1, "migration_cost=10", NULL);
	assert_int_equal(tick(&vn_policy_spread, s), 0);
	stop(&vn_policy_spread, s);

	/* not with gathering off, nor when no node has memory room for it */
	s = start(&vn_policy_spread, 1, "gather=no", "migration_cost=0.5%", NULL);
	assert_int_equal(tick(&vn_policy_spread, s), 0);
	stop(&vn_policy_spread, s);
	for (int n = 0; n < 4; n++)
		T.nodes[n].mem_free = 2ULL << 30;
	s = start(&vn_policy_spread, 1, "migration_cost=0.5%", NULL);
	assert_int_equal(tick(&vn_policy_spread, s), 0);
	stop(&vn_policy_spread, s);
	(void)gi;
}

/* A host with nothing to fix gets no proposal from any useful policy. */
static void balanced_left_alone(void **state)
{
	static const struct vnumad_policy *const useful[] = {
		&vn_policy_place, &vn_policy_locality, &vn_policy_spread, &vn_policy_brm,
		&vn_policy_numad, &vn_policy_static, &vn_policy_none,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(useful) / sizeof(useful[0]); i++) {
		const struct vnumad_policy *p = useful[i];
		void *priv;

		host(2);
		guest("db", LATENCY, 4, NULL, ON0, 1, (const double[]){ 16, 0 });
		guest("web", MIXED, 4, NULL, ON0, 1, MEM0);
		guest("build", CPU, 4, NULL, ON1, 1, MEM1);
		guest("cache", MIXED, 4, NULL, ON1, 1, (const double[]){ 0, 16 });
		/* numad and static know nothing of vNUMA: they would fold it */
		if (p != &vn_policy_numad && p != &vn_policy_static)
			vnuma_guest();
		charge();
		priv = start(p, 1, NULL);
		for (int t = 0; t < 5; t++) {
			if (tick(p, priv))
				fail_msg("%s proposed: %s", p->name, T.buf[0].reason);
			T.v.tick++;
			T.v.now += 20;
		}
		stop(p, priv);
	}
}

/* A guest the scheduler spread over both nodes, with its memory. */
static int unbound(const char *name, int nr, double gib)
{
	static const int on[] = { 0, 1 };
	int gi = guest(name, MIXED, nr, NULL, on, 2, (const double[]){ gib / 2, gib / 2 });

	for (int i = 0; i < nr; i++)
		T.vc[gi][i].allowed = 3;
	return gi;
}

/*
 * Nodes of one CPU: a busy vCPU whose memory is on an idle node goes there
 * despite the 10% headroom (which no busy vCPU fits on one CPU); a node
 * whose CPU is taken gets the memory moved the other way instead.
 */
static void locality_idle_small_node(void **state)
{
	void *l;
	int far, crowded;

	(void)state;
	host(4);
	for (int n = 0; n < 4; n++)
		T.nodes[n].nr_cpus = 1;
	guest("resident", LATENCY, 1, NULL, ON2, 1, (const double[]){ 0, 0, 0.3, 0 });
	far = guest("far", LATENCY, 1, NULL, ON0, 1, (const double[]){ 0, 0, 0, 0.3 });
	crowded = guest("crowded", LATENCY, 1, NULL, ON1, 1, (const double[]){ 0, 0, 0.3, 0 });
	l = start(&vn_policy_locality, 1, NULL);
	tick(&vn_policy_locality, l);
	assert_int_equal(count(VNUMAD_MOVE_VCPU, far), 1);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, far), 0);
	for (int i = 0; i < T.out.len; i++)
		if (T.buf[i].guest == far)
			assert_int_equal(T.buf[i].to, 3);
	assert_int_equal(count(VNUMAD_MOVE_VCPU, crowded), 0);
	assert_int_equal(count(VNUMAD_MOVE_MEMORY, crowded), 1);
	stop(&vn_policy_locality, l);
}

/* numad binds a spread guest to one node, one guest per cycle, then waits. */
static void numad_cycles(void **state)
{
	void *n;
	int small, big;

	(void)state;
	host(2);
	small = unbound("small", 2, 4);
	big = unbound("big", 4, 16);
	guest("tiny", MIXED, 1, NULL, ON1, 1, (const double[]){ 0, 0.1 });
	charge();
	T.vc[2][0].cpu_demand = 0.1;	/* 0.1 CPU x 100 MiB: not worth it */
	n = start(&vn_policy_numad, 1, NULL);
	assert_int_equal(tick(&vn_policy_numad, n), 1);
	assert_int_equal(T.buf[0].kind, VNUMAD_MOVE_GUEST);
	assert_int_equal(T.buf[0].guest, big);	/* largest CPU x memory first */
	assert_int_equal(__builtin_popcountll(T.buf[0].nodes), 1);
	assert_non_null(strstr(T.buf[0].reason, "numad"));
	/* no new cycle before min_interval */
	T.v.tick++;
	T.v.now += 2;
	assert_int_equal(tick(&vn_policy_numad, n), 0);
	/* the core applied it: big is bound; the next cycle takes small */
	for (int i = 0; i < 4; i++)
		T.vc[big][i].allowed = T.buf[0].nodes;
	T.v.tick++;
	T.v.now += 4;
	assert_int_equal(tick(&vn_policy_numad, n), 1);
	assert_int_equal(T.buf[0].guest, small);
	/* small's move is not applied; big, though moved, waits out hysteresis */
	for (int t = 0; t < 10; t++) {
		T.v.tick++;
		T.v.now += 15;
		for (int i = 0; i < 4; i++)
			T.vc[big][i].allowed = 3;	/* misplaced again */
		tick(&vn_policy_numad, n);
		assert_int_equal(count(VNUMAD_MOVE_GUEST, big), 0);
	}
	T.v.tick++;
	T.v.now += 300;
	tick(&vn_policy_numad, n);
	assert_int_equal(count(VNUMAD_MOVE_GUEST, big), 1);
	stop(&vn_policy_numad, n);
}

/* numad places the demo's misplaced guests on the node with more room. */
static void numad_uses_magnitude(void **state)
{
	void *n;

	(void)state;
	demo_crowded();
	n = start(&vn_policy_numad, 1, NULL);
	assert_int_equal(tick(&vn_policy_numad, n), 1);
	assert_true(T.buf[0].guest == 0 || T.buf[0].guest == 1);
	assert_int_equal(T.buf[0].nodes, 1);	/* node 0: free CPUs and memory */
	assert_true(T.buf[0].gain > 0.05);
	stop(&vn_policy_numad, n);
}

/* static places each guest once when it first appears, never again. */
static void static_once(void **state)
{
	uint64_t to = 0;
	void *s;

	(void)state;
	demo_crowded();
	s = start(&vn_policy_static, 1, NULL);
	tick(&vn_policy_static, s);
	assert_int_equal(count(VNUMAD_MOVE_GUEST, 0), 1);	/* web1 */
	assert_int_equal(count(VNUMAD_MOVE_GUEST, 1), 1);	/* web2 */
	assert_int_equal(count(VNUMAD_MOVE_GUEST, 2), 0);	/* db: in place */
	for (int i = 0; i < T.out.len; i++)
		if (T.buf[i].guest == 0)
			to = T.buf[i].nodes;
	assert_int_equal(to, 1);
	/* not applied yet (a new guest has no history): proposed again */
	T.v.tick++;
	T.v.now += 2;
	tick(&vn_policy_static, s);
	assert_int_equal(count(VNUMAD_MOVE_GUEST, 0), 1);
	/* applied to web1; the others given up after `retry` */
	for (int i = 0; i < 4; i++)
		T.vc[0][i].allowed = to;
	T.v.tick++;
	T.v.now += 200;
	assert_int_equal(tick(&vn_policy_static, s), 0);
	/* web1 misplaced later: static does not care any more */
	for (int i = 0; i < 4; i++)
		T.vc[0][i].allowed = 2;
	T.v.tick++;
	T.v.now += 2;
	assert_int_equal(tick(&vn_policy_static, s), 0);
	/* a guest arriving later is placed when it appears */
	guest("late", LATENCY, 2, NULL, ON1, 1, MEM0);
	charge();
	T.v.tick++;
	T.v.now += 2;
	assert_int_equal(tick(&vn_policy_static, s), 1);
	assert_int_equal(T.buf[0].guest, T.v.nr_guests - 1);
	stop(&vn_policy_static, s);
}

/* chaos moves local vCPUs away from their memory at the rate asked. */
static void chaos_rate(void **state)
{
	int moves = 0, seq[100], n;
	void *c;

	(void)state;
	host(2);
	guest("db", LATENCY, 4, NULL, ON0, 1, (const double[]){ 16, 0 });
	guest("web", LATENCY, 4, NULL, ON1, 1, MEM0);	/* remote: never chosen */
	/* at home (the larger share of its memory), but half remote: neither */
	guest("half", LATENCY, 2, NULL, ON0, 1, (const double[]){ 4.5, 3.5 });
	charge();
	c = start(&vn_policy_chaos, 42, "rate=100%", NULL);
	for (int t = 0; t < 20; t++) {
		assert_int_equal(tick(&vn_policy_chaos, c), 1);
		assert_int_equal(T.buf[0].kind, VNUMAD_MOVE_VCPU);
		assert_int_equal(T.buf[0].guest, 0);
		assert_int_equal(T.buf[0].to, 1);
		assert_non_null(strstr(T.buf[0].reason, "deliberately harmful"));
		assert_true(T.buf[0].gain >= 0.05);	/* passes min_gain */
	}
	stop(&vn_policy_chaos, c);
	c = start(&vn_policy_chaos, 42, "rate=0", NULL);
	for (int t = 0; t < 100; t++)
		assert_int_equal(tick(&vn_policy_chaos, c), 0);
	stop(&vn_policy_chaos, c);
	c = start(&vn_policy_chaos, 42, "rate=25%", NULL);
	for (int t = 0; t < 100; t++) {
		n = tick(&vn_policy_chaos, c);
		seq[t] = n ? T.buf[0].vcpu : -1;
		moves += n;
	}
	stop(&vn_policy_chaos, c);
	assert_true(moves >= 12 && moves <= 40);
	/* the same seed draws the same moves */
	c = start(&vn_policy_chaos, 42, "rate=25%", NULL);
	for (int t = 0; t < 100; t++) {
		n = tick(&vn_policy_chaos, c);
		assert_int_equal(n ? T.buf[0].vcpu : -1, seq[t]);
	}
	stop(&vn_policy_chaos, c);
}

/* pol_vnode_homes: from the counters, else from unclaimed memory. */
static void vnode_homes(void **state)
{
	int homes[VNUMAD_MAX_NODES], gi;

	(void)state;
	host(2);
	gi = vnuma_guest();
	assert_int_equal(pol_vnode_homes(&T.v, &T.g[gi], homes, VNUMAD_MAX_NODES), 2);
	assert_int_equal(homes[0], 0);
	assert_int_equal(homes[1], 1);
	/* every vCPU of vnode 1 strayed to node 0: its memory is still on 1 */
	for (int i = 4; i < 8; i++) {
		T.vc[gi][i].node = 0;
		T.vc[gi][i].remote_ratio = 0.9;
	}
	assert_int_equal(pol_vnode_homes(&T.v, &T.g[gi], homes, VNUMAD_MAX_NODES), 2);
	assert_int_equal(homes[0], 0);
	assert_int_equal(homes[1], 1);
	/* no vNUMA */
	gi = guest("flat", MIXED, 2, NULL, ON0, 1, MEM0);
	assert_int_equal(pol_vnode_homes(&T.v, &T.g[gi], homes, VNUMAD_MAX_NODES), 0);
}



/* Puts guest gi's vCPUs on node `on` and all its memory on node `mem`. */
static void set_place(int gi, int on, int mem)
{
	struct vnumad_guest *g = &T.g[gi];

	for (int n = 0; n < T.v.nr_nodes; n++) {
		T.nodes[n].mem_free += g->mem[n];
		g->mem[n] = 0;
	}
	g->mem[mem] = g->mem_total;
	T.nodes[mem].mem_free -= g->mem_total;
	for (int i = 0; i < g->nr_vcpus; i++) {
		T.nodes[g->vcpus[i].node].cpu_load -= 1.0 / T.nodes[0].nr_cpus;
		T.vc[gi][i].node = on;
		T.vc[gi][i].allowed = 1ULL << on;
		T.vc[gi][i].remote_ratio = on == mem ? 0 : 1;
		T.nodes[on].cpu_load += 1.0 / T.nodes[0].nr_cpus;
	}
	g->remote_ratio = on == mem ? 0 : 1;
	charge();
}

/*
 * place holds a guest it moved for `hold`, so that it does not re-decide
 * on figures that have barely changed: a move the guard undid is not
 * proposed again at once. But when the guest moves its memory itself (a
 * new working set first touched on another node, the VM comparison's
 * phase change), the placement it was held in is gone: its vCPUs follow
 * the memory within the hold. The hold kept them away for a minute before.
 */
static void place_hold_ends_at_a_phase_change(void **state)
{
	void *p;

	(void)state;
	for (int phase = 0; phase < 2; phase++) {
		host(2);
		guest("g", LATENCY, 4, NULL, ON1, 1, MEM0);
		charge();
		p = start(&vn_policy_place, 1, NULL);
		abi12(&vn_policy_place, p, 20);	/* young: its vCPUs go, not its memory */
		assert_int_equal(tick(&vn_policy_place, p), 4);
		for (int i = 0; i < 4; i++) {
			assert_int_equal(T.buf[i].kind, VNUMAD_MOVE_VCPU);
			assert_int_equal(T.buf[i].to, 0);
		}
		/* applied: the guest in its trial for a tick */
		set_place(0, 0, 0);
		T.g[0].flags |= VNUMAD_GUEST_IN_TRIAL;
		T.v.now += 2;
		assert_int_equal(tick(&vn_policy_place, p), 0);
		T.g[0].flags &= ~VNUMAD_GUEST_IN_TRIAL;
		T.v.now += 2;
		if (!phase) {
			/* undone by the guard: held, not proposed again */
			set_place(0, 1, 0);
			assert_int_equal(tick(&vn_policy_place, p), 0);
		} else {
			/* its working set now on node 1: the vCPUs follow it */
			set_place(0, 0, 1);
			assert_int_equal(tick(&vn_policy_place, p), 4);
			for (int i = 0; i < 4; i++) {
				assert_int_equal(T.buf[i].kind, VNUMAD_MOVE_VCPU);
				assert_int_equal(T.buf[i].to, 1);
			}
		}
		stop(&vn_policy_place, p);
	}
}

/*
 * The four-node VM: one CPU per node. "resident" is local on node 2;
 * "far" runs on node 0 with its memory on idle node 3; "crowded" runs on
 * node 1 with its memory on node 2, and node 1 has no memory to spare, so
 * crowded must move whole. far's vCPU goes to node 3 for free, and
 * crowded whole to node 0, which far leaves: one migration. Weighed first
 * (a tie, in the view's order), crowded took idle node 3 whole, and far's
 * memory was then migrated to node 0: two, as the VM once did. Moves that
 * migrate nothing are now chosen first.
 */
static void place_free_moves_first(void **state)
{
	static const int ON3[] = { 3 };
	const double at2[] = { 0, 0, 0.3125, 0 }, at3[] = { 0, 0, 0, 0.3125 };
	void *p;
	int bytes_moves = 0;

	(void)state;
	host(4);
	for (int n = 0; n < 4; n++) {
		T.nodes[n].nr_cpus = 1;
		T.nodes[n].mem_total = T.nodes[n].mem_free = 1ULL << 30;
		T.nodes[n].bw_max = 0;
		/* the VM's SLIT: 16 within the pairs 0-1 and 2-3, 22 across */
		for (int m = 0; m < 4; m++)
			T.dist[n * 4 + m] = n == m ? 10 : n / 2 == m / 2 ? 16 : 22;
	}
	guest("resident", BANDWIDTH, 1, NULL, ON2, 1, at2);
	/* crowded first: ties are weighed in the view's order */
	guest("crowded", BANDWIDTH, 1, NULL, ON1, 1, at2);
	guest("far", BANDWIDTH, 1, NULL, ON0, 1, at3);
	(void)ON3;
	for (int n = 0; n < 4; n++)
		T.nodes[n].cpu_load = n == 3 ? 0 : 1;
	/* node 1 has no memory to spare: crowded must move whole */
	T.nodes[1].mem_free = 64ULL << 20;
	without_counters();
	charge();
	p = start(&vn_policy_place, 1, NULL);
	abi12(&vn_policy_place, p, 3600);
	tick(&vn_policy_place, p);
	/* far's vCPU to node 3 */
	assert_int_equal(count(VNUMAD_MOVE_VCPU, 2), 1);
	for (int i = 0; i < T.out.len; i++) {
		if (T.buf[i].guest == 2)
			assert_int_equal(T.buf[i].to, 3);
		assert_int_not_equal(T.buf[i].guest, 0);
		bytes_moves += T.buf[i].kind != VNUMAD_MOVE_VCPU;
	}
	/* and crowded moved by one migration at most, not onto node 3 */
	assert_true(bytes_moves <= 1);
	for (int i = 0; i < T.out.len; i++)
		if (T.buf[i].guest == 1 && T.buf[i].kind == VNUMAD_MOVE_GUEST)
			assert_int_equal(T.buf[i].nodes & (1ULL << 3), 0);
	stop(&vn_policy_place, p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(builtins_valid),
		cmocka_unit_test(builtins_full_buffer),
		cmocka_unit_test(none_proposes_nothing),
		cmocka_unit_test(brm_moves_home),
		cmocka_unit_test(brm_must_not),
		cmocka_unit_test(brm_bias),
		cmocka_unit_test(locality_no_memory_no_home),
		cmocka_unit_test(spread_interleaves),
		cmocka_unit_test(spread_cooldown),
		cmocka_unit_test(spread_vnode_home),
		cmocka_unit_test(spread_vnode_group),
		cmocka_unit_test(spread_gathers),
		cmocka_unit_test(balanced_left_alone),
		cmocka_unit_test(locality_idle_small_node),
		cmocka_unit_test(numad_cycles),
		cmocka_unit_test(numad_uses_magnitude),
		cmocka_unit_test(locality_memory_gain_is_the_plans),
		cmocka_unit_test(locality_gathers_even_spread),
		cmocka_unit_test(locality_relieves_cpu),
		cmocka_unit_test(locality_relieves_nothing_without_counters),
		cmocka_unit_test(locality_relieves_each_vcpu_once),
		cmocka_unit_test(locality_leaves_a_split_guest_s_memory),
		cmocka_unit_test(locality_fills_an_idle_node),
		cmocka_unit_test(locality_keeps_a_guest_together),
		cmocka_unit_test(locality_moves_the_majority_home),
		cmocka_unit_test(brm_relieves_cpu),
		cmocka_unit_test(place_moves_home),
		cmocka_unit_test(place_memory_to_pinned_vcpus),
		cmocka_unit_test(place_memory_free_exclusions),
		cmocka_unit_test(place_prefers_no_migration),
		cmocka_unit_test(place_without_counters),
		cmocka_unit_test(place_gathers_even_spread),
		cmocka_unit_test(place_weighs_life),
		cmocka_unit_test(place_spends_the_migration_budget),
		cmocka_unit_test(place_swaps_on_full_nodes),
		cmocka_unit_test(place_relieves_cpu),
		cmocka_unit_test(place_takes_what_fits),
		cmocka_unit_test(place_trades_places),
		cmocka_unit_test(place_hold_ends_at_a_phase_change),
		cmocka_unit_test(place_free_moves_first),
		cmocka_unit_test(place_vnode_memory),
		cmocka_unit_test(static_once),
		cmocka_unit_test(chaos_rate),
		cmocka_unit_test(vnode_homes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
