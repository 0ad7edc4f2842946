/* Who probed whom: a bounded record of probe edges, so that a detected
 * host can say which hosts contacted it before it began to spread, and
 * the parent can tell who infected whom (infected_by, incidents).
 *
 * An edge is a first contact (detect.h's vocabulary) from a source to an
 * internal destination on a port that a rule watches, recorded by the
 * sensor (sense.c) as the detector sees it.  The source is named as the
 * parent's registry keys hosts: the machine (its MAC) the identity module
 * charged the packet to, or the source address for a packet that cannot
 * be tied to a machine (unverified).  A machine that forges another's
 * address is thus named itself; packets judged forged or contested are
 * not recorded at all (a forged TCP source cannot complete the handshake
 * that infects, and a contested one names nobody for certain).
 *
 * Memory: one table keyed by destination address, sized once
 * (probes_new(): limits.max_hosts destinations), each entry holding the
 * first contacts of up to PROBES_PER_DST distinct sources.  Nothing is
 * allocated after probes_new().
 *
 * Against a flood of forged first contacts:
 *   - one slot per source: a machine that sends from a thousand forged
 *     addresses is one source (identity charges it), and takes one slot;
 *   - the PROBES_STICKY earliest sources of a destination stay: a flood
 *     that comes after the infection cannot erase the edge that matters,
 *     the first; later sources rotate through the other slots;
 *   - a source tied to a machine displaces an unverified one (judged by
 *     its source address alone, which anyone can write), never the
 *     reverse;
 *   - destinations are a segmented LRU: a new destination waits on
 *     probation until it is known to be in use (some machine uses its
 *     address, or it sends first contacts itself), and eviction takes
 *     from probation first; the main list keeps below 7/8 of the table.
 *     A sweep of dark addresses churns probation only.
 * And the parent believes an edge only as its rule says (engine.c): the
 * source must have been detected itself before, and its contact must
 * precede the destination's own first probe, so that a host probed by
 * its own victim after it began spreading is not taken for the victim.
 *
 * Pure: no I/O, no clock (time is passed in). */
#ifndef QD_PROBES_H
#define QD_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "siphash.h"
#include "types.h"

#define PROBES_PER_DST 4 /* sources remembered per destination */
#define PROBES_STICKY  2 /* the earliest this many of them are never replaced */
#define PROBES_BY_MAX  4 /* sources a detection carries (detection.by) */
/* A contact older than this before a detection is no evidence of who
 * infected the host (a worm spreads within minutes or hours of its
 * infection), and the parent takes no time older than a week
 * (sensorproto.c): probes_by() leaves it out. */
#define PROBES_MAX_AGE_US (24 * 3600 * USEC_PER_SEC)

/* A first contact from a source, to a destination the record keys. */
struct probe_edge {
	struct qaddr from; /* a MAC (AF_MAC), or an address when unverified */
	uint8_t proto;	   /* PROTO_TCP or PROTO_UDP */
	uint8_t unverified;
	uint16_t port;
	usec_t first_us; /* the source's first contact to this destination */
};

struct probes_stats {
	uint64_t contacts; /* probes_contact() calls */
	uint64_t recorded; /* new (destination, source) edges kept */
	uint64_t replaced; /* kept edges that a later one replaced */
	uint64_t refused;  /* edges not kept: the destination's slots held better ones */
	uint64_t evicted;  /* destinations forgotten for want of room */
	uint32_t dsts, max_dsts;
};

struct probes;

/* A record of at most max_dsts destinations (at least 1).  NULL on
 * allocation failure or a bad size (errno set). */
struct probes *probes_new(uint32_t max_dsts, const struct siphash_key *key);
void probes_free(struct probes *p);

/* Source e->from made a first contact to dst at e->first_us; dst_known:
 * some machine is known to use dst (it leaves probation).  A source
 * already recorded for dst keeps its first contact.  Never allocates. */
void probes_contact(struct probes *p, const struct qaddr *dst, const struct probe_edge *e,
		    bool dst_known);
/* Address a is in use (it sent a first contact): its destination entry,
 * if any, leaves probation. */
void probes_in_use(struct probes *p, const struct qaddr *a);

/* Who probed any of dsts[0..ndst) before before_us (and at most
 * PROBES_MAX_AGE_US before it), other than self (may be NULL): one edge
 * per source (its earliest over dsts), earliest first, at most max.  Returns how many were written to ret. */
unsigned probes_by(const struct probes *p, const struct qaddr *dsts, unsigned ndst,
		   const struct qaddr *self, usec_t before_us, struct probe_edge *ret,
		   unsigned max);

void probes_get_stats(const struct probes *p, struct probes_stats *ret);
/* Bytes of one destination entry, for documentation and benchmarks. */
size_t probes_entry_size(void);

#endif
