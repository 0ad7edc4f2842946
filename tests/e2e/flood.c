/* flood: a fast raw Ethernet frame sender for the end-to-end tests.
 *
 *   flood -i IF --dst-mac MAC (--duration S | --count N) [options]
 *
 * Sends forged frames through one AF_PACKET (SOCK_RAW) socket bound to IF:
 * TCP SYNs (IPv4, or IPv6 when the addresses are IPv6), unsolicited ARP
 * replies or ARP requests, from a cycle of forged sources (an address and
 * a MAC each), PER_SRC frames per source, each to a different destination
 * of --dst.  Frames go out in sendmmsg() batches, bypassing the qdisc when
 * the kernel allows it, paced to --rate with clock_nanosleep() between
 * batches.  The frames live in a ring of prebuilt templates: per frame
 * only the source MAC, the addresses, the port, the sequence number, the
 * IP id and the checksums change, and the checksums are the templates'
 * constant partial sums plus the changed words, so the sender itself stays
 * cheap (Python cannot reach 100,000 frames/s here; this can).
 *
 * At the end (or on SIGINT/SIGTERM) it prints one line to stdout:
 *
 *   sent N frames in T s (R pps), errors E
 *
 * Safety: these frames are forged on purpose, so the tool refuses to run
 * in the machine's own (initial) network namespace: /proc/self/ns/net must
 * differ from /proc/1/ns/net and must not be the kernel's initial network
 * namespace (see in_initial_netns()).  Every address it puts in a frame, source or
 * destination, must lie inside 10.66.0.0/16 or fd66::/16, the test
 * networks; anything else is refused before a socket is opened, and the
 * run is bounded by --duration or --count (one is required).
 *
 * Exit status: 0 done, 1 a send error that persisted (1 s without a frame
 * accepted) or a setup failure, 2 usage error or refused (namespace,
 * address). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Frames per sendmmsg() call at most, and the size of the template ring
 * (one slot per message of a batch). */
#define BATCH_MAX 64
/* Every frame is padded to the Ethernet minimum (without FCS); the
 * largest, an IPv6 SYN with an MSS option, is 78 bytes. */
#define FRAME_MIN 60
#define FRAME_MAX 128
/* Bounds of the options. */
#define MAX_INCLUDE   64
#define MAX_SRC	      (1u << 20) /* --src and --src-list entries */
#define MAX_DURATION  3600.0	 /* s */
#define MAX_RATE      10000000ul /* pps */
#define MAX_PER_SRC   1000000ul
#define ERROR_GIVE_UP 1000000000LL /* ns of send errors without an accepted frame */

/* Frame layout.  Ethernet: */
#define ETH_DST	  0
#define ETH_SRC	  6
#define ETH_TYPE  12
#define ETH_HLEN_ 14
/* IPv4 after Ethernet: */
#define IP4_OFF	 ETH_HLEN_
#define IP4_LEN	 20
#define IP4_ID	 (IP4_OFF + 4)
#define IP4_TTL	 (IP4_OFF + 8)
#define IP4_CSUM (IP4_OFF + 10)
#define IP4_SRC	 (IP4_OFF + 12)
#define IP4_DST	 (IP4_OFF + 16)
/* IPv6 after Ethernet: */
#define IP6_OFF ETH_HLEN_
#define IP6_LEN 40
#define IP6_SRC (IP6_OFF + 8)
#define IP6_DST (IP6_OFF + 24)
/* TCP (with one MSS option) after the IP header; offsets inside it: */
#define TCP_LEN	   24
#define TCP_SPORT  0
#define TCP_DPORT  2
#define TCP_SEQ	   4
#define TCP_OFFFL  12
#define TCP_WIN	   14
#define TCP_CSUM   16
#define TCP_OPT	   20
#define TCP_WINDOW 64240
#define TCP_MSS	   1460
/* ARP (Ethernet/IPv4) after Ethernet: */
#define ARP_OFF ETH_HLEN_
#define ARP_OP	(ARP_OFF + 6)
#define ARP_SHA (ARP_OFF + 8)
#define ARP_SPA (ARP_OFF + 14)
#define ARP_THA (ARP_OFF + 18)
#define ARP_TPA (ARP_OFF + 24)

