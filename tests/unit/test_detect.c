/* Unit tests of the detection engine: every detector, outcomes, windows,
 * deduplication, exemptions and the table bounds.  Time is passed in. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "conf.h"
#include "decode.h"
#include "detect.h"

#define T0  (1767000000ULL * USEC_PER_SEC)
#define SEC USEC_PER_SEC
#define MS  1000ULL

#define SYN 0x02
#define RST 0x04
#define ACK 0x10
#define FIN 0x01
#define PSH 0x08
#define URG 0x20

struct fired {
	char rule[CONF_NAME_MAX];
	char host[ADDR_STRLEN];
	enum severity sev;
	unsigned count;
	unsigned failures, successes;
	uint64_t probes;
	unsigned nports;
	uint16_t ports[DETECT_MAX_PORTS];
	usec_t ts, first;
	char proto[8];
	struct qaddr dark[DETECT_DARK_MAX];
	unsigned ndark;
	struct qaddr target, peer;
	enum evidence_kind kind;
};

struct fix {
	struct conf c;
	struct detect *d;
	struct fired f[64];
	unsigned n;
};

static void cb(void *arg, const struct detection *det)
{
	struct fix *x = arg;
	struct fired *f;

	assert_true(x->n < 64);
	f = &x->f[x->n++];
	snprintf(f->rule, sizeof(f->rule), "%s", det->rule_name);
	addr_ntop(&det->host, f->host);
	f->sev = det->severity;
	f->count = det->count;
	f->failures = det->failures;
	f->successes = det->successes;
	f->probes = det->probes;
	f->nports = det->nports;
	memcpy(f->ports, det->ports, sizeof(f->ports));
	f->ts = det->ts_us;
	f->first = det->first_probe_us;
	snprintf(f->proto, sizeof(f->proto), "%s", det->proto);
	memcpy(f->dark, det->dark, sizeof(f->dark));
	f->ndark = det->ndark;
	f->target = det->target;
	f->peer = det->peer;
	f->kind = det->kind;
}

static const struct siphash_key key = {1, 2};

static void fix_start(struct fix *x)
{
	x->d = detect_new(&x->c, &key, cb, x);
	assert_non_null(x->d);
}

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	assert_int_equal(conf_init_default(&x->c), 0);
	*state = x;
	return 0;
}

/* A fixture whose config comes from text (for inventory roles etc.). */
static void fix_load(struct fix *x, const char *text)
{
	char path[] = "/tmp/qd-test-detect-XXXXXX";
	struct conf_diags diags;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	conf_fini(&x->c);
	memset(&diags, 0, sizeof(diags));
	assert_int_equal(conf_load(&x->c, path, &diags), 0);
	unlink(path);
}

static int teardown(void **state)
{
	struct fix *x = *state;

	detect_free(x->d);
	conf_fini(&x->c);
	free(x);
	return 0;
}

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static struct pkt
ip(const char *src, const char *dst, uint8_t proto)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.src = A(src);
	p.dst = A(dst);
	p.l3 = p.src.family == AF_INET6 ? PKT_L3_IPV6 : PKT_L3_IPV4;
	p.proto = proto;
	p.flags = PKT_F_L4;
	return p;
}

static void tcp(struct fix *x, usec_t t, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		uint8_t flags)
{
	struct pkt p = ip(src, dst, IPPROTO_TCP);

	p.sport = sp;
	p.dport = dp;
	p.tcp_flags = flags;
	detect_packet(x->d, &p, NULL, t);
}

static void udp(struct fix *x, usec_t t, const char *src, uint16_t sp, const char *dst, uint16_t dp)
{
	struct pkt p = ip(src, dst, IPPROTO_UDP);

	p.sport = sp;
	p.dport = dp;
	detect_packet(x->d, &p, NULL, t);
}

static void icmp_echo(struct fix *x, usec_t t, const char *src, const char *dst, bool reply)
{
	struct pkt p = ip(src, dst, IPPROTO_ICMP);

	p.icmp_type = reply ? 0 : 8;
	detect_packet(x->d, &p, NULL, t);
}

/* An ICMP error from `from` quoting a probe src->dst:dport of proto. */
static void icmp_err(struct fix *x, usec_t t, const char *from, uint8_t type, uint8_t code,
		     const char *src, const char *dst, uint8_t proto, uint16_t dport)
{
	struct pkt p = ip(from, src, IPPROTO_ICMP);

	p.icmp_type = type;
	p.icmp_code = code;
	p.quote.valid = 1;
	p.quote.has_ports = 1;
	p.quote.proto = proto;
	p.quote.src = A(src);
	p.quote.dst = A(dst);
	p.quote.sport = 40000;
	p.quote.dport = dport;
	detect_packet(x->d, &p, NULL, t);
}

static void arp(struct fix *x, usec_t t, uint16_t op, const char *sender, const char *target)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.l3 = PKT_L3_ARP;
	p.arp_op = op;
	p.src = A(sender);
	p.dst = A(target);
	p.flags = PKT_F_L2_BCAST;
	detect_packet(x->d, &p, NULL, t);
}

/* A TCP segment as decoded: header length with options, payload length,
 * sequence and acknowledgment numbers. */
static void seg(struct fix *x, usec_t t, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		uint8_t flags, uint8_t hlen, uint32_t paylen, uint32_t seq, uint32_t ackn)
{
	struct pkt p = ip(src, dst, IPPROTO_TCP);

	p.sport = sp;
	p.dport = dp;
	p.tcp_flags = flags;
	p.tcp_hlen = hlen;
	p.tcp_paylen = paylen;
	p.tcp_seq = seq;
	p.tcp_ack = ackn;
	detect_packet(x->d, &p, NULL, t);
}

/* A bare ACK (no options, no payload), as nmap -sA sends it. */
static void bare_ack(struct fix *x, usec_t t, const char *src, uint16_t sp, const char *dst,
		     uint16_t dp, uint32_t ackn)
{
	seg(x, t, src, sp, dst, dp, ACK, 20, 0, 1000, ackn);
}

/* The reset answering a segment that acknowledged ackn (RFC 793). */
static void reset(struct fix *x, usec_t t, const char *src, uint16_t sp, const char *dst,
		  uint16_t dp, uint32_t ackn)
{
	seg(x, t, src, sp, dst, dp, RST, 20, 0, ackn, 0);
}

static unsigned fired_count(const struct fix *x, const char *host, const char *rule)
{
	unsigned n = 0;

	for (unsigned i = 0; i < x->n; i++)
		if (strcmp(x->f[i].host, host) == 0 && strcmp(x->f[i].rule, rule) == 0)
			n++;
	return n;
}

/* The first detection of host by rule; fails the test when there is none. */
static const struct fired *fired_get(const struct fix *x, const char *host, const char *rule)
{
	for (unsigned i = 0; i < x->n; i++)
		if (strcmp(x->f[i].host, host) == 0 && strcmp(x->f[i].rule, rule) == 0)
			return &x->f[i];
	fail_msg("no %s detection for %s", rule, host);
	abort();
}

static void dst_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "10.2.%u.%u", i / 250, i % 250 + 1);
}

/* --- horizontal pattern rules --- */

static void test_smb_threshold(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	for (unsigned i = 0; i < 9; i++) {
		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + i * 100 * MS, "10.1.0.5", 40000 + i, dst, 445, SYN);
	}
	assert_int_equal(fired_count(x, "10.1.0.5", "smb-propagation"), 0);
	dst_name(dst, sizeof(dst), 9);
	tcp(x, T0 + 900 * MS, "10.1.0.5", 41000, dst, 139, SYN);
	const struct fired *f = fired_get(x, "10.1.0.5", "smb-propagation");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_HIGH);
	assert_int_equal(f->count, 10);
	assert_int_equal(f->probes, 10);
	assert_int_equal(f->first, T0);
	assert_int_equal(f->ts, T0 + 900 * MS);
	assert_int_equal(f->nports, 2);
	assert_string_equal(f->proto, "tcp");
	/* Reported once, however long it goes on. */
	for (unsigned i = 10; i < 40; i++) {
		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + SEC + i * MS, "10.1.0.5", 42000 + i, dst, 445, SYN);
	}
	assert_int_equal(fired_count(x, "10.1.0.5", "smb-propagation"), 1);
}

static void test_retransmissions_count_once(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	/* 9 destinations, each SYN sent 5 times and every packet duplicated,
	 * and each also probed on 139: still 9 distinct destinations. */
	for (unsigned i = 0; i < 9; i++) {
		dst_name(dst, sizeof(dst), i);
		for (unsigned k = 0; k < 5; k++)
			for (unsigned dup = 0; dup < 2; dup++) {
				tcp(x, T0 + i * 10 * MS + k * MS, "10.1.0.5", 40000 + i, dst, 445,
				    SYN);
				tcp(x, T0 + i * 10 * MS + k * MS, "10.1.0.5", 50000 + i, dst, 139,
				    SYN);
			}
	}
	assert_int_equal(fired_count(x, "10.1.0.5", "smb-propagation"), 0);
}

static void test_window_slides(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	for (unsigned i = 0; i < 9; i++) {
		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + i * SEC, "10.1.0.5", 40000 + i, dst, 445, SYN);
		/* answered: keeps the TRW quiet */
		tcp(x, T0 + i * SEC + MS, dst, 445, "10.1.0.5", 40000 + i, SYN | ACK);
	}
	/* The tenth comes after the first nine have left the window. */
	tcp(x, T0 + 75 * SEC, "10.1.0.5", 41000, "10.2.9.9", 445, SYN);
	assert_int_equal(fired_count(x, "10.1.0.5", "smb-propagation"), 0);
	assert_int_equal(x->n, 0);
}

static void test_unprotected_and_multicast_ignored(void **state)
{
	struct fix *x = *state;
	char dst[32];
	struct detect_stats st;

	fix_start(x);
	for (unsigned i = 0; i < 30; i++) {
		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + i * MS, "198.51.100.7", 40000 + i, dst, 445, SYN);
		udp(x, T0 + i * MS, "10.1.0.9", 5353, "224.0.0.251", 5353);
		udp(x, T0 + i * MS, "10.1.0.9", 1900 + (uint16_t)i, "255.255.255.255", 1434);
	}
	detect_flush(x->d);
	assert_int_equal(x->n, 0);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.probes, 0);
}

static void test_slammer_udp(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	for (unsigned i = 0; i < 10; i++) {
		dst_name(dst, sizeof(dst), i);
		udp(x, T0 + i * MS, "10.1.0.66", 1025, dst, 1434);
	}
	const struct fired *f = fired_get(x, "10.1.0.66", "slammer-propagation");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_HIGH);
	assert_string_equal(f->proto, "udp");
}

static void test_icmp_sweep(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	for (unsigned i = 0; i < 15; i++) {
		dst_name(dst, sizeof(dst), i);
		icmp_echo(x, T0 + i * 50 * MS, "10.1.0.109", dst, false);
		if (i % 2)
			icmp_echo(x, T0 + i * 50 * MS + MS, dst, "10.1.0.109", true);
	}
	const struct fired *f = fired_get(x, "10.1.0.109", "icmp-sweep");
	assert_non_null(f);
	assert_int_equal(f->count, 15);
	assert_int_equal(f->sev, SEV_LOW);
	assert_string_equal(f->proto, "icmp");
	assert_int_equal(f->nports, 0);
}

