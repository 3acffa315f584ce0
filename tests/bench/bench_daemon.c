// SPDX-License-Identifier: MIT
/*
 * bench-daemon: the whole daemon's CPU cost on this host, the kernel's
 * part included, as a share of one core at a 2 s tick.
 *
 * 100 real processes stand in for guests (tests/fakeguest: 8 vCPU threads
 * named "CPU n/KVM" and 256 MiB of RAM each), every one in a memory cgroup
 * of its own from its first instruction, as libvirt starts QEMU. The real
 * vnumad runs on them with the proc backend, in dry-run, at a 2 s tick:
 * every tick it walks /proc, reads every vCPU thread through the procfs
 * source, and every memory_interval (10 s) each guest's memory per node
 * through the cgroup path. Its user plus system time is the rusage of its
 * process (wait4); a run of 16 ticks is subtracted from a run of 26, which
 * leaves out the start-up and the first 30 s, during which the proc
 * backend looks again at every process it has not known for 30 s (YOUNG)
 * at every scan, so that
 *
 *   daemon.cpu_pct_of_core   = CPU per tick / 2 s, in % (goal: 0.5)
 *
 * Each guest maps 256 MiB but touches only its first 16 MiB: 100 guests of
 * 256 MiB resident would need more than this machine's RAM, and none of
 * what is measured depends on the resident size (the thread reads do not,
 * memory.numa_stat does not); numa_maps does, and bench-memory gives its
 * cost per GiB. Without root or a memory cgroup hierarchy the guests run
 * where the bench runs, the daemon reads numa_maps, and the figure's
 * description says so. QUICK=1: 20 guests, runs of 2 and 4 ticks (the
 * start-up included: the figure only keeps the report from rotting).
 *
 *   usage: bench-daemon [GUESTS [TICKS]]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cgtest.h"
#include "util.h"

#define VCPUS		8
#define RAM_MIB		256
#define TOUCH_MIB	16
#define INTERVAL	2.0

struct run {
	double user, sys;	/* seconds */
	int guests, vcpus;	/* as the last tick line says */
	int from_maps;		/* guests whose memory came from numa_maps */
};

static const char *build_path(const char *rel)
{
	static char path[2][PATH_MAX];
	static int k;
	const char *b = getenv("B");

	k ^= 1;
	snprintf(path[k], sizeof(path[k]), "%s/%s", b ? b : "build/default", rel);
	return path[k];
}

