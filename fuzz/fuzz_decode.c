/* Fuzz target for decode_packet() and decode_midflow().  The first input byte picks the link
 * type, the rest is the captured frame.  fuzz.h says how it is built and
 * replayed. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "addr.h"
#include "decode.h"
#include "fuzz.h"
#include "types.h"

/* Indexed by the first input byte modulo the count; the seed corpus in
 * fuzz/corpus/decode relies on this order. */
static const int fuzz_links[] = {
	LINK_NULL,	 /* 0 */
	LINK_EN10MB,	 /* 1 */
	LINK_RAW,	 /* 2 */
	LINK_RAW_ALT,	 /* 3 */
	LINK_RAW_101,	 /* 4 */
	LINK_LOOP,	 /* 5 */
	LINK_IPV4,	 /* 6 */
	LINK_IPV6,	 /* 7 */
	LINK_LINUX_SLL,	 /* 8 */
	LINK_LINUX_SLL2, /* 9 */
};

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* The machine-identity fields: a flag for each, and each consistent with
 * the link type and the protocol it came from.  True when they hold. */
static bool identity_ok(int dlt, const struct pkt *p)
{
	bool cooked = dlt == LINK_LINUX_SLL || dlt == LINK_LINUX_SLL2;

	/* A source MAC is a machine's (unicast, not zero), from a link that
	 * carries one; otherwise it stays zero. */
	if (p->flags & PKT_F_SMAC) {
		if (!mac_is_unicast(p->src_mac) || !(dlt == LINK_EN10MB || cooked))
			return false;
	} else if (!all_zero(p->src_mac, sizeof(p->src_mac))) {
		return false;
	}
	if ((p->flags & PKT_F_DMAC) != (dlt == LINK_EN10MB ? PKT_F_DMAC : 0))
		return false;
	if ((p->flags & PKT_F_DMAC) && !!(p->dst_mac[0] & 1) != !!(p->flags & PKT_F_L2_BCAST))
		return false;
	if (p->l3 != PKT_L3_ARP &&
	    !(all_zero(p->arp_sha, sizeof(p->arp_sha)) && all_zero(p->arp_tha, sizeof(p->arp_tha))))
		return false;

	if (p->flags & PKT_F_ND) {
		if (p->l3 != PKT_L3_IPV6 || p->proto != IPPROTO_ICMPV6 || !(p->flags & PKT_F_L4) ||
		    p->nd.type != p->icmp_type || p->nd.type < 133 || p->nd.type > 137)
			return false;
		/* RS and RA have no target; NS, NA and redirect always do. */
		if ((p->nd.target.family == 0) != (p->nd.type <= 134))
			return false;
		if ((p->nd.flags & (ND_F_ROUTER | ND_F_SOLICITED | ND_F_OVERRIDE)) &&
		    p->nd.type != 136)
			return false;
	} else if (p->nd.type != 0 || p->nd.flags != 0) {
		return false;
	}

	if (p->flags & PKT_F_DHCP) {
		if (p->l3 != PKT_L3_IPV4 || p->proto != IPPROTO_UDP || !(p->flags & PKT_F_L4) ||
		    (p->dhcp.op != DHCP_OP_REQUEST && p->dhcp.op != DHCP_OP_REPLY))
			return false;
		if (p->sport != 67 && p->sport != 68 && p->dport != 67 && p->dport != 68)
			return false;
	} else if (p->dhcp.op != 0) {
		return false;
	}
	if (p->flags & PKT_F_DHCP6) {
		if (p->l3 != PKT_L3_IPV6 || p->proto != IPPROTO_UDP || !(p->flags & PKT_F_L4))
			return false;
		if (p->sport != 546 && p->sport != 547 && p->dport != 546 && p->dport != 547)
			return false;
	} else if (p->dhcp6_type != 0) {
		return false;
	}
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct decode_stats st = {0};
	struct pkt p;
	uint64_t counted;
	int dlt, r;

	if (size < 1)
		return 0;
	dlt = fuzz_links[data[0] % ARRAY_SIZE(fuzz_links)];
	r = decode_packet(dlt, data + 1, size - 1, size - 1, &p, &st);

	/* Invariants the rest of the daemon relies on. */
	if (r != 0 && r != -EBADMSG && r != -ENOTSUP)
		abort();
	counted = st.decoded + st.err[DECODE_E_TRUNCATED] + st.err[DECODE_E_MALFORMED] +
		  st.err[DECODE_E_UNSUPPORTED];
	if (st.packets != 1 || counted != 1)
		abort();
	if (r == 0) {
		if ((p.flags & PKT_F_FRAGMENT) && (p.flags & PKT_F_L4))
			abort();
		if (p.quote.has_ports && !p.quote.valid)
			abort();
		if (p.l3 == PKT_L3_NONE || p.wirelen != size - 1)
			abort();
		if (!identity_ok(dlt, &p))
			abort();
	}
	/* The pre-check says yes only to a mid-flow TCP segment that
	 * decode_packet() decodes, and counts it as that does. */
	{
		struct decode_stats mst = {0};

		if (decode_midflow(dlt, data + 1, size - 1, &mst)) {
			if (r != 0 || p.proto != IPPROTO_TCP || !(p.flags & PKT_F_L4) ||
			    (p.flags & PKT_F_FRAGMENT) || !(p.tcp_flags & 0x10) ||
			    (p.tcp_flags & 0x07) ||
			    (p.tcp_flags == 0x10 && p.tcp_hlen == 20 && p.tcp_paylen == 0) ||
			    p.tcp_paylen == PKT_PAYLEN_UNKNOWN)
				abort();
			if (mst.packets != 1 || mst.decoded != 1)
				abort();
		} else if (mst.packets != 0) {
			abort();
		}
	}
	return 0;
}
