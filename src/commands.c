/* The control commands: what quarantinectl asks, answered inside the
 * daemon's loop and rendered by the daemon (text tables, or JSON). */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "avcsv.h"
#include "daemon.h"
#include "event.h"
#include "log.h"
#include "netmon.h"
#include "report.h"
#include "suggest.h"

#define CHUNK 256

struct cmdctx {
	struct daemon *d;
	const struct ctl_request *req;
	const struct ctl_peer *peer;
	struct ctl_out *out;
	char *msg;
	size_t msglen;
	bool json;
	/* What a sentence answer says besides its text, for --json: JSON
	 * members (",\"host\":\"10.1.0.5\"...") that commands_handle() puts
	 * in {"ok":true,"message":...} when the command wrote no body. */
	char fields[512];
	size_t nfields;
	/* The operator's names: the claim from the request at once, the
	 * user name of the peer's uid when a command first records it. */
	struct actor by;
	bool by_resolved;
};

/* The names recorded with what this command does (actor.h).  The user
 * name is looked up only by commands that record one, so that a name
 * service that answers slowly never delays status, list or show. */
static const struct actor *operator_names(struct cmdctx *x)
{
	if (!x->by_resolved) {
		actor_resolve(&x->by, x->peer->uid);
		x->by_resolved = true;
	}
	return &x->by;
}

__attribute__((format(printf, 3, 4))) static int reply(struct cmdctx *x, int status,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->msg, x->msglen, fmt, ap);
	va_end(ap);
	return status;
}

/* A member of the --json answer to a sentence (cmdctx.fields).  Values
 * are our own words, addresses and numbers, so they are not escaped: one
 * that holds a quote, a backslash or a control byte is left out. */
__attribute__((format(printf, 3, 4))) static void field(struct cmdctx *x, const char *key,
							const char *fmt, ...)
{
	char v[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(v) || strpbrk(v, "\\\n\t"))
		return;
	n = snprintf(x->fields + x->nfields, sizeof(x->fields) - x->nfields, ",\"%s\":%s", key, v);
	if (n > 0 && x->nfields + (size_t)n < sizeof(x->fields))
		x->nfields += (size_t)n;
	else
		x->fields[x->nfields] = '\0';
}

static void field_str(struct cmdctx *x, const char *key, const char *v)
{
	if (!strpbrk(v, "\""))
		field(x, key, "\"%s\"", v);
}

static void field_bool(struct cmdctx *x, const char *key, bool v)
{
	field(x, key, "%s", v ? "true" : "false");
}

static void json_str(struct ctl_out *o, const char *s)
{
	ctl_out_write(o, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			ctl_out_printf(o, "\\%c", *c);
		else if (*c < 0x20)
			ctl_out_printf(o, "\\u%04x", *c);
		else
			ctl_out_write(o, (const char *)c, 1);
	}
	ctl_out_write(o, "\"", 1);
}

static const char *ts_str(usec_t ts, char buf[32])
{
	if (!ts) {
		strcpy(buf, "-");
		return buf;
	}
	return event_format_ts(ts, buf);
}

/* 2026-01-15T09:00:05Z: RFC 3339 without the microseconds. */
static const char *ts_short(usec_t ts, char buf[32])
{
	ts_str(ts, buf);
	if (ts && strlen(buf) == 27) {
		buf[19] = 'Z';
		buf[20] = '\0';
	}
	return buf;
}

static const char *rule_name(const struct daemon *d, unsigned rule)
{
	const char *n = engine_rule_name(&d->eng, rule);

	return n ? n : "?";
}

/* What a HOST argument names: an IPv4 or IPv6 address, a MAC, or a
 * machine the inventory names.  0 with *ret set (an address or a MAC),
 * else the reply's status. */
static int parse_target(struct cmdctx *x, const char *h, struct qaddr *ret)
{
	const struct inv_entry *inv;

	if (addr_parse_any(h, ret) == 0)
		return 0;
	inv = inventory_find_name(&x->d->c->inventory, h);
	if (!inv)
		return reply(x, 2, "'%s' is not an address, a MAC or a name in the inventory", h);
	if (inv->has_mac) {
		addr_set_mac(ret, inv->mac);
		return 0;
	}
	if (inv->has_net && inv->net.plen == addr_bits(&inv->net.addr)) {
		*ret = inv->net.addr;
		return 0;
	}
	return reply(x, 2, "'%s' names a network in the inventory, not one machine", h);
}

static int parse_host(struct cmdctx *x, struct qaddr *ret)
{
	const char *h = ctl_request_get(x->req, "host");

	if (!h)
		return reply(x, 2, "%s needs a HOST", x->req->cmd);
	return parse_target(x, h, ret);
}

/* The record a HOST names: a MAC's machine; an address held by a record,
 * or owned by a machine (then that machine, holding the address from now:
 * the operator named it); else the address's own.  create: make it. */
static struct hostrec *target_record(struct daemon *d, const struct qaddr *t, bool create)
{
	struct engine *e = &d->eng;
	usec_t now = daemon_wall_us();
	struct hostrec *r;
	uint8_t mac[MAC_LEN];

	if (!addr_is_mac(t)) {
		r = hostdb_find_addr(&e->hosts, t);
		if (r && !r->merged) {
			engine_machine_refresh(e, r, now);
			return r;
		}
		if (e->id && identity_binding(e->id, t, mac) >= BIND_TENTATIVE) {
			struct qaddr id;

			addr_set_mac(&id, mac);
			r = engine_record(e, &id, create, now);
			if (r && create)
				(void)engine_hold_address(e, r, t, now);
			if (r)
				return r;
		}
	}
	return engine_record(e, t, create, now);
}

/* Why the host an operator names may never be blocked, or NULL: the
 * policy's answer for an address (engine_never_reason() asks the same
 * of a record); for a MAC, the gateway's own or a router's. */
static const char *never_block_reason(struct daemon *d, const struct qaddr *a)
{
	if (addr_is_mac(a)) {
		unsigned f = d->eng.id ? identity_machine(d->eng.id, a->b) : 0;

		if (d->neigh && neighmon_is_own_mac(d->neigh, a->b))
			return "one of the gateway's own MACs";
		if (f & (IDM_ROUTER | IDM_RELAY))
			return "a router or relay (never blocked by MAC; block the hosts behind it "
			       "by address)";
		return NULL;
	}
	return policy_never_reason(&d->eng.pol, a, d->nm && netmon_is_self(d->nm, a));
}

/* Why the host of record r may not be blocked, or NULL: the engine's
 * answer, the one every automatic decision, restore and reload gets. */
static const char *record_never_reason(struct daemon *d, const struct hostrec *r)
{
	return engine_never_reason(&d->eng, r);
}

/* The sensor's state in status: running (ready), starting (not yet
 * ready), restarting (dead, a new one is due after its backoff) or down. */
static const char *sensor_state(const struct sensorlink *l)
{
	if (l->pid)
		return l->ready ? "running" : "starting";
	return l->restart_at ? "restarting" : "down";
}

/* ---- the feeds reader in status (feedlink.h) ---- */

static void feeds_status_json(struct daemon *d, struct ctl_out *o)
{
	const struct feedlink *l = &d->feeds;

	ctl_out_printf(o,
		       ",\"feeds\":{\"state\":\"%s\",\"pid\":%d,\"starts\":%llu,\"deaths\":%llu,"
		       "\"protocol_errors\":%llu,\"sources\":[",
		       feedlink_state(l), (int)l->pid, (unsigned long long)l->starts,
		       (unsigned long long)l->deaths, (unsigned long long)l->protocol_errors);
	for (unsigned i = 0; i < d->c->feeds.n; i++) {
		const struct feed_conf *f = &d->c->feeds.feed[i];
		const struct fp_feed_stats *s = &l->stats.feed[i];
		const struct feedlink_counts *n = &l->counts[i];

		ctl_out_printf(o, "%s{\"name\":", i ? "," : "");
		json_str(o, f->name);
		ctl_out_printf(
			o, ",\"kind\":\"%s\",\"%s\":", f->kind == FEED_ZEEK ? "zeek" : "suricata",
			f->path[0] ? "path" : "socket");
		json_str(o, f->path[0] ? f->path : f->socket);
		ctl_out_printf(
			o,
			",\"state\":\"%s\",\"error\":%d,\"lines\":%llu,\"bytes\":%llu,"
			"\"alerts\":%llu,\"detections\":%llu,\"taken\":%llu,\"duplicates\":%llu,"
			"\"refused\":%llu,\"over_budget\":%llu,\"ignored\":%llu,\"not_ours\":%llu,"
			"\"inbound\":%llu,\"other_records\":%llu,\"errors\":%llu,\"too_long\":%llu,"
			"\"rotations\":%llu,\"truncations\":%llu,\"clients\":%llu,\"lost\":%llu}",
			l->have_stats ? fp_state_name((enum fp_feed_state)s->state) : "starting",
			(int)s->error, (unsigned long long)s->lines, (unsigned long long)s->bytes,
			(unsigned long long)s->alerts, (unsigned long long)s->sent,
			(unsigned long long)n->taken, (unsigned long long)n->duplicate,
			(unsigned long long)n->refused, (unsigned long long)n->over_budget,
			(unsigned long long)s->ignored, (unsigned long long)s->not_ours,
			(unsigned long long)s->inbound, (unsigned long long)s->other,
			(unsigned long long)s->errors, (unsigned long long)s->too_long,
			(unsigned long long)s->rotations, (unsigned long long)s->truncations,
			(unsigned long long)s->clients, (unsigned long long)s->lost);
	}
	ctl_out_printf(o, "]}");
}

static void feeds_status_text(struct daemon *d, struct ctl_out *o)
{
	const struct feedlink *l = &d->feeds;

	if (!feedlink_wanted(l))
		return;
	ctl_out_printf(o, "feeds reader:    %s", feedlink_state(l));
	if (l->pid)
		ctl_out_printf(o, " (pid %d)", (int)l->pid);
	ctl_out_printf(o, ", started %llu times, %llu deaths, %llu protocol errors\n",
		       (unsigned long long)l->starts, (unsigned long long)l->deaths,
		       (unsigned long long)l->protocol_errors);
	for (unsigned i = 0; i < d->c->feeds.n; i++) {
		const struct feed_conf *f = &d->c->feeds.feed[i];
		const struct fp_feed_stats *s = &l->stats.feed[i];
		char err[80] = "";

		if (s->state == FP_STATE_ERROR && s->error)
			snprintf(err, sizeof(err), " (%s)", strerror(-s->error));
		ctl_out_printf(o,
			       "feed %-10s  %s %s, %s%s: %llu lines, %llu alerts, %llu detections, "
			       "%llu ignored, %llu errors\n",
			       f->name, f->kind == FEED_ZEEK ? "zeek" : "suricata",
			       f->path[0] ? f->path : f->socket,
			       l->have_stats ? fp_state_name((enum fp_feed_state)s->state)
					     : "starting",
			       err, (unsigned long long)s->lines, (unsigned long long)s->alerts,
			       (unsigned long long)s->sent, (unsigned long long)s->ignored,
			       (unsigned long long)s->errors);
	}
}

/* ---- rendering a host ---- */

static void host_rules(const struct daemon *d, const struct hostrec *r, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < r->nhits && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : "",
				      rule_name(d, r->hits[i].rule));
	if (!r->nhits)
		snprintf(buf, len, "-");
}

static const char *hport_proto(const struct hport *p)
{
	return p->proto == IPPROTO_TCP ? "tcp" : p->proto == IPPROTO_UDP ? "udp" : "icmp";
}

/* Ports as text: "tcp/445,icmp", a port towards one destination as
 * "tcp/22 to 10.1.2.3"; with_to false leaves those out (JSON has them
 * apart, host_json_ports_to()). */
static void host_ports(const struct hostrec *r, const struct hport *v, unsigned nv, bool with_to,
		       char *buf, size_t len)
{
	char ab[ADDR_STRLEN];
	size_t n = 0;
	bool first = true;

	buf[0] = '\0';
	for (unsigned i = 0; i < nv && n < len; i++) {
		const struct qaddr *to = hostrec_port_to(r, &v[i]);

		if (to && !with_to)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", first ? "" : ",",
				      hport_proto(&v[i]));
		if (v[i].port && n < len)
			n += (size_t)snprintf(buf + n, len - n, "/%u", v[i].port);
		if (to && n < len)
			n += (size_t)snprintf(buf + n, len - n, " to %s", addr_ntop(to, ab));
		first = false;
	}
}

/* JSON: ,"key":[{"proto":"tcp","port":22,"to":"10.1.2.3"},...] for the
 * ports towards one destination; nothing when there are none (the
 * "ports" strings keep the ports towards everyone, as before). */
static void host_json_ports_to(struct ctl_out *o, const char *key, const struct hostrec *r,
			       const struct hport *v, unsigned nv)
{
	char ab[ADDR_STRLEN];
	unsigned n = 0;

	for (unsigned i = 0; i < nv; i++) {
		const struct qaddr *to = hostrec_port_to(r, &v[i]);

		if (!to)
			continue;
		if (n++)
			ctl_out_printf(o, ",");
		else
			ctl_out_printf(o, ",\"%s\":[", key);
		ctl_out_printf(o, "{\"proto\":\"%s\",\"port\":%u,\"to\":\"%s\"}",
			       hport_proto(&v[i]), v[i].port, addr_ntop(to, ab));
	}
	if (n)
		ctl_out_printf(o, "]");
}

/* The address a row of r shows: its own, or its MAC when it has none. */
static const struct qaddr *host_name(const struct hostrec *r)
{
	return r->addr.family ? &r->addr : &r->id;
}

/* "mac" and "addresses" of r (SPEC section 9): a machine's MAC and every
 * address it owns; an address's record: its address, and the MAC of the
 * machine that address is bound to, if any. */
static void host_json_machine(struct daemon *d, struct ctl_out *o, const struct hostrec *r)
{
	struct qaddr v[HOST_MAX_ADDRS];
	char a[ADDR_STRLEN], mb[MAC_STRLEN];
	uint8_t mac[MAC_LEN];
	unsigned n;

	if (hostrec_is_machine(r)) {
		ctl_out_printf(o, ",\"mac\":\"%s\"", mac_ntop(r->id.b, mb));
		n = engine_machine_addresses(&d->eng, r, v, ARRAY_SIZE(v));
	} else {
		if (d->eng.id && identity_binding(d->eng.id, &r->addr, mac) >= BIND_TENTATIVE)
			ctl_out_printf(o, ",\"mac\":\"%s\"", mac_ntop(mac, mb));
		v[0] = r->addr;
		n = 1;
	}
	ctl_out_printf(o, ",\"addresses\":[");
	for (unsigned i = 0; i < n; i++)
		ctl_out_printf(o, "%s\"%s\"", i ? "," : "", addr_ntop(&v[i], a));
	ctl_out_printf(o, "]");
}

static const char *machine_flags(unsigned f, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{IDM_ROUTER, "router"}, {IDM_RELAY, "relay"},	      {IDM_FROZEN, "blocked"},
		{IDM_FORGER, "forger"}, {IDM_CONTESTED, "contested"}, {IDM_SELF, "gateway"},
	};
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < ARRAY_SIZE(names) && n < len; i++)
		if (f & names[i].bit)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "",
					      names[i].name);
	return buf;
}

/* show --json: what identity says of the machine and each address. */
static void host_json_identity(struct daemon *d, struct ctl_out *o, const struct hostrec *r)
{
	struct qaddr v[HOST_MAX_ADDRS];
	char a[ADDR_STRLEN], fl[96], mb[MAC_STRLEN];
	unsigned n, f;

	if (!d->eng.id)
		return;
	if (hostrec_is_machine(r)) {
		f = identity_machine(d->eng.id, r->id.b);
		ctl_out_printf(o, ",\"machine\":\"%s\",\"mac_blocked\":%s",
			       machine_flags(f, fl, sizeof(fl)), r->kmac ? "true" : "false");
		n = engine_machine_addresses(&d->eng, r, v, ARRAY_SIZE(v));
	} else {
		v[0] = r->addr;
		n = 1;
	}
	ctl_out_printf(o, ",\"bindings\":[");
	for (unsigned i = 0; i < n; i++) {
		uint8_t mac[MAC_LEN];
		enum bind_state st = identity_binding(d->eng.id, &v[i], mac);
		int k = hostrec_addr_index(r, &v[i]);

		ctl_out_printf(o, "%s{\"address\":\"%s\",\"trust\":\"%s\"", i ? "," : "",
			       addr_ntop(&v[i], a), bind_state_name(st));
		if (st != BIND_NONE)
			ctl_out_printf(o, ",\"mac\":\"%s\"", mac_ntop(mac, mb));
		ctl_out_printf(o, ",\"blocked\":%s}",
			       k >= 0 && r->addrs[k].kiso ? "true" : "false");
	}
	ctl_out_printf(o, "]");
}

