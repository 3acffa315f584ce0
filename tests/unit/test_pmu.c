// SPDX-License-Identifier: MIT
/*
 * The PMU source: the CPU model table and its libpfm4 encodings, the choice
 * of source, and the read / scale / delta path on real threads.
 *
 * The test machines have no hardware PMU, so the table is checked by
 * encoding only (LIBPFM_FORCE_PMU per model, each in its own process: libpfm4
 * reads its environment once and pfm_terminate() does not undo it), and the
 * counting path runs with software events (task-clock, page-faults) on
 * threads named like QEMU's vCPU threads. Whatever initialises libpfm4 runs
 * in a child process, so that the parent never does.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "registry.h"
#include "sampling.h"
#include "sampling_impl.h"

/* ---- running checks in a child process ---- */

typedef int (*child_fn)(void *arg, char *msg, size_t len);

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		int o_ = snprintf(msg, len, "%s:%d: ", __FILE__, __LINE__); \
		snprintf(msg + o_, len - (size_t)o_, __VA_ARGS__);	\
		return -1;						\
	}								\
} while (0)

/* Runs fn in a fork; its message comes back through a pipe and fails the test. */
static void in_child(child_fn fn, void *arg)
{
	char msg[8192];
	int pfd[2], status = 0;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		msg[0] = '\0';
		int rc = fn(arg, msg, sizeof(msg));
		if (write(pfd[1], msg, strlen(msg)) < 0)
			rc = 2;
		_exit(rc ? 1 : 0);
	}
	close(pfd[1]);
	while ((r = read(pfd[0], msg + got, sizeof(msg) - 1 - got)) > 0)
		got += (size_t)r;
	msg[got] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		print_error("child: %s (status %#x)\n", msg[0] ? msg : "no message",
			    status);
		fail();
	}
	if (msg[0])
		print_message("%s\n", msg);
}

/* Removes capabilities from the effective set of this process. */
static int drop_caps(const int *caps, int n)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		d[caps[i] / 32].effective &= ~(1u << (caps[i] % 32));
		d[caps[i] / 32].permitted &= ~(1u << (caps[i] % 32));
	}
	return (int)syscall(SYS_capset, &h, d);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

/* ---- threads named like vCPUs, driven by commands ---- */

enum { CMD_NONE, CMD_TOUCH, CMD_SPIN, CMD_EXIT };

struct worker {
	pthread_t th;
	pid_t tid;
	int idx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int cmd;
	long arg;
	int done;
	bool exited;
};

static void touch_pages(long n)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, (size_t)(n * pg), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		abort();
	/* one fault per page: no transparent huge page */
	madvise(m, (size_t)(n * pg), MADV_NOHUGEPAGE);
	for (long i = 0; i < n; i++)
		m[i * pg] = 1;
	munmap(m, (size_t)(n * pg));
}

static void spin_ns(long ns)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	do {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < ns);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "CPU %d/KVM", w->idx);
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&w->mu);
	w->tid = gettid();
	pthread_cond_broadcast(&w->cv);
	for (;;) {
		int cmd;

		while (w->cmd == CMD_NONE)
			pthread_cond_wait(&w->cv, &w->mu);
		cmd = w->cmd;
		pthread_mutex_unlock(&w->mu);
		if (cmd == CMD_TOUCH)
			touch_pages(w->arg);
		else if (cmd == CMD_SPIN)
			spin_ns(w->arg);
		pthread_mutex_lock(&w->mu);
		w->cmd = CMD_NONE;
		w->done++;
		pthread_cond_broadcast(&w->cv);
		if (cmd == CMD_EXIT)
			break;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void worker_start(struct worker *w, int idx)
{
	memset(w, 0, sizeof(*w));
	w->idx = idx;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->th, NULL, worker_main, w))
		abort();
	pthread_mutex_lock(&w->mu);
	while (!w->tid)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

/* Runs a command on the worker and waits for it to finish. */
static void worker_do(struct worker *w, int cmd, long arg)
{
	pthread_mutex_lock(&w->mu);
	int want = w->done + 1;

	w->cmd = cmd;
	w->arg = arg;
	pthread_cond_broadcast(&w->cv);
	while (w->done < want)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	if (cmd == CMD_EXIT) {
		pthread_join(w->th, NULL);
		w->exited = true;
	}
}

static void worker_stop(struct worker *w)
{
	if (!w->exited)
		worker_do(w, CMD_EXIT, 0);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
}

/* A guest of this process whose vCPUs are the workers. */
static void guest_init(struct vn_guest *g, int n, struct worker *w)
{
	memset(g, 0, sizeof(*g));
	g->name = "test-guest";
	g->pid = getpid();
	g->nr_vcpus = n;
	g->vc = calloc((size_t)n, sizeof(*g->vc));
	g->vv = calloc((size_t)n, sizeof(*g->vv));
	for (int i = 0; i < n; i++)
		g->vc[i].tid = w[i].tid;
}

/* What the core's host_report does to a guest whose vCPU count changed. */
static void guest_resize(struct vn_guest *g, int n, struct worker *w)
{
	g->vc = realloc(g->vc, (size_t)n * sizeof(*g->vc));
	g->vv = realloc(g->vv, (size_t)n * sizeof(*g->vv));
	for (int i = g->nr_vcpus; i < n; i++) {
		memset(&g->vc[i], 0, sizeof(g->vc[i]));
		memset(&g->vv[i], 0, sizeof(g->vv[i]));
	}
	g->nr_vcpus = n;
	for (int i = 0; i < n; i++)
		g->vc[i].tid = w[i].tid;
}

static void guest_free(struct vn_guest *g)
{
	free(g->vc);
	free(g->vv);
}

static void sw_event(struct pmu_event *ev, const char *name, uint64_t config)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->name, sizeof(ev->name), "%s", name);
	ev->attr.size = sizeof(ev->attr);
	ev->attr.type = PERF_TYPE_SOFTWARE;
	ev->attr.config = config;
}

/* task-clock counts as "cycles", page-faults as "instructions". */
static void sw_events(struct pmu_event ev[2])
{
	sw_event(&ev[0], "perf::task-clock", PERF_COUNT_SW_TASK_CLOCK);
	sw_event(&ev[1], "perf::page-faults", PERF_COUNT_SW_PAGE_FAULTS);
}

/* ---- the model table ---- */

