/* Detection engine; see detect.h for the vocabulary.
 *
 * A host is whoever the packet is charged to (identity.h): a machine (its
 * MAC) when the capture shows who sent it, else the source address.
 *
 * Three bounded tables, all sized from limits.* at start:
 *   hosts   tracked hosts: rule counters, TRW walk, recent failed ports.
 *           Segmented LRU: a new host waits on list 0 (probation) until it
 *           is seen again a second later, then lives on list 1; eviction
 *           takes from list 0 first, so a flood of one-shot sources (random
 *           MACs or addresses) cannot push out the hosts with a history,
 *           and list 1 is kept below 7/8 of the table so that new hosts
 *           still find room.
 *   probes  (host, destination, proto, port): one per first contact, with
 *           its outcome.  List 0 holds pending probes in send order, which
 *           is also deadline order since the timeout is the same for all;
 *           list 1 holds resolved probes in last-use order for expiry.
 *   peers   (host, destination): "talked to inside the window", the rules
 *           that already counted this destination, and vertical-scan
 *           counters.  LRU (list 0).
 *   blocks  our own blocks in force (detect_set_block()), keyed as hosts
 *           are: list 0 holds those in force, list 1 those lifted at a
 *           time the detector's clock has not reached yet.
 *   conns   TCP connections to the ports of the brute-force rules, from
 *           their SYN to their end: list 0 those waiting for the SYN-ACK
 *           (in SYN order), list 1 those open (in opening order).
 *   servers (host, server): short connections per brute-force rule.
 *           LRU (list 0).
 *
 * Sliding windows are bucketed: SWIN_NB buckets per window, so a count
 * covers between (1 - 1/SWIN_NB) and 1 window.  It never over-counts. */
#include "detect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

#define SWIN_NB	    10
#define NSLOTS	    6 /* per-host port slots for per-port rules */
#define L_PENDING   0
#define L_RESOLVED  1
#define L_LRU	    0
#define L_PROBATION 0
#define L_MAIN	    1
#define L_INFORCE   0
#define L_LIFTED    1

/* A host is promoted out of probation when seen again this much later. */
#define PROMOTE_US USEC_PER_SEC
/* A host or peer in use moves to its list's tail at most this often: the
 * lists stay in last-use order to the second, and a packet does not
 * rewrite the links of three other entries (cache misses) each time.
 * Expiry and eviction are late by at most that. */
#define TOUCH_US USEC_PER_SEC
/* Forged source addresses remembered per host to count distinct ones. */
#define FORGE_RING 16

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

enum outcome {
	OUT_PENDING = 0,
	OUT_SUCCESS,
	OUT_FAILURE,
	OUT_NEUTRAL,
};

#define PF_TRW	   0x01 /* first probe to a new peer: its outcome is a TRW step */
#define PF_DROPPED 0x02 /* our own block dropped it (detect.h): its outcome is neutral */
#define PF_NOHOST  0x04 /* it failed for want of any answer (its timeout) */
#define PF_ACK	   0x08 /* a bare ACK with no connection seen (on_ack()) */
#define PF_ANSWER  0x10 /* PF_ACK: a reset or ICMP error that matches it answered it */

/* TRW steps are taken in the order the probes were sent, not the order
 * their outcomes became known: timeouts come scan.timeout late and would
 * otherwise bunch a browser's few failures after all its successes.  Each
 * host keeps a ring of its outstanding walk probes; a probe sent while
 * TRW_RING are outstanding does not join the walk (a scanner's first
 * TRW_RING probes are evidence enough).
 *
 * The walk in send order stops at the first probe still waiting for its
 * answer; a scanner's first probe into dark space would then hold it for
 * scan.timeout while the resets of its later probes pile up.  So after
 * each outcome the known outcomes beyond that point are walked too, in
 * send order, skipping the ones still waiting (trw_ahead): four failed
 * first contacts flag a host at once, whatever waits before them, while a
 * late timeout still counts where it was sent, before the successes that
 * followed it. */
#define TRW_RING     16
#define RING_EMPTY   0
#define RING_PENDING 1
#define RING_SUCCESS 2
#define RING_FAILURE 3
#define RING_NEUTRAL 4
#define RING_WORM    0x08 /* or'ed into RING_FAILURE */

struct swin {
	uint64_t epoch;	 /* bucket number held in cnt[epoch % SWIN_NB] */
	usec_t first_us; /* origin of the first count since the window was empty */
	uint16_t cnt[SWIN_NB];
};

struct portslot {
	struct swin w;
	uint16_t port;
	uint8_t proto; /* PROTO_* bit; 0 = free */
	uint8_t rule;
};

struct hkey {
	struct qaddr addr;
};

struct dhost {
	struct tab_hdr h;
	struct hkey k;
	uint8_t nfports;
	uint8_t fports_overflow;
	uint8_t trw_worm;     /* a failed step of this walk was on a worm port */
	uint8_t trw_reported; /* highest TRW severity reported */
	uint8_t gen;	      /* tells this host's probes from a predecessor's */
	uint16_t trw_seq;     /* next walk probe's sequence number */
	uint16_t trw_applied; /* next sequence number to apply */
	uint8_t trw_ring[TRW_RING];
	uint32_t trw_ring_ms[TRW_RING]; /* send time, ms modulo 2^32 */
	uint32_t roles;
	uint32_t fired; /* rules already reported for this host */
	uint32_t trw_fail, trw_succ;
	double llr;
	usec_t trw_first_us;
	usec_t last_fail_us;
	usec_t forget_us; /* outcomes of probes sent before this are ignored */
	uint64_t probes;
	usec_t first_us;
	usec_t touch_us; /* last moved to its list's tail (TOUCH_US) */
	/* Entries this host holds in the probe and peer tables: each host
	 * has a quota, so that one flooding host cannot fill them. */
	uint32_t nprobes, npeers, nconns;
	uint32_t fring[FORGE_RING]; /* hashes of recent forged source addresses */
	uint8_t fring_next;
	uint8_t ndark, dark_next;
	struct qaddr dark[DETECT_DARK_MAX]; /* the latest dark destinations it probed */
	uint16_t fports[DETECT_MAX_PORTS];
	uint8_t fprotos[DETECT_MAX_PORTS];
	struct portslot slots[NSLOTS];
	struct swin ctr[]; /* one per host-counted rule */
};

struct pkey {
	struct qaddr src, dst;
	uint16_t port;
	uint8_t proto; /* PROTO_* bit */
	uint8_t zero;
};

struct dprobe {
	struct tab_hdr h;
	struct pkey k;
	uint8_t state; /* enum outcome */
	uint8_t flags; /* PF_* */
	uint8_t host_gen;
	uint16_t trw_seq;
	struct qaddr host; /* who sent it (a MAC or k.src): whose outcome it is */
	/* PF_ACK: the probe's source port and acknowledgment number, which a
	 * reset answering it echoes as its destination port and sequence
	 * number, and which a live connection's next ACK moves on. */
	uint16_t ack_sport;
	uint32_t ack_num;
	usec_t first_us, last_us;
};

/* src is the host (a MAC or an address), dst the destination address. */
struct peerkey {
	struct qaddr src, dst;
};

struct dpeer {
	struct tab_hdr h;
	struct peerkey k;
	uint8_t gen;	  /* the host's generation it was made in (dhost.gen) */
	uint32_t counted; /* rule bits that already counted this destination */
	usec_t last_us;
	usec_t touch_us;    /* last moved to the list's tail (TOUCH_US) */
	struct swin vctr[]; /* one per vertical rule */
};

struct bkey {
	struct qaddr addr;
};

struct dblock {
	struct tab_hdr h;
	struct bkey k;
	struct detect_block b;
	usec_t since_us, until_us; /* in force over [since_us, until_us) */
	usec_t surveil_until_us;   /* under surveillance before this (detect_set_surveil()) */
};

/* A connection to a brute-force port.  What the client sent is the
 * sequence number of its FIN (or the server's acknowledgment of it) less
 * its initial one: known without seeing the data, which the capture
 * filter leaves in the kernel. */
#define L_CSYN	0
#define L_COPEN 1

struct ckey {
	struct qaddr cli, srv;
	uint16_t sport, dport;
};

struct dconn {
	struct tab_hdr h;
	struct ckey k;
	struct qaddr host; /* who opened it (a MAC or k.cli) */
	uint8_t host_gen;
	uint32_t isn; /* the client's initial sequence number */
	usec_t syn_us, open_us;
};

struct dserver {
	struct tab_hdr h;
	struct peerkey k;
	uint8_t gen;	/* the host's generation it was made in (dhost.gen) */
	uint32_t fired; /* brute-force rules that fired for this server */
	usec_t last_us;
	struct swin ctr[]; /* one per brute-force rule */
};

enum rule_kind {
	RK_OFF = 0,
	RK_HOST,  /* distinct destinations, counted per host (fixed ports, ICMP, ARP) */
	RK_PORT,  /* distinct destinations on any one port (per-port slots) */
	RK_VERT,  /* distinct ports of one destination (per-peer counters) */
	RK_FORGE, /* distinct forged source addresses, counted per host */
	RK_BRUTE, /* short connections to one server (per-server counters) */
};

enum when {
	AT_PROBE = 0,
	AT_FAILURE,
};

struct rinfo {
	uint8_t kind;
	uint8_t idx; /* counter index in dhost.ctr or dpeer.vctr */
	uint8_t when;
	usec_t width_us; /* bucket width */
};

struct detect {
	const struct conf *c;
	detect_cb cb;
	void *cb_arg;
	usec_t now;
	usec_t timeout_us;
	usec_t idle_us; /* longest window: peers and resolved probes live this long idle */
	bool trw_on;
	uint8_t next_gen;
	struct trw_params trw;
	unsigned nrules;
	struct rinfo ri[CONF_MAX_RULES];
	unsigned surveil_min[CONF_MAX_RULES];  /* thresholds under surveillance */
	unsigned outbreak_min[CONF_MAX_RULES]; /* thresholds in outbreak mode */
	bool outbreak;
	uint8_t order[2][CONF_MAX_RULES]; /* rule indexes by enum when */
	unsigned norder[2];
	uint8_t forge[CONF_MAX_RULES]; /* forgery rules */
	unsigned nforge;
	uint8_t brute[CONF_MAX_RULES]; /* brute-force rules */
	unsigned nbrute;
	uint8_t brute_tcp[65536 / 8]; /* their ports */
	usec_t brute_dur_us;	      /* their longest max_duration */
	usec_t brute_idle_us;	      /* their longest window: servers live this long idle */
	uint32_t conn_quota;	      /* connections one host may have followed */
	unsigned nhctr, nvctr;
	uint32_t probe_quota, peer_quota; /* entries one host may hold */
	/* Dark space: who is known to use an address, and since when the
	 * network has been watched (detect_set_known()). */
	bool (*known)(void *arg, const struct qaddr *a);
	void *known_arg;
	detect_contact_cb contact; /* detect_set_contact() */
	void *contact_arg;
	usec_t watched_since, first_us;
	int8_t src_protected;  /* of the packet being handled, when known; -1 else */
	const struct pkt *pkt; /* the packet being handled (detect_packet()) */
	uint8_t worm_tcp[65536 / 8], worm_udp[65536 / 8];
	/* The ports some group query was ever noted on (never cleared): a
	 * datagram from any other port answers none, without a lookup. */
	uint8_t group_udp[65536 / 8];
	/* The ports of every UDP probe entry ever made (never cleared): a
	 * datagram from any other port answers none, without a lookup. */
	uint8_t probed_udp[65536 / 8];
	struct table hosts, probes, peers, blocks, conns, servers;
	/* The earliest deadline at the head of a timer list when
	 * detect_advance() last looked (0: look again): see timers_idle(). */
	usec_t due_us;
	struct detect_stats st;
};

