// SPDX-License-Identifier: MIT
/*
 * Stage 6, policy (and the policy runtime): loading plugins, checking
 * descriptors, starting and stopping the policy, and calling its tick with
 * the view the publish stage built.
 * The core trusts nothing a plugin returns: the descriptor is checked at
 * load, every proposal is checked by the arbiter, and a policy whose tick
 * keeps failing is disabled so that the daemon falls back to advising.
 *
 * A plugin that runs in a worker is never mapped into the daemon: its
 * descriptor comes from a describer (worker_describe), a worker that loads
 * it in the same sandbox and tells what it declares, and is checked here as
 * the message of a process that may be hostile, then as any descriptor.
 * Only worker = no (and vnumad-sim without --worker) dlopen()s a plugin.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "config.h"
#include "log.h"
#include "plugin.h"
#include "util.h"
#include "wire.h"
#include "worker.h"

#define POLICY_BUF		1024	/* proposals one tick may return */

#define POLICY_V1_SIZE		WIRE_POLICY_V1_SIZE

void plugin_log(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	clean_text(buf, sizeof(buf), buf);
	log_at(level, "policy: %s", buf);
}

static bool valid_name(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (!islower((unsigned char)s[n]) && !isdigit((unsigned char)s[n]) &&
		    s[n] != '_' && s[n] != '-')
			return false;
	return n >= 1 && n <= 31;
}

int plugin_check(const struct vnumad_policy *p, const char *where,
		 struct vn_errors *e)
{
	static const int types[] = { VNUMAD_OPT_BOOL, VNUMAD_OPT_INT,
		VNUMAD_OPT_DOUBLE, VNUMAD_OPT_PERCENT, VNUMAD_OPT_DURATION,
		VNUMAD_OPT_SIZE, VNUMAD_OPT_STRING };
	int bad = 0;

	if (p->abi_major != VNUMAD_POLICY_ABI_MAJOR) {
		errors_add(e, "%s: policy ABI %u, this vnumad speaks ABI %d; rebuild the plugin",
			   where, p->abi_major, VNUMAD_POLICY_ABI_MAJOR);
		return -1;
	}
	if (p->size < POLICY_V1_SIZE) {
		errors_add(e, "%s: descriptor of %u bytes is smaller than ABI %d's %zu",
			   where, p->size, VNUMAD_POLICY_ABI_MAJOR, POLICY_V1_SIZE);
		return -1;
	}
	if (p->description && strnlen(p->description, WIRE_DESC_TEXT_MAX) == WIRE_DESC_TEXT_MAX) {
		errors_add(e, "%s: its description is longer than %d bytes", where,
			   WIRE_DESC_TEXT_MAX - 1);
		bad++;
	}
	if (!valid_name(p->name)) {
		errors_add(e, "%s: policy name %s%s%s is invalid (1 to 31 of a-z 0-9 _ -)",
			   where, p->name ? "'" : "", p->name ? p->name : "missing",
			   p->name ? "'" : "");
		bad++;
	}
	if (p->flags & ~(uint64_t)VNUMAD_POLICY_F_KNOWN) {
		errors_add(e, "%s: unknown flag bits 0x%llx", where,
			   (unsigned long long)(p->flags & ~(uint64_t)VNUMAD_POLICY_F_KNOWN));
		bad++;
	}
	if (!p->tick) {
		errors_add(e, "%s: the policy has no tick callback", where);
		bad++;
	}
	for (const struct vnumad_option *o = p->options; o && o->name; o++) {
		bool known = false;

		/* what a worker can describe, in process too: the same plugins pass */
		if (o - p->options == WIRE_DESC_OPTIONS_MAX) {
			errors_add(e, "%s: it declares more than %d options", where,
				   WIRE_DESC_OPTIONS_MAX);
			return -1;
		}
		for (size_t i = 0; i < ARRAY_SIZE(types); i++)
			known |= (int)o->type == types[i];
		if (!valid_name(o->name) || !known || !o->def || o->min > o->max ||
		    isnan(o->min) || isnan(o->max) ||
		    strnlen(o->def, WIRE_DESC_TEXT_MAX) == WIRE_DESC_TEXT_MAX ||
		    (o->help && strnlen(o->help, WIRE_DESC_TEXT_MAX) == WIRE_DESC_TEXT_MAX)) {
			errors_add(e, "%s: option '%s' is malformed (name, type, default or range)",
				   where, o->name ? o->name : "(null)");
			bad++;
			continue;
		}
		for (const struct vnumad_option *q = p->options; q < o; q++)
			if (strcmp(q->name, o->name) == 0) {
				errors_add(e, "%s: option '%s' is declared twice", where, o->name);
				bad++;
			}
	}
	return bad ? -1 : 0;
}

