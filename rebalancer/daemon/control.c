// SPDX-License-Identifier: MIT
/*
 * The control socket: a Unix stream socket, root only, through which
 * `vnumad status`, `place` and `migrate` talk to the running daemon. One
 * JSON object per line each way. A manual migration keeps its connection
 * open and gets a progress line every tick until its memory has moved.
 *
 * A client is given REQUEST_TIMEOUT to send its request and as long to
 * take each reply; one that goes away, at any point, is forgotten with its
 * descriptor. The listener takes at most CONTROL_MAX_CLIENTS at once
 * (listen.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "control.h"
#include "core.h"
#include "listen.h"
#include "log.h"
#include "state.h"
#include "util.h"

#define REQUEST_MAX		4096	/* bytes of a request line */
#define REQUEST_TIMEOUT		10	/* seconds to send it, and to take a reply */
#define CONTROL_MAX_CLIENTS	32

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == VN_SOCKET_PATH_MAX,
	       "VN_SOCKET_PATH_MAX in config.h is not sizeof(sun_path)");

struct client {
	struct vn_control *ctl;
	struct bufferevent *bev;
	uint64_t tag;		/* manual move followed, 0 none */
	int pending;		/* its migrations still running */
	uint64_t bytes, moved, failed;
	int error;
	bool incomplete;	/* one of them ended other than done */
	struct client *next;
};

struct vn_control {
	struct vn_core *core;
	struct event_base *base;
	struct vn_listener *lis;	/* NULL: clients only adopted */
	char *path;
	dev_t dev;			/* of the socket bound, removed at close */
	ino_t ino;
	struct client *clients;
};

static void client_free(struct client *cl)
{
	struct vn_control *ctl = cl->ctl;

	for (struct client **pp = &ctl->clients; *pp; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	bufferevent_free(cl->bev);
	free(cl);
	listener_release(ctl->lis);
}

static void send_json(struct client *cl, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));

	json_decref(o);
	if (!s)
		return;
	bufferevent_write(cl->bev, s, strlen(s));
	bufferevent_write(cl->bev, "\n", 1);
	free(s);
}

