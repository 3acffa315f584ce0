// SPDX-License-Identifier: MIT
/*
 * Scenario files of the simulated host: [sim], [host], [node.N],
 * [workload.NAME] and [guest.NAME] sections, described in sim/README.md.
 * Every key is typed and range-checked through ini.c, unknown sections and
 * keys are errors, and every message names file, line and key.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ini.h"
#include "log.h"
#include "sim_impl.h"
#include "util.h"

#define SIM_MAX_CPUS		4096		/* per node */
#define SIM_MAX_VCPUS		1024		/* per guest */
#define SIM_MAX_GUESTS		100000
/*
 * Totals of a scenario, each in range alone: 100,000 guests of 1,024 vCPUs
 * allocated until memory ran out. About 600 bytes per vCPU and 28 per
 * guest vnode and host node (the memory layout), so these two cost some
 * 150 and 230 MB at most, and 100,000 guests some 400 MB more.
 */
#define SIM_MAX_TOTAL_VCPUS	262144		/* 64 nodes of 4,096 CPUs */
#define SIM_MAX_TOTAL_CELLS	8388608		/* guests x vnodes x nodes */
#define SIM_MAX_LAT_POINTS	16
#define SIM_FIRST_PID		1000
#define SIM_MAX_LINK_NODES	16		/* 136 unknowns in the solve */

/*
 * Built-in workloads. Stylised figures in the range published for the kinds
 * of program they stand for; sim/README.md gives the sources and the
 * calibration they produce.
 */
static const struct sim_workload builtin_wl[] = {
	{ "cpu",	0.3,	0.6,	2.0,	1.0,	0.3 },	/* compute kernels */
	{ "latency",	15.0,	0.8,	1.5,	1.0,	0.05 },	/* pointer chasing */
	{ "bandwidth",	40.0,	0.5,	10.0,	1.0,	0.75 },	/* streaming */
	{ "mixed",	8.0,	0.7,	4.0,	0.8,	0.4 },	/* typical server */
	{ "idle",	2.0,	1.0,	2.0,	0.05,	0.3 },	/* mostly halted */
};

static const char *const bw_info_names[] = { "none", "hmat", "configured", NULL };
static const char *const counter_names[] = { "demand", "fills", "exact", "none", NULL };

static const char *const builtin_names[] = {
	"cpu", "latency", "bandwidth", "mixed", "idle", NULL,
};

struct lat_point {
	int distance;
	double ns;
};

/* Default latency by SLIT distance: local, one hop, two hops. */
static const struct lat_point default_lat[] = {
	{ 10, 90.0 }, { 21, 140.0 }, { 31, 200.0 },
};

/* Reports a key that must be present, at the line of its section. */
static void missing_key(struct vn_ini *ini, struct vn_errors *e,
			const char *sec, const char *key)
{
	errors_add(e, "%s:%d: [%s] %s: required key missing", vn_ini_path(ini),
		   vn_ini_line(ini, sec, NULL), sec, key);
}

/* Names of guests and workloads: what the operator reads in every message. */
static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.+-", *s))
			return false;
	return true;
}

/* Latency of a SLIT distance, linear between the points of the table. */
static double interp_latency(const struct lat_point *p, int n, int d)
{
	int i;

	if (n == 1)
		return p[0].ns * d / p[0].distance;	/* SLIT: relative latency */
	for (i = 1; i < n - 1 && d > p[i].distance; i++)
		;
	/* between p[i-1] and p[i], or beyond the last along its slope */
	return p[i - 1].ns + (p[i].ns - p[i - 1].ns) *
		(d - p[i - 1].distance) / (p[i].distance - p[i - 1].distance);
}

static void parse_sim(struct vn_ini *ini, struct vn_errors *e, struct sim *s)
{
	long seed = 1;

	s->step = 1.0;
	vn_ini_long(ini, e, "sim", "seed", &seed, 0, 0x7fffffffL);
	s->seed = (uint64_t)seed;
	vn_ini_duration(ini, e, "sim", "step", &s->step, 1e-3, 60);
	vn_ini_duration(ini, e, "sim", "duration", &s->duration, 0, 1e9);
}

/* "10:90ns, 21:140ns": latency points by distance, ascending. */
static int parse_latency(struct vn_ini *ini, struct vn_errors *e,
			 struct lat_point *pt, int *npt)
{
	const char *v = vn_ini_get(ini, "host", "latency");
	char *copy, *items[SIM_MAX_LAT_POINTS + 1];
	int n, ret = -1;

