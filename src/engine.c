/* Detection → policy → registry → incidents → enforcement → events. */
#include "engine.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "evidence.h"
#include "log.h"

static void emit_detect(struct engine *e, const struct pending *p, bool enforced, enum why why)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_DETECT;
	ev.ts = p->det.ts_us;
	ev.has_host = true;
	ev.host = p->det.host;
	ev.inv = p->inv;
	ev.det = &p->det;
	ev.action = p->dec.level;
	ev.enforced = enforced;
	ev.why = why;
	ev.incident_id = p->incident;
	ev.recurrence = p->recurrence;
	ev.by_uid = -1;
	output_event(e->out, &ev);

	struct incident *in = p->announce ? incident_find(&e->incidents, p->incident) : NULL;
	if (!in)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_INCIDENT;
	ev.ts = p->det.ts_us;
	ev.has_host = true;
	ev.host = p->det.host;
	ev.id = in->id;
	ev.rule = in->rule_name;
	ev.patient_zero = in->patient_zero;
	ev.hosts = in->nhosts;
	ev.first_ts = in->first_probe_us;
	ev.by_uid = -1;
	output_event(e->out, &ev);
}

/* The ports a containment of this detection blocks (SPEC section 5): the
 * rule's, or those seen in the host's failed probes; a whole protocol for
 * an ICMP sweep. */
static void want_ports(struct hostrec *rec, const struct detection *d)
{
	if (strcmp(d->proto, "icmp") == 0 || strcmp(d->proto, "icmpv6") == 0) {
		hostdb_want_port(rec, d->host.family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP,
				 0);
		return;
	}
	for (unsigned i = 0; i < d->nports; i++) {
		if (d->port_protos[i] & PROTO_TCP)
			hostdb_want_port(rec, IPPROTO_TCP, d->ports[i]);
		if (d->port_protos[i] & PROTO_UDP)
			hostdb_want_port(rec, IPPROTO_UDP, d->ports[i]);
	}
	if (d->ports_overflow)
		rec->want_overflow = 1;
}

/* Starts the host's evidence file when it is flagged, first or again
 * after a release: the ring's recent packets of the host, then what
 * follows. */
static void evidence_begin(struct engine *e, struct hostrec *rec, usec_t now)
{
	char name[EVIDENCE_NAME_MAX];

	if (e->evidence && evidence_start(e->evidence, &rec->addr, now, name, sizeof(name)) == 0)
		snprintf(rec->evidence, sizeof(rec->evidence), "%s", name);
}

static void on_detection(void *arg, const struct detection *d)
{
	struct engine *e = arg;
	const struct inv_entry *inv = inventory_lookup(&e->c->inventory, &d->host);
	bool self = e->is_self && e->is_self(e->self_arg, &d->host);
	struct pending p;
	struct hostrec *rec;
	struct hit *hit;
	struct incident *in = NULL;
	bool new_episode;

	e->st.detections++;
	memset(&p, 0, sizeof(p));
	p.det = *d;
	p.inv = inv;
	rec = hostdb_get(&e->hosts, &d->host);
	if (!rec) {
		/* Still report the detection: losing deduplication and the
		 * block is better than losing the alert. */
		e->st.registry_full++;
		policy_decide(&e->pol, &d->host, d->severity, inv, self, d->ts_us, &p.dec);
		emit_detect(e, &p, false, WHY_ERROR);
		return;
	}
	hit = hostdb_hit(rec, d->rule);
	policy_decide(&e->pol, &d->host, d->severity, inv, self, d->ts_us, &p.dec);
	if (hit && hit->level >= p.dec.level) {
		e->st.detections_suppressed++;
		return;
	}
	if (!hit) {
		hit = hostdb_add_hit(rec, d->rule, d->ts_us);
		in = incident_join(&e->incidents, d->rule, d->rule_name, &d->host,
				   d->first_probe_us, d->ts_us);
		hit->incident = in->id;
		p.announce = true;
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
		if (rec->last_ttl_s)
			p.ttl_s = MAX(p.ttl_s, rec->last_ttl_s * 2);
		if (rec->recurrences < UINT8_MAX)
			rec->recurrences++;
		p.recurrence = rec->recurrences;
		rec->state = HOST_DETECTED;
		rec->changed_us = d->ts_us;
	}
	hit->level = (uint8_t)p.dec.level;
	p.incident = hit->incident;
	if (rec->first_detect_us == 0 || d->first_probe_us < rec->first_probe_us)
		rec->first_probe_us = d->first_probe_us;
	if (rec->first_detect_us == 0)
		rec->first_detect_us = d->ts_us;
	rec->last_detect_us = d->ts_us;
	if (p.dec.level > rec->decided)
		rec->decided = (uint8_t)p.dec.level;
	if (p.dec.level >= LEVEL_CONTAIN)
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
		hostdb_history(rec, d->ts_us, HIST_DETECT, p.dec.level, -1, text);
	}
	if (e->dirty < ENGINE_DIRTY_SOON)
		e->dirty = ENGINE_DIRTY_SOON;
	if (new_episode)
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
		return;
	}
	if (e->nq == ENGINE_QUEUE)
		engine_commit(e);
	e->q[e->nq++] = p;
}

