// SPDX-License-Identifier: MIT
/*
 * The journal: every applied move and every verdict, in the state
 * directory, so that a restart knows what it left unjudged and which
 * targets are in quarantine.
 *
 * The file is JSON Lines behind a version line. Each record is flushed and
 * fdatasync'd before the daemon goes on: moves are rare, losing one is not
 * acceptable. At open the file is read back (a torn last line from a crash
 * is skipped with a warning), the trials that never got a verdict and the
 * quarantines still running are kept, and the file is rewritten with only
 * those, so it never grows without bound. Times are wall-clock seconds
 * because the monotonic clock restarts with the machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core.h"
#include "journal.h"
#include "log.h"
#include "util.h"

#define JOURNAL_VERSION	1
#define JOURNAL_COMPACT	(4 * 1024 * 1024)	/* rewrite past this size */

struct vn_journal {
	char *path;
	FILE *f;
	uint64_t next_id;
	struct journal_trial *pending;	/* unjudged at the last stop */
	struct journal_quarantine *quarantine;
};

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *kind_name(enum vnumad_proposal_kind k)
{
	return k == VNUMAD_MOVE_MEMORY ? "memory" : "vcpu";
}

/* Appends one record and makes it durable. */
static int put(struct vn_journal *j, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
			     JSON_REAL_PRECISION(15));
	int r = 0;

	json_decref(o);
	if (!s)
		return -ENOMEM;
	if (fprintf(j->f, "%s\n", s) < 0 || fflush(j->f) != 0 ||
	    fdatasync(fileno(j->f)) < 0) {
		r = -errno;
		log_warn("journal %s: write failed", j->path);
	}
	free(s);
	return r;
}

static json_t *actions_json(const struct vn_action *a, int n)
{
	json_t *arr = json_array();

	for (int i = 0; i < n; i++) {
		json_t *x = json_object();

		json_object_set_new(x, "kind", json_string(kind_name(a[i].kind)));
		json_object_set_new(x, "vcpu", json_integer(a[i].vcpu));
		json_object_set_new(x, "from", json_integer(a[i].from));
		json_object_set_new(x, "to", json_integer(a[i].to));
		json_object_set_new(x, "old_allowed", json_integer((json_int_t)a[i].old_allowed));
		json_object_set_new(x, "bytes", json_integer((json_int_t)a[i].bytes));
		json_array_append_new(arr, x);
	}
	return arr;
}

static json_t *trial_json(uint64_t id, const char *guest, double wall,
			  const struct vn_action *a, int n)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_string("trial"));
	json_object_set_new(o, "id", json_integer((json_int_t)id));
	json_object_set_new(o, "guest", json_string(guest));
	json_object_set_new(o, "time", json_real(wall));
	json_object_set_new(o, "actions", actions_json(a, n));
	return o;
}

static json_t *quarantine_json(const struct journal_quarantine *q)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_string("quarantine"));
	json_object_set_new(o, "guest", json_string(q->guest));
	json_object_set_new(o, "node", json_integer(q->node));
	json_object_set_new(o, "strikes", json_integer(q->strikes));
	json_object_set_new(o, "until", json_real(q->until));
	return o;
}

static void free_pending(struct journal_trial *t)
{
	while (t) {
		struct journal_trial *n = t->next;

		free(t->guest);
		free(t->act);
		free(t);
		t = n;
	}
}

static void free_quarantine(struct journal_quarantine *q)
{
	while (q) {
		struct journal_quarantine *n = q->next;

		free(q->guest);
		free(q);
		q = n;
	}
}

static struct journal_trial *parse_trial(json_t *o)
{
	json_t *acts = json_object_get(o, "actions");
	const char *guest = json_string_value(json_object_get(o, "guest"));
	struct journal_trial *t;
	size_t i;
	json_t *x;

