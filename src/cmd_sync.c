/* cmd=sync: the sync program (quarantine-sync(8)) hands this daemon the
 * decisions of other gateways and says how the bus is.  A record of the
 * bus is decoded and checked here again (the sync program checked it, but
 * the daemon trusts no process with what it puts in the kernel): a block
 * becomes a detection from outside of source gateway:NAME, which goes
 * through this gateway's own policy like any other; a release or a
 * certification is applied as an operator's change, its reason saying
 * which gateway decided it.  A refusal is an error event.  The revision of
 * the record is kept with the change it caused (engine.sync_rev, in the
 * state database's meta table). */
#include "cmdsync.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor.h"
#include "daemon.h"
#include "engine.h"
#include "event.h"
#include "policy.h"
#include "log.h"
#include "output.h"
#include "outside.h"
#include "syncmsg.h"

static const char *fate_name(enum outside_fate f)
{
	switch (f) {
	case OUTSIDE_TAKEN:
		return "taken";
	case OUTSIDE_DUPLICATE:
		return "duplicate";
	case OUTSIDE_REFUSED:
		return "refused";
	case OUTSIDE_OVER_BUDGET:
		return "over budget";
	case OUTSIDE_INVALID:
		return "invalid";
	default:
		return "registry full";
	}
}

/* A refusal, told as an error event and counted. */
static int refuse(struct daemon *d, char *msg, size_t msglen, const char *origin, const char *host,
		  const char *why)
{
	char ev[400];

	snprintf(ev, sizeof(ev), "sync: decision of gateway:%s for %s refused: %s",
		 origin[0] ? origin : "?", host[0] ? host : "?", why);
	log_warnx("%s", ev);
	output_error(&d->out, daemon_wall_us(), ev);
	d->sync.refused++;
	snprintf(msg, msglen, "refused: %s", why);
	return 1;
}

static struct hostrec *find_record(struct engine *e, const struct qaddr *a, usec_t now)
{
	struct hostrec *r = NULL;

	if (!addr_is_mac(a))
		r = hostdb_find_addr(&e->hosts, a);
	if (r && !r->merged)
		return r;
	return engine_record(e, a, false, now);
}

static int apply_block(struct daemon *d, const struct syncmsg *m, const char *value, size_t len,
		       char *msg, size_t msglen, const char *hb)
{
	struct outside_detection o;
	enum outside_fate f;
	const char *why = NULL;
	usec_t now = daemon_wall_us();
	char err[160];

	if (m->expires_us && m->expires_us <= now)
		return refuse(d, msg, msglen, m->origin, hb, "expired");
	memset(&o, 0, sizeof(o));
	o.source = SOURCE_GATEWAY;
	o.severity = (uint8_t)m->severity;
	o.level = (uint8_t)m->level;
	o.proto = m->proto;
	o.nports = m->nports;
	memcpy(o.ports, m->ports, sizeof(o.ports));
	o.host = m->host;
	/* The first probe at the origin: patient zero's time across
	 * gateways (engine_outside() believes it only when it is sane). */
	o.ts_us = m->first_us;
	/* The origin's incident: the incident this host joins here links
	 * to it (incident.h). */
	o.incident = m->incident;
	snprintf(o.origin, sizeof(o.origin), "%s", m->origin);
	snprintf(o.rule, sizeof(o.rule), "%s", m->rule);
	/* The record as received is the evidence: its fields' TABs become
	 * spaces (evidence holds no control character). */
	len = outside_utf8_cut(value, len, sizeof(o.evidence) - 1);
	for (size_t i = 0; i < len; i++)
		o.evidence[i] = value[i] == '\t' ? ' ' : value[i];
	if (outside_check(&o, err, sizeof(err)) < 0)
		return refuse(d, msg, msglen, m->origin, hb, err);
	f = engine_outside_ex(&d->eng, &o, &why);
	if (f == OUTSIDE_TAKEN || f == OUTSIDE_DUPLICATE) {
		d->sync.applied++;
		snprintf(msg, msglen, "%s %s from gateway:%s: %s", level_name(m->level), hb,
			 m->origin, fate_name(f));
		return 0;
	}
	return refuse(d, msg, msglen, m->origin, hb, why ? why : fate_name(f));
}

