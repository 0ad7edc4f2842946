/* Unit tests of detections from outside: the check of every field a
 * parsing process hands the parent, the UTF-8 rules, the registry of
 * outside rule names, and engine_outside() through policy, suppression,
 * the budget and the history, on a recording enforcement back end. */
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

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse_any(s, &a), 0);
	return a;
}

static void
good(struct outside_detection *o)
{
	memset(o, 0, sizeof(*o));
	o->source = SOURCE_SURICATA;
	o->severity = SEV_HIGH;
	o->level = LEVEL_CONTAIN;
	o->proto = PROTO_TCP;
	o->nports = 1;
	o->ports[0] = 445;
	o->host = A("10.1.0.23");
	o->peer = A("10.1.0.99");
	o->ts_us = 1767000000ULL * USEC_PER_SEC;
	snprintf(o->origin, sizeof(o->origin), "eve");
	snprintf(o->rule, sizeof(o->rule), "ids:ET WORM Conficker");
	snprintf(o->evidence, sizeof(o->evidence), "{\"event_type\":\"alert\"}");
}

static void refused(const struct outside_detection *o, const char *what)
{
	char err[128] = "";

	if (outside_check(o, err, sizeof(err)) != -EINVAL)
		fail_msg("taken: %s", what);
	assert_true(err[0] != '\0');
}

static void test_check_good(void **state)
{
	struct outside_detection o;
	char err[128];

	(void)state;
	good(&o);
	assert_int_equal(outside_check(&o, err, sizeof(err)), 0);
	o.source = SOURCE_ANTIVIRUS;
	snprintf(o.rule, sizeof(o.rule), "av:Trojan.Win32.X");
	o.proto = 0;
	o.nports = 0;
	o.ports[0] = 0;
	memset(&o.peer, 0, sizeof(o.peer));
	o.evidence[0] = '\0';
	assert_int_equal(outside_check(&o, err, sizeof(err)), 0);
	/* Another gateway's rules are its own names; its name is needed. */
	o.source = SOURCE_GATEWAY;
	snprintf(o.rule, sizeof(o.rule), "smb-propagation");
	snprintf(o.origin, sizeof(o.origin), "north");
	assert_int_equal(outside_check(&o, err, sizeof(err)), 0);
	/* A machine by its MAC. */
	o.host = A("02:00:00:00:00:01");
	assert_int_equal(outside_check(&o, err, sizeof(err)), 0);
	/* UTF-8 names. */
	snprintf(o.rule, sizeof(o.rule), "Wurm-Überträger ✓");
	assert_int_equal(outside_check(&o, err, sizeof(err)), 0);
}

static void test_check_ranges(void **state)
{
	struct outside_detection o;

	(void)state;
	good(&o);
	o.source = SOURCE_SELF;
	refused(&o, "source self");
	good(&o);
	o.source = SOURCE_COUNT;
	refused(&o, "source count");
	good(&o);
	o.severity = SEV_NONE;
	refused(&o, "severity none");
	good(&o);
	o.severity = SEV_HIGH + 1;
	refused(&o, "severity high+1");
	good(&o);
	o.level = LEVEL_NONE;
	refused(&o, "level none");
	good(&o);
	o.level = LEVEL_ISOLATE + 1;
	refused(&o, "level isolate+1");
	good(&o);
	o.proto = PROTO_ICMP;
	refused(&o, "proto icmp");
	good(&o);
	o.proto = PROTO_TCP | PROTO_UDP;
	refused(&o, "proto both");
	good(&o);
	o.nports = OUTSIDE_MAX_PORTS + 1;
	refused(&o, "nports");
	good(&o);
	o.ports[0] = 0;
	refused(&o, "port 0");
	good(&o);
	o.ports[1] = 80;
	refused(&o, "port past nports");
	good(&o);
	o.proto = 0;
	refused(&o, "ports without proto");
}

static void test_check_addresses(void **state)
{
	struct outside_detection o;

	(void)state;
	good(&o);
	memset(&o.host, 0, sizeof(o.host));
	refused(&o, "no host");
	good(&o);
	o.host = A("224.0.0.1");
	refused(&o, "multicast host");
	good(&o);
	o.host = A("0.0.0.0");
	refused(&o, "unspecified host");
	good(&o);
	o.host.b[10] = 1; /* bytes past an IPv4 address */
	refused(&o, "dirty padding");
	good(&o);
	o.host = A("01:00:5e:00:00:01");
	refused(&o, "multicast MAC");
	good(&o);
	o.peer = A("02:00:00:00:00:01");
	refused(&o, "MAC peer");
	good(&o);
	o.host.family = 99;
	refused(&o, "family 99");
}

