// SPDX-License-Identifier: MIT
/* vnumad-sim: the command line of the policy evaluation harness. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "policies.h"
#include "trace.h"
#include "util.h"
#include "worker.h"

enum {
	OPT_POLICY = 256,
	OPT_POLICIES,
	OPT_INTERVAL,
	OPT_DURATION,
	OPT_SEED,
	OPT_DRY_RUN,
	OPT_CSV,
	OPT_PLOT,
	OPT_RECORD,
	OPT_PARTIAL,
	OPT_BUDGET,
	OPT_RESTARTS,
	OPT_EXHAUSTIVE,
	OPT_BENCH,
	OPT_NAME,
	OPT_GOAL,
	OPT_JSON,
	OPT_RUNS,
	OPT_TRUTH,
	OPT_REPEAT,
	OPT_NUMAB,
	OPT_SUITE,
	OPT_WORKER,
};

#define PATH_MAX_LEN	4096

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "policies", required_argument, NULL, OPT_POLICIES },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "csv", required_argument, NULL, OPT_CSV },
	{ "plot", required_argument, NULL, OPT_PLOT },
	{ "record", required_argument, NULL, OPT_RECORD },
	{ "partial", no_argument, NULL, OPT_PARTIAL },
	{ "oracle-budget", required_argument, NULL, OPT_BUDGET },
	{ "oracle-restarts", required_argument, NULL, OPT_RESTARTS },
	{ "oracle-exhaustive", required_argument, NULL, OPT_EXHAUSTIVE },
	{ "bench", no_argument, NULL, OPT_BENCH },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "goal", required_argument, NULL, OPT_GOAL },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "runs", required_argument, NULL, OPT_RUNS },
	{ "truth", required_argument, NULL, OPT_TRUTH },
	{ "repeat", required_argument, NULL, OPT_REPEAT },
	{ "numa-balancing", required_argument, NULL, OPT_NUMAB },
	{ "suite", required_argument, NULL, OPT_SUITE },
	{ "worker", no_argument, NULL, OPT_WORKER },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: vnumad-sim run SCENARIO [--policy NAME|PATH|kernel|oracle] [--csv FILE]\n"
"                  [--plot FILE.png] [--record FILE --dry-run]\n"
"       vnumad-sim compare SCENARIO... [--policies A,B,...] [--bench]\n"
"       vnumad-sim replay TRACE [--policy NAME|PATH] [--partial]\n"
"       vnumad-sim speed SCENARIO [--repeat N] [--name NAME --goal N]\n"
"       vnumad-sim guard SCENARIO... [--policy NAME | --policies A,B,...]\n"
"                  [--runs N] [--truth window|instant] [--bench] [-v]\n"
"       vnumad-sim generate --seed N\n"
"\n"
"A SCENARIO is a file, or gen:N or gen:FIRST-LAST: generated scenarios\n"
"(seeds up to 999999 the tuning family, 1000000 to 1999999 validation).\n"
"\n"
"Runs the vnumad core (the daemon's tick pipeline, guard and arbiter) on a\n"
"simulated host and scores policies with the model's true figures.\n"
"\n"
"  -c, --config FILE       vnumad configuration (default: built-in defaults)\n"
"      --policy NAME|PATH  a built-in policy (%s), a plugin,\n"
"                          kernel (no vnumad moves, the host's NUMA balancing\n"
"                          on), or oracle (run only)\n"
"      --policies A,B,...  compare: the policies (default: all built in and\n"
"                          kernel);\n"
"                          guard: default chaos, the configuration's, spread\n"
"      --interval DUR      seconds per tick (default: the configuration's)\n"
"      --duration DUR      simulated time (default: the scenario's, else 10min)\n"
"      --seed N            counter-noise seed instead of the scenario's;\n"
"                          generate: the scenario's seed\n"
"      --dry-run           advise only: apply nothing\n"
"      --worker            run a plugin in an isolated worker process, as\n"
"                          vnumad does (default: in process, for speed)\n"
"      --csv FILE          run: the timeline, one row per tick\n"
"      --plot FILE.png     run: throughput and remote ratio over time (gnuplot)\n"
"      --record FILE       run --dry-run: write a trace of the inventory and samples\n"
"      --partial           replay: accept a trace cut short\n"
"      --oracle-budget N   evaluations per placement search (default %ld)\n"
"      --oracle-restarts N local-search starts (default %d)\n"
"      --oracle-exhaustive N  enumerate up to N placements (default %ld)\n"
"      --runs N            guard: runs per scenario and policy, each with\n"
"                          its own noise and policy seed (default 1)\n"
"      --truth KIND        guard: classify trials by the true change over the\n"
"                          guard's windows (window, the default) or from the\n"
"                          tick before the move (instant)\n"
"      --bench             compare, guard: also BENCH lines for make bench\n"
"      --suite NAME        compare --bench: figures named NAME/...\n"
"      --repeat N          speed: run N times, report the median (default 1)\n"
"      --name ID, --goal N speed: the BENCH line's name and goal\n"
"      --json              JSON Lines: the core's output and the totals\n"
"      --numa-balancing on|off  run, compare: the simulated host's automatic\n"
"                          NUMA balancing on or off for every run (default:\n"
"                          the scenario's [host] numa_balancing; kernel always\n"
"                          has it on); vnumad keeps it unless its\n"
"                          [backend] numa_balancing is disable\n"
"  -v, --verbose           the core's output each tick, the oracle's choices,\n"
"                          guard's misses; twice: the debug log, every trial\n"
"                          of guard (its core log: three times)\n"
"  -h, --help              this help\n"
"  -V, --version           the version\n"
"\n"
"See vnumad-sim(1) and sim/README.md.\n",
		policy_builtin_names(), HS_ORACLE_BUDGET, HS_ORACLE_RESTARTS,
		HS_EXHAUSTIVE_MAX);
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "vnumad-sim: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'vnumad-sim --help'.\n");
	return 2;
}

static int positive_long(const char *opt, const char *arg, long *out)
{
	const char *why;

	if (parse_long(arg, out, &why) < 0 || *out < 1)
		return bad_usage(opt, arg);
	return 0;
}

static char gen_dir[64];

/* Removes the generated scenarios at exit. */
static void remove_generated(void)
{
	DIR *d;
	struct dirent *de;
	char path[PATH_MAX_LEN];

	if (!gen_dir[0] || !(d = opendir(gen_dir)))
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", gen_dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(gen_dir);
}

