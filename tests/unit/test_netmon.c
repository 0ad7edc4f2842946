/* Unit tests for netmon against the real kernel.
 *
 * Needs root (CAP_SYS_ADMIN for unshare(CLONE_NEWNET), CAP_NET_ADMIN for
 * "ip addr"): it skips with exit code 77 otherwise.  Everything happens in
 * a private network namespace that holds only lo and a dummy interface (or
 * a veth pair with both ends inside); nothing is connected to any other
 * namespace, so nothing leaves it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "netmon.h"

#define WAIT_MS 3000 /* a notification arrives in microseconds; this is slack */

static bool have_ipv6;

static void sh(const char *cmd)
{
	int r = system(cmd);

	if (r != 0)
		print_message("command failed (%d): %s\n", r, cmd);
	assert_int_equal(r, 0);
}

/* Adds or deletes ("add", "del") 10.66.0.0/16 addresses number from to
 * to-1 on qd0, through "ip -batch -": hundreds of changes in one go. */
static void ip_batch(const char *verb, unsigned from, unsigned to)
{
	FILE *f = popen("ip -batch -", "w");

	assert_non_null(f);
	for (unsigned i = from; i < to; i++)
		fprintf(f, "addr %s 10.66.%u.%u/32 dev qd0\n", verb, i / 256, i % 256);
	assert_int_equal(pclose(f), 0);
}

/* A second interface, qd0: a dummy, or where the kernel has no dummy
 * driver (some CI kernels), one end of a veth pair whose other end, qd0p,
 * stays in this namespace too. */
