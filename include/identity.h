/* Machine identity: which machine sent a packet, and which addresses
 * belong to which machine.
 *
 * A machine is a MAC address with every IPv4 and IPv6 address it owns.
 * Each packet that carries a source MAC (Ethernet, Linux cooked captures)
 * is charged to the MAC that sent it, never to the source address it
 * claims: a machine that forges another's address is charged itself.
 *
 * Bindings (address -> MAC) are learned from what is seen, and none of it
 * is a trust anchor: a source address is anyone's to write, ARP and NDP
 * claims are forgeable, the gateway's neighbour table follows the last
 * ARP packet it believed, DHCP's chaddr is the client's word.  Trust comes
 * from first-seen, age, stability and conflicts, in these states:
 *
 *   CLAIMED      the machine sent packets from the address; nothing more.
 *   TENTATIVE    the machine spoke for the address at layer 2 (ARP, NDP,
 *                a DHCP request), or the kernel's neighbour table holds it.
 *   ESTABLISHED  confirmed by the gateway itself (it delivered traffic for
 *                the address to that MAC, or its neighbour entry is
 *                REACHABLE at that MAC, or a DHCP server that is the
 *                gateway or a configured router gave the address to that
 *                MAC), or TENTATIVE and uncontested for trust_after.
 *   PINNED       the operator said so (inventory mac + host net), or a
 *                permanent neighbour entry.
 *
 * Another machine using an address that is bound:
 *   - PINNED, or TENTATIVE/ESTABLISHED whose owner was active within
 *     move_after (or is blocked): the packet is FORGED, charged to its
 *     sender, and counts towards the source-forgery rule; a layer-2 claim
 *     of it (ARP/NDP spoofing) is an alert as well.  The binding stays.
 *   - CLAIMED and active, or the claimant is the address's previous owner:
 *     the address is CONTESTED; neither side is trusted with it until one
 *     of them has been quiet for move_after.  An alert.
 *   - the owner quiet for move_after and not blocked: the address moves
 *     (CLAIMED or TENTATIVE for the new machine), with an alert when it
 *     was more than CLAIMED.  A block never moves with it.
 * A machine sending from more addresses than max_addresses: the excess is
 * FORGED.
 *
 * Frames of the gateway itself, of routers (configured by MAC or address,
 * VRRP virtual MACs) and of relays (auto_relay: a machine the gateway
 * delivers more than max_addresses established addresses to) are judged
 * by their source address (UNVERIFIED), as are packets without a link
 * layer (raw IP captures) and packets from outside the protected
 * networks.  In offline mode (no kernel to ask) a packet whose TTL is not
 * an initial value (64, 128, 255, ...) was routed, and is judged by its
 * source address too.
 *
 * A MAC seen behind two bridge ports in turn (flapping, per the bridge's
 * FDB) is two machines with one MAC: CONTESTED, as its frames cannot be
 * told apart.
 *
 * Privilege separation: the sensor runs all of this on the packets; the
 * parent keeps a replica that sees no packet, fed before every event about
 * a machine with that machine's snapshot (identity_export() in the
 * sensor, identity_import() in the parent), so that its answers
 * (identity_addresses(), identity_binding(), ...) are the sensor's.
 *
 * Pure: no I/O, no clock (time is passed in), no allocation after
 * identity_new().  Two bounded tables (machines, bindings), hashed with a
 * keyed SipHash; under a flood of random MACs or addresses the weakest
 * entries (CLAIMED bindings, machines without a trusted address) go
 * first. */
#ifndef QD_IDENTITY_H
#define QD_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "conf.h"
#include "decode.h"
#include "siphash.h"
#include "table.h"
#include "types.h"

enum bind_state {
	BIND_NONE = 0,
	BIND_CLAIMED,
	BIND_TENTATIVE,
	BIND_ESTABLISHED,
	BIND_PINNED,
	BIND_STATE_COUNT,
};

/* How a packet's source is judged. */
enum src_kind {
	SRC_UNVERIFIED = 0, /* by its source address (no MAC, router, relay, gateway) */
	SRC_OWN,	    /* a machine, from an address it owns or may claim */
	SRC_FORGED,	    /* a machine, from an address that is not its own */
	SRC_CONTESTED,	    /* a machine, from an address two machines claim */
};

