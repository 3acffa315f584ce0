/* SPDX-License-Identifier: MIT */
/*
 * What the samplers share, and the internal entry points the unit tests and
 * the benchmark use. Not part of the core's interface: sampling.h is.
 */
#ifndef VN_SAMPLING_IMPL_H
#define VN_SAMPLING_IMPL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* libpfm4's header carries its own struct perf_event_attr: never mix it
 * with <linux/perf_event.h>. */
#include <perfmon/pfmlib_perf_event.h>

#include "vnumad.h"

struct mem_state;
struct vn_config;
struct vn_sampler;

/* ---- CPU models and their event tables (pmu_events.c) ---- */

/* The four counters of a group, in this order, also in [sampling] events. */
enum pmu_role {
	PMU_CYCLES,
	PMU_INSTRUCTIONS,
	PMU_LOCAL_DRAM,
	PMU_REMOTE_DRAM,
	PMU_NR_ROLES
};

extern const char *const pmu_role_names[PMU_NR_ROLES];

enum cpu_vendor {
	CPU_VENDOR_OTHER,
	CPU_VENDOR_INTEL,
	CPU_VENDOR_AMD,
};

/* What CPUID says about the CPU vnumad runs on. */
struct cpu_id {
	enum cpu_vendor vendor;
	char vendor_str[13];
	int family;		/* display family (base + extended) */
	int model;		/* display model (extended model folded in) */
	int stepping;
	bool hypervisor;	/* CPUID.1:ECX[31]: we run inside a VM */
};

/*
 * The events of one family of CPU models: the libpfm4 names of its four
 * events in a libpfm4 PMU table, the encodings libpfm4 must produce for
 * them, and what the kernel must call the PMU for the offcore MSR values to
 * mean anything. sampling/EVENTS.md gives the source of every entry.
 */
struct pmu_table {
	const char *pfm_pmu;	/* "spr" */
	const char *event[PMU_NR_ROLES];
	uint64_t config[PMU_NR_ROLES];	/* expected attr.config */
	uint64_t config1[PMU_NR_ROLES];	/* attr.config1 counted with (offcore MSR) */
	/*
	 * Where libpfm4 cannot express Intel's MSR value (HSX, BDX, the
	 * not-local masks of ICX and later), what it encodes for the name;
	 * vnumad then sets config1 itself. 0: libpfm4 encodes config1.
	 */
	uint64_t pfm_config1[PMU_NR_ROLES];
	/*
	 * The values of /sys/bus/event_source/devices/cpu/caps/pmu_name of a
	 * kernel that knows the model (NULL-terminated), or NULL where the
	 * kernel publishes no name (AMD) and the events need no model support.
	 */
	const char *const *pmu_names;
};

/*
 * One CPU model: the CPUID range it covers and its table. The table is not
 * always the model's own in libpfm4 (4.13 has no EMR, GNR or Zen 5 table:
 * those borrow SPR's and Zen 4's, whose events they share).
 */
struct pmu_model {
	const char *name;	/* "Intel Sapphire Rapids" */
	enum cpu_vendor vendor;
	int family;
	int model_lo, model_hi;
	int step_lo, step_hi;
	const struct pmu_table *tab;
	const char *why;	/* refused models (tab NULL): the reason */
};

extern const struct pmu_model pmu_models[];
extern const int pmu_nr_models;
/* Models recognised and refused (Zen 6, ...), with the reason. */
extern const struct pmu_model pmu_refused[];
extern const int pmu_nr_refused;

void cpu_identify(struct cpu_id *id);
/* The table entry for a CPU, or NULL when vnumad does not know it. */
const struct pmu_model *pmu_model_find(const struct cpu_id *id);
/* The refused entry for a CPU vnumad recognises but has no events for. */
const struct pmu_model *pmu_model_refused(const struct cpu_id *id);
/* "vendor GenuineIntel family 6 model 0x97 stepping 2", for messages. */
char *cpu_id_str(const struct cpu_id *id, char *buf, size_t len);
/*
 * Whether the running kernel knows the model: caps/pmu_name under the
 * sysfs root is one of the table's names. A kernel that does not know it
 * ignores the offcore MSR value (config1) without an error, so OCR counts
 * would mean nothing. 0, or -1 with the reason in why.
 */
