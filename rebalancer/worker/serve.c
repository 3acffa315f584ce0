// SPDX-License-Identifier: MIT
/*
 * One worker: a child of the launcher that loads one plugin and answers the
 * daemon's init, tick and fini on the channel until told to stop or until
 * the channel closes. A describer: the same start, then the plugin's
 * descriptor told to the daemon (wire_desc_pack), and the end.
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
static uint64_t ticks;		/* tick calls answered, for exit's info */

/* True when the descriptor (of its size) has the 1.2 callback `op`. */
#define HAS_OP(d, op) (VNUMAD_HAS(struct vnumad_policy, d, op) && (d)->op)

/*
 * The policy's storage for one guest (1.2), kept by guest id as the daemon
 * keeps it by guest: with a copy of the guest's last view, so that its
 * guest_exit sees the guest as its last tick did, as in process.
 */
struct held {
	uint64_t id;
	void *gpriv;
	bool seen;		/* in the current view */
	struct vnumad_guest last;	/* its last view, pointing into the below */
	char *name;
	struct vnumad_vcpu *vcpus;
	uint64_t *vnode_mem;
};

static struct held *held;
static int nr_held, cap_held;

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

/* Keeps a copy of g's view in h, for its guest_exit; false without memory. */
static bool hold_view(struct held *h, const struct vnumad_guest *g)
{
	size_t nv = g->nr_vcpus > 0 ? (size_t)g->nr_vcpus : 0;
	size_t nk = g->vnode_mem ? (size_t)g->nr_vnodes * VNUMAD_MAX_NODES : 0;
	char *name = realloc(h->name, strlen(g->name) + 1);
	struct vnumad_vcpu *vc;
	uint64_t *vm;

	if (name)
		h->name = name;
	vc = name ? realloc(h->vcpus, sizeof(*vc) * (nv ? nv : 1)) : NULL;
	if (vc)
		h->vcpus = vc;
	vm = vc ? realloc(h->vnode_mem, sizeof(*vm) * (nk ? nk : 1)) : NULL;
	if (!vm)
		return false;
	h->vnode_mem = vm;
	strcpy(h->name, g->name);
	memcpy(h->vcpus, g->vcpus, sizeof(*vc) * nv);
	memcpy(h->vnode_mem, g->vnode_mem ? g->vnode_mem : vm, sizeof(*vm) * nk);
	h->last = *g;
	h->last.name = h->name;
	h->last.vcpus = h->vcpus;
	h->last.vnode_mem = g->vnode_mem ? h->vnode_mem : NULL;
	return true;
}

/* Releases the storage of held guest i (guest_exit) and forgets it. */
static void release(int i)
{
	struct held *h = &held[i];

	h->last.priv = h->gpriv;
	if (HAS_OP(desc, guest_exit))
		desc->guest_exit(priv, &h->last, h->gpriv);
	free(h->name);
	free(h->vcpus);
	free(h->vnode_mem);
	held[i] = held[--nr_held];
}

/*
 * Per-guest storage in the worker (1.2): guest_init for every guest id new
 * to this worker, before the tick that first sees it (tried again each tick
 * while it fails), guest_exit for the ids gone from the view; each guest's
 * priv filled in the worker's copy of the view. A worker started again
 * starts with nothing held: its policy's init ran again too.
 */
static void guests_sync(struct wire_unpacked *u)
{
	if (!HAS_OP(desc, guest_init))
		return;
	for (int i = 0; i < nr_held; i++)
		held[i].seen = false;
	for (int gi = 0; gi < u->view.nr_guests; gi++) {
		struct vnumad_guest *g = &u->guest[gi];
		void *gpriv = NULL;
		int i, r;

		/* guests keep their order from view to view: try the same place first */
		i = gi < nr_held && held[gi].id == g->id ? gi : 0;
		for (; i < nr_held && held[i].id != g->id; i++)
			;
		if (i == nr_held) {
			if (nr_held == cap_held) {
				int cap = cap_held ? 2 * cap_held : 16;
				struct held *n = realloc(held, sizeof(*n) * cap);

				if (!n) {
					worker_log(VNUMAD_LOG_WARNING, "guest %s: no memory to "
						   "hold its storage", g->name);
					continue;
				}
				held = n;
				cap_held = cap;
			}
			r = desc->guest_init(priv, g, &gpriv);
			if (r < 0) {
				worker_log(VNUMAD_LOG_WARNING, "guest %s: guest_init failed: %s",
					   g->name, strerror(r < -4095 ? EIO : -r));
				continue;
			}
			memset(&held[i], 0, sizeof(held[i]));
			held[i].id = g->id;
			held[i].gpriv = gpriv;
			nr_held++;
		}
		held[i].seen = true;
		g->priv = held[i].gpriv;
		if (!hold_view(&held[i], g))
			worker_log(VNUMAD_LOG_WARNING, "guest %s: no memory to keep its view",
				   g->name);
	}
	for (int i = nr_held - 1; i >= 0; i--)
		if (!held[i].seen)
			release(i);
}