enum mode { MODE_SYN, MODE_ARP_REPLY, MODE_ARP_REQUEST };
enum src_mac { SRC_MAC_OWN, SRC_MAC_FIXED, SRC_MAC_RANDOM };

/* An address or prefix; IPv4 uses the first 4 bytes of addr. */
struct pfx {
	int family;
	unsigned len;
	uint8_t addr[16];
};

/* The forged source in use. */
struct source {
	uint8_t ip[16];
	uint8_t mac[6];
	uint64_t left;	/* frames still to send from it */
	uint64_t dcur;	/* destination walk: offset index... */
	uint64_t dstep; /* ...and a step coprime to the host count */
};

struct flood {
	enum mode mode;
	int family;
	enum src_mac src_mac;
	uint8_t mac[6]; /* --src-mac MAC, or the interface's own */
	uint8_t dst_mac[6];
	struct pfx *srcs; /* --src and --src-list entries */
	size_t nsrcs;
	struct pfx incl[MAX_INCLUDE];
	unsigned nincl;
	unsigned long incl_every;
	struct pfx dst;
	bool have_dst;
	uint16_t dport;
	uint8_t ttl;
	uint64_t per_src;

	uint64_t rng;
	uint64_t nsource; /* sources started so far */
	struct source cur;
	uint16_t ip_id;
	size_t frame_len;
	uint32_t ip4_sum; /* constant part of the IPv4 header checksum */
	uint32_t tcp_sum; /* constant part of the TCP checksum (with pseudo-header) */
	uint8_t ring[BATCH_MAX][FRAME_MAX];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static _Noreturn void usage(void)
{
	fprintf(stderr,
		"usage: flood -i IF --dst-mac MAC (--duration S | --count N) [options]\n"
		"  --mode syn|arp-reply|arp-request   frames to send (default syn)\n"
		"  --rate PPS             frames per second, 0 = as fast as possible (default "
		"10000)\n"
		"  --duration S           stop after S seconds (float)\n"
		"  --count N              stop after N frames\n"
		"  --src-mac MAC|own|random  source MAC (default own: the interface's)\n"
		"  --dst-mac MAC          destination MAC (required; ff:ff:ff:ff:ff:ff is fine)\n"
		"  --src A|PREFIX         forged sources, a random address inside per source\n"
		"                         (repeatable)\n"
		"  --src-list FILE        the same, one per line ('#' comments)\n"
		"  --per-src N            frames per source, each to another destination (default "
		"10)\n"
		"  --dst A|PREFIX         destinations, random inside (syn, arp-request: "
		"required;\n"
		"                         arp-reply: target address, default the sender's)\n"
		"  --dport N              TCP destination port (default 445)\n"
		"  --include A            a real address to forge too, once per cycle "
		"(repeatable)\n"
		"  --include-every K      the cycle, in sources (default 100)\n"
		"  --ttl N                IPv4 TTL / IPv6 hop limit (default 64)\n"
		"  --seed N               reproducible addresses, ports and MACs\n"
		"  --quiet                no start line on stderr\n"
		"Every address must lie inside 10.66.0.0/16 or fd66::/16, and flood refuses\n"
		"to run in the initial network namespace.\n");
	exit(2);
}

/* ---- random numbers ---------------------------------------------------- */

/* xorshift64*: cheap, and reproducible with --seed. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static void rng_bytes(uint64_t *s, uint8_t *buf, size_t n)
{
	while (n > 0) {
		uint64_t r = rng_next(s);
		size_t k = n < 8 ? n : 8;

		memcpy(buf, &r, k);
		buf += k;
		n -= k;
	}
}

/* ---- parsing ----------------------------------------------------------- */

static bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

static bool parse_mac(const char *s, uint8_t *ret)
{
	unsigned b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		ret[i] = (uint8_t)b[i];
	return true;
}

/* "A" or "A/LEN", IPv4 or IPv6, with no host bits set. */
static bool parse_pfx(const char *s, struct pfx *ret)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	unsigned long len;
	struct pfx p = {0};
	unsigned bits;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, p.addr) == 1)
		p.family = AF_INET;
	else if (inet_pton(AF_INET6, buf, p.addr) == 1)
		p.family = AF_INET6;
	else
		return false;
	bits = p.family == AF_INET ? 32 : 128;
	len = bits;
	if (slash && !parse_ulong(slash + 1, 0, bits, &len))
		return false;
	p.len = (unsigned)len;
	for (unsigned i = p.len; i < bits; i++)
		if (p.addr[i / 8] & (0x80u >> (i % 8)))
			return false;
	*ret = p;
	return true;
}

