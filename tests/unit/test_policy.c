/* Unit tests of policy decisions and incident grouping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "incident.h"
#include "policy.h"

#define T0 (1767000000ULL * USEC_PER_SEC)

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static int
setup(void **state)
{
	struct conf *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(conf_init_default(c), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	conf_fini(*state);
	free(*state);
	return 0;
}

/* The first wave's call: facts from an address, its inventory entry and
 * whether it is the gateway's own. */
static void decide(struct policy *p, const struct qaddr *host, enum severity sev,
		   const struct inv_entry *inv, bool self, usec_t now, struct decision *ret)
{
	struct host_facts f = {
		.never = policy_never_block(p, host, self),
		.critical = inv && inv->critical,
	};

	policy_decide(p, sev, &f, now, ret);
}

static void test_levels_from_severity(void **state)
{
	struct conf *c = *state;
	struct policy p;
	struct decision d;
	struct qaddr h = A("10.1.0.5");

	assert_int_equal(policy_init(&p, c, MODE_ENFORCE), 0);
	decide(&p, &h, SEV_HIGH, NULL, false, T0, &d);
	assert_int_equal(d.level, LEVEL_ISOLATE);
	assert_int_equal(d.why, WHY_NONE);
	decide(&p, &h, SEV_MEDIUM, NULL, false, T0, &d);
	assert_int_equal(d.level, LEVEL_CONTAIN);
	assert_int_equal(d.why, WHY_NONE);
	decide(&p, &h, SEV_LOW, NULL, false, T0, &d);
	assert_int_equal(d.level, LEVEL_WATCH);
	assert_int_equal(d.why, WHY_WATCH);
	policy_fini(&p);
}

static void test_critical_cap(void **state)
{
	struct conf *c = *state;
	struct policy p;
	struct decision d;
	struct qaddr h = A("10.1.5.10");
	struct inv_entry inv;

	memset(&inv, 0, sizeof(inv));
	inv.critical = true;
	assert_int_equal(policy_init(&p, c, MODE_ENFORCE), 0);
	decide(&p, &h, SEV_HIGH, &inv, false, T0, &d);
	assert_int_equal(d.level, LEVEL_CONTAIN);
	assert_true(d.capped);
	decide(&p, &h, SEV_LOW, &inv, false, T0, &d);
	assert_int_equal(d.level, LEVEL_WATCH);
	assert_false(d.capped);
	policy_fini(&p);
}

/* A detection that names no ports (from outside) would be contained by
 * isolation: where isolation is not allowed (a critical asset, an
 * unverified source held below it) it is watched and said capped, not
 * shown as contained with nothing in the kernel; a verified source is
 * contained (then isolated by the enforcer). */
static void test_portless(void **state)
{
	struct conf *c = *state;
	struct policy p;
	struct decision d;
	struct host_facts f;

	assert_int_equal(policy_init(&p, c, MODE_ENFORCE), 0);
	memset(&f, 0, sizeof(f));
	f.portless = true;
	policy_decide_level(&p, LEVEL_CONTAIN, &f, T0, &d);
	assert_int_equal(d.level, LEVEL_CONTAIN);
	assert_false(d.capped);
	f.unverified = true;
	c->identity.unverified_max = LEVEL_CONTAIN;
	policy_decide_level(&p, LEVEL_CONTAIN, &f, T0, &d);
	assert_int_equal(d.level, LEVEL_WATCH);
	assert_true(d.capped);
	assert_int_equal(d.why, WHY_WATCH);
	c->identity.unverified_max = LEVEL_ISOLATE;
	policy_decide_level(&p, LEVEL_CONTAIN, &f, T0, &d);
	assert_int_equal(d.level, LEVEL_CONTAIN);
	f.unverified = false;
	f.critical = true;
	policy_decide_level(&p, LEVEL_CONTAIN, &f, T0, &d);
	assert_int_equal(d.level, LEVEL_WATCH);
	assert_true(d.capped);
	/* With ports, a critical asset is contained on them. */
	f.portless = false;
	policy_decide_level(&p, LEVEL_CONTAIN, &f, T0, &d);
	assert_int_equal(d.level, LEVEL_CONTAIN);
	policy_fini(&p);
}

/* Outbreak mode: watch becomes contain, and the caps still hold: a
 * critical asset capped at watch stays there, never-block stays
 * unblocked, unverified sources keep their cap; off, watch again. */