/* Runs vnumad for `ticks` ticks; its rusage and what its output says. */
static int run_daemon(const char *dir, int ticks, struct run *r)
{
	char conf[PATH_MAX], out[PATH_MAX], err[PATH_MAX], nt[16], line[512];
	const char *vnumad = build_path("vnumad");
	struct rusage ru;
	int st;
	pid_t pid;
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/vnumad.conf", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(err, sizeof(err), "%s/err", dir);
	snprintf(nt, sizeof(nt), "%d", ticks);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr))
			_exit(126);
		execl(vnumad, vnumad, "-c", conf, "--backend", "proc", "--dry-run",
		      "--interval", "2s", "--ticks", nt, (char *)NULL);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "bench-daemon: %s failed (see %s)\n", vnumad, err);
		return -1;
	}
	r->user = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6;
	r->sys = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
	r->guests = r->vcpus = r->from_maps = 0;
	if ((f = fopen(out, "re"))) {
		while (fgets(line, sizeof(line), f)) {
			int g, v;

			if (sscanf(line, "tick %*d (%*[^)]): %d guests, %d vCPUs", &g, &v) == 2) {
				r->guests = g;
				r->vcpus = v;
			}
		}
		fclose(f);
	}
	if ((f = fopen(err, "re"))) {
		while (fgets(line, sizeof(line), f))
			r->from_maps += strstr(line, "memory per node from numa_maps") != NULL;
		fclose(f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *quick = getenv("QUICK");
	bool q = quick && *quick;
	int n = argc > 1 ? atoi(argv[1]) : q ? 20 : 100;
	int first = q ? 2 : 16, ticks = argc > 2 ? atoi(argv[2]) : first + 10;
	char dir[] = "/tmp/vnumad-bench-daemon-XXXXXX", why[512] = "", path[PATH_MAX + 32];
	const char *fg = build_path("tests/qemu-system-fakeguest");
	struct cgt *cg;
	pid_t *pids;
	struct run a, b;
	double per_tick, user, sys;
	int ncg = 0, rc = 1;
	FILE *f;

	if (n < 1 || ticks <= first || argc > 3) {
		fprintf(stderr, "usage: bench-daemon [GUESTS [TICKS (more than %d)]]\n",
			first);
		return 2;
	}
	if (access(fg, X_OK) || access(build_path("vnumad"), X_OK)) {
		fprintf(stderr, "bench-daemon: %s or vnumad is not built\n", fg);
		return 1;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/vnumad.conf", dir);
	f = fopen(path, "w");
	if (!f)
		return 1;
	fprintf(f, "[daemon]\nstate_dir = %s\ncontrol = %s/control.sock\n"
		"log_level = info\n", dir, dir);
	fclose(f);
	cg = xcalloc((size_t)n, sizeof(*cg));
	pids = xcalloc((size_t)n, sizeof(*pids));
	for (int i = 0; i < n; i++) {
		char name[64], smp[16], m[16], t[16], gname[64], line[256];
		char *av[] = { (char *)fg, "-name", gname, "-smp", smp, "-m", m,
			       "-touch", t, NULL };
		int fd = -1;
		FILE *rd;

		snprintf(name, sizeof(name), "vnumad-bench-g%d", i);
		if (i == 0 || ncg == i)
			ncg += cgt_make(&cg[i], name, why, sizeof(why)) > 0;
		snprintf(gname, sizeof(gname), "guest=bench%d", i);
		snprintf(smp, sizeof(smp), "%d", VCPUS);
		snprintf(m, sizeof(m), "%d", RAM_MIB);
		snprintf(t, sizeof(t), "%d", TOUCH_MIB);
		pids[i] = cgt_spawn(cg[i].version ? &cg[i] : NULL, av, &fd);
		rd = pids[i] > 0 ? fdopen(fd, "r") : NULL;
		if (!rd || !fgets(line, sizeof(line), rd) || strncmp(line, "ready ", 6)) {
			fprintf(stderr, "bench-daemon: fakeguest %d did not start\n", i);
			n = i + 1;
			goto out;
		}
		fclose(rd);
	}
	if (run_daemon(dir, first, &a) < 0 || run_daemon(dir, ticks, &b) < 0)
		goto out;
	user = (b.user - a.user) / (ticks - first);
	sys = (b.sys - a.sys) / (ticks - first);
	per_tick = user + sys;
	printf("# %d fakeguests of %d vCPUs, %d MiB (%d MiB touched), %s; vnumad "
	       "saw %d guests, %d vCPUs\n", n, VCPUS, RAM_MIB, TOUCH_MIB,
	       ncg == n ? "each in a memory cgroup of its own" :
	       "in no memory cgroup of their own", b.guests, b.vcpus);
	if (ncg < n)
		printf("# no memory cgroup for them: %s\n", why);
	printf("# runs of %d and %d ticks at %.0f s: %.3f and %.3f s of CPU; per "
	       "tick %.2f ms user + %.2f ms system; %d guest(s) read from numa_maps\n",
	       first, ticks, INTERVAL, a.user + a.sys, b.user + b.sys,
	       user * 1e3, sys * 1e3, b.from_maps);
	if (b.guests != n)
		printf("# WARNING: vnumad saw %d guests, not %d: other guests on this "
		       "host are in the figure\n", b.guests, n);
	printf("daemon.cpu_pct_of_core %.3f\n", per_tick / INTERVAL * 100);
	printf("BENCH name=daemon.cpu_pct_of_core value=%.3f unit=%% goal=0.5 "
	       "dir=max desc=the whole vnumad (proc backend, procfs source, memory "
	       "from %s), user+system CPU per 2 s tick as a share of one core, "
	       "%d real guests of %d vCPUs\n", per_tick / INTERVAL * 100,
	       ncg == n && !b.from_maps ? "their memory cgroups" : "numa_maps",
	       n, VCPUS);
	rc = 0;
out:
	for (int i = 0; i < n; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	for (int i = 0; i < n; i++)
		cgt_remove(&cg[i]);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		rc = 1;
	free(cg);
	free(pids);
	return rc;
}
