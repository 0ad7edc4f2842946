/* The decisions gateways share on the bus (quarantine-sync(8)): the key
 * and value of a record in the JetStream key-value bucket, the decision a
 * daemon's event is, and the rule by which a gateway merges the others'
 * decisions.  What is read from the bus is hostile input: every record is
 * decoded whole and checked field by field, and refused rather than
 * cleaned up.
 *
 * Keys: "<gateway>.<machine>", where a gateway writes only keys under its
 * own name (the server's permissions enforce it) and the machine is an
 * address or a MAC in a form KV keys can hold (they refuse ':' and '.'
 * splits subject tokens):
 *     ip4-10-1-0-5                     an IPv4 address
 *     ip6-20010db8000000000000000000000001   an IPv6 address, 32 hex digits
 *     mac-0200aabbccdd                 a MAC, 12 hex digits
 * (lower case; one spelling per machine, so that a key names it once),
 * and an entry of the never-block list (allow, disallow) by its prefix:
 *     net4-10-66-3-0-24                10.66.3.0/24
 *     net6-20010db8000000000000000000000000-32   2001:db8::/32
 *
 * Values: one line in the control protocol's encoding (ctlproto.h):
 *     cmd=block<TAB>v=1<TAB>origin=A<TAB>host=10.1.0.5<TAB>level=isolate...
 * cmd is the decision: block (a block or a level change), release, or
 * certify (certified cleaned, and released).
 *
 * Pure: no I/O. */
#ifndef QD_SYNCMSG_H
#define QD_SYNCMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "outside.h"
#include "types.h"

/* A gateway's name: 1 to 32 of letters, digits, '_' and '-' (it is a
 * subject token and part of "gateway:NAME" in events). */
#define SYNC_GATEWAY_MAX 33
/* The longest key: a gateway, '.', "net6-", 32 hex digits, '-' and a
 * prefix length. */
#define SYNC_KEY_MAX (SYNC_GATEWAY_MAX + 5 + 32 + 4 + 2)
/* The longest value a gateway writes or accepts: a header line of the
 * control protocol is at most this long, so anything bigger is refused
 * before it is parsed. */
#define SYNC_VALUE_MAX	2048
#define SYNC_REASON_MAX 256
#define SYNC_BY_MAX	64
#define SYNC_VERSION	1

enum sync_op {
	SYNC_NONE = 0,
	SYNC_BLOCK,    /* blocked, or its level changed (level > none) */
	SYNC_RELEASE,  /* released by an operator */
	SYNC_CERTIFY,  /* certified cleaned (state: cleaned), and released */
	SYNC_ALLOW,    /* host/plen put on the never-block list */
	SYNC_DISALLOW, /* host/plen taken off it */
};
/* The shortest prefix an allow or a disallow on the bus may name: no
 * record opens a gateway's whole address space. */
#define SYNC_PLEN_MIN 8

struct syncmsg {
	enum sync_op op;
	char origin[SYNC_GATEWAY_MAX]; /* the gateway that decided */
	struct qaddr host;	       /* an address or a MAC */
	/* The same machine named the other way, when the origin knew it: on
	 * a record keyed by address, the machine's MAC (family AF_MAC); on
	 * one keyed by MAC, the address it had at the origin (an IPv4 or
	 * IPv6 address).  Family 0: unknown. */
	struct qaddr mac;  /* keyed by address: its MAC */
	struct qaddr addr; /* keyed by MAC: the address it had */
	/* SYNC_ALLOW, SYNC_DISALLOW: host is a prefix of plen bits (its
	 * host bits zero, SYNC_PLEN_MIN to 32 or 128); 0 for the others. */
	uint8_t plen;
	enum level level;	/* SYNC_BLOCK: watch..isolate */
	enum severity severity; /* SYNC_BLOCK: low..high */
	uint8_t proto;		/* PROTO_TCP, PROTO_UDP or 0 */
	uint8_t nports;
	uint16_t ports[OUTSIDE_MAX_PORTS];
	uint64_t ts_us;	     /* when the origin decided (its clock) */
	uint64_t expires_us; /* SYNC_BLOCK: when the block ends; 0: until released */
	uint64_t first_us;   /* the first probe (patient zero's time); 0: unknown */
	unsigned incident;   /* the origin's incident id; 0: none */
	char rule[OUTSIDE_RULE_MAX];
	char reason[SYNC_REASON_MAX];
	char by[SYNC_BY_MAX]; /* the operator, as the origin's events say; "" automatic */
	char state[16];	      /* SYNC_CERTIFY: cleaned */
};