static void test_check_strings(void **state)
{
	struct outside_detection o;

	(void)state;
	good(&o);
	memset(o.rule, 'a', sizeof(o.rule));
	refused(&o, "rule not terminated");
	good(&o);
	memset(o.origin, 'a', sizeof(o.origin));
	refused(&o, "origin not terminated");
	good(&o);
	memset(o.evidence, 'a', sizeof(o.evidence));
	refused(&o, "evidence not terminated");
	good(&o);
	snprintf(o.rule, sizeof(o.rule), "ids:a\tb");
	refused(&o, "tab");
	good(&o);
	snprintf(o.rule, sizeof(o.rule), "ids:a\x1b[2Jb");
	refused(&o, "escape");
	good(&o);
	snprintf(o.evidence, sizeof(o.evidence), "line\nbreak");
	refused(&o, "newline in evidence");
	good(&o);
	snprintf(o.rule, sizeof(o.rule), "ids:\xc2\x9b");
	refused(&o, "C1 control");
	good(&o);
	snprintf(o.rule, sizeof(o.rule), "ids:\xc0\xaf");
	refused(&o, "overlong");
	good(&o);
	snprintf(o.rule, sizeof(o.rule), "ids:\xed\xa0\x80");
	refused(&o, "surrogate");
	good(&o);
	snprintf(o.rule, sizeof(o.rule), "ids:\xe2\x9c");
	refused(&o, "cut character");
	good(&o);
	snprintf(o.origin, sizeof(o.origin), "\xff");
	refused(&o, "0xff");
	/* Prefixes: the IDS sources say ids:, antivirus av:, and a name
	 * must follow. */
	good(&o);
	snprintf(o.rule, sizeof(o.rule), "ET WORM");
	refused(&o, "no prefix");
	good(&o);
	snprintf(o.rule, sizeof(o.rule), "ids:");
	refused(&o, "empty name");
	good(&o);
	o.source = SOURCE_ZEEK;
	snprintf(o.rule, sizeof(o.rule), "av:X");
	refused(&o, "zeek with av:");
	good(&o);
	o.source = SOURCE_ANTIVIRUS;
	refused(&o, "antivirus with ids:");
	good(&o);
	o.rule[0] = '\0';
	refused(&o, "empty rule");
	good(&o);
	o.source = SOURCE_GATEWAY;
	o.origin[0] = '\0';
	snprintf(o.rule, sizeof(o.rule), "x");
	refused(&o, "gateway without a name");
}

static void test_utf8(void **state)
{
	(void)state;
	assert_int_equal(outside_utf8_valid("abc", 3, false), 3);
	assert_int_equal(outside_utf8_valid("a\tb", 3, false), 1);
	assert_int_equal(outside_utf8_valid("a\tb", 3, true), 3);
	assert_int_equal(outside_utf8_valid("\xf4\x90\x80\x80", 4, true), 0); /* > U+10FFFF */
	assert_int_equal(outside_utf8_valid("\xf0\x9f\x98\x80", 4, false), 4);
	/* Cut at a boundary: "é" is two bytes. */
	assert_int_equal(outside_utf8_cut("a\xc3\xa9", 3, 2), 1);
	assert_int_equal(outside_utf8_cut("a\xc3\xa9", 3, 3), 3);
	assert_int_equal(outside_utf8_cut("abc", 3, 2), 2);
}

static void test_source_names(void **state)
{
	char b[OUTSIDE_SOURCE_MAX];
	enum det_source s;

	(void)state;
	assert_string_equal(det_source_name(SOURCE_SELF), "self");
	assert_string_equal(det_source_name(SOURCE_SURICATA), "suricata");
	assert_string_equal(det_source_name(SOURCE_ZEEK), "zeek");
	assert_string_equal(det_source_name(SOURCE_ANTIVIRUS), "antivirus");
	assert_string_equal(det_source_label(SOURCE_GATEWAY, "north", b, sizeof(b)),
			    "gateway:north");
	assert_string_equal(det_source_label(SOURCE_ANTIVIRUS, "sophos", b, sizeof(b)),
			    "antivirus");
	assert_string_equal(det_source_name(SOURCE_COUNT), "?");
	assert_int_equal(det_source_parse("zeek", &s), 0);
	assert_int_equal(s, SOURCE_ZEEK);
	assert_int_equal(det_source_parse("nope", &s), -EINVAL);
}

