// SPDX-License-Identifier: MIT
/*
 * The configuration file. Every key is declared once, in conf_keys[] below
 * (section, name, type, member, default, range, unit, help, the values that
 * are valid but suspicious), in the manner of tmux's options-table.c: the
 * defaults, the parser, --list-config-keys, `vnumad -n -v` and the warnings
 * all read that table. Every key is typed and range-checked; unknown
 * sections and keys are errors naming file and line, with the nearest known
 * name as a suggestion. The keys are documented in etc/vnumad.conf and
 * vnumad.conf(5); tests/t_config_keys.sh checks that both agree with the
 * table, defaults included.
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "plugin.h"
#include "policies.h"
#include "util.h"
#include "vnumad_paths.h"	/* generated: PREFIX and the directories */

const char vn_default_config[] = VNUMAD_SYSCONFDIR "/vnumad.conf";

const char *const vn_backend_names[] = { "libvirt", "proc", "sim", NULL };
const char *const vn_numab_names[] = { "leave", "warn", "disable", NULL };
const char *const vn_sampling_names[] = { "auto", "pmu", "procfs", NULL };
/* How a key's value is written in the file and stored in the struct. */
enum conf_type {
	CONF_BOOL,		/* bool */
	CONF_LONG,		/* long */
	CONF_DURATION,		/* double, seconds */
	CONF_PERCENT,		/* double, a fraction */
	CONF_RATE,		/* double, bytes per second */
	CONF_SIZE,		/* double, bytes */
	CONF_STRING,		/* char * */
	CONF_OPTIONAL,		/* char *, "" is NULL: unset */
	CONF_PATH,		/* char *, an absolute path */
	CONF_ENUM,		/* int: values[i] of names[i], or i */
	CONF_LIST,		/* char ** NULL-terminated; its length in off2 */
	CONF_NODE_RATES,	/* double[VNUMAD_MAX_NODES], bytes per second; the
				 * uint64_t mask of the nodes set in off2 */
};

/* One key of the configuration. */
struct conf_key {
	const char *section;
	const char *name;
	enum conf_type type;
	size_t off;		/* of its member in struct vn_config */
	size_t off2;		/* CONF_LIST: of the int that counts it;
				 * CONF_NODE_RATES: of its node mask */
	const char *def;	/* the default, as it is written in the file */
	double min, max;	/* range in the stored unit; min == max: none */
	const char *const *names;	/* CONF_ENUM */
	const int *values;	/* CONF_ENUM: stored instead of the index */
	const char *unit;	/* of the stored figure, for the listing */
	const char *help;	/* one line */
	/*
	 * Valid but likely a mistake: below warn_below or above warn_above
	 * (0: no such bound), with `warn` saying why.
	 */
	double warn_below, warn_above;
	const char *warn;
	/*
	 * a further check of a string: NULL, or why it is refused (a constant,
	 * or written into buf)
	 */
	const char *(*check)(const char *value, char *buf, size_t len);
};

static const char *const log_names[] = { "error", "warning", "notice", "info",
					 "debug", NULL };
static const int log_values[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
				  LOG_DEBUG };

/* [daemon] metrics: ADDRESS:PORT, resolved only when the daemon listens. */
static const char *check_address(const char *v, char *buf, size_t len)
{
	char host[NI_MAXHOST];
	unsigned port;
	const char *why = NULL;

	(void)buf;
	(void)len;
	return parse_address(v, host, sizeof(host), &port, &why) < 0 ? why : NULL;
}

/*
 * [daemon] control: a Unix socket's path fits in sun_path with its NUL.
 * What lies at the path (a socket or nothing, in a directory only root can
 * write) is the daemon's to check, at start and by -n: control_check().
 */
static const char *check_control(const char *v, char *buf, size_t len)
{
	size_t n = strlen(v);

	if (n < VN_SOCKET_PATH_MAX)
		return NULL;
	snprintf(buf, len, "%zu characters long; a Unix socket path is at most %d",
		 n, VN_SOCKET_PATH_MAX - 1);
	return buf;
}

/*
 * [sampling] events: the PMU sampler takes exactly one name per role, none
 * empty and none longer than its buffer; whether libpfm4 encodes them is
 * for the sampler (and -n) to say on the host itself.
 */
