/* Detection → policy → registry → incidents → events. */
#include "engine.h"

#include <errno.h>
#include <string.h>

#include "event.h"
#include "log.h"

static void on_detection(void *arg, const struct detection *d)
{
	struct engine *e = arg;
	const struct inv_entry *inv = inventory_lookup(&e->c->inventory, &d->host);
	struct decision dec;
	struct hostrec *rec;
	struct hit *hit;
	struct incident *in = NULL;
	bool first_hit;
	struct event ev;

	rec = hostdb_get(&e->hosts, &d->host);
	if (!rec) {
		/* Still report the detection: losing dedup is better than
		 * losing an alert. */
		e->st.registry_full++;
	}
	hit = rec ? hostdb_hit(rec, d->rule) : NULL;
	policy_decide(&e->pol, &d->host, d->severity, inv, false, d->ts_us, &dec);
	if (hit && hit->level >= dec.level) {
		e->st.detections_suppressed++;
		return;
	}
	first_hit = !hit;
	if (rec) {
		if (!hit)
			hit = hostdb_add_hit(rec, d->rule, d->ts_us);
		hit->level = (uint8_t)dec.level;
		if (rec->first_detect_us == 0 || d->first_probe_us < rec->first_probe_us)
			rec->first_probe_us = d->first_probe_us;
		if (rec->first_detect_us == 0)
			rec->first_detect_us = d->ts_us;
		rec->last_detect_us = d->ts_us;
		if (dec.level > rec->level)
			rec->level = (uint8_t)dec.level;
	}
	if (first_hit) {
		in = incident_join(&e->incidents, d->rule, d->rule_name, &d->host,
				   d->first_probe_us, d->ts_us);
		if (hit)
			hit->incident = in->id;
	} else if (hit) {
		in = incident_find(&e->incidents, hit->incident);
	}

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_DETECT;
	ev.ts = d->ts_us;
	ev.has_host = true;
	ev.host = d->host;
	ev.inv = inv;
	ev.det = d;
	ev.action = dec.level;
	ev.enforced = false; /* enforcement reports its own action events */
	ev.why = dec.why;
	ev.incident_id = in ? in->id : 0;
	ev.by_uid = -1;
	output_event(e->out, &ev);

	if (first_hit && in) {
		memset(&ev, 0, sizeof(ev));
		ev.kind = EVENT_INCIDENT;
		ev.ts = d->ts_us;
		ev.has_host = true;
		ev.host = d->host;
		ev.id = in->id;
		ev.rule = in->rule_name;
		ev.patient_zero = in->patient_zero;
		ev.hosts = in->nhosts;
		ev.first_ts = in->first_probe_us;
		ev.by_uid = -1;
		output_event(e->out, &ev);
	}
}

int engine_init(struct engine *e, const struct conf *c, enum run_mode mode, struct output *out)
{
	struct siphash_key key;
	int r;

	memset(e, 0, sizeof(*e));
	e->c = c;
	e->out = out;
	r = siphash_key_random(&key);
	if (r < 0)
		return r;
	policy_init(&e->pol, c, mode);
	r = hostdb_init(&e->hosts, c->limits.max_blocked, &key);
	if (r < 0)
		return r;
	r = incidents_init(&e->incidents, ENGINE_MAX_INCIDENTS,
			   (usec_t)c->incident.window_s * USEC_PER_SEC);
	if (r < 0)
		goto fail;
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

void engine_fini(struct engine *e)
{
	detect_free(e->det);
	e->det = NULL;
	incidents_fini(&e->incidents);
	hostdb_fini(&e->hosts);
}

void engine_frame(struct engine *e, int dlt, const uint8_t *data, size_t caplen, size_t wirelen,
		  usec_t ts)
{
	struct pkt p;

	if (decode_packet(dlt, data, caplen, wirelen, &p, &e->st.decode) < 0) {
		/* Undecodable frames still move the clock. */
		detect_advance(e->det, ts);
		return;
	}
	detect_packet(e->det, &p, ts);
}

void engine_tick(struct engine *e, usec_t now)
{
	detect_advance(e->det, now);
}

void engine_flush(struct engine *e)
{
	detect_flush(e->det);
}
