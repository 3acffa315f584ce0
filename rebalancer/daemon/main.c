// SPDX-License-Identifier: MIT
/* vnumad: command line, configuration check, and start-up. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "core.h"
#include "daemon.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "numab.h"
#include "numad.h"
#include "plugin.h"
#include "policies.h"
#include "privs.h"
#include "registry.h"
#include "sampling.h"
#include "trace.h"
#include "util.h"
#include "worker.h"

enum {
	OPT_DRY_RUN = 256,
	OPT_ONCE,
	OPT_TICKS,
	OPT_INTERVAL,
	OPT_BACKEND,
	OPT_SCENARIO,
	OPT_POLICY,
	OPT_JSON,
	OPT_HELP_POLICY,
	OPT_PACE,
	OPT_LIST_KEYS,
	OPT_RECORD,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check", no_argument, NULL, 'n' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "ticks", required_argument, NULL, OPT_TICKS },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "scenario", required_argument, NULL, OPT_SCENARIO },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "pace", no_argument, NULL, OPT_PACE },
	{ "list-config-keys", no_argument, NULL, OPT_LIST_KEYS },
	{ "record", required_argument, NULL, OPT_RECORD },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "help-policy", required_argument, NULL, OPT_HELP_POLICY },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: vnumad [options]\n"
"       vnumad status [-c FILE] [--json]\n"
"       vnumad place NCPUS:MEMORY [-c FILE] [--json]\n"
"       vnumad migrate GUEST --to NODE [--memory SIZE] [--vcpus LIST] [--force] [--json]\n"
"       vnumad numad -w NCPUS[:MIB]   (numad's placement interface, for libvirt)\n"
"\n"
"Keeps the vCPUs of KVM and Xen guests close to their memory, measured with\n"
"performance counters, and undoes every move that made a guest slower.\n"
"\n"
"  -c, --config FILE      configuration file (default %s;\n"
"                         a missing default file means built-in defaults)\n"
"  -n, --check            check the configuration, print every error, exit\n"
"  -f, --foreground       stay in the foreground, log to stderr\n"
"      --dry-run          advisory mode: print recommendations, apply nothing\n"
"      --once             one decision round, then exit\n"
"      --ticks N          run N ticks, then exit\n"
"      --interval DUR     seconds per tick, such as 2s or 500ms\n"
"      --backend NAME     libvirt, proc or sim\n"
"      --scenario FILE    simulated host to run (implies --backend sim)\n"
"      --policy NAME|PATH a built-in policy (%s) or a plugin\n"
"      --json             print JSON Lines instead of text\n"
"      --record FILE      write each tick's inventory and samples to a trace\n"
"                         (replay it with vnumad-sim replay)\n"
"      --pace             with --backend sim: one tick per interval of real\n"
"                         time, as on a live host (default: back to back)\n"
"  -v, --verbose          more detail: held-back proposals, debug log\n"
"      --help-policy NAME the options of a policy\n"
"  -h, --help             this help\n"
"  -V, --version          the version\n"
"\n"
"Signals: SIGTERM/SIGINT stop, SIGHUP reloads the configuration,\n"
"SIGUSR1 writes the current state to the log. See vnumad(8).\n",
		vn_default_config, policy_builtin_names());
}

/* stdin and stdout of a daemon that keeps stderr: /dev/null. */
static void quiet_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	if (fd > 2)
		close(fd);
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "vnumad: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'vnumad --help'.\n");
	return 2;
}

/*
 * Lifts the hard descriptor limit while CAP_SYS_RESOURCE is still held: the
 * samplers raise the soft one as guests come, up to it (6 per vCPU thread).
 */
static void raise_nofile_hard(void)
{
	struct rlimit rl;
	rlim_t want = 1 << 20;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	unsigned long long top;

	if (f) {
		if (fscanf(f, "%llu", &top) == 1 && (rlim_t)top < want)
			want = (rlim_t)top;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY ||
	    rl.rlim_max >= want)
		return;
	rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_debug("cannot raise the hard descriptor limit: %s", strerror(errno));
}

/* An error about a key's value found on the host, worded as the file's are. */
static void key_error(const struct vn_config *c, struct vn_errors *e, const char *sec,
		      const char *key, const char *value, const char *why)
{
	int line = config_line(c, sec, key);

	if (line > 0)
		errors_add(e, "%s:%d: [%s] %s: '%s': %s", c->path, line, sec, key, value, why);
	else
		errors_add(e, "[%s] %s%s: '%s': %s", sec, key, line < 0 ?
			   " (from the command line)" : " (the built-in default)", value, why);
}