static const char *check_events(const char *v, char *buf, size_t len)
{
	int n = 0;

	for (const char *s = v;; n++) {
		const char *end = strchr(s, ',');
		size_t l = end ? (size_t)(end - s) : strlen(s);
		const char *b = s;

		while (l && (*b == ' ' || *b == '\t')) {
			b++;
			l--;
		}
		while (l && (b[l - 1] == ' ' || b[l - 1] == '\t'))
			l--;
		if (l == 0) {
			snprintf(buf, len, "name %d of the list is empty", n + 1);
			return buf;
		}
		if (l >= VN_EVENT_NAME_MAX) {
			snprintf(buf, len, "name %d is %zu characters long, at most %d",
				 n + 1, l, VN_EVENT_NAME_MAX - 1);
			return buf;
		}
		if (!end)
			break;
		s = end + 1;
	}
	if (n + 1 == VN_EVENTS_NR)
		return NULL;
	snprintf(buf, len, "%d name%s; the PMU sampler takes %d: cycles, "
		 "instructions, local DRAM, remote DRAM", n + 1, n ? "s" : "",
		 VN_EVENTS_NR);
	return buf;
}

/* [policy] worker_user: a user name, never root's. */
static const char *check_user(const char *v, char *buf, size_t len)
{
	(void)buf;
	(void)len;
	return strcmp(v, "root") == 0 ? "the worker must not run as root" : NULL;
}

#define KEY(sec, key, t, m, d) \
	.section = sec, .name = key, .type = t, .off = offsetof(struct vn_config, m), \
	.def = d
#define DAY 86400.0

