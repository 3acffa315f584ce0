// SPDX-License-Identifier: MIT
/*
 * libvirt's event loop implemented on libevent (see virevent.h for the
 * contract). Every watch (handle or timer) is a record with its libevent
 * event, in one list under a mutex, since libvirt calls in from its own
 * threads. Our mutex is taken before libevent's base lock and never while a
 * libvirt callback runs, so the two cannot deadlock.
 *
 * A removed watch is marked, its event deleted without waiting (libvirt may
 * remove a handle from another thread while its callback runs here), and
 * handed to the reaper: an event made active on the loop, which frees the
 * libevent event and calls the free callback once the current callback has
 * returned. A handle whose events change gets a fresh libevent event (the
 * old one goes to the reaper too), as an event's flags cannot change while
 * it may be running.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <event2/event.h>
#include <libvirt/libvirt.h>

#include "log.h"
#include "util.h"
#include "virevent.h"

struct ve_watch {
	int id;
	bool timer;
	int fd;
	int events;		/* handle: VIR_EVENT_HANDLE_* asked for */
	int period;		/* timer: ms, -1 off */
	struct event *ev;	/* NULL while a handle asks for nothing */
	virEventHandleCallback hcb;
	virEventTimeoutCallback tcb;
	void *opaque;
	virFreeCallback ff;
	bool removed;
	struct ve_watch *next;
};

/* A libevent event left behind by a handle update, freed by the reaper. */
struct ve_grave {
	struct event *ev;
	struct ve_grave *next;
};

static struct {
	pthread_mutex_t lock;
	struct event_base *base;
	struct event *reaper;
	struct ve_watch *live;
	struct ve_watch *dead;	/* removed, waiting for the reaper */
	struct ve_grave *graves;
	int next_id;
	bool registered;
} ve = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_id = 1 };

static struct ve_watch *find(int id, bool timer)
{
	for (struct ve_watch *w = ve.live; w; w = w->next)
		if (w->id == id && w->timer == timer)
			return w;
	return NULL;
}

static void wake_reaper(void)
{
	if (ve.reaper)
		event_active(ve.reaper, EV_TIMEOUT, 0);
}

static void bury(struct event *ev)
{
	struct ve_grave *g;

	if (!ev)
		return;
	event_del_noblock(ev);
	g = xcalloc(1, sizeof(*g));
	g->ev = ev;
	g->next = ve.graves;
	ve.graves = g;
	wake_reaper();
}

/* Runs on the loop, from a clean stack: frees what remove left behind. */
static void reap(evutil_socket_t fd, short what, void *arg)
{
	struct ve_watch *dead;
	struct ve_grave *graves;

	(void)fd;
	(void)what;
	(void)arg;
	pthread_mutex_lock(&ve.lock);
	dead = ve.dead;
	graves = ve.graves;
	ve.dead = NULL;
	ve.graves = NULL;
	pthread_mutex_unlock(&ve.lock);
	while (graves) {
		struct ve_grave *g = graves;

		graves = g->next;
		event_free(g->ev);
		free(g);
	}
	while (dead) {
		struct ve_watch *w = dead;

		dead = w->next;
		if (w->ev)
			event_free(w->ev);
		if (w->ff)
			w->ff(w->opaque);
		free(w);
	}
}

static void on_handle(evutil_socket_t fd, short what, void *arg)
{
	struct ve_watch *w = arg;
	virEventHandleCallback cb;
	void *opaque;
	int id, events = 0;

	pthread_mutex_lock(&ve.lock);
	if (w->removed) {
		pthread_mutex_unlock(&ve.lock);
		return;
	}
	cb = w->hcb;
	opaque = w->opaque;
	id = w->id;
	if (what & EV_READ)
		events |= VIR_EVENT_HANDLE_READABLE;
	if (what & EV_WRITE)
		events |= VIR_EVENT_HANDLE_WRITABLE;
	events &= w->events;
	pthread_mutex_unlock(&ve.lock);
	if (events)
		cb(id, (int)fd, events, opaque);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ve_watch *w = arg;
	virEventTimeoutCallback cb;
	void *opaque;
	int id;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&ve.lock);
	if (w->removed || w->period < 0) {
		pthread_mutex_unlock(&ve.lock);
		return;
	}
	cb = w->tcb;
	opaque = w->opaque;
	id = w->id;
	pthread_mutex_unlock(&ve.lock);
	cb(id, opaque);
	/*
	 * libevent does not repeat a persistent timer of zero; libvirt's 0
	 * means every iteration: add it again, to run after the next poll.
	 */
	pthread_mutex_lock(&ve.lock);
	if (!w->removed && w->period == 0 && !event_pending(w->ev, EV_TIMEOUT, NULL)) {
		struct timeval zero = { 0, 0 };

		event_add(w->ev, &zero);
	}
	pthread_mutex_unlock(&ve.lock);
}

/* A libevent event for a handle's current wishes; NULL for none. */
static struct event *handle_event(struct ve_watch *w)
{
	short flags = EV_PERSIST;	/* level-triggered: no EV_ET */
	struct event *ev;

	if (w->events & VIR_EVENT_HANDLE_READABLE)
		flags |= EV_READ;
	if (w->events & VIR_EVENT_HANDLE_WRITABLE)
		flags |= EV_WRITE;
	if (!(flags & (EV_READ | EV_WRITE)))
		return NULL;
	ev = event_new(ve.base, w->fd, flags, on_handle, w);
	if (ev && event_add(ev, NULL) < 0) {
		event_free(ev);
		ev = NULL;
	}
	return ev;
}

