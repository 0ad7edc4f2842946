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

#endif