/* Where a host's block came from: the origins of the detections of its
 * last episode (the history's detection lines after the release before
 * them; a released host's, those of the block it was released from), each
 * once, as events say them: "self" for this gateway's detectors, an
 * outside tool's name, "gateway:NAME" for another gateway's decision
 * (hostdb_hist_set_outside()).  An operator's block here is "operator".
 * The history keeps its first and last lines (HOST_MAX_HIST): a long
 * episode may have lost its middle, never its latest detections. */
#define HOST_ORIGINS_MAX 8

struct host_origins {
	const char *v[HOST_ORIGINS_MAX]; /* borrowed from the record's history */
	unsigned n, more;
	unsigned gateways; /* of v, those that are "gateway:NAME" */
};

static void origins_add(struct host_origins *o, const char *label)
{
	for (unsigned i = 0; i < o->n; i++)
		if (strcmp(o->v[i], label) == 0)
			return;
	if (o->n == HOST_ORIGINS_MAX) {
		o->more++;
		return;
	}
	o->v[o->n++] = label;
	if (strncmp(label, "gateway:", 8) == 0)
		o->gateways++;
}

static void host_origins(const struct hostrec *r, struct host_origins *ret)
{
	bool in = false;

	memset(ret, 0, sizeof(*ret));
	for (unsigned i = r->nhist; i-- > 0;) {
		const struct hist *h = &r->hist[i];

		if (h->kind == HIST_DETECT) {
			in = true;
			origins_add(ret, hist_source(h));
		} else if (h->kind == HIST_ACTION && h->uid >= 0 && h->level != LEVEL_NONE) {
			in = true;
			origins_add(ret, "operator");
		} else if (in && (h->kind == HIST_RELEASE || h->kind == HIST_MARK)) {
			break;
		}
	}
}

/* The origin of the latest detection of rule name in r's history (the
 * label, as host_origins()), or NULL. */
static const char *rule_origin(const struct hostrec *r, const char *name)
{
	size_t n = strlen(name);

	for (unsigned i = r->nhist; i-- > 0;) {
		const struct hist *h = &r->hist[i];

		if (h->kind == HIST_DETECT && strncmp(h->text, name, n) == 0 &&
		    (h->text[n] == '\0' || h->text[n] == ' '))
			return hist_source(h);
	}
	return NULL;
}

static void json_origins(struct ctl_out *o, const struct host_origins *g)
{
	ctl_out_printf(o, ",\"origins\":[");
	for (unsigned i = 0; i < g->n; i++) {
		ctl_out_printf(o, "%s", i ? "," : "");
		json_str(o, g->v[i]);
	}
	ctl_out_printf(o, "],\"gateways\":[");
	for (unsigned i = 0, k = 0; i < g->n; i++)
		if (strncmp(g->v[i], "gateway:", 8) == 0) {
			ctl_out_printf(o, "%s", k++ ? "," : "");
			json_str(o, g->v[i] + 8);
		}
	ctl_out_printf(o, "]");
}

/* The origins joined by commas ("-": none), for --wide and show. */
static const char *origins_text(const struct host_origins *g, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < g->n && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : "", g->v[i]);
	if (g->more && n < len)
		snprintf(buf + n, len - n, ",+%u", g->more);
	if (!buf[0])
		snprintf(buf, len, "-");
	return buf;
}

static void host_json_row(struct daemon *d, struct ctl_out *o, const struct hostrec *r,
			  const struct qaddr *row, bool full)
{
	struct host_origins g;

	const struct inv_entry *inv = engine_inventory(&d->eng, r);
	char a[ADDR_STRLEN], t[32], buf[512], by[ACTOR_JSON_MAX];

	ctl_out_printf(o, "{\"host\":\"%s\",\"state\":\"%s\",\"level\":\"%s\"", addr_ntop(row, a),
		       host_state_name((enum host_state)r->state),
		       level_name((enum level)r->level));
	host_json_machine(d, o, r);
	ctl_out_printf(o, ",\"rules\":[");
	for (unsigned i = 0; i < r->nhits; i++) {
		ctl_out_printf(o, "%s", i ? "," : "");
		json_str(o, rule_name(d, r->hits[i].rule));
	}
	/* Where its detections came from (SPEC section 9), each once. */
	ctl_out_printf(o, "],\"sources\":[");
	for (unsigned i = 0, seen = 0; i < r->nhits; i++) {
		unsigned bit = 1u << (r->hits[i].source % SOURCE_COUNT);

		if (seen & bit)
			continue;
		ctl_out_printf(o, "%s\"%s\"", seen ? "," : "",
			       det_source_name((enum det_source)r->hits[i].source));
		seen |= bit;
	}
	ctl_out_printf(o, "]");
	host_origins(r, &g);
	json_origins(o, &g);
	ctl_out_printf(o, ",\"first_detect\":\"%s\"", ts_str(r->first_detect_us, t));
	ctl_out_printf(o, ",\"last_detect\":\"%s\"", ts_str(r->last_detect_us, t));
	ctl_out_printf(o, ",\"since\":\"%s\"", ts_str(r->changed_us, t));
	ctl_out_printf(o, ",\"expires\":%s%s%s", r->expires_us ? "\"" : "",
		       r->expires_us ? ts_str(r->expires_us, t) : "null",
		       r->expires_us ? "\"" : "");
	ctl_out_printf(o, "%s", actor_json(r->by_uid, &r->by, by, sizeof(by)));
	ctl_out_printf(o, ",\"reason\":");
	json_str(o, r->reason);
	if (inv) {
		if (inv->name[0]) {
			ctl_out_printf(o, ",\"name\":");
			json_str(o, inv->name);
		}
		if (inv->department[0]) {
			ctl_out_printf(o, ",\"department\":");
			json_str(o, inv->department);
		}
		if (inv->floor[0]) {
			ctl_out_printf(o, ",\"floor\":");
			json_str(o, inv->floor);
		}
		if (inv->owner[0]) {
			ctl_out_printf(o, ",\"owner\":");
			json_str(o, inv->owner);
		}
		if (inv->critical)
			ctl_out_printf(o, ",\"critical\":true");
	}
	if (full) {
		host_ports(r, r->k, r->nk, false, buf, sizeof(buf));
		ctl_out_printf(o, ",\"contained_ports\":");
		json_str(o, buf);
		host_json_ports_to(o, "contained_ports_to", r, r->k, r->nk);
		/* What a containment would block: its detections' ports (or
		 * the operator's), whatever the level now. */
		host_ports(r, r->want, r->nwant, false, buf, sizeof(buf));
		ctl_out_printf(o, ",\"ports\":");
		json_str(o, buf);
		host_json_ports_to(o, "ports_to", r, r->want, r->nwant);
		ctl_out_printf(o, ",\"isolated\":%s,\"adopted\":%s",
			       hostrec_isolated(r) ? "true" : "false",
			       r->adopted ? "true" : "false");
		host_json_identity(d, o, r);
		ctl_out_printf(o, ",\"first_probe\":\"%s\",\"detections\":[",
			       ts_str(r->first_probe_us, t));
		for (unsigned i = 0; i < r->nhits; i++) {
			ctl_out_printf(o, "%s{\"rule\":", i ? "," : "");
			json_str(o, rule_name(d, r->hits[i].rule));
			const char *from = rule_origin(r, rule_name(d, r->hits[i].rule));

			ctl_out_printf(o,
				       ",\"source\":\"%s\",\"level\":\"%s\",\"incident\":%u,"
				       "\"first\":\"%s\"",
				       det_source_name((enum det_source)r->hits[i].source),
				       level_name((enum level)r->hits[i].level),
				       r->hits[i].incident, ts_str(r->hits[i].first_us, t));
			/* Its latest detection's origin (gateway:NAME). */
			if (from) {
				ctl_out_printf(o, ",\"from\":");
				json_str(o, from);
			}
			ctl_out_printf(o, "}");
		}
		ctl_out_printf(o, "],\"recurrences\":%u", r->recurrences);
		/* Who infected it (quarantined(8), Incidents), or null. */
		if (r->infected_by.family) {
			struct qaddr from;
			char ib[ADDR_STRLEN];

			engine_infected_name(&d->eng, r, &from);
			ctl_out_printf(o,
				       ",\"infected_by\":{\"host\":\"%s\",\"proto\":\"%s\","
				       "\"port\":%u,\"ts\":\"%s\"}",
				       addr_ntop(&from, ib), proto_bit_name(r->infected_proto),
				       r->infected_port, ts_str(r->infected_us, t));
		} else {
			ctl_out_printf(o, ",\"infected_by\":null");
		}
		/* Surveillance after its last release: until when (in the
		 * past once it has ended), or null. */
		ctl_out_printf(o, ",\"surveillance_until\":%s%s%s", r->surveil_until_us ? "\"" : "",
			       r->surveil_until_us ? ts_str(r->surveil_until_us, t) : "null",
			       r->surveil_until_us ? "\"" : "");
		ctl_out_printf(o, ",\"evidence\":");
		json_str(o, r->evidence);
		ctl_out_printf(o, ",\"history\":[");
		for (unsigned i = 0; i < r->nhist; i++) {
			const struct hist *h = &r->hist[i];
			ctl_out_printf(o,
				       "%s{\"ts\":\"%s\",\"kind\":\"%s\",\"level\":\"%s\","
				       "\"state\":\"%s\"%s",
				       i ? "," : "", ts_str(h->ts, t),
				       hist_kind_name((enum hist_kind)h->kind),
				       level_name((enum level)h->level),
				       host_state_name((enum host_state)h->state),
				       actor_json(h->uid, &h->by, by, sizeof(by)));
			ctl_out_printf(o, ",\"text\":");
			json_str(o, h->text);
			if (h->kind == HIST_DETECT) {
				ctl_out_printf(o, ",\"source\":");
				json_str(o, hist_source(h));
			}
			if (hist_evidence(h)) {
				ctl_out_printf(o, ",\"evidence\":");
				json_str(o, hist_evidence(h));
			}
			ctl_out_printf(o, "}");
		}
		ctl_out_printf(o, "]");
	}
	ctl_out_printf(o, "}");
}

static void host_json(struct daemon *d, struct ctl_out *o, const struct hostrec *r, bool full)
{
	host_json_row(d, o, r, host_name(r), full);
}

/* The rows `list` shows for r: one per address (the first wave's one row
 * per host, with the machine's MAC on each), or its MAC alone. */
static unsigned host_rows(struct daemon *d, const struct hostrec *r, struct qaddr *v, unsigned max)
{
	unsigned n = 0;

	if (r->addr.family)
		v[n++] = r->addr;
	for (unsigned i = 0; i < r->naddrs && n < max; i++)
		if (!addr_eq(&r->addrs[i].a, &r->addr))
			v[n++] = r->addrs[i].a;
	if (n == 0)
		v[n++] = r->id;
	(void)d;
	return n;
}

static bool host_matches(const struct hostrec *r, const char *state, const char *level)
{
	if (r->merged)
		return false;
	if (state && strcmp(host_state_name((enum host_state)r->state), state) != 0)
		return false;
	if (level && strcmp(level_name((enum level)r->level), level) != 0)
		return false;
	return true;
}

/* ---- commands ---- */

static void outbreak_json(struct cmdctx *x);
static void outbreak_text(struct cmdctx *x);

