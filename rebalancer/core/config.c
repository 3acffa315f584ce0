// SPDX-License-Identifier: MIT
/*
 * The configuration file. Every key is typed and range-checked; unknown
 * sections and keys are errors naming file and line. The keys, their
 * defaults and ranges are documented in etc/vnumad.conf and vnumad.conf(5);
 * tests/config_keys.sh checks that the three agree.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "plugin.h"
#include "policies.h"
#include "util.h"

const char *const vn_backend_names[] = { "libvirt", "proc", "sim", NULL };
const char *const vn_numab_names[] = { "leave", "warn", "disable", NULL };
const char *const vn_sampling_names[] = { "auto", "pmu", "procfs", NULL };
static const char *const log_names[] = { "error", "warning", "notice", "info",
					 "debug", NULL };
static const int log_values[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
				  LOG_DEBUG };

void config_defaults(struct vn_config *c)
{
	memset(c, 0, sizeof(*c));
	c->interval = 2.0;
	c->dry_run = false;
	c->state_dir = xstrdup("/var/lib/vnumad");
	c->log_level = LOG_INFO;
	c->metrics = NULL;
	c->control = xstrdup("/run/vnumad/control.sock");
	c->backend = VN_BACKEND_LIBVIRT;
	c->uri = xstrdup("qemu:///system");
	c->scenario = NULL;
	c->restore_affinity = false;
	c->numa_balancing = VN_NUMAB_WARN;
	c->source = VN_SAMPLING_AUTO;
	c->memory_interval = 10.0;
	c->halflife = 4.0;
	c->policy = xstrdup("locality");
	c->policy_dir = xstrdup(VNUMAD_POLICYDIR);
	c->policy_seed = 1;
	c->guard = true;
	c->baseline = 10.0;
	c->settle = 4.0;
	c->judge = 10.0;
	c->tolerance = 0.03;
	c->quarantine = 600.0;
	c->quarantine_max = 86400.0;
	c->max_moves_per_hour = 6;
	c->max_moves_per_tick = 4;
	c->migrate_rate = 256.0 * MiB;
	c->hysteresis = 30.0;
	c->min_gain = 0.05;
	c->exclude = xcalloc(1, sizeof(char *));
	c->nr_exclude = 0;
}

static void free_option_values(const struct vnumad_policy *p,
			       struct vnumad_value *vals, int n);

static void free_values(struct vn_config *c)
{
	free_option_values(c->policy_desc, c->policy_values, c->nr_policy_values);
	c->policy_values = NULL;
	c->nr_policy_values = 0;
}

void config_free(struct vn_config *c)
{
	free(c->path);
	free(c->state_dir);
	free(c->metrics);
	free(c->control);
	free(c->uri);
	free(c->scenario);
	free(c->events);
	free(c->policy);
	free(c->policy_dir);
	if (c->exclude) {
		for (int i = 0; i < c->nr_exclude; i++)
			free(c->exclude[i]);
		free(c->exclude);
	}
	free_values(c);
	plugin_unload(c->policy_handle);
	memset(c, 0, sizeof(*c));
}

int config_option_value(const struct vnumad_option *o, const char *s,
			struct vnumad_value *v, const char **why)
{
	uint64_t sz;
	long l;
	bool b;

	memset(v, 0, sizeof(*v));
	switch (o->type) {
	case VNUMAD_OPT_BOOL:
		if (parse_bool(s, &b, why) < 0)
			return -1;
		v->boolean = b;
		return 0;
	case VNUMAD_OPT_INT:
		if (parse_long(s, &l, why) < 0)
			return -1;
		v->num = (double)l;
		break;
	case VNUMAD_OPT_DOUBLE:
		if (parse_double(s, &v->num, why) < 0)
			return -1;
		break;
	case VNUMAD_OPT_PERCENT:
		if (parse_percent(s, &v->num, why) < 0)
			return -1;
		break;
	case VNUMAD_OPT_DURATION:
		if (parse_duration(s, &v->num, why) < 0)
			return -1;
		break;
	case VNUMAD_OPT_SIZE:
		if (parse_size(s, &sz, why) < 0)
			return -1;
		v->num = (double)sz;
		break;
	case VNUMAD_OPT_STRING:
		v->str = s;
		return 0;
	default:
		*why = "option of unknown type";
		return -1;
	}
	if (o->min != o->max && (v->num < o->min || v->num > o->max)) {
		*why = "out of range";
		return -1;
	}
	return 0;
}

/* An option's range in the unit the operator writes. */
void config_option_range(const struct vnumad_option *o, char *buf, size_t len)
{
	char a[32], b[32];

	switch (o->type) {
	case VNUMAD_OPT_PERCENT:
		snprintf(buf, len, "%g%% to %g%%", o->min * 100, o->max * 100);
		break;
	case VNUMAD_OPT_SIZE:
		snprintf(buf, len, "%s to %s", fmt_size(a, sizeof(a), (uint64_t)o->min),
			 fmt_size(b, sizeof(b), (uint64_t)o->max));
		break;
	case VNUMAD_OPT_DURATION:
		snprintf(buf, len, "%s to %s", fmt_duration(a, sizeof(a), o->min),
			 fmt_duration(b, sizeof(b), o->max));
		break;
	default:
		snprintf(buf, len, "%g to %g", o->min, o->max);
	}
}

