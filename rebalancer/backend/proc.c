// SPDX-License-Identifier: MIT
/*
 * The proc backend: VMM processes found in /proc, without libvirt. A guest
 * is a process whose executable is a VMM vmm.c knows (QEMU under any
 * accelerator, cloud-hypervisor, Firecracker), run by root, by vnumad's
 * own user or by one of [guests] users, with its vCPU threads named as
 * that VMM names them ("CPU n/KVM", "CPU n/TCG", "vcpuN", "fc_vcpu N").
 * Thread names and command lines are the process's own choice: they never
 * make another user's process, or another program, a guest.
 *
 * A guest's name comes from its command line (QEMU's -name,
 * cloud-hypervisor's API socket, Firecracker's --id), else "VMM-PID". A
 * name already taken (what vnumad keeps by name: journal, quarantines,
 * opt-outs) stays with the guest that has it, and among new processes
 * with the pid order of a scan (a wrapped pid), the one started first
 * gets it: the others get "-PID" appended. A QEMU whose threads bear no
 * names (no debug-threads=on, or single-threaded TCG) is a guest that
 * cannot be measured, and says why. vCPUs move with sched_setaffinity on
 * their threads, memory with the mover.
 *
 * Every scan walks /proc. A process that is no guest is remembered by pid
 * and start time and looked at again only every RECHECK seconds once it is
 * older than YOUNG seconds: QEMU creates its vCPU threads at start-up. A
 * guest's threads are listed again (a name read per thread) at every scan
 * while it is young, then when its thread count changes or every RELIST
 * seconds; in between a scan reads only its stat and its vCPU threads'
 * affinities.
 *
 * Before acting on a thread we check that it still belongs to the process
 * we found (same start time) and still bears the vCPU's name, so that a
 * reused pid or tid never gets a guest's affinity.
 */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "hostinfo.h"
#include "log.h"
#include "mover.h"
#include "registry.h"
#include "util.h"
#include "vmm.h"
#include "vnumad.h"

#define YOUNG	30.0	/* seconds a new process is looked at every scan */
#define RECHECK	60.0	/* seconds between looks at an older non-guest */
#define RELIST	30.0	/* seconds a guest's thread list is kept while its count holds */
#define SETTLED	3.0	/* seconds after which a QEMU with no vCPU thread names has none */
#define MAX_USERS	32	/* uids of [guests] users, root and our own included */

/* A VMM process found in /proc. */
struct pg {
	pid_t pid;
	uint64_t starttime;
	enum vmm_kind kind;
	char *name;
	char uuid[40];		/* from its command line, "" when it gives none */
	unsigned flags;
	int nr_vcpus;
	pid_t *tids;		/* [HI_MAX_VCPUS] */
	uint64_t *allowed;
	int nr_threads;		/* the process's thread count at the last listing */
	double listed;		/* when its threads were last listed */
	double found;		/* when it was found */
	bool unnamed;		/* QEMU without vCPU thread names: not measurable */
	char unmeasured[192];	/* why, "" when it is measured */
	char memory_fixed[128];	/* why its memory cannot move, "" when it can */
	char mempolicy[32];	/* a memory policy of the user's, "" the default */
	bool seen;
	uint64_t guest_id;
	struct pg *next;
};

/* A process that is not a guest, as of `checked`. */
struct nonguest {
	pid_t pid;
	uint64_t starttime;
	double first, checked;
	bool told;		/* a VMM of a user not ours: logged once */
};

struct proc_be {
	struct pg *guests;
	struct nonguest *neg;	/* sorted by pid */
	int nr_neg;
	struct vn_mover *mover;
	uid_t uids[MAX_USERS];	/* whose VMM processes are guests */
	int nr_uids;
	char *users;		/* [guests] users they were resolved from, joined */
	double users_at;	/* when */
};

static struct proc_be *pb_of(const struct vn_backend *b)
{
	return b->priv;
}

