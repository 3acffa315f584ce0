// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the control protocol (vnumad status, place and migrate), as
 * the daemon serves it on its Unix socket: the input is what a client sends,
 * in two writes, to a fresh core on the built-in simulated host; a tick
 * runs in between, so that migrations report progress to their client.
 */
#include <stdbool.h>
#include <unistd.h>

#include "control.h"
#include "fuzz.h"
#include "fuzz_daemon.h"

struct tick_arg {
	struct vn_core *c;
	struct vn_control *ctl;
};

static void tick(void *arg)
{
	struct tick_arg *t = arg;

	core_tick(t->c);
	control_tick(t->ctl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct event_base *base;
	struct vn_core c;
	struct tick_arg t;
	int sv[2];

	if (!quiet) {
		log_init(true, LOG_ERR, "fuzz");
		quiet = true;
	}
	fuzz_core_open(&c, &base);
	t.c = &c;
	t.ctl = control_new(base, &c);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	control_adopt(t.ctl, sv[0]);
	fuzz_exchange(base, sv[1], data, size, size ? data[0] % (size + 1) : 0, tick, &t);
	control_close(t.ctl);
	fuzz_core_close(&c, base);
	return 0;
}
