// SPDX-License-Identifier: MIT
/*
 * The proc backend and what it stands on, against real processes
 * (tests/fakeguest: threads named "CPU n/KVM", touched RAM): the host
 * topology from libnuma, node masks and CPU sets, QEMU's -name syntax,
 * vCPU threads found in /proc, process identity by start time (a zombie is
 * gone), discovery and naming of guests, pinning by the user, affinity set
 * on the right thread only, guests that vanish, memory moves through the
 * backend; then least privilege (the capabilities left after privs_drop and
 * what they allow) and the kernel's NUMA balancing switched off and restored
 * (on files standing in for the sysctl, and on the real one when root).
 *
 * With VNUMAD_QEMU_PID set (tests/t_proc_qemu.sh) it runs the real-QEMU
 * cases instead, on a plain QEMU process with 2 vCPUs named
 * VNUMAD_QEMU_NAME (default "plainq"; another test's QEMU may run too):
 * found with its threads, a vCPU move, a memory move, killed mid-tick.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <numaif.h>
#include <linux/capability.h>
#include <linux/sched.h>

#include "config.h"
#include "hostinfo.h"
#include "log.h"
#include "numab.h"
#include "privs.h"
#include "registry.h"
#include "testlib.h"
#include "util.h"
#include "vmm.h"
#include "vnumad.h"

/* A process's vCPU threads by their names, its VMM found from them. */
static int vcpu_threads(pid_t pid, pid_t *tids, int max)
{
	enum vmm_kind k = VMM_NONE;

	return vmm_vcpu_threads(pid, &k, tids, max, NULL);
}

static char fg_dir[64];

static void fg_dir_cleanup(void)
{
	tmpdir_remove(fg_dir);
}

/*
 * Starts a copy of fakeguest called exe (cloud-hypervisor, firecracker,
 * qemu-system-x86_64), so that /proc/PID/exe names that VMM: a copy, not a
 * link, since the kernel resolves links.
 */
static void fg_start_as(struct fg *fg, const char *exe, const char *const *args)
{
	static char saved[512];
	char path[256], cmd[1024];

	if (!fg_dir[0]) {
		assert_int_equal(tmpdir_make(fg_dir, sizeof(fg_dir), "vmm"), 0);
		atexit(fg_dir_cleanup);
	}
	snprintf(path, sizeof(path), "%s/%s", fg_dir, exe);
	if (access(path, X_OK) != 0) {
		snprintf(cmd, sizeof(cmd), "cp %s %s", fakeguest_path(), path);
		assert_int_equal(system(cmd), 0);
	}
	/* fg_spawn runs $FAKEGUEST when set */
	snprintf(saved, sizeof(saved), "%s", getenv("FAKEGUEST") ? getenv("FAKEGUEST") : "");
	setenv("FAKEGUEST", path, 1);
	fg_start(fg, args);
	if (saved[0])
		setenv("FAKEGUEST", saved, 1);
	else
		unsetenv("FAKEGUEST");
}

static void thread_cpus(pid_t tid, char *buf, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "r");
	assert_non_null(f);
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Cpus_allowed_list:", 18)) {
			snprintf(buf, len, "%s", line + 18 + strspn(line + 18, " \t"));
			buf[strcspn(buf, "\n")] = '\0';
		}
	fclose(f);
}

/* The CPU list of a node mask, as /proc prints it ("0-3"). */
static void cpus_of(uint64_t nodes, char *buf, size_t len)
{
	size_t off = 0;
	int n = hostinfo_nr_cpus();

	buf[0] = '\0';
	for (int c = 0; c < n; c++) {
		int e = c;

		if (hostinfo_cpu_node(c) < 0 || !(nodes >> hostinfo_cpu_node(c) & 1))
			continue;
		while (e + 1 < n && hostinfo_cpu_node(e + 1) >= 0 &&
		       (nodes >> hostinfo_cpu_node(e + 1) & 1))
			e++;
		off += (size_t)snprintf(buf + off, len - off, off ? ",%d" : "%d", c);
		if (e > c)
			off += (size_t)snprintf(buf + off, len - off, "-%d", e);
		c = e;
	}
}

/* --- hostinfo -------------------------------------------------------------- */

static void topology_from_libnuma(void **state)
{
	struct vn_host h;
	int cpus = 0;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(hostinfo_topology(&h), 0);
	assert_true(h.nr_nodes >= 1);
	assert_true(h.online & 1);
	for (int n = 0; n < h.nr_nodes; n++)
		cpus += h.node[n].nr_cpus;
	assert_int_equal(cpus, sysconf(_SC_NPROCESSORS_ONLN));
	assert_true(h.node[0].mem_total > 64 * MiB);
	assert_true(h.node[0].mem_free > 0 && h.node[0].mem_free <= h.node[0].mem_total);
	assert_int_equal(h.distance[0], 10);
}

static void node_masks_and_cpu_sets(void **state)
{
	cpu_set_t *s = hostinfo_cpuset_alloc();
	size_t sz = hostinfo_cpuset_size();
	struct vn_host h;

	(void)state;
	memset(&h, 0, sizeof(h));
	hostinfo_topology(&h);
	hostinfo_nodes_cpus(h.online, s);
	assert_int_equal(CPU_COUNT_S(sz, s), sysconf(_SC_NPROCESSORS_ONLN));
	assert_int_equal(hostinfo_cpus_nodes(s), h.online);
	hostinfo_nodes_cpus(1ULL << 40, s);
	assert_int_equal(CPU_COUNT_S(sz, s), 0);
	assert_int_equal(hostinfo_cpus_nodes(s), 0);
	CPU_FREE(s);
	assert_int_equal(hostinfo_cpu_node(-1), -1);
	assert_int_equal(hostinfo_cpu_node(hostinfo_nr_cpus()), -1);
}

static void qemu_names(void **state)
{
	static const struct {
		const char *cmd;
		size_t len;
		const char *want;	/* NULL: no name */
	} t[] = {
#define C(s) s, sizeof(s)
		{ C("qemu\0-name\0guest=vm1,debug-threads=on\0"), "vm1" },
		{ C("qemu\0-name\0vm2\0-m\0512\0"), "vm2" },
		{ C("qemu\0-name\0vm3,process=qemu-vm3\0"), "vm3" },
		{ C("qemu\0-name\0debug-threads=on,guest=vm4\0"), "vm4" },
		{ C("qemu\0-name\0a,,b\0"), "a,b" },
		{ C("qemu\0-name\0guest=c,,d,debug-threads=on\0"), "c,d" },
		{ C("qemu\0-name\0process=x\0"), NULL },
		{ C("qemu\0-m\0512\0"), NULL },
		{ C("qemu\0-name\0"), NULL },
#undef C
	};
	char name[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		bool ok = vmm_guest_name(VMM_QEMU, t[i].cmd, t[i].len - 1, name, sizeof(name));

		if (ok != (t[i].want != NULL) || (ok && strcmp(name, t[i].want)))
			fail_msg("case %zu: got %s '%s', want %s", i, ok ? "yes" : "no",
				 ok ? name : "", t[i].want ? t[i].want : "no name");
	}
}

