// SPDX-License-Identifier: MIT
/*
 * The VMMs vnumad recognises: one table row each, with the executables,
 * the vCPU thread names and the guest name of its command line. See vmm.h
 * and rebalancer/backends.md (where each name is cited from the VMM's
 * source).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostinfo.h"
#include "util.h"
#include "vmm.h"

/*
 * The number in a thread name "PREFIXnSUFFIX", exactly: digits only, no
 * sign or space, and nothing after the suffix but the newline /proc adds.
 * Returns -1 when the name is not of that form.
 */
static int name_number(const char *comm, const char *prefix, const char *suffix)
{
	size_t lp = strlen(prefix), ls = strlen(suffix);
	const char *p = comm + lp;
	long n = 0;
	int digits = 0;

	if (strncmp(comm, prefix, lp) != 0)
		return -1;
	while (isdigit((unsigned char)*p) && digits < 6) {
		n = n * 10 + (*p++ - '0');
		digits++;
	}
	if (!digits || isdigit((unsigned char)*p) || strncmp(p, suffix, ls) != 0)
		return -1;
	p += ls;
	if (*p && !(*p == '\n' && !p[1]))
		return -1;
	return n > INT_MAX ? -1 : (int)n;
}

/*
 * QEMU names a vCPU thread "CPU %d/%s" after its accelerator: KVM
 * (accel/kvm/kvm-accel-ops.c), TCG with one thread per vCPU
 * (accel/tcg/tcg-accel-ops-mttcg.c), MSHV (accel/mshv/mshv-all.c). The
 * other accelerators of QEMU do not run on Linux, or run no guest code
 * in that thread (Xen's and qtest's "CPU %d/DUMMY").
 */
static int qemu_vcpu(const char *comm)
{
	static const char *const accel[] = { "/KVM", "/TCG", "/MSHV" };

	for (size_t i = 0; i < ARRAY_SIZE(accel); i++) {
		int n = name_number(comm, "CPU ", accel[i]);

		if (n >= 0)
			return n;
	}
	return -1;
}

/* Single-threaded TCG runs every vCPU in one thread (accel/tcg/tcg-accel-ops-rr.c). */
static bool qemu_shared_thread(const char *comm)
{
	return !strcmp(comm, "ALL CPUs/TCG") || !strcmp(comm, "ALL CPUs/TCG\n");
}

/* cloud-hypervisor: vmm/src/cpu.rs names its vCPU threads "vcpu{id}". */
static int ch_vcpu(const char *comm)
{
	return name_number(comm, "vcpu", "");
}

/* Firecracker: src/vmm/src/vstate/vcpu.rs names them "fc_vcpu {index}". */
static int fc_vcpu(const char *comm)
{
	return name_number(comm, "fc_vcpu ", "");
}

/* The arguments of a command line, one NUL-terminated string after another. */
#define for_each_arg(a, cmd, len) \
	for (const char *a = (cmd); a < (cmd) + (len); a += strnlen(a, (size_t)((cmd) + (len) - a)) + 1)

/*
 * The value of option opt ("--id") in a command line: the next argument,
 * or what follows "opt=" in the same one. NULL when absent.
 */
static const char *opt_value(const char *cmd, size_t len, const char *opt)
{
	size_t lo = strlen(opt);
	const char *end = cmd + len;

	for_each_arg(a, cmd, len) {
		const char *next = a + strnlen(a, (size_t)(end - a)) + 1;

		if (!strcmp(a, opt))
			return next < end ? next : NULL;
		if (!strncmp(a, opt, lo) && a[lo] == '=')
			return a + lo + 1;
	}
	return NULL;
}

/* Copies a QEMU option value up to its first single ',' with ",," unescaped. */
static void copy_opt(const char *s, const char *end, char *out, size_t size)
{
	size_t o = 0;

	while (s < end && *s && o + 1 < size) {
		if (*s == ',') {
			if (s + 1 < end && s[1] == ',')
				s++;
			else
				break;
		}
		out[o++] = *s++;
	}
	out[o] = '\0';
}

/*
 * QEMU: the value of "-name guest=NAME,..." or "-name NAME,...", with
 * QEMU's ",," unescaped.
 */