static void test_arp_sweep_counts_failures(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	/* A host resolving 30 neighbours that all answer is not sweeping. */
	for (unsigned i = 0; i < 30; i++) {
		snprintf(dst, sizeof(dst), "10.1.7.%u", i + 1);
		arp(x, T0 + i * 10 * MS, 1, "10.1.7.200", dst);
		arp(x, T0 + i * 10 * MS + MS, 2, dst, "10.1.7.200");
	}
	/* A sweep of the subnet where few answer is. */
	for (unsigned i = 0; i < 60; i++) {
		snprintf(dst, sizeof(dst), "10.1.7.%u", i + 1);
		arp(x, T0 + 5 * SEC + i * 10 * MS, 1, "10.1.7.99", dst);
		if (i < 5)
			arp(x, T0 + 5 * SEC + i * 10 * MS + MS, 2, dst, "10.1.7.99");
	}
	/* Gratuitous ARP and RFC 5227 probes are not requests for others. */
	arp(x, T0 + 6 * SEC, 1, "10.1.7.50", "10.1.7.50");
	arp(x, T0 + 6 * SEC, 1, "0.0.0.0", "10.1.7.51");
	assert_int_equal(fired_count(x, "10.1.7.99", "arp-sweep"), 0); /* no timeout yet */
	detect_advance(x->d, T0 + 10 * SEC);
	const struct fired *f = fired_get(x, "10.1.7.99", "arp-sweep");
	assert_non_null(f);
	assert_int_equal(f->count, 20);
	assert_string_equal(f->proto, "arp");
	assert_int_equal(fired_count(x, "10.1.7.200", "arp-sweep"), 0);
	assert_int_equal(fired_count(x, "10.1.7.50", "arp-sweep"), 0);
}

/* --- TRW --- */

static void test_trw_maths(void **state)
{
	struct trw_params p;

	(void)state;
	trw_params_init(&p, 0.8, 0.2, 0.99, 0.01);
	assert_true(p.eta1 > 4.59 && p.eta1 < 4.60);
	assert_true(p.eta0 < -4.59 && p.eta0 > -4.60);
	assert_true(p.step_fail > 1.386 && p.step_fail < 1.387);
	assert_true(p.step_success < -1.386 && p.step_success > -1.387);
	assert_int_equal(trw_failures_to_alarm(&p), 4);
	/* A stricter detector needs more evidence. */
	trw_params_init(&p, 0.8, 0.2, 0.999, 0.001);
	assert_int_equal(trw_failures_to_alarm(&p), 5);
}

static void test_trw_four_failures(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	tcp(x, T0, "10.1.0.7", 40000, "203.0.113.1", 8081, SYN);
	tcp(x, T0 + MS, "203.0.113.1", 8081, "10.1.0.7", 40000, RST | ACK);
	tcp(x, T0 + 2 * MS, "10.1.0.7", 40001, "203.0.113.2", 9000, SYN);
	tcp(x, T0 + 3 * MS, "203.0.113.2", 9000, "10.1.0.7", 40001, RST | ACK);
	tcp(x, T0 + 4 * MS, "10.1.0.7", 40002, "203.0.113.3", 445, SYN);
	tcp(x, T0 + 5 * MS, "203.0.113.3", 445, "10.1.0.7", 40002, RST | ACK);
	assert_int_equal(fired_count(x, "10.1.0.7", DETECT_TRW_NAME), 0);
	tcp(x, T0 + 6 * MS, "10.1.0.7", 40003, "203.0.113.4", 7000, SYN);
	tcp(x, T0 + 7 * MS, "203.0.113.4", 7000, "10.1.0.7", 40003, RST | ACK);
	const struct fired *f = fired_get(x, "10.1.0.7", DETECT_TRW_NAME);
	assert_non_null(f);
	assert_int_equal(f->failures, 4);
	assert_int_equal(f->successes, 0);
	/* One failure was on a worm port (445): medium, not low. */
	assert_int_equal(f->sev, SEV_MEDIUM);
	assert_int_equal(f->first, T0);
	assert_int_equal(f->nports, 4);
}

static void test_trw_timeouts_and_p2p_low(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	/* Unanswered SYNs on a port no worm uses, retransmitted. */
	for (unsigned k = 0; k < 2; k++)
		for (unsigned i = 0; i < 4; i++) {
			char dst[32];
			snprintf(dst, sizeof(dst), "198.51.100.%u", i + 10);
			tcp(x, T0 + k * SEC + i * 100 * MS, "10.1.4.176", 40000 + i, dst, 6346,
			    SYN);
		}
	assert_int_equal(x->n, 0);
	detect_advance(x->d, T0 + 4 * SEC);
	const struct fired *f = fired_get(x, "10.1.4.176", DETECT_TRW_NAME);
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_LOW);
	assert_int_equal(f->failures, 4);
	/* Retransmissions are not probes. */
	assert_int_equal(f->probes, 4);
}

static void test_trw_successes_keep_quiet(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	/* A browser: many new servers, almost all answer. */
	for (unsigned i = 0; i < 150; i++) {
		char dst[32];
		snprintf(dst, sizeof(dst), "203.0.%u.%u", i / 200, i % 200 + 1);
		tcp(x, T0 + i * 10 * MS, "10.1.0.30", (uint16_t)(30000 + i), dst, 443, SYN);
		if (i % 10 != 0)
			tcp(x, T0 + i * 10 * MS + MS, dst, 443, "10.1.0.30", (uint16_t)(30000 + i),
			    SYN | ACK);
	}
	detect_flush(x->d);
	assert_int_equal(x->n, 0);
}

static void test_trw_level_rises(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	for (unsigned i = 0; i < 4; i++) {
		char dst[32];
		snprintf(dst, sizeof(dst), "198.51.100.%u", i + 10);
		tcp(x, T0 + i * MS, "10.1.0.8", 40000 + i, dst, 6346, SYN);
		tcp(x, T0 + i * MS + 1, dst, 6346, "10.1.0.8", 40000 + i, RST | ACK);
	}
	assert_int_equal(fired_count(x, "10.1.0.8", DETECT_TRW_NAME), 1);
	/* Another low walk: not reported again. */
	for (unsigned i = 0; i < 4; i++) {
		char dst[32];
		snprintf(dst, sizeof(dst), "198.51.100.%u", i + 20);
		tcp(x, T0 + SEC + i * MS, "10.1.0.8", 41000 + i, dst, 6346, SYN);
		tcp(x, T0 + SEC + i * MS + 1, dst, 6346, "10.1.0.8", 41000 + i, RST | ACK);
	}
	assert_int_equal(fired_count(x, "10.1.0.8", DETECT_TRW_NAME), 1);
	/* Failures on a worm port: medium, reported again. */
	for (unsigned i = 0; i < 4; i++) {
		char dst[32];
		snprintf(dst, sizeof(dst), "198.51.100.%u", i + 30);
		tcp(x, T0 + 2 * SEC + i * MS, "10.1.0.8", 42000 + i, dst, 23, SYN);
		tcp(x, T0 + 2 * SEC + i * MS + 1, dst, 23, "10.1.0.8", 42000 + i, RST | ACK);
	}
	assert_int_equal(fired_count(x, "10.1.0.8", DETECT_TRW_NAME), 2);
	assert_int_equal(x->f[x->n - 1].sev, SEV_MEDIUM);
}

/* A scanner's first probe goes into dark space (never answered); the
 * resets of its later probes flag it at once, not at the dark probe's
 * timeout.  Same when dark and closed addresses alternate. */
static void test_trw_answers_as_they_come(void **state)
{
	struct fix *x = *state;
	const struct fired *f;

	fix_start(x);
	tcp(x, T0, "10.1.0.9", 40000, "10.2.0.1", 6379, SYN);
	for (unsigned i = 1; i <= 15; i++) {
		char dst[32];
		usec_t t = T0 + i * 10 * MS;

		snprintf(dst, sizeof(dst), "10.2.0.%u", i + 1);
		tcp(x, t, "10.1.0.9", (uint16_t)(40000 + i), dst, 6379, SYN);
		tcp(x, t + MS, dst, 6379, "10.1.0.9", (uint16_t)(40000 + i), RST | ACK);
		if (i == 3)
			assert_int_equal(fired_count(x, "10.1.0.9", DETECT_TRW_NAME), 0);
		if (i == 4) {
			f = fired_get(x, "10.1.0.9", DETECT_TRW_NAME);
			assert_non_null(f);
			assert_int_equal(f->failures, 4);
			assert_int_equal(f->successes, 0);
			assert_int_equal(f->first, T0 + 10 * MS);
			assert_int_equal(f->sev, SEV_LOW); /* 6379: no rule's port */
		}
	}
	/* The dark probe's timeout and the walk catching up: no new report. */
	detect_advance(x->d, T0 + 10 * SEC);
	assert_int_equal(fired_count(x, "10.1.0.9", DETECT_TRW_NAME), 1);

	/* Dark and closed addresses in turn, on a worm's port. */
	for (unsigned i = 0; i < 8; i++) {
		char dst[32];
		usec_t t = T0 + 20 * SEC + i * 10 * MS;

		snprintf(dst, sizeof(dst), "10.3.0.%u", i + 1);
		tcp(x, t, "10.1.0.10", (uint16_t)(40000 + i), dst, 445, SYN);
		if (i % 2)
			tcp(x, t + MS, dst, 445, "10.1.0.10", (uint16_t)(40000 + i), RST | ACK);
	}
	f = fired_get(x, "10.1.0.10", DETECT_TRW_NAME);
	assert_non_null(f);
	assert_int_equal(f->failures, 4);
	assert_int_equal(f->sev, SEV_MEDIUM);
	assert_true(f->ts < T0 + 21 * SEC); /* not at the first timeout */
}

/* A browser whose few dead servers time out long after the successes
 * sent after them: each timeout counts where it was sent, between
 * successes, so the walk never sees four failures in a row. */
static void test_trw_late_timeouts_keep_quiet(void **state)
{
	struct fix *x = *state;
	static const char pattern[] = "SSSSSSDSSDSSDSSDSSSSSS";

	fix_start(x);
	for (unsigned i = 0; pattern[i]; i++) {
		char dst[32];
		usec_t t = T0 + i * 20 * MS;

		snprintf(dst, sizeof(dst), "203.0.113.%u", i + 1);
		tcp(x, t, "10.1.0.31", (uint16_t)(30000 + i), dst, 443, SYN);
		if (pattern[i] == 'S')
			tcp(x, t + MS, dst, 443, "10.1.0.31", (uint16_t)(30000 + i), SYN | ACK);
	}
	detect_advance(x->d, T0 + 10 * SEC);
	detect_flush(x->d);
	assert_int_equal(fired_count(x, "10.1.0.31", DETECT_TRW_NAME), 0);
}

