/* Packet decoding: link layer (with the MAC addresses it carries), optional
 * VLAN tags, ARP or IPv4/IPv6 (with extension headers), then
 * TCP/UDP/ICMP/ICMPv6, the header quoted in ICMP errors, IPv6 neighbour
 * discovery, and the start of DHCPv4 and DHCPv6 messages.
 *
 * This is the daemon's hostile-input surface.  Every byte is read through
 * struct cur, whose helpers check the bound before touching memory and
 * return false instead; nothing here allocates, does I/O or keeps state.
 *
 * Internally the parsers return enum decode_err rather than -errno: the
 * statistics need to tell "truncated" from "malformed", which both map to
 * -EBADMSG.  Only decode_packet() converts. */
#include "decode.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

/* IEEE 802.1Q allows stacking; real networks use two (QinQ), rarely three.
 * Four leaves room for that; a fifth tag is reported as an unsupported
 * ethertype. */
#define MAX_VLAN_TAGS 4

/* RFC 8200 4.1: each extension header occurs at most once, except
 * destination options (twice).  Hop-by-hop, destination options, routing,
 * fragment, AH, destination options, mobility: 7, so a chain longer than 8
 * is not a packet any conforming stack sent. */
#define MAX_IPV6_EXT_HDRS 8

#define ETHERTYPE_IPV4	   0x0800
#define ETHERTYPE_ARP	   0x0806
#define ETHERTYPE_IPV6	   0x86dd
#define ETHERTYPE_8021Q	   0x8100
#define ETHERTYPE_8021AD   0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100 /* pre-802.1ad QinQ outer tag */

#define IPV4_HDR_MIN 20
#define ICMP_HDR_LEN 4 /* type, code, checksum; the next 4 bytes depend on the type */
#define ICMP_ERR_HDR 8 /* the quoted packet starts this far into an ICMP error */

/* Linux packet types (<linux/if_packet.h> PACKET_*) in SLL/SLL2 headers. */
#define SLL_BROADCAST 1
#define SLL_MULTICAST 2
#define SLL_OUTGOING  4

/* Address families in DLT_NULL / DLT_LOOP headers.  AF_INET is 2 on every
 * BSD; AF_INET6 differs: 24 on OpenBSD/NetBSD, 28 on FreeBSD, 30 on Darwin. */
#define BSD_AF_INET	  2
#define BSD_AF_INET6_BSD  24
#define BSD_AF_INET6_FBSD 28
#define BSD_AF_INET6_OSX  30

#define ICMP_ECHOREPLY	   0
#define ICMP_UNREACH	   3
#define ICMP_ECHO	   8
#define ICMP_TIMXCEED	   11
#define ICMP6_UNREACH	   1
#define ICMP6_TIMXCEED	   3
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY   129

#define IP_MF	   0x2000 /* IPv4 more-fragments flag */
#define IP_OFFMASK 0x1fff /* IPv4 fragment offset, in 8-byte units */

#define SLL_HATYPE_ETHER 1 /* ARPHRD_ETHER: the SLL/SLL2 address is a MAC */

/* Neighbour discovery (RFC 4861 section 4). */
#define ND_RS		133
#define ND_RA		134
#define ND_NS		135
#define ND_NA		136
#define ND_REDIRECT	137
#define ND_OPT_SLLA	1    /* source link-layer address */
#define ND_OPT_TLLA	2    /* target link-layer address */
#define ND_NA_ROUTER	0x80 /* NA flags byte */
#define ND_NA_SOLICITED 0x40
#define ND_NA_OVERRIDE	0x20
#define ND_RA_FIXED	12 /* hop limit, flags, lifetime(2), reachable(4), retrans(4) */
/* Every option is at least 8 bytes, so a 1500-byte message holds at most
 * 180.  Real ones carry a handful (an RA: SLLAO, MTU, a few prefixes,
 * routes, RDNSS, DNSSL); 32 leaves room for those and bounds the walk
 * over a crafted message, whose link-layer option is not worth more. */
#define ND_MAX_OPTS 32

/* DHCPv4 (RFC 2131 section 2, RFC 2132). */
#define BOOTPS_PORT	  67
#define BOOTPC_PORT	  68
#define BOOTP_HTYPE_ETHER 1
#define BOOTP_SNAME_FILE  (64 + 128) /* sname and file, between chaddr and the cookie */
#define BOOTP_CHADDR_LEN  16
#define DHCP_MAGIC	  0x63825363u
#define DHCP_OPT_PAD	  0
#define DHCP_OPT_REQ_IP	  50
#define DHCP_OPT_MSG_TYPE 53
#define DHCP_OPT_END	  255
/* Options in a message, pad bytes included.  Clients send 5 to 20; 64 is
 * room for the longest parameter lists we have seen while bounding the
 * walk over a crafted message of pad bytes. */
#define DHCP_MAX_OPTS 64

/* DHCPv6 (RFC 8415 section 7.2). */
#define DHCP6_CLIENT_PORT 546
#define DHCP6_SERVER_PORT 547

/* A read-only window on packet bytes.  Invariant: off <= len.  A narrowed
 * cursor keeps the same base pointer and lowers len, so no pointer
 * arithmetic happens before a bound has been checked. */
