/* Unit tests of syncmsg: the bus's keys (addresses and MACs in a form KV
 * keys hold), values (encoded, decoded, refused), the decisions a
 * daemon's events are (and the ones that must not be published again),
 * and the merge rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncmsg.h"

#define T0 1796309491000000ull /* 2026-12-03T14:51:31Z */

static struct qaddr addr(const char *s)
{
	struct qaddr a;

	assert_int_equal(addr_parse_any(s, &a), 0);
	return a;
}

static void key_round(const char *gw, const char *host, const char *want)
{
	struct qaddr a = addr(host), b;
	char key[SYNC_KEY_MAX], g[SYNC_GATEWAY_MAX];

	assert_int_equal(syncmsg_key(gw, &a, key, sizeof(key)), 0);
	assert_string_equal(key, want);
	assert_int_equal(syncmsg_key_parse(key, g, &b), 0);
	assert_string_equal(g, gw);
	assert_true(addr_eq(&a, &b) && a.family == b.family);
}

static void test_keys(void **state)
{
	struct qaddr a;
	char g[SYNC_GATEWAY_MAX], key[SYNC_KEY_MAX];
	static const char *const bad[] = {
		"gw-a",
		"gw-a.",
		".ip4-10-1-0-5",
		"gw-a.ip4-10-1-0",
		"gw-a.ip4-10-1-0-5-6",
		"gw-a.ip4-10-1-0-256",
		"gw-a.ip4-10-01-0-5", /* one spelling per machine */
		"gw-a.ip4-10-1-0-",
		"gw-a.ip6-20010db8",
		"gw-a.ip6-20010DB8000000000000000000000001",
		"gw-a.mac-0200aabbccd",
		"gw-a.mac-0200aabbccddee",
		"gw-a.host-10",
		"g w.ip4-10-1-0-5",
		"gw.a.ip4-10-1-0-5",
		"012345678901234567890123456789012.ip4-10-1-0-5",
	};

	(void)state;
	key_round("gw-a", "10.66.1.10", "gw-a.ip4-10-66-1-10");
	key_round("B_2", "2001:db8::1", "B_2.ip6-20010db8000000000000000000000001");
	key_round("gw-c", "02:00:aa:bb:cc:dd", "gw-c.mac-0200aabbccdd");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (syncmsg_key_parse(bad[i], g, &a) == 0)
			fail_msg("key '%s' accepted", bad[i]);
	a = addr("10.1.0.5");
	assert_int_equal(syncmsg_key("a.b", &a, key, sizeof(key)), -EINVAL);
	assert_int_equal(syncmsg_key("", &a, key, sizeof(key)), -EINVAL);
	assert_int_equal(syncmsg_key("gw", &a, key, 8), -ENOSPC);
}

static struct syncmsg block(const char *origin, const char *host)
{
	struct syncmsg m;

	memset(&m, 0, sizeof(m));
	m.op = SYNC_BLOCK;
	snprintf(m.origin, sizeof(m.origin), "%s", origin);
	m.host = addr(host);
	m.level = LEVEL_ISOLATE;
	m.severity = SEV_HIGH;
	m.ts_us = T0;
	snprintf(m.rule, sizeof(m.rule), "smb-propagation");
	return m;
}

static void test_values(void **state)
{
	struct syncmsg m = block("gw-a", "10.66.1.10"), r;
	char buf[SYNC_VALUE_MAX], err[128];
	int n;

	(void)state;
	m.proto = PROTO_TCP;
	m.nports = 2;
	m.ports[0] = 445;
	m.ports[1] = 139;
	m.first_us = T0 - 5;
	m.expires_us = T0 + 3600000000ull;
	m.incident = 7;
	snprintf(m.reason, sizeof(m.reason), "détecté\ttab and é");
	m.reason[strcspn(m.reason, "\t")] = ' ';
	snprintf(m.by, sizeof(m.by), "alice");
	n = syncmsg_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_null(memchr(buf, '\n', (size_t)n));
	assert_int_equal(syncmsg_decode(buf, (size_t)n, &r, err, sizeof(err)), 0);
	assert_memory_equal(&m, &r, sizeof(m));

	/* A release and a certification carry no level. */
	memset(&m, 0, sizeof(m));
	m.op = SYNC_CERTIFY;
	snprintf(m.origin, sizeof(m.origin), "gw-b");
	m.host = addr("02:00:aa:bb:cc:dd");
	m.ts_us = T0;
	snprintf(m.state, sizeof(m.state), "cleaned");
	n = syncmsg_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(syncmsg_decode(buf, (size_t)n, &r, err, sizeof(err)), 0);
	assert_memory_equal(&m, &r, sizeof(m));
	m.level = LEVEL_ISOLATE;
	assert_int_equal(syncmsg_encode(&m, buf, sizeof(buf)), -EINVAL);
}