/* ---- sliding windows ---- */

static void swin_advance(struct swin *w, usec_t ts, usec_t width)
{
	uint64_t e = ts / width;

	if (e <= w->epoch)
		return;
	if (e - w->epoch >= SWIN_NB)
		memset(w->cnt, 0, sizeof(w->cnt));
	else
		for (uint64_t i = w->epoch + 1; i <= e; i++)
			w->cnt[i % SWIN_NB] = 0;
	w->epoch = e;
}

static unsigned swin_sum(const struct swin *w)
{
	unsigned s = 0;

	for (unsigned i = 0; i < SWIN_NB; i++)
		s += w->cnt[i];
	return s;
}

/* Adds one count at ts (whose origin, e.g. the probe's send time, is
 * origin_us) and returns the count inside the window. */
static unsigned swin_add(struct swin *w, usec_t ts, usec_t width, usec_t origin_us)
{
	swin_advance(w, ts, width);
	if (swin_sum(w) == 0)
		w->first_us = origin_us;
	if (w->cnt[w->epoch % SWIN_NB] < UINT16_MAX)
		w->cnt[w->epoch % SWIN_NB]++;
	return swin_sum(w);
}

static unsigned swin_current(struct swin *w, usec_t ts, usec_t width)
{
	swin_advance(w, ts, width);
	return swin_sum(w);
}

/* ---- TRW ---- */

void trw_params_init(struct trw_params *p, double theta0, double theta1, double detection,
		     double false_alarm)
{
	p->eta1 = log(detection / false_alarm);
	p->eta0 = log((1 - detection) / (1 - false_alarm));
	p->step_fail = log((1 - theta1) / (1 - theta0));
	p->step_success = log(theta1 / theta0);
}

unsigned trw_failures_to_alarm(const struct trw_params *p)
{
	if (p->step_fail <= 0)
		return 0;
	return (unsigned)ceil(p->eta1 / p->step_fail - 1e-9);
}

/* ---- helpers ---- */

static inline bool bit_test(const uint8_t *map, uint16_t port)
{
	return map[port >> 3] & (1u << (port & 7));
}

static inline void bit_set(uint8_t *map, uint16_t port)
{
	map[port >> 3] |= (uint8_t)(1u << (port & 7));
}

static bool rule_has_port(const struct rule *r, uint16_t port)
{
	for (unsigned i = 0; i < r->nports; i++)
		if (r->ports[i] == port)
			return true;
	return false;
}

/* A port some worm rule that applies to this host spreads on.  A mail
 * server's failed deliveries on 25 are its job, not a worm's. */
static bool worm_port(const struct detect *d, const struct dhost *h, unsigned proto, uint16_t port)
{
	const uint8_t *map = proto == PROTO_TCP	  ? d->worm_tcp
			     : proto == PROTO_UDP ? d->worm_udp
						  : NULL;

	if (!map || !bit_test(map, port))
		return false;
	if (h->roles == 0)
		return true;
	for (unsigned i = 0; i < d->nrules; i++) {
		const struct rule *r = &d->c->rules[i];
		if (r->enabled && r->type == RULE_HORIZONTAL && r->severity >= SEV_MEDIUM &&
		    (r->protos & proto) && !(r->exempt_roles & h->roles) && rule_has_port(r, port))
			return true;
	}
	return false;
}

static const char *proto_label(unsigned bit, const struct qaddr *a)
{
	if (bit == PROTO_ICMP)
		return a->family == AF_INET6 ? "icmpv6" : "icmp";
	return bit ? proto_bit_name(bit) : "ip";
}

static bool is_protected(const struct detect *d, const struct qaddr *a)
{
	return prefix_list_contains(&d->c->networks.protected_, a);
}

/* Destinations that are never a first contact: nothing answers a probe to
 * them the way a host would. */
static bool dst_excluded(const struct qaddr *src, const struct qaddr *dst)
{
	static const uint8_t zero[16];

	if (src->family != dst->family || addr_eq(src, dst))
		return true;
	if (addr_is_multicast(dst) || memcmp(dst->b, zero, 16) == 0)
		return true;
	if (dst->family == AF_INET && dst->b[0] == 127)
		return true;
	if (dst->family == AF_INET6 && memcmp(dst->b, zero, 15) == 0 && dst->b[15] == 1)
		return true;
	return false;
}

/* ---- tables ---- */

/* Makes room for one more host: the oldest on probation, else the least
 * recently seen. */
static void host_evict(struct detect *d)
{
	struct dhost *victim = table_list_head(&d->hosts, L_PROBATION);

	if (!victim)
		victim = table_list_head(&d->hosts, L_MAIN);
	table_remove(&d->hosts, victim);
	d->st.hosts_evicted++;
}

static struct dhost *host_find(const struct detect *d, const struct qaddr *id)
{
	struct hkey k;

	memset(&k, 0, sizeof(k));
	k.addr = *id;
	return table_find(&d->hosts, &k);
}

/* The host id (a MAC or an address), tracked from now if it was not;
 * roles_addr is the address whose inventory roles a new host takes when
 * the inventory does not name its MAC. */
static struct dhost *host_get(struct detect *d, const struct qaddr *id,
			      const struct qaddr *roles_addr, usec_t now)
{
	struct hkey k;
	struct dhost *h;

	memset(&k, 0, sizeof(k));
	k.addr = *id;
	h = table_find(&d->hosts, &k);
	if (!h) {
		const struct inv_entry *inv;

		if (table_full(&d->hosts))
			host_evict(d);
		h = table_insert(&d->hosts, &k);
		if (!h)
			return NULL;
		inv = inventory_lookup(&d->c->inventory, id);
		if (!inv && roles_addr)
			inv = inventory_lookup(&d->c->inventory, roles_addr);
		h->roles = inv ? inv->roles : 0;
		h->gen = ++d->next_gen;
		h->last_fail_us = now;
		h->first_us = now;
		table_list_append(&d->hosts, L_PROBATION, h);
		return h;
	}
	if (h->h.list == L_PROBATION && now >= h->first_us + PROMOTE_US) {
		/* Seen again: a host with a history.  The main list keeps
		 * below 7/8 of the table; its oldest go back on probation. */
		if (d->hosts.count[L_MAIN] >= d->hosts.cap - d->hosts.cap / 8)
			table_list_append(&d->hosts, L_PROBATION,
					  table_list_head(&d->hosts, L_MAIN));
		table_list_append(&d->hosts, L_MAIN, h);
	} else {
		/* On probation a host moves to the tail with every packet:
		 * a flood of one-shot sources churns that list, and a new
		 * worm must stay ahead of them until it is promoted. */
		if (h->h.list == L_PROBATION || now >= h->touch_us + TOUCH_US) {
			h->touch_us = now;
			table_list_touch(&d->hosts, h->h.list, h);
		}
	}
	return h;
}

/* The host a probe or peer entry belongs to, when it is still the one it
 * was made for. */
static struct dhost *owner_of(const struct detect *d, const struct qaddr *id, uint8_t gen)
{
	struct dhost *h = host_find(d, id);

	return h && h->gen == gen ? h : NULL;
}

static void probe_free(struct detect *d, struct dprobe *pr)
{
	struct dhost *h = owner_of(d, &pr->host, pr->host_gen);

	if (h && h->nprobes)
		h->nprobes--;
	table_remove(&d->probes, pr);
}

static void peer_free(struct detect *d, struct dpeer *pe)
{
	struct dhost *h = owner_of(d, &pe->k.src, pe->gen);

	if (h && h->npeers)
		h->npeers--;
	table_remove(&d->peers, pe);
}

/* The (host, destination) peer; made when new unless the host holds its
 * quota already (then NULL with *ret_new true: the destination is new, but
 * not remembered). */
static struct dpeer *peer_get(struct detect *d, struct dhost *h, const struct qaddr *dst,
			      usec_t now, bool *ret_new)
{
	struct peerkey k;
	struct dpeer *p;

	memset(&k, 0, sizeof(k));
	k.src = h->k.addr;
	k.dst = *dst;
	p = table_find(&d->peers, &k);
	*ret_new = !p;
	if (!p) {
		if (h->npeers >= d->peer_quota)
			return NULL;
		if (table_full(&d->peers)) {
			struct dpeer *lru = table_list_head(&d->peers, L_LRU);

			if (lru) {
				peer_free(d, lru);
				d->st.peers_evicted++;
			}
		}
		p = table_insert(&d->peers, &k);
		if (!p)
			return NULL;
		p->gen = h->gen;
		h->npeers++;
	} else if (p->gen != h->gen) {
		/* Made before a release (or for an evicted predecessor): what
		 * it counted is not this host's doing any more, and the
		 * destination is new again. */
		p->gen = h->gen;
		p->counted = 0;
		memset(p->vctr, 0, d->nvctr * sizeof(p->vctr[0]));
		h->npeers++;
		*ret_new = true;
	}
	if (now > p->last_us)
		p->last_us = now;
	if (now >= p->touch_us + TOUCH_US) {
		p->touch_us = now;
		table_list_touch(&d->peers, L_LRU, p);
	}
	return p;
}

static void pkey_set(struct pkey *k, const struct qaddr *src, const struct qaddr *dst,
		     unsigned proto, uint16_t port)
{
	memset(k, 0, sizeof(*k));
	k->src = *src;
	k->dst = *dst;
	k->proto = (uint8_t)proto;
	k->port = port;
}

/* ---- our own blocks ---- */

static struct dblock *block_find(const struct detect *d, const struct qaddr *key)
{
	struct bkey k;

	memset(&k, 0, sizeof(k));
	k.addr = *key;
	return table_find(&d->blocks, &k);
}

/* A new entry for key; when the table is full, the block lifted longest
 * ago makes room.  NULL (counted) when none can. */
static struct dblock *block_insert(struct detect *d, const struct qaddr *key)
{
	struct dblock *old = table_list_head(&d->blocks, L_LIFTED), *e;
	struct bkey k;

	if (table_full(&d->blocks) && old)
		table_remove(&d->blocks, old);
	memset(&k, 0, sizeof(k));
	k.addr = *key;
	e = table_insert(&d->blocks, &k);
	if (!e)
		d->st.blocks_full++;
	return e;
}