static int cmd_status(struct cmdctx *x)
{
	struct daemon *d = x->d;
	struct detect_stats ds;
	unsigned per[HOST_STATE_COUNT] = {0};
	usec_t up = (daemon_mono_us() - d->start_mono) / USEC_PER_SEC;
	const struct decode_stats *dec = engine_decode_stats(&d->eng);
	uint64_t bad = dec->err[DECODE_E_TRUNCATED] + dec->err[DECODE_E_MALFORMED];
	const char *mode = d->mode == MODE_ENFORCE ? "enforce" : "alert";

	struct ident_stats is;

	/* The sensor's figures (sensor.h), once a second; in-process
	 * sensing (tests) its own. */
	if (d->eng.det) {
		detect_get_stats(d->eng.det, &ds);
		identity_get_stats(d->eng.id, &is);
	} else {
		ds = d->link.stats.detect;
		is = d->link.stats.ident;
		dec = &d->link.stats.decode;
		bad = dec->err[DECODE_E_TRUNCATED] + dec->err[DECODE_E_MALFORMED];
	}
	for (struct hostrec *r = hostdb_first(&d->eng.hosts); r; r = hostdb_next(&d->eng.hosts, r))
		if (!r->merged)
			per[r->state < HOST_STATE_COUNT ? r->state : 0]++;
	if (x->json) {
		struct ctl_out *o = x->out;
		ctl_out_printf(o, "{\"version\":\"%s\",\"uptime_s\":%llu,\"mode\":\"%s\",",
			       QD_VERSION_STRING, (unsigned long long)up, mode);
		ctl_out_printf(o, "\"paused\":%s,", d->eng.pol.paused ? "true" : "false");
		outbreak_json(x);
		ctl_out_printf(o, ",\"table\":\"%s %s\",\"interfaces\":[",
			       d->c->enforce.family == NFT_FAMILY_BRIDGE ? "bridge" : "inet",
			       d->c->enforce.table);
		for (unsigned i = 0; i < d->ncaps; i++)
			ctl_out_printf(o,
				       "%s{\"name\":\"%s\",\"up\":%s,\"received\":%llu,"
				       "\"dropped\":%llu,\"ifdropped\":%llu}",
				       i ? "," : "", d->caps[i].name,
				       d->link.stats.iface[i].up ? "true" : "false",
				       (unsigned long long)d->caps[i].st.received,
				       (unsigned long long)d->caps[i].st.dropped,
				       (unsigned long long)d->caps[i].st.ifdropped);
		ctl_out_printf(o,
			       "],\"sensor\":{\"pid\":%d,\"starts\":%llu,\"deaths\":%llu,"
			       "\"protocol_errors\":%llu,\"reports_lost\":%llu}",
			       (int)d->link.pid, (unsigned long long)d->link.starts,
			       (unsigned long long)d->link.deaths,
			       (unsigned long long)d->link.protocol_errors,
			       (unsigned long long)d->link.stats.out_lost);
		/* The processes (SPEC section 9): the parent, which holds
		 * CAP_NET_ADMIN, and the sensor, which parses packets and
		 * holds nothing. */
		ctl_out_printf(o,
			       ",\"processes\":[{\"name\":\"parent\",\"pid\":%d,\"state\":"
			       "\"running\",\"privileged\":true}",
			       (int)getpid());
		if (!d->eng.det)
			ctl_out_printf(o,
				       ",{\"name\":\"sensor\",\"pid\":%d,\"state\":\"%s\","
				       "\"privileged\":false}",
				       (int)d->link.pid, sensor_state(&d->link));
		if (feedlink_wanted(&d->feeds))
			ctl_out_printf(o,
				       ",{\"name\":\"feeds\",\"pid\":%d,\"state\":\"%s\","
				       "\"privileged\":false}",
				       (int)d->feeds.pid, feedlink_state(&d->feeds));
		ctl_out_printf(o, "]");
		feeds_status_json(d, o);
		ctl_out_printf(o,
			       ",\"packets\":%llu,\"malformed\":%llu,\"hosts_tracked\":%u,"
			       "\"max_hosts\":%u,\"probes_tracked\":%u,\"hosts_known\":%u,"
			       "\"states\":{",
			       (unsigned long long)dec->packets, (unsigned long long)bad, ds.hosts,
			       ds.max_hosts, ds.probes_tracked, hostdb_count(&d->eng.hosts));
		for (unsigned i = 0; i < HOST_STATE_COUNT; i++)
			ctl_out_printf(o, "%s\"%s\":%u", i ? "," : "",
				       host_state_name((enum host_state)i), per[i]);
		ctl_out_printf(
			o,
			"},\"detections\":%llu,\"actions\":%llu,\"action_errors\":%llu,"
			"\"rate_limited\":%lu,\"last_commit_us\":%llu,\"max_commit_us\":%llu",
			(unsigned long long)d->eng.st.detections,
			(unsigned long long)d->eng.st.actions,
			(unsigned long long)d->eng.st.action_errors, d->eng.pol.rate_suppressed,
			(unsigned long long)d->enf.st.last_us,
			(unsigned long long)d->enf.st.max_us);
		/* Detections by source, and what the budget of each source
		 * outside dropped (quarantined(8), DETECTIONS FROM OUTSIDE). */
		ctl_out_printf(o, ",\"sources\":{");
		for (unsigned i = 0; i < SOURCE_COUNT; i++)
			ctl_out_printf(o, "%s\"%s\":{\"detections\":%llu,\"dropped\":%llu}",
				       i ? "," : "", det_source_name((enum det_source)i),
				       (unsigned long long)d->eng.st.by_source[i],
				       (unsigned long long)d->eng.st.outside_dropped[i]);
		ctl_out_printf(o,
			       "},\"outside_invalid\":%llu,\"outside_rules\":%u,"
			       "\"outside_rules_folded\":%llu",
			       (unsigned long long)d->eng.st.outside_invalid, d->eng.orules.n,
			       (unsigned long long)d->eng.orules.full);
		ctl_out_printf(
			o,
			",\"repairs\":{\"checks\":%llu,\"repaired\":%llu,\"failed\":%llu,"
			"\"holds\":%llu,\"stale_replies\":%llu},\"probes\":%llu,"
			"\"probes_dropped_by_our_blocks\":%llu,\"connections\":{\"followed\":%llu,"
			"\"short\":%llu,\"untracked\":%llu}",
			(unsigned long long)d->rep.st.repairs,
			(unsigned long long)d->rep.st.repaired,
			(unsigned long long)d->rep.st.failures, (unsigned long long)d->rep.st.holds,
			(unsigned long long)(d->nft ? nft_stale(d->nft) : 0),
			(unsigned long long)ds.probes, (unsigned long long)ds.probes_dropped,
			(unsigned long long)ds.conns, (unsigned long long)ds.conns_short,
			(unsigned long long)ds.conns_untracked);
		ctl_out_printf(
			o,
			",\"identity\":{\"machines\":%u,\"max_machines\":%u,"
			"\"bindings\":%u,\"max_bindings\":%u,\"claimed\":%u,"
			"\"tentative\":%u,\"established\":%u,\"pinned\":%u,"
			"\"unverified_packets\":%llu,\"forged_packets\":%llu,"
			"\"contested_packets\":%llu,\"conflicts\":%llu,\"moves\":%llu,"
			"\"evicted_machines\":%llu,\"evicted_bindings\":%llu,"
			"\"neighbour_resyncs\":%llu}}\n",
			is.machines, is.max_machines, is.bindings, is.max_bindings,
			is.by_state[BIND_CLAIMED], is.by_state[BIND_TENTATIVE],
			is.by_state[BIND_ESTABLISHED], is.by_state[BIND_PINNED],
			(unsigned long long)is.unverified, (unsigned long long)is.forged,
			(unsigned long long)is.contested, (unsigned long long)is.conflicts,
			(unsigned long long)is.moves, (unsigned long long)is.evicted_machines,
			(unsigned long long)is.evicted_bindings, (unsigned long long)d->neigh_lost);
		/* The bus of the sync program, when it reports (cmd_sync.c). */
		if (d->sync.at_us && !o->truncated && o->len >= 2 &&
		    memcmp(o->buf + o->len - 2, "}\n", 2) == 0) {
			o->len -= 2; /* the closing brace and LF go after it */
			cmd_sync_status(d, o, true);
			ctl_out_printf(o, "}\n");
		}
		return 0;
	}
	struct ctl_out *o = x->out;
	ctl_out_printf(o, "quarantined %s, up %lluh%02llum%02llus\n", QD_VERSION_STRING,
		       (unsigned long long)(up / 3600), (unsigned long long)(up / 60 % 60),
		       (unsigned long long)(up % 60));
	ctl_out_printf(o, "mode:            %s%s\n", mode,
		       d->eng.pol.paused ? " (automatic actions PAUSED)" : "");
	outbreak_text(x);
	ctl_out_printf(o, "table:           %s %s\n",
		       d->c->enforce.family == NFT_FAMILY_BRIDGE ? "bridge" : "inet",
		       d->c->enforce.table);
	for (unsigned i = 0; i < d->ncaps; i++) {
		const struct capsrc *s = &d->caps[i];
		if (d->link.stats.iface[i].up)
			ctl_out_printf(
				o, "interface %-6s %llu packets, %llu dropped, %llu ifdropped\n",
				s->name, (unsigned long long)s->st.received,
				(unsigned long long)s->st.dropped,
				(unsigned long long)s->st.ifdropped);
		else
			ctl_out_printf(o, "interface %-6s down (retrying)\n", s->name);
	}
	if (!d->eng.det) {
		char who[32];

		if (d->link.pid)
			snprintf(who, sizeof(who), "pid %d", (int)d->link.pid);
		else
			snprintf(who, sizeof(who), "NOT RUNNING");
		ctl_out_printf(
			o,
			"sensor:          %s, started %llu times, %llu deaths, %llu protocol "
			"errors, %llu reports lost\n",
			who, (unsigned long long)d->link.starts, (unsigned long long)d->link.deaths,
			(unsigned long long)d->link.protocol_errors,
			(unsigned long long)d->link.stats.out_lost);
	}
	feeds_status_text(d, o);
	ctl_out_printf(o, "packets:         %llu (%llu malformed)\n",
		       (unsigned long long)dec->packets, (unsigned long long)bad);
	ctl_out_printf(o, "hosts tracked:   %u of %u\n", ds.hosts, ds.max_hosts);
	ctl_out_printf(o, "hosts known:     %u", hostdb_count(&d->eng.hosts));
	for (unsigned i = 0; i < HOST_STATE_COUNT; i++)
		if (per[i])
			ctl_out_printf(o, ", %u %s", per[i], host_state_name((enum host_state)i));
	ctl_out_printf(o, "\n");
	ctl_out_printf(o, "detections:      %llu; actions %llu (%llu failed, %lu rate-limited)\n",
		       (unsigned long long)d->eng.st.detections,
		       (unsigned long long)d->eng.st.actions,
		       (unsigned long long)d->eng.st.action_errors, d->eng.pol.rate_suppressed);
	{
		uint64_t n = 0, dropped = 0;

		for (unsigned i = SOURCE_SELF + 1; i < SOURCE_COUNT; i++)
			n += d->eng.st.by_source[i], dropped += d->eng.st.outside_dropped[i];
		if (n || dropped || d->eng.st.outside_invalid) {
			ctl_out_printf(o, "from outside:    %llu detections (",
				       (unsigned long long)n);
			for (unsigned i = SOURCE_SELF + 1; i < SOURCE_COUNT; i++)
				ctl_out_printf(o, "%s%s %llu", i > SOURCE_SELF + 1 ? ", " : "",
					       det_source_name((enum det_source)i),
					       (unsigned long long)d->eng.st.by_source[i]);
			ctl_out_printf(o, "); %llu dropped over budget, %llu invalid\n",
				       (unsigned long long)dropped,
				       (unsigned long long)d->eng.st.outside_invalid);
		}
	}
	ctl_out_printf(o, "kernel:          last transaction %.3f ms, slowest %.3f ms\n",
		       (double)d->enf.st.last_us / 1000.0, (double)d->enf.st.max_us / 1000.0);
	ctl_out_printf(o,
		       "repairs:         %llu checks, %llu put something back, %llu failed, %llu "
		       "holds; %llu stale kernel replies dropped\n",
		       (unsigned long long)d->rep.st.repairs,
		       (unsigned long long)d->rep.st.repaired,
		       (unsigned long long)d->rep.st.failures, (unsigned long long)d->rep.st.holds,
		       (unsigned long long)(d->nft ? nft_stale(d->nft) : 0));
	ctl_out_printf(o, "probes:          %llu, %llu dropped by our own blocks (no evidence)\n",
		       (unsigned long long)ds.probes, (unsigned long long)ds.probes_dropped);
	ctl_out_printf(o,
		       "connections:     %llu to login ports followed, %llu short, %llu beyond a "
		       "host's quota\n",
		       (unsigned long long)ds.conns, (unsigned long long)ds.conns_short,
		       (unsigned long long)ds.conns_untracked);
	ctl_out_printf(o,
		       "machines:        %u of %u; bindings %u of %u (%u established, %u pinned, "
		       "%u tentative, %u claimed)\n",
		       is.machines, is.max_machines, is.bindings, is.max_bindings,
		       is.by_state[BIND_ESTABLISHED], is.by_state[BIND_PINNED],
		       is.by_state[BIND_TENTATIVE], is.by_state[BIND_CLAIMED]);
	ctl_out_printf(o,
		       "sources:         %llu forged, %llu contested, %llu judged by address; "
		       "%llu conflicts, %llu moves\n",
		       (unsigned long long)is.forged, (unsigned long long)is.contested,
		       (unsigned long long)is.unverified, (unsigned long long)is.conflicts,
		       (unsigned long long)is.moves);
	cmd_sync_status(d, o, false);
	return 0;
}

/* What `list` shows: every filter given must match (state and level by
 * name, a rule that flagged the host, the inventory's department and
 * floor, flagged or changed since a time). */
struct list_filter {
	const char *state, *level;
	int rule; /* a rule index, DETECT_RULE_TRW, or -1: any */
	const char *department, *floor;
	usec_t since_us; /* 0: any */
};

/* The rule an operator names, or the reply's status: unknown, with the
 * name most likely meant. */
static int parse_rule(struct cmdctx *x, const char *name, int *ret)
{
	const struct conf *c = x->d->c;
	const char *names[CONF_MAX_RULES + 2];
	const char *near;
	unsigned n = 0;
	int k;

	if (strcmp(name, DETECT_TRW_NAME) == 0) {
		*ret = DETECT_RULE_TRW;
		return 0;
	}
	for (unsigned i = 0; i < c->nrules; i++) {
		if (strcmp(name, c->rules[i].name) == 0) {
			*ret = (int)i;
			return 0;
		}
		names[n++] = c->rules[i].name;
	}
	/* An outside rule the daemon has seen ("av:Troj/Agent-X"). */
	if ((k = outside_rules_find(&x->d->eng.orules, name)) >= 0) {
		*ret = k;
		return 0;
	}
	names[n++] = DETECT_TRW_NAME;
	names[n] = NULL;
	near = suggest(name, names);
	if (near)
		return reply(x, 2, "unknown rule '%s' (did you mean '%s'?)", name, near);
	return reply(x, 2, "unknown rule '%s'", name);
}

static int parse_list_filter(struct cmdctx *x, struct list_filter *f)
{
	const char *rule = ctl_request_get(x->req, "rule");
	const char *since = ctl_request_get(x->req, "since");
	enum host_state hs;
	enum level lv;
	int s;

	memset(f, 0, sizeof(*f));
	f->rule = -1;
	f->state = ctl_request_get(x->req, "state");
	f->level = ctl_request_get(x->req, "level");
	f->department = ctl_request_get(x->req, "department");
	f->floor = ctl_request_get(x->req, "floor");
	if (f->state && host_state_parse(f->state, &hs) < 0)
		return reply(x, 2, "unknown state '%s'", f->state);
	if (f->level && level_parse(f->level, &lv) < 0)
		return reply(x, 2, "unknown level '%s'", f->level);
	if (rule && (s = parse_rule(x, rule, &f->rule)) != 0)
		return s;
	/* quarantinectl sends an absolute UTC time; a duration here is
	 * taken on the daemon's clock. */
	if (since && time_since_parse(since, daemon_wall_us(), &f->since_us) < 0)
		return reply(x, 2,
			     "invalid time '%s' (want an ISO 8601 time such as "
			     "2026-01-15T09:00Z, or a duration such as 2h meaning that long ago)",
			     since);
	return 0;
}

static bool list_matches(struct daemon *d, const struct hostrec *r, const struct list_filter *f)
{
	const struct inv_entry *inv;

	if (!host_matches(r, f->state, f->level))
		return false;
	if (f->rule >= 0) {
		bool hit = false;

		for (unsigned i = 0; i < r->nhits && !hit; i++)
			hit = r->hits[i].rule == f->rule;
		if (!hit)
			return false;
	}
	if (f->since_us && MAX(r->changed_us, r->last_detect_us) < f->since_us)
		return false;
	if (f->department || f->floor) {
		inv = engine_inventory(&d->eng, r);
		if (!inv)
			return false;
		if (f->department && strcasecmp(inv->department, f->department) != 0)
			return false;
		if (f->floor && strcasecmp(inv->floor, f->floor) != 0)
			return false;
	}
	return true;
}

/* The narrow table's columns (LIST_* characters each, one space apart):
 * 79 characters in all, so that a row fits an 80-column terminal without
 * the terminal's own wrap.  An IPv4 address fits HOST; a longer host (an
 * IPv6 address, a MAC) is never cut, since operators copy it into the
 * next command: it gets a line of its own and its row follows. */
#define LIST_HOST  15
#define LIST_STATE 11 /* "uncleanable" */
#define LIST_LEVEL 7  /* "contain", "isolate" */
#define LIST_SINCE 11 /* "01-15 09:00" */
#define LIST_RULE  14
#define LIST_WHERE 16
#define LIST_CUT   '~' /* the last character of a field cut to fit */

/* src into dst (at least w + 1 bytes), cut to w characters with LIST_CUT
 * at the end when longer; "-" when empty. */
static const char *fit(char *dst, size_t w, const char *src)
{
	size_t n = strlen(src);

	if (n == 0)
		src = "-", n = 1;
	if (n <= w) {
		memcpy(dst, src, n + 1);
		return dst;
	}
	/* At a character boundary: names from the inventory or from
	 * outside tools may be UTF-8. */
	n = outside_utf8_cut(src, n, w - 1);
	memcpy(dst, src, n);
	dst[n] = LIST_CUT;
	dst[n + 1] = '\0';
	return dst;
}

/* SINCE, short: month, day, hour and minute in UTC (the year and the
 * seconds are in --wide and show). */
static const char *since_short(usec_t ts, char buf[32])
{
	ts_str(ts, buf);
	if (ts && strlen(buf) >= 16) {
		memmove(buf, buf + 5, 11); /* "MM-DDTHH:MM" */
		buf[5] = ' ';
		buf[11] = '\0';
	}
	return buf;
}

/* RULE, short: the first rule that flagged the host, and "+N" for the
 * N others. */
static const char *rule_short(const struct daemon *d, const struct hostrec *r,
			      char buf[LIST_RULE + 1])
{
	char more[12] = "";
	struct host_origins g;
	size_t ml;

	/* Flagged by another gateway: that is what an operator here wants
	 * first ("gateway:gw-a", "+N" for the other origins: this
	 * gateway's own detections, other gateways); --wide and show give
	 * the rules. */
	host_origins(r, &g);
	if (g.gateways) {
		const char *first = NULL;

		for (unsigned i = 0; i < g.n && !first; i++)
			if (strncmp(g.v[i], "gateway:", 8) == 0)
				first = g.v[i];
		if (g.n + g.more > 1)
			snprintf(more, sizeof(more), "+%u", g.n + g.more - 1u);
		ml = strlen(more);
		fit(buf, LIST_RULE - ml, first);
		memcpy(buf + strlen(buf), more, ml + 1);
		return buf;
	}
	if (!r->nhits)
		return fit(buf, LIST_RULE, "");
	if (r->nhits > 1)
		snprintf(more, sizeof(more), "+%u", r->nhits - 1u);
	ml = strlen(more);
	fit(buf, LIST_RULE - ml, rule_name(d, r->hits[0].rule));
	memcpy(buf + strlen(buf), more, ml + 1);
	return buf;
}

/* WHERE, short: department/floor/owner of the inventory, "-" for a part
 * it lacks (trailing ones left out), "-" for a host it does not name. */
static const char *where_short(const struct inv_entry *inv, char buf[LIST_WHERE + 1])
{
	const char *part[3];
	char tmp[256];
	size_t n = 0;
	int last = -1;

	if (!inv)
		return fit(buf, LIST_WHERE, "");
	part[0] = inv->department;
	part[1] = inv->floor;
	part[2] = inv->owner;
	for (int i = 0; i < 3; i++)
		if (part[i][0])
			last = i;
	tmp[0] = '\0';
	for (int i = 0; i <= last; i++)
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - MIN(n, sizeof(tmp)), "%s%s",
				      i ? "/" : "", part[i][0] ? part[i] : "-");
	return fit(buf, LIST_WHERE, tmp);
}

static void list_row_narrow(struct daemon *d, struct ctl_out *o, const struct hostrec *r,
			    const struct qaddr *row)
{
	const struct inv_entry *inv = engine_inventory(&d->eng, r);
	char a[ADDR_STRLEN], t[32], rule[LIST_RULE + 1], where[LIST_WHERE + 1];
	const char *host = addr_ntop(row, a);

	if (strlen(host) > LIST_HOST) {
		ctl_out_printf(o, "%s\n", host);
		host = "";
	}
	ctl_out_printf(o, "%-*s %-*s %-*s %-*s %-*s %s\n", LIST_HOST, host, LIST_STATE,
		       host_state_name((enum host_state)r->state), LIST_LEVEL,
		       level_name((enum level)r->level), LIST_SINCE, since_short(r->changed_us, t),
		       LIST_RULE, rule_short(d, r, rule), where_short(inv, where));
}