static void refused(const char *v, const char *why)
{
	struct syncmsg r;
	char err[160] = "";

	if (syncmsg_decode(v, strlen(v), &r, err, sizeof(err)) == 0)
		fail_msg("accepted: %s", v);
	if (!strstr(err, why))
		fail_msg("'%s' refused for '%s', not '%s'", v, err, why);
}

#define OK_HEAD "cmd=block\tv=1\torigin=gw-a\thost=10.66.1.10\tts=1796309491000000\t"

static void test_refused(void **state)
{
	char *huge;

	(void)state;
	refused("", "missing cmd");
	refused("garbage \001\002", "=");
	refused("cmd=block", "version");
	refused("cmd=shutdown\tv=1", "unknown decision");
	refused("cmd=block\tv=2\torigin=gw-a", "version");
	refused(OK_HEAD "level=isolate\tseverity=high\trule=x\tcolour=red", "unknown field colour");
	refused(OK_HEAD "level=isolate\tseverity=high", "without a rule");
	refused(OK_HEAD "level=reboot\tseverity=high\trule=x", "invalid level");
	refused(OK_HEAD "level=isolate\tseverity=high\trule=x\tports=445", "invalid ports");
	refused(OK_HEAD "level=isolate\tseverity=high\trule=x\tproto=tcp\tports=0", "port 0");
	refused(OK_HEAD "level=isolate\tseverity=high\trule=x\tproto=tcp\tports=1,2,3,4,5",
		"invalid ports");
	refused(OK_HEAD "level=isolate\tseverity=high\trule=x\tproto=icmp\tports=1",
		"invalid proto");
	refused(OK_HEAD "level=isolate\tseverity=high\trule=x\texpires=1", "expires before");
	refused(OK_HEAD "level=isolate\tseverity=high\trule=%01bell", "printable");
	refused(OK_HEAD "level=isolate\tseverity=high\trule=%ff%fe", "printable");
	refused("cmd=release\tv=1\torigin=gw-a\thost=10.66.1.10\tts=1\tlevel=isolate", "no level");
	refused("cmd=certify\tv=1\torigin=gw-a\thost=10.66.1.10\tts=1", "certification");
	/* Found by the fuzzer: a rule on a release would not encode again. */
	refused("cmd=release\tv=1\torigin=gw-b\thost=2001:db8::1\tts=1\trule=smr", "rule");
	refused("cmd=release\tv=1\torigin=gw.a\thost=10.66.1.10\tts=1", "origin");
	refused("cmd=release\tv=1\torigin=gw-a\thost=224.0.0.1\tts=1", "unicast");
	refused("cmd=release\tv=1\torigin=gw-a\thost=10.66.1.10\tts=0", "no time");
	refused("cmd=release\tv=1\torigin=gw-a\thost=10.66.1.10\tts=18446744073709551616",
		"invalid ts");
	refused("cmd=release\tv=1\torigin=gw-a\thost=10.66.1.10\tts=1\n", "line feed");
	refused("cmd=release\tv=1\torigin=gw-a\thost=10.66.1.10\tts=1\tts=2", "duplicate");
	huge = malloc(SYNC_VALUE_MAX + 10);
	assert_non_null(huge);
	memset(huge, 'x', SYNC_VALUE_MAX + 9);
	huge[SYNC_VALUE_MAX + 9] = '\0';
	refused(huge, "too long");
	free(huge);
}

static int event(const char *json, struct syncmsg *m)
{
	memset(m, 0, sizeof(*m));
	return syncmsg_from_event(json, "gw-a", m);
}

