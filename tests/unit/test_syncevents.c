/* Unit tests of the events stream's messages (syncevents.h): which events
 * go to the stream and which the bus decided, the gateway added in front
 * of the daemon's own JSON, the Nats-Msg-Id that makes a republish the
 * same message, the subject, and the bounded queue (detections dropped
 * first, counted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncevents.h"

#define DETECT                                                                                  \
	"{\"ts\":\"2026-12-03T14:51:31.000001Z\",\"event\":\"detect\",\"host\":\"10.66.1.10\"," \
	"\"rule\":\"smb-propagation\",\"source\":\"self\",\"severity\":\"high\"}"

static void test_select(void **state)
{
	static const struct {
		const char *json;
		int want;
		const char *kind;
	} v[] = {
		{DETECT, 1, "detect"},
		{"{\"ts\":\"x\",\"event\":\"action\",\"host\":\"10.1.0.1\",\"reason\":\"rule\"}", 1,
		 "action"},
		{"{\"ts\":\"x\",\"event\":\"release\",\"reason\":\"cleaned\"}", 1, "release"},
		{"{\"ts\":\"x\",\"event\":\"mark\",\"state\":\"cleaned\"}", 1, "mark"},
		{"{\"ts\":\"x\",\"event\":\"incident\",\"id\":3,\"patient_zero_source\":"
		 "\"gateway:gw-a\",\"links\":[{\"gateway\":\"gw-a\",\"incident\":3}]}",
		 1, "incident"},
		/* The bus's own decisions: the other gateway published them. */
		{"{\"event\":\"detect\",\"source\":\"gateway:gw-a\"}", 0, NULL},
		{"{\"event\":\"release\",\"reason\":\"gateway:gw-b: released\"}", 0, NULL},
		{"{\"event\":\"mark\",\"reason\":\"gateway:gw-b: certify\"}", 0, NULL},
		/* Another gateway named inside a value is not the source. */
		{"{\"event\":\"detect\",\"source\":\"self\",\"why\":\"source:gateway:x\"}", 1,
		 "detect"},
		{"{\"event\":\"detect\",\"inventory\":{\"source\":\"gateway:x\"}}", 1, "detect"},
		/* Kinds that stay local. */
		{"{\"event\":\"error\",\"message\":\"x\"}", 0, NULL},
		{"{\"event\":\"binding\"}", 0, NULL},
		{"{\"event\":\"outbreak\"}", 0, NULL},
		{"{\"event\":\"detection\"}", 0, NULL},
		/* Unreadable. */
		{"", -EINVAL, NULL},
		{"not json", -EINVAL, NULL},
		{"{\"ts\":\"x\"}", -EINVAL, NULL},
		{"{\"event\":3}", -EINVAL, NULL},
		{"{\"event\":\"detect", -EINVAL, NULL},
	};
	char kind[16];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int k = syncevents_select(v[i].json, kind);

		if (k != v[i].want)
			fail_msg("%s: %d, want %d", v[i].json, k, v[i].want);
		if (k == 1)
			assert_string_equal(kind, v[i].kind);
	}
}

