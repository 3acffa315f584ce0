// SPDX-License-Identifier: MIT
/*
 * The PMU source: one perf_event_open group per vCPU thread (pid = thread id,
 * cpu = -1), counting cycles, instructions, local and remote DRAM accesses,
 * plus a software cpu-migrations counter that says when the thread may have
 * changed node. read_format GROUP | TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING:
 * one read() per thread per tick gives every counter and the two times.
 *
 * Per interval, each delta is scaled by d(enabled) / d(running) when the
 * group shared the PMU with others. The CPU time of the thread is
 * d(enabled): a per-thread event's clock runs only while the thread does.
 *
 * Threads come and go. A group of an exited thread still reads its final
 * counts: when a thread shows no CPU time in an interval after having had
 * some, its stat file, opened with the group and kept, tells whether it
 * still exists (ESRCH once it is gone, even when a new thread took its
 * number; PF_EXITING before); once it is gone its last counts are
 * delivered, its descriptors closed, and its vCPU reads invalid until the
 * backend reports a new thread and the core attaches again.
 *
 * The node a thread ran on comes from field 39 of the same file, read only
 * when its cpu-migrations count moved (or the group was multiplexed, which
 * may hide a migration), and never when its affinity holds one node.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "sampling.h"
#include "sampling_impl.h"
#include "util.h"

#define READ_FORMAT (PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED | \
		     PERF_FORMAT_TOTAL_TIME_RUNNING)

/* One vCPU thread's counter group. */
struct pmu_thread {
	struct vcpu_thread th;	/* first: the thread table's part */
	int nfd;
	int fd[PMU_MAX_FDS];	/* fd[0] leads the group */
	int stat_fd;		/* /proc/PID/task/TID/stat, kept open: it is the
				 * thread itself, ESRCH once it exited */
	uint64_t val[PMU_MAX_FDS];	/* raw counts at the previous read */
	uint64_t enabled, running;	/* times at the previous read, ns */
	double at;		/* monotonic time of the previous read */
	unsigned idle;		/* reads in a row without CPU time */
};

/* A thread asleep this long is checked for existence every so many reads. */
#define IDLE_RECHECK	16

struct pmu_priv {
	struct pmu_event ev[PMU_MAX_FDS];	/* roles, then cpu-migrations */
	int nev;
	int nroles;
	int nr_fds;		/* descriptors held */
	int logged;		/* errno of the last warning, to log each kind once */
	bool core;		/* the events are the core PMU's (count guest mode) */
	bool may_fall_back;	/* [sampling] source = auto */
	bool confirmed;		/* a group opened on a real vCPU thread */
	bool told_mediated;	/* source = pmu: the mediated vPMU was logged */
	/*
	 * After a fallback, the procfs source this one hands every call to
	 * (fb.ops set); the guests attached, to hand them over.
	 */
	struct vn_sampler fb;
	struct mc_bw *mc;	/* the memory controllers' counters, or NULL */
	struct vn_guest **att;
	int nr_att, cap_att;
	char err[1024];
};

static long perf_open(struct perf_event_attr *a, pid_t pid, int group)
{
	return syscall(__NR_perf_event_open, a, pid, -1, group,
		       PERF_FLAG_FD_CLOEXEC);
}

/* Records an error; the first of each kind is a warning, repeats are debug. */
static void __attribute__((format(printf, 3, 4)))
pmu_error(struct pmu_priv *p, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	if (err != p->logged) {
		log_warnx("sampling: %s", p->err);
		p->logged = err;
	} else {
		log_debug("sampling: %s", p->err);
	}
}

/* Name of counter k of a group, for messages. */
static const char *counter_name(const struct pmu_priv *p, int k, char *buf,
				size_t len)
{
	if (k < p->nroles)
		snprintf(buf, len, "%s event %s", pmu_role_names[k], p->ev[k].name);
	else
		snprintf(buf, len, "event %s", p->ev[k].name);
	return buf;
}