static void test_outbreak(void **state)
{
	struct conf *c = *state;
	struct policy p;
	struct decision d;
	struct qaddr h = A("10.1.0.5"), nb = A("10.1.0.6");
	struct inv_entry inv;
	struct host_facts unv = {.unverified = true};

	memset(&inv, 0, sizeof(inv));
	inv.critical = true;
	assert_int_equal(policy_init(&p, c, MODE_ENFORCE), 0);
	assert_int_equal(policy_allow(&p, &nb, 32), 0);
	p.outbreak = true;
	decide(&p, &h, SEV_LOW, NULL, false, T0, &d);
	assert_int_equal(d.level, LEVEL_CONTAIN);
	assert_int_equal(d.why, WHY_NONE);
	decide(&p, &h, SEV_HIGH, NULL, false, T0, &d);
	assert_int_equal(d.level, LEVEL_ISOLATE);
	decide(&p, &nb, SEV_LOW, NULL, false, T0, &d);
	assert_int_equal(d.why, WHY_NEVER_BLOCK);
	c->policy.critical_max = LEVEL_WATCH;
	decide(&p, &h, SEV_LOW, &inv, false, T0, &d);
	assert_int_equal(d.level, LEVEL_WATCH);
	assert_true(d.capped);
	c->policy.critical_max = LEVEL_CONTAIN;
	c->identity.unverified_max = LEVEL_WATCH;
	policy_decide(&p, SEV_LOW, &unv, T0, &d);
	assert_int_equal(d.level, LEVEL_WATCH);
	c->identity.unverified_max = LEVEL_CONTAIN;
	/* The configuration may keep watch a watch. */
	c->outbreak.contain_watch = false;
	decide(&p, &h, SEV_LOW, NULL, false, T0, &d);
	assert_int_equal(d.level, LEVEL_WATCH);
	c->outbreak.contain_watch = true;
	p.outbreak = false;
	decide(&p, &h, SEV_LOW, NULL, false, T0, &d);
	assert_int_equal(d.level, LEVEL_WATCH);
	policy_fini(&p);
}

static void test_never_block_and_modes(void **state)
{
	struct conf *c = *state;
	struct policy p;
	struct decision d;
	struct qaddr h = A("10.1.0.5"), out = A("198.51.100.1");

	assert_int_equal(policy_init(&p, c, MODE_OFFLINE), 0);
	decide(&p, &h, SEV_HIGH, NULL, false, T0, &d);
	assert_int_equal(d.level, LEVEL_ISOLATE);
	assert_int_equal(d.why, WHY_OFFLINE);
	/* Outside the protected networks: never blocked, in any mode. */
	decide(&p, &out, SEV_HIGH, NULL, false, T0, &d);
	assert_int_equal(d.why, WHY_NEVER_BLOCK);
	policy_fini(&p);
	assert_int_equal(policy_init(&p, c, MODE_ALERT), 0);
	decide(&p, &h, SEV_HIGH, NULL, false, T0, &d);
	assert_int_equal(d.why, WHY_DRY_RUN);
	policy_fini(&p);
	assert_int_equal(policy_init(&p, c, MODE_ENFORCE), 0);
	decide(&p, &h, SEV_HIGH, NULL, true, T0, &d);
	assert_int_equal(d.why, WHY_NEVER_BLOCK);
	p.paused = true;
	decide(&p, &h, SEV_HIGH, NULL, false, T0, &d);
	assert_int_equal(d.why, WHY_PAUSED);
	assert_int_equal(d.level, LEVEL_ISOLATE);
	policy_fini(&p);
}

static void test_rate_limit(void **state)
{
	struct conf *c = *state;
	struct policy p;
	struct decision d;
	struct qaddr h = A("10.1.0.5");

	c->enforce.max_actions_per_minute = 3;
	assert_int_equal(policy_init(&p, c, MODE_ENFORCE), 0);
	for (unsigned i = 0; i < 3; i++) {
		decide(&p, &h, SEV_HIGH, NULL, false, T0 + i, &d);
		assert_int_equal(d.why, WHY_NONE);
	}
	decide(&p, &h, SEV_HIGH, NULL, false, T0 + 10, &d);
	assert_int_equal(d.why, WHY_RATE_LIMIT);
	assert_int_equal(p.rate_suppressed, 1);
	/* Watch-level alerts do not use the budget. */
	decide(&p, &h, SEV_LOW, NULL, false, T0 + 11, &d);
	assert_int_equal(d.why, WHY_WATCH);
	/* The next minute has a fresh budget. */
	decide(&p, &h, SEV_HIGH, NULL, false, T0 + 61 * USEC_PER_SEC, &d);
	assert_int_equal(d.why, WHY_NONE);
	policy_fini(&p);
}

