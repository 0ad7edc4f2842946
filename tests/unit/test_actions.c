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
	assert_int_equal(engine_init(&x->e, &x->c, MODE_ENFORCE, &x->out, &x->enf), 0);
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

/* An SMB worm: SYNs to 10 new destinations on 445. */
static void worm(struct fix *x, const char *src, usec_t t)
{
	for (unsigned i = 0; i < 10; i++) {
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

static void test_recurrence_raises_level(void **state)
{
	struct fix *x = *state;
	struct act_change c;
	struct hostrec *r;

	/* An ssh worm is contained (medium); released by hand; again: one
	 * level higher, isolated. */
	x->c.enforce.default_ttl_s = 0;
	for (unsigned i = 0; i < 10; i++) {
		struct pkt p;
		char dst[32];

		memset(&p, 0, sizeof(p));
		snprintf(dst, sizeof(dst), "10.3.0.%u", i + 1);
		p.src = A("10.1.0.7");
		p.dst = A(dst);
		p.l3 = PKT_L3_IPV4;
		p.proto = IPPROTO_TCP;
		p.flags = PKT_F_L4;
		p.sport = 40000;
		p.dport = 22;
		p.tcp_flags = 0x02;
		detect_packet(x->e.det, &p, NULL, T0 + i);
		/* answered, so the walk stays quiet */
		p.src = A(dst);
		p.dst = A("10.1.0.7");
		p.sport = 22;
		p.dport = 40000;
		p.tcp_flags = 0x12;
		detect_packet(x->e.det, &p, NULL, T0 + i);
	}
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
	for (unsigned i = 0; i < 10; i++) {
		struct pkt p;
		char dst[32];

		memset(&p, 0, sizeof(p));
		snprintf(dst, sizeof(dst), "10.3.0.%u", i + 1);
		p.src = A("10.1.0.12");
		p.dst = A(dst);
		p.l3 = PKT_L3_IPV4;
		p.proto = IPPROTO_TCP;
		p.flags = PKT_F_L4;
		p.sport = 40000;
		p.dport = 22;
		p.tcp_flags = 0x02;
		detect_packet(x->e.det, &p, NULL, T0 + i);
		p.src = A(dst);
		p.dst = A("10.1.0.12");
		p.sport = 22;
		p.dport = 40000;
		p.tcp_flags = 0x12;
		detect_packet(x->e.det, &p, NULL, T0 + i);
	}
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
		cmocka_unit_test_setup_teardown(test_recurrence_raises_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_block_is_no_evidence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_starts_new_port_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detector_knows_restored_blocks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_detector_knows_machine_blocks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_certification_keeps_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_adopts_and_restores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_block_not_enforced, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
