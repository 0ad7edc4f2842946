/* Events (SPEC section 3): one struct, rendered as a JSON object or as the
 * key=value line that goes to syslog. */
#ifndef QD_EVENT_H
#define QD_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actor.h"
#include "addr.h"
#include "conf.h"
#include "detect.h"
#include "incident.h"
#include "outbreak.h"
#include "policy.h"
#include "types.h"

enum event_kind {
	EVENT_DETECT = 0,
	EVENT_ACTION,
	EVENT_RELEASE,
	EVENT_MARK,
	EVENT_INCIDENT,
	EVENT_ERROR,
	EVENT_BINDING,	/* machine identity: an address changed hands, a forger, a conflict */
	EVENT_PURGE,	/* released hosts purged from the registry (count, older_than_s) */
	EVENT_BULK,	/* quarantine or release --from: one for the whole list */
	EVENT_OUTBREAK, /* outbreak mode switched on or off (state, what: the grouping,
			 * count: groups; by_uid, by, reason) */
	EVENT_ALLOW,	/* prefix/plen put on the never-block list (count: blocked hosts
			 * released; by_uid, by, reason) */
	EVENT_DISALLOW, /* prefix/plen taken off it (by_uid, by, reason) */
};

#define EVENT_PORTS_MAX 16 /* HOST_MAX_PORTS */

struct event {
	enum event_kind kind;
	usec_t ts;
	bool has_host;
	struct qaddr host; /* an address; a MAC for a machine with no address */
	bool has_mac;
	uint8_t mac[MAC_LEN];	     /* the machine's MAC, when known */
	const struct inv_entry *inv; /* borrowed; NULL when unknown */

	/* detect */
	const struct detection *det; /* borrowed */
	enum level action;
	bool enforced;
	enum why why;
	unsigned incident_id;
	unsigned recurrence; /* >0: flagged again after a release */
	/* Who infected the host (hostrec.infected_by, named by its
	 * address when it has one); family 0: none known. */
	struct qaddr infected_by;
	uint16_t infected_port;
	usec_t infected_ts;
	/* Where the detection comes from (det_source_label()); NULL: "self".
	 * original: the outside tool's alert or line (borrowed), of which
	 * events carry at most EVENT_ORIGINAL_MAX bytes; NULL: none. */
	const char *source;
	const char *original;

	/* The policy held the action below what the detection asked for (a
	 * critical asset, an unverified source, a containment without ports
	 * where isolation is not allowed): "capped" in the event. */
	bool capped;

	/* action / release / mark */
	enum level level;
	uint64_t ttl_s;
	/* allow, disallow: the never-block list's entry */
	struct qaddr prefix;
	unsigned plen;

	/* action: the ports a containment of the host blocks (the
	 * operator's --proto/--ports, or its detections'), said when they
	 * are of one protocol (IPPROTO_TCP or IPPROTO_UDP) towards every
	 * destination; nports 0: none said. */
	uint8_t proto;
	unsigned nports;
	uint16_t ports[EVENT_PORTS_MAX];
	long by_uid;		/* -1: automatic */
	const struct actor *by; /* by_uid's names (borrowed); NULL: none known */
	const char *reason;
	const char *state;

	/* incident */
	unsigned id;
	const char *rule;
	struct qaddr patient_zero;
	unsigned hosts;
	usec_t first_ts;
	/* Where patient zero was seen (incident_member_source()); NULL:
	 * "self".  links: nlinks incidents of other gateways (borrowed). */
	const char *pz_source;
	const struct incident_link *links;
	unsigned nlinks;

	/* error */
	const char *message;

	/* binding */
	const char *what; /* moved, conflict, spoof, forged, port-flap, relay, mac-flood */
	const char *how;  /* what showed it: arp, ndp, dhcp, ip, kernel, fdb, delivery */
	bool has_other;
	uint8_t other[MAC_LEN]; /* the other machine */
	unsigned count;		/* relay: addresses; mac-flood: new machines a minute */
	unsigned suppressed;	/* binding events left out since the last one (rate limit) */

	/* purge: count records; by_uid */
	uint64_t older_than_s;

	/* bulk: command (what), level and ttl_s (quarantine), count hosts
	 * changed; by_uid, by, reason */
	const char *command;
	unsigned unchanged, kept_higher, refused, failed;

	/* Outbreak mode while it is on (output_event() fills it in from
	 * output.outbreak): every event says so, since when and by whom.
	 * NULL or off: nothing is said. */
	const struct outbreak_state *outbreak;
};

/* How much of an outside detection's original alert an event carries
 * (the history keeps it whole): enough to recognise it, and an event
 * line stays well within the output's line length even when every
 * character is escaped. */
#define EVENT_ORIGINAL_MAX 512

const char *event_kind_name(enum event_kind k);

/* Writes RFC 3339 UTC with microseconds and Z.  Returns buf. */
const char *event_format_ts(usec_t ts, char buf[32]);

/* Render into buf (NUL-terminated, no newline).  Return the length, or
 * -ENOSPC when buf is too small (the line is then cut short but still
 * terminated). */
int event_format_json(const struct event *e, char *buf, size_t len);
/* "detect host=10.1.0.23 rule=... " without timestamp or program name. */
int event_format_kv(const struct event *e, char *buf, size_t len);

/* The syslog priority for an event. */
int event_priority(const struct event *e);

#endif