const char *sync_op_name(enum sync_op op);
bool sync_gateway_valid(const char *s);

/* The key of host's record of gateway gw into buf (SYNC_KEY_MAX).  0 or
 * -EINVAL (gw invalid, host of no family). */
int syncmsg_key(const char *gw, const struct qaddr *host, char *buf, size_t len);
/* The key of prefix p/plen (an allow or a disallow) of gateway gw.  0,
 * -EINVAL or -ENOSPC. */
int syncmsg_key_prefix(const char *gw, const struct qaddr *p, unsigned plen, char *buf, size_t len);
/* The key of record m of gateway gw: its machine's or its prefix's. */
int syncmsg_key_of(const char *gw, const struct syncmsg *m, char *buf, size_t len);
/* Splits a key (without the "$KV.<bucket>." prefix): its gateway into gw
 * (SYNC_GATEWAY_MAX) and its machine, or the address of its prefix (whose
 * length syncmsg_key_plen() says).  0 or -EINVAL. */
int syncmsg_key_parse(const char *key, char gw[SYNC_GATEWAY_MAX], struct qaddr *ret);
/* The prefix length of a key: 0 for a machine's, 8 to 128 for a
 * prefix's, -EINVAL for no valid key. */
int syncmsg_key_plen(const char *key);

/* m as a value (NUL-terminated, no LF).  Its length, or -EINVAL (m does
 * not pass syncmsg_check()) or -ENOSPC. */
int syncmsg_encode(const struct syncmsg *m, char *buf, size_t len);
/* Decodes and checks a value of len bytes (not NUL-terminated).  0, or
 * -EINVAL / -E2BIG with a message in err. */
int syncmsg_decode(const char *buf, size_t len, struct syncmsg *ret, char *err, size_t errlen);
/* Every field in range and its strings valid printable UTF-8.  0, or
 * -EINVAL with a message in err. */
int syncmsg_check(const struct syncmsg *m, char *err, size_t errlen);

/* The value of the top-level member key of the JSON object j (one of the
 * daemon's event lines) into out (len bytes, always terminated):
 * strings unescaped (\" \\ \/ and \uXXXX below 0x80; any other escape
 * refused), an array of numbers as the text between its brackets, a
 * number or a literal as its text.  0; -E2BIG when the value is longer
 * than len - 1 bytes (out holds its first len - 1); -ENOENT; -EINVAL
 * (a string that does not end, an escape refused: out holds what came
 * before it). */
int sync_json_member(const char *j, const char *key, char *out, size_t len);

/* The decision a daemon's event (one JSON line of `events --follow
 * --json`) is, for gateway self to publish: 1 with ret filled, 0 when the
 * event is no decision of this gateway's (a detection that was not put
 * in force, any other event, or a decision that came from the bus: its
 * source or reason names "gateway:", so that nothing is echoed), or
 * -EINVAL when it cannot be read.
 *
 * A decision about a machine this gateway knows by its MAC (the event's
 * "mac") is keyed by its address with ret->mac set: syncmsg_machine()
 * makes the second record, keyed by the MAC, that lets another gateway
 * know the machine when it shows up there with another address.  One
 * exception to "nothing is echoed": another gateway's release or
 * certification of an address, applied here to a machine this gateway
 * knows by its MAC, is published as this gateway's release of that MAC
 * alone (ret->host the MAC, ret->addr the address), so that the machine
 * is released wherever its MAC is blocked; a release that came by MAC
 * (its reason names two gateways) is not published again. */
int syncmsg_from_event(const char *json, const char *self, struct syncmsg *ret);
/* The record of m's machine by its MAC: m with host its MAC and addr its
 * address.  1 with ret filled, or 0 when m names no MAC. */
int syncmsg_machine(const struct syncmsg *m, struct syncmsg *ret);

