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
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtnl.h"

/* Datagrams read per netmon_read(): a flood of changes cannot hold the
 * poll loop; what is left stays readable for the next round. */
#define READ_BUDGET 64

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
	union rtnl_buf buf;
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
static int parse_ifaddr(const struct rtnl_msg *msg, struct qaddr *ret_a, int *ret_ifindex)
{
	struct ifaddrmsg ifa;
	const uint8_t *local = NULL, *address = NULL;
	struct rtnl_attr at;
	size_t alen, off = 0;
	int r;

	if (msg->plen < sizeof(ifa))
		return -EBADMSG;
	memcpy(&ifa, msg->payload, sizeof(ifa));
	if (ifa.ifa_family == AF_INET)
		alen = 4;
	else if (ifa.ifa_family == AF_INET6)
		alen = 16;
	else
		return -ENOENT;
	while ((r = rtnl_attr_next(msg, sizeof(ifa), &off, &at)) > 0) {
		if (at.len != alen)
			continue;
		if (at.type == IFA_LOCAL)
			local = at.data;
		else if (at.type == IFA_ADDRESS)
			address = at.data;
	}
	if (r < 0)
		return r;
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
	struct rtnl_iter it;
	struct rtnl_msg msg;
	int r;

	rtnl_iter_init(&it, &m->buf, len);
	while ((r = rtnl_next(&it, &msg)) > 0) {
		struct qaddr a;
		int ifindex;

		if (mode == WALK_DUMP && msg.h.nlmsg_seq != m->seq)
			continue; /* not the answer to this request */
		if (msg.h.nlmsg_type == NLMSG_DONE || msg.h.nlmsg_type == NLMSG_ERROR) {
			if (mode != WALK_DUMP)
				continue;
			return rtnl_dump_status(&msg);
		}
		if (msg.h.nlmsg_type != RTM_NEWADDR && msg.h.nlmsg_type != RTM_DELADDR)
			continue;
		r = parse_ifaddr(&msg, &a, &ifindex);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		if (mode == WALK_DUMP) {
			if (msg.h.nlmsg_type == RTM_NEWADDR &&
			    entry_add(m->de, &m->dn, &a, ifindex) == -ENOSPC)
				m->dover = true;
			continue;
		}
		if (msg.h.nlmsg_type == RTM_NEWADDR)
			*changed |= note_add(m, &a, ifindex);
		else
			*changed |= note_del(m, &a, ifindex);
	}
	return r;
}

static int walk_dump(void *arg, size_t len)
{
	bool unused = false;

	return walk(arg, len, WALK_DUMP, &unused);
}

/* Reads the current addresses from scratch on a socket of its own, and
 * replaces the set with them on success. */
static int dump(struct netmon *m)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg ifa;
	} req;
	int fd, r;

	fd = rtnl_dump_socket();
	if (fd < 0)
		return fd;
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.ifa.ifa_family = AF_UNSPEC;
	m->dn = 0;
	m->dover = false;
	r = rtnl_dump_request(fd, &req.h, RTM_GETADDR, ++m->seq);
	if (r == 0)
		r = rtnl_dump_read(fd, &m->buf, walk_dump, m);
	close(fd);
	if (r < 0)
		return r;
	memcpy(m->e, m->de, m->dn * sizeof(m->de[0]));
	m->n = m->dn;
	rebuild_self(m);
	m->incomplete = m->dover;
	m->overflow |= m->dover;
	return 0;
}

int netmon_open(struct netmon **ret)
{
	struct netmon *m;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fd = rtnl_subscribe(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, RCVBUF_BYTES);
	if (m->fd < 0) {
		r = m->fd;
		free(m);
		return r;
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
		ssize_t n = rtnl_recv(m->fd, &m->buf);

		if (n == -EAGAIN)
			break;
		/* ENOBUFS: notifications were dropped; a datagram too large
		 * for the buffer lost some just the same.  What is still
		 * queued is replayed over the new snapshot (see the top of
		 * this file). */
		if (n == -ENOBUFS || n == -EMSGSIZE) {
			r = redump(m);
			if (r < 0)
				return r;
			lost = true;
			continue;
		}
		if (n < 0)
			return (int)n;
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