/* --wide: every column whole, in the first wave's places (the MAC before
 * the free-text WHERE). */
static void list_row_wide(struct daemon *d, struct ctl_out *o, const struct hostrec *r,
			  const struct qaddr *row)
{
	const struct inv_entry *inv = engine_inventory(&d->eng, r);
	char a[ADDR_STRLEN], t1[32], t2[32], rules[HOSTDB_MAX_HITS * (CONF_NAME_MAX) + 1];
	char where[320], mb[MAC_STRLEN], from[HOST_ORIGINS_MAX * (OUTSIDE_SOURCE_MAX + 1) + 8];
	const char *expires = "-";
	struct host_origins g;

	host_rules(d, r, rules, sizeof(rules));
	where[0] = '\0';
	if (inv) {
		/* "fin-ws-11 finance floor 3 / IT Finance", with what the
		 * entry gives. */
		size_t n = 0;

		if (inv->name[0])
			n += (size_t)snprintf(where + n, sizeof(where) - n, "%s", inv->name);
		if (inv->department[0])
			n += (size_t)snprintf(where + n, sizeof(where) - n, "%s%s", n ? " " : "",
					      inv->department);
		if (inv->floor[0])
			n += (size_t)snprintf(where + n, sizeof(where) - n, "%sfloor %s",
					      n ? " " : "", inv->floor);
		if (inv->owner[0])
			snprintf(where + n, sizeof(where) - n, "%s%s", n ? " / " : "", inv->owner);
	}
	/* No block: nothing expires.  A block without a TTL never does. */
	if (r->level != LEVEL_NONE)
		expires = r->expires_us ? ts_short(r->expires_us, t2) : "never";
	host_origins(r, &g);
	ctl_out_printf(o, "%-25s %-11s %-8s %-20s %-20s %-32s %-24s %-17s %s\n", addr_ntop(row, a),
		       host_state_name((enum host_state)r->state), level_name((enum level)r->level),
		       ts_short(r->changed_us, t1), expires, rules,
		       origins_text(&g, from, sizeof(from)),
		       hostrec_is_machine(r) ? mac_ntop(r->id.b, mb) : "-", where[0] ? where : "-");
}

/* list streams its answer (control.h): a registry of 100,000 hosts or
 * more is tens of MiB of JSON, more than one reply may hold and more than
 * one turn of the loop should render.  The cursor is a slot of the
 * registry (hostdb_seek()): every host in the registry for the whole
 * stream is listed exactly once; one added or removed while the stream
 * is under way may or may not be; a host changed meanwhile is shown as it
 * is when its turn comes.  The filter is copied: the request it came from
 * is gone after the first chunk. */
struct list_stream {
	struct daemon *d;
	struct list_filter f;
	char state[CTL_VALUE_MAX], level[CTL_VALUE_MAX];
	char department[CTL_VALUE_MAX], floor[CTL_VALUE_MAX];
	bool json, wide;
	uint32_t pos; /* the next slot of the registry */
	unsigned n;   /* rows written, for the JSON commas */
};

/* Slots looked at per chunk at most, so that a filter that matches few
 * hosts still gives the loop back after a bounded amount of work. */
#define LIST_SLOTS_PER_CHUNK 16384

static bool list_next(void *state, struct ctl_out *out, size_t chunk)
{
	struct list_stream *ls = state;
	struct daemon *d = ls->d;
	uint32_t budget = LIST_SLOTS_PER_CHUNK;
	size_t start = out->len;

	while (out->len - start < chunk && budget > 0) {
		uint32_t before = ls->pos;
		struct hostrec *r = hostdb_seek(&d->eng.hosts, &ls->pos, budget);
		struct qaddr rows[HOST_MAX_ADDRS + 1];
		unsigned nrows;

		budget -= MIN(budget, ls->pos - before);
		if (!r) {
			if (!hostdb_seek_done(&d->eng.hosts, ls->pos))
				return true; /* the budget is spent: next turn */
			if (ls->json)
				ctl_out_printf(out, "]\n");
			return false;
		}
		if (!list_matches(d, r, &ls->f))
			continue;
		nrows = host_rows(d, r, rows, ARRAY_SIZE(rows));
		for (unsigned i = 0; i < nrows; i++, ls->n++) {
			if (ls->json) {
				ctl_out_printf(out, "%s", ls->n ? "," : "");
				host_json_row(d, out, r, &rows[i], false);
			} else if (ls->wide) {
				list_row_wide(d, out, r, &rows[i]);
			} else {
				list_row_narrow(d, out, r, &rows[i]);
			}
		}
	}
	return true;
}

/* A copy of a filter's string into buf, or NULL when not given. */
static const char *keep(char dst[CTL_VALUE_MAX], const char *src)
{
	if (!src)
		return NULL;
	snprintf(dst, CTL_VALUE_MAX, "%s", src);
	return dst;
}

static int cmd_list(struct cmdctx *x)
{
	struct list_stream *ls;
	struct list_filter f;
	int s = parse_list_filter(x, &f);

	if (s)
		return s;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return reply(x, 1, "list: %s", strerror(ENOMEM));
	ls->d = x->d;
	ls->f = f;
	ls->f.state = keep(ls->state, f.state);
	ls->f.level = keep(ls->level, f.level);
	ls->f.department = keep(ls->department, f.department);
	ls->f.floor = keep(ls->floor, f.floor);
	ls->json = x->json;
	ls->wide = ctl_request_flag(x->req, "wide");
	if (x->json)
		ctl_out_printf(x->out, "[");
	else if (ls->wide)
		ctl_out_printf(x->out, "%-25s %-11s %-8s %-20s %-20s %-32s %-24s %-17s %s\n",
			       "HOST", "STATE", "LEVEL", "SINCE", "EXPIRES", "RULES", "FROM", "MAC",
			       "WHERE");
	else
		ctl_out_printf(x->out, "%-*s %-*s %-*s %-*s %-*s %s\n", LIST_HOST, "HOST",
			       LIST_STATE, "STATE", LIST_LEVEL, "LEVEL", LIST_SINCE, "SINCE (UTC)",
			       LIST_RULE, "RULE", "WHERE");
	x->out->stream.next = list_next;
	x->out->stream.free = free;
	x->out->stream.state = ls;
	return 0;
}

/* show: the machine, its addresses and how far each is trusted. */
static void show_identity(struct daemon *d, struct ctl_out *o, const struct hostrec *r)
{
	struct qaddr v[HOST_MAX_ADDRS];
	char a[ADDR_STRLEN], mb[MAC_STRLEN], fl[96];
	unsigned n;

	if (!hostrec_is_machine(r)) {
		uint8_t mac[MAC_LEN];

		if (d->eng.id && identity_binding(d->eng.id, &r->addr, mac) != BIND_NONE)
			ctl_out_printf(o, "machine:     %s (bound, but judged by address)\n",
				       mac_ntop(mac, mb));
		else
			ctl_out_printf(o, "machine:     unknown (judged by address)\n");
		return;
	}
	ctl_out_printf(o, "mac:         %s%s%s%s\n", mac_ntop(r->id.b, mb),
		       r->kmac ? " (blocked by MAC)" : "", d->eng.id ? " " : "",
		       d->eng.id
			       ? machine_flags(identity_machine(d->eng.id, r->id.b), fl, sizeof(fl))
			       : "");
	n = engine_machine_addresses(&d->eng, r, v, ARRAY_SIZE(v));
	for (unsigned i = 0; i < n; i++) {
		int k = hostrec_addr_index(r, &v[i]);
		enum bind_state st =
			d->eng.id ? identity_binding(d->eng.id, &v[i], NULL) : BIND_NONE;

		ctl_out_printf(o, "address:     %s (%s%s)\n", addr_ntop(&v[i], a),
			       bind_state_name(st), k >= 0 && r->addrs[k].kiso ? ", blocked" : "");
	}
}

/* show of a host never flagged nor acted upon: what identity knows of
 * it (which machine an address belongs to, and how far it is trusted),
 * else an error. */
static int show_unflagged(struct cmdctx *x, const struct qaddr *a)
{
	struct daemon *d = x->d;
	struct hostrec tmp;
	char ab[ADDR_STRLEN];
	uint8_t mac[MAC_LEN];

	memset(&tmp, 0, sizeof(tmp));
	if (addr_is_mac(a)) {
		if (!d->eng.id || !identity_machine(d->eng.id, a->b))
			return reply(x, 1, "%s is not known to quarantined", addr_ntop(a, ab));
		tmp.id = *a;
		identity_primary(d->eng.id, a->b, &tmp.addr);
	} else {
		if (!d->eng.id || identity_binding(d->eng.id, a, mac) == BIND_NONE)
			return reply(x, 1, "%s is not known to quarantined", addr_ntop(a, ab));
		addr_set_mac(&tmp.id, mac);
		tmp.addr = *a;
	}
	if (x->json) {
		ctl_out_printf(x->out, "{\"host\":\"%s\",\"flagged\":false",
			       addr_ntop(host_name(&tmp), ab));
		host_json_machine(d, x->out, &tmp);
		host_json_identity(d, x->out, &tmp);
		ctl_out_printf(x->out, "}\n");
		return 0;
	}
	/* No record: never flagged nor acted upon, or purged since (its
	 * history stays in the state database). */
	ctl_out_printf(x->out,
		       "host:        %s (no record: never flagged or acted upon, or purged)\n",
		       addr_ntop(host_name(&tmp), ab));
	show_identity(d, x->out, &tmp);
	return 0;
}

static int cmd_show(struct cmdctx *x)
{
	struct daemon *d = x->d;
	struct qaddr a;
	struct hostrec *r;
	const struct inv_entry *inv;
	char ab[ADDR_STRLEN], t[32], buf[1024], w[ACTOR_TEXT_MAX];
	int s = parse_host(x, &a);

	if (s)
		return s;
	r = target_record(d, &a, false);
	if (!r)
		return show_unflagged(x, &a);
	if (x->json) {
		host_json(d, x->out, r, true);
		ctl_out_printf(x->out, "\n");
		return 0;
	}
	inv = engine_inventory(&d->eng, r);
	ctl_out_printf(x->out, "host:        %s\n", addr_ntop(host_name(r), ab));
	show_identity(d, x->out, r);
	ctl_out_printf(x->out, "state:       %s\n", host_state_name((enum host_state)r->state));
	ctl_out_printf(x->out, "level:       %s%s\n", level_name((enum level)r->level),
		       r->adopted ? " (adopted from the kernel table)" : "");
	host_ports(r, r->k, r->nk, true, buf, sizeof(buf));
	if (r->nk)
		ctl_out_printf(x->out, "contained:   %s\n", buf);
	host_ports(r, r->want, r->nwant, true, buf, sizeof(buf));
	if (r->nwant)
		ctl_out_printf(x->out, "ports:       %s%s%s\n", buf,
			       r->want_overflow ? " and more" : "",
			       r->level == LEVEL_ISOLATE ? " (isolated on all ports)"
			       : r->nk			 ? ""
							 : " (what a containment blocks)");
	ctl_out_printf(x->out, "since:       %s by %s (%s)\n", ts_str(r->changed_us, t),
		       actor_text(r->by_uid, &r->by, w, sizeof(w)), r->reason);
	ctl_out_printf(x->out, "expires:     %s\n",
		       r->expires_us ? ts_str(r->expires_us, t) : "never");
	ctl_out_printf(x->out, "first probe: %s\n", ts_str(r->first_probe_us, t));
	ctl_out_printf(x->out, "detected:    %s", ts_str(r->first_detect_us, t));
	ctl_out_printf(x->out, " .. %s\n", ts_str(r->last_detect_us, t));
	{
		struct host_origins g;
		char from[HOST_ORIGINS_MAX * (OUTSIDE_SOURCE_MAX + 1) + 8];

		host_origins(r, &g);
		if (g.n)
			ctl_out_printf(x->out, "from:        %s\n",
				       origins_text(&g, from, sizeof(from)));
	}
	if (inv) {
		ctl_out_printf(x->out, "name:        %s\n", inv->name[0] ? inv->name : "-");
		ctl_out_printf(x->out, "department:  %s\n",
			       inv->department[0] ? inv->department : "-");
		ctl_out_printf(x->out, "floor:       %s\n", inv->floor[0] ? inv->floor : "-");
		ctl_out_printf(x->out, "owner:       %s\n", inv->owner[0] ? inv->owner : "-");
		if (inv->critical)
			ctl_out_printf(x->out, "critical:    yes\n");
	}
	if (r->infected_by.family) {
		struct qaddr by;

		engine_infected_name(&d->eng, r, &by);
		ctl_out_printf(x->out, "infected by: %s (%s/%u at %s)\n", addr_ntop(&by, ab),
			       proto_bit_name(r->infected_proto), r->infected_port,
			       ts_str(r->infected_us, t));
	}
	if (r->recurrences)
		ctl_out_printf(x->out, "recurrences: %u\n", r->recurrences);
	if (r->surveil_until_us > daemon_wall_us())
		ctl_out_printf(x->out, "surveillance: until %s (rule thresholds x%g)\n",
			       ts_str(r->surveil_until_us, t), d->c->surveillance.factor);
	else if (r->surveil_until_us)
		ctl_out_printf(x->out, "surveillance: ended %s\n", ts_str(r->surveil_until_us, t));
	if (r->evidence[0])
		ctl_out_printf(x->out, "evidence:    %s/evidence/%s\n", d->state_dir, r->evidence);
	for (unsigned i = 0; i < r->nhits; i++) {
		/* From where its latest detection came: a gateway by name. */
		const char *from = rule_origin(r, rule_name(d, r->hits[i].rule));

		if (!from && r->hits[i].source != SOURCE_SELF)
			from = det_source_name((enum det_source)r->hits[i].source);
		ctl_out_printf(x->out, "rule:        %s (%s) first at %s, incident %u%s%s\n",
			       rule_name(d, r->hits[i].rule),
			       level_name((enum level)r->hits[i].level),
			       ts_str(r->hits[i].first_us, t), r->hits[i].incident,
			       from && strcmp(from, "self") != 0 ? ", from " : "",
			       from && strcmp(from, "self") != 0 ? from : "");
	}
	ctl_out_printf(x->out, "history:\n");
	for (unsigned i = 0; i < r->nhist; i++) {
		const struct hist *h = &r->hist[i];
		ctl_out_printf(x->out, "  %s  %-7s %-8s %-11s %-8s %s\n", ts_str(h->ts, t),
			       hist_kind_name((enum hist_kind)h->kind),
			       level_name((enum level)h->level),
			       host_state_name((enum host_state)h->state),
			       actor_text(h->uid, &h->by, w, sizeof(w)), h->text);
		/* A detection from outside: where from, and the original
		 * alert or line as received (printable UTF-8, checked). */
		if (h->outside)
			ctl_out_printf(x->out, "      from %s%s%s\n", hist_source(h),
				       hist_evidence(h) ? ": " : "",
				       hist_evidence(h) ? hist_evidence(h) : "");
	}
	return 0;
}

static const char *done_word(enum level l)
{
	switch (l) {
	case LEVEL_WATCH:
		return "watching";
	case LEVEL_CONTAIN:
		return "contained";
	case LEVEL_ISOLATE:
		return "isolated";
	default:
		return "released";
	}
}

/* Applies one operator change and reports it. */
static int apply_one(struct cmdctx *x, struct act_change *c)
{
	struct daemon *d = x->d;
	usec_t now = daemon_wall_us();
	char a[ADDR_STRLEN];

	c->by_uid = (long)x->peer->uid;
	c->by = operator_names(x);
	act_apply(&d->eng, c, 1, now);
	act_emit(&d->eng, c, now);
	addr_ntop(host_name(c->rec), a);
	field_str(x, "host", a);
	if (hostrec_is_machine(c->rec)) {
		char mb[MAC_STRLEN];

		field_str(x, "mac", mac_ntop(c->rec->id.b, mb));
	}
	field_str(x, "level", level_name(c->effective));
	field_bool(x, "changed", c->changed);
	log_info("uid %u: %s %s -> %s%s%s", (unsigned)x->peer->uid, x->req->cmd, a,
		 level_name(c->effective), c->error ? ": " : "",
		 c->error ? strerror(-c->error) : "");
	if (c->error)
		return reply(x, 1, "%s: cannot put %s in force: %s%s%s", a,
			     level_name(c->effective), strerror(-c->error), c->msg[0] ? ": " : "",
			     c->msg);
	if (c->effective != c->level)
		return reply(x, 0, "%s %s (containment without known ports means isolation)",
			     done_word(c->effective), a);
	if (hostrec_is_machine(c->rec) && c->rec->addr.family) {
		char mb[MAC_STRLEN];
		return reply(x, 0, "%s %s (machine %s)%s", done_word(c->effective), a,
			     mac_ntop(c->rec->id.b, mb), c->changed ? "" : " (already in place)");
	}
	return reply(x, 0, "%s %s%s", done_word(c->effective), a,
		     c->changed ? "" : " (already in place)");
}