/*
 * Opens a group for tid (0: the calling thread) into fd[]; returns the
 * number opened (nev) or a negative errno with *failed set to the counter.
 */
static int group_open(const struct pmu_event *ev, int nev, pid_t tid, int *fd,
		      int *failed)
{
	for (int k = 0; k < nev; k++) {
		struct perf_event_attr a = ev[k].attr;
		long r;

		a.size = sizeof(a);
		a.read_format = READ_FORMAT;
		a.disabled = k == 0;	/* the whole group starts at once */
		a.inherit = 0;
		r = perf_open(&a, tid, k ? fd[0] : -1);
		if (r < 0 && errno == EMFILE) {
			if (fd_raise_after_emfile() == 0)
				r = perf_open(&a, tid, k ? fd[0] : -1);
			else
				errno = EMFILE;
		}
		if (r < 0) {
			int err = errno;

			*failed = k;
			while (k-- > 0)
				close(fd[k]);
			return -err;
		}
		fd[k] = (int)r;
	}
	if (ioctl(fd[0], PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP) < 0) {
		int err = errno;

		for (int k = 0; k < nev; k++)
			close(fd[k]);
		*failed = 0;
		return -err;
	}
	return nev;
}

/* The events plus the cpu-migrations counter every group carries. */
static int with_migrations(struct pmu_event *out, const struct pmu_event *ev,
			   int n)
{
	struct pmu_event *m = &out[n];

	memcpy(out, ev, (size_t)n * sizeof(*ev));
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "perf::cpu-migrations");
	m->attr.size = sizeof(m->attr);
	m->attr.type = PERF_TYPE_SOFTWARE;
	m->attr.config = PERF_COUNT_SW_CPU_MIGRATIONS;
	return n + 1;
}

/* Bytes of fresh memory the self-test reads from DRAM. */
#define SELFTEST_BYTES	(4u << 20)

/*
 * Makes the calling thread read SELFTEST_BYTES that only DRAM can serve:
 * fresh pages (each faults in), every line flushed from the caches, then
 * read in an order the prefetchers do not follow (a stride coprime with
 * the number of lines).
 */