/* A host under surveillance (after a release) is flagged at half a
 * rule's threshold (surveillance.factor 0.5, rounded up); another host,
 * or the same after its surveillance, at the whole threshold. */
static void test_surveillance_lowers_thresholds(void **state)
{
	struct fix *x = *state;
	struct qaddr a = A("10.1.0.5");
	char dst[32];

	fix_start(x);
	tcp(x, T0, "10.1.0.200", 40000, "10.1.0.201", 80, SYN); /* the clock */
	assert_int_equal(detect_set_surveil(x->d, &a, T0 + 60 * SEC), 0);
	for (unsigned i = 0; i < 5; i++) {
		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + SEC + i * MS, "10.1.0.5", (uint16_t)(40000 + i), dst, 445, SYN);
		tcp(x, T0 + SEC + i * MS, "10.1.0.6", (uint16_t)(40000 + i), dst, 445, SYN);
		if (i == 3)
			assert_int_equal(fired_count(x, "10.1.0.5", "smb-propagation"), 0);
	}
	const struct fired *f = fired_get(x, "10.1.0.5", "smb-propagation");
	assert_non_null(f);
	assert_int_equal(f->count, 5);
	assert_int_equal(fired_count(x, "10.1.0.6", "smb-propagation"), 0);

	/* Surveillance over: the whole threshold again. */
	detect_forget(x->d, &a);
	for (unsigned i = 0; i < 9; i++) {
		dst_name(dst, sizeof(dst), 20 + i);
		tcp(x, T0 + 120 * SEC + i * MS, "10.1.0.5", (uint16_t)(41000 + i), dst, 445, SYN);
	}
	assert_int_equal(fired_count(x, "10.1.0.5", "smb-propagation"), 1);
	dst_name(dst, sizeof(dst), 29);
	tcp(x, T0 + 120 * SEC + 9 * MS, "10.1.0.5", 41009, dst, 445, SYN);
	assert_int_equal(fired_count(x, "10.1.0.5", "smb-propagation"), 2);
	assert_int_equal(x->f[x->n - 1].count, 10);
}

/* --- internal dark space --- */

/* Known to some machine: 10.9.1.0/24 (what identity would say). */
static bool known_net(void *arg, const struct qaddr *a)
{
	(void)arg;
	return a->family == AF_INET && a->b[0] == 10 && a->b[1] == 9 && a->b[2] == 1;
}

/* A sweep into dark space on a port no rule names: contained at the 8th
 * dark destination, the latest four named.  What answered (a reset), what
 * is known, and what lies outside are not dark; nor is a failure by ICMP
 * host unreachable, which anyone on the LAN can forge: only silence is. */
static void test_dark_space(void **state)
{
	struct fix *x = *state;
	const struct fired *f;
	char dst[32];

	x->c.scan.dark_warmup_s = 0;
	fix_start(x);
	detect_set_known(x->d, known_net, NULL);
	for (unsigned i = 0; i < 10; i++) {
		usec_t t = T0 + i * 10 * MS;

		snprintf(dst, sizeof(dst), "10.9.0.%u", i + 1);
		tcp(x, t, "10.1.0.40", (uint16_t)(40000 + i), dst, 6379, SYN);
		/* Answered: a host is there. */
		snprintf(dst, sizeof(dst), "10.9.3.%u", i + 1);
		tcp(x, t, "10.1.0.41", (uint16_t)(40000 + i), dst, 6379, SYN);
		tcp(x, t + MS, dst, 6379, "10.1.0.41", (uint16_t)(40000 + i), RST | ACK);
		/* Known to identity. */
		snprintf(dst, sizeof(dst), "10.9.1.%u", i + 1);
		tcp(x, t, "10.1.0.42", (uint16_t)(40000 + i), dst, 6379, SYN);
		/* Outside the protected networks. */
		snprintf(dst, sizeof(dst), "203.0.113.%u", i + 1);
		tcp(x, t, "10.1.0.44", (uint16_t)(40000 + i), dst, 6379, SYN);
		/* Host unreachable, from a router or a forger. */
		snprintf(dst, sizeof(dst), "10.9.2.%u", i + 1);
		tcp(x, t, "10.1.0.43", 40000, dst, 5555, SYN);
		icmp_err(x, t + MS, "10.9.2.254", 3, 1, "10.1.0.43", dst, IPPROTO_TCP, 5555);
	}
	assert_int_equal(fired_count(x, "10.1.0.40", "dark-space"), 0); /* no timeout yet */

	detect_advance(x->d, T0 + 5 * SEC);
	f = fired_get(x, "10.1.0.40", "dark-space");
	assert_non_null(f);
	assert_int_equal(f->count, 8);
	assert_int_equal(f->sev, SEV_MEDIUM);
	assert_int_equal(f->nports, 1);
	assert_int_equal(f->ports[0], 6379);
	assert_int_equal(f->ndark, DETECT_DARK_MAX);
	for (unsigned i = 0; i < f->ndark; i++) {
		char b[ADDR_STRLEN];

		snprintf(dst, sizeof(dst), "10.9.0.%u", i + 5); /* the 5th to the 8th */
		assert_string_equal(addr_ntop(&f->dark[i], b), dst);
	}
	assert_int_equal(fired_count(x, "10.1.0.41", "dark-space"), 0);
	assert_int_equal(fired_count(x, "10.1.0.42", "dark-space"), 0);
	assert_int_equal(fired_count(x, "10.1.0.44", "dark-space"), 0);
	assert_int_equal(fired_count(x, "10.1.0.43", "dark-space"), 0);
	assert_int_equal(fired_count(x, "10.1.0.43", DETECT_TRW_NAME),
			 1); /* failures all the same */
}

/* Until the network has been watched scan.dark_warmup, nothing is dark:
 * from the first packet, or from when the oldest binding restored was
 * first seen. */
static void test_dark_space_warmup(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x); /* dark_warmup: 600 s */
	detect_set_known(x->d, known_net, NULL);
	for (unsigned i = 0; i < 10; i++) {
		snprintf(dst, sizeof(dst), "10.9.0.%u", i + 1);
		tcp(x, T0 + i * MS, "10.1.0.40", (uint16_t)(40000 + i), dst, 6379, SYN);
	}
	detect_advance(x->d, T0 + 10 * SEC);
	assert_int_equal(fired_count(x, "10.1.0.40", "dark-space"), 0);
	for (unsigned i = 0; i < 10; i++) {
		snprintf(dst, sizeof(dst), "10.9.4.%u", i + 1);
		tcp(x, T0 + 700 * SEC + i * MS, "10.1.0.41", (uint16_t)(40000 + i), dst, 6379, SYN);
	}
	detect_advance(x->d, T0 + 710 * SEC);
	assert_int_equal(fired_count(x, "10.1.0.41", "dark-space"), 1);

	/* Watched for long already (a restart with saved bindings). */
	detect_free(x->d);
	x->n = 0;
	fix_start(x);
	detect_set_known(x->d, known_net, NULL);
	detect_set_watched_since(x->d, T0 - 3600 * SEC);
	for (unsigned i = 0; i < 10; i++) {
		snprintf(dst, sizeof(dst), "10.9.0.%u", i + 1);
		tcp(x, T0 + i * MS, "10.1.0.40", (uint16_t)(40000 + i), dst, 6379, SYN);
	}
	detect_advance(x->d, T0 + 10 * SEC);
	assert_int_equal(fired_count(x, "10.1.0.40", "dark-space"), 1);
}

/* --- probes without SYN (bare ACKs) --- */

/* nmap -sA of ports 1-1000 of one host, each answered by a reset: a
 * vertical scan, and nothing else (no first contact, no walk). */
static void test_ack_scan_vertical(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	for (uint16_t port = 1; port <= 1000; port++) {
		usec_t t = T0 + port * MS;
		uint32_t a = 0x9e3779b9u * port;

		bare_ack(x, t, "10.1.0.90", 51234, "10.2.0.9", port, a);
		reset(x, t + 400, "10.2.0.9", port, "10.1.0.90", 51234, a);
	}
	detect_flush(x->d);
	const struct fired *f = fired_get(x, "10.1.0.90", "vertical-scan");
	assert_int_equal(f->count, 20);
	assert_int_equal(f->nports, 16);
	assert_int_equal(fired_count(x, "10.1.0.90", "vertical-scan"), 1);
	assert_int_equal(fired_count(x, "10.1.0.90", DETECT_TRW_NAME), 0);
	assert_int_equal(fired_count(x, "10.1.0.90", "smb-propagation"), 0);
	assert_int_equal(x->n, 1);
}

/* The same scan of a filtered host: nothing answers.  Silence counts for
 * the vertical rule only. */
static void test_ack_scan_silent(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	for (uint16_t port = 1; port <= 100; port++)
		bare_ack(x, T0 + port * MS, "10.1.0.91", 51234, "10.2.0.10", port, 7u * port);
	detect_advance(x->d, T0 + 2 * SEC);
	assert_int_equal(x->n, 0); /* not before scan.timeout */
	detect_advance(x->d, T0 + 4 * SEC);
	const struct fired *f = fired_get(x, "10.1.0.91", "vertical-scan");
	assert_int_equal(f->count, 20);
	assert_int_equal(x->n, 1);
}

/* An ACK sweep of one port over many hosts: answered, a horizontal scan;
 * silent, nothing (a client's idle connections are silent too). */
static void test_ack_sweep_horizontal(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	for (unsigned i = 0; i < 40; i++) {
		usec_t t = T0 + i * 10 * MS;

		dst_name(dst, sizeof(dst), i);
		bare_ack(x, t, "10.1.0.92", 61000, dst, 80, 1000u + i);
		reset(x, t + MS, dst, 80, "10.1.0.92", 61000, 1000u + i);
		snprintf(dst, sizeof(dst), "10.3.0.%u", i + 1);
		bare_ack(x, t, "10.1.0.93", 61000, dst, 80, 1000u + i);
	}
	detect_flush(x->d);
	const struct fired *f = fired_get(x, "10.1.0.92", "horizontal-scan");
	assert_int_equal(f->count, 20);
	assert_int_equal(f->nports, 1);
	assert_int_equal(f->ports[0], 80);
	assert_int_equal(fired_count(x, "10.1.0.92", DETECT_TRW_NAME), 0);
	assert_int_equal(fired_count(x, "10.1.0.93", "horizontal-scan"), 0);
	assert_int_equal(x->n, 1);
}

/* A worm that sends a bare ACK before each SYN: the SYN is still a first
 * contact (smb-propagation, the walk). */
static void test_ack_before_syn(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	for (unsigned i = 0; i < 12; i++) {
		usec_t t = T0 + i * 10 * MS;

		dst_name(dst, sizeof(dst), i);
		bare_ack(x, t, "10.1.0.94", 50000, dst, 445, 99);
		if (i % 2)
			reset(x, t + MS, dst, 445, "10.1.0.94", 50000, 99);
		tcp(x, t + 2 * MS, "10.1.0.94", 50001, dst, 445, SYN);
	}
	assert_int_equal(fired_count(x, "10.1.0.94", "smb-propagation"), 1);
}