/* A record made for a command that was then refused goes again. */
static void drop_if_new(struct daemon *d, struct hostrec *r)
{
	if (r && r->changed_us == 0 && r->nhist == 0 && r->level == LEVEL_NONE && !r->nhits)
		hostdb_remove(&d->eng.hosts, r);
}

/* The record of the HOST a blocking command names, made if need be, or a
 * refusal: the host or the machine may never be blocked. */
static int blockable_record(struct cmdctx *x, const struct qaddr *a, struct hostrec **ret)
{
	struct daemon *d = x->d;
	char ab[ADDR_STRLEN];
	const char *why = never_block_reason(d, a);
	struct hostrec *r;

	addr_ntop(a, ab);
	if (why)
		return reply(x, 1, "refused: %s is %s", ab, why);
	r = target_record(d, a, true);
	if (!r)
		return reply(x, 1, "refused: the host registry is full (limits.max_blocked)");
	why = record_never_reason(d, r);
	if (why) {
		drop_if_new(d, r);
		return reply(x, 1, "refused: %s is %s", ab, why);
	}
	*ret = r;
	return 0;
}

/* --proto P --ports N,... [--to ADDR] into r's want[] (a scratch
 * record).  0, or the reply's status: a usage error. */
static int parse_ports(struct cmdctx *x, struct hostrec *r)
{
	const char *proto = ctl_request_get(x->req, "proto");
	const char *ports = ctl_request_get(x->req, "ports");
	const char *to = ctl_request_get(x->req, "to");
	struct qaddr dst;
	uint8_t ip;
	char buf[CTL_VALUE_MAX], *save = NULL;

	memset(&dst, 0, sizeof(dst));
	if (to && (!proto || !ports))
		return reply(x, 2, "--to needs --proto and --ports");
	if (to && (addr_parse(to, &dst) < 0 || !addr_is_unicast(&dst)))
		return reply(x, 2, "--to takes one unicast IPv4 or IPv6 address, not '%s'", to);
	if (!proto && !ports)
		return 0;
	if (!proto || !ports)
		return reply(x, 2, "--proto and --ports go together");
	if (strcmp(proto, "tcp") == 0)
		ip = IPPROTO_TCP;
	else if (strcmp(proto, "udp") == 0)
		ip = IPPROTO_UDP;
	else
		return reply(x, 2, "--proto takes tcp or udp, not '%s'", proto);
	snprintf(buf, sizeof(buf), "%s", ports);
	r->nwant = 0;
	r->want_overflow = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long v = strtol(tok, &end, 10);
		if (*end || v < 1 || v > 65535)
			return reply(x, 2, "bad port '%s'", tok);
		hostdb_want_port(r, ip, (uint16_t)v, &dst);
	}
	if (r->want_overflow)
		return reply(x, 2, "at most %d ports", HOST_MAX_PORTS);
	return 0;
}

/* The request's ttl, or enforce.default_ttl when it gives none.  0, or
 * the reply's status: a usage error, before anything has changed.  The
 * protocol carries seconds (quarantinectl converts), and a duration with
 * a unit is taken too; either way no sign, no overflow, no more than
 * QD_TTL_MAX_S. */
static int parse_ttl(struct cmdctx *x, uint64_t *ret_s)
{
	const char *ttl = ctl_request_get(x->req, "ttl");

	if (!ttl) {
		*ret_s = x->d->c->enforce.default_ttl_s;
		return 0;
	}
	if (ttl_parse(ttl, ret_s) < 0)
		return reply(x, 2, "invalid ttl '%s': ttl must be between 0 and %s", ttl,
			     QD_TTL_MAX_TEXT);
	return 0;
}

static int cmd_bulk(struct cmdctx *x, bool quarantine);

static int cmd_quarantine(struct cmdctx *x)
{
	struct daemon *d = x->d;
	const char *lv = ctl_request_get(x->req, "level");
	struct act_change c;
	struct hostrec *r;
	struct qaddr a;
	enum level level = LEVEL_ISOLATE;
	char ab[ADDR_STRLEN];
	int s;

	if (ctl_request_flag(x->req, "from"))
		return cmd_bulk(x, true);
	s = parse_host(x, &a);
	if (s)
		return s;
	if (lv && level_parse(lv, &level) < 0)
		return reply(x, 2, "unknown level '%s'", lv);
	addr_ntop(&a, ab);
	/* Everything the request says is checked before the host gets a
	 * record. */
	struct hostrec ports; /* only its want[] is used */
	memset(&ports, 0, sizeof(ports));
	s = parse_ports(x, &ports);
	if (s)
		return s;
	/* A destination scopes a containment: at any other level it would
	 * mean nothing (isolation blocks every destination). */
	const struct qaddr *to = ports.nwant ? hostrec_port_to(&ports, &ports.want[0]) : NULL;
	if (to && level != LEVEL_CONTAIN)
		return reply(x, 2, "--to goes with --level contain, not %s", level_name(level));
	memset(&c, 0, sizeof(c));
	s = parse_ttl(x, &c.ttl_s);
	if (s)
		return s;
	r = target_record(d, &a, false);
	if (level == LEVEL_CONTAIN && ports.nwant == 0 && (!r || r->nwant == 0))
		return reply(x, 2,
			     "contain needs --proto and --ports (%s was not detected by a rule "
			     "with ports)",
			     ab);
	s = blockable_record(x, &a, &r);
	if (s)
		return s;
	/* An address is contained by address: the destination in the same
	 * set is of its family.  A machine's sets by MAC take either. */
	if (to && !hostrec_is_machine(r) && to->family != r->id.family) {
		char tb[ADDR_STRLEN];

		drop_if_new(d, r);
		return reply(x, 2, "--to %s is not of the family of %s", addr_ntop(to, tb), ab);
	}
	if (r->changed_us == 0) {
		r->state = HOST_DETECTED;
		r->changed_us = daemon_wall_us();
	}
	if (ports.nwant) {
		/* The scratch record's destinations are its own: each port
		 * is added again, in r's table.  Should the kernel still
		 * hold ports of r towards HOST_MAX_DESTS other destinations,
		 * there is no room: want_overflow, and containment means
		 * isolation, as with too many ports. */
		r->nwant = 0;
		r->want_overflow = 0;
		r->want_manual = 1;
		for (unsigned i = 0; i < ports.nwant; i++)
			hostdb_want_port(r, ports.want[i].proto, ports.want[i].port,
					 hostrec_port_to(&ports, &ports.want[i]));
	}
	/* A host already blocked keeps the time it has left unless the
	 * operator gives one: a change of level neither extends nor cuts
	 * its block behind the operator's back (a block without limit
	 * stays so). */
	if (!ctl_request_get(x->req, "ttl") && r->level > LEVEL_NONE)
		c.ttl_s = act_ttl_left(r, daemon_wall_us());
	c.rec = r;
	c.level = level;
	/* Already at this level: the kernel's timeout restarts with the
	 * TTL (kernel 6.1 does not refresh it on a re-add). */
	c.reset_ttl = r->level == level;
	c.reason = ctl_request_get(x->req, "reason");
	if (!c.reason)
		c.reason = "manual quarantine";
	/* An operator may isolate a critical asset. */
	c.critical = false;
	return apply_one(x, &c);
}

static int cmd_escalate(struct cmdctx *x, int dir)
{
	struct daemon *d = x->d;
	struct act_change c;
	struct hostrec *r;
	struct qaddr a;
	char ab[ADDR_STRLEN];
	int s = parse_host(x, &a);
	int lvl;

	if (s)
		return s;
	addr_ntop(&a, ab);
	r = target_record(d, &a, false);
	lvl = r ? r->level : LEVEL_NONE;
	if (dir > 0 && lvl == LEVEL_ISOLATE)
		return reply(x, 1, "%s is already isolated", ab);
	if (dir < 0 && lvl == LEVEL_NONE)
		return reply(x, 1, "%s is not blocked", ab);
	if (dir > 0) {
		s = blockable_record(x, &a, &r);
		if (s)
			return s;
		if (r->changed_us == 0)
			r->changed_us = daemon_wall_us();
	}
	lvl += dir;
	/* Contain needs ports: without any known, one step up from watch
	 * goes to isolation, one down from isolation is refused. */
	if (lvl == LEVEL_CONTAIN && r->nwant == 0) {
		if (dir < 0)
			return reply(x, 1,
				     "%s has no known ports to contain; use quarantine "
				     "--level contain --proto P --ports N or release",
				     ab);
		lvl = LEVEL_ISOLATE;
	}
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = (enum level)lvl;
	c.ttl_s = act_ttl_left(r, daemon_wall_us());
	c.reason = ctl_request_get(x->req, "reason");
	if (!c.reason)
		c.reason = dir > 0 ? "escalated" : "deescalated";
	return apply_one(x, &c);
}

/* An incident id from the request: digits only, 1 to UINT_MAX.  strtoul
 * alone took "-1" and, narrowed to unsigned, read 4294967301 as 5: a
 * release --incident of the wrong incident. */
static bool parse_incident_id(const char *s, unsigned *ret)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v == 0 || v > UINT_MAX)
		return false;
	*ret = (unsigned)v;
	return true;
}

/* Which blocked hosts a bulk release takes: all, those inside a prefix,
 * or those hit in an incident; uncleanable ones only when asked. */
struct selection {
	const struct qaddr *prefix;
	unsigned plen;
	unsigned incident;
	bool uncleanable;
};

static bool selected(const struct hostrec *r, const struct selection *s)
{
	if (s->prefix) {
		bool in = addr_in_prefix(&r->addr, s->prefix, s->plen);

		for (unsigned i = 0; i < r->naddrs && !in; i++)
			in = addr_in_prefix(&r->addrs[i].a, s->prefix, s->plen);
		if (!in)
			return false;
	}
	if (s->incident) {
		for (unsigned i = 0; i < r->nhits; i++)
			if (r->hits[i].incident == s->incident)
				return true;
		return false;
	}
	return true;
}

/* Whether any host's record names incident id (the incident itself may
 * have left the daemon's ring of recent incidents). */
static bool incident_in_records(struct daemon *d, unsigned id)
{
	for (struct hostrec *r = hostdb_first(&d->eng.hosts); r; r = hostdb_next(&d->eng.hosts, r))
		for (unsigned i = 0; i < r->nhits; i++)
			if (r->hits[i].incident == id)
				return true;
	return false;
}

/* Applies a chunk of changes and counts the failures.  Each change has
 * its event when each; else only the failures do (a list given with
 * --from has one bulk event for the whole list, and each host its
 * history line). */
static void apply_chunk(struct cmdctx *x, struct act_change *ch, unsigned n, bool each,
			unsigned *ret_err)
{
	usec_t now = daemon_wall_us();
	bool emit = each;

	/* Gathered for the database's host log: one row per step instead of
	 * a few per host (daemon.h persist_log), durable before any event
	 * of these hosts is emitted. */
	x->d->persist_log = true;
	act_apply(&x->d->eng, ch, n, now);
	x->d->persist_log = false;
	for (unsigned i = 0; i < n; i++)
		emit |= ch[i].error != 0;
	if (emit)
		daemon_persist_flush(x->d);
	for (unsigned i = 0; i < n; i++) {
		if (each || ch[i].error)
			act_emit(&x->d->eng, &ch[i], now);
		*ret_err += ch[i].error != 0;
	}
}

/* Releases the selected hosts; those kept for being uncleanable are
 * counted in *ret_kept. */
static void release_many(struct cmdctx *x, const struct selection *sel, const char *reason,
			 unsigned *ret_n, unsigned *ret_err, unsigned *ret_kept)
{
	struct daemon *d = x->d;
	struct act_change ch[CHUNK];
	unsigned n = 0;

	*ret_n = *ret_err = *ret_kept = 0;
	for (struct hostrec *r = hostdb_first(&d->eng.hosts); r;
	     r = hostdb_next(&d->eng.hosts, r)) {
		if (r->level == LEVEL_NONE || !selected(r, sel))
			continue;
		/* An uncleanable machine stays isolated through a bulk
		 * release, unless the operator names it or asks. */
		if (r->state == HOST_UNCLEANABLE && !sel->uncleanable) {
			(*ret_kept)++;
			continue;
		}
		memset(&ch[n], 0, sizeof(ch[n]));
		ch[n].rec = r;
		ch[n].level = LEVEL_NONE;
		ch[n].by_uid = (long)x->peer->uid;
		ch[n].by = operator_names(x);
		ch[n].reason = reason;
		if (++n == CHUNK) {
			apply_chunk(x, ch, n, true, ret_err);
			*ret_n += n;
			n = 0;
		}
	}
	apply_chunk(x, ch, n, true, ret_err);
	*ret_n += n;
}

/* The one event of a bulk command: what it asked and how many hosts it
 * changed, found in place, kept higher, refused and failed.  The hosts
 * changed have their history lines, those that failed their error
 * events. */
static void bulk_event(struct cmdctx *x, bool quarantine, enum level level, uint64_t ttl_s,
		       const char *reason, unsigned applied, unsigned unchanged, unsigned higher,
		       unsigned refused, unsigned failed)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_BULK;
	ev.ts = daemon_wall_us();
	ev.command = quarantine ? "quarantine" : "release";
	ev.level = quarantine ? level : LEVEL_NONE;
	ev.ttl_s = ttl_s;
	ev.count = applied;
	ev.unchanged = unchanged;
	ev.kept_higher = higher;
	ev.refused = refused;
	ev.failed = failed;
	ev.by_uid = (long)x->peer->uid;
	ev.by = operator_names(x);
	ev.reason = reason;
	output_event(&x->d->out, &ev);
}

/* Where a bulk command stands between two turns of the daemon's loop,
 * kept in ctl_out.resume (zero at the first call). */
struct bulk_place {
	uint64_t off; /* bytes of the list done */
	uint32_t lineno, applied, unchanged, refused, failed, higher;
	uint32_t started; /* the answer's beginning is written */
};
_Static_assert(sizeof(struct bulk_place) <= sizeof(((struct ctl_out *)0)->resume),
	       "a bulk command's place fits in ctl_out.resume");

/* A bulk command hands the loop back after this many transactions, or
 * this many lines, whichever comes first: about 10 ms of work, so that
 * other clients, detections and timers wait no longer than that (and
 * the saves the daemon makes between two steps, see maybe_save()). */
#define BULK_STEP_CHUNKS 8
#define BULK_STEP_LINES	 16384

/* quarantine --from / release --from: one address per line ('#' starts a
 * comment), applied in chunks of CHUNK per transaction; every refused line
 * is reported with its reason (SPEC section 2). */