static bool qemu_name(const char *cmdline, size_t len, char *name, size_t size)
{
	const char *p = cmdline, *end = cmdline + len;

	while (p < end) {
		const char *arg = p;
		size_t n = strnlen(arg, (size_t)(end - arg));

		p = arg + n + 1;
		if (strcmp(arg, "-name") != 0 && strcmp(arg, "--name") != 0)
			continue;
		if (p >= end)
			return false;
		/* guest=NAME may be any of the comma-separated options */
		for (const char *o = p; o < end && *o; ) {
			if (strncmp(o, "guest=", 6) == 0) {
				copy_opt(o + 6, end, name, size);
				return name[0] != '\0';
			}
			while (o < end && *o && !(*o == ',' && o[1] != ','))
				o += *o == ',' ? 2 : 1;
			if (o < end && *o == ',')
				o++;
		}
		/* -name NAME[,opts]: a first item without '=' is the name */
		copy_opt(p, end, name, size);
		return name[0] != '\0' && !strchr(name, '=');
	}
	return false;
}

/* The value of key=V in a QEMU option list such as "4,sockets=2,cores=2"; 0 absent. */
static long qemu_opt_num(const char *opts, const char *key)
{
	size_t lk = strlen(key);

	for (const char *o = opts; *o; ) {
		if (!strncmp(o, key, lk) && o[lk] == '=')
			return strtol(o + lk + 1, NULL, 10);
		o = strchr(o, ',');
		if (!o)
			break;
		o++;
	}
	return 0;
}

/*
 * QEMU: -smp N, -smp cpus=N, or the product of the topology it gives
 * (sockets, dies, clusters, cores, threads); 1 without -smp.
 */
static int qemu_vcpus(const char *cmdline, size_t len)
{
	const char *v = opt_value(cmdline, len, "-smp");
	long n = 1;

	if (!v)
		return 1;
	if (isdigit((unsigned char)*v))
		n = strtol(v, NULL, 10);
	else if (!(n = qemu_opt_num(v, "cpus"))) {
		static const char *const topo[] = {
			"sockets", "dies", "clusters", "cores", "threads",
		};

		n = 1;
		for (size_t i = 0; i < ARRAY_SIZE(topo); i++) {
			long k = qemu_opt_num(v, topo[i]);

			if (k > 0)
				n *= k;
		}
	}
	return n > 0 && n <= HI_MAX_VCPUS ? (int)n : 0;
}

/*
 * The last component of a socket path without ".sock" or ".socket", as a
 * guest name: "/run/ch/web1.sock" names web1.
 */
static bool socket_name(const char *path, char *name, size_t size)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 7 && !strcmp(base + n - 7, ".socket"))
		n -= 7;
	else if (n > 5 && !strcmp(base + n - 5, ".sock"))
		n -= 5;
	if (!n || n >= size)
		return false;
	memcpy(name, base, n);
	name[n] = '\0';
	return true;
}

/*
 * cloud-hypervisor has no guest name; its API socket names the VM for
 * whoever drives it: "--api-socket path=P" or "--api-socket P"
 * (cloud-hypervisor/src/main.rs, parse_api_socket). An fd= socket names
 * nothing.
 */
static bool ch_name(const char *cmdline, size_t len, char *name, size_t size)
{
	const char *v = opt_value(cmdline, len, "--api-socket");
	char path[PATH_MAX];
	const char *p;

	if (!v || !*v)
		return false;
	if ((p = strstr(v, "path=")) && (p == v || p[-1] == ',')) {
		copy_opt(p + 5, p + strlen(p), path, sizeof(path));
	} else if (strchr(v, '=')) {
		return false;	/* fd=N, or options we do not know */
	} else {
		snprintf(path, sizeof(path), "%s", v);
	}
	return socket_name(path, name, size);
}

/* QEMU: "-uuid UUID" (qemu-options.hx), which libvirt always passes. */
static const char *qemu_uuid(const char *cmdline, size_t len)
{
	const char *v = opt_value(cmdline, len, "-uuid");

	return v ? v : opt_value(cmdline, len, "--uuid");
}

/*
 * cloud-hypervisor: "--platform ...,uuid=UUID,..." (the DMI UUID of its
 * --platform option, src/main.rs and vmm/src/config.rs).
 */
static const char *ch_uuid(const char *cmdline, size_t len)
{
	const char *v = opt_value(cmdline, len, "--platform"), *p;

	for (p = v; p && (p = strstr(p, "uuid=")); p++)
		if (p == v || p[-1] == ',')
			return p + 5;
	return NULL;
}

/*
 * cloud-hypervisor: "--cpus boot=N,..." (vmm/src/config.rs); 1 without it,
 * its default.
 */
static int ch_vcpus(const char *cmdline, size_t len)
{
	const char *v = opt_value(cmdline, len, "--cpus");
	long n;

	if (!v)
		return 1;
	n = qemu_opt_num(v, "boot");
	return n > 0 && n <= HI_MAX_VCPUS ? (int)n : 0;
}

