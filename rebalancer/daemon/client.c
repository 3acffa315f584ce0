// SPDX-License-Identifier: MIT
/*
 * vnumad status | place | migrate: the operator's side of the control
 * socket. `place` also works without a daemon, from a fresh sample of the
 * host taken through the configured backend.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "control.h"
#include "core.h"
#include "log.h"
#include "place.h"
#include "registry.h"
#include "state.h"
#include "util.h"

struct client_opts {
	const char *config;
	bool named;
	const char *socket;
	bool json;
	const char *to;
	const char *memory;
	const char *vcpus;
	bool force;
	struct vn_overrides ov;
};

static int usage(void)
{
	fprintf(stderr,
"usage: vnumad status [-c FILE] [--socket PATH] [--json]\n"
"       vnumad place NCPUS:MEMORY [-c FILE] [--socket PATH] [--json]\n"
"                    [--backend NAME] [--scenario FILE]\n"
"       vnumad migrate GUEST --to NODE [--memory SIZE] [--vcpus LIST] [--force] [--json]\n"
"                    [-c FILE] [--socket PATH]\n");
	return 2;
}

/* The control socket's path: --socket, else the configuration's. */
static char *socket_path(const struct client_opts *o)
{
	struct vn_errors e = { 0 };
	struct vn_config c;
	const char *file = o->config;
	char *path;

	if (o->socket)
		return xstrdup(o->socket);
	if (!o->named && access(file, F_OK) != 0)
		file = NULL;
	if (config_load(&c, file, NULL, &e) < 0) {
		errors_print(&e, stderr);
		errors_free(&e);
		config_free(&c);
		return NULL;
	}
	errors_free(&e);
	path = xstrdup(c.control);
	config_free(&c);
	return path;
}

/* Connects; -errno when nothing answers. */
static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* The connection as a stream to read replies from; NULL (fd closed) if none. */
static FILE *reply_stream(int fd)
{
	FILE *f = fdopen(fd, "r");

	if (!f) {
		fprintf(stderr, "vnumad: %s\n", strerror(errno));
		close(fd);
	}
	return f;
}

static int send_request(int fd, json_t *req)
{
	char *s = json_dumps(req, JSON_COMPACT);
	size_t n;
	int r = 0;

	json_decref(req);
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	s[n] = '\n';
	if (write(fd, s, n + 1) != (ssize_t)(n + 1))
		r = -errno;
	free(s);
	return r;
}

/* The next JSON line from the daemon, or NULL at the end. */
static json_t *next_reply(FILE *f)
{
	json_error_t err;
	json_t *o;

	/* one object per line: the decoder stops at the newline */
	o = json_loadf(f, JSON_DISABLE_EOF_CHECK, &err);
	if (!o && !feof(f))
		fprintf(stderr, "vnumad: garbled reply from the daemon: %s\n", err.text);
	return o;
}

/* Nothing listens there: no daemon runs (as opposed to one we may not reach). */
static bool nobody_there(int err)
{
	return err == -ENOENT || err == -ECONNREFUSED;
}

static void no_daemon(const char *path, int err)
{
	if (nobody_there(err))
		fprintf(stderr, "vnumad: no vnumad daemon is running (nothing answers on %s)\n",
			path);
	else if (err == -EACCES || err == -EPERM)
		fprintf(stderr, "vnumad: permission denied on the control socket %s: only "
			"root may talk to the daemon\n", path);
	else
		fprintf(stderr, "vnumad: cannot reach the daemon on %s: %s\n", path,
			strerror(-err));
}

static const char *size_str(char *buf, size_t len, json_int_t b)
{
	return fmt_size(buf, len, (uint64_t)(b < 0 ? 0 : b));
}

/* A string member of the daemon's reply, "?" where it is missing. */
static const char *jstr(const json_t *v)
{
	const char *s = json_string_value(v);

	return s ? s : "?";
}

