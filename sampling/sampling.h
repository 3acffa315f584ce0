/* SPDX-License-Identifier: MIT */
/*
 * Counter sources for real hosts, behind struct vn_sampler_ops:
 *
 *   pmu     libpfm4 names, one perf_event_open group per vCPU thread:
 *           cycles, instructions, local DRAM, remote DRAM (source pmu)
 *   procfs  no counters: per vCPU thread, NUMA-balancing fault statistics
 *           (source faults) or the share of the guest's memory off the
 *           thread's node (estimate)
 *
 * Both read each guest's memory distribution from its own memory cgroup
 * (memory.numa_stat, v1 or v2) where it has one, else from
 * /proc/PID/numa_maps (cgroup.c).
 * See sampling/README.md for the event tables and the procfs weighting.
 */
#ifndef VN_SAMPLING_H
#define VN_SAMPLING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vnumad.h"

struct vn_config;

extern const struct vn_sampler_ops pmu_sampler_ops;	/* name "pmu" */
extern const struct vn_sampler_ops procfs_sampler_ops;	/* name "procfs" */

/* Room for sampling_select()'s reason: one line with its advice. */
#define SAMPLING_REASON_MAX	1024

/*
 * Picks the source for [sampling] source on a real host. auto: the PMU when
 * this CPU model is known (or [sampling] events is set), the events encode
 * and a trial group opens on the calling thread; otherwise procfs, with the
 * reason in why (one line, for the caller to log once). pmu: the PMU or NULL
 * with the reason. procfs: procfs. [sampling] events naming an event libpfm4
 * cannot encode gives NULL under auto too. With KVM's mediated vPMU
 * enabled, auto gives procfs and pmu NULL: vnumad then holds no core PMU
 * events that count guest mode. why is always filled (SAMPLING_REASON_MAX).
 */
const struct vn_sampler_ops *sampling_select(const struct vn_config *cfg,
					     char *why, size_t len);

/*
 * The procfs source's weights for one vCPU reading (cpu_time and node
 * set): no instructions or cycles; its CPU time in microseconds split by
 * `share`, the remote share (from fault statistics), or where that is
 * negative by the share of the guest's memory, as the core last read it,
 * away from c->node; no weight where neither is known. The simulated host
 * without a PMU reads its vCPUs so too.
 */
void procfs_weigh(const struct vn_guest *g, struct vn_counts *c, double share);

/*
 * Adds up the N<node>=<pages> fields of numa_maps text, each times its
 * mapping's kernelpagesize_kB, into mem[] (bytes per node; zeroed first).
 * One pass, no allocation. Returns the number of mappings that had pages,
 * or -EINVAL when a line does not start with an address (mem[] then holds
 * the sum of the other lines).
 */
int numa_maps_parse(const char *buf, size_t len, uint64_t mem[VN_MAX_NODES]);
/* Reads and parses /proc/PID/numa_maps; 0 or a negative errno. */
int numa_maps_read(pid_t pid, uint64_t mem[VN_MAX_NODES]);
/* The same for any file (benchmarks, tests); 0 or a negative errno. */
int numa_maps_read_path(const char *path, uint64_t mem[VN_MAX_NODES]);

#endif