	if (!v)
		return 0;
	copy = xstrdup(v);
	n = split_list(copy, items, SIM_MAX_LAT_POINTS);
	if (n <= 0) {
		vn_ini_error(ini, e, "host", "latency",
			     "'%s': expected 1 to %d points such as 10:90ns, 21:140ns",
			     v, SIM_MAX_LAT_POINTS);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char *colon = strchr(items[i], ':');
		const char *why;
		long d;
		double t;

		if (!colon) {
			vn_ini_error(ini, e, "host", "latency",
				     "'%s': expected DISTANCE:LATENCY such as 21:140ns",
				     items[i]);
			goto out;
		}
		*colon = '\0';
		if (parse_long(items[i], &d, &why) < 0 || d < 10 || d > 254) {
			vn_ini_error(ini, e, "host", "latency",
				     "'%s': distance must be 10 to 254", items[i]);
			goto out;
		}
		if (parse_duration(colon + 1, &t, &why) < 0 || t <= 0 || t > 1e-5) {
			vn_ini_error(ini, e, "host", "latency",
				     "'%s': latency must be a duration above 0 and up to 10us",
				     colon + 1);
			goto out;
		}
		if (i == 0 && d != 10) {
			vn_ini_error(ini, e, "host", "latency",
				     "the first point must be the local distance 10");
			goto out;
		}
		if (i > 0 && (d <= pt[i - 1].distance || t * 1e9 < pt[i - 1].ns)) {
			vn_ini_error(ini, e, "host", "latency",
				     "points must go up in distance, latency not down");
			goto out;
		}
		pt[i].distance = (int)d;
		pt[i].ns = t * 1e9;
	}
	*npt = n;
	ret = 1;
out:
	free(copy);
	return ret;
}

/* "10 21, 21 10": one row per node, rows split by commas. */
static int parse_distances(struct vn_ini *ini, struct vn_errors *e,
			   struct sim *s)
{
	const char *v = vn_ini_get(ini, "host", "distances");
	int n = s->nr_nodes, nrows, ret = -1;
	char *copy, **rows;

	if (!v)
		return 0;
	copy = xstrdup(v);
	rows = xcalloc(VN_MAX_NODES + 1, sizeof(*rows));
	nrows = split_list(copy, rows, VN_MAX_NODES);
	if (nrows != n) {
		vn_ini_error(ini, e, "host", "distances",
			     "expected %d rows separated by commas, found %d", n,
			     nrows < 0 ? VN_MAX_NODES + 1 : nrows);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char *p = rows[i], *end;
		int j;

		for (j = 0; ; j++) {
			long d;

			while (isspace((unsigned char)*p))
				p++;
			if (!*p)
				break;
			d = strtol(p, &end, 10);
			if (end == p || (*end && !isspace((unsigned char)*end))) {
				vn_ini_error(ini, e, "host", "distances",
					     "row %d: not a list of numbers", i);
				goto out;
			}
			p = end;
			if (j >= n)
				continue;	/* counted below */
			if (i == j ? d != 10 : d < 11 || d > 254) {
				vn_ini_error(ini, e, "host", "distances",
					     "row %d column %d: %ld: a node is 10 from itself and 11 to 254 from others",
					     i, j, d);
				goto out;
			}
			s->distance[i * n + j] = (uint8_t)d;
		}
		if (j != n) {
			vn_ini_error(ini, e, "host", "distances",
				     "row %d has %d entries, expected %d", i, j, n);
			goto out;
		}
	}
	ret = 1;
out:
	free(rows);
	free(copy);
	return ret;
}

/* Per-node keys, shared by [host] (every node) and [node.N] (one node). */
static void parse_node_keys(struct vn_ini *ini, struct vn_errors *e,
			    const char *sec, struct sim_node *nd, int min_cpus)
{
	long cpus = nd->cpus;

	if (vn_ini_long(ini, e, sec, "cpus", &cpus, min_cpus, SIM_MAX_CPUS) > 0)
		nd->cpus = (int)cpus;
	vn_ini_size(ini, e, sec, "memory", &nd->mem_total, 256 * MiB,
		    1024ULL * 1024 * GiB);
	vn_ini_size(ini, e, sec, "reserved", &nd->reserved, 0,
		    1024ULL * 1024 * GiB);
	vn_ini_rate(ini, e, sec, "bandwidth", &nd->bw_max, 1e8, 1e13);
}

static void parse_uncounted(struct vn_ini *ini, struct vn_errors *e, bool *snc,
			    bool *memory_only);

