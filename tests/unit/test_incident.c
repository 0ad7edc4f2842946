/* Unit tests of incidents: grouping by rule, port and time, patient zero
 * as the earliest first probe, the links to other gateways' incidents,
 * the source a member was seen by, and incidents merged across gateways
 * through engine_outside() on a recording enforcement back end (a block
 * of another gateway carries its first probe and incident id). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "enginefix.h"
#include "incident.h"

#define T0  1796309491000000ull /* 2026-12-03T14:51:31Z */
#define WIN (600 * USEC_PER_SEC)

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse_any(s, &a), 0);
	return a;
}

/* Patient zero is the earliest first probe, whenever its detection
 * comes: a host that began earlier but was flagged later takes it. */
static void
test_join(void **state)
{
	struct incidents s;
	struct incident *a, *b, *c, *d;
	struct qaddr h1 = A("10.1.0.1"), h2 = A("10.1.0.2"), h3 = A("10.1.0.3");

	(void)state;
	assert_int_equal(incidents_init(&s, 8, WIN), 0);
	a = incident_join(&s, 1, "smb-propagation", 0, &h1, T0 + 10, T0 + 20);
	assert_non_null(a);
	assert_int_equal(a->id, 1);
	assert_true(addr_eq(&a->patient_zero, &h1));
	b = incident_join(&s, 1, "smb-propagation", 0, &h2, T0, T0 + 30);
	assert_ptr_equal(a, b);
	assert_int_equal(b->nhosts, 2);
	assert_true(addr_eq(&b->patient_zero, &h2));
	assert_int_equal(b->first_probe_us, T0);
	/* Later first probe: patient zero stays. */
	b = incident_join(&s, 1, "smb-propagation", 0, &h3, T0 + 5, T0 + 40);
	assert_true(addr_eq(&b->patient_zero, &h2));
	/* What spreads differs: another incident. */
	c = incident_join(&s, 1, "smb-propagation", 23, &h3, T0 + 5, T0 + 40);
	assert_int_equal(c->id, 2);
	/* Past the window: another incident. */
	d = incident_join(&s, 1, "smb-propagation", 0, &h1, T0, T0 + 40 + WIN + 1);
	assert_int_equal(d->id, 3);
	assert_int_equal(d->nlinks, 0);
	incidents_fini(&s);
}

static void test_links(void **state)
{
	struct incidents s;
	struct incident *in;
	struct qaddr h = A("10.1.0.1");
	char name[INCIDENT_GW_MAX + 1];

	(void)state;
	assert_int_equal(incidents_init(&s, 4, WIN), 0);
	in = incident_join(&s, 1, "smb-propagation", 0, &h, T0, T0);
	assert_int_equal(incident_link(&s, in, "gw-a", 3), 1);
	assert_int_equal(incident_link(&s, in, "gw-a", 3), 0);
	assert_int_equal(incident_link(&s, in, "gw-a", 4), 1);
	assert_int_equal(incident_link(&s, in, "gw-b", 3), 1);
	assert_int_equal(in->nlinks, 3);
	assert_string_equal(in->links[2].gateway, "gw-b");
	assert_int_equal(in->links[2].id, 3);
	/* Refused: no incident, id 0, names that are no subject token. */
	assert_int_equal(incident_link(&s, NULL, "gw-a", 3), -EINVAL);
	assert_int_equal(incident_link(&s, in, "gw-a", 0), -EINVAL);
	assert_int_equal(incident_link(&s, in, "", 1), -EINVAL);
	assert_int_equal(incident_link(&s, in, NULL, 1), -EINVAL);
	assert_int_equal(incident_link(&s, in, "gw\"a", 1), -EINVAL);
	assert_int_equal(incident_link(&s, in, "gw.a", 1), -EINVAL);
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(incident_link(&s, in, name, 1), -EINVAL);
	name[INCIDENT_GW_MAX - 1] = '\0';
	assert_int_equal(incident_link(&s, in, name, 1), 1);
	/* Full: counted, the first kept. */
	assert_int_equal(incident_link(&s, in, "gw-c", 1), -ENOSPC);
	assert_int_equal(s.links_full, 1);
	assert_int_equal(in->nlinks, INCIDENT_LINKS);
	assert_string_equal(in->links[0].gateway, "gw-a");
	incidents_fini(&s);
}

