/* SPDX-License-Identifier: MIT */
/*
 * The virtual machine monitors vnumad recognises on a host, one row of a
 * table each (vmm.c): the executables that run it, the names it gives its
 * vCPU threads, and where its command line names the guest. The proc
 * backend finds guests with it; the libvirt backend falls back on its
 * thread names when libvirt's own records of a domain's vCPU threads are
 * missing. Which VMM a process runs is read from /proc/PID/exe.
 *
 * Thread names as each VMM sets them (checked in their sources, cited in
 * rebalancer/backends.md):
 *
 *   QEMU              "CPU n/KVM", "CPU n/TCG", "CPU n/MSHV" (only with
 *                     -name ...,debug-threads=on, which libvirt always
 *                     passes); single-threaded TCG: one "ALL CPUs/TCG"
 *   cloud-hypervisor  "vcpuN"
 *   Firecracker       "fc_vcpu N"
 */
#ifndef VN_VMM_H
#define VN_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum vmm_kind {
	VMM_NONE,		/* not a VMM we know */
	VMM_QEMU,
	VMM_CLOUD_HYPERVISOR,
	VMM_FIRECRACKER,
	VMM_NR,
};

/* One VMM: how its processes and threads are told from others. */
struct vmm {
	enum vmm_kind kind;
	const char *name;		/* for messages: "QEMU" */
	const char *id;			/* lower case, for fallback guest names */
	/* executable file names (fnmatch patterns), NULL-terminated */
	const char *const *exes;
	/*
	 * Its vCPU thread names cannot be mistaken for another program's,
	 * so that a name alone says whose it is (vmm_vcpu_of_name with
	 * VMM_NONE); cloud-hypervisor's "vcpuN" is too plain for that. A
	 * name never makes a guest of a process: any process can choose
	 * its threads' names, so the proc backend goes by the executable.
	 */
	bool names_identify;
	/* vCPU number of a thread name, -1 when it names no vCPU */
	int (*vcpu_of_name)(const char *comm);
	/* the guest's name from the command line; false when it gives none */
	bool (*guest_name)(const char *cmdline, size_t len, char *name,
			   size_t size);
	/* vCPUs the command line asks for, 0 when it does not say */
	int (*vcpus_asked)(const char *cmdline, size_t len);
	/* the raw UUID option's value (NULL: this VMM takes none there) */
	const char *(*uuid_opt)(const char *cmdline, size_t len);
};

/* What vmm_vcpu_threads() saw besides vCPU threads. */
#define VMM_SEEN_SHARED	(1u << 0)	/* one thread runs every vCPU (QEMU "ALL CPUs/TCG") */

/* The table's row for a kind; NULL for VMM_NONE. */
const struct vmm *vmm_get(enum vmm_kind kind);

/* The VMM whose executable this file name (or path) is; VMM_NONE if none. */
enum vmm_kind vmm_of_exe(const char *path);

/*
 * The VMM a process runs, from its executable (/proc/PID/exe) alone;
 * VMM_NONE if none, or when the link cannot be read.
 */
enum vmm_kind vmm_of_process(pid_t pid);

/*
 * The vCPU number a thread name gives for that VMM, -1 when none. With
 * VMM_NONE, the names that identify their VMM are tried, and *found (when
 * not NULL) says whose matched.
 */
int vmm_vcpu_of_name(enum vmm_kind kind, const char *comm, enum vmm_kind *found);

/*
 * Finds a process's vCPU threads by their names: tids[n] is vCPU n's
 * thread, 0 for numbers not found. *kind is the process's VMM; VMM_NONE
 * lets the first thread whose name identifies a VMM decide, and *kind
 * says which. *seen (may be NULL) gets VMM_SEEN_*. Returns the highest
 * vCPU number found + 1 (0: none), or -ESRCH when the process is gone.
 */
int vmm_vcpu_threads(pid_t pid, enum vmm_kind *kind, pid_t *tids, int max,
		     unsigned *seen);

/* True when tid is a thread of pid whose name is vCPU vcpu's for that VMM. */
bool vmm_is_vcpu_thread(pid_t pid, pid_t tid, enum vmm_kind kind, int vcpu);

/* True when tid is (still) a thread of pid. */
bool vmm_is_thread_of(pid_t pid, pid_t tid);

/* The guest name a VMM's command line gives (NUL-separated arguments). */
bool vmm_guest_name(enum vmm_kind kind, const char *cmdline, size_t len,
		    char *name, size_t size);

/*
 * The guest's UUID that a VMM's command line gives (QEMU's -uuid,
 * cloud-hypervisor's --platform uuid=), canonical and lower-case in uuid
 * (37 bytes at least); false when it gives none or not a well-formed one.
 */
bool vmm_guest_uuid(enum vmm_kind kind, const char *cmdline, size_t len,
		    char *uuid, size_t size);

/* vCPUs a VMM's command line asks for; 0 when it does not say. */
int vmm_vcpus_asked(enum vmm_kind kind, const char *cmdline, size_t len);

/*
 * A process's real and effective user ids (the Uid: line of
 * /proc/PID/status). Returns 0 or a negative errno.
 */
int vmm_process_uids(pid_t pid, uid_t *ruid, uid_t *euid);

/*
 * The nodes a process may have memory on (Mems_allowed_list of
 * /proc/PID/status: its cpuset's mems). Returns 0 or a negative errno.
 */
int vmm_mems_allowed(pid_t pid, uint64_t *nodes);

/*
 * The memory policy of a process's mappings, as /proc/PID/numa_maps shows
 * it (a mapping's own, from mbind, else the process's, from
 * set_mempolicy or numactl): 0 when every mapping has the kernel's default
 * policy, 1 when one has another (its token, "bind:0", "prefer:1",
 * "interleave:0-1", "local", copied to policy), or a negative errno
 * (-ESRCH also for a process without mappings, one exiting).
 */
int vmm_memory_policy(pid_t pid, char *policy, size_t len);

#endif
