/* Unit tests for decode: frames are assembled byte by byte here, so every
 * test states exactly what is on the wire. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "types.h"

/* A frame under construction.  1600 bytes holds any Ethernet frame we
 * build, tags and quotes included. */
struct frame {
	uint8_t b[1600];
	size_t n;
};

static const uint8_t MAC_HOST[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t MAC_BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t MAC_MCAST4[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
static const uint8_t MAC_MCAST6[6] = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};
static const uint8_t MAC_PEER[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static const uint8_t MAC_CLIENT[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0c}; /* a DHCP chaddr */
static const uint8_t MAC_ZERO[6];

static const uint8_t IP_A[4] = {192, 168, 1, 10};
static const uint8_t IP_B[4] = {192, 168, 1, 25};
static const uint8_t IP_R[4] = {10, 0, 0, 1}; /* a router sending ICMP errors */
static const uint8_t IP6_A[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
static const uint8_t IP6_B[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b};
static const uint8_t IP6_R[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x01};

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

/* What every Ethernet frame with a unicast source carries. */
#define ETH_MACS (PKT_F_SMAC | PKT_F_DMAC)

static void put8(struct frame *f, unsigned v)
{
	assert_true(f->n < sizeof(f->b));
	f->b[f->n++] = (uint8_t)v;
}

static void put16(struct frame *f, unsigned v)
{
	put8(f, v >> 8);
	put8(f, v & 0xff);
}

static void put32(struct frame *f, uint32_t v)
{
	put16(f, v >> 16);
	put16(f, v & 0xffff);
}

static void putn(struct frame *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put8(f, p[i]);
}

static void zeros(struct frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put8(f, 0);
}

static void set16(struct frame *f, size_t at, unsigned v)
{
	f->b[at] = (uint8_t)(v >> 8);
	f->b[at + 1] = (uint8_t)v;
}

static void put_eth(struct frame *f, const uint8_t dst[6], unsigned type)
{
	putn(f, dst, 6);
	putn(f, MAC_HOST, 6);
	put16(f, type);
}

/* Starts an IPv4 header with optlen bytes of options (NOPs, so optlen is a
 * multiple of 4) and the given flags/fragment-offset word; ipv4_end() fills
 * in the total length.  Returns the header's offset. */
static size_t put_ipv4(struct frame *f, unsigned proto, const uint8_t src[4], const uint8_t dst[4],
		       size_t optlen, unsigned frag)
{
	size_t at = f->n;

	assert_int_equal(optlen % 4, 0);
	put8(f, 0x40 | (unsigned)(5 + optlen / 4));
	put8(f, 0);
	put16(f, 0); /* total length, set by ipv4_end() */
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0); /* checksum: never verified */
	putn(f, src, 4);
	putn(f, dst, 4);
	for (size_t i = 0; i < optlen; i++)
		put8(f, 1);
	return at;
}

static void ipv4_end(struct frame *f, size_t at)
{
	set16(f, at + 2, (unsigned)(f->n - at));
}

static size_t put_ipv6(struct frame *f, unsigned nh, const uint8_t src[16], const uint8_t dst[16])
{
	size_t at = f->n;

	put32(f, 0x60000000);
	put16(f, 0); /* payload length, set by ipv6_end() */
	put8(f, nh);
	put8(f, 57);
	putn(f, src, 16);
	putn(f, dst, 16);
	return at;
}

static void ipv6_end(struct frame *f, size_t at)
{
	set16(f, at + 4, (unsigned)(f->n - at - 40));
}

/* An options-style IPv6 extension header of 8 * (len8 + 1) bytes. */
static void put_ext6(struct frame *f, unsigned nh, unsigned len8)
{
	put8(f, nh);
	put8(f, len8);
	zeros(f, 6 + 8 * (size_t)len8);
}

static void put_frag6(struct frame *f, unsigned nh, unsigned offset8, bool more)
{
	put8(f, nh);
	put8(f, 0);
	put16(f, offset8 << 3 | (more ? 1 : 0));
	put32(f, 0xabcdef01);
}

static void put_tcp(struct frame *f, unsigned sport, unsigned dport, unsigned flags)
{
	put16(f, sport);
	put16(f, dport);
	put32(f, 0x01020304);
	put32(f, flags & TH_ACK ? 0x0a0b0c0d : 0);
	put8(f, 5 << 4);
	put8(f, flags);
	put16(f, 1024);
	put16(f, 0);
	put16(f, 0);
}

static void put_udp(struct frame *f, unsigned sport, unsigned dport, size_t paylen)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, (unsigned)(8 + paylen));
	put16(f, 0);
	zeros(f, paylen);
}

static void put_icmp_echo(struct frame *f, unsigned type, unsigned id)
{
	put8(f, type);
	put8(f, 0);
	put16(f, 0);
	put16(f, id);
	put16(f, 7);
}

/* The 8-byte header of an ICMP/ICMPv6 error; the quoted packet follows. */
static void put_icmp_err(struct frame *f, unsigned type, unsigned code)
{
	put8(f, type);
	put8(f, code);
	put16(f, 0);
	put32(f, 0);
}

/* Ethernet / IPv4 / TCP from A to B. */
static void build_tcp4(struct frame *f, unsigned flags)
{
	size_t ip;

	f->n = 0;
	put_eth(f, MAC_HOST, 0x0800);
	ip = put_ipv4(f, IPPROTO_TCP, IP_A, IP_B, 0, 0);
	put_tcp(f, 40000, 445, flags);
	ipv4_end(f, ip);
}

/* Decodes a copy of the frame in a buffer of exactly caplen bytes, so that
 * AddressSanitizer catches any read past the end. */
static int decode_exact(int dlt, const uint8_t *data, size_t caplen, size_t wirelen, struct pkt *p,
			struct decode_stats *st)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	int r;

	assert_non_null(copy);
	if (caplen)
		memcpy(copy, data, caplen);
	r = decode_packet(dlt, copy, caplen, wirelen, p, st);
	free(copy);
	return r;
}

static int dec(int dlt, const struct frame *f, struct pkt *p)
{
	return decode_exact(dlt, f->b, f->n, f->n, p, NULL);
}

static void assert_addr4(const struct qaddr *a, const uint8_t b[4])
{
	struct qaddr want;

	addr_set_v4(&want, b);
	assert_true(addr_eq(a, &want));
}

static void assert_addr6(const struct qaddr *a, const uint8_t b[16])
{
	struct qaddr want;

	addr_set_v6(&want, b);
	assert_true(addr_eq(a, &want));
}

static void test_ether_tcp_syn(void **state)
{
	struct frame f;
	struct pkt p;
	struct decode_stats st = {0};

	(void)state;
	build_tcp4(&f, TH_SYN);
	/* Garbage in *p first: decode_packet() must clear what it does not set. */
	memset(&p, 0xa5, sizeof(p));
	assert_int_equal(decode_exact(LINK_EN10MB, f.b, f.n, 1514, &p, &st), 0);
	assert_int_equal(p.l3, PKT_L3_IPV4);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.flags, PKT_F_L4 | ETH_MACS);
	assert_int_equal(p.tcp_flags, TH_SYN);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 445);
	assert_int_equal(p.ttl, 64);
	assert_int_equal(p.ip_id, 0x1234);
	assert_int_equal(p.vlan, 0);
	assert_int_equal(p.wirelen, 1514);
	assert_int_equal(p.icmp_type, 0);
	assert_int_equal(p.icmp_id, 0);
	assert_int_equal(p.arp_op, 0);
	assert_int_equal(p.quote.valid, 0);
	assert_int_equal(p.quote.sport, 0);
	assert_addr4(&p.src, IP_A);
	assert_addr4(&p.dst, IP_B);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.decoded, 1);
}

static void test_tcp_flags(void **state)
{
	static const unsigned flags[] = {
		TH_SYN,
		TH_SYN | TH_ACK,
		TH_RST,
		TH_RST | TH_ACK,
		TH_FIN | TH_PSH | TH_URG, /* nmap -sX */
		0,			  /* nmap -sN */
		0xff,			  /* every flag, ECE and CWR included */
	};
	struct frame f;
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		build_tcp4(&f, flags[i]);
		assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
		assert_int_equal(p.tcp_flags, flags[i]);
		assert_true(p.flags & PKT_F_L4);
	}
}

/* Sequence and acknowledgment numbers, the header length with options,
 * and the payload's length from the IP length field: also when the snap
 * length cut the payload off, unknown when the field is 0 (TSO). */
static void test_tcp_seq_payload(void **state)
{
	struct frame f = {0};
	struct pkt p;
	size_t ip;

	(void)state;
	build_tcp4(&f, TH_ACK);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.tcp_seq, 0x01020304);
	assert_int_equal(p.tcp_ack, 0x0a0b0c0d);
	assert_int_equal(p.tcp_hlen, 20);
	assert_int_equal(p.tcp_paylen, 0);

	/* 12 bytes of options (NOP NOP timestamp), then 100 bytes of data of
	 * which only 10 are captured. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_TCP, IP_A, IP_B, 0, 0);
	put16(&f, 40000);
	put16(&f, 22);
	put32(&f, 0xfffffff0);
	put32(&f, 7);
	put8(&f, 8 << 4);
	put8(&f, TH_ACK | TH_PSH);
	put16(&f, 1024);
	put32(&f, 0);
	put32(&f, 0x0101080a);
	put32(&f, 1);
	put32(&f, 2);
	zeros(&f, 100);
	ipv4_end(&f, ip);
	assert_int_equal(decode_exact(LINK_EN10MB, f.b, f.n - 90, f.n, &p, NULL), 0);
	assert_int_equal(p.tcp_hlen, 32);
	assert_int_equal(p.tcp_seq, 0xfffffff0);
	assert_int_equal(p.tcp_paylen, 100);

	/* Total length 0 (an outgoing TSO super-packet): unknown. */
	set16(&f, ip + 2, 0);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.tcp_paylen, PKT_PAYLEN_UNKNOWN);

	/* A data offset that runs past the packet's own length is malformed. */
	build_tcp4(&f, TH_ACK);
	f.b[14 + 20 + 12] = 15 << 4;
	zeros(&f, 40);
	{
		struct decode_stats st = {0};

		assert_int_equal(decode_exact(LINK_EN10MB, f.b, f.n, f.n, &p, &st), -EBADMSG);
		assert_int_equal(st.err[DECODE_E_MALFORMED], 1);
	}
}

static void test_udp(void **state)
{
	struct frame f = {0};
	struct pkt p;
	size_t ip;

	(void)state;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_UDP, IP_A, IP_B, 0, 0);
	put_udp(&f, 51436, 636, 0);
	ipv4_end(&f, ip);
	/* Ethernet pads to 60 bytes; the IP total length ends the packet. */
	zeros(&f, 60 - f.n);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.flags, PKT_F_L4 | ETH_MACS);
	assert_int_equal(p.sport, 51436);
	assert_int_equal(p.dport, 636);
	assert_int_equal(p.tcp_flags, 0);
}

static void test_icmp_echo(void **state)
{
	struct frame f = {0};
	struct pkt p;
	size_t ip;

	(void)state;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_A, IP_B, 0, 0);
	put_icmp_echo(&f, 8, 0x9af0);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.proto, IPPROTO_ICMP);
	assert_int_equal(p.flags, PKT_F_L4 | ETH_MACS);
	assert_int_equal(p.icmp_type, 8);
	assert_int_equal(p.icmp_code, 0);
	assert_int_equal(p.icmp_id, 0x9af0);
	assert_int_equal(p.quote.valid, 0);

	/* Echo reply. */
	f.b[ip + 20] = 0;
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.icmp_type, 0);
	assert_int_equal(p.icmp_id, 0x9af0);

	/* ICMPv6 echo request. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_ICMPV6, IP6_A, IP6_B);
	put_icmp_echo(&f, 128, 0x0bad);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.l3, PKT_L3_IPV6);
	assert_int_equal(p.proto, IPPROTO_ICMPV6);
	assert_int_equal(p.icmp_type, 128);
	assert_int_equal(p.icmp_id, 0x0bad);
	assert_int_equal(p.ttl, 57);
	assert_int_equal(p.ip_id, 0);
	assert_addr6(&p.src, IP6_A);
	assert_addr6(&p.dst, IP6_B);
}

/* Ethernet with the given tags (TPID, TCI pairs), then IPv4/TCP. */
static void build_tagged(struct frame *f, const unsigned *tags, size_t ntags)
{
	size_t ip;

	f->n = 0;
	putn(f, MAC_HOST, 6);
	putn(f, MAC_HOST, 6);
	for (size_t i = 0; i < ntags; i++) {
		put16(f, tags[2 * i]);
		put16(f, tags[2 * i + 1]);
	}
	put16(f, 0x0800);
	ip = put_ipv4(f, IPPROTO_TCP, IP_A, IP_B, 0, 0);
	put_tcp(f, 1, 2, TH_SYN);
	ipv4_end(f, ip);
}

