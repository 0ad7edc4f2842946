/* Longest-prefix match over IPv4 and IPv6 prefixes (a binary trie).
 *
 * Built at configuration time (allocates); lookups never allocate and take
 * at most 32 or 128 steps. */
#ifndef QD_LPM_H
#define QD_LPM_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct lpm;

struct lpm *lpm_new(void);
void lpm_free(struct lpm *t); /* NULL is a no-op */
/* Inserts or replaces prefix/plen with value.  0, -EINVAL or -ENOMEM. */
int lpm_insert(struct lpm *t, const struct qaddr *prefix, unsigned plen, uint32_t value);
/* Removes exactly prefix/plen.  0 or -ENOENT. */
int lpm_remove(struct lpm *t, const struct qaddr *prefix, unsigned plen);
/* Finds the longest prefix containing a.  On a hit writes ret_value (and
 * ret_plen when not NULL) and returns true. */
bool lpm_lookup(const struct lpm *t, const struct qaddr *a, uint32_t *ret_value,
		unsigned *ret_plen);
/* Number of prefixes stored. */
unsigned lpm_count(const struct lpm *t);

#endif
