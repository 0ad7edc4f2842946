/* Unit tests of enforcement against a recording back end that behaves like
 * the kernel 6.1 transaction semantics: all or nothing, and a delete of a
 * missing element fails the whole transaction with ENOENT. */
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

#include "enforce.h"

#define MAXE 600

struct fake_elem {
	enum nft_set set;
	struct qaddr addr, dst;
	uint8_t proto;
	uint16_t port;
	uint64_t timeout_ms;
};

struct fake {
	struct fake_elem e[MAXE];
	unsigned n;
	unsigned commits;
	unsigned max_nelems; /* the most elements one message carried */
	unsigned nops_last;  /* messages in the last transaction */
	int fail_with;	     /* transport error to return once */
	struct qaddr refuse; /* adds for this address fail with EINVAL */
	bool refusing;
};

static int find(const struct fake *f, enum nft_set s, const struct nft_elem *el)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->e[i].set == s && addr_eq(&f->e[i].addr, &el->addr) &&
		    addr_eq(&f->e[i].dst, &el->dst) && f->e[i].proto == el->l4proto &&
		    f->e[i].port == el->port)
			return (int)i;
	return -1;
}

static int fake_commit(void *arg, struct nft_op *ops, unsigned nops)
{
	struct fake *f = arg;
	bool bad = false;

	f->commits++;
	f->nops_last = nops;
	for (unsigned i = 0; i < nops; i++)
		if (ops[i].nelems > f->max_nelems)
			f->max_nelems = ops[i].nelems;
	if (f->fail_with) {
		int r = f->fail_with;
		f->fail_with = 0;
		return r;
	}
	for (unsigned i = 0; i < nops; i++) {
		ops[i].error = 0;
		for (unsigned j = 0; j < ops[i].nelems; j++) {
			if (ops[i].del && find(f, ops[i].set, &ops[i].elems[j]) < 0)
				ops[i].error = -ENOENT;
			if (!ops[i].del && f->refusing &&
			    addr_eq(&ops[i].elems[j].addr, &f->refuse))
				ops[i].error = -EINVAL;
		}
		bad |= ops[i].error != 0;
	}
	if (bad)
		return -ECANCELED;
	for (unsigned i = 0; i < nops; i++)
		for (unsigned j = 0; j < ops[i].nelems; j++) {
			const struct nft_elem *el = &ops[i].elems[j];
			int k = find(f, ops[i].set, el);
			if (ops[i].del) {
				f->e[k] = f->e[--f->n];
			} else if (k < 0) {
				assert_true(f->n < MAXE);
				f->e[f->n].set = ops[i].set;
				f->e[f->n].addr = el->addr;
				f->e[f->n].dst = el->dst;
				f->e[f->n].proto = el->l4proto;
				f->e[f->n].port = el->port;
				f->e[f->n].timeout_ms = el->timeout_ms;
				f->n++;
			}
		}
	return 0;
}

struct fix {
	struct fake f;
	struct enforcer e;
	struct hostrec r[4];
};

/* An address's record, as hostdb_get() makes it: the address is its id and
 * the one address it holds. */
static void host_init(struct hostrec *r, const char *a)
{
	addr_parse(a, &r->addr);
	r->id = r->addr;
	r->addrs[0].a = r->addr;
	r->naddrs = 1;
}

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));
	struct enforce_backend be = {.commit = fake_commit};

	assert_non_null(x);
	be.arg = &x->f;
	enforce_init(&x->e, &be);
	host_init(&x->r[0], "10.1.0.5");
	host_init(&x->r[1], "10.1.0.6");
	host_init(&x->r[2], "fd00::7");
	host_init(&x->r[3], "10.1.0.8");
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static unsigned count_set(const struct fake *f, enum nft_set s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->n; i++)
		n += f->e[i].set == s;
	return n;
}

