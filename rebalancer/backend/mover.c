// SPDX-License-Identifier: MIT
/*
 * The memory mover: batched move_pages(2) on a guest's RAM mappings, in one
 * worker thread shared by all migrations.
 *
 * A migration walks the guest-RAM mappings of the QEMU process (from
 * /proc/PID/smaps) window by window. For each window it asks the kernel
 * where the pages are (move_pages with no target nodes), then moves those
 * on the source node. Where transparent huge pages may back the mapping it
 * first moves the 2 MiB-aligned pages alone: moving a huge page through its
 * first address moves it whole, while its other 511 addresses, given in the
 * same call, would fail as busy. A second look then finds the small pages
 * still to move. A huge page is thus one unit of 2 MiB for a partial move
 * too: the move takes whole huge pages and ends within half of one of the
 * amount asked, and counts what the kernel moved, not what it was given.
 *
 * The window is sized from the measured cost per page so that one call
 * takes about call_target (10 ms): the kernel holds the mm's locks for the
 * call, and a long call stalls the guest. The cost is taken as at least
 * that of a 1 GB/s copy, so that a first call, or one after many cheap
 * calls (pages already in place), cannot run long. A virtual clock spreads
 * the bytes over time at
 * the configured rate, shared by all migrations. The worker never touches
 * the core's structures: it publishes figures under the mutex and pokes an
 * eventfd; the loop copies them into the struct vn_migration.
 *
 * The worker copies on the target node, at a higher priority than the
 * guests (nice, default -10). On the target node the copy's writes are
 * local and its CPU is spent where the guest is going, as the kernel's
 * NUMA balancing spends it in the faulting thread; where it shares a CPU
 * with the guest's vCPU, the guest is off that CPU while its pages move,
 * so the kernel has no TLB shootdown to wait for. At the guests' priority
 * the copy would get a 1/(n+1) share of a target node busy with n vCPUs
 * and last n+1 times as long while the guest runs remote; migrate_rate
 * bounds the CPU it can take. In the four-node test VM (tests/numavm) the
 * two together brought a 320 MiB migration from 6.2-8.3 s to 3.7-4.8 s
 * and its kernel CPU from 3.6-5.0 s to 2.1-3.0 s.
 *
 * We do not use migrate_pages(2) for whole-node moves: one call moves
 * everything, can take seconds, and can be neither paced nor cancelled.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <numaif.h>

#include "hostinfo.h"
#include "log.h"
#include "mover.h"
#include "util.h"
#include "vnumad.h"

#define MAX_WINDOW	32768		/* pages looked at in one call */
#define ASSUMED_BPS	1e9		/* copy speed assumed unless slower is measured */
#define NOTIFY_EVERY	0.05		/* seconds between progress reports */
#define RATE_SLICE	0.05		/* a window holds at most this much rate */
#define THP_SIZE	(2 * MiB)
#define GIGANTIC	(1 * GiB)
#define ENOMEM_STREAK	3		/* full windows that mean "target full" */

/* What only the worker touches while a job runs. */
struct mv_work {
	struct mover_region *reg;
	int nr_reg;
	bool started;
	int ri;			/* current region */
	uintptr_t cursor;	/* next address in it */
	double ns_move;		/* measured cost of a moved page, ns; 0 unknown */
	double ns_query;
	int enomem_streak;
	bool refused_noted;
	void **addr;		/* [MAX_WINDOW] */
	int *q1, *q2, *st, *nodes, *idx;
	void **sub;
};

struct mv_job {
	/* fixed at start */
	pid_t pid;
	uint64_t starttime;
	int from, to;
	uint64_t bytes;		/* 0: all */
	/* shared, under mv->lock */
	struct vn_migration *m;	/* NULL once terminal or cancelled */
	bool cancel;
	bool finished;
	enum vn_mig_state result;
	uint64_t done, failed;
	int error;
	char note[160];		/* logged by the loop when the job ends */
	double begun;		/* its first window, 0 not yet */
	double ended;		/* when the worker finished it */
	uint64_t calls;		/* move_pages calls that moved pages */
	double t_move, cpu_move;	/* seconds in them, wall clock and CPU */
	struct mv_job *next;
	/* the worker's */
	struct mv_work w;
};

struct vn_mover {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool thread_started;
	bool stop;
	int efd;
	bool notified;		/* a poke is pending */
	double last_notify;
	struct event *ev;
	struct mv_job *jobs;
	double rate;
	double next_at;		/* virtual clock of the rate limit */
	double call_target;
	uint64_t min_region;
	int move_flags;
	struct vn_mover_stats st;
	/* where and at what priority the worker copies */
	int nice;		/* asked for */
	int nice_applied;	/* what the worker last tried */
	int nice_error;		/* errno of that try, 0 it took */
	bool nice_noted;	/* the loop has logged the error */
	pid_t tid;		/* the worker's thread id */
	cpu_set_t *allowed;	/* the worker's CPUs when it started */
	cpu_set_t *cpus;	/* scratch */
	int on_node;		/* node whose CPUs it runs on, -1 its own */
};

