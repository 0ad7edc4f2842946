/* SipHash-2-4 (Aumasson & Bernstein), keyed so that a host spoofing packets
 * cannot pick addresses that collide in our tables. */
#ifndef QD_SIPHASH_H
#define QD_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t k0, k1;
};

uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len);
/* Fills key from getrandom(); falls back to nothing (returns -errno). */
int siphash_key_random(struct siphash_key *key);

#endif