/* True when p lies entirely inside 10.66.0.0/16 or fd66::/16, the only
 * addresses the test namespaces use. */
static bool pfx_safe(const struct pfx *p)
{
	if (p->family == AF_INET)
		return p->len >= 16 && p->addr[0] == 10 && p->addr[1] == 66;
	return p->len >= 16 && p->addr[0] == 0xfd && p->addr[1] == 0x66;
}

/* Reads --src-list: one address or prefix per line, '#' comments. */
static int read_src_list(const char *path, struct pfx **srcs, size_t *nsrcs)
{
	char line[256];
	unsigned lineno = 0;
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *e;
		struct pfx *n;

		lineno++;
		if ((e = strchr(s, '#')))
			*e = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*s)
			continue;
		if (*nsrcs == MAX_SRC) {
			fprintf(stderr, "flood: %s: more than %u sources\n", path, MAX_SRC);
			r = -E2BIG;
			break;
		}
		n = realloc(*srcs, (*nsrcs + 1) * sizeof(**srcs));
		if (!n) {
			r = -ENOMEM;
			break;
		}
		*srcs = n;
		if (!parse_pfx(s, &n[*nsrcs])) {
			fprintf(stderr, "flood: %s:%u: bad address or prefix '%s'\n", path, lineno,
				s);
			r = -EINVAL;
			break;
		}
		(*nsrcs)++;
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	fclose(f);
	return r;
}

/* ---- the network namespace check --------------------------------------- */

/* The inode number the kernel gives the initial network namespace,
 * PROC_NET_INIT_INO in include/linux/proc_ns.h (fixed since Linux 3.8). */
#define NET_INIT_INO 0xeffffff9u

/* 1 when this process is in the machine's own network namespace, 0 when
 * it is not, -errno when that cannot be told (which the caller treats as
 * a refusal).  The namespace is compared with PID 1's; where PID 1's is
 * not readable, even by root (a sandbox's PID 1 may be undumpable: EACCES),
 * the inode number of the initial namespace, which the kernel fixes, still
 * tells.  Both tests run when both can. */
static int in_initial_netns(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/net", &self) < 0)
		return -errno;
	if (self.st_ino == NET_INIT_INO)
		return 1;
	if (stat("/proc/1/ns/net", &init) < 0)
		return errno == EACCES || errno == EPERM ? 0 : -errno;
	return self.st_dev == init.st_dev && self.st_ino == init.st_ino;
}

/* ---- addresses --------------------------------------------------------- */

static unsigned host_bits(const struct pfx *p)
{
	return (p->family == AF_INET ? 32 : 128) - p->len;
}

/* Usable host offsets of p when there are fewer than 2^63 (else 0): IPv4
 * leaves out the network and broadcast addresses when it has more than
 * two, IPv6 the subnet-router anycast address (offset 0). */
static uint64_t host_count(const struct pfx *p)
{
	unsigned h = host_bits(p);
	uint64_t size;

	if (h >= 63)
		return 0;
	size = UINT64_C(1) << h;
	if (p->family == AF_INET)
		return size > 2 ? size - 2 : size;
	return size > 1 ? size - 1 : 1;
}

/* out = p's network plus offset index i (0 <= i < host_count(p)). */
static void pfx_at(const struct pfx *p, uint64_t i, uint8_t *out)
{
	unsigned nbytes = p->family == AF_INET ? 4 : 16;
	uint64_t off = i;

	if (p->family == AF_INET ? host_bits(p) > 1 : host_bits(p) > 0)
		off = i + 1;
	memcpy(out, p->addr, nbytes);
	for (unsigned b = nbytes; b-- > 0 && off; off >>= 8)
		out[b] |= (uint8_t)off;
}