/* [host]; returns -1 when the host is too broken to check guests against. */
static int parse_host(struct vn_ini *ini, struct vn_errors *e, struct sim *s)
{
	struct lat_point lat[SIM_MAX_LAT_POINTS];
	int nlat = (int)ARRAY_SIZE(default_lat);
	struct sim_node proto = { .bw_max = 40e9 };
	bool lose_snc = false, lose_memory_only = false;
	int before = e->count, n;
	long nodes = 0;
	uint64_t page = 2 * MiB;
	double ghz = 2.5;

	if (!vn_ini_has_section(ini, "host")) {
		errors_add(e, "%s: missing section [host] (with nodes, cpus and memory)",
			   vn_ini_path(ini));
		return -1;
	}
	memcpy(lat, default_lat, sizeof(default_lat));
	if (vn_ini_long(ini, e, "host", "nodes", &nodes, 1, VN_MAX_NODES) == 0)
		missing_key(ini, e, "host", "nodes");
	if (!vn_ini_get(ini, "host", "cpus"))
		missing_key(ini, e, "host", "cpus");
	if (!vn_ini_get(ini, "host", "memory"))
		missing_key(ini, e, "host", "memory");
	parse_node_keys(ini, e, "host", &proto, 1);
	vn_ini_double(ini, e, "host", "cpu_ghz", &ghz, 0.1, 10);
	s->queue_k = 0.5;
	vn_ini_double(ini, e, "host", "queue_factor", &s->queue_k, 0, 10);
	s->imbalance = 0.25;
	vn_ini_percent(ini, e, "host", "sched_imbalance", &s->imbalance, 0, 4);
	vn_ini_rate(ini, e, "host", "link_bandwidth", &s->link_bw, 0, 1e13);
	if (s->link_bw > 0 && s->link_bw < 1e8) {
		vn_ini_error(ini, e, "host", "link_bandwidth",
			     "below 100MB/s; use 0 for unlimited");
	}
	if (vn_ini_size(ini, e, "host", "page_size", &page, 4 * KiB, GiB) > 0 &&
	    (page & (page - 1))) {
		vn_ini_error(ini, e, "host", "page_size", "not a power of two");
	}
	vn_ini_percent(ini, e, "host", "noise", &s->noise, 0, 1);
	sim_numab_parse(ini, e, s);
	{
		int bw = SIM_BW_NONE, ct = SIM_COUNT_DEMAND;

		vn_ini_enum(ini, e, "host", "bandwidth_info", bw_info_names, &bw);
		vn_ini_enum(ini, e, "host", "counters", counter_names, &ct);
		s->bw_info = (enum sim_bw_info)bw;
		s->counters = (enum sim_counters)ct;
	}
	parse_uncounted(ini, e, &lose_snc, &lose_memory_only);
	parse_latency(ini, e, lat, &nlat);
	if (s->link_bw > 0 && nodes > SIM_MAX_LINK_NODES)
		vn_ini_error(ini, e, "host", "link_bandwidth",
			     "links are modelled on hosts of up to %d nodes",
			     SIM_MAX_LINK_NODES);
	if (e->count > before || nodes < 1)
		return -1;

	n = s->nr_nodes = (int)nodes;
	s->online = n == 64 ? ~0ULL : (1ULL << n) - 1;
	s->freq = ghz * 1e9;
	s->page = page;
	for (int i = 0; i < n; i++) {
		s->node[i] = proto;
		for (int j = 0; j < n; j++)
			s->distance[i * n + j] = i == j ? 10 : 21;
	}
	if (parse_distances(ini, e, s) < 0)
		return -1;
	for (int i = 0; i < n * n; i++)
		s->lat0[i] = interp_latency(lat, nlat, s->distance[i]) * 1e-9 * s->freq;
	s->lose_snc = lose_snc;
	s->lose_memory_only = lose_memory_only;
	return 0;
}

/*
 * uncounted = snc, memory-only: DRAM that today's event tables miss. With
 * Sub-NUMA Clustering, Intel's LOCAL_DRAM counts the near cluster and
 * REMOTE_DRAM other sockets, so the other clusters of the same socket are
 * neither; CXL and other memory-only nodes have events of their own that
 * the tables do not program.
 */
static void parse_uncounted(struct vn_ini *ini, struct vn_errors *e, bool *snc,
			    bool *memory_only)
{
	const char *v = vn_ini_get(ini, "host", "uncounted");
	char *copy, *items[8];
	int n;

	if (!v)
		return;
	copy = xstrdup(v);
	n = split_list(copy, items, 8);
	for (int i = 0; i < n; i++) {
		if (strcmp(items[i], "snc") == 0)
			*snc = true;
		else if (strcmp(items[i], "memory-only") == 0)
			*memory_only = true;
		else if (strcmp(items[i], "none") != 0)
			vn_ini_error(ini, e, "host", "uncounted",
				     "'%s': expected none, or snc and/or memory-only",
				     items[i]);
	}
	if (n < 0)
		vn_ini_error(ini, e, "host", "uncounted", "too many items");
	free(copy);
}

/* [node.N]: one node differing from the [host] defaults. */
static void parse_node_section(struct vn_ini *ini, struct vn_errors *e,
			       struct sim *s, const char *sec)
{
	const char *why;
	long id;

	if (parse_long(sec + 5, &id, &why) < 0 || id < 0 || id >= s->nr_nodes) {
		struct sim_node scratch = { 0 };

		vn_ini_error(ini, e, sec, NULL, "no such node: nodes are 0 to %d",
			     s->nr_nodes - 1);
		/* read its keys anyway, so that they are not reported as unknown */
		parse_node_keys(ini, e, sec, &scratch, 0);
		return;
	}
	/* 0 CPUs: a memory-only node (a CXL expander, HBM in flat mode) */
	parse_node_keys(ini, e, sec, &s->node[id], 0);
}

