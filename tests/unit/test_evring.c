/* Unit tests of the recent events: kept in order, both renderings intact;
 * the oldest go first when the count or the bytes run out; an event
 * larger than the whole budget is refused, not kept in part. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "evring.h"

static void add(struct evring *r, unsigned i)
{
	char text[64], json[64];

	snprintf(text, sizeof(text), "t%u", i);
	snprintf(json, sizeof(json), "{\"i\":%u}", i);
	assert_int_equal(evring_add(r, (usec_t)i * USEC_PER_SEC, text, json), 0);
}

static void test_in_order(void **state)
{
	struct evring r;
	const struct evring_entry *e;

	(void)state;
	assert_int_equal(evring_init(&r, 8, 1 << 20), 0);
	assert_int_equal(evring_count(&r), 0);
	assert_null(evring_get(&r, 0));
	for (unsigned i = 1; i <= 3; i++)
		add(&r, i);
	assert_int_equal(evring_count(&r), 3);
	e = evring_get(&r, 0);
	assert_string_equal(e->text, "t1");
	assert_string_equal(e->json, "{\"i\":1}");
	assert_int_equal(e->ts, USEC_PER_SEC);
	assert_string_equal(evring_get(&r, 2)->text, "t3");
	assert_null(evring_get(&r, 3));
	evring_fini(&r);
}

/* Full by count: the oldest goes, the ring keeps the last 8. */
static void test_count_bound(void **state)
{
	struct evring r;

	(void)state;
	assert_int_equal(evring_init(&r, 8, 1 << 20), 0);
	for (unsigned i = 0; i < 100; i++)
		add(&r, i);
	assert_int_equal(evring_count(&r), 8);
	for (unsigned i = 0; i < 8; i++) {
		char want[16];

		snprintf(want, sizeof(want), "t%u", 92 + i);
		assert_string_equal(evring_get(&r, i)->text, want);
	}
	assert_int_equal(r.added, 100);
	assert_int_equal(r.evicted, 92);
	evring_fini(&r);
}

/* Full by bytes: as many of the newest as fit. */
static void test_byte_bound(void **state)
{
	char text[1000], json[1000];
	struct evring r;

	(void)state;
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memset(json, 'b', sizeof(json) - 1);
	json[sizeof(json) - 1] = '\0';
	/* 2000 bytes an event, 5000 allowed: two at a time. */
	assert_int_equal(evring_init(&r, 100, 5000), 0);
	for (unsigned i = 0; i < 10; i++) {
		text[0] = (char)('0' + i);
		assert_int_equal(evring_add(&r, i, text, json), 0);
		assert_true(r.bytes <= 5000);
	}
	assert_int_equal(evring_count(&r), 2);
	assert_int_equal(evring_get(&r, 0)->text[0], '8');
	assert_int_equal(evring_get(&r, 1)->text[0], '9');
	evring_fini(&r);
}

/* Larger than the whole budget: refused, and the ring keeps what it had. */
static void test_oversized(void **state)
{
	struct evring r;

	(void)state;
	assert_int_equal(evring_init(&r, 4, 16), 0);
	add(&r, 1);
	assert_int_equal(evring_add(&r, 2, "a text of some length", "{}"), -E2BIG);
	assert_int_equal(evring_count(&r), 1);
	assert_string_equal(evring_get(&r, 0)->text, "t1");
	evring_fini(&r);
	assert_int_equal(evring_init(&r, 0, 16), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_count_bound),
		cmocka_unit_test(test_byte_bound),
		cmocka_unit_test(test_oversized),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