/* out = a random address of p. */
static void pfx_random(const struct pfx *p, uint64_t *rng, uint8_t *out)
{
	uint64_t n = host_count(p);
	uint8_t rnd[16];
	unsigned nbytes = p->family == AF_INET ? 4 : 16;

	if (n) {
		pfx_at(p, rng_next(rng) % n, out);
		return;
	}
	/* More than 2^63 hosts: random host bits (the zero offset, one chance
	 * in 2^63 or less, does no harm). */
	rng_bytes(rng, rnd, sizeof(rnd));
	for (unsigned i = 0; i < nbytes; i++) {
		unsigned lo = i * 8;
		uint8_t mask = 0xff; /* the host bits of byte i */

		if (lo + 8 <= p->len)
			mask = 0;
		else if (lo < p->len)
			mask = (uint8_t)(0xffu >> (p->len - lo));
		out[i] = (uint8_t)(p->addr[i] | (rnd[i] & mask));
	}
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* ---- checksums --------------------------------------------------------- */

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static void put_csum(uint8_t *p, uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	p[0] = (uint8_t)(sum >> 8);
	p[1] = (uint8_t)sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* ---- frames ------------------------------------------------------------ */

/* Fills every ring slot with the mode's template and computes the
 * checksums' constant parts (the varying fields are zero in the template
 * and added per frame). */
static void build_templates(struct flood *f)
{
	uint8_t t[FRAME_MAX] = {0};

	memcpy(t + ETH_DST, f->dst_mac, 6);
	memcpy(t + ETH_SRC, f->mac, 6);
	if (f->mode == MODE_SYN && f->family == AF_INET) {
		uint8_t *ip = t + IP4_OFF;

		put16(t + ETH_TYPE, ETHERTYPE_IP);
		ip[0] = 0x45;
		put16(ip + 2, IP4_LEN + TCP_LEN);
		put16(ip + 6, 0x4000); /* DF, as a kernel's SYN */
		ip[8] = f->ttl;
		ip[9] = IPPROTO_TCP;
		f->ip4_sum = sum16(0, ip, IP4_LEN);
		f->frame_len = IP4_OFF + IP4_LEN + TCP_LEN;
	} else if (f->mode == MODE_SYN) {
		uint8_t *ip = t + IP6_OFF;

		put16(t + ETH_TYPE, ETHERTYPE_IPV6);
		ip[0] = 0x60;
		put16(ip + 4, TCP_LEN);
		ip[6] = IPPROTO_TCP;
		ip[7] = f->ttl;
		f->frame_len = IP6_OFF + IP6_LEN + TCP_LEN;
	} else {
		uint8_t *arp = t + ARP_OFF;

		put16(t + ETH_TYPE, ETHERTYPE_ARP);
		put16(arp, 1);		/* Ethernet */
		put16(arp + 2, 0x0800); /* IPv4 */
		arp[4] = 6;
		arp[5] = 4;
		put16(t + ARP_OP, f->mode == MODE_ARP_REPLY ? 2 : 1);
		if (f->mode == MODE_ARP_REPLY)
			memcpy(t + ARP_THA, f->dst_mac, 6);
		f->frame_len = ARP_OFF + 28;
	}
	if (f->mode == MODE_SYN) {
		uint8_t *tcp = t + f->frame_len - TCP_LEN;

		put16(tcp + TCP_DPORT, f->dport);
		put16(tcp + TCP_OFFFL, (TCP_LEN / 4) << 12 | 0x02); /* SYN */
		put16(tcp + TCP_WIN, TCP_WINDOW);
		tcp[TCP_OPT] = 2; /* MSS */
		tcp[TCP_OPT + 1] = 4;
		put16(tcp + TCP_OPT + 2, TCP_MSS);
		/* Pseudo-header: protocol and TCP length (same words in IPv4's
		 * and IPv6's); the addresses are added per frame. */
		f->tcp_sum = sum16(IPPROTO_TCP + TCP_LEN, tcp, TCP_LEN);
	}
	if (f->frame_len < FRAME_MIN)
		f->frame_len = FRAME_MIN;
	for (unsigned i = 0; i < BATCH_MAX; i++)
		memcpy(f->ring[i], t, sizeof(t));
}

/* Starts the next forged source: an --include address at its place in
 * each cycle of incl_every sources, else a random address of the next
 * --src entry (round robin over the entries). */
static void next_source(struct flood *f)
{
	struct source *s = &f->cur;
	uint64_t k = f->nsource++;
	unsigned long pos = (unsigned long)(k % f->incl_every);
	const struct pfx *from = NULL;
	uint64_t n;

	for (unsigned i = 0; i < f->nincl; i++)
		if ((unsigned long)i * f->incl_every / f->nincl == pos)
			from = &f->incl[i];
	if (from)
		memcpy(s->ip, from->addr, sizeof(s->ip));
	else
		pfx_random(&f->srcs[k % f->nsrcs], &f->rng, s->ip);

	if (f->src_mac == SRC_MAC_RANDOM) {
		rng_bytes(&f->rng, s->mac, 6);
		s->mac[0] = (uint8_t)((s->mac[0] & 0xfc) | 0x02); /* unicast, local */
	} else {
		memcpy(s->mac, f->mac, 6);
	}
	s->left = f->per_src;

	/* Destinations: i, i + step, i + 2 step, ... modulo the host count,
	 * with step coprime to it, are all different until it wraps. */
	n = f->have_dst ? host_count(&f->dst) : 0;
	if (n > 1) {
		s->dcur = rng_next(&f->rng) % n;
		s->dstep = 1 + rng_next(&f->rng) % (n - 1);
		while (gcd(s->dstep, n) != 1)
			s->dstep = s->dstep % (n - 1) + 1;
	} else {
		s->dcur = 0;
		s->dstep = 0;
	}
}

static void next_dst(struct flood *f, uint8_t *out)
{
	struct source *s = &f->cur;
	uint64_t n = host_count(&f->dst);

	if (!n) {
		pfx_random(&f->dst, &f->rng, out);
		return;
	}
	pfx_at(&f->dst, s->dcur, out);
	/* Both are below n < 2^63: no overflow. */
	s->dcur += s->dstep;
	if (s->dcur >= n)
		s->dcur -= n;
}

/* Patches ring slot fr into the next frame. */
static void patch_frame(struct flood *f, uint8_t *fr)
{
	struct source *s = &f->cur;
	uint8_t dst[16] = {0};

	if (s->left == 0)
		next_source(f);
	s->left--;
	memcpy(fr + ETH_SRC, s->mac, 6);

	if (f->mode != MODE_SYN) {
		memcpy(fr + ARP_SHA, s->mac, 6);
		memcpy(fr + ARP_SPA, s->ip, 4);
		if (f->have_dst)
			next_dst(f, dst);
		else
			memcpy(dst, s->ip, 4); /* gratuitous: target = sender */
		memcpy(fr + ARP_TPA, dst, 4);
		return;
	}

	uint64_t r = rng_next(&f->rng);
	uint16_t sport = (uint16_t)(1024 + (r >> 32) % (65536 - 1024));
	uint32_t seq = (uint32_t)r;
	uint32_t tsum = f->tcp_sum + sport + (seq >> 16) + (seq & 0xffff);
	uint8_t *tcp;

	next_dst(f, dst);
	if (f->family == AF_INET) {
		uint16_t id = f->ip_id++;
		uint32_t asum = sum16(0, s->ip, 4);

		asum = sum16(asum, dst, 4);
		memcpy(fr + IP4_SRC, s->ip, 4);
		memcpy(fr + IP4_DST, dst, 4);
		put16(fr + IP4_ID, id);
		put_csum(fr + IP4_CSUM, f->ip4_sum + id + asum);
		tsum += asum;
		tcp = fr + IP4_OFF + IP4_LEN;
	} else {
		memcpy(fr + IP6_SRC, s->ip, 16);
		memcpy(fr + IP6_DST, dst, 16);
		tsum = sum16(sum16(tsum, s->ip, 16), dst, 16);
		tcp = fr + IP6_OFF + IP6_LEN;
	}
	put16(tcp + TCP_SPORT, sport);
	put32(tcp + TCP_SEQ, seq);
	put_csum(tcp + TCP_CSUM, tsum);
}

/* ---- time -------------------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t t_ns)
{
	struct timespec ts = {.tv_sec = t_ns / 1000000000, .tv_nsec = t_ns % 1000000000};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop)
		;
}

/* ---- main -------------------------------------------------------------- */

static bool add_src(struct flood *f, const char *arg)
{
	struct pfx *n = realloc(f->srcs, (f->nsrcs + 1) * sizeof(*f->srcs));

	if (!n)
		return false;
	f->srcs = n;
	if (!parse_pfx(arg, &n[f->nsrcs])) {
		fprintf(stderr, "flood: bad --src '%s'\n", arg);
		exit(2);
	}
	f->nsrcs++;
	return true;
}

/* Checks that p is a test address of family fam. */
static bool check_pfx(const struct pfx *p, int fam)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->addr, buf, sizeof(buf));
	if (!pfx_safe(p)) {
		fprintf(stderr,
			"flood: refusing %s/%u: every address must lie inside 10.66.0.0/16 or "
			"fd66::/16\n",
			buf, p->len);
		return false;
	}
	if (p->family != fam) {
		fprintf(stderr, "flood: %s/%u: mixes IPv4 and IPv6\n", buf, p->len);
		return false;
	}
	return true;
}