int detect_set_block(struct detect *d, const struct qaddr *key, const struct detect_block *b,
		     usec_t at_us)
{
	struct dblock *e = block_find(d, key);

	d->due_us = 0; /* a block lifted may be due earlier than noted */

	if (!b || b->level < LEVEL_CONTAIN) {
		if (!e || e->until_us != USEC_INFINITY)
			return 0;
		/* No probe the detector has yet to see can fall inside the
		 * block any more: its clock never goes back. */
		if ((at_us <= d->now || at_us <= e->since_us) && e->surveil_until_us <= d->now) {
			table_remove(&d->blocks, e);
			return 0;
		}
		e->until_us = at_us;
		table_list_touch(&d->blocks, L_LIFTED, e);
		return 0;
	}
	if (b->level > LEVEL_ISOLATE || b->nports > DETECT_BLOCK_PORTS)
		return -EINVAL;
	for (unsigned i = 0; b->level == LEVEL_CONTAIN && i < b->nports; i++)
		if (b->to[i] > DETECT_BLOCK_DESTS)
			return -EINVAL;
	if (!e) {
		e = block_insert(d, key);
		if (!e)
			return -ENOSPC;
		e->since_us = at_us;
	} else if (e->until_us != USEC_INFINITY) {
		e->since_us = at_us;
	}
	/* A block in force that changes (contain to isolate, say) keeps its
	 * start: the host has been blocked all along. */
	e->until_us = USEC_INFINITY;
	memset(&e->b, 0, sizeof(e->b));
	e->b.level = b->level;
	if (b->level == LEVEL_CONTAIN) {
		e->b.nports = b->nports;
		memcpy(e->b.protos, b->protos, b->nports);
		memcpy(e->b.ports, b->ports, b->nports * sizeof(b->ports[0]));
		memcpy(e->b.to, b->to, b->nports);
		memcpy(e->b.dests, b->dests, sizeof(b->dests));
	}
	table_list_touch(&d->blocks, L_INFORCE, e);
	return 0;
}

int detect_set_surveil(struct detect *d, const struct qaddr *key, usec_t until_us)
{
	struct dblock *e = block_find(d, key);

	d->due_us = 0; /* (as in detect_set_block()) */

	if (!e) {
		if (until_us <= d->now)
			return 0;
		e = block_insert(d, key);
		if (!e)
			return -ENOSPC;
		/* No block: in force over an empty span. */
		e->since_us = e->until_us = 0;
		table_list_touch(&d->blocks, L_LIFTED, e);
	}
	e->surveil_until_us = until_us;
	return 0;
}

/* Whether the host (or the source address it sent from) is under
 * surveillance at ts. */
static bool surveilled(const struct detect *d, const struct dhost *h, const struct qaddr *src,
		       usec_t ts)
{
	const struct dblock *e;

	if (d->blocks.used == 0)
		return false;
	e = block_find(d, &h->k.addr);
	if (e && ts < e->surveil_until_us)
		return true;
	if (!src || addr_eq(src, &h->k.addr))
		return false;
	e = block_find(d, src);
	return e && ts < e->surveil_until_us;
}

/* Whether count n reaches rule's threshold for this host: under
 * surveillance, the threshold times surveillance.factor, rounded up.  The
 * lookup is made only for a count between the two. */
static bool reached(const struct detect *d, const struct dhost *h, const struct qaddr *src,
		    const struct rule *rule, unsigned n, usec_t ts)
{
	if (n >= rule->threshold)
		return true;
	if (d->outbreak && n >= d->outbreak_min[rule - d->c->rules])
		return true;
	return n >= d->surveil_min[rule - d->c->rules] && surveilled(d, h, src, ts);
}

/* The block of key in force now (the time of the packet being handled). */
static const struct dblock *block_now(const struct detect *d, const struct qaddr *key)
{
	const struct dblock *e = block_find(d, key);

	return e && e->since_us <= d->now && d->now < e->until_us ? e : NULL;
}

/* Isolation lets through what is to or from these. */
static bool block_exempt(const struct detect *d, const struct qaddr *peer)
{
	return prefix_list_contains(&d->c->networks.remediation, peer) ||
	       prefix_list_contains(&d->c->networks.admin, peer);
}

/* Whether block e drops what its host sends to dst (proto, port). */
static bool block_drops_from(const struct detect *d, const struct dblock *e,
			     const struct qaddr *dst, unsigned proto, uint16_t port)
{
	uint8_t ip;

	if (e->b.level == LEVEL_ISOLATE)
		return !block_exempt(d, dst);
	if (proto == PROTO_TCP)
		ip = IPPROTO_TCP;
	else if (proto == PROTO_UDP)
		ip = IPPROTO_UDP;
	else if (proto == PROTO_ICMP)
		ip = dst->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	else
		return false;
	for (unsigned i = 0; i < e->b.nports; i++)
		if (e->b.protos[i] == ip && (proto == PROTO_ICMP || e->b.ports[i] == port) &&
		    (!e->b.to[i] || addr_eq(&e->b.dests[e->b.to[i] - 1], dst)))
			return true;
	return false;
}

/* Our own block drops this first contact (see detect.h): the host's (by
 * its id, or by the source address), or the destination's isolation.  ARP
 * is never dropped. */
static bool dropped_by_us(const struct detect *d, const struct qaddr *id, const struct qaddr *src,
			  const struct qaddr *dst, unsigned proto, uint16_t port)
{
	const struct dblock *e;

	if (d->blocks.used == 0 || proto == PROTO_ARP)
		return false;
	if ((e = block_now(d, id)) && block_drops_from(d, e, dst, proto, port))
		return true;
	if (!addr_eq(id, src) && (e = block_now(d, src)) &&
	    block_drops_from(d, e, dst, proto, port))
		return true;
	e = block_now(d, dst);
	return e && e->b.level == LEVEL_ISOLATE && !block_exempt(d, src);
}

/* ---- detections ---- */

static void fire(struct detect *d, struct dhost *h, unsigned rule, enum severity sev,
		 const struct dprobe *pr, usec_t ts, struct detection *det)
{
	det->host = h->k.addr;
	det->addr = pr->k.src;
	det->rule = rule;
	det->rule_name = rule == DETECT_RULE_TRW ? DETECT_TRW_NAME : d->c->rules[rule].name;
	det->severity = sev;
	det->proto = proto_label(pr->k.proto, &pr->k.src);
	det->probes = h->probes;
	det->ts_us = ts;
	det->roles = h->roles;
	if (!det->fixed_ports && (pr->k.proto == PROTO_TCP || pr->k.proto == PROTO_UDP)) {
		/* Ports seen in the host's failed probes, for `contain`. */
		det->nports = h->nfports;
		memcpy(det->ports, h->fports, h->nfports * sizeof(h->fports[0]));
		memcpy(det->port_protos, h->fprotos, h->nfports);
		det->ports_overflow = h->fports_overflow;
	}
	d->st.detections++;
	d->cb(d->cb_arg, det);
}

static void fports_add(struct detect *d, struct dhost *h, unsigned proto, uint16_t port, usec_t ts)
{
	if (proto != PROTO_TCP && proto != PROTO_UDP)
		return;
	/* Forget ports from an earlier, unrelated episode of failures. */
	if (ts > h->last_fail_us + d->idle_us) {
		h->nfports = 0;
		h->fports_overflow = 0;
	}
	h->last_fail_us = ts;
	for (unsigned i = 0; i < h->nfports; i++)
		if (h->fports[i] == port && h->fprotos[i] == proto)
			return;
	if (h->nfports < DETECT_MAX_PORTS) {
		h->fports[h->nfports] = port;
		h->fprotos[h->nfports] = (uint8_t)proto;
		h->nfports++;
	} else {
		h->fports_overflow = 1;
	}
}

static struct portslot *slot_get(struct detect *d, struct dhost *h, unsigned rule, unsigned proto,
				 uint16_t port, usec_t ts)
{
	struct portslot *victim = NULL;
	unsigned victim_n = UINT32_MAX;

	for (unsigned i = 0; i < NSLOTS; i++) {
		struct portslot *s = &h->slots[i];
		if (s->proto == proto && s->port == port && s->rule == rule)
			return s;
	}
	/* Reuse a free slot, else the one with the smallest live count: a
	 * scanner's port dominates its slot and is never the victim. */
	for (unsigned i = 0; i < NSLOTS; i++) {
		struct portslot *s = &h->slots[i];
		unsigned n = s->proto ? swin_current(&s->w, ts, d->ri[s->rule].width_us) : 0;
		if (n < victim_n) {
			victim = s;
			victim_n = n;
		}
	}
	memset(victim, 0, sizeof(*victim));
	victim->proto = (uint8_t)proto;
	victim->port = port;
	victim->rule = (uint8_t)rule;
	return victim;
}

/* Fills the detection of a rule that crossed its threshold. */
static void fill_detection(const struct rule *rule, enum rule_kind kind, const struct dprobe *pr,
			   struct detection *det)
{
	unsigned proto = pr->k.proto;

	memset(det, 0, sizeof(*det));
	det->window_s = rule->window_s;
	switch (kind) {
	case RK_HOST:
		det->kind = EVIDENCE_DISTINCT_DST;
		if (proto == PROTO_TCP || proto == PROTO_UDP) {
			det->fixed_ports = true;
			det->nports = rule->nports;
			memcpy(det->ports, rule->ports, rule->nports * sizeof(rule->ports[0]));
			for (unsigned j = 0; j < rule->nports; j++)
				det->port_protos[j] =
					(uint8_t)(rule->protos & (PROTO_TCP | PROTO_UDP));
		}
		break;
	case RK_PORT:
		det->kind = EVIDENCE_DISTINCT_DST;
		det->fixed_ports = true;
		det->nports = 1;
		det->ports[0] = pr->k.port;
		det->port_protos[0] = (uint8_t)proto;
		break;
	default:
		det->kind = EVIDENCE_DISTINCT_PORTS;
		det->target = pr->k.dst;
		break;
	}
}

/* ---- dark space ---- */

void detect_set_known(struct detect *d, bool (*known)(void *arg, const struct qaddr *a), void *arg)
{
	d->known = known;
	d->known_arg = arg;
}

void detect_set_cb(struct detect *d, detect_cb cb, void *arg)
{
	d->cb = cb;
	d->cb_arg = arg;
}

void detect_set_contact(struct detect *d, detect_contact_cb cb, void *arg)
{
	d->contact = cb;
	d->contact_arg = arg;
}

void detect_set_outbreak(struct detect *d, bool on)
{
	d->outbreak = on;
}

void detect_set_watched_since(struct detect *d, usec_t since_us)
{
	d->watched_since = since_us;
}

/* Whether a failed probe went into dark space: nothing answered it
 * within scan.timeout, it went to a protected address that no machine is
 * known to use, and the network has been watched scan.dark_warmup.  Only
 * silence counts: anyone on the LAN can forge an ICMP host unreachable
 * quoting a victim's SYN to a live server, and make its failures look
 * dark; nobody off the path can forge silence.  Each dark destination
 * goes into the host's evidence. */
