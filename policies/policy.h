/* SPDX-License-Identifier: MIT */
/*
 * vnumad policy ABI, installed as <vnumad/policy.h>; see vnumad-policy(7).
 *
 * A policy decides, once per tick, which vCPUs to move and which memory to
 * migrate. It sees a read-only view of the host built by the core and writes
 * proposals into a bounded buffer the core owns. The core checks every
 * proposal (capacity, user pinning, opt-out, quarantine, hysteresis, move and
 * bandwidth budgets) before anything is applied, and the rollback guard judges
 * every move that is applied. A policy never calls libvirt or libnuma.
 *
 * A plugin is a shared object that exports one symbol,
 *
 *	const struct vnumad_policy vnumad_policy = { ... };
 *
 * whose abi_major must equal VNUMAD_POLICY_ABI_MAJOR and whose size must be
 * at least the size of the version-1 descriptor. The header is self-contained
 * on purpose: a plugin needs nothing else from vnumad to build
 * (`pkg-config --cflags vnumad-policy`), and links against nothing of it.
 *
 * Compatibility: within major version 1, structures only grow at their end.
 * Those that carry a size (the descriptor, the view, the init args, the exit
 * info) say how much of them the other side knows: a plugin reads a member
 * added later only when VNUMAD_HAS(struct, pointer, member) says the core
 * filled it; a guest's, when VNUMAD_GUEST_HAS(view, member) does (the view
 * carries the guests' size). vcpus is an array: struct vnumad_vcpu keeps its
 * size within major version 1.
 * Units: bytes, seconds, bytes per second; shares are fractions (0.3 = 30%).
 */
#ifndef VNUMAD_POLICY_H
#define VNUMAD_POLICY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VNUMAD_POLICY_ABI_MAJOR	1
#define VNUMAD_POLICY_SYMBOL	"vnumad_policy"
#define VNUMAD_MAX_NODES	64
#define VNUMAD_REASON_MAX	160

/*
 * Where a figure came from, so nobody mistakes an estimate for a
 * measurement. New values may be added within major version 1: treat one
 * you do not know as VNUMAD_SRC_NONE's "not measured".
 */
enum vnumad_source {
	VNUMAD_SRC_NONE = 0,	/* no figure yet */
	VNUMAD_SRC_SIM,		/* the simulated host's counters */
	VNUMAD_SRC_PMU,		/* hardware counters */
	VNUMAD_SRC_FAULTS,	/* kernel NUMA-balancing fault statistics */
	VNUMAD_SRC_ESTIMATE,	/* memory share not on the thread's node; for a
				 * node's bw_used: charged from its guests'
				 * per-vCPU access rates */
	/* 1.2, node bandwidth (struct vnumad_node_info) */
	VNUMAD_SRC_HMAT,	/* the firmware's ACPI HMAT, through sysfs */
	VNUMAD_SRC_CONFIG,	/* the operator's [host] bandwidth */
	VNUMAD_SRC_UNCORE,	/* the memory controllers' counters (Intel
				 * uncore_imc CAS, AMD amd_umc umc_cas_cmd) */
};

/* True when the structure *p (with a size member) includes `member`. */
#define VNUMAD_HAS(type, p, member) \
	((p)->size >= offsetof(type, member) + sizeof(((type *)0)->member))

/*
 * One NUMA node of the host, indexed by its node number. A node exists
 * when its bit in the view's online mask is set; one that exists with
 * nr_cpus 0 is a memory-only node (a CXL memory expander, HBM in flat
 * mode, PMM given to the kernel as memory): memory may move to and from
 * it, vCPUs never go there (the core drops such moves). Before 1.2 the
 * core reported no such nodes and nr_cpus 0 meant "no such node".
 */
