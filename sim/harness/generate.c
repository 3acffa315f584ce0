// SPDX-License-Identifier: MIT
/*
 * The scenario generator: `vnumad-sim generate --seed N` writes a scenario
 * drawn from documented ranges, and `gen:N` (or `gen:A-B`) names one
 * wherever a scenario file is taken. The same seed always gives the same
 * text. sim/README.md ("Generated scenarios") gives every range and its
 * source; the tables below are those ranges.
 *
 * Seeds 1 to 999999 are the tuning family and 1000000 to 1999999 the
 * validation family: a policy is tuned on the shipped suite and the first,
 * and reported on the second, which nobody tunes on.
 *
 * A host is a server generation (latency and bandwidth of its DRAM, cores,
 * frequency), a socket count and a NUMA mode (SNC or NPS: nodes per
 * socket), sometimes a memory-only node (a CXL expander), a queue factor.
 * Guests are drawn as a cloud host holds them: mostly small, some wider
 * than a node (with vNUMA, mostly), memory in the ratios of the common
 * instance families, workloads of every kind, placed as a host finds them
 * (most left to the scheduler and first touch, some bound, some drifted
 * away from their memory, some scattered, a few pinned), packed until the
 * CPU demand or the memory reaches a drawn level, never beyond the memory
 * the host has; some arrive during the run, some leave, with lifetimes from
 * minutes to days; those found running have run as long already; some
 * change phase.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "util.h"

#define GEN_MAX_GUESTS	40
/* seconds a guest there from the start lives on, and has lived: 10 min to a week */
#define FOUND_LIFE_MIN	600.0
#define FOUND_LIFE_MAX	(7 * 86400.0)

/*
 * Server generations: idle DRAM latency local and across sockets, extra
 * latency to another node of the same socket (SNC/NPS), STREAM bandwidth
 * per socket, cores per socket, frequency, the SLIT of a remote socket and
 * of the nearest and farther nodes of the same socket. Ranges are drawn
 * uniformly. Sources: sim/README.md.
 */
struct generation {
	const char *name;
	bool amd;
	double local[2], remote[2], snc[2];	/* ns */
	double stream[2];	/* GB/s per socket */
	int cores[2];		/* per socket */
	double ghz[2];
	int max_nps;		/* nodes per socket it offers */
	int max_sockets;
	bool cxl;		/* takes CXL memory expanders */
	/*
	 * What vnumad's event table for the generation counts as not local
	 * (sampling/EVENTS.md): the distant SNC clusters of the socket, and
	 * CXL memory. What it does not count, no counter sees ([host]
	 * uncounted).
	 */
	bool counts_snc, counts_cxl;
};

/*
 * Counter coverage, by vnumad's tables: Skylake/Cascade Lake count retired
 * loads by LOCAL_DRAM and REMOTE_DRAM, which Intel does not say how SNC
 * clusters fall into (taken as seen by neither). Ice Lake and Sapphire
 * Rapids count offcore responses with SNC_DRAM (bit 27) in the not-local
 * mask; Sapphire Rapids' file names bits 22-25 PMM, not CXL, so its CXL
 * memory is taken as unseen. AMD counts near and far fills; whether near
 * takes in the other quadrants of an NPS socket is not checked, and they
 * are counted; Zen 4's far event includes "extension memory", CXL.
 */
static const struct generation generations[] = {
	{ "Intel Xeon Skylake/Cascade Lake SP", false, { 80, 95 }, { 130, 150 },
	  { 5, 12 }, { 90, 115 }, { 16, 28 }, { 2.1, 2.7 }, 2, 4, false, false, false },
	{ "Intel Xeon Ice Lake SP", false, { 85, 100 }, { 135, 155 }, { 5, 12 },
	  { 140, 175 }, { 24, 40 }, { 2.0, 2.6 }, 2, 2, false, true, false },
	{ "Intel Xeon Sapphire Rapids", false, { 105, 125 }, { 175, 205 },
	  { 8, 18 }, { 210, 260 }, { 32, 56 }, { 1.9, 2.5 }, 4, 4, true, true, false },
	{ "AMD EPYC Rome/Milan", true, { 105, 130 }, { 190, 225 }, { 8, 20 },
	  { 125, 155 }, { 32, 64 }, { 2.0, 2.8 }, 4, 2, false, true, false },
	{ "AMD EPYC Genoa", true, { 110, 130 }, { 190, 225 }, { 8, 20 },
	  { 320, 380 }, { 48, 96 }, { 2.0, 2.6 }, 4, 2, true, true, true },
};

