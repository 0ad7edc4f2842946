/* Unit tests of the record of who probed whom (probes.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "probes.h"

static const struct siphash_key key = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

static struct qaddr ip(const char *s)
{
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static struct qaddr mac(unsigned n)
{
	uint8_t m[MAC_LEN] = {0x02, 0, 0, 0, (uint8_t)(n >> 8), (uint8_t)n};
	struct qaddr a;

	addr_set_mac(&a, m);
	return a;
}

static bool is_mac(const struct qaddr *a, unsigned n)
{
	struct qaddr m = mac(n);

	return addr_eq(a, &m);
}

/* A first contact from from (unverified when an address) at t_s. */
static void contact(struct probes *p, const char *dst, struct qaddr from, unsigned t_s, bool known)
{
	struct probe_edge e;

	memset(&e, 0, sizeof(e));
	e.from = from;
	e.unverified = !addr_is_mac(&from);
	e.proto = PROTO_TCP;
	e.port = 445;
	e.first_us = (usec_t)t_s * USEC_PER_SEC;
	{
		struct qaddr d = ip(dst);
		probes_contact(p, &d, &e, known);
	}
}

static unsigned by(struct probes *p, const char *dst, unsigned before_s, struct probe_edge *ret)
{
	struct qaddr d = ip(dst);

	return probes_by(p, &d, 1, NULL, (usec_t)before_s * USEC_PER_SEC, ret, PROBES_BY_MAX);
}

static void test_first_contact_kept(void **state)
{
	struct probes *p = probes_new(64, &key);
	struct probe_edge e[PROBES_BY_MAX];

	(void)state;
	assert_non_null(p);
	contact(p, "10.0.0.2", mac(1), 10, true);
	/* The same source again: its first contact stays. */
	contact(p, "10.0.0.2", mac(1), 20, true);
	contact(p, "10.0.0.2", mac(3), 15, true);
	assert_int_equal(by(p, "10.0.0.2", 100, e), 2);
	assert_true(is_mac(&e[0].from, 1));
	assert_true(e[0].first_us == 10 * USEC_PER_SEC);
	assert_true(is_mac(&e[1].from, 3));
	/* Only what came before. */
	assert_int_equal(by(p, "10.0.0.2", 12, e), 1);
	assert_int_equal(by(p, "10.0.0.2", 10, e), 0);
	assert_int_equal(by(p, "10.0.0.9", 100, e), 0);
	/* Not a day before. */
	assert_int_equal(by(p, "10.0.0.2", 10 + 24 * 3600, e), 2);
	assert_int_equal(by(p, "10.0.0.2", 15 + 24 * 3600 + 1, e), 0);
	probes_free(p);
}

/* A flood from many sources after the infection cannot erase the first
 * contacts; later ones rotate through the other slots. */
static void test_flood_keeps_earliest(void **state)
{
	struct probes *p = probes_new(64, &key);
	struct probe_edge e[PROBES_BY_MAX];
	struct probes_stats st;

	(void)state;
	contact(p, "10.0.0.2", mac(1), 10, true);
	contact(p, "10.0.0.2", mac(2), 11, true);
	for (unsigned i = 0; i < 1000; i++)
		contact(p, "10.0.0.2", mac(100 + i), 20 + i, true);
	assert_int_equal(by(p, "10.0.0.2", 5000, e), PROBES_PER_DST);
	assert_true(is_mac(&e[0].from, 1));
	assert_true(is_mac(&e[1].from, 2));
	/* The latest two of the flood. */
	assert_true(is_mac(&e[2].from, 100 + 998));
	assert_true(is_mac(&e[3].from, 100 + 999));
	probes_get_stats(p, &st);
	assert_true(st.replaced == 998);
	probes_free(p);
}

/* Unverified sources (anyone can write a source address) never displace
 * a machine; a machine displaces them, even the earliest. */