struct vnumad_node {
	int id;
	int nr_cpus;		/* 0: no CPUs (memory-only node, or no node) */
	uint64_t mem_total;	/* bytes */
	uint64_t mem_free;	/* bytes */
	double cpu_load;	/* CPU time used by the vCPUs that ran here / nr_cpus:
				 * measured use, so an over-committed node reads
				 * about 1, not what its vCPUs would want */
	double bw_used;		/* bytes/s of DRAM traffic served by this node:
				 * measured by its memory controllers, or charged
				 * from the vCPUs' access rates (node_info says
				 * which); 0 unknown */
	double bw_max;		/* bytes/s the node sustains: from ACPI HMAT, the
				 * configuration or the simulated host; 0 unknown */
};

/*
 * 1.2: more about each node, where the view's node_info points, indexed
 * like nodes. Its layout is fixed for major version 1 (an array of it).
 */
struct vnumad_node_info {
	enum vnumad_source bw_max_source;	/* HMAT, CONFIG, SIM; NONE: bw_max 0
						 * or not known where it came from */
	enum vnumad_source bw_used_source;	/* UNCORE, ESTIMATE; NONE: bw_used 0 */
	double read_latency;	/* ns from the node's nearest CPUs (HMAT), 0 unknown */
	double write_latency;
	double read_bandwidth;	/* bytes/s from the nearest CPUs (HMAT), 0 unknown */
	double write_bandwidth;
};

/* vcpu flags */
#define VNUMAD_VCPU_IN_TRIAL	(1u << 0)	/* a move of its guest is being judged */
#define VNUMAD_VCPU_HOLD	(1u << 1)	/* moved within [limits] hysteresis:
						 * a move of it is dropped */

/* One vCPU of a guest, with the model's smoothed figures. */
struct vnumad_vcpu {
	int index;		/* vCPU number inside the guest */
	int node;		/* node it ran on in the last tick, -1 unknown */
	int vnode;		/* guest (virtual) NUMA node, -1 none, else below
				 * VNUMAD_MAX_NODES; the view does not say
				 * which memory is whose vnode's */
	unsigned flags;		/* VNUMAD_VCPU_* */
	uint64_t allowed;	/* node mask of its CPU affinity */
	double ips;		/* instructions per second, 0 unknown */
	double ipc;		/* instructions per cycle, 0 unknown */
	double remote_ratio;	/* remote / (local + remote) DRAM accesses, -1 unknown */
	double remote_trend;	/* change of remote_ratio per minute */
	double access_rate;	/* DRAM accesses per second, -1 unknown (the
				 * /proc fallback sees locality, not traffic) */
	double cpu_demand;	/* share of one CPU it used, 0..1 */
	double last_move_age;	/* seconds since vnumad last moved it, -1 never */
	enum vnumad_source source;
};

/* guest flags; a proposal for a PINNED, OPTED_OUT or IN_TRIAL guest is dropped */
#define VNUMAD_GUEST_PINNED	(1u << 0)	/* the user pinned it: hands off */
#define VNUMAD_GUEST_OPTED_OUT	(1u << 1)	/* excluded by configuration or metadata */
#define VNUMAD_GUEST_NO_MEMMOVE	(1u << 2)	/* the backend cannot migrate its memory */
#define VNUMAD_GUEST_MIGRATING	(1u << 3)	/* a memory migration is in flight */
#define VNUMAD_GUEST_IN_TRIAL	(1u << 4)	/* a move of it is being judged */
/*
 * 1.3 (a flag, no change of layout): set beside PINNED when the user pinned
 * the guest's vCPUs and left its memory free (libvirt's <vcpupin> or <vcpu
 * cpuset> without a <numatune>). Its vCPUs stay where the user put them;
 * the core admits a VNUMAD_MOVE_MEMORY of it to a node its vCPUs may run
 * on, and drops every other move. This is what the kernel's NUMA
 * balancing does for a pinned task, and what such a guest loses when
 * vnumad switches that off. A policy that does not know the flag sees a
 * pinned guest and leaves it alone.
 */
#define VNUMAD_GUEST_MEMORY_FREE	(1u << 5)

/* One guest. Its index in view->guests may change from tick to tick; its
 * name does not (a guest that restarts under the same name is a new guest,
 * with a new id). */
