/* SPDX-License-Identifier: MIT */
#ifndef VN_UTIL_H
#define VN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

/*
 * Value parsers shared by the configuration and the scenario files. Each
 * returns 0 on success or -1 with a static explanation in *why.
 *
 * duration: "500ms", "2s", "1.5min", "1h", "250us"; a bare number is seconds.
 * size:     "512MiB", "4G" (binary: K/M/G/T = KiB...), "1.5GB" (decimal),
 *           a bare number is bytes.
 * rate:     a size per second: "256MiB" or "256MiB/s".
 * percent:  "30%" or a fraction "0.3"; gives 0.3.
 * bool:     yes/no, true/false, on/off, 1/0.
 */
int parse_duration(const char *s, double *out, const char **why);
int parse_size(const char *s, uint64_t *out, const char **why);
int parse_rate(const char *s, double *out, const char **why);
int parse_percent(const char *s, double *out, const char **why);
int parse_bool(const char *s, bool *out, const char **why);
int parse_double(const char *s, double *out, const char **why);
int parse_long(const char *s, long *out, const char **why);

/*
 * Parses "ADDR:PORT": an IPv4 address, a bracketed IPv6 address ("[::1]:9464")
 * or a host name, and a port of 1 to 65535. Fills host (NUL-terminated, at
 * most len bytes) and *port; returns 0, or -1 with a static reason in *why.
 * Resolves nothing, so the configuration check can use it.
 */
int parse_address(const char *s, char *host, size_t len, unsigned *port,
		  const char **why);

/* Splits a comma-separated list in place; empty items are skipped. */
int split_list(char *s, char **items, int max);
/* The same into a NULL-terminated array of copies (*n of them). */
char **split_list_dup(const char *s, int *n);
/* Frees such an array; NULL is a no-op. */
void strv_free(char **v);

/* Human formatting into a caller buffer; returns buf. */
char *fmt_size(char *buf, size_t len, uint64_t bytes);
/* A setting's duration as the configuration writes it: 2s, 1.5min. */
char *fmt_duration(char *buf, size_t len, double seconds);
/*
 * A time read off a clock (an age, a time left, a tick's time), one format
 * everywhere: 2s, 1.5s below a minute, then 1m02s, 2h05m, 3d04h.
 */
char *fmt_elapsed(char *buf, size_t len, double seconds);

/* Node masks: "0-3,5" <-> bits. */
int parse_nodemask(const char *s, uint64_t *out, const char **why);
char *fmt_nodemask(char *buf, size_t len, uint64_t mask);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

/* Simple deterministic PRNG (splitmix64 seeded xorshift). */
struct vn_rng {
	uint64_t s;
};
void rng_seed(struct vn_rng *r, uint64_t seed);
uint64_t rng_next(struct vn_rng *r);
double rng_uniform(struct vn_rng *r);	/* [0, 1) */
double rng_normal(struct vn_rng *r);	/* mean 0, sd 1 */

double now_monotonic(void);	/* seconds */
/* qsort's comparison of doubles, ascending. */
int cmp_double(const void *a, const void *b);
/* The median of v[0..n-1], n >= 1; sorts v in place. */
double median(double *v, int n);
bool glob_match(const char *pattern, const char *name);

/* Length of the valid UTF-8 character at s, or 0 if s does not start one. */
size_t utf8_len(const char *s);
/*
 * src fit to show on a terminal or in a log, into dst of len bytes (len >=
 * 1): every control character (C0, DEL, C1), line or paragraph separator,
 * bidirectional override and byte that is not UTF-8 becomes '?', and the
 * copy is cut at a character boundary. dst may be src. Returns dst.
 */
char *clean_text(char *dst, size_t len, const char *src);

#endif