struct cur {
	const uint8_t *ptr;
	size_t len; /* bytes readable from ptr */
	size_t off; /* next byte to read */
};

static void cur_init(struct cur *c, const uint8_t *ptr, size_t len)
{
	c->ptr = ptr;
	c->len = ptr ? len : 0;
	c->off = 0;
}

static size_t cur_left(const struct cur *c)
{
	return c->len - c->off;
}

static bool cur_skip(struct cur *c, size_t n)
{
	if (n > cur_left(c))
		return false;
	c->off += n;
	return true;
}

static bool cur_bytes(struct cur *c, void *dst, size_t n)
{
	if (n > cur_left(c))
		return false;
	memcpy(dst, c->ptr + c->off, n);
	c->off += n;
	return true;
}

static bool cur_peek_u8(const struct cur *c, uint8_t *ret)
{
	if (cur_left(c) < 1)
		return false;
	*ret = c->ptr[c->off];
	return true;
}

static bool cur_u8(struct cur *c, uint8_t *ret)
{
	if (!cur_peek_u8(c, ret))
		return false;
	c->off++;
	return true;
}

static bool cur_be16(struct cur *c, uint16_t *ret)
{
	uint8_t b[2];

	if (!cur_bytes(c, b, sizeof(b)))
		return false;
	*ret = (uint16_t)(b[0] << 8 | b[1]);
	return true;
}

static bool cur_be32(struct cur *c, uint32_t *ret)
{
	uint8_t b[4];

	if (!cur_bytes(c, b, sizeof(b)))
		return false;
	*ret = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return true;
}

/* Narrows the cursor to at most n more bytes: an IP header's length field
 * is the packet's end, and anything after it is link padding.  Returns true
 * when the declared end lies within the captured bytes, i.e. when running
 * out of bytes later means the packet itself is too short (malformed)
 * rather than cut by the snaplen (truncated). */
static bool cur_limit(struct cur *c, size_t n)
{
	if (n > cur_left(c))
		return false;
	c->len = c->off + n;
	return true;
}

/* The fields of an IPv4 or IPv6 header (and IPv6 extension headers) that we
 * keep, read field by field out of the packet.  The parsers fill it as they
 * go, so after a failure it holds whatever was read: decode_ip() looks at
 * `bounded` then to tell a truncated packet from a malformed one. */
struct ip_info {
	struct qaddr src, dst;
	uint16_t id;
	uint8_t proto; /* upper-layer protocol, after any extension headers */
	uint8_t ttl;
	bool later_frag; /* fragment offset != 0: no L4 header here */
	bool first_frag; /* offset 0 with more fragments to come */
	bool bounded;	 /* the length field ends the packet within the capture */
	bool has_end;	 /* the length field is set: end is meaningful */
	size_t end;	 /* cursor offset where the length field ends the packet */
};

static bool is_vlan_tpid(uint16_t type)
{
	return type == ETHERTYPE_8021Q || type == ETHERTYPE_8021AD || type == ETHERTYPE_QINQ_OLD;
}

/* Reads an IPv4 header up to the start of L4.  For the outer packet
 * (quoted == false) the total length is checked and the cursor narrowed to
 * it.  A quoted header's total length describes the original packet, of
 * which the ICMP error carries only the start, and some stacks rewrite it
 * (historic BSDs quote it in host byte order), so it is not looked at. */
static enum decode_err ipv4_parse(struct cur *c, bool quoted, struct ip_info *ip)
{
	uint8_t vhl, b[4];
	uint16_t tot_len, frag;
	size_t hlen;

	if (!cur_u8(c, &vhl) || !cur_skip(c, 1) || !cur_be16(c, &tot_len) ||
	    !cur_be16(c, &ip->id) || !cur_be16(c, &frag) || !cur_u8(c, &ip->ttl) ||
	    !cur_u8(c, &ip->proto) || !cur_skip(c, 2))
		return DECODE_E_TRUNCATED;
	if (!cur_bytes(c, b, 4))
		return DECODE_E_TRUNCATED;
	addr_set_v4(&ip->src, b);
	if (!cur_bytes(c, b, 4))
		return DECODE_E_TRUNCATED;
	addr_set_v4(&ip->dst, b);

	if (vhl >> 4 != 4)
		return DECODE_E_MALFORMED;
	/* IHL counts 32-bit words and includes the 20 fixed bytes. */
	hlen = (size_t)(vhl & 0x0f) * 4;
	if (hlen < IPV4_HDR_MIN)
		return DECODE_E_MALFORMED;

	ip->later_frag = (frag & IP_OFFMASK) != 0;
	ip->first_frag = !ip->later_frag && (frag & IP_MF);
	ip->bounded = false;

	if (!quoted) {
		/* A total length of 0 is what TCP segmentation offload leaves in
		 * captures of outgoing super-packets: the length is unknown,
		 * not inconsistent, so the captured bytes bound the packet. */
		if (tot_len != 0 && tot_len < hlen)
			return DECODE_E_MALFORMED;
		if (tot_len != 0) {
			ip->has_end = true;
			ip->end = c->off + (size_t)tot_len - IPV4_HDR_MIN;
			ip->bounded = cur_limit(c, (size_t)tot_len - IPV4_HDR_MIN);
		}
	}
	/* Options are skipped unread. */
	if (!cur_skip(c, hlen - IPV4_HDR_MIN))
		return DECODE_E_TRUNCATED;
	return DECODE_OK;
}

