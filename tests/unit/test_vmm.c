// SPDX-License-Identifier: MIT
/*
 * The VMM table (vmm.c) and libvirt's records of vCPU threads (lvstate.c)
 * on fixed inputs: the vCPU thread names of QEMU, cloud-hypervisor and
 * Firecracker, their executables, the guest names and vCPU counts of their
 * command lines; the cgroup of a domain from /proc/PID/cgroup and the
 * mount table, its vcpuN groups (a directory tree standing in for them,
 * holding this test's own threads) and libvirt's status XML.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostinfo.h"
#include "lvstate.h"
#include "testlib.h"
#include "util.h"
#include "vmm.h"

static void thread_names(void **state)
{
	static const struct {
		enum vmm_kind kind;
		const char *comm;
		int want;
	} t[] = {
		{ VMM_QEMU, "CPU 0/KVM", 0 },
		{ VMM_QEMU, "CPU 12/KVM\n", 12 },
		{ VMM_QEMU, "CPU 3/TCG", 3 },
		{ VMM_QEMU, "CPU 4095/MSHV", 4095 },
		{ VMM_QEMU, "CPU 1/DUMMY", -1 },	/* Xen's and qtest's: no guest code */
		{ VMM_QEMU, "ALL CPUs/TCG", -1 },
		{ VMM_QEMU, "CPU -1/KVM", -1 },
		{ VMM_QEMU, "CPU +1/KVM", -1 },
		{ VMM_QEMU, "CPU 1/KVMx", -1 },
		{ VMM_QEMU, "CPU /KVM", -1 },
		{ VMM_QEMU, "CPU 1/KVM\nx", -1 },
		{ VMM_QEMU, "vcpu0", -1 },
		{ VMM_CLOUD_HYPERVISOR, "vcpu0", 0 },
		{ VMM_CLOUD_HYPERVISOR, "vcpu17\n", 17 },
		{ VMM_CLOUD_HYPERVISOR, "vcpu", -1 },
		{ VMM_CLOUD_HYPERVISOR, "vcpu 1", -1 },
		{ VMM_CLOUD_HYPERVISOR, "vcpu1a", -1 },
		{ VMM_CLOUD_HYPERVISOR, "CPU 0/KVM", -1 },
		{ VMM_FIRECRACKER, "fc_vcpu 0", 0 },
		{ VMM_FIRECRACKER, "fc_vcpu 7\n", 7 },
		{ VMM_FIRECRACKER, "fc_vcpu7", -1 },
		{ VMM_FIRECRACKER, "fc_api", -1 },
		/* any process: the names that identify their VMM only */
		{ VMM_NONE, "CPU 2/TCG", 2 },
		{ VMM_NONE, "fc_vcpu 1", 1 },
		{ VMM_NONE, "vcpu0", -1 },
		{ VMM_NONE, "bash", -1 },
	};
	enum vmm_kind found;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int got = vmm_vcpu_of_name(t[i].kind, t[i].comm, NULL);

		if (got != t[i].want)
			fail_msg("%s '%s': vCPU %d, want %d", t[i].kind ?
				 vmm_get(t[i].kind)->name : "any", t[i].comm, got, t[i].want);
	}
	found = VMM_NONE;
	assert_int_equal(vmm_vcpu_of_name(VMM_NONE, "fc_vcpu 3", &found), 3);
	assert_int_equal(found, VMM_FIRECRACKER);
	found = VMM_NONE;
	assert_int_equal(vmm_vcpu_of_name(VMM_NONE, "CPU 3/KVM", &found), 3);
	assert_int_equal(found, VMM_QEMU);
}

