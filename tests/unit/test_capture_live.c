/* Unit tests for live capture against the real kernel.
 *
 * Needs root (CAP_SYS_ADMIN for unshare(CLONE_NEWNET), CAP_NET_ADMIN and
 * CAP_NET_RAW for the links and the sockets): it skips with exit code 77
 * otherwise.  Everything happens in a private network namespace holding
 * only lo and veth pairs whose two ends are both inside it: frames written
 * on qa come out on qb and nowhere else.  Every frame uses 10.66.0.0/16 and
 * fd66::/16 test addresses (frames.h); nothing is routed anywhere.
 *
 * Linked with -Wl,--wrap=pcap_stats (tests/meson.build) so that
 * test_stats_wrap can hand capture.c counters about to wrap. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "conf.h"
#include "decode.h"
#include "filter.h"
#include "frames.h"

#define SNAPLEN	 160
#define WAIT_MS	 3000 /* frames cross a veth in microseconds; this is slack */
#define QUIET_MS 300  /* how long we listen for a frame that must not come */

/* ---- the getsockopt() seam ---- */

int __real_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int __wrap_getsockopt(int fd, int level, int name, void *val, socklen_t *len);

static bool fake_on;
static struct tpacket_stats fake;

int __wrap_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	if (!fake_on || level != SOL_PACKET || name != PACKET_STATISTICS)
		return __real_getsockopt(fd, level, name, val, len);
	memcpy(val, &fake, sizeof(fake));
	*len = sizeof(fake);
	return 0;
}

/* ---- helpers ---- */

static void sh(const char *cmd)
{
	int r = system(cmd);

	if (r != 0)
		print_message("command failed (%d): %s\n", r, cmd);
	assert_int_equal(r, 0);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static usec_t real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

/* The default configuration's filter, as the daemon builds it. */
static void default_filter(char *buf, size_t len)
{
	struct conf *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(conf_init_default(c), 0);
	assert_true(filter_build(c, buf, len) > 0);
	conf_fini(c);
	free(c);
}

static struct capture *open_qb(const char *filter)
{
	struct capture_opts o = {
		.snaplen = SNAPLEN,
		.buffer_mb = 4,
		.promisc = true,
		.filter = filter,
	};
	struct capture *c = NULL;
	char err[256] = "";
	int r = capture_open_live("qb", &o, &c, err, sizeof(err));

	if (r < 0)
		fail_msg("capture_open_live(qb): %s: %s", strerror(-r), err);
	assert_string_equal(err, ""); /* no warning either */
	return c;
}

/* An AF_PACKET socket writing whole frames on qa. */
static int inject_open(struct sockaddr_ll *ret_to)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(ret_to, 0, sizeof(*ret_to));
	ret_to->sll_family = AF_PACKET;
	ret_to->sll_ifindex = (int)if_nametoindex("qa");
	ret_to->sll_halen = 6;
	assert_true(ret_to->sll_ifindex > 0);
	return fd;
}

static void inject(int fd, const struct sockaddr_ll *to, const struct frame *f)
{
	ssize_t n = sendto(fd, f->b, f->n, 0, (const struct sockaddr *)to, sizeof(*to));

	assert_int_equal(n, (ssize_t)f->n);
}

/* The frames a test sends, and which of them came back. */
struct expect {
	const char *name;
	struct frame f;
	bool want; /* the filter must pass it */
	unsigned seen;
	usec_t ts;
	uint32_t caplen, wirelen;
	int dlt;
};

struct run {
	struct expect *e;
	unsigned n;
	unsigned others; /* frames the kernel sent on its own (e.g. ICMPv6) */
};

static void on_packet(void *arg, const struct capture_packet *p)
{
	struct run *run = arg;

	for (unsigned i = 0; i < run->n; i++) {
		struct expect *e = &run->e[i];
		size_t cmp = MIN(e->f.n, (size_t)SNAPLEN);

		/* veth does not pad; the VLAN tag the kernel took out of the
		 * frame is put back by libpcap, so the bytes are ours. */
		if (p->caplen >= cmp && memcmp(p->data, e->f.b, cmp) == 0) {
			e->seen++;
			e->ts = p->ts;
			e->caplen = p->caplen;
			e->wirelen = p->wirelen;
			e->dlt = p->dlt;
			return;
		}
	}
	run->others++;
}