/* A Windows-like client (no timestamps) downloading from 40 servers at
 * once and over 25 FTP data connections from one, seen from mid-flow (a
 * restart): its ACKs move on, the connections are live.  25 more
 * connections are idle: one ACK each, no answer. */
static void test_ack_midflow_client(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	for (unsigned k = 0; k < 10; k++)
		for (unsigned i = 0; i < 40; i++) {
			snprintf(dst, sizeof(dst), "198.51.100.%u", i + 1);
			bare_ack(x, T0 + (k * 40 + i) * MS, "10.1.0.60", (uint16_t)(50000 + i), dst,
				 443, 5000u + k * 2920u);
		}
	for (unsigned i = 0; i < 25; i++) {
		snprintf(dst, sizeof(dst), "203.0.113.%u", i + 1);
		bare_ack(x, T0 + SEC + i * MS, "10.1.0.60", (uint16_t)(51000 + i), dst, 443, 77u);
	}
	/* 25 passive FTP data connections to one server, downloading: 25
	 * ports of one destination, whose ACKs move on. */
	for (unsigned k = 0; k < 4; k++)
		for (unsigned i = 0; i < 25; i++)
			bare_ack(x, T0 + (k * 25 + i) * MS, "10.1.0.60", (uint16_t)(50100 + i),
				 "10.2.0.21", (uint16_t)(30000 + i), 100u + k * 1460u);
	/* The same client's ACKs with options or data are never probes. */
	for (unsigned i = 0; i < 30; i++) {
		snprintf(dst, sizeof(dst), "192.0.2.%u", i + 1);
		seg(x, T0 + 2 * SEC, "10.1.0.60", (uint16_t)(52000 + i), dst, 8080, ACK, 32, 0, 1,
		    2);
		seg(x, T0 + 2 * SEC, "10.1.0.60", (uint16_t)(53000 + i), dst, 8081, ACK, 20, 100, 1,
		    2);
		seg(x, T0 + 2 * SEC + MS, dst, 8080, "10.1.0.60", (uint16_t)(52000 + i), RST, 20, 0,
		    2, 0);
		seg(x, T0 + 2 * SEC + MS, dst, 8081, "10.1.0.60", (uint16_t)(53000 + i), RST, 20, 0,
		    2, 0);
	}
	detect_flush(x->d);
	assert_int_equal(x->n, 0);
}

/* A server's ACKs go from its service port to clients' ephemeral ports:
 * never probes, even when nothing of the clients is seen. */
static void test_ack_server_side(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	for (unsigned i = 0; i < 60; i++) {
		bare_ack(x, T0 + i * MS, "10.1.0.70", 443, "198.51.100.7", (uint16_t)(40000 + i),
			 9);
		bare_ack(x, T0 + i * MS, "10.1.0.70", 8443, "10.1.0.71", (uint16_t)(32768 + i), 9);
	}
	detect_flush(x->d);
	assert_int_equal(x->n, 0);
}

/* The other side's bare ACK shows a live connection: a client's one ACK
 * to each of 25 ports of one server, each followed by the server's. */
static void test_ack_other_side_is_live(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	for (uint16_t i = 0; i < 25; i++) {
		bare_ack(x, T0 + i * MS, "10.1.0.72", 60000, "10.2.0.12", (uint16_t)(1000 + i), 5);
		bare_ack(x, T0 + i * MS + 300, "10.2.0.12", (uint16_t)(1000 + i), "10.1.0.72",
			 60000, 6);
	}
	detect_flush(x->d);
	assert_int_equal(x->n, 0);
}

/* A laptop waking from sleep: servers that forgot its connections reset
 * them.  Keepalives (one byte on Windows) and data are no probes; resets
 * that do not echo the ACK's number (another connection, a forgery) answer
 * nothing.  And backscatter: resets to an address that sent no ACK. */
static void test_ack_stale_and_backscatter(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	for (unsigned i = 0; i < 40; i++) {
		usec_t t = T0 + i * MS;
		uint16_t sp = (uint16_t)(49700 + i);

		snprintf(dst, sizeof(dst), "198.51.100.%u", i + 1);
		seg(x, t, "10.1.0.61", sp, dst, 443, ACK, 20, 1, 100, 200); /* keepalive */
		seg(x, t + 50 * MS, dst, 443, "10.1.0.61", sp, RST, 20, 0, 200, 0);
		snprintf(dst, sizeof(dst), "203.0.113.%u", i + 1);
		seg(x, t, "10.1.0.61", (uint16_t)(sp + 100), dst, 443, ACK | PSH, 20, 37, 100, 200);
		seg(x, t + 50 * MS, dst, 443, "10.1.0.61", (uint16_t)(sp + 100), RST, 20, 0, 200,
		    0);
		/* A bare ACK whose reset carries another number. */
		snprintf(dst, sizeof(dst), "192.0.2.%u", i + 1);
		bare_ack(x, t, "10.1.0.62", sp, dst, 443, 300);
		reset(x, t + 50 * MS, dst, 443, "10.1.0.62", sp, 301);
		/* Backscatter. */
		snprintf(dst, sizeof(dst), "100.64.0.%u", i + 1);
		reset(x, t, dst, 80, "10.1.0.63", (uint16_t)(1024 + i), 12345);
		seg(x, t, dst, 80, "10.1.0.63", (uint16_t)(1024 + i), RST | ACK, 20, 0, 0, 1);
	}
	detect_flush(x->d);
	assert_int_equal(x->n, 0);
}

/* A long idle connection whose entry expired: its next ACK comes after
 * the longest window and gets no answer.  25 of them to 25 servers on
 * one port: no horizontal scan, no walk. */
static void test_ack_idle_connections(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	for (unsigned i = 0; i < 25; i++) {
		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + i * MS, "10.1.0.64", (uint16_t)(50000 + i), dst, 443, SYN);
		tcp(x, T0 + i * MS + 1, dst, 443, "10.1.0.64", (uint16_t)(50000 + i), SYN | ACK);
	}
	for (unsigned i = 0; i < 25; i++) {
		dst_name(dst, sizeof(dst), i);
		bare_ack(x, T0 + 600 * SEC + i * MS, "10.1.0.64", (uint16_t)(50000 + i), dst, 443,
			 4242);
	}
	detect_flush(x->d);
	assert_int_equal(x->n, 0);
}

/* --- vertical scans and outcomes --- */

static void test_vertical_rst(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	for (uint16_t port = 1; port <= 30; port++) {
		tcp(x, T0 + port * MS, "10.1.0.90", 50000, "10.2.0.9", port, SYN);
		if (port == 22)
			tcp(x, T0 + port * MS + 1, "10.2.0.9", port, "10.1.0.90", 50000, SYN | ACK);
		else
			tcp(x, T0 + port * MS + 1, "10.2.0.9", port, "10.1.0.90", 50000, RST | ACK);
	}
	const struct fired *f = fired_get(x, "10.1.0.90", "vertical-scan");
	assert_non_null(f);
	assert_int_equal(f->count, 20);
	assert_int_equal(f->sev, SEV_MEDIUM);
	assert_int_equal(f->nports, 16);
	/* One destination: neither TRW (one first contact) nor horizontal. */
	assert_int_equal(fired_count(x, "10.1.0.90", DETECT_TRW_NAME), 0);
	assert_int_equal(fired_count(x, "10.1.0.90", "horizontal-scan"), 0);
}

static void test_vertical_stealth_probes(void **state)
{
	struct fix *x = *state;
	static const uint8_t kinds[] = {FIN, 0, FIN | PSH | URG};

	fix_start(x);
	for (unsigned k = 0; k < 3; k++) {
		char src[32];
		snprintf(src, sizeof(src), "10.1.0.%u", 91 + k);
		for (uint16_t port = 1; port <= 25; port++) {
			tcp(x, T0 + port * MS, src, 50000, "10.2.0.9", port, kinds[k]);
			tcp(x, T0 + port * MS + 1, "10.2.0.9", port, src, 50000, RST | ACK);
		}
		assert_int_equal(fired_count(x, src, "vertical-scan"), 1);
	}
	/* Established traffic (ACK set) is never a probe. */
	for (uint16_t port = 1; port <= 40; port++)
		tcp(x, T0 + port * MS, "10.1.0.95", 50000, "10.2.0.9", port, ACK | PSH);
	detect_flush(x->d);
	assert_int_equal(fired_count(x, "10.1.0.95", "vertical-scan"), 0);
}

static void test_vertical_udp_icmp_unreachable(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	for (uint16_t port = 100; port < 125; port++) {
		udp(x, T0 + port * MS, "10.1.0.10", 40000, "10.2.0.25", port);
		icmp_err(x, T0 + port * MS + 1, "10.2.0.25", 3, 3, "10.1.0.10", "10.2.0.25",
			 IPPROTO_UDP, port);
	}
	const struct fired *f = fired_get(x, "10.1.0.10", "vertical-scan");
	assert_non_null(f);
	assert_string_equal(f->proto, "udp");
	/* Before any timeout: the failures came from the ICMP errors. */
	assert_true(f->ts < T0 + SEC);
}

static void test_udp_replies_are_successes(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	/* A client asks 40 resolvers and all answer; a server answers 40
	 * clients from port 53: neither is a scan. */
	for (unsigned i = 0; i < 40; i++) {
		char dst[32];
		snprintf(dst, sizeof(dst), "198.51.100.%u", i + 1);
		udp(x, T0 + i * MS, "10.1.0.53", (uint16_t)(30000 + i), dst, 53);
		udp(x, T0 + i * MS + 1, dst, 53, "10.1.0.53", (uint16_t)(30000 + i));
		snprintf(dst, sizeof(dst), "10.1.9.%u", i + 1);
		udp(x, T0 + i * MS, "10.1.0.54", 53, dst, (uint16_t)(40000 + i));
	}
	detect_flush(x->d);
	assert_int_equal(x->n, 0);
}

static void test_traceroute_is_neutral(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	for (uint16_t i = 0; i < 60; i++) {
		udp(x, T0 + i * 10 * MS, "10.1.0.70", 40000, "203.0.113.50", 33434 + i);
		if (i < 54)
			icmp_err(x, T0 + i * 10 * MS + 1, "192.0.2.1", 11, 0, "10.1.0.70",
				 "203.0.113.50", IPPROTO_UDP, 33434 + i);
		else
			icmp_err(x, T0 + i * 10 * MS + 1, "203.0.113.50", 3, 3, "10.1.0.70",
				 "203.0.113.50", IPPROTO_UDP, 33434 + i);
	}
	detect_flush(x->d);
	assert_int_equal(x->n, 0);
}

static void test_frag_needed_is_not_failure(void **state)
{
	struct fix *x = *state;
	struct detect_stats st;

	fix_start(x);
	tcp(x, T0, "10.1.0.71", 40000, "203.0.113.51", 443, SYN);
	icmp_err(x, T0 + MS, "192.0.2.1", 3, 4, "10.1.0.71", "203.0.113.51", IPPROTO_TCP, 443);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.failures, 0);
	tcp(x, T0 + 2 * MS, "203.0.113.51", 443, "10.1.0.71", 40000, SYN | ACK);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.successes, 1);
}