/*
 * Built-in workloads (sim/README.md: mpki, cpi, mlp, demand), how often a
 * guest runs each (percent), and the demand range of its variants.
 */
static const struct {
	const char *name;
	int weight;
	double mpki, cpi, mlp, demand[2];
} workloads[] = {
	{ "mixed", 35, 8, 0.7, 4, { 0.15, 1.0 } },
	{ "latency", 20, 15, 0.8, 1.5, { 0.5, 1.0 } },
	{ "cpu", 20, 0.3, 0.6, 2, { 0.5, 1.0 } },
	{ "bandwidth", 10, 40, 0.5, 10, { 0.5, 1.0 } },
	{ "idle", 15, 2, 1.0, 2, { 0.02, 0.15 } },
};

#define GEN_VARIANTS	8	/* [workload.wN] sections per scenario */

struct gen {
	struct vn_rng r;
	struct vn_rng past;	/* the ages of the guests found running: a stream
				 * of its own, so that adding them changed no other draw */
	FILE *f;
	const struct generation *gen;
	int sockets, nps, nodes, cpu_nodes, cxl;	/* cxl: its node, -1 none */
	int cpus[VN_MAX_NODES];
	uint64_t mem[VN_MAX_NODES];	/* GiB */
	int socket_of[VN_MAX_NODES];
	double duration;
	int lat_d[16];
	double lat_ns[16];
	int nr_lat;
	int slit[VN_MAX_NODES][VN_MAX_NODES];
	double demand[GEN_VARIANTS];	/* of each variant */
	double guest_mem;	/* GiB guests may use on the whole host */
	int reserved;		/* GiB per node */
};

static double uni(struct gen *g, double a, double b)
{
	return a + (b - a) * rng_uniform(&g->r);
}

static int pick(struct gen *g, int n)
{
	return (int)(rng_next(&g->r) % (uint64_t)n);
}

static bool chance(struct gen *g, double p)
{
	return rng_uniform(&g->r) < p;
}

/* Log-uniform between a and b, from the stream r. */
static double log_uniform(struct vn_rng *r, double a, double b)
{
	return exp(log(a) + (log(b) - log(a)) * rng_uniform(r));
}

static double logu(struct gen *g, double a, double b)
{
	return log_uniform(&g->r, a, b);
}

/* Adds a latency point (distance, ns) once, keeping the table sorted. */
static void lat_point(struct gen *g, int d, double ns)
{
	int i;

	for (i = 0; i < g->nr_lat; i++)
		if (g->lat_d[i] == d)
			return;
	for (i = g->nr_lat; i > 0 && g->lat_d[i - 1] > d; i--) {
		g->lat_d[i] = g->lat_d[i - 1];
		g->lat_ns[i] = g->lat_ns[i - 1];
	}
	g->lat_d[i] = d;
	g->lat_ns[i] = ns;
	g->nr_lat++;
}

/*
 * The topology: SLIT values as firmware reports them (10 local; another
 * node of the same socket 11, or 12 for an AMD NPS4 quadrant across the
 * die and Intel SNC4; another socket 21 on Intel, 32 on AMD; two socket
 * hops 31 on a four-socket ring) and a latency for each value.
 */
