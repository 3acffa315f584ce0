// SPDX-License-Identifier: MIT
/*
 * Helpers both samplers use: /proc parsers, the CPU-to-node map, descriptor
 * limits, and messages that say what to change when perf events fail.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sampling_impl.h"
#include "util.h"

#define CAP_SYS_PTRACE_NR	19
#define CAP_SYS_ADMIN_NR	21
#define CAP_SYS_RESOURCE_NR	24
#define CAP_PERFMON_NR		38

/*
 * Descriptors the rest of the daemon may open besides the samplers' own
 * (control clients, the libvirt connection, the journal, metrics): FD_SLACK,
 * or an eighth of a hard limit that cannot be raised, when that is less, but
 * never under FD_SLACK_MIN. A fixed 256 left nothing to sample under a hard
 * limit of a few hundred.
 */
#define FD_SLACK	256
#define FD_SLACK_MIN	32

/* Reads an unsigned decimal at *p, advancing it; false when there is none. */
static bool get_u64(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || !isdigit((unsigned char)*s))
		return false;
	for (; s < end && isdigit((unsigned char)*s); s++)
		v = v * 10 + (uint64_t)(*s - '0');
	*p = s;
	*out = v;
	return true;
}

/* The same for a signed decimal. */
static bool get_i64(const char **p, const char *end, int64_t *out)
{
	bool neg = false;
	uint64_t v;

	if (*p < end && **p == '-') {
		neg = true;
		(*p)++;
	}
	if (!get_u64(p, end, &v))
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

int proc_stat_parse(const char *buf, size_t len, int *cpu, uint64_t *ticks)
{
	/* comm (field 2) may hold spaces and parentheses: start after the last ')' */
	const char *end = buf + len, *p = memrchr(buf, ')', len);
	uint64_t utime = 0, stime = 0, v;
	int field = 2;

	if (!p)
		return -EINVAL;
	for (p++; p < end && field < 39;) {
		while (p < end && *p == ' ')
			p++;
		if (p >= end || *p == '\n')
			break;
		field++;
		if (field == 14 || field == 15 || field == 39) {
			if (!get_u64(&p, end, &v))
				return -EINVAL;
			if (field == 14)
				utime = v;
			else if (field == 15)
				stime = v;
			else {
				*cpu = v > INT_MAX ? -1 : (int)v;
				*ticks = utime + stime;
				return 0;
			}
		}
		while (p < end && *p != ' ' && *p != '\n')
			p++;
	}
	return -EINVAL;
}

int proc_stat_start(const char *buf, size_t len, uint64_t *start)
{
	const char *end = buf + len, *p = memrchr(buf, ')', len);
	int field = 2;

	if (!p)
		return -EINVAL;
	for (p++; p < end;) {
		while (p < end && *p == ' ')
			p++;
		if (p >= end || *p == '\n')
			break;
		if (++field == 22)
			return get_u64(&p, end, start) ? 0 : -EINVAL;
		while (p < end && *p != ' ' && *p != '\n')
			p++;
	}
	return -EINVAL;
}

/* After `key` at *p, the value of "key=<n>", skipping to it. */
static bool get_keyed(const char **p, const char *end, const char *key,
		      uint64_t *out)
{
	size_t kl = strlen(key);

	while (*p < end && **p == ' ')
		(*p)++;
	if ((size_t)(end - *p) < kl + 1 || memcmp(*p, key, kl) != 0 ||
	    (*p)[kl] != '=')
		return false;
	*p += kl + 1;
	return get_u64(p, end, out);
}

int sched_faults_parse(const char *buf, size_t len,
		       uint64_t faults[VN_MAX_NODES])
{
	const char *p = buf, *end = buf + len;
	int lines = 0;

	memset(faults, 0, VN_MAX_NODES * sizeof(*faults));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *q = p;

		if (!eol)
			eol = end;
		if ((size_t)(eol - q) > 12 && memcmp(q, "numa_faults ", 12) == 0) {
			uint64_t node, priv, shared;

			q += 12;
			if (get_keyed(&q, eol, "node", &node) &&
			    get_keyed(&q, eol, "task_private", &priv) &&
			    get_keyed(&q, eol, "task_shared", &shared)) {
				lines++;
				if (node < VN_MAX_NODES)
					faults[node] += priv + shared;
			}
		} else if ((size_t)(eol - q) > 19 &&
			   memcmp(q, "numa_faults_memory,", 19) == 0) {
			/* numa_faults_memory, private?, node, on_node?, home?, faults */
			int64_t f[5];
			int k;

			q += 19;
			for (k = 0; k < 5; k++) {
				while (q < eol && (*q == ' ' || *q == ','))
					q++;
				if (!get_i64(&q, eol, &f[k]))
					break;
			}
			if (k == 5) {
				lines++;
				if (f[1] >= 0 && f[1] < VN_MAX_NODES && f[4] > 0)
					faults[f[1]] += (uint64_t)f[4];
			}
		}
		p = eol + 1;
	}
	return lines;
}