struct vnumad_guest {
	const char *name;
	unsigned flags;		/* VNUMAD_GUEST_* */
	int nr_vcpus;
	const struct vnumad_vcpu *vcpus;
	uint64_t mem[VNUMAD_MAX_NODES];	/* bytes of guest memory on each node */
	uint64_t mem_total;
	uint64_t quarantine;	/* node mask of targets it must not be moved to */
	double ips;		/* sum over its vCPUs */
	double remote_ratio;	/* access-weighted over its vCPUs, -1 unknown */
	/* 1.2; read with VNUMAD_GUEST_HAS(view, member) */
	uint64_t id;		/* unique per incarnation, never reused: stable
				 * while the guest runs, new when it restarts */
	double age;		/* seconds it has run: since its hypervisor
				 * process started where the backend knows
				 * (proc, libvirt on this host), else since
				 * the core first saw it (a daemon restart
				 * then makes it young again) */
	int nr_vnodes;		/* guest NUMA nodes, 0 without vNUMA */
	const uint64_t *vnode_mem;	/* [k * VNUMAD_MAX_NODES + n]: bytes of
					 * vnode k's memory on node n, k <
					 * nr_vnodes; NULL when the counter
					 * source cannot tell vnodes apart */
	void *priv;		/* the policy's storage for this guest: what its
				 * guest_init set, NULL without one */
};

/*
 * The host as the core sees it at the start of the policy stage. Everything
 * it points to is valid during the tick call only: copy what must outlive it.
 */
struct vnumad_view {
	uint32_t size;		/* sizeof(struct vnumad_view) of the core */
	uint64_t tick;
	double now;		/* seconds since the daemon started (simulated
				 * seconds on the simulated host) */
	double interval;	/* seconds per tick */
	int nr_nodes;		/* highest node number + 1 */
	uint64_t online;	/* node mask of nodes that exist */
	const struct vnumad_node *nodes;	/* [nr_nodes] */
	const uint8_t *distance;	/* [nr_nodes * nr_nodes], SLIT (10 = local) */
	int nr_guests;
	const struct vnumad_guest *const *guests;
	/* 1.1; read with VNUMAD_HAS(struct vnumad_view, view, member) */
	double migrate_budget;	/* bytes of migration the core would accept in
				 * this tick ([limits] migrate_rate x 60 s, less
				 * what is queued); 0 unknown, 1 (less than a
				 * page) none: the queue is full */
	/* 1.2 */
	const struct vnumad_node_info *node_info;	/* [nr_nodes] */
	uint32_t guest_size;	/* sizeof(struct vnumad_guest) of the core */
	double migrate_rate;	/* bytes/s all migrations share ([limits]
				 * migrate_rate): what a move costs in time; 0
				 * unknown */
};

/* True when the core's guests include `member` (a 1.2 addition or later). */
#define VNUMAD_GUEST_HAS(view, member) \
	(VNUMAD_HAS(struct vnumad_view, view, guest_size) && \
	 (view)->guest_size >= offsetof(struct vnumad_guest, member) + \
			       sizeof(((struct vnumad_guest *)0)->member))

enum vnumad_proposal_kind {
	VNUMAD_MOVE_VCPU = 1,	/* vcpu of guest to node `to` (its CPU set) */
	VNUMAD_MOVE_MEMORY,	/* `bytes` of guest memory from node `from` to `to`;
				 * pages are taken at random from every vnode
				 * that has memory on `from` */
	VNUMAD_MOVE_GUEST,	/* every vCPU of guest to `nodes`; memory outside
				 * them moves to the one with most free memory */
};

/*
 * One proposal. Its layout is fixed for major version 1 (the core's buffer
 * is an array of it): fill it from zero (memset or an initializer) and
 * append it with vnumad_propose().
 */
