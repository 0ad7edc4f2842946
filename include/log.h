/* Logging to syslog and (in the foreground) stderr.
 *
 * One failure, one line, written by the layer that decides what to do. */
#ifndef QD_LOG_H
#define QD_LOG_H

#include <stdbool.h>
#include <stdarg.h>

#define LOG_TO_STDERR 1u
#define LOG_TO_SYSLOG 2u

/* ident for openlog(); facility as LOG_DAEMON etc.; where: LOG_TO_* bits. */
void log_init(const char *ident, int facility, unsigned where, bool debug);
void log_set_where(unsigned where);
unsigned log_where(void);

void log_warn(const char *fmt, ...)
	__attribute__((format(printf, 1, 2))); /* adds strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An alert line (key=value) at the given syslog priority; syslog only when
 * syslog is enabled, stderr only in the foreground. */
void log_event(int priority, const char *line);
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Maps "daemon", "local0".."local7", "user", "auth", "authpriv" to LOG_*. */
int log_facility_parse(const char *s, int *ret);

#endif