void engine_commit(struct engine *e)
{
	struct act_change ch[ENGINE_QUEUE];
	unsigned nch = 0;
	usec_t now = detect_now(e->det);

	if (e->nq == 0)
		return;
	/* One change per host: the strongest level any of its detections
	 * asked for, never weaker than what is in force. */
	for (unsigned i = 0; i < e->nq; i++) {
		struct hostrec *rec = hostdb_find(&e->hosts, &e->q[i].det.host);
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
			ch[nch].critical = e->q[i].inv && e->q[i].inv->critical;
			nch++;
		}
		if (e->q[i].dec.level > ch[j].level) {
			ch[j].level = e->q[i].dec.level;
			ch[j].reason = e->q[i].det.rule_name;
		}
		if (e->q[i].ttl_s > ch[j].ttl_s)
			ch[j].ttl_s = e->q[i].ttl_s;
	}
	act_apply(e, ch, nch, now);
	for (unsigned i = 0; i < e->nq; i++) {
		const struct pending *p = &e->q[i];
		struct hostrec *rec = hostdb_find(&e->hosts, &p->det.host);
		const struct act_change *c = NULL;

		for (unsigned j = 0; j < nch; j++)
			if (ch[j].rec == rec)
				c = &ch[j];
		emit_detect(e, p, c && c->error == 0, c && c->error ? WHY_ERROR : WHY_NONE);
	}
	for (unsigned j = 0; j < nch; j++)
		act_emit(e, &ch[j], now);
	e->nq = 0;
}

int engine_init(struct engine *e, const struct conf *c, enum run_mode mode, struct output *out,
		struct enforcer *enf)
{
	struct siphash_key key;
	int r;

	memset(e, 0, sizeof(*e));
	e->c = c;
	e->out = out;
	e->enf = enf;
	e->next_expiry_us = USEC_INFINITY;
	r = siphash_key_random(&key);
	if (r < 0)
		return r;
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
	e->det_cb = on_detection;
	e->det = detect_new(c, &key, on_detection, e);
	if (!e->det) {
		r = -errno;
		goto fail;
	}
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

int engine_reconfigure(struct engine *e, const struct conf *c)
{
	const struct conf *old = e->c;
	struct detect *nd = NULL;
	int r;

	/* Queued decisions carry pointers into the old config. */
	engine_commit(e);
	if (detect_reconfigure(e->det, c) < 0) {
		struct siphash_key key;
		r = siphash_key_random(&key);
		if (r < 0)
			return r;
		nd = detect_new(c, &key, e->det_cb, e);
		if (!nd)
			return -errno;
	}
	r = policy_reconfigure(&e->pol, c);
	if (r < 0) {
		detect_free(nd);
		return r;
	}
	if (nd) {
		detect_free(e->det);
		e->det = nd;
	}
	for (struct hostrec *rec = hostdb_first(&e->hosts); rec; rec = hostdb_next(&e->hosts, rec))
		for (unsigned i = 0; i < rec->nhits; i++)
			rec->hits[i].rule = (uint8_t)remap_rule(old, c, rec->hits[i].rule);
	memset(e->incidents.open, 0, sizeof(e->incidents.open));
	for (unsigned i = 0; i < e->incidents.n; i++) {
		struct incident *in = &e->incidents.v[(e->incidents.head + i) % e->incidents.cap];
		int k = strcmp(in->rule_name, DETECT_TRW_NAME) == 0
				? DETECT_RULE_TRW
				: conf_rule_find(c, in->rule_name);
		in->rule = k < 0 ? ENGINE_RULE_GONE : (unsigned)k;
		if (k >= 0)
			e->incidents.open[k] = in->id;
	}
	e->incidents.window_us = (usec_t)c->incident.window_s * USEC_PER_SEC;
	e->c = c;
	e->dirty = ENGINE_DIRTY_NOW;
	return 0;
}

void engine_fini(struct engine *e)
{
	detect_free(e->det);
	e->det = NULL;
	incidents_fini(&e->incidents);
	hostdb_fini(&e->hosts);
	policy_fini(&e->pol);
}

void engine_frame(struct engine *e, int dlt, const uint8_t *data, size_t caplen, size_t wirelen,
		  usec_t ts)
{
	struct pkt p;

	if (decode_packet(dlt, data, caplen, wirelen, &p, &e->st.decode) < 0) {
		/* Undecodable frames still move the clock. */
		if (e->evidence)
			evidence_packet(e->evidence, dlt, data, (uint32_t)caplen, (uint32_t)wirelen,
					ts, NULL, NULL);
		detect_advance(e->det, ts);
		return;
	}
	/* Into the evidence ring before detection, so that a host's evidence
	 * file includes the very packet that got it flagged. */
	if (e->evidence)
		evidence_packet(e->evidence, dlt, data, (uint32_t)caplen, (uint32_t)wirelen, ts,
				&p.src, &p.dst);
	detect_packet(e->det, &p, ts);
}

void engine_tick(struct engine *e, usec_t now)
{
	detect_advance(e->det, now);
	engine_commit(e);
	if (now >= e->next_expiry_us)
		act_expire(e, now);
}

void engine_flush(struct engine *e)
{
	detect_flush(e->det);
	engine_commit(e);
}
