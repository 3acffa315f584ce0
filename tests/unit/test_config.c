// SPDX-License-Identifier: MIT
/*
 * The configuration file (rebalancer/core/config.c on top of rebalancer/base/ini.c)
 * and the policy descriptor check (plugin_check). Each test writes a small
 * file into a private temporary directory, loads it and asserts the values
 * read or the exact messages: every message must name file, line, section
 * and key. Under the sanitizer build LeakSanitizer checks that config_free
 * releases everything, failed loads included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "ini.h"
#include "plugin.h"
#include "policies.h"
#include "util.h"

static char dir[PATH_MAX - 64];	/* private directory of this run */
static char path[PATH_MAX];	/* the file the current test loads */
static struct vn_config cfg;
static struct vn_errors errs;

static int group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(dir, sizeof(dir), "%s/vnumad-test-config.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror(dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static int setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	memset(&errs, 0, sizeof(errs));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(&cfg);
	errors_free(&errs);
	return 0;
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads text as the configuration file, dropping what an earlier load left. */
static int load_with(const char *text, const struct vn_overrides *o)
{
	config_free(&cfg);
	errors_free(&errs);
	write_file(path, text);
	return config_load(&cfg, path, o, &errs);
}

static int load(const char *text)
{
	return load_with(text, NULL);
}

static void dump_errors(void)
{
	for (int i = 0; i < errs.count; i++)
		print_message("  error %d: %s\n", i, errs.msg[i]);
}

/* Asserts that message i is the file's path followed by the formatted text. */
static void expect_msg(int i, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void expect_msg(int i, const char *fmt, ...)
{
	char want[1024];
	size_t n = (size_t)snprintf(want, sizeof(want), "%s", path);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want + n, sizeof(want) - n, fmt, ap);
	va_end(ap);
	if (i >= errs.count || strcmp(errs.msg[i], want) != 0) {
		dump_errors();
		fail_msg("message %d: want '%s'", i, want);
	}
}

/* The index of the message that is the path followed by text, or -1. */
static int find_msg(const char *text)
{
	size_t n = strlen(path);

	for (int i = 0; i < errs.count; i++)
		if (strncmp(errs.msg[i], path, n) == 0 &&
		    strcmp(errs.msg[i] + n, text) == 0)
			return i;
	return -1;
}

/* The index of the first message starting with the path and then prefix. */
static int find_prefix(const char *prefix)
{
	size_t n = strlen(path);

	for (int i = 0; i < errs.count; i++)
		if (strncmp(errs.msg[i], path, n) == 0 &&
		    strncmp(errs.msg[i] + n, prefix, strlen(prefix)) == 0)
			return i;
	return -1;
}

static void expect_ok(int r)
{
	if (r != 0 || errs.count != 0) {
		dump_errors();
		fail_msg("load returned %d with %d errors, want 0 and none", r,
			 errs.count);
	}
}

/* Asserts exactly one error, the given one, and a failed load. */
static void expect_one(int r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void expect_one(int r, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_int_equal(r, -1);
	expect_msg(0, "%s", text);
	if (errs.count != 1) {
		dump_errors();
		fail_msg("%d errors, want 1", errs.count);
	}
}

/* ---- defaults and a full file ---- */

static void check_defaults(const struct vn_config *c)
{
	assert_true(c->interval == 2.0);
	assert_false(c->dry_run);
	assert_string_equal(c->state_dir, "/var/lib/vnumad");
	assert_int_equal(c->log_level, LOG_INFO);
	assert_int_equal(c->backend, VN_BACKEND_LIBVIRT);
	assert_string_equal(c->uri, "qemu:///system");
	assert_null(c->scenario);
	assert_int_equal(c->source, VN_SAMPLING_AUTO);
	assert_true(c->memory_interval == 10.0);
	assert_true(c->halflife == 4.0);
	assert_string_equal(c->policy, "place");
	assert_non_null(c->policy_dir);
	assert_true(c->guard);
	assert_true(c->baseline == 10.0);
	assert_true(c->settle == 4.0);
	assert_true(c->judge == 10.0);
	assert_true(c->tolerance == 0.03);
	assert_true(c->quarantine == 600.0);
	assert_true(c->quarantine_max == 86400.0);
	assert_int_equal(c->max_moves_per_hour, 6);
	assert_int_equal(c->max_moves_per_tick, 4);
	assert_true(c->migrate_rate == 256.0 * MiB);
	assert_true(c->hysteresis == 30.0);
	assert_true(c->min_gain == 0.05);
	assert_int_equal(c->nr_exclude, 0);
	assert_non_null(c->exclude);
	assert_null(c->exclude[0]);
}

/* The place policy's options at their defaults, in the order of its table. */
static void check_place_defaults(const struct vn_config *c)
{
	assert_ptr_equal(c->policy_desc, &vn_policy_place);
	assert_null(c->policy_handle);
	assert_int_equal(c->nr_policy_values, 9);
	assert_true(c->policy_values[0].num == 0.5);		/* queue_factor */
	assert_true(c->policy_values[1].num == 2.5e9);		/* bandwidth_per_cpu */
	assert_true(c->policy_values[2].num == 0.5);		/* counted_share */
	assert_true(c->policy_values[3].num == 0.05);		/* min_gain */
	assert_true(c->policy_values[4].num == 0.05);		/* migration_cost */
	assert_true(c->policy_values[5].num == 0.05);		/* cpu_headroom */
	assert_true(c->policy_values[6].num == 512.0 * MiB);	/* memory_reserve */
	assert_true(c->policy_values[7].num == 4.0 * GiB);	/* memory_batch */
	assert_true(c->policy_values[8].num == 60);		/* hold */
}

/* The locality policy's options, in the order of its table. */
static void check_locality(const struct vn_config *c, double threshold,
			   double rate, double headroom, double batch,
			   double reserve)
{
	assert_ptr_equal(c->policy_desc, &vn_policy_locality);
	assert_null(c->policy_handle);
	assert_int_equal(c->nr_policy_values, 5);
	assert_true(c->policy_values[0].num == threshold);
	assert_true(c->policy_values[1].num == rate);
	assert_true(c->policy_values[2].num == headroom);
	assert_true(c->policy_values[3].num == batch);
	assert_true(c->policy_values[4].num == reserve);
}

static void defaults_without_file(void **state)
{
	(void)state;
	expect_ok(config_load(&cfg, NULL, NULL, &errs));
	assert_null(cfg.path);
	check_defaults(&cfg);
	check_place_defaults(&cfg);

	/* config_defaults alone gives the same figures */
	config_free(&cfg);
	config_defaults(&cfg);
	check_defaults(&cfg);
}

static void empty_file_is_defaults(void **state)
{
	(void)state;
	expect_ok(load("# nothing but a comment\n\n; and another\n"));
	assert_string_equal(cfg.path, path);
	check_defaults(&cfg);
	check_place_defaults(&cfg);
}

/* Every section, every key, no value equal to its default. */
static const char full_conf[] =
	"[daemon]\n"
	"interval = 500ms\n"
	"dry_run = yes\n"
	"state_dir = /srv/vnumad\n"
	"log_level = debug\n"
	"[backend]\n"
	"type = sim\n"
	"uri = qemu+ssh://host/system\n"
	"scenario = /usr/share/vnumad/demo.ini\n"
	"[sampling]\n"
	"source = procfs\n"
	"memory_interval = 1min\n"
	"[model]\n"
	"halflife = 0\n"
	"[policy]\n"
	"name = locality\n"
	"dir = /opt/vnumad/policies\n"
	"[policy.locality]\n"
	"remote_threshold = 45%\n"
	"min_access_rate = 2e6\n"
	"cpu_headroom = 0.25\n"
	"memory_batch = 2GiB\n"
	"memory_reserve = 1G\n"
	"[guard]\n"
	"enabled = off\n"
	"baseline = 20s\n"
	"settle = 0\n"
	"judge = 1.5min\n"
	"tolerance = 5%\n"
	"quarantine = 1h\n"
	"quarantine_max = 2d\n"
	"max_moves_per_hour = 12\n"
	"[limits]\n"
	"max_moves_per_tick = 0\n"
	"migrate_rate = 1GiB/s\n"
	"hysteresis = 1h\n"
	"min_gain = 1000%\n"
	"[guests]\n"
	"exclude = web-*, db?\n";

static void full_file(void **state)
{
	(void)state;
	expect_ok(load(full_conf));
	assert_true(cfg.interval == 0.5);
	assert_true(cfg.dry_run);
	assert_string_equal(cfg.state_dir, "/srv/vnumad");
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.backend, VN_BACKEND_SIM);
	assert_string_equal(cfg.uri, "qemu+ssh://host/system");
	assert_string_equal(cfg.scenario, "/usr/share/vnumad/demo.ini");
	assert_int_equal(cfg.source, VN_SAMPLING_PROCFS);
	assert_true(cfg.memory_interval == 60);
	assert_true(cfg.halflife == 0);
	assert_string_equal(cfg.policy, "locality");
	assert_string_equal(cfg.policy_dir, "/opt/vnumad/policies");
	assert_false(cfg.guard);
	assert_true(cfg.baseline == 20);
	assert_true(cfg.settle == 0);
	assert_true(cfg.judge == 90);
	assert_true(cfg.tolerance == 0.05);
	assert_true(cfg.quarantine == 3600);
	assert_true(cfg.quarantine_max == 2 * 86400);
	assert_int_equal(cfg.max_moves_per_hour, 12);
	assert_int_equal(cfg.max_moves_per_tick, 0);
	assert_true(cfg.migrate_rate == (double)GiB);
	assert_true(cfg.hysteresis == 3600);
	assert_true(cfg.min_gain == 10);
	assert_int_equal(cfg.nr_exclude, 2);
	assert_string_equal(cfg.exclude[0], "web-*");
	assert_string_equal(cfg.exclude[1], "db?");
	assert_null(cfg.exclude[2]);
	check_locality(&cfg, 0.45, 2e6, 0.25, 2.0 * GiB, (double)GiB);
}

/*
 * The shipped etc/vnumad.conf documents every key with its default: it must
 * load cleanly and give exactly the built-in defaults. The test runs from
 * the top of the tree (tests/run.sh goes there); elsewhere it is skipped.
 */
static void shipped_file_is_defaults(void **state)
{
	(void)state;
	if (access("etc/vnumad.conf", R_OK) != 0)
		skip();
	expect_ok(config_load(&cfg, "etc/vnumad.conf", NULL, &errs));
	check_defaults(&cfg);
	check_place_defaults(&cfg);
}

/* locality, built in but no longer the default, is chosen by name with its defaults. */
static void locality_by_name(void **state)
{
	(void)state;
	expect_ok(load("[policy]\nname = locality\n"));
	assert_string_equal(cfg.policy, "locality");
	check_locality(&cfg, 0.3, 1e6, 0.1, (double)GiB, 512.0 * MiB);
}

/* Names of sections and keys are case-insensitive; values keep their case. */
static void names_fold_case(void **state)
{
	(void)state;
	expect_ok(load("[DAEMON]\nInterval = 3s\nState_Dir = /Srv/X\n"
		       "[Policy.Locality]\nREMOTE_THRESHOLD = 50%\n"));
	assert_true(cfg.interval == 3);
	assert_string_equal(cfg.state_dir, "/Srv/X");
	assert_true(cfg.policy_values[0].num == 0.5);
}

/* iniparser's value syntax: quotes, inline comments, blanks, continuations. */
static void value_syntax(void **state)
{
	(void)state;
	expect_ok(load("[backend]\n"
		       "uri = \"qemu:///session\" ; inline comment\n"
		       "  scenario   =   /a/b.ini   # another\n"
		       "[daemon]\n"
		       "state_dir = '/quoted/dir'\n"
		       "interval = 7\\\n"
		       "s\n"));
	assert_string_equal(cfg.uri, "qemu:///session");
	assert_string_equal(cfg.scenario, "/a/b.ini");
	assert_string_equal(cfg.state_dir, "/quoted/dir");
	assert_true(cfg.interval == 7);
}

/* A section may be opened twice; its keys are merged. */
static void section_reopened(void **state)
{
	(void)state;
	expect_ok(load("[daemon]\ninterval = 3s\n[guard]\nenabled = no\n"
		       "[daemon]\ndry_run = yes\n"));
	assert_true(cfg.interval == 3);
	assert_true(cfg.dry_run);
	assert_false(cfg.guard);
}

/* ---- every key: one valid value, one invalid, one out of range ---- */

enum kind { K_DUR, K_BOOL, K_STR, K_LOG, K_ENUM, K_LONG, K_PCT, K_RATE, K_LIST };

struct key_case {
	const char *sec, *key;
	enum kind kind;
	size_t off;		/* offsetof(struct vn_config, field) */
	const char *good;
	double want;		/* numbers, enums, bools, list length */
	const char *want_str;	/* strings */
	const char *bad;	/* does not parse; NULL: anything goes */
	const char *range;	/* parses but is out of range; NULL: no range */
};

#define F(field) offsetof(struct vn_config, field)

static const struct key_case keys[] = {
	{ "daemon", "interval", K_DUR, F(interval), "500ms", 0.5, NULL, "2 parsecs", "50ms" },
	{ "daemon", "dry_run", K_BOOL, F(dry_run), "on", 1, NULL, "maybe", NULL },
	{ "daemon", "state_dir", K_STR, F(state_dir), "/srv/v", 0, "/srv/v", "srv/v", NULL },
	{ "daemon", "log_level", K_LOG, F(log_level), "warning", LOG_WARNING, NULL, "loud", NULL },
	{ "daemon", "metrics", K_STR, F(metrics), "127.0.0.1:9464", 0, "127.0.0.1:9464", "localhost", NULL },
	{ "daemon", "control", K_STR, F(control), "/run/x.sock", 0, "/run/x.sock", "x.sock", NULL },
	{ "backend", "type", K_ENUM, F(backend), "proc", VN_BACKEND_PROC, NULL, "xen", NULL },
	{ "backend", "uri", K_STR, F(uri), "test:///default", 0, "test:///default", NULL, NULL },
	{ "backend", "scenario", K_STR, F(scenario), "/s.ini", 0, "/s.ini", NULL, NULL },
	{ "sampling", "source", K_ENUM, F(source), "pmu", VN_SAMPLING_PMU, NULL, "perf", NULL },
	{ "sampling", "memory_interval", K_DUR, F(memory_interval), "20s", 20, NULL, "often", "2h" },
	{ "model", "halflife", K_DUR, F(halflife), "0", 0, NULL, "-1s", "11min" },
	{ "policy", "name", K_STR, F(policy), "locality", 0, "locality", "nosuch", NULL },
	{ "policy", "dir", K_STR, F(policy_dir), "/opt/p", 0, "/opt/p", NULL, NULL },
	{ "guard", "enabled", K_BOOL, F(guard), "false", 0, NULL, "2", NULL },
	{ "guard", "baseline", K_DUR, F(baseline), "30s", 30, NULL, "30 s s", "0" },
	{ "guard", "settle", K_DUR, F(settle), "0", 0, NULL, "soon", "2h" },
	{ "guard", "judge", K_DUR, F(judge), "1min", 60, NULL, "1minute", "50ms" },
	{ "guard", "tolerance", K_PCT, F(tolerance), "5%", 0.05, NULL, "5%%", "101%" },
	{ "guard", "quarantine", K_DUR, F(quarantine), "1h", 3600, NULL, "1y", "0.5s" },
	{ "guard", "quarantine_max", K_DUR, F(quarantine_max), "2d", 172800, NULL, "forever", "31d" },
	{ "guard", "max_moves_per_hour", K_LONG, F(max_moves_per_hour), "12", 12, NULL, "1.5", "0" },
	{ "limits", "max_moves_per_tick", K_LONG, F(max_moves_per_tick), "0", 0, NULL, "four", "10001" },
	{ "limits", "migrate_rate", K_RATE, F(migrate_rate), "1GiB/s", (double)GiB, NULL, "1GiB/min", "512KiB/s" },
	{ "limits", "hysteresis", K_DUR, F(hysteresis), "0", 0, NULL, "1 fortnight", "2d" },
	{ "limits", "min_gain", K_PCT, F(min_gain), "1000%", 10, NULL, "lots", "1001%" },
	{ "guests", "exclude", K_LIST, F(exclude), "a, b*, c?", 3, NULL, NULL, NULL },
};

static void check_value(const struct key_case *k)
{
	const char *p = (const char *)&cfg + k->off;
	double got = 0;

	switch (k->kind) {
	case K_DUR:
	case K_PCT:
	case K_RATE:
		got = *(const double *)p;
		break;
	case K_BOOL:
		got = *(const bool *)p;
		break;
	case K_LOG:
	case K_ENUM:
		got = *(const int *)p;
		break;
	case K_LONG:
		got = (double)*(const long *)p;
		break;
	case K_LIST:
		got = cfg.nr_exclude;
		break;
	case K_STR:
		if (strcmp(*(char *const *)p, k->want_str) != 0)
			fail_msg("[%s] %s = %s: got '%s'", k->sec, k->key, k->good,
				 *(char *const *)p);
		return;
	}
	if (got < k->want - 1e-9 || got > k->want + 1e-9)
		fail_msg("[%s] %s = %s: got %.17g, want %.17g", k->sec, k->key,
			 k->good, got, k->want);
}

static void every_key_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char text[256];

		snprintf(text, sizeof(text), "[%s]\n%s = %s\n", keys[i].sec,
			 keys[i].key, keys[i].good);
		expect_ok(load(text));
		check_value(&keys[i]);
	}
}