int pmu_kernel_check(const struct pmu_model *m, char *why, size_t len);

#define PMU_NAME_MAX	160

/* An event ready for perf_event_open, with the name it came from. */
struct pmu_event {
	char name[PMU_NAME_MAX];
	struct perf_event_attr attr;
};

/*
 * Encodes one libpfm4 name into a counting attr with exclude_guest = 0 (a
 * vCPU thread spends its useful time in guest mode, which libpfm4 leaves out
 * by default). pmu_hint, when not NULL, is tried first as "HINT::name" for
 * an unqualified name. Returns 0, or -1 with the reason in err.
 */
int pmu_encode(const char *name, const char *pmu_hint, struct pmu_event *ev,
	       char *err, size_t errlen);
/*
 * The four events to count: [sampling] events when set (events, may be
 * NULL), else the table of this CPU's model. *model is set when the table
 * was used (or the model is known). Returns 0, or -1 with a message in err.
 */
int pmu_resolve(const char *events, const struct cpu_id *id,
		struct pmu_event ev[PMU_NR_ROLES], const struct pmu_model **model,
		char *err, size_t errlen);

/* ---- the PMU sampler (pmu.c) ---- */

/* Most counters in one group: the four roles and cpu-migrations. */
#define PMU_MAX_FDS	(PMU_NR_ROLES + 1)

/*
 * Opens the PMU sampler on explicit events instead of the CPU's table: the
 * first n (1..4) take the roles in enum pmu_role order, missing ones read 0.
 * The unit tests and the benchmark use software events through this.
 */
int pmu_open_events(struct vn_sampler *s, const struct pmu_event *ev, int n);
/* Descriptors the sampler holds open (the procfs source's after a fallback). */
int pmu_nr_fds(const struct vn_sampler *s);
/*
 * Tests: treat the events as the core PMU's, as if they counted guest mode
 * (software events stand in for them where there is no hardware PMU).
 */
void pmu_assume_core(struct vn_sampler *s);
/* Whether the PMU source gave up and hands everything to procfs. */
bool pmu_fell_back(const struct vn_sampler *s);
/* The last error message logged, "" when none. */
const char *pmu_last_error(const struct vn_sampler *s);
/*
 * Checks that the events open on this CPU and mean something: one trial
 * group on the calling thread, which then reads 4 MiB of fresh, flushed
 * memory; with DRAM roles given, they must count some of it (-ENODATA
 * when they count nothing). Returns 0 or a negative errno with the reason
 * in why.
 */
int pmu_probe(const struct pmu_event *ev, int n, char *why, size_t len);

/* A counter delta scaled for the share of the interval it was counting. */
static inline uint64_t pmu_scale(uint64_t delta, uint64_t d_enabled,
				 uint64_t d_running)
{
	if (d_running == 0 || d_running >= d_enabled)
		return delta;
	return (uint64_t)((double)delta * (double)d_enabled /
			  (double)d_running + 0.5);
}

/* sampling_select() for a given CPU instead of this one. */
const struct vn_sampler_ops *sampling_select_cpu(const struct vn_config *cfg,
						 const struct cpu_id *id,
						 char *why, size_t len);

/* ---- the memory controllers (uncore.c) ---- */

/* One counter the memory controllers of a node would need. */
struct mc_plan {
	char pmu[32];		/* "uncore_imc_3", "amd_umc_0" */
	int type;		/* the PMU's perf type */
	uint64_t config;	/* CAS reads or writes, through its formats */
	int cpu;		/* the CPU it counts on (the PMU's cpumask) */
	int node;		/* the node it serves */
	double bytes;		/* bytes per count */
};

/*
 * The counters the memory-controller PMUs under the sysfs root would need
 * (up to max); how many. why says what is left out and why (empty: none).
 */
int mc_bw_plan(struct mc_plan *out, int max, char *why, size_t len);

struct mc_bw;
/*
 * Opens the memory controllers' counters, shared by whoever asks (the PMU
 * source and its procfs fallback alike); NULL, with the reason logged, when
 * no node's controllers can be counted. mc_bw_put() releases.
 */