static void touch_memory(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t lines = SELFTEST_BYTES / 64;
	volatile char *m;
	unsigned sum = 0;

	m = mmap(NULL, SELFTEST_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return;
	madvise((void *)m, SELFTEST_BYTES, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < SELFTEST_BYTES; i += (size_t)pg)
		m[i] = 1;
#if defined(__x86_64__) || defined(__i386__)
	for (size_t i = 0; i < lines; i++)
		__builtin_ia32_clflush((const void *)(m + i * 64));
	__builtin_ia32_mfence();
#endif
	for (size_t i = 0; i < lines; i++)
		sum += (unsigned)m[(i * 7919 % lines) * 64];
	munmap((void *)m, SELFTEST_BYTES);
	(void)sum;
}

int pmu_probe(const struct pmu_event *ev, int n, char *why, size_t len)
{
	struct pmu_event all[PMU_MAX_FDS];
	int fd[PMU_MAX_FDS], nev, failed = 0, r;
	uint64_t buf[3 + PMU_MAX_FDS];
	char e[400];

	if (n < 1 || n > PMU_NR_ROLES) {
		snprintf(why, len, "%d events given, 1 to %d expected", n, PMU_NR_ROLES);
		return -EINVAL;
	}
	nev = with_migrations(all, ev, n);
	r = group_open(all, nev, 0, fd, &failed);
	if (r < 0) {
		snprintf(why, len, "cannot open the %s%s%s: %s",
			 failed < n ? pmu_role_names[failed] : "",
			 failed < n ? " event " : "event ", all[failed].name,
			 perf_errstr(-r, e, sizeof(e)));
		return r;
	}
	/* the self-test: DRAM the thread reads must be counted */
	if (n > PMU_LOCAL_DRAM)
		touch_memory();
	r = read(fd[0], buf, sizeof(buf)) == (ssize_t)((3 + nev) * sizeof(uint64_t)) ?
		0 : -EIO;
	if (r < 0) {
		snprintf(why, len, "the counter group of %s reads short", all[0].name);
	} else if (n > PMU_LOCAL_DRAM &&
		   buf[3 + PMU_LOCAL_DRAM] + (n > PMU_REMOTE_DRAM ?
					       buf[3 + PMU_REMOTE_DRAM] : 0) == 0) {
		snprintf(why, len, "the self-test read %u MiB of fresh memory from "
			 "DRAM and the DRAM events (%s%s%s) counted nothing: they "
			 "do not count what they claim on this CPU and kernel",
			 SELFTEST_BYTES >> 20, all[PMU_LOCAL_DRAM].name,
			 n > PMU_REMOTE_DRAM ? ", " : "",
			 n > PMU_REMOTE_DRAM ? all[PMU_REMOTE_DRAM].name : "");
		r = -ENODATA;
	}
	for (int k = 0; k < nev; k++)
		close(fd[k]);
	return r;
}

int pmu_open_events(struct vn_sampler *s, const struct pmu_event *ev, int n)
{
	struct pmu_priv *p;
	char why[600];
	int r;

	r = pmu_probe(ev, n, why, sizeof(why));
	if (r < 0) {
		log_warnx("sampling: PMU: %s", why);
		return r;
	}
	p = xcalloc(1, sizeof(*p));
	p->nroles = n;
	p->nev = with_migrations(p->ev, ev, n);
	p->core = pmu_counts_core(ev, n);
	p->may_fall_back = s->cfg && s->cfg->source == VN_SAMPLING_AUTO;
	p->mc = mc_bw_get();
	s->priv = p;
	cpu_to_node(0);		/* builds the CPU-to-node map now, not in a tick */
	return 0;
}

static int pmu_open(struct vn_sampler *s)
{
	const char *events = NULL;
	const struct pmu_model *m;
	struct pmu_event ev[PMU_NR_ROLES];
	struct cpu_id id;
	char err[SAMPLING_REASON_MAX], cpu[128];
	int r;

	if (s->cfg)
		events = s->cfg->events;
	cpu_identify(&id);
	if (pmu_resolve(events, &id, ev, &m, err, sizeof(err)) < 0) {
		log_warnx("sampling: %s", err);
		return events ? -EINVAL : -ENOTSUP;
	}
	if (!events && pmu_kernel_check(m, err, sizeof(err)) < 0) {
		log_warnx("sampling: %s", err);
		return -ENOTSUP;
	}
	r = pmu_open_events(s, ev, PMU_NR_ROLES);
	if (r < 0)
		return r;
	log_info("sampling: PMU counters, %s (%s), confirmed once the first "
		 "vCPU thread counts", events ? "events from [sampling] events" :
		 m->name, cpu_id_str(&id, cpu, sizeof(cpu)));
	return 0;
}

static void pmu_close(struct vn_sampler *s)
{
	struct pmu_priv *p = s->priv;

	if (!p)
		return;
	if (p->fb.ops)
		p->fb.ops->close(&p->fb);
	if (p->nr_fds)
		log_warnx("sampling: %d counter descriptors still open at close "
			  "(a guest was not detached)", p->nr_fds);
	mc_bw_put(p->mc);
	free(p->att);
	free(p);
	s->priv = NULL;
}

/* Closes a thread's descriptors; the struct stays until detach or attach. */
static void thread_close(struct pmu_priv *p, struct pmu_thread *t)
{
	for (int k = 0; k < t->nfd; k++)
		close(t->fd[k]);
	p->nr_fds -= t->nfd;
	t->nfd = 0;
	if (t->stat_fd >= 0) {
		close(t->stat_fd);
		p->nr_fds--;
		t->stat_fd = -1;
	}
	t->th.gone = true;
}

static void thread_free(struct pmu_priv *p, struct pmu_thread *t)
{
	if (!t)
		return;
	thread_close(p, t);
	free(t);
}

/*
 * Opens the thread's stat file. The descriptor holds the thread itself, not
 * its number: once the thread exits it reads ESRCH, even when a new thread
 * has taken the number (a null signal, or a fresh open, would find that one).
 */
static int stat_open(struct pmu_priv *p, pid_t pid, struct pmu_thread *t)
{
	char path[64];

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
			 (int)t->th.tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)t->th.tid);
	t->stat_fd = open_retry(path, O_RDONLY);
	if (t->stat_fd < 0) {
		int r = t->stat_fd == -ENOENT ? -ESRCH : t->stat_fd;

		t->stat_fd = -1;
		return r;
	}
	p->nr_fds++;
	return 0;
}

