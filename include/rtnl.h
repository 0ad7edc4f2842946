/* Plain rtnetlink plumbing that netmon and neighmon share: the two
 * sockets (a subscribed, non-blocking one for notifications, a blocking
 * one per round of dumps), reading datagrams that come from the kernel,
 * and walking their messages and attributes with every length checked
 * against what was received (headers are copied out with memcpy()).
 * Nothing here allocates. */
#ifndef QD_RTNL_H
#define QD_RTNL_H

#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Big enough for any message the kernel sends in one datagram: dumps use
 * up to 32 KiB when the reader's buffer allows it (netlink_dump()). */
#define RTNL_BUF 32768

/* A receive buffer aligned for netlink headers. */
union rtnl_buf {
	struct nlmsghdr align;
	uint8_t b[RTNL_BUF];
};

/* A non-blocking socket bound to the multicast groups (RTMGRP_*), with
 * a receive queue of rcvbuf bytes asked for (best effort: a short queue
 * only means earlier losses).  The fd or -errno. */
int rtnl_subscribe(uint32_t groups, int rcvbuf);

/* A blocking socket for one round of dumps; a wedged kernel makes
 * rtnl_dump_read() fail with -ETIMEDOUT after a few seconds.  The fd or
 * -errno. */
int rtnl_dump_socket(void);

/* Sends a dump request to the kernel: req is a struct nlmsghdr of
 * req->nlmsg_len bytes with its family header; type, flags
 * (NLM_F_REQUEST | NLM_F_DUMP) and seq are filled in here.  0 or -errno. */
int rtnl_dump_request(int fd, struct nlmsghdr *req, uint16_t type, uint32_t seq);

/* Reads the next datagram into buf.  Its length, 0 for one that did not
 * come from the kernel (dropped unread: only the kernel speaks for the
 * kernel), or
 * -EAGAIN when nothing is queued (on a dump socket: none came in time),
 * -ENOBUFS when the kernel dropped notifications, -EMSGSIZE when the
 * datagram did not fit (its messages are lost), -errno otherwise. */
ssize_t rtnl_recv(int fd, union rtnl_buf *buf);

/* Walks the messages of one datagram. */
struct rtnl_iter {
	const uint8_t *b;
	size_t len, off;
};

struct rtnl_msg {
	struct nlmsghdr h;
	const uint8_t *payload; /* after the header, plen bytes */
	size_t plen;
};

static inline void rtnl_iter_init(struct rtnl_iter *it, const union rtnl_buf *buf, size_t len)
{
	it->b = buf->b;
	it->len = len;
	it->off = 0;
}

/* The next message: 1, 0 at the end of the datagram, -EBADMSG when a
 * length is off (the rest of the datagram cannot be read). */
int rtnl_next(struct rtnl_iter *it, struct rtnl_msg *ret);

/* What NLMSG_DONE or NLMSG_ERROR says of a dump: 1 when it ended well,
 * the kernel's -errno, or -EBADMSG when an error message is too short.
 * 0 for any other message type. */
int rtnl_dump_status(const struct rtnl_msg *msg);

/* Walks the attributes after a family header of hdrlen bytes in a
 * message's payload. */
struct rtnl_attr {
	uint16_t type; /* without NLA_F_NESTED and NLA_F_NET_BYTEORDER */
	const uint8_t *data;
	size_t len;
};

/* The next attribute (off starts at 0 and is advanced here): 1, 0 at the
 * end, -EBADMSG when a length is off. */
int rtnl_attr_next(const struct rtnl_msg *msg, size_t hdrlen, size_t *off, struct rtnl_attr *ret);

/* Reads the answers to a dump request on a dump socket, handing each
 * datagram's length to walk(arg, len) (the datagram is in buf) until it
 * returns non-zero: 1 when the dump is done, -errno to give up.  Answers
 * to other requests are for walk() to skip (by sequence number).  0 or
 * -errno. */
int rtnl_dump_read(int fd, union rtnl_buf *buf, int (*walk)(void *arg, size_t len), void *arg);

#endif
