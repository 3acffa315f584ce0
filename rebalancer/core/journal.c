// SPDX-License-Identifier: MIT
/*
 * The journal: every move and every verdict, in the state directory, so
 * that a restart knows what it left unjudged and which targets are in
 * quarantine.
 *
 * The file is JSON Lines behind a header line. A trial is written before
 * any of its moves is applied, with the bounds of what each move may have
 * done (write ahead), and again as those bounds narrow: the move applied,
 * memory migrated so far, an undo about to start. So a daemon killed at
 * any point leaves a journal from which the next start undoes what may be
 * in effect and no more: a memory undo is not idempotent. Verdicts end
 * trials. The records that must hold before the daemon acts (an intent, an
 * undo about to start) are fdatasync'd at once; the others are synced once
 * per tick (journal_commit()).
 *
 * The journal keeps in memory everything that is live (unjudged trials,
 * running quarantines), which is what the file holds once compacted. At
 * open the file is read back and rewritten with only that, with one sync;
 * a long-running daemon compacts the same way now and then. A write that
 * fails (a full disk) leaves the journal failing: the core then only
 * advises, and journal_retry() rewrites the whole file from memory, so that
 * nothing is lost while the disk was full.
 *
 * The file is input like any other: every field of every record is
 * checked, a record that breaks a rule is skipped and said so, and a file
 * whose first line is not our header (another version, torn, foreign) is
 * set aside, never read. The state directory must be root's and writable
 * by no one else, and every file in it is opened relative to it, with
 * O_NOFOLLOW, new files with O_EXCL: whoever could plant a symbolic link
 * there could make root truncate any file. Times are wall-clock seconds
 * because the monotonic clock restarts with the machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core.h"
#include "journal.h"
#include "log.h"
#include "util.h"

#define JOURNAL_VERSION	2	/* 1: trials written once applied, still read */
#define JOURNAL_COMPACT	(4 * 1024 * 1024)	/* rewrite past this size */
#define JOURNAL_MAX_LINE (4 * 1024 * 1024)	/* a trial of 65,000 moves fits */
#define JOURNAL_MAX_FILE (512LL * 1024 * 1024)
#define JOURNAL_FILE	"journal"
#define JOURNAL_TMP	"journal.tmp"
#define MAX_SYMLINKS	40

/* A live trial: in the file until its verdict. */
struct jentry {
	struct journal_trial t;
	bool taken;		/* handed to the guard as the last run's */
	struct jentry *hnext;
	TAILQ_ENTRY(jentry) link;
};

/* A running quarantine, one per (guest, node). */
struct jquar {
	char *guest;
	int node;
	int strikes;
	double until;
	bool taken;
	struct jquar *hnext;
	TAILQ_ENTRY(jquar) link;
};

struct vn_journal {
	char *dir;
	char *path;		/* dir/journal, for messages */
	int dfd;		/* the state directory, -1 not open yet */
	FILE *f;		/* appending; NULL while failing */
	bool loaded;		/* the file was read (or there was none) */
	int error;		/* why it is failing, 0 when it is not */
	double failed_at;
	uint64_t failures;
	bool dirty;		/* written since the last sync */
	off_t compacted;	/* the file's size when last rewritten */
	bool handout_trials;	/* read back, not yet taken */
	bool handout_quars;
	uint64_t next_id;
	char boot[40];
	TAILQ_HEAD(, jentry) trials;
	struct jentry **thash;
	size_t tcap, nr_trials;
	TAILQ_HEAD(, jquar) quars;
	struct jquar **qhash;
	size_t qcap, nr_quars;
};

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double journal_wall(void)
{
	return wall_now();
}

/* The host's boot id: a trial of an earlier boot concerns processes gone. */
static void read_boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* ---- the state directory */

/* Whether one directory on the way may be trusted; fills why if not. */
static bool trusted_dir(const struct stat *st, const char *path, bool last,
			char *why, size_t len)
{
	if (!S_ISDIR(st->st_mode)) {
		snprintf(why, len, "%s is not a directory", path);
		return false;
	}
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(why, len, "%s is owned by uid %u, not by root: whoever owns it "
			 "could make vnumad overwrite any file", path, (unsigned)st->st_uid);
		return false;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && (last || !(st->st_mode & S_ISVTX))) {
		snprintf(why, len, "%s is writable by %s (mode %04o): whoever can write it "
			 "could make vnumad overwrite any file", path,
			 st->st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(st->st_mode & 07777));
		return false;
	}
	return true;
}

/*
 * Resolves dir from / one component at a time, never following a symbolic
 * link that an untrusted user could have made, and checks every directory
 * on the way. Returns 0 with *out a descriptor of dir (create: made 0700 if
 * missing), 1 when dir is missing and not created (*out -1, its parent
 * checked), or -errno with why filled (-EPERM: not to be trusted).
 */