static void vcpu_threads_and_identity(void **state)
{
	const char *args[] = { "-smp", "3", "-m", "8", NULL };
	pid_t tids[HI_MAX_VCPUS];
	struct fg fg;
	uint64_t st;

	(void)state;
	fg_start(&fg, args);
	assert_int_equal(vcpu_threads(fg.pid, tids, HI_MAX_VCPUS), 3);
	for (int v = 0; v < 3; v++) {
		assert_true(tids[v] > 0 && tids[v] != fg.pid);
		assert_true(vmm_is_vcpu_thread(fg.pid, tids[v], VMM_QEMU, v));
		assert_false(vmm_is_vcpu_thread(fg.pid, tids[v], VMM_QEMU, (v + 1) % 3));
	}
	assert_false(vmm_is_vcpu_thread(fg.pid, fg.pid, VMM_QEMU, 0));
	/* not a thread of this process */
	assert_false(vmm_is_vcpu_thread(getpid(), tids[0], VMM_QEMU, 0));
	/* fewer slots than vCPUs: what fits */
	assert_int_equal(vcpu_threads(fg.pid, tids, 2), 2);
	st = hostinfo_starttime(fg.pid);
	assert_true(st > 0);
	assert_true(hostinfo_same_process(fg.pid, st));
	assert_false(hostinfo_same_process(fg.pid, st + 1));
	assert_false(hostinfo_same_process(fg.pid, 0));
	/* killed but not reaped: a zombie is gone too */
	kill(fg.pid, SIGKILL);
	for (int i = 0; i < 100 && hostinfo_starttime(fg.pid); i++)
		usleep(10000);
	assert_int_equal(hostinfo_starttime(fg.pid), 0);
	assert_false(hostinfo_same_process(fg.pid, st));
	fg_stop(&fg);
	assert_int_equal(vcpu_threads(fg.pid, tids, HI_MAX_VCPUS), -ESRCH);
}

/* --- the proc backend ------------------------------------------------------ */

static struct event_base *base;
static struct vn_config cfg;
static struct vn_host host;
static struct vn_backend be;

static void on_gone(struct vn_host *h, struct vn_guest *g, void *arg)
{
	(void)h;
	(void)arg;
	be.ops->forget(&be, g);
}

static int be_setup(void **state)
{
	(void)state;
	base = event_base_new();
	config_defaults(&cfg);
	host_init(&host);
	host.on_gone = on_gone;
	be = (struct vn_backend){ .ops = &proc_backend_ops, .cfg = &cfg, .base = base,
				  .host = &host };
	return be.ops->open(&be);
}

static int be_teardown(void **state)
{
	(void)state;
	host_fini(&host);
	be.ops->close(&be);
	config_free(&cfg);
	event_base_free(base);
	return 0;
}

static void tick(void)
{
	assert_int_equal(be.ops->topology(&be, &host), 0);
	host_scan_begin(&host);
	assert_int_equal(be.ops->scan(&be, &host), 0);
	host_scan_end(&host);
}

static struct vn_guest *guest_of_pid(pid_t pid)
{
	for (int i = 0; i < host.nr_guests; i++)
		if (host.guests[i]->pid == pid)
			return host.guests[i];
	return NULL;
}

static void finds_guests_by_thread_names(void **state)
{
	const char *named[] = { "-name", "guest=pg1,debug-threads=on", "-smp", "2", "-m", "8", NULL };
	const char *anon[] = { "-smp", "1", "-m", "8", NULL };
	struct fg a, b, c;
	struct vn_guest *g;
	pid_t tids[HI_MAX_VCPUS];
	char name[64];

	(void)state;
	fg_start(&a, named);
	fg_start(&b, anon);
	fg_start(&c, named);
	tick();
	g = host_find(&host, "pg1");
	assert_non_null(g);
	assert_true(g->pid == a.pid || g->pid == c.pid);
	assert_int_equal(g->nr_vcpus, 2);
	vcpu_threads(g->pid, tids, HI_MAX_VCPUS);
	assert_int_equal(g->vc[0].tid, tids[0]);
	assert_int_equal(g->vc[1].tid, tids[1]);
	assert_int_equal(g->v.flags, 0);
	assert_int_not_equal(g->vv[0].allowed, 0);
	/* the same name twice: the second gets its pid appended */
	snprintf(name, sizeof(name), "pg1-%d", g->pid == a.pid ? (int)c.pid : (int)a.pid);
	assert_non_null(host_find(&host, name));
	/* no -name: named after its pid */
	snprintf(name, sizeof(name), "qemu-%d", (int)b.pid);
	g = host_find(&host, name);
	assert_non_null(g);
	assert_int_equal(g->nr_vcpus, 1);
	/* no other process is a guest: not even this test, nor the shell */
	assert_null(guest_of_pid(getpid()));
	assert_null(guest_of_pid(getppid()));
	/* names stay across scans */
	tick();
	assert_non_null(host_find(&host, name));
	/* a guest that exits is gone at the next scan */
	fg_stop(&b);
	tick();
	assert_null(host_find(&host, name));
	assert_null(guest_of_pid(b.pid));
	fg_stop(&a);
	fg_stop(&c);
	tick();
	assert_null(host_find(&host, "pg1"));
}

static void finds_a_guest_that_starts_late(void **state)
{
	const char *args[] = { "-name", "guest=late", "-m", "256", NULL };
	struct fg fg;
	FILE *f;

	(void)state;
	/* scanned while it still touches its RAM, before its vCPU threads */
	f = fg_spawn(&fg, args, -1, 0);
	tick();
	fg_ready(&fg, f);
	/* young processes are looked at again at each scan */
	tick();
	assert_non_null(host_find(&host, "late"));
	fg_stop(&fg);
}

/*
 * QEMU under TCG and MSHV, cloud-hypervisor and Firecracker, stood in for
 * by fakeguest naming its threads as they do ("CPU n/TCG", "vcpuN",
 * "fc_vcpu N") and run under their executables' names: found with their
 * vCPU threads and the name their command line gives.
 */
