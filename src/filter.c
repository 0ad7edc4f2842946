/* The capture filter: what the detectors in detect.c look at, and nothing
 * more, so that the kernel drops the bulk of the traffic (established TCP
 * data) before it is ever copied to us. */
#include "filter.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* ARP: who-has is the ARP sweep's probe and is-at its answer, and both
 * say which MAC speaks for which address (identity.h): always passed. */
#define F_ARP "arp"

/* DHCP (v4 and v6): who asks for and who is given which address.  Passed
 * whatever the rules, for machine identity. */
#define F_DHCP "udp port 67 or udp port 68 or udp port 546 or udp port 547"

/* ICMP always, whatever the rules: echo requests and replies are the ICMP
 * sweep's probes and answers, and unreachable errors are the failure
 * outcomes of TCP and UDP probes too (matched through the quoted header).
 * ICMPv6 carries neighbour discovery, which identity learns from. */
#define F_ICMP "icmp or icmp6"

/* UDP has no flags to tell a probe from a reply: any datagram may be
 * either, so it passes whole. */
#define F_UDP "udp"

/* TCP over IPv4: SYN (probe), SYN-ACK (success), RST (failure), and
 * segments without ACK (FIN, NULL and XMAS probes; no legitimate segment of
 * an established connection lacks ACK).  Data and pure ACKs of established
 * connections, the bulk of all traffic, stay in the kernel (but bare ACKs,
 * F_TCP_BARE_ACK).  tcp[] implies
 * IPv4 and a first fragment.
 *
 * TCP over IPv6 passes whole, and detect.c tests the flags: libpcap (1.10)
 * can index tcp[] only behind an IPv4 header, so "ip6 and tcp[13] & 2 != 0"
 * is "ip6 and ip and ...", which matches nothing (pcap_compile() even
 * rejects it alone; inside an "or" it would silently drop every IPv6
 * segment).  SPEC section 8; test_filter.c checks it. */
#define F_TCP \
	"tcp[tcpflags] & (tcp-syn|tcp-rst) != 0 or tcp[tcpflags] & tcp-ack == 0 or (ip6 and tcp)"

/* Bare ACKs over IPv4: ACK alone, no options (a data offset of 5), no
 * payload (the IP length is the two headers): the probes of ACK and window
 * scans (nmap -sA and -sW, hping3 -A), for the rules that count failures
 * (detect.c, on_ack()).  Linux and macOS put timestamps in every segment
 * of a connection, so their pure ACKs stay in the kernel; those of stacks
 * without timestamps (Windows by default) pass.  A segment sent with TCP
 * segmentation offload has an IP length of 0 and stays out. */
#define F_TCP_BARE_ACK                                              \
	"(tcp[tcpflags] == tcp-ack and tcp[12] & 0xf0 == 0x50 and " \
	"ip[2:2] == (ip[0] & 0xf) * 4 + 20)"

/* Every pure ACK over IPv4 (any options, no payload): the alternative
 * measured against F_TCP_BARE_ACK (docs/BENCHMARKS.md), not used. */
#define F_TCP_PURE_ACK                   \
	"(tcp[tcpflags] == tcp-ack and " \
	"ip[2:2] == (ip[0] & 0xf) * 4 + (tcp[12] & 0xf0) / 4)"

/* TCP FIN over IPv4 (FIN-ACK, a connection's normal end), for the
 * brute-force rules: with the SYN and the RST it gives a connection's
 * length and, from the sequence numbers, how much its client sent.  Two
 * segments per connection, as the SYN and SYN-ACK: passed only when a
 * brute-force rule is on.  (IPv6 TCP passes whole already.) */
#define F_TCP_FIN "tcp[tcpflags] & tcp-fin != 0"

struct out {
	char *buf;
	size_t len, used;
	bool overflow;
};

/* Appends s, keeping room for the terminating NUL. */
static void put(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->overflow || n >= o->len - o->used) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->used, s, n + 1);
	o->used += n;
}

/* Does any detector count packets of protocol bit?  Enabled rules (with
 * either counting mode: a rule counting failures needs the probes and the
 * replies alike) and the TRW on the protocols it watches. */
static bool needed(const struct conf *c, unsigned bit)
{
	for (unsigned i = 0; i < c->nrules; i++)
		if (c->rules[i].enabled && c->rules[i].type != RULE_FORGERY &&
		    (c->rules[i].protos & bit))
			return true;
	return c->scan.enabled && (c->scan.protos & bit);
}

/* Does a rule count bare ACKs: an enabled horizontal or vertical rule
 * over TCP that counts failures and not only dark space (detect.c)? */
static bool acks_needed(const struct conf *c)
{
	for (unsigned i = 0; i < c->nrules; i++) {
		const struct rule *r = &c->rules[i];

		if (r->enabled && (r->type == RULE_HORIZONTAL || r->type == RULE_VERTICAL) &&
		    (r->protos & PROTO_TCP) && r->count == COUNT_FAILURES && !r->dark)
			return true;
	}
	return false;
}

static bool brute_on(const struct conf *c)
{
	for (unsigned i = 0; i < c->nrules; i++)
		if (c->rules[i].enabled && c->rules[i].type == RULE_BRUTE &&
		    (c->rules[i].protos & PROTO_TCP))
			return true;
	return false;
}

/* The expression for an untagged frame, as a list of alternatives. */
static void put_body(struct out *o, const struct conf *c, enum filter_acks acks)
{
	/* Identity learning does not depend on the rules. */
	put(o, F_ARP " or " F_ICMP);
	if (needed(c, PROTO_UDP))
		put(o, " or " F_UDP);
	else
		put(o, " or " F_DHCP);
	if (needed(c, PROTO_TCP))
		put(o, " or " F_TCP);
	if (acks != FILTER_ACKS_NONE && acks_needed(c))
		put(o, acks == FILTER_ACKS_PURE ? " or " F_TCP_PURE_ACK : " or " F_TCP_BARE_ACK);
	if (brute_on(c))
		put(o, " or " F_TCP_FIN);
}

int filter_build(const struct conf *c, char *buf, size_t len)
{
	return filter_build_acks(c, FILTER_ACKS_BARE, buf, len);
}

int filter_build_acks(const struct conf *c, enum filter_acks acks, char *buf, size_t len)
{
	struct out o = {.buf = buf, .len = len};

	if (len == 0)
		return -ENOSPC;
	/* After "vlan", libpcap reads the rest of the expression one tag
	 * further in, so the same body once more covers frames with an
	 * 802.1Q tag in their bytes: files, userland filtering, and frames a
	 * Linux host sends through a device that does not offload tagging.
	 * (Frames Linux receives have the tag moved out of the packet before
	 * the filter runs, so the first body matches them; libpcap puts the
	 * tag back before handing them over.)  "and" and "or" have equal
	 * precedence in pcap's grammar, hence the parentheses. */
	put(&o, "(");
	put_body(&o, c, acks);
	put(&o, ") or (vlan and (");
	put_body(&o, c, acks);
	put(&o, "))");
	if (o.overflow) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return (int)o.used;
}
