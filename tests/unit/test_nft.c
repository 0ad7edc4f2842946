/* The nftables module against the real kernel, inside a private network
 * namespace (needs root: skipped with 77 otherwise).  Nothing is sent
 * anywhere; the namespace and its table vanish with the process.  Link
 * seams (tests/meson.build) hold requests back from the kernel, to make
 * it late, and fail allocations one at a time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>

#include "nft.h"
#include "types.h"

/* ---- link seams ---- */

/* The next `hold` datagrams the module sends are kept here instead of
 * going to the kernel (the module sees them sent): a kernel that does not
 * answer.  release_held() sends them on, late; with release_first set,
 * the module's next send does that first, so that their answers come
 * just before its own. */
static unsigned hold;
static bool release_first;
static char held[65536];
static size_t held_len[8];
static unsigned nheld;
static int held_fd = -1;
static unsigned sends; /* datagrams that reached the kernel */

ssize_t __real_sendmsg(int fd, const struct msghdr *m, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags);

static bool release_held(void)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	size_t off = 0;
	bool ok = true;

	for (unsigned i = 0; i < nheld; i++) {
		struct iovec iov = {.iov_base = held + off, .iov_len = held_len[i]};
		struct msghdr m = {.msg_name = &kernel,
				   .msg_namelen = sizeof(kernel),
				   .msg_iov = &iov,
				   .msg_iovlen = 1};

		ok = ok && __real_sendmsg(held_fd, &m, 0) == (ssize_t)held_len[i];
		off += held_len[i];
		sends++;
	}
	nheld = 0;
	return ok;
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags)
{
	ssize_t r;

	if (hold && nheld < ARRAY_SIZE(held_len)) {
		size_t off = 0, len = 0;

		for (unsigned i = 0; i < nheld; i++)
			off += held_len[i];
		for (size_t i = 0; i < m->msg_iovlen; i++) {
			if (off + len + m->msg_iov[i].iov_len > sizeof(held)) {
				errno = EMSGSIZE;
				return -1;
			}
			memcpy(held + off + len, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
			len += m->msg_iov[i].iov_len;
		}
		held_len[nheld++] = len;
		held_fd = fd;
		hold--;
		return (ssize_t)len;
	}
	if (release_first) {
		release_first = false;
		if (!release_held()) {
			errno = EIO;
			return -1;
		}
	}
	r = __real_sendmsg(fd, m, flags);
	if (r >= 0)
		sends++;
	return r;
}

/* With fail_at = k, the k-th fallible call (an allocation by the module
 * or by libnftnl for it, a string libnftnl copies) fails; 0: none.  The
 * other setters copy fixed-size values and fail only for values too long,
 * which ours never are. */
static unsigned fail_at, fallible;

static bool fail_here(void)
{
	return fail_at && ++fallible == fail_at;
}

static void fail_arm(unsigned k)
{
	fail_at = k;
	fallible = 0;
}

struct nftnl_batch;
struct nftnl_table;
struct nftnl_chain;
struct nftnl_set;
struct nftnl_set_elem;
struct nftnl_rule;
struct nftnl_expr;

#define SEAM(type, name, params, args, failed) \
	type __real_##name params;             \
	type __wrap_##name params;             \
	type __wrap_##name params              \
	{                                      \
		if (fail_here()) {             \
			errno = ENOMEM;        \
			return failed;         \
		}                              \
		return __real_##name args;     \
	}

SEAM(void *, calloc, (size_t nmemb, size_t size), (nmemb, size), NULL)
SEAM(void *, malloc, (size_t size), (size), NULL)
SEAM(struct nftnl_batch *, nftnl_batch_alloc, (uint32_t pg, uint32_t over), (pg, over), NULL)
SEAM(int, nftnl_batch_update, (struct nftnl_batch * b), (b), -1)
SEAM(struct nftnl_table *, nftnl_table_alloc, (void), (), NULL)
SEAM(struct nftnl_chain *, nftnl_chain_alloc, (void), (), NULL)
SEAM(struct nftnl_set *, nftnl_set_alloc, (void), (), NULL)
SEAM(struct nftnl_set_elem *, nftnl_set_elem_alloc, (void), (), NULL)
SEAM(struct nftnl_rule *, nftnl_rule_alloc, (void), (), NULL)
SEAM(struct nftnl_expr *, nftnl_expr_alloc, (const char *name), (name), NULL)
SEAM(int, nftnl_table_set_str, (struct nftnl_table * t, uint16_t a, const char *v), (t, a, v), -1)
SEAM(int, nftnl_chain_set_str, (struct nftnl_chain * c, uint16_t a, const char *v), (c, a, v), -1)
SEAM(int, nftnl_set_set_str, (struct nftnl_set * s, uint16_t a, const char *v), (s, a, v), -1)
SEAM(int, nftnl_rule_set_str, (struct nftnl_rule * r, uint16_t a, const char *v), (r, a, v), -1)
SEAM(int, nftnl_expr_set_str, (struct nftnl_expr * e, uint16_t a, const char *v), (e, a, v), -1)

static struct nft *n;
static bool have_nft; /* the nft(8) command, to read the table as nft prints it */

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
	/* IPv6 prefixes make longer messages: 64 of them are more than a
	 * memory page, which libnftnl's batch would drop unless its pages
	 * are larger. */
	for (unsigned i = 0; i < 100; i++) {
		char b[48];
		snprintf(b, sizeof(b), "fd00:%x::", i);
		assert_int_equal(addr_parse(b, &v[i].addr), 0);
		v[i].plen = 64;
	}
	assert_int_equal(nft_setup(n, &rem, &adm, err, sizeof(err)), 0);
	assert_int_equal(count(NFT_SET_REM6), 200);
	assert_int_equal(count(NFT_SET_REM4), 1800);
	/* Adopting the table again keeps what is in it and refills the lists. */
	rem.n = 3;
	assert_int_equal(nft_setup(n, &rem, &adm, err, sizeof(err)), 0);
	assert_int_equal(count(NFT_SET_REM4), 0);
	assert_int_equal(count(NFT_SET_REM6), 6);
	for (unsigned i = 0; i < 3; i++) {
		char b[32];
		snprintf(b, sizeof(b), "10.%u.%u.0", 100 + i / 256, i % 256);
		assert_int_equal(addr_parse(b, &v[i].addr), 0);
		v[i].plen = 24;
	}
	assert_int_equal(nft_setup(n, &rem, &adm, err, sizeof(err)), 0);
	assert_int_equal(count(NFT_SET_REM4), 6);
	assert_int_equal(count(NFT_SET_REM6), 0);
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

/* ---- machines: the MAC-keyed sets and rules ---- */

static struct nft_elem M(const char *mac, uint8_t proto, uint16_t port, uint64_t timeout_ms) {
	struct nft_elem e;

	memset(&e, 0, sizeof(e));
	assert_int_equal(addr_parse_any(mac, &e.addr), 0);
	assert_int_equal(e.addr.family, AF_MAC);
	e.l4proto = proto;
	e.port = port;
	e.timeout_ms = timeout_ms;
	return e;
}

struct elems {
	unsigned n;
	struct nft_elem v[16];
};

static int collect_cb(void *arg, const struct nft_elem *e)
{
	struct elems *c = arg;

	if (c->n < 16)
		c->v[c->n] = *e;
	c->n++;
	return 0;
}

/* The listed element with want's key, or NULL. */
static const struct nft_elem *find(const struct elems *c, const struct nft_elem *want)
{
	for (unsigned i = 0; i < c->n && i < 16; i++)
		if (addr_eq(&c->v[i].addr, &want->addr) && c->v[i].l4proto == want->l4proto &&
		    c->v[i].port == want->port)
			return &c->v[i];
	return NULL;
}

/* Runs a shell command inside the test's namespace (children inherit
 * it); its output in out.  The exit status, or -1. */
static int run(const char *cmd, char *out, size_t outlen)
{
	FILE *f = popen(cmd, "r");
	size_t len = 0, r;
	int st;

	if (!f)
		return -1;
	while (len + 1 < outlen && (r = fread(out + len, 1, outlen - len - 1, f)) > 0)
		len += r;
	out[len] = '\0';
	st = pclose(f);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Feeds text to `nft -f -`.  The exit status, or -1. */
static int nft_f(const char *text)
{
	FILE *f = popen("nft -f -", "w");
	int st;

	if (!f)
		return -1;
	fputs(text, f);
	st = pclose(f);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("\"%s\" not in:\n%s", needle, text);
}

static void test_set_kinds(void **state)
{
	(void)state;
	for (unsigned i = 0; i < NFT_SET_COUNT; i++) {
		enum nft_set s = (enum nft_set)i;
		bool mac = s == NFT_SET_ISOM || s == NFT_SET_CONM || s == NFT_SET_CONPM ||
			   s == NFT_SET_CONHM4 || s == NFT_SET_CONHM6 || s == NFT_SET_OBGM ||
			   (s >= NFT_SET_OBBM && s < NFT_SET_OBBM + NFT_OB_BITS);
		assert_int_equal(nft_set_is_mac(s), mac);
		if (mac)
			assert_false(nft_set_is_v6(s));
	}
	/* The destination's family of the sets towards one destination. */
	assert_int_equal(nft_set_dst_family(NFT_SET_CONH4), AF_INET);
	assert_int_equal(nft_set_dst_family(NFT_SET_CONH6), AF_INET6);
	assert_int_equal(nft_set_dst_family(NFT_SET_CONHM4), AF_INET);
	assert_int_equal(nft_set_dst_family(NFT_SET_CONHM6), AF_INET6);
	assert_int_equal(nft_set_dst_family(NFT_SET_CON4), 0);
	assert_int_equal(nft_set_dst_family(NFT_SET_CONM), 0);
	assert_true(nft_set_is_v6(NFT_SET_CONH6));
	assert_false(nft_set_is_v6(NFT_SET_CONH4));
	assert_string_equal(nft_set_name(NFT_SET_ISOM), "isom");
	assert_string_equal(nft_set_name(NFT_SET_CONM), "conm");
	assert_string_equal(nft_set_name(NFT_SET_CONPM), "conpm");
	assert_false(nft_set_is_mac(NFT_SET_COUNT));
	/* Outbreak mode's per-bit sets. */
	assert_string_equal(nft_set_name(NFT_SET_OBB4), "obb4_0");
	assert_string_equal(nft_set_name(NFT_SET_OBB6 + 9), "obb6_9");
	assert_string_equal(nft_set_name(NFT_SET_OBBM + NFT_OB_BITS - 1), "obbm_9");
	assert_true(nft_set_is_v6(NFT_SET_OBB6 + 3));
	assert_false(nft_set_is_v6(NFT_SET_OBB4 + 3));
	for (unsigned i = 0; i < NFT_SET_COUNT; i++)
		assert_string_not_equal(nft_set_name((enum nft_set)i), "");
}

static void test_mac_sets_defined(void **state)
{
	static const struct {
		const char *name, *type;
	} want[] = {
		{"isom", "type ether_addr\n"},
		{"conm", "type ether_addr . inet_proto . inet_service\n"},
		{"conpm", "type ether_addr . inet_proto\n"},
	};
	char cmd[128], out[4096];

	(void)state;
	assert_int_equal(count(NFT_SET_ISOM), 0);
	assert_int_equal(count(NFT_SET_CONM), 0);
	assert_int_equal(count(NFT_SET_CONPM), 0);
	if (!have_nft)
		skip();
	for (unsigned i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), "nft list set inet quarantined %s", want[i].name);
		assert_int_equal(run(cmd, out, sizeof(out)), 0);
		expect_has(out, want[i].type);
		expect_has(out, "flags timeout\n");
		expect_has(out, "counter\n");
	}
}

