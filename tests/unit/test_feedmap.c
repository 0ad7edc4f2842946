/* Unit tests of the feed parsers (eve.json alerts of Suricata 6 and 7,
 * Zeek notice.log in JSON with ts in both forms), who is taken for the
 * attacker, the map from alerts to levels, and the outside detection
 * built from them.  Fixtures are our own lines, written from the formats
 * the tools document, with our test addresses: 10.66.0.0/16 inside,
 * 198.51.100.0/24 and 203.0.113.0/24 outside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "eve.h"
#include "feedmap.h"
#include "zeek.h"

/* Suricata 7, an ET TROJAN rule on to_client traffic: the outside
 * server sends, the inside host receives (and is the infected one). */
static const char eve_trojan_to_client[] =
	"{\"timestamp\":\"2026-12-03T14:20:01.123456+0000\",\"flow_id\":1,\"in_iface\":\"eth1\","
	"\"event_type\":\"alert\",\"src_ip\":\"203.0.113.9\",\"src_port\":80,"
	"\"dest_ip\":\"10.66.1.20\",\"dest_port\":49152,\"proto\":\"TCP\",\"direction\":\"to_"
	"client\","
	"\"flow\":{\"pkts_toserver\":4,\"pkts_toclient\":5,\"start\":\"2026-12-03T14:20:00.0+"
	"0000\","
	"\"src_ip\":\"10.66.1.20\",\"dest_ip\":\"203.0.113.9\",\"src_port\":49152,\"dest_port\":80}"
	","
	"\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":2999001,\"rev\":3,"
	"\"signature\":\"ET TROJAN Test Backdoor Checkin Response\","
	"\"category\":\"A Network Trojan was detected\",\"severity\":1,"
	"\"metadata\":{\"affected_product\":[\"Windows_XP_Vista_7_8_10_Server_32_64_Bit\"],"
	"\"signature_severity\":[\"Major\"]}}}";

/* Suricata 6: no flow endpoints, no direction; packet src is the client. */
static const char eve6_outbound_exploit[] =
	"{\"timestamp\":\"2026-12-03T14:21:00.000000+0000\",\"event_type\":\"alert\","
	"\"src_ip\":\"10.66.1.21\",\"src_port\":51000,\"dest_ip\":\"198.51.100.7\","
	"\"dest_port\":445,\"proto\":\"TCP\",\"alert\":{\"signature_id\":2999002,"
	"\"signature\":\"ET EXPLOIT Test SMB Overflow Attempt\","
	"\"category\":\"Attempted Administrator Privilege Gain\",\"severity\":1}}";

/* An outside attacker exploits an inside server: nothing to contain. */
static const char eve_inbound_exploit[] =
	"{\"timestamp\":\"2026-12-03T14:22:00.000000+0000\",\"event_type\":\"alert\","
	"\"src_ip\":\"198.51.100.66\",\"src_port\":40000,\"dest_ip\":\"10.66.1.30\","
	"\"dest_port\":80,\"proto\":\"TCP\",\"direction\":\"to_server\","
	"\"flow\":{\"src_ip\":\"198.51.100.66\",\"dest_ip\":\"10.66.1.30\"},"
	"\"alert\":{\"signature_id\":2999003,\"signature\":\"ET EXPLOIT Test Web Shell Upload\","
	"\"category\":\"Attempted Administrator Privilege Gain\",\"severity\":1}}";

/* The rule's target keyword: alert.source and alert.target say it. */
static const char eve_source_target[] =
	"{\"timestamp\":\"2026-12-03T14:23:00.000000+0000\",\"event_type\":\"alert\","
	"\"src_ip\":\"10.66.2.5\",\"src_port\":445,\"dest_ip\":\"10.66.2.9\","
	"\"dest_port\":50000,\"proto\":\"TCP\",\"direction\":\"to_client\","
	"\"alert\":{\"signature_id\":2999004,\"signature\":\"ET WORM Test Lateral Spread\","
	"\"category\":\"A Network Trojan was detected\",\"severity\":1,"
	"\"source\":{\"ip\":\"10.66.2.9\",\"port\":50000},"
	"\"target\":{\"ip\":\"10.66.2.5\",\"port\":445}}}";