static int by_pid(const void *a, const void *b)
{
	const struct nonguest *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static struct nonguest *neg_find(struct proc_be *pb, pid_t pid)
{
	struct nonguest key = { .pid = pid };

	if (!pb->nr_neg)
		return NULL;
	return bsearch(&key, pb->neg, (size_t)pb->nr_neg, sizeof(*pb->neg), by_pid);
}

static struct pg *pg_find(struct proc_be *pb, pid_t pid)
{
	for (struct pg *p = pb->guests; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static void pg_free(struct pg *p)
{
	free(p->name);
	free(p->tids);
	free(p->allowed);
	free(p);
}

/*
 * A guest whose whole process the user bound to some CPUs (taskset,
 * numactl --cpunodebind, a cpuset) is pinned: vnumad moves no vCPU thread
 * of it, since the process's own affinity is the user's.
 */
static bool user_pinned(pid_t pid)
{
	cpu_set_t *set = hostinfo_cpuset_alloc(), *all = hostinfo_cpuset_alloc();
	size_t sz = hostinfo_cpuset_size();
	bool pinned = false;

	if (sched_getaffinity(pid, sz, set) == 0) {
		hostinfo_nodes_cpus(~0ULL, all);
		pinned = !CPU_EQUAL_S(sz, set, all);
	}
	CPU_FREE(set);
	CPU_FREE(all);
	return pinned;
}

static bool name_taken(const struct proc_be *pb, const char *name)
{
	for (const struct pg *p = pb->guests; p; p = p->next)
		if (p->name && !strcmp(p->name, name))
			return true;
	return false;
}

/*
 * Gives a new guest a name no guest of ours has: the one its command line
 * gives, else "VMM-PID"; taken, with "-PID" appended (and "-N" after that
 * while that too is taken, as by a guest that chose the very name). Control
 * characters become '?' here, as the core shows them, so that two names
 * the core would show alike are compared alike.
 */
static char *guest_name(struct proc_be *pb, pid_t pid, enum vmm_kind kind)
{
	const struct vmm *m = vmm_get(kind ? kind : VMM_QEMU);
	char cmd[16384], name[256];
	ssize_t n = hostinfo_cmdline(pid, cmd, sizeof(cmd));
	size_t l;

	if (n <= 0 || !vmm_guest_name(m->kind, cmd, (size_t)n, name, sizeof(name)))
		snprintf(name, sizeof(name), "%s-%d", m->id, (int)pid);
	for (char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	l = MIN(strlen(name), sizeof(name) - 32);
	for (int k = 1; name_taken(pb, name); k++) {
		if (k == 1)
			snprintf(name + l, sizeof(name) - l, "-%d", (int)pid);
		else
			snprintf(name + l, sizeof(name) - l, "-%d-%d", (int)pid, k);
	}
	return xstrdup(name);
}

/* The guest's UUID, where its command line gives one. */
static void guest_uuid(struct pg *p)
{
	char cmd[16384];
	ssize_t n = hostinfo_cmdline(p->pid, cmd, sizeof(cmd));

	if (n <= 0 || !vmm_guest_uuid(p->kind, cmd, (size_t)n, p->uuid, sizeof(p->uuid)))
		p->uuid[0] = '\0';
}

/*
 * The uids whose VMM processes are guests: root, our own, and [guests]
 * users, resolved again when the list changes and every RECHECK seconds
 * (libvirt's user may be made after vnumad starts). True when they changed.
 */
static bool resolve_users(struct vn_backend *b, double now)
{
	struct proc_be *pb = pb_of(b);
	char *const *users = b->cfg && b->cfg->users ? b->cfg->users : NULL;
	uid_t was[MAX_USERS];
	int nr_was = pb->nr_uids;
	char joined[1024] = "";
	size_t off = 0;

	for (int i = 0; users && users[i]; i++)
		off += (size_t)snprintf(joined + MIN(off, sizeof(joined) - 1),
					sizeof(joined) - MIN(off, sizeof(joined) - 1),
					"%s,", users[i]);
	if (pb->users && !strcmp(pb->users, joined) && now - pb->users_at < RECHECK)
		return false;
	memcpy(was, pb->uids, sizeof(was));
	free(pb->users);
	pb->users = xstrdup(joined);
	pb->users_at = now;
	pb->nr_uids = 0;
	pb->uids[pb->nr_uids++] = 0;
	pb->uids[pb->nr_uids++] = getuid();
	pb->uids[pb->nr_uids++] = geteuid();
	for (int i = 0; users && users[i] && pb->nr_uids < MAX_USERS; i++) {
		const char *u = users[i];
		struct passwd *pw;
		char *end;
		unsigned long id;

		errno = 0;
		id = strtoul(u, &end, 10);
		if (*u >= '0' && *u <= '9' && !*end && !errno && id < (uid_t)-1)
			pb->uids[pb->nr_uids++] = (uid_t)id;
		else if ((pw = getpwnam(u)))
			pb->uids[pb->nr_uids++] = pw->pw_uid;
		else
			log_debug("[guests] users: no user %s here", u);
	}
	return nr_was != pb->nr_uids ||
	       memcmp(was, pb->uids, (size_t)nr_was * sizeof(*was)) != 0;
}

static bool user_ours(const struct proc_be *pb, uid_t uid)
{
	for (int i = 0; i < pb->nr_uids; i++)
		if (pb->uids[i] == uid)
			return true;
	return false;
}

/*
 * May a process be a guest at all: a VMM's executable, run by one of our
 * users (real and effective user both)? Cheap checks first: most
 * processes are no VMM. A VMM of another user is logged once (*told).
 */
static enum vmm_kind candidate(const struct proc_be *pb, pid_t pid, bool *told)
{
	enum vmm_kind kind = vmm_of_process(pid);
	uid_t ruid, euid;

	if (kind == VMM_NONE || vmm_process_uids(pid, &ruid, &euid) < 0)
		return VMM_NONE;
	if (user_ours(pb, ruid) && user_ours(pb, euid))
		return kind;
	if (!*told) {
		uid_t uid = user_ours(pb, ruid) ? euid : ruid;
		struct passwd *pw = getpwuid(uid);

		log_info("process %d: %s of uid %u (%s), not root nor one of [guests] "
			 "users: no guest of ours", (int)pid, vmm_get(kind)->name,
			 (unsigned)uid, pw ? pw->pw_name : "no such user");
		*told = true;
	}
	return VMM_NONE;
}

/*
 * A QEMU with no vCPU thread of its own to read: a guest all the same,
 * with as many vCPUs as its command line asks for, and the reason.
 */
static int pg_unnamed(struct pg *p, unsigned seen)
{
	char cmd[16384];
	ssize_t len = hostinfo_cmdline(p->pid, cmd, sizeof(cmd));
	int n = len > 0 ? vmm_vcpus_asked(VMM_QEMU, cmd, (size_t)len) : 0;

	p->unnamed = true;
	p->nr_vcpus = n > 0 ? n : 1;
	memset(p->tids, 0, (size_t)p->nr_vcpus * sizeof(*p->tids));
	if (seen & VMM_SEEN_SHARED)
		snprintf(p->unmeasured, sizeof(p->unmeasured), "single-threaded TCG: one "
			 "thread (\"ALL CPUs/TCG\") runs every vCPU, none has a thread "
			 "to measure or move (-accel tcg,thread=multi gives each its own)");
	else
		snprintf(p->unmeasured, sizeof(p->unmeasured), "vCPU threads not found: "
			 "QEMU without debug-threads? (-name NAME,debug-threads=on names them)");
	return p->nr_vcpus;
}

/*
 * Why the process's memory is not vnumad's to move, if it is not: its
 * cpuset keeps it off some nodes, or the user gave it a memory policy.
 */
static void pg_memory(struct pg *p)
{
	uint64_t mems, online = hostinfo_online_nodes();
	char buf[64];

	p->memory_fixed[0] = '\0';
	p->flags &= ~VNUMAD_GUEST_NO_MEMMOVE;
	if (vmm_mems_allowed(p->pid, &mems) == 0 && (online & ~mems))
		snprintf(p->memory_fixed, sizeof(p->memory_fixed), "its cpuset "
			 "(cpuset.mems) holds its memory on node%s %s",
			 mems & (mems - 1) ? "s" : "", fmt_nodemask(buf, sizeof(buf), mems));
	else if (p->mempolicy[0])
		snprintf(p->memory_fixed, sizeof(p->memory_fixed), "its memory policy "
			 "(%s: numactl --membind, --preferred or --interleave, or mbind) "
			 "is the user's", p->mempolicy);
	if (p->memory_fixed[0])
		p->flags |= VNUMAD_GUEST_NO_MEMMOVE;
}

/*
 * Reads a guest's vCPU threads and affinities; the count, or -ESRCH. A
 * process without vCPU threads is no guest, or a guest shutting down;
 * only a QEMU that has run a while without naming any is taken as one.
 */
static int pg_refresh(struct pg *p)
{
	enum vmm_kind kind = p->kind;
	unsigned seen = 0;
	int n;

	if (!hostinfo_same_process(p->pid, p->starttime))
		return -ESRCH;
	n = vmm_vcpu_threads(p->pid, &kind, p->tids, HI_MAX_VCPUS, &seen);
	if (n < 0)
		return n;
	if (n == 0) {
		if (p->nr_vcpus && !p->unnamed)
			return -ESRCH;	/* no vCPU threads left: shutting down */
		if (p->kind != VMM_QEMU || hostinfo_process_age(p->starttime) < SETTLED)
			return -ESRCH;	/* not a guest, or not yet */
		n = pg_unnamed(p, seen);
	} else {
		p->kind = kind;
		p->unnamed = false;
		p->unmeasured[0] = '\0';
		p->nr_vcpus = n;
	}
	for (int v = 0; v < n; v++) {
		uint64_t nodes = 0;

		if (p->tids[v] && hostinfo_thread_nodes(p->tids[v], &nodes) < 0)
			nodes = 0;
		/* no thread to read: what the process as a whole may use */
		if (!p->tids[v] && hostinfo_thread_nodes(p->pid, &nodes) < 0)
			nodes = 0;
		p->allowed[v] = nodes;
	}
	pg_memory(p);
	return n;
}

/*
 * A known guest in a scan: its affinities, and its threads listed again
 * when their count moved, the list is old, or the guest is young: a
 * thread may name itself a moment after it starts, so that a new guest's
 * count can be right while a vCPU's name is not there yet (the count comes
 * from the stat the scan just read for the start time).
 */
static int pg_rescan(struct pg *p, int threads, double now)
{
	if (threads != p->nr_threads || now - p->listed >= RELIST ||
	    now - p->found < YOUNG) {
		int n = pg_refresh(p);

		p->nr_threads = threads;
		p->listed = now;
		return n;
	}
	for (int v = 0; v < p->nr_vcpus; v++) {
		uint64_t nodes = 0;

		if (p->tids[v] && hostinfo_thread_nodes(p->tids[v], &nodes) < 0)
			nodes = 0;
		p->allowed[v] = nodes;
	}
	return p->nr_vcpus;
}

static void report(struct vn_host *h, struct pg *p)
{
	struct vn_guest_desc d = {
		.name = p->name,
		.uuid = p->uuid[0] ? p->uuid : NULL,
		.pid = p->pid,
		.flags = p->flags,
		.nr_vcpus = p->nr_vcpus,
		.tids = p->tids,
		.allowed = p->allowed,
		.priv = p,
		.unmeasured = p->unmeasured[0] ? p->unmeasured : NULL,
		.memory_fixed = p->memory_fixed[0] ? p->memory_fixed : NULL,
		.age = hostinfo_process_age(p->starttime),
	};
	struct vn_guest *g = host_report(h, &d);

	if (g->id != p->guest_id)
		log_debug("guest %s: %s process %d, %d vCPU%s, %s", p->name,
			  vmm_get(p->kind ? p->kind : VMM_QEMU)->name, (int)p->pid,
			  p->nr_vcpus, p->nr_vcpus == 1 ? "" : "s",
			  p->unnamed ? "their threads unknown" : "each its own thread");
	p->guest_id = g->id;
	g->backend = p;
}

/*
 * Looks at one process not known as a guest; returns the guest it is, not
 * yet named nor listed, or NULL.
 */
static struct pg *examine(struct proc_be *pb, pid_t pid, uint64_t st, bool *told)
{
	enum vmm_kind kind = candidate(pb, pid, told);
	struct pg *p;
	int policy;

	if (kind == VMM_NONE)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->starttime = st;
	p->kind = kind;
	p->tids = xcalloc(HI_MAX_VCPUS, sizeof(*p->tids));
	p->allowed = xcalloc(HI_MAX_VCPUS, sizeof(*p->allowed));
	if (pg_refresh(p) <= 0) {
		pg_free(p);
		return NULL;
	}
	/*
	 * Its memory policy, read once it is a guest: a VMM sets it up at
	 * start (numactl, its memory backends' mbind). A process bound as a
	 * whole whose memory the kernel places by default is pinned by its
	 * CPUs alone: its memory may be brought to them (memory-free). One
	 * whose policy cannot be read is pinned whole.
	 */
	policy = vmm_memory_policy(pid, p->mempolicy, sizeof(p->mempolicy));
	if (policy != 1)
		p->mempolicy[0] = '\0';
	pg_memory(p);
	if (user_pinned(pid))
		p->flags |= VNUMAD_GUEST_PINNED | (policy == 0 ? VNUMAD_GUEST_MEMORY_FREE : 0);
	return p;
}

static int by_start(const void *a, const void *b)
{
	const struct pg *x = *(struct pg *const *)a, *y = *(struct pg *const *)b;

	if (x->starttime != y->starttime)
		return (x->starttime > y->starttime) - (x->starttime < y->starttime);
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Names the guests a scan found, the process started first first, and lists them. */
static void adopt(struct proc_be *pb, struct pg **fresh, int n)
{
	if (n > 1)	/* a scan that found none has no array (qsort wants one) */
		qsort(fresh, (size_t)n, sizeof(*fresh), by_start);
	for (int i = 0; i < n; i++) {
		struct pg *p = fresh[i];

		p->name = guest_name(pb, p->pid, p->kind);
		guest_uuid(p);
		p->next = pb->guests;
		pb->guests = p;
	}
}

/* Walks /proc: known guests refreshed, new processes looked at, the rest skipped. */
static int proc_scan(struct vn_backend *b, struct vn_host *h)
{
	struct proc_be *pb = pb_of(b);
	struct nonguest *neg = NULL;
	struct pg **fresh = NULL;
	int nr_neg = 0, cap_neg = 0, nr_fresh = 0, cap_fresh = 0;
	double now = now_monotonic();
	bool users_changed = false;
	struct pg **pp;
	struct dirent *de;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir) {
		log_warn("proc backend: /proc");
		return -errno;
	}
	/* other users: every process is looked at again, every guest's user too */
	if (resolve_users(b, now)) {
		free(pb->neg);
		pb->neg = NULL;
		pb->nr_neg = 0;
		users_changed = true;
	}
	for (struct pg *p = pb->guests; p; p = p->next)
		p->seen = false;
	while ((de = readdir(dir))) {
		pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
		struct nonguest *ng;
		struct pg *p;
		uint64_t st;
		int threads = 0;
		bool told;

		if (pid <= 0 || !(st = hostinfo_starttime_threads(pid, &threads)))
			continue;
		p = pg_find(pb, pid);
		if (p && p->starttime == st) {
			bool quiet = true;

			if (users_changed && candidate(pb, pid, &quiet) == VMM_NONE)
				continue;	/* its user is no longer ours: gone */
			if (pg_rescan(p, threads, now) > 0)
				p->seen = true;
			continue;
		}
		ng = neg_find(pb, pid);
		if (ng && ng->starttime == st &&
		    (now - ng->first >= YOUNG && now - ng->checked < RECHECK)) {
			if (nr_neg == cap_neg) {
				cap_neg = cap_neg ? cap_neg * 2 : 256;
				neg = xreallocarray(neg, cap_neg, sizeof(*neg));
			}
			neg[nr_neg++] = *ng;
			continue;
		}
		told = ng && ng->starttime == st && ng->told;
		p = examine(pb, pid, st, &told);
		if (p) {
			p->nr_threads = threads;
			p->listed = p->found = now;
			p->seen = true;
			if (nr_fresh == cap_fresh) {
				cap_fresh = cap_fresh ? cap_fresh * 2 : 16;
				fresh = xreallocarray(fresh, cap_fresh, sizeof(*fresh));
			}
			fresh[nr_fresh++] = p;
			continue;
		}
		if (nr_neg == cap_neg) {
			cap_neg = cap_neg ? cap_neg * 2 : 256;
			neg = xreallocarray(neg, cap_neg, sizeof(*neg));
		}
		neg[nr_neg++] = (struct nonguest){ pid, st,
			ng && ng->starttime == st ? ng->first : now, now, told };
	}
	closedir(dir);
	adopt(pb, fresh, nr_fresh);
	free(fresh);
	if (nr_neg > 1)
		qsort(neg, (size_t)nr_neg, sizeof(*neg), by_pid);
	free(pb->neg);
	pb->neg = neg;
	pb->nr_neg = nr_neg;
	/* report the living; the core drops what is not reported */
	for (pp = &pb->guests; *pp; ) {
		struct pg *p = *pp;

		if (!p->seen) {
			struct vn_guest *g = p->guest_id ? host_find_id(h, p->guest_id) : NULL;

			/* gone between two scans: the core would drop it at scan end */
			if (g)
				g->backend = NULL;
			*pp = p->next;
			pg_free(p);
			continue;
		}
		report(h, p);
		pp = &p->next;
	}
	return 0;
}

static int proc_open(struct vn_backend *b)
{
	struct proc_be *pb;

	if (access("/proc/self/task", R_OK) != 0) {
		log_warn("proc backend: /proc is not readable");
		return -ENOENT;
	}
	hostinfo_init();
	pb = xcalloc(1, sizeof(*pb));
	if (b->base)
		pb->mover = mover_new(b->base);
	b->priv = pb;
	return 0;
}

static void proc_close(struct vn_backend *b)
{
	struct proc_be *pb = pb_of(b);

	if (!pb)
		return;
	mover_free(pb->mover);
	while (pb->guests) {
		struct pg *p = pb->guests;

		pb->guests = p->next;
		pg_free(p);
	}
	free(pb->neg);
	free(pb->users);
	free(pb);
	b->priv = NULL;
}

static int proc_topology(struct vn_backend *b, struct vn_host *h)
{
	(void)b;
	return hostinfo_topology(h);
}

static int proc_set_affinity(struct vn_backend *b, struct vn_guest *g, int vcpu,
			     uint64_t nodes)
{
	struct pg *p = g->backend;
	pid_t tid;

	(void)b;
	if (!p || vcpu < 0 || vcpu >= p->nr_vcpus)
		return -EINVAL;
	tid = p->tids[vcpu];
	/* a vCPU without a thread of its own cannot move alone */
	if (!tid && p->unnamed)
		return -EOPNOTSUPP;
	/* only the very thread we identified: same process, same name */
	if (!tid || !hostinfo_same_process(p->pid, p->starttime) ||
	    !vmm_is_vcpu_thread(p->pid, tid, p->kind, vcpu))
		return -ESRCH;
	return hostinfo_set_thread_nodes(tid, nodes);
}

/* Hands a memory move to the mover once the target node is known to exist. */
static int proc_migrate(struct vn_backend *b, struct vn_guest *g,
			struct vn_migration *m)
{
	struct proc_be *pb = pb_of(b);
	struct pg *p = g->backend;
	struct vn_host h;

	if (!p)
		return -ESRCH;
	if (!pb->mover)
		return -EOPNOTSUPP;
	memset(&h, 0, sizeof(h));
	hostinfo_topology(&h);
	if (m->to < 0 || m->to >= h.nr_nodes || !(h.online >> m->to & 1) ||
	    m->from < 0 || m->from >= h.nr_nodes)
		return -EINVAL;
	mover_set_rate(pb->mover, b->cfg ? b->cfg->migrate_rate : 0);
	if (b->cfg)
		mover_set_nice(pb->mover, (int)b->cfg->migrate_nice);
	return mover_start(pb->mover, p->pid, p->starttime, m);
}

static void proc_cancel(struct vn_backend *b, struct vn_migration *m)
{
	struct proc_be *pb = pb_of(b);

	if (pb->mover)
		mover_cancel(pb->mover, m);
}

static void proc_forget(struct vn_backend *b, struct vn_guest *g)
{
	struct proc_be *pb = pb_of(b);

	for (struct pg *p = pb->guests; p; p = p->next)
		if (p == g->backend && p->guest_id == g->id)
			p->guest_id = 0;
	g->backend = NULL;
}

const struct vn_backend_ops proc_backend_ops = {
	.name = "proc",
	.open = proc_open,
	.close = proc_close,
	.topology = proc_topology,
	.scan = proc_scan,
	.set_affinity = proc_set_affinity,
	.migrate = proc_migrate,
	.cancel = proc_cancel,
	.forget = proc_forget,
};