static void test_vlan(void **state)
{
	/* PCP 5 and DEI in the TCI must not leak into the id. */
	static const unsigned dot1q[] = {0x8100, 0xb000 | 100};
	static const unsigned qinq[] = {0x88a8, 200, 0x8100, 100};
	static const unsigned old_qinq[] = {0x9100, 300, 0x8100, 100};
	static const unsigned four[] = {0x88a8, 4001, 0x8100, 2, 0x8100, 3, 0x8100, 4};
	static const unsigned five[] = {0x88a8, 1, 0x8100, 2, 0x8100, 3, 0x8100, 4, 0x8100, 5};
	struct frame f;
	struct pkt p;
	struct decode_stats st = {0};

	(void)state;
	build_tagged(&f, dot1q, 1);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.vlan, 100);
	assert_int_equal(p.sport, 1);
	assert_int_equal(p.dport, 2);

	build_tagged(&f, qinq, 2);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.vlan, 200);
	assert_int_equal(p.dport, 2);

	build_tagged(&f, old_qinq, 2);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.vlan, 300);

	build_tagged(&f, four, 4);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.vlan, 4001);
	assert_int_equal(p.dport, 2);

	/* Past the bound a tag is just an ethertype we do not track. */
	build_tagged(&f, five, 5);
	assert_int_equal(decode_packet(LINK_EN10MB, f.b, f.n, f.n, &p, &st), -ENOTSUP);
	assert_int_equal(st.err[DECODE_E_UNSUPPORTED], 1);

	/* A tag cut short. */
	build_tagged(&f, qinq, 2);
	assert_int_equal(decode_packet(LINK_EN10MB, f.b, 20, f.n, &p, &st), -EBADMSG);
	assert_int_equal(st.err[DECODE_E_TRUNCATED], 1);
}

static void test_l2_bcast(void **state)
{
	const uint8_t *group[] = {MAC_BCAST, MAC_MCAST4, MAC_MCAST6};
	struct frame f;
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(group); i++) {
		build_tcp4(&f, TH_SYN);
		memcpy(f.b, group[i], 6);
		assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
		assert_int_equal(p.flags, PKT_F_L4 | PKT_F_L2_BCAST | ETH_MACS);
	}
	/* The group bit of the source address does not make the frame a
	 * broadcast; it only makes the source no machine's (test_eth_macs). */
	build_tcp4(&f, TH_SYN);
	f.b[6] = 0x01;
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_DMAC);
}

static void test_ipv4_options(void **state)
{
	static const size_t optlens[] = {4, 12, 40};
	struct frame f;
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(optlens); i++) {
		size_t ip;

		f.n = 0;
		put_eth(&f, MAC_HOST, 0x0800);
		ip = put_ipv4(&f, IPPROTO_TCP, IP_A, IP_B, optlens[i], 0);
		put_tcp(&f, 1025, 139, TH_SYN);
		ipv4_end(&f, ip);
		assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
		assert_int_equal(p.sport, 1025);
		assert_int_equal(p.dport, 139);
		assert_int_equal(p.tcp_flags, TH_SYN);
		assert_addr4(&p.dst, IP_B);
	}
}

static void test_ipv4_fragments(void **state)
{
	struct frame f = {0};
	struct pkt p;
	size_t ip;

	(void)state;
	/* First fragment: MF set, offset 0; carries the UDP header. */
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_UDP, IP_A, IP_B, 0, 0x2000);
	put_udp(&f, 38388, 443, 64);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags, PKT_F_L4 | ETH_MACS);
	assert_int_equal(p.sport, 38388);
	assert_int_equal(p.dport, 443);

	/* Middle fragment: MF and offset 9 (72 bytes). */
	set16(&f, ip + 6, 0x2000 | 9);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | ETH_MACS);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 0);
	assert_addr4(&p.src, IP_A);

	/* Last fragment: no MF, offset 185. */
	set16(&f, ip + 6, 185);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | ETH_MACS);
	assert_int_equal(p.proto, IPPROTO_UDP);

	/* DF alone is not fragmentation. */
	set16(&f, ip + 6, 0x4000);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags, PKT_F_L4 | ETH_MACS);
}

/* A first fragment too small to hold the TCP header (RFC 1858 tiny
 * fragment): decoded as a fragment without L4, not as an error. */
static void test_ipv4_tiny_fragment(void **state)
{
	struct frame f = {0};
	struct pkt p;
	size_t ip;

	(void)state;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_TCP, IP_A, IP_B, 0, 0x2000);
	put_tcp(&f, 1, 2, TH_SYN);
	set16(&f, ip + 2, 28); /* 8 bytes of TCP */
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | ETH_MACS);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.sport, 0);

	/* The same lengths without MF are simply inconsistent. */
	set16(&f, ip + 6, 0);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), -EBADMSG);
}

static void test_ipv6_ext_headers(void **state)
{
	struct frame f = {0};
	struct pkt p;
	size_t ip;

	(void)state;
	/* hop-by-hop (8) -> destination options (16) -> fragment (offset 0,
	 * M) -> TCP. */
	put_eth(&f, MAC_HOST, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_HOPOPTS, IP6_A, IP6_B);
	put_ext6(&f, IPPROTO_DSTOPTS, 0);
	put_ext6(&f, IPPROTO_FRAGMENT, 1);
	put_frag6(&f, IPPROTO_TCP, 0, true);
	put_tcp(&f, 40028, 443, TH_SYN);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.l3, PKT_L3_IPV6);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.flags, PKT_F_L4 | ETH_MACS);
	assert_int_equal(p.sport, 40028);
	assert_int_equal(p.dport, 443);
	assert_int_equal(p.tcp_flags, TH_SYN);
	assert_int_equal(p.ttl, 57);

	/* A later fragment: no L4. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_HOPOPTS, IP6_A, IP6_B);
	put_ext6(&f, IPPROTO_DSTOPTS, 0);
	put_ext6(&f, IPPROTO_FRAGMENT, 1);
	put_frag6(&f, IPPROTO_TCP, 100, false);
	zeros(&f, 32);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | ETH_MACS);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.sport, 0);

	/* Routing header, then AH (length 4: (4 + 2) * 4 = 24 bytes), then UDP. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_ROUTING, IP6_A, IP6_B);
	put_ext6(&f, IPPROTO_AH, 2);
	put8(&f, IPPROTO_UDP);
	put8(&f, 4);
	zeros(&f, 22);
	put_udp(&f, 5353, 53, 4);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.sport, 5353);
	assert_int_equal(p.dport, 53);

	/* Mobility header with no next header. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_MH, IP6_A, IP6_B);
	put_ext6(&f, IPPROTO_NONE, 1);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.proto, IPPROTO_NONE);
	assert_int_equal(p.flags, ETH_MACS);
}

static void test_ipv6_no_l4(void **state)
{
	static const unsigned nhs[] = {IPPROTO_ESP, IPPROTO_NONE, 253};
	struct frame f;
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(nhs); i++) {
		size_t ip;

		f.n = 0;
		put_eth(&f, MAC_HOST, 0x86dd);
		ip = put_ipv6(&f, IPPROTO_DSTOPTS, IP6_A, IP6_B);
		put_ext6(&f, nhs[i], 0);
		zeros(&f, 16);
		ipv6_end(&f, ip);
		assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
		assert_int_equal(p.proto, nhs[i]);
		assert_int_equal(p.flags, ETH_MACS);
		assert_int_equal(p.sport, 0);
	}
}

static void test_ipv6_chain_bound(void **state)
{
	struct frame f = {0};
	struct pkt p;
	struct decode_stats st = {0};
	size_t ip;

	(void)state;
	/* 8 destination-options headers still decode... */
	put_eth(&f, MAC_HOST, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_DSTOPTS, IP6_A, IP6_B);
	for (int i = 0; i < 7; i++)
		put_ext6(&f, IPPROTO_DSTOPTS, 0);
	put_ext6(&f, IPPROTO_UDP, 0);
	put_udp(&f, 1, 2, 0);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.dport, 2);

	/* ...a ninth does not. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_DSTOPTS, IP6_A, IP6_B);
	for (int i = 0; i < 8; i++)
		put_ext6(&f, IPPROTO_DSTOPTS, 0);
	put_ext6(&f, IPPROTO_UDP, 0);
	put_udp(&f, 1, 2, 0);
	ipv6_end(&f, ip);
	assert_int_equal(decode_packet(LINK_EN10MB, f.b, f.n, f.n, &p, &st), -EBADMSG);
	assert_int_equal(st.err[DECODE_E_MALFORMED], 1);
}

static void test_icmp_unreach_udp(void **state)
{
	struct frame f = {0};
	struct pkt p;
	size_t ip, qip;

	(void)state;
	/* B answers A's UDP probe to port 28369 with port unreachable. */
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_B, IP_A, 0, 0);
	put_icmp_err(&f, 3, 3);
	qip = put_ipv4(&f, IPPROTO_UDP, IP_A, IP_B, 0, 0);
	put_udp(&f, 62025, 28369, 0);
	ipv4_end(&f, qip);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.proto, IPPROTO_ICMP);
	assert_int_equal(p.flags, PKT_F_L4 | ETH_MACS);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 3);
	assert_int_equal(p.icmp_id, 0);
	assert_addr4(&p.src, IP_B);
	assert_int_equal(p.quote.valid, 1);
	assert_int_equal(p.quote.has_ports, 1);
	assert_int_equal(p.quote.proto, IPPROTO_UDP);
	assert_addr4(&p.quote.src, IP_A);
	assert_addr4(&p.quote.dst, IP_B);
	assert_int_equal(p.quote.sport, 62025);
	assert_int_equal(p.quote.dport, 28369);
}

static void test_icmp_unreach_tcp_quote_options(void **state)
{
	struct frame f = {0};
	struct pkt p;
	size_t ip, qip;

	(void)state;
	/* Host unreachable from a router, quoting a TCP SYN whose IP header
	 * has 8 bytes of options, and only the 8 L4 bytes RFC 792 promises. */
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_R, IP_A, 0, 0);
	put_icmp_err(&f, 3, 1);
	qip = put_ipv4(&f, IPPROTO_TCP, IP_A, IP_B, 8, 0);
	set16(&f, qip + 2, 60);
	put16(&f, 40001);
	put16(&f, 23);
	put32(&f, 0x01020304);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 1);
	assert_int_equal(p.quote.valid, 1);
	assert_int_equal(p.quote.has_ports, 1);
	assert_int_equal(p.quote.proto, IPPROTO_TCP);
	assert_addr4(&p.quote.src, IP_A);
	assert_addr4(&p.quote.dst, IP_B);
	assert_int_equal(p.quote.sport, 40001);
	assert_int_equal(p.quote.dport, 23);
}