/* Settings a window runs with, copied under the lock. */
struct mv_settings {
	double rate;
	double call_target;
	uint64_t min_region;
};

/* Results of one window, handed from the worker to the shared figures. */
struct mv_round {
	struct mover_tally t;
	uint64_t attempted;	/* bytes handed to move calls */
	int fatal;		/* errno that ends the job, 0 none */
	bool end;		/* nothing left to look at */
	uint64_t moves, queries, pages;
	uint64_t min_batch, max_batch;
	double max_move, max_query, total_move;
	double max_move_cpu, total_move_cpu;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void mover_account(const int *status, int n, int from, int to, size_t page,
		   struct mover_tally *t)
{
	for (int i = 0; i < n; i++) {
		int s = status[i], e;

		if (s == to) {
			t->done += page;
			continue;
		}
		if (s == -ENOENT || s == -EFAULT)
			continue;	/* unmapped meanwhile: nothing to move */
		if (s >= 0 && s != from)
			continue;	/* moved elsewhere by someone else */
		e = s < 0 ? -s : EBUSY;
		if (e == EAGAIN)
			e = EBUSY;
		t->failed += page;
		if (!t->error)
			t->error = e;
		if (e == ENOMEM)
			t->nomem++;
		else if (e == EBUSY)
			t->busy++;
	}
}

static bool has_flag(const char *vmflags, const char *f)
{
	for (const char *p = vmflags; (p = strstr(p, f)); p++)
		if ((p == vmflags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\n' ||
						       p[2] == '\0'))
			return true;
	return false;
}

/* Decides whether one parsed smaps entry is guest RAM. */
static bool is_guest_ram(const char *perms, const char *path, const char *vmflags,
			 uint64_t size, uint64_t min_bytes)
{
	bool shared = perms[3] == 's';

	if (perms[0] != 'r' || perms[1] != 'w' || perms[2] == 'x' || size < min_bytes)
		return false;
	if (has_flag(vmflags, "io") || has_flag(vmflags, "pf"))
		return false;	/* device memory (VFIO BARs, ivshmem doorbells) */
	if (has_flag(vmflags, "ht"))
		return true;	/* hugetlbfs, whatever its path */
	if (!path[0] || strncmp(path, "[anon:", 6) == 0)
		return true;
	if (path[0] == '[')
		return false;	/* [heap], [stack] and the like */
	if (strncmp(path, "/memfd:", 7) == 0 || strncmp(path, "/anon_hugepage", 14) == 0)
		return true;
	/* memory-backend-file: a shared mapping of a file on tmpfs or disk */
	return shared;
}

int mover_parse_smaps(FILE *f, uint64_t min_bytes, struct mover_region **out)
{
	char *line = NULL, perms[8] = "", path[512] = "";
	size_t cap = 0;
	struct mover_region *r = NULL, cur = { 0 };
	int n = 0, alloc = 0;
	bool in = false, thp = false, empty = false;

	*out = NULL;
	while (getline(&line, &cap, f) > 0) {
		unsigned long start, end, kb;
		int off = 0;

		if (sscanf(line, "%lx-%lx %7s %*x %*x:%*x %*u %n", &start, &end, perms, &off) == 3 &&
		    off > 0) {
			size_t l;

			snprintf(path, sizeof(path), "%s", line + off);
			l = strlen(path);
			while (l && (path[l - 1] == '\n' || path[l - 1] == ' '))
				path[--l] = '\0';
			cur = (struct mover_region){ .start = start, .end = end, .page = 4096 };
			in = true;
			thp = false;
			empty = false;
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Rss: %lu kB", &kb) == 1)
			empty = kb == 0;	/* nothing resident: nothing to move */
		else if (sscanf(line, "KernelPageSize: %lu kB", &kb) == 1 && kb)
			cur.page = (size_t)kb * 1024;
		else if ((sscanf(line, "AnonHugePages: %lu kB", &kb) == 1 ||
			  sscanf(line, "ShmemPmdMapped: %lu kB", &kb) == 1 ||
			  sscanf(line, "FilePmdMapped: %lu kB", &kb) == 1) && kb)
			thp = true;
		else if (strncmp(line, "VmFlags:", 8) == 0) {
			in = false;
			if (empty || !is_guest_ram(perms, path, line + 8, cur.end - cur.start,
						   min_bytes))
				continue;
			cur.thp = cur.page == 4096 && (thp || has_flag(line + 8, "hg"));
			if (cur.page >= GIGANTIC)
				cur.refused = "1 GiB huge pages are not moved: copying one takes "
					      "longer than a batch may stall the guest";
			if (n == alloc) {
				alloc = alloc ? alloc * 2 : 8;
				r = xreallocarray(r, alloc, sizeof(*r));
			}
			r[n++] = cur;
		}
	}
	free(line);
	*out = r;
	return n;
}

/* Reads the guest-RAM mappings of the job's process. */
static int load_regions(const struct mv_settings *set, struct mv_job *j)
{
	char path[64];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)j->pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	n = mover_parse_smaps(f, set->min_region, &j->w.reg);
	fclose(f);
	if (n >= 0)
		j->w.nr_reg = n;
	return n;
}

static void work_alloc(struct mv_work *w)
{
	w->addr = xcalloc(MAX_WINDOW, sizeof(*w->addr));
	w->sub = xcalloc(MAX_WINDOW, sizeof(*w->sub));
	w->q1 = xcalloc(MAX_WINDOW, sizeof(int));
	w->q2 = xcalloc(MAX_WINDOW, sizeof(int));
	w->st = xcalloc(MAX_WINDOW, sizeof(int));
	w->nodes = xcalloc(MAX_WINDOW, sizeof(int));
	w->idx = xcalloc(MAX_WINDOW, sizeof(int));
}

static void work_free(struct mv_work *w)
{
	free(w->reg);
	free(w->addr);
	free(w->sub);
	free(w->q1);
	free(w->q2);
	free(w->st);
	free(w->nodes);
	free(w->idx);
	memset(w, 0, sizeof(*w));
}

/* Where the pages are: one query call, timed. */
static long query(struct mv_job *j, void **addr, int n, int *status,
		  struct mv_round *rd)
{
	double t0 = mono(), dt;
	long r;

