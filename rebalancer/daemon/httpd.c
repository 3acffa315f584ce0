// SPDX-License-Identifier: MIT
/*
 * The metrics endpoint's HTTP server (see httpd.h for why not evhttp). A
 * connection reads one request head, at most HTTP_HEAD_MAX bytes, answers
 * it with Connection: close, then shuts its side and drains what the client
 * still sends until the client closes (so that unread bytes do not turn the
 * close into a reset that loses the reply), a second at most. Whatever
 * happens, the connection is gone HTTP_DEADLINE seconds after accept.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "httpd.h"
#include "listen.h"
#include "log.h"
#include "util.h"

#define LINGER_SECONDS	1

struct conn {
	struct vn_httpd *h;
	struct bufferevent *bev;
	struct event *deadline;
	double start;		/* accepted, monotonic */
	bool replied;		/* the reply is queued: the rest is drained */
	LIST_ENTRY(conn) link;
};

struct vn_httpd {
	struct event_base *base;
	struct vn_listener *lis;	/* NULL: connections only adopted */
	vn_http_fn fn;
	void *arg;
	LIST_HEAD(, conn) conns;
	int nr_conns;
};

/* RFC 9110 5.6.2: the characters of a token. */
static bool tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The end of the line at p (its LF), or NULL when it has none yet. */
static const char *line_end(const char *p, const char *end)
{
	return memchr(p, '\n', (size_t)(end - p));
}

/* Length of the line without its CR LF or LF; -1 for a CR elsewhere. */
static long line_len(const char *p, const char *lf)
{
	long n = lf - p;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	return memchr(p, '\r', (size_t)n) ? -1 : n;
}

/* The path of a request target: origin-form, absolute-form or "*". */
static int target_path(const char *t, size_t n, struct http_request *r)
{
	size_t skip = 0, len;

	if (n == 1 && t[0] == '*') {
		strcpy(r->target, "*");
		return 0;
	}
	if (t[0] != '/') {
		/* absolute-form: scheme "://" authority [path] */
		const char *s = memchr(t, ':', n);

		if (!s || s == t || (size_t)(s - t) + 3 > n || s[1] != '/' || s[2] != '/' ||
		    !isalpha((unsigned char)t[0]))
			return -400;
		/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
		for (const char *c = t; c < s; c++)
			if (!isalnum((unsigned char)*c) && *c != '+' && *c != '-' && *c != '.')
				return -400;
		skip = (size_t)(s - t) + 3;
		while (skip < n && t[skip] != '/' && t[skip] != '?' && t[skip] != '#')
			skip++;
	}
	len = n - skip;
	for (size_t i = skip; i < n; i++)
		if (t[i] == '?' || t[i] == '#') {
			len = i - skip;
			break;
		}
	if (len == 0) {
		strcpy(r->target, "/");
		return 0;
	}
	if (t[skip] != '/')
		return -400;
	memcpy(r->target, t + skip, len);
	r->target[len] = '\0';
	return 0;
}

/* method SP request-target SP HTTP-version */
static int request_line(const char *p, long n, struct http_request *r)
{
	const char *sp1 = memchr(p, ' ', (size_t)n), *sp2, *v;
	size_t mlen;

	if (!sp1 || sp1 == p)
		return -400;
	mlen = (size_t)(sp1 - p);
	for (size_t i = 0; i < mlen; i++)
		if (!tchar((unsigned char)p[i]))
			return -400;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(n - (sp1 + 1 - p)));
	if (!sp2 || sp2 == sp1 + 1)
		return -400;
	for (const char *c = sp1 + 1; c < sp2; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return -400;
	v = sp2 + 1;
	if (p + n - v != 8 || memcmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) ||
	    v[6] != '.' || !isdigit((unsigned char)v[7]))
		return -400;
	if (v[5] != '1')
		return -505;
	r->minor = v[7] - '0';
	if (mlen == 3 && memcmp(p, "GET", 3) == 0)
		r->method = HTTP_GET;
	else if (mlen == 4 && memcmp(p, "HEAD", 4) == 0)
		r->method = HTTP_HEAD;
	else
		r->method = HTTP_OTHER;
	return target_path(sp1 + 1, (size_t)(sp2 - sp1 - 1), r);
}

/* field-name ":" OWS field-value OWS; the values are not needed. */
static int header_line(const char *p, long n)
{
	const char *colon = memchr(p, ':', (size_t)n);

	/* a line starting with blanks continues the previous (obsolete) */
	if (!colon || colon == p)
		return -400;
	for (const char *c = p; c < colon; c++)
		if (!tchar((unsigned char)*c))
			return -400;
	for (const char *c = colon + 1; c < p + n; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return -400;
	return 0;
}

long http_parse(const char *buf, size_t len, struct http_request *r)
{
	const char *p = buf, *end = buf + MIN(len, (size_t)HTTP_HEAD_MAX + 1), *lf;
	bool first = true;
	long n;
	int err;

	memset(r, 0, offsetof(struct http_request, target));
	r->target[0] = '\0';
	for (;;) {
		lf = line_end(p, end);
		if (!lf)
			return len > HTTP_HEAD_MAX ? -431 : 0;
		if ((size_t)(lf + 1 - buf) > HTTP_HEAD_MAX)
			return -431;
		n = line_len(p, lf);
		if (n < 0)
			return -400;
		if (first && n == 0 && p - buf < 8) {
			/* an empty line or two before the request (RFC 9112 2.2) */
			p = lf + 1;
			continue;
		}
		if (first) {
			err = request_line(p, n, r);
			first = false;
		} else if (n == 0) {
			return (long)(lf + 1 - buf);
		} else {
			err = header_line(p, n);
		}
		if (err < 0)
			return err;
		p = lf + 1;
	}
}

static void conn_free(struct conn *c)
{
	struct vn_httpd *h = c->h;

	LIST_REMOVE(c, link);
	h->nr_conns--;
	bufferevent_free(c->bev);
	event_free(c->deadline);
	free(c);
	listener_release(h->lis);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (!c->replied)
		log_debug("metrics: a client took over %d s; connection closed", HTTP_DEADLINE);
	conn_free(c);
}

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* Queues the reply; a HEAD gets the length a GET would have, no body. */
static void send_reply(struct conn *c, const struct http_reply *rep, bool head)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char date[64];
	struct tm tm;
	time_t t = time(NULL);

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&t, &tm));
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n"
			    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
			    "Connection: close\r\n", rep->status,
			    rep->reason ? rep->reason : reason_of(rep->status), date,
			    rep->type, evbuffer_get_length(rep->body));
	if (rep->allow)
		evbuffer_add_printf(out, "Allow: %s\r\n", rep->allow);
	evbuffer_add(out, "\r\n", 2);
	if (!head)
		evbuffer_add_buffer(out, rep->body);
	c->replied = true;
}