/*
 * A bad value is refused with one message naming file, line 3 (after a
 * comment), section, key and the value itself, and the default is kept.
 */
static void every_key_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *vals[2] = { keys[i].bad, keys[i].range };

		for (int j = 0; j < 2; j++) {
			char text[256], want[256];

			if (!vals[j])
				continue;
			snprintf(text, sizeof(text), "[%s]\n# bad\n%s = %s\n",
				 keys[i].sec, keys[i].key, vals[j]);
			assert_int_equal(load(text), -1);
			if (strcmp(keys[i].key, "name") == 0)
				snprintf(want, sizeof(want), ":3: [%s] %s: unknown policy '%s'",
					 keys[i].sec, keys[i].key, vals[j]);
			else
				snprintf(want, sizeof(want), ":3: [%s] %s: '%s'",
					 keys[i].sec, keys[i].key, vals[j]);
			if (find_prefix(want) < 0 || errs.count != 1) {
				dump_errors();
				fail_msg("[%s] %s = %s: want one error starting '%s'",
					 keys[i].sec, keys[i].key, vals[j], want);
			}
			if (j == 1 && !strstr(errs.msg[0], "is out of range (")) {
				dump_errors();
				fail_msg("[%s] %s = %s: not a range error", keys[i].sec,
					 keys[i].key, vals[j]);
			}
		}
	}
}

