/* SPDX-License-Identifier: MIT */
#ifndef VN_INI_H
#define VN_INI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A list of error messages, each already naming file, line and key. */
struct vn_errors {
	int count;
	int cap;
	char **msg;
};

void errors_add(struct vn_errors *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void errors_print(const struct vn_errors *e, FILE *f);
void errors_free(struct vn_errors *e);

/*
 * An INI file read by iniparser, plus what iniparser does not keep: the line
 * of every section and key, so that every error can name file and line, and
 * which keys the program asked for, so that unknown ones are reported.
 * iniparser folds section and key names to lower case; so do we.
 */
struct vn_ini;

struct vn_ini *vn_ini_load(const char *path, struct vn_errors *e);
/* Parses text held in memory; messages name it `name`. */
struct vn_ini *vn_ini_load_text(const char *name, const char *text,
				 struct vn_errors *e);
void vn_ini_free(struct vn_ini *ini);
const char *vn_ini_path(const struct vn_ini *ini);

int vn_ini_nsections(const struct vn_ini *ini);
const char *vn_ini_section(const struct vn_ini *ini, int i);
bool vn_ini_has_section(const struct vn_ini *ini, const char *sec);
/* Line of a key, or of the section header when key is NULL; 0 if absent. */
int vn_ini_line(const struct vn_ini *ini, const char *sec, const char *key);

/* Records an error as "FILE:LINE: [sec] key: message". */
void vn_ini_error(const struct vn_ini *ini, struct vn_errors *e,
		  const char *sec, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Typed getters. Each marks the key as known and returns 1 when the key is
 * present and valid (*out set), 0 when absent (*out untouched), -1 when
 * present but invalid (an error is recorded, *out untouched). For ranges,
 * min == max means unbounded.
 */
const char *vn_ini_get(struct vn_ini *ini, const char *sec, const char *key);
int vn_ini_string(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		  const char *key, char **out);
int vn_ini_bool(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, bool *out);
int vn_ini_long(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, long *out, long min, long max);
int vn_ini_double(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		  const char *key, double *out, double min, double max);
int vn_ini_percent(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		   const char *key, double *out, double min, double max);
int vn_ini_duration(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		    const char *key, double *out, double min, double max);
int vn_ini_size(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, uint64_t *out, uint64_t min, uint64_t max);
int vn_ini_rate(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, double *out, double min, double max);
int vn_ini_nodemask(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		    const char *key, uint64_t *out);
/* One of names[] (NULL-terminated); *out is its index. */
int vn_ini_enum(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, const char *const *names, int *out);
/* Comma-separated list; *out is a NULL-terminated array of copies. */
int vn_ini_list(struct vn_ini *ini, struct vn_errors *e, const char *sec,
		const char *key, char ***out, int *n);

/* Marks a section as known (its keys are then checked). */
void vn_ini_claim(struct vn_ini *ini, const char *sec);
/* Marks a section and all its keys as dealt with (already reported). */
void vn_ini_ignore(struct vn_ini *ini, const char *sec);
/*
 * Reports every section nobody claimed and every key of a claimed section
 * nobody asked for, with file and line. Returns the number reported.
 */
int vn_ini_check_unknown(const struct vn_ini *ini, struct vn_errors *e);

#endif
