/* Unit tests for the control socket server.  The server runs in this
 * process, driven by a poll loop here; clients are non-blocking sockets of
 * this process, or child processes where another uid is needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#define NOBODY 65534

static char dir[64];
static char sockpath[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* What the handler saw last. */
static struct {
	unsigned calls;
	struct ctl_peer peer;
	unsigned chunks;       /* a stream's next() calls */
	unsigned stream_freed; /* and its free() calls */
} seen;

/* A stream of lines "line K\n", K from 0 to its end: the cursor is the
 * next K. */
struct lines {
	unsigned next, end;
};

static bool lines_next(void *state, struct ctl_out *out, size_t chunk)
{
	struct lines *l = state;
	size_t start = out->len;

	seen.chunks++;
	while (l->next < l->end && out->len - start < chunk)
		ctl_out_printf(out, "line %u\n", l->next++);
	return l->next < l->end;
}

static void lines_free(void *state)
{
	seen.stream_freed++;
	free(state);
}

static usec_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

/* Echoes the request: cmd and arguments as key=value lines, then the body
 * (or its length when large).  "st" chooses the status, "big" asks for a
 * reply of that many bytes. */
static int echo_handler(void *arg, const struct ctl_request *req, const struct ctl_peer *peer,
			struct ctl_out *out, char *msg, size_t msglen)
{
	const char *st = ctl_request_get(req, "st");
	const char *big = ctl_request_get(req, "big");

	seen.calls++;
	seen.peer = *peer;
	/* "stream": that many lines, streamed. */
	if (ctl_request_get(req, "stream")) {
		struct lines *l = calloc(1, sizeof(*l));

		assert_non_null(l);
		l->end = (unsigned)strtoul(ctl_request_get(req, "stream"), NULL, 10);
		ctl_out_printf(out, "head\n");
		out->stream = (struct ctl_stream){lines_next, lines_free, l};
		snprintf(msg, msglen, "stream");
		return st ? atoi(st) : 0;
	}
	/* "steps": a long command, one line a call, in that many calls. */
	if (ctl_request_get(req, "steps")) {
		unsigned long long want = strtoull(ctl_request_get(req, "steps"), NULL, 10);

		out->resume[0]++;
		ctl_out_printf(out, "step %llu\n", (unsigned long long)out->resume[0]);
		if (out->resume[0] < want) {
			out->more = true;
			return 0;
		}
		snprintf(msg, msglen, "done in %llu", (unsigned long long)out->resume[0]);
		return 0;
	}
	if (big) {
		static char chunk[65536];
		size_t want = strtoull(big, NULL, 10);

		memset(chunk, 'x', sizeof(chunk));
		while (want && !out->truncated) {
			size_t n = want < sizeof(chunk) ? want : sizeof(chunk);

			ctl_out_write(out, chunk, n);
			want -= n;
		}
		snprintf(msg, msglen, "big");
		return 0;
	}
	ctl_out_printf(out, "cmd=%s\n", req->cmd);
	for (unsigned i = 0; i < req->nargs; i++)
		ctl_out_printf(out, "%s=%s\n", req->args[i].key, req->args[i].value);
	if (req->bodylen > 4096)
		ctl_out_printf(out, "bodylen=%zu\n", req->bodylen);
	else
		ctl_out_write(out, req->body, req->bodylen);
	snprintf(msg, msglen, "echo %s", req->cmd);
	/* "follow": a follower of the events, in JSON for follow=json. */
	if (ctl_request_get(req, "follow")) {
		out->follow = true;
		out->follow_json = strcmp(ctl_request_get(req, "follow"), "json") == 0;
	}
	return st ? atoi(st) : 0;
}

/* ---- a client driven by the same loop ---- */

struct tclient {
	int fd;
	const char *req; /* borrowed */
	size_t reqlen, sent;
	bool shut; /* SHUT_WR done (or writing gave up) */
	bool hold; /* do not send yet */
	bool done; /* EOF or error on reading */
	int rerr;  /* errno that ended reading, 0 for EOF */
	char *resp;
	size_t resplen, respcap;
};