static void test_encode(void **state)
{
	char buf[512];
	int n;

	(void)state;
	n = syncevents_encode(DETECT, strlen(DETECT), "gw-a", buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	/* The daemon's own JSON, byte for byte, after the gateway. */
	assert_int_equal(strncmp(buf, "{\"gateway\":\"gw-a\",", 18), 0);
	assert_string_equal(buf + 18, DETECT + 1);
	assert_int_equal(syncevents_encode("{}", 2, "gw-a", buf, sizeof(buf)), 18);
	assert_string_equal(buf, "{\"gateway\":\"gw-a\"}");
	assert_int_equal(syncevents_encode("[1]", 3, "gw-a", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(syncevents_encode("{", 1, "gw-a", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(syncevents_encode(DETECT, strlen(DETECT), "gw\"a", buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(syncevents_encode(DETECT, strlen(DETECT), "gw-a", buf, 40), -ENOSPC);
}

static void test_msgid(void **state)
{
	char a[SEV_MSGID_MAX], b[SEV_MSGID_MAX];
	char other[] = DETECT;

	(void)state;
	assert_int_equal(syncevents_msgid(DETECT, strlen(DETECT), "gw-a", a, sizeof(a)), 0);
	assert_int_equal(syncevents_msgid(DETECT, strlen(DETECT), "gw-a", b, sizeof(b)), 0);
	/* The same line is the same message, whenever it is published. */
	assert_string_equal(a, b);
	assert_int_equal(strncmp(a, "gw-a-", 5), 0);
	assert_int_equal(strlen(a), 5 + 16);
	/* Another line (a microsecond later), another gateway: another. */
	other[strlen("{\"ts\":\"2026-12-03T14:51:31.00000")] = '2';
	assert_int_equal(syncevents_msgid(other, strlen(other), "gw-a", b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(syncevents_msgid(DETECT, strlen(DETECT), "gw-b", b, sizeof(b)), 0);
	assert_int_equal(strncmp(b, "gw-b-", 5), 0);
	assert_string_equal(a + 5, b + 5);
	assert_int_equal(syncevents_msgid(DETECT, strlen(DETECT), "gw a", b, sizeof(b)), -EINVAL);
	assert_int_equal(syncevents_msgid(DETECT, strlen(DETECT), "gw-a", b, 10), -ENOSPC);
}

static void test_prefix(void **state)
{
	(void)state;
	assert_true(syncevents_prefix_valid("qd.events"));
	assert_true(syncevents_prefix_valid("site_1.qd-events"));
	assert_true(syncevents_prefix_valid("x"));
	assert_false(syncevents_prefix_valid(""));
	assert_false(syncevents_prefix_valid("qd.events."));
	assert_false(syncevents_prefix_valid(".qd"));
	assert_false(syncevents_prefix_valid("qd..events"));
	assert_false(syncevents_prefix_valid("qd.*"));
	assert_false(syncevents_prefix_valid("qd.>"));
	assert_false(syncevents_prefix_valid("qd events"));
	assert_false(syncevents_prefix_valid(
		"a123456789012345678901234567890123456789012345678901234567890123"));
}

/* An event line of kind ev and number i. */
static const char *line(const char *ev, unsigned i)
{
	static char b[256];

	snprintf(b, sizeof(b), "{\"ts\":\"%u\",\"event\":\"%s\",\"host\":\"10.1.0.1\"}", i, ev);
	return b;
}

static void test_queue(void **state)
{
	struct syncevents q;
	const struct sev_item *it;

	(void)state;
	assert_int_equal(syncevents_init(&q, 4, 0), 0);
	assert_null(syncevents_peek(&q));
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("detect", 1)), 1);
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("error", 2)), 0);
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", "garbage"), -EINVAL);
	assert_int_equal(q.refused, 1);
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("action", 3)), 1);
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("detect", 4)), 1);
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("incident", 5)), 1);
	assert_int_equal(q.n, 4);
	it = syncevents_peek(&q);
	assert_string_equal(it->subject, "qd.events.gw-a.detect");
	assert_int_equal(strncmp(it->msgid, "gw-a-", 5), 0);
	assert_int_equal(strncmp(it->data, "{\"gateway\":\"gw-a\",\"ts\":\"1\"", 26), 0);
	assert_int_equal(it->len, strlen(it->data));
	/* Full: the oldest detection goes first (1, then 4), then the
	 * oldest of any kind (3). */
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("release", 6)), 1);
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("mark", 7)), 1);
	assert_int_equal(q.dropped, 2);
	assert_int_equal(q.dropped_detect, 2);
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("action", 8)), 1);
	assert_int_equal(q.dropped, 3);
	assert_int_equal(q.dropped_detect, 2);
	assert_int_equal(q.untold, 3);
	/* What is left, in order: 5 6 7 8. */
	for (unsigned want = 5; want <= 8; want++) {
		char ts[32];

		it = syncevents_peek(&q);
		assert_non_null(it);
		snprintf(ts, sizeof(ts), "\"ts\":\"%u\"", want);
		assert_non_null(strstr(it->data, ts));
		syncevents_pop(&q);
	}
	assert_null(syncevents_peek(&q));
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.queued, 7);
	/* Around the ring again. */
	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("action", i)), 1);
		syncevents_pop(&q);
	}
	assert_int_equal(q.n, 0);
	syncevents_fini(&q);
}

static void test_queue_bytes(void **state)
{
	struct syncevents q;
	size_t one;
	char *big;

	(void)state;
	assert_int_equal(syncevents_init(&q, 100, 300), 0);
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("action", 1)), 1);
	one = q.bytes;
	/* Bytes bound the queue as well as messages. */
	while (q.bytes + one <= 300)
		assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("action", 2)), 1);
	assert_int_equal(q.dropped, 0);
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", line("action", 3)), 1);
	assert_int_equal(q.dropped, 1);
	assert_true(q.bytes <= 300);
	/* Bad prefix, too long a line: refused. */
	assert_int_equal(syncevents_push(&q, "qd..x", "gw-a", line("action", 4)), -EINVAL);
	assert_int_equal(syncevents_push(&q, "qd.events", "gw.a", line("action", 4)), -EINVAL);
	big = malloc(SEV_LINE_MAX + 64);
	assert_non_null(big);
	memset(big, ' ', SEV_LINE_MAX + 63);
	memcpy(big, "{\"event\":\"action\"", 17);
	big[SEV_LINE_MAX + 62] = '}';
	big[SEV_LINE_MAX + 63] = '\0';
	assert_int_equal(syncevents_push(&q, "qd.events", "gw-a", big), -E2BIG);
	free(big);
	syncevents_fini(&q);
	/* fini twice, and of a queue that failed: nothing. */
	syncevents_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select), cmocka_unit_test(test_encode),
		cmocka_unit_test(test_msgid),  cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_queue),  cmocka_unit_test(test_queue_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
