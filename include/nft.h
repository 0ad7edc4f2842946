/* The kernel side of enforcement: the daemon's nftables table, its sets and
 * chains, and atomic batches of set-element changes over netlink.  The only
 * module that includes libnftnl and libmnl.
 *
 * Table layout (SPEC section 5), family inet (or bridge):
 *   sets  iso4/iso6   isolated addresses              timeout, counter
 *         con4/con6   contained addr . proto . port   timeout, counter
 *         conp4/conp6 contained addr . proto (ICMP)   timeout, counter
 *         isom        isolated machines, by MAC           timeout, counter
 *         conm        contained MAC . proto . port        timeout, counter
 *         conpm       contained MAC . proto (ICMP)        timeout, counter
 *         conh4/conh6 contained addr . destination . proto . port
 *                                                         timeout, counter
 *         conhm4/conhm6  contained MAC . destination (IPv4 / IPv6) .
 *                     proto . port                        timeout, counter
 *         rem4/rem6   remediation networks            interval
 *         adm4/adm6   admin stations                  interval
 *         obg4/obg6   outbreak mode: every grouped address  interval
 *         obb4_B/obb6_B  outbreak mode: the addresses whose group id
 *                     has bit B (B < NFT_OB_BITS)         interval
 *         obe4/obe6   outbreak mode: essential servers    interval
 *         obs         outbreak mode: essential proto . port
 *         obgm        outbreak mode: every grouped MAC (the bridge family)
 *         obbm_B      outbreak mode: the MACs whose group id has bit B
 *   chains forward and input (filter, priority -10, policy accept): a
 *         fixed list of rules that reference the sets; the rules never
 *         change with the number of hosts.  The MAC sets match the
 *         frame's source (ether saddr), after the address rules: in the
 *         inet family behind a `meta iiftype ether` dependency, as nft
 *         itself writes it.  An isolated machine's IPv4/IPv6 packets go to
 *         the same isolation chains as an isolated address's; on a bridge
 *         its other frames drop, except ARP.  Traffic to a machine is
 *         matched by its addresses.
 *   chain  outbreak (regular): the forward chain's last rule jumps to it.
 *         Empty while outbreak mode is off; while it is on, per family:
 *         traffic from or to the admin, remediation and essential hosts,
 *         and to or from an essential service (proto . port, either
 *         end), returns; then a packet whose source and destination both
 *         have a group (obg4/obg6) and whose group ids differ drops: two
 *         rules per bit B of the highest group id, `ip saddr @obb4_B ip
 *         daddr != @obb4_B ip daddr @obg4 drop` and `ip saddr != @obb4_B
 *         ip saddr @obg4 ip daddr @obb4_B drop`: plain set lookups, which
 *         nft(8) prints and reads back (a map's value under a bitmask it
 *         cannot), so that a ruleset saved with `nft list ruleset`
 *         restores.  At most 2 x NFT_OB_BITS rules a family, whatever
 *         the number of hosts.  It comes after the isolation and containment
 *         rules, which it never overrides: it only returns or drops.
 *         In the bridge family, between the exceptions and the address
 *         rules, an IPv4 or IPv6 frame whose source and destination MACs
 *         both have a group (obgm) goes to the chain ob_mac, whose
 *         rules drop it when the groups differ (as above, by MAC, with
 *         obbm_B: `ether saddr @obbm_B ether daddr != @obbm_B drop` and
 *         the other way round), and
 *         which otherwise ends the outbreak chain's say: the machines'
 *         groups decide before their addresses'.
 *
 * Every change is one transaction (BEGIN ... END); every message asks for
 * an ACK, and every ACK is read and matched to its message by sequence
 * number; NETLINK_EXT_ACK gives the kernel's reason.  Each message, BEGIN
 * and END included, has a sequence number of its own, never reused while
 * the socket is open: an answer that carries none of the exchange in
 * progress (the late ACKs of a transaction that timed out, the tail of a
 * listing cut short) is read, dropped and counted (nft_stale()), never
 * taken for an answer to the exchange in progress.  After an exchange
 * that ended before its last answer, the socket is drained before the
 * next one.  Every exchange waits at most the timeout for the kernel. */
#ifndef QD_NFT_H
#define QD_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "conf.h"
#include "outbreak.h"