static void test_icmp6_unreach_tcp(void **state)
{
	struct frame f = {0};
	struct pkt p;
	size_t ip, qip;

	(void)state;
	put_eth(&f, MAC_HOST, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_ICMPV6, IP6_R, IP6_A);
	put_icmp_err(&f, 1, 4);
	/* The quoted SYN has a hop-by-hop header in front of TCP. */
	qip = put_ipv6(&f, IPPROTO_HOPOPTS, IP6_A, IP6_B);
	put_ext6(&f, IPPROTO_TCP, 0);
	put_tcp(&f, 40028, 443, TH_SYN);
	ipv6_end(&f, qip);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.proto, IPPROTO_ICMPV6);
	assert_int_equal(p.icmp_type, 1);
	assert_int_equal(p.icmp_code, 4);
	assert_addr6(&p.src, IP6_R);
	assert_int_equal(p.quote.valid, 1);
	assert_int_equal(p.quote.has_ports, 1);
	assert_int_equal(p.quote.proto, IPPROTO_TCP);
	assert_addr6(&p.quote.src, IP6_A);
	assert_addr6(&p.quote.dst, IP6_B);
	assert_int_equal(p.quote.sport, 40028);
	assert_int_equal(p.quote.dport, 443);

	/* Time exceeded quoting an ICMPv6 echo request. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_ICMPV6, IP6_R, IP6_A);
	put_icmp_err(&f, 3, 0);
	qip = put_ipv6(&f, IPPROTO_ICMPV6, IP6_A, IP6_B);
	put_icmp_echo(&f, 128, 0x7777);
	ipv6_end(&f, qip);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.quote.valid, 1);
	assert_int_equal(p.quote.has_ports, 1);
	assert_int_equal(p.quote.proto, IPPROTO_ICMPV6);
	assert_int_equal(p.quote.icmp_type, 128);
	assert_int_equal(p.quote.sport, 0x7777);
	assert_int_equal(p.quote.dport, 0x7777);
}

static void test_icmp_time_exceeded(void **state)
{
	struct frame f = {0};
	struct pkt p;
	size_t ip, qip;

	(void)state;
	/* A router answers a ping with TTL 1: the quote identifies the echo. */
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_R, IP_A, 0, 0);
	put_icmp_err(&f, 11, 0);
	qip = put_ipv4(&f, IPPROTO_ICMP, IP_A, IP_B, 0, 0);
	put_icmp_echo(&f, 8, 0x4242);
	ipv4_end(&f, qip);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.icmp_type, 11);
	assert_int_equal(p.icmp_code, 0);
	assert_int_equal(p.quote.valid, 1);
	assert_int_equal(p.quote.has_ports, 1);
	assert_int_equal(p.quote.proto, IPPROTO_ICMP);
	assert_int_equal(p.quote.icmp_type, 8);
	assert_int_equal(p.quote.sport, 0x4242);
	assert_int_equal(p.quote.dport, 0x4242);
	assert_addr4(&p.quote.dst, IP_B);

	/* And a traceroute UDP probe. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_R, IP_A, 0, 0);
	put_icmp_err(&f, 11, 0);
	qip = put_ipv4(&f, IPPROTO_UDP, IP_A, IP_B, 0, 0);
	put_udp(&f, 44444, 33434, 0);
	ipv4_end(&f, qip);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.quote.proto, IPPROTO_UDP);
	assert_int_equal(p.quote.dport, 33434);
}

static void test_icmp_quote_partial(void **state)
{
	struct frame f = {0};
	struct pkt p;
	size_t ip, qip;

	(void)state;
	/* The quote stops after the IP header: valid, no ports. */
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_B, IP_A, 0, 0);
	put_icmp_err(&f, 3, 3);
	qip = put_ipv4(&f, IPPROTO_UDP, IP_A, IP_B, 0, 0);
	set16(&f, qip + 2, 28);
	put16(&f, 1234); /* only half the ports */
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.quote.valid, 1);
	assert_int_equal(p.quote.has_ports, 0);
	assert_int_equal(p.quote.proto, IPPROTO_UDP);
	assert_int_equal(p.quote.sport, 0);
	assert_addr4(&p.quote.dst, IP_B);

	/* The quoted IP header itself is cut: the error decodes, the quote
	 * does not. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_B, IP_A, 0, 0);
	put_icmp_err(&f, 3, 3);
	put_ipv4(&f, IPPROTO_UDP, IP_A, IP_B, 0, 0);
	f.n -= 4;
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.quote.valid, 0);
	assert_int_equal(p.quote.src.family, 0);

	/* A quote that is not IPv4 at all. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_B, IP_A, 0, 0);
	put_icmp_err(&f, 3, 3);
	zeros(&f, 28);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.quote.valid, 0);

	/* No quote at all: only the 4-byte ICMP header. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_B, IP_A, 0, 0);
	put_icmp_err(&f, 3, 3);
	f.n -= 4;
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.quote.valid, 0);

	/* An error quoting an error: only the quoted header, no recursion. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_R, IP_A, 0, 0);
	put_icmp_err(&f, 11, 0);
	qip = put_ipv4(&f, IPPROTO_ICMP, IP_A, IP_B, 0, 0);
	put_icmp_err(&f, 3, 3);
	put_ipv4(&f, IPPROTO_UDP, IP_B, IP_A, 0, 0);
	put_udp(&f, 7, 9, 0);
	ipv4_end(&f, qip);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.quote.valid, 1);
	assert_int_equal(p.quote.proto, IPPROTO_ICMP);
	assert_int_equal(p.quote.icmp_type, 3);
	assert_int_equal(p.quote.has_ports, 0);
	assert_int_equal(p.quote.sport, 0);

	/* A quoted non-first fragment has no ports. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_B, IP_A, 0, 0);
	put_icmp_err(&f, 3, 3);
	qip = put_ipv4(&f, IPPROTO_UDP, IP_A, IP_B, 0, 100);
	put_udp(&f, 7, 9, 0);
	ipv4_end(&f, qip);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.quote.valid, 1);
	assert_int_equal(p.quote.has_ports, 0);
}

static void build_arp_hw(struct frame *f, unsigned op, const uint8_t sha[6], const uint8_t spa[4],
			 const uint8_t tha[6], const uint8_t tpa[4])
{
	f->n = 0;
	put_eth(f, op == 1 ? MAC_BCAST : MAC_HOST, 0x0806);
	put16(f, 1);
	put16(f, 0x0800);
	put8(f, 6);
	put8(f, 4);
	put16(f, op);
	putn(f, sha, 6);
	putn(f, spa, 4);
	putn(f, tha, 6);
	putn(f, tpa, 4);
	zeros(f, 18); /* Ethernet padding */
}

static void build_arp(struct frame *f, unsigned op, const uint8_t spa[4], const uint8_t tpa[4])
{
	static const uint8_t unknown[6];

	build_arp_hw(f, op, MAC_HOST, spa, unknown, tpa);
}

static void test_arp(void **state)
{
	struct frame f;
	struct pkt p;
	struct decode_stats st = {0};

	(void)state;
	build_arp(&f, 1, IP_A, IP_B);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.l3, PKT_L3_ARP);
	assert_int_equal(p.arp_op, 1);
	assert_int_equal(p.proto, 0);
	assert_int_equal(p.flags, PKT_F_L2_BCAST | ETH_MACS);
	assert_addr4(&p.src, IP_A);
	assert_addr4(&p.dst, IP_B);

	build_arp(&f, 2, IP_B, IP_A);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.l3, PKT_L3_ARP);
	assert_int_equal(p.arp_op, 2);
	assert_int_equal(p.flags, ETH_MACS);
	assert_addr4(&p.src, IP_B);
	assert_addr4(&p.dst, IP_A);

	/* IEEE 802 hardware type: not ours. */
	build_arp(&f, 1, IP_A, IP_B);
	set16(&f, 14, 6);
	assert_int_equal(decode_packet(LINK_EN10MB, f.b, f.n, f.n, &p, &st), -ENOTSUP);
	assert_int_equal(st.err[DECODE_E_UNSUPPORTED], 1);

	/* Cut inside the target address. */
	build_arp(&f, 1, IP_A, IP_B);
	assert_int_equal(decode_packet(LINK_EN10MB, f.b, 14 + 26, f.n, &p, &st), -EBADMSG);
	assert_int_equal(st.err[DECODE_E_TRUNCATED], 1);
}

/* IPv4/TCP (or IPv6/TCP) without a link header, for the other link types. */
static void build_ip_tcp(struct frame *f, bool v6)
{
	size_t ip;

	if (v6) {
		ip = put_ipv6(f, IPPROTO_TCP, IP6_A, IP6_B);
		put_tcp(f, 3000, 80, TH_SYN | TH_ACK);
		ipv6_end(f, ip);
	} else {
		ip = put_ipv4(f, IPPROTO_TCP, IP_A, IP_B, 0, 0);
		put_tcp(f, 3000, 80, TH_SYN | TH_ACK);
		ipv4_end(f, ip);
	}
}

static void assert_tcp_body(const struct pkt *p, bool v6)
{
	assert_int_equal(p->l3, v6 ? PKT_L3_IPV6 : PKT_L3_IPV4);
	assert_int_equal(p->proto, IPPROTO_TCP);
	assert_true(p->flags & PKT_F_L4);
	assert_int_equal(p->sport, 3000);
	assert_int_equal(p->dport, 80);
	assert_int_equal(p->tcp_flags, TH_SYN | TH_ACK);
	if (v6)
		assert_addr6(&p->dst, IP6_B);
	else
		assert_addr4(&p->dst, IP_B);
}

static void build_sll(struct frame *f, unsigned pkttype, unsigned proto, bool v6)
{
	f->n = 0;
	put16(f, pkttype);
	put16(f, 1); /* ARPHRD_ETHER */
	put16(f, 6);
	putn(f, MAC_HOST, 6);
	zeros(f, 2);
	put16(f, proto);
	build_ip_tcp(f, v6);
}

static void build_sll2(struct frame *f, unsigned pkttype, unsigned proto, bool v6)
{
	f->n = 0;
	put16(f, proto);
	put16(f, 0);
	put32(f, 3); /* ifindex */
	put16(f, 1);
	put8(f, pkttype);
	put8(f, 6);
	putn(f, MAC_HOST, 6);
	zeros(f, 2);
	build_ip_tcp(f, v6);
}

static void test_link_sll(void **state)
{
	static const struct {
		unsigned pkttype;
		uint8_t flags;
	} types[] = {
		{0, 0}, {1, PKT_F_L2_BCAST}, {2, PKT_F_L2_BCAST}, {3, 0}, {4, PKT_F_OUTGOING},
	};
	struct frame f;
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		build_sll(&f, types[i].pkttype, 0x0800, false);
		assert_int_equal(dec(LINK_LINUX_SLL, &f, &p), 0);
		assert_tcp_body(&p, false);
		assert_int_equal(p.flags, PKT_F_L4 | types[i].flags | PKT_F_SMAC);

		build_sll2(&f, types[i].pkttype, 0x86dd, true);
		assert_int_equal(dec(LINK_LINUX_SLL2, &f, &p), 0);
		assert_tcp_body(&p, true);
		assert_int_equal(p.flags, PKT_F_L4 | types[i].flags | PKT_F_SMAC);
	}

	/* A VLAN tag libpcap put back after the cooked header. */
	f.n = 0;
	put16(&f, 0);
	put16(&f, 1);
	put16(&f, 6);
	zeros(&f, 8);
	put16(&f, 0x8100);
	put16(&f, 42);
	put16(&f, 0x0800);
	build_ip_tcp(&f, false);
	assert_int_equal(dec(LINK_LINUX_SLL, &f, &p), 0);
	assert_int_equal(p.vlan, 42);
	assert_tcp_body(&p, false);

	/* ETH_P_802_2 (LLC): a protocol we do not track. */
	build_sll(&f, 0, 0x0004, false);
	assert_int_equal(dec(LINK_LINUX_SLL, &f, &p), -ENOTSUP);
	/* The ARP ethertype in front of an IPv4 packet reads as ARP with
	 * hardware type 0x4500: not Ethernet/IPv4 ARP. */
	build_sll2(&f, 0, 0x0806, false);
	assert_int_equal(dec(LINK_LINUX_SLL2, &f, &p), -ENOTSUP);
}

