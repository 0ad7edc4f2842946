/* Unit tests for the nf_tables notification monitor: crafted messages
 * through nftmon_classify() (pure), then, as root in a private network
 * namespace, what the kernel really sends: our own transactions are not
 * seen, nft(8)'s are, with the process named; a flush of 100,000 elements
 * overflows the socket and reads as lost.  The live tests skip without
 * root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nft.h"
#include "nftmon.h"
#include "rtnl.h"

#define OWN   4242u
#define OTHER 777u

static const struct nftmon_filter filt = {
	.family = NFPROTO_INET,
	.table = "quarantined",
	.own_portid = OWN,
};

/* A message being built: header, nfgenmsg, attributes. */
struct mb {
	union rtnl_buf buf;
	size_t len;
};

static void mb_start(struct mb *m, uint16_t type, uint32_t pid, uint8_t family)
{
	struct nlmsghdr h = {.nlmsg_type = (uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | type),
			     .nlmsg_pid = pid};
	struct nfgenmsg g = {.nfgen_family = family, .version = NFNETLINK_V0};

	memset(m, 0, sizeof(*m));
	memcpy(m->buf.b, &h, sizeof(h));
	memcpy(m->buf.b + NLMSG_HDRLEN, &g, sizeof(g));
	m->len = NLMSG_HDRLEN + sizeof(g);
}

static void mb_attr(struct mb *m, uint16_t type, const void *data, size_t dlen)
{
	struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + dlen), .nla_type = type};

	memcpy(m->buf.b + m->len, &a, sizeof(a));
	memcpy(m->buf.b + m->len + NLA_HDRLEN, data, dlen);
	m->len += NLA_ALIGN(a.nla_len);
}

static void mb_str(struct mb *m, uint16_t type, const char *s)
{
	mb_attr(m, type, s, strlen(s) + 1);
}

/* Classifies the message built in m. */
static int classify(struct mb *m, struct nftmon_change *acc)
{
	struct nlmsghdr h;
	struct rtnl_iter it;
	struct rtnl_msg msg;

	memcpy(&h, m->buf.b, sizeof(h));
	h.nlmsg_len = (uint32_t)m->len;
	memcpy(m->buf.b, &h, sizeof(h));
	rtnl_iter_init(&it, &m->buf, m->len);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	return nftmon_classify(&filt, &msg, acc);
}

/* One message of type about table (and set, for elements). */
static int one(uint16_t type, uint32_t pid, uint8_t family, const char *table, const char *set,
	       struct nftmon_change *acc)
{
	static struct mb m;

	mb_start(&m, type, pid, family);
	mb_str(&m, 1, table);
	if (set)
		mb_str(&m, 2, set);
	return classify(&m, acc);
}

static void gen(struct mb *m, uint32_t pid, uint32_t procpid, const char *comm, size_t commlen)
{
	uint32_t id = htonl(7), be = htonl(procpid);

	mb_start(m, NFT_MSG_NEWGEN, pid, NFPROTO_UNSPEC);
	mb_attr(m, NFTA_GEN_ID, &id, sizeof(id));
	mb_attr(m, NFTA_GEN_PROC_PID, &be, sizeof(be));
	mb_attr(m, NFTA_GEN_PROC_NAME, comm, commlen);
}

static void test_flush_ruleset(void **state)
{
	struct nftmon_change c;
	static struct mb m;
	char text[256];

	(void)state;
	memset(&c, 0, sizeof(c));
	/* What `nft flush ruleset` sends about our table (kernel 6.1 and
	 * later): rules, sets, chains, then the table, then NEWGEN. */
	assert_int_equal(one(NFT_MSG_DELRULE, OTHER, NFPROTO_INET, "quarantined", NULL, &c), 1);
	assert_int_equal(one(NFT_MSG_DELSET, OTHER, NFPROTO_INET, "quarantined", "iso4", &c), 1);
	assert_int_equal(one(NFT_MSG_DELCHAIN, OTHER, NFPROTO_INET, "quarantined", NULL, &c), 1);
	assert_int_equal(one(NFT_MSG_DELTABLE, OTHER, NFPROTO_INET, "quarantined", NULL, &c), 1);
	assert_int_equal(c.what, NFTMON_TABLE | NFTMON_CHAINS | NFTMON_SETS);
	assert_true(c.table_deleted);
	assert_int_equal(c.sets, 0);
	assert_int_equal(c.messages, 4);
	assert_int_equal(c.portid, OTHER);
	assert_int_equal(c.pid, 0);
	gen(&m, OTHER, 1234, "nft", 4);
	assert_int_equal(classify(&m, &c), 1);
	assert_int_equal(c.pid, 1234);
	assert_string_equal(c.comm, "nft");
	nftmon_describe(&c, text, sizeof(text));
	assert_string_equal(text, "table deleted, chains or rules changed, sets deleted or added");
}

