// SPDX-License-Identifier: MIT
/*
 * The fallback source, for hosts without a usable PMU (virtual machines,
 * CPU models vnumad does not know): no counters, only what /proc tells.
 *
 * Per vCPU thread and tick, /proc/PID/task/TID/stat gives the CPU it last
 * ran on (so its node) and its CPU time. Locality comes from
 *
 *   faults    the kernel's NUMA-balancing fault statistics of the thread,
 *             /proc/PID/task/TID/sched, when NUMA balancing runs: the share
 *             of its recent memory faults on pages of other nodes;
 *   estimate  otherwise, the share of the guest's memory (from its memory
 *             cgroup or numa_maps, read every memory_interval) that is
 *             not on the thread's node.
 *
 * A thread's first reading covers its life so far (CPU time since it
 * started, over its age), so that a new guest has figures in the tick that
 * finds it. There are no instructions or cycles: both read 0, and the core treats a
 * source other than pmu as giving no IPS. local_dram and remote_dram are
 * weights, not accesses: the thread's CPU time in microseconds split by that
 * share, so that remote / (local + remote) is the share and a busier thread
 * weighs more in its guest's ratio (see sampling/README.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sampling.h"
#include "sampling_impl.h"
#include "util.h"

#define FAULTS_RECHECK	30.0	/* seconds between looks at numa_balancing */

struct pfs_thread {
	struct vcpu_thread th;	/* first: the thread table's part */
	int stat_fd;		/* kept open: it pins the thread, ESRCH once gone */
	int sched_fd;		/* opened when fault statistics are read, or -1 */
	uint64_t ticks;		/* utime + stime at the previous read */
	double at;
};

struct pfs_priv {
	struct mc_bw *mc;	/* the memory controllers' counters, or NULL */
	int nr_fds;
	bool faults;		/* NUMA balancing runs: read fault statistics */
	double faults_checked;
	double clk_tck;
	int logged;
	char err[512];
};

/* Whether the kernel maintains NUMA-balancing fault statistics now. */
static bool balancing_on(void)
{
	FILE *f = fopen("/proc/sys/kernel/numa_balancing", "re");
	int v = 0;

	if (!f)
		return false;	/* no CONFIG_NUMA_BALANCING */
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v != 0;
}

static void __attribute__((format(printf, 3, 4)))
pfs_error(struct pfs_priv *p, int err, const char *fmt, ...)
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

static int pfs_open(struct vn_sampler *s)
{
	struct pfs_priv *p = xcalloc(1, sizeof(*p));
	long tck = sysconf(_SC_CLK_TCK);

	p->clk_tck = tck > 0 ? (double)tck : 100.0;
	p->faults = balancing_on();
	p->faults_checked = now_monotonic();
	s->priv = p;
	cpu_to_node(0);		/* builds the CPU-to-node map now, not in a tick */
	p->mc = mc_bw_get();
	log_info("sampling: procfs, locality from %s", p->faults ?
		 "NUMA-balancing fault statistics where threads have them, else "
		 "the memory-share estimate" : "the memory-share estimate "
		 "(NUMA balancing is off)");
	return 0;
}

static void pfs_close(struct vn_sampler *s)
{
	struct pfs_priv *p = s->priv;

	if (!p)
		return;
	if (p->nr_fds)
		log_warnx("sampling: %d /proc descriptors still open at close "
			  "(a guest was not detached)", p->nr_fds);
	mc_bw_put(p->mc);
	free(p);
	s->priv = NULL;
}

static void thread_close(struct pfs_priv *p, struct pfs_thread *t)
{
	if (t->stat_fd >= 0) {
		close(t->stat_fd);
		p->nr_fds--;
		t->stat_fd = -1;
	}
	if (t->sched_fd >= 0) {
		close(t->sched_fd);
		p->nr_fds--;
		t->sched_fd = -1;
	}
	t->th.gone = true;
}

static void thread_free(struct pfs_priv *p, struct pfs_thread *t)
{
	if (!t)
		return;
	thread_close(p, t);
	free(t);
}

/* Reads the thread's stat: its node and CPU ticks. */
static int read_stat(struct pfs_thread *t, int *node, uint64_t *ticks)
{
	char buf[1024];
	ssize_t n = pread_all(t->stat_fd, buf, sizeof(buf));
	int cpu;

	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ESRCH;
	if (proc_stat_parse(buf, (size_t)n, &cpu, ticks) < 0)
		return -EINVAL;
	*node = cpu_to_node(cpu);
	return 0;
}