static void test_link_raw(void **state)
{
	static const int raw_any[] = {LINK_RAW, LINK_RAW_ALT, LINK_RAW_101};
	struct frame f;
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(raw_any); i++) {
		for (int v6 = 0; v6 <= 1; v6++) {
			f.n = 0;
			build_ip_tcp(&f, v6);
			assert_int_equal(dec(raw_any[i], &f, &p), 0);
			assert_tcp_body(&p, v6);
			assert_int_equal(p.flags, PKT_F_L4);
		}
		/* Neither 4 nor 6. */
		f.n = 0;
		build_ip_tcp(&f, false);
		f.b[0] = 0x55;
		assert_int_equal(dec(raw_any[i], &f, &p), -EBADMSG);
		assert_int_equal(decode_exact(raw_any[i], f.b, 0, 0, &p, NULL), -EBADMSG);
	}

	f.n = 0;
	build_ip_tcp(&f, false);
	assert_int_equal(dec(LINK_IPV4, &f, &p), 0);
	assert_tcp_body(&p, false);
	assert_int_equal(dec(LINK_IPV6, &f, &p), -EBADMSG);

	f.n = 0;
	build_ip_tcp(&f, true);
	assert_int_equal(dec(LINK_IPV6, &f, &p), 0);
	assert_tcp_body(&p, true);
	assert_int_equal(dec(LINK_IPV4, &f, &p), -EBADMSG);
}

static void build_loop(struct frame *f, const uint8_t af[4], bool v6)
{
	f->n = 0;
	putn(f, af, 4);
	build_ip_tcp(f, v6);
}

static void test_link_loopback(void **state)
{
	static const struct {
		uint8_t af[4];
		bool v6;
	} null_ok[] = {
		{{2, 0, 0, 0}, false},			      /* little-endian writer */
		{{0, 0, 0, 2}, false},			      /* big-endian writer */
		{{24, 0, 0, 0}, true},			      /* OpenBSD/NetBSD */
		{{0, 0, 0, 24}, true}, {{28, 0, 0, 0}, true}, /* FreeBSD */
		{{0, 0, 0, 30}, true},			      /* Darwin */
	};
	struct frame f;
	struct pkt p;
	struct decode_stats st = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(null_ok); i++) {
		build_loop(&f, null_ok[i].af, null_ok[i].v6);
		assert_int_equal(dec(LINK_NULL, &f, &p), 0);
		assert_tcp_body(&p, null_ok[i].v6);
	}
	/* AF_INET6 on Linux (10) never appears in DLT_NULL; nor does
	 * AF_APPLETALK (16). */
	build_loop(&f, (const uint8_t[4]){10, 0, 0, 0}, true);
	assert_int_equal(decode_packet(LINK_NULL, f.b, f.n, f.n, &p, &st), -ENOTSUP);
	assert_int_equal(st.err[DECODE_E_UNSUPPORTED], 1);
	/* The AF says IPv4, the packet is IPv6. */
	build_loop(&f, (const uint8_t[4]){2, 0, 0, 0}, true);
	assert_int_equal(dec(LINK_NULL, &f, &p), -EBADMSG);

	/* DLT_LOOP is network byte order only. */
	build_loop(&f, (const uint8_t[4]){0, 0, 0, 2}, false);
	assert_int_equal(dec(LINK_LOOP, &f, &p), 0);
	assert_tcp_body(&p, false);
	build_loop(&f, (const uint8_t[4]){0, 0, 0, 24}, true);
	assert_int_equal(dec(LINK_LOOP, &f, &p), 0);
	assert_tcp_body(&p, true);
	build_loop(&f, (const uint8_t[4]){2, 0, 0, 0}, false);
	assert_int_equal(dec(LINK_LOOP, &f, &p), -ENOTSUP);
	/* Cut inside the AF. */
	assert_int_equal(decode_exact(LINK_LOOP, f.b, 3, 3, &p, NULL), -EBADMSG);
}

static void test_link_unknown(void **state)
{
	static const int ok[] = {0, 1, 12, 14, 101, 108, 113, 228, 229, 276};
	static const int bad[] = {-1, 2, 9, 105, 127, 192, 9999};
	struct frame f;
	struct pkt p;
	struct decode_stats st = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		assert_true(decode_link_supported(ok[i]));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_false(decode_link_supported(bad[i]));
		build_tcp4(&f, TH_SYN);
		assert_int_equal(decode_packet(bad[i], f.b, f.n, f.n, &p, &st), -EPROTONOSUPPORT);
	}
	assert_int_equal(st.packets, ARRAY_SIZE(bad));
	assert_int_equal(st.decoded, 0);
	assert_int_equal(st.err[DECODE_E_LINKTYPE], ARRAY_SIZE(bad));
}

static void test_unsupported_ethertype(void **state)
{
	static const unsigned types[] = {0x88cc, 0x8035, 0x8847, 0x8864, 0x0026, 0x0000};
	struct frame f;
	struct pkt p;
	struct decode_stats st = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		f.n = 0;
		put_eth(&f, MAC_BCAST, types[i]);
		zeros(&f, 46);
		assert_int_equal(decode_packet(LINK_EN10MB, f.b, f.n, f.n, &p, &st), -ENOTSUP);
	}
	assert_int_equal(st.packets, ARRAY_SIZE(types));
	assert_int_equal(st.err[DECODE_E_UNSUPPORTED], ARRAY_SIZE(types));
	assert_int_equal(st.err[DECODE_E_MALFORMED], 0);
}

/* Decodes f expecting -EBADMSG counted as malformed. */
static void assert_malformed(int dlt, const struct frame *f)
{
	struct decode_stats st = {0};
	struct pkt p;

	assert_int_equal(decode_exact(dlt, f->b, f->n, f->n, &p, &st), -EBADMSG);
	assert_int_equal(st.err[DECODE_E_MALFORMED], 1);
	assert_int_equal(st.err[DECODE_E_TRUNCATED], 0);
}

static void test_malformed(void **state)
{
	struct frame f;
	struct pkt p;
	size_t ip;

	(void)state;
	/* IPv4 ethertype, version 5. */
	build_tcp4(&f, TH_SYN);
	f.b[14] = 0x55;
	assert_malformed(LINK_EN10MB, &f);
	/* IHL 4. */
	build_tcp4(&f, TH_SYN);
	f.b[14] = 0x44;
	assert_malformed(LINK_EN10MB, &f);
	/* Total length shorter than the header. */
	build_tcp4(&f, TH_SYN);
	set16(&f, 14 + 2, 19);
	assert_malformed(LINK_EN10MB, &f);
	/* Total length with options: 24 bytes of header, length 22. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_TCP, IP_A, IP_B, 4, 0);
	put_tcp(&f, 1, 2, TH_SYN);
	set16(&f, ip + 2, 22);
	assert_malformed(LINK_EN10MB, &f);
	/* Total length ending inside the TCP header, no fragmentation. */
	build_tcp4(&f, TH_SYN);
	set16(&f, 14 + 2, 30);
	assert_malformed(LINK_EN10MB, &f);
	/* TCP data offset 4. */
	build_tcp4(&f, TH_SYN);
	f.b[14 + 20 + 12] = 0x40;
	assert_malformed(LINK_EN10MB, &f);
	/* IPv6 ethertype, version 4 inside. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x86dd);
	build_ip_tcp(&f, false);
	zeros(&f, 20);
	assert_malformed(LINK_EN10MB, &f);
	/* IPv6 payload length ending inside an extension header. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_HOPOPTS, IP6_A, IP6_B);
	put_ext6(&f, IPPROTO_TCP, 1);
	put_tcp(&f, 1, 2, TH_SYN);
	set16(&f, ip + 4, 12);
	assert_malformed(LINK_EN10MB, &f);

	/* A total length of 0 is TSO, not malformed: the capture bounds it. */
	build_tcp4(&f, TH_SYN);
	set16(&f, 14 + 2, 0);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.dport, 445);
	/* Same for an IPv6 payload length of 0. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x86dd);
	build_ip_tcp(&f, true);
	set16(&f, 14 + 4, 0);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.dport, 80);
}

/* Cuts f at every length.  Below `need` bytes the result must be -EBADMSG
 * counted as truncated; from there on, success. */
static void check_truncation(int dlt, const struct frame *f, size_t need)
{
	for (size_t caplen = 0; caplen <= f->n; caplen++) {
		struct decode_stats st = {0};
		struct pkt p;
		int r = decode_exact(dlt, f->b, caplen, f->n, &p, &st);

		if (caplen < need) {
			assert_int_equal(r, -EBADMSG);
			assert_int_equal(st.err[DECODE_E_TRUNCATED], 1);
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(p.wirelen, f->n);
		}
	}
}

static void test_truncation(void **state)
{
	struct frame f;
	size_t ip, qip;
	struct pkt p;

	(void)state;
	/* 14 Ethernet + 20 IPv4 + 14 of TCP. */
	build_tcp4(&f, TH_SYN);
	check_truncation(LINK_EN10MB, &f, 14 + 20 + 14);

	/* With IPv4 options and a VLAN tag. */
	f.n = 0;
	putn(&f, MAC_HOST, 6);
	putn(&f, MAC_HOST, 6);
	put16(&f, 0x8100);
	put16(&f, 7);
	put16(&f, 0x0800);
	ip = put_ipv4(&f, IPPROTO_TCP, IP_A, IP_B, 12, 0);
	put_tcp(&f, 1, 2, TH_SYN);
	ipv4_end(&f, ip);
	check_truncation(LINK_EN10MB, &f, 18 + 32 + 14);

	/* IPv6 with hop-by-hop (16 bytes) over SLL: 16 + 40 + 16 + 14. */
	f.n = 0;
	put16(&f, 0);
	put16(&f, 1);
	put16(&f, 6);
	zeros(&f, 8);
	put16(&f, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_HOPOPTS, IP6_A, IP6_B);
	put_ext6(&f, IPPROTO_TCP, 1);
	put_tcp(&f, 1, 2, TH_SYN);
	ipv6_end(&f, ip);
	check_truncation(LINK_LINUX_SLL, &f, 16 + 40 + 16 + 14);

	/* UDP over SLL2: 20 + 20 + 8. */
	f.n = 0;
	put16(&f, 0x0800);
	zeros(&f, 18);
	ip = put_ipv4(&f, IPPROTO_UDP, IP_A, IP_B, 0, 0);
	put_udp(&f, 1, 2, 10);
	ipv4_end(&f, ip);
	check_truncation(LINK_LINUX_SLL2, &f, 20 + 20 + 8);

	/* An ICMP error decodes once its 4-byte header is there; the quote
	 * only once the quoted header and ports are. */
	f.n = 0;
	put_eth(&f, MAC_HOST, 0x0800);
	ip = put_ipv4(&f, IPPROTO_ICMP, IP_B, IP_A, 0, 0);
	put_icmp_err(&f, 3, 3);
	qip = put_ipv4(&f, IPPROTO_UDP, IP_A, IP_B, 0, 0);
	put_udp(&f, 1, 2, 0);
	ipv4_end(&f, qip);
	ipv4_end(&f, ip);
	check_truncation(LINK_EN10MB, &f, 14 + 20 + 4);
	for (size_t caplen = 14 + 20 + 4; caplen <= f.n; caplen++) {
		assert_int_equal(decode_exact(LINK_EN10MB, f.b, caplen, f.n, &p, NULL), 0);
		assert_int_equal(p.quote.valid, caplen >= 14 + 20 + 8 + 20);
		assert_int_equal(p.quote.has_ports, caplen >= 14 + 20 + 8 + 20 + 4);
	}

	/* ARP: 14 + 28. */
	build_arp(&f, 1, IP_A, IP_B);
	check_truncation(LINK_EN10MB, &f, 14 + 28);
}

