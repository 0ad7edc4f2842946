/* bench_detect: the packet path's speed and memory.
 *
 *   bench_detect [-k K] [-c CONF] [-q QUARANTINED] [-T TCPDUMP] FILE...
 *   bench_detect [-k K] [-c CONF] --synth N [--write FILE]
 *   bench_detect [-k K] [-c CONF] --flood N [--flood-probes P] [--flood-macs]
 *                [--write FILE]
 *
 * Each input is loaded into memory first, then measured K times (the
 * three in-memory measurements interleaved, so that a drift of the machine
 * touches all of them alike):
 *   (a) a bare loop over the packets in memory, touching each one: the
 *       floor any packet consumer pays;
 *   (b) decode_packet() alone, and (b') decode_midflow() alone (the
 *       pre-check that spares mid-flow segments the decoding);
 *   (c) the whole offline engine: engine_frame() for every packet, then
 *       engine_flush(), into an output that prints nothing; a fresh engine
 *       each repetition (its set-up is not timed).
 * For a file also, from the disk (page cache):
 *   (b0) a bare libpcap pcap_next_ex() loop over the file, in process;
 *   the whole process `quarantined -r FILE -o json >/dev/null` (-q), and
 *   `tcpdump -r FILE -w /dev/null` (-T) as the process baseline.
 *
 * --midflow N builds N packets of mostly established TCP (the scale
 * issue's trace: 95 % mid-flow TCP, DNS, ICMP, a few SMB scanners), whose
 * connections carry real sequence and acknowledgment numbers; 30 % of its
 * clients are Windows-like (no TCP options: their pure ACKs are bare), the
 * rest put timestamps in every segment.  --filter old|bare|pure keeps only
 * what the live capture filter would pass (filter_build_acks(): before
 * bare ACKs, with them, with every pure ACK), and says what it passed and
 * what running the BPF program in userland cost per packet.
 *
 * --synth N builds N packets of mixed traffic (many hosts browsing with
 * replies, DNS, QUIC, a file server, pings, and five scanners) and
 * --flood N a flood of TCP SYNs from distinct spoofed internal sources
 * (P probes each), all sent by one machine (one MAC: the forged-source
 * flood of a LAN attacker), or with --flood-macs each from a MAC of its
 * own, to show the memory stays within the configured limits and what a
 * forged packet costs next to a normal one.  Every internal host of the
 * synthetic traffic has a MAC of its own; what comes from outside carries
 * the gateway's.
 *
 * Results are medians of K samples; a sample repeats a measurement until
 * it has lasted --min-sample-ms (20 ms by default) and counts the time per
 * pass; "spread" is (max - min) / median of the K samples.  Lines starting
 * with "row|" are for bench/run.sh's summary. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "benchutil.h"
#include "conf.h"
#include "decode.h"
#include "detect.h"
#include "engine.h"
#include "filter.h"
#include "hostdb.h"
#include "incident.h"
#include "output.h"
#include "types.h"

#define MAX_REPS 1000
#define SNAP	 96 /* bytes kept of each synthetic frame (headers) */
#define MIB	 (1024.0 * 1024.0)

/* ---- packets in memory ---- */

struct rec {
	usec_t ts;
	uint64_t off; /* into trace.data */
	uint32_t caplen, wirelen;
	int32_t dlt;
	uint32_t pad;
};

struct trace {
	char name[128];
	const char *path; /* NULL: synthetic */
	struct rec *r;
	size_t n, rcap;
	uint8_t *data;
	size_t len, dcap;
	uint64_t file_bytes;
	int dlt; /* of the first packet */
	bool synth;
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "bench_detect: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	return q;
}

static void trace_reserve(struct trace *t, size_t nrec, size_t nbytes)
{
	if (nrec > t->rcap) {
		t->r = xrealloc(t->r, nrec * sizeof(*t->r));
		t->rcap = nrec;
	}
	if (nbytes > t->dcap) {
		t->data = xrealloc(t->data, nbytes);
		t->dcap = nbytes;
	}
}

static void trace_add(struct trace *t, usec_t ts, const uint8_t *data, uint32_t caplen,
		      uint32_t wirelen, int dlt)
{
	struct rec *r;

	if (t->n == t->rcap || t->len + caplen > t->dcap)
		trace_reserve(t, t->n == t->rcap ? 2 * t->rcap + 1024 : t->rcap,
			      t->len + caplen > t->dcap ? 2 * t->dcap + caplen + 65536 : t->dcap);
	r = &t->r[t->n++];
	memset(r, 0, sizeof(*r));
	r->ts = ts;
	r->off = t->len;
	r->caplen = caplen;
	r->wirelen = wirelen;
	r->dlt = dlt;
	memcpy(t->data + t->len, data, caplen);
	t->len += caplen;
	if (t->n == 1)
		t->dlt = dlt;
}

static void trace_free(struct trace *t)
{
	free(t->r);
	free(t->data);
	memset(t, 0, sizeof(*t));
}

static int trace_load(struct trace *t, const char *path)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_pkthdr *h;
	const u_char *data;
	struct stat st;
	const char *base = strrchr(path, '/');
	pcap_t *p;
	int r, dlt;

	memset(t, 0, sizeof(*t));
	t->path = path;
	snprintf(t->name, sizeof(t->name), "%s", base ? base + 1 : path);
	if (stat(path, &st) == 0)
		t->file_bytes = (uint64_t)st.st_size;
	p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!p) {
		fprintf(stderr, "bench_detect: %s: %s\n", path, ebuf);
		return -1;
	}
	dlt = pcap_datalink(p);
	while ((r = pcap_next_ex(p, &h, &data)) == 1)
		trace_add(t, (usec_t)h->ts.tv_sec * USEC_PER_SEC + (usec_t)h->ts.tv_usec, data,
			  h->caplen, h->len, dlt);
	if (r == PCAP_ERROR)
		fprintf(stderr, "bench_detect: %s: read error after %zu packets: %s\n", path, t->n,
			pcap_geterr(p));
	pcap_close(p);
	return 0;
}

/* ---- synthetic traffic ---- */

enum ftype {
	F_TCP = 1, /* web or file server: handshake, data, FIN */
	F_DNS,
	F_QUIC,
	F_PING,
	F_SCAN, /* one scanner SYN, maybe answered by a RST */
};

struct flow {
	uint8_t type;
	uint8_t fail; /* F_TCP: 1 refused (RST), 2 unanswered */
	uint16_t step, nsteps;
	uint32_t cli, srv;
	uint16_t sport, dport;
};

#define NHOSTS	    20000	/* 10.1.0.1 ... browsing hosts */
#define NSERVERS    50000	/* 198.18.0.0/15 (RFC 2544 benchmarking range) */
#define NPOPULAR    1000	/* most connections go to these */
#define NFLOWS	    1024	/* flows in progress at once */
#define NSCANNERS   5		/* 10.1.250.1 ... */
#define ADDR_FILESV 0x0a00000au /* 10.0.0.10 */
#define ADDR_DNS    0x0a000035u /* 10.0.0.53 */
#define ADDR_VTGT   0x0a000014u /* 10.0.0.20, the vertical scan's target */

struct gen {
	struct trace *t;
	uint64_t rng;
	usec_t now, dt;
	uint16_t ipid, vport;
	struct flow flows[NFLOWS];
	uint64_t scan_probes;
	bool flood_one_mac; /* every frame from flood_mac */
};

static uint64_t rnd(struct gen *g)
{
	/* xorshift64* */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545F4914F6CDD1DULL;
}