/*
 * Opens one thread's stat file, then its group (the group counts the thread
 * the stat file holds, should the number be reused in between); 0, or a
 * negative errno (-ESRCH: it is gone).
 */
static int thread_open(struct pmu_priv *p, struct vn_guest *g, int vcpu,
		       struct pmu_thread **out)
{
	struct pmu_thread *t = xcalloc(1, sizeof(*t));
	int failed = 0, r;
	char name[PMU_NAME_MAX + 32], e[400];

	t->th.tid = g->vc[vcpu].tid;
	t->th.node = -1;
	r = stat_open(p, g->pid, t);
	if (r == 0)
		r = group_open(p->ev, p->nev, t->th.tid, t->fd, &failed);
	if (r < 0) {
		if (t->stat_fd >= 0) {
			close(t->stat_fd);
			p->nr_fds--;
		}
		free(t);
		if (r != -ESRCH)
			pmu_error(p, -r, "guest %s vCPU %d (thread %d): cannot open "
				  "the %s: %s", g->name ? g->name : "?", vcpu,
				  (int)g->vc[vcpu].tid,
				  counter_name(p, failed, name, sizeof(name)),
				  perf_errstr(-r, e, sizeof(e)));
		return r;
	}
	t->nfd = r;
	p->nr_fds += r;
	t->at = now_monotonic();
	*out = t;
	return 0;
}

static int thread_open_cb(void *priv, struct vn_guest *g, int i,
			  struct vcpu_thread **out)
{
	return thread_open(priv, g, i, (struct pmu_thread **)out);
}

static void thread_free_cb(void *priv, struct vcpu_thread *t)
{
	thread_free(priv, (struct pmu_thread *)t);
}

static void no_room(void *priv, struct vn_guest *g, int need)
{
	struct pmu_priv *p = priv;
	char e[300];

	pmu_error(p, EMFILE, "guest %s: %d vCPU threads need %d more descriptors "
		  "(%d per thread, %d held): %s", g->name ? g->name : "?", need,
		  need * (p->nev + 1), p->nev + 1, p->nr_fds,
		  perf_errstr(EMFILE, e, sizeof(e)));
}

/* A group of nev counters and the stat file per thread. */
static struct thread_ops thread_ops(const struct pmu_priv *p)
{
	return (struct thread_ops){ thread_open_cb, thread_free_cb, no_room, p->nev + 1 };
}

/* Remembers a guest attached, once, for a fallback to hand over. */
static void att_add(struct pmu_priv *p, struct vn_guest *g)
{
	for (int i = 0; i < p->nr_att; i++)
		if (p->att[i] == g)
			return;
	if (p->nr_att == p->cap_att) {
		p->cap_att = p->cap_att ? 2 * p->cap_att : 16;
		p->att = xreallocarray(p->att, (size_t)p->cap_att, sizeof(*p->att));
	}
	p->att[p->nr_att++] = g;
}

static void att_del(struct pmu_priv *p, struct vn_guest *g)
{
	for (int i = 0; i < p->nr_att; i++)
		if (p->att[i] == g) {
			p->att[i] = p->att[--p->nr_att];
			return;
		}
}

/*
 * Gives up the PMU for good: every group is closed and every guest, the
 * ones attached so far too, is counted by the procfs source from now on.
 */