/* Closes the connection once everything written has gone out. */
static void on_flushed(struct bufferevent *bev, void *arg)
{
	(void)bev;
	client_free(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg);

/*
 * The last reply is queued: the connection closes once it is out, or when
 * the client goes away or stops reading (the event callback stays for
 * that: without it a client that closed first would be kept for ever).
 */
static void finish(struct client *cl)
{
	if (evbuffer_get_length(bufferevent_get_output(cl->bev)) == 0) {
		client_free(cl);
		return;
	}
	bufferevent_setcb(cl->bev, NULL, on_flushed, on_event, cl);
	bufferevent_disable(cl->bev, EV_READ);
}

static void reply_error(struct client *cl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_error(struct client *cl, const char *fmt, ...)
{
	json_t *o = json_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_set_new(o, "ok", json_false());
	json_object_set_new(o, "error", json_string(msg));
	send_json(cl, o);
	finish(cl);
}

static void do_place(struct client *cl, json_t *req)
{
	json_t *o;
	char why[256], nodes[200];
	uint64_t set = 0;
	json_t *jcpus = json_object_get(req, "vcpus"), *jmem = json_object_get(req, "memory");
	json_int_t ncpus = json_integer_value(jcpus);
	json_int_t mem = json_integer_value(jmem);
	int r;

	/* json_integer_value() reads anything that is not an integer as 0 */
	if (!json_is_integer(jcpus) || (jmem && !json_is_integer(jmem)) ||
	    ncpus < 1 || ncpus > 4096 || mem < 0) {
		reply_error(cl, "place: vcpus must be 1 to 4096 and memory not negative");
		return;
	}
	r = state_place(cl->ctl->core, (int)ncpus, (uint64_t)mem, &set, why, sizeof(why));
	/* libvirt's placement='auto' asks through numad -w: say what it got */
	log_info("placement asked for %lld vCPUs and %lld MiB: node%s %s (%s)",
		 (long long)ncpus, (long long)(mem / (json_int_t)MiB),
		 set & (set - 1) ? "s" : "", set ? fmt_nodemask(nodes, sizeof(nodes), set) : "none",
		 why);
	o = json_object();
	json_object_set_new(o, "ok", json_boolean(r == 0));
	json_object_set_new(o, "nodes", json_string(set ? fmt_nodemask(nodes, sizeof(nodes), set) : ""));
	json_object_set_new(o, "why", json_string(why));
	json_object_set_new(o, "source", json_string("live"));
	send_json(cl, o);
	finish(cl);
}

static void do_migrate(struct client *cl, json_t *req)
{
	struct vn_core *c = cl->ctl->core;
	const char *guest = json_string_value(json_object_get(req, "guest"));
	json_t *to = json_object_get(req, "to"), *vcpus = json_object_get(req, "vcpus");
	json_t *jmem = json_object_get(req, "memory"), *force = json_object_get(req, "force");
	json_int_t mem = json_integer_value(jmem);
	struct vn_manual man;
	uint64_t mask = 0;
	char why[256];
	json_t *o;
	size_t i;
	json_t *v;
	int r;

	if (!guest || !json_is_integer(to)) {
		reply_error(cl, "migrate: needs a guest name and a target node");
		return;
	}
	/*
	 * Every member is checked for its type and range before any is used:
	 * json_integer_value() reads a string as vCPU 0, and a cast to int
	 * made node 4294967296 node 0.
	 */
	if (json_integer_value(to) < 0 || json_integer_value(to) >= VN_MAX_NODES) {
		reply_error(cl, "migrate: node %lld out of range (0 to %d)",
			    (long long)json_integer_value(to), VN_MAX_NODES - 1);
		return;
	}
	if ((jmem && !json_is_integer(jmem)) || mem < 0) {
		reply_error(cl, "migrate: memory must be a number of bytes, not negative");
		return;
	}
	if (vcpus && !json_is_array(vcpus)) {
		reply_error(cl, "migrate: vcpus must be an array of vCPU numbers");
		return;
	}
	if (force && !json_is_boolean(force)) {
		reply_error(cl, "migrate: force must be true or false");
		return;
	}
	json_array_foreach(vcpus, i, v) {
		json_int_t x = json_integer_value(v);

		if (!json_is_integer(v)) {
			reply_error(cl, "migrate: vcpus must be an array of vCPU numbers");
			return;
		}
		if (x < 0 || x > 63) {
			reply_error(cl, "migrate: vCPU %lld out of range (0 to 63)", (long long)x);
			return;
		}
		mask |= 1ULL << x;
	}
	r = state_migrate(c, guest, (int)json_integer_value(to), (uint64_t)mem,
			  !vcpus, mask, json_is_true(force), &man, why, sizeof(why));
	if (r < 0) {
		reply_error(cl, "%s", why);
		return;
	}
	o = json_object();
	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "message", json_string(why));
	json_object_set_new(o, "vcpus", json_integer(man.vcpus));
	json_object_set_new(o, "bytes", json_integer((json_int_t)man.bytes));
	/* progress and a final reply follow: a client sees if they never come */
	json_object_set_new(o, "follows", json_boolean(man.migrations > 0));
	send_json(cl, o);
	if (!man.migrations) {
		finish(cl);
		return;
	}
	cl->tag = man.tag;
	cl->pending = man.migrations;
	cl->bytes = man.bytes;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	json_error_t err;
	const char *cmd;
	json_t *req;
	char *line;

	if (cl->tag) {
		/* following a migration: nothing more to read */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF);
	if (!line) {
		if (evbuffer_get_length(in) > REQUEST_MAX)
			reply_error(cl, "request too long");
		return;
	}
	/* the request is in: from now on only the replies are timed */
	bufferevent_set_timeouts(bev, NULL, &(struct timeval){ REQUEST_TIMEOUT, 0 });
	req = json_loads(line, 0, &err);
	free(line);
	if (!json_is_object(req)) {
		json_decref(req);
		reply_error(cl, "not a JSON object: %s", err.text);
		return;
	}
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (cmd && strcmp(cmd, "status") == 0) {
		json_t *o = state_json(cl->ctl->core);

		json_object_set_new(o, "ok", json_true());
		send_json(cl, o);
		finish(cl);
	} else if (cmd && strcmp(cmd, "place") == 0) {
		do_place(cl, req);
	} else if (cmd && strcmp(cmd, "migrate") == 0) {
		do_migrate(cl, req);
	} else {
		reply_error(cl, "unknown command '%s' (status, place, migrate)",
			    cmd ? cmd : "");
	}
	json_decref(req);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	/* a client that goes away, or is too slow, stops nothing */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		client_free(arg);
}

/* Serves one more client on fd; the fd is closed in every case. */
static void adopt(struct vn_control *ctl, evutil_socket_t fd)
{
	struct timeval tv = { REQUEST_TIMEOUT, 0 };
	struct client *cl = xcalloc(1, sizeof(*cl));

	cl->ctl = ctl;
	cl->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!cl->bev) {
		close(fd);
		free(cl);
		listener_release(ctl->lis);
		return;
	}
	bufferevent_setcb(cl->bev, on_read, NULL, on_event, cl);
	/* the request and one byte more are read: more is too long */
	bufferevent_setwatermark(cl->bev, EV_READ, 0, REQUEST_MAX + 1);
	bufferevent_set_timeouts(cl->bev, &tv, &tv);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	cl->next = ctl->clients;
	ctl->clients = cl;
}