static void finds_every_vmm(void **state)
{
	const char *tcg[] = { "-name", "guest=tcg1,debug-threads=on", "-smp", "2", "-m", "8",
			      "-names", "tcg", NULL };
	const char *mshv[] = { "-name", "guest=hv1", "-smp", "1", "-m", "8", "-names", "mshv",
			       NULL };
	const char *ch[] = { "--api-socket", "path=/run/ch/web1.sock", "--cpus", "boot=2",
			     "-smp", "2", "-m", "8", "-names", "ch", NULL };
	const char *ch_anon[] = { "--cpus", "boot=1", "-smp", "1", "-m", "8", "-names", "ch",
				  NULL };
	const char *fc[] = { "--id", "fc7", "--api-sock", "/tmp/x.socket", "-smp", "3",
			     "-m", "8", "-names", "fc", NULL };
	const char *fc_sock[] = { "--api-sock", "/run/fc/db2.socket", "-smp", "1", "-m", "8",
				  "-names", "fc", NULL };
	struct fg a, b, c, d, e, f, x;
	struct vn_guest *g;
	char name[64], got[64], want[64];

	(void)state;
	fg_start(&a, tcg);
	fg_start(&b, mshv);
	fg_start_as(&c, "cloud-hypervisor", ch);
	fg_start_as(&d, "cloud-hypervisor", ch_anon);
	fg_start_as(&e, "firecracker", fc);
	fg_start_as(&f, "firecracker", fc_sock);
	/* "vcpuN" is too plain a name to make a guest of any process */
	fg_start_as(&x, "fakeguest", ch_anon);
	tick();
	g = host_find(&host, "tcg1");
	assert_non_null(g);
	assert_int_equal(g->nr_vcpus, 2);
	assert_true(g->vc[0].tid > 0 && g->vc[1].tid > 0);
	assert_null(g->unmeasured);
	g = host_find(&host, "hv1");
	assert_non_null(g);
	assert_true(g->vc[0].tid > 0);
	/* cloud-hypervisor: named after its API socket, else after its pid */
	g = host_find(&host, "web1");
	assert_non_null(g);
	assert_int_equal(g->pid, c.pid);
	assert_int_equal(g->nr_vcpus, 2);
	assert_true(g->vc[0].tid > 0 && g->vc[1].tid > 0 && g->vc[0].tid != g->vc[1].tid);
	snprintf(name, sizeof(name), "cloud-hypervisor-%d", (int)d.pid);
	assert_non_null(host_find(&host, name));
	assert_null(guest_of_pid(x.pid));
	/* a cloud-hypervisor vCPU moves like any other */
	{
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(0, &one);
		assert_int_equal(sched_setaffinity(g->vc[1].tid, sizeof(one), &one), 0);
		assert_int_equal(be.ops->set_affinity(&be, g, 1, 1), 0);
		thread_cpus(g->vc[1].tid, got, sizeof(got));
		cpus_of(1, want, sizeof(want));
		assert_string_equal(got, want);
	}
	/* Firecracker: its --id, else its API socket */
	g = host_find(&host, "fc7");
	assert_non_null(g);
	assert_int_equal(g->pid, e.pid);
	assert_int_equal(g->nr_vcpus, 3);
	assert_non_null(host_find(&host, "db2"));
	fg_stop(&a);
	fg_stop(&b);
	fg_stop(&c);
	fg_stop(&d);
	fg_stop(&e);
	fg_stop(&f);
	fg_stop(&x);
	tick();
	/* other guests may run on this host: ours are gone */
	assert_null(guest_of_pid(a.pid));
	assert_null(guest_of_pid(c.pid));
	assert_null(guest_of_pid(e.pid));
	assert_null(host_find(&host, "web1"));
	assert_null(host_find(&host, "fc7"));
}

static bool settled(pid_t pid)
{
	char path[64], buf[1024];
	double up = 0;
	unsigned long long st = 0;
	FILE *f = fopen("/proc/uptime", "r");

	if (f) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');

			if (p)
				sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
				       "%*d %*d %*d %*d %*d %*d %llu", &st);
		}
		fclose(f);
	}
	return up - (double)st / (double)sysconf(_SC_CLK_TCK) > 3.5;
}

/*
 * A QEMU whose threads bear no names (no debug-threads=on) or that runs
 * every vCPU in one thread (single-threaded TCG) is a guest that cannot be
 * measured: listed once it has run a while, with the vCPUs its command
 * line asks for and the reason; its vCPUs cannot move alone.
 */
static void qemu_without_vcpu_threads(void **state)
{
	const char *none[] = { "-name", "guest=anon", "-smp", "3", "-m", "8", "-names", "none",
			       NULL };
	const char *shared[] = { "-name", "guest=rr", "-smp", "cpus=2,sockets=2", "-m", "8",
				 "-names", "shared", NULL };
	struct fg a, b, c;
	struct vn_guest *g;

	(void)state;
	fg_start_as(&a, "qemu-system-x86_64", none);
	fg_start_as(&b, "qemu-system-x86_64", shared);
	/* any other program without vCPU thread names is no guest at all */
	fg_start_as(&c, "fakeguest", none);
	/* a QEMU that has just started may not have named its threads yet */
	tick();
	assert_null(host_find(&host, "anon"));
	while (!settled(a.pid) || !settled(b.pid))
		usleep(50000);
	tick();
	g = host_find(&host, "anon");
	assert_non_null(g);
	assert_int_equal(g->nr_vcpus, 3);
	assert_int_equal(g->vc[0].tid, 0);
	assert_non_null(g->unmeasured);
	assert_non_null(strstr(g->unmeasured, "debug-threads"));
	assert_int_not_equal(g->vv[0].allowed, 0);
	assert_int_equal(be.ops->set_affinity(&be, g, 0, 1), -EOPNOTSUPP);
	g = host_find(&host, "rr");
	assert_non_null(g);
	assert_int_equal(g->nr_vcpus, 2);
	assert_non_null(g->unmeasured);
	assert_non_null(strstr(g->unmeasured, "single-threaded TCG"));
	assert_null(guest_of_pid(c.pid));
	/* it stays a guest while it runs, and goes when it exits */
	tick();
	assert_non_null(host_find(&host, "anon"));
	fg_stop(&a);
	fg_stop(&b);
	fg_stop(&c);
	tick();
	assert_null(host_find(&host, "anon"));
	assert_null(host_find(&host, "rr"));
}

/*
 * Starts fakeguest (as qemu-system-fakeguest) with a pid below `above`,
 * so that a scan of /proc, in pid order, meets it before a process started
 * earlier: clone3 with set_tid (root only). False when it cannot.
 */
static bool fg_start_below(struct fg *fg, pid_t above, const char *const *args)
{
	const char *argv[16];
	int p[2], n = 0;
	FILE *f;

	argv[n++] = fakeguest_path();
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(pipe(p), 0);
	fg->pid = -1;
	for (pid_t t = above - 1; t > 300 && fg->pid < 0; t--) {
		pid_t tid = t;
		struct clone_args ca = { .exit_signal = SIGCHLD, .set_tid = (uintptr_t)&tid,
					 .set_tid_size = 1 };

		if (kill(t, 0) == 0 || errno != ESRCH)
			continue;
		fg->pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
		if (fg->pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			dup2(p[1], 1);
			close(p[0]);
			execv(argv[0], (char *const *)argv);
			_exit(127);
		}
		if (fg->pid < 0 && errno != EEXIST)
			break;
	}
	close(p[1]);
	if (fg->pid < 0) {
		close(p[0]);
		fg->pid = 0;
		return false;
	}
	f = fdopen(p[0], "r");
	fg_ready(fg, f);
	return true;
}

/*
 * A guest is a VMM's executable run by root, by vnumad's own user or by
 * one of [guests] users. An unprivileged process with a guest's name and
 * QEMU's thread names, started first, is no guest and takes nothing from
 * the real one; nor is root's process of another program. Naming its user
 * in [guests] (by name or uid) makes it a guest, under a name of its own;
 * taking the user out again drops it.
 */