static int *node_of;		/* [nr_cpus_known], filled once */
static int nr_cpus_known = -1;

/* Builds the CPU-to-node table once: the topology does not change under us. */
static void cpu_map_init(void)
{
	int n = numa_num_configured_cpus();
	bool numa = numa_available() >= 0;

	if (n <= 0)
		n = (int)sysconf(_SC_NPROCESSORS_CONF);
	if (n <= 0)
		n = 1;
	node_of = xcalloc((size_t)n, sizeof(*node_of));
	for (int c = 0; c < n; c++) {
		int node = numa ? numa_node_of_cpu(c) : 0;

		node_of[c] = node < 0 || node >= VN_MAX_NODES ? -1 : node;
	}
	nr_cpus_known = n;
}

int cpu_to_node(int cpu)
{
	if (nr_cpus_known < 0)
		cpu_map_init();
	if (cpu < 0 || cpu >= nr_cpus_known)
		return -1;
	return node_of[cpu];
}

bool have_cap(int cap)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	bool yes = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "CapEff:", 7) == 0) {
			unsigned long long eff = strtoull(line + 7, NULL, 16);

			yes = cap < 64 && (eff >> cap & 1);
			break;
		}
	}
	fclose(f);
	return yes;
}

int perf_paranoid(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
	int v;

	if (!f)
		return INT_MIN;
	if (fscanf(f, "%d", &v) != 1)
		v = INT_MIN;
	fclose(f);
	return v;
}

/* Descriptors open in this process when first asked, counted once. */
static int fd_baseline(void)
{
	static int baseline = -1;
	DIR *d;

	if (baseline >= 0)
		return baseline;
	baseline = 64;
	d = opendir("/proc/self/fd");
	if (d) {
		int n = 0;

		while (readdir(d))
			n++;
		closedir(d);
		baseline = n;
	}
	return baseline;
}

/* The kernel's ceiling for a hard RLIMIT_NOFILE. */
static rlim_t nr_open(void)
{
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	unsigned long long v = 1024 * 1024;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 1024 * 1024;
		fclose(f);
	}
	return (rlim_t)v;
}

/* Sets the soft limit to want, raising the hard one too when we may. */
static int raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= want)
		return 0;
	if (want > rl.rlim_max && rl.rlim_max != RLIM_INFINITY &&
	    have_cap(CAP_SYS_RESOURCE_NR)) {
		struct rlimit hard = rl;
		rlim_t top = nr_open();

		hard.rlim_max = want < top ? want : top;
		hard.rlim_cur = hard.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &hard) == 0)
			rl = hard;
	}
	if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	return rl.rlim_cur >= want ? 0 : -EMFILE;
}

static rlim_t fd_slack(const struct rlimit *rl)
{
	if (rl->rlim_max == RLIM_INFINITY || rl->rlim_max / 8 >= FD_SLACK ||
	    have_cap(CAP_SYS_RESOURCE_NR))
		return FD_SLACK;
	return rl->rlim_max / 8 > FD_SLACK_MIN ? rl->rlim_max / 8 : FD_SLACK_MIN;
}

int fd_reserve(int held, int more)
{
	struct rlimit rl;
	rlim_t need;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	need = (rlim_t)fd_baseline() + (rlim_t)held + (rlim_t)more + fd_slack(&rl);
	if (rl.rlim_cur >= need)
		return 0;
	/* a quarter more than needed, so that every new guest does not call us */
	if (raise_nofile(need + need / 4) == 0)
		return 0;
	return raise_nofile(need);
}

int fd_raise_after_emfile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur == RLIM_INFINITY)
		return -EMFILE;
	return raise_nofile(rl.rlim_cur * 2 > rl.rlim_cur + 64 ?
			    rl.rlim_cur * 2 : rl.rlim_cur + 64);
}