static void test_elements(void **state)
{
	struct nftmon_change c;
	char text[256];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(one(NFT_MSG_DELSETELEM, OTHER, NFPROTO_INET, "quarantined", "iso4", &c),
			 1);
	assert_int_equal(one(NFT_MSG_DELSETELEM, OTHER, NFPROTO_INET, "quarantined", "conm", &c),
			 1);
	assert_int_equal(one(NFT_MSG_NEWSETELEM, OTHER, NFPROTO_INET, "quarantined", "rem4", &c),
			 1);
	assert_int_equal(c.what, NFTMON_ELEMS);
	assert_int_equal(c.sets,
			 (1u << NFT_SET_ISO4) | (1u << NFT_SET_CONM) | (1u << NFT_SET_REM4));
	assert_false(c.table_deleted);
	/* A set of someone else's in our table changes nothing we enforce. */
	assert_int_equal(one(NFT_MSG_DELSETELEM, OTHER, NFPROTO_INET, "quarantined", "mine", &c),
			 0);
	assert_int_equal(c.messages, 3);
	nftmon_describe(&c, text, sizeof(text));
	assert_string_equal(text, "elements of iso4/conm/rem4");
}

static void test_not_ours(void **state)
{
	struct nftmon_change c, zero;
	static struct mb m;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&zero, 0, sizeof(zero));
	/* Our own transaction. */
	assert_int_equal(one(NFT_MSG_DELTABLE, OWN, NFPROTO_INET, "quarantined", NULL, &c), 0);
	/* Another table, another family, a name that only starts like ours. */
	assert_int_equal(one(NFT_MSG_DELTABLE, OTHER, NFPROTO_INET, "filter", NULL, &c), 0);
	assert_int_equal(one(NFT_MSG_DELTABLE, OTHER, NFPROTO_BRIDGE, "quarantined", NULL, &c), 0);
	assert_int_equal(one(NFT_MSG_DELTABLE, OTHER, NFPROTO_IPV4, "quarantined", NULL, &c), 0);
	assert_int_equal(one(NFT_MSG_DELTABLE, OTHER, NFPROTO_INET, "quarantinedx", NULL, &c), 0);
	assert_int_equal(one(NFT_MSG_DELTABLE, OTHER, NFPROTO_INET, "quarantine", NULL, &c), 0);
	/* Objects and flowtables: not used. */
	assert_int_equal(one(NFT_MSG_DELOBJ, OTHER, NFPROTO_INET, "quarantined", "x", &c), 0);
	/* Another netfilter subsystem (conntrack's NEW is 0 too). */
	mb_start(&m, 0, OTHER, NFPROTO_INET);
	m.buf.b[5] = NFNL_SUBSYS_CTNETLINK; /* nlmsg_type's high byte */
	mb_str(&m, 1, "quarantined");
	assert_int_equal(classify(&m, &c), 0);
	/* A NEWGEN of a transaction that did not touch us. */
	gen(&m, OTHER, 99, "nft", 4);
	assert_int_equal(classify(&m, &c), 0);
	assert_memory_equal(&c, &zero, sizeof(c));
	/* Nor of one that did, but from another socket. */
	assert_int_equal(one(NFT_MSG_DELRULE, OTHER, NFPROTO_INET, "quarantined", NULL, &c), 1);
	gen(&m, OTHER + 1, 99, "iptables-nft", 13);
	assert_int_equal(classify(&m, &c), 0);
	assert_int_equal(c.pid, 0);
}

