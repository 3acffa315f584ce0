// SPDX-License-Identifier: MIT
/*
 * Listening sockets that pause instead of spinning: a connection cap, and a
 * pause of a second with a spare descriptor when accept() runs out of
 * descriptors or memory (see listen.h). nginx stops accepting for half a
 * second on EMFILE; the spare descriptor given up to accept and close the
 * waiting connection is libev's advice, so that clients are not left
 * hanging in the backlog while the daemon cannot serve them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "listen.h"
#include "log.h"
#include "util.h"

#define PAUSE_SECONDS	1	/* accepting stops this long on EMFILE */
#define LOG_EVERY	60.0	/* seconds between two messages about it */

struct vn_listener {
	struct evconnlistener *lis;
	struct event *resume;	/* ends a pause */
	vn_accept_fn cb;
	void *arg;
	char *what;
	int max, count;
	int spare;		/* /dev/null, given up to accept one more */
	bool paused;		/* out of descriptors: waiting for resume */
	double logged_at;	/* when the last message was logged, 0 never */
	unsigned long refused;	/* connections refused since then */
	unsigned long full;	/* times the cap was reached since then */
};

static void update(struct vn_listener *l)
{
	if (l->paused || l->count >= l->max)
		evconnlistener_disable(l->lis);
	else
		evconnlistener_enable(l->lis);
}

/* At most one line a minute, with what happened since the last one. */
static void say(struct vn_listener *l, bool error, const char *why)
{
	double now = now_monotonic();
	char since[160] = "";

	if (l->logged_at > 0 && now - l->logged_at < LOG_EVERY)
		return;
	if (l->refused || l->full)
		snprintf(since, sizeof(since), " (since the last message: %lu "
			 "connection%s refused, the cap reached %lu time%s)", l->refused,
			 l->refused == 1 ? "" : "s", l->full, l->full == 1 ? "" : "s");
	if (error)
		log_warnx("%s: %s%s", l->what, why, since);
	else
		log_warning("%s: %s%s", l->what, why, since);
	l->logged_at = now;
	l->refused = 0;
	l->full = 0;
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd,
		      struct sockaddr *sa, int len, void *arg)
{
	struct vn_listener *l = arg;

	(void)lis;
	(void)sa;
	(void)len;
	l->count++;
	if (l->count >= l->max) {
		char why[128];

		/* libevent's accept loop stops once the listener is disabled */
		l->full++;
		update(l);
		snprintf(why, sizeof(why), "%d connections open, the most it takes; "
			 "accepting again when one closes", l->max);
		say(l, false, why);
	}
	l->cb(l, fd, l->arg);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct vn_listener *l = arg;

	(void)fd;
	(void)what;
	l->paused = false;
	if (l->spare < 0)
		l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	update(l);
}

/* accept() failed for want of descriptors or memory: pause, do not spin. */
static void on_error(struct evconnlistener *lis, void *arg)
{
	struct vn_listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { PAUSE_SECONDS, 0 };
	char why[160];

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
		/* anything else is the client's trouble (ECONNABORTED and the like) */
		log_debug("%s: accept: %s", l->what, strerror(err));
		return;
	}
	if (l->spare >= 0) {
		int fd;

		close(l->spare);
		l->spare = -1;
		fd = accept4(evconnlistener_get_fd(lis), NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			l->refused++;
		}
		l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	l->paused = true;
	update(l);
	evtimer_add(l->resume, &tv);
	snprintf(why, sizeof(why), "cannot accept a connection: %s; not accepting for "
		 "%d s", strerror(err), PAUSE_SECONDS);
	say(l, true, why);
}

struct vn_listener *listener_new(struct event_base *base, const struct sockaddr *sa,
				 socklen_t salen, int max, const char *what,
				 vn_accept_fn cb, void *arg)
{
	struct vn_listener *l = xcalloc(1, sizeof(*l));
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
	int err;

	if (sa->sa_family != AF_UNIX)
		flags |= LEV_OPT_REUSEABLE;
	l->cb = cb;
	l->arg = arg;
	l->max = max > 0 ? max : 1;
	l->what = xstrdup(what);
	l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	l->resume = evtimer_new(base, on_resume, l);
	errno = 0;
	l->lis = evconnlistener_new_bind(base, on_accept, l, flags, 16, sa, (int)salen);
	if (!l->lis || !l->resume) {
		err = errno ? errno : ENOMEM;
		listener_free(l);
		errno = err;
		return NULL;
	}
	evconnlistener_set_error_cb(l->lis, on_error);
	return l;
}

void listener_release(struct vn_listener *l)
{
	if (!l || l->count <= 0)
		return;
	l->count--;
	if (l->count == l->max - 1)
		update(l);
}

int listener_count(const struct vn_listener *l)
{
	return l ? l->count : 0;
}

void listener_free(struct vn_listener *l)
{
	if (!l)
		return;
	if (l->lis)
		evconnlistener_free(l->lis);
	if (l->resume)
		event_free(l->resume);
	if (l->spare >= 0)
		close(l->spare);
	free(l->what);
	free(l);
}