/*
 * Firecracker: "--id ID" (src/firecracker/src/main.rs) unless it is the
 * default "anonymous-instance", else the name of its "--api-sock" unless
 * that is the default /run/firecracker.socket.
 */
static bool fc_name(const char *cmdline, size_t len, char *name, size_t size)
{
	const char *id = opt_value(cmdline, len, "--id");
	const char *sock = opt_value(cmdline, len, "--api-sock");

	if (id && *id && strcmp(id, "anonymous-instance") != 0) {
		snprintf(name, size, "%s", id);
		return true;
	}
	if (sock && strcmp(sock, "/run/firecracker.socket") != 0)
		return socket_name(sock, name, size);
	return false;
}

/* Firecracker takes its vCPU count over the API: the command line does not say. */
static int fc_vcpus(const char *cmdline, size_t len)
{
	(void)cmdline;
	(void)len;
	return 0;
}

static const char *const qemu_exes[] = { "qemu-system-*", "qemu-kvm", NULL };
static const char *const ch_exes[] = { "cloud-hypervisor", "cloud-hypervisor-static*", NULL };
static const char *const fc_exes[] = { "firecracker", "firecracker-v*", NULL };

static const struct vmm vmms[VMM_NR] = {
	[VMM_QEMU] = {
		.kind = VMM_QEMU, .name = "QEMU", .id = "qemu", .exes = qemu_exes,
		.names_identify = true, .vcpu_of_name = qemu_vcpu,
		.guest_name = qemu_name, .vcpus_asked = qemu_vcpus, .uuid_opt = qemu_uuid,
	},
	[VMM_CLOUD_HYPERVISOR] = {
		.kind = VMM_CLOUD_HYPERVISOR, .name = "cloud-hypervisor",
		.id = "cloud-hypervisor", .exes = ch_exes, .names_identify = false,
		.vcpu_of_name = ch_vcpu, .guest_name = ch_name, .vcpus_asked = ch_vcpus,
		.uuid_opt = ch_uuid,
	},
	[VMM_FIRECRACKER] = {
		.kind = VMM_FIRECRACKER, .name = "Firecracker", .id = "firecracker",
		.exes = fc_exes, .names_identify = true, .vcpu_of_name = fc_vcpu,
		.guest_name = fc_name, .vcpus_asked = fc_vcpus,
	},
};

const struct vmm *vmm_get(enum vmm_kind kind)
{
	return kind > VMM_NONE && kind < VMM_NR ? &vmms[kind] : NULL;
}

static enum vmm_kind kind_of_name(const char *base)
{
	for (int k = VMM_NONE + 1; k < VMM_NR; k++)
		for (const char *const *e = vmms[k].exes; *e; e++)
			if (fnmatch(*e, base, 0) == 0)
				return (enum vmm_kind)k;
	return VMM_NONE;
}

enum vmm_kind vmm_of_exe(const char *path)
{
	const char *base = strrchr(path, '/');

	return kind_of_name(base ? base + 1 : path);
}

/*
 * Only the executable counts: a process chooses its own command name and
 * thread names, so that a process whose executable cannot be read (another
 * user's, to a caller without CAP_SYS_PTRACE) is no VMM of ours.
 */
enum vmm_kind vmm_of_process(pid_t pid)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return VMM_NONE;
	exe[n] = '\0';
	/* an executable replaced since it started (a package upgrade) */
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		exe[n - 10] = '\0';
	return vmm_of_exe(exe);
}

int vmm_vcpu_of_name(enum vmm_kind kind, const char *comm, enum vmm_kind *found)
{
	const struct vmm *m = vmm_get(kind);

	if (m)
		return m->vcpu_of_name(comm);
	for (int k = VMM_NONE + 1; k < VMM_NR; k++) {
		int v;

		if (!vmms[k].names_identify || (v = vmms[k].vcpu_of_name(comm)) < 0)
			continue;
		if (found)
			*found = (enum vmm_kind)k;
		return v;
	}
	return -1;
}

/* The name of a thread, read into comm; false when it is gone. */
static bool thread_name(pid_t pid, pid_t tid, char *comm, size_t len)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	return hostinfo_read(path, comm, len) > 0;
}