static void arm_timer(struct ve_watch *w)
{
	struct timeval tv;

	event_del_noblock(w->ev);
	if (w->period < 0)
		return;
	tv.tv_sec = w->period / 1000;
	tv.tv_usec = (w->period % 1000) * 1000;
	/* EV_PERSIST repeats the period; a period of 0 fires every iteration */
	event_add(w->ev, &tv);
}

static int add_handle(int fd, int events, virEventHandleCallback cb,
		      void *opaque, virFreeCallback ff)
{
	struct ve_watch *w;
	int id;

	if (fd < 0 || !cb)
		return -1;
	pthread_mutex_lock(&ve.lock);
	if (!ve.base) {
		pthread_mutex_unlock(&ve.lock);
		return -1;
	}
	w = xcalloc(1, sizeof(*w));
	w->id = id = ve.next_id++;
	w->fd = fd;
	w->events = events;
	w->hcb = cb;
	w->opaque = opaque;
	w->ff = ff;
	w->ev = handle_event(w);
	if (!w->ev && (events & (VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_WRITABLE))) {
		pthread_mutex_unlock(&ve.lock);
		free(w);
		return -1;
	}
	w->next = ve.live;
	ve.live = w;
	pthread_mutex_unlock(&ve.lock);
	return id;
}

static void update_handle(int id, int events)
{
	struct ve_watch *w;

	pthread_mutex_lock(&ve.lock);
	w = find(id, false);
	if (w && w->events != events) {
		bury(w->ev);
		w->events = events;
		w->ev = handle_event(w);
	}
	pthread_mutex_unlock(&ve.lock);
}

/* Unlinks a live watch and hands it to the reaper; -1 if there is none. */
static int remove_watch(int id, bool timer)
{
	struct ve_watch **pp, *w = NULL;

	pthread_mutex_lock(&ve.lock);
	for (pp = &ve.live; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id && (*pp)->timer == timer) {
			w = *pp;
			*pp = w->next;
			break;
		}
	if (!w) {
		pthread_mutex_unlock(&ve.lock);
		return -1;
	}
	w->removed = true;
	if (w->ev)
		event_del_noblock(w->ev);
	w->next = ve.dead;
	ve.dead = w;
	wake_reaper();
	pthread_mutex_unlock(&ve.lock);
	return 0;
}

static int remove_handle(int id)
{
	return remove_watch(id, false);
}

static int add_timeout(int period, virEventTimeoutCallback cb, void *opaque,
		       virFreeCallback ff)
{
	struct ve_watch *w;
	int id;

	if (!cb)
		return -1;
	pthread_mutex_lock(&ve.lock);
	if (!ve.base) {
		pthread_mutex_unlock(&ve.lock);
		return -1;
	}
	w = xcalloc(1, sizeof(*w));
	w->timer = true;
	w->fd = -1;
	w->period = period < 0 ? -1 : period;
	w->tcb = cb;
	w->opaque = opaque;
	w->ff = ff;
	w->ev = event_new(ve.base, -1, EV_PERSIST, on_timer, w);
	if (!w->ev) {
		pthread_mutex_unlock(&ve.lock);
		free(w);
		return -1;
	}
	w->id = id = ve.next_id++;
	arm_timer(w);
	w->next = ve.live;
	ve.live = w;
	pthread_mutex_unlock(&ve.lock);
	return id;
}

static void update_timeout(int id, int period)
{
	struct ve_watch *w;

	pthread_mutex_lock(&ve.lock);
	w = find(id, true);
	if (w) {
		w->period = period < 0 ? -1 : period;
		arm_timer(w);
	}
	pthread_mutex_unlock(&ve.lock);
}

static int remove_timeout(int id)
{
	return remove_watch(id, true);
}

int virevent_register(struct event_base *base)
{
	bool first;

	pthread_mutex_lock(&ve.lock);
	if (ve.base && ve.base != base) {
		pthread_mutex_unlock(&ve.lock);
		log_warnx("libvirt events: already bound to another event loop");
		return -1;
	}
	if (!ve.base) {
		ve.reaper = event_new(base, -1, 0, reap, NULL);
		if (!ve.reaper) {
			pthread_mutex_unlock(&ve.lock);
			log_warnx("libvirt events: cannot create an event");
			return -1;
		}
		ve.base = base;
	}
	first = !ve.registered;
	ve.registered = true;
	pthread_mutex_unlock(&ve.lock);
	if (first)
		virEventRegisterImpl(add_handle, update_handle, remove_handle,
				     add_timeout, update_timeout, remove_timeout);
	return 0;
}

void virevent_unregister(void)
{
	struct ve_watch *live, *next;
	struct event *reaper;

	pthread_mutex_lock(&ve.lock);
	live = ve.live;
	ve.live = NULL;
	reaper = ve.reaper;
	ve.reaper = NULL;
	ve.base = NULL;		/* from now on, adds fail */
	pthread_mutex_unlock(&ve.lock);
	/* what libvirt removed: free callbacks run now, as the reaper would */
	reap(-1, 0, NULL);
	for (; live; live = next) {
		next = live->next;
		if (live->ev)
			event_free(live->ev);
		free(live);
	}
	if (reaper)
		event_free(reaper);
}

int virevent_count(int *handles, int *timers)
{
	int h = 0, t = 0;

	pthread_mutex_lock(&ve.lock);
	for (struct ve_watch *w = ve.live; w; w = w->next) {
		if (w->timer)
			t++;
		else
			h++;
	}
	pthread_mutex_unlock(&ve.lock);
	if (handles)
		*handles = h;
	if (timers)
		*timers = t;
	return h + t;
}