/* Dispatches until every wanted frame was seen, then QUIET_MS more so that
 * an unwanted one has every chance to show up. */
static void collect(struct capture *c, struct run *run)
{
	uint64_t end = mono_ms() + WAIT_MS, quiet_end = 0;
	char err[256];

	for (;;) {
		struct pollfd pfd = {.fd = capture_fd(c), .events = POLLIN};
		uint64_t t = mono_ms(), until;
		bool all = true;
		int r;

		for (unsigned i = 0; i < run->n; i++)
			if (run->e[i].want && !run->e[i].seen)
				all = false;
		if (all && !quiet_end)
			quiet_end = t + QUIET_MS;
		if (quiet_end && t >= quiet_end)
			return;
		if (!all && t >= end)
			return; /* the caller's assertions say what is missing */
		until = quiet_end ? quiet_end : end;
		r = poll(&pfd, 1, (int)(until - t));
		assert_true(r >= 0);
		r = capture_dispatch(c, 64, on_packet, run, err, sizeof(err));
		if (r < 0)
			fail_msg("capture_dispatch: %s", err);
	}
}

/* ---- tests ---- */

static void test_filtered_frames(void **state)
{
	char filter[2048];
	/* The frames, in the order they are sent. */
	struct expect e[] = {
		{.name = "TCP SYN", .want = true},		 /* a probe */
		{.name = "bare ACK", .want = true},		 /* an ACK scan's probe */
		{.name = "ARP who-has", .want = true},		 /* a probe */
		{.name = "802.1Q TCP SYN", .want = true},	 /* a tagged probe */
		{.name = "UDP", .want = true},			 /* a probe */
		{.name = "ACK with data", .want = false},	 /* established */
		{.name = "802.1Q ACK with data", .want = false}, /* established */
		{.name = "ACK with timestamps", .want = false},	 /* established */
	};
	struct run run = {.e = e, .n = ARRAY_SIZE(e)};
	struct capture_stats st, st2;
	struct sockaddr_ll to;
	struct capture *c;
	usec_t t0, t1;
	int fd;

	fr_tcp4(&e[0].f, FR_TH_SYN, 0);
	fr_tcp4(&e[1].f, FR_TH_ACK, 0);
	fr_arp_request(&e[2].f, 0);
	fr_tcp4(&e[3].f, FR_TH_SYN, 100);
	fr_udp4(&e[4].f, 0);
	/* Longer than the snaplen: caplen must stop at it. */
	memset(e[4].f.b + e[4].f.n, 0, 400);
	e[4].f.n += 400;
	fr_tcp4(&e[5].f, FR_TH_ACK | FR_TH_PSH, 0);
	fr_tcp4(&e[6].f, FR_TH_ACK | FR_TH_PSH, 100);
	fr_tcp4_ts(&e[7].f, 0);

	default_filter(filter, sizeof(filter));
	c = open_qb(filter);
	assert_string_equal(capture_name(c), "qb");
	assert_int_equal(capture_datalink(c), LINK_EN10MB);
	/* libpcap opens its socket without SOCK_CLOEXEC; capture.c sets it. */
	assert_true(fcntl(capture_fd(c), F_GETFD) & FD_CLOEXEC);

	fd = inject_open(&to);
	t0 = real_us();
	for (unsigned i = 0; i < ARRAY_SIZE(e); i++)
		inject(fd, &to, &e[i].f);
	collect(c, &run);
	t1 = real_us();
	close(fd);

	for (unsigned i = 0; i < ARRAY_SIZE(e); i++) {
		if (e[i].seen != (e[i].want ? 1u : 0u))
			fail_msg("%s: seen %u times, want %s", e[i].name, e[i].seen,
				 e[i].want ? "once" : "never");
		if (!e[i].want)
			continue;
		/* Host time of arrival, in microseconds since the epoch. */
		if (e[i].ts + 1000 < t0 || e[i].ts > t1 + 1000)
			fail_msg("%s: timestamp %llu outside [%llu, %llu]", e[i].name,
				 (unsigned long long)e[i].ts, (unsigned long long)t0,
				 (unsigned long long)t1);
		assert_int_equal(e[i].dlt, LINK_EN10MB);
		assert_int_equal(e[i].wirelen, e[i].f.n);
		assert_int_equal(e[i].caplen, MIN(e[i].f.n, (size_t)SNAPLEN));
	}

	/* The kernel took the tag out of the received frame; libpcap put it
	 * back (the bytes matched above), and the decoder reads it. */
	{
		struct pkt p;

		assert_int_equal(decode_packet(LINK_EN10MB, e[3].f.b, e[3].f.n, e[3].f.n, &p, NULL),
				 0);
		assert_int_equal(p.vlan, 100);
	}

	assert_int_equal(capture_get_stats(c, &st), 0);
	/* received counts what the filter passed: ours and any of the
	 * kernel's own (IPv6 neighbour discovery on the new links). */
	assert_true(st.received >= 4);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(capture_get_stats(c, &st2), 0);
	assert_true(st2.received >= st.received);
	assert_true(st2.dropped >= st.dropped);
	capture_close(c);
	(void)state;
}

