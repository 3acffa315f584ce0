/* SPDX-License-Identifier: MIT */
/*
 * Memory cgroups for the tests and the benchmarks: one of their own, made
 * under the caller's own memory cgroup (cgroup v1) or under the cgroup2
 * root when it hands the memory controller down, and processes started in
 * it from their first instruction, so that every page they touch is
 * charged to it (a process moved in later leaves its pages where they
 * were charged). Where no such cgroup can be made, cgt_make says why, for
 * the caller's skip message.
 */
#ifndef VN_CGTEST_H
#define VN_CGTEST_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "sampling_impl.h"

struct cgt {
	char dir[PATH_MAX];
	int version;		/* 1, 2; 0 none */
};

/* Reads a small file whole; bytes, or -1. */
static inline ssize_t cgt_slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Writes a short string to a cgroup file; 0 or -errno. */
static inline int cgt_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = write(fd, s, strlen(s));
	r = r < 0 ? -errno : 0;
	close(fd);
	return (int)r;
}

/*
 * Makes a fresh memory cgroup named NAME-PID. Returns its version (1, 2),
 * or 0 with the reason in why.
 */
static inline int cgt_make(struct cgt *cg, const char *name, char *why, size_t len)
{
	static char buf[256 * 1024];
	struct cg_mounts m;
	char own[PATH_MAX], parent[PATH_MAX + 64], *line;
	ssize_t n;

	memset(cg, 0, sizeof(*cg));
	if (geteuid() != 0) {
		snprintf(why, len, "making a memory cgroup needs root");
		return 0;
	}
	n = cgt_slurp("/proc/self/mountinfo", buf, sizeof(buf));
	if (n <= 0 || cg_mounts_parse(buf, (size_t)n, &m) == 0) {
		snprintf(why, len, "no cgroup hierarchy is mounted");
		return 0;
	}
	n = cgt_slurp("/proc/self/cgroup", buf, sizeof(buf));
	own[0] = '\0';
	for (line = n > 0 ? strtok(buf, "\n") : NULL; line; line = strtok(NULL, "\n")) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		if (m.v1[0] && strstr(c1 + 1, "memory")) {
			snprintf(own, sizeof(own), "%s", c2 + 1);
			break;
		}
	}
	if (m.v1[0] && own[0]) {
		size_t rl = strlen(m.v1_root);
		const char *rel = own;

		if (rl > 1 && !strncmp(own, m.v1_root, rl))
			rel += rl;
		snprintf(parent, sizeof(parent), "%s%s", m.v1, strcmp(rel, "/") ? rel : "");
		cg->version = 1;
	} else if (m.v2[0]) {
		char ctl[PATH_MAX + 64];

		/* a child of our own cgroup could not hold processes beside
		 * ours (no internal processes): a child of the root */
		snprintf(parent, sizeof(parent), "%s", m.v2);
		snprintf(ctl, sizeof(ctl), "%s/cgroup.subtree_control", m.v2);
		n = cgt_slurp(ctl, buf, sizeof(buf));
		if (n <= 0 || !strstr(buf, "memory")) {
			snprintf(why, len, "the memory controller is neither on a cgroup "
				 "v1 hierarchy nor enabled in %.300s", ctl);
			return 0;
		}
		cg->version = 2;
	} else {
		snprintf(why, len, "no memory cgroup hierarchy is mounted");
		return 0;
	}
	snprintf(cg->dir, sizeof(cg->dir), "%.3000s/%.100s-%d", parent, name, (int)getpid());
	if (mkdir(cg->dir, 0755) < 0 && errno != EEXIST) {
		snprintf(why, len, "cannot make %.300s: %s", cg->dir, strerror(errno));
		cg->version = 0;
		return 0;
	}
	return cg->version;
}

/* Moves a process into the cgroup; 0 or -errno. */
static inline int cgt_join(const struct cgt *cg, pid_t pid)
{
	char path[PATH_MAX + 32], s[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg->dir);
	snprintf(s, sizeof(s), "%d\n", (int)pid);
	return cgt_write(path, s);
}

/*
 * Starts argv[0] with its stdout on a pipe (*out), inside cg from its first
 * instruction when cg is not NULL. The child dies with its parent.
 */
static inline pid_t cgt_spawn(const struct cgt *cg, char *const argv[], int *out)
{
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cg && cgt_join(cg, getpid()) < 0)
			_exit(125);
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	*out = p[0];
	return pid;
}

/* Removes the cgroup once its processes are gone (they leave it a moment later). */
static inline void cgt_remove(struct cgt *cg)
{
	if (!cg->version)
		return;
	for (int i = 0; i < 200 && rmdir(cg->dir) < 0 && errno == EBUSY; i++)
		usleep(10000);
	cg->version = 0;
}

#endif
