/* SPDX-License-Identifier: MIT */
/*
 * Core types of vnumad: the host model, the backend interface and the sampler
 * interface. The core drives every tick through these and never knows which
 * backend (libvirt, proc, sim) or sampler (pmu, procfs, sim) it runs on.
 */
#ifndef VNUMAD_H
#define VNUMAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"

#define VN_MAX_NODES	VNUMAD_MAX_NODES
#define VN_HIST		128	/* ticks of per-guest history kept for the guard */
#define VN_MOVES_KEPT	16	/* move times kept per guest for the hourly cap */

struct event_base;
struct vn_config;

/* Counter deltas of one vCPU thread over one sampling interval. */
struct vn_counts {
	uint64_t cycles;
	uint64_t instructions;
	uint64_t local_dram;	/* DRAM accesses served by the local node */
	uint64_t remote_dram;	/* DRAM accesses served by a remote node */
	double cpu_time;	/* seconds the thread ran in the interval */
	double elapsed;		/* seconds the interval covered */
	int node;		/* node it ran on (mostly or last), -1 unknown */
	enum vnumad_source source;
	bool valid;		/* false: no reading this interval */
};

/* What a vCPU's readings added up to since it was first seen (the metrics). */
struct vn_totals {
	uint64_t instructions;	/* where the source counts them (pmu, sim) */
	uint64_t cycles;
	uint64_t local_dram;	/* likewise */
	uint64_t remote_dram;
	double cpu_time;	/* seconds its thread ran, whatever the source */
	bool counted;		/* a source counting instructions added to them */
};

/* Core-private state of a vCPU; the view part is struct vnumad_vcpu. */
struct vn_vcpu {
	pid_t tid;		/* host thread, 0 unknown */
	struct vn_counts delta;	/* last reading */
	struct vn_totals total;	/* every reading so far */
	double last_move;	/* time vnumad last moved it, -1 never */
	/*
	 * EWMAs of its local and remote DRAM accesses per second, and the same
	 * with 4x the half-life for the trend: the remote ratio is theirs, so
	 * that each interval weighs as much as its traffic.
	 */
	double local_s, remote_s;
	double local_slow, remote_slow;
	uint64_t orig_allowed;	/* affinity when first seen, for restore */
	void *sampler;		/* sampler's per-thread state */
};

/* A guest: view part for policies, private part for the core. */
struct vn_guest {
	struct vnumad_guest v;	/* v.vcpus == vv, v.name == name */
	char *name;
	char uuid[40];		/* the hypervisor's UUID, "" unknown */
	uint64_t id;		/* unique per incarnation, never reused */
	pid_t pid;		/* hypervisor process, 0 unknown */
	int nr_vcpus;
	struct vnumad_vcpu *vv;	/* [nr_vcpus] view */
	struct vn_vcpu *vc;	/* [nr_vcpus] private */
	bool seen;		/* reported by the backend in the current scan */
	double first_seen;	/* when it started, in the core's clock (h->now):
				 * now - the age the backend reported, or when
				 * the core first saw it (v.age counts from it) */
	double mem_read_at;	/* when the memory distribution was read, -1 never */
	/*
	 * The first tick whose figures know the last reading that found its
	 * memory shifted (a tenth of it or more on other nodes than the
	 * reading before said, whoever moved it); 0 none. The guard starts no
	 * baseline before it.
	 */
	uint64_t mem_shift_tick;
	const char *mem_source;	/* where it came from ("cgroup v2", "numa_maps"), or NULL */
	double mem_cost;	/* CPU seconds its last reading took, -1 unknown */
	/*
	 * The guard's figure of merit, by tick % VN_HIST: instructions per
	 * second, or where the source counts none (hist_local) 0.01 plus the
	 * share of local accesses.
	 */
	double hist[VN_HIST];
	uint64_t hist_tick[VN_HIST];	/* tick each slot holds */
	bool hist_local;	/* the last reading's figure is the local share */
	/*
	 * By tick like hist, where the source counts instructions: the
	 * guest's counted DRAM accesses per instruction, which a move leaves
	 * alone and a phase of its workload changes, and the local share of
	 * them (plus HIST_LOCAL_FLOOR), by which the guard judges a trial
	 * across such a phase (guard.c). NaN unknown.
	 */
	double hist_api[VN_HIST];
	double hist_share[VN_HIST];
	double move_times[VN_MOVES_KEPT];	/* ring of recent move times */
	int nr_move_times;
	double last_move;	/* last move of any kind, -1 never */
	int refused;		/* errno of a permanent actuation failure, 0 none:
				 * its moves are dropped until it restarts or the
				 * configuration is reloaded */
	int nr_vnodes;		/* guest NUMA nodes the backend reports, 0 none */
	uint64_t *vnode_mem;	/* [nr_vnodes * VN_MAX_NODES] bytes per vnode and
				 * node, filled by a sampler that can tell vnodes
				 * apart (then vnode_mem_valid) */
	bool vnode_mem_valid;
	bool policy_inited;	/* the policy's guest_init ran for it */
	void *backend;		/* backend's per-guest state */
	void *sampler;		/* sampler's per-guest state */
	char *unmeasured;	/* why the backend cannot give its vCPU threads, NULL: it can */
	char *memory_fixed;	/* why its memory cannot move, NULL: it can */
	int sample_error;	/* errno of the sampler's last attach, 0: counting */
	uint64_t sample_errors;	/* readings of it that failed */
	struct vn_guest *hnext;	/* name hash chain */
};

