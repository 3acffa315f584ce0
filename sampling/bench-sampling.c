// SPDX-License-Identifier: MIT
/*
 * make bench: what sampling costs.
 *
 *   sampling.read_us_per_thread   the PMU sampler's read() of every vCPU
 *                                 thread's counter group, per thread and
 *                                 tick, on real threads (default 8,000 in
 *                                 guests of 8), each of which ran since the
 *                                 previous read and is confined to its node
 *                                 as vnumad places vCPUs; median of the runs.
 *                                 Comment lines give sleeping threads and
 *                                 threads free to run anywhere, whose node
 *                                 is looked up in /proc after a migration.
 *   sampling.read_floor_us        the floor beside it: a bare read() of
 *                                 one software counter per thread (800
 *                                 threads); comment lines give a null
 *                                 system call and a group read, and
 *   sampling.read_uring_us        the group reads batched through io_uring,
 *                                 one submission for all, in the process's
 *                                 CPU per read (its worker threads count)
 *
 * The memory readings (numa_maps, memory.numa_stat) are measured on real
 * processes by tests/bench/bench_memory.c.
 *
 * Without a hardware PMU (virtual machines, these test machines) the groups
 * count four software events instead, which the output says; a hardware
 * counter read may cost more (an IPI when the thread is running elsewhere).
 *
 * It prints the figures both as "name value" and as tests/bench/run.sh's
 * BENCH lines. QUICK=1 in the environment makes a short run.
 *
 * usage: bench-sampling [THREADS [RUNS]]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "log.h"
#include "sampling.h"
#include "sampling_impl.h"
#include "util.h"

#define VCPUS_PER_GUEST	8
#define FLOOR_THREADS	800	/* threads the floor is measured on */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static unsigned long generation;	/* bumped to make every thread run once */
static int ran, started, quit;
static pid_t *tids;

/* A vCPU stand-in: sleeps until woken, does a little work, sleeps again. */
static void *vcpu_main(void *arg)
{
	long idx = (long)arg;
	unsigned long seen = 0;
	char name[16];

	snprintf(name, sizeof(name), "CPU %ld/KVM", idx % VCPUS_PER_GUEST);
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&mu);
	tids[idx] = gettid();
	started++;
	pthread_cond_broadcast(&done);
	for (;;) {
		while (generation == seen && !quit)
			pthread_cond_wait(&wake, &mu);
		if (quit)
			break;
		seen = generation;
		pthread_mutex_unlock(&mu);
		for (volatile int i = 0; i < 2000; i++)
			;
		pthread_mutex_lock(&mu);
		ran++;
		pthread_cond_broadcast(&done);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* CPU seconds of the whole process, its io_uring workers included. */
static double process_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Wakes every thread once and waits until each has run. */
static void run_all(int n)
{
	pthread_mutex_lock(&mu);
	ran = 0;
	generation++;
	pthread_cond_broadcast(&wake);
	while (ran < n)
		pthread_cond_wait(&done, &mu);
	pthread_mutex_unlock(&mu);
}

/* Sets every vCPU's affinity, as the backend reports it, to its node or to all. */
static void confine(struct vn_guest *g, int nguests, bool one_node)
{
	int node = cpu_to_node(0) < 0 ? 0 : cpu_to_node(0);

	for (int k = 0; k < nguests; k++)
		for (int v = 0; v < g[k].nr_vcpus; v++)
			g[k].vv[v].allowed = one_node ? 1ULL << node : 0;
}

/* One tick's read of every guest, in microseconds per thread. */
static double timed_read(struct vn_sampler *s, struct vn_guest *g, int nguests,
			 int n, bool work)
{
	double t0;

	if (work) {
		run_all(n);
		usleep(20000);
	}
	t0 = now_monotonic();
	for (int k = 0; k < nguests; k++)
		s->ops->read(s, &g[k]);
	return (now_monotonic() - t0) / n * 1e6;
}

static void sw_event(struct pmu_event *ev, const char *name, uint64_t config)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->name, sizeof(ev->name), "%s", name);
	ev->attr.size = sizeof(ev->attr);
	ev->attr.type = PERF_TYPE_SOFTWARE;
	ev->attr.config = config;
}

