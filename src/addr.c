/* IPv4/IPv6 and MAC address helpers. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void addr_set_v4(struct qaddr *a, const uint8_t b[4])
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	memcpy(a->b, b, 4);
}

void addr_set_v6(struct qaddr *a, const uint8_t b[16])
{
	a->family = AF_INET6;
	memcpy(a->b, b, 16);
}

void addr_set_mac(struct qaddr *a, const uint8_t mac[MAC_LEN])
{
	memset(a, 0, sizeof(*a));
	a->family = AF_MAC;
	memcpy(a->b, mac, MAC_LEN);
}

bool addr_eq(const struct qaddr *a, const struct qaddr *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

unsigned addr_bits(const struct qaddr *a)
{
	if (a->family == AF_MAC)
		return 48;
	return a->family == AF_INET6 ? 128 : 32;
}

void addr_mask(struct qaddr *a, unsigned plen)
{
	unsigned bits = addr_bits(a);

	for (unsigned i = plen; i < bits; i++)
		a->b[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
}

bool addr_in_prefix(const struct qaddr *a, const struct qaddr *p, unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;

	if (a->family != p->family || plen > addr_bits(p))
		return false;
	if (memcmp(a->b, p->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xffu << (8 - rest));
	return (a->b[full] & m) == (p->b[full] & m);
}

bool addr_is_multicast(const struct qaddr *a)
{
	if (a->family == AF_INET)
		return (a->b[0] & 0xf0) == 0xe0 ||
		       (a->b[0] == 255 && a->b[1] == 255 && a->b[2] == 255 && a->b[3] == 255);
	return a->family == AF_INET6 && a->b[0] == 0xff;
}

bool addr_is_unicast(const struct qaddr *a)
{
	static const uint8_t zero[16], loop6[16] = {[15] = 1};

	if (a->family == AF_INET)
		return a->b[0] != 0 && a->b[0] != 127 && !addr_is_multicast(a);
	if (a->family == AF_INET6)
		return memcmp(a->b, zero, 16) != 0 && memcmp(a->b, loop6, 16) != 0 &&
		       !addr_is_multicast(a);
	return false;
}

int addr_parse(const char *s, struct qaddr *ret)
{
	uint8_t b[16];

	if (inet_pton(AF_INET, s, b) == 1) {
		addr_set_v4(ret, b);
		return 0;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		addr_set_v6(ret, b);
		return 0;
	}
	return -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mac_parse(const char *s, uint8_t ret[MAC_LEN])
{
	uint8_t m[MAC_LEN];
	char sep = 0;

	for (unsigned i = 0; i < MAC_LEN; i++) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

		if (lo < 0)
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i == MAC_LEN - 1)
			break;
		if (*s != ':' && *s != '-')
			return -EINVAL;
		if (sep && *s != sep)
			return -EINVAL;
		sep = *s++;
	}
	if (*s != '\0')
		return -EINVAL;
	memcpy(ret, m, MAC_LEN);
	return 0;
}

int addr_parse_any(const char *s, struct qaddr *ret)
{
	uint8_t m[MAC_LEN];

	if (addr_parse(s, ret) == 0)
		return 0;
	if (mac_parse(s, m) < 0)
		return -EINVAL;
	addr_set_mac(ret, m);
	return 0;
}

int addr_parse_prefix(const char *s, struct qaddr *ret, unsigned *ret_plen)
{
	char buf[ADDR_STRLEN + 4];
	const char *slash = strchr(s, '/');
	struct qaddr a, m;
	unsigned long plen;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (addr_parse(buf, &a) < 0)
		return -EINVAL;
	if (slash) {
		char *end;
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (errno || *end != '\0' || plen > addr_bits(&a))
			return -EINVAL;
	} else {
		plen = addr_bits(&a);
	}
	m = a;
	addr_mask(&m, (unsigned)plen);
	if (!addr_eq(&m, &a))
		return -EINVAL; /* host bits set: a typo more often than not */
	*ret = a;
	*ret_plen = (unsigned)plen;
	return 0;
}

const char *mac_ntop(const uint8_t mac[MAC_LEN], char buf[MAC_STRLEN])
{
	static const char hex[] = "0123456789abcdef";

	for (unsigned i = 0; i < MAC_LEN; i++) {
		buf[i * 3] = hex[mac[i] >> 4];
		buf[i * 3 + 1] = hex[mac[i] & 15];
		buf[i * 3 + 2] = i == MAC_LEN - 1 ? '\0' : ':';
	}
	return buf;
}

const char *addr_ntop(const struct qaddr *a, char buf[ADDR_STRLEN])
{
	if (a->family == AF_MAC)
		return mac_ntop(a->b, buf);
	if (a->family == AF_INET || a->family == AF_INET6) {
		if (inet_ntop(a->family, a->b, buf, ADDR_STRLEN))
			return buf;
	}
	strcpy(buf, "?");
	return buf;
}
