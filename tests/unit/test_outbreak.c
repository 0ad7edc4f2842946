/* Unit tests for outbreak mode's groups: the inventory's networks
 * flattened into disjoint ranges (nested, adjacent, identical, IPv6), and
 * the grouping by department, floor and subnet. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "outbreak.h"

static struct ob_prefix P(const char *cidr, uint32_t group) {
	struct ob_prefix p;
	unsigned plen;

	memset(&p, 0, sizeof(p));
	assert_int_equal(addr_parse_prefix(cidr, &p.net.addr, &plen), 0);
	p.net.plen = (uint8_t)plen;
	p.group = group;
	return p;
}

/* Range i is lo-hi of group. */
static void
R(const struct ob_range *v, unsigned i, const char *lo, const char *hi, uint32_t group)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	addr_ntop(&v[i].lo, a);
	addr_ntop(&v[i].hi, b);
	assert_string_equal(a, lo);
	assert_string_equal(b, hi);
	assert_int_equal(v[i].group, group);
}

static void test_nested(void **state)
{
	/* A named /32 of another group inside a department's /24, inside
	 * a protected /8, listed in no particular order. */
	struct ob_prefix in[] = {
		P("10.1.0.20/32", 3),
		P("10.0.0.0/8", 1),
		P("10.1.0.0/24", 2),
	};
	struct ob_range *v;
	int n = ob_flatten(in, 3, AF_INET, &v);

	(void)state;
	assert_int_equal(n, 5);
	R(v, 0, "10.0.0.0", "10.0.255.255", 1);
	R(v, 1, "10.1.0.0", "10.1.0.19", 2);
	R(v, 2, "10.1.0.20", "10.1.0.20", 3);
	R(v, 3, "10.1.0.21", "10.1.0.255", 2);
	R(v, 4, "10.1.1.0", "10.255.255.255", 1);
	free(v);
}

static void test_inherit(void **state)
{
	/* A named server without a department stays in the department
	 * around it, and is merged with it; one outside every network has
	 * no group and is left out. */
	struct ob_prefix in[] = {
		P("10.1.0.0/24", 2),
		P("10.1.0.7/32", OUTBREAK_GROUP_INHERIT),
		P("192.0.2.1/32", OUTBREAK_GROUP_INHERIT),
	};
	struct ob_range *v;
	int n = ob_flatten(in, 3, AF_INET, &v);

	(void)state;
	assert_int_equal(n, 1);
	R(v, 0, "10.1.0.0", "10.1.0.255", 2);
	free(v);
}

static void test_adjacent(void **state)
{
	/* Adjacent networks of different groups stay apart; of one group
	 * they become one range. */
	struct ob_prefix in[] = {
		P("10.1.1.0/24", 3),
		P("10.1.0.0/24", 2),
		P("10.1.2.0/23", 3),
	};
	struct ob_range *v;
	int n = ob_flatten(in, 3, AF_INET, &v);

	(void)state;
	assert_int_equal(n, 2);
	R(v, 0, "10.1.0.0", "10.1.0.255", 2);
	R(v, 1, "10.1.1.0", "10.1.3.255", 3);
	free(v);
}

static void test_identical(void **state)
{
	/* The later of two identical networks wins, and nothing doubles. */
	struct ob_prefix in[] = {
		P("10.1.0.0/24", 2),
		P("10.1.0.0/24", 3),
		P("10.1.0.128/25", 4),
		P("10.1.0.128/25", 4),
	};
	struct ob_range *v;
	int n = ob_flatten(in, 4, AF_INET, &v);

	(void)state;
	assert_int_equal(n, 2);
	R(v, 0, "10.1.0.0", "10.1.0.127", 3);
	R(v, 1, "10.1.0.128", "10.1.0.255", 4);
	free(v);
}

static void test_edges(void **state)
{
	/* The whole space, with networks at its bottom and its top. */
	struct ob_prefix in[] = {
		P("0.0.0.0/0", 1),
		P("0.0.0.0/24", 2),
		P("255.255.255.255/32", 3),
	};
	struct ob_range *v;
	int n = ob_flatten(in, 3, AF_INET, &v);

	(void)state;
	assert_int_equal(n, 3);
	R(v, 0, "0.0.0.0", "0.0.0.255", 2);
	R(v, 1, "0.0.1.0", "255.255.255.254", 1);
	R(v, 2, "255.255.255.255", "255.255.255.255", 3);
	free(v);
	assert_int_equal(ob_flatten(in, 0, AF_INET, &v), 0);
	assert_null(v);
}