/* Where the policy runs and, when it failed, who advises in its place. */
static void print_worker(json_t *s)
{
	json_t *w = json_object_get(s, "policy_worker");
	json_t *pid = json_object_get(w, "pid"), *last = json_object_get(w, "last_failure");
	const char *fb = json_string_value(json_object_get(w, "fallback"));
	json_t *v;
	const char *k;
	char lost[256] = "";
	size_t off = 0;

	if (!json_is_true(json_object_get(w, "isolated"))) {
		if (fb)
			printf("policy %s failed: the built-in default %s advises, nothing "
			       "is applied\n", json_string_value(json_object_get(s, "policy")), fb);
		return;
	}
	json_object_foreach(json_object_get(w, "ticks_lost"), k, v)
		if (json_integer_value(v) && off < sizeof(lost) - 40)
			off += snprintf(lost + off, sizeof(lost) - off, "%s%s %lld",
					off ? ", " : "", k, (long long)json_integer_value(v));
	if (json_is_integer(pid))
		printf("policy worker: pid %lld", (long long)json_integer_value(pid));
	else
		printf("policy worker: none running, next start at tick %lld",
		       (long long)json_integer_value(json_object_get(w, "next_start")));
	printf(", %lld restart%s; ticks lost: %s\n",
	       (long long)json_integer_value(json_object_get(w, "restarts")),
	       json_integer_value(json_object_get(w, "restarts")) == 1 ? "" : "s",
	       *lost ? lost : "none");
	if (json_is_string(last))
		printf("last failure: %s\n", json_string_value(last));
	if (fb)
		printf("the policy failed %lld ticks in a row: the built-in default %s "
		       "advises in its place, nothing is applied, until it answers again\n",
		       (long long)json_integer_value(json_object_get(w, "failures")), fb);
}

/* "1.2GiB/s (uncore) / 20GiB/s (hmat)" of a node; "-" for what is not known. */
static void bw_str(char *buf, size_t len, json_t *node)
{
	double used = json_number_value(json_object_get(node, "bw_used"));
	double max = json_number_value(json_object_get(node, "bw_max"));
	const char *us = json_string_value(json_object_get(node, "bw_used_source"));
	const char *ms = json_string_value(json_object_get(node, "bw_max_source"));
	char a[32] = "-", b[32] = "-";

	if (used > 0)
		fmt_size(a, sizeof(a), (uint64_t)used);
	if (max > 0)
		fmt_size(b, sizeof(b), (uint64_t)max);
	snprintf(buf, len, "%s%s (%s) / %s%s (%s)", a, used > 0 ? "/s" : "",
		 us ? us : "none", b, max > 0 ? "/s" : "", ms ? ms : "none");
}