/* ---- merging ----
 *
 * Every gateway keeps the latest record of each gateway for each machine
 * (its view), with the time the bus stored it (server time, so that one
 * clock orders them).  A record of another gateway is applied when the
 * view holds nothing that overrides it:
 *   - a block is overridden when it has expired, or when a release or a
 *     certification of the same machine, at any gateway, is stored later
 *     than it (a release anywhere applies everywhere, and a block that
 *     came before it is the one released);
 *   - a release is overridden by a block of the same machine, at another
 *     gateway, stored at the same time or later, and not expired (a
 *     machine flagged again after, or in a race with, its release stays
 *     contained: containment wins a tie);
 *   - levels: a block asks for its own level; the daemon's policy caps it
 *     and never lowers a block it holds already.
 * A record older than the one the view holds of the same gateway and
 * machine is stale (a replay) and ignored.
 *
 * Allows and disallows are kept per prefix (address and length), apart
 * from the machines: the latest stored at any gateway wins, and a
 * disallow wins a tie (protection first):
 *   - an allow is overridden by a disallow of the same prefix, at another
 *     gateway, stored at the same time or later;
 *   - a disallow is overridden by an allow of the same prefix, at another
 *     gateway, stored later. */
#define SYNC_VIEW_PEERS 16 /* gateways remembered per machine */

struct sync_slot {
	char gw[SYNC_GATEWAY_MAX];
	enum sync_op op;
	enum level level;
	uint64_t stored_us;  /* the bus's time */
	uint64_t expires_us; /* 0: none */
};

struct sync_entry {
	struct qaddr host; /* family 0: free */
	uint8_t plen;	   /* 0: a machine; else a prefix of the never-block list */
	unsigned n;
	struct sync_slot s[SYNC_VIEW_PEERS];
};

/* The gateways whose records the view took (this gateway's own left
 * out), each with the bus's time of its latest record: for status.  A
 * deployment has a handful of gateways; past SYNC_PEERS_MAX names, the
 * records of gateways not named are counted in peers_lost. */
#define SYNC_PEERS_MAX 256
/* The peers a report names, at most: "NAME@STORED_US" each, within a
 * value of the control protocol (CTL_VALUE_MAX). */
#define SYNC_REPORT_PEERS 16

struct sync_peer {
	char gw[SYNC_GATEWAY_MAX];
	uint64_t stored_us; /* the bus's time of its latest record */
};

struct sync_view {
	struct sync_entry *v; /* cap entries, heap */
	unsigned cap, n;
	uint64_t full; /* records not kept: the view was full */
	struct sync_peer peers[SYNC_PEERS_MAX];
	unsigned npeers;
	uint64_t peers_lost; /* records of gateways past SYNC_PEERS_MAX */
};

enum sync_verdict {
	SYNC_APPLY = 0,	 /* apply it */
	SYNC_OWN,	 /* this gateway's own record: already in force here */
	SYNC_STALE,	 /* older than what the view holds of its gateway */
	SYNC_EXPIRED,	 /* a block past its expiry */
	SYNC_SUPERSEDED, /* another record of the machine overrides it */
};

const char *sync_verdict_name(enum sync_verdict v);
/* cap entries (machines).  0 or -ENOMEM. */
int sync_view_init(struct sync_view *w, unsigned cap);
void sync_view_fini(struct sync_view *w);
/* Records m, stored by the bus at stored_us, in the view and says what
 * gateway self is to do with it at time now (server time too). */
enum sync_verdict sync_view_merge(struct sync_view *w, const char *self, const struct syncmsg *m,
				  uint64_t stored_us, uint64_t now_us);

/* The peers as a report names them (quarantine-sync's op=report):
 * "NAME@STORED_US" joined by commas, the max most recently stored first
 * (ties by name).  Writes at most len bytes (NUL included; a name that
 * does not fit whole is left out) and returns how many peers it left out
 * (the others, and those that did not fit). */
unsigned sync_view_peers_format(const struct sync_view *w, unsigned max, char *buf, size_t len);
/* Reads such a list (hostile until checked: the daemon reads what a local
 * process sent): each name valid, each time a number, at most max
 * entries, no name twice.  Fills ret (max entries) and returns how many,
 * or -EINVAL. */
int sync_peers_parse(const char *s, struct sync_peer *ret, unsigned max);

#endif