static const char eve_flow[] =
	"{\"timestamp\":\"2026-12-03T14:24:00.000000+0000\",\"event_type\":\"flow\","
	"\"src_ip\":\"10.66.1.1\",\"dest_ip\":\"10.66.1.2\",\"proto\":\"UDP\"}";

static const char zeek_scan_float[] =
	"{\"ts\":1796307600.25,\"note\":\"Scan::Port_Scan\","
	"\"msg\":\"10.66.3.4 scanned at least 15 unique ports of host 10.66.3.8 in 0m2s\","
	"\"sub\":\"local\",\"src\":\"10.66.3.4\",\"dst\":\"10.66.3.8\",\"peer_descr\":\"zeek\","
	"\"actions\":[\"Notice::ACTION_LOG\"],\"suppress_for\":3600.0}";

static const char zeek_scan_iso[] =
	"{\"ts\":\"2026-12-03T14:20:00.250000Z\",\"note\":\"Scan::Address_Scan\","
	"\"msg\":\"10.66.3.4 scanned at least 25 unique hosts on port 445/tcp in 0m5s\","
	"\"src\":\"10.66.3.4\",\"p\":445,\"proto\":\"tcp\",\"actions\":[\"Notice::ACTION_LOG\"]}";

static struct conf c;

static int setup(void **state)
{
	(void)state;
	if (conf_init_default(&c) < 0)
		return -1;
	snprintf(c.feeds.feed[0].name, sizeof(c.feeds.feed[0].name), "ids1");
	c.feeds.feed[0].kind = FEED_SURICATA;
	snprintf(c.feeds.feed[1].name, sizeof(c.feeds.feed[1].name), "zeek1");
	c.feeds.feed[1].kind = FEED_ZEEK;
	c.feeds.n = 2;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	conf_fini(&c);
	return 0;
}

static void parse_eve(const char *line, struct feed_alert *a)
{
	char err[200] = "";

	if (eve_parse(line, strlen(line), a, err, sizeof(err)) != 1)
		fail_msg("eve line refused: %s", err);
}

static const char *ntop(const struct qaddr *a)
{
	static char b[4][ADDR_STRLEN];
	static unsigned i;

	return addr_ntop(a, b[i++ % 4]);
}

static void test_eve_fields(void **state)
{
	struct feed_alert a;

	(void)state;
	parse_eve(eve_trojan_to_client, &a);
	assert_int_equal(a.kind, FEED_SURICATA);
	assert_string_equal(a.signature, "ET TROJAN Test Backdoor Checkin Response");
	assert_string_equal(a.category, "A Network Trojan was detected");
	assert_int_equal(a.sid, 2999001);
	assert_int_equal(a.severity, 1);
	assert_int_equal(a.proto, PROTO_TCP);
	assert_string_equal(ntop(&a.src), "203.0.113.9");
	assert_string_equal(ntop(&a.dst), "10.66.1.20");
	assert_string_equal(ntop(&a.client), "10.66.1.20");
	assert_int_equal(a.dir, FEED_DIR_TO_CLIENT);
	assert_int_equal(a.source.family, 0);
	/* 2026-12-03T14:20:01.123456Z */
	assert_int_equal(a.ts_us, 1796307601123456ull);
}

