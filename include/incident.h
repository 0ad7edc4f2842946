/* Incidents: hosts flagged by the same rule close in time, with a patient
 * zero, the host whose first probe came earliest (SPEC section 4).
 *
 * Who probed whom comes first: a host that a member of an incident
 * probed before it began to spread (its infected_by, engine.c) joins that
 * incident, however long after its window; a host that no member probed
 * is grouped by time and by what spreads, as follows.
 *
 * What spreads decides, not the rule alone: a rule that names no ports
 * (the Threshold Random Walk, horizontal-scan, dark-space) groups hosts by
 * the port they failed on too, so that a camera sweeping telnet does not
 * join a PC's SMB outbreak because both were caught by the walk.  And a
 * host flagged by a second rule while its incident is open stays in it
 * (engine.c): one infected host, one incident. */
#ifndef QD_INCIDENT_H
#define QD_INCIDENT_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "conf.h"
#include "detect.h"
#include "outside.h"
#include "types.h"

/* The last incident id.  Ids are never reused nor wrapped: after this one
 * no new incident is opened (incident_join() returns NULL), and
 * next_id stays at INCIDENT_ID_MAX + 1, which the state saves and loads
 * like any other. */
#define INCIDENT_ID_MAX (UINT32_MAX - 1)
#define INCIDENT_OPEN	256

/* Across gateways (quarantine-sync(8)): a block of another gateway
 * arrives as a detection of source gateway:NAME with that gateway's rule,
 * first probe and incident id.  It joins this gateway's incidents like
 * any detection (patient zero is the earliest first probe, whichever
 * gateway saw it), and the incident keeps which incidents of which
 * gateways its hosts came from: its links, by which a control center
 * joins the incidents of every gateway into one.  A few are kept (an
 * incident spans a few sites); past them, more are counted in
 * links_full.  Links live in memory: they are not in the state
 * database, and after a restart an incident has the links of the
 * detections since. */
#define INCIDENT_LINKS	4
#define INCIDENT_GW_MAX 33 /* a gateway's name and its NUL (syncmsg.h) */

struct incident_link {
	char gateway[INCIDENT_GW_MAX];
	uint32_t id; /* that gateway's incident */
};

struct incident {
	unsigned id; /* 1, 2, ... INCIDENT_ID_MAX; never reused */
	unsigned rule;
	char rule_name[OUTSIDE_RULE_MAX]; /* a rule from outside is one too (outside.h) */
	uint16_t port;			  /* what spreads, for a rule that names no ports; 0 */
	struct qaddr patient_zero;
	usec_t first_probe_us; /* patient zero's first probe */
	usec_t first_detect_us, last_detect_us;
	unsigned nhosts;
	uint8_t nlinks;
	struct incident_link links[INCIDENT_LINKS];
};

/* A ring of the most recent incidents; the oldest is forgotten when full. */
struct incidents {
	struct incident *v;
	unsigned cap, n, head;	  /* v[head] is the oldest */
	unsigned next_id;	  /* at most INCIDENT_ID_MAX + 1 */
	unsigned long exhausted;  /* incidents not opened: no id left */
	unsigned long links_full; /* links not kept: INCIDENT_LINKS were */
	usec_t window_us;
	/* The latest incident of each (rule, port), 0 = none: the one a
	 * detection may join.  More keys than this: the least recent goes. */
	struct {
		unsigned rule, id;
		uint16_t port;
	} open[INCIDENT_OPEN];
	unsigned nopen;
};

int incidents_init(struct incidents *s, unsigned cap, usec_t window_us);
void incidents_fini(struct incidents *s);
/* Host was just flagged by rule (first time for this host and rule), on
 * port (what spreads, for a rule that names no ports; else 0); its first
 * probe was at first_probe_us.  Joins the open incident of that rule and
 * port if its last detection is within the window, else opens a new one.
 * NULL when a new one is needed and every id was given (counted in
 * exhausted). */
struct incident *incident_join(struct incidents *s, unsigned rule, const char *rule_name,
			       uint16_t port, const struct qaddr *host, usec_t first_probe_us,
			       usec_t now);
/* Host is flagged by rule (on port, as incident_join()) while incident
 * in, its own, is open (its last detection within the window): it stays
 * in it, without counting twice, and the next host that rule flags joins
 * it too.  An incident opened by a rule that names no ports takes the
 * name of a rule that does (the walk caught the first host of what
 * smb-propagation names).  in, or NULL when it is closed. */
struct incident *incident_stay(struct incidents *s, struct incident *in, unsigned rule,
			       const char *rule_name, uint16_t port, usec_t now);
/* Host is flagged by a rule after a member of in probed it before it
 * spread (engine.c: infected_by): it joins in, whatever the time since
 * in's last detection, without taking patient zero's place (it was
 * infected by a member), counted unless member (it is one already,
 * flagged by another rule).  in (its last detection moved to now), or
 * NULL when in is NULL. */
struct incident *incident_follow(struct incidents *s, struct incident *in, bool member, usec_t now);
struct incident *incident_find(struct incidents *s, unsigned id);
/* Rebuilds which incident each rule and port may join, from the ring
 * (after the rules' indexes changed: a reload). */
void incidents_reopen(struct incidents *s);
/* incident_find() for a const ring; *ret_off (may be NULL) is the
 * incident's position from the oldest. */
const struct incident *incident_lookup(const struct incidents *s, unsigned id, unsigned *ret_off);

/* Incident in (may be NULL) holds a host that gateway's incident id
 * holds (a detection of source gateway:GATEWAY that carried it): 1 when
 * the link is new, 0 when it was known, -EINVAL (no incident, an invalid
 * name, id 0), or -ENOSPC when INCIDENT_LINKS are kept already (counted
 * in s->links_full). */
int incident_link(struct incidents *s, struct incident *in, const char *gateway, unsigned id);

struct hostrec;
/* Where member r of incident id was seen: the source of its detection
 * that joined it, as events say it ("self", "suricata", ...,
 * "gateway:NAME" with the gateway's name from its history), into buf
 * (OUTSIDE_SOURCE_MAX is enough).  "self" when r is NULL or holds no hit
 * of incident id.  Returns buf. */
const char *incident_member_source(const struct hostrec *r, unsigned id, char *buf, size_t len);

/* ---- restoring saved incidents (state.c, at start) ---- */

/* Forgets every incident; ids start again at 1. */
void incidents_clear(struct incidents *s);
/* Appends a saved incident as the newest, keeping its id, so that ids
 * grow in ring order (what incident_find() relies on; gaps are allowed,
 * where a bad saved incident was skipped): in->id must be at least
 * next_id and at most INCIDENT_ID_MAX.  The oldest is forgotten when the
 * ring is full.  in->rule is the rule's index in the
 * current config, or DETECT_NRULES or more for a rule no longer
 * configured (never joined again).  0 or -EINVAL. */
int incident_restore(struct incidents *s, const struct incident *in);

#endif