static void test_isolate_contain_release(void **state)
{
	struct fix *x = *state;
	struct enforce_req req[3];

	memset(req, 0, sizeof(req));
	hostdb_want_port(&x->r[1], IPPROTO_TCP, 445, NULL);
	hostdb_want_port(&x->r[1], IPPROTO_TCP, 139, NULL);
	req[0].rec = &x->r[0];
	req[0].level = LEVEL_ISOLATE;
	req[0].ttl_ms = 3600000;
	req[1].rec = &x->r[1];
	req[1].level = LEVEL_CONTAIN;
	req[2].rec = &x->r[2];
	req[2].level = LEVEL_ISOLATE;
	assert_int_equal(enforce_apply(&x->e, req, 3), 0);
	/* One transaction for all three hosts. */
	assert_int_equal(x->f.commits, 1);
	assert_int_equal(count_set(&x->f, NFT_SET_ISO4), 1);
	assert_int_equal(count_set(&x->f, NFT_SET_ISO6), 1);
	assert_int_equal(count_set(&x->f, NFT_SET_CON4), 2);
	assert_int_equal(x->f.e[0].timeout_ms, 3600000);
	assert_true(x->r[0].addrs[0].kiso);
	assert_int_equal(x->r[1].nk, 2);
	assert_int_equal(x->r[1].level, LEVEL_CONTAIN);
	assert_true(req[0].changed && req[1].changed && req[2].changed);

	/* Applying the same targets again changes nothing. */
	assert_int_equal(enforce_apply(&x->e, req, 3), 0);
	assert_int_equal(x->f.commits, 1);
	assert_false(req[0].changed);

	/* Escalate the contained host: its ports go, isolation comes, in one
	 * transaction. */
	req[1].level = LEVEL_ISOLATE;
	assert_int_equal(enforce_apply(&x->e, &req[1], 1), 0);
	assert_int_equal(count_set(&x->f, NFT_SET_CON4), 0);
	assert_int_equal(count_set(&x->f, NFT_SET_ISO4), 2);
	assert_int_equal(x->r[1].nk, 0);

	/* Release everything. */
	for (unsigned i = 0; i < 3; i++)
		req[i].level = LEVEL_NONE;
	assert_int_equal(enforce_apply(&x->e, req, 3), 0);
	assert_int_equal(x->f.n, 0);
	assert_int_equal(x->r[0].level, LEVEL_NONE);
}

/* The element of set s with this key, or NULL. */
static const struct fake_elem *elem(const struct fake *f, enum nft_set s, const char *addr,
				    const char *dst, uint8_t proto, uint16_t port)
{
	struct nft_elem el;

	memset(&el, 0, sizeof(el));
	assert_int_equal(addr_parse_any(addr, &el.addr), 0);
	if (dst)
		assert_int_equal(addr_parse(dst, &el.dst), 0);
	el.l4proto = proto;
	el.port = port;
	int k = find(f, s, &el);
	return k < 0 ? NULL : &f->e[k];
}

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

/* Containment towards one destination: conh4/conh6 for an address,
 * conhm4/conhm6 for a machine, with the destination in the key; the same
 * port towards everyone takes their place. */
