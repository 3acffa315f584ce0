// SPDX-License-Identifier: MIT
/*
 * INI files through iniparser, with line numbers. iniparser parses values
 * (quotes, inline comments, continuations); a light scan of the same text
 * keeps the line of each section and key, which iniparser drops, and finds
 * duplicates and syntax errors so that every message names file and line.
 *
 * The file is read once, at most INI_FILE_MAX bytes, and iniparser parses
 * that same copy. Lines are at most INI_LINE_MAX - 1 characters, a file at
 * most INI_ENTRIES_MAX keys and sections: iniparser 4.1 looks every key up
 * linearly, so more would make a load quadratic (and a SIGHUP block the
 * loop). Lookups here go through hash tables, every pass is linear, and at
 * most INI_REPORT_MAX unknown names are reported, with a count of the rest.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <iniparser.h>

#include "ini.h"
#include "util.h"

/* iniparser's line buffer; a longer logical line makes it fail the file. */
#define INI_LINE_MAX	1023
#define INI_FILE_MAX	(1024 * 1024)
#define INI_ENTRIES_MAX	16384
#define INI_REPORT_MAX	100

struct ini_entry {
	char *sec;
	char *key;
	const char *value;	/* iniparser's, NULL if it dropped the line */
	int line;
	int next;		/* the next entry of its section, -1 none */
	bool used;
	bool lost;		/* asked for, and iniparser had no value */
};

struct ini_section {
	char *name;
	int line;
	int first, last;	/* its entries, -1 none */
	bool claimed;
};

/* A (section, key) the program asked for, present in the file or not. */
struct ini_known {
	char *sec;
	char *key;
};

/* Open addressing over indexes into an array of the owner's; 0 is empty. */
struct ini_map {
	int *slot;
	unsigned cap;		/* a power of two, or 0 */
	unsigned n;
};

struct vn_ini {
	char *path;
	dictionary *dict;
	struct ini_known *known;	/* what was asked for: the suggestions */
	int nknown, capknown;
	struct ini_entry *ent;
	int nent, capent;
	struct ini_section *sec;
	int nsec, capsec;
	struct ini_map ent_map, sec_map, known_map;
};

void errors_add(struct vn_errors *e, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	if (!m)
		return;
	if (e->count == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 8;
		e->msg = xreallocarray(e->msg, e->cap, sizeof(*e->msg));
	}
	e->msg[e->count++] = m;
}

void errors_print(const struct vn_errors *e, FILE *f)
{
	for (int i = 0; i < e->count; i++)
		fprintf(f, "%s\n", e->msg[i]);
}

