/* Typed, length-checked messages between processes; see ipc.h. */
#include "ipc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Room for a whole burst of messages before a sender sees -EAGAIN. */
#define IPC_SOCKBUF (4 * 1024 * 1024)

int ipc_pair(int fds[2])
{
	int sz = IPC_SOCKBUF;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		/* Best effort: the default only means -EAGAIN sooner. */
		(void)setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		(void)setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	return 0;
}

void ipc_init(struct ipc *c, int fd, const struct ipc_type *types, unsigned ntypes)
{
	c->fd = fd;
	c->types = types;
	c->ntypes = ntypes;
	memset(&c->st, 0, sizeof(c->st));
}

void ipc_close(struct ipc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

const struct ipc_type *ipc_type_find(const struct ipc_type *types, unsigned ntypes, uint16_t type)
{
	for (unsigned i = 0; i < ntypes; i++)
		if (types[i].type == type)
			return &types[i];
	return NULL;
}

int ipc_send(struct ipc *c, uint16_t type, const void *data, size_t len, int fd)
{
	struct ipc_hdr h = {.type = type, .flags = 0, .len = (uint32_t)len};
	struct iovec iov[2] = {
		{.iov_base = &h, .iov_len = sizeof(h)},
		{.iov_base = (void *)data, .iov_len = len},
	};
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};

	if (len > IPC_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.b;
		mh.msg_controllen = sizeof(cbuf.b);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	/* MSG_NOSIGNAL: a dead peer is -EPIPE here, not a SIGPIPE. */
	if (sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		int r = -errno;

		if (r == -EWOULDBLOCK)
			r = -EAGAIN;
		if (r == -EAGAIN)
			c->st.full++;
		return r;
	}
	c->st.sent++;
	return 0;
}

/* Closes every descriptor in the control messages of mh. */
static void close_fds(struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

/* The one descriptor of mh: 1 with *ret_fd, 0 for none, -EPROTO for more
 * than one or a control message of another kind. */
static int one_fd(struct msghdr *mh, int *ret_fd)
{
	struct cmsghdr *cm = CMSG_FIRSTHDR(mh);

	*ret_fd = -1;
	if (!cm)
		return 0;
	if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)) || CMSG_NXTHDR(mh, cm))
		return -EPROTO;
	memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
	return 1;
}

int ipc_recv(struct ipc *c, struct ipc_msg *m)
{
	struct iovec iov = {.iov_base = c->buf.b, .iov_len = sizeof(c->buf.b)};
	/* Room for two descriptors, so that a second one is seen (and
	 * refused) rather than cut off. */
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(2 * sizeof(int))];
	} cbuf;
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.b,
		.msg_controllen = sizeof(cbuf.b),
	};
	const struct ipc_type *t;
	ssize_t n;
	int fd = -1, r;

	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0) {
		/* The end of file, or an empty datagram (not a message of
		 * ours): either way the connection is over. */
		close_fds(&mh);
		return 0;
	}
	r = -EPROTO;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		goto bad;
	if ((size_t)n < sizeof(struct ipc_hdr) ||
	    (size_t)n - sizeof(struct ipc_hdr) != c->buf.h.len)
		goto bad;
	t = ipc_type_find(c->types, c->ntypes, c->buf.h.type);
	if (!t || c->buf.h.type == 0 || c->buf.h.flags != 0)
		goto bad;
	if (c->buf.h.len < t->min_len || c->buf.h.len > t->max_len)
		goto bad;
	r = one_fd(&mh, &fd);
	if (r < 0 || (r == 1) != t->fd) {
		r = -EPROTO;
		goto bad;
	}
	c->st.received++;
	m->type = c->buf.h.type;
	m->data = c->buf.b + sizeof(struct ipc_hdr);
	m->len = c->buf.h.len;
	m->fd = fd;
	return 1;
bad:
	close_fds(&mh);
	return r;
}
