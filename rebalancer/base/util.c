// SPDX-License-Identifier: MIT
/* Value parsing, formatting, allocation and a small PRNG. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "util.h"

/* Parses a finite number and returns a pointer to the unit that follows. */
static int parse_number(const char *s, double *v, const char **rest,
			const char **why)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0') {
		*why = "empty value";
		return -1;
	}
	errno = 0;
	*v = strtod(s, &end);
	/* decimal only: strtod would also take hex, inf and nan */
	for (const char *p = s; p < end; p++)
		if (!strchr("0123456789.+-eE", *p))
			end = (char *)s;
	if (end == s || !isfinite(*v) || (errno == ERANGE && fabs(*v) >= 1)) {
		*why = "not a number";
		return -1;
	}
	while (isspace((unsigned char)*end))
		end++;
	*rest = end;
	return 0;
}

/* True if s, less trailing blanks, equals unit (case-insensitively). */
static bool unit_is(const char *s, const char *unit)
{
	size_t n = strlen(unit);

	if (strncasecmp(s, unit, n) != 0)
		return false;
	s += n;
	while (isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

int parse_duration(const char *s, double *out, const char **why)
{
	static const struct { const char *unit; double mul; } units[] = {
		{ "", 1 }, { "ns", 1e-9 }, { "us", 1e-6 }, { "ms", 1e-3 },
		{ "s", 1 }, { "sec", 1 }, { "min", 60 }, { "m", 60 },
		{ "h", 3600 }, { "d", 86400 },
	};
	const char *rest;
	double v;

	if (parse_number(s, &v, &rest, why) < 0)
		return -1;
	if (v < 0) {
		*why = "negative duration";
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (unit_is(rest, units[i].unit)) {
			*out = v * units[i].mul;
			return 0;
		}
	}
	*why = "unknown unit (use ns, us, ms, s, min, h or d)";
	return -1;
}

int parse_size(const char *s, uint64_t *out, const char **why)
{
	static const struct { const char *unit; double mul; } units[] = {
		{ "", 1 }, { "b", 1 },
		{ "k", 1024.0 }, { "kib", 1024.0 }, { "kb", 1e3 },
		{ "m", 1048576.0 }, { "mib", 1048576.0 }, { "mb", 1e6 },
		{ "g", 1073741824.0 }, { "gib", 1073741824.0 }, { "gb", 1e9 },
		{ "t", 1099511627776.0 }, { "tib", 1099511627776.0 }, { "tb", 1e12 },
	};
	const char *rest;
	double v;

	if (parse_number(s, &v, &rest, why) < 0)
		return -1;
	if (v < 0) {
		*why = "negative size";
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (unit_is(rest, units[i].unit)) {
			if (units[i].mul == 1 && v != floor(v)) {
				*why = "a number of bytes has no fraction";
				return -1;
			}
			v *= units[i].mul;
			if (v >= 18446744073709551615.0) {
				*why = "size too large";
				return -1;
			}
			*out = (uint64_t)(v + 0.5);
			return 0;
		}
	}
	*why = "unknown unit (use B, KiB, MiB, GiB, TiB or kB, MB, GB, TB)";
	return -1;
}

int parse_rate(const char *s, double *out, const char **why)
{
	char buf[64];
	size_t n = strlen(s);
	uint64_t v;
	char *slash;

	if (n >= sizeof(buf)) {
		*why = "value too long";
		return -1;
	}
	memcpy(buf, s, n + 1);
	slash = strchr(buf, '/');
	if (slash) {
		const char *per = slash + 1;

		while (isspace((unsigned char)*per))
			per++;
		if (!unit_is(per, "s")) {
			*why = "a rate is a size per second, such as 256MiB/s";
			return -1;
		}
		*slash = '\0';
	}
	if (parse_size(buf, &v, why) < 0)
		return -1;
	*out = (double)v;
	return 0;
}

int parse_percent(const char *s, double *out, const char **why)
{
	const char *rest;
	double v;

	if (parse_number(s, &v, &rest, why) < 0)
		return -1;
	if (unit_is(rest, "%")) {
		*out = v / 100.0;
		return 0;
	}
	if (*rest != '\0') {
		*why = "not a percentage (use 30% or 0.3)";
		return -1;
	}
	*out = v;
	return 0;
}

int parse_bool(const char *s, bool *out, const char **why)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	*why = "not a boolean (use yes or no)";
	return -1;
}

int parse_double(const char *s, double *out, const char **why)
{
	const char *rest;
	double v;

	if (parse_number(s, &v, &rest, why) < 0)
		return -1;
	if (*rest != '\0') {
		*why = "trailing characters after the number";
		return -1;
	}
	*out = v;
	return 0;
}

int parse_long(const char *s, long *out, const char **why)
{
	char *end;

	long v;

	while (isspace((unsigned char)*s))
		s++;
	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s) {
		*why = "not an integer";
		return -1;
	}
	if (errno == ERANGE) {
		*why = "integer out of range";
		return -1;
	}
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0') {
		*why = "not an integer";
		return -1;
	}
	*out = v;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int split_list(char *s, char **items, int max)
{
	int n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (*tok == '\0')
			continue;
		if (n == max)
			return -1;
		items[n++] = tok;
	}
	return n;
}