/* --- per-port horizontal scan and exemptions --- */

static void test_horizontal_single_port_failures(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	for (unsigned i = 0; i < 25; i++) {
		char dst[32];
		snprintf(dst, sizeof(dst), "198.51.100.%u", i + 1);
		tcp(x, T0 + i * 10 * MS, "10.1.4.176", (uint16_t)(40000 + i), dst, 6346, SYN);
		tcp(x, T0 + i * 10 * MS + 1, dst, 6346, "10.1.4.176", (uint16_t)(40000 + i),
		    RST | ACK);
	}
	const struct fired *f = fired_get(x, "10.1.4.176", "horizontal-scan");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_LOW);
	assert_int_equal(f->nports, 1);
	assert_int_equal(f->ports[0], 6346);
	/* The walk saw no worm port: low as well. */
	assert_int_equal(fired_get(x, "10.1.4.176", DETECT_TRW_NAME)->sev, SEV_LOW);
}

static void test_roles_exempt(void **state)
{
	struct fix *x = *state;

	fix_load(x, "inventory = (\n"
		    "  { net = \"10.1.5.25/32\"; name = \"mail\"; role = \"mailserver\"; },\n"
		    "  { net = \"10.1.6.0/24\"; role = \"scanner\"; }\n"
		    ");\n");
	fix_start(x);
	for (unsigned i = 0; i < 30; i++) {
		char dst[32];
		snprintf(dst, sizeof(dst), "198.51.100.%u", i + 1);
		tcp(x, T0 + i * MS, "10.1.5.25", (uint16_t)(40000 + i), dst, 25, SYN);
		tcp(x, T0 + i * MS, "10.1.5.26", (uint16_t)(40000 + i), dst, 25, SYN);
		tcp(x, T0 + i * MS, "10.1.6.9", (uint16_t)(40000 + i), dst, 445, SYN);
	}
	detect_flush(x->d);
	assert_int_equal(fired_count(x, "10.1.5.25", "smtp-mass-mailing"), 0);
	assert_int_equal(fired_count(x, "10.1.5.26", "smtp-mass-mailing"), 1);
	for (unsigned i = 0; i < x->n; i++)
		assert_string_not_equal(x->f[i].host, "10.1.6.9");
	/* Failed deliveries are a mail server's job: its walk is on ports that
	 * are no worm's for it, so at most low. */
	assert_int_equal(fired_get(x, "10.1.5.25", DETECT_TRW_NAME)->sev, SEV_LOW);
	assert_int_equal(fired_get(x, "10.1.5.26", DETECT_TRW_NAME)->sev, SEV_MEDIUM);
}

static void test_disabled_rule(void **state)
{
	struct fix *x = *state;

	fix_load(x, "rules = ( { name = \"smb-propagation\"; enabled = false; } );\n");
	fix_start(x);
	for (unsigned i = 0; i < 30; i++) {
		char dst[32];
		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + i * MS, "10.1.0.5", (uint16_t)(40000 + i), dst, 445, SYN);
		tcp(x, T0 + i * MS + 1, dst, 445, "10.1.0.5", (uint16_t)(40000 + i), SYN | ACK);
	}
	assert_int_equal(x->n, 0);
}

static void test_ipv6(void **state)
{
	struct fix *x = *state;

	fix_start(x);
	for (unsigned i = 0; i < 12; i++) {
		char dst[64];
		snprintf(dst, sizeof(dst), "fd00:2::%x", i + 1);
		tcp(x, T0 + i * MS, "fd00:1::5", (uint16_t)(40000 + i), dst, 3389, SYN);
	}
	const struct fired *f = fired_get(x, "fd00:1::5", "rdp-propagation");
	assert_non_null(f);
	assert_int_equal(f->count, 10);
}

static void test_forget_ignores_earlier_probes(void **state)
{
	struct fix *x = *state;
	char dst[32];

	fix_start(x);
	/* A worm flagged, then released while its probes are still unanswered
	 * (its own block dropped them): their timeouts must not flag it anew. */
	for (unsigned i = 0; i < 12; i++) {
		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + i * MS, "10.1.0.5", (uint16_t)(40000 + i), dst, 445, SYN);
	}
	assert_int_equal(fired_count(x, "10.1.0.5", "smb-propagation"), 1);
	struct qaddr h = A("10.1.0.5");
	detect_forget(x->d, &h);
	unsigned before = x->n;
	detect_advance(x->d, T0 + 10 * SEC);
	assert_int_equal(x->n, before);
	/* New probes after the release count again. */
	for (unsigned i = 0; i < 10; i++) {
		dst_name(dst, sizeof(dst), 100 + i);
		tcp(x, T0 + 11 * SEC + i * MS, "10.1.0.5", (uint16_t)(41000 + i), dst, 445, SYN);
	}
	assert_int_equal(fired_count(x, "10.1.0.5", "smb-propagation"), 2);
}

/* --- our own blocks --- */

static const char own_block_conf[] = "networks = {\n"
				     "  remediation = [ \"10.9.0.10\" ];\n"
				     "  admin = [ \"10.9.0.20\" ];\n"
				     "};\n";

static void isolate(struct fix *x, const char *host, usec_t at)
{
	struct detect_block b = {.level = LEVEL_ISOLATE};
	struct qaddr k = A(host);

	assert_int_equal(detect_set_block(x->d, &k, &b, at), 0);
}

static void lift(struct fix *x, const char *host, usec_t at)
{
	struct qaddr k = A(host);

	assert_int_equal(detect_set_block(x->d, &k, NULL, at), 0);
}

/* Whether some detection of host lists port among its ports. */
static bool fired_port(const struct fix *x, const char *host, uint16_t port)
{
	for (unsigned i = 0; i < x->n; i++)
		for (unsigned j = 0; j < x->f[i].nports; j++)
			if (strcmp(x->f[i].host, host) == 0 && x->f[i].ports[j] == port)
				return true;
	return false;
}

/* A host browses tcp/80 and tcp/443 of 40 servers that never answer (the
 * block drops the SYNs) starting at t. */
static void browse_unanswered(struct fix *x, const char *host, usec_t t)
{
	for (unsigned i = 0; i < 40; i++) {
		char dst[32];

		snprintf(dst, sizeof(dst), "203.0.113.%u", i + 1);
		tcp(x, t + i * 10 * MS, host, (uint16_t)(30000 + i), dst, i % 2 ? 443 : 80, SYN);
	}
}

static void test_own_isolation_drops_are_no_evidence(void **state)
{
	struct fix *x = *state;
	struct detect_stats st;
	char dst[32];

	fix_load(x, own_block_conf);
	fix_start(x);
	/* A probe sent before the block is an ordinary one. */
	tcp(x, T0, "10.1.0.5", 29999, "203.0.113.200", 8080, SYN);
	isolate(x, "10.1.0.5", T0 + SEC);
	/* While isolated it tries the web: dropped by us, never answered. */
	browse_unanswered(x, "10.1.0.5", T0 + 2 * SEC);
	/* The remediation server is not blocked: an ordinary probe. */
	tcp(x, T0 + 3 * SEC, "10.1.0.5", 31000, "10.9.0.10", 443, SYN);
	tcp(x, T0 + 3 * SEC + MS, "10.9.0.10", 443, "10.1.0.5", 31000, SYN | ACK);
	detect_advance(x->d, T0 + 10 * SEC);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.probes_dropped, 40);
	assert_int_equal(st.probes, 42);
	assert_int_equal(st.blocks, 1);
	/* Their timeouts are neutral: 40 unanswered first contacts would
	 * have flagged it (the walk at four, horizontal-scan at 20). */
	assert_int_equal(st.failures, 1);
	assert_int_equal(x->n, 0);
	/* A retransmission of a dropped probe is the same probe. */
	tcp(x, T0 + 11 * SEC, "10.1.0.5", 30000, "203.0.113.1", 80, SYN);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.probes_dropped, 40);

	/* Released: its probes are ordinary again, and nothing from before
	 * the release is among a detection's ports. */
	lift(x, "10.1.0.5", T0 + 20 * SEC);
	{
		struct qaddr h = A("10.1.0.5");
		detect_forget(x->d, &h);
	}
	for (unsigned i = 0; i < 10; i++) {
		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + 21 * SEC + i * MS, "10.1.0.5", (uint16_t)(40000 + i), dst, 445, SYN);
	}
	const struct fired *f = fired_get(x, "10.1.0.5", "smb-propagation");
	assert_int_equal(f->nports, 2);
	assert_int_equal(f->probes, 10);
	detect_advance(x->d, T0 + 30 * SEC);
	f = fired_get(x, "10.1.0.5", DETECT_TRW_NAME);
	/* The walk saw the worm's failures only: its ports are 445 alone
	 * (8080 failed before the release: forgotten with it). */
	assert_int_equal(f->nports, 1);
	assert_int_equal(f->ports[0], 445);
	assert_false(fired_port(x, "10.1.0.5", 80));
	assert_false(fired_port(x, "10.1.0.5", 443));
	assert_false(fired_port(x, "10.1.0.5", 8080));
	detect_get_stats(x->d, &st);
	assert_int_equal(st.probes_dropped, 40);
	assert_int_equal(st.blocks, 0);
}

/* SYNs from the machine with MAC mac and address 10.1.0.6 to port on n
 * new destinations (numbered from first), at t. */
static void machine_syns(struct fix *x, const struct qaddr *mac, uint16_t port, unsigned first,
			 unsigned n, usec_t t)
{
	struct attribution a;

	memset(&a, 0, sizeof(a));
	a.id = *mac;
	a.src_protected = 1;
	for (unsigned i = first; i < first + n; i++) {
		char dst[32];
		struct pkt p;

		dst_name(dst, sizeof(dst), i);
		p = ip("10.1.0.6", dst, IPPROTO_TCP);
		p.sport = (uint16_t)(40000 + i);
		p.dport = port;
		p.tcp_flags = SYN;
		detect_packet(x->d, &p, &a, t + i * MS);
	}
}

static void test_own_containment_escalates_on_packets_only(void **state)
{
	struct fix *x = *state;
	struct detect_block b = {.level = LEVEL_CONTAIN, .nports = 1};
	struct qaddr mac;
	struct detect_stats st;

	assert_int_equal(addr_parse_any("02:00:00:00:00:06", &mac), 0);
	fix_start(x);
	/* An SMB worm contained on tcp/445 by the walk, keyed by its MAC as
	 * its packets are charged.  It sweeps on. */
	b.protos[0] = IPPROTO_TCP, b.ports[0] = 445;
	assert_int_equal(detect_set_block(x->d, &mac, &b, T0), 0);
	machine_syns(x, &mac, 445, 0, 30, T0 + SEC);
	detect_advance(x->d, T0 + 10 * SEC);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.probes_dropped, 30);
	/* The SYNs themselves are SMB propagation, on the rule's ports: it
	 * is flagged (and policy escalates it).  Their failures, our doing,
	 * count nowhere: no walk, no horizontal scan. */
	const struct fired *f = fired_get(x, "02:00:00:00:00:06", "smb-propagation");
	assert_int_equal(f->nports, 2);
	assert_int_equal(x->n, 1);
	assert_int_equal(st.failures, 0);
	/* What the containment does not drop is ordinary: ssh, unanswered. */
	machine_syns(x, &mac, 22, 100, 4, T0 + 11 * SEC);
	detect_advance(x->d, T0 + 20 * SEC);
	f = fired_get(x, "02:00:00:00:00:06", DETECT_TRW_NAME);
	assert_int_equal(f->failures, 4);
	assert_int_equal(f->nports, 1);
	assert_int_equal(f->ports[0], 22);
}