static void test_events(void **state)
{
	struct syncmsg m;

	(void)state;
	assert_int_equal(
		event("{\"ts\":\"2026-12-03T14:53:43.913801Z\",\"event\":\"detect\",\"host\":"
		      "\"10.66.1.10\",\"mac\":\"9e:82:41:8c:8b:74\",\"rule\":\"smb-propagation\","
		      "\"source\":\"self\",\"severity\":\"high\",\"action\":\"isolate\","
		      "\"enforced\":"
		      "true,\"proto\":\"tcp\",\"ports\":[445,139],\"evidence\":{\"distinct_dst\":"
		      "10,"
		      "\"rule\":\"nested\"},\"first_probe_ts\":\"2026-12-03T14:53:43.731750Z\","
		      "\"incident\":1}",
		      &m),
		1);
	assert_int_equal(m.op, SYNC_BLOCK);
	assert_string_equal(m.origin, "gw-a");
	assert_string_equal(m.rule, "smb-propagation");
	assert_int_equal(m.level, LEVEL_ISOLATE);
	assert_int_equal(m.severity, SEV_HIGH);
	assert_int_equal(m.proto, PROTO_TCP);
	assert_int_equal(m.nports, 2);
	assert_int_equal(m.ports[1], 139);
	assert_int_equal(m.incident, 1);
	assert_true(m.ts_us == 1796309623913801ull);
	assert_true(m.first_us == 1796309623731750ull);

	/* Not put in force, or from the bus: nothing to publish. */
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.913801Z\",\"event\":\"detect\","
			       "\"host\":\"10.66.1.10\",\"rule\":\"x\",\"source\":\"self\","
			       "\"severity\":\"high\",\"action\":\"isolate\",\"enforced\":false}",
			       &m),
			 0);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.913801Z\",\"event\":\"detect\","
			       "\"host\":\"10.66.1.10\",\"rule\":\"x\",\"source\":\"gateway:gw-b\","
			       "\"severity\":\"high\",\"action\":\"isolate\",\"enforced\":true}",
			       &m),
			 0);
	/* An automatic action follows its detection, which said it. */
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.913801Z\",\"event\":\"action\","
			       "\"host\":\"10.66.1.10\",\"level\":\"isolate\",\"ttl_s\":0,\"by\":"
			       "\"auto\",\"reason\":\"smb-propagation\",\"enforced\":true}",
			       &m),
			 0);
	/* An operator's quarantine, with a TTL. */
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"action\","
			       "\"host\":\"10.66.1.11\",\"level\":\"contain\",\"ttl_s\":60,\"by\":"
			       "\"0\",\"by_name\":\"root\",\"reason\":\"seen \\\"there\\\"\","
			       "\"enforced\":true}",
			       &m),
			 1);
	assert_int_equal(m.op, SYNC_BLOCK);
	assert_int_equal(m.level, LEVEL_CONTAIN);
	assert_string_equal(m.by, "root");
	assert_string_equal(m.reason, "seen \"there\"");
	assert_true(m.expires_us == m.ts_us + 60000000ull);
	/* Releases: an operator's is published, one from the bus is not. */
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"release\","
			       "\"host\":\"10.66.1.10\",\"state\":\"released\",\"by\":\"0\","
			       "\"reason\":\"released by operator\"}",
			       &m),
			 1);
	assert_int_equal(m.op, SYNC_RELEASE);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"release\","
			       "\"host\":\"10.66.1.10\",\"state\":\"released\",\"by\":\"0\","
			       "\"reason\":\"gateway:gw-b: released by operator\"}",
			       &m),
			 0);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"mark\","
			       "\"host\":\"02:00:aa:bb:cc:dd\",\"state\":\"cleaned\",\"by\":\"0\","
			       "\"reason\":\"reimaged\"}",
			       &m),
			 1);
	assert_int_equal(m.op, SYNC_CERTIFY);
	assert_int_equal(m.host.family, AF_MAC);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"mark\","
			       "\"host\":\"10.66.1.10\",\"state\":\"cleaning\",\"by\":\"0\"}",
			       &m),
			 0);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43Z\",\"event\":\"incident\"}", &m), 0);
	assert_int_equal(
		event("{\"ts\":\"yesterday\",\"event\":\"release\",\"host\":\"10.1.0.1\"}", &m),
		-EINVAL);
	assert_int_equal(event("not json", &m), -EINVAL);
	assert_int_equal(event("{\"event\":\"release\",\"host\":\"10.1.0.1\",\"ts\":\"2026-12-03T1"
			       "4:53:43.000000Z\",\"reason\":\"unterminated",
			       &m),
			 -EINVAL);
}

/* A machine known by its MAC: its address's record carries the MAC, and
 * the second record, keyed by the MAC, the address; a release of it from
 * another gateway is relayed by MAC, once. */