/* The guest flags a backend reports; the core sets the others. */
#define VN_BACKEND_FLAGS	(VNUMAD_GUEST_PINNED | VNUMAD_GUEST_OPTED_OUT | \
				 VNUMAD_GUEST_NO_MEMMOVE | VNUMAD_GUEST_MEMORY_FREE)

/* What a backend reports about one guest during a scan. */
struct vn_guest_desc {
	const char *name;
	const char *uuid;	/* the hypervisor's, or NULL unknown */
	pid_t pid;
	unsigned flags;		/* VN_BACKEND_FLAGS: VNUMAD_GUEST_PINNED (with
				 * _MEMORY_FREE: its vCPUs only), _OPTED_OUT,
				 * _NO_MEMMOVE */
	int nr_vcpus;
	const pid_t *tids;	/* [nr_vcpus]; NULL or 0 entries: unknown */
	const uint64_t *allowed;	/* [nr_vcpus] node masks of their affinity */
	const int *vnode;	/* [nr_vcpus] guest NUMA node, or NULL */
	void *priv;		/* becomes g->backend when the guest is new */
	/* why its vCPUs cannot be measured ("vCPU threads not found"), NULL: they can */
	const char *unmeasured;
	/* why its memory cannot move (with VNUMAD_GUEST_NO_MEMMOVE), NULL: no reason given */
	const char *memory_fixed;
	/*
	 * Seconds its hypervisor process has run when reported, 0 or less:
	 * unknown. Read when the guest is new (host_report), so that a guest
	 * that ran for days before vnumad started is not taken for a newborn.
	 */
	double age;
};

#define VN_HASH_SIZE 1024

/* The host: topology, guests and the clock of the current tick. */
struct vn_host {
	int nr_nodes;		/* highest node number + 1 */
	uint64_t online;	/* nodes that exist */
	struct vnumad_node node[VN_MAX_NODES];
	struct vnumad_node_info node_info[VN_MAX_NODES];	/* bandwidth sources */
	uint8_t distance[VN_MAX_NODES * VN_MAX_NODES];	/* [i * nr_nodes + j] */
	struct vn_guest **guests;
	int nr_guests;
	int cap_guests;
	struct vn_guest *hash[VN_HASH_SIZE];
	const struct vnumad_guest **view_guests;	/* [nr_guests] */
	uint64_t tick;
	double now;		/* seconds since start (virtual with sim) */
	uint64_t next_id;
	/* called when a guest appears or goes; set by the core */
	void (*on_new)(struct vn_host *h, struct vn_guest *g, void *arg);
	void (*on_gone)(struct vn_host *h, struct vn_guest *g, void *arg);
	void *cb_arg;
};

void host_init(struct vn_host *h);
void host_fini(struct vn_host *h);
/* Adds or refreshes a guest from a backend's report; marks it seen. */
struct vn_guest *host_report(struct vn_host *h, const struct vn_guest_desc *d);
/* Drops one guest at once (a backend event: it stopped). */
void host_remove(struct vn_host *h, struct vn_guest *g);
struct vn_guest *host_find(const struct vn_host *h, const char *name);
struct vn_guest *host_find_id(const struct vn_host *h, uint64_t id);
/*
 * Why a guest's vCPUs cannot be measured, in plain words: the backend's
 * reason, else the sampler's error; NULL when nothing stands in the way.
 */
const char *host_unmeasured(const struct vn_guest *g, char *buf, size_t len);
/* Starts a scan (clears seen); ends it by dropping guests not reported. */
void host_scan_begin(struct vn_host *h);
void host_scan_end(struct vn_host *h);
int host_distance(const struct vn_host *h, int a, int b);
/* The node of `nodes` with the most free memory, -1 when none is a node. */
int host_freest_node(const struct vn_host *h, uint64_t nodes);

