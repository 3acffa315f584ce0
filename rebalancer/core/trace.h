/* SPDX-License-Identifier: MIT */
/*
 * Traces: the per-tick inventory and counter samples of any backend, written
 * by `vnumad --record FILE` and fed back through the advisory pipeline by
 * `vnumad-sim replay FILE` (rebalancer/backend/replay.c).
 *
 * Format, version 1 (all integers little-endian, reals IEEE 754 binary64):
 *
 *	file    = header record*
 *	header  = "VNUMADTR" u32:version u32:0                       16 bytes
 *	record  = u32:type u32:length payload[length] u32:crc32
 *
 * The CRC-32 (IEEE 802.3, as zlib's crc32) covers type, length and payload.
 * A record of a type a reader does not know is skipped; anything that
 * changes the meaning of a known record raises the version. Strings are
 * u16:length bytes, without a terminating NUL.
 *
 *	1 INFO      str:vnumad_version str:backend str:sampler f64:interval
 *	            i64:unix_time str:source           first record, once
 *	2 TOPOLOGY  u32:nr_nodes u64:online { u32:cpus u64:mem_total f64:bw_max }
 *	            [nr_nodes] u8:distance[nr_nodes * nr_nodes]
 *	            before the first tick, and again whenever it changes
 *	3 TICK      u64:tick f64:now u64:mem_free[nr_nodes] u32:nr_guests guest*
 *	  guest     str:name i32:pid u32:flags u8:memory_read
 *	            u64:mem[nr_nodes] u32:nr_vcpus vcpu*
 *	  vcpu      i32:tid u64:allowed i32:vnode u64:cycles u64:instructions
 *	            u64:local_dram u64:remote_dram f64:cpu_time f64:elapsed
 *	            i32:node u8:source u8:valid
 *	4 END       u64:nr_ticks                      last record, once
 *	5 AGES      u32:nr_guests f64:age[nr_guests]  right after a TICK
 *
 * A tick holds what the inventory and sample stages produced: the guests the
 * backend reported, their flags (pinned, opted out, no memory moves), each
 * vCPU's affinity and counter deltas, and each guest's memory per node
 * (memory_read says it was read in this tick). AGES, a later addition that
 * older readers skip, gives each guest of the tick before it (in its order)
 * its age as the core knew it then (policy.h's age: seconds it had run), 0
 * unknown; a tick without one (a file written before AGES existed) has
 * every age unknown, so its guests' ages count from the first tick they
 * are in. A file that ends without its
 * END record was cut short; a reader refuses it unless told to take the
 * complete ticks before the cut.
 */
#ifndef VN_TRACE_H
#define VN_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ini.h"
#include "vnumad.h"

#define VN_TRACE_VERSION	1
#define VN_TRACE_MAX_VCPUS	4096	/* per guest, for sanity checks */

struct vn_core;
struct vn_trace;

/*
 * Creates (truncates) the trace file and writes its header; on failure
 * returns NULL with the reason, naming the file, in err. c may be NULL:
 * nothing is taken from it before the first tick.
 */
struct vn_trace *trace_open_write(const char *path, const struct vn_core *c,
				  char *err, size_t errlen);
/*
 * Appends one tick: call it once per tick after the sample stage, before
 * the guard and actuation change any affinity, so that the tick holds what
 * the backend reported. Returns 0 or a negative errno (the file is then
 * useless: close it).
 */
int trace_write_tick(struct vn_trace *t, const struct vn_core *c);
/* Writes the end record and closes; returns 0 or a negative errno. NULL: no-op. */
int trace_close(struct vn_trace *t);
/* Ticks written so far. */
uint64_t trace_ticks(const struct vn_trace *t);

/* Reading. */

struct vn_trace_info {
	int version;
	char *vnumad_version;	/* of the recorder */
	char *backend;
	char *sampler;
	char *source;		/* scenario file, URI: where the guests came from */
	double interval;
	int64_t unix_time;	/* when recording started */
	uint64_t nr_ticks;	/* complete ticks in the file */
	bool complete;		/* the END record was there */
};

struct vn_trace_topology {
	int nr_nodes;
	uint64_t online;
	int nr_cpus[VN_MAX_NODES];
	uint64_t mem_total[VN_MAX_NODES];
	double bw_max[VN_MAX_NODES];
	uint8_t distance[VN_MAX_NODES * VN_MAX_NODES];
};

struct vn_trace_guest {
	const char *name;
	pid_t pid;
	unsigned flags;
	bool mem_read;
	double age;		/* seconds it had run, 0 unknown (AGES) */
	uint64_t mem[VN_MAX_NODES];
	int nr_vcpus;
	/* per vCPU, laid out for struct vn_guest_desc */
	pid_t *tids;
	uint64_t *allowed;
	int *vnode;
	struct vn_counts *counts;
};

struct vn_trace_tick {
	uint64_t tick;
	double now;
	const struct vn_trace_topology *topo;
	uint64_t mem_free[VN_MAX_NODES];
	int nr_guests;
	struct vn_trace_guest *guests;
};

/* Open for reading: check everything before a single tick is used. */
#define VN_TRACE_PARTIAL	(1u << 0)	/* accept a file cut short */

struct vn_trace_reader;

/*
 * Reads and checks the whole file: header, version, every record's length
 * and checksum, and every tick's contents. Each problem is appended to e as
 * "FILE: byte N: ..." and NULL returned.
 */
struct vn_trace_reader *trace_open_read(const char *path, unsigned flags,
					struct vn_errors *e);
const struct vn_trace_info *trace_reader_info(const struct vn_trace_reader *r);
/* The next tick, valid until the next call; NULL after the last. */
struct vn_trace_tick *trace_next_tick(struct vn_trace_reader *r);
void trace_close_read(struct vn_trace_reader *r);

/* CRC-32 (IEEE), continuing from crc (0 to start). */
uint32_t trace_crc32(uint32_t crc, const void *data, size_t len);

#endif