static void make_topology(struct gen *g)
{
	const struct generation *gn = g->gen;
	double local = uni(g, gn->local[0], gn->local[1]);
	double remote = uni(g, gn->remote[0], gn->remote[1]);
	double snc = uni(g, gn->snc[0], gn->snc[1]);
	int far = gn->amd ? 32 : 21;
	bool ring = g->sockets == 4 && chance(g, 0.5);

	g->cpu_nodes = g->sockets * g->nps;
	g->nodes = g->cpu_nodes;
	g->cxl = -1;
	/* a CXL memory expander on socket 0, in one host of four that can */
	if (gn->cxl && g->cpu_nodes < 8 && chance(g, 0.25))
		g->cxl = g->nodes++;
	for (int a = 0; a < g->nodes; a++)
		g->socket_of[a] = a < g->cpu_nodes ? a / g->nps : 0;
	lat_point(g, 10, local);
	for (int a = 0; a < g->cpu_nodes; a++) {
		for (int b = 0; b < g->cpu_nodes; b++) {
			int sa = g->socket_of[a], sb = g->socket_of[b], d;

			if (a == b) {
				d = 10;
			} else if (sa == sb) {
				/* NPS4 and SNC4: the quadrant across the die is farther */
				d = g->nps == 4 && (a % 4) + (b % 4) == 3 ? 12 :
				    g->nps == 4 && !gn->amd ? 12 : 11;
				lat_point(g, d, local + (d == 12 ? 1.5 : 1) * snc);
			} else if (ring && (sa + 2) % 4 == sb) {
				d = 31;
				lat_point(g, d, remote + (remote - local));
			} else {
				d = far;
				lat_point(g, d, remote);
			}
			g->slit[a][b] = d;
		}
	}
	if (g->cxl >= 0) {
		/* Pond: CXL memory costs about what a socket hop does */
		double cxl = remote - uni(g, 0, 10);

		for (int a = 0; a < g->cpu_nodes; a++) {
			int d = g->socket_of[a] == 0 ? far - 1 : far + 10;

			g->slit[a][g->cxl] = g->slit[g->cxl][a] = d;
			lat_point(g, d, g->socket_of[a] == 0 ? cxl :
				  cxl + (remote - local));
		}
		g->slit[g->cxl][g->cxl] = 10;
	}
	/* latency must not go down as distance goes up */
	for (int i = 1; i < g->nr_lat; i++)
		if (g->lat_ns[i] < g->lat_ns[i - 1])
			g->lat_ns[i] = g->lat_ns[i - 1];
}

static void write_host(struct gen *g, uint64_t seed)
{
	const struct generation *gn = g->gen;
	double stream = uni(g, gn->stream[0], gn->stream[1]);
	int cores = (int)lround(uni(g, gn->cores[0], gn->cores[1]));
	double ghz = uni(g, gn->ghz[0], gn->ghz[1]);
	static const int per_core[] = { 4, 8, 8, 16 };	/* GiB of DRAM per core */
	int gib = per_core[pick(g, 4)];

	g->duration = chance(g, 0.5) ? 1200 : 1800;
	fprintf(g->f, "; generated by vnumad-sim generate --seed %llu (%s family)\n",
		(unsigned long long)seed, seed >= 1000000 ? "validation" : "tuning");
	fprintf(g->f, "; %s, %d socket%s, %d node%s per socket%s\n", gn->name,
		g->sockets, g->sockets > 1 ? "s" : "", g->nps, g->nps > 1 ? "s" : "",
		g->cxl >= 0 ? ", a CXL memory expander" : "");
	fprintf(g->f, "\n[sim]\nseed = %llu\nduration = %.0fs\n",
		(unsigned long long)(seed % 0x7fffffff), g->duration);
	/* CPUs as the host counts them: two hardware threads per core */
	fprintf(g->f, "\n[host]\nnodes = %d\ncpus = %d\nmemory = %dGiB\n", g->nodes,
		2 * (cores / g->nps), cores / g->nps * gib);
	g->reserved = 1 + pick(g, 4);
	fprintf(g->f, "reserved = %dGiB\n", g->reserved);
	fprintf(g->f, "bandwidth = %.1fGB/s\n", stream / g->nps * uni(g, 0.95, 1.05));
	fprintf(g->f, "cpu_ghz = %.2f\n", ghz);
	fprintf(g->f, "queue_factor = %.2f\n", uni(g, 0.3, 1.0));
	fprintf(g->f, "sched_imbalance = %s\n", chance(g, 0.5) ? "17%" : "25%");
	fprintf(g->f, "noise = %.1f%%\n", uni(g, 0, 5));
	/*
	 * What the host tells a policy: HMAT bandwidth on a fifth of the hosts
	 * and a configured figure on a tenth, nothing on the rest; the event
	 * tables of the generation (Intel and Zen 2 count demand reads, Zen 3
	 * and later every fill), blind to what its table does not count
	 * (counts_snc, counts_cxl).
	 */
	{
		double x = rng_uniform(&g->r);
		bool fills = gn->amd && (strstr(gn->name, "Genoa") || chance(g, 0.5));
		bool snc = g->nps > 1 && !gn->counts_snc, cxl = g->cxl >= 0 && !gn->counts_cxl;

		if (x < 0.2)
			fprintf(g->f, "bandwidth_info = hmat\n");
		else if (x < 0.3)
			fprintf(g->f, "bandwidth_info = configured\n");
		fprintf(g->f, "counters = %s\n", fills ? "fills" : "demand");
		if (snc || cxl)
			fprintf(g->f, "uncounted = %s%s%s\n", snc ? "snc" : "",
				snc && cxl ? ", " : "", cxl ? "memory-only" : "");
	}
	fprintf(g->f, "distances = ");
	for (int a = 0; a < g->nodes; a++)
		for (int b = 0; b < g->nodes; b++)
			fprintf(g->f, "%d%s", g->slit[a][b], b + 1 < g->nodes ? " " :
				a + 1 < g->nodes ? ", " : "\n");
	fprintf(g->f, "latency = ");
	for (int i = 0; i < g->nr_lat; i++)
		fprintf(g->f, "%d:%.0fns%s", g->lat_d[i], g->lat_ns[i],
			i + 1 < g->nr_lat ? ", " : "\n");
	for (int n = 0; n < g->cpu_nodes; n++) {
		g->cpus[n] = 2 * (cores / g->nps);
		g->mem[n] = (uint64_t)(cores / g->nps * gib);
	}
	for (int n = 0; n < g->cpu_nodes; n++)
		g->guest_mem += (double)g->mem[n] - g->reserved;
	if (g->cxl >= 0) {
		int size = 64 << pick(g, 3);	/* 64 to 256 GiB */

		g->cpus[g->cxl] = 0;
		g->mem[g->cxl] = (uint64_t)size;
		fprintf(g->f, "\n[node.%d]\ncpus = 0\nmemory = %dGiB\nreserved = 0\n"
			"bandwidth = %.1fGB/s\n", g->cxl, size, uni(g, 25, 60));
	}
}

