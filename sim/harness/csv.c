// SPDX-License-Identifier: MIT
/*
 * The timeline of a run, one CSV row per tick:
 *
 *	tick,time,ips,remote_ratio,vcpu_moves,memory_moves,bytes_migrated,
 *	reverts,ips:GUEST...
 *
 * ips is the mean true instruction rate of all guests over the tick, and
 * remote_ratio the share of the tick's DRAM accesses that were remote (empty
 * when there were none); moves and reverts are those of the tick,
 * bytes_migrated the total so far; then one column per guest of the
 * scenario, 0 while it is not running. Guest names need no quoting: the
 * scenario loader allows only A-Z a-z 0-9 _ . + -.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "util.h"

struct hs_csv {
	FILE *f;
	char *path;
	int nr_guests;
};

struct hs_csv *csv_open(const char *path, const struct sim *s)
{
	struct hs_csv *c;
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "vnumad-sim: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->f = f;
	c->path = xstrdup(path);
	c->nr_guests = sim_nr_guests(s);
	fprintf(f, "tick,time,ips,remote_ratio,vcpu_moves,memory_moves,"
		"bytes_migrated,reverts");
	for (int g = 0; g < c->nr_guests; g++)
		fprintf(f, ",ips:%s", sim_guest_name(s, g));
	fputc('\n', f);
	return c;
}

void csv_row(struct hs_csv *c, const struct hs_tick *t)
{
	fprintf(c->f, "%llu,%.6g,%.6g,", (unsigned long long)t->tick, t->time, t->ips);
	if (t->remote >= 0)
		fprintf(c->f, "%.6f", t->remote);
	fprintf(c->f, ",%llu,%llu,%llu,%llu", (unsigned long long)t->vcpu_moves,
		(unsigned long long)t->memory_moves,
		(unsigned long long)t->bytes_migrated,
		(unsigned long long)t->reverts);
	for (int g = 0; g < c->nr_guests; g++)
		fprintf(c->f, ",%.6g", t->guest_ips[g]);
	fputc('\n', c->f);
}

int csv_close(struct hs_csv *c)
{
	int r = 0;

	if (!c)
		return 0;
	if (ferror(c->f))
		r = -1;
	if (fclose(c->f) != 0 || r < 0) {
		fprintf(stderr, "vnumad-sim: %s: cannot write the timeline\n", c->path);
		r = -1;
	}
	free(c->path);
	free(c);
	return r;
}