/* The exact words, for a representative set. */
static void exact_value_messages(void **state)
{
	(void)state;
	expect_one(load("[daemon]\ninterval = 2 parsecs\n"),
		   ":2: [daemon] interval: '2 parsecs': unknown unit (use ns, us, ms, s, min, h or d)");
	expect_one(load("[daemon]\ninterval = -1s\n"),
		   ":2: [daemon] interval: '-1s': negative duration");
	expect_one(load("[daemon]\ninterval =\n"),
		   ":2: [daemon] interval: '': empty value");
	expect_one(load("[daemon]\ndry_run = maybe\n"),
		   ":2: [daemon] dry_run: 'maybe': not a boolean (use yes or no)");
	expect_one(load("[daemon]\nlog_level = loud\n"),
		   ":2: [daemon] log_level: 'loud': expected one of error, warning, notice, info, debug");
	expect_one(load("[backend]\ntype = xen\n"),
		   ":2: [backend] type: 'xen': expected one of libvirt, proc, sim");
	expect_one(load("[sampling]\nsource = perf\n"),
		   ":2: [sampling] source: 'perf': expected one of auto, pmu, procfs");
	expect_one(load("[guard]\nmax_moves_per_hour = 0\n"),
		   ":2: [guard] max_moves_per_hour: '0' is out of range (1 to 3600)");
	expect_one(load("[guard]\nmax_moves_per_hour = 1.5\n"),
		   ":2: [guard] max_moves_per_hour: '1.5': not an integer");
	expect_one(load("[guard]\ntolerance = 101%\n"),
		   ":2: [guard] tolerance: '101%%' is out of range (0%% to 100%%)");
	expect_one(load("[limits]\nmin_gain = -1%\n"),
		   ":2: [limits] min_gain: '-1%%' is out of range (0%% to 1000%%)");
	expect_one(load("[limits]\nmigrate_rate = 512KiB/s\n"),
		   ":2: [limits] migrate_rate: '512KiB/s' is out of range (1.00 MiB/s to 1.00 TiB/s)");
	expect_one(load("[limits]\nmigrate_rate = 1GiB/min\n"),
		   ":2: [limits] migrate_rate: '1GiB/min': a rate is a size per second, such as 256MiB/s");
	expect_one(load("[limits]\nmax_moves_per_tick = 99999999999999999999\n"),
		   ":2: [limits] max_moves_per_tick: '99999999999999999999': integer out of range");
	expect_one(load("[daemon]\nstate_dir = var/lib/vnumad\n"),
		   ":2: [daemon] state_dir: 'var/lib/vnumad' is not an absolute path");
}

/* ---- the structure of the file ---- */

static void unknown_section(void **state)
{
	(void)state;
	/* its keys are not reported one by one */
	expect_one(load("[daemon]\ninterval = 2s\n\n[deamon]\ninterval = 3s\nx = 1\n"),
		   ":4: unknown section [deamon] (did you mean [daemon]?)");
	/* nothing near enough: no suggestion */
	expect_one(load("[colours]\nred = 1\n"), ":1: unknown section [colours]");
	assert_true(cfg.interval == 2);
}

static void unknown_key(void **state)
{
	(void)state;
	expect_one(load("[daemon]\n\nintervall = 2s\n"),
		   ":3: [daemon] intervall: unknown key (did you mean interval?)");
	expect_one(load("[limits]\nhysterisis = 2s\n"),
		   ":2: [limits] hysterisis: unknown key (did you mean hysteresis?)");
	/* a key of one section is unknown in another, which is named */
	expect_one(load("[guard]\ninterval = 2s\n"),
		   ":2: [guard] interval: unknown key (it belongs in [daemon])");
	expect_one(load("[guard]\ncolour = red\n"), ":2: [guard] colour: unknown key");
}

/* A valid value that is likely a mistake loads, with a warning naming it. */
static void suspicious_values(void **state)
{
	(void)state;
	expect_ok(load("[limits]\nmin_gain = 5\n"));
	assert_true(cfg.min_gain == 5);
	assert_int_equal(cfg.warnings.count, 1);
	assert_non_null(strstr(cfg.warnings.msg[0], ":2: [limits] min_gain: '5' is 500%"));
	expect_ok(load("[daemon]\ninterval = 100ms\n[guard]\ntolerance = 60%\n"));
	assert_int_equal(cfg.warnings.count, 2);
	assert_non_null(strstr(cfg.warnings.msg[0], ":2: [daemon] interval: '100ms'"));
	assert_non_null(strstr(cfg.warnings.msg[1], ":4: [guard] tolerance: '60%' is 60%"));
	/* the defaults and ordinary values are not suspicious */
	expect_ok(load("[limits]\nmin_gain = 0.05\n[model]\nhalflife = 10s\n"));
	assert_int_equal(cfg.warnings.count, 0);
}