static void test_own_containment_of_icmp(void **state)
{
	struct fix *x = *state;
	struct detect_block b = {.level = LEVEL_CONTAIN, .nports = 1};
	struct qaddr h = A("10.1.0.7");
	struct detect_stats st;

	fix_start(x);
	b.protos[0] = IPPROTO_ICMP, b.ports[0] = 0;
	assert_int_equal(detect_set_block(x->d, &h, &b, T0), 0);
	for (unsigned i = 0; i < 5; i++) {
		char dst[32];

		dst_name(dst, sizeof(dst), i);
		icmp_echo(x, T0 + i * MS, "10.1.0.7", dst, false);
		tcp(x, T0 + i * MS, "10.1.0.7", (uint16_t)(40000 + i), dst, 80, SYN);
	}
	detect_get_stats(x->d, &st);
	/* The whole of ICMP, and nothing else. */
	assert_int_equal(st.probes_dropped, 5);
	assert_int_equal(st.probes, 10);
}

/* A containment towards one destination drops the host's probes to that
 * destination's port only: the same port to another server, and another
 * port of the same server, are ordinary probes. */
static void test_own_containment_towards_one_destination(void **state)
{
	struct fix *x = *state;
	struct detect_block b = {.level = LEVEL_CONTAIN, .nports = 1};
	struct qaddr h = A("10.1.0.7");
	struct detect_stats st;

	fix_start(x);
	b.protos[0] = IPPROTO_TCP, b.ports[0] = 22, b.to[0] = 2;
	b.dests[1] = A("10.1.2.3");
	assert_int_equal(detect_set_block(x->d, &h, &b, T0), 0);
	tcp(x, T0 + 1 * MS, "10.1.0.7", 40001, "10.1.2.3", 22, SYN);
	tcp(x, T0 + 2 * MS, "10.1.0.7", 40002, "10.1.2.4", 22, SYN);
	tcp(x, T0 + 3 * MS, "10.1.0.7", 40003, "10.1.2.3", 80, SYN);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.probes_dropped, 1);
	assert_int_equal(st.probes, 3);
	/* Towards everyone (index 0): both servers' port 22. */
	b.to[0] = 0;
	assert_int_equal(detect_set_block(x->d, &h, &b, T0 + SEC), 0);
	tcp(x, T0 + SEC + 1 * MS, "10.1.0.7", 40011, "10.1.2.5", 22, SYN);
	tcp(x, T0 + SEC + 2 * MS, "10.1.0.7", 40012, "10.1.2.6", 22, SYN);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.probes_dropped, 3);
	/* An index past the table is a bad block. */
	b.to[0] = DETECT_BLOCK_DESTS + 1;
	assert_int_equal(detect_set_block(x->d, &h, &b, T0 + 2 * SEC), -EINVAL);
}

static void test_own_block_per_port_rules_skip_dropped(void **state)
{
	struct fix *x = *state;

	/* A rule without ports counting every first contact: its evidence
	 * is the probe's port, which a dropped probe never gives. */
	fix_load(x,
		 "rules = ( { name = \"any-port\"; type = \"horizontal\"; proto = \"tcp\";\n"
		 "  distinct_dst = 10; count = \"first_contacts\"; severity = \"medium\"; } );\n");
	fix_start(x);
	isolate(x, "10.1.0.5", T0);
	browse_unanswered(x, "10.1.0.5", T0 + SEC);
	assert_int_equal(fired_count(x, "10.1.0.5", "any-port"), 0);
	/* Not isolated: the same counts. */
	browse_unanswered(x, "10.1.0.6", T0 + SEC);
	assert_int_equal(fired_count(x, "10.1.0.6", "any-port"), 1);
}

static void test_probes_to_an_isolated_host(void **state)
{
	struct fix *x = *state;
	struct detect_stats st;

	fix_load(x, own_block_conf);
	fix_start(x);
	isolate(x, "10.1.0.50", T0);
	/* Hosts try the isolated file server: we drop those too. */
	for (unsigned i = 0; i < 6; i++) {
		char src[32];

		snprintf(src, sizeof(src), "10.1.1.%u", i + 1);
		tcp(x, T0 + i * MS, src, 40000, "10.1.0.50", 8080, SYN);
	}
	/* An admin station's are not dropped. */
	tcp(x, T0 + 10 * MS, "10.9.0.20", 40000, "10.1.0.50", 22, SYN);
	detect_advance(x->d, T0 + 10 * SEC);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.probes_dropped, 6);
	assert_int_equal(st.probes, 7);
	assert_int_equal(st.failures, 1);
}

static void test_own_block_times(void **state)
{
	struct fix *x = *state;
	struct detect_stats st;

	fix_start(x);
	tcp(x, T0, "10.1.0.7", 40000, "203.0.113.1", 80, SYN);
	/* Put in force a little later than the detector's clock. */
	isolate(x, "10.1.0.7", T0 + SEC);
	tcp(x, T0 + SEC - 1, "10.1.0.7", 40001, "203.0.113.2", 80, SYN);
	tcp(x, T0 + SEC, "10.1.0.7", 40002, "203.0.113.3", 80, SYN);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.probes, 3);
	assert_int_equal(st.probes_dropped, 1);
	/* Escalated or changed: still the same block, from its start. */
	isolate(x, "10.1.0.7", T0 + 2 * SEC);
	/* Lifted at a time the detector has not reached: packets captured
	 * before it, handled after the command, were still dropped. */
	lift(x, "10.1.0.7", T0 + 5 * SEC);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.blocks, 1);
	tcp(x, T0 + 5 * SEC - 1, "10.1.0.7", 40003, "203.0.113.4", 80, SYN);
	tcp(x, T0 + 5 * SEC, "10.1.0.7", 40004, "203.0.113.5", 80, SYN);
	detect_get_stats(x->d, &st);
	assert_int_equal(st.probes, 5);
	assert_int_equal(st.probes_dropped, 2);
	/* Past its end the lifted block is gone from the table. */
	assert_int_equal(st.blocks, 0);
	/* A bad block is refused. */
	struct detect_block bad = {.level = LEVEL_CONTAIN, .nports = DETECT_BLOCK_PORTS + 1};
	struct qaddr k = A("10.1.0.8");
	assert_int_equal(detect_set_block(x->d, &k, &bad, T0), -EINVAL);
}

static void test_forget_restarts_vertical_counts(void **state)
{
	struct fix *x = *state;
	struct qaddr h = A("10.1.0.90");

	fix_start(x);
	/* 19 failed ports of one destination, released, then one more: not
	 * 20 ports since the release. */
	for (uint16_t port = 1; port <= 19; port++) {
		tcp(x, T0 + port * MS, "10.1.0.90", 50000, "10.2.0.9", port, SYN);
		tcp(x, T0 + port * MS + 1, "10.2.0.9", port, "10.1.0.90", 50000, RST | ACK);
	}
	detect_forget(x->d, &h);
	tcp(x, T0 + SEC, "10.1.0.90", 50000, "10.2.0.9", 100, SYN);
	tcp(x, T0 + SEC + 1, "10.2.0.9", 100, "10.1.0.90", 50000, RST | ACK);
	assert_int_equal(fired_count(x, "10.1.0.90", "vertical-scan"), 0);
	for (uint16_t port = 101; port <= 119; port++) {
		tcp(x, T0 + SEC + port * MS, "10.1.0.90", 50000, "10.2.0.9", port, SYN);
		tcp(x, T0 + SEC + port * MS + 1, "10.2.0.9", port, "10.1.0.90", 50000, RST | ACK);
	}
	const struct fired *f = fired_get(x, "10.1.0.90", "vertical-scan");
	assert_int_equal(f->count, 20);
	assert_false(fired_port(x, "10.1.0.90", 1));
}

/* --- bounds --- */

static void test_tables_bounded(void **state)
{
	struct fix *x = *state;
	struct detect_stats st;

	x->c.limits.max_hosts = 64;
	x->c.limits.max_probes = 1024;
	x->c.limits.max_peers = 1024;
	fix_start(x);
	/* 5000 spoofed internal sources, each sending to 3 destinations. */
	for (unsigned i = 0; i < 5000; i++) {
		char src[32];
		snprintf(src, sizeof(src), "10.%u.%u.%u", 100 + i / 65536, (i / 256) % 256,
			 i % 256);
		for (unsigned k = 0; k < 3; k++) {
			char dst[32];
			snprintf(dst, sizeof(dst), "198.51.100.%u", k + 1);
			tcp(x, T0 + i * MS, src, 40000, dst, 80, SYN);
		}
	}
	detect_get_stats(x->d, &st);
	assert_true(st.hosts <= 64);
	assert_true(st.probes_tracked <= 1024);
	assert_true(st.peers <= 1024);
	assert_true(st.hosts_evicted > 0);
	assert_true(st.probes_evicted > 0);
	assert_int_equal(st.probes, 15000);
	/* A real worm among the noise is still found. */
	for (unsigned i = 0; i < 10; i++) {
		char dst[32];
		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + 6 * SEC + i * MS, "10.1.0.5", 40000, dst, 445, SYN);
	}
	assert_int_equal(fired_count(x, "10.1.0.5", "smb-propagation"), 1);
}

/* The probe of a one-shot forged source comes back as a failure, by
 * eviction from a full probe table or by timeout, when its source is long
 * evicted: the outcome is dropped rather than bringing the source back,
 * which evicted another host for each forged packet (and a peer for the
 * failure-counted rules).  So a flood costs one host eviction a packet,
 * and a real host seen before it keeps its entry and its count. */
static void test_flood_outcomes_bring_nobody_back(void **state)
{
	struct fix *x = *state;
	struct detect_stats st;
	char dst[32];

	x->c.limits.max_hosts = 64;
	x->c.limits.max_probes = 1024;
	fix_start(x);
	/* A worm's first five probes, then one new destination each
	 * second of the flood. */
	for (unsigned i = 0; i < 5; i++) {
		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + i * MS, "10.1.0.5", 40000, dst, 445, SYN);
	}
	for (unsigned i = 0; i < 5000; i++) {
		char src[32];

		snprintf(src, sizeof(src), "10.%u.%u.%u", 100 + i / 65536, (i / 256) % 256,
			 i % 256);
		/* 1,000 a second: some probes are evicted, the rest time out. */
		tcp(x, T0 + SEC + i * MS, src, 40000, "198.51.100.1", 80, SYN);
		if (i % 1000 == 0) {
			dst_name(dst, sizeof(dst), 5 + i / 1000);
			tcp(x, T0 + SEC + i * MS, "10.1.0.5", 40000, dst, 445, SYN);
		}
	}
	detect_get_stats(x->d, &st);
	assert_true(st.probes_evicted > 0);
	/* Each forged source once, and never again: the worm and 63 of them
	 * fill the table, every other one evicts one host. */
	assert_int_equal(st.hosts_evicted, 5000 - 63);
	/* Its tenth destination, during the flood, is caught. */
	assert_int_equal(fired_count(x, "10.1.0.5", "smb-propagation"), 1);
}