/* Writes the scenario of one seed into the temporary directory. */
static char *write_generated(long seed)
{
	char path[PATH_MAX_LEN], *text;
	FILE *f;

	if (!gen_dir[0]) {
		snprintf(gen_dir, sizeof(gen_dir), "%s/vnumad-sim-gen.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(gen_dir)) {
			perror("vnumad-sim: a directory for generated scenarios");
			exit(1);
		}
		atexit(remove_generated);
	}
	snprintf(path, sizeof(path), "%s/gen-%ld.ini", gen_dir, seed);
	text = hs_generate((uint64_t)seed);
	f = fopen(path, "w");
	if (!text || !f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "vnumad-sim: cannot write %s\n", path);
		exit(1);
	}
	free(text);
	return xstrdup(path);
}

/*
 * Scenarios named gen:N or gen:A-B (generated, see generate.c) become files
 * in a temporary directory; other names stay. Returns the new list (*n
 * updated), or NULL after saying what is wrong with a name.
 */
static char **expanded;	/* expand_generated's list, for the whole run */
static int nr_expanded;

/* At exit: the list and the names it holds. */
static void free_expanded(void)
{
	for (int i = 0; i < nr_expanded; i++)
		free(expanded[i]);
	free(expanded);
}

static char **expand_generated(char **args, int *n, bool *validation)
{
	char **out = NULL;
	int len = 0;

	*validation = *n > 0;
	for (int i = 0; i < *n; i++) {
		const char *a = args[i], *why;
		long lo, hi;
		char *dash, buf[64];

		if (strncmp(a, "gen:", 4) != 0) {
			out = xreallocarray(out, len + 1, sizeof(*out));
			out[len++] = xstrdup(a);
			*validation = false;
			continue;
		}
		snprintf(buf, sizeof(buf), "%s", a + 4);
		dash = strchr(buf, '-');
		if (dash)
			*dash = '\0';
		if (parse_long(buf, &lo, &why) < 0 || lo < 0 || lo > HS_SEED_MAX ||
		    (dash && (parse_long(dash + 1, &hi, &why) < 0 || hi < lo ||
			      hi > HS_SEED_MAX || hi - lo >= 100000))) {
			bad_usage("'%s': expected gen:SEED or gen:FIRST-LAST, seeds 0 to "
				  "1999999 (1000000 and up: the validation family)", a);
			for (int k = 0; k < len; k++)
				free(out[k]);
			free(out);
			return NULL;
		}
		if (!dash)
			hi = lo;
		if (lo < HS_VALIDATION_SEED)
			*validation = false;
		for (long s = lo; s <= hi; s++) {
			out = xreallocarray(out, len + 1, sizeof(*out));
			out[len++] = write_generated(s);
		}
	}
	*n = len;
	return out;
}

