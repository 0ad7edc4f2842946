/* Unit tests for neighmon against the real kernel.
 *
 * Needs root (CAP_SYS_ADMIN for unshare(CLONE_NEWNET), CAP_NET_ADMIN for
 * "ip link", "ip neigh" and "bridge fdb"): it skips with exit code 77
 * otherwise.  Everything happens in a private network namespace that holds
 * only lo and what the tests create in it: a dummy interface (or, where
 * the kernel has no dummy driver, a veth pair with both ends inside), a
 * bridge and a veth pair; nothing is connected to any other namespace, so
 * nothing leaves it.
 *
 * What the kernel never sends (malformed messages, truncated datagrams, a
 * dump that fails) comes through a link seam: recvmsg() is wrapped
 * (-Wl,--wrap=recvmsg in tests/meson.build), and the wrapper hands the
 * monitor a datagram of our making, as if from the kernel, or fails a
 * dump. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "neighmon.h"

#define WAIT_MS 3000 /* a notification arrives in microseconds; this is slack */
#define MAX_EV	4096 /* events kept per test; more fails the test */
#define BURST	300  /* neighbour entries added at once in the ENOBUFS test */

static bool have_ipv6;

/* ---- The link seam ---- */

ssize_t __real_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t __wrap_recvmsg(int fd, struct msghdr *msg, int flags);

static struct {
	int fd;	       /* the subscribed socket; -1: none */
	size_t len;    /* a datagram to hand it once; 0: none */
	int msg_flags; /* msg_flags that come with it */
	uint8_t b[4096];
	int fail_dumps; /* this many reads on other sockets fail with EIO */
} inject = {.fd = -1};

ssize_t __wrap_recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (fd == inject.fd && inject.len > 0) {
		struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
		size_t n = inject.len;

		assert_int_equal(msg->msg_iovlen, 1);
		assert_true(msg->msg_iov[0].iov_len >= n);
		memcpy(msg->msg_iov[0].iov_base, inject.b, n);
		if (msg->msg_name) {
			memcpy(msg->msg_name, &kernel, sizeof(kernel));
			msg->msg_namelen = sizeof(kernel);
		}
		msg->msg_flags = inject.msg_flags;
		inject.len = 0;
		return (ssize_t)n;
	}
	if (fd != inject.fd && inject.fail_dumps > 0) {
		inject.fail_dumps--;
		errno = EIO;
		return -1;
	}
	return __real_recvmsg(fd, msg, flags);
}

/* A datagram under construction in inject.b. */
static size_t dg_msg_start;

static void dg_put(const void *p, size_t n)
{
	assert_true(inject.len + NLMSG_ALIGN(n) <= sizeof(inject.b));
	memcpy(inject.b + inject.len, p, n);
	memset(inject.b + inject.len + n, 0, NLMSG_ALIGN(n) - n);
	inject.len += NLMSG_ALIGN(n);
}

static void dg_msg(uint16_t type)
{
	struct nlmsghdr h = {.nlmsg_type = type};

	dg_msg_start = inject.len;
	dg_put(&h, sizeof(h));
}

static void dg_attr(uint16_t type, const void *p, size_t n)
{
	struct rtattr rta = {.rta_len = (unsigned short)RTA_LENGTH(n), .rta_type = type};

	dg_put(&rta, sizeof(rta));
	inject.len -= NLMSG_ALIGN(sizeof(rta));
	inject.len += sizeof(rta);
	dg_put(p, n);
}

static void dg_end(void)
{
	uint32_t len = (uint32_t)(inject.len - dg_msg_start);

	memcpy(inject.b + dg_msg_start, &len, sizeof(len));
}

/* An RTM_NEWNEIGH-style message: ndmsg, then NDA_DST of dstlen bytes (none
 * when 0) and NDA_LLADDR of lllen bytes (none when 0). */
static void dg_neigh(uint16_t type, uint8_t family, int ifindex, const uint8_t *dst, size_t dstlen,
		     const uint8_t *lladdr, size_t lllen)
{
	struct ndmsg ndm = {
		.ndm_family = family,
		.ndm_ifindex = ifindex,
		.ndm_state = NUD_PERMANENT,
	};

	dg_msg(type);
	dg_put(&ndm, sizeof(ndm));
	if (dstlen)
		dg_attr(NDA_DST, dst, dstlen);
	if (lllen)
		dg_attr(NDA_LLADDR, lladdr, lllen);
	dg_end();
}