/* --- brute force against one server --- */

/* One TCP connection from cli:sp to srv:dp, opened at t, whose client ends
 * it after dur having sent cbytes (the server sbytes). */
static void session(struct fix *x, usec_t t, const char *cli, uint16_t sp, const char *srv,
		    uint16_t dp, usec_t dur, uint32_t cbytes, uint32_t sbytes)
{
	uint32_t isn = 0xfffff000u + sp, sisn = 0x10000000u + sp;
	struct pkt p = ip(cli, srv, IPPROTO_TCP);

	p.sport = sp;
	p.dport = dp;
	p.tcp_flags = SYN;
	p.tcp_seq = isn;
	detect_packet(x->d, &p, NULL, t);
	p = ip(srv, cli, IPPROTO_TCP);
	p.sport = dp;
	p.dport = sp;
	p.tcp_flags = SYN | ACK;
	p.tcp_seq = sisn;
	p.tcp_ack = isn + 1;
	detect_packet(x->d, &p, NULL, t + 2 * MS);
	p = ip(cli, srv, IPPROTO_TCP);
	p.sport = sp;
	p.dport = dp;
	p.tcp_flags = FIN | ACK;
	p.tcp_seq = isn + 1 + cbytes;
	p.tcp_ack = sisn + 1 + sbytes;
	detect_packet(x->d, &p, NULL, t + 2 * MS + dur);
}

static bool same(const struct qaddr *a, const char *s)
{
	struct qaddr b = A(s);

	return addr_eq(a, &b);
}

/* A handful of failed logins in a minute is watched; tens in ten minutes
 * are contained, towards that server's port only; each server counts
 * apart. */
static void test_brute_force(void **state)
{
	struct fix *x = *state;
	const struct fired *f;
	unsigned i;

	fix_start(x);
	for (i = 0; i < 5; i++)
		session(x, T0 + i * 3 * SEC, "10.1.0.5", (uint16_t)(50000 + i), "10.2.0.9", 22,
			2 * SEC, 2500, 3100);
	assert_int_equal(x->n, 0);
	session(x, T0 + 15 * SEC, "10.1.0.5", 50005, "10.2.0.9", 22, 2 * SEC, 2500, 3100);
	f = fired_get(x, "10.1.0.5", "login-guessing");
	assert_int_equal(f->sev, SEV_LOW);
	assert_int_equal(f->kind, EVIDENCE_CONNECTIONS);
	assert_int_equal(f->count, 6);
	assert_true(same(&f->target, "10.2.0.9"));
	assert_true(same(&f->peer, "10.2.0.9"));
	assert_int_equal(f->nports, 1);
	assert_int_equal(f->ports[0], 22);
	assert_string_equal(f->proto, "tcp");
	assert_int_equal(f->first, T0 + 2 * MS);
	assert_int_equal(fired_count(x, "10.1.0.5", "login-bruteforce"), 0);
	/* One every 20 s: the twentieth in ten minutes is contained. */
	for (i = 6; i < 19; i++)
		session(x, T0 + i * 20 * SEC, "10.1.0.5", (uint16_t)(50000 + i), "10.2.0.9", 22,
			2 * SEC, 2500, 3100);
	assert_int_equal(fired_count(x, "10.1.0.5", "login-bruteforce"), 0);
	session(x, T0 + 19 * 20 * SEC, "10.1.0.5", 50019, "10.2.0.9", 22, 2 * SEC, 2500, 3100);
	f = fired_get(x, "10.1.0.5", "login-bruteforce");
	assert_int_equal(f->sev, SEV_MEDIUM);
	assert_int_equal(f->count, 20);
	assert_true(same(&f->peer, "10.2.0.9"));
	assert_int_equal(fired_count(x, "10.1.0.5", "login-guessing"), 1);

	/* Another server: its own count, its own detection. */
	for (i = 0; i < 6; i++)
		session(x, T0 + 400 * SEC + i * SEC, "10.1.0.5", (uint16_t)(51000 + i), "10.2.0.10",
			3389, SEC, 4000, 6000);
	assert_int_equal(fired_count(x, "10.1.0.5", "login-guessing"), 2);
	f = &x->f[x->n - 1];
	assert_true(same(&f->peer, "10.2.0.10"));
	assert_int_equal(f->ports[0], 3389);
}

/* Configuration management without connection reuse: each task's module
 * goes over a connection of its own, larger than a login; a long
 * interactive session; a check every minute; refused connections: none
 * is brute force. */
static void test_brute_force_look_alikes(void **state)
{
	struct fix *x = *state;
	unsigned i;

	fix_start(x);
	for (i = 0; i < 60; i++) {
		/* mkdir, put the module (40 KiB), run it: every 3 s. */
		usec_t t = T0 + i * 3 * SEC;
		uint16_t sp = (uint16_t)(40000 + 3 * i);

		session(x, t, "10.1.0.7", sp, "10.2.0.9", 22, 300 * MS, 2600, 3000);
		session(x, t + SEC, "10.1.0.7", (uint16_t)(sp + 1), "10.2.0.9", 22, 400 * MS, 40960,
			3000);
		session(x, t + 2 * SEC, "10.1.0.7", (uint16_t)(sp + 2), "10.2.0.9", 22, 500 * MS,
			2800, 4000);
	}
	/* Each look-alike on a detector of its own: time only goes forward. */
	detect_free(x->d);
	fix_start(x);
	/* A check every minute for two hours. */
	for (i = 0; i < 120; i++)
		session(x, T0 + i * 60 * SEC, "10.1.0.8", (uint16_t)(42000 + i), "10.2.0.9", 22,
			200 * MS, 1500, 2000);
	/* Sessions of a minute each, back to back. */
	detect_free(x->d);
	fix_start(x);
	for (i = 0; i < 30; i++)
		session(x, T0 + i * 62 * SEC, "10.1.0.11", (uint16_t)(43000 + i), "10.2.0.9", 3389,
			60 * SEC, 9000, 90000);
	/* A closed port: every SYN reset, nothing ever open. */
	detect_free(x->d);
	fix_start(x);
	for (i = 0; i < 40; i++) {
		tcp(x, T0 + i * SEC, "10.1.0.12", (uint16_t)(44000 + i), "10.2.0.9", 5900, SYN);
		tcp(x, T0 + i * SEC + MS, "10.2.0.9", 5900, "10.1.0.12", (uint16_t)(44000 + i),
		    RST | ACK);
	}
	detect_advance(x->d, T0 + 3 * 3600 * SEC);
	assert_int_equal(fired_count(x, "10.1.0.7", "login-guessing"), 0);
	assert_int_equal(fired_count(x, "10.1.0.7", "login-bruteforce"), 0);
	assert_int_equal(fired_count(x, "10.1.0.8", "login-guessing"), 0);
	assert_int_equal(fired_count(x, "10.1.0.11", "login-guessing"), 0);
	assert_int_equal(fired_count(x, "10.1.0.12", "login-guessing"), 0);
}

/* A connection that stays open past max_duration is a session that
 * worked, whenever it ends: it clears the count.  The server's FIN tells
 * what the client sent from its acknowledgment, and a SYN-ACK that does
 * not acknowledge the SYN opens nothing. */
static void test_brute_force_ends(void **state)
{
	struct fix *x = *state;
	struct pkt p;
	unsigned i;

	fix_start(x);
	for (i = 0; i < 5; i++)
		session(x, T0 + i * SEC, "10.1.0.5", (uint16_t)(50000 + i), "10.2.0.9", 22, SEC,
			2000, 2000);
	/* Open for 40 s, still open when the detector's clock passes 30 s. */
	p = ip("10.1.0.5", "10.2.0.9", IPPROTO_TCP);
	p.sport = 50100;
	p.dport = 22;
	p.tcp_flags = SYN;
	p.tcp_seq = 77;
	detect_packet(x->d, &p, NULL, T0 + 6 * SEC);
	p = ip("10.2.0.9", "10.1.0.5", IPPROTO_TCP);
	p.sport = 22;
	p.dport = 50100;
	p.tcp_flags = SYN | ACK;
	p.tcp_ack = 78;
	detect_packet(x->d, &p, NULL, T0 + 6 * SEC + MS);
	detect_advance(x->d, T0 + 40 * SEC);
	/* Five more: ten in the minute, but the count began again. */
	for (i = 0; i < 5; i++)
		session(x, T0 + 41 * SEC + i * SEC, "10.1.0.5", (uint16_t)(50010 + i), "10.2.0.9",
			22, SEC, 2000, 2000);
	assert_int_equal(fired_count(x, "10.1.0.5", "login-guessing"), 0);

	/* Ended by the server: a FIN acknowledging 2,000 bytes counts (the
	 * sixth); one acknowledging 100,000 would have cleared it. */
	p = ip("10.1.0.5", "10.2.0.9", IPPROTO_TCP);
	p.sport = 50200;
	p.dport = 22;
	p.tcp_flags = SYN;
	p.tcp_seq = 1000;
	detect_packet(x->d, &p, NULL, T0 + 47 * SEC);
	/* A SYN-ACK for another SYN: ignored. */
	p = ip("10.2.0.9", "10.1.0.5", IPPROTO_TCP);
	p.sport = 22;
	p.dport = 50200;
	p.tcp_flags = SYN | ACK;
	p.tcp_ack = 5;
	detect_packet(x->d, &p, NULL, T0 + 47 * SEC + MS);
	p.tcp_flags = FIN | ACK;
	p.tcp_ack = 1001 + 2000;
	detect_packet(x->d, &p, NULL, T0 + 48 * SEC);
	assert_int_equal(fired_count(x, "10.1.0.5", "login-guessing"), 0);
	p.tcp_flags = SYN;
	p = ip("10.1.0.5", "10.2.0.9", IPPROTO_TCP);
	p.sport = 50201;
	p.dport = 22;
	p.tcp_flags = SYN;
	p.tcp_seq = 1000;
	detect_packet(x->d, &p, NULL, T0 + 49 * SEC);
	p = ip("10.2.0.9", "10.1.0.5", IPPROTO_TCP);
	p.sport = 22;
	p.dport = 50201;
	p.tcp_flags = SYN | ACK;
	p.tcp_ack = 1001;
	detect_packet(x->d, &p, NULL, T0 + 49 * SEC + MS);
	p.tcp_flags = FIN | ACK;
	p.tcp_ack = 1001 + 2000;
	detect_packet(x->d, &p, NULL, T0 + 50 * SEC);
	assert_int_equal(fired_count(x, "10.1.0.5", "login-guessing"), 1);
}