/* vnumad -n -v: every key, its value and where it came from. */
static void effective_configuration(void **state)
{
	struct vn_overrides o = { .interval = 5, .backend = -1, .log_level = -1 };
	char *text = NULL, line[4400];
	size_t len = 0;
	FILE *f;

	(void)state;
	expect_ok(load_with("# a comment\n[guard]\ntolerance = 4%\n[limits]\n"
			    "migrate_rate = 1GiB/s\n[guests]\nexclude = a, b*\n", &o));
	f = open_memstream(&text, &len);
	config_print(&cfg, f);
	fclose(f);
	snprintf(line, sizeof(line), "tolerance          = 4%%                       # %s:3",
		 path);
	assert_non_null(strstr(text, line));
	assert_non_null(strstr(text, "migrate_rate       = 1GiB/s"));
	assert_non_null(strstr(text, "exclude            = a, b*"));
	assert_non_null(strstr(text, "interval           = 5s                       # command line"));
	assert_non_null(strstr(text, "judge              = 10s                      # default"));
	assert_non_null(strstr(text, "[policy.place]\n"));
	free(text);

	/* no file at all */
	config_free(&cfg);
	assert_int_equal(config_load(&cfg, NULL, NULL, &errs), 0);
	text = NULL;
	f = open_memstream(&text, &len);
	config_print(&cfg, f);
	fclose(f);
	assert_non_null(strstr(text, "# no configuration file was read: the built-in defaults\n"));
	free(text);
}

static void duplicate_key(void **state)
{
	(void)state;
	expect_one(load("[daemon]\ninterval = 2s\n# again\ninterval = 3s\n"),
		   ":4: [daemon] interval: duplicate key (first set at line 2)");
	/* also across two headers of one section, and whatever the case */
	expect_one(load("[daemon]\ninterval = 2s\n[guard]\n[Daemon]\nINTERVAL = 3s\n"),
		   ":5: [daemon] interval: duplicate key (first set at line 2)");
}

static void key_outside_section(void **state)
{
	(void)state;
	expect_one(load("# leading comment\ninterval = 2s\n[daemon]\n"),
		   ":2: key 'interval' outside any section");
}

static void malformed_header(void **state)
{
	(void)state;
	expect_one(load("[daemon]\ninterval = 2s\n[guard\nenabled = no\n"),
		   ":3: malformed section header: no ']'");
	expect_one(load("[]\n"), ":1: malformed section header: empty name");
	expect_one(load("[ ]\n"), ":1: malformed section header: empty name");
}

static void line_without_equals(void **state)
{
	(void)state;
	expect_one(load("[daemon]\ninterval 2s\n"),
		   ":2: syntax error: expected 'key = value' or '[section]'");
	expect_one(load("[daemon]\n = 2s\n"),
		   ":2: syntax error: missing key before '='");
}

/* Every syntax error of the file is reported, not only the first. */
static void syntax_errors_all_reported(void **state)
{
	(void)state;
	assert_int_equal(load("orphan = 1\n[daemon]\nbogus\n= 5\n"
			      "interval = 1s\ninterval = 2s\n[oops\n"), -1);
	expect_msg(0, ":1: key 'orphan' outside any section");
	expect_msg(1, ":3: syntax error: expected 'key = value' or '[section]'");
	expect_msg(2, ":4: syntax error: missing key before '='");
	expect_msg(3, ":6: [daemon] interval: duplicate key (first set at line 5)");
	expect_msg(4, ":7: malformed section header: no ']'");
	assert_int_equal(errs.count, 5);
}

static void missing_file(void **state)
{
	char missing[PATH_MAX + 16];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/absent.conf", dir);
	assert_int_equal(config_load(&cfg, missing, NULL, &errs), -1);
	assert_int_equal(errs.count, 1);
	assert_true(strncmp(errs.msg[0], missing, strlen(missing)) == 0);
	assert_string_equal(errs.msg[0] + strlen(missing), ": No such file or directory");
	/* what was filled is still the defaults, and freeable */
	check_defaults(&cfg);
}

static void directory_as_file(void **state)
{
	(void)state;
	assert_int_equal(config_load(&cfg, dir, NULL, &errs), -1);
	assert_true(errs.count >= 1);
	assert_true(strncmp(errs.msg[0], dir, strlen(dir)) == 0);
}

/* ---- the policy and its section ---- */

static void policy_section_bad_value(void **state)
{
	(void)state;
	expect_one(load("[policy]\nname = locality\n[policy.locality]\nremote_threshold = lots\n"),
		   ":4: [policy.locality] remote_threshold: 'lots': not a number");
	/* the default is kept for the plugin */
	assert_true(cfg.policy_values[0].num == 0.3);
	expect_one(load("[policy]\nname = locality\n[policy.locality]\nmemory_reserve = 5 bananas\n"),
		   ":4: [policy.locality] memory_reserve: '5 bananas': "
		   "unknown unit (use B, KiB, MiB, GiB, TiB or kB, MB, GB, TB)");
	expect_one(load("[policy]\nname = locality\n[policy.locality]\nmin_access_rate = -1\n"),
		   ":4: [policy.locality] min_access_rate: '-1' is out of range (0 to 1e+12)");
}

static void policy_section_unknown_key(void **state)
{
	(void)state;
	expect_one(load("[policy.locality]\nremote_treshold = 40%\n"),
		   ":2: [policy.locality] remote_treshold: unknown key "
		   "(did you mean remote_threshold?)");
}

static void policy_section_unknown_policy(void **state)
{
	(void)state;
	assert_int_equal(load("[policy]\nname = locality\n\n[policy.nosuch]\nfoo = 1\n"), -1);
	expect_msg(0, ":4: [policy.nosuch]: no policy named 'nosuch' (built in: place, locality, spread, brm, numad, static, none, chaos)");
	assert_true(errs.count >= 1);
}

static void policy_name_unknown(void **state)
{
	char text[PATH_MAX + 64];

	(void)state;
	snprintf(text, sizeof(text), "[policy]\nname = nosuch\ndir = %s\n", dir);
	expect_one(load(text),
		   ":2: [policy] name: unknown policy 'nosuch' (built in: place, locality, spread, brm, numad, static, none, chaos; no %s/nosuch.so)",
		   dir);
	assert_null(cfg.policy_desc);
}

/* [policy.locality] is checked even when another policy is chosen. */
static void other_policy_section_checked(void **state)
{
	char text[PATH_MAX + 128];

	(void)state;
	snprintf(text, sizeof(text),
		 "[policy]\nname = nosuch\ndir = %s\n[policy.locality]\ncpu_headroom = lots\n",
		 dir);
	assert_int_equal(load(text), -1);
	assert_int_equal(errs.count, 2);
	assert_true(find_prefix(":2: [policy] name: unknown policy 'nosuch'") >= 0);
	assert_true(find_msg(":5: [policy.locality] cpu_headroom: 'lots': not a number") >= 0);
}

/* ---- checks between keys ---- */

static void quarantine_max_shorter(void **state)
{
	(void)state;
	expect_one(load("[guard]\nquarantine = 2h\nquarantine_max = 1h\n"),
		   ":3: [guard] quarantine_max: quarantine_max must not be shorter than quarantine");
	/* with quarantine_max left at its default, quarantine is named */
	expect_one(load("[guard]\nquarantine = 2d\n"),
		   ":2: [guard] quarantine: quarantine_max must not be shorter than quarantine");
	/* equal is fine */
	expect_ok(load("[guard]\nquarantine = 1h\nquarantine_max = 60min\n"));
}

static void state_dir_relative(void **state)
{
	(void)state;
	expect_one(load("[daemon]\nstate_dir = vnumad\n"),
		   ":2: [daemon] state_dir: 'vnumad' is not an absolute path");
	expect_one(load("[daemon]\nstate_dir =\n"),
		   ":2: [daemon] state_dir: '' is not an absolute path");
}

/* A memory_interval below the tick is fine: memory is read once per tick. */
static void memory_interval_shorter(void **state)
{
	(void)state;
	expect_ok(load("[daemon]\ninterval = 30s\n[sampling]\nmemory_interval = 10s\n"));
	assert_true(cfg.memory_interval == 10 && cfg.interval == 30);
}

/* ---- the command line ---- */