/* ---- Events ---- */

struct rec {
	struct neighmon *m; /* for the re-entry check, once open */
	bool reenter;	    /* the callback calls neighmon_read() */
	int reenter_r;	    /* and what it returned */
	unsigned n;
	struct neighmon_event ev[MAX_EV];
	/* The ENOBUFS test: 10.1.i/256.i%256 seen added. */
	bool burst[BURST];
};

static struct rec rec;

static void on_event(void *arg, const struct neighmon_event *ev)
{
	struct rec *r = arg;

	assert_ptr_equal(r, &rec);
	if (r->reenter && r->m)
		r->reenter_r = neighmon_read(r->m);
	if (ev->kind == NEIGHMON_NEIGH && !ev->deleted && ev->addr.family == AF_INET &&
	    ev->addr.b[0] == 10 && ev->addr.b[1] == 1) {
		unsigned i = ev->addr.b[2] * 256u + ev->addr.b[3];

		if (i < BURST)
			r->burst[i] = true;
		return; /* too many to keep */
	}
	if (r->n >= MAX_EV)
		fail_msg("more than %d events", MAX_EV);
	r->ev[r->n++] = *ev;
}

static void sh(const char *cmd)
{
	int r = system(cmd);

	if (r != 0)
		print_message("command failed (%d): %s\n", r, cmd);
	assert_int_equal(r, 0);
}

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static const uint8_t *
M(const char *s)
{
	static uint8_t mac[8][MAC_LEN];
	static unsigned k;
	uint8_t *p = mac[k++ % 8];

	assert_int_equal(mac_parse(s, p), 0);
	return p;
}

static int ifindex(const char *name)
{
	unsigned i = if_nametoindex(name);

	assert_true(i > 0);
	return (int)i;
}

/* The interface's own MAC, as the kernel says (SIOCGIFHWADDR). */
static void get_mac(const char *name, uint8_t mac[MAC_LEN])
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(fd, SIOCGIFHWADDR, &ifr), 0);
	assert_int_equal(ifr.ifr_hwaddr.sa_family, ARPHRD_ETHER);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, MAC_LEN);
	close(fd);
}

/* An Ethernet interface with the given MAC, up and with carrier: a dummy,
 * or where the kernel has no dummy driver, one end of a veth pair whose
 * other end, NAMEp, stays in this namespace too. */
static void add_link(const char *name, const char *mac)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "{ ip link add %s address %s type dummy 2>/dev/null ||"
		 " { ip link add %s address %s type veth peer name %sp && ip link set %sp up; }; }"
		 " && ip link set %s up",
		 name, mac, name, mac, name, name, name);
	sh(cmd);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* What neighmon_read() returned, as bits: 1 nothing to say, 2 -ENOBUFS.
 * Anything else fails the test. */
static unsigned read_bits(struct neighmon *m)
{
	int r = neighmon_read(m);

	if (r == 0)
		return 1;
	if (r == -ENOBUFS)
		return 2;
	fail_msg("neighmon_read: %d (%s)", r, strerror(-r));
	return 0;
}

/* Waits until the socket is readable and reads; fails after WAIT_MS from
 * start. */
static unsigned poll_read(struct neighmon *m, uint64_t start, const char *what)
{
	struct pollfd pfd = {.fd = neighmon_fd(m), .events = POLLIN};
	uint64_t t = now_ms();

	if (t >= start + WAIT_MS)
		fail_msg("timed out waiting for %s", what);
	assert_true(poll(&pfd, 1, (int)(start + WAIT_MS - t)) >= 0);
	return read_bits(m);
}

/* What an event must be; NULL fields and deleted < 0 match anything. */
struct want {
	enum neighmon_kind kind;
	const char *addr; /* NEIGH */
	const char *mac;
	int deleted;
};

static bool matches(const struct neighmon_event *ev, const struct want *w)
{
	struct qaddr a;

	if (ev->kind != w->kind)
		return false;
	if (w->deleted >= 0 && ev->deleted != (w->deleted > 0))
		return false;
	if (w->addr) {
		a = A(w->addr);
		if (!addr_eq(&ev->addr, &a))
			return false;
	}
	if (w->mac && (!ev->has_mac || memcmp(ev->mac, M(w->mac), MAC_LEN) != 0))
		return false;
	return true;
}

