// SPDX-License-Identifier: MIT
/*
 * sim-bench: how fast the simulated host runs, and the calibration table of
 * sim/README.md.
 *
 *	sim-bench [speed|calibrate] ...
 *	sim-bench speed [NODES GUESTS VCPUS SECONDS]
 *
 * speed runs a host of NODES nodes with GUESTS guests of VCPUS vCPUs each
 * (mixed workloads, a fifth misplaced, counter noise on) for SECONDS
 * simulated seconds at a 1 s tick, reading every vCPU's counters each tick as
 * the daemon does, and prints simulated seconds per wall second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"
#include "sim.h"
#include "util.h"

static const char *const workloads[] = { "latency", "bandwidth", "cpu", "mixed", "idle" };

static char *big_scenario(int nodes, int guests, int vcpus)
{
	size_t cap = 4096 + (size_t)nodes * 512, off = 0;
	int per = guests / nodes, cpus = (per * vcpus + 1) & ~1;
	char *t;

	cap += (size_t)nodes * 5 * 256;
	t = xmalloc(cap);
	off += snprintf(t + off, cap - off,
			"[sim]\nseed = 3\n[host]\nnodes = %d\ncpus = %d\n"
			"memory = %dGiB\nnoise = 3%%\n", nodes, cpus, per * 4 + 16);
	for (int n = 0; n < nodes; n++) {
		int left = per + (n < guests % nodes);

		/* five groups per node, one per workload; the latency one remote */
		for (int w = 0; w < 5 && left > 0; w++) {
			int c = w == 4 ? left : MAX(1, per / 5);

			c = MIN(c, left);
			left -= c;
			off += snprintf(t + off, cap - off,
					"[guest.n%d-%s]\nworkload = %s\nvcpus = %d\n"
					"memory = 4GiB\ncount = %d\nvcpu_nodes = %d\n"
					"mem_nodes = %d\n", n, workloads[w],
					workloads[w], vcpus, c, n,
					w == 0 ? (n + 1) % nodes : n);
		}
	}
	return t;
}

static int speed(int nodes, int guests, int vcpus, int seconds)
{
	struct vn_errors e = { 0 };
	char *text = big_scenario(nodes, guests, vcpus);
	struct sim *s = sim_load_text("(bench)", text, &e);
	double t0, wall, model = 0, sink = 0;
	struct vn_counts c;

	free(text);
	if (!s) {
		errors_print(&e, stderr);
		errors_free(&e);
		return 1;
	}
	t0 = now_monotonic();
	for (int t = 0; t < seconds; t++) {
		double t1 = now_monotonic();

		sim_step(s, 1.0);
		model += now_monotonic() - t1;
		for (int g = 0; g < sim_nr_guests(s); g++)
			for (int v = 0; v < sim_guest_vcpus(s, g); v++) {
				sim_read_counts(s, g, v, &c);
				sink += (double)c.instructions;
			}
	}
	wall = now_monotonic() - t0;
	printf("speed: %d nodes, %d guests, %d vCPUs, 1 s tick: %.0f simulated s "
	       "per wall s with every counter read each tick (%.0f us per tick; "
	       "the model alone %.0f us)\n",
	       nodes, sim_nr_guests(s), sim_nr_guests(s) * vcpus, seconds / wall,
	       wall / seconds * 1e6, model / seconds * 1e6);
	if (sink < 0)
		printf("?\n");
	sim_free(s);
	return 0;
}

/* IPS of a one-guest host after it settles, with memory on `mem`. */
static double one(const char *host, const char *wl, int vcpus,
		  const char *vcpu_nodes, const char *mem_nodes)
{
	struct vn_errors e = { 0 };
	char text[1024];
	struct sim *s;
	double ips;

	snprintf(text, sizeof(text),
		 "%s\n[guest.g]\nworkload = %s\nvcpus = %d\nmemory = 8GiB\n"
		 "vcpu_nodes = %s\nmem_nodes = %s\n", host, wl, vcpus,
		 vcpu_nodes, mem_nodes);
	s = sim_load_text("(calibrate)", text, &e);
	if (!s) {
		errors_print(&e, stderr);
		exit(1);
	}
	sim_step(s, 10);
	ips = sim_guest_ips(s, 0);
	if (vcpus > 1)
		printf("    [%s, %d vCPUs, memory %s: node 0 bandwidth %.1f GB/s]\n",
		       wl, vcpus, mem_nodes, sim_node_bw_used(s, 0) / 1e9);
	sim_free(s);
	errors_free(&e);
	return ips / vcpus;
}

static void calibrate(void)
{
	static const char host2[] =
		"[host]\nnodes = 2\ncpus = 16\nmemory = 64GiB\n";
	static const char host4[] =
		"[host]\nnodes = 4\ncpus = 16\nmemory = 64GiB\n"
		"distances = 10 21 31 21, 21 10 21 31, 31 21 10 21, 21 31 21 10\n";

	printf("calibrate: per-vCPU speed, one vCPU alone, 2.5 GHz\n");
	printf("%-10s %10s %12s %12s %12s\n", "workload", "local GIPS",
	       "1 hop (21)", "2 hops (31)", "");
	for (size_t w = 0; w < ARRAY_SIZE(workloads); w++) {
		double l = one(host2, workloads[w], 1, "0", "0");
		double r = one(host2, workloads[w], 1, "0", "1");
		double r2 = one(host4, workloads[w], 1, "0", "2");

		printf("%-10s %10.3f %12.3f %12.3f\n", workloads[w], l / 1e9,
		       r / l, r2 / l);
	}
	for (int n = 8; n <= 16; n += 4) {
		double l = one(host2, "bandwidth", n, "0", "0");
		double i = one(host2, "bandwidth", n, "0", "0-1");
		double r = one(host2, "bandwidth", n, "0", "1");

		printf("bandwidth x%d on node 0: per-vCPU GIPS local %.3f, "
		       "interleaved 0-1 %.3f (x%.2f), remote %.3f (x%.2f)\n",
		       n, l / 1e9, i / 1e9, i / l, r / 1e9, r / l);
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "all";

	if (strcmp(mode, "speed") == 0 && argc == 6)
		return speed(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
			     atoi(argv[5]));
	if (strcmp(mode, "calibrate") == 0 || strcmp(mode, "all") == 0)
		calibrate();
	if (strcmp(mode, "speed") == 0 || strcmp(mode, "all") == 0) {
		if (speed(8, 512, 4, 2000) || speed(8, 1000, 8, 300))
			return 1;
	}
	return 0;
}