static int apply_release(struct daemon *d, const struct syncmsg *m, const struct ctl_peer *peer,
			 char *msg, size_t msglen, const char *hb)
{
	struct engine *e = &d->eng;
	usec_t now = daemon_wall_us();
	struct hostrec *r = find_record(e, &m->host, now);
	struct act_change c;
	struct actor by;
	char reason[SYNC_REASON_MAX + 48];

	if (!r || r->level == LEVEL_NONE) {
		snprintf(msg, msglen, "%s is not blocked (already released)", hb);
		return 0;
	}
	if (!e->enf)
		return refuse(d, msg, msglen, m->origin, hb, "alert mode: nothing to release");
	/* The reason names the gateway: the history says who decided, and
	 * the sync program does not publish it again. */
	snprintf(reason, sizeof(reason), "gateway:%s: %s", m->origin,
		 m->reason[0] ? m->reason : sync_op_name(m->op));
	memset(&by, 0, sizeof(by));
	actor_resolve(&by, peer->uid);
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = LEVEL_NONE;
	c.reason = reason;
	c.by_uid = (long)peer->uid;
	c.by = &by;
	if (m->op == SYNC_CERTIFY) {
		c.set_state = true;
		c.state = HOST_CLEANED;
	}
	act_apply(e, &c, 1, now);
	if (c.error) {
		char why[160];

		snprintf(why, sizeof(why), "cannot put the release in force: %s",
			 strerror(-c.error));
		return refuse(d, msg, msglen, m->origin, hb, why);
	}
	act_emit(e, &c, now);
	d->sync.applied++;
	snprintf(msg, msglen, "released %s (gateway:%s)", hb, m->origin);
	return 0;
}

/* Run-time never-block entries the bus may have added, at most: a flood
 * of allows costs a refusal each, never memory. */
#define SYNC_ALLOWED_MAX 256
#define RELEASE_CHUNK	 64

/* Releases the blocked hosts inside prefix p/plen, as cmd_allow() does
 * (SPEC section 2: never blocked means never, uncleanable ones too).
 * Returns how many were released; *ret_failed those that could not be. */
static unsigned release_inside(struct daemon *d, const struct qaddr *p, unsigned plen,
			       const struct actor *by, long uid, const char *reason,
			       unsigned *ret_failed)
{
	struct engine *e = &d->eng;
	struct act_change ch[RELEASE_CHUNK];
	usec_t now = daemon_wall_us();
	unsigned n = 0, done = 0;

	*ret_failed = 0;
	for (struct hostrec *r = hostdb_first(&e->hosts);; r = hostdb_next(&e->hosts, r)) {
		bool in = false;

		if (r && r->level != LEVEL_NONE && !r->merged) {
			in = addr_in_prefix(&r->addr, p, plen);
			for (unsigned i = 0; i < r->naddrs && !in; i++)
				in = addr_in_prefix(&r->addrs[i].a, p, plen);
		}
		if (in) {
			memset(&ch[n], 0, sizeof(ch[n]));
			ch[n].rec = r;
			ch[n].level = LEVEL_NONE;
			ch[n].by_uid = uid;
			ch[n].by = by;
			ch[n].reason = reason;
			n++;
		}
		if (n && (n == RELEASE_CHUNK || !r)) {
			act_apply(e, ch, n, now);
			for (unsigned i = 0; i < n; i++) {
				act_emit(e, &ch[i], now);
				if (ch[i].error)
					(*ret_failed)++;
				else
					done++;
			}
			n = 0;
		}
		if (!r)
			break;
	}
	return done;
}

/* Another gateway's allow or disallow: applied only where the
 * configuration says so (networks.allow_from_gateways: an allow loosens
 * protection), never past SYNC_ALLOWED_MAX run-time entries, and never
 * undoing this gateway's configured never-block list. */