/* A built-in workload, by the weights above. */
static int draw_type(struct gen *g)
{
	int total = 0, x;

	for (size_t i = 0; i < ARRAY_SIZE(workloads); i++)
		total += workloads[i].weight;
	x = pick(g, total);
	for (size_t i = 0; i < ARRAY_SIZE(workloads); i++) {
		if (x < workloads[i].weight)
			return (int)i;
		x -= workloads[i].weight;
	}
	return 0;
}

/*
 * The scenario's workloads: variants of the built-ins, each figure within
 * a factor of its built-in value (MPKI 0.5-2x, CPI 0.8-1.25x, MLP 0.7-1.4x),
 * so that two guests of one kind are rarely alike.
 */
static void write_variants(struct gen *g)
{
	for (int i = 0; i < GEN_VARIANTS; i++) {
		int t = draw_type(g);
		double mlp = MIN(64, MAX(1, workloads[t].mlp * uni(g, 0.7, 1.4)));

		g->demand[i] = uni(g, workloads[t].demand[0], workloads[t].demand[1]);
		fprintf(g->f, "\n[workload.w%d]\ntype = %s\nmpki = %.2f\ncpi = %.2f\n"
			"mlp = %.2f\ndemand = %.0f%%\n", i, workloads[t].name,
			workloads[t].mpki * logu(g, 0.5, 2.0),
			workloads[t].cpi * uni(g, 0.8, 1.25), mlp, g->demand[i] * 100);
	}
}

/* A node mask as a list, for vcpu_nodes. */
static void write_nodes(struct gen *g, const char *key, uint64_t mask)
{
	char buf[128];

	fprintf(g->f, "%s = %s\n", key, fmt_nodemask(buf, sizeof(buf), mask));
}

/* A CPU node, at random. */
static int cpu_node(struct gen *g)
{
	return pick(g, g->cpu_nodes);
}

/* Another CPU node than a, when there is one. */
static int other_node(struct gen *g, int a)
{
	int b;

	if (g->cpu_nodes < 2)
		return a;
	do
		b = cpu_node(g);
	while (b == a);
	return b;
}

