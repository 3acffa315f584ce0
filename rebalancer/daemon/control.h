/* SPDX-License-Identifier: MIT */
#ifndef VN_CONTROL_H
#define VN_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct vn_core;
struct vn_control;

/*
 * Listens on the Unix socket at path (mode 0600 in a 0700 directory). NULL
 * with *err set (-EADDRINUSE when another daemon answers there) after
 * logging why.
 */
struct vn_control *control_open(struct event_base *base, const char *path,
				struct vn_core *c, int *err);
/* True when a daemon answers on path already. */
bool control_answers(const char *path);
/*
 * What the daemon requires of its control path, in why (one sentence) with
 * a negative errno when it is not met: short enough for a Unix socket,
 * nothing there but a socket, and every directory from the socket's up to
 * the root owned by root (or the daemon's user) and writable by nobody
 * else (sticky ones excepted, above the socket's own). A missing last
 * directory is fine: the daemon makes it, mode 0700.
 */
int control_check(const char *path, char *why, size_t len);
/* A control server without a socket, and a client served on fd: the tests'. */
struct vn_control *control_new(struct event_base *base, struct vn_core *c);
void control_adopt(struct vn_control *ctl, int fd);
/* Sends progress to clients following a manual migration; once per tick. */
void control_tick(struct vn_control *ctl);
void control_close(struct vn_control *ctl);

/* The client side: `vnumad status|place|migrate ...`; returns the exit code. */
int client_main(int argc, char **argv);

#endif