static const struct conf_key conf_keys[] = {
	{ KEY("daemon", "interval", CONF_DURATION, interval, "2s"), .min = 0.1, .max = 3600,
	  .unit = "seconds", .help = "time between ticks (simulated time with the "
	  "simulated host)", .warn_below = 0.5,
	  .warn = "ticks this often cost a real host CPU time; 1s to 5s is usual" },
	{ KEY("daemon", "dry_run", CONF_BOOL, dry_run, "no"),
	  .help = "advise only: print recommendations, apply nothing" },
	{ KEY("daemon", "remind", CONF_DURATION, remind, "30s"), .min = 0, .max = 86400,
	  .unit = "seconds", .help = "advisory mode: how often recommendations that "
	  "have not changed are recalled (\"still recommended: N\"); 0: never" },
	{ KEY("daemon", "state_dir", CONF_PATH, state_dir, "/var/lib/vnumad"),
	  .help = "the journal of moves and verdicts" },
	{ KEY("daemon", "log_level", CONF_ENUM, log_level, "info"), .names = log_names,
	  .values = log_values, .help = "least important message logged" },
	{ KEY("daemon", "metrics", CONF_OPTIONAL, metrics, ""), .check = check_address,
	  .help = "ADDRESS:PORT of the Prometheus endpoint; empty: none" },
	{ KEY("daemon", "control", CONF_PATH, control, VN_DEFAULT_CONTROL),
	  .check = check_control, .help = "the control socket of vnumad status, place and migrate" },

	{ KEY("backend", "type", CONF_ENUM, backend, "libvirt"), .names = vn_backend_names,
	  .help = "where guests are found: libvirt, proc or sim" },
	{ KEY("backend", "uri", CONF_STRING, uri, "qemu:///system"),
	  .help = "libvirt connection URI" },
	{ KEY("backend", "scenario", CONF_OPTIONAL, scenario, ""),
	  .help = "scenario of the simulated host; empty: the built-in demo" },
	{ KEY("backend", "restore_affinity", CONF_BOOL, restore_affinity, "no"),
	  .help = "give back the affinities vnumad changed when it stops" },
	{ KEY("backend", "numa_balancing", CONF_ENUM, numa_balancing, "warn"),
	  .names = vn_numab_names,
	  .help = "the kernel's automatic NUMA balancing: leave, warn or disable" },

	{ KEY("host", "bandwidth", CONF_NODE_RATES, node_bw, ""),
	  .off2 = offsetof(struct vn_config, node_bw_set), .min = 1e6, .max = 1e14,
	  .unit = "bytes/s", .help = "memory bandwidth per node (RATE, or NODE:RATE "
	  "items); wins over ACPI HMAT; empty: HMAT's, or unknown" },

	{ KEY("sampling", "source", CONF_ENUM, source, "auto"), .names = vn_sampling_names,
	  .help = "counter source: auto, pmu or procfs" },
	{ KEY("sampling", "memory_interval", CONF_DURATION, memory_interval, "10s"),
	  .min = 0.1, .max = 3600, .unit = "seconds",
	  .help = "time between reads of each guest's memory per node" },
	{ KEY("sampling", "memory_budget", CONF_DURATION, memory_budget, "20ms"),
	  .min = 0, .max = 10, .unit = "seconds",
	  .help = "CPU time per tick the memory reads may take, on average; 0: no limit" },
	{ KEY("sampling", "events", CONF_OPTIONAL, events, ""), .check = check_events,
	  .help = "libpfm4 event names instead of the CPU model's table; empty: the table" },

	{ KEY("model", "halflife", CONF_DURATION, halflife, "4s"), .min = 0, .max = 600,
	  .unit = "seconds", .help = "half-life of the smoothed vCPU figures",
	  .warn_above = 120, .warn = "the figures then take minutes to follow a change" },

	{ KEY("policy", "name", CONF_STRING, policy, VN_DEFAULT_POLICY),
	  .help = "a built-in policy, a plugin in dir, or a plugin's path" },
	{ KEY("policy", "dir", CONF_STRING, policy_dir, VNUMAD_POLICYDIR),
	  .help = "where plugins named without a path are found" },
	{ KEY("policy", "seed", CONF_LONG, policy_seed, "1"), .min = 0, .max = 2147483647,
	  .help = "seed of policies that draw random numbers" },
	{ KEY("policy", "worker", CONF_BOOL, worker, "yes"),
	  .help = "run a plugin in a sandboxed worker process; no: inside vnumad, "
	  "to debug it" },
	{ KEY("policy", "deadline", CONF_PERCENT, worker_deadline, "25%"), .min = 0.01,
	  .max = 0.9, .unit = "fraction",
	  .help = "share of the interval a plugin's worker may take per tick (at most 5s)" },
	{ KEY("policy", "worker_user", CONF_STRING, worker_user, "nobody"),
	  .check = check_user, .help = "the user a plugin's worker runs as when vnumad is root" },
	{ KEY("policy", "worker_memory", CONF_SIZE, worker_memory, "256MiB"),
	  .min = 16.0 * MiB, .max = 64.0 * GiB, .unit = "bytes",
	  .help = "address space a plugin's worker may map beyond the plugin" },

	{ KEY("guard", "enabled", CONF_BOOL, guard, "yes"),
	  .help = "judge every move and undo the losers" },
	{ KEY("guard", "baseline", CONF_DURATION, baseline, "10s"), .min = 0.1, .max = 3600,
	  .unit = "seconds", .help = "window before a move that it is judged against" },
	{ KEY("guard", "settle", CONF_DURATION, settle, "4s"), .min = 0, .max = 3600,
	  .unit = "seconds", .help = "wait after a move (after its memory has moved)" },
	{ KEY("guard", "judge", CONF_DURATION, judge, "10s"), .min = 0.1, .max = 3600,
	  .unit = "seconds", .help = "window after the settle time that is judged" },
	{ KEY("guard", "tolerance", CONF_PERCENT, tolerance, "3%"), .min = 0, .max = 1,
	  .unit = "fraction", .help = "normalised loss that makes a move a loser",
	  .warn_above = 0.5,
	  .warn = "the guard then keeps moves that cost a guest up to that much" },
	{ KEY("guard", "quarantine", CONF_DURATION, quarantine, "10min"), .min = 1,
	  .max = 7 * DAY, .unit = "seconds",
	  .help = "first quarantine of a (guest, target) after a revert" },
	{ KEY("guard", "quarantine_max", CONF_DURATION, quarantine_max, "1d"), .min = 1,
	  .max = 30 * DAY, .unit = "seconds",
	  .help = "longest quarantine (it doubles at each strike)" },
	{ KEY("guard", "max_moves_per_hour", CONF_LONG, max_moves_per_hour, "6"),
	  .min = 1, .max = 3600, .help = "moves of one guest in any hour" },

	{ KEY("limits", "max_moves_per_tick", CONF_LONG, max_moves_per_tick, "4"),
	  .min = 0, .max = 10000, .help = "moves applied in one tick" },
	{ KEY("limits", "migrate_rate", CONF_RATE, migrate_rate, "256MiB/s"),
	  .min = 1.0 * MiB, .max = 1024.0 * GiB, .unit = "bytes/s",
	  .help = "memory migration rate, all guests together" },
	{ KEY("limits", "migrate_nice", CONF_LONG, migrate_nice, "-10"), .min = -20,
	  .max = 19, .help = "nice value of the thread that copies migrated memory "
	  "(on the target node's CPUs)" },
	{ KEY("limits", "hysteresis", CONF_DURATION, hysteresis, "30s"), .min = 0,
	  .max = DAY, .unit = "seconds", .help = "least time between two moves of one vCPU" },
	{ KEY("limits", "min_gain", CONF_PERCENT, min_gain, "5%"), .min = 0, .max = 10,
	  .unit = "fraction", .help = "expected gain below which a proposal is dropped",
	  .warn_above = 1, .warn = "a move must then promise to more than double its "
	  "guest (5% is written '5%' or '0.05')" },

	{ KEY("guests", "exclude", CONF_LIST, exclude, ""),
	  .off2 = offsetof(struct vn_config, nr_exclude),
	  .help = "guest name patterns vnumad leaves alone" },
	{ KEY("guests", "users", CONF_LIST, users, "libvirt-qemu, qemu"),
	  .off2 = offsetof(struct vn_config, nr_users),
	  .help = "users (names or uids) whose VMM processes the proc backend takes "
	  "for guests, besides root and vnumad's own user" },
};

