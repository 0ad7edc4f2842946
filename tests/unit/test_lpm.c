/* Unit tests for the longest-prefix-match trie. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "lpm.h"

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static void
insert(struct lpm *t, const char *cidr, uint32_t value)
{
	struct qaddr a;
	unsigned plen;

	assert_int_equal(addr_parse_prefix(cidr, &a, &plen), 0);
	assert_int_equal(lpm_insert(t, &a, plen, value), 0);
}

static int remove_(struct lpm *t, const char *cidr)
{
	struct qaddr a;
	unsigned plen;

	assert_int_equal(addr_parse_prefix(cidr, &a, &plen), 0);
	return lpm_remove(t, &a, plen);
}

/* The value found for s, or -1 on a miss; the prefix length in *plen. */
static long look(const struct lpm *t, const char *s, unsigned *plen)
{
	struct qaddr a = A(s);
	uint32_t v = 0xdeadbeef;
	unsigned l = 999;

	if (!lpm_lookup(t, &a, &v, &l)) {
		assert_int_equal(v, 0xdeadbeef); /* out-parameters untouched on a miss */
		assert_int_equal(l, 999);
		return -1;
	}
	if (plen)
		*plen = l;
	return (long)v;
}

static void test_empty(void **state)
{
	struct lpm *t = lpm_new();
	struct qaddr none;

	(void)state;
	assert_non_null(t);
	assert_int_equal(lpm_count(t), 0);
	assert_int_equal(look(t, "10.0.0.1", NULL), -1);
	assert_int_equal(look(t, "::1", NULL), -1);
	assert_int_equal(remove_(t, "10.0.0.0/8"), -ENOENT);
	memset(&none, 0, sizeof(none));
	assert_false(lpm_lookup(t, &none, NULL, NULL));
	lpm_free(t);
	lpm_free(NULL);
}

static void test_overlapping(void **state)
{
	struct lpm *t = lpm_new();
	unsigned plen;

	(void)state;
	insert(t, "10.0.0.0/8", 1);
	insert(t, "10.1.0.0/16", 2);
	insert(t, "10.1.2.0/24", 3);
	insert(t, "10.1.2.128/25", 4);
	assert_int_equal(lpm_count(t), 4);

	assert_int_equal(look(t, "10.9.9.9", &plen), 1);
	assert_int_equal(plen, 8);
	assert_int_equal(look(t, "10.1.9.9", &plen), 2);
	assert_int_equal(plen, 16);
	assert_int_equal(look(t, "10.1.2.3", &plen), 3);
	assert_int_equal(plen, 24);
	assert_int_equal(look(t, "10.1.2.200", &plen), 4);
	assert_int_equal(plen, 25);
	assert_int_equal(look(t, "11.0.0.0", NULL), -1);
	assert_int_equal(look(t, "9.255.255.255", NULL), -1);

	/* Inserting order does not matter: a shorter prefix added last. */
	insert(t, "10.1.2.0/23", 5);
	assert_int_equal(look(t, "10.1.3.1", &plen), 5);
	assert_int_equal(plen, 23);
	assert_int_equal(look(t, "10.1.2.1", &plen), 3);
	lpm_free(t);
}

static void test_replace(void **state)
{
	struct lpm *t = lpm_new();

	(void)state;
	insert(t, "192.168.0.0/16", 1);
	insert(t, "192.168.0.0/16", 7);
	assert_int_equal(lpm_count(t), 1);
	assert_int_equal(look(t, "192.168.4.4", NULL), 7);
	lpm_free(t);
}

static void test_default_route(void **state)
{
	struct lpm *t = lpm_new();
	unsigned plen = 99;

	(void)state;
	insert(t, "0.0.0.0/0", 10);
	assert_int_equal(look(t, "1.2.3.4", &plen), 10);
	assert_int_equal(plen, 0);
	assert_int_equal(look(t, "255.255.255.255", NULL), 10);
	/* The IPv4 default route does not cover IPv6. */
	assert_int_equal(look(t, "2001:db8::1", NULL), -1);
	insert(t, "::/0", 20);
	assert_int_equal(look(t, "2001:db8::1", &plen), 20);
	assert_int_equal(plen, 0);
	insert(t, "1.2.3.0/24", 11);
	assert_int_equal(look(t, "1.2.3.4", NULL), 11);
	assert_int_equal(look(t, "1.2.4.4", NULL), 10);
	assert_int_equal(remove_(t, "0.0.0.0/0"), 0);
	assert_int_equal(look(t, "1.2.4.4", NULL), -1);
	assert_int_equal(look(t, "1.2.3.4", NULL), 11);
	lpm_free(t);
}