static void test_model_lookup(void **state)
{
	static const struct {
		enum cpu_vendor v;
		int family, model, stepping;
		const char *want;	/* model name, NULL: unknown */
	} cases[] = {
		{ CPU_VENDOR_INTEL, 6, 45, 7, "Intel Sandy Bridge-EP" },
		{ CPU_VENDOR_INTEL, 6, 62, 4, "Intel Ivy Bridge-EP" },
		{ CPU_VENDOR_INTEL, 6, 63, 2, "Intel Haswell-EP" },
		{ CPU_VENDOR_INTEL, 6, 79, 1, "Intel Broadwell-EP" },
		{ CPU_VENDOR_INTEL, 6, 85, 4, "Intel Skylake-SP" },
		{ CPU_VENDOR_INTEL, 6, 85, 7, "Intel Cascade Lake-SP" },
		{ CPU_VENDOR_INTEL, 6, 85, 11, "Intel Cascade Lake-SP" },
		{ CPU_VENDOR_INTEL, 6, 106, 6, "Intel Ice Lake-SP" },
		{ CPU_VENDOR_INTEL, 6, 108, 1, "Intel Ice Lake-D" },
		{ CPU_VENDOR_INTEL, 6, 143, 8, "Intel Sapphire Rapids" },
		{ CPU_VENDOR_INTEL, 6, 207, 2, "Intel Emerald Rapids" },
		{ CPU_VENDOR_INTEL, 6, 173, 1, "Intel Granite Rapids" },
		{ CPU_VENDOR_INTEL, 6, 174, 1, "Intel Granite Rapids" },
		{ CPU_VENDOR_INTEL, 6, 0x97, 2, NULL },	/* Alder Lake: no table */
		{ CPU_VENDOR_INTEL, 6, 44, 2, NULL },	/* Westmere-EP */
		{ CPU_VENDOR_AMD, 0x17, 0x01, 2, NULL },	/* Zen 1 */
		{ CPU_VENDOR_AMD, 0x17, 0x31, 0, "AMD Zen 2" },
		{ CPU_VENDOR_AMD, 0x17, 0x50, 0, NULL },	/* Zen 1 again */
		{ CPU_VENDOR_AMD, 0x17, 0x71, 0, "AMD Zen 2" },
		{ CPU_VENDOR_AMD, 0x17, 0x90, 0, "AMD Zen 2" },
		{ CPU_VENDOR_AMD, 0x17, 0xa0, 0, "AMD Zen 2" },
		{ CPU_VENDOR_AMD, 0x17, 0xb0, 0, NULL },
		{ CPU_VENDOR_AMD, 0x19, 0x01, 1, "AMD Zen 3" },
		{ CPU_VENDOR_AMD, 0x19, 0x21, 0, "AMD Zen 3" },
		{ CPU_VENDOR_AMD, 0x19, 0x30, 0, "AMD Zen 3" },
		{ CPU_VENDOR_AMD, 0x19, 0x50, 0, "AMD Zen 3" },
		{ CPU_VENDOR_AMD, 0x19, 0x11, 1, "AMD Zen 4" },
		{ CPU_VENDOR_AMD, 0x19, 0x61, 2, "AMD Zen 4" },
		{ CPU_VENDOR_AMD, 0x19, 0x80, 0, "AMD Zen 4" },
		{ CPU_VENDOR_AMD, 0x19, 0x90, 1, "AMD Zen 4" },
		{ CPU_VENDOR_AMD, 0x19, 0xa0, 2, "AMD Zen 4" },
		{ CPU_VENDOR_AMD, 0x19, 0xb0, 0, NULL },
		{ CPU_VENDOR_AMD, 0x1a, 0x02, 0, "AMD Zen 5" },
		{ CPU_VENDOR_AMD, 0x1a, 0x24, 0, "AMD Zen 5" },
		{ CPU_VENDOR_AMD, 0x1a, 0x44, 0, "AMD Zen 5" },
		{ CPU_VENDOR_AMD, 0x1a, 0x68, 0, "AMD Zen 5" },
		{ CPU_VENDOR_AMD, 0x1a, 0x70, 0, "AMD Zen 5" },
		{ CPU_VENDOR_AMD, 0x1a, 0x30, 0, NULL },	/* not Zen 5 */
		{ CPU_VENDOR_AMD, 0x1a, 0x50, 0, NULL },	/* Zen 6 */
		{ CPU_VENDOR_AMD, 0x1a, 0x80, 0, NULL },
		{ CPU_VENDOR_AMD, 0x1a, 0xc0, 0, NULL },
		{ CPU_VENDOR_OTHER, 6, 85, 4, NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cpu_id id = { .vendor = cases[i].v, .family = cases[i].family,
				     .model = cases[i].model,
				     .stepping = cases[i].stepping };
		const struct pmu_model *m = pmu_model_find(&id);

		if (!cases[i].want) {
			if (m)
				print_error("family %#x model %#x: got %s\n",
					    id.family, id.model, m->name);
			assert_null(m);
		} else {
			assert_non_null(m);
			assert_string_equal(m->name, cases[i].want);
		}
	}
}

/* This machine's CPUID decodes to something sane. */
static void test_cpu_identify(void **state)
{
	struct cpu_id id;
	char buf[128];
	(void)state;

	cpu_identify(&id);
	cpu_id_str(&id, buf, sizeof(buf));
#if defined(__x86_64__) || defined(__i386__)
	assert_true(id.family > 0);
	assert_true(id.vendor_str[0] != '\0');
#endif
	assert_non_null(strstr(buf, "family"));
}

/* Encodes every event of one table entry with its PMU forced. */
static int child_encode_model(void *arg, char *msg, size_t len)
{
	const struct pmu_model *m = arg;
	const struct pmu_table *t = m->tab;
	char err[300];

	setenv("LIBPFM_FORCE_PMU", t->pfm_pmu, 1);
	for (int k = 0; k < PMU_NR_ROLES; k++) {
		struct pmu_event ev;
		uint64_t code = t->config[k] & 0xff, umask = t->config[k] >> 8 & 0xff;
		/* what libpfm4 itself must produce for the name */
		uint64_t c1 = t->pfm_config1[k] ? t->pfm_config1[k] : t->config1[k];

		CHECK(pmu_encode(t->event[k], NULL, &ev, err, sizeof(err)) == 0,
		      "%s (forced %s): %s: %s", m->name, t->pfm_pmu, t->event[k], err);
		CHECK((ev.attr.config & 0xff) == code,
		      "%s %s: event code %#llx, want %#llx", m->name, t->event[k],
		      (unsigned long long)(ev.attr.config & 0xff),
		      (unsigned long long)code);
		CHECK((ev.attr.config >> 8 & 0xff) == umask,
		      "%s %s: umask %#llx, want %#llx", m->name, t->event[k],
		      (unsigned long long)(ev.attr.config >> 8 & 0xff),
		      (unsigned long long)umask);
		CHECK(ev.attr.config == t->config[k],
		      "%s %s: config %#llx, want %#llx", m->name, t->event[k],
		      (unsigned long long)ev.attr.config,
		      (unsigned long long)t->config[k]);
		CHECK(ev.attr.config1 == c1,
		      "%s %s: offcore config1 %#llx, want %#llx", m->name,
		      t->event[k], (unsigned long long)ev.attr.config1,
		      (unsigned long long)c1);
		CHECK(ev.attr.exclude_guest == 0, "%s %s: exclude_guest is set",
		      m->name, t->event[k]);
		CHECK(ev.attr.exclude_host == 0, "%s %s: exclude_host is set",
		      m->name, t->event[k]);
		CHECK(ev.attr.type == PERF_TYPE_RAW, "%s %s: type %u, want raw",
		      m->name, t->event[k], ev.attr.type);
		CHECK(ev.attr.sample_period == 0 && ev.attr.precise_ip == 0,
		      "%s %s: not a counting event", m->name, t->event[k]);
	}
	return 0;
}

static void test_table_encodings_forced(void **state)
{
	(void)state;
	for (int i = 0; i < pmu_nr_models; i++)
		in_child(child_encode_model, (void *)&pmu_models[i]);
}

/*
 * The daemon's own path, without LIBPFM_FORCE_PMU: every model resolves to
 * the table's encodings on this machine, whatever libpfm4 detected.
 */
static int child_resolve_all(void *arg, char *msg, size_t len)
{
	(void)arg;
	for (int i = 0; i < pmu_nr_models; i++) {
		const struct pmu_model *m = &pmu_models[i], *got;
		struct cpu_id id = { .vendor = m->vendor, .family = m->family,
				     .model = m->model_lo, .stepping = m->step_lo };
		struct pmu_event ev[PMU_NR_ROLES];
		char err[600];

		CHECK(pmu_resolve(NULL, &id, ev, &got, err, sizeof(err)) == 0,
		      "%s: %s", m->name, err);
		CHECK(got == m, "%s resolved to %s", m->name, got ? got->name : "none");
		for (int k = 0; k < PMU_NR_ROLES; k++) {
			CHECK(ev[k].attr.config == m->tab->config[k] &&
			      ev[k].attr.config1 == m->tab->config1[k],
			      "%s %s: config %#llx config1 %#llx", m->name,
			      ev[k].name, (unsigned long long)ev[k].attr.config,
			      (unsigned long long)ev[k].attr.config1);
			CHECK(ev[k].attr.exclude_guest == 0,
			      "%s %s: exclude_guest is set", m->name, ev[k].name);
			CHECK(strncmp(ev[k].name, m->tab->pfm_pmu,
				      strlen(m->tab->pfm_pmu)) == 0,
			      "%s: %s is not qualified by %s", m->name, ev[k].name,
			      m->tab->pfm_pmu);
		}
	}
	return 0;
}

static void test_table_resolve_unforced(void **state)
{
	(void)state;
	in_child(child_resolve_all, NULL);
}

/* The table entry of a model by name. */
static const struct pmu_model *model_named(const char *name)
{
	for (int i = 0; i < pmu_nr_models; i++)
		if (strcmp(pmu_models[i].name, name) == 0)
			return &pmu_models[i];
	fail_msg("no model %s", name);
	return NULL;
}

/*
 * "Remote" is everything the vCPU's node does not serve: on Intel's OCR
 * tables the not-local mask holds the supplier bits of Intel's REMOTE_DRAM
 * (28-29), SNC_DRAM (27, the distant clusters of a socket under SNC) and,
 * where Intel's file has them, PMM / CXL memory (22-25), and never the
 * local supplier; HSX and BDX use Intel's matrix values.
 */
static void test_not_local_covers_snc_pmm_cxl(void **state)
{
	static const struct {
		const char *model;
		uint64_t must;		/* supplier bits the not-local mask holds */
	} cases[] = {
		{ "Intel Ice Lake-SP", 0x3bc00000 },
		{ "Intel Ice Lake-D", 0x3bc00000 },
		{ "Intel Sapphire Rapids", 0x3bc00000 },
		{ "Intel Emerald Rapids", 0x38000000 },
		{ "Intel Granite Rapids", 0x3bc00000 },
	};
	const uint64_t supplier = 0x3fc00000;	/* bits 22-29 */
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pmu_table *t = model_named(cases[i].model)->tab;
		uint64_t local = t->config1[PMU_LOCAL_DRAM];
		uint64_t remote = t->config1[PMU_REMOTE_DRAM];

		assert_int_equal(local, 0x104000001);	/* OCR...LOCAL_DRAM */
		assert_int_equal(remote & cases[i].must, cases[i].must);
		assert_int_equal(remote & supplier, cases[i].must);
		assert_int_equal(local & remote & supplier, 0);
		/* demand data reads, with REMOTE_DRAM's snoop bits */
		assert_int_equal(remote & 0xffff, 1);
		assert_int_equal(remote >> 32, 0x7);
	}
	assert_int_equal(model_named("Intel Haswell-EP")->tab->config1[PMU_REMOTE_DRAM],
			 0x63f800001);
	assert_int_equal(model_named("Intel Broadwell-EP")->tab->config1[PMU_REMOTE_DRAM],
			 0x63bc00001);
	assert_int_equal(model_named("Intel Broadwell-EP")->tab->config1[PMU_LOCAL_DRAM],
			 0x604000001);
}

