/* SPDX-License-Identifier: MIT */
#ifndef VN_LOG_H
#define VN_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

/*
 * Logging in the style of OpenBSD's log.c: stderr in the foreground, syslog
 * otherwise. log_warn and log_warnx report an error (LOG_ERR: something
 * failed), log_warning something the operator should know that is not a
 * failure (LOG_WARNING). log_warn appends strerror(errno); the x variants
 * do not. fatal/fatalx log and exit(1). On a stderr that is systemd's
 * journal stream each line carries its priority ("<3>"), as sd-daemon(3)
 * describes.
 */
void log_init(bool foreground, int level, const char *ident);
void log_setlevel(int level);
int log_getlevel(void);
int log_parse_level(const char *s);		/* -1 if unknown */
const char *log_level_name(int level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_at(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vlog_at(int level, const char *fmt, va_list ap);
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