void errors_free(struct vn_errors *e)
{
	for (int i = 0; i < e->count; i++)
		free(e->msg[i]);
	free(e->msg);
	memset(e, 0, sizeof(*e));
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static char *strip(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* FNV-1a of a, then of b after a separator no name contains. */
static uint32_t hash2(const char *a, const char *b)
{
	uint32_t h = 2166136261u;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	if (b) {
		h = (h ^ 0xff) * 16777619u;
		for (; *b; b++)
			h = (h ^ (unsigned char)*b) * 16777619u;
	}
	return h;
}

/*
 * Finds the slot of (a, b): the one holding an index i + 1 for which
 * same(i) is true, or the empty one where it would go.
 */
static int *map_slot(const struct ini_map *m, uint32_t h,
		     bool (*same)(const struct vn_ini *, int, const char *, const char *),
		     const struct vn_ini *ini, const char *a, const char *b)
{
	for (unsigned i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
		if (!m->slot[i] || same(ini, m->slot[i] - 1, a, b))
			return &m->slot[i];
}

/* Adds index idx, hashed h, keeping the table at most half full. */
static void map_add(struct ini_map *m, uint32_t h, int idx,
		    uint32_t (*rehash)(const struct vn_ini *, int), const struct vn_ini *ini)
{
	if (2 * (m->n + 1) > m->cap) {
		struct ini_map big = { .cap = m->cap ? 2 * m->cap : 64 };

		big.slot = xcalloc(big.cap, sizeof(*big.slot));
		for (unsigned i = 0; i < m->cap; i++) {
			unsigned j;

			if (!m->slot[i])
				continue;
			for (j = rehash(ini, m->slot[i] - 1) & (big.cap - 1); big.slot[j];
			     j = (j + 1) & (big.cap - 1))
				;
			big.slot[j] = m->slot[i];
		}
		free(m->slot);
		big.n = m->n;
		*m = big;
	}
	for (unsigned i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
		if (!m->slot[i]) {
			m->slot[i] = idx + 1;
			m->n++;
			return;
		}
}

static bool same_sec(const struct vn_ini *ini, int i, const char *a, const char *b)
{
	(void)b;
	return strcmp(ini->sec[i].name, a) == 0;
}

static bool same_ent(const struct vn_ini *ini, int i, const char *a, const char *b)
{
	return strcmp(ini->ent[i].sec, a) == 0 && strcmp(ini->ent[i].key, b) == 0;
}

static bool same_known(const struct vn_ini *ini, int i, const char *a, const char *b)
{
	return strcmp(ini->known[i].sec, a) == 0 && strcmp(ini->known[i].key, b) == 0;
}

static uint32_t hash_sec(const struct vn_ini *ini, int i)
{
	return hash2(ini->sec[i].name, NULL);
}

static uint32_t hash_ent(const struct vn_ini *ini, int i)
{
	return hash2(ini->ent[i].sec, ini->ent[i].key);
}

static uint32_t hash_known(const struct vn_ini *ini, int i)
{
	return hash2(ini->known[i].sec, ini->known[i].key);
}

static struct ini_section *find_section(const struct vn_ini *ini, const char *sec)
{
	int *s;

	if (!ini->sec_map.cap)
		return NULL;
	s = map_slot(&ini->sec_map, hash2(sec, NULL), same_sec, ini, sec, NULL);
	return *s ? &ini->sec[*s - 1] : NULL;
}

static struct ini_entry *find_entry(const struct vn_ini *ini, const char *sec,
				    const char *key)
{
	int *s;

	if (!ini->ent_map.cap)
		return NULL;
	s = map_slot(&ini->ent_map, hash2(sec, key), same_ent, ini, sec, key);
	return *s ? &ini->ent[*s - 1] : NULL;
}

static struct ini_section *add_section(struct vn_ini *ini, const char *name, int line)
{
	if (ini->nsec == ini->capsec) {
		ini->capsec = ini->capsec ? 2 * ini->capsec : 16;
		ini->sec = xreallocarray(ini->sec, ini->capsec, sizeof(*ini->sec));
	}
	ini->sec[ini->nsec] = (struct ini_section){
		.name = xstrdup(name), .line = line, .first = -1, .last = -1 };
	map_add(&ini->sec_map, hash2(name, NULL), ini->nsec, hash_sec, ini);
	return &ini->sec[ini->nsec++];
}

static void add_entry(struct vn_ini *ini, struct ini_section *s, const char *key,
		      int line)
{
	int i = ini->nent;

	if (ini->nent == ini->capent) {
		ini->capent = ini->capent ? 2 * ini->capent : 64;
		ini->ent = xreallocarray(ini->ent, ini->capent, sizeof(*ini->ent));
	}
	ini->ent[i] = (struct ini_entry){
		.sec = xstrdup(s->name), .key = xstrdup(key), .line = line, .next = -1 };
	if (s->last >= 0)
		ini->ent[s->last].next = i;
	else
		s->first = i;
	s->last = i;
	map_add(&ini->ent_map, hash2(s->name, key), i, hash_ent, ini);
	ini->nent++;
}

/* iniparser reports syntax errors through this; the scan reports them too. */
static int ini_quiet(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}

static bool ends_in_backslash(const char *s)
{
	size_t n = strlen(s);

	return n && s[n - 1] == '\\';
}

/*
 * A quoted value, as iniparser reads it: "..." or '...' up to the same
 * quote, and nothing after it but a comment. iniparser takes what it found
 * in an unterminated one and ignores what follows a closing one: neither
 * should pass unnoticed.
 */
static int check_quotes(struct vn_ini *ini, const char *key, char *v, int lineno,
			const char *sec, struct vn_errors *e)
{
	char *q;

	if (*v != '"' && *v != '\'')
		return 0;
	q = strchr(v + 1, *v);
	if (!q) {
		errors_add(e, "%s:%d: [%s] %s: unterminated quote: the value starts with %c "
			   "and has no closing one", ini->path, lineno, sec, key, *v);
		return 1;
	}
	q = strip(q + 1);
	if (*q && *q != ';' && *q != '#') {
		errors_add(e, "%s:%d: [%s] %s: text after the closing quote: '%s'",
			   ini->path, lineno, sec, key, q);
		return 1;
	}
	return 0;
}

/*
 * Parses one logical line (continuations joined). Mirrors iniparser's
 * grammar so that what it would reject is reported here with a line
 * number, since iniparser itself only says that the file failed.
 */
static int scan_line(struct vn_ini *ini, char *s, int lineno, char **cur,
		     bool *bad_sec, struct vn_errors *e)
{
	struct ini_section *sec;
	struct ini_entry *dup;
	char *eq;

	if (*s == '\0')
		return 0;
	if (*s == ';' || *s == '#')
		return 0;
	if (*s == '[') {
		char *end = strchr(s, ']');

		free(*cur);
		*cur = NULL;
		*bad_sec = true;
		if (!end) {
			errors_add(e, "%s:%d: malformed section header: no ']'", ini->path, lineno);
			return 1;
		}
		if (*strip(end + 1) != '\0') {
			errors_add(e, "%s:%d: malformed section header: text after ']'",
				   ini->path, lineno);
			return 1;
		}
		*end = '\0';
		s = strip(s + 1);
		if (*s == '\0') {
			errors_add(e, "%s:%d: malformed section header: empty name",
				   ini->path, lineno);
			return 1;
		}
		lower(s);
		*cur = xstrdup(s);
		*bad_sec = false;
		if (!find_section(ini, s))
			add_section(ini, s, lineno);
		return 0;
	}
	eq = strchr(s, '=');
	if (!eq) {
		errors_add(e, "%s:%d: syntax error: expected 'key = value' or '[section]'",
			   ini->path, lineno);
		return 1;
	}
	*eq = '\0';
	s = strip(s);
	lower(s);
	if (*s == '\0') {
		errors_add(e, "%s:%d: syntax error: missing key before '='", ini->path, lineno);
		return 1;
	}
	if (*bad_sec)
		return 0;	/* its section header was already reported */
	if (!*cur) {
		errors_add(e, "%s:%d: key '%s' outside any section", ini->path, lineno, s);
		return 1;
	}
	dup = find_entry(ini, *cur, s);
	if (dup) {
		errors_add(e, "%s:%d: [%s] %s: duplicate key (first set at line %d)",
			   ini->path, lineno, *cur, s, dup->line);
		return 1;
	}
	if (check_quotes(ini, s, strip(eq + 1), lineno, *cur, e))
		return 1;
	sec = find_section(ini, *cur);
	add_entry(ini, sec, s, lineno);
	return 0;
}

/*
 * Scans text (len bytes, NUL-terminated) for sections, keys and syntax
 * errors; returns the errors found. The text is changed.
 */
static int scan(struct vn_ini *ini, char *text, size_t len, struct vn_errors *e)
{
	char *line = text, *end = text + len, *cur = NULL;
	char *logical = xmalloc(INI_LINE_MAX + 1);
	size_t llen = 0;
	int lineno = 0, start = 0, nerr = 0;
	bool bad_sec = false, continued = false, too_long = false;

	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line)), *s;
		size_t n;

		if (nl)
			*nl = '\0';
		lineno++;
		if (strlen(line) != (size_t)((nl ? nl : end) - line)) {
			errors_add(e, "%s:%d: a NUL byte: not a text file", ini->path, lineno);
			nerr++;
			continued = false;
			break;
		}
		s = strip(line);
		line = nl ? nl + 1 : end;
		if (!continued) {
			start = lineno;
			llen = 0;
			too_long = false;
			if ((*s == '#' || *s == ';') && ends_in_backslash(s)) {
				/* iniparser would swallow the next line into the comment */
				errors_add(e, "%s:%d: comment ends with a backslash, which "
					   "joins line %d to it", ini->path, lineno, lineno + 1);
				nerr++;
				continue;
			}
		}
		n = strlen(s);
		continued = ends_in_backslash(s);
		if (continued)
			s[--n] = '\0';		/* joined to the next line */
		if (!too_long && llen + n > INI_LINE_MAX - 1) {
			errors_add(e, "%s:%d: line too long (at most %d characters, "
				   "continuations included)", ini->path, start, INI_LINE_MAX - 1);
			nerr++;
			too_long = true;	/* and the rest of it with it */
		}
		if (too_long)
			continue;
		memcpy(logical + llen, s, n + 1);
		llen += n;
		if (continued)
			continue;
		nerr += scan_line(ini, strip(logical), start, &cur, &bad_sec, e);
		if (ini->nent + ini->nsec > INI_ENTRIES_MAX) {
			errors_add(e, "%s:%d: more than %d keys and sections, the most a "
				   "file may have", ini->path, lineno, INI_ENTRIES_MAX);
			nerr++;
			break;
		}
	}
	if (continued) {
		/* iniparser drops such a line, key and all */
		errors_add(e, "%s:%d: the line ends with a backslash, which continues it "
			   "past the end of the file", ini->path, lineno);
		nerr++;
	}
	free(cur);
	free(logical);
	return nerr;
}

/* Reads the whole file, at most INI_FILE_MAX bytes; NUL-terminated. */
static char *read_all(const char *path, const char *name, size_t *len,
		      struct vn_errors *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t cap = 16384, n = 0;
	char *buf;

	if (fd < 0) {
		errors_add(e, "%s: %s", name, strerror(errno));
		return NULL;
	}
	buf = xmalloc(cap + 1);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			cap = MIN(2 * cap, (size_t)INI_FILE_MAX + 1);
			buf = xreallocarray(buf, cap + 1, 1);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			errors_add(e, "%s: %s", name, strerror(errno));
			break;
		}
		if (r == 0) {
			close(fd);
			buf[n] = '\0';
			*len = n;
			return buf;
		}
		n += (size_t)r;
		if (n > INI_FILE_MAX) {
			errors_add(e, "%s: larger than %d KiB, the most a file of settings "
				   "may be", name, INI_FILE_MAX / 1024);
			break;
		}
	}
	close(fd);
	free(buf);
	return NULL;
}

