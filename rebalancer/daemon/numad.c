// SPDX-License-Identifier: MIT
/*
 * vnumad numad -w NCPUS[:MIB]: numad's placement interface, for libvirt.
 *
 * A domain with <vcpu placement='auto'> or <numatune><memory
 * placement='auto'> makes libvirtd run `/usr/bin/numad -w NCPUS:MIB` while
 * it starts the domain (src/util/virnuma.c, virNumaGetAutoPlacementAdvice)
 * and take the node set printed on stdout; a non-zero exit fails the
 * start. numad answers with its best effort even on a full host, exit 0,
 * as a list such as "0-1,3". So does this:
 *
 *  - when a vnumad daemon answers on its control socket within DAEMON_MS,
 *    with the daemon's view of the host;
 *  - else from the kernel alone: /proc/stat sampled over SAMPLE_MS, and
 *    libnuma's nodes, CPUs and free memory. Never through libvirt: libvirtd
 *    is busy starting the domain that waits for this answer, and a call back
 *    into it (the first vnumad place did that) hung until virsh gave up.
 *
 * Either way the answer comes within about 100 ms (numad takes 2 s without
 * its daemon). It runs as its own small program, vnumad-numad, which
 * links none of vnumad's libraries but libnuma, jansson and iniparser, so
 * that it starts in milliseconds; `vnumad numad` is the same. vnumad's
 * manual page says how to put it behind /usr/bin/numad (a dpkg diversion)
 * and how to take it away again.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "hostinfo.h"
#include "ini.h"
#include "numad.h"
#include "place.h"
#include "util.h"
#include "vnumad.h"
#include "vnumad_paths.h"	/* generated: PREFIX and the directories */

/* vnumad links config.c for vn_default_config; this lean program does not */
#define NUMAD_CONFIG	VNUMAD_SYSCONFDIR "/vnumad.conf"

#define DAEMON_MS	50	/* how long the daemon may take to answer */
#define SAMPLE_MS	40	/* the shortest /proc/stat window */

static int usage(FILE *f, int rc)
{
	fprintf(f,
"usage: numad -w NCPUS[:MIB] [-c FILE] [--socket PATH] [-v]\n"
"       vnumad numad -w NCPUS[:MIB] [-c FILE] [--socket PATH] [-v]\n"
"\n"
"Prints the NUMA nodes where a guest of NCPUS vCPUs and MIB MiB of memory\n"
"should start, as numad -w does for libvirt's placement='auto'; always exits 0\n"
"with a best-effort answer. Asks the running vnumad daemon (its control\n"
"socket, from -c FILE or %s), else samples the host\n"
"(/proc/stat, libnuma) for %d ms. Only -w is numad's: vnumad itself is the\n"
"daemon that balances guests. See vnumad(8).\n", NUMAD_CONFIG, SAMPLE_MS);
	return rc;
}

static double ms_since(double t0)
{
	return (now_monotonic() - t0) * 1e3;
}

/* NCPUS[:MIB], as numad parses it: the memory is optional. */
static int parse_request(const char *s, int *ncpus, uint64_t *mem)
{
	const char *why, *colon = strchr(s, ':');
	char num[32];
	long n, mib = 0;

	if ((colon ? (size_t)(colon - s) : strlen(s)) >= sizeof(num))
		return -1;
	snprintf(num, sizeof(num), "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
	if (parse_long(num, &n, &why) < 0 || n < 1 || n > 4096)
		return -1;
	if (colon && (parse_long(colon + 1, &mib, &why) < 0 || mib < 0))
		return -1;
	*ncpus = (int)n;
	/* more than any host has (1 EiB) is as good as 1 EiB: no overflow */
	*mem = (uint64_t)MIN(mib, 1L << 40) * MiB;
	return 0;
}

/*
 * The control socket's path: --socket, else [daemon] control of the
 * configuration file, else the default. Only that key is read: loading
 * the whole configuration could load a policy plugin, which has no place
 * here.
 */
static char *control_path(const char *sock, const char *file, bool named)
{
	struct vn_errors e = { 0 };
	struct vn_ini *ini;
	const char *v;
	char *path;

	if (sock)
		return xstrdup(sock);
	path = xstrdup(VN_DEFAULT_CONTROL);
	if ((named || access(file, F_OK) == 0) && (ini = vn_ini_load(file, &e))) {
		v = vn_ini_get(ini, "daemon", "control");
		if (v && v[0] == '/') {
			free(path);
			path = xstrdup(v);
		}
		vn_ini_free(ini);
	}
	errors_free(&e);
	return path;
}

/* Waits for fd until the deadline (ms since t0); true when ready. */
static bool wait_fd(int fd, short events, double t0, double deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		double left = deadline - ms_since(t0);
		int r;

		if (left <= 0)
			return false;
		r = poll(&p, 1, (int)left + 1);
		if (r > 0)
			return !(p.revents & (POLLERR | POLLNVAL)) || (p.revents & POLLIN);
		if (r == 0 || errno != EINTR)
			return false;
	}
}

/*
 * The running daemon's answer, within DAEMON_MS of t0: its node set in
 * nodes, its reason in why. False when no daemon answers in time, or its
 * answer holds no node.
 */