static void test_allow_disallow(void **state)
{
	struct conf *c = *state;
	struct policy p;
	struct qaddr h = A("10.1.0.5"), net = A("10.1.0.0"), gw = A("10.0.0.1");
	struct prefix one = {.addr = A("10.0.0.1"), .plen = 32};

	struct prefix_list saved = c->networks.never_block;

	/* A configured never-block entry. */
	c->networks.never_block.v = &one;
	c->networks.never_block.n = 1;
	c->networks.never_block.lpm = lpm_new();
	assert_int_equal(lpm_insert(c->networks.never_block.lpm, &one.addr, 32, 0), 0);
	assert_int_equal(policy_init(&p, c, MODE_ENFORCE), 0);
	assert_true(policy_never_block(&p, &gw, false));
	assert_false(policy_never_block(&p, &h, false));
	assert_int_equal(policy_allow(&p, &net, 24), 0);
	assert_int_equal(policy_allow(&p, &net, 24), -EEXIST);
	assert_true(policy_never_block(&p, &h, false));
	assert_int_equal(policy_disallow(&p, &net, 24), 0);
	assert_false(policy_never_block(&p, &h, false));
	assert_int_equal(policy_disallow(&p, &net, 24), -ENOENT);
	/* Disallowing a configured entry takes it out until re-allowed. */
	assert_int_equal(policy_disallow(&p, &gw, 32), 0);
	assert_false(policy_never_block(&p, &gw, false));
	assert_int_equal(policy_allow(&p, &gw, 32), 0);
	assert_true(policy_never_block(&p, &gw, false));
	policy_fini(&p);
	lpm_free(c->networks.never_block.lpm);
	c->networks.never_block = saved;
}

static void test_incident_patient_zero(void **state)
{
	struct incidents s;
	struct incident *in;
	struct qaddr a = A("10.1.0.6"), b = A("10.1.0.5"), c = A("10.1.0.7");

	(void)state;
	assert_int_equal(incidents_init(&s, 4, 600 * USEC_PER_SEC), 0);
	/* .6 is flagged first, but .5 had started probing earlier. */
	in = incident_join(&s, 0, "smb-propagation", 0, &a, T0 + 5 * USEC_PER_SEC,
			   T0 + 10 * USEC_PER_SEC);
	assert_int_equal(in->id, 1);
	in = incident_join(&s, 0, "smb-propagation", 0, &b, T0, T0 + 12 * USEC_PER_SEC);
	assert_int_equal(in->id, 1);
	assert_int_equal(in->nhosts, 2);
	assert_true(addr_eq(&in->patient_zero, &b));
	assert_true(in->first_probe_us == T0);
	/* Another rule: another incident. */
	in = incident_join(&s, 4, "telnet-propagation", 0, &c, T0, T0 + 13 * USEC_PER_SEC);
	assert_int_equal(in->id, 2);
	/* Same rule after the window: a new incident. */
	in = incident_join(&s, 0, "smb-propagation", 0, &c, T0 + 700 * USEC_PER_SEC,
			   T0 + 700 * USEC_PER_SEC);
	assert_int_equal(in->id, 3);
	assert_int_equal(in->nhosts, 1);
	/* The ring forgets the oldest but ids stay unique and findable. */
	incident_join(&s, 1, "rpc-propagation", 0, &c, T0, T0 + 800 * USEC_PER_SEC);
	incident_join(&s, 2, "rdp-propagation", 0, &c, T0, T0 + 800 * USEC_PER_SEC);
	assert_null(incident_find(&s, 1));
	assert_non_null(incident_find(&s, 2));
	assert_int_equal(incident_find(&s, 5)->id, 5);
	incidents_fini(&s);
}

/* What spreads: the walk's detections group by port, so a camera failing
 * on telnet does not join a PC's SMB outbreak; a host flagged by another
 * rule stays in its open incident. */