/*
 * Zen 3 to 5 count demand fills (event 0x43), as Zen 2 and Intel do, not
 * 0x44 with its prefetch fills; Zen 4 and 5 put extension memory (CXL, a
 * node of its own) on the far side.
 */
static void test_amd_demand_fills(void **state)
{
	static const char *const zen[] = { "AMD Zen 2", "AMD Zen 3", "AMD Zen 4",
					   "AMD Zen 5" };
	(void)state;

	for (size_t i = 0; i < sizeof(zen) / sizeof(zen[0]); i++) {
		const struct pmu_table *t = model_named(zen[i])->tab;

		assert_int_equal(t->config[PMU_LOCAL_DRAM], 0x843);
		assert_int_equal(t->config[PMU_REMOTE_DRAM] & 0xff, 0x43);
		assert_true(t->config[PMU_REMOTE_DRAM] >> 8 & 0x40);
		assert_int_equal(t->config[PMU_LOCAL_DRAM] >> 8 &
				 t->config[PMU_REMOTE_DRAM] >> 8, 0);
	}
	assert_int_equal(model_named("AMD Zen 4")->tab->config[PMU_REMOTE_DRAM], 0xc043);
	assert_int_equal(model_named("AMD Zen 5")->tab->config[PMU_REMOTE_DRAM], 0xc043);
}

/* Zen 6 and other models of a known family: refused, saying why. */
static void test_refused_models(void **state)
{
	struct cpu_id zen6 = { .vendor = CPU_VENDOR_AMD, .family = 0x1a,
			       .model = 0x50 };
	struct pmu_event ev[PMU_NR_ROLES];
	const struct pmu_model *m;
	char err[600];
	(void)state;

	assert_null(pmu_model_find(&zen6));
	assert_non_null(pmu_model_refused(&zen6));
	assert_int_equal(pmu_resolve(NULL, &zen6, ev, &m, err, sizeof(err)), -1);
	assert_null(m);
	assert_non_null(strstr(err, "Zen 6"));
	assert_non_null(strstr(err, "model 0x50"));
	assert_non_null(strstr(err, "[sampling] events"));
	/* a Zen 5 model is no refusal */
	zen6.model = 0x44;
	assert_null(pmu_model_refused(&zen6));
}

