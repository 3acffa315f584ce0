/* SPDX-License-Identifier: MIT */
/*
 * Policy plugins in a worker process (worker.c): the daemon's side of the
 * launcher and the workers, the fallback to the built-in default, and what
 * status and metrics say about both.
 */
#ifndef VN_WORKER_H
#define VN_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"

struct vn_config;
struct vn_core;
struct vn_policy_rt;

/* Failed ticks in a row after which the built-in default advises instead. */
#define POLICY_MAX_FAILURES	3
/* The most a tick's deadline (and a worker's start) may hold the loop. */
#define WORKER_DEADLINE_MAX	5.0
/* The longest a restarting worker waits, in ticks. */
#define WORKER_BACKOFF_MAX	64

/* Why a tick's proposals were lost. */
enum worker_lost {
	WORKER_OK = 0,
	WORKER_LOST_CRASH,	/* the worker died: signal or exit() */
	WORKER_LOST_DEADLINE,	/* no answer within the deadline */
	WORKER_LOST_MALFORMED,	/* an answer that makes no sense */
	WORKER_LOST_SYSCALL,	/* a system call its filter refuses */
	WORKER_LOST_ERROR,	/* tick returned an error */
	WORKER_LOST_START,	/* the worker could not be started */
	WORKER_LOST_NR
};

extern const char *const worker_lost_names[WORKER_LOST_NR];

/* What status and metrics show. */
struct worker_info {
	bool isolated;		/* the policy runs in a worker */
	pid_t pid;		/* 0: none running */
	uint64_t restarts;
	uint64_t lost[WORKER_LOST_NR];
	uint64_t retry_tick;	/* next start, when none runs */
	double tick_seconds;	/* the last tick's exchange, wall time */
	const char *last;	/* the last failure in words, "" none */
	const char *fallback;	/* the built-in default advising, NULL none */
};

/*
 * Starts the policy of cfg in a worker: the launcher first if none runs
 * (only then may a user switch be needed), then the worker, then its init.
 * Returns 0, or a negative errno after logging why; init's own error is
 * returned as it is.
 */
int worker_open(struct vn_policy_rt *rt, const struct vn_config *cfg);
/*
 * Has a describer (a worker of cfg's user, in its sandbox) load the plugin
 * whose file `plugin` holds and tell its descriptor, so that the daemon
 * reads it without mapping the plugin: the launcher that runs is used, or
 * one started for this alone and ended after. Waits as long as a worker's
 * start may take. Returns 0 with the WIRE_DESCRIPTION payload in *desc
 * (malloc'ed, unchecked: wire_desc_unpack's to check) and *len, or -1 with
 * why (it crashed, missed its deadline, could not load the plugin...).
 */
int worker_describe(const struct vn_config *cfg, int plugin, void **desc, size_t *len,
		    char *why, size_t wlen);
/*
 * Tells the worker why the policy stops (its guest_exit, exit and fini run
 * there, within the deadline), then stops it.
 */
void worker_close(struct vn_policy_rt *rt, enum vnumad_exit_kind kind, int error,
		  const char *reason);
/*
 * The policy stage of a policy in a worker: the tick's view out, its
 * proposals back into out. A lost tick is logged with its reason, the
 * worker restarted with backoff, and after POLICY_MAX_FAILURES in a row
 * the built-in default advises. 0 when out holds proposals, -1 otherwise.
 */
int worker_stage(struct vn_core *c, const struct vnumad_view *v,
		 struct vnumad_out *out);
/*
 * The built-in default's advice in place of a disabled policy (in process
 * or in a worker); core_advisory() is true meanwhile. 0 or -1.
 */
int worker_fallback(struct vn_core *c, const struct vnumad_view *v,
		    struct vnumad_out *out);
/* Releases the fallback's state. */
void worker_fallback_close(struct vn_policy_rt *rt);
void worker_info(const struct vn_policy_rt *rt, struct worker_info *i);
/* Ends the launcher (its workers with it); at exit. */
void worker_shutdown(void);

#endif