static void impostors_are_no_guests(void **state)
{
	const char *web[] = { "-name", "guest=imp-web,debug-threads=on", "-smp", "2", "-m", "8",
			      NULL };
	const char *tcg[] = { "-name", "guest=imp-tcg", "-smp", "1", "-m", "8", "-names", "tcg",
			      NULL };
	struct passwd *pw = getpwnam("nobody");
	struct fg bad, prog, real;
	struct vn_guest *g;
	char name[64], uid[16];
	uid_t nobody;

	(void)state;
	if (getuid() != 0 || !pw)
		skip();
	nobody = pw->pw_uid;
	fg_ready(&bad, fg_spawn(&bad, web, -1, nobody));
	fg_start_as(&prog, "fakeguest", tcg);
	fg_start(&real, web);
	assert_true(bad.pid < real.pid);
	tick();
	g = host_find(&host, "imp-web");
	assert_non_null(g);
	assert_int_equal(g->pid, real.pid);
	assert_null(guest_of_pid(bad.pid));
	assert_null(guest_of_pid(prog.pid));
	assert_null(host_find(&host, "imp-tcg"));
	tick();
	assert_null(guest_of_pid(bad.pid));

	/* its user named: a guest, whose name is its own */
	strv_free(cfg.users);
	cfg.users = split_list_dup("nobody", &cfg.nr_users);
	tick();
	g = guest_of_pid(bad.pid);
	assert_non_null(g);
	snprintf(name, sizeof(name), "imp-web-%d", (int)bad.pid);
	assert_string_equal(g->name, name);
	assert_int_equal(host_find(&host, "imp-web")->pid, real.pid);
	/* taken out again: no longer a guest */
	strv_free(cfg.users);
	cfg.users = split_list_dup("libvirt-qemu, qemu", &cfg.nr_users);
	tick();
	assert_null(guest_of_pid(bad.pid));
	assert_int_equal(host_find(&host, "imp-web")->pid, real.pid);
	/* by uid */
	snprintf(uid, sizeof(uid), "%u", (unsigned)nobody);
	strv_free(cfg.users);
	cfg.users = split_list_dup(uid, &cfg.nr_users);
	tick();
	assert_non_null(guest_of_pid(bad.pid));
	assert_null(guest_of_pid(prog.pid));
	fg_stop(&bad);
	fg_stop(&prog);
	fg_stop(&real);
	tick();
	assert_null(host_find(&host, "imp-web"));
}

/* Starts fakeguest with -name guest=NAME (and debug-threads=on), one vCPU. */
static void fg_named(struct fg *fg, const char *name)
{
	char opt[300];
	const char *args[] = { "-name", opt, "-smp", "1", "-m", "8", NULL };

	snprintf(opt, sizeof(opt), "guest=%s,debug-threads=on", name);
	fg_start(fg, args);
}

/*
 * A name stays with the guest that has it: a later process asking for it
 * gets "-PID", and one more "-N" when even that is a guest's own name; two
 * names the core shows alike (control characters become '?') are the same
 * name; among processes found in one scan, the one started first gets it,
 * whatever their pids.
 */
static void names_stay_with_their_guests(void **state)
{
	struct fg a, b, c, d, e, f;
	struct vn_guest *g;
	pid_t held;
	char name[64];
	int hold[2];

	(void)state;
	fg_named(&a, "nm-dup");
	tick();
	assert_int_equal(host_find(&host, "nm-dup")->pid, a.pid);

	/* b asks for nm-dup while c already runs as "nm-dup-<b's pid>" */
	assert_int_equal(pipe(hold), 0);
	held = fork();
	assert_true(held >= 0);
	if (held == 0) {
		char opt[] = "guest=nm-dup,debug-threads=on";
		const char *argv[] = { fakeguest_path(), "-name", opt, "-smp", "1", "-m", "8",
				       NULL };
		char x;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(hold[1]);
		if (read(hold[0], &x, 1) != 1)
			_exit(1);
		dup2(open("/dev/null", O_WRONLY), 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(hold[0]);
	b.pid = held;
	snprintf(name, sizeof(name), "nm-dup-%d", (int)held);
	fg_named(&c, name);
	tick();
	assert_int_equal(host_find(&host, name)->pid, c.pid);
	assert_int_equal(write(hold[1], "x", 1), 1);
	close(hold[1]);
	for (int i = 0; i < 400; i++) {
		pid_t tids[HI_MAX_VCPUS];

		if (vcpu_threads(b.pid, tids, HI_MAX_VCPUS) == 1 && tids[0])
			break;
		usleep(10000);
	}
	tick();
	assert_int_equal(host_find(&host, "nm-dup")->pid, a.pid);
	g = host_find(&host, name);
	assert_non_null(g);
	assert_int_equal(g->pid, c.pid);
	snprintf(name, sizeof(name), "nm-dup-%d-2", (int)b.pid);
	g = host_find(&host, name);
	assert_non_null(g);
	assert_int_equal(g->pid, b.pid);

	/* "nm-ctl?" and "nm-ctl\x01" are one name */
	fg_named(&d, "nm-ctl?");
	tick();
	fg_named(&e, "nm-ctl\x01");
	tick();
	assert_int_equal(host_find(&host, "nm-ctl?")->pid, d.pid);
	snprintf(name, sizeof(name), "nm-ctl?-%d", (int)e.pid);
	assert_non_null(host_find(&host, name));

	/* started first, found second in pid order: the name is its all the same */
	fg_stop(&a);
	tick();
	assert_null(host_find(&host, "nm-dup"));
	fg_named(&a, "nm-first");
	usleep(50000);	/* start times count clock ticks */
	{
		const char *args[] = { "-name", "guest=nm-first,debug-threads=on", "-smp", "1",
				       "-m", "8", NULL };

		if (!fg_start_below(&f, a.pid, args)) {
			fg_stop(&b);
			fg_stop(&c);
			fg_stop(&d);
			fg_stop(&e);
			fg_stop(&a);
			skip();
		}
	}
	assert_true(f.pid < a.pid);
	tick();
	assert_int_equal(host_find(&host, "nm-first")->pid, a.pid);
	snprintf(name, sizeof(name), "nm-first-%d", (int)f.pid);
	assert_non_null(host_find(&host, name));
	fg_stop(&a);
	fg_stop(&b);
	fg_stop(&c);
	fg_stop(&d);
	fg_stop(&e);
	fg_stop(&f);
}

/* Seconds on the clock /proc's start times count from. */
static double boottime(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_BOOTTIME, &ts), 0);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * A guest's age is its process's, not the time since the backend first saw
 * it: one that ran a second and a half before the first scan is that old at
 * once (the start time counts in clock ticks: 10 ms here).
 */
static void age_is_the_process_age(void **state)
{
	const char *args[] = { "-name", "guest=aged", "-m", "8", NULL };
	double t0, t1, age;
	struct fg fg;
	struct vn_guest *g;

	(void)state;
	t0 = boottime();
	fg_start(&fg, args);
	usleep(1500000);
	host.now = 1000;
	tick();
	t1 = boottime();
	g = host_find(&host, "aged");
	assert_non_null(g);
	age = host.now - g->first_seen;
	if (!(age >= 1.5 - 0.02 && age <= t1 - t0 + 0.02))
		fprintf(stderr, "age %.3f s, wanted 1.5 to %.3f s\n", age, t1 - t0);
	assert_true(age >= 1.5 - 0.02 && age <= t1 - t0 + 0.02);
	/* the start time it came from, as the mover and affinity check it */
	assert_true(fabs(hostinfo_process_age(hostinfo_starttime(fg.pid)) -
			 (boottime() - t1 + age)) < 0.05);
	assert_true(hostinfo_process_age(0) == 0);
	fg_stop(&fg);
}

/*
 * Starts fakeguest under a memory policy binding it to node 0 (numactl
 * --membind=0: the task policy, which fork and exec keep), bound to `cpu`
 * as a whole when cpu >= 0.
 */
static bool fg_membound(struct fg *fg, const char *const *args, int cpu)
{
	unsigned long node0 = 1;
	FILE *f;

	/* node 0 without memory, or outside this test's cpuset */
	if (set_mempolicy(MPOL_BIND, &node0, sizeof(node0) * 8) < 0)
		return false;
	f = fg_spawn(fg, args, cpu, 0);
	assert_int_equal(set_mempolicy(MPOL_DEFAULT, NULL, 0), 0);
	fg_ready(fg, f);
	return true;
}

/* Whether this test runs under the kernel's default memory policy (not numactl). */
static bool default_mempolicy(void)
{
	int mode = -1;

	return get_mempolicy(&mode, NULL, 0, NULL, 0) == 0 && mode == MPOL_DEFAULT;
}

static void pinned_by_the_user(void **state)
{
	const char *args[] = { "-name", "guest=bound", "-m", "8", NULL };
	const char *args2[] = { "-name", "guest=bothbound", "-m", "8", NULL };
	struct fg fg;
	struct vn_guest *g;

	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || !default_mempolicy())
		skip();
	/*
	 * taskset -c 1 qemu ...: the user's choice, left alone; but its
	 * memory, which the kernel placed by default, may be brought to it
	 */
	fg_ready(&fg, fg_spawn(&fg, args, 1, 0));
	tick();
	g = host_find(&host, "bound");
	assert_non_null(g);
	assert_int_equal(g->v.flags & (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE |
				       VNUMAD_GUEST_NO_MEMMOVE),
			 VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE);
	fg_stop(&fg);
	/* numactl --physcpubind=1 --membind=0 qemu ...: all of it the user's */
	if (!fg_membound(&fg, args2, 1))
		skip();
	tick();
	g = host_find(&host, "bothbound");
	assert_non_null(g);
	assert_int_equal(g->v.flags & (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE),
			 VNUMAD_GUEST_PINNED);
	assert_true(g->v.flags & VNUMAD_GUEST_NO_MEMMOVE);
	fg_stop(&fg);
}