static void test_mac_commit_and_list(void **state)
{
	struct nft_elem iso[2] = {M("02:00:00:00:00:01", 0, 0, 0),
				  M("02-00-00-00-00-02", 0, 0, 60000)};
	struct nft_elem con[2] = {M("02:00:00:00:00:03", IPPROTO_TCP, 445, 60000),
				  M("02:00:00:00:00:03", IPPROTO_UDP, 53, 0)};
	struct nft_elem conp[2] = {M("02:00:00:00:00:04", IPPROTO_ICMP, 0, 0),
				   M("02:00:00:00:00:04", IPPROTO_ICMPV6, 0, 60000)};
	struct nft_op ops[3] = {
		{.set = NFT_SET_ISOM, .elems = iso, .nelems = 2},
		{.set = NFT_SET_CONM, .elems = con, .nelems = 2},
		{.set = NFT_SET_CONPM, .elems = conp, .nelems = 2},
	};
	struct {
		enum nft_set set;
		const struct nft_elem *want;
	} sets[] = {
		{NFT_SET_ISOM, iso},
		{NFT_SET_CONM, con},
		{NFT_SET_CONPM, conp},
	};
	char out[4096];

	(void)state;
	assert_int_equal(nft_commit(n, ops, 3), 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(ops[i].error, 0);
	for (unsigned i = 0; i < 3; i++) {
		struct elems c = {0};
		assert_int_equal(nft_list(n, sets[i].set, collect_cb, &c), 0);
		assert_int_equal(c.n, 2);
		for (unsigned j = 0; j < 2; j++) {
			const struct nft_elem *w = &sets[i].want[j], *e = find(&c, w);
			if (!e) {
				fail_msg("set %u: element %u not listed", i, j);
				return;
			}
			assert_int_equal(e->addr.family, AF_MAC);
			assert_int_equal(e->timeout_ms, w->timeout_ms);
			if (w->timeout_ms) {
				assert_true(e->expires_ms > 0);
				assert_true(e->expires_ms <= w->timeout_ms);
			} else {
				assert_int_equal(e->expires_ms, 0);
			}
		}
	}
	/* The key layout as nft reads it: MAC, proto and port (network
	 * order) each in their own registers. */
	if (!have_nft)
		return;
	assert_int_equal(run("nft list set inet quarantined isom", out, sizeof(out)), 0);
	expect_has(out, "02:00:00:00:00:01");
	expect_has(out, "02:00:00:00:00:02");
	assert_int_equal(run("nft list set inet quarantined conm", out, sizeof(out)), 0);
	expect_has(out, "02:00:00:00:00:03 . tcp . 445");
	expect_has(out, "02:00:00:00:00:03 . udp . 53");
	assert_int_equal(run("nft list set inet quarantined conpm", out, sizeof(out)), 0);
	expect_has(out, "02:00:00:00:00:04 . icmp");
	expect_has(out, "02:00:00:00:00:04 . ipv6-icmp");
}

static void test_mac_delete_missing_fails_whole_batch(void **state)
{
	struct nft_elem iso = M("02:00:00:00:00:01", 0, 0, 0);
	struct nft_elem con = M("02:00:00:00:00:03", IPPROTO_UDP, 53, 0);
	struct nft_elem gone = M("02:00:00:00:00:09", IPPROTO_ICMP, 0, 0);
	struct nft_op ops[3] = {
		{.set = NFT_SET_ISOM, .del = true, .elems = &iso, .nelems = 1},
		{.set = NFT_SET_CONM, .del = true, .elems = &con, .nelems = 1},
		{.set = NFT_SET_CONPM, .del = true, .elems = &gone, .nelems = 1},
	};

	(void)state;
	assert_int_equal(nft_commit(n, ops, 3), -ECANCELED);
	assert_int_equal(ops[0].error, 0);
	assert_int_equal(ops[1].error, 0);
	assert_int_equal(ops[2].error, -ENOENT);
	assert_int_equal(count(NFT_SET_ISOM), 2);
	assert_int_equal(count(NFT_SET_CONM), 2);
	assert_int_equal(count(NFT_SET_CONPM), 2);
	assert_int_equal(nft_commit(n, ops, 2), 0);
	assert_int_equal(count(NFT_SET_ISOM), 1);
	assert_int_equal(count(NFT_SET_CONM), 1);
	/* Gone now: the same delete names it. */
	assert_int_equal(nft_commit(n, ops, 1), -ECANCELED);
	assert_int_equal(ops[0].error, -ENOENT);
}

static void test_mac_family_mismatch(void **state)
{
	struct nft_elem v4 = E("10.1.0.5", 0, 0, 0), mac = M("02:00:00:00:00:05", 0, 0, 0);
	struct nft_op ops[2] = {
		{.set = NFT_SET_ISOM, .elems = &mac, .nelems = 1},
		{.set = NFT_SET_ISOM, .elems = &v4, .nelems = 1},
	};

	(void)state;
	/* An IPv4 address would become MAC 0a:01:00:05:00:00: refused, and
	 * nothing sent. */
	assert_int_equal(nft_commit(n, ops, 2), -EINVAL);
	assert_int_equal(ops[1].error, -EINVAL);
	assert_int_equal(count(NFT_SET_ISOM), 1);
	ops[0].set = NFT_SET_ISO4;
	assert_int_equal(nft_commit(n, ops, 1), -EINVAL);
	assert_int_equal(ops[0].error, -EINVAL);
	assert_int_equal(count(NFT_SET_ISO4), 1);
}

/* ---- towards one destination: conh4/conh6, conhm4/conhm6 ---- */

/* An element of a set towards one destination. */
static struct nft_elem H(const char *src, const char *dst, uint8_t proto, uint16_t port,
			 uint64_t timeout_ms) {
	struct nft_elem e;

	memset(&e, 0, sizeof(e));
	assert_int_equal(addr_parse_any(src, &e.addr), 0);
	assert_int_equal(addr_parse(dst, &e.dst), 0);
	e.l4proto = proto;
	e.port = port;
	e.timeout_ms = timeout_ms;
	return e;
}

static void
test_peer_sets_defined(void **state)
{
	static const struct {
		const char *name, *type;
	} want[] = {
		{"conh4", "type ipv4_addr . ipv4_addr . inet_proto . inet_service\n"},
		{"conh6", "type ipv6_addr . ipv6_addr . inet_proto . inet_service\n"},
		{"conhm4", "type ether_addr . ipv4_addr . inet_proto . inet_service\n"},
		{"conhm6", "type ether_addr . ipv6_addr . inet_proto . inet_service\n"},
	};
	char cmd[128], out[4096];

	(void)state;
	assert_int_equal(count(NFT_SET_CONH4), 0);
	assert_int_equal(count(NFT_SET_CONH6), 0);
	assert_int_equal(count(NFT_SET_CONHM4), 0);
	assert_int_equal(count(NFT_SET_CONHM6), 0);
	if (!have_nft)
		skip();
	for (unsigned i = 0; i < ARRAY_SIZE(want); i++) {
		snprintf(cmd, sizeof(cmd), "nft list set inet quarantined %s", want[i].name);
		assert_int_equal(run(cmd, out, sizeof(out)), 0);
		expect_has(out, want[i].type);
		expect_has(out, "flags timeout\n");
		expect_has(out, "counter\n");
	}
}

static void test_peer_commit_and_list(void **state)
{
	struct nft_elem h4[2] = {H("10.1.0.5", "10.1.2.3", IPPROTO_TCP, 22, 60000),
				 H("10.1.0.5", "10.1.2.4", IPPROTO_UDP, 161, 0)};
	struct nft_elem h6[2] = {
		H("fd00::5", "fd00::2:3", IPPROTO_TCP, 22, 0),
		H("fd00::5", "fd00:ffff:ffff:ffff:ffff:ffff:ffff:fffe", IPPROTO_TCP, 65535, 60000)};
	struct nft_elem hm4[2] = {H("02:00:00:00:00:0c", "10.1.2.3", IPPROTO_TCP, 3389, 0),
				  H("02:00:00:00:00:0c", "10.1.2.3", IPPROTO_TCP, 22, 60000)};
	struct nft_elem hm6[2] = {H("02:00:00:00:00:0c", "fd00::2:3", IPPROTO_TCP, 22, 0),
				  H("02:00:00:00:00:0d", "fd00::2:4", IPPROTO_UDP, 5060, 0)};
	struct nft_op ops[4] = {
		{.set = NFT_SET_CONH4, .elems = h4, .nelems = 2},
		{.set = NFT_SET_CONH6, .elems = h6, .nelems = 2},
		{.set = NFT_SET_CONHM4, .elems = hm4, .nelems = 2},
		{.set = NFT_SET_CONHM6, .elems = hm6, .nelems = 2},
	};
	char out[4096];

	(void)state;
	assert_int_equal(nft_commit(n, ops, 4), 0);
	for (unsigned i = 0; i < 4; i++) {
		struct elems c = {0};

		assert_int_equal(ops[i].error, 0);
		assert_int_equal(nft_list(n, ops[i].set, collect_cb, &c), 0);
		assert_int_equal(c.n, 2);
		/* Every field of the key back: source, destination, proto,
		 * port. */
		for (unsigned j = 0; j < 2; j++) {
			const struct nft_elem *w = &ops[i].elems[j];
			bool found = false;

			for (unsigned k = 0; k < c.n; k++) {
				const struct nft_elem *e = &c.v[k];
				if (!addr_eq(&e->addr, &w->addr) || !addr_eq(&e->dst, &w->dst) ||
				    e->l4proto != w->l4proto || e->port != w->port)
					continue;
				found = true;
				assert_int_equal(e->timeout_ms, w->timeout_ms);
			}
			if (!found)
				fail_msg("set %s: element %u not listed back",
					 nft_set_name(ops[i].set), j);
		}
	}
	/* The key layout as nft reads it: every field in whole registers,
	 * the port in network order. */
	if (!have_nft)
		return;
	assert_int_equal(run("nft list set inet quarantined conh4", out, sizeof(out)), 0);
	expect_has(out, "10.1.0.5 . 10.1.2.3 . tcp . 22");
	expect_has(out, "10.1.0.5 . 10.1.2.4 . udp . 161");
	assert_int_equal(run("nft list set inet quarantined conh6", out, sizeof(out)), 0);
	expect_has(out, "fd00::5 . fd00::2:3 . tcp . 22");
	expect_has(out, "fd00::5 . fd00:ffff:ffff:ffff:ffff:ffff:ffff:fffe . tcp . 65535");
	assert_int_equal(run("nft list set inet quarantined conhm4", out, sizeof(out)), 0);
	expect_has(out, "02:00:00:00:00:0c . 10.1.2.3 . tcp . 3389");
	expect_has(out, "02:00:00:00:00:0c . 10.1.2.3 . tcp . 22");
	assert_int_equal(run("nft list set inet quarantined conhm6", out, sizeof(out)), 0);
	expect_has(out, "02:00:00:00:00:0c . fd00::2:3 . tcp . 22");
	expect_has(out, "02:00:00:00:00:0d . fd00::2:4 . udp . 5060");
	/* Deleted by the same keys. */
	for (unsigned i = 0; i < 4; i++)
		ops[i].del = true;
	assert_int_equal(nft_commit(n, ops, 4), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(count(ops[i].set), 0);
}

static void test_peer_family_mismatch(void **state)
{
	struct nft_elem v6dst = H("10.1.0.5", "fd00::1", IPPROTO_TCP, 22, 0);
	struct nft_elem nodst = E("10.1.0.5", IPPROTO_TCP, 22, 0);
	struct nft_elem dst = H("10.1.0.5", "10.1.2.3", IPPROTO_TCP, 22, 0);
	struct nft_op op = {.set = NFT_SET_CONH4, .elems = &v6dst, .nelems = 1};
	unsigned before = sends;

	(void)state;
	/* An IPv6 destination in conh4, a set towards one destination
	 * without one, a destination in con4: refused, nothing sent. */
	assert_int_equal(nft_commit(n, &op, 1), -EINVAL);
	op.set = NFT_SET_CONHM4;
	v6dst.addr = M("02:00:00:00:00:0c", 0, 0, 0).addr;
	assert_int_equal(nft_commit(n, &op, 1), -EINVAL);
	op.set = NFT_SET_CONH4;
	op.elems = &nodst;
	assert_int_equal(nft_commit(n, &op, 1), -EINVAL);
	op.set = NFT_SET_CON4;
	op.elems = &dst;
	assert_int_equal(nft_commit(n, &op, 1), -EINVAL);
	assert_int_equal(op.error, -EINVAL);
	assert_int_equal(sends, before);
	assert_int_equal(count(NFT_SET_CONH4), 0);
	assert_int_equal(count(NFT_SET_CONHM4), 0);
}

static void test_peer_rules(void **state)
{
	static const char *const want[] = {
		"\t\tip saddr . ip daddr . meta l4proto . th dport @conh4 counter packets 0 bytes "
		"0 "
		"drop\n",
		"\t\tip6 saddr . ip6 daddr . meta l4proto . th dport @conh6 counter packets 0 "
		"bytes 0 drop\n",
		/* The family check is there, implied by ip daddr in
		 * nft's eyes. */
		"\t\tether saddr . ip daddr . meta l4proto . th dport @conhm4 counter packets 0 "
		"bytes 0 drop\n",
		"\t\tether saddr . ip6 daddr . meta l4proto . th dport @conhm6 counter packets 0 "
		"bytes 0 drop\n",
	};
	static char chain[8192];
	static const char *const cmd[2] = {"nft list chain inet quarantined forward",
					   "nft list chain inet quarantined input"};

	(void)state;
	if (!have_nft)
		skip();
	for (unsigned c = 0; c < 2; c++) {
		assert_int_equal(run(cmd[c], chain, sizeof(chain)), 0);
		for (unsigned i = 0; i < ARRAY_SIZE(want); i++)
			expect_has(chain, want[i]);
		/* The address rules before the MAC rules, as for the other
		 * containment sets. */
		assert_true(strstr(chain, "@conh4") < strstr(chain, "@isom"));
		assert_true(strstr(chain, "@conhm4") > strstr(chain, "@conpm"));
	}
}

static const char *const inet_forward_rules[] = {
	"\t\tmeta nfproto ipv4 ether saddr @isom goto iso_src4\n",
	"\t\tmeta nfproto ipv6 ether saddr @isom goto iso_src6\n",
	"\t\tether saddr . meta l4proto . th dport @conm counter packets 0 bytes 0 drop\n",
	"\t\tether saddr . meta l4proto @conpm counter packets 0 bytes 0 drop\n",
};

static void test_mac_rules_inet(void **state)
{
	static char chains[2][8192], again[8192];
	static const char *const cmd[2] = {"nft list chain inet quarantined forward",
					   "nft list chain inet quarantined input"};
	char err[256];

	(void)state;
	if (!have_nft)
		skip();
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(run(cmd[i], chains[i], sizeof(chains[i])), 0);
	for (unsigned i = 0; i < ARRAY_SIZE(inet_forward_rules); i++)
		expect_has(chains[0], inet_forward_rules[i]);
	/* After the address rules. */
	assert_true(strstr(chains[0], "@isom") > strstr(chains[0], "@conp6"));
	expect_has(chains[1], "\t\tmeta nfproto ipv4 ether saddr @isom goto iso_in4\n");
	expect_has(chains[1], "\t\tmeta nfproto ipv6 ether saddr @isom goto iso_in6\n");
	expect_has(chains[1], "\t\tether saddr . meta l4proto . th dport @conm counter");
	expect_has(chains[1], "\t\tether saddr . meta l4proto @conpm counter");
	/* Adopted again: same rules (they never grow), elements kept. */
	assert_int_equal(nft_setup(n, NULL, NULL, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(run(cmd[i], again, sizeof(again)), 0);
		assert_string_equal(again, chains[i]);
	}
	assert_int_equal(count(NFT_SET_ISOM), 1);
	assert_int_equal(count(NFT_SET_CONM), 1);
	assert_int_equal(count(NFT_SET_CONPM), 2);
}

static void test_mac_rules_bridge(void **state)
{
	static const char *const want[] = {
		"\t\tmeta protocol ip ether saddr @isom goto iso_src4\n",
		"\t\tmeta protocol ip6 ether saddr @isom goto iso_src6\n",
		"\t\tmeta protocol != ip meta protocol != ip6 meta protocol != arp ether saddr "
		"@isom "
		"counter packets 0 bytes 0 drop\n",
		"\t\tether saddr . meta l4proto . th dport @conm counter packets 0 bytes 0 drop\n",
		"\t\tether saddr . meta l4proto @conpm counter packets 0 bytes 0 drop\n",
		"\t\tmeta protocol ip ether saddr @isom goto iso_in4\n",
	};
	struct nft_params p = {.family = NFPROTO_BRIDGE};
	struct nft_elem mac = M("02:00:00:00:00:0b", IPPROTO_TCP, 22, 0);
	struct nft_op op = {.set = NFT_SET_CONM, .elems = &mac, .nelems = 1};
	struct elems c = {0};
	struct nft *b;
	static char out[65536];
	char err[256];
	int r;

	(void)state;
	strcpy(p.table, "quarantined");
	assert_int_equal(nft_open(&p, &b), 0);
	r = nft_setup(b, NULL, NULL, err, sizeof(err));
	if (r == -EAFNOSUPPORT || r == -EOPNOTSUPP) {
		nft_close(b);
		skip(); /* no bridge family in this kernel */
	}
	assert_int_equal(r, 0);
	assert_int_equal(nft_commit(b, &op, 1), 0);
	assert_int_equal(nft_list(b, NFT_SET_CONM, collect_cb, &c), 0);
	assert_int_equal(c.n, 1);
	assert_non_null(find(&c, &mac));
	nft_close(b);
	if (!have_nft)
		skip();
	assert_int_equal(run("nft list table bridge quarantined", out, sizeof(out)), 0);
	for (unsigned i = 0; i < ARRAY_SIZE(want); i++)
		expect_has(out, want[i]);
	expect_has(out, "02:00:00:00:00:0b . tcp . 22");
	/* A bridge port is always Ethernet: no iiftype dependency. */
	assert_null(strstr(out, "iiftype"));
}

/* The previous version's table: no MAC sets, no MAC rules. */
static const char old_layout[] =
	"table inet qdold {\n"
	" set iso4 { type ipv4_addr; flags timeout; counter; elements = { 10.7.0.5 timeout 1h } }\n"
	" set iso6 { type ipv6_addr; flags timeout; counter; }\n"
	" set con4 { type ipv4_addr . inet_proto . inet_service; flags timeout; counter;\n"
	"  elements = { 10.7.0.6 . tcp . 445 } }\n"
	" set con6 { type ipv6_addr . inet_proto . inet_service; flags timeout; counter; }\n"
	" set conp4 { type ipv4_addr . inet_proto; flags timeout; counter; }\n"
	" set conp6 { type ipv6_addr . inet_proto; flags timeout; counter; }\n"
	" set rem4 { type ipv4_addr; flags interval; }\n"
	" set rem6 { type ipv6_addr; flags interval; }\n"
	" set adm4 { type ipv4_addr; flags interval; }\n"
	" set adm6 { type ipv6_addr; flags interval; }\n"
	" chain iso_src4 { ip daddr @adm4 accept; ip daddr @rem4 accept; counter drop; }\n"
	" chain iso_src6 { icmpv6 type 133-137 accept; ip6 daddr @adm6 accept;\n"
	"  ip6 daddr @rem6 accept; counter drop; }\n"
	" chain iso_dst4 { ip saddr @adm4 accept; ip saddr @rem4 accept; counter drop; }\n"
	" chain iso_dst6 { ip6 saddr @adm6 accept; ip6 saddr @rem6 accept; counter drop; }\n"
	" chain iso_in4 { counter drop; }\n"
	" chain iso_in6 { icmpv6 type 133-137 accept; counter drop; }\n"
	" chain forward { type filter hook forward priority -10; policy accept;\n"
	"  ip saddr @iso4 goto iso_src4; ip daddr @iso4 goto iso_dst4;\n"
	"  ip saddr . meta l4proto . th dport @con4 counter drop;\n"
	"  ip saddr . meta l4proto @conp4 counter drop;\n"
	"  ip6 saddr @iso6 goto iso_src6; ip6 daddr @iso6 goto iso_dst6;\n"
	"  ip6 saddr . meta l4proto . th dport @con6 counter drop;\n"
	"  ip6 saddr . meta l4proto @conp6 counter drop; }\n"
	" chain input { type filter hook input priority -10; policy accept;\n"
	"  ip saddr @iso4 goto iso_in4; ip saddr . meta l4proto . th dport @con4 counter drop;\n"
	"  ip saddr . meta l4proto @conp4 counter drop; ip6 saddr @iso6 goto iso_in6;\n"
	"  ip6 saddr . meta l4proto . th dport @con6 counter drop;\n"
	"  ip6 saddr . meta l4proto @conp6 counter drop; }\n"
	"}\n";

/* The chain's listing without its first line, which names the table. */
static const char *chain_body(const char *listing)
{
	const char *nl = strchr(listing, '\n');

	return nl ? nl + 1 : listing;
}

static void test_adopt_old_layout(void **state)
{
	struct nft_params p = {.family = NFPROTO_INET};
	struct nft *o;
	struct elems iso = {0}, con = {0};
	struct nft_elem want_iso = E("10.7.0.5", 0, 0, 0);
	struct nft_elem want_con = E("10.7.0.6", IPPROTO_TCP, 445, 0);
	static char ours[8192], old[8192];
	char err[256];

	(void)state;
	if (!have_nft)
		skip();
	assert_int_equal(nft_f(old_layout), 0);
	strcpy(p.table, "qdold");
	assert_int_equal(nft_open(&p, &o), 0);
	assert_int_equal(nft_setup(o, NULL, NULL, err, sizeof(err)), 0);
	/* The old sets keep their elements; the MAC sets are new. */
	assert_int_equal(nft_list(o, NFT_SET_ISO4, collect_cb, &iso), 0);
	assert_int_equal(iso.n, 1);
	assert_non_null(find(&iso, &want_iso));
	assert_int_equal(iso.v[0].timeout_ms, 3600000);
	assert_int_equal(nft_list(o, NFT_SET_CON4, collect_cb, &con), 0);
	assert_int_equal(con.n, 1);
	assert_non_null(find(&con, &want_con));
	for (unsigned s = NFT_SET_ISOM; s <= NFT_SET_CONPM; s++) {
		unsigned c = 0;
		assert_int_equal(nft_list(o, (enum nft_set)s, count_cb, &c), 0);
		assert_int_equal(c, 0);
	}
	nft_close(o);
	/* Its chains are now exactly ours. */
	assert_int_equal(run("nft list chain inet qdold forward", old, sizeof(old)), 0);
	assert_int_equal(run("nft list chain inet quarantined forward", ours, sizeof(ours)), 0);
	assert_string_equal(chain_body(old), chain_body(ours));
	assert_int_equal(run("nft list chain inet qdold input", old, sizeof(old)), 0);
	assert_int_equal(run("nft list chain inet quarantined input", ours, sizeof(ours)), 0);
	assert_string_equal(chain_body(old), chain_body(ours));
	assert_int_equal(run("nft delete table inet qdold", old, sizeof(old)), 0);
}

/* A ruleset saved with `nft list ruleset` and restored at boot holds our
 * table as nft made it: its sets must be the same definitions as ours, or
 * the kernel refuses to adopt them (EEXIST). */
static void test_adopt_restored_ruleset(void **state)
{
	static char dump[65536], out[4096];
	char err[256];

	(void)state;
	if (!have_nft)
		skip();
	assert_int_equal(run("nft list table inet quarantined", dump, sizeof(dump)), 0);
	assert_int_equal(run("nft delete table inet quarantined", out, sizeof(out)), 0);
	assert_int_equal(nft_f(dump), 0);
	assert_int_equal(nft_setup(n, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(count(NFT_SET_ISO4), 1);
	assert_int_equal(count(NFT_SET_ISOM), 1);
	assert_int_equal(count(NFT_SET_CONM), 1);
	assert_int_equal(count(NFT_SET_CONPM), 2);
	assert_int_equal(run("nft list chain inet quarantined forward", out, sizeof(out)), 0);
	for (unsigned i = 0; i < ARRAY_SIZE(inet_forward_rules); i++)
		expect_has(out, inet_forward_rules[i]);
}

/* ---- late answers, timeouts, allocation failures ---- */

/* How long the handles below wait for the kernel. */
#define BOUND_MS 300

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A handle on table "qdlate", created or adopted, waiting BOUND_MS. */
static struct nft *open_late(void)
{
	struct nft_params p = {.family = NFPROTO_INET, .timeout_ms = BOUND_MS};
	struct nft *o;
	char err[256];

	strcpy(p.table, "qdlate");
	assert_int_equal(nft_open(&p, &o), 0);
	assert_int_equal(nft_setup(o, NULL, NULL, err, sizeof(err)), 0);
	return o;
}

static unsigned count_in(struct nft *o, enum nft_set s)
{
	unsigned c = 0;

	assert_int_equal(nft_list(o, s, count_cb, &c), 0);
	return c;
}

/* The elapsed time of a call that timed out: its bound, not much more. */
static void expect_bound(int64_t t0)
{
	int64_t ms = mono_ms() - t0;

	print_message("timed out after %lld ms (bound %d ms)\n", (long long)ms, BOUND_MS);
	if (ms < BOUND_MS || ms > BOUND_MS + 1000)
		fail_msg("timed out after %lld ms, bound %d ms", (long long)ms, BOUND_MS);
}

static void test_timeout_then_good(void **state)
{
	struct nft *o = open_late();
	struct nft_elem a = E("10.2.0.1", 0, 0, 0), b = E("10.2.0.2", 0, 0, 0);
	struct nft_op op = {.set = NFT_SET_ISO4, .elems = &a, .nelems = 1};
	uint64_t stale = nft_stale(o);
	int64_t t0;

	(void)state;
	hold = 1;
	t0 = mono_ms();
	assert_int_equal(nft_commit(o, &op, 1), -ETIMEDOUT);
	expect_bound(t0);
	/* It reaches the kernel late: its ACK waits in the socket, and the
	 * next transaction drains it first. */
	assert_true(release_held());
	op.elems = &b;
	assert_int_equal(nft_commit(o, &op, 1), 0);
	assert_int_equal(op.error, 0);
	assert_int_equal(nft_stale(o), stale + 1);
	/* The late one was applied too: the state after a timeout is unknown,
	 * which is why the caller reads it back. */
	assert_int_equal(count_in(o, NFT_SET_ISO4), 2);
	nft_close(o);
}

static void test_stale_error_ack_first(void **state)
{
	struct nft *o = open_late();
	struct nft_elem gone = E("10.2.9.9", 0, 0, 0), c = E("10.2.0.3", 0, 0, 0);
	struct nft_elem port = E("10.2.0.4", IPPROTO_TCP, 445, 0);
	struct nft_op bad = {.set = NFT_SET_ISO4, .del = true, .elems = &gone, .nelems = 1};
	struct nft_op good[2] = {
		{.set = NFT_SET_ISO4, .elems = &c, .nelems = 1},
		{.set = NFT_SET_CON4, .elems = &port, .nelems = 1},
	};
	unsigned before = count_in(o, NFT_SET_ISO4);
	uint64_t stale;

	(void)state;
	hold = 1;
	assert_int_equal(nft_commit(o, &bad, 1), -ETIMEDOUT);
	/* The refused transaction reaches the kernel just before the next
	 * one, after its drain: its error ACK (ENOENT, a sequence number of
	 * the earlier batch) comes before the next one's ACKs and must not
	 * void it. */
	stale = nft_stale(o);
	release_first = true;
	assert_int_equal(nft_commit(o, good, 2), 0);
	assert_false(release_first);
	assert_int_equal(good[0].error, 0);
	assert_int_equal(good[1].error, 0);
	assert_int_equal(nft_stale(o), stale + 1);
	assert_int_equal(count_in(o, NFT_SET_ISO4), before + 1);
	assert_int_equal(count_in(o, NFT_SET_CON4), 1);
	nft_close(o);
}

static void test_list_timeout(void **state)
{
	struct nft *o = open_late();
	struct nft_elem gone = E("10.2.9.9", 0, 0, 0);
	struct nft_op bad = {.set = NFT_SET_ISO4, .del = true, .elems = &gone, .nelems = 1};
	unsigned want = count_in(o, NFT_SET_ISO4), c = 0;
	uint64_t stale = nft_stale(o);
	int64_t t0;

	(void)state;
	assert_true(want > 0);
	/* A kernel that never answers the listing. */
	hold = 1;
	t0 = mono_ms();
	assert_int_equal(nft_list(o, NFT_SET_ISO4, count_cb, &c), -ETIMEDOUT);
	expect_bound(t0);
	assert_int_equal(c, 0);
	/* Its answer comes late: the next listing drains it (reading it to
	 * its end, so that the kernel takes a new one) and counts only its
	 * own elements. */
	assert_true(release_held());
	assert_int_equal(count_in(o, NFT_SET_ISO4), want);
	assert_true(nft_stale(o) >= stale + 2); /* the elements and DONE */
	/* A refused transaction's error ACK that comes during a listing. */
	hold = 1;
	assert_int_equal(nft_commit(o, &bad, 1), -ETIMEDOUT);
	stale = nft_stale(o);
	release_first = true;
	assert_int_equal(count_in(o, NFT_SET_ISO4), want);
	assert_int_equal(nft_stale(o), stale + 1);
	assert_int_equal(nft_list(o, NFT_SET_COUNT, count_cb, &c), -EINVAL);
	nft_close(o);
}

/* Every fallible call of open, setup, commit and listing fails in turn:
 * each returns -ENOMEM, with nothing sent when it fails while building,
 * and the next call works.  Leaks would show under AddressSanitizer
 * (tests/run.sh runs the unit tests in build-asan). */
static void test_alloc_failure(void **state)
{
	struct nft_params p = {.family = NFPROTO_INET};
	struct prefix v[3];
	struct prefix_list rem = {.v = v, .n = 3};
	struct nft_elem iso = E("10.3.0.1", 0, 0, 60000);
	struct nft_elem con = E("10.3.0.1", IPPROTO_TCP, 445, 60000);
	struct nft_op ops[2] = {
		{.set = NFT_SET_ISO4, .elems = &iso, .nelems = 1},
		{.set = NFT_SET_CON4, .elems = &con, .nelems = 1},
	};
	struct elems got;
	struct nft *o;
	char err[256];
	unsigned k, before;
	int r;

	(void)state;
	strcpy(p.table, "qdoom");
	for (unsigned i = 0; i < 3; i++) {
		char b[32];
		snprintf(b, sizeof(b), "10.4.%u.0", i);
		assert_int_equal(addr_parse(b, &v[i].addr), 0);
		v[i].plen = 24;
	}
	for (k = 1;; k++) {
		fail_arm(k);
		r = nft_open(&p, &o);
		fail_arm(0);
		if (r == 0)
			break;
		assert_int_equal(r, -ENOMEM);
	}
	assert_true(k > 2);
	for (k = 1;; k++) {
		before = sends;
		fail_arm(k);
		r = nft_setup(o, &rem, NULL, err, sizeof(err));
		fail_arm(0);
		if (r == 0)
			break;
		assert_int_equal(r, -ENOMEM);
		assert_int_equal(sends, before);
		expect_has(err, "Cannot allocate memory");
	}
	/* Every table, set, chain, rule and expression: hundreds of calls. */
	assert_true(k > 200);
	assert_int_equal(count_in(o, NFT_SET_REM4), 6);
	for (k = 1;; k++) {
		before = sends;
		fail_arm(k);
		r = nft_commit(o, ops, 2);
		fail_arm(0);
		if (r == 0)
			break;
		assert_int_equal(r, -ENOMEM);
		assert_int_equal(sends, before);
		assert_int_equal(count_in(o, NFT_SET_ISO4), 0);
	}
	assert_true(k > 5);
	for (k = 1;; k++) {
		memset(&got, 0, sizeof(got));
		fail_arm(k);
		r = nft_list(o, NFT_SET_CON4, collect_cb, &got);
		fail_arm(0);
		if (r == 0)
			break;
		/* Before sending or while reading: the listing is read to its
		 * end either way, and the next one works. */
		assert_int_equal(r, -ENOMEM);
	}
	assert_true(k > 2);
	assert_int_equal(got.n, 1);
	assert_non_null(find(&got, &con));
	nft_close(o);
}

static void test_op_too_large(void **state)
{
	static struct nft_elem many[NFT_OP_MAX_ELEMS + 1];
	struct nft_op op = {.set = NFT_SET_ISO4, .elems = many, .nelems = NFT_OP_MAX_ELEMS + 1};
	unsigned before = sends;

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(many); i++) {
		const uint8_t a[4] = {10, 5, (uint8_t)(i >> 8), (uint8_t)i};
		addr_set_v4(&many[i].addr, a);
	}
	/* Refused before sending: one message must fit in a batch page. */
	assert_int_equal(nft_commit(n, &op, 1), -EINVAL);
	assert_int_equal(op.error, -EINVAL);
	assert_int_equal(sends, before);
	op.nelems = NFT_OP_MAX_ELEMS;
	op.del = false;
	assert_int_equal(nft_commit(n, &op, 1), 0);
	op.del = true;
	assert_int_equal(nft_commit(n, &op, 1), 0);
}

/* With outbreak mode on, the table as `nft list table` prints it (what
 * `nft list ruleset` saves) reads back with `nft -f` (what a restore at
 * boot does) into the same table, listed the same; then a setup adopts
 * it and lists the same again.  (The kernel's element counts may differ
 * meanwhile: nft adds an interval end of its own before a set's first
 * interval.) */
static void round_trip(void)
{
	static char dump[262144], again[262144], out[4096];
	char err[256];

	assert_int_equal(run("nft list table inet quarantined", dump, sizeof(dump)), 0);
	expect_has(dump, "@obb4_1");
	assert_int_equal(run("nft delete table inet quarantined", out, sizeof(out)), 0);
	if (nft_f(dump) != 0)
		fail_msg("nft -f refused the listing:\n%s", dump);
	assert_int_equal(run("nft list table inet quarantined", again, sizeof(again)), 0);
	assert_string_equal(dump, again);
	assert_int_equal(nft_setup(n, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(run("nft list table inet quarantined", again, sizeof(again)), 0);
	assert_string_equal(dump, again);
	assert_int_equal(count(NFT_SET_OBG4), 2);
	assert_int_equal(count(NFT_SET_OBB4 + 0), 6);
	assert_int_equal(count(NFT_SET_OBB6 + 1), 2);
}

/* Outbreak mode: groups with adjacent and nested ranges of both
 * families go in, the chain's rules read back as nft prints them, a
 * setup keeps them, and off empties chain and sets in one transaction. */
static void test_outbreak(void **state)
{
	static char chain[16384];
	struct ob_prefix in[] = {
		{.group = 1}, /* 10.0.0.0/8, unassigned */
		{.group = 2}, /* 10.1.0.0/24 */
		{.group = 3}, /* 10.1.1.0/24: adjacent */
		{.group = 3}, /* 10.1.0.20/32: nested */
		{.group = 2}, /* fd00:1::/64 */
	};
	static const char *const nets[] = {"10.0.0.0", "10.1.0.0", "10.1.1.0", "10.1.0.20",
					   "fd00:1::"};
	static const unsigned plens[] = {8, 24, 24, 32, 64};
	struct ob_range *g4, *g6, e4 = {.group = 1};
	struct outbreak_service svc[] = {{IPPROTO_UDP, 53}, {IPPROTO_TCP, 53}};
	struct prefix_list none = {0};
	struct nft_outbreak ob = {.on = true, .ngroups = 4, .svc = svc, .nsvc = 2};
	char err[256];
	int n4, n6;

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(in); i++) {
		assert_int_equal(addr_parse(nets[i], &in[i].net.addr), 0);
		in[i].net.plen = (uint8_t)plens[i];
	}
	n4 = ob_flatten(in, ARRAY_SIZE(in), AF_INET, &g4);
	n6 = ob_flatten(in, ARRAY_SIZE(in), AF_INET6, &g6);
	assert_int_equal(n4, 6);
	assert_int_equal(n6, 1);
	assert_int_equal(addr_parse("10.0.0.53", &e4.lo), 0);
	e4.hi = e4.lo;
	ob.g4 = g4, ob.ng4 = (unsigned)n4, ob.g6 = g6, ob.ng6 = (unsigned)n6;
	ob.e4 = &e4, ob.ne4 = 1;
	assert_int_equal(nft_setup(n, &none, &none, err, sizeof(err)), 0);
	assert_int_equal(nft_outbreak(n, &ob, true, err, sizeof(err)), 0);
	/* Each interval a start and an end; ranges that follow each other
	 * in a set are one interval: obg4 is all of 10.0.0.0/8. */
	assert_int_equal(count(NFT_SET_OBG4), 2);
	assert_int_equal(count(NFT_SET_OBG6), 2);
	/* Bit 0, groups 1 and 3: 10.0.0.0/16, 10.1.0.20, 10.1.1.0 to the
	 * end of 10/8.  Bit 1, groups 2 and 3: 10.1.0.0 - 10.1.1.255. */
	assert_int_equal(count(NFT_SET_OBB4 + 0), 6);
	assert_int_equal(count(NFT_SET_OBB4 + 1), 2);
	assert_int_equal(count(NFT_SET_OBB4 + 2), 0);
	assert_int_equal(count(NFT_SET_OBB6 + 0), 0);
	assert_int_equal(count(NFT_SET_OBB6 + 1), 2);
	assert_int_equal(count(NFT_SET_OBS), 2);
	assert_int_equal(count(NFT_SET_OBE4), 2);
	free(g4);
	free(g6);
	/* The copy kept is what a setup puts back. */
	assert_int_equal(nft_setup(n, &none, &none, err, sizeof(err)), 0);
	assert_int_equal(count(NFT_SET_OBG4), 2);
	assert_int_equal(count(NFT_SET_OBB4 + 0), 6);
	if (have_nft) {
		assert_int_equal(
			run("nft list chain inet quarantined outbreak", chain, sizeof(chain)), 0);
		expect_has(chain, "ip saddr @obe4 return\n");
		expect_has(chain, "ip6 daddr @adm6 return\n");
		expect_has(chain, "meta l4proto . th dport @obs return\n");
		/* Answers by their source port, in the reply direction of
		 * their flow only. */
		expect_has(chain, "ct direction reply meta l4proto . th sport @obs return\n");
		assert_null(strstr(chain, "proto-dst"));
		/* Two rules per bit of the highest id (3: two bits), plain
		 * set lookups. */
		expect_has(chain, "ip saddr @obb4_1 ip daddr != @obb4_1 ip daddr @obg4 counter "
				  "packets 0 bytes 0 drop\n");
		expect_has(chain, "ip saddr != @obb4_1 ip saddr @obg4 ip daddr @obb4_1 counter "
				  "packets 0 bytes 0 drop\n");
		expect_has(chain, "ip6 saddr @obb6_0 ip6 daddr != @obb6_0 ip6 daddr @obg6 counter "
				  "packets 0 bytes 0 drop\n");
		expect_has(chain, "ip6 saddr != @obb6_0 ip6 saddr @obg6 ip6 daddr @obb6_0 counter "
				  "packets 0 bytes 0 drop\n");
		assert_null(strstr(chain, "@obb4_2"));
		assert_null(strstr(chain, "map"));
		assert_null(strstr(chain, "invalid"));
		assert_int_equal(
			run("nft list chain inet quarantined forward", chain, sizeof(chain)), 0);
		expect_has(chain, "jump outbreak\n");
		round_trip();
	}
	/* More group ids than NFT_OB_BITS bits hold: refused, nothing sent,
	 * the copy kept is the one before. */
	ob.ngroups = NFT_OB_GROUP_MAX + 2;
	ob.g4 = ob.g6 = NULL, ob.ng4 = ob.ng6 = 0;
	assert_int_equal(nft_outbreak(n, &ob, true, err, sizeof(err)), -E2BIG);
	print_message("%s\n", err);
	assert_int_equal(count(NFT_SET_OBG4), 2);
	/* Off reads none of the arrays (freed above). */
	ob.on = false;
	assert_int_equal(nft_outbreak(n, &ob, true, err, sizeof(err)), 0);
	assert_int_equal(count(NFT_SET_OBG4), 0);
	assert_int_equal(count(NFT_SET_OBB4 + 0), 0);
	assert_int_equal(count(NFT_SET_OBB6 + 1), 0);
	assert_int_equal(count(NFT_SET_OBS), 0);
	if (have_nft) {
		assert_int_equal(
			run("nft list chain inet quarantined outbreak", chain, sizeof(chain)), 0);
		assert_null(strstr(chain, "@obg4"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outbreak),
		cmocka_unit_test(test_setup_many_networks),
		cmocka_unit_test(test_commit_and_list),
		cmocka_unit_test(test_delete_missing_fails_whole_batch),
		cmocka_unit_test(test_set_kinds),
		cmocka_unit_test(test_mac_sets_defined),
		cmocka_unit_test(test_mac_commit_and_list),
		cmocka_unit_test(test_mac_delete_missing_fails_whole_batch),
		cmocka_unit_test(test_mac_family_mismatch),
		cmocka_unit_test(test_mac_rules_inet),
		cmocka_unit_test(test_peer_sets_defined),
		cmocka_unit_test(test_peer_commit_and_list),
		cmocka_unit_test(test_peer_family_mismatch),
		cmocka_unit_test(test_peer_rules),
		cmocka_unit_test(test_mac_rules_bridge),
		cmocka_unit_test(test_adopt_old_layout),
		cmocka_unit_test(test_adopt_restored_ruleset),
		cmocka_unit_test(test_timeout_then_good),
		cmocka_unit_test(test_stale_error_ack_first),
		cmocka_unit_test(test_list_timeout),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_op_too_large),
	};
	struct nft_params p = {.family = NFPROTO_INET};

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: needs root for a private network namespace\n");
		return 77;
	}
	strcpy(p.table, "quarantined");
	have_nft = system("nft --version >/dev/null 2>&1") == 0;
	if (!have_nft)
		printf("# no nft(8): the checks of nft's listing are skipped\n");
	if (nft_open(&p, &n) < 0) {
		printf("SKIP: no nf_tables\n");
		return 77;
	}
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	nft_close(n);
	return r;
}