static void print_status(json_t *s)
{
	json_t *x, *v;
	size_t i, j;
	char a[32], b[32];

	printf("vnumad %s: backend %s, sampling %s, policy %s%s, tick %lld%s\n",
	       jstr(json_object_get(s, "version")),
	       jstr(json_object_get(s, "backend")),
	       jstr(json_object_get(s, "sampler")),
	       jstr(json_object_get(s, "policy")),
	       json_is_true(json_object_get(s, "policy_disabled")) ? " (disabled)" : "",
	       (long long)json_integer_value(json_object_get(s, "tick")),
	       json_is_true(json_object_get(s, "dry_run")) ? ", dry run" : "");
	x = json_object_get(s, "journal");
	if (json_is_object(x) && json_is_false(json_object_get(x, "writable")))
		printf("journal %s cannot be written (%s) for %s: advising only, nothing "
		       "is moved or undone until it can\n",
		       json_string_value(json_object_get(x, "path")),
		       json_string_value(json_object_get(x, "error")),
		       fmt_duration(a, sizeof(a),
				    json_number_value(json_object_get(x, "failing_for"))));
	print_worker(s);
	printf("\n%-6s %5s %6s %22s  %s\n", "node", "cpus", "load", "memory free / total",
	       "bandwidth used / max (source)");
	json_array_foreach(json_object_get(s, "nodes"), i, x) {
		char bw[96];

		bw_str(bw, sizeof(bw), x);
		printf("%-6lld %5lld %5.0f%% %10s / %-10s %s\n",
		       (long long)json_integer_value(json_object_get(x, "node")),
		       (long long)json_integer_value(json_object_get(x, "cpus")),
		       json_number_value(json_object_get(x, "cpu_load")) * 100,
		       size_str(a, sizeof(a), json_integer_value(json_object_get(x, "mem_free"))),
		       size_str(b, sizeof(b), json_integer_value(json_object_get(x, "mem_total"))),
		       bw);
	}
	printf("\n%-16s %5s %-20s %-24s %7s %10s %7s  %s\n", "guest", "vcpus",
	       "vCPU nodes", "memory by node", "remote", "instr/s", "up", "state");
	json_array_foreach(json_object_get(s, "guests"), i, x) {
		char nodes[64] = "", mem[128] = "", flags[96] = "", rem[16], up[32] = "?";
		size_t off = 0;
		const char *k;
		json_t *r = json_object_get(x, "remote_ratio");

		json_array_foreach(json_object_get(x, "vcpus"), j, v) {
			json_t *n = json_object_get(v, "node");

			if (off < sizeof(nodes) - 4)
				off += snprintf(nodes + off, sizeof(nodes) - off, "%s%s", j ? "," : "",
						json_is_integer(n) ? "" : "?");
			if (json_is_integer(n) && off < sizeof(nodes) - 4)
				off += snprintf(nodes + off, sizeof(nodes) - off, "%lld",
						(long long)json_integer_value(n));
		}
		off = 0;
		json_object_foreach(json_object_get(x, "memory"), k, v)
			if (off < sizeof(mem) - 24)
				off += snprintf(mem + off, sizeof(mem) - off, "%s%s:%s",
						off ? " " : "", k,
						size_str(a, sizeof(a), json_integer_value(v)));
		off = 0;
		json_array_foreach(json_object_get(x, "flags"), j, v)
			if (off < sizeof(flags) - 24)
				off += snprintf(flags + off, sizeof(flags) - off, "%s%s",
						off ? "," : "", jstr(v));
		if (json_is_number(r))
			snprintf(rem, sizeof(rem), "%.0f%%", json_number_value(r) * 100);
		else
			snprintf(rem, sizeof(rem), "?");
		/* how long it has run: its age, as the policy reads it */
		if (json_is_number(json_object_get(x, "age")))
			fmt_elapsed(up, sizeof(up), json_number_value(json_object_get(x, "age")));
		printf("%-16s %5zu %-20s %-24s %7s %10.3g %7s  %s\n",
		       jstr(json_object_get(x, "name")),
		       json_array_size(json_object_get(x, "vcpus")), nodes, mem, rem,
		       (double)json_integer_value(json_object_get(x, "ips")), up, flags);
	}
	/* what keeps a guest from being measured or its memory from moving */
	json_array_foreach(json_object_get(s, "guests"), i, x) {
		json_t *um = json_object_get(x, "unmeasured");
		json_t *mf = json_object_get(x, "memory_fixed");

		if (json_is_string(um))
			printf("  %s: cannot be measured: %s\n",
			       json_string_value(json_object_get(x, "name")), json_string_value(um));
		if (json_is_string(mf))
			printf("  %s: memory not movable: %s\n",
			       json_string_value(json_object_get(x, "name")), json_string_value(mf));
	}
	x = json_object_get(s, "trials");
	printf("\ntrials under judgement: %s\n", json_array_size(x) ? "" : "none");
	json_array_foreach(x, i, v) {
		json_t *in = json_object_get(v, "verdict_in");

		printf("  %s: %lld move(s) %s ago, %s", jstr(json_object_get(v, "guest")),
		       (long long)json_integer_value(json_object_get(v, "moves")),
		       fmt_elapsed(a, sizeof(a), json_number_value(json_object_get(v, "applied_ago"))),
		       jstr(json_object_get(v, "state")));
		if (json_is_number(in))
			printf(", verdict in %s", fmt_elapsed(a, sizeof(a), json_number_value(in)));
		printf("\n");
	}
	x = json_object_get(s, "quarantines");
	printf("quarantines: %s\n", json_array_size(x) ? "" : "none");
	json_array_foreach(x, i, v)
		printf("  %s -> node %lld: %s left (strike %lld)\n",
		       jstr(json_object_get(v, "guest")),
		       (long long)json_integer_value(json_object_get(v, "node")),
		       fmt_elapsed(a, sizeof(a), json_number_value(json_object_get(v, "remaining"))),
		       (long long)json_integer_value(json_object_get(v, "strikes")));
}

