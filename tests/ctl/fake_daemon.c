/* A stand-in for quarantined's control socket, for testing quarantinectl:
 * the real control server (control.c) with a handler that echoes each
 * request as key=value lines.
 *
 *     fake_daemon PATH            echo server
 *     fake_daemon PATH --hangup   reads each request, closes without answer
 *
 * Prints "ready" on stdout once clients may connect; stops on SIGTERM.
 * The reason text steers the answer: "status=N" answers status N, "quiet"
 * answers an empty body with a message, anything else echoes. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static usec_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

static int echo(void *arg, const struct ctl_request *req, const struct ctl_peer *peer,
		struct ctl_out *out, char *msg, size_t msglen)
{
	const char *reason = ctl_request_get(req, "reason");
	const char *host = ctl_request_get(req, "host");

	if (reason && strcmp(reason, "quiet") == 0) {
		snprintf(msg, msglen, "%s done%s%s", req->cmd, host ? " " : "", host ? host : "");
		return 0;
	}
	ctl_out_printf(out, "cmd=%s\n", req->cmd);
	for (unsigned i = 0; i < req->nargs; i++)
		ctl_out_printf(out, "%s=%s\n", req->args[i].key, req->args[i].value);
	if (req->bodylen) {
		ctl_out_printf(out, "body:\n");
		ctl_out_write(out, req->body, req->bodylen);
	}
	if (reason && strncmp(reason, "status=", 7) == 0) {
		snprintf(msg, msglen, "fake refusal %s", reason + 7);
		return atoi(reason + 7);
	}
	snprintf(msg, msglen, "ok");
	return 0;
}

/* Accepts, reads to EOF, closes: a daemon that dies mid-request. */
static int hangup_loop(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sun.sun_path))
		return 1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 16) < 0) {
		perror("fake_daemon");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!quit) {
		char buf[4096];
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0)
			continue;
		while (read(cfd, buf, sizeof(buf)) > 0)
			;
		close(cfd);
	}
	close(fd);
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct control *c;
	struct group *g;
	char err[256];

	if (argc < 2) {
		fprintf(stderr, "usage: fake_daemon PATH [--hangup]\n");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	log_init("fake_daemon", 0, LOG_TO_STDERR, false);
	if (argc > 2 && strcmp(argv[2], "--hangup") == 0)
		return hangup_loop(argv[1]);

	/* Our own primary group, so that the tests also pass when not run
	 * as root: the client is then privileged by its gid. */
	g = getgrgid(getgid());
	if (control_open(argv[1], g ? g->gr_name : NULL, echo, NULL, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "fake_daemon: %s\n", err);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!quit) {
		struct pollfd fds[CONTROL_MAX_POLLFDS];
		unsigned n = control_pollfds(c, fds, CONTROL_MAX_POLLFDS);
		int t = control_timeout_ms(c, mono_us());

		if (poll(fds, n, t < 0 || t > 200 ? 200 : t) < 0 && errno != EINTR)
			break;
		control_dispatch(c, fds, n, mono_us());
	}
	control_close(c);
	return 0;
}