/* The last event from index from on that matches, or NULL. */
static const struct neighmon_event *find_ev(unsigned from, const struct want *w)
{
	for (unsigned i = rec.n; i > from; i--)
		if (matches(&rec.ev[i - 1], w))
			return &rec.ev[i - 1];
	return NULL;
}

/* The last event from index from on that matches; fails the test when
 * there is none. */
static const struct neighmon_event *must_find(unsigned from, struct want w)
{
	static const struct neighmon_event none;
	const struct neighmon_event *ev = find_ev(from, &w);

	if (!ev) {
		fail_msg("no event for %s", w.addr ? w.addr : w.mac ? w.mac : "the entry");
		return &none;
	}
	return ev;
}

static unsigned count_ev(unsigned from, const struct want *w)
{
	unsigned c = 0;

	for (unsigned i = from; i < rec.n; i++)
		c += matches(&rec.ev[i], w);
	return c;
}

/* Polls and reads until an event from index from on matches. */
static const struct neighmon_event *wait_ev(struct neighmon *m, unsigned from, struct want w)
{
	uint64_t start = now_ms();
	const struct neighmon_event *ev;

	while (!(ev = find_ev(from, &w)))
		poll_read(m, start, w.addr ? w.addr : w.mac ? w.mac : "an event");
	return ev;
}

static void wait_own(struct neighmon *m, const char *mac, bool want)
{
	uint64_t start = now_ms();

	while (neighmon_is_own_mac(m, M(mac)) != want)
		poll_read(m, start, mac);
}

/* Reads whatever arrives until 200 ms pass without anything; returns
 * read_bits() of every read, OR-ed. */
static unsigned drain(struct neighmon *m)
{
	struct pollfd pfd = {.fd = neighmon_fd(m), .events = POLLIN};
	unsigned seen = 0;

	while (poll(&pfd, 1, 200) > 0)
		seen |= read_bits(m);
	return seen;
}

static struct neighmon *open_m(void)
{
	struct neighmon *m = NULL;
	int r = neighmon_open(on_event, &rec, &m);

	if (r < 0)
		fail_msg("neighmon_open: %s", strerror(-r));
	rec.m = m;
	return m;
}

static int setup(void **state)
{
	memset(&rec, 0, sizeof(rec));
	inject.fd = -1;
	inject.len = 0;
	inject.fail_dumps = 0;
	*state = NULL;
	return 0;
}

/* Leaves the namespace as setup() found it, whatever a test did. */
static int teardown(void **state)
{
	int r;

	neighmon_close(rec.m);
	rec.m = NULL;
	inject.fd = -1;
	r = system("for l in qd0 qd1 qv0 br0; do ip link del $l 2>/dev/null; done; true");
	return r == 0 ? 0 : -1;
}

/* ---- Tests ---- */

static void assert_no_dups(const struct neighmon *m)
{
	const uint8_t(*own)[MAC_LEN];
	unsigned n = neighmon_own_macs(m, &own);

	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < i; j++)
			assert_memory_not_equal(own[i], own[j], MAC_LEN);
}

static void test_own_macs(void **state)
{
	struct neighmon *m;
	const uint8_t(*own)[MAC_LEN];
	unsigned n;
	bool found = false;

	add_link("qd0", "02:00:00:00:00:01");
	m = open_m();
	assert_true(neighmon_is_own_mac(m, M("02:00:00:00:00:01")));
	assert_false(neighmon_is_own_mac(m, M("02:00:00:00:00:02")));
	/* lo is no Ethernet link: its zero address is nobody's. */
	assert_false(neighmon_is_own_mac(m, M("00:00:00:00:00:00")));
	n = neighmon_own_macs(m, &own);
	assert_true(n >= 1 && n <= NEIGHMON_MAX_LINKS);
	for (unsigned i = 0; i < n; i++)
		found |= memcmp(own[i], M("02:00:00:00:00:01"), MAC_LEN) == 0;
	assert_true(found);
	assert_no_dups(m);

	sh("ip link set qd0 address 02:00:00:00:00:02");
	wait_own(m, "02:00:00:00:00:02", true);
	assert_false(neighmon_is_own_mac(m, M("02:00:00:00:00:01")));

	/* A second link with the same address: listed once, and still
	 * ours while either link has it. */
	add_link("qd1", "02:00:00:00:00:02");
	drain(m);
	assert_no_dups(m);
	sh("ip link del qd1");
	drain(m);
	assert_true(neighmon_is_own_mac(m, M("02:00:00:00:00:02")));

	sh("ip link del qd0");
	wait_own(m, "02:00:00:00:00:02", false);
}