static int apply_allow(struct daemon *d, const struct syncmsg *m, const struct ctl_peer *peer,
		       char *msg, size_t msglen, const char *hb)
{
	struct policy *pol = &d->eng.pol;
	const struct prefix_list *conf = &d->c->networks.never_block;
	char reason[SYNC_REASON_MAX + 48], oberr[512];
	unsigned released = 0, failed = 0;
	struct event ev;
	struct actor by;
	int r;

	if (!d->c->networks.allow_from_gateways)
		return refuse(d, msg, msglen, m->origin, hb,
			      "allows and disallows of other gateways are not applied here "
			      "(networks.allow_from_gateways is false)");
	snprintf(reason, sizeof(reason), "gateway:%s: %s", m->origin,
		 m->reason[0] ? m->reason : sync_op_name(m->op));
	if (m->op == SYNC_ALLOW) {
		if (pol->allowed.n >= SYNC_ALLOWED_MAX)
			return refuse(d, msg, msglen, m->origin, hb,
				      "the run-time never-block list is full (256 entries)");
		r = policy_allow(pol, &m->host, m->plen);
	} else {
		for (unsigned i = 0; i < conf->n; i++)
			if (conf->v[i].plen == m->plen && addr_eq(&conf->v[i].addr, &m->host))
				return refuse(d, msg, msglen, m->origin, hb,
					      "on this gateway's configured never-block list");
		r = policy_disallow(pol, &m->host, m->plen);
	}
	if (r == -EEXIST || r == -ENOENT) {
		d->sync.applied++;
		snprintf(msg, msglen, "%s %s (gateway:%s): %s", sync_op_name(m->op), hb, m->origin,
			 r == -EEXIST ? "on the never-block list already"
				      : "not on the never-block list");
		return 0;
	}
	if (r < 0)
		return refuse(d, msg, msglen, m->origin, hb, strerror(-r));
	d->eng.dirty = ENGINE_DIRTY_NOW;
	if (daemon_outbreak_refresh(d, oberr, sizeof(oberr)) < 0)
		log_warnx("sync %s: outbreak mode's essential servers not updated: %s",
			  sync_op_name(m->op), oberr);
	memset(&by, 0, sizeof(by));
	actor_resolve(&by, peer->uid);
	if (m->op == SYNC_ALLOW)
		released =
			release_inside(d, &m->host, m->plen, &by, (long)peer->uid, reason, &failed);
	memset(&ev, 0, sizeof(ev));
	ev.kind = m->op == SYNC_ALLOW ? EVENT_ALLOW : EVENT_DISALLOW;
	ev.ts = daemon_wall_us();
	ev.prefix = m->host;
	ev.plen = m->plen;
	ev.count = released;
	ev.by_uid = (long)peer->uid;
	ev.by = &by;
	ev.reason = reason;
	output_event(&d->out, &ev);
	log_info("%s %s from gateway:%s: %u released, %u could not be", sync_op_name(m->op), hb,
		 m->origin, released, failed);
	d->sync.applied++;
	snprintf(msg, msglen, "%s %s (gateway:%s)%s", sync_op_name(m->op), hb, m->origin,
		 released ? ": blocked hosts inside it released" : "");
	return 0;
}

