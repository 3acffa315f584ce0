/* SPDX-License-Identifier: MIT */
/*
 * The simulated host: a deterministic model of a NUMA machine running guests.
 *
 * The daemon reaches it through sim_backend_ops and sim_sampler_ops (see
 * vnumad.h); tests and the policy evaluation harness use this API directly.
 * Guests are named by their index in the scenario (0 .. sim_nr_guests() - 1),
 * stable for the life of the model whether the guest has arrived, is running
 * or has left. Nodes are 0 .. sim_nr_nodes() - 1, all online. The model and
 * its formulas are described in sim/README.md.
 */
#ifndef VN_SIM_H
#define VN_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "ini.h"
#include "vnumad.h"

struct sim;

/* Loads a scenario file; on error appends "FILE:LINE: [sec] key: why" to e. */
struct sim *sim_load(const char *path, struct vn_errors *e);
/* Same, from text in memory; messages name it `name`. */
struct sim *sim_load_text(const char *name, const char *text,
			  struct vn_errors *e);
void sim_free(struct sim *s);

/* Replaces the scenario's seed (counter noise); call before the first step. */
void sim_seed(struct sim *s, uint64_t seed);
/* Runs the model for dt simulated seconds, in steps of at most [sim] step. */
void sim_step(struct sim *s, double dt);
double sim_now(const struct sim *s);
/* [sim] duration, seconds; 0 when the scenario sets none. */
double sim_duration(const struct sim *s);

/* Host. */
int sim_nr_nodes(const struct sim *s);
int sim_node_cpus(const struct sim *s, int node);
int sim_distance(const struct sim *s, int from, int to);
uint64_t sim_node_mem_total(const struct sim *s, int node);
uint64_t sim_node_mem_used(const struct sim *s, int node);	/* guests' */
uint64_t sim_node_mem_free(const struct sim *s, int node);
/* Guest memory in use over all nodes; constant while no guest comes or goes. */
uint64_t sim_mem_used(const struct sim *s);
double sim_node_bw_max(const struct sim *s, int node);		/* bytes/s */
double sim_node_bw_used(const struct sim *s, int node);	/* last step */
double sim_node_cpu_load(const struct sim *s, int node);	/* demand/cpus */

/* Guests. */
int sim_nr_guests(const struct sim *s);
int sim_guest_find(const struct sim *s, const char *name);	/* -1: none */
const char *sim_guest_name(const struct sim *s, int g);
bool sim_guest_alive(const struct sim *s, int g);
/* When the scenario starts and stops guest g; stop < 0: never. */
double sim_guest_start(const struct sim *s, int g);
double sim_guest_stop(const struct sim *s, int g);
/* Its workload phases: how many, when phase i begins, its workload's name. */
int sim_guest_nr_phases(const struct sim *s, int g);
double sim_guest_phase_at(const struct sim *s, int g, int i);
const char *sim_guest_phase_name(const struct sim *s, int g, int i);
int sim_guest_vcpus(const struct sim *s, int g);
unsigned sim_guest_flags(const struct sim *s, int g);	/* VNUMAD_GUEST_* */
uint64_t sim_guest_mem(const struct sim *s, int g, int node);
uint64_t sim_guest_mem_total(const struct sim *s, int g);
/*
 * Where first touch puts guest g's memory on a host with room on every
 * node (the scenario's mem_nodes, vnode_nodes, else where its vCPUs run):
 * mem[vnode * nr_nodes + node] bytes, whole pages, as sim_place takes it.
 */
void sim_guest_first_touch(const struct sim *s, int g, uint64_t *mem);
/* The memory the scenario gives the guest, whether it runs yet or not. */
uint64_t sim_guest_size(const struct sim *s, int g);

/*
 * True figures of the last step, without counter noise: the ground truth a
 * policy evaluation compares against. Zero for a guest that is not running.
 */
double sim_guest_ips(const struct sim *s, int g);
double sim_guest_remote_ratio(const struct sim *s, int g);	/* -1: no access */
double sim_vcpu_ips(const struct sim *s, int g, int vcpu);
int sim_vcpu_node(const struct sim *s, int g, int vcpu);	/* -1: not running */
uint64_t sim_vcpu_allowed(const struct sim *s, int g, int vcpu);

/*
 * Sets a vCPU's affinity to the nodes of the mask; the host scheduler moves
 * it during the next step. Returns 0, -EINVAL (bad vCPU or mask), -EPERM (the
 * guest is pinned) or -ESRCH (not running).
 */
int sim_set_affinity(struct sim *s, int g, int vcpu, uint64_t nodes);

/*
 * Starts moving m->bytes (0: all the guest has on m->from) from m->from to
 * m->to at up to `rate` bytes/s, and no faster than its share of the host's
 * migration rate when one is set; the steps update m->done, failed, error,
 * state and finished. m must stay valid until it is no longer
 * VN_MIG_RUNNING or has been cancelled. Returns 0, -EINVAL, -ESRCH or
 * -EOPNOTSUPP (memmove = no).
 */
int sim_migrate(struct sim *s, int g, struct vn_migration *m, double rate);
/*
 * The bytes/s that all migrations in flight share (the daemon's [limits]
 * migrate_rate), max-min fair; 0 (the default) lets each run at its own rate.
 */
