/* SPDX-License-Identifier: MIT */
/*
 * The memory mover, shared by the libvirt and proc backends: moves part or
 * all of a guest's memory from one node to another with move_pages(2) on the
 * guest-RAM mappings of its QEMU process, in a worker thread off the event
 * loop.
 *
 * Each move_pages call is kept short (about 10 ms, never much over 20 ms) by
 * sizing batches from the measured cost per page; the bytes moved per second
 * over all migrations stay under the rate set with mover_set_rate(). Progress
 * reaches the event loop through an eventfd; only the loop thread touches a
 * struct vn_migration, so the core reads consistent figures at each tick.
 */
#ifndef VN_MOVER_H
#define VN_MOVER_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct event_base;
struct vn_migration;
struct vn_mover;

/* Figures of the move_pages calls made so far. */
struct vn_mover_stats {
	uint64_t jobs;		/* migrations started */
	uint64_t moves;		/* move_pages calls that moved pages */
	uint64_t queries;	/* calls that asked where pages are */
	uint64_t pages;		/* pages handed to the move calls */
	uint64_t min_batch;	/* fewest and most pages in one move call */
	uint64_t max_batch;
	double max_move;	/* longest move call, seconds (wall clock) */
	double max_query;	/* longest query call, seconds */
	double total_move;	/* seconds spent in move calls */
	double max_move_cpu;	/* the same in the kernel's CPU time, which */
	double total_move_cpu;	/* preemption on a busy host does not inflate */
};

/* A mover whose progress reports run on base; NULL after logging why. */
struct vn_mover *mover_new(struct event_base *base);
/* Stops the worker; migrations still running end CANCELLED. */
void mover_free(struct vn_mover *mv);

/* Bytes per second over all migrations; 0 means no limit. */
void mover_set_rate(struct vn_mover *mv, double bytes_per_second);
/*
 * The nice value of the worker, -20 to 19 (default: the process's). A value
 * below the process's needs CAP_SYS_NICE; without it the loop logs once
 * why and the worker copies at the nice it has.
 */
void mover_set_nice(struct vn_mover *mv, int nice);
/* Time one move_pages call aims at (default 10 ms). */
void mover_set_call_target(struct vn_mover *mv, double seconds);
/* Mappings smaller than this are not guest RAM (default 32 MiB). */
void mover_set_min_region(struct vn_mover *mv, uint64_t bytes);

/*
 * Starts moving m->bytes (0: all there is) from node m->from to m->to in the
 * process pid, which must still have this start time (0: take the current
 * one). The loop thread updates m->done, failed, error and state as the
 * worker reports; from a terminal state on, the mover no longer touches m.
 * Returns 0, or -ESRCH when the process is gone, -EINVAL for a bad argument.
 */
int mover_start(struct vn_mover *mv, pid_t pid, uint64_t starttime,
		struct vn_migration *m);

/*
 * Stops a migration at once: m ends CANCELLED with the progress known so far
 * and is never touched again; the worker drops it before its next batch.
 */
void mover_cancel(struct vn_mover *mv, struct vn_migration *m);

void mover_get_stats(struct vn_mover *mv, struct vn_mover_stats *st);
/* Migrations the worker has not finished yet. */
int mover_busy(struct vn_mover *mv);

/* The worker's thread id, for the tests. */
pid_t mover_tid(struct vn_mover *mv);

/*
 * The CPUs the worker copies to node on: the node's CPUs it may use
 * (allowed), into out. Returns how many; 0 (a memory-only node, or none
 * allowed) means it copies on all of allowed. Exposed for the tests.
 */
int mover_node_cpus(int node, const cpu_set_t *allowed, cpu_set_t *out);

/*
 * The pieces below are exposed for the tests.
 *
 * A mapping that holds guest RAM: the address range, the kernel page size
 * (4 KiB, or the huge page size of hugetlbfs), whether transparent huge
 * pages may back it, and why it is refused (NULL: it is not).
 */
struct mover_region {
	uintptr_t start, end;
	size_t page;
	bool thp;
	const char *refused;
};

/*
 * Reads /proc/PID/smaps text and keeps the guest-RAM mappings: readable
 * and writable, not executable, at least min_bytes, with resident pages,
 * anonymous, memfd, hugetlbfs or a shared file; never device (VM_IO,
 * VM_PFNMAP) mappings.
 * Returns the number kept (*out is malloc'ed) or a negative errno.
 */
int mover_parse_smaps(FILE *f, uint64_t min_bytes, struct mover_region **out);

/* Outcome of one batch: bytes moved, bytes that failed and why. */
struct mover_tally {
	uint64_t done;
	uint64_t failed;
	int error;		/* first errno met, 0 none */
	uint64_t nomem;		/* pages that failed with ENOMEM (target full) */
	uint64_t busy;		/* EBUSY/EAGAIN: pinned or in use (device assignment) */
};

/*
 * Accounts the final status of n pages of `page` bytes that were on `from`
 * before the batch: the target node means moved; a negative errno means
 * failed (ENOENT and EFAULT: the page went away, neither); `from` still
 * means not moved (the kernel gives no reason: counted as EBUSY).
 */
void mover_account(const int *status, int n, int from, int to, size_t page,
		   struct mover_tally *t);

/*
 * Chooses the pages of one window to move: those whose node in where[] is
 * `from`, at most `left` pages' worth when partial. In a region that
 * transparent huge pages may back, a 2 MiB-aligned run of 512 pages all on
 * `from` is taken or left whole, as the kernel moves it: taken if that ends
 * nearer `left` than leaving it. Fills idx with the chosen indices and
 * returns their number; *last is the last index looked at (the next window
 * starts after it); *stop is set when the next thing to take is a huge page
 * that would overshoot by more than half, with nothing taken before it, or
 * when a partial move has nothing left (left <= 0: under half a hugetlbfs
 * page to go).
 */
int mover_select(const struct mover_region *reg, void *const *addr,
		 const int *where, int n, int from, int left, bool partial,
		 int *idx, int *last, bool *stop);

#endif