static int cmd_bulk(struct cmdctx *x, bool quarantine)
{
	struct daemon *d = x->d;
	const char *lv = ctl_request_get(x->req, "level");
	const char *reason = ctl_request_get(x->req, "reason");
	const char *p = x->req->body, *end = p + x->req->bodylen;
	struct act_change ch[CHUNK];
	struct bulk_place at;
	unsigned n = 0, lineno, applied, unchanged, refused, failed, higher;
	unsigned chunks = 0, lines = 0;
	enum level level = LEVEL_ISOLATE;
	uint64_t ttl_s;
	bool has_ttl = ctl_request_get(x->req, "ttl") != NULL;
	bool force = ctl_request_flag(x->req, "force");
	char more[80] = "";
	int s;

	/* Checked again at each step (the request is the same). */
	if (lv && level_parse(lv, &level) < 0)
		return reply(x, 2, "unknown level '%s'", lv);
	s = parse_ttl(x, &ttl_s);
	if (s)
		return s;
	if (!reason)
		reason = quarantine ? "bulk quarantine" : "bulk release";
	memcpy(&at, x->out->resume, sizeof(at));
	if (!at.started && x->json)
		ctl_out_printf(x->out, "{\"refused\":[");
	at.started = 1;
	p += MIN(at.off, x->req->bodylen);
	lineno = at.lineno, applied = at.applied, unchanged = at.unchanged;
	refused = at.refused, failed = at.failed, higher = at.higher;

	while (p < end) {
		/* The loop's turn, when this step has done its share: what is
		 * queued goes into the kernel first. */
		if (chunks >= BULK_STEP_CHUNKS || lines >= BULK_STEP_LINES) {
			apply_chunk(x, ch, n, false, &failed);
			for (unsigned i = 0; i < n; i++)
				applied += ch[i].changed,
					unchanged += !ch[i].error && !ch[i].changed;
			at = (struct bulk_place){
				.off = (uint64_t)(p - x->req->body),
				.lineno = lineno,
				.applied = applied,
				.unchanged = unchanged,
				.refused = refused,
				.failed = failed,
				.higher = higher,
				.started = 1,
			};
			memcpy(x->out->resume, &at, sizeof(at));
			x->out->more = true;
			/* Durable before the loop goes on. */
			daemon_persist_flush(d);
			return 0;
		}
		lines++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		char line[256], *c, *t;
		const char *why = NULL;
		struct qaddr a;
		struct hostrec *r;
		size_t len = (size_t)(le - p);

		lineno++;
		snprintf(line, sizeof(line), "%.*s", (int)MIN(len, sizeof(line) - 1), p);
		p = nl ? nl + 1 : end;
		if ((c = strchr(line, '#')))
			*c = '\0';
		for (t = line; *t == ' ' || *t == '\t' || *t == '\r'; t++)
			;
		for (c = t + strlen(t); c > t && (c[-1] == ' ' || c[-1] == '\t' || c[-1] == '\r');)
			*--c = '\0';
		if (!*t)
			continue;
		if (len >= sizeof(line) || addr_parse_any(t, &a) < 0)
			why = "malformed: not an IPv4 or IPv6 address or a MAC";
		else if (quarantine)
			why = never_block_reason(d, &a);
		r = why ? NULL : target_record(d, &a, quarantine);
		if (!why && quarantine && !r)
			why = "the host registry is full (limits.max_blocked)";
		if (!why && quarantine && (why = record_never_reason(d, r)))
			drop_if_new(d, r);
		if (!why && !quarantine && (!r || r->level == LEVEL_NONE)) {
			unchanged++;
			continue;
		}
		for (unsigned i = 0; !why && i < n; i++)
			if (ch[i].rec == r)
				why = "duplicate line";
		if (why) {
			refused++;
			if (x->json) {
				ctl_out_printf(x->out,
					       "%s{\"line\":%u,\"text\":", refused > 1 ? "," : "",
					       lineno);
				json_str(x->out, t);
				ctl_out_printf(x->out, ",\"reason\":");
				json_str(x->out, why);
				ctl_out_printf(x->out, "}");
			} else {
				ctl_out_printf(x->out, "line %u: %s: refused: %s\n", lineno, t,
					       why);
			}
			continue;
		}
		/* An import (an antivirus console's list, say) never lowers
		 * what is in force unless the operator says so. */
		if (quarantine && r->level > level && !force) {
			higher++;
			continue;
		}
		if (r->changed_us == 0) {
			r->state = HOST_DETECTED;
			r->changed_us = daemon_wall_us();
		}
		memset(&ch[n], 0, sizeof(ch[n]));
		ch[n].rec = r;
		ch[n].level = quarantine ? level : LEVEL_NONE;
		/* As for one host: a block keeps the time it has left unless
		 * --ttl gives one. */
		ch[n].ttl_s = !has_ttl && r->level > LEVEL_NONE ? act_ttl_left(r, daemon_wall_us())
								: ttl_s;
		/* Already at this level: the kernel's timeout restarts too. */
		ch[n].reset_ttl = quarantine && r->level == level;
		ch[n].by_uid = (long)x->peer->uid;
		ch[n].by = operator_names(x);
		ch[n].reason = reason;
		if (++n == CHUNK) {
			apply_chunk(x, ch, n, false, &failed);
			for (unsigned i = 0; i < n; i++)
				applied += ch[i].changed,
					unchanged += !ch[i].error && !ch[i].changed;
			n = 0;
			chunks++;
		}
	}
	apply_chunk(x, ch, n, false, &failed);
	for (unsigned i = 0; i < n; i++)
		applied += ch[i].changed, unchanged += !ch[i].error && !ch[i].changed;
	/* Every batch durable before the event says what was done. */
	daemon_persist_flush(d);
	bulk_event(x, quarantine, level, ttl_s, reason, applied, unchanged, higher, refused,
		   failed);
	log_info("uid %u: %s --from: %u applied, %u already in place, %u kept at a higher level, "
		 "%u refused, %u failed",
		 (unsigned)x->peer->uid, x->req->cmd, applied, unchanged, higher, refused, failed);
	if (x->json)
		ctl_out_printf(
			x->out,
			"],\"applied\":%u,\"unchanged\":%u,\"kept_higher\":%u,\"failed\":%u}\n",
			applied, unchanged, higher, failed);
	if (higher)
		snprintf(more, sizeof(more), ", %u kept at a higher level (--force lowers them)",
			 higher);
	return reply(x, refused || failed ? 1 : 0,
		     "%s %u hosts, %u already in place%s, %u refused, %u failed in the kernel",
		     quarantine ? "quarantined" : "released", applied, unchanged, more, refused,
		     failed);
}

static int cmd_release(struct cmdctx *x)
{
	struct daemon *d = x->d;
	const char *reason = ctl_request_get(x->req, "reason");
	const char *inc = ctl_request_get(x->req, "incident");
	struct selection sel = {0};
	struct act_change c;
	struct hostrec *r;
	struct qaddr a;
	char ab[ADDR_STRLEN];
	int s;

	if (!reason)
		reason = "released by operator";
	if (ctl_request_flag(x->req, "from"))
		return cmd_bulk(x, false);
	if (inc || ctl_request_flag(x->req, "all")) {
		unsigned n, err, kept;
		char more[96] = "";

		if (inc && !parse_incident_id(inc, &sel.incident))
			return reply(x, 2, "bad incident id '%s'", inc);
		sel.uncleanable = ctl_request_flag(x->req, "include_uncleanable");
		release_many(x, &sel, reason, &n, &err, &kept);
		/* An id that names nothing is a mistake, not "0 released":
		 * the incident is neither known nor in any host's record. */
		if (inc && n == 0 && kept == 0 && !incident_find(&d->eng.incidents, sel.incident) &&
		    !incident_in_records(d, sel.incident))
			return reply(x, 1, "no incident %u", sel.incident);
		log_info("uid %u: release %s: %u hosts, %u failed, %u uncleanable kept",
			 (unsigned)x->peer->uid, inc ? "--incident" : "--all", n, err, kept);
		field(x, "released", "%u", n);
		field(x, "uncleanable_kept", "%u", kept);
		if (inc)
			field(x, "incident", "%u", sel.incident);
		if (kept)
			snprintf(more, sizeof(more),
				 "; %u uncleanable kept isolated (--include-uncleanable releases "
				 "them)",
				 kept);
		if (err)
			return reply(x, 1, "released %u of %u hosts; %u failed%s", n - err, n, err,
				     more);
		return reply(x, 0, "released %u hosts%s", n, more);
	}
	s = parse_host(x, &a);
	if (s)
		return s;
	r = target_record(d, &a, false);
	if (!r || r->level == LEVEL_NONE) {
		field_str(x, "host", addr_ntop(&a, ab));
		field_str(x, "level", level_name(LEVEL_NONE));
		field_bool(x, "changed", false);
		return reply(x, 0, "%s is not blocked (already released)", ab);
	}
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = LEVEL_NONE;
	c.reason = reason;
	return apply_one(x, &c);
}

/* Certification (issue: the response team certifies each machine). */
static int cmd_mark(struct cmdctx *x)
{
	struct daemon *d = x->d;
	const char *st = ctl_request_get(x->req, "state");
	const char *reason = ctl_request_get(x->req, "reason");
	enum host_state to;
	struct act_change c;
	struct hostrec *r;
	struct qaddr a;
	struct event ev;
	char ab[ADDR_STRLEN];
	usec_t now = daemon_wall_us();
	int s = parse_host(x, &a);

	if (s)
		return s;
	addr_ntop(&a, ab);
	if (!st || host_state_parse(st, &to) < 0 ||
	    (to != HOST_CLEANING && to != HOST_CLEANED && to != HOST_UNCLEANABLE))
		return reply(x, 2, "mark takes cleaning, cleaned or uncleanable");
	r = target_record(d, &a, false);
	if (!r)
		return reply(x, 1, "%s is not known to quarantined", ab);
	if (!reason)
		reason = host_state_name(to);
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = (enum level)r->level;
	c.ttl_s = act_ttl_left(r, now);
	c.set_state = true;
	c.state = to;
	c.reason = reason;
	c.by_uid = (long)x->peer->uid;
	c.by = operator_names(x);
	if (to == HOST_CLEANED && d->c->state.release_cleaned)
		c.level = LEVEL_NONE; /* certified clean: unblocked */
	if (to == HOST_UNCLEANABLE) {
		/* It stays isolated, whatever it was, and for good: no TTL. */
		const char *why = record_never_reason(d, r);
		if (!why) {
			c.level = LEVEL_ISOLATE;
			c.ttl_s = 0;
			c.reset_ttl = r->expires_us != 0;
		}
	}
	if (!d->eng.enf)
		c.level = (enum level)r->level; /* alert mode: certification only */
	if (c.level != r->level || c.reset_ttl) {
		act_apply(&d->eng, &c, 1, now);
		if (c.error)
			return reply(x, 1, "%s: cannot put %s in force: %s%s%s", ab,
				     level_name(c.effective), strerror(-c.error),
				     c.msg[0] ? ": " : "", c.msg);
	}
	/* Without an enforcer (dry run) or with no level change, the state
	 * alone changes. */
	if (!c.changed) {
		r->state = (uint8_t)to;
		r->changed_us = now;
		r->by_uid = c.by_uid;
		r->by = *c.by;
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
	}
	hostdb_history_by(r, now, HIST_MARK, (enum level)r->level, c.by_uid, c.by, reason);
	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_MARK;
	ev.ts = now;
	engine_event_host(&d->eng, r, &ev);
	ev.state = host_state_name(to);
	ev.by_uid = c.by_uid;
	ev.by = c.by;
	ev.reason = reason;
	output_event(&d->out, &ev);
	act_emit(&d->eng, &c, now);
	log_info("uid %u: mark %s %s", (unsigned)x->peer->uid, ab, host_state_name(to));
	field_str(x, "host", ab);
	field_str(x, "state", host_state_name(to));
	field_str(x, "level", level_name((enum level)r->level));
	field_bool(x, "changed", c.changed);
	d->eng.dirty = ENGINE_DIRTY_NOW;
	daemon_save(d);
	return reply(x, 0, "%s marked %s%s", ab, host_state_name(to),
		     c.changed && c.effective == LEVEL_NONE	 ? " and released"
		     : c.changed && c.effective == LEVEL_ISOLATE ? " and isolated"
								 : "");
}

static int cmd_pause(struct cmdctx *x, bool pause)
{
	x->d->eng.pol.paused = pause;
	field_bool(x, "paused", pause);
	x->d->eng.dirty = ENGINE_DIRTY_NOW;
	log_info("uid %u: automatic actions %s", (unsigned)x->peer->uid,
		 pause ? "paused" : "resumed");
	return reply(x, 0, "automatic actions %s%s", pause ? "paused" : "resumed",
		     pause ? " (detection and alerts go on)" : "");
}

/* The outbreak member of status (and of outbreak status): on, since
 * when, by whom, why, the grouping and its groups. */
static void outbreak_json(struct cmdctx *x)
{
	const struct outbreak_state *ob = &x->d->ob;
	struct ctl_out *o = x->out;
	char tb[32], who[ACTOR_JSON_MAX];

	ctl_out_printf(o, "\"outbreak\":{\"on\":%s", ob->on ? "true" : "false");
	if (ob->on) {
		ctl_out_printf(o,
			       ",\"since\":\"%s\",\"grouping\":\"%s\",\"groups\":%u%s,\"reason\":",
			       event_format_ts(ob->since_us, tb), outbreak_by_name(ob->by),
			       x->d->ob_groups, actor_json(ob->by_uid, &ob->who, who, sizeof(who)));
		json_str(o, ob->reason);
	}
	ctl_out_printf(o, ",\"factor\":%g,\"contain_watch\":%s}", x->d->c->outbreak.factor,
		       x->d->c->outbreak.contain_watch ? "true" : "false");
}

static void outbreak_text(struct cmdctx *x)
{
	const struct outbreak_state *ob = &x->d->ob;
	char tb[32], who[ACTOR_TEXT_MAX];

	if (!ob->on) {
		ctl_out_printf(x->out, "outbreak:        off\n");
		return;
	}
	ctl_out_printf(x->out, "outbreak:        ON since %s by %s, %u groups by %s%s%s\n",
		       event_format_ts(ob->since_us, tb),
		       actor_text(ob->by_uid, &ob->who, who, sizeof(who)), x->d->ob_groups,
		       outbreak_by_name(ob->by), ob->reason[0] ? ": " : "", ob->reason);
}

/* outbreak on [--by department|floor|subnet] [--reason TEXT], outbreak
 * off [--reason TEXT], outbreak status: emergency segmentation
 * (outbreak_mode.c). */
static int cmd_outbreak(struct cmdctx *x)
{
	const char *action = ctl_request_get(x->req, "action");
	const char *by = ctl_request_get(x->req, "by");
	const char *reason = ctl_request_get(x->req, "reason");
	struct outbreak_state want;
	int r;

	if (!action || strcmp(action, "status") == 0) {
		if (x->json) {
			ctl_out_printf(x->out, "{");
			outbreak_json(x);
			ctl_out_printf(x->out, "}\n");
		} else {
			outbreak_text(x);
		}
		return 0;
	}
	memset(&want, 0, sizeof(want));
	if (strcmp(action, "on") == 0)
		want.on = true;
	else if (strcmp(action, "off") != 0)
		return reply(x, 2, "outbreak takes on, off or status (not '%s')", action);
	want.by = x->d->c->outbreak.by;
	if (by && (!want.on || outbreak_by_parse(by, &want.by) < 0))
		return reply(x, 2,
			     "--by goes with outbreak on, and is department, floor or subnet");
	if (reason && strlen(reason) >= sizeof(want.reason))
		return reply(x, 2, "--reason is too long (at most %zu bytes)",
			     sizeof(want.reason) - 1);
	want.since_us = daemon_wall_us();
	want.by_uid = (long)x->peer->uid;
	want.who = *operator_names(x);
	snprintf(want.reason, sizeof(want.reason), "%s", reason ? reason : "");
	r = daemon_outbreak_set(x->d, &want, x->msg, x->msglen);
	field_bool(x, "outbreak", x->d->ob.on);
	if (x->d->ob.on) {
		field_str(x, "grouping", outbreak_by_name(x->d->ob.by));
		field(x, "groups", "%u", x->d->ob_groups);
	}
	return r < 0 ? 1 : 0;
}

/* The allow or disallow event (quarantine-sync(8) publishes it). */
static void allow_event(struct cmdctx *x, const struct qaddr *p, unsigned plen, bool allow,
			unsigned released)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = allow ? EVENT_ALLOW : EVENT_DISALLOW;
	ev.ts = daemon_wall_us();
	ev.prefix = *p;
	ev.plen = plen;
	ev.count = released;
	ev.by_uid = (long)x->peer->uid;
	ev.by = operator_names(x);
	ev.reason = ctl_request_get(x->req, "reason");
	output_event(&x->d->out, &ev);
}

static int cmd_allow(struct cmdctx *x, bool allow)
{
	struct daemon *d = x->d;
	const char *h = ctl_request_get(x->req, "host");
	struct qaddr p;
	unsigned plen, n = 0, err = 0, kept;
	int r;

	if (!h)
		return reply(x, 2, "%s needs a HOST or CIDR", x->req->cmd);
	if (addr_parse_prefix(h, &p, &plen) < 0)
		return reply(x, 2, "'%s' is not an address or network", h);
	r = allow ? policy_allow(&d->eng.pol, &p, plen) : policy_disallow(&d->eng.pol, &p, plen);
	if (r == 0) {
		char oberr[512];

		d->eng.dirty = ENGINE_DIRTY_NOW;
		/* In an outbreak the never-block list is essential: the
		 * kernel's copy follows. */
		if (daemon_outbreak_refresh(d, oberr, sizeof(oberr)) < 0)
			log_warnx("%s: outbreak mode's essential servers not updated: %s",
				  x->req->cmd, oberr);
	}
	field_str(x, "host", h);
	field_bool(x, "never_block", allow ? r == 0 || r == -EEXIST : false);
	field_bool(x, "changed", r == 0);
	log_info("uid %u: %s %s: %s", (unsigned)x->peer->uid, x->req->cmd, h,
		 r ? strerror(-r) : "ok");
	if (r == -EEXIST)
		return reply(x, 0, "%s is already on the never-block list", h);
	if (r == -ENOENT)
		return reply(x, 1, "%s is not on the never-block list", h);
	if (r < 0)
		return reply(x, 1, "%s: %s", h, strerror(-r));
	if (!allow) {
		allow_event(x, &p, plen, false, 0);
		return reply(x, 0, "%s removed from the never-block list", h);
	}
	/* SPEC section 2: a blocked host that becomes allowed is released,
	 * an uncleanable one too (never blocked means never). */
	struct selection sel = {.prefix = &p, .plen = plen, .uncleanable = true};
	release_many(x, &sel, "allowed: on the never-block list", &n, &err, &kept);
	field(x, "released", "%u", n - err);
	allow_event(x, &p, plen, true, n - err);
	if (err)
		return reply(x, 1,
			     "%s added to the never-block list; %u of %u blocked hosts could "
			     "not be released",
			     h, err, n);
	return reply(x, 0, "%s added to the never-block list%s", h,
		     n ? "; blocked hosts inside it released" : "");
}