/* Frees the copies of STRING values made by parse_policy_options. */
static void free_option_values(const struct vnumad_policy *p,
			       struct vnumad_value *vals, int n)
{
	for (int i = 0; p && vals && i < n; i++)
		if (p->options[i].type == VNUMAD_OPT_STRING)
			free((char *)vals[i].str);
	free(vals);
}

/*
 * Parses the options of one policy from [policy.NAME]. STRING values are
 * copied: the INI file is freed before the policy starts.
 */
static int parse_policy_options(const struct vnumad_policy *p,
				struct vn_ini *ini, struct vn_errors *e,
				struct vnumad_value **out, int *nout)
{
	char sec[64], range[96];
	int n = 0, bad = 0;
	struct vnumad_value *vals;

	snprintf(sec, sizeof(sec), "policy.%s", p->name);
	for (const struct vnumad_option *o = p->options; o && o->name; o++)
		n++;
	vals = xcalloc(n + 1, sizeof(*vals));
	for (int i = 0; i < n; i++) {
		const struct vnumad_option *o = &p->options[i];
		const char *why = NULL;
		const char *s = ini ? vn_ini_get(ini, sec, o->name) : NULL;
		int r = -1;

		if (s) {
			r = config_option_value(o, s, &vals[i], &why);
			if (r < 0 && strcmp(why, "out of range") == 0) {
				config_option_range(o, range, sizeof(range));
				vn_ini_error(ini, e, sec, o->name,
					     "'%s' is out of range (%s)", s, range);
			} else if (r < 0) {
				vn_ini_error(ini, e, sec, o->name, "'%s': %s", s, why);
			}
			bad += r < 0;
		}
		/* the default; a bad built-in default is a programming error */
		if (r < 0 && config_option_value(o, o->def, &vals[i], &why) < 0) {
			errors_add(e, "policy %s: default of %s ('%s') is invalid: %s",
				   p->name, o->name, o->def, why);
			bad++;
		}
		if (o->type == VNUMAD_OPT_STRING)
			vals[i].str = xstrdup(vals[i].str ? vals[i].str : "");
	}
	*out = vals;
	*nout = n;
	return bad ? -1 : 0;
}

/* Finds the policy by name (built in, then the policy directory) or path. */
static const struct vnumad_policy *resolve_policy(struct vn_config *c,
						  struct vn_ini *ini, bool cli,
						  struct vn_errors *e)
{
	const struct vnumad_policy *p = policy_builtin(c->policy);
	char path[4096], where[512];
	int line = ini && !cli ? vn_ini_line(ini, "policy", "name") : 0;
	int before = e->count;

	if (p)
		return p;
	if (line)
		snprintf(where, sizeof(where), "%s:%d: [policy] name", c->path, line);
	else
		snprintf(where, sizeof(where), "--policy");
	if (strchr(c->policy, '/')) {
		snprintf(path, sizeof(path), "%s", c->policy);
	} else {
		snprintf(path, sizeof(path), "%s/%s.so", c->policy_dir, c->policy);
		if (access(path, F_OK) != 0) {
			errors_add(e, "%s: unknown policy '%s' (built in: %s; no %s)",
				   where, c->policy, policy_builtin_names(), path);
			return NULL;
		}
	}
	p = plugin_load(path, &c->policy_handle, e);
	/* the loader names the file; say where it was asked for */
	for (int i = before; !p && i < e->count; i++) {
		char *m;

		if (asprintf(&m, "%s: %s", where, e->msg[i]) >= 0) {
			free(e->msg[i]);
			e->msg[i] = m;
		}
	}
	return p;
}

int config_policy(struct vn_config *c, struct vn_ini *ini, bool cli,
		  struct vn_errors *e)
{
	const struct vnumad_policy *p;
	int bad = 0;