#undef KEY
#undef DAY

_Static_assert(ARRAY_SIZE(conf_keys) <= VN_CONF_MAX_KEYS,
	       "raise VN_CONF_MAX_KEYS in config.h");

static void *member(struct vn_config *c, const struct conf_key *k)
{
	return (char *)c + k->off;
}

static const void *cmember(const struct vn_config *c, const struct conf_key *k)
{
	return (const char *)c + k->off;
}

/* The value of a numeric key as a double, in its stored unit. */
static double number(const struct vn_config *c, const struct conf_key *k)
{
	switch (k->type) {
	case CONF_LONG:
		return (double)*(const long *)cmember(c, k);
	case CONF_DURATION:
	case CONF_PERCENT:
	case CONF_RATE:
	case CONF_SIZE:
		return *(const double *)cmember(c, k);
	default:
		return 0;
	}
}

/* The key's range in the unit the operator writes: "0% to 100%". */
static void range_text(const struct conf_key *k, char *buf, size_t len)
{
	char a[32], b[32];

	switch (k->type) {
	case CONF_PERCENT:
		snprintf(buf, len, "%g%% to %g%%", k->min * 100, k->max * 100);
		break;
	case CONF_DURATION:
		snprintf(buf, len, "%s to %s", fmt_duration(a, sizeof(a), k->min),
			 fmt_duration(b, sizeof(b), k->max));
		break;
	case CONF_RATE:
	case CONF_NODE_RATES:
		snprintf(buf, len, "%s/s to %s/s", fmt_size(a, sizeof(a), (uint64_t)k->min),
			 fmt_size(b, sizeof(b), (uint64_t)k->max));
		break;
	case CONF_SIZE:
		snprintf(buf, len, "%s to %s", fmt_size(a, sizeof(a), (uint64_t)k->min),
			 fmt_size(b, sizeof(b), (uint64_t)k->max));
		break;
	default:
		snprintf(buf, len, "%.0f to %.0f", k->min, k->max);
	}
}

/*
 * [host] bandwidth: "RATE" for every node, or comma-separated "NODE:RATE"
 * items, each in k's range. Stored only when every item is good; 0, or -1
 * with the first bad item and why.
 */