static void test_machine(void **state)
{
	struct syncmsg m, mm, r;
	char buf[SYNC_VALUE_MAX], err[160], key[SYNC_KEY_MAX];
	int n;

	(void)state;
	assert_int_equal(
		event("{\"ts\":\"2026-12-03T14:53:43.913801Z\",\"event\":\"detect\",\"host\":"
		      "\"10.66.1.10\",\"mac\":\"9e:82:41:8c:8b:74\",\"rule\":\"smb-propagation\","
		      "\"source\":\"self\",\"severity\":\"high\",\"action\":\"isolate\","
		      "\"enforced\":true,\"proto\":\"tcp\",\"ports\":[445,139]}",
		      &m),
		1);
	assert_int_equal(m.host.family, AF_INET);
	assert_int_equal(m.mac.family, AF_MAC);
	assert_int_equal(syncmsg_machine(&m, &mm), 1);
	assert_int_equal(mm.host.family, AF_MAC);
	assert_true(addr_eq(&mm.host, &m.mac));
	assert_true(addr_eq(&mm.addr, &m.host) && mm.addr.family == AF_INET);
	assert_int_equal(mm.mac.family, 0);
	assert_int_equal(mm.op, SYNC_BLOCK);
	assert_int_equal(mm.nports, 2);
	assert_int_equal(syncmsg_key("gw-a", &mm.host, key, sizeof(key)), 0);
	assert_string_equal(key, "gw-a.mac-9e82418c8b74");
	/* Both records go over the bus and come back whole. */
	n = syncmsg_encode(&mm, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\taddr=10.66.1.10"));
	assert_int_equal(syncmsg_decode(buf, (size_t)n, &r, err, sizeof(err)), 0);
	assert_memory_equal(&mm, &r, sizeof(mm));
	n = syncmsg_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\tmac=9e:82:41:8c:8b:74"));
	assert_int_equal(syncmsg_decode(buf, (size_t)n, &r, err, sizeof(err)), 0);
	assert_memory_equal(&m, &r, sizeof(m));
	/* The MAC's record names no second MAC; an address's names none
	 * without one. */
	assert_int_equal(syncmsg_machine(&mm, &r), 0);
	assert_int_equal(syncmsg_machine(&(struct syncmsg){.host = m.host}, &r), 0);

	/* A machine this gateway knows by address only: no MAC anywhere. */
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"release\","
			       "\"host\":\"10.66.1.10\",\"state\":\"released\",\"by\":\"0\","
			       "\"reason\":\"done\"}",
			       &m),
			 1);
	assert_int_equal(m.mac.family, 0);
	assert_int_equal(syncmsg_machine(&m, &r), 0);

	/* Another gateway's release of an address, applied here to a
	 * machine known by its MAC: relayed as this gateway's release of
	 * the MAC alone. */
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"release\","
			       "\"host\":\"10.66.1.10\",\"mac\":\"9e:82:41:8c:8b:74\","
			       "\"state\":\"released\",\"by\":\"0\","
			       "\"reason\":\"gateway:gw-b: release\"}",
			       &m),
			 1);
	assert_int_equal(m.op, SYNC_RELEASE);
	assert_string_equal(m.origin, "gw-a");
	assert_int_equal(m.host.family, AF_MAC);
	assert_true(m.addr.family == AF_INET && m.mac.family == 0);
	assert_string_equal(m.reason, "gateway:gw-b: release");
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"release\","
			       "\"host\":\"10.66.1.10\",\"mac\":\"9e:82:41:8c:8b:74\","
			       "\"state\":\"cleaned\",\"by\":\"0\","
			       "\"reason\":\"gateway:gw-b: reimaged\"}",
			       &m),
			 1);
	assert_int_equal(m.op, SYNC_CERTIFY);
	assert_int_equal(m.host.family, AF_MAC);
	/* Not relayed: one that came by MAC already (two gateways), one of
	 * a machine known by address only, a block from the bus. */
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"release\","
			       "\"host\":\"10.66.3.20\",\"mac\":\"9e:82:41:8c:8b:74\","
			       "\"state\":\"released\",\"by\":\"0\","
			       "\"reason\":\"gateway:gw-a: gateway:gw-b: release\"}",
			       &m),
			 0);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"release\","
			       "\"host\":\"10.66.1.10\",\"state\":\"released\",\"by\":\"0\","
			       "\"reason\":\"gateway:gw-b: release\"}",
			       &m),
			 0);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"action\","
			       "\"host\":\"10.66.1.10\",\"mac\":\"9e:82:41:8c:8b:74\","
			       "\"level\":\"isolate\",\"ttl_s\":0,\"by\":\"0\","
			       "\"reason\":\"gateway:gw-b: x\",\"enforced\":true}",
			       &m),
			 0);
	/* A multicast MAC in an event is no machine's. */
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"release\","
			       "\"host\":\"10.66.1.10\",\"mac\":\"01:00:5e:00:00:01\","
			       "\"state\":\"released\",\"by\":\"0\",\"reason\":\"x\"}",
			       &m),
			 1);
	assert_int_equal(m.mac.family, 0);

	/* Values that name the machine twice, or wrongly. */
	refused(OK_HEAD "level=isolate\tseverity=high\trule=x\taddr=10.66.1.11", "addr:");
	refused(OK_HEAD "level=isolate\tseverity=high\trule=x\tmac=01:00:5e:00:00:01", "mac:");
	refused(OK_HEAD "level=isolate\tseverity=high\trule=x\tmac=10.66.1.11", "invalid mac");
	refused("cmd=release\tv=1\torigin=gw-a\thost=02:00:aa:bb:cc:dd\tts=1\t"
		"mac=02:00:aa:bb:cc:de",
		"mac:");
	refused("cmd=release\tv=1\torigin=gw-a\thost=02:00:aa:bb:cc:dd\tts=1\taddr=224.0.0.1",
		"addr:");
	refused("cmd=release\tv=1\torigin=gw-a\thost=02:00:aa:bb:cc:dd\tts=1\t"
		"addr=02:00:aa:bb:cc:de",
		"invalid addr");
	refused("cmd=release\tv=1\torigin=gw-a\thost=01:00:5e:00:00:01\tts=1", "unicast MAC");
	refused("cmd=release\tv=1\torigin=gw-a\thost=00:00:00:00:00:00\tts=1", "unicast MAC");
}

