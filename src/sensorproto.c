/* The sensor's messages: declarations, encoding, and the parent's checks. */
#include "sensorproto.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FIXED(t, s, withfd)                                                             \
	{                                                                               \
		.type = (t), .min_len = sizeof(s), .max_len = sizeof(s), .fd = (withfd) \
	}

const struct ipc_type sp_parent_types[] = {
	{.type = SP_READY, .min_len = 0, .max_len = 0},
	FIXED(SP_DETECTION, struct sp_detection, false),
	{.type = SP_MACHINE, .min_len = SP_MACHINE_MIN, .max_len = sizeof(struct ident_snap)},
	FIXED(SP_IDENT, struct sp_ident, false),
	FIXED(SP_STATS, struct sp_stats, false),
	FIXED(SP_CAPFAIL, struct sp_capfail, false),
	FIXED(SP_EVIDENCE_CLOSED, struct sp_evclosed, false),
};
const unsigned sp_parent_ntypes = ARRAY_SIZE(sp_parent_types);

const struct ipc_type sp_sensor_types[] = {
	FIXED(SP_START, struct sp_start, true),
	{.type = SP_BLOCK,
	 .min_len = sizeof(struct sp_block),
	 .max_len = SP_BLOCK_MAX * sizeof(struct sp_block)},
	FIXED(SP_FORGET, struct sp_key, false),
	FIXED(SP_FROZEN, struct sp_frozen, false),
	FIXED(SP_NEIGH, struct sp_neigh, false),
	FIXED(SP_FDB, struct sp_fdb, false),
	FIXED(SP_OWN_MACS, struct sp_own_macs, false),
	FIXED(SP_EVIDENCE, struct sp_evidence, true),
	FIXED(SP_SURVEIL, struct sp_surveil, false),
	FIXED(SP_OUTBREAK, struct sp_outbreak, false),
};
const unsigned sp_sensor_ntypes = ARRAY_SIZE(sp_sensor_types);

const char *const sp_proto_names[] = {"ip", "tcp", "udp", "icmp", "icmpv6", "arp"};
const unsigned sp_proto_count = ARRAY_SIZE(sp_proto_names);
const char *const sp_how_names[] = {"?",      "age",	   "arp", "delivery", "dhcp", "fdb",
				    "frames", "inventory", "ip",  "kernel",   "ndp",  "new"};
const unsigned sp_how_count = ARRAY_SIZE(sp_how_names);

/* A detection says at most this much about the past: the longest window
 * is far shorter, and patient zero needs no older first probe. */
#define PAST_MAX_US   (7 * 24 * 3600 * USEC_PER_SEC)
#define FUTURE_MAX_US USEC_PER_SEC