/* Entries that exist before open come from the dumps, once each. */
static void test_neigh_dump(void **state)
{
	const struct neighmon_event *ev;
	int qd0;

	add_link("qd0", "02:00:00:00:00:01");
	qd0 = ifindex("qd0");
	sh("ip neigh add 10.0.0.5 lladdr 02:00:00:00:00:05 dev qd0 nud reachable");
	sh("ip neigh add 10.0.0.6 lladdr 02:00:00:00:00:06 dev qd0 nud permanent");
	sh("ip neigh add 10.0.0.8 dev qd0 nud failed");
	if (have_ipv6)
		sh("ip -6 neigh add fd00::5 lladdr 02:00:00:00:00:07 dev qd0 nud permanent");
	open_m();

	ev = must_find(0, (struct want){NEIGHMON_NEIGH, "10.0.0.5", NULL, 0});
	assert_true(ev->has_mac);
	assert_memory_equal(ev->mac, M("02:00:00:00:00:05"), MAC_LEN);
	assert_int_equal(ev->state, NUD_REACHABLE);
	assert_int_equal(ev->ifindex, qd0);
	assert_int_equal(ev->master, 0);

	ev = must_find(0, (struct want){NEIGHMON_NEIGH, "10.0.0.6", "02:00:00:00:00:06", 0});
	assert_int_equal(ev->state, NUD_PERMANENT);
	assert_int_equal(ev->ifindex, qd0);

	/* No link-layer address: reported, without one. */
	ev = must_find(0, (struct want){NEIGHMON_NEIGH, "10.0.0.8", NULL, 0});
	assert_false(ev->has_mac);
	assert_memory_equal(ev->mac, M("00:00:00:00:00:00"), MAC_LEN);
	assert_int_equal(ev->state, NUD_FAILED);

	if (have_ipv6) {
		ev = must_find(0, (struct want){NEIGHMON_NEIGH, "fd00::5", "02:00:00:00:00:07", 0});
		assert_int_equal(ev->state, NUD_PERMANENT);
		assert_int_equal(ev->ifindex, qd0);
		assert_int_equal(ev->addr.family, AF_INET6);
	}

	/* One dump reports each entry once: no (kind, address, interface)
	 * twice, and nothing deleted. */
	for (unsigned i = 0; i < rec.n; i++) {
		assert_false(rec.ev[i].deleted);
		for (unsigned j = 0; j < i; j++) {
			const struct neighmon_event *a = &rec.ev[i], *b = &rec.ev[j];
			bool same =
				a->kind == b->kind && a->ifindex == b->ifindex &&
				(a->kind == NEIGHMON_NEIGH
					 ? addr_eq(&a->addr, &b->addr)
					 : memcmp(a->mac, b->mac, MAC_LEN) == 0 &&
						   a->master == b->master && a->flags == b->flags);

			assert_false(same);
		}
	}
}

/* Changes after open come from notifications. */
static void test_neigh_notify(void **state)
{
	const struct neighmon_event *ev;
	struct neighmon *m;
	unsigned from;
	int qd0;

	add_link("qd0", "02:00:00:00:00:01");
	qd0 = ifindex("qd0");
	m = open_m();

	from = rec.n;
	sh("ip neigh add 10.0.0.5 lladdr 02:00:00:00:00:05 dev qd0 nud reachable");
	ev = wait_ev(m, from, (struct want){NEIGHMON_NEIGH, "10.0.0.5", "02:00:00:00:00:05", 0});
	assert_int_equal(ev->state, NUD_REACHABLE);
	assert_int_equal(ev->ifindex, qd0);
	assert_int_equal(ev->addr.family, AF_INET);

	sh("ip neigh add 10.0.0.6 lladdr 02:00:00:00:00:06 dev qd0 nud permanent");
	ev = wait_ev(m, from, (struct want){NEIGHMON_NEIGH, "10.0.0.6", "02:00:00:00:00:06", 0});
	assert_int_equal(ev->state, NUD_PERMANENT);

	if (have_ipv6) {
		sh("ip -6 neigh add fd00::5 lladdr 02:00:00:00:00:07 dev qd0 nud permanent");
		ev = wait_ev(m, from,
			     (struct want){NEIGHMON_NEIGH, "fd00::5", "02:00:00:00:00:07", 0});
		assert_int_equal(ev->state, NUD_PERMANENT);
		assert_int_equal(ev->ifindex, qd0);
	}

	/* Another machine answers for the address now. */
	from = rec.n;
	sh("ip neigh change 10.0.0.5 lladdr 02:00:00:00:00:15 dev qd0 nud stale");
	ev = wait_ev(m, from, (struct want){NEIGHMON_NEIGH, "10.0.0.5", "02:00:00:00:00:15", 0});
	assert_int_equal(ev->state, NUD_STALE);
	assert_int_equal(ev->ifindex, qd0);

	from = rec.n;
	sh("ip neigh del 10.0.0.5 dev qd0");
	ev = wait_ev(m, from, (struct want){NEIGHMON_NEIGH, "10.0.0.5", NULL, 1});
	assert_int_equal(ev->ifindex, qd0);
	assert_null(find_ev(from, &(struct want){NEIGHMON_NEIGH, "10.0.0.6", NULL, 1}));
	if (have_ipv6) {
		sh("ip -6 neigh del fd00::5 dev qd0");
		wait_ev(m, from, (struct want){NEIGHMON_NEIGH, "fd00::5", NULL, 1});
	}
}

