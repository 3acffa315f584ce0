// SPDX-License-Identifier: MIT
/*
 * chaos: deliberately harmful moves at a known rate, to measure the guard.
 *
 * On a share `rate` of its ticks (drawn from a random stream seeded by the
 * init args' seed, so a run can be repeated), the policy picks one vCPU at
 * random among those running local -- on the node that holds most of their
 * guest's memory, with a remote ratio at most `local_threshold` -- and
 * proposes moving it to another node picked at random, away from its memory,
 * among those where its guest would lose at least `min_harm`. Every such
 * proposal says in its reason that it is deliberate and what it should cost.
 * A correct rollback guard reverts each of them and quarantines the target,
 * since min_harm (5%) is above the guard's default tolerance (3%); counting
 * the reverts against the moves applied (and comparing the harm with the
 * guard off) gives its accuracy.
 *
 * Expected harm, as locality and brm estimate gains: the vCPU's time per
 * instruction (pol_vcpu_time, stall share from its DRAM accesses per
 * kilo-instruction, SLIT-derived latency) at the target over at home,
 * weighed by the vCPU's part of its guest's instructions.
 * The expected gain is a lie on purpose: the policy claims `claimed_gain`
 * so that the core's min_gain does not drop the moves before the guard sees
 * them. Never run it on a host whose guests matter; it refuses nothing
 * itself, but the core's rules (pinning, opt-out, capacity, quarantine,
 * hysteresis) still apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies.h"

enum {
	OPT_RATE,
	OPT_CLAIMED_GAIN,
	OPT_LOCAL_THRESHOLD,
	OPT_MIN_HARM,
	NR_OPTS
};

static const struct vnumad_option chaos_options[] = {
	[OPT_RATE] = { "rate", VNUMAD_OPT_PERCENT, "10%", 0, 1,
		"share of ticks on which one local vCPU is moved away from its memory" },
	[OPT_CLAIMED_GAIN] = { "claimed_gain", VNUMAD_OPT_PERCENT, "20%", 0, 10,
		"expected gain claimed for each harmful move, so that min_gain lets it through" },
	[OPT_LOCAL_THRESHOLD] = { "local_threshold", VNUMAD_OPT_PERCENT, "20%", 0, 1,
		"a vCPU counts as local when at most this share of its accesses is remote" },
	[OPT_MIN_HARM] = { "min_harm", VNUMAD_OPT_PERCENT, "5%", 0, 10,
		"smallest expected slowdown of the guest: above the guard's tolerance, "
		"every move should be reverted" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

struct chaos {
	double rate, gain, local, min_harm;
	uint64_t rng;
	uint64_t moves;		/* harmful moves proposed so far */
	void (*log)(int level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
};

static int chaos_init(void **priv, const struct vnumad_init_args *args)
{
	struct chaos *c = calloc(1, sizeof(*c));

	if (!c)
		return -POL_ENOMEM;
	c->rate = args->values[OPT_RATE].num;
	c->gain = args->values[OPT_CLAIMED_GAIN].num;
	c->local = args->values[OPT_LOCAL_THRESHOLD].num;
	c->min_harm = args->values[OPT_MIN_HARM].num;
	c->rng = args->seed;
	c->log = args->log;
	if (c->log)
		c->log(VNUMAD_LOG_WARNING,
		       "chaos: proposing deliberately harmful moves on %.0f%% of ticks "
		       "(seed %llu); for testing the guard only", c->rate * 100,
		       (unsigned long long)args->seed);
	*priv = c;
	return 0;
}

static void chaos_fini(void *priv)
{
	free(priv);
}

/* True for a vCPU chaos may move: managed, local, busy enough, not held. */
static bool victim_ok(const struct chaos *c, const struct vnumad_view *v,
		      const struct vnumad_guest *g, const struct vnumad_vcpu *cpu,
		      int home)
{
	return pol_guest_managed(g) && !(g->flags & VNUMAD_GUEST_IN_TRIAL) &&
	       !(cpu->flags & (VNUMAD_VCPU_HOLD | VNUMAD_VCPU_IN_TRIAL)) &&
	       cpu->node == home && cpu->node >= 0 && cpu->node < v->nr_nodes &&
	       cpu->remote_ratio >= 0 && cpu->remote_ratio <= c->local &&
	       cpu->access_rate != 0;	/* < 0: a source that counts none */
}