struct mc_bw *mc_bw_get(void);
void mc_bw_put(struct mc_bw *m);
/*
 * Bytes per second each measured node's controllers moved since the last
 * call into bw; returns the nodes measured (0 at the first call, which
 * starts the interval).
 */
uint64_t mc_bw_read(struct mc_bw *m, double bw[VN_MAX_NODES]);
/* A sampler's nodes(): the measured nodes' bw_used, labelled uncore. */
void mc_bw_fill(struct mc_bw *m, struct vn_host *h);

/* ---- the procfs sampler (procfs.c) ---- */

/* Descriptors the procfs sampler holds open. */
int procfs_nr_fds(const struct vn_sampler *s);
/* Whether it reads NUMA-balancing fault statistics (kernel exposes them). */
bool procfs_uses_faults(const struct vn_sampler *s);

/* ---- shared helpers (common.c, numa_maps.c) ---- */

/*
 * The sysfs tree the samplers read ("/sys"; the tests point it at a fake
 * tree): the core PMU's caps/pmu_name, KVM's module parameters, the memory
 * controllers' PMUs.
 */
void sampling_set_sysfs_root(const char *root);
const char *sampling_sysfs_root(void);
/* Reads ROOT/rel into buf, NUL-terminated, one trailing newline cut;
 * its length, or a negative errno. */
ssize_t sysfs_read(const char *rel, char *buf, size_t len);

/* Fills g->v.mem[] and mem_total from /proc/PID/numa_maps of g->pid. */
int numa_maps_guest(struct vn_guest *g);

/* ---- memory per node from the memory cgroup (cgroup.c) ---- */

/* Where the cgroup hierarchies are mounted (/proc/self/mountinfo). */
struct cg_mounts {
	char v1[PATH_MAX];	/* the v1 hierarchy with the memory controller */
	char v1_root[PATH_MAX];	/* the part of it that mount shows */
	char v2[PATH_MAX];	/* the cgroup2 mount */
	char v2_root[PATH_MAX];
};

/* Fills m from mountinfo text; the number of hierarchies found (0-2). */
int cg_mounts_parse(const char *buf, size_t len, struct cg_mounts *m);
/*
 * The directory of a process's memory cgroup, from its /proc/PID/cgroup
 * text: the v1 memory hierarchy's when there is one, else the cgroup2
 * one's nearest ancestor with memory.numa_stat (a threaded cgroup has
 * none). Returns the version (1, 2), or -ENOENT with the reason in why.
 */
int cg_resolve(const struct cg_mounts *m, const char *buf, size_t len,
	       char *dir, size_t dlen, char *why, size_t wlen);
/*
 * Bytes per node of a memory.numa_stat text that count as guest memory:
 * v1 anon + unevictable (pages), v2 anon + shmem (bytes). 0, or -EINVAL
 * when those lines are missing.
 */
int numa_stat_parse(const char *buf, size_t len, int version,
		    uint64_t mem[VN_MAX_NODES]);
/* RssAnon, RssShmem and HugetlbPages of /proc/PID/status, in bytes; 0 or -EINVAL. */
int proc_status_mem(const char *buf, size_t len, uint64_t *anon,
		    uint64_t *shmem, uint64_t *hugetlb);
/* Whether a cgroup's figure agrees with the process's resident memory. */
bool cg_agrees(uint64_t cgroup, uint64_t rss);
/*
 * The samplers' memory(): g->v.mem[] from the guest's own memory cgroup
 * when it has one, else from numa_maps; g->mem_source says which ("cgroup
 * v1", "cgroup v2", "numa_maps"). The guest's thread table, when it has
 * one, keeps what was found between readings. 0 or a negative errno
 * (-ESRCH: the process is gone).
 */
int guest_memory(struct vn_guest *g);
/* The cgroup directory the last reading came from, or NULL. */
const char *mem_state_dir(const struct mem_state *st);
void mem_state_free(struct mem_state *st);

/*
 * Parses /proc/PID/task/TID/stat: the CPU the thread last ran on (field 39)
 * and utime + stime (fields 14, 15) in clock ticks. 0, or -EINVAL.
 */
