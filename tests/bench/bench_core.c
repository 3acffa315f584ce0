// SPDX-License-Identifier: MIT
/*
 * bench-core: the cost of the daemon's own work on a large host.
 *
 * Runs the real core (the daemon's tick pipeline, guard and arbiter, the
 * default policy, locality, moves applied) against a simulated 8-node host with
 * 1,000 guests of 8 vCPUs, half of them placed away from their memory, and
 * prints in the BENCH format of tests/bench/run.sh:
 *
 *   core.tick_cpu_ms        median CPU time per tick of model, guard,
 *                           policy and arbiter (goal: under 1 ms)
 *   core.peak_rss_mib       the process's peak resident memory, simulated
 *                           host included (goal: at most 32 MiB)
 *   core.rss_growth_pct     resident memory growth from tick 10,000 to the
 *                           last (100,000) tick (goal: under 1%)
 *
 * QUICK=1 runs 2,000 ticks and measures growth from tick 1,000.
 *
 *   usage: bench-core [GUESTS [VCPUS [TICKS]]]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "core.h"
#include "log.h"
#include "registry.h"
#include "util.h"
#include "bench_host.h"

static long status_kib(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0) {
			v = strtol(line + strlen(key), NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	static struct vn_core c;
	struct vn_errors e = { 0 };
	struct vn_overrides ov = { .backend = VN_BACKEND_SIM, .log_level = LOG_WARNING };
	bool quick = getenv("QUICK") && *getenv("QUICK");
	int guests = argc > 1 ? atoi(argv[1]) : 1000;
	int vcpus = argc > 2 ? atoi(argv[2]) : 8;
	long ticks = argc > 3 ? atol(argv[3]) : quick ? 2000 : 100000;
	long mark = ticks / 10, rss_mark = 0, rss_end;
	char path[] = "/tmp/bench-core-XXXXXX";
	struct event_base *base;
	double *cpu, t0, wall, tick_cpu;
	int fd;

	if (guests < 8 || vcpus < 1 || ticks < 20) {
		fprintf(stderr, "usage: bench-core [GUESTS>=8 [VCPUS [TICKS>=20]]]\n");
		return 2;
	}
	fd = mkstemp(path);
	if (fd < 0 || write_scenario(path, guests, vcpus) < 0) {
		perror(path);
		return 1;
	}
	close(fd);
	log_init(true, LOG_WARNING, "bench-core");
	ov.scenario = path;
	ov.interval = 1.0;
	if (config_load(&c.cfg, NULL, &ov, &e) < 0) {
		errors_print(&e, stderr);
		return 1;
	}
	base = event_base_new();
	if (registry_pick(&c) < 0 || core_open(&c, base, VN_OUT_NONE, stdout) < 0) {
		unlink(path);
		return 1;
	}
	unlink(path);
	cpu = xcalloc(ticks, sizeof(*cpu));
	/* touch it all now: filling it must not count as the core's growth */
	for (long t = 0; t < ticks; t++)
		cpu[t] = -1;
	t0 = now_monotonic();
	for (long t = 0; t < ticks; t++) {
		core_tick(&c);
		cpu[t] = c.stats.tick_cpu;
		if (t + 1 == mark)
			rss_mark = status_kib("VmRSS:");
	}
	wall = now_monotonic() - t0;
	rss_end = status_kib("VmRSS:");
	/* the first ticks build the tables; judge the steady state */
	tick_cpu = median(cpu + 10, (int)(ticks - 10));
	printf("# %d guests x %d vCPUs on 8 simulated nodes, %ld ticks of 1s in %.1f s "
	       "wall; %llu vCPU moves, %llu memory moves, %llu kept, %llu reverted\n",
	       guests, vcpus, ticks, wall,
	       (unsigned long long)c.stats.vcpu_moves,
	       (unsigned long long)c.stats.memory_moves,
	       (unsigned long long)c.stats.kept, (unsigned long long)c.stats.reverted);
	printf("BENCH name=core.tick_cpu_ms value=%.4f unit=ms goal=1 dir=max "
	       "desc=median CPU per tick of model+guard+policy+arbiter, %d guests / %d vCPUs\n",
	       tick_cpu * 1e3, guests, guests * vcpus);
	printf("BENCH name=core.peak_rss_mib value=%.1f unit=MiB goal=32 dir=max "
	       "desc=peak resident memory with %d guests / %d vCPUs, simulated host included\n",
	       status_kib("VmHWM:") / 1024.0, guests, guests * vcpus);
	printf("BENCH name=core.rss_growth_pct value=%.3f unit=%% goal=1 dir=max "
	       "desc=resident memory growth from tick %ld to tick %ld\n",
	       rss_mark > 0 ? 100.0 * (double)(rss_end - rss_mark) / (double)rss_mark : -1,
	       mark, ticks);
	core_close(&c);
	config_free(&c.cfg);
	event_base_free(base);
	free(cpu);
	return 0;
}
