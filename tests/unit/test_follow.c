/* Unit tests of the file follower on real files in a temporary
 * directory: appended lines, a partial line that waits, an over-long
 * line skipped, rotation with the renamed file finished first (Zeek's
 * rename-then-compress), rotation with a partial line, copytruncate,
 * a rewrite past the old offset, the position across a restart, and an
 * inode reused by another file (the head's hash tells them apart). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"

struct got {
	char lines[64][256];
	unsigned n;
	unsigned errors;
	int last_error;
};

static char dir[64];
static char path[128];

static void on_line(void *arg, const char *line, size_t len)
{
	struct got *g = arg;

	assert_true(g->n < 64);
	snprintf(g->lines[g->n++], sizeof(g->lines[0]), "%.*s", (int)len, line);
}

static void on_error(void *arg, int error, const char *what)
{
	struct got *g = arg;

	(void)what;
	g->errors++;
	g->last_error = error;
}

static void append(const char *p, const char *s)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

static size_t poll_all(struct follow *f, struct got *g)
{
	return follow_poll(f, 1 << 20, on_line, on_error, g);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/qd-follow-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/eve.json", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void clean(void)
{
	char p[160];

	unlink(path);
	snprintf(p, sizeof(p), "%s.1", path);
	unlink(p);
}

static void test_waiting_then_appended(void **state)
{
	struct follow f;
	struct got g = {0};

	(void)state;
	clean();
	assert_int_equal(follow_init(&f, path, 1024, NULL), 0);
	/* No file yet; it appears later: read from its start. */
	assert_int_equal(poll_all(&f, &g), 0);
	assert_int_equal(f.state, FOLLOW_WAITING);
	/* Pretend a file was met before (the daemon ran): the new one is
	 * news from its start. */
	f.started = true;
	append(path, "one\ntwo\r\nthr");
	poll_all(&f, &g);
	assert_int_equal(f.state, FOLLOW_FOLLOWING);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.lines[0], "one");
	assert_string_equal(g.lines[1], "two");
	/* The partial line waits for its end. */
	append(path, "ee\n\nfour\n");
	poll_all(&f, &g);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.lines[2], "three");
	assert_string_equal(g.lines[3], "four");
	assert_int_equal(g.errors, 0);
	follow_fini(&f);
}

static void test_existing_file_from_its_end(void **state)
{
	struct follow f;
	struct got g = {0};

	(void)state;
	clean();
	append(path, "old alert\n");
	assert_int_equal(follow_init(&f, path, 1024, NULL), 0);
	poll_all(&f, &g);
	assert_int_equal(g.n, 0);
	append(path, "new alert\n");
	poll_all(&f, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.lines[0], "new alert");
	follow_fini(&f);
}

static void test_too_long(void **state)
{
	struct follow f;
	struct got g = {0};
	char big[3000];

	(void)state;
	clean();
	append(path, "");
	assert_int_equal(follow_init(&f, path, 1024, NULL), 0);
	poll_all(&f, &g);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* The long line comes in pieces: dropped without being held. */
	append(path, big);
	poll_all(&f, &g);
	append(path, big);
	append(path, "\nafter\n");
	poll_all(&f, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.lines[0], "after");
	assert_int_equal(g.errors, 1);
	assert_int_equal(g.last_error, -EMSGSIZE);
	assert_int_equal(f.st.too_long, 1);
	follow_fini(&f);
}

static void test_rotation(void **state)
{
	struct follow f;
	struct got g = {0};
	char old[160];

	(void)state;
	clean();
	snprintf(old, sizeof(old), "%s.1", path);
	append(path, "");
	assert_int_equal(follow_init(&f, path, 1024, NULL), 0);
	poll_all(&f, &g);
	append(path, "a1\n");
	poll_all(&f, &g);
	/* Written, renamed, a new file written, before we look again: the
	 * old file is finished first, then the new one from its start. */
	append(path, "a2\n");
	assert_int_equal(rename(path, old), 0);
	append(old, "a3\n");
	append(path, "b1\n");
	poll_all(&f, &g);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.lines[1], "a2");
	assert_string_equal(g.lines[2], "a3");
	assert_string_equal(g.lines[3], "b1");
	assert_int_equal(f.st.rotations, 1);
	/* The renamed file goes (compressed, deleted): nothing changes. */
	unlink(old);
	append(path, "b2\n");
	poll_all(&f, &g);
	assert_int_equal(g.n, 5);
	assert_string_equal(g.lines[4], "b2");
	/* Rotated with an unfinished last line: dropped, and said so. */
	append(path, "b3-partial");
	poll_all(&f, &g);
	assert_int_equal(rename(path, old), 0);
	append(path, "c1\n");
	poll_all(&f, &g);
	assert_int_equal(g.n, 6);
	assert_string_equal(g.lines[5], "c1");
	assert_int_equal(g.errors, 1);
	assert_int_equal(f.st.partial_lost, 1);
	follow_fini(&f);
}