static void add_qd0(void)
{
	sh("{ ip link add qd0 type dummy 2>/dev/null ||"
	   " ip link add qd0 type veth peer name qd0p; } && ip link set qd0 up");
}

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static bool
is_self(const struct netmon *m, const char *s)
{
	struct qaddr a = A(s);

	return netmon_is_self(m, &a);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* What netmon_read() returned, as bits: 1 changed, 2 -ENOBUFS, 4 -ENOSPC.
 * Anything else fails the test. */
static unsigned read_bits(struct netmon *m)
{
	int r = netmon_read(m);

	switch (r) {
	case 0:
		return 0;
	case 1:
		return 1;
	case -ENOBUFS:
		return 2;
	case -ENOSPC:
		return 4;
	default:
		fail_msg("netmon_read: %d (%s)", r, strerror(-r));
	}
	return 0;
}

/* Polls and reads until s is (want) one of ours; returns read_bits() of
 * every read, OR-ed. */
static unsigned wait_self(struct netmon *m, const char *s, bool want)
{
	uint64_t end = now_ms() + WAIT_MS;
	unsigned seen = 0;

	while (is_self(m, s) != want) {
		struct pollfd pfd = {.fd = netmon_fd(m), .events = POLLIN};
		uint64_t t = now_ms();

		if (t >= end)
			fail_msg("%s did not become %s", s, want ? "ours" : "not ours");
		assert_true(poll(&pfd, 1, (int)(end - t)) >= 0);
		seen |= read_bits(m);
	}
	return seen;
}

/* Reads whatever arrives until 200 ms pass without anything; returns
 * read_bits() of every read, OR-ed. */
static unsigned drain(struct netmon *m)
{
	struct pollfd pfd = {.fd = netmon_fd(m), .events = POLLIN};
	unsigned seen = 0;

	while (poll(&pfd, 1, 200) > 0)
		seen |= read_bits(m);
	return seen;
}

static int setup(void **state)
{
	struct netmon *m = NULL;
	int r = netmon_open(&m);

	if (r < 0) {
		print_message("netmon_open: %s\n", strerror(-r));
		return -1;
	}
	*state = m;
	return 0;
}

/* Leaves the namespace as setup() found it, whatever a test did. */
static int teardown(void **state)
{
	int r;

	netmon_close(*state);
	r = system("ip link del qd0 2>/dev/null; ip addr flush dev lo scope global");
	return r == 0 ? 0 : -1;
}

/* The dump at open finds what is already there. */
static void test_initial(void **state)
{
	struct netmon *m = *state;
	const struct qaddr *v;
	unsigned n = netmon_addrs(m, &v);

	assert_true(is_self(m, "127.0.0.1"));
	assert_true(n >= 1);
	if (have_ipv6)
		assert_true(is_self(m, "::1"));
	assert_false(is_self(m, "10.66.0.1"));
	assert_int_equal(netmon_read(m), 0); /* nothing pending */
}

static void test_add_del_lo(void **state)
{
	struct netmon *m = *state;

	sh("ip addr add 10.66.1.1/24 dev lo");
	assert_true(wait_self(m, "10.66.1.1", true) & 1);
	assert_false(is_self(m, "10.66.1.2")); /* the prefix is not ours */
	sh("ip addr del 10.66.1.1/24 dev lo");
	assert_true(wait_self(m, "10.66.1.1", false) & 1);
	if (have_ipv6) {
		sh("ip addr add fd66::1:1/64 dev lo");
		wait_self(m, "fd66::1:1", true);
		sh("ip addr del fd66::1:1/64 dev lo");
		wait_self(m, "fd66::1:1", false);
	}
}

static void test_dummy(void **state)
{
	struct netmon *m = *state;
	const struct qaddr *v;
	unsigned n0 = netmon_addrs(m, &v);

	add_qd0();
	sh("ip addr add 10.66.2.1/24 dev qd0");
	wait_self(m, "10.66.2.1", true);
	if (have_ipv6) {
		sh("ip addr add fd66::2:1/64 dev qd0 nodad");
		wait_self(m, "fd66::2:1", true);
	}

	/* Point-to-point: our end (IFA_LOCAL), not the peer (IFA_ADDRESS). */
	sh("ip addr add 10.66.3.1 peer 10.66.3.2 dev qd0");
	wait_self(m, "10.66.3.1", true);
	assert_false(is_self(m, "10.66.3.2"));

	/* One address on two interfaces stays ours until both lose it. */
	sh("ip addr add 10.66.4.1/32 dev lo && ip addr add 10.66.4.1/32 dev qd0");
	wait_self(m, "10.66.4.1", true);
	sh("ip addr del 10.66.4.1/32 dev lo");
	assert_int_equal(drain(m), 0); /* no change to the set */
	assert_true(is_self(m, "10.66.4.1"));
	sh("ip addr add 10.66.4.2/32 dev lo"); /* a marker: all before it was read */
	wait_self(m, "10.66.4.2", true);
	assert_true(is_self(m, "10.66.4.1"));

	/* Removing the interface removes its addresses. */
	sh("ip link del qd0");
	wait_self(m, "10.66.4.1", false);
	wait_self(m, "10.66.2.1", false);
	wait_self(m, "10.66.3.1", false);
	if (have_ipv6)
		wait_self(m, "fd66::2:1", false);
	sh("ip addr del 10.66.4.2/32 dev lo");
	wait_self(m, "10.66.4.2", false);
	assert_int_equal(netmon_addrs(m, &v), n0);
}

/* A queue too small for a burst: the kernel drops notifications, netmon
 * says -ENOBUFS and has read everything again, so nothing is missed. */
static void test_enobufs(void **state)
{
	struct netmon *m = *state;
	int small = 1; /* the kernel rounds it up to its minimum */
	unsigned seen;
	char s[32];

	assert_int_equal(setsockopt(netmon_fd(m), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	add_qd0();
	ip_batch("add", 5 * 256, 5 * 256 + 200);
	seen = wait_self(m, "10.66.5.199", true);
	assert_true(seen & 2);
	for (unsigned i = 0; i < 200; i++) {
		snprintf(s, sizeof(s), "10.66.5.%u", i);
		assert_true(is_self(m, s));
	}
	ip_batch("del", 5 * 256, 5 * 256 + 200);
	wait_self(m, "10.66.5.199", false);
	for (unsigned i = 0; i < 200; i++) {
		snprintf(s, sizeof(s), "10.66.5.%u", i);
		assert_false(is_self(m, s));
	}
}

/* More addresses than NETMON_MAX_ADDRS: reported, the set never holds
 * more than its bound, and once there is room again, what did not fit
 * is read again. */
static void test_full(void **state)
{
	struct netmon *m = *state;
	const struct qaddr *v;
	unsigned seen;

	add_qd0();
	ip_batch("add", 8 * 256, 8 * 256 + NETMON_MAX_ADDRS + 10);
	seen = drain(m);
	assert_int_equal(netmon_addrs(m, &v), NETMON_MAX_ADDRS);
	/* Straight from a notification, or from a re-dump after ENOBUFS. */
	assert_true(seen & 4);

	sh("ip link del qd0");
	drain(m);
	assert_true(netmon_addrs(m, &v) < NETMON_MAX_ADDRS);
	assert_false(is_self(m, "10.66.8.0"));
	assert_false(is_self(m, "10.66.10.9"));
	assert_true(is_self(m, "127.0.0.1"));
	if (have_ipv6)
		assert_true(is_self(m, "::1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_initial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_del_lo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dummy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enobufs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_netmon: skipped, needs root (network namespace)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test_netmon: skipped, unshare(CLONE_NEWNET): %s\n",
			strerror(errno));
		return 77;
	}
	if (system("ip link set lo up") != 0) {
		fprintf(stderr, "test_netmon: cannot run ip(8)\n");
		return 1;
	}
	have_ipv6 = access("/proc/sys/net/ipv6/conf/lo/disable_ipv6", F_OK) == 0 &&
		    system("ip -6 addr show dev lo | grep -q ::1") == 0;
	if (!have_ipv6)
		fprintf(stderr, "test_netmon: no IPv6 here, IPv4 checks only\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
