/* SPDX-License-Identifier: MIT */
/*
 * Where a guest about to start should go: the question libvirt's
 * placement='auto' asks numad, answered by `vnumad place`, the daemon's
 * control socket and `vnumad numad -w`. The answer needs the host's nodes
 * only (CPUs, their load, free memory, distances): the running daemon's
 * view, or a short sample of /proc/stat and libnuma when no daemon runs.
 */
#ifndef VN_PLACE_H
#define VN_PLACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vn_host;

/*
 * The best node set for a guest of ncpus vCPUs and mem bytes: one node if
 * one can hold it, the one with the most room left (free CPUs x free
 * memory, numad's magnitude, after the guest); else the fewest nodes,
 * grown from the roomiest by SLIT distance. Returns 0, -ENOSPC with the
 * best set there is when the host is too full, -ENOENT when no node has
 * CPUs. why says it in words.
 */
int place_nodes(const struct vn_host *h, int ncpus, uint64_t mem,
		uint64_t *nodes, char *why, size_t len);

/* CPU time of every CPU at one moment, from /proc/stat. */
struct place_stat {
	int nr;				/* CPUs read */
	unsigned long long *busy;	/* [nr] jiffies not idle */
	unsigned long long *total;	/* [nr] all jiffies */
};

/* Reads /proc/stat; returns 0 or a negative errno. */
int place_stat_read(struct place_stat *s);
/* The same from a stream in /proc/stat's format, for CPUs 0 to cap - 1. */
void place_stat_parse(struct place_stat *s, FILE *f, int cap);
void place_stat_free(struct place_stat *s);

/*
 * The host as the kernel sees it now (libnuma: nodes, CPUs, free memory,
 * distances), with each node's CPU load taken from the CPU time spent
 * between two readings of /proc/stat. Calls nothing but the kernel.
 */
int place_host(struct vn_host *h, const struct place_stat *before,
	       const struct place_stat *after);

#endif