static int find_workload(const struct sim *s, const char *name)
{
	for (int i = 0; i < s->nr_wl; i++)
		if (strcmp(s->wl[i].name, name) == 0)
			return i;
	return -1;
}

/* The parameter keys of a workload, in [workload.NAME] or [guest.NAME]. */
static unsigned parse_wl_keys(struct vn_ini *ini, struct vn_errors *e,
			      const char *sec, struct sim_workload *w)
{
	unsigned mask = 0;

	if (vn_ini_double(ini, e, sec, "mpki", &w->mpki, 0, 1000) > 0)
		mask |= SIM_OVR_MPKI;
	if (vn_ini_double(ini, e, sec, "cpi", &w->cpi, 0.05, 100) > 0)
		mask |= SIM_OVR_CPI;
	if (vn_ini_double(ini, e, sec, "mlp", &w->mlp, 1, 64) > 0)
		mask |= SIM_OVR_MLP;
	if (vn_ini_percent(ini, e, sec, "demand", &w->demand, 0.01, 1) > 0)
		mask |= SIM_OVR_DEMAND;
	if (vn_ini_percent(ini, e, sec, "prefetch", &w->prefetch, 0, 1) > 0)
		mask |= SIM_OVR_PREFETCH;
	return mask;
}

/* [workload.NAME]: a built-in type with some parameters changed. */
static void parse_workload_section(struct vn_ini *ini, struct vn_errors *e,
				   struct sim *s, const char *sec)
{
	const char *name = sec + 9;
	struct sim_workload w;
	int type = -1;

	if (vn_ini_enum(ini, e, sec, "type", builtin_names, &type) == 0)
		missing_key(ini, e, sec, "type");
	if (!valid_name(name))
		vn_ini_error(ini, e, sec, NULL,
			     "'%s': a name is 1 to 64 of a-z 0-9 _ . + -", name);
	else if (find_workload(s, name) >= 0)
		vn_ini_error(ini, e, sec, NULL,
			     "'%s': a built-in workload has this name", name);
	w = builtin_wl[type < 0 ? 0 : type];
	parse_wl_keys(ini, e, sec, &w);
	if (type < 0)
		return;
	w.name = xstrdup(name);
	s->wl = xreallocarray(s->wl, s->nr_wl + 1, sizeof(*s->wl));
	s->wl[s->nr_wl++] = w;
}

/* "0s:latency, 2min:bandwidth": workloads by simulated time. */
static int parse_phases(struct vn_ini *ini, struct vn_errors *e,
			const struct sim *s, const char *sec,
			struct sim_phase **out, int *nout)
{
	const char *v = vn_ini_get(ini, sec, "phases");
	char *copy, **items;
	struct sim_phase *ph;
	int n, ret = -1;

	if (!v)
		return 0;
	copy = xstrdup(v);
	items = xcalloc(strlen(v) / 2 + 2, sizeof(*items));
	n = split_list(copy, items, (int)(strlen(v) / 2 + 1));
	ph = xcalloc(n > 0 ? n : 1, sizeof(*ph));
	if (n <= 0) {
		vn_ini_error(ini, e, sec, "phases", "empty list");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char *colon = strchr(items[i], ':'), *name;
		const char *why;

		if (!colon) {
			vn_ini_error(ini, e, sec, "phases",
				     "'%s': expected TIME:WORKLOAD such as 2min:bandwidth",
				     items[i]);
			goto out;
		}
		*colon = '\0';
		name = colon + 1;
		while (isspace((unsigned char)*name))
			name++;
		if (parse_duration(items[i], &ph[i].at, &why) < 0) {
			vn_ini_error(ini, e, sec, "phases", "'%s': %s", items[i], why);
			goto out;
		}
		ph[i].workload = find_workload(s, name);
		if (ph[i].workload < 0) {
			vn_ini_error(ini, e, sec, "phases",
				     "'%s': no such workload (built-in: cpu, latency, bandwidth, mixed, idle; or a [workload.NAME])",
				     name);
			goto out;
		}
		if (i > 0 && ph[i].at <= ph[i - 1].at) {
			vn_ini_error(ini, e, sec, "phases",
				     "'%s': phase times must go up", items[i]);
			goto out;
		}
	}
	*out = ph;
	*nout = n;
	ph = NULL;
	ret = 1;
out:
	free(ph);
	free(items);
	free(copy);
	return ret;
}