static void test_truncation(void **state)
{
	struct follow f;
	struct got g = {0};

	(void)state;
	clean();
	append(path, "");
	assert_int_equal(follow_init(&f, path, 1024, NULL), 0);
	poll_all(&f, &g);
	append(path, "first line of the file\nsecond line\n");
	poll_all(&f, &g);
	assert_int_equal(g.n, 2);
	/* copytruncate: the same inode, from zero. */
	assert_int_equal(truncate(path, 0), 0);
	append(path, "x\n");
	poll_all(&f, &g);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.lines[2], "x");
	assert_int_equal(f.st.truncations, 1);
	/* Truncated and written again past our offset between two looks:
	 * the head differs. */
	assert_int_equal(truncate(path, 0), 0);
	append(path, "y: a longer line than before\nz\n");
	poll_all(&f, &g);
	assert_int_equal(g.n, 5);
	assert_string_equal(g.lines[3], "y: a longer line than before");
	assert_string_equal(g.lines[4], "z");
	assert_int_equal(f.st.rewritten, 1);
	follow_fini(&f);
}

static void test_restart_position(void **state)
{
	struct follow f;
	struct follow_pos pos;
	struct got g = {0};

	(void)state;
	clean();
	append(path, "");
	assert_int_equal(follow_init(&f, path, 1024, NULL), 0);
	poll_all(&f, &g);
	append(path, "l1\nl2\nl3-part");
	poll_all(&f, &g);
	assert_true(follow_position(&f, &pos));
	/* The position is the end of the last whole line. */
	assert_int_equal(pos.off, 6);
	assert_int_equal(pos.hlen, 6);
	follow_fini(&f);

	/* Down meanwhile: the partial line ended, more came. */
	append(path, "\nl4\n");
	memset(&g, 0, sizeof(g));
	assert_int_equal(follow_init(&f, path, 1024, &pos), 0);
	poll_all(&f, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.lines[0], "l3-part");
	assert_string_equal(g.lines[1], "l4");
	follow_fini(&f);
}

static void test_inode_reused(void **state)
{
	struct follow f;
	struct follow_pos pos;
	struct got g = {0};
	struct stat st;

	(void)state;
	clean();
	append(path, "");
	assert_int_equal(follow_init(&f, path, 1024, NULL), 0);
	poll_all(&f, &g);
	append(path, "alpha 1\nalpha 2\n");
	poll_all(&f, &g);
	assert_true(follow_position(&f, &pos));
	follow_fini(&f);

	/* The file rotated away while we were down, and a new file took
	 * its inode (faked: the same file rewritten in place, the position
	 * pointing inside it): same device, inode and a size past the
	 * offset, another head. */
	assert_int_equal(truncate(path, 0), 0);
	append(path, "bravo 1\nbravo 2\nbravo 3\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_ino, pos.ino);
	memset(&g, 0, sizeof(g));
	assert_int_equal(follow_init(&f, path, 1024, &pos), 0);
	poll_all(&f, &g);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.lines[0], "bravo 1");
	follow_fini(&f);

	/* Another inode altogether: from its start as well. */
	pos.ino++;
	memset(&g, 0, sizeof(g));
	assert_int_equal(follow_init(&f, path, 1024, &pos), 0);
	poll_all(&f, &g);
	assert_int_equal(g.n, 3);
	follow_fini(&f);
}

static void test_budget(void **state)
{
	struct follow f;
	struct got g = {0};

	(void)state;
	clean();
	append(path, "");
	assert_int_equal(follow_init(&f, path, 1024, NULL), 0);
	poll_all(&f, &g);
	append(path, "0123456789\n0123456789\n0123456789\n");
	/* At most the budget a call: the caller comes back for more. */
	assert_int_equal(follow_poll(&f, 12, on_line, on_error, &g), 12);
	assert_int_equal(g.n, 1);
	assert_int_equal(follow_poll(&f, 12, on_line, on_error, &g), 12);
	assert_int_equal(follow_poll(&f, 12, on_line, on_error, &g), 9);
	assert_int_equal(g.n, 3);
	follow_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waiting_then_appended),
		cmocka_unit_test(test_existing_file_from_its_end),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_restart_position),
		cmocka_unit_test(test_inode_reused),
		cmocka_unit_test(test_budget),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
