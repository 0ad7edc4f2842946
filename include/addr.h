/* IPv4/IPv6 addresses and prefixes, and MAC addresses, in one compact,
 * comparable form. */
#ifndef QD_ADDR_H
#define QD_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An address of either family.  IPv4 lives in b[0..3] with b[4..15] zero,
 * so that two addresses compare equal with memcmp() of the whole struct.
 * A MAC address (family AF_MAC) lives in b[0..5], the rest zero: it names
 * a machine where an IP address would name a host (identity.h). */
struct qaddr {
	uint8_t family; /* AF_INET or AF_INET6; 0 for "none" */
	uint8_t b[16];
};

#define ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */
#define AF_MAC	    AF_PACKET
#define MAC_LEN	    6
#define MAC_STRLEN  18 /* "aa:bb:cc:dd:ee:ff" and the NUL */

void addr_set_v4(struct qaddr *a, const uint8_t b[4]);
void addr_set_v6(struct qaddr *a, const uint8_t b[16]);
void addr_set_mac(struct qaddr *a, const uint8_t mac[MAC_LEN]);
static inline bool addr_is_mac(const struct qaddr *a)
{
	return a->family == AF_MAC;
}
bool addr_eq(const struct qaddr *a, const struct qaddr *b);
/* Number of significant bits: 32 or 128. */
unsigned addr_bits(const struct qaddr *a);
/* Bit i (0 = most significant) of the address.  Inline: the prefix
 * tries call it for every bit they walk. */
static inline bool addr_bit(const struct qaddr *a, unsigned i)
{
	return (a->b[i / 8] >> (7 - i % 8)) & 1;
}
/* True when a lies inside prefix p/plen (same family). */
bool addr_in_prefix(const struct qaddr *a, const struct qaddr *p, unsigned plen);
/* Clears the bits after plen. */
void addr_mask(struct qaddr *a, unsigned plen);
/* Multicast or limited broadcast (224/4, 255.255.255.255, ff00::/8). */
bool addr_is_multicast(const struct qaddr *a);
/* An IPv4 or IPv6 address one host can send to another: not unspecified
 * (0/8 for IPv4), loopback, multicast or broadcast. */
bool addr_is_unicast(const struct qaddr *a);

/* Parses an IPv4 or IPv6 address.  0 or -EINVAL. */
int addr_parse(const char *s, struct qaddr *ret);
/* Parses a MAC address, six pairs of hex digits separated by ':' or '-'
 * (either case).  0 or -EINVAL. */
int mac_parse(const char *s, uint8_t ret[MAC_LEN]);
/* An IPv4 or IPv6 address, or a MAC address (family AF_MAC).  0 or -EINVAL. */
int addr_parse_any(const char *s, struct qaddr *ret);
/* Parses "ADDR" (full length) or "ADDR/LEN".  Host bits must be zero.
 * 0 or -EINVAL. */
int addr_parse_prefix(const char *s, struct qaddr *ret, unsigned *ret_plen);
/* Writes the address as inet_ntop() prints it (a MAC as mac_ntop());
 * returns buf. */
const char *addr_ntop(const struct qaddr *a, char buf[ADDR_STRLEN]);
/* Lower case, colon-separated; returns buf. */
const char *mac_ntop(const uint8_t mac[MAC_LEN], char buf[MAC_STRLEN]);
/* Neither the group (multicast/broadcast) bit nor all zero: a machine may
 * send from it. */
static inline bool mac_is_unicast(const uint8_t mac[MAC_LEN])
{
	return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

#endif
