// SPDX-License-Identifier: MIT
/*
 * The metrics endpoint's HTTP server, rebalancer/daemon/httpd.c: the
 * request-head parser on every form it accepts and every error it answers
 * (each input with the exact result), and whole exchanges over a socket
 * pair: the reply's status line and headers, HEAD without a body, and a
 * client that goes away leaving no connection behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "httpd.h"
#include "testlib.h"

struct parse_case {
	const char *in;
	long want;		/* > 0: the head's length is strlen(in) */
	enum http_method method;
	const char *target;
};

static void parses(void **state)
{
	static const struct parse_case cases[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 1, HTTP_GET, "/metrics" },
		{ "HEAD / HTTP/1.0\r\n\r\n", 1, HTTP_HEAD, "/" },
		{ "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\n", 1, HTTP_OTHER, "/metrics" },
		{ "GET /metrics?x=1#f HTTP/1.1\n\n", 1, HTTP_GET, "/metrics" },
		{ "\r\nGET /a HTTP/1.1\r\n\r\n", 1, HTTP_GET, "/a" },
		{ "GET http://h:9/metrics?q HTTP/1.1\r\n\r\n", 1, HTTP_GET, "/metrics" },
		{ "GET http://h HTTP/1.1\r\n\r\n", 1, HTTP_GET, "/" },
		{ "OPTIONS * HTTP/1.1\r\n\r\n", 1, HTTP_OTHER, "*" },
		{ "GET / HTTP/1.1\r\nX-Tab:\tv\r\nX-Empty:\r\n\r\n", 1, HTTP_GET, "/" },
		/* incomplete */
		{ "", 0, 0, NULL },
		{ "GET /metrics HTTP/1.1\r\n", 0, 0, NULL },
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r", 0, 0, NULL },
		/* refused */
		{ "GET /metrics\r\n\r\n", -400, 0, NULL },
		{ "GET  /metrics HTTP/1.1\r\n\r\n", -400, 0, NULL },
		{ "G(T / HTTP/1.1\r\n\r\n", -400, 0, NULL },
		{ "GET metrics HTTP/1.1\r\n\r\n", -400, 0, NULL },
		{ "GET /a\x01 HTTP/1.1\r\n\r\n", -400, 0, NULL },
		{ "GET / HTTP/1.1\r\nNo colon\r\n\r\n", -400, 0, NULL },
		{ "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", -400, 0, NULL },
		{ "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", -400, 0, NULL },
		{ "GET / HTTP/1.1\r\nA b: c\r\n\r\n", -400, 0, NULL },
		{ "GET / HTTP/1.1\r\n: c\r\n\r\n", -400, 0, NULL },
		{ "GET / HTTP/1.12\r\n\r\n", -400, 0, NULL },
		{ "GET / http/1.1\r\n\r\n", -400, 0, NULL },
		{ "GET 1ttp://h/ HTTP/1.1\r\n\r\n", -400, 0, NULL },
		{ "GET / HTTP/2.0\r\n\r\n", -505, 0, NULL },
		{ "GET / HTTP/0.9\r\n\r\n", -505, 0, NULL },
	};
	struct http_request *r = malloc(sizeof(*r));

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *k = &cases[i];
		long got = http_parse(k->in, strlen(k->in), r);
		long want = k->want > 0 ? (long)strlen(k->in) : k->want;

		if (got != want)
			fail_msg("%zu: '%s': %ld, want %ld", i, k->in, got, want);
		if (want > 0) {
			assert_int_equal(r->method, k->method);
			assert_string_equal(r->target, k->target);
		}
	}
	free(r);
}

/* The head ends where the blank line does: a body after it is not the head's. */
static void head_length(void **state)
{
	const char *in = "GET / HTTP/1.1\r\n\r\nBODY";
	struct http_request r;

	(void)state;
	assert_int_equal(http_parse(in, strlen(in), &r), strlen(in) - 4);
}