static bool same_dict(const struct vn_ini *ini, int i, const char *a, const char *b)
{
	(void)b;
	return strcmp(ini->dict->key[i], a) == 0;
}

static uint32_t hash_dict(const struct vn_ini *ini, int i)
{
	return hash2(ini->dict->key[i], NULL);
}

/* Gives every entry iniparser's value, in one pass over its dictionary. */
static void take_values(struct vn_ini *ini)
{
	const dictionary *d = ini->dict;
	struct ini_map m = { 0 };
	size_t cap = 0;
	char *full = NULL;

	for (ssize_t i = 0; i < d->size; i++)
		if (d->key[i])
			map_add(&m, hash2(d->key[i], NULL), (int)i, hash_dict, ini);
	for (int i = 0; i < ini->nent && m.cap; i++) {
		struct ini_entry *en = &ini->ent[i];
		size_t need = strlen(en->sec) + strlen(en->key) + 2;
		int *s;

		if (need > cap) {
			cap = need;
			full = xreallocarray(full, cap, 1);
		}
		snprintf(full, cap, "%s:%s", en->sec, en->key);
		s = map_slot(&m, hash2(full, NULL), same_dict, ini, full, NULL);
		en->value = *s ? d->val[*s - 1] : NULL;
	}
	free(full);
	free(m.slot);
}

