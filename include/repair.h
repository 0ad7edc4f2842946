/* Repairs the daemon's nftables table when it is changed from outside
 * (nftmon.h tells what changed): Debian's nftables.service runs `flush
 * ruleset` at start, reload and stop; an operator may delete an element or
 * flush a set by hand.
 *
 * How: a change of the table's structure (table, chains, rules or sets,
 * or lost notifications) rebuilds it with nft_setup(), which creates what
 * is missing, rewrites the chains and refills the remediation and admin
 * sets in one transaction; then act_sync() reads the blocking sets back and
 * puts back every element of a block in force that is missing.  A change
 * of elements alone needs only act_sync() (and the remediation and admin
 * sets rewritten when they were touched).  Each set is counted before and
 * after, and one alert (an error event and syslog) names what was
 * repaired: "table recreated", "iso4 refilled with 3 elements", ...
 *
 * When: REPAIR_DEBOUNCE_MS after the last outside change, so that one
 * flush of many elements (a notification each) is one repair, and at most
 * REPAIR_MAXWAIT_MS after the first, so that a stream of changes cannot
 * put a repair off for ever.
 *
 * How often: at most REPAIR_BURST repairs in any REPAIR_WINDOW_S.  When
 * one more is due, the daemon stops repairing for a hold, with one alert:
 * another tool is fighting over the table and repairing in a loop would
 * only burn CPU and flood the logs.  The hold is REPAIR_HOLD_MIN_S,
 * doubled for each hold that starts within REPAIR_HOLD_RESET_S of the end
 * of the previous one, up to REPAIR_HOLD_MAX_S.  Changes seen during a
 * hold are kept; when it ends, one repair covers them all.  A reload
 * (repair_resume()) ends a hold at once and checks the table.
 *
 * Time is monotonic microseconds, passed in. */
#ifndef QD_REPAIR_H
#define QD_REPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "nftmon.h"
#include "types.h"

#define REPAIR_DEBOUNCE_MS  200
#define REPAIR_MAXWAIT_MS   1000
#define REPAIR_BURST	    10
#define REPAIR_WINDOW_S	    60
#define REPAIR_HOLD_MIN_S   60
#define REPAIR_HOLD_MAX_S   900
#define REPAIR_HOLD_RESET_S 600

struct repair_stats {
	uint64_t repairs;  /* checks run (whether or not anything was missing) */
	uint64_t repaired; /* of which put something back */
	uint64_t failures; /* of which failed */
	uint64_t holds;	   /* times repairs stopped */
	usec_t last_us;	   /* duration of the last repair */
	usec_t max_us;
};

struct repair {
	struct nftmon_change pend; /* outside changes not yet repaired */
	usec_t first_us, last_us;  /* of the pending changes; 0: none pending */
	usec_t hist[REPAIR_BURST]; /* start times of the latest repairs, a ring */
	unsigned nhist, hnext;
	usec_t hold_until; /* 0: not holding */
	usec_t hold_us;	   /* length of the current or last hold */
	usec_t hold_ended; /* when the last hold ended; 0: never */
	struct repair_stats st;
};

enum repair_verdict {
	REPAIR_WAIT, /* nothing due now */
	REPAIR_RUN,  /* repair now: the changes were moved to the caller */
	REPAIR_HOLD, /* a hold has just started: alert */
};

void repair_init(struct repair *r);

/* r->pend has gained changes (nftmon_read()) at now. */
void repair_note(struct repair *r, usec_t now);

/* When the next decision is due (repair_check()); USEC_INFINITY when
 * nothing is pending. */
usec_t repair_next(const struct repair *r);

/* Decides at now.  REPAIR_RUN moves the pending changes into ret (and
 * counts the repair against the budget); REPAIR_HOLD starts a hold that
 * ends at r->hold_until.  Pure. */
enum repair_verdict repair_check(struct repair *r, usec_t now, struct nftmon_change *ret);

/* Ends a hold now and asks for a full check at the next repair_check()
 * (an operator's reload): true.  False, with no effect, when not holding. */
bool repair_resume(struct repair *r, usec_t now);

/* ---- the daemon's side ---- */

struct engine;
struct nft;
struct nftmon;
struct output;

/* What a repair works on; borrowed for the call. */
struct repair_env {
	struct nft *nft;
	struct engine *eng;
	const struct prefix_list *remediation, *admin;
	struct output *out;
	const char *family; /* "inet" or "bridge", for messages */
	const char *table;
};

/* Reads the monitor's notifications into r.  0, or -errno from
 * nftmon_read() (logged by the caller). */
int repair_read(struct repair *r, struct nftmon *m, usec_t mono);

/* Runs a repair when one is due, or alerts when a hold starts.  wall is
 * the time for the engine and events. */
void repair_tick(struct repair *r, const struct repair_env *env, usec_t mono, usec_t wall);

#endif