	if (!guest || !json_is_array(acts) || !json_is_integer(json_object_get(o, "id")))
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->id = (uint64_t)json_integer_value(json_object_get(o, "id"));
	t->guest = xstrdup(guest);
	t->wall = json_number_value(json_object_get(o, "time"));
	t->act = xcalloc(json_array_size(acts) + 1, sizeof(*t->act));
	json_array_foreach(acts, i, x) {
		struct vn_action *a = &t->act[t->nr_act++];
		const char *k = json_string_value(json_object_get(x, "kind"));

		a->kind = k && strcmp(k, "memory") == 0 ? VNUMAD_MOVE_MEMORY : VNUMAD_MOVE_VCPU;
		a->vcpu = (int)json_integer_value(json_object_get(x, "vcpu"));
		a->from = (int)json_integer_value(json_object_get(x, "from"));
		a->to = (int)json_integer_value(json_object_get(x, "to"));
		a->old_allowed = (uint64_t)json_integer_value(json_object_get(x, "old_allowed"));
		a->bytes = (uint64_t)json_integer_value(json_object_get(x, "bytes"));
		if (a->to < 0 || a->to >= VN_MAX_NODES || a->from < -1 || a->from >= VN_MAX_NODES) {
			free_pending(t);
			return NULL;
		}
	}
	return t;
}

/* Drops the pending trial with this id; true if there was one. */
static bool settle(struct vn_journal *j, uint64_t id)
{
	for (struct journal_trial **pp = &j->pending; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			struct journal_trial *t = *pp;

			*pp = t->next;
			t->next = NULL;
			free_pending(t);
			return true;
		}
	return false;
}

static void remember_quarantine(struct vn_journal *j, const char *guest,
				int node, int strikes, double until)
{
	struct journal_quarantine *q;

	for (q = j->quarantine; q; q = q->next)
		if (q->node == node && strcmp(q->guest, guest) == 0)
			break;
	if (!q) {
		q = xcalloc(1, sizeof(*q));
		q->guest = xstrdup(guest);
		q->node = node;
		q->next = j->quarantine;
		j->quarantine = q;
	}
	q->strikes = strikes;
	q->until = until;
}

/* Reads the journal back; returns -1 if its version is not ours. */
static int load(struct vn_journal *j, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, skipped = 0;

	while (getline(&line, &cap, f) > 0) {
		json_error_t err;
		json_t *o = json_loads(line, 0, &err);
		const char *type;

		lineno++;
		if (!o || !json_is_object(o)) {
			skipped++;
			json_decref(o);
			continue;
		}
		if (lineno == 1) {
			json_t *v = json_object_get(o, "vnumad_journal");

			if (!json_is_integer(v) || json_integer_value(v) != JOURNAL_VERSION) {
				json_decref(o);
				free(line);
				return -1;
			}
			json_decref(o);
			continue;
		}
		type = json_string_value(json_object_get(o, "type"));
		if (type && strcmp(type, "trial") == 0) {
			struct journal_trial *t = parse_trial(o);

			if (t) {
				t->next = j->pending;
				j->pending = t;
				if (t->id >= j->next_id)
					j->next_id = t->id + 1;
			} else {
				skipped++;
			}
		} else if (type && strcmp(type, "verdict") == 0) {
			settle(j, (uint64_t)json_integer_value(json_object_get(o, "id")));
		} else if (type && strcmp(type, "quarantine") == 0) {
			const char *g = json_string_value(json_object_get(o, "guest"));
			int node = (int)json_integer_value(json_object_get(o, "node"));

			if (g && node >= 0 && node < VN_MAX_NODES)
				remember_quarantine(j, g, node,
						    (int)json_integer_value(json_object_get(o, "strikes")),
						    json_number_value(json_object_get(o, "until")));
			else
				skipped++;
		} else {
			skipped++;
		}
		json_decref(o);
	}
	free(line);
	if (lineno == 0)
		return 0;
	if (skipped)
		log_warning("journal %s: %d unreadable record%s skipped (a torn write?)",
			    j->path, skipped, skipped == 1 ? "" : "s");
	return 0;
}

/* Forgets quarantines that are over. */
static void prune(struct vn_journal *j, double now)
{
	struct journal_quarantine **pp = &j->quarantine;

	while (*pp) {
		struct journal_quarantine *q = *pp;

		if (q->until <= now) {
			*pp = q->next;
			q->next = NULL;
			free_quarantine(q);
		} else {
			pp = &q->next;
		}
	}
}