/* Hosts in the role "management" are exempt; a release forgets the count. */
static void test_brute_force_exempt_and_forget(void **state)
{
	struct fix *x = *state;
	struct qaddr h = A("10.1.0.5");
	unsigned i;

	fix_load(x, "inventory = ( { net = \"10.1.9.0/24\"; role = \"management\"; } );\n");
	fix_start(x);
	for (i = 0; i < 30; i++) {
		session(x, T0 + i * SEC, "10.1.9.4", (uint16_t)(50000 + i), "10.2.0.9", 22, SEC,
			2000, 2000);
		if (i < 5)
			session(x, T0 + i * SEC, "10.1.0.5", (uint16_t)(50000 + i), "10.2.0.9", 22,
				SEC, 2000, 2000);
	}
	assert_int_equal(x->n, 0);
	detect_forget(x->d, &h);
	session(x, T0 + 40 * SEC, "10.1.0.5", 50100, "10.2.0.9", 22, SEC, 2000, 2000);
	assert_int_equal(x->n, 0);
}

static void test_worm_during_oneshot_flood(void **state)
{
	struct fix *x = *state;
	unsigned n = 0;

	x->c.limits.max_hosts = 1024;
	fix_start(x);
	for (unsigned ms = 0; ms < 3000; ms++) {
		/* 30 one-shot sources a millisecond: the table's 1,024
		 * entries turn over every 34 ms, under a worm's 20 ms
		 * between probes (a table sized to the network turns over
		 * far slower: 65,536 entries take 650 ms at 100,000 new
		 * sources a second). */
		for (unsigned k = 0; k < 30; k++, n++) {
			char src[32];

			snprintf(src, sizeof(src), "10.%u.%u.%u", 100 + n / 65536, (n / 256) % 256,
				 n % 256);
			tcp(x, T0 + ms * MS, src, 40000, "198.51.100.1", 80, SYN);
		}
		/* A worm from the first second on: a probe every 20 ms, on
		 * an SMB port nobody answers. */
		if (ms >= 1000 && ms % 20 == 0) {
			char dst[32];

			dst_name(dst, sizeof(dst), (ms - 1000) / 20);
			tcp(x, T0 + ms * MS, "10.1.0.5", 40000, dst, 3389, SYN);
		}
	}
	assert_int_equal(fired_count(x, "10.1.0.5", "rdp-propagation"), 1);
}

/* Packets a machine forged (identity charged them to its MAC): the
 * source-forgery rule counts the distinct addresses, once each, and
 * fires once; the machine's probes from them count for it as well. */
static void test_source_forgery(void **state)
{
	struct fix *x = *state;
	struct attribution a;
	const struct fired *f;

	x->c.rules[conf_rule_find(&x->c, "source-forgery")].threshold = 3;
	fix_start(x);
	memset(&a, 0, sizeof(a));
	a.kind = SRC_FORGED;
	a.src_protected = 1;
	assert_int_equal(addr_parse_any("02:00:00:00:00:0b", &a.id), 0);
	for (unsigned i = 0; i < 10; i++) {
		struct pkt p = ip(i < 8	   ? "10.1.0.20"
				  : i == 8 ? "10.1.0.21"
					   : "10.1.0.22",
				  "10.2.0.1", IPPROTO_TCP);
		char dst[32];

		dst_name(dst, sizeof(dst), i);
		p.dst = A(dst);
		p.dport = 445;
		p.sport = 40000;
		p.tcp_flags = SYN;
		detect_packet(x->d, &p, &a, T0 + i * MS);
	}
	f = fired_get(x, "02:00:00:00:00:0b", "source-forgery");
	assert_int_equal(f->count, 3);
	assert_int_equal(fired_count(x, "02:00:00:00:00:0b", "source-forgery"), 1);
	/* Ten SMB first contacts from the machine, whatever the addresses. */
	assert_int_equal(fired_count(x, "02:00:00:00:00:0b", "smb-propagation"), 1);
	assert_int_equal(fired_count(x, "10.1.0.20", "smb-propagation"), 0);
}

/* One host holds at most its quota of probes and peers: a flood from one
 * machine cannot fill the tables, and another host's outcomes are still
 * followed. */
static void test_host_quota(void **state)
{
	struct fix *x = *state;
	struct detect_stats st;

	x->c.limits.max_probes = 4096; /* quota: 256 */
	x->c.limits.max_peers = 4096;
	fix_start(x);
	for (unsigned i = 0; i < 20000; i++) {
		char dst[32];

		snprintf(dst, sizeof(dst), "198.%u.%u.%u", 18 + i / 65536, (i / 256) % 256,
			 i % 256);
		tcp(x, T0 + i * 10, "10.1.0.9", 40000, dst, 8080, SYN);
	}
	detect_get_stats(x->d, &st);
	assert_true(st.probes_tracked <= 256);
	assert_true(st.peers <= 256);
	assert_int_equal(st.probes_untracked, 20000 - 256);
	/* Another host's four refused probes: the walk still sees them. */
	for (unsigned i = 0; i < 4; i++) {
		char dst[32];

		dst_name(dst, sizeof(dst), i);
		tcp(x, T0 + SEC + i * MS, "10.1.0.5", 40000, dst, 445, SYN);
		tcp(x, T0 + SEC + i * MS + 100, dst, 445, "10.1.0.5", 40000, RST | ACK);
	}
	assert_int_equal(fired_count(x, "10.1.0.5", "scan-trw"), 1);
}

/* --- the timers' gate --- */

static uint64_t gate_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* detect_advance() skips its loops while nothing at the heads of its
 * timer lists can be due.  A detector made to look at them before every
 * packet (detect_set_surveil() makes it, as a block's change may move a
 * deadline earlier) and one left to its gate see the same random traffic
 * among a few hosts: probes answered, refused and unanswered, bare ACKs
 * that move a probe's last use without moving it on its list, datagrams,
 * pings, with gaps now and then longer than the windows.  Both must
 * detect and count the same. */
static void test_timer_gate_is_exact(void **state)
{
	static const char *const hosts[] = {"10.1.0.5", "10.1.0.6", "10.1.0.7", "10.1.0.8"};
	static const char *const dsts[] = {"10.2.0.1",	 "10.2.0.2",   "198.18.0.1",
					   "198.18.0.2", "198.18.0.3", "10.2.0.3"};
	static const uint16_t ports[] = {80, 445, 22, 53};
	struct fix *x = *state, *y = calloc(1, sizeof(*y));
	struct qaddr none = A("192.0.2.1");
	struct detect_stats sx, sy;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	usec_t t = T0;

	assert_non_null(y);
	assert_int_equal(conf_init_default(&y->c), 0);
	fix_start(x);
	fix_start(y);
	for (unsigned i = 0; i < 50000; i++) {
		uint64_t r = gate_rand(&rng);
		const char *h = hosts[(r >> 8) % 4], *dst = dsts[(r >> 12) % 6];
		uint16_t port = ports[(r >> 16) % 4], sp = (uint16_t)(40000 + (r >> 20) % 4);
		uint32_t ackn = (uint32_t)(r >> 24) % 3;
		struct pkt p;

		t += (r % 64 == 0) ? (r >> 32) % (400 * SEC) : (r >> 32) % (700 * MS);
		switch ((r >> 28) % 9) {
		case 0:
		case 1:
			p = ip(h, dst, IPPROTO_TCP);
			p.sport = sp;
			p.dport = port;
			p.tcp_flags = SYN;
			break;
		case 2:
			p = ip(dst, h, IPPROTO_TCP);
			p.sport = port;
			p.dport = sp;
			p.tcp_flags = (r >> 40) % 2 ? SYN | ACK : RST | ACK;
			p.tcp_seq = ackn;
			break;
		case 3:
		case 4:
			p = ip(h, dst, IPPROTO_TCP);
			p.sport = sp;
			p.dport = port;
			p.tcp_flags = ACK;
			p.tcp_hlen = 20;
			p.tcp_ack = ackn;
			break;
		case 5:
			p = ip(dst, h, IPPROTO_TCP);
			p.sport = port;
			p.dport = sp;
			p.tcp_flags = ACK;
			p.tcp_hlen = 20;
			break;
		case 6:
			p = ip(h, dst, IPPROTO_UDP);
			p.sport = sp;
			p.dport = port;
			break;
		case 7:
			p = ip(dst, h, IPPROTO_UDP);
			p.sport = port;
			p.dport = sp;
			break;
		default:
			p = ip((r >> 40) % 2 ? dst : h, (r >> 40) % 2 ? h : dst, IPPROTO_ICMP);
			p.icmp_type = (r >> 40) % 2 ? 0 : 8;
			break;
		}
		assert_int_equal(detect_set_surveil(y->d, &none, 0), 0);
		detect_packet(x->d, &p, NULL, t);
		detect_packet(y->d, &p, NULL, t);
		if (i % 1000 == 0) {
			detect_get_stats(x->d, &sx);
			detect_get_stats(y->d, &sy);
			assert_memory_equal(&sx, &sy, sizeof(sx));
		}
	}
	detect_flush(x->d);
	detect_flush(y->d);
	detect_get_stats(x->d, &sx);
	detect_get_stats(y->d, &sy);
	assert_memory_equal(&sx, &sy, sizeof(sx));
	assert_true(sx.timeouts > 0 && sx.probes > 1000);
	assert_int_equal(x->n, y->n);
	for (unsigned i = 0; i < x->n; i++) {
		assert_string_equal(x->f[i].rule, y->f[i].rule);
		assert_string_equal(x->f[i].host, y->f[i].host);
		assert_true(x->f[i].ts == y->f[i].ts && x->f[i].count == y->f[i].count);
	}
	detect_free(y->d);
	conf_fini(&y->c);
	free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_smb_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmissions_count_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_slides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unprotected_and_multicast_ignored, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_slammer_udp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_sweep_counts_failures, setup, teardown),
		cmocka_unit_test(test_trw_maths),
		cmocka_unit_test_setup_teardown(test_trw_four_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trw_timeouts_and_p2p_low, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trw_successes_keep_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trw_level_rises, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trw_answers_as_they_come, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trw_late_timeouts_keep_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_surveillance_lowers_thresholds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dark_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dark_space_warmup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vertical_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vertical_stealth_probes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vertical_udp_icmp_unreachable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_udp_replies_are_successes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_traceroute_is_neutral, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frag_needed_is_not_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_horizontal_single_port_failures, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_roles_exempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_ignores_earlier_probes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_own_isolation_drops_are_no_evidence, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_own_containment_escalates_on_packets_only,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_containment_of_icmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_containment_towards_one_destination, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_own_block_per_port_rules_skip_dropped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_probes_to_an_isolated_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_block_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_restarts_vertical_counts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tables_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_outcomes_bring_nobody_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_worm_during_oneshot_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brute_force, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brute_force_look_alikes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brute_force_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brute_force_exempt_and_forget, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_source_forgery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_scan_vertical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_scan_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_sweep_horizontal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_before_syn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_midflow_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_server_side, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_other_side_is_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_stale_and_backscatter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_idle_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_gate_is_exact, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