/* Walks the IPv6 extension-header chain that starts with next header
 * ip->proto, leaving the cursor at the upper-layer header and ip->proto
 * naming it: TCP, UDP, ICMPv6, or something we do not look into (ESP, no
 * next header, an unknown number).  A fragment with a non-zero offset ends
 * the walk: what follows is the middle of some other header. */
static enum decode_err ipv6_walk_ext(struct cur *c, struct ip_info *ip)
{
	uint8_t nh = ip->proto;

	for (unsigned n = 0;; n++) {
		uint8_t next, len;
		uint16_t offflags;
		size_t skip;

		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_MH:
		case IPPROTO_AH:
		case IPPROTO_FRAGMENT:
			break;
		default:
			ip->proto = nh;
			return DECODE_OK;
		}
		if (n == MAX_IPV6_EXT_HDRS)
			return DECODE_E_MALFORMED;
		if (!cur_u8(c, &next) || !cur_u8(c, &len))
			return DECODE_E_TRUNCATED;

		if (nh == IPPROTO_FRAGMENT) {
			/* Fixed 8 bytes: next, reserved, offset(13 bits)|res|M, id. */
			if (!cur_be16(c, &offflags) || !cur_skip(c, 4))
				return DECODE_E_TRUNCATED;
			if (offflags >> 3) {
				ip->later_frag = true;
				ip->proto = next;
				return DECODE_OK;
			}
			ip->first_frag = offflags & 1;
			nh = next;
			continue;
		}
		/* RFC 4302: AH length is in 4-byte units minus 2; the others
		 * (RFC 8200, RFC 6275) are in 8-byte units not counting the
		 * first 8.  Two bytes were read already. */
		if (nh == IPPROTO_AH)
			skip = ((size_t)len + 2) * 4 - 2;
		else
			skip = ((size_t)len + 1) * 8 - 2;
		if (!cur_skip(c, skip))
			return DECODE_E_TRUNCATED;
		nh = next;
	}
}

/* Reads the fixed IPv6 header and the extension-header chain.  For the
 * outer packet the payload length narrows the cursor; 0 means a jumbogram
 * (RFC 2675) or a captured BIG TCP super-packet, whose length is unknown. */
static enum decode_err ipv6_parse(struct cur *c, bool quoted, struct ip_info *ip)
{
	uint8_t b[16];
	uint8_t vtc;
	uint16_t plen;

	if (!cur_u8(c, &vtc) || !cur_skip(c, 3) || !cur_be16(c, &plen) || !cur_u8(c, &ip->proto) ||
	    !cur_u8(c, &ip->ttl))
		return DECODE_E_TRUNCATED;
	if (!cur_bytes(c, b, 16))
		return DECODE_E_TRUNCATED;
	addr_set_v6(&ip->src, b);
	if (!cur_bytes(c, b, 16))
		return DECODE_E_TRUNCATED;
	addr_set_v6(&ip->dst, b);
	if (vtc >> 4 != 6)
		return DECODE_E_MALFORMED;

	ip->id = 0;
	ip->later_frag = false;
	ip->first_frag = false;
	ip->bounded = false;
	if (!quoted && plen != 0) {
		ip->has_end = true;
		ip->end = c->off + plen;
		ip->bounded = cur_limit(c, plen);
	}
	return ipv6_walk_ext(c, ip);
}

/* Fills a quote from the start of the L4 header quoted in an ICMP error.
 * RFC 792 guarantees only 8 bytes of it: enough for ports and the echo id,
 * which is all we take. */
static void quote_l4(struct cur *c, bool v6, struct pkt_quote *q)
{
	uint8_t type;
	uint16_t a, b;

	switch (q->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (cur_be16(c, &a) && cur_be16(c, &b)) {
			q->sport = a;
			q->dport = b;
			q->has_ports = 1;
		}
		return;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((q->proto == IPPROTO_ICMPV6) != v6 || !cur_u8(c, &type))
			return;
		q->icmp_type = type;
		/* Only an echo request identifies a probe; a quoted error is
		 * not looked into (quotes do not recurse). */
		if (type != (v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO))
			return;
		if (cur_skip(c, 3) && cur_be16(c, &a)) {
			q->sport = a;
			q->dport = a;
			q->has_ports = 1;
		}
		return;
	default:
		return;
	}
}

/* Decodes the packet quoted in an ICMP/ICMPv6 error.  *ret is written only
 * when the quoted IP header decodes; a quote we cannot read is no reason to
 * drop the error itself. */
static void decode_quote(struct cur *c, bool v6, struct pkt_quote *ret)
{
	struct pkt_quote q = {0};
	struct ip_info ip = {0};
	enum decode_err e;

	e = v6 ? ipv6_parse(c, true, &ip) : ipv4_parse(c, true, &ip);
	if (e != DECODE_OK)
		return;
	q.valid = 1;
	q.proto = ip.proto;
	q.src = ip.src;
	q.dst = ip.dst;
	if (!ip.later_frag)
		quote_l4(c, v6, &q);
	*ret = q;
}