static bool ask_daemon(const char *path, int ncpus, uint64_t mem, double t0,
		       char *nodes, size_t nlen, char *why, size_t wlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[128], rep[1024];
	size_t got = 0;
	json_t *o = NULL;
	bool ok = false;
	int fd, n;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    (errno != EINPROGRESS && errno != EAGAIN))
		goto out;
	n = snprintf(req, sizeof(req), "{\"cmd\":\"place\",\"vcpus\":%d,\"memory\":%llu}\n",
		     ncpus, (unsigned long long)mem);
	if (!wait_fd(fd, POLLOUT, t0, DAEMON_MS) || write(fd, req, (size_t)n) != n)
		goto out;
	/* one line of JSON back */
	while (got < sizeof(rep) - 1 && !memchr(rep, '\n', got)) {
		ssize_t r;

		if (!wait_fd(fd, POLLIN, t0, DAEMON_MS))
			goto out;
		r = read(fd, rep + got, sizeof(rep) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	rep[got] = '\0';
	o = json_loads(rep, JSON_DISABLE_EOF_CHECK, NULL);
	if (o && json_is_string(json_object_get(o, "nodes")) &&
	    *json_string_value(json_object_get(o, "nodes"))) {
		snprintf(nodes, nlen, "%s", json_string_value(json_object_get(o, "nodes")));
		snprintf(why, wlen, "%s", json_is_string(json_object_get(o, "why")) ?
			 json_string_value(json_object_get(o, "why")) : "");
		ok = true;
	}
out:
	json_decref(o);
	close(fd);
	return ok;
}

/*
 * The answer from the kernel alone: the CPU time spent since `before`
 * (waiting out SAMPLE_MS from t0 first), libnuma's nodes and memory.
 */
static void answer_locally(const struct place_stat *before, double t0, int ncpus,
			   uint64_t mem, char *nodes, size_t nlen, char *why, size_t wlen)
{
	static struct vn_host h;	/* large: not on the stack */
	struct place_stat after;
	uint64_t set = 0;
	double left = SAMPLE_MS - ms_since(t0);

	if (left > 0) {
		struct timespec ts = { 0, (long)(left * 1e6) };

		nanosleep(&ts, NULL);
	}
	if (place_stat_read(&after) < 0 || place_host(&h, before, &after) < 0) {
		snprintf(why, wlen, "cannot read the host; every node");
	} else {
		place_nodes(&h, ncpus, mem, &set, why, wlen);
	}
	place_stat_free(&after);
	/* the best effort of all: every node there is */
	if (!set)
		set = hostinfo_online_nodes();
	fmt_nodemask(nodes, nlen, set ? set : 1);
}

int numad_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *request = NULL, *sock = NULL, *file = NUMAD_CONFIG;
	double t0 = now_monotonic();
	struct place_stat before;
	char nodes[256], why[256], *path;
	bool named = false, verbose = false, daemon_said;
	uint64_t mem = 0;
	int opt, ncpus;

	/* the CPU time window starts at once: it runs while the daemon is asked */
	place_stat_read(&before);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:dD:hi:l:p:r:S:u:vVw:x:", opts, NULL)) != -1) {
		switch (opt) {
		case 'w': request = optarg; break;
		case 'c': file = optarg; named = true; break;
		case 's': sock = optarg; break;
		case 'v': case 'd': verbose = true; break;
		case 'l': break;	/* numad's log level: nothing to log */
		case 'V':
			printf("vnumad %s: numad's -w interface\n", VNUMAD_VERSION);
			place_stat_free(&before);
			return 0;
		case 'h':
			place_stat_free(&before);
			return usage(stdout, 0);
		case '?':
			place_stat_free(&before);
			fprintf(stderr, "numad: unknown option or missing value\n");
			return usage(stderr, 1);
		default:
			/* numad's daemon options: vnumad is the daemon here */
			place_stat_free(&before);
			fprintf(stderr, "numad: -%c is numad's daemon option; this numad is "
				"vnumad's placement interface and answers -w only (vnumad "
				"itself balances the guests; numad proper, if installed, "
				"is /usr/bin/numad.distrib)\n", opt);
			return 1;
		}
	}
	if (!request || optind < argc) {
		place_stat_free(&before);
		return usage(stderr, 1);
	}
	if (parse_request(request, &ncpus, &mem) < 0) {
		place_stat_free(&before);
		fprintf(stderr, "numad: -w '%s': expected NCPUS[:MIB], such as 4:8192\n",
			request);
		return 1;
	}
	path = control_path(sock, file, named);
	daemon_said = ask_daemon(path, ncpus, mem, t0, nodes, sizeof(nodes), why, sizeof(why));
	if (!daemon_said)
		answer_locally(&before, t0, ncpus, mem, nodes, sizeof(nodes), why, sizeof(why));
	printf("%s\n", nodes);
	fflush(stdout);
	if (verbose)
		fprintf(stderr, "numad: %d vCPUs, %llu MiB: node%s %s: %s (%s, %.0f ms)\n",
			ncpus, (unsigned long long)(mem / MiB), strpbrk(nodes, ",-") ? "s" : "",
			nodes, why, daemon_said ? "from the running vnumad" :
			"from /proc/stat and libnuma: no vnumad answered", ms_since(t0));
	free(path);
	place_stat_free(&before);
	return 0;
}
