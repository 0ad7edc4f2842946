/* IPv4/IPv6 addresses and prefixes in one compact, comparable form. */
#ifndef QD_ADDR_H
#define QD_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An address of either family.  IPv4 lives in b[0..3] with b[4..15] zero,
 * so that two addresses compare equal with memcmp() of the whole struct. */
struct qaddr {
	uint8_t family; /* AF_INET or AF_INET6; 0 for "none" */
	uint8_t b[16];
};

#define ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

void addr_set_v4(struct qaddr *a, const uint8_t b[4]);
void addr_set_v6(struct qaddr *a, const uint8_t b[16]);
bool addr_eq(const struct qaddr *a, const struct qaddr *b);
/* Number of significant bits: 32 or 128. */
unsigned addr_bits(const struct qaddr *a);
/* Bit i (0 = most significant) of the address. */
bool addr_bit(const struct qaddr *a, unsigned i);
/* True when a lies inside prefix p/plen (same family). */
bool addr_in_prefix(const struct qaddr *a, const struct qaddr *p, unsigned plen);
/* Clears the bits after plen. */
void addr_mask(struct qaddr *a, unsigned plen);
/* Multicast or limited broadcast (224/4, 255.255.255.255, ff00::/8). */
bool addr_is_multicast(const struct qaddr *a);

/* Parses an IPv4 or IPv6 address.  0 or -EINVAL. */
int addr_parse(const char *s, struct qaddr *ret);
/* Parses "ADDR" (full length) or "ADDR/LEN".  Host bits must be zero.
 * 0 or -EINVAL. */
int addr_parse_prefix(const char *s, struct qaddr *ret, unsigned *ret_plen);
/* Writes the address as inet_ntop() prints it; returns buf. */
const char *addr_ntop(const struct qaddr *a, char buf[ADDR_STRLEN]);

#endif