/* An error the host's checker worded, naming the key itself. */
static void host_error(const struct vn_config *c, struct vn_errors *e, const char *sec,
		       const char *key, const char *why)
{
	int line = config_line(c, sec, key);

	if (line > 0)
		errors_add(e, "%s:%d: %s", c->path, line, why);
	else
		errors_add(e, "%s", why);
}

/*
 * What the daemon will check of the configuration on this host when it
 * starts, so that -n refuses what the daemon would: the control path (also
 * before a daemon detaches, when a control socket will be opened), and for
 * -n the metrics address, and the counter source with its events.
 */
static int check_host(const struct vn_config *c, bool check, bool control,
		      struct vn_errors *e)
{
	char why[1200], host[1025], num[1025];
	struct sockaddr_storage ss;
	socklen_t sslen;
	int before = e->count;

	if (control && control_check(c->control, why, sizeof(why)) < 0)
		key_error(c, e, "daemon", "control", c->control, why);
	if (!check)
		return e->count > before ? -1 : 0;
	if (c->metrics && metrics_resolve(c->metrics, &ss, &sslen, host, sizeof(host), num,
					  sizeof(num), why, sizeof(why)) < 0)
		key_error(c, e, "daemon", "metrics", c->metrics, why);
	if (c->backend != VN_BACKEND_SIM && !sampling_select(c, why, sizeof(why)))
		host_error(c, e, "sampling", c->events ? "events" : "source", why);
	return e->count > before ? -1 : 0;
}

/*
 * Closes the --record trace; -1 when it is incomplete: a write failed
 * during the run (the core then stopped recording and said so) or at the
 * end.
 */
static int finish_trace(struct vn_core *c, const char *path)
{
	struct vn_trace *t = c->trace;
	int r;

	if (!t) {
		log_warnx("--record %s: the trace is incomplete: recording stopped "
			  "during the run", path);
		return -1;
	}
	c->trace = NULL;
	r = trace_close(t);
	if (r < 0) {
		log_warnx("--record %s: the trace could not be finished: %s", path,
			  strerror(-r));
		return -1;
	}
	return 0;
}

/*
 * At exit, whatever the path: output that did not reach its reader (a full
 * disk, a closed pipe) makes the run a failure, said so, as coreutils'
 * close_stdout does.
 */
static void close_stdout(void)
{
	bool lost = ferror(stdout);
	int err = fclose(stdout) != 0 ? errno : 0;

	if (!lost && !err)
		return;
	if (err)
		fprintf(stderr, "vnumad: standard output: %s\n", strerror(err));
	else
		fprintf(stderr, "vnumad: standard output: some of it could not be written\n");
	_exit(1);
}

static int help_policy(const char *name)
{
	struct vn_errors e = { 0 };
	const struct vnumad_policy *p = policy_builtin(name);
	struct vn_config c;
	void *handle = NULL;

	/* as the daemon would run it: described by a worker, never loaded here */
	config_defaults(&c);
	if (!p && strchr(name, '/'))
		p = plugin_load(name, &c, &handle, &e);
	config_free(&c);
	if (!p) {
		if (e.count)
			errors_print(&e, stderr);
		else
			fprintf(stderr, "vnumad: unknown policy '%s' (built in: %s)\n",
				name, policy_builtin_names());
		errors_free(&e);
		return 1;
	}
	plugin_print_help(p, stdout);
	plugin_unload(handle);
	return 0;
}