static int node_rates_set(struct vn_config *c, const struct conf_key *k,
			  const char *v, char *why, size_t len)
{
	double *bw = member(c, k), set[VNUMAD_MAX_NODES];
	uint64_t mask = 0;
	int n, r = 0;
	char **items = split_list_dup(v, &n);

	for (int i = 0; i < n && r == 0; i++) {
		const char *rate = items[i], *colon = strchr(items[i], ':'), *w;
		long node = -1;
		double x;

		if (colon) {
			char *end;

			node = strtol(items[i], &end, 10);
			if (end != colon || end == items[i] || node < 0 ||
			    node >= VNUMAD_MAX_NODES) {
				snprintf(why, len, "'%s': the node before ':' must be 0 "
					 "to %d", items[i], VNUMAD_MAX_NODES - 1);
				r = -1;
				break;
			}
			rate = colon + 1;
		}
		if (parse_rate(rate, &x, &w) < 0) {
			snprintf(why, len, "'%s': %s", items[i], w);
			r = -1;
		} else if (x < k->min || x > k->max) {
			char rg[96];

			range_text(k, rg, sizeof(rg));
			snprintf(why, len, "'%s' is out of range (%s)", items[i], rg);
			r = -1;
		}
		for (int m = 0; r == 0 && m < VNUMAD_MAX_NODES; m++)
			if (node < 0 || m == node) {
				set[m] = x;
				mask |= 1ULL << m;
			}
	}
	strv_free(items);
	if (r < 0)
		return -1;
	for (int m = 0; m < VNUMAD_MAX_NODES; m++)
		bw[m] = mask >> m & 1 ? set[m] : 0;
	*(uint64_t *)((char *)c + k->off2) = mask;
	return 0;
}

/*
 * Parses one value of key k into *c: 0, or -1 with the reason in why
 * (naming the value, as the messages do).
 */
static int conf_set(struct vn_config *c, const struct conf_key *k, const char *v,
		    char *why, size_t len)
{
	const char *w = NULL;
	char cbuf[256];
	void *p = member(c, k);
	double x = 0;
	long l;
	bool b;

	switch (k->type) {
	case CONF_BOOL:
		if (parse_bool(v, &b, &w) < 0)
			goto bad;
		*(bool *)p = b;
		return 0;
	case CONF_LONG:
		if (parse_long(v, &l, &w) < 0)
			goto bad;
		x = (double)l;
		break;
	case CONF_DURATION:
		if (parse_duration(v, &x, &w) < 0)
			goto bad;
		break;
	case CONF_PERCENT:
		if (parse_percent(v, &x, &w) < 0)
			goto bad;
		break;
	case CONF_RATE:
		if (parse_rate(v, &x, &w) < 0)
			goto bad;
		break;
	case CONF_SIZE: {
		uint64_t sz;

		if (parse_size(v, &sz, &w) < 0)
			goto bad;
		x = (double)sz;
		break;
	}
	case CONF_PATH:
		if (*v != '/') {
			snprintf(why, len, "'%s' is not an absolute path", v);
			return -1;
		}
		/* fall through */
	case CONF_STRING:
	case CONF_OPTIONAL:
		if (k->check && *v && (w = k->check(v, cbuf, sizeof(cbuf))))
			goto bad;
		free(*(char **)p);
		*(char **)p = k->type == CONF_OPTIONAL && !*v ? NULL : xstrdup(v);
		return 0;
	case CONF_ENUM: {
		size_t off = 0;
		char list[256] = "";

		for (int i = 0; k->names[i]; i++) {
			if (strcasecmp(v, k->names[i]) == 0) {
				*(int *)p = k->values ? k->values[i] : i;
				return 0;
			}
			off += snprintf(list + off, sizeof(list) - off, "%s%s",
					i ? ", " : "", k->names[i]);
			if (off >= sizeof(list))
				off = sizeof(list) - 1;
		}
		snprintf(why, len, "'%s': expected one of %s", v, list);
		return -1;
	}
	case CONF_LIST: {
		int n;

		strv_free(*(char ***)p);
		*(char ***)p = split_list_dup(v, &n);
		*(int *)((char *)c + k->off2) = n;
		return 0;
	}
	case CONF_NODE_RATES:
		return node_rates_set(c, k, v, why, len);
	}
	if (k->min != k->max && (x < k->min || x > k->max)) {
		char r[96];

		range_text(k, r, sizeof(r));
		snprintf(why, len, "'%s' is out of range (%s)", v, r);
		return -1;
	}
	if (k->type == CONF_LONG)
		*(long *)p = l;
	else
		*(double *)p = x;
	return 0;
bad:
	snprintf(why, len, "'%s': %s", v, w);
	return -1;
}

