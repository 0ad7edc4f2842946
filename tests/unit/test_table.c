/* Unit tests of the bounded hash table and SipHash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "siphash.h"
#include "table.h"

struct ent {
	struct tab_hdr h;
	uint32_t key;
	uint32_t value;
};

static const struct siphash_key key = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

static void test_siphash_vectors(void **state)
{
	uint8_t msg[64];

	(void)state;
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	/* From the SipHash paper, appendix A, and the reference vectors. */
	assert_true(siphash24(&key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(siphash24(&key, msg, 1) == 0x74f839c593dc67fdULL);
	assert_true(siphash24(&key, msg, 15) == 0xa129ca6149be45e5ULL);
}

/* SipHash-1-3 against Python's: with PYTHONHASHSEED=0 its key is zero and
 * hash(bytes(range(n))) is SipHash-1-3 of those bytes (3.11 and later;
 * n = 0 is special-cased to 0 there):
 *   PYTHONHASHSEED=0 python3 -c 'print(hex(hash(bytes(range(38))) % 2**64))' */
static void test_siphash13_vectors(void **state)
{
	static const struct siphash_key zero = {0, 0};
	uint8_t msg[64];

	(void)state;
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	assert_true(siphash13(&zero, msg, 1) == 0x68a914128e01e473ULL);
	assert_true(siphash13(&zero, msg, 7) == 0x2f098ab0c751325aULL);
	assert_true(siphash13(&zero, msg, 8) == 0xead411e67ebe2eeaULL);
	assert_true(siphash13(&zero, msg, 15) == 0xf30eb725bb91c9eaULL);
	assert_true(siphash13(&zero, msg, 38) == 0xc680ae8a8c584ddfULL);
	assert_true(siphash13(&zero, msg, 63) == 0x385d3e39e5f37359ULL);
	/* Keyed: another key, another value. */
	assert_true(siphash13(&key, msg, 38) != siphash13(&zero, msg, 38));
}

static void test_insert_find_remove(void **state)
{
	struct table t;
	uint32_t k;

	(void)state;
	assert_int_equal(table_init(&t, 100, sizeof(struct ent), sizeof(uint32_t), &key), 0);
	for (k = 0; k < 100; k++) {
		struct ent *e = table_insert(&t, &k);
		assert_non_null(e);
		e->value = k * 3;
	}
	assert_true(table_full(&t));
	k = 1000;
	assert_null(table_insert(&t, &k));
	for (k = 0; k < 100; k++) {
		struct ent *e = table_find(&t, &k);
		assert_non_null(e);
		assert_int_equal(e->value, k * 3);
	}
	for (k = 0; k < 100; k += 2)
		table_remove(&t, table_find(&t, &k));
	assert_int_equal(t.used, 50);
	for (k = 0; k < 100; k++) {
		if (k % 2)
			assert_non_null(table_find(&t, &k));
		else
			assert_null(table_find(&t, &k));
	}
	/* Freed slots are reused. */
	for (k = 200; k < 250; k++)
		assert_non_null(table_insert(&t, &k));
	assert_true(table_full(&t));
	table_fini(&t);
}

/* The head of list l, which the test expects to be there (cmocka's
 * failures return, so an abort() tells the compiler too). */
static struct ent *head(const struct table *t, unsigned l)
{
	struct ent *e = table_list_head(t, l);

	if (!e) {
		print_error("list %u is empty\n", l);
		abort();
	}
	return e;
}

static void test_lists_lru(void **state)
{
	struct table t;
	struct ent *e;
	uint32_t k;

	(void)state;
	assert_int_equal(table_init(&t, 8, sizeof(struct ent), sizeof(uint32_t), &key), 0);
	for (k = 0; k < 8; k++)
		table_list_append(&t, 0, table_insert(&t, &k));
	/* Touch 0 and 1: the oldest is now 2. */
	k = 0;
	table_list_touch(&t, 0, table_find(&t, &k));
	k = 1;
	table_list_touch(&t, 0, table_find(&t, &k));
	e = head(&t, 0);
	assert_int_equal(e->key, 2);
	/* Move 2 to the other list; 3 becomes the head of list 0. */
	table_list_append(&t, 1, e);
	assert_int_equal(head(&t, 0)->key, 3);
	assert_int_equal(head(&t, 1)->key, 2);
	assert_int_equal(t.count[0], 7);
	assert_int_equal(t.count[1], 1);
	/* Removing unlinks. */
	table_remove(&t, table_list_head(&t, 1));
	assert_null(table_list_head(&t, 1));
	/* Drain list 0 in LRU order: 3..7, 0, 1. */
	static const uint32_t order[] = {3, 4, 5, 6, 7, 0, 1};
	for (unsigned i = 0; i < 7; i++) {
		e = head(&t, 0);
		assert_int_equal(e->key, order[i]);
		table_remove(&t, e);
	}
	assert_int_equal(t.used, 0);
	table_fini(&t);
}

/* head_moved: set when a list gets a new head, and only then. */
static void test_head_moved(void **state)
{
	struct table t;
	struct ent *e[4];
	uint32_t k;

	(void)state;
	assert_int_equal(table_init(&t, 8, sizeof(struct ent), sizeof(uint32_t), &key), 0);
	for (k = 0; k < 4; k++)
		e[k] = table_insert(&t, &k);
	assert_false(t.head_moved); /* on no list yet */
	table_list_append(&t, 0, e[0]);
	assert_true(t.head_moved); /* the first of list 0 */
	t.head_moved = false;
	table_list_append(&t, 0, e[1]);
	table_list_append(&t, 0, e[2]);
	table_list_touch(&t, 0, e[2]); /* the tail already */
	assert_false(t.head_moved);
	table_list_touch(&t, 0, e[1]); /* from the middle to the tail */
	table_remove(&t, e[1]);
	assert_false(t.head_moved);
	table_list_append(&t, 1, e[3]);
	assert_true(t.head_moved); /* the first of list 1 */
	t.head_moved = false;
	table_list_touch(&t, 0, e[0]); /* the head to the tail */
	assert_true(t.head_moved);
	assert_int_equal(head(&t, 0)->key, 2);
	t.head_moved = false;
	table_remove(&t, e[2]); /* the head removed */
	assert_true(t.head_moved);
	table_fini(&t);
}

/* A hint names the bucket whose chain holds its key: the entry that the
 * second step fetches is the one table_find() reads first.  Hints for
 * empty buckets and keys not present are harmless. */
static void test_hints(void **state)
{
	struct table t;
	struct tab_hint h;
	uint32_t k;

	(void)state;
	assert_int_equal(table_init(&t, 1000, sizeof(struct ent), sizeof(uint32_t), &key), 0);
	for (k = 0; k < 1000; k += 2) {
		table_hint(&t, &k, &h);
		table_prefetch_bucket(&h);
		table_prefetch_entry(&h); /* the bucket may be empty */
		table_prefetch_links(&h);
		assert_non_null(table_insert(&t, &k));
	}
	for (k = 0; k < 1000; k++) {
		struct ent *e = table_find(&t, &k);
		bool chained = false;

		table_hint(&t, &k, &h);
		assert_true(h.b <= t.mask);
		table_prefetch_bucket(&h);
		table_prefetch_entry(&h);
		table_prefetch_links(&h);
		for (uint32_t i = t.buckets[h.b]; i != TAB_NONE;
		     i = ((struct tab_hdr *)table_at(&t, i))->hnext)
			chained |= table_at(&t, i) == (void *)e;
		assert_true(k % 2 ? e == NULL : e != NULL && chained);
	}
	table_fini(&t);
}

/* While a hint is expected, the table answers for every key as without
 * it: the hinted key through the hint's bucket, any other by its hash;
 * an insertion and a removal of the hinted key land in the same chain
 * as without. */
static void test_expect(void **state)
{
	struct table t;
	struct tab_hint h;
	struct ent *e;
	uint32_t k, other;

	(void)state;
	assert_int_equal(table_init(&t, 256, sizeof(struct ent), sizeof(uint32_t), &key), 0);
	for (k = 0; k < 200; k += 2)
		assert_non_null(table_insert(&t, &k));
	for (k = 0; k < 256; k++) {
		table_hint(&t, &k, &h);
		table_expect(&t, &h);
		e = table_find(&t, &k);
		assert_true(k % 2 || k >= 200 ? e == NULL : e != NULL && e->key == k);
		other = k ^ 2;
		e = table_find(&t, &other);
		assert_true(other % 2 || other >= 200 ? e == NULL : e != NULL && e->key == other);
		if (k % 2 == 1 && k < 200) {
			/* Inserted and removed while expected, found after. */
			assert_non_null(table_insert(&t, &k));
			table_expect(&t, NULL);
			assert_non_null(table_find(&t, &k));
			table_expect(&t, &h);
			table_remove(&t, table_find(&t, &k));
			table_expect(&t, NULL);
			assert_null(table_find(&t, &k));
		}
		table_expect(&t, NULL);
	}
	/* A forged hint, another key's, is not taken for this one. */
	k = 4;
	other = 6;
	table_hint(&t, &other, &h);
	table_expect(&t, &h);
	e = table_find(&t, &k);
	assert_true(e != NULL && e->key == 4);
	table_expect(&t, NULL);
	assert_int_equal(t.used, 100);
	table_fini(&t);
}

/* Entries come out zeroed but for their key, whether never used (the
 * slab as allocated, made resident ahead a step at a time) or freed and
 * reused; a table of several steps' worth fills to its cap. */
struct big {
	struct tab_hdr h;
	uint32_t key;
	uint8_t body[700];
};

static void fill_drain_refill(uint32_t cap)
{
	static const uint8_t zero[700];
	struct table t;
	struct big *e;
	uint32_t k;

	assert_int_equal(table_init(&t, cap, sizeof(struct big), sizeof(uint32_t), &key), 0);
	for (k = 0; k < cap; k++) {
		e = table_insert(&t, &k);
		assert_non_null(e);
		assert_int_equal(e->key, k);
		assert_int_equal(e->h.list, TAB_NOLIST);
		assert_memory_equal(e->body, zero, sizeof(zero));
		memset(e->body, 0xa5, sizeof(e->body));
	}
	assert_true(table_full(&t));
	k = cap;
	assert_null(table_insert(&t, &k));
	for (k = 0; k < cap; k += 3)
		table_remove(&t, table_find(&t, &k));
	for (k = cap; k < cap + cap / 3; k++) {
		e = table_insert(&t, &k);
		assert_non_null(e);
		assert_memory_equal(e->body, zero, sizeof(zero));
	}
	for (k = 0; k < cap + cap / 3; k++) {
		e = table_find(&t, &k);
		if (k < cap && k % 3 == 0)
			assert_null(e);
		else
			assert_true(e != NULL && e->key == k);
	}
	table_fini(&t);
}

static void test_fresh_entries_zero(void **state)
{
	(void)state;
	fill_drain_refill(5000); /* 3.5 MB: more than ten steps, 4 KiB pages */
}

/* Keys of every length up to a probe's that differ in one byte only,
 * at each position: each is found as itself and no other. */
static void test_key_bytes(void **state)
{
	static const size_t lens[] = {1, 7, 8, 9, 17, 34, 38};

	(void)state;
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		size_t len = lens[l];
		struct table t;
		struct tab_hint h;
		uint8_t k[40];

		assert_int_equal(
			table_init(&t, 2 * 40 + 1, sizeof(struct tab_hdr) + len, len, &key), 0);
		memset(k, 0x5a, sizeof(k));
		assert_non_null(table_insert(&t, k));
		/* Expected (the same comparison picks the hint's bucket),
		 * then not: a near miss is found neither way. */
		table_hint(&t, k, &h);
		table_expect(&t, &h);
		for (size_t i = 0; i < len; i++) {
			k[i] ^= 0x01;
			assert_null(table_find(&t, k));
			k[i] ^= 0x01;
		}
		assert_non_null(table_find(&t, k));
		table_expect(&t, NULL);
		for (size_t i = 0; i < len; i++) {
			k[i] ^= 0x01;
			assert_null(table_find(&t, k));
			assert_non_null(table_insert(&t, k));
			k[i] ^= 0x81;
			assert_null(table_find(&t, k));
			assert_non_null(table_insert(&t, k));
			k[i] ^= 0x80;
		}
		for (size_t i = 0; i < len; i++) {
			uint8_t *e;

			k[i] ^= 0x01;
			e = table_find(&t, k);
			assert_non_null(e);
			assert_memory_equal(table_key(e), k, len);
			k[i] ^= 0x01;
		}
		assert_memory_equal(table_key(table_find(&t, k)), k, len);
		assert_int_equal(t.used, 2 * len + 1);
		table_fini(&t);
	}
}

