/* SPDX-License-Identifier: MIT */
/*
 * vnumad-worker, the process a policy plugin runs in (see vnumad-policy(7)):
 *
 *	main.c     the launcher: started once by the daemon, forks workers
 *	serve.c    one worker: loads the plugin, answers init, tick and fini;
 *	           or a describer, which tells the daemon the plugin's descriptor
 *	sandbox.c  the worker's resource limits and system-call filter
 */
#ifndef VN_SERVE_H
#define VN_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

/* serve.c: runs one worker in a child of the launcher; never returns. */
void serve(const struct wire_spawn *sp, pid_t launcher) __attribute__((noreturn));
/*
 * serve.c: a describer, a worker that loads the plugin, sends the daemon
 * its descriptor (WIRE_DESCRIPTION) and exits; never returns.
 */
void describe(const struct wire_spawn *sp, pid_t launcher) __attribute__((noreturn));

/* sandbox.c */

/* Limits that hold from the start: no core files, no files written. */
int sandbox_early(char *why, size_t len);
/*
 * Caps the address space at what the process maps now plus `memory` bytes,
 * and makes it non-dumpable (no ptrace by other processes of its user, no
 * core). Reads /proc, so it comes before the strict filter.
 */
int sandbox_memory(uint64_t memory, char *why, size_t len);

enum sandbox_stage {
	SANDBOX_LOADING,	/* what the dynamic loader needs besides */
	SANDBOX_STRICT,		/* a pure function of the view, and nothing else */
};

/*
 * Installs the system-call filter of a stage (the loading one first, the
 * strict one over it once the plugin is loaded). A call outside it raises
 * SIGSYS, which reports the call's number on the channel and exits with
 * WIRE_EXIT_SYSCALL. Returns 0, or -1 with why.
 */
int sandbox_filter(enum sandbox_stage stage, char *why, size_t len);

#endif