/* One never-block entry of allowlist, in text or JSON. */
static void allow_entry(struct cmdctx *x, bool *first, const struct qaddr *a, int plen,
			const char *origin)
{
	char b[ADDR_STRLEN], net[ADDR_STRLEN + 8];

	if (plen >= 0)
		snprintf(net, sizeof(net), "%s/%d", addr_ntop(a, b), plen);
	else
		snprintf(net, sizeof(net), "%s", addr_ntop(a, b));
	if (x->json) {
		ctl_out_printf(x->out, "%s{\"net\":", *first ? "" : ",");
		json_str(x->out, net);
		ctl_out_printf(x->out, ",\"origin\":");
		json_str(x->out, origin);
		ctl_out_printf(x->out, "}");
	} else {
		ctl_out_printf(x->out, "%-43s %s\n", net, origin);
	}
	*first = false;
}

/* allowlist: what is never blocked, and where each entry comes from: the
 * configuration (networks.never_block, less what disallow took out), the
 * run-time allow list (until the next reload), and the gateway's own
 * addresses; the protected networks after it, outside which nothing is
 * blocked either. */
static int cmd_allowlist(struct cmdctx *x)
{
	struct daemon *d = x->d;
	const struct prefix_list *conf = &d->c->networks.never_block;
	const struct prefix_list *prot = &d->c->networks.protected_;
	const struct policy *pol = &d->eng.pol;
	const struct qaddr *own = NULL;
	unsigned nown = d->nm ? netmon_addrs(d->nm, &own) : 0;
	bool first = true;
	char b[ADDR_STRLEN];

	if (x->json)
		ctl_out_printf(x->out, "{\"never_block\":[");
	else
		ctl_out_printf(x->out, "%-43s %s\n", "NET", "ORIGIN");
	for (unsigned i = 0; i < conf->n; i++)
		if (!(pol->conf_removed && pol->conf_removed[i]))
			allow_entry(x, &first, &conf->v[i].addr, conf->v[i].plen,
				    "config (networks.never_block)");
	for (unsigned i = 0; i < pol->allowed.n; i++)
		allow_entry(x, &first, &pol->allowed.v[i].addr, pol->allowed.v[i].plen,
			    "allow (until the next reload)");
	for (unsigned i = 0; i < nown; i++)
		allow_entry(x, &first, &own[i], -1, "the gateway's own address");
	if (x->json) {
		ctl_out_printf(x->out, "],\"protected\":[");
		for (unsigned i = 0; i < prot->n; i++) {
			char net[ADDR_STRLEN + 8];

			snprintf(net, sizeof(net), "%s/%u", addr_ntop(&prot->v[i].addr, b),
				 (unsigned)prot->v[i].plen);
			ctl_out_printf(x->out, "%s", i ? "," : "");
			json_str(x->out, net);
		}
		ctl_out_printf(x->out, "]}\n");
		return 0;
	}
	ctl_out_printf(x->out, "\nNothing outside networks.protected is blocked either:");
	for (unsigned i = 0; i < prot->n; i++)
		ctl_out_printf(x->out, " %s/%u", addr_ntop(&prot->v[i].addr, b),
			       (unsigned)prot->v[i].plen);
	ctl_out_printf(x->out, "\n");
	return 0;
}

/* Seconds as an operator wrote them: 30d, 12h, 90m, 45s. */
static const char *duration_text(uint64_t s, char buf[32])
{
	if (s && s % 86400 == 0)
		snprintf(buf, 32, "%llud", (unsigned long long)(s / 86400));
	else if (s && s % 3600 == 0)
		snprintf(buf, 32, "%lluh", (unsigned long long)(s / 3600));
	else if (s && s % 60 == 0)
		snprintf(buf, 32, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(buf, 32, "%llus", (unsigned long long)s);
	return buf;
}

/* purge --older-than D: released and certified-clean hosts unchanged for
 * D leave the registry (engine_purge()); what is blocked or in
 * certification stays whatever its age.  Saved at once: their rows are
 * gone from the state database when the answer comes, their history
 * stays there. */
static int cmd_purge(struct cmdctx *x)
{
	struct daemon *d = x->d;
	const char *older = ctl_request_get(x->req, "older_than");
	uint64_t s;
	unsigned n;
	char db[32];

	if (!older)
		return reply(x, 2, "purge needs --older-than DURATION");
	if (duration_parse(older, &s) < 0 || s > QD_PURGE_MAX_S)
		return reply(x, 2, "invalid duration '%s' for --older-than (at most %llud)", older,
			     (unsigned long long)(QD_PURGE_MAX_S / 86400));
	/* Those old enough but still under surveillance are kept, and
	 * counted: an operator who sees fewer go than expected is told why. */
	usec_t now = daemon_wall_us();
	usec_t before = now > s * USEC_PER_SEC ? now - s * USEC_PER_SEC : 0;
	unsigned watched = 0;
	char more[96] = "";

	for (struct hostrec *r = hostdb_first(&d->eng.hosts); r; r = hostdb_next(&d->eng.hosts, r))
		watched += !hostrec_purgeable(r, before, now) &&
			   hostrec_purgeable(r, before, USEC_INFINITY);
	n = engine_purge(&d->eng, s, now, (long)x->peer->uid, operator_names(x));
	if (n) {
		d->eng.dirty = ENGINE_DIRTY_NOW;
		daemon_save(d);
	}
	if (x->json) {
		ctl_out_printf(x->out,
			       "{\"purged\":%u,\"under_surveillance\":%u,\"older_than_s\":%llu}\n",
			       n, watched, (unsigned long long)s);
		return 0;
	}
	if (watched)
		snprintf(more, sizeof(more), "; %u more kept while under surveillance", watched);
	return reply(x, 0, "purged %u released host%s unchanged for %s%s%s", n, n == 1 ? "" : "s",
		     duration_text(s, db), n ? " (their history stays in the state database)" : "",
		     more);
}

/* The record of an incident's patient zero (an address, or a machine's
 * MAC), or NULL. */
static struct hostrec *incident_pz(struct daemon *d, const struct incident *in)
{
	const struct qaddr *pz = &in->patient_zero;

	return addr_is_mac(pz) ? hostdb_find(&d->eng.hosts, pz)
			       : hostdb_find_addr(&d->eng.hosts, pz);
}

/* An incident's members, for its timeline: each record holding a hit of
 * it once, by first probe. */
struct inc_member {
	const struct hostrec *r;
	usec_t first_us, detect_us;
};

static int member_cmp(const void *a, const void *b)
{
	const struct inc_member *x = a, *y = b;

	if (x->first_us != y->first_us)
		return x->first_us < y->first_us ? -1 : 1;
	return x->detect_us < y->detect_us ? -1 : x->detect_us > y->detect_us;
}

/* The members of incident id (heap, caller frees) in *ret, their count,
 * or -ENOMEM. */
static int incident_members(struct daemon *d, unsigned id, struct inc_member **ret)
{
	struct hostdb *db = &d->eng.hosts;
	struct inc_member *v = NULL;
	size_t n = 0, cap = 0;

	for (struct hostrec *r = hostdb_first(db); r; r = hostdb_next(db, r)) {
		const struct hit *h = NULL;

		if (r->merged)
			continue;
		for (unsigned i = 0; i < r->nhits && !h; i++)
			if (r->hits[i].incident == id)
				h = &r->hits[i];
		if (!h)
			continue;
		if (n == cap) {
			struct inc_member *w;

			cap = cap ? cap * 2 : 64;
			w = realloc(v, cap * sizeof(*v));
			if (!w) {
				free(v);
				return -ENOMEM;
			}
			v = w;
		}
		v[n].r = r;
		v[n].first_us = r->first_probe_us ? r->first_probe_us : h->first_us;
		v[n].detect_us = h->first_us;
		n++;
	}
	if (n)
		qsort(v, n, sizeof(*v), member_cmp);
	*ret = v;
	return (int)n;
}

/* How the daemon names a member's gateway: its source, and for "self" the
 * gateway's own name when its sync program told it. */
static const char *member_gateway(struct cmdctx *x, const char *src, char *buf, size_t len)
{
	if (strcmp(src, "self") == 0 && x->d->sync.at_us)
		snprintf(buf, len, "self (%s)", x->d->sync.gateway);
	else
		snprintf(buf, len, "%s", src);
	return buf;
}

static void incident_links_json(struct cmdctx *x, const struct incident *in)
{
	ctl_out_printf(x->out, ",\"links\":[");
	for (unsigned i = 0; i < in->nlinks; i++)
		ctl_out_printf(x->out, "%s{\"gateway\":\"%s\",\"incident\":%u}", i ? "," : "",
			       in->links[i].gateway, in->links[i].id);
	ctl_out_printf(x->out, "]");
}

/* incident ID: its links and its timeline, after its row. */
static int incident_timeline(struct cmdctx *x, const struct incident *in)
{
	struct inc_member *v = NULL;
	char a[ADDR_STRLEN], src[OUTSIDE_SOURCE_MAX], gw[OUTSIDE_SOURCE_MAX + 40], t1[32], t2[32];
	int n = incident_members(x->d, in->id, &v);

	if (n < 0)
		return n;
	if (x->json) {
		if (x->d->sync.at_us)
			ctl_out_printf(x->out, ",\"gateway\":\"%s\"", x->d->sync.gateway);
		ctl_out_printf(x->out, ",\"members\":[");
		for (int i = 0; i < n; i++) {
			const struct hostrec *r = v[i].r;

			addr_ntop(r->addr.family ? &r->addr : &r->id, a);
			ctl_out_printf(
				x->out,
				"%s{\"host\":\"%s\",\"source\":\"%s\",\"first_probe_ts\":\"%s\","
				"\"detected\":\"%s\",\"state\":\"%s\"}",
				i ? "," : "", a,
				incident_member_source(r, in->id, src, sizeof(src)),
				ts_str(v[i].first_us, t1), ts_str(v[i].detect_us, t2),
				host_state_name((enum host_state)r->state));
		}
		ctl_out_printf(x->out, "]");
		free(v);
		return 0;
	}
	addr_ntop(&in->patient_zero, a);
	ctl_out_printf(x->out, "\npatient zero: %s, seen by %s\n", a,
		       member_gateway(x,
				      incident_member_source(incident_pz(x->d, in), in->id, src,
							     sizeof(src)),
				      gw, sizeof(gw)));
	for (unsigned i = 0; i < in->nlinks; i++)
		ctl_out_printf(x->out, "%s gateway:%s incident %u",
			       i ? "," : "links:", in->links[i].gateway, in->links[i].id);
	ctl_out_printf(x->out, "%stimeline (by first probe):\n", in->nlinks ? "\n" : "");
	ctl_out_printf(x->out, "  %-27s %-39s %-24s %-27s %s\n", "FIRST PROBE", "HOST", "SEEN BY",
		       "DETECTED HERE", "STATE");
	for (int i = 0; i < n; i++) {
		const struct hostrec *r = v[i].r;

		addr_ntop(r->addr.family ? &r->addr : &r->id, a);
		ctl_out_printf(
			x->out, "  %-27s %-39s %-24s %-27s %s\n", ts_str(v[i].first_us, t1), a,
			member_gateway(x, incident_member_source(r, in->id, src, sizeof(src)), gw,
				       sizeof(gw)),
			ts_str(v[i].detect_us, t2), host_state_name((enum host_state)r->state));
	}
	if (n == 0)
		ctl_out_printf(x->out, "  (no host holds it any more: purged)\n");
	free(v);
	return 0;
}

static void incident_render(struct cmdctx *x, const struct incident *in, bool first, bool whole)
{
	char a[ADDR_STRLEN], t1[32], t2[32], t3[32], src[OUTSIDE_SOURCE_MAX];

	addr_ntop(&in->patient_zero, a);
	if (x->json) {
		ctl_out_printf(
			x->out,
			"%s{\"id\":%u,\"rule\":\"%s\",\"patient_zero\":\"%s\",\"hosts\":%u,"
			"\"first_ts\":\"%s\",\"first_detect\":\"%s\",\"last_detect\":\"%s\","
			"\"patient_zero_source\":\"%s\"",
			first ? "" : ",", in->id, in->rule_name, a, in->nhosts,
			ts_str(in->first_probe_us, t1), ts_str(in->first_detect_us, t2),
			ts_str(in->last_detect_us, t3),
			incident_member_source(incident_pz(x->d, in), in->id, src, sizeof(src)));
		incident_links_json(x, in);
		if (whole)
			(void)incident_timeline(x, in);
		ctl_out_printf(x->out, "}");
		return;
	}
	ctl_out_printf(x->out, "%-5u %-20s %-39s %5u  %-27s %s\n", in->id, in->rule_name, a,
		       in->nhosts, ts_str(in->first_probe_us, t1), ts_str(in->last_detect_us, t2));
}

static int cmd_incidents(struct cmdctx *x)
{
	struct incidents *s = &x->d->eng.incidents;
	const char *id = ctl_request_get(x->req, "incident");

	if (id) {
		unsigned v;
		struct incident *in = parse_incident_id(id, &v) ? incident_find(s, v) : NULL;

		if (!in)
			return reply(x, 1, "no incident %s", id);
		if (!x->json)
			ctl_out_printf(x->out, "%-5s %-20s %-39s %5s  %-27s %s\n", "ID", "RULE",
				       "PATIENT ZERO", "HOSTS", "FIRST PROBE", "LATEST DETECTION");
		incident_render(x, in, true, true);
		if (x->json)
			ctl_out_printf(x->out, "\n");
		else if (incident_timeline(x, in) < 0)
			ctl_out_printf(x->out, "timeline: out of memory\n");
		return 0;
	}
	if (x->json)
		ctl_out_printf(x->out, "[");
	else
		ctl_out_printf(x->out, "%-5s %-20s %-39s %5s  %-27s %s\n", "ID", "RULE",
			       "PATIENT ZERO", "HOSTS", "FIRST PROBE", "LATEST DETECTION");
	for (unsigned i = 0; i < s->n; i++)
		incident_render(x, &s->v[(s->head + i) % s->cap], i == 0, false);
	if (x->json)
		ctl_out_printf(x->out, "]\n");
	return 0;
}

static int cmd_reload(struct cmdctx *x)
{
	struct ctl_out diag = {0};
	int r;

	log_info("uid %u: reload", (unsigned)x->peer->uid);
	if (!x->json)
		return daemon_reload(x->d, x->msg, x->msglen, x->out) < 0 ? 1 : 0;
	/* The configuration's diagnostics, one "file:line: text" a line,
	 * as a list in the JSON body of a refusal. */
	r = daemon_reload(x->d, x->msg, x->msglen, &diag);
	if (r < 0 && diag.len) {
		const char *p = diag.buf, *end = diag.buf + diag.len;
		bool first = true;

		ctl_out_printf(x->out, "{\"ok\":false,\"message\":");
		json_str(x->out, x->msg);
		ctl_out_printf(x->out, ",\"diagnostics\":[");
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			char line[1024];

			snprintf(line, sizeof(line), "%.*s", (int)MIN(n, sizeof(line) - 1), p);
			ctl_out_printf(x->out, "%s", first ? "" : ",");
			json_str(x->out, line);
			first = false;
			p += n + 1;
		}
		ctl_out_printf(x->out, "]}\n");
	}
	free(diag.buf);
	return r < 0 ? 1 : 0;
}

static void sink_write(void *arg, const char *data, size_t len)
{
	ctl_out_write(arg, data, len);
}

/* The Prometheus text format, which is what scrapers and node_exporter's
 * textfile collector read.  It has no JSON form: --json is a usage error
 * rather than text in a JSON answer, or a second rendering of the same
 * figures that status --json already gives as JSON. */
static int cmd_metrics(struct cmdctx *x)
{
	struct prom_sink sink = {.write = sink_write, .arg = x->out};

	if (x->json)
		return reply(x, 2,
			     "metrics has no JSON form (it is the Prometheus text format; "
			     "status --json has the same figures)");

	metrics_render(x->d, &sink);
	return 0;
}

/* report --format csv's cursor as a control stream: rows of about 120
 * bytes, so chunk / 128 rows (at least one) make about a chunk. */
static bool report_csv_chunk(void *state, struct ctl_out *out, size_t chunk)
{
	struct report_sink sink = {.write = sink_write, .arg = out};

	return report_csv_next(state, &sink, (unsigned)MIN(chunk / 128 + 1, (size_t)UINT_MAX));
}