struct vnumad_proposal {
	enum vnumad_proposal_kind kind;
	int guest;		/* index into view->guests */
	int vcpu;		/* VNUMAD_MOVE_VCPU */
	int from;		/* VNUMAD_MOVE_MEMORY; informative for vCPU moves */
	int to;			/* VNUMAD_MOVE_VCPU, VNUMAD_MOVE_MEMORY */
	uint64_t bytes;		/* VNUMAD_MOVE_MEMORY; 0 = all on `from` */
	uint64_t nodes;		/* VNUMAD_MOVE_GUEST: node mask */
	double gain;		/* expected relative throughput gain of the guest
				 * (0.3: 30% faster); below [limits] min_gain the
				 * proposal is dropped, the rest go best first;
				 * not finite or beyond +-1000: invalid */
	char reason[VNUMAD_REASON_MAX];	/* plain words on one line, shown to
					 * operators (control characters as ?) */
};

/* The bounded buffer the core hands to tick(); the core owns the memory. */
struct vnumad_out {
	struct vnumad_proposal *buf;
	int cap;
	int len;
};

/*
 * Appends a proposal; returns 0, or -1 when the buffer is full (the
 * proposals already in it stand; a full buffer is not an error of tick).
 */
static inline int vnumad_propose(struct vnumad_out *out,
				 const struct vnumad_proposal *p)
{
	if (out->len >= out->cap)
		return -1;
	out->buf[out->len++] = *p;
	return 0;
}

/* Types of configuration keys a policy declares. */
enum vnumad_opt_type {
	VNUMAD_OPT_BOOL = 1,	/* yes/no, true/false, on/off, 1/0 */
	VNUMAD_OPT_INT,		/* integer, checked against min..max */
	VNUMAD_OPT_DOUBLE,	/* real number, checked against min..max */
	VNUMAD_OPT_PERCENT,	/* "30%" or "0.3", given to the plugin as 0.3 */
	VNUMAD_OPT_DURATION,	/* "500ms", "2s", "5min", given in seconds */
	VNUMAD_OPT_SIZE,	/* "512MiB", "4G", given in bytes */
	VNUMAD_OPT_STRING,
};

/*
 * One key of the section [policy.NAME]. The host parses the configuration,
 * applies the default when the key is absent and refuses values outside
 * min..max (ignored for BOOL and STRING; min == max means no range).
 */
struct vnumad_option {
	const char *name;
	enum vnumad_opt_type type;
	const char *def;	/* default, in configuration syntax */
	double min, max;	/* in the unit given to the plugin */
	const char *help;
};

/* A parsed option value; the member matching the type is set. */
struct vnumad_value {
	double num;		/* INT, DOUBLE, PERCENT, DURATION, SIZE */
	int boolean;		/* BOOL */
	const char *str;	/* STRING */
};

/* log levels for vnumad_init_args.log */
#define VNUMAD_LOG_ERR		3
#define VNUMAD_LOG_WARNING	4
#define VNUMAD_LOG_INFO		6
#define VNUMAD_LOG_DEBUG	7

/* What init gets; valid during the init call only (copy the values). */
struct vnumad_init_args {
	uint32_t size;		/* sizeof(struct vnumad_init_args) of the core */
	const struct vnumad_value *values;	/* one per declared option, in order */
	uint64_t seed;		/* for policies that draw random numbers: the same
				 * seed must give the same run */
	void (*log)(int level, const char *fmt, ...)	/* never NULL; any time */
		__attribute__((format(printf, 2, 3)));
};

/* Why a policy stops: what its exit callback (1.2) is told. */
enum vnumad_exit_kind {
	VNUMAD_EXIT_SHUTDOWN = 1,	/* the daemon stops */
	VNUMAD_EXIT_RELOAD,		/* a reload started the next configuration's
					 * policy (it may be this one again) */
	VNUMAD_EXIT_DISABLED,		/* its tick failed too often in a row: the
					 * core calls it no more and only advises */
	VNUMAD_EXIT_INIT_FAILED,	/* its init refused to start */
};

struct vnumad_exit_info {
	uint32_t size;		/* sizeof(struct vnumad_exit_info) of the core */
	enum vnumad_exit_kind kind;
	int error;		/* DISABLED, INIT_FAILED: the last negative errno */
	const char *reason;	/* the same in plain words, as logged */
	uint64_t ticks;		/* tick calls it answered */
};

