/* Unit tests for filter: the expression for each configuration is checked
 * as text and, more to the point, compiled by libpcap and run over frames
 * built byte by byte, so that what passes is what the detectors need.
 * Links libpcap itself (pcap_open_dead, pcap_offline_filter): the one test
 * besides capture.c that includes <pcap.h>. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "filter.h"
#include "frames.h"

#define FBUF 2048

/* A conf with the built-in defaults; free with conf_free(). */
static struct conf *conf_new(void)
{
	struct conf *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(conf_init_default(c), 0);
	return c;
}

static void conf_free(struct conf *c)
{
	conf_fini(c);
	free(c);
}

static void rule_enable(struct conf *c, const char *name, bool on)
{
	int i = conf_rule_find(c, name);

	assert_true(i >= 0);
	c->rules[i].enabled = on;
}

static void rule_protos(struct conf *c, const char *name, unsigned protos)
{
	int i = conf_rule_find(c, name);

	assert_true(i >= 0);
	c->rules[i].protos = protos;
}

/* Compiles expr for Ethernet as the daemon does (optimised, netmask
 * unknown); false with pcap's message printed when it does not compile. */
static bool compile(const char *expr, struct bpf_program *prog)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	bool ok;

	assert_non_null(p);
	ok = pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0;
	if (!ok)
		print_message("pcap_compile(\"%s\"): %s\n", expr, pcap_geterr(p));
	pcap_close(p);
	return ok;
}

/* Builds the filter for c, checks that libpcap compiles it. */
static void build(const struct conf *c, char *buf)
{
	struct bpf_program prog;
	int n = filter_build(c, buf, FBUF);

	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_true(compile(buf, &prog));
	pcap_freecode(&prog);
}

static bool passes(const char *expr, const struct frame *f)
{
	struct bpf_program prog;
	struct pcap_pkthdr h = {.caplen = (bpf_u_int32)f->n, .len = (bpf_u_int32)f->n};
	bool r;

	assert_true(compile(expr, &prog));
	r = pcap_offline_filter(&prog, &h, f->b) != 0;
	pcap_freecode(&prog);
	return r;
}