/* Checks that every address is a test address, all of one family. */
static bool check_addresses(struct flood *f)
{
	int fam = f->have_dst ? f->dst.family : f->srcs[0].family;

	if (f->have_dst && !check_pfx(&f->dst, fam))
		return false;
	for (size_t i = 0; i < f->nsrcs; i++)
		if (!check_pfx(&f->srcs[i], fam))
			return false;
	for (unsigned i = 0; i < f->nincl; i++)
		if (!check_pfx(&f->incl[i], fam))
			return false;
	f->family = fam;
	return true;
}

static uint16_t ethertype(const struct flood *f)
{
	if (f->mode != MODE_SYN)
		return ETHERTYPE_ARP;
	return f->family == AF_INET ? ETHERTYPE_IP : ETHERTYPE_IPV6;
}

static const char *const mode_names[] = {
	[MODE_SYN] = "syn",
	[MODE_ARP_REPLY] = "arp-reply",
	[MODE_ARP_REQUEST] = "arp-request",
};

enum {
	OPT_RATE = 256,
	OPT_DURATION,
	OPT_COUNT,
	OPT_SRC_MAC,
	OPT_DST_MAC,
	OPT_SRC,
	OPT_SRC_LIST,
	OPT_PER_SRC,
	OPT_DST,
	OPT_DPORT,
	OPT_INCLUDE,
	OPT_INCLUDE_EVERY,
	OPT_TTL,
	OPT_MODE,
	OPT_SEED,
};

