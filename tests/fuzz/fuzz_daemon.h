/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fuzz targets of the daemon's sockets (control, http): the
 * core on the built-in simulated host, ticked twice so that its guests have
 * figures, and one exchange over a socket pair: the input written, the
 * replies read and dropped, the loop run until nothing more happens.
 */
#ifndef VN_FUZZ_DAEMON_H
#define VN_FUZZ_DAEMON_H

#include <errno.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "config.h"
#include "core.h"
#include "log.h"
#include "registry.h"

/* The demo host's core on base; aborts if it cannot be made. */
static inline void fuzz_core_open(struct vn_core *c, struct event_base **base)
{
	struct vn_overrides ov = { .backend = VN_BACKEND_SIM, .log_level = -1 };
	struct vn_errors e = { 0 };

	memset(c, 0, sizeof(*c));
	*base = event_base_new();
	if (!*base || config_load(&c->cfg, NULL, &ov, &e) < 0 || registry_pick(c) < 0 ||
	    core_open(c, *base, VN_OUT_NONE, stdout) < 0)
		abort();
	errors_free(&e);
	core_tick(c);
	core_tick(c);
}

static inline void fuzz_core_close(struct vn_core *c, struct event_base *base)
{
	core_close(c);
	config_free(&c->cfg);
	event_base_free(base);
}

/* Reads and drops what the server sent; false once it closed. */
static inline bool fuzz_drain(int fd)
{
	char buf[65536];
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0)
		;
	return r < 0 && (errno == EAGAIN || errno == EINTR);
}

/*
 * Feeds data to the server end adopted by the caller (the other end of the
 * pair is client), in two writes split at split, running the loop between
 * and after; tick, if set, runs between the loop's turns once.
 */
static inline void fuzz_exchange(struct event_base *base, int client, const uint8_t *data,
				 size_t size, size_t split, void (*tick)(void *), void *arg)
{
	size_t off = 0;

	for (int round = 0; round < 16; round++) {
		size_t end = round == 0 ? split : size;

		while (off < end) {
			ssize_t w = write(client, data + off, end - off);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (!fuzz_drain(client))
			break;
		if (round == 2 && tick)
			tick(arg);
	}
	close(client);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
}

#endif