static void report_csv_stream_free(void *state)
{
	report_csv_free(state);
}

static int cmd_report(struct cmdctx *x)
{
	const char *by = ctl_request_get(x->req, "by");
	const char *format = ctl_request_get(x->req, "format");
	struct report_sink sink = {.write = sink_write, .arg = x->out};
	enum report_by rb = REPORT_BY_DEPARTMENT;
	enum report_format rf = x->json ? REPORT_JSON : REPORT_TEXT;
	int r;

	if (by && report_by_parse(by, &rb) < 0)
		return reply(x, 2, "report --by takes department, floor, owner or rule");
	if (format && report_format_parse(format, &rf) < 0)
		return reply(x, 2, "report --format takes text, json, html or csv");
	if (format && x->json && rf != REPORT_JSON)
		return reply(x, 2, "report: --json and --format %s disagree", format);
	if (rf == REPORT_CSV) {
		/* A row per host: streamed, like list. */
		struct report_csv_cursor *c = report_csv_new(&x->d->eng, false, daemon_wall_us());

		if (!c)
			return reply(x, 1, "report: %s", strerror(ENOMEM));
		x->out->stream.next = report_csv_chunk;
		x->out->stream.free = report_csv_stream_free;
		x->out->stream.state = c;
		return 0;
	}
	r = report_render(&x->d->eng, rb, rf, false, daemon_wall_us(), &sink);
	if (r < 0)
		return reply(x, 1, "report: %s", strerror(-r));
	return 0;
}

/* events [--since TIME] [--follow]: the recent events the daemon keeps
 * (evring.h), those at or after since when given, in the format of its
 * own output (text lines, or JSON lines); with follow, the control socket
 * then keeps the connection and sends each new event (control.h).  A
 * follower gets the kept ones only when it gives since: a shipper that
 * reconnects would otherwise receive them all again.  The client sends
 * TIME in UTC to the microsecond, read in its own time zone. */
static int cmd_events(struct cmdctx *x)
{
	const struct evring *ring = &x->d->recent;
	const char *since_s = ctl_request_get(x->req, "since");
	bool follow = ctl_request_flag(x->req, "follow");
	usec_t since = 0;

	if (since_s && time_since_parse(since_s, daemon_wall_us(), &since) < 0)
		return reply(x, 2, "invalid since '%s' (want an ISO 8601 time or a duration)",
			     since_s);
	for (unsigned i = 0; i < evring_count(ring) && (since_s || !follow); i++) {
		const struct evring_entry *e = evring_get(ring, i);

		/* Kept in the order they happened; their times may step back
		 * a little (a capture's clock against the daemon's), so each
		 * is compared. */
		if (e->ts < since)
			continue;
		ctl_out_printf(x->out, "%s\n", x->json ? e->json : e->text);
	}
	if (follow) {
		x->out->follow = true;
		x->out->follow_json = x->json;
	}
	return 0;
}

/* ---- import: detections from an antivirus console's export ---- */

/* Where an import stands between two turns of the daemon's loop, kept in
 * ctl_out.resume (zero at the first call). */
struct import_place {
	uint64_t off; /* bytes of the body done */
	uint32_t imported, duplicates, refused, unknown, bad, over, failed, problems;
	uint32_t started;
};
_Static_assert(sizeof(struct import_place) <= sizeof(((struct ctl_out *)0)->resume),
	       "an import's place fits in ctl_out.resume");

/* Rows an import takes per turn of the loop: each is a detection through
 * policy, and those queued go into the kernel at the end of the turn. */
#define IMPORT_STEP_ROWS 256

/* The machine a console names: the inventory's entry of that name, any
 * case; a fully qualified name also by its first label, and a short
 * name also as the first label of an inventory FQDN. */
static const struct inv_entry *import_find_name(const struct inventory *inv, const char *name)
{
	const struct inv_entry *e = inventory_find_name(inv, name);
	size_t n = strcspn(name, ".");
	char shortn[CONF_NAME_MAX];

	if (e || !name[0])
		return e;
	if (name[n] == '.' && n < sizeof(shortn)) {
		memcpy(shortn, name, n);
		shortn[n] = '\0';
		if ((e = inventory_find_name(inv, shortn)))
			return e;
	}
	for (unsigned i = 0; i < inv->n; i++) {
		const char *v = inv->v[i].name;

		if (v[0] && strncasecmp(v, name, n) == 0 && v[n] == '.' && name[n] == '\0')
			return &inv->v[i];
	}
	return NULL;
}

/* One problem line of the answer: text, or a member of "problems". */
static void import_problem(struct cmdctx *x, struct import_place *at, unsigned line,
			   const char *host, const char *kind, const char *why)
{
	if (x->json) {
		ctl_out_printf(x->out, "%s{\"line\":%u,\"host\":", at->problems ? "," : "", line);
		json_str(x->out, host);
		ctl_out_printf(x->out, ",\"problem\":\"%s\",\"reason\":", kind);
		json_str(x->out, why);
		ctl_out_printf(x->out, "}");
	} else {
		ctl_out_printf(x->out, "line %u: %s%s%s: %s\n", line, host, host[0] ? ": " : "",
			       kind, why);
	}
	at->problems++;
}

/* The next TAB-separated field of a body line, NUL-terminated in place. */
static char *import_next(char **p)
{
	char *f = *p, *t;

	if (!f)
		return NULL;
	t = strchr(f, '\t');
	if (t) {
		*t = '\0';
		*p = t + 1;
	} else {
		*p = NULL;
	}
	return f;
}

/* One row: "r LINE HOST ADDR MAC THREAT TS_US EVIDENCE" (TAB between
 * fields; avcsv.h made each printable UTF-8 without TAB), or a line the
 * client refused: "b LINE REASON". */
static void import_row(struct cmdctx *x, struct import_place *at, char *l, const char *origin)
{
	struct daemon *d = x->d;
	char *kind = import_next(&l), *line = import_next(&l), *host, *addr, *mac, *threat, *ts,
	     *ev, *end;
	const struct inv_entry *inv = NULL;
	struct outside_detection o;
	unsigned long ln = line ? strtoul(line, &end, 10) : 0;
	const char *why = NULL;
	char hb[ADDR_STRLEN];

	if (!kind || !line || !*line || *end || ln > UINT_MAX) {
		at->bad++;
		import_problem(x, at, 0, "", "bad", "a malformed row from the client");
		return;
	}
	if (strcmp(kind, "b") == 0) {
		at->bad++;
		import_problem(x, at, (unsigned)ln, "", "bad", l ? l : "refused");
		return;
	}
	host = import_next(&l), addr = import_next(&l), mac = import_next(&l);
	threat = import_next(&l), ts = import_next(&l), ev = l;
	if (strcmp(kind, "r") != 0 || !host || !addr || !mac || !threat || !ts || !ev ||
	    outside_utf8_valid(host, strlen(host), false) != strlen(host) ||
	    strlen(host) >= AVCSV_NAME_MAX) {
		at->bad++;
		import_problem(x, at, (unsigned)ln, "", "bad", "a malformed row from the client");
		return;
	}
	memset(&o, 0, sizeof(o));
	o.source = SOURCE_ANTIVIRUS;
	o.severity = (uint8_t)d->c->antivirus.severity;
	o.level = (uint8_t)conf_av_level(d->c, threat);
	o.ts_us = strtoull(ts, &end, 10);
	if (*end)
		o.ts_us = 0;
	snprintf(o.origin, sizeof(o.origin), "%s", origin);
	if ((size_t)snprintf(o.rule, sizeof(o.rule), "%s%s", OUTSIDE_AV_PREFIX, threat) >=
	    sizeof(o.rule))
		why = "threat name too long";
	snprintf(o.evidence, sizeof(o.evidence), "%.*s",
		 (int)outside_utf8_cut(ev, strlen(ev), sizeof(o.evidence) - 1), ev);
	/* The machine: by its name in the inventory (its MAC, or its one
	 * address), else by the address or MAC the console gives. */
	if (host[0])
		inv = import_find_name(&d->c->inventory, host);
	if (inv && inv->has_mac)
		addr_set_mac(&o.host, inv->mac);
	else if (inv && inv->has_net && inv->net.plen == addr_bits(&inv->net.addr))
		o.host = inv->net.addr;
	else if (addr[0] && addr_parse(addr, &o.host) == 0)
		;
	else if (mac[0] && addr_parse_any(mac, &o.host) == 0 && addr_is_mac(&o.host))
		;
	else {
		at->unknown++;
		import_problem(x, at, (unsigned)ln, host[0] ? host : addr, "unknown",
			       host[0] ? "no machine of that name in the inventory, and no address"
				       : "no machine of that address");
		return;
	}
	if (!why) {
		char err[128];

		if (outside_check(&o, err, sizeof(err)) < 0) {
			at->bad++;
			import_problem(x, at, (unsigned)ln, host[0] ? host : addr, "bad", err);
			return;
		}
	}
	if (why) {
		at->bad++;
		import_problem(x, at, (unsigned)ln, host[0] ? host : addr, "bad", why);
		return;
	}
	switch (engine_outside_ex(&d->eng, &o, &why)) {
	case OUTSIDE_TAKEN:
		at->imported++;
		break;
	case OUTSIDE_DUPLICATE:
		at->duplicates++;
		break;
	case OUTSIDE_REFUSED:
		at->refused++;
		import_problem(x, at, (unsigned)ln, host[0] ? host : addr_ntop(&o.host, hb),
			       "refused", why ? why : "refused by policy");
		break;
	case OUTSIDE_OVER_BUDGET:
		at->over++;
		import_problem(x, at, (unsigned)ln, host[0] ? host : addr_ntop(&o.host, hb),
			       "over-budget",
			       "over the budget of antivirus detections: import "
			       "it again in a moment");
		break;
	case OUTSIDE_FULL:
		at->failed++;
		import_problem(x, at, (unsigned)ln, host[0] ? host : addr_ntop(&o.host, hb),
			       "failed", "the host registry is full (limits.max_blocked)");
		break;
	case OUTSIDE_INVALID:
		at->bad++;
		import_problem(x, at, (unsigned)ln, host[0] ? host : addr_ntop(&o.host, hb), "bad",
			       "refused by the daemon's check");
		break;
	}
}

/* import: the rows quarantinectl parsed from an antivirus console's
 * export (avcsv.h), one per body line, each a detection from outside
 * (source antivirus, rule av:THREAT, the console named as its origin)
 * through the same policy as our own; in steps of IMPORT_STEP_ROWS rows,
 * each step's decisions put in the kernel before the loop goes on. */
static int cmd_import(struct cmdctx *x)
{
	const char *origin = ctl_request_get(x->req, "source_name");
	const char *p = x->req->body, *end = p + x->req->bodylen;
	struct import_place at;
	unsigned rows = 0;
	int status;

	if (!origin || !*origin)
		origin = "console";
	if (strlen(origin) >= OUTSIDE_ORIGIN_MAX ||
	    outside_utf8_valid(origin, strlen(origin), false) != strlen(origin))
		return reply(x, 2, "source_name: printable, at most %d bytes",
			     OUTSIDE_ORIGIN_MAX - 1);
	memcpy(&at, x->out->resume, sizeof(at));
	if (!at.started && x->json)
		ctl_out_printf(x->out, "{\"source_name\":");
	if (!at.started && x->json) {
		json_str(x->out, origin);
		ctl_out_printf(x->out, ",\"problems\":[");
	}
	at.started = 1;
	p += MIN(at.off, x->req->bodylen);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		char l[AVCSV_RECORD_MAX + 1024];

		if (rows == IMPORT_STEP_ROWS) {
			engine_commit(&x->d->eng);
			at.off = (uint64_t)(p - x->req->body);
			memcpy(x->out->resume, &at, sizeof(at));
			x->out->more = true;
			return 0;
		}
		rows++;
		if (len >= sizeof(l)) {
			at.bad++;
			import_problem(x, &at, 0, "", "bad", "a row too long from the client");
		} else if (len) {
			memcpy(l, p, len);
			l[len] = '\0';
			import_row(x, &at, l, origin);
		}
		p = nl ? nl + 1 : end;
	}
	engine_commit(&x->d->eng);
	log_info("uid %u: import from %s: %u imported, %u duplicates, %u refused by policy, "
		 "%u unknown, %u bad, %u over the budget, %u failed",
		 (unsigned)x->peer->uid, origin, at.imported, at.duplicates, at.refused, at.unknown,
		 at.bad, at.over, at.failed);
	/* Duplicates, refusals by policy and unknown names are what an
	 * export holds: no error.  Bad lines, rows over the budget and
	 * failures lost something the operator asked for. */
	status = at.bad || at.over || at.failed ? 1 : 0;
	if (x->json)
		ctl_out_printf(x->out,
			       "],\"imported\":%u,\"duplicates\":%u,\"refused\":%u,\"unknown\":%u,"
			       "\"bad\":%u,\"over_budget\":%u,\"failed\":%u}\n",
			       at.imported, at.duplicates, at.refused, at.unknown, at.bad, at.over,
			       at.failed);
	reply(x, status,
	      "imported %u detections from %s: %u duplicates, %u refused by policy, %u unknown "
	      "names, %u bad lines, %u over the budget, %u failed",
	      at.imported, origin, at.duplicates, at.refused, at.unknown, at.bad, at.over,
	      at.failed);
	/* A text answer with problem lines has its summary last. */
	if (!x->json && at.problems && status == 0)
		ctl_out_printf(x->out, "%s\n", x->msg);
	return status;
}

static int dispatch(struct cmdctx *x)
{
	const char *c = x->req->cmd;

	if (strcmp(c, "status") == 0)
		return cmd_status(x);
	if (strcmp(c, "list") == 0)
		return cmd_list(x);
	if (strcmp(c, "show") == 0)
		return cmd_show(x);
	if (strcmp(c, "quarantine") == 0)
		return cmd_quarantine(x);
	if (strcmp(c, "escalate") == 0)
		return cmd_escalate(x, +1);
	if (strcmp(c, "deescalate") == 0)
		return cmd_escalate(x, -1);
	if (strcmp(c, "release") == 0)
		return cmd_release(x);
	if (strcmp(c, "pause") == 0)
		return cmd_pause(x, true);
	if (strcmp(c, "resume") == 0)
		return cmd_pause(x, false);
	if (strcmp(c, "allowlist") == 0)
		return cmd_allowlist(x);
	if (strcmp(c, "allow") == 0)
		return cmd_allow(x, true);
	if (strcmp(c, "disallow") == 0)
		return cmd_allow(x, false);
	if (strcmp(c, "incidents") == 0 || strcmp(c, "incident") == 0)
		return cmd_incidents(x);
	if (strcmp(c, "mark") == 0)
		return cmd_mark(x);
	if (strcmp(c, "report") == 0)
		return cmd_report(x);
	if (strcmp(c, "events") == 0)
		return cmd_events(x);
	if (strcmp(c, "purge") == 0)
		return cmd_purge(x);
	if (strcmp(c, "metrics") == 0)
		return cmd_metrics(x);
	if (strcmp(c, "reload") == 0)
		return cmd_reload(x);
	if (strcmp(c, "outbreak") == 0)
		return cmd_outbreak(x);
	if (strcmp(c, "import") == 0)
		return cmd_import(x);
	if (strcmp(c, "sync") == 0)
		return cmd_sync(x->d, x->req, x->peer, x->msg, x->msglen);
	return reply(x, 2, "unknown command '%s'", c);
}

int commands_handle(void *arg, const struct ctl_request *req, const struct ctl_peer *peer,
		    struct ctl_out *out, char *msg, size_t msglen)
{
	struct cmdctx x;
	int status;

	memset(&x, 0, sizeof(x));
	x.d = arg;
	x.req = req;
	x.peer = peer;
	x.out = out;
	x.msg = msg;
	x.msglen = msglen;
	x.json = ctl_request_flag(req, "json");
	msg[0] = '\0';
	/* Under sudo, the invoking user the client claims (actor.h): checked
	 * whole, whatever the command, like every other field. */
	if (actor_claim(&x.by, peer->uid, ctl_request_get(req, "sudo_user"),
			ctl_request_get(req, "sudo_uid")) < 0)
		return reply(&x, 2,
			     "invalid sudo_user/sudo_uid (want both: a user name and a uid)");
	status = dispatch(&x);
	/* --json answers every command with JSON: a command that answers
	 * with a sentence says it in an object, with what it did.  A
	 * refusal stays on the status line (quarantinectl renders it as
	 * {"error":...} on stderr). */
	if (x.json && status == 0 && out->len == 0 && msg[0]) {
		ctl_out_printf(out, "{\"ok\":true,\"message\":");
		json_str(out, msg);
		ctl_out_printf(out, "%s}\n", x.fields);
	}
	return status;
}