static const struct option long_opts[] = {
	{"interface", required_argument, NULL, 'i'},
	{"rate", required_argument, NULL, OPT_RATE},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"count", required_argument, NULL, OPT_COUNT},
	{"src-mac", required_argument, NULL, OPT_SRC_MAC},
	{"dst-mac", required_argument, NULL, OPT_DST_MAC},
	{"src", required_argument, NULL, OPT_SRC},
	{"src-list", required_argument, NULL, OPT_SRC_LIST},
	{"per-src", required_argument, NULL, OPT_PER_SRC},
	{"dst", required_argument, NULL, OPT_DST},
	{"dport", required_argument, NULL, OPT_DPORT},
	{"include", required_argument, NULL, OPT_INCLUDE},
	{"include-every", required_argument, NULL, OPT_INCLUDE_EVERY},
	{"ttl", required_argument, NULL, OPT_TTL},
	{"mode", required_argument, NULL, OPT_MODE},
	{"seed", required_argument, NULL, OPT_SEED},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	static struct flood f; /* the ring is 8 KiB: not on the stack */
	static struct mmsghdr msgs[BATCH_MAX];
	static struct iovec iovs[BATCH_MAX];
	const char *ifname = NULL, *src_list = NULL;
	unsigned long rate = 10000, v, seed = 0;
	uint64_t count = 0, sent = 0, errors = 0;
	double duration = 0;
	bool have_mac = false, quiet = false, have_seed = false;
	struct sigaction sa = {.sa_handler = on_signal};
	struct sockaddr_ll sll = {.sll_family = AF_PACKET};
	struct ifreq ifr = {0};
	int64_t start, end = INT64_MAX, err_since = 0, elapsed;
	unsigned batch;
	int fd = -1, opt, r, rc = 0, one = 1, sndbuf = 1 << 20;
	char *endp;

	f.mode = MODE_SYN;
	f.src_mac = SRC_MAC_OWN;
	f.per_src = 10;
	f.incl_every = 100;
	f.dport = 445;
	f.ttl = 64;
	while ((opt = getopt_long(argc, argv, "i:qh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case OPT_RATE:
			if (!parse_ulong(optarg, 0, MAX_RATE, &rate))
				usage();
			break;
		case OPT_DURATION:
			errno = 0;
			duration = strtod(optarg, &endp);
			if (errno || endp == optarg || *endp || !(duration > 0) ||
			    duration > MAX_DURATION)
				usage();
			break;
		case OPT_COUNT:
			if (!parse_ulong(optarg, 1, ULONG_MAX, &v))
				usage();
			count = v;
			break;
		case OPT_SRC_MAC:
			if (strcmp(optarg, "own") == 0)
				f.src_mac = SRC_MAC_OWN;
			else if (strcmp(optarg, "random") == 0)
				f.src_mac = SRC_MAC_RANDOM;
			else if (parse_mac(optarg, f.mac))
				f.src_mac = SRC_MAC_FIXED;
			else
				usage();
			break;
		case OPT_DST_MAC:
			if (!parse_mac(optarg, f.dst_mac))
				usage();
			have_mac = true;
			break;
		case OPT_SRC:
			if (!add_src(&f, optarg)) {
				fprintf(stderr, "flood: out of memory\n");
				return 1;
			}
			break;
		case OPT_SRC_LIST:
			src_list = optarg;
			break;
		case OPT_PER_SRC:
			if (!parse_ulong(optarg, 1, MAX_PER_SRC, &v))
				usage();
			f.per_src = v;
			break;
		case OPT_DST:
			if (!parse_pfx(optarg, &f.dst)) {
				fprintf(stderr, "flood: bad --dst '%s'\n", optarg);
				usage();
			}
			f.have_dst = true;
			break;
		case OPT_DPORT:
			if (!parse_ulong(optarg, 1, 65535, &v))
				usage();
			f.dport = (uint16_t)v;
			break;
		case OPT_INCLUDE:
			if (f.nincl == MAX_INCLUDE || !parse_pfx(optarg, &f.incl[f.nincl]) ||
			    f.incl[f.nincl].len != (f.incl[f.nincl].family == AF_INET ? 32 : 128)) {
				fprintf(stderr,
					"flood: bad --include '%s' (one address, %d at most)\n",
					optarg, MAX_INCLUDE);
				usage();
			}
			f.nincl++;
			break;
		case OPT_INCLUDE_EVERY:
			if (!parse_ulong(optarg, 1, ULONG_MAX, &f.incl_every))
				usage();
			break;
		case OPT_TTL:
			if (!parse_ulong(optarg, 1, 255, &v))
				usage();
			f.ttl = (uint8_t)v;
			break;
		case OPT_MODE:
			for (v = 0; v < 3 && strcmp(optarg, mode_names[v]) != 0; v++)
				;
			if (v == 3)
				usage();
			f.mode = (enum mode)v;
			break;
		case OPT_SEED:
			if (!parse_ulong(optarg, 0, ULONG_MAX, &seed))
				usage();
			have_seed = true;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !ifname || !have_mac || (duration == 0 && count == 0))
		usage();
	if (src_list) {
		r = read_src_list(src_list, &f.srcs, &f.nsrcs);
		if (r < 0) {
			fprintf(stderr, "flood: --src-list %s: %s\n", src_list, strerror(-r));
			return 2;
		}
	}
	if (f.nsrcs == 0) {
		fprintf(stderr, "flood: no source: give --src or --src-list\n");
		usage();
	}
	if (!f.have_dst && f.mode != MODE_ARP_REPLY) {
		fprintf(stderr, "flood: --dst is required with --mode syn and arp-request\n");
		usage();
	}
	if (f.nincl >= f.incl_every) {
		fprintf(stderr, "flood: --include-every must exceed the number of --include\n");
		usage();
	}
	if (!check_addresses(&f))
		return 2;
	if (f.family == AF_INET6 && f.mode != MODE_SYN) {
		fprintf(stderr, "flood: ARP modes take IPv4 addresses\n");
		return 2;
	}

	/* Nothing below runs in the machine's own network. */
	r = in_initial_netns();
	if (r != 0) {
		if (r > 0)
			fprintf(stderr, "flood: refusing to run in the initial network namespace "
					"(the machine's own network): run it inside a test "
					"namespace (ip netns exec NS flood ...)\n");
		else
			fprintf(stderr,
				"flood: refusing to run: cannot compare /proc/self/ns/net "
				"with /proc/1/ns/net: %s\n",
				strerror(-r));
		return 2;
	}

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: receives nothing */
	if (fd < 0) {
		perror("flood: socket(AF_PACKET)");
		return 1;
	}
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (sll.sll_ifindex == 0) {
		fprintf(stderr, "flood: interface %s: %s\n", ifname, strerror(errno));
		rc = 1;
		goto out;
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("flood: bind");
		rc = 1;
		goto out;
	}
	if (f.src_mac == SRC_MAC_OWN) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
			perror("flood: SIOCGIFHWADDR");
			rc = 1;
			goto out;
		}
		memcpy(f.mac, ifr.ifr_hwaddr.sa_data, 6);
	}