/* generate: the scenario of a seed on stdout. */
static int cmd_generate(long seed)
{
	char *text;

	if (seed < 0)
		return bad_usage("%s", "generate: --seed N is needed");
	if (seed > HS_SEED_MAX)
		return bad_usage("--seed %s: seeds go up to 1999999", "N");
	text = hs_generate((uint64_t)seed);
	if (!text) {
		fprintf(stderr, "vnumad-sim: generate: out of memory\n");
		return 1;
	}
	fputs(text, stdout);
	free(text);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* run: one scenario, one policy (or the oracle), totals on stdout. */
static int cmd_run(const char *scenario, const char *policy, struct hs_opts *o)
{
	char tmp[] = "/tmp/vnumad-sim-csv.XXXXXX";
	struct hs_result r;
	const char *csv = o->csv;
	bool oracle = policy && strcmp(policy, "oracle") == 0;
	int ret;

	if (oracle && (o->csv || o->plot || o->record))
		return bad_usage("%s: the oracle has no timeline (--csv, --plot, --record)",
				 "--policy oracle");
	if (o->plot && !plot_available()) {
		fprintf(stderr, "vnumad-sim: --plot needs gnuplot, which is not in PATH "
			"(install gnuplot-nox, or set GNUPLOT)\n");
		return 1;
	}
	/* a run of minutes should not end in 'cannot write' */
	if (o->plot && plot_check_output(o->plot) < 0)
		return 1;
	if (o->plot && !csv) {
		int fd = mkstemp(tmp);

		if (fd < 0) {
			perror("vnumad-sim: --plot: a temporary file");
			return 1;
		}
		close(fd);
		o->csv = tmp;
	}
	ret = oracle ? hs_oracle(scenario, o, &r, NULL) : hs_run(scenario, policy, o, &r);
	if (ret == 0 && !oracle) {
		struct hs_reference ref;

		ret = hs_reference(scenario, o, &ref);
		if (ret == 0)
			hs_score_result(&r, &ref);
		hs_reference_free(&ref);
		if (ret < 0)
			hs_result_free(&r);
	}
	if (ret == 0) {
		hs_print_result(stdout, &r, o);
		if (o->plot) {
			struct sim *s = hs_load(scenario);
			struct hs_result orc;
			bool level = !oracle && hs_oracle(scenario, o, &orc, NULL) == 0;
			char title[512];

			/* the oracle's level: what the best placement reaches */
			snprintf(title, sizeof(title), "%s, policy %s", scenario, r.policy);
			ret = plot_png(o->plot, o->csv, title, s, r.duration, level ? &orc : NULL);
			if (level)
				hs_result_free(&orc);
			sim_free(s);
		}
		hs_result_free(&r);
	}
	if (o->csv == tmp)
		unlink(tmp);
	o->csv = csv;
	return ret < 0 ? 1 : 0;
}

/*
 * guard: the policies to run, from --policy or --policies, or chaos for
 * harmful moves and the configuration's policy and spread for good ones.
 */
static int cmd_guard(char **scenarios, int n, const char *policy,
		     const char *policies, int runs, const struct hs_opts *o)
{
	char *def = !policy && !policies && n > 0 ? hs_default_policy(scenarios[0], o) : NULL;
	char dflt[256], *list, *items[64];
	int np, ret;

	snprintf(dflt, sizeof(dflt), "chaos,%s%s", def ? def : VN_DEFAULT_POLICY,
		 def && strcmp(def, "spread") == 0 ? "" : ",spread");
	free(def);
	list = xstrdup(policy ? policy : policies ? policies : dflt);
	np = split_list(list, items, (int)ARRAY_SIZE(items));

	if (np <= 0) {
		free(list);
		return bad_usage("%s", "guard: --policies names no policy");
	}
	for (int i = 0; i < np; i++)
		if (strcmp(items[i], "oracle") == 0) {
			free(list);
			return bad_usage("%s", "guard: the oracle makes no trials to judge");
		}
	ret = hs_guard(scenarios, n, items, np, runs, o) < 0 ? 1 : 0;
	free(list);
	return ret;
}

/*
 * speed: simulated seconds per wall second of a run through the core. The
 * runs are deterministic, so repeats differ only in what the machine did
 * meanwhile: the median of several is the figure, min and max its spread.
 */
static int cmd_speed(const char *scenario, const char *policy, struct hs_opts *o,
		     const char *name, const char *goal, int repeat)
{
	struct hs_result r;
	int vcpus = 0;
	struct sim *s = hs_load(scenario);
	double *rate, med, wall;
	char runs[64] = "";

	if (!s)
		return 1;
	for (int g = 0; g < sim_nr_guests(s); g++)
		vcpus += sim_guest_vcpus(s, g);
	sim_free(s);
	rate = xcalloc(repeat, sizeof(*rate));
	for (int i = 0; i < repeat; i++) {
		if (hs_run(scenario, policy, o, &r) < 0) {
			free(rate);
			return 1;
		}
		rate[i] = r.duration / r.wall;
		if (i + 1 < repeat)
			hs_result_free(&r);
	}
	med = median(rate, repeat);	/* sorted: rate[0] and [repeat - 1] are min, max */
	wall = r.duration / med;
	if (repeat > 1)
		snprintf(runs, sizeof(runs), ", median of %d runs (min %.0f, max %.0f)",
			 repeat, rate[0], rate[repeat - 1]);
	printf("speed: %s: %d nodes, %d guests, %d vCPUs, policy %s, %g s ticks: "
	       "%.0f simulated s in %.3f s: %.0f simulated s per wall s%s "
	       "(%.0f us per tick)\n",
	       scenario, r.nr_nodes, r.nr_guests, vcpus, r.policy, r.interval,
	       r.duration, wall, med, runs, wall / (r.duration / r.interval) * 1e6);
	if (name)
		printf("BENCH name=%s value=%.0f unit=sim-s/s goal=%s dir=%s desc=simulated "
		       "seconds per wall second through the core%s: %d nodes, %d guests, "
		       "%d vCPUs, %g s ticks, policy %s\n", name, med,
		       goal ? goal : "-", goal ? "min" : "-", runs, r.nr_nodes,
		       r.nr_guests, vcpus, r.interval, r.policy);
	hs_result_free(&r);
	free(rate);
	return 0;
}

int main(int argc, char **argv)
{
	struct hs_opts o = { .seed = -1, .numa_balancing = -1 };
	const char *policies = NULL, *name = NULL, *goal = NULL, *cmd, *why;
	int opt, nargs, runs = 1, repeat = 0;
	bool truth = false;
	char **args;
	long l;
	double d;

	while ((opt = getopt_long(argc, argv, "c:vhV", long_options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o.config = optarg;
			break;
		case OPT_POLICY:
			o.policy = optarg;
			break;
		case OPT_POLICIES:
			policies = optarg;
			break;
		case OPT_INTERVAL:
			if (parse_duration(optarg, &d, &why) < 0 || d < 0.1 || d > 3600)
				return bad_usage("--interval '%s': expected a duration from 100ms to 1h",
						 optarg);
			o.interval = d;
			break;
		case OPT_DURATION:
			if (parse_duration(optarg, &d, &why) < 0 || d <= 0 || d > 1e8)
				return bad_usage("--duration '%s': expected a positive duration such as 2min",
						 optarg);
			o.duration = d;
			break;
		case OPT_SEED:
			if (parse_long(optarg, &l, &why) < 0 || l < 0 || l > 0x7fffffffL)
				return bad_usage("--seed '%s': expected an integer 0 to 2^31-1", optarg);
			o.seed = l;
			break;
		case OPT_DRY_RUN:
			o.dry_run = true;
			break;
		case OPT_WORKER:
			o.worker = true;
			break;
		case OPT_CSV:
			o.csv = optarg;
			break;
		case OPT_PLOT:
			o.plot = optarg;
			break;
		case OPT_RECORD:
			o.record = optarg;
			break;
		case OPT_PARTIAL:
			o.partial = true;
			break;
		case OPT_BUDGET:
			if (positive_long("--oracle-budget '%s': expected a positive integer",
					  optarg, &o.oracle_budget))
				return 2;
			break;
		case OPT_RESTARTS:
			if (positive_long("--oracle-restarts '%s': expected a positive integer",
					  optarg, &l))
				return 2;
			o.oracle_restarts = (int)MIN(l, 1000000);
			break;
		case OPT_EXHAUSTIVE:
			if (positive_long("--oracle-exhaustive '%s': expected a positive integer",
					  optarg, &o.oracle_exhaustive))
				return 2;
			break;
		case OPT_BENCH:
			o.bench = true;
			break;
		case OPT_NAME:
			name = optarg;
			break;
		case OPT_GOAL:
			if (parse_double(optarg, &d, &why) < 0)
				return bad_usage("--goal '%s': expected a number", optarg);
			goal = optarg;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_TRUTH:
			if (strcmp(optarg, "window") && strcmp(optarg, "instant"))
				return bad_usage("--truth '%s': expected window or instant", optarg);
			o.truth_instant = strcmp(optarg, "instant") == 0;
			truth = true;
			break;
		case OPT_RUNS:
			if (positive_long("--runs '%s': expected a positive integer", optarg, &l))
				return 2;
			runs = (int)MIN(l, 100000);
			break;
		case OPT_REPEAT:
			if (positive_long("--repeat '%s': expected a positive integer",
					  optarg, &l))
				return 2;
			repeat = (int)MIN(l, 1000);
			break;
		case OPT_NUMAB:
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				return bad_usage("--numa-balancing '%s': expected on or off", optarg);
			o.numa_balancing = strcmp(optarg, "on") == 0;
			break;
		case OPT_SUITE:
			if (!*optarg || strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-_") !=
			    strlen(optarg))
				return bad_usage("--suite '%s': expected a name of a-z 0-9 - _",
						 optarg);
			o.suite = optarg;
			break;
		case 'v':
			o.verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vnumad-sim %s (policy ABI %d, trace format %d)\n",
			       VNUMAD_VERSION, VNUMAD_POLICY_ABI_MAJOR, VN_TRACE_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'vnumad-sim --help'.\n");
			return 2;
		}
	}
	if (optind >= argc)
		return bad_usage("%s", "a command is needed: run, compare, replay, speed, guard "
				 "or generate");
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;
	log_init(true, o.verbose > 1 ? LOG_DEBUG : o.verbose ? LOG_INFO : LOG_WARNING,
		 "vnumad-sim");
	/* the worker launcher, when --worker started one, ends with us */
	atexit(worker_shutdown);

	if (repeat && strcmp(cmd, "speed") != 0)
		return bad_usage("%s", "--repeat is for speed");
	if (o.numa_balancing >= 0 && strcmp(cmd, "run") && strcmp(cmd, "compare"))
		return bad_usage("%s", "--numa-balancing is for run and compare");

	if (strcmp(cmd, "generate") == 0) {
		if (nargs)
			return bad_usage("%s", "generate takes no file: --seed N");
		return cmd_generate(o.seed);
	}
	/* the list lives until exit, and is freed then */
	args = expanded = expand_generated(args, &nargs, &o.validation);
	if (!args)
		return 2;
	nr_expanded = nargs;
	atexit(free_expanded);
	if (strcmp(cmd, "guard") == 0) {
		if (nargs < 1)
			return bad_usage("%s", "guard: name at least one scenario");
		if (o.csv || o.plot || o.record || o.json || o.dry_run)
			return bad_usage("%s", "guard: --csv, --plot, --record, --json and "
					 "--dry-run are for run (a dry run has no trials)");
		if (o.policy && policies)
			return bad_usage("%s", "guard: --policy or --policies, not both");
		return cmd_guard(args, nargs, o.policy, policies, runs, &o);
	}
	if (runs != 1 || truth)
		return bad_usage("%s", "--runs and --truth are for guard");
	if (strcmp(cmd, "compare") == 0) {
		if (nargs < 1)
			return bad_usage("%s", "compare: name at least one scenario");
		if (o.csv || o.plot || o.record || o.policy)
			return bad_usage("%s", "compare: --csv, --plot, --record and --policy "
					 "are for run (compare takes --policies)");
		return hs_compare(args, nargs, policies, &o) < 0 ? 1 : 0;
	}
	if (policies)
		return bad_usage("%s", "--policies is for compare and guard (run takes --policy)");
	if (nargs != 1)
		return bad_usage("%s: expected exactly one file", cmd);
	if (strcmp(cmd, "run") == 0) {
		if (o.record && !o.dry_run)
			return bad_usage("%s", "--record: the harness records advisory runs "
					 "(add --dry-run); vnumad --record records any run");
		return cmd_run(args[0], o.policy, &o);
	}
	if (strcmp(cmd, "replay") == 0) {
		if (o.csv || o.plot || o.record)
			return bad_usage("%s", "replay: --csv, --plot and --record are for run");
		if (o.policy && strcmp(o.policy, "oracle") == 0)
			return bad_usage("%s", "replay: the oracle needs the model, not a trace");
		return hs_replay(args[0], &o) ? 1 : 0;
	}
	if (strcmp(cmd, "speed") == 0)
		return cmd_speed(args[0], o.policy, &o, name, goal, repeat ? repeat : 1);
	return bad_usage("unknown command '%s': expected run, compare, replay, speed, "
			 "guard or generate", cmd);
}