static uint32_t rnd_below(struct gen *g, uint32_t n)
{
	return (uint32_t)(((rnd(g) >> 32) * n) >> 32);
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* The MAC of an address's machine: an internal (10/8) host's own, derived
 * from its address; the gateway's for any other. */
static void mac_of(uint8_t mac[6], uint32_t a)
{
	mac[0] = 0x02;
	mac[1] = 0x00;
	if ((a >> 24) != 10) {
		memset(mac + 2, 0, 3);
		mac[5] = 1;
		return;
	}
	put32(mac + 2, a);
}

/* The flooder's MAC, when the flood comes from one machine (g->flood_mac
 * zero: each forged source has a MAC of its own, as a random-MAC flood). */
static const uint8_t flood_mac[6] = {0x02, 0x66, 0x66, 0x66, 0x66, 0x66};

/* Ethernet + IPv4 header; returns the offset of the transport header. */
static unsigned put_eth_ip(struct gen *g, uint8_t *b, uint32_t src, uint32_t dst, uint8_t proto,
			   unsigned l4len)
{
	uint8_t *ip = b + 14;

	mac_of(b, dst);
	if (g->flood_one_mac)
		memcpy(b + 6, flood_mac, 6);
	else
		mac_of(b + 6, src);
	b[12] = 0x08;
	b[13] = 0x00;
	ip[0] = 0x45;
	put16(ip + 2, 20 + l4len);
	put16(ip + 4, g->ipid++);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	return 34;
}

static void emit(struct gen *g, const uint8_t *b, unsigned wirelen)
{
	trace_add(g->t, g->now, b, wirelen < SNAP ? wirelen : SNAP, wirelen, DLT_EN10MB);
	/* Mean spacing dt, jittered by +-50%. */
	g->now += g->dt / 2 + rnd_below(g, (uint32_t)g->dt + 1);
}

static void pkt_tcp(struct gen *g, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		    uint8_t flags, unsigned payload)
{
	uint8_t b[SNAP] = {0};
	unsigned o = put_eth_ip(g, b, src, dst, IPPROTO_TCP, 20 + payload);

	put16(b + o, sport);
	put16(b + o + 2, dport);
	put32(b + o + 4, (uint32_t)rnd(g));
	put32(b + o + 8, (flags & 0x10) ? (uint32_t)rnd(g) : 0);
	b[o + 12] = 0x50;
	b[o + 13] = flags;
	put16(b + o + 14, 64240);
	emit(g, b, o + 20 + payload);
}

static void pkt_udp(struct gen *g, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		    unsigned payload)
{
	uint8_t b[SNAP] = {0};
	unsigned o = put_eth_ip(g, b, src, dst, IPPROTO_UDP, 8 + payload);

	put16(b + o, sport);
	put16(b + o + 2, dport);
	put16(b + o + 4, 8 + payload);
	emit(g, b, o + 8 + payload);
}

static void pkt_echo(struct gen *g, uint32_t src, uint32_t dst, bool reply, uint16_t id)
{
	uint8_t b[SNAP] = {0};
	unsigned o = put_eth_ip(g, b, src, dst, IPPROTO_ICMP, 8 + 56);

	b[o] = reply ? 0 : 8;
	put16(b + o + 4, id);
	put16(b + o + 6, 1);
	emit(g, b, o + 8 + 56);
}

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

static uint32_t host_addr(unsigned i)
{
	return 0x0a010000u + 1 + i; /* 10.1.0.1 ... */
}

static uint32_t server_addr(struct gen *g)
{
	unsigned j = rnd_below(g, 10) < 8 ? rnd_below(g, NPOPULAR) : rnd_below(g, NSERVERS);

	return 0xc6120000u + j; /* 198.18.0.0/15 */
}

static void flow_start(struct gen *g, struct flow *f)
{
	unsigned x = rnd_below(g, 1000);

	memset(f, 0, sizeof(*f));
	f->cli = host_addr(rnd_below(g, NHOSTS));
	f->sport = (uint16_t)(1024 + rnd_below(g, 64000));
	if (x < 550 || (x >= 850 && x < 930)) {
		/* Web (55%) or the internal file server (8%). */
		f->type = F_TCP;
		if (x < 550) {
			f->srv = server_addr(g);
			f->dport = rnd_below(g, 5) ? 443 : 80;
		} else {
			f->srv = ADDR_FILESV;
			f->dport = 445;
		}
		f->nsteps = (uint16_t)(6 + 2 * (1 + rnd_below(g, 5)));
		x = rnd_below(g, 1000);
		if (x < 10) { /* 1% refused, 0.5% unanswered */
			f->fail = 1;
			f->nsteps = 2;
		} else if (x < 15) {
			f->fail = 2;
			f->nsteps = 1;
		}
	} else if (x < 750) {
		f->type = F_DNS; /* 20% */
		f->srv = ADDR_DNS;
		f->dport = 53;
		f->nsteps = 2;
	} else if (x < 850) {
		f->type = F_QUIC; /* 10% */
		f->srv = server_addr(g);
		f->dport = 443;
		f->nsteps = (uint16_t)(2 * (2 + rnd_below(g, 5)));
	} else if (x < 950) {
		f->type = F_PING; /* 2% */
		f->srv = server_addr(g);
		f->nsteps = 2;
	} else {
		/* 5%: one probe of a scanner.  0 and 1 spread over SMB, 2 over
		 * telnet, 3 over SSH; 4 scans the ports of one server. */
		static const uint16_t ports[] = {445, 445, 23, 22};
		unsigned k = rnd_below(g, NSCANNERS);

		f->type = F_SCAN;
		f->cli = 0x0a01fa01u + k; /* 10.1.250.1 + k */
		if (k < 4) {
			f->srv = 0x0a020000u + rnd_below(g, 65536); /* 10.2.0.0/16 */
			f->dport = ports[k];
			f->nsteps = rnd_below(g, 10) < 3 ? 2 : 1; /* 30% answered by RST */
		} else {
			f->srv = ADDR_VTGT;
			f->dport = (uint16_t)(1 + g->vport++ % 1024);
			f->nsteps = 2;
		}
		g->scan_probes++;
	}
}

static void flow_step(struct gen *g, struct flow *f)
{
	unsigned s = f->step++, n = f->nsteps;

	switch (f->type) {
	case F_TCP:
		if (s == 0)
			pkt_tcp(g, f->cli, f->srv, f->sport, f->dport, TH_SYN, 0);
		else if (f->fail == 1)
			pkt_tcp(g, f->srv, f->cli, f->dport, f->sport, TH_RST | TH_ACK, 0);
		else if (s == 1)
			pkt_tcp(g, f->srv, f->cli, f->dport, f->sport, TH_SYN | TH_ACK, 0);
		else if (s == 2)
			pkt_tcp(g, f->cli, f->srv, f->sport, f->dport, TH_ACK, 0);
		else if (s < n - 3 && (s - 3) % 2 == 0)
			pkt_tcp(g, f->srv, f->cli, f->dport, f->sport, TH_PSH | TH_ACK, 1200);
		else if (s < n - 3)
			pkt_tcp(g, f->cli, f->srv, f->sport, f->dport, TH_ACK, 0);
		else if (s == n - 3)
			pkt_tcp(g, f->cli, f->srv, f->sport, f->dport, TH_FIN | TH_ACK, 0);
		else if (s == n - 2)
			pkt_tcp(g, f->srv, f->cli, f->dport, f->sport, TH_FIN | TH_ACK, 0);
		else
			pkt_tcp(g, f->cli, f->srv, f->sport, f->dport, TH_ACK, 0);
		break;
	case F_DNS:
		if (s == 0)
			pkt_udp(g, f->cli, f->srv, f->sport, 53, 35);
		else
			pkt_udp(g, f->srv, f->cli, 53, f->sport, 80);
		break;
	case F_QUIC:
		if (s % 2 == 0)
			pkt_udp(g, f->cli, f->srv, f->sport, 443, 1200);
		else
			pkt_udp(g, f->srv, f->cli, 443, f->sport, 1200);
		break;
	case F_PING:
		if (s == 0)
			pkt_echo(g, f->cli, f->srv, false, f->sport);
		else
			pkt_echo(g, f->srv, f->cli, true, f->sport);
		break;
	case F_SCAN:
		if (s == 0)
			pkt_tcp(g, f->cli, f->srv, f->sport, f->dport, TH_SYN, 0);
		else
			pkt_tcp(g, f->srv, f->cli, f->dport, f->sport, TH_RST | TH_ACK, 0);
		break;
	default:
		break;
	}
}

static void synth_mixed(struct trace *t, uint64_t n)
{
	struct gen *g = calloc(1, sizeof(*g));

	if (!g)
		exit(1);
	g->t = t;
	g->rng = 0x9e3779b97f4a7c15ULL;
	g->now = 1768467600ULL * USEC_PER_SEC; /* 2026-01-15T09:00:00Z */
	g->dt = 20;			       /* 50,000 packets/s on average */
	trace_reserve(t, n, n * SNAP);
	while (t->n < n) {
		struct flow *f = &g->flows[rnd_below(g, NFLOWS)];
		if (f->step >= f->nsteps)
			flow_start(g, f);
		flow_step(g, f);
	}
	snprintf(t->name, sizeof(t->name), "synth-%" PRIu64, n);
	t->synth = true;
	free(g);
}

/* SYNs from distinct internal sources: source i is 10.x.y.z with x.y.z =
 * i * 2654435761 mod 2^24, a bijection, so the first 2^24 are distinct.
 * Each sends `probes` SYNs to random 10/8 destinations (port 445 when more
 * than one, so that each source is also detected; a random port else). */
static void synth_flood(struct trace *t, uint64_t n, unsigned probes, bool one_mac)
{
	struct gen *g = calloc(1, sizeof(*g));

	if (!g)
		exit(1);
	g->t = t;
	g->flood_one_mac = one_mac;
	g->rng = 0x2545f4914f6cdd1dULL;
	g->now = 1768467600ULL * USEC_PER_SEC;
	g->dt = 1; /* a million packets/s */
	trace_reserve(t, n, n * SNAP);
	for (uint64_t i = 0; t->n < n; i++) {
		uint32_t src = 0x0a000000u | ((uint32_t)(i * 2654435761u) & 0xffffffu);

		for (unsigned p = 0; p < probes && t->n < n; p++) {
			uint32_t dst = 0x0a000000u | ((uint32_t)rnd(g) & 0xffffffu);
			uint16_t port = probes > 1 ? 445 : (uint16_t)(1 + rnd_below(g, 65535));

			pkt_tcp(g, src, dst, (uint16_t)(1024 + rnd_below(g, 64000)), port, TH_SYN,
				0);
		}
	}
	snprintf(t->name, sizeof(t->name), "flood-%" PRIu64 "x%u%s", n / probes, probes,
		 one_mac ? "" : "-macs");
	t->synth = true;
	free(g);
}

/* ---- mostly established TCP (--midflow) ---- */

struct mflow {
	uint32_t cli, srv;
	uint16_t sport, dport;
	uint32_t cseq, sseq;
	uint32_t left;	 /* data segments still to send */
	uint8_t ts;	 /* timestamps on both sides (not a Windows-like client) */
	uint8_t upload;	 /* the client sends the data */
	uint8_t phase;	 /* 0 SYN, 1 SYN-ACK, 2 ACK, 3 data, 4 FIN, 5 FIN, 6 last ACK */
	uint8_t unacked; /* data segments since the last ACK */
};

/* One TCP segment with real numbers; ts: the 12 bytes of NOP NOP TS. */
static void pkt_tcp_seg(struct gen *g, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			uint8_t flags, uint32_t seq, uint32_t ack, bool ts, unsigned payload)
{
	uint8_t b[SNAP] = {0};
	unsigned hl = ts ? 32 : 20;
	unsigned o = put_eth_ip(g, b, src, dst, IPPROTO_TCP, hl + payload);

	put16(b + o, sport);
	put16(b + o + 2, dport);
	put32(b + o + 4, seq);
	put32(b + o + 8, ack);
	b[o + 12] = (uint8_t)((hl / 4) << 4);
	b[o + 13] = flags;
	put16(b + o + 14, ts ? 501 : 1026);
	if (ts) {
		b[o + 20] = 1;
		b[o + 21] = 1;
		b[o + 22] = 8;
		b[o + 23] = 10;
		put32(b + o + 24, (uint32_t)(g->now / 1000));
		put32(b + o + 28, (uint32_t)(g->now / 1000) - 7);
	}
	emit(g, b, o + hl + payload);
}

static void mflow_start(struct gen *g, struct mflow *f, bool midflow)
{
	memset(f, 0, sizeof(*f));
	f->cli = host_addr(rnd_below(g, NHOSTS));
	f->sport = (uint16_t)(32768 + rnd_below(g, 28000));
	if (rnd_below(g, 10) == 0) {
		f->srv = ADDR_FILESV;
		f->dport = 445;
	} else {
		f->srv = server_addr(g);
		f->dport = rnd_below(g, 5) ? 443 : 80;
	}
	f->cseq = (uint32_t)rnd(g);
	f->sseq = (uint32_t)rnd(g);
	f->ts = rnd_below(g, 10) >= 3;
	f->upload = rnd_below(g, 10) == 0;
	f->left = 100 + rnd_below(g, 2000);
	/* At the start of the capture every connection is under way. */
	f->phase = midflow ? 3 : 0;
}

/* The next packet of flow f. */
static void mflow_step(struct gen *g, struct mflow *f)
{
	uint8_t A = TH_ACK;

	switch (f->phase++) {
	case 0:
		pkt_tcp_seg(g, f->cli, f->srv, f->sport, f->dport, TH_SYN, f->cseq++, 0, false, 0);
		return;
	case 1:
		pkt_tcp_seg(g, f->srv, f->cli, f->dport, f->sport, TH_SYN | A, f->sseq++, f->cseq,
			    false, 0);
		return;
	case 2:
		pkt_tcp_seg(g, f->cli, f->srv, f->sport, f->dport, A, f->cseq, f->sseq, f->ts, 0);
		return;
	case 3:
		f->phase = 3;
		if (f->unacked == 2) {
			/* The receiver's ACK of the last two segments. */
			f->unacked = 0;
			if (f->upload)
				pkt_tcp_seg(g, f->srv, f->cli, f->dport, f->sport, A, f->sseq,
					    f->cseq, f->ts, 0);
			else
				pkt_tcp_seg(g, f->cli, f->srv, f->sport, f->dport, A, f->cseq,
					    f->sseq, f->ts, 0);
			if (f->left == 0)
				f->phase = 4;
			return;
		}
		if (f->upload) {
			pkt_tcp_seg(g, f->cli, f->srv, f->sport, f->dport, A, f->cseq, f->sseq,
				    f->ts, 1448);
			f->cseq += 1448;
		} else {
			pkt_tcp_seg(g, f->srv, f->cli, f->dport, f->sport, A, f->sseq, f->cseq,
				    f->ts, 1448);
			f->sseq += 1448;
		}
		f->unacked++;
		if (f->left)
			f->left--;
		return;
	case 4:
		pkt_tcp_seg(g, f->cli, f->srv, f->sport, f->dport, TH_FIN | A, f->cseq++, f->sseq,
			    f->ts, 0);
		return;
	case 5:
		pkt_tcp_seg(g, f->srv, f->cli, f->dport, f->sport, TH_FIN | A, f->sseq++, f->cseq,
			    f->ts, 0);
		return;
	default:
		pkt_tcp_seg(g, f->cli, f->srv, f->sport, f->dport, A, f->cseq, f->sseq, f->ts, 0);
		f->left = UINT32_MAX; /* done */
		return;
	}
}

static void synth_midflow(struct trace *t, uint64_t n)
{
	struct gen *g = calloc(1, sizeof(*g));
	struct mflow *fl = calloc(NFLOWS, sizeof(*fl));

	if (!g || !fl)
		exit(1);
	g->t = t;
	g->rng = 0x5851f42d4c957f2dULL;
	g->now = 1768467600ULL * USEC_PER_SEC;
	g->dt = 20;
	trace_reserve(t, n, n * SNAP);
	for (unsigned i = 0; i < NFLOWS; i++)
		mflow_start(g, &fl[i], true);
	while (t->n < n) {
		unsigned x = rnd_below(g, 1000);

		if (x < 950) {
			struct mflow *f = &fl[rnd_below(g, NFLOWS)];

			if (f->left == UINT32_MAX)
				mflow_start(g, f, false);
			mflow_step(g, f);
		} else if (x < 980) {
			uint32_t c = host_addr(rnd_below(g, NHOSTS));
			uint16_t sp = (uint16_t)(1024 + rnd_below(g, 64000));

			pkt_udp(g, c, ADDR_DNS, sp, 53, 35);
			pkt_udp(g, ADDR_DNS, c, 53, sp, 80);
		} else if (x < 995) {
			uint32_t c = host_addr(rnd_below(g, NHOSTS)), s = server_addr(g);
			uint16_t id = (uint16_t)rnd(g);

			pkt_echo(g, c, s, false, id);
			pkt_echo(g, s, c, true, id);
		} else {
			/* Three SMB scanners, 30 % answered by a reset. */
			uint32_t sc = 0x0a01fa01u + rnd_below(g, 3);
			uint32_t dst = 0x0a020000u + rnd_below(g, 65536);
			uint16_t sp = (uint16_t)(32768 + rnd_below(g, 28000));

			pkt_tcp(g, sc, dst, sp, 445, TH_SYN, 0);
			if (rnd_below(g, 10) < 3)
				pkt_tcp(g, dst, sc, 445, sp, TH_RST | TH_ACK, 0);
			g->scan_probes++;
		}
	}
	t->n = n; /* a pair may have run one over */
	snprintf(t->name, sizeof(t->name), "midflow-%" PRIu64, n);
	t->synth = true;
	free(fl);
	free(g);
}

/* Keeps the packets the live capture filter for c would pass (acks: which
 * pure ACKs), and says how many and what the BPF program cost in userland
 * (the kernel runs it JIT-compiled). */
static int trace_filter(struct trace *t, const struct conf *c, enum filter_acks acks,
			const char *label)
{
	static char expr[2048];
	struct bpf_program prog;
	pcap_t *p;
	size_t n0 = t->n, k = 0;
	uint64_t c0;
	int r;

	r = filter_build_acks(c, acks, expr, sizeof(expr));
	if (r < 0)
		return -1;
	p = pcap_open_dead(t->dlt, 65535);
	if (!p || pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		fprintf(stderr, "bench_detect: filter: %s\n", p ? pcap_geterr(p) : "pcap");
		return -1;
	}
	c0 = bench_cpu_ns();
	for (size_t i = 0; i < n0; i++) {
		const struct rec *rc = &t->r[i];
		struct pcap_pkthdr h = {.caplen = rc->caplen, .len = rc->wirelen};

		if (pcap_offline_filter(&prog, &h, t->data + rc->off))
			t->r[k++] = *rc;
	}
	c0 = bench_cpu_ns() - c0;
	t->n = k;
	printf("filter %s: passed %zu of %zu packets (%.2f %%); BPF in userland %.1f ns per "
	       "packet\nfilter|%s|%zu|%zu|%.1f\n",
	       label, k, n0, 100.0 * (double)k / (double)n0, (double)c0 / (double)n0, label, n0, k,
	       (double)c0 / (double)n0);
	snprintf(t->name + strlen(t->name), sizeof(t->name) - strlen(t->name), " [%s]", label);
	pcap_freecode(&prog);
	pcap_close(p);
	return 0;
}

static int trace_write(const struct trace *t, const char *path)
{
	pcap_t *p =
		pcap_open_dead_with_tstamp_precision(t->dlt, 65535, PCAP_TSTAMP_PRECISION_MICRO);
	pcap_dumper_t *d = p ? pcap_dump_open(p, path) : NULL;

	if (!d) {
		fprintf(stderr, "bench_detect: %s: %s\n", path, p ? pcap_geterr(p) : "pcap");
		if (p)
			pcap_close(p);
		return -1;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct pcap_pkthdr h;

		memset(&h, 0, sizeof(h));
		h.ts.tv_sec = (time_t)(t->r[i].ts / USEC_PER_SEC);
		h.ts.tv_usec = (suseconds_t)(t->r[i].ts % USEC_PER_SEC);
		h.caplen = t->r[i].caplen;
		h.len = t->r[i].wirelen;
		pcap_dump((u_char *)d, &h, t->data + t->r[i].off);
	}
	pcap_dump_close(d);
	pcap_close(p);
	return 0;
}

/* ---- the measurements ---- */

static volatile uint64_t sink; /* keeps the loops' work alive */

/* Wall and CPU time of one pass, in ns. */
struct tm2 {
	uint64_t wall, cpu;
};

struct clk {
	uint64_t wall, cpu;
};

static struct clk clk_start(void)
{
	return (struct clk){bench_now_ns(), bench_cpu_ns()};
}

static struct tm2 clk_since(const struct clk *c, unsigned passes)
{
	struct tm2 t = {(bench_now_ns() - c->wall) / passes, (bench_cpu_ns() - c->cpu) / passes};

	return t;
}

/* Medians etc. of K samples, wall and CPU. */
struct meas {
	struct bench_summary wall, cpu;
};

static void summarize(const struct tm2 *v, unsigned n, struct meas *m)
{
	static uint64_t w[MAX_REPS], c[MAX_REPS];

	for (unsigned i = 0; i < n; i++) {
		w[i] = v[i].wall;
		c[i] = v[i].cpu;
	}
	bench_summarize(w, n, &m->wall);
	bench_summarize(c, n, &m->cpu);
}

static uint64_t run_bare(const struct trace *t)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct rec *r = &t->r[i];
		const uint8_t *p = t->data + r->off;

		sum += r->ts + r->wirelen + (unsigned)r->dlt;
		if (r->caplen)
			sum += p[0] + p[r->caplen - 1];
	}
	return sum;
}

