/* The nftables module against the real kernel, inside a private network
 * namespace (needs root: skipped with 77 otherwise).  Nothing is sent
 * anywhere; the namespace and its table vanish with the process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <linux/netfilter.h>

#include "nft.h"

static struct nft *n;

static int count_cb(void *arg, const struct nft_elem *e)
{
	(void)e;
	(*(unsigned *)arg)++;
	return 0;
}

static unsigned count(enum nft_set s)
{
	unsigned c = 0;

	assert_int_equal(nft_list(n, s, count_cb, &c), 0);
	return c;
}

static struct nft_elem E(const char *a, uint8_t proto, uint16_t port, uint64_t timeout_ms) {
	struct nft_elem e;

	memset(&e, 0, sizeof(e));
	assert_int_equal(addr_parse(a, &e.addr), 0);
	e.l4proto = proto;
	e.port = port;
	e.timeout_ms = timeout_ms;
	return e;
}

static void
test_setup_many_networks(void **state)
{
	/* 1,000 remediation networks: more than one netlink message holds. */
	struct prefix *v = calloc(1000, sizeof(*v));
	struct prefix_list rem = {.v = v, .n = 1000}, adm = {0};
	char err[256];

	(void)state;
	assert_non_null(v);
	for (unsigned i = 0; i < 1000; i++) {
		char b[32];
		snprintf(b, sizeof(b), "10.%u.%u.0", 100 + i / 256, i % 256);
		assert_int_equal(addr_parse(b, &v[i].addr), 0);
		v[i].plen = 24;
	}
	assert_int_equal(nft_setup(n, &rem, &adm, err, sizeof(err)), 0);
	assert_int_equal(count(NFT_SET_REM4), 2000); /* start and end of each */
	/* Adopting the table again keeps what is in it and refills the lists. */
	rem.n = 3;
	assert_int_equal(nft_setup(n, &rem, &adm, err, sizeof(err)), 0);
	assert_int_equal(count(NFT_SET_REM4), 6);
	free(v);
}

static void test_commit_and_list(void **state)
{
	struct nft_elem iso[2] = {E("10.1.0.5", 0, 0, 0), E("10.1.0.6", 0, 0, 60000)};
	struct nft_elem con[2] = {E("10.1.0.7", IPPROTO_TCP, 445, 0),
				  E("10.1.0.7", IPPROTO_TCP, 139, 0)};
	struct nft_elem v6 = E("fd00::5", 0, 0, 0);
	struct nft_op ops[3] = {
		{.set = NFT_SET_ISO4, .elems = iso, .nelems = 2},
		{.set = NFT_SET_CON4, .elems = con, .nelems = 2},
		{.set = NFT_SET_ISO6, .elems = &v6, .nelems = 1},
	};

	(void)state;
	assert_int_equal(nft_commit(n, ops, 3), 0);
	assert_int_equal(count(NFT_SET_ISO4), 2);
	assert_int_equal(count(NFT_SET_CON4), 2);
	assert_int_equal(count(NFT_SET_ISO6), 1);
	/* Adding again is no error (an action already in place). */
	assert_int_equal(nft_commit(n, ops, 1), 0);
}

static void test_delete_missing_fails_whole_batch(void **state)
{
	struct nft_elem here = E("10.1.0.5", 0, 0, 0), gone = E("10.9.9.9", 0, 0, 0);
	struct nft_op ops[2] = {
		{.set = NFT_SET_ISO4, .del = true, .elems = &here, .nelems = 1},
		{.set = NFT_SET_ISO4, .del = true, .elems = &gone, .nelems = 1},
	};

	(void)state;
	/* Kernel 6.1's rule: nothing applied, the culprit named. */
	assert_int_equal(nft_commit(n, ops, 2), -ECANCELED);
	assert_int_equal(ops[0].error, 0);
	assert_int_equal(ops[1].error, -ENOENT);
	assert_int_equal(count(NFT_SET_ISO4), 2);
	assert_int_equal(nft_commit(n, ops, 1), 0);
	assert_int_equal(count(NFT_SET_ISO4), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setup_many_networks),
		cmocka_unit_test(test_commit_and_list),
		cmocka_unit_test(test_delete_missing_fails_whole_batch),
	};
	struct nft_params p = {.family = NFPROTO_INET};

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: needs root for a private network namespace\n");
		return 77;
	}
	strcpy(p.table, "quarantined");
	if (nft_open(&p, &n) < 0) {
		printf("SKIP: no nf_tables\n");
		return 77;
	}
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	nft_close(n);
	return r;
}
