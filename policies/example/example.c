// SPDX-License-Identifier: MIT
/*
 * example: a complete vnumad policy plugin, built out of tree.
 *
 * Each tick it finds the vCPUs that make the most remote DRAM accesses per
 * second and proposes moving up to `max_moves` of them to the node that
 * holds most of their guest's memory, when that node has CPU room, leaving
 * guests younger than `min_age` alone. It shows every part of the ABI a
 * plugin uses: the exported descriptor, declared options, init/tick/fini
 * with private state, the init args (option values, seed, log), the view,
 * and proposals with a gain and a reason; and from ABI 1.2 storage per
 * guest (guest_init, guest_exit), a guest's age, and why it stops (exit).
 * Read vnumad-policy(7) first; the built-in policies in vnumad's policies/
 * directory are larger models.
 *
 * Build:  make            (needs pkg-config and vnumad-policy.pc)
 * Try:    vnumad --policy ./example.so --backend sim --dry-run --ticks 10
 *         vnumad --help-policy ./example.so
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include <vnumad/policy.h>

/* Options, in the order of the table: args->values[] follows it. */
enum { OPT_MIN_REMOTE_RATE, OPT_MAX_MOVES, OPT_HEADROOM, OPT_MIN_AGE, NR_OPTS };

static const struct vnumad_option example_options[] = {
	[OPT_MIN_REMOTE_RATE] = { "min_remote_rate", VNUMAD_OPT_DOUBLE, "1000000", 0, 1e12,
		"remote DRAM accesses per second below which a vCPU is left alone" },
	[OPT_MAX_MOVES] = { "max_moves", VNUMAD_OPT_INT, "2", 1, 64,
		"vCPU moves proposed per tick" },
	[OPT_HEADROOM] = { "cpu_headroom", VNUMAD_OPT_PERCENT, "10%", 0, 0.9,
		"share of a node's CPUs kept free when moving vCPUs onto it" },
	[OPT_MIN_AGE] = { "min_age", VNUMAD_OPT_DURATION, "0s", 0, 86400,
		"guests seen for less than this are left alone (they may not stay)" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

struct example {
	double min_remote_rate;
	int max_moves;
	double headroom;
	double min_age;
	double planned[VNUMAD_MAX_NODES];	/* CPU demand moved this tick */
	void (*log)(int level, const char *fmt, ...);
};

static int example_init(void **priv, const struct vnumad_init_args *args)
{
	struct example *x = calloc(1, sizeof(*x));

	if (!x)
		return -12;	/* -ENOMEM: vnumad refuses to start, and says why */
	x->min_remote_rate = args->values[OPT_MIN_REMOTE_RATE].num;
	x->max_moves = (int)args->values[OPT_MAX_MOVES].num;
	x->headroom = args->values[OPT_HEADROOM].num;
	x->min_age = args->values[OPT_MIN_AGE].num;
	x->log = args->log;
	if (x->log)
		x->log(VNUMAD_LOG_INFO, "example: up to %d moves per tick", x->max_moves);
	*priv = x;
	return 0;
}

/* Called after init, also a failed one, and at shutdown and reload. */
static void example_fini(void *priv)
{
	free(priv);
}

/* 1.2: why the policy stops, just before fini. */
static void example_exit(void *priv, const struct vnumad_exit_info *info)
{
	struct example *x = priv;

	if (x && x->log)
		x->log(VNUMAD_LOG_INFO, "example: stopping after %llu ticks: %s",
		       (unsigned long long)info->ticks, info->reason);
}

/* 1.2: what the policy keeps of one guest, from its first tick to its last. */
struct example_guest {
	unsigned proposed;	/* moves proposed for it */
};

static int example_guest_init(void *priv, const struct vnumad_guest *g, void **gpriv)
{
	(void)priv;
	(void)g;
	*gpriv = calloc(1, sizeof(struct example_guest));
	return *gpriv ? 0 : -12;	/* no storage: the guest's priv stays NULL */
}

static void example_guest_exit(void *priv, const struct vnumad_guest *g, void *gpriv)
{
	(void)priv;
	(void)g;
	free(gpriv);
}

/* The node with most of the guest's memory. */
static int home_node(const struct vnumad_view *v, const struct vnumad_guest *g)
{
	int best = -1;

	for (int n = 0; n < v->nr_nodes; n++)
		if (g->mem[n] && (best < 0 || g->mem[n] > g->mem[best]))
			best = n;
	return best;
}

static int has_room(const struct example *x, const struct vnumad_view *v,
		    int n, double demand)
{
	const struct vnumad_node *nd = &v->nodes[n];

	return nd->nr_cpus > 0 && nd->cpu_load * nd->nr_cpus + x->planned[n] + demand <=
	       nd->nr_cpus * (1.0 - x->headroom);
}

static int example_tick(void *priv, const struct vnumad_view *v,
			struct vnumad_out *out)
{
	struct example *x = priv;

	memset(x->planned, 0, sizeof(x->planned));
	for (int m = 0; m < x->max_moves; m++) {
		const struct vnumad_vcpu *best = NULL;
		int best_guest = -1, best_home = -1;
		double best_rate = x->min_remote_rate;
		struct vnumad_proposal p;
		struct example_guest *gs;

		/* the busiest remote accessor not yet proposed this tick */
		for (int gi = 0; gi < v->nr_guests; gi++) {
			const struct vnumad_guest *g = v->guests[gi];
			int home = home_node(v, g);

			if (home < 0 || (g->flags & (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_OPTED_OUT |
						     VNUMAD_GUEST_IN_TRIAL)))
				continue;
			/* 1.2 members: only where the daemon's guests have them */
			if (VNUMAD_GUEST_HAS(v, age) && g->age < x->min_age)
				continue;
			for (int i = 0; i < g->nr_vcpus; i++) {
				const struct vnumad_vcpu *c = &g->vcpus[i];
				double rate = c->access_rate * c->remote_ratio;

				if (c->node == home || c->node < 0 || c->remote_ratio < 0 ||
				    (c->flags & (VNUMAD_VCPU_HOLD | VNUMAD_VCPU_IN_TRIAL)) ||
				    (g->quarantine >> home & 1) || rate <= best_rate ||
				    !has_room(x, v, home, c->cpu_demand))
					continue;
				/* skip vCPUs already proposed in this tick */
				for (int k = 0; k < out->len; k++)
					if (out->buf[k].guest == gi && out->buf[k].vcpu == i)
						rate = 0;
				if (rate <= best_rate)
					continue;
				best = c;
				best_guest = gi;
				best_home = home;
				best_rate = rate;
			}
		}
		if (!best)
			break;
		memset(&p, 0, sizeof(p));
		p.kind = VNUMAD_MOVE_VCPU;
		p.guest = best_guest;
		p.vcpu = best->index;
		p.from = best->node;
		p.to = best_home;
		/* a rough guess: half the remote share of its time comes back */
		p.gain = 0.5 * best->remote_ratio;
		gs = VNUMAD_GUEST_HAS(v, priv) ? v->guests[best_guest]->priv : NULL;
		snprintf(p.reason, sizeof(p.reason),
			 "example: %.3g remote DRAM accesses/s, guest memory mostly on node %d"
			 " (move %u of this guest)", best_rate, best_home,
			 gs ? gs->proposed + 1 : 1);
		if (vnumad_propose(out, &p) < 0)
			break;	/* the buffer is full: what is in it stands */
		if (gs)
			gs->proposed++;
		x->planned[best_home] += best->cpu_demand;
	}
	return 0;
}

/* The one symbol vnumad looks for. */
const struct vnumad_policy vnumad_policy = {
	VNUMAD_POLICY_INIT,
	.name = "example",
	.description = "example plugin: the busiest remote vCPUs to their guest's memory",
	.options = example_options,
	.init = example_init,
	.tick = example_tick,
	.fini = example_fini,
	.guest_init = example_guest_init,
	.guest_exit = example_guest_exit,
	.exit = example_exit,
};