static void executables(void **state)
{
	(void)state;
	assert_int_equal(vmm_of_exe("/usr/bin/qemu-system-x86_64"), VMM_QEMU);
	assert_int_equal(vmm_of_exe("/usr/bin/qemu-system-aarch64"), VMM_QEMU);
	assert_int_equal(vmm_of_exe("/usr/libexec/qemu-kvm"), VMM_QEMU);
	assert_int_equal(vmm_of_exe("/usr/bin/cloud-hypervisor"), VMM_CLOUD_HYPERVISOR);
	assert_int_equal(vmm_of_exe("cloud-hypervisor-static-aarch64"), VMM_CLOUD_HYPERVISOR);
	assert_int_equal(vmm_of_exe("/usr/local/bin/firecracker"), VMM_FIRECRACKER);
	assert_int_equal(vmm_of_exe("firecracker-v1.7.0-x86_64"), VMM_FIRECRACKER);
	assert_int_equal(vmm_of_exe("/usr/bin/qemu-img"), VMM_NONE);
	assert_int_equal(vmm_of_exe("/bin/bash"), VMM_NONE);
	/* this test is none of them */
	assert_int_equal(vmm_of_process(getpid()), VMM_NONE);
}

static void command_lines(void **state)
{
	static const struct {
		enum vmm_kind kind;
		const char *cmd;
		size_t len;
		const char *name;	/* NULL: none */
		int vcpus;
	} t[] = {
#define C(s) s, sizeof(s)
		{ VMM_QEMU, C("qemu\0-name\0guest=vm1,debug-threads=on\0-smp\0004\0"), "vm1", 4 },
		{ VMM_QEMU, C("qemu\0-smp\0cpus=3,sockets=3\0"), NULL, 3 },
		{ VMM_QEMU, C("qemu\0-smp\0sockets=2,cores=2,threads=2\0"), NULL, 8 },
		{ VMM_QEMU, C("qemu\0-smp\0""2,sockets=2,cores=1,threads=1\0"), NULL, 2 },
		{ VMM_QEMU, C("qemu\0-m\0512\0"), NULL, 1 },
		{ VMM_CLOUD_HYPERVISOR,
		  C("cloud-hypervisor\0--api-socket\0path=/run/ch/web1.sock\0--cpus\0boot=4,max=8\0"),
		  "web1", 4 },
		{ VMM_CLOUD_HYPERVISOR, C("ch\0--api-socket=/tmp/db.socket\0"), "db", 1 },
		{ VMM_CLOUD_HYPERVISOR, C("ch\0--api-socket\0fd=3\0--cpus\0boot=2\0"), NULL, 2 },
		{ VMM_CLOUD_HYPERVISOR, C("ch\0--kernel\0vmlinux\0"), NULL, 1 },
		{ VMM_FIRECRACKER, C("firecracker\0--id\0fc1\0--api-sock\0/tmp/x.socket\0"), "fc1", 0 },
		{ VMM_FIRECRACKER, C("firecracker\0--id\0anonymous-instance\0--api-sock\0/run/fc/b.sock\0"),
		  "b", 0 },
		{ VMM_FIRECRACKER, C("firecracker\0--api-sock\0/run/firecracker.socket\0"), NULL, 0 },
		{ VMM_FIRECRACKER, C("firecracker\0"), NULL, 0 },
#undef C
	};
	char name[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		bool ok = vmm_guest_name(t[i].kind, t[i].cmd, t[i].len - 1, name, sizeof(name));
		int n = vmm_vcpus_asked(t[i].kind, t[i].cmd, t[i].len - 1);

		if (ok != (t[i].name != NULL) || (ok && strcmp(name, t[i].name)))
			fail_msg("case %zu: name %s '%s', want %s", i, ok ? "yes" : "no",
				 ok ? name : "", t[i].name ? t[i].name : "none");
		if (n != t[i].vcpus)
			fail_msg("case %zu: %d vCPUs, want %d", i, n, t[i].vcpus);
	}
}