/* The TCP header up to the flags.  The payload's length comes from the IP
 * length field (ip->end), so that it is known beyond the snap length: a
 * bare ACK probe and a connection's data are told apart without the data. */
static enum decode_err decode_tcp(struct cur *c, const struct ip_info *ip, struct pkt *p)
{
	size_t start = c->off, hlen;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t off, flags;

	if (!cur_be16(c, &sport) || !cur_be16(c, &dport) || !cur_be32(c, &seq) ||
	    !cur_be32(c, &ack) || !cur_u8(c, &off) || !cur_u8(c, &flags))
		return DECODE_E_TRUNCATED;
	/* Data offset in 32-bit words; the fixed header alone is 5. */
	if (off >> 4 < 5)
		return DECODE_E_MALFORMED;
	hlen = (size_t)(off >> 4) * 4;
	/* The header runs past the packet (a first fragment's may go on in
	 * the next fragment: RFC 1858's tiny fragments, reported as such). */
	if (ip->has_end && ip->end < start + hlen)
		return ip->first_frag ? DECODE_E_TRUNCATED : DECODE_E_MALFORMED;
	p->sport = sport;
	p->dport = dport;
	p->tcp_flags = flags;
	p->tcp_hlen = (uint8_t)hlen;
	p->tcp_seq = seq;
	p->tcp_ack = ack;
	if (ip->has_end && !ip->first_frag)
		p->tcp_paylen = (uint32_t)(ip->end - start - hlen);
	else
		p->tcp_paylen = PKT_PAYLEN_UNKNOWN;
	p->flags |= PKT_F_L4;
	return DECODE_OK;
}

/* BOOTP writes 0.0.0.0 for "no address": leave the family 0 then. */
static void set_v4_unless_zero(struct qaddr *a, const uint8_t b[4])
{
	if (b[0] | b[1] | b[2] | b[3])
		addr_set_v4(a, b);
}

/* Walks DHCP options (code, length, value; pad and end are one byte) up to
 * the end option, the end of the capture or DHCP_MAX_OPTS, keeping the
 * message type and the requested address.  Option overload (52: more
 * options in sname/file) is not followed. */
static void dhcp_options(struct cur *c, struct pkt_dhcp *d)
{
	for (unsigned n = 0; n < DHCP_MAX_OPTS; n++) {
		uint8_t code, len, b[4];

		if (!cur_u8(c, &code) || code == DHCP_OPT_END)
			return;
		if (code == DHCP_OPT_PAD)
			continue;
		if (!cur_u8(c, &len))
			return;
		if (code == DHCP_OPT_MSG_TYPE && len == 1) {
			if (!cur_u8(c, &d->msgtype))
				return;
		} else if (code == DHCP_OPT_REQ_IP && len == 4) {
			if (!cur_bytes(c, b, sizeof(b)))
				return;
			set_v4_unless_zero(&d->reqip, b);
		} else if (!cur_skip(c, len)) {
			return;
		}
	}
}

/* DHCPv4: the BOOTP fixed header at the start of the UDP payload, then the
 * options when the capture reaches them (the default snaplen ends inside
 * sname, 236 bytes before them).  Best effort, never an error for the UDP
 * packet: a fixed header cut before the end of chaddr, or one that is not
 * Ethernet BOOTP, leaves PKT_F_DHCP clear. */
static void decode_dhcp(struct cur *c, struct pkt *p)
{
	struct pkt_dhcp d = {0};
	uint8_t htype, hlen, ci[4], yi[4];
	uint32_t magic;

	/* op htype hlen, then hops(1) xid(4) secs(2) flags(2), ciaddr
	 * yiaddr, siaddr giaddr (8), chaddr(16) of which a MAC uses 6. */
	if (!cur_u8(c, &d.op) || !cur_u8(c, &htype) || !cur_u8(c, &hlen) || !cur_skip(c, 9) ||
	    !cur_bytes(c, ci, sizeof(ci)) || !cur_bytes(c, yi, sizeof(yi)) || !cur_skip(c, 8) ||
	    !cur_bytes(c, d.chaddr, MAC_LEN) || !cur_skip(c, BOOTP_CHADDR_LEN - MAC_LEN))
		return;
	if (htype != BOOTP_HTYPE_ETHER || hlen != MAC_LEN ||
	    (d.op != DHCP_OP_REQUEST && d.op != DHCP_OP_REPLY))
		return;
	set_v4_unless_zero(&d.ciaddr, ci);
	set_v4_unless_zero(&d.yiaddr, yi);
	/* Without the cookie this is plain BOOTP, or not BOOTP at all: the
	 * options would be someone else's bytes. */
	if (cur_skip(c, BOOTP_SNAME_FILE) && cur_be32(c, &magic) && magic == DHCP_MAGIC)
		dhcp_options(c, &d);
	p->dhcp = d;
	p->flags |= PKT_F_DHCP;
}

/* DHCPv6: the message type only.  Client DUIDs may carry a MAC, but any
 * MAC the client likes (often another NIC's), so they are not read. */
static void decode_dhcp6(struct cur *c, struct pkt *p)
{
	if (cur_u8(c, &p->dhcp6_type))
		p->flags |= PKT_F_DHCP6;
}