/* Bits of an outbreak group id: one set per bit and family (below).
 * Group ids run 1..NFT_OB_GROUP_MAX: 1023 groups at most (nft_outbreak()
 * refuses more, E2BIG).  The sets number NFT_SET_COUNT, at most 64: a
 * set's bit in a uint64_t (nftmon.h, repair.c). */
#define NFT_OB_BITS	 10
#define NFT_OB_GROUP_MAX ((1u << NFT_OB_BITS) - 1)

enum nft_set {
	NFT_SET_ISO4 = 0,
	NFT_SET_ISO6,
	NFT_SET_CON4,
	NFT_SET_CON6,
	NFT_SET_CONP4,
	NFT_SET_CONP6,
	NFT_SET_ISOM,
	NFT_SET_CONM,
	NFT_SET_CONPM,
	NFT_SET_CONH4, /* towards one destination (hostdb.h struct hport.to) */
	NFT_SET_CONH6,
	NFT_SET_CONHM4,
	NFT_SET_CONHM6,
	NFT_SET_REM4,
	NFT_SET_REM6,
	NFT_SET_ADM4,
	NFT_SET_ADM6,
	NFT_SET_OBG4, /* outbreak mode (struct nft_outbreak) */
	NFT_SET_OBG6,
	NFT_SET_OBE4,
	NFT_SET_OBE6,
	NFT_SET_OBS,
	NFT_SET_OBGM,
	/* One set per bit of the group ids (NFT_OB_BITS each): obb4_0..,
	 * obb6_0.., obbm_0.. */
	NFT_SET_OBB4,
	NFT_SET_OBB6 = NFT_SET_OBB4 + NFT_OB_BITS,
	NFT_SET_OBBM = NFT_SET_OBB6 + NFT_OB_BITS,
	NFT_SET_COUNT = NFT_SET_OBBM + NFT_OB_BITS,
};

_Static_assert(NFT_SET_COUNT <= 64, "a set's bit in a uint64_t");

/* Outbreak mode as the kernel is to hold it (outbreak.h): the ranges of
 * each group, the essential servers (disjoint ranges) and services.
 * Borrowed for the call: nft_outbreak() keeps its own copy. */
struct nft_outbreak {
	bool on;
	/* group ids 1..ngroups-1, ngroups - 1 <= NFT_OB_GROUP_MAX */
	const struct ob_range *g4, *g6;
	unsigned ng4, ng6;
	unsigned ngroups;
	const struct ob_range *e4, *e6;
	unsigned ne4, ne6;
	const struct outbreak_service *svc;
	unsigned nsvc;
	const struct ob_mac *gm; /* the bridge family's machines by MAC */
	unsigned ngm;
};

/* Gateway services an isolated host may still use (input hook). */
#define NFT_GW_DHCP 0x1
#define NFT_GW_DNS  0x2

/* How long an exchange waits for the kernel's next answer, by default. */
#define NFT_TIMEOUT_MS 5000

/* Elements in one nft_op: each op is one netlink message, which must fit
 * in the batch page's overrun (64 KiB); an element takes at most 64
 * bytes.  The enforcer's largest op is a host's ports (HOST_MAX_PORTS). */
#define NFT_OP_MAX_ELEMS 256

struct nft_params {
	int family; /* NFPROTO_INET or NFPROTO_BRIDGE */
	char table[32];
	unsigned gateway_services; /* NFT_GW_* */
	/* Longest silence of the kernel within an exchange (commit, setup,
	 * listing) before it fails with -ETIMEDOUT; 0: NFT_TIMEOUT_MS. */
	unsigned timeout_ms;
};

/* One set element.  For iso*: addr.  For con*: addr, l4proto, port.  For
 * conp*: addr, l4proto.  For conh*: addr, dst, l4proto, port.  For the
 * MAC sets (isom, conm, conpm, conhm4, conhm6) addr is a MAC (family
 * AF_MAC). */
struct nft_elem {
	struct qaddr addr;
	struct qaddr dst; /* conh*: the destination; family 0 in every other set */
	uint8_t l4proto;  /* IPPROTO_TCP / IPPROTO_UDP / IPPROTO_ICMP(V6) */
	uint16_t port;
	uint64_t timeout_ms; /* 0: never expires */
	/* Filled by nft_list(): */
	uint64_t expires_ms; /* remaining; 0 when no timeout */
	uint64_t packets, bytes;
};

