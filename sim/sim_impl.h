/* SPDX-License-Identifier: MIT */
/*
 * Inside the simulated host: the structures shared by the scenario loader
 * (sim_scenario.c), the model (sim_model.c) and the backend (sim_backend.c).
 */
#ifndef VN_SIM_IMPL_H
#define VN_SIM_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sim.h"
#include "util.h"

#define SIM_LINE_BYTES	64	/* bytes moved by one DRAM access */
#define SIM_UTIL_MAX	0.98	/* utilisation cap of the queueing formula */
#define SIM_SOLVE_ITERS	12	/* most Newton updates per step */
#define SIM_SOLVE_EPS	1e-7	/* ... fewer once utilisation moves less */
#define SIM_SETTLE_ITERS 100	/* most Newton updates of sim_settle() */
#define SIM_TIME_EPS	1e-9	/* seconds: events this close are "now" */
#define SIM_BUSY_MIN	0.25	/* per-CPU load under which nodes never balance */

/* What a workload asks of the machine. */
struct sim_workload {
	char *name;
	double mpki;		/* DRAM accesses per 1000 instructions */
	double cpi;		/* cycles per instruction with no DRAM miss */
	double mlp;		/* misses in flight at once */
	double demand;		/* share of one CPU it wants, 0..1 */
	double prefetch;	/* share of its DRAM reads the prefetchers bring */
};

/* Which workload parameters a guest overrides. */
#define SIM_OVR_MPKI	(1u << 0)
#define SIM_OVR_CPI	(1u << 1)
#define SIM_OVR_MLP	(1u << 2)
#define SIM_OVR_DEMAND	(1u << 3)
#define SIM_OVR_PREFETCH	(1u << 4)

/* What a backend tells of node bandwidth ([host] bandwidth_info). */
enum sim_bw_info {
	SIM_BW_NONE,		/* nothing: what libvirt and /proc give */
	SIM_BW_HMAT,		/* ACPI HMAT: the firmware's peak */
	SIM_BW_CONFIGURED,	/* an operator's measured figure */
};

/* Which DRAM accesses the counters see ([host] counters). */
enum sim_counters {
	SIM_COUNT_DEMAND,	/* demand reads: Intel OCR/MEM_LOAD, Zen 2 */
	SIM_COUNT_FILLS,	/* demand and prefetch fills: Zen 3 to 5 */
	SIM_COUNT_EXACT,	/* every access: the model's truth */
	SIM_COUNT_NONE,		/* no PMU: the /proc fallback's memory-share estimate */
};

/* HMAT's bandwidth is the channels' peak; STREAM sustains this share. */
#define SIM_HMAT_SUSTAINED	0.8

struct sim_phase {
	double at;		/* simulated time it begins */
	int workload;		/* index into sim->wl */
};

enum sim_guest_state {
	SIM_PENDING,		/* has not arrived yet */
	SIM_LIVE,
	SIM_GONE,		/* left at its stop time */
	SIM_REFUSED,		/* could not start: not enough memory */
};

/* vCPUs of one guest that run alike in a speed pass (sim_model.c). */
struct sim_group {
	int first;		/* its first vCPU */
	int count;
	double ips;
	double lost;		/* share of its accesses the counters do not see */
};

/* One vCPU thread. */
struct sim_vcpu {
	int vnode;		/* guest NUMA node */
	int node;		/* node it runs on, -1 not running */
	double share;		/* CPUs it got in the last step */
	double ips;		/* instructions per second in the last step */
	/* counters accumulated since the last read */
	double cycles, instructions, local, remote, cpu_time, elapsed;
	struct vn_rng rng;	/* counter noise, one stream per vCPU */
};