static void fall_back(struct vn_sampler *s, struct pmu_priv *p, const char *why)
{
	struct thread_ops ops = thread_ops(p);

	log_warning("sampling: %s; counting with /proc from now on (procfs: "
		    "locality figures are estimates)", why);
	for (int i = 0; i < p->nr_att; i++)
		threads_detach(p->att[i], &ops, p);
	p->fb = (struct vn_sampler){ .ops = &procfs_sampler_ops, .cfg = s->cfg,
				     .backend = s->backend };
	p->fb.ops->open(&p->fb);
	for (int i = 0; i < p->nr_att; i++)
		if (p->fb.ops->attach(&p->fb, p->att[i]) < 0)
			log_warnx("sampling: guest %s: procfs cannot count it either",
				  p->att[i]->name ? p->att[i]->name : "?");
}

/* Errors that say the PMU cannot count guests here at all, not just now. */
static bool permanent(int err)
{
	return err == EACCES || err == EPERM || err == EOPNOTSUPP ||
	       err == ENOENT || err == ENODEV || err == EINVAL || err == ENXIO;
}

/* The first vCPU of the guest whose group is open, or -1. */
static int first_counted(const struct vn_guest *g)
{
	for (int i = 0; i < g->nr_vcpus; i++) {
		const struct vcpu_thread *t = threads_get(g, i);

		if (t && !t->gone && t->tid == g->vc[i].tid)
			return i;
	}
	return -1;
}

/*
 * Counts the guest's vCPU threads. Called again after a vCPU change, it keeps
 * the groups of threads that are still there (their counts continue), opens
 * the new ones and closes the rest.
 *
 * The source is declared only once a group opens on a real vCPU thread:
 * under [sampling] source = auto a first attach that fails for a reason
 * that will not pass (permissions, a mediated vPMU, events the PMU does not
 * take) hands everything to the procfs source. So does KVM's mediated vPMU
 * enabled after start-up (kvm_intel or kvm_amd loaded later): counters that
 * count guest mode would stop its guests from starting.
 */
static int pmu_attach(struct vn_sampler *s, struct vn_guest *g)
{
	struct pmu_priv *p = s->priv;
	struct thread_ops ops = thread_ops(p);
	char mod[32], why[SAMPLING_REASON_MAX];
	int r, v;

	if (p->fb.ops)
		return p->fb.ops->attach(&p->fb, g);
	if (p->core && !p->may_fall_back && !p->told_mediated &&
	    kvm_mediated_pmu(mod, sizeof(mod))) {
		p->told_mediated = true;
		log_warning("sampling: KVM's mediated vPMU is now enabled (%s "
			    "enable_mediated_pmu=Y): with [sampling] source = pmu "
			    "vnumad keeps counting guest mode on the core PMU, and no "
			    "guest with a mediated PMU can start; set source = auto "
			    "or procfs and restart vnumad", mod);
	}
	if (p->core && p->may_fall_back && kvm_mediated_pmu(mod, sizeof(mod))) {
		att_add(p, g);
		snprintf(why, sizeof(why), "KVM's mediated vPMU is now enabled (%s "
			 "enable_mediated_pmu=Y): counters that count guest mode "
			 "on the core PMU would stop guests with a mediated PMU "
			 "from starting (KVM_CREATE_VCPU fails with EBUSY)", mod);
		fall_back(s, p, why);
		return 0;
	}
	r = threads_attach(g, &ops, p, &p->nr_fds);
	att_add(p, g);
	v = first_counted(g);
	if (v >= 0 && !p->confirmed) {
		p->confirmed = true;
		log_info("sampling: PMU counters confirmed on guest %s vCPU %d "
			 "(thread %d)", g->name ? g->name : "?", v, (int)g->vc[v].tid);
	}
	if (r < 0 && p->may_fall_back && permanent(-r) &&
	    (!p->confirmed || (r == -EOPNOTSUPP && p->core))) {
		snprintf(why, sizeof(why), "the PMU cannot count guest %.64s's "
			 "vCPU threads: %.900s", g->name ? g->name : "?", p->err);
		fall_back(s, p, why);
		return 0;
	}
	return r;
}

