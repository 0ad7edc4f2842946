/* Packet decoding: captured bytes to a parsed header summary.
 *
 * Pure: no allocation, no I/O, no global state.  Every read goes through a
 * bounds-checked cursor; packet bytes are never cast to struct pointers.
 * Only headers are needed (the capture snaplen covers headers only), so a
 * payload cut short by the snaplen is not an error, but a header cut short
 * is. */
#ifndef QD_DECODE_H
#define QD_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Link types we decode (values of pcap_datalink(), i.e. DLT_*). */
#define LINK_NULL	0   /* BSD loopback, AF in the writer's byte order */
#define LINK_EN10MB	1   /* Ethernet, with 802.1Q / 802.1ad / QinQ tags */
#define LINK_RAW	12  /* raw IP (pcap_datalink() maps LINKTYPE_RAW 101 to 12) */
#define LINK_RAW_ALT	14  /* raw IP as OpenBSD numbers it */
#define LINK_LOOP	108 /* OpenBSD loopback, AF in network byte order */
#define LINK_LINUX_SLL	113
#define LINK_RAW_101	101 /* LINKTYPE_RAW, in case the raw value reaches us */
#define LINK_IPV4	228
#define LINK_IPV6	229
#define LINK_LINUX_SLL2 276

enum pkt_l3 {
	PKT_L3_NONE = 0,
	PKT_L3_IPV4,
	PKT_L3_IPV6,
	PKT_L3_ARP,
};

/* pkt.flags */
#define PKT_F_L2_BCAST 0x0001 /* link-layer broadcast or multicast destination */
#define PKT_F_FRAGMENT 0x0002 /* IP fragment other than the first: no L4 header */
#define PKT_F_L4       0x0004 /* sport/dport/tcp_flags/icmp fields are valid */
#define PKT_F_OUTGOING 0x0008 /* SLL/SLL2 packet type "outgoing" */
#define PKT_F_SMAC     0x0010 /* src_mac holds the frame's source MAC */
#define PKT_F_DMAC     0x0020 /* dst_mac holds the frame's destination MAC (Ethernet) */
#define PKT_F_ND       0x0040 /* nd holds a neighbour discovery message */
#define PKT_F_DHCP     0x0080 /* dhcp holds a DHCPv4 (BOOTP) message */
#define PKT_F_DHCP6    0x0100 /* a DHCPv6 message (UDP 546/547): msg type in dhcp6_type */

/* Neighbour discovery (RFC 4861), ICMPv6 types 133 to 137.  PKT_F_ND is set
 * once the message's fixed part (up to its options) was captured; the
 * packet is ICMPv6 for the detectors either way.  The decoder does not
 * apply RFC 4861's validity checks (hop limit 255, code 0): pkt.ttl and
 * pkt.icmp_code are there for the caller, who must check them before
 * trusting a binding (an off-link sender cannot produce hop limit 255).
 * lladdr is the first option of the expected kind with the Ethernet length,
 * as sent: forgeable, and not checked to be unicast. */
#define ND_F_ROUTER    0x01 /* NA: R flag */
#define ND_F_SOLICITED 0x02 /* NA: S flag */
#define ND_F_OVERRIDE  0x04 /* NA: O flag */
#define ND_F_LLADDR    0x08 /* lladdr holds a source or target link-layer address option */
struct pkt_nd {
	uint8_t type;	     /* 133 RS, 134 RA, 135 NS, 136 NA, 137 redirect */
	uint8_t flags;	     /* ND_F_* */
	struct qaddr target; /* NS/NA/redirect target; family 0 for RS/RA */
	uint8_t lladdr[6];   /* SLLAO (RS, RA, NS) or TLLAO (NA, redirect) */
};

/* DHCPv4 (RFC 2131) fields, from the fixed header and, when the snaplen
 * reaches them, the options.  Only Ethernet hardware (htype 1, hlen 6) and
 * op 1 or 2, over IPv4 UDP with port 67 or 68 at either end.  PKT_F_DHCP
 * is set once the fixed header up to the end of chaddr (44 bytes) was
 * captured; the options come 196 bytes later, beyond the default snaplen,
 * and are read only behind the magic cookie.  A message cut short, or not
 * DHCP at all, is never an error: the UDP packet still decodes. */
#define DHCP_OP_REQUEST 1 /* BOOTREQUEST: client to server */
#define DHCP_OP_REPLY	2 /* BOOTREPLY: server to client */
struct pkt_dhcp {
	uint8_t op;		     /* DHCP_OP_* */
	uint8_t msgtype;	     /* option 53 (1 DISCOVER .. 8 INFORM); 0 when not captured */
	uint8_t chaddr[6];	     /* client hardware address (forgeable: never a trust anchor) */
	struct qaddr ciaddr, yiaddr; /* family 0 when 0.0.0.0 */
	struct qaddr reqip;	     /* option 50; family 0 when absent, 0.0.0.0 or not captured */
};