/* The end: guest_exit for the guests held, exit with why, then fini. */
static void __attribute__((noreturn)) do_fini(const uint8_t *buf, size_t len)
{
	const struct wire_fini *f = (const void *)buf;
	struct vnumad_exit_info info = {
		.size = sizeof(info),
		.kind = VNUMAD_EXIT_SHUTDOWN,
		.reason = "the daemon stops",
		.ticks = ticks,
	};

	if (len > sizeof(*f) && memchr(f->reason, '\0', len - sizeof(*f))) {
		info.kind = (enum vnumad_exit_kind)f->kind;
		info.error = f->error;
		info.reason = f->reason;
	}
	if (inited) {
		while (nr_held)
			release(nr_held - 1);
		if (HAS_OP(desc, exit))
			desc->exit(priv, &info);
		if (desc->fini)
			desc->fini(priv);
	}
	wire_send(WIRE_FD_CHAN, WIRE_FINI_DONE, 0, 0, 0, NULL, 0, NULL, 0);
	_exit(0);
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
	guests_sync(u);
	out->len = 0;
	r = desc->tick(priv, &u->view, out);
	ticks++;
	wire_send(WIRE_FD_CHAN, WIRE_ANSWER, h->seq, r, out->len, NULL, 0, NULL, 0);
}

/*
 * The start of a worker and of a describer alike: dies with the launcher,
 * sandboxed for loading, loads the plugin from the daemon's descriptor.
 * Returns its descriptor, which only its symbol's existence vouches for.
 */
static const struct vnumad_policy *load_plugin(pid_t launcher)
{
	const struct vnumad_policy *p;
	char why[256], path[64];
	void *h;

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
	p = dlsym(h, VNUMAD_POLICY_SYMBOL);
	if (!p)
		give_up(ENOENT, "no '%s' symbol: not a vnumad policy", VNUMAD_POLICY_SYMBOL);
	return p;
}

void describe(const struct wire_spawn *sp, pid_t launcher)
{
	const struct vnumad_policy *p;
	char why[256];
	uint8_t *buf;
	size_t n;

	p = load_plugin(launcher);
	buf = malloc(WIRE_MSG_MAX);
	if (!buf)
		give_up(ENOMEM, "out of memory");
	if (sandbox_memory(sp->memory, why, sizeof(why)) < 0 ||
	    sandbox_filter(SANDBOX_STRICT, why, sizeof(why)) < 0)
		give_up(EPERM, "%s", why);
	/* what the plugin's descriptor says, read under the strict filter */
	n = wire_desc_pack(buf, WIRE_MSG_MAX - sizeof(struct wire_hdr), p, why, sizeof(why));
	if (!n)
		give_up(EMSGSIZE, "%s", why);
	wire_send(WIRE_FD_CHAN, WIRE_DESCRIPTION, 0, 0, 0, buf, n, NULL, 0);
	_exit(0);
}

void serve(const struct wire_spawn *sp, pid_t launcher)
{
	char why[256];
	struct wire_unpacked u = { 0 };
	struct vnumad_out out = { 0 };
	const void *map = NULL;
	size_t maplen = 0;
	uint8_t *buf;
	void *o;

	desc = load_plugin(launcher);
	if (desc->abi_major != VNUMAD_POLICY_ABI_MAJOR || !desc->tick || !desc->name)
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
			do_fini(buf, len);
		default:
			give_up(EPROTO, "unexpected message %u", m.type);
		}
	}
}