static uint64_t run_decode(const struct trace *t, struct decode_stats *ds)
{
	uint64_t sum = 0;
	struct pkt p;

	memset(ds, 0, sizeof(*ds));
	for (size_t i = 0; i < t->n; i++) {
		const struct rec *r = &t->r[i];

		if (decode_packet(r->dlt, t->data + r->off, r->caplen, r->wirelen, &p, ds) == 0)
			sum += p.proto + p.sport + p.dst.b[3];
	}
	return sum;
}

/* b': the pre-check alone (decode_midflow()), what the offline path pays
 * for a segment it then skips; to set against the live filter's BPF
 * program run in userland (--filter). */
static uint64_t run_midflow(const struct trace *t)
{
	uint64_t n = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct rec *r = &t->r[i];

		n += decode_midflow(r->dlt, t->data + r->off, r->caplen, NULL);
	}
	return n;
}

struct engine_result {
	struct engine_stats st;
	struct decode_stats decode;
	struct detect_stats ds;
	size_t detect_mem;
	size_t bound; /* every table the engine sizes from the limits */
	/* Host histories: heap, grown per flagged host (hostdb_history()). */
	size_t hist_bytes, hist_bound;
	uint32_t registry, registry_cap;
	unsigned incidents;
	long rss_delta_kib; /* resident growth from engine_init() to the end */
	/* Synthetic traffic: flagged hosts that are (not) the scanners. */
	unsigned flagged_scanners, flagged_benign;
	unsigned benign_by_rule[DETECT_NRULES];
};

