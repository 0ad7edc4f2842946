/* Identity → detection → policy → registry → incidents → enforcement →
 * events. */
#include "engine.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "evidence.h"
#include "log.h"
#include "state.h"

/* ---- hosts and machines ---- */

const struct inv_entry *engine_inventory(const struct engine *e, const struct hostrec *rec)
{
	const struct inv_entry *inv = NULL;

	if (hostrec_is_machine(rec))
		inv = inventory_lookup(&e->c->inventory, &rec->id);
	if (!inv && rec->addr.family)
		inv = inventory_lookup(&e->c->inventory, &rec->addr);
	return inv;
}

void engine_event_host(const struct engine *e, const struct hostrec *rec, struct event *ev)
{
	ev->has_host = true;
	ev->host = rec->addr.family ? rec->addr : rec->id;
	if (hostrec_is_machine(rec)) {
		ev->has_mac = true;
		memcpy(ev->mac, rec->id.b, MAC_LEN);
	}
	ev->inv = engine_inventory(e, rec);
}

static bool self(const struct engine *e, const struct qaddr *a)
{
	return e->is_self && e->is_self(e->self_arg, a);
}

/* The addresses a machine uses, in identity's eyes and in its record. */
unsigned engine_machine_addresses(const struct engine *e, const struct hostrec *rec,
				  struct qaddr *v, unsigned max)
{
	unsigned n = 0;

	/* Every address it sends from uncontested, claims included: a
	 * never-block host seen only by its packets so far (after a
	 * restart, say) must not be blocked by its MAC. */
	if (e->id)
		n = identity_addresses(e->id, rec->id.b, BIND_CLAIMED, v, max);
	for (unsigned i = 0; i < rec->naddrs && n < max; i++) {
		bool dup = false;

		for (unsigned j = 0; j < n && !dup; j++)
			dup = addr_eq(&v[j], &rec->addrs[i].a);
		if (!dup)
			v[n++] = rec->addrs[i].a;
	}
	return n;
}

bool engine_no_mac(const struct engine *e, const struct hostrec *rec)
{
	struct qaddr v[HOST_MAX_ADDRS];
	const struct inv_entry *inv;
	unsigned n;

	if (!hostrec_is_machine(rec))
		return false;
	/* A MAC block takes every address behind it: a machine holding a
	 * critical address is isolated by its addresses only. */
	inv = inventory_lookup(&e->c->inventory, &rec->id);
	if (inv && inv->critical)
		return true;
	n = engine_machine_addresses(e, rec, v, ARRAY_SIZE(v));
	for (unsigned i = 0; i < n; i++) {
		inv = inventory_lookup(&e->c->inventory, &v[i]);
		if (inv && inv->critical)
			return true;
	}
	return false;
}

