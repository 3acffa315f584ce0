/* SPDX-License-Identifier: MIT */
#ifndef VN_CONFIG_H
#define VN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ini.h"
#include "policy.h"

/* SYSCONFDIR/vnumad.conf: where `make install` puts the configuration */
extern const char vn_default_config[];
/* The built-in default policy; it also advises for a policy that failed. */
#define VN_DEFAULT_POLICY	"place"
#define VN_DEFAULT_CONTROL	"/run/vnumad/control.sock"	/* [daemon] control */
#define VN_CONF_MAX_KEYS	64	/* keys of the table in config.c, at most */
/* [daemon] control: sizeof(sun_path) of struct sockaddr_un, NUL included */
#define VN_SOCKET_PATH_MAX	108
/* [sampling] events: one name per PMU role, each shorter than the buffer */
#define VN_EVENTS_NR		4
#define VN_EVENT_NAME_MAX	160

enum vn_backend_kind {
	VN_BACKEND_LIBVIRT,
	VN_BACKEND_PROC,
	VN_BACKEND_SIM,
};

enum vn_sampling_kind {
	VN_SAMPLING_AUTO,
	VN_SAMPLING_PMU,
	VN_SAMPLING_PROCFS,
};

/* What to do about the kernel's automatic NUMA balancing. */
enum vn_numab {
	VN_NUMAB_LEAVE,		/* say nothing */
	VN_NUMAB_WARN,		/* warn at start-up that it fights us */
	VN_NUMAB_DISABLE,	/* switch it off while running, restore at exit */
};

extern const char *const vn_numab_names[];
extern const char *const vn_backend_names[];
extern const char *const vn_sampling_names[];

/* Everything the configuration file sets; see etc/vnumad.conf. */
struct vn_config {
	char *path;		/* file read, NULL for built-in defaults */

	/* [daemon] */
	double interval;	/* seconds per tick */
	bool dry_run;
	double remind;		/* seconds between "still recommended" lines, 0 never */
	char *state_dir;
	int log_level;
	char *metrics;		/* ADDR:PORT of the Prometheus endpoint, NULL off */
	char *control;		/* path of the control socket */

	/* [backend] */
	int backend;		/* enum vn_backend_kind */
	char *uri;
	char *scenario;		/* sim: scenario file, NULL = built-in demo */
	bool restore_affinity;	/* give back changed affinities at exit */
	int numa_balancing;	/* enum vn_numab: the kernel's own balancing */

	/* [host] */
	double node_bw[VNUMAD_MAX_NODES];	/* bytes/s each node sustains */
	uint64_t node_bw_set;	/* nodes whose node_bw was configured */

	/* [sampling] */
	int source;		/* enum vn_sampling_kind */
	double memory_interval;	/* seconds between reads of guest memory */
	double memory_budget;	/* CPU seconds per tick those reads may take, 0 no limit */
	char *events;		/* libpfm4 names overriding the CPU's table, or NULL */

	/* [model] */
	double halflife;	/* EWMA half-life of the vCPU figures, seconds */

	/* [policy] */
	char *policy;		/* name or path */
	char *policy_dir;
	long policy_seed;	/* for policies that draw random numbers */
	const struct vnumad_policy *policy_desc;	/* resolved */
	void *policy_handle;	/* a plugin (plugin.h), or NULL */
	char *policy_path;	/* the plugin's file, or NULL */
	bool worker;		/* a plugin runs in a worker process */
	double worker_deadline;	/* share of the interval a tick may take */
	char *worker_user;	/* the worker's user when vnumad runs as root */
	double worker_memory;	/* address space a worker may add, bytes */
	struct vnumad_value *policy_values;	/* one per option */
	int nr_policy_values;

	/* [guard] */
	bool guard;
	double baseline;	/* window before a move, seconds */
	double settle;		/* wait after a move (after migration ends) */
	double judge;		/* window judged after the settle time */
	double tolerance;	/* normalised loss that makes a loser */
	double quarantine;	/* first quarantine of a (guest, target) pair */
	double quarantine_max;
	long max_moves_per_hour;	/* per guest */

	/* [limits] */
	long max_moves_per_tick;
	double migrate_rate;	/* bytes per second */
	long migrate_nice;	/* the mover thread's nice value */
	double hysteresis;	/* minimum seconds between moves of one vCPU */
	double min_gain;	/* expected gain below which nothing is done */

	/* [guests] */
	char **exclude;		/* glob patterns of guest names */
	int nr_exclude;
	char **users;		/* whose VMM processes the proc backend takes, besides root */
	int nr_users;

	/* where each value came from, for vnumad -n -v: the file's line, 0
	 * the default, -1 the command line; per table key, then per option of
	 * the policy */
	int key_line[VN_CONF_MAX_KEYS];
	int *opt_line;
	/* valid values that are likely mistakes ("min_gain = 5" is 500%), with
	 * file and line, for -n to print and the daemon to log */
	struct vn_errors warnings;
};

/* Settings from the command line; they win over the file. */
struct vn_overrides {
	double interval;	/* > 0 to set */
	bool dry_run;
	int backend;		/* -1: from the file */
	const char *scenario;
	const char *policy;
	int log_level;		/* -1: from the file */
	int worker;		/* [policy] worker: 1 yes, -1 no, 0 from the file;
				 * before the policy is resolved, for a plugin
				 * of a worker is only described */
};

/* Built-in defaults. */
void config_defaults(struct vn_config *c);
/*
 * Fills c with the defaults, then the file at path (NULL: defaults only),
 * then the overrides. Every error is appended to e, naming file, line and
 * key; returns 0 when there was none. c must be freed in every case.
 */
int config_load(struct vn_config *c, const char *path,
		const struct vn_overrides *o, struct vn_errors *e);
/*
 * Resolves the policy and parses its [policy.NAME] keys from ini (NULL:
 * defaults); cli says the name came from the command line.
 */
int config_policy(struct vn_config *c, struct vn_ini *ini, bool cli,
		  struct vn_errors *e);
void config_free(struct vn_config *c);
/*
 * Prints "SECTION KEY" for every key the parser knows, built-in policies'
 * too; with detail, "SECTION KEY = DEFAULT<tab>help (range)".
 */
void config_list_keys(FILE *f, bool detail);
/*
 * Prints the configuration in effect, every key with its value and where it
 * came from (file and line, default, command line), as an INI file.
 */
void config_print(const struct vn_config *c, FILE *f);
/*
 * Where a key's value came from: its line in c->path, 0 for the built-in
 * default, -1 for the command line.
 */
int config_line(const struct vn_config *c, const char *sec, const char *key);
/* An option's range in the unit the operator writes ("0% to 90%"). */
void config_option_range(const struct vnumad_option *o, char *buf, size_t len);
/* Parses one value of a policy option; returns 0 or -1 with *why. */
int config_option_value(const struct vnumad_option *o, const char *s,
			struct vnumad_value *v, const char **why);

#endif