static void test_fdb(void **state)
{
	const struct neighmon_event *ev;
	struct neighmon *m;
	uint8_t mac[MAC_LEN];
	unsigned from;
	int br0, qv0;

	sh("ip link add br0 type bridge && ip link add qv0 type veth peer name qv1 &&"
	   " ip link set qv0 master br0 && ip link set br0 up && ip link set qv0 up &&"
	   " ip link set qv1 up");
	br0 = ifindex("br0");
	qv0 = ifindex("qv0");
	sh("bridge fdb add 02:00:00:00:00:08 dev qv0 master");
	m = open_m();

	/* From the dump. */
	ev = must_find(0, (struct want){NEIGHMON_FDB, NULL, "02:00:00:00:00:08", 0});
	assert_int_equal(ev->ifindex, qv0);
	assert_int_equal(ev->master, br0);
	assert_false(ev->flags & NTF_SELF); /* the bridge's table, not the port's own list */
	assert_int_equal(ev->addr.family, 0);
	assert_true(ev->state != 0);

	/* The bridge and both ends of the pair are ours. */
	get_mac("br0", mac);
	assert_true(neighmon_is_own_mac(m, mac));
	get_mac("qv0", mac);
	assert_true(neighmon_is_own_mac(m, mac));
	get_mac("qv1", mac);
	assert_true(neighmon_is_own_mac(m, mac));

	from = rec.n;
	sh("bridge fdb add 02:00:00:00:00:09 dev qv0 master");
	ev = wait_ev(m, from, (struct want){NEIGHMON_FDB, NULL, "02:00:00:00:00:09", 0});
	assert_int_equal(ev->ifindex, qv0);
	assert_int_equal(ev->master, br0);
	assert_true(ev->has_mac);

	from = rec.n;
	sh("bridge fdb del 02:00:00:00:00:09 dev qv0 master");
	ev = wait_ev(m, from, (struct want){NEIGHMON_FDB, NULL, "02:00:00:00:00:09", 1});
	assert_int_equal(ev->ifindex, qv0);
	assert_int_equal(ev->master, br0);

	/* Leaving the bridge sends RTM_DELLINK for AF_BRIDGE: the port is
	 * still there, and so is its address.  (The kernel follows it with
	 * an RTM_NEWLINK, which would hide a mistake here: test_malformed
	 * hands over the RTM_DELLINK alone.) */
	get_mac("qv0", mac);
	from = rec.n;
	sh("ip link set qv0 nomaster");
	wait_ev(m, from, (struct want){NEIGHMON_FDB, NULL, NULL, 1}); /* its entries go */
	drain(m);
	assert_true(neighmon_is_own_mac(m, mac));
}

/* A queue too small for a burst: the kernel drops notifications, the
 * monitor says -ENOBUFS and has dumped everything again, so every entry
 * was reported. */