	r = move_pages(j->pid, (unsigned long)n, addr, NULL, status, 0);
	dt = mono() - t0;
	rd->queries++;
	if (dt > rd->max_query)
		rd->max_query = dt;
	if (r == 0 && n >= 16) {
		double ns = dt * 1e9 / n;

		j->w.ns_query = j->w.ns_query ? 0.7 * j->w.ns_query + 0.3 * ns : ns;
	}
	return r < 0 ? -errno : r;
}

/* One move call of n pages to j->to, timed; fills status. */
static long move(struct vn_mover *mv, struct mv_job *j, void **addr, int n,
		 int *status, size_t page, struct mv_round *rd)
{
	double t0, c0, dt, dc, ns;
	long r;

	for (int i = 0; i < n; i++)
		j->w.nodes[i] = j->to;
	t0 = mono();
	c0 = thread_cpu();
	r = move_pages(j->pid, (unsigned long)n, addr, j->w.nodes, status, mv->move_flags);
	if (r < 0 && errno == EPERM && (mv->move_flags & MPOL_MF_MOVE_ALL)) {
		/* MOVE_ALL (pages shared with a vhost-user process) needs CAP_SYS_NICE */
		r = move_pages(j->pid, (unsigned long)n, addr, j->w.nodes, status,
			       MPOL_MF_MOVE);
		if (r >= 0)
			mv->move_flags = MPOL_MF_MOVE;
		else
			errno = EPERM;
	}
	dt = mono() - t0;
	dc = thread_cpu() - c0;
	if (r < 0)
		return -errno;
	rd->moves++;
	rd->pages += (uint64_t)n;
	rd->total_move += dt;
	rd->total_move_cpu += dc;
	if (dt > rd->max_move)
		rd->max_move = dt;
	if (dc > rd->max_move_cpu)
		rd->max_move_cpu = dc;
	if (!rd->min_batch || (uint64_t)n < rd->min_batch)
		rd->min_batch = (uint64_t)n;
	if ((uint64_t)n > rd->max_batch)
		rd->max_batch = (uint64_t)n;
	/*
	 * Cost per 4 KiB of copy, so that huge pages weigh what they copy; in
	 * CPU time, the kernel's work, which preemption on a busy host does not
	 * inflate.
	 */
	ns = dc * 1e9 / ((double)n * (double)page / 4096.0);
	if (n >= 8 || page > 4096)
		j->w.ns_move = j->w.ns_move ? 0.7 * j->w.ns_move + 0.3 * ns : ns;
	return r;
}

/* Pages per window: call_target worth of copying and of looking, and of rate. */
static int window_pages(const struct mv_settings *set, struct mv_job *j,
			size_t page)
{
	double per4k = MAX(j->w.ns_move, 4096.0 / ASSUMED_BPS * 1e9);
	double pages = set->call_target * 1e9 / (per4k * (double)page / 4096.0);

	if (j->w.ns_query > 0)
		pages = MIN(pages, set->call_target * 1e9 / j->w.ns_query);
	if (set->rate > 0)
		pages = MIN(pages, set->rate * RATE_SLICE / (double)page);
	if (pages > MAX_WINDOW)
		pages = MAX_WINDOW;
	return pages < 1 ? 1 : (int)pages;
}

/*
 * Pages still to move: small pages rounded up, huge pages (hugetlbfs) to the
 * nearest, so that a partial move ends within half of one of the amount
 * asked, as it does with transparent huge pages (see mover_select).
 */
static int remaining_pages(const struct mv_job *j, uint64_t done, size_t page)
{
	uint64_t left;

	if (!j->bytes)
		return MAX_WINDOW;
	left = j->bytes > done ? j->bytes - done : 0;
	left = page > 4096 ? (left + page / 2) / page : (left + page - 1) / page;
	return (int)MIN((uint64_t)MAX_WINDOW, left);
}

/*
 * True when page i of the window starts what may be a transparent huge
 * page still whole on `from`: a 2 MiB-aligned address in a THP region with
 * all 512 small pages of its range in the window and on `from` (the pages
 * of one huge page are always on one node, so anything else is small pages).
 */
static bool thp_unit(const struct mover_region *reg, void *const *addr,
		     const int *where, int i, int n, int from)
{
	int c = (int)(THP_SIZE / reg->page);

	if (!reg->thp || ((uintptr_t)addr[i] & (THP_SIZE - 1)) || i + c > n)
		return false;
	for (int x = i; x < i + c; x++)
		if (where[x] != from)
			return false;
	return true;
}

int mover_select(const struct mover_region *reg, void *const *addr,
		 const int *where, int n, int from, int left, bool partial,
		 int *idx, int *last, bool *stop)
{
	int k = 0, used = 0;

	*last = n - 1;
	*stop = partial && left <= 0;	/* less than half a huge page to go */
	if (*stop) {
		*last = -1;
		return 0;
	}
	for (int i = 0; i < n;) {
		int c;

		if (thp_unit(reg, addr, where, i, n, from)) {
			/*
			 * A huge page moves whole, whichever of its addresses is
			 * given: it is one unit of 512 small pages. A partial
			 * move takes it if that ends nearer the amount asked
			 * than leaving it does, and stops before it otherwise.
			 */
			c = (int)(THP_SIZE / reg->page);
			if (partial && used + c > left && 2 * (left - used) < c) {
				*last = i - 1;
				*stop = !used;	/* nothing nearer is left to do */
				break;
			}
			for (int x = i; x < i + c; x++)
				idx[k++] = x;
			used += c;
			i += c;
			continue;
		}
		if (where[i] != from) {
			i++;
			continue;
		}
		if (partial && used >= left) {
			*last = i - 1;	/* enough: the rest waits for no one */
			break;
		}
		used++;
		idx[k++] = i++;
	}
	return k;
}

/*
 * One window of the current region: look, move what is on `from`, account.
 * Runs without the lock; done is the job's total so far.
 */
static void job_window(struct vn_mover *mv, const struct mv_settings *set,
		       struct mv_job *j, uint64_t done, struct mv_round *rd)
{
	struct mv_work *w = &j->w;
	struct mover_region *reg;
	int n, k, left, last;
	bool stop;
	long r;

