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
#include <netinet/in.h>

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

struct evictions {
	unsigned n;
	struct qaddr last;
	unsigned last_nhist;
};

static void on_evict(void *arg, const struct hostrec *r)
{
	struct evictions *v = arg;

	v->n++;
	v->last = r->id;
	v->last_nhist = r->nhist;
}

static struct qaddr nth(unsigned i)
{
	return (struct qaddr){.family = AF_INET, .b = {10, 67, (uint8_t)(i >> 8), (uint8_t)i}};
}

/* Records blocked and later released (or watched, or cleaned) make room
 * again, however many blocked records sit before them: least recently
 * useful first, their history handed to on_remove first.  A blocked record
 * is never evicted: a registry full of them refuses, and loses nothing. */
static void test_released_records_make_room(void **state)
{
	struct hostdb db;
	struct evictions ev = {0};
	struct hostrec *r;
	struct qaddr a;

	(void)state;
	assert_int_equal(hostdb_init(&db, 100, &key), 0);
	db.on_remove = on_evict;
	db.remove_arg = &ev;
	for (unsigned i = 0; i < 100; i++) {
		a = nth(i);
		r = hostdb_get(&db, &a);
		assert_non_null(r);
		r->level = LEVEL_ISOLATE;
		r->state = HOST_ISOLATED;
		hostdb_settle(&db, r);
	}
	/* More blocked records (70) before the released ones than one
	 * eviction looks at without hostdb_changed(). */
	for (unsigned i = 70; i < 100; i++) {
		a = nth(i);
		r = hostdb_find(&db, &a);
		r->level = i % 3 ? LEVEL_NONE : LEVEL_WATCH;
		r->state = i % 3 == 1 ? HOST_RELEASED : i % 3 == 2 ? HOST_CLEANED : HOST_WATCHED;
		if (i == 70)
			assert_int_equal(hostdb_history(r, 1, HIST_RELEASE, LEVEL_NONE, -1, "x"),
					 0);
		hostdb_changed(&db, r);
		hostdb_changed(&db, r); /* once is enough */
	}
	a = nth(5);
	r = hostdb_find(&db, &a);
	r->level = LEVEL_NONE;
	r->state = HOST_RELEASED;
	hostdb_changed(&db, r); /* released last: evicted last */

	for (unsigned i = 0; i < 31; i++) {
		a = nth(1000 + i);
		assert_non_null(hostdb_get(&db, &a));
		if (i == 0) {
			assert_true(addr_eq(&ev.last, &(struct qaddr){.family = AF_INET,
								      .b = {10, 67, 0, 70}}));
			assert_int_equal(ev.last_nhist, 1);
		}
	}
	assert_int_equal(ev.n, 31);
	assert_int_equal(db.evicted, 31);
	a = nth(5);
	assert_null(hostdb_find(&db, &a));
	for (unsigned i = 0; i < 100; i++) {
		a = nth(i);
		if (i == 5 || i >= 70)
			assert_null(hostdb_find(&db, &a));
		else
			assert_non_null(hostdb_find(&db, &a));
	}
	assert_int_equal(hostdb_count(&db), 100);

	/* The new records hold nothing either: the oldest of them goes. */
	a = nth(2000);
	assert_non_null(hostdb_get(&db, &a));
	a = nth(1000);
	assert_null(hostdb_find(&db, &a));

	/* Every record blocked: no room, nothing evicted, nothing lost. */
	for (r = hostdb_first(&db); r; r = hostdb_next(&db, r)) {
		r->level = LEVEL_CONTAIN;
		r->nk = 1;
		hostdb_changed(&db, r);
	}
	a = nth(3000);
	assert_null(hostdb_get(&db, &a));
	assert_int_equal(ev.n, 32);
	assert_int_equal(hostdb_count(&db), 100);
	hostdb_fini(&db);
}

/* More changes queued than there are records (slots reused while
 * queued): every record still ends on its list. */
static void test_changed_overflow(void **state)
{
	struct hostdb db;
	struct hostrec *r[4];
	struct qaddr a;

	(void)state;
	assert_int_equal(hostdb_init(&db, 4, &key), 0);
	for (unsigned i = 0; i < 4; i++) {
		a = nth(i);
		r[i] = hostdb_get(&db, &a);
		r[i]->level = LEVEL_ISOLATE;
		hostdb_settle(&db, r[i]);
		hostdb_changed(&db, r[i]);
	}
	/* Two queued records go; their slots are reused and queued again. */
	hostdb_remove(&db, r[0]);
	hostdb_remove(&db, r[1]);
	for (unsigned i = 0; i < 2; i++) {
		a = nth(10 + i);
		r[i] = hostdb_get(&db, &a);
		r[i]->level = LEVEL_ISOLATE;
		hostdb_changed(&db, r[i]);
	}
	assert_true(db.pend_overflow);
	/* r[3] released: the only one that may go. */
	r[3]->level = LEVEL_NONE;
	a = nth(20);
	assert_non_null(hostdb_get(&db, &a));
	assert_false(db.pend_overflow);
	a = nth(3);
	assert_null(hostdb_find(&db, &a));
	assert_int_equal(db.evicted, 1);
	for (unsigned i = 0; i < 3; i++)
		assert_non_null(hostdb_find(&db, &r[i]->id));
	hostdb_fini(&db);
}