static void test_unverified_weaker(void **state)
{
	struct probes *p = probes_new(64, &key);
	struct probe_edge e[PROBES_BY_MAX];
	char a[32];

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		snprintf(a, sizeof(a), "10.9.0.%u", i + 1);
		contact(p, "10.0.0.2", ip(a), 1 + i, true);
	}
	contact(p, "10.0.0.2", mac(1), 10, true);
	contact(p, "10.0.0.2", mac(2), 11, true);
	contact(p, "10.0.0.2", mac(3), 12, true);
	contact(p, "10.0.0.2", mac(4), 13, true);
	assert_int_equal(by(p, "10.0.0.2", 100, e), 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_true(is_mac(&e[i].from, 1 + i));
		assert_int_equal(e[i].unverified, 0);
	}
	/* Forged addresses after it: refused. */
	for (unsigned i = 0; i < 100; i++) {
		snprintf(a, sizeof(a), "10.8.%u.%u", i / 250, i % 250 + 1);
		contact(p, "10.0.0.2", ip(a), 20 + i, true);
	}
	assert_int_equal(by(p, "10.0.0.2", 1000, e), 4);
	for (unsigned i = 0; i < 4; i++)
		assert_true(is_mac(&e[i].from, 1 + i));
	probes_free(p);
}

/* A sweep of dark addresses evicts from probation: the destinations
 * known to be in use stay. */
static void test_dark_sweep_evicts_probation(void **state)
{
	struct probes *p = probes_new(32, &key);
	struct probe_edge e[PROBES_BY_MAX];
	struct probes_stats st;
	char a[32];

	(void)state;
	contact(p, "10.0.0.2", mac(1), 10, true);
	contact(p, "10.0.0.3", mac(1), 10, false);
	/* 10.0.0.3 sends first contacts itself: in use. */
	{
		struct qaddr x = ip("10.0.0.3");
		probes_in_use(p, &x);
	}
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(a, sizeof(a), "10.7.%u.%u", i / 250, i % 250 + 1);
		contact(p, a, mac(9), 20 + i, false);
	}
	probes_get_stats(p, &st);
	assert_true(st.dsts <= 32);
	assert_true(st.evicted > 4000);
	assert_int_equal(by(p, "10.0.0.2", 100, e), 1);
	assert_int_equal(by(p, "10.0.0.3", 100, e), 1);
	/* Without anything in use, the oldest go. */
	assert_int_equal(by(p, "10.7.0.1", 100000, e), 0);
	probes_free(p);
}

/* A machine's several addresses: one edge per source, its earliest;
 * the host itself is left out; at most max, the earliest. */
static void test_by_merges_addresses(void **state)
{
	struct probes *p = probes_new(64, &key);
	struct probe_edge e[PROBES_BY_MAX];
	struct qaddr d[2] = {ip("10.0.0.2"), ip("fd00::2")};
	struct qaddr self = mac(7);
	struct probe_edge x;

	(void)state;
	memset(&x, 0, sizeof(x));
	x.proto = PROTO_TCP;
	x.port = 445;
	x.from = mac(1);
	x.first_us = 30 * USEC_PER_SEC;
	probes_contact(p, &d[0], &x, true);
	x.first_us = 20 * USEC_PER_SEC;
	probes_contact(p, &d[1], &x, true);
	x.from = self;
	x.first_us = 5 * USEC_PER_SEC;
	probes_contact(p, &d[0], &x, true);
	for (unsigned i = 0; i < 3; i++) {
		x.from = mac(10 + i);
		x.first_us = (40 + i) * USEC_PER_SEC;
		probes_contact(p, &d[1], &x, true);
	}
	assert_int_equal(probes_by(p, d, 2, &self, 100 * USEC_PER_SEC, e, 3), 3);
	assert_true(is_mac(&e[0].from, 1));
	assert_true(e[0].first_us == 20 * USEC_PER_SEC);
	assert_true(is_mac(&e[1].from, 10));
	assert_true(is_mac(&e[2].from, 11));
	probes_free(p);
}

static void test_bad_size(void **state)
{
	(void)state;
	assert_null(probes_new(0, &key));
	assert_true(probes_entry_size() >= sizeof(struct probe_edge) * PROBES_PER_DST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_contact_kept),
		cmocka_unit_test(test_flood_keeps_earliest),
		cmocka_unit_test(test_unverified_weaker),
		cmocka_unit_test(test_dark_sweep_evicts_probation),
		cmocka_unit_test(test_by_merges_addresses),
		cmocka_unit_test(test_bad_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
