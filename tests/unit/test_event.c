/* Unit tests of event rendering (JSON and syslog key=value). */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static void
detection(struct detection *d)
{
	memset(d, 0, sizeof(*d));
	d->host = A("10.1.0.23");
	d->rule_name = "smb-propagation";
	d->severity = SEV_HIGH;
	d->proto = "tcp";
	d->ports[0] = 445;
	d->ports[1] = 139;
	d->nports = 2;
	d->kind = EVIDENCE_DISTINCT_DST;
	d->count = 21;
	d->window_s = 60;
	d->probes = 25;
	d->first_probe_us = 1767000000ULL * USEC_PER_SEC + 5;
	d->ts_us = 1767000003ULL * USEC_PER_SEC + 250000;
}

static void test_ts(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(event_format_ts(1767000003ULL * USEC_PER_SEC + 250000, b),
			    "2025-12-29T09:20:03.250000Z");
	assert_string_equal(event_format_ts(0, b), "1970-01-01T00:00:00.000000Z");
}

static void test_detect_json(void **state)
{
	struct detection d;
	struct event e;
	struct inv_entry inv;
	char buf[2048];

	(void)state;
	detection(&d);
	memset(&inv, 0, sizeof(inv));
	strcpy(inv.department, "finance");
	strcpy(inv.floor, "3");
	strcpy(inv.owner, "IT \"Finance\"");
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_DETECT;
	e.ts = d.ts_us;
	e.has_host = true;
	e.host = d.host;
	e.det = &d;
	e.inv = &inv;
	e.action = LEVEL_ISOLATE;
	e.why = WHY_OFFLINE;
	e.incident_id = 3;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(
		buf,
		"{\"ts\":\"2025-12-29T09:20:03.250000Z\",\"event\":\"detect\","
		"\"host\":\"10.1.0.23\",\"rule\":\"smb-propagation\",\"source\":\"self\","
		"\"severity\":\"high\","
		"\"action\":\"isolate\",\"enforced\":false,\"why\":\"offline\","
		"\"proto\":\"tcp\",\"ports\":[445,139],"
		"\"evidence\":{\"distinct_dst\":21,\"window_s\":60,\"probes\":25},"
		"\"first_probe_ts\":\"2025-12-29T09:20:00.000005Z\",\"incident\":3,"
		"\"department\":\"finance\",\"floor\":\"3\",\"owner\":\"IT \\\"Finance\\\"\"}");
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "detect host=10.1.0.23 rule=smb-propagation source=self "
				 "severity=high "
				 "action=isolate enforced=no why=offline proto=tcp ports=445,139 "
				 "distinct_dst=21 window=60s probes=25 "
				 "first_probe=2025-12-29T09:20:00.000005Z incident=3 "
				 "department=finance floor=3 owner=\"IT \\\"Finance\\\"\"");
}

/* A detection from outside says its source, and carries the start of
 * the original alert, escaped, cut at a character boundary. */
static void test_outside_json(void **state)
{
	struct detection d;
	struct event e;
	char buf[4096], orig[EVENT_ORIGINAL_MAX + 8];

	(void)state;
	detection(&d);
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_DETECT;
	e.ts = d.ts_us;
	e.has_host = true;
	e.host = d.host;
	e.det = &d;
	e.action = LEVEL_CONTAIN;
	e.enforced = true;
	e.source = "gateway:north";
	e.original = "{\"alert\":{\"signature\":\"ET WORM\"}}";
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"source\":\"gateway:north\","));
	assert_non_null(strstr(buf, ",\"evidence\":{\"original\":"
				    "\"{\\\"alert\\\":{\\\"signature\\\":\\\"ET WORM\\\"}}\"},"));
	assert_null(strstr(buf, "truncated"));
	/* Two bytes short of the bound, then a two-byte character that
	 * straddles it: cut before it. */
	memset(orig, 'a', EVENT_ORIGINAL_MAX - 1);
	memcpy(orig + EVENT_ORIGINAL_MAX - 1, "\xc3\xa9zz", 5);
	e.original = orig;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "aaa\",\"truncated\":true}"));
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " source=gateway:north "));
}