/* xorshift64: a fixed seed keeps the garbage test reproducible. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void check_garbage(int dlt, const uint8_t *buf, size_t len, struct decode_stats *st)
{
	struct pkt p;
	int r = decode_exact(dlt, buf, len, len, &p, st);

	assert_true(r == 0 || r == -EBADMSG || r == -ENOTSUP);
	if (r == 0 && (p.flags & PKT_F_FRAGMENT))
		assert_false(p.flags & PKT_F_L4);
	if (r == 0 && p.quote.has_ports)
		assert_true(p.quote.valid);
}

static void test_garbage(void **state)
{
	static const int links[] = {0, 1, 12, 14, 101, 108, 113, 228, 229, 276};
	struct decode_stats st = {0};
	uint64_t seed = 0x5eed1234abcd9876ULL;
	uint64_t errs = 0;
	struct frame f;

	(void)state;
	for (int i = 0; i < 5000; i++) {
		uint8_t buf[160];
		size_t len = rng_next(&seed) % sizeof(buf);

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rng_next(&seed);
		/* Random bytes rarely get past the first version check, so
		 * every other buffer starts with a plausible header byte. */
		if (len > 0 && i % 2)
			buf[0] = i % 4 == 1 ? 0x45 : 0x60;
		for (size_t l = 0; l < ARRAY_SIZE(links); l++)
			check_garbage(links[l], buf, len, &st);
	}

	/* Valid frames with a few bytes flipped reach deeper. */
	for (int i = 0; i < 5000; i++) {
		size_t ip, qip;

		f.n = 0;
		put_eth(&f, MAC_HOST, 0x0800);
		ip = put_ipv4(&f, IPPROTO_ICMP, IP_B, IP_A, 4, 0);
		put_icmp_err(&f, 3, 3);
		qip = put_ipv4(&f, IPPROTO_TCP, IP_A, IP_B, 0, 0);
		put_tcp(&f, 1, 2, TH_SYN);
		ipv4_end(&f, qip);
		ipv4_end(&f, ip);
		for (int k = 0; k < 3; k++)
			f.b[rng_next(&seed) % f.n] = (uint8_t)rng_next(&seed);
		check_garbage(LINK_EN10MB, f.b, f.n, &st);

		f.n = 0;
		put16(&f, 0x86dd);
		zeros(&f, 18);
		ip = put_ipv6(&f, IPPROTO_HOPOPTS, IP6_A, IP6_B);
		put_ext6(&f, IPPROTO_FRAGMENT, 0);
		put_frag6(&f, IPPROTO_ICMPV6, 0, true);
		put_icmp_err(&f, 1, 4);
		qip = put_ipv6(&f, IPPROTO_ROUTING, IP6_A, IP6_B);
		put_ext6(&f, IPPROTO_UDP, 0);
		put_udp(&f, 1, 2, 0);
		ipv6_end(&f, qip);
		ipv6_end(&f, ip);
		for (int k = 0; k < 3; k++)
			f.b[rng_next(&seed) % f.n] = (uint8_t)rng_next(&seed);
		check_garbage(LINK_LINUX_SLL2, f.b, f.n, &st);
	}

	for (size_t e = 0; e < DECODE_E_MAX; e++)
		errs += st.err[e];
	assert_int_equal(st.packets, st.decoded + errs);
	assert_int_equal(st.err[DECODE_E_LINKTYPE], 0);
}

static void test_stats_and_names(void **state)
{
	struct frame f;
	struct pkt p;
	struct decode_stats st = {0};

	(void)state;
	assert_string_equal(decode_err_name(DECODE_OK), "ok");
	assert_string_equal(decode_err_name(DECODE_E_TRUNCATED), "truncated");
	assert_string_equal(decode_err_name(DECODE_E_MALFORMED), "malformed");
	assert_string_equal(decode_err_name(DECODE_E_LINKTYPE), "linktype");
	assert_string_equal(decode_err_name(DECODE_E_UNSUPPORTED), "unsupported");
	assert_string_equal(decode_err_name(DECODE_E_MAX), "?");
	assert_string_equal(decode_err_name((enum decode_err) - 1), "?");

	build_tcp4(&f, TH_SYN);
	/* stats may be NULL. */
	assert_int_equal(decode_packet(LINK_EN10MB, f.b, f.n, f.n, &p, NULL), 0);
	assert_int_equal(decode_packet(LINK_EN10MB, f.b, f.n, f.n, &p, &st), 0);
	assert_int_equal(decode_packet(LINK_EN10MB, f.b, 20, f.n, &p, &st), -EBADMSG);
	assert_int_equal(decode_packet(LINK_EN10MB, NULL, 0, 0, &p, &st), -EBADMSG);
	assert_int_equal(st.packets, 3);
	assert_int_equal(st.decoded, 1);
	assert_int_equal(st.err[DECODE_E_TRUNCATED], 2);
	assert_int_equal(st.err[DECODE_OK], 0);
}

/* ---- Machine identity: link-layer addresses, ARP, ND, DHCP ---- */

static void assert_mac(const uint8_t got[6], const uint8_t want[6])
{
	assert_memory_equal(got, want, 6);
}

static void test_eth_macs(void **state)
{
	static const uint8_t group_or_zero[][6] = {
		{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}, /* IPv4 multicast */
		{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, /* IPv6 multicast */
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* broadcast */
		{0x03, 0x00, 0x00, 0x00, 0x00, 0x01}, /* group and locally administered */
		{0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* Linux lo, captured as Ethernet */
	};
	struct frame f = {0};
	struct pkt p;
	size_t ip;

	(void)state;
	put_eth(&f, MAC_PEER, 0x0800);
	ip = put_ipv4(&f, IPPROTO_TCP, IP_A, IP_B, 0, 0);
	put_tcp(&f, 40000, 445, TH_SYN);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_SMAC | PKT_F_DMAC);
	assert_mac(p.dst_mac, MAC_PEER);
	assert_mac(p.src_mac, MAC_HOST);

	/* A group (or zero) source is no machine's: decoded, not flagged. */
	for (size_t i = 0; i < ARRAY_SIZE(group_or_zero); i++) {
		memcpy(f.b + 6, group_or_zero[i], 6);
		assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
		assert_int_equal(p.flags, PKT_F_L4 | PKT_F_DMAC);
		assert_mac(p.src_mac, MAC_ZERO);
		assert_mac(p.dst_mac, MAC_PEER);
		assert_int_equal(p.dport, 445);
	}

	/* A broadcast destination is still recorded as the destination. */
	memcpy(f.b, MAC_BCAST, 6);
	memcpy(f.b + 6, MAC_HOST, 6);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_L2_BCAST | PKT_F_SMAC | PKT_F_DMAC);
	assert_mac(p.dst_mac, MAC_BCAST);
	assert_mac(p.src_mac, MAC_HOST);

	/* Through VLAN tags, and for an ethertype we do not track: the MACs
	 * are read first, the error comes later. */
	build_tcp4(&f, TH_SYN);
	f.n = 12;
	put16(&f, 0x8100);
	put16(&f, 9);
	put16(&f, 0x0800);
	build_ip_tcp(&f, false);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.vlan, 9);
	assert_true(p.flags & PKT_F_SMAC);
	assert_mac(p.src_mac, MAC_HOST);
}

/* An SLL (sll2 == false) or SLL2 header with the given hardware type,
 * address length and 8-byte address field, then IPv4/TCP. */
static void build_cooked(struct frame *f, bool sll2, unsigned pkttype, unsigned hatype,
			 unsigned halen, const uint8_t addr[8])
{
	f->n = 0;
	if (sll2) {
		put16(f, 0x0800);
		put16(f, 0);
		put32(f, 2);
		put16(f, hatype);
		put8(f, pkttype);
		put8(f, halen);
		putn(f, addr, 8);
	} else {
		put16(f, pkttype);
		put16(f, hatype);
		put16(f, halen);
		putn(f, addr, 8);
		put16(f, 0x0800);
	}
	build_ip_tcp(f, false);
}

static void test_sll_macs(void **state)
{
	static const uint8_t host8[8] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xee, 0xee};
	static const uint8_t mcast8[8] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb, 0, 0};
	static const struct {
		unsigned hatype, halen;
		const uint8_t *addr;
	} no_mac[] = {
		{772, 6, host8},   /* ARPHRD_LOOPBACK: not Ethernet, whatever the bytes */
		{65534, 0, host8}, /* ARPHRD_NONE (tun): no address */
		{512, 0, host8},   /* ARPHRD_PPP */
		{1, 0, host8},	   /* Ethernet, but no address given */
		{1, 8, host8},	   /* not a MAC's length */
		{1, 6, mcast8},	   /* a group source */
	};
	struct frame f;
	struct pkt p;

	(void)state;
	for (int sll2 = 0; sll2 <= 1; sll2++) {
		int dlt = sll2 ? LINK_LINUX_SLL2 : LINK_LINUX_SLL;

		/* Received from a machine: its MAC, the first 6 address bytes. */
		build_cooked(&f, sll2, 0, 1, 6, host8);
		assert_int_equal(dec(dlt, &f, &p), 0);
		assert_tcp_body(&p, false);
		assert_int_equal(p.flags, PKT_F_L4 | PKT_F_SMAC);
		assert_mac(p.src_mac, MAC_HOST);
		assert_mac(p.dst_mac, MAC_ZERO);

		/* Sent by the gateway: its own MAC, told apart by OUTGOING. */
		build_cooked(&f, sll2, 4, 1, 6, host8);
		assert_int_equal(dec(dlt, &f, &p), 0);
		assert_int_equal(p.flags, PKT_F_L4 | PKT_F_SMAC | PKT_F_OUTGOING);
		assert_mac(p.src_mac, MAC_HOST);

		for (size_t i = 0; i < ARRAY_SIZE(no_mac); i++) {
			build_cooked(&f, sll2, 0, no_mac[i].hatype, no_mac[i].halen,
				     no_mac[i].addr);
			assert_int_equal(dec(dlt, &f, &p), 0);
			assert_tcp_body(&p, false);
			assert_int_equal(p.flags, PKT_F_L4);
			assert_mac(p.src_mac, MAC_ZERO);
		}
	}
}

static void test_no_mac_raw_loopback(void **state)
{
	static const uint8_t af_inet_le[4] = {2, 0, 0, 0};
	struct frame f;
	struct pkt p;

	(void)state;
	f.n = 0;
	build_ip_tcp(&f, false);
	assert_int_equal(dec(LINK_RAW, &f, &p), 0);
	assert_int_equal(p.flags & (PKT_F_SMAC | PKT_F_DMAC), 0);
	assert_mac(p.src_mac, MAC_ZERO);
	assert_mac(p.dst_mac, MAC_ZERO);
	assert_int_equal(dec(LINK_IPV4, &f, &p), 0);
	assert_int_equal(p.flags & (PKT_F_SMAC | PKT_F_DMAC), 0);

	build_loop(&f, af_inet_le, false);
	assert_int_equal(dec(LINK_NULL, &f, &p), 0);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_mac(p.src_mac, MAC_ZERO);
	assert_mac(p.dst_mac, MAC_ZERO);
}

static void test_arp_hw_addrs(void **state)
{
	struct frame f;
	struct pkt p;

	(void)state;
	/* B answers A: "IP_B is at MAC_PEER", to MAC_HOST. */
	build_arp_hw(&f, 2, MAC_PEER, IP_B, MAC_HOST, IP_A);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.l3, PKT_L3_ARP);
	assert_int_equal(p.arp_op, 2);
	assert_mac(p.arp_sha, MAC_PEER);
	assert_mac(p.arp_tha, MAC_HOST);
	assert_addr4(&p.src, IP_B);
	assert_addr4(&p.dst, IP_A);
	/* The frame's own source is separate from the ARP sender. */
	assert_mac(p.src_mac, MAC_HOST);

	/* A request: the target's hardware address is unknown (zero). */
	build_arp(&f, 1, IP_A, IP_B);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_mac(p.arp_sha, MAC_HOST);
	assert_mac(p.arp_tha, MAC_ZERO);

	/* Over SLL too. */
	f.n = 0;
	put16(&f, 0);
	put16(&f, 1);
	put16(&f, 6);
	putn(&f, MAC_PEER, 6);
	zeros(&f, 2);
	put16(&f, 0x0806);
	put16(&f, 1);
	put16(&f, 0x0800);
	put8(&f, 6);
	put8(&f, 4);
	put16(&f, 2);
	putn(&f, MAC_PEER, 6);
	putn(&f, IP_B, 4);
	putn(&f, MAC_HOST, 6);
	putn(&f, IP_A, 4);
	assert_int_equal(dec(LINK_LINUX_SLL, &f, &p), 0);
	assert_mac(p.arp_sha, MAC_PEER);
	assert_mac(p.arp_tha, MAC_HOST);
	assert_mac(p.src_mac, MAC_PEER);
}