/* mem_nodes: a node list ("0-1", spread evenly) or "0:75%, 1:25%". */
static int parse_mem_nodes(struct vn_ini *ini, struct vn_errors *e,
			   const struct sim *s, const char *sec, double *w)
{
	const char *v = vn_ini_get(ini, sec, "mem_nodes");
	char *copy, *items[VN_MAX_NODES + 1];
	const char *why;
	double sum = 0;
	uint64_t mask;
	int n, ret = -1;

	if (!v)
		return 0;
	if (!strchr(v, ':')) {
		if (parse_nodemask(v, &mask, &why) < 0) {
			vn_ini_error(ini, e, sec, "mem_nodes", "'%s': %s", v, why);
			return -1;
		}
		if (mask & ~s->online) {
			vn_ini_error(ini, e, sec, "mem_nodes",
				     "'%s': the host has nodes 0 to %d", v,
				     s->nr_nodes - 1);
			return -1;
		}
		for (int i = 0; i < s->nr_nodes; i++)
			w[i] = mask & (1ULL << i) ? 1.0 / __builtin_popcountll(mask) : 0;
		return 1;
	}
	copy = xstrdup(v);
	n = split_list(copy, items, VN_MAX_NODES);
	if (n <= 0) {
		vn_ini_error(ini, e, sec, "mem_nodes", "'%s': too many items", v);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char *colon = strchr(items[i], ':');
		double p;
		long node;

		if (!colon) {
			vn_ini_error(ini, e, sec, "mem_nodes",
				     "'%s': expected NODE:SHARE such as 0:75%%", items[i]);
			goto out;
		}
		*colon = '\0';
		if (parse_long(items[i], &node, &why) < 0 || node < 0 ||
		    node >= s->nr_nodes) {
			vn_ini_error(ini, e, sec, "mem_nodes",
				     "'%s': the host has nodes 0 to %d", items[i],
				     s->nr_nodes - 1);
			goto out;
		}
		if (parse_percent(colon + 1, &p, &why) < 0 || p < 0 || p > 1) {
			vn_ini_error(ini, e, sec, "mem_nodes",
				     "'%s': a share is 0%% to 100%%", colon + 1);
			goto out;
		}
		if (w[node] > 0) {
			vn_ini_error(ini, e, sec, "mem_nodes", "node %ld given twice", node);
			goto out;
		}
		w[node] = p;
		sum += p;
	}
	if (fabs(sum - 1) > 1e-6) {
		vn_ini_error(ini, e, sec, "mem_nodes",
			     "the shares add up to %g%%, not 100%%", sum * 100);
		goto out;
	}
	ret = 1;
out:
	free(copy);
	return ret;
}

/* vnode_nodes = 0, 1: the host node each guest NUMA node is bound to. */
static int parse_vnode_nodes(struct vn_ini *ini, struct vn_errors *e,
			     const struct sim *s, const char *sec, int nvn,
			     int *out)
{
	const char *v = vn_ini_get(ini, sec, "vnode_nodes");
	char *copy, **items;
	int n, ret = -1;

	if (!v)
		return 0;
	copy = xstrdup(v);
	items = xcalloc(strlen(v) + 2, sizeof(*items));
	n = split_list(copy, items, (int)strlen(v) + 1);
	if (n != nvn) {
		vn_ini_error(ini, e, sec, "vnode_nodes",
			     "'%s': expected one host node per vnode (%d)", v, nvn);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const char *why;
		long node;

		if (parse_long(items[i], &node, &why) < 0 || node < 0 ||
		    node >= s->nr_nodes) {
			vn_ini_error(ini, e, sec, "vnode_nodes",
				     "'%s': the host has nodes 0 to %d", items[i],
				     s->nr_nodes - 1);
			goto out;
		}
		if (!s->node[node].cpus) {
			vn_ini_error(ini, e, sec, "vnode_nodes",
				     "node %ld has no CPUs for the vnode's vCPUs", node);
			goto out;
		}
		out[i] = (int)node;
	}
	ret = 1;
out:
	free(items);
	free(copy);
	return ret;
}

/* Makes one running copy of a parsed guest template. */
static void add_guest(struct sim *s, const struct sim_guest *t,
		      const char *name, pid_t *next_pid)
{
	struct sim_guest *g = &s->guests[s->nr_guests];
	int nn = s->nr_nodes, nv = t->nr_vcpus;

	*g = *t;
	g->sim = s;
	g->index = s->nr_guests++;
	g->name = xstrdup(name);
	g->pid = (*next_pid)++;
	if (t->phases) {
		g->phases = xcalloc(t->nr_phases, sizeof(*g->phases));
		memcpy(g->phases, t->phases, t->nr_phases * sizeof(*g->phases));
	}
	if (t->mem_weight) {
		g->mem_weight = xcalloc(nn, sizeof(double));
		memcpy(g->mem_weight, t->mem_weight, nn * sizeof(double));
	}
	if (t->vnode_node) {
		g->vnode_node = xcalloc(t->nr_vnodes, sizeof(int));
		memcpy(g->vnode_node, t->vnode_node, t->nr_vnodes * sizeof(int));
	}
	g->vcpu = xcalloc(nv, sizeof(*g->vcpu));
	g->tids = xcalloc(nv, sizeof(*g->tids));
	g->allowed = xcalloc(nv, sizeof(*g->allowed));
	g->vnode = xcalloc(nv, sizeof(*g->vnode));
	for (int i = 0; i < nv; i++) {
		g->tids[i] = (*next_pid)++;
		/* vCPUs are split into vnodes in order, as QEMU's -numa does */
		g->vnode[i] = (int)((long)i * t->nr_vnodes / nv);
		g->vcpu[i].vnode = g->vnode[i];
		g->vcpu[i].node = -1;
	}
	g->mem = xcalloc((size_t)t->nr_vnodes * nn, sizeof(*g->mem));
	g->hot_bytes = xcalloc((size_t)t->nr_vnodes * nn, sizeof(*g->hot_bytes));
	g->dist = xcalloc((size_t)t->nr_vnodes * nn, sizeof(*g->dist));
	g->nz = xcalloc((size_t)t->nr_vnodes * nn, sizeof(*g->nz));
	g->nnz = xcalloc(t->nr_vnodes, sizeof(*g->nnz));
	g->gstamp = xcalloc((size_t)t->nr_vnodes * nn, sizeof(*g->gstamp));
	g->gidx = xcalloc((size_t)t->nr_vnodes * nn, sizeof(*g->gidx));
}

