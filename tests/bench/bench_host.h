// SPDX-License-Identifier: MIT
/*
 * bench_host.h: the simulated host that bench-core and bench-worker share,
 * written as a scenario file (8 nodes, 256 CPUs, GUESTS guests of VCPUS
 * vCPUs each).
 */
#ifndef VNUMAD_BENCH_HOST_H
#define VNUMAD_BENCH_HOST_H

#include <stdio.h>

/* Eight groups, one per node; the odd ones run away from their memory. */
static inline int write_scenario(const char *path, int guests, int vcpus)
{
	FILE *f = fopen(path, "w");
	int per = guests / 8;

	if (!f)
		return -1;
	fprintf(f, "[sim]\nseed = 7\n\n[host]\nnodes = 8\ncpus = 256\nmemory = 640GiB\n"
		"distances = 10 16 16 16 28 28 28 28, 16 10 16 16 28 28 28 28, "
		"16 16 10 16 28 28 28 28, 16 16 16 10 28 28 28 28, "
		"28 28 28 28 10 16 16 16, 28 28 28 28 16 10 16 16, "
		"28 28 28 28 16 16 10 16, 28 28 28 28 16 16 16 10\n"
		"bandwidth = 300GB/s\nnoise = 2%%\n");
	for (int n = 0; n < 8; n++)
		fprintf(f, "\n[guest.g%d]\ncount = %d\nvcpus = %d\nmemory = 2GiB\n"
			"workload = mixed\ndemand = 20%%\nvcpu_nodes = %d\nmem_nodes = %d\n",
			n, per + (n < guests % 8), vcpus, n, n % 2 ? (n + 3) % 8 : n);
	return fclose(f);
}

#endif
