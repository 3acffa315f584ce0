/* SPDX-License-Identifier: MIT */
/*
 * The built-in policies and the helpers they share.
 *
 * Built-in policies use nothing but the plugin ABI (policy.h) and the helpers
 * below, so that each of them could be built as a plugin unchanged; none of
 * them includes a header of the daemon core.
 */
#ifndef VN_POLICIES_H
#define VN_POLICIES_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* The policies built into vnumad, one file each. */
extern const struct vnumad_policy vn_policy_place;
extern const struct vnumad_policy vn_policy_locality;
extern const struct vnumad_policy vn_policy_spread;
extern const struct vnumad_policy vn_policy_brm;
extern const struct vnumad_policy vn_policy_numad;
extern const struct vnumad_policy vn_policy_static;
extern const struct vnumad_policy vn_policy_none;
extern const struct vnumad_policy vn_policy_chaos;

/* A built-in policy by name, or NULL. */
const struct vnumad_policy *policy_builtin(const char *name);
/* "a, b, c": the names, for messages. */
const char *policy_builtin_names(void);
/* NULL-terminated list of the built-in policies. */
extern const struct vnumad_policy *const vn_builtin_policies[];

/* common.c: figures every policy needs, computed one way for all. */

#define POL_ENOMEM	12	/* errno values, without <errno.h> in every file */
#define POL_EINVAL	22

/* SLIT distance from node a to node b. */
int pol_dist(const struct vnumad_view *v, int a, int b);
/* True for a node that exists and has CPUs, so vCPUs may go there. */
bool pol_node_usable(const struct vnumad_view *v, int n);
/*
 * True for a node that exists, with or without CPUs: memory may go there
 * (a memory-only node, such as a CXL expander, has memory and no CPUs).
 */
bool pol_node_exists(const struct vnumad_view *v, int n);
/* True unless the user pinned the guest or opted it out. */
bool pol_guest_managed(const struct vnumad_guest *g);
/* Sum of the CPU demand of the guest's vCPUs, in CPUs. */
double pol_guest_demand(const struct vnumad_guest *g);
/* The node holding most of the guest's memory, -1 when it has none. */
int pol_home_node(const struct vnumad_view *v, const struct vnumad_guest *g);
/* Mean SLIT distance from node `from` to the guest's memory. */
double pol_mean_distance(const struct vnumad_view *v,
			 const struct vnumad_guest *g, int from);
/* CPUs of a node not used by the vCPUs that ran there, never negative. */
double pol_free_cpus(const struct vnumad_view *v, int n);

#define POL_CPU_FULL	0.97	/* cpu_load from which vCPUs may be throttled */
/*
 * What the vCPUs of each node get of the CPU they ask for, share[n] in
 * (0, 1]. cpu_load is measured use, so an over-committed node reads full and
 * its vCPUs' demand reads low: time-sharing scales every vCPU there alike,
 * and a vCPU asks at most one CPU, so the largest demand seen on a full node
 * is (at least) that share. 1 on a node below POL_CPU_FULL.
 */
void pol_node_shares(const struct vnumad_view *v, double *share);

/*
 * Unloaded DRAM latency at SLIT distance d relative to local: 1 + (d - 10) / 20,
 * so 1.55 at 21 and 2.05 at 31 -- the ratios measured on two- and four-socket
 * servers (140/90 ns, 200/90 ns), which SLIT itself overstates (2.1, 3.1).
 */
double pol_latency(double d);
/* Queueing delay factor of a memory controller at utilisation u: 1 + k u/(1-u). */
double pol_queue(double u, double k);
/*
 * Share of a vCPU's time stalled on DRAM at local, unloaded latency, from its
 * DRAM accesses per kilo-instruction: apki / (apki + 10). Near 0 for
 * cpu-bound code, near 1 for pointer chasing; 0 before the first reading,
 * 0.5 from a source that counts no instructions (access_rate < 0).
 */
double pol_stall_share(const struct vnumad_vcpu *c);

/*
 * Where a vCPU's DRAM accesses go: a[n] for every node, summing to 1. The
 * local share is 1 - remote_ratio on the node it ran on; the remote share is
 * split over the other nodes in proportion to the guest's memory there. Without
 * a remote ratio, the guest's memory distribution itself.
 */
void pol_access_mix(const struct vnumad_view *v, const struct vnumad_guest *g,
		    const struct vnumad_vcpu *c, double *a);
/*
 * Time per instruction of a vCPU on `node`, relative to running with all
 * its memory local and unloaded: (1 - b) + b * sum_n a[n] * latency(node, n)
 * * M[n], with b its stall share and M[n] the queueing factor of node n's
 * memory (NULL: no queueing). Moving it from s to t gains T(s) / T(t) - 1.
 */
double pol_vcpu_time(const struct vnumad_view *v, const double *a, int node,
		     double b, const double *M);

/*
 * A vNUMA guest's vnode homes: home[k] is the host node holding the memory
 * of guest NUMA node k (-1 unknown), for k < the returned count; 0 for a
 * guest without vNUMA (fewer than two vnodes). The view does not split a
 * guest's memory by vnode, so the home is inferred from the counters: the
 * node where the vnode's vCPUs see mostly local accesses, or else the node
 * with the most of the guest's memory that no other vnode claims.
 */
int pol_vnode_homes(const struct vnumad_view *v, const struct vnumad_guest *g,
		    int *home, int max);

/* A deterministic random stream (splitmix64), seeded from init args. */
uint64_t pol_rand(uint64_t *state);
/* Uniform in [0, 1). */
double pol_uniform(uint64_t *state);

/*
 * The policy's storage of a guest (what its guest_init set, ABI 1.2), or
 * NULL: a view without it, or a guest whose guest_init failed. Built-in
 * policies keep per-guest state here and leave a guest without it alone.
 */
void *pol_guest_state(const struct vnumad_view *v, const struct vnumad_guest *g);
/* A guest_exit that frees the storage. */
void pol_guest_free(void *priv, const struct vnumad_guest *g, void *gpriv);

/*
 * numad.c: numad's choice of nodes for a guest (pick_numa_nodes): node
 * magnitude = free CPUs x free memory, the guest's own use credited where it
 * runs, nodes taken best first until its CPUs and memory fit. Returns the
 * node mask, or 0 when there is nothing to decide. `existing` is the mask of
 * nodes the guest is bound to now.
 */
uint64_t pol_numad_pick(const struct vnumad_view *v, const struct vnumad_guest *g,
			uint64_t existing, double target_utilization);
/* The nodes a guest is bound to now: the union of its vCPUs' affinity. */
uint64_t pol_guest_nodes(const struct vnumad_view *v, const struct vnumad_guest *g);

#endif