static int walk_dir(const char *dir, bool create, int *out, char *why, size_t len)
{
	char *rest, *p, shown[PATH_MAX];
	int fd, links = 0, r = 0;
	struct stat st;

	*out = -1;
	if (dir[0] != '/') {
		snprintf(why, len, "%s is not an absolute path", dir);
		return -EINVAL;
	}
	rest = xstrdup(dir);
	snprintf(shown, sizeof(shown), "/");
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(why, len, "/: %s", strerror(errno));
		goto out;
	}
	for (p = rest; *p; ) {
		char name[NAME_MAX + 1], target[PATH_MAX];
		size_t n;
		bool last;
		int nfd;
		ssize_t tl;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		n = strcspn(p, "/");
		if (n > NAME_MAX) {
			snprintf(why, len, "%s: a name is too long", dir);
			r = -ENAMETOOLONG;
			goto out;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		p += n;
		last = p[strspn(p, "/")] == '\0';
		if (strcmp(name, ".") == 0)
			continue;
		nfd = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && last && create &&
		    (mkdirat(fd, name, 0700) == 0 || errno == EEXIST))
			nfd = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && last && !create) {
			r = 1;		/* missing: its parent is what was checked */
			goto out;
		}
		if (nfd < 0 && (errno == ELOOP || errno == ENOTDIR) &&
		    fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
			/* a link is as trustworthy as whoever made it */
			if (st.st_uid != 0 && st.st_uid != geteuid()) {
				snprintf(why, len, "%s: %s/%s is a symbolic link of uid %u",
					 dir, strcmp(shown, "/") ? shown : "", name,
					 (unsigned)st.st_uid);
				r = -EPERM;
				goto out;
			}
			tl = readlinkat(fd, name, target, sizeof(target) - 1);
			if (tl < 0 || ++links > MAX_SYMLINKS ||
			    (size_t)tl + strlen(p) + 2 > sizeof(target)) {
				snprintf(why, len, "%s: too many or too long symbolic links", dir);
				r = -ELOOP;
				goto out;
			}
			target[tl] = '\0';
			strcat(target, "/");
			strcat(target, p);
			free(rest);
			rest = xstrdup(target);
			p = rest;
			if (target[0] == '/') {
				close(fd);
				fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
				snprintf(shown, sizeof(shown), "/");
				if (fd < 0) {
					r = -errno;
					snprintf(why, len, "/: %s", strerror(errno));
					goto out;
				}
			}
			continue;
		}
		if (nfd < 0) {
			r = -errno;
			snprintf(why, len, "%s: %s", dir, strerror(errno));
			goto out;
		}
		if (strcmp(name, "..") == 0) {
			char *slash = strrchr(shown, '/');

			if (slash && slash != shown)
				*slash = '\0';
			else
				snprintf(shown, sizeof(shown), "/");
		} else {
			size_t sl = strlen(shown);

			snprintf(shown + sl, sizeof(shown) - sl, "%s%s",
				 strcmp(shown, "/") ? "/" : "", name);
		}
		close(fd);
		fd = nfd;
		if (fstat(fd, &st) < 0) {
			r = -errno;
			snprintf(why, len, "%s: %s", shown, strerror(errno));
			goto out;
		}
		if (!trusted_dir(&st, shown, last, why, len)) {
			r = -EPERM;
			goto out;
		}
	}
	/* the directory itself, as a descriptor its files can be synced through */
	*out = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*out < 0 || fstat(*out, &st) < 0) {
		r = -errno;
		snprintf(why, len, "%s: %s", shown, strerror(errno));
	} else if (!trusted_dir(&st, shown, true, why, len)) {
		r = -EPERM;
	}
	if (r < 0 && *out >= 0) {
		close(*out);
		*out = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	free(rest);
	return r;
}

int journal_check_dir(const char *dir, char *why, size_t len)
{
	int fd, r = walk_dir(dir, false, &fd, why, len);

	if (fd >= 0)
		close(fd);
	return r > 0 ? 0 : r;
}

/* ---- the live set: trials by id, quarantines by (guest, node) */

static size_t mix(uint64_t k, size_t cap)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k & (cap - 1);
}

static uint64_t name_key(const char *guest, int node)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *s = (const unsigned char *)guest; *s; s++)
		h = (h ^ *s) * 1099511628211ULL;
	return h ^ ((uint64_t)node * 0x9e3779b97f4a7c15ULL);
}

static struct jentry *trial_find(const struct vn_journal *j, uint64_t id)
{
	if (!j->tcap)
		return NULL;
	for (struct jentry *e = j->thash[mix(id, j->tcap)]; e; e = e->hnext)
		if (e->t.id == id)
			return e;
	return NULL;
}

static void trial_insert(struct vn_journal *j, struct jentry *e)
{
	size_t b;

	if (j->nr_trials + 1 > j->tcap) {
		size_t cap = j->tcap ? j->tcap * 2 : 64;
		struct jentry **h = xcalloc(cap, sizeof(*h));

		for (size_t i = 0; i < j->tcap; i++)
			while (j->thash[i]) {
				struct jentry *x = j->thash[i];

				j->thash[i] = x->hnext;
				x->hnext = h[mix(x->t.id, cap)];
				h[mix(x->t.id, cap)] = x;
			}
		free(j->thash);
		j->thash = h;
		j->tcap = cap;
	}
	b = mix(e->t.id, j->tcap);
	e->hnext = j->thash[b];
	j->thash[b] = e;
	TAILQ_INSERT_TAIL(&j->trials, e, link);
	j->nr_trials++;
}

static void trial_free(struct jentry *e)
{
	free(e->t.guest);
	free(e->t.act);
	free(e);
}