/* descriptor flags; the core refuses bits it does not know */
#define VNUMAD_POLICY_F_ADVISORY_ONLY	(1u << 0)	/* never applied, only printed */
#define VNUMAD_POLICY_F_KNOWN		(VNUMAD_POLICY_F_ADVISORY_ONLY)

/*
 * The exported descriptor. The core checks at load that abi_major matches,
 * that size covers the version-1 members, that the name is valid, that no
 * unknown flag is set, that tick is set and that the option table is sound;
 * a plugin that fails any check is refused with a message naming its file.
 *
 * init:  NULL means the policy keeps no state (tick then gets priv NULL).
 *        Called once after the options are parsed; returns 0, or a negative
 *        errno to refuse to start (the daemon exits; a reload keeps the old
 *        policy). *priv starts NULL and is handed back to tick and fini.
 * tick:  required. Called once per tick from the second on (the first only
 *        primes the counters); a plugin's runs in its worker process (see
 *        vnumad-policy(7): no files, no sockets, no threads), and the daemon
 *        waits for it at most [policy] deadline: it must not block. Appends
 *        proposals to out and returns 0, or a negative errno: a failed
 *        tick's proposals are discarded, and after 3 failed ticks in a row
 *        the policy is disabled, with the reason logged, and the built-in
 *        default advises in its place (applying nothing). tick must not
 *        keep pointers into the view after it returns.
 * fini:  NULL means nothing to release. Called at shutdown, on reload (after
 *        the new configuration's policy started), and also after a failed
 *        init, with whatever init left in *priv.
 *
 * 1.2 (the core calls them only when the descriptor's size covers them):
 *
 * guest_init: NULL means no storage per guest. Called (on the event loop,
 *        or in the plugin's worker, which keeps the storage by guest id)
 *        before the first tick that sees a guest (a guest there when the
 *        policy starts is seen by its first tick), with the guest as the
 *        view has it; sets *gpriv (starting NULL), which the view then
 *        carries as guest->priv in every tick until the guest goes. Returns
 *        0, or a negative errno: the guest then has no storage (priv NULL)
 *        and is tried again the next tick. As sched_ext's init_task.
 * guest_exit: NULL means nothing to release. Called once for every guest
 *        guest_init succeeded for: when the guest goes (its view valid for
 *        the call), and for the guests left before fini. As exit_task.
 * exit:  NULL means nothing to say. Called once just before fini (or, after
 *        a failed init, before that fini) with why the policy stops; a
 *        policy the core disabled in process gets it, and its fini, right
 *        away (one in its worker is asked again later instead). As
 *        sched_ext's exit and its scx_exit_info.
 */
struct vnumad_policy {
	uint32_t abi_major;	/* VNUMAD_POLICY_ABI_MAJOR */
	uint32_t size;		/* sizeof(struct vnumad_policy) */
	const char *name;	/* [a-z0-9_-]{1,31}, names the [policy.NAME] section */
	const char *description;	/* one line for --help-policy, or NULL */
	uint64_t flags;		/* VNUMAD_POLICY_F_*; unknown bits are refused */
	const struct vnumad_option *options;	/* NULL or terminated by a NULL name */
	int (*init)(void **priv, const struct vnumad_init_args *args);
	int (*tick)(void *priv, const struct vnumad_view *view,
		    struct vnumad_out *out);
	void (*fini)(void *priv);
	/* 1.2 */
	int (*guest_init)(void *priv, const struct vnumad_guest *g, void **gpriv);
	void (*guest_exit)(void *priv, const struct vnumad_guest *g, void *gpriv);
	void (*exit)(void *priv, const struct vnumad_exit_info *info);
};

#define VNUMAD_POLICY_INIT \
	.abi_major = VNUMAD_POLICY_ABI_MAJOR, .size = sizeof(struct vnumad_policy)

#ifdef __cplusplus
}
#endif
#endif /* VNUMAD_POLICY_H */