int open_retry(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0 && errno == EMFILE) {
		if (fd_raise_after_emfile() < 0)
			return -EMFILE;
		fd = open(path, flags | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

ssize_t pread_all(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n < len) {
		ssize_t r = pread(fd, buf + n, len - n, (off_t)n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		/* a short read of a /proc or cgroup file is all of it (the
		 * kernel fills the buffer to the end of the text): no second
		 * call to see the end, which would double the cost per thread */
		if (n < len)
			break;
	}
	return (ssize_t)n;
}

char *perf_errstr(int err, char *buf, size_t len)
{
	int paranoid = perf_paranoid();
	struct rlimit rl = { 0, 0 };
	char mod[32];

	switch (err) {
	case EACCES:
	case EPERM:
		/*
		 * perf_event_open on another task checks perfmon_capable() ||
		 * ptrace_may_access(): CAP_PERFMON alone is enough, whoever
		 * owns the thread and whatever perf_event_paranoid says.
		 */
		if (paranoid == INT_MIN) {
			snprintf(buf, len, "%s: this kernel has no perf events "
				 "(/proc/sys/kernel/perf_event_paranoid is missing)",
				 strerror(err));
		} else if (!have_cap(CAP_PERFMON_NR) && !have_cap(CAP_SYS_ADMIN_NR) &&
			   paranoid > 1) {
			snprintf(buf, len, "%s: kernel.perf_event_paranoid is %d and "
				 "vnumad has neither CAP_PERFMON nor CAP_SYS_ADMIN; run "
				 "it as root or grant CAP_PERFMON (AmbientCapabilities= "
				 "in vnumad.service; CAP_SYS_ADMIN before Linux 5.8): it "
				 "alone lets vnumad count any thread; or set `sysctl "
				 "kernel.perf_event_paranoid=1`", strerror(err), paranoid);
		} else if (!have_cap(CAP_PERFMON_NR) && !have_cap(CAP_SYS_ADMIN_NR)) {
			snprintf(buf, len, "%s: counting a thread of another user "
				 "(QEMU runs as its own user) needs CAP_PERFMON "
				 "(CAP_SYS_ADMIN before Linux 5.8) or ptrace access to "
				 "it; grant CAP_PERFMON", strerror(err));
		} else {
			snprintf(buf, len, "%s although vnumad has CAP_PERFMON "
				 "(kernel.perf_event_paranoid is %d): a security "
				 "module or kernel lockdown forbids perf events",
				 strerror(err), paranoid);
		}
		break;
	case EMFILE:
		getrlimit(RLIMIT_NOFILE, &rl);
		snprintf(buf, len, "too many open files (EMFILE): RLIMIT_NOFILE is "
			 "%llu, hard limit %llu; raise LimitNOFILE= in "
			 "vnumad.service (or `ulimit -Hn` before starting it)",
			 (unsigned long long)rl.rlim_cur,
			 (unsigned long long)rl.rlim_max);
		break;
	case ENFILE:
		snprintf(buf, len, "the system's file table is full (ENFILE): "
			 "raise fs.file-max");
		break;
	case ENOENT:
		snprintf(buf, len, "%s: no PMU of this kernel takes the event: there "
			 "is no hardware PMU (a VM without a virtual PMU), or the "
			 "event's type is unknown to this kernel", strerror(err));
		break;
	case ENODEV:
		snprintf(buf, len, "%s: the PMU is there but cannot count the "
			 "event: it needs a feature this CPU lacks, or the CPU it "
			 "must count on is offline", strerror(err));
		break;
	case EOPNOTSUPP:
		if (kvm_mediated_pmu(mod, sizeof(mod)))
			snprintf(buf, len, "%s: KVM's mediated vPMU is enabled (%s "
				 "enable_mediated_pmu=Y) and a guest with a mediated "
				 "PMU is running: the kernel refuses core PMU events "
				 "that count guest mode then", strerror(err), mod);
		else
			snprintf(buf, len, "%s: the kernel refuses the event: a KVM "
				 "guest with a mediated vPMU runs (core PMU events that "
				 "count guest mode are refused then), or the PMU lacks "
				 "a feature the event asks for", strerror(err));
		break;
	case EINVAL:
		snprintf(buf, len, "%s: the kernel refused the event: on x86 the "
			 "group can never fit the PMU (more events than counters, "
			 "or events limited to the same counters), or the encoding "
			 "sets bits this CPU does not have (the wrong table for the "
			 "model)", strerror(err));
		break;
	case ENXIO:
		/*
		 * x86_pmu_extra_regs() (arch/x86/events/core.c): the event
		 * needs an extra MSR, which the kernel found at boot it cannot
		 * write safely (a hypervisor that does not emulate it).
		 */
		snprintf(buf, len, "%s: the event needs the offcore response "
			 "MSR (the value in config1), and the kernel found at boot "
			 "that it cannot write it: a hypervisor that does not "
			 "emulate MSR_OFFCORE_RSP (run vnumad on the host, not in "
			 "a guest)", strerror(err));
		break;
	case EBUSY:
		snprintf(buf, len, "%s: another user of the PMU holds the counters "
			 "exclusively", strerror(err));
		break;
	default:
		snprintf(buf, len, "%s", strerror(err));
		break;
	}
	return buf;
}

int kvm_mediated_pmu(char *which, size_t len)
{
	static const char *const mods[] = { "kvm_intel", "kvm_amd" };

	for (size_t i = 0; i < ARRAY_SIZE(mods); i++) {
		char rel[96], v[16];

		snprintf(rel, sizeof(rel), "/module/%s/parameters/enable_mediated_pmu",
			 mods[i]);
		if (sysfs_read(rel, v, sizeof(v)) > 0 &&
		    (v[0] == 'Y' || v[0] == 'y' || v[0] == '1')) {
			if (which)
				snprintf(which, len, "%s", mods[i]);
			return 1;
		}
	}
	return 0;
}

bool pmu_counts_core(const struct pmu_event *ev, int n)
{
	for (int i = 0; i < n; i++)
		if (ev[i].attr.type != PERF_TYPE_SOFTWARE &&
		    ev[i].attr.type != PERF_TYPE_TRACEPOINT &&
		    ev[i].attr.type != PERF_TYPE_BREAKPOINT)
			return true;
	return false;
}

/* Takes the state of tid out of the old table, if it is there and alive. */
static struct vcpu_thread *take(struct thread_table *tab, pid_t tid)
{
	for (int j = 0; tab && j < tab->nr; j++) {
		struct vcpu_thread *t = tab->t[j];

		if (t && t->tid == tid && !t->gone) {
			tab->t[j] = NULL;
			return t;
		}
	}
	return NULL;
}

int threads_attach(struct vn_guest *g, const struct thread_ops *ops, void *priv,
		   const int *held)
{
	struct thread_table *tab = g->sampler;
	struct vcpu_thread **nt;
	int need = 0, ret = 0, r;

	nt = xcalloc((size_t)(g->nr_vcpus ? g->nr_vcpus : 1), sizeof(*nt));
	for (int i = 0; i < g->nr_vcpus; i++)
		if (g->vc[i].tid > 0 && !(nt[i] = take(tab, g->vc[i].tid)))
			need++;
	if (tab) {
		for (int j = 0; j < tab->nr; j++)
			ops->free(priv, tab->t[j]);
		free(tab->t);
	} else {
		tab = xcalloc(1, sizeof(*tab));
		g->sampler = tab;
	}
	tab->t = nt;
	tab->nr = g->nr_vcpus;
	if (need && fd_reserve(*held, need * ops->fds_per_thread) < 0) {
		ops->no_room(priv, g, need);
		ret = -EMFILE;
	}
	for (int i = 0; i < g->nr_vcpus && !ret; i++) {
		if (g->vc[i].tid <= 0 || nt[i])
			continue;
		r = ops->open(priv, g, i, &nt[i]);
		if (r < 0 && r != -ESRCH)
			ret = r;
	}
	for (int i = 0; i < g->nr_vcpus; i++)
		g->vc[i].sampler = nt[i];
	return ret;
}

void threads_detach(struct vn_guest *g, const struct thread_ops *ops, void *priv)
{
	struct thread_table *tab = g->sampler;

	if (!tab)
		return;
	for (int j = 0; j < tab->nr; j++)
		ops->free(priv, tab->t[j]);
	free(tab->t);
	mem_state_free(tab->mem);
	free(tab);
	g->sampler = NULL;
	for (int i = 0; i < g->nr_vcpus; i++)
		g->vc[i].sampler = NULL;
}

struct vcpu_thread *threads_get(const struct vn_guest *g, int i)
{
	const struct thread_table *tab = g->sampler;

	return tab && i < tab->nr ? tab->t[i] : NULL;
}

static char sysfs_root[512] = "/sys";

void sampling_set_sysfs_root(const char *root)
{
	snprintf(sysfs_root, sizeof(sysfs_root), "%s", root ? root : "/sys");
}

const char *sampling_sysfs_root(void)
{
	return sysfs_root;
}

ssize_t sysfs_read(const char *rel, char *buf, size_t len)
{
	char path[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s%s", sysfs_root, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread_all(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return n;
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return n;
}