/* Random insertions and removals in a small table (chains of several
 * entries: removals from their heads, middles and ends), against a
 * model of which keys are in. */
static void test_random_ops(void **state)
{
	enum { CAP = 16, KEYS = 40 };
	struct table t;
	bool in[KEYS] = {false};
	uint32_t used = 0, x = 12345;

	(void)state;
	assert_int_equal(table_init(&t, CAP, sizeof(struct ent), sizeof(uint32_t), &key), 0);
	for (int n = 0; n < 200000; n++) {
		uint32_t k;
		struct ent *e;

		x = x * 1103515245u + 12345u;
		k = (x >> 16) % KEYS;
		e = table_find(&t, &k);
		assert_true(in[k] ? e != NULL && e->key == k : e == NULL);
		if (in[k]) {
			table_remove(&t, e);
			in[k] = false;
			used--;
		} else if (used < CAP) {
			assert_non_null(table_insert(&t, &k));
			in[k] = true;
			used++;
		}
		assert_int_equal(t.used, used);
	}
	for (uint32_t k = 0; k < KEYS; k++)
		assert_true(in[k] == (table_find(&t, &k) != NULL));
	table_fini(&t);
}

/* The VmFlags line of the mapping of /proc/self/smaps that holds p. */
static bool vm_flags(const void *p, char *ret, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false, found = false;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(ret, len, "%s", line + 8);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

/* A large table lies in a mapping of its own, aligned to 2 MiB and
 * offered to transparent huge pages where the kernel has them ("hg" in
 * its VmFlags: MADV_HUGEPAGE), the buckets at its start; a small one is
 * allocated as before.  Both hand out zeroed entries and fill to their
 * cap. */
static void test_huge_tables(void **state)
{
	struct table t;
	char flags[512];
	bool thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;

	(void)state;
	assert_int_equal(table_init(&t, 20000, sizeof(struct big), sizeof(uint32_t), &key), 0);
	assert_int_equal((uintptr_t)t.mem % (2u << 20), 0);
	assert_ptr_equal(t.buckets, t.mem);
	assert_true(t.slab >= t.mem + (size_t)(t.mask + 1) * sizeof(uint32_t));
	assert_true(t.mapped >= (size_t)(t.slab - t.mem) + (size_t)t.cap * t.esize);
	assert_true(vm_flags(t.slab + (size_t)(t.cap - 1) * t.esize, flags, sizeof(flags)));
	if (thp)
		assert_non_null(strstr(flags, " hg"));
	table_fini(&t);

	assert_int_equal(table_init(&t, 100, sizeof(struct big), sizeof(uint32_t), &key), 0);
	assert_int_equal(t.mapped, 0);
	table_fini(&t);

	fill_drain_refill(20000); /* 14 MB, huge pages */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),	   cmocka_unit_test(test_siphash13_vectors),
		cmocka_unit_test(test_insert_find_remove), cmocka_unit_test(test_lists_lru),
		cmocka_unit_test(test_head_moved),	   cmocka_unit_test(test_hints),
		cmocka_unit_test(test_fresh_entries_zero), cmocka_unit_test(test_expect),
		cmocka_unit_test(test_huge_tables),	   cmocka_unit_test(test_key_bytes),
		cmocka_unit_test(test_random_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
