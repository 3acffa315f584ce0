// SPDX-License-Identifier: MIT
/*
 * The procfs source and the parsers under both sources: numa_maps, the
 * thread stat file and the NUMA-balancing fault lines of the sched file;
 * then a real process standing in for a hypervisor, whose threads are named
 * like QEMU's vCPU threads and whose memory libnuma placed on node 0.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <numa.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "sampling.h"
#include "sampling_impl.h"

#define MiB_ (1024ULL * 1024)
#define GiB_ (1024ULL * MiB_)

/* ---- numa_maps ---- */

static const char maps_text[] =
	"55d0a1a00000 default file=/usr/bin/qemu-system-x86_64 mapped=1000 mapmax=2 N0=600 N1=400 kernelpagesize_kB=4\n"
	"7f0000000000 bind:0 anon=262144 dirty=262144 active=0 N0=262144 kernelpagesize_kB=4\n"
	"7f1000000000 interleave:0-1 anon=1024 dirty=1024 N0=512 N1=512 kernelpagesize_kB=4\n"
	/* hugetlbfs: counts are 2 MiB pages */
	"7f2000000000 default file=/dev/hugepages/libvirt/qemu/1-vm/qemu_back_mem.pc.ram huge dirty=16 N1=16 kernelpagesize_kB=2048\n"
	/* a 1 GiB page */
	"7f3000000000 default file=/dev/hugepages1G/x huge dirty=1 N1=1 kernelpagesize_kB=1048576\n"
	/* an escaped file name that looks like a node count must not count */
	"7f4000000000 default file=/tmp/a\\040N3=999\\040b mapped=2 N2=2 kernelpagesize_kB=4\n"
	/* no pages: no counts, no size */
	"7f5000000000 default file=/usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7ffc00000000 default stack anon=33 dirty=33 N0=33 kernelpagesize_kB=4\n"
	/* a node beyond VN_MAX_NODES is ignored */
	"7ffd00000000 default anon=5 N70=5 kernelpagesize_kB=4\n"
	/* the last line may lack its newline */
	"7ffe00000000 default heap anon=10 dirty=10 N1=10 kernelpagesize_kB=4";

static void test_numa_maps_parse(void **state)
{
	uint64_t mem[VN_MAX_NODES];
	int n;
	(void)state;

	n = numa_maps_parse(maps_text, strlen(maps_text), mem);
	assert_int_equal(n, 8);	/* lines with pages on a node we keep */
	assert_int_equal(mem[0], (600 + 262144 + 512 + 33) * 4096ULL);
	assert_int_equal(mem[1], (400 + 512 + 10) * 4096ULL + 16 * 2 * MiB_ + GiB_);
	assert_int_equal(mem[2], 2 * 4096ULL);
	assert_int_equal(mem[3], 0);
	for (int i = 4; i < VN_MAX_NODES; i++)
		assert_int_equal(mem[i], 0);

	/* parsing is a sum: no state carried from a previous call */
	n = numa_maps_parse(maps_text, strlen(maps_text), mem);
	assert_int_equal(mem[0], (600 + 262144 + 512 + 33) * 4096ULL);

	/* empty input, and input that is not numa_maps */
	assert_int_equal(numa_maps_parse("", 0, mem), 0);
	assert_int_equal(mem[0], 0);
	assert_int_equal(numa_maps_parse("hello N0=5 kernelpagesize_kB=4\n"
					 "7f00 default anon=1 N0=1 kernelpagesize_kB=4\n",
					 strlen("hello N0=5 kernelpagesize_kB=4\n"
						"7f00 default anon=1 N0=1 kernelpagesize_kB=4\n"),
					 mem), -EINVAL);
	assert_int_equal(mem[0], 4096);	/* the good line still counts */
	/* a line cut in the middle of a count */
	assert_int_equal(numa_maps_parse("7f00 default N0=", 16, mem), 0);
	assert_int_equal(numa_maps_parse("7f00 default N0=12", 18, mem), 1);
	assert_int_equal(mem[0], 12 * 4096);
	/* the size defaults to 4 KiB when the line has none */
	assert_int_equal(numa_maps_parse("7f00 default N1=3\n", 18, mem), 1);
	assert_int_equal(mem[1], 3 * 4096);
}