/*
 * A plugin: in process, its dlopen handle; described by its worker, the
 * descriptor rebuilt from the description, which its strings point into.
 * Either way the descriptor of the file, which its workers load.
 */
struct vn_plugin {
	void *dl;		/* NULL: described, never mapped here */
	int fd;
	void *text;		/* the WIRE_DESCRIPTION payload */
	struct vnumad_policy desc;
	struct vnumad_option opts[WIRE_DESC_OPTIONS_MAX + 1];
};

/*
 * Why what a plugin's path names could be replaced by someone else, or
 * NULL: it must be root's or the daemon's user's, and only its owner may
 * write it. A directory writable by group or others passes with the sticky
 * bit (as /tmp), where only an entry's owner may rename or remove it, and
 * every entry below is held to the same rule.
 */
static const char *unsafe(const struct stat *st, bool dir, char *buf, size_t len)
{
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(buf, len, "owned by uid %u, neither root nor the daemon's user",
			 (unsigned)st->st_uid);
		return buf;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(dir && (st->st_mode & S_ISVTX)))
		return "writable by group or others (chmod go-w)";
	return NULL;
}

/* A link where realpath() found none means the path changed under us. */
static const char *changed(int err)
{
	return err == ELOOP || err == ENOTDIR ? "changed while it was checked" :
	       strerror(err);
}

/*
 * Opens a plugin's file for loading: its real path, walked from the root
 * one descriptor at a time without following links, every directory and
 * then the file checked on the descriptor it was opened as (fstat). The
 * file loaded is the one checked: nothing is looked up by name after its
 * check. Returns the file's descriptor, or -1 after an error naming path.
 */
