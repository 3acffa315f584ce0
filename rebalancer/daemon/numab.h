/* SPDX-License-Identifier: MIT */
/*
 * The kernel's automatic NUMA balancing (/proc/sys/kernel/numa_balancing)
 * migrates the same threads and pages as vnumad, without knowing guests, and
 * the two undo each other's work. [backend] numa_balancing chooses: leave it,
 * warn at start-up, or switch it off while vnumad runs and restore it at
 * exit. The value found is also written to STATE_DIR/numa_balancing.saved
 * until it is restored, so that a daemon that crashed restores the operator's
 * setting on its next exit rather than the 0 it left behind.
 */
#ifndef VN_NUMAB_H
#define VN_NUMAB_H

#include <stdbool.h>

struct vn_config;

/*
 * Applies cfg->numa_balancing (a dry run never changes it, only warns).
 * Returns 0, or a negative errno when it had to be switched off and could
 * not be (logged; the daemon carries on). Registers numab_restore with
 * atexit.
 */
int numab_setup(const struct vn_config *cfg);

/*
 * SIGHUP: says that a new [backend] numa_balancing (or the end of a dry run
 * that left it on) takes effect only at restart.
 */
void numab_reload(const struct vn_config *cur, const struct vn_config *fresh);

/* Gives back the value numab_setup changed; idempotent. */
void numab_restore(void);

/* True while vnumad holds it off and owes a restore (privs keeps the means). */
bool numab_changed(void);

/* The current value (0 off, 1 on, 2 memory tiering, 3 both), or -errno. */
int numab_read(void);

/*
 * Other balancers moving the same threads and pages: warns about a running
 * numad, and about another vnumad daemon (commands such as `vnumad status`,
 * checks and dry runs do not count). Returns how many were found.
 */
int numab_rivals(void);

/*
 * Tests: other files instead of the sysctl and the saved value (saved NULL:
 * the daemon's, STATE_DIR/numa_balancing.saved).
 */
void numab_set_paths(const char *sysctl, const char *saved);

#endif