/* The file reader streams through a fixed buffer: lines cross its edges. */
static void test_numa_maps_read_big(void **state)
{
	char path[] = "/tmp/test_procfs_mapsXXXXXX";
	uint64_t mem[VN_MAX_NODES], want[VN_MAX_NODES];
	size_t cap = 8 * MiB_, len = 0;
	char *buf = malloc(cap);
	int fd;
	(void)state;

	assert_non_null(buf);
	for (int i = 0; len + 200 < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len,
			"%012lx default anon=%d dirty=%d N%d=%d N%d=%d kernelpagesize_kB=4\n",
			0x7f0000000L + i, 3 * i, 3 * i, i % 4, i, (i + 1) % 4, 2 * i);
	assert_int_equal(numa_maps_parse(buf, len, want) > 0, 1);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	assert_int_equal(numa_maps_read_path(path, mem), 0);
	unlink(path);
	assert_memory_equal(mem, want, sizeof(mem));
	assert_true(want[0] > 0 && want[3] > 0);
	assert_int_equal(numa_maps_read_path("/nonexistent/numa_maps", mem), -ENOENT);
	free(buf);
}

static void test_numa_maps_self(void **state)
{
	uint64_t mem[VN_MAX_NODES], total = 0;
	(void)state;

	if (access("/proc/self/numa_maps", R_OK) != 0) {
		skip();	/* kernel without CONFIG_NUMA */
		return;
	}
	assert_int_equal(numa_maps_read(getpid(), mem), 0);
	for (int i = 0; i < VN_MAX_NODES; i++)
		total += mem[i];
	assert_true(total > 0);
	assert_int_equal(numa_maps_read(0, mem), -ESRCH);
}

/* ---- the thread stat and sched files ---- */

static void test_stat_parse(void **state)
{
	/* comm with spaces and a ')' of its own */
	static const char stat[] =
		"4242 (CPU 0/KVM) x)) S 4200 4200 4200 0 -1 4194624 17 0 0 0 "
		"1234 567 0 0 20 0 7 0 100 1000000 300 18446744073709551615 1 1 0 0 "
		"0 0 0 4096 0 0 0 0 -1 13 0 0 0 0 0\n";
	int cpu = -5;
	uint64_t ticks = 0;
	(void)state;

	assert_int_equal(proc_stat_parse(stat, strlen(stat), &cpu, &ticks), 0);
	assert_int_equal(cpu, 13);
	assert_int_equal(ticks, 1234 + 567);
	assert_int_equal(proc_stat_parse("4242 (x) S 1 2\n", 15, &cpu, &ticks), -EINVAL);
	assert_int_equal(proc_stat_parse("no paren", 8, &cpu, &ticks), -EINVAL);
	{
		uint64_t start = 0;

		assert_int_equal(proc_stat_start(stat, strlen(stat), &start), 0);
		assert_int_equal(start, 100);
		assert_int_equal(proc_stat_start("4242 (x) S 1 2\n", 15, &start), -EINVAL);
	}

	/* and this thread's own, against sched_getcpu() */
	char buf[1024], path[64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)gettid());
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = pread_all(fd, buf, sizeof(buf));
	close(fd);
	assert_true(n > 0);
	assert_int_equal(proc_stat_parse(buf, (size_t)n, &cpu, &ticks), 0);
	assert_true(cpu >= 0 && cpu < 4096);
}

static void test_sched_faults_parse(void **state)
{
	static const char now[] =
		"qemu-system-x86 (4242, #threads: 9)\n"
		"-------------------------------------------------------------------\n"
		"se.exec_start                                :       8122145.231437\n"
		"mm->numa_scan_seq                            :                   12\n"
		"total_numa_faults                            :                  900\n"
		"current_node=1, numa_group_id=4242\n"
		"numa_faults node=0 task_private=100 task_shared=20 group_private=700 group_shared=80\n"
		"numa_faults node=1 task_private=300 task_shared=80 group_private=10 group_shared=3\n";
	static const char old[] =
		"numa_faults_memory, 0, 0, 1, 0, 40\n"
		"numa_faults_memory, 1, 0, 0, 0, 2\n"
		"numa_faults_memory, 0, 1, 0, 1, 58\n"
		"numa_faults_memory, 1, 1, 0, 0, -1\n";
	static const char none[] =
		"se.exec_start                                :       8122145.231437\n"
		"policy                                       :                    0\n";
	uint64_t f[VN_MAX_NODES];
	(void)state;

	assert_int_equal(sched_faults_parse(now, strlen(now), f), 2);
	assert_int_equal(f[0], 120);
	assert_int_equal(f[1], 380);
	assert_int_equal(f[2], 0);
	assert_int_equal(sched_faults_parse(old, strlen(old), f), 4);
	assert_int_equal(f[0], 42);
	assert_int_equal(f[1], 58);
	assert_int_equal(sched_faults_parse(none, strlen(none), f), 0);
	assert_int_equal(f[0], 0);
}