struct sim_guest {
	struct sim *sim;
	int index;
	char *name;
	pid_t pid;
	unsigned flags;		/* VNUMAD_GUEST_* */
	enum sim_guest_state state;
	int nr_vcpus;
	int nr_vnodes;
	uint64_t memory;	/* bytes, a whole number of pages */
	double start, stop;	/* stop < 0: never */
	double age;		/* how long it had run when the scenario began (start 0) */
	double hot;		/* share of memory that takes the accesses */
	uint64_t mig_step;	/* bytes vnumad's migrations moved this step */
	double vnode_locality;	/* share of accesses to the vCPU's own vnode */
	double noise;		/* sd of the multiplicative counter noise */

	/* workload: base, phases, per-guest overrides */
	int workload;
	struct sim_phase *phases;
	int nr_phases;
	int phase;		/* current, -1 before the first */
	struct sim_workload ovr;
	unsigned ovr_mask;	/* SIM_OVR_* */
	double mpi, cpi, mlp, demand, prefetch;	/* in force now */

	/* placement asked for by the scenario */
	uint64_t vcpu_nodes;
	double *mem_weight;	/* [nr_nodes] or NULL: first touch */
	int *vnode_node;	/* [nr_vnodes] or NULL */

	/* per vCPU, contiguous for struct vn_guest_desc */
	struct sim_vcpu *vcpu;
	pid_t *tids;
	uint64_t *allowed;
	int *vnode;

	/* memory by guest NUMA node and host node: [vnode * nr_nodes + node] */
	uint64_t *mem;
	double *hot_bytes;
	double *dist;		/* share of a vnode's accesses per host node */
	int *nz;		/* [vnode * nr_nodes + i]: nodes with dist > 0 */
	int *nnz;		/* [vnode]: how many */
	unsigned *gstamp;	/* [vnode * nr_nodes + node]: speed pass scratch */
	int *gidx;		/* ... the group of that key */
	uint64_t mem_node[VN_MAX_NODES];	/* summed over vnodes */
	bool dist_dirty;

	double ips;		/* last step, summed over vCPUs */
	double remote_ratio;
	double dram_rate;	/* DRAM accesses per second, last step */
	/* noise-free sums since the start, for evaluations of placements */
	double total_instructions, total_dram, total_remote;
	bool refused_logged;
};

struct sim_node {
	int cpus;
	uint64_t mem_total;
	uint64_t reserved;	/* taken by the host itself */
	uint64_t mem_used;	/* by guests */
	double bw_max;		/* bytes/s */
	double load;		/* CPU demand placed here */
	double cpu_factor;	/* share of its demand each vCPU gets */
	double bw_used;		/* bytes/s served in the last step, migrations too */
};

/* Automatic NUMA balancing (sim_numab.c): one guest's scanner and faults. */
struct sim_numab_guest {
	double next_scan;	/* mm->numa_next_scan */
	double period;		/* numa_scan_period, seconds per window */
	double pos;		/* share of the memory scanned in this pass */
	int seq;		/* numa_scan_seq: passes completed */
	int preferred;		/* numa_preferred_nid, -1 none */
	double next_place;	/* numa_migrate_retry */
	/* decayed fault statistics, and this pass's, per node */
	double faults_mem[VN_MAX_NODES], faults_cpu[VN_MAX_NODES];
	double pass_mem[VN_MAX_NODES], pass_cpu[VN_MAX_NODES];
	/* numa_faults_locality and private/shared, since the last update */
	double local, remote, priv, shared;
	double *credit;		/* [vnode][from][to] pages owed a migration */
	double *pass_hot;	/* [vnode][node] hot bytes when the pass began */
	bool owed;		/* some credit is left */
};

#define SIM_NUMAB_MAX_VCPUS	1024

struct sim_numab {
	bool on;
	double scan_delay, period_min, period_max;	/* seconds */
	uint64_t scan_size;	/* bytes */
	double fault_cost;	/* seconds a hinting fault costs the vCPU */
	double copy_rate;	/* bytes/s a faulting vCPU copies a page at */
	struct sim_numab_guest *g;	/* [nr_guests] */
	struct sim_numab_totals totals;
};