/* Writes ROOT/rel with the text, making the directories. */
static void write_file(const char *root, const char *rel, const char *text)
{
	char path[1024], cmd[1200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *fake_root(void)
{
	char *d = strdup("/tmp/vnumad-sysfs-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_tree(char *d)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
	free(d);
}

/*
 * A kernel that does not know the model names its PMU generic_arch_*: it
 * would ignore the offcore MSR, so the table is refused there.
 */
static void test_kernel_knows_model(void **state)
{
	const struct pmu_model *spr = model_named("Intel Sapphire Rapids");
	const struct pmu_model *gnr = model_named("Intel Granite Rapids");
	const struct pmu_model *zen = model_named("AMD Zen 4");
	char *root = fake_root(), why[512];
	(void)state;

	sampling_set_sysfs_root(root);
	/* no caps/pmu_name (kernels before 4.14): nothing to check */
	assert_int_equal(pmu_kernel_check(spr, why, sizeof(why)), 0);
	write_file(root, "bus/event_source/devices/cpu/caps/pmu_name",
		   "generic_arch_v5+\n");
	why[0] = '\0';
	assert_int_equal(pmu_kernel_check(spr, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "generic_arch_v5+"));
	assert_non_null(strstr(why, "sapphire_rapids"));
	assert_non_null(strstr(why, "mean nothing"));
	/* AMD publishes no name and needs none */
	assert_int_equal(pmu_kernel_check(zen, why, sizeof(why)), 0);
	write_file(root, "bus/event_source/devices/cpu/caps/pmu_name",
		   "sapphire_rapids\n");
	assert_int_equal(pmu_kernel_check(spr, why, sizeof(why)), 0);
	/* a kernel from before the Granite Rapids name */
	assert_int_equal(pmu_kernel_check(gnr, why, sizeof(why)), 0);
	write_file(root, "bus/event_source/devices/cpu/caps/pmu_name",
		   "granite_rapids\n");
	assert_int_equal(pmu_kernel_check(gnr, why, sizeof(why)), 0);
	assert_int_equal(pmu_kernel_check(spr, why, sizeof(why)), -1);
	sampling_set_sysfs_root(NULL);
	rm_tree(root);
}

/* [sampling] events: four names in role order; bad ones named. */
static int child_events_override(void *arg, char *msg, size_t len)
{
	struct cpu_id unknown = { .vendor = CPU_VENDOR_INTEL, .family = 6,
				  .model = 0x97 };
	struct pmu_event ev[PMU_NR_ROLES];
	const struct pmu_model *m;
	char err[600];
	(void)arg;

	CHECK(pmu_resolve(" perf::task-clock, perf::page-faults,perf::context-switches ,"
			  "perf::cpu-migrations", &unknown, ev, &m, err,
			  sizeof(err)) == 0, "software names: %s", err);
	CHECK(ev[0].attr.type == PERF_TYPE_SOFTWARE &&
	      ev[0].attr.config == PERF_COUNT_SW_TASK_CLOCK,
	      "task-clock encoded as type %u config %#llx", ev[0].attr.type,
	      (unsigned long long)ev[0].attr.config);
	CHECK(ev[3].attr.config == PERF_COUNT_SW_CPU_MIGRATIONS, "role order");
	CHECK(ev[1].attr.exclude_guest == 0, "exclude_guest set on an override");

	CHECK(pmu_resolve("cycles,instructions,perf::page-faults", &unknown, ev,
			  &m, err, sizeof(err)) < 0, "three names accepted");
	CHECK(strstr(err, "expected 4") && strstr(err, "got 3"), "message: %s", err);

	CHECK(pmu_resolve("cycles,instructions,NO_SUCH_EVENT:X,perf::page-faults",
			  &unknown, ev, &m, err, sizeof(err)) < 0,
	      "a bad name accepted");
	CHECK(strstr(err, "'NO_SUCH_EVENT:X'") && strstr(err, "local DRAM"),
	      "message does not name the bad event: %s", err);

	CHECK(pmu_resolve("cycles,,instructions,cycles", &unknown, ev, &m, err,
			  sizeof(err)) < 0, "an empty name accepted");
	CHECK(strstr(err, "instructions event name is empty"), "message: %s", err);

	/* unknown CPU, no override: a clear message */
	CHECK(pmu_resolve(NULL, &unknown, ev, &m, err, sizeof(err)) < 0,
	      "unknown CPU accepted");
	CHECK(strstr(err, "no DRAM locality events known") && strstr(err, "0x97") &&
	      strstr(err, "[sampling] events"), "message: %s", err);

	/* unqualified names try the model's PMU first */
	struct cpu_id skx = { .vendor = CPU_VENDOR_INTEL, .family = 6, .model = 85,
			      .stepping = 4 };
	CHECK(pmu_resolve("UNHALTED_CORE_CYCLES,INSTRUCTION_RETIRED,"
			  "MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM,"
			  "MEM_LOAD_L3_MISS_RETIRED:REMOTE_DRAM", &skx, ev, &m, err,
			  sizeof(err)) == 0, "skx names: %s", err);
	CHECK(ev[3].attr.config == 0x2d3 && !strncmp(ev[3].name, "skx::", 5),
	      "got %s %#llx", ev[3].name, (unsigned long long)ev[3].attr.config);
	return 0;
}

static void test_events_override(void **state)
{
	(void)state;
	in_child(child_events_override, NULL);
}

/* ---- choosing the source ---- */

/* Whether this machine has a hardware PMU at all. */
static bool have_hw_pmu(void)
{
	struct perf_event_attr a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_HARDWARE;
	a.config = PERF_COUNT_HW_CPU_CYCLES;
	a.exclude_kernel = 1;
	fd = syscall(__NR_perf_event_open, &a, 0, -1, -1, 0);
	if (fd < 0)
		return false;
	close((int)fd);
	return true;
}

static int child_select(void *arg, char *msg, size_t len)
{
	struct cpu_id unknown = { .vendor = CPU_VENDOR_INTEL, .family = 6,
				  .model = 0x97, .stepping = 2 };
	const struct vn_sampler_ops *ops;
	struct vn_config cfg;
	char why[1024];
	(void)arg;

	config_defaults(&cfg);

	cfg.source = VN_SAMPLING_PROCFS;
	ops = sampling_select(&cfg, why, sizeof(why));
	CHECK(ops == &procfs_sampler_ops, "procfs: got %s", ops ? ops->name : "NULL");
	CHECK(why[0], "no reason given");

	/* auto on this machine: the PMU only where there is one */
	cfg.source = VN_SAMPLING_AUTO;
	ops = sampling_select(&cfg, why, sizeof(why));
	CHECK(ops, "auto gave no source: %s", why);
	if (!have_hw_pmu())
		CHECK(ops == &procfs_sampler_ops && strstr(why, "no PMU counters") &&
		      strstr(why, "procfs") && strstr(why, "estimates") && !strchr(why, '\n'),
		      "auto without a PMU: %s / %s", ops->name, why);

	/* an unknown CPU: one line, and the fallback */
	ops = sampling_select_cpu(&cfg, &unknown, why, sizeof(why));
	CHECK(ops == &procfs_sampler_ops, "unknown CPU, auto: %s",
	      ops ? ops->name : "NULL");
	CHECK(strstr(why, "no DRAM locality events known for this CPU") &&
	      strstr(why, "model 0x97") && !strchr(why, '\n'), "why: %s", why);
	cfg.source = VN_SAMPLING_PMU;
	ops = sampling_select_cpu(&cfg, &unknown, why, sizeof(why));
	CHECK(!ops, "unknown CPU, pmu: got %s", ops ? ops->name : "");
	CHECK(strstr(why, "source = pmu") && strstr(why, "model 0x97"), "why: %s", why);

	/* a kernel that does not know the model: not the PMU, and why */
	{
		struct cpu_id spr = { .vendor = CPU_VENDOR_INTEL, .family = 6,
				      .model = 143, .stepping = 8 };
		char *root = fake_root();

		write_file(root, "bus/event_source/devices/cpu/caps/pmu_name",
			   "generic_arch_v5+\n");
		sampling_set_sysfs_root(root);
		cfg.source = VN_SAMPLING_AUTO;
		ops = sampling_select_cpu(&cfg, &spr, why, sizeof(why));
		CHECK(ops == &procfs_sampler_ops && strstr(why, "does not know") &&
		      strstr(why, "generic_arch_v5+"), "unknown to the kernel: %s", why);
		sampling_set_sysfs_root(NULL);
		rm_tree(root);
	}
	cfg.source = VN_SAMPLING_PMU;

	/* [sampling] events overrides the table: software events open anywhere */
	cfg.events = strdup("perf::task-clock,perf::page-faults,"
			    "perf::minor-faults,perf::page-faults");
	ops = sampling_select_cpu(&cfg, &unknown, why, sizeof(why));
	CHECK(ops == &pmu_sampler_ops, "events override, pmu: %s", why);
	cfg.source = VN_SAMPLING_AUTO;
	ops = sampling_select_cpu(&cfg, &unknown, why, sizeof(why));
	CHECK(ops == &pmu_sampler_ops, "events override, auto: %s", why);

	free(cfg.events);
	cfg.events = strdup("perf::task-clock,perf::page-faults,BOGUS_EVT,"
			    "perf::cpu-migrations");
	cfg.source = VN_SAMPLING_PMU;
	ops = sampling_select(&cfg, why, sizeof(why));
	CHECK(!ops && strstr(why, "'BOGUS_EVT'"), "bad override: %s", why);
	/* a configuration error, not a reason to fall back */
	cfg.source = VN_SAMPLING_AUTO;
	ops = sampling_select(&cfg, why, sizeof(why));
	CHECK(!ops && strstr(why, "'BOGUS_EVT'") && strstr(why, "local DRAM"),
	      "bad override under auto: %s", why);
	config_free(&cfg);
	return 0;
}

static void test_select(void **state)
{
	(void)state;
	in_child(child_select, NULL);
}

/* pmu_sampler_ops.open() with [sampling] events, then one real reading. */
static int child_open_with_events(void *arg, char *msg, size_t len)
{
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	struct vn_config cfg;
	struct worker w;
	struct vn_guest g;
	(void)arg;

	config_defaults(&cfg);
	cfg.source = VN_SAMPLING_PMU;
	cfg.events = strdup("perf::task-clock,perf::page-faults,"
			    "perf::minor-faults,perf::page-faults");
	s.cfg = &cfg;
	CHECK(s.ops->open(&s) == 0, "open with software events failed");
	worker_start(&w, 0);
	guest_init(&g, 1, &w);
	CHECK(s.ops->attach(&s, &g) == 0, "attach: %s", pmu_last_error(&s));
	worker_do(&w, CMD_TOUCH, 300);
	CHECK(s.ops->read(&s, &g) == 0, "read");
	CHECK(g.vc[0].delta.valid && g.vc[0].delta.instructions >= 300,
	      "page-faults as instructions: %llu",
	      (unsigned long long)g.vc[0].delta.instructions);
	CHECK(g.vc[0].delta.cycles > 0, "task-clock as cycles is 0");
	s.ops->detach(&s, &g);
	CHECK(pmu_nr_fds(&s) == 0, "%d descriptors left", pmu_nr_fds(&s));
	s.ops->close(&s);
	worker_stop(&w);
	guest_free(&g);
	free(cfg.events);
	cfg.events = strdup("cycles,instructions,perf::page-faults");
	CHECK(s.ops->open(&s) == -EINVAL, "three events accepted by open");
	config_free(&cfg);
	return 0;
}

static void test_open_with_events(void **state)
{
	(void)state;
	in_child(child_open_with_events, NULL);
}

/*
 * The self-test: a probe whose DRAM events count nothing while the thread
 * reads fresh memory is refused (alignment and emulation faults never
 * happen on x86); page faults, which reading fresh memory makes, pass.
 */
static void test_probe_self_test(void **state)
{
	struct pmu_event ev[4];
	char why[1024];
	(void)state;

	sw_events(ev);
	sw_event(&ev[2], "perf::alignment-faults", PERF_COUNT_SW_ALIGNMENT_FAULTS);
	sw_event(&ev[3], "perf::emulation-faults", PERF_COUNT_SW_EMULATION_FAULTS);
	assert_int_equal(pmu_probe(ev, 4, why, sizeof(why)), -ENODATA);
	assert_non_null(strstr(why, "self-test"));
	assert_non_null(strstr(why, "perf::alignment-faults"));
	assert_non_null(strstr(why, "counted nothing"));
	sw_event(&ev[2], "perf::minor-faults", PERF_COUNT_SW_PAGE_FAULTS_MIN);
	assert_int_equal(pmu_probe(ev, 4, why, sizeof(why)), 0);
	/* without DRAM roles there is nothing to check */
	assert_int_equal(pmu_probe(ev, 2, why, sizeof(why)), 0);
}

/* ---- KVM's mediated vPMU ---- */

/* A fake sysfs tree where kvm_amd's enable_mediated_pmu reads val. */
static char *mediated_root(const char *val)
{
	char *root = fake_root();

	write_file(root, "module/kvm_amd/parameters/enable_mediated_pmu", val);
	write_file(root, "module/kvm_amd/parameters/nested", "1\n");
	return root;
}

/*
 * With the mediated vPMU enabled, auto holds no core PMU event that counts
 * guest mode (it would stop mediated guests from starting) and says why;
 * pmu is refused; software events are not the core PMU's and may stay.
 */
static int child_mediated_select(void *arg, char *msg, size_t len)
{
	struct cpu_id zen4 = { .vendor = CPU_VENDOR_AMD, .family = 0x19,
			       .model = 0x11 };
	const struct vn_sampler_ops *ops;
	struct vn_config cfg;
	char why[SAMPLING_REASON_MAX], *root = mediated_root("Y\n");
	(void)arg;

	config_defaults(&cfg);
	sampling_set_sysfs_root(root);
	CHECK(kvm_mediated_pmu(NULL, 0) == 1, "parameter not seen");
	ops = sampling_select_cpu(&cfg, &zen4, why, sizeof(why));
	CHECK(ops == &procfs_sampler_ops, "auto: %s", ops ? ops->name : "NULL");
	CHECK(strstr(why, "mediated vPMU") && strstr(why, "kvm_amd") &&
	      strstr(why, "EBUSY") && strstr(why, "procfs") && !strchr(why, '\n'),
	      "auto: %s", why);
	cfg.source = VN_SAMPLING_PMU;
	ops = sampling_select_cpu(&cfg, &zen4, why, sizeof(why));
	CHECK(!ops && strstr(why, "source = pmu") && strstr(why, "mediated"),
	      "pmu: %s", why);
	cfg.events = strdup("perf::task-clock,perf::page-faults,"
			    "perf::minor-faults,perf::page-faults");
	ops = sampling_select_cpu(&cfg, &zen4, why, sizeof(why));
	CHECK(ops == &pmu_sampler_ops, "software events refused: %s", why);
	free(cfg.events);
	cfg.events = NULL;

	/* N: no mediated vPMU, whatever else decides */
	rm_tree(root);
	root = mediated_root("N\n");
	sampling_set_sysfs_root(root);
	CHECK(kvm_mediated_pmu(NULL, 0) == 0, "N read as enabled");
	cfg.source = VN_SAMPLING_AUTO;
	sampling_select_cpu(&cfg, &zen4, why, sizeof(why));
	CHECK(!strstr(why, "mediated vPMU is enabled"), "N: %s", why);
	sampling_set_sysfs_root(NULL);
	rm_tree(root);
	config_free(&cfg);
	return 0;
}

static void test_mediated_select(void **state)
{
	(void)state;
	in_child(child_mediated_select, NULL);
}

/*
 * EOPNOTSUPP at open, with the mediated vPMU enabled, is blamed on it, not
 * on a missing PMU. The kernel refuses a software event that asks for a
 * branch stack with EOPNOTSUPP, as it refuses a guest-counting core event
 * while a mediated guest runs: the probe gets the real error.
 */
static int child_eopnotsupp(void *arg, char *msg, size_t len)
{
	struct pmu_event ev[2];
	char why[SAMPLING_REASON_MAX], *root = mediated_root("Y\n");
	int r;
	(void)arg;

	sw_events(ev);
	ev[0].attr.sample_type = PERF_SAMPLE_BRANCH_STACK;
	ev[0].attr.branch_sample_type = PERF_SAMPLE_BRANCH_ANY |
					PERF_SAMPLE_BRANCH_USER;
	ev[0].attr.exclude_kernel = 1;
	sampling_set_sysfs_root(root);
	r = pmu_probe(ev, 2, why, sizeof(why));
	CHECK(r == -EOPNOTSUPP, "probe gave %d: %s", r, why);
	CHECK(strstr(why, "mediated vPMU is enabled") && strstr(why, "kvm_amd") &&
	      !strstr(why, "no hardware PMU") && !strstr(why, "no PMU"),
	      "with the parameter Y: %s", why);
	rm_tree(root);
	root = mediated_root("N\n");
	sampling_set_sysfs_root(root);
	r = pmu_probe(ev, 2, why, sizeof(why));
	CHECK(r == -EOPNOTSUPP && !strstr(why, "is enabled") &&
	      strstr(why, "mediated vPMU") && strstr(why, "feature"),
	      "with the parameter N: %s", why);
	sampling_set_sysfs_root(NULL);
	rm_tree(root);
	return 0;
}

static void test_eopnotsupp_blames_mediated(void **state)
{
	(void)state;
	in_child(child_eopnotsupp, NULL);
}

/* Reads stderr's output of fn into buf (fn runs with stderr on a file). */
static void capture_stderr(void (*fn)(void *), void *arg, char *buf, size_t len)
{
	char path[] = "/tmp/vnumad-stderr-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

static void pick_sampler(void *arg)
{
	registry_sampler(&proc_backend_ops, arg);
}

/* The reason the registry logs is the whole of what sampling_select says. */
static int child_registry_reason(void *arg, char *msg, size_t len)
{
	struct vn_config cfg;
	char why[SAMPLING_REASON_MAX], out[8192], *root = mediated_root("Y\n");
	(void)arg;

	log_init(true, LOG_INFO, "test_pmu");
	config_defaults(&cfg);
	sampling_set_sysfs_root(root);
	sampling_select(&cfg, why, sizeof(why));
	CHECK(strlen(why) > 256, "the reason is short (%zu): %s", strlen(why), why);
	capture_stderr(pick_sampler, &cfg, out, sizeof(out));
	CHECK(strstr(out, why), "logged: %s\nwanted: %s", out, why);
	sampling_set_sysfs_root(NULL);
	rm_tree(root);
	config_free(&cfg);
	return 0;
}

static void test_registry_reason_whole(void **state)
{
	(void)state;
	in_child(child_registry_reason, NULL);
}

/* ---- scaling ---- */

static void test_scale(void **state)
{
	(void)state;
	assert_int_equal(pmu_scale(1000, 100, 100), 1000);	/* never multiplexed */
	assert_int_equal(pmu_scale(1000, 200, 100), 2000);	/* on half the time */
	assert_int_equal(pmu_scale(1000, 400, 100), 4000);
	assert_int_equal(pmu_scale(3, 3, 2), 5);		/* 4.5 rounds up */
	assert_int_equal(pmu_scale(0, 200, 100), 0);
	assert_int_equal(pmu_scale(1000, 100, 0), 1000);	/* never ran: left raw */
	assert_int_equal(pmu_scale(1000, 0, 0), 1000);
	/* no overflow on big counts */
	assert_int_equal(pmu_scale(1ULL << 50, 2000000000ULL, 1000000000ULL),
			 1ULL << 51);
}

/* ---- reading real threads with software events ---- */

static void test_read_delta_real_threads(void **state)
{
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	struct pmu_event ev[2];
	struct worker w[3];
	struct vn_guest g;
	int before;
	(void)state;

	log_init(true, LOG_WARNING, "test_pmu");
	for (int i = 0; i < 3; i++)
		worker_start(&w[i], i);
	guest_init(&g, 3, w);
	sw_events(ev);
	before = count_fds();
	assert_int_equal(pmu_open_events(&s, ev, 2), 0);
	assert_int_equal(count_fds(), before);	/* the probe closed its group */
	assert_int_equal(s.ops->attach(&s, &g), 0);
	/* two events, cpu-migrations and the stat file per thread */
	assert_int_equal(pmu_nr_fds(&s), 12);
	assert_int_equal(count_fds(), before + 12);
	for (int i = 0; i < 3; i++)
		assert_ptr_not_equal(g.vc[i].sampler, NULL);

	worker_do(&w[0], CMD_TOUCH, 2000);
	worker_do(&w[1], CMD_SPIN, 60 * 1000000L);
	usleep(20000);
	assert_int_equal(s.ops->read(&s, &g), 0);
	for (int i = 0; i < 3; i++) {
		const struct vn_counts *c = &g.vc[i].delta;

		assert_true(c->valid);
		assert_int_equal(c->source, VNUMAD_SRC_PMU);
		assert_true(c->node >= 0);	/* from its stat file */
		assert_true(c->elapsed >= 0.06 && c->elapsed < 30);
		assert_true(c->cpu_time <= c->elapsed + 0.01);
		/* the DRAM roles were not given: they read 0 */
		assert_int_equal(c->local_dram, 0);
		assert_int_equal(c->remote_dram, 0);
	}
	/* page-faults, in the instructions role */
	assert_true(g.vc[0].delta.instructions >= 2000);
	assert_true(g.vc[0].delta.instructions < 2000 + 500);
	assert_true(g.vc[1].delta.instructions < 200);
	/*
	 * task-clock, in the cycles role, is the thread's CPU time in ns. It
	 * may lag the thread clock the spin used by a little on a loaded
	 * (nested) machine, hence the margin.
	 */
	assert_true(g.vc[1].delta.cycles >= 50000000ULL);
	assert_true(g.vc[1].delta.cpu_time >= 0.05);
	assert_true(fabs(g.vc[1].delta.cpu_time - g.vc[1].delta.cycles * 1e-9) < 0.005);
	assert_true(g.vc[2].delta.cpu_time < 0.01);

	/* deltas, not totals: nothing happened since */
	assert_int_equal(s.ops->read(&s, &g), 0);
	assert_true(g.vc[0].delta.valid && g.vc[0].delta.instructions < 50);
	assert_true(g.vc[1].delta.cycles < 10000000ULL);

	worker_do(&w[1], CMD_TOUCH, 700);
	assert_int_equal(s.ops->read(&s, &g), 0);
	assert_true(g.vc[1].delta.instructions >= 700);
	assert_true(g.vc[1].delta.instructions < 700 + 200);
	assert_true(g.vc[0].delta.instructions < 50);

	s.ops->detach(&s, &g);
	assert_int_equal(pmu_nr_fds(&s), 0);
	assert_int_equal(count_fds(), before);
	assert_null(g.sampler);
	for (int i = 0; i < 3; i++)
		assert_null(g.vc[i].sampler);
	s.ops->detach(&s, &g);		/* twice: a no-op */
	s.ops->close(&s);
	for (int i = 0; i < 3; i++)
		worker_stop(&w[i]);
	guest_free(&g);
}

/* A vCPU thread that exits: its last counts once, then invalid, no leak. */
static void test_thread_exit(void **state)
{
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	struct pmu_event ev[2];
	struct worker w[2];
	struct vn_guest g;
	int before, r;
	(void)state;

	for (int i = 0; i < 2; i++)
		worker_start(&w[i], i);
	guest_init(&g, 2, w);
	sw_events(ev);
	before = count_fds();
	assert_int_equal(pmu_open_events(&s, ev, 2), 0);
	assert_int_equal(s.ops->attach(&s, &g), 0);
	assert_int_equal(count_fds(), before + 8);

	/* work, then exit before anyone reads */
	worker_do(&w[1], CMD_TOUCH, 1500);
	worker_do(&w[1], CMD_EXIT, 0);
	assert_int_equal(s.ops->read(&s, &g), 0);
	assert_true(g.vc[1].delta.valid);
	assert_true(g.vc[1].delta.instructions >= 1500);
	assert_true(g.vc[0].delta.valid);

	/*
	 * The next read finds it gone: invalid, and its descriptors closed.
	 * vCPU 0 keeps its 3 counters and its stat file.
	 */
	assert_int_equal(s.ops->read(&s, &g), 0);
	assert_false(g.vc[1].delta.valid);
	assert_true(g.vc[0].delta.valid);
	assert_int_equal(pmu_nr_fds(&s), 4);
	assert_int_equal(count_fds(), before + 4);
	assert_int_equal(s.ops->read(&s, &g), 0);
	assert_false(g.vc[1].delta.valid);
	assert_int_equal(count_fds(), before + 4);

	/*
	 * The other one exits without having worked. The read may notice at
	 * once (the thread moved CPU, so its stat file was read): then no vCPU
	 * runs any more and the guest's read says so, but the last counts are
	 * valid either way.
	 */
	worker_do(&w[0], CMD_EXIT, 0);
	r = s.ops->read(&s, &g);
	assert_true(r == 0 || r == -ESRCH);
	assert_true(g.vc[0].delta.valid);
	/* every vCPU gone: the guest's read fails, without leaking */
	assert_int_equal(s.ops->read(&s, &g), -ESRCH);
	assert_int_equal(pmu_nr_fds(&s), 0);
	assert_int_equal(count_fds(), before);

	/* attaching a thread id that no longer exists is not an error */
	assert_int_equal(s.ops->attach(&s, &g), 0);
	assert_int_equal(pmu_nr_fds(&s), 0);
	s.ops->detach(&s, &g);
	assert_int_equal(count_fds(), before);
	s.ops->close(&s);
	for (int i = 0; i < 2; i++)
		worker_stop(&w[i]);
	guest_free(&g);
}

/*
 * The body of the TID reuse test, as pid 1 of a fresh pid namespace with
 * its own /proc, where ns_last_pid picks the next thread id: vCPU 0's
 * thread exits and a new thread of the same process gets its number. The
 * sampler must see the vCPU's thread gone: a null signal, or a stat file
 * opened by number, would find the new thread alive.
 */
static int tid_reuse_body(char *msg, size_t len)
{
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	struct pmu_event ev[2];
	struct worker w[2], again;
	struct vn_guest g;
	pid_t old;
	FILE *f;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", 0, NULL) < 0) {
		snprintf(msg, len, "SKIP: cannot mount /proc in the namespace: %s",
			 strerror(errno));
		return 77;
	}
	log_init(true, LOG_CRIT, "test_pmu");
	for (int i = 0; i < 2; i++)
		worker_start(&w[i], i);
	guest_init(&g, 2, w);
	/* affinity within one node: only the exit check looks at the thread */
	g.vv[0].allowed = g.vv[1].allowed = 1;
	sw_events(ev);
	CHECK(pmu_open_events(&s, ev, 2) == 0, "open");
	CHECK(s.ops->attach(&s, &g) == 0, "attach: %s", pmu_last_error(&s));
	worker_do(&w[0], CMD_TOUCH, 200);
	old = w[0].tid;
	worker_do(&w[0], CMD_EXIT, 0);
	/* the final counts */
	CHECK(s.ops->read(&s, &g) == 0 && g.vc[0].delta.valid &&
	      g.vc[0].delta.instructions >= 200, "final counts");
	/*
	 * The next thread of this namespace gets the old number, once the
	 * kernel released it (the join returns before): ask for it until then.
	 */
	for (int tries = 0;; tries++) {
		f = fopen("/proc/sys/kernel/ns_last_pid", "w");
		CHECK(f, "ns_last_pid: %s", strerror(errno));
		fprintf(f, "%d", (int)old - 1);
		CHECK(fclose(f) == 0, "ns_last_pid: %s", strerror(errno));
		worker_start(&again, 0);
		if (again.tid == old)
			break;
		worker_stop(&again);
		if (tries == 200) {
			snprintf(msg, len, "SKIP: thread number %d never came back",
				 (int)old);
			return 77;
		}
		usleep(5000);
	}
	/* the backend still reports the number: the core has not rescanned */
	CHECK(s.ops->read(&s, &g) == 0, "read");
	CHECK(!g.vc[0].delta.valid, "the exited thread reads valid: fooled by "
	      "the reused number %d", (int)old);
	CHECK(pmu_nr_fds(&s) == 4, "%d descriptors: the exited thread's are "
	      "not closed", pmu_nr_fds(&s));
	CHECK(s.ops->read(&s, &g) == 0 && !g.vc[0].delta.valid &&
	      g.vc[1].delta.valid, "later reads");
	s.ops->detach(&s, &g);
	s.ops->close(&s);
	worker_stop(&again);
	worker_stop(&w[0]);
	worker_stop(&w[1]);
	guest_free(&g);
	return 0;
}

static int child_tid_reuse(void *arg, char *msg, size_t len)
{
	int pfd[2], status;
	size_t got = 0;
	ssize_t r;
	pid_t pid;
	(void)arg;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0) {
		snprintf(msg, len, "SKIP: no pid namespace: %s", strerror(errno));
		return 0;
	}
	CHECK(pipe(pfd) == 0, "pipe");
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		char m[2048] = "";
		int rc;

		close(pfd[0]);
		rc = tid_reuse_body(m, sizeof(m));
		if (write(pfd[1], m, strlen(m)) < 0)
			rc = 2;
		_exit(rc);
	}
	close(pfd[1]);
	while ((r = read(pfd[0], msg + got, len - 1 - got)) > 0)
		got += (size_t)r;
	msg[got] = '\0';
	close(pfd[0]);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return 0;	/* the message says SKIP and why */
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* A thread number reused by a new thread does not keep a gone vCPU alive. */
static void test_tid_reuse(void **state)
{
	(void)state;
	in_child(child_tid_reuse, NULL);
}

/* vCPU hot-plug and unplug: groups of remaining threads keep counting. */
static void test_hotplug(void **state)
{
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	struct vn_guest g, never;
	struct pmu_event ev[2];
	struct worker w[3];
	void *kept;
	int before;
	(void)state;

	for (int i = 0; i < 3; i++)
		worker_start(&w[i], i);
	guest_init(&g, 2, w);
	sw_events(ev);
	before = count_fds();
	assert_int_equal(pmu_open_events(&s, ev, 2), 0);

	/* detach of a guest never attached: nothing happens */
	guest_init(&never, 1, w);
	s.ops->detach(&s, &never);
	guest_free(&never);

	assert_int_equal(s.ops->attach(&s, &g), 0);
	assert_int_equal(count_fds(), before + 8);
	kept = g.vc[0].sampler;
	worker_do(&w[0], CMD_TOUCH, 400);

	/* plug vCPU 2 */
	guest_resize(&g, 3, w);
	assert_int_equal(s.ops->attach(&s, &g), 0);
	assert_int_equal(count_fds(), before + 12);
	assert_ptr_equal(g.vc[0].sampler, kept);
	assert_int_equal(s.ops->read(&s, &g), 0);
	/* counted across the re-attach */
	assert_true(g.vc[0].delta.instructions >= 400);
	assert_true(g.vc[2].delta.valid);

	/* unplug vCPUs 1 and 2: the core shrinks vc first, then attaches */
	guest_resize(&g, 1, w);
	assert_int_equal(s.ops->attach(&s, &g), 0);
	/* 3 counters and the stat file read for its node */
	assert_int_equal(count_fds(), before + 4);
	assert_int_equal(pmu_nr_fds(&s), 4);
	/* a vCPU whose thread id is not known yet */
	guest_resize(&g, 2, w);
	g.vc[1].tid = 0;
	assert_int_equal(s.ops->attach(&s, &g), 0);
	assert_null(g.vc[1].sampler);
	assert_int_equal(s.ops->read(&s, &g), 0);
	assert_false(g.vc[1].delta.valid);
	assert_true(g.vc[0].delta.valid);
	/* a vCPU whose thread changed under the sampler reads invalid */
	g.vc[0].tid = w[2].tid;
	assert_int_equal(s.ops->read(&s, &g), -ESRCH);
	assert_false(g.vc[0].delta.valid);
	s.ops->detach(&s, &g);
	assert_int_equal(count_fds(), before);
	s.ops->close(&s);
	for (int i = 0; i < 3; i++)
		worker_stop(&w[i]);
	guest_free(&g);
}

/* ---- falling back to procfs at run time ---- */

/*
 * The mediated vPMU enabled after start-up (kvm_amd loaded later): the next
 * attach closes every group, the guests attached before too, and procfs
 * counts them all from then on.
 */
static int child_mediated_runtime(void *arg, char *msg, size_t len)
{
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	struct pmu_event ev[2];
	struct worker w[3];
	struct vn_guest a, b;
	struct vn_config cfg;
	char *root;
	int before;
	(void)arg;

	log_init(true, LOG_CRIT, "test_pmu");
	config_defaults(&cfg);		/* source = auto */
	s.cfg = &cfg;
	for (int i = 0; i < 3; i++)
		worker_start(&w[i], i);
	guest_init(&a, 2, w);
	guest_init(&b, 1, w + 2);
	b.name = "second";
	sw_events(ev);
	before = count_fds();
	CHECK(pmu_open_events(&s, ev, 2) == 0, "open");
	pmu_assume_core(&s);
	CHECK(s.ops->attach(&s, &a) == 0, "attach a: %s", pmu_last_error(&s));
	CHECK(!pmu_fell_back(&s) && count_fds() == before + 8, "%d descriptors",
	      count_fds() - before);
	worker_do(&w[0], CMD_TOUCH, 100);
	CHECK(s.ops->read(&s, &a) == 0 && a.vc[0].delta.source == VNUMAD_SRC_PMU,
	      "pmu reading");

	root = mediated_root("Y\n");
	sampling_set_sysfs_root(root);
	CHECK(s.ops->attach(&s, &b) == 0, "attach b");
	CHECK(pmu_fell_back(&s), "no fallback with the mediated vPMU enabled");
	/* one stat file per thread, no counter left */
	CHECK(count_fds() == before + 3, "%d descriptors after the fallback",
	      count_fds() - before);
	worker_do(&w[0], CMD_SPIN, 20 * 1000000L);
	CHECK(s.ops->read(&s, &a) == 0, "read a");
	CHECK(s.ops->read(&s, &a) == 0 && s.ops->read(&s, &b) == 0, "read");
	CHECK(a.vc[0].delta.source == VNUMAD_SRC_ESTIMATE ||
	      a.vc[0].delta.source == VNUMAD_SRC_FAULTS, "a counted by %d",
	      a.vc[0].delta.source);
	CHECK(b.vc[0].delta.source != VNUMAD_SRC_PMU, "b counted by the PMU");
	s.ops->detach(&s, &a);
	s.ops->detach(&s, &b);
	CHECK(count_fds() == before, "%d descriptors left", count_fds() - before);
	s.ops->close(&s);
	sampling_set_sysfs_root(NULL);
	rm_tree(root);
	for (int i = 0; i < 3; i++)
		worker_stop(&w[i]);
	guest_free(&a);
	guest_free(&b);
	return 0;
}

static void test_mediated_runtime(void **state)
{
	(void)state;
	in_child(child_mediated_runtime, NULL);
}

/*
 * From now on perf_event_open fails with EOPNOTSUPP, as the kernel answers
 * a guest-counting core event once a guest with a mediated vPMU runs: a
 * seccomp filter on this (child) process, the real call refused for real.
 */
static int refuse_perf_open(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_perf_event_open, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EOPNOTSUPP & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		return -errno;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 ? -errno : 0;
}

/*
 * EOPNOTSUPP at a later attach, the source confirmed long before and no
 * module parameter to tell (a mediated guest started on a kernel that does
 * not show the parameter): the core counters give way to procfs for every
 * guest, those attached before too.
 */
static int child_eopnotsupp_later(void *arg, char *msg, size_t len)
{
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	struct pmu_event ev[2];
	struct worker w[3];
	struct vn_guest a, b;
	struct vn_config cfg;
	char *root = mediated_root("N\n");
	int before, r;
	(void)arg;

	log_init(true, LOG_CRIT, "test_pmu");
	config_defaults(&cfg);		/* source = auto */
	s.cfg = &cfg;
	sampling_set_sysfs_root(root);
	for (int i = 0; i < 3; i++)
		worker_start(&w[i], i);
	guest_init(&a, 2, w);
	guest_init(&b, 1, w + 2);
	b.name = "second";
	sw_events(ev);
	before = count_fds();
	CHECK(pmu_open_events(&s, ev, 2) == 0, "open");
	pmu_assume_core(&s);
	CHECK(s.ops->attach(&s, &a) == 0 && !pmu_fell_back(&s), "attach a: %s",
	      pmu_last_error(&s));
	worker_do(&w[0], CMD_TOUCH, 100);
	CHECK(s.ops->read(&s, &a) == 0 && a.vc[0].delta.source == VNUMAD_SRC_PMU,
	      "pmu reading");

	CHECK((r = refuse_perf_open()) == 0, "seccomp: %s", strerror(-r));
	CHECK(s.ops->attach(&s, &b) == 0, "attach b: %s", pmu_last_error(&s));
	CHECK(pmu_fell_back(&s), "no fallback after EOPNOTSUPP at a later attach");
	CHECK(strstr(pmu_last_error(&s), "Operation not supported") ||
	      strstr(pmu_last_error(&s), "EOPNOTSUPP") || strstr(pmu_last_error(&s), "mediated"),
	      "the reason: %s", pmu_last_error(&s));
	CHECK(count_fds() == before + 3, "%d descriptors after the fallback",
	      count_fds() - before);
	worker_do(&w[0], CMD_SPIN, 20 * 1000000L);
	CHECK(s.ops->read(&s, &a) == 0, "read a");
	CHECK(s.ops->read(&s, &a) == 0 && s.ops->read(&s, &b) == 0, "read");
	CHECK(a.vc[0].delta.source != VNUMAD_SRC_PMU, "a still counted by the PMU");
	CHECK(b.vc[0].delta.source != VNUMAD_SRC_PMU, "b counted by the PMU");
	s.ops->detach(&s, &a);
	s.ops->detach(&s, &b);
	CHECK(count_fds() == before, "%d descriptors left", count_fds() - before);
	s.ops->close(&s);
	sampling_set_sysfs_root(NULL);
	rm_tree(root);
	for (int i = 0; i < 3; i++)
		worker_stop(&w[i]);
	guest_free(&a);
	guest_free(&b);
	return 0;
}

static void test_eopnotsupp_later(void **state)
{
	(void)state;
	in_child(child_eopnotsupp_later, NULL);
}

/*
 * The source is declared once a group opens on a real vCPU thread: under
 * auto, a first attach refused for good hands over to procfs; under pmu it
 * fails and stays.
 */
static int child_first_attach(void *arg, char *msg, size_t len)
{
	const int caps[] = { 21 /* CAP_SYS_ADMIN */, 38 /* CAP_PERFMON */ };
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	int source = *(int *)arg, r;
	struct pmu_event ev[2];
	struct vn_config cfg;
	struct worker w;
	struct vn_guest g;

	log_init(true, LOG_CRIT, "test_pmu");
	config_defaults(&cfg);
	cfg.source = source;
	s.cfg = &cfg;
	worker_start(&w, 0);
	guest_init(&g, 1, &w);
	sw_events(ev);
	CHECK(pmu_open_events(&s, ev, 2) == 0, "open");
	/* kernel-mode counting is refused from now on (paranoid 2) */
	CHECK(drop_caps(caps, 2) == 0, "capset: %s", strerror(errno));
	r = s.ops->attach(&s, &g);
	if (source == VN_SAMPLING_AUTO) {
		CHECK(r == 0 && pmu_fell_back(&s), "auto: attach %d, fell back %d",
		      r, pmu_fell_back(&s));
		worker_do(&w, CMD_SPIN, 20 * 1000000L);
		CHECK(s.ops->read(&s, &g) == 0, "read");
		CHECK(g.vc[0].delta.source != VNUMAD_SRC_PMU, "still the PMU");
	} else {
		CHECK((r == -EACCES || r == -EPERM) && !pmu_fell_back(&s),
		      "pmu: attach %d, fell back %d", r, pmu_fell_back(&s));
		CHECK(strstr(pmu_last_error(&s), "CAP_PERFMON"), "error: %s",
		      pmu_last_error(&s));
	}
	s.ops->detach(&s, &g);
	s.ops->close(&s);
	worker_stop(&w);
	guest_free(&g);
	config_free(&cfg);
	return 0;
}

static void test_first_attach_falls_back(void **state)
{
	static int sources[] = { VN_SAMPLING_AUTO, VN_SAMPLING_PMU };
	(void)state;

	if (perf_paranoid() < 2) {
		skip();	/* the kernel lets anyone count: nothing refuses the attach */
		return;
	}
	in_child(child_first_attach, &sources[0]);
	in_child(child_first_attach, &sources[1]);
}

/* ---- descriptor limits and permission messages ---- */

struct limit_case {
	rlim_t soft, hard;	/* above what is open now */
	int want;		/* attach's result */
};

static int child_limits(void *arg, char *msg, size_t len)
{
	const struct limit_case *lc = arg;
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	const int caps[] = { 24 /* CAP_SYS_RESOURCE */ };
	struct pmu_event ev[2];
	struct worker w[4];
	struct vn_guest g;
	struct rlimit rl;
	int open_now, r;

	log_init(true, LOG_CRIT, "test_pmu");	/* the message is checked, not shown */
	for (int i = 0; i < 4; i++)
		worker_start(&w[i], i);
	guest_init(&g, 4, w);
	sw_events(ev);
	CHECK(pmu_open_events(&s, ev, 2) == 0, "open");
	CHECK(drop_caps(caps, 1) == 0, "capset: %s", strerror(errno));
	open_now = count_fds();
	rl.rlim_cur = (rlim_t)open_now + lc->soft;
	rl.rlim_max = (rlim_t)open_now + lc->hard;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit: %s", strerror(errno));
	r = s.ops->attach(&s, &g);
	CHECK(r == lc->want, "attach gave %d, want %d: %s", r, lc->want,
	      pmu_last_error(&s));
	if (r == -EMFILE) {
		const char *e = pmu_last_error(&s);

		CHECK(strstr(e, "EMFILE") && strstr(e, "too many open files") &&
		      strstr(e, "LimitNOFILE") && !strstr(e, "ermission"),
		      "EMFILE message: %s", e);
	} else {
		CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		      rl.rlim_cur > (rlim_t)open_now + lc->soft,
		      "soft limit not raised: %llu", (unsigned long long)rl.rlim_cur);
		CHECK(pmu_nr_fds(&s) == 16, "%d descriptors", pmu_nr_fds(&s));
	}
	s.ops->detach(&s, &g);
	CHECK(count_fds() == open_now, "descriptors leaked: %d, were %d",
	      count_fds(), open_now);
	s.ops->close(&s);
	return 0;
}

static void test_emfile(void **state)
{
	static const struct limit_case tight = { 5, 5, -EMFILE };
	(void)state;
	in_child(child_limits, (void *)&tight);
}

static void test_nofile_raised(void **state)
{
	static const struct limit_case roomy = { 5, 4096, 0 };
	(void)state;
	in_child(child_limits, (void *)&roomy);
}

/* A hard limit of a few hundred that cannot be raised still leaves room */
static void test_small_hard_limit(void **state)
{
	static const struct limit_case small = { 5, 120, 0 };
	(void)state;
	in_child(child_limits, (void *)&small);
}

static void test_errstr(void **state)
{
	char buf[512];
	(void)state;

	perf_errstr(EMFILE, buf, sizeof(buf));
	assert_non_null(strstr(buf, "EMFILE"));
	assert_non_null(strstr(buf, "too many open files"));
	assert_null(strstr(buf, "ermission"));
	perf_errstr(ENFILE, buf, sizeof(buf));
	assert_non_null(strstr(buf, "fs.file-max"));
	perf_errstr(ENOENT, buf, sizeof(buf));
	assert_non_null(strstr(buf, "PMU"));
	perf_errstr(EACCES, buf, sizeof(buf));
	assert_non_null(strstr(buf, "ermission denied"));
	/* a group that can never fit, not the NMI watchdog */
	perf_errstr(EINVAL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "never fit"));
	assert_null(strstr(buf, "watchdog"));
	/* guest mode refused while a mediated-vPMU guest runs */
	perf_errstr(EOPNOTSUPP, buf, sizeof(buf));
	assert_non_null(strstr(buf, "mediated vPMU"));
	perf_errstr(ENODEV, buf, sizeof(buf));
	assert_non_null(strstr(buf, "feature"));
	/* an extra MSR the kernel cannot write (x86_pmu_extra_regs) */
	perf_errstr(ENXIO, buf, sizeof(buf));
	assert_non_null(strstr(buf, "No such device or address"));
	assert_non_null(strstr(buf, "offcore response MSR"));
	assert_non_null(strstr(buf, "hypervisor"));
	assert_null(strstr(buf, "no device"));
}

