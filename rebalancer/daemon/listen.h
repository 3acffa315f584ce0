/* SPDX-License-Identifier: MIT */
/*
 * A listening socket that holds when the daemon is short of descriptors,
 * for the control socket and the metrics endpoint. libevent's listener
 * retries a failed accept() at every turn of the loop: once descriptors run
 * out, the daemon spins and logs without end. This one
 *
 *  - takes at most `max` connections at once: it stops accepting at the cap
 *    and starts again when one of them closes (listener_release);
 *  - on EMFILE, ENFILE, ENOBUFS or ENOMEM gives up a spare descriptor kept
 *    for the purpose to accept the connection waiting and close it at once
 *    (its client hears so, rather than hanging in the backlog), then stops
 *    accepting for a second;
 *  - says so in the log at most once a minute, with the number of
 *    connections refused since it last did.
 */
#ifndef VN_LISTEN_H
#define VN_LISTEN_H

#include <sys/socket.h>

#include <event2/util.h>

struct event_base;
struct vn_listener;

/* A connection accepted: fd is the caller's, non-blocking, close-on-exec. */
typedef void (*vn_accept_fn)(struct vn_listener *l, evutil_socket_t fd, void *arg);

/*
 * Binds and listens on sa (reusing the address for TCP), at most max
 * connections at once; what names the socket in the log. NULL with errno
 * set when the socket cannot be made.
 */
struct vn_listener *listener_new(struct event_base *base, const struct sockaddr *sa,
				 socklen_t salen, int max, const char *what,
				 vn_accept_fn cb, void *arg);
/* One connection of l closed: accepting resumes if it stopped at the cap. */
void listener_release(struct vn_listener *l);
/* Connections open now. */
int listener_count(const struct vn_listener *l);
/* Closes the socket; the connections it accepted are the caller's. */
void listener_free(struct vn_listener *l);

#endif