static int cmd_status(const struct client_opts *o, const char *path)
{
	json_t *req = json_pack("{s:s}", "cmd", "status"), *rep;
	int fd = dial(path);
	FILE *f;

	if (fd < 0) {
		json_decref(req);
		no_daemon(path, fd);
		return 1;
	}
	f = reply_stream(fd);
	if (!f) {
		json_decref(req);
		return 1;
	}
	if (send_request(fd, req) < 0 || !(rep = next_reply(f))) {
		fprintf(stderr, "vnumad: the daemon did not answer\n");
		fclose(f);
		return 1;
	}
	if (o->json) {
		json_object_del(rep, "ok");
		json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
			   JSON_REAL_PRECISION(10));
		printf("\n");
	} else {
		print_status(rep);
	}
	json_decref(rep);
	fclose(f);
	return 0;
}

/* NCPUS:MEMORY, MEMORY a size; a bare number is MiB, as with numad -w. */
static int parse_shape(const char *s, int *ncpus, uint64_t *mem)
{
	const char *colon = strchr(s, ':'), *why;
	char num[32];
	long n;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(num))
		return -1;
	memcpy(num, s, colon - s);
	num[colon - s] = '\0';
	if (parse_long(num, &n, &why) < 0 || n < 1 || n > 4096)
		return -1;
	*ncpus = (int)n;
	if (parse_long(colon + 1, &n, &why) == 0) {
		if (n < 0)
			return -1;
		*mem = (uint64_t)n * MiB;
		return 0;
	}
	return parse_size(colon + 1, mem, &why);
}