/* The highest capability this kernel knows. */
static int cap_last(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = -1;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* Sets the effective and permitted capabilities to the one given, or none. */
static int caps_only(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (cap >= 0) {
		d[cap / 32].effective = 1u << (cap % 32);
		d[cap / 32].permitted = 1u << (cap % 32);
	}
	return (int)syscall(SYS_capset, &h, d);
}

/*
 * CAP_PERFMON alone lets vnumad count any thread (the kernel checks
 * perfmon_capable() || ptrace_may_access()). With CAP_PERFMON and without
 * CAP_SYS_PTRACE the EACCES advice asks for nothing more. As user nobody
 * holding CAP_PERFMON and no other capability, vnumad counts a thread of
 * root's (the test's parent); with no capability left the same attach is
 * refused, and the reason names CAP_PERFMON and not CAP_SYS_PTRACE.
 * Capabilities only ever go down here, so the steps run in that order.
 */
static int child_perfmon_alone(void *arg, char *msg, size_t len)
{
	const int ptrace[] = { 19 /* CAP_SYS_PTRACE */ };
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	struct worker root_thread = { .tid = getppid() };
	struct vn_config cfg;
	struct vn_guest g;
	char buf[512];
	int r;
	(void)arg;

	CHECK(drop_caps(ptrace, 1) == 0, "capset: %s", strerror(errno));
	perf_errstr(EACCES, buf, sizeof(buf));
	CHECK(!strstr(buf, "CAP_SYS_PTRACE") && !strstr(buf, "grant"),
	      "with CAP_PERFMON the advice asks for more: %s", buf);

	CHECK(prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) == 0, "keepcaps: %s",
	      strerror(errno));
	CHECK(setresgid(65534, 65534, 65534) == 0 &&
	      setresuid(65534, 65534, 65534) == 0, "setresuid: %s", strerror(errno));
	CHECK(caps_only(38 /* CAP_PERFMON */) == 0, "capset: %s", strerror(errno));
	config_defaults(&cfg);
	cfg.source = VN_SAMPLING_PMU;
	cfg.events = strdup("perf::task-clock,perf::page-faults,"
			    "perf::minor-faults,perf::page-faults");
	s.cfg = &cfg;
	guest_init(&g, 1, &root_thread);
	g.pid = root_thread.tid;
	CHECK(s.ops->open(&s) == 0, "open as nobody with CAP_PERFMON failed");
	r = s.ops->attach(&s, &g);
	CHECK(r == 0 && pmu_nr_fds(&s) > 0, "nobody with CAP_PERFMON cannot count "
	      "root's thread %d: %d, %s", (int)root_thread.tid, r, pmu_last_error(&s));
	CHECK(s.ops->read(&s, &g) == 0, "read");
	s.ops->detach(&s, &g);

	CHECK(caps_only(-1) == 0, "capset: %s", strerror(errno));
	r = s.ops->attach(&s, &g);
	CHECK(r == -EACCES || r == -EPERM, "nobody without a capability counts "
	      "root's thread: %d", r);
	CHECK(strstr(pmu_last_error(&s), "CAP_PERFMON") &&
	      !strstr(pmu_last_error(&s), "CAP_SYS_PTRACE"), "reason: %s",
	      pmu_last_error(&s));
	s.ops->detach(&s, &g);
	s.ops->close(&s);
	guest_free(&g);
	config_free(&cfg);
	return 0;
}