/* The UUID a command line gives: QEMU's -uuid, cloud-hypervisor's --platform uuid=. */
static void command_line_uuids(void **state)
{
	static const struct {
		enum vmm_kind kind;
		const char *cmd;
		size_t len;
		const char *uuid;	/* NULL: none */
	} t[] = {
#define C(s) s, sizeof(s)
		{ VMM_QEMU, C("qemu\0-name\0guest=a\0-uuid\0""6F3C1A52-0B1D-4C8E-9E2A-1D2B3C4D5E6F\0-smp\0""2\0"),
		  "6f3c1a52-0b1d-4c8e-9e2a-1d2b3c4d5e6f" },
		{ VMM_QEMU, C("qemu\0--uuid=6f3c1a52-0b1d-4c8e-9e2a-1d2b3c4d5e6f\0"),
		  "6f3c1a52-0b1d-4c8e-9e2a-1d2b3c4d5e6f" },
		{ VMM_QEMU, C("qemu\0-name\0a\0"), NULL },
		{ VMM_QEMU, C("qemu\0-uuid\0"), NULL },
		{ VMM_QEMU, C("qemu\0-uuid\0""6f3c1a52-0b1d-4c8e-9e2a-1d2b3c4d5e6\0"), NULL },
		{ VMM_QEMU, C("qemu\0-uuid\0""6f3c1a52-0b1d-4c8e-9e2a-1d2b3c4d5e6f0\0"), NULL },
		{ VMM_QEMU, C("qemu\0-uuid\0""6f3c1a52x0b1d-4c8e-9e2a-1d2b3c4d5e6f\0"), NULL },
		{ VMM_QEMU, C("qemu\0-uuid\0""6f3c1a52-0b1d-4c8e-9e2a-1d2b3c4d5e\"f\0"), NULL },
		{ VMM_CLOUD_HYPERVISOR,
		  C("ch\0--platform\0num_pci_segments=1,uuid=6f3c1a52-0b1d-4c8e-9e2a-1d2b3c4d5e6f,oem_strings=[x]\0"),
		  "6f3c1a52-0b1d-4c8e-9e2a-1d2b3c4d5e6f" },
		{ VMM_CLOUD_HYPERVISOR,
		  C("ch\0--platform\0serial_number=uuid=6f3c1a52-0b1d-4c8e-9e2a-1d2b3c4d5e6f\0"), NULL },
		{ VMM_CLOUD_HYPERVISOR, C("ch\0--cpus\0boot=2\0"), NULL },
		{ VMM_FIRECRACKER, C("firecracker\0--id\0""6f3c1a52-0b1d-4c8e-9e2a-1d2b3c4d5e6f\0"), NULL },
#undef C
	};
	char uuid[40];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		bool ok = vmm_guest_uuid(t[i].kind, t[i].cmd, t[i].len - 1, uuid, sizeof(uuid));

		if (ok != (t[i].uuid != NULL) || (ok && strcmp(uuid, t[i].uuid)) || (!ok && uuid[0]))
			fail_msg("case %zu: uuid %s '%s', want %s", i, ok ? "yes" : "no", uuid,
				 t[i].uuid ? t[i].uuid : "none");
	}
	assert_false(vmm_guest_uuid(VMM_QEMU, t[0].cmd, t[0].len - 1, uuid, 36));
}

static void memory_nodes_allowed(void **state)
{
	uint64_t nodes = 0;

	(void)state;
	assert_int_equal(vmm_mems_allowed(getpid(), &nodes), 0);
	assert_true(nodes & 1);
	assert_int_equal(nodes & hostinfo_online_nodes(), hostinfo_online_nodes() & nodes);
	assert_int_equal(vmm_mems_allowed(0x7ffffff0, &nodes), -ESRCH);
}

/*
 * The memory policy of a process whose numa_maps cannot be read (another
 * user's, read without CAP_SYS_PTRACE): an error, never "default", so that
 * the proc backend does not take such a guest's memory for free.
 */
