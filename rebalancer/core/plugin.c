// SPDX-License-Identifier: MIT
/*
 * Stage 6, policy (and the policy runtime): loading plugins, checking
 * descriptors, starting and stopping the policy, and calling its tick with
 * the view the publish stage built.
 * The core trusts nothing a plugin returns: the descriptor is checked at
 * load, every proposal is checked by the arbiter, and a policy whose tick
 * keeps failing is disabled so that the daemon falls back to advising.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
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
#include "worker.h"

#define POLICY_BUF		1024	/* proposals one tick may return */

/* The version-1 descriptor ends with fini; older sizes are refused. */
#define POLICY_V1_SIZE \
	(offsetof(struct vnumad_policy, fini) + sizeof(void (*)(void *)))

void plugin_log(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	worker_sanitize(buf, sizeof(buf), buf);
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

		for (size_t i = 0; i < ARRAY_SIZE(types); i++)
			known |= (int)o->type == types[i];
		if (!valid_name(o->name) || !known || !o->def || o->min > o->max) {
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

/* Refuses files others could have replaced with code of their choosing. */
static int check_file(const char *path, struct vn_errors *e)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		errors_add(e, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		errors_add(e, "%s: not a regular file", path);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		errors_add(e, "%s: refused: writable by group or others (chmod go-w)", path);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		errors_add(e, "%s: refused: owned by uid %u, neither root nor the daemon's user",
			   path, (unsigned)st.st_uid);
		return -1;
	}
	return 0;
}

const struct vnumad_policy *plugin_load(const char *path, void **handle,
					struct vn_errors *e)
{
	const struct vnumad_policy *p;
	void *h;

	*handle = NULL;
	if (check_file(path, e) < 0)
		return NULL;
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		errors_add(e, "%s: cannot load: %s", path, dlerror());
		return NULL;
	}
	p = dlsym(h, VNUMAD_POLICY_SYMBOL);
	if (!p) {
		errors_add(e, "%s: no '%s' symbol: not a vnumad policy", path,
			   VNUMAD_POLICY_SYMBOL);
		dlclose(h);
		return NULL;
	}
	if (plugin_check(p, path, e) < 0) {
		dlclose(h);
		return NULL;
	}
	*handle = h;
	return p;
}

void plugin_unload(void *handle)
{
	if (handle)
		dlclose(handle);
}

static const char *const type_names[] = {
	[VNUMAD_OPT_BOOL] = "boolean", [VNUMAD_OPT_INT] = "integer",
	[VNUMAD_OPT_DOUBLE] = "number", [VNUMAD_OPT_PERCENT] = "percentage",
	[VNUMAD_OPT_DURATION] = "duration", [VNUMAD_OPT_SIZE] = "size",
	[VNUMAD_OPT_STRING] = "string",
};

void plugin_print_help(const struct vnumad_policy *p, FILE *f)
{
	fprintf(f, "policy %s: %s\n", p->name, p->description ? p->description : "");
	if (!p->options || !p->options[0].name) {
		fprintf(f, "\nno options\n");
		return;
	}
	fprintf(f, "\noptions, in section [policy.%s]:\n", p->name);
	for (const struct vnumad_option *o = p->options; o->name; o++) {
		fprintf(f, "  %-20s %s, default %s", o->name,
			type_names[o->type], o->def);
		if (o->min != o->max && o->type != VNUMAD_OPT_BOOL &&
		    o->type != VNUMAD_OPT_STRING) {
			char range[96];

			config_option_range(o, range, sizeof(range));
			fprintf(f, ", range %s", range);
		}
		fprintf(f, "\n  %-20s %s\n", "", o->help ? o->help : "");
	}
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
	if (cfg->policy_handle && cfg->worker) {
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
		if (rt->desc->fini)
			rt->desc->fini(rt->priv);
		rt->priv = NULL;
		free(rt->buf);
		rt->buf = NULL;
		return r;
	}
	rt->inited = true;
	return 0;
}

void plugin_stop(struct vn_policy_rt *rt)
{
	if (rt->worker)
		worker_close(rt);
	else if (rt->inited && rt->desc->fini)
		rt->desc->fini(rt->priv);
	worker_fallback_close(rt);
	free(rt->buf);
	memset(rt, 0, sizeof(*rt));
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
	if (!rt->inited)
		return -1;
	if (rt->disabled)
		return worker_fallback(c, &c->view, out);
	r = rt->desc->tick(rt->priv, &c->view, out);
	if (out->len < 0 || out->len > out->cap) {
		log_warnx("policy %s: returned %d proposals in a buffer of %d",
			  rt->desc->name, out->len, out->cap);
		r = -EPROTO;
	}
	if (r < 0) {
		out->len = 0;
		rt->failures++;
		log_warnx("policy %s: tick failed: %s (%d in a row)", rt->desc->name,
			  strerror(r < -4095 ? EIO : -r), rt->failures);
		if (rt->failures >= POLICY_MAX_FAILURES) {
			rt->disabled = true;
			log_warnx("policy %s disabled after %d failed ticks; the built-in "
				  "default (%s) advises in its place, nothing is applied",
				  rt->desc->name, rt->failures, VN_DEFAULT_POLICY);
		}
		return -1;
	}
	rt->failures = 0;
	return 0;
}
