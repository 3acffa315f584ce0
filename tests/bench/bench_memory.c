// SPDX-License-Identifier: MIT
/*
 * bench-memory: what a guest's memory reading costs a real host, the
 * kernel's part included, on real processes (tests/fakeguest, whose RAM is
 * touched page by page) read through the daemon's own code:
 *
 *   sampling.numa_maps_4k_ms_per_gib   numa_maps of a guest of 4 KiB pages
 *                                      (transparent huge pages disabled for
 *                                      it), per GiB of its RAM
 *   sampling.numa_maps_thp_ms_per_gib  the same guest in transparent huge
 *                                      pages (MADV_HUGEPAGE, as QEMU asks)
 *   sampling.numa_stat_64g_ms          the per-node memory of a guest from
 *                                      its own memory cgroup, as the procfs
 *                                      sampler's memory() reads it: measured
 *                                      on a small and a large guest, and
 *                                      extrapolated to 64 GiB along the line
 *                                      through the two (goal: 1 ms)
 *
 * Each figure is the CPU time, user and kernel, of the reading thread
 * (the kernel builds numa_maps in the reader's context), median of the
 * runs; wall times are on comment lines. The guests are 2 GiB and 256 MiB
 * (QUICK: 512 and 64 MiB), one at a time. The numa_stat figure needs a
 * memory cgroup of the bench's own (root, a v1 memory hierarchy or cgroup2
 * with the memory controller); without one it is left out and a comment
 * says why.
 *
 *   usage: bench-memory [LARGE_MIB [RUNS]]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../cgtest.h"
#include "log.h"
#include "sampling.h"
#include "sampling_impl.h"
#include "util.h"

struct guest {
	pid_t pid;
	uint64_t bytes;
	uint64_t thp;		/* AnonHugePages */
};

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *fakeguest(void)
{
	static char path[PATH_MAX];
	const char *b = getenv("B");

	snprintf(path, sizeof(path), "%s/tests/fakeguest", b ? b : "build/default");
	return access(path, X_OK) == 0 ? path : NULL;
}

/* A kB figure of /proc/PID/smaps_rollup, in bytes. */
static uint64_t rollup(pid_t pid, const char *key)
{
	char path[64], line[256];
	unsigned long long v = 0;
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && sscanf(line + kl, " %llu", &v) == 1)
			break;
	fclose(f);
	return (uint64_t)v * 1024;
}

/*
 * Starts fakeguest with MIB of RAM, in cg when not NULL, in transparent
 * huge pages or with them disabled, and waits until its RAM is touched.
 */
