/* Unit tests of sensing (sense.c): what a frame costs and what it does on
 * the way to the detector.  Segments of connections under way are told
 * on the raw frame and skipped (decode_midflow()); they must still move
 * the clock, count as decoded, and change nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "decode.h"
#include "frames.h"
#include "sense.h"
#include "types.h"

#define T0 (1768467600ULL * USEC_PER_SEC)

struct fix {
	struct conf c;
	struct sense s;
	unsigned ndet;
	usec_t last_ts; /* of the latest detection */
	char last_rule[32];
};

static void on_detection(void *arg, const struct detection *d)
{
	struct fix *x = arg;

	x->ndet++;
	x->last_ts = d->ts_us;
	snprintf(x->last_rule, sizeof(x->last_rule), "%s", d->rule_name);
}

static void on_identity(void *arg, const struct ident_event *ev)
{
	(void)arg;
	(void)ev;
}

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));
	struct sense_params p = {0};

	assert_non_null(x);
	assert_int_equal(conf_init_default(&x->c), 0);
	p.c = &x->c;
	p.offline = true;
	p.on_detection = on_detection;
	p.on_identity = on_identity;
	p.arg = x;
	assert_int_equal(sense_init(&x->s, &p), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	sense_fini(&x->s);
	conf_fini(&x->c);
	free(x);
	return 0;
}

/* A TCP segment from src:sport to dst:dport with PSH and 4 bytes of data
 * when data, else none. */
static void seg(struct frame *f, const uint8_t src[4], const uint8_t dst[4], unsigned sport,
		unsigned dport, unsigned flags, bool data)
{
	size_t ip;

	fr_eth(f, FR_MAC_B, 0, FR_ETH_IPV4);
	ip = fr_ipv4(f, 6, src, dst, 0);
	fr_tcp(f, sport, dport, flags | (data ? FR_TH_PSH : 0));
	if (data)
		fr_put32(f, 0x64617461);
	fr_ipv4_end(f, ip);
}

static void feed(struct fix *x, const struct frame *f, usec_t ts)
{
	sense_frame(&x->s, 1 /* LINK_EN10MB */, f->b, f->n, f->n, ts);
}

/* A scanner's unanswered SYNs time out on the clock of the mid-flow
 * segments that follow, as they did when those went through
 * detect_packet(): the detection comes out while the segments are read,
 * not at the end of the capture, and at the probes' deadline. */
static void test_midflow_moves_clock(void **state)
{
	struct fix *x = *state;
	static const uint8_t scanner[4] = {10, 66, 0, 10};
	static const uint8_t cli[4] = {10, 66, 0, 20}, srv[4] = {198, 51, 100, 7};
	struct frame f;
	usec_t t = T0;

	for (unsigned i = 0; i < 8; i++) {
		const uint8_t dst[4] = {10, 66, 1, (uint8_t)(1 + i)};

		seg(&f, scanner, dst, 40000 + i, 445, FR_TH_SYN, false);
		feed(x, &f, t);
		t += 10 * 1000;
	}
	assert_int_equal(x->ndet, 0);
	/* A download, one segment every 100 ms for 10 s: past every SYN's
	 * timeout (scan.timeout, 3 s by default). */
	for (unsigned i = 0; i < 100; i++) {
		seg(&f, srv, cli, 443, 50000, FR_TH_ACK, true);
		feed(x, &f, t);
		t += 100 * 1000;
	}
	assert_true(x->ndet > 0);
	assert_string_equal(x->last_rule, "scan-trw");
	assert_true(x->last_ts < t);
	assert_true(sense_now(&x->s) == t - 100 * 1000);
	/* Every frame decoded and counted, skipped or not. */
	assert_int_equal(x->s.decode.packets, 108);
	assert_int_equal(x->s.decode.decoded, 108);
}

/* Skipped segments change nothing but the clock: a host whose only
 * traffic is segments under way is never tracked, while bare ACKs and
 * FINs still reach the detector (a bare ACK from a protected host to an
 * outside service port becomes a pending probe, whose timeout then
 * counts for the vertical rules only: no detection here). */
static void test_midflow_skipped(void **state)
{
	struct fix *x = *state;
	static const uint8_t a[4] = {10, 66, 0, 30}, b[4] = {203, 0, 113, 9};
	struct detect_stats ds;
	struct frame f;
	usec_t t = T0;

	for (unsigned i = 0; i < 50; i++) {
		seg(&f, a, b, 50000, 443, FR_TH_ACK, true);
		feed(x, &f, t);
		seg(&f, b, a, 443, 50000, FR_TH_ACK, true);
		feed(x, &f, t + 1);
		t += 1000;
	}
	detect_get_stats(x->s.det, &ds);
	assert_int_equal(ds.packets, 0);
	assert_int_equal(ds.hosts, 0);
	assert_int_equal(x->s.decode.decoded, 100);

	seg(&f, a, b, 50000, 443, FR_TH_ACK, false); /* a bare ACK */
	feed(x, &f, t);
	seg(&f, a, b, 50000, 443, FR_TH_FIN | FR_TH_ACK, false);
	feed(x, &f, t + 1);
	detect_get_stats(x->s.det, &ds);
	assert_int_equal(ds.packets, 2);
	assert_int_equal(ds.probes_tracked, 1);
	assert_int_equal(x->s.decode.decoded, 102);
	sense_flush(&x->s);
	assert_int_equal(x->ndet, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_midflow_moves_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_midflow_skipped, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