struct attribution {
	enum src_kind kind;
	struct qaddr id; /* the MAC charged (AF_MAC), or the source address (UNVERIFIED) */
	bool unverified; /* the level is capped at identity.unverified_max */
	/* Whether the source address is inside the protected networks, when
	 * identity had to look (1 or 0), else -1: the detector need not look
	 * again. */
	int8_t src_protected;
};

/* Machine flags (identity_machine()). */
#define IDM_ROUTER    0x01 /* configured, VRRP, or the MAC of a router address */
#define IDM_RELAY     0x02 /* auto_relay: many addresses delivered to it */
#define IDM_FROZEN    0x04 /* blocked: its addresses do not move, nor establish by age */
#define IDM_FORGER    0x08 /* sent from an address not its own */
#define IDM_CONTESTED 0x10 /* seen behind two bridge ports in turn */
#define IDM_SELF      0x20 /* one of the gateway's own MACs */

enum ident_event_kind {
	IDENT_ESTABLISHED = 0, /* addr is now trusted as mac's */
	IDENT_MOVED,	       /* addr went from other to mac (other was quiet, or DHCP said so) */
	IDENT_CONFLICT,	       /* mac used addr, bound to other: contested */
	IDENT_SPOOF,	       /* mac claimed addr at layer 2 (ARP/NDP), bound to other */
	IDENT_FORGED,	       /* mac sent from addr, not its own (first time in a while) */
	IDENT_PORT_FLAP,       /* mac seen behind two bridge ports in turn: contested */
	IDENT_RELAY,	       /* mac takes more than max_addresses: treated as a relay */
	IDENT_MAC_FLOOD,       /* count new machines in the last minute */
};

struct ident_event {
	enum ident_event_kind kind;
	usec_t ts;
	struct qaddr addr;	/* family 0 when none */
	uint8_t mac[MAC_LEN];	/* the machine concerned */
	uint8_t other[MAC_LEN]; /* the other machine (moved, conflict, spoof), or zero */
	const char *how;      /* what showed it: "arp", "ndp", "dhcp", "ip", "kernel", "fdb", ... */
	unsigned count;	      /* IDENT_MAC_FLOOD, IDENT_RELAY */
	int port, other_port; /* IDENT_PORT_FLAP */
};

typedef void (*ident_event_cb)(void *arg, const struct ident_event *ev);

/* Where a kernel neighbour entry stands (from neighmon). */
enum ident_neigh {
	IDN_CLAIM = 0, /* STALE, DELAY, PROBE: the kernel once heard it */
	IDN_REACHABLE, /* the kernel resolved it and got an answer */
	IDN_PERMANENT, /* configured by hand (ip neigh ... permanent) */
};

struct identity;

struct ident_params {
	const struct conf *c; /* borrowed; identity.*, limits.*, networks.*, inventory */
	bool offline;	      /* no kernel: routed packets are told by their TTL */
	ident_event_cb cb;
	void *cb_arg;
	/* The gateway's own MACs; NULL: none known (offline). */
	bool (*is_own_mac)(void *arg, const uint8_t *mac);
	void *own_arg;
};

/* NULL on allocation failure (errno set). */
struct identity *identity_new(const struct ident_params *p, const struct siphash_key *key);
/* Who tells the gateway's own MACs (the daemon, once the neighbour monitor
 * is open). */
void identity_set_own(struct identity *id, bool (*is_own_mac)(void *arg, const uint8_t *mac),
		      void *arg);
void identity_free(struct identity *id);
/* Configuration c replaces the old one (reload): routers, pins and bounds
 * are read again; the tables stay. */
void identity_reconfigure(struct identity *id, const struct conf *c);

/* Learns from a decoded packet seen at now and says whom to charge for
 * it.  Never allocates. */
void identity_packet(struct identity *id, const struct pkt *p, usec_t now, struct attribution *ret);
/* The lookups identity_packet() will make for p, as hints (table.h) in
 * ret[]: its source MAC's machine, and the binding of its source
 * address (found through the machine's last one, most often the same
 * entry); how many, none when p has no source MAC.  Changes nothing. */
#define IDENTITY_HINTS 2
unsigned identity_hints(struct identity *id, const struct pkt *p,
			struct tab_hint ret[IDENTITY_HINTS]);
/* A kernel neighbour entry: addr is at mac. */
void identity_neigh(struct identity *id, const struct qaddr *addr, const uint8_t mac[MAC_LEN],
		    enum ident_neigh state, usec_t now);
/* A bridge FDB entry: mac is behind port (an ifindex). */
void identity_fdb(struct identity *id, const uint8_t mac[MAC_LEN], int port, usec_t now);

