/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus endpoint: the text exposition format 0.0.4 over HTTP
 * (httpd.c), on the daemon's loop at [daemon] metrics = ADDR:PORT. The
 * first scrape after a tick renders the exposition; the others until the
 * next tick get that copy, so that the endpoint costs at most one rendering
 * a tick and nothing when nobody scrapes.
 */
#ifndef VN_METRICS_H
#define VN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct evbuffer;
struct vn_core;
struct vn_metrics;

/*
 * Resolves and binds addr, and serves GET and HEAD of /metrics (and a short
 * pointer at /) on base from then on. Returns NULL after logging why: a bad
 * address, a name that does not resolve, a port already in use. c is read at
 * the first request of each tick and must outlive the endpoint. At most
 * HTTP_MAX_CONNECTIONS (16) at once, each closed HTTP_DEADLINE (10 s) after
 * it opened, its request head at most HTTP_HEAD_MAX (8 KiB): see httpd.h.
 */
struct vn_metrics *metrics_open(struct event_base *base, const char *addr,
				struct vn_core *c);
/*
 * Parses and resolves ADDRESS:PORT to its first address (port set), with
 * the host part in host and that address as a number in num; 0, or -1 with
 * why. What metrics_open() binds, and what vnumad -n checks.
 */
int metrics_resolve(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen,
		    char *host, size_t hostlen, char *num, size_t numlen,
		    char *why, size_t whylen);
/* An endpoint without a socket, and a connection served on fd: the tests'. */
struct vn_metrics *metrics_new_unbound(struct event_base *base, struct vn_core *c);
void metrics_adopt(struct vn_metrics *m, int fd);
/* Closes the socket and every open connection; NULL is a no-op. */
void metrics_close(struct vn_metrics *m);

/* Records the outcome of a reload (SIGHUP) for its metrics; NULL is a no-op. */
void metrics_reloaded(struct vn_metrics *m, bool ok);

/* Appends the exposition of c (and the process) to b; 0, or -1 out of memory. */
int metrics_render(const struct vn_core *c, struct evbuffer *b);
/* Expositions rendered so far (the tests'). */
uint64_t metrics_renders(const struct vn_metrics *m);

#endif
