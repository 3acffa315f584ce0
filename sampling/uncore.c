// SPDX-License-Identifier: MIT
/*
 * Node bandwidth from the memory controllers: the CAS commands the
 * controllers of a node issue, counted system-wide by their uncore PMUs.
 * Each CAS moves one 64-byte line.
 *
 *   Intel  uncore_imc_N: the kernel's own event aliases cas_count_read and
 *          cas_count_write (Granite Rapids: the _sch0 and _sch1 of its two
 *          schedulers) with their .scale and .unit (6.103515625e-5 MiB: 64
 *          bytes), one counter per socket (the CPUs of the PMU's cpumask)
 *   AMD    amd_umc_N (PerfMonV2, Zen 4 on): umc_cas_cmd.rd and .wr of the
 *          kernel's amdzen4 JSON, event 0x0a with rdwrmask 1 and 2; one PMU
 *          per controller and socket; 64 bytes per CAS (the JSON's
 *          umc_mem_read_bandwidth metric)
 *
 * Everything is read from sysfs (types, cpumasks, formats, aliases), under
 * the samplers' sysfs root, and encoded through the PMU's format files as
 * perf does. A socket's controllers are given to its node only when the
 * socket has exactly one node with CPUs: under Sub-NUMA Clustering (Intel)
 * or NPS2/NPS4 (AMD) the kernel does not say which controller serves which
 * cluster, and a memory-only node (CXL) has no such controller. Those nodes
 * keep the model's per-vCPU estimate. These are uncore events: KVM's
 * mediated vPMU does not forbid them.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sampling.h"
#include "sampling_impl.h"
#include "util.h"

#define UMC_CAS_EVENT	0x0a	/* umc_cas_cmd, amdzen4/memory-controller.json */
#define CAS_BYTES	64.0

struct mc_counter {
	struct mc_plan plan;
	int fd;
	uint64_t last;
};

struct mc_bw {
	struct mc_counter *c;
	int n;
	uint64_t nodes;		/* nodes all of whose counters opened */
	double at;		/* monotonic time of the previous read, 0 none */
	int refs;
};

static struct mc_bw *shared;

/* Reads a small sysfs file of a PMU into buf; its length or -errno. */
static ssize_t pmu_file(const char *pmu, const char *file, char *buf, size_t len)
{
	char rel[512];

	snprintf(rel, sizeof(rel), "/bus/event_source/devices/%s/%s", pmu, file);
	return sysfs_read(rel, buf, len);
}

/* Calls fn for every CPU of a list such as "0-3,8,10-11"; how many. */
static int cpu_list(const char *s, void (*fn)(int cpu, void *arg), void *arg)
{
	int n = 0;

	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;

		if (end == s)
			break;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s)
				break;
		}
		for (long c = a; c <= b && c < 65536; c++, n++)
			fn((int)c, arg);
		s = *end == ',' ? end + 1 : end;
		if (*end != ',')
			break;
	}
	return n;
}

static void match_cpu(int cpu, void *arg)
{
	int *want = arg;

	if (cpu == want[0])
		want[1] = 1;
}

/* The node of a CPU, from the nodes' cpulists under the sysfs root; -1. */
static int node_of_cpu(int cpu)
{
	for (int n = 0; n < VN_MAX_NODES; n++) {
		char rel[96], buf[4096];
		int want[2] = { cpu, 0 };

		snprintf(rel, sizeof(rel), "/devices/system/node/node%d/cpulist", n);
		if (sysfs_read(rel, buf, sizeof(buf)) < 0)
			continue;
		cpu_list(buf, match_cpu, want);
		if (want[1])
			return n;
	}
	return -1;
}

/* The socket of a CPU; -1 when sysfs does not say. */
static int package_of_cpu(int cpu)
{
	char rel[96], buf[32];

	snprintf(rel, sizeof(rel), "/devices/system/cpu/cpu%d/topology/"
		 "physical_package_id", cpu);
	if (sysfs_read(rel, buf, sizeof(buf)) <= 0)
		return -1;
	return atoi(buf);
}

struct socket_nodes {
	int package;
	uint64_t nodes;
};

static void add_node_of(int cpu, void *arg)
{
	struct socket_nodes *sn = arg;
	int node = node_of_cpu(cpu);

	if (node >= 0 && package_of_cpu(cpu) == sn->package)
		sn->nodes |= 1ULL << node;
}

/* The nodes with CPUs on the same socket as cpu. */
static uint64_t socket_nodes(int cpu)
{
	struct socket_nodes sn = { package_of_cpu(cpu), 0 };

	if (sn.package < 0)
		return 0;
	for (int n = 0; n < VN_MAX_NODES; n++) {
		char rel[96], buf[4096];

		snprintf(rel, sizeof(rel), "/devices/system/node/node%d/cpulist", n);
		if (sysfs_read(rel, buf, sizeof(buf)) > 0)
			cpu_list(buf, add_node_of, &sn);
	}
	return sn.nodes;
}

