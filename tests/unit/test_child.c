/* Unit tests of the parent's supervision of a child: the backoff (1 s,
 * doubling up to 60 s for children that die within 10 s of their start,
 * back to 1 s after one that ran longer), the seconds an alert gives,
 * the wording of the alert for a child that ended; in the child, the
 * descriptors kept and the timer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

#define S USEC_PER_SEC

static void test_backoff_doubles(void **state)
{
	usec_t backoff = CHILD_BACKOFF_MIN_US, started = 100 * S, mono = started + S;
	const usec_t want[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};

	(void)state;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		usec_t at = child_restart_at(&backoff, started, mono);

		assert_int_equal(at - mono, want[i] * S);
		/* The next one starts then and dies at once. */
		started = at;
		mono = at + S / 10;
	}
}

static void test_backoff_resets_when_stable(void **state)
{
	usec_t backoff = CHILD_BACKOFF_MIN_US, started = 0;

	(void)state;
	assert_int_equal(child_restart_at(&backoff, started, 2 * S), 3 * S);
	assert_int_equal(child_restart_at(&backoff, started, 3 * S), 5 * S);
	assert_int_equal(backoff, 4 * S);
	/* Just short of stable: still doubling. */
	started = 10 * S;
	assert_int_equal(child_restart_at(&backoff, started, started + CHILD_STABLE_US - 1),
			 started + CHILD_STABLE_US - 1 + 4 * S);
	/* Ran CHILD_STABLE_US: the least again, then doubling from there. */
	started = 100 * S;
	assert_int_equal(child_restart_at(&backoff, started, started + CHILD_STABLE_US),
			 started + CHILD_STABLE_US + S);
	assert_int_equal(backoff, 2 * S);
}

static void test_delay(void **state)
{
	(void)state;
	assert_int_equal(child_delay_s(10 * S, 10 * S), 0);
	assert_int_equal(child_delay_s(9 * S, 10 * S), 0);
	assert_int_equal(child_delay_s(11 * S, 10 * S), 1);
	assert_int_equal(child_delay_s(10 * S + S / 2, 10 * S), 1);
	assert_int_equal(child_delay_s(10 * S + S / 2 - 1, 10 * S), 0);
	assert_int_equal(child_delay_s(70 * S, 10 * S), 60);
}

static void test_ended_text(void **state)
{
	char buf[600], want[600];

	(void)state;
	/* Wait statuses as waitpid() gives them. */
	snprintf(want, sizeof(want),
		 "sensor (pid 42) died of signal %d (%s): a system call its filter forbids; "
		 "blocks stay in force, a new one starts in 2 s",
		 SIGSYS, strsignal(SIGSYS));
	child_ended_text(buf, sizeof(buf), "sensor", 42, SIGSYS, "blocks stay in force, ", 2);
	assert_string_equal(buf, want);
	snprintf(want, sizeof(want),
		 "feeds reader (pid 7) died of signal %d (%s); a new one starts in 1 s", SIGSEGV,
		 strsignal(SIGSEGV));
	child_ended_text(buf, sizeof(buf), "feeds reader", 7, SIGSEGV, "", 1);
	assert_string_equal(buf, want);
	child_ended_text(buf, sizeof(buf), "feeds reader", 7, SIGKILL, "", 4);
	assert_string_equal(buf, "feeds reader (pid 7) ended (signal 9); a new one starts in 4 s");
	child_ended_text(buf, sizeof(buf), "sensor", 9, 3 << 8, "blocks stay in force, ", 0);
	assert_string_equal(
		buf,
		"sensor (pid 9) ended (status 3); blocks stay in force, a new one starts in 0 s");
}

/* In a child of the test (the descriptors are the process's): those
 * kept stay open, the others from 3 up are closed. */
static void test_close_others(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fds[6], keep[2];
		bool ok = true;

		for (unsigned i = 0; i < 6; i++)
			fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		keep[0] = fds[4];
		keep[1] = fds[1];
		child_close_others(keep, 2);
		for (unsigned i = 0; i < 6; i++) {
			bool is_open = fcntl(fds[i], F_GETFD) >= 0;

			ok &= is_open == (i == 1 || i == 4);
		}
		ok &= fcntl(2, F_GETFD) >= 0;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_timer(void **state)
{
	struct pollfd pfd;
	uint64_t n = 0;
	int fd = child_timer(20);

	(void)state;
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* Not yet: non-blocking. */
	assert_true(read(fd, &n, sizeof(n)) < 0);
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(read(fd, &n, sizeof(n)), sizeof(n));
	assert_true(n >= 1);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles),
		cmocka_unit_test(test_backoff_resets_when_stable),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_ended_text),
		cmocka_unit_test(test_close_others),
		cmocka_unit_test(test_timer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
