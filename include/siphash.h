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
/* SipHash-1-3: one round per block and three to finalise, about half the
 * work on our 20- to 40-byte keys.  What Python (3.11) and Rust hash their
 * tables with: collisions stay as hard to choose without the key, which
 * is all a bucket index needs; it is no MAC. */
uint64_t siphash13(const struct siphash_key *key, const void *data, size_t len);
/* Fills key from getrandom(); falls back to nothing (returns -errno). */
int siphash_key_random(struct siphash_key *key);

#endif