/*
 * Puts value into config the way the PMU's format file for term says
 * ("config:0-7,32-35": the low bits first). -1 when the term is unknown or
 * its field is not config.
 */
static int put_term(const char *pmu, const char *term, uint64_t value,
		    uint64_t *config)
{
	char file[96], fmt[128], *p;

	snprintf(file, sizeof(file), "format/%s", term);
	if (pmu_file(pmu, file, fmt, sizeof(fmt)) <= 0 ||
	    strncmp(fmt, "config:", 7) != 0)
		return -1;
	p = fmt + 7;
	while (*p) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;

		if (end == p || lo < 0 || lo > 63)
			return -1;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		if (hi < lo || hi > 63)
			return -1;
		for (long b = lo; b <= hi; b++) {
			if (value & 1)
				*config |= 1ULL << b;
			value >>= 1;
		}
		if (*end != ',')
			break;
		p = end + 1;
	}
	return value ? -1 : 0;	/* bits left over: the value does not fit */
}

/* Encodes "event=0x04,umask=0x03" through the PMU's formats; 0 or -1. */
static int encode_terms(const char *pmu, const char *terms, uint64_t *config)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", terms);
	*config = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		uint64_t v = 1;

		if (eq) {
			*eq = '\0';
			v = strtoull(eq + 1, NULL, 0);
		}
		if (put_term(pmu, t, v, config) < 0)
			return -1;
	}
	return 0;
}

/* Bytes per count of an Intel alias: its .scale times its .unit. */
static double alias_bytes(const char *pmu, const char *alias)
{
	char file[96], buf[64];
	double scale = 1, unit = 1;

	snprintf(file, sizeof(file), "events/%s.scale", alias);
	if (pmu_file(pmu, file, buf, sizeof(buf)) > 0)
		scale = strtod(buf, NULL);
	snprintf(file, sizeof(file), "events/%s.unit", alias);
	if (pmu_file(pmu, file, buf, sizeof(buf)) > 0) {
		if (strcmp(buf, "MiB") == 0)
			unit = MiB;
		else if (strcmp(buf, "KiB") == 0)
			unit = KiB;
		else if (strcmp(buf, "GiB") == 0)
			unit = GiB;
		else if (strcmp(buf, "MB") == 0)
			unit = 1e6;
		else if (strcmp(buf, "B") != 0 && buf[0])
			return 0;	/* a unit that is not a size */
	}
	return scale > 0 ? scale * unit : 0;
}

struct plan_ctx {
	struct mc_plan *out;
	int max, n;
	const char *pmu;
	int type;
	uint64_t config;
	double bytes;
	uint64_t *split;	/* nodes whose socket has several */
};

static void plan_cpu(int cpu, void *arg)
{
	struct plan_ctx *pc = arg;
	uint64_t nodes = socket_nodes(cpu);
	struct mc_plan *p;

	if (__builtin_popcountll(nodes) != 1) {
		*pc->split |= nodes;
		return;
	}
	if (pc->n >= pc->max)
		return;
	p = &pc->out[pc->n++];
	snprintf(p->pmu, sizeof(p->pmu), "%s", pc->pmu);
	p->type = pc->type;
	p->config = pc->config;
	p->cpu = cpu;
	p->node = __builtin_ctzll(nodes);
	p->bytes = pc->bytes;
}