static const uint8_t LL_A[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
static const uint8_t LL_R[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
static const uint8_t IP6_UNSPEC[16];
static const uint8_t IP6_ALL_NODES[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t IP6_ALL_ROUTERS[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
/* Solicited-node multicast address of IP6_B (ff02::1:ff00:b). */
static const uint8_t IP6_SNM_B[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0x0b};

/* Ethernet, IPv6 with hop limit 255 (RFC 4861 7.1), ICMPv6 header of an
 * ND message.  Returns the IPv6 header's offset for ipv6_end(). */
static size_t start_nd(struct frame *f, const uint8_t dmac[6], const uint8_t src[16],
		       const uint8_t dst[16], unsigned type)
{
	size_t ip;

	f->n = 0;
	put_eth(f, dmac, 0x86dd);
	ip = put_ipv6(f, IPPROTO_ICMPV6, src, dst);
	f->b[ip + 7] = 255;
	put8(f, type);
	put8(f, 0);
	put16(f, 0);
	return ip;
}

/* A link-layer address option: type 1 (source) or 2 (target), one unit. */
static void put_nd_lla(struct frame *f, unsigned type, const uint8_t mac[6])
{
	put8(f, type);
	put8(f, 1);
	putn(f, mac, 6);
}

/* An option we do not read, of len8 units. */
static void put_nd_opt(struct frame *f, unsigned type, unsigned len8)
{
	put8(f, type);
	put8(f, len8);
	zeros(f, (size_t)len8 * 8 - 2);
}

/* NS from A (fe80::a) for IP6_B, with a source link-layer address option. */
static void build_ns(struct frame *f)
{
	size_t ip = start_nd(f, MAC_MCAST6, LL_A, IP6_SNM_B, 135);

	put32(f, 0);
	putn(f, IP6_B, 16);
	put_nd_lla(f, 1, MAC_HOST);
	ipv6_end(f, ip);
}

static void assert_icmp6(const struct pkt *p, unsigned type)
{
	assert_int_equal(p->l3, PKT_L3_IPV6);
	assert_int_equal(p->proto, IPPROTO_ICMPV6);
	assert_true(p->flags & PKT_F_L4);
	assert_int_equal(p->icmp_type, type);
	assert_int_equal(p->icmp_code, 0);
}

static void test_nd_ns_sllao(void **state)
{
	struct frame f;
	struct pkt p;

	(void)state;
	build_ns(&f);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_icmp6(&p, 135);
	assert_int_equal(p.ttl, 255);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_ND | PKT_F_L2_BCAST | ETH_MACS);
	assert_int_equal(p.nd.type, 135);
	assert_int_equal(p.nd.flags, ND_F_LLADDR);
	assert_addr6(&p.nd.target, IP6_B);
	assert_mac(p.nd.lladdr, MAC_HOST);
	assert_addr6(&p.src, LL_A);
	assert_int_equal(p.quote.valid, 0);

	/* A target link-layer option in an NS is not the one we want. */
	build_ns(&f);
	f.b[f.n - 8] = 2;
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_true(p.flags & PKT_F_ND);
	assert_int_equal(p.nd.flags, 0);
	assert_mac(p.nd.lladdr, MAC_ZERO);

	/* Over IPv4 an ICMP type 135 is nothing of the sort. */
	f.n = 0;
	put_eth(&f, MAC_PEER, 0x0800);
	size_t ip = put_ipv4(&f, IPPROTO_ICMP, IP_A, IP_B, 0, 0);
	put8(&f, 135);
	put8(&f, 0);
	put16(&f, 0);
	put32(&f, 0);
	putn(&f, IP6_B, 16);
	put_nd_lla(&f, 1, MAC_HOST);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.icmp_type, 135);
	assert_false(p.flags & PKT_F_ND);
}

static void test_nd_ns_dad(void **state)
{
	struct frame f;
	struct pkt p;
	size_t ip;

	(void)state;
	/* Duplicate address detection (RFC 4862 5.4.2): from ::, to the
	 * tentative address's solicited-node group, and no SLLAO. */
	ip = start_nd(&f, MAC_MCAST6, IP6_UNSPEC, IP6_SNM_B, 135);
	put32(&f, 0);
	putn(&f, IP6_B, 16);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_icmp6(&p, 135);
	assert_true(p.flags & PKT_F_ND);
	assert_true(p.flags & PKT_F_SMAC);
	assert_int_equal(p.nd.type, 135);
	assert_int_equal(p.nd.flags, 0);
	assert_addr6(&p.nd.target, IP6_B);
	assert_addr6(&p.src, IP6_UNSPEC);
	assert_mac(p.nd.lladdr, MAC_ZERO);

	/* An option past the IPv6 payload length (Ethernet padding) is not
	 * part of the message. */
	put_nd_lla(&f, 1, MAC_PEER);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_true(p.flags & PKT_F_ND);
	assert_int_equal(p.nd.flags, 0);
}

static void test_nd_na_tllao_flags(void **state)
{
	static const struct {
		uint8_t wire, nd;
	} fl[] = {
		{0x00, 0},
		{0x80, ND_F_ROUTER},
		{0x40, ND_F_SOLICITED},
		{0x20, ND_F_OVERRIDE},
		{0xe0, ND_F_ROUTER | ND_F_SOLICITED | ND_F_OVERRIDE},
		{0x1f, 0}, /* reserved bits */
	};
	struct frame f;
	struct pkt p;
	size_t ip;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(fl); i++) {
		/* B answers A's NS: "IP6_B is at MAC_PEER". */
		ip = start_nd(&f, MAC_HOST, IP6_B, LL_A, 136);
		put8(&f, fl[i].wire);
		zeros(&f, 3);
		putn(&f, IP6_B, 16);
		put_nd_lla(&f, 2, MAC_PEER);
		ipv6_end(&f, ip);
		assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
		assert_icmp6(&p, 136);
		assert_int_equal(p.flags, PKT_F_L4 | PKT_F_ND | ETH_MACS);
		assert_int_equal(p.nd.type, 136);
		assert_int_equal(p.nd.flags, fl[i].nd | ND_F_LLADDR);
		assert_addr6(&p.nd.target, IP6_B);
		assert_mac(p.nd.lladdr, MAC_PEER);
	}

	/* An unsolicited NA to all nodes whose option is a source address
	 * option: the wrong kind for an NA. */
	ip = start_nd(&f, MAC_MCAST6, IP6_B, IP6_ALL_NODES, 136);
	put8(&f, 0x20);
	zeros(&f, 3);
	putn(&f, IP6_B, 16);
	put_nd_lla(&f, 1, MAC_PEER);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.nd.flags, ND_F_OVERRIDE);
	assert_mac(p.nd.lladdr, MAC_ZERO);
}

static void test_nd_rs_ra_sllao(void **state)
{
	struct frame f;
	struct pkt p;
	size_t ip;

	(void)state;
	/* RS: 4 reserved bytes, then the SLLAO. */
	ip = start_nd(&f, MAC_MCAST6, LL_A, IP6_ALL_ROUTERS, 133);
	put32(&f, 0);
	put_nd_lla(&f, 1, MAC_HOST);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_icmp6(&p, 133);
	assert_true(p.flags & PKT_F_ND);
	assert_int_equal(p.nd.type, 133);
	assert_int_equal(p.nd.flags, ND_F_LLADDR);
	assert_int_equal(p.nd.target.family, 0);
	assert_mac(p.nd.lladdr, MAC_HOST);

	/* RA: 12 bytes, then a prefix information option (4 units), an MTU
	 * option (1 unit), and the SLLAO. */
	ip = start_nd(&f, MAC_MCAST6, LL_R, IP6_ALL_NODES, 134);
	put8(&f, 64);	 /* cur hop limit */
	put8(&f, 0xc0);	 /* M and O */
	put16(&f, 1800); /* router lifetime */
	put32(&f, 0);	 /* reachable */
	put32(&f, 0);	 /* retrans */
	put_nd_opt(&f, 3, 4);
	put_nd_opt(&f, 5, 1);
	put_nd_lla(&f, 1, MAC_PEER);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_icmp6(&p, 134);
	assert_true(p.flags & PKT_F_ND);
	assert_int_equal(p.nd.type, 134);
	assert_int_equal(p.nd.flags, ND_F_LLADDR);
	assert_int_equal(p.nd.target.family, 0);
	assert_mac(p.nd.lladdr, MAC_PEER);

	/* An SLLAO two units long (not an Ethernet address) is skipped, and
	 * the first Ethernet one after it taken. */
	ip = start_nd(&f, MAC_MCAST6, LL_A, IP6_ALL_ROUTERS, 133);
	put32(&f, 0);
	put_nd_opt(&f, 1, 2);
	put_nd_lla(&f, 1, MAC_PEER);
	put_nd_lla(&f, 1, MAC_HOST);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.nd.flags, ND_F_LLADDR);
	assert_mac(p.nd.lladdr, MAC_PEER);
}

static void test_nd_redirect(void **state)
{
	struct frame f;
	struct pkt p;
	size_t ip;

	(void)state;
	/* The router tells A: for IP6_B, go to fe80::1 (the target) at
	 * MAC_PEER.  Target, destination, then a TLLAO. */
	ip = start_nd(&f, MAC_HOST, LL_R, LL_A, 137);
	put32(&f, 0);
	putn(&f, LL_R, 16);
	putn(&f, IP6_B, 16);
	put_nd_lla(&f, 2, MAC_PEER);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_icmp6(&p, 137);
	assert_true(p.flags & PKT_F_ND);
	assert_int_equal(p.nd.type, 137);
	assert_int_equal(p.nd.flags, ND_F_LLADDR);
	assert_addr6(&p.nd.target, LL_R);
	assert_mac(p.nd.lladdr, MAC_PEER);

	/* Cut inside the destination: ICMPv6, not ND. */
	assert_int_equal(decode_exact(LINK_EN10MB, f.b, 14 + 40 + 4 + 20 + 8, f.n, &p, NULL), 0);
	assert_icmp6(&p, 137);
	assert_false(p.flags & PKT_F_ND);
	assert_int_equal(p.nd.type, 0);
}

static void test_nd_option_len0(void **state)
{
	struct frame f;
	struct pkt p;
	size_t ip;

	(void)state;
	/* A zero-length option first: the walk stops, the NS stays. */
	ip = start_nd(&f, MAC_MCAST6, LL_A, IP6_SNM_B, 135);
	put32(&f, 0);
	putn(&f, IP6_B, 16);
	put8(&f, 14); /* nonce, length 0 */
	put8(&f, 0);
	zeros(&f, 6);
	put_nd_lla(&f, 1, MAC_HOST);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_icmp6(&p, 135);
	assert_true(p.flags & PKT_F_ND);
	assert_int_equal(p.nd.flags, 0);
	assert_addr6(&p.nd.target, IP6_B);
	assert_mac(p.nd.lladdr, MAC_ZERO);

	/* A zero-length option of the kind we look for. */
	ip = start_nd(&f, MAC_MCAST6, LL_A, IP6_SNM_B, 135);
	put32(&f, 0);
	putn(&f, IP6_B, 16);
	put8(&f, 1);
	put8(&f, 0);
	putn(&f, MAC_HOST, 6);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_true(p.flags & PKT_F_ND);
	assert_int_equal(p.nd.flags, 0);

	/* An option declaring more units than the message has. */
	ip = start_nd(&f, MAC_MCAST6, LL_A, IP6_SNM_B, 135);
	put32(&f, 0);
	putn(&f, IP6_B, 16);
	put8(&f, 14);
	put8(&f, 200);
	zeros(&f, 6);
	put_nd_lla(&f, 1, MAC_HOST);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_true(p.flags & PKT_F_ND);
	assert_int_equal(p.nd.flags, 0);
}

static void test_nd_truncated(void **state)
{
	/* 14 Ethernet + 40 IPv6 + 4 ICMPv6, then 20 of NS, then 8 of SLLAO. */
	const size_t icmp = 14 + 40 + 4, fixed = icmp + 20;
	struct frame f;
	struct pkt p;

	(void)state;
	build_ns(&f);
	assert_int_equal(f.n, fixed + 8);
	/* The ICMPv6 header decides success, as for any ICMPv6 message. */
	check_truncation(LINK_EN10MB, &f, icmp);
	for (size_t caplen = icmp; caplen <= f.n; caplen++) {
		assert_int_equal(decode_exact(LINK_EN10MB, f.b, caplen, f.n, &p, NULL), 0);
		assert_icmp6(&p, 135);
		assert_int_equal(!!(p.flags & PKT_F_ND), caplen >= fixed);
		assert_int_equal(p.nd.flags, caplen == f.n ? ND_F_LLADDR : 0);
		if (caplen < f.n)
			assert_mac(p.nd.lladdr, MAC_ZERO);
	}
}