static void tally_registry(struct engine *e, struct engine_result *res)
{
	for (struct hostrec *r = hostdb_first(&e->hosts); r; r = hostdb_next(&e->hosts, r)) {
		if (r->addr.family == AF_INET && r->addr.b[0] == 10 && r->addr.b[1] == 1 &&
		    r->addr.b[2] == 250) {
			res->flagged_scanners++;
			continue;
		}
		res->flagged_benign++;
		for (unsigned i = 0; i < r->nhits; i++)
			if (r->hits[i].rule < DETECT_NRULES)
				res->benign_by_rule[r->hits[i].rule]++;
	}
}

/* One pass of the trace through a fresh engine; only the packets and the
 * final flush are timed.  warm: first an untimed pass through the same
 * engine, then the timed one with every timestamp a day later, when the
 * windows of the first have expired: the engine of a daemon that has been
 * running, whose tables' pages are resident (the detections of the first
 * pass are not repeated: a host is reported once per rule). */
#define WARM_SHIFT_US (86400 * USEC_PER_SEC)

static struct tm2 run_engine(const struct trace *t, const struct conf *c, bool warm,
			     struct engine_result *res)
{
	struct output out;
	struct engine eng;
	struct clk c0;
	struct tm2 tm;
	usec_t shift = 0;
	long rss0;
	int r;