static void memory_policy_unreadable(void **state)
{
	pid_t parent = getpid(), child;
	int status = 0;

	(void)state;
	if (geteuid() != 0)
		skip();
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char pol[32];
		int r;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		r = vmm_memory_policy(parent, pol, sizeof(pol));
		_exit(r < 0 && r != -ESRCH ? 0 : r == 0 ? 1 : 2);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 3)
		skip();		/* could not become nobody */
	if (WEXITSTATUS(status) != 0)
		fail_msg("another user's numa_maps: %s", WEXITSTATUS(status) == 1 ?
			 "read as the default policy" : "no error");
	/* the same file, read by its own user (root here): readable */
	assert_true(vmm_memory_policy(parent, NULL, 0) >= 0);
}

/* /proc/self/mountinfo of a host without systemd (v1 and v2 side by side), and a container's. */
static const char mountinfo[] =
	"25 30 0:23 / /proc rw,nosuid - proc proc rw\n"
	"31 30 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
	"33 31 0:29 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
	"34 31 0:30 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
	"35 31 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
	"40 31 0:36 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";

static const char cgroup_hybrid[] =
	"4:memory:/machine/qemu-1-x1.libvirt-qemu\n"
	"3:cpuset:/machine/qemu-1-x1.libvirt-qemu/emulator\n"
	"2:cpuacct:/\n"
	"1:cpu:/machine/qemu-1-x1.libvirt-qemu/emulator\n"
	"0::/machine/qemu-1-x1.libvirt-qemu/emulator\n";

static void cgroup_of_a_domain(void **state)
{
	static const char systemd_v2[] =
		"29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
	static const char systemd_cg[] =
		"0::/machine.slice/machine-qemu\\x2d2\\x2dweb.scope/libvirt/emulator\n";
	/* a container that sees its own subtree of the hierarchy */
	static const char sub_mount[] =
		"50 40 0:40 /machine /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n";
	char dir[512];

	(void)state;
	assert_int_equal(lvstate_cgroup_dir(cgroup_hybrid, mountinfo, 0, dir, sizeof(dir)), 2);
	assert_string_equal(dir, "/sys/fs/cgroup/unified/machine/qemu-1-x1.libvirt-qemu");
	assert_int_equal(lvstate_cgroup_dir(cgroup_hybrid, mountinfo, 1, dir, sizeof(dir)), 1);
	assert_string_equal(dir, "/sys/fs/cgroup/cpuset/machine/qemu-1-x1.libvirt-qemu");
	assert_int_equal(lvstate_cgroup_dir(cgroup_hybrid, mountinfo, 2, dir, sizeof(dir)), 1);
	assert_string_equal(dir, "/sys/fs/cgroup/cpu/machine/qemu-1-x1.libvirt-qemu");
	/* cpuacct: the process sits in the root group, which is no domain's */
	assert_int_equal(lvstate_cgroup_dir(cgroup_hybrid, mountinfo, 3, dir, sizeof(dir)), 1);
	assert_string_equal(dir, "/sys/fs/cgroup/cpuacct/");
	assert_int_equal(lvstate_cgroup_dir(cgroup_hybrid, mountinfo, 4, dir, sizeof(dir)), 0);
	assert_int_equal(lvstate_cgroup_dir(systemd_cg, systemd_v2, 0, dir, sizeof(dir)), 2);
	assert_string_equal(dir, "/sys/fs/cgroup/machine.slice/machine-qemu\\x2d2\\x2dweb"
			    ".scope/libvirt");
	assert_int_equal(lvstate_cgroup_dir(systemd_cg, systemd_v2, 1, dir, sizeof(dir)), 0);
	assert_int_equal(lvstate_cgroup_dir("0::/machine/qemu-3-c.libvirt-qemu/emulator\n",
					    sub_mount, 0, dir, sizeof(dir)), 2);
	assert_string_equal(dir, "/mnt/my cg/qemu-3-c.libvirt-qemu");
	/* no cgroup mount of that kind: nothing */
	assert_int_equal(lvstate_cgroup_dir(cgroup_hybrid, "", 0, dir, sizeof(dir)), 0);
	assert_int_equal(lvstate_cgroup_dir("", mountinfo, 0, dir, sizeof(dir)), 0);
}