/* Parses text (changed), naming it `name` in messages. */
static struct vn_ini *parse(char *text, size_t len, const char *name,
			    struct vn_errors *e)
{
	struct vn_ini *ini = xcalloc(1, sizeof(*ini));
	char path[64];
	int fd;

	ini->path = xstrdup(name);
	/* iniparser reads only files: it gets this same text through a memfd */
	fd = memfd_create("vnumad-ini", MFD_CLOEXEC);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		errors_add(e, "%s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		vn_ini_free(ini);
		return NULL;
	}
	if (scan(ini, text, len, e)) {
		close(fd);
		vn_ini_free(ini);
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	iniparser_set_error_callback(ini_quiet);
	ini->dict = iniparser_load(path);
	close(fd);
	if (!ini->dict) {
		errors_add(e, "%s: cannot be parsed", name);
		vn_ini_free(ini);
		return NULL;
	}
	take_values(ini);
	return ini;
}

struct vn_ini *vn_ini_load(const char *path, struct vn_errors *e)
{
	size_t len;
	char *text = read_all(path, path, &len, e);
	struct vn_ini *ini;

	if (!text)
		return NULL;
	ini = parse(text, len, path, e);
	free(text);
	return ini;
}

struct vn_ini *vn_ini_load_text(const char *name, const char *text,
				struct vn_errors *e)
{
	size_t len = strlen(text);
	struct vn_ini *ini;
	char *copy;

