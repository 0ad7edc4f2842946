/* Unit tests for the typed messages between processes: what arrives
 * whole, and what a hostile peer's garbage, wrong lengths, stray or
 * missing descriptors and oversized datagrams do to the receiver (a
 * protocol error, every descriptor that came with it closed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"

enum { T_FIXED = 1, T_VAR = 2, T_FD = 3 };

struct fixed {
	uint32_t a;
	uint8_t b[12];
};

static const struct ipc_type types[] = {
	{T_FIXED, sizeof(struct fixed), sizeof(struct fixed), false},
	{T_VAR, 4, 100, false},
	{T_FD, 0, 0, true},
};

struct pair {
	struct ipc a, b; /* a sends, b receives with the table above */
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int fds[2];

	assert_non_null(p);
	assert_int_equal(ipc_pair(fds), 0);
	ipc_init(&p->a, fds[0], types, 3);
	ipc_init(&p->b, fds[1], types, 3);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	ipc_close(&p->a);
	ipc_close(&p->b);
	free(p);
	return 0;
}

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Sends a raw datagram (a header of our choosing, then len bytes). */
static void raw(int fd, uint16_t type, uint16_t flags, uint32_t hlen, size_t len, int nfds,
		int pass)
{
	static uint8_t body[IPC_MAX_PAYLOAD + 64];
	struct ipc_hdr h = {.type = type, .flags = flags, .len = hlen};
	struct iovec iov[2] = {{&h, sizeof(h)}, {body, len}};
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(2 * sizeof(int))];
	} cbuf;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

	memset(&cbuf, 0, sizeof(cbuf));
	if (nfds) {
		struct cmsghdr *cm;
		int v[2] = {pass, pass};

		mh.msg_control = cbuf.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), v, nfds * sizeof(int));
	}
	assert_true(sendmsg(fd, &mh, 0) >= 0);
}

static void test_roundtrip(void **state)
{
	struct pair *p = *state;
	struct fixed f = {.a = 42, .b = "hello"};
	struct ipc_msg m;
	char v[50];
	int pfd[2];
	char got[3];

	assert_int_equal(ipc_recv(&p->b, &m), -EAGAIN);

	assert_int_equal(ipc_send(&p->a, T_FIXED, &f, sizeof(f), -1), 0);
	memset(v, 'x', sizeof(v));
	assert_int_equal(ipc_send(&p->a, T_VAR, v, sizeof(v), -1), 0);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(ipc_send(&p->a, T_FD, NULL, 0, pfd[0]), 0);
	close(pfd[0]);

	assert_int_equal(ipc_recv(&p->b, &m), 1);
	assert_int_equal(m.type, T_FIXED);
	assert_int_equal(m.len, sizeof(f));
	assert_int_equal(m.fd, -1);
	assert_memory_equal(m.data, &f, sizeof(f));

	assert_int_equal(ipc_recv(&p->b, &m), 1);
	assert_int_equal(m.type, T_VAR);
	assert_int_equal(m.len, sizeof(v));
	assert_memory_equal(m.data, v, sizeof(v));

	/* The descriptor that arrives is a working copy of the pipe. */
	assert_int_equal(ipc_recv(&p->b, &m), 1);
	assert_int_equal(m.type, T_FD);
	assert_true(m.fd >= 0);
	assert_int_equal(write(pfd[1], "ok", 3), 3);
	assert_int_equal(read(m.fd, got, 3), 3);
	assert_string_equal(got, "ok");
	close(m.fd);
	close(pfd[1]);

	assert_int_equal(ipc_recv(&p->b, &m), -EAGAIN);
	assert_int_equal(p->a.st.sent, 3);
	assert_int_equal(p->b.st.received, 3);
}

static void test_bad_messages(void **state)
{
	struct pair *p = *state;
	struct ipc_msg m;
	int pfd[2];
	unsigned before;

	/* Each of these is refused with -EPROTO, and the receiver can go on
	 * reading (its caller ends the connection; the socket itself is
	 * still sound). */
	raw(p->a.fd, T_FIXED, 0, sizeof(struct fixed) - 1, sizeof(struct fixed) - 1, 0, -1);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO); /* short for its type */
	raw(p->a.fd, T_FIXED, 0, sizeof(struct fixed) + 1, sizeof(struct fixed) + 1, 0, -1);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO); /* long for its type */
	raw(p->a.fd, T_VAR, 0, 101, 101, 0, -1);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO); /* past the range */
	raw(p->a.fd, T_VAR, 0, 3, 3, 0, -1);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO); /* below the range */
	raw(p->a.fd, T_VAR, 0, 50, 20, 0, -1);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO); /* the header lies */
	raw(p->a.fd, 9, 0, 8, 8, 0, -1);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO); /* unknown type */
	raw(p->a.fd, 0, 0, 8, 8, 0, -1);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO); /* type 0 */
	raw(p->a.fd, T_VAR, 1, 8, 8, 0, -1);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO); /* flags */
	assert_int_equal(send(p->a.fd, "abc", 3, 0), 3);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO); /* shorter than a header */
	raw(p->a.fd, T_VAR, 0, IPC_MAX_PAYLOAD + 64, IPC_MAX_PAYLOAD + 64, 0, -1);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO); /* truncated */

	/* Descriptors: where none belongs, none where one must be, two;
	 * whatever came is closed. */
	assert_int_equal(pipe(pfd), 0);
	before = open_fds();
	raw(p->a.fd, T_VAR, 0, 8, 8, 1, pfd[0]);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO);
	raw(p->a.fd, T_FD, 0, 0, 0, 0, -1);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO);
	raw(p->a.fd, T_FD, 0, 0, 0, 2, pfd[0]);
	assert_int_equal(ipc_recv(&p->b, &m), -EPROTO);
	assert_int_equal(open_fds(), before);
	close(pfd[0]);
	close(pfd[1]);

	assert_int_equal(p->b.st.received, 0);
	/* And a good message after all of that still arrives. */
	raw(p->a.fd, T_VAR, 0, 4, 4, 0, -1);
	assert_int_equal(ipc_recv(&p->b, &m), 1);
}

static void test_limits(void **state)
{
	struct pair *p = *state;
	static uint8_t big[IPC_MAX_PAYLOAD + 1];
	struct ipc_msg m;
	char v[100] = {0};
	int r;
	unsigned n = 0;

	assert_int_equal(ipc_send(&p->a, T_VAR, big, sizeof(big), -1), -EMSGSIZE);
	/* A receiver that does not read: the sender sees -EAGAIN, never
	 * blocks. */
	while ((r = ipc_send(&p->a, T_VAR, v, sizeof(v), -1)) == 0)
		n++;
	assert_int_equal(r, -EAGAIN);
	assert_true(n > 100);
	assert_int_equal(p->a.st.full, 1);
	/* Every message sent arrives, whole and in order. */
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(ipc_recv(&p->b, &m), 1);
	assert_int_equal(ipc_recv(&p->b, &m), -EAGAIN);
}

static void test_peer_gone(void **state)
{
	struct pair *p = *state;
	struct fixed f = {0};
	struct ipc_msg m;

	assert_int_equal(ipc_send(&p->a, T_FIXED, &f, sizeof(f), -1), 0);
	ipc_close(&p->a);
	/* What was sent before the end still arrives, then the end. */
	assert_int_equal(ipc_recv(&p->b, &m), 1);
	assert_int_equal(ipc_recv(&p->b, &m), 0);
	/* And sending to a peer that has gone fails without a SIGPIPE. */
	assert_int_equal(ipc_send(&p->b, T_FIXED, &f, sizeof(f), -1), -EPIPE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_gone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