	output_init(&out, NULL, OUTPUT_JSON, false);
	rss0 = bench_rss_kib();
	r = engine_init(&eng, c, MODE_OFFLINE, &out, NULL, NULL);
	if (r < 0) {
		fprintf(stderr, "bench_detect: engine_init: %s\n", strerror(-r));
		exit(1);
	}
	if (warm) {
		for (size_t i = 0; i < t->n; i++) {
			const struct rec *rc = &t->r[i];
			engine_frame(&eng, rc->dlt, t->data + rc->off, rc->caplen, rc->wirelen,
				     rc->ts);
		}
		engine_flush(&eng);
		shift = WARM_SHIFT_US;
	}
	c0 = clk_start();
	for (size_t i = 0; i < t->n; i++) {
		const struct rec *rc = &t->r[i];
		engine_frame(&eng, rc->dlt, t->data + rc->off, rc->caplen, rc->wirelen,
			     rc->ts + shift);
	}
	engine_flush(&eng);
	tm = clk_since(&c0, 1);

	memset(res, 0, sizeof(*res));
	res->rss_delta_kib = bench_rss_kib() - rss0;
	res->st = eng.st;
	res->decode = *engine_decode_stats(&eng);
	detect_get_stats(eng.det, &res->ds);
	res->detect_mem = detect_memory(eng.det);
	res->registry = hostdb_count(&eng.hosts);
	res->registry_cap = hostdb_capacity(&eng.hosts);
	res->bound = res->detect_mem + (size_t)eng.hosts.t.cap * eng.hosts.t.esize +
		     ((size_t)eng.hosts.t.mask + 1) * sizeof(uint32_t) +
		     (size_t)eng.incidents.cap * sizeof(struct incident);
	res->incidents = eng.incidents.next_id - 1;
#ifdef HOST_MAX_HIST
	for (struct hostrec *h = hostdb_first(&eng.hosts); h; h = hostdb_next(&eng.hosts, h))
		res->hist_bytes += (size_t)h->hist_cap * sizeof(struct hist);
	res->hist_bound = (size_t)eng.hosts.t.cap * HOST_MAX_HIST * sizeof(struct hist);
#endif
	if (t->synth)
		tally_registry(&eng, res);
	output_close(&out);
	engine_fini(&eng);
	return tm;
}

/* b0: libpcap from the file, touching each packet like (a). */
static struct tm2 run_pcap_file(const char *path, uint64_t *ret_n)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	struct clk c0 = clk_start();
	uint64_t sum = 0, n = 0;
	pcap_t *p =
		pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);

	if (!p)
		return (struct tm2){0, 0};
	while (pcap_next_ex(p, &h, &data) == 1) {
		sum += (uint64_t)h->ts.tv_usec + h->len;
		if (h->caplen)
			sum += data[0] + data[h->caplen - 1];
		n++;
	}
	pcap_close(p);
	sink += sum;
	*ret_n = n;
	return clk_since(&c0, 1);
}

/* ---- options and output ---- */

struct opts {
	unsigned reps;
	const char *config;
	const char *quarantined;
	const char *tcpdump;
	const char *write;
	uint64_t synth, flood, midflow;
	const char *filter; /* NULL, "old", "bare" or "pure" */
	unsigned flood_probes;
	bool flood_macs;
	uint64_t min_sample_ns;
	bool warm;
};

static const char *conf_used; /* for the report */

static int load_conf(const struct opts *o, struct conf *c)
{
	struct conf_diags diags;
	const char *path = o->config;
	int r;

	/* As quarantined does: the named file, else the default file when it
	 * exists, else the built-in defaults. */
	if (!path && access(CONF_DEFAULT_PATH, F_OK) == 0)
		path = CONF_DEFAULT_PATH;
	if (!path) {
		conf_used = "built-in defaults";
		return conf_init_default(c);
	}
	memset(&diags, 0, sizeof(diags));
	r = conf_load(c, path, &diags);
	for (unsigned i = 0; i < diags.n; i++)
		fprintf(stderr, "%s:%d: %s\n", diags.d[i].file, diags.d[i].line, diags.d[i].msg);
	conf_used = path;
	return r;
}

/* One line of the in-memory table: per packet, CPU time first. */
static void print_row(const char *what, const struct meas *m, uint64_t packets, const char *vs,
		      const struct meas *base)
{
	double n = (double)packets;
	char ratio[48] = "baseline";

	if (vs)
		snprintf(ratio, sizeof(ratio), "%.1fx %s",
			 (double)m->cpu.median / (double)base->cpu.median, vs);
	printf("| %-40s | %8.1f | %8.1f | %8.2f | %5.1f%% | %-12s |\n", what,
	       (double)m->cpu.median / n, (double)m->wall.median / n,
	       n * 1e3 / (double)m->cpu.median, bench_spread_pct(&m->cpu), ratio);
}