/* A migration in flight. */
struct sim_mig {
	struct vn_migration *m;
	struct sim_guest *g;
	int to;			/* target node, kept after m ends */
	uint64_t target;	/* bytes to move, whole pages */
	uint64_t moved;
	double rate;
	double credit;		/* bytes the rate allows but not yet moved */
};

struct sim {
	char *name;		/* scenario file, for messages */
	uint64_t seed;
	double step;		/* longest model step, seconds */
	double duration;
	double now;
	double stamp;		/* time given to migrations that end now */

	/* host */
	int nr_nodes;
	uint64_t online;
	uint64_t cpu_nodes;	/* nodes with CPUs: the others hold memory only */
	struct sim_node node[VN_MAX_NODES];
	uint8_t distance[VN_MAX_NODES * VN_MAX_NODES];	/* [from * nr_nodes + to] */
	double lat0[VN_MAX_NODES * VN_MAX_NODES];	/* cycles, unloaded */
	double lat[VN_MAX_NODES * VN_MAX_NODES];	/* cycles, solver scratch */
	double freq;		/* Hz */
	double queue_k;		/* latency * (1 + k u / (1 - u)) */
	double imbalance;	/* scheduler: spread when load differs by more */
	double link_bw;		/* bytes/s per node pair; 0: unlimited */
	enum sim_bw_info bw_info;
	enum sim_counters counters;
	/* [from]: nodes whose DRAM a vCPU on `from` reads without any
	 * counter seeing it ([host] uncounted) */
	uint64_t lost_from[VN_MAX_NODES];
	bool lose_snc, lose_memory_only;

	/* the bandwidth solve: one unknown per node, then one per link */
	int nr_vars;
	int *link_var;		/* [from * nr_nodes + to]: the link's; NULL: none */
	double *mult;		/* latency multiplier from queueing */
	double *util;		/* utilisation */
	double *traffic;	/* bytes/s it carries, migrations included */
	double *mig_bw;		/* bytes/s of migrations this step */
	double *mig_save;	/* scratch of sim_settle_alone */
	struct sim_group *grp;	/* [most vCPUs of a guest] speed pass scratch */
	unsigned stamp_id;
	double *cap;		/* bytes/s it sustains */
	double *jac;		/* [nr_vars^2] d traffic / d mult, scratch */
	double *rhs;		/* scratch */
	uint64_t page;		/* migration and placement granularity */
	double noise;		/* default for guests */

	struct sim_workload *wl;
	int nr_wl;
	struct sim_guest *guests;
	int nr_guests;
	struct sim_guest **live;	/* running guests, in scenario order */
	int nr_live;
	double *events;		/* sorted times of arrivals, departures, phases */
	int nr_events;
	int next_event;

	struct sim_mig *mig;
	int nr_mig, cap_mig;
	double mig_rate;	/* bytes/s all migrations share; 0: each its own */
	double *mig_share;	/* [cap_mig] scratch of run_migrations */

	struct sim_numab numab;	/* the host's automatic NUMA balancing */
};

/* sim_scenario.c */
struct sim *sim_parse(struct vn_ini *ini, struct vn_errors *e);

/* sim_model.c */
void sim_init_state(struct sim *s);
void sim_cancel_guest(struct sim *s, int g);
uint64_t sim_free_pages(const struct sim *s, int node);

/* sim_numab.c: [host] numa_balancing and its steps */
int sim_numab_parse(struct vn_ini *ini, struct vn_errors *e, struct sim *s);
void sim_numab_init(struct sim *s);
void sim_numab_free(struct sim *s);
void sim_numab_arrive(struct sim *s, struct sim_guest *g);
/* Scans, hinting faults, migrations on fault and task placement for h s. */
void sim_numab_step(struct sim *s, double h);
/* The node the guest's faults prefer, -1 none or balancing off. */
int sim_numab_preferred(const struct sim *s, const struct sim_guest *g);

#endif