static int plugin_open(const char *path, struct vn_errors *e)
{
	char *real = realpath(path, NULL), *name, *next, *end, buf[96];
	const char *why;
	struct stat st;
	int dir = -1, fd = -1;

	if (!real) {
		errors_add(e, "%s: %s", path, strerror(errno));
		return -1;
	}
	dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (name = real + 1;; name = next) {
		/* the directory just opened: real up to name, "/" at first */
		int dlen = name - real > 1 ? (int)(name - real - 1) : 1;

		if (dir < 0 || fstat(dir, &st) < 0) {
			errors_add(e, "%s: %.*s: %s", path, dlen, real, changed(errno));
			goto fail;
		}
		why = unsafe(&st, true, buf, sizeof(buf));
		if (why) {
			errors_add(e, "%s: refused: directory %.*s is %s", path, dlen,
				   real, why);
			goto fail;
		}
		end = strchr(name, '/');
		if (!end)
			break;
		*end = '\0';
		fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*end = '/';
		next = end + 1;
		close(dir);
		dir = fd;
		fd = -1;
	}
	/* O_NONBLOCK: a FIFO put there must not hold the daemon */
	fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		errors_add(e, "%s: %s", path, changed(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		errors_add(e, "%s: not a regular file", path);
		goto fail;
	}
	why = unsafe(&st, false, buf, sizeof(buf));
	if (why) {
		errors_add(e, "%s: refused: %s", path, why);
		goto fail;
	}
	close(dir);
	free(real);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	if (dir >= 0)
		close(dir);
	free(real);
	return -1;
}

/*
 * dlopen()s the file fd holds through /proc/self/fd. The dynamic loader
 * takes an object already loaded under the same name for this one, and a
 * plugin that could not be unloaded keeps the name of a descriptor since
 * closed: such a name is skipped by moving fd to another number.
 */
static void *open_fd(int *fd, struct vn_errors *e, const char *path)
{
	char name[64];
	void *h;

	for (int i = 0; i < 8; i++) {
		int moved;

		snprintf(name, sizeof(name), "/proc/self/fd/%d", *fd);
		h = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
		if (!h)
			break;
		dlclose(h);
		moved = fcntl(*fd, F_DUPFD_CLOEXEC, *fd + 1);
		if (moved < 0)
			break;
		close(*fd);
		*fd = moved;
	}
	h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		errors_add(e, "%s: cannot load: %s%s", path, dlerror(),
			   access("/proc/self/fd", F_OK) ? " (is /proc mounted?)" : "");
	return h;
}

/*
 * The tick of a descriptor rebuilt from a description: the plugin's own
 * runs in its worker alone, so this one is never called (plugin_start
 * sends such a plugin to a worker); were it, it would refuse.
 */
static int described_tick(void *priv, const struct vnumad_view *v,
			  struct vnumad_out *out)
{
	(void)priv;
	(void)v;
	(void)out;
	return -EPERM;
}

/* The descriptor of the plugin fd holds, as a describer tells it; NULL on error. */
static const struct vnumad_policy *describe(struct vn_plugin *pl, const char *path,
					    const struct vn_config *cfg, struct vn_errors *e)
{
	char why[1024];
	const char *bad;
	uint32_t callbacks;
	size_t len;

	if (worker_describe(cfg, pl->fd, &pl->text, &len, why, sizeof(why)) < 0) {
		errors_add(e, "%s: %s", path, why);
		return NULL;
	}
	if (wire_desc_unpack(pl->text, len, &pl->desc, pl->opts, &callbacks, &bad) < 0) {
		errors_add(e, "%s: its worker described it in a malformed message: %s",
			   path, bad);
		return NULL;
	}
	if (callbacks & WIRE_DESC_TICK)
		pl->desc.tick = described_tick;
	return &pl->desc;
}

const struct vnumad_policy *plugin_load(const char *path, const struct vn_config *worker,
					void **handle, struct vn_errors *e)
{
	const struct vnumad_policy *p = NULL;
	struct vn_plugin *pl;

	*handle = NULL;
	pl = xcalloc(1, sizeof(*pl));
	pl->fd = plugin_open(path, e);
	if (pl->fd < 0)
		goto fail;
	if (worker) {
		p = describe(pl, path, worker, e);
	} else {
		pl->dl = open_fd(&pl->fd, e, path);
		if (!pl->dl)
			goto fail;
		p = dlsym(pl->dl, VNUMAD_POLICY_SYMBOL);
		if (!p)
			errors_add(e, "%s: no '%s' symbol: not a vnumad policy", path,
				   VNUMAD_POLICY_SYMBOL);
	}
	if (!p || plugin_check(p, path, e) < 0)
		goto fail;
	*handle = pl;
	return p;
fail:
	plugin_unload(pl);
	return NULL;
}

bool plugin_described(const void *handle)
{
	const struct vn_plugin *pl = handle;

	return pl && !pl->dl;
}

int plugin_fd(const void *handle)
{
	const struct vn_plugin *pl = handle;

	return pl ? pl->fd : -1;
}

void plugin_unload(void *handle)
{
	struct vn_plugin *pl = handle;

	if (!pl)
		return;
	if (pl->dl)
		dlclose(pl->dl);
	if (pl->fd >= 0)
		close(pl->fd);
	free(pl->text);
	free(pl);
}

static const char *const type_names[] = {
	[VNUMAD_OPT_BOOL] = "boolean", [VNUMAD_OPT_INT] = "integer",
	[VNUMAD_OPT_DOUBLE] = "number", [VNUMAD_OPT_PERCENT] = "percentage",
	[VNUMAD_OPT_DURATION] = "duration", [VNUMAD_OPT_SIZE] = "size",
	[VNUMAD_OPT_STRING] = "string",
};

/* The plugin's own words (description, defaults, help) are shown clean. */
void plugin_print_help(const struct vnumad_policy *p, FILE *f)
{
	char text[512], def[128];

	fprintf(f, "policy %s: %s\n", p->name,
		clean_text(text, sizeof(text), p->description ? p->description : ""));
	if (!p->options || !p->options[0].name) {
		fprintf(f, "\nno options\n");
		return;
	}
	fprintf(f, "\noptions, in section [policy.%s]:\n", p->name);
	for (const struct vnumad_option *o = p->options; o->name; o++) {
		fprintf(f, "  %-20s %s, default %s", o->name,
			type_names[o->type], clean_text(def, sizeof(def), o->def));
		if (o->min != o->max && o->type != VNUMAD_OPT_BOOL &&
		    o->type != VNUMAD_OPT_STRING) {
			char range[96];

			config_option_range(o, range, sizeof(range));
			fprintf(f, ", range %s", range);
		}
		fprintf(f, "\n  %-20s %s\n", "",
			clean_text(text, sizeof(text), o->help ? o->help : ""));
	}
}

/* True when the descriptor (of its size) has the 1.2 callback `op`. */
#define HAS_OP(d, op) (VNUMAD_HAS(struct vnumad_policy, d, op) && (d)->op)

/* Tells the policy why it stops, then releases it (and its guests' storage). */
static void finish(struct vn_policy_rt *rt, struct vn_host *h,
		   enum vnumad_exit_kind kind, int error, const char *reason)
{
	const struct vnumad_policy *d = rt->desc;
	struct vnumad_exit_info info = {
		.size = sizeof(info),
		.kind = kind,
		.error = error,
		.reason = reason,
		.ticks = rt->ticks,
	};

	for (int i = 0; h && i < h->nr_guests; i++)
		plugin_guest_gone(rt, h->guests[i]);
	if (HAS_OP(d, exit))
		d->exit(rt->priv, &info);
	if (d->fini)
		d->fini(rt->priv);
	rt->priv = NULL;
	rt->inited = false;
}

int plugin_start(struct vn_policy_rt *rt, const struct vn_config *cfg)
{
	struct vnumad_init_args args = {
		.size = sizeof(args),
		.values = cfg->policy_values,
		.seed = (uint64_t)cfg->policy_seed,
		.log = plugin_log,
	};
	int r = 0;

	memset(rt, 0, sizeof(*rt));
	rt->desc = cfg->policy_desc;
	rt->cap = POLICY_BUF;
	rt->buf = xcalloc(rt->cap, sizeof(*rt->buf));
	rt->seed = cfg->policy_seed;
	/* a plugin only described was never loaded here: it runs in a worker */
	if (cfg->policy_handle && (cfg->worker || plugin_described(cfg->policy_handle))) {
		r = worker_open(rt, cfg);
		if (r < 0) {
			free(rt->buf);
			rt->buf = NULL;
			return r;
		}
		rt->inited = true;
		return 0;
	}
	if (rt->desc->init)
		r = rt->desc->init(&rt->priv, &args);
	if (r < 0) {
		log_warnx("policy %s: init failed: %s", rt->desc->name, strerror(-r));
		finish(rt, NULL, VNUMAD_EXIT_INIT_FAILED, r, "its init failed");
		free(rt->buf);
		rt->buf = NULL;
		return r;
	}
	rt->inited = true;
	return 0;
}

void plugin_stop(struct vn_policy_rt *rt, struct vn_host *h,
		 enum vnumad_exit_kind why)
{
	if (rt->worker)
		worker_close(rt, why, 0, why == VNUMAD_EXIT_RELOAD ?
			     "the configuration was reloaded" : "the daemon stops");
	else if (rt->inited)
		finish(rt, h, why, 0, why == VNUMAD_EXIT_RELOAD ?
		       "the configuration was reloaded" : "the daemon stops");
	for (int i = 0; h && i < h->nr_guests; i++)
		h->guests[i]->policy_inited = false;
	worker_fallback_close(rt);
	free(rt->buf);
	memset(rt, 0, sizeof(*rt));
}

void plugin_guest_gone(struct vn_policy_rt *rt, struct vn_guest *g)
{
	if (rt->inited && g->policy_inited && HAS_OP(rt->desc, guest_exit))
		rt->desc->guest_exit(rt->priv, &g->v, g->v.priv);
	g->policy_inited = false;
	g->v.priv = NULL;
}

/* Storage for the guests the policy has not seen yet (guest_init, 1.2). */
static void guests_init(struct vn_policy_rt *rt, struct vn_host *h)
{
	if (!HAS_OP(rt->desc, guest_init))
		return;
	for (int i = 0; i < h->nr_guests; i++) {
		struct vn_guest *g = h->guests[i];
		void *gpriv = NULL;
		int r;

		if (g->policy_inited)
			continue;
		r = rt->desc->guest_init(rt->priv, &g->v, &gpriv);
		if (r < 0) {
			log_warnx("policy %s: guest %s: guest_init failed: %s",
				  rt->desc->name, g->name, strerror(r < -4095 ? EIO : -r));
			continue;
		}
		g->v.priv = gpriv;
		g->policy_inited = true;
	}
}

int stage_policy(struct vn_core *c, struct vnumad_out *out)
{
	struct vn_policy_rt *rt = &c->policy;
	int r;

	out->buf = rt->buf;
	out->cap = rt->cap;
	out->len = 0;
	if (rt->worker)
		return worker_stage(c, &c->view, out);
	/* disabled in process is for good: finish() released the policy */
	if (rt->disabled)
		return worker_fallback(c, &c->view, out);
	if (!rt->inited)
		return -1;
	guests_init(rt, &c->host);
	r = rt->desc->tick(rt->priv, &c->view, out);
	rt->ticks++;
	/*
	 * The buffer is the core's, whatever the plugin did to out: a length
	 * is judged against the core's capacity, not against a cap the plugin
	 * may have raised, and the proposals are read from the core's buffer.
	 */
	if (out->buf != rt->buf || out->cap != rt->cap || out->len < 0 ||
	    out->len > rt->cap) {
		log_warnx("policy %s: returned %d proposals in a buffer of %d%s",
			  rt->desc->name, out->len, rt->cap,
			  out->buf != rt->buf || out->cap != rt->cap ?
			  ", and changed the buffer itself" : "");
		out->buf = rt->buf;
		out->cap = rt->cap;
		r = -EPROTO;
	}
	if (r < 0) {
		char why[128];

		out->len = 0;
		rt->failures++;
		log_warnx("policy %s: tick failed: %s (%d in a row)", rt->desc->name,
			  strerror(r < -4095 ? EIO : -r), rt->failures);
		if (rt->failures >= POLICY_MAX_FAILURES) {
			rt->disabled = true;
			log_warnx("policy %s disabled after %d failed ticks; the built-in "
				  "default (%s) advises in its place, nothing is applied",
				  rt->desc->name, rt->failures, VN_DEFAULT_POLICY);
			snprintf(why, sizeof(why), "its tick failed %d times in a row: %s",
				 rt->failures, strerror(r < -4095 ? EIO : -r));
			finish(rt, &c->host, VNUMAD_EXIT_DISABLED, r, why);
		}
		return -1;
	}
	rt->failures = 0;
	return 0;
}
