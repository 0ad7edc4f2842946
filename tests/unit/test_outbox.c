/* Unit tests of a child's outbox to its parent: messages come out in the
 * order they went in; a message without room is lost and counted, never
 * half queued, and what waits is kept; one larger than the outbox never
 * fits; room freed at the front is used again; on a channel, a message
 * waits behind those already waiting even when the channel has room. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "outbox.h"

/* Header (8) plus payload, rounded up to 8. */
#define CAP 64

static union {
	uint64_t align;
	uint8_t b[CAP];
} buf;

static void expect_msg(struct outbox *o, uint16_t type, const char *payload)
{
	uint16_t t;
	const void *d;
	size_t len;

	assert_true(outbox_peek(o, &t, &d, &len));
	assert_int_equal(t, type);
	assert_int_equal(len, strlen(payload));
	assert_memory_equal(d, payload, len);
	outbox_pop(o);
}

static void test_in_order(void **state)
{
	struct outbox o;
	uint16_t t;
	const void *d;
	size_t len;

	(void)state;
	outbox_init(&o, buf.b, sizeof(buf.b));
	assert_false(outbox_peek(&o, &t, &d, &len));
	assert_true(outbox_put(&o, 1, "one", 3));
	assert_true(outbox_put(&o, 2, NULL, 0));
	assert_true(outbox_put(&o, 3, "three", 5));
	assert_int_equal(o.n, 3);
	expect_msg(&o, 1, "one");
	expect_msg(&o, 2, "");
	expect_msg(&o, 3, "three");
	assert_int_equal(o.n, 0);
	assert_false(outbox_peek(&o, &t, &d, &len));
	assert_int_equal(o.lost, 0);
}

static void test_full(void **state)
{
	struct outbox o;

	(void)state;
	outbox_init(&o, buf.b, sizeof(buf.b));
	/* 16 bytes each: four fit in 64. */
	assert_true(outbox_put(&o, 1, "aaaaaaaa", 8));
	assert_true(outbox_put(&o, 2, "bbbbbbbb", 8));
	assert_true(outbox_put(&o, 3, "cccccccc", 8));
	assert_true(outbox_put(&o, 4, "dddddddd", 8));
	assert_false(outbox_put(&o, 5, "e", 1));
	assert_int_equal(o.lost, 1);
	assert_int_equal(o.n, 4);
	/* Room at the front is used again, behind what waits. */
	expect_msg(&o, 1, "aaaaaaaa");
	expect_msg(&o, 2, "bbbbbbbb");
	assert_true(outbox_put(&o, 6, "ffffffffffffffff", 16));
	assert_false(outbox_put(&o, 7, "g", 1));
	assert_int_equal(o.lost, 2);
	expect_msg(&o, 3, "cccccccc");
	expect_msg(&o, 4, "dddddddd");
	expect_msg(&o, 6, "ffffffffffffffff");
	assert_int_equal(o.n, 0);
	/* Empty again: all of it. */
	assert_true(
		outbox_put(&o, 8, "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh", 56));
	expect_msg(&o, 8, "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh");
}

static void test_too_large(void **state)
{
	struct outbox o;
	char big[CAP];

	(void)state;
	memset(big, 'x', sizeof(big));
	outbox_init(&o, buf.b, sizeof(buf.b));
	assert_true(outbox_put(&o, 1, "a", 1));
	/* 8 + 57 rounds to 72: never fits, and what waits stays. */
	assert_false(outbox_put(&o, 2, big, 57));
	assert_false(outbox_put(&o, 2, big, sizeof(big)));
	assert_int_equal(o.lost, 2);
	assert_int_equal(o.n, 1);
	expect_msg(&o, 1, "a");
	assert_false(outbox_put(&o, 2, big, 57));
	assert_int_equal(o.n, 0);
}

static const struct ipc_type types[] = {
	{.type = 1, .min_len = 0, .max_len = 64},
};

/* On a channel: straight through while nothing waits; once something
 * waits, behind it; a flush sends what waits in order. */
static void test_channel(void **state)
{
	struct outbox o;
	struct ipc a, b;
	struct ipc_msg m;
	int fds[2];
	int r;

	(void)state;
	assert_int_equal(ipc_pair(fds), 0);
	ipc_init(&a, fds[0], types, 1);
	ipc_init(&b, fds[1], types, 1);
	outbox_init(&o, buf.b, sizeof(buf.b));
	assert_int_equal(outbox_send(&o, &a, 1, "x", 1), 0);
	assert_int_equal(o.n, 0);
	assert_int_equal(ipc_recv(&b, &m), 1);
	assert_int_equal(m.len, 1);
	/* Fill the channel; then the outbox. */
	while ((r = ipc_send(&a, 1, "f", 1, -1)) == 0)
		;
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(outbox_send(&o, &a, 1, "w1", 2), 0);
	assert_int_equal(o.full, 1);
	assert_int_equal(o.n, 1);
	/* Room on the channel, but w2 waits behind w1. */
	assert_int_equal(ipc_recv(&b, &m), 1);
	assert_int_equal(outbox_send(&o, &a, 1, "w2", 2), 0);
	assert_int_equal(o.n, 2);
	while ((r = ipc_recv(&b, &m)) == 1 && m.len == 1)
		;
	/* Only the filling went through; the flush sends them, in order. */
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(outbox_flush(&o, &a), 0);
	assert_int_equal(o.n, 0);
	assert_int_equal(ipc_recv(&b, &m), 1);
	assert_memory_equal(m.data, "w1", 2);
	assert_int_equal(ipc_recv(&b, &m), 1);
	assert_memory_equal(m.data, "w2", 2);
	/* The parent gone: an error that is not -ENOBUFS. */
	ipc_close(&b);
	r = outbox_send(&o, &a, 1, "z", 1);
	assert_true(r < 0 && r != -ENOBUFS && r != -EAGAIN);
	ipc_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_channel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