static void pmu_detach(struct vn_sampler *s, struct vn_guest *g)
{
	struct pmu_priv *p = s->priv;
	struct thread_ops ops = thread_ops(p);

	att_del(p, g);
	if (p->fb.ops) {
		p->fb.ops->detach(&p->fb, g);
		return;
	}
	threads_detach(g, &ops, p);
}

#define PF_EXITING	0x00000004	/* task flag (stat field 9): in do_exit */

/*
 * Whether the thread still exists: its stat file answers ESRCH once it is
 * gone, whoever has the number since, and shows it exiting before that
 * (PF_EXITING, or a zombie or dead state), when its counts are final.
 */
static bool thread_alive(const struct pmu_thread *t)
{
	char buf[512], state = 0, *q;
	unsigned flags = 0;
	ssize_t n;

	n = pread(t->stat_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return errno != ESRCH;
	buf[n] = '\0';
	/* the command name may hold ") ": state and flags follow the last ')' */
	q = strrchr(buf, ')');
	if (!q || sscanf(q + 1, " %c %*d %*d %*d %*d %*d %u", &state, &flags) != 2)
		return true;
	return !(flags & PF_EXITING) && state != 'Z' && state != 'X' && state != 'x';
}

/* The CPU the thread last ran on, from its stat file; -ESRCH once it exited. */
static int thread_cpu(const struct pmu_thread *t)
{
	char buf[1024];
	uint64_t ticks;
	ssize_t n;
	int cpu;

	n = pread_all(t->stat_fd, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (proc_stat_parse(buf, (size_t)n, &cpu, &ticks) < 0)
		return -EINVAL;
	return cpu;
}

/* Reads the group; false when it does not read whole. */
static bool group_read(const struct pmu_thread *t, uint64_t *buf)
{
	ssize_t want = (ssize_t)((3 + t->nfd) * sizeof(uint64_t));

	return read(t->fd[0], buf, (size_t)want) == want && buf[0] == (uint64_t)t->nfd;
}

/* Fills one vCPU's reading; returns false when the thread is gone or unreadable. */
static bool thread_read(struct pmu_priv *p, struct vn_guest *g, int i,
			struct pmu_thread *t, struct vn_counts *c)
{
	uint64_t buf[3 + PMU_MAX_FDS], d[PMU_MAX_FDS], d_en, d_run, allowed;
	bool exited = false;
	double now;
	int k;

	if (!group_read(t, buf)) {
		c->valid = false;
		return false;
	}
	d_en = buf[1] - t->enabled;
	/*
	 * No CPU time in the interval: asleep, or gone for good? A thread runs
	 * to exit, so an exit shows as CPU time followed by none: the first
	 * idle read asks. Later ones ask now and then only, as a safety net;
	 * the backend's scan notices exits as well.
	 */
	if (d_en == 0) {
		t->idle++;
		if ((t->idle == 1 || t->idle % IDLE_RECHECK == 0) &&
		    !thread_alive(t))
			exited = true;
	} else {
		t->idle = 0;
	}
	allowed = g->vv ? g->vv[i].allowed : 0;
	if (allowed && !(allowed & (allowed - 1))) {
		t->th.node = __builtin_ctzll(allowed);	/* confined to one node */
	} else if (!exited && (t->th.node < 0 || buf[3 + t->nfd - 1] != t->val[t->nfd - 1] ||
			       buf[2] - t->running != d_en)) {
		/* it migrated, or was not watched all the time: look again */
		int cpu = thread_cpu(t);

		if (cpu == -ESRCH)
			exited = true;
		else if (cpu >= 0)
			t->th.node = cpu_to_node(cpu);
	}
	/* a thread that just exited: these are its final counts */
	if (exited && !group_read(t, buf)) {
		c->valid = false;
		thread_close(p, t);
		return false;
	}
	now = now_monotonic();
	d_en = buf[1] - t->enabled;
	d_run = buf[2] - t->running;
	for (k = 0; k < t->nfd; k++)
		d[k] = buf[3 + k] >= t->val[k] ? buf[3 + k] - t->val[k] : 0;
	for (; k < PMU_MAX_FDS; k++)
		d[k] = 0;
	c->cycles = p->nroles > PMU_CYCLES ? pmu_scale(d[PMU_CYCLES], d_en, d_run) : 0;
	c->instructions = p->nroles > PMU_INSTRUCTIONS ?
		pmu_scale(d[PMU_INSTRUCTIONS], d_en, d_run) : 0;
	c->local_dram = p->nroles > PMU_LOCAL_DRAM ?
		pmu_scale(d[PMU_LOCAL_DRAM], d_en, d_run) : 0;
	c->remote_dram = p->nroles > PMU_REMOTE_DRAM ?
		pmu_scale(d[PMU_REMOTE_DRAM], d_en, d_run) : 0;
	c->cpu_time = (double)d_en * 1e-9;
	c->elapsed = now - t->at;
	c->node = t->th.node;
	c->source = VNUMAD_SRC_PMU;
	/*
	 * Invalid when it ran but the group never got onto the PMU (nothing was
	 * measured), or when it is gone and its final counts were delivered by
	 * an earlier read.
	 */
	c->valid = !(d_en > 0 && d_run == 0) && !(exited && d_en == 0);
	t->enabled = buf[1];
	t->running = buf[2];
	memcpy(t->val, buf + 3, (size_t)t->nfd * sizeof(uint64_t));
	t->at = now;
	if (exited) {
		log_debug("sampling: guest %s vCPU %d: thread %d exited",
			  g->name ? g->name : "?", i, (int)t->th.tid);
		thread_close(p, t);
	}
	return true;
}

static int pmu_read(struct vn_sampler *s, struct vn_guest *g)
{
	struct pmu_priv *p = s->priv;
	int live = 0, dead = 0;

	if (p->fb.ops)
		return p->fb.ops->read(&p->fb, g);

	for (int i = 0; i < g->nr_vcpus; i++) {
		struct vn_counts *c = &g->vc[i].delta;
		struct pmu_thread *t = (struct pmu_thread *)threads_get(g, i);

		c->source = VNUMAD_SRC_PMU;
		if (!t || t->th.gone || t->th.tid != g->vc[i].tid) {
			c->valid = false;
			c->node = t ? t->th.node : -1;
			dead++;
			continue;
		}
		if (thread_read(p, g, i, t, c) && !t->th.gone)
			live++;
		else
			dead++;
	}
	return live || !dead ? 0 : -ESRCH;
}

static int pmu_memory(struct vn_sampler *s, struct vn_guest *g)
{
	(void)s;
	/* The /proc fallback reads memory the same way: one path for both. */
	return guest_memory(g);
}

/* Node bandwidth where the memory controllers count it (a fallback too). */
static void pmu_nodes(struct vn_sampler *s, struct vn_host *h)
{
	struct pmu_priv *p = s->priv;

	if (p)
		mc_bw_fill(p->mc, h);
}

int pmu_nr_fds(const struct vn_sampler *s)
{
	const struct pmu_priv *p = s->priv;

	if (p && p->fb.ops)
		return procfs_nr_fds(&p->fb);
	return p ? p->nr_fds : 0;
}

void pmu_assume_core(struct vn_sampler *s)
{
	struct pmu_priv *p = s->priv;

	p->core = true;
}

bool pmu_fell_back(const struct vn_sampler *s)
{
	const struct pmu_priv *p = s->priv;

	return p && p->fb.ops;
}

const char *pmu_last_error(const struct vn_sampler *s)
{
	const struct pmu_priv *p = s->priv;

	return p ? p->err : "";
}

const struct vn_sampler_ops pmu_sampler_ops = {
	.name = "pmu",
	.open = pmu_open,
	.close = pmu_close,
	.attach = pmu_attach,
	.detach = pmu_detach,
	.read = pmu_read,
	.memory = pmu_memory,
	.nodes = pmu_nodes,
};
