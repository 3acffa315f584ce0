// SPDX-License-Identifier: MIT
/*
 * --plot: the timeline drawn by gnuplot. Two panels share the time axis:
 * the guests' aggregate throughput with a mark at every tick where vnumad
 * moved something (and a cross at reverts) and the oracle's mean level as
 * a dashed line, and the remote share of DRAM accesses. Each y axis is
 * fitted to its data, the legends sit above the panels, and the scenario's
 * arrivals, departures and phase changes are dotted lines, labelled in the
 * upper panel. gnuplot is run as a program, with a script written to a
 * temporary file; a missing gnuplot and an output that cannot be written
 * are reported before the run starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

extern char **environ;

/* The gnuplot to run: $GNUPLOT, else gnuplot in $PATH. */
static const char *gnuplot(void)
{
	const char *g = getenv("GNUPLOT");

	return g && *g ? g : "gnuplot";
}

bool plot_available(void)
{
	const char *g = gnuplot(), *path = getenv("PATH");
	char buf[4096];

	if (strchr(g, '/'))
		return access(g, X_OK) == 0;
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n)
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, g);
		else
			snprintf(buf, sizeof(buf), "./%s", g);
		if (access(buf, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

/* A string for gnuplot's single quotes, where '' stands for one quote. */
static void quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

/* The ranges of a timeline: throughput (G instr/s) and remote share (%). */
struct plot_range {
	double ips_lo, ips_hi;
	double remote_hi;
	int rows;
};

/* Reads the timeline's ips and remote_ratio columns for the y ranges. */
static int read_ranges(const char *csv, struct plot_range *pr)
{
	FILE *f = fopen(csv, "r");
	char line[8192];

	pr->ips_lo = INFINITY;
	pr->ips_hi = -INFINITY;
	pr->remote_hi = 0;
	pr->rows = 0;
	if (!f) {
		fprintf(stderr, "vnumad-sim: --plot: %s: %s\n", csv, strerror(errno));
		return -1;
	}
	/* the first line names the columns: tick,time,ips,remote_ratio,... */
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char *ips = strchr(line, ','), *rem;
		double v;

		ips = ips ? strchr(ips + 1, ',') : NULL;
		if (!ips)
			continue;
		ips++;
		rem = strchr(ips, ',');
		v = strtod(ips, NULL) / 1e9;
		pr->ips_lo = MIN(pr->ips_lo, v);
		pr->ips_hi = MAX(pr->ips_hi, v);
		if (rem && rem[1] != ',' && rem[1] != '\n')
			pr->remote_hi = MAX(pr->remote_hi, strtod(rem + 1, NULL) * 100);
		pr->rows++;
	}
	fclose(f);
	return 0;
}

/* One vertical mark: when, and what happened then ("a leaves, e arrives"). */
struct plot_mark {
	double at;
	char what[160];
};

static void add_mark(struct plot_mark *m, int *n, int cap, double at, const char *fmt,
		     const char *name, const char *extra)
{
	char buf[96];
	size_t len;

	snprintf(buf, sizeof(buf), fmt, name, extra);
	for (int i = 0; i < *n; i++)
		if (fabs(m[i].at - at) < 1e-6) {
			len = strlen(m[i].what);
			snprintf(m[i].what + len, sizeof(m[i].what) - len, ", %s", buf);
			return;
		}
	if (*n >= cap)
		return;
	m[*n].at = at;
	snprintf(m[*n].what, sizeof(m[*n].what), "%s", buf);
	(*n)++;
}

static int by_time(const void *a, const void *b)
{
	const struct plot_mark *x = a, *y = b;

	return (x->at > y->at) - (x->at < y->at);
}

/* The scenario's arrivals, departures and phase changes inside (0, duration). */
static int scenario_marks(const struct sim *s, double duration, struct plot_mark *m, int cap)
{
	int n = 0;

	for (int g = 0; s && g < sim_nr_guests(s); g++) {
		const char *name = sim_guest_name(s, g);
		double t = sim_guest_start(s, g);

		if (t > 0 && t < duration)
			add_mark(m, &n, cap, t, "%s arrives%s", name, "");
		for (int i = 0; i < sim_guest_nr_phases(s, g); i++) {
			t = sim_guest_phase_at(s, g, i);
			if (t > 0 && t < duration)
				add_mark(m, &n, cap, t, "%s: %s", name, sim_guest_phase_name(s, g, i));
		}
		t = sim_guest_stop(s, g);
		if (t > 0 && t < duration)
			add_mark(m, &n, cap, t, "%s leaves%s", name, "");
	}
	qsort(m, (size_t)n, sizeof(*m), by_time);
	return n;
}

/* [lo:hi] around the data, a tenth of its spread either side (never below 0). */
static void fit(double lo, double hi, double *from, double *to)
{
	double pad = hi > lo ? (hi - lo) * 0.1 : MAX(hi * 0.05, 0.01);

	*from = MAX(0, lo - pad);
	*to = hi + pad;
}

static int write_script(FILE *f, const char *png, const char *csv, const char *title,
			const struct plot_range *pr, const struct plot_mark *m, int nm,
			const struct hs_result *orc)
{
	int nl = orc && orc->level ? orc->segments : 0, k = 0;
	double lo, hi, rlo, rhi;

	lo = pr->rows ? pr->ips_lo : 0;
	hi = pr->rows ? pr->ips_hi : 1;
	for (int i = 0; i < nl; i++) {
		lo = MIN(lo, orc->level[i].ips / 1e9);
		hi = MAX(hi, orc->level[i].ips / 1e9);
	}
	fit(lo, hi, &lo, &hi);
	fit(0, pr->remote_hi, &rlo, &rhi);
	rhi = MIN(100, MAX(rhi, 5));
	fprintf(f,
		"if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		"\tset terminal pngcairo size 1200,800 noenhanced\n"
		"} else {\n"
		"\tset terminal png size 1200,800 noenhanced\n"
		"}\n"
		"set output ");
	quoted(f, png);
	/* the legend above each panel, in a row: never over a line */
	fprintf(f, "\nset datafile separator ','\n"
		"set key autotitle columnhead outside top center horizontal\n"
		"set grid\n"
		"set multiplot layout 2,1 title ");
	quoted(f, title);
	/* the oracle's level: a step per stretch between events */
	/* with a header line: autotitle columnhead takes the first as one */
	fprintf(f, "\n$oracle << EOD\ntime,oracle\n");
	for (int i = 0; i < nl; i++)
		fprintf(f, "%.6g,%.6g\n%.6g,%.6g\n", orc->level[i].from, orc->level[i].ips / 1e9,
			orc->level[i].to, orc->level[i].ips / 1e9);
	fprintf(f, "EOD\n");
	/* what the scenario does, as dotted lines through both panels */
	for (int i = 0; i < nm; i++) {
		fprintf(f, "set arrow %d from %.6g, graph 0 to %.6g, graph 1 nohead dt 3 "
			"lc rgb '#777777'\n", i + 1, m[i].at, m[i].at);
		fprintf(f, "set label %d ", i + 1);
		quoted(f, m[i].what);
		fprintf(f, " at %.6g, graph 0.03 rotate by 90 left offset 0.8,0 "
			"tc rgb '#555555'\n", m[i].at);
		k = i + 1;
	}
	/* columns: 1 tick, 2 time, 3 ips, 4 remote, 5+6 moves, 8 reverts */
	fprintf(f, "set ylabel 'G instructions/s'\n"
		"set yrange [%.6g:%.6g]\n"
		"plot ", lo, hi);
	quoted(f, csv);
	fprintf(f, " using 2:($3/1e9) with lines lw 2 title 'throughput', \\\n"
		"\t'' using 2:(($5+$6) > 0 ? $3/1e9 : 1/0) with points pt 7 ps 1.2 title 'moves', \\\n"
		"\t'' using 2:($8 > 0 ? $3/1e9 : 1/0) with points pt 2 ps 2 title 'reverts'");
	if (nl)
		fprintf(f, ", \\\n\t$oracle using 1:2 with lines dt 2 lw 2 lc rgb '#000000' "
			"title 'oracle (best placement)'");
	/* the labels once, in the upper panel; the lines in both */
	fputc('\n', f);
	for (int i = 1; i <= k; i++)
		fprintf(f, "unset label %d\n", i);
	fprintf(f, "set xlabel 'simulated time (s)'\n"
		"set ylabel 'remote DRAM accesses (%%)'\n"
		"set yrange [%.6g:%.6g]\n"
		"plot ", rlo, rhi);
	quoted(f, csv);
	fprintf(f, " using 2:($4*100) with lines lw 2 title 'remote ratio', \\\n"
		"\t'' using 2:(($5+$6) > 0 ? $4*100 : 1/0) with points pt 7 ps 1.2 title 'moves'\n"
		"unset multiplot\n");
	return ferror(f) ? -1 : 0;
}

int plot_check_output(const char *png)
{
	struct stat st;
	bool existed = stat(png, &st) == 0;
	int fd;

	if (existed && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "vnumad-sim: --plot %s: is a directory\n", png);
		return -1;
	}
	/* open, not access(): it answers for root, read-only mounts and all */
	fd = open(png, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		fprintf(stderr, "vnumad-sim: --plot %s: cannot write it: %s\n", png,
			strerror(errno));
		return -1;
	}
	close(fd);
	if (!existed)
		unlink(png);
	return 0;
}

int plot_png(const char *png, const char *csv, const char *title, const struct sim *s,
	     double duration, const struct hs_result *orc)
{
	char script[] = "/tmp/vnumad-sim-plot.XXXXXX";
	char *argv[] = { (char *)gnuplot(), script, NULL };
	struct plot_mark marks[64];
	struct plot_range pr;
	int fd, status, r = -1, nm;
	FILE *f;
	pid_t pid;

	if (read_ranges(csv, &pr) < 0)
		return -1;
	nm = scenario_marks(s, duration, marks, (int)ARRAY_SIZE(marks));
	fd = mkstemp(script);

	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "vnumad-sim: --plot: cannot write a gnuplot script: %s\n",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (write_script(f, png, csv, title, &pr, marks, nm, orc) < 0 || fclose(f) != 0) {
		fprintf(stderr, "vnumad-sim: --plot: cannot write a gnuplot script\n");
		goto out;
	}
	errno = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (errno) {
		fprintf(stderr, "vnumad-sim: --plot: cannot run %s: %s\n", argv[0],
			strerror(errno));
		goto out;
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "vnumad-sim: --plot: %s failed on %s\n", argv[0], png);
		goto out;
	}
	r = 0;
out:
	unlink(script);
	return r;
}
