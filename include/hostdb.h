/* The registry of hosts that were flagged or acted on: what was reported
 * for each, the state of each in its life cycle, and what the kernel holds
 * for it.  Separate from the detector's tables so that a flagged or blocked
 * host is never forgotten when the detector evicts it (SPEC section 4:
 * their own capacity, limits.max_blocked).
 *
 * A record is keyed by its id: a machine's MAC (family AF_MAC), with the
 * addresses that are trusted as its own (blocked with it), or a single
 * address for a host that cannot be tied to a machine (behind a router, a
 * raw-IP capture, an address nobody owns yet).  Every address belongs to
 * at most one record: an index maps addresses to records, so that the
 * kernel's address elements have exactly one owner. */
#ifndef QD_HOSTDB_H
#define QD_HOSTDB_H

#include <stdbool.h>
#include <stdint.h>

#include "actor.h"
#include "addr.h"
#include "detect.h"
#include "table.h"
#include "types.h"

#define HOSTDB_MAX_HITS 8 /* rules remembered per host; more are folded into the last */
/* Addresses one machine's record blocks (its trusted addresses: dual
 * stack with a few IPv6 prefixes and privacy addresses). */
#define HOST_MAX_ADDRS 16
/* Contained protocol/port pairs per host (SPEC section 5: "up to a
 * configured count"); a host needing more is isolated instead. */
#define HOST_MAX_PORTS 16
/* Destinations one host's ports are contained towards (brute force
 * against one server each, hostrec.dests): a few servers; a host needing
 * more is isolated instead, like one with more ports.  A table of its
 * own, so that a port costs 4 bytes and a record 68 more, not 17 bytes a
 * port in want[] and k[] (576 a record). */
#define HOST_MAX_DESTS 4

enum host_state {
	HOST_DETECTED = 0, /* flagged; nothing in force (never-block, dry run, error...) */
	HOST_WATCHED,
	HOST_CONTAINED,
	HOST_ISOLATED,
	HOST_CLEANING,
	HOST_CLEANED,
	HOST_UNCLEANABLE,
	HOST_RELEASED,
	HOST_STATE_COUNT,
};

struct hit {
	/* detect rule index (DETECT_RULE_TRW for the walk), or an outside
	 * rule's (outside.h: OUTSIDE_RULE_BASE on) */
	uint16_t rule;
	uint8_t level;	/* highest level reported for this rule */
	uint8_t source; /* enum det_source of its first detection (outside.h) */
	uint32_t incident;
	usec_t first_us; /* first detection by this rule */
};

/* A contained protocol/port: IPPROTO_TCP or IPPROTO_UDP with a port, or
 * IPPROTO_ICMP / IPPROTO_ICMPV6 with port 0 (the whole protocol).  to:
 * 0 for every destination, else i for the one destination
 * hostrec.dests[i - 1] it is contained towards (brute force against one
 * server: detection.peer); hostrec_port_to() resolves it.  Only TCP and
 * UDP ports have one; for an address's record it is of the address's
 * family, for a machine of either (the machine's sets by MAC take both).
 * Indices are the record's own: an hport is meaningful only with its
 * record. */
struct hport {
	uint8_t proto;
	uint8_t to;
	uint16_t port;
};

/* The same entry of one record: protocol, port and destination. */
static inline bool hport_eq(const struct hport *a, const struct hport *b)
{
	return a->proto == b->proto && a->port == b->port && a->to == b->to;
}

/* One line of a host's history: a detection, an action, an operator's
 * command, a certification. */
enum hist_kind {
	HIST_DETECT = 0, /* text: the rule */
	HIST_ACTION,	 /* level put in force; text: the reason */
	HIST_RELEASE,
	HIST_MARK,  /* state: the certification */
	HIST_ADOPT, /* found in the kernel table */
	HIST_ERROR, /* the kernel refused; text: why */
	HIST_KIND_COUNT,
};