static enum decode_err decode_udp(struct cur *c, bool v6, struct pkt *p)
{
	uint16_t sport, dport;

	/* Length and checksum are not used: both may be 0 legitimately
	 * (jumbograms, IPv4 without checksum). */
	if (!cur_be16(c, &sport) || !cur_be16(c, &dport) || !cur_skip(c, 4))
		return DECODE_E_TRUNCATED;
	p->sport = sport;
	p->dport = dport;
	p->flags |= PKT_F_L4;
	/* DHCPv4 is IPv4 only, DHCPv6 IPv6 only. */
	if (!v6 && (sport == BOOTPS_PORT || sport == BOOTPC_PORT || dport == BOOTPS_PORT ||
		    dport == BOOTPC_PORT))
		decode_dhcp(c, p);
	else if (v6 && (sport == DHCP6_CLIENT_PORT || sport == DHCP6_SERVER_PORT ||
			dport == DHCP6_CLIENT_PORT || dport == DHCP6_SERVER_PORT))
		decode_dhcp6(c, p);
	return DECODE_OK;
}

/* Walks the options of an ND message (type, length in 8-byte units) for
 * the link-layer address option `want`.  Only the Ethernet form, one unit
 * holding a MAC, is taken, and the first one wins.  A zero length is
 * malformed (RFC 4861 4.6) and leaves the rest unparseable, so the walk
 * stops there, as at the end of the capture: the message stays decoded. */
static void nd_options(struct cur *c, uint8_t want, struct pkt_nd *nd)
{
	for (unsigned n = 0; n < ND_MAX_OPTS; n++) {
		uint8_t type, len;

		if (!cur_u8(c, &type) || !cur_u8(c, &len) || len == 0)
			return;
		if (type == want && len == 1) {
			if (cur_bytes(c, nd->lladdr, MAC_LEN))
				nd->flags |= ND_F_LLADDR;
			return;
		}
		if (!cur_skip(c, (size_t)len * 8 - 2))
			return;
	}
}

/* Neighbour discovery (RFC 4861 section 4), from just after the ICMPv6
 * type, code and checksum.  Writes *ret and returns true once the fixed
 * part of the message is read; a message cut before its options start is
 * still ICMPv6 for the detectors, just not ND. */
static bool decode_nd(struct cur *c, uint8_t type, struct pkt_nd *ret)
{
	struct pkt_nd nd = {.type = type};
	uint8_t want = ND_OPT_SLLA;
	uint8_t b[16], first;

	switch (type) {
	case ND_RS:
		if (!cur_skip(c, 4)) /* reserved */
			return false;
		break;
	case ND_RA:
		if (!cur_skip(c, ND_RA_FIXED))
			return false;
		break;
	case ND_NS:
	case ND_NA:
	case ND_REDIRECT:
		/* NA flags or reserved (1), reserved (3), target; a redirect
		 * then has the destination. */
		if (!cur_u8(c, &first) || !cur_skip(c, 3) || !cur_bytes(c, b, sizeof(b)))
			return false;
		if (type == ND_REDIRECT && !cur_skip(c, 16))
			return false;
		addr_set_v6(&nd.target, b);
		if (type == ND_NA) {
			if (first & ND_NA_ROUTER)
				nd.flags |= ND_F_ROUTER;
			if (first & ND_NA_SOLICITED)
				nd.flags |= ND_F_SOLICITED;
			if (first & ND_NA_OVERRIDE)
				nd.flags |= ND_F_OVERRIDE;
		}
		if (type != ND_NS)
			want = ND_OPT_TLLA;
		break;
	default:
		return false;
	}
	nd_options(c, want, &nd);
	*ret = nd;
	return true;
}

static enum decode_err decode_icmp(struct cur *c, bool v6, struct pkt *p)
{
	uint8_t type, code;
	uint16_t id = 0;
	bool echo, error;

	if (!cur_u8(c, &type) || !cur_u8(c, &code) || !cur_skip(c, 2))
		return DECODE_E_TRUNCATED;
	if (v6) {
		echo = type == ICMP6_ECHO_REQUEST || type == ICMP6_ECHO_REPLY;
		error = type == ICMP6_UNREACH || type == ICMP6_TIMXCEED;
	} else {
		echo = type == ICMP_ECHO || type == ICMP_ECHOREPLY;
		error = type == ICMP_UNREACH || type == ICMP_TIMXCEED;
	}
	if (echo && !cur_be16(c, &id))
		return DECODE_E_TRUNCATED;
	/* Errors carry 4 unused (or MTU) bytes, then the offending packet. */
	if (error && cur_skip(c, ICMP_ERR_HDR - ICMP_HDR_LEN))
		decode_quote(c, v6, &p->quote);
	if (v6 && type >= ND_RS && type <= ND_REDIRECT && decode_nd(c, type, &p->nd))
		p->flags |= PKT_F_ND;
	p->icmp_type = type;
	p->icmp_code = code;
	p->icmp_id = id;
	p->flags |= PKT_F_L4;
	return DECODE_OK;
}

/* Decodes an IP packet of either family and its transport header. */
static enum decode_err decode_ip(struct cur *c, bool v6, struct pkt *p)
{
	struct ip_info ip = {0};
	enum decode_err e;