static unsigned occurrences(const char *s, const char *what)
{
	unsigned n = 0;

	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* The TCP segments every configuration with a TCP detector must pass, and
 * the ones it must not; fins: a brute-force rule is on, and connections'
 * ends must be seen. */
static void check_tcp(const char *expr, bool fins)
{
	struct frame f;

	fr_tcp4(&f, FR_TH_SYN, 0);
	assert_true(passes(expr, &f));
	fr_tcp4(&f, FR_TH_SYN | FR_TH_ACK, 0);
	assert_true(passes(expr, &f)); /* success outcome */
	fr_tcp4(&f, FR_TH_RST, 0);
	assert_true(passes(expr, &f)); /* failure outcome */
	fr_tcp4(&f, FR_TH_RST | FR_TH_ACK, 0);
	assert_true(passes(expr, &f));
	fr_tcp4(&f, FR_TH_FIN, 0);
	assert_true(passes(expr, &f)); /* FIN probe */
	fr_tcp4(&f, 0, 0);
	assert_true(passes(expr, &f)); /* NULL probe */
	fr_tcp4(&f, FR_TH_FIN | FR_TH_PSH | FR_TH_URG, 0);
	assert_true(passes(expr, &f)); /* XMAS probe */

	/* A bare ACK (no options, no payload) is an ACK scan's probe
	 * (test_bare_acks). */
	fr_tcp4(&f, FR_TH_ACK, 0);
	assert_true(passes(expr, &f));
	/* Established connections: the bulk of the traffic stays out. */
	fr_tcp4(&f, FR_TH_ACK | FR_TH_PSH, 0);
	assert_false(passes(expr, &f));
	fr_tcp4(&f, FR_TH_ACK | FR_TH_FIN, 0);
	assert_true(passes(expr, &f) == fins);
	fr_tcp4(&f, FR_TH_ACK | FR_TH_FIN | FR_TH_PSH, 0);
	assert_true(passes(expr, &f) == fins);

	/* IPv6 passes whole (SPEC section 8). */
	fr_tcp6(&f, FR_TH_SYN, 0);
	assert_true(passes(expr, &f));
	fr_tcp6(&f, FR_TH_ACK, 0);
	assert_true(passes(expr, &f));

	/* 802.1Q */
	fr_tcp4(&f, FR_TH_SYN, 100);
	assert_true(passes(expr, &f));
	fr_tcp4(&f, FR_TH_RST, 100);
	assert_true(passes(expr, &f));
	fr_tcp4(&f, FR_TH_ACK | FR_TH_PSH, 100);
	assert_false(passes(expr, &f));
	fr_tcp6(&f, FR_TH_ACK, 100);
	assert_true(passes(expr, &f));
}

/* ICMP passes in every configuration: errors carry TCP and UDP outcomes. */
static void check_icmp(const char *expr)
{
	struct frame f;

	fr_icmp4_echo(&f, 8);
	assert_true(passes(expr, &f));
	fr_icmp4_echo(&f, 0);
	assert_true(passes(expr, &f));
	fr_icmp4_port_unreach(&f);
	assert_true(passes(expr, &f));
	fr_icmp6_echo(&f);
	assert_true(passes(expr, &f));
}

static void check_udp(const char *expr, bool on)
{
	struct frame f;

	fr_udp4(&f, 0);
	assert_int_equal(passes(expr, &f), on);
	fr_udp6(&f);
	assert_int_equal(passes(expr, &f), on);
	fr_udp4(&f, 100);
	assert_int_equal(passes(expr, &f), on);
}

static void check_arp(const char *expr, bool on)
{
	struct frame f;

	fr_arp_request(&f, 0);
	assert_int_equal(passes(expr, &f), on);
	fr_arp_request(&f, 100);
	assert_int_equal(passes(expr, &f), on);
}

/* Identity learns from DHCP whatever the rules: a client's request (68 to
 * 67) and a DHCPv6 solicit (546 to 547) always pass. */
static void check_dhcp(const char *expr)
{
	struct frame f;
	size_t ip;

	fr_eth(&f, FR_MAC_BCAST, 0, FR_ETH_IPV4);
	ip = fr_ipv4(&f, 17, FR_IP_A, FR_IP_B, 0);
	fr_udp(&f, 68, 67);
	fr_ipv4_end(&f, ip);
	assert_true(passes(expr, &f));
	fr_eth(&f, FR_MAC_B, 0, FR_ETH_IPV6);
	ip = fr_ipv6(&f, 17, FR_IP6_A, FR_IP6_B);
	fr_udp(&f, 546, 547);
	fr_ipv6_end(&f, ip);
	assert_true(passes(expr, &f));
}

static void test_default_string(void **state)
{
	struct conf *c = conf_new();
	char buf[FBUF];

	build(c, buf);
	print_message("default filter: %s\n", buf);
	/* The body twice: untagged, then behind one 802.1Q tag. */
	assert_int_equal(strncmp(buf, "(", 1), 0);
	assert_int_equal(occurrences(buf, ") or (vlan and ("), 1);
	assert_int_equal(occurrences(buf, "arp or "), 2);
	assert_int_equal(occurrences(buf, "icmp or icmp6"), 2);
	assert_int_equal(occurrences(buf, " or udp"), 2);
	assert_int_equal(occurrences(buf, "tcp[tcpflags] & (tcp-syn|tcp-rst) != 0"), 2);
	assert_int_equal(occurrences(buf, "tcp[tcpflags] & tcp-ack == 0"), 2);
	assert_int_equal(occurrences(buf, "(ip6 and tcp)"), 2);
	/* Never a TCP index behind IPv6 (see test_ipv6_trap). */
	assert_null(strstr(buf, "ip6 and tcp["));
	conf_free(c);
	(void)state;
}

static void test_default_packets(void **state)
{
	struct conf *c = conf_new();
	char buf[FBUF];
	struct frame f;

	build(c, buf);
	check_tcp(buf, true);
	check_icmp(buf);
	check_udp(buf, true);
	check_arp(buf, true);
	fr_lldp(&f);
	assert_false(passes(buf, &f));
	conf_free(c);
	(void)state;
}

/* Without the ARP rule, ARP still passes: machine identity learns from it. */
static void test_no_arp(void **state)
{
	struct conf *c = conf_new();
	char buf[FBUF];

	rule_enable(c, "arp-sweep", false);
	build(c, buf);
	check_arp(buf, true);
	check_dhcp(buf);
	check_tcp(buf, true);
	check_icmp(buf);
	check_udp(buf, true);

	/* Without the brute-force rules, connections' ends stay out. */
	rule_enable(c, "login-guessing", false);
	rule_enable(c, "login-bruteforce", false);
	build(c, buf);
	check_tcp(buf, false);
	conf_free(c);
	(void)state;
}

/* No UDP rule and the TRW on TCP only (its default): no UDP at all, but the
 * ICMP errors that quote UDP still pass (they are ICMP). */
static void test_no_udp(void **state)
{
	struct conf *c = conf_new();
	char buf[FBUF];

	rule_enable(c, "slammer-propagation", false);
	rule_protos(c, "horizontal-scan", PROTO_TCP);
	rule_protos(c, "dark-space", PROTO_TCP);
	rule_enable(c, "vertical-scan", false);
	assert_int_equal(c->scan.protos, PROTO_TCP);
	build(c, buf);
	assert_null(strstr(buf, " or udp or"));
	check_udp(buf, false);
	check_dhcp(buf);
	check_tcp(buf, true);
	check_icmp(buf);
	check_arp(buf, true);

	/* A disabled rule counts for nothing, whatever its protocols. */
	c->scan.enabled = false;
	c->scan.protos = PROTO_TCP | PROTO_UDP;
	build(c, buf);
	check_udp(buf, false);
	conf_free(c);
	(void)state;
}

/* UDP comes back for each reason on its own. */
static void test_udp_reasons(void **state)
{
	struct conf *c = conf_new();
	char buf[FBUF];

	rule_enable(c, "slammer-propagation", false);
	rule_enable(c, "horizontal-scan", false);
	rule_enable(c, "vertical-scan", false);
	rule_enable(c, "dark-space", false);
	build(c, buf);
	check_udp(buf, false);

	/* The TRW on UDP. */
	c->scan.protos = PROTO_TCP | PROTO_UDP;
	build(c, buf);
	check_udp(buf, true);
	c->scan.protos = PROTO_TCP;

	/* A rule that counts only failures: its replies must be seen. */
	rule_enable(c, "horizontal-scan", true);
	rule_protos(c, "horizontal-scan", PROTO_UDP);
	assert_int_equal(c->rules[conf_rule_find(c, "horizontal-scan")].count, COUNT_FAILURES);
	build(c, buf);
	check_udp(buf, true);
	rule_enable(c, "horizontal-scan", false);

	/* A rule that counts first contacts. */
	rule_enable(c, "slammer-propagation", true);
	build(c, buf);
	check_udp(buf, true);
	conf_free(c);
	(void)state;
}

/* Nothing counts TCP: no TCP term, and the filter still compiles. */
static void test_no_tcp(void **state)
{
	struct conf *c = conf_new();
	char buf[FBUF];
	struct frame f;

	for (unsigned i = 0; i < c->nrules; i++)
		c->rules[i].protos &= ~(unsigned)PROTO_TCP;
	c->scan.enabled = false;
	build(c, buf);
	assert_null(strstr(buf, "tcp"));
	fr_tcp4(&f, FR_TH_SYN, 0);
	assert_false(passes(buf, &f));
	fr_tcp6(&f, FR_TH_SYN, 0);
	assert_false(passes(buf, &f));
	check_icmp(buf);
	check_udp(buf, true);

	/* Every rule off: what identity learns from is still a valid filter. */
	for (unsigned i = 0; i < c->nrules; i++)
		c->rules[i].enabled = false;
	build(c, buf);
	assert_string_equal(buf, "(arp or icmp or icmp6 or udp port 67 or udp port 68 or udp "
				 "port 546 or udp port 547) or (vlan and (arp or icmp or icmp6 or "
				 "udp port 67 or udp port 68 or udp port 546 or udp port 547))");
	check_icmp(buf);
	check_udp(buf, false);
	check_arp(buf, true);
	check_dhcp(buf);
	conf_free(c);
	(void)state;
}

/* An IPv4 ACK from A:51234 to B:80 with optwords 32-bit words of options
 * (timestamps: 3) and paylen bytes of data; tso: the IP length field is 0,
 * as in a segment sent with segmentation offload. */
static void ack4(struct frame *f, unsigned flags, unsigned optwords, unsigned paylen, unsigned vid,
		 bool tso)
{
	size_t ip, th;

	fr_eth(f, FR_MAC_B, vid, FR_ETH_IPV4);
	ip = fr_ipv4(f, 6, FR_IP_A, FR_IP_B, 0);
	th = f->n;
	fr_tcp(f, 51234, 80, flags);
	f->b[th + 12] = (uint8_t)((5 + optwords) << 4);
	for (unsigned i = 0; i < optwords; i++)
		fr_put32(f, 0x0101080a);
	for (unsigned i = 0; i < paylen; i++)
		fr_put8(f, 'x');
	fr_ipv4_end(f, ip);
	if (tso) {
		f->b[ip + 2] = 0;
		f->b[ip + 3] = 0;
	}
}

/* Bare ACKs (issue 10): ACK alone, no options, no payload, tagged or not,
 * whenever a rule counts failures over TCP; pure ACKs with options, data
 * and offloaded segments stay out.  (A FIN is the brute-force rules'
 * business.)  FILTER_ACKS_PURE (measured, not
 * used) passes every pure ACK; FILTER_ACKS_NONE none. */
static void test_bare_acks(void **state)
{
	struct conf *c = conf_new();
	char buf[FBUF];
	struct frame f;
	int n;

	build(c, buf);
	assert_int_equal(occurrences(buf, "tcp[tcpflags] == tcp-ack"), 2);
	for (unsigned vid = 0; vid <= 100; vid += 100) {
		ack4(&f, FR_TH_ACK, 0, 0, vid, false);
		assert_true(passes(buf, &f));
		ack4(&f, FR_TH_ACK, 3, 0, vid, false); /* timestamps: Linux, macOS */
		assert_false(passes(buf, &f));
		ack4(&f, FR_TH_ACK, 0, 1, vid, false); /* a Windows keepalive */
		assert_false(passes(buf, &f));
		ack4(&f, FR_TH_ACK, 0, 1200, vid, false);
		assert_false(passes(buf, &f));
		ack4(&f, FR_TH_ACK | FR_TH_PSH, 0, 0, vid, false);
		assert_false(passes(buf, &f));
		ack4(&f, FR_TH_ACK, 0, 0, vid, true);
		assert_false(passes(buf, &f));
	}

	n = filter_build_acks(c, FILTER_ACKS_PURE, buf, FBUF);
	assert_true(n > 0);
	ack4(&f, FR_TH_ACK, 3, 0, 0, false);
	assert_true(passes(buf, &f));
	ack4(&f, FR_TH_ACK, 0, 0, 100, false);
	assert_true(passes(buf, &f));
	ack4(&f, FR_TH_ACK, 3, 100, 0, false);
	assert_false(passes(buf, &f));

	n = filter_build_acks(c, FILTER_ACKS_NONE, buf, FBUF);
	assert_true(n > 0);
	ack4(&f, FR_TH_ACK, 0, 0, 0, false);
	assert_false(passes(buf, &f));

	/* No rule counts failures over TCP but dark space (which bare ACKs
	 * never feed): they stay out. */
	rule_enable(c, "horizontal-scan", false);
	build(c, buf);
	ack4(&f, FR_TH_ACK, 0, 0, 0, false);
	assert_true(passes(buf, &f));
	rule_enable(c, "vertical-scan", false);
	build(c, buf);
	assert_null(strstr(buf, "tcp-ack and"));
	assert_false(passes(buf, &f));
	check_icmp(buf);
	conf_free(c);
	(void)state;
}

/* SPEC section 8: libpcap indexes tcp[] only behind IPv4, so a TCP flag
 * test joined to ip6 matches nothing.  This is why the IPv6 term passes
 * whole; if a libpcap ever learns to index behind IPv6, this test says so. */
static void test_ipv6_trap(void **state)
{
	struct bpf_program prog;
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	struct frame f;

	assert_non_null(p);
	/* Alone, the optimiser sees it is empty and pcap_compile() refuses. */
	assert_int_not_equal(pcap_compile(p, &prog, "ip6 and tcp[tcpflags] & tcp-syn != 0", 1,
					  PCAP_NETMASK_UNKNOWN),
			     0);
	pcap_close(p);

	/* Joined to anything else it compiles, and silently drops every
	 * IPv6 SYN. */
	fr_tcp6(&f, FR_TH_SYN, 0);
	assert_false(passes("(ip6 and tcp[tcpflags] & tcp-syn != 0) or arp", &f));
	assert_false(passes("(ip6 and tcp[13] & 2 != 0) or arp", &f));
	assert_true(passes("(ip6 and tcp) or arp", &f));
	(void)state;
}

/* Non-first IPv4 fragments carry no TCP header; tcp[] tests the fragment
 * offset, so they are not mistaken for probes by the kernel either. */
static void test_fragments(void **state)
{
	struct conf *c = conf_new();
	char buf[FBUF];
	struct frame f;

	build(c, buf);
	fr_tcp4_fragment(&f);
	assert_false(passes(buf, &f));
	conf_free(c);
	(void)state;
}

static void test_enospc(void **state)
{
	struct conf *c = conf_new();
	char buf[FBUF], small[FBUF];
	int n;

	build(c, buf);
	n = (int)strlen(buf);
	for (int len = 0; len <= n; len++) {
		memset(small, 'x', sizeof(small));
		assert_int_equal(filter_build(c, small, (size_t)len), -ENOSPC);
		if (len > 0)
			assert_int_equal(small[0], '\0'); /* nothing half-written */
	}
	assert_int_equal(filter_build(c, small, (size_t)n + 1), n);
	assert_string_equal(small, buf);
	conf_free(c);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_string), cmocka_unit_test(test_default_packets),
		cmocka_unit_test(test_no_arp),	       cmocka_unit_test(test_no_udp),
		cmocka_unit_test(test_udp_reasons),    cmocka_unit_test(test_no_tcp),
		cmocka_unit_test(test_ipv6_trap),      cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_enospc),	       cmocka_unit_test(test_bare_acks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
