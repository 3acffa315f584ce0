/* SPDX-License-Identifier: MIT */
/*
 * The policy worker's wire: what the daemon, the launcher and a worker say
 * to each other, and how the view lies in shared memory.
 *
 * Three processes take part (see worker.c and rebalancer/worker/):
 *
 *   daemon --ctl--> launcher --fork--> worker
 *      \__________chan (and two memfds)___/
 *
 * Every message is one SOCK_SEQPACKET record: a struct wire_hdr and up to
 * WIRE_MSG_MAX - sizeof(struct wire_hdr) bytes of payload, descriptors
 * attached to a WIRE_SPAWN only. Both ends come from one build, so the
 * structures travel as they are in memory.
 *
 * The view travels through a memfd the daemon writes and the worker maps
 * read-only. Its layout is flat and position-independent: the structures of
 * policy.h copied whole, each pointer member holding instead the offset of
 * what it points to from the start of the map. The worker turns the offsets
 * back into pointers (into the map itself where nothing needs relocating:
 * nodes, distances, vCPUs, names) so that the plugin sees the ABI of
 * policy.h unchanged. See wire_view_pack() for the one list of pointer
 * members.
 */
#ifndef VN_WIRE_H
#define VN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define WIRE_MAGIC		0x31776e76u	/* "vnw1" */
#define WIRE_MSG_MAX		65536		/* bytes of one message */
#define WIRE_TEXT_MAX		1024		/* text of a LOG or FAILED */

/* The descriptors a worker finds open, and the launcher's socket. */
#define WIRE_FD_CTL		3	/* launcher: SOCK_SEQPACKET to the daemon */
#define WIRE_FD_CHAN		3	/* worker: SOCK_SEQPACKET to the daemon */
#define WIRE_FD_VIEW		4	/* worker: the view's memfd, read-only */
#define WIRE_FD_OUT		5	/* worker: the proposals' memfd, sealed size */
#define WIRE_FD_PLUGIN		6	/* worker: the plugin's file, until loaded */
#define WIRE_NR_FDS		4	/* attached to a WIRE_SPAWN, in that order */

/* Exit status of a worker killed by its own system-call filter. */
#define WIRE_EXIT_SYSCALL	120
/* Exit status of a worker that could not set itself up. */
#define WIRE_EXIT_SETUP		121

enum wire_type {
	/* launcher <-> daemon, on ctl */
	WIRE_READY = 1,		/* launcher: up; a = its pid */
	WIRE_SPAWN,		/* daemon: fork a worker; struct wire_spawn, 4 fds */
	WIRE_SPAWNED,		/* launcher: a = the worker's pid */
	WIRE_KILL,		/* daemon: SIGKILL worker a */
	WIRE_EXITED,		/* launcher: worker a ended, b = its wait status */
	WIRE_FAILED,		/* either side: a = errno, text = what failed */
	/* worker <-> daemon, on chan */
	WIRE_HELLO,		/* worker: plugin loaded, sandboxed; a = pid,
				 * b = descriptor size, text = policy name */
	WIRE_INIT,		/* daemon: struct wire_init and its strings */
	WIRE_INIT_DONE,		/* worker: a = what init returned */
	WIRE_TICK,		/* daemon: seq, a = bytes of the view's memfd */
	WIRE_ANSWER,		/* worker: seq, a = what tick returned,
				 * b = proposals in the out memfd */
	WIRE_LOG,		/* worker: a = level, text = the plugin's line */
	WIRE_FINI,		/* daemon: struct wire_fini and its reason; the
				 * worker calls guest_exit for the guests it
				 * holds storage for, exit, fini, then exits */
	WIRE_FINI_DONE,		/* worker */
	WIRE_SYSCALL,		/* worker: a = number of the call its filter refused */
	/* describing a plugin, for the daemon's configuration (see below) */
	WIRE_DESCRIBE,		/* daemon: fork a describer; struct wire_spawn,
				 * 2 fds (chan, plugin) */
	WIRE_DESCRIPTION,	/* describer: struct wire_desc and its strings */
};

struct wire_hdr {
	uint32_t magic;		/* WIRE_MAGIC */
	uint32_t type;		/* enum wire_type */
	uint64_t seq;
	int64_t a, b;
};

/* What a WIRE_SPAWN asks for. */
struct wire_spawn {
	uint64_t memory;	/* bytes of address space the worker may add */
	uint32_t out_cap;	/* proposals the out memfd holds */
	uint32_t pad;
};

/* One option value of WIRE_INIT; STRING values are offsets in the message. */
struct wire_value {
	double num;
	int32_t boolean;
	uint32_t str;		/* offset of the NUL-terminated string from the
				 * start of the payload, 0 for none */
};

struct wire_init {
	uint64_t seed;
	uint32_t nr_values;
	uint32_t pad;
	struct wire_value v[];	/* then the strings */
};

/* Why the policy stops (WIRE_FINI), for its exit (1.2). */
struct wire_fini {
	int32_t kind;		/* enum vnumad_exit_kind */
	int32_t error;
	char reason[];		/* NUL-terminated; the worker counts ticks itself */
};

