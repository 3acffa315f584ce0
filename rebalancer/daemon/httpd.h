/* SPDX-License-Identifier: MIT */
/*
 * A small HTTP/1.1 server on the daemon's loop, for the metrics endpoint:
 * one GET or HEAD per connection (the reply says Connection: close), no
 * request body. Every connection has a deadline from accept to the last
 * byte of its reply, the request head a size cap, and the listener a
 * connection cap (listen.c). libevent 2.1's evhttp has none of these: its
 * timeout is one of inactivity, so a client sending a header byte every few
 * seconds holds its connection for hours, and any number of them can open.
 */
#ifndef VN_HTTPD_H
#define VN_HTTPD_H

#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct evbuffer;
struct vn_httpd;

#define HTTP_HEAD_MAX		8192	/* bytes of request line and headers */
#define HTTP_DEADLINE		10	/* seconds from accept to the reply's end */
#define HTTP_MAX_CONNECTIONS	16

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

/* A parsed request head; path points into the parser's copy. */
struct http_request {
	enum http_method method;
	char target[HTTP_HEAD_MAX];	/* the path, without query or fragment */
	int minor;			/* HTTP/1.minor */
};

/*
 * Parses the request head at buf: its length (through the blank line) once
 * it is complete and valid, 0 when more is needed, or minus the status to
 * answer (400 malformed, 431 longer than HTTP_HEAD_MAX, 505 not HTTP/1.x).
 * A bare LF ends a line as CRLF does (RFC 9112, 2.2).
 */
long http_parse(const char *buf, size_t len, struct http_request *r);

/* What a handler answers: status, its reason phrase, the body's type. */
struct http_reply {
	int status;
	const char *reason;
	const char *type;
	const char *allow;		/* an Allow header, or NULL */
	struct evbuffer *body;		/* the handler appends to it */
};

typedef void (*vn_http_fn)(const struct http_request *req, struct http_reply *rep,
			   void *arg);

/* Listens on sa; NULL with errno set when the socket cannot be made. */
struct vn_httpd *httpd_new(struct event_base *base, const struct sockaddr *sa,
			   socklen_t salen, vn_http_fn fn, void *arg);
/* Closes the socket and every connection. */
void httpd_free(struct vn_httpd *h);
/* A server without a socket, and a connection served on fd: the tests'. */
struct vn_httpd *httpd_new_unbound(struct event_base *base, vn_http_fn fn, void *arg);
void httpd_adopt(struct vn_httpd *h, int fd);
/* Connections open now. */
int httpd_connections(const struct vn_httpd *h);

#endif
