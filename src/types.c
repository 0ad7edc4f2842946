/* Names of the shared enums, duration parsing, and the clocks. */
#include "types.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const severity_names[] = {
	[SEV_NONE] = "none",
	[SEV_LOW] = "low",
	[SEV_MEDIUM] = "medium",
	[SEV_HIGH] = "high",
};

static const char *const level_names[] = {
	[LEVEL_NONE] = "none",
	[LEVEL_WATCH] = "watch",
	[LEVEL_CONTAIN] = "contain",
	[LEVEL_ISOLATE] = "isolate",
};

const char *severity_name(enum severity s)
{
	return (unsigned)s < ARRAY_SIZE(severity_names) ? severity_names[s] : "?";
}

int severity_parse(const char *s, enum severity *ret)
{
	for (unsigned i = SEV_LOW; i < ARRAY_SIZE(severity_names); i++)
		if (strcmp(s, severity_names[i]) == 0) {
			*ret = (enum severity)i;
			return 0;
		}
	return -EINVAL;
}

const char *level_name(enum level l)
{
	return (unsigned)l < ARRAY_SIZE(level_names) ? level_names[l] : "?";
}

int level_parse(const char *s, enum level *ret)
{
	for (unsigned i = LEVEL_WATCH; i < ARRAY_SIZE(level_names); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*ret = (enum level)i;
			return 0;
		}
	return -EINVAL;
}

const char *proto_bit_name(unsigned bit)
{
	switch (bit) {
	case PROTO_TCP:
		return "tcp";
	case PROTO_UDP:
		return "udp";
	case PROTO_ICMP:
		return "icmp";
	case PROTO_ARP:
		return "arp";
	default:
		return "?";
	}
}

int proto_mask_parse(const char *s, unsigned *ret)
{
	static const struct {
		const char *name;
		unsigned mask;
	} map[] = {
		{"tcp", PROTO_TCP},
		{"udp", PROTO_UDP},
		{"icmp", PROTO_ICMP},
		{"arp", PROTO_ARP},
		{"any", PROTO_TCP | PROTO_UDP},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(s, map[i].name) == 0) {
			*ret = map[i].mask;
			return 0;
		}
	return -EINVAL;
}

int role_parse(const char *s, unsigned *ret_bit)
{
	if (strcmp(s, "mailserver") == 0)
		*ret_bit = ROLE_MAILSERVER;
	else if (strcmp(s, "scanner") == 0)
		*ret_bit = ROLE_SCANNER;
	else if (strcmp(s, "management") == 0)
		*ret_bit = ROLE_MANAGEMENT;
	else
		return -EINVAL;
	return 0;
}

const char *role_name(unsigned bit)
{
	switch (bit) {
	case ROLE_MAILSERVER:
		return "mailserver";
	case ROLE_SCANNER:
		return "scanner";
	case ROLE_MANAGEMENT:
		return "management";
	default:
		return "?";
	}
}

int duration_parse(const char *s, uint64_t *ret_s)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return errno == ERANGE ? -ERANGE : -EINVAL;
	if (*end != '\0') {
		switch (*end) {
		case 's':
			mult = 1;
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		default:
			return -EINVAL;
		}
		if (end[1] != '\0')
			return -EINVAL;
	}
	if (v > UINT64_MAX / mult / USEC_PER_SEC)
		return -ERANGE;
	*ret_s = v * mult;
	return 0;
}

_Static_assert(QD_TTL_MAX_S == 365ull * 86400, "QD_TTL_MAX_TEXT must say the same");

int ttl_parse(const char *s, uint64_t *ret_s)
{
	uint64_t v;
	int r = duration_parse(s, &v);

	if (r == -ERANGE)
		return r; /* digits, but past any time we can count */
	if (r < 0)
		return -EINVAL;
	if (v > QD_TTL_MAX_S)
		return -ERANGE;
	*ret_s = v;
	return 0;
}

/* n decimal digits at *p into *ret, advancing p.  false when there are
 * fewer. */
static bool digits(const char **p, unsigned n, int *ret)
{
	int v = 0;

	for (unsigned i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

static int iso8601_parse(const char *s, usec_t *ret_us)
{
	struct tm tm = {0};
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, oh, om;
	long offset_s = 0;
	bool zone = false;
	usec_t frac = 0;
	time_t t;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return -EINVAL;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return -EINVAL;
			if (*p == '.' || *p == ',') {
				usec_t scale = USEC_PER_SEC / 10;

				p++;
				if (*p < '0' || *p > '9')
					return -EINVAL;
				for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
					frac += (usec_t)(*p - '0') * scale;
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		zone = true;
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;

		if (!digits(&p, 2, &oh))
			return -EINVAL;
		if (*p == ':')
			p++;
		if (!digits(&p, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		offset_s = sign * (oh * 3600L + om * 60L);
		zone = true;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if (zone) {
		t = timegm(&tm);
	} else {
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	/* The normalised date must be the one written: 2026-02-30 is a
	 * typo, not March. */
	if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -EINVAL;
	t -= offset_s;
	if (t < 0)
		return -EINVAL;
	*ret_us = (usec_t)t * USEC_PER_SEC + frac;
	return 0;
}

int time_since_parse(const char *s, usec_t now, usec_t *ret_us)
{
	uint64_t secs;

	if (iso8601_parse(s, ret_us) == 0)
		return 0;
	if (duration_parse(s, &secs) < 0)
		return -EINVAL;
	*ret_us = secs * USEC_PER_SEC >= now ? 0 : now - secs * USEC_PER_SEC;
	return 0;
}

void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static usec_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

usec_t time_wall_us(void)
{
	return clock_us(CLOCK_REALTIME);
}

usec_t time_mono_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}