static void trial_remove(struct vn_journal *j, struct jentry *e)
{
	for (struct jentry **pp = &j->thash[mix(e->t.id, j->tcap)]; *pp; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	TAILQ_REMOVE(&j->trials, e, link);
	j->nr_trials--;
	trial_free(e);
}

static struct jquar *quar_find(const struct vn_journal *j, const char *guest, int node)
{
	if (!j->qcap)
		return NULL;
	for (struct jquar *q = j->qhash[mix(name_key(guest, node), j->qcap)]; q; q = q->hnext)
		if (q->node == node && strcmp(q->guest, guest) == 0)
			return q;
	return NULL;
}

static struct jquar *quar_remember(struct vn_journal *j, const char *guest, int node,
				   int strikes, double until)
{
	struct jquar *q = quar_find(j, guest, node);
	size_t b;

	if (!q) {
		if (j->nr_quars + 1 > j->qcap) {
			size_t cap = j->qcap ? j->qcap * 2 : 64;
			struct jquar **h = xcalloc(cap, sizeof(*h));

			for (size_t i = 0; i < j->qcap; i++)
				while (j->qhash[i]) {
					struct jquar *x = j->qhash[i];
					size_t nb = mix(name_key(x->guest, x->node), cap);

					j->qhash[i] = x->hnext;
					x->hnext = h[nb];
					h[nb] = x;
				}
			free(j->qhash);
			j->qhash = h;
			j->qcap = cap;
		}
		q = xcalloc(1, sizeof(*q));
		q->guest = xstrdup(guest);
		q->node = node;
		b = mix(name_key(guest, node), j->qcap);
		q->hnext = j->qhash[b];
		j->qhash[b] = q;
		TAILQ_INSERT_TAIL(&j->quars, q, link);
		j->nr_quars++;
	}
	q->strikes = strikes;
	q->until = until;
	return q;
}

static void quar_remove(struct vn_journal *j, struct jquar *q)
{
	for (struct jquar **pp = &j->qhash[mix(name_key(q->guest, q->node), j->qcap)]; *pp;
	     pp = &(*pp)->hnext)
		if (*pp == q) {
			*pp = q->hnext;
			break;
		}
	TAILQ_REMOVE(&j->quars, q, link);
	j->nr_quars--;
	free(q->guest);
	free(q);
}

static void forget_all(struct vn_journal *j)
{
	while (!TAILQ_EMPTY(&j->trials))
		trial_remove(j, TAILQ_FIRST(&j->trials));
	while (!TAILQ_EMPTY(&j->quars))
		quar_remove(j, TAILQ_FIRST(&j->quars));
}

/* ---- records out */

static json_t *span_json(uint64_t lo, uint64_t hi)
{
	return json_pack("[II]", (json_int_t)lo, (json_int_t)hi);
}

/* A name as a JSON string, or as hex when it is not UTF-8 (json refuses it). */
static void set_name(json_t *o, const char *name)
{
	json_t *s = json_string(name);

	if (s) {
		json_object_set_new(o, "guest", s);
	} else {
		size_t n = strlen(name);
		char *hex = xcalloc(2 * n + 1, 1);

		for (size_t i = 0; i < n; i++)
			snprintf(hex + 2 * i, 3, "%02x", (unsigned char)name[i]);
		json_object_set_new(o, "guest_hex", json_string(hex));
		free(hex);
	}
}

static json_t *action_json(const struct vn_action *a)
{
	json_t *x = json_object();

	if (a->kind == VNUMAD_MOVE_MEMORY) {
		json_object_set_new(x, "kind", json_string("memory"));
		json_object_set_new(x, "from", json_integer(a->from));
		json_object_set_new(x, "to", json_integer(a->to));
		json_object_set_new(x, "bytes", json_integer((json_int_t)a->bytes));
		if (a->before_from != VN_BYTES_UNKNOWN && a->before_to != VN_BYTES_UNKNOWN) {
			json_object_set_new(x, "before_from", json_integer((json_int_t)a->before_from));
			json_object_set_new(x, "before_to", json_integer((json_int_t)a->before_to));
		}
	} else {
		json_object_set_new(x, "kind", json_string("vcpu"));
		json_object_set_new(x, "vcpu", json_integer(a->vcpu));
		json_object_set_new(x, "from", json_integer(a->from));
		json_object_set_new(x, "to", json_integer(a->to));
		json_object_set_new(x, "old_allowed", json_integer((json_int_t)a->old_allowed));
	}
	json_object_set_new(x, "effect", span_json(a->eff_lo, a->eff_hi));
	return x;
}

static json_t *trial_json(const struct journal_trial *t)
{
	json_t *o = json_object(), *arr = json_array();

	json_object_set_new(o, "type", json_string("trial"));
	json_object_set_new(o, "id", json_integer((json_int_t)t->id));
	set_name(o, t->guest);
	if (t->pid > 0)
		json_object_set_new(o, "pid", json_integer(t->pid));
	if (t->boot[0])
		json_object_set_new(o, "boot", json_string(t->boot));
	json_object_set_new(o, "time", json_real(t->wall));
	for (int i = 0; i < t->nr_act; i++)
		json_array_append_new(arr, action_json(&t->act[i]));
	json_object_set_new(o, "actions", arr);
	return o;
}

static json_t *quarantine_json(const char *guest, int node, int strikes, double until)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_string("quarantine"));
	set_name(o, guest);
	json_object_set_new(o, "node", json_integer(node));
	json_object_set_new(o, "strikes", json_integer(strikes));
	json_object_set_new(o, "until", json_real(until));
	return o;
}

/* Notes a failed read or write: the journal fails until a retry works. */
static int fail(struct vn_journal *j, int err, const char *what)
{
	if (!err)
		err = EIO;
	if (!j->error) {
		log_warnx("journal %s: %s: %s", j->path, what, strerror(err));
		j->failed_at = wall_now();
	} else {
		log_debug("journal %s: %s: %s", j->path, what, strerror(err));
	}
	j->error = err;
	j->failures++;
	if (j->f)
		fclose(j->f);
	j->f = NULL;
	return -err;
}

/* Writes one line to f; 0 or -errno. */
static int write_line(FILE *f, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	int r = 0;

	json_decref(o);
	if (!s)
		return -ENOMEM;
	if (fputs(s, f) == EOF || putc('\n', f) == EOF)
		r = errno ? -errno : -EIO;
	free(s);
	return r;
}