struct hist {
	usec_t ts;
	uint8_t kind;  /* enum hist_kind */
	uint8_t level; /* the level decided or put in force */
	uint8_t state; /* the host's state after it */
	long uid;      /* -1: automatic; else a uid_t, whole (as hostrec.by_uid) */
	char text[60];
	struct actor by; /* the operator's names (uid >= 0), when known */
	/* A detection from outside (outside.h): its source as events say
	 * it, a NUL, then the original alert or line (the evidence), in one
	 * heap block owned by the line (hostdb_hist_set_outside()); NULL for
	 * our own detections and every other line. */
	char *outside;
};

/* A host's history is capped: past HOST_MAX_HIST lines the oldest go, but
 * the first HOST_HIST_KEEP (how it all started) stay. */
#define HOST_MAX_HIST  64
#define HOST_HIST_KEEP 4

/* An address of a record, and whether the kernel isolates it. */
struct haddr {
	struct qaddr a;
	uint8_t kiso; /* in iso4/iso6 */
};

struct hostrec {
	struct tab_hdr h;
	struct qaddr id;   /* the key: a MAC (a machine) or an address */
	struct qaddr addr; /* the address that names it (family 0: a machine with none) */
	uint8_t state;	   /* enum host_state */
	uint8_t decided;   /* highest level detections asked for since release */
	uint8_t level;	   /* level in force in the kernel */
	uint8_t nhits;
	uint8_t nwant;	       /* contain ports asked for */
	uint8_t want_overflow; /* more than HOST_MAX_PORTS were asked for */
	uint8_t want_manual;   /* want[] is an operator's --proto/--ports */
	uint8_t nk;	       /* contain ports in the kernel (k[]), keyed by id */
	uint8_t kmac;	       /* a machine: its MAC in the isolation set (isom) */
	uint8_t kttl_off;      /* an element's timeout in the kernel is not expires_us */
	uint8_t naddrs;
	uint8_t adopted;   /* found in the kernel, not decided by us */
	uint8_t merged;	   /* an address's record whose address a machine took: history only */
	uint8_t busy;	   /* queued for the next commit: not evicted */
	uint8_t unsettled; /* changed since it was put on its list (hostdb_changed()) */
	struct haddr addrs[HOST_MAX_ADDRS];
	struct hport want[HOST_MAX_PORTS];
	struct hport k[HOST_MAX_PORTS];
	/* The destinations of want[] and k[] (hport.to); family 0: free.
	 * An entry is reused once neither list names it. */
	struct qaddr dests[HOST_MAX_DESTS];
	usec_t first_probe_us; /* earliest first probe over all detections */
	usec_t first_detect_us, last_detect_us;
	usec_t changed_us; /* last change of state or level */
	usec_t expires_us; /* TTL deadline of the blocks, 0: none */
	long by_uid;	   /* who set the level: -1 automatic */
	struct actor by;   /* by_uid's names, when known */
	char reason[80];
	struct hit hits[HOSTDB_MAX_HITS];
	/* Recurrence: a released host flagged again comes back one level
	 * higher, with a longer TTL where TTLs are in use. */
	uint8_t recurrences; /* times it was released and flagged again */
	uint8_t last_level;  /* level in force when it was last released */
	uint64_t last_ttl_s; /* TTL it had then */
	/* Surveillance after its last release (surveillance.period): its
	 * rules fire at lower thresholds before this; 0 none. */
	usec_t surveil_until_us;
	char evidence[96]; /* evidence file name (under state.dir/evidence), "" none */
	/* Who infected it: the host (a registry id) that probed it first
	 * among those detected before it, with that first contact's time,
	 * port and protocol (PROTO_TCP or PROTO_UDP); family 0: none known.
	 * The rule is engine.c's (infector()). */
	struct qaddr infected_by;
	uint8_t infected_proto;
	uint16_t infected_port;
	usec_t infected_us;
	struct hist *hist; /* heap, grown on demand up to HOST_MAX_HIST */
	uint16_t nhist, hist_cap;
	/* Where the record stands in the database (statedb.h): its row
	 * (0: none yet), fingerprints of what was last written there (the
	 * row; its addresses and hits), and how many of hist[] are written
	 * (the lines before db_hist). */
	uint64_t db_id;
	uint64_t db_fp, db_fp_sub;
	uint16_t db_hist;
	/* The entry of the database's host log that holds what was last
	 * saved of it (0: its row does); only that entry's drain writes its
	 * row. */
	uint32_t db_log;
};