static void
test_contain_towards_peer(void **state)
{
	struct fix *x = *state;
	struct hostrec *m = &x->r[3];
	struct enforce_req req[3];
	struct qaddr srv = A("10.1.2.3"), srv2 = A("10.1.2.4"), srv6 = A("fd00::2:3");

	memset(req, 0, sizeof(req));
	hostdb_want_port(&x->r[1], IPPROTO_TCP, 22, &srv);
	hostdb_want_port(&x->r[1], IPPROTO_TCP, 22, &srv2);
	hostdb_want_port(&x->r[1], IPPROTO_TCP, 445, NULL);
	hostdb_want_port(&x->r[2], IPPROTO_TCP, 3389, &srv6);
	/* A machine: by MAC, the destination of either family. */
	memset(m, 0, sizeof(*m));
	assert_int_equal(addr_parse_any("02:00:00:00:00:0c", &m->id), 0);
	hostdb_want_port(m, IPPROTO_TCP, 22, &srv);
	hostdb_want_port(m, IPPROTO_TCP, 22, &srv6);
	for (unsigned i = 0; i < 3; i++) {
		req[i].rec = i == 2 ? m : &x->r[i + 1];
		req[i].level = LEVEL_CONTAIN;
		req[i].ttl_ms = 60000;
	}
	assert_int_equal(enforce_apply(&x->e, req, 3), 0);
	assert_int_equal(x->f.commits, 1);
	assert_int_equal(count_set(&x->f, NFT_SET_CONH4), 2);
	assert_int_equal(count_set(&x->f, NFT_SET_CON4), 1);
	assert_int_equal(count_set(&x->f, NFT_SET_CONH6), 1);
	assert_int_equal(count_set(&x->f, NFT_SET_CONHM4), 1);
	assert_int_equal(count_set(&x->f, NFT_SET_CONHM6), 1);
	assert_int_equal(count_set(&x->f, NFT_SET_CONM), 0);
	assert_non_null(elem(&x->f, NFT_SET_CONH4, "10.1.0.6", "10.1.2.3", IPPROTO_TCP, 22));
	assert_non_null(elem(&x->f, NFT_SET_CONH4, "10.1.0.6", "10.1.2.4", IPPROTO_TCP, 22));
	assert_non_null(elem(&x->f, NFT_SET_CON4, "10.1.0.6", NULL, IPPROTO_TCP, 445));
	assert_non_null(elem(&x->f, NFT_SET_CONH6, "fd00::7", "fd00::2:3", IPPROTO_TCP, 3389));
	assert_non_null(
		elem(&x->f, NFT_SET_CONHM4, "02:00:00:00:00:0c", "10.1.2.3", IPPROTO_TCP, 22));
	assert_non_null(
		elem(&x->f, NFT_SET_CONHM6, "02:00:00:00:00:0c", "fd00::2:3", IPPROTO_TCP, 22));
	assert_int_equal(
		elem(&x->f, NFT_SET_CONH4, "10.1.0.6", "10.1.2.3", IPPROTO_TCP, 22)->timeout_ms,
		60000);
	/* The view: the kernel's entries with their destinations. */
	assert_int_equal(x->r[1].nk, 3);
	assert_true(addr_eq(hostrec_port_to(&x->r[1], &x->r[1].k[0]), &srv));
	assert_int_equal(m->nk, 2);

	/* Unchanged targets: nothing sent. */
	assert_int_equal(enforce_apply(&x->e, req, 3), 0);
	assert_int_equal(x->f.commits, 1);

	/* tcp/22 towards everyone subsumes tcp/22 towards each server: the
	 * narrower elements go, in the same transaction as the wider one
	 * comes. */
	hostdb_want_port(&x->r[1], IPPROTO_TCP, 22, NULL);
	assert_int_equal(x->r[1].nwant, 2);
	assert_int_equal(enforce_apply(&x->e, req, 1), 0);
	assert_int_equal(x->f.commits, 2);
	assert_int_equal(count_set(&x->f, NFT_SET_CONH4), 0);
	assert_int_equal(count_set(&x->f, NFT_SET_CON4), 2);
	assert_non_null(elem(&x->f, NFT_SET_CON4, "10.1.0.6", NULL, IPPROTO_TCP, 22));

	/* Escalation: every containment element goes, isolation comes. */
	for (unsigned i = 0; i < 3; i++)
		req[i].level = LEVEL_ISOLATE;
	assert_int_equal(enforce_apply(&x->e, req, 3), 0);
	assert_int_equal(count_set(&x->f, NFT_SET_CON4), 0);
	assert_int_equal(count_set(&x->f, NFT_SET_CONH6), 0);
	assert_int_equal(count_set(&x->f, NFT_SET_CONHM4), 0);
	assert_int_equal(count_set(&x->f, NFT_SET_CONHM6), 0);
	assert_int_equal(m->nk, 0);
	/* Deescalation puts them back; release takes everything. */
	for (unsigned i = 0; i < 3; i++)
		req[i].level = LEVEL_CONTAIN;
	assert_int_equal(enforce_apply(&x->e, req, 3), 0);
	assert_int_equal(count_set(&x->f, NFT_SET_CONHM4), 1);
	assert_int_equal(count_set(&x->f, NFT_SET_CONH6), 1);
	for (unsigned i = 0; i < 3; i++)
		req[i].level = LEVEL_NONE;
	assert_int_equal(enforce_apply(&x->e, req, 3), 0);
	assert_int_equal(x->f.n, 0);
}

/* A peer element removed by hand (or expired) is dropped from the view
 * when its delete finds it gone, like any other. */