static void test_enobufs(void **state)
{
	struct neighmon *m;
	int small = 1; /* the kernel rounds it up to its minimum */
	uint64_t start;
	unsigned seen = 0, missing;
	FILE *f;

	add_link("qd0", "02:00:00:00:00:01");
	m = open_m();
	assert_int_equal(setsockopt(neighmon_fd(m), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)),
			 0);
	f = popen("ip -batch -", "w");
	assert_non_null(f);
	for (unsigned i = 0; i < BURST; i++)
		fprintf(f,
			"neigh add 10.1.%u.%u lladdr 02:01:00:00:%02x:%02x dev qd0 nud permanent\n",
			i / 256, i % 256, i / 256, i % 256);
	assert_int_equal(pclose(f), 0);

	start = now_ms();
	for (;;) {
		missing = 0;
		for (unsigned i = 0; i < BURST; i++)
			missing += !rec.burst[i];
		if (missing == 0)
			break;
		seen |= poll_read(m, start, "the burst");
	}
	assert_true(seen & 2);
}

/* The callback must not re-enter the monitor; if it tries, it is told. */
static void test_reenter(void **state)
{
	struct neighmon *m;
	unsigned from;

	add_link("qd0", "02:00:00:00:00:01");
	m = open_m();
	rec.reenter = true;
	from = rec.n;
	sh("ip neigh add 10.0.0.5 lladdr 02:00:00:00:00:05 dev qd0 nud permanent");
	wait_ev(m, from, (struct want){NEIGHMON_NEIGH, "10.0.0.5", NULL, 0});
	assert_int_equal(rec.reenter_r, -EBUSY);
}

/* A process other than the kernel can unicast to our socket (any root
 * process can): what it says is not believed. */