/* Merging the ports a containment asks for: the same port towards
 * everyone subsumes it towards one destination; two destinations of a
 * port are two entries; HOST_MAX_PORTS bounds them all. */
/* hostdb_seek(): slot order, free slots skipped, a bounded number looked
 * at per call (NULL before the end then, and not done), a record moved to
 * the other list in the middle of a walk met once, one removed before its
 * turn not met, one added in a freed slot already passed not met. */
static void test_seek(void **state)
{
	struct hostdb db;
	struct hostrec *r[10], *x;
	unsigned met[12] = {0}, calls = 0;
	uint32_t pos = 0;

	(void)state;
	assert_int_equal(hostdb_init(&db, 16, &key), 0);
	for (unsigned i = 0; i < 10; i++) {
		struct qaddr a = nth(i);

		r[i] = hostdb_get(&db, &a);
		assert_non_null(r[i]);
	}
	hostdb_remove(&db, r[2]); /* a free slot from the start */
	for (;;) {
		x = hostdb_seek(&db, &pos, 2);
		calls++;
		if (!x) {
			if (hostdb_seek_done(&db, pos))
				break;
			continue;
		}
		for (unsigned i = 0; i < 12; i++) {
			struct qaddr a = nth(i);

			if (addr_eq(&x->id, &a))
				met[i]++;
		}
		if (x == r[4]) {
			struct qaddr a = nth(10);

			/* Moved to the other list, added in a slot already
			 * passed (slot 2, the one freed), removed before its
			 * turn. */
			table_list_touch(&db.t, 1, r[5]);
			assert_ptr_equal(hostdb_get(&db, &a), table_at(&db.t, 2));
			hostdb_remove(&db, r[7]);
		}
	}
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(met[i], i == 2 || i == 7 ? 0 : 1);
	assert_int_equal(met[10], 0);
	/* Two slots a call at most: more calls than records. */
	assert_true(calls > 8);
	hostdb_fini(&db);
}

static void test_want_port_merge(void **state)
{
	static struct hostrec r;
	struct qaddr b = A("10.1.2.3"), c = A("10.1.2.4");

	(void)state;
	hostdb_want_port(&r, IPPROTO_TCP, 22, &b);
	hostdb_want_port(&r, IPPROTO_TCP, 22, &b); /* again: nothing new */
	hostdb_want_port(&r, IPPROTO_TCP, 22, &c);
	hostdb_want_port(&r, IPPROTO_TCP, 80, NULL);
	hostdb_want_port(&r, IPPROTO_UDP, 22, NULL); /* another protocol */
	assert_int_equal(r.nwant, 4);
	assert_true(addr_eq(hostrec_port_to(&r, &r.want[0]), &b));
	assert_true(addr_eq(hostrec_port_to(&r, &r.want[1]), &c));
	assert_null(hostrec_port_to(&r, &r.want[2]));
	/* Towards everyone: tcp/22 towards b and c are part of it. */
	hostdb_want_port(&r, IPPROTO_TCP, 22, NULL);
	assert_int_equal(r.nwant, 3);
	assert_int_equal(r.want[0].port, 80);
	assert_int_equal(r.want[1].proto, IPPROTO_UDP);
	assert_int_equal(r.want[2].port, 22);
	assert_null(hostrec_port_to(&r, &r.want[2]));
	/* ... and a destination asked for later adds nothing. */
	hostdb_want_port(&r, IPPROTO_TCP, 22, &b);
	assert_int_equal(r.nwant, 3);
	hostdb_want_port(&r, IPPROTO_TCP, 80, &c);
	assert_int_equal(r.nwant, 3);
	/* A family-0 destination is everyone (no stray bytes compared). */
	struct qaddr none;
	memset(&none, 0, sizeof(none));
	hostdb_want_port(&r, IPPROTO_TCP, 80, &none);
	assert_int_equal(r.nwant, 3);
	assert_false(r.want_overflow);
	/* A table of HOST_MAX_DESTS destinations: b and c's slots are free
	 * again (no port names them), and past the table, overflow. */
	struct qaddr d[HOST_MAX_DESTS + 1];
	for (unsigned i = 0; i <= HOST_MAX_DESTS; i++) {
		d[i] = b;
		d[i].b[3] = (uint8_t)(100 + i);
	}
	for (unsigned i = 0; i < HOST_MAX_DESTS; i++)
		hostdb_want_port(&r, IPPROTO_TCP, 3389, &d[i]);
	assert_int_equal(r.nwant, 3 + HOST_MAX_DESTS);
	assert_false(r.want_overflow);
	for (unsigned i = 0; i < HOST_MAX_DESTS; i++)
		assert_true(addr_eq(hostrec_port_to(&r, &r.want[3 + i]), &d[i]));
	/* Known destinations take no new slot. */
	hostdb_want_port(&r, IPPROTO_UDP, 3389, &d[0]);
	assert_false(r.want_overflow);
	hostdb_want_port(&r, IPPROTO_TCP, 3389, &d[HOST_MAX_DESTS]);
	assert_true(r.want_overflow);
	assert_int_equal(r.nwant, 4 + HOST_MAX_DESTS);
	/* A slot the kernel's view still names is not reused. */
	static struct hostrec k;
	hostdb_want_port(&k, IPPROTO_TCP, 22, &b);
	k.k[0] = k.want[0];
	k.nk = 1;
	k.nwant = 0;
	for (unsigned i = 0; i < HOST_MAX_DESTS - 1; i++)
		hostdb_want_port(&k, IPPROTO_TCP, 22, &d[i]);
	assert_false(k.want_overflow);
	hostdb_want_port(&k, IPPROTO_TCP, 22, &c);
	assert_true(k.want_overflow);
	assert_true(addr_eq(hostrec_port_to(&k, &k.k[0]), &b));
	/* Every destination is an entry: past HOST_MAX_PORTS, overflow. */
	static struct hostrec p;
	for (unsigned i = 0; p.nwant < HOST_MAX_PORTS; i++)
		hostdb_want_port(&p, IPPROTO_TCP, (uint16_t)(1000 + i), i % 2 ? &b : NULL);
	assert_false(p.want_overflow);
	hostdb_want_port(&p, IPPROTO_TCP, 3389, &c);
	assert_true(p.want_overflow);
	assert_int_equal(p.nwant, HOST_MAX_PORTS);
}