	free_values(c);
	plugin_unload(c->policy_handle);
	c->policy_handle = NULL;
	p = resolve_policy(c, ini, cli, e);
	c->policy_desc = p;
	if (!p)
		bad++;
	else if (parse_policy_options(p, ini, e, &c->policy_values,
				      &c->nr_policy_values) < 0)
		bad++;
	if (!ini)
		return bad ? -1 : 0;
	/*
	 * Sections of the other built-in policies are checked too, so that a
	 * typo is caught before the operator switches policy.
	 */
	for (int i = 0; i < vn_ini_nsections(ini); i++) {
		const char *sec = vn_ini_section(ini, i);
		const struct vnumad_policy *q;
		struct vnumad_value *vals;
		int n;

		if (strncmp(sec, "policy.", 7) != 0)
			continue;
		if (p && strcmp(sec + 7, p->name) == 0)
			continue;
		q = policy_builtin(sec + 7);
		if (!q) {
			vn_ini_ignore(ini, sec);
			vn_ini_error(ini, e, sec, NULL,
				     "no policy named '%s' (built in: %s)",
				     sec + 7, policy_builtin_names());
			bad++;
			continue;
		}
		if (parse_policy_options(q, ini, e, &vals, &n) < 0)
			bad++;
		free_option_values(q, vals, n);
	}
	return bad ? -1 : 0;
}

/* The whole schema: one call per key, in file order of etc/vnumad.conf. */
static void parse_keys(struct vn_config *c, struct vn_ini *ini,
		       struct vn_errors *e)
{
	long l;
	int i;

	vn_ini_claim(ini, "daemon");
	vn_ini_duration(ini, e, "daemon", "interval", &c->interval, 0.1, 3600);
	vn_ini_bool(ini, e, "daemon", "dry_run", &c->dry_run);
	if (vn_ini_string(ini, e, "daemon", "state_dir", &c->state_dir) > 0 &&
	    *c->state_dir != '/')
		vn_ini_error(ini, e, "daemon", "state_dir",
			     "'%s' is not an absolute path", c->state_dir);
	if (vn_ini_enum(ini, e, "daemon", "log_level", log_names, &i) > 0)
		c->log_level = log_values[i];
	if (vn_ini_string(ini, e, "daemon", "metrics", &c->metrics) > 0) {
		if (!*c->metrics) {
			free(c->metrics);	/* empty: off */
			c->metrics = NULL;
		} else if (!strrchr(c->metrics, ':')) {
			vn_ini_error(ini, e, "daemon", "metrics",
				     "'%s': expected ADDRESS:PORT, such as 127.0.0.1:9464",
				     c->metrics);
		} else {
			char host[NI_MAXHOST];
			unsigned port;
			const char *why;

			if (parse_address(c->metrics, host, sizeof(host), &port, &why) < 0)
				vn_ini_error(ini, e, "daemon", "metrics", "'%s': %s",
					     c->metrics, why);
		}
	}
	if (vn_ini_string(ini, e, "daemon", "control", &c->control) > 0 &&
	    *c->control != '/')
		vn_ini_error(ini, e, "daemon", "control",
			     "'%s' is not an absolute path", c->control);

	vn_ini_claim(ini, "backend");
	vn_ini_enum(ini, e, "backend", "type", vn_backend_names, &c->backend);
	vn_ini_string(ini, e, "backend", "uri", &c->uri);
	vn_ini_string(ini, e, "backend", "scenario", &c->scenario);
	vn_ini_bool(ini, e, "backend", "restore_affinity", &c->restore_affinity);
	vn_ini_enum(ini, e, "backend", "numa_balancing", vn_numab_names,
		    &c->numa_balancing);

	vn_ini_claim(ini, "sampling");
	vn_ini_enum(ini, e, "sampling", "source", vn_sampling_names, &c->source);
	vn_ini_duration(ini, e, "sampling", "memory_interval",
			&c->memory_interval, 0.1, 3600);
	vn_ini_string(ini, e, "sampling", "events", &c->events);
	if (c->events && !*c->events) {
		free(c->events);	/* empty: the CPU model's table */
		c->events = NULL;
	}

	vn_ini_claim(ini, "model");
	vn_ini_duration(ini, e, "model", "halflife", &c->halflife, 0, 600);

	vn_ini_claim(ini, "policy");
	vn_ini_string(ini, e, "policy", "name", &c->policy);
	vn_ini_string(ini, e, "policy", "dir", &c->policy_dir);
	if (vn_ini_long(ini, e, "policy", "seed", &l, 0, 2147483647L) > 0)
		c->policy_seed = (uint64_t)l;