int proc_stat_parse(const char *buf, size_t len, int *cpu, uint64_t *ticks);
/* The same file's starttime (field 22), clock ticks after boot. 0, or -EINVAL. */
int proc_stat_start(const char *buf, size_t len, uint64_t *start);
/*
 * Parses the NUMA-balancing memory fault counts per node out of
 * /proc/PID/task/TID/sched (lines "numa_faults node=N task_private=..
 * task_shared=.." since Linux 4.2, "numa_faults_memory, i, N, .., .., F"
 * before). Returns the number of such lines, 0 when the kernel shows none.
 */
int sched_faults_parse(const char *buf, size_t len,
		       uint64_t faults[VN_MAX_NODES]);
/* The node of a CPU (libnuma, cached), 0 without NUMA, -1 for a bad CPU. */
int cpu_to_node(int cpu);
/*
 * Makes room for `more` descriptors beyond `held` ones by raising the soft
 * RLIMIT_NOFILE, then the hard one when allowed. 0 if there is room.
 */
int fd_reserve(int held, int more);

/*
 * The vCPU threads a source watches for one guest (g->sampler), indexed
 * like g->vc when attach last ran; g->vc[i].sampler points at entry i.
 * Each source's per-thread state begins with a struct vcpu_thread, which
 * lets threads_attach keep, open and close the states for it.
 */
struct vcpu_thread {
	pid_t tid;
	bool gone;		/* exited: its descriptors are closed */
	int node;		/* node it last ran on, -1 unknown */
};

struct thread_table {
	int nr;
	struct vcpu_thread **t;
	struct mem_state *mem;	/* the guest's memory source (cgroup.c) */
};

struct thread_ops {
	/* the state of vCPU i's thread: 0, or a negative errno (-ESRCH: gone) */
	int (*open)(void *priv, struct vn_guest *g, int i, struct vcpu_thread **out);
	/* closes and frees a state (NULL: nothing) */
	void (*free)(void *priv, struct vcpu_thread *t);
	/* says, in the source's error, why `need` threads found no descriptors */
	void (*no_room)(void *priv, struct vn_guest *g, int need);
	int fds_per_thread;
};

/*
 * (Re)builds the guest's table: keeps the state of every thread still
 * there (its counts continue), frees the rest, and opens the new ones
 * after making room for their descriptors (*held: those the source holds).
 * 0, -EMFILE when there is no room, or the first open error (the rest
 * would fail alike: it stops there); threads that vanished are not errors.
 */
int threads_attach(struct vn_guest *g, const struct thread_ops *ops, void *priv,
		   const int *held);
/* Frees the guest's table and every state in it. */
void threads_detach(struct vn_guest *g, const struct thread_ops *ops, void *priv);
/* vCPU i's state as attach last left it, or NULL. */
struct vcpu_thread *threads_get(const struct vn_guest *g, int i);

/* Raises RLIMIT_NOFILE after an EMFILE; 0 when it went up. */
int fd_raise_after_emfile(void);
/* Explains a perf_event_open failure with what to change. */
char *perf_errstr(int err, char *buf, size_t len);
/*
 * Whether KVM's mediated vPMU is enabled: the enable_mediated_pmu
 * parameter of kvm_intel or kvm_amd under the sysfs root reads Y (which
 * names the module). While a guest with a mediated PMU exists, the kernel
 * refuses core PMU events that count guest mode (EOPNOTSUPP); while such an
 * event exists, a new mediated guest's first vCPU cannot be created
 * (EBUSY). 1 or 0.
 */
int kvm_mediated_pmu(char *which, size_t len);
/* Whether some of the events are the core PMU's, not software events. */
bool pmu_counts_core(const struct pmu_event *ev, int n);
/* kernel.perf_event_paranoid, or INT_MIN when the file is missing. */
int perf_paranoid(void);
/* Whether the effective capabilities include cap (a CAP_* number). */
bool have_cap(int cap);
/* open() with O_CLOEXEC that raises RLIMIT_NOFILE once on EMFILE; fd or -errno. */
int open_retry(const char *path, int flags);
/* Reads a small /proc file through a descriptor kept open; bytes or -errno. */
ssize_t pread_all(int fd, char *buf, size_t len);

#endif