/* An operator's block carries the ports it gave (or none when there are
 * more than a record holds: a record never carries part of a
 * containment); a reason too long for a record is cut, not refused. */
static void test_operator_ports(void **state)
{
	struct syncmsg m;
	char json[1024], longr[400];

	(void)state;
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"action\","
			       "\"host\":\"10.66.1.200\",\"level\":\"isolate\",\"ttl_s\":0,"
			       "\"by\":\"0\",\"by_name\":\"root\",\"reason\":\"r\","
			       "\"enforced\":true,\"proto\":\"tcp\",\"ports\":[445]}",
			       &m),
			 1);
	assert_int_equal(m.op, SYNC_BLOCK);
	assert_int_equal(m.level, LEVEL_ISOLATE);
	assert_int_equal(m.proto, PROTO_TCP);
	assert_int_equal(m.nports, 1);
	assert_int_equal(m.ports[0], 445);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"action\","
			       "\"host\":\"10.66.1.200\",\"level\":\"contain\",\"ttl_s\":0,"
			       "\"by\":\"0\",\"reason\":\"r\",\"enforced\":true,"
			       "\"proto\":\"udp\",\"ports\":[53,123,137,138,161]}",
			       &m),
			 1);
	assert_int_equal(m.level, LEVEL_CONTAIN);
	assert_int_equal(m.nports, 0);
	assert_int_equal(m.proto, 0);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"action\","
			       "\"host\":\"10.66.1.200\",\"level\":\"contain\",\"ttl_s\":0,"
			       "\"by\":\"0\",\"reason\":\"r\",\"enforced\":true}",
			       &m),
			 1);
	assert_int_equal(m.nports, 0);
	memset(longr, 0, sizeof(longr));
	for (size_t i = 0; i + 2 < 380; i += 2)
		memcpy(longr + i, "\xc3\xa9", 2); /* é, so that a cut could split one */
	snprintf(json, sizeof(json),
		 "{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"release\","
		 "\"host\":\"10.66.1.10\",\"state\":\"released\",\"by\":\"0\",\"reason\":\"%s\"}",
		 longr);
	assert_int_equal(event(json, &m), 1);
	assert_true(strlen(m.reason) > 200 && strlen(m.reason) < SYNC_REASON_MAX);
	assert_int_equal(strlen(m.reason) % 2, 0);
}

static struct syncmsg rel(const char *origin, const char *host)
{
	struct syncmsg m;

	memset(&m, 0, sizeof(m));
	m.op = SYNC_RELEASE;
	snprintf(m.origin, sizeof(m.origin), "%s", origin);
	m.host = addr(host);
	m.ts_us = T0;
	return m;
}

static struct syncmsg allow(const char *origin, const char *prefix, bool yes)
{
	struct syncmsg m;
	unsigned plen;

	memset(&m, 0, sizeof(m));
	m.op = yes ? SYNC_ALLOW : SYNC_DISALLOW;
	snprintf(m.origin, sizeof(m.origin), "%s", origin);
	assert_int_equal(addr_parse_prefix(prefix, &m.host, &plen), 0);
	m.plen = (uint8_t)plen;
	m.ts_us = T0;
	return m;
}

/* Allow and disallow: keyed by prefix, encoded and refused, read from the
 * daemon's events (and not from the bus's), merged apart from the
 * machines with the latest winning and a disallow winning a tie. */