	if (len > INI_FILE_MAX) {
		errors_add(e, "%s: larger than %d KiB, the most a file of settings may be",
			   name, INI_FILE_MAX / 1024);
		return NULL;
	}
	copy = xstrdup(text);
	ini = parse(copy, len, name, e);
	free(copy);
	return ini;
}

void vn_ini_free(struct vn_ini *ini)
{
	if (!ini)
		return;
	if (ini->dict)
		iniparser_freedict(ini->dict);
	for (int i = 0; i < ini->nent; i++) {
		free(ini->ent[i].sec);
		free(ini->ent[i].key);
	}
	for (int i = 0; i < ini->nsec; i++)
		free(ini->sec[i].name);
	for (int i = 0; i < ini->nknown; i++) {
		free(ini->known[i].sec);
		free(ini->known[i].key);
	}
	free(ini->ent_map.slot);
	free(ini->sec_map.slot);
	free(ini->known_map.slot);
	free(ini->known);
	free(ini->ent);
	free(ini->sec);
	free(ini->path);
	free(ini);
}

const char *vn_ini_path(const struct vn_ini *ini)
{
	return ini->path;
}

int vn_ini_nsections(const struct vn_ini *ini)
{
	return ini->nsec;
}

const char *vn_ini_section(const struct vn_ini *ini, int i)
{
	return i >= 0 && i < ini->nsec ? ini->sec[i].name : NULL;
}

bool vn_ini_has_section(const struct vn_ini *ini, const char *sec)
{
	return find_section(ini, sec) != NULL;
}

int vn_ini_line(const struct vn_ini *ini, const char *sec, const char *key)
{
	if (!key) {
		struct ini_section *s = find_section(ini, sec);
		return s ? s->line : 0;
	}
	struct ini_entry *en = find_entry(ini, sec, key);
	return en ? en->line : 0;
}

void vn_ini_error(const struct vn_ini *ini, struct vn_errors *e,
		  const char *sec, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int line = vn_ini_line(ini, sec, key);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key)
		errors_add(e, "%s:%d: [%s] %s: %s", ini->path, line, sec, key, msg);
	else
		errors_add(e, "%s:%d: [%s]: %s", ini->path, line, sec, msg);
}

void vn_ini_claim(struct vn_ini *ini, const char *sec)
{
	struct ini_section *s = find_section(ini, sec);

	if (s)
		s->claimed = true;
}

/* Remembers that the program knows (sec, key), for suggestions; once. */
static void know(struct vn_ini *ini, const char *sec, const char *key)
{
	uint32_t h = hash2(sec, key);

	if (ini->known_map.cap &&
	    *map_slot(&ini->known_map, h, same_known, ini, sec, key))
		return;
	if (ini->nknown == ini->capknown) {
		ini->capknown = ini->capknown ? 2 * ini->capknown : 64;
		ini->known = xreallocarray(ini->known, ini->capknown, sizeof(*ini->known));
	}
	ini->known[ini->nknown] = (struct ini_known){ xstrdup(sec), xstrdup(key) };
	map_add(&ini->known_map, h, ini->nknown++, hash_known, ini);
}

const char *vn_ini_get(struct vn_ini *ini, const char *sec, const char *key)
{
	struct ini_entry *en = find_entry(ini, sec, key);

	know(ini, sec, key);
	vn_ini_claim(ini, sec);
	if (!en)
		return NULL;
	en->used = true;
	/* the scan saw the key: iniparser must have its value */
	en->lost = !en->value;
	return en->value;
}

void vn_ini_ignore(struct vn_ini *ini, const char *sec)
{
	struct ini_section *s = find_section(ini, sec);

	vn_ini_claim(ini, sec);
	for (int i = s ? s->first : -1; i >= 0; i = ini->ent[i].next)
		ini->ent[i].used = true;
}

/* Optimal string alignment distance of a and b (Damerau-Levenshtein). */
static int distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int d[32][32];

	if (la >= 32 || lb >= 32)
		return 99;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] != b[j - 1];
			int x = MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);

			x = MIN(x, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
				x = MIN(x, d[i - 2][j - 2] + 1);
			d[i][j] = x;
		}
	return d[la][lb];
}

/*
 * Close enough to be a typo: no edit in names of up to 3 letters, 1 in
 * names of up to 6, 2 in longer ones.
 */
