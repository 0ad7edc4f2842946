/* Unit tests for when repairs of the table run: debounce, the longest
 * wait, the budget, holds and their backoff, a reload ending a hold.
 * Time is passed in; nothing touches the kernel. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "nft.h"
#include "repair.h"

#define MS(x) ((usec_t)(x)*1000)
#define S(x)  ((usec_t)(x)*1000000)
#define T0    S(1000) /* monotonic time does not start at 0 */

/* An outside change of kind what at now. */
static void change(struct repair *r, unsigned what, usec_t now)
{
	r->pend.what |= what;
	r->pend.messages++;
	repair_note(r, now);
}

static void test_debounce(void **state)
{
	struct repair r;
	struct nftmon_change c;

	(void)state;
	repair_init(&r);
	assert_int_equal(repair_next(&r), USEC_INFINITY);
	assert_int_equal(repair_check(&r, T0, &c), REPAIR_WAIT);
	/* A flush of a set: many notifications within a few ms. */
	r.pend.sets |= 1u << NFT_SET_ISO4;
	for (unsigned i = 0; i < 50; i++)
		change(&r, NFTMON_ELEMS, T0 + MS(i / 10));
	assert_int_equal(repair_next(&r), T0 + MS(4) + MS(REPAIR_DEBOUNCE_MS));
	assert_int_equal(repair_check(&r, T0 + MS(100), &c), REPAIR_WAIT);
	assert_int_equal(repair_check(&r, T0 + MS(204), &c), REPAIR_RUN);
	/* One repair for all of them, with what they changed. */
	assert_int_equal(c.what, NFTMON_ELEMS);
	assert_int_equal(c.sets, 1u << NFT_SET_ISO4);
	assert_int_equal(c.messages, 50);
	assert_int_equal(repair_check(&r, T0 + MS(300), &c), REPAIR_WAIT);
	assert_int_equal(repair_next(&r), USEC_INFINITY);
	assert_int_equal(r.st.repairs, 1);
}

static void test_longest_wait(void **state)
{
	struct repair r;
	struct nftmon_change c;
	usec_t t;

	(void)state;
	repair_init(&r);
	/* A change every 100 ms: the debounce alone would never end. */
	for (t = T0; t < T0 + MS(REPAIR_MAXWAIT_MS); t += MS(100)) {
		change(&r, NFTMON_TABLE, t);
		assert_int_equal(repair_check(&r, t, &c), REPAIR_WAIT);
	}
	change(&r, NFTMON_TABLE, t);
	assert_int_equal(repair_check(&r, t, &c), REPAIR_RUN);
	assert_int_equal(c.what, NFTMON_TABLE);
}

/* An outside tool that changes the table every 100 ms for as long as
 * until: the repairs that run and when the hold starts. */
static unsigned fight(struct repair *r, usec_t from, usec_t until, usec_t *ret_hold_at)
{
	struct nftmon_change c;
	unsigned runs = 0;

	*ret_hold_at = 0;
	for (usec_t t = from; t < until; t += MS(100)) {
		change(r, NFTMON_TABLE, t);
		switch (repair_check(r, t, &c)) {
		case REPAIR_RUN:
			runs++;
			break;
		case REPAIR_HOLD:
			assert_int_equal(*ret_hold_at, 0); /* one alert per hold */
			*ret_hold_at = t;
			break;
		case REPAIR_WAIT:
			break;
		}
	}
	return runs;
}

static void test_budget_and_hold(void **state)
{
	struct repair r;
	struct nftmon_change c;
	usec_t hold_at;

	(void)state;
	repair_init(&r);
	/* 20 s of fighting: REPAIR_BURST repairs, then a hold. */
	assert_int_equal(fight(&r, T0, T0 + S(20), &hold_at), REPAIR_BURST);
	/* A repair about every 1.1 s: the longest wait and one tick of 100 ms. */
	assert_true(hold_at > T0 + S(REPAIR_BURST) && hold_at < T0 + S(2 * REPAIR_BURST));
	assert_int_equal(r.hold_until, hold_at + S(REPAIR_HOLD_MIN_S));
	assert_int_equal(r.st.holds, 1);
	/* The changes during the hold are kept, and repaired when it ends. */
	assert_true(r.pend.messages > 0);
	assert_int_equal(repair_next(&r), r.hold_until);
	assert_int_equal(repair_check(&r, r.hold_until - 1, &c), REPAIR_WAIT);
	assert_int_equal(repair_check(&r, r.hold_until, &c), REPAIR_RUN);
	assert_int_equal(c.what, NFTMON_TABLE);
	assert_int_equal(repair_next(&r), USEC_INFINITY);
}

static void test_backoff(void **state)
{
	struct repair r;
	usec_t hold_at, t = T0, len = S(REPAIR_HOLD_MIN_S);

	(void)state;
	repair_init(&r);
	/* A tool that never stops: each hold twice the last, up to the
	 * maximum, and never more than REPAIR_BURST repairs between two. */
	for (unsigned i = 0; i < 8; i++) {
		unsigned runs = fight(&r, t, t + S(20), &hold_at);
		assert_true(runs <= REPAIR_BURST);
		assert_true(hold_at != 0);
		assert_int_equal(r.hold_until - hold_at, len);
		t = r.hold_until;
		len = MIN(2 * len, S(REPAIR_HOLD_MAX_S));
	}
	assert_int_equal(r.st.holds, 8);
	assert_int_equal(r.hold_us, S(REPAIR_HOLD_MAX_S));
	/* Quiet long enough after a hold: the next hold is short again. */
	t = r.hold_until + S(REPAIR_HOLD_RESET_S) + S(1);
	fight(&r, t, t + S(20), &hold_at);
	assert_true(hold_at != 0);
	assert_int_equal(r.hold_until - hold_at, S(REPAIR_HOLD_MIN_S));
}

static void test_spread_out(void **state)
{
	struct repair r;
	struct nftmon_change c;

	(void)state;
	repair_init(&r);
	/* One reload of nftables.service a minute is never a fight. */
	for (unsigned i = 0; i < 30; i++) {
		usec_t t = T0 + S(REPAIR_WINDOW_S) / REPAIR_BURST * i + S(1);
		change(&r, NFTMON_TABLE, t);
		assert_int_equal(repair_check(&r, t + MS(REPAIR_DEBOUNCE_MS), &c), REPAIR_RUN);
	}
	assert_int_equal(r.st.holds, 0);
}

static void test_resume(void **state)
{
	struct repair r;
	struct nftmon_change c;
	usec_t hold_at, t;

	(void)state;
	repair_init(&r);
	/* Not holding: a reload changes nothing. */
	assert_false(repair_resume(&r, T0));
	assert_int_equal(repair_next(&r), USEC_INFINITY);
	fight(&r, T0, T0 + S(20), &hold_at);
	assert_true(r.hold_until != 0);
	/* The operator stopped the other tool and reloads: a full check at
	 * once, and a fresh budget. */
	t = T0 + S(20);
	assert_true(repair_resume(&r, t));
	assert_int_equal(r.hold_until, 0);
	assert_int_equal(repair_check(&r, t, &c), REPAIR_RUN);
	assert_true(c.what & NFTMON_CHECK);
	for (unsigned i = 1; i < REPAIR_BURST; i++) {
		change(&r, NFTMON_ELEMS, t + S(i));
		assert_int_equal(repair_check(&r, t + S(i) + S(1), &c), REPAIR_RUN);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debounce),	cmocka_unit_test(test_longest_wait),
		cmocka_unit_test(test_budget_and_hold), cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_spread_out),	cmocka_unit_test(test_resume),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