static void on_accept(struct vn_listener *l, evutil_socket_t fd, void *arg)
{
	(void)l;
	adopt(arg, fd);
}

/* A migration ended: the client following it hears about it. */
static void on_migration(struct vn_core *c, const struct vn_migration *m, void *arg)
{
	struct vn_control *ctl = arg;

	(void)c;
	for (struct client *cl = ctl->clients; cl; cl = cl->next) {
		if (!cl->tag || cl->tag != m->tag)
			continue;
		cl->moved += m->done;
		cl->failed += m->failed;
		if (m->error && !cl->error)
			cl->error = m->error;
		if (m->state != VN_MIG_DONE)
			cl->incomplete = true;
		cl->pending--;
	}
}

void control_tick(struct vn_control *ctl)
{
	struct client *cl, *next;

	if (!ctl)
		return;
	for (cl = ctl->clients; cl; cl = next) {
		uint64_t running = 0;
		json_t *o;

		next = cl->next;
		if (!cl->tag)
			continue;
		for (struct vn_migration *m = ctl->core->migrations; m; m = m->next)
			if (m->tag == cl->tag && m->state == VN_MIG_RUNNING)
				running += m->done;
		o = json_object();
		if (cl->pending > 0) {
			json_object_set_new(o, "progress", json_integer((json_int_t)(cl->moved + running)));
			json_object_set_new(o, "bytes", json_integer((json_int_t)cl->bytes));
			send_json(cl, o);
			continue;
		}
		json_object_set_new(o, "done", json_true());
		json_object_set_new(o, "moved", json_integer((json_int_t)cl->moved));
		json_object_set_new(o, "failed", json_integer((json_int_t)cl->failed));
		json_object_set_new(o, "bytes", json_integer((json_int_t)cl->bytes));
		json_object_set_new(o, "complete", json_boolean(!cl->incomplete));
		if (cl->error)
			json_object_set_new(o, "error", json_string(strerror(cl->error)));
		send_json(cl, o);
		cl->tag = 0;
		finish(cl);
	}
}

/* True when a daemon already answers on path. */
bool control_answers(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd;
	bool ok;

	if (len >= sizeof(sa.sun_path))
		return false;	/* nothing can listen there */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	memcpy(sa.sun_path, path, len);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* The directory part of path ("/" for "/x"), in buf. */
static void dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n == 0)
		snprintf(buf, len, "%s", slash ? "/" : ".");
	else
		snprintf(buf, len, "%.*s", (int)n, path);
}

/*
 * A directory on the way to the socket must be root's (or the daemon's own
 * user's) and writable by nobody else, unless it is sticky and not the
 * socket's own: others cannot rename or remove in a sticky directory what
 * they do not own, but they can create a socket first in it.
 */