/* A dark-space detection names the dark addresses it hit. */
static void test_dark_json(void **state)
{
	struct detection d;
	struct event e;
	char buf[2048];

	(void)state;
	detection(&d);
	d.rule_name = "dark-space";
	d.severity = SEV_MEDIUM;
	d.ports[0] = 6379;
	d.nports = 1;
	d.count = 8;
	d.dark[0] = A("10.9.0.5");
	d.dark[1] = A("fd00::9");
	d.ndark = 2;
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_DETECT;
	e.ts = d.ts_us;
	e.has_host = true;
	e.host = d.host;
	e.det = &d;
	e.action = LEVEL_CONTAIN;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"evidence\":{\"distinct_dst\":8,\"window_s\":60,"
				    "\"dark\":[\"10.9.0.5\",\"fd00::9\"],\"probes\":25}"));
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " distinct_dst=8 window=60s dark=10.9.0.5,fd00::9 probes=25 "));
}

/* A detection contained towards one destination names it ("to"); the
 * others have no such key (test_detect_json). */
static void test_peer_json(void **state)
{
	struct detection d;
	struct event e;
	char buf[2048];

	(void)state;
	detection(&d);
	d.rule_name = "ssh-brute-force";
	d.ports[0] = 22;
	d.nports = 1;
	d.peer = d.target = A("10.1.2.3");
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_DETECT;
	e.ts = d.ts_us;
	e.has_host = true;
	e.host = d.host;
	e.det = &d;
	e.action = LEVEL_CONTAIN;
	e.enforced = true;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"proto\":\"tcp\",\"ports\":[22],\"to\":\"10.1.2.3\","
				    "\"evidence\":{"));
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " proto=tcp ports=22 to=10.1.2.3 distinct_dst=21 "));
}

static void test_trw_and_incident(void **state)
{
	struct detection d;
	struct event e;
	char buf[2048];

	(void)state;
	detection(&d);
	d.rule_name = "scan-trw";
	d.kind = EVIDENCE_TRW;
	d.failures = 4;
	d.llr = 5.545177; /* 4 * ln(4) */
	d.nports = 0;
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_DETECT;
	e.has_host = true;
	e.host = A("fd00::1");
	e.det = &d;
	e.action = LEVEL_CONTAIN;
	e.enforced = true;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"host\":\"fd00::1\""));
	assert_non_null(strstr(buf, "\"enforced\":true,\"proto\""));
	assert_non_null(strstr(buf, "\"ports\":[]"));
	assert_non_null(strstr(buf, "\"evidence\":{\"failures\":4,\"successes\":0,\"llr\":5.55"));

	memset(&e, 0, sizeof(e));
	e.kind = EVENT_INCIDENT;
	e.id = 7;
	e.rule = "smb-propagation";
	e.patient_zero = A("10.1.0.5");
	e.hosts = 3;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\",\"event\":\"incident\","
				 "\"id\":7,\"rule\":\"smb-propagation\","
				 "\"patient_zero\":\"10.1.0.5\",\"hosts\":3,"
				 "\"first_ts\":\"1970-01-01T00:00:00.000000Z\"}");
}

/* Who infected the host, in both forms; absent when nobody is known. */
static void test_infected_by(void **state)
{
	struct detection d;
	struct event e;
	char buf[2048];

	(void)state;
	detection(&d);
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_DETECT;
	e.has_host = true;
	e.host = A("10.1.0.6");
	e.det = &d;
	e.action = LEVEL_ISOLATE;
	e.incident_id = 2;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "infected_by"));
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "infected_by"));
	e.infected_by = A("10.1.0.5");
	e.infected_port = 445;
	e.infected_ts = 1767000000ULL * USEC_PER_SEC;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"incident\":2,\"infected_by\":\"10.1.0.5\","
				    "\"infected_by_port\":445,"
				    "\"infected_by_ts\":\"2025-12-29T09:20:00.000000Z\""));
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " incident=2 infected_by=10.1.0.5 infected_by_port=445"));
}