static void test_perfmon_alone(void **state)
{
	(void)state;
	if (geteuid() != 0 || cap_last() < 38) {
		skip();	/* needs root to become nobody, and a kernel with CAP_PERFMON */
		return;
	}
	in_child(child_perfmon_alone, NULL);
}

/* Without CAP_PERFMON and CAP_SYS_ADMIN, paranoid 2 forbids kernel counting. */
static int child_paranoid(void *arg, char *msg, size_t len)
{
	const int caps[] = { 21 /* CAP_SYS_ADMIN */, 38 /* CAP_PERFMON */ };
	struct pmu_event ev[2];
	char why[1024];
	int r;
	(void)arg;

	CHECK(drop_caps(caps, 2) == 0, "capset: %s", strerror(errno));
	sw_events(ev);
	r = pmu_probe(ev, 2, why, sizeof(why));
	CHECK(r == -EACCES || r == -EPERM, "probe gave %d: %s", r, why);
	CHECK(strstr(why, "perf_event_paranoid") && strstr(why, "CAP_PERFMON") &&
	      strstr(why, "sysctl kernel.perf_event_paranoid=1"), "why: %s", why);
	return 0;
}

static void test_paranoid_message(void **state)
{
	(void)state;
	if (perf_paranoid() < 2) {
		skip();	/* the kernel lets anyone count: nothing to refuse */
		return;
	}
	in_child(child_paranoid, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_lookup),
		cmocka_unit_test(test_cpu_identify),
		cmocka_unit_test(test_table_encodings_forced),
		cmocka_unit_test(test_table_resolve_unforced),
		cmocka_unit_test(test_not_local_covers_snc_pmm_cxl),
		cmocka_unit_test(test_amd_demand_fills),
		cmocka_unit_test(test_refused_models),
		cmocka_unit_test(test_kernel_knows_model),
		cmocka_unit_test(test_events_override),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_probe_self_test),
		cmocka_unit_test(test_mediated_select),
		cmocka_unit_test(test_eopnotsupp_blames_mediated),
		cmocka_unit_test(test_registry_reason_whole),
		cmocka_unit_test(test_open_with_events),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_read_delta_real_threads),
		cmocka_unit_test(test_thread_exit),
		cmocka_unit_test(test_tid_reuse),
		cmocka_unit_test(test_hotplug),
		cmocka_unit_test(test_mediated_runtime),
		cmocka_unit_test(test_eopnotsupp_later),
		cmocka_unit_test(test_first_attach_falls_back),
		cmocka_unit_test(test_emfile),
		cmocka_unit_test(test_nofile_raised),
		cmocka_unit_test(test_small_hard_limit),
		cmocka_unit_test(test_errstr),
		cmocka_unit_test(test_perfmon_alone),
		cmocka_unit_test(test_paranoid_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