/* One netlink message: add or delete elems in one set.  The caller fills
 * set, del, elems/nelems, tag; nft_commit() fills error and msg. */
struct nft_op {
	enum nft_set set;
	bool del;
	const struct nft_elem *elems; /* borrowed */
	unsigned nelems;
	uint32_t tag; /* the caller's, e.g. a host index */
	int error;    /* 0 or -errno from the kernel's ACK */
	char msg[96]; /* the kernel's extended ACK message, if any */
};

struct nft;

/* Opens the netlink socket.  0 or -errno.  Every function below that
 * talks to the kernel returns -ENOMEM, with nothing sent, when building
 * its messages ran out of memory. */
int nft_open(const struct nft_params *p, struct nft **ret);
void nft_close(struct nft *n); /* NULL is a no-op */
int nft_fd(const struct nft *n);
/* The socket's netlink port id: the nlmsg_pid of the kernel's
 * notifications about our own transactions (nftmon.h). */
uint32_t nft_portid(const struct nft *n);

/* Creates the table, sets and chains, or adopts them when they exist, in
 * one transaction: the isolation and containment sets keep their elements;
 * the chains' rules are rewritten; the remediation and admin sets are
 * refilled from the lists.  0 or -errno (message in err). */
int nft_setup(struct nft *n, const struct prefix_list *remediation, const struct prefix_list *admin,
	      char *err, size_t errlen);
/* Replaces the remediation and admin sets' contents, and the outbreak
 * chain and sets as nft_outbreak() last set them, atomically. */
int nft_set_networks(struct nft *n, const struct prefix_list *remediation,
		     const struct prefix_list *admin, char *err, size_t errlen);

/* Keeps a copy of ob as what outbreak mode is to be in the kernel (on
 * or off), then, when apply, rewrites the outbreak chain and sets in one
 * transaction.  nft_setup() and nft_set_networks() put the copy back
 * too (a repair, a reload).  0 or -errno (message in err): the copy kept
 * is then the one before. */
int nft_outbreak(struct nft *n, const struct nft_outbreak *ob, bool apply, char *err,
		 size_t errlen);

/* Sends ops as one transaction and reads every ACK.  Returns 0 when the
 * kernel committed it; -ECANCELED when it refused it (the transaction is
 * then void: nothing was applied; ops[i].error names each culprit);
 * -EINVAL, with nothing sent, when an element's addr.family is not its
 * set's (AF_INET, AF_INET6 or AF_MAC), its dst.family is not the set's
 * destination family (0 for a set without one), or an op has more than
 * NFT_OP_MAX_ELEMS elements (ops[i].error names the op); another -errno
 * when the exchange itself failed: -ETIMEDOUT (the kernel was silent for
 * the timeout) and -ENOBUFS (ACKs were lost) leave the kernel's state
 * unknown: it must be read back.  ops[i].error and msg are written for
 * every ACK read. */
int nft_commit(struct nft *n, struct nft_op *ops, unsigned nops);

/* Calls cb for every element of set.  0, cb's first non-zero return (the
 * listing is then read to its end without further calls), or -errno:
 * -ETIMEDOUT when the kernel was silent for the timeout, -EINTR when the
 * set changed during the listing (it may have missed or repeated
 * elements: list again), -EINVAL for a set out of range. */
int nft_list(struct nft *n, enum nft_set set, int (*cb)(void *arg, const struct nft_elem *e),
	     void *arg);

/* Netlink messages read and dropped because they answered no exchange in
 * progress: late ACKs of a transaction that timed out, the tail of a
 * listing cut short, and datagrams from anyone but the kernel. */
uint64_t nft_stale(const struct nft *n);

const char *nft_set_name(enum nft_set s);
bool nft_set_is_v6(enum nft_set s);
/* Keyed by MAC (isom, conm, conpm, conhm4, conhm6). */
bool nft_set_is_mac(enum nft_set s);
/* The family of the destination in the key (conh*): AF_INET or AF_INET6;
 * 0 for a set without one. */
int nft_set_dst_family(enum nft_set s);

#endif