static void test_allow(void **state)
{
	struct syncmsg m = allow("gw-a", "10.66.3.0/24", true), r;
	struct sync_view w;
	char buf[SYNC_VALUE_MAX], err[160], key[SYNC_KEY_MAX], g[SYNC_GATEWAY_MAX];
	struct qaddr a;
	int n;
	static const char *const bad[] = {
		"gw-a.net4-10-66-3-0",
		"gw-a.net4-10-66-3-0-33",
		"gw-a.net4-10-66-3-0-7",
		"gw-a.net4-10-66-3-1-24", /* host bits */
		"gw-a.net4-10-66-3-0-024",
		"gw-a.net6-20010db8-32",
		"gw-a.net6-20010db8000000000000000000000000-129",
		"gw-a.net6-20010db8000000000000000000000001-64",
	};

	(void)state;
	assert_int_equal(syncmsg_key_of("gw-a", &m, key, sizeof(key)), 0);
	assert_string_equal(key, "gw-a.net4-10-66-3-0-24");
	assert_int_equal(syncmsg_key_parse(key, g, &a), 0);
	assert_true(addr_eq(&a, &m.host));
	assert_int_equal(syncmsg_key_plen(key), 24);
	assert_int_equal(syncmsg_key_plen("gw-a.ip4-10-66-3-0"), 0);
	assert_int_equal(syncmsg_key_plen("gw-a.nothing"), -EINVAL);
	r = allow("gw-b", "2001:db8::/32", false);
	assert_int_equal(syncmsg_key_of("gw-b", &r, key, sizeof(key)), 0);
	assert_string_equal(key, "gw-b.net6-20010db8000000000000000000000000-32");
	assert_int_equal(syncmsg_key_plen(key), 32);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (syncmsg_key_parse(bad[i], g, &a) == 0)
			fail_msg("key '%s' accepted", bad[i]);

	n = syncmsg_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "cmd=allow\t"));
	assert_non_null(strstr(buf, "\tplen=24"));
	assert_int_equal(syncmsg_decode(buf, (size_t)n, &r, err, sizeof(err)), 0);
	assert_memory_equal(&m, &r, sizeof(m));
	refused("cmd=allow\tv=1\torigin=gw-a\thost=10.66.3.0\tts=1", "prefix of");
	refused("cmd=allow\tv=1\torigin=gw-a\thost=10.0.0.0\tts=1\tplen=4", "prefix of");
	refused("cmd=allow\tv=1\torigin=gw-a\thost=10.66.3.1\tts=1\tplen=24", "host bits");
	refused("cmd=allow\tv=1\torigin=gw-a\thost=02:00:aa:bb:cc:dd\tts=1\tplen=24", "prefix of");
	refused("cmd=disallow\tv=1\torigin=gw-a\thost=10.66.3.0\tts=1\tplen=24\tlevel=isolate",
		"no level");
	refused("cmd=disallow\tv=1\torigin=gw-a\thost=10.66.3.0\tts=1\tplen=24\tproto=tcp\t"
		"ports=22",
		"nothing else");
	refused("cmd=release\tv=1\torigin=gw-a\thost=10.66.3.0\tts=1\tplen=24", "prefix length");
	refused("cmd=allow\tv=1\torigin=gw-a\thost=10.66.3.0\tts=1\tplen=0", "invalid plen");

	/* The daemon's events. */
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"allow\","
			       "\"prefix\":\"10.66.3.0/24\",\"released\":1,\"by\":\"0\","
			       "\"by_name\":\"root\",\"reason\":\"printers\"}",
			       &r),
			 1);
	assert_int_equal(r.op, SYNC_ALLOW);
	assert_int_equal(r.plen, 24);
	assert_string_equal(r.by, "root");
	assert_string_equal(r.reason, "printers");
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"disallow\","
			       "\"prefix\":\"10.66.3.30/32\",\"by\":\"0\",\"reason\":\"\"}",
			       &r),
			 1);
	assert_int_equal(r.op, SYNC_DISALLOW);
	assert_int_equal(r.plen, 32);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"allow\","
			       "\"prefix\":\"10.66.3.0/24\",\"by\":\"0\","
			       "\"reason\":\"gateway:gw-b: allow\"}",
			       &r),
			 0);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"allow\","
			       "\"prefix\":\"0.0.0.0/0\",\"by\":\"0\",\"reason\":\"\"}",
			       &r),
			 0);
	assert_int_equal(event("{\"ts\":\"2026-12-03T14:53:43.000000Z\",\"event\":\"allow\","
			       "\"prefix\":\"10.66.3.1/24\",\"by\":\"0\",\"reason\":\"\"}",
			       &r),
			 -EINVAL);

	/* The merge: the latest wins, a disallow wins a tie; a prefix is
	 * apart from the machine of the same address. */
	assert_int_equal(sync_view_init(&w, 64), 0);
	m = allow("gw-a", "10.66.3.30/32", true);
	r = allow("gw-c", "10.66.3.30/32", false);
	assert_int_equal(sync_view_merge(&w, "gw-b", &m, 10, T0), SYNC_APPLY);
	assert_int_equal(sync_view_merge(&w, "gw-b", &r, 20, T0), SYNC_APPLY);
	/* The allow again, older than the disallow: superseded. */
	assert_int_equal(sync_view_merge(&w, "gw-b", &m, 15, T0), SYNC_SUPERSEDED);
	/* Allowed again later: applied. */
	assert_int_equal(sync_view_merge(&w, "gw-b", &m, 30, T0), SYNC_APPLY);
	/* A disallow older than it: superseded; older than its own
	 * gateway's last: stale; at the same time as the allow: applied. */
	assert_int_equal(sync_view_merge(&w, "gw-b", &r, 25, T0), SYNC_SUPERSEDED);
	assert_int_equal(sync_view_merge(&w, "gw-b", &r, 22, T0), SYNC_STALE);
	r = allow("gw-d", "10.66.3.30/32", false);
	assert_int_equal(sync_view_merge(&w, "gw-b", &r, 29, T0), SYNC_SUPERSEDED);
	r = allow("gw-e", "10.66.3.30/32", false);
	assert_int_equal(sync_view_merge(&w, "gw-b", &r, 30, T0), SYNC_APPLY);
	/* ... and an allow stored at that same time loses to it. */
	m = allow("gw-f", "10.66.3.30/32", true);
	assert_int_equal(sync_view_merge(&w, "gw-b", &m, 30, T0), SYNC_SUPERSEDED);
	/* The machine 10.66.3.30 is not the prefix 10.66.3.30/32: a
	 * release of it does not hold back a block, nor the reverse. */
	r = rel("gw-a", "10.66.3.30");
	assert_int_equal(sync_view_merge(&w, "gw-b", &r, 40, T0), SYNC_APPLY);
	m = block("gw-c", "10.66.3.30");
	assert_int_equal(sync_view_merge(&w, "gw-b", &m, 50, T0), SYNC_APPLY);
	/* Another length of the same address is another prefix. */
	m = allow("gw-a", "10.66.3.0/24", true);
	assert_int_equal(sync_view_merge(&w, "gw-b", &m, 10, T0), SYNC_APPLY);
	assert_int_equal(w.n, 3);
	sync_view_fini(&w);
}

