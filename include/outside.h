/* Detections from outside: alerts of an IDS (Suricata's eve.json, Zeek's
 * notice.log, read by the feeds reader process) and antivirus console
 * exports (parsed by quarantinectl import).  What those tools write can
 * be influenced by an attacker, so they are parsed where no capability is
 * held, and what reaches the parent is this one fixed shape, checked
 * field by field (outside_check()) before the engine sees it
 * (engine_outside()).  An outside detection is a request like one of our
 * own: it goes through the same policy (never-block, own addresses,
 * protected networks, criticality caps, the action cap) and into the
 * same incidents.
 *
 * Pure: no I/O.  The structure is the same on both ends of a channel
 * (one binary, one machine), memset before it is filled. */
#ifndef QD_OUTSIDE_H
#define QD_OUTSIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "types.h"

/* Where a detection comes from: the "source" of events and state
 * (SPEC section 9). */
enum det_source {
	SOURCE_SELF = 0,  /* our own sensor */
	SOURCE_SURICATA,  /* the feeds reader, from eve.json */
	SOURCE_ZEEK,	  /* the feeds reader, from notice.log */
	SOURCE_ANTIVIRUS, /* quarantinectl import, an antivirus console's export */
	SOURCE_GATEWAY,	  /* another gateway (the sync program): "gateway:NAME" */
	SOURCE_COUNT,
};

/* "ids:" or "av:" and the signature, note or threat name. */
#define OUTSIDE_RULE_MAX 128
/* The feed's, console's or gateway's name. */
#define OUTSIDE_ORIGIN_MAX 64
/* The original alert or line, as received (valid UTF-8, cut at a
 * character boundary): kept in the host's history as evidence. */
#define OUTSIDE_EVIDENCE_MAX 1024
#define OUTSIDE_MAX_PORTS    4

struct outside_detection {
	uint8_t source;	  /* enum det_source, not SOURCE_SELF */
	uint8_t severity; /* enum severity: SEV_LOW..SEV_HIGH, as the feed's mapping says */
	uint8_t level;	  /* enum level asked for by the mapping: LEVEL_WATCH..LEVEL_ISOLATE */
	uint8_t proto;	  /* PROTO_TCP or PROTO_UDP with ports; 0: none known */
	uint8_t nports;	  /* 0..OUTSIDE_MAX_PORTS */
	uint16_t ports[OUTSIDE_MAX_PORTS];
	/* Who is to be contained: an address (or a MAC): the attacker, never
	 * the victim of an inbound exploit. */
	struct qaddr host;
	struct qaddr peer; /* the other end of the flow; family 0: none */
	uint64_t ts_us;	   /* when the outside tool saw it (its clock), 0: unknown */
	/* SOURCE_GATEWAY: the origin gateway's incident id (incident.h:
	 * links), 0: none; 0 for every other source. */
	uint32_t incident;
	/* NUL-terminated, printable UTF-8 (no control characters). */
	char origin[OUTSIDE_ORIGIN_MAX];
	char rule[OUTSIDE_RULE_MAX];
	char evidence[OUTSIDE_EVIDENCE_MAX];
};

/* The name of a source as events say it ("self", "suricata", "zeek",
 * "antivirus", "gateway"). */
const char *det_source_name(enum det_source s);
/* Checks every field of o, as received from a process that parses
 * hostile input: ranges, NUL-terminated strings of valid UTF-8 without
 * control characters, rule prefix matching the source ("ids:" for the
 * IDS sources, "av:" for antivirus).  0, or -EINVAL with a message in
 * err. */
int outside_check(const struct outside_detection *o, char *err, size_t errlen);

/* The rule prefixes of the IDS sources and of antivirus (SPEC section 9). */
#define OUTSIDE_IDS_PREFIX "ids:"
#define OUTSIDE_AV_PREFIX  "av:"
/* The longest source label: "gateway:" and an origin. */
#define OUTSIDE_SOURCE_MAX (sizeof("gateway:") + OUTSIDE_ORIGIN_MAX)

/* Parses a name det_source_name() gives.  0 or -EINVAL. */
int det_source_parse(const char *s, enum det_source *ret);
/* The source as events, state and reports say it: det_source_name(),
 * or "gateway:ORIGIN" for another gateway (buf, len bytes, holds it;
 * OUTSIDE_SOURCE_MAX is enough). */
const char *det_source_label(enum det_source s, const char *origin, char *buf, size_t len);
/* How many of the n bytes at s are valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates), without control characters (C0, DEL, C1) unless
 * controls: n when all are. */
size_t outside_utf8_valid(const char *s, size_t n, bool controls);
/* Whether arr (size bytes) holds a NUL-terminated string of printable
 * UTF-8, as outside_check() wants each text field: 0 or -EINVAL. */
int outside_check_text(const char *arr, size_t size);
/* The length of valid UTF-8 s (n bytes) cut to at most max bytes at a
 * character boundary. */
size_t outside_utf8_cut(const char *s, size_t n, size_t max);

/* ---- the registry of outside rule names ----
 *
 * Our own rules are indexes into conf.rules (a host's hits record them
 * in a small integer); an outside rule is a name chosen by the tool
 * ("ids:ET WORM ...", "av:Trojan.Win32.X").  Each name is interned once
 * and given an index from OUTSIDE_RULE_BASE on, which hits, incidents
 * and counters hold as they hold our own.  Names are never removed while
 * the daemon runs (pointers to them stay valid: events, incidents), the
 * state database keeps them by name, and loading it interns them again;
 * a reload of the configuration does not touch them.  The registry is
 * bounded: past OUTSIDE_RULES_MAX names, a new name is folded into the
 * catch-all entry of its kind ("ids:(other)", "av:(other)", "(other)"),
 * which are there from the start, so that a flood of made-up signatures
 * cannot grow the daemon; the event and the history still carry the
 * detection's own name, and the folding is counted (full). */
#define OUTSIDE_RULE_BASE  256
#define OUTSIDE_RULES_MAX  1024
#define OUTSIDE_RULE_OTHER "(other)"

struct outside_rule {
	char name[OUTSIDE_RULE_MAX];
	uint64_t detections;
};

struct outside_rules {
	struct outside_rule *v; /* OUTSIDE_RULES_MAX entries, heap */
	unsigned n;
	uint64_t full; /* names folded into a catch-all entry */
};

/* 0 or -ENOMEM. */
int outside_rules_init(struct outside_rules *r);
void outside_rules_fini(struct outside_rules *r);
/* The index (OUTSIDE_RULE_BASE + i) of name, interned when new; when the
 * registry is full, the index of the catch-all entry of its kind ("ids:"
 * or "av:" prefix, else "(other)") and full is counted. */
unsigned outside_rules_intern(struct outside_rules *r, const char *name);
/* The index of name, or -1 when it was never interned. */
int outside_rules_find(const struct outside_rules *r, const char *name);
/* The name of index rule, or NULL when it is no outside rule's. */
const char *outside_rules_name(const struct outside_rules *r, unsigned rule);
/* Whether rule is an index of the outside range (known or not). */
static inline bool outside_rule_index(unsigned rule)
{
	return rule >= OUTSIDE_RULE_BASE && rule < OUTSIDE_RULE_BASE + OUTSIDE_RULES_MAX;
}

#endif