/* A machine blocked (frozen) or released: a blocked machine's addresses
 * neither move nor establish by age. */
void identity_set_frozen(struct identity *id, const uint8_t mac[MAC_LEN], bool frozen);

/* The binding of addr: its MAC and state.  BIND_NONE when unbound. */
enum bind_state identity_binding(const struct identity *id, const struct qaddr *addr,
				 uint8_t ret_mac[MAC_LEN]);
/* The machine's flags (IDM_*), 0 when unknown. */
unsigned identity_machine(const struct identity *id, const uint8_t mac[MAC_LEN]);
/* The addresses bound to mac at min or stronger, most trusted first, then
 * oldest first; at most max.  Returns how many were written. */
unsigned identity_addresses(const struct identity *id, const uint8_t mac[MAC_LEN],
			    enum bind_state min, struct qaddr *ret, unsigned max);
/* The address that names the machine best (the first of
 * identity_addresses(..., BIND_TENTATIVE)), else its oldest claim.  false
 * when it has none. */
bool identity_primary(const struct identity *id, const uint8_t mac[MAC_LEN], struct qaddr *ret);

/* Iteration over the bindings (persistence, status). */
struct ident_binding {
	struct qaddr addr;
	uint8_t mac[MAC_LEN];
	uint8_t prev[MAC_LEN]; /* the previous owner, zero when none */
	enum bind_state state;
	bool contested;
	bool delivered; /* the gateway delivered traffic for it to mac */
	usec_t first_us, last_us;
};
typedef int (*ident_binding_cb)(void *arg, const struct ident_binding *b);
/* Calls cb for every binding of at least min (stops at a non-zero return,
 * which it returns). */
int identity_foreach(const struct identity *id, enum bind_state min, ident_binding_cb cb,
		     void *arg);
/* Restores a saved binding (start-up).  0, -EEXIST (already bound; the
 * live one wins), -ENOSPC. */
int identity_restore(struct identity *id, const struct ident_binding *b);

/* One machine's bindings, carried from the sensor, which sees the
 * packets, to the parent's replica, which does not (privilege
 * separation).  Plain bytes: fixed size, no pointers, every hole an
 * explicit pad field, so a struct that was memset to zero and then filled
 * holds no uninitialised byte and can be sent as it is.  The sender may
 * send only the header and b[0..nbind): what lies beyond nbind is never
 * read.
 *
 * IDENT_SNAP_MAX: observe() lets a machine have at most
 * identity.max_addresses bindings of its own making, and conf.c allows
 * 1024 of those at most (MAX_ADDRESSES_MAX); with auto_relay, a machine
 * the gateway delivers more than max_addresses addresses to becomes a
 * relay, so a machine that is not a relay holds at most as many again
 * that the gateway confirmed.  2 * 1024 covers every such machine whole;
 * only relays (and machines pinned to thousands of inventory addresses)
 * are cut, their weakest bindings left out.  It bounds a message to
 * sizeof(struct ident_snap), 98,320 bytes on x86_64, under the default
 * AF_UNIX socket buffer (net.core.wmem_default, 212,992). */
#define IDENT_SNAP_MAX 2048

struct ident_snap_bind {
	usec_t first_us, last_us; /* bound to this MAC since; last use or claim */
	struct qaddr addr;	  /* AF_INET (b[4..15] zero) or AF_INET6 */
	uint8_t prev[MAC_LEN];	  /* the previous owner, zero when none */
	uint8_t state;		  /* enum bind_state, BIND_CLAIMED..BIND_PINNED */
	uint8_t contested;	  /* 0 or 1 */
	uint8_t delivered;	  /* 0 or 1: the gateway delivered traffic for it to mac */
	uint8_t pad[6];		  /* zero */
};

struct ident_snap {
	uint8_t mac[MAC_LEN];
	uint8_t flags;	   /* IDM_*, as the sensor sees them */
	uint8_t truncated; /* 0, or 1: the machine had more than IDENT_SNAP_MAX bindings */
	uint16_t nbind;	   /* entries of b in use, <= IDENT_SNAP_MAX */
	uint8_t pad[6];	   /* zero */
	struct ident_snap_bind b[IDENT_SNAP_MAX];
};

