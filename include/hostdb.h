/* The registry of hosts that were flagged or acted on: what was reported
 * for each, at which level, in which incident.  Separate from the
 * detector's tables so that a flagged host is never forgotten when the
 * detector evicts it (SPEC section 4: their own capacity). */
#ifndef QD_HOSTDB_H
#define QD_HOSTDB_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "detect.h"
#include "table.h"
#include "types.h"

#define HOSTDB_MAX_HITS 8 /* rules remembered per host; more are folded into the last */

struct hit {
	uint8_t rule;  /* detect rule index (DETECT_RULE_TRW for the walk) */
	uint8_t level; /* highest level reported for this rule */
	uint32_t incident;
	usec_t first_us; /* first detection by this rule */
};

struct hostrec {
	struct tab_hdr h;
	struct qaddr addr;
	uint8_t level; /* highest level decided over all rules */
	uint8_t nhits;
	usec_t first_probe_us; /* earliest first probe over all detections */
	usec_t first_detect_us, last_detect_us;
	struct hit hits[HOSTDB_MAX_HITS];
};

struct hostdb {
	struct table t;
};

int hostdb_init(struct hostdb *db, uint32_t cap, const struct siphash_key *key);
void hostdb_fini(struct hostdb *db);
struct hostrec *hostdb_find(struct hostdb *db, const struct qaddr *a);
/* Finds or creates.  NULL when the registry is full. */
struct hostrec *hostdb_get(struct hostdb *db, const struct qaddr *a);
/* The hit for rule, or NULL when the host was never flagged by it. */
struct hit *hostdb_hit(struct hostrec *r, unsigned rule);
/* Adds a hit for rule (there must be none yet). */
struct hit *hostdb_add_hit(struct hostrec *r, unsigned rule, usec_t now);
uint32_t hostdb_count(const struct hostdb *db);

#endif
