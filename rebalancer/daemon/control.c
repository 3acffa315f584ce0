// SPDX-License-Identifier: MIT
/*
 * The control socket: a Unix stream socket, root only, through which
 * `vnumad status`, `place` and `migrate` talk to the running daemon. One
 * JSON object per line each way. A manual migration keeps its connection
 * open and gets a progress line every tick until its memory has moved.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "control.h"
#include "core.h"
#include "log.h"
#include "state.h"
#include "util.h"

#define REQUEST_MAX 4096

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
	struct evconnlistener *lis;
	char *path;
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

static void finish(struct client *cl)
{
	if (evbuffer_get_length(bufferevent_get_output(cl->bev)) == 0) {
		client_free(cl);
		return;
	}
	bufferevent_setcb(cl->bev, NULL, on_flushed, NULL, cl);
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
	json_int_t ncpus = json_integer_value(json_object_get(req, "vcpus"));
	json_int_t mem = json_integer_value(json_object_get(req, "memory"));
	int r;

	if (ncpus < 1 || ncpus > 4096 || mem < 0) {
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
	json_int_t mem = json_integer_value(json_object_get(req, "memory"));
	struct vn_manual man;
	uint64_t mask = 0;
	char why[256];
	json_t *o;
	size_t i;
	json_t *v;
	int r;

	if (!guest || !json_is_integer(to) || mem < 0) {
		reply_error(cl, "migrate: needs a guest name and a target node");
		return;
	}
	json_array_foreach(vcpus, i, v) {
		json_int_t x = json_integer_value(v);

		if (x < 0 || x > 63) {
			reply_error(cl, "migrate: vCPU %lld out of range (0 to 63)", (long long)x);
			return;
		}
		mask |= 1ULL << x;
	}
	r = state_migrate(c, guest, (int)json_integer_value(to), (uint64_t)mem,
			  !json_is_array(vcpus), mask,
			  json_is_true(json_object_get(req, "force")), &man, why, sizeof(why));
	if (r < 0) {
		reply_error(cl, "%s", why);
		return;
	}
	o = json_object();
	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "message", json_string(why));
	json_object_set_new(o, "vcpus", json_integer(man.vcpus));
	json_object_set_new(o, "bytes", json_integer((json_int_t)man.bytes));
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

	if (cl->tag)
		return;		/* following a migration: nothing more to read */
	line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF);
	if (!line) {
		if (evbuffer_get_length(in) > REQUEST_MAX)
			reply_error(cl, "request too long");
		return;
	}
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
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);	/* a client that goes away stops nothing */
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd,
		      struct sockaddr *sa, int len, void *arg)
{
	struct vn_control *ctl = arg;
	struct client *cl = xcalloc(1, sizeof(*cl));

	(void)lis;
	(void)sa;
	(void)len;
	cl->ctl = ctl;
	cl->bev = bufferevent_socket_new(evconnlistener_get_base(ctl->lis), fd,
					 BEV_OPT_CLOSE_ON_FREE);
	if (!cl->bev) {
		close(fd);
		free(cl);
		return;
	}
	bufferevent_setcb(cl->bev, on_read, NULL, on_event, cl);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	cl->next = ctl->clients;
	ctl->clients = cl;
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
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	memcpy(sa.sun_path, path, strlen(path));
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

struct vn_control *control_open(struct event_base *base, const char *path,
				struct vn_core *c, int *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vn_control *ctl;
	char dir[sizeof(sa.sun_path)];
	mode_t old;

	*err = 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_warnx("control socket path %s is too long", path);
		*err = -ENAMETOOLONG;
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (control_answers(path)) {
		log_warnx("another vnumad is running: its control socket %s answers", path);
		*err = -EADDRINUSE;
		return NULL;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (strrchr(dir, '/') && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			log_warn("control socket directory %s", dir);
			*err = -errno;
			return NULL;
		}
	}
	unlink(path);	/* stale: nobody answered */
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->core = c;
	ctl->path = xstrdup(path);
	/* root only: the socket moves guests */
	old = umask(0177);
	ctl->lis = evconnlistener_new_bind(base, on_accept, ctl,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
					   (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (!ctl->lis) {
		*err = -errno;
		log_warn("control socket %s", path);
		free(ctl->path);
		free(ctl);
		return NULL;
	}
	c->mig_hook = on_migration;
	c->mig_hook_arg = ctl;
	log_info("control socket %s", path);
	return ctl;
}

void control_close(struct vn_control *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl->clients);
	evconnlistener_free(ctl->lis);
	unlink(ctl->path);
	if (ctl->core->mig_hook_arg == ctl) {
		ctl->core->mig_hook = NULL;
		ctl->core->mig_hook_arg = NULL;
	}
	free(ctl->path);
	free(ctl);
}
