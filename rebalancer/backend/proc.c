// SPDX-License-Identifier: MIT
/*
 * The proc backend: plain QEMU/KVM processes, without libvirt. A guest is a
 * process with threads named "CPU n/KVM" (QEMU names its vCPU threads so
 * with KVM); its name comes from "-name guest=NAME" or "-name NAME" on the
 * command line, else "qemu-PID". vCPUs move with sched_setaffinity on their
 * threads, memory with the mover.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "hostinfo.h"
#include "log.h"
#include "mover.h"
#include "registry.h"
#include "util.h"
#include "vnumad.h"

#define YOUNG	30.0	/* seconds a new process is looked at every scan */
#define RECHECK	60.0	/* seconds between looks at an older non-guest */
#define RELIST	30.0	/* seconds a guest's thread list is kept while its count holds */

/* A QEMU process found in /proc. */
struct pg {
	pid_t pid;
	uint64_t starttime;
	char *name;
	unsigned flags;
	int nr_vcpus;
	pid_t *tids;		/* [HI_MAX_VCPUS] */
	uint64_t *allowed;
	int nr_threads;		/* the process's thread count at the last listing */
	double listed;		/* when its threads were last listed */
	double found;		/* when it was found */
	bool seen;
	uint64_t guest_id;
	struct pg *next;
};

/* A process that is not a guest, as of `checked`. */
struct nonguest {
	pid_t pid;
	uint64_t starttime;
	double first, checked;
};

struct proc_be {
	struct pg *guests;
	struct nonguest *neg;	/* sorted by pid */
	int nr_neg;
	struct vn_mover *mover;
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
 * numactl --cpunodebind, a cpuset) is pinned: vnumad moves vCPU threads
 * only, so the process's own affinity is the user's.
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

/* Gives a new guest a name no other guest of ours has. */
static char *guest_name(struct proc_be *pb, pid_t pid)
{
	char cmd[16384], name[256], *s;
	ssize_t n = hostinfo_cmdline(pid, cmd, sizeof(cmd));

	if (n <= 0 || !hostinfo_qemu_name(cmd, (size_t)n, name, sizeof(name)))
		snprintf(name, sizeof(name), "qemu-%d", (int)pid);
	for (struct pg *p = pb->guests; p; p = p->next)
		if (!strcmp(p->name, name)) {
			size_t l = strlen(name);

			snprintf(name + MIN(l, sizeof(name) - 16), 16, "-%d", (int)pid);
			break;
		}
	s = xstrdup(name);
	return s;
}

/* Reads a guest's vCPU threads and affinities; the count, or -ESRCH. */
static int pg_refresh(struct pg *p)
{
	int n;

	if (!hostinfo_same_process(p->pid, p->starttime))
		return -ESRCH;
	n = hostinfo_vcpu_threads(p->pid, p->tids, HI_MAX_VCPUS);
	if (n <= 0)
		return n ? n : -ESRCH;	/* no vCPU threads left: shutting down */
	p->nr_vcpus = n;
	for (int v = 0; v < n; v++) {
		uint64_t nodes = 0;

		if (p->tids[v] && hostinfo_thread_nodes(p->tids[v], &nodes) < 0)
			nodes = 0;
		p->allowed[v] = nodes;
	}
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
		.pid = p->pid,
		.flags = p->flags,
		.nr_vcpus = p->nr_vcpus,
		.tids = p->tids,
		.allowed = p->allowed,
		.priv = p,
	};
	struct vn_guest *g = host_report(h, &d);

	if (g->id != p->guest_id)
		log_debug("guest %s: QEMU process %d with %d vCPU threads", p->name,
			  (int)p->pid, p->nr_vcpus);
	p->guest_id = g->id;
	g->backend = p;
}

/* Looks at one process not known as a guest; returns the guest it is, or NULL. */
static struct pg *examine(struct proc_be *pb, pid_t pid, uint64_t st)
{
	struct pg *p = xcalloc(1, sizeof(*p));

	p->pid = pid;
	p->starttime = st;
	p->tids = xcalloc(HI_MAX_VCPUS, sizeof(*p->tids));
	p->allowed = xcalloc(HI_MAX_VCPUS, sizeof(*p->allowed));
	if (pg_refresh(p) <= 0) {
		pg_free(p);
		return NULL;
	}
	p->name = guest_name(pb, pid);
	if (user_pinned(pid))
		p->flags |= VNUMAD_GUEST_PINNED;
	p->next = pb->guests;
	pb->guests = p;
	return p;
}

/* Walks /proc: known guests refreshed, new processes looked at, the rest skipped. */
static int proc_scan(struct vn_backend *b, struct vn_host *h)
{
	struct proc_be *pb = pb_of(b);
	struct nonguest *neg = NULL;
	int nr_neg = 0, cap_neg = 0;
	double now = now_monotonic();
	struct pg **pp;
	struct dirent *de;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir) {
		log_warn("proc backend: /proc");
		return -errno;
	}
	for (struct pg *p = pb->guests; p; p = p->next)
		p->seen = false;
	while ((de = readdir(dir))) {
		pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
		struct nonguest *ng;
		struct pg *p;
		uint64_t st;
		int threads = 0;

		if (pid <= 0 || !(st = hostinfo_starttime_threads(pid, &threads)))
			continue;
		p = pg_find(pb, pid);
		if (p && p->starttime == st) {
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
		p = examine(pb, pid, st);
		if (p) {
			p->nr_threads = threads;
			p->listed = p->found = now;
			p->seen = true;
			continue;
		}
		if (nr_neg == cap_neg) {
			cap_neg = cap_neg ? cap_neg * 2 : 256;
			neg = xreallocarray(neg, cap_neg, sizeof(*neg));
		}
		neg[nr_neg++] = (struct nonguest){ pid, st,
			ng && ng->starttime == st ? ng->first : now, now };
	}
	closedir(dir);
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
	/* only the very thread we identified: same process, same name */
	if (!tid || !hostinfo_same_process(p->pid, p->starttime) ||
	    !hostinfo_is_vcpu_thread(p->pid, tid, vcpu))
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