static void test_malformed(void **state)
{
	struct nftmon_change c, zero;
	static struct mb m;
	char name[40];

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&zero, 0, sizeof(zero));
	/* No nfgenmsg at all. */
	mb_start(&m, NFT_MSG_DELTABLE, OTHER, NFPROTO_INET);
	m.len = NLMSG_HDRLEN + 2;
	assert_int_equal(classify(&m, &c), 0);
	/* An attribute that claims more than the message holds. */
	mb_start(&m, NFT_MSG_DELTABLE, OTHER, NFPROTO_INET);
	mb_str(&m, 1, "quarantined");
	m.buf.b[NLMSG_HDRLEN + 4] = 200; /* nla_len */
	assert_int_equal(classify(&m, &c), -EBADMSG);
	/* An attribute shorter than its own header. */
	mb_start(&m, NFT_MSG_DELTABLE, OTHER, NFPROTO_INET);
	mb_str(&m, 1, "quarantined");
	m.buf.b[NLMSG_HDRLEN + 4] = 2;
	assert_int_equal(classify(&m, &c), -EBADMSG);
	/* A table name without its NUL, and one longer than any of ours. */
	mb_start(&m, NFT_MSG_DELTABLE, OTHER, NFPROTO_INET);
	mb_attr(&m, 1, "quarantined", 11);
	assert_int_equal(classify(&m, &c), 0);
	memset(name, 'q', sizeof(name));
	name[sizeof(name) - 1] = '\0';
	mb_start(&m, NFT_MSG_DELTABLE, OTHER, NFPROTO_INET);
	mb_str(&m, 1, name);
	assert_int_equal(classify(&m, &c), 0);
	/* No table name at all. */
	mb_start(&m, NFT_MSG_DELTABLE, OTHER, NFPROTO_INET);
	assert_int_equal(classify(&m, &c), 0);
	/* An element message without its set's name. */
	assert_int_equal(one(NFT_MSG_DELSETELEM, OTHER, NFPROTO_INET, "quarantined", NULL, &c), 0);
	assert_memory_equal(&c, &zero, sizeof(c));
	/* A process name without NUL and too long: cut, terminated. */
	assert_int_equal(one(NFT_MSG_DELRULE, OTHER, NFPROTO_INET, "quarantined", NULL, &c), 1);
	memset(name, 'x', sizeof(name));
	gen(&m, OTHER, 5, name, sizeof(name));
	assert_int_equal(classify(&m, &c), 1);
	assert_int_equal(strlen(c.comm), sizeof(c.comm) - 1);
	/* A NEWGEN whose pid attribute has the wrong size: no pid. */
	mb_start(&m, NFT_MSG_NEWGEN, OTHER, NFPROTO_UNSPEC);
	mb_attr(&m, NFTA_GEN_PROC_PID, "ab", 2);
	assert_int_equal(classify(&m, &c), 1);
	assert_int_equal(c.pid, 0);
}

/* ---- against the kernel (root, private namespace) ---- */

static bool live;

static int sh(const char *cmd)
{
	return system(cmd);
}

/* Reads until nothing came for wait_ms. */
static void drain(struct nftmon *m, struct nftmon_change *c, int wait_ms)
{
	struct pollfd p = {.fd = nftmon_fd(m), .events = POLLIN};

	while (poll(&p, 1, wait_ms) > 0)
		assert_true(nftmon_read(m, c) >= 0);
}

