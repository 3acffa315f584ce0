/* SPDX-License-Identifier: MIT */
/*
 * What the unit tests share: a fake guest process (tests/fakeguest run as
 * qemu-system-fakeguest, a stand-in QEMU with vCPU threads named "CPU
 * n/KVM" and touched RAM), a
 * temporary directory removed with everything in it, and running the event
 * loop for a while. Include it after <cmocka.h>; every function is static,
 * so that a test links one source file of its own.
 */
#ifndef VN_TESTLIB_H
#define VN_TESTLIB_H

#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define TL_UNUSED __attribute__((unused))

/* --- a fake guest process ------------------------------------------------ */

struct fg {
	pid_t pid;
	uintptr_t addr;		/* its guest RAM, as it said when ready */
	size_t len;
};

static char tl_fg_built[64];

static void tl_fg_cleanup(void)
{
	if (tl_fg_built[0])
		unlink(tl_fg_built);
}

/*
 * tests/fakeguest as built by make, under the name of a QEMU executable
 * (qemu-system-fakeguest: the proc backend goes by the executable), or
 * compiled here under such a name when make has not.
 */
static TL_UNUSED const char *fakeguest_path(void)
{
	static char path[512];
	const char *env = getenv("FAKEGUEST"), *b = getenv("B");
	char cmd[1024];

	if (env)
		return env;
	snprintf(path, sizeof(path), "%s/tests/qemu-system-fakeguest", b ? b : "build/default");
	if (access(path, X_OK) == 0)
		return path;
	if (!tl_fg_built[0]) {
		snprintf(tl_fg_built, sizeof(tl_fg_built), "/tmp/qemu-system-fakeguest-%d",
			 (int)getpid());
		snprintf(cmd, sizeof(cmd), "${CC:-cc} -std=gnu11 -O2 -o %s tests/fakeguest.c "
			 "-lpthread", tl_fg_built);
		if (system(cmd) != 0) {
			tl_fg_built[0] = '\0';
			return NULL;
		}
		atexit(tl_fg_cleanup);
	}
	return tl_fg_built;
}

/*
 * Starts fakeguest with args (NULL-terminated); cpu >= 0 binds the whole
 * process to that CPU first, uid > 0 runs it as that user. Returns its
 * standard output, for fg_ready().
 */
static TL_UNUSED FILE *fg_spawn(struct fg *fg, const char *const *args, int cpu, uid_t uid)
{
	const char *path = fakeguest_path();
	const char *argv[16];
	int p[2], n = 0;

	assert_non_null(path);
	argv[n++] = path;
	for (int i = 0; args && args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(pipe(p), 0);
	fg->pid = fork();
	assert_true(fg->pid >= 0);
	if (fg->pid == 0) {
		if (cpu >= 0) {
			cpu_set_t s;

			CPU_ZERO(&s);
			CPU_SET(cpu, &s);
			sched_setaffinity(0, sizeof(s), &s);
		}
		if (uid && (setgid(uid) < 0 || setuid(uid) < 0))
			_exit(126);
		/* never outlive a test that dies (after setuid, which clears it) */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		close(p[0]);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	return fdopen(p[0], "r");
}

/* Waits for its "ready PID ADDR LEN" line and keeps where its RAM is. */
static TL_UNUSED void fg_ready(struct fg *fg, FILE *f)
{
	char line[256];

	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_memory_equal(line, "ready ", 6);
	if (sscanf(line, "ready %*d %lx %zu", &fg->addr, &fg->len) != 2)
		fg->addr = fg->len = 0;
}

static TL_UNUSED void fg_start(struct fg *fg, const char *const *args)
{
	fg_ready(fg, fg_spawn(fg, args, -1, 0));
}

static TL_UNUSED void fg_stop(struct fg *fg)
{
	if (fg->pid > 0) {
		kill(fg->pid, SIGKILL);
		waitpid(fg->pid, NULL, 0);
	}
	fg->pid = 0;
}

/* --- a temporary directory ----------------------------------------------- */

/* Makes /tmp/vnumad-NAME.XXXXXX into dir (at least 64 bytes); 0 or -1. */
static TL_UNUSED int tmpdir_make(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "%s/vnumad-%s.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") :
		 "/tmp", name);
	return mkdtemp(dir) ? 0 : -1;
}

static int tl_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything in it, never following a symbolic link. */
static TL_UNUSED void tmpdir_remove(const char *dir)
{
	if (dir && dir[0])
		nftw(dir, tl_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- the event loop ------------------------------------------------------ */

#ifdef EVENT2_EVENT_H_INCLUDED_
/* Runs the loop for s seconds. */
static TL_UNUSED void loop_for(struct event_base *base, double s)
{
	struct timeval tv = { (time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6) };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}
#endif

#endif
