/* Unit tests of a follower's bounded queue: lines go out in order; a
 * line without room is dropped and counted, never half queued; the count
 * comes back as a drop line before the next line that fits, or alone when
 * the queue runs empty; one line larger than the queue is dropped too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "evqueue.h"

/* 2026-01-15T09:00:05Z */
#define NOW (1768467605ull * USEC_PER_SEC)

/* Everything queued, as a string. */
static const char *pending(const struct evqueue *q)
{
	static char buf[8192];
	const char *p;
	size_t n = evqueue_peek(q, &p);

	assert_true(n < sizeof(buf));
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

static bool push(struct evqueue *q, const char *line)
{
	return evqueue_push(q, line, strlen(line), NOW);
}

/* A line of n bytes (no newline) of letter c. */
static const char *line_of(size_t n, char c)
{
	static char buf[4096];

	assert_true(n < sizeof(buf));
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void test_in_order(void **state)
{
	struct evqueue q;

	(void)state;
	assert_int_equal(evqueue_init(&q, 256, false), 0);
	assert_true(push(&q, "a one"));
	assert_true(push(&q, "b two"));
	assert_string_equal(pending(&q), "a one\nb two\n");
	/* Part of it sent: the rest stays, in order. */
	evqueue_consume(&q, 4, NOW);
	assert_string_equal(pending(&q), "e\nb two\n");
	assert_true(push(&q, "c"));
	evqueue_consume(&q, 8, NOW);
	assert_string_equal(pending(&q), "c\n");
	evqueue_consume(&q, 2, NOW);
	assert_string_equal(pending(&q), "");
	assert_int_equal(q.dropped_total, 0);
	evqueue_fini(&q);
}

static void test_bad_size(void **state)
{
	struct evqueue q;

	(void)state;
	assert_int_equal(evqueue_init(&q, 100, false), -EINVAL);
	evqueue_fini(&q); /* harmless after a failed init */
}

/* The bound holds: 100-byte lines into 1000 bytes, never read. */
static void test_bounded(void **state)
{
	struct evqueue q;
	unsigned queued = 0, dropped = 0;
	const char *p;

	(void)state;
	assert_int_equal(evqueue_init(&q, 1000, false), 0);
	for (unsigned i = 0; i < 50; i++) {
		if (push(&q, line_of(99, 'x')))
			queued++;
		else
			dropped++;
		assert_true(evqueue_peek(&q, &p) <= 1000);
	}
	assert_int_equal(queued, 10); /* 10 x (99 + LF) fill it exactly */
	assert_int_equal(dropped, 40);
	assert_int_equal(q.dropped, 40);
	assert_int_equal(q.dropped_total, 40);
	evqueue_fini(&q);
}

/* After drops, the next line that fits comes after a drop line with the
 * count; the count starts again from 0. */
static void test_drop_line_before_next(void **state)
{
	struct evqueue q;
	char want[512];

	(void)state;
	assert_int_equal(evqueue_init(&q, 1000, false), 0);
	for (unsigned i = 0; i < 10; i++)
		assert_true(push(&q, line_of(99, 'x')));
	for (unsigned i = 0; i < 42; i++)
		assert_false(push(&q, "lost"));
	/* Half read: room for the drop line and the next line. */
	evqueue_consume(&q, 500, NOW);
	assert_true(push(&q, "next"));
	snprintf(want, sizeof(want), "2026-01-15T09:00:05.000000Z dropped n=42\nnext\n");
	assert_string_equal(pending(&q) + 500, want);
	assert_int_equal(q.dropped, 0);
	assert_int_equal(q.dropped_total, 42);
	evqueue_fini(&q);
}

/* No room for the drop line and the line together: the line is dropped
 * too (and counted), not queued without its note. */
static void test_no_line_without_note(void **state)
{
	struct evqueue q;

	(void)state;
	assert_int_equal(evqueue_init(&q, 1000, false), 0);
	for (unsigned i = 0; i < 10; i++)
		assert_true(push(&q, line_of(99, 'x')));
	assert_false(push(&q, "lost"));
	evqueue_consume(&q, 20, NOW); /* room for a short line, not for both */
	assert_false(push(&q, "short"));
	assert_int_equal(q.dropped, 2);
	assert_null(strstr(pending(&q), "short"));
	evqueue_fini(&q);
}

/* Caught up with nothing new: the drop line comes alone, in JSON for a
 * JSON follower. */
static void test_drop_line_when_empty_json(void **state)
{
	struct evqueue q;

	(void)state;
	assert_int_equal(evqueue_init(&q, 300, true), 0);
	assert_true(push(&q, line_of(200, 'x')));
	for (unsigned i = 0; i < 7; i++)
		assert_false(push(&q, line_of(200, 'y')));
	evqueue_consume(&q, 100, NOW);
	assert_int_equal(q.dropped, 7); /* not caught up yet */
	evqueue_consume(&q, 101, NOW);
	assert_string_equal(
		pending(&q),
		"{\"ts\":\"2026-01-15T09:00:05.000000Z\",\"event\":\"dropped\",\"n\":7}\n");
	assert_int_equal(q.dropped, 0);
	/* Once said, not said again. */
	evqueue_consume(&q, strlen(pending(&q)), NOW);
	assert_string_equal(pending(&q), "");
	assert_true(push(&q, "{}"));
	assert_string_equal(pending(&q), "{}\n");
	evqueue_fini(&q);
}

/* A line larger than the whole queue is dropped, not cut. */
static void test_oversized_line(void **state)
{
	struct evqueue q;

	(void)state;
	assert_int_equal(evqueue_init(&q, 256, false), 0);
	assert_false(push(&q, line_of(256, 'z')));
	assert_string_equal(pending(&q), "");
	assert_int_equal(q.dropped, 1);
	assert_true(push(&q, "fits"));
	assert_string_equal(pending(&q), "2026-01-15T09:00:05.000000Z dropped n=1\nfits\n");
	evqueue_fini(&q);
}

/* Lines wrap around the buffer's end by moving the pending bytes to the
 * front: nothing is lost or reordered over many rounds. */
static void test_many_rounds(void **state)
{
	struct evqueue q;
	unsigned next_in = 0, next_out = 0;

	(void)state;
	assert_int_equal(evqueue_init(&q, 256, false), 0);
	for (unsigned round = 0; round < 1000; round++) {
		char line[32];
		const char *p;
		size_t n;

		/* Two lines in, then one, then none: up to two pending. */
		for (unsigned k = 0; k < 2 - round % 3; k++) {
			snprintf(line, sizeof(line), "event %u", next_in);
			if (!push(&q, line))
				fail_msg("dropped with a reader keeping up");
			next_in++;
		}
		/* Read one whole line. */
		n = evqueue_peek(&q, &p);
		if (n == 0)
			continue;
		snprintf(line, sizeof(line), "event %u\n", next_out);
		assert_true(n >= strlen(line));
		assert_memory_equal(p, line, strlen(line));
		evqueue_consume(&q, strlen(line), NOW);
		next_out++;
	}
	/* What is left is the lines not read yet, in order. */
	for (; next_out < next_in; next_out++) {
		char line[32];
		const char *p;
		size_t n = evqueue_peek(&q, &p);

		snprintf(line, sizeof(line), "event %u\n", next_out);
		assert_true(n >= strlen(line));
		assert_memory_equal(p, line, strlen(line));
		evqueue_consume(&q, strlen(line), NOW);
	}
	assert_string_equal(pending(&q), "");
	assert_int_equal(q.dropped_total, 0);
	evqueue_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_bad_size),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_drop_line_before_next),
		cmocka_unit_test(test_no_line_without_note),
		cmocka_unit_test(test_drop_line_when_empty_json),
		cmocka_unit_test(test_oversized_line),
		cmocka_unit_test(test_many_rounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
