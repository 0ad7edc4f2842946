/* Unit tests of the host registry: machines and addresses' records, the
 * address index (one holder per address), and making room when it is
 * full (spare records go, blocked ones and those in certification never). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hostdb.h"

static const struct siphash_key key = {5, 6};

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse_any(s, &a), 0);
	return a;
}

/* A machine's record holds its addresses; an address is held once. */
static void
test_machine_and_index(void **state)
{
	struct hostdb db;
	struct hostrec *m, *n, *ip;
	struct qaddr mac = A("02:00:00:00:00:0a"), mac2 = A("02:00:00:00:00:0b");
	struct qaddr a = A("10.66.1.10"), b = A("fd66::10"), c = A("10.66.1.11");

	(void)state;
	assert_int_equal(hostdb_init(&db, 1024, &key), 0);
	m = hostdb_get(&db, &mac);
	assert_non_null(m);
	assert_true(hostrec_is_machine(m));
	assert_int_equal(m->addr.family, 0); /* no address yet */
	assert_int_equal(hostdb_addr_add(&db, m, &a), 0);
	assert_int_equal(hostdb_addr_add(&db, m, &b), 0);
	assert_int_equal(hostdb_addr_add(&db, m, &a), 0); /* already its own */
	assert_ptr_equal(hostdb_find_addr(&db, &a), m);
	assert_ptr_equal(hostdb_find_addr(&db, &b), m);
	assert_null(hostdb_find(&db, &a)); /* no record of its own */

	/* Another machine cannot hold it too. */
	n = hostdb_get(&db, &mac2);
	assert_int_equal(hostdb_addr_add(&db, n, &a), -EEXIST);
	assert_int_equal(n->naddrs, 0);

	/* An address's own record holds its address unless a machine does. */
	ip = hostdb_get(&db, &c);
	assert_int_equal(ip->naddrs, 1);
	assert_ptr_equal(hostdb_find_addr(&db, &c), ip);
	ip = hostdb_get(&db, &a);
	assert_int_equal(ip->naddrs, 0);
	assert_ptr_equal(hostdb_find_addr(&db, &a), m);

	/* Let go: another may take it. */
	hostdb_addr_del(&db, m, (unsigned)hostrec_addr_index(m, &a));
	assert_int_equal(hostdb_addr_add(&db, n, &a), 0);
	assert_ptr_equal(hostdb_find_addr(&db, &a), n);
	/* Removing a record frees what it held. */
	hostdb_remove(&db, n);
	assert_null(hostdb_find_addr(&db, &mac2));
	assert_int_equal(hostdb_addr_add(&db, m, &a), 0);
	hostdb_fini(&db);
}

static unsigned count(const struct hostdb *db)
{
	unsigned n = 0;

	for (const struct hostrec *r = hostdb_first(db); r; r = hostdb_next(db, r))
		n++;
	return n;
}

/* A full registry makes room from the records with nothing in force, the
 * one flagged longest ago first; never from blocked ones or those in
 * certification, nor from one queued for the next commit. */
static void test_full_registry(void **state)
{
	struct hostdb db;
	struct hostrec *r[8], *x;
	char s[32];

	(void)state;
	assert_int_equal(hostdb_init(&db, 8, &key), 0);
	for (unsigned i = 0; i < 8; i++) {
		struct qaddr a;

		snprintf(s, sizeof(s), "10.66.1.%u", i + 1);
		a = A(s);
		r[i] = hostdb_get(&db, &a);
		assert_non_null(r[i]);
		hostdb_settle(&db, r[i]);
	}
	r[0]->level = LEVEL_ISOLATE; /* blocked after it was settled */
	r[1]->state = HOST_CLEANING;
	r[2]->busy = 1;
	x = hostdb_get(&db, &(struct qaddr){.family = AF_INET, .b = {10, 66, 2, 1}});
	assert_non_null(x);
	assert_int_equal(db.evicted, 1);
	/* r[3] went: the first spare one. */
	assert_null(hostdb_find(&db, &(struct qaddr){.family = AF_INET, .b = {10, 66, 1, 4}}));
	assert_non_null(hostdb_find(&db, &r[0]->id));
	assert_non_null(hostdb_find(&db, &r[1]->id));
	assert_non_null(hostdb_find(&db, &r[2]->id));
	assert_int_equal(count(&db), 8);

	/* Every record kept: no room, nothing lost. */
	for (const struct hostrec *p = hostdb_first(&db); p; p = hostdb_next(&db, p))
		((struct hostrec *)p)->level = LEVEL_CONTAIN;
	assert_null(hostdb_get(&db, &(struct qaddr){.family = AF_INET, .b = {10, 66, 2, 2}}));
	assert_int_equal(count(&db), 8);
	hostdb_fini(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_machine_and_index),
		cmocka_unit_test(test_full_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