static void overrides_win(void **state)
{
	static const char text[] =
		"[daemon]\ninterval = 5s\ndry_run = no\nlog_level = error\n"
		"[backend]\ntype = libvirt\nscenario = /file.ini\n"
		"[policy]\nname = nosuch\n";
	struct vn_overrides o = {
		.interval = 0.5, .dry_run = true, .backend = VN_BACKEND_SIM,
		.scenario = "/cli.ini", .policy = "locality", .log_level = LOG_DEBUG,
	};
	struct vn_overrides none = { .interval = 0, .dry_run = false,
				     .backend = -1, .log_level = -1 };

	(void)state;
	/* the file alone fails on its policy; the command line's wins */
	assert_int_equal(load(text), -1);
	expect_ok(load_with(text, &o));
	assert_true(cfg.interval == 0.5);
	assert_true(cfg.dry_run);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.backend, VN_BACKEND_SIM);
	assert_string_equal(cfg.scenario, "/cli.ini");
	assert_string_equal(cfg.policy, "locality");
	assert_ptr_equal(cfg.policy_desc, &vn_policy_locality);

	/* unset overrides leave the file's values */
	assert_int_equal(load_with("[daemon]\ninterval = 5s\ndry_run = yes\nlog_level = error\n"
				   "[backend]\ntype = proc\nscenario = /file.ini\n", &none), 0);
	assert_true(cfg.interval == 5);
	assert_true(cfg.dry_run);
	assert_int_equal(cfg.log_level, LOG_ERR);
	assert_int_equal(cfg.backend, VN_BACKEND_PROC);
	assert_string_equal(cfg.scenario, "/file.ini");

	/* and apply without a file too */
	config_free(&cfg);
	expect_ok(config_load(&cfg, NULL, &o, &errs));
	assert_true(cfg.interval == 0.5);
	assert_int_equal(cfg.backend, VN_BACKEND_SIM);
	assert_string_equal(cfg.scenario, "/cli.ini");
}

/*
 * A policy named on the command line is not the file's fault: the message
 * must not point at the file's [policy] name line.
 */
static void override_policy_error_not_blamed_on_file(void **state)
{
	struct vn_overrides o = { .backend = -1, .log_level = -1, .policy = "nosuch" };

	(void)state;
	assert_int_equal(load_with("[policy]\nname = locality\n", &o), -1);
	assert_int_equal(errs.count, 1);
	assert_non_null(strstr(errs.msg[0], "unknown policy 'nosuch'"));
	if (find_prefix(":2:") >= 0)
		fail_msg("blames the file for a command-line value: %s", errs.msg[0]);
}

/* ---- many errors at once ---- */

static void all_errors_reported(void **state)
{
	(void)state;
	assert_int_equal(load("[daemon]\n"
			      "interval = fast\n"		/* 2 */
			      "state_dir = relative\n"		/* 3 */
			      "[backend]\n"
			      "type = xen\n"			/* 5 */
			      "colour = blue\n"			/* 6 */
			      "[guard]\n"
			      "tolerance = 200%\n"		/* 8 */
			      "quarantine = 2h\n"
			      "quarantine_max = 1h\n"		/* 10 */
			      "[policy.locality]\n"
			      "cpu_headroom = maybe\n"		/* 12 */
			      "[policy.nosuch]\n"		/* 13 */
			      "[bogus]\n"),			/* 14 */
			 -1);
	assert_true(find_msg(":2: [daemon] interval: 'fast': not a number") >= 0);
	assert_true(find_msg(":3: [daemon] state_dir: 'relative' is not an absolute path") >= 0);
	assert_true(find_msg(":5: [backend] type: 'xen': expected one of libvirt, proc, sim") >= 0);
	assert_true(find_msg(":6: [backend] colour: unknown key") >= 0);
	assert_true(find_msg(":8: [guard] tolerance: '200%' is out of range (0% to 100%)") >= 0);
	assert_true(find_msg(":10: [guard] quarantine_max: quarantine_max must not be "
			     "shorter than quarantine") >= 0);
	assert_true(find_msg(":12: [policy.locality] cpu_headroom: 'maybe': not a number") >= 0);
	assert_true(find_msg(":13: [policy.nosuch]: no policy named 'nosuch' (built in: place, locality, spread, brm, numad, static, none, chaos)") >= 0);
	assert_true(find_msg(":14: unknown section [bogus]") >= 0);
	if (errs.count != 9) {
		dump_errors();
		fail_msg("%d errors, want 9", errs.count);
	}
}

/* Loading again and again, failing or not, leaks nothing (LSan checks). */
static void free_after_failed_load(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(load(full_conf), 0);
		assert_int_equal(load("[daemon]\ninterval = x\nstate_dir = /a\n"
				      "[guests]\nexclude = a,b\n[policy.locality]\n"
				      "remote_threshold = 2\n[nope]\n"), -1);
		assert_int_equal(load("[daemon\n"), -1);
		assert_int_equal(load("[policy]\nname = /nonexistent/x.so\n"), -1);
	}
	config_free(&cfg);
	/* config_free leaves a zeroed struct, so a second free is harmless */
	assert_null(cfg.path);
	assert_null(cfg.state_dir);
	assert_null(cfg.exclude);
	assert_null(cfg.policy_values);
	config_free(&cfg);
}

/* ---- the INI layer directly, on text held in memory ---- */

static void ini_text_getters(void **state)
{
	struct vn_ini *ini;
	char *s = NULL, **list = NULL;
	double d = -1;
	uint64_t u = 0, mask = 0;
	long l = -1;
	bool b = false;
	int n = -1, idx = -1;
	static const char *const colours[] = { "red", "green", NULL };

	(void)state;
	ini = vn_ini_load_text("inline",
			       "[a]\n"
			       "s = hello\n"
			       "b = yes\n"
			       "l = 42\n"
			       "d = 2.5\n"
			       "p = 25%\n"
			       "t = 2min\n"
			       "z = 4KiB\n"
			       "r = 1MiB/s\n"
			       "m = 0-2,4\n"
			       "e = green\n"
			       "list = x, y\n"
			       "bad = ?\n"
			       "spare = 1\n"
			       "[b]\n"
			       "[c]\n"
			       "k = 1\n", &errs);
	assert_non_null(ini);
	assert_int_equal(errs.count, 0);
	assert_string_equal(vn_ini_path(ini), "inline");
	assert_int_equal(vn_ini_nsections(ini), 3);
	assert_string_equal(vn_ini_section(ini, 0), "a");
	assert_string_equal(vn_ini_section(ini, 2), "c");
	assert_null(vn_ini_section(ini, 3));
	assert_true(vn_ini_has_section(ini, "b"));
	assert_false(vn_ini_has_section(ini, "z"));
	assert_int_equal(vn_ini_line(ini, "a", NULL), 1);
	assert_int_equal(vn_ini_line(ini, "a", "l"), 4);
	assert_int_equal(vn_ini_line(ini, "c", "k"), 17);
	assert_int_equal(vn_ini_line(ini, "a", "absent"), 0);

	assert_int_equal(vn_ini_string(ini, &errs, "a", "s", &s), 1);
	assert_string_equal(s, "hello");
	assert_int_equal(vn_ini_bool(ini, &errs, "a", "b", &b), 1);
	assert_true(b);
	assert_int_equal(vn_ini_long(ini, &errs, "a", "l", &l, 0, 0), 1);
	assert_int_equal(l, 42);
	assert_int_equal(vn_ini_double(ini, &errs, "a", "d", &d, 0, 10), 1);
	assert_true(d == 2.5);
	assert_int_equal(vn_ini_percent(ini, &errs, "a", "p", &d, 0, 1), 1);
	assert_true(d == 0.25);
	assert_int_equal(vn_ini_duration(ini, &errs, "a", "t", &d, 0, 0), 1);
	assert_true(d == 120);
	assert_int_equal(vn_ini_size(ini, &errs, "a", "z", &u, 0, 0), 1);
	assert_true(u == 4096);
	assert_int_equal(vn_ini_rate(ini, &errs, "a", "r", &d, 0, 0), 1);
	assert_true(d == (double)MiB);
	assert_int_equal(vn_ini_nodemask(ini, &errs, "a", "m", &mask), 1);
	assert_true(mask == 0x17);
	assert_int_equal(vn_ini_enum(ini, &errs, "a", "e", colours, &idx), 1);
	assert_int_equal(idx, 1);
	assert_int_equal(vn_ini_list(ini, &errs, "a", "list", &list, &n), 1);
	assert_int_equal(n, 2);
	assert_string_equal(list[0], "x");
	assert_string_equal(list[1], "y");
	assert_null(list[2]);
	assert_int_equal(errs.count, 0);

	/* absent: 0, output untouched */
	l = 7;
	assert_int_equal(vn_ini_long(ini, &errs, "a", "absent", &l, 0, 0), 0);
	assert_int_equal(l, 7);
	assert_int_equal(vn_ini_long(ini, &errs, "nosec", "l", &l, 0, 0), 0);

	/* invalid: -1, output untouched, one message naming the line */
	assert_int_equal(vn_ini_long(ini, &errs, "a", "l", &l, 0, 10), -1);
	assert_int_equal(l, 7);
	assert_string_equal(errs.msg[0], "inline:4: [a] l: '42' is out of range (0 to 10)");
	assert_int_equal(vn_ini_nodemask(ini, &errs, "a", "bad", &mask), -1);
	assert_true(mask == 0x17);
	assert_string_equal(errs.msg[1], "inline:13: [a] bad: '?': "
			    "not a node list (use 0-3,5; nodes 0 to 63)");
	assert_int_equal(vn_ini_enum(ini, &errs, "a", "s", colours, &idx), -1);
	assert_int_equal(idx, 1);
	assert_string_equal(errs.msg[2], "inline:2: [a] s: 'hello': expected one of red, green");
	assert_int_equal(errs.count, 3);

	/* [a] spare was never asked for; [b] and [c] were never claimed */
	errors_free(&errs);
	vn_ini_claim(ini, "b");
	assert_int_equal(vn_ini_check_unknown(ini, &errs), 2);
	assert_string_equal(errs.msg[0], "inline:16: unknown section [c]");
	assert_string_equal(errs.msg[1], "inline:14: [a] spare: unknown key");

	/* vn_ini_error with no key names the section only */
	vn_ini_error(ini, &errs, "b", NULL, "%s", "empty");
	assert_string_equal(errs.msg[2], "inline:15: [b]: empty");

	for (char **p = list; *p; p++)
		free(*p);
	free(list);
	free(s);
	vn_ini_free(ini);
}

