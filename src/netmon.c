/* The gateway's own addresses over plain rtnetlink.
 *
 * One non-blocking socket subscribed to the IPv4 and IPv6 address groups
 * carries the notifications; the full list comes from RTM_GETADDR dumps on
 * a second, blocking socket opened for each dump.  The subscription is in
 * place before a dump starts, so every change during or after the dump is
 * also queued on the first socket; replaying those (adds and deletes are
 * idempotent, and the last one for an address wins) over the dump's
 * snapshot converges on the kernel's state.  That is also why a dump
 * flagged NLM_F_DUMP_INTR needs no retry.  Only a lost notification
 * (ENOBUFS) breaks the chain, and then we dump again.
 *
 * Messages are copied out of the receive buffer with memcpy() and every
 * length is checked against what was received before it is used. */
#include "netmon.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "types.h"

/* Big enough for any message the kernel sends in one datagram: dumps use
 * up to 32 KiB when the reader's buffer allows it (netlink_dump()). */
#define NL_BUF 32768

/* Datagrams read per netmon_read(): a flood of changes cannot hold the
 * poll loop; what is left stays readable for the next round. */
#define READ_BUDGET 64

/* The kernel answers a dump at once; this only bounds a wedged kernel. */
#define DUMP_TIMEOUT_S 5

/* Notification queue: room for thousands of changes between two reads. */
#define RCVBUF_BYTES (1 << 20)

/* One address on one interface.  The same address on two interfaces is
 * two entries: deleting it from one leaves it ours. */
struct entry {
	struct qaddr a;
	int ifindex;
};

struct netmon {
	int fd; /* subscribed, non-blocking */
	uint32_t seq;
	bool overflow;	 /* an address did not fit since the last report */
	bool incomplete; /* an address did not fit and may be missing still */
	bool need_dump;	 /* notifications were lost and no dump has replaced them yet */
	unsigned n, nself;
	struct entry e[NETMON_MAX_ADDRS];
	struct qaddr self[NETMON_MAX_ADDRS]; /* e[].a without duplicates */
	/* Scratch for a dump: the live set stays intact if a dump fails. */
	unsigned dn;
	bool dover; /* the dump had more than fits */
	struct entry de[NETMON_MAX_ADDRS];
	union {
		struct nlmsghdr align;
		uint8_t b[NL_BUF];
	} buf;
};

static void rebuild_self(struct netmon *m)
{
	m->nself = 0;
	for (unsigned i = 0; i < m->n; i++) {
		bool dup = false;

		for (unsigned j = 0; j < m->nself && !dup; j++)
			dup = addr_eq(&m->self[j], &m->e[i].a);
		if (!dup)
			m->self[m->nself++] = m->e[i].a;
	}
}

static int find(const struct entry *v, unsigned n, const struct qaddr *a, int ifindex)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i].ifindex == ifindex && addr_eq(&v[i].a, a))
			return (int)i;
	return -1;
}

/* Adds (a, ifindex) to v unless present.  1 added, 0 present, -ENOSPC. */
static int entry_add(struct entry *v, unsigned *n, const struct qaddr *a, int ifindex)
{
	if (find(v, *n, a, ifindex) >= 0)
		return 0;
	if (*n >= NETMON_MAX_ADDRS)
		return -ENOSPC;
	v[*n].a = *a;
	v[*n].ifindex = ifindex;
	(*n)++;
	return 1;
}

static bool entry_del(struct entry *v, unsigned *n, const struct qaddr *a, int ifindex)
{
	int i = find(v, *n, a, ifindex);

	if (i < 0)
		return false;
	v[i] = v[--(*n)];
	return true;
}

/* Applies a notification; true when the set of addresses changed.  O(n)
 * per message, so that a burst of changes costs little. */
static bool note_add(struct netmon *m, const struct qaddr *a, int ifindex)
{
	bool was = netmon_is_self(m, a);
	int r = entry_add(m->e, &m->n, a, ifindex);

	if (r == -ENOSPC)
		m->overflow = m->incomplete = true;
	if (r <= 0 || was)
		return false;
	m->self[m->nself++] = *a; /* nself <= n <= NETMON_MAX_ADDRS */
	return true;
}

