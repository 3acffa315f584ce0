// SPDX-License-Identifier: MIT
/*
 * Memory per node from the memory cgroup (sampling/cgroup.c): the parsers
 * of mountinfo, /proc/PID/cgroup, memory.numa_stat (v1 and v2) and
 * /proc/PID/status on canned text; the v2 walk up from a threaded cgroup
 * on a directory tree laid out as libvirt lays it; then real processes
 * (tests/fakeguest) in memory cgroups of their own, whose figures must be
 * those of numa_maps, and in cgroups that must be turned away.
 */
#include <errno.h>
#include <limits.h>
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
#include <unistd.h>
#include <cmocka.h>

#include "../cgtest.h"
#include "log.h"
#include "sampling.h"
#include "sampling_impl.h"

#define MiB_ (1024ULL * 1024)

/* ---- mountinfo ---- */

/* as on these machines: v1 hierarchies, one of them memory, and cgroup2 */
static const char mountinfo_hybrid[] =
	"24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
	"33 24 0:28 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755\n"
	"34 33 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:10 - cgroup cgroup rw,cpu\n"
	"35 33 0:30 / /sys/fs/cgroup/memory rw,relatime shared:11 - cgroup cgroup rw,memory\n"
	"36 33 0:31 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"37 33 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* systemd on cgroup v2 alone; "memory_recursiveprot" must not pass for v1 memory */
static const char mountinfo_v2[] =
	"26 23 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";

/* a container: a bind mount of a subtree, at a mount point with a blank */
static const char mountinfo_sub[] =
	"40 33 0:30 /lxc/c1 /sys/fs/my\\040cgroup rw - cgroup cgroup rw,cpuset,memory\n";

static void test_mounts(void **state)
{
	struct cg_mounts m;
	(void)state;

	assert_int_equal(cg_mounts_parse(mountinfo_hybrid, sizeof(mountinfo_hybrid) - 1, &m), 2);
	assert_string_equal(m.v1, "/sys/fs/cgroup/memory");
	assert_string_equal(m.v1_root, "/");
	assert_string_equal(m.v2, "/sys/fs/cgroup/unified");

	assert_int_equal(cg_mounts_parse(mountinfo_v2, sizeof(mountinfo_v2) - 1, &m), 1);
	assert_string_equal(m.v1, "");
	assert_string_equal(m.v2, "/sys/fs/cgroup");

	assert_int_equal(cg_mounts_parse(mountinfo_sub, sizeof(mountinfo_sub) - 1, &m), 1);
	assert_string_equal(m.v1, "/sys/fs/my cgroup");
	assert_string_equal(m.v1_root, "/lxc/c1");

	assert_int_equal(cg_mounts_parse("", 0, &m), 0);
	assert_int_equal(cg_mounts_parse("garbage\n1 2 3\n", 14, &m), 0);
}

/* ---- /proc/PID/cgroup ---- */

static void test_resolve_v1(void **state)
{
	static const char pc[] =
		"9:name=systemd:/machine/qemu-1-vm.libvirt-qemu\n"
		"4:memory:/machine/qemu-1-vm.libvirt-qemu\n"
		"3:cpuset:/machine/qemu-1-vm.libvirt-qemu/emulator\n"
		"0::/\n";
	struct cg_mounts m;
	char dir[PATH_MAX], why[256];
	(void)state;

	cg_mounts_parse(mountinfo_hybrid, sizeof(mountinfo_hybrid) - 1, &m);
	assert_int_equal(cg_resolve(&m, pc, sizeof(pc) - 1, dir, sizeof(dir), why,
				    sizeof(why)), 1);
	assert_string_equal(dir, "/sys/fs/cgroup/memory/machine/qemu-1-vm.libvirt-qemu");

	/* the root cgroup: its directory, judged later against the process */
	assert_int_equal(cg_resolve(&m, "4:memory:/\n", 11, dir, sizeof(dir), why,
				    sizeof(why)), 1);
	assert_string_equal(dir, "/sys/fs/cgroup/memory");

	/* a bind-mounted subtree: paths under it only */
	cg_mounts_parse(mountinfo_sub, sizeof(mountinfo_sub) - 1, &m);
	assert_int_equal(cg_resolve(&m, "5:cpuset,memory:/lxc/c1/vm\n", 27, dir,
				    sizeof(dir), why, sizeof(why)), 1);
	assert_string_equal(dir, "/sys/fs/my cgroup/vm");
	assert_int_equal(cg_resolve(&m, "5:cpuset,memory:/lxc/c10\n", 25, dir,
				    sizeof(dir), why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "is not under the memory hierarchy"));

	/* no memory controller anywhere */
	assert_int_equal(cg_resolve(&m, "3:cpuset:/x\n", 12, dir, sizeof(dir), why,
				    sizeof(why)), -ENOENT);
	assert_string_equal(why, "it is in no memory cgroup");
	/* no hierarchy ever mounted (a bare initramfs): the file is empty */
	memset(&m, 0, sizeof(m));
	assert_int_equal(cg_resolve(&m, "", 0, dir, sizeof(dir), why, sizeof(why)),
			 -ENOENT);
	assert_string_equal(why, "it is in no memory cgroup");
}