char **split_list_dup(const char *s, int *n)
{
	size_t max = strlen(s) / 2 + 1;	/* items need a comma between them */
	char *copy = xstrdup(s), **items = xcalloc(max + 1, sizeof(*items));
	int k = split_list(copy, items, (int)max);

	for (int i = 0; i < k; i++)
		items[i] = xstrdup(items[i]);
	items[k] = NULL;
	free(copy);
	*n = k;
	return items;
}

void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

char *fmt_size(char *buf, size_t len, uint64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0, prec;

	while (v >= 1024.0 && u < 5) {
		v /= 1024.0;
		u++;
	}
	if (u == 0) {
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	/* 3 significant digits; 1023.9 KiB reads better as 1.00 MiB */
	prec = v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
	if (v >= 1023.5 && u < 5) {
		v /= 1024.0;
		u++;
		prec = 2;
	}
	snprintf(buf, len, "%.*f %s", prec, v, unit[u]);
	return buf;
}

/* Durations in the largest unit that shows them exactly, else to 3 digits. */
char *fmt_duration(char *buf, size_t len, double s)
{
	static const struct { const char *unit; double sec; } units[] = {
		{ "d", 86400 }, { "h", 3600 }, { "min", 60 }, { "s", 1 },
		{ "ms", 1e-3 }, { "us", 1e-6 },
	};

	if (s <= 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		double v = s / units[i].sec;

		/* whole, or with one decimal: 2s, 2.5s, 1.5min */
		if (v >= 1 && v < 10000 && fabs(v * 10 - round(v * 10)) < 1e-9 * v) {
			snprintf(buf, len, "%g%s", round(v * 10) / 10, units[i].unit);
			return buf;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (s >= units[i].sec * 0.9995 || i + 1 == ARRAY_SIZE(units)) {
			snprintf(buf, len, "%.3g%s", s / units[i].sec, units[i].unit);
			return buf;
		}
	return buf;
}

char *fmt_elapsed(char *buf, size_t len, double s)
{
	long long t;

	if (!(s > 0)) {
		snprintf(buf, len, "0s");
		return buf;
	}
	if (s < 59.5) {
		snprintf(buf, len, "%.3gs", s);
		return buf;
	}
	/* whole seconds from here: a minute and over reads as a clock */
	t = llround(s);
	if (t < 3600)
		snprintf(buf, len, "%lldm%02llds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%lldh%02lldm", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", t / 86400, t % 86400 / 3600);
	return buf;
}

int parse_nodemask(const char *s, uint64_t *out, const char **why)
{
	uint64_t mask = 0;
	const char *p = s;

	while (*p) {
		char *end;
		long a, b;

		while (isspace((unsigned char)*p))
			p++;
		a = strtol(p, &end, 10);
		if (end == p || a < 0 || a > 63) {
			*why = "not a node list (use 0-3,5; nodes 0 to 63)";
			return -1;
		}
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			b = strtol(p, &end, 10);
			if (end == p || b < a || b > 63) {
				*why = "bad node range";
				return -1;
			}
			p = end;
		}
		for (long i = a; i <= b; i++)
			mask |= 1ULL << i;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ',') {
			p++;
			while (isspace((unsigned char)*p))
				p++;
			if (*p == '\0') {
				*why = "node list ends with a comma";
				return -1;
			}
		} else if (*p != '\0') {
			*why = "not a node list (use 0-3,5)";
			return -1;
		}
	}
	if (!mask) {
		*why = "empty node list";
		return -1;
	}
	*out = mask;
	return 0;
}

char *fmt_nodemask(char *buf, size_t len, uint64_t mask)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < 64 && off < len; i++) {
		int j;

		if (!(mask & (1ULL << i)))
			continue;
		for (j = i; j + 1 < 64 && (mask & (1ULL << (j + 1))); j++)
			;
		if (j > i)
			off += snprintf(buf + off, len - off, "%s%d-%d",
					off ? "," : "", i, j);
		else
			off += snprintf(buf + off, len - off, "%s%d",
					off ? "," : "", i);
		i = j;
	}
	return buf;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fatal("malloc");
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		fatal("calloc");
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > SIZE_MAX / size)
		fatalx("reallocarray: overflow");
	q = realloc(p, n && size ? n * size : 1);
	if (!q)
		fatal("realloc");
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		fatal("strdup");
	return p;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void rng_seed(struct vn_rng *r, uint64_t seed)
{
	r->s = splitmix64(&seed) | 1;
}