static int start(struct guest *g, const struct cgt *cg, long mib, bool thp)
{
	char m[32], line[256], *argv[8];
	int p[2], n = 0;
	FILE *f;

	snprintf(m, sizeof(m), "%ld", mib);
	argv[n++] = (char *)fakeguest();
	argv[n++] = "-smp";
	argv[n++] = "2";
	argv[n++] = "-m";
	argv[n++] = m;
	if (thp)
		argv[n++] = "-thp";
	argv[n] = NULL;
	if (!argv[0] || pipe(p) < 0)
		return -1;
	fflush(NULL);
	g->pid = fork();
	if (g->pid < 0)
		return -1;
	if (g->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* inherited through exec: 4 KiB pages whatever THP's mode */
		if (!thp)
			prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
		if (cg && cgt_join(cg, getpid()) < 0)
			_exit(125);
		dup2(p[1], 1);
		close(p[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	if (!f || !fgets(line, sizeof(line), f) || strncmp(line, "ready ", 6)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	g->bytes = (uint64_t)mib << 20;
	g->thp = rollup(g->pid, "AnonHugePages:");
	return 0;
}

static void stop(struct guest *g)
{
	if (g->pid > 0) {
		kill(g->pid, SIGKILL);
		waitpid(g->pid, NULL, 0);
	}
	g->pid = 0;
}

/*
 * Times the daemon's memory reading of a guest: numa_maps_guest(), or the
 * procfs sampler's memory() on an attached guest (the cgroup path where
 * the guest has its own). CPU ms per reading in *cpu, wall in *wall.
 */
static int time_reading(struct guest *fg, bool sampler, int runs, double *cpu,
			double *wall, const char **source)
{
	struct vn_sampler s = { .ops = &procfs_sampler_ops };
	struct vn_vcpu vc[1] = { { .tid = fg->pid } };
	struct vnumad_vcpu vv[1] = { { .index = 0 } };
	struct vn_guest g = { .name = "bench", .pid = fg->pid, .nr_vcpus = 1,
			      .vc = vc, .vv = vv, .mem_read_at = -1 };
	double *tc = xcalloc((size_t)runs, sizeof(double));
	double *tw = xcalloc((size_t)runs, sizeof(double));
	int err = 0;

	if (sampler && (s.ops->open(&s) < 0 || s.ops->attach(&s, &g) < 0))
		return -1;
	/* a first reading finds the cgroup and opens its files, as a daemon's would */
	err = sampler ? s.ops->memory(&s, &g) : numa_maps_guest(&g);
	for (int r = 0; r < runs && !err; r++) {
		double c0 = cpu_now(), w0 = now_monotonic();

		err = sampler ? s.ops->memory(&s, &g) : numa_maps_guest(&g);
		tc[r] = (cpu_now() - c0) * 1e3;
		tw[r] = (now_monotonic() - w0) * 1e3;
	}
	/* the cgroup's v1 counts are of the LRU lists, which miss the pages
	 * still in per-CPU batches: a few pages short */
	if (!err && g.v.mem_total < fg->bytes - fg->bytes / 32) {
		fprintf(stderr, "bench-memory: read %llu bytes of a guest of %llu\n",
			(unsigned long long)g.v.mem_total, (unsigned long long)fg->bytes);
		err = -1;
	}
	*source = g.mem_source ? g.mem_source : "?";
	if (sampler) {
		s.ops->detach(&s, &g);
		s.ops->close(&s);
	}
	*cpu = median(tc, runs);
	*wall = median(tw, runs);
	free(tc);
	free(tw);
	return err;
}

static int bench_numa_maps(long mib, int runs, bool thp)
{
	const char *name = thp ? "thp" : "4k", *src;
	struct guest g = { 0 };
	double cpu, wall, gib = (double)mib / 1024;

	if (start(&g, NULL, mib, thp) < 0) {
		fprintf(stderr, "bench-memory: cannot start %s\n", fakeguest() ?
			fakeguest() : "tests/fakeguest (not built)");
		return 1;
	}
	if (time_reading(&g, false, runs, &cpu, &wall, &src) < 0) {
		stop(&g);
		return 1;
	}
	printf("# numa_maps, %ld MiB guest, %s: %.3f ms CPU, %.3f ms wall per "
	       "reading; %.0f%% of it in transparent huge pages; 64 GiB: %.0f ms\n",
	       mib, thp ? "transparent huge pages" : "4 KiB pages", cpu, wall,
	       100.0 * (double)g.thp / (double)g.bytes, cpu / gib * 64);
	if (thp && g.thp < g.bytes / 2)
		printf("# WARNING: the kernel gave only %.0f%% of it huge pages\n",
		       100.0 * (double)g.thp / (double)g.bytes);
	printf("sampling.numa_maps_%s_ms_per_gib %.3f\n", name, cpu / gib);
	printf("BENCH name=sampling.numa_maps_%s_ms_per_gib value=%.3f unit=ms/GiB "
	       "goal=- dir=- desc=numa_maps of a real %ld MiB guest in %s, read "
	       "by the daemon, kernel time included, per GiB\n", name, cpu / gib,
	       mib, thp ? "transparent huge pages" : "4 KiB pages");
	stop(&g);
	return 0;
}

static int bench_numa_stat(long small, long large, int runs)
{
	double cpu[2], wall[2], slope, at64;
	long mib[2] = { small, large };
	char why[512];
	const char *src = "?";
	struct cgt cg;
	int rc = 0;

	if (!cgt_make(&cg, "vnumad-bench", why, sizeof(why))) {
		printf("# numa_stat: left out: no memory cgroup can be made here: %s\n", why);
		return 0;
	}
	for (int k = 0; k < 2 && !rc; k++) {
		struct guest g = { 0 };

		if (start(&g, &cg, mib[k], false) < 0) {
			rc = 1;
			break;
		}
		rc = time_reading(&g, true, runs, &cpu[k], &wall[k], &src) < 0;
		if (!rc && strncmp(src, "cgroup", 6)) {
			fprintf(stderr, "bench-memory: the sampler read %s, not the cgroup\n",
				src);
			rc = 1;
		}
		stop(&g);
	}
	cgt_remove(&cg);
	if (rc)
		return 1;
	slope = (cpu[1] - cpu[0]) / ((double)(large - small) / 1024);
	at64 = cpu[1] + (slope > 0 ? slope : 0) * (64 - (double)large / 1024);
	printf("# numa_stat (%s), through the procfs sampler: %ld MiB guest %.4f ms "
	       "CPU (%.4f wall), %ld MiB guest %.4f ms CPU (%.4f wall) per reading, "
	       "its status file included\n", src, small, cpu[0], wall[0], large,
	       cpu[1], wall[1]);
	printf("sampling.numa_stat_64g_ms %.4f\n", at64);
	printf("BENCH name=sampling.numa_stat_64g_ms value=%.4f unit=ms goal=1 "
	       "dir=max desc=per-node memory of a 64 GiB guest from its memory "
	       "cgroup (%s) through the daemon, from real %ld and %ld MiB guests\n",
	       at64, src, small, large);
	return 0;
}

int main(int argc, char **argv)
{
	const char *quick = getenv("QUICK");
	bool q = quick && *quick;
	long large = argc > 1 ? atol(argv[1]) : q ? 512 : 2048;
	int runs = argc > 2 ? atoi(argv[2]) : q ? 3 : 7;
	long small = large / 8;

	if (large < 64 || runs < 1 || argc > 3) {
		fprintf(stderr, "usage: bench-memory [LARGE_MIB (64 or more) [RUNS]]\n");
		return 2;
	}
	log_init(true, LOG_WARNING, "bench-memory");
	if (bench_numa_maps(large, runs, false) || bench_numa_maps(large, runs, true))
		return 1;
	return bench_numa_stat(small, large, runs);
}