static int check_dir(const char *dir, bool parent, char *why, size_t len)
{
	struct stat st;

	if (stat(dir, &st) < 0) {
		snprintf(why, len, "its directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, len, "%s belongs to user %u: whoever owns a directory on "
			 "the way can put another socket in its place; it must be root's",
			 dir, (unsigned)st.st_uid);
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && (parent || !(st.st_mode & S_ISVTX))) {
		snprintf(why, len, "%s is writable by %s (mode %04o): another user "
			 "could put a socket of theirs there first; make it writable "
			 "by root only", dir, st.st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int control_check(const char *path, char *why, size_t len)
{
	struct sockaddr_un sa;
	char dir[PATH_MAX], real[PATH_MAX], *p;
	struct stat st;
	bool parent = true;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, len, "%zu characters long; a Unix socket path is at most %zu",
			 strlen(path), sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if (path[0] != '/') {
		snprintf(why, len, "not an absolute path");
		return -EINVAL;
	}
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		snprintf(why, len, "%s exists and is %s, not a socket; vnumad removes "
			 "only a stale socket of its own", path,
			 S_ISREG(st.st_mode) ? "a regular file" : S_ISDIR(st.st_mode) ?
			 "a directory" : S_ISLNK(st.st_mode) ? "a symbolic link" :
			 "another kind of file");
		return -EEXIST;
	}
	/* the daemon makes the last directory if it is missing (mode 0700) */
	dir_of(path, dir, sizeof(dir));
	if (access(dir, F_OK) != 0 && errno == ENOENT) {
		snprintf(real, sizeof(real), "%s", dir);
		dir_of(real, dir, sizeof(dir));
		parent = false;
	}
	if (!realpath(dir, real)) {
		snprintf(why, len, "its directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	/* every directory from there up to the root */
	for (;;) {
		int r = check_dir(real, parent, why, len);

		if (r < 0)
			return -EPERM;
		parent = false;
		if (strcmp(real, "/") == 0)
			return 0;
		p = strrchr(real, '/');
		if (p == real)
			p[1] = '\0';
		else
			*p = '\0';
	}
}

struct vn_control *control_new(struct event_base *base, struct vn_core *c)
{
	struct vn_control *ctl = xcalloc(1, sizeof(*ctl));

	ctl->core = c;
	ctl->base = base;
	c->mig_hook = on_migration;
	c->mig_hook_arg = ctl;
	return ctl;
}

void control_adopt(struct vn_control *ctl, int fd)
{
	adopt(ctl, fd);
}

struct vn_control *control_open(struct event_base *base, const char *path,
				struct vn_core *c, int *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vn_control *ctl;
	char dir[sizeof(sa.sun_path)], why[512];
	struct stat st;
	mode_t old;
	int r;

	*err = 0;
	if (strlen(path) >= sizeof(sa.sun_path) || path[0] != '/') {
		control_check(path, why, sizeof(why));
		log_warnx("control socket %s: %s", path, why);
		*err = -ENAMETOOLONG;
		return NULL;
	}
	/* made before the check, so that the check sees what will be used */
	dir_of(path, dir, sizeof(dir));
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_warn("control socket directory %s", dir);
		*err = -errno;
		return NULL;
	}
	r = control_check(path, why, sizeof(why));
	if (r < 0) {
		log_warnx("control socket %s: %s", path, why);
		*err = r;
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (control_answers(path)) {
		log_warnx("another vnumad is running: its control socket %s answers", path);
		*err = -EADDRINUSE;
		return NULL;
	}
	/* stale, since nobody answered; never anything but a socket */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("control socket %s: it exists and is not a socket; "
				  "vnumad removes only a stale socket", path);
			*err = -EEXIST;
			return NULL;
		}
		unlink(path);
	}
	ctl = control_new(base, c);
	ctl->path = xstrdup(path);
	/* root only: the socket moves guests */
	old = umask(0177);
	ctl->lis = listener_new(base, (struct sockaddr *)&sa, sizeof(sa),
				CONTROL_MAX_CLIENTS, "control socket", on_accept, ctl);
	umask(old);
	if (!ctl->lis) {
		*err = -errno;
		log_warn("control socket %s", path);
		free(ctl->path);
		ctl->path = NULL;
		control_close(ctl);
		return NULL;
	}
	if (lstat(path, &st) == 0) {
		ctl->dev = st.st_dev;
		ctl->ino = st.st_ino;
	}
	log_info("control socket %s", path);
	return ctl;
}

void control_close(struct vn_control *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl->clients);
	listener_free(ctl->lis);
	ctl->lis = NULL;
	/* our socket only: not one that took its place meanwhile */
	if (ctl->path) {
		struct stat st;

		if (lstat(ctl->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    st.st_dev == ctl->dev && st.st_ino == ctl->ino)
			unlink(ctl->path);
	}
	if (ctl->core->mig_hook_arg == ctl) {
		ctl->core->mig_hook = NULL;
		ctl->core->mig_hook_arg = NULL;
	}
	free(ctl->path);
	free(ctl);
}