/* The CPU's own events when it has a PMU, else four software ones. */
static const char *pick_events(struct pmu_event ev[PMU_NR_ROLES])
{
	static char what[300];
	const struct pmu_model *m;
	struct cpu_id id;
	char err[600];

	cpu_identify(&id);
	if (pmu_resolve(NULL, &id, ev, &m, err, sizeof(err)) == 0 &&
	    pmu_probe(ev, PMU_NR_ROLES, err, sizeof(err)) == 0) {
		snprintf(what, sizeof(what), "hardware events of %s", m->name);
		return what;
	}
	sw_event(&ev[0], "perf::task-clock", PERF_COUNT_SW_TASK_CLOCK);
	sw_event(&ev[1], "perf::page-faults", PERF_COUNT_SW_PAGE_FAULTS);
	sw_event(&ev[2], "perf::context-switches", PERF_COUNT_SW_CONTEXT_SWITCHES);
	sw_event(&ev[3], "perf::minor-faults", PERF_COUNT_SW_PAGE_FAULTS_MIN);
	snprintf(what, sizeof(what), "SOFTWARE events (task-clock, page-faults, "
		 "context-switches, minor-faults): no hardware PMU here");
	return what;
}

/* What one shard measures, per command. */
enum { CMD_BUSY, CMD_FIRST_IDLE, CMD_IDLE, CMD_FREE_BUSY, CMD_QUIT, NR_CMDS };

struct shard_result {
	double us;		/* total read time of the shard */
	int valid;		/* readings valid */
	int fds;		/* descriptors the sampler holds */
	double attach_us;	/* total attach time */
	int err;
};

/*
 * One process holding n threads and a PMU sampler on them, in guests of 8;
 * it runs the commands it reads from cmd and answers on res. Several such
 * shards stand in for one vnumad when one process may not hold enough
 * descriptors (6 per thread: 5 counters and its stat file).
 */
static int shard_main(int n, int first, const struct pmu_event *ev, int cmd, int res)
{
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	int nguests = (n + VCPUS_PER_GUEST - 1) / VCPUS_PER_GUEST;
	struct vn_guest *g = xcalloc((size_t)nguests, sizeof(*g));
	pthread_t *th = xcalloc((size_t)n, sizeof(*th));
	struct shard_result r = { 0 };
	pthread_attr_t attr;
	double t0;
	char c;

	tids = xcalloc((size_t)n, sizeof(*tids));
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (long i = 0; i < n; i++)
		if (pthread_create(&th[i], &attr, vcpu_main, (void *)i)) {
			r.err = EAGAIN;
			n = (int)i;
			break;
		}
	pthread_mutex_lock(&mu);
	while (started < n)
		pthread_cond_wait(&done, &mu);
	pthread_mutex_unlock(&mu);
	if (!r.err && pmu_open_events(&s, ev, PMU_NR_ROLES) < 0)
		r.err = ENODEV;
	for (int k = 0; k < nguests && !r.err; k++) {
		int f = k * VCPUS_PER_GUEST, nv = MIN(VCPUS_PER_GUEST, n - f);
		char *name = xmalloc(32);

		snprintf(name, 32, "bench-%d", (first + f) / VCPUS_PER_GUEST);
		g[k].name = name;
		g[k].pid = getpid();
		g[k].nr_vcpus = nv;
		g[k].vc = xcalloc((size_t)nv, sizeof(*g[k].vc));
		g[k].vv = xcalloc((size_t)nv, sizeof(*g[k].vv));
		for (int v = 0; v < nv; v++)
			g[k].vc[v].tid = tids[f + v];
	}
	t0 = now_monotonic();
	for (int k = 0; k < nguests && !r.err; k++)
		if (s.ops->attach(&s, &g[k]) < 0) {
			fprintf(stderr, "bench-sampling: %s\n", pmu_last_error(&s));
			r.err = EMFILE;
		}
	r.attach_us = (now_monotonic() - t0) * 1e6;
	if (!r.err) {
		run_all(n);
		for (int k = 0; k < nguests; k++)	/* nodes looked up */
			s.ops->read(&s, &g[k]);
	}
	r.fds = pmu_nr_fds(&s);
	if (write(res, &r, sizeof(r)) != (ssize_t)sizeof(r))
		return 1;
	while (!r.err && read(cmd, &c, 1) == 1 && c != CMD_QUIT) {
		/* busy: every thread ran since the last read */
		confine(g, nguests, c != CMD_FREE_BUSY);
		r.us = timed_read(&s, g, nguests, n,
				  c == CMD_BUSY || c == CMD_FREE_BUSY) * n;
		r.valid = 0;
		for (int k = 0; k < nguests; k++)
			for (int v = 0; v < g[k].nr_vcpus; v++)
				r.valid += g[k].vc[v].delta.valid;
		if (write(res, &r, sizeof(r)) != (ssize_t)sizeof(r))
			return 1;
	}
	for (int k = 0; k < nguests; k++) {
		if (s.priv)
			s.ops->detach(&s, &g[k]);
		free(g[k].vc);
		free(g[k].vv);
		free((char *)g[k].name);
	}
	if (s.priv)
		s.ops->close(&s);
	pthread_mutex_lock(&mu);
	quit = 1;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return r.err ? 1 : 0;
}