static volatile int stop_threads;

static void *idle_thread(void *arg)
{
	*(pid_t *)arg = (pid_t)syscall(SYS_gettid);
	while (!stop_threads)
		usleep(1000);
	return NULL;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void vcpu_groups_and_status_xml(void **state)
{
	char dir[64], path[128], text[256];
	pthread_t th[2];
	pid_t tid[2] = { 0, 0 }, tids[4];
	int r;

	(void)state;
	stop_threads = 0;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, idle_thread, &tid[i]), 0);
	while (!tid[0] || !tid[1])
		usleep(1000);
	assert_int_equal(tmpdir_make(dir, sizeof(dir), "lvstate"), 0);
	/* vcpu0 holds a thread of ours; vcpu1 a stranger first, then ours */
	snprintf(path, sizeof(path), "%s/vcpu0", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/vcpu0/cgroup.threads", dir);
	snprintf(text, sizeof(text), "%d\n", (int)tid[0]);
	put(path, text);
	snprintf(path, sizeof(path), "%s/vcpu1", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/vcpu1/cgroup.threads", dir);
	snprintf(text, sizeof(text), "1\n%d\n", (int)tid[1]);
	put(path, text);
	memset(tids, 0, sizeof(tids));
	assert_int_equal(lvstate_read_vcpu_groups(dir, 2, getpid(), tids, 3), 2);
	assert_int_equal(tids[0], tid[0]);
	assert_int_equal(tids[1], tid[1]);
	assert_int_equal(tids[2], 0);
	/* v1 names the file tasks: none here */
	memset(tids, 0, sizeof(tids));
	assert_int_equal(lvstate_read_vcpu_groups(dir, 1, getpid(), tids, 3), 0);
	/* a thread of another process is never taken */
	memset(tids, 0, sizeof(tids));
	assert_int_equal(lvstate_read_vcpu_groups(dir, 2, getppid(), tids, 3), 0);

	/* the status XML: vCPU 2 unknown so far, the pid of a stranger ignored */
	snprintf(path, sizeof(path), "%s/dom.xml", dir);
	snprintf(text, sizeof(text), "<domstatus state='running' pid='%d'><vcpus>"
		 "<vcpu id='0' pid='%d'/><vcpu id='2' pid='%d'/><vcpu id='3' pid='1'/>"
		 "<vcpu id='9' pid='%d'/></vcpus></domstatus>", (int)getpid(), (int)tid[0],
		 (int)tid[1], (int)tid[1]);
	put(path, text);
	memset(tids, 0, sizeof(tids));
	tids[0] = 77;	/* known already: kept */
	r = lvstate_status_threads(path, getpid(), tids, 4);
	assert_int_equal(r, 1);
	assert_int_equal(tids[0], 77);
	assert_int_equal(tids[2], tid[1]);
	assert_int_equal(tids[3], 0);
	snprintf(path, sizeof(path), "%s/none.xml", dir);
	assert_int_equal(lvstate_status_threads(path, getpid(), tids, 4), -ENOENT);
	put(path, "<domstatus><vcpus>");
	assert_int_equal(lvstate_status_threads(path, getpid(), tids, 4), -EINVAL);

	/* this process is in no domain's cgroup: nothing from the real files */
	{
		enum lvstate_source src;

		memset(tids, 0, sizeof(tids));
		assert_int_equal(lvstate_cgroup_threads(getpid(), tids, 2, &src), 0);
		assert_int_equal(src, LVS_NONE);
	}
	tmpdir_remove(dir);
	stop_threads = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(thread_names),
		cmocka_unit_test(executables),
		cmocka_unit_test(command_lines),
		cmocka_unit_test(command_line_uuids),
		cmocka_unit_test(memory_nodes_allowed),
		cmocka_unit_test(memory_policy_unreadable),
		cmocka_unit_test(cgroup_of_a_domain),
		cmocka_unit_test(vcpu_groups_and_status_xml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