static void test_member_source(void **state)
{
	struct hostrec r;
	struct hist h[3];
	char o1[] = "gateway:gw-b\0cmd=block", o2[] = "gateway:gw-a\0cmd=block",
	     o3[] = "suricata\0{}", buf[OUTSIDE_SOURCE_MAX];

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(h, 0, sizeof(h));
	assert_string_equal(incident_member_source(NULL, 5, buf, sizeof(buf)), "self");
	r.nhits = 1;
	r.hits[0].incident = 5;
	r.hits[0].source = SOURCE_SELF;
	r.hits[0].first_us = T0;
	assert_string_equal(incident_member_source(&r, 5, buf, sizeof(buf)), "self");
	/* Not a member of that incident. */
	assert_string_equal(incident_member_source(&r, 6, buf, sizeof(buf)), "self");
	r.hits[0].source = SOURCE_SURICATA;
	assert_string_equal(incident_member_source(&r, 5, buf, sizeof(buf)), "suricata");
	/* Another gateway: the name from the history line of the hit's
	 * time. */
	r.hits[0].source = SOURCE_GATEWAY;
	r.hist = h;
	r.nhist = 3;
	h[0].kind = HIST_DETECT;
	h[0].ts = T0 - 100;
	h[0].outside = o1;
	h[1].kind = HIST_DETECT;
	h[1].ts = T0;
	h[1].outside = o3;
	h[2].kind = HIST_DETECT;
	h[2].ts = T0;
	h[2].outside = o2;
	assert_string_equal(incident_member_source(&r, 5, buf, sizeof(buf)), "gateway:gw-a");
	/* The line of its time gone: the first of a gateway. */
	h[2].ts = T0 + 1;
	assert_string_equal(incident_member_source(&r, 5, buf, sizeof(buf)), "gateway:gw-b");
	/* None at all. */
	r.nhist = 0;
	assert_string_equal(incident_member_source(&r, 5, buf, sizeof(buf)), "gateway:?");
	/* Cut to the buffer. */
	r.nhist = 3;
	assert_string_equal(incident_member_source(&r, 5, buf, 5), "gate");
}

/* ---- across gateways, through the engine ---- */

/* The last line of the events that holds s (into buf), or NULL. */
static const char *last_event(struct fix *x, const char *s, char *buf, size_t len)
{
	const char *p = events(x);
	bool found = false;
	char *l = malloc(len);

	assert_non_null(l);
	while (*p) {
		size_t n = strcspn(p, "\n");

		snprintf(l, len, "%.*s", (int)n, p);
		if (strstr(l, s)) {
			memcpy(buf, l, len);
			found = true;
		}
		p += n + (p[n] == '\n');
	}
	free(l);
	return found ? buf : NULL;
}

static void remote_rule(struct fix *x, const char *gw, const char *rule, const char *host,
			usec_t first_us, unsigned incident)
{
	struct outside_detection o;

	memset(&o, 0, sizeof(o));
	o.source = SOURCE_GATEWAY;
	o.severity = SEV_HIGH;
	o.level = LEVEL_CONTAIN;
	o.proto = PROTO_TCP;
	o.nports = 2;
	o.ports[0] = 445;
	o.ports[1] = 139;
	o.host = A(host);
	o.ts_us = first_us;
	o.incident = incident;
	snprintf(o.origin, sizeof(o.origin), "%s", gw);
	snprintf(o.rule, sizeof(o.rule), "%s", rule);
	snprintf(o.evidence, sizeof(o.evidence), "cmd=block origin=%s", gw);
	assert_int_equal(engine_outside_ex(&x->e, &o, NULL), OUTSIDE_TAKEN);
	engine_commit(&x->e);
}