/* ---- a process that looks like QEMU ---- */

static volatile sig_atomic_t stop_thread[8];

static void *guest_thread(void *arg)
{
	long idx = (long)arg;
	char name[16];

	snprintf(name, sizeof(name), "CPU %ld/KVM", idx);
	pthread_setname_np(pthread_self(), name);
	while (!stop_thread[idx]) {
		if (idx == 0) {
			for (volatile int i = 0; i < 100000; i++)
				;	/* a busy vCPU */
		} else {
			usleep(2000);	/* an idle one */
		}
	}
	return NULL;
}

/*
 * The fake hypervisor: memory on node 0 through libnuma, touched; n threads
 * named "CPU i/KVM". It obeys one-byte commands on its stdin pipe: a digit
 * stops that thread, EOF ends it.
 */
static pid_t fake_guest(int n, size_t bytes, int *ctl)
{
	int cmd[2], ready[2];
	pid_t pid;
	char c;

	if (pipe(cmd) < 0 || pipe(ready) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		pthread_t th[8];
		char *mem;

		close(cmd[1]);
		close(ready[0]);
		if (numa_available() < 0)
			_exit(3);
		mem = numa_alloc_onnode(bytes, 0);
		if (!mem)
			_exit(4);
		memset(mem, 1, bytes);
		for (long i = 0; i < n; i++)
			pthread_create(&th[i], NULL, guest_thread, (void *)i);
		if (write(ready[1], "r", 1) != 1)
			_exit(5);
		while (read(cmd[0], &c, 1) == 1) {
			if (c >= '0' && c < '0' + n) {
				stop_thread[c - '0'] = 1;
				pthread_join(th[c - '0'], NULL);
			}
		}
		for (int i = 0; i < n; i++)
			stop_thread[i] = 1;
		_exit(0);
	}
	close(cmd[0]);
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		close(cmd[1]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(ready[0]);
	*ctl = cmd[1];
	return pid;
}

/* Finds the vCPU threads as the proc backend does: by their comm. */
static int find_vcpus(pid_t pid, pid_t *tids, int max)
{
	char path[300], comm[64];
	struct dirent *e;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		int vcpu;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) &&
		    sscanf(comm, "CPU %d/KVM", &vcpu) == 1 && vcpu >= 0 && vcpu < max) {
			tids[vcpu] = atoi(e->d_name);
			found++;
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

static bool task_exists(pid_t pid, pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
	return access(path, F_OK) == 0;
}

static double ratio(const struct vn_counts *c)
{
	uint64_t a = c->local_dram + c->remote_dram;

	return a ? (double)c->remote_dram / (double)a : -1;
}

static void test_procfs_fake_guest(void **state)
{
	struct vn_sampler s = { .ops = &procfs_sampler_ops };
	const size_t bytes = 64 * MiB_;
	struct vn_config cfg;
	struct vn_guest g;
	pid_t pid, tids[3] = { 0 };
	int ctl, status, fds;
	(void)state;

	if (numa_available() < 0) {
		skip();
		return;
	}
	log_init(true, LOG_WARNING, "test_procfs");
	pid = fake_guest(3, bytes, &ctl);
	assert_true(pid > 0);
	for (int tries = 0; find_vcpus(pid, tids, 3) < 3 && tries < 100; tries++)
		usleep(10000);
	assert_int_equal(find_vcpus(pid, tids, 3), 3);

	config_defaults(&cfg);
	s.cfg = &cfg;
	memset(&g, 0, sizeof(g));
	g.name = "fake";
	g.pid = pid;
	g.nr_vcpus = 3;
	g.vc = calloc(3, sizeof(*g.vc));
	g.vv = calloc(3, sizeof(*g.vv));
	for (int i = 0; i < 3; i++)
		g.vc[i].tid = tids[i];

	assert_int_equal(s.ops->open(&s), 0);
	assert_int_equal(s.ops->attach(&s, &g), 0);
	fds = procfs_nr_fds(&s);
	assert_int_equal(fds, 3);	/* one stat file per thread */

	/* where its memory is: at least what libnuma put on node 0 */
	assert_int_equal(s.ops->memory(&s, &g), 0);
	assert_true(g.v.mem[0] >= bytes);
	{
		uint64_t sum = 0;

		for (int n = 0; n < VN_MAX_NODES; n++)
			sum += g.v.mem[n];
		assert_int_equal(sum, g.v.mem_total);
	}

	usleep(300000);
	assert_int_equal(s.ops->read(&s, &g), 0);
	for (int i = 0; i < 3; i++) {
		const struct vn_counts *c = &g.vc[i].delta;

		assert_true(c->valid);
		assert_true(c->source == VNUMAD_SRC_ESTIMATE ||
			    c->source == VNUMAD_SRC_FAULTS);
		if (!procfs_uses_faults(&s))
			assert_int_equal(c->source, VNUMAD_SRC_ESTIMATE);
		assert_int_equal(c->cycles, 0);
		assert_int_equal(c->instructions, 0);
		assert_true(c->node >= 0);
		assert_true(c->elapsed >= 0.29 && c->elapsed < 30);
		/* the weights are the CPU time in microseconds */
		assert_true(llabs((long long)(c->local_dram + c->remote_dram) -
				  llround(c->cpu_time * 1e6)) <= 1);
	}
	/* the busy vCPU ran, the idle ones hardly */
	assert_true(g.vc[0].delta.cpu_time >= 0.05);
	assert_true(g.vc[1].delta.cpu_time < 0.1);
	{
		const struct vn_counts *c = &g.vc[0].delta;

		if (c->source == VNUMAD_SRC_ESTIMATE)
			assert_true(fabs(ratio(c) - (1.0 - (double)g.v.mem[c->node] /
						     (double)g.v.mem_total)) < 0.001);
		/* one node, all memory on it: nothing is remote */
		if (numa_num_configured_nodes() == 1)
			assert_int_equal(c->remote_dram, 0);
	}

	/* the estimate follows the memory distribution the core holds */
	if (g.vc[0].delta.source == VNUMAD_SRC_ESTIMATE) {
		int here = g.vc[0].delta.node, other = here == 0 ? 1 : 0;

		memset(g.v.mem, 0, sizeof(g.v.mem));
		g.v.mem[here] = 1 * GiB_;
		g.v.mem[other] = 3 * GiB_;
		g.v.mem_total = 4 * GiB_;
		usleep(200000);
		assert_int_equal(s.ops->read(&s, &g), 0);
		if (g.vc[0].delta.node == here) {
			assert_true(g.vc[0].delta.cpu_time > 0.05);
			assert_true(fabs(ratio(&g.vc[0].delta) - 0.75) < 0.001);
		}
		/* an idle thread weighs nothing, whatever the share */
		assert_true(g.vc[1].delta.local_dram + g.vc[1].delta.remote_dram <
			    g.vc[0].delta.local_dram + g.vc[0].delta.remote_dram);
	}

	/* vCPU 2's thread exits: invalid from then on, its file closed */
	assert_int_equal(write(ctl, "2", 1), 1);
	for (int tries = 0; task_exists(pid, tids[2]) && tries < 200; tries++)
		usleep(5000);
	assert_false(task_exists(pid, tids[2]));
	assert_int_equal(s.ops->read(&s, &g), 0);
	assert_true(g.vc[0].delta.valid);
	assert_false(g.vc[2].delta.valid);
	assert_int_equal(procfs_nr_fds(&s), fds - 1 +
			 (procfs_uses_faults(&s) ? 2 : 0));

	/* the whole guest goes */
	close(ctl);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(s.ops->read(&s, &g), -ESRCH);
	for (int i = 0; i < 3; i++)
		assert_false(g.vc[i].delta.valid);
	assert_int_equal(s.ops->memory(&s, &g), -ESRCH);
	assert_int_equal(procfs_nr_fds(&s), 0);
	s.ops->detach(&s, &g);
	assert_null(g.sampler);
	s.ops->detach(&s, &g);
	s.ops->close(&s);
	free(g.vc);
	free(g.vv);
	config_free(&cfg);
}

/*
 * A thread's first reading covers its life so far: read in the tick that
 * attaches it, it already has CPU time and a locality figure.
 */
static void test_procfs_first_reading(void **state)
{
	struct vn_sampler s = { .ops = &procfs_sampler_ops };
	struct vn_config cfg;
	struct vn_guest g;
	pid_t pid, tids[2] = { 0 };
	int ctl;
	(void)state;

	if (numa_available() < 0) {
		skip();
		return;
	}
	log_init(true, LOG_WARNING, "test_procfs");
	pid = fake_guest(2, 16 * MiB_, &ctl);
	assert_true(pid > 0);
	for (int tries = 0; find_vcpus(pid, tids, 2) < 2 && tries < 100; tries++)
		usleep(10000);
	assert_int_equal(find_vcpus(pid, tids, 2), 2);
	usleep(400000);		/* the busy thread runs 0.4 s before it is found */
	config_defaults(&cfg);
	s.cfg = &cfg;
	memset(&g, 0, sizeof(g));
	g.name = "fake";
	g.pid = pid;
	g.nr_vcpus = 2;
	g.vc = calloc(2, sizeof(*g.vc));
	g.vv = calloc(2, sizeof(*g.vv));
	for (int i = 0; i < 2; i++)
		g.vc[i].tid = tids[i];
	assert_int_equal(s.ops->open(&s), 0);
	assert_int_equal(s.ops->attach(&s, &g), 0);
	assert_int_equal(s.ops->memory(&s, &g), 0);
	assert_int_equal(s.ops->read(&s, &g), 0);
	assert_true(g.vc[0].delta.valid);
	assert_true(g.vc[0].delta.elapsed >= 0.35 && g.vc[0].delta.elapsed < 30);
	assert_true(g.vc[0].delta.cpu_time >= 0.1);
	assert_true(g.vc[0].delta.local_dram + g.vc[0].delta.remote_dram > 0);
	/* the next reading covers the interval since this one */
	usleep(100000);
	assert_int_equal(s.ops->read(&s, &g), 0);
	assert_true(g.vc[0].delta.elapsed < 0.3);
	close(ctl);
	waitpid(pid, NULL, 0);
	s.ops->detach(&s, &g);
	s.ops->close(&s);
	free(g.vc);
	free(g.vv);
	config_free(&cfg);
}

/* The PMU sampler reads memory the same way, without being opened. */
static void test_pmu_memory_same(void **state)
{
	struct vn_sampler s = { .ops = &pmu_sampler_ops };
	const size_t bytes = 32 * MiB_;
	struct vn_guest g;
	pid_t pid;
	int ctl;
	(void)state;

	if (numa_available() < 0) {
		skip();
		return;
	}
	pid = fake_guest(1, bytes, &ctl);
	assert_true(pid > 0);
	memset(&g, 0, sizeof(g));
	g.name = "fake";
	g.pid = pid;
	assert_int_equal(s.ops->memory(&s, &g), 0);
	assert_true(g.v.mem[0] >= bytes);
	close(ctl);
	waitpid(pid, NULL, 0);
}

/* Re-attaching keeps the threads already watched. */
static void test_procfs_reattach(void **state)
{
	struct vn_sampler s = { .ops = &procfs_sampler_ops };
	struct vn_guest g;
	pid_t pid, tids[2] = { 0 };
	void *kept;
	int ctl;
	(void)state;

	log_init(true, LOG_WARNING, "test_procfs");
	pid = fake_guest(2, 4 * MiB_, &ctl);
	assert_true(pid > 0);
	for (int tries = 0; find_vcpus(pid, tids, 2) < 2 && tries < 100; tries++)
		usleep(10000);
	memset(&g, 0, sizeof(g));
	g.name = "fake";
	g.pid = pid;
	g.nr_vcpus = 1;
	g.vc = calloc(2, sizeof(*g.vc));
	g.vc[0].tid = tids[0];
	g.vc[1].tid = tids[1];
	assert_int_equal(s.ops->open(&s), 0);
	s.ops->detach(&s, &g);	/* never attached: nothing to do */
	assert_int_equal(s.ops->attach(&s, &g), 0);
	kept = g.vc[0].sampler;
	assert_non_null(kept);
	g.nr_vcpus = 2;
	assert_int_equal(s.ops->attach(&s, &g), 0);
	assert_ptr_equal(g.vc[0].sampler, kept);
	assert_int_equal(procfs_nr_fds(&s), 2);
	g.nr_vcpus = 1;
	assert_int_equal(s.ops->attach(&s, &g), 0);
	assert_int_equal(procfs_nr_fds(&s), 1);
	s.ops->detach(&s, &g);
	assert_int_equal(procfs_nr_fds(&s), 0);
	s.ops->close(&s);
	close(ctl);
	waitpid(pid, NULL, 0);
	free(g.vc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numa_maps_parse),
		cmocka_unit_test(test_numa_maps_read_big),
		cmocka_unit_test(test_numa_maps_self),
		cmocka_unit_test(test_stat_parse),
		cmocka_unit_test(test_sched_faults_parse),
		cmocka_unit_test(test_procfs_fake_guest),
		cmocka_unit_test(test_procfs_first_reading),
		cmocka_unit_test(test_pmu_memory_same),
		cmocka_unit_test(test_procfs_reattach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