static void print_proc(const char *what, const struct meas *m, long rss_kib, const char *vs,
		       const struct meas *base)
{
	char ratio[48] = "baseline";

	if (vs)
		snprintf(ratio, sizeof(ratio), "%.2fx %s",
			 (double)m->wall.median / (double)base->wall.median, vs);
	printf("| %-40s | %9.2f | %9.2f | %8.1f | %5.1f%% | %-12s |\n", what,
	       (double)m->wall.median / 1e6, (double)m->cpu.median / 1e6, (double)rss_kib / 1024,
	       bench_spread_pct(&m->wall), ratio);
}

static const char *rule_label(const struct conf *c, unsigned rule)
{
	return rule == DETECT_RULE_TRW ? DETECT_TRW_NAME
	       : rule < c->nrules      ? c->rules[rule].name
				       : "?";
}

static void print_engine(const struct trace *t, const struct conf *c, const struct engine_result *e,
			 long rss_loaded, long rss_delta_max)
{
	const struct detect_stats *d = &e->ds;
	char b1[32], b2[32];

	printf("engine: %s packets decoded of %s (unsupported %" PRIu64 ", malformed %" PRIu64
	       "), %" PRIu64 " first contacts, %" PRIu64 " detections, %u flagged hosts, "
	       "%u incidents\n",
	       bench_group(e->decode.decoded, b1, sizeof(b1)),
	       bench_group(e->decode.packets, b2, sizeof(b2)), e->decode.err[DECODE_E_UNSUPPORTED],
	       e->decode.err[DECODE_E_TRUNCATED] + e->decode.err[DECODE_E_MALFORMED], d->probes,
	       e->st.detections, e->registry, e->incidents);
	printf("tables: hosts %u/%u (evicted %" PRIu64 "), probes %u/%u (evicted %" PRIu64
	       "), peers %u/%u (evicted %" PRIu64 "), registry %u/%u (full %" PRIu64 ")\n",
	       d->hosts, d->max_hosts, d->hosts_evicted, d->probes_tracked, d->max_probes,
	       d->probes_evicted, d->peers, d->max_peers, d->peers_evicted, e->registry,
	       e->registry_cap, e->st.registry_full);
	printf("memory: peak RSS %.1f MiB (the packets in memory: %.1f MiB of it); engine "
	       "resident growth %.1f MiB (max over the runs); detect_memory() %.1f MiB; every "
	       "limit-sized table %.1f MiB\n",
	       (double)bench_peak_rss_kib() / 1024, (double)rss_loaded / 1024,
	       (double)rss_delta_max / 1024, (double)e->detect_mem / MIB, (double)e->bound / MIB);
	if (e->hist_bound)
		printf("memory: host histories on the heap %.1f MiB (allocated on detection, "
		       "outside the tables; up to %.1f MiB with max_blocked hosts)\n",
		       (double)e->hist_bytes / MIB, (double)e->hist_bound / MIB);
	if (t->synth &&
	    (strncmp(t->name, "synth", 5) == 0 || strncmp(t->name, "midflow", 7) == 0)) {
		printf("flagged: %u of %u scanners, %u other hosts", e->flagged_scanners,
		       t->name[0] == 'm' ? 3 : NSCANNERS, e->flagged_benign);
		for (unsigned i = 0; i < DETECT_NRULES; i++)
			if (e->benign_by_rule[i])
				printf("%s%s %u", i ? ", " : " (", rule_label(c, i),
				       e->benign_by_rule[i]);
		printf("%s\n", e->flagged_benign ? ")" : "");
	}
}

struct totals {
	uint64_t packets, bare, dec, eng, warm, b0, proc, tcpd; /* CPU ns; processes wall */
	unsigned files;
};

/* What was measured from the file on disk, before it was loaded. */
struct disk {
	bool done;
	uint64_t packets;
	unsigned passes;
	struct meas b0, q, t;
	unsigned nq, nt;
	long q_rss, t_rss, parent_rss;
};

/* Passes of a measurement per sample, so that a sample lasts at least
 * min_sample_ns: a trace of a few thousand packets takes well under a
 * millisecond, where the clock and the scheduler would dominate. */
static unsigned passes_for(const struct opts *o, struct tm2 one_pass)
{
	uint64_t p = one_pass.wall ? o->min_sample_ns / one_pass.wall + 1 : 1000;

	return p > 1000 ? 1000 : (unsigned)p;
}

static void run_procs(const struct opts *o, char *const argv[], struct meas *m, unsigned *ret_n,
		      long *ret_rss)
{
	static struct tm2 v[MAX_REPS];
	struct bench_proc bp;

	*ret_n = 0;
	*ret_rss = 0;
	for (unsigned k = 0; k < o->reps; k++) {
		int r = bench_run(argv, NULL, &bp);

		/* quarantined exits 1 on a damaged capture, after reading it. */
		if (r != 0 && !(r == 1 && strstr(argv[0], "quarantined")))
			fprintf(stderr, "bench_detect: %s on %s: status %d\n", argv[0], argv[2], r);
		v[k].wall = bp.wall_ns;
		v[k].cpu = bp.cpu_ns;
		if (bp.maxrss_kib > *ret_rss)
			*ret_rss = bp.maxrss_kib;
		(*ret_n)++;
	}
	summarize(v, *ret_n, m);
}

static void measure_disk(const struct opts *o, const char *path, struct disk *dk)
{
	static struct tm2 v[MAX_REPS];

	memset(dk, 0, sizeof(*dk));
	dk->done = true;
	dk->parent_rss = bench_rss_kib();
	/* b0: warm the page cache and size the samples with one pass. */
	dk->passes = passes_for(o, run_pcap_file(path, &dk->packets));
	for (unsigned k = 0; k < o->reps; k++) {
		struct tm2 sum = {0, 0};
		for (unsigned i = 0; i < dk->passes; i++) {
			struct tm2 one = run_pcap_file(path, &dk->packets);
			sum.wall += one.wall;
			sum.cpu += one.cpu;
		}
		v[k].wall = sum.wall / dk->passes;
		v[k].cpu = sum.cpu / dk->passes;
	}
	summarize(v, o->reps, &dk->b0);
	if (o->quarantined) {
		char *argv[8];
		int a = 0;

		argv[a++] = (char *)o->quarantined;
		argv[a++] = (char *)"-r";
		argv[a++] = (char *)path;
		argv[a++] = (char *)"-o";
		argv[a++] = (char *)"json";
		if (o->config) {
			argv[a++] = (char *)"-c";
			argv[a++] = (char *)o->config;
		}
		argv[a] = NULL;
		run_procs(o, argv, &dk->q, &dk->nq, &dk->q_rss);
	}
	if (o->tcpdump) {
		char *argv[] = {(char *)o->tcpdump, (char *)"-r",	 (char *)path,
				(char *)"-w",	    (char *)"/dev/null", NULL};
		run_procs(o, argv, &dk->t, &dk->nt, &dk->t_rss);
	}
}

static struct tm2 sample_bare(const struct trace *t, unsigned passes)
{
	struct clk c0 = clk_start();

	for (unsigned i = 0; i < passes; i++)
		sink += run_bare(t);
	return clk_since(&c0, passes);
}

static struct tm2 sample_decode(const struct trace *t, unsigned passes)
{
	struct decode_stats ds;
	struct clk c0 = clk_start();

	for (unsigned i = 0; i < passes; i++)
		sink += run_decode(t, &ds);
	return clk_since(&c0, passes);
}

static struct tm2 sample_midflow(const struct trace *t, unsigned passes)
{
	struct clk c0 = clk_start();

	for (unsigned i = 0; i < passes; i++)
		sink += run_midflow(t);
	return clk_since(&c0, passes);
}

