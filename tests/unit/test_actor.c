/* Unit tests of actor.c: which user names are recorded, the sudo claim
 * as the protocol carries it, and how an operator is shown. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "actor.h"

static void test_name_valid(void **state)
{
	static const char *const good[] = {
		"root", "alice", "a",	 "Bob_2", "first.last",
		"x-y",	"_apt",	 "0day", "host$", "abcdefghijklmnopqrstuvwxyz012345", /* 32 */
	};
	static const char *const bad[] = {
		"",
		"-rf",
		"a b",
		"a\tb",
		"a\nb",
		"al\"ice",
		"al\\ice",
		"a=b",
		"a/b",
		"$",
		"a$b",
		"caf\xc3\xa9",
		"abcdefghijklmnopqrstuvwxyz0123456", /* 33 */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!actor_name_valid(good[i]))
			fail_msg("'%s' refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (actor_name_valid(bad[i]))
			fail_msg("'%s' taken", bad[i]);
}

static void test_claim(void **state)
{
	struct actor a;

	(void)state;
	memset(&a, 0, sizeof(a));
	/* Nothing claimed. */
	assert_int_equal(actor_claim(&a, 0, NULL, NULL), 0);
	assert_string_equal(a.sudo_user, "");
	/* Both, well-formed. */
	assert_int_equal(actor_claim(&a, 0, "alice", "1000"), 0);
	assert_string_equal(a.sudo_user, "alice");
	assert_int_equal(a.sudo_uid, 1000);
	assert_int_equal(actor_claim(&a, 0, "m$", "4294967294"), 0);
	assert_int_equal(a.sudo_uid, UINT32_MAX - 1);
	/* Refused whole, *a unchanged. */
	static const char *const bad[][2] = {
		{"alice", NULL},
		{NULL, "1000"},
		{"", "1000"},
		{"a b", "1000"},
		{"alice", ""},
		{"alice", "-1"},
		{"alice", "+5"},
		{"alice", "10 00"},
		{"alice", "4294967295"},
		{"alice", "1e3"},
		{"alice", "99999999999"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (actor_claim(&a, 0, bad[i][0], bad[i][1]) != -EINVAL)
			fail_msg("claim %s/%s taken", bad[i][0] ? bad[i][0] : "(none)",
				 bad[i][1] ? bad[i][1] : "(none)");
		assert_string_equal(a.sudo_user, "m$");
	}
	/* A claim of the peer's own uid says nothing. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(actor_claim(&a, 1000, "alice", "1000"), 0);
	assert_string_equal(a.sudo_user, "");
}

static void test_text_and_json(void **state)
{
	struct actor a;
	char t[ACTOR_TEXT_MAX], j[ACTOR_JSON_MAX];

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_string_equal(actor_text(-1, &a, t, sizeof(t)), "auto");
	assert_string_equal(actor_json(-1, &a, j, sizeof(j)), ",\"by\":\"auto\"");
	assert_string_equal(actor_text(1000, NULL, t, sizeof(t)), "uid 1000");
	assert_string_equal(actor_text(1000, &a, t, sizeof(t)), "uid 1000");
	assert_string_equal(actor_json(1000, NULL, j, sizeof(j)), ",\"by\":\"1000\"");
	snprintf(a.name, sizeof(a.name), "alice");
	assert_string_equal(actor_text(1000, &a, t, sizeof(t)), "alice (uid 1000)");
	assert_string_equal(actor_json(1000, &a, j, sizeof(j)),
			    ",\"by\":\"1000\",\"by_name\":\"alice\"");
	snprintf(a.name, sizeof(a.name), "root");
	snprintf(a.sudo_user, sizeof(a.sudo_user), "alice");
	a.sudo_uid = 1000;
	assert_string_equal(actor_text(0, &a, t, sizeof(t)),
			    "root (uid 0, sudo from alice, claimed)");
	assert_string_equal(
		actor_json(0, &a, j, sizeof(j)),
		",\"by\":\"0\",\"by_name\":\"root\",\"by_claimed\":{\"sudo_user\":\"alice\","
		"\"sudo_uid\":1000}");
	a.name[0] = '\0';
	assert_string_equal(actor_text(0, &a, t, sizeof(t)), "uid 0 (sudo from alice, claimed)");
	/* The longest fits. */
	memset(a.name, 'n', ACTOR_NAME_MAX - 1);
	memset(a.sudo_user, 's', ACTOR_NAME_MAX - 1);
	a.sudo_uid = UINT32_MAX - 1;
	assert_true(strlen(actor_text(4294967294L, &a, t, sizeof(t))) < sizeof(t) - 1);
	assert_true(strlen(actor_json(4294967294L, &a, j, sizeof(j))) < sizeof(j) - 1);
	assert_int_equal(j[strlen(j) - 1], '}');
}

/* The name of a uid as the system knows it: root is uid 0 everywhere we
 * run; a uid nobody has leaves the name unknown. */
static void test_resolve(void **state)
{
	struct actor a;

	(void)state;
	memset(&a, 0, sizeof(a));
	snprintf(a.sudo_user, sizeof(a.sudo_user), "alice");
	actor_resolve(&a, 0);
	assert_string_equal(a.name, "root");
	assert_string_equal(a.sudo_user, "alice"); /* the claim stays */
	actor_resolve(&a, 3999999999u);
	assert_string_equal(a.name, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_text_and_json),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