static void test_host_routes(void **state)
{
	struct lpm *t = lpm_new();
	unsigned plen;

	(void)state;
	insert(t, "10.0.0.0/8", 1);
	insert(t, "10.0.0.1/32", 2);
	insert(t, "255.255.255.255/32", 3);
	insert(t, "0.0.0.0/32", 4);
	insert(t, "2001:db8::/32", 5);
	insert(t, "2001:db8::1/128", 6);
	insert(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", 7);

	assert_int_equal(look(t, "10.0.0.1", &plen), 2);
	assert_int_equal(plen, 32);
	assert_int_equal(look(t, "10.0.0.2", &plen), 1);
	assert_int_equal(plen, 8);
	assert_int_equal(look(t, "10.0.0.0", NULL), 1);
	assert_int_equal(look(t, "255.255.255.255", NULL), 3);
	assert_int_equal(look(t, "255.255.255.254", NULL), -1);
	assert_int_equal(look(t, "0.0.0.0", NULL), 4);
	assert_int_equal(look(t, "0.0.0.1", NULL), -1);
	assert_int_equal(look(t, "2001:db8::1", &plen), 6);
	assert_int_equal(plen, 128);
	assert_int_equal(look(t, "2001:db8::2", &plen), 5);
	assert_int_equal(plen, 32);
	assert_int_equal(look(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL), 7);
	assert_int_equal(look(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", NULL), -1);
	lpm_free(t);
}

static void test_family_isolation(void **state)
{
	struct lpm *t = lpm_new();

	(void)state;
	/* 10.0.0.0/8 and 0a00::/8 share their first bits: they must not meet. */
	insert(t, "10.0.0.0/8", 4);
	assert_int_equal(look(t, "a00::1", NULL), -1);
	assert_int_equal(look(t, "::ffff:10.0.0.1", NULL), -1);
	insert(t, "a00::/8", 6);
	assert_int_equal(look(t, "a00::1", NULL), 6);
	assert_int_equal(look(t, "10.0.0.1", NULL), 4);
	assert_int_equal(remove_(t, "a00::/8"), 0);
	assert_int_equal(look(t, "10.0.0.1", NULL), 4);
	assert_int_equal(look(t, "a00::1", NULL), -1);
	assert_int_equal(remove_(t, "a00::/8"), -ENOENT);
	lpm_free(t);
}

static void test_remove(void **state)
{
	struct lpm *t = lpm_new();

	(void)state;
	insert(t, "10.0.0.0/8", 1);
	insert(t, "10.1.0.0/16", 2);
	insert(t, "10.1.2.0/24", 3);
	/* A prefix that is only an inner node, and one never inserted. */
	assert_int_equal(remove_(t, "10.1.0.0/20"), -ENOENT);
	assert_int_equal(remove_(t, "10.1.2.0/25"), -ENOENT);
	assert_int_equal(remove_(t, "172.16.0.0/12"), -ENOENT);
	assert_int_equal(lpm_count(t), 3);

	assert_int_equal(remove_(t, "10.1.0.0/16"), 0);
	assert_int_equal(lpm_count(t), 2);
	assert_int_equal(remove_(t, "10.1.0.0/16"), -ENOENT);
	assert_int_equal(look(t, "10.1.9.9", NULL), 1);
	assert_int_equal(look(t, "10.1.2.9", NULL), 3);

	assert_int_equal(remove_(t, "10.1.2.0/24"), 0);
	assert_int_equal(look(t, "10.1.2.9", NULL), 1);
	assert_int_equal(remove_(t, "10.0.0.0/8"), 0);
	assert_int_equal(look(t, "10.1.2.9", NULL), -1);
	assert_int_equal(lpm_count(t), 0);

	/* Reinsert after remove reuses the nodes. */
	insert(t, "10.1.0.0/16", 9);
	assert_int_equal(look(t, "10.1.2.9", NULL), 9);
	assert_int_equal(lpm_count(t), 1);
	lpm_free(t);
}

static void test_invalid(void **state)
{
	struct lpm *t = lpm_new();
	struct qaddr a = A("10.0.0.0"), b = A("::"), none;

	(void)state;
	memset(&none, 0, sizeof(none));
	assert_int_equal(lpm_insert(t, &a, 33, 1), -EINVAL);
	assert_int_equal(lpm_insert(t, &b, 129, 1), -EINVAL);
	assert_int_equal(lpm_insert(t, &none, 0, 1), -EINVAL);
	assert_int_equal(lpm_remove(t, &a, 33), -EINVAL);
	assert_int_equal(lpm_count(t), 0);
	lpm_free(t);
}

/* Random prefixes cross-checked against a linear search. */

struct ref {
	struct qaddr a;
	unsigned plen;
	uint32_t value;
	bool live;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so that a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Addresses from a narrow space so that prefixes nest and collide often. */
static void rnd_addr(struct qaddr *a)
{
	uint8_t b[16];

	for (unsigned i = 0; i < 16; i++)
		b[i] = (uint8_t)rnd();
	b[0] &= 0x0f;
	b[1] &= 0x03;
	if (rnd() % 2)
		addr_set_v4(a, b);
	else
		addr_set_v6(a, b);
}

static unsigned rnd_plen(const struct qaddr *a)
{
	unsigned bits = addr_bits(a);

	switch (rnd() % 4) {
	case 0:
		return (unsigned)(rnd() % 17); /* short: nests a lot */
	case 1:
		return bits; /* host routes */
	default:
		return (unsigned)(rnd() % (bits + 1));
	}
}

static bool brute(const struct ref *r, unsigned n, const struct qaddr *a, uint32_t *value,
		  unsigned *plen)
{
	int best = -1;

	for (unsigned i = 0; i < n; i++) {
		if (!r[i].live || !addr_in_prefix(a, &r[i].a, r[i].plen))
			continue;
		if (best < 0 || r[i].plen > r[best].plen)
			best = (int)i;
	}
	if (best < 0)
		return false;
	*value = r[best].value;
	*plen = r[best].plen;
	return true;
}

static void test_random(void **state)
{
	enum { N = 3000, Q = 20000 };
	struct ref *r = calloc(N, sizeof(*r));
	struct lpm *t = lpm_new();
	unsigned n = 0, live = 0, hits = 0;

	(void)state;
	assert_non_null(r);
	rng_state = 0x9e3779b97f4a7c15ULL;
	for (unsigned k = 0; k < N; k++) {
		struct qaddr a;
		unsigned plen, j;

		rnd_addr(&a);
		plen = rnd_plen(&a);
		addr_mask(&a, plen);
		for (j = 0; j < n; j++)
			if (r[j].plen == plen && addr_eq(&r[j].a, &a))
				break;
		if (j == n) {
			r[n].a = a;
			r[n].plen = plen;
			n++;
		}
		if (!r[j].live)
			live++;
		r[j].live = true;
		r[j].value = k;
		assert_int_equal(lpm_insert(t, &a, plen, k), 0);
	}
	/* Remove about a quarter, and some twice. */
	for (unsigned j = 0; j < n; j++) {
		if (rnd() % 4)
			continue;
		assert_int_equal(lpm_remove(t, &r[j].a, r[j].plen), r[j].live ? 0 : -ENOENT);
		if (r[j].live)
			live--;
		r[j].live = false;
		assert_int_equal(lpm_remove(t, &r[j].a, r[j].plen), -ENOENT);
	}
	assert_int_equal(lpm_count(t), live);

	for (unsigned q = 0; q < Q; q++) {
		struct qaddr a;
		uint32_t v1 = 0, v2 = 0;
		unsigned p1 = 0, p2 = 0;
		bool h1, h2;

		if (q % 2) {
			rnd_addr(&a);
		} else {
			/* Inside a stored prefix, random below it. */
			const struct ref *p = &r[rnd() % n];
			struct qaddr x;

			rnd_addr(&x);
			a = p->a;
			for (unsigned i = p->plen; i < addr_bits(&a); i++)
				if (a.family == x.family ? addr_bit(&x, i) : rnd() % 2)
					a.b[i / 8] |= (uint8_t)(0x80u >> (i % 8));
		}
		h1 = lpm_lookup(t, &a, &v1, &p1);
		h2 = brute(r, n, &a, &v2, &p2);
		assert_int_equal(h1, h2);
		if (h1) {
			assert_int_equal(v1, v2);
			assert_int_equal(p1, p2);
			hits++;
		}
	}
	assert_true(hits > Q / 4); /* the test must actually exercise hits */
	lpm_free(t);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),	    cmocka_unit_test(test_overlapping),
		cmocka_unit_test(test_replace),	    cmocka_unit_test(test_default_route),
		cmocka_unit_test(test_host_routes), cmocka_unit_test(test_family_isolation),
		cmocka_unit_test(test_remove),	    cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