/*
 * numactl --membind=0 qemu ...: its memory is the user's (not moved, and
 * the reason says which policy), its vCPUs are not.
 */
static void memory_policy_of_the_user(void **state)
{
	const char *args[] = { "-name", "guest=membound", "-m", "8", NULL };
	struct fg fg;
	struct vn_guest *g;
	char pol[32] = "";

	(void)state;
	if (!default_mempolicy() || !fg_membound(&fg, args, -1))
		skip();
	assert_int_equal(vmm_memory_policy(fg.pid, pol, sizeof(pol)), 1);
	assert_string_equal(pol, "bind:0");
	tick();
	g = host_find(&host, "membound");
	assert_non_null(g);
	assert_int_equal(g->v.flags & (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_NO_MEMMOVE),
			 VNUMAD_GUEST_NO_MEMMOVE);
	assert_non_null(g->memory_fixed);
	assert_non_null(strstr(g->memory_fixed, "memory policy (bind:0"));
	fg_stop(&fg);
	/* the kernel's default everywhere: 0; no such process: -ESRCH */
	assert_int_equal(vmm_memory_policy(getpid(), pol, sizeof(pol)), 0);
	assert_int_equal(vmm_memory_policy(0x7ffffff0, pol, sizeof(pol)), -ESRCH);
}

static void affinity_on_the_right_thread_only(void **state)
{
	const char *args[] = { "-name", "guest=aff", "-smp", "2", "-m", "8", NULL };
	struct fg fg;
	struct vn_guest *g;
	char got[64], want[64];
	cpu_set_t one;

	(void)state;
	fg_start(&fg, args);
	tick();
	g = host_find(&host, "aff");
	assert_non_null(g);
	/* someone narrowed vCPU 1 to CPU 0; we give it all of node 0 */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	assert_int_equal(sched_setaffinity(g->vc[1].tid, sizeof(one), &one), 0);
	thread_cpus(g->vc[1].tid, got, sizeof(got));
	assert_string_equal(got, "0");
	assert_int_equal(be.ops->set_affinity(&be, g, 1, 1), 0);
	thread_cpus(g->vc[1].tid, got, sizeof(got));
	cpus_of(1, want, sizeof(want));
	assert_string_equal(got, want);
	tick();
	assert_int_equal(g->vv[1].allowed, 1);
	/* nodes without CPUs, vCPUs that do not exist */
	assert_int_equal(be.ops->set_affinity(&be, g, 1, 1ULL << 40), -EINVAL);
	assert_int_equal(be.ops->set_affinity(&be, g, 2, 1), -EINVAL);
	/* a thread that no longer bears the vCPU's name is not touched */
	assert_int_equal(be.ops->set_affinity(&be, g, 0, 1), 0);
	kill(fg.pid, SIGUSR1);
	for (int i = 0; i < 200 && vmm_is_vcpu_thread(fg.pid, g->vc[0].tid, VMM_QEMU, 0); i++)
		usleep(5000);
	assert_false(vmm_is_vcpu_thread(fg.pid, g->vc[0].tid, VMM_QEMU, 0));
	assert_int_equal(be.ops->set_affinity(&be, g, 0, 1), -ESRCH);
	/* nor the threads of a process that exited */
	fg_stop(&fg);
	assert_int_equal(be.ops->set_affinity(&be, g, 1, 1), -ESRCH);
	tick();
	assert_null(host_find(&host, "aff"));
}

