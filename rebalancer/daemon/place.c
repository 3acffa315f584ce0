// SPDX-License-Identifier: MIT
/*
 * Placement advice for a guest about to start (place.h): the choice of
 * nodes, and the host sampled from the kernel alone for when no daemon
 * runs. Nothing here calls libvirt: libvirtd asks this question (numad -w)
 * while it starts a domain, and a call back into it would wait for the
 * start that waits for us.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostinfo.h"
#include "place.h"
#include "util.h"
#include "vnumad.h"

/* SLIT distance, read here: vnumad-numad links no core code. */
static int distance(const struct vn_host *h, int a, int b)
{
	return h->distance[a * h->nr_nodes + b];
}

int place_nodes(const struct vn_host *h, int ncpus, uint64_t mem,
		uint64_t *nodes, char *why, size_t len)
{
	double fcpu[VN_MAX_NODES], fmem[VN_MAX_NODES], best = -1;
	int pick = -1;
	uint64_t set;
	double cpus = 0, memsum = 0;

	for (int n = 0; n < h->nr_nodes; n++) {
		fcpu[n] = h->node[n].nr_cpus * (1.0 - MIN(h->node[n].cpu_load, 1.0));
		fmem[n] = (double)h->node[n].mem_free;
		if (!(h->online >> n & 1) || !h->node[n].nr_cpus)
			continue;
		if (fcpu[n] + 1e-9 >= ncpus && fmem[n] >= (double)mem) {
			double mag = (fcpu[n] - ncpus + 1) * (fmem[n] - (double)mem + 1);

			if (mag > best) {
				best = mag;
				pick = n;
			}
		}
	}
	if (pick >= 0) {
		*nodes = 1ULL << pick;
		snprintf(why, len, "node %d fits it with %.1f CPUs and %.1f GiB to spare",
			 pick, fcpu[pick] - ncpus, (fmem[pick] - (double)mem) / GiB);
		return 0;
	}
	/* no single node: start from the roomiest, add the nearest */
	for (int n = 0; n < h->nr_nodes; n++)
		if ((h->online >> n & 1) && h->node[n].nr_cpus &&
		    (pick < 0 || fcpu[n] * fmem[n] > fcpu[pick] * fmem[pick]))
			pick = n;
	if (pick < 0) {
		snprintf(why, len, "the host has no node with CPUs");
		return -ENOENT;
	}
	set = 1ULL << pick;
	cpus = fcpu[pick];
	memsum = fmem[pick];
	while (cpus + 1e-9 < ncpus || memsum < (double)mem) {
		int next = -1;

		for (int n = 0; n < h->nr_nodes; n++) {
			if ((set >> n & 1) || !(h->online >> n & 1) || !h->node[n].nr_cpus)
				continue;
			if (next < 0 || distance(h, pick, n) < distance(h, pick, next) ||
			    (distance(h, pick, n) == distance(h, pick, next) &&
			     fcpu[n] * fmem[n] > fcpu[next] * fmem[next]))
				next = n;
		}
		if (next < 0) {
			snprintf(why, len, "the whole host has %.1f free CPUs and %.1f GiB free: "
				 "not enough", cpus, memsum / GiB);
			*nodes = set;
			return -ENOSPC;
		}
		set |= 1ULL << next;
		cpus += fcpu[next];
		memsum += fmem[next];
	}
	*nodes = set;
	snprintf(why, len, "no single node fits it; the %d nearest together have %.1f "
		 "free CPUs and %.1f GiB free", __builtin_popcountll(set), cpus, memsum / GiB);
	return 0;
}

int place_stat_read(struct place_stat *s)
{
	FILE *f = fopen("/proc/stat", "re");

	memset(s, 0, sizeof(*s));
	if (!f)
		return -errno;
	place_stat_parse(s, f, hostinfo_nr_cpus());
	fclose(f);
	return 0;
}

void place_stat_parse(struct place_stat *s, FILE *f, int cap)
{
	char line[512];

	memset(s, 0, sizeof(*s));
	s->busy = xcalloc((size_t)cap, sizeof(*s->busy));
	s->total = xcalloc((size_t)cap, sizeof(*s->total));
	s->nr = cap;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[8] = { 0 }, sum = 0;
		int cpu;

		/* cpuN user nice system idle iowait irq softirq steal [guest ...];
		 * the first line, "cpu  ...", sums them all */
		if (strncmp(line, "cpu", 3) != 0 || !isdigit((unsigned char)line[3]) ||
		    sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu,
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 5 ||
		    cpu < 0 || cpu >= cap)
			continue;
		/* guest time is counted in user time already */
		for (int i = 0; i < 8; i++)
			sum += v[i];
		s->total[cpu] = sum;
		s->busy[cpu] = sum - v[3] - v[4];
	}
}

void place_stat_free(struct place_stat *s)
{
	free(s->busy);
	free(s->total);
	memset(s, 0, sizeof(*s));
}

int place_host(struct vn_host *h, const struct place_stat *before,
	       const struct place_stat *after)
{
	unsigned long long busy[VN_MAX_NODES] = { 0 }, total[VN_MAX_NODES] = { 0 };
	int r;

	memset(h, 0, sizeof(*h));
	r = hostinfo_topology(h);
	if (r < 0)
		return r;
	for (int c = 0; c < before->nr && c < after->nr; c++) {
		int n = hostinfo_cpu_node(c);

		if (n < 0 || n >= VN_MAX_NODES || after->total[c] < before->total[c])
			continue;
		busy[n] += after->busy[c] - MIN(before->busy[c], after->busy[c]);
		total[n] += after->total[c] - before->total[c];
	}
	for (int n = 0; n < h->nr_nodes; n++)
		h->node[n].cpu_load = total[n] ? (double)busy[n] / (double)total[n] : 0;
	return 0;
}
