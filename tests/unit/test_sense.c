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
	uint64_t trail; /* FNV-1a over every detection's rule, time and host */
};

static void trail_add(uint64_t *h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		*h = (*h ^ b[i]) * 0x100000001b3ULL;
}

static void on_detection(void *arg, const struct detection *d)
{
	struct fix *x = arg;

	x->ndet++;
	x->last_ts = d->ts_us;
	snprintf(x->last_rule, sizeof(x->last_rule), "%s", d->rule_name);
	trail_add(&x->trail, d->rule_name, strlen(d->rule_name));
	trail_add(&x->trail, &d->ts_us, sizeof(d->ts_us));
	trail_add(&x->trail, &d->host, sizeof(d->host));
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

/* ---- sense_frames(): a batch at a time, to the same effect ---- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static unsigned rnd_below(unsigned n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)(rnd_state % n);
}

/* A frame from src to dst whose source MAC is src's own (02:66:...:src),
 * so that identity sees one machine per address. */
static size_t frame_ip(struct frame *f, unsigned proto, const uint8_t src[4], const uint8_t dst[4])
{
	fr_eth(f, FR_MAC_B, 0, FR_ETH_IPV4);
	memcpy(f->b + 6 + 2, src, 4);
	return fr_ipv4(f, proto, src, dst, 0);
}

/* One of the packets the batched path treats apart: scans and their
 * answers, bare ACKs either way, segments under way, FINs, DNS and its
 * answers, echo requests and replies, and frames cut short. */
static void random_frame(struct frame *f)
{
	uint8_t in[4] = {10, 66, 0, (uint8_t)(10 + rnd_below(6))};
	uint8_t in2[4] = {10, 66, 1, (uint8_t)rnd_below(40)};
	uint8_t out[4] = {198, 51, 100, (uint8_t)rnd_below(4)};
	static const uint8_t dns[4] = {10, 66, 0, 53};
	unsigned port = rnd_below(2) ? 445 : 22, eph = 40000 + rnd_below(8);
	size_t ip;

	switch (rnd_below(12)) {
	case 0:
	case 1:
		ip = frame_ip(f, 6, in, in2);
		fr_tcp(f, eph, port, FR_TH_SYN);
		break;
	case 2:
		ip = frame_ip(f, 6, in2, in);
		fr_tcp(f, port, eph, rnd_below(2) ? FR_TH_RST | FR_TH_ACK : FR_TH_SYN | FR_TH_ACK);
		break;
	case 3:
		ip = frame_ip(f, 6, in, out);
		fr_tcp(f, eph, 443, FR_TH_ACK);
		break;
	case 4:
		ip = frame_ip(f, 6, out, in);
		fr_tcp(f, 443, eph, rnd_below(3) ? FR_TH_ACK : FR_TH_RST);
		break;
	case 5:
		ip = frame_ip(f, 6, out, in);
		fr_tcp(f, 443, eph, FR_TH_ACK | FR_TH_PSH);
		fr_put32(f, 0x64617461);
		break;
	case 6:
		ip = frame_ip(f, 6, in, out);
		fr_tcp(f, eph, 443, FR_TH_ACK | FR_TH_FIN);
		break;
	case 7:
		ip = frame_ip(f, 17, in, dns);
		fr_udp(f, eph, 53);
		break;
	case 8:
		ip = frame_ip(f, 17, dns, in);
		fr_udp(f, 53, eph);
		break;
	case 9:
	case 10:
		ip = rnd_below(2) ? frame_ip(f, 1, in, in2) : frame_ip(f, 1, in2, in);
		fr_put8(f, rnd_below(2) ? 8 : 0);
		fr_put8(f, 0);
		fr_put16(f, 0);
		fr_put16(f, 0x6666);
		fr_put16(f, 1);
		break;
	default:
		ip = frame_ip(f, 6, in, in2);
		fr_tcp(f, eph, port, FR_TH_SYN);
		fr_ipv4_end(f, ip);
		f->n = 14 + 20 + 7; /* cut in the TCP header */
		return;
	}
	fr_ipv4_end(f, ip);
}

/* Fed one frame at a time (sense_frame()) and in batches of every size
 * (sense_frames(), beyond SENSE_BATCH too), the same frames give the
 * same detections at the same times, the same counts in the detector
 * and the decoder, and the same clock. */
static void test_frames_as_frame(void **state)
{
	struct fix *x = *state, *y;
	enum { MAXB = 2 * SENSE_BATCH + 5 };
	struct frame *f = calloc(MAXB, sizeof(*f));
	struct capture_packet cp[MAXB];
	struct detect_stats dx, dy;
	usec_t t = T0;

	assert_non_null(f);
	setup((void **)&y);
	for (unsigned round = 0; round < 3000; round++) {
		unsigned n = 1 + rnd_below(MAXB);

		for (unsigned i = 0; i < n; i++) {
			random_frame(&f[i]);
			t += rnd_below(4) == 0 ? 2 * USEC_PER_SEC : 1000;
			cp[i] = (struct capture_packet){
				.data = f[i].b,
				.caplen = (uint32_t)f[i].n,
				.wirelen = (uint32_t)f[i].n,
				.ts = t,
				.dlt = 1 /* LINK_EN10MB */,
			};
			feed(x, &f[i], t);
		}
		sense_frames(&y->s, cp, n);
	}
	sense_flush(&x->s);
	sense_flush(&y->s);
	assert_true(x->ndet > 0);
	assert_int_equal(y->ndet, x->ndet);
	assert_true(y->trail == x->trail);
	detect_get_stats(x->s.det, &dx);
	detect_get_stats(y->s.det, &dy);
	assert_true(dx.probes > 0 && dx.successes > 0 && dx.failures > 0);
	assert_memory_equal(&dy, &dx, sizeof(dx));
	assert_memory_equal(&y->s.decode, &x->s.decode, sizeof(x->s.decode));
	assert_true(x->s.decode.err[DECODE_E_TRUNCATED] > 0);
	assert_true(sense_now(&y->s) == sense_now(&x->s));
	teardown((void **)&y);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_midflow_moves_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_midflow_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frames_as_frame, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