/* Rewrites the file with what is still live, atomically. */
static int compact(struct vn_journal *j)
{
	char tmp[4096];
	json_t *hdr = json_object();
	struct vn_journal w = { .path = tmp };
	double now = wall_now();
	int fd, r = 0;

	prune(j, now);
	snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(w.f = fdopen(fd, "w"))) {
		r = -errno;
		log_warn("journal %s", tmp);
		if (fd >= 0)
			close(fd);
		json_decref(hdr);
		return r;
	}
	json_object_set_new(hdr, "vnumad_journal", json_integer(JOURNAL_VERSION));
	r = put(&w, hdr);
	for (struct journal_trial *t = j->pending; t && !r; t = t->next)
		r = put(&w, trial_json(t->id, t->guest, t->wall, t->act, t->nr_act));
	for (struct journal_quarantine *q = j->quarantine; q && !r; q = q->next)
		r = put(&w, quarantine_json(q));
	if (fclose(w.f) != 0 && !r)
		r = -errno;
	if (!r && rename(tmp, j->path) < 0) {
		r = -errno;
		log_warn("journal: rename %s", tmp);
	}
	if (r)
		unlink(tmp);
	return r;
}

static int reopen(struct vn_journal *j)
{
	if (j->f)
		fclose(j->f);
	j->f = fopen(j->path, "ae");
	if (!j->f) {
		log_warn("journal %s", j->path);
		return -errno;
	}
	return 0;
}

struct vn_journal *journal_open(const char *dir)
{
	struct vn_journal *j;
	FILE *f;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_warn("state directory %s", dir);
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	j->next_id = 1;
	if (asprintf(&j->path, "%s/journal", dir) < 0)
		fatal("asprintf");
	f = fopen(j->path, "re");
	if (f) {
		if (load(j, f) < 0) {
			char bad[4096];

			snprintf(bad, sizeof(bad), "%s.unknown-version", j->path);
			log_warning("journal %s is of another version; kept as %s, starting afresh",
				    j->path, bad);
			rename(j->path, bad);
			free_pending(j->pending);
			j->pending = NULL;
			free_quarantine(j->quarantine);
			j->quarantine = NULL;
		}
		fclose(f);
	} else if (errno != ENOENT) {
		log_warn("journal %s", j->path);
		journal_close(j);
		return NULL;
	}
	if (compact(j) < 0 || reopen(j) < 0) {
		journal_close(j);
		return NULL;
	}
	return j;
}

void journal_close(struct vn_journal *j)
{
	if (!j)
		return;
	if (j->f)
		fclose(j->f);
	free_pending(j->pending);
	free_quarantine(j->quarantine);
	free(j->path);
	free(j);
}

struct journal_trial *journal_take_pending(struct vn_journal *j)
{
	struct journal_trial *t = j->pending;

	j->pending = NULL;
	return t;
}

const struct journal_quarantine *journal_quarantines(const struct vn_journal *j)
{
	return j->quarantine;
}

void journal_free_pending(struct journal_trial *t)
{
	free_pending(t);
}

uint64_t journal_trial(struct vn_journal *j, const char *guest,
		       const struct vn_action *act, int n)
{
	uint64_t id = j->next_id++;
	struct stat st;

	/* a long-running daemon compacts now and then */
	if (fstat(fileno(j->f), &st) == 0 && st.st_size > JOURNAL_COMPACT &&
	    compact(j) == 0)
		reopen(j);
	put(j, trial_json(id, guest, wall_now(), act, n));
	return id;
}

void journal_verdict(struct vn_journal *j, uint64_t id, const char *guest,
		     const char *verdict, double gain)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_string("verdict"));
	json_object_set_new(o, "id", json_integer((json_int_t)id));
	json_object_set_new(o, "guest", json_string(guest));
	json_object_set_new(o, "time", json_real(wall_now()));
	json_object_set_new(o, "verdict", json_string(verdict));
	json_object_set_new(o, "gain", json_real(gain));
	put(j, o);
}

void journal_quarantine(struct vn_journal *j, const char *guest, int node,
			int strikes, double seconds)
{
	struct journal_quarantine q = {
		.guest = (char *)guest, .node = node, .strikes = strikes,
		.until = wall_now() + seconds,
	};

	remember_quarantine(j, guest, node, strikes, q.until);
	put(j, quarantine_json(&q));
}

double journal_wall(void)
{
	return wall_now();
}
