// SPDX-License-Identifier: MIT
/* Logging to stderr or syslog, after OpenBSD's log.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "util.h"

static bool log_foreground = true;
static bool log_journal;	/* stderr is systemd's journal stream */
static int log_level = LOG_INFO;
static const char *log_ident = "vnumad";

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/*
 * Whether stderr is the journal stream systemd gave us (JOURNAL_STREAM names
 * its device and inode): a "<N>" prefix then sets each line's priority, so
 * that `journalctl -p err` finds our errors, and journald adds the name.
 */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(bool foreground, int level, const char *ident)
{
	log_foreground = foreground;
	log_journal = foreground && stderr_is_journal();
	log_level = level;
	if (ident)
		log_ident = ident;
	if (!foreground)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_setlevel(int level)
{
	log_level = level;
}

int log_getlevel(void)
{
	return log_level;
}

int log_parse_level(const char *s)
{
	for (int i = 0; i < (int)(sizeof(level_names) / sizeof(*level_names)); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "warn") == 0)
		return LOG_WARNING;
	if (strcasecmp(s, "err") == 0)
		return LOG_ERR;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < 0 || level > LOG_DEBUG)
		return "?";
	return level_names[level];
}

/*
 * Every message is cleaned (see clean_text) before it is written: guest
 * names, plugin reasons and whatever else a message carries from outside
 * cannot forge a line with a newline or reach a terminal as an escape.
 */
void vlog_at(int level, const char *fmt, va_list ap)
{
	char raw[4096], msg[4096];
	int saved = errno;

	if (level > log_level)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	clean_text(msg, sizeof(msg), raw);
	if (log_foreground) {
		if (log_journal)
			fprintf(stderr, "<%d>", level);
		else
			fprintf(stderr, "%s: ", log_ident);
		if (level <= LOG_WARNING)
			fprintf(stderr, "%s: ", level_names[level]);
		fputs(msg, stderr);
		fputc('\n', stderr);
		fflush(stderr);
	} else {
		syslog(level, "%s", msg);
	}
	errno = saved;
}

void log_at(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_at(level, fmt, ap);
	va_end(ap);
}

/* Like log_warnx, with ": strerror(errno)" appended. */
static void vlog_errno(int level, const char *fmt, va_list ap)
{
	char buf[1024];
	int saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_at(level, "%s: %s", buf, strerror(saved));
	errno = saved;
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_errno(LOG_ERR, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_at(LOG_ERR, fmt, ap);
	va_end(ap);
}

void log_warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_at(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_at(LOG_INFO, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_at(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_at(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