static void test_registry(void **state)
{
	struct outside_rules r;
	unsigned a, b, full;
	char name[64];

	(void)state;
	assert_int_equal(outside_rules_init(&r), 0);
	a = outside_rules_intern(&r, "ids:ET WORM X");
	assert_true(outside_rule_index(a));
	assert_int_equal(outside_rules_intern(&r, "ids:ET WORM X"), a);
	b = outside_rules_intern(&r, "av:Trojan.Y");
	assert_int_not_equal(a, b);
	assert_string_equal(outside_rules_name(&r, a), "ids:ET WORM X");
	assert_int_equal(outside_rules_find(&r, "av:Trojan.Y"), (int)b);
	assert_int_equal(outside_rules_find(&r, "av:nothing"), -1);
	assert_null(outside_rules_name(&r, 3));
	assert_null(outside_rules_name(&r, OUTSIDE_RULE_BASE + OUTSIDE_RULES_MAX - 1));
	/* Fill it: new names fold into the catch-all of their kind, old
	 * ones keep their place. */
	for (unsigned i = 0; r.n < OUTSIDE_RULES_MAX; i++) {
		snprintf(name, sizeof(name), "ids:made-up %u", i);
		(void)outside_rules_intern(&r, name);
	}
	assert_int_equal(r.full, 0);
	full = outside_rules_intern(&r, "ids:one more");
	assert_string_equal(outside_rules_name(&r, full), "ids:(other)");
	assert_string_equal(outside_rules_name(&r, outside_rules_intern(&r, "av:one more")),
			    "av:(other)");
	assert_string_equal(outside_rules_name(&r, outside_rules_intern(&r, "x")), "(other)");
	assert_int_equal(r.full, 3);
	assert_int_equal(outside_rules_intern(&r, "av:Trojan.Y"), b);
	outside_rules_fini(&r);
}

/* ---- engine_outside() ---- */

static void test_engine_outside(void **state)
{
	struct fix *x = *state;
	struct outside_detection o;
	struct qaddr h = A("10.1.0.23");
	struct hostrec *rec;
	const char *why = "x";

	good(&o);
	o.source = SOURCE_ANTIVIRUS;
	snprintf(o.origin, sizeof(o.origin), "sophos");
	snprintf(o.rule, sizeof(o.rule), "av:Trojan.Win32.X");
	snprintf(o.evidence, sizeof(o.evidence), "PC-23,10.1.0.23,\"Trojan.Win32.X\"");
	assert_int_equal(engine_outside_ex(&x->e, &o, &why), OUTSIDE_TAKEN);
	assert_null(why);
	engine_commit(&x->e);
	assert_true(x->commits > 0);
	rec = hostdb_find_addr(&x->e.hosts, &h);
	assert_non_null(rec);
	assert_int_equal(rec->level, LEVEL_CONTAIN);
	assert_int_equal(rec->nhits, 1);
	assert_true(outside_rule_index(rec->hits[0].rule));
	assert_string_equal(engine_rule_name(&x->e, rec->hits[0].rule), "av:Trojan.Win32.X");
	assert_int_equal(engine_rule_index(&x->e, "av:Trojan.Win32.X", false), rec->hits[0].rule);
	/* The history keeps the source and the whole evidence. */
	assert_true(rec->nhist >= 1);
	assert_string_equal(hist_source(&rec->hist[0]), "antivirus");
	assert_string_equal(hist_evidence(&rec->hist[0]), o.evidence);
	/* The event says it, JSON-escaped. */
	assert_non_null(
		strstr(events(x), "\"rule\":\"av:Trojan.Win32.X\",\"source\":\"antivirus\""));
	assert_non_null(
		strstr(events(x), "\"original\":\"PC-23,10.1.0.23,\\\"Trojan.Win32.X\\\"\""));
	assert_int_equal(x->e.st.by_source[SOURCE_ANTIVIRUS], 1);
	/* The same host and rule again: suppressed like our own. */
	assert_int_equal(engine_outside_ex(&x->e, &o, &why), OUTSIDE_DUPLICATE);
	/* Another threat on it is another hit. */
	snprintf(o.rule, sizeof(o.rule), "av:Worm.Y");
	assert_int_equal(engine_outside_ex(&x->e, &o, &why), OUTSIDE_TAKEN);
	engine_commit(&x->e);
	assert_int_equal(rec->nhits, 2);
	/* A long name of multibyte characters: the history line and the
	 * record's reason keep a prefix cut at a character boundary. */
	{
		struct qaddr h2 = A("10.1.0.24");
		struct hostrec *r2;
		size_t n = strlen(OUTSIDE_AV_PREFIX);

		memcpy(o.rule, OUTSIDE_AV_PREFIX, n);
		for (; n + 2 < sizeof(o.rule) - 1; n += 2)
			memcpy(o.rule + n, "\xc3\xa9", 2);
		o.rule[n] = '\0';
		o.host = h2;
		assert_int_equal(engine_outside_ex(&x->e, &o, &why), OUTSIDE_TAKEN);
		engine_commit(&x->e);
		r2 = hostdb_find_addr(&x->e.hosts, &h2);
		assert_non_null(r2);
		assert_int_equal(
			outside_utf8_valid(r2->hist[0].text, strlen(r2->hist[0].text), false),
			strlen(r2->hist[0].text));
		assert_true(strlen(r2->hist[0].text) >= sizeof(r2->hist[0].text) - 3);
		assert_int_equal(outside_utf8_valid(r2->reason, strlen(r2->reason), false),
				 strlen(r2->reason));
		assert_string_equal(engine_rule_name(&x->e, r2->hits[0].rule), o.rule);
	}
	/* A reload keeps the names. */
	assert_int_equal(engine_reconfigure(&x->e, &x->c), 0);
	assert_string_equal(engine_rule_name(&x->e, rec->hits[1].rule), "av:Worm.Y");
}