	e = v6 ? ipv6_parse(c, false, &ip) : ipv4_parse(c, false, &ip);
	if (e == DECODE_E_TRUNCATED && ip.bounded)
		return DECODE_E_MALFORMED;
	if (e != DECODE_OK)
		return e;

	p->l3 = v6 ? PKT_L3_IPV6 : PKT_L3_IPV4;
	p->src = ip.src;
	p->dst = ip.dst;
	p->ttl = ip.ttl;
	p->ip_id = ip.id;
	p->proto = ip.proto;
	if (ip.later_frag) {
		p->flags |= PKT_F_FRAGMENT;
		return DECODE_OK;
	}

	if (ip.proto == IPPROTO_TCP)
		e = decode_tcp(c, &ip, p);
	else if (ip.proto == IPPROTO_UDP)
		e = decode_udp(c, v6, p);
	else if (ip.proto == (v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP))
		e = decode_icmp(c, v6, p);
	else
		return DECODE_OK; /* ESP, GRE, no next header...: no L4 we track */

	if (e == DECODE_E_TRUNCATED && ip.bounded) {
		/* The packet's own length ends inside the L4 header.  For a
		 * first fragment that is a tiny fragment (RFC 1858): legal,
		 * but the header continues in the next one, so report it like
		 * a fragment without L4.  Otherwise the lengths disagree.
		 * The L4 decoders write *p only on success. */
		if (!ip.first_frag)
			return DECODE_E_MALFORMED;
		p->flags |= PKT_F_FRAGMENT;
		return DECODE_OK;
	}
	return e;
}

static enum decode_err decode_arp(struct cur *c, struct pkt *p)
{
	uint16_t htype, ptype, op;
	uint8_t hlen, plen, spa[4], tpa[4], sha[MAC_LEN], tha[MAC_LEN];

	if (!cur_be16(c, &htype) || !cur_be16(c, &ptype) || !cur_u8(c, &hlen) || !cur_u8(c, &plen))
		return DECODE_E_TRUNCATED;
	/* Ethernet (1) hardware, IPv4 protocol addresses: the only ARP that
	 * maps to the hosts we track. */
	if (htype != 1 || ptype != ETHERTYPE_IPV4 || hlen != 6 || plen != 4)
		return DECODE_E_UNSUPPORTED;
	if (!cur_be16(c, &op) || !cur_bytes(c, sha, MAC_LEN) || !cur_bytes(c, spa, 4) ||
	    !cur_bytes(c, tha, MAC_LEN) || !cur_bytes(c, tpa, 4))
		return DECODE_E_TRUNCATED;
	p->l3 = PKT_L3_ARP;
	p->arp_op = op;
	memcpy(p->arp_sha, sha, MAC_LEN);
	memcpy(p->arp_tha, tha, MAC_LEN);
	addr_set_v4(&p->src, spa);
	addr_set_v4(&p->dst, tpa);
	return DECODE_OK;
}

/* Dispatches on an ethertype, first unwrapping VLAN tags (4 bytes each: TCI
 * then the next ethertype).  Shared by Ethernet and the Linux cooked
 * headers, where libpcap reinserts a tag the kernel had stripped. */
static enum decode_err decode_ethertype(struct cur *c, uint16_t type, struct pkt *p)
{
	for (unsigned i = 0; i < MAX_VLAN_TAGS && is_vlan_tpid(type); i++) {
		uint16_t tci;

		if (!cur_be16(c, &tci) || !cur_be16(c, &type))
			return DECODE_E_TRUNCATED;
		if (i == 0)
			p->vlan = tci & 0x0fff; /* the low 12 bits; PCP and DEI above */
	}
	switch (type) {
	case ETHERTYPE_IPV4:
		return decode_ip(c, false, p);
	case ETHERTYPE_IPV6:
		return decode_ip(c, true, p);
	case ETHERTYPE_ARP:
		return decode_arp(c, p);
	default:
		return DECODE_E_UNSUPPORTED;
	}
}

/* A source MAC names the machine that sent the frame, unless it is a group
 * address or all zero (see mac_is_unicast()): no machine sends from
 * those, so such a frame is forged, or from a loopback device. */
static void set_src_mac(struct pkt *p, const uint8_t mac[MAC_LEN])
{
	if (!mac_is_unicast(mac))
		return;
	memcpy(p->src_mac, mac, MAC_LEN);
	p->flags |= PKT_F_SMAC;
}

static enum decode_err decode_ether(struct cur *c, struct pkt *p)
{
	uint8_t smac[MAC_LEN];
	uint16_t type;

	if (!cur_bytes(c, p->dst_mac, MAC_LEN) || !cur_bytes(c, smac, MAC_LEN) ||
	    !cur_be16(c, &type))
		return DECODE_E_TRUNCATED;
	p->flags |= PKT_F_DMAC;
	/* The low bit of the first byte is the I/G (group) bit, set for
	 * broadcast and multicast. */
	if (p->dst_mac[0] & 0x01)
		p->flags |= PKT_F_L2_BCAST;
	set_src_mac(p, smac);
	return decode_ethertype(c, type, p);
}