static uint8_t name_index(const char *const *names, unsigned n, const char *s)
{
	for (unsigned i = 0; s && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (uint8_t)i;
	return 0;
}

void sp_detection_encode(const struct detection *d, struct sp_detection *m)
{
	memset(m, 0, sizeof(*m));
	m->host = d->host;
	m->addr = d->addr;
	m->target = d->target;
	m->severity = (uint8_t)d->severity;
	m->proto = name_index(sp_proto_names, sp_proto_count, d->proto);
	m->kind = (uint8_t)d->kind;
	m->nports = (uint8_t)MIN(d->nports, DETECT_MAX_PORTS);
	m->ports_overflow = d->ports_overflow;
	m->fixed_ports = d->fixed_ports;
	memcpy(m->ports, d->ports, m->nports * sizeof(m->ports[0]));
	memcpy(m->port_protos, d->port_protos, m->nports);
	m->rule = d->rule;
	m->ndark = (uint8_t)MIN(d->ndark, DETECT_DARK_MAX);
	memcpy(m->dark, d->dark, m->ndark * sizeof(m->dark[0]));
	m->peer = d->peer;
	m->count = d->count;
	m->window_s = d->window_s;
	m->failures = d->failures;
	m->successes = d->successes;
	m->roles = d->roles;
	m->probes = d->probes;
	m->first_probe_us = (int64_t)d->first_probe_us;
	m->ts_us = (int64_t)d->ts_us;
	m->llr = d->llr;
	m->nby = (uint8_t)MIN(d->nby, PROBES_BY_MAX);
	for (unsigned i = 0; i < m->nby; i++) {
		m->by[i].from = d->by[i].from;
		m->by[i].proto = d->by[i].proto;
		m->by[i].unverified = d->by[i].unverified;
		m->by[i].port = d->by[i].port;
		m->by[i].first_us = (int64_t)d->by[i].first_us;
	}
}

void sp_ident_encode(const struct ident_event *ev, struct sp_ident *m)
{
	memset(m, 0, sizeof(*m));
	m->addr = ev->addr;
	m->kind = (uint8_t)ev->kind;
	m->how = name_index(sp_how_names, sp_how_count, ev->how);
	memcpy(m->mac, ev->mac, MAC_LEN);
	memcpy(m->other, ev->other, MAC_LEN);
	m->count = ev->count;
	m->port = ev->port;
	m->other_port = ev->other_port;
	m->ts = (int64_t)ev->ts;
}

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

static bool addr_valid(const struct qaddr *a, bool mac_ok, bool none_ok)
{
	static const uint8_t zero[16];

	if (a->family == 0)
		return none_ok && memcmp(a->b, zero, sizeof(zero)) == 0;
	if (a->family == AF_MAC)
		return mac_ok && memcmp(a->b + MAC_LEN, zero, sizeof(zero) - MAC_LEN) == 0;
	if (a->family == AF_INET)
		return memcmp(a->b + 4, zero, sizeof(zero) - 4) == 0;
	return a->family == AF_INET6;
}

/* A detection's one destination (detection.peer): brute force against one
 * server, which the parent contains towards that server only.  What the
 * detector makes of it (detect.h): one port of the rule's own, TCP or
 * UDP, the server as the target; an address of the same family as the
 * source, and one a host can talk to.  (The gateway's own addresses are
 * the caller's to refuse: sensorlink.) */
static int peer_check(const struct sp_detection *m, char *err, size_t errlen)
{
	if (!addr_valid(&m->peer, false, true))
		return bad(err, errlen, "detection: bad destination");
	if (!m->peer.family)
		return 0;
	if (m->peer.family != m->addr.family || !addr_is_unicast(&m->peer))
		return bad(err, errlen,
			   "detection: a destination not of the source's family, or not "
			   "unicast");
	if (!m->fixed_ports || m->nports != 1 || m->ports_overflow ||
	    (m->port_protos[0] != PROTO_TCP && m->port_protos[0] != PROTO_UDP) ||
	    m->ports[0] == 0 || !addr_eq(&m->target, &m->peer))
		return bad(err, errlen,
			   "detection: a destination without its one port, or not the target");
	return 0;
}

/* The time of a message: not ahead of the parent's clock (what it does
 * with "now" sets TTL deadlines), nor older than anything the sensor can
 * know about. */
static bool time_valid(int64_t t, usec_t now)
{
	return t > 0 && (usec_t)t <= now + FUTURE_MAX_US && (usec_t)t + PAST_MAX_US >= now;
}

/* A port some worm rule of c watches (detect_set_contact()). */
static bool worm_port(const struct conf *c, unsigned proto, uint16_t port)
{
	for (unsigned i = 0; i < c->nrules; i++) {
		const struct rule *r = &c->rules[i];

		if (!r->enabled || r->type != RULE_HORIZONTAL || r->severity < SEV_MEDIUM ||
		    !(r->protos & proto))
			continue;
		for (unsigned j = 0; j < r->nports; j++)
			if (r->ports[j] == port)
				return true;
	}
	return false;
}

/* Who probed the host (detection.by): what the sensor's record can hold
 * (probes.h), and nothing the parent would name wrongly: a source that is
 * a MAC exactly when it is verified, not the host itself, on a port a
 * worm rule watches, each source once, in time order, every contact
 * before the detection; unused entries zero. */
static int by_check(const struct sp_detection *m, const struct conf *c, usec_t now, char *err,
		    size_t errlen)
{
	static const struct sp_edge zero;

	if (m->nby > PROBES_BY_MAX)
		return bad(err, errlen, "detection: %u probe edges", m->nby);
	for (unsigned i = 0; i < PROBES_BY_MAX; i++) {
		const struct sp_edge *e = &m->by[i];

		if (i >= m->nby) {
			if (memcmp(e, &zero, sizeof(zero)) != 0)
				return bad(err, errlen, "detection: an unused probe edge not zero");
			continue;
		}
		if (!addr_valid(&e->from, true, false) || e->unverified > 1 ||
		    (e->unverified != 0) == addr_is_mac(&e->from) || addr_eq(&e->from, &m->host))
			return bad(err, errlen, "detection: a probe edge's bad source");
		if ((e->proto != PROTO_TCP && e->proto != PROTO_UDP) || e->port == 0 ||
		    !worm_port(c, e->proto, e->port))
			return bad(err, errlen,
				   "detection: a probe edge on a port no rule watches");
		if (!time_valid(e->first_us, now) || e->first_us >= m->ts_us ||
		    (i > 0 && e->first_us < m->by[i - 1].first_us))
			return bad(err, errlen, "detection: a probe edge's time out of range");
		for (unsigned j = 0; j < i; j++)
			if (addr_eq(&m->by[j].from, &e->from))
				return bad(err, errlen, "detection: a probe edge's source twice");
		if (e->pad || e->pad2[0] || e->pad2[1])
			return bad(err, errlen, "detection: a probe edge's padding");
	}
	return 0;
}

int sp_detection_decode(const struct sp_detection *m, const struct conf *c, usec_t now,
			struct detection *d, char *err, size_t errlen)
{
	enum severity most;

	memset(d, 0, sizeof(*d));
	if (!addr_valid(&m->host, true, false))
		return bad(err, errlen, "detection: bad host (family %u)", m->host.family);
	if (!addr_valid(&m->addr, false, true) || !addr_valid(&m->target, true, true))
		return bad(err, errlen, "detection: bad address");
	if (m->rule == DETECT_RULE_TRW) {
		if (!c->scan.enabled)
			return bad(err, errlen, "detection: TRW is not enabled");
		most = MAX(c->scan.severity, c->scan.other_ports_severity);
	} else if (m->rule < c->nrules && c->rules[m->rule].enabled) {
		most = c->rules[m->rule].severity;
	} else {
		return bad(err, errlen, "detection: no rule %u enabled", m->rule);
	}
	/* The sensor cannot ask for more than the configuration gives the
	 * rule. */
	if (m->severity < SEV_LOW || m->severity > most)
		return bad(err, errlen, "detection: severity %u beyond the rule's %u", m->severity,
			   most);
	if (m->proto >= sp_proto_count || m->kind > EVIDENCE_CONNECTIONS)
		return bad(err, errlen, "detection: bad protocol or kind");
	if (m->nports > DETECT_MAX_PORTS || m->ports_overflow > 1 || m->fixed_ports > 1)
		return bad(err, errlen, "detection: bad port list");
	for (unsigned i = 0; i < m->nports; i++)
		if (!m->port_protos[i] || (m->port_protos[i] & ~(PROTO_TCP | PROTO_UDP)))
			return bad(err, errlen, "detection: bad port protocol");
	if (!time_valid(m->ts_us, now) || !time_valid(m->first_probe_us, now) ||
	    m->first_probe_us > m->ts_us)
		return bad(err, errlen, "detection: time out of range");
	if (!isfinite(m->llr))
		return bad(err, errlen, "detection: bad likelihood ratio");
	/* Dark addresses only for a dark-space rule, and only protected
	 * ones: what the parent prints as evidence must be what the rule
	 * can see. */
	if (m->ndark > DETECT_DARK_MAX ||
	    (m->ndark && (m->rule == DETECT_RULE_TRW || !c->rules[m->rule].dark)))
		return bad(err, errlen, "detection: dark addresses for a rule without dark space");
	for (unsigned i = 0; i < m->ndark; i++)
		if (!addr_valid(&m->dark[i], false, false) ||
		    !prefix_list_contains(&c->networks.protected_, &m->dark[i]))
			return bad(err, errlen,
				   "detection: a dark address outside the protected "
				   "networks");
	if (peer_check(m, err, errlen) < 0)
		return -EPROTO;
	if (by_check(m, c, now, err, errlen) < 0)
		return -EPROTO;
	d->host = m->host;
	d->addr = m->addr;
	d->target = m->target;
	d->peer = m->peer;
	memcpy(d->dark, m->dark, m->ndark * sizeof(d->dark[0]));
	d->ndark = m->ndark;
	d->rule = m->rule;
	d->rule_name = m->rule == DETECT_RULE_TRW ? DETECT_TRW_NAME : c->rules[m->rule].name;
	d->severity = (enum severity)m->severity;
	d->proto = sp_proto_names[m->proto];
	memcpy(d->ports, m->ports, m->nports * sizeof(d->ports[0]));
	memcpy(d->port_protos, m->port_protos, m->nports);
	d->nports = m->nports;
	d->ports_overflow = m->ports_overflow;
	d->fixed_ports = m->fixed_ports;
	d->kind = (enum evidence_kind)m->kind;
	d->count = m->count;
	d->window_s = m->window_s;
	d->failures = m->failures;
	d->successes = m->successes;
	d->llr = m->llr;
	d->probes = m->probes;
	d->first_probe_us = (usec_t)m->first_probe_us;
	d->ts_us = (usec_t)m->ts_us;
	d->roles = m->roles & ROLE_ALL;
	d->nby = m->nby;
	for (unsigned i = 0; i < m->nby; i++) {
		d->by[i].from = m->by[i].from;
		d->by[i].proto = m->by[i].proto;
		d->by[i].unverified = m->by[i].unverified;
		d->by[i].port = m->by[i].port;
		d->by[i].first_us = (usec_t)m->by[i].first_us;
	}
	return 0;
}

static bool mac_zero(const uint8_t mac[MAC_LEN])
{
	static const uint8_t zero[MAC_LEN];

	return memcmp(mac, zero, MAC_LEN) == 0;
}

int sp_ident_decode(const struct sp_ident *m, usec_t now, struct ident_event *ev, char *err,
		    size_t errlen)
{
	memset(ev, 0, sizeof(*ev));
	if (m->kind > IDENT_MAC_FLOOD || m->how >= sp_how_count)
		return bad(err, errlen, "identity event: bad kind or source");
	if (!addr_valid(&m->addr, false, true))
		return bad(err, errlen, "identity event: bad address");
	if (!time_valid(m->ts, now))
		return bad(err, errlen, "identity event: time out of range");
	/* Every kind but a MAC flood is about one machine. */
	if (m->kind != IDENT_MAC_FLOOD && (mac_zero(m->mac) || !mac_is_unicast(m->mac)))
		return bad(err, errlen, "identity event: bad MAC");
	ev->kind = (enum ident_event_kind)m->kind;
	ev->ts = (usec_t)m->ts;
	ev->addr = m->addr;
	memcpy(ev->mac, m->mac, MAC_LEN);
	memcpy(ev->other, m->other, MAC_LEN);
	ev->how = sp_how_names[m->how];
	ev->count = m->count;
	ev->port = m->port;
	ev->other_port = m->other_port;
	return 0;
}

int sp_stats_check(struct sp_stats *m, unsigned nifaces, char *err, size_t errlen)
{
	uint8_t b;

	if (m->nifaces != nifaces)
		return bad(err, errlen, "stats: %u interfaces, not %u", m->nifaces, nifaces);
	for (unsigned i = 0; i < nifaces; i++)
		if (m->iface[i].up > 1)
			return bad(err, errlen, "stats: bad interface state");
	/* A bool must hold 0 or 1 before it is read. */
	memcpy(&b, &m->evidence.capped, 1);
	if (b > 1)
		return bad(err, errlen, "stats: bad evidence state");
	return 0;
}

int sp_capfail_check(struct sp_capfail *m, unsigned nifaces, char *err, size_t errlen)
{
	size_t n = strnlen(m->text, sizeof(m->text));

	if (m->iface >= nifaces || m->error >= 0)
		return bad(err, errlen, "capture failure: bad interface or error");
	if (n == sizeof(m->text))
		return bad(err, errlen, "capture failure: text not terminated");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)m->text[i] < 0x20 || (unsigned char)m->text[i] > 0x7e)
			m->text[i] = '?';
	return 0;
}