	if (!w->started) {
		w->started = true;
		work_alloc(w);
		r = load_regions(set, j);
		if (r < 0) {
			rd->fatal = (int)-r;
			return;
		}
		if (!w->nr_reg) {
			snprintf(j->note, sizeof(j->note),
				 "no guest-RAM mapping of %llu MiB or more in /proc/%d/smaps",
				 (unsigned long long)(set->min_region / MiB), (int)j->pid);
			rd->end = true;
			return;
		}
		w->cursor = w->reg[0].start;
	}
	while (w->ri < w->nr_reg && w->cursor >= w->reg[w->ri].end) {
		w->ri++;
		if (w->ri < w->nr_reg)
			w->cursor = w->reg[w->ri].start;
	}
	if (w->ri >= w->nr_reg) {
		rd->end = true;
		return;
	}
	/* the pid may have been reused by now: act only on the guest */
	if (!hostinfo_same_process(j->pid, j->starttime)) {
		rd->fatal = ESRCH;
		return;
	}
	reg = &w->reg[w->ri];
	n = window_pages(set, j, reg->page);
	if (reg->thp) {
		/*
		 * End windows on a huge-page boundary: a head moves its whole
		 * huge page, whose small pages must then be counted in the same
		 * window, not found already moved by the next one.
		 */
		uintptr_t end = w->cursor + (uintptr_t)MIN(n, MAX_WINDOW - 1024) * reg->page;

		end = (end + THP_SIZE - 1) & ~(uintptr_t)(THP_SIZE - 1);
		n = (int)((MIN(end, reg->end) - w->cursor) / reg->page);
	}
	n = (int)MIN((uintptr_t)n, (reg->end - w->cursor) / reg->page);
	if (n < 1) {
		w->cursor = reg->end;
		return;
	}
	for (int i = 0; i < n; i++)
		w->addr[i] = (void *)(w->cursor + (uintptr_t)i * reg->page);
	r = query(j, w->addr, n, w->q1, rd);
	if (r < 0) {
		rd->fatal = (int)-r;
		return;
	}
	left = remaining_pages(j, done, reg->page);
	k = mover_select(reg, w->addr, w->q1, n, j->from, left, j->bytes != 0,
			 w->idx, &last, &stop);
	if (stop) {
		char sz[32];

		rd->end = true;
		snprintf(j->note, sizeof(j->note),
			 "stopped within half a huge page (%s) of the amount asked",
			 fmt_size(sz, sizeof(sz), reg->thp ? THP_SIZE : reg->page));
	}
	w->cursor += (uintptr_t)(last + 1) * reg->page;
	if (!k)
		return;
	rd->attempted += (uint64_t)k * reg->page;
	if (reg->refused) {
		/* counted as failed so that the operator sees how much stayed */
		for (int i = 0; i < k; i++)
			w->st[i] = -EOPNOTSUPP;
		mover_account(w->st, k, j->from, j->to, reg->page, &rd->t);
		if (!w->refused_noted) {
			w->refused_noted = true;
			snprintf(j->note, sizeof(j->note), "%s", reg->refused);
		}
		return;
	}
	/* q2 holds, for every page that was on `from`, where it is before the last call */
	for (int i = 0; i < n; i++)
		w->q2[i] = w->q1[i];
	if (reg->thp) {
		int a = 0;

		for (int x = 0; x < k; x++)
			if (!((uintptr_t)w->addr[w->idx[x]] & (THP_SIZE - 1)))
				w->sub[a++] = w->addr[w->idx[x]];
		if (a) {
			r = move(mv, j, w->sub, a, w->st, THP_SIZE, rd);
			if (r < 0 && r != -ENOMEM) {
				rd->fatal = (int)-r;
				return;
			}
			r = query(j, w->addr, n, w->q2, rd);
			if (r < 0) {
				rd->fatal = (int)-r;
				return;
			}
		}
	}
	/* the small pages (or everything) still on `from` */
	{
		int m = 0;

		for (int x = 0; x < k; x++)
			if (w->q2[w->idx[x]] == j->from)
				w->sub[m++] = w->addr[w->idx[x]];
		if (m) {
			r = move(mv, j, w->sub, m, w->st, reg->page, rd);
			if (r == -ENOMEM) {
				/* the kernel could not even start: the whole call failed */
				for (int x = 0; x < m; x++)
					w->st[x] = -ENOMEM;
			} else if (r < 0) {
				rd->fatal = (int)-r;
				return;
			} else if (r > 0) {
				/* some not moved, and their status is not to be trusted */
				r = query(j, w->sub, m, w->st, rd);
				if (r < 0) {
					rd->fatal = (int)-r;
					return;
				}
			}
			m = 0;
			for (int x = 0; x < k; x++)
				if (w->q2[w->idx[x]] == j->from)
					w->q2[w->idx[x]] = w->st[m++];
		}
	}
	for (int x = 0; x < k; x++)
		w->st[x] = w->q2[w->idx[x]];
	mover_account(w->st, k, j->from, j->to, reg->page, &rd->t);
	/* a target that refuses every page is full: stop asking */
	if (rd->t.nomem && rd->t.nomem * reg->page == rd->t.failed && !rd->t.done) {
		if (++w->enomem_streak >= ENOMEM_STREAK) {
			snprintf(j->note, sizeof(j->note), "node %d has no free memory left",
				 j->to);
			rd->fatal = ENOMEM;
		}
	} else {
		w->enomem_streak = 0;
	}
}

static void poke(struct vn_mover *mv)
{
	uint64_t one = 1;

	if (mv->notified)
		return;
	mv->notified = true;
	mv->last_notify = mono();
	if (write(mv->efd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow with one poke pending */
	}
}

/* Ends a job; an error that stops it replaces the first per-page one. */
static void finish(struct vn_mover *mv, struct mv_job *j, enum vn_mig_state s,
		   int error)
{
	j->finished = true;
	j->ended = mono();
	j->result = s;
	if (error)
		j->error = error;
	poke(mv);
}

/* The next job to serve: the first unfinished one. */
static struct mv_job *pick(struct vn_mover *mv)
{
	for (struct mv_job *j = mv->jobs; j; j = j->next)
		if (!j->finished)
			return j;
	return NULL;
}

/* A job just served goes to the tail: migrations take turns, window by window. */
static void to_tail(struct vn_mover *mv, struct mv_job *j)
{
	struct mv_job **pp;

	for (pp = &mv->jobs; *pp && *pp != j; pp = &(*pp)->next)
		;
	if (!*pp || !j->next)
		return;
	*pp = j->next;
	j->next = NULL;
	while (*pp)
		pp = &(*pp)->next;
	*pp = j;
}

static void merge_stats(struct vn_mover *mv, const struct mv_round *rd)
{
	struct vn_mover_stats *s = &mv->st;

	s->moves += rd->moves;
	s->queries += rd->queries;
	s->pages += rd->pages;
	s->total_move += rd->total_move;
	s->total_move_cpu += rd->total_move_cpu;
	if (rd->max_move > s->max_move)
		s->max_move = rd->max_move;
	if (rd->max_move_cpu > s->max_move_cpu)
		s->max_move_cpu = rd->max_move_cpu;
	if (rd->max_query > s->max_query)
		s->max_query = rd->max_query;
	if (rd->min_batch && (!s->min_batch || rd->min_batch < s->min_batch))
		s->min_batch = rd->min_batch;
	if (rd->max_batch > s->max_batch)
		s->max_batch = rd->max_batch;
}

int mover_node_cpus(int node, const cpu_set_t *allowed, cpu_set_t *out)
{
	size_t sz = hostinfo_cpuset_size();

	hostinfo_nodes_cpus(node >= 0 && node < 64 ? 1ULL << node : 0, out);
	CPU_AND_S(sz, out, out, allowed);
	return CPU_COUNT_S(sz, out);
}

/*
 * Moves the worker onto the CPUs of node, those of them it may use; onto all
 * it started with when the node has none (a memory-only node) or none of
 * them is allowed. The loop's cpuset (systemd's CPUAffinity=, a cgroup)
 * thus still holds.
 */
static void run_on(struct vn_mover *mv, int node)
{
	size_t sz = hostinfo_cpuset_size();

	if (node == mv->on_node || !CPU_COUNT_S(sz, mv->allowed))
		return;
	mv->on_node = node;
	if (mover_node_cpus(node, mv->allowed, mv->cpus) > 0 &&
	    sched_setaffinity(0, sz, mv->cpus) == 0)
		return;
	if (sched_setaffinity(0, sz, mv->allowed) < 0)
		mv->on_node = -1;
}

static void *worker(void *arg)
{
	struct vn_mover *mv = arg;

	pthread_mutex_lock(&mv->lock);
	pthread_setname_np(pthread_self(), "vnumad-mover");	/* top -H, ps -L */
	mv->tid = (pid_t)syscall(SYS_gettid);
	if (sched_getaffinity(0, hostinfo_cpuset_size(), mv->allowed) < 0)
		CPU_ZERO_S(hostinfo_cpuset_size(), mv->allowed);
	pthread_cond_broadcast(&mv->cond);
	while (!mv->stop) {
		struct mv_job *j = pick(mv);
		struct mv_settings set;
		struct mv_round rd;
		double now, t0;
		uint64_t done;

		if (!j) {
			pthread_cond_wait(&mv->cond, &mv->lock);
			continue;
		}
		if (j->cancel) {
			finish(mv, j, VN_MIG_CANCELLED, 0);
			continue;
		}
		now = mono();
		if (mv->rate > 0 && now < mv->next_at) {
			/* paced: sleep until the clock allows more, or a cancel */
			double at = mv->next_at;
			struct timespec ts = { (time_t)at, (long)((at - (double)(time_t)at) * 1e9) };

			pthread_cond_timedwait(&mv->cond, &mv->lock, &ts);
			continue;
		}
		set = (struct mv_settings){ mv->rate, mv->call_target, mv->min_region };
		done = j->done;
		if (mv->nice != mv->nice_applied) {
			mv->nice_applied = mv->nice;
			mv->nice_error = setpriority(PRIO_PROCESS, 0, mv->nice) < 0 ? errno : 0;
			mv->nice_noted = false;
		}
		pthread_mutex_unlock(&mv->lock);
		run_on(mv, j->to);

		memset(&rd, 0, sizeof(rd));
		t0 = mono();
		if (!j->begun)
			j->begun = t0;
		job_window(mv, &set, j, done, &rd);

		/* a process that died under the call gives EINVAL (no mm) or ESRCH */
		if (rd.fatal && rd.fatal != ESRCH &&
		    !hostinfo_same_process(j->pid, j->starttime))
			rd.fatal = ESRCH;

		pthread_mutex_lock(&mv->lock);
		to_tail(mv, j);
		merge_stats(mv, &rd);
		j->calls += rd.moves;
		j->t_move += rd.total_move;
		j->cpu_move += rd.total_move_cpu;
		if (mv->rate > 0 && rd.attempted)
			mv->next_at = MAX(mv->next_at, t0) + (double)rd.attempted / mv->rate;
		j->done += rd.t.done;
		j->failed += rd.t.failed;
		if (rd.t.error && !j->error)
			j->error = rd.t.error;
		if (j->cancel)
			finish(mv, j, VN_MIG_CANCELLED, 0);
		else if (rd.fatal)
			finish(mv, j, VN_MIG_FAILED, rd.fatal);
		else if (j->bytes && j->done >= j->bytes)
			finish(mv, j, VN_MIG_DONE, 0);
		else if (rd.end)
			finish(mv, j, j->failed ? VN_MIG_FAILED : VN_MIG_DONE, 0);
		else if (mono() - mv->last_notify >= NOTIFY_EVERY)
			poke(mv);
	}
	pthread_mutex_unlock(&mv->lock);
	return NULL;
}

/* Loop side: copies the figures into the migrations, reaps finished jobs. */
static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct vn_mover *mv = arg;
	struct mv_job *gone = NULL, **pp;
	int nice_error = 0, nice = 0;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("mover: eventfd");
	pthread_mutex_lock(&mv->lock);
	mv->notified = false;
	if (mv->nice_error && !mv->nice_noted) {
		mv->nice_noted = true;
		nice_error = mv->nice_error;
		nice = mv->nice_applied;
	}
	for (pp = &mv->jobs; *pp; ) {
		struct mv_job *j = *pp;
		struct vn_migration *m = j->m;

		if (m) {
			m->done = j->done;
			m->failed = j->failed;
			m->error = j->error;
		}
		if (!j->finished) {
			pp = &j->next;
			continue;
		}
		if (m) {
			m->state = j->result;
			m->priv = NULL;
			j->m = NULL;
		}
		*pp = j->next;
		j->next = gone;
		gone = j;
	}
	pthread_mutex_unlock(&mv->lock);
	if (nice_error)
		log_warnx("mover: cannot take nice %d (%s): migrations copy at nice %d, "
			  "sharing the CPU with the guests", nice, strerror(nice_error),
			  getpriority(PRIO_PROCESS, 0));
	while (gone) {
		struct mv_job *j = gone;

		gone = j->next;
		if (j->note[0])
			log_info("memory of process %d, node %d to %d: %s", (int)j->pid,
				 j->from, j->to, j->note);
		if (j->begun) {
			char a[32];

			log_debug("memory of process %d, node %d to %d: %s in %.2f s, %llu "
				  "move_pages calls taking %.2f s (%.2f s of CPU)", (int)j->pid,
				  j->from, j->to, fmt_size(a, sizeof(a), j->done),
				  (j->ended ? j->ended : mono()) - j->begun,
				  (unsigned long long)j->calls, j->t_move,
				  j->cpu_move);
		}
		work_free(&j->w);
		free(j);
	}
}

struct vn_mover *mover_new(struct event_base *base)
{
	struct vn_mover *mv = xcalloc(1, sizeof(*mv));
	pthread_condattr_t ca;
	int r;