static int parse_rev(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v == 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int op_apply(struct daemon *d, const struct ctl_request *req, const struct ctl_peer *peer,
		    char *msg, size_t msglen)
{
	struct syncmsg m;
	char err[160], hb[ADDR_STRLEN + 8] = "";
	uint64_t rev;
	int s;

	if (parse_rev(ctl_request_get(req, "rev"), &rev) < 0) {
		snprintf(msg, msglen, "sync apply needs rev=N (the bus revision, 1 or more)");
		return 2;
	}
	/* Applied already (the sync program replays from the revision it
	 * read back, which a save may have overtaken). */
	if (rev <= d->eng.sync_rev) {
		snprintf(msg, msglen, "revision %" PRIu64 " applied already (at %" PRIu64 ")", rev,
			 d->eng.sync_rev);
		return 0;
	}
	if (strcmp(ctl_request_get(req, "op"), "refuse") == 0) {
		const char *why = ctl_request_get(req, "why");
		size_t n;

		const char *origin = ctl_request_get(req, "origin");
		const char *host = ctl_request_get(req, "host");
		struct qaddr a;

		/* The sync program refused it (a key of another gateway, a
		 * value it cannot read): told here, where events are, with
		 * the key's gateway and machine when they are valid. */
		snprintf(err, sizeof(err), "%s", why ? why : "refused by the sync program");
		n = outside_utf8_cut(err, strlen(err), sizeof(err) - 1);
		err[outside_utf8_valid(err, n, false)] = '\0';
		if (!origin || !sync_gateway_valid(origin))
			origin = "";
		if (host && addr_parse_any(host, &a) == 0)
			snprintf(hb, sizeof(hb), "%s", host);
		s = refuse(d, msg, msglen, origin, hb, err);
	} else if (syncmsg_decode(req->body, req->bodylen, &m, err, sizeof(err)) < 0)
		s = refuse(d, msg, msglen, "", "", err);
	else {
		if (m.host.family == AF_MAC) {
			char mb[MAC_STRLEN];

			snprintf(hb, sizeof(hb), "%s", mac_ntop(m.host.b, mb));
		} else
			addr_ntop(&m.host, hb);
		if (m.plen)
			snprintf(hb + strlen(hb), sizeof(hb) - strlen(hb), "/%u", m.plen);
		if (m.op == SYNC_BLOCK)
			s = apply_block(d, &m, req->body, req->bodylen, msg, msglen, hb);
		else if (m.op == SYNC_ALLOW || m.op == SYNC_DISALLOW)
			s = apply_allow(d, &m, peer, msg, msglen, hb);
		else
			s = apply_release(d, &m, peer, msg, msglen, hb);
	}
	/* Applied or refused, the record is done with: the next start
	 * resumes after it.  Saved with the change it caused (the commit of
	 * a block, the release's batch), or within seconds. */
	d->eng.sync_rev = rev;
	if (d->eng.dirty < ENGINE_DIRTY_SOON)
		d->eng.dirty = ENGINE_DIRTY_SOON;
	return s;
}

/* An optional number of a report: 0 when absent (*known false) or read,
 * -EINVAL when it is not one. */
static int report_u64(const struct ctl_request *req, const char *key, uint64_t *ret, bool *known)
{
	const char *v = ctl_request_get(req, key);
	uint64_t n = 0;

	*known = false;
	*ret = 0;
	if (!v)
		return 0;
	if (!*v || strlen(v) > 20)
		return -EINVAL;
	for (const char *c = v; *c; c++) {
		if (*c < '0' || *c > '9' || n > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		n = n * 10 + (uint64_t)(*c - '0');
	}
	*ret = n;
	*known = true;
	return 0;
}

/* A server's URL as the sync program says it: printed in status and in
 * JSON as it is, so printable ASCII without quote or backslash. */
static bool url_ok(const char *u)
{
	for (; *u; u++)
		if (*u < 0x21 || *u > 0x7e || *u == '"' || *u == '\\')
			return false;
	return true;
}

static int op_report(struct daemon *d, const struct ctl_request *req, char *msg, size_t msglen)
{
	const char *c = ctl_request_get(req, "connected");
	const char *gw = ctl_request_get(req, "gateway");
	const char *peers = ctl_request_get(req, "peers");
	const char *server = ctl_request_get(req, "server");
	const char *rebuilt = ctl_request_get(req, "rebuilt");
	struct sync_report r = {0};
	bool known;
	int n;

	if (!c || (strcmp(c, "0") != 0 && strcmp(c, "1") != 0) || !gw || !sync_gateway_valid(gw)) {
		snprintf(msg, msglen, "sync report needs connected=0|1 and gateway=NAME");
		return 2;
	}
	if (peers) {
		n = sync_peers_parse(peers, r.peers, SYNC_REPORT_PEERS);
		if (n < 0) {
			snprintf(msg, msglen,
				 "sync report: peers=NAME@US,... (at most %d, valid names)",
				 SYNC_REPORT_PEERS);
			return 2;
		}
		r.npeers = (unsigned)n;
	}
	if (server && (strlen(server) >= sizeof(r.server) || !url_ok(server))) {
		snprintf(msg, msglen, "sync report: server=URL (printable, no quote)");
		return 2;
	}
	if (report_u64(req, "since", &r.since_us, &known) < 0 ||
	    report_u64(req, "peers_more", &r.peers_more, &known) < 0 ||
	    report_u64(req, "seen", &r.seen, &r.seen_known) < 0 ||
	    report_u64(req, "last", &r.last, &r.last_known) < 0 ||
	    report_u64(req, "oldest", &r.oldest_us, &known) < 0 ||
	    report_u64(req, "outbox", &r.outbox, &known) < 0 ||
	    report_u64(req, "view", &r.view, &known) < 0) {
		snprintf(msg, msglen,
			 "sync report: since, peers_more, seen, last, oldest, outbox "
			 "and view are numbers");
		return 2;
	}
	if (rebuilt) {
		char *end;
		unsigned long long a, b;

		errno = 0;
		a = strtoull(rebuilt, &end, 10);
		if (errno || end == rebuilt || *end != '/' || !(end[1] >= '0' && end[1] <= '9')) {
			snprintf(msg, msglen, "sync report: rebuilt=RECORDS/MS");
			return 2;
		}
		b = strtoull(end + 1, &end, 10);
		if (errno || *end) {
			snprintf(msg, msglen, "sync report: rebuilt=RECORDS/MS");
			return 2;
		}
		r.rebuilt = true;
		r.rebuilt_records = a;
		r.rebuilt_ms = b;
	}
	r.at_us = daemon_wall_us();
	r.connected = c[0] == '1';
	snprintf(r.gateway, sizeof(r.gateway), "%s", gw);
	snprintf(r.server, sizeof(r.server), "%s", server && r.connected ? server : "");
	/* The counts are the daemon's own. */
	r.applied = d->sync.applied;
	r.refused = d->sync.refused;
	d->sync = r;
	return 0;
}

int cmd_sync(struct daemon *d, const struct ctl_request *req, const struct ctl_peer *peer,
	     char *msg, size_t msglen)
{
	const char *op = ctl_request_get(req, "op");
	int s;

	if (op && (strcmp(op, "apply") == 0 || strcmp(op, "refuse") == 0))
		return op_apply(d, req, peer, msg, msglen);
	if (op && strcmp(op, "report") == 0) {
		s = op_report(d, req, msg, msglen);
		if (s == 0)
			snprintf(msg, msglen, "rev=%" PRIu64, d->eng.sync_rev);
		return s;
	}
	if (op && strcmp(op, "rev") == 0) {
		snprintf(msg, msglen, "rev=%" PRIu64, d->eng.sync_rev);
		return 0;
	}
	snprintf(msg, msglen, "sync takes op=apply, op=refuse, op=report or op=rev");
	return 2;
}

/* Records of the stream past the last one the sync program handled. */
static uint64_t lag(const struct sync_report *s)
{
	return s->last_known && s->seen_known && s->last > s->seen ? s->last - s->seen : 0;
}

static uint64_t ago_s(usec_t now, usec_t t)
{
	return t && now > t ? (now - t) / USEC_PER_SEC : 0;
}

static void status_json(struct daemon *d, struct ctl_out *o, usec_t now)
{
	const struct sync_report *s = &d->sync;
	char t[32];

	ctl_out_printf(o,
		       ",\"bus\":{\"gateway\":\"%s\",\"connected\":%s,\"reported_s_ago\":%" PRIu64
		       ",\"revision\":%" PRIu64 ",\"applied\":%" PRIu64 ",\"refused\":%" PRIu64
		       ",\"peers\":[",
		       s->gateway, s->connected ? "true" : "false", ago_s(now, s->at_us),
		       d->eng.sync_rev, s->applied, s->refused);
	for (unsigned i = 0; i < s->npeers; i++)
		ctl_out_printf(o, "%s\"%s\"", i ? "," : "", s->peers[i].gw);
	ctl_out_printf(o, "],\"peers_seen\":[");
	for (unsigned i = 0; i < s->npeers; i++)
		ctl_out_printf(o, "%s{\"gateway\":\"%s\",\"last_record\":\"%s\"}", i ? "," : "",
			       s->peers[i].gw, event_format_ts(s->peers[i].stored_us, t));
	ctl_out_printf(o, "],\"peers_more\":%" PRIu64, s->peers_more);
	if (s->since_us)
		ctl_out_printf(o, ",\"since\":\"%s\"", event_format_ts(s->since_us, t));
	else
		ctl_out_printf(o, ",\"since\":null");
	if (s->server[0])
		ctl_out_printf(o, ",\"server\":\"%s\"", s->server);
	else
		ctl_out_printf(o, ",\"server\":null");
	if (s->seen_known)
		ctl_out_printf(o, ",\"handled\":%" PRIu64, s->seen);
	else
		ctl_out_printf(o, ",\"handled\":null");
	if (s->last_known && s->seen_known)
		ctl_out_printf(o, ",\"stream_last\":%" PRIu64 ",\"lag\":%" PRIu64, s->last, lag(s));
	else
		ctl_out_printf(o, ",\"stream_last\":null,\"lag\":null");
	if (lag(s) && s->oldest_us)
		ctl_out_printf(o, ",\"lag_oldest_s\":%" PRIu64, ago_s(s->at_us, s->oldest_us));
	else
		ctl_out_printf(o, ",\"lag_oldest_s\":null");
	ctl_out_printf(o, ",\"outbox\":%" PRIu64 ",\"view_machines\":%" PRIu64, s->outbox, s->view);
	if (s->rebuilt)
		ctl_out_printf(o, ",\"view_rebuilt\":{\"records\":%" PRIu64 ",\"ms\":%" PRIu64 "}}",
			       s->rebuilt_records, s->rebuilt_ms);
	else
		ctl_out_printf(o, ",\"view_rebuilt\":null}");
}

void cmd_sync_status(struct daemon *d, struct ctl_out *o, bool json)
{
	const struct sync_report *s = &d->sync;
	usec_t now = daemon_wall_us();
	char t[32];

	if (!s->at_us)
		return;
	if (json) {
		status_json(d, o, now);
		return;
	}
	ctl_out_printf(o, "bus:             gateway %s, ", s->gateway);
	if (s->connected && s->server[0])
		ctl_out_printf(o, "connected to %s", s->server);
	else
		ctl_out_printf(o, "%s", s->connected ? "connected" : "NOT CONNECTED");
	if (s->since_us)
		ctl_out_printf(o, " since %s", event_format_ts(s->since_us, t));
	ctl_out_printf(o, " (reported %" PRIu64 " s ago)\n", ago_s(now, s->at_us));
	ctl_out_printf(o, "bus records:     revision %" PRIu64 " applied here", d->eng.sync_rev);
	if (s->seen_known)
		ctl_out_printf(o, ", %" PRIu64 " handled", s->seen);
	if (s->last_known && s->seen_known) {
		ctl_out_printf(o, ", the stream at %" PRIu64 ": lag %" PRIu64, s->last, lag(s));
		if (lag(s) && s->oldest_us)
			ctl_out_printf(o, " (the oldest stored %" PRIu64 " s ago)",
				       ago_s(s->at_us, s->oldest_us));
	} else {
		ctl_out_printf(o, ", lag unknown");
	}
	ctl_out_printf(o, "; %" PRIu64 " applied, %" PRIu64 " refused; outbox %" PRIu64 "\n",
		       s->applied, s->refused, s->outbox);
	ctl_out_printf(o, "bus peers:       ");
	for (unsigned i = 0; i < s->npeers; i++)
		ctl_out_printf(o, "%s%s (last record %s)", i ? ", " : "", s->peers[i].gw,
			       event_format_ts(s->peers[i].stored_us, t));
	if (!s->npeers)
		ctl_out_printf(o, "none seen");
	if (s->peers_more)
		ctl_out_printf(o, " and %" PRIu64 " more", s->peers_more);
	ctl_out_printf(o, "\nbus view:        %" PRIu64 " machines", s->view);
	if (s->rebuilt)
		ctl_out_printf(o,
			       ", rebuilt from %" PRIu64 " records of the bucket in %" PRIu64
			       " ms at start",
			       s->rebuilt_records, s->rebuilt_ms);
	else
		ctl_out_printf(o, ", not rebuilt from the bucket (yet)");
	ctl_out_printf(o, "\n");
}