/* Seconds since boot (/proc/uptime), or -1. */
static double uptime(void)
{
	FILE *f = fopen("/proc/uptime", "re");
	double up = -1;

	if (f) {
		if (fscanf(f, "%lf", &up) != 1)
			up = -1;
		fclose(f);
	}
	return up;
}

/*
 * Makes the thread's first reading cover its life so far: its CPU time
 * since it started over its age. The locality estimate needs no interval
 * (it comes from where the thread runs and where the memory is), so a
 * guest gets figures in the tick that finds it rather than the next one.
 */
static void life_so_far(struct pfs_priv *p, struct pfs_thread *t)
{
	char buf[1024];
	ssize_t n = pread_all(t->stat_fd, buf, sizeof(buf));
	uint64_t start;
	double up = uptime(), age;

	if (n <= 0 || up < 0 || proc_stat_start(buf, (size_t)n, &start) < 0)
		return;
	age = up - (double)start / p->clk_tck;
	if (age <= 0)
		return;
	t->ticks = 0;
	t->at -= age;
}

static int thread_open(struct pfs_priv *p, struct vn_guest *g, int vcpu,
		       struct pfs_thread **out)
{
	struct pfs_thread *t = xcalloc(1, sizeof(*t));
	char path[64];
	int r;

	t->th.tid = g->vc[vcpu].tid;
	t->sched_fd = -1;
	t->th.node = -1;
	if (g->pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)g->pid,
			 (int)t->th.tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)t->th.tid);
	t->stat_fd = open_retry(path, O_RDONLY);
	if (t->stat_fd < 0) {
		r = t->stat_fd == -ENOENT ? -ESRCH : t->stat_fd;
		free(t);
		if (r != -ESRCH) {
			char e[300];

			pfs_error(p, -r, "guest %s vCPU %d: cannot open %s: %s",
				  g->name ? g->name : "?", vcpu, path,
				  r == -EMFILE ? perf_errstr(EMFILE, e, sizeof(e)) :
				  strerror(-r));
		}
		return r;
	}
	p->nr_fds++;
	r = read_stat(t, &t->th.node, &t->ticks);
	if (r < 0) {
		thread_free(p, t);
		return r == -EINVAL ? r : -ESRCH;
	}
	t->at = now_monotonic();
	life_so_far(p, t);
	*out = t;
	return 0;
}

static int thread_open_cb(void *priv, struct vn_guest *g, int i,
			  struct vcpu_thread **out)
{
	return thread_open(priv, g, i, (struct pfs_thread **)out);
}

static void thread_free_cb(void *priv, struct vcpu_thread *t)
{
	thread_free(priv, (struct pfs_thread *)t);
}

static void no_room(void *priv, struct vn_guest *g, int need)
{
	char e[300];

	pfs_error(priv, EMFILE, "guest %s: %d vCPU threads need %d more "
		  "descriptors: %s", g->name ? g->name : "?", need, need * 2,
		  perf_errstr(EMFILE, e, sizeof(e)));
}

/* The stat file per thread, and the sched file once fault counts are read. */
static const struct thread_ops thread_ops = {
	thread_open_cb, thread_free_cb, no_room, 2
};

/* Watches the guest's vCPU threads; keeps those already watched. */
static int pfs_attach(struct vn_sampler *s, struct vn_guest *g)
{
	struct pfs_priv *p = s->priv;

	return threads_attach(g, &thread_ops, p, &p->nr_fds);
}

static void pfs_detach(struct vn_sampler *s, struct vn_guest *g)
{
	threads_detach(g, &thread_ops, s->priv);
}

/* Share of the thread's NUMA faults on other nodes than `node`, or -1. */
static double fault_share(struct pfs_priv *p, struct vn_guest *g,
			  struct pfs_thread *t, int node)
{
	uint64_t f[VN_MAX_NODES], total = 0;
	char buf[8192];
	ssize_t n;