	mv->efd = -1;
	pthread_mutex_init(&mv->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&mv->cond, &ca);
	pthread_condattr_destroy(&ca);
	mv->call_target = 0.010;
	mv->min_region = 32 * MiB;
	mv->move_flags = MPOL_MF_MOVE_ALL;
	mv->nice = mv->nice_applied = getpriority(PRIO_PROCESS, 0);
	mv->allowed = hostinfo_cpuset_alloc();
	mv->cpus = hostinfo_cpuset_alloc();
	mv->on_node = -1;
	mv->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (mv->efd < 0) {
		log_warn("mover: eventfd");
		mover_free(mv);
		return NULL;
	}
	mv->ev = event_new(base, mv->efd, EV_READ | EV_PERSIST, on_notify, mv);
	if (!mv->ev || event_add(mv->ev, NULL) < 0) {
		log_warnx("mover: cannot watch its eventfd");
		mover_free(mv);
		return NULL;
	}
	r = pthread_create(&mv->thread, NULL, worker, mv);
	if (r) {
		errno = r;
		log_warn("mover: cannot start its thread");
		mover_free(mv);
		return NULL;
	}
	mv->thread_started = true;
	return mv;
}

void mover_free(struct vn_mover *mv)
{
	if (!mv)
		return;
	pthread_mutex_lock(&mv->lock);
	mv->stop = true;
	pthread_cond_broadcast(&mv->cond);
	pthread_mutex_unlock(&mv->lock);
	if (mv->thread_started)
		pthread_join(mv->thread, NULL);
	while (mv->jobs) {
		struct mv_job *j = mv->jobs;

		mv->jobs = j->next;
		if (j->m) {
			j->m->done = j->done;
			j->m->failed = j->failed;
			j->m->state = j->finished ? j->result : VN_MIG_CANCELLED;
			j->m->priv = NULL;
		}
		work_free(&j->w);
		free(j);
	}
	if (mv->ev)
		event_free(mv->ev);
	if (mv->efd >= 0)
		close(mv->efd);
	pthread_cond_destroy(&mv->cond);
	pthread_mutex_destroy(&mv->lock);
	if (mv->allowed)
		CPU_FREE(mv->allowed);
	if (mv->cpus)
		CPU_FREE(mv->cpus);
	free(mv);
}

void mover_set_rate(struct vn_mover *mv, double bytes_per_second)
{
	pthread_mutex_lock(&mv->lock);
	mv->rate = bytes_per_second > 0 ? bytes_per_second : 0;
	pthread_cond_broadcast(&mv->cond);
	pthread_mutex_unlock(&mv->lock);
}

void mover_set_nice(struct vn_mover *mv, int nice)
{
	pthread_mutex_lock(&mv->lock);
	mv->nice = MAX(-20, MIN(19, nice));
	pthread_mutex_unlock(&mv->lock);
}

pid_t mover_tid(struct vn_mover *mv)
{
	pid_t tid;

	pthread_mutex_lock(&mv->lock);
	while (mv->thread_started && !mv->tid)
		pthread_cond_wait(&mv->cond, &mv->lock);
	tid = mv->tid;
	pthread_mutex_unlock(&mv->lock);
	return tid;
}

void mover_set_call_target(struct vn_mover *mv, double seconds)
{
	pthread_mutex_lock(&mv->lock);
	mv->call_target = seconds > 0 ? seconds : 0.010;
	pthread_mutex_unlock(&mv->lock);
}

void mover_set_min_region(struct vn_mover *mv, uint64_t bytes)
{
	pthread_mutex_lock(&mv->lock);
	mv->min_region = bytes;
	pthread_mutex_unlock(&mv->lock);
}

int mover_start(struct vn_mover *mv, pid_t pid, uint64_t starttime,
		struct vn_migration *m)
{
	struct mv_job *j, **pp;

