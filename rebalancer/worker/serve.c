// SPDX-License-Identifier: MIT
/*
 * One worker: a child of the launcher that loads one plugin and answers the
 * daemon's init, tick and fini on the channel until told to stop or until
 * the channel closes.
 *
 * In order: die with the launcher; no core files; the loading filter; the
 * plugin loaded from the descriptor the daemon opened (so that the file
 * checked is the file loaded, and no path needs to be readable by the
 * worker's user); the out memfd mapped; the address space capped; the
 * strict filter; then HELLO. Nothing of the plugin runs before the loading
 * filter, and only its constructors run before the strict one.
 *
 * The plugin sees the ABI of policy.h unchanged: a view rebuilt from the
 * read-only map (wire_view_unpack), proposals written straight into the
 * shared out buffer, and a log() that sends its line to the daemon.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "serve.h"
#include "wire.h"

static const struct vnumad_policy *desc;
static void *priv;
static bool inited;

/* Tells the daemon why the worker cannot go on, and exits. */
static void __attribute__((noreturn)) give_up(int err, const char *fmt, ...)
{
	char msg[WIRE_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wire_send_text(WIRE_FD_CHAN, WIRE_FAILED, err, 0, msg);
	_exit(WIRE_EXIT_SETUP);
}

/* The plugin's log(): one line to the daemon, which sanitises and logs it. */
static void __attribute__((format(printf, 2, 3))) worker_log(int level, const char *fmt, ...)
{
	char msg[WIRE_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wire_send_text(WIRE_FD_CHAN, WIRE_LOG, level, 0, msg);
}

/* init with the values the daemon parsed from [policy.NAME]. */
static void do_init(const uint8_t *buf, size_t len)
{
	const struct wire_init *wi = (const void *)buf;
	struct vnumad_value *vals;
	struct vnumad_init_args args = { .size = sizeof(args), .log = worker_log };
	int n = 0, r;

	for (const struct vnumad_option *o = desc->options; o && o->name; o++)
		n++;
	if (len < sizeof(*wi) || wi->nr_values != (uint32_t)n ||
	    len < sizeof(*wi) + sizeof(wi->v[0]) * (size_t)n)
		give_up(EPROTO, "init: %u option values for %d options", len < sizeof(*wi) ?
			0 : wi->nr_values, n);
	vals = calloc((size_t)n + 1, sizeof(*vals));
	if (!vals)
		give_up(ENOMEM, "init: out of memory");
	for (int i = 0; i < n; i++) {
		vals[i].num = wi->v[i].num;
		vals[i].boolean = wi->v[i].boolean;
		if (wi->v[i].str) {
			if (wi->v[i].str >= len || !memchr(buf + wi->v[i].str, '\0',
							    len - wi->v[i].str))
				give_up(EPROTO, "init: option %d's string lies outside", i);
			vals[i].str = (const char *)buf + wi->v[i].str;
		}
	}
	args.values = vals;
	args.seed = wi->seed;
	r = desc->init ? desc->init(&priv, &args) : 0;
	inited = true;
	/* the values were valid during the call only, as in the daemon */
	free(vals);
	wire_send(WIRE_FD_CHAN, WIRE_INIT_DONE, 0, r, 0, NULL, 0, NULL, 0);
}

/* One tick: the view from the map, proposals into the out buffer. */
static void do_tick(const struct wire_hdr *h, struct wire_unpacked *u,
		    struct vnumad_out *out, const void **map, size_t *maplen)
{
	size_t want = (size_t)h->a;
	const char *why;
	int r;

	if (want != *maplen) {
		void *m;

		if (*map)
			munmap((void *)*map, *maplen);
		*map = NULL;
		*maplen = 0;
		m = mmap(NULL, want, PROT_READ, MAP_SHARED, WIRE_FD_VIEW, 0);
		if (m == MAP_FAILED)
			give_up(errno, "tick: cannot map the view (%zu bytes): %s", want,
				strerror(errno));
		*map = m;
		*maplen = want;
	}
	if (wire_view_unpack(*map, *maplen, h->seq, u, &why) < 0)
		give_up(EPROTO, "tick %llu: %s", (unsigned long long)h->seq, why);
	out->len = 0;
	r = desc->tick(priv, &u->view, out);
	wire_send(WIRE_FD_CHAN, WIRE_ANSWER, h->seq, r, out->len, NULL, 0, NULL, 0);
}

void serve(const struct wire_spawn *sp, pid_t launcher)
{
	char why[256], path[64];
	struct wire_unpacked u = { 0 };
	struct vnumad_out out = { 0 };
	const void *map = NULL;
	size_t maplen = 0;
	uint8_t *buf;
	void *h, *o;

	/* a worker outlives neither its launcher nor, through it, the daemon */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != launcher)
		_exit(WIRE_EXIT_SETUP);
	if (sandbox_early(why, sizeof(why)) < 0 ||
	    sandbox_filter(SANDBOX_LOADING, why, sizeof(why)) < 0)
		give_up(EPERM, "%s", why);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", WIRE_FD_PLUGIN);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		give_up(ENOEXEC, "cannot load: %s", dlerror());
	close(WIRE_FD_PLUGIN);
	desc = dlsym(h, VNUMAD_POLICY_SYMBOL);
	if (!desc || desc->abi_major != VNUMAD_POLICY_ABI_MAJOR || !desc->tick || !desc->name)
		give_up(ENOEXEC, "no usable '%s' descriptor", VNUMAD_POLICY_SYMBOL);
	o = mmap(NULL, sizeof(struct vnumad_proposal) * sp->out_cap,
		 PROT_READ | PROT_WRITE, MAP_SHARED, WIRE_FD_OUT, 0);
	if (o == MAP_FAILED)
		give_up(errno, "cannot map the proposal buffer: %s", strerror(errno));
	close(WIRE_FD_OUT);
	out.buf = o;
	out.cap = (int)sp->out_cap;
	buf = malloc(WIRE_MSG_MAX);
	if (!buf)
		give_up(ENOMEM, "out of memory");
	if (sandbox_memory(sp->memory, why, sizeof(why)) < 0 ||
	    sandbox_filter(SANDBOX_STRICT, why, sizeof(why)) < 0)
		give_up(EPERM, "%s", why);
	wire_send_text(WIRE_FD_CHAN, WIRE_HELLO, getpid(), desc->size, desc->name);
	for (;;) {
		struct wire_hdr m;
		size_t len;
		int r = wire_recv(WIRE_FD_CHAN, &m, buf, WIRE_MSG_MAX, &len, NULL, NULL);

		if (r <= 0)
			_exit(0);	/* the daemon is gone, or gave up on us */
		switch (m.type) {
		case WIRE_INIT:
			do_init(buf, len);
			break;
		case WIRE_TICK:
			do_tick(&m, &u, &out, &map, &maplen);
			break;
		case WIRE_FINI:
			if (inited && desc->fini)
				desc->fini(priv);
			wire_send(WIRE_FD_CHAN, WIRE_FINI_DONE, 0, 0, 0, NULL, 0, NULL, 0);
			_exit(0);
		default:
			give_up(EPROTO, "unexpected message %u", m.type);
		}
	}
}