/* Threads one process can count: its hard descriptor limit, 6 per thread. */
static int shard_capacity(void)
{
	struct rlimit rl;
	rlim_t cap;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
		return 1 << 20;
	cap = rl.rlim_max > 1024 ? (rl.rlim_max - 512) / (PMU_MAX_FDS + 1) : 64;
	return (int)(cap / VCPUS_PER_GUEST * VCPUS_PER_GUEST);
}

static int bench_read(int n, int runs)
{
	static const char *const names[] = { "busy", "first idle", "idle", "free busy" };
	int nshards, per, cmd[64], res[64], fds = 0, valid_bad = 0;
	double *t[NR_CMDS], attach = 0;
	struct pmu_event ev[PMU_NR_ROLES];
	const char *what = pick_events(ev);
	pid_t pid[64];
	int rc = 0;

	per = shard_capacity();
	nshards = (n + per - 1) / per;
	if (nshards > 64) {
		fprintf(stderr, "bench-sampling: %d threads need more than 64 "
			"processes at this descriptor limit\n", n);
		return 1;
	}
	per = (n + nshards - 1) / nshards;
	for (int c = 0; c < NR_CMDS; c++)
		t[c] = xcalloc((size_t)runs, sizeof(double));
	fflush(NULL);
	for (int k = 0; k < nshards; k++) {
		int pc[2], pr[2], first = k * per, m = MIN(per, n - first);

		if (pipe(pc) < 0 || pipe(pr) < 0)
			return 1;
		pid[k] = fork();
		if (pid[k] < 0)
			return 1;
		if (pid[k] == 0) {
			for (int j = 0; j < k; j++) {
				close(cmd[j]);
				close(res[j]);
			}
			close(pc[1]);
			close(pr[0]);
			_exit(shard_main(m, first, ev, pc[0], pr[1]));
		}
		close(pc[0]);
		close(pr[1]);
		cmd[k] = pc[1];
		res[k] = pr[0];
	}
	/* every shard has its threads attached before any measurement */
	for (int k = 0; k < nshards; k++) {
		struct shard_result r;

		if (read(res[k], &r, sizeof(r)) != (ssize_t)sizeof(r) || r.err) {
			fprintf(stderr, "bench-sampling: shard %d failed to start\n", k);
			rc = 1;
		}
		fds += r.fds;
		attach += r.attach_us;
	}
	for (int run = 0; run < runs && !rc; run++) {
		for (int c = 0; c < CMD_QUIT; c++) {
			double us = 0;
			int valid = 0;

			for (int k = 0; k < nshards && !rc; k++) {
				struct shard_result r;
				char b = (char)c;

				if (write(cmd[k], &b, 1) != 1 ||
				    read(res[k], &r, sizeof(r)) != (ssize_t)sizeof(r)) {
					rc = 1;
					break;
				}
				us += r.us;
				valid += r.valid;
			}
			t[c][run] = us / n;
			if ((c == CMD_BUSY || c == CMD_FREE_BUSY) && valid != n) {
				fprintf(stderr, "bench-sampling: %s: %d of %d readings "
					"valid\n", names[c], valid, n);
				valid_bad++;
			}
		}
	}
	for (int k = 0; k < nshards; k++) {
		char b = CMD_QUIT;
		int st;

		if (write(cmd[k], &b, 1) != 1)
			rc = 1;
		close(cmd[k]);
		close(res[k]);
		if (waitpid(pid[k], &st, 0) != pid[k] || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			rc = 1;
	}
	if (rc)
		return rc;
	printf("# counter groups: %s\n", what);
	printf("# %d threads named \"CPU n/KVM\" in guests of %d, %d descriptors, "
	       "%d runs; attach %.2f us per thread\n", n, VCPUS_PER_GUEST, fds,
	       runs, attach / n);
	if (nshards > 1)
		printf("# RLIMIT_NOFILE's hard limit holds %d threads per process "
		       "here: %d processes share them, each reading its own\n",
		       shard_capacity(), nshards);
	printf("# threads asleep: %.3f us per thread, %.3f at the first tick they "
	       "slept through (their stat file checks they still exist)\n",
	       median(t[CMD_IDLE], runs), median(t[CMD_FIRST_IDLE], runs));
	printf("# threads free to run on any node, each of which ran: %.3f us per "
	       "thread (its node read from /proc after a migration)\n",
	       median(t[CMD_FREE_BUSY], runs));
	printf("sampling.read_us_per_thread %.3f\n", median(t[CMD_BUSY], runs));
	printf("BENCH name=sampling.read_us_per_thread value=%.3f unit=us goal=2 "
	       "dir=max desc=PMU sampler read of %d real vCPU threads, per thread "
	       "and tick (%s)\n", median(t[CMD_BUSY], runs), n,
	       strncmp(what, "SOFTWARE", 8) ? "hardware events" :
	       "software events: no hardware PMU here");
	for (int c = 0; c < NR_CMDS; c++)
		free(t[c]);
	return valid_bad ? 1 : 0;
}

/* One software counter per thread, or a group like the sampler's; fd or -1. */
static int open_counter(pid_t tid, uint64_t config, int group, bool grouped)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = config;
	if (grouped)
		a.read_format = PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED |
				PERF_FORMAT_TOTAL_TIME_RUNNING;
	return (int)syscall(SYS_perf_event_open, &a, tid, -1, group, 0);
}