static void ini_text_errors(void **state)
{
	struct vn_ini *ini;

	(void)state;
	assert_null(vn_ini_load_text("mem", "[x]\nk = 1\nk = 2\nnot a pair\n", &errs));
	assert_int_equal(errs.count, 2);
	assert_string_equal(errs.msg[0], "mem:3: [x] k: duplicate key (first set at line 2)");
	assert_string_equal(errs.msg[1],
			    "mem:4: syntax error: expected 'key = value' or '[section]'");
	/* the empty text is a valid, empty file */
	errors_free(&errs);
	ini = vn_ini_load_text("mem", "", &errs);
	assert_non_null(ini);
	assert_int_equal(vn_ini_nsections(ini), 0);
	assert_int_equal(vn_ini_check_unknown(ini, &errs), 0);
	vn_ini_free(ini);
}

/* config_option_value: the parser behind every [policy.NAME] key. */
static void option_values(void **state)
{
	static const struct vnumad_option o_int = { "n", VNUMAD_OPT_INT, "1", 1, 10, NULL };
	static const struct vnumad_option o_bool = { "b", VNUMAD_OPT_BOOL, "no", 0, 0, NULL };
	static const struct vnumad_option o_str = { "s", VNUMAD_OPT_STRING, "x", 0, 0, NULL };
	static const struct vnumad_option o_dur = { "d", VNUMAD_OPT_DURATION, "1s", 0, 60, NULL };
	static const struct vnumad_option o_size = { "z", VNUMAD_OPT_SIZE, "1", 0, 0, NULL };
	static const struct vnumad_option o_pct = { "p", VNUMAD_OPT_PERCENT, "1%", 0, 1, NULL };
	static const struct vnumad_option o_dbl = { "f", VNUMAD_OPT_DOUBLE, "1", -1, 1, NULL };
	static const struct vnumad_option o_bad = { "q", (enum vnumad_opt_type)99, "1", 0, 0, NULL };
	struct vnumad_value v;
	const char *why = NULL;

	(void)state;
	assert_int_equal(config_option_value(&o_int, "10", &v, &why), 0);
	assert_true(v.num == 10);
	assert_int_equal(config_option_value(&o_int, "11", &v, &why), -1);
	assert_string_equal(why, "out of range");
	assert_int_equal(config_option_value(&o_int, "2.5", &v, &why), -1);
	assert_string_equal(why, "not an integer");
	assert_int_equal(config_option_value(&o_bool, "on", &v, &why), 0);
	assert_int_equal(v.boolean, 1);
	assert_int_equal(config_option_value(&o_bool, "maybe", &v, &why), -1);
	assert_int_equal(config_option_value(&o_str, "any thing", &v, &why), 0);
	assert_string_equal(v.str, "any thing");
	assert_int_equal(config_option_value(&o_dur, "1min", &v, &why), 0);
	assert_true(v.num == 60);
	assert_int_equal(config_option_value(&o_dur, "61s", &v, &why), -1);
	assert_string_equal(why, "out of range");
	assert_int_equal(config_option_value(&o_size, "2KiB", &v, &why), 0);
	assert_true(v.num == 2048);
	assert_int_equal(config_option_value(&o_pct, "50%", &v, &why), 0);
	assert_true(v.num == 0.5);
	assert_int_equal(config_option_value(&o_pct, "150%", &v, &why), -1);
	assert_int_equal(config_option_value(&o_dbl, "-1", &v, &why), 0);
	assert_true(v.num == -1);
	assert_int_equal(config_option_value(&o_dbl, "nan", &v, &why), -1);
	assert_int_equal(config_option_value(&o_bad, "1", &v, &why), -1);
	assert_string_equal(why, "option of unknown type");
}

/* ---- plugin_check ---- */

static int dummy_tick(void *priv, const struct vnumad_view *view,
		      struct vnumad_out *out)
{
	(void)priv;
	(void)view;
	(void)out;
	return 0;
}

static const struct vnumad_option good_options[] = {
	{ "alpha", VNUMAD_OPT_INT, "1", 0, 10, "an integer" },
	{ "beta_2", VNUMAD_OPT_STRING, "x", 0, 0, NULL },
	{ NULL, 0, NULL, 0, 0, NULL },
};

static const struct vnumad_policy good_policy = {
	VNUMAD_POLICY_INIT,
	.name = "test-policy_1",
	.description = "a test",
	.flags = VNUMAD_POLICY_F_ADVISORY_ONLY,
	.options = good_options,
	.tick = dummy_tick,
};

#define WHERE "/plugins/test.so"

/* Checks p, expecting exactly the messages given, each after "WHERE: ". */
static void check_policy(const struct vnumad_policy *p, int n, ...)
{
	struct vn_errors e = { 0 };
	int r = plugin_check(p, WHERE, &e);
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *want = va_arg(ap, const char *);

		if (i >= e.count || strncmp(e.msg[i], WHERE ": ", strlen(WHERE) + 2) ||
		    strcmp(e.msg[i] + strlen(WHERE) + 2, want) != 0) {
			for (int j = 0; j < e.count; j++)
				print_message("  error %d: %s\n", j, e.msg[j]);
			fail_msg("message %d: want '" WHERE ": %s'", i, want);
		}
	}
	va_end(ap);
	assert_int_equal(e.count, n);
	assert_int_equal(r, n ? -1 : 0);
	errors_free(&e);
}

static void plugin_good(void **state)
{
	struct vnumad_policy p = good_policy;

	(void)state;
	check_policy(&p, 0);
	/* no options at all, and no init or fini, is fine */
	p.options = NULL;
	check_policy(&p, 0);
	/* a larger descriptor, from a newer minor revision, is fine */
	p.size += 64;
	check_policy(&p, 0);
	/* names: 1 to 31 of a-z 0-9 _ - */
	p.name = "a";
	check_policy(&p, 0);
	p.name = "abcdefghijklmnopqrstuvwxyz01234";
	check_policy(&p, 0);
	/* every built-in policy passes its own check */
	for (int i = 0; vn_builtin_policies[i]; i++)
		check_policy(vn_builtin_policies[i], 0);
}