/*
 * One guest; returns its CPU demand (in CPUs) when it is there from the
 * start, 0 otherwise, and its memory in *gib. Like a cloud's placement
 * service, it admits no guest the host has no memory for: a guest larger
 * than `room` GiB gets what is left, and with less than 1 GiB left none is
 * written (*gib 0).
 */
static double write_guest(struct gen *g, int i, bool at_start, double room, double *gib)
{
	static const int sizes[] = { 1, 1, 1, 2, 2, 2, 4, 4, 4, 8, 8, 16, 32 };
	static const int ratio[] = { 2, 4, 4, 8 };	/* GiB per vCPU */
	int wl = pick(g, GEN_VARIANTS), node_cpus = g->cpus[0], vcpus, vnodes = 1;
	double mem, start = 0, life, hot = 1;
	bool wide;

	vcpus = sizes[pick(g, (int)ARRAY_SIZE(sizes))];
	wide = g->cpu_nodes > 1 && chance(g, 0.05);
	if (wide)		/* wider than a node */
		vcpus = (int)lround(node_cpus * uni(g, 1.1, 2.0));
	vcpus = MIN(vcpus, node_cpus * g->cpu_nodes);
	vcpus = MIN(vcpus, 256);
	mem = vcpus * ratio[pick(g, 4)];
	mem = MIN(mem, floor(0.6 * g->guest_mem));	/* a guest fits the host */
	*gib = 0;
	if (floor(room) < 1)
		return 0;
	mem = MIN(mem, floor(room));
	if (vcpus > node_cpus && g->cpu_nodes > 1 && chance(g, 0.8))
		vnodes = MIN((vcpus + node_cpus - 1) / node_cpus, g->cpu_nodes);
	if (!at_start)
		start = uni(g, 30, 0.8 * g->duration);
	/* there from the start: length-biased, most outlive the run */
	life = at_start ? logu(g, FOUND_LIFE_MIN, FOUND_LIFE_MAX) : logu(g, 120, 3 * 86400);
	if (chance(g, 0.4))
		hot = uni(g, 0.2, 0.9);
	fprintf(g->f, "\n[guest.g%d]\nworkload = w%d\nvcpus = %d\nmemory = %.0fGiB\n",
		i, wl, vcpus, mem);
	if (hot < 1)
		fprintf(g->f, "hot = %.0f%%\n", hot * 100);
	if (start > 0)
		fprintf(g->f, "start = %.0fs\n", start);
	else {
		/*
		 * Found running, it has run for some time already. Seen at a
		 * random moment, a guest's age and its remaining life have
		 * one distribution (renewal theory's inspection paradox), so
		 * the age is drawn from the range of the remaining life.
		 */
		fprintf(g->f, "age = %.0fs\n",
			log_uniform(&g->past, FOUND_LIFE_MIN, FOUND_LIFE_MAX));
	}
	if (start + life < g->duration)
		fprintf(g->f, "stop = %.0fs\n", MAX(start + life, start + 60));
	if (chance(g, 0.25)) {
		/* one to three phase changes, a minute apart at least */
		int k = 1 + pick(g, 3), done = 0;
		double t = start;

		for (int p = 0; p < k; p++) {
			t += uni(g, 60, MAX(60, (g->duration - t) / (k - p)));
			if (t >= g->duration - 30)
				break;
			fprintf(g->f, "%s%.0fs:w%d", done++ ? ", " : "phases = ", t,
				pick(g, GEN_VARIANTS));
		}
		if (done)
			fprintf(g->f, "\n");
	}
	if (vnodes > 1) {
		fprintf(g->f, "vnodes = %d\n", vnodes);
		if (chance(g, 0.6)) {
			int first = pick(g, g->cpu_nodes - vnodes + 1);

			fprintf(g->f, "vnode_nodes = ");
			for (int k = 0; k < vnodes; k++)
				fprintf(g->f, "%d%s", first + k, k + 1 < vnodes ? ", " : "\n");
		}
	} else {
		double x = rng_uniform(&g->r);
		int a = cpu_node(g), b = other_node(g, a);

		if (x < 0.55) {
			/* left to the scheduler and first touch */
		} else if (x < 0.70 || (x < 0.80 && a == b)) {
			/* drifted: bound long ago, its memory elsewhere */
			write_nodes(g, "vcpu_nodes", 1ULL << a);
			fprintf(g->f, "mem_nodes = %d\n", chance(g, 0.2) && g->cxl >= 0 ?
				g->cxl : b);
		} else if (x < 0.80) {
			/* scattered: memory over nodes, after a full node spilled */
			double share = floor(uni(g, 20, 80));

			fprintf(g->f, "mem_nodes = %d:%.0f%%, %d:%.0f%%\n", a, share, b,
				100 - share);
		} else if (x < 0.95) {
			write_nodes(g, "vcpu_nodes", 1ULL << a);
			fprintf(g->f, "mem_nodes = %d\n", a);
		} else {
			/*
			 * pinned by the user: vCPUs and memory together, or
			 * (3 in 10) only the vCPUs (libvirt's <vcpupin> alone),
			 * the memory left where it landed, another node (a live
			 * repin, a node full at boot): a user who binds memory
			 * binds it with the vCPUs
			 */
			bool away = chance(g, 0.3);

			write_nodes(g, "vcpu_nodes", 1ULL << a);
			fprintf(g->f, "mem_nodes = %d\npinned = %s\n", away ? b : a,
				away ? "vcpus" : "yes");
		}
	}
	if (chance(g, 0.03))
		fprintf(g->f, "memmove = no\n");
	else if (chance(g, 0.02))
		fprintf(g->f, "optout = yes\n");
	*gib = mem;
	return at_start ? vcpus * g->demand[wl] : 0;
}

