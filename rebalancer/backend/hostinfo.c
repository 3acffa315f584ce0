// SPDX-License-Identifier: MIT
/*
 * The host as the kernel sees it, for the libvirt and proc backends: NUMA
 * topology from libnuma, node masks <-> CPU sets, process identity and
 * thread affinity. The VMMs and their vCPU threads are vmm.c's.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include <numa.h>

#include "hostinfo.h"
#include "log.h"
#include "util.h"

static struct {
	bool numa;		/* the kernel has NUMA support */
	int nr_cpus;		/* highest possible CPU + 1 */
	int *cpu_node;		/* [nr_cpus], -1 offline or unknown */
	int nr_nodes;
	uint64_t online;
} hi;

static pthread_once_t hi_once = PTHREAD_ONCE_INIT;

#define PF_EXITING	0x00000004	/* task flag in /proc/PID/stat: in do_exit */

/* Reads a small file into buf, NUL-terminated; returns its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	ssize_t n, off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)off < len - 1) {
		n = read(fd, buf + off, len - 1 - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		off += n;
		/* a short read of a /proc or /sys file is all of it: no
		 * second read() to see the end */
		if ((size_t)off < len - 1)
			break;
	}
	close(fd);
	buf[off] = '\0';
	return off;
}

/* Highest possible CPU + 1, from sysfs ("0-3" or "0-1,4-5"). */
static int possible_cpus(void)
{
	char buf[256], *p;
	long last = -1;

	if (read_small("/sys/devices/system/cpu/possible", buf, sizeof(buf)) > 0) {
		for (p = buf; *p; ) {
			if (isdigit((unsigned char)*p)) {
				long v = strtol(p, &p, 10);

				if (v > last)
					last = v;
			} else {
				p++;
			}
		}
	}
	if (last < 0)
		last = sysconf(_SC_NPROCESSORS_CONF) - 1;
	return last < 0 ? 1 : (int)last + 1;
}

static void init_once(void)
{
	hi.nr_cpus = possible_cpus();
	hi.cpu_node = xcalloc(hi.nr_cpus, sizeof(*hi.cpu_node));
	hi.numa = numa_available() >= 0;
	if (!hi.numa) {
		/* no NUMA in the kernel: one node with every CPU */
		hi.nr_nodes = 1;
		hi.online = 1;
		return;
	}
	hi.nr_nodes = numa_max_node() + 1;
	if (hi.nr_nodes > VN_MAX_NODES) {
		log_warning("host has %d NUMA nodes; vnumad handles nodes 0 to %d only",
			    hi.nr_nodes, VN_MAX_NODES - 1);
		hi.nr_nodes = VN_MAX_NODES;
	}
	for (int n = 0; n < hi.nr_nodes; n++)
		if (numa_bitmask_isbitset(numa_nodes_ptr, n))
			hi.online |= 1ULL << n;
	for (int c = 0; c < hi.nr_cpus; c++) {
		int n = numa_node_of_cpu(c);

		hi.cpu_node[c] = n >= 0 && n < hi.nr_nodes ? n : -1;
	}
}

int hostinfo_init(void)
{
	pthread_once(&hi_once, init_once);
	return 0;
}

int hostinfo_nr_cpus(void)
{
	hostinfo_init();
	return hi.nr_cpus;
}

int hostinfo_cpu_node(int cpu)
{
	hostinfo_init();
	if (cpu < 0 || cpu >= hi.nr_cpus)
		return -1;
	return hi.numa ? hi.cpu_node[cpu] : 0;
}

/* The sysfs tree the topology reads HMAT from (the tests give a fake one). */
static char sysfs_root[512] = "/sys";

/*
 * What ACPI HMAT says of each node, through sysfs: read once, the firmware's
 * figures do not change while the host runs.
 */
static struct {
	bool loaded;
	struct vnumad_node_info info[VN_MAX_NODES];
} hmat;

void hostinfo_set_sysfs_root(const char *root)
{
	snprintf(sysfs_root, sizeof(sysfs_root), "%s", root ? root : "/sys");
	hmat.loaded = false;
}

/* A number in a node's access0/initiators/ file, or 0 when there is none. */
static double hmat_value(int node, const char *file)
{
	char path[640], buf[64], *end;
	double v;

	snprintf(path, sizeof(path), "%s/devices/system/node/node%d/access0/"
		 "initiators/%s", sysfs_root, node, file);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	v = strtod(buf, &end);
	return end != buf && v > 0 && v < 1e12 ? v : 0;
}

/*
 * Reads the performance of each node as seen from its nearest initiators
 * (access class 0, Documentation/admin-guide/mm/numaperf.rst): bandwidth in
 * MiB/s, latency in ns, where firmware published an HMAT.
 */
static void hmat_load(void)
{
	int found = 0;

	memset(&hmat, 0, sizeof(hmat));
	for (int n = 0; n < VN_MAX_NODES; n++) {
		struct vnumad_node_info *in = &hmat.info[n];

		in->read_bandwidth = hmat_value(n, "read_bandwidth") * MiB;
		in->write_bandwidth = hmat_value(n, "write_bandwidth") * MiB;
		in->read_latency = hmat_value(n, "read_latency");
		in->write_latency = hmat_value(n, "write_latency");
		if (in->read_bandwidth > 0) {
			in->bw_max_source = VNUMAD_SRC_HMAT;
			found++;
		}
	}
	hmat.loaded = true;
	if (found)
		log_info("topology: memory bandwidth and latency of %d node%s from "
			 "ACPI HMAT", found, found > 1 ? "s" : "");
}