/*
 * The floor under a counter read, on n threads of this process that each
 * ran since the last read: a null system call, a bare read() of one
 * software counter, a read() of a 5-counter group as the sampler reads
 * it, and the same groups read through io_uring, one submission for all.
 * Microseconds per thread, medians of the runs.
 */
static int bench_floor(int n, int runs)
{
	static const uint64_t members[] = {
		PERF_COUNT_SW_PAGE_FAULTS, PERF_COUNT_SW_CONTEXT_SWITCHES,
		PERF_COUNT_SW_PAGE_FAULTS_MIN, PERF_COUNT_SW_CPU_MIGRATIONS,
	};
	double *t_null = xcalloc((size_t)runs, sizeof(double));
	double *t_one = xcalloc((size_t)runs, sizeof(double));
	double *t_grp = xcalloc((size_t)runs, sizeof(double));
	double *t_ring = xcalloc((size_t)runs, sizeof(double));
	double *c_ring = xcalloc((size_t)runs, sizeof(double));
	int *one = xcalloc((size_t)n, sizeof(int)), *lead = xcalloc((size_t)n, sizeof(int));
	pthread_t *th = xcalloc((size_t)n, sizeof(*th));
	char (*buf)[128] = xcalloc((size_t)n, 128);
	struct io_uring ring;
	bool have_ring;
	int err = 0, nfds = 0;
	pthread_attr_t attr;

	if (fd_reserve(0, n * (2 + (int)ARRAY_SIZE(members)) + 64) < 0) {
		fprintf(stderr, "bench-sampling: no room for %d counters\n", n * 6);
		return 1;
	}
	tids = xcalloc((size_t)n, sizeof(*tids));
	started = ran = quit = 0;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (long i = 0; i < n; i++)
		if (pthread_create(&th[i], &attr, vcpu_main, (void *)i))
			return 1;
	pthread_mutex_lock(&mu);
	while (started < n)
		pthread_cond_wait(&done, &mu);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < n && !err; i++) {
		one[i] = open_counter(tids[i], PERF_COUNT_SW_TASK_CLOCK, -1, false);
		lead[i] = open_counter(tids[i], PERF_COUNT_SW_TASK_CLOCK, -1, true);
		err = one[i] < 0 || lead[i] < 0;
		for (size_t k = 0; k < ARRAY_SIZE(members) && !err; k++) {
			int fd = open_counter(tids[i], members[k], lead[i], true);

			err = fd < 0;	/* closed with the process */
			nfds++;
		}
	}
	if (err) {
		fprintf(stderr, "bench-sampling: perf_event_open: %s\n", strerror(errno));
		return 1;
	}
	/* the group descriptors registered: no lookup per read */
	have_ring = io_uring_queue_init((unsigned)n, &ring, 0) == 0 &&
		    io_uring_register_files(&ring, lead, (unsigned)n) == 0;
	for (int r = 0; r < runs && !err; r++) {
		double t0, c0;

		run_all(n);
		usleep(20000);
		t0 = now_monotonic();
		for (int i = 0; i < n; i++)
			syscall(SYS_getppid);
		t_null[r] = (now_monotonic() - t0) / n * 1e6;
		t0 = now_monotonic();
		for (int i = 0; i < n; i++)
			err |= read(one[i], buf[i], 8) != 8;
		t_one[r] = (now_monotonic() - t0) / n * 1e6;
		t0 = now_monotonic();
		for (int i = 0; i < n; i++)
			err |= read(lead[i], buf[i], sizeof(buf[i])) <= 0;
		t_grp[r] = (now_monotonic() - t0) / n * 1e6;
		if (!have_ring)
			continue;
		t0 = now_monotonic();
		c0 = process_cpu();
		for (int i = 0; i < n; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			io_uring_prep_read(sqe, i, buf[i], sizeof(buf[i]), 0);
			sqe->flags |= IOSQE_FIXED_FILE;
		}
		if (io_uring_submit_and_wait(&ring, (unsigned)n) < n) {
			err = 1;
			break;
		}
		for (int got = 0; got < n; got++) {
			struct io_uring_cqe *cqe;

			if (io_uring_wait_cqe(&ring, &cqe) < 0 || cqe->res <= 0)
				err = 1;
			io_uring_cqe_seen(&ring, cqe);
		}
		t_ring[r] = (now_monotonic() - t0) / n * 1e6;
		/* the reads io_uring hands to its worker threads count too */
		c_ring[r] = (process_cpu() - c0) / n * 1e6;
	}
	pthread_mutex_lock(&mu);
	quit = 1;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	if (have_ring)
		io_uring_queue_exit(&ring);
	if (err) {
		fprintf(stderr, "bench-sampling: a counter read failed\n");
		return 1;
	}
	printf("# floor, %d threads of one process, each ran since the last read, "
	       "%d runs: null system call %.3f us, group of 5 software counters "
	       "%.3f us per read\n", n, runs, median(t_null, runs), median(t_grp, runs));
	if (have_ring)
		printf("# io_uring, the %d group reads in one submission: %.3f us per "
		       "read, %.3f us of the process's CPU (perf counters cannot be read "
		       "without blocking, so io_uring hands each read to a worker "
		       "thread): batching does not pay\n", n, median(t_ring, runs),
		       median(c_ring, runs));
	else
		printf("# io_uring: not available here (%s)\n", strerror(errno));
	printf("sampling.read_floor_us %.3f\n", median(t_one, runs));
	printf("BENCH name=sampling.read_floor_us value=%.3f unit=us goal=- dir=- "
	       "desc=bare read() of one software counter of a thread, the floor "
	       "under the group read (%d threads)\n", median(t_one, runs), n);
	if (have_ring)
		printf("BENCH name=sampling.read_uring_us value=%.3f unit=us goal=- "
		       "dir=- desc=the same groups read through io_uring, one "
		       "submission per tick, process CPU per read\n",
		       median(c_ring, runs));
	free(t_null);
	free(t_one);
	free(t_grp);
	free(t_ring);
	free(c_ring);
	free(one);
	free(lead);
	free(th);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *quick = getenv("QUICK");
	bool q = quick && *quick;	/* make check: a short run */
	int n = argc > 1 ? atoi(argv[1]) : q ? 400 : 8000;
	int runs = argc > 2 ? atoi(argv[2]) : q ? 3 : 7;

	if (n < 1 || runs < 1 || argc > 3) {
		fprintf(stderr, "usage: bench-sampling [THREADS [RUNS]]\n");
		return 2;
	}
	log_init(true, LOG_WARNING, "bench-sampling");
	if (bench_read(n, runs))
		return 1;
	return bench_floor(MIN(n, FLOOR_THREADS), runs);
}
