/* SPDX-License-Identifier: MIT */
#ifndef VN_CONTROL_H
#define VN_CONTROL_H

#include <stdbool.h>

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
/* Sends progress to clients following a manual migration; once per tick. */
void control_tick(struct vn_control *ctl);
void control_close(struct vn_control *ctl);

/* The client side: `vnumad status|place|migrate ...`; returns the exit code. */
int client_main(int argc, char **argv);

#endif
