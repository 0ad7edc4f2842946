/* Unit tests of time_since_parse(): ISO 8601 times with and without a
 * zone, durations meaning "that long ago", and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "types.h"

/* 2026-01-15T09:00:05Z */
#define T0  1768467605ull
#define NOW (T0 * USEC_PER_SEC)

static usec_t since(const char *s)
{
	usec_t us = 1;

	if (time_since_parse(s, NOW, &us) < 0)
		fail_msg("'%s' refused", s);
	return us;
}

static void refused(const char *s)
{
	usec_t us = 7;

	if (time_since_parse(s, NOW, &us) != -EINVAL)
		fail_msg("'%s' taken", s);
	assert_int_equal(us, 7); /* not written */
}

static void test_utc(void **state)
{
	(void)state;
	assert_int_equal(since("2026-01-15T09:00:05Z"), NOW);
	assert_int_equal(since("2026-01-15T09:00:05.25Z"), NOW + 250000);
	assert_int_equal(since("2026-01-15T09:00:05.000001Z"), NOW + 1);
	/* The daemon's own event timestamps read back. */
	assert_int_equal(since("2026-01-15T09:00:05.123456Z"), NOW + 123456);
	assert_int_equal(since("2026-01-15 09:00Z"), NOW - 5 * USEC_PER_SEC);
	assert_int_equal(since("2026-01-15Z"), (T0 - 9 * 3600 - 5) * USEC_PER_SEC);
	assert_int_equal(since("1970-01-01T00:00:00Z"), 0);
}

static void test_offsets(void **state)
{
	(void)state;
	assert_int_equal(since("2026-01-15T10:00:05+01:00"), NOW);
	assert_int_equal(since("2026-01-15T10:00:05+0100"), NOW);
	assert_int_equal(since("2026-01-15T03:30:05-05:30"), NOW);
}

/* No zone: the local time of the one who typed it. */
static void test_local(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(since("2026-01-15T09:00:05"), NOW);
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	assert_int_equal(since("2026-01-15 10:00:05"), NOW);
	/* Summer: two hours ahead. */
	assert_int_equal(since("2026-07-15 11:00"), since("2026-07-15T09:00Z"));
	unsetenv("TZ");
	tzset();
}

static void test_durations(void **state)
{
	(void)state;
	assert_int_equal(since("1h"), NOW - 3600 * USEC_PER_SEC);
	assert_int_equal(since("90s"), NOW - 90 * USEC_PER_SEC);
	assert_int_equal(since("90"), NOW - 90 * USEC_PER_SEC);
	assert_int_equal(since("7d"), NOW - 7 * 86400 * USEC_PER_SEC);
	assert_int_equal(since("0"), NOW);
	/* Before 1970: everything. */
	assert_int_equal(since("100000d"), 0);
}

static void test_refused(void **state)
{
	(void)state;
	refused("");
	refused("yesterday");
	refused("1 h");
	refused("-1h");
	refused("2026-1-15");
	refused("2026-01-15T9:00");
	refused("2026-01-15T09");
	refused("2026-13-01");
	refused("2026-02-30");
	refused("2026-01-15T24:00");
	refused("2026-01-15T09:60");
	refused("2026-01-15T09:00:05.");
	refused("2026-01-15T09:00:05Zjunk");
	refused("2026-01-15T09:00:05+1");
	refused("2026-01-15T09:00:05+24:00");
	refused("1969-12-31T23:59:59Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utc),	cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_local),	cmocka_unit_test(test_durations),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