/* Appends one record; sync: durable before this returns. */
static int put(struct vn_journal *j, json_t *o, bool sync)
{
	int r;

	if (!j->f) {
		json_decref(o);
		return -(j->error ? j->error : EIO);
	}
	errno = 0;
	r = write_line(j->f, o);
	if (!r && fflush(j->f) != 0)
		r = -errno;
	if (!r && sync && fdatasync(fileno(j->f)) < 0)
		r = -errno;
	if (r)
		return fail(j, -r, "write failed");
	j->dirty = !sync;
	return 0;
}

/* ---- records in */

/* An integer member within [min, max]. */
static bool get_int(json_t *o, const char *key, long long min, long long max,
		    long long *v)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_integer(x))
		return false;
	*v = json_integer_value(x);
	return *v >= min && *v <= max;
}

/* The guest's name, as set_name() wrote it and host.c would have made it. */
static bool get_name(json_t *o, char *name, size_t len)
{
	const char *s = json_string_value(json_object_get(o, "guest"));
	const char *hex = json_string_value(json_object_get(o, "guest_hex"));
	size_t n;

	if (s) {
		n = json_string_length(json_object_get(o, "guest"));
		if (n == 0 || n >= len || strlen(s) != n)
			return false;
		memcpy(name, s, n + 1);
	} else if (hex) {
		n = strlen(hex);
		if (n == 0 || n % 2 || n / 2 >= len)
			return false;
		for (size_t i = 0; i < n / 2; i++) {
			unsigned v;

			if (sscanf(hex + 2 * i, "%2x", &v) != 1 || !v ||
			    !strchr("0123456789abcdef", hex[2 * i]) ||
			    !strchr("0123456789abcdef", hex[2 * i + 1]))
				return false;
			name[i] = (char)v;
		}
		name[n / 2] = '\0';
	} else {
		return false;
	}
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

/* A span [lo, hi] with lo <= hi <= max. */
static bool get_span(json_t *x, uint64_t max, uint64_t *lo, uint64_t *hi)
{
	json_t *a = json_array_get(x, 0), *b = json_array_get(x, 1);

	if (!json_is_array(x) || json_array_size(x) != 2 || !json_is_integer(a) ||
	    !json_is_integer(b) || json_integer_value(a) < 0 ||
	    json_integer_value(b) < json_integer_value(a) ||
	    (uint64_t)json_integer_value(b) > max)
		return false;
	*lo = (uint64_t)json_integer_value(a);
	*hi = (uint64_t)json_integer_value(b);
	return true;
}

/* One action of a trial record; false with *why when a field is wrong. */
static bool parse_action(json_t *x, int version, struct vn_action *a, const char **why)
{
	const char *kind = json_string_value(json_object_get(x, "kind"));
	json_t *eff = json_object_get(x, "effect");
	long long v, from, to, mask, bytes, bf, bt;

	memset(a, 0, sizeof(*a));
	a->before_from = a->before_to = VN_BYTES_UNKNOWN;
	if (!json_is_object(x) || !kind) {
		*why = "an action without a kind";
		return false;
	}
	if (strcmp(kind, "vcpu") == 0) {
		if (!get_int(x, "vcpu", 0, JOURNAL_MAX_VCPU, &v)) {
			*why = "a vCPU index out of range";
			return false;
		}
		if (!get_int(x, "from", -1, VN_MAX_NODES - 1, &from) ||
		    !get_int(x, "to", 0, VN_MAX_NODES - 1, &to)) {
			*why = "a node out of range";
			return false;
		}
		if (!json_is_integer(json_object_get(x, "old_allowed")) ||
		    !(mask = json_integer_value(json_object_get(x, "old_allowed")))) {
			*why = "a vCPU move without the affinity to restore";
			return false;
		}
		a->kind = VNUMAD_MOVE_VCPU;
		a->vcpu = (int)v;
		a->from = (int)from;
		a->to = (int)to;
		a->old_allowed = (uint64_t)mask;
		a->eff_lo = a->eff_hi = 1;	/* version 1: written once applied */
		if ((version > 1 || eff) && !get_span(eff, 1, &a->eff_lo, &a->eff_hi)) {
			*why = "a vCPU move whose effect is not [lo, hi] within [0, 1]";
			return false;
		}
		return true;
	}
	if (strcmp(kind, "memory") == 0) {
		if (!get_int(x, "from", 0, VN_MAX_NODES - 1, &from) ||
		    !get_int(x, "to", 0, VN_MAX_NODES - 1, &to) || from == to) {
			*why = "a memory move between nodes out of range";
			return false;
		}
		if (!get_int(x, "bytes", 1, LLONG_MAX, &bytes)) {
			*why = "a memory move of no bytes";
			return false;
		}
		a->kind = VNUMAD_MOVE_MEMORY;
		a->from = (int)from;
		a->to = (int)to;
		a->bytes = (uint64_t)bytes;
		/* version 1 wrote what was asked, not what had moved */
		a->eff_lo = 0;
		a->eff_hi = a->bytes;
		if ((version > 1 || eff) && !get_span(eff, a->bytes, &a->eff_lo, &a->eff_hi)) {
			*why = "a memory move whose effect is not [lo, hi] within its bytes";
			return false;
		}
		if (json_object_get(x, "before_from") || json_object_get(x, "before_to")) {
			if (!get_int(x, "before_from", 0, LLONG_MAX, &bf) ||
			    !get_int(x, "before_to", 0, LLONG_MAX, &bt)) {
				*why = "a memory move with a bad memory reading";
				return false;
			}
			a->before_from = (uint64_t)bf;
			a->before_to = (uint64_t)bt;
		}
		return true;
	}
	*why = "an action of an unknown kind";
	return false;
}

static struct jentry *parse_trial(json_t *o, int version, const char **why)
{
	json_t *acts = json_object_get(o, "actions"), *x;
	const char *boot = json_string_value(json_object_get(o, "boot"));
	json_t *time = json_object_get(o, "time");
	char name[JOURNAL_MAX_NAME + 1];
	struct jentry *e;
	long long id, pid = 0;
	size_t i;

	if (!get_int(o, "id", 1, LLONG_MAX, &id)) {
		*why = "a trial without a valid id";
		return NULL;
	}
	if (!get_name(o, name, sizeof(name))) {
		*why = "a trial without a valid guest name";
		return NULL;
	}
	if (json_object_get(o, "pid") && !get_int(o, "pid", 0, INT_MAX, &pid)) {
		*why = "a trial with a bad pid";
		return NULL;
	}
	if (json_object_get(o, "boot") &&
	    (!boot || strlen(boot) >= sizeof(e->t.boot) ||
	     strspn(boot, "0123456789abcdef-") != strlen(boot))) {
		*why = "a trial with a bad boot id";
		return NULL;
	}
	if (time && (!json_is_number(time) || !isfinite(json_number_value(time)))) {
		*why = "a trial with a bad time";
		return NULL;
	}
	if (!json_is_array(acts) || json_array_size(acts) == 0 ||
	    json_array_size(acts) > JOURNAL_MAX_ACTIONS) {
		*why = "a trial without actions, or too many";
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	e->t.id = (uint64_t)id;
	e->t.guest = xstrdup(name);
	e->t.pid = (int)pid;
	snprintf(e->t.boot, sizeof(e->t.boot), "%s", boot ? boot : "");
	e->t.wall = time ? json_number_value(time) : 0;
	e->t.act = xcalloc(json_array_size(acts), sizeof(*e->t.act));
	json_array_foreach(acts, i, x) {
		if (!parse_action(x, version, &e->t.act[i], why)) {
			trial_free(e);
			return NULL;
		}
		e->t.act[i].slot = (int)i;
		e->t.nr_act++;
	}
	return e;
}

/* A progress record: the effect of every action of a live trial. */
static bool apply_progress(struct vn_journal *j, json_t *o, const char **why)
{
	json_t *eff = json_object_get(o, "effect"), *x;
	long long id;
	struct jentry *e;
	uint64_t lo, hi;
	size_t i;

	if (!get_int(o, "id", 1, LLONG_MAX, &id) || !json_is_array(eff)) {
		*why = "a progress record without id or effect";
		return false;
	}
	e = trial_find(j, (uint64_t)id);
	if (!e)
		return true;	/* of a trial ended since */
	if (json_array_size(eff) != (size_t)e->t.nr_act) {
		*why = "a progress record of another number of actions than its trial";
		return false;
	}
	/* all or nothing */
	json_array_foreach(eff, i, x) {
		const struct vn_action *a = &e->t.act[i];

		if (!get_span(x, a->kind == VNUMAD_MOVE_MEMORY ? a->bytes : 1, &lo, &hi)) {
			*why = "a progress record with an effect out of its action's range";
			return false;
		}
	}
	json_array_foreach(eff, i, x) {
		get_span(x, UINT64_MAX, &lo, &hi);
		e->t.act[i].eff_lo = lo;
		e->t.act[i].eff_hi = hi;
	}
	return true;
}

static const char *const verdict_words[] = {
	"kept", "reverted", "unjudged", "abandoned", "reverted-at-restart",
	"unjudged-at-stop", "not-applied", NULL,
};

static bool apply_verdict(struct vn_journal *j, json_t *o, const char **why)
{
	const char *w = json_string_value(json_object_get(o, "verdict"));
	char name[JOURNAL_MAX_NAME + 1];
	struct jentry *e;
	long long id;
	int k;

	if (!get_int(o, "id", 1, LLONG_MAX, &id)) {
		*why = "a verdict without a valid id";
		return false;
	}
	for (k = 0; w && verdict_words[k] && strcmp(w, verdict_words[k]); k++)
		;
	if (!w || !verdict_words[k]) {
		*why = "a verdict of an unknown word";
		return false;
	}
	e = trial_find(j, (uint64_t)id);
	if (!e)
		return true;
	if (!get_name(o, name, sizeof(name)) || strcmp(name, e->t.guest) != 0) {
		*why = "a verdict for another guest than its trial's";
		return false;
	}
	trial_remove(j, e);
	return true;
}

static bool apply_quarantine(struct vn_journal *j, json_t *o, const char **why)
{
	char name[JOURNAL_MAX_NAME + 1];
	json_t *until = json_object_get(o, "until");
	long long node, strikes;

	if (!get_name(o, name, sizeof(name)) ||
	    !get_int(o, "node", 0, VN_MAX_NODES - 1, &node) ||
	    !get_int(o, "strikes", 1, JOURNAL_MAX_STRIKES, &strikes) ||
	    !json_is_number(until) || !isfinite(json_number_value(until))) {
		*why = "a quarantine with a bad guest, node, strike count or end";
		return false;
	}
	quar_remember(j, name, (int)node, (int)strikes, json_number_value(until));
	return true;
}

/*
 * Reads one line of at most max bytes; 1 a line, 0 the end, -1 a line too
 * long (skipped to its end), -2 a read error.
 */
static int read_line(FILE *f, char **buf, size_t *cap, size_t max)
{
	size_t len = 0;
	bool too_long = false;

	for (;;) {
		size_t n;

		if (*cap - len < 2) {
			*cap = *cap ? *cap * 2 : 65536;
			*buf = xreallocarray(*buf, *cap, 1);
		}
		if (!fgets(*buf + len, (int)MIN(*cap - len, (size_t)INT_MAX), f)) {
			if (ferror(f))
				return -2;
			if (!len)
				return too_long ? -1 : 0;
			break;
		}
		n = strlen(*buf + len);
		len += n;
		if (len && (*buf)[len - 1] == '\n')
			break;
		if (len > max) {
			too_long = true;
			len = 0;	/* keep reading to the end of the line */
		}
	}
	return too_long ? -1 : 1;
}

/* How a file that is not ours is set aside. */
enum { LOAD_OK, LOAD_OTHER_VERSION, LOAD_UNREADABLE, LOAD_NOT_A_FILE };

/* Parses the header; its version, or -1 if the line is not our header. */
static int header_version(const char *line, uint64_t *next_id)
{
	json_t *o = json_loads(line, 0, NULL);
	long long v, id;
	int r = -1;

	if (json_is_object(o) && get_int(o, "vnumad_journal", 0, INT_MAX, &v)) {
		r = (int)v;
		if (get_int(o, "next_id", 1, LLONG_MAX, &id) && (uint64_t)id > *next_id)
			*next_id = (uint64_t)id;
	}
	json_decref(o);
	return r;
}

/*
 * Reads the file into the live set. Returns LOAD_* (a file to set aside),
 * or -errno when it could not be read (nothing of it kept).
 */
static int load(struct vn_journal *j)
{
	int fd = openat(j->dfd, JOURNAL_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, skipped = 0, first_bad = 0, version = -1, r = LOAD_OK, rl;
	const char *first_why = NULL;
	struct stat st;
	FILE *f;

	if (fd < 0 && errno == ENOENT)
		return LOAD_OK;
	if (fd < 0 && errno == ELOOP)
		return LOAD_NOT_A_FILE;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > JOURNAL_MAX_FILE) {
		close(fd);
		return S_ISREG(st.st_mode) ? LOAD_UNREADABLE : LOAD_NOT_A_FILE;
	}
	f = fdopen(fd, "r");
	if (!f) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((rl = read_line(f, &line, &cap, JOURNAL_MAX_LINE)) != 0) {
		const char *why = NULL, *type;
		json_t *o;
		bool ok;

		lineno++;
		if (rl == -2) {
			r = -EIO;
			break;
		}
		if (lineno == 1) {
			version = rl == 1 ? header_version(line, &j->next_id) : -1;
			if (version < 0) {
				r = LOAD_UNREADABLE;
				break;
			}
			if (version < 1 || version > JOURNAL_VERSION) {
				r = LOAD_OTHER_VERSION;
				break;
			}
			continue;
		}
		o = rl == 1 ? json_loads(line, 0, NULL) : NULL;
		type = json_string_value(json_object_get(o, "type"));
		if (rl < 0) {
			why = "a line too long";
			ok = false;
		} else if (!json_is_object(o) || !type) {
			why = "not a record (a torn write?)";
			ok = false;
		} else if (strcmp(type, "trial") == 0) {
			struct jentry *e = parse_trial(o, version, &why);

			ok = e && !trial_find(j, e->t.id);
			if (e && !ok) {
				why = "a second trial of the same id";
				trial_free(e);
			} else if (e) {
				trial_insert(j, e);
				if (e->t.id >= j->next_id)
					j->next_id = e->t.id + 1;
			}
		} else if (strcmp(type, "progress") == 0) {
			ok = apply_progress(j, o, &why);
		} else if (strcmp(type, "verdict") == 0) {
			ok = apply_verdict(j, o, &why);
		} else if (strcmp(type, "quarantine") == 0) {
			ok = apply_quarantine(j, o, &why);
		} else {
			why = "a record of an unknown type";
			ok = false;
		}
		json_decref(o);
		if (!ok && !skipped++) {
			first_bad = lineno;
			first_why = why;
		}
	}
	free(line);
	fclose(f);
	if (r != LOAD_OK) {
		forget_all(j);
		return r;
	}
	if (skipped)
		log_warning("journal %s: %d record%s skipped (the first, line %d: %s)",
			    j->path, skipped, skipped == 1 ? "" : "s", first_bad, first_why);
	j->handout_trials = !TAILQ_EMPTY(&j->trials);
	j->handout_quars = !TAILQ_EMPTY(&j->quars);
	return LOAD_OK;
}

/*
 * Renames the journal to name, or to name.1 ... name.9 when files set aside
 * earlier hold those (the last is replaced at need): another version's
 * journal set aside twice keeps both. The name used goes in used.
 */
static int set_aside(struct vn_journal *j, const char *name, char *used, size_t len)
{
	snprintf(used, len, "%s", name);
	for (int i = 1; i <= 10; i++) {
		if (renameat2(j->dfd, JOURNAL_FILE, j->dfd, used, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EINVAL)
			break;	/* a file system without RENAME_NOREPLACE */
		if (errno != EEXIST)
			return -1;
		if (i < 10)
			snprintf(used, len, "%s.%d", name, i);
	}
	return renameat(j->dfd, JOURNAL_FILE, j->dfd, used);
}

/* Reads the file, setting aside one that is not ours; 0 or -errno. */
static int read_back(struct vn_journal *j)
{
	static const char *const aside[] = {
		[LOAD_OTHER_VERSION] = "journal.unknown-version",
		[LOAD_UNREADABLE] = "journal.unreadable",
		[LOAD_NOT_A_FILE] = "journal.not-a-file",
	};
	static const char *const what[] = {
		[LOAD_OTHER_VERSION] = "is of another version",
		[LOAD_UNREADABLE] = "does not begin with a journal header (torn, foreign "
				    "or too large)",
		[LOAD_NOT_A_FILE] = "is not a regular file",
	};
	int r = load(j);
	char used[64];

	if (r < 0)
		return fail(j, -r, "cannot be read; it is kept as it is and read again later");
	if (r != LOAD_OK) {
		if (set_aside(j, aside[r], used, sizeof(used)) < 0)
			return fail(j, errno, "cannot be set aside");
		log_warning("journal %s %s: kept as %s/%s, starting afresh", j->path, what[r],
			    j->dir, used);
	}
	j->loaded = true;
	return 0;
}

/* Forgets quarantines that are over. */
static void prune(struct vn_journal *j, double now)
{
	struct jquar *q, *next;

	for (q = TAILQ_FIRST(&j->quars); q; q = next) {
		next = TAILQ_NEXT(q, link);
		if (q->until <= now)
			quar_remove(j, q);
	}
}

/* Rewrites the file with what is live, atomically, with one sync. */
static int compact(struct vn_journal *j)
{
	json_t *hdr = json_object();
	int fd, r = 0;
	FILE *f;

	prune(j, wall_now());
	/* a name of our own: whatever sits there now is gone, never followed */
	if (unlinkat(j->dfd, JOURNAL_TMP, 0) < 0 && errno != ENOENT) {
		json_decref(hdr);
		return -errno;
	}
	fd = openat(j->dfd, JOURNAL_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		json_decref(hdr);
		return r;
	}
	errno = 0;
	json_object_set_new(hdr, "vnumad_journal", json_integer(JOURNAL_VERSION));
	json_object_set_new(hdr, "next_id", json_integer((json_int_t)j->next_id));
	r = write_line(f, hdr);
	for (struct jentry *e = TAILQ_FIRST(&j->trials); e && !r; e = TAILQ_NEXT(e, link))
		r = write_line(f, trial_json(&e->t));
	for (struct jquar *q = TAILQ_FIRST(&j->quars); q && !r; q = TAILQ_NEXT(q, link))
		r = write_line(f, quarantine_json(q->guest, q->node, q->strikes, q->until));
	if (!r && fflush(f) != 0)
		r = -errno;
	if (!r && fdatasync(fileno(f)) < 0)
		r = -errno;
	if (fclose(f) != 0 && !r)
		r = -errno;
	if (!r && renameat(j->dfd, JOURNAL_TMP, j->dfd, JOURNAL_FILE) < 0)
		r = -errno;
	/* the rename itself must survive a crash */
	if (!r && fsync(j->dfd) < 0)
		r = -errno;
	if (r)
		unlinkat(j->dfd, JOURNAL_TMP, 0);
	return r;
}

/* Opens the compacted file for appending. */
static int reopen(struct vn_journal *j)
{
	int fd = openat(j->dfd, JOURNAL_FILE, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (j->f)
		fclose(j->f);
	j->f = fdopen(fd, "a");
	if (!j->f) {
		close(fd);
		return -errno;
	}
	j->dirty = false;
	j->compacted = st.st_size;
	return 0;
}

/* Compacts and reopens; the journal fails if either does. */
static int rewrite(struct vn_journal *j)
{
	int r = compact(j);

	if (!r)
		r = reopen(j);
	if (r) {
		if (j->f)
			fclose(j->f);
		j->f = NULL;
		return fail(j, -r, "cannot be rewritten");
	}
	return 0;
}

/* Opens the directory (when not yet), reads the file (when not yet), rewrites it. */
static int bring_up(struct vn_journal *j)
{
	char why[512];
	int r;

	if (j->dfd < 0) {
		r = walk_dir(j->dir, true, &j->dfd, why, sizeof(why));
		if (r < 0) {
			log_debug("state directory: %s", why);
			return fail(j, r > 0 ? ENOENT : -r, "the state directory cannot be opened");
		}
	}
	if (!j->loaded) {
		r = read_back(j);
		if (r < 0)
			return r;
	}
	return rewrite(j);
}

struct vn_journal *journal_open(const char *dir)
{
	struct vn_journal *j;
	char why[512];
	int fd, r = walk_dir(dir, true, &fd, why, sizeof(why));

	if (r == -EPERM) {
		log_warnx("state directory refused: %s", why);
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	j->dfd = fd;
	j->next_id = 1;
	j->dir = xstrdup(dir);
	if (asprintf(&j->path, "%s/" JOURNAL_FILE, dir) < 0)
		fatal("asprintf");
	TAILQ_INIT(&j->trials);
	TAILQ_INIT(&j->quars);
	read_boot_id(j->boot, sizeof(j->boot));
	if (r != 0) {
		log_warnx("state directory %s", why);
		fail(j, -r, "the state directory cannot be opened");
		return j;
	}
	bring_up(j);
	return j;
}

void journal_close(struct vn_journal *j)
{
	if (!j)
		return;
	if (j->f)
		fclose(j->f);
	if (j->dfd >= 0)
		close(j->dfd);
	forget_all(j);
	free(j->thash);
	free(j->qhash);
	free(j->path);
	free(j->dir);
	free(j);
}

const char *journal_path(const struct vn_journal *j)
{
	return j->path;
}

void journal_boot_id(const struct vn_journal *j, char *buf, size_t len)
{
	snprintf(buf, len, "%s", j->boot);
}

int journal_error(const struct vn_journal *j)
{
	return j->error;
}

double journal_failed_at(const struct vn_journal *j)
{
	return j->failed_at;
}

uint64_t journal_failures(const struct vn_journal *j)
{
	return j->failures;
}

int journal_retry(struct vn_journal *j)
{
	int was = j->error;

	if (!was)
		return 0;
	if (bring_up(j) < 0)
		return -j->error;
	j->error = 0;
	log_debug("journal %s is written again (it failed: %s)", j->path, strerror(was));
	return 0;
}

struct journal_trial *journal_take_pending(struct vn_journal *j)
{
	struct journal_trial *head = NULL, **tail = &head;

	if (!j->handout_trials)
		return NULL;
	j->handout_trials = false;
	for (struct jentry *e = TAILQ_FIRST(&j->trials); e; e = TAILQ_NEXT(e, link)) {
		struct journal_trial *t;

		if (e->taken)
			continue;
		e->taken = true;
		t = xcalloc(1, sizeof(*t));
		*t = e->t;
		t->guest = xstrdup(e->t.guest);
		t->act = xcalloc(e->t.nr_act, sizeof(*t->act));
		memcpy(t->act, e->t.act, e->t.nr_act * sizeof(*t->act));
		t->next = NULL;
		*tail = t;
		tail = &t->next;
	}
	return head;
}

struct journal_quarantine *journal_take_quarantines(struct vn_journal *j)
{
	struct journal_quarantine *head = NULL;

	if (!j->handout_quars)
		return NULL;
	j->handout_quars = false;
	for (struct jquar *q = TAILQ_FIRST(&j->quars); q; q = TAILQ_NEXT(q, link)) {
		struct journal_quarantine *x;

		if (q->taken)
			continue;
		q->taken = true;
		x = xcalloc(1, sizeof(*x));
		x->guest = xstrdup(q->guest);
		x->node = q->node;
		x->strikes = q->strikes;
		x->until = q->until;
		x->next = head;
		head = x;
	}
	return head;
}

void journal_free_pending(struct journal_trial *t)
{
	while (t) {
		struct journal_trial *n = t->next;

		free(t->guest);
		free(t->act);
		free(t);
		t = n;
	}
}

void journal_free_quarantines(struct journal_quarantine *q)
{
	while (q) {
		struct journal_quarantine *n = q->next;

		free(q->guest);
		free(q);
		q = n;
	}
}

uint64_t journal_trial(struct vn_journal *j, const char *guest, int pid,
		       const struct vn_action *act, int n)
{
	struct jentry *e;

	if (j->error || n <= 0 || n > JOURNAL_MAX_ACTIONS)
		return 0;
	/* a long-running daemon compacts now and then */
	if (j->f && ftello(j->f) > MAX(JOURNAL_COMPACT, 2 * j->compacted) && rewrite(j) < 0)
		return 0;
	e = xcalloc(1, sizeof(*e));
	e->t.id = j->next_id++;
	e->t.guest = xstrdup(guest);
	e->t.pid = pid;
	memcpy(e->t.boot, j->boot, sizeof(e->t.boot));
	e->t.wall = wall_now();
	e->t.nr_act = n;
	e->t.act = xcalloc(n, sizeof(*e->t.act));
	for (int i = 0; i < n; i++) {
		e->t.act[i] = act[i];
		e->t.act[i].mig = e->t.act[i].undo = NULL;
		e->t.act[i].slot = i;
	}
	e->taken = true;	/* this run's own */
	if (put(j, trial_json(&e->t), true) < 0) {
		/* not applied, so nothing to remember */
		trial_free(e);
		return 0;
	}
	trial_insert(j, e);
	return e->t.id;
}

int journal_update(struct vn_journal *j, uint64_t id, const struct vn_action *act,
		   int n, int sync)
{
	struct jentry *e = trial_find(j, id);
	bool changed = false;
	json_t *o, *eff;

	if (!e)
		return -ENOENT;
	for (int i = 0; i < n; i++) {
		struct vn_action *a;

		if (act[i].slot < 0 || act[i].slot >= e->t.nr_act)
			continue;
		a = &e->t.act[act[i].slot];
		if (a->eff_lo != act[i].eff_lo || a->eff_hi != act[i].eff_hi) {
			a->eff_lo = act[i].eff_lo;
			a->eff_hi = act[i].eff_hi;
			changed = true;
		}
	}
	/* what is in memory is written by the retry that rewrites the file */
	if (j->error)
		return -j->error;
	if (!changed)
		return sync && j->dirty ? journal_commit(j) : 0;
	o = json_object();
	eff = json_array();
	json_object_set_new(o, "type", json_string("progress"));
	json_object_set_new(o, "id", json_integer((json_int_t)id));
	for (int i = 0; i < e->t.nr_act; i++)
		json_array_append_new(eff, span_json(e->t.act[i].eff_lo, e->t.act[i].eff_hi));
	json_object_set_new(o, "effect", eff);
	return put(j, o, sync);
}

int journal_verdict(struct vn_journal *j, uint64_t id, const char *guest,
		    const char *verdict, double gain)
{
	struct jentry *e = trial_find(j, id);
	json_t *o;

	if (!e)
		return -ENOENT;
	trial_remove(j, e);
	o = json_object();
	json_object_set_new(o, "type", json_string("verdict"));
	json_object_set_new(o, "id", json_integer((json_int_t)id));
	set_name(o, guest);
	json_object_set_new(o, "time", json_real(wall_now()));
	json_object_set_new(o, "verdict", json_string(verdict));
	json_object_set_new(o, "gain", json_real(isfinite(gain) ? gain : 0));
	return put(j, o, false);
}

int journal_quarantine(struct vn_journal *j, const char *guest, int node,
		       int strikes, double seconds)
{
	struct jquar *q;

	if (node < 0 || node >= VN_MAX_NODES)
		return -EINVAL;
	q = quar_remember(j, guest, node, MIN(strikes, JOURNAL_MAX_STRIKES),
			  wall_now() + seconds);
	q->taken = true;
	return put(j, quarantine_json(guest, node, q->strikes, q->until), false);
}

int journal_commit(struct vn_journal *j)
{
	if (j->error)
		return -j->error;
	if (!j->dirty)
		return 0;
	if (fflush(j->f) != 0 || fdatasync(fileno(j->f)) < 0)
		return fail(j, errno, "sync failed");
	j->dirty = false;
	return 0;
}