int vmm_vcpu_threads(pid_t pid, enum vmm_kind *kind, pid_t *tids, int max,
		     unsigned *seen)
{
	char path[64], comm[64];
	struct dirent *de;
	DIR *d;
	int nr = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	memset(tids, 0, (size_t)max * sizeof(*tids));
	if (seen)
		*seen = 0;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		enum vmm_kind k = *kind;
		int v;

		if (tid <= 0 || !thread_name(pid, tid, comm, sizeof(comm)))
			continue;
		if (seen && (k == VMM_NONE || k == VMM_QEMU) && qemu_shared_thread(comm))
			*seen |= VMM_SEEN_SHARED;
		v = vmm_vcpu_of_name(k, comm, &k);
		if (v < 0 || v >= max)
			continue;
		/* the first name that identifies a VMM decides for the rest */
		*kind = k;
		tids[v] = tid;
		if (v + 1 > nr)
			nr = v + 1;
	}
	closedir(d);
	return nr;
}

bool vmm_is_vcpu_thread(pid_t pid, pid_t tid, enum vmm_kind kind, int vcpu)
{
	char comm[64];

	if (pid <= 0 || tid <= 0 || !thread_name(pid, tid, comm, sizeof(comm)))
		return false;
	return vmm_vcpu_of_name(kind, comm, NULL) == vcpu;
}

bool vmm_is_thread_of(pid_t pid, pid_t tid)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
	return pid > 0 && tid > 0 && access(path, F_OK) == 0;
}

bool vmm_guest_name(enum vmm_kind kind, const char *cmdline, size_t len,
		    char *name, size_t size)
{
	const struct vmm *m = vmm_get(kind ? kind : VMM_QEMU);

	name[0] = '\0';
	return m->guest_name(cmdline, len, name, size) && name[0];
}

bool vmm_guest_uuid(enum vmm_kind kind, const char *cmdline, size_t len,
		    char *uuid, size_t size)
{
	const struct vmm *m = vmm_get(kind ? kind : VMM_QEMU);
	const char *v = m && m->uuid_opt ? m->uuid_opt(cmdline, len) : NULL;
	char u[37];

	if (size > 0)
		uuid[0] = '\0';
	if (!v || size < sizeof(u))
		return false;
	/* 8-4-4-4-12 hex digits, up to the end of the argument or a ',' */
	for (int i = 0; i < 36; i++) {
		unsigned char c = (unsigned char)v[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? c != '-' : !isxdigit(c))
			return false;
		u[i] = (char)tolower(c);
	}
	if (v[36] != '\0' && v[36] != ',')
		return false;
	u[36] = '\0';
	memcpy(uuid, u, sizeof(u));
	return true;
}

int vmm_vcpus_asked(enum vmm_kind kind, const char *cmdline, size_t len)
{
	const struct vmm *m = vmm_get(kind);

	return m ? m->vcpus_asked(cmdline, len) : 0;
}

int vmm_process_uids(pid_t pid, uid_t *ruid, uid_t *euid)
{
	char path[64], buf[4096], *line;
	unsigned long r, e;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (hostinfo_read(path, buf, sizeof(buf)) <= 0)
		return -ESRCH;
	line = strstr(buf, "\nUid:");
	if (!line || sscanf(line + 5, "%lu %lu", &r, &e) != 2)
		return -ENOENT;
	*ruid = (uid_t)r;
	*euid = (uid_t)e;
	return 0;
}

/*
 * Each numa_maps line is "ADDRESS POLICY ...". fs/proc/task_mmu.c
 * (show_numa_map) prints the mapping's policy, or the task's when it has
 * none, through mpol_to_str() (mm/mempolicy.c), which writes "default"
 * for the default policy and for the per-node preferred policy a task
 * without one falls back to (MPOL_F_MORON). Anything else is the user's.
 */
int vmm_memory_policy(pid_t pid, char *policy, size_t len)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0, lines = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/numa_maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *tok = memchr(line, ' ', (size_t)n), *end;

		lines++;
		if (!tok)
			continue;
		tok++;
		end = tok + strcspn(tok, " \n");
		if ((size_t)(end - tok) == strlen("default") && !strncmp(tok, "default", 7))
			continue;
		if (len)
			snprintf(policy, len, "%.*s", (int)(end - tok), tok);
		r = 1;
		break;
	}
	if (ferror(f) && !r)
		r = -EIO;
	else if (!r && !lines)
		r = -ESRCH;	/* no mappings: a process exiting */
	free(line);
	fclose(f);
	return r;
}

int vmm_mems_allowed(pid_t pid, uint64_t *nodes)
{
	char path[64], buf[4096], *line;
	const char *why;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (hostinfo_read(path, buf, sizeof(buf)) <= 0)
		return -ESRCH;
	line = strstr(buf, "\nMems_allowed_list:");
	if (!line)
		return -ENOENT;
	line += strlen("\nMems_allowed_list:");
	line += strspn(line, " \t");
	line[strcspn(line, "\n")] = '\0';
	return parse_nodemask(line, nodes, &why) < 0 ? -ERANGE : 0;
}