/* DHCP client and server addresses, and the option bytes after the
 * cookie of four typical messages. */
static const uint8_t IP_ZERO[4];
static const uint8_t IP_LIMITED_BCAST[4] = {255, 255, 255, 255};
static const uint8_t DHCP_DISCOVER_OPTS[] = {53, 1, 1, 55, 4, 1, 3, 6, 15, 255};
static const uint8_t DHCP_REQUEST_OPTS[] = {53, 1,  3, 50, 4, 192, 168, 1,
					    10, 54, 4, 10, 0, 0,   1,	255};
static const uint8_t DHCP_ACK_OPTS[] = {0, 0, 53, 1,  5, 54, 4,	  10,  0,   0, 1,   51, 4,
					0, 0, 14, 16, 1, 4,  255, 255, 255, 0, 255, 0,	0};
#define DHCP_COOKIE 0x63825363u

/* Ethernet / IPv4 / UDP / BOOTP.  A request (op 1) goes from 0.0.0.0:68
 * to 255.255.255.255:67, a reply from the server R:67 to A:68. */
static void build_dhcp(struct frame *f, unsigned op, const uint8_t ciaddr[4],
		       const uint8_t yiaddr[4], uint32_t cookie, const uint8_t *opts, size_t optlen)
{
	size_t ip, udp;

	f->n = 0;
	put_eth(f, op == 1 ? MAC_BCAST : MAC_PEER, 0x0800);
	ip = put_ipv4(f, IPPROTO_UDP, op == 1 ? IP_ZERO : IP_R, op == 1 ? IP_LIMITED_BCAST : IP_A,
		      0, 0);
	udp = f->n;
	put16(f, op == 1 ? 68 : 67);
	put16(f, op == 1 ? 67 : 68);
	put16(f, 0); /* length: below */
	put16(f, 0);
	put8(f, op);
	put8(f, 1); /* htype Ethernet */
	put8(f, 6); /* hlen */
	put8(f, 0); /* hops */
	put32(f, 0x3903f326);
	put16(f, 0);	  /* secs */
	put16(f, 0x8000); /* broadcast flag */
	putn(f, ciaddr, 4);
	putn(f, yiaddr, 4);
	putn(f, op == 1 ? IP_ZERO : IP_R, 4); /* siaddr */
	put32(f, 0);			      /* giaddr */
	putn(f, MAC_CLIENT, 6);
	zeros(f, 10);
	zeros(f, 64 + 128); /* sname, file */
	put32(f, cookie);
	putn(f, opts, optlen);
	set16(f, udp + 4, (unsigned)(f->n - udp));
	ipv4_end(f, ip);
}

/* Start of BOOTP in an Ethernet/IPv4 frame, and the bytes PKT_F_DHCP needs. */
#define DHCP_AT	  (14 + 20 + 8)
#define DHCP_NEED (DHCP_AT + 44)

static void test_dhcp_discover_request(void **state)
{
	struct frame f;
	struct pkt p;

	(void)state;
	build_dhcp(&f, 1, IP_ZERO, IP_ZERO, DHCP_COOKIE, DHCP_DISCOVER_OPTS,
		   sizeof(DHCP_DISCOVER_OPTS));
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.sport, 68);
	assert_int_equal(p.dport, 67);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_DHCP | PKT_F_L2_BCAST | ETH_MACS);
	assert_int_equal(p.dhcp.op, DHCP_OP_REQUEST);
	assert_int_equal(p.dhcp.msgtype, 1);
	assert_mac(p.dhcp.chaddr, MAC_CLIENT);
	assert_int_equal(p.dhcp.ciaddr.family, 0);
	assert_int_equal(p.dhcp.yiaddr.family, 0);
	assert_int_equal(p.dhcp.reqip.family, 0);

	build_dhcp(&f, 1, IP_ZERO, IP_ZERO, DHCP_COOKIE, DHCP_REQUEST_OPTS,
		   sizeof(DHCP_REQUEST_OPTS));
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_true(p.flags & PKT_F_DHCP);
	assert_int_equal(p.dhcp.op, DHCP_OP_REQUEST);
	assert_int_equal(p.dhcp.msgtype, 3);
	assert_mac(p.dhcp.chaddr, MAC_CLIENT);
	assert_addr4(&p.dhcp.reqip, IP_A);

	/* The daemon's snaplen, 160 bytes: the fixed header's start only. */
	assert_int_equal(decode_exact(LINK_EN10MB, f.b, 160, f.n, &p, NULL), 0);
	assert_true(p.flags & PKT_F_DHCP);
	assert_int_equal(p.dhcp.op, DHCP_OP_REQUEST);
	assert_mac(p.dhcp.chaddr, MAC_CLIENT);
	assert_int_equal(p.dhcp.msgtype, 0);
	assert_int_equal(p.dhcp.reqip.family, 0);

	/* A renewal, unicast from a client that has its address. */
	build_dhcp(&f, 1, IP_A, IP_ZERO, DHCP_COOKIE, (const uint8_t[]){53, 1, 3, 255}, 4);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_addr4(&p.dhcp.ciaddr, IP_A);
	assert_int_equal(p.dhcp.yiaddr.family, 0);
	assert_int_equal(p.dhcp.msgtype, 3);
}

static void test_dhcp_ack(void **state)
{
	struct frame f;
	struct pkt p;

	(void)state;
	build_dhcp(&f, 2, IP_ZERO, IP_A, DHCP_COOKIE, DHCP_ACK_OPTS, sizeof(DHCP_ACK_OPTS));
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.sport, 67);
	assert_int_equal(p.dport, 68);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_DHCP | ETH_MACS);
	assert_int_equal(p.dhcp.op, DHCP_OP_REPLY);
	assert_int_equal(p.dhcp.msgtype, 5);
	assert_mac(p.dhcp.chaddr, MAC_CLIENT);
	assert_addr4(&p.dhcp.yiaddr, IP_A);
	assert_int_equal(p.dhcp.ciaddr.family, 0);
	assert_int_equal(p.dhcp.reqip.family, 0);

	/* Cut at 160 bytes: yiaddr is there, the message type is not. */
	assert_int_equal(decode_exact(LINK_EN10MB, f.b, 160, f.n, &p, NULL), 0);
	assert_true(p.flags & PKT_F_DHCP);
	assert_int_equal(p.dhcp.op, DHCP_OP_REPLY);
	assert_addr4(&p.dhcp.yiaddr, IP_A);
	assert_mac(p.dhcp.chaddr, MAC_CLIENT);
	assert_int_equal(p.dhcp.msgtype, 0);

	/* The message type arrives with its option, 2 pads and 3 bytes in. */
	for (size_t caplen = DHCP_NEED; caplen <= f.n; caplen++) {
		assert_int_equal(decode_exact(LINK_EN10MB, f.b, caplen, f.n, &p, NULL), 0);
		assert_true(p.flags & PKT_F_DHCP);
		assert_int_equal(p.dhcp.msgtype, caplen >= DHCP_AT + 240 + 5 ? 5 : 0);
	}
}

static void test_dhcp_truncated(void **state)
{
	struct frame f;
	struct pkt p;
	struct decode_stats st = {0};

	(void)state;
	build_dhcp(&f, 1, IP_ZERO, IP_ZERO, DHCP_COOKIE, DHCP_DISCOVER_OPTS,
		   sizeof(DHCP_DISCOVER_OPTS));
	/* UDP needs its 8 bytes, as ever; BOOTP is a bonus on top. */
	check_truncation(LINK_EN10MB, &f, DHCP_AT);
	for (size_t caplen = DHCP_AT; caplen <= f.n; caplen++) {
		assert_int_equal(decode_exact(LINK_EN10MB, f.b, caplen, f.n, &p, &st), 0);
		assert_true(p.flags & PKT_F_L4);
		assert_int_equal(p.dport, 67);
		assert_int_equal(!!(p.flags & PKT_F_DHCP), caplen >= DHCP_NEED);
	}
	assert_int_equal(st.decoded, st.packets);

	/* The IP total length, not only the capture, ends the message. */
	build_dhcp(&f, 1, IP_ZERO, IP_ZERO, DHCP_COOKIE, NULL, 0);
	set16(&f, 14 + 2, 20 + 8 + 43);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags & PKT_F_DHCP, 0);

	/* Not Ethernet hardware (IEEE 802, htype 6), or a 16-byte chaddr. */
	build_dhcp(&f, 1, IP_ZERO, IP_ZERO, DHCP_COOKIE, NULL, 0);
	f.b[DHCP_AT + 1] = 6;
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags & PKT_F_DHCP, 0);
	f.b[DHCP_AT + 1] = 1;
	f.b[DHCP_AT + 2] = 16;
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags & PKT_F_DHCP, 0);
	/* An op that is neither request nor reply. */
	f.b[DHCP_AT + 2] = 6;
	f.b[DHCP_AT] = 3;
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags & PKT_F_DHCP, 0);
}

static void test_dhcp_bad_cookie(void **state)
{
	struct frame f;
	struct pkt p;

	(void)state;
	/* Plain BOOTP, or not DHCP: the fixed header stands, the bytes after
	 * it are not options. */
	build_dhcp(&f, 2, IP_ZERO, IP_A, 0x63825364, DHCP_REQUEST_OPTS, sizeof(DHCP_REQUEST_OPTS));
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_true(p.flags & PKT_F_DHCP);
	assert_int_equal(p.dhcp.op, DHCP_OP_REPLY);
	assert_addr4(&p.dhcp.yiaddr, IP_A);
	assert_mac(p.dhcp.chaddr, MAC_CLIENT);
	assert_int_equal(p.dhcp.msgtype, 0);
	assert_int_equal(p.dhcp.reqip.family, 0);

	/* Options that run past the capture stop quietly; a zero requested
	 * address is no address. */
	build_dhcp(&f, 1, IP_ZERO, IP_ZERO, DHCP_COOKIE,
		   (const uint8_t[]){50, 4, 0, 0, 0, 0, 53, 1, 7, 12, 200, 'h'}, 12);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_true(p.flags & PKT_F_DHCP);
	assert_int_equal(p.dhcp.reqip.family, 0);
	assert_int_equal(p.dhcp.msgtype, 7);
}

static void test_dhcp6_solicit(void **state)
{
	static const uint8_t all_dhcp[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2};
	struct frame f = {0};
	struct pkt p;
	size_t ip;

	(void)state;
	/* SOLICIT (1), transaction id, a client identifier (DUID-LL of some
	 * MAC: deliberately not read). */
	put_eth(&f, MAC_MCAST6, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_UDP, LL_A, all_dhcp);
	put16(&f, 546);
	put16(&f, 547);
	put16(&f, 8 + 4 + 14);
	put16(&f, 0);
	put8(&f, 1);
	put8(&f, 0x12);
	put16(&f, 0x3456);
	put16(&f, 1); /* OPTION_CLIENTID */
	put16(&f, 10);
	put16(&f, 3); /* DUID-LL */
	put16(&f, 1);
	putn(&f, MAC_PEER, 6);
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_DHCP6 | PKT_F_L2_BCAST | ETH_MACS);
	assert_int_equal(p.dhcp6_type, 1);
	assert_int_equal(p.dport, 547);

	/* No payload captured: plain UDP. */
	assert_int_equal(decode_exact(LINK_EN10MB, f.b, 14 + 40 + 8, f.n, &p, NULL), 0);
	assert_int_equal(p.flags & PKT_F_DHCP6, 0);
	assert_int_equal(p.dhcp6_type, 0);
	assert_true(p.flags & PKT_F_L4);

	/* The same ports over IPv4 are not DHCPv6, nor 67/68 over IPv6
	 * DHCPv4. */
	f.n = 0;
	put_eth(&f, MAC_PEER, 0x0800);
	ip = put_ipv4(&f, IPPROTO_UDP, IP_A, IP_B, 0, 0);
	put_udp(&f, 546, 547, 4);
	ipv4_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags & (PKT_F_DHCP6 | PKT_F_DHCP), 0);
	f.n = 0;
	put_eth(&f, MAC_PEER, 0x86dd);
	ip = put_ipv6(&f, IPPROTO_UDP, IP6_A, IP6_B);
	put_udp(&f, 68, 67, 300);
	f.b[14 + 40 + 8] = 1;
	f.b[14 + 40 + 9] = 1;
	f.b[14 + 40 + 10] = 6;
	ipv6_end(&f, ip);
	assert_int_equal(dec(LINK_EN10MB, &f, &p), 0);
	assert_int_equal(p.flags & (PKT_F_DHCP6 | PKT_F_DHCP), 0);
}