char *hs_generate(uint64_t seed)
{
	struct gen g = { 0 };
	char *text = NULL;
	size_t len = 0;
	double cpus = 0, memory = 0, demand = 0, used = 0, rho, phi;
	int n = 0, arrivals;

	rng_seed(&g.r, seed * 0x9e3779b97f4a7c15ULL + 0x67656e);	/* "gen" */
	rng_seed(&g.past, seed * 0x9e3779b97f4a7c15ULL + 0x616765);	/* "age" */
	g.f = open_memstream(&text, &len);
	if (!g.f)
		return NULL;
	g.gen = &generations[pick(&g, (int)ARRAY_SIZE(generations))];
	g.sockets = chance(&g, 0.15) ? 1 : chance(&g, 0.15) ? 4 : 2;
	g.sockets = MIN(g.sockets, g.gen->max_sockets);
	g.nps = 1;
	if (g.sockets < 4) {
		double x = rng_uniform(&g.r);

		g.nps = x < 0.5 ? 1 : x < 0.8 || g.gen->max_nps < 4 ? 2 : 4;
	}
	/* one socket of one node leaves nothing to place: SNC or NPS then */
	if (g.sockets == 1 && g.nps == 1)
		g.nps = g.gen->max_nps < 4 || chance(&g, 0.5) ? 2 : 4;
	make_topology(&g);
	write_host(&g, seed);
	write_variants(&g);
	for (int k = 0; k < g.cpu_nodes; k++) {
		cpus += g.cpus[k];
		memory += (double)g.mem[k];
	}
	/* how full: CPU demand 0.3 to 2 times the CPUs, memory 40 to 95% */
	rho = chance(&g, 0.2) ? uni(&g, 1.2, 2.0) : uni(&g, 0.3, 1.2);
	phi = uni(&g, 0.4, 0.95);
	while (n < GEN_MAX_GUESTS && demand < rho * cpus && used < phi * memory) {
		double gib;

		demand += write_guest(&g, n, true, g.guest_mem - used, &gib);
		if (gib <= 0)
			break;
		used += gib;
		n++;
	}
	/* arrivals are admitted against the memory of all before them, as if
	 * none had left */
	arrivals = (int)lround(n * uni(&g, 0, 0.4));
	for (int k = 0; k < arrivals && n < GEN_MAX_GUESTS; k++, n++) {
		double gib;

		write_guest(&g, n, false, g.guest_mem - used, &gib);
		if (gib <= 0)
			break;
		used += gib;
	}
	fclose(g.f);
	return text;
}