static void remote(struct fix *x, const char *gw, const char *host, usec_t first_us,
		   unsigned incident)
{
	remote_rule(x, gw, "smb-propagation", host, first_us, incident);
}

static void local(struct fix *x, const char *host, usec_t first_us)
{
	struct detection d;
	int rule = conf_rule_find(&x->c, "smb-propagation");

	assert_true(rule >= 0);
	memset(&d, 0, sizeof(d));
	d.host = d.addr = A(host);
	d.rule = (unsigned)rule;
	d.rule_name = "smb-propagation";
	d.severity = SEV_HIGH;
	d.proto = "tcp";
	d.ports[0] = 445;
	d.port_protos[0] = PROTO_TCP;
	d.nports = 1;
	d.fixed_ports = true;
	d.kind = EVIDENCE_DISTINCT_DST;
	d.count = 20;
	d.first_probe_us = first_us;
	d.ts_us = time_wall_us();
	engine_detection(&x->e, &d);
	engine_commit(&x->e);
}

/* A worm at gateway gw-a, the same worm here later, and at gw-b a host
 * that began before both: one incident here, patient zero the earliest
 * first probe across the three, each member's gateway named, and links
 * to gw-a's and gw-b's incidents. */
static void test_across_gateways(void **state)
{
	struct fix *x = *state;
	usec_t now = time_wall_us();
	struct qaddr ha = A("10.1.0.31"), hc = A("10.1.0.40"), hb = A("10.1.0.50");
	struct hostrec *ra, *rc, *rb;
	struct incident *in;
	char src[OUTSIDE_SOURCE_MAX], line[2048];

	remote(x, "gw-a", "10.1.0.31", now - 60 * USEC_PER_SEC, 3);
	ra = hostdb_find_addr(&x->e.hosts, &ha);
	assert_non_null(ra);
	assert_int_not_equal(ra->hits[0].incident, 0);
	in = incident_find(&x->e.incidents, ra->hits[0].incident);
	assert_non_null(in);
	/* The origin's first probe, as it was sent. */
	assert_int_equal(in->first_probe_us, now - 60 * USEC_PER_SEC);
	assert_true(addr_eq(&in->patient_zero, &ha));
	assert_int_equal(in->nlinks, 1);
	assert_string_equal(in->links[0].gateway, "gw-a");
	assert_int_equal(in->links[0].id, 3);
	assert_non_null(last_event(x, "\"event\":\"incident\"", line, sizeof(line)));
	assert_non_null(strstr(line, "\"patient_zero_source\":\"gateway:gw-a\""));
	assert_non_null(strstr(line, "\"links\":[{\"gateway\":\"gw-a\",\"incident\":3}]"));

	/* The same worm here, seconds later: it joins; patient zero stays
	 * at gw-a. */
	local(x, "10.1.0.40", now - 10 * USEC_PER_SEC);
	rc = hostdb_find_addr(&x->e.hosts, &hc);
	assert_non_null(rc);
	assert_int_equal(rc->hits[0].incident, in->id);
	assert_int_equal(in->nhosts, 2);
	assert_true(addr_eq(&in->patient_zero, &ha));
	assert_string_equal(incident_member_source(rc, in->id, src, sizeof(src)), "self");
	assert_string_equal(incident_member_source(ra, in->id, src, sizeof(src)), "gateway:gw-a");
	assert_non_null(last_event(x, "\"event\":\"incident\"", line, sizeof(line)));
	assert_non_null(strstr(line, "\"host\":\"10.1.0.40\""));
	assert_non_null(strstr(line, "\"patient_zero\":\"10.1.0.31\""));
	assert_non_null(strstr(line, "\"patient_zero_source\":\"gateway:gw-a\""));

	/* gw-b's host began earliest: it is patient zero now. */
	remote(x, "gw-b", "10.1.0.50", now - 120 * USEC_PER_SEC, 9);
	rb = hostdb_find_addr(&x->e.hosts, &hb);
	assert_non_null(rb);
	assert_int_equal(rb->hits[0].incident, in->id);
	assert_int_equal(in->nhosts, 3);
	assert_true(addr_eq(&in->patient_zero, &hb));
	assert_int_equal(in->first_probe_us, now - 120 * USEC_PER_SEC);
	assert_int_equal(in->nlinks, 2);
	assert_non_null(last_event(x, "\"event\":\"incident\"", line, sizeof(line)));
	assert_non_null(strstr(line, "\"patient_zero\":\"10.1.0.50\""));
	assert_non_null(strstr(line, "\"patient_zero_source\":\"gateway:gw-b\""));
	assert_non_null(strstr(line, "\"links\":[{\"gateway\":\"gw-a\",\"incident\":3},"
				     "{\"gateway\":\"gw-b\",\"incident\":9}]"));

	/* A first probe from a clock far ahead is not believed: the time
	 * it arrived stands for it, and patient zero stays. */
	remote(x, "gw-c", "10.1.0.60", now + 3600 * USEC_PER_SEC, 4);
	assert_true(addr_eq(&in->patient_zero, &hb));
	assert_int_equal(in->nlinks, 3);
}