struct hostdb {
	/* List 0: records with nothing in force, least recently useful
	 * (flagged, released, changed) first: evicted first when the
	 * registry is full; list 1: blocked or in certification (never
	 * evicted). */
	struct table t;
	struct table ix; /* address -> record */
	uint64_t evicted;
	/* Records changed since they were put on their list, moved at the
	 * next hostdb_get() that needs room (the callers that change levels
	 * iterate the registry, which a move would upset).  One slot per
	 * record (a record is queued once until moved); past that (slots
	 * reused while queued), pend_overflow makes the next move scan
	 * every record. */
	uint32_t *pend;
	uint32_t npend;
	bool pend_overflow;
	/* Called with every record about to be forgotten (evicted, purged,
	 * dropped, cleared), e.g. to delete its saved row; NULL: nothing. */
	void (*on_remove)(void *arg, const struct hostrec *r);
	void *remove_arg;
};

static inline bool hostrec_is_machine(const struct hostrec *r)
{
	return addr_is_mac(&r->id);
}

int hostdb_init(struct hostdb *db, uint32_t cap, const struct siphash_key *key);
void hostdb_fini(struct hostdb *db);
/* The record whose id is id (a MAC or an address). */
struct hostrec *hostdb_find(struct hostdb *db, const struct qaddr *id);
/* The record an address belongs to: a machine's record holding it, or
 * the address's own record.  NULL when none. */
struct hostrec *hostdb_find_addr(struct hostdb *db, const struct qaddr *a);
/* Finds or creates the record of id.  A new address record holds its
 * address (when no other record does).  When the registry is full the
 * spare record least recently useful goes (on_remove is told first): one
 * with nothing in force and not in certification, not queued for the next
 * commit.  A blocked record is never evicted: NULL when every record is
 * kept (blocked or in certification), that is when limits.max_blocked
 * hosts are blocked.  Not during an iteration of the registry. */
struct hostrec *hostdb_get(struct hostdb *db, const struct qaddr *id);
/* r's level, state or kernel view changed: it moves to the list that
 * this puts it on (spare or kept) at the next hostdb_get() that needs
 * room, as the most recently useful.  Safe during an iteration. */
void hostdb_changed(struct hostdb *db, struct hostrec *r);
/* Adds address a to r.  0; -EEXIST when another record holds it (r is
 * unchanged); -ENOSPC when r holds HOST_MAX_ADDRS or the index is full. */
int hostdb_addr_add(struct hostdb *db, struct hostrec *r, const struct qaddr *a);
/* Removes r's address i (its kernel view must be clear). */
void hostdb_addr_del(struct hostdb *db, struct hostrec *r, unsigned i);
/* r's index of address a, or -1. */
int hostrec_addr_index(const struct hostrec *r, const struct qaddr *a);
/* Forgets r (frees its history and index entries). */
void hostdb_remove(struct hostdb *db, struct hostrec *r);
/* r was flagged: it goes to the end of the list it belongs on (spare:
 * nothing in force and not in certification, evicted first when the
 * registry is full; or kept).  Not during an iteration of the registry.
 * A record whose level changes later is moved when room is made, which
 * takes spare records only, never blocked ones or those in
 * certification. */
void hostdb_settle(struct hostdb *db, struct hostrec *r);
/* Whether r may be purged (state.purge_released, quarantinectl purge):
 * released or certified clean, nothing in force, not in certification,
 * not queued for a commit, out of surveillance at now_us, and neither
 * changed nor flagged since before_us.  An uncleanable host, a blocked
 * one or one being cleaned never is. */