static bool near(const char *typo, const char *name, int *best)
{
	size_t len = strlen(name), tlen = strlen(typo);
	int limit = len <= 3 ? 0 : len <= 6 ? 1 : 2, d;

	/* an edit changes the length by one at most */
	if ((tlen > len ? tlen - len : len - tlen) > (size_t)limit)
		return false;
	d = distance(typo, name);
	if (d == 0 || d > limit || d >= *best)
		return false;
	*best = d;
	return true;
}

/* " (did you mean ...?)" for an unknown key of section sec, or "". */
static void suggest_key(const struct vn_ini *ini, const char *sec, const char *key,
			char *buf, size_t len)
{
	const char *other = NULL, *close = NULL;
	int best = 99;

	for (int i = 0; i < ini->nknown; i++) {
		const struct ini_known *k = &ini->known[i];

		if (strcmp(k->sec, sec) == 0 && near(key, k->key, &best))
			close = k->key;
		else if (strcmp(k->sec, sec) != 0 && strcmp(k->key, key) == 0 && !other)
			other = k->sec;
	}
	if (close)
		snprintf(buf, len, " (did you mean %s?)", close);
	else if (other)
		snprintf(buf, len, " (it belongs in [%s])", other);
	else
		buf[0] = '\0';
}

/* " (did you mean [...]?)" for an unknown section, or "". */
static void suggest_section(const struct vn_ini *ini, const char *sec, char *buf,
			    size_t len)
{
	const char *close = NULL;
	int best = 99;

	for (int i = 0; i < ini->nknown; i++)
		if ((i == 0 || strcmp(ini->known[i].sec, ini->known[i - 1].sec) != 0) &&
		    near(sec, ini->known[i].sec, &best))
			close = ini->known[i].sec;
	if (close)
		snprintf(buf, len, " (did you mean [%s]?)", close);
	else
		buf[0] = '\0';
}

int vn_ini_check_unknown(const struct vn_ini *ini, struct vn_errors *e)
{
	char hint[96];
	int n = 0, lost = 0;

	for (int i = 0; i < ini->nsec; i++) {
		if (ini->sec[i].claimed)
			continue;
		if (n++ < INI_REPORT_MAX) {
			suggest_section(ini, ini->sec[i].name, hint, sizeof(hint));
			errors_add(e, "%s:%d: unknown section [%s]%s", ini->path,
				   ini->sec[i].line, ini->sec[i].name, hint);
		}
	}
	for (int i = 0; i < ini->nent; i++) {
		const struct ini_entry *en = &ini->ent[i];
		struct ini_section *s = find_section(ini, en->sec);

		if (en->lost) {
			/* the scan and iniparser disagree: say it, never drop it */
			errors_add(e, "%s:%d: [%s] %s: the line could not be read", ini->path,
				   en->line, en->sec, en->key);
			lost++;
			continue;
		}
		if (en->used || !s || !s->claimed)
			continue;
		if (n++ < INI_REPORT_MAX) {
			suggest_key(ini, en->sec, en->key, hint, sizeof(hint));
			errors_add(e, "%s:%d: [%s] %s: unknown key%s", ini->path,
				   en->line, en->sec, en->key, hint);
		}
	}
	if (n > INI_REPORT_MAX)
		errors_add(e, "%s: %d more unknown sections and keys (the first %d are "
			   "listed)", ini->path, n - INI_REPORT_MAX, INI_REPORT_MAX);
	return MIN(n, INI_REPORT_MAX + 1) + lost;
}

/* Common shape of the typed getters: fetch, parse, range-check. */
#define GETTER_PROLOGUE()						\
	const char *v = vn_ini_get(ini, sec, key);			\
	const char *why = NULL;						\
	if (!v)								\
		return 0;

int vn_ini_string(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		  const char *key, char **out)
{
	GETTER_PROLOGUE();
	(void)why;
	(void)e;
	free(*out);
	*out = xstrdup(v);
	return 1;
}

int vn_ini_bool(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, bool *out)
{
	GETTER_PROLOGUE();
	if (parse_bool(v, out, &why) < 0) {
		vn_ini_error(ini, e, sec, key, "'%s': %s", v, why);
		return -1;
	}
	return 1;
}

static int range_error(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		       const char *key, const char *v, double x, double min,
		       double max)
{
	if (min == max || (x >= min && x <= max))
		return 0;
	vn_ini_error(ini, e, sec, key, "'%s' is out of range (%g to %g)", v, min, max);
	return -1;
}