/* A memory migration in flight; the backend updates done/state. */
enum vn_mig_state {
	VN_MIG_RUNNING,
	VN_MIG_DONE,
	VN_MIG_FAILED,		/* stopped early; done/failed say how far */
	VN_MIG_CANCELLED,
};

struct vn_migration {
	uint64_t guest_id;
	char *guest;		/* its name, for the report after the guest left */
	int from, to;
	uint64_t bytes;		/* asked for */
	uint64_t done;		/* moved so far */
	uint64_t failed;	/* could not be moved */
	int error;		/* first errno met, 0 none */
	enum vn_mig_state state;
	double started, finished;
	bool revert;		/* moving memory back for the guard */
	bool reported;		/* the core has logged its outcome */
	uint64_t tag;		/* who asked: 0 the policy, else a manual move */
	void *priv;		/* backend's */
	struct vn_migration *next;
};

/*
 * Backend flags.
 * VIRTUAL_TIME: the backend is a model with its own clock. Ticks run back to
 * back and advance() moves the model forward by one interval.
 */
#define VN_BACKEND_VIRTUAL_TIME	(1u << 0)

struct vn_backend;

struct vn_backend_ops {
	const char *name;
	unsigned flags;
	/* Connects or loads; returns 0 or a negative errno after logging why. */
	int (*open)(struct vn_backend *b);
	void (*close)(struct vn_backend *b);
	/* VIRTUAL_TIME only: runs the model for dt seconds. */
	int (*advance)(struct vn_backend *b, double dt);
	/* VIRTUAL_TIME only, may be NULL: how long the model's scenario lasts, 0 unset. */
	double (*duration)(const struct vn_backend *b);
	/*
	 * Fills nr_nodes, online (memory-only nodes too), node[] (id, nr_cpus,
	 * memory, bw_max where known), node_info[] (bw_max_source, latency)
	 * and distance.
	 */
	int (*topology)(struct vn_backend *b, struct vn_host *h);
	/* Reports every guest with host_report() between scan begin/end. */
	int (*scan)(struct vn_backend *b, struct vn_host *h);
	/* Sets a vCPU's affinity to all CPUs of the nodes in the mask. */
	int (*set_affinity)(struct vn_backend *b, struct vn_guest *g, int vcpu,
			    uint64_t nodes);
	/* Starts moving m->bytes from m->from to m->to; progress in *m. */
	int (*migrate)(struct vn_backend *b, struct vn_guest *g,
		       struct vn_migration *m);
	/* Stops a running migration; it ends CANCELLED. NULL: cannot. */
	void (*cancel)(struct vn_backend *b, struct vn_migration *m);
	/* The guest left the core's table; release g->backend. */
	void (*forget)(struct vn_backend *b, struct vn_guest *g);
};

struct vn_backend {
	const struct vn_backend_ops *ops;
	const struct vn_config *cfg;
	struct event_base *base;	/* the daemon's loop, for backend events */
	struct vn_host *host;		/* for host_report/host_remove from events */
	void *priv;
};

struct vn_sampler;

struct vn_sampler_ops {
	const char *name;
	int (*open)(struct vn_sampler *s);
	void (*close)(struct vn_sampler *s);
	/*
	 * Starts counting a guest's vCPU threads. Called again when its threads
	 * change (a vCPU hot-plugged, a thread replaced): it must keep counting
	 * the threads it already counts and start on the new ones.
	 */
	int (*attach)(struct vn_sampler *s, struct vn_guest *g);
	/* Stops counting; must be a no-op for a guest never attached. */
	void (*detach)(struct vn_sampler *s, struct vn_guest *g);
	/* Fills g->vc[i].delta for every vCPU. */
	int (*read)(struct vn_sampler *s, struct vn_guest *g);
	/*
	 * Fills g->v.mem[] with bytes per node (slow; called less often) and,
	 * when it can tell the guest's NUMA nodes apart, g->vnode_mem (set
	 * g->vnode_mem_valid; the core allocated it for g->nr_vnodes).
	 */
	int (*memory)(struct vn_sampler *s, struct vn_guest *g);
	/*
	 * Once per tick, before read: sets node[n].bw_used and node_info[n].
	 * bw_used_source for the nodes whose memory controllers it measures.
	 * NULL, or nodes it leaves alone: the model estimates them.
	 */
	void (*nodes)(struct vn_sampler *s, struct vn_host *h);
};

struct vn_sampler {
	const struct vn_sampler_ops *ops;
	const struct vn_config *cfg;
	struct vn_backend *backend;
	void *priv;
};

#endif
