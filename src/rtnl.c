/* Plain rtnetlink plumbing shared by netmon and neighmon (see rtnl.h). */
#include "rtnl.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "types.h"

/* The kernel answers a dump at once; this only bounds a wedged kernel. */
#define DUMP_TIMEOUT_S 5

int rtnl_subscribe(uint32_t groups, int rcvbuf)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = groups};
	int fd, r;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	/* Best effort: a short queue only means an earlier re-dump. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int rtnl_dump_socket(void)
{
	struct timeval tv = {.tv_sec = DUMP_TIMEOUT_S};
	int fd, r;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int rtnl_dump_request(int fd, struct nlmsghdr *req, uint16_t type, uint32_t seq)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

	req->nlmsg_type = type;
	req->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req->nlmsg_seq = seq;
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

ssize_t rtnl_recv(int fd, union rtnl_buf *buf)
{
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = {.iov_base = buf->b, .iov_len = sizeof(buf->b)};
		struct msghdr mh = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		ssize_t n = recvmsg(fd, &mh, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (n < 0)
			return -errno;
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		/* Only the kernel speaks for the kernel: another sender's
		 * datagram reads as empty (still one read, so that a flood of
		 * them counts against the caller's budget). */
		return from.nl_pid != 0 ? 0 : n;
	}
}

int rtnl_next(struct rtnl_iter *it, struct rtnl_msg *ret)
{
	size_t left = it->len - it->off;

	if (left < sizeof(struct nlmsghdr))
		return 0; /* the kernel pads nothing past the last message */
	memcpy(&ret->h, it->b + it->off, sizeof(ret->h));
	if (ret->h.nlmsg_len < NLMSG_HDRLEN || ret->h.nlmsg_len > left)
		return -EBADMSG;
	ret->payload = it->b + it->off + NLMSG_HDRLEN;
	ret->plen = ret->h.nlmsg_len - NLMSG_HDRLEN;
	it->off += MIN((size_t)NLMSG_ALIGN(ret->h.nlmsg_len), left);
	return 1;
}

int rtnl_dump_status(const struct rtnl_msg *msg)
{
	int32_t e = 0;

	if (msg->h.nlmsg_type != NLMSG_DONE && msg->h.nlmsg_type != NLMSG_ERROR)
		return 0;
	/* DONE may carry the dump's error; ERROR always does. */
	if (msg->plen >= sizeof(e))
		memcpy(&e, msg->payload, sizeof(e));
	else if (msg->h.nlmsg_type == NLMSG_ERROR)
		return -EBADMSG;
	return e < 0 ? e : 1;
}

int rtnl_attr_next(const struct rtnl_msg *msg, size_t hdrlen, size_t *off, struct rtnl_attr *ret)
{
	size_t at = *off ? *off : NLMSG_ALIGN(hdrlen);
	struct rtattr rta;

	if (at >= msg->plen || msg->plen - at < sizeof(rta))
		return 0;
	memcpy(&rta, msg->payload + at, sizeof(rta));
	if (rta.rta_len < sizeof(rta) || rta.rta_len > msg->plen - at)
		return -EBADMSG;
	ret->type = rta.rta_type & NLA_TYPE_MASK;
	ret->data = msg->payload + at + RTA_LENGTH(0);
	ret->len = rta.rta_len - sizeof(rta);
	*off = at + RTA_ALIGN(rta.rta_len);
	return 1;
}

int rtnl_dump_read(int fd, union rtnl_buf *buf, int (*walk)(void *arg, size_t len), void *arg)
{
	for (;;) {
		ssize_t n = rtnl_recv(fd, buf);
		int r;

		if (n == -EAGAIN)
			return -ETIMEDOUT; /* SO_RCVTIMEO ran out */
		if (n < 0)
			return (int)n;
		r = walk(arg, (size_t)n);
		if (r != 0)
			return r < 0 ? r : 0;
	}
}
