/* Logging to syslog and stderr.  The only mutable globals of the program
 * besides signal flags: the log settings. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static unsigned log_dest = LOG_TO_STDERR;
static bool log_debugging;
static const char *log_ident = "quarantined";

void log_init(const char *ident, int facility, unsigned where, bool debug)
{
	log_ident = ident;
	log_dest = where;
	log_debugging = debug;
	if (where & LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void log_set_where(unsigned where)
{
	log_dest = where;
}

unsigned log_where(void)
{
	return log_dest;
}

static void vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_dest & LOG_TO_STDERR) {
		if (suffix)
			fprintf(stderr, "%s: %s: %s\n", log_ident, buf, suffix);
		else
			fprintf(stderr, "%s: %s\n", log_ident, buf);
	}
	if (log_dest & LOG_TO_SYSLOG) {
		if (suffix)
			syslog(pri, "%s: %s", buf, suffix);
		else
			syslog(pri, "%s", buf);
	}
}

void log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debugging)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void log_event(int priority, const char *line)
{
	if (log_dest & LOG_TO_SYSLOG)
		syslog(priority, "%s", line);
}

void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

int log_facility_parse(const char *s, int *ret)
{
	static const struct {
		const char *name;
		int fac;
	} map[] = {
		{"daemon", LOG_DAEMON},	    {"user", LOG_USER},	    {"auth", LOG_AUTH},
		{"authpriv", LOG_AUTHPRIV}, {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
		{"local2", LOG_LOCAL2},	    {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
		{"local5", LOG_LOCAL5},	    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(s, map[i].name) == 0) {
			*ret = map[i].fac;
			return 0;
		}
	return -EINVAL;
}
