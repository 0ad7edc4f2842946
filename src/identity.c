/* Machine identity; see identity.h for the trust model.
 *
 * Two bounded tables, sized from limits.* at start:
 *   machines  MAC -> flags, bridge port, the chain of its bindings.
 *             List 0: machines without a trusted address (probation),
 *             list 1: the others; both in last-seen order.  A flood of
 *             random MACs churns list 0 only.
 *   bindings  address -> MAC, trust state, history.  List 0: CLAIMED
 *             (a source address and nothing more), list 1: the rest; both
 *             in last-use order.  A flood of random source addresses
 *             churns list 0 only; PINNED bindings and those of blocked
 *             machines are never evicted while anything else can be.
 * A machine's bindings are chained through their slab indexes (mnext), so
 * that its addresses are found without a scan; a machine owns at most
 * max_addresses of them plus what the gateway itself confirmed. */
#include "identity.h"

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

#define L_WEAK	 0
#define L_STRONG 1

/* binding flags */
#define B_CONTESTED 0x01
#define B_DELIVERED 0x02 /* the gateway delivered traffic for it to its MAC */

/* A MAC behind a second port, then back within this: two machines. */
#define FLAP_WINDOW_US (60 * USEC_PER_SEC)
/* Alerts about one binding or machine: at most one per this. */
#define ALERT_EVERY_US (60 * USEC_PER_SEC)
/* New machines a minute that make a MAC flood. */
#define MAC_FLOOD_PER_MIN 1000
/* Entries skipped (kept) when looking for one to evict. */
#define EVICT_TRIES 16
/* An entry in use moves to the tail of its list at most this often: the
 * lists stay in last-use order to the second, and a busy host's packets
 * do not each rewrite three other entries' links (cache misses). */
#define TOUCH_US USEC_PER_SEC

enum level_of {
	EV_USE = 0, /* a source address */
	EV_L2,	    /* ARP, NDP, DHCP, a kernel neighbour claim */
};

struct mkey {
	uint8_t mac[MAC_LEN];
	uint8_t zero[2];
};

struct imach {
	struct tab_hdr h;
	struct mkey k;
	uint8_t flags;	    /* IDM_* */
	uint16_t nbind;	    /* bindings on its chain */
	uint16_t nowned;    /* of which TENTATIVE or stronger */
	uint16_t ndeliver;  /* of which confirmed by the gateway */
	uint32_t bhead;	    /* first binding, TAB_NONE */
	uint32_t last_bind; /* the binding it used last (a hint: checked before use) */
	int32_t port, prev_port;
	usec_t first_us, last_us, touch_us;
	usec_t port_move_us;
	usec_t contested_until;
	usec_t alert_us;
	uint32_t snap_hash; /* of its last snapshot swept (identity_export_changed()) */
};

struct bkey {
	struct qaddr a;
};

struct ibind {
	struct tab_hdr h;
	struct bkey k;
	uint8_t mac[MAC_LEN];
	uint8_t prev[MAC_LEN];
	uint8_t rival[MAC_LEN];
	uint8_t state; /* enum bind_state */
	uint8_t flags; /* B_* */
	uint32_t mnext;
	usec_t first_us;      /* bound to this MAC since */
	usec_t last_us;	      /* last use or claim by its MAC */
	usec_t l2_us;	      /* first layer-2 evidence from its MAC */
	usec_t trust_from_us; /* uncontested since (age counts from here) */
	usec_t rival_us;      /* last use by the rival while contested */
	usec_t alert_us;
	usec_t touch_us; /* last moved to its list's tail */
};

struct identity {
	const struct conf *c;
	bool offline;
	ident_event_cb cb;
	void *cb_arg;
	bool (*is_own_mac)(void *arg, const uint8_t *mac);
	void *own_arg;
	usec_t trust_after_us, move_after_us;
	unsigned max_addresses;
	struct table machines, bindings;
	usec_t flood_minute;
	unsigned flood_count;
	bool flood_alerted;
	struct ident_stats st;
};

static const char *const state_names[BIND_STATE_COUNT] = {
	[BIND_NONE] = "none",		[BIND_CLAIMED] = "claimed",
	[BIND_TENTATIVE] = "tentative", [BIND_ESTABLISHED] = "established",
	[BIND_PINNED] = "pinned",
};

const char *bind_state_name(enum bind_state s)
{
	return (unsigned)s < BIND_STATE_COUNT ? state_names[s] : "?";
}

int bind_state_parse(const char *s, enum bind_state *ret)
{
	for (unsigned i = 0; i < BIND_STATE_COUNT; i++)
		if (strcmp(s, state_names[i]) == 0) {
			*ret = (enum bind_state)i;
			return 0;
		}
	return -EINVAL;
}

const char *src_kind_name(enum src_kind k)
{
	static const char *const names[] = {
		[SRC_UNVERIFIED] = "unverified",
		[SRC_OWN] = "own",
		[SRC_FORGED] = "forged",
		[SRC_CONTESTED] = "contested",
	};
	return (unsigned)k < ARRAY_SIZE(names) ? names[k] : "?";
}

const char *ident_event_name(enum ident_event_kind k)
{
	static const char *const names[] = {
		[IDENT_ESTABLISHED] = "established",
		[IDENT_MOVED] = "moved",
		[IDENT_CONFLICT] = "conflict",
		[IDENT_SPOOF] = "spoof",
		[IDENT_FORGED] = "forged",
		[IDENT_PORT_FLAP] = "port-flap",
		[IDENT_RELAY] = "relay",
		[IDENT_MAC_FLOOD] = "mac-flood",
	};
	return (unsigned)k < ARRAY_SIZE(names) ? names[k] : "?";
}

bool mac_is_vrrp(const uint8_t mac[MAC_LEN])
{
	return mac[0] == 0x00 && mac[1] == 0x00 && mac[2] == 0x5e && mac[3] == 0x00 &&
	       (mac[4] == 0x01 || mac[4] == 0x02);
}

static bool mac_eq(const uint8_t a[MAC_LEN], const uint8_t b[MAC_LEN])
{
	return memcmp(a, b, MAC_LEN) == 0;
}