/* The answer of a placement, printed; the exit status. */
static int place_print(const struct client_opts *o, int r, uint64_t set, const char *why,
		       const char *source, const char *from)
{
	char nodes[200];

	if (o->json) {
		json_t *x = json_object();

		json_object_set_new(x, "ok", json_boolean(r == 0));
		json_object_set_new(x, "nodes", json_string(fmt_nodemask(nodes, sizeof(nodes), set)));
		json_object_set_new(x, "why", json_string(why));
		json_object_set_new(x, "source", json_string(source));
		json_dumpf(x, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		printf("\n");
		json_decref(x);
	} else {
		if (set)
			printf("%s\n", fmt_nodemask(nodes, sizeof(nodes), set));
		fprintf(stderr, "vnumad: %s (from %s: no daemon runs)\n", why, from);
	}
	return r == 0 ? 0 : 1;
}

/*
 * Placement on a real host when no daemon runs: the kernel's view alone
 * (CPU time over half a second, libnuma's nodes and memory), never
 * libvirt's: the question may come while libvirtd starts the very domain
 * (numad -w), and a call back into it would wait for that start.
 */
static int place_host_sample(const struct client_opts *o, int ncpus, uint64_t mem)
{
	static struct vn_host h;
	struct timespec ts = { 0, 500000000 };
	struct place_stat before, after;
	char why[256];
	uint64_t set = 0;
	int r;

	if (place_stat_read(&before) < 0) {
		fprintf(stderr, "vnumad: cannot read /proc/stat\n");
		return 1;
	}
	nanosleep(&ts, NULL);
	r = place_stat_read(&after);
	if (r == 0)
		r = place_host(&h, &before, &after);
	if (r == 0)
		r = place_nodes(&h, ncpus, mem, &set, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "cannot read the host: %s", strerror(-r));
	place_stat_free(&before);
	place_stat_free(&after);
	return place_print(o, r, set, why, "host sample", "/proc/stat and libnuma");
}

/*
 * Placement from a fresh sample when no daemon runs: on the simulated
 * host two ticks of a dry run, on a real one the kernel's view.
 */
static int place_fresh(const struct client_opts *o, int ncpus, uint64_t mem)
{
	static struct vn_core c;
	struct vn_errors e = { 0 };
	struct vn_overrides ov = o->ov;
	struct event_base *base;
	const char *file = o->config;
	char why[256];
	uint64_t set = 0;
	int r;

	if (!o->named && access(file, F_OK) != 0)
		file = NULL;
	ov.dry_run = true;
	if (config_load(&c.cfg, file, &ov, &e) < 0) {
		errors_print(&e, stderr);
		errors_free(&e);
		config_free(&c.cfg);
		return 1;
	}
	errors_free(&e);
	if (c.cfg.backend != VN_BACKEND_SIM) {
		config_free(&c.cfg);
		return place_host_sample(o, ncpus, mem);
	}
	base = event_base_new();
	if (!base || registry_pick(&c) < 0 || core_open(&c, base, VN_OUT_NONE, stdout) < 0) {
		core_close(&c);
		config_free(&c.cfg);
		if (base)
			event_base_free(base);
		return 1;
	}
	core_tick(&c);
	if (!c.virtual_time) {
		struct timespec ts = { 1, 0 };	/* a second of counting */

		nanosleep(&ts, NULL);
	}
	core_tick(&c);
	r = state_place(&c, ncpus, mem, &set, why, sizeof(why));
	r = place_print(o, r, set, why, "fresh sample", "a fresh sample");
	core_close(&c);
	config_free(&c.cfg);
	event_base_free(base);
	return r;
}

static int cmd_place(const struct client_opts *o, const char *path, const char *shape)
{
	json_t *req, *rep;
	uint64_t mem;
	int ncpus, fd;
	FILE *f;

	if (parse_shape(shape, &ncpus, &mem) < 0) {
		fprintf(stderr, "vnumad: place '%s': expected NCPUS:MEMORY, such as 4:8GiB "
			"(a bare memory figure is MiB)\n", shape);
		return 2;
	}
	fd = dial(path);
	/* a fresh sample only when no daemon runs, not when one may not be asked */
	if (fd < 0 && nobody_there(fd))
		return place_fresh(o, ncpus, mem);
	if (fd < 0) {
		no_daemon(path, fd);
		return 1;
	}
	req = json_pack("{s:s,s:i,s:I}", "cmd", "place", "vcpus", ncpus,
			"memory", (json_int_t)mem);
	f = reply_stream(fd);
	if (!f) {
		json_decref(req);
		return 1;
	}
	if (send_request(fd, req) < 0 || !(rep = next_reply(f))) {
		fprintf(stderr, "vnumad: the daemon did not answer\n");
		fclose(f);
		return 1;
	}
	if (o->json) {
		json_dumpf(rep, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER |
			   JSON_REAL_PRECISION(10));
		printf("\n");
	} else if (json_object_get(rep, "error")) {
		fprintf(stderr, "vnumad: %s\n", json_string_value(json_object_get(rep, "error")));
	} else {
		if (*json_string_value(json_object_get(rep, "nodes")))
			printf("%s\n", json_string_value(json_object_get(rep, "nodes")));
		fprintf(stderr, "vnumad: %s (from the running daemon)\n",
			json_string_value(json_object_get(rep, "why")));
	}
	fd = json_is_true(json_object_get(rep, "ok")) ? 0 : 1;
	json_decref(rep);
	fclose(f);
	return fd;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * ", 96.0 MiB/s, 3s left" for done of total bytes moved in `secs`: the mean
 * rate since the move started (steadier than the last step's) and the time
 * the rest takes at it; nothing until there is a rate to tell.
 */
static void fmt_rate(char *buf, size_t len, json_int_t done, json_int_t total, double secs)
{
	char a[32], b[32];
	double rate = secs > 0 ? (double)done / secs : 0;

	buf[0] = '\0';
	if (!(rate > 0) || secs < 0.05)
		return;
	if (done >= total)
		snprintf(buf, len, ", %s/s", size_str(a, sizeof(a), (json_int_t)rate));
	else
		snprintf(buf, len, ", %s/s, %s left", size_str(a, sizeof(a), (json_int_t)rate),
			 fmt_elapsed(b, sizeof(b), ceil((double)(total - done) / rate)));
}

/* One progress report: a bar on a terminal, a line otherwise. */
static void progress(json_int_t done, json_int_t total, double secs, bool tty)
{
	char a[32], b[32], r[96];
	double f = total > 0 ? (double)done / (double)total : 1;
	int width = 30, fill = (int)lround(f * width);

	fmt_rate(r, sizeof(r), done, total, secs);
	if (!tty) {
		printf("progress %s of %s%s\n", size_str(a, sizeof(a), done),
		       size_str(b, sizeof(b), total), r);
		fflush(stdout);
		return;
	}
	/* \033[K: a shorter line leaves nothing of the last behind */
	printf("\r[%.*s%.*s] %3.0f%% %s of %s%s\033[K", fill, "##############################",
	       width - fill, "..............................", f * 100,
	       size_str(a, sizeof(a), done), size_str(b, sizeof(b), total), r);
	fflush(stdout);
}

static void dump_line(json_t *o)
{
	json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("\n");
	fflush(stdout);
}

/*
 * The exit status of a memory move from its final reply: the daemon's
 * verdict, since a move of huge pages ends within half a huge page of what
 * was asked, either side; from an older daemon, whether all of it moved.
 */
static int migrate_status(json_t *rep)
{
	json_t *c = json_object_get(rep, "complete");

	if (json_integer_value(json_object_get(rep, "failed")))
		return 1;
	if (json_is_boolean(c))
		return json_is_true(c) ? 0 : 1;
	return json_integer_value(json_object_get(rep, "moved")) <
	       json_integer_value(json_object_get(rep, "bytes")) ? 1 : 0;
}

static int cmd_migrate(const struct client_opts *o, const char *path, const char *guest)
{
	json_t *req, *rep, *vcpus = NULL;
	bool tty = isatty(STDOUT_FILENO), shown = false;
	uint64_t mem = 0;
	double start;
	const char *why;
	long to;
	int fd, rc = 0;
	FILE *f;

	if (!o->to || parse_long(o->to, &to, &why) < 0 || to < 0 || to > 63) {
		fprintf(stderr, "vnumad: migrate needs --to NODE (0 to 63)\n");
		return 2;
	}
	if (o->memory && parse_size(o->memory, &mem, &why) < 0) {
		fprintf(stderr, "vnumad: --memory '%s': %s\n", o->memory, why);
		return 2;
	}
	if (o->vcpus) {
		uint64_t mask;

		if (parse_nodemask(o->vcpus, &mask, &why) < 0) {
			fprintf(stderr, "vnumad: --vcpus '%s': expected a list such as 0-3,6\n",
				o->vcpus);
			return 2;
		}
		vcpus = json_array();
		for (int i = 0; i < 64; i++)
			if (mask >> i & 1)
				json_array_append_new(vcpus, json_integer(i));
	}
	fd = dial(path);
	if (fd < 0) {
		json_decref(vcpus);
		no_daemon(path, fd);
		fprintf(stderr, "vnumad: migrate moves through the daemon's mover and guard; "
			"start the daemon first\n");
		return 1;
	}
	req = json_pack("{s:s,s:s,s:i,s:I,s:b}", "cmd", "migrate", "guest", guest,
			"to", (int)to, "memory", (json_int_t)mem, "force", o->force);
	if (vcpus)
		json_object_set_new(req, "vcpus", vcpus);
	else if (o->memory)
		json_object_set_new(req, "vcpus", json_array());	/* memory only */
	f = reply_stream(fd);
	if (!f) {
		json_decref(req);
		return 1;
	}
	if (send_request(fd, req) < 0 || !(rep = next_reply(f))) {
		fprintf(stderr, "vnumad: the daemon did not answer\n");
		fclose(f);
		return 1;
	}
	if (!json_is_true(json_object_get(rep, "ok"))) {
		fprintf(stderr, "vnumad: %s\n", json_string_value(json_object_get(rep, "error")));
		json_decref(rep);
		fclose(f);
		return 1;
	}
	if (o->json)
		dump_line(rep);
	else
		printf("%s\n", json_string_value(json_object_get(rep, "message")));
	/* when memory moves, the final reply is what says how it went */
	if (json_is_true(json_object_get(rep, "follows")))
		rc = -1;
	json_decref(rep);
	start = mono_now();
	while ((rep = next_reply(f))) {
		json_int_t total = json_integer_value(json_object_get(rep, "bytes"));

		if (o->json) {
			/* JSON Lines: the daemon's replies as they come */
			dump_line(rep);
			if (json_is_true(json_object_get(rep, "done")))
				rc = migrate_status(rep);
		} else if (json_object_get(rep, "progress")) {
			progress(json_integer_value(json_object_get(rep, "progress")), total,
				 mono_now() - start, tty);
			shown = true;
		} else if (json_is_true(json_object_get(rep, "done"))) {
			json_int_t moved = json_integer_value(json_object_get(rep, "moved"));
			json_int_t failed = json_integer_value(json_object_get(rep, "failed"));
			const char *err = json_string_value(json_object_get(rep, "error"));
			double secs = mono_now() - start;
			char a[32], b[32], t[32], r[96];

			if (shown || tty)
				progress(moved, total, secs, tty);
			if (tty)
				printf("\n");
			fmt_rate(r, sizeof(r), moved, moved, secs);
			printf("moved %s of %s in %s%s", size_str(a, sizeof(a), moved),
			       size_str(b, sizeof(b), total), fmt_elapsed(t, sizeof(t), secs), r);
			if (failed || err)
				printf("; %s could not move%s%s", size_str(a, sizeof(a), failed),
				       err ? ": " : "", err ? err : "");
			printf("\n");
			rc = migrate_status(rep);
		}
		json_decref(rep);
	}
	fclose(f);
	if (rc < 0) {
		/* the daemon stopped, or was stopped, with the move under way */
		if (shown && tty)
			printf("\n");
		fprintf(stderr, "vnumad: the daemon closed the connection before the "
			"migration ended; vnumad status shows where it stands\n");
		rc = 1;
	}
	return rc;
}

int client_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "to", required_argument, NULL, 't' },
		{ "memory", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'u' },
		{ "force", no_argument, NULL, 'F' },
		{ "backend", required_argument, NULL, 'b' },
		{ "scenario", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts o = { .config = vn_default_config };
	const char *cmd = argv[0];
	char *path;
	int opt, rc;

	o.ov.backend = -1;
	o.ov.log_level = -1;
	log_init(true, LOG_WARNING, "vnumad");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': o.config = optarg; o.named = true; break;
		case 's': o.socket = optarg; break;
		case 'j': o.json = true; break;
		case 't': o.to = optarg; break;
		case 'm': o.memory = optarg; break;
		case 'u': o.vcpus = optarg; break;
		case 'F': o.force = true; break;
		case 'b':
			o.ov.backend = -1;
			for (int i = 0; vn_backend_names[i]; i++)
				if (strcmp(optarg, vn_backend_names[i]) == 0)
					o.ov.backend = i;
			if (o.ov.backend < 0)
				return usage();
			break;
		case 'S': o.ov.scenario = optarg; o.ov.backend = VN_BACKEND_SIM; break;
		case 'h': usage(); return 0;
		default: return usage();
		}
	}
	path = socket_path(&o);
	if (!path)
		return 1;
	if (strcmp(cmd, "status") == 0 && optind == argc)
		rc = cmd_status(&o, path);
	else if (strcmp(cmd, "place") == 0 && optind + 1 == argc)
		rc = cmd_place(&o, path, argv[optind]);
	else if (strcmp(cmd, "migrate") == 0 && optind + 1 == argc)
		rc = cmd_migrate(&o, path, argv[optind]);
	else
		rc = usage();
	free(path);
	return rc;
}