/* A fresh engine each pass; only its packets are timed. */
static struct tm2 sample_engine(const struct trace *t, const struct conf *c, bool warm,
				unsigned passes, struct engine_result *er, long *rss_delta_max)
{
	struct tm2 sum = {0, 0};

	for (unsigned i = 0; i < passes; i++) {
		struct tm2 one = run_engine(t, c, warm, er);
		sum.wall += one.wall;
		sum.cpu += one.cpu;
		if (er->rss_delta_kib > *rss_delta_max)
			*rss_delta_max = er->rss_delta_kib;
	}
	sum.wall /= passes;
	sum.cpu /= passes;
	return sum;
}

static double per_pkt(const struct meas *m, uint64_t n)
{
	return (double)m->cpu.median / (double)n;
}

static int bench_trace(const struct opts *o, const struct conf *c, struct trace *t,
		       const struct disk *dk, struct totals *tot)
{
	static struct tm2 va[MAX_REPS], vb[MAX_REPS], vm[MAX_REPS], vc[MAX_REPS], vw[MAX_REPS];
	struct engine_result er, erw;
	struct meas sa, sb, sm, sc, sw;
	long rss_loaded = bench_rss_kib(), rss_delta_max = 0, rss_delta_warm = 0;
	unsigned pa, pb, pm, pc, pw = 0;
	char b1[32];

	if (t->n == 0) {
		printf("\n### %s: no packets, skipped\n", t->name);
		return 0;
	}
	memset(&sw, 0, sizeof(sw));
	/* One warm-up pass of each (not counted) sizes the samples.  When
	 * decoding alone fills a sample, the engine's passes (ten times
	 * slower at least) are one each and need no warm-up. */
	pa = passes_for(o, sample_bare(t, 1));
	pb = passes_for(o, sample_decode(t, 1));
	pm = passes_for(o, sample_midflow(t, 1));
	pc = pw = pb == 1 ? 1 : 0;
	if (pc == 0)
		pc = passes_for(o, sample_engine(t, c, false, 1, &er, &rss_delta_max));
	if (o->warm && pw == 0)
		pw = passes_for(o, sample_engine(t, c, true, 1, &erw, &rss_delta_warm));
	if (!o->warm)
		pw = 0;
	for (unsigned k = 0; k < o->reps; k++) {
		/* The packets went cold during the engine's passes (on this
		 * machine a DAMON pageout scheme acts on memory idle for a few
		 * seconds): touch them once before timing (a). */
		sink += run_bare(t);
		va[k] = sample_bare(t, pa);
		vb[k] = sample_decode(t, pb);
		vm[k] = sample_midflow(t, pm);
		vc[k] = sample_engine(t, c, false, pc, &er, &rss_delta_max);
		if (o->warm)
			vw[k] = sample_engine(t, c, true, pw, &erw, &rss_delta_warm);
	}
	summarize(va, o->reps, &sa);
	summarize(vb, o->reps, &sb);
	summarize(vm, o->reps, &sm);
	summarize(vc, o->reps, &sc);
	if (o->warm)
		summarize(vw, o->reps, &sw);

	printf("\n### %s: %s packets", t->name, bench_group(t->n, b1, sizeof(b1)));
	if (t->path)
		printf(", %.2f MiB, %s", (double)t->file_bytes / MIB,
		       pcap_datalink_val_to_name(t->dlt) ? pcap_datalink_val_to_name(t->dlt) : "?");
	printf("; config: %s\n\nK=%u samples of %u/%u/%u/%u passes (a/b/c/c'), medians; "
	       "spread = (max - min) / median of the CPU times\n\n",
	       conf_used, o->reps, pa, pb, pc, pw);
	printf("| %-40s | %8s | %8s | %8s | %6s | %-12s |\n", "per packet, in memory", "CPU ns",
	       "wall ns", "Mpkt/s", "spread", "CPU vs");
	printf("|------------------------------------------|---------:|---------:|---------:|"
	       "-------:|--------------|\n");
	print_row("(a) bare loop over the packets", &sa, t->n, NULL, NULL);
	print_row("(b) decode_packet()", &sb, t->n, "(a)", &sa);
	print_row("(b') decode_midflow(), the pre-check", &sm, t->n, "(a)", &sa);
	print_row("(c) engine_frame()+engine_flush(), new", &sc, t->n, "(a)", &sa);
	if (o->warm)
		print_row("(c') the same, engine already warm", &sw, t->n, "(a)", &sa);
	if (dk && dk->done) {
		print_row("(b0) libpcap pcap_next_ex() loop, file", &dk->b0, dk->packets, NULL,
			  NULL);
		print_row("(c) engine new, vs the libpcap loop", &sc, t->n, "(b0)", &dk->b0);
		if (o->warm)
			print_row("(c') engine warm, vs the libpcap loop", &sw, t->n, "(b0)",
				  &dk->b0);
	}
	if (dk && (dk->nq || dk->nt)) {
		printf("\n| %-40s | %9s | %9s | %8s | %6s | %-12s |\n", "whole process, per run",
		       "wall ms", "CPU ms", "peak MiB", "spread", "wall vs");
		printf("|------------------------------------------|----------:|----------:|"
		       "---------:|-------:|--------------|\n");
		if (dk->nt)
			print_proc("tcpdump -r FILE -w /dev/null", &dk->t, dk->t_rss, NULL, NULL);
		if (dk->nq)
			print_proc("quarantined -r FILE -o json >/dev/null", &dk->q, dk->q_rss,
				   dk->nt ? "tcpdump" : NULL, &dk->t);
		printf("\n(peak RSS of a child includes what it inherited at the fork: %.1f MiB)\n",
		       (double)dk->parent_rss / 1024);
	}
	printf("\n");
	print_engine(t, c, &er, rss_loaded, rss_delta_max);

	/* row|name|packets|a|b|c|c' (CPU ns/pkt)|c' Mpkt/s|c spread %|b0 ns/pkt|
	 * quarantined wall ms|tcpdump wall ms|engine resident MiB|flagged hosts|
	 * quarantined CPU ms|tcpdump CPU ms */
	printf("row|%s|%zu|%.1f|%.1f|%.1f|%.1f|%.2f|%.1f|%.1f|%.2f|%.2f|%.1f|%u|%.2f|%.2f\n",
	       t->name, t->n, per_pkt(&sa, t->n), per_pkt(&sb, t->n), per_pkt(&sc, t->n),
	       o->warm ? per_pkt(&sw, t->n) : -1.0,
	       o->warm ? (double)t->n * 1e3 / (double)sw.cpu.median : -1.0,
	       bench_spread_pct(&sc.cpu), dk ? per_pkt(&dk->b0, dk->packets) : -1.0,
	       dk && dk->nq ? (double)dk->q.wall.median / 1e6 : -1.0,
	       dk && dk->nt ? (double)dk->t.wall.median / 1e6 : -1.0, (double)rss_delta_max / 1024,
	       er.registry, dk && dk->nq ? (double)dk->q.cpu.median / 1e6 : -1.0,
	       dk && dk->nt ? (double)dk->t.cpu.median / 1e6 : -1.0);

	tot->packets += t->n;
	tot->bare += sa.cpu.median;
	tot->dec += sb.cpu.median;
	tot->eng += sc.cpu.median;
	tot->warm += sw.cpu.median;
	if (dk) {
		tot->b0 += dk->b0.cpu.median;
		tot->proc += dk->nq ? dk->q.wall.median : 0;
		tot->tcpd += dk->nt ? dk->t.wall.median : 0;
	}
	tot->files++;
	return 0;
}