/* The kernel's counters reset at every read and are 32-bit: they add up
 * past 2^32. */
static void test_stats_wrap(void **state)
{
	struct capture_stats st;
	struct capture *c = open_qb(NULL);
	uint64_t ifd = 1;

	fake_on = true;
	fake = (struct tpacket_stats){.tp_packets = 0xfffffff0u, .tp_drops = 0xffffffffu};
	assert_int_equal(capture_get_stats(c, &st), 0);
	assert_int_equal(st.received, 0xfffffff0u);
	assert_int_equal(st.dropped, 0xffffffffu);
	assert_int_equal(st.ifdropped, 0);

	fake = (struct tpacket_stats){.tp_packets = 0x20, .tp_drops = 1};
	assert_int_equal(capture_get_stats(c, &st), 0);
	assert_int_equal(st.received, 0x100000010ull);
	assert_int_equal(st.dropped, 0x100000000ull);
	fake_on = false;
	capture_close(c);
	/* The interface's own drops come from sysfs. */
	assert_int_equal(capture_ifdropped("lo", &ifd), 0);
	assert_int_equal(capture_ifdropped("../x", &ifd), -EINVAL);
	assert_true(capture_ifdropped("no-such-if0", &ifd) < 0);
	(void)state;
}

static void test_no_such_interface(void **state)
{
	struct capture_opts o = {.snaplen = SNAPLEN, .buffer_mb = 1, .promisc = true};
	struct capture *c = NULL;
	char err[256] = "";
	int r = capture_open_live("does-not-exist", &o, &c, err, sizeof(err));

	print_message("does-not-exist: %s\n", err);
	assert_int_equal(r, -ENODEV);
	assert_null(c);
	assert_non_null(strstr(err, "no such interface"));
	(void)state;
}

/* libpcap 1.10 on Linux reports PCAP_ERROR_IFACE_NOT_UP when binding its
 * socket to a down interface; capture.c makes it -ENETDOWN. */
static void test_interface_down(void **state)
{
	struct capture_opts o = {.snaplen = SNAPLEN, .buffer_mb = 1, .promisc = true};
	struct capture *c = NULL;
	char err[256] = "";
	int r;

	sh("ip link add qc type veth peer name qd");
	r = capture_open_live("qc", &o, &c, err, sizeof(err));
	print_message("qc (down): %d %s\n", r, err);
	if (r == 0)
		capture_close(c);
	sh("ip link del qc");
	assert_int_equal(r, -ENETDOWN);
	assert_non_null(strstr(err, "interface is down"));
	(void)state;
}

/* Without CAP_NET_RAW, -EPERM and a message that names the capability.
 * In a child, which drops the capability from its effective set. */
