// SPDX-License-Identifier: MIT
/*
 * static: place each new guest once, the way numad would, then never again.
 *
 * The baseline of an operator who pins guests at start-up (numad -w advice,
 * or a management layer placing by free resources) and leaves them there.
 * The first time a guest appears in the view, the policy picks its nodes with
 * numad's rule (pol_numad_pick: node magnitude = free CPUs x free memory,
 * the guest's own use credited where it is, best nodes first until it fits)
 * and proposes a whole-guest move (VNUMAD_MOVE_GUEST) there, unless it is
 * already there. The pick is made once and kept: the proposal is repeated
 * until the guest is seen bound to those nodes, or for at most `retry` (the
 * core may hold it back at first: a new guest has no history to judge a move
 * by), after which the guest is fixed where it is. Counters are never read.
 *
 * Expected gain, as numad's: counter-free, half of the time assumed stalled
 * on DRAM, latency from the mean distance to memory before and after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies.h"

enum {
	OPT_TARGET_UTILIZATION,
	OPT_RETRY,
	NR_OPTS
};

static const struct vnumad_option static_options[] = {
	[OPT_TARGET_UTILIZATION] = { "target_utilization", VNUMAD_OPT_PERCENT, "85%", 0.1, 1.3,
		"share of a node's CPUs and memory a guest's request may fill" },
	[OPT_RETRY] = { "retry", VNUMAD_OPT_DURATION, "2min", 0, 3600,
		"how long the initial placement is proposed again until it is applied" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

enum { GUEST_NEW, GUEST_PLACING, GUEST_FIXED };

/* What static keeps of a guest (guest_init storage). */
struct sguest {
	int state;
	double first_seen;
	uint64_t mask;		/* the nodes picked for it */
};

struct static_policy {
	double target, retry;
};

static int static_init(void **priv, const struct vnumad_init_args *args)
{
	struct static_policy *s = calloc(1, sizeof(*s));

	if (!s)
		return -POL_ENOMEM;
	s->target = args->values[OPT_TARGET_UTILIZATION].num;
	s->retry = args->values[OPT_RETRY].num;
	*priv = s;
	return 0;
}

static void static_fini(void *priv)
{
	struct static_policy *s = priv;

	if (!s)
		return;
	free(s);
}

/* Counter-free gain of binding to one set of nodes (see numad.c). */
static double guess_gain(const struct vnumad_view *v, const struct vnumad_guest *g,
			 uint64_t nodes)
{
	double before = 0, after = 0, w = 0, k = __builtin_popcountll(nodes);

	for (int i = 0; i < g->nr_vcpus; i++) {
		int s = g->vcpus[i].node;

		if (s >= 0 && s < v->nr_nodes) {
			before += pol_latency(pol_mean_distance(v, g, s));
			w++;
		}
	}
	if (!w || !k)
		return 0;
	for (int a = 0; a < v->nr_nodes; a++)
		for (int b = 0; b < v->nr_nodes; b++)
			if ((nodes >> a & 1) && (nodes >> b & 1))
				after += pol_latency(pol_dist(v, a, b));
	after /= k * k;
	return (0.5 + 0.5 * before / w) / (0.5 + 0.5 * after) - 1;
}

static int static_tick(void *priv, const struct vnumad_view *v,
		       struct vnumad_out *out)
{
	struct static_policy *s = priv;

	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];
		struct sguest *e = pol_guest_state(v, g);
		struct vnumad_proposal p;

		if (!e || e->state == GUEST_FIXED || out->len >= out->cap)
			continue;
		if (e->state == GUEST_NEW) {
			/* wait for its memory to be known: it decides the pick */
			if (!g->mem_total)
				continue;
			e->first_seen = v->now;
			e->mask = pol_guest_managed(g) ?
				  pol_numad_pick(v, g, pol_guest_nodes(v, g), s->target) : 0;
			e->state = e->mask ? GUEST_PLACING : GUEST_FIXED;
			if (!e->mask)
				continue;
		}
		/* placed, or given up on: fixed from now on */
		if (pol_guest_nodes(v, g) == e->mask || v->now - e->first_seen > s->retry ||
		    !pol_guest_managed(g)) {
			e->state = GUEST_FIXED;
			continue;
		}
		memset(&p, 0, sizeof(p));
		p.kind = VNUMAD_MOVE_GUEST;
		p.guest = gi;
		p.nodes = e->mask;
		p.gain = guess_gain(v, g, e->mask);
		snprintf(p.reason, sizeof(p.reason),
			 "static: initial placement on the nodes with the most free "
			 "CPUs x free memory (node mask 0x%llx), then fixed",
			 (unsigned long long)e->mask);
		vnumad_propose(out, &p);
	}
	return 0;
}

/* A guest that left and comes back under its name is a new guest: new storage. */
static int static_guest_init(void *priv, const struct vnumad_guest *g, void **gpriv)
{
	struct sguest *e = calloc(1, sizeof(*e));

	(void)priv;
	(void)g;
	if (!e)
		return -POL_ENOMEM;
	e->state = GUEST_NEW;
	*gpriv = e;
	return 0;
}

const struct vnumad_policy vn_policy_static = {
	VNUMAD_POLICY_INIT,
	.name = "static",
	.description = "baseline: each new guest placed once by free CPUs x free memory "
		       "(as numad would), then fixed",
	.options = static_options,
	.init = static_init,
	.tick = static_tick,
	.fini = static_fini,
	.guest_init = static_guest_init,
	.guest_exit = pol_guest_free,
};