/* The walk names no ports: another gateway's walk on port 445 and ours
 * on port 445 are one incident, ours on port 23 another. */
static void test_walk_across_gateways(void **state)
{
	struct fix *x = *state;
	usec_t now = time_wall_us();
	struct qaddr ha = A("10.1.0.31"), hc = A("10.1.0.40"), ht = A("10.1.0.41");
	struct hostrec *ra, *rc, *rt;
	struct detection d;

	remote_rule(x, "gw-a", DETECT_TRW_NAME, "10.1.0.31", now - 60 * USEC_PER_SEC, 3);
	ra = hostdb_find_addr(&x->e.hosts, &ha);
	assert_non_null(ra);
	assert_int_equal(ra->hits[0].rule, DETECT_RULE_TRW);
	memset(&d, 0, sizeof(d));
	d.host = d.addr = hc;
	d.rule = DETECT_RULE_TRW;
	d.rule_name = DETECT_TRW_NAME;
	d.severity = SEV_HIGH;
	d.proto = "tcp";
	d.ports[0] = 445;
	d.port_protos[0] = PROTO_TCP;
	d.nports = 1;
	d.kind = EVIDENCE_TRW;
	d.first_probe_us = now - 10 * USEC_PER_SEC;
	d.ts_us = time_wall_us();
	engine_detection(&x->e, &d);
	engine_commit(&x->e);
	rc = hostdb_find_addr(&x->e.hosts, &hc);
	assert_non_null(rc);
	assert_int_equal(rc->hits[0].incident, ra->hits[0].incident);
	d.host = d.addr = ht;
	d.ports[0] = 23;
	engine_detection(&x->e, &d);
	engine_commit(&x->e);
	rt = hostdb_find_addr(&x->e.hosts, &ht);
	assert_non_null(rt);
	assert_int_not_equal(rt->hits[0].incident, ra->hits[0].incident);
}

/* A detection of our own carries no links, and a gateway's detection
 * without an incident id links nothing. */
static void test_no_links(void **state)
{
	struct fix *x = *state;
	usec_t now = time_wall_us();
	struct qaddr h = A("10.1.0.70");
	struct hostrec *r;
	struct incident *in;
	char line[2048];

	local(x, "10.1.0.70", now - USEC_PER_SEC);
	remote(x, "gw-a", "10.1.0.71", now - USEC_PER_SEC, 0);
	r = hostdb_find_addr(&x->e.hosts, &h);
	assert_non_null(r);
	in = incident_find(&x->e.incidents, r->hits[0].incident);
	assert_non_null(in);
	assert_int_equal(in->nhosts, 2);
	assert_int_equal(in->nlinks, 0);
	assert_non_null(last_event(x, "\"event\":\"incident\"", line, sizeof(line)));
	assert_null(strstr(line, "\"links\""));
	assert_non_null(strstr(line, "\"patient_zero_source\":\"self\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_member_source),
		cmocka_unit_test_setup_teardown(test_across_gateways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_across_gateways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_links, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