/* The head of the view's memfd. */
struct wire_view_hdr {
	uint32_t magic;		/* WIRE_MAGIC */
	uint32_t sz_view;	/* sizeof the daemon's structures: the worker */
	uint32_t sz_node;	/* refuses a map of another build */
	uint32_t sz_guest;
	uint32_t sz_vcpu;
	uint32_t pad;
	uint64_t seq;		/* the tick message it goes with */
	uint64_t used;		/* bytes written */
	uint64_t view;		/* offset of struct vnumad_view */
};

/*
 * A plugin's descriptor, as a describer (a worker that loads the plugin
 * under the same sandbox, sends this and exits) tells it to the daemon: the
 * daemon reads a plugin's name, options and flags from here, never from a
 * copy of the plugin mapped into itself. Strings are offsets from the start
 * of the payload (0 for NULL), each NUL-terminated within WIRE_DESC_TEXT_MAX
 * bytes; the options follow the head, the strings the options.
 */
#define WIRE_DESC_OPTIONS_MAX	256	/* options a policy may declare */
#define WIRE_DESC_TEXT_MAX	1024	/* bytes of one of its strings, NUL included */
#define WIRE_DESC_INIT		(1u << 0)	/* the callbacks it has */
#define WIRE_DESC_TICK		(1u << 1)
#define WIRE_DESC_FINI		(1u << 2)

/* The version-1 descriptor ends with fini; older sizes are refused. */
#define WIRE_POLICY_V1_SIZE \
	(offsetof(struct vnumad_policy, fini) + sizeof(void (*)(void *)))

struct wire_desc_opt {
	uint32_t type;		/* enum vnumad_opt_type, as declared */
	uint32_t name, def, help;	/* string offsets */
	double min, max;
};

struct wire_desc {
	uint32_t abi_major;
	uint32_t size;
	uint64_t flags;
	uint32_t callbacks;	/* WIRE_DESC_* */
	uint32_t nr_options;
	uint32_t name, description;	/* string offsets */
	struct wire_desc_opt opt[];
};

/* wire.c: messages */

/*
 * Sends one message, with fds[0..nfds) attached; 0, or a negative errno
 * (-EPIPE when the other end is gone).
 */
int wire_send(int fd, uint32_t type, uint64_t seq, int64_t a, int64_t b,
	      const void *payload, size_t len, const int *fds, int nfds);
/* Sends a message whose payload is a NUL-terminated text, cut at WIRE_TEXT_MAX. */
int wire_send_text(int fd, uint32_t type, int64_t a, int64_t b, const char *text);
/*
 * Receives one message into h and payload[0..cap) (*len set), and up to
 * *nfds descriptors (*nfds set; NULL: none accepted, any sent are closed).
 * Returns 1, 0 at end of file, or a negative errno; -EPROTO for a record
 * too long, without the magic, or shorter than a header.
 */
int wire_recv(int fd, struct wire_hdr *h, void *payload, size_t cap,
	      size_t *len, int *fds, int *nfds);

/* wire.c: the view */

/*
 * Writes the view into map[0..cap) for tick message `seq`; returns the
 * bytes it needs. When that is more than cap the map holds nothing usable:
 * grow it and call again.
 */
size_t wire_view_pack(void *map, size_t cap, const struct vnumad_view *v,
		      uint64_t seq);

/* The view rebuilt in a worker; its arrays are reused from tick to tick. */
struct wire_unpacked {
	struct vnumad_view view;
	struct vnumad_guest *guest;		/* [cap], the worker's copies */
	const struct vnumad_guest **guests;	/* [cap], what view.guests is */
	int cap;
};

/*
 * Rebuilds the view of map[0..len) for tick message `seq` into u, pointing
 * into the map for everything but the guests and their table. Returns 0, or
 * -1 with *why saying what is malformed (an offset out of the map, a name
 * without its NUL, a size of another build, another tick's map).
 */
int wire_view_unpack(const void *map, size_t len, uint64_t seq,
		     struct wire_unpacked *u, const char **why);
void wire_unpacked_free(struct wire_unpacked *u);

/* wire.c: the descriptor */

/*
 * Writes what the daemon needs of descriptor p into buf[0..cap): its
 * members, its options and their strings; of a descriptor of another ABI or
 * too small a size, the head alone (the daemon refuses it for that). Returns
 * the bytes written, or 0 with *why when p declares more than the limits
 * above or does not fit in cap.
 */
size_t wire_desc_pack(void *buf, size_t cap, const struct vnumad_policy *p,
		      char *why, size_t len);
/*
 * Rebuilds a descriptor from buf[0..len), received from a process that may
 * be hostile: every offset, length and count is checked. p's strings and
 * options point into buf and opts (WIRE_DESC_OPTIONS_MAX + 1 of them, the
 * last the terminator); its callbacks are NULL, *callbacks says which it
 * has. Returns 0, or -1 with *why. Whether the descriptor is sound (name,
 * types, ranges) is plugin_check's to say.
 */
int wire_desc_unpack(const void *buf, size_t len, struct vnumad_policy *p,
		     struct vnumad_option *opts, uint32_t *callbacks,
		     const char **why);

#endif