static void test_live(void **state)
{
	struct nft_params p = {.family = NFPROTO_INET, .table = "quarantined"};
	struct nftmon_filter f = {.family = NFPROTO_INET, .table = "quarantined"};
	struct nft_elem el = {.timeout_ms = 600000};
	struct nft_op op = {.set = NFT_SET_ISO4, .elems = &el, .nelems = 1};
	struct nftmon_change c;
	struct nftmon *m;
	struct nft *n;
	char err[256];

	(void)state;
	if (!live)
		skip();
	assert_int_equal(nft_open(&p, &n), 0);
	f.own_portid = nft_portid(n);
	assert_int_equal(nftmon_open(&f, &m), 0);
	/* Our own: set up, an element added: nothing. */
	assert_int_equal(nft_setup(n, NULL, NULL, err, sizeof(err)), 0);
	addr_set_v4(&el.addr, (const uint8_t[4]){10, 0, 0, 1});
	assert_int_equal(nft_commit(n, &op, 1), 0);
	memset(&c, 0, sizeof(c));
	drain(m, &c, 100);
	assert_int_equal(c.what, 0);
	assert_int_equal(c.messages, 0);
	/* Another table: nothing either. */
	assert_int_equal(sh("nft add table inet other && nft delete table inet other"), 0);
	drain(m, &c, 100);
	assert_int_equal(c.what, 0);
	/* nft deletes the element: seen, with nft named. */
	assert_int_equal(sh("nft delete element inet quarantined iso4 '{ 10.0.0.1 }'"), 0);
	drain(m, &c, 100);
	assert_int_equal(c.what, NFTMON_ELEMS);
	assert_int_equal(c.sets, 1u << NFT_SET_ISO4);
	assert_true(c.pid > 0);
	assert_string_equal(c.comm, "nft");
	/* As Debian's nftables.service does it. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(sh("nft flush ruleset"), 0);
	drain(m, &c, 100);
	assert_true(c.table_deleted);
	assert_int_equal(c.what & NFTMON_STRUCTURE, NFTMON_TABLE | NFTMON_CHAINS | NFTMON_SETS);
	assert_string_equal(c.comm, "nft");
	/* Our repair is ours again. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(nft_setup(n, NULL, NULL, err, sizeof(err)), 0);
	drain(m, &c, 100);
	assert_int_equal(c.what, 0);
	/* Made dormant from outside: a change of the table, which
	 * nft_setup() undoes. */
	assert_int_equal(sh("nft add table inet quarantined '{ flags dormant; }'"), 0);
	drain(m, &c, 100);
	assert_int_equal(c.what, NFTMON_TABLE);
	assert_false(c.table_deleted);
	assert_int_equal(sh("nft list table inet quarantined | grep -q dormant"), 0);
	assert_int_equal(nft_setup(n, NULL, NULL, err, sizeof(err)), 0);
	assert_true(sh("nft list table inet quarantined | grep -q dormant") != 0);
	nftmon_close(m);
	nft_close(n);
}

/* 100,000 elements flushed by nft: more notifications than the queue
 * holds.  The loss reads as NFTMON_LOST, not as an error. */
static void test_live_overflow(void **state)
{
	struct nft_params p = {.family = NFPROTO_INET, .table = "quarantined"};
	struct nftmon_filter f = {.family = NFPROTO_INET, .table = "quarantined"};
	/* Messages of 100 elements (the daemon's are smaller still), 100
	 * of them a transaction. */
	enum { N = 100000, PER = 100, OPS = 100 };
	static struct nft_elem el[N];
	struct nft_op op[OPS];
	struct nftmon_change c;
	struct nftmon *m;
	struct nft *n;
	char err[256];

	(void)state;
	if (!live)
		skip();
	assert_int_equal(nft_open(&p, &n), 0);
	f.own_portid = nft_portid(n);
	assert_int_equal(nftmon_open(&f, &m), 0);
	assert_int_equal(nft_setup(n, NULL, NULL, err, sizeof(err)), 0);
	for (unsigned i = 0; i < N; i++) {
		uint8_t a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
		addr_set_v4(&el[i].addr, a);
	}
	for (unsigned i = 0; i < N; i += PER * OPS) {
		memset(op, 0, sizeof(op));
		for (unsigned j = 0; j < OPS; j++) {
			op[j].set = NFT_SET_ISO4;
			op[j].elems = &el[i + j * PER];
			op[j].nelems = PER;
		}
		assert_int_equal(nft_commit(n, op, OPS), 0);
	}
	memset(&c, 0, sizeof(c));
	drain(m, &c, 50);
	assert_int_equal(c.what, 0); /* our own 100,000: none queued */
	assert_int_equal(sh("nft flush set inet quarantined iso4"), 0);
	drain(m, &c, 100);
	assert_true(c.what & NFTMON_LOST);
	assert_true(c.what & NFTMON_ELEMS);
	assert_int_equal(sh("nft delete table inet quarantined"), 0);
	nftmon_close(m);
	nft_close(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flush_ruleset), cmocka_unit_test(test_elements),
		cmocka_unit_test(test_not_ours),      cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_live),	      cmocka_unit_test(test_live_overflow),
	};

	live = geteuid() == 0 && unshare(CLONE_NEWNET) == 0 &&
	       system("nft --version >/dev/null 2>&1") == 0;
	if (!live)
		printf("# not root, no network namespace or no nft(8): the kernel's tests skip\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
