/* Unit tests of suggest(): a typo gets the word it most likely meant; a
 * word far from every candidate, or as close to two, gets nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "suggest.h"

static const char *const cmds[] = {"status", "list",  "show",	  "quarantine", "release",
				   "mark",   "allow", "disallow", "reload",	NULL};

static void test_typos(void **state)
{
	(void)state;
	assert_string_equal(suggest("relase", cmds), "release"); /* a letter left out */
	assert_string_equal(suggest("statsu", cmds), "status");	 /* two swapped */
	assert_string_equal(suggest("quarantin", cmds), "quarantine");
	assert_string_equal(suggest("shwo", cmds), "show");
	assert_string_equal(suggest("relaod", cmds), "reload");
	assert_string_equal(suggest("markk", cmds), "mark");
}

static void test_no_guess(void **state)
{
	static const char *const thetas[] = {"theta0", "theta1", NULL};
	static const char *const none[] = {NULL};

	(void)state;
	assert_null(suggest("frobnicate", cmds)); /* nothing close */
	assert_null(suggest("ls", cmds));	  /* too short to guess */
	assert_null(suggest("status", cmds));	  /* not a typo */
	assert_null(suggest("", cmds));
	assert_null(suggest("thetaX", thetas)); /* as close to both */
	assert_null(suggest("status", none));
	/* Longer than any key: not compared. */
	assert_null(suggest(
		"ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss", cmds));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typos),
		cmocka_unit_test(test_no_guess),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
