/* Unit tests of host actions and the host life cycle: levels put in force
 * through a recording enforcement back end, history, TTL expiry,
 * recurrence, and adoption of what the kernel holds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "engine.h"
#include "state.h"

#define T0  (1767000000ULL * USEC_PER_SEC)
#define SEC USEC_PER_SEC

/* A kernel of set elements with the all-or-nothing rule. */
struct fake {
	struct {
		enum nft_set set;
		struct nft_elem e;
	} el[512];
	unsigned n;
};

static int find(const struct fake *f, enum nft_set s, const struct nft_elem *e)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->el[i].set == s && addr_eq(&f->el[i].e.addr, &e->addr) &&
		    f->el[i].e.l4proto == e->l4proto && f->el[i].e.port == e->port)
			return (int)i;
	return -1;
}

static int fake_commit(void *arg, struct nft_op *ops, unsigned nops)
{
	struct fake *f = arg;
	bool bad = false;

	for (unsigned i = 0; i < nops; i++)
		for (unsigned j = 0; j < ops[i].nelems; j++)
			if (ops[i].del && find(f, ops[i].set, &ops[i].elems[j]) < 0) {
				ops[i].error = -ENOENT;
				bad = true;
			}
	if (bad)
		return -ECANCELED;
	for (unsigned i = 0; i < nops; i++)
		for (unsigned j = 0; j < ops[i].nelems; j++) {
			int k = find(f, ops[i].set, &ops[i].elems[j]);
			if (ops[i].del) {
				f->el[k] = f->el[--f->n];
			} else if (k < 0) {
				f->el[f->n].set = ops[i].set;
				f->el[f->n].e = ops[i].elems[j];
				f->el[f->n].e.expires_ms = ops[i].elems[j].timeout_ms;
				f->n++;
			}
		}
	return 0;
}

static int fake_list(void *arg, enum nft_set set, int (*cb)(void *, const struct nft_elem *),
		     void *cbarg)
{
	struct fake *f = arg;

	for (unsigned i = 0; i < f->n; i++)
		if (f->el[i].set == set)
			cb(cbarg, &f->el[i].e);
	return 0;
}

struct fix {
	struct conf c;
	struct output out;
	struct fake k;
	struct enforcer enf;
	struct engine e;
	char *events;
	size_t events_len;
};

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));
	struct enforce_backend be = {.commit = fake_commit, .list = fake_list};
	FILE *f;

	assert_non_null(x);
	assert_int_equal(conf_init_default(&x->c), 0);
	x->c.enforce.default_ttl_s = 60;
	/* These packets carry no MAC (as a raw-IP capture): judged by address,
	 * which identity.unverified_max caps; these tests are about actions. */
	x->c.identity.unverified_max = LEVEL_ISOLATE;
	be.arg = &x->k;
	enforce_init(&x->enf, &be);
	f = open_memstream(&x->events, &x->events_len);
	assert_non_null(f);
	output_init(&x->out, f, OUTPUT_JSON, false);
	assert_int_equal(engine_init(&x->e, &x->c, MODE_ENFORCE, &x->out, &x->enf, NULL), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	engine_fini(&x->e);
	fclose(x->out.stdout_fp);
	free(x->events);
	conf_fini(&x->c);
	free(x);
	return 0;
}

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static struct hostrec *
host(struct fix *x, const char *a)
{
	struct qaddr q = A(a);

	return hostdb_find(&x->e.hosts, &q);
}

/* An SMB worm: SYNs to n new destinations on 445. */
static void worm_n(struct fix *x, const char *src, usec_t t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct pkt p;
		char dst[32];

		memset(&p, 0, sizeof(p));
		snprintf(dst, sizeof(dst), "10.2.%u.%u", (unsigned)(t / SEC % 200), i + 1);
		p.src = A(src);
		p.dst = A(dst);
		p.l3 = PKT_L3_IPV4;
		p.proto = IPPROTO_TCP;
		p.flags = PKT_F_L4;
		p.sport = (uint16_t)(40000 + i);
		p.dport = 445;
		p.tcp_flags = 0x02;
		detect_packet(x->e.det, &p, NULL, t + i);
	}
	engine_commit(&x->e);
}

static void worm(struct fix *x, const char *src, usec_t t)
{
	worm_n(x, src, t, 10);
}