static void print_totals(const struct totals *t)
{
	double n = (double)t->packets;
	char b1[32];

	printf("\n### all %u inputs together: %s packets (sums of the medians)\n\n", t->files,
	       bench_group(t->packets, b1, sizeof(b1)));
	printf("| per packet | CPU ns | Mpkt/s |\n|---|---:|---:|\n");
	printf("| (a) bare loop | %.1f | %.2f |\n", (double)t->bare / n, n * 1e3 / (double)t->bare);
	printf("| (b) decode_packet() | %.1f | %.2f |\n", (double)t->dec / n,
	       n * 1e3 / (double)t->dec);
	printf("| (c) engine, new | %.1f | %.2f |\n", (double)t->eng / n, n * 1e3 / (double)t->eng);
	if (t->warm)
		printf("| (c') engine, warm | %.1f | %.2f |\n", (double)t->warm / n,
		       n * 1e3 / (double)t->warm);
	if (t->b0)
		printf("| (b0) libpcap loop, file | %.1f | %.2f |\n", (double)t->b0 / n,
		       n * 1e3 / (double)t->b0);
	if (t->tcpd || t->proc)
		printf("\nwhole processes, all files one after the other: tcpdump %.1f ms, "
		       "quarantined %.1f ms (wall)\n",
		       (double)t->tcpd / 1e6, (double)t->proc / 1e6);
	printf("row|ALL(%u)|%" PRIu64 "|%.1f|%.1f|%.1f|%.1f|%.2f|-|%.1f|%.2f|%.2f|-|-|-|-\n",
	       t->files, t->packets, (double)t->bare / n, (double)t->dec / n, (double)t->eng / n,
	       t->warm ? (double)t->warm / n : -1.0, t->warm ? n * 1e3 / (double)t->warm : -1.0,
	       t->b0 ? (double)t->b0 / n : -1.0, t->proc ? (double)t->proc / 1e6 : -1.0,
	       t->tcpd ? (double)t->tcpd / 1e6 : -1.0);
}

static void print_limits(const struct conf *c)
{
	printf("limits: max_hosts %u, max_probes %u, max_peers %u, max_blocked %u, "
	       "incidents %u (ENGINE_MAX_INCIDENTS); sizeof hostrec %zu, incident %zu\n",
	       c->limits.max_hosts, c->limits.max_probes, c->limits.max_peers,
	       c->limits.max_blocked, ENGINE_MAX_INCIDENTS, sizeof(struct hostrec),
	       sizeof(struct incident));
}

static enum filter_acks filter_mode(const char *s)
{
	return strcmp(s, "pure") == 0	? FILTER_ACKS_PURE
	       : strcmp(s, "bare") == 0 ? FILTER_ACKS_BARE
					: FILTER_ACKS_NONE;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_detect [-k K] [-c CONF] [--min-sample-ms MS] [--no-warm]\n"
		"                    [-q QUARANTINED] [-T TCPDUMP] FILE...\n"
		"       bench_detect [-k K] [-c CONF] --synth N [--write FILE]\n"
		"       bench_detect [-k K] [-c CONF] --midflow N [--write FILE]\n"
		"       bench_detect ... --filter old|bare|pure (keep what the live filter "
		"passes)\n"
		"       bench_detect [-k K] [-c CONF] --flood N [--flood-probes P] [--flood-macs]\n"
		"                    [--write FILE]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"reps", required_argument, NULL, 'k'},
		{"config", required_argument, NULL, 'c'},
		{"quarantined", required_argument, NULL, 'q'},
		{"tcpdump", required_argument, NULL, 'T'},
		{"synth", required_argument, NULL, 's'},
		{"midflow", required_argument, NULL, 'F'},
		{"filter", required_argument, NULL, 'B'},
		{"flood", required_argument, NULL, 'f'},
		{"flood-probes", required_argument, NULL, 'p'},
		{"flood-macs", no_argument, NULL, 'M'},
		{"write", required_argument, NULL, 'w'},
		{"min-sample-ms", required_argument, NULL, 'm'},
		{"no-warm", no_argument, NULL, 'W'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct opts o = {.reps = 11, .flood_probes = 1, .min_sample_ns = 20000000, .warm = true};
	struct totals tot;
	struct conf c;
	int ch;

	while ((ch = getopt_long(argc, argv, "k:c:q:T:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			o.reps = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			o.config = optarg;
			break;
		case 'q':
			o.quarantined = optarg;
			break;
		case 'T':
			o.tcpdump = optarg;
			break;
		case 's':
			o.synth = strtoull(optarg, NULL, 10);
			break;
		case 'F':
			o.midflow = strtoull(optarg, NULL, 10);
			break;
		case 'B':
			o.filter = optarg;
			break;
		case 'f':
			o.flood = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			o.flood_probes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'M':
			o.flood_macs = true;
			break;
		case 'w':
			o.write = optarg;
			break;
		case 'm':
			o.min_sample_ns = strtoull(optarg, NULL, 10) * 1000000;
			break;
		case 'W':
			o.warm = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o.reps == 0 || o.reps > MAX_REPS || o.flood_probes == 0 ||
	    (optind == argc && !o.synth && !o.flood && !o.midflow) ||
	    (o.filter && strcmp(o.filter, "old") != 0 && strcmp(o.filter, "bare") != 0 &&
	     strcmp(o.filter, "pure") != 0)) {
		usage(stderr);
		return 2;
	}
	if (load_conf(&o, &c) < 0) {
		fprintf(stderr, "bench_detect: cannot load the configuration\n");
		return 2;
	}
	memset(&tot, 0, sizeof(tot));
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A fixed threshold: glibc otherwise raises it when the first engine's
	 * tables are freed, and the next engines' tables then come from the
	 * heap, zeroed by calloc() page by page, which a daemon's single
	 * engine never sees.  With it, every engine starts like a new
	 * process's. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);

	if (o.synth || o.flood || o.midflow) {
		struct trace t;
		uint64_t t0 = bench_now_ns();

		memset(&t, 0, sizeof(t));
		if (o.synth)
			synth_mixed(&t, o.synth);
		else if (o.midflow)
			synth_midflow(&t, o.midflow);
		else
			synth_flood(&t, o.flood, o.flood_probes, !o.flood_macs);
		printf("generated %s in %.1f s: %.1f s of traffic\n", t.name,
		       (double)(bench_now_ns() - t0) / 1e9,
		       (double)(t.r[t.n - 1].ts - t.r[0].ts) / 1e6);
		if (o.write) {
			int r = trace_write(&t, o.write);
			if (r == 0)
				printf("wrote %s\n", o.write);
			trace_free(&t);
			conf_fini(&c);
			return r == 0 ? 0 : 1;
		}
		print_limits(&c);
		if (o.filter && trace_filter(&t, &c, filter_mode(o.filter), o.filter) < 0)
			return 1;
		bench_trace(&o, &c, &t, NULL, &tot);
		trace_free(&t);
	}
	for (int i = optind; i < argc; i++) {
		struct trace t;
		struct disk dk;

		/* From the disk first, while this process is small (see
		 * bench_run()), then from memory. */
		measure_disk(&o, argv[i], &dk);
		if (trace_load(&t, argv[i]) < 0)
			continue;
		if (o.filter && trace_filter(&t, &c, filter_mode(o.filter), o.filter) < 0)
			return 1;
		bench_trace(&o, &c, &t, &dk, &tot);
		trace_free(&t);
	}
	if (tot.files > 1)
		print_totals(&tot);
	conf_fini(&c);
	return 0;
}