/* A host's history takes room as it grows: a block of two lines first
 * (what most hosts ever have, an operator's list gives each host one),
 * then twice as many, up to HOST_MAX_HIST; past that the first
 * HOST_HIST_KEEP lines stay and the oldest of the others go.  No line
 * is lost or changed by a growth. */
static void test_history_grows(void **state)
{
	static struct hostrec r;
	char t[16];

	(void)state;
	r.by_uid = -1;
	assert_int_equal(hostdb_history(&r, 1, HIST_ACTION, LEVEL_ISOLATE, -1, "l0"), 0);
	assert_int_equal(r.nhist, 1);
	assert_int_equal(r.hist_cap, 2);
	assert_int_equal(hostdb_history(&r, 2, HIST_ACTION, LEVEL_ISOLATE, -1, "l1"), 0);
	assert_int_equal(r.hist_cap, 2);
	for (unsigned i = 2; i < HOST_MAX_HIST; i++) {
		snprintf(t, sizeof(t), "l%u", i);
		assert_int_equal(hostdb_history(&r, i + 1, HIST_MARK, LEVEL_NONE, 1000, t), 0);
		/* The smallest power of two that holds them. */
		unsigned cap = 2;
		while (cap < r.nhist)
			cap *= 2;
		assert_int_equal(r.hist_cap, cap);
	}
	assert_int_equal(r.nhist, HOST_MAX_HIST);
	for (unsigned i = 0; i < HOST_MAX_HIST; i++) {
		snprintf(t, sizeof(t), "l%u", i);
		assert_string_equal(r.hist[i].text, t);
		assert_true(r.hist[i].ts == i + 1);
	}
	/* Full: the first lines stay, the oldest of the rest goes. */
	assert_int_equal(hostdb_history(&r, 100, HIST_RELEASE, LEVEL_NONE, -1, "new"), 0);
	assert_int_equal(r.nhist, HOST_MAX_HIST);
	assert_int_equal(r.hist_cap, HOST_MAX_HIST);
	assert_string_equal(r.hist[HOST_HIST_KEEP - 1].text, "l3");
	snprintf(t, sizeof(t), "l%u", HOST_HIST_KEEP + 1);
	assert_string_equal(r.hist[HOST_HIST_KEEP].text, t);
	assert_string_equal(r.hist[HOST_MAX_HIST - 1].text, "new");
	for (unsigned i = 0; i < r.nhist; i++)
		hist_fini(&r.hist[i]);
	free(r.hist);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_machine_and_index),
		cmocka_unit_test(test_full_registry),
		cmocka_unit_test(test_released_records_make_room),
		cmocka_unit_test(test_changed_overflow),
		cmocka_unit_test(test_want_port_merge),
		cmocka_unit_test(test_seek),
		cmocka_unit_test(test_history_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
