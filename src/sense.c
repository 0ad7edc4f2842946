/* Frame -> decode -> identity -> evidence ring -> detector. */
#include "sense.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"

#define TH_SYN_BIT 0x02
#define TH_RST_BIT 0x04
#define TH_ACK_BIT 0x10

/* Dark space: an address some machine is known to use (a binding of
 * any strength: it sent, or the kernel saw it as a neighbour). */
static bool known(void *arg, const struct qaddr *a)
{
	const struct sense *s = arg;

	return identity_binding(s->id, a, NULL) != BIND_NONE;
}

/* A first contact on a worm port (detect_set_contact()).  Forged and
 * contested sources are not recorded (probes.h); an unverified one is
 * named by its address, as the registry would key it. */
static void on_contact(void *arg, const struct qaddr *id, const struct qaddr *src,
		       const struct qaddr *dst, unsigned proto, uint16_t port, usec_t ts)
{
	struct sense *s = arg;
	struct probe_edge e;
	enum src_kind kind = s->cur ? s->cur->kind : SRC_UNVERIFIED;

	if (kind == SRC_FORGED || kind == SRC_CONTESTED)
		return;
	memset(&e, 0, sizeof(e));
	e.from = *id;
	e.unverified = !addr_is_mac(id);
	e.proto = (uint8_t)proto;
	e.port = port;
	e.first_us = ts;
	probes_contact(s->probes, dst, &e, known(s, dst));
	probes_in_use(s->probes, src);
}

/* The addresses a detected host is probed at: a machine's, any binding
 * (a victim need not have proved its address before it was probed), and
 * the address the detection names. */
#define SENSE_BY_ADDRS 8

static void on_detection(void *arg, const struct detection *d)
{
	struct sense *s = arg;
	struct detection x = *d;
	struct qaddr a[SENSE_BY_ADDRS + 1];
	unsigned n = 0;

	if (addr_is_mac(&d->host))
		n = identity_addresses(s->id, d->host.b, BIND_CLAIMED, a, SENSE_BY_ADDRS);
	else
		a[n++] = d->host;
	if (d->addr.family && n < ARRAY_SIZE(a))
		a[n++] = d->addr;
	x.nby = probes_by(s->probes, a, n, &d->host, d->ts_us, x.by, PROBES_BY_MAX);
	s->on_detection(s->arg, &x);
}

/* What sense_frames() made of the frames of a batch before inspecting
 * them: its decoded packets and the lookups they will make (frame i's
 * hints are h[hbeg[i], hend[i])).  Some 130 KiB, allocated with the
 * sense: a batch of SENSE_BATCH frames (not 32) keeps the hints' loads
 * far enough ahead of their lookups that few of them wait
 * (docs/BENCHMARKS.md, "Fourth step"). */
struct sense_batch {
	struct pkt p[SENSE_BATCH];
	uint8_t how[SENSE_BATCH];
	uint16_t hbeg[SENSE_BATCH], hend[SENSE_BATCH];
	struct tab_hint h[(IDENTITY_HINTS + DETECT_HINTS) * SENSE_BATCH];
};

int sense_init(struct sense *s, const struct sense_params *p)
{
	struct siphash_key key;
	int r;

	memset(s, 0, sizeof(*s));
	s->c = p->c;
	s->evidence = p->evidence;
	r = siphash_key_random(&key);
	if (r < 0)
		return r;
	s->on_detection = p->on_detection;
	s->arg = p->arg;
	s->batch = malloc(sizeof(*s->batch));
	if (!s->batch)
		return -ENOMEM;
	s->probes = probes_new(MAX(p->c->limits.max_hosts, 1u), &key);
	if (!s->probes) {
		r = -errno;
		goto fail;
	}
	s->det = detect_new(p->c, &key, on_detection, s);
	if (!s->det) {
		r = -errno;
		goto fail;
	}
	detect_set_contact(s->det, on_contact, s);
	if (p->id) {
		s->id = p->id;
		detect_set_known(s->det, known, s);
		return 0;
	}
	struct ident_params ip = {
		.c = p->c,
		.offline = p->offline,
		.cb = p->on_identity,
		.cb_arg = p->arg,
		.is_own_mac = p->is_own_mac,
		.own_arg = p->own_arg,
	};
	s->id = identity_new(&ip, &key);
	if (!s->id) {
		r = -errno;
		goto fail;
	}
	s->own_id = true;
	detect_set_known(s->det, known, s);
	return 0;
fail:
	s->id = NULL;
	sense_fini(s);
	return r;
}

