/* Changes made to the daemon's nftables table from outside, seen in the
 * kernel's nf_tables notifications (NFNLGRP_NFTABLES on NETLINK_NETFILTER,
 * what `nft monitor` follows).
 *
 * Every notification carries, in nlmsg_pid, the netlink port id of the
 * socket whose transaction caused it, and each transaction ends with an
 * NFT_MSG_NEWGEN that names the process (NFTA_GEN_PROC_PID, _NAME).  The
 * daemon's own transactions all come from its one nft socket: messages with
 * that port id are ours and are ignored (a socket filter drops them in the
 * kernel already, so that our own bulk changes cannot fill the queue).
 * Messages about other families or tables are ignored too.
 *
 * What is left is summed up in a struct nftmon_change: what kind of object
 * changed and which of our sets lost or gained elements.  A lost
 * notification (ENOBUFS: a flush of 100,000 elements is 100,000
 * notifications) means anything may have changed (NFTMON_LOST).
 *
 * Parsing goes through rtnl.h's walkers (the netlink framing is the same):
 * every length is checked against what was received; nothing allocates. */
#ifndef QD_NFTMON_H
#define QD_NFTMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtnl.h"

/* What changed (struct nftmon_change.what). */
#define NFTMON_TABLE  0x01u /* the table was deleted, created or its flags changed */
#define NFTMON_CHAINS 0x02u /* a chain or a rule was deleted or added */
#define NFTMON_SETS   0x04u /* a set was deleted or added */
#define NFTMON_ELEMS  0x08u /* elements were deleted or added (see .sets) */
#define NFTMON_LOST   0x10u /* notifications were lost: anything may have changed */
#define NFTMON_CHECK  0x20u /* a full check asked for (repair.h: the end of a hold) */
/* What needs the table rebuilt rather than its sets read back. */
#define NFTMON_STRUCTURE (NFTMON_TABLE | NFTMON_CHAINS | NFTMON_SETS | NFTMON_LOST | NFTMON_CHECK)

struct nftmon_change {
	unsigned what;	   /* NFTMON_* */
	uint64_t sets;	   /* bit (1 << enum nft_set) for each set whose elements changed */
	unsigned messages; /* outside notifications about our table */
	bool table_deleted;
	/* The last outside transaction that touched the table: its socket's
	 * port id, and the process the kernel named in its NEWGEN (pid 0 and
	 * an empty name when not seen). */
	uint32_t portid;
	uint32_t pid;
	char comm[16];
};

/* Whose changes count. */
struct nftmon_filter {
	uint8_t family; /* NFPROTO_INET or NFPROTO_BRIDGE */
	char table[32];
	uint32_t own_portid; /* the daemon's nft socket (nft_portid()) */
};

/* Adds what one message says to acc, which sums up every message since it
 * was zeroed (a NEWGEN counts only when acc's last change came from the
 * same port id).  1 when it is an outside change of our table (or the
 * NEWGEN that ends one), 0 when it is not (our own, of another table or
 * family, of no interest), -EBADMSG when its attributes are malformed (acc
 * unchanged).  Pure: no I/O. */
int nftmon_classify(const struct nftmon_filter *f, const struct rtnl_msg *msg,
		    struct nftmon_change *acc);

/* Words for what (e.g. "table deleted, chains, elements of iso4"), into
 * buf.  Set names come from nft.h. */
void nftmon_describe(const struct nftmon_change *c, char *buf, size_t len);

struct nftmon;

/* Opens a non-blocking NETLINK_NETFILTER socket subscribed to
 * NFNLGRP_NFTABLES (needs CAP_NET_ADMIN) for f's table.  0 or -errno. */
int nftmon_open(const struct nftmon_filter *f, struct nftmon **ret);
void nftmon_close(struct nftmon *m); /* NULL is a no-op */
int nftmon_fd(const struct nftmon *m);
/* Reads pending notifications (a bounded number per call: what is left
 * stays readable) and adds them to acc.  1 when something changed, 0 when
 * not, -errno on a failure to read.  Lost notifications are not a failure:
 * they set NFTMON_LOST and return 1. */
int nftmon_read(struct nftmon *m, struct nftmon_change *acc);

#endif
