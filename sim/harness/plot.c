// SPDX-License-Identifier: MIT
/*
 * --plot: the timeline drawn by gnuplot. Two panels share the time axis:
 * the guests' aggregate throughput with a mark at every tick where vnumad
 * moved something (and a cross at reverts), and the remote share of DRAM
 * accesses. gnuplot is run as a program, with a script written to a
 * temporary file; a missing gnuplot is reported before the run starts.
 */
#include <errno.h>
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

static int write_script(FILE *f, const char *png, const char *csv,
			const char *title)
{
	fprintf(f,
		"if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		"\tset terminal pngcairo size 1200,800 noenhanced\n"
		"} else {\n"
		"\tset terminal png size 1200,800 noenhanced\n"
		"}\n"
		"set output ");
	quoted(f, png);
	fprintf(f, "\nset datafile separator ','\n"
		"set key autotitle columnhead top left\n"
		"set grid\n"
		"set multiplot layout 2,1 title ");
	quoted(f, title);
	/* columns: 1 tick, 2 time, 3 ips, 4 remote, 5+6 moves, 8 reverts */
	fprintf(f, "\nset ylabel 'G instructions/s'\n"
		"set yrange [0:*]\n"
		"plot ");
	quoted(f, csv);
	fprintf(f, " using 2:($3/1e9) with lines lw 2 title 'throughput', \\\n"
		"\t'' using 2:(($5+$6) > 0 ? $3/1e9 : 1/0) with points pt 7 ps 1.2 title 'moves', \\\n"
		"\t'' using 2:($8 > 0 ? $3/1e9 : 1/0) with points pt 2 ps 2 title 'reverts'\n"
		"set xlabel 'simulated time (s)'\n"
		"set ylabel 'remote DRAM accesses (%%)'\n"
		"set yrange [0:100]\n"
		"plot ");
	quoted(f, csv);
	fprintf(f, " using 2:($4*100) with lines lw 2 title 'remote ratio', \\\n"
		"\t'' using 2:(($5+$6) > 0 ? $4*100 : 1/0) with points pt 7 ps 1.2 title 'moves'\n"
		"unset multiplot\n");
	return ferror(f) ? -1 : 0;
}

int plot_png(const char *png, const char *csv, const char *title)
{
	char script[] = "/tmp/vnumad-sim-plot.XXXXXX";
	char *argv[] = { (char *)gnuplot(), script, NULL };
	int fd = mkstemp(script), status, r = -1;
	FILE *f;
	pid_t pid;

	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "vnumad-sim: --plot: cannot write a gnuplot script: %s\n",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (write_script(f, png, csv, title) < 0 || fclose(f) != 0) {
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