static void memory_moves_through_the_backend(void **state)
{
	const char *args[] = { "-name", "guest=mem", "-m", "64", NULL };
	struct vn_migration m = { .from = 0, .to = 0, .bytes = 32 * MiB,
				  .state = VN_MIG_RUNNING };
	struct vn_host h;
	struct fg fg;
	struct vn_guest *g;
	double t0;

	(void)state;
	fg_start(&fg, args);
	tick();
	g = host_find(&host, "mem");
	assert_non_null(g);
	memset(&h, 0, sizeof(h));
	hostinfo_topology(&h);
	/* a node that does not exist: refused before anything starts */
	m.to = h.nr_nodes;
	assert_int_equal(be.ops->migrate(&be, g, &m), -EINVAL);
	m.to = 0;
	assert_int_equal(be.ops->migrate(&be, g, &m), 0);
	t0 = now_monotonic();
	while (m.state == VN_MIG_RUNNING && now_monotonic() - t0 < 10) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(m.done, 32 * MiB);
	/* a cancel that comes after the end changes nothing */
	be.ops->cancel(&be, &m);
	assert_int_equal(m.state, VN_MIG_DONE);
	fg_stop(&fg);
}

/* --- a real QEMU (tests/t_proc_qemu.sh) ------------------------------------ */

static pid_t qemu_pid;		/* VNUMAD_QEMU_PID: a QEMU of 2 vCPUs */
static const char *qemu_name = "plainq";	/* its -name: VNUMAD_QEMU_NAME */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* Found by its executable and "CPU n/TCG" (or KVM) thread names, named after -name. */
static void qemu_found_with_its_threads(void **state)
{
	enum vmm_kind k = VMM_NONE;
	pid_t tids[HI_MAX_VCPUS];
	struct vn_guest *g;

	(void)state;
	tick();
	g = host_find(&host, qemu_name);
	assert_non_null(g);
	assert_int_equal(g->pid, qemu_pid);
	assert_int_equal(vmm_of_process(qemu_pid), VMM_QEMU);
	assert_int_equal(vmm_vcpu_threads(qemu_pid, &k, tids, HI_MAX_VCPUS, NULL), 2);
	assert_int_equal(k, VMM_QEMU);
	assert_int_equal(g->nr_vcpus, 2);
	assert_int_equal(g->vc[0].tid, tids[0]);
	assert_int_equal(g->vc[1].tid, tids[1]);
	assert_null(g->unmeasured);
	assert_int_equal(g->v.flags & (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_NO_MEMMOVE), 0);
}

/* A vCPU narrowed to one CPU gets its node's CPUs back, on that thread only. */
static void qemu_vcpu_moves(void **state)
{
	struct vn_guest *g;
	char got[64], want[64], other[64];
	cpu_set_t one;

	(void)state;
	tick();
	g = host_find(&host, qemu_name);
	assert_non_null(g);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	assert_int_equal(sched_setaffinity(g->vc[1].tid, sizeof(one), &one), 0);
	thread_cpus(g->vc[0].tid, other, sizeof(other));
	assert_int_equal(be.ops->set_affinity(&be, g, 1, 1), 0);
	thread_cpus(g->vc[1].tid, got, sizeof(got));
	cpus_of(1, want, sizeof(want));
	assert_string_equal(got, want);
	/* vCPU 0 untouched */
	thread_cpus(g->vc[0].tid, got, sizeof(got));
	assert_string_equal(got, other);
	tick();
	assert_int_equal(g->vv[1].allowed, 1);
}

/* Its guest RAM moves through the backend: onto node 0, where it is, on one node. */
static void qemu_memory_moves(void **state)
{
	struct vn_migration m = { .from = 0, .to = 0, .bytes = 0, .state = VN_MIG_RUNNING };
	struct vn_guest *g;
	double t0;

	(void)state;
	tick();
	g = host_find(&host, qemu_name);
	assert_non_null(g);
	/* a QEMU slowed by a loaded host may not have touched its RAM yet */
	t0 = now_monotonic();
	while (g->v.mem[0] < 1024 * 1024 && now_monotonic() - t0 < 20) {
		usleep(200 * 1000);
		tick();
		g = host_find(&host, qemu_name);
		assert_non_null(g);
	}
	m.guest_id = g->id;
	assert_int_equal(be.ops->migrate(&be, g, &m), 0);
	t0 = now_monotonic();
	while (m.state == VN_MIG_RUNNING && now_monotonic() - t0 < 20) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_true(m.done > 0);
	assert_int_equal(m.failed, 0);
	print_message("# %llu KiB of guest RAM moved within node 0\n",
		      (unsigned long long)(m.done / 1024));
}

static void *kill_soon(void *arg)
{
	usleep(150000);
	kill(*(pid_t *)arg, SIGKILL);
	return NULL;
}

/* Killed while ticks run and vCPUs move: gone, nothing left open. */
static void qemu_killed_mid_tick(void **state)
{
	struct vn_guest *g;
	pthread_t t;
	double t0;
	int fds, moves = 0;

	(void)state;
	tick();
	assert_non_null(host_find(&host, qemu_name));
	fds = count_fds();
	pthread_create(&t, NULL, kill_soon, &qemu_pid);
	t0 = now_monotonic();
	while ((g = host_find(&host, qemu_name)) && now_monotonic() - t0 < 10) {
		if (be.ops->set_affinity(&be, g, moves % 2, 1) == 0)
			moves++;
		tick();
	}
	pthread_join(t, NULL);
	assert_null(host_find(&host, qemu_name));
	assert_int_equal(count_fds(), fds);
	print_message("# %d vCPU moves during the ticks before QEMU was gone\n", moves);
}

/* --- privileges ------------------------------------------------------------ */

static uint64_t cap_line(const char *key)
{
	char line[256];
	unsigned long long v = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			sscanf(line + strlen(key), "%llx", &v);
	if (f)
		fclose(f);
	return v;
}

static int status_value(const char *key)
{
	char line[256];
	int v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = atoi(line + strlen(key));
	if (f)
		fclose(f);
	return v;
}

#define BIT(c) (1ULL << (c))

/* In a child: drop, then check what is left and what it allows. 0: all good. */
static int privs_child(pid_t other_uid_pid, pid_t other_tid, const char *locked_dir)
{
	uint64_t keep = BIT(CAP_SYS_NICE) | BIT(CAP_SYS_PTRACE) | BIT(CAP_PERFMON);
	char path[256];
	cpu_set_t s;
	int fd;

	if (privs_drop() < 0)
		return 1;
	if (cap_line("CapEff:") != keep)
		return 2;
	/* CAP_SYS_ADMIN aside, for the NUMA balancing restore only */
	if (cap_line("CapPrm:") != (keep | BIT(CAP_SYS_ADMIN)))
		return 3;
	if (cap_line("CapBnd:") != 0 || status_value("NoNewPrivs:") != 1)
		return 4;
	/* CAP_SYS_NICE: another user's vCPU thread */
	CPU_ZERO(&s);
	CPU_SET(0, &s);
	if (sched_setaffinity(other_tid, sizeof(s), &s) < 0)
		return 5;
	/* CAP_SYS_PTRACE: its smaps */
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)other_uid_pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 6;
	close(fd);
	/* no CAP_DAC_OVERRIDE: another user's private directory is closed */
	snprintf(path, sizeof(path), "%s/x", locked_dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd >= 0 || errno != EACCES)
		return 7;
	/* no CAP_CHOWN */
	if (chown(locked_dir, 0, 0) == 0 || errno != EPERM)
		return 8;
	/* CAP_SYS_ADMIN comes and goes */
	if (privs_raise(CAP_SYS_ADMIN) < 0 || !(cap_line("CapEff:") & BIT(CAP_SYS_ADMIN)))
		return 9;
	privs_lower(CAP_SYS_ADMIN);
	if (cap_line("CapEff:") & BIT(CAP_SYS_ADMIN))
		return 10;
	/* what was never kept cannot be raised */
	if (privs_raise(CAP_CHOWN) == 0)
		return 11;
	return 0;
}