/* A purge run: its count, its period and who asked, in both forms. */
static void test_purge(void **state)
{
	struct event e;
	char buf[512];

	(void)state;
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_PURGE;
	e.count = 3;
	e.older_than_s = 2592000;
	e.by_uid = 0;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\",\"event\":\"purge\","
				 "\"count\":3,\"older_than_s\":2592000,\"by\":\"0\"}");
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "purge count=3 older_than=2592000s by=0");
	e.by_uid = -1;
	e.count = 0;
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "purge count=0 older_than=2592000s by=auto");
}

/* A bulk command's one event: what it asked and its counts, in both
 * forms; a release has no level. */
static void test_bulk(void **state)
{
	struct actor by = {.name = "root"};
	struct event e;
	char buf[512];

	(void)state;
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_BULK;
	e.command = "quarantine";
	e.level = LEVEL_ISOLATE;
	e.ttl_s = 3600;
	e.count = 99996;
	e.unchanged = 1;
	e.kept_higher = 2;
	e.refused = 3;
	e.failed = 4;
	e.by_uid = 0;
	e.by = &by;
	e.reason = "AV export";
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\",\"event\":\"bulk\","
				 "\"command\":\"quarantine\",\"level\":\"isolate\",\"ttl_s\":3600,"
				 "\"count\":99996,\"unchanged\":1,\"kept_higher\":2,\"refused\":3,"
				 "\"failed\":4,\"by\":\"0\",\"by_name\":\"root\","
				 "\"reason\":\"AV export\"}");
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "bulk command=quarantine level=isolate ttl=3600s count=99996 "
				 "unchanged=1 kept_higher=2 refused=3 failed=4 by=0 by_name=root "
				 "reason=\"AV export\"");
	e.command = "release";
	e.level = LEVEL_NONE;
	e.reason = "";
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "bulk command=release count=99996 unchanged=1 kept_higher=2 "
				 "refused=3 failed=4 by=0 by_name=root");
}

/* Outbreak mode: the switch's event, and the member every event ends
 * with while it is on (the others unchanged before it). */
static void test_outbreak(void **state)
{
	char buf[1024];
	struct event e;
	struct outbreak_state ob;
	struct actor by = {.name = "alice"};

	(void)state;
	memset(&ob, 0, sizeof(ob));
	ob.on = true;
	ob.by = OUTBREAK_BY_FLOOR;
	ob.since_us = 1767225600ULL * USEC_PER_SEC;
	ob.by_uid = 1000;
	ob.who = by;
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_OUTBREAK;
	e.state = "on";
	e.what = "floor";
	e.count = 4;
	e.by_uid = 1000;
	e.by = &by;
	e.reason = "ticket 4711";
	e.outbreak = &ob;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf,
			    "{\"ts\":\"1970-01-01T00:00:00.000000Z\",\"event\":\"outbreak\","
			    "\"state\":\"on\",\"grouping\":\"floor\",\"groups\":4,"
			    "\"by\":\"1000\",\"by_name\":\"alice\",\"reason\":\"ticket 4711\","
			    "\"outbreak\":{\"on\":true,\"since\":\"2026-01-01T00:00:00.000000Z\","
			    "\"grouping\":\"floor\",\"by\":\"1000\",\"by_name\":\"alice\"}}");
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "outbreak state=on grouping=floor groups=4 by=1000 by_name=alice "
				 "reason=\"ticket 4711\" outbreak=on "
				 "outbreak_since=2026-01-01T00:00:00.000000Z outbreak_by=alice");
	/* Another kind: the member last; off, nothing at all. */
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_ERROR;
	e.message = "x";
	e.outbreak = &ob;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"message\":\"x\",\"outbreak\":{\"on\":true,"));
	ob.on = false;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "outbreak"));
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "outbreak"));
}

/* The operator by name in action, release and mark events: "by" as it
 * was (the uid), then the user name and the claimed sudo user, in both
 * forms; none for automatic ones. */