static void test_ipv6(void **state)
{
	/* Families apart; IPv6 nested and adjacent /64s. */
	struct ob_prefix in[] = {
		P("fd00::/8", 1),	    P("fd00:0:0:1::/64", 2), P("fd00:0:0:2::/64", 3),
		P("fd00:0:0:2::53/128", 4), P("10.1.0.0/24", 5),
	};
	struct ob_range *v;
	int n = ob_flatten(in, 5, AF_INET6, &v);

	(void)state;
	assert_int_equal(n, 6);
	R(v, 0, "fd00::", "fd00::ffff:ffff:ffff:ffff", 1);
	R(v, 1, "fd00:0:0:1::", "fd00::1:ffff:ffff:ffff:ffff", 2);
	R(v, 2, "fd00:0:0:2::", "fd00:0:0:2::52", 3);
	R(v, 3, "fd00:0:0:2::53", "fd00:0:0:2::53", 4);
	R(v, 4, "fd00:0:0:2::54", "fd00::2:ffff:ffff:ffff:ffff", 3);
	R(v, 5, "fd00:0:0:3::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1);
	free(v);
}

/* Random nested networks: every address sampled is in the group of the
 * most specific network that holds it, as a plain scan finds it. */
static void test_random(void **state)
{
	struct ob_prefix in[64];
	struct ob_range *v;
	unsigned seed = 12345;
	int n;

	(void)state;
	for (unsigned i = 0; i < 64; i++) {
		unsigned plen = 20 + rand_r(&seed) % 13;
		uint8_t b[4] = {10, 1, (uint8_t)(rand_r(&seed) % 16), (uint8_t)rand_r(&seed)};

		memset(&in[i], 0, sizeof(in[i]));
		addr_set_v4(&in[i].net.addr, b);
		addr_mask(&in[i].net.addr, plen);
		in[i].net.plen = (uint8_t)plen;
		in[i].group = 1 + rand_r(&seed) % 5;
	}
	n = ob_flatten(in, 64, AF_INET, &v);
	assert_true(n > 0);
	for (unsigned i = 1; i < (unsigned)n; i++)
		assert_true(memcmp(v[i - 1].hi.b, v[i].lo.b, 4) < 0);
	for (unsigned x = 0; x < 16 * 256; x++) {
		uint8_t b[4] = {10, 1, (uint8_t)(x / 256), (uint8_t)x};
		struct qaddr a;
		uint32_t want = 0, got = 0;
		int best = -1;

		addr_set_v4(&a, b);
		for (unsigned i = 0; i < 64; i++)
			if (addr_in_prefix(&a, &in[i].net.addr, in[i].net.plen) &&
			    (int)in[i].net.plen >= best) {
				best = in[i].net.plen;
				want = in[i].group;
			}
		for (unsigned i = 0; i < (unsigned)n; i++)
			if (memcmp(v[i].lo.b, b, 4) <= 0 && memcmp(b, v[i].hi.b, 4) <= 0)
				got = v[i].group;
		assert_int_equal(got, want);
	}
	free(v);
}

static const char inventory_conf[] =
	"networks: { protected = [ \"10.0.0.0/8\", \"fd00::/8\" ]; };\n"
	"inventory = (\n"
	"  { net = \"10.1.0.0/24\"; department = \"finance\"; floor = 3; },\n"
	"  { net = \"10.1.0.10/32\"; name = \"fs\"; },\n"
	"  { net = \"10.1.0.11/32\"; name = \"lab\"; department = \"engineering\"; },\n"
	"  { net = \"10.2.0.0/24\"; department = \"engineering\"; floor = 3; },\n"
	"  { net = \"fd00:0:0:1::/64\"; department = \"finance\"; },\n"
	"  { net = \"192.168.7.0/24\"; department = \"finance\"; },\n"
	"  { net = \"0.0.0.0/0\"; department = \"world\"; },\n"
	"  { mac = \"52:54:00:00:00:01\"; name = \"laptop\"; department = \"finance\"; }\n"
	");\n";

static void load(struct conf *c, const char *text)
{
	char path[] = "/tmp/test_outbreak.XXXXXX";
	struct conf_diags d;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	memset(&d, 0, sizeof(d));
	assert_int_equal(conf_load(c, path, &d), 0);
	unlink(path);
}

static uint32_t group_of(const struct ob_groups *g, const char *s)
{
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return ob_groups_find(g, &a);
}

static void test_groups(void **state)
{
	struct conf c;
	struct ob_groups g;
	uint32_t fin, eng;

	(void)state;
	load(&c, inventory_conf);
	assert_int_equal(ob_groups_build(&c, OUTBREAK_BY_DEPARTMENT, &g), 0);
	fin = group_of(&g, "10.1.0.5");
	eng = group_of(&g, "10.2.0.5");
	assert_string_equal(g.names[fin], "finance");
	assert_string_equal(g.names[eng], "engineering");
	assert_int_equal(g.ngroups, 4); /* unused 0, unassigned, finance, engineering */
	assert_int_equal(group_of(&g, "10.1.0.10"), fin); /* inherits */
	assert_int_equal(group_of(&g, "10.1.0.11"), eng); /* its own */
	assert_int_equal(group_of(&g, "10.9.9.9"), OUTBREAK_GROUP_UNASSIGNED);
	assert_int_equal(group_of(&g, "192.168.1.1"), 0); /* not protected */
	/* Inventory networks outside the protected ones, or wider than
	 * them, are no group. */
	assert_int_equal(group_of(&g, "192.168.7.1"), 0);
	assert_int_equal(group_of(&g, "8.8.8.8"), 0);
	assert_int_equal(group_of(&g, "fd00::1:0:0:0:99"), fin);
	assert_int_equal(group_of(&g, "fd00::2:0:0:0:99"), OUTBREAK_GROUP_UNASSIGNED);
	ob_groups_fini(&g);

	/* Machines by MAC: the laptop (a MAC only) takes its department's
	 * group. */
	assert_int_equal(ob_groups_build(&c, OUTBREAK_BY_DEPARTMENT, &g), 0);
	{
		struct ob_mac *m;
		int n = ob_groups_macs(&c, &g, 2, &m);

		assert_int_equal(n, 1);
		assert_int_equal(m[0].mac[5], 1);
		assert_int_equal(m[0].group, fin);
		free(m);
	}
	ob_groups_fini(&g);

	/* By floor: both departments are on floor 3; the lab entry has no
	 * floor and inherits finance's /24's. */
	assert_int_equal(ob_groups_build(&c, OUTBREAK_BY_FLOOR, &g), 0);
	assert_string_equal(g.names[group_of(&g, "10.1.0.5")], "floor 3");
	assert_int_equal(group_of(&g, "10.1.0.5"), group_of(&g, "10.2.0.5"));
	assert_int_equal(group_of(&g, "10.1.0.11"), group_of(&g, "10.2.0.5"));
	assert_int_equal(group_of(&g, "fd00::1:0:0:0:99"), OUTBREAK_GROUP_UNASSIGNED);
	ob_groups_fini(&g);

	/* By subnet: each network that is not a single host. */
	assert_int_equal(ob_groups_build(&c, OUTBREAK_BY_SUBNET, &g), 0);
	assert_string_equal(g.names[group_of(&g, "10.1.0.5")], "10.1.0.0/24");
	assert_string_equal(g.names[group_of(&g, "10.1.0.11")], "10.1.0.0/24");
	assert_string_equal(g.names[group_of(&g, "10.2.0.5")], "10.2.0.0/24");
	assert_string_equal(g.names[group_of(&g, "fd00::1:0:0:0:1")], "fd00:0:0:1::/64");
	ob_groups_fini(&g);
	conf_fini(&c);
}

static void test_essential(void **state)
{
	/* Overlapping essential servers merge into disjoint ranges. */
	struct conf c;
	struct ob_range *v;
	int n;

	(void)state;
	load(&c, "networks: { never_block = [ \"10.0.0.0/30\", \"10.0.0.2/32\" ]; };\n"
		 "outbreak: { essential = [ \"10.0.0.4/32\", \"10.0.0.53/32\", \"fd00::53/128\" ];"
		 " services = [ \"udp/53\", \"tcp/445\" ]; by = \"floor\"; factor = 0.25;"
		 " contain_watch = false; };\n");
	assert_int_equal(c.outbreak.by, OUTBREAK_BY_FLOOR);
	assert_int_equal(c.outbreak.nservices, 2);
	assert_int_equal(c.outbreak.services[1].port, 445);
	assert_true(c.outbreak.factor == 0.25);
	assert_false(c.outbreak.contain_watch);
	const struct prefix_list *lists[] = {&c.outbreak.essential, NULL, &c.networks.never_block};

	n = ob_flatten_lists(lists, 3, AF_INET, &v);
	assert_int_equal(n, 2);
	R(v, 0, "10.0.0.0", "10.0.0.4", 1);
	R(v, 1, "10.0.0.53", "10.0.0.53", 1);
	free(v);
	n = ob_flatten_lists(lists, 1, AF_INET6, &v);
	assert_int_equal(n, 1);
	free(v);
	conf_fini(&c);
}

static void test_conf_errors(void **state)
{
	static const char *const bad[] = {
		"outbreak: { by = \"building\"; };",
		"outbreak: { services = [ \"icmp/1\" ]; };",
		"outbreak: { services = [ \"udp/0\" ]; };",
		"outbreak: { services = [ \"udp/65536\" ]; };",
		"outbreak: { services = [ \"tcp/53x\" ]; };",
		"outbreak: { factor = 0; };",
		"outbreak: { factor = 1.5; };",
		"outbreak: { essential = [ \"10.0.0.1/8\" ]; };",
		"outbreak: { thresholds = 2; };",
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[] = "/tmp/test_outbreak.XXXXXX";
		struct conf_diags d;
		struct conf c;
		int fd = mkstemp(path);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
		close(fd);
		memset(&d, 0, sizeof(d));
		assert_int_equal(conf_load(&c, path, &d), -EINVAL);
		assert_true(d.n >= 1);
		unlink(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested),	  cmocka_unit_test(test_inherit),
		cmocka_unit_test(test_adjacent),  cmocka_unit_test(test_identical),
		cmocka_unit_test(test_edges),	  cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_random),	  cmocka_unit_test(test_groups),
		cmocka_unit_test(test_essential), cmocka_unit_test(test_conf_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