bool hostrec_purgeable(const struct hostrec *r, usec_t before_us, usec_t now_us);
/* Some address of r is in the kernel's isolation sets, or its MAC. */
bool hostrec_isolated(const struct hostrec *r);
/* The hit for rule, or NULL when the host was never flagged by it. */
struct hit *hostdb_hit(struct hostrec *r, unsigned rule);
/* Adds a hit for rule (there must be none yet). */
struct hit *hostdb_add_hit(struct hostrec *r, unsigned rule, usec_t now);
uint32_t hostdb_count(const struct hostdb *db);
uint32_t hostdb_capacity(const struct hostdb *db);
/* Iteration over every record: first, then next until NULL. */
struct hostrec *hostdb_first(const struct hostdb *db);
struct hostrec *hostdb_next(const struct hostdb *db, const struct hostrec *r);
/* A cursor that survives changes to the registry between its steps
 * (list streams its answer, control.h): the live record in the first slot
 * at or after *pos, with *pos moved past it; NULL at the end.  Slots are
 * stable for a record's life, so a walk from *pos = 0 meets every record
 * that lives for the whole walk exactly once, whatever else is added,
 * removed or reordered meanwhile; those added or removed meanwhile may or
 * may not be met.  At most max_slots slots are looked at per call (*pos
 * then moves that far and NULL is returned with *pos < capacity), so that
 * one call costs little whatever the registry holds. */
struct hostrec *hostdb_seek(const struct hostdb *db, uint32_t *pos, uint32_t max_slots);
/* Whether a walk of hostdb_seek() has seen every slot. */
bool hostdb_seek_done(const struct hostdb *db, uint32_t pos);

/* Makes room for one more line in r's history, whose lines fill its
 * capacity (below HOST_MAX_HIST): 2 lines at first, then twice as many
 * each time.  Most hosts keep one to three lines (an operator's list of
 * 100,000 hosts gives each one), so a first block of 2 costs a blocked
 * host 340 bytes of heap where one of 8 cost 1,360.  0 or -ENOMEM. */
int hostdb_hist_grow(struct hostrec *r);
/* Appends a line to r's history (allocates; not on the packet path).
 * 0 or -ENOMEM (the line is then lost, the host is not). */
int hostdb_history(struct hostrec *r, usec_t ts, enum hist_kind kind, enum level level, long uid,
		   const char *text);
/* The same, with the operator's names (by: borrowed, NULL none). */
int hostdb_history_by(struct hostrec *r, usec_t ts, enum hist_kind kind, enum level level, long uid,
		      const struct actor *by, const char *text);
/* Gives history line h (of a detection from outside) its source label
 * and evidence (copied; evidence NULL or "": none).  0 or -ENOMEM (the
 * line stays, without them). */
int hostdb_hist_set_outside(struct hist *h, const char *source, const char *evidence);
/* The source of a history line: "self" for our own detections (and for
 * lines that are no detection). */
const char *hist_source(const struct hist *h);
/* The evidence of a history line from outside, or NULL. */
const char *hist_evidence(const struct hist *h);
/* Frees what line h owns (hostdb_hist_set_outside()). */
void hist_fini(struct hist *h);
const char *hist_kind_name(enum hist_kind k);
int hist_kind_parse(const char *s, enum hist_kind *ret);
/* Forgets every record (frees histories). */
void hostdb_clear(struct hostdb *db);

/* Adds proto/port, towards to (NULL or family 0: every destination), to
 * the ports a host's containment asks for.  A port towards everyone
 * subsumes the same port towards one destination: the narrower entries
 * go, and a narrower one asked for later is not added.  Each destination
 * of a port is an entry of its own; past HOST_MAX_PORTS entries, or
 * HOST_MAX_DESTS destinations, want_overflow is set (containment then
 * means isolation). */
void hostdb_want_port(struct hostrec *r, uint8_t proto, uint16_t port, const struct qaddr *to);
/* The index (hport.to) of destination to in r's table, made when absent
 * (in a slot that neither want[] nor k[] names); 0 for NULL or family 0
 * (every destination); -ENOSPC when the table is full. */
int hostrec_dest(struct hostrec *r, const struct qaddr *to);
/* The destination of p, one of r's ports; NULL: every destination. */
static inline const struct qaddr *hostrec_port_to(const struct hostrec *r, const struct hport *p)
{
	return p->to && p->to <= HOST_MAX_DESTS ? &r->dests[p->to - 1] : NULL;
}

const char *host_state_name(enum host_state s);
/* The state a level in force puts a host in (none: released). */
enum host_state host_state_for_level(enum level l);
int host_state_parse(const char *s, enum host_state *ret);

#endif