static void plugin_bad_abi(void **state)
{
	struct vnumad_policy p = good_policy;

	(void)state;
	p.abi_major = VNUMAD_POLICY_ABI_MAJOR + 1;
	p.tick = NULL;	/* not reported: nothing past the ABI is read */
	check_policy(&p, 1, "policy ABI 2, this vnumad speaks ABI 1; rebuild the plugin");
	p.abi_major = 0;
	check_policy(&p, 1, "policy ABI 0, this vnumad speaks ABI 1; rebuild the plugin");
}

static void plugin_small_size(void **state)
{
	struct vnumad_policy p = good_policy;
	char want[128];

	/* ABI 1.0's descriptor ends with fini; later members are optional */
	size_t v1 = offsetof(struct vnumad_policy, fini) + sizeof(p.fini);

	(void)state;
	p.size = v1 - sizeof(void *);
	snprintf(want, sizeof(want), "descriptor of %u bytes is smaller than ABI 1's %zu",
		 p.size, v1);
	check_policy(&p, 1, want);
	p.size = 0;
	snprintf(want, sizeof(want), "descriptor of 0 bytes is smaller than ABI 1's %zu", v1);
	check_policy(&p, 1, want);
	p.size = v1;
	check_policy(&p, 0);
}

static void plugin_bad_name(void **state)
{
	static const char *const bad[] = {
		"", "Upper", "has space", "dot.ted", "slash/name", "ümlaut",
		"abcdefghijklmnopqrstuvwxyz012345",	/* 32 */
	};
	struct vnumad_policy p = good_policy;
	char want[128];

	(void)state;
	p.name = NULL;
	check_policy(&p, 1, "policy name missing is invalid (1 to 31 of a-z 0-9 _ -)");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		p.name = bad[i];
		snprintf(want, sizeof(want),
			 "policy name '%s' is invalid (1 to 31 of a-z 0-9 _ -)", bad[i]);
		check_policy(&p, 1, want);
	}
}

static void plugin_unknown_flags(void **state)
{
	struct vnumad_policy p = good_policy;

	(void)state;
	p.flags = VNUMAD_POLICY_F_ADVISORY_ONLY | (1u << 5);
	check_policy(&p, 1, "unknown flag bits 0x20");
	p.flags = 1ULL << 63;
	check_policy(&p, 1, "unknown flag bits 0x8000000000000000");
}

static void plugin_no_tick(void **state)
{
	struct vnumad_policy p = good_policy;

	(void)state;
	p.tick = NULL;
	check_policy(&p, 1, "the policy has no tick callback");
}

static void plugin_bad_options(void **state)
{
	static const struct vnumad_option bad_name[] = {
		{ "Bad Name", VNUMAD_OPT_INT, "1", 0, 0, NULL }, { NULL, 0, NULL, 0, 0, NULL } };
	static const struct vnumad_option no_type[] = {
		{ "x", 0, "1", 0, 0, NULL }, { NULL, 0, NULL, 0, 0, NULL } };
	static const struct vnumad_option big_type[] = {
		{ "x", (enum vnumad_opt_type)(VNUMAD_OPT_STRING + 1), "1", 0, 0, NULL },
		{ NULL, 0, NULL, 0, 0, NULL } };
	static const struct vnumad_option no_default[] = {
		{ "ok", VNUMAD_OPT_BOOL, "no", 0, 0, NULL },
		{ "x", VNUMAD_OPT_INT, NULL, 0, 0, NULL }, { NULL, 0, NULL, 0, 0, NULL } };
	static const struct vnumad_option two_bad[] = {
		{ "", VNUMAD_OPT_INT, "1", 0, 0, NULL },
		{ "y", VNUMAD_OPT_SIZE, NULL, 0, 0, NULL }, { NULL, 0, NULL, 0, 0, NULL } };
	struct vnumad_policy p = good_policy;

	(void)state;
	p.options = bad_name;
	check_policy(&p, 1, "option 'Bad Name' is malformed (name, type, default or range)");
	p.options = no_type;
	check_policy(&p, 1, "option 'x' is malformed (name, type, default or range)");
	p.options = big_type;
	check_policy(&p, 1, "option 'x' is malformed (name, type, default or range)");
	p.options = no_default;
	check_policy(&p, 1, "option 'x' is malformed (name, type, default or range)");
	p.options = two_bad;
	check_policy(&p, 2, "option '' is malformed (name, type, default or range)",
		     "option 'y' is malformed (name, type, default or range)");
}

/*
 * What a worker can describe is what passes in process too: at most 256
 * options, strings of 1023 bytes, ranges that are numbers.
 */
static void plugin_limits(void **state)
{
	static struct vnumad_option many[258];
	static char text[1025];
	struct vnumad_option nan_range[] = {
		{ "x", VNUMAD_OPT_DOUBLE, "1", 0, NAN, NULL }, { NULL, 0, NULL, 0, 0, NULL } };
	struct vnumad_option long_help[] = {
		{ "x", VNUMAD_OPT_INT, "1", 0, 1, text }, { NULL, 0, NULL, 0, 0, NULL } };
	struct vnumad_policy p = good_policy;

	(void)state;
	for (int i = 0; i < 257; i++) {
		char *name = xcalloc(1, 8);

		snprintf(name, 8, "o%d", i);
		many[i] = (struct vnumad_option){ name, VNUMAD_OPT_INT, "1", 0, 1, NULL };
	}
	p.options = many;
	check_policy(&p, 1, "it declares more than 256 options");
	free((char *)many[256].name);
	many[256].name = NULL;
	check_policy(&p, 0);
	for (int i = 0; i < 256; i++)
		free((char *)many[i].name);
	memset(text, 'x', 1024);
	p = good_policy;
	p.description = text;
	check_policy(&p, 1, "its description is longer than 1023 bytes");
	p = good_policy;
	p.options = long_help;
	check_policy(&p, 1, "option 'x' is malformed (name, type, default or range)");
	text[1023] = '\0';	/* 1023 bytes: the most there may be */
	check_policy(&p, 0);
	p.options = nan_range;
	check_policy(&p, 1, "option 'x' is malformed (name, type, default or range)");
}

/* Every problem past the ABI and size is reported, not only the first. */
static void plugin_all_problems(void **state)
{
	static const struct vnumad_option bad_opt[] = {
		{ "X", VNUMAD_OPT_INT, "1", 0, 0, NULL }, { NULL, 0, NULL, 0, 0, NULL } };
	struct vnumad_policy p = good_policy;

	(void)state;
	p.name = "Bad";
	p.flags = 0x6;
	p.tick = NULL;
	p.options = bad_opt;
	check_policy(&p, 4, "policy name 'Bad' is invalid (1 to 31 of a-z 0-9 _ -)",
		     "unknown flag bits 0x6", "the policy has no tick callback",
		     "option 'X' is malformed (name, type, default or range)");
}

/*
 * ---- known defects ----
 * Each of these asserts what the design asks for (every bad input named by
 * file and line, nothing silently dropped) and fails until it is fixed.
 */

/* Junk after a section header: iniparser refuses the file, with no line. */
static void header_junk_names_line(void **state)
{
	(void)state;
	assert_int_equal(load("[daemon] junk\ninterval = 2s\n"), -1);
	if (find_prefix(":1: ") < 0) {
		dump_errors();
		fail_msg("no message names %s:1", path);
	}
}

/*
 * Keys after a malformed header belong to no section; the scan files them
 * under the previous one, and reports a duplicate that is not there.
 */
static void keys_after_bad_header_not_in_previous_section(void **state)
{
	(void)state;
	assert_int_equal(load("[daemon]\ninterval = 1s\n[guard\ninterval = 2s\n"), -1);
	expect_msg(0, ":3: malformed section header: no ']'");
	for (int i = 0; i < errs.count; i++)
		if (strstr(errs.msg[i], "[daemon] interval: duplicate key"))
			fail_msg("line 4 filed under [daemon]: %s", errs.msg[i]);
}

/* A line longer than iniparser's buffer: refused with no line either. */
static void long_line_names_line(void **state)
{
	char text[2200];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), "[guests]\nexclude = ");
	for (int i = 0; i < 400; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "g%d,", i % 10);
	snprintf(text + n, sizeof(text) - n, "\n");
	assert_true(strlen(text) > 1100);
	if (load(text) == 0) {
		assert_int_equal(cfg.nr_exclude, 400);
		return;
	}
	if (find_prefix(":2: ") < 0) {
		dump_errors();
		fail_msg("a long line is refused without naming %s:2", path);
	}
}

