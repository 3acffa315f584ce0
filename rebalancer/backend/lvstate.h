/* SPDX-License-Identifier: MIT */
/*
 * What libvirt itself records about a running QEMU domain's vCPU threads,
 * for the libvirt backend: the per-vCPU cgroups it makes and moves each
 * vCPU thread into (.../vcpuN/cgroup.threads on cgroup v2, .../vcpuN/tasks
 * on v1, beside the "emulator" group of the QEMU process), and the status
 * XML it keeps of the domain (/run/libvirt/qemu/NAME.xml: <vcpus><vcpu
 * id='N' pid='TID'/>). Both hold the thread ids whatever the accelerator
 * and whatever QEMU called its threads; thread names are the fallback
 * (vmm.h). A thread id is taken only if it is a thread of the QEMU
 * process.
 */
#ifndef VN_LVSTATE_H
#define VN_LVSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Where a domain's vCPU thread ids came from. */
enum lvstate_source {
	LVS_NONE,
	LVS_CGROUP2,		/* vcpuN/cgroup.threads */
	LVS_CGROUP1,		/* vcpuN/tasks */
	LVS_STATUS_XML,		/* /run/libvirt/qemu/NAME.xml */
	LVS_NAMES,		/* the threads' names */
};

const char *lvstate_source_name(enum lvstate_source s);

/*
 * The candidate cgroup directories that hold a domain's vcpuN groups, for
 * a process whose /proc/PID/cgroup reads `cgroup`, given the mount table
 * `mountinfo` (/proc/self/mountinfo): its group on cgroup v2 first, then
 * on v1 its cpuset, cpu and cpuacct groups, each less a last "/emulator".
 * Puts the nth candidate (from 0) in dir and returns its cgroup version,
 * 2 or 1; 0 when there is no nth.
 */
int lvstate_cgroup_dir(const char *cgroup, const char *mountinfo, int nth,
		       char *dir, size_t len);

/*
 * Reads vcpuN/cgroup.threads (version 2) or vcpuN/tasks (1) under dir
 * for N below nr, and sets tids[N] (where still 0) to the first thread
 * of pid listed. Returns how many it set.
 */
int lvstate_read_vcpu_groups(const char *dir, int version, pid_t pid,
			     pid_t *tids, int nr);

/* Both of the above for a running process: tids[N] where still 0. */
int lvstate_cgroup_threads(pid_t pid, pid_t *tids, int nr,
			   enum lvstate_source *src);

/*
 * The <vcpus> of libvirt's status XML of a domain: tids[N] (where still
 * 0) of each <vcpu id='N' pid='TID'/> whose TID is a thread of pid.
 * Returns how many it set, or a negative errno (-ENOENT: no such file).
 */
int lvstate_status_threads(const char *path, pid_t pid, pid_t *tids, int nr);

#endif