static void test_peer_element_gone(void **state)
{
	struct fix *x = *state;
	struct enforce_req req;
	struct qaddr srv = A("10.1.2.3");

	memset(&req, 0, sizeof(req));
	hostdb_want_port(&x->r[0], IPPROTO_TCP, 22, &srv);
	req.rec = &x->r[0];
	req.level = LEVEL_CONTAIN;
	assert_int_equal(enforce_apply(&x->e, &req, 1), 0);
	assert_int_equal(count_set(&x->f, NFT_SET_CONH4), 1);
	x->f.n = 0; /* gone from the kernel */
	req.level = LEVEL_NONE;
	assert_int_equal(enforce_apply(&x->e, &req, 1), 0);
	assert_int_equal(x->r[0].nk, 0);
	assert_int_equal(x->r[0].level, LEVEL_NONE);
}

static void test_expired_element_resend(void **state)
{
	struct fix *x = *state;
	struct enforce_req req[2];

	memset(req, 0, sizeof(req));
	req[0].rec = &x->r[0];
	req[0].level = LEVEL_ISOLATE;
	req[1].rec = &x->r[3];
	req[1].level = LEVEL_ISOLATE;
	assert_int_equal(enforce_apply(&x->e, req, 2), 0);
	/* The kernel expired .5 by its TTL; the view still has it. */
	x->f.e[0] = x->f.e[--x->f.n];
	req[0].level = LEVEL_NONE;
	req[1].level = LEVEL_NONE;
	unsigned before = x->f.commits;
	assert_int_equal(enforce_apply(&x->e, req, 2), 0);
	/* The two deletes share a message, refused (ENOENT) as a whole; then
	 * each alone, which names the gone element; then sent again
	 * without it. */
	assert_int_equal(x->f.commits, before + 3);
	assert_int_equal(x->e.st.resends, 2);
	assert_int_equal(x->f.n, 0);
	assert_false(x->r[0].addrs[0].kiso);
	assert_false(x->r[3].addrs[0].kiso);
	assert_int_equal(req[0].error, 0);
	assert_int_equal(req[1].error, 0);
}

static void test_one_host_refused(void **state)
{
	struct fix *x = *state;
	struct enforce_req req[2];

	memset(req, 0, sizeof(req));
	x->f.refusing = true;
	x->f.refuse = x->r[1].addr;
	req[0].rec = &x->r[0];
	req[0].level = LEVEL_ISOLATE;
	req[1].rec = &x->r[1];
	req[1].level = LEVEL_ISOLATE;
	assert_int_equal(enforce_apply(&x->e, req, 2), -ECANCELED);
	assert_int_equal(req[0].error, 0);
	assert_int_equal(req[1].error, -EINVAL);
	/* The other host went through, and the views match the kernel. */
	assert_true(x->r[0].addrs[0].kiso);
	assert_false(x->r[1].addrs[0].kiso);
	assert_int_equal(x->f.n, 1);
}

/* One host's element refused inside a message shared with others: the
 * error is that host's, the others go through, and the views match the
 * kernel. */
static void test_refused_in_shared_message(void **state)
{
	struct fix *x = *state;
	struct enforce_req req[4];

	memset(req, 0, sizeof(req));
	x->f.refusing = true;
	x->f.refuse = x->r[3].addr;
	for (unsigned i = 0; i < 4; i++) {
		req[i].rec = &x->r[i];
		req[i].level = LEVEL_ISOLATE;
		req[i].ttl_ms = 60000;
	}
	assert_int_equal(enforce_apply(&x->e, req, 4), -ECANCELED);
	/* The three IPv4 addresses went in one message first. */
	assert_int_equal(x->f.max_nelems, 3);
	/* Refused whole, then each alone (.8 refused), then the rest. */
	assert_int_equal(x->f.commits, 3);
	assert_int_equal(x->f.nops_last, 3);
	assert_int_equal(req[0].error, 0);
	assert_int_equal(req[1].error, 0);
	assert_int_equal(req[2].error, 0);
	assert_int_equal(req[3].error, -EINVAL);
	assert_true(req[0].changed && req[1].changed && req[2].changed);
	assert_false(req[3].changed);
	assert_true(x->r[0].addrs[0].kiso && x->r[1].addrs[0].kiso && x->r[2].addrs[0].kiso);
	assert_false(x->r[3].addrs[0].kiso);
	assert_int_equal(x->r[3].level, LEVEL_NONE);
	assert_int_equal(count_set(&x->f, NFT_SET_ISO4), 2);
	assert_int_equal(count_set(&x->f, NFT_SET_ISO6), 1);
	assert_int_equal(x->e.st.errors, 1);
}