/*
 * A comment ending in a backslash: iniparser continues the comment into
 * the next line and drops that key, while the line scan counts the key as
 * set. Either the key is read or an error says why not; never silence.
 */
static void comment_backslash_keeps_key(void **state)
{
	int r;

	(void)state;
	r = load("[daemon]\n# see C:\\\ninterval = 5s\n");
	if (r == 0 && cfg.interval != 5)
		fail_msg("interval = 5s on line 3 silently ignored (interval %g)",
			 cfg.interval);
}

/* A plugin named by path that cannot be loaded: name file, line and key. */
static void plugin_path_error_names_line(void **state)
{
	char text[PATH_MAX + 64];

	(void)state;
	snprintf(text, sizeof(text), "[policy]\nname = %s/absent.so\n", dir);
	assert_int_equal(load(text), -1);
	if (find_prefix(":2: [policy] name: ") < 0) {
		dump_errors();
		fail_msg("want a message starting '%s:2: [policy] name: '", path);
	}
}

/*
 * Range errors of [policy.NAME] keys give the range in the key's own units,
 * as the core keys do, not in the plugin's internal ones.
 */
static void policy_range_in_units(void **state)
{
	(void)state;
	expect_one(load("[policy.locality]\ncpu_headroom = 95%\n"),
		   ":2: [policy.locality] cpu_headroom: '95%%' is out of range (0%% to 90%%)");
	expect_one(load("[policy.locality]\nmemory_batch = 1MiB\n"),
		   ":2: [policy.locality] memory_batch: '1MiB' is out of range "
		   "(2.00 MiB to 1.00 TiB)");
}

/* ---- hostile files: bounded reads, linear work, values iniparser bends ---- */

/* /dev/zero grew the daemon to 1 GB: the read stops past 1 MiB. */
static void endless_file_refused(void **state)
{
	(void)state;
	assert_int_equal(config_load(&cfg, "/dev/zero", NULL, &errs), -1);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msg[0], "/dev/zero: larger than 1024 KiB, the most a "
			    "file of settings may be");
}

static void nul_byte_refused(void **state)
{
	FILE *f = fopen(path, "w");

	(void)state;
	assert_non_null(f);
	fwrite("[daemon]\ninterval = 1s\0\n", 1, 25, f);
	fclose(f);
	config_free(&cfg);
	assert_int_equal(config_load(&cfg, path, NULL, &errs), -1);
	expect_msg(0, ":2: a NUL byte: not a text file");
}

/*
 * 100,000 keys took 27 s (the scan looked every key up linearly, and so
 * does iniparser 4.1): past INI_ENTRIES_MAX the file is refused at once.
 */
static void too_many_keys_refused(void **state)
{
	size_t cap = 1000000, n;
	char *text = malloc(cap);

	(void)state;
	n = (size_t)snprintf(text, cap, "[daemon]\n");
	for (int i = 0; i < 100000 && n < cap - 16; i++)
		n += (size_t)snprintf(text + n, cap - n, "k%x=1\n", i);
	assert_int_equal(load(text), -1);
	expect_msg(0, ":16385: more than 16384 keys and sections, the most a file may have");
	assert_int_equal(errs.count, 1);
	free(text);
}

/* Unknown keys by the thousand: the first 100 are listed, then a count. */
static void unknown_keys_counted(void **state)
{
	size_t cap = 200000, n;
	char *text = malloc(cap);

	(void)state;
	n = (size_t)snprintf(text, cap, "[daemon]\n");
	for (int i = 0; i < 5000; i++)
		n += (size_t)snprintf(text + n, cap - n, "k%d = 1\n", i);
	assert_int_equal(load(text), -1);
	assert_int_equal(errs.count, 101);
	expect_msg(0, ":2: [daemon] k0: unknown key");
	expect_msg(99, ":101: [daemon] k99: unknown key");
	expect_msg(100, ": 4900 more unknown sections and keys (the first 100 are listed)");
	free(text);
}

/* A physical line past iniparser's buffer, continued or not. */
static void long_physical_line(void **state)
{
	char text[3000];
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "[daemon]\ninterval = ");
	memset(text + n, '1', 1500);
	snprintf(text + n + 1500, sizeof(text) - (size_t)n - 1500, "\\\nmore\ndry_run\n");
	assert_int_equal(load(text), -1);
	expect_msg(0, ":2: line too long (at most 1022 characters, continuations included)");
	/* its continuation went with it; the next line is scanned */
	expect_msg(1, ":4: syntax error: expected 'key = value' or '[section]'");
	assert_int_equal(errs.count, 2);
}

/* interval = \ at the end: iniparser dropped the key; it became the default. */
static void backslash_at_end_of_file(void **state)
{
	(void)state;
	expect_one(load("[daemon]\ninterval = \\\n"), ":2: the line ends with a "
		   "backslash, which continues it past the end of the file");
	expect_one(load("[daemon]\ninterval = \\"), ":2: the line ends with a "
		   "backslash, which continues it past the end of the file");
	/* continued onto an empty last line: the value is empty, and said so */
	assert_int_equal(load("[daemon]\ninterval = \\\n\n"), -1);
	expect_msg(0, ":2: [daemon] interval: '': empty value");
}

/* interval = "5s was 5s to iniparser; "5s" junk was 5s too. */
static void quotes_closed(void **state)
{
	(void)state;
	expect_one(load("[daemon]\ninterval = \"5s\n"), ":2: [daemon] interval: "
		   "unterminated quote: the value starts with \" and has no closing one");
	expect_one(load("[daemon]\ninterval = '5s\n"), ":2: [daemon] interval: "
		   "unterminated quote: the value starts with ' and has no closing one");
	expect_one(load("[daemon]\ninterval = \"5s\" 7s\n"), ":2: [daemon] interval: "
		   "text after the closing quote: '7s'");
	expect_ok(load("[daemon]\ninterval = \"5s\" ; a comment\nstate_dir = '/x y'\n"));
	assert_true(cfg.interval == 5);
	assert_string_equal(cfg.state_dir, "/x y");
	expect_ok(load("[guests]\nexclude = \"\"\n"));
	assert_int_equal(cfg.nr_exclude, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(defaults_without_file),
		T(empty_file_is_defaults),
		T(full_file),
		T(shipped_file_is_defaults),
		T(locality_by_name),
		T(names_fold_case),
		T(value_syntax),
		T(section_reopened),
		T(every_key_valid),
		T(every_key_invalid),
		T(exact_value_messages),
		T(unknown_section),
		T(unknown_key),
		T(suspicious_values),
		T(effective_configuration),
		T(duplicate_key),
		T(key_outside_section),
		T(malformed_header),
		T(line_without_equals),
		T(syntax_errors_all_reported),
		T(missing_file),
		T(directory_as_file),
		T(policy_section_bad_value),
		T(policy_section_unknown_key),
		T(policy_section_unknown_policy),
		T(policy_name_unknown),
		T(other_policy_section_checked),
		T(quarantine_max_shorter),
		T(state_dir_relative),
		T(memory_interval_shorter),
		T(overrides_win),
		T(override_policy_error_not_blamed_on_file),
		T(all_errors_reported),
		T(free_after_failed_load),
		T(ini_text_getters),
		T(ini_text_errors),
		T(option_values),
		T(plugin_good),
		T(plugin_bad_abi),
		T(plugin_small_size),
		T(plugin_bad_name),
		T(plugin_unknown_flags),
		T(plugin_no_tick),
		T(plugin_limits),
		T(plugin_bad_options),
		T(plugin_all_problems),
		T(header_junk_names_line),
		T(keys_after_bad_header_not_in_previous_section),
		T(long_line_names_line),
		T(comment_backslash_keeps_key),
		T(plugin_path_error_names_line),
		T(policy_range_in_units),
		T(endless_file_refused),
		T(nul_byte_refused),
		T(too_many_keys_refused),
		T(unknown_keys_counted),
		T(long_physical_line),
		T(backslash_at_end_of_file),
		T(quotes_closed),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