static bool dark_probe(struct detect *d, struct dhost *h, const struct dprobe *pr)
{
	usec_t since = d->watched_since ? d->watched_since : d->first_us;

	if (!(pr->flags & PF_NOHOST) || !d->known || !is_protected(d, &pr->k.dst) ||
	    d->now < since + (usec_t)d->c->scan.dark_warmup_s * USEC_PER_SEC ||
	    d->known(d->known_arg, &pr->k.dst))
		return false;
	for (unsigned i = 0; i < h->ndark; i++)
		if (addr_eq(&h->dark[i], &pr->k.dst))
			return true;
	h->dark[h->dark_next] = pr->k.dst;
	h->dark_next = (uint8_t)((h->dark_next + 1) % DETECT_DARK_MAX);
	if (h->ndark < DETECT_DARK_MAX)
		h->ndark++;
	return true;
}

/* The host's latest dark destinations, oldest first. */
static void dark_evidence(const struct dhost *h, struct detection *det)
{
	unsigned first = h->ndark < DETECT_DARK_MAX ? 0 : h->dark_next;

	for (unsigned i = 0; i < h->ndark; i++)
		det->dark[i] = h->dark[(first + i) % DETECT_DARK_MAX];
	det->ndark = h->ndark;
}

/* Counts probe pr towards every rule evaluated at `when`.  This runs for
 * every probe: the detection record is only built for a rule that fires.
 * peer is NULL when the host holds its quota of peers: a destination is
 * then counted without remembering it (a host that busy may be counted
 * twice for one destination; never missed). */
static void count(struct detect *d, struct dhost *h, struct dpeer *peer, const struct dprobe *pr,
		  enum when when, usec_t ts)
{
	unsigned proto = pr->k.proto;

	for (unsigned i = 0; i < d->norder[when]; i++) {
		unsigned r = d->order[when][i];
		const struct rule *rule = &d->c->rules[r];
		const struct rinfo *ri = &d->ri[r];
		struct detection det;
		unsigned n;
		struct swin *w;

		if (!(rule->protos & proto) || (rule->exempt_roles & h->roles))
			continue;
		/* A probe our block dropped is evidence only where the packet
		 * itself is, whatever became of it, and the rule names the
		 * ports: not where its port would be the evidence. */
		if ((pr->flags & PF_DROPPED) && ri->kind != RK_HOST)
			continue;
		/* A bare ACK is no evidence of dark space, and unanswered only
		 * of a vertical scan (on_ack()). */
		if ((pr->flags & PF_ACK) &&
		    (rule->dark || (!(pr->flags & PF_ANSWER) && ri->kind != RK_VERT)))
			continue;
		if (rule->dark && !dark_probe(d, h, pr))
			continue;
		switch (ri->kind) {
		case RK_HOST:
			if (rule->nports && (proto == PROTO_TCP || proto == PROTO_UDP) &&
			    !rule_has_port(rule, pr->k.port))
				continue;
			if (peer && (peer->counted & (1u << r)))
				continue;
			if (peer)
				peer->counted |= 1u << r;
			w = &h->ctr[ri->idx];
			break;
		case RK_PORT:
			if (proto != PROTO_TCP && proto != PROTO_UDP)
				continue;
			w = &slot_get(d, h, r, proto, pr->k.port, ts)->w;
			break;
		case RK_VERT:
			if (!peer || (proto != PROTO_TCP && proto != PROTO_UDP))
				continue;
			w = &peer->vctr[ri->idx];
			break;
		default:
			continue;
		}
		n = swin_add(w, ts, ri->width_us, pr->first_us);
		if (!reached(d, h, &pr->k.src, rule, n, ts) || (h->fired & (1u << r)))
			continue;
		h->fired |= 1u << r;
		fill_detection(rule, (enum rule_kind)ri->kind, pr, &det);
		det.count = n;
		if (rule->dark)
			dark_evidence(h, &det);
		det.first_probe_us = w->first_us;
		fire(d, h, r, rule->severity, pr, ts, &det);
	}
}

static void trw_reset(struct dhost *h)
{
	h->llr = 0;
	h->trw_fail = h->trw_succ = 0;
	h->trw_worm = 0;
}

/* A walk's position: the host's own (trw_step), or a copy walked ahead
 * over outcomes known out of order (trw_ahead). */
struct walk {
	double llr;
	uint32_t fail, succ;
	uint8_t worm;
	usec_t first_us;
};

/* Takes one step; returns true when the walk crossed the alarm threshold
 * (and was reported if its severity is new).  Either threshold starts a
 * fresh walk: after a benign verdict, so that old successes never buy
 * credit against a later infection. */
static bool walk_step(struct detect *d, struct dhost *h, struct walk *w, const struct dprobe *pr,
		      uint8_t step, usec_t sent_us, usec_t ts)
{
	if (w->fail + w->succ == 0)
		w->first_us = sent_us;
	if ((step & 7) == RING_FAILURE) {
		w->llr += d->trw.step_fail;
		w->fail++;
		if (step & RING_WORM)
			w->worm = 1;
	} else {
		w->llr += d->trw.step_success;
		w->succ++;
	}
	if (w->llr >= d->trw.eta1) {
		enum severity sev = w->worm ? d->c->scan.severity : d->c->scan.other_ports_severity;
		if (sev > h->trw_reported) {
			struct detection det;

			memset(&det, 0, sizeof(det));
			h->trw_reported = (uint8_t)sev;
			det.kind = EVIDENCE_TRW;
			det.failures = w->fail;
			det.successes = w->succ;
			det.llr = w->llr;
			det.first_probe_us = w->first_us;
			fire(d, h, DETECT_RULE_TRW, sev, pr, ts, &det);
		}
		memset(w, 0, sizeof(*w));
		return true;
	}
	if (w->llr <= d->trw.eta0)
		memset(w, 0, sizeof(*w));
	return false;
}

static void walk_get(const struct dhost *h, struct walk *w)
{
	w->llr = h->llr;
	w->fail = h->trw_fail;
	w->succ = h->trw_succ;
	w->worm = h->trw_worm;
	w->first_us = h->trw_first_us;
}

static void trw_step(struct detect *d, struct dhost *h, const struct dprobe *pr, uint8_t step,
		     usec_t sent_us, usec_t ts)
{
	struct walk w;

	walk_get(h, &w);
	walk_step(d, h, &w, pr, step, sent_us, ts);
	h->llr = w.llr;
	h->trw_fail = w.fail;
	h->trw_succ = w.succ;
	h->trw_worm = w.worm;
	h->trw_first_us = w.first_us;
}

/* Rebuilds a ring slot's send time from its low 32 bits of milliseconds. */
static usec_t ring_sent_us(const struct dhost *h, unsigned slot, usec_t ts)
{
	return ts - (usec_t)(uint32_t)((uint32_t)(ts / 1000) - h->trw_ring_ms[slot]) * 1000;
}

/* Walks a copy of the host's walk over the outcomes known beyond the
 * first probe still waiting, in send order, skipping the waiting ones.
 * The host's own walk is left as it is: it takes these steps for real
 * once the answers before them are in, and its alarm is then not
 * reported again (trw_reported). */
static void trw_ahead(struct detect *d, struct dhost *h, const struct dprobe *pr, usec_t ts)
{
	struct walk w;

	walk_get(h, &w);
	for (uint16_t seq = h->trw_applied; seq != h->trw_seq; seq++) {
		unsigned i = seq % TRW_RING;
		uint8_t step = h->trw_ring[i];

		if (step == RING_PENDING || step == RING_NEUTRAL)
			continue;
		if (walk_step(d, h, &w, pr, step, ring_sent_us(h, i, ts), ts))
			return;
	}
}

/* Enrols a first contact to a new destination in the host's walk. */
static void trw_enrol(struct dhost *h, struct dprobe *pr)
{
	unsigned slot;

	if ((uint16_t)(h->trw_seq - h->trw_applied) >= TRW_RING)
		return;
	slot = h->trw_seq % TRW_RING;
	h->trw_ring[slot] = RING_PENDING;
	h->trw_ring_ms[slot] = (uint32_t)(pr->first_us / 1000);
	pr->trw_seq = h->trw_seq++;
	pr->host_gen = h->gen;
	pr->flags |= PF_TRW;
}

/* Records a walk probe's outcome and takes every step now in order. */
static void trw_record(struct detect *d, struct dhost *h, const struct dprobe *pr, enum outcome out,
		       usec_t ts)
{
	unsigned slot = pr->trw_seq % TRW_RING;
	uint8_t v;

	if (pr->host_gen != h->gen || (uint16_t)(pr->trw_seq - h->trw_applied) >= TRW_RING ||
	    h->trw_ring[slot] != RING_PENDING)
		return; /* the host was evicted and tracked anew since */
	if (out == OUT_SUCCESS)
		v = RING_SUCCESS;
	else if (out == OUT_FAILURE)
		v = RING_FAILURE | (worm_port(d, h, pr->k.proto, pr->k.port) ? RING_WORM : 0);
	else
		v = RING_NEUTRAL;
	h->trw_ring[slot] = v;
	while (h->trw_applied != h->trw_seq) {
		unsigned i = h->trw_applied % TRW_RING;
		uint8_t step = h->trw_ring[i];

		if (step == RING_PENDING)
			break;
		h->trw_ring[i] = RING_EMPTY;
		h->trw_applied++;
		if (step != RING_NEUTRAL)
			trw_step(d, h, pr, step, ring_sent_us(h, i, ts), ts);
	}
	if (h->trw_applied != h->trw_seq && v != RING_NEUTRAL)
		trw_ahead(d, h, pr, ts);
}

/* A probe's outcome is known (at time ts). */
static void resolve(struct detect *d, struct dprobe *pr, enum outcome out, usec_t ts)
{
	struct dhost *h;
	struct dpeer *peer;
	bool is_new;

	/* Whatever became of a probe our block dropped is our doing. */
	if (pr->flags & PF_DROPPED)
		out = OUT_NEUTRAL;
	pr->state = (uint8_t)out;
	if (ts > pr->last_us)
		pr->last_us = ts;
	table_list_append(&d->probes, L_RESOLVED, pr);
	switch (out) {
	case OUT_SUCCESS:
		d->st.successes++;
		break;
	case OUT_FAILURE:
		d->st.failures++;
		break;
	default:
		d->st.neutral++;
		break;
	}
	/* A bare ACK of a live connection has nothing more to tell. */
	if (!is_protected(d, &pr->k.src) || (out == OUT_NEUTRAL && (pr->flags & PF_ACK)))
		return;
	/* The outcome goes to the host as it is now (another incarnation
	 * of it too), and neither brings back a host that was evicted nor
	 * promotes one off probation: only a host's own packets do that.
	 * Under a flood of one-shot forged sources the probe of each comes
	 * back as a failure, by eviction or timeout; bringing its source
	 * back evicted another host for each, and promoting it a second
	 * after its first packet pushed the main list's real hosts onto
	 * probation, where the flood churned their state away. */
	h = host_find(d, &pr->host);
	if (!h || pr->first_us < h->forget_us)
		return;
	if (out == OUT_FAILURE && (pr->flags & PF_ACK)) {
		/* A bare ACK is a probe once it failed (on_ack()); its port
		 * is one to contain only when something answered it. */
		h->probes++;
		d->st.probes++;
		if (pr->flags & PF_ANSWER)
			fports_add(d, h, pr->k.proto, pr->k.port, ts);
	} else if (out == OUT_FAILURE) {
		fports_add(d, h, pr->k.proto, pr->k.port, ts);
	}
	if (pr->flags & PF_TRW)
		trw_record(d, h, pr, out, ts);
	if (out != OUT_FAILURE)
		return;
	if (d->norder[AT_FAILURE]) {
		peer = peer_get(d, h, &pr->k.dst, ts, &is_new);
		count(d, h, peer, pr, AT_FAILURE, ts);
	}
}