static unsigned count_events(struct fix *x, const char *needle)
{
	unsigned n = 0;

	fflush(x->out.stdout_fp);
	for (const char *p = x->events; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_detect_isolates_with_history(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;

	worm(x, "10.1.0.5", T0);
	r = host(x, "10.1.0.5");
	assert_non_null(r);
	assert_int_equal(r->state, HOST_ISOLATED);
	assert_int_equal(r->level, LEVEL_ISOLATE);
	assert_int_equal(x->k.n, 1);
	/* TTL from enforce.default_ttl, in the kernel and in the registry. */
	assert_int_equal(x->k.el[0].e.timeout_ms, 60000);
	assert_true(r->expires_us > T0);
	/* History: the detection, then the action. */
	assert_true(r->nhist >= 2);
	assert_int_equal(r->hist[0].kind, HIST_DETECT);
	assert_string_equal(r->hist[0].text, "smb-propagation");
	assert_int_equal(r->hist[r->nhist - 1].kind, HIST_ACTION);
	assert_int_equal(count_events(x, "\"enforced\":true"), 2); /* detect and action */
}

static void test_ttl_expiry_then_recurrence(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;

	worm(x, "10.1.0.6", T0);
	r = host(x, "10.1.0.6");
	assert_int_equal(r->level, LEVEL_ISOLATE);
	/* The kernel expires the element itself; the daemon's timer follows. */
	x->k.n = 0;
	engine_tick(&x->e, T0 + 61 * SEC);
	assert_int_equal(r->state, HOST_RELEASED);
	assert_int_equal(r->level, LEVEL_NONE);
	assert_int_equal(r->last_level, LEVEL_ISOLATE);
	assert_int_equal(count_events(x, "\"event\":\"release\""), 1);
	/* Back to spreading: a recurrence, with twice the TTL. */
	worm(x, "10.1.0.6", T0 + 100 * SEC);
	assert_int_equal(r->state, HOST_ISOLATED);
	assert_int_equal(r->recurrences, 1);
	assert_int_equal(x->k.n, 1);
	assert_int_equal(x->k.el[0].e.timeout_ms, 120000);
	assert_int_equal(count_events(x, "\"recurrence\":1"), 1);
}

/* Recurrence doubles the TTL, and the doubling saturates at the maximum:
 * 200 days, then 365 (not 400), then 365 again. */
/* Released (here at the end of its TTL), a host is under surveillance
 * for surveillance.period: its next SMB sweep is flagged at 5
 * destinations.  A host never blocked is not. */
static void test_release_starts_surveillance(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;

	worm(x, "10.1.0.7", T0);
	r = host(x, "10.1.0.7");
	assert_int_equal(r->level, LEVEL_ISOLATE);
	assert_true(r->surveil_until_us == 0);
	x->k.n = 0;
	engine_tick(&x->e, T0 + 61 * SEC);
	assert_int_equal(r->state, HOST_RELEASED);
	assert_true(r->surveil_until_us == T0 + 61 * SEC + 7 * 86400 * SEC);
	worm_n(x, "10.1.0.7", T0 + 100 * SEC, 5);
	assert_int_equal(r->state, HOST_ISOLATED);
	assert_int_equal(r->recurrences, 1);
	/* Another host: 5 destinations are below the threshold. */
	worm_n(x, "10.1.0.8", T0 + 100 * SEC, 5);
	assert_null(host(x, "10.1.0.8"));
}

static void test_recurrence_ttl_saturates(void **state)
{
	struct fix *x = *state;
	const usec_t day = 86400 * SEC;
	struct hostrec *r;
	usec_t t = T0;

	x->c.enforce.default_ttl_s = 200 * 86400;
	worm(x, "10.1.0.6", t);
	r = host(x, "10.1.0.6");
	assert_int_equal(x->k.el[0].e.timeout_ms, 200ull * 86400 * 1000);
	for (unsigned k = 1; k <= 2; k++) {
		x->k.n = 0;
		t = r->expires_us + SEC;
		engine_tick(&x->e, t);
		assert_int_equal(r->level, LEVEL_NONE);
		worm(x, "10.1.0.6", t + 100 * SEC);
		assert_int_equal(r->recurrences, k);
		assert_int_equal(x->k.n, 1);
		assert_int_equal(x->k.el[0].e.timeout_ms, QD_TTL_MAX_S * 1000);
		assert_true(r->expires_us <=
			    t + 101 * SEC + 365 * day); /* its probes span microseconds */
		assert_int_equal(r->last_ttl_s, QD_TTL_MAX_S);
	}
	/* A last TTL past anything valid (a state written by hand), whose
	 * double would wrap to 10 s, still gives the maximum. */
	x->k.n = 0;
	t = r->expires_us + SEC;
	engine_tick(&x->e, t);
	r->last_ttl_s = (1ull << 63) + 5;
	worm(x, "10.1.0.6", t + 100 * SEC);
	assert_int_equal(x->k.el[0].e.timeout_ms, QD_TTL_MAX_S * 1000);
}

/* The last line: a change whose TTL is past the maximum (no entry point
 * lets one through) is held to it, so that the deadline cannot wrap. */
static void test_apply_holds_ttl_to_max(void **state)
{
	struct fix *x = *state;
	struct act_change c;
	struct hostrec *r;

	worm(x, "10.1.0.11", T0);
	r = host(x, "10.1.0.11");
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = LEVEL_ISOLATE;
	c.ttl_s = UINT64_MAX;
	c.reset_ttl = true;
	c.by_uid = 0;
	assert_int_equal(act_apply(&x->e, &c, 1, T0 + SEC), 0);
	assert_int_equal(c.ttl_s, QD_TTL_MAX_S);
	assert_int_equal(x->k.el[0].e.timeout_ms, QD_TTL_MAX_S * 1000);
	assert_true(r->expires_us == T0 + SEC + QD_TTL_MAX_S * SEC);
}

static void test_ttl_left(void **state)
{
	struct hostrec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(act_ttl_left(&r, T0), 0); /* until released */
	r.expires_us = T0 + 90 * SEC;
	assert_int_equal(act_ttl_left(&r, T0), 90);
	assert_int_equal(act_ttl_left(&r, T0 + 1), 90); /* rounded up */
	assert_int_equal(act_ttl_left(&r, T0 + 90 * SEC - 1), 1);
	/* Past the deadline, not yet released: never 0 ("until released"),
	 * never a wrapped difference. */
	assert_int_equal(act_ttl_left(&r, T0 + 90 * SEC), 1);
	assert_int_equal(act_ttl_left(&r, T0 + 1000 * SEC), 1);
	/* The clock went back: at most the maximum. */
	assert_int_equal(act_ttl_left(&r, T0 - 400 * 86400 * SEC), QD_TTL_MAX_S);
}

/* An element set by hand with a timeout longer than any TTL may be is
 * adopted with the maximum as its deadline, without overflow. */
static void test_sync_long_timeout(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;

	x->k.el[0].set = NFT_SET_ISO4;
	x->k.el[0].e.addr = A("10.1.0.12");
	x->k.el[0].e.expires_ms = UINT64_MAX / 2;
	x->k.n = 1;
	assert_int_equal(act_sync(&x->e, T0), 0);
	r = host(x, "10.1.0.12");
	assert_non_null(r);
	assert_true(r->expires_us == T0 + QD_TTL_MAX_S * SEC);
}

/* src opens ssh to ten addresses, each answered (so the walk stays quiet
 * and only the ssh rule fires). */
static void ssh_sweep(struct fix *x, const char *src)
{
	for (unsigned i = 0; i < 10; i++) {
		struct pkt p;
		char dst[32];

		memset(&p, 0, sizeof(p));
		snprintf(dst, sizeof(dst), "10.3.0.%u", i + 1);
		p.src = A(src);
		p.dst = A(dst);
		p.l3 = PKT_L3_IPV4;
		p.proto = IPPROTO_TCP;
		p.flags = PKT_F_L4;
		p.sport = 40000;
		p.dport = 22;
		p.tcp_flags = 0x02;
		detect_packet(x->e.det, &p, NULL, T0 + i);
		p.src = A(dst);
		p.dst = A(src);
		p.sport = 22;
		p.dport = 40000;
		p.tcp_flags = 0x12;
		detect_packet(x->e.det, &p, NULL, T0 + i);
	}
}

static void test_recurrence_raises_level(void **state)
{
	struct fix *x = *state;
	struct act_change c;
	struct hostrec *r;

	/* An ssh worm is contained (medium); released by hand; again: one
	 * level higher, isolated. */
	x->c.enforce.default_ttl_s = 0;
	ssh_sweep(x, "10.1.0.7");
	engine_commit(&x->e);
	r = host(x, "10.1.0.7");
	assert_int_equal(r->level, LEVEL_CONTAIN);
	assert_int_equal(r->nk, 1);
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = LEVEL_NONE;
	c.by_uid = 1000;
	c.reason = "operator";
	assert_int_equal(act_apply(&x->e, &c, 1, T0 + 10 * SEC), 0);
	assert_int_equal(x->k.n, 0);
	assert_int_equal(r->state, HOST_RELEASED);
	worm(x, "10.1.0.7", T0 + 20 * SEC); /* SMB now, but any rule counts */
	assert_int_equal(r->level, LEVEL_ISOLATE);
	assert_int_equal(r->recurrences, 1);
}

/* Whether some event lists port in its "ports" array. */
static bool event_port(struct fix *x, unsigned port)
{
	const char *p = x->events;

	fflush(x->out.stdout_fp);
	while (p && (p = strstr(p, "\"ports\":["))) {
		p += strlen("\"ports\":[");
		while (*p && *p != ']') {
			char *end;
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (v == port)
				return true;
			p = *end == ',' ? end + 1 : end;
		}
	}
	return false;
}

static void test_own_block_is_no_evidence(void **state)
{
	struct fix *x = *state;
	struct act_change c;
	struct hostrec *r;
	unsigned ncon = 0;

	/* Isolated for SMB. */
	x->c.enforce.default_ttl_s = 0;
	worm(x, "10.1.0.11", T0);
	r = host(x, "10.1.0.11");
	assert_int_equal(r->level, LEVEL_ISOLATE);
	/* While isolated it tries the web: 40 servers on 80 and 443, every
	 * SYN dropped by the isolation and never answered. */
	for (unsigned i = 0; i < 40; i++) {
		struct pkt p;
		char dst[32];

		memset(&p, 0, sizeof(p));
		snprintf(dst, sizeof(dst), "203.0.113.%u", i + 1);
		p.src = A("10.1.0.11");
		p.dst = A(dst);
		p.l3 = PKT_L3_IPV4;
		p.proto = IPPROTO_TCP;
		p.flags = PKT_F_L4;
		p.sport = (uint16_t)(30000 + i);
		p.dport = i % 2 ? 443 : 80;
		p.tcp_flags = 0x02;
		detect_packet(x->e.det, &p, NULL, T0 + 2 * SEC + i * 10 * SEC / 40);
	}
	engine_tick(&x->e, T0 + 20 * SEC);
	assert_false(event_port(x, 80));
	assert_false(event_port(x, 443));
	/* Released by an operator. */
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = LEVEL_NONE;
	c.by_uid = 0;
	c.reason = "operator";
	assert_int_equal(act_apply(&x->e, &c, 1, T0 + 30 * SEC), 0);
	assert_int_equal(r->level, LEVEL_NONE);
	/* SMB again: flagged again (a recurrence, isolated), and every
	 * detection's ports, the walk's too once its probes time out, are
	 * the worm's own. */
	worm(x, "10.1.0.11", T0 + 40 * SEC);
	engine_tick(&x->e, T0 + 50 * SEC);
	assert_int_equal(r->recurrences, 1);
	assert_true(count_events(x, "\"rule\":\"scan-trw\"") >= 1);
	assert_false(event_port(x, 80));
	assert_false(event_port(x, 443));
	/* Its containment is on the SMB rule's ports only. */
	assert_int_equal(r->nwant, 2);
	for (unsigned i = 0; i < r->nwant; i++) {
		assert_int_equal(r->want[i].proto, IPPROTO_TCP);
		assert_true(r->want[i].port == 445 || r->want[i].port == 139);
	}
	/* The operator de-escalates: contained on 445 and 139, nothing else. */
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = LEVEL_CONTAIN;
	c.by_uid = 0;
	c.reason = "deescalated";
	assert_int_equal(act_apply(&x->e, &c, 1, T0 + 60 * SEC), 0);
	assert_int_equal(r->level, LEVEL_CONTAIN);
	for (unsigned i = 0; i < x->k.n; i++) {
		assert_int_equal(x->k.el[i].set, NFT_SET_CON4);
		assert_true(x->k.el[i].e.port == 445 || x->k.el[i].e.port == 139);
		ncon++;
	}
	assert_int_equal(ncon, 2);
}

static void test_release_starts_new_port_list(void **state)
{
	struct fix *x = *state;
	struct act_change c;
	struct hostrec *r;

	/* Contained for ssh (answered, so only the rule fires), released. */
	x->c.enforce.default_ttl_s = 0;
	ssh_sweep(x, "10.1.0.12");
	engine_commit(&x->e);
	r = host(x, "10.1.0.12");
	assert_int_equal(r->level, LEVEL_CONTAIN);
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = LEVEL_NONE;
	c.by_uid = 0;
	c.reason = "operator";
	assert_int_equal(act_apply(&x->e, &c, 1, T0 + 10 * SEC), 0);
	/* The ports stay known for an operator until it is flagged again. */
	assert_int_equal(r->nwant, 1);
	/* Flagged for SMB: a new episode, the SMB rule's ports only. */
	worm(x, "10.1.0.12", T0 + 20 * SEC);
	assert_int_equal(r->nwant, 2);
	for (unsigned i = 0; i < r->nwant; i++)
		assert_true(r->want[i].port == 445 || r->want[i].port == 139);
}

/* src pings n new addresses in 10.4/16 at t (none answers). */
static void icmp_sweep(struct fix *x, const char *src, unsigned n, usec_t t)
{
	for (unsigned i = 0; i < n; i++) {
		struct pkt p;
		char dst[32];

		memset(&p, 0, sizeof(p));
		snprintf(dst, sizeof(dst), "10.4.%u.%u", i / 200, i % 200 + 1);
		p.src = A(src);
		p.dst = A(dst);
		p.l3 = PKT_L3_IPV4;
		p.proto = IPPROTO_ICMP;
		p.flags = PKT_F_L4;
		p.icmp_type = 8;
		detect_packet(x->e.det, &p, NULL, t + i);
	}
}

/* An operator contained a host on tcp/445, then de-escalated it to a
 * watch.  Detected later by an ICMP sweep (a watch), then escalated: it
 * is contained on ICMP, what it was detected for, and not on the TCP
 * port of the older manual containment. */
static void test_escalation_after_manual_ports(void **state)
{
	struct fix *x = *state;
	struct act_change c;
	struct hostrec *r;
	struct qaddr a = A("10.1.0.40");

	r = engine_record(&x->e, &a, true, T0);
	assert_non_null(r);
	hostdb_want_port(r, IPPROTO_TCP, 445, NULL);
	r->want_manual = 1;
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = LEVEL_CONTAIN;
	c.by_uid = 0;
	c.reason = "operator";
	assert_int_equal(act_apply(&x->e, &c, 1, T0), 0);
	assert_int_equal(r->nk, 1);
	c.level = LEVEL_WATCH;
	c.reason = "deescalated";
	assert_int_equal(act_apply(&x->e, &c, 1, T0 + SEC), 0);
	assert_int_equal(r->nk, 0);
	/* The ports stay known while nothing newer is: escalating back
	 * now would contain tcp/445 again. */
	assert_int_equal(r->nwant, 1);

	icmp_sweep(x, "10.1.0.40", 40, T0 + 10 * SEC);
	engine_tick(&x->e, T0 + 20 * SEC);
	engine_commit(&x->e);
	assert_true(count_events(x, "\"rule\":\"icmp-sweep\"") >= 1);
	assert_int_equal(r->level, LEVEL_WATCH);
	assert_int_equal(r->nwant, 1);
	assert_int_equal(r->want[0].proto, IPPROTO_ICMP);
	assert_false(r->want_manual);

	c.level = LEVEL_CONTAIN;
	c.reason = "escalated";
	assert_int_equal(act_apply(&x->e, &c, 1, T0 + 30 * SEC), 0);
	assert_int_equal(r->nk, 1);
	assert_int_equal(r->k[0].proto, IPPROTO_ICMP);
	for (unsigned i = 0; i < x->k.n; i++)
		assert_false(x->k.el[i].e.l4proto == IPPROTO_TCP);
}

/* While an operator's containment is in force, a detection adds its
 * ports to it and takes none away. */
static void test_detection_adds_to_manual_containment(void **state)
{
	struct fix *x = *state;
	struct act_change c;
	struct hostrec *r;
	struct qaddr a = A("10.1.0.41");
	bool tcp = false, icmp = false;

	r = engine_record(&x->e, &a, true, T0);
	assert_non_null(r);
	hostdb_want_port(r, IPPROTO_TCP, 445, NULL);
	r->want_manual = 1;
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = LEVEL_CONTAIN;
	c.by_uid = 0;
	c.reason = "operator";
	assert_int_equal(act_apply(&x->e, &c, 1, T0), 0);
	icmp_sweep(x, "10.1.0.41", 40, T0 + 10 * SEC);
	engine_tick(&x->e, T0 + 20 * SEC);
	engine_commit(&x->e);
	assert_int_equal(r->level, LEVEL_CONTAIN);
	assert_int_equal(r->nwant, 2);
	for (unsigned i = 0; i < r->nwant; i++) {
		tcp |= r->want[i].proto == IPPROTO_TCP && r->want[i].port == 445;
		icmp |= r->want[i].proto == IPPROTO_ICMP;
	}
	assert_true(tcp && icmp);
}

/* n first contacts from src to tcp/80 of new servers, at t. */
static void browse(struct fix *x, const char *src, unsigned n, usec_t t)
{
	for (unsigned i = 0; i < n; i++) {
		struct pkt p;
		char dst[32];

		memset(&p, 0, sizeof(p));
		snprintf(dst, sizeof(dst), "203.0.%u.%u", (unsigned)(t / SEC % 200), i + 1);
		p.src = A(src);
		p.dst = A(dst);
		p.l3 = PKT_L3_IPV4;
		p.proto = IPPROTO_TCP;
		p.flags = PKT_F_L4;
		p.sport = (uint16_t)(30000 + i);
		p.dport = 80;
		p.tcp_flags = 0x02;
		detect_packet(x->e.det, &p, NULL, t + i);
	}
}

static void test_detector_knows_restored_blocks(void **state)
{
	struct fix *x = *state;
	struct detect_stats st;
	struct conf c2;

	/* A block found in the kernel (a restart): the detector knows it. */
	x->k.el[0].set = NFT_SET_ISO4;
	x->k.el[0].e.addr = A("10.1.0.13");
	x->k.n = 1;
	assert_int_equal(act_sync(&x->e, T0), 0);
	browse(x, "10.1.0.13", 5, T0 + SEC);
	detect_get_stats(x->e.det, &st);
	assert_int_equal(st.probes_dropped, 5);
	/* A reload that needs a new detector: told again. */
	assert_int_equal(conf_init_default(&c2), 0);
	c2.rules[conf_rule_find(&c2, "icmp-sweep")].enabled = false;
	assert_int_equal(engine_reconfigure(&x->e, &c2), 0);
	browse(x, "10.1.0.13", 5, T0 + 2 * SEC);
	detect_get_stats(x->e.det, &st);
	assert_int_equal(st.probes_dropped, 5);
	assert_int_equal(st.probes, 5);
	/* Someone deletes the element by hand and the next sync sees it
	 * gone before it puts it back: lifted, then in force again. */
	x->k.n = 0;
	assert_int_equal(act_sync(&x->e, T0 + 3 * SEC), 0);
	assert_int_equal(x->k.n, 1);
	browse(x, "10.1.0.13", 5, T0 + 4 * SEC);
	detect_get_stats(x->e.det, &st);
	assert_int_equal(st.probes_dropped, 10);
	/* Released: its probes count again. */
	struct act_change c = {.rec = host(x, "10.1.0.13"), .level = LEVEL_NONE, .by_uid = 0};
	assert_int_equal(act_apply(&x->e, &c, 1, T0 + 5 * SEC), 0);
	browse(x, "10.1.0.13", 5, T0 + 6 * SEC);
	detect_get_stats(x->e.det, &st);
	assert_int_equal(st.probes_dropped, 10);
	assert_int_equal(st.probes, 15);
	assert_int_equal(engine_reconfigure(&x->e, &x->c), 0);
	conf_fini(&c2);
}

static void test_detector_knows_machine_blocks(void **state)
{
	struct fix *x = *state;
	static const uint8_t m[MAC_LEN] = {0x02, 0, 0, 0, 0, 0x14};
	struct qaddr mac, a = A("10.1.0.14");
	struct detect_stats st;
	struct hostrec *rm, *ra;

	/* A machine that took an address from the address's own record
	 * (made after it, so that it comes later in the registry). */
	addr_set_mac(&mac, m);
	rm = engine_record(&x->e, &mac, true, T0);
	ra = engine_record(&x->e, &a, true, T0);
	assert_non_null(rm);
	assert_non_null(ra);
	assert_int_equal(engine_hold_address(&x->e, rm, &a, T0), 0);
	assert_true(ra->merged);
	struct act_change c = {.rec = rm, .level = LEVEL_ISOLATE, .by_uid = 0, .reason = "t"};
	assert_int_equal(act_apply(&x->e, &c, 1, T0), 0);
	/* Read back: the address's old record must not lift the machine's
	 * isolation of the address. */
	assert_int_equal(act_sync(&x->e, T0 + SEC), 0);
	browse(x, "10.1.0.14", 5, T0 + 2 * SEC);
	detect_get_stats(x->e.det, &st);
	assert_int_equal(st.probes_dropped, 5);
	assert_int_equal(st.blocks, 2); /* its MAC and its address */
}

static void test_certification_keeps_level(void **state)
{
	struct fix *x = *state;
	struct act_change c;
	struct hostrec *r;

	worm(x, "10.1.0.8", T0);
	r = host(x, "10.1.0.8");
	/* A host being cleaned stays blocked, and keeps its state when a new
	 * detection escalates it. */
	r->state = HOST_CLEANING;
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = LEVEL_ISOLATE;
	c.by_uid = 0;
	c.reason = "again";
	assert_int_equal(act_apply(&x->e, &c, 1, T0 + SEC), 0);
	assert_int_equal(r->state, HOST_CLEANING);
	/* Certified clean: released, state cleaned. */
	c.level = LEVEL_NONE;
	c.set_state = true;
	c.state = HOST_CLEANED;
	assert_int_equal(act_apply(&x->e, &c, 1, T0 + 2 * SEC), 0);
	assert_int_equal(r->state, HOST_CLEANED);
	assert_int_equal(x->k.n, 0);
}

static void test_sync_adopts_and_restores(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;

	/* Found in the kernel, unknown to us: adopted. */
	x->k.el[0].set = NFT_SET_ISO4;
	x->k.el[0].e.addr = A("10.1.0.9");
	x->k.el[0].e.expires_ms = 30000;
	x->k.el[1].set = NFT_SET_CON4;
	x->k.el[1].e.addr = A("10.1.0.10");
	x->k.el[1].e.l4proto = IPPROTO_TCP;
	x->k.el[1].e.port = 22;
	x->k.n = 2;
	assert_int_equal(act_sync(&x->e, T0), 0);
	r = host(x, "10.1.0.9");
	assert_non_null(r);
	assert_int_equal(r->state, HOST_ISOLATED);
	assert_true(r->adopted);
	assert_true(r->expires_us == T0 + 30 * SEC);
	assert_int_equal(r->hist[0].kind, HIST_ADOPT);
	r = host(x, "10.1.0.10");
	assert_int_equal(r->state, HOST_CONTAINED);
	assert_int_equal(r->nwant, 1);
	assert_int_equal(count_events(x, "adopted"), 2);
	/* Someone flushes the set by hand: the next sync puts it back. */
	x->k.n = 0;
	assert_int_equal(act_sync(&x->e, T0 + SEC), 0);
	assert_int_equal(x->k.n, 2);
}

/* The element of a host in iso4, or NULL. */
static struct nft_elem *iso4_elem(struct fix *x, const char *a)
{
	struct nft_elem e = {.addr = A(a)};
	int i = find(&x->k, NFT_SET_ISO4, &e);

	return i < 0 ? NULL : &x->k.el[i].e;
}

/* A kill between a TTL change in the kernel and the save leaves the kernel
 * with another time to live than the saved state.  The saved one is put
 * back, or the kernel would drop a block that the daemon still lists (or
 * keep one past the time it lists). */
static void test_sync_restores_saved_ttl(void **state)
{
	struct fix *x = *state;
	struct act_change c;
	struct hostrec *p, *t, *ok;
	struct qaddr a;

	a = A("10.1.0.20");
	p = engine_record(&x->e, &a, true, T0);
	a = A("10.1.0.21");
	t = engine_record(&x->e, &a, true, T0);
	a = A("10.1.0.22");
	ok = engine_record(&x->e, &a, true, T0);
	assert_non_null(p);
	assert_non_null(t);
	assert_non_null(ok);
	memset(&c, 0, sizeof(c));
	c.level = LEVEL_ISOLATE;
	c.by_uid = 0;
	c.reason = "operator";
	c.rec = p; /* for good */
	assert_int_equal(act_apply(&x->e, &c, 1, T0), 0);
	c.rec = t; /* for 600 s */
	c.ttl_s = 600;
	assert_int_equal(act_apply(&x->e, &c, 1, T0), 0);
	c.rec = ok;
	assert_int_equal(act_apply(&x->e, &c, 1, T0), 0);
	assert_int_equal(x->k.n, 3);
	assert_true(t->expires_us == T0 + 600 * SEC);

	/* The kernel as a later, unsaved command left it, 10 s on. */
	iso4_elem(x, "10.1.0.20")->expires_ms = 300000;
	iso4_elem(x, "10.1.0.21")->expires_ms = 0;
	iso4_elem(x, "10.1.0.22")->expires_ms = 590000;
	assert_int_equal(act_sync(&x->e, T0 + 10 * SEC), 0);
	assert_int_equal(x->k.n, 3);
	assert_int_equal(iso4_elem(x, "10.1.0.20")->timeout_ms, 0);
	assert_int_equal(iso4_elem(x, "10.1.0.20")->expires_ms, 0);
	assert_true(iso4_elem(x, "10.1.0.21")->timeout_ms >= 590000);
	assert_true(iso4_elem(x, "10.1.0.21")->timeout_ms <= 592000);
	/* Within the slack: left alone. */
	assert_int_equal(iso4_elem(x, "10.1.0.22")->expires_ms, 590000);
	/* The records keep what they were: level, deadline, author, reason. */
	assert_int_equal(p->level, LEVEL_ISOLATE);
	assert_true(p->expires_us == 0);
	assert_true(t->expires_us == T0 + 600 * SEC);
	assert_int_equal(t->by_uid, 0);
	assert_string_equal(t->reason, "operator");
	assert_int_equal(t->hist[t->nhist - 1].kind, HIST_ACTION);
	/* Once right, a sync changes nothing. */
	unsigned nhist = p->nhist;
	assert_int_equal(act_sync(&x->e, T0 + 11 * SEC), 0);
	assert_int_equal(p->nhist, nhist);
	assert_int_equal(iso4_elem(x, "10.1.0.20")->timeout_ms, 0);
}

/* A kill between an escalation in the kernel (contain to isolate, one
 * transaction) and its save: the record says contained, the kernel
 * isolates.  The stricter is kept (fail closed), with an alert, and the
 * record's contain ports stay for a later deescalation; a deescalation
 * lost the same way is undone (the saved isolation goes back). */
static void test_sync_keeps_unsaved_escalation(void **state)
{
	struct fix *x = *state;
	struct act_change c;
	struct nft_elem e;
	struct hostrec *r, *d;
	struct qaddr a;

	a = A("10.1.0.30");
	r = engine_record(&x->e, &a, true, T0);
	a = A("10.1.0.31");
	d = engine_record(&x->e, &a, true, T0);
	assert_non_null(r);
	assert_non_null(d);
	r->want[0] = (struct hport){.proto = IPPROTO_TCP, .port = 22};
	r->nwant = 1;
	memset(&c, 0, sizeof(c));
	c.rec = r;
	c.level = LEVEL_CONTAIN;
	c.by_uid = 0;
	c.reason = "operator";
	assert_int_equal(act_apply(&x->e, &c, 1, T0), 0);
	c.rec = d;
	c.level = LEVEL_ISOLATE;
	assert_int_equal(act_apply(&x->e, &c, 1, T0), 0);
	assert_int_equal(x->k.n, 2);

	/* In the kernel: 10.1.0.30 escalated, 10.1.0.31 deescalated to tcp/22;
	 * neither saved. */
	x->k.n = 0;
	memset(&e, 0, sizeof(e));
	e.addr = A("10.1.0.30");
	x->k.el[x->k.n].set = NFT_SET_ISO4;
	x->k.el[x->k.n++].e = e;
	e.addr = A("10.1.0.31");
	e.l4proto = IPPROTO_TCP;
	e.port = 22;
	x->k.el[x->k.n].set = NFT_SET_CON4;
	x->k.el[x->k.n++].e = e;
	assert_int_equal(act_sync(&x->e, T0 + SEC), 0);

	assert_int_equal(r->level, LEVEL_ISOLATE);
	assert_int_equal(r->state, HOST_ISOLATED);
	assert_int_equal(r->nwant, 1);
	assert_int_equal(r->hist[r->nhist - 1].kind, HIST_ADOPT);
	assert_int_equal(count_events(x, "adopted"), 1);
	assert_non_null(iso4_elem(x, "10.1.0.30"));
	assert_int_equal(d->level, LEVEL_ISOLATE);
	assert_non_null(iso4_elem(x, "10.1.0.31"));
	/* Nothing else: no containment of either is left. */
	assert_int_equal(x->k.n, 2);
	assert_int_equal(r->nk, 0);
	assert_int_equal(d->nk, 0);
	/* And a sync after that changes nothing. */
	assert_int_equal(act_sync(&x->e, T0 + 2 * SEC), 0);
	assert_int_equal(x->k.n, 2);
	assert_int_equal(count_events(x, "adopted"), 1);
}

/* The gateway's own addresses in these tests: 10.1.0.1 and 10.1.0.2. */
static bool self_is_gw(void *arg, const struct qaddr *a)
{
	struct qaddr gw1 = A("10.1.0.1"), gw2 = A("10.1.0.2");

	(void)arg;
	return addr_eq(a, &gw1) || addr_eq(a, &gw2);
}

/* A saved block as state_load() leaves it: the level and state in force,
 * nothing of the kernel's view yet. */
static void saved_block(struct fix *x, const char *a)
{
	struct qaddr q = A(a);
	struct hostrec *r = hostdb_get(&x->e.hosts, &q);

	assert_non_null(r);
	r->level = r->decided = LEVEL_ISOLATE;
	r->state = HOST_ISOLATED;
	r->changed_us = T0 - 60 * SEC;
	hostdb_settle(&x->e.hosts, r);
}

static void kernel_iso4(struct fix *x, const char *a)
{
	x->k.el[x->k.n].set = NFT_SET_ISO4;
	x->k.el[x->k.n].e.addr = A(a);
	x->k.n++;
}

static bool in_kernel(const struct fix *x, const char *a)
{
	struct qaddr q = A(a);

	for (unsigned i = 0; i < x->k.n; i++)
		if (addr_eq(&x->k.el[i].e.addr, &q))
			return true;
	return false;
}

/* What is restored or adopted at start goes through policy: a saved block
 * (in the kernel or not) or a kernel element of a host that may not be
 * blocked now is released and taken out of the kernel, with a release
 * event that says why; the others are restored or adopted as before. */
static void test_sync_applies_policy(void **state)
{
	struct fix *x = *state;
	const char *gone[] = {"10.1.0.30", "10.1.0.31", "10.1.0.1", "10.1.0.2", "192.0.2.7"};
	struct qaddr nb = A("10.1.0.30");
	struct hostrec *r;

	x->e.is_self = self_is_gw;
	/* Put on the never-block list since the blocks were saved. */
	assert_int_equal(policy_allow(&x->e.pol, &nb, 31), 0);
	saved_block(x, "10.1.0.30");
	kernel_iso4(x, "10.1.0.30");
	kernel_iso4(x, "10.1.0.31"); /* by hand, unknown */
	saved_block(x, "10.1.0.1");  /* own address, not in the kernel */
	kernel_iso4(x, "10.1.0.2");  /* own address, by hand */
	saved_block(x, "192.0.2.7"); /* outside the protected networks */
	kernel_iso4(x, "192.0.2.7");
	saved_block(x, "10.1.0.40"); /* blockable, missing from the kernel */
	kernel_iso4(x, "10.1.0.41"); /* blockable, by hand: adopted */

	assert_int_equal(act_sync(&x->e, T0), 0);

	assert_int_equal(x->k.n, 2);
	assert_true(in_kernel(x, "10.1.0.40"));
	assert_true(in_kernel(x, "10.1.0.41"));
	assert_true(hostrec_isolated(host(x, "10.1.0.40")));
	assert_true(host(x, "10.1.0.41")->adopted);
	for (unsigned i = 0; i < ARRAY_SIZE(gone); i++) {
		r = host(x, gone[i]);
		assert_non_null(r);
		assert_int_equal(r->level, LEVEL_NONE);
		assert_int_equal(r->state, HOST_RELEASED);
		assert_false(r->adopted);
		assert_false(hostrec_isolated(r));
		assert_int_equal(r->hist[r->nhist - 1].kind, HIST_RELEASE);
		assert_non_null(strstr(r->hist[r->nhist - 1].text, "not restored: "));
	}
	assert_int_equal(count_events(x, "\"event\":\"release\""), 5);
	assert_int_equal(count_events(x, "not restored: on the never-block list"), 2);
	assert_int_equal(count_events(x, "not restored: one of the gateway's own addresses"), 2);
	assert_int_equal(count_events(x, "not restored: outside the protected networks"), 1);
	assert_int_equal(count_events(x, "adopted"), 1);

	/* A second reading changes nothing. */
	assert_int_equal(act_sync(&x->e, T0 + SEC), 0);
	assert_int_equal(x->k.n, 2);
	assert_int_equal(count_events(x, "\"event\":\"release\""), 5);
}

/* Every incident id given: detections still block, in no incident, and
 * an error event says why. */
static void test_incident_ids_exhausted(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;

	x->e.incidents.next_id = INCIDENT_ID_MAX + 1;
	worm(x, "10.1.0.5", T0);
	r = host(x, "10.1.0.5");
	assert_non_null(r);
	assert_int_equal(r->level, LEVEL_ISOLATE);
	assert_int_equal(r->hits[0].incident, 0);
	assert_int_equal(x->e.incidents.n, 0);
	assert_int_equal(x->e.incidents.next_id, (unsigned)INCIDENT_ID_MAX + 1);
	assert_int_equal(count_events(x, "incident ids exhausted (last 4294967294)"), 1);
	assert_int_equal(count_events(x, "\"event\":\"incident\""), 0);
}

/* SYNs on port from src to dst_prefix.first .. dst_prefix.(first + n - 1),
 * one a millisecond from t. */
static void sweep_port(struct fix *x, const char *src, const char *dst_prefix, unsigned first,
		       unsigned n, usec_t t, uint16_t port)
{
	for (unsigned i = 0; i < n; i++) {
		struct pkt p;
		char dst[32];

		memset(&p, 0, sizeof(p));
		snprintf(dst, sizeof(dst), "%s.%u", dst_prefix, first + i);
		p.src = A(src);
		p.dst = A(dst);
		p.l3 = PKT_L3_IPV4;
		p.proto = IPPROTO_TCP;
		p.flags = PKT_F_L4;
		p.sport = (uint16_t)(40000 + i);
		p.dport = port;
		p.tcp_flags = 0x02;
		detect_packet(x->e.det, &p, NULL, t + i * 1000);
	}
	engine_commit(&x->e);
}

static void sweep(struct fix *x, const char *src, const char *dst_prefix, unsigned first,
		  unsigned n, usec_t t)
{
	sweep_port(x, src, dst_prefix, first, n, t, 445);
}

/* Who probed whom: a host probed by an incident's member before it
 * spread is infected by it and joins its incident, long after the
 * window; one that nobody flagged probed opens its own; one that was
 * probed only after it began spreading is nobody's victim. */
static void test_infected_by_and_incident(void **state)
{
	struct fix *x = *state;
	struct hostrec *a, *b, *c, *v;

	x->c.enforce.max_actions_per_minute = 1000;
	sweep(x, "10.1.0.5", "10.3.0", 1, 10, T0);
	a = host(x, "10.1.0.5");
	assert_non_null(a);
	assert_int_equal(a->infected_by.family, 0);
	assert_int_equal(a->hits[0].incident, 1);
	/* V, one of them, begins probing slowly (three failures are not
	 * enough for the walk): not yet flagged. */
	sweep(x, "10.3.0.3", "10.6.0", 1, 3, T0 + 1100 * SEC);
	/* 20 minutes later (the window is 10), B, another of them, spreads:
	 * probing V on the way. */
	sweep(x, "10.3.0.4", "10.6.0", 1, 10, T0 + 1200 * SEC);
	b = host(x, "10.3.0.4");
	assert_non_null(b);
	assert_true(addr_eq(&b->infected_by, &a->id));
	assert_int_equal(b->infected_port, 445);
	assert_int_equal(b->infected_proto, PROTO_TCP);
	assert_true(b->infected_us == T0 + 3 * 1000);
	assert_int_equal(b->hits[0].incident, 1);
	assert_int_equal(incident_find(&x->e.incidents, 1)->nhosts, 2);
	/* Announced as any host that joins. */
	assert_int_equal(count_events(x, "\"event\":\"incident\",\"host\":\"10.3.0.4\""), 1);
	assert_int_equal(count_events(x,
				      "\"event\":\"incident\",\"host\":\"10.3.0.4\",\"id\":1,"
				      "\"rule\":\"smb-propagation\",\"patient_zero\":\"10.1.0.5\","
				      "\"hosts\":2"),
			 1);
	assert_true(addr_eq(&incident_find(&x->e.incidents, 1)->patient_zero, &a->id));
	assert_int_equal(count_events(x, "\"infected_by\":\"10.1.0.5\",\"infected_by_port\":445"),
			 1);
	/* V goes on: B probed it, but after V began: not B's victim (A
	 * probed it before, though: A's). */
	sweep(x, "10.3.0.3", "10.7.0", 1, 10, T0 + 1250 * SEC);
	v = host(x, "10.3.0.3");
	assert_non_null(v);
	assert_true(addr_eq(&v->infected_by, &a->id));
	/* C, probed by nobody flagged, past the window: its own incident. */
	sweep(x, "10.1.0.9", "10.8.0", 1, 10, T0 + 3000 * SEC);
	c = host(x, "10.1.0.9");
	assert_non_null(c);
	assert_int_equal(c->infected_by.family, 0);
	assert_int_equal(c->hits[0].incident, 2);
}

/* A host that only its victim probed, after it began spreading, is not
 * that victim's. */
static void test_infected_by_not_reversed(void **state)
{
	struct fix *x = *state;
	struct hostrec *v, *w;

	/* In alert mode: no block drops what V sends (a blocked host's
	 * probes are never edges). */
	engine_fini(&x->e);
	assert_int_equal(engine_init(&x->e, &x->c, MODE_ALERT, &x->out, &x->enf, NULL), 0);
	/* W starts probing (V among others) but is flagged later. */
	sweep(x, "10.1.0.7", "10.3.0", 1, 3, T0);
	/* V, probed by W, spreads and is flagged first. */
	sweep(x, "10.3.0.2", "10.4.0", 1, 10, T0 + 10 * SEC);
	v = host(x, "10.3.0.2");
	assert_non_null(v);
	/* W was not flagged yet: not named. */
	assert_int_equal(v->infected_by.family, 0);
	/* V probes W back; W is flagged: V's contact came after W began. */
	sweep(x, "10.3.0.2", "10.1.0", 7, 1, T0 + 20 * SEC);
	sweep(x, "10.1.0.7", "10.3.0", 6, 7, T0 + 30 * SEC);
	w = host(x, "10.1.0.7");
	assert_non_null(w);
	assert_int_equal(w->infected_by.family, 0);
	/* U, which V probed before U began, is V's. */
	sweep(x, "10.3.0.2", "10.1.0", 20, 1, T0 + 40 * SEC);
	sweep(x, "10.1.0.20", "10.5.0", 1, 10, T0 + 50 * SEC);
	assert_true(addr_eq(&host(x, "10.1.0.20")->infected_by, &v->id));
	/* U in V's incident, counted once, also when another rule flags it
	 * after the window (rpc-propagation: 10 destinations on 135). */
	{
		struct hostrec *u = host(x, "10.1.0.20");
		struct incident *in = incident_find(&x->e.incidents, u->hits[0].incident);
		unsigned n = in->nhosts, nhits = u->nhits;

		assert_int_equal(u->hits[0].incident, v->hits[0].incident);
		/* Every probe's outcome known (the walk's detections come
		 * now), then a quiet window. */
		sweep(x, "10.9.9.9", "10.7.7", 1, 1, T0 + 1000 * SEC);
		nhits = u->nhits;
		assert_true(x->e.incidents.window_us < 900 * SEC);
		sweep_port(x, "10.1.0.20", "10.6.1", 1, 10, T0 + 2000 * SEC, 135);
		assert_true(u->nhits > nhits);
		for (unsigned i = 0; i < u->nhits; i++)
			assert_int_equal(u->hits[i].incident, in->id);
		assert_int_equal(in->nhosts, n);
	}
}

/* A registry of 8 full of blocked hosts: the next worm is reported, not
 * blocked, and an error event says the limit is reached.  Once hosts are
 * released, their records make room (counted as evicted) and
 * the next worm is blocked. */
static void test_full_registry_blocks_again(void **state)
{
	struct fix *x = *state;
	char src[32];

	engine_fini(&x->e);
	x->c.limits.max_blocked = 8;
	x->c.enforce.max_actions_per_minute = 1000;
	assert_int_equal(engine_init(&x->e, &x->c, MODE_ENFORCE, &x->out, &x->enf, NULL), 0);
	for (unsigned i = 0; i < 8; i++) {
		snprintf(src, sizeof(src), "10.1.1.%u", i + 1);
		worm(x, src, T0 + i * SEC);
		assert_int_equal(host(x, src)->level, LEVEL_ISOLATE);
	}
	worm(x, "10.1.1.100", T0 + 10 * SEC);
	assert_null(host(x, "10.1.1.100"));
	assert_int_equal(x->k.n, 8);
	assert_int_equal(count_events(x, "limits.max_blocked (8) hosts are blocked"), 1);
	assert_int_equal(count_events(x, "\"why\":\"error\""), 1);

	/* Two released by an operator. */
	for (unsigned i = 0; i < 2; i++) {
		struct act_change c;

		memset(&c, 0, sizeof(c));
		snprintf(src, sizeof(src), "10.1.1.%u", i + 3);
		c.rec = host(x, src);
		c.level = LEVEL_NONE;
		c.by_uid = 0;
		c.reason = "released by operator";
		assert_int_equal(act_apply(&x->e, &c, 1, T0 + 20 * SEC), 0);
	}
	worm(x, "10.1.1.101", T0 + 30 * SEC);
	/* The released records went, least recently useful first: one for
	 * the new worm, one for 10.1.1.100, whose scan-trw detection came
	 * since (contained now: no longer lost). */
	assert_int_equal(host(x, "10.1.1.101")->level, LEVEL_ISOLATE);
	assert_int_equal(host(x, "10.1.1.100")->level, LEVEL_CONTAIN);
	assert_null(host(x, "10.1.1.3"));
	assert_null(host(x, "10.1.1.4"));
	assert_int_equal(x->e.hosts.evicted, 2);
	for (struct hostrec *r = hostdb_first(&x->e.hosts); r; r = hostdb_next(&x->e.hosts, r))
		assert_true(r->level >= LEVEL_CONTAIN);
	/* Full of blocked hosts again: the next is refused, with a second
	 * alert (at the second such detection). */
	worm(x, "10.1.1.102", T0 + 40 * SEC);
	assert_null(host(x, "10.1.1.102"));
	assert_int_equal(count_events(x, "limits.max_blocked (8) hosts are blocked"), 2);
	assert_int_equal(hostdb_count(&x->e.hosts), 8);
}

static void test_never_block_not_enforced(void **state)
{
	struct fix *x = *state;
	struct prefix one = {.addr = A("10.1.0.1"), .plen = 32};

	assert_int_equal(policy_allow(&x->e.pol, &one.addr, 32), 0);
	worm(x, "10.1.0.1", T0);
	assert_int_equal(x->k.n, 0);
	assert_int_equal(count_events(x, "\"why\":\"never-block\""), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_detect_isolates_with_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_expiry_then_recurrence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_starts_surveillance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recurrence_ttl_saturates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_holds_ttl_to_max, setup, teardown),
		cmocka_unit_test(test_ttl_left),
		cmocka_unit_test_setup_teardown(test_sync_long_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recurrence_raises_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_block_is_no_evidence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_starts_new_port_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detector_knows_restored_blocks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_detector_knows_machine_blocks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_certification_keeps_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_adopts_and_restores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_restores_saved_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_keeps_unsaved_escalation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_applies_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incident_ids_exhausted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_infected_by_and_incident, setup, teardown),
		cmocka_unit_test_setup_teardown(test_infected_by_not_reversed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_registry_blocks_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_block_not_enforced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escalation_after_manual_ports, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_detection_adds_to_manual_containment, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