static bool note_del(struct netmon *m, const struct qaddr *a, int ifindex)
{
	if (!entry_del(m->e, &m->n, a, ifindex))
		return false;
	for (unsigned i = 0; i < m->n; i++)
		if (addr_eq(&m->e[i].a, a))
			return false; /* still on another interface */
	for (unsigned i = 0; i < m->nself; i++) {
		if (addr_eq(&m->self[i], a)) {
			m->self[i] = m->self[--m->nself];
			return true;
		}
	}
	return false;
}

/* Extracts the address of an RTM_NEWADDR/RTM_DELADDR message.  IFA_LOCAL
 * is our end; IFA_ADDRESS is the peer's on a point-to-point link and equals
 * IFA_LOCAL otherwise (IPv6 sends IFA_LOCAL only with a peer).  0 when the
 * message names an address of ours, -EBADMSG when it is malformed,
 * -ENOENT when it carries no IPv4/IPv6 address. */
static int parse_ifaddr(const uint8_t *p, size_t len, struct qaddr *ret_a, int *ret_ifindex)
{
	struct ifaddrmsg ifa;
	const uint8_t *local = NULL, *address = NULL;
	size_t alen, off = NLMSG_ALIGN(sizeof(ifa));

	if (len < sizeof(ifa))
		return -EBADMSG;
	memcpy(&ifa, p, sizeof(ifa));
	if (ifa.ifa_family == AF_INET)
		alen = 4;
	else if (ifa.ifa_family == AF_INET6)
		alen = 16;
	else
		return -ENOENT;
	while (off + sizeof(struct rtattr) <= len) {
		struct rtattr rta;

		memcpy(&rta, p + off, sizeof(rta));
		if (rta.rta_len < sizeof(rta) || rta.rta_len > len - off)
			return -EBADMSG;
		if (rta.rta_len - sizeof(rta) == alen) {
			if (rta.rta_type == IFA_LOCAL)
				local = p + off + RTA_LENGTH(0);
			else if (rta.rta_type == IFA_ADDRESS)
				address = p + off + RTA_LENGTH(0);
		}
		off += RTA_ALIGN(rta.rta_len);
	}
	if (!local)
		local = address;
	if (!local)
		return -ENOENT;
	if (alen == 4)
		addr_set_v4(ret_a, local);
	else
		addr_set_v6(ret_a, local);
	*ret_ifindex = (int)ifa.ifa_index;
	return 0;
}

enum walk_mode {
	WALK_DUMP,   /* answers to our request: into de[] */
	WALK_NOTIFY, /* notifications: into e[] */
};

/* Walks one datagram of netlink messages.  Returns 1 when a dump is done,
 * 0 to read on, -errno on failure.  *changed is set when the set of
 * addresses changed (notifications only). */
static int walk(struct netmon *m, size_t len, enum walk_mode mode, bool *changed)
{
	const uint8_t *b = m->buf.b;
	size_t off = 0;

	while (off + sizeof(struct nlmsghdr) <= len) {
		struct nlmsghdr h;
		const uint8_t *payload;
		size_t plen;
		struct qaddr a;
		int ifindex, r;

		memcpy(&h, b + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
			return -EBADMSG;
		payload = b + off + NLMSG_HDRLEN;
		plen = h.nlmsg_len - NLMSG_HDRLEN;
		off += MIN((size_t)NLMSG_ALIGN(h.nlmsg_len), len - off);

		if (mode == WALK_DUMP && h.nlmsg_seq != m->seq)
			continue; /* not the answer to this request */
		if (h.nlmsg_type == NLMSG_DONE || h.nlmsg_type == NLMSG_ERROR) {
			int32_t e = 0;

			if (mode != WALK_DUMP)
				continue;
			/* DONE may carry the dump's error; ERROR always does. */
			if (plen >= sizeof(e))
				memcpy(&e, payload, sizeof(e));
			else if (h.nlmsg_type == NLMSG_ERROR)
				return -EBADMSG;
			if (e < 0)
				return e;
			return 1;
		}
		if (h.nlmsg_type != RTM_NEWADDR && h.nlmsg_type != RTM_DELADDR)
			continue;
		r = parse_ifaddr(payload, plen, &a, &ifindex);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		if (mode == WALK_DUMP) {
			if (h.nlmsg_type == RTM_NEWADDR &&
			    entry_add(m->de, &m->dn, &a, ifindex) == -ENOSPC)
				m->dover = true;
			continue;
		}
		if (h.nlmsg_type == RTM_NEWADDR)
			*changed |= note_add(m, &a, ifindex);
		else
			*changed |= note_del(m, &a, ifindex);
	}
	return 0;
}

/* Reads the current addresses from scratch on a socket of its own, and
 * replaces the set with them on success. */
static int dump(struct netmon *m)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct timeval tv = {.tv_sec = DUMP_TIMEOUT_S};
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg ifa;
	} req;
	int fd, r;
	bool unused = false;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = RTM_GETADDR;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = ++m->seq;
	req.ifa.ifa_family = AF_UNSPEC;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		r = -errno;
		goto out;
	}
	m->dn = 0;
	m->dover = false;
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = {.iov_base = m->buf.b, .iov_len = sizeof(m->buf.b)};
		struct msghdr mh = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		ssize_t n = recvmsg(fd, &mh, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			r = -EMSGSIZE;
			goto out;
		}
		if (from.nl_pid != 0)
			continue; /* not from the kernel: not an answer */
		r = walk(m, (size_t)n, WALK_DUMP, &unused);
		if (r < 0)
			goto out;
		if (r > 0)
			break;
	}
	memcpy(m->e, m->de, m->dn * sizeof(m->de[0]));
	m->n = m->dn;
	rebuild_self(m);
	m->incomplete = m->dover;
	m->overflow |= m->dover;
	r = 0;
