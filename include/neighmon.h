/* The kernel's view of who is on the LAN, over rtnetlink: the gateway's
 * own link-layer addresses (RTM_NEWLINK), its neighbour table
 * (RTM_NEWNEIGH, AF_INET/AF_INET6: which MAC answers for an address) and
 * the bridges' forwarding databases (AF_BRIDGE: behind which port a MAC
 * sits).
 *
 * None of this is a trust anchor (identity.h says how much each is
 * worth): it is what the kernel believes, and one forged ARP packet
 * changes what it believes.  The module only reports; identity weighs.
 *
 * One non-blocking socket subscribed to RTNLGRP_LINK and RTNLGRP_NEIGH
 * carries the notifications; the full tables come from dumps on a second
 * socket, at open and whenever notifications were lost (ENOBUFS, e.g.
 * under a flood of random MACs that churns the neighbour table): replaying
 * a dump is harmless, since every report is an observation, not a delta
 * to apply.  Reads are budgeted so that a flood cannot hold the poll
 * loop. */
#ifndef QD_NEIGHMON_H
#define QD_NEIGHMON_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define NEIGHMON_MAX_LINKS 256 /* own link-layer addresses remembered */

enum neighmon_kind {
	NEIGHMON_NEIGH = 0, /* neighbour table: addr is at mac */
	NEIGHMON_FDB,	    /* bridge FDB: mac is behind port ifindex */
};

/* One observation of one entry, as the kernel reported it.  FDB events
 * cover the bridges' own entries too: a port's own address (NUD_PERMANENT,
 * master set), static ones, and a device's own unicast and multicast
 * filter lists (NTF_SELF, master 0), not only learned machines. */
struct neighmon_event {
	enum neighmon_kind kind;
	bool deleted;	      /* RTM_DELNEIGH: the entry went (not: the machine left) */
	int ifindex;	      /* NEIGH: the interface; FDB: the bridge port */
	int master;	      /* FDB: the bridge's ifindex (NDA_MASTER), 0 unknown */
	uint16_t state;	      /* NUD_* of the entry (<linux/neighbour.h>) */
	uint8_t flags;	      /* NTF_* of the entry (not the NDA_FLAGS_EXT ones) */
	struct qaddr addr;    /* NEIGH: the IPv4/IPv6 address; FDB: family 0 */
	uint8_t mac[MAC_LEN]; /* the link-layer address; all zero when absent */
	bool has_mac;
};

/* ev is borrowed for the call.  Called from neighmon_open() and
 * neighmon_read() only, never re-entered; it must not call neighmon_read()
 * (which then returns -EBUSY) nor neighmon_close() on the same monitor. */
typedef void (*neighmon_cb)(void *arg, const struct neighmon_event *ev);

struct neighmon;

/* Subscribes to link and neighbour changes, then reads the links,
 * neighbours and FDB entries (each neighbour and FDB entry goes to cb,
 * before this returns; cb may be NULL).  0 or -errno; -ENOSPC when the
 * gateway has more Ethernet links than NEIGHMON_MAX_LINKS (refused rather
 * than knowing only some of its own addresses). */
int neighmon_open(neighmon_cb cb, void *arg, struct neighmon **ret);
void neighmon_close(struct neighmon *m); /* NULL is a no-op */
int neighmon_fd(const struct neighmon *m);
/* Reads pending notifications (at most a budget of datagrams; what is left
 * stays readable) and hands each to the callback.  0, or -ENOBUFS when
 * notifications were lost (the tables were dumped again, every entry
 * reported anew; a deletion lost with them is not reported: an entry the
 * re-dump did not report is gone), -EBADMSG when a malformed message was
 * skipped (the tables were dumped again likewise), -ENOSPC once when a new
 * link did not fit (read again once there is room), or another -errno.  A
 * dump that failed (its -errno) is retried at the next call, whether or
 * not the socket is readable: a caller may also call this from a timer.
 * Re-dumps come at most once every 10 s (a flood of neighbours must not
 * stall the caller with back-to-back dumps): until the next is due, a call
 * reports -ENOBUFS, and the caller calls again from its timer. */
int neighmon_read(struct neighmon *m);
/* Every entry is reported anew at the next neighmon_read() (a full dump,
 * whatever the hold on re-dumps): a new consumer of the reports (a new
 * sensor) learns the whole tables. */
void neighmon_redump(struct neighmon *m);
/* One of the gateway's own link-layer addresses (any Ethernet interface;
 * never the all-zero address).  O(number of addresses). */
bool neighmon_is_own_mac(const struct neighmon *m, const uint8_t mac[MAC_LEN]);
/* The gateway's own link-layer addresses, each once (for status and
 * tests).  *ret is borrowed until the next neighmon_read() or
 * neighmon_close(). */
unsigned neighmon_own_macs(const struct neighmon *m, const uint8_t (**ret)[MAC_LEN]);

#endif