/* Frees one probe slot: the oldest resolved probe, else the oldest pending
 * one, which then counts as unanswered. */
static void probe_evict(struct detect *d)
{
	struct dprobe *pr = table_list_head(&d->probes, L_RESOLVED);

	if (!pr) {
		pr = table_list_head(&d->probes, L_PENDING);
		if (!pr)
			return;
		resolve(d, pr, OUT_FAILURE, d->now);
	}
	probe_free(d, pr);
	d->st.probes_evicted++;
}

/* A first contact candidate: host id sent proto/port from src to dst. */
static void on_probe(struct detect *d, const struct qaddr *id, const struct qaddr *src,
		     const struct qaddr *dst, unsigned proto, uint16_t port)
{
	struct pkey k;
	struct dprobe *pr, tmp;
	struct dhost *h;
	struct dpeer *peer;
	bool new_peer, dropped;

	if (!(d->src_protected >= 0 ? d->src_protected : is_protected(d, src)) ||
	    dst_excluded(src, dst))
		return;
	pkey_set(&k, src, dst, proto, port);
	pr = table_find(&d->probes, &k);
	if (pr && (pr->flags & PF_ACK) && pr->state != OUT_NEUTRAL) {
		/* A bare ACK not known to be part of a connection is no
		 * contact: a worm must not hide its SYNs behind ACKs sent
		 * first.  The SYN takes its place. */
		probe_free(d, pr);
		pr = NULL;
	}
	if (pr) {
		/* Retransmission, duplicate, or a new connection to a known
		 * service: not a first contact. */
		pr->last_us = d->now;
		if (pr->state != OUT_PENDING)
			table_list_touch(&d->probes, L_RESOLVED, pr);
		return;
	}
	dropped = dropped_by_us(d, id, src, dst, proto, port);
	h = host_get(d, id, src, d->now);
	if (!h)
		return;
	h->probes++;
	d->st.probes++;
	if (dropped)
		d->st.probes_dropped++;
	else if (d->contact && (proto == PROTO_TCP || proto == PROTO_UDP) &&
		 bit_test(proto == PROTO_TCP ? d->worm_tcp : d->worm_udp, port) &&
		 is_protected(d, dst))
		d->contact(d->contact_arg, id, src, dst, proto, port, d->now);
	if (h->nprobes >= d->probe_quota) {
		/* The host holds its quota of probes awaiting or holding an
		 * outcome: this one counts as a first contact, but its
		 * outcome is not followed (it cannot take the walk's room,
		 * or anyone else's). */
		memset(&tmp, 0, sizeof(tmp));
		tmp.k = k;
		tmp.host = *id;
		tmp.first_us = tmp.last_us = d->now;
		tmp.flags = dropped ? PF_DROPPED : 0;
		pr = &tmp;
		d->st.probes_untracked++;
	} else {
		if (table_full(&d->probes))
			probe_evict(d);
		pr = table_insert(&d->probes, &k);
		if (!pr)
			return;
		if (proto == PROTO_UDP)
			bit_set(d->probed_udp, port);
		pr->state = OUT_PENDING;
		pr->flags = dropped ? PF_DROPPED : 0;
		pr->host = *id;
		pr->host_gen = h->gen;
		pr->first_us = pr->last_us = d->now;
		table_list_append(&d->probes, L_PENDING, pr);
		h->nprobes++;
	}
	peer = peer_get(d, h, dst, d->now, &new_peer);
	if (new_peer && pr != &tmp && !dropped && d->trw_on && (d->c->scan.protos & proto) &&
	    !(h->roles & ROLE_SCANNER))
		trw_enrol(h, pr);
	count(d, h, peer, pr, AT_PROBE, d->now);
}

/* Whether the packet being handled answers bare ACK pr: a reset to its
 * source port whose sequence number is its acknowledgment number (RFC 793
 * section 3.4: a reset answering a segment with ACK takes its sequence
 * number from that field), or an ICMP error quoting its source port.  The
 * resets of other connections, and backscatter, do not match. */
static bool ack_answered(const struct detect *d, const struct dprobe *pr)
{
	const struct pkt *p = d->pkt;

	if (p->proto == IPPROTO_TCP)
		return (p->tcp_flags & TH_RST) && p->dport == pr->ack_sport &&
		       p->tcp_seq == pr->ack_num;
	return p->quote.valid && p->quote.has_ports && p->quote.sport == pr->ack_sport;
}

static void on_reply(struct detect *d, const struct qaddr *src, const struct qaddr *dst,
		     unsigned proto, uint16_t port, enum outcome out)
{
	struct pkey k;
	struct dprobe *pr;

	pkey_set(&k, src, dst, proto, port);
	pr = table_find(&d->probes, &k);
	if (!pr || pr->state != OUT_PENDING)
		return;
	if (pr->flags & PF_ACK) {
		if (!ack_answered(d, pr))
			return;
		pr->flags |= PF_ANSWER;
	}
	table_list_unlink(&d->probes, pr);
	resolve(d, pr, out, d->now);
}

/* ---- brute force ---- */

/* Counts, for the host that opened connection c, its end after dur with
 * bytes from the client: short (at most the rule's max_duration and
 * max_bytes) counts towards the rule for that server; longer or larger
 * is a session that worked, and clears the count. */
static void conn_done(struct detect *d, const struct dconn *c, usec_t dur, uint64_t bytes)
{
	struct dhost *h = owner_of(d, &c->host, c->host_gen);
	struct dserver *sv = NULL;
	bool counted = false;

	if (!h || c->syn_us < h->forget_us)
		return;
	for (unsigned i = 0; i < d->nbrute; i++) {
		unsigned r = d->brute[i];
		const struct rule *rule = &d->c->rules[r];
		const struct rinfo *ri = &d->ri[r];
		bool is_short = dur <= (usec_t)rule->max_duration_s * USEC_PER_SEC &&
				bytes <= rule->max_bytes;
		struct detection det;
		struct dprobe pr;
		struct swin *w;
		unsigned n;

		if (!rule_has_port(rule, c->k.dport) || (rule->exempt_roles & h->roles))
			continue;
		if (!sv) {
			struct peerkey k;

			memset(&k, 0, sizeof(k));
			k.src = h->k.addr;
			k.dst = c->k.srv;
			sv = table_find(&d->servers, &k);
			if (sv && sv->gen != h->gen) {
				/* Made before a release: not this host's doing. */
				sv->gen = h->gen;
				sv->fired = 0;
				memset(sv->ctr, 0, d->nbrute * sizeof(sv->ctr[0]));
			}
			if (!sv && !is_short)
				continue; /* nothing to clear */
			if (!sv) {
				if (table_full(&d->servers))
					table_remove(&d->servers,
						     table_list_head(&d->servers, L_LRU));
				sv = table_insert(&d->servers, &k);
				if (!sv)
					return;
				sv->gen = h->gen;
			}
			sv->last_us = d->now;
			table_list_touch(&d->servers, L_LRU, sv);
		}
		w = &sv->ctr[ri->idx];
		if (!is_short) {
			memset(w, 0, sizeof(*w));
			continue;
		}
		counted = true;
		n = swin_add(w, d->now, ri->width_us, c->open_us);
		if (!reached(d, h, &c->k.cli, rule, n, d->now) || (sv->fired & (1u << r)))
			continue;
		sv->fired |= 1u << r;
		memset(&det, 0, sizeof(det));
		det.kind = EVIDENCE_CONNECTIONS;
		det.window_s = rule->window_s;
		det.count = n;
		det.target = c->k.srv;
		/* Contained towards that server's port only: the host's other
		 * connections to the service, to other servers, are its own. */
		det.peer = c->k.srv;
		det.fixed_ports = true;
		det.nports = 1;
		det.ports[0] = c->k.dport;
		det.port_protos[0] = PROTO_TCP;
		det.first_probe_us = w->first_us;
		memset(&pr, 0, sizeof(pr));
		pr.k.src = c->k.cli;
		pr.k.dst = c->k.srv;
		pr.k.proto = PROTO_TCP;
		pr.k.port = c->k.dport;
		fire(d, h, r, rule->severity, &pr, d->now, &det);
	}
	if (counted)
		d->st.conns_short++;
}

static void conn_free(struct detect *d, struct dconn *c)
{
	struct dhost *h = owner_of(d, &c->host, c->host_gen);

	if (h && h->nconns)
		h->nconns--;
	table_remove(&d->conns, c);
}

static void ckey_set(struct ckey *k, const struct qaddr *cli, const struct qaddr *srv,
		     uint16_t sport, uint16_t dport)
{
	memset(k, 0, sizeof(*k));
	k->cli = *cli;
	k->srv = *srv;
	k->sport = sport;
	k->dport = dport;
}

/* A SYN from a protected host to a brute-force port. */
static void conn_syn(struct detect *d, const struct pkt *p, const struct qaddr *id)
{
	struct ckey k;
	struct dconn *c;
	struct dhost *h;

	if (!(d->src_protected >= 0 ? d->src_protected : is_protected(d, &p->src)) ||
	    dst_excluded(&p->src, &p->dst))
		return;
	ckey_set(&k, &p->src, &p->dst, p->sport, p->dport);
	c = table_find(&d->conns, &k);
	if (c && c->isn == p->tcp_seq)
		return; /* a retransmission */
	if (c) {
		/* The port pair reused: the end of the old one was missed. */
		conn_free(d, c);
	}
	h = host_get(d, id, &p->src, d->now);
	if (!h)
		return;
	if (h->nconns >= d->conn_quota) {
		d->st.conns_untracked++;
		return;
	}
	if (table_full(&d->conns)) {
		/* The oldest half-open one, else the oldest open one: the
		 * longest-lived, least likely to be short. */
		c = table_list_head(&d->conns, L_CSYN);
		conn_free(d, c ? c : table_list_head(&d->conns, L_COPEN));
	}
	c = table_insert(&d->conns, &k);
	if (!c)
		return;
	c->host = *id;
	c->host_gen = h->gen;
	c->isn = p->tcp_seq;
	c->syn_us = d->now;
	table_list_append(&d->conns, L_CSYN, c);
	h->nconns++;
	d->st.conns++;
}

/* The server's SYN-ACK, acknowledging the client's SYN (a stray or
 * forged one that does not is ignored): the connection is open. */
static void conn_open(struct detect *d, const struct pkt *p)
{
	struct ckey k;
	struct dconn *c;

	ckey_set(&k, &p->dst, &p->src, p->dport, p->sport);
	c = table_find(&d->conns, &k);
	if (!c || c->open_us || p->tcp_ack != c->isn + 1)
		return;
	c->open_us = d->now;
	table_list_append(&d->conns, L_COPEN, c);
}