/* Many hosts: at most NFT_OP_MAX_ELEMS elements a message, every host in
 * the kernel. */
static void test_packed_messages(void **state)
{
	struct fix *x = *state;
	enum { N = MAXE - 10 };
	struct hostrec *r = calloc(N, sizeof(*r));
	struct enforce_req *req = calloc(N, sizeof(*req));
	char a[32];

	assert_non_null(r);
	assert_non_null(req);
	for (unsigned i = 0; i < N; i++) {
		snprintf(a, sizeof(a), "10.9.%u.%u", i / 200, 1 + i % 200);
		host_init(&r[i], a);
		req[i].rec = &r[i];
		req[i].level = LEVEL_ISOLATE;
	}
	assert_int_equal(enforce_apply(&x->e, req, N), 0);
	assert_int_equal(x->f.commits, 1);
	assert_int_equal(x->f.max_nelems, NFT_OP_MAX_ELEMS);
	assert_int_equal(x->f.nops_last, (N + NFT_OP_MAX_ELEMS - 1) / NFT_OP_MAX_ELEMS);
	assert_int_equal(count_set(&x->f, NFT_SET_ISO4), N);
	/* Released: the deletes share one message too. */
	for (unsigned i = 0; i < N; i++)
		req[i].level = LEVEL_NONE;
	assert_int_equal(enforce_apply(&x->e, req, N), 0);
	assert_int_equal(x->f.commits, 2);
	assert_int_equal(x->f.nops_last, (N + NFT_OP_MAX_ELEMS - 1) / NFT_OP_MAX_ELEMS);
	assert_int_equal(x->f.n, 0);
	free(r);
	free(req);
}

static void test_transport_error(void **state)
{
	struct fix *x = *state;
	struct enforce_req req;

	memset(&req, 0, sizeof(req));
	req.rec = &x->r[0];
	req.level = LEVEL_ISOLATE;
	x->f.fail_with = -ENOBUFS;
	assert_int_equal(enforce_apply(&x->e, &req, 1), -ENOBUFS);
	assert_int_equal(req.error, -ENOBUFS);
	assert_false(x->r[0].addrs[0].kiso);
}

static void test_reset_ttl(void **state)
{
	struct fix *x = *state;
	struct enforce_req req;

	memset(&req, 0, sizeof(req));
	req.rec = &x->r[0];
	req.level = LEVEL_ISOLATE;
	req.ttl_ms = 1000;
	assert_int_equal(enforce_apply(&x->e, &req, 1), 0);
	/* Kernel 6.1 does not refresh a timeout on re-add: delete and add. */
	req.ttl_ms = 5000;
	req.reset_ttl = true;
	assert_int_equal(enforce_apply(&x->e, &req, 1), 0);
	assert_int_equal(x->f.n, 1);
	assert_int_equal(x->f.e[0].timeout_ms, 5000);
}

static void test_effective_level(void **state)
{
	struct fix *x = *state;

	/* Containment without known ports means isolation... */
	assert_int_equal(enforce_effective_level(&x->r[0], LEVEL_CONTAIN, false), LEVEL_ISOLATE);
	/* ...except for a critical asset. */
	assert_int_equal(enforce_effective_level(&x->r[0], LEVEL_CONTAIN, true), LEVEL_CONTAIN);
	hostdb_want_port(&x->r[0], IPPROTO_TCP, 22, NULL);
	assert_int_equal(enforce_effective_level(&x->r[0], LEVEL_CONTAIN, false), LEVEL_CONTAIN);
	for (uint16_t p = 1; p <= HOST_MAX_PORTS + 1; p++)
		hostdb_want_port(&x->r[0], IPPROTO_TCP, (uint16_t)(1000 + p), NULL);
	assert_int_equal(enforce_effective_level(&x->r[0], LEVEL_CONTAIN, false), LEVEL_ISOLATE);
	assert_int_equal(enforce_effective_level(&x->r[0], LEVEL_WATCH, false), LEVEL_WATCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_isolate_contain_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_element_resend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_host_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_in_shared_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packed_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_effective_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contain_towards_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_element_gone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