#ifdef PACKET_QDISC_BYPASS
	/* Straight to the driver: the qdisc's lock is the bottleneck at high
	 * rates; without it a full device queue drops (ENOBUFS, retried). */
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0 && !quiet)
		fprintf(stderr, "flood: PACKET_QDISC_BYPASS: %s (going through the qdisc)\n",
			strerror(errno));
#endif
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	sll.sll_protocol = htons(ethertype(&f));
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, f.dst_mac, 6);

	if (have_seed) {
		f.rng = seed;
	} else if (getrandom(&f.rng, sizeof(f.rng), 0) != sizeof(f.rng)) {
		f.rng = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	}
	f.rng |= 1;
	f.ip_id = (uint16_t)rng_next(&f.rng);
	build_templates(&f);
	for (unsigned i = 0; i < BATCH_MAX; i++) {
		iovs[i].iov_base = f.ring[i];
		iovs[i].iov_len = f.frame_len;
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof(sll);
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	/* About one batch per millisecond: small enough that the frames of a
	 * batch leave close together, large enough to amortise the call. */
	batch = rate == 0 ? BATCH_MAX : (unsigned)(rate / 1000);
	if (batch < 1)
		batch = 1;
	if (batch > BATCH_MAX)
		batch = BATCH_MAX;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!quiet)
		fprintf(stderr, "flood: %s on %s, %lu pps%s, batches of %u, %zu-byte frames\n",
			mode_names[f.mode], ifname, rate, rate ? "" : " (as fast as possible)",
			batch, f.frame_len);

	/* At a rate, a duration is also a number of frames: no batch runs over. */
	if (rate && duration > 0 && (!count || duration * (double)rate + 0.5 < (double)count))
		count = (uint64_t)(duration * (double)rate + 0.5);
	start = now_ns();
	if (duration > 0)
		end = start + (int64_t)(duration * 1e9 + 0.5);
	while (!stop) {
		unsigned n = batch, done = 0;

		if (count && count - sent < n)
			n = (unsigned)(count - sent);
		if (n == 0)
			break;
		if (rate) {
			/* The batch's due time, from the frames sent so far: a
			 * late batch is not followed by a pause. */
			int64_t due = start + (int64_t)((double)sent * 1e9 / (double)rate);

			if (due >= end)
				break;
			if (due > now_ns())
				sleep_until(due);
		}
		/* Never past the end, even when behind the rate. */
		if (now_ns() >= end || stop)
			break;
		for (unsigned i = 0; i < n; i++)
			patch_frame(&f, f.ring[i]);
		while (done < n && !stop) {
			int err;

			r = sendmmsg(fd, msgs + done, n - done, 0);
			if (r > 0) {
				done += (unsigned)r;
				err_since = 0;
				continue;
			}
			err = r < 0 ? errno : EAGAIN;
			if (err == EINTR)
				continue;
			errors++;
			/* ENOBUFS and the like (a full device queue) pass; an
			 * error that lasts (the link is down or gone) does not. */
			if (err_since == 0) {
				err_since = now_ns();
			} else if (now_ns() - err_since > ERROR_GIVE_UP) {
				fprintf(stderr,
					"flood: sendmmsg on %s: %s (no frame sent for 1 s)\n",
					ifname, strerror(err));
				rc = 1;
				break;
			}
			sleep_until(now_ns() + 100000);
		}
		sent += done;
		if (rc)
			break;
	}
	elapsed = now_ns() - start;
	printf("sent %" PRIu64 " frames in %.3f s (%.0f pps), errors %" PRIu64 "\n", sent,
	       (double)elapsed / 1e9, elapsed > 0 ? (double)sent * 1e9 / (double)elapsed : 0.0,
	       errors);
out:
	if (fd >= 0)
		close(fd);
	free(f.srcs);
	return rc;
}