static void test_engine_policy(void **state)
{
	struct fix *x = *state;
	struct outside_detection o;
	struct qaddr h = A("192.0.2.7");
	const char *why = NULL;

	/* Outside the protected networks: never blocked, whoever asks. */
	good(&o);
	o.host = h;
	assert_int_equal(engine_outside_ex(&x->e, &o, &why), OUTSIDE_REFUSED);
	assert_non_null(why);
	assert_string_equal(why, POLICY_NEVER_OUTSIDE);
	assert_non_null(strstr(events(x), "\"why\":\"never-block\""));
	assert_int_equal(x->commits, 0);
	/* A watch is taken and put in force without the kernel. */
	good(&o);
	o.level = LEVEL_WATCH;
	o.host = A("10.1.0.50");
	assert_int_equal(engine_outside_ex(&x->e, &o, &why), OUTSIDE_TAKEN);
	engine_commit(&x->e);
	assert_int_equal(x->commits, 0);
	/* Checked again, whatever the caller did. */
	good(&o);
	o.level = 9;
	assert_int_equal(engine_outside_ex(&x->e, &o, &why), OUTSIDE_INVALID);
	assert_int_equal(x->e.st.outside_invalid, 1);
}

/* Another gateway's detection: its rule named like ours is ours, its
 * source says the gateway, and it is not capped as unverified. */
static void test_engine_gateway(void **state)
{
	struct fix *x = *state;
	struct outside_detection o;
	struct qaddr h = A("10.1.0.31");
	struct hostrec *rec;
	int own = conf_rule_find(&x->c, "smb-propagation");

	assert_true(own >= 0);
	x->c.identity.unverified_max = LEVEL_WATCH;
	good(&o);
	o.source = SOURCE_GATEWAY;
	o.level = LEVEL_CONTAIN;
	o.host = h;
	snprintf(o.origin, sizeof(o.origin), "north");
	snprintf(o.rule, sizeof(o.rule), "smb-propagation");
	assert_int_equal(engine_outside_ex(&x->e, &o, NULL), OUTSIDE_TAKEN);
	engine_commit(&x->e);
	rec = hostdb_find_addr(&x->e.hosts, &h);
	assert_non_null(rec);
	assert_int_equal(rec->hits[0].rule, (unsigned)own);
	assert_int_equal(rec->hits[0].source, SOURCE_GATEWAY);
	assert_int_equal(rec->level, LEVEL_CONTAIN);
	assert_string_equal(hist_source(&rec->hist[0]), "gateway:north");
	assert_non_null(strstr(events(x), "\"source\":\"gateway:north\""));
	/* An IDS naming an address is capped (identity.unverified_max). */
	good(&o);
	o.host = A("10.1.0.32");
	assert_int_equal(engine_outside_ex(&x->e, &o, NULL), OUTSIDE_TAKEN);
	engine_commit(&x->e);
	rec = hostdb_find_addr(&x->e.hosts, &o.host);
	assert_non_null(rec);
	assert_int_equal(rec->level, LEVEL_WATCH);
}

static void test_engine_budget(void **state)
{
	struct fix *x = *state;
	struct outside_detection o;
	unsigned taken = 0, over = 0;

	/* A flood from one feed: the burst goes through (as duplicates
	 * here), the rest is dropped and counted, and told once. */
	good(&o);
	o.level = LEVEL_WATCH;
	for (unsigned i = 0; i < ENGINE_OUTSIDE_BURST + 100; i++) {
		enum outside_fate f = engine_outside_ex(&x->e, &o, NULL);

		if (f == OUTSIDE_OVER_BUDGET)
			over++;
		else
			taken++;
	}
	assert_int_equal(taken, ENGINE_OUTSIDE_BURST);
	assert_int_equal(over, 100);
	assert_int_equal(x->e.st.outside_dropped[SOURCE_SURICATA], 100);
	/* Another source has its own budget. */
	o.source = SOURCE_ZEEK;
	assert_int_not_equal(engine_outside_ex(&x->e, &o, NULL), OUTSIDE_OVER_BUDGET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_good),
		cmocka_unit_test(test_check_ranges),
		cmocka_unit_test(test_check_addresses),
		cmocka_unit_test(test_check_strings),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_source_names),
		cmocka_unit_test(test_registry),
		cmocka_unit_test_setup_teardown(test_engine_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_budget, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