static void test_incident_what_spreads(void **state)
{
	struct incidents s;
	struct incident *pc, *cam, *in;
	struct qaddr a = A("10.1.0.6"), b = A("10.1.0.7"), c = A("10.1.0.8"),
		     cam_a = A("10.1.4.50");

	(void)state;
	assert_int_equal(incidents_init(&s, 16, 600 * USEC_PER_SEC), 0);
	pc = incident_join(&s, DETECT_RULE_TRW, DETECT_TRW_NAME, 445, &a, T0, T0 + USEC_PER_SEC);
	cam = incident_join(&s, DETECT_RULE_TRW, DETECT_TRW_NAME, 23, &cam_a, T0 - USEC_PER_SEC,
			    T0 + 2 * USEC_PER_SEC);
	assert_int_not_equal(pc->id, cam->id);
	assert_true(addr_eq(&pc->patient_zero, &a)); /* not the earlier camera */
	in = incident_join(&s, DETECT_RULE_TRW, DETECT_TRW_NAME, 445, &b, T0,
			   T0 + 3 * USEC_PER_SEC);
	assert_int_equal(in->id, pc->id);
	assert_int_equal(in->nhosts, 2);
	/* .6 flagged by smb-propagation too: it stays, counted once. */
	in = incident_stay(&s, incident_find(&s, pc->id), 0, "smb-propagation", 0,
			   T0 + 4 * USEC_PER_SEC);
	assert_ptr_equal(in, pc);
	assert_int_equal(in->nhosts, 2);
	assert_true(in->last_detect_us == T0 + 4 * USEC_PER_SEC);
	/* ...which names it now, and the next SMB host joins it. */
	assert_string_equal(in->rule_name, "smb-propagation");
	in = incident_join(&s, 0, "smb-propagation", 0, &c, T0, T0 + 5 * USEC_PER_SEC);
	assert_int_equal(in->id, pc->id);
	assert_int_equal(in->nhosts, 3);
	/* Past the window it is closed. */
	assert_null(incident_stay(&s, pc, 0, "smb-propagation", 0, T0 + 700 * USEC_PER_SEC));
	/* A reload rebuilds which incident each rule and port joins. */
	incidents_reopen(&s);
	in = incident_join(&s, DETECT_RULE_TRW, DETECT_TRW_NAME, 23, &b, T0, T0 + 5 * USEC_PER_SEC);
	assert_int_equal(in->id, cam->id);
	incidents_fini(&s);
}

/* Who probed whom: a host a member infected joins the member's incident
 * after the window, without taking patient zero's place, and the next
 * host of that rule that nobody probed opens its own. */
static void test_incident_follow(void **state)
{
	struct incidents s;
	struct incident *in, *first;
	struct qaddr a = A("10.1.0.6"), c = A("10.1.0.8");

	(void)state;
	assert_int_equal(incidents_init(&s, 8, 600 * USEC_PER_SEC), 0);
	first = incident_join(&s, 0, "smb-propagation", 0, &a, T0, T0 + USEC_PER_SEC);
	in = incident_follow(&s, first, false, T0 + 3600 * USEC_PER_SEC);
	assert_ptr_equal(in, first);
	assert_int_equal(in->nhosts, 2);
	/* The same host flagged by another rule later: counted once. */
	in = incident_follow(&s, first, true, T0 + 3601 * USEC_PER_SEC);
	assert_int_equal(in->nhosts, 2);
	assert_true(in->last_detect_us == T0 + 3601 * USEC_PER_SEC);
	assert_true(addr_eq(&in->patient_zero, &a));
	assert_true(in->first_probe_us == T0);
	assert_null(incident_follow(&s, NULL, false, T0));
	/* Past the window since the follower: a new one. */
	in = incident_join(&s, 0, "smb-propagation", 0, &c, T0 + 4302 * USEC_PER_SEC,
			   T0 + 4302 * USEC_PER_SEC);
	assert_int_not_equal(in->id, first->id);
	incidents_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_levels_from_severity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_critical_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_portless, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbreak, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_block_and_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allow_disallow, setup, teardown),
		cmocka_unit_test(test_incident_patient_zero),
		cmocka_unit_test(test_incident_what_spreads),
		cmocka_unit_test(test_incident_follow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