static void privileges_dropped(void **state)
{
	const char *args[] = { "-smp", "1", "-m", "8", NULL };
	char dir[] = "/tmp/vnumad-privs-XXXXXX", sysctl[64], saved[64];
	pid_t tids[4], child;
	struct fg fg;
	int status, fd;

	(void)state;
	if (geteuid() != 0)
		skip();
	fg_ready(&fg, fg_spawn(&fg, args, -1, 65534));
	assert_int_equal(vcpu_threads(fg.pid, tids, 4), 1);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chown(dir, 65534, 65534), 0);
	assert_int_equal(chmod(dir, 0700), 0);
	snprintf(sysctl, sizeof(sysctl), "%s.sysctl", dir);
	snprintf(saved, sizeof(saved), "%s.saved", dir);
	fd = open(sysctl, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, "1\n", 2), 2);
	close(fd);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		config_defaults(&cfg);
		cfg.numa_balancing = VN_NUMAB_DISABLE;
		numab_set_paths(sysctl, saved);
		if (numab_setup(&cfg) < 0 || !numab_changed())
			_exit(20);
		_exit(privs_child(fg.pid, tids[0], dir));
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	fg_stop(&fg);
	rmdir(dir);
	unlink(sysctl);
	unlink(saved);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- NUMA balancing -------------------------------------------------------- */

static char nb_sysctl[64], nb_saved[64];

static void put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

static int get(const char *path)
{
	char buf[16] = "";
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return atoi(buf);
}

static int nb_setup(void **state)
{
	(void)state;
	snprintf(nb_sysctl, sizeof(nb_sysctl), "/tmp/vnumad-numab-%d", (int)getpid());
	snprintf(nb_saved, sizeof(nb_saved), "/tmp/vnumad-numab-%d.saved", (int)getpid());
	numab_set_paths(nb_sysctl, nb_saved);
	config_defaults(&cfg);
	return 0;
}

static int nb_teardown(void **state)
{
	(void)state;
	numab_restore();
	numab_set_paths(NULL, NULL);
	unlink(nb_sysctl);
	unlink(nb_saved);
	config_free(&cfg);
	return 0;
}

static void numa_balancing_modes(void **state)
{
	(void)state;
	put(nb_sysctl, "1\n");
	cfg.numa_balancing = VN_NUMAB_LEAVE;
	assert_int_equal(numab_setup(&cfg), 0);
	assert_int_equal(get(nb_sysctl), 1);
	cfg.numa_balancing = VN_NUMAB_WARN;
	assert_int_equal(numab_setup(&cfg), 0);
	assert_int_equal(get(nb_sysctl), 1);
	assert_false(numab_changed());
	/* a dry run changes nothing, even when asked to */
	cfg.numa_balancing = VN_NUMAB_DISABLE;
	cfg.dry_run = true;
	assert_int_equal(numab_setup(&cfg), 0);
	assert_int_equal(get(nb_sysctl), 1);
	cfg.dry_run = false;
	/* off while we run, the old value kept aside, back at exit */
	put(nb_sysctl, "3\n");
	assert_int_equal(numab_setup(&cfg), 0);
	assert_int_equal(get(nb_sysctl), 0);
	assert_true(numab_changed());
	assert_int_equal(get(nb_saved), 3);
	numab_restore();
	assert_int_equal(get(nb_sysctl), 3);
	assert_false(numab_changed());
	assert_int_equal(access(nb_saved, F_OK), -1);
	numab_restore();	/* idempotent */
	assert_int_equal(get(nb_sysctl), 3);
	/* already off: nothing to do, nothing to restore */
	put(nb_sysctl, "0\n");
	assert_int_equal(numab_setup(&cfg), 0);
	assert_false(numab_changed());
	/* a kernel without it */
	unlink(nb_sysctl);
	assert_int_equal(numab_setup(&cfg), 0);
	assert_false(numab_changed());
}

/*
 * The saved value goes in the state directory: a link planted there as its
 * file is neither followed when it is written (root would truncate the
 * link's target) nor when it is read.
 */
static void numa_balancing_saved_not_followed(void **state)
{
	char victim[128];

	(void)state;
	snprintf(victim, sizeof(victim), "%s.victim", nb_sysctl);
	put(victim, "precious\n");
	assert_int_equal(symlink(victim, nb_saved), 0);
	put(nb_sysctl, "0\n");
	cfg.numa_balancing = VN_NUMAB_DISABLE;
	/* off already, and the "saved" value is not one to trust */
	assert_int_equal(numab_setup(&cfg), 0);
	assert_false(numab_changed());
	put(nb_sysctl, "1\n");
	assert_int_equal(numab_setup(&cfg), 0);
	assert_true(numab_changed());
	assert_int_equal(get(nb_saved), 1);
	{
		struct stat st;

		assert_int_equal(lstat(nb_saved, &st), 0);
		assert_true(S_ISREG(st.st_mode));
	}
	{
		char buf[32] = "";
		FILE *f = fopen(victim, "r");

		assert_non_null(f);
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		assert_string_equal(buf, "precious\n");
	}
	numab_restore();
	assert_int_equal(get(nb_sysctl), 1);
	unlink(victim);
}

/*
 * Written ahead: when the value to restore cannot be kept (a full or
 * missing state directory), NUMA balancing is left as it is, since a
 * vnumad that died holding it off could not set it back.
 */
static void numa_balancing_left_when_unsaved(void **state)
{
	char saved[160];

	(void)state;
	snprintf(saved, sizeof(saved), "%s.missing/numa_balancing.saved", nb_sysctl);
	numab_set_paths(nb_sysctl, saved);
	put(nb_sysctl, "1\n");
	cfg.numa_balancing = VN_NUMAB_DISABLE;
	assert_true(numab_setup(&cfg) < 0);
	assert_false(numab_changed());
	assert_int_equal(get(nb_sysctl), 1);
}

/*
 * The daemon keeps the value in [daemon] state_dir: a state directory that
 * cannot hold it (here under a regular file) leaves NUMA balancing as it
 * is, as a full one does; a sound one gets numa_balancing.saved, mode 0644
 * at most, in a directory of mode 0700 made for it.
 */
