// SPDX-License-Identifier: MIT
/*
 * bench-worker: what running a plugin in its worker costs per tick.
 *
 * On a simulated 8-node host of 1,000 guests with 8 vCPUs each (bench-core's
 * host), the same plugin (policies/example) is opened twice, in process and
 * in a worker, and after each tick the policy stage is run once with each,
 * on the same view. The difference of the two wall times, tick by tick, is
 * the worker's overhead: packing the view into its memfd, the round trip,
 * rebuilding the view in the worker, copying the proposals back. Prints in
 * the BENCH format of tests/bench/run.sh:
 *
 *   worker.overhead_ms      median per-tick overhead (goal: at most 0.5 ms)
 *   worker.overhead_p90_ms  its 90th percentile
 *   worker.view_kib         bytes of the packed view
 *
 * and checks on every tick that both gave the same proposals.
 *
 *   usage: bench-worker PLUGIN.so [GUESTS [VCPUS [TICKS]]]
 *
 * vnumad-worker is found as vnumad finds it ($VNUMAD_WORKER first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "core.h"
#include "log.h"
#include "registry.h"
#include "util.h"
#include "bench_host.h"
#include "wire.h"
#include "worker.h"

/* The policy stage with runtime rt in place of the core's; wall seconds. */
static double timed_stage(struct vn_core *c, struct vn_policy_rt *rt,
			  struct vnumad_out *out, int *r)
{
	struct vn_policy_rt keep = c->policy;
	double t0;

	c->policy = *rt;
	t0 = now_monotonic();
	*r = stage_policy(c, out);
	t0 = now_monotonic() - t0;
	*rt = c->policy;
	c->policy = keep;
	return t0;
}

static double pct(double *v, int n, double q)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[(int)(q * (n - 1))];
}

int main(int argc, char **argv)
{
	static struct vn_core c;
	static struct vnumad_proposal mine[1024];
	struct vn_errors e = { 0 };
	struct vn_overrides ov = { .backend = VN_BACKEND_SIM, .log_level = LOG_WARNING };
	bool quick = getenv("QUICK") && *getenv("QUICK");
	int guests = argc > 2 ? atoi(argv[2]) : 1000;
	int vcpus = argc > 3 ? atoi(argv[3]) : 8;
	long ticks = argc > 4 ? atol(argv[4]) : quick ? 40 : 400;
	char path[] = "/tmp/bench-worker-XXXXXX";
	struct vn_policy_rt in, w;
	struct event_base *base;
	double *over, med, p90;
	size_t view = 0;
	long n = 0, differ = 0, proposed = 0;
	int fd;

	if (argc < 2 || guests < 8 || vcpus < 1 || ticks < 10) {
		fprintf(stderr, "usage: bench-worker PLUGIN.so [GUESTS>=8 [VCPUS [TICKS>=10]]]\n");
		return 2;
	}
	fd = mkstemp(path);
	if (fd < 0 || write_scenario(path, guests, vcpus) < 0) {
		perror(path);
		return 1;
	}
	close(fd);
	log_init(true, LOG_WARNING, "bench-worker");
	ov.scenario = path;
	ov.interval = 1.0;
	ov.policy = argv[1];
	ov.dry_run = true;
	ov.worker = -1;		/* loaded here, to run in process and in a worker */
	if (config_load(&c.cfg, NULL, &ov, &e) < 0) {
		errors_print(&e, stderr);
		unlink(path);
		return 1;
	}
	base = event_base_new();
	if (registry_pick(&c) < 0 || core_open(&c, base, VN_OUT_NONE, stdout) < 0) {
		unlink(path);
		return 1;
	}
	unlink(path);
	in = c.policy;
	c.cfg.worker = true;
	if (plugin_start(&w, &c.cfg) < 0 || !w.worker) {
		fprintf(stderr, "bench-worker: the plugin did not start in a worker\n");
		return 1;
	}
	over = xcalloc((size_t)ticks, sizeof(*over));
	for (long t = 0; t < ticks + 5; t++) {
		struct vnumad_out out;
		double ti, tw;
		int ri, rw, len;

		core_tick(&c);
		if (c.host.tick < 2)
			continue;
		ti = timed_stage(&c, &in, &out, &ri);
		len = ri == 0 ? out.len : -1;
		if (len > 0)
			memcpy(mine, out.buf, sizeof(*mine) * (size_t)len);
		tw = timed_stage(&c, &w, &out, &rw);
		proposed += len > 0;
		if ((rw == 0 ? out.len : -1) != len ||
		    (len > 0 && memcmp(mine, out.buf, sizeof(*mine) * (size_t)len)))
			differ++;
		/* the first ticks map and fault in the view: judge the steady state */
		if (t >= 5)
			over[n++] = tw - ti;
	}
	{
		const struct vnumad_guest *const *gp = c.host.view_guests;
		struct vnumad_view v = {
			.size = sizeof(v), .nr_nodes = c.host.nr_nodes, .nodes = c.host.node,
			.distance = c.host.distance, .nr_guests = c.host.nr_guests, .guests = gp,
		};

		view = wire_view_pack(NULL, 0, &v, 0);
	}
	med = median(over, (int)n);
	p90 = pct(over, (int)n, 0.9);
	printf("# %d guests x %d vCPUs on 8 simulated nodes, %ld ticks measured; plugin "
	       "%s proposed on %ld ticks, and differently in the worker on %ld\n", guests,
	       vcpus, n, argv[1], proposed, differ);
	printf("BENCH name=worker.overhead_ms value=%.4f unit=ms goal=0.5 dir=max "
	       "desc=median per-tick cost of running the policy in its worker (view out, "
	       "answer back) over in process, %d guests / %d vCPUs\n",
	       med * 1e3, guests, guests * vcpus);
	printf("BENCH name=worker.overhead_p90_ms value=%.4f unit=ms goal=- dir=- "
	       "desc=90th percentile of the same\n", p90 * 1e3);
	printf("BENCH name=worker.view_kib value=%.1f unit=KiB goal=- dir=- "
	       "desc=the view packed for the worker, %d guests / %d vCPUs\n",
	       view / 1024.0, guests, guests * vcpus);
	printf("BENCH name=worker.proposals_differ value=%ld unit=ticks goal=0 dir=max "
	       "desc=ticks whose proposals differ between the worker and in process\n",
	       differ);
	plugin_stop(&w, NULL, VNUMAD_EXIT_SHUTDOWN);
	c.policy = in;
	core_close(&c);
	worker_shutdown();
	config_free(&c.cfg);
	event_base_free(base);
	free(over);
	return 0;
}