static bool is_link_local(const struct qaddr *a)
{
	if (a->family == AF_INET)
		return a->b[0] == 169 && a->b[1] == 254;
	return a->family == AF_INET6 && a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

static bool is_unspecified(const struct qaddr *a)
{
	static const uint8_t zero[16];

	return a->family == 0 || memcmp(a->b, zero, 16) == 0;
}

/* Addresses a LAN machine can own: inside the protected networks, or
 * link-local (every IPv6 host has one, and speaks NDP from it). */
static bool bindable(const struct identity *id, const struct qaddr *a)
{
	if ((a->family != AF_INET && a->family != AF_INET6) || is_unspecified(a) ||
	    addr_is_multicast(a))
		return false;
	return is_link_local(a) || prefix_list_contains(&id->c->networks.protected_, a);
}

static void emit(struct identity *id, enum ident_event_kind kind, usec_t ts,
		 const struct qaddr *addr, const uint8_t mac[MAC_LEN], const uint8_t *other,
		 const char *how)
{
	struct ident_event ev;

	if (!id->cb)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.ts = ts;
	if (addr)
		ev.addr = *addr;
	memcpy(ev.mac, mac, MAC_LEN);
	if (other)
		memcpy(ev.other, other, MAC_LEN);
	ev.how = how;
	id->cb(id->cb_arg, &ev);
}

/* ---- machines ---- */

static void mkey_set(struct mkey *k, const uint8_t mac[MAC_LEN])
{
	memset(k, 0, sizeof(*k));
	memcpy(k->mac, mac, MAC_LEN);
}

static struct imach *machine_find(const struct identity *id, const uint8_t mac[MAC_LEN])
{
	struct mkey k;

	mkey_set(&k, mac);
	return table_find(&id->machines, &k);
}

static unsigned machine_list(const struct imach *m)
{
	return m->nowned || (m->flags & (IDM_FROZEN | IDM_ROUTER | IDM_RELAY)) ? L_STRONG : L_WEAK;
}

static struct ibind *bind_at(const struct identity *id, uint32_t i)
{
	return i == TAB_NONE ? NULL : table_at(&id->bindings, i);
}

/* Unlinks b from its machine's chain and counters. */
static void chain_unlink(struct identity *id, struct ibind *b)
{
	struct imach *m = machine_find(id, b->mac);
	uint32_t me = table_index(&id->bindings, b);

	if (!m)
		return;
	for (uint32_t *pp = &m->bhead; *pp != TAB_NONE; pp = &bind_at(id, *pp)->mnext) {
		if (*pp != me)
			continue;
		*pp = b->mnext;
		m->nbind--;
		if (b->state >= BIND_TENTATIVE)
			m->nowned--;
		if (b->flags & B_DELIVERED)
			m->ndeliver--;
		break;
	}
	b->mnext = TAB_NONE;
}

static void chain_link(struct identity *id, struct imach *m, struct ibind *b)
{
	b->mnext = m->bhead;
	m->bhead = table_index(&id->bindings, b);
	m->nbind++;
	if (b->state >= BIND_TENTATIVE)
		m->nowned++;
	if (b->flags & B_DELIVERED)
		m->ndeliver++;
}

static void bind_remove(struct identity *id, struct ibind *b)
{
	chain_unlink(id, b);
	id->st.by_state[b->state]--;
	table_remove(&id->bindings, b);
}

static void machine_remove(struct identity *id, struct imach *m)
{
	while (m->bhead != TAB_NONE) {
		struct ibind *b = bind_at(id, m->bhead);

		m->bhead = b->mnext;
		b->mnext = TAB_NONE;
		id->st.by_state[b->state]--;
		table_remove(&id->bindings, b);
		id->st.evicted_bindings++;
	}
	table_remove(&id->machines, m);
}

/* An entry to evict from t: the head of the weak list, else of the strong
 * one, passing over (and keeping) those keep() says to keep. */
static void *evict_pick(struct table *t, bool (*keep)(const struct identity *, const void *),
			const struct identity *id)
{
	void *e = table_list_head(t, L_WEAK);

	if (e)
		return e;
	for (unsigned i = 0; i < EVICT_TRIES; i++) {
		e = table_list_head(t, L_STRONG);
		if (!e || !keep(id, e))
			return e;
		table_list_touch(t, L_STRONG, e);
	}
	return NULL;
}

static bool machine_keep(const struct identity *id, const void *e)
{
	const struct imach *m = e;

	(void)id;
	return m->flags & (IDM_FROZEN | IDM_ROUTER | IDM_RELAY);
}

static bool binding_keep(const struct identity *id, const void *e)
{
	const struct ibind *b = e;
	const struct imach *m;

	if (b->state == BIND_PINNED)
		return true;
	m = machine_find(id, b->mac);
	return m && (m->flags & IDM_FROZEN);
}

static void note_new_machine(struct identity *id, usec_t now)
{
	usec_t minute = now / (60 * USEC_PER_SEC);

	if (minute != id->flood_minute) {
		id->flood_minute = minute;
		id->flood_count = 0;
		id->flood_alerted = false;
	}
	if (++id->flood_count >= MAC_FLOOD_PER_MIN && !id->flood_alerted) {
		static const uint8_t none[MAC_LEN];
		struct ident_event ev;

		id->flood_alerted = true;
		if (!id->cb)
			return;
		memset(&ev, 0, sizeof(ev));
		ev.kind = IDENT_MAC_FLOOD;
		ev.ts = now;
		memcpy(ev.mac, none, MAC_LEN);
		ev.how = "frames";
		ev.count = id->flood_count;
		id->cb(id->cb_arg, &ev);
	}
}

static bool mac_is_router(const struct identity *id, const uint8_t mac[MAC_LEN])
{
	return mac_is_vrrp(mac) || mac_list_contains(&id->c->networks.router_macs, mac);
}

static bool is_own(const struct identity *id, const uint8_t mac[MAC_LEN])
{
	return id->is_own_mac && id->is_own_mac(id->own_arg, mac);
}

/* A new machine, making room as the lists say.  NULL when there is none. */
static struct imach *machine_add(struct identity *id, const uint8_t mac[MAC_LEN], usec_t now)
{
	struct mkey k;
	struct imach *m;

	mkey_set(&k, mac);
	if (table_full(&id->machines)) {
		struct imach *victim = evict_pick(&id->machines, machine_keep, id);

		if (!victim)
			return NULL;
		machine_remove(id, victim);
		id->st.evicted_machines++;
	}
	m = table_insert(&id->machines, &k);
	if (!m)
		return NULL;
	m->bhead = TAB_NONE;
	m->last_bind = TAB_NONE;
	m->first_us = m->last_us = now;
	if (mac_is_router(id, mac))
		m->flags |= IDM_ROUTER;
	if (is_own(id, mac))
		m->flags |= IDM_SELF;
	table_list_append(&id->machines, machine_list(m), m);
	return m;
}

static struct imach *machine_get(struct identity *id, const uint8_t mac[MAC_LEN], usec_t now)
{
	struct imach *m = machine_find(id, mac);

	if (m) {
		if (now > m->last_us)
			m->last_us = now;
		if (now >= m->touch_us + TOUCH_US) {
			m->touch_us = now;
			table_list_touch(&id->machines, machine_list(m), m);
		}
		return m;
	}
	m = machine_add(id, mac, now);
	if (m)
		note_new_machine(id, now);
	return m;
}

/* ---- bindings ---- */

static struct ibind *bind_find(const struct identity *id, const struct qaddr *a)
{
	struct bkey k;

	memset(&k, 0, sizeof(k));
	k.a = *a;
	return table_find(&id->bindings, &k);
}

static unsigned bind_list(const struct ibind *b)
{
	return b->state >= BIND_TENTATIVE ? L_STRONG : L_WEAK;
}

/* A machine that owns a router's address is a router. */
static void check_router(struct identity *id, struct imach *m, const struct ibind *b)
{
	if (b->state < BIND_TENTATIVE || (m->flags & IDM_ROUTER) ||
	    !prefix_list_contains(&id->c->networks.routers, &b->k.a))
		return;
	m->flags |= IDM_ROUTER;
	m->flags &= (uint8_t)~IDM_FORGER;
	table_list_touch(&id->machines, machine_list(m), m);
}

/* Moves b to state s, keeping the counters and lists right.  true when
 * b became trusted (ESTABLISHED or PINNED) by it. */
static bool set_state_quiet(struct identity *id, struct imach *m, struct ibind *b,
			    enum bind_state s)
{
	enum bind_state old = (enum bind_state)b->state;

	if (old == s)
		return false;
	id->st.by_state[old]--;
	id->st.by_state[s]++;
	if (old >= BIND_TENTATIVE && s < BIND_TENTATIVE)
		m->nowned--;
	else if (old < BIND_TENTATIVE && s >= BIND_TENTATIVE)
		m->nowned++;
	b->state = (uint8_t)s;
	table_list_touch(&id->bindings, bind_list(b), b);
	table_list_touch(&id->machines, machine_list(m), m);
	check_router(id, m, b);
	return old < BIND_ESTABLISHED && s >= BIND_ESTABLISHED;
}

/* set_state_quiet(), with the event. */
static void set_state(struct identity *id, struct imach *m, struct ibind *b, enum bind_state s,
		      usec_t now, const char *how)
{
	if (set_state_quiet(id, m, b, s))
		emit(id, IDENT_ESTABLISHED, now, &b->k.a, b->mac, NULL, how);
}

/* A new binding of a to m in state BIND_NONE, making room as the lists
 * say.  NULL when there is none. */
static struct ibind *bind_alloc(struct identity *id, struct imach *m, const struct qaddr *a,
				usec_t now)
{
	struct bkey k;
	struct ibind *b;

	memset(&k, 0, sizeof(k));
	k.a = *a;
	if (table_full(&id->bindings)) {
		struct ibind *victim = evict_pick(&id->bindings, binding_keep, id);

		if (!victim)
			return NULL;
		bind_remove(id, victim);
		id->st.evicted_bindings++;
	}
	b = table_insert(&id->bindings, &k);
	if (!b)
		return NULL;
	memcpy(b->mac, m->k.mac, MAC_LEN);
	b->state = BIND_NONE;
	b->mnext = TAB_NONE;
	b->first_us = b->last_us = b->trust_from_us = now;
	id->st.by_state[BIND_NONE]++;
	chain_link(id, m, b);
	table_list_append(&id->bindings, L_WEAK, b);
	return b;
}

static struct ibind *bind_new(struct identity *id, struct imach *m, const struct qaddr *a,
			      enum bind_state s, usec_t now)
{
	struct ibind *b = bind_alloc(id, m, a, now);

	if (b)
		set_state(id, m, b, s, now, "new");
	return b;
}

static void mark_delivered(struct identity *id, struct imach *m, struct ibind *b, usec_t now)
{
	if (b->flags & B_DELIVERED)
		return;
	b->flags |= B_DELIVERED;
	m->ndeliver++;
	/* More addresses than one machine owns, each routed to it by the
	 * gateway itself: a router or relay nobody listed. */
	if (id->c->identity.auto_relay && m->ndeliver > id->max_addresses &&
	    !(m->flags & (IDM_RELAY | IDM_ROUTER))) {
		struct ident_event ev;

		m->flags |= IDM_RELAY;
		m->flags &= (uint8_t)~IDM_FORGER;
		table_list_touch(&id->machines, machine_list(m), m);
		if (id->cb) {
			memset(&ev, 0, sizeof(ev));
			ev.kind = IDENT_RELAY;
			ev.ts = now;
			ev.addr = b->k.a;
			memcpy(ev.mac, m->k.mac, MAC_LEN);
			ev.how = "delivery";
			ev.count = m->ndeliver;
			id->cb(id->cb_arg, &ev);
		}
	}
}

/* b changes hands: from its MAC to m. */
static void bind_move(struct identity *id, struct ibind *b, struct imach *m, enum bind_state s,
		      usec_t now, const char *how)
{
	uint8_t old[MAC_LEN];
	bool alert = b->state >= BIND_TENTATIVE;

	memcpy(old, b->mac, MAC_LEN);
	chain_unlink(id, b);
	id->st.by_state[b->state]--;
	id->st.by_state[BIND_NONE]++;
	b->state = BIND_NONE;
	memcpy(b->prev, old, MAC_LEN);
	memcpy(b->mac, m->k.mac, MAC_LEN);
	memset(b->rival, 0, MAC_LEN);
	b->flags = 0;
	b->first_us = b->last_us = b->trust_from_us = now;
	b->l2_us = 0;
	chain_link(id, m, b);
	set_state(id, m, b, s, now, how);
	id->st.moves++;
	if (alert)
		emit(id, IDENT_MOVED, now, &b->k.a, m->k.mac, old, how);
}

static bool quiet(const struct identity *id, usec_t last, usec_t now)
{
	return now >= last + id->move_after_us;
}

/* Trusted by age: layer-2 evidence, then trust_after without a contest,
 * from a machine that is not blocked, forging or contested. */
static void promote_by_age(struct identity *id, struct imach *m, struct ibind *b, usec_t now)
{
	if (b->state != BIND_TENTATIVE || !b->l2_us || (b->flags & B_CONTESTED) ||
	    (m->flags & (IDM_FROZEN | IDM_FORGER | IDM_CONTESTED)))
		return;
	if (now >= MAX(b->l2_us, b->trust_from_us) + id->trust_after_us)
		set_state(id, m, b, BIND_ESTABLISHED, now, "age");
}

static void forged(struct identity *id, struct imach *m, const struct qaddr *a, usec_t now,
		   const char *how)
{
	id->st.forged++;
	m->flags |= IDM_FORGER;
	if (m->alert_us && now < m->alert_us + ALERT_EVERY_US)
		return;
	m->alert_us = now;
	emit(id, IDENT_FORGED, now, a, m->k.mac, NULL, how);
}

static void contest(struct identity *id, struct ibind *b, struct imach *m, usec_t now,
		    const char *how)
{
	bool was = b->flags & B_CONTESTED;

	b->flags |= B_CONTESTED;
	memcpy(b->rival, m->k.mac, MAC_LEN);
	b->rival_us = now;
	if (was)
		return;
	id->st.conflicts++;
	if (b->alert_us && now < b->alert_us + ALERT_EVERY_US)
		return;
	b->alert_us = now;
	emit(id, IDENT_CONFLICT, now, &b->k.a, m->k.mac, b->mac, how);
}

/* A contest ends when one side has been quiet for move_after: the other
 * keeps the address. */
static void settle(struct identity *id, struct ibind *b, usec_t now)
{
	struct imach *rival;

	if (!(b->flags & B_CONTESTED))
		return;
	if (quiet(id, b->rival_us, now)) {
		b->flags &= (uint8_t)~B_CONTESTED;
		memset(b->rival, 0, MAC_LEN);
		b->trust_from_us = now;
		return;
	}
	if (!quiet(id, b->last_us, now))
		return;
	rival = machine_get(id, b->rival, now);
	if (!rival)
		return;
	bind_move(id, b, rival, BIND_CLAIMED, now, "contest");
}

/* The binding of a, looked up through m's hint first: a machine sends
 * from one address nearly always, and that saves a hash and a bucket walk
 * per packet.  The hint is only an index: the entry is used when it is
 * live and its key is a. */
static struct ibind *bind_find_hinted(struct identity *id, struct imach *m, const struct qaddr *a)
{
	struct ibind *b = m->last_bind < id->bindings.cap ? bind_at(id, m->last_bind) : NULL;

	if (b && b->h.list != TAB_NOLIST && addr_eq(&b->k.a, a))
		return b;
	b = bind_find(id, a);
	if (b)
		m->last_bind = table_index(&id->bindings, b);
	return b;
}

/* Machine m uses (EV_USE) or claims (EV_L2) address a. */
static enum src_kind observe(struct identity *id, struct imach *m, const struct qaddr *a,
			     enum level_of ev, usec_t now, const char *how)
{
	struct ibind *b = bind_find_hinted(id, m, a);
	struct imach *owner;
	bool held;

	if (!b) {
		/* More addresses than a machine owns: the excess is forged. */
		if (m->nbind >= id->max_addresses) {
			forged(id, m, a, now, how);
			return SRC_FORGED;
		}
		b = bind_new(id, m, a, ev == EV_L2 ? BIND_TENTATIVE : BIND_CLAIMED, now);
		if (b && ev == EV_L2)
			b->l2_us = now;
		return SRC_OWN;
	}
	settle(id, b, now);
	if (mac_eq(b->mac, m->k.mac)) {
		if (now > b->last_us)
			b->last_us = now;
		if (now >= b->touch_us + TOUCH_US) {
			b->touch_us = now;
			table_list_touch(&id->bindings, bind_list(b), b);
		}
		if (b->flags & B_CONTESTED)
			return SRC_CONTESTED;
		if (ev == EV_L2) {
			if (!b->l2_us)
				b->l2_us = now;
			if (b->state == BIND_CLAIMED)
				set_state(id, m, b, BIND_TENTATIVE, now, how);
		}
		promote_by_age(id, m, b, now);
		return SRC_OWN;
	}
	/* Bound to another machine. */
	if (b->flags & B_CONTESTED) {
		if (mac_eq(b->rival, m->k.mac)) {
			b->rival_us = now;
			return SRC_CONTESTED;
		}
	}
	owner = machine_find(id, b->mac);
	held = !quiet(id, b->last_us, now) || (owner && (owner->flags & IDM_FROZEN));
	if (b->state == BIND_PINNED ||
	    (held && b->state >= BIND_TENTATIVE && !mac_eq(b->prev, m->k.mac))) {
		id->st.conflicts += ev == EV_L2;
		if (ev == EV_L2 && !(b->alert_us && now < b->alert_us + ALERT_EVERY_US)) {
			b->alert_us = now;
			emit(id, IDENT_SPOOF, now, a, m->k.mac, b->mac, how);
		}
		forged(id, m, a, now, how);
		return SRC_FORGED;
	}
	if (held) {
		/* Only a source address on the other side, or the previous
		 * owner back: two claims, neither trusted. */
		contest(id, b, m, now, how);
		return SRC_CONTESTED;
	}
	bind_move(id, b, m, ev == EV_L2 ? BIND_TENTATIVE : BIND_CLAIMED, now, how);
	if (ev == EV_L2)
		b->l2_us = now;
	return SRC_OWN;
}

/* The gateway itself confirms that a is at mac: it delivered traffic for
 * a to mac, its neighbour entry is REACHABLE there, or its (or a router's)
 * DHCP server gave a to mac.  authoritative: a DHCP lease, which moves an
 * address even from a blocked machine. */
static void confirm(struct identity *id, const struct qaddr *a, const uint8_t mac[MAC_LEN],
		    bool authoritative, usec_t now, const char *how)
{
	struct imach *m, *owner;
	struct ibind *b;

	if (!mac_is_unicast(mac) || is_own(id, mac) || !bindable(id, a))
		return;
	m = machine_get(id, mac, now);
	if (!m || (m->flags & IDM_ROUTER))
		return; /* addresses routed through a router are not the router's */
	b = bind_find(id, a);
	if (!b) {
		b = bind_new(id, m, a, BIND_ESTABLISHED, now);
		if (b)
			mark_delivered(id, m, b, now);
		return;
	}
	settle(id, b, now);
	if (mac_eq(b->mac, m->k.mac)) {
		if (now > b->last_us)
			b->last_us = now;
		mark_delivered(id, m, b, now);
		if (!(b->flags & B_CONTESTED) && b->state < BIND_ESTABLISHED)
			set_state(id, m, b, BIND_ESTABLISHED, now, how);
		return;
	}
	owner = machine_find(id, b->mac);
	if (b->state == BIND_PINNED) {
		if (!(b->alert_us && now < b->alert_us + ALERT_EVERY_US)) {
			b->alert_us = now;
			emit(id, IDENT_SPOOF, now, a, mac, b->mac, how);
		}
		return;
	}
	if (!authoritative &&
	    (!quiet(id, b->last_us, now) || (owner && (owner->flags & IDM_FROZEN)))) {
		/* The gateway's neighbour entry follows the last ARP packet
		 * it believed: the owner is still here, so someone answered
		 * for its address.  A trusted owner keeps it and the other
		 * is a spoofer; against a mere claim, neither is trusted. */
		if (b->state >= BIND_TENTATIVE && !mac_eq(b->prev, m->k.mac)) {
			if (!(b->alert_us && now < b->alert_us + ALERT_EVERY_US)) {
				b->alert_us = now;
				emit(id, IDENT_SPOOF, now, a, mac, b->mac, how);
			}
			id->st.conflicts++;
			forged(id, m, a, now, how);
		} else {
			contest(id, b, m, now, how);
		}
		return;
	}
	bind_move(id, b, m, BIND_ESTABLISHED, now, how);
	mark_delivered(id, m, b, now);
}

static void pin(struct identity *id, const struct qaddr *a, const uint8_t mac[MAC_LEN], usec_t now,
		const char *how)
{
	struct imach *m = machine_get(id, mac, now);
	struct ibind *b;

	if (!m || !bindable(id, a))
		return;
	b = bind_find(id, a);
	if (!b) {
		bind_new(id, m, a, BIND_PINNED, now);
		return;
	}
	if (!mac_eq(b->mac, mac))
		bind_move(id, b, m, BIND_PINNED, now, how);
	else
		set_state(id, m, b, BIND_PINNED, now, how);
	b->flags &= (uint8_t)~B_CONTESTED;
}

/* ---- per packet ---- */

/* Initial TTLs (hop limits) of the stacks in use: a packet that left its
 * sender on this link carries one of them unchanged. */
static bool ttl_initial(uint8_t ttl)
{
	return ttl == 64 || ttl == 128 || ttl == 255 || ttl == 32 || ttl == 60 || ttl == 1;
}

static void unverified(struct identity *id, const struct pkt *p, struct attribution *ret)
{
	ret->src_protected = -1;
	ret->kind = SRC_UNVERIFIED;
	ret->id = p->src;
	ret->unverified = true;
	id->st.unverified++;
}

/* A frame from the gateway: what it delivers where, and what its DHCP
 * server hands out. */
static void from_gateway(struct identity *id, const struct pkt *p, usec_t now)
{
	if ((p->flags & PKT_F_DMAC) && mac_is_unicast(p->dst_mac) &&
	    (p->l3 == PKT_L3_IPV4 || p->l3 == PKT_L3_IPV6))
		confirm(id, &p->dst, p->dst_mac, false, now, "delivery");
}

static void dhcp_reply(struct identity *id, const struct pkt *p, usec_t now)
{
	const struct pkt_dhcp *d = &p->dhcp;

	/* Options cut by the snaplen leave msgtype 0: an offer and an ack
	 * name the same address for the same client. */
	if (!(p->flags & PKT_F_DHCP) || d->op != DHCP_OP_REPLY || !d->yiaddr.family ||
	    (d->msgtype != 0 && d->msgtype != 2 && d->msgtype != 5))
		return;
	confirm(id, &d->yiaddr, d->chaddr, true, now, "dhcp");
}

void identity_packet(struct identity *id, const struct pkt *p, usec_t now, struct attribution *ret)
{
	const uint8_t *mac = p->src_mac;
	const struct qaddr *src = &p->src;
	struct imach *m;
	enum src_kind kind = SRC_OWN;
	bool nd_ok, src_ok, prot;

	id->st.packets++;
	if (!(p->flags & PKT_F_SMAC)) {
		unverified(id, p, ret);
		return;
	}
	if ((p->flags & PKT_F_OUTGOING) || is_own(id, mac)) {
		from_gateway(id, p, now);
		dhcp_reply(id, p, now);
		unverified(id, p, ret);
		return;
	}
	if (mac_is_router(id, mac)) {
		dhcp_reply(id, p, now);
		unverified(id, p, ret);
		return;
	}
	/* From outside the protected networks (a router forwarding, most
	 * often the gateway itself): not a host of ours to judge, and
	 * nothing to learn; no lookup at all. */
	prot = (src->family == AF_INET || src->family == AF_INET6) && !addr_is_multicast(src) &&
	       prefix_list_contains(&id->c->networks.protected_, src);
	src_ok = prot || (is_link_local(src) && !is_unspecified(src));
	if (p->l3 != PKT_L3_ARP && !(p->flags & PKT_F_DHCP) && !src_ok && !is_unspecified(src) &&
	    !addr_is_multicast(src)) {
		unverified(id, p, ret);
		ret->src_protected = 0;
		return;
	}
	m = machine_get(id, mac, now);
	if (!m || (m->flags & (IDM_ROUTER | IDM_RELAY))) {
		if (m)
			dhcp_reply(id, p, now);
		unverified(id, p, ret);
		return;
	}
	if (m->contested_until && now >= m->contested_until) {
		m->flags &= (uint8_t)~IDM_CONTESTED;
		m->contested_until = 0;
	}
	if (id->offline && p->l3 != PKT_L3_ARP && !ttl_initial(p->ttl)) {
		/* Routed on its way here: the sender forwarded it. */
		unverified(id, p, ret);
		return;
	}

	/* Layer-2 evidence first, so that a host's own ARP or NDP for an
	 * address counts before the address is judged.  Neighbour discovery
	 * is link-local by definition (RFC 4861 7.1.1): hop limit 255 and
	 * code 0, or it was forged or routed and says nothing. */
	nd_ok = (p->flags & PKT_F_ND) && p->ttl == 255 && p->icmp_code == 0;
	if (p->l3 == PKT_L3_ARP) {
		if (mac_eq(p->arp_sha, mac) && src_ok)
			kind = observe(id, m, src, EV_L2, now, "arp");
	} else {
		if (nd_ok && p->nd.type == 136 && p->nd.target.family &&
		    (!(p->nd.flags & ND_F_LLADDR) || mac_eq(p->nd.lladdr, mac)) &&
		    bindable(id, &p->nd.target) && !addr_eq(&p->nd.target, src))
			observe(id, m, &p->nd.target, EV_L2, now, "ndp");
		if ((p->flags & PKT_F_DHCP) && p->dhcp.op == DHCP_OP_REQUEST &&
		    p->dhcp.ciaddr.family && bindable(id, &p->dhcp.ciaddr) &&
		    !addr_eq(&p->dhcp.ciaddr, src))
			observe(id, m, &p->dhcp.ciaddr, EV_L2, now, "dhcp");
		if (src_ok) {
			bool l2 = nd_ok &&
				  (p->nd.type == 133 || p->nd.type == 135 || p->nd.type == 136) &&
				  (!(p->nd.flags & ND_F_LLADDR) || mac_eq(p->nd.lladdr, mac));
			l2 |= (p->flags & PKT_F_DHCP) && p->dhcp.op == DHCP_OP_REQUEST;
			kind = observe(id, m, src, l2 ? EV_L2 : EV_USE, now,
				       l2 ? ((p->flags & PKT_F_ND) ? "ndp" : "dhcp") : "ip");
		} else if (!is_unspecified(src) && !addr_is_multicast(src)) {
			/* From outside the protected networks: not a host of
			 * ours to judge (a router forwarding, or a forger of
			 * addresses nobody here owns). */
			unverified(id, p, ret);
			return;
		}
	}
	ret->kind = kind;
	ret->src_protected = (int8_t)prot;
	addr_set_mac(&ret->id, mac);
	ret->unverified = kind == SRC_CONTESTED || (m->flags & IDM_CONTESTED);
	if (ret->unverified)
		id->st.contested++;
}

unsigned identity_hints(struct identity *id, const struct pkt *p,
			struct tab_hint ret[IDENTITY_HINTS])
{
	struct mkey k;
	struct bkey b;

	if (!(p->flags & PKT_F_SMAC))
		return 0;
	mkey_set(&k, p->src_mac);
	table_hint(&id->machines, &k, &ret[0]);
	if (p->src.family != AF_INET && p->src.family != AF_INET6)
		return 1;
	memset(&b, 0, sizeof(b));
	b.a = p->src;
	table_hint(&id->bindings, &b, &ret[1]);
	return 2;
}

void identity_neigh(struct identity *id, const struct qaddr *addr, const uint8_t mac[MAC_LEN],
		    enum ident_neigh state, usec_t now)
{
	struct imach *m;

	if (!mac_is_unicast(mac) || !bindable(id, addr) || is_own(id, mac))
		return;
	switch (state) {
	case IDN_PERMANENT:
		pin(id, addr, mac, now, "kernel");
		return;
	case IDN_REACHABLE:
		confirm(id, addr, mac, false, now, "kernel");
		return;
	case IDN_CLAIM:
		if (mac_is_router(id, mac))
			return;
		m = machine_get(id, mac, now);
		if (m && !(m->flags & (IDM_ROUTER | IDM_RELAY)))
			observe(id, m, addr, EV_L2, now, "kernel");
		return;
	}
}

void identity_fdb(struct identity *id, const uint8_t mac[MAC_LEN], int port, usec_t now)
{
	struct imach *m;

	if (!mac_is_unicast(mac) || port <= 0 || is_own(id, mac) || mac_is_router(id, mac))
		return;
	m = machine_get(id, mac, now);
	if (!m || m->port == port)
		return;
	if (m->port && m->prev_port == port && now < m->port_move_us + FLAP_WINDOW_US) {
		/* Back where it was a moment ago: two senders share it. */
		bool was = m->flags & IDM_CONTESTED;

		m->flags |= IDM_CONTESTED;
		m->contested_until = now + id->move_after_us;
		if (!was || !(m->alert_us && now < m->alert_us + ALERT_EVERY_US)) {
			struct ident_event ev;

			m->alert_us = now;
			if (id->cb) {
				memset(&ev, 0, sizeof(ev));
				ev.kind = IDENT_PORT_FLAP;
				ev.ts = now;
				memcpy(ev.mac, mac, MAC_LEN);
				ev.how = "fdb";
				ev.port = port;
				ev.other_port = m->port;
				id->cb(id->cb_arg, &ev);
			}
		}
	}
	m->prev_port = m->port;
	m->port = port;
	m->port_move_us = now;
}

void identity_set_frozen(struct identity *id, const uint8_t mac[MAC_LEN], bool frozen)
{
	struct imach *m = machine_find(id, mac);

	if (!m) {
		if (!frozen)
			return;
		m = machine_get(id, mac, 0);
		if (!m)
			return;
	}
	if (frozen)
		m->flags |= IDM_FROZEN;
	else
		m->flags &= (uint8_t)~IDM_FROZEN;
	table_list_touch(&id->machines, machine_list(m), m);
}

/* ---- queries ---- */

enum bind_state identity_binding(const struct identity *id, const struct qaddr *addr,
				 uint8_t ret_mac[MAC_LEN])
{
	const struct ibind *b = bind_find(id, addr);

	if (!b)
		return BIND_NONE;
	if (ret_mac)
		memcpy(ret_mac, b->mac, MAC_LEN);
	return (enum bind_state)b->state;
}

unsigned identity_machine(const struct identity *id, const uint8_t mac[MAC_LEN])
{
	const struct imach *m = machine_find(id, mac);

	/* A MAC never seen (one another gateway names, say) is still the
	 * gateway's own, or a router's. */
	if (!m)
		return (is_own(id, mac) ? IDM_SELF : 0) |
		       ((mac_is_vrrp(mac) || mac_list_contains(&id->c->networks.router_macs, mac))
				? IDM_ROUTER
				: 0);
	return m->flags;
}

/* Ordering of a machine's addresses: most trusted, then protected before
 * link-local, IPv4 before IPv6, then the oldest.  Negative: a first. */
static int rank_cmp(const struct ibind *a, const struct ibind *b)
{
	bool ca = a->flags & B_CONTESTED, cb = b->flags & B_CONTESTED;
	bool la = is_link_local(&a->k.a), lb = is_link_local(&b->k.a);

	if (ca != cb)
		return ca ? 1 : -1;
	if (a->state != b->state)
		return a->state > b->state ? -1 : 1;
	if (la != lb)
		return la ? 1 : -1;
	if (a->k.a.family != b->k.a.family)
		return a->k.a.family == AF_INET ? -1 : 1;
	if (a->first_us != b->first_us)
		return a->first_us < b->first_us ? -1 : 1;
	/* Last the address itself: one order, whatever the order of the
	 * chain, so that a replica fed by snapshots answers as the sensor. */
	return memcmp(a->k.a.b, b->k.a.b, sizeof(a->k.a.b));
}

unsigned identity_addresses(const struct identity *id, const uint8_t mac[MAC_LEN],
			    enum bind_state min, struct qaddr *ret, unsigned max)
{
	const struct imach *m = machine_find(id, mac);
	const struct ibind *sel[64];
	unsigned n = 0;

	if (!m)
		return 0;
	for (uint32_t i = m->bhead; i != TAB_NONE; i = bind_at(id, i)->mnext) {
		const struct ibind *b = bind_at(id, i);
		unsigned j;

		if (b->state < min || (b->flags & B_CONTESTED && min >= BIND_TENTATIVE))
			continue;
		/* Insertion sort into the best ARRAY_SIZE(sel). */
		for (j = n; j > 0 && rank_cmp(b, sel[j - 1]) < 0; j--)
			if (j < ARRAY_SIZE(sel))
				sel[j] = sel[j - 1];
		if (j < ARRAY_SIZE(sel)) {
			sel[j] = b;
			if (n < ARRAY_SIZE(sel))
				n++;
		}
	}
	n = MIN(n, max);
	for (unsigned i = 0; i < n; i++)
		ret[i] = sel[i]->k.a;
	return n;
}

bool identity_primary(const struct identity *id, const uint8_t mac[MAC_LEN], struct qaddr *ret)
{
	struct qaddr a;

	if (identity_addresses(id, mac, BIND_TENTATIVE, &a, 1) == 1 ||
	    identity_addresses(id, mac, BIND_CLAIMED, &a, 1) == 1) {
		*ret = a;
		return true;
	}
	return false;
}

static int foreach_list(const struct identity *id, unsigned list, enum bind_state min,
			ident_binding_cb cb, void *arg)
{
	for (const struct ibind *b = table_list_head(&id->bindings, list); b;
	     b = table_list_next(&id->bindings, b)) {
		struct ident_binding ib;
		int r;

		if (b->state < min)
			continue;
		memset(&ib, 0, sizeof(ib));
		ib.addr = b->k.a;
		memcpy(ib.mac, b->mac, MAC_LEN);
		memcpy(ib.prev, b->prev, MAC_LEN);
		ib.state = (enum bind_state)b->state;
		ib.contested = b->flags & B_CONTESTED;
		ib.delivered = b->flags & B_DELIVERED;
		ib.first_us = b->first_us;
		ib.last_us = b->last_us;
		r = cb(arg, &ib);
		if (r)
			return r;
	}
	return 0;
}

int identity_foreach(const struct identity *id, enum bind_state min, ident_binding_cb cb, void *arg)
{
	int r = 0;

	if (min <= BIND_CLAIMED)
		r = foreach_list(id, L_WEAK, min, cb, arg);
	return r ? r : foreach_list(id, L_STRONG, min, cb, arg);
}

int identity_restore(struct identity *id, const struct ident_binding *ib)
{
	struct imach *m;
	struct ibind *b;

	if (bind_find(id, &ib->addr))
		return -EEXIST;
	if (!mac_is_unicast(ib->mac) || !bindable(id, &ib->addr) || ib->state < BIND_CLAIMED ||
	    ib->state >= BIND_STATE_COUNT)
		return -EINVAL;
	m = machine_get(id, ib->mac, ib->last_us);
	if (!m)
		return -ENOSPC;
	b = bind_new(id, m, &ib->addr, ib->state, ib->first_us);
	if (!b)
		return -ENOSPC;
	b->first_us = ib->first_us;
	b->last_us = ib->last_us;
	b->l2_us = ib->state >= BIND_TENTATIVE ? ib->first_us : 0;
	memcpy(b->prev, ib->prev, MAC_LEN);
	if (ib->delivered)
		mark_delivered(id, m, b, ib->last_us);
	return 0;
}

/* ---- snapshots: the sensor's view of one machine, for the parent ---- */

#define IDM_ALL (IDM_ROUTER | IDM_RELAY | IDM_FROZEN | IDM_FORGER | IDM_CONTESTED | IDM_SELF)
/* What the sensor knows better than the replica; the other flags come
 * from the replica's own configuration, callback and blocks. */
#define IDM_SNAP (IDM_RELAY | IDM_FORGER | IDM_CONTESTED)

/* Sent as bytes: every byte is a named field (see identity.h). */
_Static_assert(sizeof(struct ident_snap_bind) == 48, "ident_snap_bind has a hole");
_Static_assert(offsetof(struct ident_snap, b) == 16, "ident_snap has a hole");
_Static_assert(sizeof(struct ident_snap) == 16 + IDENT_SNAP_MAX * sizeof(struct ident_snap_bind),
	       "ident_snap has a hole");
_Static_assert(IDENT_SNAP_MAX <= UINT16_MAX, "nbind is 16 bits");

/* Heaps of indexes, ordered by cmp (the greatest at the root): the export
 * picks the best bindings of a machine with one, the import sorts the
 * snapshot's addresses with another.  qsort() may allocate. */
typedef int (*index_cmp)(const void *ctx, uint32_t a, uint32_t b);

static void sift_down(uint32_t *v, unsigned n, unsigned i, index_cmp cmp, const void *ctx)
{
	for (;;) {
		unsigned c = 2 * i + 1;
		uint32_t t;

		if (c >= n)
			return;
		if (c + 1 < n && cmp(ctx, v[c + 1], v[c]) > 0)
			c++;
		if (cmp(ctx, v[c], v[i]) <= 0)
			return;
		t = v[i];
		v[i] = v[c];
		v[c] = t;
		i = c;
	}
}

static void heapify(uint32_t *v, unsigned n, index_cmp cmp, const void *ctx)
{
	for (unsigned i = n / 2; i-- > 0;)
		sift_down(v, n, i, cmp, ctx);
}

/* A heap (heapify()) into ascending order. */
static void heap_sort(uint32_t *v, unsigned n, index_cmp cmp, const void *ctx)
{
	for (unsigned end = n; end > 1; end--) {
		uint32_t t = v[0];

		v[0] = v[end - 1];
		v[end - 1] = t;
		sift_down(v, end - 1, 0, cmp, ctx);
	}
}

static int bind_rank_cmp(const void *ctx, uint32_t a, uint32_t b)
{
	const struct identity *id = ctx;
	const struct ibind *x = bind_at(id, a), *y = bind_at(id, b);

	if (!x || !y) /* never: the heaps hold bindings' indexes */
		return (x != NULL) - (y != NULL);
	return rank_cmp(x, y);
}

bool identity_export(const struct identity *id, const uint8_t mac[MAC_LEN], struct ident_snap *ret)
{
	const struct imach *m = machine_find(id, mac);
	uint32_t sel[IDENT_SNAP_MAX];
	unsigned n = 0;

	/* The header and the entries in use only: a snapshot is sent as
	 * those (a whole one is 96 KiB, and the sensor exports often). */
	memset(ret, 0, offsetof(struct ident_snap, b));
	memcpy(ret->mac, mac, MAC_LEN);
	if (!m)
		return false;
	ret->flags = m->flags;
	/* The best IDENT_SNAP_MAX in rank order: once the heap is full, its
	 * root is the weakest kept, and a better binding takes its place. */
	for (uint32_t i = m->bhead; i != TAB_NONE; i = bind_at(id, i)->mnext) {
		if (n < IDENT_SNAP_MAX) {
			sel[n++] = i;
			if (n == IDENT_SNAP_MAX)
				heapify(sel, n, bind_rank_cmp, id);
			continue;
		}
		ret->truncated = 1;
		if (bind_rank_cmp(id, i, sel[0]) < 0) {
			sel[0] = i;
			sift_down(sel, n, 0, bind_rank_cmp, id);
		}
	}
	if (n < IDENT_SNAP_MAX)
		heapify(sel, n, bind_rank_cmp, id);
	heap_sort(sel, n, bind_rank_cmp, id);
	for (unsigned i = 0; i < n; i++) {
		const struct ibind *b = table_at(&id->bindings, sel[i]);
		struct ident_snap_bind *e = &ret->b[i];

		memset(e, 0, sizeof(*e));
		e->first_us = b->first_us;
		e->last_us = b->last_us;
		e->addr = b->k.a;
		memcpy(e->prev, b->prev, MAC_LEN);
		e->state = b->state;
		e->contested = !!(b->flags & B_CONTESTED);
		e->delivered = !!(b->flags & B_DELIVERED);
	}
	ret->nbind = (uint16_t)n;
	return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int snap_addr_cmp(const void *ctx, uint32_t a, uint32_t b)
{
	const struct ident_snap *s = ctx;

	return memcmp(&s->b[a].addr, &s->b[b].addr, sizeof(struct qaddr));
}

/* Whether s breaks none of the rules (identity.h).  Leaves in idx the
 * indexes of its bindings in the order of their addresses. */
static bool snap_valid(const struct identity *id, const struct ident_snap *s, uint32_t *idx)
{
	if (!mac_is_unicast(s->mac) || (s->flags & ~IDM_ALL) || s->truncated > 1 ||
	    s->nbind > IDENT_SNAP_MAX || !all_zero(s->pad, sizeof(s->pad)))
		return false;
	for (unsigned i = 0; i < s->nbind; i++) {
		const struct ident_snap_bind *e = &s->b[i];

		/* Addresses are table keys, compared as bytes: an IPv4
		 * address with bytes after its fourth would be another key
		 * for the same address. */
		if ((e->addr.family == AF_INET && !all_zero(e->addr.b + 4, 12)) ||
		    !bindable(id, &e->addr) || e->state < BIND_CLAIMED || e->state > BIND_PINNED ||
		    e->contested > 1 || e->delivered > 1 || !all_zero(e->pad, sizeof(e->pad)))
			return false;
		idx[i] = i;
	}
	heapify(idx, s->nbind, snap_addr_cmp, s);
	heap_sort(idx, s->nbind, snap_addr_cmp, s);
	for (unsigned i = 1; i < s->nbind; i++)
		if (snap_addr_cmp(s, idx[i - 1], idx[i]) == 0)
			return false;
	return true;
}

/* Whether a is among the first n of s's addresses (n is 0 or s->nbind;
 * idx from snap_valid()). */
static bool snap_holds(const struct ident_snap *s, const uint32_t *idx, unsigned n,
		       const struct qaddr *a)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = memcmp(&s->b[idx[mid]].addr, a, sizeof(*a));

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Whether the configuration pins a to mac, as apply_pins() does: the last
 * inventory entry with a's host net wins. */
static bool conf_pins(const struct identity *id, const struct qaddr *a, const uint8_t mac[MAC_LEN])
{
	const struct inventory *inv = &id->c->inventory;
	const struct inv_entry *pin_e = NULL;

	for (unsigned i = 0; i < inv->n; i++) {
		const struct inv_entry *e = &inv->v[i];

		if (e->has_mac && e->has_net && e->net.plen == addr_bits(&e->net.addr) &&
		    addr_eq(&e->net.addr, a))
			pin_e = e;
	}
	return pin_e && mac_eq(pin_e->mac, mac);
}

/* Removes m's bindings that are not among s's first n, but for pins:
 * those are the replica's own. */
static void drop_unlisted(struct identity *id, struct imach *m, const struct ident_snap *s,
			  const uint32_t *idx, unsigned n)
{
	uint32_t *pp = &m->bhead;

	while (*pp != TAB_NONE) {
		struct ibind *b = bind_at(id, *pp);

		if (b->state == BIND_PINNED || snap_holds(s, idx, n, &b->k.a)) {
			pp = &b->mnext;
			continue;
		}
		/* Unlinked here rather than by bind_remove(), which would
		 * walk the chain again for each. */
		*pp = b->mnext;
		b->mnext = TAB_NONE;
		m->nbind--;
		if (b->state >= BIND_TENTATIVE)
			m->nowned--;
		if (b->flags & B_DELIVERED)
			m->ndeliver--;
		id->st.by_state[b->state]--;
		table_remove(&id->bindings, b);
	}
}

/* Makes e (its times clamped to first_us, last_us) one of m's bindings.
 * 0, or -ENOSPC. */
static int import_bind(struct identity *id, struct imach *m, const struct ident_snap_bind *e,
		       usec_t first_us, usec_t last_us)
{
	struct ibind *b = bind_find(id, &e->addr);
	enum bind_state st = (enum bind_state)e->state;
	uint8_t flags =
		(uint8_t)((e->contested ? B_CONTESTED : 0) | (e->delivered ? B_DELIVERED : 0));
	bool fresh = false;

	if (b && !mac_eq(b->mac, m->k.mac)) {
		struct imach *other = machine_find(id, b->mac);

		/* Neither a block nor a pin moves with an address. */
		if (b->state == BIND_PINNED || (other && (other->flags & IDM_FROZEN)))
			return 0;
		chain_unlink(id, b);
		if (other)
			table_list_touch(&id->machines, machine_list(other), other);
		memcpy(b->mac, m->k.mac, MAC_LEN);
		b->flags = 0;
		chain_link(id, m, b);
		id->st.moves++;
		fresh = true;
	} else if (!b) {
		b = bind_alloc(id, m, &e->addr, last_us);
		if (!b)
			return -ENOSPC;
		fresh = true;
	}
	/* A sensor can neither pin nor unpin. */
	if (st == BIND_PINNED && !conf_pins(id, &e->addr, m->k.mac))
		st = BIND_ESTABLISHED;
	if (b->state == BIND_PINNED)
		st = BIND_PINNED;
	if (st == BIND_PINNED)
		flags &= (uint8_t)~B_CONTESTED;
	if ((flags ^ b->flags) & B_DELIVERED) {
		if (flags & B_DELIVERED)
			m->ndeliver++;
		else
			m->ndeliver--;
	}
	b->flags = flags;
	set_state_quiet(id, m, b, st);
	memcpy(b->prev, e->prev, MAC_LEN);
	memset(b->rival, 0, MAC_LEN);
	b->first_us = first_us;
	/* The bindings list stays in order of last use. */
	if (fresh || last_us > b->last_us) {
		b->touch_us = last_us;
		table_list_touch(&id->bindings, bind_list(b), b);
	}
	b->last_us = last_us;
	b->l2_us = st >= BIND_TENTATIVE ? first_us : 0;
	b->trust_from_us = first_us;
	return 0;
}

int identity_import(struct identity *id, const struct ident_snap *s, usec_t now)
{
	uint32_t idx[IDENT_SNAP_MAX];
	usec_t first_us = now, last_us = 0;
	struct imach *m;
	bool created = false, full = false;
	unsigned n;

	if (!snap_valid(id, s, idx))
		return -EINVAL;
	m = machine_find(id, s->mac);
	if (!m) {
		m = machine_add(id, s->mac, now);
		if (!m)
			return -ENOSPC;
		created = true;
	}
	/* The gateway's own MAC owns no address of the LAN. */
	n = (m->flags & IDM_SELF) || is_own(id, s->mac) ? 0 : s->nbind;
	if (!(m->flags & IDM_FROZEN))
		drop_unlisted(id, m, s, idx, n);
	/* Weakest first: in a table where only the machine's own bindings
	 * can be evicted, the stronger ones that come later evict the
	 * weaker, and the most trusted stay; and they end nearest the
	 * tails of the lists, evicted last. */
	for (unsigned i = n; i-- > 0;) {
		const struct ident_snap_bind *e = &s->b[i];
		usec_t l = MIN(e->last_us, now), f = MIN(e->first_us, l);

		if (import_bind(id, m, e, f, l) < 0)
			full = true;
		first_us = MIN(first_us, f);
		last_us = MAX(last_us, l);
	}
	/* An address that is nobody's now was evicted to make room for
	 * another (those kept by a frozen machine or a pin are bound). */
	for (unsigned i = 0; i < n && !full; i++)
		full = !bind_find(id, &s->b[i].addr);
	m->flags = (uint8_t)((m->flags & ~IDM_SNAP) | (s->flags & IDM_SNAP));
	if (m->flags & (IDM_ROUTER | IDM_RELAY))
		m->flags &= (uint8_t)~IDM_FORGER;
	/* Seen when its bindings were: the sensor reports it now, as it acts,
	 * so it goes to the tail of its list as on the packet path. */
	if (created || first_us < m->first_us)
		m->first_us = first_us;
	m->last_us = MAX(m->last_us, n ? last_us : now);
	m->touch_us = now;
	table_list_touch(&id->machines, machine_list(m), m);
	return full ? -ENOSPC : 0;
}

/* FNV-1a over a snapshot as sent, the times of last use aside (they move
 * with every packet and matter little to the replica). */
static uint32_t snap_hash(const struct ident_snap *s)
{
	uint32_t h = 2166136261u;
	const uint8_t *p = (const uint8_t *)s;
	size_t n = offsetof(struct ident_snap, b);

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	for (unsigned k = 0; k < s->nbind; k++) {
		struct ident_snap_bind e = s->b[k];

		e.last_us = 0;
		p = (const uint8_t *)&e;
		for (size_t i = 0; i < sizeof(e); i++)
			h = (h ^ p[i]) * 16777619u;
	}
	return h | 1; /* never 0: a machine never swept */
}

bool identity_export_changed(struct identity *id, const uint8_t mac[MAC_LEN],
			     struct ident_snap *ret)
{
	struct imach *m = machine_find(id, mac);
	uint32_t h;

	if (!m || !identity_export(id, mac, ret))
		return false;
	h = snap_hash(ret);
	if (h == m->snap_hash)
		return false;
	m->snap_hash = h;
	return true;
}

bool identity_machine_next(const struct identity *id, uint32_t *cursor, uint8_t ret[MAC_LEN])
{
	uint32_t end = MIN(id->machines.cap, id->machines.fresh);

	for (uint32_t i = *cursor; i < end; i++) {
		const struct imach *m = table_at(&id->machines, i);

		if (m->h.list == TAB_NOLIST)
			continue; /* freed */
		memcpy(ret, m->k.mac, MAC_LEN);
		*cursor = i + 1;
		return true;
	}
	*cursor = 0;
	return false;
}

void identity_get_stats(const struct identity *id, struct ident_stats *ret)
{
	*ret = id->st;
	ret->machines = id->machines.used;
	ret->bindings = id->bindings.used;
	ret->max_machines = id->machines.cap;
	ret->max_bindings = id->bindings.cap;
}

/* ---- set-up ---- */

/* The inventory's pins: a MAC with a single-host network. */
static void apply_pins(struct identity *id, const struct conf *c)
{
	for (unsigned i = 0; i < c->inventory.n; i++) {
		const struct inv_entry *e = &c->inventory.v[i];

		if (e->has_mac && e->has_net && e->net.plen == addr_bits(&e->net.addr))
			pin(id, &e->net.addr, e->mac, 0, "inventory");
	}
}

static void setup(struct identity *id, const struct conf *c)
{
	id->c = c;
	id->trust_after_us = (usec_t)c->identity.trust_after_s * USEC_PER_SEC;
	id->move_after_us = (usec_t)c->identity.move_after_s * USEC_PER_SEC;
	id->max_addresses = c->identity.max_addresses ? c->identity.max_addresses : 1;
}

void identity_reconfigure(struct identity *id, const struct conf *c)
{
	setup(id, c);
	/* Pins no longer configured become ordinary trusted bindings. */
	for (struct ibind *b = table_list_head(&id->bindings, L_STRONG); b;
	     b = table_list_next(&id->bindings, b)) {
		if (b->state != BIND_PINNED)
			continue;
		id->st.by_state[BIND_PINNED]--;
		id->st.by_state[BIND_ESTABLISHED]++;
		b->state = BIND_ESTABLISHED;
	}
	/* Router flags follow the new lists. */
	for (unsigned l = 0; l < TAB_LISTS; l++)
		for (struct imach *m = table_list_head(&id->machines, l); m;
		     m = table_list_next(&id->machines, m)) {
			m->flags &= (uint8_t)~IDM_ROUTER;
			if (mac_is_router(id, m->k.mac))
				m->flags |= IDM_ROUTER;
			for (uint32_t i = m->bhead; i != TAB_NONE; i = bind_at(id, i)->mnext)
				check_router(id, m, bind_at(id, i));
		}
	apply_pins(id, c);
}

struct identity *identity_new(const struct ident_params *p, const struct siphash_key *key)
{
	struct identity *id = calloc(1, sizeof(*id));
	const struct conf *c = p->c;
	int r;

	if (!id)
		return NULL;
	id->offline = p->offline;
	id->cb = p->cb;
	id->cb_arg = p->cb_arg;
	id->is_own_mac = p->is_own_mac;
	id->own_arg = p->own_arg;
	setup(id, c);
	r = table_init(&id->machines, c->limits.max_machines, sizeof(struct imach),
		       sizeof(struct mkey), key);
	if (r == 0)
		r = table_init(&id->bindings, c->limits.max_bindings, sizeof(struct ibind),
			       sizeof(struct bkey), key);
	if (r < 0) {
		identity_free(id);
		errno = -r;
		return NULL;
	}
	apply_pins(id, c);
	return id;
}

void identity_set_own(struct identity *id, bool (*is_own_mac)(void *arg, const uint8_t *mac),
		      void *arg)
{
	id->is_own_mac = is_own_mac;
	id->own_arg = arg;
}

void identity_free(struct identity *id)
{
	if (!id)
		return;
	table_fini(&id->machines);
	table_fini(&id->bindings);
	free(id);
}