int sp_machine_check(const struct ident_snap *s, size_t len)
{
	if (s->nbind > IDENT_SNAP_MAX || len != sp_machine_len(s))
		return -EPROTO;
	return 0;
}

int sp_block_check(const struct sp_block *m)
{
	if (!addr_valid(&m->key, true, false) || m->has > 1 || m->at_us < 0)
		return -EPROTO;
	if (m->b.nports > DETECT_BLOCK_PORTS)
		return -EPROTO;
	/* A destination only for a port of TCP or UDP, and one that is an
	 * address. */
	for (unsigned i = 0; i < m->b.nports; i++) {
		unsigned to = m->b.to[i];

		if (!to)
			continue;
		if (to > DETECT_BLOCK_DESTS || !m->b.dests[to - 1].family ||
		    !addr_valid(&m->b.dests[to - 1], false, false) ||
		    (m->b.protos[i] != IPPROTO_TCP && m->b.protos[i] != IPPROTO_UDP))
			return -EPROTO;
	}
	return 0;
}

int sp_surveil_check(const struct sp_surveil *m)
{
	return addr_valid(&m->key, true, false) && m->until_us >= 0 ? 0 : -EPROTO;
}

int sp_outbreak_check(const struct sp_outbreak *m)
{
	for (unsigned i = 0; i < sizeof(m->pad); i++)
		if (m->pad[i])
			return -EPROTO;
	return m->on <= 1 ? 0 : -EPROTO;
}

int sp_key_check(const struct sp_key *m)
{
	return addr_valid(&m->key, true, false) ? 0 : -EPROTO;
}

int sp_neigh_check(const struct sp_neigh *m)
{
	if (!addr_valid(&m->addr, false, false) || m->state > IDN_PERMANENT || m->ts < 0)
		return -EPROTO;
	return 0;
}

int sp_own_macs_check(const struct sp_own_macs *m)
{
	return m->n <= SP_OWN_MACS_MAX ? 0 : -EPROTO;
}