int main(int argc, char **argv)
{
	static struct vn_daemon d;
	struct vn_errors e = { 0 };
	const char *config = NULL, *why, *record = NULL;
	bool check = false, foreground = false, json = false, named = false, quiet = false;
	int verbose = 0, opt, r;
	bool list_keys = false;
	long ticks;

	atexit(close_stdout);
	/* /usr/bin/numad may be this program (vnumad(8)): numad's command line */
	if (strcmp(strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0], "numad") == 0)
		return numad_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "numad") == 0)
		return numad_main(argc - 1, argv + 1);
	if (argc > 1 && (strcmp(argv[1], "status") == 0 || strcmp(argv[1], "place") == 0 ||
			 strcmp(argv[1], "migrate") == 0))
		return client_main(argc - 1, argv + 1);
	d.ov.backend = -1;
	d.ov.log_level = -1;
	while ((opt = getopt_long(argc, argv, "c:nfvhV", long_options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			named = true;
			break;
		case 'n':
			check = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 'v':
			verbose++;
			break;
		case OPT_DRY_RUN:
			d.ov.dry_run = true;
			break;
		case OPT_ONCE:
			d.once = true;
			break;
		case OPT_TICKS:
			if (parse_long(optarg, &ticks, &why) < 0 || ticks < 1)
				return bad_usage("--ticks '%s': expected a positive integer", optarg);
			d.max_ticks = (uint64_t)ticks;
			break;
		case OPT_INTERVAL:
			if (parse_duration(optarg, &d.ov.interval, &why) < 0)
				return bad_usage("--interval '%s': expected a duration such as 2s or 500ms",
						 optarg);
			if (d.ov.interval < 0.1 || d.ov.interval > 3600)
				return bad_usage("--interval '%s': out of range (100ms to 1h)", optarg);
			break;
		case OPT_BACKEND:
			d.ov.backend = -1;
			for (int i = 0; vn_backend_names[i]; i++)
				if (strcmp(optarg, vn_backend_names[i]) == 0)
					d.ov.backend = i;
			if (d.ov.backend < 0)
				return bad_usage("--backend '%s': expected libvirt, proc or sim", optarg);
			break;
		case OPT_SCENARIO:
			d.ov.scenario = optarg;
			break;
		case OPT_POLICY:
			d.ov.policy = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_PACE:
			d.pace = true;
			break;
		case OPT_LIST_KEYS:
			list_keys = true;
			break;
		case OPT_RECORD:
			record = optarg;
			break;
		case OPT_HELP_POLICY:
			return help_policy(optarg);
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vnumad %s (policy ABI %d)\n", VNUMAD_VERSION,
			       VNUMAD_POLICY_ABI_MAJOR);
			return 0;
		default:
			fprintf(stderr, "Try 'vnumad --help'.\n");
			return 2;
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (list_keys) {
		config_list_keys(stdout, verbose > 0);
		return 0;
	}
	if (d.ov.scenario) {
		if (d.ov.backend >= 0 && d.ov.backend != VN_BACKEND_SIM)
			return bad_usage("--scenario '%s' needs --backend sim", d.ov.scenario);
		d.ov.backend = VN_BACKEND_SIM;
	}
	/* -v is more log, except with -n, where it prints the configuration */
	if (verbose && !check)
		d.ov.log_level = LOG_DEBUG;

	/* a missing default file means built-in defaults; a named one must exist */
	if (!named) {
		config = vn_default_config;
		if (access(config, F_OK) != 0)
			config = NULL;
	}
	d.config_path = config;
	/*
	 * Advisory and bounded runs report to the terminal. A daemon run with
	 * -f whose standard output is no terminal is a service (systemd's
	 * journal, another supervisor's pipe, a file): it logs what a detached
	 * daemon logs, the tick lines only at debug level, instead of printing
	 * 43,200 of them a day at 2 s.
	 */
	if (d.ov.dry_run || d.once || d.max_ticks || json || check)
		foreground = true;
	else if (foreground && !isatty(STDOUT_FILENO))
		quiet = true;
	log_init(true, LOG_INFO, "vnumad");

	r = config_load(&d.core.cfg, config, &d.ov, &e);
	/* the daemon refuses a state directory it cannot trust: so does -n */
	if (check && r == 0 && d.core.cfg.backend != VN_BACKEND_SIM && !d.core.cfg.dry_run) {
		char unsafe[512];
		int sr = journal_check_dir(d.core.cfg.state_dir, unsafe, sizeof(unsafe));

		if (sr == -EPERM) {
			errors_add(&e, "%s: [daemon] state_dir: %s", config ? config :
				   "built-in defaults", unsafe);
			r = -1;
		} else if (sr < 0) {
			fprintf(stderr, "warning: [daemon] state_dir: %s: the daemon would only "
				"advise until it can write there\n", unsafe);
		}
	}
	/* a bounded run is a one-off: it takes no control socket */
	if (r == 0)
		r = check_host(&d.core.cfg, check, check || (!d.once && !d.max_ticks), &e);
	if (check) {
		for (int i = 0; i < d.core.cfg.warnings.count; i++)
			fprintf(stderr, "warning: %s\n", d.core.cfg.warnings.msg[i]);
		if (r < 0) {
			errors_print(&e, stderr);
			fprintf(stderr, "%d error%s\n", e.count, e.count == 1 ? "" : "s");
		} else {
			if (verbose)
				config_print(&d.core.cfg, stdout);
			printf("configuration OK\n");
		}
		errors_free(&e);
		config_free(&d.core.cfg);
		return r < 0 ? 1 : 0;
	}
	if (r < 0) {
		errors_print(&e, stderr);
		errors_free(&e);
		config_free(&d.core.cfg);
		return 1;
	}
	errors_free(&e);
	log_setlevel(d.core.cfg.log_level);
	for (int i = 0; i < d.core.cfg.warnings.count; i++)
		log_warning("%s", d.core.cfg.warnings.msg[i]);

	/* two daemons on one host would fight: say so before detaching */
	if (!d.once && !d.max_ticks && control_answers(d.core.cfg.control)) {
		log_warnx("another vnumad is running: its control socket %s answers",
			  d.core.cfg.control);
		config_free(&d.core.cfg);
		return 1;
	}
	/* other balancers of the same threads, where moves are applied */
	if (d.core.cfg.backend != VN_BACKEND_SIM && !d.core.cfg.dry_run)
		numab_rivals();
	if (!foreground && access("/dev/log", F_OK) != 0) {
		/* no syslog daemon and no journald: the log would go nowhere */
		log_warning("no /dev/log (no syslog daemon or journald): the log goes to "
			    "stderr, which stays open in the background");
		if (daemon(0, 1) < 0)
			fatal("daemon");
		quiet_stdio();
	} else if (!foreground) {
		if (daemon(0, 0) < 0)
			fatal("daemon");
		log_init(false, d.core.cfg.log_level, "vnumad");
	}
	d.core.verbose = verbose > 0;
	d.core.once = d.once;
	if (daemon_init(&d) < 0) {
		config_free(&d.core.cfg);
		return 1;
	}
	/* a bounded run is a one-off: it takes no control socket */
	if (!d.once && !d.max_ticks) {
		int err;

		d.control = control_open(d.base, d.core.cfg.control, &d.core, &err);
		/* another daemon, or a path that is not safe (checked just now) */
		if (!d.control && (err == -EADDRINUSE || err == -EEXIST || err == -EPERM)) {
			daemon_fini(&d);
			config_free(&d.core.cfg);
			return 1;
		}
		if (!d.control)
			log_warning("no control socket: vnumad status, place and migrate "
				    "will not reach this daemon");
	}
	/* like the control socket: a bounded run is a one-off */
	if (d.core.cfg.metrics && !d.once && !d.max_ticks) {
		d.metrics = metrics_open(d.base, d.core.cfg.metrics, &d.core);
		if (!d.metrics) {
			control_close(d.control);
			daemon_fini(&d);
			config_free(&d.core.cfg);
			return 1;
		}
	}
	/* the kernel's own balancing, while privileges allow (never for a model) */
	if (d.core.cfg.backend != VN_BACKEND_SIM && !d.core.cfg.dry_run)
		numab_setup(&d.core.cfg);
	r = registry_pick(&d.core);
	if (r == 0)
		r = core_open(&d.core, d.base, json ? VN_OUT_JSON :
			      foreground && !quiet ? VN_OUT_TEXT : VN_OUT_NONE, stdout);
	if (r < 0) {
		metrics_close(d.metrics);
		control_close(d.control);
		core_close(&d.core);
		numab_restore();
		daemon_fini(&d);
		config_free(&d.core.cfg);
		return 1;
	}
	/* from here on, only what moving threads and pages needs */
	raise_nofile_hard();
	if (d.core.cfg.backend != VN_BACKEND_SIM && privs_drop() < 0) {
		metrics_close(d.metrics);
		control_close(d.control);
		core_close(&d.core);
		numab_restore();
		daemon_fini(&d);
		config_free(&d.core.cfg);
		return 1;
	}
	if (record) {
		char err[512];

		d.core.trace = trace_open_write(record, &d.core, err, sizeof(err));
		if (!d.core.trace) {
			log_warnx("%s", err);
			metrics_close(d.metrics);
			control_close(d.control);
			core_close(&d.core);
			daemon_fini(&d);
			config_free(&d.core.cfg);
			return 1;
		}
	}
	r = daemon_run(&d);
	metrics_close(d.metrics);
	control_close(d.control);
	/* a trace cut short is a failed run, not a quiet partial success */
	if (record && finish_trace(&d.core, record) < 0 && r == 0)
		r = 1;
	log_info("stopped after %llu ticks: %llu vCPU moves, %llu memory moves, "
		 "%llu kept, %llu reverted",
		 (unsigned long long)d.core.stats.ticks,
		 (unsigned long long)d.core.stats.vcpu_moves,
		 (unsigned long long)d.core.stats.memory_moves,
		 (unsigned long long)d.core.stats.kept,
		 (unsigned long long)d.core.stats.reverted);
	core_close(&d.core);
	worker_shutdown();
	numab_restore();
	daemon_fini(&d);
	config_free(&d.core.cfg);
	return r;
}