	if (pid <= 0 || m->from < 0 || m->to < 0)
		return -EINVAL;
	if (!starttime)
		starttime = hostinfo_starttime(pid);
	if (!hostinfo_same_process(pid, starttime))
		return -ESRCH;
	j = xcalloc(1, sizeof(*j));
	j->pid = pid;
	j->starttime = starttime;
	j->from = m->from;
	j->to = m->to;
	j->bytes = m->bytes;
	j->m = m;
	m->priv = j;
	m->state = VN_MIG_RUNNING;
	pthread_mutex_lock(&mv->lock);
	for (pp = &mv->jobs; *pp; pp = &(*pp)->next)
		;
	*pp = j;
	mv->st.jobs++;
	pthread_cond_broadcast(&mv->cond);
	pthread_mutex_unlock(&mv->lock);
	return 0;
}

void mover_cancel(struct vn_mover *mv, struct vn_migration *m)
{
	pthread_mutex_lock(&mv->lock);
	for (struct mv_job *j = mv->jobs; j; j = j->next) {
		if (j->m != m)
			continue;
		j->cancel = true;
		m->done = j->done;
		m->failed = j->failed;
		m->error = j->error;
		/* one that ended before the loop heard of it keeps its outcome */
		m->state = j->finished ? j->result : VN_MIG_CANCELLED;
		m->priv = NULL;
		j->m = NULL;
		pthread_cond_broadcast(&mv->cond);
		break;
	}
	pthread_mutex_unlock(&mv->lock);
}

void mover_get_stats(struct vn_mover *mv, struct vn_mover_stats *st)
{
	pthread_mutex_lock(&mv->lock);
	*st = mv->st;
	pthread_mutex_unlock(&mv->lock);
}

int mover_busy(struct vn_mover *mv)
{
	int n = 0;

	pthread_mutex_lock(&mv->lock);
	for (struct mv_job *j = mv->jobs; j; j = j->next)
		n += !j->finished;
	pthread_mutex_unlock(&mv->lock);
	return n;
}