out:
	close(fd);
	return r;
}

int netmon_open(struct netmon **ret)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
	};
	int rcvbuf = RCVBUF_BYTES;
	struct netmon *m;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (m->fd < 0) {
		r = -errno;
		free(m);
		return r;
	}
	/* Best effort: a short queue only means an earlier re-dump. */
	(void)setsockopt(m->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto fail;
	}
	r = dump(m);
	if (r < 0)
		goto fail;
	/* More addresses than we hold: refuse rather than protect some. */
	if (m->overflow) {
		r = -ENOSPC;
		goto fail;
	}
	*ret = m;
	return 0;
fail:
	netmon_close(m);
	return r;
}

void netmon_close(struct netmon *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

int netmon_fd(const struct netmon *m)
{
	return m->fd;
}

/* Notifications were lost: read everything again.  Until that succeeds,
 * every netmon_read() tries anew. */
static int redump(struct netmon *m)
{
	int r;

	m->need_dump = true;
	r = dump(m);
	if (r == 0)
		m->need_dump = false;
	return r;
}

int netmon_read(struct netmon *m)
{
	bool changed = false, lost = false;
	int r;

	if (m->need_dump) {
		r = redump(m);
		if (r < 0)
			return r;
		lost = true;
	}
	for (unsigned i = 0; i < READ_BUDGET; i++) {
		struct sockaddr_nl from;
		struct iovec iov = {.iov_base = m->buf.b, .iov_len = sizeof(m->buf.b)};
		struct msghdr mh = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		ssize_t n = recvmsg(m->fd, &mh, 0);

		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		/* ENOBUFS: notifications were dropped; a truncated datagram
		 * lost some just the same.  What is still queued is replayed
		 * over the new snapshot (see the top of this file). */
		if ((n < 0 && errno == ENOBUFS) || (n >= 0 && (mh.msg_flags & MSG_TRUNC))) {
			r = redump(m);
			if (r < 0)
				return r;
			lost = true;
			continue;
		}
		if (n < 0)
			return -errno;
		if (from.nl_pid != 0)
			continue; /* only the kernel speaks for the kernel */
		r = walk(m, (size_t)n, WALK_NOTIFY, &changed);
		if (r < 0) {
			/* The rest of the datagram is lost with it. */
			m->need_dump = true;
			return r;
		}
	}
	/* Some address found no room earlier and a notification we cannot
	 * replay was all we had of it: once there is room, ask again. */
	if (m->incomplete && m->n < NETMON_MAX_ADDRS) {
		r = dump(m);
		if (r < 0)
			return r;
		changed = true;
	}
	if (lost)
		return -ENOBUFS;
	if (m->overflow) {
		/* Reported once per occurrence; the set holds what fitted. */
		m->overflow = false;
		return -ENOSPC;
	}
	return changed ? 1 : 0;
}

bool netmon_is_self(const struct netmon *m, const struct qaddr *a)
{
	for (unsigned i = 0; i < m->nself; i++)
		if (addr_eq(&m->self[i], a))
			return true;
	return false;
}

unsigned netmon_addrs(const struct netmon *m, const struct qaddr **ret)
{
	*ret = m->self;
	return m->nself;
}