/* A FIN or RST from either side ends the connection. */
static void conn_end(struct detect *d, const struct pkt *p)
{
	struct ckey k;
	struct dconn *c;
	uint64_t bytes = 0;

	ckey_set(&k, &p->src, &p->dst, p->sport, p->dport);
	c = table_find(&d->conns, &k);
	if (c) {
		bytes = (uint32_t)(p->tcp_seq - c->isn - 1);
	} else {
		ckey_set(&k, &p->dst, &p->src, p->dport, p->sport);
		c = table_find(&d->conns, &k);
		if (!c)
			return;
		/* A server's reset without ACK says nothing of what it got. */
		if (p->tcp_flags & TH_ACK)
			bytes = (uint32_t)(p->tcp_ack - c->isn - 1);
	}
	/* A reset of a connection that never opened is a refusal. */
	if (c->open_us)
		conn_done(d, c, d->now - c->open_us, bytes);
	conn_free(d, c);
}

static void brute_tcp(struct detect *d, const struct pkt *p, const struct qaddr *id)
{
	uint8_t f = p->tcp_flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN);

	if (f == TH_SYN) {
		if (bit_test(d->brute_tcp, p->dport))
			conn_syn(d, p, id);
	} else if (f == (TH_SYN | TH_ACK)) {
		if (bit_test(d->brute_tcp, p->sport))
			conn_open(d, p);
	} else if ((f & (TH_FIN | TH_RST)) && !(f & TH_SYN)) {
		if (bit_test(d->brute_tcp, p->dport) || bit_test(d->brute_tcp, p->sport))
			conn_end(d, p);
	}
}

/* Bare ACKs: probes without SYN (nmap -sA and -sW, hping3 -A).
 *
 * A bare ACK is a segment with ACK alone, no TCP options and no payload:
 * what those tools send, and what the capture filter passes (filter.c).
 * ACKs with options (Linux and macOS put timestamps in every one) or with
 * data are never probes, from a file either, so that reading a capture
 * gives what the live filter would.  One whose (destination, port) the
 * host already has a probe for belongs to a contact we know.  One from a
 * port below its destination port is taken for the server side of a
 * connection (a service port towards a client's ephemeral one): a
 * scanner's source port is an ephemeral one, above most ports it probes.
 *
 * Anything else may be a probe, or the ACK of a connection that began
 * before we looked (a restart) or whose entry expired while it was idle.
 * It becomes a pending probe (PF_ACK) holding its source port and ack
 * number, and then:
 *   - a reset to that port echoing that number, or an ICMP error quoting
 *     it (ack_answered()), is a failure for every rule that counts
 *     failures, dark space excepted (count());
 *   - the connection's next bare ACK with the ack number moved on (data
 *     is flowing), or a bare ACK from the other side, shows a live
 *     connection: neutral, and the entry then marks (destination, port)
 *     as known to the host;
 *   - silence is a failure for the vertical rules only.  A pure ACK of a
 *     live connection gets no answer either: a client with idle
 *     connections to twenty servers on 443 is no horizontal scan after a
 *     restart, but twenty silent ports of one destination are a scan.
 * It is never a first contact for the rules that count those, nor a step
 * of the Threshold Random Walk: one mid-flow ACK would be either.  A
 * reset to an address that sent no ACK (backscatter of a forged scan)
 * finds no probe and counts for nothing. */
#define ACK_MOVE_MAX (1u << 24) /* how far a live connection's ack number moves between two ACKs */

static void on_ack(struct detect *d, const struct pkt *p, const struct qaddr *id)
{
	struct pkey k;
	struct dprobe *pr;
	struct dhost *h;
	bool dropped;

	if (p->tcp_flags != TH_ACK || p->tcp_hlen != 20 || p->tcp_paylen != 0)
		return;
	/* From the other side of a bare ACK still waiting, which only a
	 * protected host sends: a live connection.  (Most bare ACKs go from
	 * a client inside to a server outside: no lookup for them.) */
	if (is_protected(d, &p->dst)) {
		pkey_set(&k, &p->dst, &p->src, PROTO_TCP, p->sport);
		pr = table_find(&d->probes, &k);
		if (pr && (pr->flags & PF_ACK) && pr->state == OUT_PENDING &&
		    pr->ack_sport == p->dport) {
			table_list_unlink(&d->probes, pr);
			resolve(d, pr, OUT_NEUTRAL, d->now);
		}
	}
	if (p->sport <= p->dport ||
	    !(d->src_protected >= 0 ? d->src_protected : is_protected(d, &p->src)) ||
	    dst_excluded(&p->src, &p->dst))
		return;
	pkey_set(&k, &p->src, &p->dst, PROTO_TCP, p->dport);
	pr = table_find(&d->probes, &k);
	if (pr) {
		if ((pr->flags & PF_ACK) && pr->state == OUT_PENDING && pr->ack_sport == p->sport &&
		    p->tcp_ack - pr->ack_num - 1 < ACK_MOVE_MAX) {
			table_list_unlink(&d->probes, pr);
			resolve(d, pr, OUT_NEUTRAL, d->now);
			return;
		}
		/* Every ACK of a download lands here: the entry moves to the
		 * list's tail once a second at most (TOUCH_US), so its expiry
		 * is late by at most that. */
		if (pr->state != OUT_PENDING && d->now / TOUCH_US != pr->last_us / TOUCH_US)
			table_list_touch(&d->probes, L_RESOLVED, pr);
		pr->last_us = d->now;
		return;
	}
	dropped = dropped_by_us(d, id, &p->src, &p->dst, PROTO_TCP, p->dport);
	h = host_get(d, id, &p->src, d->now);
	/* Beyond its quota a host's bare ACKs are not followed: unlike a
	 * SYN, one counts for nothing before its outcome. */
	if (!h || h->nprobes >= d->probe_quota)
		return;
	if (table_full(&d->probes))
		probe_evict(d);
	pr = table_insert(&d->probes, &k);
	if (!pr)
		return;
	pr->state = OUT_PENDING;
	pr->flags = PF_ACK | (dropped ? PF_DROPPED : 0);
	pr->host = *id;
	pr->host_gen = h->gen;
	pr->ack_sport = p->sport;
	pr->ack_num = p->tcp_ack;
	pr->first_us = pr->last_us = d->now;
	table_list_append(&d->probes, L_PENDING, pr);
	h->nprobes++;
}

static void on_tcp(struct detect *d, const struct pkt *p, const struct qaddr *id)
{
	uint8_t f = p->tcp_flags;

	if (d->nbrute)
		brute_tcp(d, p, id);
	if ((f & TH_SYN) && (f & TH_ACK))
		on_reply(d, &p->dst, &p->src, PROTO_TCP, p->sport, OUT_SUCCESS);
	else if (f & TH_RST)
		on_reply(d, &p->dst, &p->src, PROTO_TCP, p->sport, OUT_FAILURE);
	else if (f & TH_SYN)
		on_probe(d, id, &p->src, &p->dst, PROTO_TCP, p->dport);
	else if (!(f & TH_ACK))
		/* FIN, NULL, XMAS: no legitimate segment lacks ACK, SYN and RST. */
		on_probe(d, id, &p->src, &p->dst, PROTO_TCP, p->dport);
	else
		on_ack(d, p, id);
}

/* The wildcard destination of a group query marker: all ones, which no
 * unicast reply can come from. */
static void wildcard(struct qaddr *w, int family)
{
	memset(w, 0, sizeof(*w));
	w->family = (uint8_t)family;
	memset(w->b, 0xff, family == AF_INET6 ? 16 : 4);
}

/* A host asked a multicast group or the broadcast address on a port (mDNS,
 * SSDP, NetBIOS, DHCP): remember it, so that the unicast answers of
 * whoever responds are taken as replies, not as the responders' probes. */
static void note_group_query(struct detect *d, const struct qaddr *src, uint16_t port)
{
	struct qaddr w;
	struct pkey k;
	struct dprobe *pr;

	if (!is_protected(d, src))
		return;
	bit_set(d->group_udp, port);
	wildcard(&w, src->family);
	pkey_set(&k, src, &w, PROTO_UDP, port);
	pr = table_find(&d->probes, &k);
	if (!pr) {
		if (table_full(&d->probes))
			probe_evict(d);
		pr = table_insert(&d->probes, &k);
		if (!pr)
			return;
		bit_set(d->probed_udp, port);
		pr->state = OUT_NEUTRAL;
		pr->first_us = d->now;
	}
	pr->last_us = d->now;
	table_list_touch(&d->probes, L_RESOLVED, pr);
}

static bool answers_group_query(struct detect *d, const struct pkt *p)
{
	struct qaddr w;
	struct pkey k;

	if (!bit_test(d->group_udp, p->sport))
		return false;
	wildcard(&w, p->dst.family);
	pkey_set(&k, &p->dst, &w, PROTO_UDP, p->sport);
	return table_find(&d->probes, &k) != NULL;
}

static void on_udp(struct detect *d, const struct pkt *p, const struct qaddr *id)
{
	struct pkey k;
	struct dprobe *pr;

	/* A datagram coming back from a probed dst:port is its reply.  Most
	 * datagrams come from ports no probe went to (a client's ephemeral
	 * port): those need no lookup. */
	pr = NULL;
	if (bit_test(d->probed_udp, p->sport)) {
		pkey_set(&k, &p->dst, &p->src, PROTO_UDP, p->sport);
		pr = table_find(&d->probes, &k);
	}
	if (pr) {
		if (pr->state == OUT_PENDING) {
			table_list_unlink(&d->probes, pr);
			resolve(d, pr, OUT_SUCCESS, d->now);
		}
		return;
	}
	if ((p->flags & PKT_F_L2_BCAST) || addr_is_multicast(&p->dst)) {
		note_group_query(d, &p->src, p->dport);
		return;
	}
	/* From a well-known service port to an ephemeral one: a reply whose
	 * request we did not see (e.g. an internal DNS server answering). */
	if (p->sport < 1024 && p->dport >= 1024)
		return;
	if (answers_group_query(d, p))
		return;
	on_probe(d, id, &p->src, &p->dst, PROTO_UDP, p->dport);
}

static void on_icmp(struct detect *d, const struct pkt *p, const struct qaddr *id)
{
	bool v6 = p->proto == IPPROTO_ICMPV6;
	uint8_t echo_req = v6 ? 128 : 8, echo_rep = v6 ? 129 : 0;
	uint8_t unreach = v6 ? 1 : 3, exceeded = v6 ? 3 : 11;
	const struct pkt_quote *q = &p->quote;
	enum outcome out;
	unsigned proto;
	uint16_t port = 0;

	if (p->icmp_type == echo_req) {
		if (!(p->flags & PKT_F_L2_BCAST))
			on_probe(d, id, &p->src, &p->dst, PROTO_ICMP, 0);
		return;
	}
	if (p->icmp_type == echo_rep) {
		on_reply(d, &p->dst, &p->src, PROTO_ICMP, 0, OUT_SUCCESS);
		return;
	}
	if (!q->valid)
		return;
	if (p->icmp_type == unreach) {
		if (!v6 && p->icmp_code == 4)
			return; /* fragmentation needed: a path MTU signal, not a failure */
		out = OUT_FAILURE;
	} else if (p->icmp_type == exceeded) {
		out = OUT_NEUTRAL; /* traceroute: the path works, the TTL ran out */
	} else {
		return;
	}
	switch (q->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (!q->has_ports)
			return;
		proto = q->proto == IPPROTO_TCP ? PROTO_TCP : PROTO_UDP;
		port = q->dport;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (q->icmp_type != (q->proto == IPPROTO_ICMPV6 ? 128 : 8))
			return;
		proto = PROTO_ICMP;
		break;
	default:
		return;
	}
	on_reply(d, &q->src, &q->dst, proto, port, out);
}