/* Whether name is PREFIX followed by digits only. */
static bool numbered(const char *name, const char *prefix)
{
	size_t l = strlen(prefix);

	if (strncmp(name, prefix, l) != 0 || !name[l])
		return false;
	for (const char *p = name + l; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

int mc_bw_plan(struct mc_plan *out, int max, char *why, size_t len)
{
	char rel[64], buf[256], mask[4096];
	uint64_t split = 0;
	int pmus = 0, n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(rel, sizeof(rel), "%s/bus/event_source/devices", sampling_sysfs_root());
	d = opendir(rel);
	if (!d) {
		snprintf(why, len, "no %s", rel);
		return 0;
	}
	while ((de = readdir(d))) {
		/* Intel: the kernel's aliases; AMD: the JSON's event */
		static const char *const intel[] = {
			"cas_count_read", "cas_count_write",
			/* GNR: two schedulers per controller */
			"cas_count_read_sch0", "cas_count_read_sch1",
			"cas_count_write_sch0", "cas_count_write_sch1",
		};
		bool amd = numbered(de->d_name, "amd_umc_");
		struct plan_ctx pc = { out, max, n, de->d_name, 0, 0, 0, &split };

		if (!amd && !numbered(de->d_name, "uncore_imc_"))
			continue;
		if (pmu_file(de->d_name, "type", buf, sizeof(buf)) <= 0 ||
		    pmu_file(de->d_name, "cpumask", mask, sizeof(mask)) <= 0)
			continue;
		pc.type = atoi(buf);
		pmus++;
		for (int k = 0; k < (amd ? 2 : (int)ARRAY_SIZE(intel)); k++) {
			if (amd) {
				snprintf(buf, sizeof(buf), "event=%#x,rdwrmask=%d",
					 UMC_CAS_EVENT, k + 1);
				pc.bytes = CAS_BYTES;
			} else {
				char file[64];

				snprintf(file, sizeof(file), "events/%s", intel[k]);
				if (pmu_file(de->d_name, file, buf, sizeof(buf)) <= 0)
					continue;
				pc.bytes = alias_bytes(de->d_name, intel[k]);
			}
			if (pc.bytes <= 0 || encode_terms(de->d_name, buf, &pc.config) < 0)
				continue;
			cpu_list(mask, plan_cpu, &pc);
		}
		n = pc.n;
	}
	closedir(d);
	if (!pmus)
		snprintf(why, len, "no memory-controller PMU (uncore_imc_*, amd_umc_*)");
	else if (!n && split)
		snprintf(why, len, "every socket holds several NUMA nodes (Sub-NUMA "
			 "Clustering or NPS): the kernel does not say which memory "
			 "controller serves which");
	else if (!n)
		snprintf(why, len, "the memory-controller PMUs name no CAS event");
	else if (split)
		snprintf(why, len, "nodes %#llx share a socket with other nodes: "
			 "estimated", (unsigned long long)split);
	else
		why[0] = '\0';
	return n;
}

static void mc_free(struct mc_bw *m)
{
	for (int i = 0; i < m->n; i++)
		if (m->c[i].fd >= 0)
			close(m->c[i].fd);
	free(m->c);
	free(m);
}

struct mc_bw *mc_bw_get(void)
{
	struct mc_plan plan[512];
	char why[256], e[400];
	uint64_t failed = 0;
	struct mc_bw *m;
	int n;

	if (shared) {
		shared->refs++;
		return shared;
	}
	n = mc_bw_plan(plan, (int)ARRAY_SIZE(plan), why, sizeof(why));
	if (!n) {
		log_info("sampling: node bandwidth: the per-vCPU estimate (%s)", why);
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->c = xcalloc((size_t)n, sizeof(*m->c));
	m->n = n;
	for (int i = 0; i < n; i++) {
		struct perf_event_attr a;
		long fd;

		m->c[i].plan = plan[i];
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.type = (uint32_t)plan[i].type;
		a.config = plan[i].config;
		fd = syscall(__NR_perf_event_open, &a, -1, plan[i].cpu, -1,
			     PERF_FLAG_FD_CLOEXEC);
		m->c[i].fd = fd < 0 ? -1 : (int)fd;
		if (fd < 0) {
			if (!failed)
				log_warning("sampling: node bandwidth: cannot count %s "
					    "config %#llx on CPU %d: %s", plan[i].pmu,
					    (unsigned long long)plan[i].config, plan[i].cpu,
					    perf_errstr(errno, e, sizeof(e)));
			failed |= 1ULL << plan[i].node;
		} else {
			m->nodes |= 1ULL << plan[i].node;
		}
	}
	m->nodes &= ~failed;	/* a node counts only whole */
	if (!m->nodes) {
		mc_free(m);
		log_info("sampling: node bandwidth: the per-vCPU estimate (the "
			 "memory controllers cannot be counted)");
		return NULL;
	}
	log_info("sampling: node bandwidth of nodes %#llx from %d memory-controller "
		 "counters (%s)%s%s", (unsigned long long)m->nodes, n, plan[0].pmu,
		 why[0] ? "; " : "", why);
	m->refs = 1;
	shared = m;
	return m;
}

void mc_bw_put(struct mc_bw *m)
{
	if (!m || --m->refs > 0)
		return;
	if (m == shared)
		shared = NULL;
	mc_free(m);
}

uint64_t mc_bw_read(struct mc_bw *m, double bw[VN_MAX_NODES])
{
	double now = now_monotonic(), bytes[VN_MAX_NODES] = { 0 }, dt;
	bool primed = m->at > 0;

	for (int i = 0; i < m->n; i++) {
		struct mc_counter *c = &m->c[i];
		uint64_t v;

		if (c->fd < 0 || read(c->fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
			continue;
		if (primed && v >= c->last)
			bytes[c->plan.node] += (double)(v - c->last) * c->plan.bytes;
		c->last = v;
	}
	dt = now - m->at;
	m->at = now;
	if (!primed || dt <= 0)
		return 0;
	for (int n = 0; n < VN_MAX_NODES; n++)
		bw[n] = (m->nodes >> n & 1) ? bytes[n] / dt : 0;
	return m->nodes;
}

void mc_bw_fill(struct mc_bw *m, struct vn_host *h)
{
	double bw[VN_MAX_NODES];
	uint64_t got;

	if (!m)
		return;
	got = mc_bw_read(m, bw);
	for (int n = 0; n < h->nr_nodes; n++)
		if (got >> n & 1) {
			h->node[n].bw_used = bw[n];
			h->node_info[n].bw_used_source = VNUMAD_SRC_UNCORE;
		}
}