static void test_by_names(void **state)
{
	struct actor by = {.name = "root", .sudo_user = "alice", .sudo_uid = 1000};
	struct event e;
	char buf[1024];

	(void)state;
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_ACTION;
	e.has_host = true;
	e.host = A("10.1.0.5");
	e.level = LEVEL_ISOLATE;
	e.enforced = true;
	e.by_uid = 0;
	e.by = &by;
	e.reason = "manual quarantine";
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"by\":\"0\",\"by_name\":\"root\",\"by_claimed\":{"
				    "\"sudo_user\":\"alice\",\"sudo_uid\":1000},\"reason\""));
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " by=0 by_name=root by_claimed_sudo_user=alice "
				    "by_claimed_sudo_uid=1000 enforced=yes"));
	/* A name alone. */
	e.kind = EVENT_RELEASE;
	e.by_uid = 1000;
	by.sudo_user[0] = '\0';
	snprintf(by.name, sizeof(by.name), "alice");
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"by\":\"1000\",\"by_name\":\"alice\",\"reason\""));
	assert_null(strstr(buf, "by_claimed"));
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " by=1000 by_name=alice reason="));
	/* Automatic: no names, whatever by says. */
	e.kind = EVENT_MARK;
	e.by_uid = -1;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"by\":\"auto\",\"reason\""));
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " by=auto"));
	assert_null(strstr(buf, "by_name"));
	/* Names unknown: as before. */
	e.by_uid = 1000;
	e.by = NULL;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"by\":\"1000\",\"reason\""));
}

static void test_overflow_is_reported(void **state)
{
	struct detection d;
	struct event e;
	char buf[40];

	(void)state;
	detection(&d);
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_DETECT;
	e.det = &d;
	assert_int_equal(event_format_json(&e, buf, sizeof(buf)), -ENOSPC);
	assert_true(strlen(buf) < sizeof(buf));
	assert_int_equal(event_format_kv(&e, buf, sizeof(buf)), -ENOSPC);
	assert_true(strlen(buf) < sizeof(buf));
}

/* An action names the ports a containment blocks, when it has them; a
 * detection the policy capped says so; allow and disallow name their
 * network (quarantine-sync(8) reads all three). */
static void test_ports_capped_allow(void **state)
{
	struct actor by = {.name = "root"};
	struct detection d;
	struct event e;
	char buf[1024];

	(void)state;
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_ACTION;
	e.has_host = true;
	e.host = A("10.1.0.5");
	e.level = LEVEL_ISOLATE;
	e.enforced = true;
	e.by_uid = 0;
	e.reason = "manual quarantine";
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "\"ports\""));
	e.proto = IPPROTO_UDP;
	e.nports = 2;
	e.ports[0] = 137;
	e.ports[1] = 138;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"enforced\":true,\"proto\":\"udp\",\"ports\":[137,138]"));
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " proto=udp ports=137,138"));

	detection(&d);
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_DETECT;
	e.det = &d;
	e.action = LEVEL_WATCH;
	e.enforced = true;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "capped"));
	e.capped = true;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"enforced\":true,\"capped\":true,\"proto\":\"tcp\""));
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " capped=yes proto=tcp"));

	memset(&e, 0, sizeof(e));
	e.kind = EVENT_ALLOW;
	e.prefix = A("10.66.3.0");
	e.plen = 24;
	e.count = 2;
	e.by_uid = 0;
	e.by = &by;
	e.reason = "printers";
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\",\"event\":\"allow\","
				 "\"prefix\":\"10.66.3.0/24\",\"released\":2,\"by\":\"0\","
				 "\"by_name\":\"root\",\"reason\":\"printers\"}");
	assert_true(event_format_kv(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "allow prefix=10.66.3.0/24 released=2 by=0 by_name=root "
				 "reason=printers");
	e.kind = EVENT_DISALLOW;
	e.prefix = A("2001:db8::");
	e.plen = 32;
	e.reason = NULL;
	assert_true(event_format_json(&e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\",\"event\":\"disallow\","
				 "\"prefix\":\"2001:db8::/32\",\"by\":\"0\",\"by_name\":\"root\","
				 "\"reason\":\"\"}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ts),
		cmocka_unit_test(test_dark_json),
		cmocka_unit_test(test_outside_json),
		cmocka_unit_test(test_peer_json),
		cmocka_unit_test(test_detect_json),
		cmocka_unit_test(test_trw_and_incident),
		cmocka_unit_test(test_infected_by),
		cmocka_unit_test(test_purge),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_outbreak),
		cmocka_unit_test(test_by_names),
		cmocka_unit_test(test_overflow_is_reported),
		cmocka_unit_test(test_ports_capped_allow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