static int connect_to(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void tc_start(struct tclient *t, const char *req, size_t reqlen)
{
	memset(t, 0, sizeof(*t));
	t->fd = connect_to(sockpath);
	assert_true(t->fd >= 0);
	t->req = req;
	t->reqlen = reqlen;
}

static void tc_free(struct tclient *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	free(t->resp);
	t->resp = NULL;
}

static void tc_step(struct tclient *t)
{
	if (t->done || t->fd < 0)
		return;
	while (!t->hold && !t->shut && t->sent < t->reqlen) {
		ssize_t n = send(t->fd, t->req + t->sent, t->reqlen - t->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN)
				break;
			/* The server answered early and closed. */
			t->shut = true;
			break;
		}
		t->sent += (size_t)n;
	}
	if (!t->hold && !t->shut && t->sent == t->reqlen) {
		shutdown(t->fd, SHUT_WR);
		t->shut = true;
	}
	for (;;) {
		ssize_t n;

		if (t->respcap - t->resplen < 65536) {
			t->respcap = t->respcap ? t->respcap * 2 : 65536;
			t->resp = realloc(t->resp, t->respcap + 1);
			assert_non_null(t->resp);
		}
		n = recv(t->fd, t->resp + t->resplen, t->respcap - t->resplen, MSG_DONTWAIT);
		if (n > 0) {
			t->resplen += (size_t)n;
			t->resp[t->resplen] = '\0';
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			break;
		t->done = true;
		t->rerr = n < 0 ? errno : 0;
		break;
	}
}

/* One round of the server's loop, waiting at most wait_ms. */
static void pump_once(struct control *c, int wait_ms)
{
	struct pollfd fds[CONTROL_MAX_POLLFDS];
	unsigned n = control_pollfds(c, fds, CONTROL_MAX_POLLFDS);
	int t = control_timeout_ms(c, mono_us());

	if (t < 0 || t > wait_ms)
		t = wait_ms;
	if (poll(fds, n, t) < 0)
		assert_int_equal(errno, EINTR);
	control_dispatch(c, fds, n, mono_us());
}

/* Runs the server and the clients until every client is done, or timeout. */
static void run(struct control *c, struct tclient *t, unsigned nt, int timeout_ms)
{
	usec_t end = mono_us() + (usec_t)timeout_ms * 1000;

	for (;;) {
		bool all = true;

		for (unsigned i = 0; i < nt; i++) {
			tc_step(&t[i]);
			all = all && (t[i].done || t[i].fd < 0);
		}
		if (all)
			return;
		if (mono_us() > end)
			fail_msg("clients not done within %d ms", timeout_ms);
		pump_once(c, 2);
	}
}

/* Root is privileged anyway; anyone else needs the socket's group, and
 * gets it here through its primary group. */
static const char *own_group(void)
{
	struct group *g;

	if (getuid() == 0)
		return NULL;
	g = getgrgid(getgid());
	assert_non_null(g);
	return g->gr_name;
}

static struct control *open_ok(const char *group)
{
	struct control *c = NULL;
	char err[256] = "";

	if (control_open(sockpath, group, echo_handler, NULL, &c, err, sizeof(err)) < 0)
		fail_msg("control_open: %s", err);
	return c;
}

/* One request, one answer. */
static void roundtrip(struct control *c, const char *req, size_t len, char **ret_resp)
{
	struct tclient t;

	tc_start(&t, req, len);
	run(c, &t, 1, 5000);
	*ret_resp = t.resp;
	t.resp = NULL;
	tc_free(&t);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/qd-control-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sockpath, sizeof(sockpath), "%s/control.sock", dir);
	memset(&seen, 0, sizeof(seen));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests ---- */

static void test_echo(void **state)
{
	struct control *c = open_ok(own_group());
	static const char req[] = "cmd=quarantine\thost=10.1.0.5\treason=a%09b\n10.0.0.1\n";
	char *resp;

	assert_int_equal(control_timeout_ms(c, mono_us()), -1);
	roundtrip(c, req, sizeof(req) - 1, &resp);
	assert_string_equal(resp, "status=0\tmsg=echo quarantine\n"
				  "cmd=quarantine\nhost=10.1.0.5\nreason=a\tb\n10.0.0.1\n");
	free(resp);
	assert_int_equal(control_clients(c), 0);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(control_timeout_ms(c, mono_us()), -1);

	/* The handler's status goes on the line. */
	roundtrip(c, "cmd=x\tst=1\n", 11, &resp);
	assert_true(strncmp(resp, "status=1\tmsg=echo x\n", 20) == 0);
	free(resp);
	control_close(c);
	/* control_close removes the socket. */
	assert_int_equal(access(sockpath, F_OK), -1);
}

static void test_peer_root(void **state)
{
	struct control *c = open_ok(own_group());
	char *resp;

	roundtrip(c, "cmd=status\n", 11, &resp);
	free(resp);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.peer.uid, getuid());
	assert_int_equal(seen.peer.gid, getgid());
	assert_int_equal(seen.peer.pid, getpid());
	assert_true(seen.peer.privileged);
	control_close(c);
}

static void test_concurrent(void **state)
{
	enum { N = 12 };
	struct control *c = open_ok(own_group());
	static char reqs[N][64];
	struct tclient t[N];

	for (unsigned i = 0; i < N; i++) {
		int n = snprintf(reqs[i], sizeof(reqs[i]), "cmd=show\thost=10.0.0.%u\n", i);

		tc_start(&t[i], reqs[i], (size_t)n);
		t[i].hold = true;
	}
	/* All connected and accepted, none has sent anything. */
	for (int k = 0; k < 20; k++)
		pump_once(c, 2);
	assert_int_equal(control_clients(c), N);
	assert_true(control_timeout_ms(c, mono_us()) > 0);
	/* Release them in reverse order, one round apart. */
	for (int i = N - 1; i >= 0; i--) {
		t[i].hold = false;
		tc_step(&t[i]);
		pump_once(c, 2);
	}
	run(c, t, N, 5000);
	for (unsigned i = 0; i < N; i++) {
		char want[128];

		snprintf(want, sizeof(want), "status=0\tmsg=echo show\ncmd=show\nhost=10.0.0.%u\n",
			 i);
		assert_string_equal(t[i].resp, want);
		tc_free(&t[i]);
	}
	assert_int_equal(control_clients(c), 0);
	control_close(c);
}

/* A long command (out->more) goes on one step a turn of the loop, while
 * other clients are answered, then answers with what every step wrote. */
static void test_long_command_in_steps(void **state)
{
	static const char long_req[] = "cmd=long\tsteps=40\n";
	static const char show_req[] = "cmd=show\thost=10.0.0.1\n";
	struct control *c = open_ok(own_group());
	struct tclient t[2];
	char want[512];
	size_t n = 0;

	tc_start(&t[0], long_req, sizeof(long_req) - 1);
	for (int k = 0; k < 5; k++) {
		tc_step(&t[0]);
		pump_once(c, 2);
	}
	/* At work for it: the loop must not sleep. */
	assert_false(t[0].done);
	assert_int_equal(control_timeout_ms(c, mono_us()), 0);
	tc_start(&t[1], show_req, sizeof(show_req) - 1);
	for (int k = 0; k < 5 && !t[1].done; k++) {
		tc_step(&t[1]);
		pump_once(c, 2);
		tc_step(&t[1]);
	}
	assert_true(t[1].done);
	assert_string_equal(t[1].resp, "status=0\tmsg=echo show\ncmd=show\nhost=10.0.0.1\n");
	assert_false(t[0].done);
	run(c, t, 1, 5000);
	n += (size_t)snprintf(want + n, sizeof(want) - n, "status=0\tmsg=done in 40\n");
	for (unsigned i = 1; i <= 40; i++)
		n += (size_t)snprintf(want + n, sizeof(want) - n, "step %u\n", i);
	assert_string_equal(t[0].resp, want);
	assert_int_equal(control_clients(c), 0);
	assert_int_equal(control_timeout_ms(c, mono_us()), -1);
	tc_free(&t[0]);
	tc_free(&t[1]);
	control_close(c);
}