static void test_merge(void **state)
{
	struct sync_view w;
	struct syncmsg b = block("gw-a", "10.66.1.10"), r = rel("gw-c", "10.66.1.10");
	const uint64_t now = T0 + 100;

	(void)state;
	assert_int_equal(sync_view_init(&w, 64), 0);
	/* Our own records are in force here already. */
	assert_int_equal(sync_view_merge(&w, "gw-a", &b, 10, now), SYNC_OWN);
	/* Another gateway's block, then a release stored later: applied. */
	assert_int_equal(sync_view_merge(&w, "gw-b", &b, 10, now), SYNC_APPLY);
	assert_int_equal(sync_view_merge(&w, "gw-b", &r, 20, now), SYNC_APPLY);
	/* A replay of the older block: stale for its gateway's slot?  No,
	 * older than the release: superseded. */
	assert_int_equal(sync_view_merge(&w, "gw-b", &b, 10, now), SYNC_SUPERSEDED);
	/* Its gateway's record older than the one the view holds: stale. */
	assert_int_equal(sync_view_merge(&w, "gw-b", &b, 5, now), SYNC_STALE);
	/* Flagged again after the release: the block applies. */
	assert_int_equal(sync_view_merge(&w, "gw-b", &b, 30, now), SYNC_APPLY);
	/* A release that lost the race (stored at the same time as a block
	 * elsewhere): containment wins. */
	r.ts_us = T0 + 1;
	assert_int_equal(sync_view_merge(&w, "gw-b", &r, 30, now), SYNC_SUPERSEDED);
	/* An expired block: nothing to apply, and it does not hold back a
	 * release. */
	b = block("gw-d", "10.66.1.20");
	b.expires_us = T0 + 50;
	assert_int_equal(sync_view_merge(&w, "gw-b", &b, 40, now), SYNC_EXPIRED);
	r = rel("gw-c", "10.66.1.20");
	assert_int_equal(sync_view_merge(&w, "gw-b", &r, 40, now), SYNC_APPLY);
	/* A release of the same gateway as the block does not wait for it. */
	b = block("gw-c", "10.66.1.30");
	r = rel("gw-c", "10.66.1.30");
	assert_int_equal(sync_view_merge(&w, "gw-b", &b, 50, now), SYNC_APPLY);
	assert_int_equal(sync_view_merge(&w, "gw-b", &r, 50, now), SYNC_APPLY);
	sync_view_fini(&w);
}

static void test_view_bounded(void **state)
{
	struct sync_view w;
	char h[32];

	(void)state;
	assert_int_equal(sync_view_init(&w, 16), 0);
	for (unsigned i = 1; i <= 40; i++) {
		struct syncmsg b;

		snprintf(h, sizeof(h), "10.66.2.%u", i);
		b = block("gw-a", h);
		/* Past its size the view keeps nothing new, and still says
		 * what to do with the record. */
		assert_int_equal(sync_view_merge(&w, "gw-b", &b, i, T0), SYNC_APPLY);
	}
	assert_int_equal(w.n, 16);
	assert_true(w.full == 24);
	/* Peers per machine are bounded too. */
	for (unsigned i = 0; i < SYNC_VIEW_PEERS + 4; i++) {
		struct syncmsg b;

		snprintf(h, sizeof(h), "gw%u", i);
		b = block(h, "10.66.2.1");
		(void)sync_view_merge(&w, "gw-b", &b, 100 + i, T0);
	}
	assert_true(w.full >= 24 + 4);
	sync_view_fini(&w);
}

/* The view rebuilt at start from the latest record of every key (the
 * sync program's view_rebuild()): what was read before a restart orders
 * what is read after it. */