int vn_ini_long(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, long *out, long min, long max)
{
	long x;

	GETTER_PROLOGUE();
	if (parse_long(v, &x, &why) < 0) {
		vn_ini_error(ini, e, sec, key, "'%s': %s", v, why);
		return -1;
	}
	if (min != max && (x < min || x > max)) {
		vn_ini_error(ini, e, sec, key, "'%s' is out of range (%ld to %ld)", v, min, max);
		return -1;
	}
	*out = x;
	return 1;
}

int vn_ini_double(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		  const char *key, double *out, double min, double max)
{
	double x;

	GETTER_PROLOGUE();
	if (parse_double(v, &x, &why) < 0) {
		vn_ini_error(ini, e, sec, key, "'%s': %s", v, why);
		return -1;
	}
	if (range_error(ini, e, sec, key, v, x, min, max))
		return -1;
	*out = x;
	return 1;
}

int vn_ini_percent(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		   const char *key, double *out, double min, double max)
{
	double x;

	GETTER_PROLOGUE();
	if (parse_percent(v, &x, &why) < 0) {
		vn_ini_error(ini, e, sec, key, "'%s': %s", v, why);
		return -1;
	}
	if (min != max && (x < min || x > max)) {
		vn_ini_error(ini, e, sec, key, "'%s' is out of range (%g%% to %g%%)",
			     v, min * 100, max * 100);
		return -1;
	}
	*out = x;
	return 1;
}

int vn_ini_duration(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		    const char *key, double *out, double min, double max)
{
	char a[32], b[32];
	double x;

	GETTER_PROLOGUE();
	if (parse_duration(v, &x, &why) < 0) {
		vn_ini_error(ini, e, sec, key, "'%s': %s", v, why);
		return -1;
	}
	if (min != max && (x < min || x > max)) {
		vn_ini_error(ini, e, sec, key, "'%s' is out of range (%s to %s)", v,
			     fmt_duration(a, sizeof(a), min),
			     fmt_duration(b, sizeof(b), max));
		return -1;
	}
	*out = x;
	return 1;
}

int vn_ini_size(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, uint64_t *out, uint64_t min, uint64_t max)
{
	char a[32], b[32];
	uint64_t x;

	GETTER_PROLOGUE();
	if (parse_size(v, &x, &why) < 0) {
		vn_ini_error(ini, e, sec, key, "'%s': %s", v, why);
		return -1;
	}
	if (min != max && (x < min || x > max)) {
		vn_ini_error(ini, e, sec, key, "'%s' is out of range (%s to %s)", v,
			     fmt_size(a, sizeof(a), min), fmt_size(b, sizeof(b), max));
		return -1;
	}
	*out = x;
	return 1;
}

int vn_ini_rate(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, double *out, double min, double max)
{
	char a[32], b[32];
	double x;

	GETTER_PROLOGUE();
	if (parse_rate(v, &x, &why) < 0) {
		vn_ini_error(ini, e, sec, key, "'%s': %s", v, why);
		return -1;
	}
	if (min != max && (x < min || x > max)) {
		vn_ini_error(ini, e, sec, key, "'%s' is out of range (%s/s to %s/s)", v,
			     fmt_size(a, sizeof(a), (uint64_t)min),
			     fmt_size(b, sizeof(b), (uint64_t)max));
		return -1;
	}
	*out = x;
	return 1;
}

int vn_ini_nodemask(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		    const char *key, uint64_t *out)
{
	GETTER_PROLOGUE();
	if (parse_nodemask(v, out, &why) < 0) {
		vn_ini_error(ini, e, sec, key, "'%s': %s", v, why);
		return -1;
	}
	return 1;
}

int vn_ini_enum(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, const char *const *names, int *out)
{
	char list[256];
	size_t off = 0;

	GETTER_PROLOGUE();
	(void)why;
	for (int i = 0; names[i]; i++) {
		if (strcasecmp(v, names[i]) == 0) {
			*out = i;
			return 1;
		}
		off += snprintf(list + off, sizeof(list) - off, "%s%s",
				i ? ", " : "", names[i]);
		if (off >= sizeof(list))
			off = sizeof(list) - 1;
	}
	vn_ini_error(ini, e, sec, key, "'%s': expected one of %s", v, list);
	return -1;
}

int vn_ini_list(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, char ***out, int *n)
{
	GETTER_PROLOGUE();
	(void)why;
	(void)e;
	strv_free(*out);
	*out = split_list_dup(v, n);
	return 1;
}