void config_defaults(struct vn_config *c)
{
	char why[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++)
		if (conf_set(c, &conf_keys[i], conf_keys[i].def, why, sizeof(why)) < 0)
			fatalx("built-in default of [%s] %s: %s", conf_keys[i].section,
			       conf_keys[i].name, why);
	if (!c->exclude)
		c->exclude = xcalloc(1, sizeof(char *));
	if (!c->users)
		c->users = xcalloc(1, sizeof(char *));
}

static void free_option_values(const struct vnumad_policy *p,
			       struct vnumad_value *vals, int n);

static void free_values(struct vn_config *c)
{
	free_option_values(c->policy_desc, c->policy_values, c->nr_policy_values);
	c->policy_values = NULL;
	c->nr_policy_values = 0;
	free(c->opt_line);
	c->opt_line = NULL;
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
	free(c->policy_path);
	free(c->worker_user);
	strv_free(c->exclude);
	strv_free(c->users);
	errors_free(&c->warnings);
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
				struct vnumad_value **out, int *nout, int **lines)
{
	char sec[64], range[96];
	int n = 0, bad = 0;
	struct vnumad_value *vals;

	snprintf(sec, sizeof(sec), "policy.%s", p->name);
	for (const struct vnumad_option *o = p->options; o && o->name; o++)
		n++;
	vals = xcalloc(n + 1, sizeof(*vals));
	if (lines)
		*lines = xcalloc(n + 1, sizeof(**lines));
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
			if (lines && r == 0)
				(*lines)[i] = vn_ini_line(ini, sec, o->name);
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
	/* a plugin of a worker is described by one, never mapped here */
	p = plugin_load(path, c->worker ? c : NULL, &c->policy_handle, e);
	if (p)
		c->policy_path = xstrdup(path);
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
	free(c->policy_path);
	c->policy_path = NULL;
	p = resolve_policy(c, ini, cli, e);
	c->policy_desc = p;
	if (!p)
		bad++;
	else if (parse_policy_options(p, ini, e, &c->policy_values,
				      &c->nr_policy_values, &c->opt_line) < 0)
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
		if (parse_policy_options(q, ini, e, &vals, &n, NULL) < 0)
			bad++;
		free_option_values(q, vals, n);
	}
	return bad ? -1 : 0;
}

/* Warns of a valid value that is likely a mistake, naming file and line. */
static void suspicious(struct vn_config *c, struct vn_ini *ini, const struct conf_key *k,
		       const char *v)
{
	double x = number(c, k);

	if (!k->warn || !((k->warn_below > 0 && x < k->warn_below) ||
			  (k->warn_above > 0 && x > k->warn_above)))
		return;
	if (k->type == CONF_PERCENT)
		errors_add(&c->warnings, "%s:%d: [%s] %s: '%s' is %g%%: %s", c->path,
			   vn_ini_line(ini, k->section, k->name), k->section, k->name, v,
			   x * 100, k->warn);
	else
		errors_add(&c->warnings, "%s:%d: [%s] %s: '%s': %s", c->path,
			   vn_ini_line(ini, k->section, k->name), k->section, k->name, v,
			   k->warn);
}

/* Every key of the table from the file, in the table's order. */
static void parse_keys(struct vn_config *c, struct vn_ini *ini, struct vn_errors *e)
{
	char why[512];
	bool bad_quarantine = false;

	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++) {
		const struct conf_key *k = &conf_keys[i];
		const char *v = vn_ini_get(ini, k->section, k->name);

		vn_ini_claim(ini, k->section);
		if (!v)
			continue;
		if (conf_set(c, k, v, why, sizeof(why)) < 0) {
			vn_ini_error(ini, e, k->section, k->name, "%s", why);
			bad_quarantine |= strncmp(k->name, "quarantine", 10) == 0;
			continue;
		}
		c->key_line[i] = vn_ini_line(ini, k->section, k->name);
		suspicious(c, ini, k, v);
	}
	/* a key that failed kept its default: comparing it would mislead */
	if (!bad_quarantine && c->quarantine_max < c->quarantine)
		vn_ini_error(ini, e, "guard", vn_ini_line(ini, "guard", "quarantine_max") ?
			     "quarantine_max" : "quarantine",
			     "quarantine_max must not be shorter than quarantine");
}

/* The line number in "FILE:LINE: ..." or 0, to list errors in file order. */
static long msg_line(const char *m)
{
	const char *p = strchr(m, ':');

	return p ? strtol(p + 1, NULL, 10) : 0;
}