static void test_view_rebuilt(void **state)
{
	struct sync_view w;
	struct syncmsg b = block("gw-a", "10.66.1.10"), r = rel("gw-c", "10.66.1.10");
	struct syncmsg own = block("gw-b", "10.66.1.11"), r2 = rel("gw-c", "10.66.1.11");
	const uint64_t now = T0 + 100;

	(void)state;
	assert_int_equal(sync_view_init(&w, 64), 0);
	/* The bucket's latest records, as the rebuild reads them: A's block,
	 * C's release stored after it, and B's own block. */
	(void)sync_view_merge(&w, "gw-b", &b, 10, now);
	(void)sync_view_merge(&w, "gw-b", &r, 20, now);
	assert_int_equal(sync_view_merge(&w, "gw-b", &own, 30, now), SYNC_OWN);
	/* Consuming from the daemon's revision reads A's block again: the
	 * release after it holds it back (no block then release). */
	assert_int_equal(sync_view_merge(&w, "gw-b", &b, 10, now), SYNC_SUPERSEDED);
	/* The release itself: applied (the daemon says not blocked). */
	assert_int_equal(sync_view_merge(&w, "gw-b", &r, 20, now), SYNC_APPLY);
	/* C's release of a machine B blocked after it (B's own record is in
	 * the view): B's newer block stays. */
	assert_int_equal(sync_view_merge(&w, "gw-b", &r2, 25, now), SYNC_SUPERSEDED);
	/* The peers: A and C, not B itself, each at its latest record. */
	assert_int_equal(w.npeers, 2);
	sync_view_fini(&w);
}

static void test_peers(void **state)
{
	struct sync_view w;
	struct sync_peer p[SYNC_PEERS_MAX];
	char buf[1024], h[32];
	unsigned more;

	(void)state;
	assert_int_equal(sync_view_init(&w, 64), 0);
	more = sync_view_peers_format(&w, 16, buf, sizeof(buf));
	assert_int_equal(more, 0);
	assert_string_equal(buf, "");
	for (unsigned i = 0; i < 20; i++) {
		struct syncmsg b;

		snprintf(h, sizeof(h), "gw%02u", i);
		b = block(h, "10.66.2.1");
		(void)sync_view_merge(&w, "gw-b", &b, T0 + i, T0);
	}
	/* A replay read again does not make a gateway look older. */
	{
		struct syncmsg b = block("gw19", "10.66.2.2");

		(void)sync_view_merge(&w, "gw-b", &b, T0 + 1, T0);
	}
	/* This gateway's own records name no peer. */
	{
		struct syncmsg b = block("gw-b", "10.66.2.3");

		(void)sync_view_merge(&w, "gw-b", &b, T0 + 50, T0);
	}
	assert_int_equal(w.npeers, 20);
	more = sync_view_peers_format(&w, 3, buf, sizeof(buf));
	assert_int_equal(more, 17);
	assert_string_equal(buf, "gw19@1796309491000019,gw18@1796309491000018,"
				 "gw17@1796309491000017");
	assert_int_equal(sync_peers_parse(buf, p, 16), 3);
	assert_string_equal(p[0].gw, "gw19");
	assert_true(p[2].stored_us == T0 + 17);
	/* The 16 most recent fit a report's value (CTL_VALUE_MAX). */
	more = sync_view_peers_format(&w, 16, buf, sizeof(buf));
	assert_int_equal(more, 4);
	assert_int_equal(sync_peers_parse(buf, p, 16), 16);
	assert_int_equal(sync_peers_parse(buf, p, 15), -EINVAL);
	/* A buffer too small: whole names only, the rest counted. */
	more = sync_view_peers_format(&w, 16, buf, 30);
	assert_string_equal(buf, "gw19@1796309491000019");
	assert_int_equal(more, 19);
	/* Hostile lists. */
	static const char *const bad[] = {
		"gw-a",	   "gw-a@",   "@12",	 "gw-a@12,",	    "gw-a@12,,gw-c@1",
		"gw a@12", "gw-a@1x", "gw-a@-1", "gw-a@12,gw-a@13", "gw-a@99999999999999999999999",
		"gw.a@12",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sync_peers_parse(bad[i], p, 16), -EINVAL);
	assert_int_equal(sync_peers_parse("", p, 16), 0);
	/* Past SYNC_PEERS_MAX gateways: counted, not named. */
	for (unsigned i = 0; i < SYNC_PEERS_MAX + 5; i++) {
		struct syncmsg b;

		snprintf(h, sizeof(h), "peer%u", i);
		b = block(h, "10.66.2.4");
		(void)sync_view_merge(&w, "gw-b", &b, T0 + 100, T0);
	}
	assert_int_equal(w.npeers, SYNC_PEERS_MAX);
	assert_true(w.peers_lost > 0);
	sync_view_fini(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),	cmocka_unit_test(test_values),
		cmocka_unit_test(test_refused), cmocka_unit_test(test_events),
		cmocka_unit_test(test_merge),	cmocka_unit_test(test_view_bounded),
		cmocka_unit_test(test_machine), cmocka_unit_test(test_operator_ports),
		cmocka_unit_test(test_allow),	cmocka_unit_test(test_view_rebuilt),
		cmocka_unit_test(test_peers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