static void reply_error(struct conn *c, int status)
{
	struct http_reply rep = {
		.status = status,
		.type = "text/plain; charset=utf-8",
		.body = evbuffer_new(),
	};

	if (!rep.body) {
		conn_free(c);
		return;
	}
	if (status == 431)
		evbuffer_add_printf(rep.body, "431 request header fields too large: at most "
				    "%d bytes\n", HTTP_HEAD_MAX);
	else
		evbuffer_add_printf(rep.body, "%d %s\n", status, reason_of(status));
	send_reply(c, &rep, false);
	evbuffer_free(rep.body);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct http_request *req;
	struct http_reply rep = { 0 };
	size_t len = evbuffer_get_length(in);
	long r;

	if (c->replied || len == 0) {
		evbuffer_drain(in, len);	/* a body, or a request more: unread */
		return;
	}
	req = xmalloc(sizeof(*req));
	len = MIN(len, (size_t)HTTP_HEAD_MAX + 1);
	r = http_parse((const char *)evbuffer_pullup(in, (ev_ssize_t)len), len, req);
	if (r == 0) {
		free(req);
		return;
	}
	if (r < 0) {
		free(req);
		evbuffer_drain(in, evbuffer_get_length(in));
		reply_error(c, (int)-r);
		return;
	}
	evbuffer_drain(in, evbuffer_get_length(in));
	rep.body = evbuffer_new();
	if (!rep.body) {
		free(req);
		conn_free(c);
		return;
	}
	rep.status = 500;
	rep.type = "text/plain; charset=utf-8";
	c->h->fn(req, &rep, c->h->arg);
	send_reply(c, &rep, req->method == HTTP_HEAD);
	evbuffer_free(rep.body);
	free(req);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_free(arg);
}

/* The reply is out: shut our side, and linger a little for the client's close. */
static void on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct timeval tv = { LINGER_SECONDS, 0 };
	double left;

	if (!c->replied || evbuffer_get_length(bufferevent_get_output(bev)))
		return;
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_setcb(bev, on_read, NULL, on_event, c);
	left = c->start + HTTP_DEADLINE - now_monotonic();
	if (left < LINGER_SECONDS)
		tv = (struct timeval){ 0, left > 0 ? (suseconds_t)(left * 1e6) : 0 };
	evtimer_add(c->deadline, &tv);
}

void httpd_adopt(struct vn_httpd *h, int fd)
{
	struct timeval tv = { HTTP_DEADLINE, 0 };
	struct conn *c = xcalloc(1, sizeof(*c));

	c->h = h;
	c->start = now_monotonic();
	c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(h->base, on_deadline, c);
	if (!c->bev || !c->deadline) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->deadline)
			event_free(c->deadline);
		free(c);
		listener_release(h->lis);
		return;
	}
	LIST_INSERT_HEAD(&h->conns, c, link);
	h->nr_conns++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	/* a head and one byte more: more is too long */
	bufferevent_setwatermark(c->bev, EV_READ, 0, HTTP_HEAD_MAX + 1);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->deadline, &tv);
}

static void on_accept(struct vn_listener *l, evutil_socket_t fd, void *arg)
{
	(void)l;
	httpd_adopt(arg, fd);
}

struct vn_httpd *httpd_new_unbound(struct event_base *base, vn_http_fn fn, void *arg)
{
	struct vn_httpd *h = xcalloc(1, sizeof(*h));

	h->base = base;
	h->fn = fn;
	h->arg = arg;
	LIST_INIT(&h->conns);
	return h;
}

struct vn_httpd *httpd_new(struct event_base *base, const struct sockaddr *sa,
			   socklen_t salen, vn_http_fn fn, void *arg)
{
	struct vn_httpd *h = httpd_new_unbound(base, fn, arg);

	h->lis = listener_new(base, sa, salen, HTTP_MAX_CONNECTIONS, "metrics",
			      on_accept, h);
	if (!h->lis) {
		int err = errno;

		free(h);
		errno = err;
		return NULL;
	}
	return h;
}

int httpd_connections(const struct vn_httpd *h)
{
	return h ? h->nr_conns : 0;
}

void httpd_free(struct vn_httpd *h)
{
	if (!h)
		return;
	while (!LIST_EMPTY(&h->conns))
		conn_free(LIST_FIRST(&h->conns));
	listener_free(h->lis);
	free(h);
}
