/* Enforcement: puts hosts' levels into the kernel and keeps the registry's
 * view of the kernel (hostrec.kmac, .addrs[].kiso, .k[], .level) equal to
 * the kernel's.
 *
 * What a level means in elements:
 *   contain   the record's id with each wanted protocol/port: a machine's
 *             MAC in conm/conpm (whatever address it sends from), an
 *             address in con4/con6/conp4/conp6; a port towards one
 *             destination with that destination too: a MAC in
 *             conhm4/conhm6 (by the destination's family), an address in
 *             conh4/conh6.
 *   isolate   a machine's MAC in isom (unless it may not be isolated by
 *             MAC: a critical asset), and every address the record holds
 *             in iso4/iso6 (traffic to it).
 *
 * A batch of requests becomes one nftables transaction of set-element
 * changes, in which the one-element changes of many hosts share a message
 * per set (up to NFT_OP_MAX_ELEMS elements): per-message work is most of
 * the kernel's cost of a one-element change.  The kernel applies the
 * transaction whole or not at all, and names the messages it refused;
 * the hosts of a refused shared message are sent again each in messages
 * of their own, so that every error is still a host's.  When it refuses a
 * transaction because an element to delete has gone (expired, or removed
 * by hand: kernel 6.1 fails the whole batch), that element is dropped from
 * the view and the rest is sent again; a host whose own change the kernel
 * refuses for another reason gets the error and the others go through.
 *
 * The back end is swappable (STYLE.md): nftables over netlink in the
 * daemon, a recorder in unit tests. */
#ifndef QD_ENFORCE_H
#define QD_ENFORCE_H

#include <stdbool.h>
#include <stdint.h>

#include "hostdb.h"
#include "nft.h"
#include "prom.h"
#include "types.h"

struct enforce_backend {
	/* nft_commit()'s contract. */
	int (*commit)(void *arg, struct nft_op *ops, unsigned nops);
	/* nft_list()'s contract; may be NULL (nothing to read back). */
	int (*list)(void *arg, enum nft_set set, int (*cb)(void *cbarg, const struct nft_elem *e),
		    void *cbarg);
	void *arg;
};

struct enforce_stats {
	uint64_t transactions; /* sent, including resends */
	uint64_t resends;      /* after a refused transaction */
	uint64_t elements;     /* element changes committed */
	uint64_t errors;       /* requests that failed */
	usec_t last_us;	       /* duration of the last apply, send to last ACK */
	usec_t max_us;
	struct prom_hist apply; /* every apply's duration, as last_us */
};

struct enforcer {
	struct enforce_backend be;
	struct enforce_stats st;
};

/* What one host should have in the kernel. */
struct enforce_req {
	struct hostrec *rec;
	enum level level; /* LEVEL_NONE or LEVEL_WATCH: nothing in the kernel */
	uint64_t ttl_ms;  /* timeout of elements added now; 0: none */
	bool reset_ttl;	  /* re-add what is already there, to restart its timeout */
	bool no_mac;	  /* isolate by address only: never the MAC (a critical machine) */
	/* Filled by enforce_apply(): */
	int error;    /* 0, or -errno */
	char msg[96]; /* the kernel's reason when it refused */
	bool changed; /* the kernel was changed for this host */
};

void enforce_init(struct enforcer *e, const struct enforce_backend *be);

/* Applies every request in one transaction (plus resends).  On success
 * each request's rec->kiso/k/nk/level reflect the kernel.  Returns 0 when
 * every request succeeded, -ECANCELED when some failed (see req.error),
 * or another -errno when the exchange itself failed: the kernel's state is
 * then unknown and the caller must read it back (enforce_sync()). */
int enforce_apply(struct enforcer *e, struct enforce_req *reqs, unsigned n);

/* The level actually put in force for rec at `level`: containment
 * without known ports (or with more than fit) becomes isolation. */
enum level enforce_effective_level(const struct hostrec *rec, enum level level, bool critical);

#endif