static bool link_local(const struct qaddr *a)
{
	if (a->family == AF_INET)
		return a->b[0] == 169 && a->b[1] == 254;
	return a->family == AF_INET6 && a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

const char *engine_never_reason(struct engine *e, const struct hostrec *rec)
{
	struct qaddr v[HOST_MAX_ADDRS];
	bool inside = false, routable = false;
	unsigned n, f;

	if (!hostrec_is_machine(rec))
		return policy_never_reason(&e->pol, &rec->addr, self(e, &rec->addr));
	/* Never block by MAC a machine that holds a never-block or own
	 * address, nor a router or relay (a MAC block takes every address
	 * behind it).  An address of it outside the protected networks (a
	 * link-local one, say) does not shield it; but a machine all of
	 * whose addresses are outside them (they were narrowed) is none of
	 * ours, as its address's record would be. */
	f = e->id ? identity_machine(e->id, rec->id.b) : 0;
	if (f & IDM_SELF)
		return "one of the gateway's own MACs";
	if (f & (IDM_ROUTER | IDM_RELAY))
		return "a router or relay";
	n = engine_machine_addresses(e, rec, v, ARRAY_SIZE(v));
	for (unsigned i = 0; i < n; i++) {
		bool is_self = self(e, &v[i]);

		if (policy_never_listed(&e->pol, &v[i], is_self))
			return is_self ? "a machine holding one of the gateway's own addresses"
				       : "a machine holding an address on the never-block list";
		/* Link-local addresses say nothing: every IPv6 host has one. */
		if (link_local(&v[i]))
			continue;
		routable = true;
		if (prefix_list_contains(&e->c->networks.protected_, &v[i]))
			inside = true;
	}
	return routable && !inside ? "a machine with no address in the protected networks" : NULL;
}

void engine_host_facts(struct engine *e, const struct hostrec *rec, bool unverified,
		       struct host_facts *ret)
{
	const struct inv_entry *inv = engine_inventory(e, rec);

	memset(ret, 0, sizeof(*ret));
	ret->critical = (inv && inv->critical) || engine_no_mac(e, rec);
	/* Offline nothing is enforced: the cap would only hide what the
	 * detection is worth. */
	ret->unverified = unverified && e->mode != MODE_OFFLINE;
	ret->never = engine_never_reason(e, rec) != NULL;
}

static void queue_refresh(struct engine *e, struct hostrec *rec)
{
	for (unsigned i = 0; i < e->nrefresh; i++)
		if (e->refresh[i] == rec)
			return;
	if (e->nrefresh == ENGINE_QUEUE)
		engine_commit(e);
	rec->busy = 1;
	e->refresh[e->nrefresh++] = rec;
}

/* Takes address a for machine record rec from whoever holds it, when that
 * is allowed: an address's own record not blocked (merged into the
 * machine), or another machine's record not blocked (the address moved).
 * A blocked holder keeps it. */
int engine_hold_address(struct engine *e, struct hostrec *rec, const struct qaddr *a, usec_t now)
{
	struct hostrec *other = hostdb_find_addr(&e->hosts, a);
	int i;

	if (other && other != rec) {
		if (other->level > LEVEL_WATCH || (i = hostrec_addr_index(other, a)) < 0)
			return -EEXIST;
		hostdb_addr_del(&e->hosts, other, (unsigned)i);
		if (!hostrec_is_machine(other)) {
			char text[64], mb[MAC_STRLEN];

			other->merged = 1;
			snprintf(text, sizeof(text), "merged into machine %s",
				 mac_ntop(rec->id.b, mb));
			hostdb_history(other, now, HIST_ADOPT, LEVEL_NONE, -1, text);
		} else if (addr_eq(&other->addr, a)) {
			identity_primary(e->id, other->id.b, &other->addr);
		}
	}
	return hostdb_addr_add(&e->hosts, rec, a);
}

void engine_machine_refresh(struct engine *e, struct hostrec *rec, usec_t now)
{
	struct qaddr v[HOST_MAX_ADDRS], primary;
	unsigned n;
	bool added = false;

	if (!e->id || !hostrec_is_machine(rec))
		return;
	n = identity_addresses(e->id, rec->id.b, BIND_ESTABLISHED, v, ARRAY_SIZE(v));
	for (unsigned i = 0; i < n; i++) {
		if (hostrec_addr_index(rec, &v[i]) >= 0)
			continue;
		/* A blocked machine's new addresses are blocked with it: never
		 * a never-block or own one (policy first, whatever identity
		 * says). */
		if (rec->level > LEVEL_WATCH && policy_never_listed(&e->pol, &v[i], self(e, &v[i])))
			continue;
		if (engine_hold_address(e, rec, &v[i], now) == 0)
			added = true;
	}
	/* Addresses no longer its own go, unless it is blocked: a block
	 * never moves with an address, nor is lifted by its moving. */
	if (rec->level <= LEVEL_WATCH)
		for (unsigned i = rec->naddrs; i-- > 0;) {
			bool own = false;

			for (unsigned j = 0; j < n && !own; j++)
				own = addr_eq(&v[j], &rec->addrs[i].a);
			if (!own && !rec->addrs[i].kiso)
				hostdb_addr_del(&e->hosts, rec, i);
		}
	if (identity_primary(e->id, rec->id.b, &primary))
		rec->addr = primary;
	else if (!rec->addr.family && rec->naddrs)
		rec->addr = rec->addrs[0].a;
	if (added && rec->level == LEVEL_ISOLATE)
		queue_refresh(e, rec);
}

struct hostrec *engine_record(struct engine *e, const struct qaddr *id, bool create, usec_t now)
{
	struct hostrec *rec;

	if (addr_is_mac(id)) {
		rec = create ? hostdb_get(&e->hosts, id) : hostdb_find(&e->hosts, id);
		if (rec)
			engine_machine_refresh(e, rec, now);
		return rec;
	}
	rec = hostdb_find_addr(&e->hosts, id);
	if (rec && !rec->merged)
		return rec;
	if (!create)
		return NULL;
	rec = hostdb_get(&e->hosts, id);
	if (rec && rec->merged) {
		/* The machine that took its address let it go: the address's
		 * own record is back in use, holding it again. */
		rec->merged = 0;
		if (rec->naddrs == 0)
			(void)hostdb_addr_add(&e->hosts, rec, id);
	}
	return rec;
}

void engine_infected_name(const struct engine *e, const struct hostrec *rec, struct qaddr *ret)
{
	const struct hostrec *src = hostdb_find((struct hostdb *)&e->hosts, &rec->infected_by);

	*ret = src && src->addr.family ? src->addr : rec->infected_by;
}

/* ---- events ---- */

static void emit_detect(struct engine *e, const struct pending *p, bool enforced, enum why why)
{
	char lb[OUTSIDE_SOURCE_MAX], pzs[OUTSIDE_SOURCE_MAX];
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_DETECT;
	ev.ts = p->det.ts_us;
	if (p->rec) {
		engine_event_host(e, p->rec, &ev);
	} else {
		ev.has_host = true;
		ev.host = p->det.addr.family ? p->det.addr : p->det.host;
	}
	ev.inv = p->inv;
	ev.det = &p->det;
	ev.action = p->dec.level;
	ev.capped = p->dec.capped;
	ev.enforced = enforced;
	ev.why = why;
	ev.incident_id = p->incident;
	ev.recurrence = p->recurrence;
	if (p->rec && p->rec->infected_by.family) {
		engine_infected_name(e, p->rec, &ev.infected_by);
		ev.infected_port = p->rec->infected_port;
		ev.infected_ts = p->rec->infected_us;
	}
	if (p->o) {
		ev.source = det_source_label((enum det_source)p->o->source, p->o->origin, lb,
					     sizeof(lb));
		ev.original = p->o->evidence[0] ? p->o->evidence : NULL;
	}
	ev.by_uid = -1;
	output_event(e->out, &ev);

	struct incident *in = p->announce ? incident_find(&e->incidents, p->incident) : NULL;
	if (!in)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_INCIDENT;
	ev.ts = p->det.ts_us;
	if (p->rec)
		engine_event_host(e, p->rec, &ev);
	ev.id = in->id;
	ev.rule = in->rule_name;
	ev.patient_zero = in->patient_zero;
	ev.hosts = in->nhosts;
	ev.first_ts = in->first_probe_us;
	/* Which gateway saw patient zero, and the other gateways'
	 * incidents this one holds hosts of. */
	{
		const struct qaddr *pz = &in->patient_zero;
		struct hostrec *r = addr_is_mac(pz) ? hostdb_find(&e->hosts, pz)
						    : hostdb_find_addr(&e->hosts, pz);

		ev.pz_source = incident_member_source(r, in->id, pzs, sizeof(pzs));
	}
	ev.links = in->links;
	ev.nlinks = in->nlinks;
	ev.by_uid = -1;
	output_event(e->out, &ev);
}

/* The ports a containment of this detection blocks (SPEC section 5): the
 * rule's, or those seen in the host's failed probes; a whole protocol for
 * an ICMP sweep.  Towards the detection's one destination when it names
 * one (brute force against one server), else towards everyone. */
static void want_ports(struct hostrec *rec, const struct detection *d)
{
	const struct qaddr *to = d->peer.family ? &d->peer : NULL;

	if (strcmp(d->proto, "icmp") == 0 || strcmp(d->proto, "icmpv6") == 0) {
		hostdb_want_port(rec,
				 strcmp(d->proto, "icmpv6") == 0 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, 0,
				 NULL);
		return;
	}
	for (unsigned i = 0; i < d->nports; i++) {
		if (d->port_protos[i] & PROTO_TCP)
			hostdb_want_port(rec, IPPROTO_TCP, d->ports[i], to);
		if (d->port_protos[i] & PROTO_UDP)
			hostdb_want_port(rec, IPPROTO_UDP, d->ports[i], to);
	}
	if (d->ports_overflow)
		rec->want_overflow = 1;
}

/* What spreads, for the incident a detection joins: the port of a rule
 * that names none (the walk, horizontal-scan, dark-space: the first port
 * its failures were on) and of brute force against one server (SSH
 * guessing and RDP guessing are two things); 0 for the others, whose rule
 * says it. */
static uint16_t spread_port(const struct detection *d)
{
	return (!d->fixed_ports || d->peer.family) && d->nports ? d->ports[0] : 0;
}

/* Whether a detection towards one destination asks for a port the host's
 * containment does not hold yet: the same rule flagging a host again
 * against another server (brute force against a second one) adds that
 * server, where a detection at a level already reached is otherwise
 * suppressed. */
static bool wants_more(const struct hostrec *rec, const struct detection *d)
{
	if (!d->peer.family)
		return false;
	for (unsigned i = 0; i < d->nports; i++) {
		uint8_t proto = d->port_protos[i] & PROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
		bool held = false;

		for (unsigned j = 0; j < rec->nwant && !held; j++) {
			const struct qaddr *to = hostrec_port_to(rec, &rec->want[j]);

			held = rec->want[j].proto == proto && rec->want[j].port == d->ports[i] &&
			       (!to || addr_eq(to, &d->peer));
		}
		if (!held)
			return true;
	}
	return false;
}

/* Starts the host's evidence file when it is flagged, first or again
 * after a release: the ring's recent packets of the host, then what
 * follows. */
static void evidence_begin(struct engine *e, struct hostrec *rec, usec_t now)
{
	char name[EVIDENCE_NAME_MAX];

	/* A machine's file follows its MAC: what it sent from any address,
	 * forged ones included, and what came to it.  It is named after the
	 * address that names the machine (its MAC when it has none). */
	if (e->sensor.evidence_start && (hostrec_is_machine(rec) || rec->addr.family) &&
	    e->sensor.evidence_start(e->sensor.arg, hostrec_is_machine(rec) ? &rec->id : &rec->addr,
				     &rec->addr, now, name, sizeof(name)) == 0)
		snprintf(rec->evidence, sizeof(rec->evidence), "%s", name);
}

/* A detection by address, or from a machine whose frames are contested
 * (its MAC seen behind two bridge ports in turn), or from a machine that
 * never spoke for an address of its own (a MAC conjured by a flood of random MACs sends raw forged packets
 * and never ARPs; a real host's kernel does before its first packet):
 * it cannot be tied to a machine for certain.  Unverified detections are
 * capped at identity.unverified_max and have their own budget of
 * automatic actions, so that a random-MAC flood never spends a real
 * worm's. */
static bool detection_unverified(const struct engine *e, const struct detection *d)
{
	struct qaddr own;

	if (!addr_is_mac(&d->host))
		return true;
	if (!e->id)
		return false;
	if (identity_machine(e->id, d->host.b) & IDM_CONTESTED)
		return true;
	/* The source address is not looked at: a forged or contested one
	 * is still sent by this MAC, and the MAC is what gets blocked. */
	return identity_addresses(e->id, d->host.b, BIND_TENTATIVE, &own, 1) == 0;
}

/* Who infected the host of rec (detection d), from who probed it before
 * it was flagged (d->by, earliest first): the first source that
 *   - is a host of the registry detected before it (already flagged when
 *     this detection is handled: a source flagged only later is not
 *     named, as its edge is gone from the sensor's record by then), and
 *     not the host itself;
 *   - made its contact before the host's own first probe: a host that
 *     its victim probed back after it began spreading is not the victim.
 * A source named by an address that a machine's record holds is that
 * machine.  NULL when none; *ret_edge the edge. */
static struct hostrec *infector(struct engine *e, const struct hostrec *rec,
				const struct detection *d, const struct probe_edge **ret_edge)
{
	usec_t first = d->first_probe_us;

	if (rec->first_detect_us && rec->first_probe_us && rec->first_probe_us < first)
		first = rec->first_probe_us;
	for (unsigned i = 0; i < d->nby && i < PROBES_BY_MAX; i++) {
		const struct probe_edge *b = &d->by[i];
		struct hostrec *src = engine_record(e, &b->from, false, d->ts_us);

		if (!src || src == rec || src->first_detect_us == 0 ||
		    src->first_detect_us > d->ts_us || b->first_us >= first)
			continue;
		*ret_edge = b;
		return src;
	}
	return NULL;
}

/* Every incident id was given: the detection is handled as any other,
 * in no incident.  Alerted the first time and then at every power of two,
 * so that it is heard but cannot flood. */
static void incidents_exhausted(struct engine *e, usec_t now)
{
	unsigned long n = e->incidents.exhausted;
	char msg[160];

	if (n & (n - 1))
		return;
	snprintf(msg, sizeof(msg),
		 "incident ids exhausted (last %u): %lu detection%s opened no incident",
		 (unsigned)INCIDENT_ID_MAX, n, n == 1 ? "" : "s");
	log_warnx("%s", msg);
	output_error(e->out, now, msg);
}

/* The registry is full of blocked hosts: alerted the first time and then
 * at every power of two of the detections that could not be enforced. */
static void registry_full(struct engine *e, const struct detection *d)
{
	uint64_t n = e->st.registry_full;
	char msg[200], hb[ADDR_STRLEN];

	if (n & (n - 1))
		return;
	snprintf(msg, sizeof(msg),
		 "limits.max_blocked (%u) hosts are blocked or in certification: %s not "
		 "blocked (%llu detection%s so far); release hosts or raise the limit",
		 hostdb_capacity(&e->hosts), addr_ntop(&d->host, hb), (unsigned long long)n,
		 n == 1 ? "" : "s");
	log_warnx("%s", msg);
	output_error(e->out, d->ts_us, msg);
}

/* The level policy decides for detection d: from its severity for our
 * own, the level its source's mapping asks for (o->level) for one from
 * outside; then the same caps and limits. */
static void decide(struct engine *e, const struct detection *d, const struct outside_detection *o,
		   const struct host_facts *facts, struct decision *ret)
{
	if (o) {
		struct host_facts f = *facts;

		f.portless = o->nports == 0;
		policy_decide_level(&e->pol, (enum level)o->level, &f, d->ts_us, ret);
	} else
		policy_decide(&e->pol, d->severity, facts, d->ts_us, ret);
}

/* A detection, our own (o NULL) or from outside (o its fields): through
 * policy, the registry and the incidents, queued for the next commit. */
static enum outside_fate handle(struct engine *e, const struct detection *d,
				const struct outside_detection *o, bool unverified,
				const char **ret_why)
{
	const struct inv_entry *inv;
	struct host_facts facts;
	struct pending p;
	struct hostrec *rec;
	struct hit *hit;
	struct incident *in = NULL;
	struct hostrec *src = NULL;
	bool new_episode;

	if (d->ts_us > e->now)
		e->now = d->ts_us;
	e->st.detections++;
	e->st.by_source[o ? o->source : SOURCE_SELF]++;
	if (d->rule < e->c->nrules || d->rule == DETECT_RULE_TRW)
		e->st.by_rule[d->rule]++;
	else if (outside_rules_name(&e->orules, d->rule))
		e->orules.v[d->rule - OUTSIDE_RULE_BASE].detections++;
	memset(&p, 0, sizeof(p));
	p.det = *d;
	p.o = o;
	rec = engine_record(e, &d->host, true, d->ts_us);
	if (!rec) {
		/* Every record holds a block or a certification (records
		 * with nothing in force are evicted to make room): the limit
		 * on blocked hosts is reached.  Still report the detection:
		 * losing deduplication and the block is better than losing
		 * the alert. */
		e->st.registry_full++;
		registry_full(e, d);
		p.inv = inventory_lookup(&e->c->inventory, &d->host);
		memset(&facts, 0, sizeof(facts));
		facts.never = !addr_is_mac(&d->host) &&
			      policy_never_block(&e->pol, &d->host, self(e, &d->host));
		decide(e, d, o, &facts, &p.dec);
		emit_detect(e, &p, false, WHY_ERROR);
		return OUTSIDE_FULL;
	}
	p.rec = rec;
	hostdb_settle(&e->hosts, rec);
	inv = engine_inventory(e, rec);
	p.inv = inv;
	hit = hostdb_hit(rec, d->rule);
	engine_host_facts(e, rec, unverified, &facts);
	decide(e, d, o, &facts, &p.dec);
	if (hit && hit->level >= p.dec.level &&
	    !(p.dec.level == LEVEL_CONTAIN && rec->level <= LEVEL_CONTAIN && wants_more(rec, d))) {
		e->st.detections_suppressed++;
		return OUTSIDE_DUPLICATE;
	}
	/* Who infected it, once an episode: a host flagged again after a
	 * release is named again. */
	if (rec->state == HOST_RELEASED || rec->state == HOST_CLEANED) {
		memset(&rec->infected_by, 0, sizeof(rec->infected_by));
		rec->infected_proto = 0;
		rec->infected_port = 0;
		rec->infected_us = 0;
	}
	if (!rec->infected_by.family) {
		const struct probe_edge *b = NULL;

		src = infector(e, rec, d, &b);
		if (src) {
			rec->infected_by = src->id;
			rec->infected_proto = b->proto;
			rec->infected_port = b->port;
			rec->infected_us = b->first_us;
		}
	} else {
		src = hostdb_find(&e->hosts, &rec->infected_by);
	}
	if (!hit) {
		/* Flagged by another rule while its incident is open: it
		 * stays in that one (one infected host, one incident). */
		in = NULL;
		for (unsigned i = 0; i < rec->nhits && !in; i++)
			in = incident_stay(&e->incidents,
					   incident_find(&e->incidents, rec->hits[i].incident),
					   d->rule, d->rule_name, spread_port(d), d->ts_us);
		/* Probed by a member of an incident before it spread: it
		 * joins that one, however long ago it was opened. */
		for (unsigned i = 0; src && !in && i < src->nhits; i++) {
			bool member = false;

			for (unsigned j = 0; j < rec->nhits; j++)
				member |= rec->hits[j].incident == src->hits[i].incident;
			in = incident_follow(&e->incidents,
					     incident_find(&e->incidents, src->hits[i].incident),
					     member, d->ts_us);
			/* A new member is announced, as one that joins by
			 * time. */
			p.announce = in && !member;
		}
		hit = hostdb_add_hit(rec, d->rule, d->ts_us);
		hit->source = o ? o->source : SOURCE_SELF;
		if (in) {
			hit->incident = in->id;
		} else {
			in = incident_join(&e->incidents, d->rule, d->rule_name, spread_port(d),
					   rec->addr.family ? &rec->addr : &rec->id,
					   d->first_probe_us, d->ts_us);
			if (in) {
				hit->incident = in->id;
				p.announce = true;
			} else {
				incidents_exhausted(e, d->ts_us);
			}
		}
	}
	/* Flagged again after a release: a new episode, whose containment is
	 * on the ports of its own detections only (the old ones stay known
	 * until now, for an operator's containment). */
	if ((rec->state == HOST_RELEASED || rec->state == HOST_CLEANED) &&
	    rec->level == LEVEL_NONE) {
		rec->nwant = 0;
		rec->want_overflow = 0;
		rec->want_manual = 0;
	}
	/* A host released (or certified clean) that is flagged again comes
	 * back one level higher than last time, with a longer TTL where TTLs
	 * are in use: escalating durations, as in catch-and-release. */
	p.ttl_s = e->c->enforce.default_ttl_s;
	if ((rec->state == HOST_RELEASED || rec->state == HOST_CLEANED) &&
	    rec->last_level > LEVEL_NONE && rec->level == LEVEL_NONE) {
		enum level up = (enum level)MIN(rec->last_level + 1, LEVEL_ISOLATE);

		if (inv && inv->critical && up > e->c->policy.critical_max)
			up = e->c->policy.critical_max;
		if (up > p.dec.level) {
			p.dec.level = up;
			/* Stronger than watch now: to be enforced after all. */
			if (p.dec.why == WHY_WATCH)
				p.dec.why = WHY_NONE;
		}
		/* Doubling saturates at the maximum TTL. */
		if (rec->last_ttl_s)
			p.ttl_s = MAX(p.ttl_s, rec->last_ttl_s >= QD_TTL_MAX_S / 2
						       ? QD_TTL_MAX_S
						       : rec->last_ttl_s * 2);
		if (rec->recurrences < UINT8_MAX)
			rec->recurrences++;
		p.recurrence = rec->recurrences;
		rec->state = HOST_DETECTED;
		rec->changed_us = d->ts_us;
	}
	/* Another gateway's incident holds this host: the incident it is
	 * in here links to that one (incident.h). */
	if (o && o->source == SOURCE_GATEWAY && o->incident && hit->incident &&
	    incident_link(&e->incidents, incident_find(&e->incidents, hit->incident), o->origin,
			  o->incident) == 1)
		p.announce = true;
	hit->level = (uint8_t)p.dec.level;
	p.incident = hit->incident;
	if (rec->first_detect_us == 0 || d->first_probe_us < rec->first_probe_us)
		rec->first_probe_us = d->first_probe_us;
	if (rec->first_detect_us == 0)
		rec->first_detect_us = d->ts_us;
	rec->last_detect_us = d->ts_us;
	if (p.dec.level > rec->decided)
		rec->decided = (uint8_t)p.dec.level;
	/* What a containment of the host would block follows what it is
	 * detected for, at every level, so that an operator who escalates
	 * a watched host contains it on those ports.  Ports an operator gave
	 * to a containment no longer in force give way to the detection's:
	 * a host de-escalated from a manual containment of tcp/445 and then
	 * detected by an ICMP sweep is contained on ICMP when escalated, not
	 * on last month's tcp/445.  While a containment is in force, its
	 * ports stay and the detection's are added. */
	if (rec->want_manual && rec->level < LEVEL_CONTAIN) {
		rec->nwant = 0;
		rec->want_overflow = 0;
	}
	rec->want_manual = 0;
	want_ports(rec, d);
	new_episode = rec->state == HOST_RELEASED || rec->state == HOST_CLEANED ||
		      rec->changed_us == 0 || p.recurrence;
	if (rec->state == HOST_RELEASED || rec->state == HOST_CLEANED || rec->changed_us == 0) {
		rec->state = HOST_DETECTED;
		rec->changed_us = d->ts_us;
	}
	{
		char text[64];
		if (p.recurrence)
			snprintf(text, sizeof(text), "%s (recurrence %u)", d->rule_name,
				 p.recurrence);
		else
			snprintf(text, sizeof(text), "%s", d->rule_name);
		if (hostdb_history(rec, d->ts_us, HIST_DETECT, p.dec.level, -1, text) == 0 && o) {
			char lb[OUTSIDE_SOURCE_MAX];

			(void)hostdb_hist_set_outside(&rec->hist[rec->nhist - 1],
						      det_source_label((enum det_source)o->source,
								       o->origin, lb, sizeof(lb)),
						      o->evidence);
		}
	}
	if (e->dirty < ENGINE_DIRTY_SOON)
		e->dirty = ENGINE_DIRTY_SOON;
	/* Past the cap of automatic actions (a flood of sources that each
	 * look like a worm, most likely) no evidence file either: a file a
	 * host at that rate would cost the disk and the capture more than
	 * its packets are worth; the ring still holds them. */
	if (new_episode && p.dec.why != WHY_RATE_LIMIT)
		evidence_begin(e, rec, d->ts_us);

	if (!e->enf || p.dec.why != WHY_NONE) {
		/* Nothing to put in the kernel: a watch, never-block, rate
		 * limit, pause, dry run or offline. */
		if (p.dec.why == WHY_WATCH && rec->state == HOST_DETECTED) {
			rec->state = HOST_WATCHED;
			rec->changed_us = d->ts_us;
		}
		/* Nothing goes into the kernel for a watch: it is in force. */
		if (p.dec.why == WHY_WATCH && rec->level < LEVEL_WATCH)
			rec->level = LEVEL_WATCH;
		/* A watch is in force as soon as it is alerted: there is
		 * nothing for the kernel to acknowledge. */
		if (p.dec.why == WHY_WATCH)
			emit_detect(e, &p, true, WHY_NONE);
		else
			emit_detect(e, &p, false, p.dec.why);
		if (p.dec.why == WHY_NEVER_BLOCK || p.dec.why == WHY_RATE_LIMIT ||
		    p.dec.why == WHY_PAUSED) {
			if (ret_why)
				*ret_why = p.dec.why == WHY_NEVER_BLOCK
						   ? engine_never_reason(e, rec)
						   : why_name(p.dec.why);
			return OUTSIDE_REFUSED;
		}
		return OUTSIDE_TAKEN;
	}
	if (e->nq == ENGINE_QUEUE)
		engine_commit(e);
	rec->busy = 1;
	if (o) {
		/* The caller's copy is gone by the commit. */
		e->oq[e->nq] = *o;
		p.o = &e->oq[e->nq];
	}
	e->q[e->nq++] = p;
	return OUTSIDE_TAKEN;
}

void engine_detection(struct engine *e, const struct detection *d)
{
	(void)handle(e, d, NULL, detection_unverified(e, d), NULL);
}

/* ---- detections from outside ---- */

static const struct {
	uint32_t rate, burst;
} budgets[SOURCE_COUNT] = {
	[SOURCE_SURICATA] = {ENGINE_OUTSIDE_RATE, ENGINE_OUTSIDE_BURST},
	[SOURCE_ZEEK] = {ENGINE_OUTSIDE_RATE, ENGINE_OUTSIDE_BURST},
	[SOURCE_ANTIVIRUS] = {ENGINE_OUTSIDE_AV_RATE, ENGINE_OUTSIDE_AV_BURST},
	[SOURCE_GATEWAY] = {ENGINE_OUTSIDE_RATE, ENGINE_OUTSIDE_BURST},
};

/* Takes one token of source s's budget at now: false when it is spent. */
static bool budget_take(struct engine *e, enum det_source s, usec_t now)
{
	struct outside_budget *b = &e->budget[s];
	uint32_t rate = budgets[s].rate, burst = budgets[s].burst;

	if (b->at_us == 0 || now < b->at_us) {
		/* The first, or the clock stepped back: a full budget. */
		b->tokens = burst;
		b->at_us = now;
	} else {
		uint64_t add = (now - b->at_us) * rate / USEC_PER_SEC;

		if (add) {
			/* Time is counted in whole tokens, so that none is
			 * lost to rounding at a steady trickle. */
			b->at_us += add * USEC_PER_SEC / rate;
			b->tokens = (uint32_t)MIN((uint64_t)burst, b->tokens + add);
			if (b->tokens == burst)
				b->at_us = now;
		}
	}
	if (b->tokens == 0)
		return false;
	b->tokens--;
	return true;
}

/* Drops over a source's budget, told at most once a second. */
static void budget_tell(struct engine *e, usec_t now)
{
	for (unsigned s = 0; s < SOURCE_COUNT; s++) {
		struct outside_budget *b = &e->budget[s];
		char msg[200];

		if (!b->untold || now / USEC_PER_SEC == b->told_s)
			continue;
		snprintf(msg, sizeof(msg),
			 "detections from %s over their budget (%u a second, %u at once): %llu "
			 "dropped, %llu in all",
			 det_source_name((enum det_source)s), budgets[s].rate, budgets[s].burst,
			 (unsigned long long)b->untold,
			 (unsigned long long)e->st.outside_dropped[s]);
		log_warnx("%s", msg);
		output_error(e->out, now, msg);
		b->untold = 0;
		b->told_s = now / USEC_PER_SEC;
	}
}

/* The time an outside detection's host began, when the tool's clock can
 * be believed: not ahead of ours by more than a small skew, not older
 * than a day (a replayed or stale export says nothing of first probes). */
static usec_t outside_first(const struct outside_detection *o, usec_t now)
{
	if (o->ts_us == 0 || o->ts_us > now + ENGINE_OUTSIDE_SKEW_S * USEC_PER_SEC ||
	    o->ts_us + ENGINE_OUTSIDE_MAX_AGE_S * USEC_PER_SEC < now)
		return now;
	return MIN(o->ts_us, now);
}

enum outside_fate engine_outside_ex(struct engine *e, const struct outside_detection *o,
				    const char **ret_why)
{
	static const char *const proto_names[] = {[PROTO_TCP] = "tcp", [PROTO_UDP] = "udp"};
	struct detection d;
	usec_t now = e->mode == MODE_OFFLINE ? engine_now(e) : time_wall_us();
	char err[128];
	bool unverified;

	if (ret_why)
		*ret_why = NULL;
	/* The caller checked it; a second look costs nothing against a
	 * message from a process that parses hostile input. */
	if (outside_check(o, err, sizeof(err)) < 0) {
		e->st.outside_invalid++;
		log_warnx("detection from outside refused: %s", err);
		return OUTSIDE_INVALID;
	}
	if (!budget_take(e, (enum det_source)o->source, now)) {
		e->st.outside_dropped[o->source]++;
		e->budget[o->source].untold++;
		budget_tell(e, now);
		return OUTSIDE_OVER_BUDGET;
	}
	memset(&d, 0, sizeof(d));
	d.host = o->host;
	if (!addr_is_mac(&o->host))
		d.addr = o->host;
	/* Another gateway's rule of a name ours has is ours: one hit, one
	 * counter, one incident. */
	d.rule = (unsigned)engine_rule_index(e, o->rule, true);
	d.rule_name = engine_rule_name(e, d.rule);
	d.severity = (enum severity)o->severity;
	d.proto = o->proto ? proto_names[o->proto] : "any";
	for (unsigned i = 0; i < o->nports; i++) {
		d.ports[i] = o->ports[i];
		d.port_protos[i] = o->proto;
	}
	d.nports = o->nports;
	/* Ports name what spreads (spread_port()) unless the rule names
	 * none: another gateway's walk, horizontal scan or dark space
	 * groups by the port its failures were on, as ours does, so that
	 * one worm at two gateways is one incident. */
	d.fixed_ports = !(o->source == SOURCE_GATEWAY &&
			  (d.rule == DETECT_RULE_TRW ||
			   (d.rule < e->c->nrules && e->c->rules[d.rule].nports == 0)));
	d.kind = EVIDENCE_DISTINCT_DST;
	d.first_probe_us = outside_first(o, now);
	d.ts_us = now;
	/* An IDS names an address from the packets it saw, which a forger
	 * chooses: unverified, as our own detection by address is.  An
	 * antivirus console saw the threat on the machine itself, and
	 * another gateway verified its own detection as we do ours. */
	unverified = (o->source == SOURCE_SURICATA || o->source == SOURCE_ZEEK) &&
		     detection_unverified(e, &d);
	return handle(e, &d, o, unverified, ret_why);
}

void engine_outside(struct engine *e, const struct outside_detection *o)
{
	(void)engine_outside_ex(e, o, NULL);
}

const char *engine_rule_name(const struct engine *e, unsigned rule)
{
	if (rule == DETECT_RULE_TRW)
		return DETECT_TRW_NAME;
	if (rule < e->c->nrules)
		return e->c->rules[rule].name;
	return outside_rules_name(&e->orules, rule);
}

int engine_rule_index(struct engine *e, const char *name, bool intern)
{
	int i;

	if (strcmp(name, DETECT_TRW_NAME) == 0)
		return DETECT_RULE_TRW;
	if ((i = conf_rule_find(e->c, name)) >= 0)
		return i;
	if (!intern || !*name)
		return outside_rules_find(&e->orules, name);
	return (int)outside_rules_intern(&e->orules, name);
}

void engine_commit(struct engine *e)
{
	struct act_change ch[2 * ENGINE_QUEUE]; /* detections, then refreshes */
	unsigned nch = 0;
	usec_t now = engine_now(e);

	if (e->nq == 0 && e->nrefresh == 0)
		return;
	/* One change per host: the strongest level any of its detections
	 * asked for, never weaker than what is in force. */
	for (unsigned i = 0; i < e->nq; i++) {
		struct hostrec *rec = e->q[i].rec;
		unsigned j;

		for (j = 0; j < nch; j++)
			if (ch[j].rec == rec)
				break;
		if (j == nch) {
			memset(&ch[nch], 0, sizeof(ch[nch]));
			ch[nch].rec = rec;
			ch[nch].level = (enum level)rec->level;
			ch[nch].ttl_s = e->c->enforce.default_ttl_s;
			ch[nch].by_uid = -1;
			ch[nch].reason = e->q[i].det.rule_name;
			/* Neither a critical asset nor a source held below
			 * isolation as unverified may be isolated because its
			 * containment has no ports to block. */
			ch[nch].critical = (e->q[i].inv && e->q[i].inv->critical) ||
					   (e->q[i].dec.unverified &&
					    e->c->identity.unverified_max < LEVEL_ISOLATE);
			nch++;
		}
		if (e->q[i].dec.level > ch[j].level) {
			ch[j].level = e->q[i].dec.level;
			ch[j].reason = e->q[i].det.rule_name;
		}
		if (e->q[i].ttl_s > ch[j].ttl_s)
			ch[j].ttl_s = e->q[i].ttl_s;
	}
	/* Blocked machines with new addresses: the same level again, which
	 * adds what is missing. */
	for (unsigned i = 0; i < e->nrefresh; i++) {
		struct hostrec *rec = e->refresh[i];
		unsigned j;

		rec->busy = 0;
		for (j = 0; j < nch && ch[j].rec != rec; j++)
			;
		if (j < nch || rec->level <= LEVEL_WATCH)
			continue;
		memset(&ch[nch], 0, sizeof(ch[nch]));
		ch[nch].rec = rec;
		ch[nch].level = (enum level)rec->level;
		ch[nch].ttl_s = act_ttl_left(rec, now);
		ch[nch].by_uid = rec->by_uid;
		ch[nch].reason = "the machine took a new address";
		ch[nch].keep_author = true;
		nch++;
	}
	e->nrefresh = 0;
	act_apply(e, ch, nch, now);
	for (unsigned i = 0; i < e->nq; i++) {
		const struct pending *p = &e->q[i];
		struct hostrec *rec = p->rec;
		const struct act_change *c = NULL;

		for (unsigned j = 0; j < nch; j++)
			if (ch[j].rec == rec)
				c = &ch[j];
		emit_detect(e, p, c && c->error == 0, c && c->error ? WHY_ERROR : WHY_NONE);
	}
	for (unsigned j = 0; j < nch; j++) {
		act_emit(e, &ch[j], now);
		ch[j].rec->busy = 0;
	}
	for (unsigned i = 0; i < e->nq; i++)
		e->q[i].rec->busy = 0;
	e->nq = 0;
}

/* Identity's alerts become binding events, at most ENGINE_BINDING_EVENTS
 * a minute (a flood of forged ARP must not flood the log); a blocked
 * machine's new trusted address is blocked too. */
/* The machine records an identity event concerns follow identity. */
static void identity_refresh(struct engine *e, const struct ident_event *iev, char *msg,
			     size_t msglen)
{
	struct hostrec *rec = NULL;

	if (iev->kind == IDENT_ESTABLISHED || iev->kind == IDENT_MOVED ||
	    iev->kind == IDENT_RELAY) {
		struct qaddr id;

		addr_set_mac(&id, iev->mac);
		rec = hostdb_find(&e->hosts, &id);
		if (rec)
			engine_machine_refresh(e, rec, iev->ts);
	}
	if (iev->kind == IDENT_MOVED) {
		/* The old owner's record lets the address go only when not
		 * blocked (engine_machine_refresh() never drops a blocked
		 * one's): then the new owner may take it. */
		struct qaddr other;

		addr_set_mac(&other, iev->other);
		struct hostrec *old = hostdb_find(&e->hosts, &other);
		if (old)
			engine_machine_refresh(e, old, iev->ts);
		if (old && old->level > LEVEL_WATCH && hostrec_addr_index(old, &iev->addr) >= 0)
			snprintf(msg, msglen,
				 "the previous machine is blocked: the address stays blocked "
				 "with it until released");
	}
	if (iev->kind == IDENT_RELAY && rec && rec->level > LEVEL_WATCH)
		snprintf(msg, msglen,
			 "a relay is never blocked by MAC: release it (quarantinectl release) "
			 "and block the hosts behind it by address");
	/* Trusted bindings are saved (a restart must not hand a quiet
	 * machine's address to the first forger): soon, not at once. */
	if ((iev->kind == IDENT_ESTABLISHED || iev->kind == IDENT_MOVED) &&
	    e->dirty < ENGINE_DIRTY_SOON)
		e->dirty = ENGINE_DIRTY_SOON;
}

void engine_identity(struct engine *e, const struct ident_event *iev)
{
	struct event ev;
	usec_t minute = iev->ts / (60 * USEC_PER_SEC);
	char msg[160] = "";

	identity_refresh(e, iev, msg, sizeof(msg));
	if (iev->kind == IDENT_ESTABLISHED)
		return;
	if (minute != e->bind_minute) {
		e->bind_minute = minute;
		e->bind_count = 0;
	}
	if (e->bind_count >= ENGINE_BINDING_EVENTS) {
		e->bind_suppressed++;
		return;
	}
	e->bind_count++;
	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_BINDING;
	ev.ts = iev->ts;
	if (iev->addr.family) {
		ev.has_host = true;
		ev.host = iev->addr;
	}
	if (mac_is_unicast(iev->mac)) {
		ev.has_mac = true;
		memcpy(ev.mac, iev->mac, MAC_LEN);
		struct qaddr id;
		addr_set_mac(&id, iev->mac);
		ev.inv = inventory_lookup(&e->c->inventory, &id);
	}
	if (!ev.inv && iev->addr.family)
		ev.inv = inventory_lookup(&e->c->inventory, &iev->addr);
	if (mac_is_unicast(iev->other)) {
		ev.has_other = true;
		memcpy(ev.other, iev->other, MAC_LEN);
	}
	ev.what = ident_event_name(iev->kind);
	ev.how = iev->how;
	ev.count = iev->count;
	ev.suppressed = e->bind_suppressed;
	e->bind_suppressed = 0;
	ev.by_uid = -1;
	if (iev->kind == IDENT_PORT_FLAP)
		snprintf(msg, sizeof(msg),
			 "seen behind ports %d and %d in turn: two machines, one MAC",
			 iev->other_port, iev->port);
	if (msg[0])
		ev.message = msg;
	output_event(e->out, &ev);
}

static void on_detection(void *arg, const struct detection *d)
{
	engine_detection(arg, d);
}

static void on_identity(void *arg, const struct ident_event *iev)
{
	engine_identity(arg, iev);
}

/* The replica's own events (what the kernel's neighbour tables tell it,
 * identity_neigh()): the records follow, but the alerts are the sensor's,
 * which hears the same and says it once. */
static void on_replica_identity(void *arg, const struct ident_event *iev)
{
	char msg[160];

	identity_refresh(arg, iev, msg, sizeof(msg));
}

/* In-process sensing: the engine's calls go straight to its own sense. */
static void local_set_block(void *arg, const struct qaddr *key, const struct detect_block *b,
			    usec_t at_us)
{
	struct engine *e = arg;

	(void)detect_set_block(e->det, key, b, at_us);
}

static void local_set_surveil(void *arg, const struct qaddr *key, usec_t until_us)
{
	struct engine *e = arg;

	(void)detect_set_surveil(e->det, key, until_us);
}

static void local_forget(void *arg, const struct qaddr *host)
{
	struct engine *e = arg;

	detect_forget(e->det, host);
	if (e->evidence)
		evidence_stop(e->evidence, host);
}

static void local_set_outbreak(void *arg, bool on)
{
	struct engine *e = arg;

	if (e->det)
		detect_set_outbreak(e->det, on);
}

static void local_set_frozen(void *arg, const uint8_t mac[MAC_LEN], bool frozen)
{
	/* The sense shares the engine's identity, frozen already. */
	(void)arg;
	(void)mac;
	(void)frozen;
}

static int local_evidence_start(void *arg, const struct qaddr *host, const struct qaddr *label,
				usec_t now, char *name, size_t len)
{
	struct engine *e = arg;

	if (!e->evidence)
		return -ENOTSUP;
	return evidence_start_as(e->evidence, host, label, now, name, len);
}

int engine_init(struct engine *e, const struct conf *c, enum run_mode mode, struct output *out,
		struct enforcer *enf, const struct engine_sensor *remote)
{
	struct siphash_key key;
	int r;

	memset(e, 0, sizeof(*e));
	e->c = c;
	e->mode = mode;
	e->out = out;
	e->enf = enf;
	e->next_expiry_us = USEC_INFINITY;
	r = siphash_key_random(&key);
	if (r < 0)
		return r;
	r = outside_rules_init(&e->orules);
	if (r < 0)
		return r;
	e->oq = calloc(ENGINE_QUEUE, sizeof(*e->oq));
	if (!e->oq) {
		outside_rules_fini(&e->orules);
		return -ENOMEM;
	}
	r = policy_init(&e->pol, c, mode);
	if (r < 0)
		return r;
	r = hostdb_init(&e->hosts, c->limits.max_blocked, &key);
	if (r < 0)
		goto fail;
	r = incidents_init(&e->incidents, ENGINE_MAX_INCIDENTS,
			   (usec_t)c->incident.window_s * USEC_PER_SEC);
	if (r < 0)
		goto fail;
	{
		struct ident_params ip = {
			.c = c,
			.offline = mode == MODE_OFFLINE,
			.cb = remote ? on_replica_identity : on_identity,
			.cb_arg = e,
		};
		e->id = identity_new(&ip, &key);
		if (!e->id) {
			r = -errno;
			goto fail;
		}
	}
	if (remote) {
		e->sensor = *remote;
		return 0;
	}
	{
		struct sense_params sp = {
			.c = c,
			.offline = mode == MODE_OFFLINE,
			.id = e->id,
			.on_detection = on_detection,
			.arg = e,
		};
		r = sense_init(&e->local, &sp);
		if (r < 0)
			goto fail;
	}
	e->det = e->local.det;
	e->sensor = (struct engine_sensor){
		.set_block = local_set_block,
		.set_surveil = local_set_surveil,
		.set_outbreak = local_set_outbreak,
		.forget = local_forget,
		.set_frozen = local_set_frozen,
		.evidence_start = local_evidence_start,
		.arg = e,
	};
	return 0;
fail:
	engine_fini(e);
	return r;
}

/* The index rule `name` has in c, for a rule index of the old config. */
static unsigned remap_rule(const struct conf *old, const struct conf *c, unsigned rule)
{
	int i;

	if (rule == DETECT_RULE_TRW || rule >= old->nrules)
		return rule;
	i = conf_rule_find(c, old->rules[rule].name);
	return i < 0 ? ENGINE_RULE_GONE : (unsigned)i;
}

/* Each rule's detection count follows its name to its index in c, so
 * that a scraper sees one counter per rule name go on; the counts of
 * rules c lacks go. */
static void remap_rule_counts(struct engine *e, const struct conf *old, const struct conf *c)
{
	uint64_t by_rule[DETECT_RULE_TRW + 1] = {0};

	for (unsigned i = 0; i <= DETECT_RULE_TRW; i++) {
		unsigned k;

		if (i >= old->nrules && i != DETECT_RULE_TRW)
			continue;
		k = remap_rule(old, c, i);
		if (k < c->nrules || k == DETECT_RULE_TRW)
			by_rule[k] = e->st.by_rule[i];
	}
	memcpy(e->st.by_rule, by_rule, sizeof(by_rule));
}

int engine_reconfigure(struct engine *e, const struct conf *c)
{
	const struct conf *old = e->c;
	struct sense ns;
	bool renew = false;
	int r;

	/* Queued decisions carry pointers into the old config. */
	engine_commit(e);
	if (e->det && detect_reconfigure(e->det, c) < 0) {
		struct sense_params sp = {
			.c = c,
			.offline = e->mode == MODE_OFFLINE,
			.id = e->id,
			.on_detection = on_detection,
			.arg = e,
		};
		r = sense_init(&ns, &sp);
		if (r < 0)
			return r;
		renew = true;
	}
	r = policy_reconfigure(&e->pol, c);
	if (r < 0) {
		if (renew)
			sense_fini(&ns);
		return r;
	}
	if (renew) {
		usec_t now = detect_now(e->det);
		struct sense was = e->local;

		ns.decode = e->local.decode;
		e->local = ns;
		sense_moved(&e->local, &was);
		sense_fini(&was);
		e->det = e->local.det;
		/* A new detector knows no block yet. */
		for (struct hostrec *rec = hostdb_first(&e->hosts); rec;
		     rec = hostdb_next(&e->hosts, rec))
			act_tell_detector(e, rec, now);
	}
	for (struct hostrec *rec = hostdb_first(&e->hosts); rec; rec = hostdb_next(&e->hosts, rec))
		for (unsigned i = 0; i < rec->nhits; i++)
			rec->hits[i].rule = (uint16_t)remap_rule(old, c, rec->hits[i].rule);
	for (unsigned i = 0; i < e->incidents.n; i++) {
		struct incident *in = &e->incidents.v[(e->incidents.head + i) % e->incidents.cap];
		int k = strcmp(in->rule_name, DETECT_TRW_NAME) == 0
				? DETECT_RULE_TRW
				: conf_rule_find(c, in->rule_name);

		/* Outside rules are no configuration's: they stay. */
		if (outside_rule_index(in->rule))
			continue;
		in->rule = k < 0 ? ENGINE_RULE_GONE : (unsigned)k;
	}
	incidents_reopen(&e->incidents);
	e->incidents.window_us = (usec_t)c->incident.window_s * USEC_PER_SEC;
	identity_reconfigure(e->id, c);
	remap_rule_counts(e, old, c);
	e->c = c;
	e->dirty = ENGINE_DIRTY_NOW;
	return 0;
}

void engine_fini(struct engine *e)
{
	if (e->det)
		sense_fini(&e->local);
	e->det = NULL;
	identity_free(e->id);
	e->id = NULL;
	incidents_fini(&e->incidents);
	hostdb_fini(&e->hosts);
	policy_fini(&e->pol);
	outside_rules_fini(&e->orules);
	free(e->oq);
	e->oq = NULL;
}

void engine_frame(struct engine *e, int dlt, const uint8_t *data, size_t caplen, size_t wirelen,
		  usec_t ts)
{
	e->local.evidence = e->evidence;
	sense_frame(&e->local, dlt, data, caplen, wirelen, ts);
}

void engine_frames(struct engine *e, const struct capture_packet *f, unsigned n)
{
	e->local.evidence = e->evidence;
	sense_frames(&e->local, f, n);
}

const struct decode_stats *engine_decode_stats(const struct engine *e)
{
	return &e->local.decode;
}

usec_t engine_now(const struct engine *e)
{
	return e->det ? detect_now(e->det) : e->now;
}

unsigned engine_purge(struct engine *e, uint64_t older_than_s, usec_t now, long by_uid,
		      const struct actor *by)
{
	usec_t before = now > older_than_s * USEC_PER_SEC ? now - older_than_s * USEC_PER_SEC : 0;
	struct hostrec *r, *next;
	struct event ev;
	unsigned n = 0;

	for (r = hostdb_first(&e->hosts); r; r = next) {
		next = hostdb_next(&e->hosts, r);
		if (!hostrec_purgeable(r, before, now))
			continue;
		/* Its row leaves the state database; its history stays
		 * there (statedb.h). */
		hostdb_remove(&e->hosts, r);
		n++;
	}
	if (n && e->dirty < ENGINE_DIRTY_SOON)
		e->dirty = ENGINE_DIRTY_SOON;
	if (n || by_uid >= 0) {
		memset(&ev, 0, sizeof(ev));
		ev.kind = EVENT_PURGE;
		ev.ts = now;
		ev.count = n;
		ev.older_than_s = older_than_s;
		ev.by_uid = by_uid;
		ev.by = by;
		output_event(e->out, &ev);
	}
	return n;
}

void engine_tick(struct engine *e, usec_t now)
{
	if (now > e->now)
		e->now = now;
	if (e->det)
		detect_advance(e->det, now);
	engine_commit(e);
	budget_tell(e, now);
	if (now >= e->next_expiry_us)
		act_expire(e, now);
	/* Once a minute is precise enough for a period counted in days,
	 * and a walk over the registry that often costs nothing. */
	if (e->c->state.purge_released_s && now >= e->next_purge_us) {
		e->next_purge_us = now + 60 * USEC_PER_SEC;
		(void)engine_purge(e, e->c->state.purge_released_s, now, -1, NULL);
	}
}

void engine_flush(struct engine *e)
{
	if (e->det)
		detect_flush(e->det);
	engine_commit(e);
}