/* The header quoted inside an ICMP/ICMPv6 error: the probe that caused it. */
struct pkt_quote {
	uint8_t valid;	   /* 1 when src/dst/proto were decoded */
	uint8_t has_ports; /* 1 when sport/dport (or echo id) were decoded */
	uint8_t proto;	   /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
	uint8_t icmp_type; /* quoted ICMP type when proto is ICMP/ICMPv6 */
	struct qaddr src, dst;
	uint16_t sport, dport; /* for quoted ICMP echo: sport = dport = echo id */
};

#define PKT_PAYLEN_UNKNOWN UINT32_MAX

struct pkt {
	uint8_t l3;	   /* enum pkt_l3 */
	uint8_t proto;	   /* IPPROTO_* of the transport header; 0 when none */
	uint16_t flags;	   /* PKT_F_* */
	uint8_t tcp_flags; /* TH_FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE CWR */
	uint8_t tcp_hlen;  /* TCP header length in bytes, options included (20 without) */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint8_t ttl;   /* IPv4 TTL or IPv6 hop limit */
	uint16_t vlan; /* outermost 802.1Q VLAN id, 0 when untagged */
	uint16_t sport, dport;
	uint16_t icmp_id; /* echo identifier for ICMP/ICMPv6 echo */
	uint16_t arp_op;  /* 1 request, 2 reply (l3 == PKT_L3_ARP) */
	uint16_t ip_id;	  /* IPv4 identification (0 for IPv6) */
	uint32_t wirelen; /* original length on the wire */
	/* TCP: sequence and acknowledgment numbers, and the payload's length
	 * from the IP length field (beyond the snap length too), or
	 * PKT_PAYLEN_UNKNOWN when the field is 0 (TCP segmentation offload). */
	uint32_t tcp_seq, tcp_ack;
	uint32_t tcp_paylen;
	/* IP source/destination; for ARP: sender and target protocol address. */
	struct qaddr src, dst;
	/* Set for ICMP dest-unreachable / time-exceeded and ICMPv6 dest-unreachable
	 * / time-exceeded messages whose quoted header could be decoded. */
	struct pkt_quote quote;
	/* Link layer: who sent the frame, and to whom.  Ethernet has both;
	 * Linux cooked captures (SLL, SLL2) carry the source only, and only
	 * when its hardware type is Ethernet (for outgoing packets, the
	 * gateway's own); raw IP and loopback have none.  A source that is a
	 * group address (I/G bit set) or all zero is no machine's
	 * (mac_is_unicast()): the frame still decodes, PKT_F_SMAC stays clear
	 * and src_mac zero.  So PKT_F_SMAC implies a unicast src_mac. */
	uint8_t src_mac[6], dst_mac[6];
	/* ARP (l3 == PKT_L3_ARP): sender and target hardware addresses. */
	uint8_t arp_sha[6], arp_tha[6];
	struct pkt_nd nd;     /* PKT_F_ND */
	struct pkt_dhcp dhcp; /* PKT_F_DHCP */
	uint8_t dhcp6_type;   /* PKT_F_DHCP6 (IPv6 only): the DHCPv6 message type */
};

/* Why a packet was not decoded; indexes decode_stats.err. */
enum decode_err {
	DECODE_OK = 0,
	DECODE_E_TRUNCATED,   /* a header is cut short */
	DECODE_E_MALFORMED,   /* inconsistent lengths, bad version, bad header length */
	DECODE_E_LINKTYPE,    /* link type we do not decode */
	DECODE_E_UNSUPPORTED, /* ethertype / protocol we do not track (not an error) */
	DECODE_E_MAX,
};

struct decode_stats {
	uint64_t packets;
	uint64_t decoded;
	uint64_t err[DECODE_E_MAX];
};

/* Decodes one captured frame of link type dlt.  caplen bytes are readable at
 * data; wirelen is the frame's original length.  On success fills *ret and
 * returns 0.  Otherwise returns -EBADMSG (truncated or malformed),
 * -EPROTONOSUPPORT (link type unknown) or -ENOTSUP (a protocol we do not
 * track, e.g. an ethertype other than IPv4/IPv6/ARP); *ret is then
 * unspecified.  Counts into *stats (may be NULL). */
int decode_packet(int dlt, const uint8_t *data, size_t caplen, size_t wirelen, struct pkt *ret,
		  struct decode_stats *stats);

/* The cheap decision for the bulk of a capture: true when the frame is a
 * TCP segment of a connection under way that no detector and no identity
 * check looks at (ACK set; no SYN, RST or FIN; options or payload, so not
 * a bare ACK), and that decode_packet() would decode without error; it is
 * then counted in *stats (may be NULL) as decode_packet() would count it.
 * It reads the few bytes it needs through the same bounds checks, and
 * answers false for whatever it cannot settle at once (other link types
 * than Ethernet and raw IP, IP fragments, IPv6 extension headers,
 * a length field of 0, anything truncated or malformed): decode_packet()
 * is the judge of those.  The offline path skips full decoding with it. */
bool decode_midflow(int dlt, const uint8_t *data, size_t caplen, struct decode_stats *stats);

/* True for link types decode_packet() understands. */
bool decode_link_supported(int dlt);

const char *decode_err_name(enum decode_err e);

#endif