static void numa_balancing_left_when_state_dir_unusable(void **state)
{
	char file[128], dir[160], saved[192];
	struct stat st;

	(void)state;
	snprintf(file, sizeof(file), "%s.file", nb_sysctl);
	put(file, "not a directory\n");
	snprintf(dir, sizeof(dir), "%s/state", file);
	numab_set_paths(nb_sysctl, NULL);
	free(cfg.state_dir);
	cfg.state_dir = strdup(dir);
	put(nb_sysctl, "1\n");
	cfg.numa_balancing = VN_NUMAB_DISABLE;
	assert_true(numab_setup(&cfg) < 0);
	assert_false(numab_changed());
	assert_int_equal(get(nb_sysctl), 1);
	unlink(file);
	/* the same directory path, now possible: made, and the value kept there */
	snprintf(dir, sizeof(dir), "%s.state", nb_sysctl);
	free(cfg.state_dir);
	cfg.state_dir = strdup(dir);
	snprintf(saved, sizeof(saved), "%s/numa_balancing.saved", dir);
	assert_int_equal(numab_setup(&cfg), 0);
	assert_true(numab_changed());
	assert_int_equal(get(nb_sysctl), 0);
	assert_int_equal(get(saved), 1);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	numab_restore();
	assert_int_equal(get(nb_sysctl), 1);
	assert_int_equal(access(saved, F_OK), -1);
	rmdir(dir);
}

static void numa_balancing_after_a_crash(void **state)
{
	(void)state;
	/* a vnumad died holding it off: the saved value is the operator's */
	put(nb_sysctl, "0\n");
	put(nb_saved, "1\n");
	cfg.numa_balancing = VN_NUMAB_DISABLE;
	assert_int_equal(numab_setup(&cfg), 0);
	assert_true(numab_changed());
	assert_int_equal(get(nb_sysctl), 0);
	numab_restore();
	assert_int_equal(get(nb_sysctl), 1);
	/* the same, but the operator now wants it left alone: back at once */
	put(nb_sysctl, "0\n");
	put(nb_saved, "2\n");
	cfg.numa_balancing = VN_NUMAB_WARN;
	assert_int_equal(numab_setup(&cfg), 0);
	assert_int_equal(get(nb_sysctl), 2);
	assert_false(numab_changed());
	/* a value no kernel setting has is not given back */
	put(nb_sysctl, "0\n");
	put(nb_saved, "7\n");
	cfg.numa_balancing = VN_NUMAB_DISABLE;
	assert_int_equal(numab_setup(&cfg), 0);
	assert_false(numab_changed());
	assert_int_equal(get(nb_sysctl), 0);
	cfg.numa_balancing = VN_NUMAB_WARN;
	/* a stale file, someone switched it on since: forgotten */
	put(nb_sysctl, "1\n");
	put(nb_saved, "1\n");
	assert_int_equal(numab_setup(&cfg), 0);
	assert_int_equal(access(nb_saved, F_OK), -1);
	/* a sysctl we cannot write: said, and the daemon carries on */
	if (geteuid() != 0) {
		chmod(nb_sysctl, 0444);
		cfg.numa_balancing = VN_NUMAB_DISABLE;
		assert_true(numab_setup(&cfg) < 0);
		assert_false(numab_changed());
	}
}

/* The real sysctl: switched off and back, also with privileges dropped. */
static void numa_balancing_real_sysctl(void **state)
{
	const char *real = "/proc/sys/kernel/numa_balancing";
	int orig = get(real), status;
	pid_t child;

	(void)state;
	if (geteuid() != 0 || orig < 0 || access(real, W_OK) != 0)
		skip();
	numab_set_paths(real, nb_saved);
	put(real, "1\n");
	cfg.numa_balancing = VN_NUMAB_DISABLE;
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int r;

		if (numab_setup(&cfg) < 0 || numab_read() != 0)
			_exit(1);
		/* the kernel wants CAP_SYS_ADMIN to write it back */
		if (privs_drop() < 0)
			_exit(2);
		numab_restore();
		r = numab_read();
		_exit(r == 1 ? 0 : 3);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	put(real, orig ? "1\n" : "0\n");
	numab_set_paths(nb_sysctl, nb_saved);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(topology_from_libnuma),
		cmocka_unit_test(node_masks_and_cpu_sets),
		cmocka_unit_test(qemu_names),
		cmocka_unit_test(vcpu_threads_and_identity),
		cmocka_unit_test_setup_teardown(finds_guests_by_thread_names, be_setup, be_teardown),
		cmocka_unit_test_setup_teardown(finds_a_guest_that_starts_late, be_setup, be_teardown),
		cmocka_unit_test_setup_teardown(finds_every_vmm, be_setup, be_teardown),
		cmocka_unit_test_setup_teardown(qemu_without_vcpu_threads, be_setup, be_teardown),
		cmocka_unit_test_setup_teardown(impostors_are_no_guests, be_setup, be_teardown),
		cmocka_unit_test_setup_teardown(names_stay_with_their_guests, be_setup,
						be_teardown),
		cmocka_unit_test_setup_teardown(pinned_by_the_user, be_setup, be_teardown),
		cmocka_unit_test_setup_teardown(memory_policy_of_the_user, be_setup, be_teardown),
		cmocka_unit_test_setup_teardown(age_is_the_process_age, be_setup, be_teardown),
		cmocka_unit_test_setup_teardown(affinity_on_the_right_thread_only, be_setup,
						be_teardown),
		cmocka_unit_test_setup_teardown(memory_moves_through_the_backend, be_setup,
						be_teardown),
		cmocka_unit_test(privileges_dropped),
		cmocka_unit_test_setup_teardown(numa_balancing_modes, nb_setup, nb_teardown),
		cmocka_unit_test_setup_teardown(numa_balancing_after_a_crash, nb_setup, nb_teardown),
		cmocka_unit_test_setup_teardown(numa_balancing_saved_not_followed, nb_setup,
						nb_teardown),
		cmocka_unit_test_setup_teardown(numa_balancing_left_when_unsaved, nb_setup,
						nb_teardown),
		cmocka_unit_test_setup_teardown(numa_balancing_left_when_state_dir_unusable,
						nb_setup, nb_teardown),
		cmocka_unit_test_setup_teardown(numa_balancing_real_sysctl, nb_setup, nb_teardown),
	};

	const struct CMUnitTest qemu[] = {
		cmocka_unit_test_setup_teardown(qemu_found_with_its_threads, be_setup, be_teardown),
		cmocka_unit_test_setup_teardown(qemu_vcpu_moves, be_setup, be_teardown),
		cmocka_unit_test_setup_teardown(qemu_memory_moves, be_setup, be_teardown),
		cmocka_unit_test_setup_teardown(qemu_killed_mid_tick, be_setup, be_teardown),
	};

	log_init(true, getenv("VERBOSE") ? LOG_DEBUG : LOG_WARNING, "vnumad");
	/* tests/t_proc_qemu.sh: the same backend on a real QEMU */
	if (getenv("VNUMAD_QEMU_PID")) {
		qemu_pid = (pid_t)atoi(getenv("VNUMAD_QEMU_PID"));
		if (getenv("VNUMAD_QEMU_NAME"))
			qemu_name = getenv("VNUMAD_QEMU_NAME");
		return cmocka_run_group_tests_name("qemu", qemu, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
