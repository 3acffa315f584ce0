/* SPDX-License-Identifier: MIT */
/*
 * What the real-host backends (libvirt, proc) share: the host's NUMA layout
 * as the kernel sees it (libnuma and sysfs), conversions between node masks
 * and CPU sets, process identity and thread affinity (the VMMs and their
 * vCPU threads are vmm.h's).
 *
 * A process is identified by its pid and its start time (field 22 of
 * /proc/PID/stat), so that a pid reused by an unrelated process after the
 * guest exited is never taken for the guest: every action on a guest's
 * process or thread checks both first.
 */
#ifndef VN_HOSTINFO_H
#define VN_HOSTINFO_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vnumad.h"

/* The highest vCPU number looked for in a process: QEMU's limit is lower. */
#define HI_MAX_VCPUS	4096

/*
 * Reads the topology once (libnuma; one node holding every CPU where the
 * kernel has no NUMA support). Idempotent; returns 0 or a negative errno.
 */
int hostinfo_init(void);

/*
 * Fills nr_nodes, online, node[] (id, nr_cpus, memory) and distance, and
 * from ACPI HMAT (sysfs access0, read once) each node's bw_max and
 * node_info[] (read bandwidth and latency from its nearest CPUs). A node
 * with memory and no CPUs is online with nr_cpus 0.
 */
int hostinfo_topology(struct vn_host *h);
/* Tests: the sysfs tree HMAT is read from (NULL: /sys); read again. */
void hostinfo_set_sysfs_root(const char *root);

/* Highest CPU number + 1, and the node of a CPU (-1 when unknown). */
int hostinfo_nr_cpus(void);
int hostinfo_cpu_node(int cpu);

/*
 * CPU sets of size hostinfo_nr_cpus(), allocated with CPU_ALLOC: the CPUs
 * of the nodes in a mask (empty where a node has none), and the node mask
 * of a set.
 */
size_t hostinfo_cpuset_size(void);
cpu_set_t *hostinfo_cpuset_alloc(void);
void hostinfo_nodes_cpus(uint64_t nodes, cpu_set_t *set);
uint64_t hostinfo_cpus_nodes(const cpu_set_t *set);

/* Start time of a process in clock ticks since boot; 0 when it is gone (or a zombie). */
uint64_t hostinfo_starttime(pid_t pid);
/* The same, with the process's thread count in *threads (NULL: not wanted). */
uint64_t hostinfo_starttime_threads(pid_t pid, int *threads);

/*
 * Seconds a process has run by now, from its start time as above (the
 * kernel counts both from boot: CLOCK_BOOTTIME); 0 when unknown (no start
 * time, or one after now).
 */
double hostinfo_process_age(uint64_t starttime);

/* True when the process still is the one that had this start time. */
bool hostinfo_same_process(pid_t pid, uint64_t starttime);

/* Node mask of a thread's CPU affinity; returns 0 or a negative errno. */
int hostinfo_thread_nodes(pid_t tid, uint64_t *nodes);

/* Sets a thread's affinity to every CPU of the nodes in the mask. */
int hostinfo_set_thread_nodes(pid_t tid, uint64_t nodes);

/*
 * Reads /proc/PID/cmdline into buf (arguments separated by NUL bytes);
 * returns its length, or a negative errno.
 */
ssize_t hostinfo_cmdline(pid_t pid, char *buf, size_t len);

/* Reads a small file into buf, NUL-terminated; its length, or a negative errno. */
ssize_t hostinfo_read(const char *path, char *buf, size_t len);

/* The node mask of the nodes that exist. */
uint64_t hostinfo_online_nodes(void);

/*
 * Test hooks of the libvirt backend: the interval of the full resync with
 * virConnectListAllDomains (default 30 s), and a connection drop as the close
 * callback would report it, so that tests reach the reconnect path with the
 * in-process test driver.
 */
void libvirt_backend_set_resync(double seconds);
void libvirt_backend_drop(struct vn_backend *b);
bool libvirt_backend_connected(const struct vn_backend *b);

#endif