uint64_t rng_next(struct vn_rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

double rng_uniform(struct vn_rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

double rng_normal(struct vn_rng *r)
{
	/* Box-Muller; one of the pair is enough here. */
	double u = rng_uniform(r), v = rng_uniform(r);

	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

double now_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool glob_match(const char *pattern, const char *name)
{
	return fnmatch(pattern, name, 0) == 0;
}

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int parse_address(const char *s, char *host, size_t len,
		  unsigned *port, const char **why)
{
	const char *h = s, *colon, *p;
	size_t hlen;
	unsigned long v = 0;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end) {
			*why = "no ']' after the IPv6 address";
			return -1;
		}
		if (end[1] != ':') {
			*why = "expected ':PORT' after ']'";
			return -1;
		}
		h = s + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			*why = "expected ADDRESS:PORT, such as 127.0.0.1:9464";
			return -1;
		}
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen)) {
			*why = "an IPv6 address needs brackets, such as [::1]:9464";
			return -1;
		}
	}
	if (hlen == 0) {
		/* listening everywhere must be asked for: 0.0.0.0 or [::] */
		*why = "no address before the port (0.0.0.0 or [::] for all addresses)";
		return -1;
	}
	if (hlen >= len) {
		*why = "address too long";
		return -1;
	}
	p = colon + 1;
	if (!*p) {
		*why = "no port after ':'";
		return -1;
	}
	for (; *p; p++) {
		if (*p < '0' || *p > '9') {
			*why = "the port is not a number";
			return -1;
		}
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			break;
	}
	if (v < 1 || v > 65535) {
		*why = "the port is out of range (1 to 65535)";
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (unsigned)v;
	return 0;
}

size_t utf8_len(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned lo, hi;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		/* no overlong forms, no UTF-16 surrogates */
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		hi = s[0] == 0xed ? 0x9f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		lo = s[0] == 0xf0 ? 0x90 : 0x80;
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
		       (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/*
 * True for a character that moves the cursor, starts an escape sequence or
 * reorders what follows: C0, DEL, C1 (U+0080-U+009F, which some terminals
 * take for ESC sequences), U+2028/U+2029, U+202A-U+202E and U+2066-U+2069.
 */
static bool unsafe_char(const unsigned char *s, size_t k)
{
	if (k == 1)
		return s[0] < 0x20 || s[0] == 0x7f;
	if (k == 2)
		return s[0] == 0xc2 && s[1] < 0xa0;
	if (k == 3 && s[0] == 0xe2 && s[1] == 0x80)
		return s[2] >= 0xa8 && s[2] <= 0xae;
	if (k == 3 && s[0] == 0xe2 && s[1] == 0x81)
		return s[2] >= 0xa6 && s[2] <= 0xa9;
	return false;
}

char *clean_text(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	if (!len)
		return dst;
	while (*src) {
		size_t k = utf8_len(src);

		if (!k || unsafe_char((const unsigned char *)src, k)) {
			if (o + 1 >= len)
				break;
			dst[o++] = '?';
			src += k ? k : 1;
			continue;
		}
		if (o + k >= len)
			break;
		memmove(dst + o, src, k);
		o += k;
		src += k;
	}
	dst[o] = '\0';
	return dst;
}