static void test_eve_other_and_bad(void **state)
{
	struct feed_alert a;
	char err[200];
	static const char *const bad[] = {
		"",
		"not json",
		"{\"event_type\":\"alert\"",
		"[1,2,3]",
		"{\"a\":1}",
		/* an alert without its signature, or its addresses */
		"{\"event_type\":\"alert\",\"src_ip\":\"10.66.0.1\",\"dest_ip\":\"10.66.0.2\"}",
		"{\"event_type\":\"alert\",\"alert\":{\"signature\":\"x\"}}",
		"{\"event_type\":\"alert\",\"src_ip\":\"10.66.0.999\",\"dest_ip\":\"10.66.0.2\","
		"\"alert\":{\"signature\":\"x\"}}",
		/* invalid UTF-8 in a string */
		"{\"event_type\":\"alert\",\"src_ip\":\"10.66.0.1\",\"dest_ip\":\"10.66.0.2\","
		"\"alert\":{\"signature\":\"\xc3\x28\"}}",
		/* nested beyond the limit */
		"{\"event_type\":\"alert\",\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
	};

	(void)state;
	assert_int_equal(eve_parse(eve_flow, strlen(eve_flow), &a, err, sizeof(err)), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (eve_parse(bad[i], strlen(bad[i]), &a, err, sizeof(err)) != -EINVAL)
			fail_msg("bad line %zu taken", i);
	/* A NUL inside the line is no JSON. */
	assert_int_equal(eve_parse("{\"a\":\0}", 7, &a, err, sizeof(err)), -EINVAL);
}

static void test_eve_control_characters(void **state)
{
	struct feed_alert a;
	static const char line[] =
		"{\"event_type\":\"alert\",\"src_ip\":\"10.66.0.1\",\"dest_ip\":\"198.51.100.1\","
		"\"alert\":{\"signature\":\"ET x\\u0001y\\u001bz\\u0085w\",\"severity\":1}}";

	(void)state;
	parse_eve(line, &a);
	assert_string_equal(a.signature, "ET x?y?z?w");
}

static void test_zeek(void **state)
{
	struct feed_alert a;
	char err[200];

	(void)state;
	assert_int_equal(zeek_parse(zeek_scan_float, strlen(zeek_scan_float), &a, err, sizeof(err)),
			 1);
	assert_int_equal(a.kind, FEED_ZEEK);
	assert_string_equal(a.signature, "Scan::Port_Scan");
	assert_string_equal(ntop(&a.src), "10.66.3.4");
	assert_string_equal(ntop(&a.dst), "10.66.3.8");
	assert_int_equal(a.ts_us, 1796307600250000ull);
	assert_int_equal(zeek_parse(zeek_scan_iso, strlen(zeek_scan_iso), &a, err, sizeof(err)), 1);
	assert_string_equal(a.signature, "Scan::Address_Scan");
	assert_int_equal(a.ts_us, 1796307600250000ull);
	assert_int_equal(a.dport, 445);
	assert_int_equal(a.proto, PROTO_TCP);
	/* A conn.log line is not a notice. */
	assert_int_equal(zeek_parse("{\"ts\":1.0,\"uid\":\"C1\",\"id.orig_h\":\"10.66.0.1\"}", 44,
				    &a, err, sizeof(err)),
			 -EINVAL);
	/* Without src: the connection's originator. */
	static const char conn[] = "{\"ts\":1796307600.0,\"note\":\"SSH::Password_Guessing\","
				   "\"id.orig_h\":\"10.66.4.1\",\"id.resp_h\":\"10.66.4.2\","
				   "\"id.resp_p\":22}";
	assert_int_equal(zeek_parse(conn, strlen(conn), &a, err, sizeof(err)), 1);
	assert_string_equal(ntop(&a.src), "10.66.4.1");
	assert_int_equal(a.dport, 22);
}

static enum feed_verdict who(const char *line, struct qaddr *host, struct qaddr *peer)
{
	struct feed_alert a;

	parse_eve(line, &a);
	return feed_attacker(&c, &a, host, peer);
}

static void test_attacker(void **state)
{
	struct qaddr h, p;

	(void)state;
	/* to_client trojan: the inside receiver is the infected one. */
	assert_int_equal(who(eve_trojan_to_client, &h, &p), FEED_CONTAIN);
	assert_string_equal(ntop(&h), "10.66.1.20");
	assert_string_equal(ntop(&p), "203.0.113.9");
	/* Suricata 6 outbound exploit: the inside client. */
	assert_int_equal(who(eve6_outbound_exploit, &h, &p), FEED_CONTAIN);
	assert_string_equal(ntop(&h), "10.66.1.21");
	/* Inbound exploit: the inside victim is never contained. */
	assert_int_equal(who(eve_inbound_exploit, &h, &p), FEED_INBOUND);
	/* alert.source wins over the packet's and the direction's. */
	assert_int_equal(who(eve_source_target, &h, &p), FEED_CONTAIN);
	assert_string_equal(ntop(&h), "10.66.2.9");
	assert_string_equal(ntop(&p), "10.66.2.5");
}

static void test_attacker_without_flow(void **state)
{
	struct qaddr h, p;
	/* Suricata 6 with a direction but no flow endpoints: to_client
	 * means dest_ip is the client. */
	static const char to_client[] =
		"{\"event_type\":\"alert\",\"src_ip\":\"203.0.113.9\",\"dest_ip\":\"10.66.1.40\","
		"\"direction\":\"to_client\",\"alert\":{\"signature\":\"ET TROJAN x\","
		"\"severity\":1}}";
	static const char outside_only[] =
		"{\"event_type\":\"alert\",\"src_ip\":\"203.0.113.9\",\"dest_ip\":\"198.51.100.1\","
		"\"alert\":{\"signature\":\"ET SCAN x\",\"severity\":2}}";
	/* alert.source outside, target inside: inbound whatever the packet. */
	static const char src_outside[] =
		"{\"event_type\":\"alert\",\"src_ip\":\"10.66.1.50\",\"dest_ip\":\"203.0.113.9\","
		"\"alert\":{\"signature\":\"ET EXPLOIT x\",\"severity\":1,"
		"\"source\":{\"ip\":\"203.0.113.9\"},\"target\":{\"ip\":\"10.66.1.50\"}}}";

	(void)state;
	assert_int_equal(who(to_client, &h, &p), FEED_CONTAIN);
	assert_string_equal(ntop(&h), "10.66.1.40");
	assert_int_equal(who(outside_only, &h, &p), FEED_NOT_OURS);
	assert_int_equal(who(src_outside, &h, &p), FEED_INBOUND);
}

static enum level level_of(const char *line)
{
	struct feed_alert a;
	int entry;

	parse_eve(line, &a);
	return feed_map_level(&c.feeds, &a, &entry);
}

static void test_builtin_map(void **state)
{
	(void)state;
	assert_int_equal(level_of(eve_trojan_to_client), LEVEL_CONTAIN);
	assert_int_equal(level_of(eve6_outbound_exploit), LEVEL_CONTAIN);
	/* Case-insensitive: ET Open's file capitalises differently. */
	assert_int_equal(
		level_of("{\"event_type\":\"alert\",\"src_ip\":\"10.66.0.1\","
			 "\"dest_ip\":\"10.66.0.2\",\"alert\":{\"signature\":\"x\","
			 "\"category\":\"A Network Trojan was Detected\",\"severity\":1}}"),
		LEVEL_CONTAIN);
	/* The same classtype at severity 2: watch. */
	assert_int_equal(
		level_of("{\"event_type\":\"alert\",\"src_ip\":\"10.66.0.1\","
			 "\"dest_ip\":\"10.66.0.2\",\"alert\":{\"signature\":\"x\","
			 "\"category\":\"A Network Trojan was detected\",\"severity\":2}}"),
		LEVEL_WATCH);
	/* A scan, a policy alert: watch. */
	assert_int_equal(
		level_of("{\"event_type\":\"alert\",\"src_ip\":\"10.66.0.1\","
			 "\"dest_ip\":\"10.66.0.2\",\"alert\":{\"signature\":\"ET SCAN x\","
			 "\"category\":\"Detection of a Network Scan\",\"severity\":1}}"),
		LEVEL_WATCH);
}

static void test_configured_map(void **state)
{
	struct feeds_conf fc = c.feeds;
	struct feed_alert a;
	int entry;
	char err[200];

	(void)state;
	memmove(fc.map + 3, fc.map, fc.nmap * sizeof(fc.map[0]));
	fc.nmap += 3;
	memset(fc.map, 0, 3 * sizeof(fc.map[0]));
	/* A noisy signature ignored, by id. */
	fc.map[0].kind = FEED_SURICATA;
	fc.map[0].sids[fc.map[0].nsids++] = 2999002;
	fc.map[0].level = LEVEL_NONE;
	/* A pattern on signatures. */
	fc.map[1].kind = FEED_ANY;
	snprintf(fc.map[1].signature, sizeof(fc.map[1].signature), "et worm *");
	fc.map[1].level = LEVEL_ISOLATE;
	/* A Zeek note. */
	fc.map[2].kind = FEED_ZEEK;
	snprintf(fc.map[2].signature, sizeof(fc.map[2].signature), "Scan::Port_Scan");
	fc.map[2].level = LEVEL_CONTAIN;

	parse_eve(eve6_outbound_exploit, &a);
	assert_int_equal(feed_map_level(&fc, &a, &entry), LEVEL_NONE);
	assert_int_equal(entry, 0);
	parse_eve(eve_source_target, &a);
	assert_int_equal(feed_map_level(&fc, &a, &entry), LEVEL_ISOLATE);
	parse_eve(eve_trojan_to_client, &a);
	assert_int_equal(feed_map_level(&fc, &a, &entry), LEVEL_CONTAIN);
	assert_true(fc.map[entry].builtin);
	assert_int_equal(zeek_parse(zeek_scan_float, strlen(zeek_scan_float), &a, err, sizeof(err)),
			 1);
	assert_int_equal(feed_map_level(&fc, &a, &entry), LEVEL_CONTAIN);
	assert_int_equal(zeek_parse(zeek_scan_iso, strlen(zeek_scan_iso), &a, err, sizeof(err)), 1);
	assert_int_equal(feed_map_level(&fc, &a, &entry), LEVEL_WATCH);
	assert_int_equal(entry, -1);
}

static void test_detection(void **state)
{
	struct feed_alert a;
	struct outside_detection o;
	char err[200];

	(void)state;
	parse_eve(eve_trojan_to_client, &a);
	assert_int_equal(feed_detection(&c, &c.feeds.feed[0], &a, eve_trojan_to_client,
					strlen(eve_trojan_to_client), &o),
			 FEED_CONTAIN);
	assert_int_equal(o.source, SOURCE_SURICATA);
	assert_int_equal(o.level, LEVEL_CONTAIN);
	assert_int_equal(o.severity, SEV_HIGH);
	assert_string_equal(o.rule, "ids:ET TROJAN Test Backdoor Checkin Response");
	assert_string_equal(o.origin, "ids1");
	assert_string_equal(ntop(&o.host), "10.66.1.20");
	/* The server's port, from the infected client's side. */
	assert_int_equal(o.proto, PROTO_TCP);
	assert_int_equal(o.nports, 1);
	assert_int_equal(o.ports[0], 80);
	assert_int_equal(strncmp(o.evidence, "{\"timestamp\"", 12), 0);
	assert_int_equal(strlen(o.evidence), strlen(eve_trojan_to_client));
	assert_int_equal(outside_check(&o, err, sizeof(err)), 0);

	parse_eve(eve_inbound_exploit, &a);
	assert_int_equal(feed_detection(&c, &c.feeds.feed[0], &a, eve_inbound_exploit,
					strlen(eve_inbound_exploit), &o),
			 FEED_INBOUND);

	assert_int_equal(zeek_parse(zeek_scan_float, strlen(zeek_scan_float), &a, err, sizeof(err)),
			 1);
	assert_int_equal(feed_detection(&c, &c.feeds.feed[1], &a, zeek_scan_float,
					strlen(zeek_scan_float), &o),
			 FEED_CONTAIN);
	assert_int_equal(o.source, SOURCE_ZEEK);
	assert_int_equal(o.level, LEVEL_WATCH);
	assert_string_equal(o.rule, "ids:Scan::Port_Scan");
	assert_int_equal(outside_check(&o, err, sizeof(err)), 0);
}

/* Evidence longer than OUTSIDE_EVIDENCE_MAX: cut at a character. */
static void test_evidence_cut(void **state)
{
	char line[4096];
	struct feed_alert a;
	struct outside_detection o;
	char err[200];
	int n;

	(void)state;
	n = snprintf(
		line, sizeof(line),
		"{\"event_type\":\"alert\",\"src_ip\":\"10.66.0.1\",\"dest_ip\":\"198.51.100.1\","
		"\"alert\":{\"signature\":\"ET TROJAN long\",\"severity\":1},\"payload\":\"");
	while (n < 3000) {
		memcpy(line + n, "\xc3\xa9", 2); /* é */
		n += 2;
	}
	memcpy(line + n, "\"}", 3);
	n += 2;
	parse_eve(line, &a);
	assert_int_equal(feed_detection(&c, &c.feeds.feed[0], &a, line, (size_t)n, &o),
			 FEED_CONTAIN);
	assert_true(strlen(o.evidence) < OUTSIDE_EVIDENCE_MAX);
	assert_true(strlen(o.evidence) >= OUTSIDE_EVIDENCE_MAX - 4);
	assert_int_equal(outside_check(&o, err, sizeof(err)), 0);
}

/* What the parent would refuse must not leave the reader (a refused
 * message ends it): a multicast peer is dropped, a multicast actor is no
 * host; text that is not valid UTF-8 becomes '?'. */
static void test_parent_would_refuse(void **state)
{
	struct feed_alert a;
	struct outside_detection o;
	struct qaddr h, p;
	char err[200], buf[16];
	static const char mcast_peer[] =
		"{\"event_type\":\"alert\",\"src_ip\":\"233.0.113.9\",\"dest_ip\":\"10.66.1.20\","
		"\"direction\":\"to_client\",\"alert\":{\"signature\":\"ET TROJAN x\","
		"\"category\":\"A Network Trojan was detected\",\"severity\":1}}";
	static const char mcast_actor[] =
		"{\"event_type\":\"alert\",\"src_ip\":\"224.0.0.5\",\"dest_ip\":\"10.66.1.20\","
		"\"alert\":{\"signature\":\"ET SCAN x\",\"severity\":1,"
		"\"source\":{\"ip\":\"224.0.0.5\"},\"target\":{\"ip\":\"10.66.1.20\"}}}";

	(void)state;
	parse_eve(mcast_peer, &a);
	assert_int_equal(
		feed_detection(&c, &c.feeds.feed[0], &a, mcast_peer, strlen(mcast_peer), &o),
		FEED_CONTAIN);
	assert_int_equal(o.peer.family, 0);
	assert_int_equal(outside_check(&o, err, sizeof(err)), 0);
	parse_eve(mcast_actor, &a);
	assert_int_equal(feed_attacker(&c, &a, &h, &p), FEED_NO_ADDRESS);
	feed_text(buf, sizeof(buf), "a\xc3(b\xe2\x82", 6);
	assert_string_equal(buf, "a?(b??");
	feed_text(buf, sizeof(buf),
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 16);
	assert_int_equal(strlen(buf), 14); /* 7 whole characters in 15 bytes */
}

static void test_iso8601(void **state)
{
	uint64_t t = 0;

	(void)state;
	assert_int_equal(feed_iso8601("2026-12-03T14:20:00Z", &t), 0);
	assert_int_equal(t, 1796307600ull * USEC_PER_SEC);
	assert_int_equal(feed_iso8601("2026-12-03T15:20:00.5+01:00", &t), 0);
	assert_int_equal(t, 1796307600500000ull);
	assert_int_equal(feed_iso8601("2026-12-03T13:20:00-0100", &t), 0);
	assert_int_equal(t, 1796307600ull * USEC_PER_SEC);
	assert_int_equal(feed_iso8601("2026-13-03T14:20:00Z", &t), -EINVAL);
	assert_int_equal(feed_iso8601("2026-12-03T14:20", &t), -EINVAL);
	assert_int_equal(feed_iso8601("2026-12-03T14:20:00Zjunk", &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eve_fields),
		cmocka_unit_test(test_eve_other_and_bad),
		cmocka_unit_test(test_eve_control_characters),
		cmocka_unit_test(test_zeek),
		cmocka_unit_test(test_attacker),
		cmocka_unit_test(test_attacker_without_flow),
		cmocka_unit_test(test_builtin_map),
		cmocka_unit_test(test_configured_map),
		cmocka_unit_test(test_detection),
		cmocka_unit_test(test_evidence_cut),
		cmocka_unit_test(test_parent_would_refuse),
		cmocka_unit_test(test_iso8601),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