void sim_set_migrate_rate(struct sim *s, double rate);
/* Stops a running migration; it ends VN_MIG_CANCELLED. */
void sim_cancel(struct sim *s, struct vn_migration *m);

/*
 * Counter deltas of one vCPU since its previous read (or since it started),
 * with the guest's counter noise; then starts a new interval. A guest that is
 * not running, or an interval with no simulated time, reads valid = false.
 */
int sim_read_counts(struct sim *s, int g, int vcpu, struct vn_counts *c);
/* Starts a new counting interval for every vCPU of the guest. */
void sim_reset_counts(struct sim *s, int g);

/*
 * Noise-free sums since the start of the scenario, kept after the guest has
 * left: instructions, DRAM accesses and the remote ones among them. Their
 * differences over a run are exact time integrals of the truth above.
 */
void sim_guest_totals(const struct sim *s, int g, double *instructions,
		      double *dram, double *remote);
double sim_guest_dram_rate(const struct sim *s, int g);	/* accesses/s, last step */

/*
 * The host's automatic NUMA balancing (sim_numab.c; [host] numa_balancing):
 * on or off at any time, as the sysctl; its work so far. Faults are counted
 * in pages of [host] page_size.
 */
struct sim_numab_totals {
	double hint_faults;		/* numa_hint_faults */
	double hint_faults_local;	/* numa_hint_faults_local */
	uint64_t bytes_migrated;	/* numa_pages_migrated, in bytes */
	uint64_t task_moves;		/* vCPUs moved to their preferred node */
};
void sim_set_numa_balancing(struct sim *s, bool on);
bool sim_numa_balancing(const struct sim *s);
void sim_numab_totals(const struct sim *s, struct sim_numab_totals *t);
/* What one thread copies of migrated memory, bytes/s ([host] numa_balancing_copy_rate). */
double sim_copy_rate(const struct sim *s);

/*
 * For evaluations of placements (the harness's oracle), not for backends.
 */
uint64_t sim_page_size(const struct sim *s);
/* Memory guests may use on a node: its memory less what the host reserves. */
uint64_t sim_node_mem_capacity(const struct sim *s, int node);
/* When a guest arrives and leaves (stop -1: never), as the scenario says. */
void sim_guest_span(const struct sim *s, int g, double *start, double *stop);
/* What happens at time t (within a nanosecond): SIM_EV_* bits. */
#define SIM_EV_ARRIVE	(1u << 0)
#define SIM_EV_LEAVE	(1u << 1)
#define SIM_EV_PHASE	(1u << 2)
unsigned sim_event_kind(const struct sim *s, double t);
/* Time of the first event after t (any kind); -1: none. */
double sim_event_after(const struct sim *s, double t);
/* Time of the next arrival, departure or phase change; -1: none left. */
double sim_next_event(const struct sim *s);
int sim_guest_vnodes(const struct sim *s, int g);
/*
 * Bytes of one guest NUMA node on a node, or on all with node = -1 (for a
 * guest not running: what it will get, on all nodes).
 */
uint64_t sim_guest_vnode_mem(const struct sim *s, int g, int vnode, int node);
int sim_vcpu_vnode(const struct sim *s, int g, int vcpu);
/* Share of a guest's memory that takes its accesses ([guest] hot). */
double sim_guest_hot(const struct sim *s, int g);
/* Hot bytes of one guest NUMA node on a node (0 for a guest not running). */
double sim_guest_vnode_hot(const struct sim *s, int g, int vnode, int node);
/* The workload in force (an index, stable for the model's life); -1: none. */
int sim_guest_workload(const struct sim *s, int g);
/*
 * Puts a running guest where asked at once, with no migration and no cost:
 * vCPU v on node vcpu_node[v] (its affinity becomes that node alone), and
 * mem[vnode * nr_nodes + node] bytes of each guest NUMA node on each node
 * (whole pages; each vnode's total unchanged). hot[] (same layout, bytes)
 * says where each vnode's hot pages are: within mem[], adding up to the
 * guest's hot share of the vnode; NULL spreads them like the rest. Any
 * array may be NULL to leave that part as it is. Node capacity is not
 * checked: the caller places a whole assignment it has checked. Cancels the
 * guest's migrations. Returns 0, -EINVAL or -ESRCH.
 */
int sim_place(struct sim *s, int g, const int *vcpu_node, const uint64_t *mem,
	      const double *hot);
/*
 * For evaluations: sets a vCPU's affinity mask, even a pinned guest's, as
 * sim_place left it before; the scheduler moves the vCPU in the next step
 * or settle. Returns 0, -EINVAL or -ESRCH.
 */
int sim_set_allowed(struct sim *s, int g, int vcpu, uint64_t nodes);
/*
 * Solves the model again at the current time, without moving time on or
 * counting: the host scheduler's pass, then the bandwidth fixed point to
 * convergence. sim_guest_ips() and the other figures of the last step then
 * describe the steady state. Returns the sum of the guests' IPS.
 */
double sim_settle(struct sim *s);
/*
 * The same with guest g alone on the host (the others and all migration
 * traffic away): its instructions per second there, the yardstick of its
 * progress. The live set is restored, but node loads and bandwidth figures
 * are the lone guest's until the next step or settle. 0: not running.
 */
double sim_settle_alone(struct sim *s, int g);

#endif
