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
 *   sampling.numa_maps_64g_ms     reading and parsing the numa_maps of a
 *                                 64 GiB guest of 4 KiB pages, from a
 *                                 synthetic file in /tmp; median
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
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "sampling.h"
#include "sampling_impl.h"
#include "util.h"

#define VCPUS_PER_GUEST	8
#define MAPS_GIB	64

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
	       "slept through (a null signal checks they still exist)\n",
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

/*
 * A numa_maps as the kernel would write it for QEMU running a 64 GiB guest
 * on a 4-node host: the guest's RAM split into 1 MiB mappings (as per-range
 * memory policies and migrations leave it; one big mapping would be easier),
 * spread over the nodes, plus the process's libraries, heap and stacks.
 */
static char *synth_maps(size_t *len, uint64_t *want_total)
{
	const uint64_t ram_pages = MAPS_GIB * GiB / 4096, per_map = 256;
	size_t cap = 16 * MiB, n = 0;
	char *buf = xmalloc(cap);
	uint64_t addr = 0x7f0000000000ULL, total = 0;

	for (int i = 0; i < 1500; i++) {	/* libraries, stacks, heap */
		n += (size_t)snprintf(buf + n, cap - n,
			"%llx default file=/usr/lib/x86_64-linux-gnu/libfoo-%d.so.1 "
			"mapped=%d mapmax=3 N%d=%d kernelpagesize_kB=4\n",
			(unsigned long long)(0x7e0000000000ULL + (uint64_t)i * 0x10000),
			i, 4 + i % 13, i % 4, 4 + i % 13);
		total += (uint64_t)(4 + i % 13) * 4096;
	}
	for (uint64_t p = 0; p < ram_pages; p += per_map) {
		uint64_t a = per_map / 2 + (p / per_map) % 64;
		uint64_t b = per_map - a;
		int na = (int)(p / per_map % 4), nb = (na + 1) % 4;

		if (cap - n < 256) {
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
		n += (size_t)snprintf(buf + n, cap - n,
			"%llx bind:%d anon=%llu dirty=%llu active=%llu N%d=%llu N%d=%llu "
			"kernelpagesize_kB=4\n", (unsigned long long)addr, na,
			(unsigned long long)per_map, (unsigned long long)per_map,
			(unsigned long long)(per_map / 3), na, (unsigned long long)a,
			nb, (unsigned long long)b);
		addr += per_map * 4096;
		total += per_map * 4096;
	}
	*len = n;
	*want_total = total;
	return buf;
}

static int bench_maps(int runs)
{
	char path[] = "/tmp/vnumad-bench-numa_mapsXXXXXX";
	double *t = xcalloc((size_t)runs, sizeof(double));
	double *tp = xcalloc((size_t)runs, sizeof(double));
	uint64_t mem[VN_MAX_NODES], want, got = 0;
	size_t len, lines = 0;
	char *buf = synth_maps(&len, &want);
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
		fprintf(stderr, "bench-sampling: %s: %s\n", path, strerror(errno));
		return 1;
	}
	close(fd);
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	for (int r = 0; r < runs; r++) {
		double t0 = now_monotonic();

		if (numa_maps_read_path(path, mem) < 0) {
			fprintf(stderr, "bench-sampling: cannot parse %s\n", path);
			unlink(path);
			return 1;
		}
		t[r] = (now_monotonic() - t0) * 1e3;
		t0 = now_monotonic();
		numa_maps_parse(buf, len, mem);
		tp[r] = (now_monotonic() - t0) * 1e3;
	}
	unlink(path);
	for (int i = 0; i < VN_MAX_NODES; i++)
		got += mem[i];
	printf("# numa_maps: synthetic 64 GiB guest of 4 KiB pages, %zu lines, "
	       "%.1f MiB, %d runs; parse alone %.3f ms\n", lines,
	       (double)len / (double)MiB, runs, median(tp, runs));
	if (got != want)
		printf("# WARNING: parsed %llu bytes, the file holds %llu\n",
		       (unsigned long long)got, (unsigned long long)want);
	printf("sampling.numa_maps_64g_ms %.3f\n", median(t, runs));
	printf("BENCH name=sampling.numa_maps_64g_ms value=%.3f unit=ms goal=20 "
	       "dir=max desc=reading and parsing the numa_maps of a 64 GiB guest "
	       "(synthetic, %zu lines)\n", median(t, runs), lines);
	free(buf);
	free(t);
	free(tp);
	return got == want ? 0 : 1;
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
	return bench_maps(runs);
}