struct by_line {
	long line;
	int pos;
	char *msg;
};

static int cmp_line(const void *a, const void *b)
{
	const struct by_line *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Sorts the messages from `from` on by line, keeping equal ones in order. */
static void sort_by_line(struct vn_errors *e, int from)
{
	int n = e->count - from;
	struct by_line *v;

	if (n < 2)
		return;
	v = xcalloc(n, sizeof(*v));
	for (int i = 0; i < n; i++)
		v[i] = (struct by_line){ msg_line(e->msg[from + i]), i, e->msg[from + i] };
	qsort(v, n, sizeof(*v), cmp_line);
	for (int i = 0; i < n; i++)
		e->msg[from + i] = v[i].msg;
	free(v);
}

/* The key came from the command line: -1 in its line. */
static void mark_cli(struct vn_config *c, const char *sec, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++)
		if (strcmp(conf_keys[i].section, sec) == 0 &&
		    strcmp(conf_keys[i].name, key) == 0)
			c->key_line[i] = -1;
}

/* Command-line settings win over the file. */
static void apply_overrides(struct vn_config *c, const struct vn_overrides *o)
{
	if (!o)
		return;
	if (o->interval > 0) {
		c->interval = o->interval;
		mark_cli(c, "daemon", "interval");
	}
	if (o->dry_run) {
		c->dry_run = true;
		mark_cli(c, "daemon", "dry_run");
	}
	if (o->backend >= 0) {
		c->backend = o->backend;
		mark_cli(c, "backend", "type");
	}
	if (o->scenario) {
		free(c->scenario);
		c->scenario = xstrdup(o->scenario);
		mark_cli(c, "backend", "scenario");
	}
	if (o->policy) {
		free(c->policy);
		c->policy = xstrdup(o->policy);
		mark_cli(c, "policy", "name");
	}
	if (o->log_level >= 0) {
		c->log_level = o->log_level;
		mark_cli(c, "daemon", "log_level");
	}
	if (o->worker) {
		c->worker = o->worker > 0;
		mark_cli(c, "policy", "worker");
	}
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
	sort_by_line(&c->warnings, 0);
	return e->count > before ? -1 : 0;
}

void config_list_keys(FILE *f, bool detail)
{
	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++) {
		const struct conf_key *k = &conf_keys[i];

		if (!detail) {
			fprintf(f, "%s %s\n", k->section, k->name);
			continue;
		}
		fprintf(f, "%s %s = %s\t%s", k->section, k->name, k->def, k->help);
		if (k->min != k->max) {
			char r[96];

			range_text(k, r, sizeof(r));
			fprintf(f, " (%s)", r);
		}
		fputc('\n', f);
	}
	for (int i = 0; vn_builtin_policies[i]; i++)
		for (const struct vnumad_option *o = vn_builtin_policies[i]->options;
		     o && o->name; o++) {
			if (detail)
				fprintf(f, "policy.%s %s = %s\t%s\n", vn_builtin_policies[i]->name,
					o->name, o->def, o->help ? o->help : "");
			else
				fprintf(f, "policy.%s %s\n", vn_builtin_policies[i]->name, o->name);
		}
}

int config_line(const struct vn_config *c, const char *sec, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++)
		if (strcmp(conf_keys[i].section, sec) == 0 &&
		    strcmp(conf_keys[i].name, key) == 0)
			return c->key_line[i];
	return 0;
}