void sense_fini(struct sense *s)
{
	detect_free(s->det);
	s->det = NULL;
	probes_free(s->probes);
	s->probes = NULL;
	if (s->own_id)
		identity_free(s->id);
	s->id = NULL;
	free(s->batch);
	s->batch = NULL;
}

void sense_moved(struct sense *s, struct sense *old)
{
	struct probes *p = s->probes;

	s->probes = old->probes;
	old->probes = p;
	detect_set_cb(s->det, on_detection, s);
	detect_set_known(s->det, known, s);
	detect_set_contact(s->det, on_contact, s);
}

/* Whether a decoded packet skips identity: the TCP segments of a
 * connection under way (ACK, neither SYN nor RST: bare ACKs, FINs, and
 * all of them with an evidence ring), which tell identity nothing a
 * host's other packets do not.  The detector still looks at bare ACKs
 * and, for the brute-force rules, FINs. */
static bool skips_identity(const struct pkt *p)
{
	return p->proto == IPPROTO_TCP && (p->flags & PKT_F_L4) && (p->tcp_flags & TH_ACK_BIT) &&
	       !(p->tcp_flags & (TH_SYN_BIT | TH_RST_BIT));
}

/* A frame decode_packet() could not decode. */
static void undecodable(struct sense *s, int dlt, const uint8_t *data, size_t caplen,
			size_t wirelen, usec_t ts)
{
	/* Undecodable frames still move the clock. */
	if (s->evidence)
		evidence_packet(s->evidence, dlt, data, (uint32_t)caplen, (uint32_t)wirelen, ts,
				NULL, NULL, NULL);
	detect_advance(s->det, ts);
}

/* The rest of a decoded frame's way: identity, the evidence ring, the
 * detector. */
static void inspect(struct sense *s, const struct pkt *p, int dlt, const uint8_t *data,
		    size_t caplen, size_t wirelen, usec_t ts)
{
	struct attribution a;

	/* Into the evidence ring before detection, so that a host's evidence
	 * file includes the very packet that got it flagged. */
	if (skips_identity(p)) {
		if (s->evidence)
			evidence_packet(s->evidence, dlt, data, (uint32_t)caplen, (uint32_t)wirelen,
					ts, &p->src, &p->dst, NULL);
		detect_packet(s->det, p, NULL, ts);
		return;
	}
	identity_packet(s->id, p, ts, &a);
	if (s->evidence) {
		struct qaddr mac;

		if (p->flags & PKT_F_SMAC)
			addr_set_mac(&mac, p->src_mac);
		evidence_packet(s->evidence, dlt, data, (uint32_t)caplen, (uint32_t)wirelen, ts,
				&p->src, &p->dst, (p->flags & PKT_F_SMAC) ? &mac : NULL);
	}
	s->cur = &a;
	detect_packet(s->det, p, &a, ts);
	s->cur = NULL;
}

void sense_frame(struct sense *s, int dlt, const uint8_t *data, size_t caplen, size_t wirelen,
		 usec_t ts)
{
	struct pkt p;

	/* Most of a capture is segments of connections under way (not bare
	 * ACKs), which are neither first contacts nor answers and tell
	 * identity nothing a host's other packets do not: the live capture
	 * filter leaves them in the kernel, and offline they are told on the
	 * raw frame and cost the clock only.  With an evidence ring they go
	 * the long way, which records them with their addresses. */
	if (!s->evidence && decode_midflow(dlt, data, caplen, &s->decode)) {
		detect_midflow(s->det, ts);
		return;
	}
	if (decode_packet(dlt, data, caplen, wirelen, &p, &s->decode) < 0) {
		undecodable(s, dlt, data, caplen, wirelen, ts);
		return;
	}
	inspect(s, &p, dlt, data, caplen, wirelen, ts);
}

/* How many hints ahead of the frame being inspected sense_frames() asks
 * for buckets, entries and their neighbours (a frame of the long way
 * makes one to five lookups). */