static void test_permission(void **state)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
		struct __user_cap_data_struct d[2];
		struct capture_opts o = {.snaplen = SNAPLEN, .buffer_mb = 1, .promisc = true};
		struct capture *c = NULL;
		char err[256] = "";
		int r;

		if (syscall(SYS_capget, &h, d) < 0)
			_exit(2);
		d[CAP_TO_INDEX(CAP_NET_RAW)].effective &= ~CAP_TO_MASK(CAP_NET_RAW);
		if (syscall(SYS_capset, &h, d) < 0)
			_exit(2);
		r = capture_open_live("qb", &o, &c, err, sizeof(err));
		fprintf(stderr, "without CAP_NET_RAW: %d %s\n", r, err);
		_exit(r == -EPERM && strstr(err, "CAP_NET_RAW") ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	(void)state;
}

static void test_bad_filter(void **state)
{
	struct capture_opts o = {
		.snaplen = SNAPLEN,
		.buffer_mb = 1,
		.promisc = true,
		.filter = "tcp and bogus-keyword",
	};
	struct capture *c = NULL;
	char err[256] = "";
	int r = capture_open_live("qb", &o, &c, err, sizeof(err));

	print_message("bad filter: %s\n", err);
	assert_int_equal(r, -EINVAL);
	assert_null(c);
	assert_non_null(strstr(err, "bad capture filter"));
	(void)state;
}

/* Marks in open[] the descriptors open now (below FD_SCAN). */
#define FD_SCAN 1024
static void open_fds(bool open[FD_SCAN])
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	assert_non_null(d);
	memset(open, 0, FD_SCAN * sizeof(open[0]));
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] != '.' && fd != dirfd(d) && fd >= 0 && fd < FD_SCAN)
			open[fd] = true;
	}
	closedir(d);
}

/* Every descriptor libpcap opens for us is close-on-exec, not only the
 * one capture_fd() returns. */
static void test_cloexec(void **state)
{
	static bool before[FD_SCAN], after[FD_SCAN];
	struct capture *c;
	unsigned n = 0;

	open_fds(before);
	c = open_qb(NULL);
	open_fds(after);
	for (int fd = 0; fd < FD_SCAN; fd++) {
		char path[64], target[256] = "";

		if (!after[fd] || before[fd])
			continue;
		n++;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (readlink(path, target, sizeof(target) - 1) < 0)
			continue;
		if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			fail_msg("fd %d (%s) is not close-on-exec", fd, target);
	}
	assert_true(n >= 1);
	capture_close(c);
	(void)state;
}

/* The interface goes away under the capture: an error, not a hang. */
static void test_interface_gone(void **state)
{
	struct capture *c;
	struct run run = {0};
	uint64_t end;
	char err[256] = "";
	int r = 0;

	sh("ip link add qe type veth peer name qf && ip link set qe up && ip link set qf up");
	{
		struct capture_opts o = {.snaplen = SNAPLEN, .buffer_mb = 1, .promisc = true};

		r = capture_open_live("qf", &o, &c, err, sizeof(err));
		if (r < 0)
			fail_msg("capture_open_live(qf): %s", err);
	}
	sh("ip link del qe");
	end = mono_ms() + WAIT_MS;
	while (mono_ms() < end) {
		struct pollfd pfd = {.fd = capture_fd(c), .events = POLLIN};

		assert_true(poll(&pfd, 1, 100) >= 0);
		r = capture_dispatch(c, 64, on_packet, &run, err, sizeof(err));
		if (r < 0)
			break;
	}
	print_message("interface gone: %d %s\n", r, err);
	assert_int_equal(r, -EIO);
	assert_true(err[0] != '\0');
	capture_close(c);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filtered_frames),	  cmocka_unit_test(test_stats_wrap),
		cmocka_unit_test(test_no_such_interface), cmocka_unit_test(test_interface_down),
		cmocka_unit_test(test_permission),	  cmocka_unit_test(test_bad_filter),
		cmocka_unit_test(test_cloexec),		  cmocka_unit_test(test_interface_gone),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_capture_live: skipped, needs root (network namespace)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test_capture_live: skipped, unshare(CLONE_NEWNET): %s\n",
			strerror(errno));
		return 77;
	}
	/* No IPv6 on the new links: fewer frames of the kernel's own. */
	if (system("ip link set lo up &&"
		   " { echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6; } 2>/dev/null;"
		   " ip link add qa type veth peer name qb &&"
		   " ip link set qa up && ip link set qb up") != 0) {
		fprintf(stderr, "test_capture_live: cannot set up the veth pair\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