/* Over HTTP_HEAD_MAX bytes with no end: 431, also when the end comes later. */
static void too_long(void **state)
{
	size_t n = HTTP_HEAD_MAX + 100;
	char *buf = malloc(n + 1);
	struct http_request *r = malloc(sizeof(*r));
	int off;

	(void)state;
	off = snprintf(buf, n, "GET / HTTP/1.1\r\nX: ");
	memset(buf + off, 'a', n - (size_t)off);
	buf[n] = '\0';
	assert_int_equal(http_parse(buf, HTTP_HEAD_MAX, r), 0);
	assert_int_equal(http_parse(buf, HTTP_HEAD_MAX + 1, r), -431);
	memcpy(buf + n - 4, "\r\n\r\n", 4);
	assert_int_equal(http_parse(buf, n, r), -431);
	/* a long request line too */
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', n - 5);
	assert_int_equal(http_parse(buf, n, r), -431);
	free(buf);
	free(r);
}

static void handler(const struct http_request *req, struct http_reply *rep, void *arg)
{
	int *calls = arg;

	(*calls)++;
	rep->status = strcmp(req->target, "/") == 0 ? 200 : 404;
	rep->type = "text/plain";
	evbuffer_add_printf(rep->body, "hello %s\n", req->target);
}

/* One exchange over a socket pair: what the client reads until EOF. */
static char *exchange(struct event_base *base, struct vn_httpd *h, const char *req,
		      size_t *len)
{
	static char buf[4096];
	int sv[2];
	ssize_t r;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	httpd_adopt(h, sv[0]);
	assert_int_equal(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
	*len = 0;
	for (int i = 0; i < 100; i++) {
		loop_for(base, 0.01);
		r = read(sv[1], buf + *len, sizeof(buf) - 1 - *len);
		if (r == 0)
			break;
		if (r > 0)
			*len += (size_t)r;
	}
	buf[*len] = '\0';
	close(sv[1]);
	loop_for(base, 0.01);
	return buf;
}

static void whole_exchanges(void **state)
{
	struct event_base *base = event_base_new();
	int calls = 0;
	struct vn_httpd *h = httpd_new_unbound(base, handler, &calls);
	size_t len;
	char *got;

	(void)state;
	got = exchange(base, h, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &len);
	assert_memory_equal(got, "HTTP/1.1 200 OK\r\n", 17);
	assert_non_null(strstr(got, "\r\nContent-Type: text/plain\r\n"));
	assert_non_null(strstr(got, "\r\nContent-Length: 8\r\n"));
	assert_non_null(strstr(got, "\r\nConnection: close\r\n"));
	assert_string_equal(strstr(got, "\r\n\r\n") + 4, "hello /\n");
	got = exchange(base, h, "HEAD /x HTTP/1.0\r\n\r\n", &len);
	assert_memory_equal(got, "HTTP/1.1 404 Not Found\r\n", 24);
	assert_non_null(strstr(got, "\r\nContent-Length: 9\r\n"));
	assert_string_equal(strstr(got, "\r\n\r\n") + 4, "");
	got = exchange(base, h, "GET / HTTP/3.0\r\n\r\n", &len);
	assert_memory_equal(got, "HTTP/1.1 505 HTTP Version Not Supported\r\n", 41);
	got = exchange(base, h, "BAD\r\n\r\n", &len);
	assert_memory_equal(got, "HTTP/1.1 400 Bad Request\r\n", 26);
	assert_int_equal(calls, 2);
	/* every one of them is gone, the lingering ones too */
	loop_for(base, 1.1);
	assert_int_equal(httpd_connections(h), 0);
	httpd_free(h);
	event_base_free(base);
}

/* A client that sends half a request and goes away leaves nothing open. */
static void client_gone(void **state)
{
	struct event_base *base = event_base_new();
	int calls = 0, sv[2];
	struct vn_httpd *h = httpd_new_unbound(base, handler, &calls);

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	httpd_adopt(h, sv[0]);
	assert_int_equal(write(sv[1], "GET / HT", 8), 8);
	loop_for(base, 0.05);
	assert_int_equal(httpd_connections(h), 1);
	close(sv[1]);
	loop_for(base, 0.05);
	assert_int_equal(httpd_connections(h), 0);
	assert_int_equal(calls, 0);
	httpd_free(h);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses),
		cmocka_unit_test(head_length),
		cmocka_unit_test(too_long),
		cmocka_unit_test(whole_exchanges),
		cmocka_unit_test(client_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