/* [guest.NAME]: parses a section into t; returns its count, 0 on error. */
static long parse_guest_section(struct vn_ini *ini, struct vn_errors *e,
				struct sim *s, const char *sec,
				struct sim_guest *t, char **name)
{
	uint64_t host_mem = 0, mask;
	int before = e->count;
	long vcpus = 0, vnodes = 1, count = 1;
	const char *wl, *pin;
	bool flag;

	memset(t, 0, sizeof(*t));
	t->stop = -1;
	t->hot = 1;
	t->vnode_locality = 0.9;
	t->noise = s->noise;
	t->workload = find_workload(s, "mixed");
	t->vcpu_nodes = s->cpu_nodes;
	t->phase = -1;
	*name = xstrdup(sec + 6);
	vn_ini_string(ini, e, sec, "name", name);
	if (!valid_name(*name)) {
		vn_ini_error(ini, e, sec, vn_ini_get(ini, sec, "name") ? "name" : NULL,
			     "'%s': a guest name is 1 to 64 of A-Z a-z 0-9 _ . + -",
			     *name);
	}
	if (vn_ini_long(ini, e, sec, "vcpus", &vcpus, 1, SIM_MAX_VCPUS) == 0)
		missing_key(ini, e, sec, "vcpus");
	for (int i = 0; i < s->nr_nodes; i++)
		host_mem += s->node[i].mem_total - MIN(s->node[i].reserved,
						       s->node[i].mem_total);
	switch (vn_ini_size(ini, e, sec, "memory", &t->memory, 1, UINT64_MAX)) {
	case 0:
		missing_key(ini, e, sec, "memory");
		break;
	case 1:
		if (t->memory > host_mem) {
			char a[32];

			vn_ini_error(ini, e, sec, "memory",
				     "more than the host has for guests (%s)",
				     fmt_size(a, sizeof(a), host_mem));
		}
		break;
	}
	vn_ini_long(ini, e, sec, "count", &count, 1, SIM_MAX_GUESTS);
	vn_ini_duration(ini, e, sec, "start", &t->start, 0, 1e9);
	if (vn_ini_duration(ini, e, sec, "stop", &t->stop, 0, 1e9) > 0 &&
	    t->stop <= t->start)
		vn_ini_error(ini, e, sec, "stop", "must come after start");
	/* a guest found running has a past (its process age, on a real host) */
	if (vn_ini_duration(ini, e, sec, "age", &t->age, 0, 1e8) > 0 && t->start > 0)
		vn_ini_error(ini, e, sec, "age", "is for a guest there from the start: "
			     "one that arrives at start = ... is new then");
	if ((wl = vn_ini_get(ini, sec, "workload")) != NULL) {
		t->workload = find_workload(s, wl);
		if (t->workload < 0)
			vn_ini_error(ini, e, sec, "workload", "'%s': %s", wl,
				     "no such workload (built-in: cpu, latency, bandwidth, mixed, idle; or a [workload.NAME])");
	}
	parse_phases(ini, e, s, sec, &t->phases, &t->nr_phases);
	t->ovr_mask = parse_wl_keys(ini, e, sec, &t->ovr);
	vn_ini_percent(ini, e, sec, "hot", &t->hot, 0.01, 1);
	vn_ini_percent(ini, e, sec, "noise", &t->noise, 0, 1);
	/* pinned = vcpus: the user pinned its vCPUs and left its memory free */
	if ((pin = vn_ini_get(ini, sec, "pinned")) != NULL && strcasecmp(pin, "vcpus") == 0)
		t->flags |= VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE;
	else if (vn_ini_bool(ini, e, sec, "pinned", &flag) > 0 && flag)
		t->flags |= VNUMAD_GUEST_PINNED;
	if (vn_ini_bool(ini, e, sec, "optout", &flag) > 0 && flag)
		t->flags |= VNUMAD_GUEST_OPTED_OUT;
	if (vn_ini_bool(ini, e, sec, "memmove", &flag) > 0 && !flag)
		t->flags |= VNUMAD_GUEST_NO_MEMMOVE;
	if (vn_ini_nodemask(ini, e, sec, "vcpu_nodes", &mask) > 0) {
		if (mask & ~s->online)
			vn_ini_error(ini, e, sec, "vcpu_nodes",
				     "the host has nodes 0 to %d", s->nr_nodes - 1);
		else if (mask & ~s->cpu_nodes)
			vn_ini_error(ini, e, sec, "vcpu_nodes",
				     "node %d has no CPUs", __builtin_ctzll(mask & ~s->cpu_nodes));
		else
			t->vcpu_nodes = mask;
	}
	t->mem_weight = xcalloc(s->nr_nodes, sizeof(double));
	if (parse_mem_nodes(ini, e, s, sec, t->mem_weight) <= 0) {
		free(t->mem_weight);
		t->mem_weight = NULL;
	}
	if (vn_ini_long(ini, e, sec, "vnodes", &vnodes, 1, VN_MAX_NODES) > 0 &&
	    vcpus > 0 && vnodes > vcpus)
		vn_ini_error(ini, e, sec, "vnodes", "more vnodes than vCPUs");
	vn_ini_percent(ini, e, sec, "vnode_locality", &t->vnode_locality, 0, 1);
	t->vnode_node = xcalloc(vnodes, sizeof(int));
	if (parse_vnode_nodes(ini, e, s, sec, (int)vnodes, t->vnode_node) > 0) {
		if (vn_ini_get(ini, sec, "vcpu_nodes") || t->mem_weight)
			vn_ini_error(ini, e, sec, "vnode_nodes",
				     "binds vCPUs and memory itself: drop vcpu_nodes and mem_nodes");
	} else {
		free(t->vnode_node);
		t->vnode_node = NULL;
	}
	t->nr_vcpus = (int)vcpus;
	t->nr_vnodes = (int)vnodes;
	t->memory = (t->memory + s->page - 1) / s->page * s->page;
	/* (a missing memory key is reported above) */
	if (t->memory && t->memory < (uint64_t)vnodes * s->page)
		vn_ini_error(ini, e, sec, "memory", "less than one page per vnode");
	return e->count > before ? 0 : count;
}