static void on_arp(struct detect *d, const struct pkt *p, const struct qaddr *id)
{
	static const uint8_t zero[4];

	if (p->arp_op == 1) {
		/* Probes (sender 0.0.0.0, RFC 5227) and gratuitous ARP ask
		 * nobody anything. */
		if (memcmp(p->src.b, zero, 4) == 0 || addr_eq(&p->src, &p->dst))
			return;
		on_probe(d, id, &p->src, &p->dst, PROTO_ARP, 0);
	} else if (p->arp_op == 2) {
		on_reply(d, &p->dst, &p->src, PROTO_ARP, 0, OUT_SUCCESS);
	}
}

/* Whether none of detect_advance()'s loops can have work at d->now: the
 * clock is before the earliest deadline noted at the lists' heads, and
 * no list got a new head since.  What the loops test of an entry only
 * moves later while it stays a head (a probe's last use, a peer's), and
 * what can move earlier (a block lifted, the timeouts of a new
 * configuration) clears due_us; so a skipped call is one whose loops
 * would all have stopped at once.  Nearly every packet skips them, and
 * the seven heads they would read are cache misses once the lists are
 * long (docs/BENCHMARKS.md, "Offline detection against the bare read
 * loop"). */
static bool timers_idle(const struct detect *d)
{
	return d->now < d->due_us && !d->conns.head_moved && !d->servers.head_moved &&
	       !d->probes.head_moved && !d->peers.head_moved && !d->blocks.head_moved;
}

static void due_min(usec_t *due, usec_t at)
{
	if (at < *due)
		*due = at;
}

/* Notes the earliest deadline at the heads, as detect_advance()'s loops
 * test them (with the same sums, so that a wrap would be the same). */
static void timers_note(struct detect *d)
{
	const struct dconn *c;
	const struct dserver *sv;
	const struct dprobe *pr;
	const struct dpeer *pe;
	const struct dblock *bl;
	usec_t due = USEC_INFINITY;

	if ((c = table_list_head(&d->conns, L_CSYN)))
		due_min(&due, c->syn_us + d->timeout_us);
	if ((c = table_list_head(&d->conns, L_COPEN)))
		due_min(&due, c->open_us + d->brute_dur_us + 1); /* its test is strict */
	if ((sv = table_list_head(&d->servers, L_LRU)))
		due_min(&due, sv->last_us + d->brute_idle_us);
	if ((pr = table_list_head(&d->probes, L_PENDING)))
		due_min(&due, pr->first_us + d->timeout_us);
	if ((pr = table_list_head(&d->probes, L_RESOLVED)))
		due_min(&due, pr->last_us + d->idle_us);
	if ((pe = table_list_head(&d->peers, L_LRU)))
		due_min(&due, pe->last_us + d->idle_us);
	if ((bl = table_list_head(&d->blocks, L_LIFTED)))
		due_min(&due, MAX(bl->until_us, bl->surveil_until_us));
	d->due_us = due;
	d->conns.head_moved = d->servers.head_moved = d->probes.head_moved = false;
	d->peers.head_moved = d->blocks.head_moved = false;
}

void detect_advance(struct detect *d, usec_t now)
{
	struct dprobe *pr;
	struct dpeer *pe;
	struct dblock *bl;
	struct dconn *c;
	struct dserver *sv;

	if (now > d->now)
		d->now = now;
	if (timers_idle(d))
		return;
	/* Connections: unanswered SYNs go; one open longer than every rule's
	 * max_duration is a session that worked. */
	while ((c = table_list_head(&d->conns, L_CSYN)) && c->syn_us + d->timeout_us <= d->now)
		conn_free(d, c);
	while ((c = table_list_head(&d->conns, L_COPEN)) && c->open_us + d->brute_dur_us < d->now) {
		conn_done(d, c, d->now - c->open_us, 0);
		conn_free(d, c);
	}
	while ((sv = table_list_head(&d->servers, L_LRU)) &&
	       sv->last_us + d->brute_idle_us <= d->now)
		table_remove(&d->servers, sv);
	while ((pr = table_list_head(&d->probes, L_PENDING)) &&
	       pr->first_us + d->timeout_us <= d->now) {
		table_list_unlink(&d->probes, pr);
		d->st.timeouts++;
		pr->flags |= PF_NOHOST;
		resolve(d, pr, OUT_FAILURE, pr->first_us + d->timeout_us);
	}
	while ((pr = table_list_head(&d->probes, L_RESOLVED)) && pr->last_us + d->idle_us <= d->now)
		probe_free(d, pr);
	while ((pe = table_list_head(&d->peers, L_LRU)) && pe->last_us + d->idle_us <= d->now)
		peer_free(d, pe);
	/* A lifted block under surveillance stays, and with it (until the
	 * table is full) the ones lifted after it. */
	while ((bl = table_list_head(&d->blocks, L_LIFTED)) && bl->until_us <= d->now &&
	       bl->surveil_until_us <= d->now)
		table_remove(&d->blocks, bl);
	timers_note(d);
}

void detect_flush(struct detect *d)
{
	struct dprobe *pr;

	while ((pr = table_list_head(&d->probes, L_PENDING))) {
		usec_t deadline = pr->first_us + d->timeout_us;

		table_list_unlink(&d->probes, pr);
		if (deadline > d->now)
			d->now = deadline;
		d->st.timeouts++;
		pr->flags |= PF_NOHOST;
		resolve(d, pr, OUT_FAILURE, deadline);
	}
}

static unsigned pkt_proto_bit(const struct pkt *p)
{
	if (p->l3 == PKT_L3_ARP)
		return PROTO_ARP;
	switch (p->proto) {
	case IPPROTO_TCP:
		return PROTO_TCP;
	case IPPROTO_UDP:
		return PROTO_UDP;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return PROTO_ICMP;
	default:
		return 0;
	}
}

/* A machine sent from an address that is not its own: counts towards the
 * forgery rules, once per distinct address (recent ones remembered). */
static void on_forged(struct detect *d, const struct qaddr *id, const struct pkt *p)
{
	const struct qaddr *src = &p->src;
	uint32_t hash = (uint32_t)siphash24(&d->hosts.key, src, sizeof(*src)) | 1;
	struct dhost *h;

	d->st.forged++;
	if (!d->nforge)
		return;
	h = host_get(d, id, NULL, d->now);
	if (!h)
		return;
	for (unsigned i = 0; i < FORGE_RING; i++)
		if (h->fring[i] == hash)
			return;
	h->fring[h->fring_next] = hash;
	h->fring_next = (uint8_t)((h->fring_next + 1) % FORGE_RING);
	for (unsigned i = 0; i < d->nforge; i++) {
		unsigned r = d->forge[i];
		const struct rule *rule = &d->c->rules[r];
		const struct rinfo *ri = &d->ri[r];
		struct swin *w = &h->ctr[ri->idx];
		struct detection det;
		struct dprobe pr;
		unsigned n;

		if (rule->exempt_roles & h->roles)
			continue;
		n = swin_add(w, d->now, ri->width_us, d->now);
		if (!reached(d, h, NULL, rule, n, d->now) || (h->fired & (1u << r)))
			continue;
		h->fired |= 1u << r;
		memset(&det, 0, sizeof(det));
		det.kind = EVIDENCE_FORGED;
		det.window_s = rule->window_s;
		det.count = n;
		det.target = *src;
		det.first_probe_us = w->first_us;
		memset(&pr, 0, sizeof(pr));
		pr.k.src = *src;
		pr.k.proto = (uint8_t)pkt_proto_bit(p);
		fire(d, h, r, rule->severity, &pr, d->now, &det);
	}
}

void detect_packet(struct detect *d, const struct pkt *p, const struct attribution *a, usec_t now)
{
	const struct qaddr *id = a ? &a->id : &p->src;

	d->st.packets++;
	if (!d->first_us)
		d->first_us = now;
	detect_advance(d, now);
	d->src_protected = a ? a->src_protected : -1;
	d->pkt = p;
	if (a && a->kind == SRC_FORGED)
		on_forged(d, id, p);
	if (p->l3 == PKT_L3_ARP) {
		on_arp(d, p, id);
		return;
	}
	if ((p->flags & PKT_F_FRAGMENT) || !(p->flags & PKT_F_L4))
		return;
	switch (p->proto) {
	case IPPROTO_TCP:
		on_tcp(d, p, id);
		break;
	case IPPROTO_UDP:
		on_udp(d, p, id);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		on_icmp(d, p, id);
		break;
	default:
		break;
	}
}

/* The keys on_tcp(), on_udp() and on_icmp() look up first: a probe from
 * p's source (SYN, FIN, a bare ACK from the side with the higher port,
 * a datagram to a port, an echo request), or the probe p answers (SYN
 * ACK, reset, a bare ACK from the lower port, a datagram from a probed
 * port, an echo reply).  The conditions that need more than the packet
 * (is the source protected, is the destination excluded) are left to
 * the lookup: a hint for a lookup not made only warms the cache.  A
 * probe from p's source is followed by a lookup of its host when it is
 * new (a first contact, a bare ACK not seen before), and a first contact
 * by the lookup of its destination among the host's peers. */
unsigned detect_hints(struct detect *d, const struct pkt *p, const struct qaddr *id,
		      struct tab_hint ret[DETECT_HINTS])
{
	const struct qaddr *from = &p->src, *to = &p->dst;
	uint8_t f = p->tcp_flags;
	unsigned proto;
	uint16_t port;
	struct pkey k;
	struct hkey hk;
	struct peerkey pk;

