/* The parent's side of a supervised child; see child.h. */
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

/* The most system calls a child's sandbox names, its own and the
 * sanitizers' together. */
#define SYSCALLS_MAX 128

usec_t child_restart_at(usec_t *backoff_us, usec_t started_mono, usec_t mono)
{
	usec_t at;

	if (mono >= started_mono + CHILD_STABLE_US)
		*backoff_us = CHILD_BACKOFF_MIN_US;
	at = mono + *backoff_us;
	*backoff_us = MIN(*backoff_us * 2, CHILD_BACKOFF_MAX_US);
	return at;
}

unsigned long long child_delay_s(usec_t at, usec_t mono)
{
	return at > mono ? (at - mono + USEC_PER_SEC / 2) / USEC_PER_SEC : 0;
}

int child_spawn(struct ipc *c, const struct ipc_type *types, unsigned ntypes, int bufsize,
		int (*run)(void *arg, int fd, pid_t parent), void *arg, const char *name,
		pid_t *ret_pid, char *err, size_t errlen)
{
	int fds[2], r;
	pid_t pid, self = getpid();

	r = ipc_pair(fds);
	if (r < 0) {
		snprintf(err, errlen, "%s channel: %s", name, strerror(-r));
		return r;
	}
	/* Past the unprivileged limit (net.core.wmem_max): CAP_NET_ADMIN. */
	for (int i = 0; bufsize > 0 && i < 2; i++) {
		if (setsockopt(fds[i], SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof(bufsize)) < 0)
			(void)setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
		if (setsockopt(fds[i], SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof(bufsize)) < 0)
			(void)setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		snprintf(err, errlen, "fork: %s", strerror(-r));
		return r;
	}
	if (pid == 0) {
		close(fds[0]);
		_exit(run(arg, fds[1], self));
	}
	close(fds[1]);
	ipc_init(c, fds[0], types, ntypes);
	*ret_pid = pid;
	return 0;
}

int child_kill(pid_t *pid, struct ipc *c)
{
	int status = 0;

	if (!*pid)
		return 0;
	kill(*pid, SIGKILL);
	while (waitpid(*pid, &status, 0) < 0 && errno == EINTR)
		;
	ipc_close(c);
	*pid = 0;
	return status;
}

void child_ended_text(char *buf, size_t size, const char *name, pid_t pid, int status,
		      const char *meanwhile, unsigned long long delay_s)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		snprintf(buf, size,
			 "%s (pid %d) died of signal %d (%s)%s; %sa new one starts in %llu s", name,
			 (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)),
			 WTERMSIG(status) == SIGSYS ? ": a system call its filter forbids" : "",
			 meanwhile, delay_s);
	else
		snprintf(buf, size, "%s (pid %d) ended (%s %d); %sa new one starts in %llu s", name,
			 (int)pid, WIFSIGNALED(status) ? "signal" : "status",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), meanwhile,
			 delay_s);
}

enum child_read child_read(struct ipc *c, unsigned max,
			   int (*handle)(void *arg, const struct ipc_msg *m, usec_t wall),
			   void *arg, usec_t wall)
{
	struct ipc_msg m;

	for (unsigned i = 0; c->fd >= 0 && i < max; i++) {
		int r = ipc_recv(c, &m);

		if (r == -EAGAIN)
			break;
		if (r == -EPROTO)
			return CHILD_READ_MALFORMED;
		if (r != 1)
			return CHILD_READ_GONE;
		if (m.fd >= 0)
			close(m.fd); /* never declared: ipc refuses it first */
		if (handle(arg, &m, wall) < 0)
			return CHILD_READ_GONE;
	}
	return CHILD_READ_OK;
}

/* ---- in the child ---- */

void child_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

void child_close_others(int *keep, unsigned n)
{
	int from = 3;

	qsort(keep, n, sizeof(keep[0]), cmp_int);
	for (unsigned i = 0; i < n; i++) {
		if (keep[i] > from)
			syscall(SYS_close_range, (unsigned)from, (unsigned)keep[i] - 1, 0u);
		if (keep[i] + 1 > from)
			from = keep[i] + 1;
	}
	syscall(SYS_close_range, (unsigned)from, ~0u, 0u);
}

bool child_tie(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* It may have died before the prctl(). */
	return getppid() == parent;
}

int child_timer(unsigned ms)
{
	struct itimerspec its = {
		.it_interval = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L},
		.it_value = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L},
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int child_sandbox(const char *const *allow, unsigned n, const struct sandbox_cond *cond,
		  unsigned ncond, char *err, size_t errlen)
{
	const char *list[SYSCALLS_MAX];
	const char *const *extra;
	unsigned nlist = 0, nextra;

	if (n > SYSCALLS_MAX) {
		snprintf(err, errlen, "%u system calls, more than %d", n, SYSCALLS_MAX);
		return -E2BIG;
	}
	for (unsigned i = 0; i < n; i++)
		list[nlist++] = allow[i];
	extra = sandbox_sanitizer_extra(&nextra);
	for (unsigned i = 0; i < nextra && nlist < SYSCALLS_MAX; i++)
		list[nlist++] = extra[i];
	return sandbox_enter(list, nlist, cond, ncond, err, errlen);
}