/* Makes the directories of path under root and, when file, that file in the last. */
static void mkpath(const char *root, const char *path, const char *file)
{
	char p[PATH_MAX], *s;

	snprintf(p, sizeof(p), "%s/%s", root, path);
	for (s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
	if (file) {
		FILE *f;

		strncat(p, "/", sizeof(p) - strlen(p) - 1);
		strncat(p, file, sizeof(p) - strlen(p) - 1);
		f = fopen(p, "w");
		assert_non_null(f);
		fclose(f);
	}
}

static void test_resolve_v2(void **state)
{
	static const char scope[] = "machine.slice/machine-qemu\\x2d1\\x2dvm.scope";
	char root[] = "/tmp/vnumad-cgtest-XXXXXX", pc[512], dir[PATH_MAX], want[PATH_MAX];
	char why[256], cmd[600];
	struct cg_mounts m;
	(void)state;

	assert_non_null(mkdtemp(root));
	memset(&m, 0, sizeof(m));
	snprintf(m.v2, sizeof(m.v2), "%s", root);
	snprintf(m.v2_root, sizeof(m.v2_root), "/");
	/* libvirt on v2: the emulator and vCPU cgroups are threaded, the
	 * domain's own "libvirt" cgroup holds the memory figures */
	snprintf(want, sizeof(want), "%s/libvirt", scope);
	mkpath(root, want, "memory.numa_stat");
	snprintf(want, sizeof(want), "%s/libvirt/emulator", scope);
	mkpath(root, want, "cgroup.threads");
	snprintf(pc, sizeof(pc), "0::/%s/libvirt/emulator\n", scope);
	assert_int_equal(cg_resolve(&m, pc, strlen(pc), dir, sizeof(dir), why,
				    sizeof(why)), 2);
	snprintf(want, sizeof(want), "%s/%s/libvirt", root, scope);
	assert_string_equal(dir, want);

	/* nothing up to the mount: no memory controller there */
	mkpath(root, "user.slice/session-1.scope", NULL);
	assert_int_equal(cg_resolve(&m, "0::/user.slice/session-1.scope\n", 32, dir,
				    sizeof(dir), why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "no memory.numa_stat in its cgroup /user.slice"));

	/* a v1 memory line wins on a hybrid host, v2 is used without one */
	snprintf(pc, sizeof(pc), "1:name=systemd:/\n0::/%s/libvirt/emulator\n", scope);
	assert_int_equal(cg_resolve(&m, pc, strlen(pc), dir, sizeof(dir), why,
				    sizeof(why)), 2);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* ---- memory.numa_stat ---- */

static void test_numa_stat_v1(void **state)
{
	static const char v1[] =
		"total=262166 N0=131072 N1=131094\n"
		"file=2 N0=0 N1=2\n"
		"anon=262164 N0=131072 N1=131092\n"
		"unevictable=100 N0=0 N1=100\n"
		"hierarchical_total=999999 N0=999999 N1=0\n"
		"hierarchical_anon=999999 N0=999999 N1=0\n";
	uint64_t mem[VN_MAX_NODES], pg = (uint64_t)sysconf(_SC_PAGESIZE);
	(void)state;

	assert_int_equal(numa_stat_parse(v1, sizeof(v1) - 1, 1, mem), 0);
	/* anon + unevictable of the cgroup itself, in pages; no file, no children */
	assert_int_equal(mem[0], 131072 * pg);
	assert_int_equal(mem[1], (131092 + 100) * pg);
	assert_int_equal(mem[2], 0);
	/* without its unevictable line, or its anon line: not a numa_stat */
	assert_int_equal(numa_stat_parse(v1, 33 + 17 + 32, 1, mem), -EINVAL);
	assert_int_equal(numa_stat_parse("total=0 N0=0\n", 13, 1, mem), -EINVAL);
	assert_int_equal(numa_stat_parse(v1, sizeof(v1) - 1, 3, mem), -EINVAL);
}

static void test_numa_stat_v2(void **state)
{
	static const char v2[] =
		"anon 1073741824 N0=536870912 N1=536870912\n"
		"file 4096000 N0=4096000 N1=0\n"
		"kernel_stack 65536 N0=32768 N1=32768\n"
		"shmem 2097152 N0=0 N1=2097152\n"
		"file_mapped 4096 N0=4096 N1=0\n"
		"anon_thp 1073741824 N0=536870912 N1=536870912\n"
		"workingset_refault_anon N0=5 N1=7\n"
		"N3=1 nonsense\n";
	uint64_t mem[VN_MAX_NODES];
	(void)state;

	assert_int_equal(numa_stat_parse(v2, sizeof(v2) - 1, 2, mem), 0);
	/* anon + shmem, in bytes; anon_thp is part of anon, not added */
	assert_int_equal(mem[0], 536870912ULL);
	assert_int_equal(mem[1], 536870912ULL + 2097152);
	assert_int_equal(mem[3], 0);
	/* v1's spelling is not v2's */
	assert_int_equal(numa_stat_parse("anon=5 N0=5\nunevictable=0 N0=0\n", 32, 2, mem),
			 -EINVAL);
}

static void test_status(void **state)
{
	static const char st[] =
		"Name:\tqemu-system-x86\n"
		"VmRSS:\t 2098700 kB\n"
		"RssAnon:\t 2097272 kB\n"
		"RssFile:\t    1428 kB\n"
		"RssShmem:\t       8 kB\n"
		"HugetlbPages:\t 2048 kB\n"
		"Threads:\t9\n";
	uint64_t a, s, h;
	(void)state;

	assert_int_equal(proc_status_mem(st, sizeof(st) - 1, &a, &s, &h), 0);
	assert_int_equal(a, 2097272ULL * 1024);
	assert_int_equal(s, 8 * 1024);
	assert_int_equal(h, 2048 * 1024);
	/* a kernel thread's status has none of them */
	assert_int_equal(proc_status_mem("Name:\tkthreadd\n", 15, &a, &s, &h), -EINVAL);

	assert_true(cg_agrees(1024 * MiB_, 1024 * MiB_));
	assert_true(cg_agrees(1024 * MiB_ + 128 * MiB_ + 16 * MiB_, 1024 * MiB_));
	assert_false(cg_agrees(1024 * MiB_ + 145 * MiB_, 1024 * MiB_));
	assert_false(cg_agrees(0, 1024 * MiB_));
	assert_true(cg_agrees(10 * MiB_, 0));	/* a guest of nothing, nearly */
	assert_false(cg_agrees(2048 * MiB_, 1024 * MiB_));	/* two of them */
}

/* ---- real processes ---- */

static char fg_path[PATH_MAX];

/* tests/fakeguest as built by make, or compiled here when make has not. */
static const char *fakeguest(void)
{
	const char *env = getenv("FAKEGUEST"), *b = getenv("B");
	char cmd[PATH_MAX + 128];

	if (env)
		return env;
	snprintf(fg_path, sizeof(fg_path), "%s/tests/fakeguest", b ? b : "build/default");
	if (access(fg_path, X_OK) == 0)
		return fg_path;
	snprintf(fg_path, sizeof(fg_path), "/tmp/vnumad-fakeguest-cg-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "${CC:-cc} -std=gnu11 -O2 -o %s tests/fakeguest.c "
		 "-lpthread", fg_path);
	if (system(cmd) != 0)
		return NULL;
	return fg_path;
}

/* Starts fakeguest -m MIB in cg (NULL: where we are) and waits for "ready". */
static pid_t fg_start(const struct cgt *cg, const char *mib)
{
	char *argv[] = { (char *)fakeguest(), "-smp", "2", "-m", (char *)mib, NULL };
	char line[256];
	int fd = -1;
	pid_t pid;
	FILE *f;

	assert_non_null(argv[0]);
	pid = cgt_spawn(cg, argv, &fd);
	assert_true(pid > 0);
	f = fdopen(fd, "r");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_memory_equal(line, "ready ", 6);
	fclose(f);
	return pid;
}

static void fg_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static struct cgt cg_a, cg_b;
static char skip_why[512];

static int make_groups(void **state)
{
	(void)state;
	if (!cgt_make(&cg_a, "vnumad-test-a", skip_why, sizeof(skip_why)))
		return 0;
	cgt_make(&cg_b, "vnumad-test-b", skip_why, sizeof(skip_why));
	return 0;
}

static int remove_groups(void **state)
{
	(void)state;
	cgt_remove(&cg_a);
	cgt_remove(&cg_b);
	if (!strncmp(fg_path, "/tmp/", 5))
		unlink(fg_path);
	return 0;
}

#define NEED_CGROUP() do { \
	if (!cg_a.version || !cg_b.version) { \
		printf("skip: no memory cgroup can be made here: %s\n", skip_why); \
		skip(); \
	} \
} while (0)

/* The cgroup path and numa_maps agree, node by node, for a guest of its own. */
static void test_own_cgroup_agrees(void **state)
{
	struct vn_guest g = { .name = "fg", .mem_read_at = -1 };
	uint64_t maps[VN_MAX_NODES], total = 0;
	pid_t pid;
	(void)state;

	NEED_CGROUP();
	pid = fg_start(&cg_a, "96");
	g.pid = pid;
	assert_int_equal(guest_memory(&g), 0);
	assert_non_null(g.mem_source);
	assert_string_equal(g.mem_source, cg_a.version == 1 ? "cgroup v1" : "cgroup v2");
	assert_int_equal(numa_maps_read(pid, maps), 0);
	for (int n = 0; n < VN_MAX_NODES; n++) {
		uint64_t d = g.v.mem[n] > maps[n] ? g.v.mem[n] - maps[n] : maps[n] - g.v.mem[n];

		/* numa_maps also counts the pages of its libraries, charged elsewhere */
		if (d > 4 * MiB_)
			fail_msg("node %d: cgroup %llu bytes, numa_maps %llu", n,
				 (unsigned long long)g.v.mem[n], (unsigned long long)maps[n]);
		total += g.v.mem[n];
	}
	assert_int_equal(total, g.v.mem_total);
	/* v1 counts the LRU lists: pages still in per-CPU batches are missing */
	assert_true(total >= 94 * MiB_);
	assert_true(total < 104 * MiB_);
	fg_stop(pid);
	/* a guest that is gone says so */
	assert_int_equal(guest_memory(&g), -ESRCH);
}

/* Two guests in one cgroup: it is not theirs alone, numa_maps says it all. */
static void test_shared_cgroup_refused(void **state)
{
	struct vn_guest g = { .name = "fg", .mem_read_at = -1 };
	uint64_t maps[VN_MAX_NODES];
	pid_t p1, p2;
	(void)state;

	NEED_CGROUP();
	p1 = fg_start(&cg_b, "64");
	p2 = fg_start(&cg_b, "64");
	g.pid = p1;
	assert_int_equal(guest_memory(&g), 0);
	assert_string_equal(g.mem_source, "numa_maps");
	assert_int_equal(numa_maps_read(p1, maps), 0);
	assert_memory_equal(g.v.mem, maps, sizeof(maps));
	fg_stop(p2);
	fg_stop(p1);
}

/* A guest moved into its cgroup after touching its memory: charged elsewhere. */
static void test_moved_in_refused(void **state)
{
	struct vn_guest g = { .name = "fg", .mem_read_at = -1 };
	pid_t pid;
	(void)state;

	NEED_CGROUP();
	pid = fg_start(NULL, "64");
	assert_int_equal(cgt_join(&cg_a, pid), 0);
	g.pid = pid;
	assert_int_equal(guest_memory(&g), 0);
	assert_string_equal(g.mem_source, "numa_maps");
	assert_true(g.v.mem_total >= 64 * MiB_);
	fg_stop(pid);
}

/* Through the sampler: found once, kept in the guest's table, freed at detach. */
static void test_sampler_keeps_it(void **state)
{
	struct vn_sampler s = { .ops = &procfs_sampler_ops };
	struct vn_vcpu vc[1] = { { .tid = 0 } };
	struct vnumad_vcpu vv[1] = { { .index = 0 } };
	struct vn_guest g = { .name = "fg", .mem_read_at = -1, .nr_vcpus = 1,
			      .vc = vc, .vv = vv };
	uint64_t first;
	pid_t pid;
	(void)state;

	NEED_CGROUP();
	pid = fg_start(&cg_a, "32");
	g.pid = pid;
	vc[0].tid = pid;
	assert_int_equal(s.ops->open(&s), 0);
	assert_int_equal(s.ops->attach(&s, &g), 0);
	assert_int_equal(s.ops->memory(&s, &g), 0);
	assert_non_null(strstr(g.mem_source, "cgroup"));
	first = g.v.mem_total;
	assert_true(first >= 30 * MiB_);
	assert_non_null(g.sampler);
	assert_string_equal(mem_state_dir(((struct thread_table *)g.sampler)->mem), cg_a.dir);
	assert_int_equal(s.ops->memory(&s, &g), 0);
	assert_true(cg_agrees(g.v.mem_total, first));
	s.ops->detach(&s, &g);
	assert_null(g.sampler);
	s.ops->close(&s);
	fg_stop(pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mounts),
		cmocka_unit_test(test_resolve_v1),
		cmocka_unit_test(test_resolve_v2),
		cmocka_unit_test(test_numa_stat_v1),
		cmocka_unit_test(test_numa_stat_v2),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_own_cgroup_agrees),
		cmocka_unit_test(test_shared_cgroup_refused),
		cmocka_unit_test(test_moved_in_refused),
		cmocka_unit_test(test_sampler_keeps_it),
	};

	log_init(true, LOG_WARNING, "test_cgroup");
	return cmocka_run_group_tests(tests, make_groups, remove_groups);
}