/* ---- decode_midflow(): the pre-check for segments under way ---- */

/* decode_midflow() on a copy of exactly caplen bytes (AddressSanitizer
 * catches a read past the end); the stats it kept into *st. */
static bool midflow_exact(int dlt, const uint8_t *data, size_t caplen, struct decode_stats *st)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	bool r;

	assert_non_null(copy);
	if (caplen)
		memcpy(copy, data, caplen);
	memset(st, 0, sizeof(*st));
	r = decode_midflow(dlt, copy, caplen, st);
	free(copy);
	return r;
}

/* What a yes promises: decode_packet() decodes the frame to a TCP segment
 * with ACK, without SYN, RST or FIN, which is not a bare ACK, and counts
 * it as decode_midflow() did; a no counts nothing. */
static void midflow_agrees(int dlt, const uint8_t *data, size_t caplen)
{
	struct decode_stats st, dst = {0};
	struct pkt p;
	bool yes = midflow_exact(dlt, data, caplen, &st);
	int r = decode_exact(dlt, data, caplen, caplen, &p, &dst);

	if (!yes) {
		assert_int_equal(st.packets, 0);
		assert_int_equal(st.decoded, 0);
		return;
	}
	assert_int_equal(r, 0);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_true(p.flags & PKT_F_L4);
	assert_false(p.flags & PKT_F_FRAGMENT);
	assert_true(p.tcp_flags & TH_ACK);
	assert_int_equal(p.tcp_flags & (TH_SYN | TH_RST | TH_FIN), 0);
	assert_true(p.tcp_paylen != PKT_PAYLEN_UNKNOWN);
	assert_false(p.tcp_flags == TH_ACK && p.tcp_hlen == 20 && p.tcp_paylen == 0);
	assert_memory_equal(&st, &dst, sizeof(st));
}

/* IPv4 TCP from A to B with optlen bytes of TCP options (NOPs) and paylen
 * of payload, behind vid's 802.1Q tag when vid > 0; the IP header's
 * offset into *ret_ip. */
static void build_seg4(struct frame *f, unsigned vid, unsigned flags, size_t optlen, size_t paylen,
		       size_t *ret_ip)
{
	size_t ip;

	f->n = 0;
	putn(f, MAC_PEER, 6);
	putn(f, MAC_HOST, 6);
	if (vid) {
		put16(f, 0x8100);
		put16(f, vid);
	}
	put16(f, 0x0800);
	ip = put_ipv4(f, IPPROTO_TCP, IP_A, IP_B, 0, 0);
	put_tcp(f, 443, 40000, flags);
	f->b[ip + 20 + 12] = (uint8_t)((5 + optlen / 4) << 4);
	for (size_t i = 0; i < optlen; i++)
		put8(f, 1);
	zeros(f, paylen);
	ipv4_end(f, ip);
	if (ret_ip)
		*ret_ip = ip;
}

static void build_seg6(struct frame *f, bool ext, unsigned flags, size_t paylen)
{
	size_t ip;

	f->n = 0;
	put_eth(f, MAC_PEER, 0x86dd);
	ip = put_ipv6(f, ext ? 0 : IPPROTO_TCP, IP6_A, IP6_B);
	if (ext)
		put_ext6(f, IPPROTO_TCP, 0);
	put_tcp(f, 443, 40000, flags);
	zeros(f, paylen);
	ipv6_end(f, ip);
}

static void test_midflow(void **state)
{
	struct decode_stats st;
	struct frame f = {0};
	size_t ip;

	(void)state;
	/* Data, and ACKs with options or flags beside ACK: yes, counted. */
	build_seg4(&f, 0, TH_ACK, 0, 100, NULL);
	assert_true(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.decoded, 1);
	build_seg4(&f, 0, TH_ACK | TH_PSH, 0, 100, NULL);
	assert_true(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	build_seg4(&f, 0, TH_ACK, 12, 0, NULL);
	assert_true(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	build_seg4(&f, 0, TH_ACK | TH_PSH, 0, 0, NULL);
	assert_true(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	/* Behind a VLAN tag, and over IPv6. */
	build_seg4(&f, 7, TH_ACK, 0, 100, NULL);
	assert_true(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	build_seg6(&f, false, TH_ACK, 100);
	assert_true(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	/* Raw IP links. */
	build_seg4(&f, 0, TH_ACK, 0, 100, NULL);
	assert_true(midflow_exact(LINK_RAW, f.b + 14, f.n - 14, &st));
	assert_true(midflow_exact(LINK_IPV4, f.b + 14, f.n - 14, &st));
	build_seg6(&f, false, TH_ACK, 100);
	assert_true(midflow_exact(LINK_RAW_101, f.b + 14, f.n - 14, &st));
	assert_true(midflow_exact(LINK_IPV6, f.b + 14, f.n - 14, &st));
	/* The payload cut by the snap length: the header is all it needs. */
	build_seg4(&f, 0, TH_ACK, 0, 1000, NULL);
	assert_true(midflow_exact(LINK_EN10MB, f.b, 14 + 20 + 20, &st));

	/* What a detector or identity looks at: no, nothing counted. */
	build_seg4(&f, 0, TH_ACK, 0, 0, NULL); /* a bare ACK */
	assert_false(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	assert_int_equal(st.packets, 0);
	static const unsigned no[] = {
		TH_SYN,		 TH_SYN | TH_ACK,	   TH_RST, TH_RST | TH_ACK,
		TH_FIN | TH_ACK, TH_FIN | TH_PSH | TH_URG, 0,	   TH_PSH};
	for (size_t i = 0; i < ARRAY_SIZE(no); i++) {
		build_seg4(&f, 0, no[i], 0, 100, NULL);
		assert_false(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	}
	/* What it leaves to decode_packet(): fragments, extension headers,
	 * a length of 0, cooked and loopback links, other protocols. */
	build_seg4(&f, 0, TH_ACK, 0, 100, &ip);
	set16(&f, ip + 6, 0x2000); /* more fragments */
	assert_false(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	set16(&f, ip + 6, 0x0010); /* a later fragment */
	assert_false(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	set16(&f, ip + 6, 0x4000); /* don't fragment: yes */
	assert_true(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	set16(&f, ip + 2, 0);
	assert_false(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	build_seg6(&f, true, TH_ACK, 100);
	assert_false(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	build_seg4(&f, 0, TH_ACK, 0, 100, NULL);
	assert_false(midflow_exact(LINK_LINUX_SLL, f.b, f.n, &st));
	assert_false(midflow_exact(LINK_NULL, f.b, f.n, &st));
	f.b[14 + 9] = IPPROTO_UDP;
	assert_false(midflow_exact(LINK_EN10MB, f.b, f.n, &st));

	/* Malformed or truncated: no, and decode_packet() says so. */
	build_seg4(&f, 0, TH_ACK, 0, 100, &ip);
	set16(&f, ip + 2, 19); /* total length below the header's */
	assert_false(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	set16(&f, ip + 2, 30); /* ends inside the TCP header */
	assert_false(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	build_seg4(&f, 0, TH_ACK, 0, 100, &ip);
	f.b[ip + 20 + 12] = 4 << 4; /* data offset below 5 */
	assert_false(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	build_seg4(&f, 0, TH_ACK, 0, 0, &ip);
	f.b[ip + 20 + 12] = 15 << 4; /* options past the packet's end */
	zeros(&f, 40);
	assert_false(midflow_exact(LINK_EN10MB, f.b, f.n, &st));
	build_seg4(&f, 0, TH_ACK, 0, 100, NULL);
	assert_false(midflow_exact(LINK_EN10MB, f.b, 14 + 20 + 13, &st));
}

/* Every cut and many single-byte changes of the frames above: whenever
 * the pre-check says yes, decode_packet() agrees (midflow_agrees()). */
static void test_midflow_agrees(void **state)
{
	static const uint8_t vals[] = {0x00, 0x01, 0x06, 0x10, 0x11, 0x12, 0x14, 0x18, 0x20,
				       0x40, 0x45, 0x4f, 0x50, 0x60, 0x81, 0xf0, 0xff};
	static const int links[] = {LINK_EN10MB, LINK_RAW, LINK_IPV4, LINK_IPV6};
	struct frame fr[6] = {0};
	unsigned yes = 0;

	(void)state;
	build_seg4(&fr[0], 0, TH_ACK, 0, 40, NULL);
	build_seg4(&fr[1], 3, TH_ACK | TH_PSH, 12, 40, NULL);
	build_seg4(&fr[2], 0, TH_ACK, 0, 0, NULL);
	build_seg4(&fr[3], 0, TH_FIN | TH_ACK, 0, 10, NULL);
	build_seg6(&fr[4], false, TH_ACK, 40);
	build_seg6(&fr[5], true, TH_ACK, 40);
	for (size_t i = 0; i < ARRAY_SIZE(fr); i++) {
		struct frame *f = &fr[i];

		for (size_t n = 0; n <= f->n; n++)
			midflow_agrees(LINK_EN10MB, f->b, n);
		for (size_t at = 0; at < 14 + 40 + 40 && at < f->n; at++) {
			uint8_t keep = f->b[at];

			for (size_t v = 0; v < ARRAY_SIZE(vals); v++) {
				f->b[at] = vals[v];
				for (size_t l = 0; l < ARRAY_SIZE(links); l++) {
					size_t skip = links[l] == LINK_EN10MB ? 0 : 14;
					struct decode_stats st;

					midflow_agrees(links[l], f->b + skip, f->n - skip);
					yes += midflow_exact(links[l], f->b + skip, f->n - skip,
							     &st);
				}
			}
			f->b[at] = keep;
		}
	}
	/* The changes left many frames mid-flow: the agreement was tested. */
	assert_true(yes > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ether_tcp_syn),
		cmocka_unit_test(test_midflow),
		cmocka_unit_test(test_midflow_agrees),
		cmocka_unit_test(test_tcp_flags),
		cmocka_unit_test(test_tcp_seq_payload),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_icmp_echo),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_l2_bcast),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv4_tiny_fragment),
		cmocka_unit_test(test_ipv6_ext_headers),
		cmocka_unit_test(test_ipv6_no_l4),
		cmocka_unit_test(test_ipv6_chain_bound),
		cmocka_unit_test(test_icmp_unreach_udp),
		cmocka_unit_test(test_icmp_unreach_tcp_quote_options),
		cmocka_unit_test(test_icmp6_unreach_tcp),
		cmocka_unit_test(test_icmp_time_exceeded),
		cmocka_unit_test(test_icmp_quote_partial),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_link_sll),
		cmocka_unit_test(test_link_raw),
		cmocka_unit_test(test_link_loopback),
		cmocka_unit_test(test_link_unknown),
		cmocka_unit_test(test_unsupported_ethertype),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_stats_and_names),
		cmocka_unit_test(test_eth_macs),
		cmocka_unit_test(test_sll_macs),
		cmocka_unit_test(test_no_mac_raw_loopback),
		cmocka_unit_test(test_arp_hw_addrs),
		cmocka_unit_test(test_nd_ns_sllao),
		cmocka_unit_test(test_nd_ns_dad),
		cmocka_unit_test(test_nd_na_tllao_flags),
		cmocka_unit_test(test_nd_rs_ra_sllao),
		cmocka_unit_test(test_nd_redirect),
		cmocka_unit_test(test_nd_option_len0),
		cmocka_unit_test(test_nd_truncated),
		cmocka_unit_test(test_dhcp_discover_request),
		cmocka_unit_test(test_dhcp_ack),
		cmocka_unit_test(test_dhcp_truncated),
		cmocka_unit_test(test_dhcp_bad_cookie),
		cmocka_unit_test(test_dhcp6_solicit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
