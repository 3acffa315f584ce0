// SPDX-License-Identifier: MIT
/*
 * INI files through iniparser, with line numbers. iniparser parses values
 * (quotes, inline comments, continuations); a light scan of the same file
 * keeps the line of each section and key, which iniparser drops, and finds
 * duplicates and syntax errors so that every message names file and line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <iniparser.h>

#include "ini.h"
#include "util.h"

struct ini_entry {
	char *sec;
	char *key;		/* NULL for the section header itself */
	int line;
	bool used;
};

struct ini_section {
	char *name;
	int line;
	bool claimed;
};

/* A (section, key) the program asked for, present in the file or not. */
struct ini_known {
	char *sec;
	char *key;
};

struct vn_ini {
	char *path;
	dictionary *dict;
	struct ini_known *known;	/* what was asked for: the suggestions */
	int nknown, capknown;
	struct ini_entry *ent;
	int nent;
	struct ini_section *sec;
	int nsec;
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

static struct ini_section *find_section(const struct vn_ini *ini,
					const char *sec)
{
	for (int i = 0; i < ini->nsec; i++)
		if (strcmp(ini->sec[i].name, sec) == 0)
			return &ini->sec[i];
	return NULL;
}

static struct ini_entry *find_entry(const struct vn_ini *ini, const char *sec,
				    const char *key)
{
	for (int i = 0; i < ini->nent; i++)
		if (ini->ent[i].key && strcmp(ini->ent[i].sec, sec) == 0 &&
		    strcmp(ini->ent[i].key, key) == 0)
			return &ini->ent[i];
	return NULL;
}

/* iniparser reports syntax errors through this; the scan reports them too. */
static int ini_quiet(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}

/* iniparser's line buffer; a longer logical line makes it fail the file. */
#define INI_LINE_MAX 1023

static bool ends_in_backslash(const char *s)
{
	size_t n = strlen(s);

	return n && s[n - 1] == '\\';
}

/*
 * Parses one logical line (continuations joined). Mirrors iniparser's
 * grammar so that what it would reject is reported here with a line
 * number, since iniparser itself only says that the file failed.
 */
static int scan_line(struct vn_ini *ini, char *s, int lineno, char **cur,
		     bool *bad_sec, struct vn_errors *e)
{
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
		if (!find_section(ini, s)) {
			ini->sec = xreallocarray(ini->sec, ini->nsec + 1, sizeof(*ini->sec));
			ini->sec[ini->nsec++] = (struct ini_section){
				.name = xstrdup(s), .line = lineno };
		}
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
	ini->ent = xreallocarray(ini->ent, ini->nent + 1, sizeof(*ini->ent));
	ini->ent[ini->nent++] = (struct ini_entry){
		.sec = xstrdup(*cur), .key = xstrdup(s), .line = lineno };
	return 0;
}

/* Scans the file for sections, keys and syntax errors; returns errors found. */
static int scan(struct vn_ini *ini, FILE *f, struct vn_errors *e)
{
	char *line = NULL, *cur = NULL, *logical = NULL;
	size_t cap = 0, len = 0;
	int lineno = 0, start = 0, nerr = 0;
	bool bad_sec = false;

	while (getline(&line, &cap, f) > 0) {
		char *s;
		size_t n;

		lineno++;
		s = strip(line);
		if (!logical) {
			start = lineno;
			if ((*s == '#' || *s == ';') && ends_in_backslash(s)) {
				/* iniparser would swallow the next line into the comment */
				errors_add(e, "%s:%d: comment ends with a backslash, which "
					   "joins line %d to it", ini->path, lineno, lineno + 1);
				nerr++;
				continue;
			}
		}
		n = strlen(s);
		logical = xreallocarray(logical, len + n + 1, 1);
		memcpy(logical + len, s, n + 1);
		len += n;
		if (ends_in_backslash(logical)) {
			logical[--len] = '\0';	/* continued on the next line */
			continue;
		}
		if (len > INI_LINE_MAX - 1) {
			errors_add(e, "%s:%d: line too long (at most %d characters, "
				   "continuations included)", ini->path, start, INI_LINE_MAX - 1);
			nerr++;
		} else {
			nerr += scan_line(ini, strip(logical), start, &cur, &bad_sec, e);
		}
		free(logical);
		logical = NULL;
		len = 0;
	}
	if (logical) {
		nerr += scan_line(ini, strip(logical), start, &cur, &bad_sec, e);
		free(logical);
	}
	if (ferror(f)) {
		errors_add(e, "%s: read error: %s", ini->path, strerror(errno));
		nerr++;
	}
	free(cur);
	free(line);
	return nerr;
}

/* Loads `path`, naming it `name` in messages. */
static struct vn_ini *load(const char *path, const char *name,
			   struct vn_errors *e)
{
	struct vn_ini *ini;
	FILE *f;
	int nerr;