/*
 * Expected slowdown of the guest when the vCPU runs on node `to`, as the
 * other policies estimate gains: the vCPU's own, weighed by its part of the
 * guest's instructions (the guard judges guests, not vCPUs).
 */
static double harm(const struct vnumad_view *v, const struct vnumad_guest *g,
		   const struct vnumad_vcpu *cpu, int to)
{
	double a[VNUMAD_MAX_NODES], b = pol_stall_share(cpu), part;

	part = g->ips > 0 && cpu->ips > 0 ? cpu->ips / g->ips : 1.0 / g->nr_vcpus;
	pol_access_mix(v, g, cpu, a);
	return part * (pol_vcpu_time(v, a, to, b, NULL) /
		       pol_vcpu_time(v, a, cpu->node, b, NULL) - 1);
}

/* A node where the vCPU loses at least min_harm, drawn at random; or -1. */
static int target(struct chaos *c, const struct vnumad_view *v,
		  const struct vnumad_guest *g, const struct vnumad_vcpu *cpu,
		  double *loss)
{
	int to = -1, n = 0;

	for (int k = 0; k < v->nr_nodes; k++) {
		double h;

		if (k == cpu->node || !pol_node_usable(v, k) || (g->quarantine >> k & 1))
			continue;
		h = harm(v, g, cpu, k);
		if (h >= c->min_harm && pol_rand(&c->rng) % (uint64_t)++n == 0) {
			to = k;
			*loss = h;
		}
	}
	return to;
}

static int chaos_tick(void *priv, const struct vnumad_view *v,
		      struct vnumad_out *out)
{
	struct chaos *c = priv;
	const struct vnumad_guest *g;
	const struct vnumad_vcpu *cpu;
	struct vnumad_proposal p;
	int gi = -1, vi = -1, to, n = 0;
	double loss = 0;

	/* one draw per tick, whatever the view, so runs stay comparable */
	if (pol_uniform(&c->rng) >= c->rate)
		return 0;
	/* reservoir sampling: a uniform pick among the vCPUs it can harm */
	for (int i = 0; i < v->nr_guests; i++) {
		const struct vnumad_guest *h = v->guests[i];
		int home = pol_home_node(v, h);

		for (int k = 0; k < h->nr_vcpus; k++) {
			const struct vnumad_vcpu *x = &h->vcpus[k];
			bool harmful = false;

			if (!victim_ok(c, v, h, x, home))
				continue;
			for (int m = 0; m < v->nr_nodes && !harmful; m++)
				harmful = m != x->node && pol_node_usable(v, m) &&
					  harm(v, h, x, m) >= c->min_harm;
			if (harmful && pol_rand(&c->rng) % (uint64_t)++n == 0) {
				gi = i;
				vi = k;
			}
		}
	}
	if (gi < 0)
		return 0;
	g = v->guests[gi];
	cpu = &g->vcpus[vi];
	to = target(c, v, g, cpu, &loss);
	if (to < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	p.kind = VNUMAD_MOVE_VCPU;
	p.guest = gi;
	p.vcpu = vi;
	p.from = cpu->node;
	p.to = to;
	p.gain = c->gain;
	snprintf(p.reason, sizeof(p.reason),
		 "chaos: deliberately harmful move #%llu, away from the guest's memory "
		 "on node %d, the guest about %.0f%% slower (a test of the guard; the "
		 "gain is false)",
		 (unsigned long long)++c->moves, cpu->node, loss * 100);
	vnumad_propose(out, &p);
	return 0;
}

const struct vnumad_policy vn_policy_chaos = {
	VNUMAD_POLICY_INIT,
	.name = "chaos",
	.description = "testing only: moves a random local vCPU away from its memory "
		       "on a share of ticks, to measure the rollback guard",
	.options = chaos_options,
	.init = chaos_init,
	.tick = chaos_tick,
	.fini = chaos_fini,
};