	if (t->sched_fd < 0) {
		char path[64];
		int fd;

		if (g->pid > 0)
			snprintf(path, sizeof(path), "/proc/%d/task/%d/sched",
				 (int)g->pid, (int)t->th.tid);
		else
			snprintf(path, sizeof(path), "/proc/%d/sched", (int)t->th.tid);
		fd = open_retry(path, O_RDONLY);
		if (fd < 0)
			return -1;
		t->sched_fd = fd;
		p->nr_fds++;
	}
	n = pread_all(t->sched_fd, buf, sizeof(buf));
	if (n <= 0 || sched_faults_parse(buf, (size_t)n, f) == 0)
		return -1;
	for (int k = 0; k < VN_MAX_NODES; k++)
		total += f[k];
	if (!total)
		return -1;	/* no faults recorded for it (yet) */
	return (double)(total - f[node]) / (double)total;
}

void procfs_weigh(const struct vn_guest *g, struct vn_counts *c, double share)
{
	uint64_t w = 0;

	if (share < 0 && c->node >= 0 && c->node < VN_MAX_NODES && g->v.mem_total > 0)
		share = 1.0 - (double)g->v.mem[c->node] / (double)g->v.mem_total;
	c->cycles = 0;
	c->instructions = 0;
	if (share >= 0) {
		if (share > 1)
			share = 1;
		w = (uint64_t)llround(c->cpu_time * 1e6);
	}
	c->remote_dram = share >= 0 ? (uint64_t)llround((double)w * share) : 0;
	if (c->remote_dram > w)
		c->remote_dram = w;
	c->local_dram = w - c->remote_dram;
}

/* Fills one vCPU's reading; false when the thread is gone. */
static bool thread_read(struct pfs_priv *p, struct vn_guest *g,
			struct pfs_thread *t, struct vn_counts *c)
{
	uint64_t ticks;
	double now, share = -1;
	int node, r;

	r = read_stat(t, &node, &ticks);
	if (r < 0) {
		/* the counts of an exited thread are gone with it */
		c->valid = false;
		c->node = t->th.node;
		thread_close(p, t);
		return false;
	}
	now = now_monotonic();
	c->source = VNUMAD_SRC_ESTIMATE;
	if (node >= 0 && p->faults) {
		share = fault_share(p, g, t, node);
		if (share >= 0)
			c->source = VNUMAD_SRC_FAULTS;
	}
	c->cpu_time = ticks >= t->ticks ? (double)(ticks - t->ticks) / p->clk_tck : 0;
	c->elapsed = now - t->at;
	c->node = node;
	procfs_weigh(g, c, share);
	c->valid = true;
	t->ticks = ticks;
	t->at = now;
	t->th.node = node;
	return true;
}

static int pfs_read(struct vn_sampler *s, struct vn_guest *g)
{
	struct pfs_priv *p = s->priv;
	int live = 0, dead = 0;
	double now = now_monotonic();

	if (now - p->faults_checked >= FAULTS_RECHECK) {
		p->faults = balancing_on();
		p->faults_checked = now;
	}
	for (int i = 0; i < g->nr_vcpus; i++) {
		struct vn_counts *c = &g->vc[i].delta;
		struct pfs_thread *t = (struct pfs_thread *)threads_get(g, i);

		if (!t || t->th.gone || t->th.tid != g->vc[i].tid) {
			c->valid = false;
			c->source = VNUMAD_SRC_ESTIMATE;
			c->node = t ? t->th.node : -1;
			dead++;
			continue;
		}
		if (thread_read(p, g, t, c))
			live++;
		else
			dead++;
	}
	return live || !dead ? 0 : -ESRCH;
}

static int pfs_memory(struct vn_sampler *s, struct vn_guest *g)
{
	(void)s;
	return guest_memory(g);
}

int procfs_nr_fds(const struct vn_sampler *s)
{
	const struct pfs_priv *p = s->priv;

	return p ? p->nr_fds : 0;
}

bool procfs_uses_faults(const struct vn_sampler *s)
{
	const struct pfs_priv *p = s->priv;

	return p && p->faults;
}

/* Node bandwidth where the memory controllers count it: no core PMU needed. */
static void pfs_nodes(struct vn_sampler *s, struct vn_host *h)
{
	struct pfs_priv *p = s->priv;

	mc_bw_fill(p->mc, h);
}

const struct vn_sampler_ops procfs_sampler_ops = {
	.name = "procfs",
	.open = pfs_open,
	.close = pfs_close,
	.attach = pfs_attach,
	.detach = pfs_detach,
	.read = pfs_read,
	.memory = pfs_memory,
	.nodes = pfs_nodes,
};
