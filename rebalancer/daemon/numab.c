// SPDX-License-Identifier: MIT
/*
 * The kernel's automatic NUMA balancing: detect it, and leave it, warn about
 * it or hold it off while vnumad runs (see numab.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "journal.h"
#include "log.h"
#include "numab.h"
#include "privs.h"

#define SYSCTL	"/proc/sys/kernel/numa_balancing"

static struct {
	char sysctl[256];
	char saved[512];
	bool paths_set;
	bool changed;
	int original;
	bool atexit_done;
} nb = { .sysctl = SYSCTL };

void numab_set_paths(const char *sysctl, const char *saved)
{
	snprintf(nb.sysctl, sizeof(nb.sysctl), "%s", sysctl ? sysctl : SYSCTL);
	snprintf(nb.saved, sizeof(nb.saved), "%s", saved ? saved : "");
	/* without a saved path, the daemon's: in cfg->state_dir */
	nb.paths_set = saved != NULL;
}

/* Reads one small integer from a file; the value or -errno. */
static int read_int(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	long v;
	char *end;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (end == buf || v < 0 || v > 255)
		return -EINVAL;
	return (int)v;
}

/*
 * Writes one integer to a file; O_CREAT makes the file afresh (O_EXCL, after
 * removing what was there), so that a link planted in the state directory
 * is never followed. 0 or -errno.
 */
static int write_int(const char *path, int v, int flags)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d\n", v), r = 0, fd;

	if ((flags & O_CREAT) && unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (flags & O_CREAT)
		flags = (flags & ~O_TRUNC) | O_EXCL;
	fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | flags, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)len) != len)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	return r;
}

int numab_read(void)
{
	return read_int(nb.sysctl);
}

bool numab_changed(void)
{
	return nb.changed;
}

static const char *mode_name(int v)
{
	switch (v) {
	case 0: return "off";
	case 1: return "on";
	case 2: return "on for memory tiering";
	default: return "on, with memory tiering";
	}
}

void numab_restore(void)
{
	int r;

	if (!nb.changed)
		return;
	nb.changed = false;
	r = write_int(nb.sysctl, nb.original, O_TRUNC);
	if ((r == -EPERM || r == -EACCES) && privs_raise(CAP_SYS_ADMIN) == 0) {
		/* the kernel wants CAP_SYS_ADMIN for this sysctl; privs kept it aside */
		r = write_int(nb.sysctl, nb.original, O_TRUNC);
		privs_lower(CAP_SYS_ADMIN);
	}
	if (r < 0) {
		log_warnx("cannot restore %s to %d: %s; set it back with "
			  "sysctl kernel.numa_balancing=%d", nb.sysctl, nb.original,
			  strerror(-r), nb.original);
		return;
	}
	if (nb.saved[0])
		unlink(nb.saved);
	log_info("kernel NUMA balancing restored: %s (%d)", mode_name(nb.original),
		 nb.original);
}

static void restore_at_exit(void)
{
	numab_restore();
}

