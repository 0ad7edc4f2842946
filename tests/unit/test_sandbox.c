/* Unit tests for the sandbox: a child that enters it holds no
 * capability, runs under no_new_privs and one more seccomp filter than
 * before (as /proc/PID/status shows it to whoever looks), can still make
 * the calls it allowed, and is killed by SIGSYS on the first call it did
 * not.  Every case runs in a forked child: the sandbox cannot be left. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "types.h"

/* What a child in these tests calls: pipes, and its end. */
static const char *const base[] = {"read", "write", "exit_group", "exit"};

/* The sandbox's allow list: base plus the sanitizer runtimes' own. */
static unsigned allow_list(const char **v, unsigned max)
{
	unsigned n = 0, nextra;
	const char *const *extra = sandbox_sanitizer_extra(&nextra);

	for (unsigned i = 0; i < ARRAY_SIZE(base); i++)
		v[n++] = base[i];
	for (unsigned i = 0; i < nextra && n < max; i++)
		v[n++] = extra[i];
	return n;
}

/* The value of field in /proc/pid/status, as text. */
static void status_field(pid_t pid, const char *field, char *out, size_t outlen)
{
	char path[64], line[256];
	size_t fl = strlen(field);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
			char *v = line + fl + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, outlen, "%s", v);
			break;
		}
	fclose(f);
}

/* The conditional rules the next run_child() enters with. */
static const struct sandbox_cond *child_cond;
static unsigned child_ncond;

/* Forks a child that enters the sandbox, says "ready" on a pipe, waits
 * for a byte, then runs forbidden(); returns its wait status.  The parent
 * checks /proc/CHILD/status while the child waits. */
static int run_child(void (*forbidden)(void), bool check_status)
{
	int up[2], down[2], st;
	char c, v[32], mine[32];
	pid_t pid;

	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *allow[64];
		unsigned n = allow_list(allow, ARRAY_SIZE(allow));
		char err[256];

		if (sandbox_enter(allow, n, child_cond, child_ncond, err, sizeof(err)) < 0) {
			fprintf(stderr, "sandbox_enter: %s\n", err);
			_exit(3);
		}
		if (write(up[1], "r", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(4);
		forbidden();
		_exit(0);
	}
	/* Only the child's ends stay open there: a child that dies early is an
	 * end of file here, not a hang. */
	close(up[1]);
	close(down[0]);
	if (read(up[0], &c, 1) != 1) {
		assert_int_equal(waitpid(pid, &st, 0), pid);
		fail_msg("the child died before it was ready (status %#x)", st);
	}
	if (check_status) {
		status_field(pid, "CapEff", v, sizeof(v));
		assert_string_equal(v, "0000000000000000");
		status_field(pid, "CapPrm", v, sizeof(v));
		assert_string_equal(v, "0000000000000000");
		status_field(pid, "CapInh", v, sizeof(v));
		assert_string_equal(v, "0000000000000000");
		status_field(pid, "CapAmb", v, sizeof(v));
		assert_string_equal(v, "0000000000000000");
		status_field(pid, "NoNewPrivs", v, sizeof(v));
		assert_string_equal(v, "1");
		status_field(pid, "Seccomp", v, sizeof(v));
		assert_string_equal(v, "2");
		status_field(pid, "Seccomp_filters", v, sizeof(v));
		status_field(getpid(), "Seccomp_filters", mine, sizeof(mine));
		assert_int_equal(atoi(v), atoi(mine) + 1);
	}
	assert_int_equal(write(down[1], "g", 1), 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(up[0]);
	close(down[1]);
	return st;
}

static void nothing(void)
{
}

static void make_socket(void)
{
	(void)socket(AF_INET, SOCK_DGRAM, 0);
}

/* getuid: on no list, the sanitizers' included. */
static void call_getuid(void)
{
	(void)syscall(SYS_getuid);
}

/* Exits 5 when an AF_UNIX datagram socket could not be had (the rule
 * allowed the call but something refused it). */
static void unix_dgram(void)
{
	if (socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) < 0)
		_exit(5);
}

static void unix_stream(void)
{
	(void)socket(AF_UNIX, SOCK_STREAM, 0);
}

static void test_allowed(void **state)
{
	int st;

	(void)state;
	/* Reading and writing its pipes and exiting are allowed. */
	st = run_child(nothing, true);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_forbidden_kills(void **state)
{
	int st;

	(void)state;
	st = run_child(make_socket, false);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = run_child(call_getuid, false);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

/* socket() allowed for AF_UNIX datagrams only (quarantined -r --syslog):
 * such a socket is made, a stream one or an AF_INET one kills. */
static void test_conditions(void **state)
{
	const struct sandbox_cond cond[] = {
		{"socket", 0, 0xffffffffu, AF_UNIX},
		{"socket", 1, 0xfu, SOCK_DGRAM},
	};
	int st;

	(void)state;
	child_cond = cond;
	child_ncond = ARRAY_SIZE(cond);
	st = run_child(unix_dgram, true);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = run_child(unix_stream, false);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = run_child(make_socket, false);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	child_cond = NULL;
	child_ncond = 0;
}

static void test_unknown_name(void **state)
{
	const char *const bad[] = {"read", "no_such_call"};
	int p[2], st;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];
		int r = sandbox_enter(bad, 2, NULL, 0, err, sizeof(err));

		/* Refused before anything is loaded: the child is free to
		 * report it. */
		if (r == -EINVAL && strstr(err, "no_such_call"))
			_exit(0);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_forbidden_kills),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_unknown_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
