/* SPDX-License-Identifier: MIT */
#ifndef VN_DAEMON_H
#define VN_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "core.h"

struct event_base;
struct event;
struct vn_control;
struct vn_metrics;

/* The running daemon: the core plus its loop and how it was started. */
struct vn_daemon {
	struct vn_core core;
	struct event_base *base;
	struct event *tick_ev;
	double armed_at;		/* when the next tick was armed, monotonic */
	struct event *watchdog_ev;	/* NULL: no watchdog asked for */
	struct vn_control *control;	/* NULL: none */
	struct vn_metrics *metrics;	/* NULL: off */
	const char *config_path;	/* NULL: built-in defaults */
	struct vn_overrides ov;		/* reapplied on reload */
	uint64_t max_ticks;		/* 0: run until signalled */
	double end;			/* model time to stop at (its scenario's), 0 never */
	bool once;			/* stop after one decision round */
	bool pace;			/* model backend: tick in real time */
	bool stopping;
	int failed_ticks;
	int exit_code;
};

/* Creates the event loop; the backend is opened on it afterwards. */
int daemon_init(struct vn_daemon *d);
/* Runs the loop until a signal, --ticks or --once ends it. */
int daemon_run(struct vn_daemon *d);
/* Frees the loop, after the core is closed. */
void daemon_fini(struct vn_daemon *d);

#endif