static void free_template(struct sim_guest *t)
{
	free(t->phases);
	free(t->mem_weight);
	free(t->vnode_node);
}

static int cmp_guest_name(const void *a, const void *b)
{
	const struct sim_guest *x = *(struct sim_guest *const *)a;
	const struct sim_guest *y = *(struct sim_guest *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Guest names must be unique: the daemon knows guests by name. */
static void check_names(struct vn_ini *ini, struct vn_errors *e, struct sim *s,
			char **secs)
{
	struct sim_guest **v = xcalloc(s->nr_guests, sizeof(*v));

	for (int i = 0; i < s->nr_guests; i++)
		v[i] = &s->guests[i];
	qsort(v, s->nr_guests, sizeof(*v), cmp_guest_name);
	for (int i = 1; i < s->nr_guests; i++) {
		if (strcmp(v[i]->name, v[i - 1]->name) != 0)
			continue;
		vn_ini_error(ini, e, secs[v[i]->index], NULL,
			     "guest name '%s' is also used by [%s]", v[i]->name,
			     secs[v[i - 1]->index]);
	}
	free(v);
}

/* Every time at which something happens: the steps end there. */
static void build_events(struct sim *s)
{
	int n = 0, cap = 0;

	for (int i = 0; i < s->nr_guests; i++)
		cap += 2 + s->guests[i].nr_phases;
	s->events = xcalloc(cap, sizeof(double));
	for (int i = 0; i < s->nr_guests; i++) {
		struct sim_guest *g = &s->guests[i];

		s->events[n++] = g->start;
		if (g->stop >= 0)
			s->events[n++] = g->stop;
		for (int p = 0; p < g->nr_phases; p++)
			s->events[n++] = g->phases[p].at;
	}
	qsort(s->events, n, sizeof(double), cmp_double);
	s->nr_events = 0;
	for (int i = 0; i < n; i++)
		if (!s->nr_events || s->events[i] > s->events[s->nr_events - 1])
			s->events[s->nr_events++] = s->events[i];
}

/* Reads every [guest.NAME], then makes `count` copies of each. */
static void parse_guests(struct vn_ini *ini, struct vn_errors *e, struct sim *s)
{
	int nsec = vn_ini_nsections(ini), nt = 0, before = e->count;
	struct sim_guest *tmpl = xcalloc(nsec + 1, sizeof(*tmpl));
	char **names = xcalloc(nsec + 1, sizeof(*names));
	long *counts = xcalloc(nsec + 1, sizeof(*counts));
	const char **tsec = xcalloc(nsec + 1, sizeof(*tsec));
	char **gsec;
	long total = 0, vcpus = 0, cells = 0;
	pid_t pid = SIM_FIRST_PID;

	for (int i = 0; i < nsec; i++) {
		const char *sec = vn_ini_section(ini, i);

		if (strncmp(sec, "guest.", 6) != 0)
			continue;
		if (!sec[6]) {
			vn_ini_claim(ini, sec);
			vn_ini_error(ini, e, sec, NULL, "a guest section is [guest.NAME]");
			continue;
		}
		tsec[nt] = sec;
		counts[nt] = parse_guest_section(ini, e, s, sec, &tmpl[nt], &names[nt]);
		total += counts[nt];
		vcpus += counts[nt] * tmpl[nt].nr_vcpus;
		cells += counts[nt] * tmpl[nt].nr_vnodes * s->nr_nodes;
		nt++;
	}
	if (nt == 0)
		errors_add(e, "%s: no [guest.NAME] section: a scenario needs guests",
			   vn_ini_path(ini));
	if (total > SIM_MAX_GUESTS)
		errors_add(e, "%s: %ld guests in all, at most %d", vn_ini_path(ini),
			   total, SIM_MAX_GUESTS);
	else if (vcpus > SIM_MAX_TOTAL_VCPUS)
		errors_add(e, "%s: %ld vCPUs in all (count times vcpus, over every guest "
			   "section), at most %d", vn_ini_path(ini), vcpus, SIM_MAX_TOTAL_VCPUS);
	else if (cells > SIM_MAX_TOTAL_CELLS)
		errors_add(e, "%s: %ld guests' vnodes times %d host nodes make %ld memory "
			   "cells in all, at most %d", vn_ini_path(ini), total, s->nr_nodes,
			   cells, SIM_MAX_TOTAL_CELLS);
	if (e->count == before) {
		char buf[96];

		s->guests = xcalloc(total, sizeof(*s->guests));
		gsec = xcalloc(total, sizeof(*gsec));
		for (int t = 0; t < nt; t++) {
			for (long c = 0; c < counts[t]; c++) {
				if (counts[t] > 1)
					snprintf(buf, sizeof(buf), "%s-%ld", names[t], c);
				else
					snprintf(buf, sizeof(buf), "%s", names[t]);
				gsec[s->nr_guests] = (char *)tsec[t];
				add_guest(s, &tmpl[t], buf, &pid);
			}
		}
		check_names(ini, e, s, gsec);
		free(gsec);
		build_events(s);
	}
	for (int t = 0; t < nt; t++) {
		free_template(&tmpl[t]);
		free(names[t]);
	}
	free(tmpl);
	free(names);
	free(counts);
	free(tsec);
}

/* Parses a loaded scenario; NULL after appending every error found to e. */
struct sim *sim_parse(struct vn_ini *ini, struct vn_errors *e)
{
	struct sim *s = xcalloc(1, sizeof(*s));
	int before = e->count, nsec;

	s->name = xstrdup(vn_ini_path(ini));
	s->nr_wl = (int)ARRAY_SIZE(builtin_wl);
	s->wl = xcalloc(s->nr_wl, sizeof(*s->wl));
	for (int i = 0; i < s->nr_wl; i++) {
		s->wl[i] = builtin_wl[i];
		s->wl[i].name = xstrdup(builtin_wl[i].name);
	}
	parse_sim(ini, e, s);
	if (parse_host(ini, e, s) < 0)
		goto fail;
	nsec = vn_ini_nsections(ini);
	for (int i = 0; i < nsec; i++) {
		const char *sec = vn_ini_section(ini, i);

		if (strncmp(sec, "node.", 5) == 0)
			parse_node_section(ini, e, s, sec);
		else if (strncmp(sec, "workload.", 9) == 0)
			parse_workload_section(ini, e, s, sec);
	}
	for (int i = 0; i < s->nr_nodes; i++)
		if (s->node[i].cpus)
			s->cpu_nodes |= 1ULL << i;
	if (!s->cpu_nodes)
		errors_add(e, "%s: no node has CPUs", vn_ini_path(ini));
	for (int i = 0; i < s->nr_nodes; i++) {
		struct sim_node *nd = &s->node[i];

		if (nd->reserved >= nd->mem_total ||
		    nd->mem_total - nd->reserved < s->page) {
			errors_add(e, "%s: node %d: memory less reserved is under one page",
				   vn_ini_path(ini), i);
		}
	}
	parse_guests(ini, e, s);
	vn_ini_check_unknown(ini, e);
	if (e->count > before)
		goto fail;
	sim_init_state(s);
	return s;
fail:
	sim_free(s);
	return NULL;
}

struct sim *sim_load(const char *path, struct vn_errors *e)
{
	struct vn_ini *ini = vn_ini_load(path, e);
	struct sim *s;

	if (!ini)
		return NULL;
	s = sim_parse(ini, e);
	vn_ini_free(ini);
	return s;
}

struct sim *sim_load_text(const char *name, const char *text,
			  struct vn_errors *e)
{
	struct vn_ini *ini = vn_ini_load_text(name, text, e);
	struct sim *s;

	if (!ini)
		return NULL;
	s = sim_parse(ini, e);
	vn_ini_free(ini);
	return s;
}
