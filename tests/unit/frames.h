/* Ethernet frames assembled byte by byte, for the tests that feed frames
 * to a BPF filter or to a live interface (test_filter, test_capture_live).
 * Every address is a test address: 10.66.0.0/16 and fd66::/16, MACs
 * locally administered (02:66:...); nothing built here is routable. */
#ifndef QD_TEST_FRAMES_H
#define QD_TEST_FRAMES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Room for a full-size Ethernet frame (1514 bytes, and a tag). */
struct frame {
	uint8_t b[1600];
	size_t n;
};

#define FR_TH_FIN 0x01
#define FR_TH_SYN 0x02
#define FR_TH_RST 0x04
#define FR_TH_PSH 0x08
#define FR_TH_ACK 0x10
#define FR_TH_URG 0x20

#define FR_ETH_IPV4 0x0800
#define FR_ETH_ARP  0x0806
#define FR_ETH_VLAN 0x8100
#define FR_ETH_IPV6 0x86dd

static const uint8_t FR_MAC_A[6] = {0x02, 0x66, 0x00, 0x00, 0x00, 0x0a};
static const uint8_t FR_MAC_B[6] = {0x02, 0x66, 0x00, 0x00, 0x00, 0x0b};
static const uint8_t FR_MAC_BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t FR_IP_A[4] = {10, 66, 0, 10};
static const uint8_t FR_IP_B[4] = {10, 66, 0, 11};
static const uint8_t FR_IP_R[4] = {10, 66, 0, 1}; /* sends the ICMP errors */
static const uint8_t FR_IP6_A[16] = {0xfd, 0x66, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
static const uint8_t FR_IP6_B[16] = {0xfd, 0x66, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b};

/* A test bug, not a finding: stop at once. */
static inline void fr_put8(struct frame *f, unsigned v)
{
	if (f->n >= sizeof(f->b))
		abort();
	f->b[f->n++] = (uint8_t)v;
}

static inline void fr_put16(struct frame *f, unsigned v)
{
	fr_put8(f, (v >> 8) & 0xff);
	fr_put8(f, v & 0xff);
}

static inline void fr_put32(struct frame *f, uint32_t v)
{
	fr_put16(f, v >> 16);
	fr_put16(f, v & 0xffff);
}

static inline void fr_putn(struct frame *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fr_put8(f, p[i]);
}

static inline void fr_set16(struct frame *f, size_t at, unsigned v)
{
	f->b[at] = (uint8_t)(v >> 8);
	f->b[at + 1] = (uint8_t)v;
}

/* Ethernet header from A to dst; vid > 0 adds one 802.1Q tag. */
static inline void fr_eth(struct frame *f, const uint8_t dst[6], unsigned vid, unsigned type)
{
	memset(f, 0, sizeof(*f));
	fr_putn(f, dst, 6);
	fr_putn(f, FR_MAC_A, 6);
	if (vid) {
		fr_put16(f, FR_ETH_VLAN);
		fr_put16(f, vid & 0x0fff);
	}
	fr_put16(f, type);
}

/* Starts an IPv4 header; returns its offset for fr_ipv4_end(). */
static inline size_t fr_ipv4(struct frame *f, unsigned proto, const uint8_t src[4],
			     const uint8_t dst[4], unsigned frag_off8)
{
	size_t at = f->n;

	fr_put8(f, 0x45);
	fr_put8(f, 0);
	fr_put16(f, 0); /* total length: fr_ipv4_end() */
	fr_put16(f, 0x1234);
	fr_put16(f, frag_off8 & 0x1fff);
	fr_put8(f, 64);
	fr_put8(f, proto);
	fr_put16(f, 0); /* checksum: fr_ipv4_end() */
	fr_putn(f, src, 4);
	fr_putn(f, dst, 4);
	return at;
}

static inline void fr_ipv4_end(struct frame *f, size_t at)
{
	uint32_t sum = 0;

	fr_set16(f, at + 2, (unsigned)(f->n - at));
	for (size_t i = 0; i < 20; i += 2)
		sum += (uint32_t)(f->b[at + i] << 8 | f->b[at + i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	fr_set16(f, at + 10, ~sum & 0xffff);
}

static inline size_t fr_ipv6(struct frame *f, unsigned nh, const uint8_t src[16],
			     const uint8_t dst[16])
{
	size_t at = f->n;

	fr_put32(f, 0x60000000);
	fr_put16(f, 0); /* payload length: fr_ipv6_end() */
	fr_put8(f, nh);
	fr_put8(f, 64);
	fr_putn(f, src, 16);
	fr_putn(f, dst, 16);
	return at;
}

static inline void fr_ipv6_end(struct frame *f, size_t at)
{
	fr_set16(f, at + 4, (unsigned)(f->n - at - 40));
}

static inline void fr_tcp(struct frame *f, unsigned sport, unsigned dport, unsigned flags)
{
	fr_put16(f, sport);
	fr_put16(f, dport);
	fr_put32(f, 1000);
	fr_put32(f, (flags & FR_TH_ACK) ? 2000 : 0);
	fr_put8(f, 5 << 4);
	fr_put8(f, flags);
	fr_put16(f, 65535);
	fr_put16(f, 0);
	fr_put16(f, 0);
}

static inline void fr_udp(struct frame *f, unsigned sport, unsigned dport)
{
	fr_put16(f, sport);
	fr_put16(f, dport);
	fr_put16(f, 8 + 4);
	fr_put16(f, 0); /* no checksum (IPv4) */
	fr_put32(f, 0x71647164);
}

/* TCP from A to B over IPv4, port 445, optionally tagged.  With PSH the
 * segment carries some data; without, an ACK is a pure ACK. */
static inline void fr_tcp4(struct frame *f, unsigned flags, unsigned vid)
{
	size_t ip;

	fr_eth(f, FR_MAC_B, vid, FR_ETH_IPV4);
	ip = fr_ipv4(f, 6, FR_IP_A, FR_IP_B, 0);
	fr_tcp(f, 40000, 445, flags);
	if (flags & FR_TH_PSH)
		fr_put32(f, 0x64617461);
	fr_ipv4_end(f, ip);
}

/* A pure ACK from A to B over IPv4 with the timestamps option, as Linux
 * and macOS send them (a 32-byte TCP header). */
static inline void fr_tcp4_ts(struct frame *f, unsigned vid)
{
	size_t ip, th;

	fr_eth(f, FR_MAC_B, vid, FR_ETH_IPV4);
	ip = fr_ipv4(f, 6, FR_IP_A, FR_IP_B, 0);
	th = f->n;
	fr_tcp(f, 40000, 445, FR_TH_ACK);
	f->b[th + 12] = 8 << 4;
	fr_put32(f, 0x0101080a);
	fr_put32(f, 0x00000001);
	fr_put32(f, 0x00000002);
	fr_ipv4_end(f, ip);
}

/* A non-first fragment of a TCP datagram: no TCP header in it. */
static inline void fr_tcp4_fragment(struct frame *f)
{
	size_t ip;

	fr_eth(f, FR_MAC_B, 0, FR_ETH_IPV4);
	ip = fr_ipv4(f, 6, FR_IP_A, FR_IP_B, 3);
	fr_put32(f, 0x02020202); /* bytes that would read as SYN at tcp[13] */
	fr_put32(f, 0x02020202);
	fr_put32(f, 0x02020202);
	fr_put32(f, 0x02020202);
	fr_ipv4_end(f, ip);
}

static inline void fr_tcp6(struct frame *f, unsigned flags, unsigned vid)
{
	size_t ip;

	fr_eth(f, FR_MAC_B, vid, FR_ETH_IPV6);
	ip = fr_ipv6(f, 6, FR_IP6_A, FR_IP6_B);
	fr_tcp(f, 40000, 445, flags);
	fr_ipv6_end(f, ip);
}

static inline void fr_udp4(struct frame *f, unsigned vid)
{
	size_t ip;

	fr_eth(f, FR_MAC_B, vid, FR_ETH_IPV4);
	ip = fr_ipv4(f, 17, FR_IP_A, FR_IP_B, 0);
	fr_udp(f, 40000, 1434);
	fr_ipv4_end(f, ip);
}

static inline void fr_udp6(struct frame *f)
{
	size_t ip;

	fr_eth(f, FR_MAC_B, 0, FR_ETH_IPV6);
	ip = fr_ipv6(f, 17, FR_IP6_A, FR_IP6_B);
	fr_udp(f, 40000, 1434);
	fr_ipv6_end(f, ip);
}

/* ARP who-has B, from A, broadcast. */
static inline void fr_arp_request(struct frame *f, unsigned vid)
{
	static const uint8_t zero_mac[6];

	fr_eth(f, FR_MAC_BCAST, vid, FR_ETH_ARP);
	fr_put16(f, 1);		  /* Ethernet */
	fr_put16(f, FR_ETH_IPV4); /* IPv4 */
	fr_put8(f, 6);
	fr_put8(f, 4);
	fr_put16(f, 1); /* request */
	fr_putn(f, FR_MAC_A, 6);
	fr_putn(f, FR_IP_A, 4);
	fr_putn(f, zero_mac, 6);
	fr_putn(f, FR_IP_B, 4);
}

/* ICMP echo request (type 8) or reply (type 0) from A to B. */
static inline void fr_icmp4_echo(struct frame *f, unsigned type)
{
	size_t ip;

	fr_eth(f, FR_MAC_B, 0, FR_ETH_IPV4);
	ip = fr_ipv4(f, 1, FR_IP_A, FR_IP_B, 0);
	fr_put8(f, type);
	fr_put8(f, 0);
	fr_put16(f, 0);
	fr_put16(f, 0x6666); /* id */
	fr_put16(f, 1);	     /* sequence */
	fr_ipv4_end(f, ip);
}

/* Port unreachable from R to A, quoting A's UDP datagram to B. */
static inline void fr_icmp4_port_unreach(struct frame *f)
{
	size_t ip, q;

	fr_eth(f, FR_MAC_B, 0, FR_ETH_IPV4);
	ip = fr_ipv4(f, 1, FR_IP_R, FR_IP_A, 0);
	fr_put8(f, 3);
	fr_put8(f, 3);
	fr_put16(f, 0);
	fr_put32(f, 0);
	q = fr_ipv4(f, 17, FR_IP_A, FR_IP_B, 0);
	fr_udp(f, 40000, 1434);
	fr_ipv4_end(f, q);
	fr_ipv4_end(f, ip);
}

static inline void fr_icmp6_echo(struct frame *f)
{
	size_t ip;

	fr_eth(f, FR_MAC_B, 0, FR_ETH_IPV6);
	ip = fr_ipv6(f, 58, FR_IP6_A, FR_IP6_B);
	fr_put8(f, 128);
	fr_put8(f, 0);
	fr_put16(f, 0);
	fr_put16(f, 0x6666);
	fr_put16(f, 1);
	fr_ipv6_end(f, ip);
}

/* Something no detector reads: LLDP. */
static inline void fr_lldp(struct frame *f)
{
	fr_eth(f, FR_MAC_B, 0, 0x88cc);
	fr_put32(f, 0);
}

#endif