int hostinfo_topology(struct vn_host *h)
{
	struct sysinfo si;

	hostinfo_init();
	if (!hmat.loaded)
		hmat_load();
	h->nr_nodes = hi.nr_nodes;
	h->online = hi.online;
	memset(h->node, 0, sizeof(h->node));
	memset(h->node_info, 0, sizeof(h->node_info));
	for (int c = 0; c < hi.nr_cpus; c++) {
		int n = hostinfo_cpu_node(c);

		if (n >= 0)
			h->node[n].nr_cpus++;
	}
	for (int n = 0; n < h->nr_nodes; n++) {
		struct vnumad_node *nd = &h->node[n];
		long long free_bytes = 0, total;

		nd->id = n;
		if (!(h->online >> n & 1))
			continue;
		/* a memory-only node exists (online) with no CPUs */
		h->node_info[n] = hmat.info[n];
		nd->bw_max = hmat.info[n].read_bandwidth;
		if (hi.numa) {
			total = numa_node_size64(n, &free_bytes);
			nd->mem_total = total > 0 ? (uint64_t)total : 0;
			nd->mem_free = total > 0 && free_bytes > 0 ? (uint64_t)free_bytes : 0;
		} else if (sysinfo(&si) == 0) {
			nd->mem_total = (uint64_t)si.totalram * si.mem_unit;
			nd->mem_free = (uint64_t)si.freeram * si.mem_unit;
		}
	}
	for (int a = 0; a < h->nr_nodes; a++)
		for (int b = 0; b < h->nr_nodes; b++) {
			int d = hi.numa ? numa_distance(a, b) : 0;

			/* no SLIT: the conventional 10 local, 20 remote */
			if (d <= 0 || d > 255)
				d = a == b ? 10 : 20;
			h->distance[a * h->nr_nodes + b] = (uint8_t)d;
		}
	return 0;
}

size_t hostinfo_cpuset_size(void)
{
	return CPU_ALLOC_SIZE(hostinfo_nr_cpus());
}

cpu_set_t *hostinfo_cpuset_alloc(void)
{
	cpu_set_t *s = CPU_ALLOC(hostinfo_nr_cpus());

	if (!s)
		fatal("CPU_ALLOC");
	CPU_ZERO_S(hostinfo_cpuset_size(), s);
	return s;
}

void hostinfo_nodes_cpus(uint64_t nodes, cpu_set_t *set)
{
	size_t sz = hostinfo_cpuset_size();

	CPU_ZERO_S(sz, set);
	for (int c = 0; c < hi.nr_cpus; c++) {
		int n = hostinfo_cpu_node(c);

		if (n >= 0 && (nodes >> n & 1))
			CPU_SET_S(c, sz, set);
	}
}

uint64_t hostinfo_cpus_nodes(const cpu_set_t *set)
{
	size_t sz = hostinfo_cpuset_size();
	uint64_t nodes = 0;

	for (int c = 0; c < hi.nr_cpus; c++) {
		int n = hostinfo_cpu_node(c);

		if (n >= 0 && CPU_ISSET_S(c, sz, set))
			nodes |= 1ULL << n;
	}
	return nodes;
}

uint64_t hostinfo_starttime_threads(pid_t pid, int *threads)
{
	char path[64], buf[1024], *p, state;
	unsigned long long st = 0;
	unsigned flags;
	int nt = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (pid <= 0 || read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	/* the command name may hold spaces and parentheses: skip past the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* after ") ": state is field 3, num_threads 20, starttime 22 */
	if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %u %*u %*u %*u %*u %*u %*u "
		   "%*d %*d %*d %*d %d %*d %llu", &state, &flags, &nt, &st) != 4)
		return 0;
	/* exiting or a zombie: no memory or threads left to act on, gone */
	if (state == 'Z' || state == 'X' || state == 'x' || (flags & PF_EXITING))
		return 0;
	if (threads)
		*threads = nt;
	/* a process that started in the boot's first tick still has a time */
	return (uint64_t)st + 1;
}

uint64_t hostinfo_starttime(pid_t pid)
{
	return hostinfo_starttime_threads(pid, NULL);
}

double hostinfo_process_age(uint64_t starttime)
{
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);
	double age;

	if (!starttime || hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return 0;
	/* starttime is hostinfo_starttime's: the kernel's ticks since boot, + 1 */
	age = (double)ts.tv_sec + ts.tv_nsec * 1e-9 - (double)(starttime - 1) / (double)hz;
	return age > 0 ? age : 0;
}

bool hostinfo_same_process(pid_t pid, uint64_t starttime)
{
	return starttime && hostinfo_starttime(pid) == starttime;
}

int hostinfo_thread_nodes(pid_t tid, uint64_t *nodes)
{
	cpu_set_t *set = hostinfo_cpuset_alloc();
	int r = 0;

	if (sched_getaffinity(tid, hostinfo_cpuset_size(), set) < 0)
		r = -errno;
	else
		*nodes = hostinfo_cpus_nodes(set);
	CPU_FREE(set);
	return r;
}

int hostinfo_set_thread_nodes(pid_t tid, uint64_t nodes)
{
	cpu_set_t *set = hostinfo_cpuset_alloc();
	int r = 0;

	hostinfo_nodes_cpus(nodes, set);
	if (CPU_COUNT_S(hostinfo_cpuset_size(), set) == 0)
		r = -EINVAL;	/* nodes without CPUs */
	else if (sched_setaffinity(tid, hostinfo_cpuset_size(), set) < 0)
		r = -errno;
	CPU_FREE(set);
	return r;
}

ssize_t hostinfo_cmdline(pid_t pid, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	return read_small(path, buf, len);
}

ssize_t hostinfo_read(const char *path, char *buf, size_t len)
{
	return read_small(path, buf, len);
}

uint64_t hostinfo_online_nodes(void)
{
	hostinfo_init();
	return hi.online;
}