/* A size or rate as the file would write it: "4GiB", "256MiB/s". */
static void unit_text(char *buf, size_t len, double x, const char *suffix)
{
	static const char *const unit[] = { "", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (u < 4 && x >= 1024 && fmod(x, 1024) == 0) {
		x /= 1024;
		u++;
	}
	snprintf(buf, len, "%.0f%s%s", x, unit[u], suffix);
}

static void rate_text(char *buf, size_t len, double x)
{
	unit_text(buf, len, x, "/s");
}

/* A stored value written as the file would write it. */
static void value_text(const struct vn_config *c, const struct conf_key *k, char *buf,
		       size_t len)
{
	const void *p = cmember(c, k);
	double x = number(c, k);

	switch (k->type) {
	case CONF_BOOL:
		snprintf(buf, len, "%s", *(const bool *)p ? "yes" : "no");
		break;
	case CONF_LONG:
		snprintf(buf, len, "%ld", *(const long *)p);
		break;
	case CONF_DURATION:
		fmt_duration(buf, len, x);
		break;
	case CONF_PERCENT:
		snprintf(buf, len, "%g%%", x * 100);
		break;
	case CONF_RATE:
		rate_text(buf, len, x);
		break;
	case CONF_SIZE:
		unit_text(buf, len, x, "");
		break;
	case CONF_NODE_RATES: {
		const double *bw = p;
		uint64_t mask = *(const uint64_t *)((const char *)c + k->off2);
		size_t off = 0;
		char r[32];

		buf[0] = '\0';
		if (mask == ~0ULL) {
			bool same = true;

			for (int n = 1; n < VNUMAD_MAX_NODES; n++)
				same &= bw[n] == bw[0];
			if (same) {
				rate_text(buf, len, bw[0]);
				break;
			}
		}
		for (int n = 0; n < VNUMAD_MAX_NODES && off < len; n++)
			if (mask >> n & 1) {
				rate_text(r, sizeof(r), bw[n]);
				off += snprintf(buf + off, len - off, "%s%d:%s",
						off ? ", " : "", n, r);
			}
		break;
	}
	case CONF_STRING:
	case CONF_OPTIONAL:
	case CONF_PATH:
		snprintf(buf, len, "%s", *(char *const *)p ? *(char *const *)p : "");
		break;
	case CONF_ENUM:
		snprintf(buf, len, "?");
		for (int i = 0; k->names[i]; i++)
			if ((k->values ? k->values[i] : i) == *(const int *)p)
				snprintf(buf, len, "%s", k->names[i]);
		break;
	case CONF_LIST: {
		size_t off = 0;

		buf[0] = '\0';
		for (char *const *l = *(char **const *)p; l && *l && off < len; l++)
			off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "", *l);
		break;
	}
	}
}

void config_print(const struct vn_config *c, FILE *f)
{
	const char *sec = "";
	char v[512], where[64];

	if (c->path)
		fprintf(f, "# the configuration in effect: %s and the built-in defaults\n",
			c->path);
	else
		fprintf(f, "# no configuration file was read: the built-in defaults\n");
	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++) {
		const struct conf_key *k = &conf_keys[i];

		if (strcmp(k->section, sec) != 0) {
			fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
			sec = k->section;
		}
		value_text(c, k, v, sizeof(v));
		if (c->key_line[i] > 0)
			snprintf(where, sizeof(where), "%s:%d", c->path, c->key_line[i]);
		else
			snprintf(where, sizeof(where), "%s", c->key_line[i] < 0 ?
				 "command line" : "default");
		fprintf(f, "%-18s = %-24s # %s\n", k->name, v, where);
	}
	if (!c->policy_desc || !c->policy_desc->options || !c->policy_desc->options[0].name)
		return;
	fprintf(f, "\n[policy.%s]\n", c->policy_desc->name);
	for (int i = 0; i < c->nr_policy_values; i++) {
		const struct vnumad_option *o = &c->policy_desc->options[i];
		const struct vnumad_value *x = &c->policy_values[i];
		char a[32];

		switch (o->type) {
		case VNUMAD_OPT_BOOL:
			snprintf(v, sizeof(v), "%s", x->boolean ? "yes" : "no");
			break;
		case VNUMAD_OPT_PERCENT:
			snprintf(v, sizeof(v), "%g%%", x->num * 100);
			break;
		case VNUMAD_OPT_DURATION:
			fmt_duration(v, sizeof(v), x->num);
			break;
		case VNUMAD_OPT_SIZE:
			snprintf(v, sizeof(v), "%s", fmt_size(a, sizeof(a), (uint64_t)x->num));
			break;
		case VNUMAD_OPT_STRING:
			snprintf(v, sizeof(v), "%s", x->str ? x->str : "");
			break;
		default:
			snprintf(v, sizeof(v), "%g", x->num);
		}
		if (c->opt_line && c->opt_line[i] > 0)
			snprintf(where, sizeof(where), "%s:%d", c->path, c->opt_line[i]);
		else
			snprintf(where, sizeof(where), "default");
		fprintf(f, "%-18s = %-24s # %s\n", o->name, v, where);
	}
}