int numab_setup(const struct vn_config *cfg)
{
	int cur = numab_read(), saved, r, dir_err = 0;
	char why[512] = "";

	/* in the state directory, when the journal may be kept there too */
	if (!nb.paths_set && cfg->state_dir) {
		nb.saved[0] = '\0';
		dir_err = journal_check_dir(cfg->state_dir, why, sizeof(why));
		if (dir_err == 0) {
			/* the journal makes it too, later: the setting comes first */
			mkdir(cfg->state_dir, 0700);
			snprintf(nb.saved, sizeof(nb.saved), "%s/numa_balancing.saved",
				 cfg->state_dir);
		} else {
			log_debug("NUMA balancing setting not kept aside: %s", why);
		}
	}
	if (cur == -ENOENT) {
		log_debug("this kernel has no automatic NUMA balancing");
		return 0;
	}
	if (cur < 0) {
		log_warnx("cannot read %s: %s", nb.sysctl, strerror(-cur));
		return 0;
	}
	saved = nb.saved[0] ? read_int(nb.saved) : -ENOENT;
	/* a value the kernel never had (0 to 3) is no setting to give back */
	if (saved > 3) {
		log_warning("%s holds %d, not a NUMA balancing setting: ignored", nb.saved,
			    saved);
		saved = -EINVAL;
	}
	if (saved > 0 && cur == 0) {
		/* a vnumad that did not exit cleanly left it off */
		log_info("kernel NUMA balancing was %s before a previous vnumad switched "
			 "it off", mode_name(saved));
		nb.original = saved;
		nb.changed = true;
		if (!nb.atexit_done && atexit(restore_at_exit) == 0)
			nb.atexit_done = true;
		if (cfg->numa_balancing != VN_NUMAB_DISABLE || cfg->dry_run) {
			numab_restore();
			cur = saved;
		} else {
			return 0;	/* held off already; restored at exit */
		}
	} else if (saved >= 0 && nb.saved[0]) {
		unlink(nb.saved);	/* stale: someone set it since */
	}
	if (cur == 0 || cfg->numa_balancing == VN_NUMAB_LEAVE)
		return 0;
	if (cfg->numa_balancing == VN_NUMAB_WARN || cfg->dry_run) {
		log_warning("the kernel's automatic NUMA balancing is %s (%s = %d): it moves "
			    "the same threads and pages as vnumad and the two will undo each "
			    "other's work; [backend] numa_balancing = disable switches it off "
			    "while vnumad runs%s", mode_name(cur), nb.sysctl, cur,
			    cfg->dry_run ? " (a dry run leaves it as it is)" : "");
		return 0;
	}
	/* written ahead: a vnumad that dies holding it off must find what it was */
	if (dir_err < 0) {
		log_warnx("cannot keep the NUMA balancing setting in [daemon] state_dir (%s): "
			  "it is left %s, since a vnumad that died could not set it back; "
			  "it will fight vnumad", why, mode_name(cur));
		return dir_err;
	}
	if (nb.saved[0] && (r = write_int(nb.saved, cur, O_CREAT | O_TRUNC)) < 0) {
		log_warnx("cannot keep the NUMA balancing setting in %s (%s): it is left %s, "
			  "since a vnumad that died could not set it back; it will fight "
			  "vnumad", nb.saved, strerror(-r), mode_name(cur));
		return r;
	}
	r = write_int(nb.sysctl, 0, O_TRUNC);
	if (r < 0) {
		if (nb.saved[0])
			unlink(nb.saved);
		if (r == -EROFS)
			log_warnx("cannot switch the kernel's automatic NUMA balancing off: "
				  "%s is read-only (the unit's ProtectKernelTunables=yes; "
				  "numa_balancing = disable needs the drop-in "
				  "ProtectKernelTunables=no and CapabilityBoundingSet=CAP_SYS_ADMIN, "
				  "see vnumad(8)); it will fight vnumad",
				  nb.sysctl);
		else if (r == -EPERM || r == -EACCES)
			log_warnx("cannot switch the kernel's automatic NUMA balancing off "
				  "(%s: %s): writing it needs CAP_SYS_ADMIN, which the unit "
				  "leaves out unless a drop-in adds it (see vnumad(8)); it "
				  "will fight vnumad", nb.sysctl, strerror(-r));
		else
			log_warnx("cannot switch the kernel's automatic NUMA balancing off "
				  "(%s: %s); it will fight vnumad", nb.sysctl, strerror(-r));
		return r;
	}
	nb.original = cur;
	nb.changed = true;
	if (!nb.atexit_done && atexit(restore_at_exit) == 0)
		nb.atexit_done = true;
	log_info("kernel NUMA balancing switched off while vnumad runs (was %s)",
		 mode_name(cur));
	return 0;
}

void numab_reload(const struct vn_config *cur, const struct vn_config *fresh)
{
	/* privileges are dropped by now: the sysctl is written only at start */
	if (cur->backend == VN_BACKEND_SIM)
		return;		/* a model's host has no kernel balancing of ours */
	if (fresh->numa_balancing != cur->numa_balancing ||
	    (fresh->numa_balancing == VN_NUMAB_DISABLE && cur->dry_run && !fresh->dry_run))
		log_warning("reload: [backend] numa_balancing changes only at restart (the "
			    "kernel's balancing stays %s)", nb.changed ? "off" : "as it is");
}

/* Whether a vnumad's command line runs a daemon that applies moves. */
static bool vnumad_applies(const char *args, size_t len)
{
	static const char *const passive[] = {
		"status", "place", "migrate", "-n", "--check", "--dry-run", "-h", "--help",
		"--json",
		"-V", "--version", "--help-policy", "--list-config-keys", "--once",
		"--ticks", "--scenario", "--backend=sim", NULL,
	};
	const char *prev = "";

	/* argv[0] first, then each argument, NUL-separated */
	for (size_t i = strlen(args) + 1; i < len; i += strlen(args + i) + 1) {
		for (int k = 0; passive[k]; k++)
			if (!strcmp(args + i, passive[k]))
				return false;
		/* the simulated host moves nothing real */
		if (!strcmp(prev, "--backend") && !strcmp(args + i, "sim"))
			return false;
		prev = args + i;
	}
	return true;
}

int numab_rivals(void)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	int found = 0;

	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		char path[64], comm[32] = "", args[4096];
		pid_t pid;
		FILE *f;
		size_t n;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if (!(f = fopen(path, "re")))
			continue;	/* gone, or hidden from us */
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		comm[strcspn(comm, "\n")] = 0;
		if (!strcmp(comm, "numad")) {
			log_warning("numad (pid %d) is running: it moves the same processes "
				    "and memory, and the two will undo each other's moves; "
				    "stop it (systemctl disable --now numad)", (int)pid);
			found++;
			continue;
		}
		if (strcmp(comm, "vnumad"))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		if (!(f = fopen(path, "re")))
			continue;
		n = fread(args, 1, sizeof(args) - 1, f);
		fclose(f);
		args[n] = 0;
		if (n == 0 || !vnumad_applies(args, n))
			continue;
		log_warning("another vnumad (pid %d) is running: the two will undo each "
			    "other's moves", (int)pid);
		found++;
	}
	closedir(dir);
	return found;
}