#define AHEAD_BUCKET 30u
#define AHEAD_ENTRY  15u
#define AHEAD_LINKS  5u

/* What sense_frames() made of a frame before inspecting it. */
#define FR_MIDFLOW 0
#define FR_DECODED 1
#define FR_BAD	   2

void sense_frames(struct sense *s, const struct capture_packet *f, unsigned n)
{
	struct sense_batch *b = s->batch;
	struct pkt *p;
	uint8_t *how;
	struct tab_hint *h;
	uint16_t *hbeg, *hend;
	struct qaddr id;
	unsigned i, j, nh = 0, s1 = 0, s2 = 0, s3 = 0;

	if (s->evidence) {
		/* Every frame goes the long way (sense_frame()), and most
		 * of them to the detector's clock only. */
		for (i = 0; i < n; i++)
			sense_frame(s, f[i].dlt, f[i].data, f[i].caplen, f[i].wirelen, f[i].ts);
		return;
	}
	for (; n > SENSE_BATCH; f += SENSE_BATCH, n -= SENSE_BATCH)
		sense_frames(s, f, SENSE_BATCH);
	p = b->p;
	how = b->how;
	h = b->h;
	hbeg = b->hbeg;
	hend = b->hend;
	/* Decoding depends on nothing that the frames before change, so
	 * every frame is decoded first (the statistics count the same), and
	 * the table lookups that those to be inspected will make are known
	 * before the first of them is. */
	for (i = 0; i < n; i++) {
		if (decode_midflow(f[i].dlt, f[i].data, f[i].caplen, &s->decode)) {
			how[i] = FR_MIDFLOW;
			continue;
		}
		if (decode_packet(f[i].dlt, f[i].data, f[i].caplen, f[i].wirelen, &p[i],
				  &s->decode) < 0) {
			how[i] = FR_BAD;
			continue;
		}
		how[i] = FR_DECODED;
		hbeg[i] = (uint16_t)nh;
		/* Charged to its source's machine (a guess: identity may
		 * name the address instead), or to its address when identity
		 * does not look at it. */
		if (!skips_identity(&p[i]) && (p[i].flags & PKT_F_SMAC)) {
			nh += identity_hints(s->id, &p[i], &h[nh]);
			addr_set_mac(&id, p[i].src_mac);
			nh += detect_hints(s->det, &p[i], &id, &h[nh]);
		} else {
			nh += detect_hints(s->det, &p[i], &p[i].src, &h[nh]);
		}
		hend[i] = (uint16_t)nh;
	}
	/* Each lookup would wait for its bucket, then for its entry, then
	 * for its neighbours on its list, one after the other.  Asked for
	 * the lookups of the packets ahead, each step some lookups after
	 * the one before, the waits overlap with one another and with the
	 * work on the packets in between. */
	for (i = 0; i < n; i++) {
		if (how[i] == FR_DECODED) {
			for (; s1 < MIN(nh, hend[i] + AHEAD_BUCKET); s1++)
				table_prefetch_bucket(&h[s1]);
			for (; s2 < MIN(nh, hend[i] + AHEAD_ENTRY); s2++)
				table_prefetch_entry(&h[s2]);
			for (; s3 < MIN(nh, hend[i] + AHEAD_LINKS); s3++)
				table_prefetch_links(&h[s3]);
		}
		switch (how[i]) {
		case FR_MIDFLOW:
			detect_midflow(s->det, f[i].ts);
			break;
		case FR_BAD:
			undecodable(s, f[i].dlt, f[i].data, f[i].caplen, f[i].wirelen, f[i].ts);
			break;
		default:
			/* The frame's own lookups take the buckets its hints
			 * hashed (table_expect()). */
			for (j = hbeg[i]; j < hend[i]; j++)
				table_expect(h[j].t, &h[j]);
			inspect(s, &p[i], f[i].dlt, f[i].data, f[i].caplen, f[i].wirelen, f[i].ts);
			for (j = hbeg[i]; j < hend[i]; j++)
				table_expect(h[j].t, NULL);
			break;
		}
	}
}

void sense_advance(struct sense *s, usec_t now)
{
	detect_advance(s->det, now);
}

void sense_flush(struct sense *s)
{
	detect_flush(s->det);
}

usec_t sense_now(const struct sense *s)
{
	return detect_now(s->det);
}