/* Sensor side: machine mac's bindings, most trusted first (the order of
 * identity_addresses(), contested ones last), at most IDENT_SNAP_MAX (the
 * weakest left out, truncated set), with the machine's flags.  Writes the
 * header and b[0..nbind) of *ret, the rest left as it was (the message is
 * those bytes).  false when the machine is unknown:
 * *ret then holds mac and nothing else. */
bool identity_export(const struct identity *id, const uint8_t mac[MAC_LEN], struct ident_snap *ret);
/* Round-robin over the machines known (the sensor's sweep of snapshots,
 * which keeps the parent's replica whole for machines no event
 * concerned): the MAC of the first machine at or after *cursor, which
 * moves past it.  false at the end, with *cursor back to 0. */
bool identity_machine_next(const struct identity *id, uint32_t *cursor, uint8_t ret[MAC_LEN]);
/* The sweep's export: identity_export(), but false also when the snapshot
 * is the one this function last returned for the machine (times of last
 * use aside): the replica has it, nothing to send. */
bool identity_export_changed(struct identity *id, const uint8_t mac[MAC_LEN],
			     struct ident_snap *ret);

/* Replica side (the parent): makes machine s->mac's bindings in id those
 * of s, seen by then at now.  s is hostile input (a compromised sensor
 * writes it), so every field is checked before anything changes:
 * -EINVAL, with id untouched, for a MAC that is not unicast, flags
 * outside IDM_*, truncated not 0 or 1, nbind over IDENT_SNAP_MAX, and for
 * an entry whose address is not AF_INET (with b[4..15] zero) or AF_INET6
 * or not bindable (inside networks.protected or link-local, not multicast
 * or unspecified), appears twice, has a state outside CLAIMED..PINNED,
 * contested or delivered other than 0 or 1, or a non-zero pad.
 *
 * Times are clamped, not refused: last_us to now, first_us to last_us.
 * Binding times come from packet timestamps, which follow the wall clock;
 * after the clock steps back, an honest sensor keeps later times for as
 * long as the step, and refusing them would blind the parent for that
 * long, while a time the replica could take costs nothing.
 *
 * Then, without emitting an event (the sensor sent its own) and without
 * allocating:
 *   - the machine's bindings that s does not hold are removed, unless the
 *     machine is frozen in id (a block never loses an address);
 *   - an address of s bound in id to another machine moves to this one,
 *     unless that machine is frozen: then it stays there, skipped;
 *   - PINNED is taken only where id's configuration pins that address to
 *     that MAC (inventory mac with a host net), else it becomes
 *     ESTABLISHED: a sensor cannot pin.  Nor can it unpin: a binding id
 *     holds PINNED is never removed, moved or weakened by an import;
 *   - of the flags, IDM_RELAY, IDM_FORGER and IDM_CONTESTED are taken
 *     from s; IDM_SELF, IDM_ROUTER and IDM_FROZEN stay id's own (its
 *     configuration, its own-MAC callback, identity_set_frozen()).  A
 *     machine id knows as one of the gateway's own MACs takes no
 *     binding at all;
 *   - new machines and bindings take room as on the packet path: a full
 *     table gives up its weakest entry (a CLAIMED binding, a machine
 *     without a trusted address), and never a frozen machine, a PINNED
 *     binding or a frozen machine's trusted binding.
 * 0; -ENOSPC when the machine, or some of its bindings, found no room
 * (then the machine holds those that fit, most trusted first). */
int identity_import(struct identity *id, const struct ident_snap *s, usec_t now);

struct ident_stats {
	uint64_t packets;    /* handed to identity_packet() */
	uint64_t unverified; /* judged by address */
	uint64_t forged;     /* packets from an address not the sender's */
	uint64_t contested;  /* packets from a contested address or machine */
	uint64_t conflicts;  /* bindings that another machine used or claimed */
	uint64_t moves;	     /* bindings that changed hands */
	uint64_t evicted_machines, evicted_bindings;
	uint32_t machines, bindings; /* current occupancy */
	uint32_t max_machines, max_bindings;
	uint32_t by_state[BIND_STATE_COUNT];
};
void identity_get_stats(const struct identity *id, struct ident_stats *ret);

const char *bind_state_name(enum bind_state s);
int bind_state_parse(const char *s, enum bind_state *ret);
const char *src_kind_name(enum src_kind k);
const char *ident_event_name(enum ident_event_kind k);
/* 00:00:5e:00:01:xx and 00:00:5e:00:02:xx (RFC 5798). */
bool mac_is_vrrp(const uint8_t mac[MAC_LEN]);

#endif