	if (p->l3 == PKT_L3_ARP || (p->flags & PKT_F_FRAGMENT) || !(p->flags & PKT_F_L4))
		return 0;
	switch (p->proto) {
	case IPPROTO_TCP:
		proto = PROTO_TCP;
		port = p->dport;
		if (((f & TH_SYN) && (f & TH_ACK)) || (f & TH_RST) ||
		    (f == TH_ACK && p->sport <= p->dport)) {
			from = &p->dst;
			to = &p->src;
			port = p->sport;
		} else if ((f & TH_ACK) && !(f & TH_SYN) &&
			   (f != TH_ACK || p->tcp_hlen != 20 || p->tcp_paylen != 0)) {
			return 0; /* FIN, or a segment with data: on_ack() looks up nothing */
		}
		break;
	case IPPROTO_UDP:
		proto = PROTO_UDP;
		port = p->dport;
		if (bit_test(d->probed_udp, p->sport)) {
			from = &p->dst;
			to = &p->src;
			port = p->sport;
		}
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		proto = PROTO_ICMP;
		port = 0;
		if (p->icmp_type == (p->proto == IPPROTO_ICMPV6 ? 129 : 0)) {
			from = &p->dst;
			to = &p->src;
		} else if (p->icmp_type != (p->proto == IPPROTO_ICMPV6 ? 128 : 8)) {
			return 0;
		}
		break;
	default:
		return 0;
	}
	pkey_set(&k, from, to, proto, port);
	table_hint(&d->probes, &k, &ret[0]);
	if (from != &p->src)
		return 1; /* an answer: its probe names the host */
	memset(&hk, 0, sizeof(hk));
	hk.addr = *id;
	table_hint(&d->hosts, &hk, &ret[1]);
	if (p->proto == IPPROTO_TCP && (f & TH_ACK))
		return 2; /* a bare ACK: a new one makes no peer */
	memset(&pk, 0, sizeof(pk));
	pk.src = *id;
	pk.dst = *to;
	table_hint(&d->peers, &pk, &ret[2]);
	return 3;
}

void detect_midflow(struct detect *d, usec_t now)
{
	if (!d->first_us)
		d->first_us = now;
	detect_advance(d, now);
}

void detect_forget(struct detect *d, const struct qaddr *host)
{
	struct hkey k;
	struct dhost *h;

	memset(&k, 0, sizeof(k));
	k.addr = *host;
	h = table_find(&d->hosts, &k);
	if (!h)
		return;
	h->fired = 0;
	h->trw_reported = 0;
	/* Probes sent before the release are still timing out: they must not
	 * flag the host again. */
	h->forget_us = d->now + 1;
	h->gen = ++d->next_gen;
	h->trw_applied = h->trw_seq;
	/* Its old probes and peers no longer count against it (the new
	 * generation tells them); they expire on their own, and a peer used
	 * again starts afresh (peer_get()). */
	h->nprobes = 0;
	h->npeers = 0;
	h->nconns = 0;
	/* Nor do the ports of its failed probes (a containment after the
	 * release is on what it does from now on), nor its count of probes. */
	h->nfports = 0;
	h->fports_overflow = 0;
	h->probes = 0;
	memset(h->fring, 0, sizeof(h->fring));
	memset(h->trw_ring, 0, sizeof(h->trw_ring));
	h->ndark = h->dark_next = 0;
	memset(h->ctr, 0, d->nhctr * sizeof(h->ctr[0]));
	memset(h->slots, 0, sizeof(h->slots));
	trw_reset(h);
}

usec_t detect_now(const struct detect *d)
{
	return d->now;
}

void detect_get_stats(const struct detect *d, struct detect_stats *ret)
{
	*ret = d->st;
	ret->hosts = d->hosts.used;
	ret->probes_tracked = d->probes.used;
	ret->peers = d->peers.used;
	ret->blocks = d->blocks.used;
	ret->max_hosts = d->hosts.cap;
	ret->max_probes = d->probes.cap;
	ret->max_peers = d->peers.cap;
	ret->max_blocks = d->blocks.cap;
}

size_t detect_memory(const struct detect *d)
{
	const struct table *t[] = {&d->hosts,  &d->probes, &d->peers,
				   &d->blocks, &d->conns,  &d->servers};
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		n += (size_t)t[i]->cap * t[i]->esize + ((size_t)t[i]->mask + 1) * 4;
	return n;
}

/* Derives the rule lookups, windows and TRW parameters from c. */
static void setup_rules(struct detect *d, const struct conf *c)
{
	usec_t maxwin = 0;

	d->c = c;
	d->timeout_us = (usec_t)c->scan.timeout_ms * 1000;
	d->trw_on = c->scan.enabled;
	trw_params_init(&d->trw, c->scan.theta0, c->scan.theta1, c->scan.detection,
			c->scan.false_alarm);
	d->nrules = c->nrules;
	memset(d->ri, 0, sizeof(d->ri));
	memset(d->norder, 0, sizeof(d->norder));
	d->nforge = 0;
	d->nbrute = 0;
	d->brute_dur_us = 0;
	d->brute_idle_us = 0;
	memset(d->brute_tcp, 0, sizeof(d->brute_tcp));
	memset(d->worm_tcp, 0, sizeof(d->worm_tcp));
	memset(d->worm_udp, 0, sizeof(d->worm_udp));
	d->nhctr = d->nvctr = 0;
	for (unsigned i = 0; i < c->nrules; i++) {
		double low = ceil(c->rules[i].threshold * c->surveillance.factor - 1e-9);

		d->surveil_min[i] = low < 1 ? 1 : (unsigned)low;
		low = ceil(c->rules[i].threshold * c->outbreak.factor - 1e-9);
		d->outbreak_min[i] = low < 1 ? 1 : (unsigned)low;
	}
	for (unsigned i = 0; i < c->nrules; i++) {
		const struct rule *rule = &c->rules[i];
		struct rinfo *ri = &d->ri[i];

		if (!rule->enabled)
			continue;
		if (rule->type == RULE_VERTICAL)
			ri->kind = RK_VERT, ri->idx = (uint8_t)d->nvctr++;
		else if (rule->type == RULE_FORGERY)
			ri->kind = RK_FORGE, ri->idx = (uint8_t)d->nhctr++;
		else if (rule->type == RULE_BRUTE)
			ri->kind = RK_BRUTE, ri->idx = (uint8_t)d->nbrute;
		else if (rule->nports == 0 && !(rule->protos & (PROTO_ICMP | PROTO_ARP)))
			ri->kind = RK_PORT;
		else
			ri->kind = RK_HOST, ri->idx = (uint8_t)d->nhctr++;
		ri->when = rule->count == COUNT_FAILURES ? AT_FAILURE : AT_PROBE;
		ri->width_us = (usec_t)rule->window_s * USEC_PER_SEC / SWIN_NB;
		if (ri->width_us == 0)
			ri->width_us = 1;
		if (ri->kind == RK_BRUTE) {
			/* Their counters live in the servers table, for as
			 * long as their own windows. */
			d->brute[d->nbrute++] = (uint8_t)i;
			for (unsigned j = 0; j < rule->nports; j++)
				bit_set(d->brute_tcp, rule->ports[j]);
			d->brute_dur_us =
				MAX(d->brute_dur_us, (usec_t)rule->max_duration_s * USEC_PER_SEC);
			d->brute_idle_us =
				MAX(d->brute_idle_us, (usec_t)rule->window_s * USEC_PER_SEC);
			continue;
		}
		if (ri->kind == RK_FORGE)
			d->forge[d->nforge++] = (uint8_t)i;
		else
			d->order[ri->when][d->norder[ri->when]++] = (uint8_t)i;
		if ((usec_t)rule->window_s * USEC_PER_SEC > maxwin)
			maxwin = (usec_t)rule->window_s * USEC_PER_SEC;
		/* Worm ports: those of rules severe enough to act on. */
		if (rule->type == RULE_HORIZONTAL && rule->severity >= SEV_MEDIUM)
			for (unsigned j = 0; j < rule->nports; j++) {
				if (rule->protos & PROTO_TCP)
					bit_set(d->worm_tcp, rule->ports[j]);
				if (rule->protos & PROTO_UDP)
					bit_set(d->worm_udp, rule->ports[j]);
			}
	}
	/* Peers and answered probes must outlive the longest window, and
	 * pending probes their timeout. */
	d->idle_us = MAX(maxwin, 2 * d->timeout_us);
	if (d->idle_us == 0)
		d->idle_us = 60 * USEC_PER_SEC;
}

int detect_reconfigure(struct detect *d, const struct conf *c)
{
	const struct conf *old = d->c;

	/* The tables' entry layout and the per-rule state (counters, fired
	 * bits) are indexed by rule: they carry over only when the same
	 * rules sit at the same places and the sizes are the same. */
	if (c->nrules != old->nrules || c->limits.max_hosts != old->limits.max_hosts ||
	    c->limits.max_probes != old->limits.max_probes ||
	    c->limits.max_peers != old->limits.max_peers)
		return -EAGAIN;
	for (unsigned i = 0; i < c->nrules; i++) {
		const struct rule *a = &old->rules[i], *b = &c->rules[i];
		if (strcmp(a->name, b->name) != 0 || a->enabled != b->enabled ||
		    a->type != b->type || (a->nports == 0) != (b->nports == 0) ||
		    ((a->protos ^ b->protos) & (PROTO_ICMP | PROTO_ARP)))
			return -EAGAIN;
	}
	setup_rules(d, c);
	d->due_us = 0; /* new timeouts and windows */
	return 0;
}

struct detect *detect_new(const struct conf *c, const struct siphash_key *key, detect_cb cb,
			  void *arg)
{
	struct detect *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return NULL;
	d->cb = cb;
	d->cb_arg = arg;
	setup_rules(d, c);
	/* One host may hold a sixteenth of the probes and peers: more than
	 * any scanner needs to be caught (a sweep at 1,000 probes/s has
	 * 3,000 pending), and sixteen floods at once still leave room. */
	d->probe_quota = MAX(c->limits.max_probes / 16, 256u);
	d->peer_quota = MAX(c->limits.max_peers / 16, 256u);

	r = table_init(&d->hosts, c->limits.max_hosts,
		       sizeof(struct dhost) + d->nhctr * sizeof(struct swin), sizeof(struct hkey),
		       key);
	if (r == 0)
		r = table_init(&d->probes, c->limits.max_probes, sizeof(struct dprobe),
			       sizeof(struct pkey), key);
	if (r == 0)
		r = table_init(&d->peers, c->limits.max_peers,
			       sizeof(struct dpeer) + d->nvctr * sizeof(struct swin),
			       sizeof(struct peerkey), key);
	/* As the host registry's address index: blocked records are at most
	 * limits.max_blocked, and most hold a MAC and an address or two. */
	if (r == 0)
		r = table_init(&d->blocks, c->limits.max_blocked * 2u + 1024, sizeof(struct dblock),
			       sizeof(struct bkey), key);
	/* Brute force: connections to its ports as probes are, and the
	 * servers with short connections as peers, a quarter each (most
	 * traffic is not to login services). */
	d->conn_quota = MAX(c->limits.max_probes / 64, 256u);
	if (r == 0)
		r = table_init(&d->conns, d->nbrute ? MAX(c->limits.max_probes / 4, 1024u) : 1,
			       sizeof(struct dconn), sizeof(struct ckey), key);
	if (r == 0)
		r = table_init(&d->servers, d->nbrute ? MAX(c->limits.max_peers / 4, 1024u) : 1,
			       sizeof(struct dserver) + d->nbrute * sizeof(struct swin),
			       sizeof(struct peerkey), key);
	if (r < 0) {
		detect_free(d);
		errno = -r;
		return NULL;
	}
	return d;
}

void detect_free(struct detect *d)
{
	if (!d)
		return;
	table_fini(&d->hosts);
	table_fini(&d->probes);
	table_fini(&d->peers);
	table_fini(&d->blocks);
	table_fini(&d->conns);
	table_fini(&d->servers);
	free(d);
}
