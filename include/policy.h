/* Policy: from a detection's severity to the level to apply, and whether it
 * may be applied (SPEC sections 4 and 5).
 *
 * Pure: the caller passes in the mode, the clock and the facts about the
 * host; the per-minute cap on automatic actions is the only state. */
#ifndef QD_POLICY_H
#define QD_POLICY_H

#include <stdbool.h>

#include "addr.h"
#include "conf.h"
#include "types.h"

enum run_mode {
	MODE_OFFLINE = 0, /* -r: nothing is ever enforced */
	MODE_ALERT,	  /* -n / enforce.mode = "alert" */
	MODE_ENFORCE,
};

/* Why an automatic action is not enforced (the event's "why"). */
enum why {
	WHY_NONE = 0, /* enforce it */
	WHY_OFFLINE,
	WHY_DRY_RUN,
	WHY_NEVER_BLOCK,
	WHY_RATE_LIMIT,
	WHY_PAUSED,
	WHY_ERROR,
	WHY_WATCH, /* the level is watch: nothing to put in the kernel */
};

struct decision {
	enum level level; /* what policy decided, before any "why" */
	enum why why;	  /* WHY_NONE: to be enforced */
	bool capped;	  /* lowered by the asset's criticality, or for an unverified source */
	bool unverified;  /* an unverified source: at most identity.unverified_max */
};

/* What policy needs to know about the host a detection is about. */
struct host_facts {
	bool never;	 /* may never be blocked: see policy_never_block() and
			  * policy_machine_never() */
	bool critical;	 /* a critical asset (inventory) */
	bool unverified; /* the source cannot be tied to a machine, or its
			  * machine is contested: at most identity.unverified_max */
};

struct policy {
	const struct conf *c;
	enum run_mode mode;
	bool paused;
	/* Automatic actions in the current minute (fixed one-minute windows):
	 * sources tied to a machine and unverified ones have a budget each,
	 * so that a flood of unverifiable sources cannot spend what a real
	 * worm on a machine needs. */
	usec_t rate_minute;
	unsigned rate_count, rate_count_unverified;
	unsigned long rate_suppressed;
	/* Run-time changes to the never-block list (quarantinectl allow /
	 * disallow), until the next reload. */
	struct prefix_list allowed; /* added */
	bool *conf_removed;	    /* per networks.never_block entry */
};

/* 0 or -ENOMEM. */
int policy_init(struct policy *p, const struct conf *c, enum run_mode mode);
/* Decides the level for an automatic detection of severity sev on a host
 * with facts f.  Consumes one unit of the rate cap (of the verified or the
 * unverified budget) when the result is to be enforced. */
void policy_decide(struct policy *p, enum severity sev, const struct host_facts *f, usec_t now,
		   struct decision *ret);
/* The same for a detection that asks for level lvl (one from outside,
 * whose source's mapping chose it): the same caps and limits. */
void policy_decide_level(struct policy *p, enum level lvl, const struct host_facts *f, usec_t now,
			 struct decision *ret);
/* True when an address may never be blocked (never-block list, outside the
 * protected networks, or self). */
bool policy_never_block(const struct policy *p, const struct qaddr *host, bool self);
/* Why an address may never be blocked: one of the POLICY_NEVER_* texts
 * (static), or NULL when it may be.  policy_never_block() is true exactly
 * when this is not NULL. */
const char *policy_never_reason(const struct policy *p, const struct qaddr *host, bool self);
#define POLICY_NEVER_SELF    "one of the gateway's own addresses"
#define POLICY_NEVER_LISTED  "on the never-block list"
#define POLICY_NEVER_OUTSIDE "outside the protected networks"
/* True when a machine holding this address may never be blocked: the
 * address is on the never-block list (configured or allowed at run time)
 * or is the gateway's own.  (Unlike policy_never_block(), an address
 * outside the protected networks, a link-local one say, does not shield
 * the machine: it only is never blocked itself.) */
bool policy_never_listed(const struct policy *p, const struct qaddr *a, bool self);

const char *why_name(enum why w);

/* Adds prefix to the never-block list at run time.  0, -EEXIST, -ENOMEM. */
int policy_allow(struct policy *p, const struct qaddr *prefix, unsigned plen);
/* Removes exactly prefix from the never-block list (run-time or
 * configured).  0 or -ENOENT. */
int policy_disallow(struct policy *p, const struct qaddr *prefix, unsigned plen);
void policy_fini(struct policy *p);
/* Switches to configuration c (reload).  Run-time additions to the
 * never-block list stay; removals of configured entries are forgotten (the
 * new file is what the operator wants).  0 or -ENOMEM (nothing changed). */
int policy_reconfigure(struct policy *p, const struct conf *c);

#endif
