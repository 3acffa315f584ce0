// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the metrics endpoint's HTTP handling, httpd.c with the
 * metrics handler in front of a core on the built-in simulated host: the
 * request-head parser on the whole input, then the input as a client's
 * bytes in two writes over a socket pair, the reply read and dropped.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_daemon.h"
#include "httpd.h"
#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vn_core c;
	static struct event_base *base;
	static struct vn_metrics *m;
	static struct http_request *req;
	int sv[2];

	if (!base) {
		log_init(true, LOG_ERR, "fuzz");
		/* one core for every input: the exposition is rendered once */
		fuzz_core_open(&c, &base);
		m = metrics_new_unbound(base, &c);
		req = malloc(sizeof(*req));
		if (!req)
			abort();
	}
	http_parse((const char *)data, size, req);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	metrics_adopt(m, sv[0]);
	fuzz_exchange(base, sv[1], data, size, size ? data[size - 1] % (size + 1) : 0,
		      NULL, NULL);
	return 0;
}