static void test_deadline(void **state)
{
	struct control *c = open_ok(own_group());
	struct tclient idle, busy;
	usec_t t0;
	int ms;

	control_set_deadline_ms(c, 1000);
	tc_start(&idle, "", 0);
	idle.hold = true;
	t0 = mono_us();
	pump_once(c, 50);
	assert_int_equal(control_clients(c), 1);
	ms = control_timeout_ms(c, mono_us());
	assert_true(ms > 0 && ms <= 1000);

	/* The silent client does not hold up another one. */
	tc_start(&busy, "cmd=status\n", 11);
	run(c, &busy, 1, 800);
	assert_string_equal(busy.resp, "status=0\tmsg=echo status\ncmd=status\n");
	tc_free(&busy);
	assert_int_equal(control_clients(c), 1);

	/* Then the deadline closes it, without an answer. */
	run(c, &idle, 1, 2000);
	assert_true(mono_us() - t0 >= 1000 * 1000);
	assert_int_equal(idle.resplen, 0);
	assert_int_equal(control_clients(c), 0);
	assert_int_equal(control_timeout_ms(c, mono_us()), -1);
	assert_int_equal(seen.calls, 1);
	tc_free(&idle);
	control_close(c);
}

static void test_deadline_while_writing(void **state)
{
	struct control *c = open_ok(own_group());
	struct tclient t;
	static const char req[] = "cmd=x\tbig=8000000\n";

	/* A client that asks for a large answer and never reads it. */
	control_set_deadline_ms(c, 300);
	tc_start(&t, req, sizeof(req) - 1);
	assert_int_equal(send(t.fd, req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
	shutdown(t.fd, SHUT_WR);
	for (usec_t end = mono_us() + 2000 * 1000; control_clients(c) || !seen.calls;) {
		assert_true(mono_us() < end);
		pump_once(c, 10);
	}
	assert_int_equal(seen.calls, 1);
	tc_free(&t);
	control_close(c);
}

static void expect_status(const char *resp, const char *line);

/* A streamed answer: the head, then every line in order, in many
 * chunks, and the stream freed once. */
static void test_stream(void **state)
{
	struct control *c = open_ok(own_group());
	static const char req[] = "cmd=x\tstream=20000\n";
	char want[32];
	char *resp, *p;

	control_set_stream_chunk(c, 100);
	roundtrip(c, req, sizeof(req) - 1, &resp);
	expect_status(resp, "status=0\tmsg=stream\n");
	p = strchr(resp, '\n') + 1;
	assert_memory_equal(p, "head\n", 5);
	p += 5;
	for (unsigned k = 0; k < 20000; k++) {
		int n = snprintf(want, sizeof(want), "line %u\n", k);

		if (strncmp(p, want, (size_t)n) != 0)
			fail_msg("line %u: '%.20s'", k, p);
		p += n;
	}
	assert_string_equal(p, "");
	/* About 100 bytes a chunk: 1,000 or more, never the whole at once. */
	assert_true(seen.chunks >= 1000);
	assert_int_equal(seen.stream_freed, 1);
	assert_int_equal(control_clients(c), 0);
	free(resp);
	control_close(c);
}

/* A refusal never streams: its cursor is freed at once. */
static void test_stream_refused(void **state)
{
	struct control *c = open_ok(own_group());
	static const char req[] = "cmd=x\tstream=10\tst=1\n";
	char *resp;

	roundtrip(c, req, sizeof(req) - 1, &resp);
	expect_status(resp, "status=1\tmsg=stream\n");
	assert_string_equal(strchr(resp, '\n') + 1, "head\n");
	assert_int_equal(seen.chunks, 0);
	assert_int_equal(seen.stream_freed, 1);
	free(resp);
	control_close(c);
}

/* A streaming client that keeps reading outlives its deadline, which
 * moves with its reading; one that stops is dropped after it, and its
 * cursor freed. */
static void test_stream_deadline(void **state)
{
	struct control *c = open_ok(own_group());
	static const char req[] = "cmd=x\tstream=400000\n"; /* 4.7 MB */
	struct tclient t;
	usec_t start, end;
	char *buf = malloc(65536);
	char tail[14] = "";
	size_t got = 0;

	assert_non_null(buf);
	control_set_deadline_ms(c, 300);
	control_set_stream_chunk(c, 4096);
	/* Reading 64 KiB every 10 ms: well past 300 ms in all. */
	tc_start(&t, req, sizeof(req) - 1);
	assert_int_equal(send(t.fd, req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
	shutdown(t.fd, SHUT_WR);
	start = mono_us();
	for (end = start + 20000 * 1000;;) {
		ssize_t n = recv(t.fd, buf, 65536, MSG_DONTWAIT);

		assert_true(mono_us() < end);
		if (n == 0)
			break;
		assert_true(n > 0 || errno == EAGAIN);
		/* The last bytes received, across reads. */
		for (ssize_t i = 0; i < n; i++) {
			memmove(tail, tail + 1, sizeof(tail) - 2);
			tail[sizeof(tail) - 2] = buf[i];
		}
		got += n > 0 ? (size_t)n : 0;
		pump_once(c, 0);
		usleep(10000);
	}
	assert_true(mono_us() - start > 300 * 1000);
	/* All of it, to the last line: the status line, the head, and
	 * 400,000 lines of 6 bytes and their numbers' 2,288,890 digits. */
	assert_int_equal(got, 20 + 5 + 400000 * 6 + 2288890);
	assert_memory_equal(tail, "\nline 399999\n", 13);
	assert_int_equal(seen.stream_freed, 1);
	assert_int_equal(control_clients(c), 0);
	tc_free(&t);

	/* The same, never read: dropped within about the deadline. */
	tc_start(&t, req, sizeof(req) - 1);
	assert_int_equal(send(t.fd, req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
	shutdown(t.fd, SHUT_WR);
	for (end = mono_us() + 3000 * 1000; control_clients(c) || seen.calls < 2;) {
		assert_true(mono_us() < end);
		pump_once(c, 10);
	}
	assert_int_equal(seen.stream_freed, 2);
	tc_free(&t);
	free(buf);
	control_close(c);
}

static void expect_status(const char *resp, const char *line)
{
	if (strncmp(resp, line, strlen(line)) != 0)
		fail_msg("answer '%.80s' does not start with '%s'", resp, line);
}

static void test_oversized_header(void **state)
{
	struct control *c = open_ok(own_group());
	size_t len = CTL_MAX_HEADER + 4096;
	char *req = malloc(len);
	char *resp;

	memcpy(req, "cmd=x\tv=", 8);
	memset(req + 8, 'a', len - 8);
	roundtrip(c, req, len, &resp);
	assert_string_equal(resp, "status=2\tmsg=request too large\n");
	free(resp);
	assert_int_equal(seen.calls, 0);

	/* The limit is exact: a line of CTL_MAX_HEADER bytes with its LF
	 * gets through to the parser (which finds the value too long). */
	req[CTL_MAX_HEADER - 1] = '\n';
	roundtrip(c, req, CTL_MAX_HEADER, &resp);
	expect_status(resp, "status=2\tmsg=value of v too long");
	free(resp);
	free(req);
	assert_int_equal(control_clients(c), 0);
	control_close(c);
}

static void test_oversized_body(void **state)
{
	struct control *c = open_ok(own_group());
	size_t hl = strlen("cmd=quarantine\tfrom=1\n");
	size_t len = hl + CTL_MAX_BODY + 1;
	char *req = malloc(len);
	char *resp;

	memcpy(req, "cmd=quarantine\tfrom=1\n", hl);
	memset(req + hl, '1', CTL_MAX_BODY + 1);
	roundtrip(c, req, len, &resp);
	assert_string_equal(resp, "status=2\tmsg=request too large\n");
	free(resp);
	assert_int_equal(seen.calls, 0);

	/* Exactly CTL_MAX_BODY is fine. */
	roundtrip(c, req, len - 1, &resp);
	assert_string_equal(resp, "status=0\tmsg=echo quarantine\ncmd=quarantine\nfrom=1\n"
				  "bodylen=16777216\n");
	free(resp);
	free(req);
	control_close(c);
}

static void test_malformed(void **state)
{
	struct control *c = open_ok(own_group());
	char *resp;

	roundtrip(c, "cmd=x\tv=%G1\n", 12, &resp);
	assert_string_equal(resp, "status=2\tmsg=invalid encoding in value of v\n");
	free(resp);
	roundtrip(c, "host=1\n", 7, &resp);
	assert_string_equal(resp, "status=2\tmsg=missing cmd\n");
	free(resp);
	/* No LF before EOF. */
	roundtrip(c, "cmd=x", 5, &resp);
	assert_string_equal(resp, "status=2\tmsg=header not terminated\n");
	free(resp);
	/* Nothing at all. */
	roundtrip(c, "", 0, &resp);
	assert_string_equal(resp, "status=2\tmsg=empty request\n");
	free(resp);
	assert_int_equal(seen.calls, 0);
	control_close(c);
}

static void test_client_vanishes(void **state)
{
	struct control *c = open_ok(own_group());
	static const char big[] = "cmd=x\tbig=4000000\n";
	static const char small[] = "cmd=x\n";
	char *resp;

	/* SIGPIPE at its default: a send without MSG_NOSIGNAL would kill us. */
	signal(SIGPIPE, SIG_DFL);
	for (int k = 0; k < 2; k++) {
		const char *req = k ? small : big;
		size_t len = k ? sizeof(small) - 1 : sizeof(big) - 1;
		int fd = connect_to(sockpath);
		usec_t end = mono_us() + 2000 * 1000;
		unsigned calls = seen.calls;

		assert_true(fd >= 0);
		assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
		shutdown(fd, SHUT_WR);
		pump_once(c, 10); /* accepted */
		if (k == 0)
			pump_once(c, 10); /* read, answered in part */
		close(fd);
		while (control_clients(c) || seen.calls == calls) {
			assert_true(mono_us() < end);
			pump_once(c, 10);
		}
	}
	/* Still serving. */
	roundtrip(c, "cmd=status\n", 11, &resp);
	assert_string_equal(resp, "status=0\tmsg=echo status\ncmd=status\n");
	free(resp);
	control_close(c);
}

/* Connects a raw client, running the server while the backlog is full,
 * and lets the server accept it. */
static int connect_pumped(struct control *c)
{
	usec_t end = mono_us() + 2000 * 1000;
	int fd;

	while ((fd = connect_to(sockpath)) == -EAGAIN) {
		assert_true(mono_us() < end);
		pump_once(c, 2);
	}
	assert_true(fd >= 0);
	pump_once(c, 0);
	return fd;
}

/* What a raw client has received so far, without waiting: the bytes in
 * buf (NUL-terminated), and whether the server closed the connection. */
static size_t read_now(int fd, char *buf, size_t len, bool *ret_closed)
{
	size_t got = 0;

	*ret_closed = false;
	for (;;) {
		ssize_t n = recv(fd, buf + got, len - 1 - got, MSG_DONTWAIT);

		if (n > 0) {
			got += (size_t)n;
			if (got == len - 1)
				break;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			*ret_closed = true;
		break;
	}
	buf[got] = '\0';
	return got;
}

#define DROPPED_LINE                                                                       \
	"status=1\tmsg=dropped: the control socket was full and this client had not sent " \
	"its request\n"

/* Clients that answer nothing but keep their connection: the 17th takes
 * the slot of the longest silent one. */
static void test_full_table_drops_idlest(void **state)
{
	struct control *c = open_ok(own_group());
	int idle[CONTROL_MAX_CLIENTS];
	struct tclient late;
	char buf[256];
	bool closed;

	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		idle[i] = connect_pumped(c);
	assert_int_equal(control_clients(c), CONTROL_MAX_CLIENTS);
	/* idle[0] speaks (part of a request): idle[1] is now the longest
	 * silent. */
	assert_int_equal(send(idle[0], "cmd=st", 6, MSG_NOSIGNAL), 6);
	pump_once(c, 10);

	tc_start(&late, "cmd=status\n", 11);
	run(c, &late, 1, 2000);
	assert_string_equal(late.resp, "status=0\tmsg=echo status\ncmd=status\n");
	tc_free(&late);
	assert_int_equal(control_clients(c), CONTROL_MAX_CLIENTS - 1);
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		read_now(idle[i], buf, sizeof(buf), &closed);
		if (i == 1) {
			assert_string_equal(buf, DROPPED_LINE);
			assert_true(closed);
		} else {
			assert_string_equal(buf, "");
			assert_false(closed);
		}
	}
	/* idle[0] finishes its request and gets its answer. */
	assert_int_equal(send(idle[0], "atus\n", 5, MSG_NOSIGNAL), 5);
	shutdown(idle[0], SHUT_WR);
	for (int k = 0; k < 10; k++)
		pump_once(c, 2);
	read_now(idle[0], buf, sizeof(buf), &closed);
	assert_string_equal(buf, "status=0\tmsg=echo status\ncmd=status\n");
	assert_true(closed);
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		close(idle[i]);
	control_close(c);
}

/* Clients being answered are never dropped: with every slot answering a
 * client that does not read, a newcomer is refused, and told so. */
static void test_too_many_clients(void **state)
{
	struct control *c = open_ok(own_group());
	static const char req[] = "cmd=x\tbig=4000000\n";
	int busy[CONTROL_MAX_CLIENTS];
	struct tclient extra, late;
	usec_t end = mono_us() + 5000 * 1000;

	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		busy[i] = connect_to(sockpath);
		assert_true(busy[i] >= 0);
		assert_int_equal(send(busy[i], req, sizeof(req) - 1, MSG_NOSIGNAL),
				 (ssize_t)sizeof(req) - 1);
		shutdown(busy[i], SHUT_WR);
		pump_once(c, 2);
	}
	while (seen.calls < CONTROL_MAX_CLIENTS) {
		assert_true(mono_us() < end);
		pump_once(c, 2);
	}
	assert_int_equal(control_clients(c), CONTROL_MAX_CLIENTS);

	/* The 17th is told at once, and closed. */
	tc_start(&extra, "cmd=status\n", 11);
	extra.hold = true; /* it has not even sent its request */
	run(c, &extra, 1, 1000);
	assert_string_equal(extra.resp, "status=1\tmsg=too many clients\n");
	tc_free(&extra);
	assert_int_equal(control_clients(c), CONTROL_MAX_CLIENTS);
	assert_int_equal(seen.calls, CONTROL_MAX_CLIENTS);

	/* One leaves; the next one gets served. */
	close(busy[0]);
	for (int k = 0; k < 5; k++)
		pump_once(c, 2);
	assert_int_equal(control_clients(c), CONTROL_MAX_CLIENTS - 1);
	tc_start(&late, "cmd=status\n", 11);
	run(c, &late, 1, 1000);
	assert_string_equal(late.resp, "status=0\tmsg=echo status\ncmd=status\n");
	tc_free(&late);
	for (unsigned i = 1; i < CONTROL_MAX_CLIENTS; i++)
		close(busy[i]);
	control_close(c);
}

/* Everything a stuck script or a hostile peer can hold open at once does
 * not keep an operator out: 200 silent peers, garbage, a 1 MiB line, an
 * unterminated line, and a client being answered that never reads. */
static void test_hostile_peers_do_not_lock_out(void **state)
{
	enum { NIDLE = 200 };
	struct control *c = open_ok(own_group());
	static const char big[] = "cmd=x\tbig=8000000\n";
	static const char garbage[] = "\x16\x03\x01\x02\x00\x01\xfc GET / HTTP/1.1\r\n\0\xff";
	static char line[1u << 20];
	int idle[NIDLE], writer, junk, longl, unterm;
	size_t sent = 0, got;
	struct tclient op;
	char buf[512];
	bool closed;
	usec_t t0, end;

	/* Asked for a large answer and never reads it: being answered. */
	writer = connect_pumped(c);
	assert_int_equal(send(writer, big, sizeof(big) - 1, MSG_NOSIGNAL),
			 (ssize_t)sizeof(big) - 1);
	shutdown(writer, SHUT_WR);
	for (end = mono_us() + 2000 * 1000; seen.calls < 1;) {
		assert_true(mono_us() < end);
		pump_once(c, 2);
	}

	/* Garbage, then the end of its request: a usage error, closed. */
	junk = connect_pumped(c);
	assert_int_equal(send(junk, garbage, sizeof(garbage) - 1, MSG_NOSIGNAL),
			 (ssize_t)sizeof(garbage) - 1);
	shutdown(junk, SHUT_WR);
	for (int k = 0; k < 5; k++)
		pump_once(c, 2);
	read_now(junk, buf, sizeof(buf), &closed);
	assert_string_equal(buf, "status=2\tmsg=field without '='\n");
	assert_true(closed);

	/* A 1 MiB line without an end: "request too large", closed, long
	 * before the client is done sending. */
	memset(line, 'a', sizeof(line));
	longl = connect_pumped(c);
	for (end = mono_us() + 2000 * 1000; sent < sizeof(line);) {
		ssize_t n =
			send(longl, line + sent, sizeof(line) - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		assert_true(mono_us() < end);
		if (n < 0 && errno != EAGAIN) {
			assert_true(errno == EPIPE || errno == ECONNRESET);
			break;
		}
		if (n > 0)
			sent += (size_t)n;
		pump_once(c, 2);
	}
	assert_true(sent < sizeof(line));
	read_now(longl, buf, sizeof(buf), &closed);
	assert_string_equal(buf, "status=2\tmsg=request too large\n");
	assert_true(closed);

	/* A line that never ends, on a connection that stays open. */
	unterm = connect_pumped(c);
	assert_int_equal(send(unterm, "cmd=status", 10, MSG_NOSIGNAL), 10);
	pump_once(c, 2);

	for (unsigned i = 0; i < NIDLE; i++)
		idle[i] = connect_pumped(c);
	assert_int_equal(control_clients(c), CONTROL_MAX_CLIENTS);

	/* The operator: answered at once (the bound is generous; timing
	 * belongs to the benchmarks). */
	t0 = mono_us();
	tc_start(&op, "cmd=status\n", 11);
	run(c, &op, 1, 2000);
	assert_true(mono_us() - t0 < 2000 * 1000);
	assert_string_equal(op.resp, "status=0\tmsg=echo status\ncmd=status\n");
	tc_free(&op);
	assert_int_equal(seen.calls, 2);

	/* Dropped, oldest silence first: the unterminated line, then the idle
	 * peers in the order they came, each told why.  The newest stay
	 * (the writer and 14 idle peers fill 15 slots; the operator took the
	 * 16th and left). */
	read_now(unterm, buf, sizeof(buf), &closed);
	assert_string_equal(buf, DROPPED_LINE);
	assert_true(closed);
	for (unsigned i = 0; i < NIDLE; i++) {
		bool kept = i >= NIDLE - (CONTROL_MAX_CLIENTS - 2);

		read_now(idle[i], buf, sizeof(buf), &closed);
		if (kept) {
			assert_string_equal(buf, "");
			assert_false(closed);
		} else {
			assert_string_equal(buf, DROPPED_LINE);
			assert_true(closed);
		}
	}
	assert_int_equal(control_clients(c), CONTROL_MAX_CLIENTS - 1);

	/* The writer was never dropped: its whole answer arrives. */
	got = 0;
	for (end = mono_us() + 5000 * 1000;;) {
		size_t n = read_now(writer, buf, sizeof(buf), &closed);

		got += n;
		if (closed)
			break;
		assert_true(mono_us() < end);
		if (n == 0)
			pump_once(c, 2);
	}
	assert_int_equal(got, strlen("status=0\tmsg=big\n") + 8000000);

	close(writer);
	close(junk);
	close(longl);
	close(unterm);
	for (unsigned i = 0; i < NIDLE; i++)
		close(idle[i]);
	control_close(c);
}

static void test_truncated_reply(void **state)
{
	struct control *c = open_ok(own_group());
	static char req[64];
	char *resp;
	const char *body;
	size_t hl = strlen("status=0\tmsg=big\n");
	int n = snprintf(req, sizeof(req), "cmd=x\tbig=%u\n", CONTROL_MAX_REPLY + 10);
	struct tclient t;

	tc_start(&t, req, (size_t)n);
	run(c, &t, 1, 20000);
	resp = t.resp;
	expect_status(resp, "status=0\tmsg=big\n");
	body = resp + hl;
	assert_int_equal(t.resplen - hl, CONTROL_MAX_REPLY + strlen("\n... (truncated)\n"));
	assert_string_equal(body + CONTROL_MAX_REPLY, "\n... (truncated)\n");
	assert_int_equal(body[CONTROL_MAX_REPLY - 1], 'x');
	tc_free(&t);
	control_close(c);
}

static void test_ctl_out(void **state)
{
	struct ctl_out o = {0};
	static char chunk[1u << 20];

	ctl_out_printf(&o, "%s=%d\n", "a", 1);
	ctl_out_write(&o, "bc", 2);
	assert_int_equal(o.len, 6);
	assert_memory_equal(o.buf, "a=1\nbc", 6);
	/* Growth across many small and some large appends. */
	for (int i = 0; i < 10000; i++)
		ctl_out_printf(&o, "%05d\n", i);
	assert_int_equal(o.len, 6 + 60000);
	assert_memory_equal(o.buf + 6 + 6 * 9999, "09999\n", 6);
	memset(chunk, 'y', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = '\0';
	ctl_out_printf(&o, "%s", chunk);
	assert_int_equal(o.len, 6 + 60000 + sizeof(chunk) - 1);
	assert_false(o.truncated);
	/* Up to the cap, and no further. */
	while (!o.truncated)
		ctl_out_write(&o, chunk, sizeof(chunk));
	assert_int_equal(o.len, CONTROL_MAX_REPLY);
	ctl_out_printf(&o, "more");
	assert_int_equal(o.len, CONTROL_MAX_REPLY);
	free(o.buf);

	/* printf that crosses the cap keeps the part that fits. */
	memset(&o, 0, sizeof(o));
	while (o.len + sizeof(chunk) <= CONTROL_MAX_REPLY)
		ctl_out_write(&o, chunk, sizeof(chunk));
	assert_int_equal(o.len, CONTROL_MAX_REPLY);
	assert_false(o.truncated);
	ctl_out_printf(&o, "z");
	assert_true(o.truncated);
	free(o.buf);

	memset(&o, 0, sizeof(o));
	while (o.len + sizeof(chunk) < CONTROL_MAX_REPLY - 2)
		ctl_out_write(&o, chunk, sizeof(chunk));
	ctl_out_write(&o, chunk, CONTROL_MAX_REPLY - 2 - o.len);
	assert_int_equal(o.len, CONTROL_MAX_REPLY - 2);
	ctl_out_printf(&o, "%s", "abcd");
	assert_true(o.truncated);
	assert_int_equal(o.len, CONTROL_MAX_REPLY);
	assert_memory_equal(o.buf + CONTROL_MAX_REPLY - 2, "ab", 2);
	free(o.buf);
}

static void test_stale_socket(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct control *c;
	char *resp;

	/* A socket file nobody listens on: what a crashed daemon leaves. */
	memcpy(sun.sun_path, sockpath, sizeof(sockpath));
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(connect_to(sockpath), -ECONNREFUSED);

	c = open_ok(own_group());
	roundtrip(c, "cmd=status\n", 11, &resp);
	expect_status(resp, "status=0\t");
	free(resp);
	control_close(c);
}

static void test_live_refused(void **state)
{
	struct control *c = open_ok(own_group()), *c2 = NULL;
	char err[256] = "", want[256];
	char *resp;

	assert_int_equal(control_open(sockpath, NULL, echo_handler, NULL, &c2, err, sizeof(err)),
			 -EADDRINUSE);
	assert_null(c2);
	snprintf(want, sizeof(want), "another quarantined is running on %s", sockpath);
	assert_string_equal(err, want);
	/* The first one is untouched and still answers. */
	roundtrip(c, "cmd=status\n", 11, &resp);
	expect_status(resp, "status=0\t");
	free(resp);
	control_close(c);
}

static void test_refuses_non_socket(void **state)
{
	struct control *c = NULL;
	char err[256] = "";
	int fd = open(sockpath, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(control_open(sockpath, NULL, echo_handler, NULL, &c, err, sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(access(sockpath, F_OK), 0); /* not removed */
}

static void test_missing_directory(void **state)
{
	struct control *c = NULL;
	char err[256] = "", path[192];

	snprintf(path, sizeof(path), "%s/nodir/control.sock", dir);
	assert_int_equal(control_open(path, NULL, echo_handler, NULL, &c, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "does not exist"));
	assert_non_null(strstr(err, "/nodir"));
}

static void test_path_too_long(void **state)
{
	struct control *c = NULL;
	char err[256] = "", path[200];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(control_open(path, NULL, echo_handler, NULL, &c, err, sizeof(err)),
			 -ENAMETOOLONG);
	assert_non_null(strstr(err, "too long"));
}

static void test_close_keeps_successor(void **state)
{
	struct control *c = open_ok(own_group());
	int fd;

	/* Someone replaced the file: control_close must leave theirs. */
	assert_int_equal(unlink(sockpath), 0);
	fd = open(sockpath, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	control_close(c);
	assert_int_equal(access(sockpath, F_OK), 0);
	control_close(NULL);
}

static void test_mode_without_group(void **state)
{
	struct control *c;
	struct stat st;

	c = open_ok("qd-no-such-group-4711");
	assert_int_equal(stat(sockpath, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	control_close(c);

	c = open_ok(NULL);
	assert_int_equal(stat(sockpath, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	control_close(c);
}

static gid_t daemon_gid(void)
{
	struct group *g = getgrnam("daemon");

	if (!g)
		return (gid_t)-1;
	return g->gr_gid;
}

static void test_mode_with_group(void **state)
{
	gid_t gid = daemon_gid();
	struct control *c;
	struct stat st;

	if (gid == (gid_t)-1 || geteuid() != 0)
		skip();
	c = open_ok("daemon");
	assert_int_equal(stat(sockpath, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, gid);
	control_close(c);
}

/* A child that becomes uid NOBODY with the given groups, sends a request
 * and writes the answer to the pipe.  The parent runs the server meanwhile
 * and returns the answer. */
static char *as_other_user(struct control *c, gid_t gid, const gid_t *groups, size_t ngroups)
{
	static char answer[512];
	size_t len = 0;
	int p[2], status;
	pid_t pid;
	usec_t end = mono_us() + 5000 * 1000;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[512];
		ssize_t n;
		size_t got = 0;
		int fd;

		close(p[0]);
		if (setgroups(ngroups, groups) < 0 || setgid(gid) < 0 || setuid(NOBODY) < 0)
			_exit(10);
		fd = connect_to(sockpath);
		if (fd < 0)
			_exit(11);
		fcntl(fd, F_SETFL, 0);
		/* A server that refuses at once may have closed already: its
		 * answer is still there to read. */
		if (send(fd, "cmd=status\n", 11, MSG_NOSIGNAL) != 11 && errno != EPIPE &&
		    errno != ECONNRESET)
			_exit(12);
		shutdown(fd, SHUT_WR);
		while ((n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
			got += (size_t)n;
		if (write(p[1], buf, got) != (ssize_t)got)
			_exit(13);
		_exit(0);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		ssize_t n = read(p[0], answer + len, sizeof(answer) - 1 - len);

		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		assert_int_equal(errno, EAGAIN);
		assert_true(mono_us() < end);
		pump_once(c, 5);
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	answer[len] = '\0';
	return answer;
}

static void test_privilege(void **state)
{
	gid_t gid = daemon_gid();
	struct control *c;
	const gid_t with[] = {100, gid};

	if (gid == (gid_t)-1 || geteuid() != 0)
		skip();
	c = open_ok("daemon");
	/* Let anyone connect, so that the server's own check is what
	 * decides. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chmod(sockpath, 0666), 0);

	/* Not root, not in the group. */
	assert_string_equal(as_other_user(c, NOBODY, NULL, 0),
			    "status=1\tmsg=permission denied (uid 65534)\n");
	assert_int_equal(seen.calls, 0);

	/* A supplementary member (SO_PEERGROUPS). */
	expect_status(as_other_user(c, NOBODY, with, ARRAY_SIZE(with)), "status=0\t");
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.peer.uid, NOBODY);
	assert_int_equal(seen.peer.gid, NOBODY);
	assert_true(seen.peer.privileged);

	/* The group as primary group only. */
	expect_status(as_other_user(c, gid, NULL, 0), "status=0\t");
	assert_int_equal(seen.calls, 2);
	assert_true(seen.peer.privileged);
	control_close(c);

	/* Without the group (0600, chmod-ed open here), only root counts. */
	c = open_ok("qd-no-such-group-4711");
	assert_int_equal(chmod(sockpath, 0666), 0);
	assert_string_equal(as_other_user(c, gid, with, ARRAY_SIZE(with)),
			    "status=1\tmsg=permission denied (uid 65534)\n");
	assert_int_equal(seen.calls, 2);
	control_close(c);
}

/* A peer without privilege cannot push an operator's idle client out;
 * it may displace only another one without privilege. */
static void test_unprivileged_displaces_no_operator(void **state)
{
	gid_t gid = daemon_gid();
	struct control *c;
	int idle[CONTROL_MAX_CLIENTS];
	char buf[256];
	bool closed;

	if (gid == (gid_t)-1 || geteuid() != 0)
		skip();
	c = open_ok("daemon");
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chmod(sockpath, 0666), 0);
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		idle[i] = connect_pumped(c);
	assert_string_equal(as_other_user(c, NOBODY, NULL, 0), "status=1\tmsg=too many clients\n");
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		read_now(idle[i], buf, sizeof(buf), &closed);
		assert_false(closed);
	}
	assert_int_equal(control_clients(c), CONTROL_MAX_CLIENTS);
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		close(idle[i]);
	control_close(c);
}

/* ---- followers ---- */

/* A follower: a raw client that sent its request, accepted and answered. */
static int follower_start(struct control *c, const char *req)
{
	int fd = connect_pumped(c);

	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	shutdown(fd, SHUT_WR);
	pump_once(c, 10);
	return fd;
}

/* Reads from fd, running the server, until want has arrived (and returns
 * true) or 2 s have passed.  What came is in buf. */
static bool read_until(struct control *c, int fd, const char *want, char *buf, size_t len)
{
	usec_t end = mono_us() + 2000 * 1000;
	size_t got = 0;

	buf[0] = '\0';
	while (mono_us() < end) {
		bool closed;

		got += read_now(fd, buf + got, len - got, &closed);
		if (strstr(buf, want))
			return true;
		if (closed)
			return false;
		pump_once(c, 5);
	}
	return false;
}

/* A follower gets its answer, then each event published, in its format;
 * it has left the table of command clients, and outlives their
 * deadline. */
static void test_follow(void **state)
{
	struct control *c = open_ok(own_group());
	char buf[4096];
	int text, json;

	(void)state;
	control_set_deadline_ms(c, 100);
	text = follower_start(c, "cmd=events\tfollow=text\n");
	json = follower_start(c, "cmd=events\tfollow=json\n");
	assert_true(read_until(c, text, "follow=text\n", buf, sizeof(buf)));
	assert_string_equal(buf, "status=0\tmsg=echo events\ncmd=events\nfollow=text\n");
	assert_true(read_until(c, json, "follow=json\n", buf, sizeof(buf)));
	assert_int_equal(control_clients(c), 0);
	assert_int_equal(control_followers(c), 2);
	/* No deadline: ten times the clients' one, and still there. */
	for (int i = 0; i < 100; i++)
		pump_once(c, 10);
	assert_int_equal(control_followers(c), 2);
	assert_int_equal(control_timeout_ms(c, mono_us()), -1);
	control_publish(c, "T1 detect host=10.1.0.5", "{\"event\":\"detect\"}", 0);
	control_publish(c, "T2 action host=10.1.0.5", "{\"event\":\"action\"}", 0);
	assert_true(read_until(c, text, "action", buf, sizeof(buf)));
	assert_string_equal(buf, "T1 detect host=10.1.0.5\nT2 action host=10.1.0.5\n");
	assert_true(read_until(c, json, "action", buf, sizeof(buf)));
	assert_string_equal(buf, "{\"event\":\"detect\"}\n{\"event\":\"action\"}\n");
	close(text);
	close(json);
	control_close(c);
}

/* CONTROL_MAX_FOLLOWERS follow; one more is refused with a message, while
 * commands are still answered; when one leaves, its slot is free at
 * once. */
static void test_followers_budget(void **state)
{
	struct control *c = open_ok(own_group());
	int f[CONTROL_MAX_FOLLOWERS], extra;
	char buf[4096], *resp;

	(void)state;
	for (unsigned i = 0; i < CONTROL_MAX_FOLLOWERS; i++)
		f[i] = follower_start(c, "cmd=events\tfollow=text\n");
	assert_int_equal(control_followers(c), CONTROL_MAX_FOLLOWERS);
	extra = follower_start(c, "cmd=events\tfollow=text\n");
	assert_false(read_until(c, extra, "never", buf, sizeof(buf)));
	assert_string_equal(buf, "status=1\tmsg=too many followers: 8 clients follow the events "
				 "already\n");
	close(extra);
	/* Operators still get answers, and every command slot is free. */
	roundtrip(c, "cmd=status\n", 11, &resp);
	assert_string_equal(resp, "status=0\tmsg=echo status\ncmd=status\n");
	free(resp);
	assert_int_equal(control_followers(c), CONTROL_MAX_FOLLOWERS);
	/* One closes: its slot is free on the next turn, without an event
	 * having to be sent to find out. */
	close(f[3]);
	pump_once(c, 10);
	assert_int_equal(control_followers(c), CONTROL_MAX_FOLLOWERS - 1);
	f[3] = follower_start(c, "cmd=events\tfollow=text\n");
	assert_true(read_until(c, f[3], "follow=text\n", buf, sizeof(buf)));
	assert_true(strncmp(buf, "status=0", 8) == 0);
	assert_int_equal(control_followers(c), CONTROL_MAX_FOLLOWERS);
	for (unsigned i = 0; i < CONTROL_MAX_FOLLOWERS; i++)
		close(f[i]);
	pump_once(c, 10);
	assert_int_equal(control_followers(c), 0);
	control_close(c);
}

/* A follower that does not read: publishing never waits for it, its
 * events are dropped past its queue and the socket's buffer, and when it
 * reads again it learns how many; another follower, reading, loses
 * nothing. */
static void test_slow_follower(void **state)
{
	struct control *c = open_ok(own_group());
	static char buf[1 << 22];
	char line[512], *p, *drop;
	unsigned long long n = 0, seen_lines = 0;
	int slow, fast;
	usec_t t0, took;
	size_t got = 0;

	(void)state;
	slow = follower_start(c, "cmd=events\tfollow=text\n");
	fast = follower_start(c, "cmd=events\tfollow=text\n");
	assert_true(read_until(c, slow, "follow=text\n", buf, sizeof(buf)));
	assert_true(read_until(c, fast, "follow=text\n", buf, sizeof(buf)));
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	/* 20,000 lines of 512 bytes: 10 MB, far past what the queue and the
	 * socket hold. */
	t0 = mono_us();
	for (unsigned i = 0; i < 20000; i++) {
		bool closed;

		snprintf(line, 16, "%010u", i);
		line[10] = ' ';
		control_publish(c, line, "{}", 0);
		/* The fast one reads as it goes. */
		while (read_now(fast, buf, sizeof(buf), &closed) > 0) {
			for (p = buf; (p = strchr(p, '\n')); p++)
				seen_lines++;
		}
		assert_false(closed);
	}
	took = mono_us() - t0;
	/* Never blocked: 20,000 publications in well under a second each
	 * (some milliseconds in all, on a slow machine with sanitizers). */
	assert_true(took < 5 * USEC_PER_SEC);
	for (int k = 0; k < 200; k++) {
		bool closed;

		pump_once(c, 1);
		while (read_now(fast, buf, sizeof(buf), &closed) > 0)
			for (p = buf; (p = strchr(p, '\n')); p++)
				seen_lines++;
	}
	assert_int_equal(seen_lines, 20000);
	/* The slow one reads now: the lines it got, a drop line with the
	 * count of the others, and nothing else. */
	for (int k = 0; k < 500; k++) {
		bool closed;

		got += read_now(slow, buf + got, sizeof(buf) - got, &closed);
		assert_false(closed);
		pump_once(c, 1);
	}
	drop = strstr(buf, " dropped n=");
	assert_non_null(drop);
	n = strtoull(drop + strlen(" dropped n="), NULL, 10);
	/* One drop line: the follower was silent all along. */
	assert_null(strstr(drop + 1, " dropped n="));
	seen_lines = 0;
	for (p = buf; (p = strchr(p, '\n')); p++)
		seen_lines++;
	/* The lines kept (its answer was read above) and the drop line:
	 * every event either came or was counted. */
	assert_int_equal(seen_lines - 1 + n, 20000);
	assert_true(n > 10000);
	close(slow);
	close(fast);
	control_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_command_in_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_while_writing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_vanishes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_table_drops_idlest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_peers_do_not_lock_out, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_truncated_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_deadline, setup, teardown),
		cmocka_unit_test(test_ctl_out),
		cmocka_unit_test_setup_teardown(test_stale_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_non_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_keeps_successor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_without_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_with_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_privilege, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_followers_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_follower, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unprivileged_displaces_no_operator, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
