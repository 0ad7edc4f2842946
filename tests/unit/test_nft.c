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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <linux/netfilter.h>

#include "nft.h"
#include "types.h"

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
		bool mac = s == NFT_SET_ISOM || s == NFT_SET_CONM || s == NFT_SET_CONPM;
		assert_int_equal(nft_set_is_mac(s), mac);
		if (mac)
			assert_false(nft_set_is_v6(s));
	}
	assert_string_equal(nft_set_name(NFT_SET_ISOM), "isom");
	assert_string_equal(nft_set_name(NFT_SET_CONM), "conm");
	assert_string_equal(nft_set_name(NFT_SET_CONPM), "conpm");
	assert_false(nft_set_is_mac(NFT_SET_COUNT));
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
			assert_non_null(e);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setup_many_networks),
		cmocka_unit_test(test_commit_and_list),
		cmocka_unit_test(test_delete_missing_fails_whole_batch),
		cmocka_unit_test(test_set_kinds),
		cmocka_unit_test(test_mac_sets_defined),
		cmocka_unit_test(test_mac_commit_and_list),
		cmocka_unit_test(test_mac_delete_missing_fails_whole_batch),
		cmocka_unit_test(test_mac_family_mismatch),
		cmocka_unit_test(test_mac_rules_inet),
		cmocka_unit_test(test_mac_rules_bridge),
		cmocka_unit_test(test_adopt_old_layout),
		cmocka_unit_test(test_adopt_restored_ruleset),
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