static void sll_pkttype(uint16_t pkttype, struct pkt *p)
{
	if (pkttype == SLL_BROADCAST || pkttype == SLL_MULTICAST)
		p->flags |= PKT_F_L2_BCAST;
	else if (pkttype == SLL_OUTGOING)
		p->flags |= PKT_F_OUTGOING;
}

/* The cooked header's address field is the sender's link-layer address,
 * for outgoing packets the capturing interface's own.  Only an Ethernet
 * device's is a MAC. */
static void sll_src_mac(uint16_t hatype, uint16_t halen, const uint8_t addr[8], struct pkt *p)
{
	if (hatype == SLL_HATYPE_ETHER && halen == MAC_LEN)
		set_src_mac(p, addr);
}

static enum decode_err decode_sll(struct cur *c, struct pkt *p)
{
	uint16_t pkttype, hatype, halen, proto;
	uint8_t addr[8];

	/* pkttype(2) hatype(2) halen(2) addr(8) protocol(2) */
	if (!cur_be16(c, &pkttype) || !cur_be16(c, &hatype) || !cur_be16(c, &halen) ||
	    !cur_bytes(c, addr, sizeof(addr)) || !cur_be16(c, &proto))
		return DECODE_E_TRUNCATED;
	sll_pkttype(pkttype, p);
	sll_src_mac(hatype, halen, addr, p);
	return decode_ethertype(c, proto, p);
}

static enum decode_err decode_sll2(struct cur *c, struct pkt *p)
{
	uint16_t proto, hatype;
	uint8_t pkttype, halen, addr[8];

	/* protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1)
	 * addr(8) */
	if (!cur_be16(c, &proto) || !cur_skip(c, 6) || !cur_be16(c, &hatype) ||
	    !cur_u8(c, &pkttype) || !cur_u8(c, &halen) || !cur_bytes(c, addr, sizeof(addr)))
		return DECODE_E_TRUNCATED;
	sll_pkttype(pkttype, p);
	sll_src_mac(hatype, halen, addr, p);
	return decode_ethertype(c, proto, p);
}

/* IP version (4 or 6) for an address family in a BSD loopback header, 0 for
 * any other family. */
static int bsd_af_version(uint32_t af)
{
	if (af == BSD_AF_INET)
		return 4;
	if (af == BSD_AF_INET6_BSD || af == BSD_AF_INET6_FBSD || af == BSD_AF_INET6_OSX)
		return 6;
	return 0;
}

/* DLT_NULL carries the AF in the byte order of the host that wrote the
 * capture, DLT_LOOP in network byte order.  The known values are below 256,
 * so no value is known in both byte orders and trying both is unambiguous. */
static enum decode_err decode_loopback(struct cur *c, bool any_order, struct pkt *p)
{
	uint8_t b[4];
	uint32_t be, le;
	int v;

	if (!cur_bytes(c, b, sizeof(b)))
		return DECODE_E_TRUNCATED;
	be = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	le = (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
	v = bsd_af_version(be);
	if (v == 0 && any_order)
		v = bsd_af_version(le);
	if (v == 0)
		return DECODE_E_UNSUPPORTED;
	return decode_ip(c, v == 6, p);
}

/* Raw IP of either family: the version nibble says which. */
static enum decode_err decode_raw(struct cur *c, struct pkt *p)
{
	uint8_t v;

	if (!cur_peek_u8(c, &v))
		return DECODE_E_TRUNCATED;
	if (v >> 4 == 4)
		return decode_ip(c, false, p);
	if (v >> 4 == 6)
		return decode_ip(c, true, p);
	return DECODE_E_MALFORMED;
}

static enum decode_err decode_link(int dlt, struct cur *c, struct pkt *p)
{
	switch (dlt) {
	case LINK_EN10MB:
		return decode_ether(c, p);
	case LINK_LINUX_SLL:
		return decode_sll(c, p);
	case LINK_LINUX_SLL2:
		return decode_sll2(c, p);
	case LINK_NULL:
		return decode_loopback(c, true, p);
	case LINK_LOOP:
		return decode_loopback(c, false, p);
	case LINK_RAW:
	case LINK_RAW_ALT:
	case LINK_RAW_101:
		return decode_raw(c, p);
	case LINK_IPV4:
		return decode_ip(c, false, p);
	case LINK_IPV6:
		return decode_ip(c, true, p);
	default:
		return DECODE_E_LINKTYPE;
	}
}

int decode_packet(int dlt, const uint8_t *data, size_t caplen, size_t wirelen, struct pkt *ret,
		  struct decode_stats *stats)
{
	struct cur c;
	enum decode_err e;

	memset(ret, 0, sizeof(*ret));
	ret->wirelen = wirelen > UINT32_MAX ? UINT32_MAX : (uint32_t)wirelen;
	cur_init(&c, data, caplen);
	e = decode_link(dlt, &c, ret);

