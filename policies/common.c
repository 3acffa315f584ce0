// SPDX-License-Identifier: MIT
/*
 * Helpers the built-in policies share: distances, the latency and queueing
 * shapes their gain estimates use, vnode homes, a random stream, and the
 * guest storage of ABI 1.2. Only the plugin ABI is used here.
 */
#include <stdlib.h>
#include <string.h>

#include "policies.h"

int pol_dist(const struct vnumad_view *v, int a, int b)
{
	return v->distance[a * v->nr_nodes + b];
}

bool pol_node_usable(const struct vnumad_view *v, int n)
{
	return pol_node_exists(v, n) && v->nodes[n].nr_cpus > 0;
}

bool pol_node_exists(const struct vnumad_view *v, int n)
{
	return n >= 0 && n < v->nr_nodes && n < 64 && (v->online >> n & 1);
}

bool pol_guest_managed(const struct vnumad_guest *g)
{
	return !(g->flags & (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_OPTED_OUT));
}

double pol_guest_demand(const struct vnumad_guest *g)
{
	double d = 0;

	for (int i = 0; i < g->nr_vcpus; i++)
		d += g->vcpus[i].cpu_demand;
	return d;
}

int pol_home_node(const struct vnumad_view *v, const struct vnumad_guest *g)
{
	int best = -1;

	for (int n = 0; n < v->nr_nodes && n < 64; n++)
		if ((v->online >> n & 1) && g->mem[n] &&
		    (best < 0 || g->mem[n] > g->mem[best]))
			best = n;
	return best;
}

double pol_mean_distance(const struct vnumad_view *v,
			 const struct vnumad_guest *g, int from)
{
	double sum = 0, total = 0;

	for (int n = 0; n < v->nr_nodes; n++)
		if (g->mem[n]) {
			sum += (double)g->mem[n] * pol_dist(v, from, n);
			total += (double)g->mem[n];
		}
	return total > 0 ? sum / total : 10;
}

double pol_free_cpus(const struct vnumad_view *v, int n)
{
	double f = v->nodes[n].nr_cpus * (1.0 - v->nodes[n].cpu_load);

	return f > 0 ? f : 0;
}

void pol_node_shares(const struct vnumad_view *v, double *share)
{
	for (int n = 0; n < v->nr_nodes; n++)
		share[n] = 0;
	for (int gi = 0; gi < v->nr_guests; gi++) {
		const struct vnumad_guest *g = v->guests[gi];

		for (int i = 0; i < g->nr_vcpus; i++) {
			int n = g->vcpus[i].node;

			if (n >= 0 && n < v->nr_nodes && g->vcpus[i].cpu_demand > share[n])
				share[n] = g->vcpus[i].cpu_demand;
		}
	}
	for (int n = 0; n < v->nr_nodes; n++)
		if (v->nodes[n].cpu_load < POL_CPU_FULL || share[n] <= 0.05 || share[n] > 1)
			share[n] = 1;
}

double pol_latency(double d)
{
	return d <= 10 ? 1.0 : 1.0 + (d - 10.0) / 20.0;
}

double pol_queue(double u, double k)
{
	if (u < 0)
		u = 0;
	if (u > 0.95)
		u = 0.95;	/* beyond this the model says nothing useful */
	return 1.0 + k * u / (1.0 - u);
}

double pol_stall_share(const struct vnumad_vcpu *c)
{
	double apki;

	/* a source without instruction counts (the /proc fallback): middling */
	if (c->access_rate < 0)
		return 0.5;
	if (c->ips <= 0 || c->access_rate == 0)
		return 0;
	apki = c->access_rate / c->ips * 1000.0;
	return apki / (apki + 10.0);
}

void pol_access_mix(const struct vnumad_view *v, const struct vnumad_guest *g,
		    const struct vnumad_vcpu *c, double *a)
{
	double far = 0, total = 0, r = c->remote_ratio;
	int s = c->node;

	for (int n = 0; n < v->nr_nodes; n++) {
		a[n] = 0;
		total += (double)g->mem[n];
		if (n != s)
			far += (double)g->mem[n];
	}
	if (r < 0 || s < 0 || s >= v->nr_nodes) {
		for (int n = 0; total > 0 && n < v->nr_nodes; n++)
			a[n] = (double)g->mem[n] / total;
		if (total <= 0 && s >= 0 && s < v->nr_nodes)
			a[s] = 1;
		return;
	}
	if (r > 1)
		r = 1;
	if (far <= 0) {		/* nothing elsewhere: the remote share is noise */
		a[s] = 1;
		return;
	}
	a[s] = 1 - r;
	for (int n = 0; n < v->nr_nodes; n++)
		if (n != s)
			a[n] = r * (double)g->mem[n] / far;
}

double pol_vcpu_time(const struct vnumad_view *v, const double *a, int node,
		     double b, const double *M)
{
	double l = 0;

	for (int n = 0; n < v->nr_nodes; n++)
		if (a[n] > 0)
			l += a[n] * pol_latency(pol_dist(v, node, n)) * (M ? M[n] : 1.0);
	return 1 - b + b * l;
}

int pol_vnode_homes(const struct vnumad_view *v, const struct vnumad_guest *g,
		    int *home, int max)
{
	int nv = 0;
	uint64_t claimed = 0;

	for (int i = 0; i < g->nr_vcpus; i++)
		if (g->vcpus[i].vnode >= nv)
			nv = g->vcpus[i].vnode + 1;
	if (nv < 2)
		return 0;
	if (nv > max)
		nv = max;
	/* first the vnodes whose vCPUs tell where their memory is */
	for (int k = 0; k < nv; k++) {
		double local[VNUMAD_MAX_NODES] = { 0 }, w[VNUMAD_MAX_NODES] = { 0 };
		int best = -1;

		home[k] = -1;
		for (int i = 0; i < g->nr_vcpus; i++) {
			const struct vnumad_vcpu *c = &g->vcpus[i];

			if (c->vnode != k || c->node < 0 || c->node >= v->nr_nodes ||
			    c->remote_ratio < 0)
				continue;
			local[c->node] += 1.0 - c->remote_ratio;
			w[c->node] += 1.0;
		}
		for (int n = 0; n < v->nr_nodes; n++)
			if (w[n] > 0 && g->mem[n] && local[n] / w[n] >= 0.5 &&
			    (best < 0 || local[n] > local[best]))
				best = n;
		if (best >= 0 && !(claimed >> best & 1)) {
			home[k] = best;
			claimed |= 1ULL << best;
		}
	}
	/* the rest: the largest share of memory that no vnode claims */
	for (int k = 0; k < nv; k++) {
		int best = -1;

		if (home[k] >= 0)
			continue;
		for (int n = 0; n < v->nr_nodes && n < 64; n++)
			if (g->mem[n] && !(claimed >> n & 1) &&
			    (best < 0 || g->mem[n] > g->mem[best]))
				best = n;
		if (best < 0)
			best = pol_home_node(v, g);
		home[k] = best;
		if (best >= 0)
			claimed |= 1ULL << best;
	}
	return nv;
}

uint64_t pol_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double pol_uniform(uint64_t *state)
{
	return (double)(pol_rand(state) >> 11) * (1.0 / 9007199254740992.0);
}

void *pol_guest_state(const struct vnumad_view *v, const struct vnumad_guest *g)
{
	return VNUMAD_GUEST_HAS(v, priv) ? g->priv : NULL;
}

void pol_guest_free(void *priv, const struct vnumad_guest *g, void *gpriv)
{
	(void)priv;
	(void)g;
	free(gpriv);
}
