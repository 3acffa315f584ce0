/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus endpoint: the text exposition format 0.0.4 over HTTP, served
 * by libevent's evhttp on the daemon's loop at [daemon] metrics = ADDR:PORT.
 * Every response is built from the core's state when it is asked for, so the
 * endpoint costs nothing per tick.
 */
#ifndef VN_METRICS_H
#define VN_METRICS_H

struct event_base;
struct evbuffer;
struct vn_core;
struct vn_metrics;

/*
 * Resolves and binds addr, and serves GET and HEAD of /metrics (and a short
 * pointer at /) on base from then on. Returns NULL after logging why: a bad
 * address, a name that does not resolve, a port already in use. c is read at
 * each request and must outlive the endpoint.
 */
struct vn_metrics *metrics_open(struct event_base *base, const char *addr,
				struct vn_core *c);
/* Closes the socket and every open connection; NULL is a no-op. */
void metrics_close(struct vn_metrics *m);

/* Appends the whole exposition of c to b; returns 0, or -1 out of memory. */
int metrics_render(const struct vn_core *c, struct evbuffer *b);

#endif