	if (stats) {
		stats->packets++;
		if (e == DECODE_OK)
			stats->decoded++;
		else
			stats->err[e]++;
	}
	switch (e) {
	case DECODE_OK:
		return 0;
	case DECODE_E_LINKTYPE:
		return -EPROTONOSUPPORT;
	case DECODE_E_UNSUPPORTED:
		return -ENOTSUP;
	case DECODE_E_TRUNCATED:
	case DECODE_E_MALFORMED:
	case DECODE_E_MAX:
		break;
	}
	return -EBADMSG;
}

/* ---- the pre-check for segments of connections under way ---- */

#define TCP_FIN	    0x01
#define TCP_SYN	    0x02
#define TCP_RST	    0x04
#define TCP_ACK	    0x10
#define TCP_HDR_MIN 20

/* The TCP header of a segment whose IP header starts at c's offset, for
 * decode_midflow(): true when it is a mid-flow segment that decode_ip()
 * would decode without error.  It repeats decode_ip()'s checks on the
 * path it takes (IPv4 without fragmentation, IPv6 without extension
 * headers, a length field that is set), and leaves every other case to
 * decode_packet(). */
static bool midflow_ip(struct cur *c, bool v6)
{
	size_t start = c->off, hlen, end, thlen;
	uint16_t len;
	uint8_t b[IPV4_HDR_MIN], off, flags;

	if (v6) {
		/* version(4) class/label(28) length(2) next header(1) ... */
		if (!cur_bytes(c, b, 8) || b[0] >> 4 != 6 || b[6] != IPPROTO_TCP)
			return false;
		len = (uint16_t)(b[4] << 8 | b[5]);
		hlen = 40;
		end = start + hlen + len;
	} else {
		if (!cur_bytes(c, b, IPV4_HDR_MIN) || b[0] >> 4 != 4 || b[9] != IPPROTO_TCP)
			return false;
		len = (uint16_t)(b[2] << 8 | b[3]);
		hlen = (size_t)(b[0] & 0x0f) * 4;
		/* Any fragment, the first included (its TCP header may go on
		 * in the next one): decode_ip() tells those apart. */
		if ((b[6] << 8 | b[7]) & (IP_MF | IP_OFFMASK))
			return false;
		end = start + len;
	}
	/* A length of 0 (segmentation offload) leaves the payload's length
	 * unknown: decode_packet() says what that means. */
	if (len == 0 || hlen < IPV4_HDR_MIN || end < start + hlen)
		return false;
	/* What decode_ip() reads is bounded by the capture and the packet's
	 * own end, whichever comes first. */
	if (end < c->len)
		c->len = end;
	c->off = start;
	if (!cur_skip(c, hlen) || !cur_skip(c, 12) || !cur_u8(c, &off) || !cur_u8(c, &flags))
		return false;
	thlen = (size_t)(off >> 4) * 4;
	if (thlen < TCP_HDR_MIN || end < start + hlen + thlen)
		return false;
	/* Of a connection under way: ACK, and neither SYN, RST nor FIN
	 * (which the brute-force rules follow). */
	if (!(flags & TCP_ACK) || (flags & (TCP_SYN | TCP_RST | TCP_FIN)))
		return false;
	/* A bare ACK (ACK alone, no options, no payload) may be a probe. */
	return !(flags == TCP_ACK && thlen == TCP_HDR_MIN && end == start + hlen + thlen);
}

bool decode_midflow(int dlt, const uint8_t *data, size_t caplen, struct decode_stats *stats)
{
	struct cur c;
	uint16_t type;
	bool v6;

	cur_init(&c, data, caplen);
	switch (dlt) {
	case LINK_EN10MB:
		if (!cur_skip(&c, 2 * MAC_LEN) || !cur_be16(&c, &type))
			return false;
		for (unsigned i = 0; i < MAX_VLAN_TAGS && is_vlan_tpid(type); i++)
			if (!cur_skip(&c, 2) || !cur_be16(&c, &type))
				return false;
		if (type != ETHERTYPE_IPV4 && type != ETHERTYPE_IPV6)
			return false;
		v6 = type == ETHERTYPE_IPV6;
		break;
	case LINK_RAW:
	case LINK_RAW_ALT:
	case LINK_RAW_101: {
		uint8_t v;

		if (!cur_peek_u8(&c, &v))
			return false;
		v6 = v >> 4 == 6;
		break;
	}
	case LINK_IPV4:
	case LINK_IPV6:
		v6 = dlt == LINK_IPV6;
		break;
	default:
		/* Cooked and loopback captures: decode_packet(). */
		return false;
	}
	if (!midflow_ip(&c, v6))
		return false;
	if (stats) {
		stats->packets++;
		stats->decoded++;
	}
	return true;
}

bool decode_link_supported(int dlt)
{
	switch (dlt) {
	case LINK_NULL:
	case LINK_EN10MB:
	case LINK_RAW:
	case LINK_RAW_ALT:
	case LINK_LOOP:
	case LINK_LINUX_SLL:
	case LINK_RAW_101:
	case LINK_IPV4:
	case LINK_IPV6:
	case LINK_LINUX_SLL2:
		return true;
	default:
		return false;
	}
}

static const char *const decode_err_names[DECODE_E_MAX] = {
	[DECODE_OK] = "ok",
	[DECODE_E_TRUNCATED] = "truncated",
	[DECODE_E_MALFORMED] = "malformed",
	[DECODE_E_LINKTYPE] = "linktype",
	[DECODE_E_UNSUPPORTED] = "unsupported",
};

const char *decode_err_name(enum decode_err e)
{
	return (unsigned)e < DECODE_E_MAX ? decode_err_names[e] : "?";
}