	vn_ini_claim(ini, "guard");
	vn_ini_bool(ini, e, "guard", "enabled", &c->guard);
	vn_ini_duration(ini, e, "guard", "baseline", &c->baseline, 0.1, 3600);
	vn_ini_duration(ini, e, "guard", "settle", &c->settle, 0, 3600);
	vn_ini_duration(ini, e, "guard", "judge", &c->judge, 0.1, 3600);
	vn_ini_percent(ini, e, "guard", "tolerance", &c->tolerance, 0, 1);
	i = vn_ini_duration(ini, e, "guard", "quarantine", &c->quarantine, 1, 7 * 86400.0);
	i |= vn_ini_duration(ini, e, "guard", "quarantine_max", &c->quarantine_max,
			     1, 30 * 86400.0);
	/* a key that failed kept its default: comparing it would mislead */
	if (i >= 0 && c->quarantine_max < c->quarantine)
		vn_ini_error(ini, e, "guard", vn_ini_line(ini, "guard", "quarantine_max") ?
			     "quarantine_max" : "quarantine",
			     "quarantine_max must not be shorter than quarantine");
	vn_ini_long(ini, e, "guard", "max_moves_per_hour", &c->max_moves_per_hour,
		    1, 3600);

	vn_ini_claim(ini, "limits");
	vn_ini_long(ini, e, "limits", "max_moves_per_tick", &c->max_moves_per_tick,
		    0, 10000);
	vn_ini_rate(ini, e, "limits", "migrate_rate", &c->migrate_rate,
		    1.0 * MiB, 1024.0 * GiB);
	vn_ini_duration(ini, e, "limits", "hysteresis", &c->hysteresis, 0, 86400);
	vn_ini_percent(ini, e, "limits", "min_gain", &c->min_gain, 0, 10);

	vn_ini_claim(ini, "guests");
	vn_ini_list(ini, e, "guests", "exclude", &c->exclude, &c->nr_exclude);
}

/* The line number in "FILE:LINE: ..." or 0, to list errors in file order. */
static long msg_line(const char *m)
{
	const char *p = strchr(m, ':');

	return p ? strtol(p + 1, NULL, 10) : 0;
}

/* Sorts the messages from `from` on by line, keeping equal ones in order. */
static void sort_by_line(struct vn_errors *e, int from)
{
	for (int i = from + 1; i < e->count; i++) {
		char *m = e->msg[i];
		int j = i;

		while (j > from && msg_line(e->msg[j - 1]) > msg_line(m)) {
			e->msg[j] = e->msg[j - 1];
			j--;
		}
		e->msg[j] = m;
	}
}

/* Command-line settings win over the file. */
static void apply_overrides(struct vn_config *c, const struct vn_overrides *o)
{
	if (!o)
		return;
	if (o->interval > 0)
		c->interval = o->interval;
	if (o->dry_run)
		c->dry_run = true;
	if (o->backend >= 0)
		c->backend = o->backend;
	if (o->scenario) {
		free(c->scenario);
		c->scenario = xstrdup(o->scenario);
	}
	if (o->policy) {
		free(c->policy);
		c->policy = xstrdup(o->policy);
	}
	if (o->log_level >= 0)
		c->log_level = o->log_level;
}

int config_load(struct vn_config *c, const char *path,
		const struct vn_overrides *o, struct vn_errors *e)
{
	struct vn_ini *ini = NULL;
	int before = e->count;

	config_defaults(c);
	if (path) {
		ini = vn_ini_load(path, e);
		if (!ini)
			return -1;
		c->path = xstrdup(path);
		parse_keys(c, ini, e);
	}
	apply_overrides(c, o);
	config_policy(c, ini, o && o->policy, e);
	if (ini) {
		vn_ini_check_unknown(ini, e);
		vn_ini_free(ini);
	}
	sort_by_line(e, before);
	return e->count > before ? -1 : 0;
}

void config_list_keys(FILE *f)
{
	struct vn_errors e = { 0 };
	struct vn_ini *ini = vn_ini_load_text("(schema)", "", &e);
	struct vn_config c;

	if (!ini) {
		errors_print(&e, stderr);
		errors_free(&e);
		return;
	}
	config_defaults(&c);
	vn_ini_record(ini, f);
	parse_keys(&c, ini, &e);
	for (int i = 0; vn_builtin_policies[i]; i++)
		for (const struct vnumad_option *o = vn_builtin_policies[i]->options;
		     o && o->name; o++)
			fprintf(f, "policy.%s %s\n", vn_builtin_policies[i]->name, o->name);
	vn_ini_free(ini);
	config_free(&c);
	errors_free(&e);
}