static void test_not_kernel(void **state)
{
	struct sockaddr_nl self, to = {.nl_family = AF_NETLINK};
	socklen_t len = sizeof(self);
	struct neighmon *m;
	unsigned from;
	int fd;

	add_link("qd0", "02:00:00:00:00:01");
	m = open_m();
	assert_int_equal(getsockname(neighmon_fd(m), (struct sockaddr *)&self, &len), 0);
	to.nl_pid = self.nl_pid;
	dg_neigh(RTM_NEWNEIGH, AF_INET, ifindex("qd0"), A("10.9.9.9").b, 4, M("02:00:00:00:09:09"),
		 MAC_LEN);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	assert_true(fd >= 0);
	assert_int_equal(sendto(fd, inject.b, inject.len, 0, (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)inject.len);
	close(fd);
	inject.len = 0;

	from = rec.n;
	sh("ip neigh add 10.0.0.5 lladdr 02:00:00:00:00:05 dev qd0 nud permanent"); /* a marker */
	wait_ev(m, from, (struct want){NEIGHMON_NEIGH, "10.0.0.5", NULL, 0});
	assert_null(find_ev(0, &(struct want){NEIGHMON_NEIGH, "10.9.9.9", NULL, -1}));
}

/* Hands the monitor the datagram in inject.b and reads; returns what
 * neighmon_read() returned. */
static int inject_read(struct neighmon *m)
{
	inject.fd = neighmon_fd(m);
	return neighmon_read(m);
}

/* Malformed messages are not used, and the tables are dumped again; so is
 * a truncated datagram; a dump that fails is retried at the next read. */
static void test_malformed(void **state)
{
	static const struct want dumped = {NEIGHMON_NEIGH, "10.0.0.6", "02:00:00:00:00:06", 0};
	uint8_t dst[4] = {10, 9, 0, 1}, mac[MAC_LEN] = {2, 0, 0, 0, 9, 1};
	struct neighmon *m;
	struct ndmsg ndm = {.ndm_family = AF_INET};
	struct ifinfomsg ifi = {.ifi_type = ARPHRD_ETHER};
	uint32_t master = 7;
	uint16_t shortmaster = 7;
	unsigned from;
	int qd0;

	add_link("qd0", "02:00:00:00:00:01");
	qd0 = ifindex("qd0");
	sh("ip neigh add 10.0.0.6 lladdr 02:00:00:00:00:06 dev qd0 nud permanent");
	m = open_m();
	assert_int_equal(count_ev(0, &dumped), 1);
	drain(m);

	/* Well formed: used (the seam works). */
	from = rec.n;
	dg_neigh(RTM_NEWNEIGH, AF_INET, qd0, dst, 4, mac, MAC_LEN);
	assert_int_equal(inject_read(m), 0);
	assert_non_null(find_ev(from, &(struct want){NEIGHMON_NEIGH, "10.9.0.1", NULL, 0}));
	assert_int_equal(count_ev(from, &dumped), 0);

	/* An attribute longer than its message. */
	from = rec.n;
	dg_neigh(RTM_NEWNEIGH, AF_INET, qd0, dst, 4, mac, MAC_LEN);
	inject.b[NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ndmsg))] = 200;
	assert_int_equal(inject_read(m), -EBADMSG);
	assert_null(find_ev(from, &(struct want){NEIGHMON_NEIGH, "10.9.0.1", NULL, -1}));
	assert_int_equal(count_ev(from, &dumped), 1); /* dumped again */
	assert_true(neighmon_is_own_mac(m, M("02:00:00:00:00:01")));

	/* A header shorter than struct ndmsg. */
	from = rec.n;
	dg_msg(RTM_NEWNEIGH);
	dg_put(&ndm, 4);
	dg_end();
	assert_int_equal(inject_read(m), -EBADMSG);
	assert_int_equal(count_ev(from, &dumped), 1);

	/* An IPv4 address of five bytes; none at all. */
	from = rec.n;
	dg_neigh(RTM_NEWNEIGH, AF_INET, qd0, A("10.9.0.1").b, 5, mac, MAC_LEN);
	assert_int_equal(inject_read(m), -EBADMSG);
	dg_neigh(RTM_NEWNEIGH, AF_INET6, qd0, NULL, 0, mac, MAC_LEN);
	assert_int_equal(inject_read(m), -EBADMSG);
	assert_int_equal(count_ev(from, &dumped), 2);
	assert_null(find_ev(from, &(struct want){NEIGHMON_NEIGH, NULL, "02:00:00:00:09:01", -1}));

	/* An FDB entry whose NDA_MASTER is not a u32. */
	from = rec.n;
	ndm.ndm_family = AF_BRIDGE;
	dg_msg(RTM_NEWNEIGH);
	dg_put(&ndm, sizeof(ndm));
	dg_attr(NDA_LLADDR, mac, MAC_LEN);
	dg_attr(NDA_MASTER, &shortmaster, sizeof(shortmaster));
	dg_end();
	assert_int_equal(inject_read(m), -EBADMSG);
	assert_null(find_ev(from, &(struct want){NEIGHMON_FDB, NULL, "02:00:00:00:09:01", -1}));

	/* Well formed, it is an FDB event; without a 6-byte MAC, nothing. */
	from = rec.n;
	dg_msg(RTM_NEWNEIGH);
	dg_put(&ndm, sizeof(ndm));
	dg_attr(NDA_LLADDR, mac, MAC_LEN);
	dg_attr(NDA_MASTER, &master, sizeof(master));
	dg_end();
	dg_neigh(RTM_NEWNEIGH, AF_BRIDGE, qd0, NULL, 0, mac, 4);
	assert_int_equal(inject_read(m), 0);
	assert_int_equal(rec.n, from + 1);
	assert_true(
		matches(&rec.ev[from], &(struct want){NEIGHMON_FDB, NULL, "02:00:00:00:09:01", 0}));
	assert_int_equal(rec.ev[from].master, 7);

	/* A message longer than its datagram. */
	from = rec.n;
	dg_neigh(RTM_NEWNEIGH, AF_INET, qd0, dst, 4, mac, MAC_LEN);
	inject.len -= 4;
	assert_int_equal(inject_read(m), -EBADMSG);
	assert_int_equal(count_ev(from, &dumped), 1);

	/* A good message, then a bad one in the same datagram: the good one
	 * is used whole, the bad one not at all. */
	from = rec.n;
	dg_neigh(RTM_DELNEIGH, AF_INET, qd0, dst, 4, mac, MAC_LEN);
	dg_neigh(RTM_NEWNEIGH, AF_INET, qd0, A("10.9.0.2").b, 4, mac, MAC_LEN);
	inject.b[inject.len - NLMSG_ALIGN(RTA_LENGTH(MAC_LEN))] = 0xff; /* NDA_LLADDR's rta_len */
	assert_int_equal(inject_read(m), -EBADMSG);
	assert_non_null(find_ev(from, &(struct want){NEIGHMON_NEIGH, "10.9.0.1", NULL, 1}));
	assert_null(find_ev(from, &(struct want){NEIGHMON_NEIGH, "10.9.0.2", NULL, -1}));

	/* A link of ours: a link message with a broken attribute is not
	 * used; a good one is; an AF_BRIDGE RTM_DELLINK only means a port
	 * left a bridge; the same from AF_UNSPEC means the link went.  (A
	 * link the kernel does not have: the seam lies, and the re-dump
	 * below forgets it.) */
	ifi.ifi_index = 9999;
	dg_msg(RTM_NEWLINK);
	dg_put(&ifi, sizeof(ifi));
	dg_attr(IFLA_ADDRESS, mac, MAC_LEN);
	inject.b[inject.len - NLMSG_ALIGN(RTA_LENGTH(MAC_LEN))] = 0xff;
	dg_end();
	assert_int_equal(inject_read(m), -EBADMSG);
	assert_false(neighmon_is_own_mac(m, mac));
	assert_true(neighmon_is_own_mac(m, M("02:00:00:00:00:01")));
	dg_msg(RTM_NEWLINK);
	dg_put(&ifi, sizeof(ifi));
	dg_attr(IFLA_ADDRESS, mac, MAC_LEN);
	dg_end();
	assert_int_equal(inject_read(m), 0);
	assert_true(neighmon_is_own_mac(m, mac));
	dg_msg(RTM_DELLINK);
	ifi.ifi_family = AF_BRIDGE;
	dg_put(&ifi, sizeof(ifi));
	dg_end();
	assert_int_equal(inject_read(m), 0);
	assert_true(neighmon_is_own_mac(m, mac));
	dg_msg(RTM_DELLINK);
	ifi.ifi_family = AF_UNSPEC;
	dg_put(&ifi, sizeof(ifi));
	dg_end();
	assert_int_equal(inject_read(m), 0);
	assert_false(neighmon_is_own_mac(m, mac));
	dg_msg(RTM_NEWLINK);
	dg_put(&ifi, sizeof(ifi));
	dg_attr(IFLA_ADDRESS, mac, MAC_LEN);
	dg_end();
	assert_int_equal(inject_read(m), 0);
	assert_true(neighmon_is_own_mac(m, mac));

	/* A truncated datagram lost notifications: dumped again. */
	from = rec.n;
	dg_neigh(RTM_NEWNEIGH, AF_INET, qd0, dst, 4, mac, MAC_LEN);
	inject.msg_flags = MSG_TRUNC;
	assert_int_equal(inject_read(m), -ENOBUFS);
	inject.msg_flags = 0;
	assert_int_equal(count_ev(from, &dumped), 1);
	assert_true(neighmon_is_own_mac(m, M("02:00:00:00:00:01")));
	assert_false(neighmon_is_own_mac(m, mac)); /* 9999 was never there */

	/* Lost again a moment later (a flood): said so, but the next full
	 * dump waits its turn (REDUMP_EVERY_MS) instead of stalling the
	 * loop once more. */
	from = rec.n;
	dg_neigh(RTM_NEWNEIGH, AF_INET, qd0, dst, 4, mac, MAC_LEN);
	inject.msg_flags = MSG_TRUNC;
	assert_int_equal(inject_read(m), -ENOBUFS);
	inject.msg_flags = 0;
	assert_int_equal(count_ev(from, &dumped), 0);

	/* The re-dump fails: said so, and retried at the next read even
	 * with nothing to read. */
	from = rec.n;
	dg_neigh(RTM_NEWNEIGH, AF_INET, qd0, A("10.9.0.1").b, 5, mac, MAC_LEN);
	inject.fail_dumps = 1;
	assert_int_equal(inject_read(m), -EIO);
	assert_int_equal(count_ev(from, &dumped), 0);
	assert_int_equal(neighmon_read(m), -ENOBUFS);
	assert_int_equal(count_ev(from, &dumped), 1);
	assert_int_equal(neighmon_read(m), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_own_macs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_neigh_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_neigh_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fdb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enobufs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reenter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_neighmon: skipped, needs root (network namespace)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test_neighmon: skipped, unshare(CLONE_NEWNET): %s\n",
			strerror(errno));
		return 77;
	}
	if (system("ip link set lo up") != 0) {
		fprintf(stderr, "test_neighmon: cannot run ip(8)\n");
		return 1;
	}
	if (system("bridge -V >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_neighmon: skipped, no bridge(8) (iproute2)\n");
		return 77;
	}
	have_ipv6 = access("/proc/sys/net/ipv6/conf/lo/disable_ipv6", F_OK) == 0 &&
		    system("ip -6 addr show dev lo | grep -q ::1") == 0;
	if (!have_ipv6)
		fprintf(stderr, "test_neighmon: no IPv6 here, IPv4 checks only\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
