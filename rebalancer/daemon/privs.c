// SPDX-License-Identifier: MIT
/*
 * Dropping capabilities after start-up, with libcap-ng.
 *
 * vnumad stays uid 0 (its state directory, libvirt's root socket and pid
 * files are root's, reached as their owner without any capability) and
 * keeps in its effective set only:
 *
 *   CAP_SYS_NICE    sched_setaffinity on vCPU threads of another user
 *                   (QEMU runs as libvirt-qemu), and move_pages with
 *                   MPOL_MF_MOVE_ALL for guest RAM shared with a vhost-user
 *                   process;
 *   CAP_SYS_PTRACE  the ptrace access check of /proc/PID/smaps, numa_maps
 *                   and move_pages on another user's process;
 *   CAP_PERFMON     per-thread PMU counting of another user's threads and
 *                   at perf_event_paranoid > 1: perf_event_open asks for
 *                   perfmon_capable() || ptrace_may_access(), so it alone
 *                   suffices (CAP_SYS_ADMIN on kernels older than 5.8,
 *                   which lack CAP_PERFMON).
 *
 * CAP_SYS_ADMIN stays permitted but not effective when vnumad switched the
 * kernel's NUMA balancing off (the unit lets it in only by a drop-in):
 * writing that sysctl back at exit needs it, and it is raised for that one
 * write only. A capability the unit's bounding set leaves out is not asked
 * for, and its absence is logged with what it costs.
 *
 * Not kept: CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (every file we read is
 * world-readable or root's; /proc/PID files of other users are guarded by
 * the ptrace check, not by their mode), CAP_SYS_RESOURCE (descriptor limits
 * are raised, within the hard limit, before the drop), CAP_SETUID, CAP_KILL,
 * the network capabilities and the rest. The bounding set is cleared and
 * no_new_privs set, so that nothing executed later gets any of them back.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include <cap-ng.h>

#include "log.h"
#include "numab.h"
#include "privs.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif

/* The highest capability the running kernel knows. */
static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

int privs_drop(void)
{
	bool perfmon = last_cap() >= CAP_PERFMON, held[3], admin;
	const int keep[3] = { CAP_SYS_NICE, CAP_SYS_PTRACE,
			      perfmon ? CAP_PERFMON : CAP_SYS_ADMIN };
	char kept[64];
	int n = 0;
	const char *const name[3] = { "CAP_SYS_NICE", "CAP_SYS_PTRACE",
				      perfmon ? "CAP_PERFMON" : "CAP_SYS_ADMIN" };
	int r;

	if (capng_get_caps_process() < 0) {
		log_warnx("privileges: cannot read this process's capabilities");
		return -EIO;
	}
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE) {
		log_debug("privileges: no capabilities to drop");
		return 0;
	}
	/*
	 * Keep only what this process has: the unit's bounding set may leave
	 * one out (CAP_SYS_ADMIN unless a drop-in adds it), and asking for a
	 * capability not permitted would fail the whole drop.
	 */
	for (int i = 0; i < (int)(sizeof(keep) / sizeof(keep[0])); i++)
		held[i] = capng_have_capability(CAPNG_PERMITTED, (unsigned)keep[i]);
	admin = capng_have_capability(CAPNG_PERMITTED, CAP_SYS_ADMIN);
	capng_clear(CAPNG_SELECT_BOTH);
	for (int i = 0; i < (int)(sizeof(keep) / sizeof(keep[0])); i++)
		if (held[i])
			capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
				     (unsigned)keep[i]);
	if (numab_changed() && admin)
		capng_update(CAPNG_ADD, CAPNG_PERMITTED, CAP_SYS_ADMIN);
	r = capng_apply(CAPNG_SELECT_BOTH);
	if (r < 0) {
		log_warnx("privileges: cannot drop capabilities (libcap-ng error %d)", r);
		return -EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		log_warn("privileges: no_new_privs");
	for (int i = 0; i < (int)(sizeof(keep) / sizeof(keep[0])); i++)
		if (held[i])
			n += snprintf(kept + n, sizeof(kept) - n, "%s%s", n ? ", " : "", name[i]);
	log_info("privileges: every capability dropped but %s%s%s", n ? kept : "none",
		 perfmon ? "" : " (no CAP_PERFMON in this kernel)",
		 numab_changed() && admin ? " (and CAP_SYS_ADMIN aside, to restore NUMA balancing)" : "");
	for (int i = 0; i < (int)(sizeof(keep) / sizeof(keep[0])); i++)
		if (!held[i])
			log_warning("privileges: %s is not among this process's capabilities "
				    "(the unit's CapabilityBoundingSet=?): %s",
				    name[i],
				    keep[i] == CAP_SYS_NICE ? "vCPUs and memory of other users' "
				    "guests cannot move" : keep[i] == CAP_SYS_PTRACE ?
				    "other users' guests cannot be measured" : perfmon ?
				    "other users' guests cannot be counted" :
				    "this kernel has no CAP_PERFMON (before 5.8), so counting "
				    "other users' guests needs CAP_SYS_ADMIN, which the unit "
				    "grants only by the drop-in vnumad(8) gives");
	return 0;
}

int privs_raise(int cap)
{
	if (capng_get_caps_process() < 0 ||
	    !capng_have_capability(CAPNG_PERMITTED, (unsigned)cap))
		return -EPERM;
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE, (unsigned)cap) < 0 ||
	    capng_apply(CAPNG_SELECT_CAPS) < 0)
		return -EPERM;
	return 0;
}

void privs_lower(int cap)
{
	if (capng_get_caps_process() < 0)
		return;
	capng_update(CAPNG_DROP, CAPNG_EFFECTIVE, (unsigned)cap);
	capng_apply(CAPNG_SELECT_CAPS);
}
