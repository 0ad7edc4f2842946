/* Small shared vocabulary: severities, levels, protocols, roles. */
#ifndef QD_TYPES_H
#define QD_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QD_VERSION_STRING "0.1.0"

/* Time on the packet path is microseconds since the Unix epoch, taken from
 * the packet (offline) or from the capture timestamp (live). */
typedef uint64_t usec_t;
#define USEC_PER_SEC  1000000ULL
#define USEC_INFINITY UINT64_MAX

/* The clocks, in microseconds: the wall clock (event and deadline times)
 * and the monotonic one (timers, backoffs). */
usec_t time_wall_us(void);
usec_t time_mono_us(void);

enum severity {
	SEV_NONE = 0,
	SEV_LOW,
	SEV_MEDIUM,
	SEV_HIGH,
};

/* Ordered: a higher value is a stronger measure. */
enum level {
	LEVEL_NONE = 0,
	LEVEL_WATCH,
	LEVEL_CONTAIN,
	LEVEL_ISOLATE,
};

/* Protocols a rule can match, as a bit mask.  PROTO_ICMP covers ICMP and
 * ICMPv6 echo requests; PROTO_ARP covers ARP who-has. */
enum proto_bit {
	PROTO_TCP = 1u << 0,
	PROTO_UDP = 1u << 1,
	PROTO_ICMP = 1u << 2,
	PROTO_ARP = 1u << 3,
};
#define PROTO_ALL (PROTO_TCP | PROTO_UDP | PROTO_ICMP | PROTO_ARP)

/* Inventory roles: hosts whose fan-out is their job. */
enum role_bit {
	ROLE_MAILSERVER = 1u << 0,
	ROLE_SCANNER = 1u << 1,
	/* Configuration management and monitoring: many short logins to the
	 * machines they manage (the brute-force rules exempt it). */
	ROLE_MANAGEMENT = 1u << 2,
};
#define ROLE_ALL (ROLE_MAILSERVER | ROLE_SCANNER | ROLE_MANAGEMENT)

const char *severity_name(enum severity s);
int severity_parse(const char *s, enum severity *ret);
const char *level_name(enum level l);
int level_parse(const char *s, enum level *ret);
/* Name of a single proto bit ("tcp", "udp", "icmp", "arp"). */
const char *proto_bit_name(unsigned bit);
/* Parses "tcp", "udp", "icmp", "arp", or "any" (tcp and udp) into a mask. */
int proto_mask_parse(const char *s, unsigned *ret);
int role_parse(const char *s, unsigned *ret_bit);
const char *role_name(unsigned bit);

/* Writes a message into err (NULL or errlen 0: nothing).  For the "message
 * in err" convention of functions that return -errno. */
void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parses a duration such as "90", "90s", "30m", "12h", "7d" into seconds. */
int duration_parse(const char *s, uint64_t *ret_s);

/* The longest TTL a block may have, from any source (configuration,
 * control protocol, recurrence, saved state): a year, far below any
 * nftables timeout limit and any overflow of microsecond arithmetic.
 * 0 means "until released" and is always valid. */
#define QD_TTL_MAX_S (365ull * 86400)
/* How the maximum reads in messages and manual pages. */
#define QD_TTL_MAX_TEXT "365d"
/* The longest a released host may be kept before it is purged
 * (state.purge_released, quarantinectl purge --older-than): ten years,
 * beyond any retention policy, and far from overflowing microseconds. */
#define QD_PURGE_MAX_S (3650ull * 86400)

/* Parses a TTL as duration_parse() does (no sign, no overflow) and checks
 * it against QD_TTL_MAX_S: 0, -EINVAL (not a duration) or -ERANGE (longer
 * than QD_TTL_MAX_S).  *ret_s is written only on success.  Every TTL that
 * enters from outside goes through here. */
int ttl_parse(const char *s, uint64_t *ret_s);

/* A point in time for "since": an ISO 8601 date and time,
 * YYYY-MM-DD[(T| )HH:MM[:SS[.FRACTION]]][Z|(+|-)HH[:]MM] (without a zone,
 * local time: what the operator's clock shows), or a duration as
 * duration_parse() takes it, meaning that long before now.  0 with
 * *ret_us set (microseconds since the epoch; a duration longer than the
 * time since 1970 gives 0), or -EINVAL. */
int time_since_parse(const char *s, usec_t now, usec_t *ret_us);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))

#endif