	f = fopen(path, "r");
	if (!f) {
		errors_add(e, "%s: %s", name, strerror(errno));
		return NULL;
	}
	ini = xcalloc(1, sizeof(*ini));
	ini->path = xstrdup(name);
	nerr = scan(ini, f, e);
	fclose(f);
	if (nerr) {
		vn_ini_free(ini);
		return NULL;
	}
	iniparser_set_error_callback(ini_quiet);
	ini->dict = iniparser_load(path);
	if (!ini->dict) {
		errors_add(e, "%s: cannot be parsed", name);
		vn_ini_free(ini);
		return NULL;
	}
	return ini;
}

struct vn_ini *vn_ini_load(const char *path, struct vn_errors *e)
{
	return load(path, path, e);
}

/* iniparser reads only files, so the text goes through an anonymous one. */
struct vn_ini *vn_ini_load_text(const char *name, const char *text,
				struct vn_errors *e)
{
	struct vn_ini *ini;
	char path[64];
	size_t len = strlen(text);
	int fd = memfd_create("vnumad-ini", MFD_CLOEXEC);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		errors_add(e, "%s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ini = load(path, name, e);
	close(fd);
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

/* Remembers that the program knows (sec, key), for suggestions. */
static void know(struct vn_ini *ini, const char *sec, const char *key)
{
	if (ini->nknown == ini->capknown) {
		ini->capknown = ini->capknown ? 2 * ini->capknown : 64;
		ini->known = xreallocarray(ini->known, ini->capknown, sizeof(*ini->known));
	}
	ini->known[ini->nknown++] = (struct ini_known){ xstrdup(sec), xstrdup(key) };
}

const char *vn_ini_get(struct vn_ini *ini, const char *sec, const char *key)
{
	struct ini_entry *en = find_entry(ini, sec, key);
	char full[256];

	know(ini, sec, key);
	vn_ini_claim(ini, sec);
	if (!en)
		return NULL;
	en->used = true;
	snprintf(full, sizeof(full), "%s:%s", sec, key);
	return iniparser_getstring(ini->dict, full, NULL);
}

void vn_ini_ignore(struct vn_ini *ini, const char *sec)
{
	vn_ini_claim(ini, sec);
	for (int i = 0; i < ini->nent; i++)
		if (strcmp(ini->ent[i].sec, sec) == 0)
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
	size_t len = strlen(name);
	int d = distance(typo, name);
	int limit = len <= 3 ? 0 : len <= 6 ? 1 : 2;

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
		if (near(sec, ini->known[i].sec, &best))
			close = ini->known[i].sec;
	if (close)
		snprintf(buf, len, " (did you mean [%s]?)", close);
	else
		buf[0] = '\0';
}

int vn_ini_check_unknown(const struct vn_ini *ini, struct vn_errors *e)
{
	char hint[96];
	int n = 0;

	for (int i = 0; i < ini->nsec; i++) {
		if (ini->sec[i].claimed)
			continue;
		suggest_section(ini, ini->sec[i].name, hint, sizeof(hint));
		errors_add(e, "%s:%d: unknown section [%s]%s", ini->path,
			   ini->sec[i].line, ini->sec[i].name, hint);
		n++;
	}
	for (int i = 0; i < ini->nent; i++) {
		struct ini_section *s = find_section(ini, ini->ent[i].sec);

		if (ini->ent[i].used || !s || !s->claimed)
			continue;
		suggest_key(ini, ini->ent[i].sec, ini->ent[i].key, hint, sizeof(hint));
		errors_add(e, "%s:%d: [%s] %s: unknown key%s", ini->path,
			   ini->ent[i].line, ini->ent[i].sec, ini->ent[i].key, hint);
		n++;
	}
	return n;
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
